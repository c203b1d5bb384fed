//! A `Spec` from an OCI bundle (`spawnbox-runc create`): the container ID names the machine,
//! config.json's root, process and mounts fill the spec, and every nspawn default that would
//! add policy (resolv.conf, timezone, journal, `/tmp`, the machine id, the API mounts) is off.
//! What the core cannot do yet is refused here, before anything exists, naming the JSON path.

use crate::error::{Error, Result};
use crate::runtime_spec::{Config, IdMap, NsKind};
use crate::settings::{
    ConsoleMode, LinkJournal, NetworkAddress, PrivateUsers, ResolvConfMode, Settings, StartMode, TimezoneMode,
    UserNamespaceOwnership,
};
use crate::spec::{normalize, Caller, OciSpec, Spec};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The spec for container `id` of the bundle at `bundle` (absolute), `config` its config.json.
pub fn from_bundle(id: &str, bundle: &Path, mut config: Config) -> Result<Spec> {
    if config.process.is_none() {
        return Err(Error::msg("process: missing (create needs a process)"));
    }
    check_namespaces(&config)?;
    let userns = match choice(&config, NsKind::User) {
        NsChoice::New => Some(user_namespace_ids(&mut config)?),
        // Its mappings are read from the namespace (`userns::prepare`).
        NsChoice::Join { .. } => {
            refuse_device_owners(&config)?;
            Some((0, 0))
        }
        NsChoice::Host => None,
    };
    let process = config.process.as_ref().ok_or_else(|| Error::msg("process: missing (create needs a process)"))?;
    let terminal = process.terminal;
    let root = Path::new(&config.root.path);
    let directory = normalize(&if root.is_absolute() { root.to_path_buf() } else { bundle.join(root) });
    let settings = Settings {
        directory: Some(directory),
        machine: Some(id.to_string()),
        start_mode: Some(StartMode::Pid1),
        parameters: process.args.iter().map(OsString::from).collect(),
        console: Some(if terminal { ConsoleMode::Interactive } else { ConsoleMode::Pipe }),
        quiet: true,
        ..Default::default()
    };
    let caller = Caller { cwd: bundle, stdin_tty: false, stdout_tty: false, host_hostname: "" };
    let mut spec = Spec::resolve(settings, &caller)?;
    spec.hostname = config.hostname.clone().unwrap_or_default();
    spec.chdir = Some(PathBuf::from(&process.cwd));
    spec.setenv = process.env.clone();
    spec.kill_signal = 15;
    spec.resolv_conf = ResolvConfMode::Off;
    spec.timezone = TimezoneMode::Off;
    spec.link_journal = LinkJournal::No;
    spec.lock_tree = false;
    spec.tmpfs_tmp = false;
    spec.check_os_release = false;
    // A user namespace: config.json's mappings (`userns::prepare` writes them as given), or
    // those of the namespace joined by path (read there); the tree is used as it is.
    spec.private_users = match userns {
        Some((base, size)) => PrivateUsers::Fixed { base, size },
        None => PrivateUsers::No,
    };
    spec.ownership = UserNamespaceOwnership::Off;
    spec.net.address = NetworkAddress::Off;
    for ns in &config.linux.namespaces {
        if ns.kind == NsKind::Network {
            spec.net.private_network = true;
            spec.net.namespace_path = ns.path.as_ref().map(PathBuf::from);
        }
    }
    // Every mount option is read (and refused) now, not in the child.
    let mounts = crate::mount_plan_oci::check(&config, userns.is_some())?;
    spec.custom_mounts = crate::mount_plan_oci::binds(&config, &mounts, bundle);
    spec.oci = Some(Box::new(OciSpec {
        id: id.to_string(),
        bundle: bundle.to_path_buf(),
        config,
        no_cgroups: false,
        preserve_fds: 0,
    }));
    Ok(spec)
}

/// The namespace types a container may join by path or share with the runtime (not list),
/// besides the network's (`spec.net`) and the user namespace's.
pub const JOINABLE: [NsKind; 4] = [NsKind::Pid, NsKind::Ipc, NsKind::Uts, NsKind::Cgroup];

/// What config.json asks of one namespace type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsChoice {
    /// Listed without a path: a new one.
    New,
    /// Listed with a path (`linux.namespaces[index].path`): joined with setns(2).
    Join { index: usize, path: PathBuf },
    /// Not listed: the runtime's own (the host's), as runc leaves it.
    Host,
}

/// What `config` asks of namespace type `kind`.
pub fn choice(config: &Config, kind: NsKind) -> NsChoice {
    match config.linux.namespaces.iter().enumerate().find(|(_, n)| n.kind == kind) {
        None => NsChoice::Host,
        Some((_, n)) if n.path.is_none() => NsChoice::New,
        Some((index, n)) => NsChoice::Join { index, path: PathBuf::from(n.path.as_deref().unwrap_or_default()) },
    }
}

/// The `CLONE_NEW*` flag of `kind`.
pub fn clone_flag(kind: NsKind) -> u64 {
    (match kind {
        NsKind::Pid => libc::CLONE_NEWPID,
        NsKind::Network => libc::CLONE_NEWNET,
        NsKind::Mount => libc::CLONE_NEWNS,
        NsKind::Ipc => libc::CLONE_NEWIPC,
        NsKind::Uts => libc::CLONE_NEWUTS,
        NsKind::User => libc::CLONE_NEWUSER,
        NsKind::Cgroup => libc::CLONE_NEWCGROUP,
        NsKind::Time => libc::CLONE_NEWTIME,
    }) as u64
}

/// The namespaces of [`JOINABLE`] config.json asks to be new, as `CLONE_NEW*` flags.
pub fn new_namespaces(config: &Config) -> u64 {
    JOINABLE.iter().filter(|k| choice(config, **k) == NsChoice::New).fold(0, |acc, k| acc | clone_flag(*k))
}

/// A namespace of config.json's, opened by the launcher before the clone: the process that
/// joins it holds the namespace itself, not a path a later process could reuse.
#[derive(Debug)]
pub struct Joined {
    pub kind: NsKind,
    pub fd: OwnedFd,
}

/// Opens every namespace that `config` names by path (those of [`JOINABLE`], the mount, time
/// and user namespaces), checking that each is a namespace of its type; errors name the JSON
/// path (`linux.namespaces[2].path: open /proc/9/ns/ipc: no such file or directory`).
pub fn open_joined(config: &Config) -> Result<Vec<Joined>> {
    let mut out = Vec::new();
    // The user namespace last: the outer child joins it last (it then has no privileges left
    // over the others).
    for kind in JOINABLE.into_iter().chain([NsKind::Mount, NsKind::Time, NsKind::User]) {
        let NsChoice::Join { index, path } = choice(config, kind) else { continue };
        let at = format!("linux.namespaces[{index}].path");
        let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open", &path, e).context(&at))?;
        match crate::sys::namespace_type(fd.as_fd()) {
            Ok(t) if t as u64 == clone_flag(kind) => {}
            Ok(_) | Err(rustix::io::Errno::NOTTY) => {
                return Err(Error::msg(format!("{at}: {}: not a namespace of type {}", path.display(), kind.name())))
            }
            Err(e) => return Err(Error::path("inspect namespace", &path, e).context(&at)),
        }
        // The runtime's own mount namespace: the container's pivot_root there would move the
        // root of every host process whose root is the host's (runc does it; refused here).
        if kind == NsKind::Mount {
            let own = rustix::fs::stat("/proc/self/ns/mnt")
                .map_err(|e| Error::path("stat", Path::new("/proc/self/ns/mnt"), e))?;
            let joined = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat", &path, e).context(&at))?;
            if (own.st_dev, own.st_ino) == (joined.st_dev, joined.st_ino) {
                return Err(Error::msg(format!(
                    "{at}: {}: the runtime's own mount namespace (the container's root would become its processes' root)",
                    path.display()
                )));
            }
        }
        out.push(Joined { kind, fd });
    }
    Ok(out)
}

/// What the core makes of `linux.namespaces`: a mount namespace, new or (without a user
/// namespace) joined by path; PID, IPC, UTS, cgroup and time namespaces new, joined by path or
/// the runtime's own (not listed); a network namespace likewise; a new user namespace with
/// mappings, or one joined by path. `linux.timeOffsets` needs a new time namespace.
fn check_namespaces(config: &Config) -> Result<()> {
    let list = &config.linux.namespaces;
    for (i, ns) in list.iter().enumerate() {
        // With a user namespace the container's PID 1 is cloned by the outer child into a
        // mount namespace of its own, owned by the container's user namespace (what locks the
        // outer child's mounts). A mount namespace of another owner it could neither join
        // (setns needs CAP_SYS_ADMIN over the owner) nor mount in, and one the outer child set
        // up and shared with it would give up the locks. (With a new user namespace runc's
        // container process has no privileges over a joined mount namespace either.)
        if ns.kind == NsKind::Mount && ns.path.is_some() && choice(config, NsKind::User) != NsChoice::Host {
            return Err(Error::msg(format!(
                "linux.namespaces[{i}].path: joining a mount namespace is not supported by spawnbox-runc with a \
                 user namespace (the container's PID 1 gets a mount namespace of its user namespace's)"
            )));
        }
    }
    if !list.iter().any(|n| n.kind == NsKind::Mount) {
        return Err(Error::msg(
            "linux.namespaces: a container without a mount namespace of its own is not supported by spawnbox-runc",
        ));
    }
    // As runc: offsets can only be written before any process has entered the namespace.
    if !config.linux.time_offsets.is_empty() && choice(config, NsKind::Time) != NsChoice::New {
        return Err(Error::msg("linux.timeOffsets: needs a new time namespace in linux.namespaces"));
    }
    // runc: "unable to set hostname without a private UTS namespace".
    if choice(config, NsKind::Uts) == NsChoice::Host {
        if config.hostname.as_deref().is_some_and(|h| !h.is_empty()) {
            return Err(Error::msg("hostname: needs a UTS namespace in linux.namespaces"));
        }
        if config.domainname.as_deref().is_some_and(|h| !h.is_empty()) {
            return Err(Error::msg("domainname: needs a UTS namespace in linux.namespaces"));
        }
    }
    Ok(())
}

/// `linux.timeOffsets` as the kernel's `/proc/PID/timens_offsets` takes them: one
/// `CLOCK SECS NANOSECS` line each (time_namespaces(7)).
pub fn time_offsets_text(config: &Config) -> String {
    config.linux.time_offsets.iter().map(|o| format!("{} {} {}\n", o.clock, o.secs, o.nanosecs)).collect()
}

/// Whether config.json asks for a new cgroup namespace.
pub fn cgroup_namespace(config: &Config) -> bool {
    choice(config, NsKind::Cgroup) == NsChoice::New
}

/// Whether config.json asks for a new user namespace.
pub fn user_namespace(config: &Config) -> bool {
    choice(config, NsKind::User) == NsChoice::New
}

/// A user namespace joined by path: `linux.devices` owners would have to be mapped through
/// mappings only the namespace knows.
fn refuse_device_owners(config: &Config) -> Result<()> {
    match config.linux.devices.iter().position(|d| d.uid.is_some() || d.gid.is_some()) {
        Some(i) => Err(Error::msg(format!(
            "linux.devices[{i}]: device owners are not supported with a user namespace joined by path"
        ))),
        None => Ok(()),
    }
}

/// The host id container id `id` maps onto (`None`: unmapped).
pub fn host_id(maps: &[IdMap], id: u32) -> Option<u32> {
    maps.iter().find_map(|m| {
        let k = id.checked_sub(m.container_id).filter(|k| *k < m.size)?;
        m.host_id.checked_add(k)
    })
}

/// A new user namespace: the mappings, written as given (more than one line each); container
/// root's host uid and gid (equal: the core gives the container's root one host id for both);
/// `linux.devices` owners made host ids (the nodes are made outside the namespace). Returns the
/// host id of the container's root and the size of its mapping line.
fn user_namespace_ids(config: &mut Config) -> Result<(u32, u32)> {
    let linux = &mut config.linux;
    if linux.uid_mappings.is_empty() {
        return Err(Error::msg("linux.uidMappings: a new user namespace needs uid mappings"));
    }
    if linux.gid_mappings.is_empty() {
        return Err(Error::msg("linux.gidMappings: a new user namespace needs gid mappings"));
    }
    let root_uid = host_id(&linux.uid_mappings, 0)
        .ok_or_else(|| Error::msg("linux.uidMappings: container UID 0 must be mapped"))?;
    let root_gid = host_id(&linux.gid_mappings, 0)
        .ok_or_else(|| Error::msg("linux.gidMappings: container GID 0 must be mapped"))?;
    if root_uid != root_gid {
        return Err(Error::msg(format!(
            "linux.gidMappings: container GID 0 maps to host GID {root_gid}, but spawnbox-runc needs it to be \
             the host ID of container UID 0 ({root_uid})"
        )));
    }
    // Container UID 0 is mapped: its line starts at container ID 0.
    let size = linux.uid_mappings.iter().find(|m| m.container_id == 0).map_or(1, |m| m.size);
    for (i, d) in linux.devices.iter_mut().enumerate() {
        if let Some(uid) = d.uid {
            d.uid = Some(host_id(&linux.uid_mappings, uid).ok_or_else(|| {
                Error::msg(format!("linux.devices[{i}].uid: {uid} is not mapped in linux.uidMappings"))
            })?);
        }
        if let Some(gid) = d.gid {
            d.gid = Some(host_id(&linux.gid_mappings, gid).ok_or_else(|| {
                Error::msg(format!("linux.devices[{i}].gid: {gid} is not mapped in linux.gidMappings"))
            })?);
        }
    }
    Ok((root_uid, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime_spec::parse;

    fn config(namespaces: &str) -> Config {
        let text = format!(
            r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs"}},"hostname":"h1",
               "process":{{"cwd":"/srv","args":["echo","hi"],"env":["PATH=/bin","A=b"],"user":{{"uid":1000,"gid":100}}}},
               "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}}],
               "linux":{{"namespaces":[{namespaces}]}}}}"#
        );
        parse(text.as_bytes()).expect("config")
    }

    const ALL: &str = r#"{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"network"}"#;

    #[test]
    fn spec_from_a_bundle() {
        let s = from_bundle("c1", Path::new("/b"), config(ALL)).unwrap();
        assert_eq!(s.machine, "c1");
        assert_eq!(s.directory, PathBuf::from("/b/rootfs"));
        assert_eq!(s.hostname, "h1");
        assert_eq!(s.parameters, [OsString::from("echo"), OsString::from("hi")]);
        assert_eq!(s.setenv, ["PATH=/bin", "A=b"]);
        assert_eq!(s.chdir, Some(PathBuf::from("/srv")));
        assert_eq!(s.console, ConsoleMode::Pipe);
        assert!(s.net.private_network && s.net.namespace_path.is_none());
        assert!(!s.tmpfs_tmp && s.resolv_conf == ResolvConfMode::Off && s.timezone == TimezoneMode::Off);
        assert!(s.oci.is_some());
    }

    #[test]
    fn refused_namespaces_name_their_path() {
        let cases = [
            (
                r#"{"type":"mount"},{"type":"uts"},{"type":"user","path":"/proc/1/ns/user"}],"devices":[{"path":"/dev/x","type":"c","major":1,"minor":3,"gid":5}"#,
                "linux.devices[0]: device owners are not supported with a user namespace joined by path",
            ),
            (
                r#"{"type":"uts"},{"type":"mount","path":"/proc/1/ns/mnt"},{"type":"user"}"#,
                "linux.namespaces[1].path: joining a mount namespace is not supported by spawnbox-runc with a user \
                 namespace (the container's PID 1 gets a mount namespace of its user namespace's)",
            ),
            (
                r#"{"type":"uts"},{"type":"mount","path":"/proc/1/ns/mnt"},{"type":"user","path":"/proc/1/ns/user"}"#,
                "linux.namespaces[1].path: joining a mount namespace is not supported by spawnbox-runc with a user \
                 namespace (the container's PID 1 gets a mount namespace of its user namespace's)",
            ),
            // Offsets are written before anyone is in the namespace: only a new one takes them.
            (
                r#"{"type":"mount"},{"type":"uts"}],"timeOffsets":{"monotonic":{"secs":86400}},"devices":["#,
                "linux.timeOffsets: needs a new time namespace in linux.namespaces",
            ),
            (
                r#"{"type":"mount"},{"type":"uts"},{"type":"time","path":"/proc/1/ns/time"}],
                   "timeOffsets":{"boottime":{"secs":1}},"devices":["#,
                "linux.timeOffsets: needs a new time namespace in linux.namespaces",
            ),
            (
                r#"{"type":"pid"},{"type":"ipc"},{"type":"uts"}"#,
                "linux.namespaces: a container without a mount namespace of its own is not supported by spawnbox-runc",
            ),
            // The config's hostname "h1" with the runtime's UTS namespace (runc refuses it too).
            (r#"{"type":"mount"}"#, "hostname: needs a UTS namespace in linux.namespaces"),
            (
                r#"{"type":"mount"},{"type":"uts"},{"type":"user"}"#,
                "linux.uidMappings: a new user namespace needs uid mappings",
            ),
        ];
        for (ns, want) in cases {
            assert_eq!(from_bundle("c", Path::new("/b"), config(ns)).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn namespaces_joined_by_path_or_shared_with_the_runtime() {
        let c = config(
            r#"{"type":"pid","path":"/proc/9/ns/pid"},{"type":"mount"},{"type":"ipc","path":"/proc/9/ns/ipc"},
               {"type":"uts","path":"/proc/9/ns/uts"},{"type":"network","path":"/proc/9/ns/net"}"#,
        );
        assert_eq!(choice(&c, NsKind::Pid), NsChoice::Join { index: 0, path: PathBuf::from("/proc/9/ns/pid") });
        assert_eq!(choice(&c, NsKind::Mount), NsChoice::New);
        assert_eq!(choice(&c, NsKind::Cgroup), NsChoice::Host);
        assert_eq!(new_namespaces(&c), 0);
        let s = from_bundle("c", Path::new("/b"), c).unwrap();
        assert_eq!(s.net.namespace_path, Some(PathBuf::from("/proc/9/ns/net")));
        assert_eq!(s.private_users, PrivateUsers::No);
        // Only a mount namespace: everything else is the runtime's (no hostname then).
        let mut c = config(r#"{"type":"mount"}"#);
        c.hostname = None;
        assert_eq!(new_namespaces(&c), 0);
        assert!(from_bundle("c", Path::new("/b"), c).is_ok());
        let c = config(ALL);
        assert_eq!(new_namespaces(&c), (libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS) as u64);
        assert!(!cgroup_namespace(&c));
    }

    #[test]
    fn time_namespaces_new_with_offsets_or_joined_and_a_joined_mount_namespace() {
        let c = config(
            r#"{"type":"mount"},{"type":"uts"},{"type":"time"}],
               "timeOffsets":{"monotonic":{"secs":86400},"boottime":{"secs":3600,"nanosecs":5}},"devices":["#,
        );
        assert_eq!(choice(&c, NsKind::Time), NsChoice::New);
        assert_eq!(time_offsets_text(&c), "monotonic 86400 0\nboottime 3600 5\n");
        // Never a clone flag: CLONE_NEWTIME is the child's own unshare (0x80 is CSIGNAL's).
        assert_eq!(new_namespaces(&c), libc::CLONE_NEWUTS as u64);
        assert!(from_bundle("c", Path::new("/b"), c).is_ok());
        // A new one without offsets; joined ones; a mount namespace by path, without a user one.
        let c = config(r#"{"type":"mount"},{"type":"uts"},{"type":"time"}"#);
        assert_eq!(time_offsets_text(&c), "");
        assert!(from_bundle("c", Path::new("/b"), c).is_ok());
        let c = config(
            r#"{"type":"mount","path":"/proc/9/ns/mnt"},{"type":"uts"},{"type":"time","path":"/proc/9/ns/time"}"#,
        );
        assert_eq!(choice(&c, NsKind::Mount), NsChoice::Join { index: 0, path: PathBuf::from("/proc/9/ns/mnt") });
        assert_eq!(choice(&c, NsKind::Time), NsChoice::Join { index: 2, path: PathBuf::from("/proc/9/ns/time") });
        assert!(from_bundle("c", Path::new("/b"), c).is_ok());
    }

    fn with_user(maps: &str, devices: &str) -> Result<Spec> {
        let text = format!(
            r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs"}},
               "process":{{"cwd":"/","args":["sh"],"user":{{"uid":0,"gid":0}}}},
               "linux":{{"namespaces":[{{"type":"mount"}},{{"type":"user"}}],{maps}
                         "devices":[{devices}]}}}}"#
        );
        from_bundle("c", Path::new("/b"), parse(text.as_bytes()).expect("config"))
    }

    #[test]
    fn user_namespace_mappings() {
        let two = r#""uidMappings":[{"containerID":0,"hostID":100000,"size":1000},{"containerID":1000,"hostID":200000,"size":64536}],
                     "gidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"#;
        let s = with_user(two, r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229,"uid":1500,"gid":5}"#).unwrap();
        assert_eq!(s.private_users, PrivateUsers::Fixed { base: 100000, size: 1000 });
        let oci = s.oci.as_ref().unwrap();
        // Device owners become host ids: the outer child makes the nodes.
        assert_eq!((oci.config.linux.devices[0].uid, oci.config.linux.devices[0].gid), (Some(200500), Some(100005)));
        assert_eq!(crate::userns::oci_map_text(&oci.config.linux.uid_mappings), "0 100000 1000\n1000 200000 64536\n");
        assert_eq!(host_id(&oci.config.linux.uid_mappings, 64535 + 1000), Some(264535));
        assert_eq!(host_id(&oci.config.linux.uid_mappings, 65536), None);
        let cases = [
            (
                r#""uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"#,
                "",
                "linux.gidMappings: a new user namespace needs gid mappings",
            ),
            (
                r#""uidMappings":[{"containerID":1,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"#,
                "",
                "linux.uidMappings: container UID 0 must be mapped",
            ),
            (
                r#""uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"#,
                "",
                "linux.gidMappings: container GID 0 maps to host GID 200000, but spawnbox-runc needs it to be the \
                 host ID of container UID 0 (100000)",
            ),
            (
                r#""uidMappings":[{"containerID":0,"hostID":100000,"size":10}],"gidMappings":[{"containerID":0,"hostID":100000,"size":10}],"#,
                r#"{"path":"/dev/x","type":"c","major":1,"minor":3,"uid":10}"#,
                "linux.devices[0].uid: 10 is not mapped in linux.uidMappings",
            ),
        ];
        for (maps, devices, want) in cases {
            assert_eq!(with_user(maps, devices).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn idmapped_binds_need_a_user_namespace() {
        let text = |ns: &str, mount: &str| {
            let maps = match ns.is_empty() {
                true => "",
                false => {
                    r#","uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
                           "gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]"#
                }
            };
            format!(
                r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs"}},"process":{{"cwd":"/","args":["sh"],"user":{{"uid":0,"gid":0}}}},
                   "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},{mount}],
                   "linux":{{"namespaces":[{{"type":"mount"}}{ns}]{maps}}}}}"#
            )
        };
        let spec = |ns: &str, mount: &str| {
            let c = parse(text(ns, mount).as_bytes()).expect("config");
            from_bundle("c", Path::new("/b"), c)
        };
        let bind = r#"{"destination":"/data","type":"bind","source":"/srv/d","options":["rbind","ridmap"]}"#;
        let s = spec(r#",{"type":"user"}"#, bind).unwrap();
        assert!(matches!(
            s.custom_mounts[0],
            crate::settings::CustomMount::Bind { idmap: crate::settings::BindIdmap::Idmap, recursive: true, .. }
        ));
        // `idmap` on an `rbind`: the top mount only (runc's).
        let top = bind.replace(r#""ridmap""#, r#""idmap""#);
        assert!(matches!(
            spec(r#",{"type":"user"}"#, &top).unwrap().custom_mounts[0],
            crate::settings::CustomMount::Bind { idmap: crate::settings::BindIdmap::IdmapTop, recursive: true, .. }
        ));
        assert_eq!(
            spec("", bind).unwrap_err().to_string(),
            "mounts[1].options: \"ridmap\" needs a user namespace in linux.namespaces"
        );
        let tmpfs = r#"{"destination":"/t","type":"tmpfs","source":"tmpfs","options":["idmap"]}"#;
        assert_eq!(
            spec(r#",{"type":"user"}"#, tmpfs).unwrap_err().to_string(),
            "mounts[1].options: \"idmap\" applies to bind mounts only"
        );
    }

    #[test]
    fn joined_namespaces_are_opened_and_checked() {
        let c = config(
            r#"{"type":"mount"},{"type":"uts"},{"type":"ipc","path":"/proc/self/ns/ipc"},{"type":"pid","path":"/proc/self/ns/pid"}"#,
        );
        let j = open_joined(&c).unwrap();
        assert_eq!(j.iter().map(|j| j.kind).collect::<Vec<_>>(), [NsKind::Pid, NsKind::Ipc]);
        let c = config(r#"{"type":"mount"},{"type":"uts"},{"type":"ipc","path":"/nonexistent/ns/ipc"}"#);
        assert_eq!(
            open_joined(&c).unwrap_err().to_string(),
            "linux.namespaces[2].path: open /nonexistent/ns/ipc: no such file or directory"
        );
        let c = config(r#"{"type":"mount"},{"type":"uts","path":"/proc/self/ns/ipc"}"#);
        assert_eq!(
            open_joined(&c).unwrap_err().to_string(),
            "linux.namespaces[1].path: /proc/self/ns/ipc: not a namespace of type uts"
        );
        // The mount and time namespaces are opened and checked too (time_for_children is one);
        // the runtime's own mount namespace is refused.
        let c = config(r#"{"type":"mount"},{"type":"uts"},{"type":"time","path":"/proc/self/ns/time_for_children"}"#);
        let j = open_joined(&c).unwrap();
        assert_eq!(j.iter().map(|j| j.kind).collect::<Vec<_>>(), [NsKind::Time]);
        let c = config(r#"{"type":"mount","path":"/proc/self/ns/mnt"},{"type":"uts"}"#);
        assert_eq!(
            open_joined(&c).unwrap_err().to_string(),
            "linux.namespaces[0].path: /proc/self/ns/mnt: the runtime's own mount namespace (the container's root \
             would become its processes' root)"
        );
        let c = config(r#"{"type":"mount","path":"/proc/self/ns/ipc"},{"type":"uts"}"#);
        assert_eq!(
            open_joined(&c).unwrap_err().to_string(),
            "linux.namespaces[0].path: /proc/self/ns/ipc: not a namespace of type mount"
        );
        let c = config(r#"{"type":"mount"},{"type":"uts"},{"type":"time","path":"/proc/self/ns/mnt"}"#);
        assert_eq!(
            open_joined(&c).unwrap_err().to_string(),
            "linux.namespaces[2].path: /proc/self/ns/mnt: not a namespace of type time"
        );
        let c = config(r#"{"type":"mount"},{"type":"uts","path":"/proc/self/status"}"#);
        assert_eq!(
            open_joined(&c).unwrap_err().to_string(),
            "linux.namespaces[1].path: /proc/self/status: not a namespace of type uts"
        );
    }
}
