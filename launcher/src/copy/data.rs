//! A regular file's data: a reflink (FICLONE) where the file system shares extents, else the
//! data segments alone (SEEK_DATA/SEEK_HOLE, so holes stay holes) with copy_file_range(2),
//! else read/write.
//!
//! copy_file_range alone does not keep holes: on ext4 (measured, kernel 6.18) it writes a
//! 1 GiB file with one data block as 1 GiB of zeros.

use rustix::fd::BorrowedFd;
use rustix::fs::SeekFrom;
use rustix::io::Errno;

/// The largest piece copied between two checks for an interruption.
const CHUNK: usize = 16 << 20;
/// The read/write buffer.
const BUFFER: usize = 256 << 10;

/// A failed step: the operation's name and the errno.
pub(super) type Failed = (&'static str, Errno);

/// Copies file data; remembers for the rest of the copy what the file systems cannot do.
pub(super) struct DataCopier {
    reflink: bool,
    copy_range: bool,
    buf: Vec<u8>,
}

impl DataCopier {
    /// `reflink`: try FICLONE first.
    pub fn new(reflink: bool) -> Self {
        DataCopier { reflink, copy_range: true, buf: Vec::new() }
    }

    /// Copies `size` bytes of `src` into the empty file `dst`; true if it was a reflink.
    pub fn copy(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        size: u64,
        stop: &dyn Fn() -> bool,
    ) -> Result<bool, Failed> {
        if size == 0 {
            return Ok(false);
        }
        if self.reflink {
            match rustix::fs::ioctl_ficlone(dst, src) {
                Ok(()) => return Ok(true),
                // Not this file system (or not across these two): never again in this copy.
                Err(Errno::OPNOTSUPP | Errno::XDEV | Errno::NOTTY | Errno::NOSYS) => self.reflink = false,
                // This file only (btrfs: a nodatasum file against a checksummed one).
                Err(Errno::INVAL) => {}
                Err(e) => return Err(("clone", e)),
            }
        }
        let mut pos = 0;
        while pos < size {
            let start = match rustix::fs::seek(src, SeekFrom::Data(pos)) {
                Ok(o) => o,
                Err(Errno::NXIO) => break,
                // No hole support: the rest is data.
                Err(Errno::INVAL | Errno::OPNOTSUPP) => pos,
                Err(e) => return Err(("seek", e)),
            };
            if start >= size {
                break;
            }
            let end = match rustix::fs::seek(src, SeekFrom::Hole(start)) {
                Ok(o) => o.min(size),
                Err(Errno::INVAL | Errno::OPNOTSUPP) => size,
                Err(e) => return Err(("seek", e)),
            };
            if !self.range(src, dst, start, end, stop)? {
                break;
            }
            pos = end;
        }
        // A hole at the end has no data segment: the size makes it.
        rustix::fs::ftruncate(dst, size).map_err(|e| ("truncate", e))?;
        Ok(false)
    }

    /// Copies bytes `start..end`; false if the source ended early (it shrank meanwhile).
    fn range(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        start: u64,
        end: u64,
        stop: &dyn Fn() -> bool,
    ) -> Result<bool, Failed> {
        let mut off = start;
        while off < end {
            if stop() {
                return Err(("interrupted", Errno::INTR));
            }
            let len = usize::try_from(end - off).unwrap_or(CHUNK).min(CHUNK);
            if self.copy_range {
                let (mut i, mut o) = (off, off);
                match rustix::fs::copy_file_range(src, Some(&mut i), dst, Some(&mut o), len) {
                    Ok(0) => return Ok(false),
                    Ok(n) => {
                        off += n as u64;
                        continue;
                    }
                    Err(Errno::XDEV | Errno::OPNOTSUPP | Errno::NOSYS) => self.copy_range = false,
                    // Some file systems refuse it for particular files (procfs, FUSE): read them.
                    Err(Errno::INVAL) => {}
                    Err(e) => return Err(("copy", e)),
                }
            }
            if self.buf.is_empty() {
                self.buf = vec![0; BUFFER];
            }
            let want = len.min(self.buf.len());
            let n = rustix::io::pread(src, &mut self.buf[..want], off).map_err(|e| ("read", e))?;
            if n == 0 {
                return Ok(false);
            }
            let mut done = 0;
            while done < n {
                done += rustix::io::pwrite(dst, &self.buf[done..n], off + done as u64).map_err(|e| ("write", e))?;
            }
            off += n as u64;
        }
        Ok(true)
    }
}
