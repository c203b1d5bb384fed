//! The container's cgroup as the start places it, and `--cleanup` of a killed run's leftovers.

use crate::cgroup::{self, Cgroup, Placement};
use crate::error::{Error, Result};
use crate::settings::StartMode;
use crate::spec::Spec;

/// The container's cgroup: `machine.slice/machine-NAME.scope` (or `-S`), or below spawnbox's
/// own cgroup with `--keep-unit`. `None` on hosts without cgroup2, or with `--keep-unit` when
/// spawnbox runs in the root cgroup.
/// With a user namespace, a delegated cgroup belongs to the container's root (host uid `shift`).
pub(super) fn create_cgroup(spec: &Spec, shift: Option<u32>) -> Result<Option<Cgroup>> {
    let Some(h) = cgroup::Hierarchy::detect()? else {
        if let Some(p) = spec.properties.first() {
            return Err(Error::msg(format!("--property={}: no cgroup2 hierarchy on this host", p.raw)));
        }
        log::warn!("no cgroup2 hierarchy on this host, running the container without a cgroup of its own");
        return Ok(None);
    };
    let placement = if spec.keep_unit {
        let own = cgroup::read_own_cgroup()?;
        if own.as_os_str().is_empty() {
            if let Some(p) = spec.properties.first() {
                return Err(Error::msg(format!(
                    "--property={}: --keep-unit from the root cgroup leaves no cgroup to limit",
                    p.raw
                )));
            }
            log::debug!("--keep-unit in the root cgroup: the container stays there");
            return Ok(None);
        }
        Placement::KeepUnit { own }
    } else {
        Placement::Machine { slice: spec.slice.clone() }
    };
    let root = shift.unwrap_or(0);
    let delegate = (spec.start_mode == StartMode::Boot).then_some((root, root));
    let req = cgroup::Request { machine: &spec.machine, placement: &placement, properties: &spec.properties, delegate };
    let plan = cgroup::plan(&h, &req, &cgroup::SystemHost)?;
    log::debug!("cgroup {}", plan.cgroup.display());
    Cgroup::create(&plan).map(Some)
}

/// `--cleanup`: removes what a killed spawnbox left of machine `spec.machine`.
pub fn cleanup(spec: &Spec) -> Result<i32> {
    if let Some(h) = cgroup::Hierarchy::detect()? {
        if cgroup::cleanup(&h, spec.slice.as_deref(), &spec.machine)? {
            log::info!("removed the left-over cgroup of {}", spec.machine);
        }
    }
    let stale = crate::userns::pick::remove_stale(&crate::userns::lock_dir())?;
    if stale > 0 {
        log::info!("removed {stale} stale UID range lock(s)");
    }
    if crate::network::cleanup(&spec.machine)? {
        log::info!("removed the left-over network state of {}", spec.machine);
    }
    // -x snapshots of the tree a killed launcher left (it logs how many).
    crate::ephemeral::remove_stale(&spec.directory)?;
    if super::registry::remove_stale_entry(&spec.machine) {
        log::info!("removed the stale registry entry of {}", spec.machine);
    }
    Ok(0)
}
