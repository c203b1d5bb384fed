//! config.json as engines write it (podman, containerd, dockerd shapes from the reference) and
//! every MUST of the spec that the parser enforces, each error exactly.

use super::*;

/// A podman-shaped config (cgroupfs manager): rlimits, annotations, binds, the pid/network/
/// ipc/uts/mount namespaces, masked and read-only paths, a device rule list.
const PODMAN: &str = r#"{
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0, 1, 2, 10]},
    "args": ["/bin/true"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "container=podman", "HOME=/root"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"],
      "effective": ["CAP_CHOWN", "CAP_KILL"],
      "permitted": ["CAP_CHOWN", "CAP_KILL"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000}, {"type": "RLIMIT_NPROC", "hard": 32768, "soft": 32768}],
    "oomScoreAdj": 0
  },
  "root": {"path": "/var/lib/containers/storage/overlay/abc/merged"},
  "hostname": "4f2d1c",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/etc/hosts", "type": "bind", "source": "/run/u/hosts", "options": ["bind", "rprivate"]},
    {"destination": "/run/.containerenv", "type": "bind", "source": "/run/u/.containerenv", "options": ["bind", "rprivate"]}
  ],
  "annotations": {"io.container.manager": "libpod", "org.opencontainers.image.stopSignal": "15"},
  "linux": {
    "sysctl": {"net.ipv4.ping_group_range": "0 0"},
    "resources": {"devices": [{"allow": false, "access": "rwm"}], "pids": {"limit": 2048}},
    "cgroupsPath": "/libpod_parent/libpod-4f2d1c",
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
      ]
    },
    "maskedPaths": ["/proc/acpi", "/proc/kcore"],
    "readonlyPaths": ["/proc/bus", "/proc/sys"]
  }
}"#;

#[test]
fn a_podman_config() {
    let c = parse(PODMAN.as_bytes()).unwrap();
    assert_eq!(c.oci_version, "1.0.2-dev");
    assert_eq!(c.root, Root { path: "/var/lib/containers/storage/overlay/abc/merged".into(), readonly: false });
    let p = c.process.unwrap();
    assert_eq!(p.args, ["/bin/true"]);
    assert_eq!(p.user, User { uid: 0, gid: 0, umask: Some(18), additional_gids: vec![0, 1, 2, 10] });
    let caps = p.capabilities.unwrap();
    assert_eq!(caps.bounding, [0, 1, 5, 10, 18]);
    assert_eq!(caps.effective, [0, 5]);
    assert!(caps.inheritable.is_empty() && caps.ambient.is_empty() && caps.unknown.is_empty());
    assert_eq!(
        p.rlimits,
        [Rlimit { resource: 7, soft: 20000, hard: 20000 }, Rlimit { resource: 6, soft: 32768, hard: 32768 }]
    );
    assert_eq!(p.oom_score_adj, Some(0));
    assert!(!p.terminal && !p.no_new_privileges);
    assert_eq!(c.hostname.as_deref(), Some("4f2d1c"));
    assert_eq!(c.mounts.len(), 4);
    assert_eq!(
        c.mounts[2],
        Mount {
            destination: "/etc/hosts".into(),
            kind: Some("bind".into()),
            source: Some("/run/u/hosts".into()),
            options: vec!["bind".into(), "rprivate".into()],
            ..Mount::default()
        }
    );
    assert_eq!(c.annotations[0], ("io.container.manager".into(), "libpod".into()));
    let l = c.linux;
    assert_eq!(l.cgroups_path.as_deref(), Some("/libpod_parent/libpod-4f2d1c"));
    assert_eq!(
        l.namespaces.iter().map(|n| n.kind).collect::<Vec<_>>(),
        [NsKind::Pid, NsKind::Network, NsKind::Ipc, NsKind::Uts, NsKind::Mount]
    );
    assert_eq!(l.resources.pids_limit, Some(2048));
    assert_eq!(
        l.resources.devices,
        [DeviceRule { allow: false, kind: None, major: None, minor: None, access: Some("rwm".into()) }]
    );
    assert_eq!(l.sysctl, [("net.ipv4.ping_group_range".into(), "0 0".into())]);
    let s = l.seccomp.unwrap();
    assert_eq!((s.default_action.as_str(), s.default_errno_ret), ("SCMP_ACT_ERRNO", Some(38)));
    assert_eq!(s.syscalls[1].args, [SeccompArg { index: 0, value: 8, value_two: 0, op: "SCMP_CMP_EQ".into() }]);
    assert_eq!(l.masked_paths, ["/proc/acpi", "/proc/kcore"]);
    assert_eq!(l.readonly_paths, ["/proc/bus", "/proc/sys"]);
}

/// dockerd's shape: a prestart hook (libnetwork-setkey), `cgroupsPath` `/docker/ID`, and
/// resources of every kind; a user namespace with mappings; a namespace joined by path.
const DOCKER: &str = r#"{
  "ociVersion": "1.3.0",
  "process": {"terminal": true, "consoleSize": {"height": 25, "width": 80}, "user": {"uid": 1000, "gid": 1000},
              "args": ["sh"], "cwd": "/home", "noNewPrivileges": true, "apparmorProfile": "",
              "capabilities": {"bounding": ["CAP_KILL", "CAP_FUTURE_THING"]}},
  "root": {"path": "rootfs", "readonly": true},
  "hooks": {
    "prestart": [{"path": "/proc/123/exe", "args": ["libnetwork-setkey", "-exec-root=/var/run/docker", "abc", "def"]}],
    "poststop": [{"path": "/bin/cleanup", "env": ["A=1"], "timeout": 5}]
  },
  "linux": {
    "namespaces": [{"type": "mount"}, {"type": "user"}, {"type": "network", "path": "/proc/77/ns/net"}],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "cgroupsPath": "/docker/abc",
    "rootfsPropagation": "rslave",
    "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}],
    "resources": {
      "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824, "swappiness": 60},
      "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
      "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
      "devices": [{"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
      "unified": {"memory.high": "400000000"}
    },
    "personality": {"domain": "LINUX32"}
  }
}"#;

#[test]
fn a_docker_config_with_hooks_userns_and_resources() {
    let c = parse(DOCKER.as_bytes()).unwrap();
    assert_eq!(c.root, Root { path: "rootfs".into(), readonly: true });
    let p = c.process.unwrap();
    assert_eq!((p.terminal, p.console_size, p.no_new_privileges), (true, Some((25, 80)), true));
    assert_eq!(p.apparmor_profile, None);
    let caps = p.capabilities.unwrap();
    assert_eq!(caps.bounding, [5]);
    assert_eq!(caps.unknown, ["CAP_FUTURE_THING"]);
    assert_eq!(c.hooks.prestart[0].args[0], "libnetwork-setkey");
    assert_eq!(
        c.hooks.poststop,
        [Hook { path: "/bin/cleanup".into(), args: vec![], env: vec!["A=1".into()], timeout: Some(5) }]
    );
    assert!(c.hooks.create_runtime.is_empty());
    let l = c.linux;
    assert_eq!(l.namespaces[2], Namespace { kind: NsKind::Network, path: Some("/proc/77/ns/net".into()) });
    assert_eq!(l.uid_mappings, [IdMap { container_id: 0, host_id: 100000, size: 65536 }]);
    assert_eq!(l.rootfs_propagation.as_deref(), Some("rslave"));
    assert_eq!(l.devices[0].kind, 'c');
    assert_eq!((l.devices[0].major, l.devices[0].minor, l.devices[0].file_mode), (10, 229, Some(438)));
    let r = l.resources;
    let m = r.memory.unwrap();
    assert_eq!((m.limit, m.swap, m.swappiness), (Some(536870912), Some(1073741824), Some(60)));
    let cpu = r.cpu.unwrap();
    assert_eq!((cpu.shares, cpu.quota, cpu.cpus.as_deref()), (Some(512), Some(50000), Some("0-1")));
    let b = r.block_io.unwrap();
    assert_eq!(b.weight, Some(500));
    assert_eq!(b.throttle_read_bps, [ThrottleDevice { major: 8, minor: 0, rate: 1048576 }]);
    assert_eq!(r.hugepage_limits, [HugepageLimit { page_size: "2MB".into(), limit: 0 }]);
    assert_eq!(r.unified, [("memory.high".into(), "400000000".into())]);
    assert_eq!(l.personality.as_deref(), Some("LINUX32"));
}

#[test]
fn time_offsets_in_document_order() {
    let c = parse(
        with(
            "",
            r#", "timeOffsets": {"boottime": {"secs": -3600}, "monotonic": {"secs": 86400, "nanosecs": 999999999}}"#,
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        c.linux.time_offsets,
        [
            TimeOffset { clock: "boottime".into(), secs: -3600, nanosecs: 0 },
            TimeOffset { clock: "monotonic".into(), secs: 86400, nanosecs: 999_999_999 },
        ]
    );
    // Both members are optional (zero); an empty object offsets nothing.
    let c = parse(with("", r#", "timeOffsets": {"monotonic": {}}"#).as_bytes()).unwrap();
    assert_eq!(c.linux.time_offsets, [TimeOffset { clock: "monotonic".into(), secs: 0, nanosecs: 0 }]);
    assert!(parse(with("", r#", "timeOffsets": {}"#).as_bytes()).unwrap().linux.time_offsets.is_empty());
}

#[test]
fn a_minimal_config_and_unknown_members() {
    let c = parse(br#"{"ociVersion": "1.1.0", "root": {"path": "r"}, "future": {"x": 1}, "linux": {"intelRdt": {}}}"#)
        .unwrap();
    assert_eq!(c.process, None);
    assert_eq!(c.linux, Linux::default());
    // A relative mount destination is taken from / (runc).
    let c = parse(
        br#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "mounts": [{"destination": "data", "type": "tmpfs"}]}"#,
    )
    .unwrap();
    assert_eq!(c.mounts[0].destination, "/data");
}

fn err(json: &str) -> String {
    parse(json.as_bytes()).unwrap_err().to_string()
}

/// A config with `process` and `linux` members replaced: `{P}` and `{L}` in the template.
fn with(process: &str, linux: &str) -> String {
    format!(
        r#"{{"ociVersion": "1.2.0", "root": {{"path": "rootfs"}},
            "process": {{"user": {{"uid": 0, "gid": 0}}, "args": ["sh"], "cwd": "/"{process}}},
            "linux": {{"namespaces": [{{"type": "mount"}}]{linux}}}}}"#
    )
}

#[test]
fn each_must_of_the_spec_is_one_error_naming_the_path() {
    assert!(parse(with("", "").as_bytes()).is_ok());
    for (json, want) in [
        (r#"{"root": {"path": "r"}}"#.to_string(), "missing \"ociVersion\""),
        (r#"{"ociVersion": "2.0.0", "root": {"path": "r"}}"#.into(), "ociVersion: unsupported version \"2.0.0\" (1.0.x to 1.3.x)"),
        (r#"{"ociVersion": "1.10.0", "root": {"path": "r"}}"#.into(), "ociVersion: unsupported version \"1.10.0\" (1.0.x to 1.3.x)"),
        (r#"{"ociVersion": "1.0.0"}"#.into(), "missing \"root\""),
        (r#"{"ociVersion": "1.0.0", "root": {"path": ""}}"#.into(), "root.path: must not be empty"),
        (r#"{"ociVersion": "1.0.0", "root": {"path": 5}}"#.into(), "root.path: expected a string, found a number"),
        (r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "mounts": [{"type": "tmpfs"}]}"#.into(), "mounts[0]: missing \"destination\""),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "hooks": {"prestart": [{"path": "hook"}]}}"#.into(),
            "hooks.prestart[0].path: must be an absolute path: \"hook\"",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "hooks": {"poststop": [{"path": "/h", "timeout": 0}]}}"#.into(),
            "hooks.poststop[0].timeout: must be greater than zero: 0",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"user": {"uid": 0, "gid": 0}, "args": [], "cwd": "/"}}"#.into(),
            "process.args: must not be empty",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "tmp"}}"#.into(),
            "process.cwd: must be an absolute path: \"tmp\"",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["sh"], "cwd": "/"}}"#.into(),
            "process: missing \"user\"",
        ),
        (with(r#", "env": ["PATH"]"#, ""), "process.env[0]: expected NAME=VALUE: \"PATH\""),
        (with(r#", "oomScoreAdj": 1001"#, ""), "process.oomScoreAdj: must be between -1000 and 1000: 1001"),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"user": {"uid": -1, "gid": 0}, "args": ["sh"], "cwd": "/"}}"#.into(),
            "process.user.uid: not a non-negative integer: -1",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"user": {"uid": 4294967296, "gid": 0}, "args": ["sh"], "cwd": "/"}}"#.into(),
            "process.user.uid: out of range: 4294967296",
        ),
        (with(r#", "rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]"#, ""), "process.rlimits[0].type: unknown resource \"RLIMIT_BOGUS\""),
        (with(r#", "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 2, "hard": 1}]"#, ""), "process.rlimits[0]: soft limit 2 above hard limit 1"),
        (
            with(r#", "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}, {"type": "RLIMIT_NOFILE", "soft": 2, "hard": 2}]"#, ""),
            "process.rlimits[2].type: \"RLIMIT_NOFILE\" given twice",
        ),
        (with(r#", "capabilities": {"bounding": ["KILL"]}"#, ""), "process.capabilities.bounding[0]: not a capability name: \"KILL\""),
        (with(r#", "consoleSize": {"height": 25}"#, ""), "process.consoleSize: missing \"width\""),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "linux": {"namespaces": [{"type": "pid"}, {"type": "pid"}]}}"#.into(),
            "linux.namespaces[1].type: namespace \"pid\" given twice",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "linux": {"namespaces": [{"type": "foo"}]}}"#.into(),
            "linux.namespaces[0].type: unknown namespace type \"foo\"",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "linux": {"namespaces": [{"type": "net", "path": "x"}]}}"#.into(),
            "linux.namespaces[0].type: unknown namespace type \"net\"",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "linux": {"namespaces": [{"type": "network", "path": "x"}]}}"#.into(),
            "linux.namespaces[0].path: must be an absolute path: \"x\"",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "linux": {"uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}}"#.into(),
            "linux: uidMappings/gidMappings need a new user namespace in linux.namespaces",
        ),
        (
            r#"{"ociVersion": "1.0.0", "root": {"path": "r"}, "linux": {"namespaces": [{"type": "user"}], "uidMappings": [{"containerID": 0, "hostID": 1, "size": 0}]}}"#.into(),
            "linux.uidMappings[0].size: must be greater than zero",
        ),
        (with("", r#", "rootfsPropagation": "shared-ish""#), "linux.rootfsPropagation: unknown propagation \"shared-ish\""),
        (with("", r#", "maskedPaths": ["proc/kcore"]"#), "linux.maskedPaths[0]: must be an absolute path: \"proc/kcore\""),
        (with("", r#", "devices": [{"path": "/dev/x", "type": "x", "major": 1, "minor": 1}]"#), "linux.devices[0].type: expected one of ['c', 'b', 'u', 'p']: \"x\""),
        (with("", r#", "devices": [{"path": "/dev/x", "type": "c", "minor": 1}]"#), "linux.devices[0]: missing \"major\""),
        (with("", r#", "resources": {"devices": [{"allow": true, "access": "rwx"}]}"#), "linux.resources.devices[0].access: expected some of \"rwm\": \"rwx\""),
        (with("", r#", "resources": {"memory": {"swappiness": 101}}"#), "linux.resources.memory.swappiness: must be between 0 and 100: 101"),
        (with("", r#", "resources": {"blockIO": {"weight": 5}}"#), "linux.resources.blockIO.weight: must be between 10 and 1000: 5"),
        (with("", r#", "resources": {"pids": {}}"#), "linux.resources.pids: missing \"limit\""),
        (with("", r#", "seccomp": {"defaultAction": "SCMP_ACT_NOTIFY"}"#), "linux.seccomp.defaultAction: unsupported action \"SCMP_ACT_NOTIFY\" (seccomp notify is not supported)"),
        (
            with("", r#", "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#),
            "linux.seccomp.syscalls[0].names: must not be empty",
        ),
        (
            with("", r#", "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#),
            "linux.seccomp.syscalls[0].args[0].index: must be between 0 and 5: 6",
        ),
        (
            with("", r#", "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "EQ"}]}]}"#),
            "linux.seccomp.syscalls[0].args[0].op: unknown operator \"EQ\"",
        ),
        (with("", r#", "personality": {"domain": "BSD"}"#), "linux.personality.domain: expected LINUX or LINUX32: \"BSD\""),
        (with("", r#", "timeOffsets": {"realtime": {"secs": 1}}"#), "linux.timeOffsets.realtime: unknown clock (expected monotonic or boottime)"),
        (with("", r#", "timeOffsets": {"monotonic": {"secs": "1"}}"#), "linux.timeOffsets.monotonic.secs: expected an integer, found a string"),
        (with("", r#", "timeOffsets": {"boottime": {"secs": 1.5}}"#), "linux.timeOffsets.boottime.secs: not a 64-bit integer: 1.5"),
        (with("", r#", "timeOffsets": {"boottime": {"nanosecs": -1}}"#), "linux.timeOffsets.boottime.nanosecs: not a non-negative integer: -1"),
        (
            with("", r#", "timeOffsets": {"boottime": {"nanosecs": 1000000000}}"#),
            "linux.timeOffsets.boottime.nanosecs: must be below 1000000000: 1000000000",
        ),
        (with("", r#", "timeOffsets": {"monotonic": 5}"#), "linux.timeOffsets.monotonic: expected an object, found a number"),
        (with("", r#", "timeOffsets": []"#), "linux.timeOffsets: expected an object, found an array"),
        ("{".into(), "line 1 column 2 (byte 1): expected a string key (end of input)"),
    ] {
        assert_eq!(err(&json), want, "{json}");
    }
}
