//! What the tests look at on the host: the mount table, leftover processes, file trees; and
//! the parser for `/proc/self/mountinfo` text read from inside a container.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// The host's mount table as `"MOUNTPOINT FSTYPE"` lines, sorted (the test process's view).
pub fn host_mounts() -> Vec<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    let mut v: Vec<String> = parse_mountinfo(&text).into_iter().map(|m| format!("{} {}", m.point, m.fstype)).collect();
    v.sort();
    v
}

/// One line of `/proc/PID/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountLine {
    /// The path inside the file system that is mounted (`/` for a whole fs).
    pub root: String,
    pub point: String,
    /// Per-mount options (`ro,nosuid,nodev,noexec,relatime`).
    pub opts: String,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (`size=...,mode=755`).
    pub super_opts: String,
}

impl MountLine {
    /// True if the super-block options contain `opt` exactly.
    pub fn has_super(&self, opt: &str) -> bool {
        self.super_opts.split(',').any(|o| o == opt)
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push(u8::from_str_radix(&s[i + 1..i + 4], 8).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-").unwrap_or_else(|| panic!("bad mountinfo line {l:?}"));
            MountLine {
                root: unescape(f[3]),
                point: unescape(f[4]),
                opts: f[5].to_string(),
                fstype: f[sep + 1].to_string(),
                source: unescape(f[sep + 2]),
                super_opts: f.get(sep + 3).copied().unwrap_or("").to_string(),
            }
        })
        .collect()
}

/// Processes that belong to a test: their root is `root` (same device and inode), or their
/// environment carries `container_uuid=UUID`. Returns (pid, cmdline).
pub fn leftover_processes(root: &Path, uuid: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let root_id = fs::metadata(root).ok().map(|m| (m.dev(), m.ino()));
    let marker = format!("container_uuid={uuid}");
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else { return out };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let dir = e.path();
        let same_root = fs::metadata(dir.join("root")).ok().map(|m| (m.dev(), m.ino())) == root_id && root_id.is_some();
        let env = fs::read(dir.join("environ")).unwrap_or_default();
        let tagged = env.split(|&b| b == 0).any(|v| v == marker.as_bytes());
        if same_root || tagged {
            // A zombie that is already gone between the checks is not a leftover.
            let cmd = fs::read(dir.join("cmdline")).unwrap_or_default();
            let state = fs::read_to_string(dir.join("stat")).unwrap_or_default();
            if state.is_empty() {
                continue;
            }
            out.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    out
}

/// Host PIDs whose command line (arguments joined by spaces) starts with `prefix`.
pub fn processes_with_cmdline(prefix: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let me = std::process::id() as i32;
    if let Ok(entries) = fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            if pid == me {
                continue;
            }
            let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmd).replace('\0', " ").starts_with(prefix) {
                out.push(pid);
            }
        }
    }
    out
}

/// The children of host process `ppid` (from `/proc/*/stat`).
pub fn children_of(ppid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            let Ok(stat) = fs::read_to_string(e.path().join("stat")) else { continue };
            // Fields after the `(comm)` part: state ppid ...
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let parent = rest.split_whitespace().nth(1).and_then(|p| p.parse::<i32>().ok());
            if parent == Some(ppid) {
                out.push(pid);
            }
        }
    }
    out
}

/// Every entry below `dir` as `"path kind mode [target|size]"`, sorted (symlinks not followed).
pub fn tree_listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let Ok(m) = fs::symlink_metadata(&p) else { continue };
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                out.push(format!("{rel} link -> {}", fs::read_link(&p).unwrap().display()));
            } else if m.is_dir() {
                out.push(format!("{rel} dir {mode:o}"));
                walk(base, &p, out);
            } else {
                out.push(format!("{rel} file {mode:o} {} {}", m.len(), m.mtime_nsec() + m.mtime() * 1_000_000_000));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A file's identity and state as a test compares it: content, mode, mtime, inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub content: Vec<u8>,
    pub mode: u32,
    pub mtime: (i64, i64),
    pub ino: u64,
}

/// The state of the file at `p` (following symlinks).
pub fn file_state(p: &Path) -> FileState {
    let m = fs::metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    FileState {
        content: if m.is_file() { fs::read(p).unwrap() } else { Vec::new() },
        mode: m.mode(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ino: m.ino(),
    }
}

/// Cgroup directories (under `/sys/fs/cgroup`, any hierarchy) whose name contains `machine`
/// as systemd escapes it in unit names (`-` is `\x2d`), or is `machine` (an OCI container's
/// leaf, named by its ID): what a container left behind.
pub fn cgroups_of_machine(machine: &str) -> Vec<std::path::PathBuf> {
    fn walk(d: &Path, depth: usize, frag: &str, raw: &str, out: &mut Vec<std::path::PathBuf>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let p = e.path();
            let n = e.file_name().to_string_lossy().into_owned();
            // nspawn's scopes name the machine escaped (`machine-a\x2db.scope`); the OCI
            // runtime's leaf is the container ID itself.
            if n.contains(frag) || n == raw {
                out.push(p.clone());
            }
            if depth > 0 {
                walk(&p, depth - 1, frag, raw, out);
            }
        }
    }
    let frag = machine.replace('-', "\\x2d");
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), 4, &frag, machine, &mut out);
    out
}

/// The throw-away overlay directories (`spawnbox-overlay-*`) in the host's `/var/tmp`.
pub fn throwaway_uppers() -> Vec<String> {
    fs::read_dir("/var/tmp")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("spawnbox-overlay-"))
                .collect()
        })
        .unwrap_or_default()
}
