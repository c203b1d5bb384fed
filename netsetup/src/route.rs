//! Routes over rtnetlink: add and delete (a default route via a gateway, or a prefix on a
//! link), and which subnets the host already routes: by looking up the addresses of one
//! candidate (what a container start does, whatever the number of routes), or by the IPv4
//! route dump.
//! `rtmsg` and `RTA_*` are from `linux/rtnetlink.h`; requests match `ip route add|del`.

use crate::conn::{malformed, retry_dump};
use crate::error::Result;
use crate::nl::{self, Msg, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL};
use crate::pool::Ipv4Net;
use crate::rtnl::{Link, Rtnl};
use crate::socket::Transport;
use std::net::{IpAddr, Ipv4Addr};

const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u8 = 254;
const RT_TABLE_LOCAL: u32 = 255;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RT_SCOPE_NOWHERE: u8 = 255;
/// `RTM_F_FIB_MATCH` (`rtm_flags`): answer a lookup with the matching route as it is in the
/// table (its prefix, `ip route get fibmatch`), not with the resolved /32.
const RTM_F_FIB_MATCH: u32 = 0x2000;
const AF_INET: u8 = 2;
const EACCES: i32 = 13;
const EINVAL: i32 = 22;
const ENETUNREACH: i32 = 101;
const EHOSTUNREACH: i32 = 113;
/// Candidates looked up before [`Rtnl::first_unrouted_subnet`] gives up on lookups and dumps
/// the routes instead (a pool crowded with the host's own routes).
const MAX_CANDIDATES: usize = 32;
const AF_INET6: u8 = 10;

/// `RTN_UNICAST`.
pub const RTN_UNICAST: u8 = 1;
/// `RTN_LOCAL`.
pub const RTN_LOCAL: u8 = 2;
/// `RTN_BROADCAST`.
pub const RTN_BROADCAST: u8 = 3;
/// `RTN_ANYCAST`.
pub const RTN_ANYCAST: u8 = 4;
/// `RTN_MULTICAST`.
pub const RTN_MULTICAST: u8 = 5;

/// A route to add or delete.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec<'a> {
    /// Destination and prefix length; `None` is the default route.
    pub dst: Option<(IpAddr, u8)>,
    /// Next hop, or `None` for a route directly on the link.
    pub gateway: Option<IpAddr>,
    /// Outgoing link.
    pub link: Link<'a>,
}

/// One IPv4 route from [`Rtnl::list_routes_v4`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// Destination prefix (0.0.0.0/0 for a default route).
    pub dst: Ipv4Net,
    /// Routing table id.
    pub table: u32,
    /// `rtm_type` (`RTN_UNICAST`, `RTN_LOCAL`, ...).
    pub kind: u8,
    /// Outgoing interface index.
    pub oif: Option<u32>,
    /// Gateway.
    pub gateway: Option<Ipv4Addr>,
}

impl std::fmt::Display for RouteSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.dst {
            Some((a, l)) => write!(f, "{a}/{l}")?,
            None => f.write_str("default")?,
        }
        if let Some(g) = self.gateway {
            write!(f, " via {g}")?;
        }
        write!(f, " dev {}", self.link)
    }
}

impl<T: Transport> Rtnl<T> {
    fn route_request(&mut self, add: bool, r: &RouteSpec<'_>) -> Result<()> {
        let what = format!("{} route {r}", if add { "add" } else { "delete" });
        let oif = match r.link {
            Link::Index(i) | Link::Known(i, _) => i,
            Link::Name(n) => self.link_index(n).map_err(|e| e.context(&what))?,
        };
        let family = match (r.dst, r.gateway) {
            (Some((IpAddr::V6(_), _)), _) | (None, Some(IpAddr::V6(_))) => AF_INET6,
            _ => AF_INET,
        };
        let dst_len = r.dst.map_or(0, |d| d.1);
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        let hdr: [u8; 12] = if add {
            let scope = if r.gateway.is_some() { RT_SCOPE_UNIVERSE } else { RT_SCOPE_LINK };
            let p = RTPROT_BOOT;
            [family, dst_len, 0, 0, RT_TABLE_MAIN, p, scope, RTN_UNICAST, 0, 0, 0, 0]
        } else {
            let s = RT_SCOPE_NOWHERE;
            [family, dst_len, 0, 0, RT_TABLE_MAIN, 0, s, 0, 0, 0, 0, 0]
        };
        let (ty, flags) = if add { (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL) } else { (RTM_DELROUTE, 0) };
        let mut m = Msg::new(ty, flags);
        m.header(&hdr);
        if let Some((dst, len)) = r.dst {
            if len > 0 {
                let (b, n, _) = crate::addr::addr_bytes(&dst);
                m.put(RTA_DST, &b[..n]);
            }
        }
        if let Some(gw) = r.gateway {
            let (b, n, _) = crate::addr::addr_bytes(&gw);
            m.put(RTA_GATEWAY, &b[..n]);
        }
        m.put_u32(RTA_OIF, oif);
        self.conn.ack(m, &what)
    }

    /// Adds a route in the main table.
    pub fn add_route(&mut self, r: &RouteSpec<'_>) -> Result<()> {
        self.route_request(true, r)
    }

    /// Deletes a route from the main table.
    pub fn delete_route(&mut self, r: &RouteSpec<'_>) -> Result<()> {
        self.route_request(false, r)
    }

    /// Adds the default route via `gateway` on `link` (what the container's `host0` gets).
    pub fn add_default_route(&mut self, gateway: IpAddr, link: Link<'_>) -> Result<()> {
        self.add_route(&RouteSpec { dst: None, gateway: Some(gateway), link })
    }

    /// Lists the IPv4 routes of every table (`RTM_GETROUTE` dump).
    pub fn list_routes_v4(&mut self) -> Result<Vec<RouteInfo>> {
        retry_dump(|| {
            let mut m = Msg::new(RTM_GETROUTE, NLM_F_DUMP);
            m.header(&[AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            let mut out = Vec::new();
            self.conn.dump(m, &"list routes", &mut |h| {
                if h.ty == RTM_NEWROUTE {
                    if let Some(r) = parse_route_v4(h.payload) {
                        out.push(r);
                    } else if h.payload.first() == Some(&AF_INET) {
                        return Err(malformed(&"list routes"));
                    }
                }
                Ok(())
            })?;
            Ok(out)
        })
    }

    /// What the host routes for each address of `net` (at most 16: a /28), looked up in one
    /// datagram, as `ip route get fibmatch` (the routing rules apply, as for any packet).
    pub fn lookup_routes_v4(&mut self, net: Ipv4Net) -> Result<Vec<Lookup>> {
        let what = format!("look up routes in {net}");
        if net.prefix_len() < 28 {
            return Err(crate::error::Error::sys(&what, EINVAL));
        }
        let first = u32::from(net.addr());
        let msgs = (first..=u32::from(net.broadcast()))
            .map(|a| {
                let mut m = Msg::new(RTM_GETROUTE, 0);
                let flags = RTM_F_FIB_MATCH.to_ne_bytes();
                m.header(&[AF_INET, 32, 0, 0, 0, 0, 0, 0, flags[0], flags[1], flags[2], flags[3]]);
                m.put(RTA_DST, &Ipv4Addr::from(a).octets());
                m
            })
            .collect();
        let mut out = Vec::new();
        for (data, errno) in self.conn.queries(msgs, &what)? {
            out.push(match (errno, data) {
                (0, Some(p)) => Lookup::Route(parse_route_v4(&p).ok_or_else(|| malformed(&what))?),
                (ENETUNREACH, _) => Lookup::None,
                (EHOSTUNREACH | EACCES | EINVAL, _) => Lookup::Reject,
                (0, None) => return Err(malformed(&what)),
                (e, _) => return Err(crate::error::Error::sys(&what, e)),
            });
        }
        Ok(out)
    }

    /// The first `/len` subnet of `pool` that overlaps neither `leased` nor a route of the
    /// host ([`routed_subnets`]); `None` when there is none. Only candidates are looked up
    /// ([`Rtnl::lookup_routes_v4`]), so the cost does not grow with the number of routes; a
    /// reject route (which a lookup reports without its prefix), or a pool crowded with
    /// routes, falls back to the dump.
    pub fn first_unrouted_subnet(&mut self, pool: Ipv4Net, len: u8, leased: &[Ipv4Net]) -> Result<Option<Ipv4Net>> {
        let mut taken = leased.to_vec();
        if len >= 28 {
            for _ in 0..MAX_CANDIDATES {
                let Some(cand) = crate::pool::first_free_subnet(pool, len, &taken) else {
                    return Ok(None);
                };
                match blocking_routes(&self.lookup_routes_v4(cand)?) {
                    Some(routes) if routes.is_empty() => return Ok(Some(cand)),
                    Some(routes) => taken.extend(routes),
                    None => break,
                }
            }
        }
        taken.extend(self.routed_subnets_v4()?);
        Ok(crate::pool::first_free_subnet(pool, len, &taken))
    }

    /// The IPv4 subnets the host routes somewhere: every route but default routes and the
    /// local, broadcast, anycast and multicast entries. The subnet pool avoids these.
    pub fn routed_subnets_v4(&mut self) -> Result<Vec<Ipv4Net>> {
        Ok(routed_subnets(&self.list_routes_v4()?))
    }
}

/// What a route lookup of one address found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The matching route (`RTM_F_FIB_MATCH`: its prefix and table).
    Route(RouteInfo),
    /// No route (`ENETUNREACH`).
    None,
    /// An unreachable, prohibit or blackhole route, whose prefix a lookup does not tell.
    Reject,
}

/// The subnets that the lookups of a candidate's addresses found it overlaps (those
/// [`routed_subnets`] keeps: default routes and local, broadcast, anycast and multicast
/// entries do not count); `None` when a reject route leaves that unknown.
pub fn blocking_routes(lookups: &[Lookup]) -> Option<Vec<Ipv4Net>> {
    let mut routes = Vec::new();
    for l in lookups {
        match l {
            Lookup::Route(r) => routes.push(*r),
            Lookup::None => {}
            Lookup::Reject => return None,
        }
    }
    let mut nets = routed_subnets(&routes);
    nets.sort_unstable();
    nets.dedup();
    Some(nets)
}

/// Filters a route dump down to the subnets the pool must avoid.
pub fn routed_subnets(routes: &[RouteInfo]) -> Vec<Ipv4Net> {
    routes
        .iter()
        .filter(|r| r.dst.prefix_len() > 0 && r.table != RT_TABLE_LOCAL)
        .filter(|r| !matches!(r.kind, RTN_LOCAL | RTN_BROADCAST | RTN_ANYCAST | RTN_MULTICAST))
        .map(|r| r.dst)
        .collect()
}

/// Parses one IPv4 `RTM_NEWROUTE` payload; `None` for other families or malformed input.
pub fn parse_route_v4(p: &[u8]) -> Option<RouteInfo> {
    if *p.first()? != AF_INET {
        return None;
    }
    let dst_len = *p.get(1)?;
    let mut table = u32::from(*p.get(4)?);
    let kind = *p.get(7)?;
    let mut dst = Ipv4Addr::UNSPECIFIED;
    let mut oif = None;
    let mut gateway = None;
    let v4 = |v: &[u8]| <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from);
    for (ty, v) in nl::attrs(p.get(12..)?) {
        match ty {
            RTA_DST => dst = v4(v)?,
            RTA_OIF => oif = nl::read_u32(v, 0),
            RTA_GATEWAY => gateway = v4(v),
            RTA_TABLE => table = nl::read_u32(v, 0)?,
            _ => {}
        }
    }
    Some(RouteInfo { dst: Ipv4Net::new(dst, dst_len)?, table, kind, oif, gateway })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::Replay;
    use crate::testutil::{ack, done, err, msg};

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    /// An `RTM_NEWROUTE` payload: `rtmsg`, then `RTA_TABLE` and (unless default) `RTA_DST`.
    fn route(dst: &str, table: u32, kind: u8) -> Vec<u8> {
        let n = net(dst);
        let t = if table < 256 { table as u8 } else { 252 };
        let mut p = vec![AF_INET, n.prefix_len(), 0, 0, t, 2, 0, kind, 0, 0, 0, 0];
        p.extend_from_slice(&[8, 0, 15, 0]);
        p.extend_from_slice(&table.to_ne_bytes());
        if n.prefix_len() > 0 {
            p.extend_from_slice(&[8, 0, 1, 0]);
            p.extend_from_slice(&n.addr().octets());
        }
        p
    }

    /// The replies to one candidate's 16 lookups (sequence numbers from `seq`): `answer(i)`
    /// is the route found for address i, or the errno.
    fn answers(seq: u32, answer: impl Fn(u32) -> std::result::Result<Vec<u8>, i32>) -> Vec<u8> {
        let mut d = Vec::new();
        for i in 0..16 {
            match answer(i) {
                Ok(p) => {
                    d.extend_from_slice(&msg(RTM_NEWROUTE, 0, seq + i, &p));
                    d.extend_from_slice(&ack(seq + i));
                }
                Err(e) => d.extend_from_slice(&err(seq + i, e)),
            }
        }
        d
    }

    fn rt(replies: Vec<Vec<u8>>) -> Rtnl<Replay> {
        Rtnl::with_transport(Replay::new(replies))
    }

    #[test]
    fn a_lookup_asks_for_the_matching_route_of_each_address() {
        let mut r = rt(vec![answers(1, |_| Err(ENETUNREACH))]);
        let got = r.lookup_routes_v4(net("10.0.0.16/28")).unwrap();
        assert_eq!(got, [Lookup::None; 16]);
        let sent = &r.transport().sent;
        assert_eq!(sent.len(), 1, "one datagram");
        assert_eq!(sent[0].len(), 16 * 36);
        #[rustfmt::skip]
        let first: [u8; 36] = [
            36, 0, 0, 0, 26, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0, // nlmsghdr: RTM_GETROUTE, REQUEST|ACK, seq 1
            2, 32, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0,            // rtmsg: AF_INET, /32, RTM_F_FIB_MATCH
            8, 0, 1, 0, 10, 0, 0, 16,                          // RTA_DST 10.0.0.16
        ];
        assert_eq!(sent[0][..36], first);
        assert_eq!(sent[0][15 * 36 + 32..], [10, 0, 0, 31], "the last address is the broadcast");
        let e = rt(vec![]).lookup_routes_v4(net("10.0.0.0/24")).unwrap_err();
        assert_eq!(e.to_string(), "look up routes in 10.0.0.0/24: invalid argument");
        let e = rt(vec![answers(1, |_| Err(1))]).lookup_routes_v4(net("10.0.0.0/28")).unwrap_err();
        assert_eq!(e.to_string(), "look up routes in 10.0.0.0/28: operation not permitted");
    }

    #[test]
    fn only_routes_that_the_dump_would_count_block_a_candidate() {
        let lan = RouteInfo { dst: net("10.0.0.0/24"), table: 254, kind: RTN_UNICAST, oif: None, gateway: None };
        let host = RouteInfo { dst: net("10.0.0.5/32"), ..lan };
        let default = RouteInfo { dst: net("0.0.0.0/0"), ..lan };
        let local = RouteInfo { dst: net("10.0.0.1/32"), table: 255, kind: RTN_LOCAL, ..lan };
        let bcast = RouteInfo { dst: net("10.0.0.15/32"), kind: RTN_BROADCAST, ..lan };
        let found = [lan, host, lan, default, local, bcast].map(Lookup::Route);
        assert_eq!(blocking_routes(&found), Some(vec![net("10.0.0.0/24"), net("10.0.0.5/32")]));
        assert_eq!(blocking_routes(&[Lookup::None, Lookup::Route(default), Lookup::Route(local)]), Some(vec![]));
        assert_eq!(blocking_routes(&[Lookup::None, Lookup::Reject]), None);
    }

    #[test]
    fn candidates_skip_leases_and_the_routes_their_lookups_find() {
        // Leased: 10.0.0.0/28. The next candidate, .16/28, finds the LAN route 10.0.0.0/24
        // (at its first address; a default route at the others); past it, 10.0.1.0/28 finds
        // a /32 inside it; 10.0.1.16/28 finds nothing.
        let lan = route("10.0.0.0/24", 254, RTN_UNICAST);
        let replies = vec![
            answers(1, |i| if i == 0 { Ok(lan.clone()) } else { Ok(route("0.0.0.0/0", 254, RTN_UNICAST)) }),
            answers(17, |i| if i == 9 { Ok(route("10.0.1.9/32", 254, RTN_UNICAST)) } else { Err(ENETUNREACH) }),
            answers(33, |_| Err(ENETUNREACH)),
        ];
        let mut r = rt(replies);
        let got = r.first_unrouted_subnet(DEFAULT_POOL_FOR_TESTS, 28, &[net("10.0.0.0/28")]).unwrap();
        assert_eq!(got, Some(net("10.0.1.16/28")));
        assert_eq!(r.transport().sent.len(), 3, "three candidates, one datagram each, no dump");
        assert_eq!(r.transport().unread(), 0);
        // A pool whose only candidate is routed is full.
        let mut r = rt(vec![answers(1, |_| Ok(route("10.9.0.0/16", 254, RTN_UNICAST)))]);
        assert_eq!(r.first_unrouted_subnet(net("10.9.0.0/28"), 28, &[]).unwrap(), None);
    }

    #[test]
    fn a_reject_route_falls_back_to_the_dump() {
        let mut dump = msg(RTM_NEWROUTE, 2, 2, &route("10.0.0.0/27", 254, 7));
        dump.extend_from_slice(&msg(RTM_NEWROUTE, 2, 2, &route("10.0.0.1/32", 255, RTN_LOCAL)));
        dump.extend_from_slice(&done(2));
        let replies = vec![answers(1, |i| if i == 3 { Err(EHOSTUNREACH) } else { Err(ENETUNREACH) }), dump];
        // 16 lookups take sequence numbers 1..16, the dump 17: renumber the dump's replies.
        let replies: Vec<Vec<u8>> =
            replies.into_iter().enumerate().map(|(n, d)| if n == 1 { renumber(d, 17) } else { d }).collect();
        let mut r = rt(replies);
        assert_eq!(r.first_unrouted_subnet(DEFAULT_POOL_FOR_TESTS, 28, &[]).unwrap(), Some(net("10.0.0.32/28")));
        let sent = &r.transport().sent;
        assert_eq!(sent.len(), 2);
        assert_eq!(&sent[1][4..8], &[26, 0, 1, 3], "RTM_GETROUTE, REQUEST|DUMP");
    }

    /// The pool of `DEFAULT_POOL`, spelled here so the tests read on their own.
    const DEFAULT_POOL_FOR_TESTS: Ipv4Net = crate::pool::DEFAULT_POOL;

    /// Sets every message's sequence number in a datagram to `seq`.
    fn renumber(mut d: Vec<u8>, seq: u32) -> Vec<u8> {
        let mut off = 0;
        while off + 16 <= d.len() {
            let len = u32::from_ne_bytes(d[off..off + 4].try_into().unwrap()) as usize;
            d[off + 8..off + 12].copy_from_slice(&seq.to_ne_bytes());
            off += crate::nl::align(len.max(16));
        }
        d
    }
}
