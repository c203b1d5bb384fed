//! The network plan of one container, pure: from `NetSpec` and the machine name to the links
//! to create (names and MACs exactly as nspawn derives them), the interfaces to move, the
//! address pool, NAT and port forwards. Everything here is checked before anything is created.

use crate::error::{Error, Result};
use crate::settings::{InterfacePair, NetworkAddress, PortForward};
use crate::spec::NetSpec;
use netsetup::{derive_ifname, generate_mac, IfName, Ipv4Net, MacKey, DEFAULT_POOL, DEFAULT_PREFIX_LEN};

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
            container_mac: generate_mac(machine_id, machine, MacKey::Container, 0),
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
        if let Some(f) = p.ports.first() {
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
                n.ports = vec![port];
            }),
            "foo",
            &ID,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--port=tcp:8080:80: forwarding needs the container's automatic address (not with --network-address=off)"
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
        assert!(ok.needs_state());
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
