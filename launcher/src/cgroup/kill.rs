//! Killing what is in a cgroup subtree (`cgroup.kill`, else freeze + SIGKILL each pid + thaw)
//! and removing the subtree, children first: what teardown, a restart and the reclaim of a
//! dying machine share.

use super::fs::{errno_is, Fs};
use crate::error::Result;
use rustix::io::Errno;
use std::path::Path;
use std::time::Duration;

/// How long teardown waits for killed processes to leave (processes stuck in uninterruptible
/// sleep, e.g. on a dead NFS server, can take this long).
pub const EMPTY_TIMEOUT: Duration = Duration::from_secs(10);

/// Kill rounds of the fallback without `cgroup.kill`, against processes that fork meanwhile.
const KILL_ROUNDS: usize = 5;

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

pub(crate) fn collect_pids(fs: &dyn Fs, dir: &Path, out: &mut Vec<i32>) -> Result<()> {
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
