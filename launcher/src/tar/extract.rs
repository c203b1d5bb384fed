//! Extracting a tar stream into a directory, contained: names are normalised by `path.rs`
//! (`..` refused, `/` dropped); every parent is walked from the root one component at a time
//! with `O_NOFOLLOW`, so a symlink made by an earlier entry is never written through (the
//! entry is refused); a later entry at a symlink's (or file's) path replaces it (unlink, then
//! `O_CREAT|O_EXCL`); hard link targets are walked the same way and linked without following.
//! Owners, modes (setuid included, set after chown), xattrs (file capabilities after chown,
//! which clears them), device nodes and nanosecond mtimes are kept; directories get their
//! mode and mtime after their contents. With `oci_layer`, whiteouts apply (`.wh.NAME`,
//! `.wh..wh..opq`).

use super::header::Kind;
use super::path::{self, Whiteout};
use super::reader::{quote, Entry, Reader};
use super::{op_error, Stats};
use crate::error::{Error, Result};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;
use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io::Read;

/// How to extract.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Give entries the archive's numeric owners (root only); otherwise they belong to the
    /// caller.
    pub same_owner: bool,
    /// An OCI image layer: `.wh.NAME` removes NAME of a lower layer, `.wh..wh..opq` hides
    /// everything lower layers put in its directory; whiteouts are not extracted.
    pub oci_layer: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { same_owner: true, oci_layer: false }
    }
}

/// Mode of directories made for entries whose parents the archive does not list.
const IMPLICIT_DIR_MODE: u32 = 0o755;
/// Data copy buffer.
const BUF: usize = 128 << 10;
/// How often (bytes of entry data) `tick` is called within a large file.
const TICK_BYTES: u64 = 1 << 20;

/// What a directory gets after its contents.
struct DirMeta {
    mode: u32,
    mtime: Timespec,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

struct Extractor<'a> {
    root: BorrowedFd<'a>,
    opts: &'a ImportOptions,
    stats: Stats,
    /// The open directories from the root down to the last parent used (component, fd).
    stack: Vec<(Vec<u8>, OwnedFd)>,
    /// Directories' xattrs, mode and mtime, applied at the end (key: components joined by
    /// `/`): a default ACL set earlier would be inherited by every entry made below it.
    dirs: HashMap<Vec<u8>, DirMeta>,
    /// Paths this layer made (OCI mode): whiteouts only hide what lower layers made.
    layer: HashSet<Vec<u8>>,
    buf: Vec<u8>,
}

/// Extracts every entry of `reader` into the directory `root`; `tick` is called after each
/// entry and every MiB of data (for a progress display).
pub fn extract<R: Read>(
    reader: &mut Reader<R>,
    root: BorrowedFd<'_>,
    opts: &ImportOptions,
    tick: &mut dyn FnMut(),
) -> Result<Stats> {
    let mut x = Extractor {
        root,
        opts,
        stats: Stats::default(),
        stack: Vec::new(),
        dirs: HashMap::new(),
        layer: HashSet::new(),
        buf: vec![0u8; BUF],
    };
    while let Some(entry) = reader.next_entry()? {
        x.entry(reader, &entry, tick).map_err(|e| e.context(format!("entry {}", entry.display())))?;
        tick();
    }
    x.finish_dirs()?;
    Ok(x.stats)
}

fn join(comps: &[&[u8]]) -> Vec<u8> {
    comps.join(&b'/')
}

fn cstr(b: &[u8]) -> CString {
    // Names were checked for NUL bytes (path.rs, pax.rs); an empty CString is the fallback.
    CString::new(b).unwrap_or_default()
}

fn name_err(e: path::NameError) -> Error {
    Error::msg(e.to_string())
}

impl Extractor<'_> {
    fn parent(&self) -> BorrowedFd<'_> {
        self.stack.last().map_or(self.root, |(_, fd)| fd.as_fd())
    }

    /// Makes the stack the directory chain `comps`, opening each component with O_NOFOLLOW
    /// and creating missing ones (mode 0755). A symlink or non-directory on the way is an error.
    fn enter(&mut self, comps: &[&[u8]]) -> Result<()> {
        self.walk(comps, true)
    }

    /// [`Self::enter`], creating missing directories only if `create`.
    fn walk(&mut self, comps: &[&[u8]], create: bool) -> Result<()> {
        let common = self.stack.iter().zip(comps).take_while(|((c, _), d)| c == *d).count();
        self.stack.truncate(common);
        for i in common..comps.len() {
            let name = comps[i];
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let at = self.parent();
            let fd = match fs::openat(at, cstr(name).as_c_str(), flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if create => {
                    match fs::mkdirat(at, cstr(name).as_c_str(), Mode::from_raw_mode(IMPLICIT_DIR_MODE)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(Error::sys("create directory", quote(&join(&comps[..=i])), e)),
                    }
                    fs::openat(at, cstr(name).as_c_str(), flags, Mode::empty())
                        .map_err(|e| Error::sys("open", quote(&join(&comps[..=i])), e))?
                }
                Err(Errno::NOTDIR) | Err(Errno::LOOP) => {
                    let what = match fs::statat(at, cstr(name).as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                            "is a symlink: not written through"
                        }
                        _ => "is not a directory",
                    };
                    return Err(Error::msg(format!("{} {what}", quote(&join(&comps[..=i])))));
                }
                Err(e) => return Err(Error::sys("open", quote(&join(&comps[..=i])), e)),
            };
            self.stack.push((name.to_vec(), fd));
        }
        Ok(())
    }

    fn entry<R: Read>(&mut self, reader: &mut Reader<R>, e: &Entry, tick: &mut dyn FnMut()) -> Result<()> {
        self.stats.entries += 1;
        self.stats.unresolved_acls += u64::from(e.unresolved_acls);
        let comps = path::components(&e.name).map_err(name_err)?;
        let Some((&last, parents)) = comps.split_last() else {
            // `.`, `./` or `/`: the image's root directory itself.
            if e.kind != Kind::Dir {
                return Err(Error::msg("the image's root must be a directory"));
            }
            let dir = fs::openat(self.root, c".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| Error::sys("open", "the image's root", e))?;
            self.own(dir.as_fd(), e)?;
            self.dirs.insert(Vec::new(), DirMeta { mode: e.mode, mtime: timespec(e), xattrs: e.xattrs.clone() });
            self.stats.root_entry = true;
            return Ok(());
        };
        if self.opts.oci_layer {
            match path::whiteout(last).map_err(name_err)? {
                Whiteout::None => {
                    self.layer.insert(join(&comps));
                }
                Whiteout::Meta => return Ok(()),
                Whiteout::Remove(name) => {
                    self.enter(parents)?;
                    self.stats.whiteouts += 1;
                    let mut hidden = join(parents);
                    if !hidden.is_empty() {
                        hidden.push(b'/');
                    }
                    hidden.extend_from_slice(name);
                    if !self.layer.contains(&hidden) {
                        self.remove(name)?;
                    }
                    return Ok(());
                }
                Whiteout::Opaque => {
                    self.enter(parents)?;
                    self.stats.whiteouts += 1;
                    return self.make_opaque(parents);
                }
            }
        }
        self.enter(parents)?;
        let name = cstr(last);
        match e.kind {
            Kind::Dir => self.make_dir(&name, &comps, e),
            Kind::File => self.make_file(reader, &name, e, tick),
            Kind::HardLink => self.make_hard_link(&name, e),
            Kind::Symlink | Kind::Char | Kind::Block | Kind::Fifo => self.make_node(&name, e),
            _ => Err(Error::msg("unexpected entry type")),
        }
    }

    /// Runs `create` in the parent; if the name is taken, removes what is there (a directory
    /// only when empty) and runs it again.
    fn replacing(
        &mut self,
        name: &CString,
        mut create: impl FnMut(BorrowedFd<'_>) -> rustix::io::Result<()>,
    ) -> Result<()> {
        match create(self.parent()) {
            Err(Errno::EXIST) => {}
            r => return r.map_err(|e| op_error("create", e)),
        }
        self.remove_existing(name)?;
        create(self.parent()).map_err(|e| op_error("create", e))
    }

    fn remove_existing(&mut self, name: &CString) -> Result<()> {
        match fs::unlinkat(self.parent(), name.as_c_str(), AtFlags::empty()) {
            Ok(()) => Ok(()),
            Err(Errno::ISDIR) => fs::unlinkat(self.parent(), name.as_c_str(), AtFlags::REMOVEDIR).map_err(|e| {
                if e == Errno::NOTEMPTY {
                    Error::msg("a directory with contents is in the way")
                } else {
                    Error::sys("remove", "the directory in the way", e)
                }
            }),
            Err(e) => Err(Error::sys("remove", "what is in the way", e)),
        }
    }

    fn make_dir(&mut self, name: &CString, comps: &[&[u8]], e: &Entry) -> Result<()> {
        let at = self.parent();
        match fs::mkdirat(at, name.as_c_str(), Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(Errno::EXIST) => {
                let st = fs::statat(at, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(|e| op_error("stat", e))?;
                if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                    self.remove_existing(name)?;
                    fs::mkdirat(self.parent(), name.as_c_str(), Mode::from_raw_mode(0o700))
                        .map_err(|e| op_error("create directory", e))?;
                }
            }
            Err(e) => return Err(op_error("create directory", e)),
        }
        let dir = fs::openat(
            self.parent(),
            name.as_c_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| op_error("open directory", e))?;
        self.own(dir.as_fd(), e)?;
        self.dirs.insert(join(comps), DirMeta { mode: e.mode, mtime: timespec(e), xattrs: e.xattrs.clone() });
        self.stats.dirs += 1;
        Ok(())
    }

    fn make_file<R: Read>(
        &mut self,
        reader: &mut Reader<R>,
        name: &CString,
        e: &Entry,
        tick: &mut dyn FnMut(),
    ) -> Result<()> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut fd = None;
        self.replacing(name, |at| {
            fd = Some(fs::openat(at, name.as_c_str(), flags, Mode::from_raw_mode(0o600))?);
            Ok(())
        })?;
        let fd = fd.ok_or_else(|| Error::msg("create: no file"))?;
        let mut since_tick = 0u64;
        loop {
            let n = reader.read_data(&mut self.buf)?;
            if n == 0 {
                break;
            }
            let mut done = 0;
            while done < n {
                match rustix::io::write(&fd, &self.buf[done..n]) {
                    Ok(k) => done += k,
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(op_error("write", e)),
                }
            }
            self.stats.bytes += n as u64;
            since_tick += n as u64;
            if since_tick >= TICK_BYTES {
                since_tick = 0;
                tick();
            }
        }
        self.own(fd.as_fd(), e)?;
        fs::fchmod(&fd, Mode::from_raw_mode(e.mode)).map_err(|e| op_error("change mode", e))?;
        self.set_xattrs_fd(fd.as_fd(), e)?;
        fs::futimens(&fd, &times(e)).map_err(|e| op_error("set mtime", e))?;
        self.stats.files += 1;
        Ok(())
    }

    fn make_hard_link(&mut self, name: &CString, e: &Entry) -> Result<()> {
        let target = path::components(&e.link)
            .map_err(|err| Error::msg(format!("hard link target {}: {err}", quote(&e.link))))?;
        let Some((&tlast, tparents)) = target.split_last() else {
            return Err(Error::msg("hard link to the image's root"));
        };
        // Walk to the target's directory with the same rules, keeping it open, then come back.
        let here: Vec<Vec<u8>> = self.stack.iter().map(|(c, _)| c.clone()).collect();
        self.walk(tparents, false).map_err(|err| err.context(format!("hard link target {}", quote(&e.link))))?;
        let tdir = fs::openat(self.parent(), c".", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|err| Error::sys("open", quote(&e.link), err))?;
        let here: Vec<&[u8]> = here.iter().map(Vec::as_slice).collect();
        self.enter(&here)?;
        let tname = cstr(tlast);
        self.replacing(name, |at| fs::linkat(&tdir, tname.as_c_str(), at, name.as_c_str(), AtFlags::empty()))
            .map_err(|err| err.context(format!("hard link to {}", quote(&e.link))))?;
        self.stats.hardlinks += 1;
        Ok(())
    }

    fn make_node(&mut self, name: &CString, e: &Entry) -> Result<()> {
        let mode = Mode::from_raw_mode(0o600);
        let dev = crate::sys::makedev(e.dev_major, e.dev_minor);
        let link = cstr(&e.link);
        self.replacing(name, |at| match e.kind {
            Kind::Symlink => fs::symlinkat(link.as_c_str(), at, name.as_c_str()),
            Kind::Char => fs::mknodat(at, name.as_c_str(), FileType::CharacterDevice, mode, dev),
            Kind::Block => fs::mknodat(at, name.as_c_str(), FileType::BlockDevice, mode, dev),
            _ => fs::mknodat(at, name.as_c_str(), FileType::Fifo, mode, 0),
        })?;
        // An O_PATH handle names the new inode itself; /proc/self/fd/N reaches it for the
        // calls that take no O_PATH descriptor (chmod, xattrs), never through a symlink.
        let fd = fs::openat(
            self.parent(),
            name.as_c_str(),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| op_error("open", e))?;
        let proc = format!("/proc/self/fd/{}", fd.as_raw_fd());
        if self.opts.same_owner {
            fs::chownat(
                &fd,
                c"",
                Some(uid(e.uid)?),
                Some(gid(e.gid)?),
                AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|err| Error::sys("change owner to", format!("{}:{}", e.uid, e.gid), err))?;
        }
        if e.kind != Kind::Symlink {
            fs::chmod(proc.as_str(), Mode::from_raw_mode(e.mode)).map_err(|e| op_error("change mode", e))?;
        }
        if e.kind == Kind::Symlink {
            // Only trusted./security. xattrs exist on symlinks, and /proc/self/fd/N of a
            // symlink's O_PATH handle is not a way to reach them.
            self.stats.skipped_xattrs += e.xattrs.len() as u64;
        } else {
            for (n, v) in &e.xattrs {
                let r = fs::setxattr(proc.as_str(), cstr(n).as_c_str(), v, XattrFlags::empty());
                self.xattr_result(n, r)?;
            }
        }
        fs::utimensat(self.parent(), name.as_c_str(), &times(e), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| op_error("set mtime", e))?;
        match e.kind {
            Kind::Symlink => self.stats.symlinks += 1,
            Kind::Fifo => self.stats.fifos += 1,
            _ => self.stats.devices += 1,
        }
        Ok(())
    }

    fn own(&self, fd: BorrowedFd<'_>, e: &Entry) -> Result<()> {
        if self.opts.same_owner {
            fs::fchown(fd, Some(uid(e.uid)?), Some(gid(e.gid)?))
                .map_err(|err| Error::sys("change owner to", format!("{}:{}", e.uid, e.gid), err))?;
        }
        Ok(())
    }

    fn set_xattrs_fd(&mut self, fd: BorrowedFd<'_>, e: &Entry) -> Result<()> {
        for (n, v) in &e.xattrs {
            let r = fs::fsetxattr(fd, cstr(n).as_c_str(), v, XattrFlags::empty());
            self.xattr_result(n, r)?;
        }
        Ok(())
    }

    /// A file system without xattrs (or without that namespace) skips them, counted; other
    /// failures stop the import.
    fn xattr_result(&mut self, name: &[u8], r: rustix::io::Result<()>) -> Result<()> {
        match r {
            Ok(()) => self.stats.xattrs += 1,
            Err(Errno::OPNOTSUPP) => self.stats.skipped_xattrs += 1,
            // user.* xattrs are refused on symlinks and device nodes.
            Err(Errno::PERM) if name.starts_with(b"user.") => self.stats.skipped_xattrs += 1,
            Err(e) => return Err(Error::sys("set xattr", quote(name), e)),
        }
        Ok(())
    }

    /// Removes `name` from the current parent, whatever it is (OCI `.wh.NAME`).
    fn remove(&mut self, name: &[u8]) -> Result<()> {
        let parent = self.stack.pop();
        let at = parent.as_ref().map_or(self.root, |(_, fd)| fd.as_fd());
        let r = remove_tree(at, &cstr(name), 0);
        // Cached descendants of what was removed must not be reused.
        self.stack.clear();
        r.map_err(|e| e.context(format!("remove {}", quote(name))))
    }

    /// Removes everything in directory `comps` that this layer did not make.
    fn make_opaque(&mut self, comps: &[&[u8]]) -> Result<()> {
        let dir = fs::openat(self.parent(), c".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys("open", quote(&join(comps)), e))?;
        let mut names = Vec::new();
        for ent in fs::Dir::read_from(&dir).map_err(|e| Error::sys("read", quote(&join(comps)), e))? {
            let ent = ent.map_err(|e| Error::sys("read", quote(&join(comps)), e))?;
            let n = ent.file_name().to_bytes();
            if n == b"." || n == b".." {
                continue;
            }
            let mut full = join(comps);
            if !full.is_empty() {
                full.push(b'/');
            }
            full.extend_from_slice(n);
            if !self.layer.contains(&full) {
                names.push(n.to_vec());
            }
        }
        for n in names {
            remove_tree(dir.as_fd(), &cstr(&n), 0).map_err(|e| e.context(format!("remove {}", quote(&n))))?;
        }
        self.stack.clear();
        Ok(())
    }

    /// Directories' xattrs, modes and mtimes, deepest first, after everything else was written.
    fn finish_dirs(&mut self) -> Result<()> {
        let mut dirs: Vec<(Vec<u8>, DirMeta)> = self.dirs.drain().collect();
        let depth = |p: &[u8]| p.iter().filter(|&&b| b == b'/').count() + usize::from(!p.is_empty());
        crate::sort::sort_by(&mut dirs, |(a, _), (b, _)| (depth(b), b).cmp(&(depth(a), a)));
        for (p, meta) in dirs {
            let comps: Vec<&[u8]> = if p.is_empty() { Vec::new() } else { p.split(|&b| b == b'/').collect() };
            let dir = match self.open_dir(&comps) {
                Ok(fd) => fd,
                // Removed by a later whiteout or replaced by a non-directory: nothing to set.
                Err(Errno::NOENT) | Err(Errno::NOTDIR) | Err(Errno::LOOP) => continue,
                Err(e) => return Err(Error::sys("open directory", quote(&p), e)),
            };
            for (n, v) in &meta.xattrs {
                let r = fs::fsetxattr(&dir, cstr(n).as_c_str(), v, XattrFlags::empty());
                self.xattr_result(n, r)
                    .map_err(|e| e.context(format!("entry {}", quote(if p.is_empty() { b"." } else { &p }))))?;
            }
            fs::fchmod(&dir, Mode::from_raw_mode(meta.mode)).map_err(|e| Error::sys("change mode of", quote(&p), e))?;
            let t = Timestamps { last_access: omit(), last_modification: meta.mtime };
            fs::futimens(&dir, &t).map_err(|e| Error::sys("set mtime of", quote(&p), e))?;
        }
        Ok(())
    }

    fn open_dir(&mut self, comps: &[&[u8]]) -> rustix::io::Result<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut fd = fs::openat(self.root, c".", flags, Mode::empty())?;
        for c in comps {
            fd = fs::openat(&fd, cstr(c).as_c_str(), flags, Mode::empty())?;
        }
        Ok(fd)
    }
}

fn uid(id: u64) -> Result<fs::Uid> {
    u32::try_from(id)
        .ok()
        .filter(|&i| i != u32::MAX)
        .map(fs::Uid::from_raw)
        .ok_or_else(|| Error::msg(format!("owner {id} out of range")))
}

fn gid(id: u64) -> Result<fs::Gid> {
    u32::try_from(id)
        .ok()
        .filter(|&i| i != u32::MAX)
        .map(fs::Gid::from_raw)
        .ok_or_else(|| Error::msg(format!("group {id} out of range")))
}

fn omit() -> Timespec {
    Timespec { tv_sec: 0, tv_nsec: fs::UTIME_OMIT }
}

fn timespec(e: &Entry) -> Timespec {
    Timespec { tv_sec: e.mtime.sec, tv_nsec: e.mtime.nsec.into() }
}

fn times(e: &Entry) -> Timestamps {
    Timestamps { last_access: omit(), last_modification: timespec(e) }
}

/// Removes `name` in `parent` and, if it is a directory, everything below it, never following
/// a symlink.
pub fn remove_tree(parent: BorrowedFd<'_>, name: &CString, depth: usize) -> Result<()> {
    const MAX_DEPTH: usize = 4096;
    match fs::unlinkat(parent, name.as_c_str(), AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR) => {}
        Err(e) => return Err(Error::sys("remove", quote(name.as_bytes()), e)),
    }
    if depth > MAX_DEPTH {
        return Err(Error::msg("directories nested too deep"));
    }
    let dir = fs::openat(
        parent,
        name.as_c_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys("open", quote(name.as_bytes()), e))?;
    let mut names = Vec::new();
    for ent in fs::Dir::read_from(&dir).map_err(|e| Error::sys("read", quote(name.as_bytes()), e))? {
        let ent = ent.map_err(|e| Error::sys("read", quote(name.as_bytes()), e))?;
        let n = ent.file_name();
        if n != c"." && n != c".." {
            names.push(n.to_owned());
        }
    }
    for n in names {
        remove_tree(dir.as_fd(), &n, depth + 1)?;
    }
    fs::unlinkat(parent, name.as_c_str(), AtFlags::REMOVEDIR)
        .map_err(|e| Error::sys("remove", quote(name.as_bytes()), e))
}
