//! Writing a tree as a tar stream (export): a walk that never follows a symlink and never
//! crosses into another mount (a mount point is archived as an empty directory, as
//! `tar --one-file-system` does), names in byte order at each level so the same tree gives the
//! same bytes; ustar headers with pax records for what ustar cannot hold (long names and link
//! targets, ids and sizes beyond its octal fields, sub-second or negative mtimes, xattrs);
//! hard links as link entries to the first name; devices and FIFOs; sockets skipped.

use super::header::{self, Header, Kind, BLOCK};
use super::pax::{self, Time};
use super::reader::{io_error, quote};
use super::{op_error, Stats};
use crate::error::{Error, Result};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::CString;
use std::io::Write;

/// One inode to archive, found by the walk.
struct Node {
    /// The name in the archive (`etc/passwd`; `.` for the root).
    name: Vec<u8>,
    /// Its directory (open) and its name there; None for the root.
    at: Option<(std::rc::Rc<OwnedFd>, CString)>,
    st: Stat,
}

/// Lists the tree below `root` (opened O_RDONLY|O_DIRECTORY) in archive order.
fn walk(root: BorrowedFd<'_>, stats: &mut Stats) -> Result<Vec<Node>> {
    let st = fs::fstat(root).map_err(|e| op_error("stat", e))?;
    let dev = st.st_dev;
    let mut out = vec![Node { name: b".".to_vec(), at: None, st }];
    let dir = fs::openat(root, c".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| op_error("open", e))?;
    walk_dir(std::rc::Rc::new(dir), Vec::new(), dev, &mut out, stats, 0)?;
    Ok(out)
}

fn walk_dir(
    dir: std::rc::Rc<OwnedFd>,
    prefix: Vec<u8>,
    dev: u64,
    out: &mut Vec<Node>,
    stats: &mut Stats,
    depth: usize,
) -> Result<()> {
    if depth > 4096 {
        return Err(Error::msg(format!("{}: directories nested too deep", quote(&prefix))));
    }
    let shown = || if prefix.is_empty() { "\".\"".to_string() } else { quote(&prefix) };
    let mut names: Vec<CString> = Vec::new();
    for ent in fs::Dir::read_from(&*dir).map_err(|e| Error::sys("read", shown(), e))? {
        let ent = ent.map_err(|e| Error::sys("read", shown(), e))?;
        let n = ent.file_name();
        if n != c"." && n != c".." {
            names.push(n.to_owned());
        }
    }
    crate::sort::sort(&mut names);
    for n in names {
        let mut name = prefix.clone();
        if !name.is_empty() {
            name.push(b'/');
        }
        name.extend_from_slice(n.as_bytes());
        let st = fs::statat(&*dir, n.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| Error::sys("stat", quote(&name), e))?;
        let ft = FileType::from_raw_mode(st.st_mode);
        if ft == FileType::Socket {
            stats.skipped += 1;
            continue;
        }
        // Another mount's root is archived as an empty directory.
        let mount_point = ft == FileType::Directory && st.st_dev != dev;
        out.push(Node { name: name.clone(), at: Some((dir.clone(), n.clone())), st });
        if ft == FileType::Directory && !mount_point {
            let sub = fs::openat(
                &*dir,
                n.as_c_str(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Error::sys("open", quote(&name), e))?;
            walk_dir(std::rc::Rc::new(sub), name, dev, out, stats, depth + 1)?;
        }
    }
    Ok(())
}

/// The extended attributes of the inode `fd` names (sorted by name); none for symlinks (the
/// kernel allows only trusted./security. there, and /proc/self/fd would not reach them).
fn read_xattrs(fd: BorrowedFd<'_>, ft: FileType, opened: bool) -> rustix::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    if ft == FileType::Symlink {
        return Ok(Vec::new());
    }
    // Files and directories are open for real: no path lookup through /proc for them.
    let proc = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let list_at = |buf: &mut [u8]| if opened { fs::flistxattr(fd, buf) } else { fs::listxattr(proc.as_str(), buf) };
    let get_at = |n: &CString, buf: &mut [u8]| {
        if opened {
            fs::fgetxattr(fd, n.as_c_str(), buf)
        } else {
            fs::getxattr(proc.as_str(), n.as_c_str(), buf)
        }
    };
    let mut list = vec![0u8; 4096];
    let n = loop {
        match list_at(&mut list[..]) {
            Ok(n) => break n,
            Err(Errno::RANGE) => list.resize(list.len() * 4, 0),
            Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    };
    let mut names: Vec<&[u8]> = list[..n].split(|&b| b == 0).filter(|s| !s.is_empty()).collect();
    crate::sort::sort(&mut names);
    let mut out = Vec::new();
    for name in names {
        let cname = CString::new(name).map_err(|_| Errno::INVAL)?;
        let mut v = vec![0u8; 256];
        let len = loop {
            match get_at(&cname, &mut v[..]) {
                Ok(len) => break len,
                Err(Errno::RANGE) => v.resize(v.len() * 16, 0),
                Err(Errno::NODATA) => break usize::MAX,
                Err(e) => return Err(e),
            }
        };
        if len != usize::MAX {
            v.truncate(len);
            out.push((name.to_vec(), v));
        }
    }
    Ok(out)
}

/// Writes the tree below `root` as a tar stream to `out`; `progress(done, total)` counts file
/// data bytes.
pub fn create<W: Write>(root: BorrowedFd<'_>, out: &mut W, progress: &mut dyn FnMut(u64, u64)) -> Result<Stats> {
    let mut stats = Stats::default();
    let nodes = walk(root, &mut stats)?;
    let mut first: HashMap<(u64, u64), usize> = HashMap::new();
    let mut links: Vec<Option<usize>> = Vec::with_capacity(nodes.len());
    let mut total = 0u64;
    for (i, n) in nodes.iter().enumerate() {
        let ft = FileType::from_raw_mode(n.st.st_mode);
        let mut link = None;
        if ft != FileType::Directory && n.st.st_nlink > 1 {
            link = first.get(&(n.st.st_dev, n.st.st_ino)).copied();
            first.entry((n.st.st_dev, n.st.st_ino)).or_insert(i);
        }
        if link.is_none() && ft == FileType::RegularFile {
            total += n.st.st_size as u64;
        }
        links.push(link);
    }
    let mut w = TarWriter { root, out, done: 0, total, progress };
    for (n, link) in nodes.iter().zip(&links) {
        w.node(n, link.map(|l| nodes[l].name.as_slice()), &mut stats)
            .map_err(|e| e.context(if n.name == b"." { "\".\"".to_string() } else { quote(&n.name) }))?;
        stats.entries += 1;
    }
    w.out.write_all(&[0u8; 2 * BLOCK]).map_err(|e| io_error("write", &e))?;
    Ok(stats)
}

struct TarWriter<'a, W> {
    root: BorrowedFd<'a>,
    out: &'a mut W,
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(u64, u64),
}

impl<W: Write> TarWriter<'_, W> {
    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.out.write_all(b).map_err(|e| io_error("write", &e))
    }

    fn node(&mut self, n: &Node, hard_link: Option<&[u8]>, stats: &mut Stats) -> Result<()> {
        let ft = FileType::from_raw_mode(n.st.st_mode);
        // The inode itself, never what a symlink points to; files opened for reading their data.
        let flags = match ft {
            FileType::RegularFile if hard_link.is_none() => OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY,
            FileType::Directory => OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
            _ => OFlags::PATH | OFlags::NOFOLLOW,
        } | OFlags::CLOEXEC;
        let fd = match &n.at {
            Some((dir, name)) => fs::openat(&**dir, name.as_c_str(), flags, Mode::empty()),
            None => fs::openat(self.root, c".", flags, Mode::empty()),
        }
        .map_err(|e| op_error("open", e))?;
        let st = fs::fstat(&fd).map_err(|e| op_error("stat", e))?;
        if (st.st_dev, st.st_ino) != (n.st.st_dev, n.st.st_ino) {
            return Err(Error::msg("replaced while being archived"));
        }
        let mut name = if n.name == b"." { b"./".to_vec() } else { n.name.clone() };
        let (kind, link, size) = match (ft, hard_link) {
            (_, Some(target)) => (Kind::HardLink, target.to_vec(), 0),
            (FileType::RegularFile, None) => (Kind::File, Vec::new(), st.st_size as u64),
            (FileType::Directory, None) => {
                if n.name != b"." {
                    name.push(b'/');
                }
                (Kind::Dir, Vec::new(), 0)
            }
            (FileType::Symlink, None) => {
                let t = fs::readlinkat(&fd, c"", Vec::new()).map_err(|e| op_error("read link", e))?;
                (Kind::Symlink, t.into_bytes(), 0)
            }
            (FileType::CharacterDevice, None) => (Kind::Char, Vec::new(), 0),
            (FileType::BlockDevice, None) => (Kind::Block, Vec::new(), 0),
            (FileType::Fifo, None) => (Kind::Fifo, Vec::new(), 0),
            _ => return Err(Error::msg("unknown file type")),
        };
        let xattrs = if hard_link.is_some() {
            Vec::new()
        } else {
            read_xattrs(fd.as_fd(), ft, !flags.contains(OFlags::PATH)).map_err(|e| op_error("read xattrs", e))?
        };
        let dev = st.st_rdev;
        let h = Header {
            name,
            mode: st.st_mode & 0o7777,
            uid: u64::from(st.st_uid),
            gid: u64::from(st.st_gid),
            size,
            mtime: st.st_mtime,
            kind,
            link,
            dev_major: rustix::fs::major(dev),
            dev_minor: rustix::fs::minor(dev),
        };
        let mtime = Time { sec: st.st_mtime, nsec: st.st_mtime_nsec as u32 };
        self.header(&h, mtime, &xattrs)?;
        stats.xattrs += xattrs.len() as u64;
        match kind {
            Kind::File => {
                self.data(fd.as_fd(), size)?;
                stats.files += 1;
                stats.bytes += size;
            }
            Kind::Dir => stats.dirs += 1,
            Kind::HardLink => stats.hardlinks += 1,
            Kind::Symlink => stats.symlinks += 1,
            Kind::Fifo => stats.fifos += 1,
            _ => stats.devices += 1,
        }
        Ok(())
    }

    /// A pax header when ustar cannot hold everything, then the ustar header.
    fn header(&mut self, h: &Header, mtime: Time, xattrs: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
        let mut recs = Vec::new();
        if header::split_name(&h.name).is_none() {
            pax::record(&mut recs, b"path", &h.name);
        }
        if h.link.len() > 100 {
            pax::record(&mut recs, b"linkpath", &h.link);
        }
        if h.uid > header::MAX_ID {
            pax::record(&mut recs, b"uid", h.uid.to_string().as_bytes());
        }
        if h.gid > header::MAX_ID {
            pax::record(&mut recs, b"gid", h.gid.to_string().as_bytes());
        }
        if h.size > header::MAX_SIZE {
            pax::record(&mut recs, b"size", h.size.to_string().as_bytes());
        }
        if mtime.nsec != 0 || mtime.sec < 0 || mtime.sec as u64 > header::MAX_SIZE {
            pax::record(&mut recs, b"mtime", pax::format_time(mtime).as_bytes());
        }
        for (n, v) in xattrs {
            pax::record(&mut recs, &[&b"SCHILY.xattr."[..], n].concat(), v);
        }
        // GNU tar restores ACLs only from their text form.
        for (n, v) in xattrs {
            let key: &[u8] = match n.as_slice() {
                b"system.posix_acl_access" => b"SCHILY.acl.access",
                b"system.posix_acl_default" => b"SCHILY.acl.default",
                _ => continue,
            };
            if let Some(text) = pax::acl_to_text(v) {
                pax::record(&mut recs, key, &text);
            }
        }
        if !recs.is_empty() {
            let base = h.name.strip_suffix(b"/").unwrap_or(&h.name);
            let base = base.rsplit(|&b| b == b'/').next().unwrap_or(b"");
            let pax_name = [&b"./PaxHeaders/"[..], &base[..base.len().min(87)]].concat();
            let ph = Header {
                name: pax_name,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: recs.len() as u64,
                mtime: mtime.sec.clamp(0, header::MAX_SIZE as i64),
                kind: Kind::PaxLocal,
                link: Vec::new(),
                dev_major: 0,
                dev_minor: 0,
            };
            self.put(&header::encode(&ph))?;
            self.put(&recs)?;
            self.put(&[0u8; BLOCK][..header::padding(recs.len() as u64) as usize])?;
        }
        self.put(&header::encode(h))
    }

    fn data(&mut self, fd: BorrowedFd<'_>, size: u64) -> Result<()> {
        let mut buf = vec![0u8; 128 << 10];
        let mut left = size;
        let mut since = 0u64;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match rustix::io::read(fd, &mut buf[..want]) {
                Ok(0) => return Err(Error::msg("file shrank while being read")),
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(op_error("read", e)),
            };
            self.put(&buf[..n])?;
            left -= n as u64;
            self.done += n as u64;
            since += n as u64;
            if since >= 1 << 20 {
                since = 0;
                (self.progress)(self.done, self.total);
            }
        }
        (self.progress)(self.done, self.total);
        self.put(&[0u8; BLOCK][..header::padding(size) as usize])
    }
}
