//! The cgroup v1 hierarchies of a host, as `/proc/self/mountinfo` and `/proc/self/cgroup`
//! show them (pure): what the OCI runtime's placement (`oci.rs`) and the v1 directories
//! (`v1.rs`) are planned from.

use super::hierarchy::{unescape, V1_CONTROLLERS};
use std::path::PathBuf;

/// A mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Mount {
    /// Mount point (`/sys/fs/cgroup/memory`).
    pub path: PathBuf,
    /// The directory of the hierarchy mounted there (`/` but for a subtree's bind mount).
    pub root: PathBuf,
    /// Its controllers in mount option order, `name=systemd` for the named one.
    pub controllers: Vec<String>,
}

impl V1Mount {
    /// `cpu,cpuacct`, `memory`, `name=systemd`: the hierarchy's field in `/proc/self/cgroup`.
    pub fn name(&self) -> String {
        self.controllers.join(",")
    }

    /// Whether it binds `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// The v1 hierarchies runc joins in `/proc/self/mountinfo` text: each one binding a controller
/// and the `name=systemd` one, once each (the first mount of a hierarchy wins). Other named
/// hierarchies (`name=openrc`, `name=elogind`) are left alone, as runc leaves them.
pub fn find_v1_mounts(mountinfo: &str) -> Vec<V1Mount> {
    let mut out: Vec<V1Mount> = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let fields: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let (Some("cgroup"), Some(_), Some(opts)) = (right.next(), right.next(), right.next()) else { continue };
        let (Some(root), Some(mount_point)) = (fields.get(3), fields.get(4)) else { continue };
        let controllers: Vec<String> = opts
            .split(',')
            .filter(|o| V1_CONTROLLERS.contains(o) || *o == "name=systemd")
            .map(str::to_string)
            .collect();
        if controllers.is_empty() || out.iter().any(|m| m.controllers == controllers) {
            continue;
        }
        out.push(V1Mount {
            path: PathBuf::from(unescape(mount_point)),
            root: PathBuf::from(unescape(root)),
            controllers,
        });
    }
    out
}

/// `/proc/self/cgroup` text as (controllers field, path) pairs; `""` is the v2 line.
pub fn parse_proc_cgroup(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, names, path) = (it.next()?, it.next()?, it.next()?);
            Some((names.to_string(), path.to_string()))
        })
        .collect()
}
