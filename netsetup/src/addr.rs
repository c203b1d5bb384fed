//! IPv4/IPv6 address add, delete and dump over rtnetlink (`RTM_NEWADDR`, `RTM_DELADDR`,
//! `RTM_GETADDR`; `linux/if_addr.h`), with the attributes `ip addr add A/N brd + dev D` sends.

use crate::conn::{malformed, retry_dump};
use crate::error::Result;
use crate::nl::{self, Msg, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL};
use crate::rtnl::{Link, Rtnl};
use crate::socket::Transport;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
const IFA_RT_PRIORITY: u16 = 9;
const IFA_PROTO: u16 = 11;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// `IFA_F_NODAD`: no duplicate address detection (the address is usable at once).
const IFA_F_NODAD: u8 = 0x02;
/// `IFA_F_DEPRECATED`: an address past its preferred lifetime.
pub const IFA_F_DEPRECATED: u32 = 0x20;
/// `IFA_F_TENTATIVE`: duplicate address detection has not finished.
pub const IFA_F_TENTATIVE: u32 = 0x40;

/// An address with its scope and flags, from [`Rtnl::local_addresses`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr {
    /// Index, address and prefix length.
    pub info: AddrInfo,
    /// `ifa_scope` (`RT_SCOPE_UNIVERSE` 0, `RT_SCOPE_SITE` 200, `RT_SCOPE_LINK` 253,
    /// `RT_SCOPE_HOST` 254).
    pub scope: u8,
    /// `IFA_FLAGS` (or the header's 8 bits when the attribute is missing).
    pub flags: u32,
}

/// One address from [`Rtnl::list_addresses`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrInfo {
    /// Interface index.
    pub index: u32,
    /// The local address (`IFA_LOCAL`, else `IFA_ADDRESS`).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
}

/// An address as the kernel reported it, to be added again as it was (peer, broadcast, label,
/// scope, flags, remaining lifetimes, protocol): see [`Rtnl::link_addresses`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedAddr {
    /// Its index, address and prefix length.
    pub info: AddrInfo,
    /// The `RTM_NEWADDR` payload (`ifaddrmsg` and the attributes a request may carry).
    payload: Vec<u8>,
}

impl SavedAddr {
    /// Keeps the attributes of a dumped address that `RTM_NEWADDR` accepts; `None` if the
    /// payload is not an address.
    pub fn from_payload(p: &[u8]) -> Option<SavedAddr> {
        let info = parse_addr(p)?;
        let mut payload = p.get(..8)?.to_vec();
        for (ty, v) in nl::attrs(p.get(8..)?) {
            let keep = matches!(
                ty,
                IFA_ADDRESS
                    | IFA_LOCAL
                    | IFA_LABEL
                    | IFA_BROADCAST
                    | IFA_CACHEINFO
                    | IFA_FLAGS
                    | IFA_RT_PRIORITY
                    | IFA_PROTO
            );
            if keep {
                let len = 4 + v.len();
                payload.extend_from_slice(&(len as u16).to_ne_bytes());
                payload.extend_from_slice(&ty.to_ne_bytes());
                payload.extend_from_slice(v);
                payload.resize(nl::align(payload.len()), 0);
            }
        }
        Some(SavedAddr { info, payload })
    }

    /// Whether it is an IPv6 address.
    pub fn is_v6(&self) -> bool {
        self.info.addr.is_ipv6()
    }
}

/// The IPv4 broadcast address of `addr/prefix_len` (none for /31 and /32, as iproute2).
pub fn broadcast(addr: Ipv4Addr, prefix_len: u8) -> Option<Ipv4Addr> {
    if prefix_len >= 31 {
        return None;
    }
    let host_mask = u32::MAX >> prefix_len;
    Some(Ipv4Addr::from(u32::from(addr) | host_mask))
}

/// The address bytes (padded to 16), their length and the address family.
pub(crate) fn addr_bytes(a: &IpAddr) -> ([u8; 16], usize, u8) {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v4) => {
            b[..4].copy_from_slice(&v4.octets());
            (b, 4, AF_INET)
        }
        IpAddr::V6(v6) => (v6.octets(), 16, AF_INET6),
    }
}

/// `struct ifaddrmsg` (8 bytes): family, prefixlen, flags, scope, index.
fn ifaddrmsg(family: u8, prefix_len: u8, index: u32) -> [u8; 8] {
    let mut h = [family, prefix_len, 0, 0, 0, 0, 0, 0];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

impl<T: Transport> Rtnl<T> {
    fn addr_request(&mut self, add: bool, link: Link<'_>, addr: IpAddr, prefix_len: u8, ifa_flags: u8) -> Result<()> {
        let what = if add {
            format!("add address {addr}/{prefix_len} to {link}")
        } else {
            format!("delete address {addr}/{prefix_len} from {link}")
        };
        let index = match link {
            Link::Index(i) | Link::Known(i, _) => i,
            Link::Name(n) => self.link_index(n).map_err(|e| e.context(&what))?,
        };
        let (bytes, len, family) = addr_bytes(&addr);
        let (ty, flags) = if add { (RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL) } else { (RTM_DELADDR, 0) };
        let mut m = Msg::new(ty, flags);
        let mut h = ifaddrmsg(family, prefix_len, index);
        h[2] = ifa_flags;
        m.header(&h);
        m.put(IFA_LOCAL, &bytes[..len]);
        m.put(IFA_ADDRESS, &bytes[..len]);
        if let (true, IpAddr::V4(v4)) = (add, addr) {
            if let Some(brd) = broadcast(v4, prefix_len) {
                m.put(IFA_BROADCAST, &brd.octets());
            }
        }
        self.conn.ack(m, &what)
    }

    /// Adds `addr/prefix_len` to a link (IPv4 gets its broadcast address, as `brd +`).
    pub fn add_address(&mut self, link: Link<'_>, addr: IpAddr, prefix_len: u8) -> Result<()> {
        self.addr_request(true, link, addr, prefix_len, 0)
    }

    /// [`Rtnl::add_address`] without duplicate address detection (`ip addr add ... nodad`):
    /// an IPv6 address is usable at once instead of staying tentative for a second or more.
    pub fn add_address_nodad(&mut self, link: Link<'_>, addr: IpAddr, prefix_len: u8) -> Result<()> {
        self.addr_request(true, link, addr, prefix_len, IFA_F_NODAD)
    }

    /// Every address with its scope and flags (`RTM_GETADDR` dump, both families).
    pub fn local_addresses(&mut self) -> Result<Vec<LocalAddr>> {
        self.dump_addresses(parse_local_addr)
    }

    /// Deletes `addr/prefix_len` from a link.
    pub fn delete_address(&mut self, link: Link<'_>, addr: IpAddr, prefix_len: u8) -> Result<()> {
        self.addr_request(false, link, addr, prefix_len, 0)
    }

    /// Every address as the kernel reports it, in its order, to be added again with
    /// [`Rtnl::restore_address`] (a link that leaves the namespace loses its addresses).
    pub fn saved_addresses(&mut self) -> Result<Vec<SavedAddr>> {
        self.dump_addresses(SavedAddr::from_payload)
    }

    /// Adds a saved address to link `index` as it was (`RTM_NEWADDR`, `NLM_F_EXCL`).
    pub fn restore_address(&mut self, index: u32, a: &SavedAddr) -> Result<()> {
        let what = format!("add address {}/{} to ifindex {index}", a.info.addr, a.info.prefix_len);
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        let mut header = [0u8; 8];
        header.copy_from_slice(&a.payload[..8]);
        header[4..8].copy_from_slice(&index.to_ne_bytes());
        m.header(&header);
        for (ty, v) in nl::attrs(&a.payload[8..]) {
            m.put(ty, v);
        }
        self.conn.ack(m, &what)
    }

    /// Lists the addresses of every link (`RTM_GETADDR` dump, both families).
    pub fn list_addresses(&mut self) -> Result<Vec<AddrInfo>> {
        self.dump_addresses(parse_addr)
    }

    /// One `RTM_GETADDR` dump, each address read by `parse`.
    fn dump_addresses<A>(&mut self, parse: fn(&[u8]) -> Option<A>) -> Result<Vec<A>> {
        retry_dump(|| {
            let mut m = Msg::new(RTM_GETADDR, NLM_F_DUMP);
            m.header(&ifaddrmsg(0, 0, 0));
            let mut out = Vec::new();
            self.conn.dump(m, &"list addresses", &mut |h| {
                if h.ty == RTM_NEWADDR {
                    out.push(parse(h.payload).ok_or_else(|| malformed(&"list addresses"))?);
                }
                Ok(())
            })?;
            Ok(out)
        })
    }
}

/// Parses one `RTM_NEWADDR` payload.
pub fn parse_addr(p: &[u8]) -> Option<AddrInfo> {
    let family = *p.first()?;
    let prefix_len = *p.get(1)?;
    let index = nl::read_u32(p, 4)?;
    let mut local = None;
    let mut address = None;
    for (ty, v) in nl::attrs(p.get(8..)?) {
        let a = match (family, v.len()) {
            (AF_INET, 4) => IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
            (AF_INET6, 16) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?)),
            _ => continue,
        };
        match ty {
            IFA_LOCAL => local = Some(a),
            IFA_ADDRESS => address = Some(a),
            _ => {}
        }
    }
    Some(AddrInfo { index, addr: local.or(address)?, prefix_len })
}

/// Parses one `RTM_NEWADDR` payload with its scope and flags.
pub fn parse_local_addr(p: &[u8]) -> Option<LocalAddr> {
    let info = parse_addr(p)?;
    let scope = *p.get(3)?;
    let flags = nl::attrs(p.get(8..)?)
        .find(|(t, _)| *t == IFA_FLAGS)
        .and_then(|(_, v)| nl::read_u32(v, 0))
        .unwrap_or(u32::from(*p.get(2)?));
    Some(LocalAddr { info, scope, flags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_addresses_keep_what_a_request_may_carry() {
        let mut p = ifaddrmsg(AF_INET, 24, 7).to_vec();
        p[2] = 0x80; // IFA_F_PERMANENT
        let mut m = Msg::new(RTM_NEWADDR, 0);
        m.header(&p);
        m.put(IFA_ADDRESS, &[10, 9, 0, 2]);
        m.put(IFA_LOCAL, &[10, 9, 0, 2]);
        m.put(IFA_BROADCAST, &[10, 9, 0, 255]);
        m.put_str(IFA_LABEL, "tif0:1");
        m.put(7, &[0; 4]); // IFA_MULTICAST: dropped
        m.put_u32(IFA_FLAGS, 0x80);
        let bytes = m.finish().unwrap();
        let saved = SavedAddr::from_payload(&bytes[16..]).unwrap();
        assert_eq!(saved.info, AddrInfo { index: 7, addr: IpAddr::V4(Ipv4Addr::new(10, 9, 0, 2)), prefix_len: 24 });
        assert!(!saved.is_v6());
        let kept: Vec<u16> = nl::attrs(&saved.payload[8..]).map(|(t, _)| t).collect();
        assert_eq!(kept, [IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_LABEL, IFA_FLAGS]);

        let mut r = Rtnl::with_transport(crate::Replay::new(vec![crate::testutil::ack(1)]));
        r.restore_address(9, &saved).unwrap();
        let sent = &r.transport().sent[0];
        assert_eq!(&sent[4..8], &[RTM_NEWADDR as u8, 0, 0x05, 0x06], "type, REQUEST|ACK|EXCL|CREATE");
        assert_eq!(&sent[16..20], &[AF_INET, 24, 0x80, 0]);
        assert_eq!(&sent[20..24], &9u32.to_ne_bytes());
        assert_eq!(&sent[24..], &saved.payload[8..]);
    }

    #[test]
    fn local_addresses_carry_scope_and_flags() {
        let mut m = Msg::new(RTM_NEWADDR, 0);
        m.header(&[AF_INET6, 64, 0x80, 253, 4, 0, 0, 0]);
        m.put(IFA_ADDRESS, &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        m.put_u32(IFA_FLAGS, 0x80 | IFA_F_TENTATIVE);
        let bytes = m.finish().unwrap();
        let a = parse_local_addr(&bytes[16..]).unwrap();
        assert_eq!((a.info.index, a.info.prefix_len, a.scope, a.flags), (4, 64, 253, 0xc0));
        assert_eq!(a.info.addr, "fe80::1".parse::<IpAddr>().unwrap());
        // Without IFA_FLAGS, the header's byte.
        let mut m = Msg::new(RTM_NEWADDR, 0);
        m.header(&[AF_INET, 24, 0x20, 0, 2, 0, 0, 0]);
        m.put(IFA_LOCAL, &[10, 1, 0, 2]);
        let bytes = m.finish().unwrap();
        let a = parse_local_addr(&bytes[16..]).unwrap();
        assert_eq!((a.scope, a.flags), (0, IFA_F_DEPRECATED));
    }

    #[test]
    fn broadcast_follows_the_prefix() {
        let a = Ipv4Addr::new(10, 0, 0, 17);
        assert_eq!(broadcast(a, 28), Some(Ipv4Addr::new(10, 0, 0, 31)));
        assert_eq!(broadcast(a, 8), Some(Ipv4Addr::new(10, 255, 255, 255)));
        assert_eq!(broadcast(a, 0), Some(Ipv4Addr::BROADCAST));
        assert_eq!(broadcast(a, 31), None);
        assert_eq!(broadcast(a, 32), None);
    }
}
