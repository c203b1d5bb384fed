//! systemd-nspawn's interface naming and MAC derivation, bit for bit: `net_shorten_ifname()`
//! (naming scheme `nspawn-long-hash`, v245+) and `net_generate_mac()` with nspawn's keys
//! (`src/nspawn/nspawn-network.c`, `src/shared/netif-naming-scheme.c`,
//! `src/libsystemd/sd-netlink/netlink-util.c`), plus `ifname_valid()` from `socket-util.c`.

use crate::error::{Error, Result};
use crate::siphash::siphash24;
use std::path::Path;

/// `IFNAMSIZ`: interface names are at most 15 bytes plus the NUL.
pub const IFNAMSIZ: usize = 16;
/// `ALTIFNAMSIZ`: alternative names are at most 127 bytes plus the NUL.
pub const ALTIFNAMSIZ: usize = 128;

/// `SHORTEN_IFNAME_HASH_KEY` e190a404a8ef4b518cccc33a9f11fca2.
const SHORTEN_IFNAME_HASH_KEY: [u8; 16] =
    [0xe1, 0x90, 0xa4, 0x04, 0xa8, 0xef, 0x4b, 0x51, 0x8c, 0xcc, 0xc3, 0x3a, 0x9f, 0x11, 0xfc, 0xa2];

/// Which of nspawn's fixed MAC hash keys to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacKey {
    /// `HOST_HASH_KEY`: the host side of `--network-veth` (`ve-NAME` / `vb-NAME`).
    Host,
    /// `CONTAINER_HASH_KEY`: `host0` in the container.
    Container,
    /// `VETH_EXTRA_HOST_HASH_KEY`: host side of `--network-veth-extra`.
    VethExtraHost,
    /// `VETH_EXTRA_CONTAINER_HASH_KEY`: container side of `--network-veth-extra`.
    VethExtraContainer,
    /// `MACVLAN_HASH_KEY`: `--network-macvlan`.
    Macvlan,
}

impl MacKey {
    /// The 16 key bytes, as `SD_ID128_MAKE(...)` lists them.
    pub fn bytes(self) -> [u8; 16] {
        match self {
            MacKey::Host => {
                [0x1a, 0x37, 0x6f, 0xc7, 0x46, 0xec, 0x45, 0x0b, 0xad, 0xa3, 0xd5, 0x31, 0x06, 0x60, 0x5d, 0xb1]
            }
            MacKey::Container => {
                [0xc3, 0xc4, 0xf9, 0x19, 0xb5, 0x57, 0xb2, 0x1c, 0xe6, 0xcf, 0x14, 0x27, 0x03, 0x9c, 0xee, 0xa2]
            }
            MacKey::VethExtraHost => {
                [0x48, 0xc7, 0xf6, 0xb7, 0xea, 0x9d, 0x4c, 0x9e, 0xb7, 0x28, 0xd4, 0xde, 0x91, 0xd5, 0xbf, 0x66]
            }
            MacKey::VethExtraContainer => {
                [0xaf, 0x50, 0x17, 0x61, 0xce, 0xf9, 0x4d, 0x35, 0x84, 0x0d, 0x2b, 0x20, 0x54, 0xbe, 0xce, 0x59]
            }
            MacKey::Macvlan => {
                [0x00, 0x13, 0x6d, 0xbc, 0x66, 0x83, 0x44, 0x81, 0xbb, 0x0c, 0xf9, 0x51, 0x1f, 0x24, 0xa6, 0x6f]
            }
        }
    }
}

/// `urlsafe_base64char()`: RFC 4648 §5 alphabet, so no `/` ends up in a sysfs path.
fn urlsafe_base64char(x: u64) -> char {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char::from(TABLE[(x & 63) as usize])
}

/// nspawn's `shorten_ifname()`: a name of 16 bytes or more (too long for `IFNAMSIZ`) becomes
/// its first 11 bytes plus 4 URL-safe base64 characters of the low 24 bits of
/// `siphash24(name)`, most significant sextet first. `None` if the name already fits.
///
/// nspawn only accepts ASCII names; should a multi-byte character straddle byte 11, the cut
/// moves back to the character boundary.
pub fn shorten_ifname(name: &str) -> Option<String> {
    if name.len() < IFNAMSIZ {
        return None;
    }
    let h = siphash24(name.as_bytes(), &SHORTEN_IFNAME_HASH_KEY);
    let mut cut = IFNAMSIZ - 5;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut s = String::with_capacity(IFNAMSIZ - 1);
    s.push_str(&name[..cut]);
    for shift in [18, 12, 6, 0] {
        s.push(urlsafe_base64char(h >> shift));
    }
    Some(s)
}

/// A link name as nspawn derives it: `prefix + name`, shortened if too long, with the full
/// name kept as the altname to set (nspawn sets it only when shortened and when it fits
/// `ALTIFNAMSIZ`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfName {
    /// The name to create the link with (at most 15 bytes).
    pub name: String,
    /// The full name, to add as an altname.
    pub altname: Option<String>,
}

/// `ve-NAME` / `vb-NAME` (`bridged`) for `--network-veth`, `mv-IF` and `iv-IF` for
/// macvlan/ipvlan: `prefix + name`, shortened as nspawn does.
pub fn derive_ifname(prefix: &str, name: &str) -> IfName {
    let full = format!("{prefix}{name}");
    match shorten_ifname(&full) {
        Some(short) => IfName { name: short, altname: (full.len() < ALTIFNAMSIZ).then_some(full) },
        None => IfName { name: full, altname: None },
    }
}

/// nspawn's `generate_mac()`: the first 6 bytes (little-endian) of
/// `siphash24(machine_id ‖ machine_name [‖ le64(idx) if idx > 0], key)`, with the multicast
/// bit cleared and the locally-administered bit set.
pub fn generate_mac(machine_id: &[u8; 16], machine_name: &str, key: MacKey, idx: u64) -> [u8; 6] {
    let mut v = Vec::with_capacity(16 + machine_name.len() + 8);
    v.extend_from_slice(machine_id);
    v.extend_from_slice(machine_name.as_bytes());
    if idx > 0 {
        v.extend_from_slice(&idx.to_le_bytes());
    }
    let h = siphash24(&v, &key.bytes()).to_le_bytes();
    let mut mac = [h[0], h[1], h[2], h[3], h[4], h[5]];
    mac[0] &= 0xfe; // clear the multicast bit
    mac[0] |= 0x02; // set the locally-administered bit
    mac
}

/// Parses a machine ID as `sd_id128_from_string()` does: 32 hex digits, or the 36-character
/// UUID form; surrounding whitespace is ignored. The all-zero ID is refused.
pub fn parse_machine_id(s: &str) -> Option<[u8; 16]> {
    let s = s.trim();
    let hex: Vec<u8> = match s.len() {
        32 => s.bytes().collect(),
        36 => {
            let b = s.as_bytes();
            if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                return None;
            }
            s.bytes().filter(|&c| c != b'-').collect()
        }
        _ => return None,
    };
    let mut id = [0u8; 16];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        id[i] = (hi * 16 + lo) as u8;
    }
    (id != [0; 16]).then_some(id)
}

/// Reads the host's machine ID (normally `/etc/machine-id`), the input nspawn hashes MACs from.
pub fn read_machine_id(path: &Path) -> Result<[u8; 16]> {
    let what = format!("read machine ID {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| Error::sys(&what, e.raw_os_error().unwrap_or(5)))?;
    parse_machine_id(&text).ok_or_else(|| Error::msg(&what, "not a valid machine ID"))
}

/// systemd's `ifname_valid_full()` without special flags: non-empty, not all digits (that
/// reads as an ifindex), not `.`, `..`, `all` or `default` (sysctl directories), printable
/// ASCII without `:`, `/` or `%`, and shorter than `IFNAMSIZ` (or `ALTIFNAMSIZ` for an
/// alternative name).
pub fn ifname_valid(name: &str, alternative: bool) -> bool {
    let max = if alternative { ALTIFNAMSIZ } else { IFNAMSIZ };
    if name.is_empty() || name.len() >= max {
        return false;
    }
    if matches!(name, "." | ".." | "all" | "default") || name.bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    name.bytes().all(|c| c > 32 && c < 127 && !matches!(c, b':' | b'/' | b'%'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        assert_eq!(shorten_ifname("ve-foo"), None);
        assert_eq!(shorten_ifname("ve-123456789012"), None); // 15 bytes: fits
        let n = derive_ifname("ve-", "foo");
        assert_eq!(n.name, "ve-foo");
        assert_eq!(n.altname, None);
    }

    #[test]
    fn long_names_keep_11_bytes_and_4_hash_characters() {
        let s = shorten_ifname("ve-1234567890123").unwrap();
        assert_eq!(s.len(), 15);
        assert!(s.starts_with("ve-12345678"));
        assert!(s[11..].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        // Multi-byte characters never split.
        let s = shorten_ifname("ve-abcdefgé0123456").unwrap();
        assert!(s.starts_with("ve-abcdefg"));
        assert_eq!(s.chars().count(), 14);
    }

    #[test]
    fn base64_alphabet_is_urlsafe() {
        assert_eq!(urlsafe_base64char(0), 'A');
        assert_eq!(urlsafe_base64char(26), 'a');
        assert_eq!(urlsafe_base64char(52), '0');
        assert_eq!(urlsafe_base64char(62), '-');
        assert_eq!(urlsafe_base64char(63), '_');
        assert_eq!(urlsafe_base64char(64 + 1), 'B');
    }

    #[test]
    fn macs_are_unicast_and_local() {
        let id = [0x11; 16];
        for key in [MacKey::Host, MacKey::Container, MacKey::Macvlan] {
            let m = generate_mac(&id, "foo", key, 0);
            assert_eq!(m[0] & 0x03, 0x02);
        }
        assert_ne!(generate_mac(&id, "foo", MacKey::Macvlan, 0), generate_mac(&id, "foo", MacKey::Macvlan, 1));
    }

    #[test]
    fn machine_ids_parse_like_sd_id128() {
        let want = [0x3d, 0x12, 0x19, 0xc7, 0xc4, 0xc5, 0x40, 0x4a, 0xa4, 0x8a, 0xdf, 0xda, 0x4a, 0xdf, 0xda, 0xa4];
        assert_eq!(parse_machine_id("3d1219c7c4c5404aa48adfda4adfdaa4\n"), Some(want));
        assert_eq!(parse_machine_id("3d1219c7-c4c5-404a-a48a-dfda4adfdaa4"), Some(want));
        assert_eq!(parse_machine_id("3d1219c7c4c5404aa48adfda4adfdaa"), None);
        assert_eq!(parse_machine_id("3d1219c7c4c5404aa48adfda4adfdaxx"), None);
        assert_eq!(parse_machine_id(&"0".repeat(32)), None);
    }

    #[test]
    fn read_machine_id_errors_name_the_file() {
        let e = read_machine_id(Path::new("/nonexistent/machine-id")).unwrap_err();
        assert_eq!(e.to_string(), "read machine ID /nonexistent/machine-id: no such file or directory");
    }

    #[test]
    fn ifname_validity_matches_systemd() {
        assert!(ifname_valid("ve-foo", false));
        assert!(ifname_valid("eth0.100", false));
        assert!(!ifname_valid("", false));
        assert!(!ifname_valid("12", false));
        assert!(!ifname_valid("0", false));
        assert!(!ifname_valid("default", false));
        assert!(ifname_valid("all0", false));
        assert!(!ifname_valid(".", false));
        assert!(!ifname_valid("a:b", false));
        assert!(!ifname_valid("a/b", false));
        assert!(!ifname_valid("a%d", false));
        assert!(!ifname_valid("a b", false));
        assert!(!ifname_valid("é", false));
        assert!(!ifname_valid("ve-1234567890123", false));
        assert!(ifname_valid("ve-1234567890123", true));
    }
}
