//! SHA-256 (FIPS 180-4), streaming: what OCI image digests (`sha256:<hex>`) are checked with.
//! The `sha2` crate, which the xz decoder links anyway, with the SHA-NI instructions when the
//! CPU has them (docs/DEPENDENCIES.md).

/// A SHA-256 computation in progress: [`Sha256::update`] with the data, [`Sha256::finish`].
#[derive(Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl Sha256 {
    /// A new computation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hashes `data` after what came before.
    pub fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> [u8; 32] {
        sha2::Digest::finalize(self.0).into()
    }
}

/// The digest of `data`.
pub fn digest(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finish()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)] as char, DIGITS[usize::from(b & 15)] as char]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // FIPS 180-4 examples and the NIST CAVP short messages.
        for (input, want) in [
            (&b""[..], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
            ),
            (b"The quick brown fox jumps over the lazy dog", "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
        ] {
            assert_eq!(hex(&digest(input)), want, "{:?}", String::from_utf8_lossy(input));
        }
        let million = vec![b'a'; 1_000_000];
        assert_eq!(hex(&digest(&million)), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }

    #[test]
    fn pieces_of_any_size_give_the_same_digest() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let whole = digest(&data);
        for cut in [1, 3, 55, 56, 63, 64, 65, 127, 128, 500] {
            let mut h = Sha256::new();
            for piece in data.chunks(cut) {
                h.update(piece);
            }
            assert_eq!(h.finish(), whole, "pieces of {cut}");
        }
        // Lengths around the padding boundary.
        for len in 54..=66 {
            let mut h = Sha256::new();
            h.update(&data[..len]);
            h.update(&[]);
            assert_eq!(h.finish(), digest(&data[..len]), "{len}");
        }
    }
}
