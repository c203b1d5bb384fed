//! config.json in, the `Settings` nspawn's `oci_load()` would make out; every refusal's exact
//! text; the merge below the command line; `process.user` against a user database.

use super::*;
use crate::settings::{merge, BindIdmap, MountSource};

/// A config with `process` members `process`, top-level members `top` and `linux` members
/// `linux` added (each a JSON fragment starting with a comma, or empty).
fn conf(process: &str, top: &str, linux: &str) -> String {
    format!(
        r#"{{
  "ociVersion": "1.0.2",
  "root": {{"path": "rootfs"}},
  "process": {{"user": {{"uid": 0, "gid": 0}}, "args": ["/bin/sh", "-c", "id"], "cwd": "/"{process}}}{top},
  "linux": {{"namespaces": [{{"type": "mount"}}, {{"type": "pid"}}, {{"type": "uts"}}, {{"type": "ipc"}}, {{"type": "cgroup"}}]{linux}}}
}}"#
    )
}

fn convert_str(json: &str) -> Result<Bundle> {
    let c = crate::runtime_spec::parse(json.as_bytes())?;
    convert(&c, Path::new("/srv/b"))
}

fn ok(json: &str) -> Bundle {
    convert_str(json).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

fn fail(json: &str) -> String {
    match convert_str(json) {
        Ok(b) => panic!("accepted: {b:?}\n{json}"),
        Err(e) => e.to_string(),
    }
}

/// A config using every member that maps onto nspawn's settings.
const FULL: &str = r#"{
  "ociVersion": "1.1.0",
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "process": {
    "terminal": false,
    "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [10]},
    "args": ["/bin/server", "--port", "80"],
    "env": ["PATH=/bin", "A=b=c"],
    "cwd": "/srv/./app",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_CHOWN"],
      "permitted": ["CAP_CHOWN", "CAP_KILL"],
      "ambient": ["CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}],
    "noNewPrivileges": true,
    "oomScoreAdj": 100
  },
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
    {"destination": "/sys/fs/cgroup/", "type": "cgroup", "source": "cgroup"},
    {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind", "ro", "rprivate"]},
    {"destination": "/etc/hosts", "source": "/run/hosts", "options": ["bind"]},
    {"destination": "/cache", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]},
    {"destination": "/opt", "type": "none", "source": "/srv/opt", "options": ["rbind"]}
  ],
  "annotations": {"org.example": "x"},
  "linux": {
    "namespaces": [{"type": "mount"}, {"type": "pid"}, {"type": "network", "path": "/run/netns/a"}, {"type": "ipc"}, {"type": "uts"}, {"type": "cgroup"}, {"type": "user"}],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "devices": [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}],
    "cgroupsPath": "/machine.slice/machine-box.slice",
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 232, "access": "rwm"}],
      "memory": {"limit": 1048576, "reservation": 524288, "swap": 2097152, "kernel": 1},
      "cpu": {"shares": 2048, "quota": 50000, "period": 100000, "cpus": "0-1,3"},
      "pids": {"limit": 64},
      "blockIO": {"weight": 1000, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000000}]}
    },
    "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]},
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore", "/proc/sched_debug", "/etc/secret"],
    "readonlyPaths": ["/proc/sys", "/usr"]
  }
}"#;

#[test]
fn every_mapped_member() {
    let b = ok(FULL);
    let s = &b.settings;
    assert_eq!(s.directory.as_deref(), Some(Path::new("/srv/b/rootfs")));
    assert!(s.read_only);
    assert_eq!(s.hostname.as_deref(), Some("box"));
    assert_eq!(s.start_mode, Some(StartMode::Pid1));
    assert_eq!(s.parameters, ["/bin/server", "--port", "80"]);
    assert_eq!(s.setenv, ["PATH=/bin", "A=b=c"]);
    assert_eq!(s.chdir.as_deref(), Some(Path::new("/srv/app")));
    assert_eq!(s.console, Some(ConsoleMode::Pipe));
    assert_eq!(s.user.as_deref(), Some("1000"));
    assert_eq!(b.user, Some(User { uid: 1000, gid: 1000, umask: Some(18), additional_gids: vec![10] }));
    let (chown, kill, bind) = (1u64 << 0, 1u64 << 5, 1u64 << 10);
    assert_eq!(s.capability, chown | kill | bind);
    assert_eq!(s.drop_capability, !(chown | kill | bind));
    assert_eq!(s.ambient_capability, bind);
    assert_eq!(s.rlimits, [Rlimit { resource: 7, soft: 1024, hard: 4096 }]);
    assert_eq!(s.no_new_privileges, Some(true));
    assert_eq!(s.oom_score_adjust, Some(100));
    assert_eq!(s.network_namespace_path.as_deref(), Some(Path::new("/run/netns/a")));
    assert!(s.private_network);
    assert_eq!(s.private_users, Some(PrivateUsers::Fixed { base: 100000, size: 65536 }));
    assert_eq!(s.slice.as_deref(), Some("machine-box.slice"));
    assert_eq!(s.cpu_affinity, Some(vec![0, 1, 3]));
    assert_eq!(s.seccomp_profile.as_ref().map(|p| p.default_action.as_str()), Some("SCMP_ACT_ALLOW"));
    assert_eq!(
        (s.resolv_conf, s.link_journal, s.timezone),
        (Some(ResolvConfMode::Off), Some(LinkJournal::No), Some(TimezoneMode::Off))
    );
    let bind_m = |src: MountSource, dst: &str, ro: bool, rec: bool| CustomMount::Bind {
        source: src,
        destination: dst.into(),
        read_only: ro,
        recursive: rec,
        idmap: BindIdmap::None,
    };
    assert_eq!(
        s.custom_mounts,
        [
            bind_m(MountSource::Host("/srv/b/data".into()), "/data", true, true),
            bind_m(MountSource::Host("/run/hosts".into()), "/etc/hosts", false, false),
            CustomMount::Tmpfs { destination: "/cache".into(), options: "nosuid,size=1m".into() },
            bind_m(MountSource::Host("/srv/opt".into()), "/opt", false, true),
            CustomMount::Inaccessible { destination: "/proc/sched_debug".into() },
            CustomMount::Inaccessible { destination: "/etc/secret".into() },
            bind_m(MountSource::InRoot("/usr".into()), "/usr", true, true),
        ]
    );
    assert_eq!(b.graceful, [PathBuf::from("/proc/sched_debug"), PathBuf::from("/etc/secret")]);
    assert_eq!(
        b.properties,
        [
            "MemorySwapMax=1048576",
            "MemoryMax=1048576",
            "MemoryLow=524288",
            "CPUWeight=200",
            "CPUQuota=5000‱",
            "CPUQuotaPeriodSec=100000us",
            "IOWeight=200",
            "IOReadBandwidthMax=/dev/block/8:0 1000000",
            "TasksMax=64",
        ]
    );
    // Each is a property the cgroup layer takes.
    for p in &b.properties {
        crate::cgroup::parse_property(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    }
    assert_eq!(
        b.warnings,
        [
            "linux.resources.devices[2]: c 10:232 rwm not granted: spawnbox's device policy applies",
            "linux.resources.memory.kernel: cgroup v1 only, ignored",
        ]
    );
    type S = SettingsMask;
    let want = S::START_MODE
        | S::RESOLV_CONF
        | S::LINK_JOURNAL
        | S::TIMEZONE
        | S::DIRECTORY
        | S::READ_ONLY
        | S::HOSTNAME
        | S::ENVIRONMENT
        | S::WORKING_DIRECTORY
        | S::CONSOLE_MODE
        | S::USER
        | S::CAPABILITY
        | S::rlimit(7)
        | S::NO_NEW_PRIVILEGES
        | S::OOM_SCORE_ADJUST
        | S::CUSTOM_MOUNTS
        | S::NETWORK
        | S::USERNS
        | S::SLICE
        | S::CPU_AFFINITY
        | S::SYSCALL_FILTER;
    assert_eq!(s.given, want);
}

#[test]
fn a_minimal_bundle_keeps_nspawns_defaults() {
    assert_eq!(ok(&conf(r#", "terminal": true"#, "", "")).settings.console, None, "terminal: true keeps the default");
    let b = ok(&conf("", "", ""));
    let s = &b.settings;
    assert_eq!(s.console, Some(ConsoleMode::Pipe), "terminal: false (the spec's default) is the pipe mode");
    assert!(!s.private_network);
    assert_eq!(s.private_users, Some(PrivateUsers::No));
    assert!(s.custom_mounts.is_empty() && b.properties.is_empty() && b.warnings.is_empty());
    assert_eq!((s.capability, s.drop_capability), (0, 0), "no capabilities member: nspawn's set");
    assert!(!s.given.contains(SettingsMask::CAPABILITY));
    assert!(!s.given.contains(SettingsMask::CUSTOM_MOUNTS));
    // No namespaces member at all: nspawn's own (no network settings given).
    let json = conf("", "", "").replace(
        r#""namespaces": [{"type": "mount"}, {"type": "pid"}, {"type": "uts"}, {"type": "ipc"}, {"type": "cgroup"}]"#,
        r#""maskedPaths": []"#,
    );
    assert!(!ok(&json).settings.given.contains(SettingsMask::NETWORK));
}

#[test]
fn missing_namespaces_and_small_ranges_are_said() {
    let json = conf("", "", "").replace(r#", {"type": "uts"}, {"type": "ipc"}, {"type": "cgroup"}"#, "");
    assert_eq!(
        ok(&json).warnings,
        ["linux.namespaces: no uts, ipc, cgroup namespace listed: spawnbox makes new ones anyway"]
    );
    let json = conf("", "", r#", "uidMappings": [{"containerID": 0, "hostID": 5000, "size": 1000}]"#)
        .replace(r#"{"type": "cgroup"}"#, r#"{"type": "cgroup"}, {"type": "user"}"#);
    let b = ok(&json);
    assert_eq!(b.settings.private_users, Some(PrivateUsers::Fixed { base: 5000, size: 1000 }));
    assert_eq!(b.warnings, ["linux.uidMappings: only 1000 ids mapped (fewer than 65536)"]);
}

#[test]
fn refusals_name_the_json_path() {
    let userns =
        |maps: &str| conf("", "", maps).replace(r#"{"type": "cgroup"}"#, r#"{"type": "cgroup"}, {"type": "user"}"#);
    let cases: Vec<(String, &str)> = vec![
        (
            conf("", "", "").replace(r#"{"type": "pid"}"#, r#"{"type": "pid", "path": "/proc/1/ns/pid"}"#),
            "linux.namespaces[1].path: only the network namespace can be joined with --oci-bundle",
        ),
        (
            conf("", "", "").replace(r#"{"type": "mount"}, "#, ""),
            "linux.namespaces: a mount namespace is required (containers without one are not supported)",
        ),
        (
            conf("", "", "").replace(r#"{"type": "cgroup"}"#, r#"{"type": "time"}"#),
            "linux.namespaces[4].type: time namespaces are not supported with --oci-bundle",
        ),
        (userns(""), "linux.uidMappings: a user namespace needs a mapping with --oci-bundle"),
        (
            userns(r#", "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}, {"containerID": 1, "hostID": 2, "size": 1}]"#),
            "linux.uidMappings: more than one mapping is not supported with --oci-bundle",
        ),
        (
            userns(r#", "uidMappings": [{"containerID": 1, "hostID": 100000, "size": 65536}]"#),
            "linux.uidMappings[0].containerID: must be 0 with --oci-bundle (the range is mapped from container id 0)",
        ),
        (
            userns(r#", "uidMappings": [{"containerID": 0, "hostID": 4294967295, "size": 2}]"#),
            "linux.uidMappings[0]: the range goes beyond the 32-bit ids",
        ),
        (
            userns(
                r#", "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}], "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]"#,
            ),
            "linux.gidMappings[0]: must be the same as linux.uidMappings[0] with --oci-bundle",
        ),
        (conf("", r#", "domainname": "d""#, ""), "domainname: not supported with --oci-bundle"),
        (conf("", r#", "hostname": "a b""#, ""), r#"hostname: not a valid hostname: "a b""#),
        (
            conf("", "", "").replace(r#"["/bin/sh", "-c", "id"]"#, r#"["", "x"]"#),
            "process.args[0]: the executable name must not be empty",
        ),
        (conf(r#", "env": ["1X=y"]"#, "", ""), r#"process.env[0]: invalid environment variable name: "1X=y""#),
        (
            conf("", "", "").replace(r#""cwd": "/""#, r#""cwd": "/proc/x""#),
            "process.cwd: working directory is below an API file system",
        ),
        (
            conf(r#", "consoleSize": {"height": 0, "width": 80}"#, "", ""),
            "process.consoleSize.height: out of range: 0 (1 to 65535)",
        ),
        (
            conf("", "", "").replace(r#""uid": 0, "gid": 0"#, r#""uid": 0, "gid": 0, "umask": 63"#),
            "process.user.umask: 0o77 is not supported with --oci-bundle (the payload's umask is 0022)",
        ),
        (
            conf(r#", "capabilities": {"bounding": ["CAP_KILL"], "ambient": ["CAP_CHOWN"]}"#, "", ""),
            "process.capabilities.ambient: not in the bounding set: CAP_CHOWN",
        ),
        (
            conf(r#", "capabilities": {"bounding": [], "permitted": ["CAP_SYS_ADMIN"]}"#, "", ""),
            "process.capabilities.permitted: not in the bounding set: CAP_SYS_ADMIN",
        ),
        (
            conf(r#", "rlimits": [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}, {"type": "RLIMIT_CORE", "soft": 1, "hard": 1}]"#, "", ""),
            "process.rlimits[1].type: \"RLIMIT_CORE\" given twice",
        ),
        (conf(r#", "apparmorProfile": "docker-default""#, "", ""), "process.apparmorProfile: AppArmor is not supported by spawnbox"),
        (conf(r#", "selinuxLabel": "system_u:r""#, "", ""), "process.selinuxLabel: SELinux is not supported by spawnbox"),
        (
            conf("", r#", "mounts": [{"destination": "/mnt", "type": "nfs", "source": "h:/x"}]"#, ""),
            r#"mounts[0].type: "nfs" mounts are not supported with --oci-bundle (bind and tmpfs are)"#,
        ),
        (
            conf("", r#", "mounts": [{"destination": "/mnt", "type": "bind", "source": "/x", "options": ["rbind", "nosuid"]}]"#, ""),
            r#"mounts[0].options[1]: "nosuid" is not supported on bind mounts with --oci-bundle"#,
        ),
        (
            conf("", r#", "mounts": [{"destination": "/mnt", "type": "bind"}]"#, ""),
            "mounts[0].source: a bind mount needs a source",
        ),
        (
            conf("", r#", "mounts": [{"destination": "/a/../b", "type": "bind", "source": "/x"}]"#, ""),
            r#"mounts[0].destination: must not contain "..": "/a/../b""#,
        ),
        (
            conf("", r#", "mounts": [{"destination": "/", "type": "tmpfs"}]"#, ""),
            "mounts[0].destination: cannot mount a tmpfs on /",
        ),
        (
            conf("", r#", "mounts": [{"destination": "/m", "type": "bind", "source": "/x", "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}]"#, ""),
            "mounts[0].uidMappings: idmapped mounts are not supported with --oci-bundle",
        ),
        (
            conf("", "", r#", "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]"#),
            "linux.devices[0]: /dev/fuse (c 10:229) is not supported with --oci-bundle yet (only the standard nodes, which spawnbox makes anyway)",
        ),
        (
            conf("", "", r#", "cgroupsPath": "/libpod_parent/libpod-1""#),
            r#"linux.cgroupsPath: "/libpod_parent/libpod-1" is not the path of a slice (--oci-bundle takes /NAME.slice paths, as nspawn)"#,
        ),
        (
            conf("", "", r#", "sysctl": {"net.ipv4.ip_forward": "1"}"#),
            "linux.sysctl: not supported with --oci-bundle (nspawn reads it and never applies it)",
        ),
        (
            conf("", "", r#", "rootfsPropagation": "rprivate""#),
            r#"linux.rootfsPropagation: "rprivate" is not supported with --oci-bundle (slave and shared are)"#,
        ),
        (conf("", "", r#", "mountLabel": "x""#), "linux.mountLabel: SELinux is not supported by spawnbox"),
        (
            conf("", "", r#", "resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#),
            "linux.resources.hugepageLimits: not supported with --oci-bundle",
        ),
        (
            conf("", "", r#", "resources": {"unified": {"memory.high": "1"}}"#),
            "linux.resources.unified: not supported with --oci-bundle",
        ),
        (
            conf("", "", r#", "resources": {"cpu": {"quota": 1000}}"#),
            "linux.resources.cpu: quota and period must be given together",
        ),
        (
            conf("", "", r#", "resources": {"cpu": {"realtimeRuntime": 1000}}"#),
            "linux.resources.cpu.realtimeRuntime: not supported with --oci-bundle",
        ),
        (
            conf("", "", r#", "resources": {"cpu": {"shares": 1}}"#),
            "linux.resources.cpu.shares: out of range: 1 (2 to 262144)",
        ),
        (
            conf("", "", r#", "resources": {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 100}]}}"#),
            "linux.resources.blockIO.weightDevice[0]: per-device weights are not supported with --oci-bundle",
        ),
        (
            conf("", "", r#", "resources": {"devices": [{"allow": true, "minor": 3, "access": "rwm"}]}"#),
            "linux.resources.devices[0]: a minor without a major is not supported with --oci-bundle",
        ),
        (
            conf("", "", r#", "resources": {"devices": [{"allow": true, "access": "r"}]}"#),
            "linux.resources.devices[0]: a rule without a device type is not supported with --oci-bundle",
        ),
        (
            conf("", r#", "hooks": {"prestart": [{"path": "/bin/true"}]}"#, ""),
            "hooks.prestart: hooks are not run with --oci-bundle (spawnbox-runc runs them)",
        ),
    ];
    for (json, want) in cases {
        assert_eq!(fail(&json), want, "{json}");
    }
}

#[test]
fn cgroups_paths_must_be_slices() {
    assert_eq!(resources::slice_of("/machine.slice").unwrap(), "machine.slice");
    assert_eq!(resources::slice_of("/a.slice/a-b.slice/a-b-c.slice/").unwrap(), "a-b-c.slice");
    for bad in
        ["machine.slice", "/", "/a.slice/b.slice", "/a-b.slice", "/-.slice", "/a--b.slice", "system.slice:docker:1"]
    {
        assert!(resources::slice_of(bad).is_err(), "{bad}");
    }
}

#[test]
fn resources_edge_values() {
    let b = ok(&conf(
        "",
        "",
        r#", "resources": {"memory": {"limit": -1, "swap": 100}, "pids": {"limit": -1}, "cpu": {"quota": -1}, "devices": [{"allow": true, "type": "c", "major": 136, "access": "rw"}, {"allow": false, "type": "c", "major": 5, "access": "r"}]}"#,
    ));
    assert_eq!(b.properties, ["TasksMax=infinity"]);
    assert_eq!(
        b.warnings,
        [
            "linux.resources.devices[1]: deny rules other than the catch-all are ignored (the policy starts closed)",
            "linux.resources.memory.swap: no memory limit, ignored",
        ]
    );
}

#[test]
fn the_command_line_wins_over_the_bundle() {
    let b = ok(FULL);
    let cli = Settings {
        hostname: Some("cli".into()),
        parameters: vec!["/bin/true".into()],
        directory: Some("/srv/tree".into()),
        given: SettingsMask::HOSTNAME | SettingsMask::START_MODE | SettingsMask::DIRECTORY,
        ..Default::default()
    };
    let m = merge(&cli, &b.settings, true);
    assert!(m.ignored.is_empty(), "{:?}", m.ignored);
    let s = m.settings;
    assert_eq!(s.hostname.as_deref(), Some("cli"));
    assert_eq!(s.parameters, ["/bin/true"]);
    assert_eq!(s.directory.as_deref(), Some(Path::new("/srv/tree")));
    assert_eq!(s.chdir.as_deref(), Some(Path::new("/srv/app")), "what the command line leaves is the bundle's");
    assert!(s.seccomp_profile.is_some());
    // --system-call-filter= keeps nspawn's filter: the bundle's profile is not taken.
    let cli = Settings {
        system_call_filter: vec!["~@mount".into()],
        given: SettingsMask::SYSCALL_FILTER,
        ..Default::default()
    };
    assert!(merge(&cli, &b.settings, true).settings.seccomp_profile.is_none());
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n";
const GROUP: &str = "root:x:0:\nwheel:x:10:alice,root\naudio:x:29:alice\nalice:x:1000:\n";

#[test]
fn the_user_comes_from_the_containers_database() {
    let u = |uid, gid, extra: &[u32]| User { uid, gid, umask: None, additional_gids: extra.to_vec() };
    assert_eq!(resolve_user(&u(0, 0, &[]), PASSWD, GROUP).unwrap(), None);
    assert_eq!(resolve_user(&u(0, 0, &[0, 10]), PASSWD, GROUP).unwrap().as_deref(), Some("root"));
    assert_eq!(resolve_user(&u(1000, 1000, &[29, 10]), PASSWD, GROUP).unwrap().as_deref(), Some("alice"));
    assert_eq!(resolve_user(&u(1000, 1000, &[1000, 10, 29, 10]), PASSWD, GROUP).unwrap().as_deref(), Some("alice"));
    let err = |user: User| resolve_user(&user, PASSWD, GROUP).unwrap_err().to_string();
    assert_eq!(
        err(u(1000, 1000, &[])),
        "process.user.additionalGids: [] are not the groups of uid 1000 in the container's /etc/group ([10 29])"
    );
    assert_eq!(
        err(u(1000, 0, &[10, 29])),
        "process.user.gid: 0 is not the group of uid 1000 in the container's /etc/passwd (1000)"
    );
    assert_eq!(
        err(u(2000, 2000, &[])),
        "process.user.uid: 2000 has no entry in the container's /etc/passwd (spawnbox runs the payload as a user of the container)"
    );
    // root without an entry is root, as nspawn assumes.
    assert_eq!(resolve_user(&u(0, 0, &[]), "", "").unwrap(), None);
}

/// A bundle directory in the temp dir: `rootfs/etc/{passwd,group}`, `rootfs/etc/present`, and
/// config.json `json` (removed with the directory by the caller).
fn temp_bundle(name: &str, json: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnbox-ocib-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("rootfs/etc")).unwrap();
    std::fs::write(d.join("rootfs/etc/passwd"), PASSWD).unwrap();
    std::fs::write(d.join("rootfs/etc/group"), GROUP).unwrap();
    std::fs::write(d.join("rootfs/etc/present"), "").unwrap();
    std::fs::write(d.join("config.json"), json).unwrap();
    d
}

#[test]
fn load_merges_below_the_command_line_and_checks_the_tree() {
    let json = conf(
        r#", "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 29]}"#,
        "",
        r#", "maskedPaths": ["/etc/present", "/etc/absent", "/proc/no-such-file"], "resources": {"pids": {"limit": 10}}"#,
    )
    .replace(r#""user": {"uid": 0, "gid": 0}, "#, "");
    let d = temp_bundle("load", &json);
    let cli = Settings {
        oci_bundle: Some(d.clone()),
        properties: vec!["TasksMax=20".into()],
        given: SettingsMask::OCI_BUNDLE | SettingsMask::PROPERTIES,
        ..Default::default()
    };
    let loaded = load(cli, Path::new("/")).unwrap();
    let s = &loaded.settings;
    assert_eq!(loaded.file, Some(d.join("config.json")));
    assert_eq!(s.directory, Some(d.join("rootfs")));
    assert_eq!(s.user.as_deref(), Some("alice"), "the uid resolved in the tree's passwd");
    assert_eq!(s.properties, ["TasksMax=10", "TasksMax=20"], "the command line's come last and win");
    assert_eq!(s.custom_mounts, [CustomMount::Inaccessible { destination: "/etc/present".into() }]);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);

    // -u on the command line: the bundle's user is neither taken nor checked.
    let bad = json.replace(r#""additionalGids": [10, 29]"#, r#""additionalGids": []"#);
    std::fs::write(d.join("config.json"), &bad).unwrap();
    let cli = |given| Settings { oci_bundle: Some(d.clone()), user: Some("root".into()), given, ..Default::default() };
    let s = load(cli(SettingsMask::OCI_BUNDLE | SettingsMask::USER), Path::new("/")).unwrap().settings;
    assert_eq!(s.user.as_deref(), Some("root"));
    // Without it, the refusal names the file and the JSON path.
    let e = load(cli(SettingsMask::OCI_BUNDLE), Path::new("/")).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: process.user.additionalGids: [] are not the groups of uid 1000 in the container's /etc/group ([10 29])",
            d.join("config.json").display()
        )
    );
    std::fs::remove_dir_all(&d).unwrap();
}
