//! Transports: the `Transport` seam, the real `AF_NETLINK` socket and a replaying fake.
//!
//! The protocol logic in `conn.rs` only sends request bytes and receives reply datagrams, so
//! tests swap the kernel for [`Replay`], which records what was sent and hands back recorded
//! kernel replies.

use crate::error::{Error, Result};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{bind, recv, send, socket_with, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::collections::VecDeque;

/// Sends netlink request bytes and receives reply datagrams.
pub trait Transport {
    /// Sends `req` (one or more netlink messages) as one datagram.
    fn send(&mut self, req: &[u8]) -> std::result::Result<(), Errno>;
    /// Receives one datagram into `buf`, replacing its contents.
    fn recv(&mut self, buf: &mut Vec<u8>) -> std::result::Result<(), Errno>;
}

/// Which netlink family a [`Socket`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `NETLINK_ROUTE`: links, addresses, routes.
    Route,
    /// `NETLINK_NETFILTER`: nftables.
    Netfilter,
}

/// A real `AF_NETLINK` socket, bound to a kernel-assigned port id.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
}

impl Socket {
    /// Opens and binds a netlink socket of `family` in the caller's network namespace
    /// ([netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html)).
    pub fn open(family: Family) -> Result<Socket> {
        let (proto, what) = match family {
            // NETLINK_ROUTE is protocol 0, which rustix spells `None`.
            Family::Route => (None, "open rtnetlink socket"),
            Family::Netfilter => (Some(netlink::NETFILTER), "open nfnetlink socket"),
        };
        let fd = socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC, proto)
            .map_err(|e| Error::sys(what, e.raw_os_error()))?;
        bind(&fd, &SocketAddrNetlink::new(0, 0)).map_err(|e| Error::sys(what, e.raw_os_error()))?;
        Ok(Socket { fd })
    }

    /// The socket's descriptor, for a caller that closes it elsewhere (see [`crate::Nft::into_fd`]).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

impl Transport for Socket {
    fn send(&mut self, req: &[u8]) -> std::result::Result<(), Errno> {
        loop {
            match send(&self.fd, req, SendFlags::empty()) {
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
                Ok(n) if n == req.len() => return Ok(()),
                Ok(_) => return Err(Errno::MSGSIZE),
            }
        }
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> std::result::Result<(), Errno> {
        // Peek with MSG_TRUNC to learn the datagram's size, so a large dump part is never
        // cut short, then read it.
        let mut probe = [0u8; 1];
        let size = loop {
            match recv(&self.fd, &mut probe[..], RecvFlags::PEEK | RecvFlags::TRUNC) {
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
                Ok((_, n)) => break n,
            }
        };
        buf.clear();
        buf.resize(size.max(1), 0);
        loop {
            match recv(&self.fd, &mut buf[..], RecvFlags::empty()) {
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
                Ok((n, _)) => {
                    buf.truncate(n);
                    return Ok(());
                }
            }
        }
    }
}

/// A fake transport: records every request and replays queued reply datagrams in order.
/// When the queue is empty `recv` fails with `EAGAIN`, so a test never blocks.
#[derive(Debug, Default, Clone)]
pub struct Replay {
    /// Every request sent, in order.
    pub sent: Vec<Vec<u8>>,
    replies: VecDeque<Vec<u8>>,
}

impl Replay {
    /// A fake that will answer with `replies`, one datagram per `recv`.
    pub fn new(replies: Vec<Vec<u8>>) -> Replay {
        Replay { sent: Vec::new(), replies: replies.into() }
    }

    /// Queues one more reply datagram.
    pub fn push_reply(&mut self, datagram: Vec<u8>) {
        self.replies.push_back(datagram);
    }

    /// How many queued replies were not consumed.
    pub fn unread(&self) -> usize {
        self.replies.len()
    }
}

impl Transport for Replay {
    fn send(&mut self, req: &[u8]) -> std::result::Result<(), Errno> {
        self.sent.push(req.to_vec());
        Ok(())
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> std::result::Result<(), Errno> {
        let d = self.replies.pop_front().ok_or(Errno::AGAIN)?;
        buf.clear();
        buf.extend_from_slice(&d);
        Ok(())
    }
}
