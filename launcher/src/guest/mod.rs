//! The guest's init, as `-b` executes it, and how each one is asked to power off, reboot or
//! halt: systemd, sysvinit (through `/run/initctl`), OpenRC's openrc-init, busybox init,
//! runit, s6-linux-init, spawnbox-init and the signal forwarders (tini, dumb-init, catatonit).
//! One table; docs/GUESTS.md repeats it with how each row was verified.

pub mod initctl;

use crate::cli::SIGRTMIN;
use crate::error::{Error, Result};
use crate::rootfs::{self, Follow};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{Mode, OFlags};
use std::path::Path;

/// A clean end the guest can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    Poweroff,
    Reboot,
    Halt,
}

impl Shutdown {
    /// The word nspawn's messages use.
    pub fn word(self) -> &'static str {
        match self {
            Shutdown::Poweroff => "power off",
            Shutdown::Reboot => "reboot",
            Shutdown::Halt => "halt",
        }
    }
}

/// One way of asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// kill(2) PID 1 with this signal.
    Signal(i32),
    /// A runlevel change request written to sysvinit's `/run/initctl` FIFO.
    Runlevel(u8),
    /// runit: its `stopit` file made executable (and `reboot` too, or not), then SIGCONT:
    /// what runit-init does for `init 0` / `init 6`. The files' paths differ by distribution.
    Runit { reboot: bool, stopit: &'static str, reboot_file: &'static str },
    /// The init has no such request.
    Unsupported,
}

/// The init families spawnbox knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitKind {
    Systemd,
    Sysvinit,
    OpenrcInit,
    Busybox,
    /// runit upstream and Void (`/etc/runit/stopit`).
    Runit,
    /// Debian's runit (`/run/runit.stopit`).
    RunitDebian,
    S6LinuxInit,
    SpawnboxInit,
    /// tini, dumb-init, catatonit: they pass SIGTERM on to their child.
    Forwarder,
    /// Anything else: systemd's signals, as nspawn sends them to every guest.
    Unknown,
}

/// A row of the table: how an init is recognised and asked.
pub struct Row {
    pub kind: InitKind,
    pub name: &'static str,
    /// File names the init's binary has (after symlinks are followed).
    pub file_names: &'static [&'static str],
    /// Byte strings found in the binary (or script) when its name says nothing (`/sbin/init`).
    pub markers: &'static [&'static [u8]],
    pub poweroff: &'static [Ask],
    pub reboot: &'static [Ask],
    pub halt: &'static [Ask],
}

const RT: i32 = SIGRTMIN;
const INT: i32 = libc::SIGINT;
const TERM: i32 = libc::SIGTERM;
const USR1: i32 = libc::SIGUSR1;
const USR2: i32 = libc::SIGUSR2;
const RUNIT_STOPIT: &str = "/etc/runit/stopit";
const RUNIT_REBOOT: &str = "/etc/runit/reboot";
const DEBIAN_STOPIT: &str = "/run/runit.stopit";
const DEBIAN_REBOOT: &str = "/run/runit.reboot";

/// Every known init, in the order they are recognised (markers of earlier rows win).
pub const TABLE: &[Row] = &[
    // systemd(1) "Signals": SIGRTMIN+3 halt, +4 poweroff, +5 reboot (SIGINT: ctrl-alt-del.target).
    Row {
        kind: InitKind::Systemd,
        name: "systemd",
        file_names: &["systemd"],
        markers: &[],
        poweroff: &[Ask::Signal(RT + 4)],
        reboot: &[Ask::Signal(RT + 5)],
        halt: &[Ask::Signal(RT + 3)],
    },
    // spawnbox-init (docs/STUB-INIT.md): systemd's numbering.
    Row {
        kind: InitKind::SpawnboxInit,
        name: "spawnbox-init",
        file_names: &["spawnbox-init"],
        markers: &[b"spawnbox-init"],
        poweroff: &[Ask::Signal(RT + 4)],
        reboot: &[Ask::Signal(RT + 5)],
        halt: &[Ask::Signal(RT + 3)],
    },
    // busybox init/init.c: SIGUSR1 halt, SIGUSR2 poweroff, SIGTERM reboot (after ::shutdown:).
    Row {
        kind: InitKind::Busybox,
        name: "busybox init",
        file_names: &["busybox"],
        markers: &[b"BusyBox v"],
        poweroff: &[Ask::Signal(USR2)],
        reboot: &[Ask::Signal(TERM)],
        halt: &[Ask::Signal(USR1)],
    },
    // OpenRC src/openrc-init/openrc-init.c: SIGINT reboot, SIGTERM (and SIGPWR) "shutdown"
    // (RB_HALT_SYSTEM, which a PID namespace reports like a power-off); every other signal,
    // systemd's included, is blocked and never read.
    Row {
        kind: InitKind::OpenrcInit,
        name: "openrc-init",
        file_names: &["openrc-init"],
        markers: &[b"openrc-init"],
        poweroff: &[Ask::Signal(TERM)],
        reboot: &[Ask::Signal(INT)],
        halt: &[Ask::Signal(TERM)],
    },
    // runit.c: SIGTERM is blocked; SIGCONT with `stopit` executable ends stage 2 and runs stage
    // 3, then reboot(2) (RB_AUTOBOOT if `reboot` is executable, else RB_POWER_OFF). No halt.
    Row {
        kind: InitKind::Runit,
        name: "runit",
        file_names: &["runit", "runit-init"],
        markers: &[b"- runit: "],
        poweroff: &[Ask::Runit { reboot: false, stopit: RUNIT_STOPIT, reboot_file: RUNIT_REBOOT }],
        reboot: &[Ask::Runit { reboot: true, stopit: RUNIT_STOPIT, reboot_file: RUNIT_REBOOT }],
        halt: &[Ask::Runit { reboot: false, stopit: RUNIT_STOPIT, reboot_file: RUNIT_REBOOT }],
    },
    // Debian builds runit with the files in /run (runit-init's strings name /run/runit.stopit).
    Row {
        kind: InitKind::RunitDebian,
        name: "runit (Debian)",
        file_names: &[],
        markers: &[b"/run/runit.stopit"],
        poweroff: &[Ask::Runit { reboot: false, stopit: DEBIAN_STOPIT, reboot_file: DEBIAN_REBOOT }],
        reboot: &[Ask::Runit { reboot: true, stopit: DEBIAN_STOPIT, reboot_file: DEBIAN_REBOOT }],
        halt: &[Ask::Runit { reboot: false, stopit: DEBIAN_STOPIT, reboot_file: DEBIAN_REBOOT }],
    },
    // s6-linux-init 1.x (s6-linux-init-maker.c): s6-svscan as PID 1 runs .s6-svscan/SIGUSR1
    // (poweroff), SIGUSR2 (halt), SIGINT (reboot); SIGTERM only in container mode (-C).
    Row {
        kind: InitKind::S6LinuxInit,
        name: "s6-linux-init",
        file_names: &["s6-linux-init", "s6-svscan"],
        markers: &[b"s6-linux-init"],
        poweroff: &[Ask::Signal(USR1)],
        reboot: &[Ask::Signal(INT)],
        halt: &[Ask::Signal(USR2)],
    },
    // sysvinit (init.c, initreq.h): a runlevel request on /run/initctl, what telinit and
    // shutdown write; it ignores SIGTERM and, before 3.10, every real-time signal. Fallbacks
    // when the FIFO is missing: SIGRTMIN+4 (3.10+: `shutdown -hP now`), SIGINT (ctrlaltdel,
    // a reboot in Debian's inittab).
    Row {
        kind: InitKind::Sysvinit,
        name: "sysvinit",
        file_names: &[],
        markers: &[b"INIT_VERSION=sysvinit", b"/run/initctl", b"/dev/initctl"],
        poweroff: &[Ask::Runlevel(b'0'), Ask::Signal(RT + 4)],
        reboot: &[Ask::Runlevel(b'6'), Ask::Signal(INT)],
        halt: &[Ask::Runlevel(b'0'), Ask::Signal(RT + 4)],
    },
    // tini, dumb-init, catatonit forward SIGTERM to their child and exit with it.
    Row {
        kind: InitKind::Forwarder,
        name: "signal forwarder",
        file_names: &["tini", "tini-static", "dumb-init", "catatonit"],
        markers: &[b"tini version", b"dumb-init", b"catatonit"],
        poweroff: &[Ask::Signal(TERM)],
        reboot: &[Ask::Unsupported],
        halt: &[Ask::Signal(TERM)],
    },
    // nspawn's defaults for any guest (machinectl reboots with SIGINT: "sysvinit + systemd").
    Row {
        kind: InitKind::Unknown,
        name: "unknown init",
        file_names: &[],
        markers: &[],
        poweroff: &[Ask::Signal(RT + 4)],
        reboot: &[Ask::Signal(INT)],
        halt: &[Ask::Signal(RT + 3)],
    },
];

/// The init kind a registry entry names (`row(kind).name`); `Unknown` for any other word.
pub fn kind_named(name: &str) -> InitKind {
    TABLE.iter().find(|r| r.name == name).map_or(InitKind::Unknown, |r| r.kind)
}

/// The row of `kind`.
pub fn row(kind: InitKind) -> &'static Row {
    TABLE.iter().find(|r| r.kind == kind).unwrap_or(&TABLE[TABLE.len() - 1])
}

/// How `kind` is asked for `what`, in the order tried.
pub fn asks(kind: InitKind, what: Shutdown) -> &'static [Ask] {
    let r = row(kind);
    match what {
        Shutdown::Poweroff => r.poweroff,
        Shutdown::Reboot => r.reboot,
        Shutdown::Halt => r.halt,
    }
}

/// Most of an init binary that is read to find its markers.
const MAX_SCAN: usize = 8 << 20;

/// Recognises an init from the name of the file `init` resolves to in the tree, then from
/// the markers in its content.
pub fn identify(tree: BorrowedFd<'_>, init: &Path) -> InitKind {
    let Ok(fd) = rootfs::open_path(tree, init, Follow::InRoot) else { return InitKind::Unknown };
    let name = std::fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd)))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    // The content only when the name says nothing (or names runit, whose files differ by
    // distribution): busybox is 2 MB.
    let named = TABLE.iter().find(|r| r.file_names.contains(&name.as_str())).map(|r| r.kind);
    let content = match named {
        Some(k) if k != InitKind::Runit => Vec::new(),
        _ => rootfs::read_small_file(tree, init, MAX_SCAN).ok().flatten().unwrap_or_default(),
    };
    let kind = classify(&name, &content);
    log::debug!("init {} is {} ({name})", init.display(), row(kind).name);
    kind
}

/// The pure part of [`identify`]: the file's name, then its content.
pub fn classify(file_name: &str, content: &[u8]) -> InitKind {
    if let Some(r) = TABLE.iter().find(|r| r.file_names.contains(&file_name)) {
        if r.kind == InitKind::Runit && contains(content, DEBIAN_STOPIT.as_bytes()) {
            return InitKind::RunitDebian;
        }
        return r.kind;
    }
    TABLE.iter().find(|r| r.markers.iter().any(|m| contains(content, m))).map_or(InitKind::Unknown, |r| r.kind)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else { return false };
    let mut i = 0;
    while let Some(p) = hay[i..].iter().position(|&b| b == first) {
        let at = i + p;
        if hay[at..].starts_with(needle) {
            return true;
        }
        i = at + 1;
    }
    false
}

/// What came of asking the guest.
#[derive(Debug, PartialEq, Eq)]
pub enum Asked {
    /// The request went out; how, for the log.
    Sent(String),
    /// The init does not listen yet (no handler for the signal, no reader on its FIFO: it is
    /// still starting, and the kernel would drop the request); ask again in a moment.
    NotYet(String),
}

/// Asks the guest whose PID 1 is `pid` (on the host) for `what`, the way `kind` understands;
/// `signal` overrides it (`--kill-signal=`).
pub fn ask(pid: i32, kind: InitKind, what: Shutdown, signal: Option<i32>) -> Result<Asked> {
    if let Some(sig) = signal {
        return signal_if_heard(pid, sig);
    }
    let mut last = Error::msg(format!("{} has no {} request", row(kind).name, what.word()));
    let mut not_yet = None;
    for a in asks(kind, what) {
        let r = match *a {
            Ask::Signal(sig) => signal_if_heard(pid, sig),
            Ask::Runlevel(level) => match initctl::request_runlevel(pid, level) {
                Ok(p) => Ok(Asked::Sent(format!("runlevel {} via {p}", level as char))),
                // Nobody reads the FIFO yet, or init has not made it yet.
                Err(e) if e.errno().is_some_and(|n| n == libc::ENXIO || n == libc::ENOENT) => {
                    Ok(Asked::NotYet(e.to_string()))
                }
                Err(e) => Err(e),
            },
            Ask::Runit { reboot, stopit, reboot_file } => runit_stop(pid, reboot, stopit, reboot_file),
            Ask::Unsupported => continue,
        };
        match r {
            Ok(Asked::Sent(how)) => return Ok(Asked::Sent(how)),
            Ok(Asked::NotYet(why)) => {
                log::debug!("{} request: {why}", what.word());
                not_yet.get_or_insert(why);
            }
            Err(e) => {
                log::debug!("{} request: {e}", what.word());
                last = e;
            }
        }
    }
    match not_yet {
        Some(why) => Ok(Asked::NotYet(why)),
        None => Err(last),
    }
}

/// Sends `sig` to `pid` if the process will see it: it has a handler for it or blocks it (to
/// read it from a signalfd). A PID 1 gets neither from outside its namespace otherwise.
fn signal_if_heard(pid: i32, sig: i32) -> Result<Asked> {
    let name = crate::signals::signal_name(sig);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    if !hears(&status, sig) {
        return Ok(Asked::NotYet(format!("PID 1 neither catches nor blocks {name} yet")));
    }
    send(pid, sig).map(Asked::Sent)
}

/// Whether `/proc/PID/status` text shows that the process set up its signal handling: `sig`
/// caught or blocked, or, as an init waiting in sigtimedwait(2) shows it (the kernel unblocks
/// the waited-for set while it waits, and /proc does not show the real mask), anything caught
/// or blocked at all. A freshly executed init has neither: spawnbox resets both before exec.
pub fn hears(status: &str, sig: i32) -> bool {
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    let set_up = mask("SigCgt:") | mask("SigBlk:");
    set_up & (1u64 << (sig - 1)) != 0 || set_up != 0
}

fn send(pid: i32, sig: i32) -> Result<String> {
    let name = crate::signals::signal_name(sig);
    crate::sys::kill(pid, sig).map_err(|e| Error::sys("send", format!("{name} to the container"), e))?;
    Ok(name)
}

/// What runit-init does for `init 0` / `init 6`: `stopit` executable by its owner, `reboot`
/// executable or not, then SIGCONT to PID 1. Both files are made inside the guest's own root.
fn runit_stop(pid: i32, reboot: bool, stopit: &str, reboot_file: &str) -> Result<Asked> {
    let root = initctl::open_guest_root(pid)?;
    for (name, mode) in [(reboot_file, if reboot { 0o100 } else { 0 }), (stopit, 0o100)] {
        let path = Path::new(name);
        let fd = match rootfs::open_path(root.as_fd(), path, Follow::Never) {
            // Made by us, so it cannot be a device or a FIFO of the guest's.
            Err(rustix::io::Errno::NOENT) => rootfs::open_in_root(
                root.as_fd(),
                path,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW,
                Follow::Never,
            ),
            other => other,
        }
        .map_err(|e| Error::path("open", path, e))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat", path, e))?;
        if st.st_mode & 0o170000 != 0o100000 {
            return Err(Error::msg(format!("{} is not a regular file", path.display())));
        }
        // An O_PATH handle cannot be fchmod'ed; its /proc/self/fd link names exactly this inode.
        rustix::fs::chmod(initctl::fd_path(fd.as_fd()), Mode::from_raw_mode(mode))
            .map_err(|e| Error::path("chmod", path, e))?;
    }
    Ok(match signal_if_heard(pid, libc::SIGCONT)? {
        Asked::Sent(s) => Asked::Sent(format!("{stopit} and {s}")),
        not_yet => not_yet,
    })
}

#[cfg(test)]
mod tests;
