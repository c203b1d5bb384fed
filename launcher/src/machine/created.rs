//! A machine another process created and left (`Machine::leave`), as a later process sees it:
//! start it through its FIFO, signal its PID 1 (guarded against pid reuse by a pidfd and the
//! start time), wait for its end, tear it down; freeze and thaw it, list and signal all its
//! processes through its cgroups. What runc's `start`, `kill [--all]`, `delete`, `pause`,
//! `resume`, `ps` and `state`'s "paused" do.

use super::state::{self, State};
use crate::cgroup::{Cgroup, Hierarchy, Live};
use crate::error::{Error, Result};
use crate::network::state::process_start_time;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};
use std::path::PathBuf;
use std::time::Duration;

/// How long `start` waits for PID 1's byte on the FIFO.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A created machine, loaded from its state.
#[derive(Debug)]
pub struct Created {
    state: State,
    dir: PathBuf,
}

impl Created {
    /// The machine `name` as its creator left it.
    pub fn load(name: &str) -> Result<Created> {
        let dir = state::dir(name)?;
        let file = dir.join("state");
        let text =
            std::fs::read_to_string(&file).map_err(|e| Error::path("read", &file, crate::error::io_errno(&e)))?;
        let state = State::parse(&file, &text)?;
        if state.machine != name {
            return Err(Error::msg(format!("{}: records machine {}, not {name}", file.display(), state.machine)));
        }
        Ok(Created { state, dir })
    }

    /// PID 1 on the host.
    pub fn pid(&self) -> i32 {
        self.state.pid
    }

    /// Whether its creator left it (false while the creator still sets it up, or if it died
    /// doing so).
    pub fn left(&self) -> bool {
        self.state.left
    }

    /// The process that created it (0: not recorded).
    pub fn creator(&self) -> i32 {
        self.state.creator
    }

    /// A pidfd of PID 1, if it is still the process the state names.
    fn pidfd(&self) -> Result<Option<OwnedFd>> {
        let Some(pid) = Pid::from_raw(self.state.pid) else { return Ok(None) };
        let fd = match pidfd_open(pid, PidfdFlags::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::SRCH) => return Ok(None),
            Err(e) => return Err(Error::sys("open a pidfd of", self.state.pid, e)),
        };
        // Opened first, checked second: the pidfd cannot come to name another process.
        Ok((process_start_time(self.state.pid) == Some(self.state.start_time)).then_some(fd))
    }

    /// Whether PID 1 still runs.
    pub fn is_running(&self) -> Result<bool> {
        Ok(self.pidfd()?.is_some())
    }

    /// Releases PID 1: opens the start FIFO for reading (which lets PID 1's open for writing
    /// return) and waits for its byte; the payload runs then.
    pub fn start(&self) -> Result<()> {
        let path = self.dir.join("start");
        let fifo = rustix::fs::open(&path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open", &path, e))?;
        let mut fds = [PollFd::new(&fifo, PollFlags::IN)];
        let ts = Timespec { tv_sec: START_TIMEOUT.as_secs() as _, tv_nsec: 0 };
        match poll(&mut fds, Some(&ts)) {
            Ok(0) => {
                return Err(Error::msg(format!(
                    "start {}: PID 1 did not answer on {}",
                    self.state.machine,
                    path.display()
                )))
            }
            Ok(_) => {}
            Err(e) => return Err(Error::path("wait on", &path, e)),
        }
        let mut b = [0u8; 1];
        match rustix::io::read(&fifo, &mut b[..]) {
            Ok(1) => Ok(()),
            Ok(_) => Err(Error::msg(format!("start {}: PID 1 ended before it started", self.state.machine))),
            Err(e) => Err(Error::path("read", &path, e)),
        }
    }

    /// Sends `signal` to PID 1 (none to a process that merely reuses its pid).
    pub fn kill(&self, signal: Signal) -> Result<()> {
        match self.pidfd()? {
            Some(fd) => pidfd_send_signal(&fd, signal).map_err(|e| Error::sys("signal", self.state.pid, e)),
            None => Err(Error::msg(format!("machine {}: PID 1 {} is gone", self.state.machine, self.state.pid))),
        }
    }

    /// Waits up to `timeout` for PID 1 to end (it is not this process's child: no status).
    pub fn wait_exit(&self, timeout: Duration) -> Result<bool> {
        let Some(fd) = self.pidfd()? else { return Ok(true) };
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let ts = Timespec { tv_sec: timeout.as_secs() as _, tv_nsec: timeout.subsec_nanos() as _ };
        match poll(&mut fds, Some(&ts)) {
            Ok(n) => Ok(n > 0),
            Err(e) => Err(Error::sys("wait for", self.state.pid, e)),
        }
    }

    /// The machine's cgroups as recorded (v2, and v1 on hybrid and legacy hosts).
    fn cgroups(&self) -> Option<Live> {
        let s = &self.state;
        (s.cgroup.is_some() || !s.cgroup_v1.is_empty()).then(|| Live {
            v2: s.cgroup.clone(),
            v1: s.cgroup_v1.clone(),
            made: s.cgroup_v1_made.clone(),
        })
    }

    fn no_cgroup(&self, what: &str) -> Error {
        Error::msg(format!("{what} {}: the machine has no cgroup", self.state.machine))
    }

    /// Freezes every process of the machine (v1 freezer where the host has one, else cgroup
    /// v2's `cgroup.freeze`) and returns once the kernel reports them frozen.
    pub fn pause(&self) -> Result<()> {
        let live = self.cgroups().ok_or_else(|| self.no_cgroup("pause"))?;
        live.pause().map_err(|e| e.context(format!("pause {}", self.state.machine)))
    }

    /// Thaws them, once the kernel reports them thawed.
    pub fn resume(&self) -> Result<()> {
        let live = self.cgroups().ok_or_else(|| self.no_cgroup("resume"))?;
        live.resume().map_err(|e| e.context(format!("resume {}", self.state.machine)))
    }

    /// Whether the machine is paused (for `state`'s "paused"); never, without a cgroup.
    pub fn paused(&self) -> Result<bool> {
        match self.cgroups() {
            Some(live) => live.paused(),
            None => Ok(false),
        }
    }

    /// Every process of the machine (host pids, sorted), its sub-cgroups included: for `ps`
    /// and `kill --all`. Without a cgroup, PID 1 alone while it runs.
    pub fn pids(&self) -> Result<Vec<i32>> {
        match self.cgroups() {
            Some(live) => live.pids(),
            None => Ok(if self.is_running()? { vec![self.state.pid] } else { Vec::new() }),
        }
    }

    /// Moves process `pid` into the machine's cgroups, v2 and v1 (`exec`, before it enters the
    /// machine's cgroup namespace). Nothing to do without a cgroup.
    pub fn attach(&self, pid: i32) -> Result<()> {
        match self.cgroups() {
            Some(live) => live.attach(pid).map_err(|e| e.context(format!("join {}", self.state.machine))),
            None => Ok(()),
        }
    }

    /// Sends `signal` to every process of the machine (`kill --all`); without a cgroup, to
    /// PID 1.
    pub fn kill_all(&self, signal: Signal) -> Result<()> {
        match self.cgroups() {
            Some(live) => live.kill_all(signal),
            None => self.kill(signal),
        }
    }

    /// Kills what is left, removes the cgroup, the network state, the throw-away uppers and
    /// the state itself.
    pub fn teardown(self) -> Result<()> {
        if let Some(fd) = self.pidfd()? {
            let _ = pidfd_send_signal(&fd, Signal::KILL);
        }
        if let Some(path) = &self.state.cgroup {
            if let Some(h) = Hierarchy::detect()? {
                match Cgroup::open(&h, path) {
                    Ok(cg) => cg.kill_and_remove()?,
                    Err(e) if e.errno() == Some(libc::ENOENT) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if let Some(live) = self.cgroups() {
            live.remove_v1()?;
        }
        if self.state.network {
            crate::network::cleanup(&self.state.machine)?;
        }
        for u in &self.state.uppers {
            crate::overlay::remove_workdir(&crate::settings::MountSource::Host(u.clone()), rustix::fs::CWD);
        }
        if let Some(dir) = self.state.directory.as_ref().filter(|_| !self.state.uppers_in_tree.is_empty()) {
            let tree = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| Error::path("open directory", dir, e))?;
            for u in &self.state.uppers_in_tree {
                crate::overlay::remove_workdir(&crate::settings::MountSource::InRoot(u.clone()), tree.as_fd());
            }
        }
        crate::overlay::remove_temporary(&self.state.temporary);
        for f in ["start", "state", "machine", "seccomp", "seccomp-flags", "lock"] {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
        std::fs::remove_dir(&self.dir).map_err(|e| Error::path("remove", &self.dir, crate::error::io_errno(&e)))
    }
}
