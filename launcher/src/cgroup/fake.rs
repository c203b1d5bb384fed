//! A fake cgroup2 kernel over a temp dir, for unit tests without root: mkdir fills in the
//! interface files the parent's `cgroup.subtree_control` implies, writes to
//! `cgroup.subtree_control`, `cgroup.procs` and `cgroup.kill` follow the kernel's rules
//! (controller availability, no processes in inner nodes, busy rmdir), and every operation is
//! logged relative to the root for golden tests.

use super::fs::Fs;
use crate::error::{Error, Result};
use rustix::io::Errno;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MARK: &str = "xattr.trusted.spawnbox.created";
const ORDER: &[&str] = &["cpuset", "cpu", "io", "memory", "hugetlb", "pids"];

/// Interface files a controller adds to a child cgroup.
fn files_of(controller: &str) -> &'static [&'static str] {
    match controller {
        "memory" => &["memory.min", "memory.low", "memory.high", "memory.max", "memory.swap.max", "memory.reclaim"],
        "cpu" => &["cpu.weight", "cpu.max", "cpu.idle"],
        "cpuset" => &["cpuset.cpus", "cpuset.mems"],
        "io" => &["io.weight", "io.max"],
        "pids" => &["pids.max"],
        _ => &[],
    }
}

/// The fake kernel; clones share the log.
#[derive(Clone)]
pub(crate) struct FakeKernel {
    root: PathBuf,
    /// `cgroup.kill` exists (Linux 5.14+).
    has_kill: bool,
    /// What writing "0" to `cgroup.procs` moves.
    self_pid: i32,
    /// The hierarchy's real root, exempt from "no internal processes"; `false` models the root
    /// of a cgroup namespace (inside another container), which is not.
    real_root: bool,
    log: Arc<Mutex<Vec<String>>>,
}

fn errno(e: &std::io::Error) -> Errno {
    Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EIO))
}

impl FakeKernel {
    /// A root cgroup at `root` offering `controllers`.
    pub fn new(root: &Path, controllers: &[&str], has_kill: bool) -> FakeKernel {
        let put = |f: &str, v: &str| std::fs::write(root.join(f), v).expect("write fake root file");
        put("cgroup.controllers", &controllers.join(" "));
        put("cgroup.subtree_control", "");
        put("cgroup.procs", "");
        FakeKernel { root: root.to_path_buf(), has_kill, self_pid: 4242, real_root: true, log: Arc::default() }
    }

    /// As [`new`](Self::new), but the root is that of a cgroup namespace: processes there keep
    /// controllers from being enabled for its children, as for any cgroup but the real root.
    pub fn namespace_root(root: &Path, controllers: &[&str], has_kill: bool) -> FakeKernel {
        FakeKernel { real_root: false, ..Self::new(root, controllers, has_kill) }
    }

    /// This fake as the module's syscall seam.
    pub fn boxed(&self) -> Box<dyn Fs> {
        Box::new(self.clone())
    }

    /// The operations so far, paths relative to the root.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Forgets the log.
    pub fn clear_log(&self) {
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
    }

    /// Puts a (fake) process into `dir` as if it had been forked there.
    pub fn add_process(&self, dir: &Path, pid: i32) {
        let procs = dir.join("cgroup.procs");
        let mut text = std::fs::read_to_string(&procs).expect("procs");
        text.push_str(&format!("{pid}\n"));
        std::fs::write(procs, text).expect("write procs");
    }

    /// The pid "0" stands for.
    pub fn self_pid(&self) -> i32 {
        self.self_pid
    }

    fn rel(&self, p: &Path) -> String {
        match p.strip_prefix(&self.root) {
            Ok(r) if r.as_os_str().is_empty() => ".".into(),
            Ok(r) => r.display().to_string(),
            Err(_) => p.display().to_string(),
        }
    }

    fn record(&self, line: String) {
        if let Ok(mut l) = self.log.lock() {
            l.push(line);
        }
    }

    fn read_words(&self, file: &Path) -> Vec<String> {
        std::fs::read_to_string(file).unwrap_or_default().split_whitespace().map(String::from).collect()
    }

    fn children(&self, dir: &Path) -> Vec<PathBuf> {
        match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()).map(|e| e.path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn all_dirs(&self, dir: &Path, out: &mut Vec<PathBuf>) {
        out.push(dir.to_path_buf());
        for c in self.children(dir) {
            self.all_dirs(&c, out);
        }
    }

    /// Removes `pid` from every `cgroup.procs` below `dir` (or all of them for `None`).
    fn drop_pids(&self, dir: &Path, pid: Option<i32>) {
        let mut dirs = Vec::new();
        self.all_dirs(dir, &mut dirs);
        for d in dirs {
            let f = d.join("cgroup.procs");
            let keep: Vec<String> = self
                .read_words(&f)
                .into_iter()
                .filter(|p| pid.is_some_and(|x| p != &x.to_string()))
                .map(|p| format!("{p}\n"))
                .collect();
            let _ = std::fs::write(&f, keep.concat());
        }
    }

    fn populated(&self, dir: &Path) -> bool {
        let mut dirs = Vec::new();
        self.all_dirs(dir, &mut dirs);
        dirs.iter().any(|d| !self.read_words(&d.join("cgroup.procs")).is_empty())
    }

    /// Sets a child's controllers (and their files) from its parent's subtree_control.
    fn sync_child(&self, child: &Path, enabled: &[String]) {
        let _ = std::fs::write(child.join("cgroup.controllers"), enabled.join(" "));
        for c in ORDER {
            for f in files_of(c) {
                let path = child.join(f);
                if enabled.iter().any(|e| e == c) {
                    if !path.exists() {
                        let _ = std::fs::write(&path, "");
                    }
                } else {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }

    fn subtree_control(&self, dir: &Path, value: &str) -> std::result::Result<(), Errno> {
        let available = self.read_words(&dir.join("cgroup.controllers"));
        let mut enabled = self.read_words(&dir.join("cgroup.subtree_control"));
        for tok in value.split_whitespace() {
            let (on, c) = match tok.split_at(1) {
                ("+", c) => (true, c),
                ("-", c) => (false, c),
                _ => return Err(Errno::INVAL),
            };
            if on {
                if !available.iter().any(|a| a == c) {
                    return Err(Errno::NOENT);
                }
                if (dir != self.root || !self.real_root) && !self.read_words(&dir.join("cgroup.procs")).is_empty() {
                    return Err(Errno::BUSY);
                }
                if !enabled.iter().any(|e| e == c) {
                    enabled.push(c.to_string());
                }
            } else {
                let used = self
                    .children(dir)
                    .iter()
                    .any(|ch| self.read_words(&ch.join("cgroup.subtree_control")).iter().any(|x| x == c));
                if used {
                    return Err(Errno::BUSY);
                }
                enabled.retain(|e| e != c);
            }
        }
        enabled.sort_by_key(|c| ORDER.iter().position(|o| o == c));
        let _ = std::fs::write(dir.join("cgroup.subtree_control"), enabled.join(" "));
        for child in self.children(dir) {
            self.sync_child(&child, &enabled);
        }
        Ok(())
    }

    fn procs(&self, dir: &Path, value: &str) -> std::result::Result<(), Errno> {
        let pid: i32 = value.trim().parse().map_err(|_| Errno::INVAL)?;
        let pid = if pid == 0 { self.self_pid } else { pid };
        if (dir != self.root || !self.real_root) && !self.read_words(&dir.join("cgroup.subtree_control")).is_empty() {
            return Err(Errno::BUSY);
        }
        self.drop_pids(&self.root, Some(pid));
        self.add_process(dir, pid);
        Ok(())
    }
}

impl Fs for FakeKernel {
    fn mkdir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir(dir).map_err(|e| Error::path("mkdir", dir, errno(&e)))?;
        self.record(format!("mkdir {}", self.rel(dir)));
        let put = |f: &str, v: &str| std::fs::write(dir.join(f), v).map_err(|e| Error::path("mkdir", dir, errno(&e)));
        put("cgroup.procs", "")?;
        put("cgroup.events", "populated 0\nfrozen 0\n")?;
        put("cgroup.freeze", "0")?;
        put("cgroup.subtree_control", "")?;
        put("cgroup.threads", "")?;
        if self.has_kill {
            put("cgroup.kill", "")?;
        }
        let parent = dir.parent().unwrap_or(&self.root);
        let enabled = self.read_words(&parent.join("cgroup.subtree_control"));
        self.sync_child(dir, &enabled);
        Ok(())
    }

    fn rmdir(&self, dir: &Path) -> Result<()> {
        if !dir.is_dir() {
            return Err(Error::path("rmdir", dir, Errno::NOENT));
        }
        if !self.children(dir).is_empty() || self.populated(dir) {
            return Err(Error::path("rmdir", dir, Errno::BUSY));
        }
        std::fs::remove_dir_all(dir).map_err(|e| Error::path("rmdir", dir, errno(&e)))?;
        self.record(format!("rmdir {}", self.rel(dir)));
        Ok(())
    }

    fn read(&self, file: &Path) -> Result<String> {
        std::fs::read_to_string(file).map_err(|e| Error::path("read", file, errno(&e)))
    }

    fn write(&self, file: &Path, value: &str) -> Result<()> {
        if !file.is_file() {
            return Err(Error::path("write", file, Errno::NOENT));
        }
        let dir = file.parent().unwrap_or(&self.root);
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let r = match name {
            "cgroup.subtree_control" => self.subtree_control(dir, value),
            "cgroup.procs" => self.procs(dir, value),
            "cgroup.kill" => {
                self.drop_pids(dir, None);
                Ok(())
            }
            _ => std::fs::write(file, value).map_err(|e| errno(&e)),
        };
        r.map_err(|e| Error::path("write", file, e))?;
        self.record(format!("write {} {value}", self.rel(file)));
        Ok(())
    }

    fn open_dir(&self, dir: &Path) -> Result<OwnedFd> {
        super::fs::RealFs.open_dir(dir)
    }

    fn chown(&self, path: &Path, uid: u32, gid: u32) -> Result<()> {
        if !path.exists() {
            return Err(Error::path("chown", path, Errno::NOENT));
        }
        self.record(format!("chown {} {uid}:{gid}", self.rel(path)));
        Ok(())
    }

    fn mark_created(&self, dir: &Path) {
        let _ = std::fs::write(dir.join(MARK), "1");
    }

    fn is_marked(&self, dir: &Path) -> bool {
        dir.join(MARK).exists()
    }

    fn kill(&self, pid: i32) -> Result<()> {
        self.record(format!("kill {pid}"));
        self.drop_pids(&self.root, Some(pid));
        Ok(())
    }

    fn subdirs(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        Ok(self.children(dir))
    }

    fn wait_empty(&self, dir: &Path, _timeout: Duration) -> Result<()> {
        if self.populated(dir) {
            return Err(Error::msg(format!("{}: still populated", dir.display())));
        }
        Ok(())
    }

    fn own_cgroup(&self) -> Option<(PathBuf, i32)> {
        let mut dirs = Vec::new();
        self.all_dirs(&self.root, &mut dirs);
        let me = self.self_pid.to_string();
        let dir = dirs.into_iter().find(|d| self.read_words(&d.join("cgroup.procs")).contains(&me))?;
        Some((dir.strip_prefix(&self.root).ok()?.to_path_buf(), self.self_pid))
    }
}
