//! What the payload may do: capabilities (bounding, effective, ambient), no_new_privs, rlimits,
//! OOM score, CPU affinity, personality, and the seccomp filter — decided in the launcher before
//! the container exists, applied in the container child just before exec.
//!
//! Call order (see `container.rs`):
//! 1. [`prepare`] in the launcher, before the first clone: every option error happens here.
//! 2. [`Security::attach_device_policy`] in the launcher: without a cgroup before the clone
//!    (CAP_MKNOD dropped); with one right after the clone, while the child sets up, and before
//!    "go" ([`Msg::Go`](crate::channel::Msg) tells the child whether it is attached).
//! 3. [`Security::capabilities`] in the child on "go": the plan, without CAP_MKNOD when the
//!    launcher could not attach the program.
//! 4. [`Security::before_credentials`] in the child, still uid 0 with every capability.
//! 5. [`Security::before_exec`] in the child after the uid/gid change, right before execve.

pub mod caps;
pub mod devices;
pub mod devices_oci;
mod oci;
pub mod process;
pub mod rlimits;
pub mod seccomp;

use crate::error::Result;
use crate::settings::Rlimit;
use crate::spec::Spec;
use rustix::fd::BorrowedFd;

/// The prepared policy of one container.
pub struct Security {
    /// nspawn's policy or an OCI bundle's.
    mode: Mode,
    /// The device program is attached to the container's cgroup.
    device_policy: bool,
    quiet: bool,
    last_cap: u32,
    rlimits: Vec<Rlimit>,
    oom_score_adjust: Option<i32>,
    cpu_affinity: Option<Vec<u32>>,
    persona: Option<u32>,
    no_new_privileges: bool,
    seccomp: seccomp::Program,
    /// The payload runs in a user namespace: OOM score and rlimits are set by the launcher,
    /// which keeps the privileges to raise them.
    userns: bool,
}

/// What the two modes plan differently.
enum Mode {
    /// nspawn's capability plan, what it was planned from (to plan again without a device
    /// policy), and the device program's allow list.
    Nspawn { caps: caps::Plan, caps_request: caps::Request, device_rules: Vec<devices::Rule> },
    /// OCI mode (`spec.oci`): config.json's policy, which replaces nspawn's (oci.rs).
    Oci(Box<oci::Oci>),
}

/// Checks the security options and prepares the policy (compiles the seccomp filter). Makes the
/// launcher non-dumpable first: from here on it holds host resources (the tree, the cgroup,
/// network links) that a ptrace or /proc/PID/mem access must not reach.
///
/// With [`Spec::oci`] set the policy is the bundle's config.json alone (see oci.rs): the
/// command line's security options and nspawn's defaults play no part.
pub fn prepare(spec: &Spec) -> Result<Security> {
    process::set_non_dumpable()?;
    if let Some(o) = &spec.oci {
        return oci::prepare(spec, o);
    }
    let sec = &spec.sec;
    let last_cap = caps::read_last_cap();
    let caps_request = caps::Request {
        add: sec.capability,
        drop: sec.drop_capability,
        ambient: sec.ambient_capability,
        private_network: spec.net.separate_namespace(),
        // CAP_NET_BIND_SERVICE is dropped in a user namespace without a private network.
        userns: spec.userns(),
        // Planned with the device program (CAP_MKNOD kept, as nspawn); planned again without
        // it by `attach_device_policy` if the program cannot be attached.
        device_policy: true,
        last_cap,
        host: caps::host_mask(last_cap)?,
    };
    let caps = caps::plan(&caps_request)?;
    // As nspawn: a default capability the host lacks is dropped quietly (debug); one the user
    // asked for by name with --capability= is worth a warning (`all` names none).
    let asked = if sec.capability == u64::MAX { 0 } else { caps.missing & sec.capability };
    if asked != 0 {
        say(spec.quiet, format!("not in spawnbox's own capability sets, not retained: {}", caps::names(asked)));
    }
    if caps.missing & !asked != 0 {
        log::debug!("default capabilities not in spawnbox's own sets, dropped: {}", caps::names(caps.missing & !asked));
    }
    if let Some(cpus) = &sec.cpu_affinity {
        process::check_cpu_affinity(cpus)?;
    }
    let persona = sec.personality.as_deref().map(process::persona).transpose()?;
    log::debug!("capabilities: bounding {:#x}, ambient {:#x}", caps.retained, caps.ambient);
    Ok(Security {
        mode: Mode::Nspawn { caps, caps_request, device_rules: devices::rules(&spec.custom_mounts) },
        device_policy: false,
        quiet: spec.quiet,
        last_cap,
        rlimits: rlimits::plan_for_host(&sec.rlimits)?,
        oom_score_adjust: sec.oom_score_adjust,
        cpu_affinity: sec.cpu_affinity.clone(),
        persona,
        no_new_privileges: sec.no_new_privileges.unwrap_or(false),
        seccomp: seccomp::prepare(spec)?,
        userns: spec.userns(),
    })
}

/// A warning, or debug output with `-q`.
fn say(quiet: bool, text: String) {
    if quiet {
        log::debug!("{text}")
    } else {
        log::warn!("{text}")
    }
}

impl Security {
    /// In the launcher, once the container's cgroup exists (`None`: it has none) and before
    /// "go", so that the payload starts confined: attaches the device program. Where that is
    /// impossible, plans the capabilities again without CAP_MKNOD (unless `--capability=` names
    /// it) and says so once; fails only if `--ambient-capability=` then asks for CAP_MKNOD.
    ///
    /// OCI mode: attaches config.json's device program; without it the rules are not enforced
    /// (said once) and the capabilities stay config.json's.
    pub fn attach_device_policy(&mut self, cgroup: Option<BorrowedFd<'_>>) -> Result<()> {
        let (plan, request, rules) = match &mut self.mode {
            Mode::Oci(o) => {
                self.device_policy = o.attach_device_policy(cgroup, self.quiet);
                return Ok(());
            }
            Mode::Nspawn { caps, caps_request, device_rules } => (caps, caps_request, device_rules),
        };
        let why = match cgroup {
            None => "the container has no cgroup of its own".to_string(),
            Some(fd) => match devices::attach(fd, rules) {
                Ok(n) => {
                    log::debug!("device policy attached: {} rules, {n} instructions", rules.len());
                    self.device_policy = true;
                    return Ok(());
                }
                Err(e) => e.to_string(),
            },
        };
        self.device_policy = false;
        *plan = caps::plan(&caps::Request { device_policy: false, ..*request })?;
        let what = if plan.mknod_dropped {
            "cap_mknod is not retained (--capability=CAP_MKNOD keeps it)"
        } else {
            "device nodes are not confined"
        };
        say(self.quiet, format!("no device policy ({why}): {what}"));
        Ok(())
    }

    /// The device program is attached (launcher side, after [`attach_device_policy`](Self::attach_device_policy)).
    pub fn device_policy_attached(&self) -> bool {
        self.device_policy
    }

    /// In the child, on "go": the capability plan, planned again without the device policy
    /// when the launcher says it could not attach it (`devices` false), exactly as
    /// [`attach_device_policy`](Self::attach_device_policy) planned it there.
    /// OCI mode: config.json's bounding and ambient sets, whatever `devices` says.
    pub fn capabilities(&self, devices: bool) -> Result<caps::Plan> {
        match &self.mode {
            Mode::Oci(o) => Ok(o.caps.plan()),
            Mode::Nspawn { caps, .. } if devices => Ok(*caps),
            Mode::Nspawn { caps_request, .. } => caps::plan(&caps::Request { device_policy: false, ..*caps_request }),
        }
    }

    /// In the child, before the uid/gid change: OOM score, affinity, personality and rlimits
    /// (raising needs CAP_SYS_RESOURCE), the bounding set of `caps` (needs CAP_SETPCAP), and
    /// last the seccomp filter.
    /// OCI mode: config.json's sets (`caps` is what [`capabilities`](Self::capabilities)
    /// gave), rlimits exactly, and the seccomp filter here only without no_new_privs.
    pub fn before_credentials(&self, caps: &caps::Plan) -> Result<()> {
        if let Mode::Oci(o) = &self.mode {
            return o.before_credentials(self);
        }
        if let (Some(v), false) = (self.oom_score_adjust, self.userns) {
            process::set_oom_score_adjust(v)?;
        }
        if let Some(cpus) = &self.cpu_affinity {
            process::set_cpu_affinity(cpus)?;
        }
        if let Some(p) = self.persona {
            process::set_personality(p)?;
        }
        if !self.userns {
            rlimits::apply(&self.rlimits)?;
        }
        caps::apply_bounding(caps, self.last_cap)?;
        self.seccomp.install()
    }

    /// The container's compiled seccomp filter, for processes that join it later.
    pub fn seccomp_program(&self) -> Option<&[u8]> {
        self.seccomp.bytes()
    }

    /// The `SECCOMP_FILTER_FLAG_*` the filter is installed with (config.json's `flags` in OCI
    /// mode; 0 otherwise), for processes that join the container later.
    pub fn seccomp_flags(&self) -> u32 {
        self.seccomp.flags()
    }

    /// OCI mode: the five capability sets of config.json's `process.capabilities` (for
    /// `exec` of another process into the container, and for tests).
    pub fn oci_capabilities(&self) -> Option<caps::Quintet> {
        match &self.mode {
            Mode::Oci(o) => Some(o.caps),
            Mode::Nspawn { .. } => None,
        }
    }

    /// The payload runs in a user namespace, so its OOM score and rlimits are the launcher's
    /// to set ([`apply_to_child`](Self::apply_to_child)) and the child leaves them alone. In
    /// OCI mode this is true when config.json's `linux.namespaces` has a user namespace (new
    /// or joined), whatever `Spec::private_users` says: the launcher must then call
    /// `apply_to_child`.
    pub fn limits_from_launcher(&self) -> bool {
        self.userns
    }

    /// In the launcher, for a child in a user namespace (whose root has no privilege over the
    /// host's limits): its OOM score and rlimits.
    /// OCI mode: config.json's rlimits exactly, failing as runc does.
    pub fn apply_to_child(&self, pid: i32) -> Result<()> {
        if let Some(v) = self.oom_score_adjust {
            process::set_oom_score_adjust_of(pid, v)?;
        }
        if let Mode::Oci(_) = self.mode {
            return rlimits::apply_exact_to(pid, &self.rlimits);
        }
        rlimits::apply_to(pid, &self.rlimits)
    }

    /// In the child, after the uid/gid change, right before execve: the capability sets,
    /// no_new_privs, and non-dumpable again (a uid change resets the flag to fs.suid_dumpable;
    /// execve makes the payload dumpable as usual).
    ///
    /// OCI mode: exactly config.json's effective, permitted, inheritable and ambient sets, the
    /// AppArmor profile, no_new_privs, then the seccomp filter if no_new_privs deferred it.
    pub fn before_exec(&self, caps: &caps::Plan) -> Result<()> {
        if let Mode::Oci(o) = &self.mode {
            return o.before_exec(self);
        }
        caps::apply_after_uid_change(caps)?;
        if self.no_new_privileges {
            process::set_no_new_privs()?;
        }
        process::set_non_dumpable()
    }
}
