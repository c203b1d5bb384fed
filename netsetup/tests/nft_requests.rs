//! nftables requests byte for byte: golden arrays written from `linux/netfilter/nf_tables.h`
//! and `nfnetlink.h` (nf_tables attributes are big-endian; nests carry `NLA_F_NESTED`), each
//! compared with what `nft` 1.0.6 sent for the same command (`tests/data/nft-requests.txt`).
//! nft sets no `NLM_F_ACK`/`NLM_F_ECHO`; spawnbox does, so those flags are cleared before
//! comparing with nft.

mod common;

use common::{ack, clear_flags, hex, msg, unseq};
use netsetup::*;
use std::net::Ipv4Addr;

const NLM_F_ACK: u16 = 0x4;
const NLM_F_ECHO: u16 = 0x8;

/// The message nft sent, by name, sequence number zeroed.
fn nft_tool(name: &str) -> Vec<u8> {
    let data = include_str!("data/nft-requests.txt");
    let line =
        data.lines().find(|l| l.split_whitespace().next() == Some(name)).unwrap_or_else(|| panic!("no capture {name}"));
    hex(line.split_whitespace().nth(1).unwrap())
}

const BEGIN: &str =
    "14000000 1000 0100 00000000 00000000  00 00 000a  # NFNL_MSG_BATCH_BEGIN, res_id NFNL_SUBSYS_NFTABLES (be16)";
const END: &str = "14000000 1100 0100 00000000 00000000  00 00 000a    # NFNL_MSG_BATCH_END";

/// Splits a sent batch into its messages (BEGIN and END included), sequence numbers zeroed.
fn split(batch: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![];
    let mut off = 0;
    while off < batch.len() {
        let len = u32::from_ne_bytes(batch[off..off + 4].try_into().unwrap()) as usize;
        out.push(unseq(batch[off..off + len].to_vec()));
        off += (len + 3) & !3;
    }
    out
}

/// `NFT_MSG_NEWRULE` echo carrying `NFTA_RULE_HANDLE`.
fn echo(seq: u32, handle: u64) -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 12, 0, 3, 0];
    p.extend_from_slice(&handle.to_be_bytes());
    msg(0x0a06, 0, seq, &p)
}

const TABLE: &str = "
    2c000000 000a 0500 00000000 00000000   # len 44, NFT_MSG_NEWTABLE (subsys 10 << 8 | 0), REQUEST|ACK
    02 00 0000                             # nfgenmsg: NFPROTO_IPV4, NFNETLINK_V0, res_id 0
    0d00 0100 737061776e626f7800 000000    # NFTA_TABLE_NAME \"spawnbox\"
    0800 0200 00000000                     # NFTA_TABLE_FLAGS 0
";
const CHAIN_POSTROUTING: &str = "
    58000000 030a 0504 00000000 00000000   # len 88, NFT_MSG_NEWCHAIN, REQUEST|ACK|CREATE
    02 00 0000
    0d00 0100 737061776e626f7800 000000    # NFTA_CHAIN_TABLE
    1000 0300 706f7374726f7574696e6700     # NFTA_CHAIN_NAME \"postrouting\"
    0800 0700 6e617400                     # NFTA_CHAIN_TYPE \"nat\"
    0800 0500 00000001                     # NFTA_CHAIN_POLICY NF_ACCEPT
    1400 0480                              # NFTA_CHAIN_HOOK | NLA_F_NESTED
      0800 0100 00000004                   #   NFTA_HOOK_HOOKNUM NF_INET_POST_ROUTING
      0800 0200 00000064                   #   NFTA_HOOK_PRIORITY 100 (srcnat)
";
const CHAIN_PREROUTING: &str = "
    58000000 030a 0504 00000000 00000000
    02 00 0000
    0d00 0100 737061776e626f7800 000000
    0f00 0300 707265726f7574696e6700 00    # NFTA_CHAIN_NAME \"prerouting\"
    0800 0700 6e617400
    0800 0500 00000001
    1400 0480
      0800 0100 00000000                   #   NF_INET_PRE_ROUTING
      0800 0200 ffffff9c                   #   priority -100 (dstnat)
";
const CHAIN_OUTPUT: &str = "
    54000000 030a 0504 00000000 00000000
    02 00 0000
    0d00 0100 737061776e626f7800 000000
    0b00 0300 6f757470757400 00            # NFTA_CHAIN_NAME \"output\"
    0800 0700 6e617400
    0800 0500 00000001
    1400 0480
      0800 0100 00000003                   #   NF_INET_LOCAL_OUT
      0800 0200 ffffff9c                   #   priority -100
";

#[test]
fn ensure_table_is_one_batch_matching_nft() {
    let mut nft = Nft::with_transport(Replay::new(vec![[ack(2), ack(3), ack(4), ack(5)].concat()]));
    nft.ensure_table().unwrap();
    let parts = split(&nft.transport().sent[0]);
    let want = [BEGIN, TABLE, CHAIN_POSTROUTING, CHAIN_PREROUTING, CHAIN_OUTPUT, END].map(hex);
    assert_eq!(parts, want);
    assert_eq!(clear_flags(hex(TABLE), NLM_F_ACK), nft_tool("add_table"));
    for (g, name) in [
        (CHAIN_POSTROUTING, "add_chain_postrouting"),
        (CHAIN_PREROUTING, "add_chain_prerouting"),
        (CHAIN_OUTPUT, "add_chain_output"),
    ] {
        assert_eq!(clear_flags(hex(g), NLM_F_ACK), nft_tool(name), "{name}");
    }
}

const RULE_MASQUERADE: &str = "
    04010000 060a 0d0c 00000000 00000000   # len 260, NFT_MSG_NEWRULE, REQUEST|ACK|ECHO|CREATE|APPEND
    02 00 0000
    0d00 0100 737061776e626f7800 000000    # NFTA_RULE_TABLE \"spawnbox\"
    1000 0200 706f7374726f7574696e6700     # NFTA_RULE_CHAIN \"postrouting\"
    bc00 0480                              # NFTA_RULE_EXPRESSIONS (188)
      3400 0180                            #   NFTA_LIST_ELEM: payload load 4b @ network + 12 => reg 1
        0c00 0100 7061796c6f616400         #     NFTA_EXPR_NAME \"payload\"
        2400 0280                          #     NFTA_EXPR_DATA
          0800 0100 00000001               #       NFTA_PAYLOAD_DREG NFT_REG_1
          0800 0200 00000001               #       NFTA_PAYLOAD_BASE NFT_PAYLOAD_NETWORK_HEADER
          0800 0300 0000000c               #       NFTA_PAYLOAD_OFFSET 12 (iphdr.saddr)
          0800 0400 00000004               #       NFTA_PAYLOAD_LEN 4
      4400 0180                            #   bitwise reg 1 = (reg 1 & ff.ff.ff.f0) ^ 0
        0c00 0100 6269747769736500
        3400 0280
          0800 0100 00000001               #       NFTA_BITWISE_SREG
          0800 0200 00000001               #       NFTA_BITWISE_DREG
          0800 0300 00000004               #       NFTA_BITWISE_LEN
          0c00 0480 0800 0100 fffffff0     #       NFTA_BITWISE_MASK { NFTA_DATA_VALUE }
          0c00 0580 0800 0100 00000000     #       NFTA_BITWISE_XOR { NFTA_DATA_VALUE }
      2c00 0180                            #   cmp eq reg 1 10.0.0.16
        0800 0100 636d7000
        2000 0280
          0800 0100 00000001               #       NFTA_CMP_SREG
          0800 0200 00000000               #       NFTA_CMP_OP NFT_CMP_EQ
          0c00 0380 0800 0100 0a000010     #       NFTA_CMP_DATA { NFTA_DATA_VALUE }
      1400 0180                            #   masq
        0900 0100 6d61737100 000000
        0400 0280                          #     (no attributes)
    1300 0700 000d 737061776e626f783a666f6f00 00  # NFTA_RULE_USERDATA { COMMENT, 13, \"spawnbox:foo\" }
";

#[test]
fn masquerade_rule_matches_nft_and_returns_the_echoed_handle() {
    let mut nft = Nft::with_transport(Replay::new(vec![echo(2, 4), ack(2)]));
    let subnet: Ipv4Net = "10.0.0.16/28".parse().unwrap();
    let h = nft.add_masquerade(subnet, "spawnbox:foo").unwrap();
    assert_eq!(h, RuleHandle { family: NftFamily::Ip, chain: Chain::Postrouting, handle: 4 });
    let parts = split(&nft.transport().sent[0]);
    assert_eq!(parts, [BEGIN, RULE_MASQUERADE, END].map(hex));
    assert_eq!(clear_flags(hex(RULE_MASQUERADE), NLM_F_ACK | NLM_F_ECHO), nft_tool("rule_masquerade"));
}

#[test]
fn byte_aligned_prefixes_skip_the_bitwise_as_nft_does() {
    let mut nft = Nft::with_transport(Replay::new(vec![echo(2, 9), ack(2)]));
    nft.add_masquerade("10.1.0.0/16".parse().unwrap(), "x").unwrap();
    let rule = &split(&nft.transport().sent[0])[1];
    // nft --debug=netlink: [ payload load 2b @ network header + 12 => reg 1 ]
    //                      [ cmp eq reg 1 0x0000010a ] [ masq ]
    let exprs = hex("7800 0480
           3400 0180 0c00 0100 7061796c6f616400 2400 0280
             0800 0100 00000001 0800 0200 00000001 0800 0300 0000000c 0800 0400 00000002
           2c00 0180 0800 0100 636d7000 2000 0280
             0800 0100 00000001 0800 0200 00000000 0c00 0380 0600 0100 0a01 0000
           1400 0180 0900 0100 6d61737100 000000 0400 0280");
    assert_eq!(&rule[52..52 + exprs.len()], &exprs[..]);
}

const RULE_DNAT_PREROUTING: &str = "
    e0010000 060a 0d0c 00000000 00000000   # len 480, NFT_MSG_NEWRULE, REQUEST|ACK|ECHO|CREATE|APPEND
    02 00 0000
    0d00 0100 737061776e626f7800 000000    # NFTA_RULE_TABLE
    0f00 0200 707265726f7574696e6700 00    # NFTA_RULE_CHAIN \"prerouting\"
    9801 0480                              # NFTA_RULE_EXPRESSIONS (408)
      2800 0180                            #   fib daddr type => reg 1
        0800 0100 66696200
        1c00 0280
          0800 0300 00000002               #       NFTA_FIB_FLAGS NFTA_FIB_F_DADDR
          0800 0200 00000003               #       NFTA_FIB_RESULT NFT_FIB_RESULT_ADDRTYPE
          0800 0100 00000001               #       NFTA_FIB_DREG
      2c00 0180                            #   cmp eq reg 1 RTN_LOCAL (u32, host order)
        0800 0100 636d7000 2000 0280
          0800 0100 00000001 0800 0200 00000000
          0c00 0380 0800 0100 02000000
      2400 0180                            #   meta load l4proto => reg 1
        0900 0100 6d65746100 000000
        1400 0280
          0800 0200 00000010               #       NFTA_META_KEY NFT_META_L4PROTO
          0800 0100 00000001               #       NFTA_META_DREG
      2c00 0180                            #   cmp eq reg 1 IPPROTO_TCP
        0800 0100 636d7000 2000 0280
          0800 0100 00000001 0800 0200 00000000
          0c00 0380 0500 0100 06 000000
      3400 0180                            #   payload load 2b @ transport header + 2 => reg 1
        0c00 0100 7061796c6f616400 2400 0280
          0800 0100 00000001 0800 0200 00000002 0800 0300 00000002 0800 0400 00000002
      2c00 0180                            #   cmp eq reg 1 8080 (be16)
        0800 0100 636d7000 2000 0280
          0800 0100 00000001 0800 0200 00000000
          0c00 0380 0600 0100 1f90 0000
      2c00 0180                            #   immediate reg 1 10.0.0.18
        0e00 0100 696d6d65646961746500 0000
        1800 0280
          0800 0100 00000001               #       NFTA_IMMEDIATE_DREG
          0c00 0280 0800 0100 0a000012     #       NFTA_IMMEDIATE_DATA { NFTA_DATA_VALUE }
      2c00 0180                            #   immediate reg 2 80
        0e00 0100 696d6d65646961746500 0000
        1800 0280
          0800 0100 00000002
          0c00 0280 0600 0100 0050 0000
      3800 0180                            #   nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2
        0800 0100 6e617400
        2c00 0280
          0800 0100 00000001               #       NFTA_NAT_TYPE NFT_NAT_DNAT
          0800 0200 00000002               #       NFTA_NAT_FAMILY NFPROTO_IPV4
          0800 0300 00000001               #       NFTA_NAT_REG_ADDR_MIN
          0800 0500 00000002               #       NFTA_NAT_REG_PROTO_MIN
          0800 0700 00000002               #       NFTA_NAT_FLAGS NF_NAT_RANGE_PROTO_SPECIFIED
    1300 0700 000d 737061776e626f783a666f6f00 00  # NFTA_RULE_USERDATA comment
";

/// The output-chain rule for `udp 53 -> 10.0.0.18:5353`: first `ip daddr != 127.0.0.0/8`
/// (nft loads just the first byte), then as in prerouting with udp and other ports.
const RULE_DNAT_OUTPUT: &str = "
    3c020000 060a 0d0c 00000000 00000000   # len 572
    02 00 0000
    0d00 0100 737061776e626f7800 000000
    0b00 0200 6f757470757400 00            # NFTA_RULE_CHAIN \"output\"
    f801 0480                              # NFTA_RULE_EXPRESSIONS (504)
      3400 0180                            #   payload load 1b @ network header + 16 => reg 1
        0c00 0100 7061796c6f616400 2400 0280
          0800 0100 00000001 0800 0200 00000001 0800 0300 00000010 0800 0400 00000001
      2c00 0180                            #   cmp neq reg 1 127
        0800 0100 636d7000 2000 0280
          0800 0100 00000001 0800 0200 00000001
          0c00 0380 0500 0100 7f 000000
      2800 0180 0800 0100 66696200 1c00 0280   # fib daddr type => reg 1
          0800 0300 00000002 0800 0200 00000003 0800 0100 00000001
      2c00 0180 0800 0100 636d7000 2000 0280   # cmp eq reg 1 RTN_LOCAL
          0800 0100 00000001 0800 0200 00000000 0c00 0380 0800 0100 02000000
      2400 0180 0900 0100 6d65746100 000000 1400 0280   # meta load l4proto => reg 1
          0800 0200 00000010 0800 0100 00000001
      2c00 0180 0800 0100 636d7000 2000 0280   # cmp eq reg 1 IPPROTO_UDP
          0800 0100 00000001 0800 0200 00000000 0c00 0380 0500 0100 11 000000
      3400 0180 0c00 0100 7061796c6f616400 2400 0280   # payload load 2b @ transport + 2
          0800 0100 00000001 0800 0200 00000002 0800 0300 00000002 0800 0400 00000002
      2c00 0180 0800 0100 636d7000 2000 0280   # cmp eq reg 1 53
          0800 0100 00000001 0800 0200 00000000 0c00 0380 0600 0100 0035 0000
      2c00 0180 0e00 0100 696d6d65646961746500 0000 1800 0280   # immediate reg 1 10.0.0.18
          0800 0100 00000001 0c00 0280 0800 0100 0a000012
      2c00 0180 0e00 0100 696d6d65646961746500 0000 1800 0280   # immediate reg 2 5353
          0800 0100 00000002 0c00 0280 0600 0100 14e9 0000
      3800 0180 0800 0100 6e617400 2c00 0280   # nat dnat
          0800 0100 00000001 0800 0200 00000002 0800 0300 00000001
          0800 0500 00000002 0800 0700 00000002
    1300 0700 000d 737061776e626f783a666f6f00 00
";

#[test]
fn port_forwards_match_nft_for_prerouting_and_output() {
    let replies = vec![[echo(2, 5), ack(2), echo(3, 6), ack(3), echo(4, 7), ack(4), echo(5, 8), ack(5)].concat()];
    let mut nft = Nft::with_transport(Replay::new(replies));
    let fwds = [
        PortForward { proto: Proto::Tcp, host_port: 8080, addr: Ipv4Addr::new(10, 0, 0, 18).into(), port: 80 },
        PortForward { proto: Proto::Udp, host_port: 53, addr: Ipv4Addr::new(10, 0, 0, 18).into(), port: 5353 },
    ];
    let handles = nft.add_port_forwards(&fwds, "spawnbox:foo").unwrap();
    let got: Vec<(Chain, u64)> = handles.iter().map(|h| (h.chain, h.handle)).collect();
    assert_eq!(got, [(Chain::Prerouting, 5), (Chain::Output, 6), (Chain::Prerouting, 7), (Chain::Output, 8)]);
    let parts = split(&nft.transport().sent[0]);
    assert_eq!(parts.len(), 6);
    assert_eq!(parts[1], hex(RULE_DNAT_PREROUTING));
    assert_eq!(parts[4], hex(RULE_DNAT_OUTPUT));
    let f = NLM_F_ACK | NLM_F_ECHO;
    assert_eq!(clear_flags(hex(RULE_DNAT_PREROUTING), f), nft_tool("rule_dnat_prerouting"));
    assert_eq!(clear_flags(hex(RULE_DNAT_OUTPUT), f), nft_tool("rule_dnat_output"));
}

const DELETE_RULE: &str = "
    40000000 080a 0500 00000000 00000000   # len 64, NFT_MSG_DELRULE, REQUEST|ACK
    02 00 0000
    0d00 0100 737061776e626f7800 000000    # NFTA_RULE_TABLE
    1000 0200 706f7374726f7574696e6700     # NFTA_RULE_CHAIN
    0c00 0300 0000000000000004             # NFTA_RULE_HANDLE 4 (be64)
";
const FLUSH_TABLE: &str = "
    24000000 080a 0500 00000000 00000000   # NFT_MSG_DELRULE with only the table: every rule in it
    02 00 0000
    0d00 0100 737061776e626f7800 000000
";
const DELETE_TABLE: &str = "
    24000000 020a 0500 00000000 00000000   # NFT_MSG_DELTABLE
    02 00 0000
    0d00 0100 737061776e626f7800 000000    # NFTA_TABLE_NAME
";
const LIST_RULES: &str = "
    24000000 070a 0103 00000000 00000000   # NFT_MSG_GETRULE, REQUEST|DUMP (not batched)
    02 00 0000
    0d00 0100 737061776e626f7800 000000    # NFTA_RULE_TABLE: only our table
";

#[test]
fn deletes_flush_and_list_match_nft() {
    let mut nft = Nft::with_transport(Replay::new(vec![ack(2), ack(5), ack(8), common::done(10)]));
    nft.delete_rules(&[RuleHandle { family: NftFamily::Ip, chain: Chain::Postrouting, handle: 4 }]).unwrap();
    nft.flush_table().unwrap();
    nft.delete_table().unwrap();
    assert!(nft.list_rules().unwrap().is_empty());
    let sent = &nft.transport().sent;
    assert_eq!(split(&sent[0]), [BEGIN, DELETE_RULE, END].map(hex));
    assert_eq!(split(&sent[1]), [BEGIN, FLUSH_TABLE, END].map(hex));
    assert_eq!(split(&sent[2]), [BEGIN, DELETE_TABLE, END].map(hex));
    assert_eq!(unseq(sent[3].clone()), hex(LIST_RULES));
    for (g, name) in [(DELETE_RULE, "delete_rule"), (FLUSH_TABLE, "flush_table"), (DELETE_TABLE, "delete_table")] {
        assert_eq!(clear_flags(hex(g), NLM_F_ACK), nft_tool(name), "{name}");
    }
    assert_eq!(hex(LIST_RULES), nft_tool("list_rules"));
}

#[test]
fn batch_framing_matches_nft() {
    let data = include_str!("data/nft-requests.txt");
    assert!(data.contains("BEGIN = 140000001000010000000000000000000000000a"));
    assert!(data.contains("END = 140000001100010000000000000000000000000a"));
    assert_eq!(hex(BEGIN), hex("140000001000010000000000000000000000000a"));
    assert_eq!(hex(END), hex("140000001100010000000000000000000000000a"));
}

const RULE6_MASQUERADE: &str = "
    c4000000 060a 0d0c 00000000 00000000   # len 196, NFT_MSG_NEWRULE, REQUEST|ACK|ECHO|CREATE|APPEND
    0a 00 0000                             # nfgenmsg: NFPROTO_IPV6
    0d00 0100 737061776e626f7800 000000    # NFTA_RULE_TABLE \"spawnbox\"
    1000 0200 706f7374726f7574696e6700     # NFTA_RULE_CHAIN \"postrouting\"
    7c00 0480                              # NFTA_RULE_EXPRESSIONS (124)
      3400 0180                            #   payload load 8b @ network + 8 => reg 1
        0c00 0100 7061796c6f616400
        2400 0280
          0800 0100 00000001               #       NFTA_PAYLOAD_DREG NFT_REG_1
          0800 0200 00000001               #       NFTA_PAYLOAD_BASE NFT_PAYLOAD_NETWORK_HEADER
          0800 0300 00000008               #       NFTA_PAYLOAD_OFFSET 8 (ipv6hdr.saddr)
          0800 0400 00000008               #       NFTA_PAYLOAD_LEN 8 (a /64: no bitwise)
      3000 0180                            #   cmp eq reg 1 fd12:3456:a00:10
        0800 0100 636d7000
        2400 0280
          0800 0100 00000001
          0800 0200 00000000               #       NFT_CMP_EQ
          1000 0380 0c00 0100 fd1234560a000010
      1400 0180                            #   masq
        0900 0100 6d61737100 000000
        0400 0280
    1300 0700 000d 737061776e626f783a666f6f00 00  # NFTA_RULE_USERDATA { COMMENT, 13, \"spawnbox:foo\" }
";

/// The `ip6` table: the same table and chains as `ip` but for the family byte, and rules that
/// read `ip6 saddr`, `ip6 daddr != ::1` and `dnat to [ADDR]:PORT`, byte for byte nft's.
#[test]
fn ip6_table_and_rules_match_nft() {
    let mut nft = Nft::with_transport(Replay::new(vec![[ack(2), ack(3), ack(4), ack(5)].concat()]));
    nft.ensure_table_of(NftFamily::Ip6).unwrap();
    let parts = split(&nft.transport().sent[0]);
    assert_eq!(parts.len(), 6);
    let v6 = |g: &str| {
        let mut b = hex(g);
        b[16] = 10; // nfgenmsg family NFPROTO_IPV6
        b
    };
    assert_eq!(parts[1], v6(TABLE));
    assert_eq!(parts[2], v6(CHAIN_POSTROUTING));
    assert_eq!(parts[3], v6(CHAIN_PREROUTING));
    assert_eq!(parts[4], v6(CHAIN_OUTPUT));
    assert_eq!(clear_flags(parts[1].clone(), NLM_F_ACK), nft_tool("add6_table"));
    assert_eq!(clear_flags(parts[2].clone(), NLM_F_ACK), nft_tool("add6_chain_postrouting"));
    // Both tables in one batch (one commit): the ip table's messages, then the ip6 table's.
    let mut nft = Nft::with_transport(Replay::new(vec![(2..10).map(ack).collect::<Vec<_>>().concat()]));
    nft.ensure_tables(&NftFamily::ALL).unwrap();
    assert_eq!(nft.transport().sent.len(), 1);
    let both = split(&nft.transport().sent[0]);
    let ip = [TABLE, CHAIN_POSTROUTING, CHAIN_PREROUTING, CHAIN_OUTPUT].map(hex);
    assert_eq!(both[1..5], ip);
    assert_eq!(both[5..9], parts[1..5]);
    assert_eq!(both.len(), 10);

    let c: std::net::Ipv6Addr = "fd12:3456:a00:10::2".parse().unwrap();
    let replies = vec![[echo(2, 4), ack(2), echo(3, 5), ack(3), echo(4, 6), ack(4)].concat()];
    let mut nft = Nft::with_transport(Replay::new(replies));
    let fwd = PortForward { proto: Proto::Tcp, host_port: 8080, addr: c.into(), port: 80 };
    let rules = [Rule::Masquerade("fd12:3456:a00:10::".parse().unwrap(), 64), Rule::Forward(fwd)];
    let handles = nft.add(&rules, "spawnbox:foo").unwrap();
    let got: Vec<(NftFamily, Chain, u64)> = handles.iter().map(|h| (h.family, h.chain, h.handle)).collect();
    use NftFamily::Ip6;
    assert_eq!(got, [(Ip6, Chain::Postrouting, 4), (Ip6, Chain::Prerouting, 5), (Ip6, Chain::Output, 6)]);
    let parts = split(&nft.transport().sent[0]);
    assert_eq!(parts.len(), 5);
    assert_eq!(parts[1], hex(RULE6_MASQUERADE));
    let f = NLM_F_ACK | NLM_F_ECHO;
    assert_eq!(clear_flags(parts[1].clone(), f), nft_tool("rule6_masquerade"));
    assert_eq!(clear_flags(parts[2].clone(), f), nft_tool("rule6_dnat_prerouting"));
    assert_eq!(clear_flags(parts[3].clone(), f), nft_tool("rule6_dnat_output"));
}

const DELETE_RULE6: &str = "
    3c000000 080a 0500 00000000 00000000   # len 60, NFT_MSG_DELRULE, REQUEST|ACK
    0a 00 0000                             # NFPROTO_IPV6
    0d00 0100 737061776e626f7800 000000    # NFTA_RULE_TABLE
    0b00 0200 6f757470757400 00            # NFTA_RULE_CHAIN \"output\"
    0c00 0300 0000000000000007             # NFTA_RULE_HANDLE 7 (be64)
";

/// Both tables go in one batch; when one is missing (the batch fails as a whole with
/// ENOENT), one by one, a missing one being no error.
#[test]
fn both_tables_are_deleted_in_one_batch_or_one_by_one() {
    let mut nft = Nft::with_transport(Replay::new(vec![[ack(2), ack(3)].concat()]));
    nft.delete_tables(&NftFamily::ALL).unwrap();
    let parts = split(&nft.transport().sent[0]);
    let mut del6 = hex(DELETE_TABLE);
    del6[16] = 10; // NFPROTO_IPV6
    assert_eq!(parts, [hex(BEGIN), hex(DELETE_TABLE), del6.clone(), hex(END)]);

    let replies = vec![[ack(2), common::err(3, 2)].concat(), ack(6), common::err(9, 2)];
    let mut nft = Nft::with_transport(Replay::new(replies));
    nft.delete_tables(&NftFamily::ALL).unwrap();
    let sent = &nft.transport().sent;
    assert_eq!(sent.len(), 3);
    assert_eq!(split(&sent[1]), [hex(BEGIN), hex(DELETE_TABLE), hex(END)]);
    assert_eq!(split(&sent[2]), [hex(BEGIN), del6, hex(END)]);
}

/// A container's forwards following its address: the old rules' deletions and the new rules
/// in one batch (atomic), in both tables, deletions first; the echoed handles of the new ones.
#[test]
fn replace_deletes_and_adds_in_one_batch() {
    // BEGIN=1, two deletions (2, 3), then two new rules (4, 5).
    let replies = vec![[ack(2), ack(3), echo(4, 11), ack(4), echo(5, 12), ack(5)].concat()];
    let mut nft = Nft::with_transport(Replay::new(replies));
    let old = [
        RuleHandle { family: NftFamily::Ip, chain: Chain::Postrouting, handle: 4 },
        RuleHandle { family: NftFamily::Ip6, chain: Chain::Output, handle: 7 },
    ];
    let fwd = PortForward { proto: Proto::Tcp, host_port: 8080, addr: Ipv4Addr::new(10, 0, 0, 18).into(), port: 80 };
    let new = nft.replace(&old, &[Rule::Forward(fwd)], "spawnbox:foo").unwrap();
    assert_eq!(
        new,
        [
            RuleHandle { family: NftFamily::Ip, chain: Chain::Prerouting, handle: 11 },
            RuleHandle { family: NftFamily::Ip, chain: Chain::Output, handle: 12 },
        ]
    );
    assert_eq!(nft.transport().sent.len(), 1, "one batch");
    let parts = split(&nft.transport().sent[0]);
    assert_eq!(parts.len(), 6);
    assert_eq!(parts[1], hex(DELETE_RULE));
    assert_eq!(parts[2], hex(DELETE_RULE6));
    assert_eq!(parts[3], hex(RULE_DNAT_PREROUTING));
    // The same output rule as add_port_forwards sends (golden above for its udp twin).
    let mut alone = Nft::with_transport(Replay::new(vec![[echo(2, 1), ack(2), echo(3, 2), ack(3)].concat()]));
    alone.add_port_forwards(&[fwd], "spawnbox:foo").unwrap();
    assert_eq!(parts[4], split(&alone.transport().sent[0])[2]);
}

#[test]
fn a_failed_replace_names_the_failing_message() {
    let replies = vec![[common::err(2, 2), ack(3)].concat()];
    let mut nft = Nft::with_transport(Replay::new(replies));
    let old = [RuleHandle { family: NftFamily::Ip6, chain: Chain::Prerouting, handle: 9 }];
    let e = nft.replace(&old, &[], "x").unwrap_err();
    assert_eq!(e.to_string(), "delete rule 9 from chain ip6 prerouting: no such file or directory");
}
