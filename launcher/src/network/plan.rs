//! The network plan of one container, pure: from `NetSpec` and the machine name to the links
//! to create (names and MACs exactly as nspawn derives them), the interfaces to move, the
//! address pool, NAT and port forwards. Everything here is checked before anything is created.

use crate::error::{Error, Result};
use crate::settings::{InterfacePair, NetworkAddress, PortForward};
use crate::spec::NetSpec;
use netsetup::{derive_ifname, generate_mac, IfName, Ipv4Net, LinkInfo, MacKey, DEFAULT_POOL, DEFAULT_PREFIX_LEN};

/// What the main veth's host side is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Master {
    /// `--network-bridge=BR`: an existing bridge.
    Bridge(String),
    /// `--network-zone=Z`: the bridge `vz-Z`, created on first use.
    Zone(String),
}

impl Master {
    /// The bridge's interface name.
    pub fn bridge(&self) -> String {
        match self {
            Master::Bridge(b) => b.clone(),
            Master::Zone(z) => zone_bridge(z),
        }
    }
}

/// The zone bridge's name, `vz-Z`.
pub fn zone_bridge(zone: &str) -> String {
    format!("vz-{zone}")
}

/// `-n`, `--network-bridge`, `--network-zone`: `ve-NAME` (or `vb-NAME`) and `host0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethPlan {
    pub host: IfName,
    pub host_mac: [u8; 6],
    pub container_mac: [u8; 6],
    pub master: Option<Master>,
}

/// The container side of the main veth.
pub const CONTAINER_IFNAME: &str = "host0";

/// `--network-veth-extra=HOST[:CONT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraVeth {
    pub host: String,
    pub container: String,
    pub host_mac: [u8; 6],
    pub container_mac: [u8; 6],
}

/// `--network-macvlan=`/`--network-ipvlan=`: a link on `parent` created in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sublink {
    pub parent: String,
    /// Its name in the container: CONT, or `mv-IF`/`iv-IF` shortened as nspawn does.
    pub name: IfName,
    /// macvlan only (ipvlan shares the parent's MAC).
    pub mac: Option<[u8; 6]>,
}

/// `--network-interface=HOST[:CONT]`: moved in, moved back (and renamed back) on exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub host: String,
    pub container: String,
}

impl Moved {
    /// The option as given, for messages.
    pub fn option(&self) -> String {
        if self.container == self.host {
            format!("--network-interface={}", self.host)
        } else {
            format!("--network-interface={}:{}", self.host, self.container)
        }
    }
}

/// A `--network-interface=` resolved against the host's links, as nspawn's
/// `resolve_network_interface_names` does: the link may be named by one of its altnames, and a
/// container name that is already one of the link's names (its name or an altname, which moves
/// with it) keeps the link's name, since the kernel refuses a rename to a name in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lending {
    /// `--network-interface=...` as given.
    pub option: String,
    /// The host's link as it is now.
    pub link: LinkInfo,
    /// Its name in the container.
    pub container: String,
}

/// Resolves every `--network-interface=` against the host's `links` and checks, before
/// anything moves, that each name and altname will exist once in the container. A name taken
/// on the host does not matter: the rename happens inside the container, and the link comes
/// back under its host name.
pub fn resolve_interfaces(p: &Plan, links: &[LinkInfo]) -> Result<Vec<Lending>> {
    let mut out: Vec<Lending> = Vec::new();
    for m in &p.interfaces {
        let option = m.option();
        let Some(link) = links.iter().find(|l| l.has_name(&m.host)) else {
            return Err(Error::msg(format!("{option}: no network interface {} on the host", m.host)));
        };
        if out.iter().any(|o| o.link.index == link.index) {
            return Err(Error::msg(format!("{option}: {} is given to the container twice", link.name)));
        }
        // The kernel deletes a vxlan whose link leaves the namespace: it would be lost.
        if let Some(v) = links.iter().find(|l| l.vxlan_link == Some(link.index)) {
            return Err(Error::msg(format!(
                "{option}: vxlan {} runs over {} and would be deleted by the move",
                v.name, link.name
            )));
        }
        let container = if link.has_name(&m.container) { link.name.clone() } else { m.container.clone() };
        out.push(Lending { option, link: link.clone(), container });
    }
    check_container_names(p, &out)?;
    Ok(out)
}

/// Every name and altname the container's links will have, with the link each belongs to:
/// each must be unique in the namespace.
fn check_container_names(p: &Plan, lent: &[Lending]) -> Result<()> {
    let mut names: Vec<(&str, &str)> = vec![("lo", "lo")];
    if p.veth.is_some() {
        names.push((CONTAINER_IFNAME, CONTAINER_IFNAME));
    }
    names.extend(p.extra.iter().map(|e| (e.container.as_str(), e.container.as_str())));
    for s in p.macvlan.iter().chain(&p.ipvlan) {
        names.push((&s.name.name, &s.name.name));
        if let Some(a) = &s.name.altname {
            names.push((a, &s.name.name));
        }
    }
    for l in lent {
        names.push((&l.container, &l.container));
        names.extend(l.link.altnames.iter().map(|a| (a.as_str(), l.container.as_str())));
    }
    for (i, (n, owner)) in names.iter().enumerate() {
        if let Some((_, other)) = names[..i].iter().find(|(m, _)| m == n) {
            let whose = match (n == owner, n == other) {
                (true, true) => String::new(),
                (false, _) => format!(" (an altname of {owner})"),
                (true, false) => format!(" (an altname of {other})"),
            };
            return Err(Error::msg(format!("network interface {n} would exist twice in the container{whose}")));
        }
    }
    Ok(())
}

/// Everything the network of one container consists of.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// A namespace of our own (false with `--network-namespace-path`: nothing is touched).
    pub own_namespace: bool,
    pub veth: Option<VethPlan>,
    pub extra: Vec<ExtraVeth>,
    pub macvlan: Vec<Sublink>,
    pub ipvlan: Vec<Sublink>,
    pub interfaces: Vec<Moved>,
    /// Automatic IPv4 addressing: the pool and the prefix length of one subnet.
    pub addressing: Option<(Ipv4Net, u8)>,
    pub nat: bool,
    pub ports: Vec<PortForward>,
    /// The ports forward to the container's own addresses, whatever it configures and as they
    /// change (`follow.rs`), rather than to its automatic address.
    pub follow: bool,
}

impl Plan {
    /// Whether the plan needs leases, locks or nft state under the runtime directory. Every
    /// container with a veth holds a lease: it also proves that no other running spawnbox has
    /// the machine's name, so a `ve-NAME` already there is a leftover of ours.
    pub fn needs_state(&self) -> bool {
        self.veth.is_some() || !self.extra.is_empty() || self.addressing.is_some() || self.nat || !self.ports.is_empty()
    }

    /// The zone, with `--network-zone`.
    pub fn zone(&self) -> Option<&str> {
        match self.veth.as_ref().and_then(|v| v.master.as_ref()) {
            Some(Master::Zone(z)) => Some(z),
            _ => None,
        }
    }

    /// Whether MACs are derived (and so the host's machine ID is needed).
    pub fn needs_machine_id(net: &NetSpec) -> bool {
        net.veth || !net.veth_extra.is_empty() || !net.macvlan.is_empty()
    }
}

fn container_name(p: &InterfacePair, prefix: &str) -> IfName {
    match &p.container {
        Some(c) => IfName { name: c.clone(), altname: None },
        None => derive_ifname(prefix, &p.host),
    }
}

/// The pool and subnet size of `--network-address=`; `None` for `off`.
pub fn address_pool(a: NetworkAddress) -> Option<(Ipv4Net, u8)> {
    match a {
        NetworkAddress::Off => None,
        NetworkAddress::Auto => Some((DEFAULT_POOL, DEFAULT_PREFIX_LEN)),
        NetworkAddress::Pool(addr, len) => Ipv4Net::new(addr, len).map(|n| (n, len.max(DEFAULT_PREFIX_LEN))),
    }
}

/// Builds the plan; `machine_id` is the host's (MACs are hashed from it, as nspawn does).
pub fn plan(net: &NetSpec, machine: &str, machine_id: &[u8; 16]) -> Result<Plan> {
    let mut p = Plan { own_namespace: net.new_namespace(), ..Plan::default() };
    if !p.own_namespace {
        return Ok(p);
    }
    if net.veth {
        let master = match (&net.bridge, &net.zone) {
            (Some(b), _) => Some(Master::Bridge(b.clone())),
            (None, Some(z)) => Some(Master::Zone(z.clone())),
            (None, None) => None,
        };
        let prefix = if master.is_some() { "vb-" } else { "ve-" };
        p.veth = Some(VethPlan {
            host: derive_ifname(prefix, machine),
            host_mac: generate_mac(machine_id, machine, MacKey::Host, 0),
            container_mac: net.container_mac.unwrap_or_else(|| generate_mac(machine_id, machine, MacKey::Container, 0)),
            master,
        });
        // The user's bridge is the user's network: no addresses of ours on it.
        if net.bridge.is_none() {
            p.addressing = address_pool(net.address);
        }
    }
    for (i, e) in net.veth_extra.iter().enumerate() {
        p.extra.push(ExtraVeth {
            host: e.host.clone(),
            container: e.container.clone().unwrap_or_else(|| e.host.clone()),
            host_mac: generate_mac(machine_id, machine, MacKey::VethExtraHost, i as u64),
            container_mac: generate_mac(machine_id, machine, MacKey::VethExtraContainer, i as u64),
        });
    }
    for (i, m) in net.macvlan.iter().enumerate() {
        p.macvlan.push(Sublink {
            parent: m.host.clone(),
            name: container_name(m, "mv-"),
            mac: Some(generate_mac(machine_id, machine, MacKey::Macvlan, i as u64)),
        });
    }
    for m in &net.ipvlan {
        p.ipvlan.push(Sublink { parent: m.host.clone(), name: container_name(m, "iv-"), mac: None });
    }
    for m in &net.interfaces {
        p.interfaces
            .push(Moved { host: m.host.clone(), container: m.container.clone().unwrap_or_else(|| m.host.clone()) });
    }
    p.nat = net.nat;
    p.ports = net.ports.clone();
    if p.addressing.is_none() {
        let why = if net.bridge.is_some() {
            "not with --network-bridge"
        } else if net.veth {
            "not with --network-address=off"
        } else {
            "use --network-veth or --network-zone"
        };
        if p.nat {
            return Err(Error::msg(format!("--network-nat=yes needs automatic addresses ({why})")));
        }
        // With a veth, ports follow the addresses the container gives host0 itself (nspawn
        // follows the container's addresses whatever configures them).
        p.follow = net.veth && !p.ports.is_empty();
        if let (Some(f), false) = (p.ports.first(), p.follow) {
            let proto = if f.udp { "udp" } else { "tcp" };
            return Err(Error::msg(format!(
                "--port={proto}:{}:{}: forwarding needs the container's automatic address ({why})",
                f.host_port, f.container_port
            )));
        }
    }
    let mut names: Vec<&str> = vec![];
    if p.veth.is_some() {
        names.push(CONTAINER_IFNAME);
    }
    names.extend(p.extra.iter().map(|e| e.container.as_str()));
    names.extend(p.macvlan.iter().chain(&p.ipvlan).map(|s| s.name.name.as_str()));
    names.extend(p.interfaces.iter().map(|m| m.container.as_str()));
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) || *n == "lo" {
            return Err(Error::msg(format!("network interface {n} would exist twice in the container")));
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const ID: [u8; 16] = [0x11; 16];

    fn net(f: impl FnOnce(&mut NetSpec)) -> NetSpec {
        let mut n = NetSpec { private_network: true, ..NetSpec::default() };
        f(&mut n);
        n
    }

    fn pair(h: &str, c: Option<&str>) -> InterfacePair {
        InterfacePair { host: h.into(), container: c.map(Into::into) }
    }

    #[test]
    fn private_network_alone_creates_nothing() {
        let p = plan(&net(|_| {}), "foo", &ID).unwrap();
        assert!(p.own_namespace && p.veth.is_none() && p.addressing.is_none() && !p.needs_state());
    }

    #[test]
    fn namespace_path_touches_nothing() {
        let n = NetSpec { namespace_path: Some("/run/netns/x".into()), private_network: true, ..NetSpec::default() };
        assert_eq!(plan(&n, "foo", &ID).unwrap(), Plan::default());
    }

    #[test]
    fn veth_names_macs_and_default_pool() {
        let p = plan(&net(|n| n.veth = true), "foo", &ID).unwrap();
        let v = p.veth.unwrap();
        assert_eq!(v.host, IfName { name: "ve-foo".into(), altname: None });
        assert_eq!(v.host_mac, generate_mac(&ID, "foo", MacKey::Host, 0));
        assert_eq!(v.container_mac, generate_mac(&ID, "foo", MacKey::Container, 0));
        assert_eq!(p.addressing, Some((DEFAULT_POOL, 28)));
    }

    #[test]
    fn long_machine_names_are_shortened_with_altname() {
        let p = plan(&net(|n| n.veth = true), "a-very-long-machine-name", &ID).unwrap();
        let v = p.veth.unwrap();
        assert_eq!(v.host.name.len(), 15);
        assert!(v.host.name.starts_with("ve-a-very-l"));
        assert_eq!(v.host.altname.as_deref(), Some("ve-a-very-long-machine-name"));
    }

    #[test]
    fn bridge_and_zone_use_vb_and_only_zone_gets_addresses() {
        let b = plan(
            &net(|n| {
                n.veth = true;
                n.bridge = Some("br0".into())
            }),
            "foo",
            &ID,
        )
        .unwrap();
        assert_eq!(b.veth.as_ref().unwrap().host.name, "vb-foo");
        assert_eq!(b.addressing, None);
        let z = plan(
            &net(|n| {
                n.veth = true;
                n.zone = Some("lab".into())
            }),
            "foo",
            &ID,
        )
        .unwrap();
        assert_eq!(z.zone(), Some("lab"));
        assert_eq!(z.veth.unwrap().master.unwrap().bridge(), "vz-lab");
        assert!(z.addressing.is_some());
    }

    #[test]
    fn address_pools() {
        assert_eq!(address_pool(NetworkAddress::Off), None);
        let p = address_pool(NetworkAddress::Pool(Ipv4Addr::new(192, 168, 5, 0), 24)).unwrap();
        assert_eq!((p.0.to_string().as_str(), p.1), ("192.168.5.0/24", 28));
        let small = address_pool(NetworkAddress::Pool(Ipv4Addr::new(192, 168, 5, 8), 30)).unwrap();
        assert_eq!(small.1, 30);
    }

    #[test]
    fn extra_macvlan_ipvlan_interfaces() {
        let p = plan(
            &net(|n| {
                n.veth_extra = vec![pair("xh", Some("xc")), pair("yh", None)];
                n.macvlan = vec![pair("eth0", None), pair("eth1", Some("lan"))];
                n.ipvlan = vec![pair("a-long-interface", None)];
                n.interfaces = vec![pair("dummy0", Some("d0"))];
            }),
            "foo",
            &ID,
        )
        .unwrap();
        assert_eq!(p.extra[1].container, "yh");
        assert_eq!(p.extra[1].host_mac, generate_mac(&ID, "foo", MacKey::VethExtraHost, 1));
        assert_eq!(p.macvlan[0].name.name, "mv-eth0");
        assert_eq!(p.macvlan[1].name.name, "lan");
        assert_eq!(p.macvlan[1].mac, Some(generate_mac(&ID, "foo", MacKey::Macvlan, 1)));
        assert_eq!(p.ipvlan[0].name.altname.as_deref(), Some("iv-a-long-interface"));
        assert_eq!(p.interfaces[0], Moved { host: "dummy0".into(), container: "d0".into() });
        assert!(p.needs_state(), "the extra veths need the machine's lease");
    }

    #[test]
    fn nat_and_ports_need_addresses() {
        let port = PortForward { udp: false, host_port: 8080, container_port: 80 };
        let e = plan(&net(|n| n.nat = true), "foo", &ID).unwrap_err();
        assert_eq!(e.to_string(), "--network-nat=yes needs automatic addresses (use --network-veth or --network-zone)");
        let e = plan(
            &net(|n| {
                n.veth = true;
                n.address = NetworkAddress::Off;
                n.nat = true;
            }),
            "foo",
            &ID,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "--network-nat=yes needs automatic addresses (not with --network-address=off)");
        // Without host0 there is nothing to follow.
        let e = plan(
            &net(|n| {
                n.macvlan = vec![pair("eth0", None)];
                n.ports = vec![port];
            }),
            "foo",
            &ID,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--port=tcp:8080:80: forwarding needs the container's automatic address (use --network-veth or --network-zone)"
        );
        let ok = plan(
            &net(|n| {
                n.veth = true;
                n.nat = true;
                n.ports = vec![port];
            }),
            "foo",
            &ID,
        )
        .unwrap();
        assert!(ok.needs_state() && !ok.follow);
    }

    #[test]
    fn ports_without_automatic_addresses_follow_the_containers_own() {
        let port = PortForward { udp: true, host_port: 53, container_port: 53 };
        for f in [|n: &mut NetSpec| n.address = NetworkAddress::Off, |n: &mut NetSpec| n.bridge = Some("br0".into())] {
            let p = plan(
                &net(|n| {
                    n.veth = true;
                    n.ports = vec![port];
                    f(n);
                }),
                "foo",
                &ID,
            )
            .unwrap();
            assert!(p.follow && p.addressing.is_none() && p.needs_state(), "{p:?}");
        }
        let p = plan(&net(|n| n.veth = true), "foo", &ID).unwrap();
        assert!(!p.follow, "no ports, nothing to follow");
    }

    fn link(index: u32, name: &str, altnames: &[&str]) -> LinkInfo {
        LinkInfo {
            index,
            name: name.into(),
            flags: 0,
            master: None,
            kind: Some("veth".into()),
            mac: None,
            altnames: altnames.iter().map(|a| a.to_string()).collect(),
            mtu: Some(1500),
            vxlan_link: None,
        }
    }

    fn lend(ifaces: &[(&str, Option<&str>)], f: impl FnOnce(&mut NetSpec), links: &[LinkInfo]) -> Result<Vec<Lending>> {
        let p = plan(
            &net(|n| {
                n.interfaces = ifaces.iter().map(|(h, c)| pair(h, *c)).collect();
                f(n)
            }),
            "foo",
            &ID,
        )?;
        resolve_interfaces(&p, links)
    }

    #[test]
    fn interfaces_resolve_altnames_as_nspawn() {
        let host = [link(1, "lo", &[]), link(5, "sd-shared3", &["sd-altname3"]), link(6, "sd-peer3", &[])];
        // Renaming to one of its own altnames keeps the name (the altname moves with it).
        let l = lend(&[("sd-shared3", Some("sd-altname3"))], |_| {}, &host).unwrap();
        assert_eq!((l[0].link.index, l[0].container.as_str()), (5, "sd-shared3"));
        assert_eq!(l[0].option, "--network-interface=sd-shared3:sd-altname3");
        // Named by its altname: moved under its name.
        let l = lend(&[("sd-altname3", None)], |_| {}, &host).unwrap();
        assert_eq!((l[0].link.name.as_str(), l[0].container.as_str()), ("sd-shared3", "sd-shared3"));
        let l = lend(&[("sd-altname3", Some("inside0"))], |_| {}, &host).unwrap();
        assert_eq!(l[0].container, "inside0");
        // A name taken on the host does not matter: the rename happens in the container.
        let l = lend(&[("sd-shared3", Some("sd-peer3"))], |_| {}, &host).unwrap();
        assert_eq!(l[0].container, "sd-peer3");
    }

    #[test]
    fn interfaces_are_refused_before_anything_moves() {
        let host = [
            link(5, "tif0", &["tif0-alt"]),
            link(6, "tif1", &[]),
            link(8, "tif2", &[]),
            LinkInfo { kind: Some("vxlan".into()), vxlan_link: Some(8), ..link(7, "vx0", &[]) },
        ];
        let err =
            |ifaces: &[(&str, Option<&str>)], f: fn(&mut NetSpec)| lend(ifaces, f, &host).unwrap_err().to_string();
        assert_eq!(err(&[("nope", None)], |_| {}), "--network-interface=nope: no network interface nope on the host");
        assert_eq!(
            err(&[("tif0", None), ("tif0-alt", Some("x"))], |_| {}),
            "--network-interface=tif0-alt:x: tif0 is given to the container twice"
        );
        assert_eq!(
            err(&[("tif2", None)], |_| {}),
            "--network-interface=tif2: vxlan vx0 runs over tif2 and would be deleted by the move"
        );
        // The link's altname would collide with another link's name in the container.
        assert_eq!(
            err(&[("tif0", None)], |n| n.macvlan = vec![pair("eth0", Some("tif0-alt"))]),
            "network interface tif0-alt would exist twice in the container (an altname of tif0)"
        );
        assert_eq!(
            err(&[("tif0", Some("host0"))], |n| n.veth = true),
            "network interface host0 would exist twice in the container"
        );
        assert_eq!(
            err(&[("tif0", Some("inside0")), ("tif1", Some("tif0-alt"))], |_| {}),
            "network interface tif0-alt would exist twice in the container (an altname of inside0)"
        );
        assert_eq!(err(&[("tif0", Some("lo"))], |_| {}), "network interface lo would exist twice in the container");
    }

    #[test]
    fn duplicate_container_names_are_refused() {
        let e = plan(
            &net(|n| {
                n.veth = true;
                n.interfaces = vec![pair("eth1", Some("host0"))];
            }),
            "foo",
            &ID,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "network interface host0 would exist twice in the container");
    }
}
