//! The seccomp filter of the payload: nspawn's allow-list policy, compiled to classic BPF. The
//! default filter is compiled by build.rs (`OUT_DIR/seccomp-default.bpf`); other policies
//! (`--system-call-filter=`, capability changes) are compiled here, in the launcher.

mod compile;
mod groups;
mod syscalls;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::spec::Spec;
use std::borrow::Cow;

/// The default policy (nspawn's default capabilities, no `--system-call-filter=`), compiled by
/// build.rs.
static DEFAULT_PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/seccomp-default.bpf"));

/// CAP_NET_ADMIN.
const CAP_NET_ADMIN: u8 = 12;

/// The capabilities that widen the filter (the gates of nspawn's allow list).
fn gating_caps() -> u64 {
    groups::NSPAWN_ALLOW.iter().filter(|(c, _)| *c != groups::ALWAYS).fold(0, |m, (c, _)| m | 1u64 << c)
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
    if !cfg!(target_arch = "x86_64") {
        if !words.is_empty() {
            return Err(Error::msg("--system-call-filter= is only supported on x86_64"));
        }
        log::warn!("no seccomp filter on this architecture (x86_64 only)");
        return Ok(Program(None));
    }
    let caps = seccomp_retained_caps(spec);
    let gates = gating_caps();
    if words.is_empty() && caps & gates == groups::NSPAWN_DEFAULT_CAPS & gates {
        return Ok(Program(Some(Cow::Borrowed(DEFAULT_PROGRAM))));
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    compile::compile(caps, &words).map(|p| Program(Some(Cow::Owned(p)))).map_err(Error::msg)
}

impl Program {
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
