//! Recorded kernel replies (`tests/data/kernel-replies.txt`) replayed through the fake
//! transport: multi-part dumps, lookups, nftables echoes, and errors (EEXIST, ENODEV, EPERM).

mod common;

use common::{ack, hex, reseq};
use netsetup::*;
use std::net::Ipv4Addr;

/// A recorded reply datagram with its sequence numbers set to `seq`.
fn reply(name: &str, seq: u32) -> Vec<u8> {
    let data = include_str!("data/kernel-replies.txt");
    let line = data
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no recorded reply {name}"));
    reseq(hex(line.split_whitespace().nth(1).unwrap()), seq)
}

fn rt(replies: Vec<Vec<u8>>) -> Rtnl<Replay> {
    Rtnl::with_transport(Replay::new(replies))
}

#[test]
fn link_dump_across_two_datagrams() {
    let mut r = rt(vec![reply("link_dump", 1), reply("link_dump_done", 1)]);
    let links = r.list_links().unwrap();
    assert_eq!(r.transport().unread(), 0);
    let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["lo", "host0", "ve-foo", "br0"]);
    let br0 = &links[3];
    let ve = &links[2];
    assert_eq!(br0.kind.as_deref(), Some("bridge"));
    assert!(br0.is_up());
    assert_eq!(br0.mac, Some([2, 0, 0, 0, 0, 3]));
    assert_eq!(ve.kind.as_deref(), Some("veth"));
    assert_eq!(ve.master, Some(br0.index));
    assert_eq!(ve.altnames, ["ve-foo-long-name"]);
    assert!(ve.has_name("ve-foo-long-name"));
    assert_eq!(links[1].mac, Some([2, 0, 0, 0, 0, 2]));
    assert_eq!((links[0].mtu, ve.mtu, br0.mtu), (Some(65536), Some(1500), Some(1500)));
    assert!(links.iter().all(|l| l.vxlan_link.is_none()));
    assert_eq!(links[0].kind, None);
}

#[test]
fn route_dump_gives_the_subnets_to_avoid() {
    let mut r = rt(vec![reply("route_dump", 1), reply("route_dump_done", 1)]);
    let routes = r.list_routes_v4().unwrap();
    // main: 10.0.0.0/28 dev br0; local: 10.0.0.1, 10.0.0.15, 127.0.0.0/8, 127.0.0.1, ...
    assert!(routes.len() >= 4, "{routes:?}");
    let subnets = routed_subnets(&routes);
    assert_eq!(subnets, ["10.0.0.0/28".parse::<Ipv4Net>().unwrap()]);
    let next = first_free_subnet(DEFAULT_POOL, DEFAULT_PREFIX_LEN, &subnets).unwrap();
    assert_eq!(next.to_string(), "10.0.0.16/28");
    assert_eq!(next.host_addr(), Some(Ipv4Addr::new(10, 0, 0, 17)));
    assert_eq!(next.container_addr(), Some(Ipv4Addr::new(10, 0, 0, 18)));
}

#[test]
fn lookup_reads_the_index_then_the_ack() {
    let mut r = rt(vec![reply("getlink_reply", 1), ack(1)]);
    assert_eq!(r.link_index("ve-foo").unwrap(), 3);
    assert_eq!(r.transport().unread(), 0);
}

#[test]
fn kernel_errors_become_one_line_with_the_errno() {
    let veth = Veth { name: "ve-foo", mac: None, peer: "host0", peer_mac: None, peer_netns: None };
    let mut r = rt(vec![reply("error_eexist", 1)]);
    let e = r.create_veth(&veth).unwrap_err();
    assert_eq!(e.to_string(), "create veth ve-foo/host0: file exists");
    assert_eq!(e.errno(), Some(17));

    let mut r = rt(vec![reply("error_enodev", 1)]);
    let e = r.delete_address(Link::Name("nonexist"), "10.0.0.1".parse().unwrap(), 28).unwrap_err();
    assert_eq!(e.to_string(), "delete address 10.0.0.1/28 from nonexist: query link nonexist: no such device");
    assert_eq!(e.errno(), Some(19));

    let mut r = rt(vec![reply("error_eperm", 1)]);
    let e = r.create_bridge("vz-zone").unwrap_err();
    assert_eq!(e.to_string(), "create bridge vz-zone: operation not permitted");
    assert_eq!(e.errno(), Some(1));
}

#[test]
fn nft_echo_newgen_and_ack_yield_the_rule_handle() {
    let mut nft = Nft::with_transport(Replay::new(vec![
        reply("nft_rule_echo", 2),
        reply("nft_newgen", 2),
        reply("nft_rule_ack", 2),
    ]));
    let h = nft.add_masquerade("10.0.0.16/28".parse().unwrap(), "foo").unwrap();
    assert_eq!(h.chain, Chain::Postrouting);
    assert_eq!(h.handle, 4);
    assert_eq!(nft.transport().unread(), 0);
}

#[test]
fn nft_rule_dump_lists_handles_and_tags() {
    let mut nft = Nft::with_transport(Replay::new(vec![reply("nft_rule_dump", 1), reply("nft_rule_dump_done", 1)]));
    let rules = nft.list_rules().unwrap();
    let got: Vec<(Chain, u64, Option<&str>)> =
        rules.iter().map(|r| (r.rule.chain, r.rule.handle, r.tag.as_deref())).collect();
    assert_eq!(
        got,
        [
            (Chain::Postrouting, 4, Some("foo")),
            (Chain::Postrouting, 9, Some("bar")),
            (Chain::Prerouting, 5, Some("foo")),
            (Chain::Prerouting, 7, Some("foo")),
            (Chain::Output, 6, Some("foo")),
            (Chain::Output, 8, Some("foo")),
        ]
    );
}

#[test]
fn delete_tagged_lists_then_deletes_in_one_batch() {
    let mut nft = Nft::with_transport(Replay::new(vec![
        reply("nft_rule_dump", 1),
        reply("nft_rule_dump_done", 1),
        [ack(3), ack(4), ack(5), ack(6), ack(7)].concat(),
    ]));
    assert_eq!(nft.delete_tagged("foo").unwrap(), 5);
    assert_eq!(nft.transport().sent.len(), 2);
    // BEGIN, five NFT_MSG_DELRULE (64 bytes naming postrouting or prerouting, 60 for the
    // shorter "output"), END.
    let batch = &nft.transport().sent[1];
    assert_eq!(batch.len(), 20 + 3 * 64 + 2 * 60 + 20);
}
