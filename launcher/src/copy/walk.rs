//! The walk over the source tree: a stack of directories to copy and of directories to finish
//! (owner, mode, xattrs and times set once their entries are in, so that a directory's default
//! ACL is not inherited by the copies made in it and its mtime is not moved by them).
//!
//! Order per inode: create (mode 0600/0700, private while the copy runs), data, owner, then
//! mode (chown clears setuid/setgid), then xattrs (chown also drops `security.capability`),
//! then times (writing data moves the mtime).

use super::data::DataCopier;
use super::links::LinkMap;
use super::plan::{self, Action, Meta};
use super::xattr::{Loc, XattrCopier};
use super::{failure, Options, Stats};
use crate::error::{Error, Result};
use crate::rootfs::openat2_retry;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, StatxFlags, Timestamps, Uid};
use rustix::io::Errno;
use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

const DIR: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);
/// Every path below a tree root: no `..` out of it, no symlink, no other mount.
const BENEATH: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_SYMLINKS).union(ResolveFlags::NO_XDEV);

enum Work {
    /// Copy the entries of this directory (path below the roots; its copy exists).
    Copy(PathBuf, Meta),
    /// Its entries are in: set its owner, mode, xattrs and times.
    Finish(PathBuf, Meta),
}

/// One copy in progress.
pub(super) struct Walker<'a> {
    src: OwnedFd,
    dst: OwnedFd,
    root: Meta,
    /// The destination's top directory, left out where the source holds it (a copy into a
    /// directory of the source would otherwise copy itself until PATH_MAX).
    dst_inode: (u64, u64),
    opts: &'a Options<'a>,
    pub stats: Stats,
    links: LinkMap,
    data: DataCopier,
    xattrs: XattrCopier,
}

fn stat(dir: BorrowedFd<'_>, name: &CStr, flags: AtFlags) -> rustix::io::Result<Meta> {
    let flags = flags | AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT;
    let st = rustix::fs::statx(dir, name, flags, StatxFlags::BASIC_STATS | StatxFlags::MNT_ID)?;
    Ok(Meta::from_statx(&st))
}

fn times(m: &Meta) -> Timestamps {
    Timestamps { last_access: m.atime, last_modification: m.mtime }
}

/// What a copy keeps of an entry's owner and mode: both, or with the owner replaced (then
/// without setuid and setgid on anything but a directory, whose setgid only passes its group on).
fn owner_and_mode(m: &Meta, owner: Option<(u32, u32)>) -> (Option<Uid>, Option<Gid>, Mode) {
    let ((uid, gid), mode) = match owner {
        None => ((m.uid, m.gid), m.mode),
        Some(o) if m.kind == FileType::Directory => (o, m.mode),
        Some(o) => (o, m.mode & !0o6000),
    };
    (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)), Mode::from_raw_mode(mode))
}

impl<'a> Walker<'a> {
    /// Opens the source and makes the destination's top directory.
    pub fn start(src: BorrowedFd<'_>, dst_parent: BorrowedFd<'_>, name: &OsStr, opts: &'a Options<'a>) -> Result<Self> {
        let fail = |op, e| failure(opts.source, Path::new(""), op, e);
        let src = rustix::fs::openat(src, c".", DIR, Mode::empty()).map_err(|e| fail("open", e))?;
        let root = stat(src.as_fd(), c"", AtFlags::EMPTY_PATH).map_err(|e| fail("stat", e))?;
        rustix::fs::mkdirat(dst_parent, name, Mode::from_raw_mode(0o700)).map_err(|e| fail("create destination", e))?;
        let dst = match rustix::fs::openat(dst_parent, name, DIR, Mode::empty()) {
            Ok(d) => d,
            Err(e) => {
                let _ = rustix::fs::unlinkat(dst_parent, name, AtFlags::REMOVEDIR);
                return Err(fail("open destination", e));
            }
        };
        let dst_inode = match stat(dst.as_fd(), c"", AtFlags::EMPTY_PATH) {
            Ok(m) => m.inode,
            Err(e) => {
                let _ = rustix::fs::unlinkat(dst_parent, name, AtFlags::REMOVEDIR);
                return Err(fail("stat destination", e));
            }
        };
        let stats = Stats { dirs: 1, ..Stats::default() };
        let (links, data) = (LinkMap::default(), DataCopier::new(opts.reflink));
        let xattrs = XattrCopier::new(opts.owner.is_some());
        Ok(Walker { src, dst, root, dst_inode, opts, stats, links, data, xattrs })
    }

    /// A walker for one entry that is not a directory, between two parent directories.
    pub fn beside(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, opts: &'a Options<'a>) -> Result<Self> {
        let fail = |op, e| failure(opts.source, Path::new(""), op, e);
        let path = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let src = rustix::fs::openat(src, c".", path, Mode::empty()).map_err(|e| fail("open", e))?;
        let dst = rustix::fs::openat(dst, c".", path, Mode::empty()).map_err(|e| fail("open destination", e))?;
        let root = stat(src.as_fd(), c"", AtFlags::EMPTY_PATH).map_err(|e| fail("stat", e))?;
        let (links, data) = (LinkMap::default(), DataCopier::new(opts.reflink));
        let xattrs = XattrCopier::new(opts.owner.is_some());
        let stats = Stats::default();
        Ok(Walker { src, dst, root, dst_inode: (0, 0), opts, stats, links, data, xattrs })
    }

    /// Copies entry `name` of the source parent to `dst_name` of the destination parent
    /// (a walker made by [`Walker::beside`]): it is copied even where it is a mount point.
    pub fn one(&mut self, name: &OsStr, dst_name: &OsStr) -> Result<()> {
        let top = Path::new(name);
        let c = |n: &OsStr| std::ffi::CString::new(n.as_bytes()).map_err(|_| self.fail(top, "open", Errno::INVAL));
        let (name, to) = (c(name)?, c(dst_name)?);
        let src = rustix::io::dup(&self.src).map_err(|e| self.fail(top, "open", e))?;
        let dst = rustix::io::dup(&self.dst).map_err(|e| self.fail(top, "open destination", e))?;
        let m = stat(src.as_fd(), &name, AtFlags::empty()).map_err(|e| self.fail(top, "stat", e))?;
        if m.kind == FileType::Directory {
            return Err(Error::msg(format!("copy {}: replaced during the copy", self.opts.source.join(top).display())));
        }
        // Its own mount (a bind-mounted file) is the one it is copied from.
        self.root.mount = m.mount;
        self.root.inode.0 = m.inode.0;
        self.entry(src.as_fd(), dst.as_fd(), Path::new(""), &name, &to, &mut Vec::new())
    }

    /// Copies everything below the top directory, then the top directory's metadata.
    pub fn run(&mut self) -> Result<()> {
        let mut stack = vec![Work::Copy(PathBuf::new(), self.root)];
        while let Some(work) = stack.pop() {
            match work {
                Work::Copy(rel, m) => self.copy_dir(rel, m, &mut stack)?,
                Work::Finish(rel, m) => self.finish(&rel, &m)?,
            }
        }
        Ok(())
    }

    fn fail(&self, rel: &Path, op: &str, e: Errno) -> Error {
        if e == Errno::INTR && op == "interrupted" {
            return self.interrupted_error();
        }
        failure(self.opts.source, rel, op, e)
    }

    fn interrupted_error(&self) -> Error {
        Error::from_parts(
            format!("copy {}: interrupted", self.opts.source.display()),
            Some(Errno::INTR.raw_os_error()),
            None,
        )
    }

    /// Directory `rel` of the source (`dst: false`) or of the destination.
    fn open_dir(&self, rel: &Path, dst: bool) -> Result<OwnedFd> {
        let (root, op) = if dst { (&self.dst, "open destination") } else { (&self.src, "open") };
        let path = if rel.as_os_str().is_empty() { Path::new(".") } else { rel };
        openat2_retry(root.as_fd(), path, DIR, Mode::empty(), BENEATH).map_err(|e| self.fail(rel, op, e))
    }

    fn copy_dir(&mut self, rel: PathBuf, m: Meta, stack: &mut Vec<Work>) -> Result<()> {
        let src = self.open_dir(&rel, false)?;
        let dst = self.open_dir(&rel, true)?;
        let mut entries = rustix::fs::Dir::read_from(&src).map_err(|e| self.fail(&rel, "read directory", e))?;
        stack.push(Work::Finish(rel.clone(), m));
        while let Some(e) = entries.read() {
            let e = e.map_err(|e| self.fail(&rel, "read directory", e))?;
            let name = e.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            if self.opts.interrupted.is_some_and(|f| f()) {
                return Err(self.interrupted_error());
            }
            self.entry(src.as_fd(), dst.as_fd(), &rel, name, name, stack)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        rel: &Path,
        name: &CStr,
        to: &CStr,
        stack: &mut Vec<Work>,
    ) -> Result<()> {
        let child = rel.join(OsStr::from_bytes(name.to_bytes()));
        let m = stat(src, name, AtFlags::empty()).map_err(|e| self.fail(&child, "stat", e))?;
        if m.inode == self.dst_inode {
            log::debug!("{}: the copy itself, left out", self.opts.source.join(&child).display());
            return Ok(());
        }
        let same = plan::same_mount(&m, &self.root);
        let first = if same && m.kind != FileType::Directory && m.nlink > 1 { self.links.seen(m.inode) } else { None };
        let action = plan::plan(m.kind, same, first).ok_or_else(|| self.fail(&child, "stat", Errno::OPNOTSUPP))?;
        let create = |e| self.fail(&child, "create", e);
        match action {
            Action::Dir => {
                rustix::fs::mkdirat(dst, to, Mode::from_raw_mode(0o700)).map_err(create)?;
                self.stats.dirs += 1;
                stack.push(Work::Copy(child, m));
                return Ok(());
            }
            Action::MountPoint => {
                log::debug!("{}: a mount point, copied as an empty directory", self.opts.source.join(&child).display());
                rustix::fs::mkdirat(dst, to, Mode::from_raw_mode(0o700)).map_err(create)?;
                let d = rustix::fs::openat(dst, to, DIR, Mode::empty()).map_err(|e| self.fail(&child, "open", e))?;
                self.set_fd(d.as_fd(), None, &m, &child)?;
                self.stats.dirs += 1;
                self.stats.mounts_skipped += 1;
                return Ok(());
            }
            Action::SkipMount => {
                log::debug!("{}: mounted over, left out", self.opts.source.join(&child).display());
                self.stats.mounts_skipped += 1;
                return Ok(());
            }
            Action::Link(first) => {
                self.link(&first, dst, to).map_err(|e| self.fail(&child, "link", e))?;
                self.stats.hardlinks += 1;
                return Ok(());
            }
            Action::File => self.file(src, dst, name, to, &m, &child)?,
            Action::Symlink => {
                let target =
                    rustix::fs::readlinkat(src, name, Vec::new()).map_err(|e| self.fail(&child, "read link", e))?;
                rustix::fs::symlinkat(target.as_c_str(), dst, to).map_err(create)?;
                self.set_at(src, dst, name, to, &m, &child)?;
                self.stats.symlinks += 1;
            }
            Action::Node => {
                rustix::fs::mknodat(dst, to, m.kind, Mode::from_raw_mode(0o600), m.rdev).map_err(create)?;
                self.set_at(src, dst, name, to, &m, &child)?;
                self.stats.nodes += 1;
            }
        }
        self.links.remember(m.inode, m.nlink, &child);
        Ok(())
    }

    fn file(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        to: &CStr,
        m: &Meta,
        child: &Path,
    ) -> Result<()> {
        // O_NONBLOCK: if a FIFO took the file's place since the stat, the open must not hang.
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        // O_NOATIME leaves the source's access times alone; only the owner (or CAP_FOWNER) may.
        let s = match rustix::fs::openat(src, name, flags | OFlags::NOATIME, Mode::empty()) {
            Err(Errno::PERM) => rustix::fs::openat(src, name, flags, Mode::empty()),
            r => r,
        }
        .map_err(|e| self.fail(child, "open", e))?;
        let st = rustix::fs::fstat(&s).map_err(|e| self.fail(child, "stat", e))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || st.st_ino != m.inode.1 {
            return Err(Error::msg(format!(
                "copy {}: replaced during the copy",
                self.opts.source.join(child).display()
            )));
        }
        let size = st.st_size as u64;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let d = rustix::fs::openat(dst, to, flags, Mode::from_raw_mode(0o600))
            .map_err(|e| self.fail(child, "create", e))?;
        let stop = self.opts.interrupted.unwrap_or(&|| false);
        let reflinked = self.data.copy(s.as_fd(), d.as_fd(), size, stop).map_err(|(op, e)| self.fail(child, op, e))?;
        self.set_fd(d.as_fd(), Some(s.as_fd()), m, child)?;
        self.stats.files += 1;
        self.stats.bytes += size;
        self.stats.reflinked += u64::from(reflinked);
        Ok(())
    }

    /// Links `name` in `dst` to `first`, a path below the destination root.
    fn link(&self, first: &Path, dst: BorrowedFd<'_>, name: &CStr) -> rustix::io::Result<()> {
        let parent = first.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let base = first.file_name().ok_or(Errno::INVAL)?;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = openat2_retry(self.dst.as_fd(), parent, flags, Mode::empty(), BENEATH)?;
        rustix::fs::linkat(&dir, base, dst, name, AtFlags::empty())
    }

    fn xattrs(&mut self, src: &Loc<'_>, dst: &Loc<'_>, child: &Path) -> Result<()> {
        match self.xattrs.copy(src, dst) {
            Ok(skipped) => {
                self.stats.xattrs_skipped += skipped;
                Ok(())
            }
            Err((op, e)) => Err(self.fail(child, &op, e)),
        }
    }

    /// Owner, mode, xattrs (if `src` is given) and times of an open file or directory.
    fn set_fd(&mut self, dst: BorrowedFd<'_>, src: Option<BorrowedFd<'_>>, m: &Meta, child: &Path) -> Result<()> {
        let (uid, gid, mode) = owner_and_mode(m, self.opts.owner);
        rustix::fs::fchown(dst, uid, gid).map_err(|e| self.fail(child, "change owner", e))?;
        rustix::fs::fchmod(dst, mode).map_err(|e| self.fail(child, "change mode", e))?;
        if let Some(src) = src {
            self.xattrs(&Loc::Fd(src), &Loc::Fd(dst), child)?;
        }
        rustix::fs::futimens(dst, &times(m)).map_err(|e| self.fail(child, "set times", e))
    }

    /// Owner, mode (not of a symlink: it has none), xattrs and times of entry `to` made from
    /// `name`.
    fn set_at(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        to: &CStr,
        m: &Meta,
        child: &Path,
    ) -> Result<()> {
        let (uid, gid, mode) = owner_and_mode(m, self.opts.owner);
        let nofollow = AtFlags::SYMLINK_NOFOLLOW;
        rustix::fs::chownat(dst, to, uid, gid, nofollow).map_err(|e| self.fail(child, "change owner", e))?;
        if m.kind != FileType::Symlink {
            // Not a symlink (we just made it): fchmodat follows none.
            rustix::fs::chmodat(dst, to, mode, AtFlags::empty()).map_err(|e| self.fail(child, "change mode", e))?;
        }
        self.xattrs(&Loc::At(src, name), &Loc::At(dst, to), child)?;
        rustix::fs::utimensat(dst, to, &times(m), nofollow).map_err(|e| self.fail(child, "set times", e))
    }

    fn finish(&mut self, rel: &Path, m: &Meta) -> Result<()> {
        let src = self.open_dir(rel, false)?;
        let dst = self.open_dir(rel, true)?;
        self.set_fd(dst.as_fd(), Some(src.as_fd()), m, rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::Timespec;

    #[test]
    fn a_new_owner_drops_setuid_and_setgid_of_everything_but_directories() {
        let t = Timespec { tv_sec: 0, tv_nsec: 0 };
        let meta = |kind, mode| Meta {
            kind,
            mode,
            uid: 1000,
            gid: 100,
            size: 0,
            nlink: 1,
            inode: (1, 2),
            rdev: 0,
            atime: t,
            mtime: t,
            mount: None,
        };
        let raw =
            |(u, g, m): (Option<Uid>, Option<Gid>, Mode)| (u.map(Uid::as_raw), g.map(Gid::as_raw), m.as_raw_mode());
        let file = meta(FileType::RegularFile, 0o6755);
        assert_eq!(raw(owner_and_mode(&file, None)), (Some(1000), Some(100), 0o6755));
        assert_eq!(raw(owner_and_mode(&file, Some((7, 8)))), (Some(7), Some(8), 0o755));
        let dir = meta(FileType::Directory, 0o3775);
        assert_eq!(raw(owner_and_mode(&dir, Some((7, 8)))), (Some(7), Some(8), 0o3775));
        let node = meta(FileType::CharacterDevice, 0o2660);
        assert_eq!(raw(owner_and_mode(&node, Some((0, 0)))), (Some(0), Some(0), 0o660));
    }
}
