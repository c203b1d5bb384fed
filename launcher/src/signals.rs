//! Signal names as messages print them (`SIGSEGV`, `SIGRTMIN+3`), with systemd's numbering
//! (SIGRTMIN = 34).

use crate::spec::SIGRTMIN;

const NAMES: [&str; 32] = [
    "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
    "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
    "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
    "SIGSYS",
];

/// The name of signal `sig`.
pub fn signal_name(sig: i32) -> String {
    match sig {
        1..=31 => NAMES[sig as usize].to_string(),
        s if s == SIGRTMIN => "SIGRTMIN".to_string(),
        s if (SIGRTMIN + 1..=64).contains(&s) => format!("SIGRTMIN+{}", s - SIGRTMIN),
        s => format!("signal {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(34), "SIGRTMIN");
        assert_eq!(signal_name(37), "SIGRTMIN+3");
        assert_eq!(signal_name(64), "SIGRTMIN+30");
        assert_eq!(signal_name(99), "signal 99");
    }
}
