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
pub mod profile;
#[cfg(test)]
mod profile_tests;
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

/// A compiled filter, ready to install (None: none on this architecture), and the
/// `SECCOMP_FILTER_FLAG_*` it is installed with (an OCI profile's `flags`; 0 for nspawn's).
pub struct Program(Option<Cow<'static, [u8]>>, u32);

/// Compiles an OCI bundle's `linux.seccomp` for this build (see [`profile`]); names of calls
/// our tables do not know are skipped with one debug line, as runc skips them.
pub fn prepare_profile(s: &crate::runtime_spec::Seccomp) -> Result<Program> {
    let Some(t) = native() else {
        return Err(Error::msg(format!("linux.seccomp: not supported on {}", std::env::consts::ARCH)));
    };
    let c = profile::compile(&t, s)?;
    if !c.unknown.is_empty() {
        log::debug!("linux.seccomp: system calls unknown here, skipped: {}", c.unknown.join(" "));
    }
    log::debug!("linux.seccomp: {} instructions, flags {:#x}", c.program.len(), c.flags);
    Ok(Program(Some(Cow::Owned(c.bytes())), c.flags))
}

/// `--oci-bundle`'s `linux.seccomp`, which replaces nspawn's filter as nspawn's `arg_seccomp`
/// does; `SYSTEMD_SECCOMP=0` still turns filtering off, as it does in nspawn. The profile has
/// no place for `--suppress-sync=yes`'s rules: refused rather than dropped.
fn prepare_bundle_profile(profile: &crate::runtime_spec::Seccomp, suppress_sync: bool) -> Result<Program> {
    if suppress_sync {
        return Err(Error::msg("--suppress-sync=yes cannot be combined with the bundle's linux.seccomp"));
    }
    if let Some(value) = disabled_by_env() {
        log::warn!("seccomp filter disabled by SYSTEMD_SECCOMP={value}");
        return Ok(Program(None, 0));
    }
    prepare_profile(profile)
}

/// Compiles the filter for `spec` (the default policy plus `--system-call-filter=`); the
/// default policy is the build-time program, with no work here.
pub fn prepare(spec: &Spec) -> Result<Program> {
    if let Some(profile) = &spec.sec.seccomp_profile {
        return prepare_bundle_profile(profile, spec.suppress_sync);
    }
    let words = &spec.sec.system_call_filter;
    let Some(t) = native() else {
        let here = std::env::consts::ARCH;
        if !words.is_empty() {
            return Err(Error::msg(format!("--system-call-filter= is not supported on {here}")));
        }
        log::warn!("no seccomp filter on this architecture ({here})");
        return Ok(Program(None, 0));
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
                .map(|p| Program(Some(Cow::Owned(p)), 0))
                .map_err(Error::msg);
        }
        return Ok(Program(None, 0));
    }
    let gates = gating_caps(&t);
    if words.is_empty() && !suppress && caps & gates == groups::NSPAWN_DEFAULT_CAPS & gates {
        return Ok(Program(Some(Cow::Borrowed(DEFAULT_PROGRAM)), 0));
    }
    if suppress {
        let actions = compile::resolve(&t, caps, &words).map_err(Error::msg)?;
        return compile::compile_suppressing_sync(&t, Some(actions))
            .map(|p| Program(Some(Cow::Owned(p)), 0))
            .map_err(Error::msg);
    }
    compile::compile(&t, caps, &words).map(|p| Program(Some(Cow::Owned(p)), 0)).map_err(Error::msg)
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

    /// A program from its bytes and its `SECCOMP_FILTER_FLAG_*` (as [`bytes`](Self::bytes)
    /// and [`flags`](Self::flags) gave them; the registry keeps both for `spawnctl shell` and
    /// `spawnbox-runc exec`).
    pub fn from_parts(bytes: Vec<u8>, flags: u32) -> Program {
        Program(Some(Cow::Owned(bytes)), flags)
    }

    /// The `SECCOMP_FILTER_FLAG_*` of the filter.
    pub fn flags(&self) -> u32 {
        self.1
    }

    /// No filter at all (an OCI bundle without `linux.seccomp`).
    pub fn none() -> Program {
        Program(None, 0)
    }

    /// Installs the filter on the calling thread (the container child, which still has
    /// CAP_SYS_ADMIN, or has set no_new_privs).
    pub fn install(&self) -> Result<()> {
        let Some(prog) = &self.0 else { return Ok(()) };
        let done = if self.1 == 0 { crate::sys::seccomp_set_mode_filter(prog) } else { set_mode_filter(prog, self.1) };
        match done {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::NOSYS => {
                log::warn!("the kernel has no seccomp support: running without a system call filter");
                Ok(())
            }
            Err(e) if e == rustix::io::Errno::INVAL && self.1 != 0 => Err(Error::sys(
                "install",
                format_args!("seccomp filter with flags {:#x} (linux.seccomp.flags)", self.1),
                e,
            )),
            Err(e) => Err(Error::sys("install", "seccomp filter", e)),
        }
    }
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). (`sys::seccomp_set_mode_filter` takes no
/// flags; this belongs there once the OCI mode lands.)
#[allow(unsafe_code)]
fn set_mode_filter(prog: &[u8], flags: u32) -> std::result::Result<(), rustix::io::Errno> {
    const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
    let fprog =
        libc::sock_fprog { len: (prog.len() / 8) as libc::c_ushort, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: fprog points at `prog`, alive for the call; the kernel copies it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            &fprog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        Err(rustix::io::Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL),
        ))
    } else {
        Ok(())
    }
}
