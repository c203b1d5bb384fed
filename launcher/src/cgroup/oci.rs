//! The OCI runtime's cgroups (pure): where `linux.cgroupsPath` puts the container in each
//! hierarchy, and what `linux.resources` writes there, as runc 1.1's cgroupfs driver does it.
//!
//! - Pure v2 host: one cgroup in the v2 hierarchy; every controller of the root is enabled on
//!   the way down (as runc's fs2, so that engines' metrics find memory.current, cpu.stat, ...),
//!   the ones a resource needs must succeed.
//! - Hybrid host: one directory per mounted v1 hierarchy that binds a controller, and the
//!   `name=systemd` one (runc's subsystem list), plus the v2 one (the cgroup spawnbox clones
//!   into and attaches the device program to, where a controller only v2 offers is used).
//! - Legacy host (v1 only): the v1 directories alone.
//!
//! Paths, as runc 1.1 resolves them (`libcontainer/cgroups/fs/paths.go`, `fs2/defaultpath.go`,
//! `utils.CleanPath`):
//! - absolute (`/libpod_parent/libpod-ID`, `/default/ID`, `/docker/ID`): below each
//!   hierarchy's root; lexically cleaned (`/a/../b` is `/b`);
//! - relative (`a/b`; `..` cannot climb above it): below the caller's own cgroup of each
//!   hierarchy (`/proc/self/cgroup`); on a pure v2 host below the *parent* of the caller's
//!   cgroup, which holds no process and can enable controllers (runc's fs2);
//! - empty or absent: the relative path `ID`;
//! - `slice:prefix:name` (the systemd driver's form, `--systemd-cgroup`): refused.

use super::oci_resources::{plan_resources, Controllers, ResWrite, Value, Version};
use super::plan::{kernel_order, Plan, Write};
use super::v1_mounts::{find_v1_mounts, parse_proc_cgroup, V1Mount};
use super::{find_hierarchy, Hierarchy};
use crate::error::io_error;
use crate::error::{Error, Result};
use crate::runtime_spec::{LinuxDevice, Resources};
use std::path::{Component, Path, PathBuf};

/// What the host offers: its hierarchies and the caller's place in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The cgroup2 hierarchy (`hybrid` set when v1 hierarchies hold controllers).
    pub v2: Option<Hierarchy>,
    /// The v1 hierarchies runc joins, one per hierarchy.
    pub v1: Vec<V1Mount>,
    /// `/proc/self/cgroup`: (controllers field, path); `""` is the v2 line.
    pub own: Vec<(String, String)>,
}

/// The OCI side of a container's cgroups.
#[derive(Debug, Clone, Copy)]
pub struct OciRequest<'a> {
    /// The container ID (runc's `c.Name` when `cgroupsPath` is empty).
    pub id: &'a str,
    pub cgroups_path: Option<&'a str>,
    pub resources: &'a Resources,
    /// `linux.devices`: allowed in the v1 devices controller, as runc does.
    pub devices: &'a [LinuxDevice],
}

/// `cgroupsPath`, cleaned: below the hierarchy roots, or below the caller's cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inner {
    Absolute(PathBuf),
    Relative(PathBuf),
}

/// One v1 hierarchy's directory for the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Dir {
    /// The hierarchy's controllers as `/proc/self/cgroup` names them (`cpu,cpuacct`,
    /// `name=systemd`).
    pub name: String,
    /// The container's directory.
    pub path: PathBuf,
    /// The directories from below the boundary down to `path`, outermost first; those that
    /// exist are left alone.
    pub mkdir: Vec<PathBuf>,
}

/// One write into a v1 directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Write {
    pub file: PathBuf,
    pub value: Value,
    pub origin: String,
    /// Written instead when `file` does not exist.
    pub alt: Option<PathBuf>,
}

/// Everything the OCI runtime creates and writes, decided up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciPlan {
    /// The v2 cgroup (created by [`Cgroup::create`](super::Cgroup::create)).
    pub v2: Option<Plan>,
    pub v1: Vec<V1Dir>,
    /// v1 writes in order: cpuset inheritance top down, then the resources.
    pub v1_writes: Vec<V1Write>,
}

const SYSTEMD_FORM: &str =
    "linux.cgroupsPath: systemd cgroup paths need --systemd-cgroup, which spawnbox-runc does not support";

/// runc's `CleanPath` of `cgroupsPath` (or the ID when it is empty or absent).
pub fn inner_path(cgroups_path: Option<&str>, id: &str) -> Result<Inner> {
    let raw = cgroups_path.filter(|p| !p.is_empty());
    let text = raw.unwrap_or(id);
    // "system.slice:docker:ID": the systemd driver's form, never a directory name.
    if raw.is_some() && !text.starts_with('/') && text.split(':').count() == 3 {
        return Err(Error::msg(SYSTEMD_FORM));
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in text.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let path: PathBuf = parts.iter().collect();
    if parts.is_empty() {
        let what = if text.starts_with('/') { "is the root cgroup" } else { "is the caller's own cgroup" };
        return Err(Error::msg(format!("linux.cgroupsPath: {text:?} {what}: a container needs a cgroup of its own")));
    }
    Ok(if text.starts_with('/') { Inner::Absolute(path) } else { Inner::Relative(path) })
}

impl Facts {
    /// This host's hierarchies (one read of `/proc/self/mountinfo`) and the caller's cgroups.
    pub fn read() -> Result<Facts> {
        let read = |p: &str| {
            let path = Path::new(p);
            std::fs::read_to_string(path).map_err(|e| io_error("read", path, &e))
        };
        let mountinfo = read("/proc/self/mountinfo")?;
        let v2 = match find_hierarchy(&mountinfo) {
            Some(m) => Some(Hierarchy::open(&m.path, m.hybrid)?),
            None => None,
        };
        Ok(Facts { v2, v1: find_v1_mounts(&mountinfo), own: parse_proc_cgroup(&read("/proc/self/cgroup")?) })
    }

    /// The caller's cgroup in the hierarchy whose `/proc/self/cgroup` field is `name`, relative
    /// to the hierarchy root.
    fn own_in(&self, name: &str) -> Option<PathBuf> {
        let want = sorted(name);
        let (_, path) = self.own.iter().find(|(n, _)| sorted(n) == want)?;
        Some(PathBuf::from(path.trim_start_matches('/')))
    }

    /// Which controllers live where, for [`plan_resources`].
    fn controllers(&self) -> Controllers {
        Controllers {
            v1: self.v1.iter().flat_map(|m| m.controllers.iter().cloned()).collect(),
            v2: self.v2.as_ref().map(|h| h.controllers.clone()),
            v2_name: self.v2.as_ref().map(Hierarchy::describe).unwrap_or_default(),
        }
    }
}

fn sorted(name: &str) -> Vec<&str> {
    let mut v: Vec<&str> = name.split(',').filter(|s| !s.is_empty()).collect();
    v.sort_unstable();
    v
}

/// `(directory, boundary)` of `inner` in a hierarchy mounted at `mount` (whose root is
/// `mount_root` of the hierarchy), `own` the caller's cgroup there.
fn place(
    mount: &Path,
    mount_root: &Path,
    inner: &Inner,
    own: Option<PathBuf>,
    what: &str,
) -> Result<(PathBuf, PathBuf)> {
    match inner {
        Inner::Absolute(p) => Ok((mount.join(p), mount.to_path_buf())),
        Inner::Relative(p) => {
            let own = own.ok_or_else(|| {
                Error::msg(format!("linux.cgroupsPath: relative, and /proc/self/cgroup names no cgroup of {what}"))
            })?;
            // A mount of a subtree (inside a cgroup namespace it is "/"): own is below it.
            let rel = own.strip_prefix(mount_root.strip_prefix("/").unwrap_or(mount_root)).map_err(|_| {
                Error::msg(format!(
                    "linux.cgroupsPath: relative, and the caller's cgroup /{} of {what} is outside {}",
                    own.display(),
                    mount.display()
                ))
            })?;
            let base = under(mount, rel);
            Ok((base.join(p), base))
        }
    }
}

fn under(root: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// The directories below `boundary` down to `leaf`, outermost first.
fn dirs_below(boundary: &Path, leaf: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dir = boundary.to_path_buf();
    for c in leaf.strip_prefix(boundary).unwrap_or(leaf).components() {
        if let Component::Normal(c) = c {
            dir.push(c);
            out.push(dir.clone());
        }
    }
    out
}

/// Plans the container's cgroups: pure. Every user error (a systemd path, a resource the host
/// cannot apply, a malformed value) is found here, before anything exists.
pub fn plan_oci(facts: &Facts, req: &OciRequest<'_>) -> Result<OciPlan> {
    let inner = inner_path(req.cgroups_path, req.id)?;
    if facts.v2.is_none() && facts.v1.is_empty() {
        return Err(Error::msg("linux.cgroupsPath: this host mounts no cgroup hierarchy"));
    }
    let writes = plan_resources(req.resources, req.devices, &facts.controllers())?;

    let mut v1 = Vec::new();
    let mut v1_writes = Vec::new();
    for m in &facts.v1 {
        let name = m.name();
        let (path, boundary) = place(&m.path, &m.root, &inner, facts.own_in(&name), &name)?;
        let mkdir = dirs_below(&boundary, &path);
        if m.has("cpuset") {
            // A v1 cpuset without CPUs or memory nodes takes no task: each level inherits its
            // parent's unless the config sets the leaf's.
            for dir in &mkdir {
                for (file, key) in [("cpuset.cpus", "cpus"), ("cpuset.mems", "mems")] {
                    let set_here = *dir == path && writes.iter().any(|w| w.version == Version::V1 && w.file == file);
                    if !set_here {
                        v1_writes.push(V1Write {
                            file: dir.join(file),
                            value: Value::Inherit,
                            origin: format!("linux.resources.cpu.{key}"),
                            alt: None,
                        });
                    }
                }
            }
        }
        v1.push(V1Dir { name, path, mkdir });
    }
    for w in writes.iter().filter(|w| w.version == Version::V1) {
        let dir = facts
            .v1
            .iter()
            .zip(&v1)
            .find(|(m, _)| m.has(&w.controller))
            .map(|(_, d)| d.path.clone())
            .ok_or_else(|| Error::msg(format!("{}: no v1 {} hierarchy", w.origin, w.controller)))?;
        v1_writes.push(V1Write {
            file: dir.join(&w.file),
            value: w.value.clone(),
            origin: w.origin.clone(),
            alt: w.alt.as_ref().map(|a| dir.join(a)),
        });
    }

    let v2 = match &facts.v2 {
        Some(h) => Some(plan_v2(h, facts, &inner, &writes)?),
        None => None,
    };
    Ok(OciPlan { v2, v1, v1_writes })
}

fn plan_v2(h: &Hierarchy, facts: &Facts, inner: &Inner, writes: &[ResWrite]) -> Result<Plan> {
    // runc's fs2 puts a relative path beside the caller's cgroup (its parent holds no process
    // and may enable controllers); its v1 driver on a hybrid host below it, as in v1.
    let own = facts.own_in("").map(|o| match h.hybrid {
        true => o,
        false => o.parent().map(Path::to_path_buf).unwrap_or_default(),
    });
    let (cgroup, boundary) = place(&h.root, Path::new("/"), inner, own, "cgroup2")?;
    let mut required: Vec<String> = writes
        .iter()
        .filter(|w| w.version == Version::V2 && w.controller != "cgroup")
        .map(|w| w.controller.clone())
        .collect();
    kernel_order(&mut required);
    let mut controllers = if h.hybrid { required.clone() } else { h.controllers.clone() };
    kernel_order(&mut controllers);
    let mut enable = Vec::new();
    if !controllers.is_empty() {
        enable.push(h.root.clone());
        if let Some(parent) = cgroup.parent() {
            enable.extend(dirs_below(&h.root, parent));
        }
    }
    let writes = writes
        .iter()
        .filter(|w| w.version == Version::V2)
        .map(|w| Write {
            file: cgroup.join(&w.file),
            value: match &w.value {
                Value::Set(v) => v.clone(),
                Value::Inherit => String::new(),
            },
            origin: w.origin.clone(),
            optional: false,
        })
        .collect();
    Ok(Plan {
        hierarchy: h.clone(),
        mkdir: dirs_below(&boundary, &cgroup),
        cgroup,
        supervisor: None,
        boundary,
        enable,
        controllers,
        required,
        writes,
        delegate: None,
        reuse: true,
    })
}
