//! netsetup: rtnetlink and nftables over raw netlink sockets, plus nspawn-compatible
//! interface naming and MAC derivation and the subnet pool, for spawnbox.
//!
//! No `ip`, `nft` or `iptables` binary is needed at run time: requests are built byte by byte
//! (`nl.rs`), exchanged over an `AF_NETLINK` socket (`socket.rs`, `conn.rs`), and every
//! kernel refusal comes back as one line naming the operation and object
//! (`create veth ve-foo/host0: file exists`).
#![deny(unsafe_code)]

mod addr;
mod conn;
mod error;
mod fault;
mod link;
mod naming;
mod nft;
mod nft_expr;
pub mod nl;
mod pool;
mod route;
mod rtnl;
mod siphash;
mod socket;
#[cfg(test)]
mod testutil;
mod watch;

pub use addr::{broadcast, AddrInfo, LocalAddr, SavedAddr, IFA_F_DEPRECATED, IFA_F_TENTATIVE};
pub use conn::Conn;
pub use error::{errno_text, Error, Result};
pub use link::{is_no_device, LinkInfo, Veth, IFF_UP};
pub use naming::{
    derive_ifname, generate_mac, ifname_valid, parse_machine_id, read_machine_id, shorten_ifname, IfName, MacKey,
    ALTIFNAMSIZ, IFNAMSIZ,
};
pub use nft::{wait_for_quiet, Chain, Nft, NftFamily, PortForward, Proto, Rule, RuleHandle, RuleInfo, TABLE};
pub use pool::{first_free_subnet, Ipv4Net, DEFAULT_POOL, DEFAULT_PREFIX_LEN};
pub use route::{blocking_routes, routed_subnets, Lookup, RouteInfo, RouteSpec};
pub use rtnl::{Link, Mac, Netns, Rtnl};
pub use siphash::siphash24;
pub use socket::{Family, Replay, Socket, Transport};
pub use watch::AddrWatch;
