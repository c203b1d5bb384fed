//! The crate's error: one line naming the operation and object, plus the kernel's errno.
//!
//! Messages read `<operation> <object>: <errno text>`, e.g.
//! `create veth ve-foo/host0: file exists` (STYLE.md). The errno text is glibc's wording in
//! lowercase, never "(os error N)", so messages are the same whatever libc spawnbox links.

use std::fmt;

/// A netsetup error: one line of text and, when the kernel refused something, its errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    errno: Option<i32>,
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// `<what>: <errno text>`, e.g. `create veth ve-foo/host0: file exists`.
    pub fn sys(what: impl fmt::Display, errno: i32) -> Self {
        Error { message: format!("{what}: {}", errno_text(errno)), errno: Some(errno) }
    }

    /// `<what>: <detail>` for a problem found in user space (no errno), e.g. a malformed reply.
    pub fn msg(what: impl fmt::Display, detail: &str) -> Self {
        Error { message: format!("{what}: {detail}"), errno: None }
    }

    /// Prepends context: `ctx: message`.
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }

    /// The errno the kernel returned, if the kernel refused the operation.
    pub fn errno(&self) -> Option<i32> {
        self.errno
    }

    /// The message text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Lowercase errno text as glibc words it; unknown numbers read `errno N`.
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
        71 => "protocol error",
        74 => "bad message",
        75 => "value too large for defined data type",
        90 => "message too long",
        93 => "protocol not supported",
        95 => "operation not supported",
        97 => "address family not supported by protocol",
        98 => "address already in use",
        99 => "cannot assign requested address",
        100 => "network is down",
        101 => "network is unreachable",
        105 => "no buffer space available",
        110 => "connection timed out",
        111 => "connection refused",
        113 => "no route to host",
        122 => "disk quota exceeded",
        _ => return format!("errno {errno}"),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_reads_what_and_errno() {
        let e = Error::sys("create veth ve-foo/host0", 17);
        assert_eq!(e.to_string(), "create veth ve-foo/host0: file exists");
        assert_eq!(e.errno(), Some(17));
    }

    #[test]
    fn context_prepends_and_msg_has_no_errno() {
        let e = Error::msg("parse link dump", "truncated attribute").context("--network-veth");
        assert_eq!(e.to_string(), "--network-veth: parse link dump: truncated attribute");
        assert_eq!(e.errno(), None);
    }

    #[test]
    fn errno_texts_match_glibc() {
        assert_eq!(errno_text(19), "no such device");
        assert_eq!(errno_text(1), "operation not permitted");
        assert_eq!(errno_text(95), "operation not supported");
        assert_eq!(errno_text(4095), "errno 4095");
    }
}
