//! Overlay work directories: created next to each upper directory before the container
//! starts (they must be on the upper's file system) and removed after it stops.

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

/// Removes the work directories again (best effort: they hold only overlayfs' scratch dirs).
pub fn cleanup(mounts: &[CustomMount], root: BorrowedFd<'_>) {
    for m in mounts {
        let CustomMount::Overlay { upper: Some(upper), .. } = m else { continue };
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
