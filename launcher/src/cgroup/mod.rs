//! cgroup v2 for containers on hosts without systemd: placement, `--property=` limits, teardown.
//!
//! The API, in the order the launcher uses it:
//!
//! 1. [`Hierarchy::detect`] finds the cgroup2 mount (`/sys/fs/cgroup`, or
//!    `/sys/fs/cgroup/unified` on OpenRC hybrid hosts). `None`: no cgroup2 at all; run without a
//!    cgroup and warn once. [`find_hierarchy`] is the pure mountinfo parser behind it.
//! 2. [`parse_property`] for each `--property=NAME=VALUE` (at argv time; syntax errors only).
//! 3. [`plan`] with a [`Request`] (machine, [`Placement`], properties, delegation) and a
//!    [`Host`] ([`SystemHost`], or a fake in tests): pure except for `%` of RAM/tasks and device
//!    lookups. Every user error (missing controller, bad slice, bad device) happens here,
//!    before anything exists. `--keep-unit` needs [`read_own_cgroup`] (pure: [`own_cgroup`]).
//! 4. [`Cgroup::create`] executes the [`Plan`]: mkdir (parents only if missing), controllers
//!    enabled in each ancestor's `cgroup.subtree_control` only for what the properties need,
//!    property files written. With `--keep-unit` the caller moves into `supervisor/` here.
//! 5. `clone3(CLONE_INTO_CGROUP)` with [`Cgroup::dir_fd`], or [`Cgroup::attach`] after a plain
//!    clone; the child then unshares `CLONE_NEWCGROUP` itself (see `docs/CGROUPS.md`).
//! 6. [`Cgroup::kill_and_remove`] when the container is gone or spawnbox is told to stop;
//!    [`cleanup`] for `spawnbox --cleanup -M NAME`. [`Cgroup::set_properties`] serves a later
//!    `spawnctl set-property`.
//!
//! The OCI runtime (`spawnbox-runc`) places containers by `linux.cgroupsPath` and applies
//! `linux.resources` as runc does, in cgroup v1 too on hybrid and legacy hosts:
//! [`OciFacts::read`], [`plan_oci`] (pure: [`inner_path`], [`plan_resources`]), then
//! [`Cgroup::create`] with the plan's v2 part and [`V1Group::create`] with the rest;
//! [`V1Group::join`] around the clone; [`Live`] for a later process (pause, resume, pids,
//! kill --all, removal). See docs/CGROUPS.md, "The OCI runtime".
//!
//! Layout: `property.rs`/`parse.rs` (syntax), `placement.rs` (paths, systemd escaping),
//! `plan.rs` (pure planning), `group.rs` (creation), `teardown.rs`, `fs.rs` (the syscall seam,
//! faked in tests by `fake.rs` on a temp dir); for the OCI runtime `oci.rs` (placement, pure),
//! `oci_resources.rs` (resources as writes, pure), `v1.rs` (v1 hierarchies and directories),
//! `live.rs` (a running container's cgroups from their paths).

mod fs;
mod group;
mod hierarchy;
mod host;
pub mod inner;
mod kill;
mod live;
mod oci;
mod oci_resources;
mod parse;
mod placement;
mod plan;
mod property;
mod teardown;
mod v1;
mod v1_mounts;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_host;
#[cfg(test)]
mod tests_oci;
#[cfg(test)]
mod tests_oci_host;

pub use group::Cgroup;
pub use hierarchy::{find_hierarchy, own_cgroup, read_own_cgroup, unescape, Cgroup2Mount, Hierarchy};
pub use host::{Host, SystemHost};
pub use kill::EMPTY_TIMEOUT;
pub use live::{Live, FREEZE_TIMEOUT};
pub use oci::{inner_path, plan_oci, Facts as OciFacts, Inner, OciPlan, OciRequest, V1Dir, V1Write};
pub use oci_resources::{
    blkio_to_io_weight, device_line, plan_resources, shares_to_weight, Controllers, ResWrite, Value, Version,
};
pub use parse::parse_cpu_list;
pub use placement::{cg_escape, scope_name, slice_path, unit_name_escape, Placement};
pub use plan::{plan, Plan, Request, Write};
pub use property::{parse_property, Amount, IoLimit, Key, Property, Setting, KEYS};
pub use teardown::cleanup;
pub use v1::{find_v1_mounts, parse_proc_cgroup, Joined, V1Entry, V1Group, V1Mount, V1View};
