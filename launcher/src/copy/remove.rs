//! Removing a tree (a failed copy, a temporary one): depth first without recursion, never
//! following a symlink and never entering another mount.

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{openat2, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Removes `name` in directory `parent` with everything below it.
pub fn remove_tree(parent: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<()> {
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_XDEV;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // (path below `parent`, its entries are gone): directories are removed on the way back.
    let mut stack = vec![(PathBuf::from(name), false)];
    while let Some((rel, emptied)) = stack.pop() {
        if emptied {
            rustix::fs::unlinkat(parent, &rel, AtFlags::REMOVEDIR)?;
            continue;
        }
        let dir = match openat2(parent, &rel, flags, Mode::empty(), resolve) {
            Ok(d) => d,
            // `name` itself is not a directory.
            Err(Errno::NOTDIR | Errno::LOOP) if stack.is_empty() => {
                return rustix::fs::unlinkat(parent, &rel, AtFlags::empty())
            }
            Err(e) => return Err(e),
        };
        stack.push((rel.clone(), true));
        let mut entries = rustix::fs::Dir::read_from(dir.as_fd())?;
        while let Some(e) = entries.read() {
            let e = e?;
            let n = e.file_name();
            if n == c"." || n == c".." {
                continue;
            }
            let is_dir = match e.file_type() {
                FileType::Directory => true,
                FileType::Unknown => match rustix::fs::unlinkat(&dir, n, AtFlags::empty()) {
                    Err(Errno::ISDIR) => true,
                    r => {
                        r?;
                        false
                    }
                },
                _ => {
                    rustix::fs::unlinkat(&dir, n, AtFlags::empty())?;
                    false
                }
            };
            if is_dir {
                stack.push((rel.join(OsStr::from_bytes(n.to_bytes())), false));
            }
        }
    }
    Ok(())
}
