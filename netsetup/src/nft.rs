//! spawnbox's own nftables tables, `ip spawnbox` and `ip6 spawnbox`, over `NETLINK_NETFILTER`:
//! create and delete them, masquerade a container subnet, forward host ports to containers
//! (DNAT), list and delete rules, replace a container's forwards. Every change is one atomic
//! nfnetlink batch (a batch may span both tables). No other table is ever touched. The `ip6`
//! table has the same three chains; its rules read `ip6 saddr fd..::/64 masquerade` and
//! `ip6 daddr != ::1 fib daddr type local tcp dport 8080 dnat to [fd..::2]:80`.
//!
//! ```text
//! table ip spawnbox {
//!     chain postrouting { type nat hook postrouting priority srcnat; policy accept;
//!         ip saddr 10.0.0.16/28 masquerade comment "foo" }
//!     chain prerouting { type nat hook prerouting priority dstnat; policy accept;
//!         fib daddr type local tcp dport 8080 dnat to 10.0.0.18:80 comment "foo" }
//!     chain output { type nat hook output priority -100; policy accept;
//!         ip daddr != 127.0.0.0/8 fib daddr type local tcp dport 8080 dnat to 10.0.0.18:80 comment "foo" }
//! }
//! ```

use crate::conn::{malformed, Conn};
use crate::error::{Error, Result};
use crate::nft_expr as x;
use crate::nl::{self, Msg, NLA_F_NESTED, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO};
use crate::pool::Ipv4Net;
use crate::socket::{Family, Socket, Transport};
use rustix::fd::OwnedFd;
use rustix::net::netlink::SocketAddrNetlink;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The tables' name, in families `ip` and `ip6` (NAT in those works on every kernel with
/// nf_tables, while `inet` NAT needs Linux 5.2).
pub const TABLE: &str = "spawnbox";

/// The family of one of the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NftFamily {
    /// `table ip spawnbox` (`NFPROTO_IPV4`).
    Ip,
    /// `table ip6 spawnbox` (`NFPROTO_IPV6`).
    Ip6,
}

impl NftFamily {
    /// Both, `ip` first.
    pub const ALL: [NftFamily; 2] = [NftFamily::Ip, NftFamily::Ip6];

    /// The family of an address.
    pub fn of(a: &IpAddr) -> NftFamily {
        if a.is_ipv4() {
            NftFamily::Ip
        } else {
            NftFamily::Ip6
        }
    }

    /// `ip` or `ip6`, as nft writes it.
    pub fn name(self) -> &'static str {
        match self {
            NftFamily::Ip => "ip",
            NftFamily::Ip6 => "ip6",
        }
    }

    /// `""` or `"ip6 "`: what messages put before a chain's name (the `ip` table's messages
    /// read as they did before there was an `ip6` one).
    fn prefix(self) -> &'static str {
        match self {
            NftFamily::Ip => "",
            NftFamily::Ip6 => "ip6 ",
        }
    }

    fn nfproto(self) -> u8 {
        match self {
            NftFamily::Ip => NFPROTO_IPV4,
            NftFamily::Ip6 => NFPROTO_IPV6,
        }
    }
}

const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFT_MSG_DELRULE: u16 = 8;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_TABLE_FLAGS: u16 = 2;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_USERDATA: u16 = 7;
/// `NFTNL_UDATA_RULE_COMMENT`: the TLV type nft uses for `comment "..."`.
const UDATA_RULE_COMMENT: u8 = 0;
/// nft's comment limit (`NFTNL_UDATA_COMMENT_MAXLEN`), including the NUL.
const COMMENT_MAXLEN: usize = 128;
const NF_ACCEPT: u32 = 1;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
const ENOENT: i32 = 2;
const EINVAL: i32 = 22;

/// One of the table's three base chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    /// `type nat hook postrouting priority srcnat` (100): masquerade.
    Postrouting,
    /// `type nat hook prerouting priority dstnat` (-100): DNAT of arriving traffic.
    Prerouting,
    /// `type nat hook output priority -100`: DNAT of the host's own traffic to its addresses.
    Output,
}

impl Chain {
    const ALL: [Chain; 3] = [Chain::Postrouting, Chain::Prerouting, Chain::Output];

    /// The chain's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Chain::Postrouting => "postrouting",
            Chain::Prerouting => "prerouting",
            Chain::Output => "output",
        }
    }

    fn from_name(s: &str) -> Option<Chain> {
        Chain::ALL.into_iter().find(|c| c.name() == s)
    }

    /// (`NF_INET_*` hook number, priority).
    fn hook(self) -> (u32, i32) {
        match self {
            Chain::Postrouting => (4, 100),
            Chain::Prerouting => (0, -100),
            Chain::Output => (3, -100),
        }
    }
}

/// A rule the kernel created, for deleting it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleHandle {
    /// The table holding it.
    pub family: NftFamily,
    /// The chain holding it.
    pub chain: Chain,
    /// The kernel's handle (`nft -a list table ip spawnbox` shows it).
    pub handle: u64,
}

/// A rule found by [`Nft::list_rules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// Chain and handle.
    pub rule: RuleHandle,
    /// The rule's comment, which spawnbox sets to the owner's tag.
    pub tag: Option<String>,
}

/// `tcp` or `udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// `IPPROTO_TCP`.
    Tcp,
    /// `IPPROTO_UDP`.
    Udp,
}

impl Proto {
    fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// `-p [tcp|udp:]HOST[:CONT]` once the container's address is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortForward {
    /// Protocol.
    pub proto: Proto,
    /// Port on the host's addresses.
    pub host_port: u16,
    /// The container's address: an IPv4 address forwards in `ip spawnbox`, an IPv6 one in
    /// `ip6 spawnbox`.
    pub addr: IpAddr,
    /// Port in the container.
    pub port: u16,
}

/// A rule to add: what [`Nft::add`] and [`Nft::replace`] take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `ip saddr NET masquerade` (or `ip6 saddr`): the prefix's address and length.
    Masquerade(IpAddr, u8),
    /// A port forward: one rule in prerouting and one in output.
    Forward(PortForward),
}

/// An nfnetlink connection for the `ip spawnbox` table.
#[derive(Debug)]
pub struct Nft<T: Transport = Socket> {
    conn: Conn<T>,
}

/// `nlmsghdr` type for an nf_tables message, and the `nfgenmsg` for the table's family.
fn nft_msg(family: NftFamily, msg: u16, flags: u16) -> Msg {
    let mut m = Msg::new((10 << 8) | msg, flags); // NFNL_SUBSYS_NFTABLES
    m.header(&[family.nfproto(), 0, 0, 0]);
    m
}

fn rule_msg(family: NftFamily, chain: Chain, tag: &str, exprs: &dyn Fn(&mut Msg)) -> Result<Msg> {
    if tag.len() >= COMMENT_MAXLEN || tag.contains('\0') {
        return Err(Error::sys(format_args!("add rule tagged {tag:?}"), EINVAL));
    }
    let mut m = nft_msg(family, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ECHO);
    m.put_str(NFTA_RULE_TABLE, TABLE);
    m.put_str(NFTA_RULE_CHAIN, chain.name());
    let list = m.nest(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED);
    exprs(&mut m);
    m.end_nest(list);
    let mut udata = vec![UDATA_RULE_COMMENT, (tag.len() + 1) as u8];
    udata.extend_from_slice(tag.as_bytes());
    udata.push(0);
    m.put(NFTA_RULE_USERDATA, &udata);
    Ok(m)
}

impl Nft<Socket> {
    /// Opens an nfnetlink socket in the calling thread's network namespace.
    pub fn open() -> Result<Nft<Socket>> {
        Ok(Nft::with_transport(Socket::open(Family::Netfilter)?))
    }

    /// The socket, for a caller that closes it where the wait does not matter: the last close
    /// of an nfnetlink socket after a ruleset change waits for nf_tables' transaction cleanup
    /// (an RCU grace period, about 20 ms; docs/NETWORKING.md), although the change itself is
    /// already committed.
    pub fn into_fd(self) -> OwnedFd {
        self.conn.into_transport().into_fd()
    }
}

/// nfnetlink's multicast group of nf_tables ruleset events (`NFNLGRP_NFTABLES`).
const NFNLGRP_NFTABLES: u32 = 7;

/// Waits, on the nfnetlink socket `fd` that is about to be closed, until nf_tables has been
/// quiet for an RCU grace period, at most `rounds` grace periods. Closing an nfnetlink socket
/// flushes the netns's transaction-destroy work while holding its commit mutex; that work runs
/// after every commit (anyone's) and waits a grace period itself. Closed when no commit
/// happened during a grace period of ours, the socket finds that work idle and takes the mutex
/// for no time, so it holds up no other container's start. The socket joins the ruleset event
/// group to see commits; `membarrier(MEMBARRIER_CMD_GLOBAL)` waits one grace period (it
/// returns at once on one CPU, where the kernel's wait is as short). Errors end the wait.
pub fn wait_for_quiet(fd: &OwnedFd, rounds: u32) {
    use rustix::net::{bind, getsockname, recv, RecvFlags};
    let Ok(Ok(me)) = getsockname(fd).map(SocketAddrNetlink::try_from) else { return };
    if bind(fd, &SocketAddrNetlink::new(me.pid(), 1 << (NFNLGRP_NFTABLES - 1))).is_err() {
        return;
    }
    let mut buf = [0u8; 256];
    for _ in 0..rounds {
        if rustix::thread::membarrier(rustix::thread::MembarrierCommand::Global).is_err() {
            return;
        }
        // Drained as it comes; a flood of events counts as busy without reading it all.
        let mut busy = false;
        for _ in 0..1024 {
            match recv(fd, &mut buf[..], RecvFlags::DONTWAIT | RecvFlags::TRUNC) {
                Ok(_) | Err(rustix::io::Errno::NOBUFS) => busy = true,
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
        }
        if !busy {
            return;
        }
    }
}

impl<T: Transport> Nft<T> {
    /// An nftables connection over any transport (tests pass a [`crate::Replay`]).
    pub fn with_transport(transport: T) -> Nft<T> {
        Nft { conn: Conn::new(transport) }
    }

    /// The underlying transport.
    pub fn transport(&self) -> &T {
        self.conn.transport()
    }

    /// Creates `table ip spawnbox` and its three nat chains if missing; existing ones are
    /// left as they are, so this is safe at every start (e.g. after a ruleset flush).
    pub fn ensure_table(&mut self) -> Result<()> {
        self.ensure_table_of(NftFamily::Ip)
    }

    /// [`Nft::ensure_table`] for the table of `family`.
    pub fn ensure_table_of(&mut self, family: NftFamily) -> Result<()> {
        self.ensure_tables(&[family])
    }

    /// [`Nft::ensure_table`] for the tables of `families`, in one batch (one commit).
    pub fn ensure_tables(&mut self, families: &[NftFamily]) -> Result<()> {
        let mut msgs = Vec::with_capacity(4 * families.len());
        for family in families {
            table_msgs(*family, &mut msgs);
        }
        self.conn.batch(msgs, &mut |_, _| Ok(()))
    }

    /// Deletes `table ip spawnbox` with everything in it; a missing table is not an error.
    pub fn delete_table(&mut self) -> Result<()> {
        self.delete_table_of(NftFamily::Ip)
    }

    /// [`Nft::delete_table`] for the table of `family`.
    pub fn delete_table_of(&mut self, family: NftFamily) -> Result<()> {
        self.delete_tables(&[family])
    }

    /// [`Nft::delete_table`] for the tables of `families`, in one batch; when one of them is
    /// missing (which fails the whole batch), one by one.
    pub fn delete_tables(&mut self, families: &[NftFamily]) -> Result<()> {
        let msg = |family: NftFamily| {
            let mut m = nft_msg(family, NFT_MSG_DELTABLE, 0);
            m.put_str(NFTA_TABLE_NAME, TABLE);
            (m, format!("delete table {} {TABLE}", family.name()))
        };
        match self.conn.batch(families.iter().map(|f| msg(*f)).collect(), &mut |_, _| Ok(())) {
            Err(e) if e.errno() == Some(ENOENT) && families.len() > 1 => {
                families.iter().try_for_each(|f| self.delete_tables(&[*f]))
            }
            Err(e) if e.errno() == Some(ENOENT) => Ok(()),
            r => r,
        }
    }

    /// Deletes every rule of `table ip spawnbox`, keeping the table and its chains.
    pub fn flush_table(&mut self) -> Result<()> {
        let mut m = nft_msg(NftFamily::Ip, NFT_MSG_DELRULE, 0);
        m.put_str(NFTA_RULE_TABLE, TABLE);
        self.conn.batch(vec![(m, format!("flush table ip {TABLE}"))], &mut |_, _| Ok(()))
    }

    /// Sends `del` (deletions) and then `rules` as one batch and returns the new rules'
    /// handles, read from the kernel's echo.
    fn commit(&mut self, del: &[RuleHandle], rules: Vec<(RuleHandle, Msg, String)>) -> Result<Vec<RuleHandle>> {
        let first = del.len();
        let mut slots: Vec<RuleHandle> = rules.iter().map(|r| r.0).collect();
        let mut echoed = vec![false; rules.len()];
        let mut msgs: Vec<(Msg, String)> = del.iter().map(delete_msg).collect();
        msgs.extend(rules.into_iter().map(|(_, m, w)| (m, w)));
        self.conn.batch(msgs, &mut |i, h| {
            if h.ty == (10 << 8) | NFT_MSG_NEWRULE {
                let slot = i.checked_sub(first).and_then(|i| slots.get_mut(i).zip(echoed.get_mut(i)));
                if let (Some((slot, seen)), Some(handle)) = (slot, parse_handle(h.payload)) {
                    slot.handle = handle;
                    *seen = true;
                }
            }
            Ok(())
        })?;
        slots
            .into_iter()
            .zip(echoed)
            .map(|(r, seen)| match seen {
                true => Ok(r),
                false => Err(malformed(&format_args!("add rule to chain {}{}", r.family.prefix(), r.chain.name()))),
            })
            .collect()
    }

    /// The messages of `rules`, each with the handle it will get filled in later.
    fn rule_msgs(rules: &[Rule], tag: &str) -> Result<Vec<(RuleHandle, Msg, String)>> {
        let mut out = Vec::with_capacity(rules.len() * 2);
        for r in rules {
            match *r {
                Rule::Masquerade(addr, len) => {
                    let family = NftFamily::of(&addr);
                    let m = rule_msg(family, Chain::Postrouting, tag, &|m| {
                        x::match_prefix(m, x::SADDR, x::CMP_EQ, addr, len);
                        x::masq(m);
                    })?;
                    let h = RuleHandle { family, chain: Chain::Postrouting, handle: 0 };
                    out.push((h, m, format!("add masquerade for {}", Prefix(addr, len))));
                }
                Rule::Forward(f) => {
                    let family = NftFamily::of(&f.addr);
                    let to = match f.addr {
                        IpAddr::V4(a) => format!("{a}:{}", f.port),
                        IpAddr::V6(a) => format!("[{a}]:{}", f.port),
                    };
                    let what = format!("forward {} port {} to {to}", f.proto.name(), f.host_port);
                    for chain in [Chain::Prerouting, Chain::Output] {
                        let m = rule_msg(family, chain, tag, &|m| {
                            if chain == Chain::Output {
                                let (lo, len) = loopback(family);
                                x::match_prefix(m, x::DADDR, x::CMP_NEQ, lo, len);
                            }
                            x::match_local_daddr(m);
                            x::match_l4_dport(m, f.proto.number(), f.host_port);
                            x::dnat_to(m, f.addr, f.port);
                        })?;
                        out.push((RuleHandle { family, chain, handle: 0 }, m, what.clone()));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Adds `rules` (each in the table of its address's family, which must exist) as one
    /// batch; handles in the same order (a forward has two: prerouting, output).
    pub fn add(&mut self, rules: &[Rule], tag: &str) -> Result<Vec<RuleHandle>> {
        self.replace(&[], rules, tag)
    }

    /// Deletes `old` and adds `new` in one batch, so that no packet sees a state in between
    /// (a container's forwards following its address). Returns the new handles.
    pub fn replace(&mut self, old: &[RuleHandle], new: &[Rule], tag: &str) -> Result<Vec<RuleHandle>> {
        let msgs = Self::rule_msgs(new, tag)?;
        self.commit(old, msgs)
    }

    /// `ip saddr SUBNET masquerade comment TAG` in postrouting.
    pub fn add_masquerade(&mut self, subnet: Ipv4Net, tag: &str) -> Result<RuleHandle> {
        let mut h = self.add(&[Rule::Masquerade(subnet.addr().into(), subnet.prefix_len())], tag)?;
        h.pop().ok_or_else(|| malformed(&"add masquerade"))
    }

    /// For each forward, `fib daddr type local PROTO dport HOST dnat to ADDR:PORT` in
    /// prerouting and the same, excluding 127.0.0.0/8 destinations (`::1` in `ip6`), in
    /// output (as nspawn: `localhost:PORT` is not forwarded). One batch; handles in the same
    /// order.
    pub fn add_port_forwards(&mut self, fwds: &[PortForward], tag: &str) -> Result<Vec<RuleHandle>> {
        let rules: Vec<Rule> = fwds.iter().map(|f| Rule::Forward(*f)).collect();
        self.add(&rules, tag)
    }

    /// Deletes rules by handle, in one batch.
    pub fn delete_rules(&mut self, rules: &[RuleHandle]) -> Result<()> {
        self.commit(rules, Vec::new()).map(drop)
    }

    /// Lists the rules of `table ip spawnbox` with their tags; empty if the table does not
    /// exist.
    pub fn list_rules(&mut self) -> Result<Vec<RuleInfo>> {
        self.list_rules_of(NftFamily::Ip)
    }

    /// [`Nft::list_rules`] for the table of `family`.
    pub fn list_rules_of(&mut self, family: NftFamily) -> Result<Vec<RuleInfo>> {
        let mut m = nft_msg(family, NFT_MSG_GETRULE, NLM_F_DUMP);
        m.put_str(NFTA_RULE_TABLE, TABLE);
        let what = format!("list rules of table {} {TABLE}", family.name());
        let mut out = Vec::new();
        let r = self.conn.dump(m, &what, &mut |h| {
            if h.ty == (10 << 8) | NFT_MSG_NEWRULE {
                if let Some(info) = parse_rule(family, h.payload).ok_or_else(|| malformed(&what))? {
                    out.push(info);
                }
            }
            Ok(())
        });
        match r {
            Err(e) if e.errno() == Some(ENOENT) => Ok(Vec::new()),
            Err(e) => Err(e),
            Ok(()) => Ok(out),
        }
    }

    /// Deletes every rule of `table ip spawnbox` tagged `tag` (leftovers of a killed run);
    /// returns how many.
    pub fn delete_tagged(&mut self, tag: &str) -> Result<usize> {
        self.delete_tagged_of(NftFamily::Ip, tag)
    }

    /// [`Nft::delete_tagged`] in the table of `family`.
    pub fn delete_tagged_of(&mut self, family: NftFamily, tag: &str) -> Result<usize> {
        let rules: Vec<RuleHandle> =
            self.list_rules_of(family)?.into_iter().filter(|r| r.tag.as_deref() == Some(tag)).map(|r| r.rule).collect();
        if !rules.is_empty() {
            self.delete_rules(&rules)?;
        }
        Ok(rules.len())
    }
}

/// The messages that create the table of `family` and its chains if missing.
fn table_msgs(family: NftFamily, msgs: &mut Vec<(Msg, String)>) {
    let f = family.name();
    let mut t = nft_msg(family, NFT_MSG_NEWTABLE, 0);
    t.put_str(NFTA_TABLE_NAME, TABLE);
    t.put_be32(NFTA_TABLE_FLAGS, 0);
    msgs.push((t, format!("add table {f} {TABLE}")));
    for chain in Chain::ALL {
        let (hooknum, prio) = chain.hook();
        let mut c = nft_msg(family, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
        c.put_str(NFTA_CHAIN_TABLE, TABLE);
        c.put_str(NFTA_CHAIN_NAME, chain.name());
        c.put_str(NFTA_CHAIN_TYPE, "nat");
        c.put_be32(NFTA_CHAIN_POLICY, NF_ACCEPT);
        let hook = c.nest(NFTA_CHAIN_HOOK | NLA_F_NESTED);
        c.put_be32(NFTA_HOOK_HOOKNUM, hooknum);
        c.put_be32(NFTA_HOOK_PRIORITY, prio as u32);
        c.end_nest(hook);
        msgs.push((c, format!("add chain {f} {TABLE} {}", chain.name())));
    }
}

/// The loopback prefix the output chain leaves alone (`localhost:PORT` is not forwarded).
fn loopback(family: NftFamily) -> (IpAddr, u8) {
    match family {
        NftFamily::Ip => (Ipv4Addr::new(127, 0, 0, 0).into(), 8),
        NftFamily::Ip6 => (Ipv6Addr::LOCALHOST.into(), 128),
    }
}

/// `ADDR/LEN` for messages.
struct Prefix(IpAddr, u8);

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

/// `NFT_MSG_DELRULE` of one rule.
fn delete_msg(r: &RuleHandle) -> (Msg, String) {
    let mut m = nft_msg(r.family, NFT_MSG_DELRULE, 0);
    m.put_str(NFTA_RULE_TABLE, TABLE);
    m.put_str(NFTA_RULE_CHAIN, r.chain.name());
    m.put_be64(NFTA_RULE_HANDLE, r.handle);
    (m, format!("delete rule {} from chain {}{}", r.handle, r.family.prefix(), r.chain.name()))
}

/// The `NFTA_RULE_HANDLE` of a `NFT_MSG_NEWRULE` payload (after its 4-byte `nfgenmsg`).
fn parse_handle(p: &[u8]) -> Option<u64> {
    let (_, v) = nl::attrs(p.get(4..)?).find(|(t, _)| *t == NFTA_RULE_HANDLE)?;
    Some(u64::from_be_bytes(<[u8; 8]>::try_from(v).ok()?))
}

/// Parses a dumped rule: `Some(None)` for a rule of a chain that is not ours to know,
/// `None` if malformed.
fn parse_rule(family: NftFamily, p: &[u8]) -> Option<Option<RuleInfo>> {
    let mut table = None;
    let mut chain = None;
    let mut handle = None;
    let mut tag = None;
    for (ty, v) in nl::attrs(p.get(4..)?) {
        match ty {
            NFTA_RULE_TABLE => table = nl::attr_str(v),
            NFTA_RULE_CHAIN => chain = nl::attr_str(v),
            NFTA_RULE_HANDLE => handle = Some(u64::from_be_bytes(<[u8; 8]>::try_from(v).ok()?)),
            NFTA_RULE_USERDATA => tag = parse_comment(v),
            _ => {}
        }
    }
    let handle = handle?;
    if table? != TABLE {
        return Some(None);
    }
    let Some(chain) = Chain::from_name(chain?) else {
        return Some(None);
    };
    Some(Some(RuleInfo { rule: RuleHandle { family, chain, handle }, tag }))
}

/// The comment in nft's rule userdata TLVs (`{u8 type, u8 len, value}`).
fn parse_comment(mut u: &[u8]) -> Option<String> {
    while u.len() >= 2 {
        let (ty, len) = (u[0], usize::from(u[1]));
        let value = u.get(2..2 + len)?;
        if ty == UDATA_RULE_COMMENT {
            return nl::attr_str(value).map(str::to_string);
        }
        u = &u[2 + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_parse_from_userdata() {
        assert_eq!(parse_comment(b"\x00\x04foo\x00").as_deref(), Some("foo"));
        assert_eq!(parse_comment(b"\x01\x02ab\x00\x02x\x00").as_deref(), Some("x"));
        assert_eq!(parse_comment(b"\x00\x09foo"), None);
        assert_eq!(parse_comment(b""), None);
    }

    #[test]
    fn overlong_tags_are_refused() {
        let tag = "x".repeat(128);
        let e = rule_msg(NftFamily::Ip, Chain::Postrouting, &tag, &|_| {}).unwrap_err();
        assert_eq!(e.errno(), Some(22));
        assert!(rule_msg(NftFamily::Ip, Chain::Postrouting, &tag[..127], &|_| {}).is_ok());
    }
}
