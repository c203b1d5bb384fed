//! Messages on stderr, written with one write(2) per line and no allocation or formatting
//! machinery: `spawnbox-init: exec foo: no such file or directory`.

use rustix::io::Errno;

const CAP: usize = 384;

/// One line of output, built in a fixed buffer (longer lines are cut).
pub struct Line {
    buf: [u8; CAP],
    len: usize,
}

impl Line {
    /// A line that starts with `spawnbox-init: `.
    pub fn new() -> Line {
        Line::bare().s(b"spawnbox-init: ")
    }

    /// An empty line.
    pub fn bare() -> Line {
        Line { buf: [0; CAP], len: 0 }
    }

    /// Append bytes.
    pub fn s(mut self, bytes: &[u8]) -> Line {
        for &b in bytes {
            if self.len >= CAP - 1 {
                break;
            }
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
        self
    }

    /// Append a decimal number.
    pub fn n(self, n: i64) -> Line {
        let mut digits = [0u8; 20];
        let text = fmt_dec(n, &mut digits);
        self.s(text)
    }

    /// Append the text of an errno.
    pub fn err(self, e: Errno) -> Line {
        match errno_text(e) {
            Some(t) => self.s(t),
            None => self.s(b"errno ").n(i64::from(e.raw_os_error())),
        }
    }

    /// The text so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(b"")
    }

    /// Terminate the line and write it to stderr; errors are ignored (there is nowhere to
    /// report them).
    pub fn emit(self) {
        let mut l = self;
        if let Some(slot) = l.buf.get_mut(l.len) {
            *slot = b'\n';
            l.len += 1;
        }
        let _ = rustix::io::write(crate::sys::stderr(), l.as_bytes());
    }
}

/// Format `n` in decimal into `buf` and return the digits.
pub fn fmt_dec(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut v = n.unsigned_abs();
    let mut i = buf.len();
    // u64::MAX has 20 digits, i64's magnitude at most 19: the sign always fits.
    while let Some(slot) = i.checked_sub(1).and_then(|j| buf.get_mut(j)) {
        *slot = b'0' + (v % 10) as u8;
        i -= 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        if let Some(slot) = i.checked_sub(1).and_then(|j| buf.get_mut(j)) {
            *slot = b'-';
            i -= 1;
        }
    }
    buf.get(i..).unwrap_or(b"")
}

/// Lowercase text for the errnos an init meets (as in the project's error style).
pub fn errno_text(e: Errno) -> Option<&'static [u8]> {
    const TABLE: [(Errno, &[u8]); 17] = [
        (Errno::PERM, b"operation not permitted"),
        (Errno::NOENT, b"no such file or directory"),
        (Errno::SRCH, b"no such process"),
        (Errno::INTR, b"interrupted system call"),
        (Errno::IO, b"input/output error"),
        (Errno::TOOBIG, b"argument list too long"),
        (Errno::NOEXEC, b"exec format error"),
        (Errno::NOMEM, b"cannot allocate memory"),
        (Errno::ACCESS, b"permission denied"),
        (Errno::BUSY, b"device or resource busy"),
        (Errno::NOTDIR, b"not a directory"),
        (Errno::ISDIR, b"is a directory"),
        (Errno::INVAL, b"invalid argument"),
        (Errno::TXTBSY, b"text file busy"),
        (Errno::NAMETOOLONG, b"file name too long"),
        (Errno::LOOP, b"too many levels of symbolic links"),
        (Errno::NOSYS, b"function not implemented"),
    ];
    TABLE.iter().find(|(x, _)| *x == e).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut b = [0u8; 20];
        assert_eq!(fmt_dec(0, &mut b), b"0");
        assert_eq!(fmt_dec(255, &mut b), b"255");
        assert_eq!(fmt_dec(-13, &mut b), b"-13");
        assert_eq!(fmt_dec(i64::MAX, &mut b), b"9223372036854775807");
    }

    #[test]
    fn lines() {
        let l = Line::new().s(b"exec ").s(b"foo").s(b": ").err(Errno::NOENT);
        assert_eq!(l.as_bytes(), b"spawnbox-init: exec foo: no such file or directory");
        let l = Line::bare().err(Errno::from_raw_os_error(200));
        assert_eq!(l.as_bytes(), b"errno 200");
        let long = [b'x'; 1000];
        assert_eq!(Line::bare().s(&long).as_bytes().len(), CAP - 1);
    }
}
