//! 128-bit ids: the container UUID (`--uuid`, `/etc/machine-id`, random) and its text forms.

use crate::settings::Id128;

impl Id128 {
    /// Parses 32 hex digits (machine-id form) or the 8-4-4-4-12 UUID form; all-zero is refused.
    pub fn parse(s: &str) -> Option<Id128> {
        let s = s.trim_end_matches('\n');
        let hex: String = if s.len() == 36 {
            let dashes = [8, 13, 18, 23];
            if !dashes.iter().all(|&i| s.as_bytes()[i] == b'-') {
                return None;
            }
            s.chars().filter(|&c| c != '-').collect()
        } else {
            s.to_string()
        };
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        (out != [0; 16]).then_some(Id128(out))
    }

    /// A random v4 UUID.
    pub fn random() -> Id128 {
        let mut b = [0u8; 16];
        let mut filled = 0;
        while filled < b.len() {
            match rustix::rand::getrandom(&mut b[filled..], rustix::rand::GetRandomFlags::empty()) {
                Ok(n) => filled += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Id128(b)
    }

    /// 8-4-4-4-12 lowercase form, as in `$container_uuid`.
    pub fn uuid_string(&self) -> String {
        let h = self.hex();
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }

    /// 32 lowercase hex digits, as in `/etc/machine-id`.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_both_forms() {
        let a = Id128::parse("0123456789abcdef0123456789ABCDEF\n").unwrap();
        let b = Id128::parse("01234567-89ab-cdef-0123-456789abcdef").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.uuid_string(), "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(a.hex(), "0123456789abcdef0123456789abcdef");
    }

    #[test]
    fn reject_bad_ids() {
        for bad in [
            "",
            "00000000000000000000000000000000",
            "0123",
            "0123456789abcdef0123456789abcdeg",
            "01234567-89ab-cdef-0123+456789abcdef",
        ] {
            assert_eq!(Id128::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn random_is_v4() {
        let r = Id128::random();
        assert_eq!(r.0[6] >> 4, 4);
        assert_eq!(r.0[8] >> 6, 2);
        assert_ne!(r, Id128::random());
    }
}
