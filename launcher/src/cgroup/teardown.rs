//! Teardown: kill (`cgroup.kill`, else freeze + SIGKILL each pid + thaw), wait for
//! `populated 0` without spinning, remove the cgroup and the empty parents spawnbox made;
//! and `cleanup()` for a crashed run's leftovers.

use super::fs::{Fs, RealFs};
use super::group::{errno_is, Cgroup, Supervisor};
use super::placement::{layout, Placement};
use super::Hierarchy;
use crate::error::{Error, Result};
use rustix::io::Errno;
use std::path::Path;
use std::time::Duration;

/// How long teardown waits for killed processes to leave (processes stuck in uninterruptible
/// sleep, e.g. on a dead NFS server, can take this long).
pub const EMPTY_TIMEOUT: Duration = Duration::from_secs(10);

/// Kill rounds of the fallback without `cgroup.kill`, against processes that fork meanwhile.
const KILL_ROUNDS: usize = 5;

impl Cgroup {
    pub(crate) fn teardown(&mut self) -> Result<()> {
        log::debug!("cgroup: remove {}", self.path.display());
        let mut first: Option<Error> = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        keep(kill_all(&*self.fs, &self.path));
        keep(self.fs.wait_empty(&self.path, EMPTY_TIMEOUT));
        keep(remove_tree(&*self.fs, &self.path));
        if let Some(sup) = self.supervisor.take() {
            keep(leave_supervisor(&*self.fs, &sup));
        }
        keep(self.prune_parents());
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Empties the cgroup for the next start after a reboot: what is left of the guest is
    /// killed, the cgroups it made below its own are removed and the controllers it (or
    /// `cgroup::inner`) enabled for them are disabled, so that a new PID 1 may be placed here
    /// again (cgroup v2 puts no process in a cgroup that enables controllers for children).
    pub fn clear_for_restart(&self) -> Result<()> {
        // Not cgroup.kill: it bumps the cgroup's kill sequence, and kernels that compare the
        // forking parent's sequence with the target's kill every later CLONE_INTO_CGROUP child
        // at birth (seen on 6.18). PID 1's death took its namespace along; only strays remain.
        kill_fallback(&*self.fs, &self.path)?;
        self.fs.wait_empty(&self.path, EMPTY_TIMEOUT)?;
        for sub in self.fs.subdirs(&self.path)? {
            remove_tree(&*self.fs, &sub)?;
        }
        let control = self.path.join("cgroup.subtree_control");
        let enabled = self.fs.read(&control)?;
        let off: Vec<String> = enabled.split_whitespace().map(|c| format!("-{c}")).collect();
        if !off.is_empty() {
            self.fs.write(&control, &off.join(" "))?;
        }
        Ok(())
    }

    /// Removes empty parents up to (not including) the boundary, as long as this process or
    /// another spawnbox created them; stops at the first one still in use.
    fn prune_parents(&self) -> Result<()> {
        let mut dir = self.path.parent();
        while let Some(d) = dir {
            if d == self.boundary || !d.starts_with(&self.boundary) {
                break;
            }
            if !self.created.iter().any(|c| c == d) && !self.fs.is_marked(d) {
                break;
            }
            match self.fs.rmdir(d) {
                Ok(()) => {}
                // Another machine lives there (or someone else removed it): leave it be.
                Err(e) if errno_is(&e, &[Errno::BUSY, Errno::NOTEMPTY, Errno::NOENT]) => break,
                Err(e) => return Err(e),
            }
            dir = d.parent();
        }
        Ok(())
    }
}

/// `cgroup.kill` (Linux 5.14) kills the whole subtree at once; older kernels take the freezer
/// route.
pub(crate) fn kill_all(fs: &dyn Fs, dir: &Path) -> Result<()> {
    match fs.write(&dir.join("cgroup.kill"), "1") {
        Ok(()) => Ok(()),
        Err(e) if errno_is(&e, &[Errno::NOENT, Errno::OPNOTSUPP]) => kill_fallback(fs, dir),
        Err(e) => Err(e),
    }
}

/// Freezes the subtree (so nothing forks while we look), SIGKILLs every pid in it, thaws.
/// Fatal signals reach frozen tasks in cgroup v2; the thaw is for tidiness.
pub(crate) fn kill_fallback(fs: &dyn Fs, dir: &Path) -> Result<()> {
    let freeze = dir.join("cgroup.freeze");
    let frozen = fs.write(&freeze, "1").is_ok();
    let mut result = Ok(());
    for _ in 0..KILL_ROUNDS {
        let mut pids = Vec::new();
        if let Err(e) = collect_pids(fs, dir, &mut pids) {
            result = Err(e);
            break;
        }
        if pids.is_empty() {
            break;
        }
        if let Some(e) = pids.into_iter().find_map(|pid| fs.kill(pid).err()) {
            result = Err(e);
            break;
        }
        if frozen || fs.wait_empty(dir, Duration::from_millis(50)).is_ok() {
            break;
        }
    }
    if frozen {
        let _ = fs.write(&freeze, "0");
    }
    result
}

fn collect_pids(fs: &dyn Fs, dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let text = fs.read(&dir.join("cgroup.procs"))?;
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for sub in fs.subdirs(dir)? {
        collect_pids(fs, &sub, out)?;
    }
    Ok(())
}

/// rmdir, and when child cgroups (a delegated init's) are in the way, them first.
pub(crate) fn remove_tree(fs: &dyn Fs, dir: &Path) -> Result<()> {
    match fs.rmdir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if errno_is(&e, &[Errno::NOENT]) => return Ok(()),
        Err(e) if !errno_is(&e, &[Errno::BUSY, Errno::NOTEMPTY]) => return Err(e),
        Err(_) => {}
    }
    for sub in fs.subdirs(dir)? {
        remove_tree(fs, &sub)?;
    }
    match fs.rmdir(dir) {
        Err(e) if errno_is(&e, &[Errno::BUSY]) => {
            // Exiting tasks can hold the cgroup a moment longer.
            fs.wait_empty(dir, Duration::from_millis(100))?;
            fs.rmdir(dir)
        }
        r => r,
    }
}

/// `--keep-unit` exit: give back the controllers this run enabled, move the launcher home,
/// remove `supervisor/`.
fn leave_supervisor(fs: &dyn Fs, sup: &Supervisor) -> Result<()> {
    if !sup.added.is_empty() {
        let value: Vec<String> = sup.added.iter().map(|c| format!("-{c}")).collect();
        fs.write(&sup.own.join("cgroup.subtree_control"), &value.join(" "))?;
    }
    fs.write(&sup.own.join("cgroup.procs"), "0")?;
    match fs.rmdir(&sup.path) {
        // Another process of the launcher's (or a second --keep-unit run) is still there.
        Err(e) if errno_is(&e, &[Errno::BUSY, Errno::NOENT]) => Ok(()),
        r => r,
    }
}

/// `spawnbox --cleanup -M NAME`: kills and removes the machine's leftover cgroup below `slice`
/// (default `machine.slice`) and prunes the empty parents spawnbox created. `Ok(false)` when
/// there was nothing to remove.
pub fn cleanup(h: &Hierarchy, slice: Option<&str>, machine: &str) -> Result<bool> {
    cleanup_with(h, slice, machine, Box::new(RealFs))
}

pub(crate) fn cleanup_with(h: &Hierarchy, slice: Option<&str>, machine: &str, fs: Box<dyn Fs>) -> Result<bool> {
    let placement = Placement::Machine { slice: slice.map(str::to_string) };
    let l = layout(h, &placement, machine).map_err(Error::msg)?;
    let path = h.root.join(&l.leaf);
    let cg = match Cgroup::open_with(h, &path, fs) {
        Ok(cg) => cg,
        Err(e) if errno_is(&e, &[Errno::NOENT]) => return Ok(false),
        Err(e) => return Err(e),
    };
    cg.kill_and_remove()?;
    Ok(true)
}
