//! Resource limits of the payload: nspawn's defaults (what the kernel gives PID 1), with
//! RLIMIT_NPROC and RLIMIT_SIGPENDING read off the host's PID 1, overridden by `--rlimit=`.

use crate::error::{Error, Result};
use crate::settings::Rlimit;
use crate::sys;

/// RLIM_INFINITY.
pub const INFINITY: u64 = u64::MAX;

// libc's type is u32 with glibc, i32 with musl.
#[allow(clippy::unnecessary_cast)]
pub const RLIMIT_NPROC: u32 = libc::RLIMIT_NPROC as u32;
#[allow(clippy::unnecessary_cast)]
pub const RLIMIT_SIGPENDING: u32 = libc::RLIMIT_SIGPENDING as u32;

/// nspawn's `HIGH_RLIMIT_NOFILE`: the hard RLIMIT_NOFILE cap (also bounded by fs.nr_open).
pub const HIGH_NOFILE: u64 = 512 * 1024;

/// How the default of one resource is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    Fixed(u64, u64),
    /// Read from `/proc/1/limits` (the kernel scales it with the RAM).
    HostPid1(&'static str),
    /// Soft 1024, hard min(fs.nr_open, 512K).
    Nofile,
}

/// The kernel's defaults for PID 1 (nspawn's `kernel_defaults`), indexed by resource number (the
/// asm-generic order, which x86 and arm share; checked against libc by a test): (name, default).
pub const DEFAULTS: [(&str, Default); 16] = [
    ("CPU", Default::Fixed(INFINITY, INFINITY)),
    ("FSIZE", Default::Fixed(INFINITY, INFINITY)),
    ("DATA", Default::Fixed(INFINITY, INFINITY)),
    ("STACK", Default::Fixed(8 << 20, INFINITY)),
    ("CORE", Default::Fixed(0, INFINITY)),
    ("RSS", Default::Fixed(INFINITY, INFINITY)),
    ("NPROC", Default::HostPid1("Max processes")),
    ("NOFILE", Default::Nofile),
    ("MEMLOCK", Default::Fixed(8 << 20, 8 << 20)),
    ("AS", Default::Fixed(INFINITY, INFINITY)),
    ("LOCKS", Default::Fixed(INFINITY, INFINITY)),
    ("SIGPENDING", Default::HostPid1("Max pending signals")),
    ("MSGQUEUE", Default::Fixed(819200, 819200)),
    ("NICE", Default::Fixed(0, 0)),
    ("RTPRIO", Default::Fixed(0, 0)),
    ("RTTIME", Default::Fixed(INFINITY, INFINITY)),
];

/// `RLIMIT_NOFILE` for resource 7.
pub fn name(resource: u32) -> String {
    match DEFAULTS.get(resource as usize) {
        Some((n, _)) => format!("RLIMIT_{n}"),
        None => format!("resource limit {resource}"),
    }
}

/// The (soft, hard) limits of the line starting with `label` in a `/proc/PID/limits` text.
pub fn parse_proc_limits(text: &str, label: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with(label))?;
    let mut words = line[label.len()..].split_whitespace();
    let value = |w: Option<&str>| match w? {
        "unlimited" => Some(INFINITY),
        n => n.parse().ok(),
    };
    Some((value(words.next())?, value(words.next())?))
}

/// The 16 limits of the payload: the `--rlimit=` value where given, else the default.
/// `pid1_limits` is the text of the host's `/proc/1/limits`.
pub fn plan(overrides: &[Rlimit], pid1_limits: &str, nr_open: u64) -> Result<Vec<Rlimit>> {
    let mut out = Vec::with_capacity(DEFAULTS.len());
    for (resource, (_, default)) in (0u32..).zip(DEFAULTS.iter()) {
        if let Some(o) = overrides.iter().rev().find(|o| o.resource == resource) {
            out.push(*o);
            continue;
        }
        let (soft, hard) = match *default {
            Default::Fixed(s, h) => (s, h),
            Default::Nofile => (1024, nr_open.min(HIGH_NOFILE)),
            Default::HostPid1(label) => parse_proc_limits(pid1_limits, label).ok_or_else(|| {
                Error::msg(format!("read {} of PID 1: no \"{label}\" line in /proc/1/limits", name(resource)))
            })?,
        };
        out.push(Rlimit { resource, soft, hard });
    }
    Ok(out)
}

/// Reads what [`plan`] needs from the host: `/proc/1/limits` (only when a default needs it)
/// and `fs.nr_open`.
pub fn plan_for_host(overrides: &[Rlimit]) -> Result<Vec<Rlimit>> {
    let needs_pid1 = [RLIMIT_NPROC, RLIMIT_SIGPENDING].iter().any(|r| !overrides.iter().any(|o| o.resource == *r));
    let pid1 = if needs_pid1 {
        std::fs::read_to_string("/proc/1/limits").map_err(|e| {
            Error::msg(format!(
                "read /proc/1/limits: {}",
                crate::error::errno_text(e.raw_os_error().unwrap_or(libc::EIO))
            ))
        })?
    } else {
        String::new()
    };
    let nr_open =
        std::fs::read_to_string("/proc/sys/fs/nr_open").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(1024 * 1024);
    plan(overrides, &pid1, nr_open)
}

/// The closest limits to `want` that a process without CAP_SYS_RESOURCE may set when its hard
/// limit is `cur_hard` (systemd's `setrlimit_closest()`).
pub fn closest(want: (u64, u64), cur_hard: u64) -> (u64, u64) {
    let hard = want.1.min(cur_hard);
    (want.0.min(hard), hard)
}

/// Sets every limit of `limits` on process `pid` (the launcher, for a child in a user namespace,
/// whose root could not raise them); 0 is the calling process. A hard limit above the current
/// one is lowered to it when raising is not permitted.
pub fn apply_to(pid: i32, limits: &[Rlimit]) -> Result<()> {
    for l in limits {
        let err = |e| Error::sys("set", name(l.resource), e);
        match sys::prlimit(pid, l.resource, l.soft, l.hard) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM) => {
                let (_, cur_hard) = sys::prlimit_get(pid, l.resource).map_err(err)?;
                let (soft, hard) = closest((l.soft, l.hard), cur_hard);
                sys::prlimit(pid, l.resource, soft, hard).map_err(err)?;
            }
            Err(e) => return Err(err(e)),
        }
    }
    Ok(())
}

/// Sets every limit of `limits` on the calling process.
pub fn apply(limits: &[Rlimit]) -> Result<()> {
    apply_to(0, limits)
}

/// OCI mode: sets each limit exactly as `process.rlimits` gives it on process `pid` (0: the
/// calling one), and fails as runc does when one cannot be set
/// (`setrlimit RLIMIT_NOFILE: operation not permitted`: raising a hard limit needs
/// CAP_SYS_RESOURCE).
pub fn apply_exact_to(pid: i32, limits: &[Rlimit]) -> Result<()> {
    for l in limits {
        sys::prlimit(pid, l.resource, l.soft, l.hard).map_err(|e| Error::sys("setrlimit", name(l.resource), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID1: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max cpu time              unlimited            unlimited            seconds   \n\
Max processes             63487                63488                processes \n\
Max open files            1048576              1048576              files     \n\
Max pending signals       63489                unlimited            signals   \n";

    fn l(resource: u32, soft: u64, hard: u64) -> Rlimit {
        Rlimit { resource, soft, hard }
    }

    #[test]
    fn resource_numbers_are_the_c_librarys() {
        let numbers = [
            ("CPU", libc::RLIMIT_CPU),
            ("FSIZE", libc::RLIMIT_FSIZE),
            ("DATA", libc::RLIMIT_DATA),
            ("STACK", libc::RLIMIT_STACK),
            ("CORE", libc::RLIMIT_CORE),
            ("RSS", libc::RLIMIT_RSS),
            ("NPROC", libc::RLIMIT_NPROC),
            ("NOFILE", libc::RLIMIT_NOFILE),
            ("MEMLOCK", libc::RLIMIT_MEMLOCK),
            ("AS", libc::RLIMIT_AS),
            ("LOCKS", libc::RLIMIT_LOCKS),
            ("SIGPENDING", libc::RLIMIT_SIGPENDING),
            ("MSGQUEUE", libc::RLIMIT_MSGQUEUE),
            ("NICE", libc::RLIMIT_NICE),
            ("RTPRIO", libc::RLIMIT_RTPRIO),
            ("RTTIME", libc::RLIMIT_RTTIME),
        ];
        for (name, number) in numbers {
            assert_eq!(DEFAULTS[number as usize].0, name, "RLIMIT_{name}");
        }
    }

    #[test]
    fn defaults_are_nspawns() {
        let got = plan(&[], PID1, 1 << 20).unwrap();
        let want = [
            l(0, INFINITY, INFINITY),
            l(1, INFINITY, INFINITY),
            l(2, INFINITY, INFINITY),
            l(3, 8 << 20, INFINITY),
            l(4, 0, INFINITY),
            l(5, INFINITY, INFINITY),
            l(6, 63487, 63488),
            l(7, 1024, 524288),
            l(8, 8 << 20, 8 << 20),
            l(9, INFINITY, INFINITY),
            l(10, INFINITY, INFINITY),
            l(11, 63489, INFINITY),
            l(12, 819200, 819200),
            l(13, 0, 0),
            l(14, 0, 0),
            l(15, INFINITY, INFINITY),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn nofile_hard_is_bounded_by_nr_open() {
        assert_eq!(plan(&[], PID1, 4096).unwrap()[7], l(7, 1024, 4096));
    }

    #[test]
    fn overrides_win_and_the_last_one_counts() {
        let got = plan(&[l(7, 10, 20), l(4, 5, 5), l(7, 30, 40)], PID1, 1 << 20).unwrap();
        assert_eq!((got[7], got[4]), (l(7, 30, 40), l(4, 5, 5)));
    }

    #[test]
    fn pid1_limits_needed_only_when_not_overridden() {
        let e = plan(&[], "", 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "read RLIMIT_NPROC of PID 1: no \"Max processes\" line in /proc/1/limits");
        assert!(plan(&[l(6, 1, 1), l(11, 2, 2)], "", 1 << 20).is_ok());
    }

    #[test]
    fn proc_limits_parsing() {
        assert_eq!(parse_proc_limits(PID1, "Max processes"), Some((63487, 63488)));
        assert_eq!(parse_proc_limits(PID1, "Max pending signals"), Some((63489, INFINITY)));
        assert_eq!(parse_proc_limits(PID1, "Max locked memory"), None);
    }

    #[test]
    fn closest_lowers_to_the_current_hard_limit() {
        assert_eq!(closest((1024, 524288), 20000), (1024, 20000));
        assert_eq!(closest((30000, 524288), 20000), (20000, 20000));
        assert_eq!(closest((1, 2), 20000), (1, 2));
        assert_eq!(name(7), "RLIMIT_NOFILE");
    }
}
