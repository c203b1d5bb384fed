//! Joining a running machine from outside (`spawnctl shell` and `login`): what the host knows
//! of it, read before anything changes — its PID 1 by pidfd (checked against the registry's
//! start time, so a reused pid is never entered), the namespaces that differ from ours, its
//! root and cgroup, and its security layer (PID 1's capability bounding set and no_new_privs,
//! the registry's copy of its seccomp program) — and the steps a forked child takes to become
//! one of its processes. Call order, all in one single-threaded child of the caller:
//!
//! 1. [`Join::open`] in the caller, on the host.
//! 2. [`Join::enter`]: the cgroup (joined from the host's view, before the cgroup namespace),
//!    the namespaces with one setns(2) on the pidfd, root of a user namespace, the root
//!    directory. Every host descriptor of the join is closed by then.
//! 3. fork: the new process is in the machine's PID namespace.
//! 4. [`Join::confine`] in it, still the machine's root: bounding set and seccomp filter.
//! 5. the user's credentials, then [`Join::before_exec`]: capability sets, no_new_privs,
//!    non-dumpable.

use super::registry::Entry;
use crate::error::io_error;
use crate::error::{Error, Result};
use crate::network::state::process_start_time;
use crate::security::{caps, process, seccomp::Program};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{pidfd_open, Pid, PidfdFlags};
use rustix::thread::ThreadNameSpaceType as Ns;
use std::path::PathBuf;

/// The namespaces of `/proc/PID/ns/`, in the order nsenter names them; the user namespace is
/// entered first by the kernel whatever the order (setns on a pidfd is atomic). The time
/// namespace (the OCI runtime's) is PID 1's own, not its `time_for_children`; setns(2) takes
/// it only from a single-threaded caller (EUSERS), as the joining child is.
const NAMESPACES: [(&str, Ns); 8] = [
    ("user", Ns::USER),
    ("mnt", Ns::MOUNT),
    ("pid", Ns::PROCESS_ID),
    ("net", Ns::NETWORK),
    ("ipc", Ns::INTER_PROCESS_COMMUNICATION),
    ("uts", Ns::HOST_NAME_AND_NIS_DOMAIN_NAME),
    ("cgroup", Ns::CONTROL_GROUP),
    ("time", Ns::TIME),
];

/// What `/proc/PID/status` says of a process's security layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layer {
    /// `CapBnd:`.
    pub bounding: u64,
    /// `NoNewPrivs:`.
    pub no_new_privs: bool,
    /// `Seccomp:` (0 none, 1 strict, 2 filter).
    pub seccomp: u8,
}

/// Reads [`Layer`] out of `/proc/PID/status` text.
pub fn parse_status(text: &str) -> Option<Layer> {
    let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix(':').map(str::trim));
    Some(Layer {
        bounding: u64::from_str_radix(field("CapBnd")?, 16).ok()?,
        no_new_privs: field("NoNewPrivs")? == "1",
        // Kernels without seccomp have no such line.
        seccomp: field("Seccomp").map_or(Some(0), |v| v.parse().ok())?,
    })
}

/// The namespaces to enter: those whose `(dev, inode)` differs between the leader's and ours.
pub fn namespaces_to_enter(differs: &dyn Fn(&str) -> bool) -> Ns {
    NAMESPACES.iter().filter(|(n, _)| differs(n)).fold(Ns::empty(), |acc, (_, f)| acc | *f)
}

/// A running machine, ready to be joined by a child of the caller.
pub struct Join {
    name: String,
    pidfd: Option<OwnedFd>,
    namespaces: Ns,
    /// `/proc/LEADER/root`, opened before any setns.
    root: Option<OwnedFd>,
    /// The leader's cgroup directory on the host's cgroup2 mount.
    cgroup: Option<(PathBuf, OwnedFd)>,
    layer: Layer,
    seccomp: Option<Program>,
    last_cap: u32,
}

fn same_ns(pid: i32, name: &str) -> bool {
    let id = |p: String| rustix::fs::stat(p.as_str()).ok().map(|s| (s.st_dev, s.st_ino));
    let (theirs, ours) = (id(format!("/proc/{pid}/ns/{name}")), id(format!("/proc/self/ns/{name}")));
    // A namespace type the kernel lacks is the same for everyone.
    theirs.is_none() || theirs == ours
}

impl Join {
    /// Opens machine `e` for joining: its PID 1 by pidfd (the same process as the registry
    /// recorded, or "not running"), what of its namespaces differs from the caller's, its root,
    /// its cgroup, and its security layer. Changes nothing.
    pub fn open(e: &Entry) -> Result<Join> {
        let not_running = || Error::msg(format!("machine \"{}\" is not running", e.name));
        let pid = Pid::from_raw(e.leader).ok_or_else(not_running)?;
        let pidfd = pidfd_open(pid, PidfdFlags::empty()).map_err(|_| not_running())?;
        // The pidfd pins the number: checked now, it cannot pass to another process while held.
        if process_start_time(e.leader) != Some(e.leader_start_time) {
            return Err(not_running());
        }
        let status_path = PathBuf::from(format!("/proc/{}/status", e.leader));
        let status = std::fs::read_to_string(&status_path).map_err(|err| io_error("read", &status_path, &err))?;
        let layer = parse_status(&status)
            .ok_or_else(|| Error::msg(format!("{}: no CapBnd:/NoNewPrivs: line", status_path.display())))?;
        let seccomp_file = super::state::dir(&e.name)?.join("seccomp");
        // The filter's flags (config.json's `linux.seccomp.flags`), when it has any.
        let flags_file = seccomp_file.with_file_name("seccomp-flags");
        let flags = match std::fs::read_to_string(&flags_file) {
            Ok(t) => t.trim().parse().map_err(|_| Error::msg(format!("{}: not a number", flags_file.display())))?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => 0,
            Err(err) => return Err(io_error("read", &flags_file, &err)),
        };
        let seccomp = match std::fs::read(&seccomp_file) {
            Ok(bytes) if !bytes.is_empty() => Some(Program::from_parts(bytes, flags)),
            _ if layer.seccomp == 0 => None,
            Ok(_) => return Err(Error::msg(format!("{}: empty", seccomp_file.display()))),
            Err(err) => {
                return Err(io_error("read", &seccomp_file, &err)
                    .context(format!("machine \"{}\" runs under a seccomp filter", e.name)))
            }
        };
        let namespaces = namespaces_to_enter(&|n| !same_ns(e.leader, n));
        let root_path = PathBuf::from(format!("/proc/{}/root", e.leader));
        let root = rustix::fs::open(&root_path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|err| Error::path("open", &root_path, err))?;
        Ok(Join {
            name: e.name.clone(),
            namespaces,
            cgroup: open_cgroup(e)?,
            pidfd: Some(pidfd),
            root: Some(root),
            layer,
            seccomp,
            last_cap: caps::read_last_cap(),
        })
    }

    /// The descriptors the join holds (to keep while closing all others).
    pub fn fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        let cgroup = self.cgroup.as_ref().map(|(_, fd)| fd);
        [self.pidfd.as_ref(), self.root.as_ref(), cgroup].into_iter().flatten().map(|f| f.as_raw_fd()).collect()
    }

    /// In the forked child: joins the machine's cgroup, namespaces and root directory, and
    /// becomes root of its user namespace (dropping the caller's supplementary groups). The
    /// join's host descriptors are closed when it returns.
    pub fn enter(&mut self) -> Result<()> {
        if let Some((path, dir)) = self.cgroup.take() {
            // From the host's view, before the cgroup namespace: inside it, our current cgroup
            // is out of reach and the kernel refuses the move (ENOENT).
            let procs = path.join("cgroup.procs");
            let fd = rustix::fs::openat(&dir, "cgroup.procs", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| Error::path("open", &procs, e))?;
            rustix::io::write(&fd, b"0").map_err(|e| Error::path("join cgroup", &path, e))?;
        }
        if let Some(pidfd) = self.pidfd.take() {
            rustix::thread::move_into_thread_name_spaces(pidfd.as_fd(), self.namespaces)
                .map_err(|e| Error::sys("enter", format!("the namespaces of machine \"{}\"", self.name), e))?;
        }
        let root = rustix::process::Gid::ROOT;
        rustix::thread::set_thread_groups(&[]).map_err(|e| Error::sys("drop", "supplementary groups", e))?;
        if self.namespaces.contains(Ns::USER) {
            rustix::thread::set_thread_res_gid(root, root, root)
                .map_err(|e| Error::sys("become", "gid 0 of the machine's user namespace", e))?;
            let root = rustix::process::Uid::ROOT;
            rustix::thread::set_thread_res_uid(root, root, root)
                .map_err(|e| Error::sys("become", "uid 0 of the machine's user namespace", e))?;
        }
        if let Some(dir) = self.root.take() {
            let to = |e| Error::sys("change root to", format!("the root of machine \"{}\"", self.name), e);
            rustix::process::fchdir(&dir).map_err(to)?;
            rustix::process::chroot(".").map_err(to)?;
            rustix::process::chdir("/").map_err(to)?;
        }
        Ok(())
    }

    fn plan(&self) -> caps::Plan {
        caps::Plan { retained: self.layer.bounding, ambient: 0, missing: 0, mknod_dropped: false }
    }

    /// In the process that will exec, before the credentials change (needs CAP_SETPCAP and
    /// CAP_SYS_ADMIN): PID 1's bounding set and the machine's seccomp filter.
    pub fn confine(&self) -> Result<()> {
        caps::apply_bounding(&self.plan(), self.last_cap)?;
        self.seccomp.as_ref().map_or(Ok(()), Program::install)
    }

    /// The OCI runtime's `exec`, in the process that will exec, after [`confine`](Self::confine)
    /// and before the credentials change: the process's own bounding set (config.json's or
    /// `--process`'s), capabilities kept across the uid change.
    pub fn confine_oci(&self, q: &caps::Quintet) -> Result<()> {
        caps::apply_oci_bounding(q, self.last_cap)
    }

    /// The OCI runtime's `exec`, after the credentials change: exactly the process's effective,
    /// permitted, inheritable and ambient sets, no_new_privs if PID 1 has it, non-dumpable.
    pub fn before_exec_oci(&self, q: &caps::Quintet) -> Result<()> {
        caps::apply_oci_sets(q)?;
        if self.layer.no_new_privs {
            process::set_no_new_privs()?;
        }
        process::set_non_dumpable()
    }

    /// After the credentials change, right before execve: the capability sets (the bounding
    /// set for root, none for anyone else), no_new_privs if PID 1 has it, non-dumpable again
    /// (a uid change resets the flag; execve makes the program dumpable as usual).
    pub fn before_exec(&self) -> Result<()> {
        caps::apply_after_uid_change(&self.plan())?;
        if self.layer.no_new_privs {
            process::set_no_new_privs()?;
        }
        process::set_non_dumpable()
    }
}

/// The leader's cgroup (the `0::` line of `/proc/LEADER/cgroup`: a leaf, where a process may
/// be) on the host's cgroup2 mount, which must lie inside the machine's cgroup.
fn open_cgroup(e: &Entry) -> Result<Option<(PathBuf, OwnedFd)>> {
    let Some(machine) = &e.cgroup else { return Ok(None) };
    let Some(h) = crate::cgroup::Hierarchy::detect()? else { return Ok(None) };
    let file = PathBuf::from(format!("/proc/{}/cgroup", e.leader));
    let text = std::fs::read_to_string(&file).map_err(|err| io_error("read", &file, &err))?;
    let rel = crate::cgroup::own_cgroup(&text)
        .ok_or_else(|| Error::msg(format!("{}: no cgroup2 (0::) line", file.display())))?;
    let path = h.root.join(rel);
    if !path.starts_with(machine) {
        return Err(Error::msg(format!(
            "machine \"{}\": PID 1 is in cgroup {}, outside the machine's {}",
            e.name,
            path.display(),
            machine.display()
        )));
    }
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let dir = rustix::fs::open(&path, flags, Mode::empty()).map_err(|err| Error::path("open", &path, err))?;
    Ok(Some((path, dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let text = "Name:\tinit\nCapInh:\t0000000000000000\nCapBnd:\t00000000fcecbfff\nCapAmb:\t0\n\
                    NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n";
        let l = parse_status(text).unwrap();
        assert_eq!(l, Layer { bounding: 0xfcec_bfff, no_new_privs: true, seccomp: 2 });
        let l = parse_status("CapBnd:\t000001ffffffffff\nNoNewPrivs:\t0\n").unwrap();
        assert_eq!(l, Layer { bounding: 0x1ff_ffff_ffff, no_new_privs: false, seccomp: 0 });
        assert_eq!(parse_status("NoNewPrivs:\t0\n"), None);
        assert_eq!(parse_status("CapBnd:\tzz\nNoNewPrivs:\t0\n"), None);
        // `CapBndX:` is not `CapBnd:`.
        assert_eq!(parse_status("CapBndX:\t1\nNoNewPrivs:\t0\n"), None);
    }

    #[test]
    fn only_the_namespaces_that_differ() {
        let ns = namespaces_to_enter(&|n| n != "user" && n != "time");
        assert_eq!(
            ns,
            Ns::MOUNT
                | Ns::PROCESS_ID
                | Ns::NETWORK
                | Ns::INTER_PROCESS_COMMUNICATION
                | Ns::HOST_NAME_AND_NIS_DOMAIN_NAME
                | Ns::CONTROL_GROUP
        );
        assert!(namespaces_to_enter(&|n| n == "user").contains(Ns::USER));
        assert_eq!(namespaces_to_enter(&|_| false), Ns::empty());
    }

    #[test]
    fn our_own_namespaces_are_the_same() {
        let me = std::process::id() as i32;
        assert!(NAMESPACES.iter().all(|(n, _)| same_ns(me, n)));
    }
}
