//! Automatic IPv6 addresses beside the IPv4 subnet (pure): each container's /64 is a ULA
//! prefix that mirrors its IPv4 subnet, so it needs no lease and no pool of its own.
//!
//! ```text
//! fd HH HH HH  AA AA AA AA  :: ID          10.0.0.16/28, host 10.0.0.17, container 10.0.0.18
//! └┬┘└──┬───┘  └────┬────┘     │       →  fdHH:HHHH:a00:10::/64, host ::1, container ::2
//!  │  hash of     the IPv4     the IPv4 address's offset in its subnet
//! ULA the host's  subnet's
//!     machine ID  address
//! ```
//!
//! The 24 bits after `fd` are SipHash of the host's machine ID (RFC 4193 wants the global ID
//! pseudo-random: two hosts on one network get different prefixes); the next 32 bits are the
//! IPv4 subnet's network address, unique among the host's containers as the subnet is, and the
//! interface ID is the IPv4 address's offset in the subnet: `::1` the host side (or the zone
//! bridge), `::2` the container (the next members of a zone `::3`, ...).

use netsetup::{siphash24, Ipv4Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The key that hashes the machine ID into the ULA global ID (any fixed value: it only has to
/// differ from the keys that derive MACs from the same machine ID).
const ULA_KEY: [u8; 16] = *b"spawnbox-ula-v1\0";

/// The prefix length of a container's IPv6 network.
pub const PREFIX_LEN: u8 = 64;

/// The /64 of the IPv4 `subnet` on the host with machine ID `machine_id`.
pub fn prefix(machine_id: &[u8; 16], subnet: Ipv4Net) -> Ipv6Addr {
    let h = siphash24(machine_id, &ULA_KEY).to_le_bytes();
    let v4 = subnet.addr().octets();
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[1..4].copy_from_slice(&h[..3]);
    a[4..8].copy_from_slice(&v4);
    Ipv6Addr::from(a)
}

/// The IPv6 address that mirrors the IPv4 address `v4` of `subnet` in `prefix`.
pub fn mirror(prefix: Ipv6Addr, subnet: Ipv4Net, v4: Ipv4Addr) -> Ipv6Addr {
    let id = u32::from(v4).wrapping_sub(u32::from(subnet.addr()));
    Ipv6Addr::from(u128::from(prefix) | u128::from(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn the_prefix_mirrors_the_ipv4_subnet_under_a_hash_of_the_machine_id() {
        let id = [0x11; 16];
        let p = prefix(&id, net("10.0.0.16/28"));
        let o = p.octets();
        assert_eq!(o[0], 0xfd, "a ULA (fc00::/7 with L=1)");
        assert_eq!(&o[4..8], &[10, 0, 0, 16]);
        assert_eq!(&o[8..], &[0; 8], "a /64");
        assert_eq!(&o[1..4], &siphash24(&id, &ULA_KEY).to_le_bytes()[..3]);
        // Deterministic; another subnet differs only in the IPv4 part, another host in the hash.
        assert_eq!(p, prefix(&id, net("10.0.0.16/28")));
        assert_eq!(prefix(&id, net("10.0.0.32/28")).octets()[..4], o[..4]);
        assert_ne!(prefix(&[0x22; 16], net("10.0.0.16/28")).octets()[1..4], o[1..4]);
    }

    #[test]
    fn addresses_mirror_their_offsets_in_the_subnet() {
        let s = net("10.0.0.16/28");
        let p: Ipv6Addr = "fd12:3456:a00:10::".parse().unwrap();
        assert_eq!(mirror(p, s, Ipv4Addr::new(10, 0, 0, 17)).to_string(), "fd12:3456:a00:10::1");
        assert_eq!(mirror(p, s, Ipv4Addr::new(10, 0, 0, 18)).to_string(), "fd12:3456:a00:10::2");
        assert_eq!(mirror(p, s, Ipv4Addr::new(10, 0, 0, 30)).to_string(), "fd12:3456:a00:10::e");
    }
}
