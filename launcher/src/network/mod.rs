//! Container networking on the host side, built on `netsetup`: private namespaces, veth,
//! bridge, zone, macvlan/ipvlan, moved interfaces, port forwards, automatic addresses and NAT.
//!
//! Life cycle (called by `launch.rs`):
//! 1. [`HostNetwork::prepare`] once before the first start: the plan, then under the state
//!    lock: stale leases reclaimed, a subnet chosen and leased, the zone bridge, nft rules.
//!    `None` when the container shares the host's network.
//! 2. [`HostNetwork::attach`] after each clone, before the payload starts: `pid` is the
//!    container's PID 1, already in its own network namespace. Links are created with their
//!    container side directly in that namespace; `lo`, `host0`'s address and the default route
//!    are configured through a netlink socket opened inside it.
//! 3. [`HostNetwork::detach`] after each stop, and after a failed attach: moved interfaces go
//!    back, renamed back and restored as the host had them (`moved.rs`). Links
//!    created in the container's namespace are not deleted: they die with it, and deleting a
//!    veth would cost 15-20 ms of kernel teardown on the exit path.
//! 4. [`HostNetwork::release`] at the end, on every path: rules, zone bridge, lease.
//!
//! Between attach and detach, ports that follow the container's own addresses are kept up to
//! date by [`HostNetwork::on_watch`] whenever [`HostNetwork::watch_fd`] is readable
//! (`follow.rs`); the lifecycle (`Machine::events_fd`) hands that descriptor to the front end's
//! event loop.

mod addr6;
mod follow;
mod moved;
mod netns;
mod plan;
pub mod state;

/// For `--network-namespace-path=` with a user namespace (userns::outer).
pub use netns::{open_ns, within as within_netns};

use crate::error::{Error, Result};
use crate::spec::Spec;
use follow::{Exposed, Watch};
use libc::{EEXIST, ENODEV};
use netsetup::{Ipv4Net, Link, Netns, Nft, NftFamily, PortForward, Proto, Rtnl, Rule, RuleHandle, Veth};
use plan::{Plan, CONTAINER_IFNAME};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use state::{Lease, StateDir};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The prefix of a dying left-over veth renamed out of the way (`sbx-gone<index>`).
const GONE: &str = "sbx-gone";
/// Grace periods (about 20 ms each) that a detached close of the nfnetlink socket waits, at
/// most, for nf_tables to be quiet (`netsetup::wait_for_quiet`); then it closes anyway.
const QUIET_ROUNDS: u32 = 50;

/// A netsetup error, whose text already names the operation and the object.
fn ne(e: netsetup::Error) -> Error {
    Error::from(e)
}

/// The addresses of one container on its subnet.
#[derive(Debug, Clone, Copy)]
struct Addrs {
    subnet: Ipv4Net,
    /// The host side (`ve-NAME` or the zone bridge): the container's default gateway.
    gateway: Ipv4Addr,
    /// `host0`.
    container: Ipv4Addr,
    /// The IPv6 ones that mirror them (`addr6.rs`), where the kernel has IPv6.
    v6: Option<Addrs6>,
}

/// A container's IPv6 /64 (`addr6.rs`).
#[derive(Debug, Clone, Copy)]
struct Addrs6 {
    prefix: Ipv6Addr,
    gateway: Ipv6Addr,
    container: Ipv6Addr,
}

impl Addrs {
    /// With the IPv6 addresses that mirror the IPv4 ones, if `ipv6`.
    fn with_v6(mut self, ipv6: bool, machine_id: &[u8; 16]) -> Addrs {
        if ipv6 {
            let prefix = addr6::prefix(machine_id, self.subnet);
            let gateway = addr6::mirror(prefix, self.subnet, self.gateway);
            let container = addr6::mirror(prefix, self.subnet, self.container);
            self.v6 = Some(Addrs6 { prefix, gateway, container });
        }
        self
    }
}

/// Whether the kernel has IPv6 (not booted with `ipv6.disable=1`).
fn have_ipv6() -> bool {
    Path::new("/proc/sys/net/ipv6").exists()
}

/// The nftables families spawnbox uses here: `ip`, and `ip6` where the kernel has IPv6.
fn families(ipv6: bool) -> &'static [NftFamily] {
    if ipv6 {
        &NftFamily::ALL
    } else {
        &NftFamily::ALL[..1]
    }
}

/// The host side of one container's network, across reboots.
pub struct HostNetwork {
    machine: String,
    plan: Plan,
    /// The host's machine ID (MACs and the IPv6 prefix are hashed from it).
    machine_id: [u8; 16],
    /// rtnetlink in the launcher's namespace.
    rtnl: Option<Rtnl>,
    state: Option<StateDir>,
    lease: Option<Lease>,
    addrs: Option<Addrs>,
    rules: Vec<RuleHandle>,
    /// nfnetlink, kept open from the rules' creation to their deletion: closing an nfnetlink
    /// socket waits for nf_tables' pending transaction cleanup (an RCU grace period, 5-10 ms),
    /// so it is closed once, at the very end.
    nft: Option<Nft>,
    /// The launcher's namespace, where moved interfaces return.
    own_netns: Option<OwnedFd>,
    /// The container's namespace, kept from attach to detach while interfaces are moved in.
    container_netns: Option<OwnedFd>,
    moved: Vec<moved::Lent>,
    /// With `plan.follow`, from attach to detach: the watch on the container's addresses.
    watch: Option<Watch>,
    /// With `plan.follow`: the addresses `rules` forward to now.
    exposed: Exposed,
}

/// The host's machine ID, which nspawn hashes MACs from; hosts without one get MACs hashed
/// from the machine name alone (still stable).
fn host_machine_id() -> [u8; 16] {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| netsetup::read_machine_id(Path::new(p)).ok())
        .unwrap_or_else(|| {
            log::debug!("no host machine ID: MACs are derived from the machine name alone");
            [0; 16]
        })
}

impl HostNetwork {
    /// Prepares the host side; `None` for the host's own network.
    pub fn prepare(spec: &Spec) -> Result<Option<HostNetwork>> {
        if !spec.net.private_network && spec.net.namespace_path.is_none() {
            return Ok(None);
        }
        let id = if Plan::needs_machine_id(&spec.net) { host_machine_id() } else { [0; 16] };
        let plan = plan::plan(&spec.net, &spec.machine, &id)?;
        let mut n = HostNetwork {
            machine: spec.machine.clone(),
            plan,
            machine_id: id,
            rtnl: None,
            state: None,
            lease: None,
            addrs: None,
            rules: Vec::new(),
            nft: None,
            own_netns: None,
            container_netns: None,
            moved: Vec::new(),
            watch: None,
            exposed: Exposed::default(),
        };
        if let Err(e) = n.reserve() {
            n.release();
            return Err(e);
        }
        Ok(Some(n))
    }

    fn reserve(&mut self) -> Result<()> {
        let p = &self.plan;
        let host_ops = p.veth.is_some()
            || !p.extra.is_empty()
            || !p.macvlan.is_empty()
            || !p.ipvlan.is_empty()
            || !p.interfaces.is_empty();
        if host_ops || p.needs_state() {
            self.rtnl = Some(Rtnl::open().map_err(ne)?);
        }
        if !p.interfaces.is_empty() {
            self.own_netns = Some(netns::own_netns()?);
        }
        if !p.needs_state() {
            return Ok(());
        }
        let st = StateDir::open(&state::runtime_root(), true)?.ok_or_else(|| Error::msg("state directory vanished"))?;
        let r = self.reserve_locked(&st);
        self.state = Some(st);
        r
    }

    /// Under the lock: reclaim, choose addresses, lease, zone bridge, nft rules. Only the
    /// index is read; a launcher's liveness is checked only where it decides something: the
    /// machine's own name, rules about to be added, a full pool or zone.
    fn reserve_locked(&mut self, st: &StateDir) -> Result<()> {
        let g = st.lock()?;
        let mut leases = g.leases()?;
        let Some(rtnl) = self.rtnl.as_mut() else {
            return Err(Error::msg("no rtnetlink connection"));
        };
        let zone = self.plan.zone().map(str::to_string);
        let live = |l: &Lease| l.is_live(&state::process_start_time);
        if let Some(l) = leases.iter().find(|l| l.machine == self.machine) {
            if live(l) {
                return Err(Error::msg(format!(
                    "machine {} is already running (spawnbox pid {})",
                    self.machine, l.pid
                )));
            }
            let machine = self.machine.as_str();
            reclaim(rtnl, &mut leases, &|l: &Lease| l.machine == machine, zone.as_deref());
        }
        let rules = self.plan.nat || !self.plan.ports.is_empty();
        if rules {
            // A dead launcher's port forward for the same host port would win over ours.
            reclaim(rtnl, &mut leases, &|l: &Lease| l.nft && !live(l), zone.as_deref());
        }
        let pid = rustix::process::getpid().as_raw_nonzero().get();
        let mut lease = Lease {
            machine: self.machine.clone(),
            pid,
            start: state::process_start_time(pid).ok_or_else(|| Error::msg("read /proc/self/stat: no start time"))?,
            subnet: None,
            addr: None,
            zone: zone.clone(),
            nft: rules,
        };
        let ipv6 = have_ipv6();
        if let Some((pool, len)) = self.plan.addressing {
            let a = match choose_addrs(rtnl, zone.as_deref(), &leases, pool, len)? {
                Ok(a) => a,
                Err(_) => {
                    // Full: the leases of launchers that are gone make room.
                    reclaim(rtnl, &mut leases, &|l: &Lease| !live(l), zone.as_deref());
                    choose_addrs(rtnl, zone.as_deref(), &leases, pool, len)?.map_err(Error::msg)?
                }
            }
            .with_v6(ipv6, &self.machine_id);
            log::debug!("{}: subnet {}, host {}, container {}", self.machine, a.subnet, a.gateway, a.container);
            lease.subnet = Some(a.subnet);
            lease.addr = Some(a.container);
            self.addrs = Some(a);
        }
        leases.push(lease.clone());
        g.save(&leases)?;
        self.lease = Some(lease);
        if let Some(z) = &zone {
            ensure_zone_bridge(rtnl, z, self.addrs.as_ref())?;
        }
        if rules {
            self.add_rules(ipv6)?;
        }
        Ok(())
    }

    /// Forwarding on, then the masquerade and port forwards in `ip spawnbox` and (with IPv6)
    /// `ip6 spawnbox`, re-created at every start (a ruleset flush, as Alpine's nftables service
    /// does, removes them). Forwards that follow the container's own addresses only get the
    /// tables here; their rules come with the addresses.
    fn add_rules(&mut self, ipv6: bool) -> Result<()> {
        let families = families(ipv6);
        for f in families {
            netns::enable_forwarding(*f)?;
        }
        let nft = self.nft.insert(Nft::open().map_err(ne)?);
        nft.ensure_tables(families).map_err(ne)?;
        let Some(a) = self.addrs else { return Ok(()) };
        let mut rules = Vec::new();
        if self.plan.nat {
            rules.push(Rule::Masquerade(a.subnet.addr().into(), a.subnet.prefix_len()));
            if let Some(v6) = a.v6 {
                rules.push(Rule::Masquerade(v6.prefix.into(), addr6::PREFIX_LEN));
            }
        }
        let to = std::iter::once(IpAddr::V4(a.container)).chain(a.v6.map(|v| IpAddr::V6(v.container)));
        rules.extend(to.flat_map(|addr| forwards(&self.plan, addr)));
        self.rules = nft.add(&rules, &self.machine).map_err(ne)?;
        Ok(())
    }

    /// The descriptor that is readable when the container's addresses changed and the forwards
    /// that follow them need [`HostNetwork::on_watch`]; `None` when nothing follows them.
    pub fn watch_fd(&self) -> Option<BorrowedFd<'_>> {
        self.watch.as_ref().map(Watch::fd)
    }

    /// After [`HostNetwork::watch_fd`] was readable: reads the notifications and, if an
    /// address changed, re-points the forwards. The container runs on whatever happens here:
    /// a failure is a warning, and the next change tries again.
    pub fn on_watch(&mut self) {
        if self.watch.as_ref().is_some_and(Watch::drain) {
            if let Err(e) = self.follow_addresses() {
                log::warn!("{}: port forwards: {e}", self.machine);
            }
        }
    }

    /// Replaces the forwarding rules when the container's exposed addresses changed: the old
    /// rules' deletion and the new ones in one batch.
    fn follow_addresses(&mut self) -> Result<()> {
        let Some(w) = self.watch.as_mut() else { return Ok(()) };
        let now = w.exposed()?;
        if now == self.exposed {
            return Ok(());
        }
        let rules: Vec<Rule> = now.addrs().flat_map(|a| forwards(&self.plan, a)).collect();
        let nft = match self.nft.as_mut() {
            Some(n) => n,
            None => self.nft.insert(Nft::open().map_err(ne)?),
        };
        self.rules = nft.replace(&self.rules, &rules, &self.machine).map_err(ne)?;
        log::debug!("{}: ports forwarded to {:?} (were {:?})", self.machine, now, self.exposed);
        self.exposed = now;
        Ok(())
    }

    /// Sets up the container's side once its PID 1 (`pid`) exists.
    pub fn attach(&mut self, pid: i32) -> Result<()> {
        if !self.plan.own_namespace {
            return Ok(());
        }
        let ns = netns::netns_of(pid)?;
        let mut r = self.attach_in(ns.as_fd());
        if r.is_ok() && self.plan.follow {
            // Before the payload runs, so that no change is missed; then the addresses as
            // they are (none, unless a reboot found the last boot's rules).
            r = Watch::open(ns.as_fd()).and_then(|w| {
                self.watch = Some(w);
                self.follow_addresses()
            });
        }
        if !self.moved.is_empty() {
            self.container_netns = Some(ns);
        }
        r
    }

    fn attach_in(&mut self, ns: BorrowedFd<'_>) -> Result<()> {
        let owned = self.lease.is_some();
        let HostNetwork { plan, rtnl, moved, addrs, .. } = self;
        // A connection inside the container's namespace (the moves rename there).
        let mut c = netns::rtnl_in(ns)?;
        if let Some(rtnl) = rtnl.as_mut() {
            // Interfaces move first, as in nspawn, into a namespace that holds only lo.
            if !plan.interfaces.is_empty() {
                moved::lend(rtnl, &mut c, ns, plan, moved)?;
            }
            if let Some(v) = &plan.veth {
                let veth = Veth {
                    name: &v.host.name,
                    mac: Some(v.host_mac),
                    peer: CONTAINER_IFNAME,
                    peer_mac: Some(v.container_mac),
                    peer_netns: Some(Netns::Fd(ns)),
                };
                create_veth(rtnl, &veth, owned)?;
            }
            for e in &plan.extra {
                let veth = Veth {
                    name: &e.host,
                    mac: Some(e.host_mac),
                    peer: &e.container,
                    peer_mac: Some(e.container_mac),
                    peer_netns: Some(Netns::Fd(ns)),
                };
                create_veth(rtnl, &veth, owned)?;
            }
            for m in &plan.macvlan {
                rtnl.create_macvlan(&m.name.name, Link::Name(&m.parent), m.mac, Some(Netns::Fd(ns))).map_err(ne)?;
            }
            for m in &plan.ipvlan {
                rtnl.create_ipvlan(&m.name.name, Link::Name(&m.parent), Some(Netns::Fd(ns))).map_err(ne)?;
            }
            if let Some(v) = &plan.veth {
                let h = Link::Name(&v.host.name);
                if let Some(alt) = &v.host.altname {
                    // As nspawn: a kernel without altnames (before 5.5) only costs the altname.
                    if let Err(e) = rtnl.add_altname(h, alt) {
                        log::warn!("{e}");
                    }
                }
                match (&v.master, addrs.as_ref()) {
                    (Some(m), _) => rtnl.set_master(h, Some(Link::Name(&m.bridge()))).map_err(ne)?,
                    (None, Some(a)) => {
                        // Looked up once for both addresses.
                        let index = rtnl.link_index(&v.host.name).map_err(ne)?;
                        let k = Link::Known(index, &v.host.name);
                        rtnl.add_address(k, a.gateway.into(), a.subnet.prefix_len()).map_err(ne)?;
                        if let Some(v6) = a.v6 {
                            // No duplicate address detection: nobody else is on the link, and
                            // the address is usable at once.
                            rtnl.add_address_nodad(k, v6.gateway.into(), addr6::PREFIX_LEN).map_err(ne)?;
                        }
                    }
                    (None, None) => {}
                }
                rtnl.set_link_up(h, true).map_err(ne)?;
            }
        }
        // Inside the container's namespace.
        c.set_link_up(Link::Name("lo"), true).map_err(|e| ne(e).context("in the container"))?;
        for m in plan.macvlan.iter().chain(&plan.ipvlan) {
            if let Some(alt) = &m.name.altname {
                if let Err(e) = c.add_altname(Link::Name(&m.name.name), alt) {
                    log::warn!("{e}");
                }
            }
        }
        if let (Some(_), Some(a)) = (&plan.veth, addrs.as_ref()) {
            let inside = |e: netsetup::Error| ne(e).context("in the container");
            // Looked up once for its addresses and routes.
            let h0 = Link::Known(c.link_index(CONTAINER_IFNAME).map_err(inside)?, CONTAINER_IFNAME);
            c.add_address(h0, a.container.into(), a.subnet.prefix_len()).map_err(inside)?;
            if let Some(v6) = a.v6 {
                c.add_address_nodad(h0, v6.container.into(), addr6::PREFIX_LEN).map_err(inside)?;
            }
            c.set_link_up(h0, true).map_err(inside)?;
            c.add_default_route(a.gateway.into(), h0).map_err(inside)?;
            if let Some(v6) = a.v6 {
                c.add_default_route(v6.gateway.into(), h0).map_err(inside)?;
            }
        }
        Ok(())
    }

    /// For the registry: the host side of the container's links (the veth's host end, or the
    /// bridge it is attached to, and the extra veths) and the container's IPv4 address.
    pub fn summary(&self) -> (Vec<String>, Vec<String>) {
        let mut links: Vec<String> = Vec::new();
        if let Some(v) = &self.plan.veth {
            links.push(match &v.master {
                Some(plan::Master::Bridge(b)) => b.clone(),
                Some(plan::Master::Zone(z)) => plan::zone_bridge(z),
                None => v.host.name.clone(),
            });
        }
        let addresses =
            self.addrs.as_ref().map(|a| vec![format!("{}/{}", a.container, a.subnet.prefix_len())]).unwrap_or_default();
        (links, addresses)
    }

    /// Undoes what [`HostNetwork::attach`] did that does not die with the namespace: moved
    /// interfaces go back to the launcher's namespace under their old names, as they were.
    pub fn detach(&mut self) {
        // The watched namespace is gone; the rules stay until the next boot's addresses or
        // the release.
        self.watch = None;
        let Some(ns) = self.container_netns.take() else {
            return;
        };
        let (Some(own), Some(rtnl)) = (self.own_netns.as_ref(), self.rtnl.as_mut()) else {
            return;
        };
        match netns::rtnl_in(ns.as_fd()) {
            Ok(mut c) => moved::give_back(rtnl, &mut c, own.as_fd(), &mut self.moved),
            Err(e) => log::warn!("move interfaces back: {e}"),
        }
    }

    /// Releases everything at the end: the rules, the zone bridge when no other container
    /// uses it, the lease.
    pub fn release(mut self) {
        self.detach();
        let Some(st) = self.state.take() else { return };
        let g = match st.lock() {
            Ok(g) => g,
            Err(e) => {
                log::warn!("{e}");
                return;
            }
        };
        // With the connection open, the table may exist even if no rule was added: a failed
        // start leaves no empty table either. The table's removal gets a second try.
        let mut done_with = None;
        if !self.rules.is_empty() || self.nft.is_some() {
            let nft = match self.nft.take() {
                Some(n) => Ok(n),
                None => Nft::open(),
            };
            let r = nft.and_then(|mut n| {
                if !self.rules.is_empty() {
                    n.delete_rules(&self.rules).or_else(|_| delete_tagged(&mut n, &self.machine))?;
                }
                delete_tables_if_empty(&mut n).or_else(|_| delete_tables_if_empty(&mut n))?;
                Ok(n)
            });
            match r {
                Ok(n) => done_with = Some(n),
                Err(e) => log::warn!("{e}"),
            }
        }
        let mut leases = match g.leases() {
            Ok(l) => l,
            Err(e) => {
                log::warn!("{e}");
                return;
            }
        };
        if let (Some(z), Some(rtnl)) = (self.plan.zone(), self.rtnl.as_mut()) {
            // The zone's other members: the bridge stays while one of them runs, and goes
            // with the last (the leases of members whose launchers are gone go with it).
            let me = self.machine.as_str();
            let member = |l: &Lease| l.machine != me && l.zone.as_deref() == Some(z);
            if !leases.iter().any(|l| member(l) && l.is_live(&state::process_start_time)) {
                reclaim(rtnl, &mut leases, &member, Some(z));
                delete_zone_bridge(rtnl, z);
            }
        }
        if self.lease.is_some() {
            leases.retain(|l| l.machine != self.machine);
            if let Err(e) = g.save(&leases) {
                log::warn!("{e}");
            }
        }
        // The rules are gone; the socket's last close would still wait about 20 ms for the
        // kernel's transaction cleanup (docs/NETWORKING.md): not in this process, and only
        // once that cleanup is idle, so that it holds up no other start either.
        if let Some(n) = done_with {
            crate::sys::close_detached(n.into_fd(), |fd| netsetup::wait_for_quiet(fd, QUIET_ROUNDS));
        }
    }
}

/// Creates a veth. When the host name is taken by a veth that can only be a leftover of this
/// machine, typically the previous run's link that the kernel is still tearing down with its
/// namespace, that link is renamed out of the way (and its altnames dropped), which is fast,
/// rather than deleted, which waits for the teardown. A leftover is a veth of that name with
/// the MAC derived for this machine (from the host's machine ID and the machine name), found
/// while we hold the machine's lease (no other spawnbox runs it); anything else with the name
/// is someone else's link and is left alone.
fn create_veth(rtnl: &mut Rtnl, v: &Veth<'_>, owned: bool) -> Result<()> {
    match rtnl.create_veth(v) {
        Err(e) if e.errno() == Some(EEXIST) && owned => {
            let links = rtnl.list_links().map_err(ne)?;
            let Some(old) = links.iter().find(|l| l.name == v.name) else {
                // Gone since (a leftover at the end of its teardown), or the name is another
                // link's altname: one more try tells.
                return rtnl.create_veth(v).map_err(ne);
            };
            if old.kind.as_deref() != Some("veth") || v.mac.is_none() || old.mac != v.mac {
                return Err(ne(e));
            }
            retire_link(rtnl, old)?;
            rtnl.create_veth(v).map_err(ne)
        }
        r => r.map_err(ne),
    }
}

/// Renames a dying left-over link to `sbx-gone<index>`; it disappears with its namespace.
fn retire_link(rtnl: &mut Rtnl, old: &netsetup::LinkInfo) -> Result<()> {
    use libc::EBUSY;
    log::debug!("renaming the left-over link {} out of the way", old.name);
    let link = Link::Index(old.index);
    for alt in &old.altnames {
        let _ = rtnl.delete_altname(link, alt);
    }
    let name = format!("{GONE}{}", old.index);
    let r = match rtnl.rename_link(link, &name) {
        // Kernels before 6.2 rename only links that are down.
        Err(e) if e.errno() == Some(EBUSY) => {
            rtnl.set_link_up(link, false).and_then(|()| rtnl.rename_link(link, &name))
        }
        r => r,
    };
    match r {
        Err(e) if e.errno() != Some(ENODEV) => Err(ne(e)),
        _ => Ok(()),
    }
}

/// The addresses for a new lease: in `zone`'s subnet, or a subnet of its own. `Ok(Err(_))`
/// (the message) when the pool or the zone's subnet is full.
fn choose_addrs(
    rtnl: &mut Rtnl,
    zone: Option<&str>,
    leases: &[Lease],
    pool: Ipv4Net,
    len: u8,
) -> Result<std::result::Result<Addrs, String>> {
    let Some(z) = zone else {
        let Some(subnet) = allocate(rtnl, leases, pool, len)? else {
            return Ok(Err(format!("no free /{len} subnet left in {pool}")));
        };
        let (Some(gateway), Some(container)) = (subnet.host_addr(), subnet.container_addr()) else {
            return Err(Error::msg(format!("subnet {subnet} has no room for two addresses")));
        };
        return Ok(Ok(Addrs { subnet, gateway, container, v6: None }));
    };
    zone_addrs(rtnl, z, leases, pool, len)
}

/// The first free subnet of the pool: not leased, not routed on the host; `None` when the
/// pool is full.
fn allocate(rtnl: &mut Rtnl, leases: &[Lease], pool: Ipv4Net, len: u8) -> Result<Option<Ipv4Net>> {
    let leased: Vec<Ipv4Net> = leases.iter().filter_map(|l| l.subnet).collect();
    rtnl.first_unrouted_subnet(pool, len, &leased).map_err(ne)
}

/// A zone's subnet (its members', else the existing bridge's, else a new one) and the first
/// address in it that no member uses; `Ok(Err(_))` when the pool or the subnet is full.
fn zone_addrs(
    rtnl: &mut Rtnl,
    zone: &str,
    leases: &[Lease],
    pool: Ipv4Net,
    len: u8,
) -> Result<std::result::Result<Addrs, String>> {
    let members: Vec<&Lease> = leases.iter().filter(|l| l.zone.as_deref() == Some(zone)).collect();
    let subnet = match members.iter().find_map(|l| l.subnet) {
        Some(s) => s,
        None => match bridge_subnet(rtnl, &plan::zone_bridge(zone))? {
            Some(s) => s,
            None => match allocate(rtnl, leases, pool, len)? {
                Some(s) => s,
                None => return Ok(Err(format!("no free /{len} subnet left in {pool}"))),
            },
        },
    };
    let gateway = subnet.host_addr().ok_or_else(|| Error::msg(format!("zone {zone}: subnet {subnet} is too small")))?;
    let used: Vec<Ipv4Addr> = members.iter().filter_map(|l| l.addr).collect();
    let container =
        (u32::from(gateway) + 1..u32::from(subnet.broadcast())).map(Ipv4Addr::from).find(|a| !used.contains(a));
    Ok(container
        .map(|container| Addrs { subnet, gateway, container, v6: None })
        .ok_or_else(|| format!("zone {zone}: no free address left in {subnet}")))
}

/// The IPv4 subnet of an existing bridge's first address, if the bridge exists and has one.
fn bridge_subnet(rtnl: &mut Rtnl, bridge: &str) -> Result<Option<Ipv4Net>> {
    let index = match rtnl.link_index(bridge) {
        Ok(i) => i,
        Err(e) if e.errno() == Some(ENODEV) => return Ok(None),
        Err(e) => return Err(ne(e)),
    };
    Ok(rtnl.list_addresses().map_err(ne)?.into_iter().find_map(|a| match a.addr {
        std::net::IpAddr::V4(v4) if a.index == index => Ipv4Net::new(v4, a.prefix_len),
        _ => None,
    }))
}

/// The last container's rules gone, `ip spawnbox` and `ip6 spawnbox` go too (callers hold the
/// state lock, so no other spawnbox is adding rules meanwhile).
fn delete_tables_if_empty(nft: &mut Nft) -> netsetup::Result<()> {
    let mut empty = Vec::with_capacity(2);
    for f in families(have_ipv6()) {
        if nft.list_rules_of(*f)?.is_empty() {
            empty.push(*f);
        }
    }
    if empty.is_empty() {
        return Ok(());
    }
    nft.delete_tables(&empty)
}

/// Deletes the rules tagged `tag` from both tables.
fn delete_tagged(nft: &mut Nft, tag: &str) -> netsetup::Result<()> {
    for f in families(have_ipv6()) {
        nft.delete_tagged_of(*f, tag)?;
    }
    Ok(())
}

/// The port forwards of the plan, to `addr`.
fn forwards(plan: &Plan, addr: IpAddr) -> impl Iterator<Item = Rule> + '_ {
    plan.ports.iter().map(move |p| {
        Rule::Forward(PortForward {
            proto: if p.udp { Proto::Udp } else { Proto::Tcp },
            host_port: p.host_port,
            addr,
            port: p.container_port,
        })
    })
}

/// Creates `vz-ZONE` if missing, gives it the gateway address, brings it up. A link of that
/// name that is not a bridge is someone else's: refused, before anything changes.
fn ensure_zone_bridge(rtnl: &mut Rtnl, zone: &str, addrs: Option<&Addrs>) -> Result<()> {
    let br = plan::zone_bridge(zone);
    match rtnl.create_bridge(&br) {
        Err(e) if e.errno() != Some(EEXIST) => return Err(ne(e)),
        Err(_) => {
            let l = rtnl.link_info(Link::Name(&br)).map_err(ne)?;
            if l.kind.as_deref() != Some("bridge") || l.name != br {
                return Err(Error::msg(format!(
                    "--network-zone={zone}: {br} exists and is not a bridge ({})",
                    l.kind.as_deref().unwrap_or("no kind")
                )));
            }
        }
        Ok(()) => {}
    }
    if let Some(a) = addrs {
        match rtnl.add_address(Link::Name(&br), a.gateway.into(), a.subnet.prefix_len()) {
            Err(e) if e.errno() != Some(EEXIST) => return Err(ne(e)),
            _ => {}
        }
        if let Some(v6) = a.v6 {
            match rtnl.add_address_nodad(Link::Name(&br), v6.gateway.into(), addr6::PREFIX_LEN) {
                Err(e) if e.errno() != Some(EEXIST) => return Err(ne(e)),
                _ => {}
            }
        }
    }
    rtnl.set_link_up(Link::Name(&br), true).map_err(ne)
}

/// Deletes the bridge `vz-ZONE`, unless a link other than a container's veth (`vb-NAME`, or
/// `sbx-gone<index>` once retired) was added to it (as nspawn, which deletes a zone bridge
/// only when it has no ports; the ports of live members are known from their leases, and
/// those of exited ones are on their way out).
fn delete_zone_bridge(rtnl: &mut Rtnl, zone: &str) {
    let br = plan::zone_bridge(zone);
    let links = match rtnl.list_links().or_else(|_| rtnl.list_links()) {
        Ok(l) => l,
        Err(e) => return log::warn!("zone bridge {br} is left: {e}"),
    };
    // Only a bridge: a link of that name that is not one is someone else's.
    let Some(bridge) = links.iter().find(|l| l.name == br && l.kind.as_deref() == Some("bridge")) else {
        return;
    };
    let foreign = |l: &&netsetup::LinkInfo| {
        let ours = l.name.starts_with("vb-") || l.name.starts_with(GONE);
        l.master == Some(bridge.index) && !(l.kind.as_deref() == Some("veth") && ours)
    };
    if let Some(p) = links.iter().find(foreign) {
        return log::debug!("zone bridge {br} is kept: {} was added to it", p.name);
    }
    // A second try: a bridge left behind would outlive every container of the zone.
    let r = rtnl.delete_link(Link::Name(&br)).or_else(|e| match e.errno() {
        Some(ENODEV) => Err(e),
        _ => rtnl.delete_link(Link::Name(&br)),
    });
    match r {
        Err(e) if e.errno() != Some(ENODEV) => log::warn!("{e}"),
        _ => log::debug!("removed zone bridge {br}"),
    }
}

/// Takes the leases that `stale` picks out of `leases` and removes what their launchers
/// left: their tagged rules, and the bridges of their zones that no lease left names (except
/// `keep_zone`, about to be joined). The caller saves the index.
fn reclaim(rtnl: &mut Rtnl, leases: &mut Vec<Lease>, stale: &dyn Fn(&Lease) -> bool, keep_zone: Option<&str>) {
    let (gone, kept): (Vec<Lease>, Vec<Lease>) = std::mem::take(leases).into_iter().partition(|l| stale(l));
    *leases = kept;
    for l in &gone {
        log::debug!("reclaiming the lease of {} (spawnbox pid {} is gone)", l.machine, l.pid);
        if l.nft {
            if let Err(e) = Nft::open()
                .and_then(|mut n| delete_tagged(&mut n, &l.machine).and_then(|_| delete_tables_if_empty(&mut n)))
            {
                log::warn!("{e}");
            }
        }
    }
    let mut zones: Vec<&str> = gone.iter().filter_map(|l| l.zone.as_deref()).collect();
    crate::sort::sort(&mut zones);
    zones.dedup();
    for z in zones {
        if Some(z) != keep_zone && !leases.iter().any(|l| l.zone.as_deref() == Some(z)) {
            delete_zone_bridge(rtnl, z);
        }
    }
}

/// `--cleanup`: reclaims the leases of launchers that are gone (their rules, zone bridges and
/// index lines). Returns whether `machine` had one. A running `machine` is left alone.
pub fn cleanup(machine: &str) -> Result<bool> {
    let Some(st) = StateDir::open(&state::runtime_root(), false)? else {
        return Ok(false);
    };
    let g = st.lock()?;
    let mut leases = g.leases()?;
    let stale: Vec<String> =
        leases.iter().filter(|l| !l.is_live(&state::process_start_time)).map(|l| l.machine.clone()).collect();
    if let Some(l) = leases.iter().find(|l| l.machine == machine && !stale.contains(&l.machine)) {
        log::info!("machine {machine} is running (spawnbox pid {}): its network is left alone", l.pid);
    }
    if stale.is_empty() {
        return Ok(false);
    }
    let mut rtnl = Rtnl::open().map_err(ne)?;
    reclaim(&mut rtnl, &mut leases, &|l: &Lease| stale.contains(&l.machine), None);
    g.save(&leases)?;
    Ok(stale.iter().any(|m| m == machine))
}
