//! The container lifecycle every front end drives — systemd-nspawn's command line today
//! (`launch.rs`), `spawnctl` and the OCI runtime next: [`Machine::create`] checks the tree,
//! prepares the host side (network, cgroup, device policy) and sets the container up to a PID 1
//! that waits for "go"; [`Machine::start`] releases it; the front end watches it
//! ([`Machine::pid1`], [`Machine::try_wait`]) or waits ([`Machine::wait`]); [`Machine::kill`]
//! signals it; [`Machine::reboot`] sets up a new PID 1 in the same resources;
//! [`Machine::teardown`] (also on drop) releases everything in reverse order.
//!
//! The process model is the caller's choice ([`Model`]): nspawn's (PID 1 dies with the
//! launcher, "go" over the in-process channel), or runc's create/start (PID 1 outlives its
//! creator, which [`leave`](Machine::leave)s it with a record under the runtime directory; a
//! later process [`Created::load`]s it to start it through a FIFO, signal it and tear it down).
//!
//! Layout: `prepare.rs` (checks and host data, before anything changes), `cgroup.rs` (placement,
//! `--cleanup`), `spawn.rs` (one boot: clone, handshake, go), `state.rs` (the record of a left
//! machine), `created.rs` (a left machine seen from a later process), `registry.rs` (the
//! running machines), `join.rs` (entering a running machine from outside: `spawnctl shell`).

mod cgroup;
mod created;
pub mod join;
mod prepare;
pub mod registry;
mod spawn;
pub mod state;

pub use cgroup::cleanup;
pub use created::Created;
pub use prepare::INITS;
pub use spawn::Pid1;

/// How the machine's processes relate to the process that creates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Model {
    /// systemd-nspawn's: PID 1 dies with the launcher (parent-death signal), and
    /// [`Machine::start`] releases it over the in-process channel.
    #[default]
    Attached,
    /// runc's create/start: PID 1 outlives the launcher; [`Machine::create_with`] takes it as
    /// far as the exec, where it waits on the FIFO `RUNTIME/machines/NAME/start` until a
    /// process opens it ([`Created::start`]).
    Detachable,
}

use crate::cgroup::Cgroup;
use crate::error::io_error;
use crate::error::{Error, Result};
use crate::mount_plan::CgroupMount;
use crate::network::HostNetwork;
use crate::prepared::Prepared;
use crate::settings::{Id128, LinkJournal, StartMode, VolatileMode};
use crate::spec::Spec;
use crate::{overlay, sys};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, WaitOptions, WaitStatus};
use std::path::{Path, PathBuf};

/// One container: what was prepared for it, the host resources it holds, and its PID 1.
pub struct Machine {
    /// The spec as this run completed it (bind-user homes, the journal link, throw-away
    /// overlay uppers among the custom mounts; the machine id settled).
    spec: Spec,
    prep: Prepared,
    /// The container directory (O_PATH).
    tree: OwnedFd,
    cgroup: Option<Cgroup>,
    /// The OCI runtime's cgroup v1 directories (hybrid and legacy hosts).
    cgroup_v1: Option<crate::cgroup::V1Group>,
    network: Option<HostNetwork>,
    /// `--overlay=LOWER::DST` uppers made for this run.
    temporary: Vec<PathBuf>,
    /// `-x` on a btrfs subvolume: the snapshot that is the tree of this run.
    snapshot: Option<crate::ephemeral::Snapshot>,
    pid1: Option<Pid1>,
    /// `Model::Detachable`: `RUNTIME/machines/NAME`.
    state_dir: Option<PathBuf>,
    /// The machine's name in the registry, held from creation to teardown.
    claim: Option<registry::Claim>,
    /// A systemd guest said READY=1 (others are ready once PID 1 runs).
    ready: bool,
    /// When the first PID 1 was started, µs since the epoch.
    started: u64,
    /// PID 1s set up so far (boots).
    pid1_spawned: u32,
    torn_down: bool,
}

impl Machine {
    /// Everything up to a PID 1 that waits for [`start`](Self::start): tree checks, host data,
    /// network, cgroup, security layer, mounts, user namespace. Nothing is left on the host
    /// when it fails.
    pub fn create(spec: &Spec) -> Result<Machine> {
        let mut m = Machine::new(spec)?;
        m.spawn()?;
        Ok(m)
    }

    /// [`create`](Self::create) with a process model. With [`Model::Detachable`] the launcher's
    /// part of "go" (limits, network) is done here too, so that the machine may be
    /// [`leave`](Self::leave)n: PID 1 then waits on its start FIFO.
    pub fn create_with(spec: &Spec, model: Model) -> Result<Machine> {
        let mut m = Machine::new_with(spec, model)?;
        m.spawn()?;
        if model == Model::Detachable {
            // Its record is written at PID 1's clone (`spawn_with`).
            m.start()?;
        }
        Ok(m)
    }

    /// [`create`](Self::create) without the PID 1: the checks and the host side only, for a
    /// front end that has more to do before the clone (the nspawn banner); [`spawn`](Self::spawn)
    /// follows.
    pub fn new(spec: &Spec) -> Result<Machine> {
        Machine::new_with(spec, Model::Attached)
    }

    /// [`new`](Self::new) with a process model.
    pub fn new_with(spec: &Spec, model: Model) -> Result<Machine> {
        if spec.directory == Path::new("/")
            && !spec.ephemeral
            && !matches!(spec.volatile, VolatileMode::Yes | VolatileMode::State)
        {
            return Err(Error::msg("--directory=/ needs --ephemeral, --volatile=yes or --volatile=state"));
        }
        let mut spec = spec.clone();
        if spec.volatile != VolatileMode::No && matches!(spec.link_journal, LinkJournal::Host | LinkJournal::Guest) {
            return Err(Error::msg(
                "--volatile= and --link-journal=host|guest: not supported (the journal directory would be made in the tree)",
            ));
        }
        if spec.ephemeral || spec.volatile != VolatileMode::No {
            // The tree is only read: no journal directory in it (nspawn skips -x too), and no
            // lock against other readers.
            spec.link_journal = LinkJournal::No;
            spec.lock_tree = false;
        }
        // -x on a btrfs subvolume: a snapshot is this run's tree. A machine that outlives its
        // launcher, which holds the snapshot's lock, gets the overlay instead.
        let snapshot = match spec.ephemeral && spec.volatile == VolatileMode::No && model == Model::Attached {
            true => crate::ephemeral::take_snapshot(&spec.directory, spec.read_only)?,
            false => None,
        };
        if let Some(s) = &snapshot {
            spec.directory = s.path().to_path_buf();
        }
        let root = crate::setup::Root::of(&spec, snapshot.is_some());
        // Read and checked before anything changes on the host; the homes join the custom
        // mounts (kept sorted by destination).
        let bind_user = crate::bind_user::prepare(&spec)?;
        for m in bind_user.iter().flat_map(crate::bind_user::Plan::home_mounts) {
            insert_mount(&mut spec, m);
        }
        if crate::journal::wanted(spec.link_journal) {
            // The machine id is settled here: the journal link is named after it.
            let tree = open_tree(&spec.directory)?;
            let id = prepare::machine_id(tree.as_fd()).or(spec.uuid).unwrap_or_else(Id128::random);
            spec.uuid = Some(id);
            let host_id = crate::journal::host_machine_id();
            if let Some(m) = crate::journal::setup(spec.link_journal, id, host_id, tree.as_fd(), &spec.directory)? {
                insert_mount(&mut spec, m);
            }
        }
        // `--overlay=LOWER::DST`: a throw-away upper for this run, gone with it.
        let temporary = overlay::temporary_uppers(&mut spec.custom_mounts)?;
        let (prep, tree) = match prepare::prepare(&spec, bind_user, root) {
            Ok(p) => p,
            Err(e) => {
                overlay::remove_temporary(&temporary);
                return Err(e);
            }
        };
        // A machine of this name left by its creator and still running is not a dying one.
        if let Ok(left) = Created::load(&spec.machine) {
            if left.is_running().unwrap_or(false) {
                overlay::remove_temporary(&temporary);
                return Err(Error::msg(format!(
                    "machine {} is running (PID {}, created by another process)",
                    spec.machine,
                    left.pid()
                )));
            }
        }
        // One name, one machine: held until teardown.
        log::debug!("prepared");
        let claim = match registry::claim(&spec.machine) {
            Ok(c) => c,
            Err(e) => {
                overlay::remove_temporary(&temporary);
                return Err(e);
            }
        };
        // From here on, dropping the machine releases what it holds.
        let mut m = Machine {
            spec,
            prep,
            tree,
            cgroup: None,
            cgroup_v1: None,
            network: None,
            temporary,
            snapshot,
            pid1: None,
            state_dir: None,
            claim: Some(claim),
            ready: false,
            started: 0,
            pid1_spawned: 0,
            torn_down: false,
        };
        if model == Model::Detachable {
            m.make_start_fifo()?;
        }
        m.take_resources()?;
        Ok(m)
    }

    /// `Model::Detachable`: `RUNTIME/machines/NAME/` (0700) with the start FIFO, owned by the
    /// container's root; PID 1 keeps an O_PATH descriptor of it.
    fn make_start_fifo(&mut self) -> Result<()> {
        // The registry's claim made the directory and holds the name.
        let dir = state::dir(&self.spec.machine)?;
        rustix::fs::chmod(&dir, Mode::from_raw_mode(0o700)).map_err(|e| Error::path("change mode of", &dir, e))?;
        self.state_dir = Some(dir.clone());
        let fifo = dir.join("start");
        // Writable by the payload's user (PID 1 opens it after its credentials changed), as
        // runc's exec.fifo; the directory (0700) keeps everyone else out.
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, Mode::from_raw_mode(0o622), 0)
            .map_err(|e| Error::path("create FIFO", &fifo, e))?;
        rustix::fs::chmod(&fifo, Mode::from_raw_mode(0o622)).map_err(|e| Error::path("change mode of", &fifo, e))?;
        if let Some(ns) = &self.prep.userns {
            let id = (Some(rustix::fs::Uid::from_raw(ns.shift)), Some(rustix::fs::Gid::from_raw(ns.shift)));
            rustix::fs::chown(&fifo, id.0, id.1).map_err(|e| Error::path("change owner of", &fifo, e))?;
        }
        let fd = rustix::fs::open(&fifo, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open", &fifo, e))?;
        self.prep.start_fifo = Some(fd);
        self.prep.dies_with_launcher = false;
        Ok(())
    }

    /// `Model::Detachable`, after [`create_with`](Self::create_with): leaves the machine to a
    /// later process. Its record goes to `RUNTIME/machines/NAME/state`; nothing is released
    /// here (the process that loads it with [`Created::load`] tears it down). Returns the
    /// record's directory.
    pub fn leave(mut self) -> Result<PathBuf> {
        let dir = self.write_state()?;
        // In the registry without a launcher: the leader alone keeps it alive.
        let mut entry = self.entry()?;
        (entry.launcher, entry.launcher_start_time) = (0, 0);
        registry::write_entry(&dir, &entry)?;
        // PID 1 becomes the payload's process as far as the exec (until now it would end with
        // this process) and says whether it got there; then it waits for its start FIFO.
        if let Some(p) = self.pid1.as_ref() {
            p.channel.send(crate::channel::Msg::Go)?;
            match p.channel.recv()? {
                Some(crate::channel::Msg::Ready) => {}
                Some(crate::channel::Msg::Error(e)) => return Err(e),
                _ => return Err(Error::msg(format!("machine {}: PID 1 ended before it was left", self.spec.machine))),
            }
        }
        // Everything stays for the next process: PID 1, cgroup, network, uppers, the record,
        // the registry entry (the lock goes with this process).
        self.claim = None;
        self.torn_down = true;
        self.pid1 = None;
        Ok(dir)
    }

    /// `Model::Detachable`, at `leave`: writes `RUNTIME/machines/NAME/state` of the left machine,
    /// what a later process needs to start, signal and tear it down. Returns the record's directory.
    fn write_state(&self) -> Result<PathBuf> {
        let (Some(dir), Some(p)) = (self.state_dir.clone(), self.pid1.as_ref()) else {
            return Err(Error::msg("only a machine created with Model::Detachable can be left"));
        };
        write_state_file(&dir, &self.state(true), p.pid)?;
        Ok(dir)
    }

    /// The record of the machine, but for PID 1 (`pid`, `start_time`: see [`write_state_file`]).
    fn state(&self, left: bool) -> state::State {
        state::State {
            machine: self.spec.machine.clone(),
            pid: 0,
            start_time: 0,
            creator: rustix::process::getpid().as_raw_nonzero().get(),
            cgroup: self.cgroup.as_ref().map(|c| c.path().to_path_buf()),
            cgroup_v1: self.cgroup_v1.as_ref().map(|g| g.entries().to_vec()).unwrap_or_default(),
            cgroup_v1_made: self.cgroup_v1.as_ref().map(|g| g.made().to_vec()).unwrap_or_default(),
            network: self.network.is_some(),
            temporary: self.temporary.clone(),
            directory: Some(self.spec.directory.clone()),
            uppers: overlay_uppers(&self.spec, false),
            uppers_in_tree: overlay_uppers(&self.spec, true),
            left,
        }
    }

    /// Network, cgroup, subreaper and device policy, in that order.
    fn take_resources(&mut self) -> Result<()> {
        if let Some(ns) = &self.prep.userns {
            // The throw-away uppers belong to the container's root, which may write there.
            overlay::give_temporary(&self.temporary, ns.shift)?;
        }
        self.network = HostNetwork::prepare(&self.spec)?;
        let shift = self.prep.userns.as_ref().map(|u| u.shift);
        (self.cgroup, self.cgroup_v1) = cgroup::create_cgroups(&self.spec, shift)?;
        if self.cgroup.is_some() {
            self.prep.cgroup_mount = match self.spec.start_mode {
                StartMode::Boot if crate::cgroup::inner::guest_mounts_cgroup(self.tree.as_fd()) => {
                    CgroupMount::LeftToGuest
                }
                StartMode::Boot => CgroupMount::Writable,
                _ => CgroupMount::ReadOnly,
            };
        }
        // The whole setup, once, before the first clone.
        // The OCI runtime's: config.json's mounts, nothing else (checked when the spec was made).
        let steps = match &self.spec.oci {
            Some(oci) => {
                let v1 = self.cgroup_v1.as_ref().map(|g| g.views()).unwrap_or_default();
                crate::mount_plan_oci::plan(&oci.config, &self.spec.custom_mounts, v1)?
            }
            None => crate::mount_plan::plan(&self.spec, self.prep.cgroup_mount),
        };
        let facts = crate::setup::Facts {
            root: self.prep.root,
            cgroup: self.prep.cgroup_mount,
            userns: self.prep.userns.is_some(),
            bind_user: self.prep.bind_user.is_some(),
            start_fifo: self.prep.start_fifo.is_some(),
        };
        self.prep.setup = crate::setup::plan(&self.spec, &steps, facts);
        if self.prep.setup.inner.contains(&crate::setup::Op::CreateContainerHooks) {
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            self.prep.host_root =
                Some(rustix::fs::open("/", flags, Mode::empty()).map_err(|e| Error::path("open", Path::new("/"), e))?);
        }
        if log::log_enabled!(log::Level::Debug) {
            for (i, line) in self.prep.setup.lines().iter().enumerate() {
                log::debug!("plan {i:2}: {line}");
            }
        }
        if self.prep.userns.is_some() {
            // PID 1 is cloned by the outer child, which exits: the launcher adopts it.
            rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
                .map_err(|e| Error::sys("become", "child subreaper", e))?;
        }
        // Without a user namespace, the device program is loaded and attached by the first
        // spawn, right after the clone, while the child mounts (the load is the verifier's
        // work, about 0.1 ms). The user-namespaced children get it before the clone.
        match (&self.cgroup, &self.prep.userns) {
            (Some(_), None) => Ok(()),
            (cg, _) => self.prep.security.attach_device_policy(cg.as_ref().map(Cgroup::dir_fd)),
        }
    }

    /// Sets up a PID 1 for the next boot, waiting for "go".
    pub fn spawn(&mut self) -> Result<()> {
        self.spawn_with(false)
    }

    /// [`spawn`](Self::spawn) for a front end that has nothing to do between it and
    /// [`start`](Self::start) (no console pty to attach): when the launcher has nothing to do
    /// either (no network to attach, no user namespace, PID 1 dies with the launcher), "go" is
    /// queued right after the clone, and PID 1 runs on as soon as it is set up, without a
    /// round trip to the launcher. `start` still follows; it publishes the machine.
    pub fn spawn_and_go(&mut self) -> Result<()> {
        let early = !self.spec.has_pty()
            && self.network.is_none()
            && self.prep.userns.is_none()
            && self.prep.dies_with_launcher
            && self.prep.start_fifo.is_none();
        self.spawn_with(early)
    }

    fn spawn_with(&mut self, early_go: bool) -> Result<()> {
        // Once: the program stays attached to the cgroup across reboots.
        let deferred = self.pid1_spawned == 0 && self.prep.userns.is_none();
        let attach = self.cgroup.as_ref().filter(|_| deferred).map(Cgroup::dir_fd);
        self.prep.devices_pending = attach.is_some();
        // The OCI runtime's /dev and /run are config.json's mounts.
        self.prep.premade_pending = self.prep.userns.is_none() && self.spec.oci.is_none();
        self.prep.premade_late = match self.prep.premade_pending {
            true => crate::premade::late_targets(self.prep.setup.plain_mounts(), self.spec.net.separate_namespace()),
            false => Vec::new(),
        };
        // Recorded from PID 1's clone on (before its setup, which may run slow hooks), not from
        // `leave` only: whoever finds the creator gone (`spawnbox-runc delete --force`, its
        // create's watcher) tears it all down.
        let record = self.state_dir.clone().map(|d| (d, self.state(false)));
        let on_pid1 = |pid: i32| match &record {
            Some((dir, st)) => write_state_file(dir, st, pid),
            None => Ok(()),
        };
        let cgroups = spawn::Cgroups { v2: self.cgroup.as_ref(), v1: self.cgroup_v1.as_ref() };
        let p = spawn::spawn(&self.spec, &mut self.prep, self.tree.as_fd(), cgroups, attach, early_go, &on_pid1)?;
        self.pid1_spawned += 1;
        self.pid1 = Some(p);
        Ok(())
    }

    /// Releases PID 1: the payload (or init) runs.
    pub fn start(&mut self) -> Result<()> {
        let Some(p) = self.pid1.as_ref() else {
            return Err(Error::msg("the machine has no PID 1 to start"));
        };
        if let Err(e) = spawn::go(p, &self.prep, self.network.as_mut()) {
            let pid = p.pid;
            self.pid1 = None;
            return Err(spawn::abandon(pid, e));
        }
        if self.started == 0 {
            self.started = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        }
        // A systemd guest is ready when it says so; any other once PID 1 runs.
        self.ready =
            !(self.spec.start_mode == StartMode::Boot && self.prep.init_kind == crate::guest::InitKind::Systemd);
        self.publish()
    }

    /// The guest said READY=1: the registry entry says so.
    pub fn mark_ready(&mut self) -> Result<()> {
        self.ready = true;
        self.publish()
    }

    /// Writes the registry entry (after every start: the leader changes with a reboot).
    fn publish(&self) -> Result<()> {
        let Some(c) = &self.claim else { return Ok(()) };
        if let Some(prog) = self.prep.security.seccomp_program() {
            // The filter PID 1 runs under, for `spawnctl shell` to join with (root only).
            let file = c.dir().join("seccomp");
            if !file.exists() {
                // Its flags first: a joining process that finds the program finds them too.
                let flags = self.prep.security.seccomp_flags();
                if flags != 0 {
                    write_private(&c.dir().join("seccomp-flags"), flags.to_string().as_bytes())?;
                }
                write_private(&file, prog)?;
            }
        }
        c.publish(&self.entry()?)
    }

    /// The registry entry of the running machine.
    fn entry(&self) -> Result<registry::Entry> {
        let leader = self.pid1_pid();
        let start_time = |pid: i32| crate::network::state::process_start_time(pid).unwrap_or(0);
        let launcher = rustix::process::getpid().as_raw_nonzero().get();
        let (interfaces, addresses) = self.network.as_ref().map(HostNetwork::summary).unwrap_or_default();
        Ok(registry::Entry {
            name: self.spec.machine.clone(),
            class: "container".into(),
            leader,
            leader_start_time: start_time(leader),
            launcher,
            launcher_start_time: start_time(launcher),
            directory: self.spec.directory.clone(),
            uuid: self.spec.uuid.map(|u| u.hex()),
            cgroup: self.cgroup.as_ref().map(|c| c.path().to_path_buf()),
            interfaces,
            addresses,
            start_mode: match self.spec.start_mode {
                StartMode::Boot => "boot",
                StartMode::Pid2 => "pid2",
                StartMode::Pid1 => "pid1",
            }
            .into(),
            init: crate::guest::row(self.prep.init_kind).name.into(),
            ready: self.ready,
            started: self.started,
        })
    }

    /// The spec this machine runs (completed by [`create`](Self::create)).
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// What was prepared for it (the init found with `-b` and its kind, ...).
    pub fn prepared(&self) -> &Prepared {
        &self.prep
    }

    /// The current boot's PID 1's pid (0 when there is none).
    pub fn pid1_pid(&self) -> i32 {
        self.pid1.as_ref().map_or(0, |p| p.pid)
    }

    /// The current boot's PID 1, until it is reaped.
    pub fn pid1(&mut self) -> Option<&mut Pid1> {
        self.pid1.as_mut()
    }

    /// The container's console (the master of its pty), once, for the front end's forwarder.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.pid1.as_mut().and_then(|p| p.pty.take())
    }

    /// Sends `signal` to PID 1.
    pub fn kill(&self, signal: i32) -> Result<()> {
        match &self.pid1 {
            Some(p) => sys::kill(p.pid, signal).map_err(|e| Error::sys("signal", "the container's PID 1", e)),
            None => Err(Error::msg("the machine has no PID 1")),
        }
    }

    /// A descriptor that is readable when the machine has something to do while it runs:
    /// today, port forwards that follow the container's own addresses (`network/follow.rs`).
    /// A front end that waits with [`try_wait`](Self::try_wait) polls it with its own
    /// descriptors and calls [`handle_events`](Self::handle_events) when it is readable; it
    /// changes with each boot (after [`start`](Self::start)). [`wait`](Self::wait) does this
    /// itself.
    pub fn events_fd(&self) -> Option<BorrowedFd<'_>> {
        self.network.as_ref().and_then(HostNetwork::watch_fd)
    }

    /// Does what [`events_fd`](Self::events_fd) being readable asked for. Never fails: the
    /// container runs on (problems are logged as warnings).
    pub fn handle_events(&mut self) {
        if let Some(n) = self.network.as_mut() {
            n.on_watch();
        }
    }

    /// PID 1's end, if it has ended (reaped; the network is detached from it).
    pub fn try_wait(&mut self) -> Result<Option<WaitStatus>> {
        self.reap(WaitOptions::NOHANG)
    }

    /// Waits until PID 1 ends (reaped; the network is detached from it), handling the
    /// machine's events meanwhile (PID 1's pidfd and [`events_fd`](Self::events_fd) polled
    /// together).
    pub fn wait(&mut self) -> Result<WaitStatus> {
        use rustix::event::{poll, PollFd, PollFlags};
        loop {
            let pid = self.pid1.as_ref().and_then(|p| Pid::from_raw(p.pid));
            let pidfd = match (self.events_fd(), pid) {
                (Some(_), Some(pid)) => rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok(),
                _ => None,
            };
            let (Some(pidfd), Some(events)) = (pidfd, self.events_fd()) else {
                if let Some(st) = self.reap(WaitOptions::empty())? {
                    return Ok(st);
                }
                continue;
            };
            let mut fds = [PollFd::new(&pidfd, PollFlags::IN), PollFd::new(&events, PollFlags::IN)];
            match poll(&mut fds, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::sys("wait for", "container", e)),
            }
            if !fds[1].revents().is_empty() {
                self.handle_events();
            }
            if let Some(st) = self.reap(WaitOptions::NOHANG)? {
                return Ok(st);
            }
        }
    }

    fn reap(&mut self, opts: WaitOptions) -> Result<Option<WaitStatus>> {
        let Some(p) = &self.pid1 else {
            return Err(Error::msg("the machine has no PID 1"));
        };
        match rustix::process::waitpid(Pid::from_raw(p.pid), opts) {
            Ok(Some((_, st))) => {
                self.pid1 = None;
                if let Some(n) = self.network.as_mut() {
                    n.detach();
                }
                Ok(Some(st))
            }
            Ok(None) => Ok(None),
            Err(rustix::io::Errno::INTR) => Ok(None),
            Err(e) => Err(Error::sys("wait for", "container", e)),
        }
    }

    /// After PID 1 asked for a reboot and was reaped: the cgroup is emptied for a new PID 1,
    /// which is set up in the same resources and waits for [`start`](Self::start).
    pub fn reboot(&mut self) -> Result<()> {
        if let Some(Err(e)) = self.cgroup.as_ref().map(Cgroup::clear_for_restart) {
            return Err(e.context("reboot"));
        }
        self.spawn()
    }

    /// Kills what is left of the container and releases the network, the cgroup, the
    /// overlays' work directories and the throw-away uppers, in reverse order of creation.
    /// Runs once; dropping the machine runs it too.
    pub fn teardown(&mut self) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        if let Some(p) = self.pid1.take() {
            let _ = spawn::abandon(p.pid, Error::msg("torn down"));
        }
        if let Some(n) = self.network.take() {
            n.release();
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cg.kill_and_remove() {
                log::warn!("remove cgroup: {e}");
            }
        }
        if let Some(v1) = self.cgroup_v1.take() {
            if let Err(e) = v1.remove() {
                log::warn!("remove cgroup: {e}");
            }
        }
        overlay::cleanup(&self.spec.custom_mounts, self.tree.as_fd());
        overlay::remove_temporary(&self.temporary);
        if let Some(mut s) = self.snapshot.take() {
            s.remove();
        }
        if let Some(dir) = self.state_dir.take() {
            // The record written at creation goes with the machine it describes.
            for f in ["start", "state", ".state.new"] {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
        if let Some(c) = self.claim.take() {
            c.release();
        }
        log::debug!("torn down");
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// The uppers of the spec's overlays, host paths or (`in_tree`) paths inside the tree.
fn overlay_uppers(spec: &Spec, in_tree: bool) -> Vec<PathBuf> {
    use crate::settings::{CustomMount, MountSource};
    spec.custom_mounts
        .iter()
        .filter_map(|m| match m {
            CustomMount::Overlay { upper: Some(MountSource::Host(p)), .. } if !in_tree => Some(p.clone()),
            CustomMount::Overlay { upper: Some(MountSource::InRoot(p)), .. } if in_tree => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// Adds a custom mount, keeping them sorted by destination.
fn insert_mount(spec: &mut Spec, m: crate::settings::CustomMount) {
    let at = spec.custom_mounts.partition_point(|c| c.destination() <= m.destination());
    spec.custom_mounts.insert(at, m);
}

/// Writes `bytes` to a new file readable by root only.
fn write_private(file: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| io_error("create", file, &e))?;
    f.write_all(bytes).map_err(|e| io_error("write", file, &e))
}

fn open_tree(dir: &Path) -> Result<OwnedFd> {
    rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open directory", dir, e))
}

/// Writes `st` with PID 1 `pid` (and its start time) to `DIR/state`, through a rename.
fn write_state_file(dir: &Path, st: &state::State, pid: i32) -> Result<()> {
    let start_time = crate::network::state::process_start_time(pid)
        .ok_or_else(|| Error::msg(format!("machine {}: PID 1 {pid} is gone", st.machine)))?;
    let st = state::State { pid, start_time, ..st.clone() };
    let file = dir.join("state");
    let tmp = dir.join(".state.new");
    std::fs::write(&tmp, st.format()).map_err(|e| io_error("write", &tmp, &e))?;
    std::fs::rename(&tmp, &file).map_err(|e| io_error("rename", &file, &e))
}
