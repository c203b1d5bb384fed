//! Container or host mode: the rule that decides, kept pure so it can be tested.
//!
//! * `--container` or `--host` on the command line wins (`--host` also requires PID 1).
//! * Not PID 1: container mode as a child subreaper (handy for tests and `docker run`-like
//!   wrappers); it never touches mounts, never signals other processes and never calls
//!   reboot(2).
//! * PID 1 with a non-empty `container=` environment variable (set by systemd-nspawn, LXC,
//!   podman and spawnbox): container mode.
//! * PID 1 and PID 2 exists: host mode. In the initial PID namespace the kernel has already
//!   started `kthreadd` as PID 2 before it runs init; in a fresh PID namespace nothing but us
//!   exists yet. This needs no /proc (which a machine's init has to mount first).
//! * Otherwise: container mode.

/// How the init behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// PID 1 of a PID namespace: forward signals, exit with the payload's status.
    Container,
    /// PID 1 of a machine: mount API file systems, run the rc command, real reboot(2).
    Host,
}

/// The mode asked for on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeFlag {
    Auto,
    Container,
    Host,
}

/// What the process sees about itself.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    pub pid: i32,
    /// `container=` is set and not empty.
    pub container_env: bool,
    /// PID 2 exists in our PID namespace.
    pub pid2_exists: bool,
}

/// The outcome of mode detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub mode: Mode,
    /// We are PID 1 (of a namespace or of the machine).
    pub pid1: bool,
}

/// Apply the rule documented at the top of this file.
pub fn decide(flag: ModeFlag, probe: Probe) -> Result<Decision, &'static [u8]> {
    let pid1 = probe.pid == 1;
    let mode = match flag {
        ModeFlag::Host if !pid1 => return Err(b"--host: host mode needs to run as PID 1"),
        ModeFlag::Host => Mode::Host,
        ModeFlag::Container => Mode::Container,
        ModeFlag::Auto if !pid1 || probe.container_env => Mode::Container,
        ModeFlag::Auto if probe.pid2_exists => Mode::Host,
        ModeFlag::Auto => Mode::Container,
    };
    Ok(Decision { mode, pid1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(pid: i32, container_env: bool, pid2_exists: bool) -> Probe {
        Probe { pid, container_env, pid2_exists }
    }

    #[test]
    fn flags_win() {
        let p = probe(1, false, true);
        assert_eq!(decide(ModeFlag::Container, p).unwrap().mode, Mode::Container);
        let p = probe(1, true, false);
        assert_eq!(decide(ModeFlag::Host, p).unwrap().mode, Mode::Host);
    }

    #[test]
    fn host_mode_needs_pid1() {
        assert!(decide(ModeFlag::Host, probe(42, false, true)).is_err());
    }

    #[test]
    fn not_pid1_is_a_container_subreaper() {
        let d = decide(ModeFlag::Auto, probe(42, false, true)).unwrap();
        assert_eq!(d, Decision { mode: Mode::Container, pid1: false });
    }

    #[test]
    fn container_env_means_container() {
        let d = decide(ModeFlag::Auto, probe(1, true, true)).unwrap();
        assert_eq!(d, Decision { mode: Mode::Container, pid1: true });
    }

    #[test]
    fn kthreadd_means_machine() {
        let d = decide(ModeFlag::Auto, probe(1, false, true)).unwrap();
        assert_eq!(d, Decision { mode: Mode::Host, pid1: true });
        let d = decide(ModeFlag::Auto, probe(1, false, false)).unwrap();
        assert_eq!(d, Decision { mode: Mode::Container, pid1: true });
    }
}
