//! The `.nspawn` keys: one table row per key (section, name, the option it mirrors, the
//! settings group it sets, its parser), as nspawn's `nspawn-gperf.gperf`, plus spawnbox's
//! extensions. `parse()` walks it, docs/SETTINGS-FILES.md is checked against it.

use super::handlers as h;
use super::State;
use crate::error::Error;
use crate::settings::SettingsMask as S;

/// A `.nspawn` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Exec,
    Files,
    Network,
}

impl Section {
    /// Every section, in the order of systemd.nspawn(5).
    pub const ALL: [Section; 3] = [Section::Exec, Section::Files, Section::Network];

    /// The name between the brackets.
    pub const fn name(self) -> &'static str {
        match self {
            Section::Exec => "Exec",
            Section::Files => "Files",
            Section::Network => "Network",
        }
    }

    /// The section called `name` (case-sensitive, as systemd).
    pub fn from_name(name: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A key's parser: applies one (whitespace-stripped) value to the state; the error is the
/// problem only, the caller prepends `FILE:LINE: [Section] Key=: `.
pub type Apply = fn(&mut State, &str) -> Result<(), Error>;

/// One `.nspawn` key.
#[derive(Clone, Copy)]
pub struct Key {
    pub section: Section,
    pub name: &'static str,
    /// The command-line option with the same meaning and value syntax.
    pub option: &'static str,
    /// The settings group its value belongs to (nspawn's `SETTING_*`).
    pub group: S,
    /// A spawnbox extension, not a key of systemd-nspawn.
    pub extension: bool,
    pub apply: Apply,
}

const fn k(section: Section, name: &'static str, option: &'static str, group: S, apply: Apply) -> Key {
    Key { section, name, option, group, extension: false, apply }
}

const fn ext(section: Section, name: &'static str, option: &'static str, group: S, apply: Apply) -> Key {
    Key { section, name, option, group, extension: true, apply }
}

const fn limit<const R: u32>(name: &'static str) -> Key {
    k(Section::Exec, name, "--rlimit", S::rlimit(R), h::limit::<R>)
}

use Section::{Exec as E, Files as F, Network as N};

/// Every key, in nspawn-gperf.gperf's order, then spawnbox's extensions.
#[rustfmt::skip]
pub const KEYS: [Key; 64] = [
    k(E, "Boot", "-b/--boot", S::START_MODE, h::boot),
    k(E, "Ephemeral", "-x/--ephemeral", S::EPHEMERAL, h::ephemeral),
    k(E, "ProcessTwo", "-a/--as-pid2", S::START_MODE, h::process_two),
    k(E, "Parameters", "positional arguments", S::START_MODE, h::parameters),
    k(E, "Environment", "-E/--setenv", S::ENVIRONMENT, h::environment),
    k(E, "User", "-u/--user", S::USER, h::user),
    k(E, "Capability", "--capability", S::CAPABILITY, h::capability),
    k(E, "AmbientCapability", "--ambient-capability", S::CAPABILITY, h::ambient_capability),
    k(E, "DropCapability", "--drop-capability", S::CAPABILITY, h::drop_capability),
    k(E, "KillSignal", "--kill-signal", S::KILL_SIGNAL, h::kill_signal),
    k(E, "Personality", "--personality", S::PERSONALITY, h::personality),
    k(E, "MachineID", "--uuid", S::MACHINE_ID, h::machine_id),
    k(E, "WorkingDirectory", "--chdir", S::WORKING_DIRECTORY, h::working_directory),
    k(E, "PivotRoot", "--pivot-root", S::PIVOT_ROOT, h::pivot_root),
    k(E, "PrivateUsers", "--private-users", S::USERNS, h::private_users),
    k(E, "NotifyReady", "--notify-ready", S::NOTIFY_READY, h::notify_ready),
    k(E, "SystemCallFilter", "--system-call-filter", S::SYSCALL_FILTER, h::system_call_filter),
    limit::<0>("LimitCPU"),
    limit::<1>("LimitFSIZE"),
    limit::<2>("LimitDATA"),
    limit::<3>("LimitSTACK"),
    limit::<4>("LimitCORE"),
    limit::<5>("LimitRSS"),
    limit::<7>("LimitNOFILE"),
    limit::<9>("LimitAS"),
    limit::<6>("LimitNPROC"),
    limit::<8>("LimitMEMLOCK"),
    limit::<10>("LimitLOCKS"),
    limit::<11>("LimitSIGPENDING"),
    limit::<12>("LimitMSGQUEUE"),
    limit::<13>("LimitNICE"),
    limit::<14>("LimitRTPRIO"),
    limit::<15>("LimitRTTIME"),
    k(E, "Hostname", "--hostname", S::HOSTNAME, h::hostname),
    k(E, "NoNewPrivileges", "--no-new-privileges", S::NO_NEW_PRIVILEGES, h::no_new_privileges),
    k(E, "OOMScoreAdjust", "--oom-score-adjust", S::OOM_SCORE_ADJUST, h::oom_score_adjust),
    k(E, "CPUAffinity", "--cpu-affinity", S::CPU_AFFINITY, h::cpu_affinity),
    k(E, "ResolvConf", "--resolv-conf", S::RESOLV_CONF, h::resolv_conf),
    k(E, "LinkJournal", "--link-journal", S::LINK_JOURNAL, h::link_journal),
    k(E, "Timezone", "--timezone", S::TIMEZONE, h::timezone),
    k(E, "SuppressSync", "--suppress-sync", S::SUPPRESS_SYNC, h::suppress_sync),
    k(F, "ReadOnly", "--read-only", S::READ_ONLY, h::read_only),
    k(F, "Volatile", "--volatile", S::VOLATILE_MODE, h::volatile),
    k(F, "Bind", "--bind", S::CUSTOM_MOUNTS, h::bind),
    k(F, "BindReadOnly", "--bind-ro", S::CUSTOM_MOUNTS, h::bind_read_only),
    k(F, "TemporaryFileSystem", "--tmpfs", S::CUSTOM_MOUNTS, h::temporary_file_system),
    k(F, "Inaccessible", "--inaccessible", S::CUSTOM_MOUNTS, h::inaccessible),
    k(F, "Overlay", "--overlay", S::CUSTOM_MOUNTS, h::overlay),
    k(F, "OverlayReadOnly", "--overlay-ro", S::CUSTOM_MOUNTS, h::overlay_read_only),
    k(F, "PrivateUsersChown", "--private-users-chown", S::USERNS, h::private_users_chown),
    k(F, "PrivateUsersOwnership", "--private-users-ownership", S::USERNS, h::private_users_ownership),
    k(F, "BindUser", "--bind-user", S::BIND_USER, h::bind_user),
    k(F, "BindUserShell", "--bind-user-shell", S::BIND_USER, h::bind_user_shell),
    k(N, "Private", "--private-network", S::NETWORK, h::private),
    k(N, "Interface", "--network-interface", S::NETWORK, h::interface),
    k(N, "MACVLAN", "--network-macvlan", S::NETWORK, h::macvlan),
    k(N, "IPVLAN", "--network-ipvlan", S::NETWORK, h::ipvlan),
    k(N, "VirtualEthernet", "-n/--network-veth", S::NETWORK, h::virtual_ethernet),
    k(N, "VirtualEthernetExtra", "--network-veth-extra", S::NETWORK, h::virtual_ethernet_extra),
    k(N, "Bridge", "--network-bridge", S::NETWORK, h::bridge),
    k(N, "Zone", "--network-zone", S::NETWORK, h::zone),
    k(N, "Port", "-p/--port", S::EXPOSE_PORTS, h::port),
    ext(N, "NAT", "--network-nat", S::NETWORK_ADDRESSING, h::nat),
    ext(N, "Address", "--network-address", S::NETWORK_ADDRESSING, h::address),
];

/// The key called `name` in `section` (case-sensitive, as systemd).
pub fn find(section: Section, name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.section == section && k.name == name)
}

/// The sections that have a key called `name` (for the unknown-key warning's hint).
pub fn sections_of(name: &str) -> impl Iterator<Item = Section> {
    let name = name.to_string();
    KEYS.iter().filter(move |k| k.name == name).map(|k| k.section)
}
