//! `SettingsMask`: which groups of `Settings` a source (the command line, a `.nspawn` file) gave.
//!
//! nspawn's `SettingsMask` (`src/nspawn/nspawn-settings.h`): the same groups, names and bit
//! numbers (0..=32, then one bit per resource limit, 33..=48), plus spawnbox's own groups
//! (49..) for the options that have no `.nspawn` key, so that every field of `Settings` can
//! tell "not given" from "given as the default". A group covers all the fields its options
//! and keys set; `merge()` takes a group from one source or the other, never a mix.
#![allow(dead_code)] // the .nspawn loader (#15) is the first user outside tests

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not};

/// A set of settings groups (a `u64` of `SETTING_*` bits).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SettingsMask(u64);

/// `RLIMIT_*` names in resource-number order (`<sys/resource.h>`, RLIMIT_CPU = 0).
const RLIMIT_NAMES: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// Bit of `RLIMIT_CPU` (nspawn's `SETTING_RLIMIT_FIRST`).
const RLIMIT_FIRST_BIT: u32 = 33;

impl SettingsMask {
    /// No group.
    pub const EMPTY: Self = Self(0);

    // nspawn's groups. "Keys" are the `.nspawn` keys; "no key" groups can come from an OCI
    // bundle in nspawn, never from a `.nspawn` file.

    /// `-b/--boot`, `-a/--as-pid2`, the positional arguments; keys `Boot=`, `ProcessTwo=`,
    /// `Parameters=`. Fields `start_mode`, `parameters`.
    pub const START_MODE: Self = Self(1 << 0);
    /// `-E/--setenv`; `Environment=`. Field `setenv`.
    pub const ENVIRONMENT: Self = Self(1 << 1);
    /// `-u/--uid`, `--user=NAME`; `User=`. Field `user`.
    pub const USER: Self = Self(1 << 2);
    /// `--capability`, `--drop-capability`, `--ambient-capability`; `Capability=`,
    /// `DropCapability=`, `AmbientCapability=`. Fields `capability`, `drop_capability`,
    /// `ambient_capability`.
    pub const CAPABILITY: Self = Self(1 << 3);
    /// `--kill-signal`; `KillSignal=`. Field `kill_signal`.
    pub const KILL_SIGNAL: Self = Self(1 << 4);
    /// `--personality`; `Personality=`. Field `personality`.
    pub const PERSONALITY: Self = Self(1 << 5);
    /// `--uuid`; `MachineID=`. Field `uuid`.
    pub const MACHINE_ID: Self = Self(1 << 6);
    /// `--private-network`, `--network-interface`, `--network-macvlan`, `--network-ipvlan`,
    /// `-n/--network-veth`, `--network-veth-extra`, `--network-bridge`, `--network-zone`,
    /// `--network-namespace-path`; `[Network]` `Private=`, `VirtualEthernet=`,
    /// `VirtualEthernetExtra=`, `Interface=`, `MACVLAN=`, `IPVLAN=`, `Bridge=`, `Zone=`.
    /// Fields `private_network`, `network_interfaces`, `network_macvlan`, `network_ipvlan`,
    /// `network_veth`, `network_veth_extra`, `network_bridge`, `network_zone`,
    /// `network_namespace_path`.
    pub const NETWORK: Self = Self(1 << 7);
    /// `-p/--port`; `Port=`. Field `ports`.
    pub const EXPOSE_PORTS: Self = Self(1 << 8);
    /// `--read-only`; `ReadOnly=`. Field `read_only`.
    pub const READ_ONLY: Self = Self(1 << 9);
    /// `--volatile`; `Volatile=`. Field `volatile`.
    pub const VOLATILE_MODE: Self = Self(1 << 10);
    /// `--bind`, `--bind-ro`, `--tmpfs`, `--overlay`, `--overlay-ro`, `--inaccessible`;
    /// `Bind=`, `BindReadOnly=`, `TemporaryFileSystem=`, `Overlay=`, `OverlayReadOnly=`,
    /// `Inaccessible=`. Field `custom_mounts`.
    pub const CUSTOM_MOUNTS: Self = Self(1 << 11);
    /// `--chdir`; `WorkingDirectory=`. Field `chdir`.
    pub const WORKING_DIRECTORY: Self = Self(1 << 12);
    /// `--private-users`, `--private-users-ownership`, `--private-users-chown`, `-U`;
    /// `PrivateUsers=`, `PrivateUsersOwnership=` (`PrivateUsersChown=`). Fields
    /// `private_users`, `private_users_ownership`.
    pub const USERNS: Self = Self(1 << 13);
    /// `--notify-ready`; `NotifyReady=`. Field `notify_ready`.
    pub const NOTIFY_READY: Self = Self(1 << 14);
    /// `--pivot-root`; `PivotRoot=`. Field `pivot_root`.
    pub const PIVOT_ROOT: Self = Self(1 << 15);
    /// `--system-call-filter`; `SystemCallFilter=`. Field `system_call_filter`.
    pub const SYSCALL_FILTER: Self = Self(1 << 16);
    /// `--hostname`; `Hostname=`. Field `hostname`.
    pub const HOSTNAME: Self = Self(1 << 17);
    /// `--no-new-privileges`; `NoNewPrivileges=`. Field `no_new_privileges`.
    pub const NO_NEW_PRIVILEGES: Self = Self(1 << 18);
    /// `--oom-score-adjust`; `OOMScoreAdjust=`. Field `oom_score_adjust`.
    pub const OOM_SCORE_ADJUST: Self = Self(1 << 19);
    /// `--cpu-affinity`; `CPUAffinity=`. Field `cpu_affinity`.
    pub const CPU_AFFINITY: Self = Self(1 << 20);
    /// `--resolv-conf`; `ResolvConf=`. Field `resolv_conf`.
    pub const RESOLV_CONF: Self = Self(1 << 21);
    /// `--link-journal`, `-j`; `LinkJournal=`. Field `link_journal`.
    pub const LINK_JOURNAL: Self = Self(1 << 22);
    /// `--timezone`; `Timezone=`. Field `timezone`.
    pub const TIMEZONE: Self = Self(1 << 23);
    /// `-x/--ephemeral`; `Ephemeral=`. Field `ephemeral`.
    pub const EPHEMERAL: Self = Self(1 << 24);
    /// `-S/--slice`; no key. Field `slice`.
    pub const SLICE: Self = Self(1 << 25);
    /// `-D/--directory`, `--template`, `-i/--image`, `--mstack`; no key (an OCI bundle's
    /// root). Fields `directory`, `template`, `image`, `mstack`.
    pub const DIRECTORY: Self = Self(1 << 26);
    /// No option (nspawn: `$SYSTEMD_NSPAWN_USE_CGNS`; spawnbox always gives the container a
    /// cgroup namespace). No field; kept so that the bit numbers stay nspawn's.
    pub const USE_CGNS: Self = Self(1 << 27);
    /// `--share-system` (nspawn marks it only from `$SYSTEMD_NSPAWN_SHARE_*`); no key. Field
    /// `share_system`.
    pub const CLONE_NS_FLAGS: Self = Self(1 << 28);
    /// `--console`, `-P/--pipe`; no key. Field `console`.
    pub const CONSOLE_MODE: Self = Self(1 << 29);
    /// `--set-credential`, `--load-credential`; no key. Field `credentials`.
    pub const CREDENTIALS: Self = Self(1 << 30);
    /// `--bind-user`, `--bind-user-shell`, `--bind-user-group`; `BindUser=`,
    /// `BindUserShell=`. Fields `bind_user`, `bind_user_shell`, `bind_user_group`.
    pub const BIND_USER: Self = Self(1 << 31);
    /// `--suppress-sync`; `SuppressSync=`. Field `suppress_sync`.
    pub const SUPPRESS_SYNC: Self = Self(1 << 32);
    /// Every `--rlimit=`/`LimitX=` resource: one bit each, see [`SettingsMask::rlimit`].
    /// Field `rlimits` (entry by entry).
    pub const RLIMITS: Self = Self(0xffff << RLIMIT_FIRST_BIT);

    // spawnbox's groups: options without a `.nspawn` key (never taken from a file).

    /// `-q/--quiet`. Field `quiet`.
    pub const QUIET: Self = Self(1 << 49);
    /// `--settings`. Field `settings_mode`.
    pub const SETTINGS_MODE: Self = Self(1 << 50);
    /// `--cleanup`. Field `cleanup`.
    pub const CLEANUP: Self = Self(1 << 51);
    /// `-M/--machine` (it names the `.nspawn` file). Field `machine`.
    pub const MACHINE: Self = Self(1 << 52);
    /// `--image-policy`, `--root-hash`, `--root-hash-sig`, `--verity-data`. Fields
    /// `image_policy`, `root_hash`, `root_hash_sig`, `verity_data`.
    pub const IMAGE_OPTIONS: Self = Self(1 << 53);
    /// `--oci-bundle` (no `.nspawn` file is read with it). Field `oci_bundle`.
    pub const OCI_BUNDLE: Self = Self(1 << 54);
    /// `--property`. Field `properties`.
    pub const PROPERTIES: Self = Self(1 << 55);
    /// `--register`, `--keep-unit`. Fields `register`, `keep_unit`.
    pub const REGISTRATION: Self = Self(1 << 56);
    /// `--private-users-delegate`. Field `private_users_delegate`.
    pub const USERNS_DELEGATE: Self = Self(1 << 57);
    /// `--network-nat`, `--network-address` (spawnbox extensions); the extension keys
    /// `[Network] NAT=`, `Address=`, meant for the files of spawnbox's own directories only
    /// (`merge()` still treats the group as command-line only). Fields `network_nat`,
    /// `network_address`.
    pub const NETWORK_ADDRESSING: Self = Self(1 << 58);
    /// `-Z/--selinux-context`, `-L/--selinux-apifs-context`. Fields `selinux_context`,
    /// `selinux_apifs_context`.
    pub const SELINUX: Self = Self(1 << 59);
    /// `--forward-journal` and its `--forward-journal-*` limits. Field `forward_journal`.
    pub const FORWARD_JOURNAL: Self = Self(1 << 60);
    /// `--background`. Field `background`.
    pub const BACKGROUND: Self = Self(1 << 61);

    /// Every group (nspawn's `_SETTINGS_MASK_ALL` plus spawnbox's); `--settings=no` masks
    /// them all.
    pub const ALL: Self = Self((1 << 62) - 1);

    /// The groups an untrusted file may not set (nspawn's `merge_settings()` checks of
    /// `arg_settings_trusted`, with systemd 260's fix of CVE-2026-40226: `Ephemeral=` and
    /// `BindUser=`/`BindUserShell=` too). For `CAPABILITY` only the additions (`Capability=`,
    /// `AmbientCapability=`) are refused, `DropCapability=` is honoured; for `SYSCALL_FILTER`
    /// only an allow list is refused, a deny-only `~` list is honoured.
    pub const PRIVILEGED: Self = Self(
        Self::DIRECTORY.0
            | Self::CAPABILITY.0
            | Self::MACHINE_ID.0
            | Self::CUSTOM_MOUNTS.0
            | Self::NETWORK.0
            | Self::EXPOSE_PORTS.0
            | Self::USERNS.0
            | Self::SYSCALL_FILTER.0
            | Self::RLIMITS.0
            | Self::OOM_SCORE_ADJUST.0
            | Self::CPU_AFFINITY.0
            | Self::LINK_JOURNAL.0
            | Self::SLICE.0
            | Self::USE_CGNS.0
            | Self::CLONE_NS_FLAGS.0
            | Self::CONSOLE_MODE.0
            | Self::EPHEMERAL.0
            | Self::BIND_USER.0,
    );

    /// The groups only the command line sets: nspawn's `merge_settings()` never takes
    /// credentials from a file, and spawnbox's own groups have no key.
    pub const CLI_ONLY: Self = Self(Self::CREDENTIALS.0 | (Self::ALL.0 & !((1 << 49) - 1)));

    /// The bit of one resource limit (`resource` as in `<sys/resource.h>`, 0..=15); empty
    /// for an unknown resource.
    pub const fn rlimit(resource: u32) -> Self {
        if resource < 16 {
            Self(1 << (RLIMIT_FIRST_BIT + resource))
        } else {
            Self::EMPTY
        }
    }

    /// The raw bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The groups of `bits` (unknown bits are dropped).
    pub const fn from_bits_truncate(bits: u64) -> Self {
        Self(bits & Self::ALL.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Every group of `other` is in `self` (true for an empty `other`).
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Some group of `other` is in `self`.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The groups of `self` that are not in `other`.
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// The single-group masks of `self`, lowest bit first.
    pub fn iter(self) -> impl Iterator<Item = Self> {
        (0..64).map(|b| Self(1u64 << b)).filter(move |g| self.contains(*g) && !g.is_empty())
    }

    /// The name of a single group (`NETWORK`, `RLIMIT_NOFILE`); `None` for none or several.
    pub fn name(self) -> Option<&'static str> {
        if self.0.count_ones() != 1 {
            return None;
        }
        let bit = self.0.trailing_zeros();
        if (RLIMIT_FIRST_BIT..RLIMIT_FIRST_BIT + 16).contains(&bit) {
            return Some(RLIMIT_NAMES[(bit - RLIMIT_FIRST_BIT) as usize]);
        }
        NAMES.iter().find(|(_, m)| *m == self).map(|(n, _)| *n)
    }
}

/// The named groups other than the resource limits, in bit order.
const NAMES: [(&str, SettingsMask); 46] = [
    ("START_MODE", SettingsMask::START_MODE),
    ("ENVIRONMENT", SettingsMask::ENVIRONMENT),
    ("USER", SettingsMask::USER),
    ("CAPABILITY", SettingsMask::CAPABILITY),
    ("KILL_SIGNAL", SettingsMask::KILL_SIGNAL),
    ("PERSONALITY", SettingsMask::PERSONALITY),
    ("MACHINE_ID", SettingsMask::MACHINE_ID),
    ("NETWORK", SettingsMask::NETWORK),
    ("EXPOSE_PORTS", SettingsMask::EXPOSE_PORTS),
    ("READ_ONLY", SettingsMask::READ_ONLY),
    ("VOLATILE_MODE", SettingsMask::VOLATILE_MODE),
    ("CUSTOM_MOUNTS", SettingsMask::CUSTOM_MOUNTS),
    ("WORKING_DIRECTORY", SettingsMask::WORKING_DIRECTORY),
    ("USERNS", SettingsMask::USERNS),
    ("NOTIFY_READY", SettingsMask::NOTIFY_READY),
    ("PIVOT_ROOT", SettingsMask::PIVOT_ROOT),
    ("SYSCALL_FILTER", SettingsMask::SYSCALL_FILTER),
    ("HOSTNAME", SettingsMask::HOSTNAME),
    ("NO_NEW_PRIVILEGES", SettingsMask::NO_NEW_PRIVILEGES),
    ("OOM_SCORE_ADJUST", SettingsMask::OOM_SCORE_ADJUST),
    ("CPU_AFFINITY", SettingsMask::CPU_AFFINITY),
    ("RESOLV_CONF", SettingsMask::RESOLV_CONF),
    ("LINK_JOURNAL", SettingsMask::LINK_JOURNAL),
    ("TIMEZONE", SettingsMask::TIMEZONE),
    ("EPHEMERAL", SettingsMask::EPHEMERAL),
    ("SLICE", SettingsMask::SLICE),
    ("DIRECTORY", SettingsMask::DIRECTORY),
    ("USE_CGNS", SettingsMask::USE_CGNS),
    ("CLONE_NS_FLAGS", SettingsMask::CLONE_NS_FLAGS),
    ("CONSOLE_MODE", SettingsMask::CONSOLE_MODE),
    ("CREDENTIALS", SettingsMask::CREDENTIALS),
    ("BIND_USER", SettingsMask::BIND_USER),
    ("SUPPRESS_SYNC", SettingsMask::SUPPRESS_SYNC),
    ("QUIET", SettingsMask::QUIET),
    ("SETTINGS_MODE", SettingsMask::SETTINGS_MODE),
    ("CLEANUP", SettingsMask::CLEANUP),
    ("MACHINE", SettingsMask::MACHINE),
    ("IMAGE_OPTIONS", SettingsMask::IMAGE_OPTIONS),
    ("OCI_BUNDLE", SettingsMask::OCI_BUNDLE),
    ("PROPERTIES", SettingsMask::PROPERTIES),
    ("REGISTRATION", SettingsMask::REGISTRATION),
    ("USERNS_DELEGATE", SettingsMask::USERNS_DELEGATE),
    ("NETWORK_ADDRESSING", SettingsMask::NETWORK_ADDRESSING),
    ("SELINUX", SettingsMask::SELINUX),
    ("FORWARD_JOURNAL", SettingsMask::FORWARD_JOURNAL),
    ("BACKGROUND", SettingsMask::BACKGROUND),
];

impl BitOr for SettingsMask {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for SettingsMask {
    fn bitor_assign(&mut self, rhs: Self) {
        self.insert(rhs);
    }
}

impl BitAnd for SettingsMask {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl BitAndAssign for SettingsMask {
    fn bitand_assign(&mut self, rhs: Self) {
        self.0 &= rhs.0;
    }
}

/// The groups not in the mask (within [`SettingsMask::ALL`]).
impl Not for SettingsMask {
    type Output = Self;
    fn not(self) -> Self {
        Self(!self.0 & Self::ALL.0)
    }
}

/// `SettingsMask(NETWORK | RLIMIT_NOFILE)`, `SettingsMask(EMPTY)`.
impl fmt::Debug for SettingsMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SettingsMask(")?;
        if self.is_empty() {
            f.write_str("EMPTY")?;
        }
        for (i, g) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            match g.name() {
                Some(n) => f.write_str(n)?,
                None => write!(f, "{:#x}", g.0)?,
            }
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_numbers_are_nspawns() {
        // nspawn-settings.h: SETTING_START_MODE = 1 << 0 ... SETTING_SUPPRESS_SYNC = 1 << 32,
        // SETTING_RLIMIT_FIRST = 1 << 33, _RLIMIT_MAX = 16.
        assert_eq!(SettingsMask::START_MODE.bits(), 1);
        assert_eq!(SettingsMask::CUSTOM_MOUNTS.bits(), 1 << 11);
        assert_eq!(SettingsMask::EPHEMERAL.bits(), 1 << 24);
        assert_eq!(SettingsMask::CREDENTIALS.bits(), 1 << 30);
        assert_eq!(SettingsMask::BIND_USER.bits(), 1 << 31);
        assert_eq!(SettingsMask::SUPPRESS_SYNC.bits(), 1 << 32);
        assert_eq!(SettingsMask::rlimit(0).bits(), 1 << 33);
        assert_eq!(SettingsMask::rlimit(15).bits(), 1 << 48);
        assert_eq!(SettingsMask::rlimit(16), SettingsMask::EMPTY);
        assert_eq!(SettingsMask::RLIMITS.iter().count(), 16);
        // nspawn's _SETTINGS_MASK_ALL is the 49 low bits; spawnbox's groups are 49..=61.
        let spawnbox = SettingsMask::CLI_ONLY.difference(SettingsMask::CREDENTIALS);
        assert_eq!(spawnbox.bits(), ((1 << 62) - 1) & !((1 << 49) - 1));
    }

    #[test]
    fn every_group_has_one_bit_and_a_name() {
        let mut seen = SettingsMask::EMPTY;
        for (name, m) in NAMES {
            assert_eq!(m.bits().count_ones(), 1, "{name}");
            assert!(!seen.intersects(m), "{name} shares a bit");
            assert_eq!(m.name(), Some(name));
            seen |= m;
        }
        seen |= SettingsMask::RLIMITS;
        assert_eq!(seen, SettingsMask::ALL, "ALL is exactly the named groups");
        assert_eq!(SettingsMask::ALL.iter().filter_map(|g| g.name()).count(), 62);
        assert_eq!(SettingsMask::rlimit(7).name(), Some("RLIMIT_NOFILE"));
        assert_eq!((SettingsMask::USER | SettingsMask::HOSTNAME).name(), None);
    }

    #[test]
    fn privileged_and_cli_only_are_disjoint() {
        assert!(!SettingsMask::PRIVILEGED.intersects(SettingsMask::CLI_ONLY));
        assert!(SettingsMask::ALL.contains(SettingsMask::PRIVILEGED | SettingsMask::CLI_ONLY));
        assert!(SettingsMask::CLI_ONLY.contains(SettingsMask::QUIET | SettingsMask::BACKGROUND));
    }

    #[test]
    fn set_operations_and_debug() {
        let m = SettingsMask::NETWORK | SettingsMask::rlimit(7);
        assert!(m.contains(SettingsMask::NETWORK));
        assert!(!m.contains(SettingsMask::NETWORK | SettingsMask::USER));
        assert!(m.intersects(SettingsMask::NETWORK | SettingsMask::USER));
        assert_eq!(m & SettingsMask::RLIMITS, SettingsMask::rlimit(7));
        assert_eq!(!SettingsMask::ALL, SettingsMask::EMPTY);
        assert_eq!((!m).union(m), SettingsMask::ALL);
        assert_eq!(SettingsMask::from_bits_truncate(u64::MAX), SettingsMask::ALL);
        assert_eq!(format!("{m:?}"), "SettingsMask(NETWORK | RLIMIT_NOFILE)");
        assert_eq!(format!("{:?}", SettingsMask::EMPTY), "SettingsMask(EMPTY)");
        let mut n = SettingsMask::EMPTY;
        n |= SettingsMask::USER;
        n &= SettingsMask::USER | SettingsMask::HOSTNAME;
        assert_eq!(n, SettingsMask::USER);
    }
}
