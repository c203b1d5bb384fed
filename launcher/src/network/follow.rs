//! Port forwards that follow the container's own addresses (`-p` with
//! `--network-address=off`, or on `--network-bridge`), as nspawn re-exposes its ports whenever
//! an address changes in the container: an rtnetlink socket opened in the container's
//! namespace joins its address groups ([`netsetup::AddrWatch`]); the front end polls it with
//! its other descriptors (`Machine::events_fd`), and on each wake-up the container's addresses
//! are read afresh and, if the exposed ones changed, the old rules are replaced by new ones in
//! one nftables batch.

use crate::error::{Error, Result};
use netsetup::{AddrWatch, LocalAddr, Rtnl, IFA_F_DEPRECATED};
use rustix::fd::BorrowedFd;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `RT_SCOPE_LINK`: link-local and narrower addresses are never exposed.
const RT_SCOPE_LINK: u8 = 253;

/// The addresses the forwards point to, one per family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exposed {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

impl Exposed {
    /// The addresses, IPv4 first.
    pub fn addrs(&self) -> impl Iterator<Item = IpAddr> {
        self.v4.map(IpAddr::V4).into_iter().chain(self.v6.map(IpAddr::V6))
    }
}

/// The container's address to expose in each family, as nspawn picks it: of the addresses
/// wider than link scope that are not deprecated, the one of the widest scope, then of the
/// lowest interface index, then the lowest address.
pub fn pick(addrs: &[LocalAddr]) -> Exposed {
    let mut ok: Vec<&LocalAddr> =
        addrs.iter().filter(|a| a.scope < RT_SCOPE_LINK && a.flags & IFA_F_DEPRECATED == 0).collect();
    ok.sort_by_key(|a| (a.scope, a.info.index, a.info.addr));
    Exposed {
        v4: ok.iter().find_map(|a| match a.info.addr {
            IpAddr::V4(v) => Some(v),
            IpAddr::V6(_) => None,
        }),
        v6: ok.iter().find_map(|a| match a.info.addr {
            IpAddr::V6(v) => Some(v),
            IpAddr::V4(_) => None,
        }),
    }
}

/// The watch on one boot's namespace: the subscribed socket and a connection to read the
/// addresses with (both opened inside the container's namespace).
pub struct Watch {
    watch: AddrWatch,
    rtnl: Rtnl,
}

impl Watch {
    /// Opens both sockets in the namespace `ns`.
    pub fn open(ns: BorrowedFd<'_>) -> Result<Watch> {
        let what = "the container's network namespace";
        let (watch, rtnl) = super::netns::within(ns, what, || (AddrWatch::open(), Rtnl::open()))?;
        let ctx = |e: netsetup::Error| Error::from(e).context("in the container");
        Ok(Watch { watch: watch.map_err(ctx)?, rtnl: rtnl.map_err(ctx)? })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.watch.fd()
    }

    /// Empties the socket; whether an address changed.
    pub fn drain(&self) -> bool {
        self.watch.drain()
    }

    /// The addresses to expose now.
    pub fn exposed(&mut self) -> Result<Exposed> {
        let addrs = self.rtnl.local_addresses().map_err(|e| Error::from(e).context("in the container"))?;
        Ok(pick(&addrs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netsetup::AddrInfo;

    fn a(index: u32, addr: &str, scope: u8, flags: u32) -> LocalAddr {
        LocalAddr { info: AddrInfo { index, addr: addr.parse().unwrap(), prefix_len: 24 }, scope, flags }
    }

    #[test]
    fn picks_one_address_per_family_as_nspawn() {
        let addrs = [
            a(1, "127.0.0.1", 254, 0x80),
            a(1, "::1", 254, 0x80),
            a(3, "fe80::1", 253, 0x80),
            a(3, "10.9.0.7", 0, 0x80),
            a(2, "10.9.0.9", 0, 0x80),
            a(2, "10.9.0.8", 0, 0x80),
            a(3, "fd09::3", 0, 0x80),
            a(3, "fd09::2", 0, 0x80 | IFA_F_DEPRECATED),
            a(3, "fec0::1", 200, 0x80),
        ];
        let e = pick(&addrs);
        assert_eq!(e.v4, Some(Ipv4Addr::new(10, 9, 0, 8)), "lowest index, then lowest address");
        assert_eq!(e.v6, Some("fd09::3".parse().unwrap()), "global before site, deprecated never");
        assert_eq!(e.addrs().map(|a| a.to_string()).collect::<Vec<_>>(), ["10.9.0.8", "fd09::3"]);
    }

    #[test]
    fn loopback_and_link_local_alone_expose_nothing() {
        let addrs = [a(1, "127.0.0.1", 254, 0x80), a(3, "fe80::1", 253, 0x80), a(3, "169.254.1.1", 253, 0)];
        assert_eq!(pick(&addrs), Exposed::default());
        assert_eq!(pick(&[]).addrs().count(), 0);
    }
}
