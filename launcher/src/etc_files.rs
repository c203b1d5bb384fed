//! Installing a host file into the container's `/etc` (resolv.conf, localtime): copy through,
//! atomic replace, read-only bind, symlink or delete — always resolved inside the tree.

use crate::error::{Error, Result};
use crate::rootfs::{self, libc_mode::*, Follow, NodeKind};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{
    fstat, ftruncate, openat, readlinkat, renameat, symlinkat, unlinkat, AtFlags, Mode, OFlags, ResolveFlags,
};
use rustix::io::Errno;
use rustix::mount::{move_mount, MoveMountFlags};
use std::path::{Path, PathBuf};

/// What to do with `/etc/NAME` in the container.
pub enum Install {
    Off,
    /// Write into the existing file (following symlinks inside the tree), or create it.
    CopyThrough(Vec<u8>),
    /// Replace whatever is there with a new regular file, atomically.
    Replace(Vec<u8>),
    /// Bind this detached mount (a read-only copy of the host file) onto it.
    Bind(OwnedFd),
    /// Make it a symlink to this target.
    Symlink(String),
    Delete,
}

/// Applies `install` to `/etc/<name>` inside the tree rooted at `root`.
pub fn apply(root: BorrowedFd<'_>, name: &str, install: Install) -> Result<()> {
    let path = PathBuf::from("/etc").join(name);
    let etc = match rootfs::open_path(root, Path::new("/etc"), Follow::InRoot) {
        Ok(fd) => fd,
        // nspawn leaves trees without /etc alone.
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(Error::path("open", Path::new("/etc"), e)),
    };
    match install {
        Install::Off => Ok(()),
        Install::CopyThrough(content) => copy_through(root, &path, &content),
        Install::Replace(content) => replace(etc.as_fd(), name, &content).map_err(|e| Error::path("replace", &path, e)),
        Install::Bind(tree) => {
            let at = rootfs::mount_point(root, &path, NodeKind::File, Follow::InRoot)?;
            move_mount(
                &tree,
                "",
                &at,
                "",
                MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
            )
            .map_err(|e| Error::path("bind onto", &path, e))
        }
        Install::Symlink(target) => {
            if readlinkat(&etc, name, Vec::new()).is_ok_and(|t| t.as_bytes() == target.as_bytes()) {
                return Ok(());
            }
            delete(etc.as_fd(), name).map_err(|e| Error::path("remove", &path, e))?;
            symlinkat(target.as_str(), &etc, name).map_err(|e| Error::path("create symlink", &path, e))
        }
        Install::Delete => delete(etc.as_fd(), name).map_err(|e| Error::path("remove", &path, e)),
    }
}

fn delete(etc: BorrowedFd<'_>, name: &str) -> rustix::io::Result<()> {
    match unlinkat(etc, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes `content` into the file at `path`, following symlinks only inside the tree; refuses
/// anything but a regular file with a single link (a hard link could reach a host file).
fn copy_through(root: BorrowedFd<'_>, path: &Path, content: &[u8]) -> Result<()> {
    let fd = rootfs::openat2_retry(
        root,
        rootfs::relative(path),
        OFlags::WRONLY | OFlags::CREATE | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| Error::path("open", path, e))?;
    let st = fstat(&fd).map_err(|e| Error::path("stat", path, e))?;
    if st.st_mode & S_IFMT != S_IFREG || st.st_nlink != 1 {
        return Err(Error::msg(format!("{} is not a plain regular file, leaving it alone", path.display())));
    }
    ftruncate(&fd, 0).map_err(|e| Error::path("truncate", path, e))?;
    crate::run_host::write_all(fd.as_fd(), content).map_err(|e| Error::path("write", path, e))
}

/// Writes a temporary file beside `name` and renames it over `name`.
fn replace(etc: BorrowedFd<'_>, name: &str, content: &[u8]) -> rustix::io::Result<()> {
    let tmp = format!(".#{name}.spawnbox");
    let _ = unlinkat(etc, tmp.as_str(), AtFlags::empty());
    let fd = openat(
        etc,
        tmp.as_str(),
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    let written = crate::run_host::write_all(fd.as_fd(), content)
        .and_then(|()| rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o644)));
    drop(fd);
    match written.and_then(|()| renameat(etc, tmp.as_str(), etc, name)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = unlinkat(etc, tmp.as_str(), AtFlags::empty());
            Err(e)
        }
    }
}

/// A read-only detached copy of host file `path` for [`Install::Bind`].
pub fn clone_host_file(path: &Path) -> Result<OwnedFd> {
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        path,
        rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| Error::path("clone mount", path, e))?;
    crate::sys::mount_setattr(tree.as_fd(), crate::sys::MOUNT_ATTR_RDONLY, 0, false)
        .map_err(|e| Error::path("make read-only", path, e))?;
    Ok(tree)
}

/// Reads a host file (at most 1 MiB).
pub fn read_host_file(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return None;
    }
    std::fs::read(path).ok()
}
