//! The container lifecycle every front end drives — systemd-nspawn's command line today
//! (`launch.rs`), `spawnctl` and the OCI runtime next: [`Machine::create`] checks the tree,
//! prepares the host side (network, cgroup, device policy) and sets the container up to a PID 1
//! that waits for "go"; [`Machine::start`] releases it; the front end watches it
//! ([`Machine::pid1`], [`Machine::try_wait`]) or waits ([`Machine::wait`]); [`Machine::kill`]
//! signals it; [`Machine::reboot`] sets up a new PID 1 in the same resources;
//! [`Machine::teardown`] (also on drop) releases everything in reverse order.
//!
//! Layout: `prepare.rs` (checks and host data, before anything changes), `cgroup.rs` (placement,
//! `--cleanup`), `spawn.rs` (one boot: clone, handshake, go).

mod cgroup;
mod prepare;
mod spawn;

pub use cgroup::cleanup;
pub use prepare::INITS;
pub use spawn::Pid1;

use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::mount_plan::CgroupMount;
use crate::network::HostNetwork;
use crate::prepared::Prepared;
use crate::settings::{Id128, StartMode};
use crate::spec::Spec;
use crate::{overlay, sys};
use rustix::fd::{AsFd, OwnedFd};
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
    network: Option<HostNetwork>,
    /// `--overlay=LOWER::DST` uppers made for this run.
    temporary: Vec<PathBuf>,
    pid1: Option<Pid1>,
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

    /// [`create`](Self::create) without the PID 1: the checks and the host side only, for a
    /// front end that has more to do before the clone (the nspawn banner); [`spawn`](Self::spawn)
    /// follows.
    pub fn new(spec: &Spec) -> Result<Machine> {
        if spec.directory == Path::new("/") {
            return Err(Error::msg("spawning a container on the root directory is not supported"));
        }
        let mut spec = spec.clone();
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
        let (prep, tree) = match prepare::prepare(&spec, bind_user) {
            Ok(p) => p,
            Err(e) => {
                overlay::remove_temporary(&temporary);
                return Err(e);
            }
        };
        // From here on, dropping the machine releases what it holds.
        let mut m = Machine { spec, prep, tree, cgroup: None, network: None, temporary, pid1: None, torn_down: false };
        m.take_resources()?;
        Ok(m)
    }

    /// Network, cgroup, subreaper and device policy, in that order.
    fn take_resources(&mut self) -> Result<()> {
        if let Some(ns) = &self.prep.userns {
            // The throw-away uppers belong to the container's root, which may write there.
            overlay::give_temporary(&self.temporary, ns.shift)?;
        }
        self.network = HostNetwork::prepare(&self.spec)?;
        let shift = self.prep.userns.as_ref().map(|u| u.shift);
        self.cgroup = cgroup::create_cgroup(&self.spec, shift)?;
        if self.cgroup.is_some() {
            self.prep.cgroup_mount = match self.spec.start_mode {
                StartMode::Boot if crate::cgroup::inner::guest_mounts_cgroup(self.tree.as_fd()) => {
                    CgroupMount::LeftToGuest
                }
                StartMode::Boot => CgroupMount::Writable,
                _ => CgroupMount::ReadOnly,
            };
        }
        // The whole mount plan, once, before the first clone.
        self.prep.steps = crate::mount_plan::plan(&self.spec, self.prep.cgroup_mount);
        if log::log_enabled!(log::Level::Debug) {
            for (i, step) in self.prep.steps.iter().enumerate() {
                log::debug!("plan {i:2}: {step}");
            }
        }
        if self.prep.userns.is_some() {
            // PID 1 is cloned by the outer child, which exits: the launcher adopts it.
            rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
                .map_err(|e| Error::sys("become", "child subreaper", e))?;
        }
        self.prep.security.attach_device_policy(self.cgroup.as_ref().map(Cgroup::dir_fd))
    }

    /// Sets up a PID 1 for the next boot, waiting for "go".
    pub fn spawn(&mut self) -> Result<()> {
        let p = spawn::spawn(&self.spec, &self.prep, self.tree.as_fd(), self.cgroup.as_ref())?;
        self.pid1 = Some(p);
        Ok(())
    }

    /// Releases PID 1: the payload (or init) runs.
    pub fn start(&mut self) -> Result<()> {
        let Some(p) = self.pid1.as_mut() else {
            return Err(Error::msg("the machine has no PID 1 to start"));
        };
        if let Err(e) = spawn::go(p, &self.prep, self.network.as_mut()) {
            let pid = p.pid;
            self.pid1 = None;
            return Err(spawn::abandon(pid, e));
        }
        Ok(())
    }

    /// The spec this machine runs (completed by [`create`](Self::create)).
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// What was prepared for it (the init found with `-b` and its kind, ...).
    pub fn prepared(&self) -> &Prepared {
        &self.prep
    }

    /// The current boot's PID 1, until it is reaped.
    pub fn pid1(&mut self) -> Option<&mut Pid1> {
        self.pid1.as_mut()
    }

    /// The container's console (the master of its pty), once, for the front end's forwarder.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.pid1.as_mut().and_then(|p| p.pty.take())
    }

    /// The container's cgroup directory, if it has one.
    pub fn cgroup_path(&self) -> Option<&Path> {
        self.cgroup.as_ref().map(Cgroup::path)
    }

    /// Sends `signal` to PID 1.
    pub fn kill(&self, signal: i32) -> Result<()> {
        match &self.pid1 {
            Some(p) => sys::kill(p.pid, signal).map_err(|e| Error::sys("signal", "the container's PID 1", e)),
            None => Err(Error::msg("the machine has no PID 1")),
        }
    }

    /// PID 1's end, if it has ended (reaped; the network is detached from it).
    pub fn try_wait(&mut self) -> Result<Option<WaitStatus>> {
        self.reap(WaitOptions::NOHANG)
    }

    /// Waits until PID 1 ends (reaped; the network is detached from it).
    pub fn wait(&mut self) -> Result<WaitStatus> {
        loop {
            if let Some(st) = self.reap(WaitOptions::empty())? {
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
        overlay::cleanup(&self.spec.custom_mounts, self.tree.as_fd());
        overlay::remove_temporary(&self.temporary);
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Adds a custom mount, keeping them sorted by destination.
fn insert_mount(spec: &mut Spec, m: crate::settings::CustomMount) {
    let at = spec.custom_mounts.partition_point(|c| c.destination() <= m.destination());
    spec.custom_mounts.insert(at, m);
}

fn open_tree(dir: &Path) -> Result<OwnedFd> {
    rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open directory", dir, e))
}
