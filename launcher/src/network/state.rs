//! Network state under the runtime directory (`/run/spawnbox`, or `$SPAWNBOX_RUNTIME_DIR`):
//! `net/lock`, held with `flock` while subnets are chosen and zones joined or left, and one
//! lease per running container, `net/MACHINE.lease`, naming its launcher (pid and start time,
//! so a lease whose launcher died is recognised as stale and reclaimed), its subnet and
//! address, its zone and whether it added nftables rules.
//!
//! Both directories are created 0700 and must be owned by the caller and closed to others;
//! everything is opened relative to them with `O_NOFOLLOW`.

use crate::error::{Error, Result};
use netsetup::Ipv4Net;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The runtime directory: `$SPAWNBOX_RUNTIME_DIR` (tests), else `/run/spawnbox`.
pub fn runtime_root() -> PathBuf {
    match std::env::var_os("SPAWNBOX_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/run/spawnbox"),
    }
}

/// One container's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub machine: String,
    /// The launcher's pid and start time (field 22 of `/proc/PID/stat`).
    pub pid: i32,
    pub start: u64,
    pub subnet: Option<Ipv4Net>,
    /// The container's address (`host0`).
    pub addr: Option<Ipv4Addr>,
    pub zone: Option<String>,
    /// Rules tagged with the machine name may exist in `ip spawnbox`.
    pub nft: bool,
}

impl Lease {
    /// The file's text: `key=value` lines.
    pub fn format(&self) -> String {
        let mut s = format!("pid={}\nstart={}\n", self.pid, self.start);
        if let Some(n) = self.subnet {
            s.push_str(&format!("subnet={n}\n"));
        }
        if let Some(a) = self.addr {
            s.push_str(&format!("addr={a}\n"));
        }
        if let Some(z) = &self.zone {
            s.push_str(&format!("zone={z}\n"));
        }
        if self.nft {
            s.push_str("nft=1\n");
        }
        s
    }

    /// Parses a lease file; `None` if it is not one of ours.
    pub fn parse(machine: &str, text: &str) -> Option<Lease> {
        let mut l =
            Lease { machine: machine.to_string(), pid: 0, start: 0, subnet: None, addr: None, zone: None, nft: false };
        for line in text.lines() {
            let (k, v) = line.split_once('=')?;
            match k {
                "pid" => l.pid = v.parse().ok()?,
                "start" => l.start = v.parse().ok()?,
                "subnet" => l.subnet = Some(v.parse().ok()?),
                "addr" => l.addr = Some(v.parse().ok()?),
                "zone" => l.zone = Some(v.to_string()),
                "nft" => l.nft = v == "1",
                _ => {}
            }
        }
        (l.pid > 0).then_some(l)
    }

    /// Whether the launcher that wrote the lease still runs (same pid, same start time).
    pub fn is_live(&self, start_time: &dyn Fn(i32) -> Option<u64>) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

/// The start time of process `pid` in clock ticks since boot (`/proc/PID/stat` field 22).
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields resume after
    // the last ')', with field 3 first.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Machine names become file names: letters, digits, `-`, `_` and `.`, not starting with a
/// dot (hostname rules already ensure this; checked again since it names a file).
pub fn valid_state_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `net/` below the runtime directory, opened (and created if missing).
pub struct StateDir {
    path: PathBuf,
    dir: OwnedFd,
}

/// The held `net/lock`; dropping it unlocks.
pub struct Locked<'a> {
    state: &'a StateDir,
    _lock: OwnedFd,
}

fn open_private_dir(parent: Option<&OwnedFd>, path: &Path, name: &Path, create: bool) -> Result<Option<OwnedFd>> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let open = || match parent {
        Some(p) => rustix::fs::openat(p, name, flags, Mode::empty()),
        None => rustix::fs::open(path, flags, Mode::empty()),
    };
    let fd = match open() {
        Ok(fd) => fd,
        Err(Errno::NOENT) if create => {
            let made = match parent {
                Some(p) => rustix::fs::mkdirat(p, name, Mode::from_raw_mode(0o700)),
                None => rustix::fs::mkdir(path, Mode::from_raw_mode(0o700)),
            };
            match made {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(Error::path("create state directory", path, e)),
            }
            open().map_err(|e| Error::path("open state directory", path, e))?
        }
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(Error::path("open state directory", path, e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat state directory", path, e))?;
    if st.st_uid != rustix::process::geteuid().as_raw() || st.st_mode & 0o077 != 0 {
        return Err(Error::msg(format!(
            "refusing state directory {}: it must be owned by uid {} and mode 0700 (it is uid {}, mode {:o})",
            path.display(),
            rustix::process::geteuid().as_raw(),
            st.st_uid,
            st.st_mode & 0o7777
        )));
    }
    Ok(Some(fd))
}

impl StateDir {
    /// Opens `ROOT/net`, creating both directories (0700) when `create`; `None` when they do
    /// not exist and `create` is false.
    pub fn open(root: &Path, create: bool) -> Result<Option<StateDir>> {
        let Some(top) = open_private_dir(None, root, root, create)? else {
            return Ok(None);
        };
        let path = root.join("net");
        let Some(dir) = open_private_dir(Some(&top), &path, Path::new("net"), create)? else {
            return Ok(None);
        };
        Ok(Some(StateDir { path, dir }))
    }

    /// Takes the lock (blocking).
    pub fn lock(&self) -> Result<Locked<'_>> {
        let p = self.path.join("lock");
        let fd = rustix::fs::openat(
            &self.dir,
            "lock",
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::path("open", &p, e))?;
        loop {
            match rustix::fs::flock(&fd, FlockOperation::LockExclusive) {
                Err(Errno::INTR) => continue,
                Err(e) => return Err(Error::path("lock", &p, e)),
                Ok(()) => break,
            }
        }
        Ok(Locked { state: self, _lock: fd })
    }
}

impl Locked<'_> {
    /// Every lease (unreadable or foreign files are skipped).
    pub fn leases(&self) -> Result<Vec<Lease>> {
        let dir = &self.state.dir;
        let what = &self.state.path;
        let fd = rustix::fs::openat(dir, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open", what, e))?;
        let mut rd = rustix::fs::Dir::read_from(&fd).map_err(|e| Error::path("read", what, e))?;
        let mut out = Vec::new();
        while let Some(ent) = rd.read() {
            let ent = ent.map_err(|e| Error::path("read", what, e))?;
            let name = ent.file_name().to_string_lossy();
            let Some(machine) = name.strip_suffix(".lease") else {
                continue;
            };
            if !valid_state_name(machine) {
                continue;
            }
            if let Some(text) = self.read(&name) {
                if let Some(l) = Lease::parse(machine, &text) {
                    out.push(l);
                }
            }
        }
        Ok(out)
    }

    fn read(&self, name: &str) -> Option<String> {
        let fd = rustix::fs::openat(
            &self.state.dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let mut buf = vec![0u8; 4096];
        let n = rustix::io::read(&fd, &mut buf).ok()?;
        buf.truncate(n);
        String::from_utf8(buf).ok()
    }

    /// Writes (or replaces) `lease` atomically: a temporary file, then a rename.
    pub fn write(&self, lease: &Lease) -> Result<()> {
        let name = lease_name(&lease.machine)?;
        let tmp = format!(".{name}.tmp");
        let path = self.state.path.join(&name);
        let dir = &self.state.dir;
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), rustix::fs::AtFlags::empty());
        let fd = rustix::fs::openat(
            dir,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::path("create", &path, e))?;
        let text = lease.format();
        crate::run_host::write_all(fd.as_fd(), text.as_bytes()).map_err(|e| Error::path("write", &path, e))?;
        drop(fd);
        rustix::fs::renameat(dir, tmp.as_str(), dir, name.as_str()).map_err(|e| Error::path("rename", &path, e))
    }

    /// Removes `machine`'s lease; a missing one is not an error.
    pub fn remove(&self, machine: &str) -> Result<()> {
        let name = lease_name(machine)?;
        match rustix::fs::unlinkat(&self.state.dir, name.as_str(), rustix::fs::AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(Error::path("remove", &self.state.path.join(&name), e)),
        }
    }
}

fn lease_name(machine: &str) -> Result<String> {
    if !valid_state_name(machine) {
        return Err(Error::msg(format!("machine name {machine:?} cannot name a lease file")));
    }
    Ok(format!("{machine}.lease"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn lease() -> Lease {
        Lease {
            machine: "web".into(),
            pid: 42,
            start: 4711,
            subnet: Some("10.0.0.16/28".parse().unwrap()),
            addr: Some(Ipv4Addr::new(10, 0, 0, 18)),
            zone: Some("lab".into()),
            nft: true,
        }
    }

    #[test]
    fn lease_text_round_trips() {
        let l = lease();
        assert_eq!(l.format(), "pid=42\nstart=4711\nsubnet=10.0.0.16/28\naddr=10.0.0.18\nzone=lab\nnft=1\n");
        assert_eq!(Lease::parse("web", &l.format()), Some(l));
        assert_eq!(Lease::parse("web", "garbage"), None);
        assert_eq!(Lease::parse("web", "pid=x\n"), None);
        assert_eq!(Lease::parse("web", "start=1\n"), None);
    }

    #[test]
    fn liveness_needs_pid_and_start_time() {
        let l = lease();
        assert!(l.is_live(&|p| (p == 42).then_some(4711)));
        assert!(!l.is_live(&|_| Some(4712)), "pid reused by another process");
        assert!(!l.is_live(&|_| None), "process gone");
        let me = rustix::process::getpid().as_raw_nonzero().get();
        assert!(process_start_time(me).is_some());
    }

    #[test]
    fn state_names() {
        for ok in ["web", "a.b", "x-1_2"] {
            assert!(valid_state_name(ok), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(!valid_state_name(bad), "{bad}");
        }
    }

    #[test]
    fn directory_is_created_private_and_leases_are_listed() {
        let root = std::env::temp_dir().join(format!("spawnbox-state-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert!(StateDir::open(&root, false).unwrap().is_none());
        let st = StateDir::open(&root, true).unwrap().unwrap();
        for d in [&root, &root.join("net")] {
            assert_eq!(std::fs::metadata(d).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let g = st.lock().unwrap();
        g.write(&lease()).unwrap();
        let mut other = lease();
        other.machine = "db".into();
        other.zone = None;
        g.write(&other).unwrap();
        std::fs::write(root.join("net/junk.txt"), "x").unwrap();
        let mut names: Vec<String> = g.leases().unwrap().into_iter().map(|l| l.machine).collect();
        names.sort();
        assert_eq!(names, ["db", "web"]);
        g.remove("web").unwrap();
        g.remove("web").unwrap();
        assert_eq!(g.leases().unwrap().len(), 1);
        assert!(g.remove("../x").is_err());
        drop(g);
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = StateDir::open(&root, true).err().unwrap().to_string();
        assert!(e.starts_with(&format!("refusing state directory {}", root.display())), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
