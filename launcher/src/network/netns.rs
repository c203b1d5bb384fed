//! Reaching into network namespaces: namespace files, an rtnetlink socket opened inside the
//! container's namespace, and the forwarding sysctl.
//!
//! A netlink socket stays bound to the namespace it was created in, so a short-lived thread
//! joins the container's namespace, opens the socket and hands it back; the launcher's own
//! threads never change namespace.

use crate::error::{Error, Result};
use netsetup::Rtnl;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::path::Path;

/// Opens a network namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`).
pub fn open_ns(path: &Path) -> Result<OwnedFd> {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open network namespace", path, e))
}

/// The network namespace of process `pid` (`/proc/PID/ns/net`).
pub fn netns_of(pid: i32) -> Result<OwnedFd> {
    open_ns(Path::new(&format!("/proc/{pid}/ns/net")))
}

/// The calling thread's network namespace (where moved interfaces return to).
pub fn own_netns() -> Result<OwnedFd> {
    open_ns(Path::new("/proc/thread-self/ns/net"))
}

/// An rtnetlink connection inside the namespace `ns`.
pub fn rtnl_in(ns: BorrowedFd<'_>) -> Result<Rtnl> {
    within(ns, "the container's network namespace", || Rtnl::open().map_err(Error::from))?
}

/// Runs `f` in the network namespace `ns` (`what`, for the error): the (single-threaded)
/// launcher joins it just long enough, then returns to its own namespace. What `f` makes there
/// (a socket, a sysfs instance) stays bound to `ns`.
pub fn within<T>(ns: BorrowedFd<'_>, what: &str, f: impl FnOnce() -> T) -> Result<T> {
    use rustix::thread::{move_into_link_name_space, LinkNameSpaceType::Network};
    let own = own_netns()?;
    move_into_link_name_space(ns, Some(Network)).map_err(|e| Error::sys("join", what, e))?;
    let r = f();
    if let Err(e) = move_into_link_name_space(own.as_fd(), Some(Network)) {
        // Every later step would act on the wrong namespace: stop here.
        log::error!("return to the launcher's network namespace: {}", crate::error::errno_text(e.raw_os_error()));
        std::process::abort();
    }
    Ok(r)
}

/// Turns forwarding on for `family` in the launcher's namespace, unless it already is:
/// `net.ipv4.ip_forward=1`, or `net.ipv6.conf.all.forwarding=1` (which, as networkd's
/// `IPMasquerade=both` does, also makes every interface stop accepting router advertisements
/// unless its `accept_ra` is 2).
pub fn enable_forwarding(family: netsetup::NftFamily) -> Result<()> {
    let p = Path::new(match family {
        netsetup::NftFamily::Ip => "/proc/sys/net/ipv4/ip_forward",
        netsetup::NftFamily::Ip6 => "/proc/sys/net/ipv6/conf/all/forwarding",
    });
    let fd =
        rustix::fs::open(p, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).map_err(|e| Error::path("open", p, e))?;
    let mut b = [0u8; 1];
    if rustix::io::read(&fd, &mut b).is_ok_and(|n| n == 1) && b[0] == b'1' {
        return Ok(());
    }
    rustix::io::pwrite(&fd, b"1\n", 0).map_err(|e| Error::path("write", p, e))?;
    Ok(())
}
