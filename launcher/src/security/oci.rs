//! The security layer of an OCI bundle (`spawnbox-runc`, [`Spec::oci`](crate::spec::Spec)):
//! everything from config.json, nothing of nspawn's policy — the five capability sets of
//! `process.capabilities` (a missing object: none), `process.noNewPrivileges`,
//! `process.oomScoreAdj`, `process.rlimits` exactly (no defaults, no lowering), the
//! personality of `linux.personality`, the seccomp profile of `linux.seccomp` (none without
//! one; no suppress-sync, no `SYSTEMD_SECCOMP`), no CPU affinity, and the device program of
//! `linux.resources.devices` with runc's own allows (devices_oci.rs).
//!
//! As runc: capabilities the kernel or spawnbox's own sets lack are left out with one warning;
//! the seccomp filter is installed before the uid change (it needs CAP_SYS_ADMIN then) unless
//! no_new_privs is asked for, in which case it is installed last, right before execve, so that
//! as few of spawnbox's own calls as possible go through it.
//!
//! Labels, on this kind of host: an AppArmor profile is applied on exec where AppArmor is
//! enabled, and ignored with a warning where it is not (engines only ask for one where it is);
//! an SELinux label (process or mount) is ignored with a warning where SELinux is off, and
//! refused where it is on, since spawnbox cannot apply it.

use super::devices_oci;
use super::{caps, process, say, seccomp, Mode, Security};
use crate::error::{Error, Result};
use crate::runtime_spec::NsKind;
use crate::settings::Rlimit;
use crate::spec::{OciSpec, Spec};
use rustix::fd::BorrowedFd;

/// What OCI mode adds to [`Security`].
pub(super) struct Oci {
    pub caps: caps::Quintet,
    /// The device program's policy.
    pub devices: devices_oci::Policy,
    /// Install the seccomp filter last, after no_new_privs (runc's order).
    pub seccomp_late: bool,
    /// The AppArmor profile to change to on exec (AppArmor enabled).
    pub apparmor: Option<String>,
}

/// `process.*` and `linux.*` of `oci` as the prepared policy.
pub(super) fn prepare(spec: &Spec, oci: &OciSpec) -> Result<Security> {
    let config = &oci.config;
    let linux = &config.linux;
    let p = config.process.clone().unwrap_or_default();
    let last_cap = caps::read_last_cap();
    let (quintet, missing) = caps::oci_quintet(p.capabilities.as_ref())?;
    if !missing.is_empty() {
        say(spec.quiet, format!("process.capabilities: not available here, left out: {}", missing.join(",")));
    }
    let persona = match linux.personality.as_deref() {
        None => None,
        Some("LINUX") => Some(process::PER_LINUX),
        Some("LINUX32") => Some(process::PER_LINUX32),
        Some(other) => {
            return Err(Error::msg(format!("linux.personality.domain: expected LINUX or LINUX32: {other:?}")))
        }
    };
    let apparmor = match &p.apparmor_profile {
        Some(name) if apparmor_enabled() => Some(name.clone()),
        Some(name) => {
            say(spec.quiet, format!("process.apparmorProfile {name:?} ignored: AppArmor is not enabled on this host"));
            None
        }
        None => None,
    };
    for (what, label) in [("process.selinuxLabel", &p.selinux_label), ("linux.mountLabel", &linux.mount_label)] {
        let Some(label) = label else { continue };
        if selinux_enabled() {
            return Err(Error::msg(format!("{what}: SELinux labels are not supported by spawnbox-runc: {label:?}")));
        }
        say(spec.quiet, format!("{what} {label:?} ignored: SELinux is not enabled on this host"));
    }
    let seccomp = match &linux.seccomp {
        Some(s) => seccomp::prepare_profile(s)?,
        None => seccomp::Program::none(),
    };
    let devices = devices_oci::policy(&linux.resources.devices, &linux.devices)?;
    let rlimits: Vec<Rlimit> =
        p.rlimits.iter().map(|r| Rlimit { resource: r.resource, soft: r.soft, hard: r.hard }).collect();
    log::debug!(
        "OCI capabilities: bounding {:#x}, effective {:#x}, permitted {:#x}, inheritable {:#x}, ambient {:#x}",
        quintet.bounding,
        quintet.effective,
        quintet.permitted,
        quintet.inheritable,
        quintet.ambient
    );
    Ok(Security {
        mode: Mode::Oci(Box::new(Oci { caps: quintet, devices, seccomp_late: p.no_new_privileges, apparmor })),
        device_policy: false,
        quiet: spec.quiet,
        last_cap,
        rlimits,
        oom_score_adjust: p.oom_score_adj,
        cpu_affinity: None,
        persona,
        no_new_privileges: p.no_new_privileges,
        seccomp,
        userns: spec.userns() || linux.namespaces.iter().any(|n| n.kind == NsKind::User),
    })
}

impl Oci {
    /// Attaches the device program; without a cgroup, or where that fails, the rules are not
    /// enforced (said once) and nothing else changes: the capabilities are config.json's.
    pub fn attach_device_policy(&self, cgroup: Option<BorrowedFd<'_>>, quiet: bool) -> bool {
        let why = match cgroup {
            None => "the container has no cgroup of its own".to_string(),
            Some(fd) => match super::devices::attach_program(fd, &self.devices.assemble()) {
                Ok(n) => {
                    log::debug!(
                        "OCI device policy attached: {} exceptions, {n} instructions",
                        self.devices.exceptions.len()
                    );
                    return true;
                }
                Err(e) => e.to_string(),
            },
        };
        say(quiet, format!("no device policy ({why}): linux.resources.devices is not enforced"));
        false
    }

    /// In the child, before the uid change (OOM score and rlimits only without a user
    /// namespace; the launcher sets them otherwise).
    pub fn before_credentials(&self, sec: &Security) -> Result<()> {
        if let (Some(v), false) = (sec.oom_score_adjust, sec.userns) {
            process::set_oom_score_adjust(v)?;
        }
        if let Some(p) = sec.persona {
            process::set_personality(p)?;
        }
        if !sec.userns {
            super::rlimits::apply_exact_to(0, &sec.rlimits)?;
        }
        caps::apply_oci_bounding(&self.caps, sec.last_cap)?;
        if self.seccomp_late {
            return Ok(());
        }
        sec.seccomp.install()
    }

    /// In the child after the uid change, right before execve.
    pub fn before_exec(&self, sec: &Security) -> Result<()> {
        caps::apply_oci_sets(&self.caps)?;
        if let Some(name) = &self.apparmor {
            change_profile_on_exec(name)?;
        }
        if sec.no_new_privileges {
            process::set_no_new_privs()?;
        }
        process::set_non_dumpable()?;
        if self.seccomp_late {
            sec.seccomp.install()?;
        }
        Ok(())
    }
}

/// AppArmor is enabled in the kernel.
fn apparmor_enabled() -> bool {
    std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// SELinux is enabled (selinuxfs mounted, as libselinux's `is_selinux_enabled()` checks).
fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// libapparmor's `aa_change_onexec()`: the profile the next execve enters.
fn change_profile_on_exec(name: &str) -> Result<()> {
    let text = format!("exec {name}");
    let mut last = None;
    for path in ["/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec"] {
        match std::fs::write(path, &text) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some((path, e)),
        }
    }
    let (path, e) = last.ok_or_else(|| Error::msg("apparmor: no attr file"))?;
    Err(Error::msg(format!(
        "process.apparmorProfile: write {path}: {}",
        crate::error::errno_text(e.raw_os_error().unwrap_or(libc::EIO))
    )))
}

#[cfg(test)]
#[path = "oci_tests_host.rs"]
mod tests_host;
