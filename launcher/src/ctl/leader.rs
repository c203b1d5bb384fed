//! A running machine as the verbs that reach into it (`bind`, `copy-to`, `copy-from`) hold it:
//! its leader by pidfd, checked against the registry's start time (a reused pid is never
//! entered), its root directory as a descriptor every container path is resolved from, and the
//! host ids of the container's root when it has a user namespace of its own.

use crate::error::{Error, Result};
use crate::machine::registry::{self, Entry};
use crate::network::state::process_start_time;
use crate::rootfs::{self, Follow};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{pidfd_open, Pid, PidfdFlags};
use std::path::{Component, Path};

/// The running machine's leader and root.
pub struct Leader {
    pub entry: Entry,
    /// The leader, pinned: setns(2) takes it for the leader's namespaces.
    pub pidfd: OwnedFd,
    /// `/proc/PID/root` (O_PATH): the container's `/` as its PID 1 sees it.
    pub root: OwnedFd,
    /// Host uid and gid of the container's root, if it has a user namespace of its own.
    pub shift: Option<(u32, u32)>,
}

impl Leader {
    /// Machine `name`'s leader; `machine "NAME" is not running` unless its PID 1 runs.
    pub fn open(name: &str) -> Result<Leader> {
        let entry = registry::read(name)?;
        let not_running = || Error::msg(format!("machine \"{name}\" is not running"));
        let pid = Pid::from_raw(entry.leader).ok_or_else(not_running)?;
        let pidfd = pidfd_open(pid, PidfdFlags::empty()).map_err(|_| not_running())?;
        // The pidfd pins the process the pid names now: if it is the one the registry
        // recorded, everything read through /proc/PID below is that process's as long as it
        // still runs at the end.
        if process_start_time(entry.leader) != Some(entry.leader_start_time) {
            return Err(not_running());
        }
        let proc = |what: &str| format!("/proc/{}/{what}", entry.leader);
        let root_path = proc("root");
        let root = rustix::fs::open(&root_path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys("open", &root_path, e))?;
        let read = |what: &str| {
            std::fs::read_to_string(proc(what)).map_err(|e| Error::sys("read", proc(what), crate::error::io_errno(&e)))
        };
        let shift = root_ids(&read("uid_map")?, &read("gid_map")?)
            .ok_or_else(|| Error::msg(format!("machine \"{name}\": its user namespace does not map its root")))?;
        if exited(pidfd.as_fd()) {
            return Err(not_running());
        }
        Ok(Leader { entry, pidfd, root, shift })
    }

    /// The container's user namespace (`/proc/PID/ns/user`), if it has one of its own.
    pub fn userns(&self) -> Result<Option<OwnedFd>> {
        if self.shift.is_none() {
            return Ok(None);
        }
        let path = format!("/proc/{}/ns/user", self.entry.leader);
        let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys("open", &path, e))?;
        if exited(self.pidfd.as_fd()) {
            return Err(Error::msg(format!("machine \"{}\" is not running", self.entry.name)));
        }
        Ok(Some(fd))
    }

    /// Opens container path `path` (absolute) with `flags`, resolved inside the container's
    /// root: symlinks are followed there and never out of it, `..` stops at its `/`, magic
    /// links (`/proc/PID/root`, `/proc/self/fd/N`) are refused.
    pub fn open_in(&self, path: &Path, flags: OFlags) -> Result<OwnedFd> {
        rootfs::open_in_root(self.root.as_fd(), path, flags, Follow::InRoot)
            .map_err(|e| Error::path("open", &self.shown(path), e))
    }

    /// `NAME:/path`, how errors name a container path.
    pub fn shown(&self, path: &Path) -> std::path::PathBuf {
        format!("{}:{}", self.entry.name, path.display()).into()
    }

    /// The root directory descriptor.
    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Runs `f` with the inodes it makes owned by the container's root (and file access
    /// checked as it, with the capabilities kept), then goes back to this process's own ids.
    pub fn as_container_root<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let Some((uid, gid)) = self.shift else { return f() };
        crate::userns::create_as(uid, gid)?;
        let r = f();
        let own = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        crate::userns::create_as(own.0, own.1)?;
        r
    }
}

/// Whether the process behind `pidfd` has ended (a pidfd polls readable then).
fn exited(pidfd: BorrowedFd<'_>) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
    poll(&mut fds, Some(&zero)).map_or(true, |n| n > 0)
}

/// From `/proc/PID/uid_map` and `gid_map`: `None` if the container's root is not mapped,
/// `Some(None)` for the host's own namespace (the identity mapping of every id), else the host
/// uid and gid of its root (machined's `machine_get_uid_shift()`, without its refusal of
/// mappings of several lines: spawnbox maps `--bind-user=` users on lines of their own).
pub fn root_ids(uid_map: &str, gid_map: &str) -> Option<Option<(u32, u32)>> {
    fn root(map: &str) -> Option<(u32, u64)> {
        map.lines().find_map(|l| {
            let f: Vec<u64> = l.split_whitespace().filter_map(|w| w.parse().ok()).collect();
            match f[..] {
                [0, host, len] if len > 0 => Some((host as u32, len)),
                _ => None,
            }
        })
    }
    let (u, g) = (root(uid_map)?, root(gid_map)?);
    if u == (0, u64::from(u32::MAX)) && g == (0, u64::from(u32::MAX)) {
        return Some(None);
    }
    Some(Some((u.0, g.0)))
}

/// Splits absolute `path` into its parent and last component, refusing a path that names no
/// entry (`/`, or one ending in `..` or `.`): `what` says which operand it is.
pub fn split(path: &str, what: &str) -> Result<(std::path::PathBuf, std::ffi::OsString)> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(Error::msg(format!("{what} must be an absolute path: \"{path}\"")));
    }
    let trailing = path.ends_with("/.") || path.ends_with("/..") || path == "/";
    match (p.components().next_back(), trailing) {
        (Some(Component::Normal(name)), false) => {
            Ok((p.parent().unwrap_or(Path::new("/")).to_path_buf(), name.to_os_string()))
        }
        _ => Err(Error::msg(format!("{what} must name a file or directory: \"{path}\""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_ids_come_from_the_line_that_maps_0() {
        let identity = "         0          0 4294967295\n";
        assert_eq!(root_ids(identity, identity), Some(None));
        let picked = "         0 1860894720      65536\n";
        assert_eq!(root_ids(picked, picked), Some(Some((1860894720, 1860894720))));
        // --bind-user= holes: the line for 0 is the first of several.
        let holes = "0 524288 1000\n1000 1000 1\n1001 525289 64535\n";
        assert_eq!(root_ids(holes, "0 600000 65536\n"), Some(Some((524288, 600000))));
        // A user namespace that maps 0 to host 0 for a part of the ids is one of its own.
        assert_eq!(root_ids("0 0 65536\n", "0 0 65536\n"), Some(Some((0, 0))));
        assert_eq!(root_ids("1 1000 1\n", "0 0 1\n"), None);
        assert_eq!(root_ids("", ""), None);
    }

    #[test]
    fn operands_must_name_an_entry() {
        let ok = |p: &str| split(p, "source").map(|(d, n)| (d.display().to_string(), n.into_string().unwrap()));
        assert_eq!(ok("/etc/hostname").unwrap(), ("/etc".into(), "hostname".into()));
        assert_eq!(ok("/srv").unwrap(), ("/".into(), "srv".into()));
        assert_eq!(ok("/srv/dir/").unwrap(), ("/srv".into(), "dir".into()));
        assert_eq!(ok("/a/../b").unwrap(), ("/a/..".into(), "b".into()));
        let err = |p: &str| split(p, "destination").unwrap_err().to_string();
        assert_eq!(err("etc/x"), "destination must be an absolute path: \"etc/x\"");
        assert_eq!(err("/"), "destination must name a file or directory: \"/\"");
        assert_eq!(err("/srv/.."), "destination must name a file or directory: \"/srv/..\"");
        assert_eq!(err("/srv/."), "destination must name a file or directory: \"/srv/.\"");
    }
}
