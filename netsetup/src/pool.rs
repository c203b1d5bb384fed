//! The IPv4 subnet pool (pure): pick the first subnet of a pool that overlaps nothing already
//! routed or leased; the host side gets its first usable address, the container the second.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 prefix, stored as its network address (host bits cleared) and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix_len: u8,
}

/// The default pool spawnbox carves container subnets from.
pub const DEFAULT_POOL: Ipv4Net = Ipv4Net { addr: Ipv4Addr::new(10, 0, 0, 0), prefix_len: 8 };

/// The default size of one container's subnet: /28 (14 usable addresses, room for a zone).
pub const DEFAULT_PREFIX_LEN: u8 = 28;

fn mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix_len))
    }
}

impl Ipv4Net {
    /// The prefix containing `addr` with `prefix_len` bits (host bits are cleared);
    /// `None` if `prefix_len > 32`.
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Option<Ipv4Net> {
        if prefix_len > 32 {
            return None;
        }
        Some(Ipv4Net { addr: Ipv4Addr::from(u32::from(addr) & mask(prefix_len)), prefix_len })
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    fn first(&self) -> u32 {
        u32::from(self.addr)
    }

    fn last(&self) -> u32 {
        self.first() | !mask(self.prefix_len)
    }

    /// Whether `a` lies in this prefix.
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & mask(self.prefix_len) == self.first()
    }

    /// Whether the two prefixes share any address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.first() <= other.last() && other.first() <= self.last()
    }

    /// The broadcast address (the last address of the prefix).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.last())
    }

    /// The first usable address (the host side); `None` for /31 and /32.
    pub fn host_addr(&self) -> Option<Ipv4Addr> {
        self.nth_usable(1)
    }

    /// The second usable address (the container's `host0`); `None` for /31 and /32.
    pub fn container_addr(&self) -> Option<Ipv4Addr> {
        self.nth_usable(2)
    }

    fn nth_usable(&self, n: u32) -> Option<Ipv4Addr> {
        (self.prefix_len <= 30).then(|| Ipv4Addr::from(self.first() + n))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Ipv4Net {
    type Err = String;

    /// Parses `A.B.C.D/N`; host bits must be zero (`10.0.0.1/8` is refused as ambiguous).
    fn from_str(s: &str) -> Result<Ipv4Net, String> {
        let bad = || format!("invalid IPv4 prefix: {s:?}");
        let (a, l) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let len: u8 = l.parse().map_err(|_| bad())?;
        let net = Ipv4Net::new(addr, len).ok_or_else(bad)?;
        if net.addr != addr {
            return Err(format!("{s:?} has host bits set (did you mean {net}?)"));
        }
        Ok(net)
    }
}

/// The first `/prefix_len` subnet of `pool` that overlaps none of `taken` (routes on the
/// host and other containers' leases). `None` when the pool is exhausted or `prefix_len` is
/// shorter than the pool's or longer than 30 (a subnet needs two usable addresses).
pub fn first_free_subnet(pool: Ipv4Net, prefix_len: u8, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    if prefix_len < pool.prefix_len || prefix_len > 30 {
        return None;
    }
    let size = 1u64 << (32 - u32::from(prefix_len));
    let end = u64::from(pool.last());
    let align_up = |a: u64| a.div_ceil(size) * size;
    // Sweep the taken prefixes in address order, jumping past each one that blocks the
    // current candidate: O(n log n) however many leases exist.
    let mut blocks: Vec<(u64, u64)> =
        taken.iter().filter(|t| t.overlaps(&pool)).map(|t| (u64::from(t.first()), u64::from(t.last()))).collect();
    blocks.sort_unstable();
    let mut cand = u64::from(pool.first());
    for (first, last) in blocks {
        if cand + size - 1 > end {
            return None;
        }
        if cand + size - 1 < first {
            break;
        }
        if last >= cand {
            cand = align_up(last + 1);
        }
    }
    if cand + size - 1 > end {
        return None;
    }
    Ipv4Net::new(Ipv4Addr::from(cand as u32), prefix_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn empty_host_gets_the_first_subnet_and_addresses() {
        let s = first_free_subnet(DEFAULT_POOL, DEFAULT_PREFIX_LEN, &[]).unwrap();
        assert_eq!(s, net("10.0.0.0/28"));
        assert_eq!(s.host_addr(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(s.container_addr(), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(s.broadcast(), Ipv4Addr::new(10, 0, 0, 15));
    }

    #[test]
    fn skips_leases_and_routes_of_any_size() {
        let taken = [net("10.0.0.0/28"), net("10.0.0.16/28")];
        assert_eq!(first_free_subnet(DEFAULT_POOL, 28, &taken), Some(net("10.0.0.32/28")));
        // A host LAN covering the start of the pool.
        let taken = [net("10.0.0.0/24"), net("10.0.1.0/28")];
        assert_eq!(first_free_subnet(DEFAULT_POOL, 28, &taken), Some(net("10.0.1.16/28")));
        // A /32 route inside the first candidate.
        let taken = [net("10.0.0.5/32")];
        assert_eq!(first_free_subnet(DEFAULT_POOL, 28, &taken), Some(net("10.0.0.16/28")));
        // A hole between two leases is reused.
        let taken = [net("10.0.0.0/28"), net("10.0.0.32/28")];
        assert_eq!(first_free_subnet(DEFAULT_POOL, 28, &taken), Some(net("10.0.0.16/28")));
        // Routes outside the pool do not matter.
        let taken = [net("192.168.1.0/24"), net("172.16.0.0/12")];
        assert_eq!(first_free_subnet(DEFAULT_POOL, 28, &taken), Some(net("10.0.0.0/28")));
    }

    #[test]
    fn exhaustion_and_bad_sizes_give_none() {
        let pool = net("10.9.0.0/27");
        let taken = [net("10.9.0.0/28"), net("10.9.0.16/28")];
        assert_eq!(first_free_subnet(pool, 28, &taken), None);
        assert_eq!(first_free_subnet(DEFAULT_POOL, 28, &[net("10.0.0.0/8")]), None);
        assert_eq!(first_free_subnet(DEFAULT_POOL, 28, &[net("0.0.0.0/1")]), None);
        assert_eq!(first_free_subnet(DEFAULT_POOL, 7, &[]), None);
        assert_eq!(first_free_subnet(DEFAULT_POOL, 31, &[]), None);
        // The very last subnet of the address space is usable.
        let pool = net("255.255.255.0/24");
        let taken = [net("255.255.255.0/25"), net("255.255.255.128/26")];
        assert_eq!(first_free_subnet(pool, 26, &taken), Some(net("255.255.255.192/26")));
    }

    #[test]
    fn many_leases_are_skipped_quickly() {
        let taken: Vec<Ipv4Net> =
            (0..20_000u32).map(|i| Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i * 16), 28).unwrap()).collect();
        let got = first_free_subnet(DEFAULT_POOL, 28, &taken).unwrap();
        assert_eq!(got, Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + 20_000 * 16), 28).unwrap());
    }

    #[test]
    fn parse_and_display_round_trip() {
        assert_eq!(net("10.0.0.16/28").to_string(), "10.0.0.16/28");
        assert!("10.0.0.1/8".parse::<Ipv4Net>().unwrap_err().contains("10.0.0.0/8"));
        assert!("10.0.0.0/33".parse::<Ipv4Net>().is_err());
        assert!("10.0.0.0".parse::<Ipv4Net>().is_err());
        assert!(net("10.0.0.16/28").contains(Ipv4Addr::new(10, 0, 0, 31)));
        assert!(!net("10.0.0.16/28").contains(Ipv4Addr::new(10, 0, 0, 32)));
        assert_eq!(net("0.0.0.0/0").broadcast(), Ipv4Addr::BROADCAST);
        assert_eq!(net("10.0.0.4/31").host_addr(), None);
    }
}
