//! Reading a small regular file of the host that a user names (a settings file, a bundle's
//! config.json): opened without blocking (never a FIFO or a device read), checked to be a
//! regular file, and read up to a bound.

use crate::error::{Error, Result};
use rustix::fs::{FileType, Mode, OFlags};
use std::io::Read;
use std::path::Path;

/// The bytes of `path`, a regular file of at most `max` bytes; a larger one is the error
/// `PATH: too_large`.
pub fn read(path: &Path, max: u64, too_large: &str) -> Result<Vec<u8>> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| Error::path("open", path, e))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat", path, e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(Error::msg(format!("{}: not a regular file", path.display())));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::path("read", path, crate::error::io_errno(&e)))?;
    if bytes.len() as u64 > max {
        return Err(Error::msg(format!("{}: {too_large}", path.display())));
    }
    Ok(bytes)
}
