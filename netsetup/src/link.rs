//! Link operations over rtnetlink: create (veth, bridge, macvlan, ipvlan), delete, up/down,
//! rename, move to a netns, master, MAC, altname, index lookup and the link dump.
//!
//! Requests mirror what iproute2 sends (`RTM_NEWLINK` for changes, attributes in ip's order)
//! so their bytes can be checked against `strace ip link ...`; layouts are `linux/rtnetlink.h`
//! and `linux/if_link.h`.

use crate::conn::{malformed, retry_dump};
use crate::error::{Error, Result};
use crate::naming::IFNAMSIZ;
use crate::nl::{self, Msg, NLA_F_NESTED, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL};
use crate::rtnl::{Link, Mac, Netns, Rtnl};
use crate::socket::Transport;
use rustix::fd::AsRawFd;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWLINKPROP: u16 = 108;
const RTM_DELLINKPROP: u16 = 109;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_PID: u16 = 19;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_EXT_MASK: u16 = 29;
const IFLA_PROP_LIST: u16 = 52;
const IFLA_ALT_IFNAME: u16 = 53;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFLA_VXLAN_LINK: u16 = 3;
const IFLA_MACVLAN_MODE: u16 = 1;
const MACVLAN_MODE_BRIDGE: u32 = 4;
const IFLA_IPVLAN_MODE: u16 = 1;
const IPVLAN_MODE_L2: u16 = 0;
/// `RTEXT_FILTER_SKIP_STATS`: leave the statistics out of replies.
const RTEXT_FILTER_SKIP_STATS: u32 = 8;

/// `IFF_UP`.
pub const IFF_UP: u32 = 0x1;

/// A veth pair to create: `name` stays here, `peer` goes to `peer_netns` (or stays here).
#[derive(Debug, Clone, Copy)]
pub struct Veth<'a> {
    /// Host-side name, e.g. `ve-foo`.
    pub name: &'a str,
    /// Host-side MAC, or the kernel's random one.
    pub mac: Option<[u8; 6]>,
    /// Peer name, e.g. `host0`.
    pub peer: &'a str,
    /// Peer MAC, or the kernel's random one.
    pub peer_mac: Option<[u8; 6]>,
    /// Where the peer is created.
    pub peer_netns: Option<Netns<'a>>,
}

/// One link from [`Rtnl::list_links`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// `ifi_flags` (`IFF_UP` = 1, ...).
    pub flags: u32,
    /// Index of the master (bridge), if enslaved.
    pub master: Option<u32>,
    /// `IFLA_INFO_KIND` (`veth`, `bridge`, ...), if any.
    pub kind: Option<String>,
    /// Hardware address, if it is 6 bytes long.
    pub mac: Option<[u8; 6]>,
    /// Alternative names.
    pub altnames: Vec<String>,
    /// MTU.
    pub mtu: Option<u32>,
    /// For a vxlan, the index of the link it sends through (`IFLA_VXLAN_LINK`): the kernel
    /// deletes the vxlan when that link leaves the namespace.
    pub vxlan_link: Option<u32>,
}

/// `struct ifinfomsg` (16 bytes): family, type, index, flags, change.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

fn put_netns(m: &mut Msg, ns: Netns<'_>) {
    match ns {
        Netns::Pid(pid) => m.put_u32(IFLA_NET_NS_PID, pid),
        Netns::Fd(fd) => m.put_u32(IFLA_NET_NS_FD, fd.as_raw_fd() as u32),
    }
}

/// A request about an existing link: by index, or index 0 plus `IFLA_IFNAME`.
fn link_msg(ty: u16, flags: u16, link: Link<'_>, ifi_flags: u32, change: u32) -> Msg {
    let mut m = Msg::new(ty, flags);
    match link {
        Link::Index(i) | Link::Known(i, _) => m.header(&ifinfomsg(i, ifi_flags, change)),
        Link::Name(n) => {
            m.header(&ifinfomsg(0, ifi_flags, change));
            put_lookup_name(&mut m, n);
        }
    }
    m
}

/// Names a link to look up: `IFLA_IFNAME` matches names and altnames but holds at most 15
/// bytes; a longer altname goes in `IFLA_ALT_IFNAME` (Linux 5.5+), as iproute2 does.
fn put_lookup_name(m: &mut Msg, name: &str) {
    if name.len() < IFNAMSIZ {
        m.put_str(IFLA_IFNAME, name);
    } else {
        m.put_str(IFLA_ALT_IFNAME, name);
    }
}

/// Opens `IFLA_LINKINFO` with `IFLA_INFO_KIND` = `kind`; returns the open nest. The kind
/// goes without a NUL, as iproute2 sends it (the kernel accepts both).
fn open_linkinfo(m: &mut Msg, kind: &str) -> nl::Nest {
    let info = m.nest(IFLA_LINKINFO);
    m.put(IFLA_INFO_KIND, kind.as_bytes());
    info
}

impl<T: Transport> Rtnl<T> {
    /// The index of the link called `name` (`RTM_GETLINK`).
    pub fn link_index(&mut self, name: &str) -> Result<u32> {
        let mut m = Msg::new(RTM_GETLINK, 0);
        m.header(&ifinfomsg(0, 0, 0));
        m.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        put_lookup_name(&mut m, name);
        let what = format!("query link {name}");
        let mut index = None;
        self.conn.request(m, &what, &mut |h| {
            if h.ty == RTM_NEWLINK {
                index = nl::read_u32(h.payload, 4);
            }
            Ok(())
        })?;
        index.ok_or_else(|| malformed(&what))
    }

    /// Everything [`Rtnl::list_links`] reports about one link (`RTM_GETLINK`).
    pub fn link_info(&mut self, link: Link<'_>) -> Result<LinkInfo> {
        let mut m = link_msg(RTM_GETLINK, 0, link, 0, 0);
        m.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        let what = format!("query link {link}");
        let mut info = None;
        self.conn.request(m, &what, &mut |h| {
            if h.ty == RTM_NEWLINK {
                info = Some(parse_link(h.payload).ok_or_else(|| malformed(&what))?);
            }
            Ok(())
        })?;
        info.ok_or_else(|| malformed(&what))
    }

    fn resolve(&mut self, link: Link<'_>) -> Result<u32> {
        match link {
            Link::Index(i) | Link::Known(i, _) => Ok(i),
            Link::Name(n) => self.link_index(n),
        }
    }

    /// Creates a veth pair, the peer optionally placed in another netns
    /// ([veth(4)](https://man7.org/linux/man-pages/man4/veth.4.html)).
    pub fn create_veth(&mut self, v: &Veth<'_>) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.header(&ifinfomsg(0, 0, 0));
        if let Some(mac) = v.mac {
            m.put(IFLA_ADDRESS, &mac);
        }
        m.put_str(IFLA_IFNAME, v.name);
        let info = open_linkinfo(&mut m, "veth");
        let data = m.nest(IFLA_INFO_DATA);
        let peer = m.nest(VETH_INFO_PEER);
        m.header(&ifinfomsg(0, 0, 0));
        if let Some(mac) = v.peer_mac {
            m.put(IFLA_ADDRESS, &mac);
        }
        if let Some(ns) = v.peer_netns {
            put_netns(&mut m, ns);
        }
        m.put_str(IFLA_IFNAME, v.peer);
        m.end_nest(peer);
        m.end_nest(data);
        m.end_nest(info);
        self.conn.ack(m, &format_args!("create veth {}/{}", v.name, v.peer))
    }

    /// Creates a bridge called `name`.
    pub fn create_bridge(&mut self, name: &str) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.header(&ifinfomsg(0, 0, 0));
        m.put_str(IFLA_IFNAME, name);
        let info = open_linkinfo(&mut m, "bridge");
        m.end_nest(info);
        self.conn.ack(m, &format_args!("create bridge {name}"))
    }

    /// Creates a macvlan in bridge mode on `parent`, optionally in another netns.
    pub fn create_macvlan(
        &mut self,
        name: &str,
        parent: Link<'_>,
        mac: Option<[u8; 6]>,
        netns: Option<Netns<'_>>,
    ) -> Result<()> {
        let what = format!("create macvlan {name} on {parent}");
        let parent_index = self.resolve(parent).map_err(|e| e.context(&what))?;
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.header(&ifinfomsg(0, 0, 0));
        if let Some(mac) = mac {
            m.put(IFLA_ADDRESS, &mac);
        }
        m.put_u32(IFLA_LINK, parent_index);
        if let Some(ns) = netns {
            put_netns(&mut m, ns);
        }
        m.put_str(IFLA_IFNAME, name);
        let info = open_linkinfo(&mut m, "macvlan");
        let data = m.nest(IFLA_INFO_DATA);
        m.put_u32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
        m.end_nest(data);
        m.end_nest(info);
        self.conn.ack(m, &what)
    }

    /// Creates an ipvlan in L2 mode on `parent`, optionally in another netns.
    pub fn create_ipvlan(&mut self, name: &str, parent: Link<'_>, netns: Option<Netns<'_>>) -> Result<()> {
        let what = format!("create ipvlan {name} on {parent}");
        let parent_index = self.resolve(parent).map_err(|e| e.context(&what))?;
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.header(&ifinfomsg(0, 0, 0));
        m.put_u32(IFLA_LINK, parent_index);
        if let Some(ns) = netns {
            put_netns(&mut m, ns);
        }
        m.put_str(IFLA_IFNAME, name);
        let info = open_linkinfo(&mut m, "ipvlan");
        let data = m.nest(IFLA_INFO_DATA);
        m.put_u16(IFLA_IPVLAN_MODE, IPVLAN_MODE_L2);
        m.end_nest(data);
        m.end_nest(info);
        self.conn.ack(m, &what)
    }

    /// Deletes a link (for a veth, both ends go).
    pub fn delete_link(&mut self, link: Link<'_>) -> Result<()> {
        let m = link_msg(RTM_DELLINK, 0, link, 0, 0);
        self.conn.ack(m, &format_args!("delete link {link}"))
    }

    /// Sets a link administratively up or down.
    pub fn set_link_up(&mut self, link: Link<'_>, up: bool) -> Result<()> {
        let m = link_msg(RTM_NEWLINK, 0, link, if up { IFF_UP } else { 0 }, IFF_UP);
        let state = if up { "up" } else { "down" };
        self.conn.ack(m, &format_args!("set link {link} {state}"))
    }

    /// Renames a link (it must be down).
    pub fn rename_link(&mut self, link: Link<'_>, new_name: &str) -> Result<()> {
        let what = format!("rename link {link} to {new_name}");
        let index = self.resolve(link).map_err(|e| e.context(&what))?;
        let mut m = link_msg(RTM_NEWLINK, 0, Link::Index(index), 0, 0);
        m.put_str(IFLA_IFNAME, new_name);
        self.conn.ack(m, &what)
    }

    /// Moves a link into `netns`, renaming it there to `new_name` if given (the rename needs
    /// the index, so a link given by name is looked up first).
    pub fn move_link(&mut self, link: Link<'_>, netns: Netns<'_>, new_name: Option<&str>) -> Result<()> {
        let what = format!("move link {link} to {netns}");
        let target = match new_name {
            Some(_) => Link::Index(self.resolve(link).map_err(|e| e.context(&what))?),
            None => link,
        };
        let mut m = link_msg(RTM_NEWLINK, 0, target, 0, 0);
        put_netns(&mut m, netns);
        if let Some(n) = new_name {
            m.put_str(IFLA_IFNAME, n);
        }
        self.conn.ack(m, &what)
    }

    /// Enslaves a link to `master` (a bridge), or releases it with `None` (`nomaster`).
    pub fn set_master(&mut self, link: Link<'_>, master: Option<Link<'_>>) -> Result<()> {
        let (what, master_index) = match master {
            Some(ms) => {
                let what = format!("add link {link} to bridge {ms}");
                let i = self.resolve(ms).map_err(|e| e.context(&what))?;
                (what, i)
            }
            None => (format!("release link {link} from its master"), 0),
        };
        let mut m = link_msg(RTM_NEWLINK, 0, link, 0, 0);
        m.put_u32(IFLA_MASTER, master_index);
        self.conn.ack(m, &what)
    }

    /// Sets a link's MTU.
    pub fn set_mtu(&mut self, link: Link<'_>, mtu: u32) -> Result<()> {
        let mut m = link_msg(RTM_NEWLINK, 0, link, 0, 0);
        m.put_u32(IFLA_MTU, mtu);
        self.conn.ack(m, &format_args!("set MTU of link {link} to {mtu}"))
    }

    /// Sets a link's hardware address.
    pub fn set_mac(&mut self, link: Link<'_>, mac: [u8; 6]) -> Result<()> {
        let mut m = link_msg(RTM_NEWLINK, 0, link, 0, 0);
        m.put(IFLA_ADDRESS, &mac);
        self.conn.ack(m, &format_args!("set MAC of link {link} to {}", Mac(mac)))
    }

    /// Adds an alternative name (`RTM_NEWLINKPROP`, Linux 5.5+), as nspawn does for the full
    /// name of a shortened interface.
    pub fn add_altname(&mut self, link: Link<'_>, altname: &str) -> Result<()> {
        let mut m = link_msg(RTM_NEWLINKPROP, NLM_F_CREATE | NLM_F_EXCL | NLM_F_APPEND, link, 0, 0);
        let list = m.nest(IFLA_PROP_LIST | NLA_F_NESTED);
        m.put_str(IFLA_ALT_IFNAME, altname);
        m.end_nest(list);
        self.conn.ack(m, &format_args!("add altname {altname} to link {link}"))
    }

    /// Deletes an alternative name (`RTM_DELLINKPROP`, as `ip link property del ... altname`).
    pub fn delete_altname(&mut self, link: Link<'_>, altname: &str) -> Result<()> {
        let mut m = link_msg(RTM_DELLINKPROP, 0, link, 0, 0);
        let list = m.nest(IFLA_PROP_LIST | NLA_F_NESTED);
        m.put_str(IFLA_ALT_IFNAME, altname);
        m.end_nest(list);
        self.conn.ack(m, &format_args!("delete altname {altname} of link {link}"))
    }

    /// Lists every link in the namespace (`RTM_GETLINK` dump).
    pub fn list_links(&mut self) -> Result<Vec<LinkInfo>> {
        retry_dump(|| {
            let mut m = Msg::new(RTM_GETLINK, NLM_F_DUMP);
            m.header(&ifinfomsg(0, 0, 0));
            m.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
            let mut links = Vec::new();
            self.conn.dump(m, &"list links", &mut |h| {
                if h.ty == RTM_NEWLINK {
                    links.push(parse_link(h.payload).ok_or_else(|| malformed(&"list links"))?);
                }
                Ok(())
            })?;
            Ok(links)
        })
    }
}

/// Parses one `RTM_NEWLINK` payload (ifinfomsg + attributes).
pub fn parse_link(p: &[u8]) -> Option<LinkInfo> {
    let mut l = LinkInfo {
        index: nl::read_u32(p, 4)?,
        name: String::new(),
        flags: nl::read_u32(p, 8)?,
        master: None,
        kind: None,
        mac: None,
        altnames: Vec::new(),
        mtu: None,
        vxlan_link: None,
    };
    for (ty, v) in nl::attrs(p.get(16..)?) {
        match ty {
            IFLA_IFNAME => l.name = nl::attr_str(v)?.to_string(),
            IFLA_MASTER => l.master = nl::read_u32(v, 0).filter(|&m| m != 0),
            IFLA_ADDRESS => l.mac = <[u8; 6]>::try_from(v).ok(),
            IFLA_MTU => l.mtu = nl::read_u32(v, 0),
            IFLA_LINKINFO => {
                l.kind = nl::attrs(v)
                    .find(|(t, _)| *t == IFLA_INFO_KIND)
                    .and_then(|(_, k)| nl::attr_str(k))
                    .map(str::to_string);
                if l.kind.as_deref() == Some("vxlan") {
                    l.vxlan_link = nl::attrs(v)
                        .find(|(t, _)| *t == IFLA_INFO_DATA)
                        .and_then(|(_, d)| nl::attrs(d).find(|(t, _)| *t == IFLA_VXLAN_LINK))
                        .and_then(|(_, i)| nl::read_u32(i, 0))
                        .filter(|&i| i != 0);
                }
            }
            IFLA_PROP_LIST => {
                for (t, n) in nl::attrs(v) {
                    if t == IFLA_ALT_IFNAME {
                        l.altnames.push(nl::attr_str(n)?.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    if l.name.is_empty() {
        return None;
    }
    Some(l)
}

impl LinkInfo {
    /// Whether the link answers to `name`, as its name or one of its altnames.
    pub fn has_name(&self, name: &str) -> bool {
        self.name == name || self.altnames.iter().any(|a| a == name)
    }

    /// Whether the link is administratively up.
    pub fn is_up(&self) -> bool {
        self.flags & IFF_UP != 0
    }
}

/// Whether `e` is `ENODEV`: the link is already gone (cleanup treats that as done).
pub fn is_no_device(e: &Error) -> bool {
    e.errno() == Some(19)
}
