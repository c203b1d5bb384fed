//! `-x/--ephemeral` where the tree is a btrfs subvolume: a snapshot `.#NAME.XXXXXXXXXXXXXXXX`
//! next to it (nspawn's copy, instant), the container's tree while it runs, removed at the end.
//! The launcher holds an exclusive lock on the snapshot while it lives; a snapshot nobody holds
//! was left by a killed launcher, and the next start (or `--cleanup`) of the same tree removes
//! it. Trees that are no subvolume get the in-namespace overlay of `volatile.rs` instead.

use crate::btrfs;
use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The snapshot of one run, removed when dropped.
pub struct Snapshot {
    parent: OwnedFd,
    name: OsString,
    path: PathBuf,
    /// The lock that marks it in use (an open directory descriptor of the snapshot).
    lock: Option<OwnedFd>,
}

impl Snapshot {
    /// The snapshot's path: the container's tree.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the snapshot (once; dropping it does too).
    pub fn remove(&mut self) {
        // Held until it is gone: a cleanup never sees it unlocked.
        let Some(lock) = self.lock.take() else {
            return;
        };
        if let Err(e) = btrfs::delete_subvolume(self.parent.as_fd(), &self.name) {
            log::warn!("{}", Error::path("delete snapshot", &self.path, e));
        }
        drop(lock);
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The name of a snapshot of tree `base` (`.#BASE.` and 16 hex digits).
pub fn snapshot_name(base: &OsStr, id: u64) -> OsString {
    let mut n = OsString::from(".#");
    n.push(base);
    n.push(format!(".{id:016x}"));
    n
}

/// Whether `name` is what [`snapshot_name`] makes for `base`.
fn is_snapshot_name(name: &[u8], base: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(b".#").and_then(|r| r.strip_prefix(base)).and_then(|r| r.strip_prefix(b"."))
    else {
        return false;
    };
    rest.len() == 16 && rest.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

fn open_dir(at: BorrowedFd<'_>, path: &OsStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(at, path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
}

/// The tree's parent directory, locked (blocking) while snapshots of the tree are made or
/// removed there, and the tree's name in it.
fn lock_parent(dir: &Path) -> Result<(OwnedFd, OsString)> {
    let (Some(parent), Some(base)) = (dir.parent(), dir.file_name()) else {
        return Err(Error::msg(format!("{}: no parent directory for a snapshot", dir.display())));
    };
    let fd = open_dir(rustix::fs::CWD, parent.as_os_str()).map_err(|e| Error::path("open", parent, e))?;
    rustix::fs::flock(&fd, FlockOperation::LockExclusive).map_err(|e| Error::path("lock", parent, e))?;
    Ok((fd, base.to_owned()))
}

/// `-x` on `dir`: a snapshot of it when it is a btrfs subvolume (never for `/`), read-only if
/// asked, locked until it is removed; `None` for any other tree. Leftovers of killed runs are
/// removed first.
pub fn take_snapshot(dir: &Path, read_only: bool) -> Result<Option<Snapshot>> {
    if dir == Path::new("/") {
        return Ok(None);
    }
    let tree = open_dir(rustix::fs::CWD, dir.as_os_str()).map_err(|e| Error::path("open directory", dir, e))?;
    if !btrfs::is_subvolume(tree.as_fd()).map_err(|e| Error::path("stat", dir, e))? {
        return Ok(None);
    }
    let (parent, base) = lock_parent(dir)?;
    report_stale(remove_stale_in(parent.as_fd(), &base, dir)?, dir);
    let name = snapshot_name(&base, crate::spec::random_u64());
    let path = dir.with_file_name(&name);
    btrfs::snapshot(tree.as_fd(), parent.as_fd(), &name, read_only)
        .map_err(|e| Error::path("snapshot", dir, e).context(format!("create {}", path.display())))?;
    let mut snap = Snapshot { parent, name, path, lock: None };
    // Locked before the parent is unlocked: no cleanup sees it unlocked.
    let lock = open_dir(snap.parent.as_fd(), &snap.name)
        .and_then(|fd| rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).map(|()| fd));
    match lock {
        Ok(fd) => snap.lock = Some(fd),
        Err(e) => {
            let _ = btrfs::delete_subvolume(snap.parent.as_fd(), &snap.name);
            return Err(Error::path("lock", &snap.path, e));
        }
    }
    rustix::fs::flock(&snap.parent, FlockOperation::Unlock).map_err(|e| Error::path("unlock", dir, e))?;
    log::debug!("ephemeral snapshot {}", snap.path.display());
    Ok(Some(snap))
}

/// `--cleanup` (and every `-x` start on a subvolume): removes the snapshots of tree `dir` that
/// no running launcher holds; how many.
pub fn remove_stale(dir: &Path) -> Result<usize> {
    if dir == Path::new("/") {
        return Ok(0);
    }
    let (parent, base) = match lock_parent(dir) {
        Ok(p) => p,
        // No parent to look in: nothing was left there.
        Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(0),
        Err(e) => return Err(e),
    };
    let n = remove_stale_in(parent.as_fd(), &base, dir)?;
    report_stale(n, dir);
    Ok(n)
}

fn report_stale(n: usize, dir: &Path) {
    if n > 0 {
        log::info!("removed {n} left-over ephemeral snapshot(s) of {}", dir.display());
    }
}

/// In the locked parent directory: deletes the subvolumes named as snapshots of `base` whose
/// lock nobody holds.
fn remove_stale_in(parent: BorrowedFd<'_>, base: &OsStr, dir: &Path) -> Result<usize> {
    let shown = |n: &OsStr| dir.with_file_name(n);
    let mut names = Vec::new();
    let entries =
        rustix::fs::Dir::read_from(parent).map_err(|e| Error::path("read", dir.parent().unwrap_or(dir), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::path("read", dir.parent().unwrap_or(dir), e))?;
        let n = entry.file_name().to_bytes();
        if entry.file_type() == rustix::fs::FileType::Directory && is_snapshot_name(n, base.as_bytes()) {
            names.push(OsStr::from_bytes(n).to_owned());
        }
    }
    let mut removed = 0;
    for name in names {
        let Ok(fd) = open_dir(parent, &name) else { continue };
        if !btrfs::is_subvolume(fd.as_fd()).unwrap_or(false) {
            continue;
        }
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => continue,
            Err(e) => return Err(Error::path("lock", &shown(&name), e)),
        }
        btrfs::delete_subvolume(parent, &name).map_err(|e| Error::path("delete snapshot", &shown(&name), e))?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names() {
        let n = snapshot_name(OsStr::new("deb"), 0x1f);
        assert_eq!(n, ".#deb.000000000000001f");
        assert!(is_snapshot_name(n.as_bytes(), b"deb"));
        for other in [
            ".#deb.000000000000001F",
            ".#deb.00000000000001f",
            ".#debx.000000000000001f",
            "deb.000000000000001f",
            ".#deb.spawnbox-work",
        ] {
            assert!(!is_snapshot_name(other.as_bytes(), b"deb"), "{other}");
        }
        // A tree named like another's snapshot prefix is told apart by the length.
        assert!(!is_snapshot_name(b".#deb.x.000000000000001f", b"deb"));
        assert!(is_snapshot_name(b".#deb.x.000000000000001f", b"deb.x"));
    }

    #[test]
    fn no_snapshot_of_a_plain_directory_or_the_root() {
        let d = std::env::temp_dir().join(format!("spawnbox-ephemeral-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("tree")).unwrap();
        // A directory made by mkdir is never a subvolume's root (on btrfs neither).
        assert!(take_snapshot(&d.join("tree"), false).unwrap().is_none());
        assert!(take_snapshot(Path::new("/"), false).unwrap().is_none());
        // Names of snapshots in a directory that is no btrfs are not subvolumes: left alone.
        std::fs::create_dir(d.join(".#tree.000000000000abcd")).unwrap();
        assert_eq!(remove_stale(&d.join("tree")).unwrap(), 0);
        assert!(d.join(".#tree.000000000000abcd").is_dir());
        assert_eq!(
            take_snapshot(&d.join("missing"), false).err().map(|e| e.to_string()),
            Some(format!("open directory {}: no such file or directory", d.join("missing").display()))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
