//! Finding the cgroup2 hierarchy (`/sys/fs/cgroup` unified, `/sys/fs/cgroup/unified` hybrid)
//! and the launcher's own cgroup in it.

pub(crate) use crate::error::io_error;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// `CGROUP2_SUPER_MAGIC` from `<linux/magic.h>`.
const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;

/// v1 controllers; a v1 mount binding one of them makes the host hybrid (or legacy).
pub(crate) const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "blkio",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// The cgroup2 mount spawnbox works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where cgroup2 is mounted (`/sys/fs/cgroup` or `/sys/fs/cgroup/unified`).
    pub root: PathBuf,
    /// v1 hierarchies hold (some of) the controllers: OpenRC's `rc_cgroup_mode="hybrid"`.
    pub hybrid: bool,
    /// The controllers of the cgroup2 root (`cgroup.controllers`), the only ones properties
    /// can use.
    pub controllers: Vec<String>,
}

/// A cgroup2 mount found in mountinfo text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup2Mount {
    /// The mount point.
    pub path: PathBuf,
    /// Whether v1 hierarchies with controllers are mounted as well.
    pub hybrid: bool,
}

impl Hierarchy {
    /// Finds the cgroup2 hierarchy of this host; `Ok(None)` when there is none (the caller runs
    /// the container without a cgroup and warns once).
    pub fn detect() -> Result<Option<Hierarchy>> {
        // Fast path: two statfs(2) instead of reading the whole mount table (as systemd's
        // cg_unified_cached()). The mountinfo scan covers unusual mount points.
        let fast = [("/sys/fs/cgroup", false), ("/sys/fs/cgroup/unified", true)];
        for (path, hybrid) in fast {
            if let Ok(st) = rustix::fs::statfs(path) {
                #[allow(clippy::unnecessary_cast)]
                if st.f_type as u64 == CGROUP2_SUPER_MAGIC {
                    return Hierarchy::open(Path::new(path), hybrid).map(Some);
                }
            }
        }
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(|e| io_error("read", path, &e))?;
        match find_hierarchy(&text) {
            Some(m) => Hierarchy::open(&m.path, m.hybrid).map(Some),
            None => Ok(None),
        }
    }

    /// The hierarchy mounted at `root`, with its root's `cgroup.controllers` read.
    pub fn open(root: &Path, hybrid: bool) -> Result<Hierarchy> {
        let file = root.join("cgroup.controllers");
        let text = std::fs::read_to_string(&file).map_err(|e| io_error("read", &file, &e))?;
        let controllers = text.split_whitespace().map(str::to_string).collect();
        Ok(Hierarchy { root: root.to_path_buf(), hybrid, controllers })
    }

    /// `/sys/fs/cgroup/unified (hybrid hierarchy)` or `/sys/fs/cgroup`, for messages.
    pub fn describe(&self) -> String {
        if self.hybrid {
            format!("{} (hybrid hierarchy)", self.root.display())
        } else {
            self.root.display().to_string()
        }
    }

    /// Whether the root offers `controller`.
    pub fn has_controller(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// Finds the cgroup2 mount in `/proc/self/mountinfo` text: the one at `/sys/fs/cgroup`, else at
/// `/sys/fs/cgroup/unified`, else the first; only mounts of the hierarchy's root (`/`) count.
pub fn find_hierarchy(mountinfo: &str) -> Option<Cgroup2Mount> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut hybrid = false;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let (Some(fstype), Some(_source), Some(superopts)) = (right.next(), right.next(), right.next()) else {
            continue;
        };
        let (Some(root), Some(mount_point)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        match fstype {
            "cgroup2" if *root == "/" => found.push(PathBuf::from(unescape(mount_point))),
            "cgroup" if superopts.split(',').any(|o| V1_CONTROLLERS.contains(&o)) => hybrid = true,
            _ => {}
        }
    }
    let pick = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .find_map(|p| found.iter().find(|f| f.as_path() == Path::new(p)))
        .or(found.first())?;
    Some(Cgroup2Mount { path: pick.clone(), hybrid })
}

/// The cgroup2 path of the `0::/path` line of `/proc/self/cgroup` text, relative to the
/// hierarchy root (`/` becomes an empty path).
pub fn own_cgroup(proc_self_cgroup: &str) -> Option<PathBuf> {
    let line = proc_self_cgroup.lines().find(|l| l.starts_with("0::"))?;
    let path = line.strip_prefix("0::")?;
    let rel = path.strip_prefix('/')?;
    Some(PathBuf::from(rel))
}

/// Reads `/proc/self/cgroup` and returns [`own_cgroup`] of it (for `--keep-unit`).
pub fn read_own_cgroup() -> Result<PathBuf> {
    let path = Path::new("/proc/self/cgroup");
    let text = std::fs::read_to_string(path).map_err(|e| io_error("read", path, &e))?;
    own_cgroup(&text).ok_or_else(|| Error::msg("/proc/self/cgroup: no cgroup2 (0::) line"))
}

/// Undoes mountinfo's octal escapes (`\040` for a blank).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/openrc rw,relatime - cgroup openrc rw,release_agent=/lib/rc/sh/cgroup-release-agent.sh,name=openrc
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const UNIFIED: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn hybrid_openrc_layout() {
        let m = find_hierarchy(HYBRID).expect("cgroup2 found");
        assert_eq!(m, Cgroup2Mount { path: "/sys/fs/cgroup/unified".into(), hybrid: true });
    }

    #[test]
    fn unified_layout() {
        let m = find_hierarchy(UNIFIED).expect("cgroup2 found");
        assert_eq!(m, Cgroup2Mount { path: "/sys/fs/cgroup".into(), hybrid: false });
    }

    #[test]
    fn named_v1_only_is_not_hybrid() {
        let text =
            "40 31 0:37 / /run/cg rw - cgroup cg rw,name=elogind\n50 1 0:40 / /mnt/my\\040cg rw - cgroup2 none rw\n";
        let m = find_hierarchy(text).expect("cgroup2 found");
        assert_eq!(m, Cgroup2Mount { path: "/mnt/my cg".into(), hybrid: false });
    }

    #[test]
    fn no_cgroup2_or_only_a_subtree() {
        assert_eq!(find_hierarchy("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"), None);
        assert_eq!(find_hierarchy("30 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"), None);
    }

    #[test]
    fn own_cgroup_lines() {
        assert_eq!(own_cgroup("0::/\n"), Some(PathBuf::new()));
        assert_eq!(own_cgroup("4:memory:/x\n0::/sshd/42\n"), Some(PathBuf::from("sshd/42")));
        assert_eq!(own_cgroup("4:memory:/x\n"), None);
    }

    #[test]
    fn describe_names_hybrid() {
        let h = Hierarchy { root: "/sys/fs/cgroup/unified".into(), hybrid: true, controllers: vec![] };
        assert_eq!(h.describe(), "/sys/fs/cgroup/unified (hybrid hierarchy)");
    }
}
