//! One boot of a machine: the clone into the container's namespaces (through the outer child
//! with a user namespace), the handshake up to the child's "ready", and "go".

use crate::cgroup::Cgroup;
use crate::channel::{Channel, Msg};
use crate::error::{Error, Result};
use crate::prepared::Prepared;
use crate::spec::Spec;
use crate::sys::{self, Forked};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, WaitOptions};
use rustix::thread::LinkNameSpaceType;

/// The namespaces every container gets (the network namespace stays the host's).
const CLONE_FLAGS: u64 =
    (libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWCGROUP) as u64;

/// The cgroups PID 1 is born in: v2 by `CLONE_INTO_CGROUP`, v1 (the OCI runtime on hybrid and
/// legacy hosts) by the launcher joining them for the clone.
#[derive(Clone, Copy, Default)]
pub(super) struct Cgroups<'a> {
    pub v2: Option<&'a Cgroup>,
    pub v1: Option<&'a crate::cgroup::V1Group>,
}

/// The container's PID 1 of the current boot, set up and waiting for "go" until
/// [`Machine::start`](super::Machine::start).
pub struct Pid1 {
    /// Its pid on the host.
    pub pid: i32,
    pub(super) channel: Channel,
    /// The child's end of the channel is still open (the payload's exec closes it).
    pub(super) channel_open: bool,
    /// The notify socket bound in the container's `/run/host/notify`.
    pub(super) notify: Option<OwnedFd>,
    /// The master of the container's console, when it has one.
    pub(super) pty: Option<OwnedFd>,
    /// "Go" was queued right after the clone ([`Machine::spawn_and_go`](super::Machine::spawn_and_go)).
    pub(super) go_sent: bool,
}

/// Clones the container's PID 1 and runs the handshake until it waits for "go"; a failure of
/// its setup is the error (PID 1 is reaped by then). `attach_devices`: the cgroup to attach
/// the device program to, right after the clone, while the child mounts (`prep.devices_pending`
/// tells the child to wait for [`Msg::Devices`]). `early_go`: queue "go" then too, so that the
/// child runs on from "ready" without waiting for the launcher.
pub(super) fn spawn(
    spec: &Spec,
    prep: &mut Prepared,
    tree: BorrowedFd<'_>,
    cgroups: Cgroups<'_>,
    attach_devices: Option<BorrowedFd<'_>>,
    early_go: bool,
    on_pid1: &dyn Fn(i32) -> Result<()>,
) -> Result<Pid1> {
    let cg = cgroups.v2;
    let (parent_ch, child_ch) = Channel::pair()?;
    // The OCI runtime: the namespaces config.json names by path, opened (and checked) now.
    let mut joined = match &spec.oci {
        Some(o) => crate::spec_oci::open_joined(&o.config)?,
        None => Vec::new(),
    };
    // With a cgroup, the child joins it at clone time and unshares its cgroup namespace itself,
    // so that the namespace is rooted at the container's cgroup.
    let mut flags = match &spec.oci {
        // config.json's: a new mount namespace, and the PID, UTS, IPC and cgroup namespaces it
        // asks to be new (the others are joined by path, or the runtime's own).
        Some(o) => libc::CLONE_NEWNS as u64 | crate::spec_oci::new_namespaces(&o.config),
        None => CLONE_FLAGS,
    };
    if cg.is_some() {
        flags &= !(libc::CLONE_NEWCGROUP as u64);
    }
    if spec.net.new_namespace() {
        flags |= libc::CLONE_NEWNET as u64;
    }
    // With a user namespace this child is the outer one (a mount namespace of its own, in the
    // host's user namespace); it clones PID 1 into the other namespaces (userns::child). What
    // needs the launcher's privileges is made now and inherited.
    let mut outer = match &prep.userns {
        Some(ns) => {
            flags = libc::CLONE_NEWNS as u64;
            Some(crate::userns::outer::make(spec, prep, tree, ns, std::mem::take(&mut joined))?)
        }
        None => None,
    };
    // Without one, a PID namespace named by path is PID 1's from its birth: the launcher's
    // children are born in it until the clone is done (setns(2) changes only that).
    let pid_ns = match joined.iter().position(|j| j.kind == crate::runtime_spec::NsKind::Pid) {
        Some(i) => Some(PidNsSwitch::enter(joined.remove(i))?),
        None => None,
    };
    // With a user namespace the launcher made `/run` and bound the notify socket itself.
    let mut notify: Option<OwnedFd> = outer.as_mut().and_then(|o| o.notify.take());
    // v1: born in the container's directories, before it unshares its cgroup namespace.
    let joined_v1 = match cgroups.v1.map(crate::cgroup::V1Group::join).transpose() {
        Ok(j) => j,
        Err(e) => {
            drop(pid_ns.map(PidNsSwitch::leave));
            return Err(e);
        }
    };
    let forked = sys::clone_process(flags, cg.map(|c| c.dir_fd()));
    if let Ok(Forked::Child) = forked {
        drop(parent_ch);
        crate::container::run(spec, prep, child_ch, outer, joined)
    }
    let left = match (&forked, joined_v1) {
        (_, None) => Ok(()),
        (_, Some(j)) => j.leave(),
    };
    let left = match pid_ns.map(PidNsSwitch::leave) {
        Some(Err(e)) => left.and(Err(e)),
        _ => left,
    };
    let pid = match forked.map_err(|e| clone_error(e, spec))? {
        Forked::Child => sys::exit_now(1),
        Forked::Parent { pid } => pid,
    };
    if let Err(e) = left {
        return Err(abandon(pid, e));
    }
    drop(outer);
    drop(child_ch);
    if prep.premade_pending {
        // While the child switches into the tree: it waits for them before its first mount.
        let (run, sock) = match crate::premade::make_run(prep, None, &|_| Ok(())) {
            Ok(m) => m,
            Err(e) => return Err(abandon(pid, e)),
        };
        notify = Some(sock);
        if let Err(e) = parent_ch.send(Msg::Premade { run }) {
            return Err(not_sent(&parent_ch, pid, e));
        }
    }
    if !prep.premade_late.is_empty() {
        // While the child mounts /proc: it waits for them at the first step that needs one.
        let late = match crate::premade::make_late(prep) {
            Ok(l) => l,
            Err(e) => return Err(abandon(pid, e)),
        };
        if let Err(e) = parent_ch.send(Msg::PremadeLate(late)) {
            return Err(not_sent(&parent_ch, pid, e));
        }
    }
    if let Some(cgroup) = attach_devices {
        // While the child mounts; it waits for the outcome before it opens a file of the tree.
        if let Err(e) = prep.security.attach_device_policy(Some(cgroup)) {
            return Err(abandon(pid, e));
        }
        if let Err(e) = parent_ch.send(Msg::Devices(prep.security.device_policy_attached())) {
            return Err(not_sent(&parent_ch, pid, e));
        }
    }
    if early_go {
        // The child reads it only after it sent "ready" (or never, when its setup fails).
        if let Err(e) = parent_ch.send(Msg::Go) {
            return Err(not_sent(&parent_ch, pid, e));
        }
    }
    let pid = match &prep.userns {
        Some(ns) => {
            let (pid1, time_ns_made) = adopt_pid1(&parent_ch, pid)?;
            let mapped = write_time_offsets(&parent_ch, prep, pid1, time_ns_made)
                .and_then(|()| ns.write_maps(pid1))
                .and_then(|()| parent_ch.send(Msg::Mapped));
            if let Err(e) = mapped {
                return Err(abandon(pid1, e));
            }
            pid1
        }
        None => pid,
    };
    log::debug!("container PID 1 is {pid} on the host");
    if let Err(e) = on_pid1(pid) {
        return Err(abandon(pid, e));
    }

    // Handshake: the console and the notify socket (optional), then ready or an error.
    let mut pty = None;
    loop {
        match parent_ch.recv() {
            Ok(Some(Msg::Pty(fd))) => pty = Some(fd),
            Ok(Some(Msg::Notify(fd))) => notify = Some(fd),
            Ok(Some(Msg::Ready)) => break,
            Ok(Some(Msg::Error(e))) => return Err(reap(pid, e)),
            Ok(Some(
                Msg::Go
                | Msg::Devices(_)
                | Msg::Premade { .. }
                | Msg::PremadeLate(_)
                | Msg::Mapped
                | Msg::Pid(_)
                | Msg::Pidfd(_)
                | Msg::TimeNamespace,
            ))
            | Ok(None) => return Err(ended_early(pid)),
            Err(e) => return Err(abandon(pid, e)),
        }
    }
    Ok(Pid1 { pid, channel: parent_ch, channel_open: true, notify, pty, go_sent: early_go })
}

/// The launcher's children born in a PID namespace config.json names by path, until
/// [`leave`](Self::leave) goes back to its own.
struct PidNsSwitch {
    own: OwnedFd,
}

impl PidNsSwitch {
    fn enter(j: crate::spec_oci::Joined) -> Result<PidNsSwitch> {
        let own = rustix::fs::open("/proc/self/ns/pid", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys("open", "/proc/self/ns/pid", e))?;
        rustix::thread::move_into_link_name_space(j.fd.as_fd(), Some(LinkNameSpaceType::ProcessID))
            .map_err(|e| Error::sys("join", "the PID namespace of linux.namespaces", e))?;
        Ok(PidNsSwitch { own })
    }

    fn leave(self) -> Result<()> {
        rustix::thread::move_into_link_name_space(self.own.as_fd(), Some(LinkNameSpaceType::ProcessID))
            .map_err(|e| Error::sys("return to", "the launcher's PID namespace", e))
    }
}

/// The clone's error; in a joined PID namespace whose init has ended the kernel says ENOMEM.
fn clone_error(e: rustix::io::Errno, spec: &Spec) -> Error {
    let err = Error::sys("clone", "container namespaces", e);
    let joined_pid = spec.oci.as_ref().is_some_and(|o| {
        matches!(
            crate::spec_oci::choice(&o.config, crate::runtime_spec::NsKind::Pid),
            crate::spec_oci::NsChoice::Join { .. }
        )
    });
    if e == rustix::io::Errno::NOMEM && joined_pid {
        return err.hint("the PID namespace joined by path has no init any more (its PID 1 ended)");
    }
    err
}

/// "Go": the launcher's last steps on PID 1 (resource limits a user namespace's root could not
/// raise, the network), then the payload runs.
pub(super) fn go(p: &Pid1, prep: &Prepared, net: Option<&mut crate::network::HostNetwork>) -> Result<()> {
    let limits = if prep.security.limits_from_launcher() { prep.security.apply_to_child(p.pid) } else { Ok(()) };
    limits.and_then(|()| net.map_or(Ok(()), |n| n.attach(p.pid)))?;
    if !p.go_sent {
        p.channel.send(Msg::Go)?;
    }
    log::debug!("container ready, sent go");
    Ok(())
}

/// A message to the child could not be sent (`e`): the child gave up first, and its own
/// error, queued before it closed its end, is the one to report.
fn not_sent(ch: &Channel, pid: i32, e: Error) -> Error {
    loop {
        match ch.recv() {
            Ok(Some(Msg::Error(why))) => return reap(pid, why),
            Ok(Some(_)) => {}
            _ => return abandon(pid, e),
        }
    }
}

/// Kills the container's PID 1 and reaps it after a failed start; `e` is the failure.
pub(super) fn abandon(pid: i32, e: Error) -> Error {
    let _ = sys::kill(pid, libc::SIGKILL);
    reap(pid, e)
}

/// Reaps PID 1, which ended (or is about to) on its own; `e` is why.
fn reap(pid: i32, e: Error) -> Error {
    let _ = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty());
    e
}

/// PID 1 closed the channel before it was ready (killed, or it gave up): why, once reaped.
fn ended_early(pid: i32) -> Error {
    match rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty()) {
        Ok(Some((_, st))) => match (st.terminating_signal(), st.exit_status()) {
            (Some(sig), _) => {
                Error::msg(format!("container terminated by signal {}", crate::signals::signal_name(sig)))
            }
            (None, Some(code)) => Error::msg(format!("the container's setup ended with status {code}")),
            _ => Error::msg("the container's setup ended before it was ready"),
        },
        Ok(None) => Error::msg("the container's setup ended before it was ready"),
        Err(e) => Error::sys("wait for", "container", e),
    }
}

/// PID 1 of a user namespace that makes a time namespace (`Op::UnshareTime` in its plan):
/// once it says the namespace is made (`made`: it said so before its pid came), its offsets
/// written to `/proc/PID1/timens_offsets` with the launcher's privileges (runc's parent writes
/// them too).
fn write_time_offsets(ch: &Channel, prep: &Prepared, pid1: i32, made: bool) -> Result<()> {
    let Some(offsets) = prep.setup.inner.iter().find_map(|op| match op {
        crate::setup::Op::UnshareTime { offsets } => Some(offsets),
        _ => None,
    }) else {
        return Ok(());
    };
    match if made { Some(Msg::TimeNamespace) } else { ch.recv()? } {
        Some(Msg::TimeNamespace) => {}
        Some(Msg::Error(e)) => return Err(e),
        _ => return Err(Error::msg("the container's PID 1 ended before it made its time namespace")),
    }
    let file = std::path::PathBuf::from(format!("/proc/{pid1}/timens_offsets"));
    crate::child::time_ns::write_offsets(rustix::fs::CWD, &file, offsets)
}

/// The outer child of a user-namespaced start reports the host pid of PID 1 (or an error) and
/// exits; PID 1, orphaned, is now the launcher's child (it is a child subreaper). PID 1 shares
/// the channel and may say first that it made its time namespace (it runs as soon as it is
/// cloned): returns the pid and whether it did.
fn adopt_pid1(ch: &Channel, outer: i32) -> Result<(i32, bool)> {
    let mut time_ns_made = false;
    let got = loop {
        match ch.recv() {
            Ok(Some(Msg::TimeNamespace)) if !time_ns_made => time_ns_made = true,
            other => break other,
        }
    };
    let _ = rustix::process::waitpid(Pid::from_raw(outer), WaitOptions::empty());
    match got? {
        Some(Msg::Pid(pid)) => Ok((pid, time_ns_made)),
        Some(Msg::Error(e)) => Err(e),
        _ => Err(Error::msg("the container's setup ended before its PID 1 was started")),
    }
}

impl Pid1 {
    /// The launcher's end of the channel, to watch while the child's end is open.
    pub fn channel_fd(&self) -> Option<BorrowedFd<'_>> {
        self.channel_open.then(|| self.channel.fd())
    }

    /// Reads the channel after it became readable: `Some(error)` when the child reported a
    /// failure (its exec, after "go"); the channel counts as closed when the child's end is.
    pub fn read_channel(&mut self) -> Option<Error> {
        match self.channel.recv() {
            Ok(Some(Msg::Error(e))) => Some(e),
            Ok(Some(_)) => None,
            _ => {
                self.channel_open = false;
                None
            }
        }
    }

    /// The launcher's end of the channel.
    pub fn channel(&self) -> BorrowedFd<'_> {
        self.channel.fd()
    }

    /// The notify socket, to watch for the guest's `READY=1`.
    pub fn notify_fd(&self) -> Option<BorrowedFd<'_>> {
        self.notify.as_ref().map(|f| f.as_fd())
    }
}
