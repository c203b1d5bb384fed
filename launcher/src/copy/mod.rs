//! Copying a directory tree with everything a container tree needs kept: owners, modes
//! (setuid, setgid, sticky), xattrs and ACLs, device nodes, FIFOs and sockets, symlinks as they
//! are, hard links, holes, nanosecond timestamps, and reflinks where the file system shares
//! extents. For `--template=`, and for spawnctl's `clone`, `import-fs` and `export-fs`.
//!
//! Every open is relative to a directory descriptor of one of the two trees, with O_NOFOLLOW or
//! openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV): no symlink in either tree
//! leads the copy out of it. The walk is iterative (a work stack), so a deep tree costs memory,
//! not stack, and holds a handful of descriptors whatever its depth. Paths are limited to
//! PATH_MAX, as nspawn's copy limits depth to 2048.
//!
//! Mounts inside the source are not entered: a directory that is a mount point becomes an empty
//! directory with the owner, mode and times of the mount's root (`cp -ax`, `rsync -x`; nspawn's
//! COPY_SAME_MOUNT leaves it out altogether, which loses the `/proc`-style mount points of a
//! running machine's tree); a file mounted over is left out. Both are counted.

mod data;
mod links;
mod plan;
mod remove;
mod walk;
mod xattr;

pub use remove::remove_tree;

use crate::error::{errno_text, Error, Result};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::path::Path;

/// How to copy.
pub struct Options<'a> {
    /// The source as the user named it: errors name `SOURCE/path/in/tree`.
    pub source: &'a Path,
    /// Try a reflink (FICLONE) for each file before copying its data.
    pub reflink: bool,
    /// Asked between entries and between pieces of large files: `true` stops the copy with
    /// EINTR (and the partial copy is removed).
    pub interrupted: Option<&'a dyn Fn() -> bool>,
    /// Every copy owned by this uid and gid instead of the source's (spawnctl's copy-to and
    /// copy-from across a user namespace). The setuid and setgid bits of files and their
    /// `security.capability` are then dropped: they were granted to the source's owner.
    pub owner: Option<(u32, u32)>,
}

impl<'a> Options<'a> {
    /// Reflinks on, no interruption, owners kept.
    pub fn new(source: &'a Path) -> Self {
        Options { source, reflink: true, interrupted: None, owner: None }
    }
}

/// What a copy made.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Regular files copied (hard links not counted).
    pub files: u64,
    /// Directories made, the top one and mount points included.
    pub dirs: u64,
    pub symlinks: u64,
    /// Device nodes, FIFOs and sockets.
    pub nodes: u64,
    /// Further links of an inode already copied, made with linkat(2).
    pub hardlinks: u64,
    /// Size of the regular files copied (apparent size: holes included).
    pub bytes: u64,
    /// Files whose data is shared with the source (FICLONE).
    pub reflinked: u64,
    /// Extended attributes the destination file system does not support (ENOTSUP), skipped.
    pub xattrs_skipped: u64,
    /// Mount points inside the source: directories made empty, files left out.
    pub mounts_skipped: u64,
}

/// Copies the directory `src` to a new directory `dst_name` in `dst_parent`, which must not
/// exist. On error what was made is removed again and the error names the source path and the
/// operation: `copy /var/lib/machines/a/etc/shadow: open: permission denied`.
pub fn copy_tree(
    src: BorrowedFd<'_>,
    dst_parent: BorrowedFd<'_>,
    dst_name: &OsStr,
    opts: &Options<'_>,
) -> Result<Stats> {
    let mut w = walk::Walker::start(src, dst_parent, dst_name, opts)?;
    match w.run() {
        Ok(()) => Ok(w.stats),
        Err(e) => {
            drop(w);
            let _ = remove_tree(dst_parent, dst_name);
            Err(e)
        }
    }
}

/// Copies entry `name` of directory `src_parent` (whatever it is: a directory with its tree, a
/// file, a symlink as it is, a node) to the new entry `dst_name` of `dst_parent`; `name` itself
/// is never followed, and is copied even where it is a mount point. As [`copy_tree`], what was
/// made is removed on error.
pub fn copy_entry(
    src_parent: BorrowedFd<'_>,
    name: &OsStr,
    dst_parent: BorrowedFd<'_>,
    dst_name: &OsStr,
    opts: &Options<'_>,
) -> Result<Stats> {
    let flags = rustix::fs::OFlags::RDONLY
        | rustix::fs::OFlags::DIRECTORY
        | rustix::fs::OFlags::NOFOLLOW
        | rustix::fs::OFlags::CLOEXEC;
    match rustix::fs::openat(src_parent, name, flags, rustix::fs::Mode::empty()) {
        Ok(dir) => copy_tree(dir.as_fd(), dst_parent, dst_name, opts),
        Err(Errno::NOTDIR | Errno::LOOP) => {
            // Errors name the entry as the source's parent joined with its name.
            let opts = Options { source: opts.source.parent().unwrap_or(opts.source), ..*opts };
            let mut w = walk::Walker::beside(src_parent, dst_parent, &opts)?;
            match w.one(name, dst_name) {
                Ok(()) => Ok(w.stats),
                Err(e) => {
                    drop(w);
                    // EEXIST comes from the create alone: then the entry there is not ours.
                    if e.errno() != Some(Errno::EXIST.raw_os_error()) {
                        let _ = rustix::fs::unlinkat(dst_parent, dst_name, rustix::fs::AtFlags::empty());
                    }
                    Err(e)
                }
            }
        }
        Err(e) => Err(failure(opts.source, Path::new(""), "open", e)),
    }
}

/// `copy SOURCE/REL: OP: ERRNO TEXT`, with the errno kept.
fn failure(source: &Path, rel: &Path, op: &str, e: Errno) -> Error {
    let path = if rel.as_os_str().is_empty() { source.to_path_buf() } else { source.join(rel) };
    let msg = format!("copy {}: {op}: {}", path.display(), errno_text(e.raw_os_error()));
    Error::from_parts(msg, Some(e.raw_os_error()), None)
}
