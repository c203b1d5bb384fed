//! The OCI runtime's mount plan: config.json's `mounts` (read and checked once, when the spec
//! is made) in their order, the devices, the console, the working directory, the sysctls, then
//! `linux.readonlyPaths`, `linux.maskedPaths` and a read-only root (runc's order) as steps of
//! the mount plan (`step.rs`), and the bind mounts' own id mappings. Nothing of nspawn's API set
//! is added: the caller's config is the policy.

use crate::error::{Error, Result};
use crate::mount_plan::{attr, Step};
use crate::runtime_spec::{Config, IdMap, Mount};
use crate::settings::{BindIdmap, CustomMount, MountSource};
use std::path::{Path, PathBuf};

pub mod step;
pub use step::{CgroupV1, OciStep};

/// `MOUNT_ATTR_NOATIME`, `MOUNT_ATTR_NODIRATIME`.
const NOATIME: u32 = 0x10;
const NODIRATIME: u32 = 0x80;

/// What one mount option does (runc's `mountFlags` table, as mount attributes).
#[derive(Clone, Copy)]
enum Effect {
    Set(u32),
    Clear(u32),
    /// A bind mount, recursive or not.
    Bind(bool),
    /// Propagation of the new mount (within the container: its namespace is a slave of the
    /// host's before anything is mounted, so nothing reaches the host).
    Propagation,
    /// Accepted and without effect here (`defaults`, `remount`, `silent`, `loud`).
    Ignore,
    /// A superblock flag the kernel takes through `fsconfig(FSCONFIG_SET_FLAG)` (`sync`,
    /// `async`, `dirsync`, `lazytime`, `nolazytime`): kept with the file-system options of a
    /// fresh mount (a bind mount shares its source's superblock).
    Data,
}

/// Mount options that are flags (`mount(8)` names, and runtime-spec 1.1's recursive ones).
const OPTIONS: &[(&str, Effect)] = &[
    ("ro", Effect::Set(attr::RDONLY)),
    ("rro", Effect::Set(attr::RDONLY)),
    ("rw", Effect::Clear(attr::RDONLY)),
    ("rrw", Effect::Clear(attr::RDONLY)),
    ("nosuid", Effect::Set(attr::NOSUID)),
    ("rnosuid", Effect::Set(attr::NOSUID)),
    ("suid", Effect::Clear(attr::NOSUID)),
    ("rsuid", Effect::Clear(attr::NOSUID)),
    ("nodev", Effect::Set(attr::NODEV)),
    ("rnodev", Effect::Set(attr::NODEV)),
    ("dev", Effect::Clear(attr::NODEV)),
    ("rdev", Effect::Clear(attr::NODEV)),
    ("noexec", Effect::Set(attr::NOEXEC)),
    ("rnoexec", Effect::Set(attr::NOEXEC)),
    ("exec", Effect::Clear(attr::NOEXEC)),
    ("rexec", Effect::Clear(attr::NOEXEC)),
    ("strictatime", Effect::Set(attr::STRICTATIME)),
    ("rstrictatime", Effect::Set(attr::STRICTATIME)),
    ("nostrictatime", Effect::Clear(attr::STRICTATIME)),
    ("relatime", Effect::Clear(attr::STRICTATIME | NOATIME)),
    ("rrelatime", Effect::Clear(attr::STRICTATIME | NOATIME)),
    ("norelatime", Effect::Ignore),
    ("noatime", Effect::Set(NOATIME)),
    ("rnoatime", Effect::Set(NOATIME)),
    ("atime", Effect::Clear(NOATIME)),
    ("ratime", Effect::Clear(NOATIME)),
    ("nodiratime", Effect::Set(NODIRATIME)),
    ("rnodiratime", Effect::Set(NODIRATIME)),
    ("diratime", Effect::Clear(NODIRATIME)),
    ("rdiratime", Effect::Clear(NODIRATIME)),
    ("bind", Effect::Bind(false)),
    ("rbind", Effect::Bind(true)),
    ("private", Effect::Propagation),
    ("rprivate", Effect::Propagation),
    ("shared", Effect::Propagation),
    ("rshared", Effect::Propagation),
    ("slave", Effect::Propagation),
    ("rslave", Effect::Propagation),
    ("unbindable", Effect::Propagation),
    ("runbindable", Effect::Propagation),
    ("defaults", Effect::Ignore),
    ("async", Effect::Data),
    ("sync", Effect::Data),
    ("dirsync", Effect::Data),
    ("remount", Effect::Ignore),
    ("mand", Effect::Ignore),
    ("nomand", Effect::Ignore),
    ("silent", Effect::Ignore),
    ("loud", Effect::Ignore),
    ("lazytime", Effect::Data),
    ("nolazytime", Effect::Data),
    // The mount API has no i_version flag (fsconfig refuses "iversion"): since Linux 6.2 the
    // file systems that keep i_version (ext4, xfs, btrfs, tmpfs) always do, and mount(2)'s
    // MS_I_VERSION, which runc passes, changes nothing there either.
    ("iversion", Effect::Ignore),
    ("noiversion", Effect::Ignore),
];

/// The option names this runtime knows (`features`' `mountOptions`).
pub const OPTION_NAMES: &[&str] = &[
    "ro",
    "rro",
    "rw",
    "rrw",
    "nosuid",
    "rnosuid",
    "suid",
    "rsuid",
    "nodev",
    "rnodev",
    "dev",
    "rdev",
    "noexec",
    "rnoexec",
    "exec",
    "rexec",
    "strictatime",
    "rstrictatime",
    "nostrictatime",
    "relatime",
    "rrelatime",
    "norelatime",
    "noatime",
    "rnoatime",
    "atime",
    "ratime",
    "nodiratime",
    "rnodiratime",
    "diratime",
    "rdiratime",
    "bind",
    "rbind",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "defaults",
    "async",
    "sync",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "silent",
    "loud",
    "lazytime",
    "nolazytime",
    "iversion",
    "noiversion",
];

/// Options no mount of this runtime takes yet.
const REFUSED: &[&str] = &["tmpcopyup"];

/// Bind options that make the mount idmapped: with its own mappings (`idmap` the top mount
/// only, `ridmap` its submounts too), else with the container's user namespace ([`check`]
/// refuses them without one).
pub const IDMAP: &[&str] = &["idmap", "ridmap"];

/// File system types mounted fresh (anything else is refused, bind mounts aside).
const FRESH: &[&str] = &["proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"];

/// One mount of config.json, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Attributes set on the new mount.
    pub attrs: u32,
    /// File-system options (`mode=755,size=65536k`), comma-joined.
    pub data: String,
    /// `Some(recursive)` for a bind mount.
    pub bind: Option<bool>,
    /// The last propagation option (`rprivate`, `shared`, ...).
    pub propagation: Option<String>,
    /// The last of `idmap` (`Some(false)`) and `ridmap` (`Some(true)`): without mappings of its
    /// own, the mount is idmapped with the container's user namespace.
    pub idmap: Option<bool>,
    /// The mount's own mappings (`uidMappings` and `gidMappings`).
    pub own: Option<OwnIdmap>,
}

/// A bind mount's own mappings (runtime-spec 1.1's `mounts[i].uidMappings`/`gidMappings`),
/// written as given to a user namespace of the host's (runc's way): `containerID` is the id on
/// disk, `hostID` the host id the mount shows it as (a container with a user namespace then
/// sees that host id through its own mappings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnIdmap {
    /// `i` of `mounts[i]`, for errors.
    pub index: usize,
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
    /// `ridmap`: the submounts of an `rbind` too; `idmap` or neither: the top mount only.
    pub recursive: bool,
}

/// The kernel's limit on the lines of a uid_map or gid_map (`UID_GID_MAP_MAX_EXTENTS`).
const MAX_MAP_LINES: usize = 340;

/// Reads mount `i`'s options (`mounts[i].options`).
fn read(i: usize, m: &Mount) -> Result<Planned> {
    let mut p = Planned { attrs: 0, data: String::new(), bind: None, propagation: None, idmap: None, own: None };
    if matches!(m.kind.as_deref(), Some("bind") | Some("rbind")) {
        p.bind = Some(m.kind.as_deref() == Some("rbind"));
    }
    let mut data = Vec::new();
    for o in &m.options {
        if REFUSED.contains(&o.as_str()) {
            return Err(Error::msg(format!("mounts[{i}].options: {o:?} is not supported by spawnbox-runc")));
        }
        if IDMAP.contains(&o.as_str()) {
            p.idmap = Some(o == "ridmap");
            continue;
        }
        match OPTIONS.iter().find(|(name, _)| name == o).map(|(_, e)| *e) {
            Some(Effect::Set(a)) => p.attrs |= a,
            Some(Effect::Clear(a)) => p.attrs &= !a,
            // `bind` after `rbind` (or the reverse): the last one wins.
            Some(Effect::Bind(r)) => p.bind = Some(r),
            Some(Effect::Propagation) => p.propagation = Some(o.clone()),
            Some(Effect::Ignore) => {}
            Some(Effect::Data) | None => data.push(o.clone()),
        }
    }
    p.own = own_idmap(i, m, p.bind.is_some(), p.idmap)?;
    p.data = data.join(",");
    if p.bind.is_none() {
        let kind = m.kind.as_deref().unwrap_or("");
        if !FRESH.contains(&kind) {
            return Err(Error::msg(format!(
                "mounts[{i}].type: {kind:?} is not supported by spawnbox-runc (supported: bind, {})",
                FRESH.join(", ")
            )));
        }
    }
    Ok(p)
}

/// Mount `i`'s own mappings, checked as runc does (on bind mounts only, uid and gid mappings
/// together) and as the kernel would take them in a uid_map, so that nothing is refused later.
fn own_idmap(i: usize, m: &Mount, bind: bool, idmap: Option<bool>) -> Result<Option<OwnIdmap>> {
    let (uid, gid) = (&m.uid_mappings, &m.gid_mappings);
    if uid.is_none() && gid.is_none() {
        return Ok(None);
    }
    let key = if uid.is_some() { "uidMappings" } else { "gidMappings" };
    if !bind {
        return Err(Error::msg(format!("mounts[{i}].{key}: applies to bind mounts only")));
    }
    let (Some(uid), Some(gid)) = (uid, gid) else {
        let (has, lacks) = if uid.is_some() { ("uidMappings", "gidMappings") } else { ("gidMappings", "uidMappings") };
        return Err(Error::msg(format!("mounts[{i}].{has}: needs {lacks} too")));
    };
    check_map(&format!("mounts[{i}].uidMappings"), uid)?;
    check_map(&format!("mounts[{i}].gidMappings"), gid)?;
    Ok(Some(OwnIdmap { index: i, uid: uid.clone(), gid: gid.clone(), recursive: idmap == Some(true) }))
}

/// One list of mappings (`at` its JSON path) as the kernel takes a uid_map: not empty, at most
/// 340 lines, each range non-empty and below ID 4294967295 on both sides, no two overlapping
/// on either side.
pub fn check_map(at: &str, maps: &[IdMap]) -> Result<()> {
    if maps.is_empty() {
        return Err(Error::msg(format!("{at}: must not be empty")));
    }
    if maps.len() > MAX_MAP_LINES {
        return Err(Error::msg(format!("{at}: more than {MAX_MAP_LINES} mappings (the kernel's limit)")));
    }
    let sides = |m: &IdMap| [("containerID", m.container_id), ("hostID", m.host_id)];
    for (j, m) in maps.iter().enumerate() {
        if m.size == 0 {
            return Err(Error::msg(format!("{at}[{j}].size: must be greater than zero")));
        }
        for (side, first) in sides(m) {
            // The last ID of the range; 4294967295 is (uid_t)-1, never an ID.
            if u64::from(first) + u64::from(m.size) > u64::from(u32::MAX) {
                return Err(Error::msg(format!(
                    "{at}[{j}]: {side} {first} and size {} go beyond ID 4294967294",
                    m.size
                )));
            }
        }
        for (k, o) in maps[..j].iter().enumerate() {
            for ((side, a), (_, b)) in sides(m).into_iter().zip(sides(o)) {
                if a < b.saturating_add(o.size) && b < a.saturating_add(m.size) {
                    return Err(Error::msg(format!("{at}[{j}]: its {side} range overlaps that of {at}[{k}]")));
                }
            }
        }
    }
    Ok(())
}

/// The own mappings of each bind mount of `config`, in [`binds`]' order (`None`: none of its
/// own); the launcher makes their namespaces before the first clone.
pub fn own_idmaps(config: &Config) -> Result<Vec<Option<OwnIdmap>>> {
    let mut out = Vec::new();
    for (i, m) in config.mounts.iter().enumerate() {
        let p = read(i, m)?;
        if p.bind.is_some() {
            out.push(p.own);
        }
    }
    Ok(out)
}

/// The host side of bind mount `m`: its source, relative sources taken from the bundle.
fn bind_source(bundle: &Path, m: &Mount) -> PathBuf {
    let src = m.source.as_deref().unwrap_or("");
    let p = Path::new(src);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        bundle.join(p)
    }
}

/// Every mount of `config` read (`mounts[i]` is the result's `i`), once, when the spec is made
/// (`spec_oci.rs`): what this runtime does not take is refused before anything exists. `idmap`
/// and `ridmap` apply to bind mounts, and need a user namespace (`userns`) unless the mount
/// has mappings of its own.
pub fn check(config: &Config, userns: bool) -> Result<Vec<Planned>> {
    let mut out = Vec::new();
    for (i, m) in config.mounts.iter().enumerate() {
        let p = read(i, m)?;
        if let Some(o) = m.options.iter().find(|o| IDMAP.contains(&o.as_str())) {
            if p.bind.is_none() {
                return Err(Error::msg(format!("mounts[{i}].options: {o:?} applies to bind mounts only")));
            }
            if !userns && p.own.is_none() {
                return Err(Error::msg(format!(
                    "mounts[{i}].options: {o:?} needs a user namespace in linux.namespaces"
                )));
            }
        }
        out.push(p);
    }
    Ok(out)
}

/// The bind mounts of `config` (`mounts` its mounts read by [`check`]), in order: what
/// `Spec::custom_mounts` holds in this mode (their host sources are opened before the switch
/// into the root, by index).
pub fn binds(config: &Config, mounts: &[Planned], bundle: &Path) -> Vec<CustomMount> {
    let bind = |(m, p): (&Mount, &Planned)| {
        let recursive = p.bind?;
        Some(CustomMount::Bind {
            source: MountSource::Host(bind_source(bundle, m)),
            destination: PathBuf::from(&m.destination),
            read_only: p.attrs & attr::RDONLY != 0,
            recursive,
            // Mappings of its own: the launcher's namespace (`own_idmaps`), not the container's.
            idmap: match (p.idmap, &p.own) {
                (Some(true), None) => BindIdmap::Idmap,
                (Some(false), None) => BindIdmap::IdmapTop,
                _ => BindIdmap::None,
            },
        })
    };
    config.mounts.iter().zip(mounts).filter_map(bind).collect()
}

/// The steps for `config` (`binds` are [`binds`]'s result, the spec's custom mounts; `v1` the
/// container's cgroup v1 hierarchies, on a host that has them). Its per-mount errors are
/// [`check`]'s, which refuses them when the spec is made.
pub fn plan(config: &Config, binds: &[CustomMount], v1: &[CgroupV1]) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut bind_index = 0;
    let terminal = config.process.as_ref().is_some_and(|p| p.terminal);
    for (i, m) in config.mounts.iter().enumerate() {
        let p = read(i, m)?;
        let target = PathBuf::from(&m.destination);
        if p.bind.is_some() {
            let cm =
                binds.get(bind_index).cloned().ok_or_else(|| Error::msg(format!("mounts[{i}]: no bind planned")))?;
            steps.push(Step::Custom(bind_index, cm));
            bind_index += 1;
            // The attributes besides read-only (set when the source was cloned).
            if p.attrs & !attr::RDONLY != 0 {
                steps.push(Step::Oci(OciStep::Attrs { target: target.clone(), attrs: p.attrs & !attr::RDONLY }));
            }
            if let Some(kind) = p.propagation {
                steps.push(Step::Oci(OciStep::Propagation { target, kind }));
            }
            continue;
        }
        let kind = m.kind.as_deref().unwrap_or("");
        // `cgroup`: the container's v1 hierarchies where it has them (runc's), else cgroup2.
        if kind == "cgroup" && !v1.is_empty() {
            steps.push(Step::Oci(OciStep::CgroupV1 {
                target: target.clone(),
                attrs: p.attrs,
                hierarchies: v1.to_vec(),
            }));
            if let Some(kind) = p.propagation {
                steps.push(Step::Oci(OciStep::Propagation { target, kind }));
            }
            continue;
        }
        let fstype = if kind == "cgroup" { "cgroup2" } else { kind };
        let data = if fstype == "cgroup2" { String::new() } else { p.data };
        steps.push(Step::Oci(OciStep::Fs { target: target.clone(), fstype: fstype.to_string(), data, attrs: p.attrs }));
        if let Some(kind) = p.propagation {
            steps.push(Step::Oci(OciStep::Propagation { target: target.clone(), kind }));
        }
        if target == Path::new("/dev") && fstype == "tmpfs" {
            // runc's default devices in a /dev of the container's own.
            steps.push(Step::DevNodes);
        }
    }
    if !config.linux.devices.is_empty() {
        steps.push(Step::Oci(OciStep::Devices(config.linux.devices.clone())));
    }
    if terminal {
        steps.push(Step::Console);
    }
    if let Some(p) = &config.process {
        steps.push(Step::Oci(OciStep::WorkingDirectory { target: PathBuf::from(&p.cwd) }));
    }
    if !config.linux.sysctl.is_empty() {
        steps.push(Step::Oci(OciStep::Sysctl(config.linux.sysctl.clone())));
    }
    steps.extend(config.linux.readonly_paths.iter().map(|p| Step::Oci(OciStep::ReadOnly { target: PathBuf::from(p) })));
    steps.extend(config.linux.masked_paths.iter().map(|p| Step::Oci(OciStep::Mask { target: PathBuf::from(p) })));
    if config.root.readonly {
        steps.push(Step::Oci(OciStep::RootReadOnly));
    }
    if let Some(kind) = &config.linux.rootfs_propagation {
        steps.push(Step::Oci(OciStep::Propagation { target: PathBuf::from("/"), kind: kind.clone() }));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime_spec::parse;

    /// [`binds`] of `c` in a bundle at `bundle`, its mounts checked.
    fn binds_at(c: &Config, bundle: &str) -> Vec<CustomMount> {
        binds(c, &check(c, false).expect("check"), Path::new(bundle))
    }

    fn config(mounts: &str, extra: &str) -> Config {
        let text = format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs","readonly":true}},
               "process":{{"terminal":true,"cwd":"/","args":["sh"],"user":{{"uid":0,"gid":0}}}},
               "mounts":[{mounts}],"linux":{{{extra}}}}}"#
        );
        parse(text.as_bytes()).expect("config")
    }

    #[test]
    fn podman_shaped_plan_in_order() {
        let c = config(
            r#"{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},
               {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
               {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
               {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},
               {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["rprivate","nosuid","noexec","nodev","relatime","ro"]},
               {"destination":"/etc/hosts","type":"bind","source":"/run/x/hosts","options":["bind","rprivate"]},
               {"destination":"/dev/shm","type":"bind","source":"shm","options":["bind","nosuid","noexec","nodev"]}"#,
            r#""maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"],
               "devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229}]"#,
        );
        let binds = binds_at(&c, "/b");
        assert_eq!(binds.len(), 2);
        assert_eq!(
            binds[1],
            CustomMount::Bind {
                source: MountSource::Host(PathBuf::from("/b/shm")),
                destination: PathBuf::from("/dev/shm"),
                read_only: false,
                recursive: false,
                idmap: BindIdmap::None
            }
        );
        let lines: Vec<String> = plan(&c, &binds, &[]).unwrap().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            lines,
            [
                "proc /proc 0xe",
                "tmpfs /dev 0x22 mode=755,size=65536k",
                "dev-nodes",
                "devpts /dev/pts 0xa newinstance,ptmxmode=0666,mode=0620,gid=5",
                "sysfs /sys 0xf",
                "cgroup2 /sys/fs/cgroup 0xf",
                "propagation /sys/fs/cgroup rprivate",
                "custom --bind=/run/x/hosts:/etc/hosts",
                "propagation /etc/hosts rprivate",
                "custom --bind=/b/shm:/dev/shm",
                "attrs /dev/shm 0xe",
                "devices (1)",
                "console",
                "cwd /",
                "ro /proc/sys",
                "mask /proc/kcore",
                "root-read-only",
            ]
        );
    }

    #[test]
    fn a_cgroup_mount_shows_the_containers_v1_hierarchies_where_it_has_them() {
        let c = config(
            r#"{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]},
               {"destination":"/sys/fs/cgroup/unified","type":"cgroup2","source":"cgroup2"}"#,
            "",
        );
        let v1 = [
            CgroupV1 { dir: "cpu,cpuacct".into(), name: "cpu,cpuacct".into(), path: "/default/c1".into() },
            CgroupV1 { dir: "systemd".into(), name: "name=systemd".into(), path: "/default/c1".into() },
        ];
        let lines: Vec<String> = plan(&c, &[], &v1).unwrap().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            &lines[..2],
            [
                "cgroup-v1 /sys/fs/cgroup 0xf cpu,cpuacct=/default/c1 systemd=/default/c1",
                // An explicit cgroup2 stays one.
                "cgroup2 /sys/fs/cgroup/unified 0x0",
            ]
        );
        // Without v1 hierarchies (a pure v2 host): the container's cgroup2.
        let lines: Vec<String> = plan(&c, &[], &[]).unwrap().iter().map(|s| s.to_string()).collect();
        assert_eq!(lines[0], "cgroup2 /sys/fs/cgroup 0xf");
    }

    #[test]
    fn every_option_the_spec_marks_must_is_known() {
        // config.md "Linux mount options", the rows marked MUST.
        let must = [
            "async",
            "atime",
            "bind",
            "defaults",
            "dev",
            "diratime",
            "dirsync",
            "exec",
            "iversion",
            "lazytime",
            "loud",
            "noatime",
            "nodev",
            "nodiratime",
            "noexec",
            "noiversion",
            "nolazytime",
            "norelatime",
            "nostrictatime",
            "nosuid",
            "private",
            "rbind",
            "relatime",
            "remount",
            "ro",
            "rprivate",
            "rshared",
            "rslave",
            "runbindable",
            "rw",
            "shared",
            "silent",
            "slave",
            "strictatime",
            "suid",
            "sync",
            "unbindable",
        ];
        let unknown: Vec<&str> = must.iter().copied().filter(|o| !OPTION_NAMES.contains(o)).collect();
        assert_eq!(unknown, Vec::<&str>::new());
        let c = config(
            r#"{"destination":"/t","type":"tmpfs","source":"tmpfs","options":["strictatime","nostrictatime","lazytime","iversion","noiversion","nolazytime","sync","dirsync","size=1m"]}"#,
            "",
        );
        let p = read(0, &c.mounts[0]).unwrap();
        assert_eq!((p.attrs, p.data.as_str()), (0, "lazytime,nolazytime,sync,dirsync,size=1m"));
    }

    #[test]
    fn option_names_follow_the_table() {
        let names: Vec<&str> = OPTIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, OPTION_NAMES);
    }

    #[test]
    fn bad_mounts_name_their_index() {
        let cases = [
            (r#"{"destination":"/x","type":"nfs","source":"h:/x"}"#, "mounts[0].type: \"nfs\" is not supported by spawnbox-runc (supported: bind, proc, sysfs, tmpfs, devpts, mqueue, cgroup, cgroup2)"),
            (r#"{"destination":"/x","type":"bind","source":"/x","options":["tmpcopyup"]}"#, "mounts[0].options: \"tmpcopyup\" is not supported by spawnbox-runc"),
        ];
        for (m, want) in cases {
            let c = config(m, "");
            assert_eq!(plan(&c, &[], &[]).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn rbind_and_read_only_binds() {
        let c = config(r#"{"destination":"/data","type":"none","source":"d","options":["rbind","ro"]}"#, "");
        let b = binds_at(&c, "/bundle");
        assert_eq!(
            b,
            [CustomMount::Bind {
                source: MountSource::Host(PathBuf::from("/bundle/d")),
                destination: PathBuf::from("/data"),
                read_only: true,
                recursive: true,
                idmap: BindIdmap::None
            }]
        );
    }

    /// A bind mount of `/srv/d` on `/data` with `options` and `maps` (more members).
    fn mapped(options: &str, maps: &str) -> Config {
        config(&format!(r#"{{"destination":"/data","type":"bind","source":"/srv/d","options":[{options}]{maps}}}"#), "")
    }

    const ONE: &str = r#","uidMappings":[{"containerID":1000,"hostID":0,"size":1}],
                          "gidMappings":[{"containerID":1000,"hostID":0,"size":1}]"#;

    #[test]
    fn own_mappings_of_a_bind_mount() {
        let id = |c, h, s| IdMap { container_id: c, host_id: h, size: s };
        // Neither `idmap` nor `ridmap`: the top mount only (runc's default).
        let c = mapped(r#""rbind""#, ONE);
        let p = read(0, &c.mounts[0]).unwrap();
        assert_eq!((p.idmap, p.bind), (None, Some(true)));
        let own = OwnIdmap { index: 0, uid: vec![id(1000, 0, 1)], gid: vec![id(1000, 0, 1)], recursive: false };
        assert_eq!(p.own.as_ref(), Some(&own));
        assert_eq!(own_idmaps(&c).unwrap(), [Some(own.clone())]);
        // The container's user namespace is not used: the custom mount is not `idmap`ped.
        let b = binds_at(&c, "/b");
        assert!(matches!(b[0], CustomMount::Bind { idmap: BindIdmap::None, recursive: true, .. }));
        assert_eq!(
            plan(&c, &b, &[]).unwrap().iter().map(|s| s.to_string()).collect::<Vec<_>>()[0],
            "custom --bind=/srv/d:/data"
        );
        // `ridmap` reaches the submounts, `idmap` does not; the last one given wins.
        let c = mapped(r#""rbind","ridmap""#, ONE);
        assert_eq!(own_idmaps(&c).unwrap(), [Some(OwnIdmap { recursive: true, ..own.clone() })]);
        let c = mapped(r#""rbind","ridmap","idmap""#, ONE);
        assert_eq!(own_idmaps(&c).unwrap(), [Some(own.clone())]);
        // Several lines, as given; other mounts and plain binds have none.
        let c = config(
            r#"{"destination":"/proc","type":"proc","source":"proc"},
               {"destination":"/a","type":"bind","source":"/a","options":["bind"]},
               {"destination":"/b","type":"none","source":"/b","options":["bind","idmap"],
                "uidMappings":[{"containerID":0,"hostID":100000,"size":10},{"containerID":10,"hostID":0,"size":1}],
                "gidMappings":[{"containerID":0,"hostID":200000,"size":65536}]}"#,
            "",
        );
        let uid = vec![id(0, 100000, 10), id(10, 0, 1)];
        let gid = vec![id(0, 200000, 65536)];
        assert_eq!(own_idmaps(&c).unwrap(), [None, Some(OwnIdmap { index: 2, uid, gid, recursive: false })]);
    }

    #[test]
    fn own_mappings_are_refused_as_runc_and_the_kernel_would() {
        let line = |c: u64, h: u64, s: u64| format!(r#"{{"containerID":{c},"hostID":{h},"size":{s}}}"#);
        let maps = |uid: &str, gid: &str| format!(r#","uidMappings":[{uid}],"gidMappings":[{gid}]"#);
        let ok = line(0, 1000, 1);
        let err = |options: &str, extra: &str| read(0, &mapped(options, extra).mounts[0]).unwrap_err().to_string();
        assert_eq!(
            err(r#""bind""#, &format!(r#","uidMappings":[{ok}]"#)),
            "mounts[0].uidMappings: needs gidMappings too"
        );
        assert_eq!(
            err(r#""bind""#, &format!(r#","gidMappings":[{ok}]"#)),
            "mounts[0].gidMappings: needs uidMappings too"
        );
        assert_eq!(err(r#""bind""#, &maps("", &ok)), "mounts[0].uidMappings: must not be empty");
        assert_eq!(err(r#""bind""#, &maps(&ok, "")), "mounts[0].gidMappings: must not be empty");
        assert_eq!(
            err(r#""bind""#, r#","uidMappings":[],"gidMappings":[]"#),
            "mounts[0].uidMappings: must not be empty"
        );
        // Overlapping ranges on either side (the kernel refuses such a uid_map).
        let two = format!("{},{}", line(0, 1000, 10), line(9, 2000, 1));
        assert_eq!(
            err(r#""bind""#, &maps(&ok, &two)),
            "mounts[0].gidMappings[1]: its containerID range overlaps that of mounts[0].gidMappings[0]"
        );
        let two = format!("{},{}", line(0, 1000, 10), line(10, 1009, 5));
        assert_eq!(
            err(r#""bind""#, &maps(&two, &ok)),
            "mounts[0].uidMappings[1]: its hostID range overlaps that of mounts[0].uidMappings[0]"
        );
        // Adjacent ranges are fine.
        let two = format!("{},{}", line(0, 1000, 10), line(10, 1010, 5));
        assert!(read(0, &mapped(r#""bind""#, &maps(&two, &two)).mounts[0]).is_ok());
        // Up to ID 4294967294; (uid_t)-1 is no ID.
        let top = line(4294967294, 0, 1);
        assert!(read(0, &mapped(r#""bind""#, &maps(&top, &ok)).mounts[0]).is_ok());
        assert_eq!(
            err(r#""bind""#, &maps(&ok, &line(0, 4294967290, 6))),
            "mounts[0].gidMappings[0]: hostID 4294967290 and size 6 go beyond ID 4294967294"
        );
        let many: Vec<String> = (0..341).map(|k| line(k, 1000 + k, 1)).collect();
        assert_eq!(
            err(r#""bind""#, &maps(&many.join(","), &ok)),
            "mounts[0].uidMappings: more than 340 mappings (the kernel's limit)"
        );
        assert!(read(0, &mapped(r#""bind""#, &maps(&many[..340].join(","), &ok)).mounts[0]).is_ok());
        // On a bind mount only (runc: "id-mapped mounts are only supported for bind-mounts").
        let c = config(&format!(r#"{{"destination":"/t","type":"tmpfs","source":"tmpfs"{}}}"#, maps(&ok, &ok)), "");
        assert_eq!(plan(&c, &[], &[]).unwrap_err().to_string(), "mounts[0].uidMappings: applies to bind mounts only");
        let c = config(&format!(r#"{{"destination":"/t","type":"tmpfs","source":"tmpfs","gidMappings":[{ok}]}}"#), "");
        assert_eq!(plan(&c, &[], &[]).unwrap_err().to_string(), "mounts[0].gidMappings: applies to bind mounts only");
        // A size of 0 is refused as config.json is read.
        let text = format!(
            r#"{{"ociVersion":"1.2.0","root":{{"path":"r"}},"mounts":[{{"destination":"/d","type":"bind","source":"/s",
               "options":["bind"]{}}}]}}"#,
            maps(&ok, &line(0, 1000, 0))
        );
        assert_eq!(
            parse(text.as_bytes()).unwrap_err().to_string(),
            "mounts[0].gidMappings[0].size: must be greater than zero"
        );
    }

    #[test]
    fn own_mappings_need_no_user_namespace_and_idmap_without_them_does() {
        let spec = |options: &str, maps: &str| {
            let mut c = mapped(options, maps);
            c.linux.namespaces =
                vec![crate::runtime_spec::Namespace { kind: crate::runtime_spec::NsKind::Mount, path: None }];
            crate::spec_oci::from_bundle("c", Path::new("/b"), c)
        };
        assert!(spec(r#""rbind","ridmap""#, ONE).is_ok());
        assert!(spec(r#""bind""#, ONE).is_ok());
        assert_eq!(
            spec(r#""rbind","ridmap""#, "").unwrap_err().to_string(),
            "mounts[0].options: \"ridmap\" needs a user namespace in linux.namespaces"
        );
    }
}
