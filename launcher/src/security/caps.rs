//! Capabilities of the payload: nspawn's default retained set (one table), the pure
//! computation of the retained and ambient sets from the options, and the two steps that apply
//! them in the container child (bounding set while still root, the other four sets after the
//! uid change).

use crate::error::{Error, Result};
use rustix::thread::{CapabilitySet, CapabilitySets};

/// Capability names and nspawn's default retained set: one table, the command line's.
pub use crate::cli::{CAPABILITIES as NAMES, DEFAULT_RETAINED_CAPS};

pub const CAP_NET_BIND_SERVICE: u32 = 10;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_MKNOD: u32 = 27;

/// nspawn's `arg_caps_retain` (26 capabilities) as a bit mask.
pub const fn default_mask() -> u64 {
    DEFAULT_RETAINED_CAPS
}

/// `cap_sys_admin` for capability 21, `cap_63` past the table.
pub fn name(cap: u32) -> String {
    match NAMES.get(cap as usize) {
        Some(n) => format!("cap_{n}"),
        None => format!("cap_{cap}"),
    }
}

/// The names of the bits of `mask`, comma-separated.
pub fn names(mask: u64) -> String {
    (0..64u32).filter(|c| mask & (1 << c) != 0).map(name).collect::<Vec<_>>().join(",")
}

/// What the options and the host say about capabilities (plain data, no syscalls).
#[derive(Debug, Clone, Copy)]
pub struct Request {
    /// `--capability=` (`all` is every bit).
    pub add: u64,
    /// `--drop-capability=`.
    pub drop: u64,
    /// `--ambient-capability=`.
    pub ambient: u64,
    /// A network namespace of its own (private or joined): CAP_NET_ADMIN is retained.
    pub private_network: bool,
    /// A user namespace. Not implemented yet: always false until `--private-users` lands.
    pub userns: bool,
    /// Whether a device policy keeps mknod'ed nodes from being opened; without one CAP_MKNOD
    /// is not retained unless asked for explicitly.
    pub device_policy: bool,
    /// `/proc/sys/kernel/cap_last_cap`.
    pub last_cap: u32,
    /// The capabilities spawnbox itself may hand on: its bounding set and permitted set.
    pub host: u64,
}

/// The capability sets of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The bounding set; also the effective, permitted and inheritable sets of a root payload.
    pub retained: u64,
    /// The ambient set (also inheritable and permitted for a non-root payload).
    pub ambient: u64,
    /// Capabilities asked for but absent from spawnbox's own sets, dropped with one warning.
    pub missing: u64,
    /// CAP_MKNOD was left out for want of a device policy.
    pub mknod_dropped: bool,
}

/// Every valid capability bit up to `last_cap`.
pub fn all_mask(last_cap: u32) -> u64 {
    if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    }
}

/// nspawn's rule: (default | `--capability` | NET_ADMIN with a private network) minus
/// `--drop-capability`; NET_BIND_SERVICE dropped under userns without a private network; then
/// reduced to what the host allows (nspawn's `capability_quintet_mangle`).
pub fn plan(req: &Request) -> Result<Plan> {
    let valid = all_mask(req.last_cap);
    let net_admin = if req.private_network { 1 << CAP_NET_ADMIN } else { 0 };
    let mut retained = (default_mask() | req.add | net_admin) & !req.drop & valid;
    if req.userns && !req.private_network {
        // Binding low ports in the host's network namespace is not the container's to decide.
        retained &= !(1 << CAP_NET_BIND_SERVICE);
    }
    let mknod_dropped = !req.device_policy && retained & (1 << CAP_MKNOD) != 0 && req.add & (1 << CAP_MKNOD) == 0;
    if mknod_dropped {
        retained &= !(1 << CAP_MKNOD);
    }
    if req.ambient & !retained != 0 {
        return Err(Error::msg(format!(
            "--ambient-capability= is not fully covered by the retained capabilities ({} not retained)",
            names(req.ambient & !retained)
        )));
    }
    let missing = retained & !req.host;
    Ok(Plan { retained: retained & req.host, ambient: req.ambient & req.host, missing, mknod_dropped })
}

/// The effective, permitted and inheritable sets after the uid change (nspawn's
/// `drop_capabilities()`): the retained set for root; for anyone else only the ambient set
/// (effective stays empty, exec makes the ambient capabilities effective).
pub fn process_sets(plan: &Plan, uid_is_root: bool) -> CapabilitySets {
    let set = CapabilitySet::from_bits_retain;
    if uid_is_root {
        CapabilitySets { effective: set(plan.retained), permitted: set(plan.retained), inheritable: set(plan.retained) }
    } else {
        CapabilitySets { effective: set(0), permitted: set(plan.ambient), inheritable: set(plan.ambient) }
    }
}

/// The capabilities spawnbox may pass on: in its bounding set and in its permitted set.
pub fn host_mask(last_cap: u32) -> Result<u64> {
    let permitted = rustix::thread::capabilities(None)
        .map_err(|e| Error::sys("read", "capabilities of spawnbox", e))?
        .permitted
        .bits();
    let mut bounding = 0u64;
    for cap in 0..=last_cap.min(63) {
        if rustix::thread::capability_is_in_bounding_set(CapabilitySet::from_bits_retain(1 << cap)).unwrap_or(false) {
            bounding |= 1 << cap;
        }
    }
    Ok(bounding & permitted)
}

/// `/proc/sys/kernel/cap_last_cap` (CAP_CHECKPOINT_RESTORE, 40, if unreadable).
pub fn read_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
        .min(63)
}

/// In the child as root: drops every capability 0..=`last_cap` not retained from the bounding
/// set (needs CAP_SETPCAP, so before the uid change), and with ambient capabilities asks the
/// kernel to keep the permitted set across setresuid (the ambient set itself is always cleared
/// by a change away from uid 0 and is raised again in [`apply_after_uid_change`]).
pub fn apply_bounding(plan: &Plan, last_cap: u32) -> Result<()> {
    drop_bounding(plan.retained, last_cap)?;
    if plan.ambient != 0 {
        rustix::thread::set_keep_capabilities(true).map_err(|e| Error::sys("set", "keep-capabilities flag", e))?;
    }
    Ok(())
}

/// In the child after setresuid: the effective, permitted and inheritable sets, then the
/// ambient set (raising needs the capability in both permitted and inheritable).
pub fn apply_after_uid_change(plan: &Plan) -> Result<()> {
    if plan.ambient != 0 {
        rustix::thread::set_keep_capabilities(false).map_err(|e| Error::sys("clear", "keep-capabilities flag", e))?;
    }
    let root = rustix::process::getuid().is_root();
    rustix::thread::set_capabilities(None, process_sets(plan, root))
        .map_err(|e| Error::sys("set", "capabilities of the payload", e))?;
    raise_ambient(plan.ambient)
}

/// Drops every capability 0..=`last_cap` not in `retained` from the bounding set.
fn drop_bounding(retained: u64, last_cap: u32) -> Result<()> {
    for cap in 0..=last_cap.min(63) {
        if retained & (1 << cap) != 0 {
            continue;
        }
        rustix::thread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(1 << cap))
            .map_err(|e| Error::sys("drop", format!("{} from the bounding set", name(cap)), e))?;
    }
    Ok(())
}

/// Makes the ambient set exactly `ambient`.
fn raise_ambient(ambient: u64) -> Result<()> {
    // Root keeps spawnbox's own ambient set across the (no-op) uid change: start from empty.
    rustix::thread::clear_ambient_capability_set().map_err(|e| Error::sys("clear", "ambient capabilities", e))?;
    for cap in 0..64u32 {
        if ambient & (1 << cap) != 0 {
            rustix::thread::configure_capability_in_ambient_set(CapabilitySet::from_bits_retain(1 << cap), true)
                .map_err(|e| Error::sys("raise", format!("ambient capability {}", name(cap)), e))?;
        }
    }
    Ok(())
}

/// The five capability sets of an OCI process (`process.capabilities`), as masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quintet {
    pub bounding: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub permitted: u64,
    pub ambient: u64,
}

impl Quintet {
    /// The sets of `process.capabilities` (numbers) limited to `allowed`, and the numbers of
    /// any set outside it (capabilities the kernel or spawnbox's own sets lack).
    pub fn of(caps: &crate::runtime_spec::Capabilities, allowed: u64) -> (Quintet, u64) {
        let mut outside = 0u64;
        let mut mask = |set: &[u32]| {
            let m = set.iter().fold(0u64, |m, c| m | 1u64.checked_shl(*c).unwrap_or(0));
            outside |= m & !allowed;
            m & allowed
        };
        let q = Quintet {
            bounding: mask(&caps.bounding),
            effective: mask(&caps.effective),
            inheritable: mask(&caps.inheritable),
            permitted: mask(&caps.permitted),
            ambient: mask(&caps.ambient),
        };
        (q, outside)
    }

    /// The plan the child's common path carries: bounding and ambient.
    pub fn plan(&self) -> Plan {
        Plan { retained: self.bounding, ambient: self.ambient, missing: 0, mknod_dropped: false }
    }
}

/// The five sets of an OCI process's `capabilities` (config.json's `process`, or the file of
/// `exec --process`; `None`: every set empty) limited to what the kernel and spawnbox's own
/// sets have, and what was left out: names the kernel does not know and capabilities outside
/// those sets (for one warning, as runc warns).
pub fn oci_quintet(caps: Option<&crate::runtime_spec::Capabilities>) -> Result<(Quintet, Vec<String>)> {
    let last_cap = read_last_cap();
    let allowed = all_mask(last_cap) & host_mask(last_cap)?;
    let (q, outside) = Quintet::of(&caps.cloned().unwrap_or_default(), allowed);
    let mut missing: Vec<String> = caps.iter().flat_map(|c| c.unknown.iter().cloned()).collect();
    if outside != 0 {
        missing.push(names(outside));
    }
    Ok((q, missing))
}

/// OCI mode, in the child as root: the bounding set of `q`, and the keep-capabilities flag so
/// that the permitted set survives the change to a non-root uid (runc sets it whatever the
/// sets; [`apply_oci_sets`] clears it).
pub fn apply_oci_bounding(q: &Quintet, last_cap: u32) -> Result<()> {
    drop_bounding(q.bounding, last_cap)?;
    rustix::thread::set_keep_capabilities(true).map_err(|e| Error::sys("set", "keep-capabilities flag", e))
}

/// OCI mode, in the child after the uid change: exactly the effective, permitted and
/// inheritable sets of config.json (capset), then exactly its ambient set.
pub fn apply_oci_sets(q: &Quintet) -> Result<()> {
    rustix::thread::set_keep_capabilities(false).map_err(|e| Error::sys("clear", "keep-capabilities flag", e))?;
    let set = CapabilitySet::from_bits_retain;
    let sets =
        CapabilitySets { effective: set(q.effective), permitted: set(q.permitted), inheritable: set(q.inheritable) };
    rustix::thread::set_capabilities(None, sets).map_err(|e| Error::sys("set", "capabilities of the payload", e))?;
    // As runc: an ambient capability the kernel refuses (not in both the permitted and the
    // inheritable set, as in runc's own default spec) is a warning, not a failure.
    rustix::thread::clear_ambient_capability_set().map_err(|e| Error::sys("clear", "ambient capabilities", e))?;
    for cap in (0..64u32).filter(|c| q.ambient & (1 << c) != 0) {
        if let Err(e) =
            rustix::thread::configure_capability_in_ambient_set(CapabilitySet::from_bits_retain(1 << cap), true)
        {
            log::warn!("can't raise ambient capability {}: {}", name(cap), crate::error::errno_text(e.raw_os_error()));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "caps_tests.rs"]
mod tests;
