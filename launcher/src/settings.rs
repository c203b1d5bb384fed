//! `Settings`: what the command line or a `.nspawn` file asked for, before defaults.
//!
//! Every field is "unset" by default (`None`, `false` or empty); `given` records which groups
//! of fields a source gave (`mask.rs`), `file.rs` parses settings files, and `merge.rs` ranks
//! the command line above a settings file; `spec.rs` resolves the settings into one `Spec`
//! with systemd-nspawn's defaults filled in.

use std::ffi::OsString;
use std::path::PathBuf;

pub mod file;
pub mod load;
mod mask;
mod merge;
#[cfg(test)]
mod merge_tests;
pub use mask::SettingsMask;
#[allow(unused_imports)] // the .nspawn loader (#15) is the first user outside tests
pub use merge::{cli_mask, file_trusted, merge, merge_from, Ignored, IgnoredReason, Merged};

/// How PID 1 of the container is chosen (nspawn's `StartMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// The command itself is PID 1 (default).
    Pid1,
    /// spawnbox-init is PID 1, the command PID 2 (`-a/--as-pid2`).
    Pid2,
    /// An init found in the tree is PID 1 (`-b/--boot`).
    Boot,
}

/// `--console=` (nspawn's `ConsoleMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleMode {
    Interactive,
    ReadOnly,
    Passive,
    Pipe,
    Autopipe,
}

/// Where a `--resolv-conf=` mode takes its file from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvConfSource {
    /// `/etc/resolv.conf` of the host.
    Host,
    /// `/usr/lib/systemd/resolv.conf`.
    Static,
    /// `/run/systemd/resolve/resolv.conf`.
    Uplink,
    /// `/run/systemd/resolve/stub-resolv.conf`.
    Stub,
}

/// `--resolv-conf=` (nspawn's `ResolvConfMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvConfMode {
    Off,
    Copy(ResolvConfSource),
    Replace(ResolvConfSource),
    Bind(ResolvConfSource),
    Delete,
    Auto,
}

/// `--timezone=` (nspawn's `TimezoneMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimezoneMode {
    Off,
    Copy,
    Bind,
    Symlink,
    Delete,
    Auto,
}

/// `--volatile=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolatileMode {
    No,
    Yes,
    State,
    Overlay,
}

/// `--link-journal=` / `-j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkJournal {
    No,
    Auto,
    Host,
    TryHost,
    Guest,
    TryGuest,
}

/// `--settings=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsMode {
    No,
    Yes,
    Override,
    Trusted,
}

/// `--private-users=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateUsers {
    No,
    Yes,
    Pick,
    Identity,
    Managed,
    /// Explicit base and size (`N` or `N:M`, default size 65536).
    Fixed {
        base: u32,
        size: u32,
    },
}

/// `--private-users-ownership=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserNamespaceOwnership {
    Off,
    Chown,
    Map,
    Foreign,
    Auto,
}

/// The id-mapping option of a `--bind` (`noidmap` is the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindIdmap {
    None,
    Idmap,
    /// The OCI runtime's `idmap` on an `rbind`: the source's top mount idmapped, its submounts
    /// as they are (`ridmap` is [`Idmap`](Self::Idmap): every mount of the copy).
    IdmapTop,
    RootIdmap,
    OwnerIdmap,
}

/// A bind source: a host path, or a path inside the container tree (`+` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// An absolute host path (relative sources are made absolute against the cwd at parse time).
    Host(PathBuf),
    /// A path relative to the container root (`+/srv` → `<root>/srv`), kept absolute (`/srv`).
    InRoot(PathBuf),
}

/// One `--bind`, `--bind-ro`, `--tmpfs`, `--overlay`, `--overlay-ro` or `--inaccessible`
/// (nspawn's `CustomMount`). Destinations are absolute, normalised container paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomMount {
    Bind {
        source: MountSource,
        destination: PathBuf,
        read_only: bool,
        /// `rbind` (default, true) or `norbind`.
        recursive: bool,
        idmap: BindIdmap,
    },
    Tmpfs {
        destination: PathBuf,
        /// Mount options as given (`mode=0755` is used when empty).
        options: String,
    },
    Overlay {
        /// Lower layers in argument order (the first is the bottom-most layer).
        lower: Vec<MountSource>,
        /// `None` for `--overlay-ro`.
        upper: Option<MountSource>,
        destination: PathBuf,
        read_only: bool,
    },
    Inaccessible {
        destination: PathBuf,
    },
}

impl CustomMount {
    /// How it is named in errors and plans (`--bind=SRC:DST`).
    pub fn describe(&self) -> String {
        let src = |s: &MountSource| match s {
            MountSource::Host(p) => p.display().to_string(),
            MountSource::InRoot(p) => format!("+{}", p.display()),
        };
        match self {
            CustomMount::Bind { source, destination, read_only, .. } => {
                format!("--bind{}={}:{}", if *read_only { "-ro" } else { "" }, src(source), destination.display())
            }
            CustomMount::Tmpfs { destination, .. } => format!("--tmpfs={}", destination.display()),
            CustomMount::Overlay { destination, read_only, .. } => {
                format!("--overlay{}=...:{}", if *read_only { "-ro" } else { "" }, destination.display())
            }
            CustomMount::Inaccessible { destination } => format!("--inaccessible={}", destination.display()),
        }
    }

    /// The container path this mount lands on.
    pub fn destination(&self) -> &std::path::Path {
        match self {
            CustomMount::Bind { destination, .. }
            | CustomMount::Tmpfs { destination, .. }
            | CustomMount::Overlay { destination, .. }
            | CustomMount::Inaccessible { destination } => destination,
        }
    }
}

/// `-p/--port=[tcp|udp:]HOST[:CONT]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortForward {
    pub udp: bool,
    pub host_port: u16,
    pub container_port: u16,
}

/// `--network-address=` (spawnbox extension): automatic IPv4 addressing of the veth or zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetworkAddress {
    /// No addresses: `host0` is left as nspawn leaves it.
    Off,
    /// A subnet from the default pool, 10.0.0.0/8.
    #[default]
    Auto,
    /// A subnet from this pool: network address (host bits clear) and prefix length.
    Pool(std::net::Ipv4Addr, u8),
}

/// `HOST[:CONT]` interface pairs (`--network-interface`, `--network-macvlan`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfacePair {
    pub host: String,
    pub container: Option<String>,
}

/// `--rlimit=RLIMIT_X=SOFT[:HARD]`; `u64::MAX` is infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// Resource number as in `<sys/resource.h>` (RLIMIT_CPU = 0 ... RLIMIT_RTTIME = 15).
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// `$SYSTEMD_NSPAWN_API_VFS_WRITABLE`: which of the read-only API file systems stay writable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiVfsWritable {
    #[default]
    No,
    /// `/sys`, `/proc/sys` and friends writable.
    Yes,
    /// Only `/proc/sys/net` writable.
    Network,
}

/// `--set-credential=ID:VALUE` / `--load-credential=ID:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Set { id: String, value: Vec<u8> },
    Load { id: String, path: PathBuf },
}

/// A 128-bit id (`--uuid`, `/etc/machine-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id128(pub [u8; 16]);

/// Everything the command line can say. Unset means "use the default".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    // General
    pub quiet: bool,
    pub settings_mode: Option<SettingsMode>,
    pub cleanup: bool,

    // Image
    pub directory: Option<PathBuf>,
    pub template: Option<PathBuf>,
    pub ephemeral: bool,
    pub image: Option<PathBuf>,
    pub image_policy: Option<String>,
    pub mstack: Option<PathBuf>,
    pub oci_bundle: Option<PathBuf>,
    pub read_only: bool,
    pub volatile: Option<VolatileMode>,
    pub root_hash: Option<String>,
    pub root_hash_sig: Option<String>,
    pub verity_data: Option<PathBuf>,
    pub pivot_root: Option<(PathBuf, Option<PathBuf>)>,

    // Execution
    pub start_mode: Option<StartMode>,
    pub chdir: Option<PathBuf>,
    /// `-E` in order, already resolved to `NAME=VALUE` (a bare `NAME` takes spawnbox's own
    /// value at parse time, empty when spawnbox has none, as nspawn does).
    pub setenv: Vec<String>,
    pub user: Option<String>,
    /// Signal number (systemd numbering: SIGRTMIN = 34).
    pub kill_signal: Option<i32>,
    pub notify_ready: Option<bool>,
    pub suppress_sync: Option<bool>,
    /// `$SYSTEMD_NSPAWN_API_VFS_WRITABLE`.
    pub api_vfs_writable: Option<ApiVfsWritable>,
    /// `$SYSTEMD_NSPAWN_TMPFS_TMP` (a tmpfs on /tmp unless false).
    pub tmpfs_tmp: Option<bool>,
    /// `$SYSTEMD_NSPAWN_CHECK_OS_RELEASE` (`-b` needs an os-release file unless false).
    pub check_os_release: Option<bool>,
    /// `$SYSTEMD_NSPAWN_LOCK` (the tree is locked unless false).
    pub lock_tree: Option<bool>,
    /// `$SYSTEMD_NSPAWN_NETWORK_MAC` (the container's veth MAC instead of the derived one).
    pub network_mac: Option<[u8; 6]>,

    // System identity
    pub machine: Option<String>,
    pub hostname: Option<String>,
    pub uuid: Option<Id128>,

    // Properties
    pub slice: Option<String>,
    pub properties: Vec<String>,
    pub register: Option<bool>,
    pub keep_unit: bool,

    // User namespacing
    pub private_users: Option<PrivateUsers>,
    pub private_users_ownership: Option<UserNamespaceOwnership>,
    pub private_users_delegate: Option<u32>,

    // Networking
    pub private_network: bool,
    pub network_interfaces: Vec<InterfacePair>,
    pub network_macvlan: Vec<InterfacePair>,
    pub network_ipvlan: Vec<InterfacePair>,
    pub network_veth: bool,
    pub network_veth_extra: Vec<InterfacePair>,
    pub network_bridge: Option<String>,
    pub network_zone: Option<String>,
    pub network_namespace_path: Option<PathBuf>,
    pub ports: Vec<PortForward>,
    /// `--network-nat=` (spawnbox extension).
    pub network_nat: Option<bool>,
    /// `--network-address=` (spawnbox extension).
    pub network_address: Option<NetworkAddress>,

    // Security (capability numbers as in <linux/capability.h>; bit masks over 0..=63)
    pub capability: u64,
    pub drop_capability: u64,
    pub ambient_capability: u64,
    pub no_new_privileges: Option<bool>,
    /// `--system-call-filter=` words in order, `~` prefix kept.
    pub system_call_filter: Vec<String>,
    /// An OCI bundle's `linux.seccomp` (`--oci-bundle`): replaces nspawn's filter, as
    /// nspawn's `arg_seccomp` does. Group `SYSCALL_FILTER`; no option or key sets it.
    pub seccomp_profile: Option<Box<crate::runtime_spec::Seccomp>>,
    pub selinux_context: Option<String>,
    pub selinux_apifs_context: Option<String>,

    // Resources
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adjust: Option<i32>,
    /// CPU indices.
    pub cpu_affinity: Option<Vec<u32>>,
    /// `x86` or `x86-64`.
    pub personality: Option<String>,

    // Integration
    pub resolv_conf: Option<ResolvConfMode>,
    pub timezone: Option<TimezoneMode>,
    pub link_journal: Option<LinkJournal>,
    pub forward_journal: Option<PathBuf>,

    // Mounts, in command-line order
    pub custom_mounts: Vec<CustomMount>,
    pub bind_user: Vec<String>,
    pub bind_user_shell: Option<String>,
    pub bind_user_group: Vec<String>,

    // Input/Output
    pub console: Option<ConsoleMode>,
    pub background: Option<String>,

    // Credentials
    pub credentials: Vec<Credential>,

    // Other
    pub share_system: bool,

    /// The payload's argv (or init's arguments with `-b`), verbatim.
    pub parameters: Vec<OsString>,

    /// Long names (without `--`) of options that were given and are parsed and validated but
    /// not implemented yet, in command-line order. `main` fails on the first one with
    /// `spawnbox: --NAME: not supported yet`.
    pub unsupported: Vec<&'static str>,

    /// The groups this source gave, whatever the values (nspawn's `settings_mask`): for the
    /// command line, every option given marks its group (`cli/table.rs`), so `--hostname=`
    /// (reset to the default) is given and no `--hostname` is not; for a settings file, the
    /// groups its keys left set, as nspawn's `merge_settings()` tests the values (`ReadOnly=no`
    /// is given, a key reset by an empty assignment is not). [`merge`] ranks the sources with
    /// it.
    pub given: SettingsMask,
}
