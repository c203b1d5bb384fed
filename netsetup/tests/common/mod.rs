//! Shared helpers for the integration tests: fake kernel replies, hex, sequence patching, and
//! fresh network namespaces for the root-only tests.
#![allow(dead_code)]

use rustix::fd::OwnedFd;
use rustix::fs::{open, Mode, OFlags};
use rustix::thread::{move_into_link_name_space, unshare_unsafe, LinkNameSpaceType, UnshareFlags};

/// One netlink message with `payload`, padded to 4 bytes.
pub fn msg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut m = Vec::with_capacity(len + 3);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&4242u32.to_ne_bytes());
    m.extend_from_slice(payload);
    while m.len() % 4 != 0 {
        m.push(0);
    }
    m
}

/// `NLMSG_ERROR` with `-errno` (0: an ACK) echoing a 16-byte request header.
pub fn err(seq: u32, errno: i32) -> Vec<u8> {
    let mut p = (-errno).to_ne_bytes().to_vec();
    p.extend_from_slice(&[0; 16]);
    msg(2, if errno == 0 { 0x100 } else { 0 }, seq, &p)
}

/// An acknowledgement.
pub fn ack(seq: u32) -> Vec<u8> {
    err(seq, 0)
}

/// `NLMSG_DONE`.
pub fn done(seq: u32) -> Vec<u8> {
    msg(3, 2, seq, &0i32.to_ne_bytes())
}

/// Bytes from a hex string; whitespace and `#` comments to the end of a line are ignored.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.bytes().filter(|b| b.is_ascii_hexdigit()).collect::<Vec<_>>())
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

/// Walks the messages of a datagram, calling `f(offset_of_header)`.
fn each_msg(buf: &[u8], mut f: impl FnMut(usize)) {
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
        f(off);
        if len < 16 {
            break;
        }
        off += (len + 3) & !3;
    }
}

/// The request with every message's sequence number zeroed.
pub fn unseq(mut req: Vec<u8>) -> Vec<u8> {
    let mut offs = vec![];
    each_msg(&req, |o| offs.push(o));
    for o in offs {
        req[o + 8..o + 12].copy_from_slice(&[0; 4]);
    }
    req
}

/// The request with `flags` cleared in every message's `nlmsg_flags`.
pub fn clear_flags(mut req: Vec<u8>, flags: u16) -> Vec<u8> {
    let mut offs = vec![];
    each_msg(&req, |o| offs.push(o));
    for o in offs {
        let f = u16::from_ne_bytes([req[o + 6], req[o + 7]]) & !flags;
        req[o + 6..o + 8].copy_from_slice(&f.to_ne_bytes());
    }
    req
}

/// A recorded datagram with its sequence number(s) replaced by `seq`.
pub fn reseq(mut dgram: Vec<u8>, seq: u32) -> Vec<u8> {
    let mut offs = vec![];
    each_msg(&dgram, |o| offs.push(o));
    for o in offs {
        dgram[o + 8..o + 12].copy_from_slice(&seq.to_ne_bytes());
    }
    dgram
}

/// Runs `f` on a thread of its own inside a brand-new network namespace, so nothing the test
/// does can touch the host's interfaces. Panics (the test fails, never skips) without root.
pub fn in_new_netns<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: CLONE_NEWNET does not unshare the file descriptor table.
            unsafe { unshare_unsafe(UnshareFlags::NEWNET) }.expect("unshare(CLONE_NEWNET) (these tests need root)");
            f()
        })
        .join()
        .expect("test thread panicked")
    })
}

/// A fresh network namespace, held open by the returned fd.
pub fn new_netns_fd() -> OwnedFd {
    in_new_netns(|| {
        open("/proc/thread-self/ns/net", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .expect("open /proc/thread-self/ns/net")
    })
}

/// Runs `f` on a thread that has joined the network namespace `ns`.
pub fn in_netns<R: Send>(ns: &OwnedFd, f: impl FnOnce() -> R + Send) -> R {
    use rustix::fd::AsFd;
    std::thread::scope(|s| {
        s.spawn(|| {
            move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network)).expect("setns(CLONE_NEWNET)");
            f()
        })
        .join()
        .expect("test thread panicked")
    })
}
