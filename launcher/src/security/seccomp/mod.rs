//! The seccomp filter of the payload: nspawn's allow-list policy, compiled to classic BPF. The
//! default filter is compiled by build.rs (`OUT_DIR/seccomp-default.bpf`); other policies
//! (`--system-call-filter=`, capability changes) are compiled here, in the launcher.
//! `SYSTEMD_SECCOMP=0` in the environment turns the filter off, as for systemd-nspawn.

mod compile;
// The group strings are build.rs's (policy.rs); the launcher uses the constants.
#[cfg_attr(not(test), allow(dead_code))]
mod groups;
#[cfg(test)]
mod policy;
#[cfg(any(test, target_arch = "aarch64", target_arch = "arm"))]
mod syscalls_arm;
#[cfg(any(test, target_arch = "x86_64"))]
mod syscalls_x86;
mod target;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_arm;

/// groups.rs resolved against syscalls_x86.rs by build.rs.
#[cfg(any(test, target_arch = "x86_64"))]
mod policy_x86 {
    use super::target::Policy;
    include!(concat!(env!("OUT_DIR"), "/seccomp-policy-x86.rs"));
}

/// groups.rs resolved against syscalls_arm.rs by build.rs.
#[cfg(any(test, target_arch = "aarch64", target_arch = "arm"))]
mod policy_arm {
    use super::target::Policy;
    include!(concat!(env!("OUT_DIR"), "/seccomp-policy-arm.rs"));
}

use crate::error::{Error, Result};
use crate::spec::Spec;
use std::borrow::Cow;
use std::ffi::OsStr;

/// The default policy (nspawn's default capabilities, no `--system-call-filter=`), compiled by
/// build.rs for the target (empty where there is no filter).
static DEFAULT_PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/seccomp-default.bpf"));

/// The syscall tables and policies compiled in: the build's own family only (the unit tests
/// have both).
static FAMILIES: &[target::Family<'static>] = &[
    #[cfg(any(test, target_arch = "x86_64"))]
    (&syscalls_x86::TABLE, &policy_x86::POLICY),
    #[cfg(any(test, target_arch = "aarch64", target_arch = "arm"))]
    (&syscalls_arm::TABLE, &policy_arm::POLICY),
];

/// This build's table, policy and ABIs; None on an architecture without a filter (the tables
/// and the compiler are little-endian only).
fn native() -> Option<target::Target<'static>> {
    if cfg!(target_endian = "big") {
        return None;
    }
    target::Target::of(std::env::consts::ARCH, FAMILIES)
}

/// CAP_NET_ADMIN.
const CAP_NET_ADMIN: u8 = 12;

/// The capabilities that widen the filter (the gates of nspawn's allow list).
fn gating_caps(t: &target::Target) -> u64 {
    let gates = t.policy.allow().map(|(cap, _)| cap).filter(|c| *c != u16::from(groups::ALWAYS));
    gates.fold(0, |m, c| m | 1u64.checked_shl(u32::from(c)).unwrap_or(0))
}

/// The retained capability set as the seccomp policy sees it: nspawn's default 26, plus
/// `--capability=`, plus CAP_NET_ADMIN with a private network, minus `--drop-capability=`.
/// (The capability code computes the same set; to be deduplicated.)
pub fn seccomp_retained_caps(spec: &Spec) -> u64 {
    let net_admin = if spec.net.private_network { 1u64 << CAP_NET_ADMIN } else { 0 };
    (groups::NSPAWN_DEFAULT_CAPS | spec.sec.capability | net_admin) & !spec.sec.drop_capability
}

/// A compiled filter, ready to install (None: none on this architecture).
pub struct Program(Option<Cow<'static, [u8]>>);

/// Compiles the filter for `spec` (the default policy plus `--system-call-filter=`); the
/// default policy is the build-time program, with no work here.
pub fn prepare(spec: &Spec) -> Result<Program> {
    let words = &spec.sec.system_call_filter;
    let Some(t) = native() else {
        let here = std::env::consts::ARCH;
        if !words.is_empty() {
            return Err(Error::msg(format!("--system-call-filter= is not supported on {here}")));
        }
        log::warn!("no seccomp filter on this architecture ({here})");
        return Ok(Program(None));
    };
    let caps = seccomp_retained_caps(spec);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let suppress = spec.suppress_sync;
    if let Some(value) = disabled_by_env() {
        // The names are still checked: whether a typo is an error must not depend on the
        // environment.
        if !words.is_empty() {
            compile::resolve(&t, caps, &words).map_err(Error::msg)?;
        }
        log::warn!("seccomp filter disabled by SYSTEMD_SECCOMP={value}");
        if suppress {
            // --suppress-sync= is not a security policy: it stays.
            return compile::compile_suppressing_sync(&t, None)
                .map(|p| Program(Some(Cow::Owned(p))))
                .map_err(Error::msg);
        }
        return Ok(Program(None));
    }
    let gates = gating_caps(&t);
    if words.is_empty() && !suppress && caps & gates == groups::NSPAWN_DEFAULT_CAPS & gates {
        return Ok(Program(Some(Cow::Borrowed(DEFAULT_PROGRAM))));
    }
    if suppress {
        let actions = compile::resolve(&t, caps, &words).map_err(Error::msg)?;
        return compile::compile_suppressing_sync(&t, Some(actions))
            .map(|p| Program(Some(Cow::Owned(p))))
            .map_err(Error::msg);
    }
    compile::compile(&t, caps, &words).map(|p| Program(Some(Cow::Owned(p)))).map_err(Error::msg)
}

/// systemd's `parse_boolean()`: `Some(true)` for 1/yes/y/true/t/on, `Some(false)` for
/// 0/no/n/false/f/off (any case), `None` for anything else.
fn parse_boolean(value: &OsStr) -> Option<bool> {
    let v = value.to_str()?.to_ascii_lowercase();
    match v.as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// The value of `SYSTEMD_SECCOMP` when it turns the filter off: a false boolean, read as
/// systemd's `getenv_bool_secure()` reads it (systemd's docs/ENVIRONMENT.md: "if set, seccomp
/// filters will not be enforced"). Unset, true, or not a boolean: the filter stays (the last
/// with a warning). Ignored when spawnbox runs set-user-ID or set-group-ID, as
/// `secure_getenv()` would.
fn disabled_by_env() -> Option<String> {
    let raw = std::env::var_os("SYSTEMD_SECCOMP")?;
    match parse_boolean(&raw) {
        Some(false) => {
            use rustix::process::{getegid, geteuid, getgid, getuid};
            if getuid() != geteuid() || getgid() != getegid() {
                log::warn!("SYSTEMD_SECCOMP ignored in a set-user-ID or set-group-ID run");
                return None;
            }
            Some(raw.to_string_lossy().into_owned())
        }
        Some(true) => None,
        None => {
            log::warn!("SYSTEMD_SECCOMP={}: not a boolean, the seccomp filter stays", raw.to_string_lossy());
            None
        }
    }
}

impl Program {
    /// The compiled BPF program (`struct sock_filter` array), if there is a filter.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.0.as_deref()
    }

    /// A program from its bytes (as [`bytes`](Self::bytes) gave them; the registry keeps them
    /// for `spawnctl shell`).
    pub fn from_bytes(bytes: Vec<u8>) -> Program {
        Program(Some(Cow::Owned(bytes)))
    }

    /// Installs the filter on the calling thread (the container child, which still has
    /// CAP_SYS_ADMIN, so no_new_privs is not needed).
    pub fn install(&self) -> Result<()> {
        let Some(prog) = &self.0 else { return Ok(()) };
        match crate::sys::seccomp_set_mode_filter(prog) {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::NOSYS => {
                log::warn!("the kernel has no seccomp support: running without a system call filter");
                Ok(())
            }
            Err(e) => Err(Error::sys("install", "seccomp filter", e)),
        }
    }
}
