//! The signal table: which signals are shutdown requests, which are forwarded, which stay unblocked.
//!
//! Real-time signals use systemd's numbering, where SIGRTMIN is glibc's 34 (the kernel's first
//! real-time signal is 32 and musl's SIGRTMIN is 35, so the libc constant must not be used).
//! Halt, poweroff and reboot requests come from `machinectl`, `systemctl`, the nspawn hotkeys,
//! busybox's `poweroff`/`reboot`/`halt` applets and our own `spawnbox-init poweroff|reboot|halt`.

use crate::mode::Mode;
use linux_raw_sys::general;

// The kernel's numbers for the build's architecture (the same on x86 and arm; mips, sparc and
// alpha differ).
pub const SIGHUP: i32 = general::SIGHUP as i32;
pub const SIGINT: i32 = general::SIGINT as i32;
pub const SIGILL: i32 = general::SIGILL as i32;
pub const SIGTRAP: i32 = general::SIGTRAP as i32;
pub const SIGABRT: i32 = general::SIGABRT as i32;
pub const SIGBUS: i32 = general::SIGBUS as i32;
pub const SIGFPE: i32 = general::SIGFPE as i32;
pub const SIGKILL: i32 = general::SIGKILL as i32;
pub const SIGUSR1: i32 = general::SIGUSR1 as i32;
pub const SIGSEGV: i32 = general::SIGSEGV as i32;
pub const SIGUSR2: i32 = general::SIGUSR2 as i32;
pub const SIGTERM: i32 = general::SIGTERM as i32;
pub const SIGCHLD: i32 = general::SIGCHLD as i32;
pub const SIGCONT: i32 = general::SIGCONT as i32;
pub const SIGSTOP: i32 = general::SIGSTOP as i32;
pub const SIGSYS: i32 = general::SIGSYS as i32;
/// systemd's SIGRTMIN (glibc's value), the base of every `SIGRTMIN+n` in this table.
pub const SIGRTMIN: i32 = 34;
/// The highest signal number (`_NSIG`: 64 on x86, arm and riscv, 128 on mips).
pub const SIGMAX: i32 = general::_NSIG as i32;

/// What a shutdown request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Halt,
    Poweroff,
    Reboot,
}

impl Request {
    /// The word used on the command line and in messages.
    pub const fn name(self) -> &'static [u8] {
        match self {
            Request::Halt => b"halt",
            Request::Poweroff => b"poweroff",
            Request::Reboot => b"reboot",
        }
    }

    /// Parse `halt`, `poweroff` or `reboot`.
    pub fn from_name(name: &[u8]) -> Option<Request> {
        [Request::Halt, Request::Poweroff, Request::Reboot].into_iter().find(|r| r.name() == name)
    }

    /// The signal `spawnbox-init poweroff|reboot|halt` sends to PID 1: systemd's, which both
    /// modes understand (busybox's SIGUSR2/SIGTERM/SIGUSR1 would be forwarded in a container).
    pub const fn signal(self) -> i32 {
        match self {
            Request::Halt => SIGRTMIN + 3,
            Request::Poweroff => SIGRTMIN + 4,
            Request::Reboot => SIGRTMIN + 5,
        }
    }
}

const BOTH: u8 = 0b11;
const HOST: u8 = 0b10;

/// Shutdown requests: (signal, request, modes that honour it).
const REQUESTS: [(i32, Request, u8); 12] = [
    // Ctrl-Alt-Del (the kernel sends it after reboot(RB_DISABLE_CAD)), `machinectl reboot`.
    (SIGINT, Request::Reboot, BOTH),
    // systemd: halt, poweroff, reboot, kexec (treated as reboot).
    (SIGRTMIN + 3, Request::Halt, BOTH),
    (SIGRTMIN + 4, Request::Poweroff, BOTH),
    (SIGRTMIN + 5, Request::Reboot, BOTH),
    (SIGRTMIN + 6, Request::Reboot, BOTH),
    // systemd's "immediate" variants (`systemctl poweroff -ff`): same handling here.
    (SIGRTMIN + 13, Request::Halt, BOTH),
    (SIGRTMIN + 14, Request::Poweroff, BOTH),
    (SIGRTMIN + 15, Request::Reboot, BOTH),
    (SIGRTMIN + 16, Request::Reboot, BOTH),
    // busybox init conventions (its halt/poweroff/reboot applets). In a container these
    // belong to the payload and are forwarded instead.
    (SIGUSR1, Request::Halt, HOST),
    (SIGUSR2, Request::Poweroff, HOST),
    (SIGTERM, Request::Reboot, HOST),
];

/// Signals the kernel raises synchronously for a fault in this process. They stay unblocked
/// so that a bug in PID 1 kills it instead of hanging it.
pub const SYNCHRONOUS: [i32; 7] = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS];

/// What PID 1 does with a signal it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// SIGCHLD: reap children.
    Reap,
    /// Start the shutdown sequence.
    Shutdown(Request),
    /// Pass it on to the payload (container mode).
    Forward,
    /// Drop it (host mode: only requests mean something to a machine's init).
    Ignore,
}

const fn mode_bit(mode: Mode) -> u8 {
    match mode {
        Mode::Container => 0b01,
        Mode::Host => 0b10,
    }
}

/// The shutdown request a signal means in `mode`, if any.
pub fn request(mode: Mode, sig: i32) -> Option<Request> {
    REQUESTS.iter().find(|(s, _, modes)| *s == sig && modes & mode_bit(mode) != 0).map(|(_, r, _)| *r)
}

/// Classify a received signal.
pub fn classify(mode: Mode, sig: i32) -> Action {
    if sig == SIGCHLD {
        return Action::Reap;
    }
    if let Some(r) = request(mode, sig) {
        return Action::Shutdown(r);
    }
    match mode {
        Mode::Container => Action::Forward,
        Mode::Host => Action::Ignore,
    }
}

/// Whether PID 1 keeps `sig` blocked (and so receives it through sigtimedwait).
pub fn is_blocked(sig: i32) -> bool {
    (1..=SIGMAX).contains(&sig) && sig != SIGKILL && sig != SIGSTOP && !SYNCHRONOUS.contains(&sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_numbering_is_hard_coded() {
        // systemd documents poweroff as SIGRTMIN+4 = 38 (with glibc's SIGRTMIN = 34).
        assert_eq!(SIGRTMIN, 34);
        assert_eq!(Request::Halt.signal(), 37);
        assert_eq!(Request::Poweroff.signal(), 38);
        assert_eq!(Request::Reboot.signal(), 39);
    }

    #[test]
    fn container_requests_match_nspawn_stub() {
        let c = Mode::Container;
        for s in [37, 38, 47, 48] {
            assert!(matches!(request(c, s), Some(Request::Halt | Request::Poweroff)), "{s}");
        }
        for s in [SIGINT, 39, 40, 49, 50] {
            assert_eq!(request(c, s), Some(Request::Reboot), "{s}");
        }
        assert_eq!(request(c, 37), Some(Request::Halt));
        assert_eq!(request(c, 38), Some(Request::Poweroff));
        assert_eq!(request(c, 47), Some(Request::Halt));
        assert_eq!(request(c, 48), Some(Request::Poweroff));
    }

    #[test]
    fn container_forwards_everything_else() {
        let requests = [SIGINT, 37, 38, 39, 40, 47, 48, 49, 50];
        for s in 1..=SIGMAX {
            let want = if s == SIGCHLD {
                Action::Reap
            } else if requests.contains(&s) {
                classify(Mode::Container, s) // checked above
            } else {
                Action::Forward
            };
            assert_eq!(classify(Mode::Container, s), want, "signal {s}");
        }
        for s in [SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, 28 /* WINCH */, SIGCONT, 3 /* QUIT */, 14] {
            assert_eq!(classify(Mode::Container, s), Action::Forward, "{s}");
        }
    }

    #[test]
    fn host_understands_busybox_and_systemd() {
        let h = Mode::Host;
        assert_eq!(classify(h, SIGUSR1), Action::Shutdown(Request::Halt));
        assert_eq!(classify(h, SIGUSR2), Action::Shutdown(Request::Poweroff));
        assert_eq!(classify(h, SIGTERM), Action::Shutdown(Request::Reboot));
        assert_eq!(classify(h, SIGINT), Action::Shutdown(Request::Reboot));
        assert_eq!(classify(h, 37), Action::Shutdown(Request::Halt));
        assert_eq!(classify(h, 38), Action::Shutdown(Request::Poweroff));
        assert_eq!(classify(h, 39), Action::Shutdown(Request::Reboot));
        assert_eq!(classify(h, SIGHUP), Action::Ignore);
        assert_eq!(classify(h, SIGCHLD), Action::Reap);
    }

    #[test]
    fn the_command_signals_mean_the_same_in_both_modes() {
        for r in [Request::Halt, Request::Poweroff, Request::Reboot] {
            assert_eq!(request(Mode::Host, r.signal()), Some(r));
            assert_eq!(request(Mode::Container, r.signal()), Some(r));
            assert_eq!(Request::from_name(r.name()), Some(r));
        }
        assert_eq!(Request::from_name(b"shutdown"), None);
    }

    #[test]
    fn synchronous_signals_stay_unblocked() {
        for s in SYNCHRONOUS {
            assert!(!is_blocked(s));
        }
        assert!(!is_blocked(SIGKILL) && !is_blocked(SIGSTOP));
        assert!(!is_blocked(0) && !is_blocked(65));
        let blocked = (1..=SIGMAX).filter(|s| is_blocked(*s)).count();
        assert_eq!(blocked, 64 - 7 - 2);
    }
}
