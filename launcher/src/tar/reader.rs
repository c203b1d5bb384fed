//! Reading a tar stream: header blocks, GNU long names and links (`L`/`K`), pax local and
//! global headers merged into one [`Entry`] each, then the entry's data. Works on any
//! `Read` and touches nothing else: the fuzz target drives it on bytes.

use super::header::{self, Header, Kind, BLOCK};
use super::pax::{self, Pax, Time};
use crate::error::{Error, Result};
use std::io::Read;

/// The most bytes one extension header (`L`, `K`, `x`, `g`) may hold: names are at most 4 KiB
/// (PATH_MAX), xattr values at most 64 KiB each; this bounds what a hostile archive can make
/// us allocate.
pub const MAX_EXTENSION: u64 = 4 << 20;

/// One archive member with every extension applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The name as the archive spells it (for messages and [`super::path::components`]).
    pub name: Vec<u8>,
    pub kind: Kind,
    /// Permission bits and setuid/setgid/sticky (0o7777).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Bytes of data that follow (file content; skipped for other kinds).
    pub size: u64,
    pub mtime: Time,
    /// Symlink target, or the hard link's target entry name.
    pub link: Vec<u8>,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Extended attributes (`SCHILY.xattr.*`, text ACLs turned into `system.posix_acl_*`).
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Text ACLs that name users or groups instead of ids: not applied, counted.
    pub unresolved_acls: u32,
}

impl Entry {
    /// The name for messages: quoted, non-UTF-8 and control bytes escaped.
    pub fn display(&self) -> String {
        quote(&self.name)
    }
}

/// `"name"`, escaped as Rust's Debug does (one line, whatever the bytes).
pub fn quote(name: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(name))
}

/// A tar stream being read.
pub struct Reader<R> {
    src: R,
    /// Bytes consumed from `src` (header offsets in messages).
    offset: u64,
    /// Data bytes of the current entry not read yet, and the padding after them.
    remaining: u64,
    padding: u64,
    global: Pax,
    done: bool,
}

/// An I/O error as one line (`read: no such device`, or the decompressor's own text).
pub fn io_error(op: &str, e: &std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(n) => Error::from_parts(format!("{op}: {}", crate::error::errno_text(n)), Some(n), None),
        None => Error::msg(format!("{op}: {e}")),
    }
}

impl<R: Read> Reader<R> {
    /// A reader at the start of an archive.
    pub fn new(src: R) -> Self {
        Reader { src, offset: 0, remaining: 0, padding: 0, global: Pax::default(), done: false }
    }

    /// The stream, positioned after what was read (after the end-of-archive block at the end).
    pub fn into_inner(self) -> R {
        self.src
    }

    /// Bytes of the archive consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.src.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error("read", &e)),
            }
        }
        self.offset += n as u64;
        Ok(n)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        if self.fill(buf)? != buf.len() {
            return Err(Error::msg(format!("offset {}: unexpected end of archive", self.offset)));
        }
        Ok(())
    }

    fn skip(&mut self, mut n: u64) -> Result<()> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            self.read_exact(&mut buf[..k])?;
            n -= k as u64;
        }
        Ok(())
    }

    /// The next entry (skipping what is left of the current one's data), or None at the end
    /// of the archive: a zero block, or the end of the stream at a header boundary.
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        if self.done {
            return Ok(None);
        }
        let left = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip(left)?;
        let mut local = Pax::default();
        let (mut long_name, mut long_link): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
        let mut extended = false;
        loop {
            let at = self.offset;
            let mut block = [0u8; BLOCK];
            let n = self.fill(&mut block)?;
            if n == 0 || header::is_zero(&block) {
                if n != 0 && n != BLOCK {
                    return Err(Error::msg(format!("offset {}: unexpected end of archive", self.offset)));
                }
                self.done = true;
                if extended {
                    return Err(Error::msg(format!("offset {at}: extended header without an entry")));
                }
                return Ok(None);
            }
            if n != BLOCK {
                return Err(Error::msg(format!("offset {}: unexpected end of archive", self.offset)));
            }
            let h = header::parse(&block).map_err(|e| Error::msg(format!("offset {at}: {e}")))?;
            if h.kind == Kind::GnuVolume {
                self.skip(h.size + header::padding(h.size))?;
                continue;
            }
            if h.kind.is_extension() {
                extended = true;
                if h.size > MAX_EXTENSION {
                    return Err(Error::msg(format!("offset {at}: extended header of {} bytes: too large", h.size)));
                }
                let mut data = vec![0u8; h.size as usize];
                self.read_exact(&mut data)?;
                self.skip(header::padding(h.size))?;
                let bad = |e: String| Error::msg(format!("offset {at}: {e}"));
                match h.kind {
                    Kind::PaxLocal => pax::parse(&data, &mut local).map_err(bad)?,
                    Kind::PaxGlobal => pax::parse(&data, &mut self.global).map_err(bad)?,
                    Kind::GnuLongName => long_name = Some(header::text(&data).to_vec()),
                    _ => long_link = Some(header::text(&data).to_vec()),
                }
                continue;
            }
            return self.finish_entry(h, local, long_name, long_link, at).map(Some);
        }
    }

    fn finish_entry(
        &mut self,
        h: Header,
        local: Pax,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
        at: u64,
    ) -> Result<Entry> {
        let g = &self.global;
        let name = local.path.clone().or(long_name).unwrap_or(h.name);
        let size = local.size.or(g.size).unwrap_or(h.size);
        // The data follows whatever the kind is (a hard link's is normally empty).
        self.remaining = size;
        self.padding = header::padding(size);
        let fail = |what: String| Error::msg(format!("offset {at}: entry {}: {what}", quote(&name)));
        match h.kind {
            Kind::GnuSparse => return Err(fail("GNU sparse file: not supported".into())),
            Kind::Other(b) => {
                return Err(fail(format!("entry type {:?}: not supported", char::from(b))));
            }
            _ => {}
        }
        if local.sparse || g.sparse {
            return Err(fail("GNU sparse file: not supported".into()));
        }
        let mut xattrs = g.xattrs.clone();
        for (n, v) in local.xattrs {
            xattrs.retain(|(m, _)| *m != n);
            xattrs.push((n, v));
        }
        let mut unresolved_acls = 0;
        for (key, text) in
            [("system.posix_acl_access", &local.acl_access), ("system.posix_acl_default", &local.acl_default)]
        {
            let Some(text) =
                text.as_ref().or(if key.ends_with("access") { g.acl_access.as_ref() } else { g.acl_default.as_ref() })
            else {
                continue;
            };
            if xattrs.iter().any(|(n, _)| n == key.as_bytes()) {
                continue;
            }
            match pax::acl_from_text(text) {
                Some(v) => xattrs.push((key.as_bytes().to_vec(), v)),
                None => unresolved_acls += 1,
            }
        }
        Ok(Entry {
            kind: h.kind,
            mode: h.mode,
            uid: local.uid.or(g.uid).unwrap_or(h.uid),
            gid: local.gid.or(g.gid).unwrap_or(h.gid),
            size,
            mtime: local.mtime.or(g.mtime).unwrap_or(Time { sec: h.mtime, nsec: 0 }),
            link: local.link.or(long_link).unwrap_or(h.link),
            dev_major: h.dev_major,
            dev_minor: h.dev_minor,
            xattrs,
            unresolved_acls,
            name,
        })
    }

    /// Reads the current entry's data; 0 at its end.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.fill(&mut buf[..want])?;
        if n == 0 {
            return Err(Error::msg(format!("offset {}: unexpected end of archive", self.offset)));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A raw header block: name, typeflag, size, link (fields a test wants; the rest zero).
    pub fn block(name: &[u8], kind: Kind, size: u64, link: &[u8]) -> [u8; BLOCK] {
        header::encode(&Header {
            name: name.to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 1_700_000_000,
            kind,
            link: link.to_vec(),
            dev_major: 0,
            dev_minor: 0,
        })
    }

    /// Appends an entry with `data` (padded) to `out`.
    pub fn push(out: &mut Vec<u8>, name: &[u8], kind: Kind, data: &[u8], link: &[u8]) {
        out.extend_from_slice(&block(name, kind, data.len() as u64, link));
        out.extend_from_slice(data);
        out.resize(out.len() + header::padding(data.len() as u64) as usize, 0);
    }

    fn entries(data: &[u8]) -> Result<Vec<(Entry, Vec<u8>)>> {
        let mut r = Reader::new(data);
        let mut out = Vec::new();
        while let Some(e) = r.next_entry()? {
            let mut content = Vec::new();
            let mut buf = [0u8; 7];
            loop {
                let n = r.read_data(&mut buf)?;
                if n == 0 {
                    break;
                }
                content.extend_from_slice(&buf[..n]);
            }
            out.push((e, content));
        }
        Ok(out)
    }

    #[test]
    fn plain_entries_and_end() {
        let mut t = Vec::new();
        push(&mut t, b"a", Kind::File, b"hello world", b"");
        push(&mut t, b"d/", Kind::Dir, b"", b"");
        push(&mut t, b"l", Kind::Symlink, b"", b"/etc/passwd");
        t.extend_from_slice(&[0u8; 1024]);
        t.extend_from_slice(b"trailing garbage after the end is never read");
        let got = entries(&t).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].0.name.as_slice(), got[0].1.as_slice()), (&b"a"[..], &b"hello world"[..]));
        assert_eq!(got[1].0.kind, Kind::Dir);
        assert_eq!(got[2].0.link, b"/etc/passwd");
    }

    #[test]
    fn data_left_unread_is_skipped() {
        let mut t = Vec::new();
        push(&mut t, b"a", Kind::File, &[7u8; 1500], b"");
        push(&mut t, b"b", Kind::File, b"x", b"");
        let mut r = Reader::new(&t[..]);
        assert_eq!(r.next_entry().unwrap().unwrap().name, b"a");
        assert_eq!(r.next_entry().unwrap().unwrap().name, b"b");
        assert_eq!(r.next_entry().unwrap(), None);
    }

    #[test]
    fn gnu_long_names_and_links() {
        let long = [b"d/".repeat(80), b"file".to_vec()].concat();
        let target = b"t/".repeat(70);
        let mut t = Vec::new();
        push(&mut t, b"././@LongLink", Kind::GnuLongName, &[&long[..], b"\0"].concat(), b"");
        push(&mut t, b"././@LongLink", Kind::GnuLongLink, &[&target[..], b"\0"].concat(), b"");
        push(&mut t, &long[..100], Kind::Symlink, b"", &target[..100]);
        let got = entries(&t).unwrap();
        assert_eq!(got[0].0.name, long);
        assert_eq!(got[0].0.link, target);
    }

    #[test]
    fn pax_overrides_and_globals() {
        let mut x = Vec::new();
        pax::record(&mut x, b"path", b"the/real/name");
        pax::record(&mut x, b"mtime", b"1700000000.25");
        pax::record(&mut x, b"uid", b"3000000");
        pax::record(&mut x, b"SCHILY.xattr.user.a", b"local");
        let mut g = Vec::new();
        pax::record(&mut g, b"SCHILY.xattr.user.a", b"global");
        pax::record(&mut g, b"SCHILY.xattr.user.b", b"global");
        pax::record(&mut g, b"gid", b"77");
        pax::record(&mut g, b"comment", b"git archive puts a commit id here");
        let mut t = Vec::new();
        push(&mut t, b"pax_global_header", Kind::PaxGlobal, &g, b"");
        push(&mut t, b"PaxHeaders/x", Kind::PaxLocal, &x, b"");
        push(&mut t, b"short", Kind::File, b"data", b"");
        push(&mut t, b"second", Kind::File, b"", b"");
        let got = entries(&t).unwrap();
        let e = &got[0].0;
        assert_eq!(e.name, b"the/real/name");
        assert_eq!(e.mtime, Time { sec: 1_700_000_000, nsec: 250_000_000 });
        assert_eq!((e.uid, e.gid), (3_000_000, 77));
        assert_eq!(e.xattrs, vec![(b"user.b".to_vec(), b"global".to_vec()), (b"user.a".to_vec(), b"local".to_vec())]);
        assert_eq!(got[0].1, b"data");
        // Local records apply to one entry; global ones to all that follow.
        let e = &got[1].0;
        assert_eq!((e.name.as_slice(), e.uid, e.gid), (&b"second"[..], 0, 77));
        assert_eq!(e.mtime, Time { sec: 1_700_000_000, nsec: 0 });
    }

    #[test]
    fn pax_size_overrides_the_header() {
        let mut x = Vec::new();
        pax::record(&mut x, b"size", b"3");
        let mut t = Vec::new();
        push(&mut t, b"PaxHeaders/f", Kind::PaxLocal, &x, b"");
        t.extend_from_slice(&block(b"f", Kind::File, 0, b""));
        t.extend_from_slice(b"abc");
        t.resize(t.len() + 509, 0);
        assert_eq!(entries(&t).unwrap()[0].1, b"abc");
    }

    #[test]
    fn text_acl_becomes_an_xattr_unless_the_xattr_came() {
        let mut x = Vec::new();
        pax::record(&mut x, b"SCHILY.acl.access", b"user::rw-\nuser:7:r--\ngroup::r--\nmask::r--\nother::r--\n");
        pax::record(&mut x, b"SCHILY.acl.default", b"user::rwx\nuser:joe:r--\ngroup::r--\nother::r--\n");
        let mut t = Vec::new();
        push(&mut t, b"PaxHeaders/f", Kind::PaxLocal, &x, b"");
        push(&mut t, b"f", Kind::File, b"", b"");
        let e = &entries(&t).unwrap()[0].0;
        assert_eq!(e.xattrs.len(), 1);
        assert_eq!(e.xattrs[0].0, b"system.posix_acl_access");
        assert_eq!(e.unresolved_acls, 1);
    }

    #[test]
    fn refusals_name_the_offset_and_entry() {
        let table: Vec<(Vec<u8>, &str)> = vec![
            (block(b"s", Kind::GnuSparse, 0, b"").to_vec(), "offset 0: entry \"s\": GNU sparse file: not supported"),
            (block(b"q", Kind::Other(b'Q'), 0, b"").to_vec(), "offset 0: entry \"q\": entry type 'Q': not supported"),
            (block(b"f", Kind::File, 10, b"").to_vec(), "offset 512: unexpected end of archive"),
            (block(b"f", Kind::File, 0, b"")[..100].to_vec(), "offset 100: unexpected end of archive"),
            (
                block(b"L", Kind::GnuLongName, MAX_EXTENSION + 1, b"").to_vec(),
                "offset 0: extended header of 4194305 bytes: too large",
            ),
            (
                [block(b"L", Kind::GnuLongName, 1, b"").to_vec(), vec![b'x'; 512], vec![0; 1024]].concat(),
                "offset 1024: extended header without an entry",
            ),
            ([vec![0u8; 512], b"junk".to_vec()].concat(), ""),
        ];
        for (data, want) in table {
            let mut r = Reader::new(&data[..]);
            let got = (|| -> Result<()> {
                while r.next_entry()?.is_some() {
                    let mut buf = [0u8; 64];
                    while r.read_data(&mut buf)? > 0 {}
                }
                Ok(())
            })();
            match got {
                Ok(()) => assert_eq!(want, "", "accepted"),
                Err(e) => assert_eq!(e.to_string(), want),
            }
        }
        let mut bad = block(b"f", Kind::File, 0, b"");
        bad[0] = b'g';
        let e = entries(&bad).unwrap_err().to_string();
        assert!(e.starts_with("offset 0: bad header checksum"), "{e}");
    }
}
