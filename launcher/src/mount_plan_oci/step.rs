//! The OCI runtime's mount steps (`Step::Oci` of the mount plan): what each one is, its line
//! in the plan, and which side of a user namespace makes it. `mount_plan_oci.rs` plans them,
//! `mounts_oci.rs` carries them out.

use crate::runtime_spec::LinuxDevice;
use std::path::{Path, PathBuf};

/// One of the OCI runtime's steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciStep {
    /// A fresh file system of config.json's mounts.
    Fs { target: PathBuf, fstype: String, data: String, attrs: u32 },
    /// The `cgroup` mount on a host with cgroup v1 controllers (runc's): a tmpfs on `target`
    /// with each hierarchy's directory of the container, `attrs` on each, the tmpfs read-only
    /// last when they are.
    CgroupV1 { target: PathBuf, attrs: u32, hierarchies: Vec<CgroupV1> },
    /// Mount attributes set on the bind mount just made on `target`.
    Attrs { target: PathBuf, attrs: u32 },
    /// `linux.devices`: the nodes made in the container.
    Devices(Vec<LinuxDevice>),
    /// `process.cwd`, made when the image lacks it (as runc), before `/` turns read-only.
    WorkingDirectory { target: PathBuf },
    /// `linux.sysctl`: each value written under `/proc/sys` (before the read-only paths).
    Sysctl(Vec<(String, String)>),
    /// `linux.maskedPaths`: a directory gets a read-only empty tmpfs, anything else
    /// `/dev/null`; a missing path is skipped.
    Mask { target: PathBuf },
    /// `linux.readonlyPaths`: bound onto itself read-only; a missing path is skipped.
    ReadOnly { target: PathBuf },
    /// `root.readonly`: `/` made read-only, after every mount on it.
    RootReadOnly,
    /// A propagation option of a mount, or `linux.rootfsPropagation` on `/` (last).
    Propagation { target: PathBuf, kind: String },
}

/// One cgroup v1 hierarchy in the OCI runtime's `cgroup` mount: `TARGET/dir` (the host's mount
/// point's name: `memory`, `cpu,cpuacct`), the hierarchy mounted with `name` as its options
/// (its controllers, `name=systemd`) and its directory `path` (the container's, `/` in the
/// container's own cgroup namespace) as the mount's root: the container's v1 group's view.
pub use crate::cgroup::V1View as CgroupV1;

impl OciStep {
    /// For a container in a user namespace: whether PID 1 makes this step
    /// (`mount_plan::inside_userns`; `own_mounts`: the mount points of the file systems it
    /// mounts itself, `own_network`: it has a network namespace of its own). Inside:
    /// config.json's fresh proc, devpts, mqueue and cgroup (and sysfs of a network of its own)
    /// and what lies on them, the sysctls (written as the container's root, as runc does) and
    /// the read-only root (after every mount on it); outside: binds, their attributes, device
    /// nodes and the other file systems.
    pub fn inside_userns(&self, own_mounts: &[&str], own_network: bool) -> bool {
        let on_own = |target: &Path| {
            own_mounts.iter().any(|t| target.starts_with(t)) || (own_network && target.starts_with("/sys"))
        };
        match self {
            OciStep::Fs { target, fstype, .. } => match fstype.as_str() {
                "proc" | "devpts" | "mqueue" | "cgroup2" => true,
                "sysfs" => own_network,
                _ => on_own(target),
            },
            OciStep::Mask { target } | OciStep::ReadOnly { target } => on_own(target),
            // The working directory (made as the container's root) and propagation too.
            OciStep::Sysctl(_)
            | OciStep::RootReadOnly
            | OciStep::WorkingDirectory { .. }
            | OciStep::Propagation { .. } => true,
            // v1 hierarchies are mounted with the host's privileges (the outer child).
            OciStep::Attrs { .. } | OciStep::Devices(_) | OciStep::CgroupV1 { .. } => false,
        }
    }
}

impl std::fmt::Display for OciStep {
    /// One line of the plan as `SPAWNBOX_LOG=debug` lists it and the golden tests compare it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OciStep::Fs { target, fstype, data, attrs } => {
                write!(f, "{fstype} {} {attrs:#x}", target.display())?;
                if !data.is_empty() {
                    write!(f, " {data}")?;
                }
                Ok(())
            }
            OciStep::CgroupV1 { target, attrs, hierarchies } => {
                let dirs: Vec<String> = hierarchies.iter().map(|h| format!("{}={}", h.dir, h.path.display())).collect();
                write!(f, "cgroup-v1 {} {attrs:#x} {}", target.display(), dirs.join(" "))
            }
            OciStep::Attrs { target, attrs } => write!(f, "attrs {} {attrs:#x}", target.display()),
            OciStep::Devices(d) => write!(f, "devices ({})", d.len()),
            OciStep::WorkingDirectory { target } => write!(f, "cwd {}", target.display()),
            OciStep::Sysctl(v) => write!(f, "sysctl ({})", v.len()),
            OciStep::Mask { target } => write!(f, "mask {}", target.display()),
            OciStep::ReadOnly { target } => write!(f, "ro {}", target.display()),
            OciStep::RootReadOnly => f.write_str("root-read-only"),
            OciStep::Propagation { target, kind } => write!(f, "propagation {} {kind}", target.display()),
        }
    }
}
