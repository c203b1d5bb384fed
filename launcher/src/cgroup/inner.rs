//! Inside a booted container (`-b`, a writable delegated cgroup): PID 1 leaves the root of its
//! cgroup namespace for `init.scope`, and the controllers the container was given are enabled
//! for the root's children, before the init runs.
//!
//! cgroup v2 forbids processes in a cgroup that enables controllers for its children ("no
//! internal processes"); the root of a cgroup namespace is no exception unless it is the real
//! root. systemd moves itself into `/init.scope` first, but OpenRC (before its PR #1014) and
//! others enable controllers from where they are and get EBUSY (OpenRC #1012/#1013). With PID 1
//! already in `/init.scope`, every init finds a root it can delegate from; systemd strips a
//! trailing `/init.scope` from its own cgroup, so it sees the same root as under nspawn.

use crate::error::{Error, Result};
use rustix::io::Errno;
use std::path::Path;

/// The container's cgroup2 mount.
const ROOT: &str = "/sys/fs/cgroup";
/// The leaf PID 1 moves into (systemd's name for it).
pub const INIT_LEAF: &str = "init.scope";

/// Moves the calling process (PID 1) into `/init.scope` and enables every available controller
/// in the root's `cgroup.subtree_control`; with `unmount`, takes the mount away afterwards.
pub fn enter_init_leaf(unmount: bool) -> Result<()> {
    let root = Path::new(ROOT);
    let leaf = root.join(INIT_LEAF);
    match rustix::fs::mkdir(&leaf, rustix::fs::Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(Error::path("create", &leaf, e)),
    }
    let procs = leaf.join("cgroup.procs");
    std::fs::write(&procs, "0").map_err(|e| Error::path("write", &procs, errno(&e)))?;
    let available = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let control = root.join("cgroup.subtree_control");
    for c in available.split_whitespace() {
        // One at a time: a controller the kernel refuses (a threaded or busy subtree) must not
        // keep the others from the guest.
        if let Err(e) = std::fs::write(&control, format!("+{c}")) {
            log::debug!("enable {c} in {}: {}", control.display(), crate::error::errno_text(errno(&e).raw_os_error()));
        }
    }
    if unmount {
        rustix::mount::unmount(root, rustix::mount::UnmountFlags::DETACH)
            .map_err(|e| Error::path("unmount", root, e))?;
    }
    Ok(())
}

/// Whether the guest's init mounts cgroup2 on its own: OpenRC with its `cgroups` service in a
/// runlevel (`tree` is the container directory, read by descriptor).
pub fn guest_mounts_cgroup(tree: rustix::fd::BorrowedFd<'_>) -> bool {
    ["sysinit", "boot", "default"].iter().any(|level| {
        crate::rootfs::stat_in_root(tree, &Path::new("/etc/runlevels").join(level).join("cgroups")).is_some()
    })
}

fn errno(e: &std::io::Error) -> Errno {
    Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EIO))
}
