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
/// anything but a regular file with a single link (a hard link could reach a host file). A
/// file that already holds `content` is left as it is: truncating it (and the journal commit
/// that frees its block) cost about 0.25 ms of every start on ext4, for the same bytes.
fn copy_through(root: BorrowedFd<'_>, path: &Path, content: &[u8]) -> Result<()> {
    let fd = rootfs::openat2_retry(
        root,
        rootfs::relative(path),
        OFlags::RDWR | OFlags::CREATE | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| Error::path("open", path, e))?;
    let st = fstat(&fd).map_err(|e| Error::path("stat", path, e))?;
    if st.st_mode & S_IFMT != S_IFREG || st.st_nlink != 1 {
        return Err(Error::msg(format!("{} is not a plain regular file, leaving it alone", path.display())));
    }
    if u64::try_from(st.st_size).ok() == u64::try_from(content.len()).ok() && holds(fd.as_fd(), content) {
        return Ok(());
    }
    ftruncate(&fd, 0).map_err(|e| Error::path("truncate", path, e))?;
    crate::run_host::write_all(fd.as_fd(), content).map_err(|e| Error::path("write", path, e))
}

/// The file at `fd` (its size known to be `content.len()`) holds exactly `content`.
fn holds(fd: BorrowedFd<'_>, content: &[u8]) -> bool {
    let mut buf = vec![0u8; content.len()];
    let mut at = 0;
    while at < buf.len() {
        match rustix::io::pread(fd, &mut buf[at..], at as u64) {
            Ok(0) | Err(_) => return false,
            Ok(n) => at += n,
        }
    }
    buf == content
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn tree(name: &str) -> (PathBuf, OwnedFd) {
        let d = std::env::temp_dir().join(format!("spawnbox-etc-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        let fd = rustix::fs::open(&d, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        (d, fd)
    }

    #[test]
    fn copy_through_writes_only_what_differs() {
        let (d, root) = tree("copy");
        let file = d.join("etc/resolv.conf");
        // Missing: created.
        apply(root.as_fd(), "resolv.conf", Install::CopyThrough(b"nameserver 10.0.0.1\n".to_vec())).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"nameserver 10.0.0.1\n");
        // The same bytes: the file is not written (its change time stays).
        let before = std::fs::metadata(&file).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        apply(root.as_fd(), "resolv.conf", Install::CopyThrough(b"nameserver 10.0.0.1\n".to_vec())).unwrap();
        let after = std::fs::metadata(&file).unwrap();
        assert_eq!(
            (after.ino(), after.ctime_nsec(), after.ctime()),
            (before.ino(), before.ctime_nsec(), before.ctime())
        );
        // Same length, other bytes; shorter; longer: replaced in place (same inode).
        for text in ["nameserver 10.0.0.2\n", "nameserver ::1\n", "nameserver 192.168.100.100\nsearch lan\n"] {
            apply(root.as_fd(), "resolv.conf", Install::CopyThrough(text.as_bytes().to_vec())).unwrap();
            assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
            assert_eq!(std::fs::metadata(&file).unwrap().ino(), before.ino());
        }
        // Empty content into a non-empty file: emptied.
        apply(root.as_fd(), "resolv.conf", Install::CopyThrough(Vec::new())).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
