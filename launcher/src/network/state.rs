//! Network state under the runtime directory (`/run/spawnbox`, or `$SPAWNBOX_RUNTIME_DIR`):
//! `net/lock`, held with `flock` while subnets are chosen and zones joined or left, and the
//! lease index `net/leases`, one line per running container: its name, its launcher (pid and
//! start time, so a lease whose launcher died is recognised as stale and reclaimed), its
//! subnet and address, its zone and whether it added nftables rules.
//!
//! The index is read with one `read` and rewritten atomically (a temporary file, then a
//! rename) under the lock, so a start costs the same however many containers run: nothing
//! per container is opened, and liveness (`/proc/PID/stat`) is checked only where it decides
//! something (a name taken, a pool or zone full, rules about to be added, `--cleanup`).
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
    /// Appends the lease's line in the index to `out`: the machine name, then `key=value`
    /// fields. Written by hand, not with `format!`: the
    /// index is rewritten at every start and stop, and `core::fmt` made that the largest
    /// part of a start's CPU time with 1,000 leases.
    fn write_line(&self, out: &mut String) {
        out.push_str(&self.machine);
        out.push_str(" pid=");
        push_num(out, u64::from(self.pid.unsigned_abs()));
        out.push_str(" start=");
        push_num(out, self.start);
        if let Some(n) = self.subnet {
            out.push_str(" subnet=");
            push_ipv4(out, n.addr());
            out.push('/');
            push_num(out, u64::from(n.prefix_len()));
        }
        if let Some(a) = self.addr {
            out.push_str(" addr=");
            push_ipv4(out, a);
        }
        if let Some(z) = &self.zone {
            out.push_str(" zone=");
            out.push_str(z);
        }
        if self.nft {
            out.push_str(" nft=1");
        }
        out.push('\n');
    }

    /// Parses one line of the index; `None` if it is not a lease (unknown keys are skipped).
    pub fn parse(line: &str) -> Option<Lease> {
        let mut fields = line.split_ascii_whitespace();
        let machine = fields.next().filter(|m| valid_state_name(m))?;
        let mut l =
            Lease { machine: machine.to_string(), pid: 0, start: 0, subnet: None, addr: None, zone: None, nft: false };
        for f in fields {
            let (k, v) = f.split_once('=')?;
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

/// Appends `n` in decimal.
fn push_num(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}

/// Appends `a` as `A.B.C.D`.
fn push_ipv4(out: &mut String, a: Ipv4Addr) {
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_num(out, u64::from(o));
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

/// The index's text: one line per lease.
pub fn format_index(leases: &[Lease]) -> String {
    let mut out = String::with_capacity(leases.len() * 80);
    for l in leases {
        l.write_line(&mut out);
    }
    out
}

/// The leases of an index's text; a line that is not a lease (spawnbox writes none) is
/// skipped. Linear in the index, nothing more: this runs at every start and stop.
pub fn parse_index(text: &str) -> Vec<Lease> {
    let mut out = Vec::with_capacity(text.len() / 64);
    for line in text.lines() {
        match Lease::parse(line) {
            Some(l) => out.push(l),
            None => log::debug!("lease index: skipping {line:?}"),
        }
    }
    out
}

/// The file name of the index in `net/`.
const INDEX: &str = "leases";
/// Its temporary name while it is rewritten.
const INDEX_TMP: &str = ".leases.tmp";

impl Locked<'_> {
    /// Every lease in the index (none when there is no index yet).
    pub fn leases(&self) -> Result<Vec<Lease>> {
        let path = self.state.path.join(INDEX);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.state.dir, INDEX, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(Vec::new()),
            Err(e) => return Err(Error::path("open", &path, e)),
        };
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut std::fs::File::from(fd), &mut text)
            .map_err(|e| Error::path("read", &path, Errno::from_io_error(&e).unwrap_or(Errno::IO)))?;
        Ok(parse_index(&String::from_utf8_lossy(&text)))
    }

    /// Replaces the index with `leases`, atomically: a temporary file, then a rename. An empty
    /// index is removed.
    pub fn save(&self, leases: &[Lease]) -> Result<()> {
        let path = self.state.path.join(INDEX);
        let dir = &self.state.dir;
        if leases.is_empty() {
            return match rustix::fs::unlinkat(dir, INDEX, rustix::fs::AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(Error::path("remove", &path, e)),
            };
        }
        let _ = rustix::fs::unlinkat(dir, INDEX_TMP, rustix::fs::AtFlags::empty());
        let fd = rustix::fs::openat(
            dir,
            INDEX_TMP,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::path("create", &path, e))?;
        let text = format_index(leases);
        crate::run_host::write_all(fd.as_fd(), text.as_bytes()).map_err(|e| Error::path("write", &path, e))?;
        drop(fd);
        rustix::fs::renameat(dir, INDEX_TMP, dir, INDEX).map_err(|e| Error::path("rename", &path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    impl Lease {
        fn format(&self) -> String {
            format_index(std::slice::from_ref(self))
        }
    }

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
    fn lease_line_round_trips() {
        let l = lease();
        assert_eq!(l.format(), "web pid=42 start=4711 subnet=10.0.0.16/28 addr=10.0.0.18 zone=lab nft=1\n");
        assert_eq!(Lease::parse(&l.format()), Some(l.clone()));
        let bare = Lease { subnet: None, addr: None, zone: None, nft: false, ..l };
        assert_eq!(bare.format(), "web pid=42 start=4711\n");
        assert_eq!(Lease::parse("web pid=42 start=4711"), Some(bare.clone()));
        // Fields of a later version are skipped; their order does not matter.
        assert_eq!(Lease::parse("web start=4711 v6=fd00::/64 pid=42"), Some(bare));
        for bad in [
            "",
            "garbage",
            "web",
            "web pid=x start=1",
            "web start=1",
            "web pid=1 start",
            "../x pid=1 start=1",
            "web pid=1 subnet=10.0.0.1/28",
            "web pid=1 addr=10.0.0",
        ] {
            assert_eq!(Lease::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_and_addresses_are_written_as_display_writes_them() {
        for n in [0, 7, 10, 4711, u64::from(u32::MAX), u64::MAX] {
            let mut s = String::new();
            push_num(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        for a in [Ipv4Addr::UNSPECIFIED, Ipv4Addr::new(10, 0, 100, 255), Ipv4Addr::BROADCAST] {
            let mut s = String::new();
            push_ipv4(&mut s, a);
            assert_eq!(s, a.to_string());
        }
    }

    #[test]
    fn index_text_round_trips_and_skips_what_is_not_a_lease() {
        let web = lease();
        let db = Lease { machine: "db".into(), pid: 7, start: 8, zone: None, nft: false, ..lease() };
        let text = format_index(&[web.clone(), db.clone()]);
        assert_eq!(
            text,
            "web pid=42 start=4711 subnet=10.0.0.16/28 addr=10.0.0.18 zone=lab nft=1\ndb pid=7 start=8 subnet=10.0.0.16/28 addr=10.0.0.18\n"
        );
        assert_eq!(parse_index(&text), [web.clone(), db.clone()]);
        assert_eq!(parse_index(""), []);
        // A torn or foreign line is skipped.
        let messy = format!("junk\n{}\nweb pid=1 start=x\n{}", web.format().trim_end(), db.format());
        assert_eq!(parse_index(&messy), [web, db]);
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
    fn directory_is_created_private_and_the_index_is_rewritten_whole() {
        let root = std::env::temp_dir().join(format!("spawnbox-state-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert!(StateDir::open(&root, false).unwrap().is_none());
        let st = StateDir::open(&root, true).unwrap().unwrap();
        for d in [&root, &root.join("net")] {
            assert_eq!(std::fs::metadata(d).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let g = st.lock().unwrap();
        assert_eq!(g.leases().unwrap(), []);
        let other = Lease { machine: "db".into(), zone: None, ..lease() };
        g.save(&[lease(), other.clone()]).unwrap();
        let index = root.join("net/leases");
        assert_eq!(std::fs::read_to_string(&index).unwrap(), format_index(&[lease(), other.clone()]));
        assert_eq!(std::fs::metadata(&index).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(g.leases().unwrap(), [lease(), other.clone()]);
        // A temporary file left by a launcher killed while writing is replaced.
        std::fs::write(root.join("net/.leases.tmp"), "torn").unwrap();
        g.save(std::slice::from_ref(&other)).unwrap();
        assert_eq!(g.leases().unwrap(), [other]);
        assert!(!root.join("net/.leases.tmp").exists());
        // Not UTF-8: the lines that parse still count.
        std::fs::write(&index, b"\xff\xfe\nweb pid=42 start=4711\n").unwrap();
        assert_eq!(g.leases().unwrap().len(), 1);
        g.save(&[]).unwrap();
        assert!(!index.exists());
        g.save(&[]).unwrap();
        assert_eq!(g.leases().unwrap(), []);
        drop(g);
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = StateDir::open(&root, true).err().unwrap().to_string();
        assert!(e.starts_with(&format!("refusing state directory {}", root.display())), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
