//! nftables rule expressions (`linux/netfilter/nf_tables.h`), encoded exactly as the `nft`
//! tool encodes the same statements, so `nft --debug=netlink` shows what each one does:
//! payload, cmp, bitwise, meta, fib, immediate, nat and masq, plus the few matches spawnbox
//! builds from them.

use crate::nl::{Msg, Nest, NLA_F_NESTED};
use std::net::IpAddr;

const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;

const NFTA_PAYLOAD_DREG: u16 = 1;
const NFTA_PAYLOAD_BASE: u16 = 2;
const NFTA_PAYLOAD_OFFSET: u16 = 3;
const NFTA_PAYLOAD_LEN: u16 = 4;
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;
const NFTA_BITWISE_SREG: u16 = 1;
const NFTA_BITWISE_DREG: u16 = 2;
const NFTA_BITWISE_LEN: u16 = 3;
const NFTA_BITWISE_MASK: u16 = 4;
const NFTA_BITWISE_XOR: u16 = 5;
const NFTA_META_DREG: u16 = 1;
const NFTA_META_KEY: u16 = 2;
const NFTA_FIB_DREG: u16 = 1;
const NFTA_FIB_RESULT: u16 = 2;
const NFTA_FIB_FLAGS: u16 = 3;
const NFTA_IMMEDIATE_DREG: u16 = 1;
const NFTA_IMMEDIATE_DATA: u16 = 2;
const NFTA_NAT_TYPE: u16 = 1;
const NFTA_NAT_FAMILY: u16 = 2;
const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
const NFTA_NAT_REG_PROTO_MIN: u16 = 5;
const NFTA_NAT_FLAGS: u16 = 7;

/// `NFT_REG_1`, the first 16-byte register (nft uses these, not the 4-byte `NFT_REG32_*`).
pub const REG_1: u32 = 1;
/// `NFT_REG_2`.
pub const REG_2: u32 = 2;
/// `NFT_PAYLOAD_NETWORK_HEADER`.
pub const BASE_NETWORK: u32 = 1;
/// `NFT_PAYLOAD_TRANSPORT_HEADER`.
pub const BASE_TRANSPORT: u32 = 2;
/// `NFT_CMP_EQ`.
pub const CMP_EQ: u32 = 0;
/// `NFT_CMP_NEQ`.
pub const CMP_NEQ: u32 = 1;
/// `NFT_META_L4PROTO`.
pub const META_L4PROTO: u32 = 16;
/// `NFTA_FIB_F_DADDR`.
const FIB_F_DADDR: u32 = 1 << 1;
/// `NFT_FIB_RESULT_ADDRTYPE`.
const FIB_RESULT_ADDRTYPE: u32 = 3;
/// `RTN_LOCAL`, the address type `fib daddr type local` compares with.
const RTN_LOCAL: u32 = 2;
/// `NFT_NAT_DNAT`.
const NAT_DNAT: u32 = 1;
/// `NFPROTO_IPV4`.
const NFPROTO_IPV4: u32 = 2;
/// `NFPROTO_IPV6`.
const NFPROTO_IPV6: u32 = 10;
/// `NF_NAT_RANGE_PROTO_SPECIFIED`.
const NAT_RANGE_PROTO_SPECIFIED: u32 = 2;
/// Which address of the network header a match reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    /// `saddr`.
    Source,
    /// `daddr`.
    Destination,
}
/// `ip saddr`/`ip6 saddr`.
pub const SADDR: Addr = Addr::Source;
/// `ip daddr`/`ip6 daddr`.
pub const DADDR: Addr = Addr::Destination;

impl Addr {
    /// The offset in `struct iphdr` (12, 16) or `struct ipv6hdr` (8, 24).
    fn offset(self, v6: bool) -> u32 {
        match (self, v6) {
            (Addr::Source, false) => 12,
            (Addr::Destination, false) => 16,
            (Addr::Source, true) => 8,
            (Addr::Destination, true) => 24,
        }
    }
}
/// Offset of the destination port in the TCP and UDP headers.
const TH_DPORT: u32 = 2;

fn begin(m: &mut Msg, name: &str) -> (Nest, Nest) {
    let elem = m.nest(NFTA_LIST_ELEM | NLA_F_NESTED);
    m.put_str(NFTA_EXPR_NAME, name);
    let data = m.nest(NFTA_EXPR_DATA | NLA_F_NESTED);
    (elem, data)
}

fn end(m: &mut Msg, (elem, data): (Nest, Nest)) {
    m.end_nest(data);
    m.end_nest(elem);
}

fn data(m: &mut Msg, ty: u16, value: &[u8]) {
    let n = m.nest(ty | NLA_F_NESTED);
    m.put(NFTA_DATA_VALUE, value);
    m.end_nest(n);
}

/// `[ payload load LEN @ BASE + OFFSET => reg DREG ]`.
pub fn payload(m: &mut Msg, base: u32, offset: u32, len: u32, dreg: u32) {
    let e = begin(m, "payload");
    m.put_be32(NFTA_PAYLOAD_DREG, dreg);
    m.put_be32(NFTA_PAYLOAD_BASE, base);
    m.put_be32(NFTA_PAYLOAD_OFFSET, offset);
    m.put_be32(NFTA_PAYLOAD_LEN, len);
    end(m, e);
}

/// `[ cmp OP reg SREG VALUE ]`.
pub fn cmp(m: &mut Msg, op: u32, sreg: u32, value: &[u8]) {
    let e = begin(m, "cmp");
    m.put_be32(NFTA_CMP_SREG, sreg);
    m.put_be32(NFTA_CMP_OP, op);
    data(m, NFTA_CMP_DATA, value);
    end(m, e);
}

/// `[ bitwise reg DREG = ( reg SREG & MASK ) ^ XOR ]`.
pub fn bitwise(m: &mut Msg, sreg: u32, dreg: u32, mask: &[u8], xor: &[u8]) {
    let e = begin(m, "bitwise");
    m.put_be32(NFTA_BITWISE_SREG, sreg);
    m.put_be32(NFTA_BITWISE_DREG, dreg);
    m.put_be32(NFTA_BITWISE_LEN, mask.len() as u32);
    data(m, NFTA_BITWISE_MASK, mask);
    data(m, NFTA_BITWISE_XOR, xor);
    end(m, e);
}

/// `[ meta load KEY => reg DREG ]`.
pub fn meta(m: &mut Msg, key: u32, dreg: u32) {
    let e = begin(m, "meta");
    m.put_be32(NFTA_META_KEY, key);
    m.put_be32(NFTA_META_DREG, dreg);
    end(m, e);
}

/// `[ fib daddr type => reg DREG ]`.
pub fn fib_daddr_type(m: &mut Msg, dreg: u32) {
    let e = begin(m, "fib");
    m.put_be32(NFTA_FIB_FLAGS, FIB_F_DADDR);
    m.put_be32(NFTA_FIB_RESULT, FIB_RESULT_ADDRTYPE);
    m.put_be32(NFTA_FIB_DREG, dreg);
    end(m, e);
}

/// `[ immediate reg DREG VALUE ]`.
pub fn immediate(m: &mut Msg, dreg: u32, value: &[u8]) {
    let e = begin(m, "immediate");
    m.put_be32(NFTA_IMMEDIATE_DREG, dreg);
    data(m, NFTA_IMMEDIATE_DATA, value);
    end(m, e);
}

/// `[ nat dnat ip|ip6 addr_min reg ADDR proto_min reg PROTO flags 0x2 ]`.
pub fn dnat(m: &mut Msg, v6: bool, addr_reg: u32, proto_reg: u32) {
    let e = begin(m, "nat");
    m.put_be32(NFTA_NAT_TYPE, NAT_DNAT);
    m.put_be32(NFTA_NAT_FAMILY, if v6 { NFPROTO_IPV6 } else { NFPROTO_IPV4 });
    m.put_be32(NFTA_NAT_REG_ADDR_MIN, addr_reg);
    m.put_be32(NFTA_NAT_REG_PROTO_MIN, proto_reg);
    m.put_be32(NFTA_NAT_FLAGS, NAT_RANGE_PROTO_SPECIFIED);
    end(m, e);
}

/// `[ masq ]`.
pub fn masq(m: &mut Msg) {
    let e = begin(m, "masq");
    end(m, e);
}

/// `ip saddr|daddr [!=] NET` (or `ip6`), as nft encodes it: a byte-aligned prefix loads just
/// its bytes; any other prefix loads the whole address and masks it. A /0 prefix matches
/// everything and emits nothing.
pub fn match_prefix(m: &mut Msg, which: Addr, op: u32, addr: IpAddr, prefix_len: u8) {
    let (bytes, size) = match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            (b, 4usize)
        }
        IpAddr::V6(a) => (a.octets(), 16),
    };
    let len = usize::from(prefix_len).min(size * 8);
    if len == 0 {
        return;
    }
    let offset = which.offset(addr.is_ipv6());
    let mut net = [0u8; 16];
    let mut mask = [0u8; 16];
    for i in 0..size {
        let bits = len.saturating_sub(i * 8).min(8);
        mask[i] = if bits == 0 { 0 } else { 0xffu8 << (8 - bits) };
        net[i] = bytes[i] & mask[i];
    }
    if len % 8 == 0 {
        let n = len / 8;
        payload(m, BASE_NETWORK, offset, n as u32, REG_1);
        cmp(m, op, REG_1, &net[..n]);
    } else {
        payload(m, BASE_NETWORK, offset, size as u32, REG_1);
        bitwise(m, REG_1, REG_1, &mask[..size], &[0; 16][..size]);
        cmp(m, op, REG_1, &net[..size]);
    }
}

/// `fib daddr type local`: the packet is addressed to this host.
pub fn match_local_daddr(m: &mut Msg) {
    fib_daddr_type(m, REG_1);
    cmp(m, CMP_EQ, REG_1, &RTN_LOCAL.to_ne_bytes());
}

/// `tcp|udp dport PORT` (`l4proto` is `IPPROTO_TCP` = 6 or `IPPROTO_UDP` = 17).
pub fn match_l4_dport(m: &mut Msg, l4proto: u8, port: u16) {
    meta(m, META_L4PROTO, REG_1);
    cmp(m, CMP_EQ, REG_1, &[l4proto]);
    payload(m, BASE_TRANSPORT, TH_DPORT, 2, REG_1);
    cmp(m, CMP_EQ, REG_1, &port.to_be_bytes());
}

/// `dnat to ADDR:PORT` (`dnat to [ADDR]:PORT` in `ip6`).
pub fn dnat_to(m: &mut Msg, addr: IpAddr, port: u16) {
    match addr {
        IpAddr::V4(a) => immediate(m, REG_1, &a.octets()),
        IpAddr::V6(a) => immediate(m, REG_1, &a.octets()),
    }
    immediate(m, REG_2, &port.to_be_bytes());
    dnat(m, addr.is_ipv6(), REG_1, REG_2);
}
