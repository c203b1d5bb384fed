//! What the payload may do: capabilities (bounding, effective, ambient), no_new_privs, rlimits,
//! OOM score, CPU affinity, personality, and the seccomp filter — decided in the launcher before
//! the container exists, applied in the container child just before exec.
//!
//! Call order (see `container.rs`):
//! 1. [`prepare`] in the launcher, before the first clone: every error happens here.
//! 2. [`Security::before_credentials`] in the child, still uid 0 with every capability.
//! 3. [`Security::before_exec`] in the child after the uid/gid change, right before execve.

pub mod caps;
pub mod process;
pub mod rlimits;
pub mod seccomp;

use crate::error::Result;
use crate::settings::Rlimit;
use crate::spec::Spec;

/// The prepared policy of one container.
pub struct Security {
    caps: caps::Plan,
    last_cap: u32,
    rlimits: Vec<Rlimit>,
    oom_score_adjust: Option<i32>,
    cpu_affinity: Option<Vec<u32>>,
    persona: Option<u32>,
    no_new_privileges: bool,
    seccomp: seccomp::Program,
}

/// Checks the security options and prepares the policy (compiles the seccomp filter). Makes the
/// launcher non-dumpable first: from here on it holds host resources (the tree, the cgroup,
/// network links) that a ptrace or /proc/PID/mem access must not reach.
pub fn prepare(spec: &Spec) -> Result<Security> {
    process::set_non_dumpable()?;
    let sec = &spec.sec;
    let last_cap = caps::read_last_cap();
    let caps = caps::plan(&caps::Request {
        add: sec.capability,
        drop: sec.drop_capability,
        ambient: sec.ambient_capability,
        private_network: spec.net.private_network || spec.net.namespace_path.is_some(),
        // User namespaces are not implemented yet: pass the spec's user-namespace mode here
        // when they are (CAP_NET_BIND_SERVICE is then dropped without a private network).
        userns: false,
        // No device cgroup program yet (docs/SECURITY.md, "Devices"): CAP_MKNOD is not kept.
        device_policy: false,
        last_cap,
        host: caps::host_mask(last_cap)?,
    })?;
    let say = |text: String| if spec.quiet { log::debug!("{text}") } else { log::warn!("{text}") };
    if caps.missing != 0 {
        say(format!("not in spawnbox's own capability sets, not retained: {}", caps::names(caps.missing)));
    }
    if caps.mknod_dropped {
        say("no device policy without systemd: cap_mknod is not retained (--capability=CAP_MKNOD keeps it)".to_string());
    }
    if let Some(cpus) = &sec.cpu_affinity {
        process::check_cpu_affinity(cpus)?;
    }
    let persona = sec.personality.as_deref().map(process::persona).transpose()?;
    log::debug!("capabilities: bounding {:#x}, ambient {:#x}", caps.retained, caps.ambient);
    Ok(Security {
        caps,
        last_cap,
        rlimits: rlimits::plan_for_host(&sec.rlimits)?,
        oom_score_adjust: sec.oom_score_adjust,
        cpu_affinity: sec.cpu_affinity.clone(),
        persona,
        no_new_privileges: sec.no_new_privileges.unwrap_or(false),
        seccomp: seccomp::prepare(spec)?,
    })
}

impl Security {
    /// In the child, before the uid/gid change: OOM score, affinity, personality and rlimits
    /// (raising needs CAP_SYS_RESOURCE), the bounding set (needs CAP_SETPCAP), and last the
    /// seccomp filter.
    pub fn before_credentials(&self) -> Result<()> {
        if let Some(v) = self.oom_score_adjust {
            process::set_oom_score_adjust(v)?;
        }
        if let Some(cpus) = &self.cpu_affinity {
            process::set_cpu_affinity(cpus)?;
        }
        if let Some(p) = self.persona {
            process::set_personality(p)?;
        }
        rlimits::apply(&self.rlimits)?;
        caps::apply_bounding(&self.caps, self.last_cap)?;
        self.seccomp.install()
    }

    /// In the child, after the uid/gid change, right before execve: the capability sets,
    /// no_new_privs, and non-dumpable again (a uid change resets the flag to fs.suid_dumpable;
    /// execve makes the payload dumpable as usual).
    pub fn before_exec(&self) -> Result<()> {
        caps::apply_after_uid_change(&self.caps)?;
        if self.no_new_privileges {
            process::set_no_new_privs()?;
        }
        process::set_non_dumpable()
    }
}
