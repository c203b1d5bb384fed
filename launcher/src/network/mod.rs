//! Container networking on the host side, built on `netsetup`: private namespaces, veth,
//! bridge, zone, macvlan/ipvlan, moved interfaces, port forwards, automatic addresses and NAT.
//!
//! Life cycle (called by `launch.rs`):
//! 1. [`HostNetwork::prepare`] once before the first start: validation, locks, leases, zone
//!    bridge, nft table. `None` when the container shares the host's network.
//! 2. [`HostNetwork::attach`] after each clone, before the payload starts: `pid` is the
//!    container's PID 1, already in its own network namespace (created by clone, or joined
//!    with `--network-namespace-path`).
//! 3. [`HostNetwork::detach`] after each stop (PID 1 reaped), before a reboot's next start.
//! 4. [`HostNetwork::release`] at the end, on every path.

use crate::error::{Error, Result};
use crate::spec::Spec;

/// The host side of one container's network, across reboots.
pub struct HostNetwork {
    _private: (),
}

impl HostNetwork {
    /// Prepares the host side; `None` for the host's own network.
    pub fn prepare(spec: &Spec) -> Result<Option<HostNetwork>> {
        if !spec.net.private_network && spec.net.namespace_path.is_none() {
            return Ok(None);
        }
        Err(Error::msg("--private-network: not supported yet"))
    }

    /// Sets up the container's side once its PID 1 (`pid`) exists.
    pub fn attach(&mut self, pid: i32) -> Result<()> {
        let _ = pid;
        Ok(())
    }

    /// Undoes what [`HostNetwork::attach`] did that does not die with the namespace.
    pub fn detach(&mut self) {}

    /// Releases everything at the end.
    pub fn release(self) {}

    /// `--resolv-conf=auto` copies the host's file (true) or leaves the tree's alone (false,
    /// nspawn's choice for private networks without a way out).
    pub fn resolv_conf_copies(&self) -> bool {
        false
    }
}
