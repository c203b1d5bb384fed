//! Where an image's files come from: a layout directory, or an archive of one (`podman save
//! --format oci-archive`, `docker save`). A directory's files are opened beneath it
//! (openat2 `RESOLVE_BENEATH`: no `..`, absolute path or symlink leads out of it) and must be
//! regular files. An archive is indexed once with the tar engine's reader, then each member
//! is read in place; a compressed archive (`docker save | gzip`) is first decompressed into an
//! unnamed temporary file, since members are read in manifest order, not archive order.
//! Member names are normalised as the tar engine's containment rules say (`./a//b` is
//! `a/b`); symlinks and hard links between members are followed inside the archive only.

use crate::error::io_error;
use crate::error::{Error, Result};
use crate::tar;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// An archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    File {
        offset: u64,
        size: u64,
    },
    /// A symlink's target, resolved against its directory (normalised; `None` if it leads out).
    Symlink(Option<String>),
    /// A hard link's target member.
    HardLink(String),
    Other,
}

/// The image's files.
pub struct Source {
    path: PathBuf,
    inner: Inner,
}

enum Inner {
    Dir(OwnedFd),
    Archive { file: File, members: HashMap<String, Member> },
}

/// Symlinks followed in a row inside an archive before giving up (the kernel's limit).
const MAX_LINKS: usize = 40;

/// `name` as a member path: components joined by `/`, or `None` for names the tar engine
/// refuses (`..`, NUL, empty).
fn normalise(name: &[u8]) -> Option<String> {
    let comps = tar::path::components(name).ok()?;
    let parts: Vec<&str> = comps.iter().map(|c| std::str::from_utf8(c).ok()).collect::<Option<_>>()?;
    Some(parts.join("/"))
}

/// A symlink target resolved against the link's directory, lexically; `None` if it leaves
/// the archive's root.
fn resolve_link(link_name: &str, target: &[u8]) -> Option<String> {
    let target = std::str::from_utf8(target).ok()?;
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut p: Vec<&str> = link_name.split('/').collect();
        p.pop();
        p
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Reads `[offset, offset + size)` of a file with pread: no shared file position.
struct Slice<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Source {
    /// Opens `path`: a directory is a layout, a file an archive; `scratch` is a directory on
    /// a file system with room for a decompressed archive (the image's destination), and
    /// `check` is asked every MiB of decompression whether to stop (with its error).
    pub fn open(path: &Path, scratch: BorrowedFd<'_>, check: &dyn Fn() -> Result<()>) -> Result<Source> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| Error::path("open", path, e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat", path, e))?;
        match rustix::fs::FileType::from_raw_mode(st.st_mode) {
            rustix::fs::FileType::Directory => Ok(Source { path: path.to_path_buf(), inner: Inner::Dir(fd) }),
            rustix::fs::FileType::RegularFile => Self::archive(File::from(fd), path, scratch, check),
            _ => Err(Error::msg(format!("{}: neither a directory nor a regular file", path.display()))),
        }
    }

    fn archive(file: File, path: &Path, scratch: BorrowedFd<'_>, check: &dyn Fn() -> Result<()>) -> Result<Source> {
        let mut head = [0u8; 8];
        let n = file.read_at(&mut head, 0).map_err(|e| io_error("read", path, &e))?;
        let codec = tar::Codec::detect(&head[..n]).map_err(|e| e.context(path.display()))?;
        let file = if codec == tar::Codec::None { file } else { Self::decompress(file, codec, path, scratch, check)? };
        let members = Self::index(&file).map_err(|e| e.context(path.display()))?;
        Ok(Source { path: path.to_path_buf(), inner: Inner::Archive { file, members } })
    }

    /// The archive decompressed into an unnamed file in `scratch` (gone when closed).
    fn decompress(
        file: File,
        codec: tar::Codec,
        path: &Path,
        scratch: BorrowedFd<'_>,
        check: &dyn Fn() -> Result<()>,
    ) -> Result<File> {
        use std::io::Write;
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        let tmp = rustix::fs::openat(scratch, ".", flags, Mode::from_raw_mode(0o600))
            .map_err(|e| Error::sys("create", "a temporary file for the decompressed archive", e))?;
        let mut out = File::from(tmp);
        let mut dec = tar::compress::decoder(codec, Box::new(BufReader::with_capacity(256 << 10, file)));
        let what = || format!("decompress ({})", codec.name());
        let mut buf = vec![0u8; 1 << 20];
        loop {
            check()?;
            let n = match dec.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(tar::reader::io_error(&what(), &e).context(path.display())),
            };
            out.write_all(&buf[..n]).map_err(|e| tar::reader::io_error("write the decompressed archive", &e))?;
        }
    }

    /// Every member of an uncompressed archive, by normalised name (the last one of a name
    /// wins, as when extracting).
    fn index(file: &File) -> Result<HashMap<String, Member>> {
        // pread from offset 0: a decompressed file's position is at its end.
        let len = file.metadata().map(|m| m.len()).map_err(|e| tar::reader::io_error("stat", &e))?;
        let mut reader = tar::Reader::new(BufReader::with_capacity(64 << 10, Slice { file, pos: 0, end: len }));
        let mut members = HashMap::new();
        while let Some(e) = reader.next_entry()? {
            let Some(name) = normalise(&e.name) else { continue };
            let member = match e.kind {
                tar::header::Kind::File => Member::File { offset: reader.offset(), size: e.size },
                tar::header::Kind::Symlink => Member::Symlink(resolve_link(&name, &e.link)),
                tar::header::Kind::HardLink => match normalise(&e.link) {
                    Some(t) => Member::HardLink(t),
                    None => Member::Other,
                },
                _ => Member::Other,
            };
            members.insert(name, member);
        }
        Ok(members)
    }

    /// The source's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `name` (a plain relative path) is there.
    pub fn has(&self, name: &str) -> bool {
        self.member(name).is_ok()
    }

    /// A reader of the regular file `name` and its size.
    pub fn member(&self, name: &str) -> Result<(Box<dyn Read + '_>, u64)> {
        let shown = || self.path().join(name);
        match &self.inner {
            Inner::Dir(fd) => {
                let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
                let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
                let f = crate::rootfs::openat2_retry(fd.as_fd(), Path::new(name), flags, Mode::empty(), resolve)
                    .map_err(|e| Error::path("open", &shown(), e))?;
                let st = rustix::fs::fstat(&f).map_err(|e| Error::path("stat", &shown(), e))?;
                if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
                    return Err(Error::msg(format!("{}: not a regular file", shown().display())));
                }
                Ok((Box::new(File::from(f)), st.st_size as u64))
            }
            Inner::Archive { file, members } => {
                let mut at = name.to_string();
                for _ in 0..MAX_LINKS {
                    let m =
                        members.get(&at).ok_or_else(|| Error::msg(format!("no member {}", crate::json::quote(&at))))?;
                    match m {
                        Member::File { offset, size } => {
                            return Ok((Box::new(Slice { file, pos: *offset, end: offset + size }), *size))
                        }
                        Member::HardLink(t) => at = t.clone(),
                        Member::Symlink(Some(t)) => at = t.clone(),
                        Member::Symlink(None) => {
                            return Err(Error::msg(format!(
                                "member {}: a symlink out of the archive",
                                crate::json::quote(&at)
                            )))
                        }
                        Member::Other => {
                            return Err(Error::msg(format!("member {}: not a regular file", crate::json::quote(&at))))
                        }
                    }
                }
                Err(Error::msg(format!(
                    "{}: member {}: too many links",
                    self.path().display(),
                    crate::json::quote(name)
                )))
            }
        }
    }

    /// The whole of a small file: at most `max` bytes, else an error.
    pub fn read_small(&self, name: &str, max: u64) -> Result<Vec<u8>> {
        let (r, size) = self.member(name)?;
        if size > max {
            return Err(Error::msg(format!("{}: {size} bytes, more than {max}", self.path().join(name).display())));
        }
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        r.take(max + 1).read_to_end(&mut buf).map_err(|e| io_error("read", &self.path().join(name), &e))?;
        if buf.len() as u64 > max {
            return Err(Error::msg(format!("{}: more than {max} bytes", self.path().join(name).display())));
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_links() {
        assert_eq!(normalise(b"./blobs//sha256/ab").as_deref(), Some("blobs/sha256/ab"));
        assert_eq!(normalise(b"/index.json").as_deref(), Some("index.json"));
        assert_eq!(normalise(b"a/../b"), None);
        // docker-archive's `<id>/layer.tar -> ../<hex>.tar` (podman).
        assert_eq!(resolve_link("abc/layer.tar", b"../def.tar").as_deref(), Some("def.tar"));
        assert_eq!(resolve_link("a/b/c", b"../../x/./y").as_deref(), Some("x/y"));
        assert_eq!(resolve_link("a/b", b"/etc/x").as_deref(), Some("etc/x"));
        assert_eq!(resolve_link("layer.tar", b"../../etc/shadow"), None);
        assert_eq!(resolve_link("a/layer.tar", b"../../etc/shadow"), None);
    }
}
