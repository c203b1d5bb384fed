//! `--private-users=pick`: choosing a free 64K UID/GID range and holding its lock file for the
//! container's lifetime (nspawn's `uid_shift_pick()`).

use crate::error::{Error, Result};
use rustix::fd::OwnedFd;
use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::path::{Path, PathBuf};

/// Lowest base `pick` hands out (nspawn's CONTAINER_UID_BASE_MIN).
pub const BASE_MIN: u32 = 0x0008_0000;
/// Highest base `pick` hands out (nspawn's CONTAINER_UID_BASE_MAX).
pub const BASE_MAX: u32 = 0x6FFF_0000;
/// Size of every picked range.
pub const RANGE: u32 = 0x10000;
/// Candidates tried before giving up with EBUSY.
const MAX_TRIES: usize = 100;
/// nspawn's key for hashing the machine name into the second candidate.
const MACHINE_KEY: [u8; 16] =
    [0xe1, 0x56, 0xe0, 0xf0, 0x4a, 0xf0, 0x41, 0xaf, 0x96, 0x41, 0xcf, 0x41, 0x33, 0x94, 0xff, 0x72];
const PWD_LOCK: &str = "/etc/.pwd.lock";

/// Maps any value into [BASE_MIN, BASE_MAX) and aligns it down to a range boundary.
pub fn map_candidate(x: u64) -> u32 {
    ((x % u64::from(BASE_MAX - BASE_MIN)) as u32 + BASE_MIN) & 0xFFFF_0000
}

/// The machine-name candidate: siphash24 of the name, mapped.
pub fn machine_candidate(machine: &str) -> u32 {
    // nspawn assigns the 64-bit hash to a uid_t before the modulo: keep only the low 32 bits, or
    // the same name would get a different range than under systemd-nspawn.
    map_candidate(u64::from(netsetup::siphash24(machine.as_bytes(), &MACHINE_KEY) as u32))
}

/// Whether `base` lies in [BASE_MIN, BASE_MAX] on a range boundary.
pub fn acceptable(base: u32) -> bool {
    (BASE_MIN..=BASE_MAX).contains(&base) && base & (RANGE - 1) == 0
}

/// Whether the host's passwd or group text has an entry with id `base` or `base + 0xFFFE`.
pub fn ids_in_use(passwd: &str, group: &str, base: u32) -> bool {
    let ids = [base, base.saturating_add(0xFFFE)];
    let has = |text: &str| {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split(':').nth(2)?.trim().parse::<u32>().ok())
            .any(|id| ids.contains(&id))
    };
    has(passwd) || has(group)
}

/// The candidate sequence (at most 100): root owner base, machine hash, then `random()` values.
pub fn candidates<'a>(
    root_owner: u32,
    machine: &'a str,
    random: &'a mut dyn FnMut() -> u64,
) -> impl Iterator<Item = u32> + 'a {
    std::iter::once(root_owner & 0xFFFF_0000)
        .chain(std::iter::once_with(move || machine_candidate(machine)))
        .chain(std::iter::repeat_with(move || map_candidate(random())))
        .take(MAX_TRIES)
}

/// A picked range and its locked file `<lock_dir>/<base>`; dropping it unlinks the file.
#[derive(Debug)]
pub struct UidLock {
    base: u32,
    path: PathBuf,
    fd: OwnedFd,
}

impl UidLock {
    /// The first host UID (and GID) of the range.
    pub fn base(&self) -> u32 {
        self.base
    }
}

impl Drop for UidLock {
    fn drop(&mut self) {
        // Unlink while the lock is still held, and only our own inode: only a lock holder unlinks,
        // so a file with another inode at this path belongs to someone else.
        if same_inode(&self.fd, &self.path) {
            let _ = rustix::fs::unlink(&self.path);
        }
        // Leave the runtime root empty when this was the last range; ENOTEMPTY is the common case.
        if let Some(dir) = self.path.parent() {
            let _ = rustix::fs::rmdir(dir);
        }
    }
}

/// The whole algorithm, with the host's /etc/passwd and /etc/group read under /etc/.pwd.lock.
pub fn pick(root_owner: u32, machine: &str, lock_dir: &Path) -> Result<UidLock> {
    let ctx = "--private-users=pick";
    let _pwd_lock = lock_host_passwd().map_err(|e| e.context(ctx))?;
    let passwd = read_host_db(Path::new("/etc/passwd")).map_err(|e| e.context(ctx))?;
    let group = read_host_db(Path::new("/etc/group")).map_err(|e| e.context(ctx))?;
    pick_with(root_owner, machine, lock_dir, &|b| ids_in_use(&passwd, &group, b), &mut random_u64)
}

/// The same, with the host id check and randomness injected (for tests).
pub fn pick_with(
    root_owner: u32,
    machine: &str,
    lock_dir: &Path,
    in_use: &dyn Fn(u32) -> bool,
    random: &mut dyn FnMut() -> u64,
) -> Result<UidLock> {
    let ctx = "--private-users=pick";
    for base in candidates(root_owner, machine, random) {
        // Ids before the lock: a range the host already uses must not leave a lock file behind.
        if !acceptable(base) || in_use(base) {
            continue;
        }
        if let Some(lock) = try_lock(lock_dir, base).map_err(|e| e.context(ctx))? {
            log::debug!("Selected user namespace base {base} and range {RANGE}.");
            return Ok(lock);
        }
    }
    Err(Error::sys("no free UID range found after", format!("{MAX_TRIES} tries"), Errno::BUSY).context(ctx))
}

/// Locks `<lock_dir>/<base>` without blocking; `None` when another container holds it.
fn try_lock(lock_dir: &Path, base: u32) -> Result<Option<UidLock>> {
    let path = lock_dir.join(base.to_string());
    // A holder's Drop can pull the file (after our open, before our flock: we then hold a lock on
    // an orphan inode) or the emptied directory (our open fails with ENOENT) from under us.
    // Either way start over; a third loss in a row counts as busy.
    for _ in 0..3 {
        mkdir_all(lock_dir)?;
        let flags = OFlags::CREATE | OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::open(&path, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(Error::path("open", &path, e)),
        };
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => return Err(Error::path("lock", &path, e)),
        }
        if same_inode(&fd, &path) {
            return Ok(Some(UidLock { base, path, fd }));
        }
    }
    Ok(None)
}

/// Removes the lock files no running container holds (left by a killed launcher: its lock
/// went with it, the file stayed); returns how many.
pub fn remove_stale(lock_dir: &Path) -> Result<usize> {
    let entries = match std::fs::read_dir(lock_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::path("read", lock_dir, Errno::from_io_error(&e).unwrap_or(Errno::IO))),
    };
    let mut removed = 0;
    for base in entries.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok())) {
        // Taking the lock proves nobody holds it; dropping it unlinks the file.
        if try_lock(lock_dir, base)?.is_some() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether `path` (not followed) is the inode open as `fd`.
fn same_inode(fd: &OwnedFd, path: &Path) -> bool {
    match (rustix::fs::fstat(fd), rustix::fs::lstat(path)) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

/// `mkdir -p` (create_dir_all semantics), mode 0700 for every directory created.
fn mkdir_all(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::path("mkdir", dir, Errno::from_io_error(&e).unwrap_or(Errno::IO)))
}

/// Takes the host's passwd-database lock if /etc/.pwd.lock exists and can be opened for writing.
fn lock_host_passwd() -> Result<Option<OwnedFd>> {
    let path = Path::new(PWD_LOCK);
    // Open only, never create: the host's /etc must not change. A write lock needs O_WRONLY.
    let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ROFS | Errno::NOENT | Errno::ACCESS | Errno::PERM) => return Ok(None),
        Err(e) => return Err(Error::path("open", path, e)),
    };
    // A POSIX record lock, not flock(2): lckpwdf(3) (shadow-utils) takes F_SETLKW and
    // systemd-sysusers an OFD lock, and neither conflicts with a flock.
    loop {
        match rustix::fs::fcntl_lock(&fd, FlockOperation::LockExclusive) {
            Ok(()) => return Ok(Some(fd)),
            Err(Errno::INTR) => {}
            Err(e) => return Err(Error::path("lock", path, e)),
        }
    }
}

/// A host database as text; a missing file has no entries.
fn read_host_db(path: &Path) -> Result<String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::path("read", path, Errno::from_io_error(&e).unwrap_or(Errno::IO))),
    }
}

/// 64 random bits from getrandom(2); the clock stands in if it fails (the value only spreads
/// candidates, the lock files decide).
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let mut filled = 0;
    while filled < b.len() {
        match rustix::rand::getrandom(&mut b[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) if n > 0 => filled += n,
            Err(Errno::INTR) => {}
            _ => break,
        }
    }
    if filled < b.len() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        return netsetup::siphash24(&now.unwrap_or_default().as_nanos().to_le_bytes(), &MACHINE_KEY);
    }
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let p = std::env::temp_dir().join(format!("spawnbox-pick-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            Scratch(p)
        }
        fn lock_dir(&self) -> PathBuf {
            self.0.join("run/uid")
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn counter() -> impl FnMut() -> u64 {
        let mut n = 0u64;
        move || {
            n += 1;
            n * 0x1234_5678_9abc
        }
    }

    const FREE: &dyn Fn(u32) -> bool = &|_| false;
    /// siphash24(b"mycontainer", MACHINE_KEY) = 0xcb4758ce8d8145f6, computed with a separate
    /// Python SipHash-2-4 (checked against the reference vector a129ca6149be45e5); its low 32 bits
    /// 0x8d8145f6 % (BASE_MAX - BASE_MIN) + BASE_MIN, masked, is 496107520 = 0x1D92_0000.
    const MYCONTAINER: u32 = 0x1D92_0000;

    #[test]
    fn map_candidate_is_aligned_and_in_range() {
        assert_eq!(map_candidate(0), BASE_MIN);
        assert_eq!(map_candidate(u64::from(BASE_MAX - BASE_MIN) - 1), 0x6FFE_0000);
        assert_eq!(map_candidate(u64::from(BASE_MAX - BASE_MIN)), BASE_MIN);
        for x in [0, 1, 0xFFFF, 0x1_0000, 0xDEAD_BEEF, u64::from(u32::MAX), u64::MAX / 3, u64::MAX] {
            let c = map_candidate(x);
            assert!(acceptable(c), "{x:#x} -> {c:#x}");
        }
    }

    #[test]
    fn acceptable_edges() {
        let cases = [(BASE_MIN, true), (BASE_MAX, true), (BASE_MIN - RANGE, false), (BASE_MAX + RANGE, false)];
        for (base, ok) in cases.into_iter().chain([(BASE_MIN + 1, false), (BASE_MAX - 0x8000, false), (0, false)]) {
            assert_eq!(acceptable(base), ok, "{base:#x}");
        }
    }

    #[test]
    fn machine_candidate_matches_nspawn() {
        assert_eq!(machine_candidate("mycontainer"), MYCONTAINER);
        // Seen in a systemd-nspawn journal (machine "iporakepaba"), cross-checked in Python.
        assert_eq!(machine_candidate("iporakepaba"), 1_678_049_280);
    }

    #[test]
    fn ids_in_use_reads_field_three() {
        let b = 0x0010_0000;
        let pw = |uid: u32| format!("root:x:0:0::/root:/bin/sh\nu:x:{uid}:100::/:/bin/false\n");
        assert!(ids_in_use(&pw(b), "", b));
        assert!(ids_in_use(&pw(b + 0xFFFE), "", b));
        assert!(!ids_in_use(&pw(b + 1), "", b));
        assert!(!ids_in_use(&pw(b + 0xFFFF), "", b));
        assert!(ids_in_use("", &format!("g:x:{}:\n", b + 0xFFFE), b));
        assert!(!ids_in_use("", "g:x:5:\n", b));
        let junk = format!("# u:x:{b}:0\n\nno-colons\nu:x:{b}x:0\nu:x\n:::\n+::::::\n");
        assert!(!ids_in_use(&junk, &junk, b));
    }

    #[test]
    fn candidates_order_and_count() {
        let mut r = counter();
        let mut expect = counter();
        let all: Vec<u32> = candidates(0x0123_4567, "mycontainer", &mut r).collect();
        assert_eq!(all.len(), 100);
        assert_eq!(all[0], 0x0123_0000);
        assert_eq!(all[1], MYCONTAINER);
        for c in &all[2..] {
            assert_eq!(*c, map_candidate(expect()));
        }
    }

    #[test]
    fn root_owner_base_wins_and_lock_lives_with_the_guard() {
        let s = Scratch::new("owner");
        let lock = pick_with(0x0042_0123, "mycontainer", &s.lock_dir(), FREE, &mut counter()).unwrap();
        assert_eq!(lock.base(), 0x0042_0000);
        let file = s.lock_dir().join("4325376");
        assert!(file.exists());
        drop(lock);
        assert!(!file.exists());
        assert!(!s.lock_dir().exists());
        assert!(s.0.join("run").exists());
    }

    #[test]
    fn root_owner_zero_falls_to_machine_hash() {
        let s = Scratch::new("zero");
        let lock = pick_with(0, "mycontainer", &s.lock_dir(), FREE, &mut counter()).unwrap();
        assert_eq!(lock.base(), MYCONTAINER);
    }

    #[test]
    fn held_lock_and_used_ids_are_skipped() {
        let s = Scratch::new("busy");
        let held = pick_with(0x0042_0000, "m", &s.lock_dir(), FREE, &mut counter()).unwrap();
        // A separate open file description conflicts with flock even within one process.
        let again = pick_with(0x0042_0000, "mycontainer", &s.lock_dir(), FREE, &mut counter()).unwrap();
        assert_eq!(again.base(), MYCONTAINER);
        let in_use = |b: u32| b == MYCONTAINER;
        let third = pick_with(0x0042_0000, "mycontainer", &s.lock_dir(), &in_use, &mut counter()).unwrap();
        assert_eq!(third.base(), map_candidate(counter()()));
        assert_eq!(held.base(), 0x0042_0000);
    }

    #[test]
    fn drop_leaves_a_replaced_file_alone() {
        let s = Scratch::new("replaced");
        let lock = pick_with(0x0042_0000, "m", &s.lock_dir(), FREE, &mut counter()).unwrap();
        let file = s.lock_dir().join("4325376");
        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, "").unwrap();
        drop(lock);
        assert!(file.exists());
    }

    #[test]
    fn pick_reads_the_host_databases() {
        // Works as root (takes /etc/.pwd.lock, never writes it) and as a user (EACCES: skipped).
        let s = Scratch::new("host");
        let lock = pick(0, "mycontainer", &s.lock_dir()).unwrap();
        assert!(acceptable(lock.base()));
    }

    #[test]
    fn remove_stale_takes_only_unheld_locks() {
        let s = Scratch::new("stale");
        let dir = s.lock_dir();
        let held = pick_with(0x0009_0000, "m", &dir, &|_| false, &mut counter()).unwrap();
        std::fs::write(dir.join("655360"), "").unwrap();
        std::fs::write(dir.join("not-a-base"), "").unwrap();
        assert_eq!(remove_stale(&dir).unwrap(), 1);
        assert!(dir.join("589824").exists(), "a held lock was removed");
        assert!(!dir.join("655360").exists());
        assert!(dir.join("not-a-base").exists());
        drop(held);
        assert_eq!(remove_stale(&s.lock_dir().join("missing")).unwrap(), 0);
    }

    #[test]
    fn gives_up_after_100_tries() {
        let s = Scratch::new("full");
        let mut calls = 0;
        let mut r = || {
            calls += 1;
            0
        };
        let e = pick_with(0x0042_0000, "m", &s.lock_dir(), &|_| true, &mut r).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--private-users=pick: no free UID range found after 100 tries: device or resource busy"
        );
        assert_eq!(e.errno(), Some(16));
        assert_eq!(calls, 98);
        assert!(!s.lock_dir().exists());
    }
}
