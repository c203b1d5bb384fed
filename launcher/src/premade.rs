//! `/dev` and `/run` as the launcher makes them for a child, detached: fresh instances of the
//! API file systems nspawn mounts there, `/dev` with its nodes and links, `/run` with
//! `/run/host` and the notify socket bound in it. The user-namespaced children get them made
//! before the clone (`userns/outer.rs`, which re-owns them); the plain child gets them over
//! the channel while it mounts ([`Msg::Premade`](crate::channel::Msg)), made by the launcher
//! in the meantime, off the child's path.

use crate::error::{Error, Result};
use crate::prepared::Prepared;
use crate::{dev, mount_plan, mounts, run_host};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::Mode;

/// The detached file systems and the notify socket.
pub struct RunDev {
    pub dev: OwnedFd,
    pub run: OwnedFd,
    /// Bound at `/run/host/notify` in `run`; the launcher keeps it.
    pub notify: OwnedFd,
}

/// Makes `/dev` and `/run` (modes exactly as asked: umask 0 meanwhile, as in the child);
/// `fill_run` adds what `/run` needs beyond `/run/host` before the socket is bound there.
pub fn make(prep: &Prepared, notify_owner: Option<u32>, fill_run: &dyn Fn(&OwnedFd) -> Result<()>) -> Result<RunDev> {
    let umask = rustix::process::umask(Mode::empty());
    let made = (|| {
        let dev = fresh("/dev")?;
        dev::populate(dev.as_fd(), &prep.dev_nodes)?;
        let run = fresh("/run")?;
        run_host::populate(run.as_fd(), prep.os_release.as_deref(), &prep.uuid.uuid_string())?;
        fill_run(&run)?;
        let notify = crate::notify::bind(run.as_fd(), notify_owner)?;
        Ok(RunDev { dev, run, notify })
    })();
    rustix::process::umask(umask);
    made
}

/// A detached instance of the API file system nspawn mounts on `target`.
pub fn fresh(target: &str) -> Result<OwnedFd> {
    let (fstype, options, attrs) =
        mount_plan::api_fs(target).ok_or_else(|| Error::msg(format!("no API file system for {target}")))?;
    mounts::new_fs(fstype, options, attrs).map_err(|e| e.context(format!("mount {fstype} for {target}")))
}
