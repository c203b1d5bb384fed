//! Content digests: `sha256:` and 64 lowercase hex digits, checked before one names a file
//! (`blobs/sha256/HEX`); and a reader that checks a blob's bytes against its digest and size
//! as they stream through.

use crate::error::{Error, Result};
use crate::sha256::{self, Sha256};
use std::fmt;
use std::io::{self, Read};

/// A valid sha256 digest (the only algorithm accepted, as systemd's `pull-oci`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// `sha256:HEX`, HEX exactly 64 lowercase hex digits (the OCI spec's encoding of sha256).
    pub fn parse(s: &str) -> std::result::Result<Digest, String> {
        let Some((algorithm, hex)) = s.split_once(':') else {
            return Err(format!("not a digest: {}", crate::json::quote(s)));
        };
        if algorithm != "sha256" {
            return Err(format!("unsupported digest algorithm {}", crate::json::quote(algorithm)));
        }
        Digest::from_hex(hex).ok_or_else(|| format!("invalid sha256 digest {}", crate::json::quote(s)))
    }

    /// The digest whose hex is `hex` (64 lowercase hex digits).
    pub fn from_hex(hex: &str) -> Option<Digest> {
        (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Digest { hex: hex.to_string() })
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest { hex: sha256::hex(&sha256::digest(bytes)) }
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Where an OCI image layout keeps the blob: `blobs/sha256/HEX`.
    pub fn blob_path(&self) -> String {
        format!("blobs/sha256/{}", self.hex)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// What a blob must be: its digest, and its size when the descriptor gives one (a `docker
/// save` layer is known by the digest of its bytes only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub digest: Digest,
    pub size: Option<u64>,
}

/// Checks `bytes` (a whole small blob: a manifest, a config) against `expect`.
pub fn check(bytes: &[u8], expect: &Expect, what: &str) -> Result<()> {
    if let Some(size) = expect.size.filter(|s| *s != bytes.len() as u64) {
        return Err(size_error(what, size, bytes.len() as u64));
    }
    let got = Digest::of(bytes);
    if got != expect.digest {
        return Err(digest_error(what, &expect.digest, &got));
    }
    Ok(())
}

fn size_error(what: &str, want: u64, got: u64) -> Error {
    Error::msg(format!("{what}: size mismatch: the manifest says {want} bytes, the blob has {got}"))
}

fn digest_error(what: &str, want: &Digest, got: &Digest) -> Error {
    Error::msg(format!("{what}: digest mismatch: the manifest says {want}, the blob is {got}"))
}

/// A reader that hashes and counts what passes through it. It fails (`InvalidData`) as soon
/// as more bytes come than the expected size, and at the end of the data when the size or
/// the digest is wrong; [`Verified::finish`] reads whatever the consumer left and checks.
pub struct Verified<R> {
    inner: R,
    hash: Sha256,
    read: u64,
    expect: Expect,
    what: String,
    /// The check's outcome once the end was seen.
    done: Option<std::result::Result<(), Error>>,
}

impl<R: Read> Verified<R> {
    /// `inner`, checked against `expect`; `what` names the blob in errors
    /// (`layer 2 (sha256:...)`).
    pub fn new(inner: R, expect: Expect, what: impl Into<String>) -> Self {
        Verified { inner, hash: Sha256::new(), read: 0, expect, what: what.into(), done: None }
    }

    fn end(&mut self) -> std::result::Result<(), Error> {
        if let Some(d) = &self.done {
            return d.clone();
        }
        let hash = std::mem::take(&mut self.hash);
        let result = match self.expect.size {
            Some(size) if size != self.read => Err(size_error(&self.what, size, self.read)),
            _ => {
                let got = Digest { hex: sha256::hex(&hash.finish()) };
                if got == self.expect.digest {
                    Ok(())
                } else {
                    Err(digest_error(&self.what, &self.expect.digest, &got))
                }
            }
        };
        self.done = Some(result.clone());
        result
    }

    /// The check's error, if it failed already (the consumer only saw its read fail).
    pub fn failure(&self) -> Option<Error> {
        self.done.clone().and_then(|d| d.err())
    }

    /// Reads to the end of the data (what the consumer did not need: a tar's padding after
    /// its end marker) and checks the size and digest.
    pub fn finish(mut self) -> Result<()> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return self.end(),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(self.done.clone().and_then(|d| d.err()).unwrap_or_else(|| io_error(&self.what, &e)))
                }
            }
        }
    }
}

fn io_error(what: &str, e: &io::Error) -> Error {
    let errno = rustix::io::Errno::from_io_error(e).unwrap_or(rustix::io::Errno::IO);
    Error::sys("read", what, errno)
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(d) = &self.done {
            return match d {
                Ok(()) => Ok(0),
                Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            };
        }
        // Never more than one byte past the expected size: enough to tell that it is too long.
        let room = self.expect.size.map_or(u64::MAX, |s| s.saturating_sub(self.read).saturating_add(1));
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        let over = self.expect.size.is_some_and(|s| self.read > s);
        if n == 0 || over {
            if over {
                self.done = Some(Err(Error::msg(format!(
                    "{}: size mismatch: the manifest says {} bytes, the blob is longer",
                    self.what,
                    self.expect.size.unwrap_or_default()
                ))));
            }
            return match self.end() {
                Ok(()) => Ok(0),
                Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            };
        }
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; // "abc"

    #[test]
    fn digests_are_checked_before_they_name_a_file() {
        let d = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        assert_eq!(d.blob_path(), format!("blobs/sha256/{HEX}"));
        assert_eq!(d.to_string(), format!("sha256:{HEX}"));
        assert_eq!(Digest::of(b"abc"), d);
        for (bad, want) in [
            ("sha256:../../../etc/passwd".to_string(), "invalid sha256 digest \"sha256:../../../etc/passwd\""),
            (format!("sha256:{}", HEX.to_uppercase()), "invalid sha256 digest"),
            (format!("sha256:{HEX}0"), "invalid sha256 digest"),
            (format!("sha256:{}/x", &HEX[..62]), "invalid sha256 digest"),
            (format!("sha512:{HEX}"), "unsupported digest algorithm \"sha512\""),
            (HEX.to_string(), "not a digest"),
            ("sha256:".to_string(), "invalid sha256 digest"),
        ] {
            let e = Digest::parse(&bad).unwrap_err();
            assert!(e.starts_with(want), "{bad}: {e}");
        }
    }

    fn expect(size: Option<u64>) -> Expect {
        Expect { digest: Digest::of(b"abc"), size }
    }

    fn read_all<R: Read>(r: &mut R) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn whole_blobs() {
        assert!(check(b"abc", &expect(Some(3)), "config").is_ok());
        assert!(check(b"abc", &expect(None), "config").is_ok());
        assert_eq!(
            check(b"abcd", &expect(Some(3)), "config").unwrap_err().to_string(),
            "config: size mismatch: the manifest says 3 bytes, the blob has 4"
        );
        assert_eq!(
            check(b"abd", &expect(Some(3)), "config").unwrap_err().to_string(),
            format!("config: digest mismatch: the manifest says sha256:{HEX}, the blob is {}", Digest::of(b"abd"))
        );
    }

    #[test]
    fn streams() {
        let mut ok = Verified::new(&b"abc"[..], expect(Some(3)), "layer 1");
        assert_eq!(read_all(&mut ok).unwrap(), b"abc");
        assert!(ok.finish().is_ok());
        // The consumer stops early: finish reads the rest and checks.
        let mut v = Verified::new(&b"abc"[..], expect(None), "layer 1");
        let mut one = [0u8; 1];
        v.read_exact(&mut one).unwrap();
        assert!(v.finish().is_ok());

        let mut bad = Verified::new(&b"abd"[..], expect(Some(3)), "layer 1");
        let e = read_all(&mut bad).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().starts_with("layer 1: digest mismatch"), "{e}");
        assert!(bad.finish().unwrap_err().to_string().starts_with("layer 1: digest mismatch"));

        let short = Verified::new(&b"ab"[..], expect(Some(3)), "layer 1");
        assert_eq!(
            short.finish().unwrap_err().to_string(),
            "layer 1: size mismatch: the manifest says 3 bytes, the blob has 2"
        );
        // A longer blob is stopped one byte past the size, whatever follows.
        let endless = std::io::repeat(b'a');
        let mut long = Verified::new(endless, expect(Some(3)), "layer 1");
        let e = read_all(&mut long).unwrap_err();
        assert_eq!(e.to_string(), "layer 1: size mismatch: the manifest says 3 bytes, the blob is longer");
    }
}
