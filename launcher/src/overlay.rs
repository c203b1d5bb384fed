//! Overlay work directories: created next to each upper directory before the container
//! starts (they must be on the upper's file system) and removed after it stops; and the
//! throw-away upper of `--overlay=LOWER::DST` (nspawn: a directory below the host's /var/tmp,
//! removed when the container ends).

use crate::error::{Error, Result};
use crate::rootfs::{self, Follow};
use crate::settings::{CustomMount, MountSource};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{mkdirat, openat, unlinkat, AtFlags, Mode, OFlags};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The work directory of upper directory `upper`: `.#<name>.spawnbox-work` beside it.
pub fn workdir_for(upper: &Path) -> PathBuf {
    let name = upper.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    upper.parent().unwrap_or(Path::new("/")).join(format!(".#{name}.spawnbox-work"))
}

/// Creates the work directories of `mounts`; returns the host paths (for host uppers) in
/// custom-mount order, `None` where there is none or it lives inside the tree.
pub fn prepare(mounts: &[CustomMount], root: BorrowedFd<'_>) -> Result<Vec<Option<PathBuf>>> {
    let mut out = Vec::with_capacity(mounts.len());
    for m in mounts {
        let CustomMount::Overlay { upper: Some(upper), .. } = m else {
            out.push(None);
            continue;
        };
        match upper {
            MountSource::Host(p) => {
                let w = workdir_for(p);
                match std::fs::create_dir(&w) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(Error::msg(format!(
                            "create {}: {}",
                            w.display(),
                            crate::error::errno_text(e.raw_os_error().unwrap_or(5))
                        )))
                    }
                }
                out.push(Some(w));
            }
            MountSource::InRoot(p) => {
                let w = workdir_for(p);
                let parent = w.parent().unwrap_or(Path::new("/"));
                let pfd =
                    rootfs::open_path(root, parent, Follow::InRoot).map_err(|e| Error::path("open", parent, e))?;
                let name = w.file_name().unwrap_or_default();
                match mkdirat(&pfd, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(Error::path("create", &w, e)),
                }
                out.push(None);
            }
        }
    }
    Ok(out)
}

/// Where throw-away uppers are made.
const TEMPORARY_PARENT: &str = "/var/tmp";

/// Gives each writable overlay without an upper (`--overlay=LOWER::DST`) a fresh directory
/// `/var/tmp/spawnbox-overlay-XXXXXX/upper` as its upper; the directories made, to be removed
/// with [`remove_temporary`] when the container ends.
pub fn temporary_uppers(mounts: &mut [CustomMount]) -> Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    for m in mounts.iter_mut() {
        let CustomMount::Overlay { upper: upper @ None, read_only: false, .. } = m else { continue };
        let dir = match make_temporary_dir() {
            Ok(d) => d,
            Err(e) => {
                remove_temporary(&made);
                return Err(e);
            }
        };
        *upper = Some(MountSource::Host(dir.join("upper")));
        made.push(dir);
    }
    Ok(made)
}

/// mkdtemp(3) in [`TEMPORARY_PARENT`], mode 0700, with an `upper` directory inside.
fn make_temporary_dir() -> Result<PathBuf> {
    let parent = Path::new(TEMPORARY_PARENT);
    let mut last = rustix::io::Errno::EXIST;
    for _ in 0..16 {
        let mut raw = [0u8; 6];
        let _ = rustix::rand::getrandom(&mut raw, rustix::rand::GetRandomFlags::empty());
        let suffix: String =
            raw.iter().map(|b| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[usize::from(*b) % 36])).collect();
        let dir = parent.join(format!("spawnbox-overlay-{suffix}"));
        match rustix::fs::mkdir(&dir, Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                let upper = dir.join("upper");
                return match rustix::fs::mkdir(&upper, Mode::from_raw_mode(0o755)) {
                    Ok(()) => Ok(dir),
                    Err(e) => {
                        let _ = rustix::fs::rmdir(&dir);
                        Err(Error::path("create", &upper, e))
                    }
                };
            }
            Err(rustix::io::Errno::EXIST) => last = rustix::io::Errno::EXIST,
            Err(e) => return Err(Error::path("create temporary overlay directory in", parent, e)),
        }
    }
    Err(Error::path("create temporary overlay directory in", parent, last))
}

/// With a user namespace: the `upper` directories of [`temporary_uppers`] go to host uid and gid
/// `shift`, the container's root (spawnbox made them: nothing else is in them).
pub fn give_temporary(dirs: &[PathBuf], shift: u32) -> Result<()> {
    for d in dirs {
        let upper = d.join("upper");
        let id = (Some(rustix::fs::Uid::from_raw(shift)), Some(rustix::fs::Gid::from_raw(shift)));
        rustix::fs::chown(&upper, id.0, id.1).map_err(|e| Error::path("change owner of", &upper, e))?;
    }
    Ok(())
}

/// Removes the throw-away uppers (with what the container wrote there).
pub fn remove_temporary(dirs: &[PathBuf]) {
    if dirs.is_empty() {
        return;
    }
    let Ok(parent) =
        rustix::fs::open(TEMPORARY_PARENT, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
    else {
        return;
    };
    for d in dirs {
        if let Some(name) = d.file_name() {
            remove_tree(parent.as_fd(), name, 64);
        }
    }
}

/// Removes the work directories again (best effort: they hold only overlayfs' scratch dirs).
pub fn cleanup(mounts: &[CustomMount], root: BorrowedFd<'_>) {
    for m in mounts {
        if let CustomMount::Overlay { upper: Some(upper), .. } = m {
            remove_workdir(upper, root);
        }
    }
}

/// The work directory of overlay upper `upper` (a sibling, see [`workdir_for`]), removed:
/// host paths as given, `+` paths inside the tree whose root is `root`.
pub fn remove_workdir(upper: &MountSource, root: BorrowedFd<'_>) {
    let (parent, name) = match upper {
        MountSource::Host(p) => {
            let w = workdir_for(p);
            let parent = w
                .parent()
                .map(|d| rustix::fs::open(d, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()));
            (parent, w)
        }
        MountSource::InRoot(p) => {
            let w = workdir_for(p);
            let parent = w.parent().map(|d| rootfs::open_path(root, d, Follow::InRoot));
            (parent, w)
        }
    };
    if let (Some(Ok(parent)), Some(name)) = (parent, name.file_name()) {
        remove_dir(parent.as_fd(), Path::new(name));
    }
}

/// Removes directory `name` under `parent` with everything in it (overlayfs leaves whiteouts
/// and scratch directories in `work/`), never following symlinks, at most 8 levels deep.
fn remove_dir(parent: BorrowedFd<'_>, name: &Path) {
    remove_tree(parent, name.as_os_str(), 8);
}

fn remove_tree(parent: BorrowedFd<'_>, name: &std::ffi::OsStr, depth: u32) {
    if depth > 0 {
        if let Ok(dir) =
            openat(parent, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
        {
            let mut names = Vec::new();
            if let Ok(mut entries) = rustix::fs::Dir::read_from(&dir) {
                while let Some(Ok(e)) = entries.next() {
                    let n = e.file_name();
                    if n != c"." && n != c".." {
                        names.push((
                            std::ffi::OsStr::from_bytes(n.to_bytes()).to_owned(),
                            e.file_type() == rustix::fs::FileType::Directory,
                        ));
                    }
                }
            }
            for (n, is_dir) in names {
                if is_dir {
                    remove_tree(dir.as_fd(), &n, depth - 1);
                } else {
                    let _ = unlinkat(&dir, n.as_os_str(), AtFlags::empty());
                }
            }
        }
    }
    let _ = unlinkat(parent, name, AtFlags::REMOVEDIR);
}
