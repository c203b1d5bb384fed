//! [`Cgroup`]: a container's cgroup, made from a [`Plan`]. Creation does the least it can:
//! one mkdir (parents only when missing), one O_PATH open, then the writes the properties ask
//! for; a failure half-way removes what was made.

use super::fs::{errno_is, Fs, RealFs};
use super::kill::{kill_all, remove_tree, EMPTY_TIMEOUT};
use super::plan::{check_controllers, kernel_order, resolve, Plan};
use super::property::Property;
use super::{Hierarchy, Host};
use crate::error::{Error, Result};
use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The launcher moved itself from `own` into the leaf `path` (`supervisor/`, as nspawn's
/// supervisor/payload split) so that controllers may be enabled in `own`: always with
/// `--keep-unit`, and when `own` is the root of a cgroup namespace it has to itself and that
/// root is an ancestor of the machine's cgroup (spawnbox as PID 1 of a podman or docker
/// container, or started from a guest's root cgroup).
#[derive(Debug)]
pub(crate) struct Supervisor {
    pub path: PathBuf,
    pub own: PathBuf,
    /// Controllers this run enabled in `own/cgroup.subtree_control` (disabled again on exit so
    /// that the launcher may move back into `own`).
    pub added: Vec<String>,
    /// Entered on its own (not `--keep-unit`): other machines below `own` may still use the
    /// controllers, and then the launcher stays in `supervisor/` until it exits.
    pub shared: bool,
}

/// The leaf the launcher moves into below its own cgroup (nspawn's name).
pub(crate) const SUPERVISOR: &str = "supervisor";

/// A live container cgroup. Dropping it leaves the cgroup in place: call
/// [`kill_and_remove`](Cgroup::kill_and_remove).
pub struct Cgroup {
    pub(crate) path: PathBuf,
    pub(crate) hierarchy: Hierarchy,
    pub(crate) boundary: PathBuf,
    /// Directories this process created, outermost first (the leaf last).
    pub(crate) created: Vec<PathBuf>,
    pub(crate) supervisor: Option<Supervisor>,
    pub(crate) dir: OwnedFd,
    /// An `flock` on the leaf held while the launcher lives: how the next start of the same
    /// machine tells a running machine (refused) from a dying one (reclaimed).
    pub(crate) lock: Option<OwnedFd>,
    pub(crate) fs: Box<dyn Fs>,
}

impl std::fmt::Debug for Cgroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cgroup").field("path", &self.path).field("created", &self.created).finish()
    }
}

impl Cgroup {
    /// Creates the cgroup of `plan`: directories, controllers, property files, delegation.
    /// With `--keep-unit` the calling process moves itself into `supervisor/` first.
    pub fn create(plan: &Plan) -> Result<Cgroup> {
        Self::create_with(plan, Box::new(RealFs))
    }

    pub(crate) fn create_with(plan: &Plan, fs: Box<dyn Fs>) -> Result<Cgroup> {
        log::debug!("cgroup: create {}", plan.cgroup.display());
        let (created, lock) = make_dirs(&*fs, plan)?;
        let dir = match fs.open_dir(&plan.cgroup) {
            Ok(d) => d,
            Err(e) => {
                for d in created.iter().rev() {
                    let _ = fs.rmdir(d);
                }
                return Err(e);
            }
        };
        let mut cg = Cgroup {
            path: plan.cgroup.clone(),
            hierarchy: plan.hierarchy.clone(),
            boundary: plan.boundary.clone(),
            created,
            supervisor: None,
            dir,
            lock: Some(lock),
            fs,
        };
        if let Err(e) = cg.configure(plan) {
            // Nothing runs in it yet: removal cannot meet processes of ours.
            let _ = cg.teardown();
            return Err(e);
        }
        Ok(cg)
    }

    /// Opens an existing cgroup (`cleanup`, `spawnctl set-property`); nothing counts as created
    /// by this process, so only marked parents are ever pruned.
    pub fn open(h: &Hierarchy, path: &Path) -> Result<Cgroup> {
        Self::open_with(h, path, Box::new(RealFs))
    }

    pub(crate) fn open_with(h: &Hierarchy, path: &Path, fs: Box<dyn Fs>) -> Result<Cgroup> {
        if !path.starts_with(&h.root) || path == h.root {
            return Err(Error::msg(format!("{}: not a cgroup below {}", path.display(), h.root.display())));
        }
        let dir = fs.open_dir(path)?;
        Ok(Cgroup {
            path: path.to_path_buf(),
            hierarchy: h.clone(),
            boundary: h.root.clone(),
            created: Vec::new(),
            supervisor: None,
            dir,
            lock: None,
            fs,
        })
    }

    /// The cgroup's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An `O_PATH` fd of the cgroup for `clone3(CLONE_INTO_CGROUP)` (`clone_args.cgroup`).
    pub fn dir_fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Moves process `pid` (all its threads) into the cgroup: the fallback when clone3 cannot
    /// place the child. Must happen before the child unshares its cgroup namespace.
    pub fn attach(&self, pid: i32) -> Result<()> {
        self.fs.write(&self.path.join("cgroup.procs"), &pid.to_string())
    }

    /// Applies more properties to the live cgroup (`spawnctl set-property`): checked and
    /// resolved first, then controllers enabled as needed, then written.
    pub fn set_properties(&mut self, props: &[Property], host: &dyn Host) -> Result<()> {
        check_controllers(&self.hierarchy, props)?;
        let writes = resolve(&self.path, props, host)?;
        let mut controllers: Vec<String> = props.iter().map(|p| p.controller.to_string()).collect();
        kernel_order(&mut controllers);
        let dirs = self.ancestors();
        self.enable(&dirs, &controllers, &controllers)?;
        for w in &writes {
            self.write_property(&w.file, &w.value, &w.origin, w.optional)?;
        }
        Ok(())
    }

    /// Kills everything in the cgroup, waits until it is empty, removes it (and any child
    /// cgroups a delegated init made), then the parents this run — or another spawnbox —
    /// created once they are empty. With `--keep-unit` the launcher moves back into its own
    /// cgroup and `supervisor/` goes too.
    pub fn kill_and_remove(mut self) -> Result<()> {
        self.teardown()
    }

    /// The root and every directory down to the cgroup's parent.
    fn ancestors(&self) -> Vec<PathBuf> {
        let mut out = vec![self.hierarchy.root.clone()];
        if let Some(parent) = self.path.parent().and_then(|p| p.strip_prefix(&self.hierarchy.root).ok()) {
            let mut dir = self.hierarchy.root.clone();
            for part in parent.components() {
                dir.push(part);
                out.push(dir.clone());
            }
        }
        out
    }

    fn configure(&mut self, plan: &Plan) -> Result<()> {
        if let Some(sup) = &plan.supervisor {
            let own = self.boundary.clone();
            self.enter_supervisor(sup, &own, false).map_err(|e| e.context("--keep-unit"))?;
        }
        self.enable(&plan.enable, &plan.controllers, &plan.required)?;
        for w in &plan.writes {
            self.write_property(&w.file, &w.value, &w.origin, w.optional)?;
        }
        if let Some((uid, gid)) = plan.delegate {
            self.delegate(uid, gid)?;
        }
        Ok(())
    }

    /// The launcher leaves its own cgroup `own` for the leaf `sup` so that controllers can be
    /// enabled in `own` (no processes in inner nodes).
    fn enter_supervisor(&mut self, sup: &Path, own: &Path, shared: bool) -> Result<()> {
        match self.fs.mkdir(sup) {
            Ok(()) => {}
            Err(e) if errno_is(&e, &[Errno::EXIST]) => {}
            Err(e) => return Err(e),
        }
        self.supervisor =
            Some(Supervisor { path: sup.to_path_buf(), own: own.to_path_buf(), added: Vec::new(), shared });
        self.fs.write(&sup.join("cgroup.procs"), "0")
    }

    /// `dir` refused controllers with EBUSY: when it is the launcher's own cgroup and holds no
    /// other process, the launcher moves into `dir/supervisor` and says so (`Ok(true)`); a
    /// cgroup shared with other processes is left as it is.
    fn leave_busy_cgroup(&mut self, dir: &Path) -> Result<bool> {
        if self.supervisor.is_some() {
            return Ok(false);
        }
        let Some((own, pid)) = self.fs.own_cgroup() else {
            return Ok(false);
        };
        if self.hierarchy.root.join(&own) != dir {
            return Ok(false);
        }
        let procs = self.fs.read(&dir.join("cgroup.procs"))?;
        let me = pid.to_string();
        if procs.split_whitespace().any(|p| p != me) {
            log::debug!("cgroup: {} holds other processes too; not moving into {SUPERVISOR}/", dir.display());
            return Ok(false);
        }
        log::debug!("cgroup: moving into {}/{SUPERVISOR} to enable controllers for the machine", dir.display());
        self.enter_supervisor(&dir.join(SUPERVISOR), dir, true)?;
        Ok(true)
    }

    /// Writes `+c…` into each `cgroup.subtree_control` of `dirs`, top down (one write each;
    /// when that fails, one controller at a time, where only the `required` ones must succeed).
    fn enable(&mut self, dirs: &[PathBuf], controllers: &[String], required: &[String]) -> Result<()> {
        if controllers.is_empty() {
            return Ok(());
        }
        self.note_added(controllers)?;
        let value: Vec<String> = controllers.iter().map(|c| format!("+{c}")).collect();
        let value = value.join(" ");
        for dir in dirs {
            let control = dir.join("cgroup.subtree_control");
            match self.fs.write(&control, &value) {
                Ok(()) => continue,
                Err(e) if errno_is(&e, &[Errno::BUSY]) && self.leave_busy_cgroup(dir)? => {
                    self.note_added(controllers)?;
                    if self.fs.write(&control, &value).is_ok() {
                        continue;
                    }
                }
                Err(_) => {}
            }
            for c in controllers {
                match self.fs.write(&control, &format!("+{c}")) {
                    Ok(()) => {}
                    Err(e) if required.contains(c) => {
                        let busy = errno_is(&e, &[Errno::BUSY]);
                        let e = e.context(format!("enable {c}"));
                        return Err(if busy {
                            e.hint(format!(
                                "{} holds processes, and cgroup v2 enables controllers only for cgroups that \
                                 hold none",
                                dir.display()
                            ))
                        } else {
                            e
                        });
                    }
                    Err(e) => log::debug!("cgroup: not delegating {c}: {e}"),
                }
            }
        }
        Ok(())
    }

    /// Remembers which of `controllers` the supervisor's own cgroup does not enable yet.
    fn note_added(&mut self, controllers: &[String]) -> Result<()> {
        if let Some(sup) = &mut self.supervisor {
            let current = self.fs.read(&sup.own.join("cgroup.subtree_control"))?;
            for c in controllers {
                if !current.split_whitespace().any(|x| x == c) && !sup.added.contains(c) {
                    sup.added.push(c.clone());
                }
            }
        }
        Ok(())
    }

    fn write_property(&self, file: &Path, value: &str, origin: &str, optional: bool) -> Result<()> {
        match self.fs.write(file, value) {
            Err(e) if optional && errno_is(&e, &[Errno::NOENT]) => Ok(()),
            r => r.map_err(|e| e.context(origin)),
        }
    }

    /// Hands the cgroup to the container's root: the directory and the files the kernel lists
    /// as delegatable (`/sys/kernel/cgroup/delegate`).
    fn delegate(&self, uid: u32, gid: u32) -> Result<()> {
        self.fs.chown(&self.path, uid, gid)?;
        for f in ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"] {
            self.fs.chown(&self.path.join(f), uid, gid)?;
        }
        match self.fs.chown(&self.path.join("memory.reclaim"), uid, gid) {
            Err(e) if !errno_is(&e, &[Errno::NOENT]) => Err(e),
            _ => Ok(()),
        }
    }
}

/// How long a new start waits for the processes of a dying machine (its launcher gone, its
/// cgroup not yet empty) before it kills them.
pub const DYING_TIMEOUT: Duration = Duration::from_secs(5);

/// An exclusive `flock` on the cgroup directory `dir`; `None` when another launcher holds it.
pub(crate) fn try_lock(dir: &Path) -> Result<Option<OwnedFd>> {
    let fd = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open", dir, e))?;
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(fd)),
        Err(Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(Error::path("lock", dir, e)),
    }
}

/// An existing leaf: a crashed run's empty one is replaced; one whose launcher still holds its
/// lock is refused; one with processes but no launcher (still dying) is waited for up to
/// [`DYING_TIMEOUT`], then killed and removed.
fn replace_leaf(fs: &dyn Fs, leaf: &Path, keep_unit: bool) -> Result<()> {
    let in_use = || in_use(leaf, keep_unit);
    let lock = match try_lock(leaf) {
        Ok(Some(l)) => l,
        Ok(None) => return Err(in_use()),
        Err(e) if errno_is(&e, &[Errno::NOENT]) => return Ok(()),
        Err(e) => return Err(e),
    };
    match fs.rmdir(leaf) {
        Ok(()) => {
            log::debug!("cgroup: removed stale {}", leaf.display());
            return Ok(());
        }
        Err(r) if errno_is(&r, &[Errno::NOENT]) => return Ok(()),
        Err(r) if !errno_is(&r, &[Errno::BUSY, Errno::NOTEMPTY]) => return Err(r),
        Err(_) => {}
    }
    log::info!("Waiting for the previous instance of this machine to finish dying.");
    if fs.wait_empty(leaf, DYING_TIMEOUT).is_err() {
        log::warn!("{}: still has processes after {} s, killing them", leaf.display(), DYING_TIMEOUT.as_secs());
        kill_all(fs, leaf)?;
        fs.wait_empty(leaf, EMPTY_TIMEOUT).map_err(|_| in_use())?;
    }
    remove_tree(fs, leaf)?;
    drop(lock);
    Ok(())
}

/// The leaf `leaf` belongs to a running machine's launcher. With `--keep-unit` (`keep_unit`)
/// that is another container started from the same cgroup: the unit's cgroup is one
/// container's.
fn in_use(leaf: &Path, keep_unit: bool) -> Error {
    let e = Error::msg(format!("{}: cgroup exists and is in use (is the machine already running?)", leaf.display()));
    match keep_unit {
        true => e.hint(
            "--keep-unit runs one container per unit, and another container started from this cgroup \
             holds it (start each from a service of its own, or drop --keep-unit)",
        ),
        false => e,
    }
}

/// An existing leaf the OCI runtime may take: one without processes (its files as they are).
fn reuse_leaf(fs: &dyn Fs, leaf: &Path) -> Result<()> {
    let events = fs.read(&leaf.join("cgroup.events"))?;
    if events.lines().any(|l| l == "populated 1") {
        return Err(Error::msg(format!("linux.cgroupsPath: {}: cgroup exists and is not empty", leaf.display())));
    }
    Ok(())
}

/// Creates the cgroup directory: the leaf first (one mkdir in the common case), its missing
/// parents only on ENOENT; an existing leaf goes through [`replace_leaf`]. Returns what was
/// created, outermost first, and the leaf's lock.
fn make_dirs(fs: &dyn Fs, plan: &Plan) -> Result<(Vec<PathBuf>, OwnedFd)> {
    let leaf = &plan.cgroup;
    let parents = plan.mkdir.split_last().map_or(&[][..], |(_, p)| p);
    let mut created: Vec<PathBuf> = Vec::new();
    let undo = |created: &[PathBuf]| {
        for d in created.iter().rev() {
            let _ = fs.rmdir(d);
        }
    };
    // A few rounds: a concurrent spawnbox may prune an empty parent between our mkdirs.
    for _ in 0..3 {
        match fs.mkdir(leaf) {
            Ok(()) => {
                created.push(leaf.clone());
                match try_lock(leaf) {
                    Ok(Some(lock)) => return Ok((created, lock)),
                    Ok(None) => {}
                    Err(e) => {
                        undo(&created);
                        return Err(e);
                    }
                }
                // Another start of this machine got in between: it is its cgroup now.
                created.pop();
                undo(&created);
                return Err(in_use(leaf, plan.supervisor.is_some()));
            }
            Err(e) if errno_is(&e, &[Errno::EXIST]) && plan.reuse => {
                if let Err(r) = reuse_leaf(fs, leaf) {
                    undo(&created);
                    return Err(r);
                }
                match try_lock(leaf) {
                    Ok(Some(lock)) => return Ok((created, lock)),
                    Ok(None) => {
                        undo(&created);
                        return Err(Error::msg(format!(
                            "linux.cgroupsPath: {}: cgroup exists and is in use",
                            leaf.display()
                        )));
                    }
                    Err(e) => {
                        undo(&created);
                        return Err(e);
                    }
                }
            }
            Err(e) if errno_is(&e, &[Errno::EXIST]) => {
                if let Err(r) = replace_leaf(fs, leaf, plan.supervisor.is_some()) {
                    undo(&created);
                    return Err(r);
                }
            }
            Err(e) if errno_is(&e, &[Errno::NOENT]) && !parents.is_empty() => {
                for dir in parents {
                    match fs.mkdir(dir) {
                        Ok(()) => {
                            fs.mark_created(dir);
                            created.push(dir.clone());
                        }
                        Err(e) if errno_is(&e, &[Errno::EXIST]) => {}
                        Err(e) => {
                            undo(&created);
                            return Err(e);
                        }
                    }
                }
            }
            Err(e) => {
                undo(&created);
                return Err(e);
            }
        }
    }
    undo(&created);
    Err(Error::path("mkdir", leaf, Errno::NOENT))
}
