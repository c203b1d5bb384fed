//! The OCI runtime's new time namespace (`{"type":"time"}`): made by the container's PID 1,
//! given config.json's clock offsets before any process is in it, and entered by PID 1 itself.

use crate::error::{Error, Result};
use crate::{mount_plan, mounts, sys};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::thread::LinkNameSpaceType;
use std::path::Path;

/// The plain child (host user namespace): [`unshare`], the offsets written to its own
/// `timens_offsets`, [`enter`]. Through a detached procfs of its own PID namespace, which
/// shows it whatever PID namespace it was born in.
pub fn enter_new(offsets: &str) -> Result<()> {
    let proc = own_procfs()?;
    unshare()?;
    write_offsets(&proc, Path::new("self/timens_offsets"), offsets)?;
    enter_in(&proc)
}

/// unshare(CLONE_NEWTIME): changes only the namespace the caller's children are born in, so
/// its offsets can still be written. PID 1 of a user namespace does it right after its clone,
/// before it becomes root there: the namespace is its user namespace's. It cannot write the
/// offsets itself, though: its credential changes (the outer child's file-system ids, then
/// its own uid) made it non-dumpable, which makes its `/proc/self/timens_offsets` host
/// root's, out of its reach (open fails with EACCES); the launcher writes them.
pub fn unshare() -> Result<()> {
    sys::unshare(libc::CLONE_NEWTIME).map_err(|e| Error::sys("unshare", "time namespace", e))
}

/// Writes `offsets` (`timens_offsets` text, one `CLOCK SECS NANOSECS` line each; nothing if
/// empty) to `file`, opened at `dir`, in one write (the kernel takes one write's lines
/// together, only while no process is in the namespace).
pub fn write_offsets(dir: impl AsFd, file: &Path, offsets: &str) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let shown = match file.strip_prefix("self") {
        Ok(rest) => Path::new("/proc/self").join(rest),
        Err(_) => file.to_path_buf(),
    };
    let err = |op: &str, e| Error::path(op, &shown, e).context("linux.timeOffsets");
    let fd =
        rustix::fs::openat(dir, file, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| err("open", e))?;
    let written = rustix::io::write(&fd, offsets.as_bytes()).map_err(|e| err("write", e))?;
    if written != offsets.len() {
        return Err(Error::msg(format!(
            "linux.timeOffsets: write {}: short write ({written} of {} bytes)",
            shown.display(),
            offsets.len()
        )));
    }
    Ok(())
}

/// setns(2) on the caller's own `time_for_children` (after [`unshare`]): moves the caller
/// itself, which must be single-threaded, as every container child is.
pub fn enter() -> Result<()> {
    enter_in(&own_procfs()?)
}

fn enter_in(proc: &OwnedFd) -> Result<()> {
    let file = "self/ns/time_for_children";
    let ns = rustix::fs::openat(proc, file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::sys("open", "/proc/self/ns/time_for_children", e))?;
    rustix::thread::move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Time))
        .map_err(|e| Error::sys("enter", "the new time namespace", e))
}

/// A procfs of the caller's PID namespace, detached: PID 1 of a user namespace has no other
/// (its `/proc` is the pinned empty one until it mounts its own, the host's out of reach).
fn own_procfs() -> Result<OwnedFd> {
    let (fstype, options, attrs) =
        mount_plan::api_fs("/proc").ok_or_else(|| Error::msg("no procfs in the mount plan"))?;
    mounts::new_fs(fstype, options, attrs).map_err(|e| e.context("time namespace"))
}
