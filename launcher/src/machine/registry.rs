//! The registry of running machines, spawnbox's machined: one directory per machine,
//! `RUNTIME/machines/NAME/` (RUNTIME: `/run/spawnbox`, or `$SPAWNBOX_RUNTIME_DIR`), holding
//!
//! - `lock`, locked (flock, exclusive) by the launcher for as long as it runs: one name, one
//!   machine; a dead launcher's lock is free, so its entry is stale;
//! - `machine`, the entry (`key=value` lines, written atomically once PID 1 runs and again when
//!   it changes: reboot, ready), documented in docs/SPAWNCTL.md for other tools;
//! - `seccomp` (0600), the container's compiled seccomp filter, for processes that join it
//!   (`spawnctl shell`);
//! - for a machine left by its creator (`Model::Detachable`), its `state` and `start` FIFO.
//!
//! `spawnctl list` reads the entries; an entry whose launcher and leader are both gone is
//! stale and removed by the next [`list`] or claim of the name.

use super::state::dir;
use crate::error::io_error;
use crate::error::{Error, Result};
use crate::network::state::process_start_time;
use rustix::fd::OwnedFd;
use rustix::fs::{flock, FlockOperation, Mode, OFlags};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// One machine's entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub name: String,
    /// `container` (machinectl's CLASS).
    pub class: String,
    /// PID 1 on the host, and its start time (`/proc/PID/stat` field 22): a reused pid never
    /// passes for it.
    pub leader: i32,
    pub leader_start_time: u64,
    /// The spawnbox process that runs it (0: none, the machine was left by its creator).
    pub launcher: i32,
    pub launcher_start_time: u64,
    /// The root directory on the host.
    pub directory: PathBuf,
    pub uuid: Option<String>,
    pub cgroup: Option<PathBuf>,
    /// The host side of its network links (`ve-NAME`, the zone bridge).
    pub interfaces: Vec<String>,
    /// Its IPv4 addresses (`10.0.0.2/28`).
    pub addresses: Vec<String>,
    /// How it was started: `boot`, `pid2` or `pid1`.
    pub start_mode: String,
    /// The init found in the tree (`systemd`, `openrc-init`, `busybox`, ...), which decides the
    /// signals that stop it.
    pub init: String,
    /// A systemd guest said READY=1; any other machine is ready once PID 1 runs.
    pub ready: bool,
    /// When it was started, µs since the epoch.
    pub started: u64,
}

/// The keys of an entry, in the order they are written.
const KEYS: [&str; 16] = [
    "name",
    "class",
    "leader",
    "leader_start_time",
    "launcher",
    "launcher_start_time",
    "directory",
    "uuid",
    "cgroup",
    "interface",
    "address",
    "start_mode",
    "init",
    "ready",
    "started",
    "service",
];

impl Entry {
    /// The file's text.
    pub fn format(&self) -> String {
        let mut out = String::new();
        let mut put = |k: &str, v: &dyn std::fmt::Display| out.push_str(&format!("{k}={v}\n"));
        put("name", &self.name);
        put("class", &self.class);
        put("service", &"spawnbox");
        put("leader", &self.leader);
        put("leader_start_time", &self.leader_start_time);
        put("launcher", &self.launcher);
        put("launcher_start_time", &self.launcher_start_time);
        put("directory", &self.directory.display());
        if let Some(u) = &self.uuid {
            put("uuid", u);
        }
        if let Some(c) = &self.cgroup {
            put("cgroup", &c.display());
        }
        for i in &self.interfaces {
            put("interface", i);
        }
        for a in &self.addresses {
            put("address", a);
        }
        put("start_mode", &self.start_mode);
        put("init", &self.init);
        put("ready", &if self.ready { "yes" } else { "no" });
        put("started", &self.started);
        out
    }

    /// Parses an entry (`file` for messages); unknown keys are an error, so a reader never
    /// half understands a newer writer silently.
    pub fn parse(file: &Path, text: &str) -> Result<Entry> {
        let mut e = Entry::default();
        for (n, line) in text.lines().enumerate() {
            let bad = |what: &str| Error::msg(format!("{}:{}: {what}", file.display(), n + 1));
            let (k, v) = line.split_once('=').ok_or_else(|| bad("expected key=value"))?;
            let num = || v.parse::<u64>().map_err(|_| bad(&format!("{k}=: not a number: {v}")));
            let pid = || v.parse::<i32>().ok().filter(|p| *p >= 0).ok_or_else(|| bad(&format!("{k}=: not a pid: {v}")));
            match k {
                "name" => e.name = v.to_string(),
                "class" => e.class = v.to_string(),
                "service" => {}
                "leader" => e.leader = pid()?,
                "leader_start_time" => e.leader_start_time = num()?,
                "launcher" => e.launcher = pid()?,
                "launcher_start_time" => e.launcher_start_time = num()?,
                "directory" => e.directory = PathBuf::from(v),
                "uuid" => e.uuid = Some(v.to_string()),
                "cgroup" => e.cgroup = Some(PathBuf::from(v)),
                "interface" => e.interfaces.push(v.to_string()),
                "address" => e.addresses.push(v.to_string()),
                "start_mode" => e.start_mode = v.to_string(),
                "init" => e.init = v.to_string(),
                "ready" => e.ready = v == "yes",
                "started" => e.started = num()?,
                _ => return Err(bad(&format!("unknown key {k}= (known: {})", KEYS.join(", ")))),
            }
        }
        if e.name.is_empty() || e.leader == 0 {
            return Err(Error::msg(format!("{}: no name= or leader=", file.display())));
        }
        Ok(e)
    }

    /// Whether PID 1 still runs (the same process: pid and start time; a zombie does not).
    pub fn leader_alive(&self) -> bool {
        running(self.leader, self.leader_start_time)
    }

    /// Whether the launcher still runs.
    pub fn launcher_alive(&self) -> bool {
        running(self.launcher, self.launcher_start_time)
    }
}

/// Whether process `pid` started at `start_time` runs: not reused, not a zombie (a killed
/// launcher's PID 1 is one until someone reaps it).
fn running(pid: i32, start_time: u64) -> bool {
    if pid <= 0 || process_start_time(pid) != Some(start_time) {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next()).unwrap_or("X");
    !matches!(state, "Z" | "X" | "x")
}

/// A machine name held by this process for as long as it keeps the claim.
#[derive(Debug)]
pub struct Claim {
    dir: PathBuf,
    /// `lock`, flocked exclusively (close-on-exec: the container never holds it).
    _lock: OwnedFd,
}

/// Takes machine name `name`: `RUNTIME/machines/NAME/lock` locked, a stale entry of a dead
/// launcher removed. Fails when a live launcher holds the name.
pub fn claim(name: &str) -> Result<Claim> {
    let d = dir(name)?;
    // 0700 as the network state's directories under the same root (which refuses others).
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&d).map_err(|e| io_error("create", &d, &e))?;
    let lock_path = d.join("lock");
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let lock = rustix::fs::open(&lock_path, flags, Mode::from_raw_mode(0o600))
        .map_err(|e| Error::path("open", &lock_path, e))?;
    match flock(&lock, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let who = read(name).map(|e| format!(" (PID {})", e.leader)).unwrap_or_default();
            return Err(Error::msg(format!("machine {name} is already running{who}"))
                .hint(format!("spawnctl poweroff {name}, or -M to pick another name")));
        }
        Err(e) => return Err(Error::path("lock", &lock_path, e)),
    }
    // Ours now: an entry left here is a dead launcher's.
    let _ = std::fs::remove_file(d.join("machine"));
    remove_seccomp(&d);
    Ok(Claim { dir: d, _lock: lock })
}

/// The seccomp program PID 1 runs under and its `SECCOMP_FILTER_FLAG_*` (`seccomp`,
/// `seccomp-flags`, for processes that join it), in the machine's directory `d`.
pub const SECCOMP_FILES: [&str; 2] = ["seccomp", "seccomp-flags"];

fn remove_seccomp(d: &Path) {
    for f in SECCOMP_FILES {
        let _ = std::fs::remove_file(d.join(f));
    }
}

impl Claim {
    /// Writes (or rewrites) the entry, atomically.
    pub fn publish(&self, e: &Entry) -> Result<()> {
        write_entry(&self.dir, e)
    }

    /// The machine's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the entry and, unless a left machine's record still lives there, the directory.
    pub fn release(self) {
        let _ = std::fs::remove_file(self.dir.join("machine"));
        remove_seccomp(&self.dir);
        if !self.dir.join("state").exists() && !self.dir.join("start").exists() {
            let _ = std::fs::remove_file(self.dir.join("lock"));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Writes `e` to `dir/machine` through a temporary file.
pub fn write_entry(dir: &Path, e: &Entry) -> Result<()> {
    let file = dir.join("machine");
    let tmp = dir.join(".machine.new");
    std::fs::write(&tmp, e.format()).map_err(|err| io_error("write", &tmp, &err))?;
    std::fs::rename(&tmp, &file).map_err(|err| io_error("rename", &file, &err))
}

/// Machine `name`'s entry, if it is running.
pub fn read(name: &str) -> Result<Entry> {
    let not_running = || Error::msg(format!("machine \"{name}\" is not running"));
    let file = dir(name).map_err(|_| not_running())?.join("machine");
    let text = std::fs::read_to_string(&file).map_err(|_| not_running())?;
    let e = Entry::parse(&file, &text)?;
    if !e.leader_alive() && !e.launcher_alive() {
        return Err(not_running());
    }
    Ok(e)
}

/// The running machines, by name; stale entries (launcher and leader gone, no live lock) are
/// removed on the way.
pub fn list() -> Vec<Entry> {
    let root = crate::network::state::runtime_root().join("machines");
    let Ok(rd) = std::fs::read_dir(&root) else { return Vec::new() };
    let mut out = Vec::new();
    for name in rd.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
        let d = root.join(&name);
        let file = d.join("machine");
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        match Entry::parse(&file, &text) {
            Ok(e) if e.leader_alive() || e.launcher_alive() => out.push(e),
            _ => remove_stale(&d),
        }
    }
    crate::sort::sort_by(&mut out, |a, b| a.name.cmp(&b.name));
    out
}

/// `--cleanup`: machine `name`'s entry, if its launcher and leader are gone (and no launcher
/// holds the name); whether there was one to remove.
pub fn remove_stale_entry(name: &str) -> bool {
    let Ok(d) = dir(name) else { return false };
    if !d.exists() {
        return false;
    }
    let file = d.join("machine");
    let alive = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| Entry::parse(&file, &t).ok())
        .is_some_and(|e| e.leader_alive() || e.launcher_alive());
    if alive {
        return false;
    }
    remove_stale(&d);
    !d.exists()
}

/// Removes a dead launcher's entry, unless a launcher holds the lock (it is just starting).
fn remove_stale(d: &Path) {
    let lock_path = d.join("lock");
    let Ok(lock) = rustix::fs::open(&lock_path, OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
    else {
        return;
    };
    if flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err() {
        return;
    }
    log::debug!("{}: stale entry removed", d.display());
    let _ = std::fs::remove_file(d.join("machine"));
    remove_seccomp(d);
    if !d.join("state").exists() {
        let _ = std::fs::remove_file(&lock_path);
        let _ = std::fs::remove_dir(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            name: "web".into(),
            class: "container".into(),
            leader: 4242,
            leader_start_time: 99,
            launcher: 4200,
            launcher_start_time: 98,
            directory: "/var/lib/machines/web".into(),
            uuid: Some("0123456789abcdef0123456789abcdef".into()),
            cgroup: Some("/sys/fs/cgroup/machine.slice/machine-web.scope".into()),
            interfaces: vec!["ve-web".into()],
            addresses: vec!["10.0.0.2/28".into()],
            start_mode: "boot".into(),
            init: "openrc-init".into(),
            ready: true,
            started: 1_796_640_633_000_000,
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let e = entry();
        let text = e.format();
        assert_eq!(
            text,
            "name=web\nclass=container\nservice=spawnbox\nleader=4242\nleader_start_time=99\nlauncher=4200\n\
             launcher_start_time=98\ndirectory=/var/lib/machines/web\nuuid=0123456789abcdef0123456789abcdef\n\
             cgroup=/sys/fs/cgroup/machine.slice/machine-web.scope\ninterface=ve-web\naddress=10.0.0.2/28\n\
             start_mode=boot\ninit=openrc-init\nready=yes\nstarted=1796640633000000\n"
        );
        assert_eq!(Entry::parse(Path::new("/m"), &text).ok(), Some(e));
    }

    #[test]
    fn bad_entries() {
        let err = |t: &str| Entry::parse(Path::new("/r/web/machine"), t).map(|_| ()).unwrap_err().to_string();
        assert_eq!(err("name=web\nleader=x\n"), "/r/web/machine:2: leader=: not a pid: x");
        assert_eq!(err("name=web\nleader=-1\n"), "/r/web/machine:2: leader=: not a pid: -1");
        assert_eq!(err("garbage\n"), "/r/web/machine:1: expected key=value");
        assert!(
            err("name=web\nleader=1\ncolour=red\n").starts_with("/r/web/machine:3: unknown key colour= (known: name,")
        );
        assert_eq!(err("name=web\n"), "/r/web/machine: no name= or leader=");
    }

    #[test]
    fn a_dead_machine_is_not_alive() {
        let mut e = entry();
        // This process, with the wrong start time: a reused pid.
        e.leader = std::process::id() as i32;
        e.launcher = 0;
        assert!(!e.leader_alive());
        e.leader_start_time = process_start_time(e.leader).unwrap_or(0);
        assert!(e.leader_alive());
        assert!(!e.launcher_alive());
    }
}
