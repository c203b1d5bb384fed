//! cgroup v1 for the OCI runtime on hybrid and legacy hosts: finding the hierarchies runc
//! joins, creating the container's directory in each ([`V1Group`]), the launcher's way of
//! giving them to PID 1 at its birth, and their removal.
//!
//! PID 1 must be in its v1 cgroups *before* it unshares its cgroup namespace (its first step),
//! or the namespace is rooted in the launcher's cgroups and the container sees host paths;
//! runc's init waits for that. Writing PID 1's pid after the clone would race with it, so the
//! launcher moves itself into the container's v1 directories, clones (the child inherits them;
//! the v2 cgroup comes with `CLONE_INTO_CGROUP`) and moves itself back ([`V1Group::join`],
//! [`Joined::leave`]): 2 × N writes of `cgroup.procs` instead of N, nothing racy.

use super::fs::{errno_is, Fs, RealFs};
use super::oci::{OciPlan, V1Write};
use super::oci_resources::Value;
pub use super::v1_mounts::{find_v1_mounts, parse_proc_cgroup, V1Mount};
use crate::error::{Error, Result};
use rustix::io::Errno;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One hierarchy's directory of a live container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Entry {
    /// `/proc/self/cgroup`'s name of the hierarchy (`cpu,cpuacct`, `freezer`, `name=systemd`).
    pub name: String,
    pub path: PathBuf,
}

/// One of a container's v1 directories as its hierarchy names it: the host's mount point's
/// name (`dir`: `memory`, `cpu,cpuacct`), the hierarchy's controllers as mount options
/// (`name`: `cpu,cpuacct`, `name=systemd`), the directory's path from the hierarchy's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1View {
    pub dir: String,
    pub name: String,
    pub path: PathBuf,
}

/// A container's v1 directories, made from an [`OciPlan`]. Dropping it leaves them in place:
/// call [`remove`](V1Group::remove).
pub struct V1Group {
    entries: Vec<V1Entry>,
    views: Vec<V1View>,
    /// Parents this process created (outermost first), removed when empty.
    made: Vec<PathBuf>,
    /// The launcher's own directory in each hierarchy, for [`Joined::leave`].
    home: Vec<PathBuf>,
    fs: Box<dyn Fs>,
}

impl std::fmt::Debug for V1Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V1Group").field("entries", &self.entries).field("made", &self.made).finish()
    }
}

/// The launcher is inside the container's v1 directories: [`leave`](Joined::leave) after the
/// clone. No `Drop`: the cloned child must never move back.
#[must_use = "the launcher must leave the container's cgroups after the clone"]
pub struct Joined<'a> {
    group: &'a V1Group,
}

impl V1Group {
    /// Creates the directories of `plan` (an existing empty leaf is taken, a populated one
    /// refused) and makes its v1 writes; a failure removes what was made. `own` is
    /// `/proc/self/cgroup` as pairs (where the launcher goes back to after a clone).
    pub fn create(plan: &OciPlan, mounts: &[super::V1Mount], own: &[(String, String)]) -> Result<Option<V1Group>> {
        Self::create_with(plan, mounts, own, Box::new(RealFs))
    }

    pub(crate) fn create_with(
        plan: &OciPlan,
        mounts: &[super::V1Mount],
        own: &[(String, String)],
        fs: Box<dyn Fs>,
    ) -> Result<Option<V1Group>> {
        if plan.v1.is_empty() {
            return Ok(None);
        }
        let mut home = Vec::new();
        let mut views = Vec::new();
        for (d, m) in plan.v1.iter().zip(mounts) {
            if let (Some(dir), Ok(rel)) = (m.path.file_name(), d.path.strip_prefix(&m.path)) {
                let path = Path::new("/").join(m.root.strip_prefix("/").unwrap_or(&m.root)).join(rel);
                views.push(V1View { dir: dir.to_string_lossy().into_owned(), name: m.name(), path });
            }
            let want = sorted(&d.name);
            let path = own.iter().find(|(n, _)| sorted(n) == want).map(|(_, p)| p.as_str()).unwrap_or("/");
            let rel = Path::new(path.trim_start_matches('/'));
            let rel = rel.strip_prefix(m.root.strip_prefix("/").unwrap_or(&m.root)).unwrap_or(rel);
            home.push(if rel.as_os_str().is_empty() { m.path.clone() } else { m.path.join(rel) });
        }
        let mut g = V1Group { entries: Vec::new(), views, made: Vec::new(), home, fs };
        let made = (|| -> Result<()> {
            for d in &plan.v1 {
                g.make_dir(d)?;
            }
            for w in &plan.v1_writes {
                g.write(w)?;
            }
            Ok(())
        })();
        match made {
            Ok(()) => Ok(Some(g)),
            Err(e) => {
                let _ = g.remove_dirs();
                Err(e)
            }
        }
    }

    /// mkdir of each level; the leaf is recorded (it always goes at removal) once it exists,
    /// parents only when this process made them. A few rounds: a concurrent container's
    /// teardown may remove a parent it made (runc's cgroup parent of several containers,
    /// `docker run --cgroup-parent`) between our mkdir of it and of the level below.
    fn make_dir(&mut self, d: &super::oci::V1Dir) -> Result<()> {
        let mut rounds = 3;
        'round: loop {
            rounds -= 1;
            for dir in &d.mkdir {
                match self.fs.mkdir(dir) {
                    Ok(()) if *dir != d.path => {
                        if !self.made.contains(dir) {
                            self.made.push(dir.clone());
                        }
                    }
                    Ok(()) => {}
                    Err(e) if errno_is(&e, &[Errno::EXIST]) => {
                        if *dir == d.path && !self.fs.read(&dir.join("cgroup.procs"))?.trim().is_empty() {
                            return Err(Error::msg(format!(
                                "linux.cgroupsPath: {}: cgroup exists and is not empty",
                                dir.display()
                            )));
                        }
                    }
                    Err(e) if errno_is(&e, &[Errno::NOENT]) && rounds > 0 => continue 'round,
                    Err(e) => return Err(e.context("linux.cgroupsPath")),
                }
            }
            break;
        }
        self.entries.push(V1Entry { name: d.name.clone(), path: d.path.clone() });
        Ok(())
    }

    fn write(&self, w: &V1Write) -> Result<()> {
        let value = match &w.value {
            Value::Set(v) => v.clone(),
            Value::Inherit => {
                if !self.fs.read(&w.file).map_err(|e| e.context(&w.origin))?.trim().is_empty() {
                    return Ok(());
                }
                let (Some(dir), Some(name)) = (w.file.parent().and_then(Path::parent), w.file.file_name()) else {
                    return Ok(());
                };
                let v = self.fs.read(&dir.join(name)).map_err(|e| e.context(&w.origin))?;
                v.trim().to_string()
            }
        };
        match (self.fs.write(&w.file, &value), &w.alt) {
            (Err(e), Some(alt)) if errno_is(&e, &[Errno::NOENT]) => {
                self.fs.write(alt, &value).map_err(|e| match errno_is(&e, &[Errno::NOENT]) {
                    true => e.context(&w.origin).hint(format!(
                        "neither {} nor {} exists: this host's I/O scheduler offers no weights",
                        file_name(&w.file),
                        file_name(alt)
                    )),
                    false => e.context(&w.origin),
                })
            }
            (r, _) => r.map_err(|e| e.context(&w.origin)),
        }
    }

    /// The container's directories.
    pub fn entries(&self) -> &[V1Entry] {
        &self.entries
    }

    /// The container's directories in their hierarchies (what its `cgroup` mount shows).
    pub fn views(&self) -> &[V1View] {
        &self.views
    }

    /// The parents this process made, outermost first.
    pub fn made(&self) -> &[PathBuf] {
        &self.made
    }

    /// Moves the calling process (which must have one thread) into every directory; the next
    /// clone's child is born there.
    pub fn join(&self) -> Result<Joined<'_>> {
        for (i, e) in self.entries.iter().enumerate() {
            if let Err(err) = self.fs.write(&e.path.join("cgroup.procs"), "0") {
                for h in &self.home[..i] {
                    let _ = self.fs.write(&h.join("cgroup.procs"), "0");
                }
                return Err(err);
            }
        }
        Ok(Joined { group: self })
    }

    /// Moves process `pid` into every directory (a process started outside the launcher).
    pub fn attach(&self, pid: i32) -> Result<()> {
        for e in &self.entries {
            self.fs.write(&e.path.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Kills what is left in the directories, removes them (children first) and the empty
    /// parents this process made.
    pub fn remove(self) -> Result<()> {
        self.remove_dirs()
    }

    fn remove_dirs(&self) -> Result<()> {
        let leaves: Vec<PathBuf> = self.entries.iter().map(|e| e.path.clone()).collect();
        remove_v1(&*self.fs, &leaves, &self.made)
    }
}

impl Joined<'_> {
    /// Moves the launcher back into its own cgroups.
    pub fn leave(self) -> Result<()> {
        let mut first = None;
        for h in &self.group.home {
            if let Err(e) = self.group.fs.write(&h.join("cgroup.procs"), "0") {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

fn sorted(name: &str) -> Vec<&str> {
    let mut v: Vec<&str> = name.split(',').filter(|s| !s.is_empty()).collect();
    v.sort_unstable();
    v
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// How long removal waits for the processes of a v1 directory to leave.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Removes `leaves` (each with its children, killing what still runs there) and then the
/// `made` parents that are empty, innermost first. v1 has no `cgroup.events`: a busy
/// directory is retried with a short, growing sleep.
pub(crate) fn remove_v1(fs: &dyn Fs, leaves: &[PathBuf], made: &[PathBuf]) -> Result<()> {
    let mut first: Option<Error> = None;
    for leaf in leaves {
        if let Err(e) = remove_v1_tree(fs, leaf, Instant::now() + REMOVE_TIMEOUT) {
            first.get_or_insert(e);
        }
    }
    let mut made: Vec<&PathBuf> = made.iter().collect();
    made.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for dir in made {
        match fs.rmdir(dir) {
            Ok(()) => {}
            Err(e) if errno_is(&e, &[Errno::BUSY, Errno::NOTEMPTY, Errno::NOENT]) => {}
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    first.map_or(Ok(()), Err)
}

fn remove_v1_tree(fs: &dyn Fs, dir: &Path, deadline: Instant) -> Result<()> {
    let subs = match fs.subdirs(dir) {
        Ok(s) => s,
        Err(e) if errno_is(&e, &[Errno::NOENT]) => return Ok(()),
        Err(e) => return Err(e),
    };
    for sub in subs {
        remove_v1_tree(fs, &sub, deadline)?;
    }
    let mut pause = Duration::from_micros(100);
    loop {
        match fs.rmdir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if errno_is(&e, &[Errno::NOENT]) => return Ok(()),
            Err(e) if errno_is(&e, &[Errno::BUSY]) && Instant::now() < deadline => {
                let procs = fs.read(&dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    fs.kill(pid)?;
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}
