//! Address change notifications: an rtnetlink socket that joins the IPv4 and IPv6 address
//! groups (`RTNLGRP_IPV4_IFADDR`, `RTNLGRP_IPV6_IFADDR`) of the namespace it is opened in.
//! Its descriptor is polled with whatever else the caller waits on; when it is readable,
//! [`AddrWatch::drain`] empties it and says whether an address was added or removed. It sends
//! no request: the caller reads the addresses as they are now over a connection of its own
//! (a notification can be lost when the socket's buffer overflows; a fresh dump cannot).

use crate::error::{Error, Result};
use crate::nl;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{bind, recv, socket_with, AddressFamily, RecvFlags, SocketFlags, SocketType};

/// `RTMGRP_IPV4_IFADDR` | `RTMGRP_IPV6_IFADDR` (bits `1 << (group - 1)` of groups 5 and 9).
const GROUPS: u32 = (1 << (5 - 1)) | (1 << (9 - 1));
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;

/// A subscription to address changes in one network namespace.
#[derive(Debug)]
pub struct AddrWatch {
    fd: OwnedFd,
}

impl AddrWatch {
    /// Opens a non-blocking rtnetlink socket in the calling thread's network namespace, bound
    /// to the IPv4 and IPv6 address groups.
    pub fn open() -> Result<AddrWatch> {
        let what = "open rtnetlink socket for address changes";
        let fd =
            socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK, None)
                .map_err(|e| Error::sys(what, e.raw_os_error()))?;
        bind(&fd, &SocketAddrNetlink::new(0, GROUPS)).map_err(|e| Error::sys(what, e.raw_os_error()))?;
        Ok(AddrWatch { fd })
    }

    /// The descriptor to poll for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads every pending notification without blocking; whether any address was added or
    /// removed (or notifications were lost, `ENOBUFS`: then anything may have changed).
    pub fn drain(&self) -> bool {
        let mut buf = vec![0u8; 16384];
        let mut changed = false;
        loop {
            match recv(&self.fd, &mut buf[..], RecvFlags::TRUNC) {
                Ok((_, n)) => {
                    let got = &buf[..n.min(buf.len())];
                    changed |= n > buf.len() || is_address_change(got);
                }
                Err(Errno::INTR) => {}
                Err(Errno::NOBUFS) => changed = true,
                Err(_) => return changed,
            }
        }
    }
}

/// Whether a datagram holds an address notification (for tests of the parsing).
pub fn is_address_change(datagram: &[u8]) -> bool {
    nl::messages(datagram).any(|h| matches!(h.ty, RTM_NEWADDR | RTM_DELADDR))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::msg;

    #[test]
    fn address_notifications_are_told_from_others() {
        assert!(is_address_change(&msg(RTM_NEWADDR, 0, 0, &[10, 64, 0, 0, 1, 0, 0, 0])));
        assert!(is_address_change(&[msg(16, 0, 0, &[0; 16]), msg(RTM_DELADDR, 0, 0, &[2; 8])].concat()));
        assert!(!is_address_change(&msg(16, 0, 0, &[0; 16]))); // RTM_NEWLINK
        assert!(!is_address_change(&[]));
    }

    #[test]
    fn groups_are_the_two_address_groups() {
        assert_eq!(GROUPS, 0x110);
    }
}
