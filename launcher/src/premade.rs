//! `/dev` and `/run` as the launcher makes them for a child, detached: fresh instances of the
//! API file systems nspawn mounts there, `/dev` with its nodes and links, `/run` with
//! `/run/host` and the notify socket bound in it. The user-namespaced children get them made
//! before the clone (`userns/outer.rs`, which re-owns them); the plain child gets them over
//! the channel while it mounts ([`Msg::Premade`](crate::channel::Msg)), made by the launcher
//! in the meantime, off the child's path: `/run` first (the child's third step, whose
//! `/run/host` its masks need), then, in a second message ([`Msg::PremadeLate`]), what the
//! child needs only after its `/proc` ([`LATE`]: sysfs of the host's network namespace,
//! `/dev` with its nodes, devpts). The tmpfs of `/dev/shm` and `/tmp` stay the child's: it
//! makes them while the launcher loads the device program, which it waits for next.
//!
//! [`Msg::PremadeLate`]: crate::channel::Msg

use crate::error::{Error, Result};
use crate::mount_plan::Step;
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
    let (run, notify) = make_run(prep, notify_owner, fill_run)?;
    let dev = with_umask_0(|| populated_dev(fresh("/dev")?, prep))?;
    Ok(RunDev { dev, run, notify })
}

/// `/run` with `/run/host` (what `fill_run` adds, then the notify socket bound there); returns
/// it and the socket.
pub fn make_run(
    prep: &Prepared,
    notify_owner: Option<u32>,
    fill_run: &dyn Fn(&OwnedFd) -> Result<()>,
) -> Result<(OwnedFd, OwnedFd)> {
    with_umask_0(|| {
        let run = fresh("/run")?;
        run_host::populate(run.as_fd(), prep.os_release.as_deref(), &prep.uuid.uuid_string())?;
        fill_run(&run)?;
        let notify = crate::notify::bind(run.as_fd(), notify_owner)?;
        Ok((run, notify))
    })
}

/// `dev` with the container's device nodes and links.
fn populated_dev(dev: OwnedFd, prep: &Prepared) -> Result<OwnedFd> {
    dev::populate(dev.as_fd(), &prep.dev_nodes)?;
    Ok(dev)
}

/// `f` with umask 0 (modes exactly as asked, as in the child), the umask restored after.
fn with_umask_0<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    let umask = rustix::process::umask(Mode::empty());
    let r = f();
    rustix::process::umask(umask);
    r
}

/// A detached instance of the API file system nspawn mounts on `target`.
pub fn fresh(target: &str) -> Result<OwnedFd> {
    let (fstype, options, attrs) =
        mount_plan::api_fs(target).ok_or_else(|| Error::msg(format!("no API file system for {target}")))?;
    mounts::new_fs(fstype, options, attrs).map_err(|e| e.context(format!("mount {fstype} for {target}")))
}

/// The plan's file systems the launcher may make for a plain child (no user namespace) after
/// `/run` and `/dev`: none depends on a namespace of the child's own (procfs: its PID
/// namespace; cgroup2: its cgroup namespace; mqueue: its IPC namespace), sysfs only while the
/// child shares the launcher's network namespace. At most [`MAX_FDS`](crate::channel::MAX_FDS).
pub const LATE: [&str; 3] = ["/sys", "/dev", "/dev/pts"];

/// The targets of [`LATE`] that `steps` mounts as fresh file systems, in plan order; `/sys`
/// only when the container shares the launcher's network namespace (`!own_network`).
pub fn late_targets(steps: &[Step], own_network: bool) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in steps {
        if let Step::Fs { target, .. } = s {
            if LATE.contains(target) && !(own_network && *target == "/sys") && !out.contains(target) {
                out.push(target);
            }
        }
    }
    out
}

/// Makes `prep.premade_late`'s file systems as the plain child's mount steps ask for them (the
/// launcher, after the clone); `/dev` with its nodes.
pub fn make_late(prep: &Prepared) -> Result<Vec<OwnedFd>> {
    let steps = prep.setup.plain_mounts();
    with_umask_0(|| prep.premade_late.iter().map(|t| make_one(steps, t, prep)).collect())
}

/// One of [`LATE`], as its step in `steps` asks for it.
fn make_one(steps: &[Step], t: &str, prep: &Prepared) -> Result<OwnedFd> {
    let (fstype, options, attrs) = steps
        .iter()
        .find_map(|s| match s {
            Step::Fs { target, fstype, options, attrs } if *target == t => Some((*fstype, *options, *attrs)),
            _ => None,
        })
        .ok_or_else(|| Error::msg(format!("no file system for {t} in the plan")))?;
    let fs = mounts::new_fs(fstype, options, attrs).map_err(|e| e.context(format!("mount {fstype} for {t}")))?;
    match t {
        "/dev" => populated_dev(fs, prep),
        _ => Ok(fs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mount_plan::{plan, CgroupMount};

    #[test]
    fn late_file_systems_of_the_default_plan() {
        let settings = crate::settings::Settings {
            directory: Some("/srv/tree".into()),
            console: Some(crate::settings::ConsoleMode::Pipe),
            ..Default::default()
        };
        let caller = crate::spec::Caller {
            cwd: std::path::Path::new("/"),
            stdin_tty: false,
            stdout_tty: false,
            host_hostname: "h",
        };
        let spec = crate::spec::Spec::resolve(settings, &caller).expect("resolve");
        let steps = plan(&spec, CgroupMount::ReadOnly);
        assert_eq!(late_targets(&steps, false), ["/sys", "/dev", "/dev/pts"]);
        // A network namespace of the container's own: its sysfs is the child's to make.
        assert_eq!(late_targets(&steps, true), ["/dev", "/dev/pts"]);
        assert!(late_targets(&steps, false).len() <= crate::channel::MAX_FDS);
        // Only fresh file systems count: a plan without them has none.
        assert!(late_targets(&[Step::ReadOnlySelf { target: "/sys" }, Step::DevNodes], false).is_empty());
    }
}
