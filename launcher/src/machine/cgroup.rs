//! The container's cgroup as the start places it (nspawn's placement and `--property=`, or the
//! OCI runtime's `linux.cgroupsPath` and `linux.resources`, in v1 too), and `--cleanup` of a
//! killed run's leftovers.

use crate::cgroup::{self, Cgroup, Placement, V1Group};
use crate::error::{Error, Result};
use crate::settings::StartMode;
use crate::spec::{OciSpec, Spec};

/// The container's cgroups: the v2 one (CLONE_INTO_CGROUP, the device program) and, for the
/// OCI runtime on a hybrid or legacy host, its v1 directories.
pub(super) fn create_cgroups(spec: &Spec, shift: Option<u32>) -> Result<(Option<Cgroup>, Option<V1Group>)> {
    match &spec.oci {
        Some(oci) => create_oci_cgroups(oci),
        None => Ok((create_cgroup(spec, shift)?, None)),
    }
}

/// `--cgroup-manager disabled` (podman's `--cgroups=disabled`): no cgroup at all.
fn oci_cgroups_disabled(oci: &OciSpec) -> bool {
    oci.no_cgroups
}

/// The OCI runtime's cgroups, as runc's cgroupfs driver places them (docs/CGROUPS.md): the
/// plan first (every config error before anything exists), then v2, then v1 (v2 removed
/// again when v1 fails).
fn create_oci_cgroups(oci: &OciSpec) -> Result<(Option<Cgroup>, Option<V1Group>)> {
    if oci_cgroups_disabled(oci) {
        return Ok((None, None));
    }
    let facts = cgroup::OciFacts::read()?;
    let linux = &oci.config.linux;
    let req = cgroup::OciRequest {
        id: &oci.id,
        cgroups_path: linux.cgroups_path.as_deref(),
        resources: &linux.resources,
        devices: &linux.devices,
    };
    let plan = cgroup::plan_oci(&facts, &req)?;
    let v2 = match &plan.v2 {
        Some(p) => {
            log::debug!("cgroup {}", p.cgroup.display());
            Some(Cgroup::create(p)?)
        }
        None => None,
    };
    match V1Group::create(&plan, &facts.v1, &facts.own) {
        Ok(v1) => Ok((v2, v1)),
        Err(e) => {
            if let Some(cg) = v2 {
                let _ = cg.kill_and_remove();
            }
            Err(e)
        }
    }
}

/// The container's cgroup: `machine.slice/machine-NAME.scope` (or `-S`), or below spawnbox's
/// own cgroup with `--keep-unit`. `None` on hosts without cgroup2, or with `--keep-unit` when
/// spawnbox runs in the root cgroup.
/// With a user namespace, a delegated cgroup belongs to the container's root (host uid `shift`).
fn create_cgroup(spec: &Spec, shift: Option<u32>) -> Result<Option<Cgroup>> {
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
