//! A running container's cgroups as a later process finds them from their paths (the OCI
//! runtime's `pause`, `resume`, `state`, `ps`, `kill --all`, `delete`): freezing (the v1
//! freezer where a hierarchy binds it, as runc does on hybrid hosts, else cgroup v2's
//! `cgroup.freeze`), listing and signalling every process, removing the v1 directories.

use super::fs::{errno_is, Fs, RealFs};
use super::kill::collect_pids;
use super::v1::{remove_v1, V1Entry};
use crate::error::{Error, Result};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{kill_process, Pid, Signal};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long pause and resume wait for the kernel to report the new state (runc: 10 s).
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

/// The cgroups of a live container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Live {
    /// The v2 cgroup.
    pub v2: Option<PathBuf>,
    /// The v1 directories.
    pub v1: Vec<V1Entry>,
    /// v1 parents the creator made (removed with the container when empty).
    pub made: Vec<PathBuf>,
}

/// Which freezer a container has.
enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

impl Live {
    fn freezer(&self) -> Result<Freezer<'_>> {
        if let Some(e) = self.v1.iter().find(|e| e.name.split(',').any(|n| n == "freezer")) {
            return Ok(Freezer::V1(&e.path));
        }
        match &self.v2 {
            Some(p) => Ok(Freezer::V2(p)),
            None => Err(Error::msg("the container has no freezer (no v1 freezer hierarchy, no cgroup v2)")),
        }
    }

    /// Freezes every process, waiting until the kernel says they are (v1 `freezer.state`
    /// `FROZEN`, v2 `cgroup.events` `frozen 1`); on a timeout they are thawed again.
    pub fn pause(&self) -> Result<()> {
        self.set_frozen(true)
    }

    /// Thaws them, waiting likewise.
    pub fn resume(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let fs = RealFs;
        match self.freezer()? {
            Freezer::V1(dir) => {
                let file = dir.join("freezer.state");
                let want = if frozen { "FROZEN" } else { "THAWED" };
                fs.write(&file, want)?;
                let deadline = Instant::now() + FREEZE_TIMEOUT;
                let mut pause = Duration::from_micros(50);
                loop {
                    let state = fs.read(&file)?;
                    if state.trim() == want {
                        return Ok(());
                    }
                    if Instant::now() >= deadline {
                        if frozen {
                            let _ = fs.write(&file, "THAWED");
                        }
                        return Err(Error::msg(format!(
                            "{}: {} after {} s, not {want}",
                            file.display(),
                            state.trim(),
                            FREEZE_TIMEOUT.as_secs()
                        )));
                    }
                    // v1 has no notification; FREEZING can need a second request.
                    if frozen && state.trim() == "FREEZING" && pause >= Duration::from_millis(10) {
                        fs.write(&file, want)?;
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
            }
            Freezer::V2(dir) => {
                fs.write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
                let line = if frozen { "frozen 1" } else { "frozen 0" };
                match wait_events(&dir.join("cgroup.events"), line, FREEZE_TIMEOUT) {
                    Err(e) if frozen => {
                        let _ = fs.write(&dir.join("cgroup.freeze"), "0");
                        Err(e)
                    }
                    r => r,
                }
            }
        }
    }

    /// Whether the container is paused (frozen, or being frozen by a request: v1 `FROZEN`, v2
    /// `cgroup.freeze` 1).
    pub fn paused(&self) -> Result<bool> {
        let fs = RealFs;
        Ok(match self.freezer()? {
            Freezer::V1(dir) => fs.read(&dir.join("freezer.state"))?.trim() == "FROZEN",
            Freezer::V2(dir) => fs.read(&dir.join("cgroup.freeze"))?.trim() == "1",
        })
    }

    /// Every process of the container, its sub-cgroups included (the v2 cgroup's, else the
    /// first v1 directory's), sorted, without duplicates.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let dir = match (&self.v2, self.v1.first()) {
            (Some(d), _) => d,
            (None, Some(e)) => &e.path,
            (None, None) => return Ok(Vec::new()),
        };
        let mut pids = Vec::new();
        collect_pids(&RealFs, dir, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Sends `signal` to every process (`kill --all`): SIGKILL through v2's `cgroup.kill` where
    /// there is one; otherwise frozen while the pids are read and signalled, so that none forks
    /// meanwhile (thawed after, unless it was paused before).
    pub fn kill_all(&self, signal: Signal) -> Result<()> {
        let fs = RealFs;
        if let (Signal::KILL, Some(dir)) = (signal, &self.v2) {
            match fs.write(&dir.join("cgroup.kill"), "1") {
                Ok(()) => return Ok(()),
                Err(e) if errno_is(&e, &[Errno::NOENT]) => {}
                Err(e) => return Err(e),
            }
        }
        let was_paused = self.paused().unwrap_or(true);
        let froze = !was_paused && self.pause().is_ok();
        let result = self.pids().and_then(|pids| {
            for pid in pids {
                let Some(p) = Pid::from_raw(pid) else { continue };
                match kill_process(p, signal) {
                    Ok(()) | Err(Errno::SRCH) => {}
                    Err(e) => return Err(Error::sys("signal", pid, e)),
                }
            }
            Ok(())
        });
        if froze {
            self.resume()?;
        }
        result
    }

    /// Moves process `pid` into every cgroup of the container (`exec`: before the process
    /// enters the container's cgroup namespace, so that its root is the container's cgroup).
    pub fn attach(&self, pid: i32) -> Result<()> {
        let fs = RealFs;
        for dir in self.v2.iter().chain(self.v1.iter().map(|e| &e.path)) {
            fs.write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Removes the v1 directories (killing what is left there) and the empty parents the
    /// creator made. The v2 cgroup goes through [`Cgroup::kill_and_remove`](super::Cgroup).
    pub fn remove_v1(&self) -> Result<()> {
        let leaves: Vec<PathBuf> = self.v1.iter().map(|e| e.path.clone()).collect();
        remove_v1(&RealFs, &leaves, &self.made)
    }
}

/// Waits until `file` (a `cgroup.events`) has the line `line`, at most `timeout`.
fn wait_events(file: &Path, line: &str, timeout: Duration) -> Result<()> {
    let fd = rustix::fs::open(file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("read", file, e))?;
    let deadline = Instant::now() + timeout;
    loop {
        // Reading re-arms kernfs' notification; a change after this read wakes poll().
        let mut buf = [0u8; 256];
        let n = rustix::io::pread(&fd, &mut buf[..], 0).map_err(|e| Error::path("read", file, e))?;
        if String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == line) {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::msg(format!("{}: no \"{line}\" after {} s", file.display(), timeout.as_secs())));
        }
        let ts = Timespec { tv_sec: left.as_secs() as _, tv_nsec: left.subsec_nanos() as _ };
        let mut fds = [PollFd::new(&fd, PollFlags::PRI)];
        match poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(_) => std::thread::sleep(left.min(Duration::from_millis(1))),
        }
    }
}
