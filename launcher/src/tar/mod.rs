//! The tarball engine behind `spawnctl import-tar`/`export-tar` (and `import-oci`'s layers):
//! reading (`header.rs`, `pax.rs`, `reader.rs`), containment rules (`path.rs`), extraction
//! (`extract.rs`), creation (`create.rs`) and compression (`compress.rs`, `gzip.rs`). docs/IMAGES.md
//! ("Tarballs") has the formats and the rules for the user.
//!
//! ```ignore
//! let stats = tar::import(Path::new("debian.tar.xz"), machines_dir.as_fd(), "debian",
//!                         &ImportOptions::default(), &mut |p| bar.draw(p.done, p.total))?;
//! tar::export(Path::new("/var/lib/machines/debian"), Path::new("debian.tar.zst"),
//!             &ExportOptions::default(), &mut |p| bar.draw(p.done, p.total))?;
//! ```

pub mod compress;
mod create;
mod extract;
mod gzip;
pub mod header;
pub mod path;
pub mod pax;
pub mod reader;

pub use compress::{Codec, Encoder};
pub use extract::{remove_tree, ImportOptions};
pub use reader::{Entry, Reader};

use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{self, AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use std::cell::Cell;
use std::ffi::CString;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::rc::Rc;

/// What an import or export did, for the verb's summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Archive members (extension headers not counted).
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    /// Character and block devices.
    pub devices: u64,
    pub fifos: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Extended attributes written (import) or archived (export).
    pub xattrs: u64,
    /// Extended attributes the destination file system refused as unsupported (import).
    pub skipped_xattrs: u64,
    /// Text ACLs naming users or groups instead of ids: not applied (import).
    pub unresolved_acls: u64,
    /// OCI whiteouts applied (import with `oci_layer`).
    pub whiteouts: u64,
    /// Sockets, which tar does not archive (export).
    pub skipped: u64,
    /// The archive listed the root directory (`./`), whose owner, mode and mtime were kept.
    pub root_entry: bool,
}

/// How far an import or export is: bytes of the archive file read (import) or of file content
/// written (export), out of the total when it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: Option<u64>,
}

/// How to export.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Replace an existing output file (otherwise it is an error).
    pub force: bool,
}

/// `<op>: <errno text>`, for operations whose object the caller names in context.
pub(crate) fn op_error(op: &str, e: Errno) -> Error {
    Error::from_parts(format!("{op}: {}", crate::error::errno_text(e.raw_os_error())), Some(e.raw_os_error()), None)
}

/// Calls `progress` when at least this many bytes went by since the last call.
const PROGRESS_STEP: u64 = 256 << 10;
/// Buffer between the archive file and the decompressor.
const READ_BUF: usize = 256 << 10;

/// Counts the bytes read through it into a shared cell.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Decompresses (format detected by magic) and extracts `src` into the existing directory
/// `root`; `progress` sees bytes of `src` read against `total`. For OCI layers: call once per
/// layer on the same directory with `oci_layer` set.
pub fn extract_into(
    src: &mut dyn Read,
    total: Option<u64>,
    root: BorrowedFd<'_>,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Stats> {
    let count = Rc::new(Cell::new(0u64));
    let mut buffered = BufReader::with_capacity(READ_BUF, Counting { inner: src, count: count.clone() });
    let head = buffered.fill_buf().map_err(|e| reader::io_error("read", &e))?;
    let codec = Codec::detect(head)?;
    let mut tar = Reader::new(compress::decoder(codec, Box::new(buffered)));
    let mut last = 0u64;
    let mut tick = || {
        let done = count.get();
        if done - last >= PROGRESS_STEP {
            last = done;
            progress(Progress { done, total });
        }
    };
    let stats = extract::extract(&mut tar, root, opts, &mut tick)?;
    // Read what follows the end-of-archive blocks (GNU tar pads to 10 KiB): the
    // decompressor checks the stream's checksum only at its end. Bounded: trailing junk
    // after a plain tar is not read to its end.
    let mut rest = tar.into_inner().take(64 << 20);
    std::io::copy(&mut rest, &mut std::io::sink())
        .map_err(|e| reader::io_error(&format!("{} stream after the archive", codec.name()), &e))?;
    progress(Progress { done: count.get(), total });
    Ok(stats)
}

/// Checks an image name: one path component, not `.`/`..`, no NUL, not hidden.
fn check_name(name: &str) -> Result<CString> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.starts_with('.') {
        return Err(Error::msg(format!("invalid image name {name:?}")));
    }
    CString::new(name).map_err(|_| Error::msg(format!("invalid image name {name:?}")))
}

/// Imports the tarball `src` as image `name` in the directory `dest_parent`: extracted into
/// `.#NAME.XXXXXX` next to it (mode 0700 while it fills), renamed into place only when
/// complete; on any error the temporary tree is removed and nothing else changed. Errors
/// read `SRC: entry "NAME": ...`.
pub fn import(
    src: &Path,
    dest_parent: BorrowedFd<'_>,
    name: &str,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Stats> {
    let file = std::fs::File::open(src).map_err(|e| reader::io_error("open", &e).context(src.display()))?;
    let total = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    import_reader(&mut { file }, total, dest_parent, name, opts, progress).map_err(|e| e.context(src.display()))
}

/// [`import`] from a stream (`import-tar -`); `total` is its size if known.
pub fn import_reader(
    src: &mut dyn Read,
    total: Option<u64>,
    dest_parent: BorrowedFd<'_>,
    name: &str,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Stats> {
    let cname = check_name(name)?;
    match fs::statat(dest_parent, cname.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => {}
        Ok(_) => return Err(Error::msg(format!("image {name:?} exists"))),
        Err(e) => return Err(Error::sys("stat", format!("{name:?}"), e)),
    }
    let (tmp, dir) = make_temp_dir(dest_parent, name)?;
    let result = (|| {
        let stats = extract_into(src, total, dir.as_fd(), opts, progress)?;
        if !stats.root_entry {
            fs::fchmod(&dir, Mode::from_raw_mode(0o755)).map_err(|e| op_error("change mode of the image's root", e))?;
        }
        fs::renameat_with(dest_parent, tmp.as_c_str(), dest_parent, cname.as_c_str(), RenameFlags::NOREPLACE).map_err(
            |e| {
                if e == Errno::EXIST {
                    Error::msg(format!("image {name:?} exists"))
                } else {
                    Error::sys("rename to", format!("{name:?}"), e)
                }
            },
        )?;
        Ok(stats)
    })();
    if result.is_err() {
        let _ = remove_tree(dest_parent, &tmp, 0);
    }
    result
}

/// Makes `.#NAME.XXXXXX` (mode 0700) in `parent`; its name and an open handle.
fn make_temp_dir(parent: BorrowedFd<'_>, name: &str) -> Result<(CString, rustix::fd::OwnedFd)> {
    for _ in 0..16 {
        let tmp = crate::template::random_temp_name(std::ffi::OsStr::new(name))?;
        let tmp = CString::new(std::os::unix::ffi::OsStringExt::into_vec(tmp))
            .map_err(|_| Error::msg("invalid image name"))?;
        match fs::mkdirat(parent, tmp.as_c_str(), Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(Error::sys("create", format!("{:?}", tmp), e)),
        }
        let fd = fs::openat(
            parent,
            tmp.as_c_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::sys("open", format!("{:?}", tmp), e))?;
        return Ok((tmp, fd));
    }
    Err(Error::msg("create a temporary directory: too many collisions"))
}

/// Exports the tree `src_dir` as the tarball `out`, compressed as its suffix says
/// ([`Codec::from_suffix`]). The file is removed again on any error.
pub fn export(src_dir: &Path, out: &Path, opts: &ExportOptions, progress: &mut dyn FnMut(Progress)) -> Result<Stats> {
    let codec = Codec::from_suffix(out)?;
    // Refused before the file is made.
    drop(Encoder::new(codec, std::io::sink()).map_err(|e| e.context(out.display()))?);
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if opts.force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    let file = o.open(out).map_err(|e| reader::io_error("create", &e).context(out.display()))?;
    let result = export_writer(src_dir, file, codec, progress).and_then(|(stats, file)| {
        file.sync_all().map_err(|e| reader::io_error("sync", &e).context(out.display()))?;
        Ok(stats)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(out);
    }
    result
}

/// [`export`] into a stream (`export-tar NAME -`) compressed with `codec`; the stream back.
pub fn export_writer<W: Write>(
    src_dir: &Path,
    out: W,
    codec: Codec,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Stats, W)> {
    let root = fs::open(src_dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open", src_dir, e))?;
    let mut enc = Encoder::new(codec, BufWriter::with_capacity(READ_BUF, out))?;
    let mut last = 0u64;
    let stats = create::create(root.as_fd(), &mut enc, &mut |done, total| {
        if done - last >= PROGRESS_STEP || done == total {
            last = done;
            progress(Progress { done, total: Some(total) });
        }
    })
    .map_err(|e| e.context(src_dir.display()))?;
    let w = enc.finish().map_err(|e| reader::io_error("write", &e))?;
    let w = w.into_inner().map_err(|e| reader::io_error("write", e.error()))?;
    Ok((stats, w))
}

#[cfg(test)]
mod tests;
