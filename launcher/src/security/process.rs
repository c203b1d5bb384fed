//! Per-process settings of the payload: OOM score, CPU affinity, personality, no_new_privs,
//! and the dumpable flag of the launcher and the child.

use crate::error::{Error, Result};
use crate::sys;
use rustix::fs::{Mode, OFlags};
use rustix::process::DumpableBehavior;
use std::path::Path;

/// PER_LINUX (native) and PER_LINUX32 (`linux32`), `<linux/personality.h>`.
pub const PER_LINUX: u32 = 0x0000;
pub const PER_LINUX32: u32 = 0x0008;

/// The `--personality=` names of each build architecture, systemd's `personality_from_string()`:
/// the build's own architecture is PER_LINUX, its secondary one (`ARCHITECTURE_SECONDARY`)
/// PER_LINUX32. (target arch, systemd's architecture name, personality).
const PERSONALITIES: &[(&str, &str, u32)] = &[
    ("x86_64", "x86-64", PER_LINUX),
    ("x86_64", "x86", PER_LINUX32),
    ("x86", "x86", PER_LINUX),
    ("aarch64", "arm64", PER_LINUX),
    ("aarch64", "arm", PER_LINUX32),
    ("arm", "arm", PER_LINUX),
];

/// Valid and invalid `--personality=` names of the build's architecture, for tests that must
/// pass on every build (x86_64, aarch64, arm).
#[cfg(test)]
pub mod test_names {
    /// `PREFIX` and the build's own architecture's name.
    macro_rules! native {
        ($prefix:literal) => {
            if cfg!(target_arch = "aarch64") {
                concat!($prefix, "arm64")
            } else if cfg!(target_arch = "arm") {
                concat!($prefix, "arm")
            } else {
                concat!($prefix, "x86-64")
            }
        };
    }
    /// The build's own architecture (PER_LINUX).
    pub const NATIVE: &str = native!("");
    /// `--personality=NATIVE`.
    pub const NATIVE_OPTION: &str = native!("--personality=");
    /// Another architecture's name, which this build refuses.
    pub const FOREIGN: &str = if cfg!(target_arch = "x86_64") { "arm" } else { "x86" };
}

/// The personality(2) value of `--personality=NAME` on `target_arch`, if it has one.
pub fn persona_on(target_arch: &str, name: &str) -> Option<u32> {
    PERSONALITIES.iter().find(|(a, n, _)| *a == target_arch && *n == name).map(|(_, _, p)| *p)
}

/// The personality(2) value of `--personality=`, for this build's architecture.
pub fn persona(name: &str) -> Result<u32> {
    persona_on(std::env::consts::ARCH, name)
        .ok_or_else(|| Error::msg(format!("--personality={name}: not supported on this architecture")))
}

/// The CPUs of `wanted` that `allowed` contains (`--cpu-affinity=` must name one of them).
pub fn usable_cpus(wanted: &[u32], allowed: &dyn Fn(u32) -> bool) -> Vec<u32> {
    wanted.iter().copied().filter(|c| allowed(*c)).collect()
}

/// Checks `--cpu-affinity=` against the CPUs spawnbox may run on.
pub fn check_cpu_affinity(cpus: &[u32]) -> Result<()> {
    let own = rustix::thread::sched_getaffinity(None).map_err(|e| Error::sys("read", "CPU affinity of spawnbox", e))?;
    let max = rustix::thread::CpuSet::MAX_CPU as u32;
    if usable_cpus(cpus, &|c| c < max && own.is_set(c as usize)).is_empty() {
        return Err(Error::msg("--cpu-affinity=: none of the CPUs is available to spawnbox"));
    }
    Ok(())
}

/// Makes the calling process non-dumpable: no core dumps, no ptrace or /proc/PID/mem access
/// without CAP_SYS_PTRACE.
pub fn set_non_dumpable() -> Result<()> {
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .map_err(|e| Error::sys("make", "spawnbox non-dumpable", e))
}

/// Writes `/proc/self/oom_score_adj` (the container's procfs, mounted by spawnbox).
pub fn set_oom_score_adjust(value: i32) -> Result<()> {
    write_oom_score_adjust(Path::new("/proc/self/oom_score_adj"), value)
}

/// Writes `/proc/PID/oom_score_adj` of the host's procfs (the launcher, for its child).
pub fn set_oom_score_adjust_of(pid: i32, value: i32) -> Result<()> {
    write_oom_score_adjust(&std::path::PathBuf::from(format!("/proc/{pid}/oom_score_adj")), value)
}

fn write_oom_score_adjust(path: &Path, value: i32) -> Result<()> {
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
        .map_err(|e| Error::path("open", path, e))?;
    let text = format!("{value}\n");
    rustix::io::write(&fd, text.as_bytes()).map_err(|e| Error::path("write", path, e))?;
    Ok(())
}

/// sched_setaffinity(2) for `--cpu-affinity=`.
pub fn set_cpu_affinity(cpus: &[u32]) -> Result<()> {
    sys::sched_setaffinity(cpus).map_err(|e| Error::sys("set", "CPU affinity", e))
}

/// personality(2) for `--personality=`.
pub fn set_personality(persona: u32) -> Result<()> {
    sys::personality(persona).map(|_| ()).map_err(|e| Error::sys("set", "personality", e))
}

/// PR_SET_NO_NEW_PRIVS: exec can no longer grant privileges (setuid bits, file capabilities).
pub fn set_no_new_privs() -> Result<()> {
    rustix::thread::set_no_new_privs(true).map_err(|e| Error::sys("set", "no_new_privs", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personalities_of_each_architecture() {
        let on = |arch: &str| -> Vec<(&str, Option<u32>)> {
            ["x86-64", "x86", "arm64", "arm"].into_iter().map(|n| (n, persona_on(arch, n))).collect()
        };
        assert_eq!(on("x86_64"), [("x86-64", Some(0)), ("x86", Some(8)), ("arm64", None), ("arm", None)]);
        assert_eq!(on("aarch64"), [("x86-64", None), ("x86", None), ("arm64", Some(0)), ("arm", Some(8))]);
        assert_eq!(on("arm"), [("x86-64", None), ("x86", None), ("arm64", None), ("arm", Some(0))]);
        assert_eq!(on("riscv64"), [("x86-64", None), ("x86", None), ("arm64", None), ("arm", None)]);
        assert_eq!(
            persona("sparc").unwrap_err().to_string(),
            "--personality=sparc: not supported on this architecture"
        );
        assert_eq!(persona("x86-64").is_ok(), cfg!(target_arch = "x86_64"));
        assert_eq!(persona("arm64").is_ok(), cfg!(target_arch = "aarch64"));
        assert_eq!(persona(test_names::NATIVE).unwrap(), PER_LINUX);
        assert!(persona(test_names::FOREIGN).is_err());
        assert_eq!(test_names::NATIVE_OPTION, format!("--personality={}", test_names::NATIVE));
    }

    #[test]
    fn cpu_affinity_needs_one_allowed_cpu() {
        let two = |c: u32| c < 2;
        assert_eq!(usable_cpus(&[1, 5, 7], &two), [1]);
        assert!(usable_cpus(&[2, 3], &two).is_empty());
    }
}
