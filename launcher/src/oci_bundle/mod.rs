//! `--oci-bundle=PATH`: a bundle's config.json read the way systemd-nspawn's `nspawn-oci.c`
//! reads it — into the `Settings` a settings file would give, merged below the command line
//! (nspawn's `load_oci_bundle()` → `merge_settings()`), so nspawn's own policy (API file
//! systems, capabilities, device policy, seccomp unless the bundle has a profile) stays.
//!
//! [`convert`] is pure: `Config` in, [`Bundle`] out, every refusal one line naming the JSON
//! path. `mounts.rs` maps `mounts`, `maskedPaths` and `readonlyPaths`; `resources.rs` the
//! cgroup (`cgroupsPath`, `resources` → `--property=` values). [`load`] reads the bundle,
//! merges it and checks what needs the tree (the user database, masked paths that may be
//! missing). docs/OCI.md "--oci-bundle" lists what is mapped, refused and different.

mod mounts;
mod resources;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::runtime_spec::{Config, IdMap, Linux, NsKind, Process, User};
use crate::settings::load::Loaded;
use crate::settings::{
    merge, ConsoleMode, CustomMount, LinkJournal, PrivateUsers, ResolvConfMode, Rlimit, Settings, SettingsMask,
    StartMode, TimezoneMode,
};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The largest config.json read (the runtime-spec parser's own limit).
const MAX_SIZE: u64 = 4 << 20;

/// What a bundle gives, before it is merged with the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    /// The settings, with `given` marking the groups the bundle sets (nspawn's `Settings` from
    /// `oci_load()`).
    pub settings: Settings,
    /// `--property=` values from `linux.resources`: nspawn applies the bundle's properties
    /// whatever the command line says; spawnbox puts the command line's after them (it wins).
    pub properties: Vec<String>,
    /// `process.user`, resolved against the tree's user database by [`resolve_user`] once
    /// the tree is known (`settings.user` holds the uid until then).
    pub user: Option<User>,
    /// `maskedPaths` destinations that may be missing (nspawn's `graceful`).
    pub graceful: Vec<PathBuf>,
    /// What was ignored or could not be applied, one line each.
    pub warnings: Vec<String>,
}

/// A refusal naming the JSON path.
pub(crate) fn refuse(at: impl std::fmt::Display, why: impl std::fmt::Display) -> Error {
    Error::msg(format!("{at}: {why}"))
}

/// config.json as nspawn's `oci_load()` turns it into `Settings`; `bundle` is the bundle
/// directory (absolute), which relative paths (`root.path`, bind sources) are taken from.
pub fn convert(config: &Config, bundle: &Path) -> Result<Bundle> {
    let mut b = Bundle::default();
    let s = &mut b.settings;
    // nspawn's oci_load(): a command as PID 1, and none of nspawn's host integration.
    s.start_mode = Some(StartMode::Pid1);
    s.resolv_conf = Some(ResolvConfMode::Off);
    s.link_journal = Some(LinkJournal::No);
    s.timezone = Some(TimezoneMode::Off);
    s.given |=
        SettingsMask::START_MODE | SettingsMask::RESOLV_CONF | SettingsMask::LINK_JOURNAL | SettingsMask::TIMEZONE;

    let root = Path::new(&config.root.path);
    s.directory = Some(crate::spec::normalize(&bundle.join(root)));
    s.read_only = config.root.readonly;
    s.given |= SettingsMask::DIRECTORY | SettingsMask::READ_ONLY;

    if let Some(h) = &config.hostname {
        if !crate::cli::values::hostname_is_valid(h) {
            return Err(refuse("hostname", format!("not a valid hostname: {h:?}")));
        }
        s.hostname = Some(h.clone());
        s.given |= SettingsMask::HOSTNAME;
    }
    if config.domainname.is_some() {
        return Err(refuse("domainname", "not supported with --oci-bundle"));
    }
    if let Some(p) = &config.process {
        process(p, &mut b)?;
    }
    mounts::mounts(config, bundle, &mut b)?;
    linux(&config.linux, &mut b)?;
    hooks(config)?;
    for (k, _) in &config.annotations {
        if k.is_empty() {
            return Err(refuse("annotations", "a key must not be empty"));
        }
    }
    Ok(b)
}

/// `process`: the command, its environment, directory, console, user and privileges.
fn process(p: &Process, b: &mut Bundle) -> Result<()> {
    let s = &mut b.settings;
    if p.args.first().map_or(true, |a| a.is_empty()) {
        return Err(refuse("process.args[0]", "the executable name must not be empty"));
    }
    s.parameters = p.args.iter().map(OsString::from).collect();
    for (i, e) in p.env.iter().enumerate() {
        let name = e.split('=').next().unwrap_or_default();
        if !crate::cli::values::env_name_is_valid(name) {
            return Err(refuse(format!("process.env[{i}]"), format!("invalid environment variable name: {e:?}")));
        }
    }
    s.setenv = p.env.clone();
    s.chdir = Some(crate::cli::values::parse_chdir(&p.cwd).map_err(|e| e.context("process.cwd"))?);
    s.given |= SettingsMask::ENVIRONMENT | SettingsMask::WORKING_DIRECTORY;
    if !p.terminal {
        // nspawn: `terminal: false` forces the pipe mode; true keeps the default. (A missing
        // member is false, the spec's default; nspawn keeps its default then.)
        s.console = Some(ConsoleMode::Pipe);
        s.given |= SettingsMask::CONSOLE_MODE;
    }
    if let Some((height, width)) = p.console_size {
        for (name, v) in [("height", height), ("width", width)] {
            if v == 0 || v > u32::from(u16::MAX) {
                return Err(refuse(format!("process.consoleSize.{name}"), format!("out of range: {v} (1 to 65535)")));
            }
        }
        b.warnings
            .push("process.consoleSize: not applied: the console has the size of spawnbox's terminal".to_string());
    }
    if let Some(umask) = p.user.umask {
        if umask != 0o022 {
            return Err(refuse(
                "process.user.umask",
                format!("{umask:#o} is not supported with --oci-bundle (the payload's umask is 0022)"),
            ));
        }
    }
    s.user = Some(p.user.uid.to_string());
    s.given |= SettingsMask::USER;
    b.user = Some(p.user.clone());
    capabilities(p, b)?;
    let s = &mut b.settings;
    // runtime_spec refuses a resource given twice.
    for r in &p.rlimits {
        s.rlimits.push(Rlimit { resource: r.resource, soft: r.soft, hard: r.hard });
        s.given |= SettingsMask::rlimit(r.resource);
    }
    s.no_new_privileges = Some(p.no_new_privileges);
    s.given |= SettingsMask::NO_NEW_PRIVILEGES;
    if let Some(adj) = p.oom_score_adj {
        s.oom_score_adjust = Some(adj);
        s.given |= SettingsMask::OOM_SCORE_ADJUST;
    }
    // nspawn logs these as unsupported and goes on; a confinement dropped quietly is a
    // container less confined than its author asked for, so spawnbox refuses.
    if p.apparmor_profile.is_some() {
        return Err(refuse("process.apparmorProfile", "AppArmor is not supported by spawnbox"));
    }
    if p.selinux_label.is_some() {
        return Err(refuse("process.selinuxLabel", "SELinux is not supported by spawnbox"));
    }
    Ok(())
}

/// `process.capabilities` as nspawn's `oci_capabilities()`: the bounding set is what is
/// retained (`--capability=` of it, `--drop-capability=` of the rest), the ambient set is
/// `--ambient-capability=`. Execve recomputes the others from those two (root: the bounding
/// set; anyone else: the ambient set), so they need only be inside the bounding set.
fn capabilities(p: &Process, b: &mut Bundle) -> Result<()> {
    let Some(c) = &p.capabilities else { return Ok(()) };
    let mask = |v: &[u32]| v.iter().fold(0u64, |m, n| m | 1u64.checked_shl(*n).unwrap_or(0));
    let bounding = mask(&c.bounding);
    for (name, set) in [
        ("effective", &c.effective),
        ("permitted", &c.permitted),
        ("inheritable", &c.inheritable),
        ("ambient", &c.ambient),
    ] {
        let outside = mask(set) & !bounding;
        if outside != 0 {
            return Err(refuse(
                format!("process.capabilities.{name}"),
                format!("not in the bounding set: {}", crate::security::caps::names(outside).to_ascii_uppercase()),
            ));
        }
    }
    if !c.unknown.is_empty() {
        b.warnings.push(format!("process.capabilities: unknown to this kernel, ignored: {}", c.unknown.join(" ")));
    }
    let s = &mut b.settings;
    s.capability = bounding;
    s.drop_capability = !bounding;
    s.ambient_capability = mask(&c.ambient);
    s.given |= SettingsMask::CAPABILITY;
    Ok(())
}

/// `linux`: namespaces, id mappings, devices, the cgroup, sysctls, seccomp, propagation,
/// personality and labels (mounts and paths are `mounts.rs`'s).
fn linux(l: &Linux, b: &mut Bundle) -> Result<()> {
    namespaces(l, b)?;
    devices(l)?;
    if let Some(p) = &l.cgroups_path {
        b.settings.slice = Some(resources::slice_of(p)?);
        b.settings.given |= SettingsMask::SLICE;
    }
    resources::resources(&l.resources, b)?;
    if !l.sysctl.is_empty() {
        return Err(refuse("linux.sysctl", "not supported with --oci-bundle (nspawn reads it and never applies it)"));
    }
    if let Some(seccomp) = &l.seccomp {
        b.settings.seccomp_profile = Some(Box::new(seccomp.clone()));
        b.settings.given |= SettingsMask::SYSCALL_FILTER;
    }
    if let Some(p) = &l.rootfs_propagation {
        if !["shared", "rshared", "slave", "rslave"].contains(&p.as_str()) {
            return Err(refuse(
                "linux.rootfsPropagation",
                format!("{p:?} is not supported with --oci-bundle (slave and shared are)"),
            ));
        }
    }
    match l.personality.as_deref() {
        None | Some("linux") => {}
        Some("linux32") => {
            let x86 = if std::env::consts::ARCH == "aarch64" { "arm" } else { "x86" };
            b.settings.personality = Some(x86.to_string());
            b.settings.given |= SettingsMask::PERSONALITY;
        }
        Some(other) => return Err(refuse("linux.personality.domain", format!("unsupported: {other:?}"))),
    }
    if l.mount_label.is_some() {
        return Err(refuse("linux.mountLabel", "SELinux is not supported by spawnbox"));
    }
    Ok(())
}

/// `linux.namespaces` as nspawn's `oci_namespaces()`: a mount namespace is required, only the
/// network namespace may be joined, a user namespace takes the one id mapping. spawnbox always
/// makes new PID, UTS, IPC and cgroup namespaces (nspawn would share the host's when the
/// bundle leaves them out): said once.
fn namespaces(l: &Linux, b: &mut Bundle) -> Result<()> {
    if l.namespaces.is_empty() {
        return Ok(());
    }
    let s = &mut b.settings;
    for (i, ns) in l.namespaces.iter().enumerate() {
        if ns.kind == NsKind::Time {
            return Err(refuse(
                format!("linux.namespaces[{i}].type"),
                "time namespaces are not supported with --oci-bundle",
            ));
        }
        if let Some(p) = &ns.path {
            if ns.kind != NsKind::Network {
                return Err(refuse(
                    format!("linux.namespaces[{i}].path"),
                    "only the network namespace can be joined with --oci-bundle",
                ));
            }
            s.network_namespace_path = Some(PathBuf::from(p));
        }
    }
    let has = |k: NsKind| l.namespaces.iter().any(|n| n.kind == k);
    if !has(NsKind::Mount) {
        return Err(refuse(
            "linux.namespaces",
            "a mount namespace is required (containers without one are not supported)",
        ));
    }
    s.private_network = has(NsKind::Network);
    s.given |= SettingsMask::NETWORK;
    let shared: Vec<&str> = [NsKind::Pid, NsKind::Uts, NsKind::Ipc, NsKind::Cgroup]
        .into_iter()
        .filter(|k| !has(*k))
        .map(NsKind::name)
        .collect();
    if !shared.is_empty() {
        b.warnings.push(format!(
            "linux.namespaces: no {} namespace listed: spawnbox makes new ones anyway",
            shared.join(", ")
        ));
    }
    let s = &mut b.settings;
    s.private_users = Some(if has(NsKind::User) {
        let (base, size) = id_mapping(l)?;
        if size < 0x10000 {
            b.warnings.push(format!("linux.uidMappings: only {size} ids mapped (fewer than 65536)"));
        }
        PrivateUsers::Fixed { base, size }
    } else {
        PrivateUsers::No
    });
    b.settings.given |= SettingsMask::USERNS;
    Ok(())
}

/// The one uid mapping (and the same gid mapping) nspawn supports: container id 0, the range
/// within the 32-bit ids.
fn id_mapping(l: &Linux) -> Result<(u32, u32)> {
    let check = |key: &str, maps: &[IdMap]| -> Result<Option<IdMap>> {
        match maps {
            [] => Ok(None),
            [m] => {
                if m.size == 0 {
                    return Err(refuse(format!("linux.{key}[0].size"), "must not be zero"));
                }
                if m.container_id != 0 {
                    return Err(refuse(
                        format!("linux.{key}[0].containerID"),
                        "must be 0 with --oci-bundle (the range is mapped from container id 0)",
                    ));
                }
                if m.host_id.checked_add(m.size - 1).is_none() {
                    return Err(refuse(format!("linux.{key}[0]"), "the range goes beyond the 32-bit ids"));
                }
                Ok(Some(*m))
            }
            _ => Err(refuse(format!("linux.{key}"), "more than one mapping is not supported with --oci-bundle")),
        }
    };
    let uid = check("uidMappings", &l.uid_mappings)?;
    let gid = check("gidMappings", &l.gid_mappings)?;
    match (uid, gid) {
        (Some(u), Some(g)) if u != g => {
            Err(refuse("linux.gidMappings[0]", "must be the same as linux.uidMappings[0] with --oci-bundle"))
        }
        (Some(m), _) | (None, Some(m)) => Ok((m.host_id, m.size)),
        (None, None) => Err(refuse("linux.uidMappings", "a user namespace needs a mapping with --oci-bundle")),
    }
}

/// The nodes spawnbox (and nspawn) makes in every container's `/dev`: type, major, minor.
const STANDARD_NODES: [(char, i64, i64); 9] = [
    ('c', 1, 3),
    ('c', 1, 5),
    ('c', 1, 7),
    ('c', 1, 8),
    ('c', 1, 9),
    ('c', 5, 0),
    ('c', 5, 1),
    ('c', 5, 2),
    ('c', 10, 200),
];

/// `linux.devices`: nspawn skips the nodes it makes anyway and creates the others; spawnbox
/// has no extra nodes yet, so those are refused.
fn devices(l: &Linux) -> Result<()> {
    for (i, d) in l.devices.iter().enumerate() {
        let kind = if d.kind == 'u' { 'c' } else { d.kind };
        if !STANDARD_NODES.contains(&(kind, d.major, d.minor)) {
            return Err(refuse(
                format!("linux.devices[{i}]"),
                format!(
                    "{} ({} {}:{}) is not supported with --oci-bundle yet (only the standard nodes, which spawnbox makes anyway)",
                    d.path, d.kind, d.major, d.minor
                ),
            ));
        }
    }
    Ok(())
}

/// `hooks`: nspawn reads them and never runs them; spawnbox refuses rather than skip them.
fn hooks(config: &Config) -> Result<()> {
    let h = &config.hooks;
    for (name, list) in [
        ("prestart", &h.prestart),
        ("createRuntime", &h.create_runtime),
        ("createContainer", &h.create_container),
        ("startContainer", &h.start_container),
        ("poststart", &h.poststart),
        ("poststop", &h.poststop),
    ] {
        if !list.is_empty() {
            return Err(refuse(
                format!("hooks.{name}"),
                "hooks are not run with --oci-bundle (spawnbox-runc runs them)",
            ));
        }
    }
    Ok(())
}

/// `process.user` against the container's `/etc/passwd` and `/etc/group`: spawnbox runs the
/// payload as a user of the tree's user database (`-u`), so the uid must have an entry whose
/// group is `gid` and whose supplementary groups are `additionalGids` (nspawn sets the ids
/// as given). `None`: root without supplementary groups, the default.
pub fn resolve_user(u: &User, passwd: &str, group: &str) -> Result<Option<String>> {
    let wanted: BTreeSet<u32> = u.additional_gids.iter().copied().filter(|g| *g != u.gid).collect();
    let root_default = u.uid == 0 && wanted.is_empty();
    let uid = u.uid.to_string();
    let info = crate::user::lookup(passwd, if root_default { "" } else { group }, &uid).map_err(|_| {
        refuse("process.user.uid", format!("{uid} has no entry in the container's /etc/passwd (spawnbox runs the payload as a user of the container)"))
    })?;
    if info.gid != u.gid {
        return Err(refuse(
            "process.user.gid",
            format!("{} is not the group of uid {uid} in the container's /etc/passwd ({})", u.gid, info.gid),
        ));
    }
    let has: BTreeSet<u32> = info.groups.iter().copied().collect();
    if has != wanted {
        let list = |s: &BTreeSet<u32>| s.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
        return Err(refuse(
            "process.user.additionalGids",
            format!(
                "[{}] are not the groups of uid {uid} in the container's /etc/group ([{}])",
                list(&wanted),
                list(&has)
            ),
        ));
    }
    Ok((!root_default).then_some(info.name))
}

/// `spawnbox --oci-bundle=B [OPTIONS]`: reads `B/config.json`, turns it into settings and
/// merges them below the command line (trusted, as nspawn trusts bundles; no `.nspawn` file is
/// read). Then, on the tree the merge chose: `process.user` resolved in its user database and
/// masked paths that do not exist dropped (nspawn's `graceful`).
pub fn load(cli: Settings, cwd: &Path) -> Result<Loaded> {
    let dir = cli.oci_bundle.clone().ok_or_else(|| Error::msg("--oci-bundle= is not set"))?;
    let path = dir.join("config.json");
    let bytes = read_config(&path)?;
    let config = crate::runtime_spec::parse(&bytes).map_err(|e| e.context(path.display()))?;
    let bundle = convert(&config, &dir).map_err(|e| e.context(path.display()))?;
    let merged = merge(&cli, &bundle.settings, true);
    let taken = merged.settings.given.difference(cli.given);
    let mut s = merged.settings;
    s.properties = bundle.properties.iter().chain(&cli.properties).cloned().collect();
    let root = crate::spec::root_directory(&s, cwd);
    if taken.contains(SettingsMask::USER) {
        if let Some(u) = &bundle.user {
            let (passwd, group) = read_user_db(&root)?;
            s.user = resolve_user(u, &passwd, &group).map_err(|e| e.context(path.display()))?;
        }
    }
    if taken.contains(SettingsMask::CUSTOM_MOUNTS) && !bundle.graceful.is_empty() {
        let tree = open_tree(&root)?;
        s.custom_mounts.retain(|m| match m {
            CustomMount::Inaccessible { destination } if bundle.graceful.contains(destination) => {
                let here = mask_target_exists(tree.as_ref(), destination);
                if !here {
                    log::debug!("maskedPaths: {} does not exist, not masked", destination.display());
                }
                here
            }
            _ => true,
        });
    }
    let mut warnings = bundle.warnings;
    warnings.extend(merged.ignored.iter().map(|i| i.message(&path)));
    Ok(Loaded { settings: s, file: Some(path), warnings })
}

/// Whether a masked path exists: below `/proc` and `/sys` (which spawnbox mounts from the
/// host's kernel) on the host, elsewhere in the tree.
fn mask_target_exists(tree: Option<&rustix::fd::OwnedFd>, p: &Path) -> bool {
    use rustix::fd::AsFd;
    if p.starts_with("/proc") || p.starts_with("/sys") {
        return std::fs::symlink_metadata(p).is_ok();
    }
    tree.is_some_and(|t| crate::rootfs::open_path(t.as_fd(), p, crate::rootfs::Follow::InRoot).is_ok())
}

fn open_tree(root: &Path) -> Result<Option<rustix::fd::OwnedFd>> {
    use rustix::fs::{Mode, OFlags};
    match rustix::fs::open(root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(Error::path("open", root, e)),
    }
}

/// The tree's `/etc/passwd` and `/etc/group` (empty when missing).
fn read_user_db(root: &Path) -> Result<(String, String)> {
    use rustix::fd::AsFd;
    match open_tree(root)? {
        Some(fd) => crate::user::read_db(fd.as_fd()),
        None => Err(Error::path("open", root, rustix::io::Errno::NOENT)),
    }
}

/// Reads config.json: a regular file of at most [`MAX_SIZE`].
fn read_config(path: &Path) -> Result<Vec<u8>> {
    crate::host_file::read(path, MAX_SIZE, "larger than 4 MiB")
}
