//! The rtnetlink handle and the small types its operations share (link and netns references,
//! MAC formatting). The operations live in `link.rs`, `addr.rs` and `route.rs`.

use crate::conn::Conn;
use crate::error::Result;
use crate::socket::{Family, Socket, Transport};
use rustix::fd::{AsRawFd, BorrowedFd};
use std::fmt;

/// An rtnetlink (`NETLINK_ROUTE`) connection in one network namespace.
#[derive(Debug)]
pub struct Rtnl<T: Transport = Socket> {
    pub(crate) conn: Conn<T>,
}

impl Rtnl<Socket> {
    /// Opens an rtnetlink socket in the calling thread's network namespace.
    pub fn open() -> Result<Rtnl<Socket>> {
        Ok(Rtnl::with_transport(Socket::open(Family::Route)?))
    }
}

impl<T: Transport> Rtnl<T> {
    /// An rtnetlink connection over any transport (tests pass a [`crate::Replay`]).
    pub fn with_transport(transport: T) -> Rtnl<T> {
        Rtnl { conn: Conn::new(transport) }
    }

    /// The underlying transport.
    pub fn transport(&self) -> &T {
        self.conn.transport()
    }

    /// The underlying transport, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        self.conn.transport_mut()
    }
}

/// A link named by its interface name or its index. Names make better error messages;
/// operations that need the index resolve a name first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link<'a> {
    /// By name, e.g. `ve-foo`. Sent as `IFLA_IFNAME` (index 0), which works on every kernel;
    /// names of 16 bytes or more go as `IFLA_ALT_IFNAME` (Linux 5.5+). An altname shorter
    /// than that identifies a link for lookups and deletion, but a change request would read
    /// it as a rename: use the primary name or the index there.
    Name(&'a str),
    /// By interface index.
    Index(u32),
    /// A link whose index was looked up already: requests carry the index (no lookup, no
    /// rename), messages say the name.
    Known(u32, &'a str),
}

impl fmt::Display for Link<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Link::Name(n) => f.write_str(n),
            Link::Index(i) => write!(f, "ifindex {i}"),
            Link::Known(_, n) => f.write_str(n),
        }
    }
}

/// A target network namespace, by a process in it or by an open namespace file.
#[derive(Debug, Clone, Copy)]
pub enum Netns<'a> {
    /// The netns of process `pid` (`IFLA_NET_NS_PID`).
    Pid(u32),
    /// An open `/proc/PID/ns/net` or `/run/netns/NAME` (`IFLA_NET_NS_FD`).
    Fd(BorrowedFd<'a>),
}

impl fmt::Display for Netns<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Netns::Pid(p) => write!(f, "netns of pid {p}"),
            Netns::Fd(fd) => write!(f, "netns fd {}", fd.as_raw_fd()),
        }
    }
}

/// An Ethernet address printed as `02:11:22:33:44:55`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_read_well_in_errors() {
        assert_eq!(Link::Name("ve-foo").to_string(), "ve-foo");
        assert_eq!(Link::Index(7).to_string(), "ifindex 7");
        assert_eq!(Link::Known(7, "host0").to_string(), "host0");
        assert_eq!(Netns::Pid(42).to_string(), "netns of pid 42");
        assert_eq!(Mac([0x02, 0xab, 0, 1, 0x10, 0xff]).to_string(), "02:ab:00:01:10:ff");
    }
}
