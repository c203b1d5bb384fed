//! Routes over rtnetlink: add and delete (a default route via a gateway, or a prefix on a
//! link) and the IPv4 route dump that tells which subnets the host already routes.
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
const AF_INET: u8 = 2;
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

    /// The IPv4 subnets the host routes somewhere: every route but default routes and the
    /// local, broadcast, anycast and multicast entries. The subnet pool avoids these.
    pub fn routed_subnets_v4(&mut self) -> Result<Vec<Ipv4Net>> {
        Ok(routed_subnets(&self.list_routes_v4()?))
    }
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
