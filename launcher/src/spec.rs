//! `Spec`: the resolved container description — `Settings` with systemd-nspawn's defaults
//! applied (machine name, hostname, console mode, kill signal). Pure apart from `isatty`.

use crate::error::{Error, Result};
use crate::settings::{
    ConsoleMode, CustomMount, InterfacePair, NetworkAddress, PortForward, PrivateUsers, ResolvConfMode, Settings,
    StartMode, TimezoneMode, UserNamespaceOwnership, VolatileMode,
};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Longest machine name / hostname (HOST_NAME_MAX).
pub const HOST_NAME_MAX: usize = 64;

/// The resolved description of one container run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Absolute path of the container tree on the host.
    pub directory: PathBuf,
    /// `--template=`: the tree `directory` is made from when it does not exist.
    pub template: Option<PathBuf>,
    pub machine: String,
    pub hostname: String,
    pub start_mode: StartMode,
    pub parameters: Vec<OsString>,
    pub chdir: Option<PathBuf>,
    pub setenv: Vec<String>,
    pub user: Option<String>,
    /// The signal sent to PID 1 when spawnbox gets SIGTERM/SIGINT (SIGKILL unless booting).
    pub kill_signal: i32,
    /// `--kill-signal=` was given: it replaces the guest init's own shutdown request.
    pub kill_signal_explicit: bool,
    /// `--notify-ready=yes`: the launcher is ready when the guest says READY=1.
    pub notify_ready: bool,
    /// `--suppress-sync=yes`: sync calls succeed without syncing (seccomp).
    pub suppress_sync: bool,
    /// `$SYSTEMD_NSPAWN_API_VFS_WRITABLE`.
    pub api_vfs_writable: crate::settings::ApiVfsWritable,
    /// A tmpfs on /tmp (`$SYSTEMD_NSPAWN_TMPFS_TMP`).
    pub tmpfs_tmp: bool,
    /// `-b` needs an os-release file (`$SYSTEMD_NSPAWN_CHECK_OS_RELEASE`).
    pub check_os_release: bool,
    /// Lock the tree (`$SYSTEMD_NSPAWN_LOCK`).
    pub lock_tree: bool,
    /// `--link-journal=` (nspawn's default: auto).
    pub link_journal: crate::settings::LinkJournal,
    /// `--set-credential=` and `--load-credential=`, in order.
    pub credentials: Vec<crate::settings::Credential>,
    /// `--read-only`, or implied by `--volatile=` as in nspawn (whose `yes` and `overlay` still
    /// give the container a writable root of their own).
    pub read_only: bool,
    /// `-x/--ephemeral`: the tree is never written to (a btrfs snapshot or an overlay).
    pub ephemeral: bool,
    /// `--volatile=` (`no` by default).
    pub volatile: VolatileMode,
    /// `--pivot-root=NEW[:OLD]`: NEW (inside the tree) becomes `/`; the tree moves to OLD, or
    /// goes away.
    pub pivot_root: Option<(PathBuf, Option<PathBuf>)>,
    /// Custom mounts sorted by destination (stable: command-line order for equal paths).
    pub custom_mounts: Vec<CustomMount>,
    pub resolv_conf: ResolvConfMode,
    pub timezone: TimezoneMode,
    /// Interactive, ReadOnly, Passive or Pipe (Autopipe is resolved here).
    pub console: ConsoleMode,
    pub quiet: bool,
    /// `--uuid` if given (the tree's /etc/machine-id wins; random otherwise).
    pub uuid: Option<crate::settings::Id128>,
    /// `-S/--slice=` (default `machine.slice`).
    pub slice: Option<String>,
    /// `--keep-unit`: the container's cgroup goes below spawnbox's own.
    pub keep_unit: bool,
    /// `--property=` values, parsed.
    pub properties: Vec<crate::cgroup::Property>,
    /// `--cleanup`: remove leftovers of a crashed run, then exit.
    pub cleanup: bool,
    pub net: NetSpec,
    pub sec: SecSpec,
    /// `--private-users=` (`No` without a user namespace; `Managed` is refused by the parser).
    pub private_users: PrivateUsers,
    /// `--private-users-ownership=`, defaulted as nspawn does: `auto` with `pick`, else `off`.
    pub ownership: UserNamespaceOwnership,
    /// `--bind-user=` names (duplicates dropped).
    pub bind_user: Vec<String>,
    /// `--bind-user-shell=` as given.
    pub bind_user_shell: Option<String>,
    /// `--bind-user-group=` names (duplicates dropped).
    pub bind_user_group: Vec<String>,
    /// The OCI runtime (`spawnbox-runc`): the bundle's config.json is the policy. Where it is
    /// set, the core takes mounts, capabilities, seccomp, namespaces, user, rlimits, the
    /// cgroup path and resources from it and adds nothing of nspawn's (docs/OCI.md).
    pub oci: Option<Box<OciSpec>>,
}

/// What `spawnbox-runc create` runs: a bundle and its config.json (runtime-spec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciSpec {
    /// The container ID (runc's: letters, digits, `_ + - .`).
    pub id: String,
    /// The bundle directory (absolute); `config.root.path` is taken from it.
    pub bundle: PathBuf,
    pub config: crate::runtime_spec::Config,
    /// `--cgroup-manager disabled` (podman's `--cgroups=disabled`): no cgroup at all.
    pub no_cgroups: bool,
    /// `--preserve-fds N`: the caller's descriptors 3 to 3+N-1 are passed in.
    pub preserve_fds: u32,
}

/// The network options of the command line (nspawn §1.6 plus spawnbox's addressing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetSpec {
    /// A network namespace of its own (implied by every option below but `namespace_path`).
    pub private_network: bool,
    pub interfaces: Vec<InterfacePair>,
    pub macvlan: Vec<InterfacePair>,
    pub ipvlan: Vec<InterfacePair>,
    pub veth: bool,
    pub veth_extra: Vec<InterfacePair>,
    pub bridge: Option<String>,
    pub zone: Option<String>,
    /// `--network-namespace-path=`: join this namespace instead of creating one.
    pub namespace_path: Option<PathBuf>,
    pub ports: Vec<PortForward>,
    /// `--network-nat=` (spawnbox): masquerade the container's subnet, enable forwarding.
    pub nat: bool,
    /// `--network-address=` (spawnbox): automatic IPv4 addresses for the veth or zone
    /// (default `Auto`; never used with `--network-bridge`, whose network is the user's).
    pub address: NetworkAddress,
    /// `$SYSTEMD_NSPAWN_NETWORK_MAC`: the MAC of the container's side of the veth.
    pub container_mac: Option<[u8; 6]>,
}

impl NetSpec {
    /// True when the container gets a network namespace of its own (created at clone time).
    pub fn new_namespace(&self) -> bool {
        self.private_network && self.namespace_path.is_none()
    }

    /// True when the container's network namespace is not the host's: a new one, or one
    /// joined by path (`--network-namespace-path`).
    pub fn separate_namespace(&self) -> bool {
        self.private_network || self.namespace_path.is_some()
    }
}

/// The security options of the command line (nspawn §1.7, §1.8), as parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecSpec {
    /// `--capability=` additions (bit mask over capability numbers).
    pub capability: u64,
    /// `--drop-capability=`.
    pub drop_capability: u64,
    /// `--ambient-capability=`.
    pub ambient_capability: u64,
    pub no_new_privileges: Option<bool>,
    /// `--system-call-filter=` words in order, `~` prefix kept.
    pub system_call_filter: Vec<String>,
    /// `--oci-bundle`'s `linux.seccomp`: compiled instead of nspawn's filter.
    pub seccomp_profile: Option<Box<crate::runtime_spec::Seccomp>>,
    pub rlimits: Vec<crate::settings::Rlimit>,
    pub oom_score_adjust: Option<i32>,
    pub cpu_affinity: Option<Vec<u32>>,
    pub personality: Option<String>,
}

/// Facts about the caller that the defaults depend on.
pub struct Caller<'a> {
    pub cwd: &'a Path,
    pub stdin_tty: bool,
    pub stdout_tty: bool,
    /// The host's hostname, used as the machine name for `-D /`.
    pub host_hostname: &'a str,
}

impl Spec {
    /// Applies nspawn's defaults to `settings`.
    pub fn resolve(settings: Settings, caller: &Caller<'_>) -> Result<Spec> {
        let directory = root_directory(&settings, caller.cwd);
        let machine = match (&settings.machine, settings.ephemeral) {
            // nspawn adds the suffix to a derived name only, and after the .nspawn file was
            // looked up by the name without it.
            (None, true) => ephemeral_machine_name(&machine_name(&settings, caller)?, random_u64()),
            _ => machine_name(&settings, caller)?,
        };
        let hostname = settings.hostname.clone().unwrap_or_else(|| machine.clone());
        let start_mode = settings.start_mode.unwrap_or(StartMode::Pid1);
        let kill_signal = settings.kill_signal.unwrap_or(match start_mode {
            StartMode::Boot => crate::cli::SIGRTMIN + 3,
            _ => 9,
        });
        let console = resolve_console(settings.console, caller.stdin_tty, caller.stdout_tty);
        let properties =
            settings.properties.iter().map(|p| crate::cgroup::parse_property(p)).collect::<Result<Vec<_>>>()?;
        let private_users = settings.private_users.unwrap_or(PrivateUsers::No);
        let ownership = settings.private_users_ownership.unwrap_or(match private_users {
            PrivateUsers::Pick => UserNamespaceOwnership::Auto,
            _ => UserNamespaceOwnership::Off,
        });
        let mut custom_mounts = settings.custom_mounts;
        crate::sort::sort_by(&mut custom_mounts, |a, b| path_order(a.destination(), b.destination()));
        Ok(Spec {
            directory,
            template: settings.template.clone(),
            machine,
            hostname,
            start_mode,
            parameters: settings.parameters,
            chdir: settings.chdir,
            setenv: settings.setenv,
            user: settings.user,
            kill_signal,
            kill_signal_explicit: settings.kill_signal.is_some(),
            notify_ready: settings.notify_ready.unwrap_or(false),
            credentials: settings.credentials.clone(),
            suppress_sync: settings.suppress_sync.unwrap_or(false),
            api_vfs_writable: settings.api_vfs_writable.unwrap_or_default(),
            tmpfs_tmp: settings.tmpfs_tmp.unwrap_or(true),
            check_os_release: settings.check_os_release.unwrap_or(true),
            lock_tree: settings.lock_tree.unwrap_or(true),
            link_journal: settings.link_journal.unwrap_or(crate::settings::LinkJournal::Auto),
            read_only: settings.read_only || settings.volatile.is_some_and(|v| v != VolatileMode::No),
            ephemeral: settings.ephemeral,
            volatile: settings.volatile.unwrap_or(VolatileMode::No),
            pivot_root: settings.pivot_root.clone(),
            custom_mounts,
            resolv_conf: settings.resolv_conf.unwrap_or(ResolvConfMode::Auto),
            timezone: settings.timezone.unwrap_or(TimezoneMode::Auto),
            quiet: settings.quiet || console == ConsoleMode::Pipe,
            console,
            uuid: settings.uuid,
            slice: settings.slice,
            keep_unit: settings.keep_unit,
            properties,
            cleanup: settings.cleanup,
            private_users,
            ownership,
            bind_user: settings.bind_user,
            bind_user_shell: settings.bind_user_shell,
            bind_user_group: settings.bind_user_group,
            oci: None,
            sec: SecSpec {
                capability: settings.capability,
                drop_capability: settings.drop_capability,
                ambient_capability: settings.ambient_capability,
                no_new_privileges: settings.no_new_privileges,
                system_call_filter: settings.system_call_filter,
                seccomp_profile: settings.seccomp_profile,
                rlimits: settings.rlimits,
                oom_score_adjust: settings.oom_score_adjust,
                cpu_affinity: settings.cpu_affinity,
                personality: settings.personality,
            },
            net: NetSpec {
                private_network: settings.private_network,
                interfaces: settings.network_interfaces,
                macvlan: settings.network_macvlan,
                ipvlan: settings.network_ipvlan,
                veth: settings.network_veth,
                veth_extra: settings.network_veth_extra,
                bridge: settings.network_bridge,
                zone: settings.network_zone,
                namespace_path: settings.network_namespace_path,
                ports: settings.ports,
                nat: settings.network_nat.unwrap_or(false),
                address: settings.network_address.unwrap_or(NetworkAddress::Auto),
                container_mac: settings.network_mac,
            },
        })
    }

    /// True when the container runs in a user namespace of its own.
    pub fn userns(&self) -> bool {
        self.private_users != PrivateUsers::No
    }

    /// True when the console is a pty allocated inside the container.
    pub fn has_pty(&self) -> bool {
        self.console != ConsoleMode::Pipe
    }
}

/// `--console=` default: interactive on a terminal, else read-only; autopipe: interactive or pipe.
pub fn resolve_console(mode: Option<ConsoleMode>, stdin_tty: bool, stdout_tty: bool) -> ConsoleMode {
    let tty = stdin_tty && stdout_tty;
    match mode {
        Some(ConsoleMode::Autopipe) if tty => ConsoleMode::Interactive,
        Some(ConsoleMode::Autopipe) => ConsoleMode::Pipe,
        Some(m) => m,
        None if tty => ConsoleMode::Interactive,
        None => ConsoleMode::ReadOnly,
    }
}

/// Orders mount destinations so that parents come before children (`/a` < `/a/b` < `/a-b`).
pub fn path_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    a.components().cmp(b.components())
}

/// Lexically normalises an absolute path: drops `.`, resolves `..`, removes duplicate slashes.
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The root directory: `-D` (made absolute), else the current directory.
pub fn root_directory(settings: &Settings, cwd: &Path) -> PathBuf {
    match &settings.directory {
        Some(d) if d.is_absolute() => normalize(d),
        Some(d) => normalize(&cwd.join(d)),
        // nspawn: `-M NAME --template=` makes a new image when there is none.
        None => match (&settings.template, &settings.machine) {
            (Some(_), Some(m)) => Path::new(crate::image::DEFAULT_DIR).join(m),
            _ => cwd.to_path_buf(),
        },
    }
}

/// The machine name: `-M`, else derived from the root directory. It names the `.nspawn`
/// file (nspawn's `arg_machine` when `load_settings()` runs).
pub fn machine_name(settings: &Settings, caller: &Caller<'_>) -> Result<String> {
    match &settings.machine {
        Some(m) => Ok(m.clone()),
        None => derive_machine_name(&root_directory(settings, caller.cwd), caller.host_hostname),
    }
}

/// The machine name nspawn derives from a directory: its basename (the host's hostname for
/// `/`) passed through `hostname_cleanup()`.
pub fn derive_machine_name(directory: &Path, host_hostname: &str) -> Result<String> {
    let base = match directory.file_name() {
        Some(b) => b.to_string_lossy().into_owned(),
        None => host_hostname.to_string(),
    };
    let name = hostname_cleanup(&base);
    if name.is_empty() {
        return Err(Error::msg(format!("cannot derive a machine name from {}: please use -M", directory.display())));
    }
    Ok(name)
}

/// The name of an ephemeral machine whose name was derived (not given with `-M`): the derived
/// name `base` plus nspawn's random suffix `-%016x`, so that many can run from one tree. The
/// `.nspawn` file is looked up by `base`, before this is applied.
pub fn ephemeral_machine_name(base: &str, random: u64) -> String {
    format!("{base}-{random:016x}")
}

/// 64 random bits (the suffix of ephemeral names).
pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty());
    u64::from_ne_bytes(b)
}

/// systemd's `hostname_cleanup()`: keeps letters, digits, `-` and single dots, drops leading
/// dots and dashes after a dot, trims a trailing `-`/`.`, at most 64 characters.
pub fn hostname_cleanup(s: &str) -> String {
    let mut out = String::new();
    let (mut dot, mut hyphen) = (true, true);
    for c in s.chars() {
        if out.len() >= HOST_NAME_MAX {
            break;
        }
        match c {
            '.' if dot || hyphen => {}
            '.' => {
                out.push('.');
                dot = true;
                hyphen = false;
            }
            '-' if dot => {}
            '-' => {
                out.push('-');
                dot = false;
                hyphen = true;
            }
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                dot = false;
                hyphen = false;
            }
            _ => {}
        }
    }
    while out.ends_with(['-', '.']) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::MountSource;

    fn caller(cwd: &Path) -> Caller<'_> {
        Caller { cwd, stdin_tty: false, stdout_tty: false, host_hostname: "hosty" }
    }

    #[test]
    fn machine_name_from_directory_basename() {
        let cases = [
            ("/var/lib/machines/debian", "debian"),
            ("/srv/my_tree", "mytree"),
            ("/srv/-foo-", "foo"),
            ("/srv/a..b", "a.b"),
            ("/srv/Fedora 40", "Fedora40"),
            ("/srv/.hidden", "hidden"),
            ("/", "hosty"),
        ];
        for (dir, want) in cases {
            assert_eq!(derive_machine_name(Path::new(dir), "hosty").unwrap(), want, "{dir}");
        }
    }

    #[test]
    fn machine_name_is_capped_at_64() {
        let long = format!("/x/{}", "a".repeat(100));
        assert_eq!(derive_machine_name(Path::new(&long), "h").unwrap().len(), 64);
    }

    #[test]
    fn machine_name_underivable_is_an_error() {
        let e = derive_machine_name(Path::new("/srv/___"), "h").unwrap_err();
        assert_eq!(e.to_string(), "cannot derive a machine name from /srv/___: please use -M");
    }

    #[test]
    fn defaults_follow_nspawn() {
        let s = Settings { directory: Some("rootfs/../tree".into()), ..Default::default() };
        let spec = Spec::resolve(s, &caller(Path::new("/home/u"))).unwrap();
        assert_eq!(spec.directory, PathBuf::from("/home/u/tree"));
        assert_eq!(spec.machine, "tree");
        assert_eq!(spec.hostname, "tree");
        assert_eq!(spec.kill_signal, 9);
        assert_eq!(spec.start_mode, StartMode::Pid1);
        assert_eq!(spec.console, ConsoleMode::ReadOnly);
        assert_eq!(spec.resolv_conf, ResolvConfMode::Auto);
        assert_eq!(spec.timezone, TimezoneMode::Auto);
        assert!(!spec.quiet);
    }

    #[test]
    fn boot_defaults_to_sigrtmin_plus_3() {
        let s = Settings { start_mode: Some(StartMode::Boot), ..Default::default() };
        assert_eq!(Spec::resolve(s, &caller(Path::new("/m/x"))).unwrap().kill_signal, 37);
    }

    #[test]
    fn hostname_and_machine_and_cwd_default() {
        let s = Settings { machine: Some("m1".into()), hostname: Some("h1".into()), ..Default::default() };
        let spec = Spec::resolve(s, &caller(Path::new("/srv/cwd"))).unwrap();
        assert_eq!(
            (spec.directory.to_str(), spec.machine.as_str(), spec.hostname.as_str()),
            (Some("/srv/cwd"), "m1", "h1")
        );
    }

    #[test]
    fn console_defaults() {
        assert_eq!(resolve_console(None, true, true), ConsoleMode::Interactive);
        assert_eq!(resolve_console(None, true, false), ConsoleMode::ReadOnly);
        assert_eq!(resolve_console(Some(ConsoleMode::Autopipe), true, true), ConsoleMode::Interactive);
        assert_eq!(resolve_console(Some(ConsoleMode::Autopipe), false, true), ConsoleMode::Pipe);
        assert_eq!(resolve_console(Some(ConsoleMode::Passive), false, false), ConsoleMode::Passive);
    }

    #[test]
    fn pipe_implies_quiet() {
        let s = Settings { console: Some(ConsoleMode::Pipe), ..Default::default() };
        assert!(Spec::resolve(s, &caller(Path::new("/a/b"))).unwrap().quiet);
    }

    #[test]
    fn custom_mounts_sorted_parents_first() {
        let t = |d: &str| CustomMount::Tmpfs { destination: d.into(), options: String::new() };
        let b = |d: &str| CustomMount::Bind {
            source: MountSource::Host("/s".into()),
            destination: d.into(),
            read_only: false,
            recursive: true,
            idmap: crate::settings::BindIdmap::None,
        };
        let s = Settings { custom_mounts: vec![t("/a/b"), t("/a-b"), b("/a"), t("/")], ..Default::default() };
        let spec = Spec::resolve(s, &caller(Path::new("/r"))).unwrap();
        let order: Vec<_> = spec.custom_mounts.iter().map(|m| m.destination().to_str().unwrap().to_string()).collect();
        assert_eq!(order, ["/", "/a", "/a/b", "/a-b"]);
    }

    #[test]
    fn ephemeral_machines_get_a_random_suffix_unless_named() {
        assert_eq!(ephemeral_machine_name("debian", 0xab), "debian-00000000000000ab");
        let s = Settings { directory: Some("/m/deb".into()), ephemeral: true, ..Default::default() };
        let spec = Spec::resolve(s.clone(), &caller(Path::new("/"))).unwrap();
        let (base, hex) = spec.machine.split_at(4);
        assert_eq!(base, "deb-");
        assert!(hex.len() == 16 && hex.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{hex}");
        assert_eq!(spec.hostname, spec.machine);
        assert_ne!(Spec::resolve(s.clone(), &caller(Path::new("/"))).unwrap().machine, spec.machine);
        // nspawn adds the suffix only to a derived name.
        let named = Settings { machine: Some("m1".into()), ..s };
        assert_eq!(Spec::resolve(named, &caller(Path::new("/"))).unwrap().machine, "m1");
    }

    #[test]
    fn volatile_implies_a_read_only_tree() {
        for (v, ro) in [(None, false), (Some(VolatileMode::No), false), (Some(VolatileMode::Overlay), true)] {
            let s = Settings { volatile: v, ..Default::default() };
            let spec = Spec::resolve(s, &caller(Path::new("/m/x"))).unwrap();
            assert_eq!((spec.read_only, spec.volatile), (ro, v.unwrap_or(VolatileMode::No)));
        }
    }

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize(Path::new("/a/./b/../c//d/")), PathBuf::from("/a/c/d"));
        assert_eq!(normalize(Path::new("/../..")), PathBuf::from("/"));
    }
}
