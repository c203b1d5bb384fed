//! Signal names as messages print them (`SIGSEGV`, `SIGRTMIN+3`), from the command line's
//! signal table (systemd's numbering: SIGRTMIN = 34).

/// The name of signal `sig`.
pub fn signal_name(sig: i32) -> String {
    let short = crate::cli::short_signal_name(sig);
    if short.starts_with(|c: char| c.is_ascii_digit()) {
        format!("signal {sig}")
    } else {
        format!("SIG{short}")
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
