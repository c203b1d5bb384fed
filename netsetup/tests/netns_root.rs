//! Root-only tests against the real kernel. Each runs in network namespaces it creates itself
//! (never the host's), and fails rather than skips without root.

mod common;

use common::{in_netns, in_new_netns, new_netns_fd};
use netsetup::*;
use rustix::fd::AsFd;
use std::net::{IpAddr, Ipv4Addr};

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn find<'a>(links: &'a [LinkInfo], name: &str) -> Option<&'a LinkInfo> {
    links.iter().find(|l| l.has_name(name))
}

#[test]
fn veth_into_a_second_netns_with_bridge_address_and_default_route() {
    let container = new_netns_fd();
    let host_mac = [0x02, 0, 0, 0, 0, 0x11];
    let peer_mac = [0x02, 0, 0, 0, 0, 0x12];
    in_new_netns(|| {
        let mut rt = Rtnl::open().unwrap();
        rt.create_veth(&Veth {
            name: "ve-test",
            mac: Some(host_mac),
            peer: "host0",
            peer_mac: Some(peer_mac),
            peer_netns: Some(Netns::Fd(container.as_fd())),
        })
        .unwrap();
        rt.create_bridge("vz-zone").unwrap();
        rt.set_master(Link::Name("ve-test"), Some(Link::Name("vz-zone"))).unwrap();
        rt.set_link_up(Link::Name("ve-test"), true).unwrap();
        rt.set_link_up(Link::Name("vz-zone"), true).unwrap();
        rt.add_address(Link::Name("vz-zone"), v4(10, 0, 0, 1), 28).unwrap();

        let links = rt.list_links().unwrap();
        let br = find(&links, "vz-zone").expect("bridge listed");
        let ve = find(&links, "ve-test").expect("veth listed");
        assert_eq!(br.kind.as_deref(), Some("bridge"));
        assert_eq!(ve.kind.as_deref(), Some("veth"));
        assert_eq!(ve.master, Some(br.index));
        assert_eq!(ve.mac, Some(host_mac));
        assert!(ve.is_up() && br.is_up());
        assert!(find(&links, "host0").is_none(), "peer must be in the other netns");
        assert_eq!(rt.link_index("vz-zone").unwrap(), br.index);

        let addrs = rt.list_addresses().unwrap();
        assert!(addrs.contains(&AddrInfo { index: br.index, addr: v4(10, 0, 0, 1), prefix_len: 28 }));
        let routed = rt.routed_subnets_v4().unwrap();
        let subnet: Ipv4Net = "10.0.0.0/28".parse().unwrap();
        assert!(routed.contains(&subnet), "{routed:?}");
        let next = first_free_subnet(DEFAULT_POOL, DEFAULT_PREFIX_LEN, &routed).unwrap();
        assert_eq!(next.to_string(), "10.0.0.16/28");

        in_netns(&container, || {
            let mut ct = Rtnl::open().unwrap();
            let links = ct.list_links().unwrap();
            let host0 = find(&links, "host0").expect("peer in container netns");
            assert_eq!(host0.mac, Some(peer_mac));
            ct.set_link_up(Link::Name("lo"), true).unwrap();
            ct.set_link_up(Link::Name("host0"), true).unwrap();
            ct.add_address(Link::Name("host0"), v4(10, 0, 0, 2), 28).unwrap();
            ct.add_default_route(v4(10, 0, 0, 1), Link::Name("host0")).unwrap();
            let routes = ct.list_routes_v4().unwrap();
            assert!(routes.iter().any(|r| r.dst.prefix_len() == 0
                && r.gateway == Some(Ipv4Addr::new(10, 0, 0, 1))
                && r.oif == Some(host0.index)));
            // The default route is not a "routed subnet" that would block the whole pool.
            assert!(!ct.routed_subnets_v4().unwrap().iter().any(|s| s.prefix_len() == 0));
            let e = ct.add_default_route(v4(10, 0, 0, 1), Link::Name("host0")).unwrap_err();
            assert_eq!(e.to_string(), "add route default via 10.0.0.1 dev host0: file exists");
            ct.delete_route(&RouteSpec { dst: None, gateway: Some(v4(10, 0, 0, 1)), link: Link::Name("host0") })
                .unwrap();
            ct.add_address(Link::Name("host0"), "fd00::2".parse().unwrap(), 64).unwrap();
            ct.delete_address(Link::Name("host0"), v4(10, 0, 0, 2), 28).unwrap();
            let left: Vec<IpAddr> = ct.list_addresses().unwrap().iter().map(|a| a.addr).collect();
            assert!(left.contains(&"fd00::2".parse().unwrap()));
            assert!(!left.contains(&v4(10, 0, 0, 2)));
        });

        // Errors carry the operation, the object and the kernel's errno.
        let e = rt
            .create_veth(&Veth { name: "ve-test", mac: None, peer: "host9", peer_mac: None, peer_netns: None })
            .unwrap_err();
        assert_eq!(e.to_string(), "create veth ve-test/host9: file exists");
        assert_eq!(e.errno(), Some(17));
        let e = rt.delete_link(Link::Name("nope")).unwrap_err();
        assert_eq!(e.to_string(), "delete link nope: no such device");
        assert!(is_no_device(&e));
        let e = rt.link_index("nope").unwrap_err();
        assert_eq!(e.to_string(), "query link nope: no such device");

        rt.set_master(Link::Name("ve-test"), None).unwrap();
        rt.delete_link(Link::Name("ve-test")).unwrap();
        rt.delete_link(Link::Name("vz-zone")).unwrap();
        let links = rt.list_links().unwrap();
        assert_eq!(links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["lo"]);
    });
    // Deleting the host side removed the peer too.
    in_netns(&container, || {
        let names: Vec<String> = Rtnl::open().unwrap().list_links().unwrap().into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["lo"]);
    });
}

/// The candidate lookups agree with the dump on a real kernel: a LAN route covering
/// candidates is skipped whole, a /32 inside a candidate blocks it, the default route and the
/// local table's entries do not count, and a reject route (a lookup gives no prefix for it)
/// falls back to the dump.
#[test]
fn candidate_lookups_find_the_routes_the_dump_finds() {
    in_new_netns(|| {
        let mut rt = Rtnl::open().unwrap();
        rt.set_link_up(Link::Name("lo"), true).unwrap();
        rt.create_veth(&Veth { name: "lan0", mac: None, peer: "lan1", peer_mac: None, peer_netns: None }).unwrap();
        rt.set_link_up(Link::Name("lan0"), true).unwrap();
        rt.set_link_up(Link::Name("lan1"), true).unwrap();
        rt.add_address(Link::Name("lan0"), v4(10, 0, 0, 1), 24).unwrap();
        let host = RouteSpec { dst: Some((v4(10, 0, 1, 5), 32)), gateway: None, link: Link::Name("lan0") };
        rt.add_route(&host).unwrap();
        rt.add_default_route(v4(10, 0, 0, 254), Link::Name("lan0")).unwrap();
        let net = |s: &str| s.parse::<Ipv4Net>().unwrap();

        let found = rt.lookup_routes_v4(net("10.0.1.0/28")).unwrap();
        assert_eq!(found.len(), 16);
        assert_eq!(blocking_routes(&found), Some(vec![net("10.0.1.5/32")]), "{found:?}");
        let found = rt.lookup_routes_v4(net("10.0.0.0/28")).unwrap();
        assert_eq!(blocking_routes(&found), Some(vec![net("10.0.0.0/24")]), "{found:?}");

        let leased = [net("10.0.1.16/28")];
        let got = rt.first_unrouted_subnet(DEFAULT_POOL, 28, &leased).unwrap();
        let mut taken = rt.routed_subnets_v4().unwrap();
        taken.extend(leased);
        assert_eq!(got, first_free_subnet(DEFAULT_POOL, 28, &taken));
        assert_eq!(got, Some(net("10.0.1.32/28")));

        // A reject route: the lookups cannot tell its prefix, the dump can.
        let status = std::process::Command::new("ip")
            .args(["route", "add", "blackhole", "10.0.2.0/25"])
            .status()
            .expect("run ip");
        assert!(status.success());
        assert_eq!(blocking_routes(&rt.lookup_routes_v4(net("10.0.2.0/28")).unwrap()), None);
        let pool = net("10.0.2.0/24");
        assert_eq!(rt.first_unrouted_subnet(pool, 28, &[]).unwrap(), Some(net("10.0.2.128/28")));
        // Nothing routed: the first candidate.
        assert_eq!(rt.first_unrouted_subnet(net("192.168.7.0/24"), 28, &[]).unwrap(), Some(net("192.168.7.0/28")));
        rt.delete_link(Link::Name("lan0")).unwrap();
    });
}

#[test]
fn rename_altname_mac_move_and_move_back() {
    let other = new_netns_fd();
    in_new_netns(|| {
        let mut rt = Rtnl::open().unwrap();
        let name = derive_ifname("ve-", "a-very-long-machine-name");
        assert_eq!(name.name.len(), 15);
        rt.create_veth(&Veth { name: &name.name, mac: None, peer: "host0", peer_mac: None, peer_netns: None }).unwrap();
        let alt = name.altname.as_deref().unwrap();
        rt.add_altname(Link::Name(&name.name), alt).unwrap();
        // The altname resolves like a name.
        let index = rt.link_index(alt).unwrap();
        assert_eq!(rt.link_index(&name.name).unwrap(), index);
        let e = rt.add_altname(Link::Index(index), alt).unwrap_err();
        assert_eq!(e.errno(), Some(17));

        rt.set_mac(Link::Name("host0"), [0x02, 1, 2, 3, 4, 5]).unwrap();
        rt.rename_link(Link::Name("host0"), "eth-test").unwrap();
        let links = rt.list_links().unwrap();
        let l = find(&links, "eth-test").unwrap();
        assert_eq!(l.mac, Some([0x02, 1, 2, 3, 4, 5]));
        assert!(find(&links, alt).is_some());

        rt.move_link(Link::Name("eth-test"), Netns::Fd(other.as_fd()), Some("moved0")).unwrap();
        assert!(find(&rt.list_links().unwrap(), "eth-test").is_none());
        // Move it back by name from inside the other netns, restoring the old name.
        let here = current_netns();
        in_netns(&other, || {
            let mut o = Rtnl::open().unwrap();
            assert!(find(&o.list_links().unwrap(), "moved0").is_some());
            o.move_link(Link::Name("moved0"), Netns::Fd(here.as_fd()), Some("eth-test")).unwrap();
        });
        assert!(find(&rt.list_links().unwrap(), "eth-test").is_some());
        rt.delete_link(Link::Name(alt)).unwrap();
    });
}

#[test]
fn a_link_that_leaves_and_comes_back_gets_its_mtu_and_addresses_again() {
    let other = new_netns_fd();
    in_new_netns(|| {
        let mut rt = Rtnl::open().unwrap();
        rt.create_veth(&Veth { name: "lent0", mac: None, peer: "lent1", peer_mac: None, peer_netns: None }).unwrap();
        rt.set_mtu(Link::Name("lent0"), 1400).unwrap();
        let info = rt.link_info(Link::Name("lent0")).unwrap();
        assert_eq!((info.name.as_str(), info.mtu, info.kind.as_deref()), ("lent0", Some(1400), Some("veth")));
        assert_eq!(rt.link_info(Link::Index(info.index)).unwrap(), info);
        for (a, len) in [(v4(192, 168, 70, 1), 24), (v4(192, 168, 70, 2), 24), ("2001:db8:70::1".parse().unwrap(), 64)]
        {
            rt.add_address(Link::Name("lent0"), a, len).unwrap();
        }
        let saved: Vec<SavedAddr> =
            rt.saved_addresses().unwrap().into_iter().filter(|a| a.info.index == info.index).collect();
        assert_eq!(saved.len(), 3, "{saved:?}");
        // Out and back: the kernel drops the addresses; they are added again as they were.
        rt.move_link(Link::Index(info.index), Netns::Fd(other.as_fd()), None).unwrap();
        let here = current_netns();
        in_netns(&other, || {
            Rtnl::open().unwrap().move_link(Link::Name("lent0"), Netns::Fd(here.as_fd()), None).unwrap();
        });
        let index = rt.link_index("lent0").unwrap();
        assert!(rt.saved_addresses().unwrap().iter().all(|a| a.info.index != index));
        let (v4s, v6s): (Vec<&SavedAddr>, Vec<&SavedAddr>) = saved.iter().partition(|a| !a.is_v6());
        for a in v4s.into_iter().chain(v6s.into_iter().rev()) {
            rt.restore_address(index, a).unwrap();
        }
        let again: Vec<SavedAddr> =
            rt.saved_addresses().unwrap().into_iter().filter(|a| a.info.index == index).collect();
        let addrs = |v: &[SavedAddr]| v.iter().map(|a| (a.info.addr, a.info.prefix_len)).collect::<Vec<_>>();
        assert_eq!(addrs(&again), addrs(&saved));
        assert_eq!(rt.link_info(Link::Index(index)).unwrap().mtu, Some(1400));
        let e = rt.restore_address(index, &saved[0]).unwrap_err();
        assert_eq!(e.errno(), Some(17));
        // A vxlan names the link it runs over (the kernel deletes it when that link leaves).
        if std::process::Command::new("ip")
            .args(["link", "add", "vx0", "type", "vxlan", "id", "42", "dev", "lent1", "dstport", "4789"])
            .status()
            .is_ok_and(|s| s.success())
        {
            let links = rt.list_links().unwrap();
            let lent1 = find(&links, "lent1").unwrap().index;
            assert_eq!(find(&links, "vx0").unwrap().vxlan_link, Some(lent1));
            assert_eq!(find(&links, "lent0").unwrap().vxlan_link, None);
        }
    });
}

#[test]
fn macvlan_and_ipvlan_on_a_parent_link() {
    let container = new_netns_fd();
    in_new_netns(|| {
        let mut rt = Rtnl::open().unwrap();
        rt.create_veth(&Veth { name: "up0", mac: None, peer: "up1", peer_mac: None, peer_netns: None }).unwrap();
        let mac = generate_mac(&[7; 16], "foo", MacKey::Macvlan, 0);
        rt.create_macvlan("mv-up0", Link::Name("up0"), Some(mac), Some(Netns::Fd(container.as_fd()))).unwrap();
        let e = rt.create_macvlan("mv-x", Link::Name("nope"), None, None).unwrap_err();
        assert_eq!(e.to_string(), "create macvlan mv-x on nope: query link nope: no such device");
        in_netns(&container, || {
            let links = Rtnl::open().unwrap().list_links().unwrap();
            let mv = find(&links, "mv-up0").expect("macvlan in container");
            assert_eq!(mv.kind.as_deref(), Some("macvlan"));
            assert_eq!(mv.mac, Some(mac));
        });
        // The dev kernel has no ipvlan: the error must say so plainly. Where the module
        // exists (the VM harness) the link must really be created.
        match rt.create_ipvlan("iv-up0", Link::Name("up0"), None) {
            Err(e) => {
                assert_eq!(e.to_string(), "create ipvlan iv-up0 on up0: operation not supported");
                assert_eq!(e.errno(), Some(95));
            }
            Ok(()) => {
                let links = rt.list_links().unwrap();
                assert_eq!(find(&links, "iv-up0").unwrap().kind.as_deref(), Some("ipvlan"));
            }
        }
    });
}

/// Cross-checks `nft list table FAMILY spawnbox` with the nft tool where it is installed (the
/// library never runs it): each of `want` is in it, none of `absent`.
fn nft_lists(family: &str, want: &[&str], absent: &[&str]) {
    if !std::path::Path::new("/usr/sbin/nft").exists() {
        return;
    }
    let out = std::process::Command::new("/usr/sbin/nft").args(["list", "table", family, "spawnbox"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for w in want {
        assert!(text.contains(w), "missing {w:?} in:\n{text}");
    }
    for a in absent {
        assert!(!text.contains(a), "{a:?} in:\n{text}");
    }
}

#[test]
fn nftables_table_masquerade_port_forwards_and_cleanup() {
    in_new_netns(|| {
        let mut nft = Nft::open().unwrap();
        assert!(nft.list_rules().unwrap().is_empty());
        nft.ensure_table().unwrap();
        nft.ensure_table().unwrap(); // idempotent
        let subnet: Ipv4Net = "10.0.0.16/28".parse().unwrap();
        let masq = nft.add_masquerade(subnet, "foo").unwrap();
        assert_eq!(masq.chain, Chain::Postrouting);
        let fwds = [
            PortForward { proto: Proto::Tcp, host_port: 8080, addr: Ipv4Addr::new(10, 0, 0, 18).into(), port: 80 },
            PortForward { proto: Proto::Udp, host_port: 53, addr: Ipv4Addr::new(10, 0, 0, 18).into(), port: 5353 },
        ];
        let fw = nft.add_port_forwards(&fwds, "foo").unwrap();
        assert_eq!(fw.len(), 4);
        assert_eq!(
            fw.iter().map(|r| r.chain).collect::<Vec<_>>(),
            [Chain::Prerouting, Chain::Output, Chain::Prerouting, Chain::Output]
        );
        nft.add_masquerade("10.0.0.32/28".parse().unwrap(), "bar").unwrap();

        let rules = nft.list_rules().unwrap();
        assert_eq!(rules.len(), 6);
        for r in std::iter::once(&masq).chain(&fw) {
            assert!(rules.contains(&RuleInfo { rule: *r, tag: Some("foo".into()) }));
        }
        nft_lists(
            "ip",
            &[
                "ip saddr 10.0.0.16/28 masquerade comment \"foo\"",
                "fib daddr type local tcp dport 8080 dnat to 10.0.0.18:80 comment \"foo\"",
                "ip daddr != 127.0.0.0/8 fib daddr type local udp dport 53 dnat to 10.0.0.18:5353 comment \"foo\"",
            ],
            &[],
        );

        // A failing message aborts the whole batch and is named in the error.
        let bogus = RuleHandle { family: NftFamily::Ip, chain: Chain::Postrouting, handle: 9999 };
        let e = nft.delete_rules(&[masq, bogus]).unwrap_err();
        assert_eq!(e.to_string(), "delete rule 9999 from chain postrouting: no such file or directory");
        assert_eq!(nft.list_rules().unwrap().len(), 6, "batch must be atomic");

        assert_eq!(nft.delete_tagged("foo").unwrap(), 5);
        let left = nft.list_rules().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].tag.as_deref(), Some("bar"));
        nft.delete_rules(&[left[0].rule]).unwrap();
        nft.add_masquerade(subnet, "foo").unwrap();
        nft.flush_table().unwrap();
        assert!(nft.list_rules().unwrap().is_empty());
        nft.delete_table().unwrap();
        nft.delete_table().unwrap(); // already gone: fine
        let e = nft.add_masquerade(subnet, "foo").unwrap_err();
        assert_eq!(e.to_string(), "add masquerade for 10.0.0.16/28: no such file or directory");
    });
}

/// Both tables in the kernel: created in one batch, IPv6 rules in `ip6 spawnbox` as nft lists
/// them, a replace that moves forwards from one address to another atomically (a failing
/// deletion leaves the old rules), tags across both tables, both deleted in one batch.
#[test]
fn nftables_ip6_table_replace_and_cleanup() {
    in_new_netns(|| {
        let mut nft = Nft::open().unwrap();
        nft.ensure_tables(&NftFamily::ALL).unwrap();
        let (a, b): (std::net::IpAddr, std::net::IpAddr) = ("fd09::2".parse().unwrap(), "fd09::3".parse().unwrap());
        let fwd = |addr| Rule::Forward(PortForward { proto: Proto::Tcp, host_port: 8080, addr, port: 80 });
        let v4 = Rule::Forward(PortForward {
            proto: Proto::Udp,
            host_port: 53,
            addr: Ipv4Addr::new(10, 9, 0, 2).into(),
            port: 53,
        });
        let old = nft.add(&[Rule::Masquerade("fd09::".parse().unwrap(), 64), fwd(a), v4], "foo").unwrap();
        use NftFamily::{Ip, Ip6};
        assert_eq!(old.iter().map(|r| r.family).collect::<Vec<_>>(), [Ip6, Ip6, Ip6, Ip, Ip]);
        assert_eq!(nft.list_rules_of(NftFamily::Ip6).unwrap().len(), 3);
        assert_eq!(nft.list_rules_of(NftFamily::Ip).unwrap().len(), 2);

        // A bogus handle among the old ones: nothing changes.
        let bogus = RuleHandle { family: NftFamily::Ip6, chain: Chain::Output, handle: 9999 };
        let e = nft.replace(&[old[1], bogus], &[fwd(b)], "foo").unwrap_err();
        assert_eq!(e.to_string(), "delete rule 9999 from chain ip6 output: no such file or directory");
        assert_eq!(nft.list_rules_of(NftFamily::Ip6).unwrap().len(), 3, "batch must be atomic");

        let new = nft.replace(&old[1..3], &[fwd(b)], "foo").unwrap();
        assert_eq!(new.len(), 2);
        let rules = nft.list_rules_of(NftFamily::Ip6).unwrap();
        assert_eq!(rules.iter().map(|r| r.rule).collect::<Vec<_>>(), [old[0], new[0], new[1]]);
        nft_lists(
            "ip6",
            &[
                "ip6 saddr fd09::/64 masquerade comment \"foo\"",
                "fib daddr type local tcp dport 8080 dnat to [fd09::3]:80 comment \"foo\"",
                "ip6 daddr != ::1 fib daddr type local tcp dport 8080 dnat to [fd09::3]:80 comment \"foo\"",
            ],
            &["fd09::2"],
        );
        assert_eq!(nft.delete_tagged_of(NftFamily::Ip6, "foo").unwrap(), 3);
        assert_eq!(nft.delete_tagged_of(NftFamily::Ip, "foo").unwrap(), 2);
        nft.delete_tables(&NftFamily::ALL).unwrap();
        assert!(nft.list_rules_of(NftFamily::Ip6).unwrap().is_empty());
        nft.delete_tables(&NftFamily::ALL).unwrap(); // both gone: fine
    });
}

/// The calling thread's network namespace, by descriptor.
fn current_netns() -> rustix::fd::OwnedFd {
    rustix::fs::open(
        "/proc/thread-self/ns/net",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap()
}

/// `wait_for_quiet` returns only once nf_tables has gone a grace period without a commit
/// (here, after another socket's commits every 2 ms stop), and the close after it finds the
/// transaction-destroy work idle: it does not wait the ~20 ms grace period a close right
/// after a change waits.
#[test]
fn wait_for_quiet_outlasts_other_commits_and_then_closes_at_once() {
    use std::time::{Duration, Instant};
    in_new_netns(|| {
        let mut nft = Nft::open().unwrap();
        nft.ensure_table().unwrap();
        let fd = nft.into_fd();
        let netns = current_netns();
        let busy_for = Duration::from_millis(300);
        let start = Instant::now();
        let writer = std::thread::spawn(move || {
            rustix::thread::move_into_link_name_space(netns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
                .unwrap();
            let mut other = Nft::open().unwrap();
            let subnet: Ipv4Net = "10.0.0.16/28".parse().unwrap();
            let mut commits = 0;
            while start.elapsed() < busy_for {
                let r = other.add_masquerade(subnet, "busy").unwrap();
                other.delete_rules(&[r]).unwrap();
                commits += 2;
                std::thread::sleep(Duration::from_millis(2));
            }
            (commits, start.elapsed())
        });
        netsetup::wait_for_quiet(&fd, 100);
        let waited = start.elapsed();
        let (commits, last) = writer.join().unwrap();
        assert!(commits > 20, "{commits} commits");
        assert!(waited >= last, "returned after {waited:?}, while commits went on until {last:?}");
        let t = Instant::now();
        drop(fd);
        let close = t.elapsed();
        assert!(close < Duration::from_millis(8), "close took {close:?}");
    });
}
