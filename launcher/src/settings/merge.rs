//! `merge()`: the command line beats a settings file, which beats the default — nspawn's
//! `merge_settings()` (`src/nspawn/nspawn.c`) as a pure function of two `Settings`.

use super::{Rlimit, Settings, SettingsMask, SettingsMode};
use std::path::Path;

/// Why a group that the file gave was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoredReason {
    /// A privileged setting in a file that is not trusted (nspawn's warning).
    Untrusted,
    /// A group only the command line sets: a `.nspawn` file has no key for it.
    CommandLineOnly,
    /// spawnbox's extension keys in a file outside spawnbox's own directories.
    Extension,
}

/// One group (or part of one) that `merge()` did not take from the file; the loader warns
/// once for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub group: SettingsMask,
    /// What nspawn's warning names: `Capability= setting`, `network settings`.
    pub what: &'static str,
    pub reason: IgnoredReason,
}

impl Ignored {
    /// The warning, in nspawn's words for untrusted files.
    pub fn message(&self, path: &Path) -> String {
        match self.reason {
            IgnoredReason::Untrusted => {
                format!("Ignoring {}, file {} is not trusted.", self.what, path.display())
            }
            IgnoredReason::CommandLineOnly => {
                format!("Ignoring {} in file {}: only the command line sets it.", self.what, path.display())
            }
            IgnoredReason::Extension => format!(
                "Ignoring {} in file {}: spawnbox reads its own keys only from files in /etc/spawnbox and /run/spawnbox.",
                self.what,
                path.display()
            ),
        }
    }
}

/// The result of [`merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The command line's settings with the file's groups merged in; `given` is the command
    /// line's groups plus the ones taken from the file.
    pub settings: Settings,
    /// What the file gave and `merge()` left out, in nspawn's order.
    pub ignored: Vec<Ignored>,
}

/// The groups the command line keeps for itself (nspawn's `arg_settings_mask` after
/// `parse_argv()`): the ones it gave; none with `--settings=override` (the file wins);
/// all with `--settings=no` (no file is used).
pub fn cli_mask(cli: &Settings) -> SettingsMask {
    match cli.settings_mode {
        Some(SettingsMode::Override) => SettingsMask::EMPTY,
        Some(SettingsMode::No) => SettingsMask::ALL,
        _ => cli.given,
    }
}

/// Whether a settings file is trusted (nspawn's `load_settings()`): with `--settings=trusted`
/// any file is; otherwise one found in the admin's directories (`/etc/systemd/nspawn`,
/// `/run/systemd/nspawn`) is, and one found next to the image is not.
pub fn file_trusted(mode: Option<SettingsMode>, in_admin_dir: bool) -> bool {
    match mode {
        Some(SettingsMode::Trusted) => true,
        Some(SettingsMode::No) => false,
        _ => in_admin_dir,
    }
}

/// `LimitX=` in nspawn's warning, by resource number.
const LIMIT_WHAT: [&str; 16] = [
    "LimitCPU= setting",
    "LimitFSIZE= setting",
    "LimitDATA= setting",
    "LimitSTACK= setting",
    "LimitCORE= setting",
    "LimitRSS= setting",
    "LimitNPROC= setting",
    "LimitNOFILE= setting",
    "LimitMEMLOCK= setting",
    "LimitAS= setting",
    "LimitLOCKS= setting",
    "LimitSIGPENDING= setting",
    "LimitMSGQUEUE= setting",
    "LimitNICE= setting",
    "LimitRTPRIO= setting",
    "LimitRTTIME= setting",
];

/// Merges a settings file into the command line's settings, group by group, as nspawn's
/// `merge_settings()` does:
///
/// - a group the command line keeps ([`cli_mask`]) keeps the command line's value;
/// - otherwise a group the file gave (`file.given`) replaces it as a whole (lists are
///   replaced, not appended: `Bind=` lines do not add to `--bind`); a privileged group
///   ([`SettingsMask::PRIVILEGED`]) only from a `trusted` file, else it is listed in
///   `ignored`; partly for `CAPABILITY` (an untrusted `DropCapability=` is honoured,
///   `Capability=`/`AmbientCapability=` are not) and `SYSCALL_FILTER` (a deny-only list is
///   honoured);
/// - otherwise the command line's value stays, which is the default when it did not give the
///   group (or what the environment set, as `$SYSTEMD_SUPPRESS_SYNC`).
///
/// nspawn also adds or drops CAP_NET_ADMIN when a file's network settings are taken; in
/// spawnbox the retained set follows the merged `private_network` anyway
/// (`cli::verify::retained_capabilities`). The caller checks the cross-option rules again on
/// the result.
pub fn merge(cli: &Settings, file: &Settings, trusted: bool) -> Merged {
    merge_from(cli, file, trusted, false)
}

/// [`merge`], for a file that may also use spawnbox's extension keys (`[Network] NAT=`,
/// `Address=`: the `NETWORK_ADDRESSING` group, privileged) when `extensions` is set — a file
/// from spawnbox's own directories. In other files they are ignored with a warning.
pub fn merge_from(cli: &Settings, file: &Settings, trusted: bool, extensions: bool) -> Merged {
    let open = file.given.difference(cli_mask(cli));
    let mut m = Merge { out: cli.clone(), file, open, trusted, taken: SettingsMask::EMPTY, ignored: Vec::new() };
    type S = SettingsMask;

    m.take(S::START_MODE, None, |o, f| {
        o.start_mode = f.start_mode;
        o.parameters = f.parameters.clone();
    });
    // Trusted files only (CVE-2026-40226: an image's own file asking for -x or a host user).
    m.take(S::EPHEMERAL, Some("Ephemeral= setting"), |o, f| o.ephemeral = f.ephemeral);
    m.take(S::DIRECTORY, Some("root directory setting"), |o, f| {
        o.directory = f.directory.clone();
        o.template = f.template.clone();
        o.image = f.image.clone();
        o.mstack = f.mstack.clone();
    });
    m.take(S::PIVOT_ROOT, None, |o, f| o.pivot_root = f.pivot_root.clone());
    m.take(S::WORKING_DIRECTORY, None, |o, f| o.chdir = f.chdir.clone());
    m.take(S::ENVIRONMENT, None, |o, f| o.setenv = f.setenv.clone());
    m.take(S::USER, None, |o, f| o.user = f.user.clone());
    m.capabilities();
    m.take(S::KILL_SIGNAL, None, |o, f| o.kill_signal = f.kill_signal);
    m.take(S::PERSONALITY, None, |o, f| o.personality = f.personality.clone());
    m.take(S::MACHINE_ID, Some("MachineID= setting"), |o, f| o.uuid = f.uuid);
    m.take(S::READ_ONLY, None, |o, f| o.read_only = f.read_only);
    m.take(S::VOLATILE_MODE, None, |o, f| o.volatile = f.volatile);
    m.take(
        S::CUSTOM_MOUNTS,
        Some("Bind=, BindReadOnly=, TemporaryFileSystem=, Inaccessible=, Overlay= and OverlayReadOnly= settings"),
        |o, f| o.custom_mounts = f.custom_mounts.clone(),
    );
    m.take(S::NETWORK, Some("network settings"), |o, f| {
        o.private_network = f.private_network;
        o.network_interfaces = f.network_interfaces.clone();
        o.network_macvlan = f.network_macvlan.clone();
        o.network_ipvlan = f.network_ipvlan.clone();
        o.network_veth = f.network_veth;
        o.network_veth_extra = f.network_veth_extra.clone();
        o.network_bridge = f.network_bridge.clone();
        o.network_zone = f.network_zone.clone();
        o.network_namespace_path = f.network_namespace_path.clone();
    });
    m.take(S::EXPOSE_PORTS, Some("Port= setting"), |o, f| o.ports = f.ports.clone());
    m.take(S::USERNS, Some("PrivateUsers= and PrivateUsersOwnership= settings"), |o, f| {
        o.private_users = f.private_users;
        o.private_users_ownership = f.private_users_ownership;
    });
    m.take(S::BIND_USER, Some("BindUser= and BindUserShell= settings"), |o, f| {
        o.bind_user = f.bind_user.clone();
        o.bind_user_shell = f.bind_user_shell.clone();
        o.bind_user_group = f.bind_user_group.clone();
    });
    m.take(S::NOTIFY_READY, None, |o, f| o.notify_ready = f.notify_ready);
    // An untrusted file may only deny system calls (nspawn checks the allow list alone).
    let allows = file.system_call_filter.iter().any(|w| !w.starts_with('~'));
    let what = allows.then_some("SystemCallFilter= settings");
    m.take(S::SYSCALL_FILTER, what, |o, f| {
        o.system_call_filter = f.system_call_filter.clone();
        o.seccomp_profile = f.seccomp_profile.clone();
    });
    for (resource, what) in (0u32..).zip(LIMIT_WHAT) {
        m.take(S::rlimit(resource), Some(what), |o, f| {
            let Some(limit) = f.rlimits.iter().rfind(|l| l.resource == resource) else { return };
            set_rlimit(&mut o.rlimits, *limit);
        });
    }
    m.take(S::HOSTNAME, None, |o, f| o.hostname = f.hostname.clone());
    m.take(S::NO_NEW_PRIVILEGES, None, |o, f| o.no_new_privileges = f.no_new_privileges);
    m.take(S::OOM_SCORE_ADJUST, Some("OOMScoreAdjust= setting"), |o, f| o.oom_score_adjust = f.oom_score_adjust);
    m.take(S::CPU_AFFINITY, Some("CPUAffinity= setting"), |o, f| o.cpu_affinity = f.cpu_affinity.clone());
    m.take(S::RESOLV_CONF, None, |o, f| o.resolv_conf = f.resolv_conf);
    m.take(S::LINK_JOURNAL, Some("journal link setting"), |o, f| o.link_journal = f.link_journal);
    m.take(S::TIMEZONE, None, |o, f| o.timezone = f.timezone);
    m.take(S::SLICE, Some("slice setting"), |o, f| o.slice = f.slice.clone());
    m.take(S::USE_CGNS, Some("cgroup namespace setting"), |_, _| {});
    m.take(S::CLONE_NS_FLAGS, Some("namespace setting"), |o, f| o.share_system = f.share_system);
    m.take(S::CONSOLE_MODE, Some("console mode setting"), |o, f| o.console = f.console);
    m.take(S::SUPPRESS_SYNC, None, |o, f| o.suppress_sync = f.suppress_sync);
    let addressing = "NAT= and Address= settings";
    if extensions {
        m.take(S::NETWORK_ADDRESSING, Some(addressing), |o, f| {
            o.network_nat = f.network_nat;
            o.network_address = f.network_address;
        });
    } else if open.contains(S::NETWORK_ADDRESSING) {
        m.ignore(S::NETWORK_ADDRESSING, addressing, IgnoredReason::Extension);
    }
    for g in (open & S::CLI_ONLY.difference(S::NETWORK_ADDRESSING)).iter() {
        m.ignore(g, g.name().unwrap_or("setting"), IgnoredReason::CommandLineOnly);
    }

    let mut settings = m.out;
    settings.given = cli.given | m.taken;
    Merged { settings, ignored: m.ignored }
}

/// Replaces the limit of the same resource, or appends.
fn set_rlimit(list: &mut Vec<Rlimit>, limit: Rlimit) {
    match list.iter_mut().find(|l| l.resource == limit.resource) {
        Some(slot) => *slot = limit,
        None => list.push(limit),
    }
}

struct Merge<'a> {
    out: Settings,
    file: &'a Settings,
    /// The file's groups that the command line does not keep.
    open: SettingsMask,
    trusted: bool,
    taken: SettingsMask,
    ignored: Vec<Ignored>,
}

impl Merge<'_> {
    /// Takes `group` from the file with `copy` when it is open; `privileged` (the warning's
    /// words) only from a trusted file.
    fn take(
        &mut self,
        group: SettingsMask,
        privileged: Option<&'static str>,
        copy: impl FnOnce(&mut Settings, &Settings),
    ) {
        if group.is_empty() || !self.open.contains(group) {
            return;
        }
        if let (Some(what), false) = (privileged, self.trusted) {
            self.ignore(group, what, IgnoredReason::Untrusted);
            return;
        }
        copy(&mut self.out, self.file);
        self.taken |= group;
    }

    /// `CAPABILITY`: an untrusted file may drop capabilities, not add any.
    fn capabilities(&mut self) {
        let (group, f) = (SettingsMask::CAPABILITY, self.file);
        if !self.open.contains(group) {
            return;
        }
        self.out.drop_capability = f.drop_capability;
        if self.trusted {
            self.out.capability = f.capability;
            self.out.ambient_capability = f.ambient_capability;
        } else {
            if f.capability != 0 {
                self.ignore(group, "Capability= setting", IgnoredReason::Untrusted);
            }
            if f.ambient_capability != 0 {
                self.ignore(group, "AmbientCapability= setting", IgnoredReason::Untrusted);
            }
        }
        if self.trusted || f.drop_capability != 0 {
            self.taken |= group;
        }
    }

    fn ignore(&mut self, group: SettingsMask, what: &'static str, reason: IgnoredReason) {
        self.ignored.push(Ignored { group, what, reason });
    }
}
