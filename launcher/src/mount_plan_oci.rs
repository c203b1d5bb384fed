//! The OCI runtime's mount plan: config.json's `mounts` in their order, the devices, the
//! console, the working directory, the sysctls, then `linux.readonlyPaths`, `linux.maskedPaths` and a read-only root
//! (runc's order) as steps of the mount plan. Nothing of nspawn's API set is added: the caller's config is the policy.

use crate::error::{Error, Result};
use crate::mount_plan::{attr, Step};
use crate::runtime_spec::{Config, Mount};
use crate::settings::{BindIdmap, CustomMount, MountSource};
use std::path::{Path, PathBuf};

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

/// Bind options that make the mount idmapped with the container's user namespace
/// (`spec_oci.rs` refuses them without one).
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
    /// `idmap` or `ridmap`: idmapped with the container's user namespace.
    pub idmap: bool,
}

/// Reads mount `i`'s options (`mounts[i].options`).
pub fn read(i: usize, m: &Mount) -> Result<Planned> {
    let mut p = Planned { attrs: 0, data: String::new(), bind: None, propagation: None, idmap: false };
    if matches!(m.kind.as_deref(), Some("bind") | Some("rbind")) {
        p.bind = Some(m.kind.as_deref() == Some("rbind"));
    }
    let mut data = Vec::new();
    for o in &m.options {
        if REFUSED.contains(&o.as_str()) {
            return Err(Error::msg(format!("mounts[{i}].options: {o:?} is not supported by spawnbox-runc")));
        }
        if IDMAP.contains(&o.as_str()) {
            p.idmap = true;
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
    if !m.uid_mappings.is_empty() || !m.gid_mappings.is_empty() {
        return Err(Error::msg(format!("mounts[{i}]: id-mapped mounts are not supported by spawnbox-runc yet")));
    }
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

/// The bind mounts of `config`, in order: what `Spec::custom_mounts` holds in this mode (their
/// host sources are opened before the switch into the root, by index).
pub fn binds(config: &Config, bundle: &Path) -> Result<Vec<CustomMount>> {
    let mut out = Vec::new();
    for (i, m) in config.mounts.iter().enumerate() {
        let p = read(i, m)?;
        if let Some(recursive) = p.bind {
            out.push(CustomMount::Bind {
                source: MountSource::Host(bind_source(bundle, m)),
                destination: PathBuf::from(&m.destination),
                read_only: p.attrs & attr::RDONLY != 0,
                recursive,
                idmap: if p.idmap { BindIdmap::Idmap } else { BindIdmap::None },
            });
        }
    }
    Ok(out)
}

/// The steps for `config` (`binds` are [`binds`]'s result, the spec's custom mounts).
pub fn plan(config: &Config, binds: &[CustomMount]) -> Result<Vec<Step>> {
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
                steps.push(Step::OciAttrs { target: target.clone(), attrs: p.attrs & !attr::RDONLY });
            }
            if let Some(kind) = p.propagation {
                steps.push(Step::OciPropagation { target, kind });
            }
            continue;
        }
        let kind = m.kind.as_deref().unwrap_or("");
        // cgroup v1 hierarchies are not mounted: the container sees its cgroup2 namespace.
        let fstype = if kind == "cgroup" { "cgroup2" } else { kind };
        let data = if fstype == "cgroup2" { String::new() } else { p.data };
        steps.push(Step::OciFs { target: target.clone(), fstype: fstype.to_string(), data, attrs: p.attrs });
        if let Some(kind) = p.propagation {
            steps.push(Step::OciPropagation { target: target.clone(), kind });
        }
        if target == Path::new("/dev") && fstype == "tmpfs" {
            // runc's default devices in a /dev of the container's own.
            steps.push(Step::DevNodes);
        }
    }
    if !config.linux.devices.is_empty() {
        steps.push(Step::OciDevices(config.linux.devices.clone()));
    }
    if terminal {
        steps.push(Step::Console);
    }
    if let Some(p) = &config.process {
        steps.push(Step::OciWorkingDirectory { target: PathBuf::from(&p.cwd) });
    }
    if !config.linux.sysctl.is_empty() {
        steps.push(Step::OciSysctl(config.linux.sysctl.clone()));
    }
    steps.extend(config.linux.readonly_paths.iter().map(|p| Step::OciReadOnly { target: PathBuf::from(p) }));
    steps.extend(config.linux.masked_paths.iter().map(|p| Step::OciMask { target: PathBuf::from(p) }));
    if config.root.readonly {
        steps.push(Step::OciRootReadOnly);
    }
    if let Some(kind) = &config.linux.rootfs_propagation {
        steps.push(Step::OciPropagation { target: PathBuf::from("/"), kind: kind.clone() });
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime_spec::parse;

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
        let binds = binds(&c, Path::new("/b")).unwrap();
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
        let lines: Vec<String> = plan(&c, &binds).unwrap().iter().map(|s| s.to_string()).collect();
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
            assert_eq!(plan(&c, &[]).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn rbind_and_read_only_binds() {
        let c = config(r#"{"destination":"/data","type":"none","source":"d","options":["rbind","ro"]}"#, "");
        let b = binds(&c, Path::new("/bundle")).unwrap();
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
}
