//! The one error type: a message built where the operation failed, printed once by `main`.
//!
//! Messages read `<operation> <object>: <errno text>` (see STYLE.md); context is prepended on
//! the way up (`--bind=/a:/b: bind /a on /b: no such file or directory`).

use rustix::io::Errno;
use std::fmt;
use std::path::Path;

/// A spawnbox error: one line of text, plus the errno when a syscall caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    errno: Option<i32>,
}

/// Result alias used across the launcher.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with a message and no errno.
    pub fn msg(message: impl Into<String>) -> Self {
        Error { message: message.into(), errno: None }
    }

    /// `<op> <object>: <errno text>`, e.g. `mount proc on /x/proc: permission denied`.
    pub fn sys(op: &str, object: impl fmt::Display, errno: Errno) -> Self {
        Error {
            message: format!("{op} {object}: {}", errno_text(errno.raw_os_error())),
            errno: Some(errno.raw_os_error()),
        }
    }

    /// Like [`Error::sys`] with a path as the object.
    pub fn path(op: &str, path: &Path, errno: Errno) -> Self {
        Self::sys(op, path.display(), errno)
    }

    /// Prepends context: `ctx: message`.
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }

    /// The errno behind this error, if a syscall caused it.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}


/// Lowercase errno text as glibc words it, without "(os error N)", the same whatever libc the
/// binary is linked with (tests assert exact strings).
pub fn errno_text(errno: i32) -> String {
    let text = match errno {
        1 => "operation not permitted",
        2 => "no such file or directory",
        3 => "no such process",
        4 => "interrupted system call",
        5 => "input/output error",
        6 => "no such device or address",
        7 => "argument list too long",
        8 => "exec format error",
        9 => "bad file descriptor",
        10 => "no child processes",
        11 => "resource temporarily unavailable",
        12 => "cannot allocate memory",
        13 => "permission denied",
        14 => "bad address",
        15 => "block device required",
        16 => "device or resource busy",
        17 => "file exists",
        18 => "invalid cross-device link",
        19 => "no such device",
        20 => "not a directory",
        21 => "is a directory",
        22 => "invalid argument",
        23 => "too many open files in system",
        24 => "too many open files",
        25 => "inappropriate ioctl for device",
        26 => "text file busy",
        27 => "file too large",
        28 => "no space left on device",
        29 => "illegal seek",
        30 => "read-only file system",
        31 => "too many links",
        32 => "broken pipe",
        34 => "numerical result out of range",
        36 => "file name too long",
        38 => "function not implemented",
        39 => "directory not empty",
        40 => "too many levels of symbolic links",
        61 => "no data available",
        75 => "value too large for defined data type",
        95 => "operation not supported",
        97 => "address family not supported by protocol",
        98 => "address already in use",
        105 => "no buffer space available",
        110 => "connection timed out",
        111 => "connection refused",
        122 => "disk quota exceeded",
        _ => return format!("errno {errno}"),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_error_reads_op_object_errno() {
        let e = Error::path("mount proc on", Path::new("/x/proc"), Errno::ACCESS);
        assert_eq!(e.to_string(), "mount proc on /x/proc: permission denied");
        assert_eq!(e.errno(), Some(13));
    }

    #[test]
    fn context_prepends() {
        let e = Error::path("bind /a on", Path::new("/r/b"), Errno::NOENT).context("--bind=/a:/b");
        assert_eq!(e.to_string(), "--bind=/a:/b: bind /a on /r/b: no such file or directory");
    }

    #[test]
    fn unknown_errno_is_numbered() {
        assert_eq!(errno_text(4095), "errno 4095");
    }
}
