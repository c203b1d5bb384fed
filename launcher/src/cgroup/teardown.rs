//! Teardown: kill (`kill.rs`), wait for `populated 0` without spinning, remove the cgroup and
//! the empty parents spawnbox made; emptying for a restart; and `cleanup()` for a crashed
//! run's leftovers.

use super::fs::{errno_is, Fs, RealFs};
use super::group::{Cgroup, Supervisor};
use super::kill::{kill_all, kill_fallback, remove_tree, EMPTY_TIMEOUT};
use super::placement::{layout, Placement};
use super::Hierarchy;
use crate::error::{Error, Result};
use rustix::io::Errno;
use std::path::Path;
use std::time::Duration;

impl Cgroup {
    pub(crate) fn teardown(&mut self) -> Result<()> {
        log::debug!("cgroup: remove {}", self.path.display());
        let mut first: Option<Error> = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        // Usually PID 1's end took every process along (its PID namespace's): an empty cgroup
        // without children goes with one rmdir, which the kernel refuses (EBUSY) for anything
        // else; then kill, wait and remove the subtree.
        if self.fs.rmdir(&self.path).is_err() {
            keep(kill_all(&*self.fs, &self.path));
            keep(self.fs.wait_empty(&self.path, EMPTY_TIMEOUT));
            keep(remove_tree(&*self.fs, &self.path));
        }
        // Parents first: a slice between `own` and the leaf keeps `own`'s controllers busy.
        keep(self.prune_parents());
        if let Some(sup) = self.supervisor.take() {
            keep(leave_supervisor(&*self.fs, &sup));
        }
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

/// The launcher's way back: give back the controllers this run enabled, move home, remove
/// `supervisor/`. A shared supervisor (not `--keep-unit`) whose controllers another machine
/// below `own` still uses stays where it is: it is empty once the launcher exits.
fn leave_supervisor(fs: &dyn Fs, sup: &Supervisor) -> Result<()> {
    if !sup.added.is_empty() {
        let value: Vec<String> = sup.added.iter().map(|c| format!("-{c}")).collect();
        match fs.write(&sup.own.join("cgroup.subtree_control"), &value.join(" ")) {
            Ok(()) => {}
            Err(e) if sup.shared && errno_is(&e, &[Errno::BUSY]) => {
                log::debug!("cgroup: staying in {}: {e}", sup.path.display());
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    match fs.write(&sup.own.join("cgroup.procs"), "0") {
        Err(e) if sup.shared && errno_is(&e, &[Errno::BUSY]) => return Ok(()),
        r => r?,
    }
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
