//! The one error type: a message built where the operation failed, printed once by `main`.
//!
//! Messages read `<operation> <object>: <errno text>` (see STYLE.md); context is prepended on
//! the way up (`--bind=/a:/b: bind /a on /b: no such file or directory`).

use rustix::io::Errno;
use std::fmt;
use std::path::Path;

/// A spawnbox error: one line of text, plus the errno when a syscall caused it, and a hint
/// (what the user may do about it) printed on a line of its own. The hint is kept in the text
/// after [`HINT`]: the error stays two words wide, as every `Result` of the launcher carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    errno: Option<i32>,
}

/// What separates the message from its hint in the text.
const HINT: &str = "\nhint: ";

/// Result alias used across the launcher.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with a message and no errno.
    pub fn msg(message: impl Into<String>) -> Self {
        Error { message: message.into(), errno: None }
    }

    /// An error rebuilt from its parts (sent over the child channel, or from netsetup).
    pub fn from_parts(message: impl Into<String>, errno: Option<i32>, hint: Option<String>) -> Self {
        let e = Error { message: message.into(), errno };
        match hint {
            Some(h) => e.hint(h),
            None => e,
        }
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

    /// Adds a hint: `hint: TEXT` on the line after the message (replacing an earlier one).
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        let end = self.message.find(HINT).unwrap_or(self.message.len());
        self.message.truncate(end);
        self.message.push_str(HINT);
        self.message.push_str(&hint.into());
        self
    }

    /// The errno behind this error, if a syscall caused it.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

    /// The message without the hint.
    pub fn message(&self) -> &str {
        self.message.split_once(HINT).map_or(&self.message, |(m, _)| m)
    }

    /// The hint, if any.
    pub fn hint_text(&self) -> Option<&str> {
        self.message.split_once(HINT).map(|(_, h)| h)
    }
}

impl From<netsetup::Error> for Error {
    /// netsetup's message already names the operation and the object; its errno is kept.
    fn from(e: netsetup::Error) -> Self {
        Error::from_parts(e.message(), e.errno(), None)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// [`Error::path`] for a std I/O error: its errno (EIO if it has none).
pub fn io_error(op: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::path(op, path, io_errno(e))
}

/// The errno of a std I/O error, EIO if it has none.
pub fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_io_error(e).unwrap_or(Errno::IO)
}

/// Lowercase errno text as glibc words it, without "(os error N)", the same whatever libc the
/// binary is linked with (tests assert exact strings). One table for the whole project: netsetup's.
pub fn errno_text(errno: i32) -> String {
    netsetup::errno_text(errno)
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
