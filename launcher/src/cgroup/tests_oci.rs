//! Unit tests of the OCI runtime's cgroups (no root): `cgroupsPath` in every form on a hybrid
//! and a pure v2 host, every resource as v1 and v2 writes (exact files and values), the errors,
//! and the v1 directories made and removed on a temp dir.

use super::fake::FakeKernel;
use super::*;
use crate::runtime_spec::{
    BlockIo, Cpu, DeviceRule, HugepageLimit, LinuxDevice, Memory, Resources, ThrottleDevice, WeightDevice,
};
use std::path::{Path, PathBuf};

const HYBRID_MOUNTINFO: &str = "\
25 20 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:24 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
28 25 0:25 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
29 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
30 25 0:27 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
31 25 0:28 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
32 25 0:29 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
33 25 0:30 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
34 25 0:31 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
35 25 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
36 25 0:33 / /sys/fs/cgroup/openrc rw,relatime - cgroup openrc rw,name=openrc
37 25 0:25 / /mnt/cpuset-again rw,relatime - cgroup cgroup rw,cpuset
";

const HYBRID_OWN: &str = "\
9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/c136
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
";

fn hybrid() -> OciFacts {
    OciFacts {
        v2: Some(Hierarchy {
            root: "/sys/fs/cgroup/unified".into(),
            hybrid: true,
            controllers: vec!["hugetlb".into()],
        }),
        v1: find_v1_mounts(HYBRID_MOUNTINFO),
        own: parse_proc_cgroup(HYBRID_OWN),
    }
}

fn pure_v2(own: &str) -> OciFacts {
    OciFacts {
        v2: Some(Hierarchy {
            root: "/sys/fs/cgroup".into(),
            hybrid: false,
            controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"].map(String::from).to_vec(),
        }),
        v1: Vec::new(),
        own: parse_proc_cgroup(&format!("0::{own}\n")),
    }
}

fn req<'a>(path: Option<&'a str>, res: &'a Resources) -> OciRequest<'a> {
    OciRequest { id: "c1", cgroups_path: path, resources: res, devices: &[] }
}

fn leaves(p: &OciPlan) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = p.v1.iter().map(|d| (d.name.clone(), d.path.display().to_string())).collect();
    if let Some(v2) = &p.v2 {
        out.push(("".into(), v2.cgroup.display().to_string()));
    }
    out
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn v1_mounts_of_runc() {
    let m = find_v1_mounts(HYBRID_MOUNTINFO);
    let names: Vec<String> = m.iter().map(V1Mount::name).collect();
    // name=openrc is not runc's; the second cpuset mount is the same hierarchy.
    assert_eq!(names, ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"]);
    let co = "30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
    let m = find_v1_mounts(co);
    assert_eq!(m[0].name(), "cpu,cpuacct");
    assert!(m[0].has("cpuacct") && m[0].has("cpu"));
    assert_eq!(m[0].path, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
}

#[test]
fn path_forms() {
    let abs = |p: &str| Inner::Absolute(p.into());
    let rel = |p: &str| Inner::Relative(p.into());
    assert_eq!(inner_path(Some("/libpod_parent/libpod-abc"), "c1").ok(), Some(abs("libpod_parent/libpod-abc")));
    assert_eq!(inner_path(Some("/default/c1"), "c1").ok(), Some(abs("default/c1")));
    assert_eq!(inner_path(Some("/docker/abc"), "c1").ok(), Some(abs("docker/abc")));
    assert_eq!(inner_path(Some("//a/./b/../c/"), "c1").ok(), Some(abs("a/c")));
    assert_eq!(inner_path(Some("/../../x"), "c1").ok(), Some(abs("x")));
    assert_eq!(inner_path(Some("a/b"), "c1").ok(), Some(rel("a/b")));
    assert_eq!(inner_path(Some("../../a"), "c1").ok(), Some(rel("a")));
    assert_eq!(inner_path(None, "c1").ok(), Some(rel("c1")));
    assert_eq!(inner_path(Some(""), "c1").ok(), Some(rel("c1")));
    let err = |p: &str| inner_path(Some(p), "c1").expect_err(p).to_string();
    let systemd = "linux.cgroupsPath: systemd cgroup paths need --systemd-cgroup, which spawnbox-runc does not support";
    assert_eq!(err("system.slice:docker:abc"), systemd);
    assert_eq!(err("machine.slice:libpod:abc"), systemd);
    assert_eq!(err(":runc:c1"), systemd);
    assert_eq!(err("/"), "linux.cgroupsPath: \"/\" is the root cgroup: a container needs a cgroup of its own");
    assert_eq!(err("/a/.."), "linux.cgroupsPath: \"/a/..\" is the root cgroup: a container needs a cgroup of its own");
    assert_eq!(
        err(".."),
        "linux.cgroupsPath: \"..\" is the caller's own cgroup: a container needs a cgroup of its own"
    );
}

#[test]
fn hybrid_placement_every_form() {
    let res = Resources::default();
    let p = plan_oci(&hybrid(), &req(Some("/libpod_parent/libpod-abc"), &res)).expect("plan");
    let want = |tail: &str, memory: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> =
            ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"]
                .iter()
                .map(|c| {
                    let base = if *c == "memory" { memory } else { "" };
                    pair(c, &format!("/sys/fs/cgroup/{c}{base}/{tail}"))
                })
                .collect();
        v.push(pair("name=systemd", &format!("/sys/fs/cgroup/systemd/{tail}")));
        v.push(pair("", &format!("/sys/fs/cgroup/unified/{tail}")));
        v
    };
    assert_eq!(leaves(&p), want("libpod_parent/libpod-abc", ""));
    // Absolute: nothing above the hierarchy root, every missing level made.
    let mem = &p.v1[3];
    assert_eq!(
        mem.mkdir,
        ["/sys/fs/cgroup/memory/libpod_parent", "/sys/fs/cgroup/memory/libpod_parent/libpod-abc"]
            .map(PathBuf::from)
            .to_vec()
    );
    let v2 = p.v2.as_ref().expect("v2");
    assert_eq!(v2.boundary, PathBuf::from("/sys/fs/cgroup/unified"));
    assert!(v2.reuse && v2.enable.is_empty() && v2.controllers.is_empty() && v2.writes.is_empty());

    for (path, tail) in [("/default/c1", "default/c1"), ("/docker/abc", "docker/abc")] {
        let p = plan_oci(&hybrid(), &req(Some(path), &res)).expect("plan");
        assert_eq!(leaves(&p), want(tail, ""));
    }
    // Relative and empty: below the caller's cgroup of each hierarchy (memory's is not /).
    let p = plan_oci(&hybrid(), &req(Some("x/y"), &res)).expect("plan");
    assert_eq!(leaves(&p), want("x/y", "/process_api/c136"));
    assert_eq!(
        p.v1[3].mkdir,
        ["/sys/fs/cgroup/memory/process_api/c136/x", "/sys/fs/cgroup/memory/process_api/c136/x/y"]
            .map(PathBuf::from)
            .to_vec()
    );
    let p = plan_oci(&hybrid(), &req(None, &res)).expect("plan");
    assert_eq!(leaves(&p), want("c1", "/process_api/c136"));
}

#[test]
fn hybrid_cpuset_inherits_every_level() {
    let res = Resources { cpu: Some(Cpu { cpus: Some("0".into()), ..Cpu::default() }), ..Resources::default() };
    let p = plan_oci(&hybrid(), &req(Some("/a/b"), &res)).expect("plan");
    let w: Vec<(String, String)> = p
        .v1_writes
        .iter()
        .map(|w| {
            let v = match &w.value {
                Value::Set(v) => v.clone(),
                Value::Inherit => "<parent>".into(),
            };
            (w.file.display().to_string(), v)
        })
        .collect();
    assert_eq!(
        w,
        vec![
            pair("/sys/fs/cgroup/cpuset/a/cpuset.cpus", "<parent>"),
            pair("/sys/fs/cgroup/cpuset/a/cpuset.mems", "<parent>"),
            pair("/sys/fs/cgroup/cpuset/a/b/cpuset.mems", "<parent>"),
            pair("/sys/fs/cgroup/cpuset/a/b/cpuset.cpus", "0"),
        ]
    );
    assert_eq!(p.v1_writes[3].origin, "linux.resources.cpu.cpus");
}

#[test]
fn pure_v2_placement() {
    let res = Resources::default();
    // Relative and empty: beside the caller's cgroup (its parent holds no process).
    let p = plan_oci(&pure_v2("/user.slice/session-1.scope"), &req(None, &res)).expect("plan");
    assert!(p.v1.is_empty() && p.v1_writes.is_empty());
    let v2 = p.v2.expect("v2");
    assert_eq!(v2.cgroup, PathBuf::from("/sys/fs/cgroup/user.slice/c1"));
    assert_eq!(v2.boundary, PathBuf::from("/sys/fs/cgroup/user.slice"));
    assert_eq!(v2.mkdir, vec![PathBuf::from("/sys/fs/cgroup/user.slice/c1")]);
    let p = plan_oci(&pure_v2("/"), &req(Some("k/c1"), &res)).expect("plan");
    assert_eq!(p.v2.as_ref().map(|v| v.cgroup.clone()), Some(PathBuf::from("/sys/fs/cgroup/k/c1")));
    // Absolute: every controller of the root enabled down to the parent (runc's fs2), none required.
    let p = plan_oci(&pure_v2("/x"), &req(Some("/default/c1"), &res)).expect("plan");
    let v2 = p.v2.expect("v2");
    assert_eq!(v2.cgroup, PathBuf::from("/sys/fs/cgroup/default/c1"));
    assert_eq!(v2.mkdir, ["/sys/fs/cgroup/default", "/sys/fs/cgroup/default/c1"].map(PathBuf::from).to_vec());
    assert_eq!(v2.enable, ["/sys/fs/cgroup", "/sys/fs/cgroup/default"].map(PathBuf::from).to_vec());
    assert_eq!(v2.controllers, ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"]);
    assert!(v2.required.is_empty());
}

/// Every resource kind at once.
fn full() -> Resources {
    let t = |major, minor, rate| ThrottleDevice { major, minor, rate };
    Resources {
        devices: vec![
            DeviceRule { allow: false, kind: None, major: None, minor: None, access: Some("rwm".into()) },
            DeviceRule { allow: true, kind: Some('c'), major: Some(1), minor: Some(3), access: Some("rw".into()) },
            DeviceRule { allow: true, kind: Some('b'), major: Some(8), minor: None, access: Some("r".into()) },
        ],
        memory: Some(Memory {
            limit: Some(64 << 20),
            reservation: Some(32 << 20),
            swap: Some(96 << 20),
            kernel_tcp: Some(1 << 20),
            swappiness: Some(10),
            disable_oom_killer: true,
            ..Memory::default()
        }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            burst: Some(1000),
            cpus: Some("0-1".into()),
            mems: Some("0".into()),
            idle: Some(0),
            ..Cpu::default()
        }),
        pids_limit: Some(32),
        block_io: Some(BlockIo {
            weight: Some(500),
            weight_device: vec![WeightDevice { major: 8, minor: 0, weight: Some(300), leaf_weight: None }],
            throttle_read_bps: vec![t(8, 0, 1_048_576)],
            throttle_write_bps: vec![t(8, 0, 2_097_152)],
            throttle_read_iops: vec![t(8, 16, 100)],
            throttle_write_iops: vec![t(8, 16, 200)],
            ..BlockIo::default()
        }),
        hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 8 << 20 }],
        network: false,
        unified: Vec::new(),
    }
}

fn golden(res: &Resources, at: &Controllers) -> Vec<(String, String, String, String)> {
    plan_resources(res, &[], at)
        .expect("plan")
        .into_iter()
        .map(|w| {
            let v = match w.value {
                Value::Set(v) => v,
                Value::Inherit => "<parent>".into(),
            };
            let version = match w.version {
                Version::V1 => "v1",
                Version::V2 => "v2",
            };
            (version.to_string(), w.file, v, w.origin)
        })
        .collect()
}

fn hybrid_controllers() -> Controllers {
    Controllers {
        v1: ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"].map(String::from).to_vec(),
        v2: Some(vec!["hugetlb".into()]),
        v2_name: "/sys/fs/cgroup/unified (hybrid hierarchy)".into(),
    }
}

fn v2_controllers() -> Controllers {
    Controllers {
        v1: Vec::new(),
        v2: Some(["cpuset", "cpu", "io", "memory", "hugetlb", "pids"].map(String::from).to_vec()),
        v2_name: "/sys/fs/cgroup".into(),
    }
}

fn row(v: &str, f: &str, val: &str, o: &str) -> (String, String, String, String) {
    (v.into(), f.into(), val.into(), o.into())
}

#[test]
fn golden_v1_writes() {
    let mut want = vec![
        row("v1", "cpuset.cpus", "0-1", "linux.resources.cpu.cpus"),
        row("v1", "cpuset.mems", "0", "linux.resources.cpu.mems"),
        row("v1", "devices.deny", "a", "linux.resources.devices[0]"),
        row("v1", "devices.allow", "c 1:3 rw", "linux.resources.devices[1]"),
        row("v1", "devices.allow", "b 8:* r", "linux.resources.devices[2]"),
    ];
    for line in [
        "c *:* m",
        "b *:* m",
        "c 1:3 rwm",
        "c 1:8 rwm",
        "c 1:7 rwm",
        "c 5:0 rwm",
        "c 1:5 rwm",
        "c 1:9 rwm",
        "c 136:* rwm",
        "c 5:2 rwm",
    ] {
        want.push(row("v1", "devices.allow", line, "runc's default devices"));
    }
    want.extend([
        row("v1", "memory.limit_in_bytes", "67108864", "linux.resources.memory.limit"),
        row("v1", "memory.memsw.limit_in_bytes", "100663296", "linux.resources.memory.swap"),
        row("v1", "memory.soft_limit_in_bytes", "33554432", "linux.resources.memory.reservation"),
        row("v1", "memory.kmem.tcp.limit_in_bytes", "1048576", "linux.resources.memory.kernelTCP"),
        row("v1", "memory.oom_control", "1", "linux.resources.memory.disableOOMKiller"),
        row("v1", "memory.swappiness", "10", "linux.resources.memory.swappiness"),
        row("v1", "cpu.shares", "512", "linux.resources.cpu.shares"),
        row("v1", "cpu.cfs_period_us", "100000", "linux.resources.cpu.period"),
        row("v1", "cpu.cfs_quota_us", "50000", "linux.resources.cpu.quota"),
        row("v1", "cpu.cfs_burst_us", "1000", "linux.resources.cpu.burst"),
        row("v1", "cpu.idle", "0", "linux.resources.cpu.idle"),
        row("v1", "pids.max", "32", "linux.resources.pids.limit"),
        row("v1", "blkio.bfq.weight", "500", "linux.resources.blockIO.weight"),
        row("v1", "blkio.bfq.weight_device", "8:0 300", "linux.resources.blockIO.weightDevice[0].weight"),
        row("v1", "blkio.throttle.read_bps_device", "8:0 1048576", "linux.resources.blockIO.throttleReadBpsDevice[0]"),
        row(
            "v1",
            "blkio.throttle.write_bps_device",
            "8:0 2097152",
            "linux.resources.blockIO.throttleWriteBpsDevice[0]",
        ),
        row("v1", "blkio.throttle.read_iops_device", "8:16 100", "linux.resources.blockIO.throttleReadIOPSDevice[0]"),
        row("v1", "blkio.throttle.write_iops_device", "8:16 200", "linux.resources.blockIO.throttleWriteIOPSDevice[0]"),
        // No v1 hugetlb on this kind of host: v2 offers it.
        row("v2", "hugetlb.2MB.max", "8388608", "linux.resources.hugepageLimits[0]"),
    ]);
    assert_eq!(golden(&full(), &hybrid_controllers()), want);
    // The bfq weight files fall back to the plain ones.
    let w = plan_resources(&full(), &[], &hybrid_controllers()).expect("plan");
    let weight = w.iter().find(|w| w.file == "blkio.bfq.weight").expect("weight");
    assert_eq!(weight.alt.as_deref(), Some("blkio.weight"));
    // A v1 hugetlb hierarchy is preferred.
    let mut at = hybrid_controllers();
    at.v1.push("hugetlb".into());
    let g = golden(&Resources { hugepage_limits: full().hugepage_limits, ..Resources::default() }, &at);
    assert_eq!(g, vec![row("v1", "hugetlb.2MB.limit_in_bytes", "8388608", "linux.resources.hugepageLimits[0]")]);
}

#[test]
fn golden_v2_writes() {
    assert_eq!(
        golden(&full(), &v2_controllers()),
        vec![
            row("v2", "cpuset.cpus", "0-1", "linux.resources.cpu.cpus"),
            row("v2", "cpuset.mems", "0", "linux.resources.cpu.mems"),
            row("v2", "memory.swap.max", "33554432", "linux.resources.memory.swap"),
            row("v2", "memory.max", "67108864", "linux.resources.memory.limit"),
            row("v2", "memory.low", "33554432", "linux.resources.memory.reservation"),
            row("v2", "cpu.idle", "0", "linux.resources.cpu.idle"),
            row("v2", "cpu.weight", "20", "linux.resources.cpu.shares"),
            row("v2", "cpu.max", "50000 100000", "linux.resources.cpu.quota"),
            row("v2", "cpu.max.burst", "1000", "linux.resources.cpu.burst"),
            row("v2", "pids.max", "32", "linux.resources.pids.limit"),
            row("v2", "io.weight", "4950", "linux.resources.blockIO.weight"),
            row("v2", "io.weight", "8:0 2930", "linux.resources.blockIO.weightDevice[0].weight"),
            row("v2", "io.max", "8:0 rbps=1048576", "linux.resources.blockIO.throttleReadBpsDevice[0]"),
            row("v2", "io.max", "8:0 wbps=2097152", "linux.resources.blockIO.throttleWriteBpsDevice[0]"),
            row("v2", "io.max", "8:16 riops=100", "linux.resources.blockIO.throttleReadIOPSDevice[0]"),
            row("v2", "io.max", "8:16 wiops=200", "linux.resources.blockIO.throttleWriteIOPSDevice[0]"),
            row("v2", "hugetlb.2MB.max", "8388608", "linux.resources.hugepageLimits[0]"),
        ]
    );
}

#[test]
fn v2_values_follow_runc() {
    let at = v2_controllers();
    let mem =
        |limit, swap| Resources { memory: Some(Memory { limit, swap, ..Memory::default() }), ..Resources::default() };
    let files =
        |r: &Resources| -> Vec<(String, String)> { golden(r, &at).into_iter().map(|(_, f, v, _)| (f, v)).collect() };
    assert_eq!(files(&mem(Some(-1), None)), vec![pair("memory.swap.max", "max"), pair("memory.max", "max")]);
    assert_eq!(files(&mem(Some(100), Some(-1))), vec![pair("memory.swap.max", "max"), pair("memory.max", "100")]);
    assert_eq!(files(&mem(Some(100), Some(100))), vec![pair("memory.swap.max", "0"), pair("memory.max", "100")]);
    assert_eq!(files(&mem(Some(100), None)), vec![pair("memory.max", "100")]);
    let cpu = |c: Cpu| Resources { cpu: Some(c), ..Resources::default() };
    assert_eq!(files(&cpu(Cpu { quota: Some(-1), ..Cpu::default() })), vec![pair("cpu.max", "max")]);
    assert_eq!(files(&cpu(Cpu { period: Some(20000), ..Cpu::default() })), vec![pair("cpu.max", "max 20000")]);
    assert_eq!(files(&cpu(Cpu { quota: Some(5000), ..Cpu::default() })), vec![pair("cpu.max", "5000")]);
    // runc 1.1's shares → weight: 2 → 1, 1024 → 39, 262144 → 10000.
    assert_eq!((shares_to_weight(2), shares_to_weight(1024), shares_to_weight(262_144)), (1, 39, 10000));
    assert_eq!((blkio_to_io_weight(10), blkio_to_io_weight(1000)), (1, 10000));
    let pids = |l| Resources { pids_limit: Some(l), ..Resources::default() };
    assert_eq!(files(&pids(-1)), vec![pair("pids.max", "max")]);
    assert_eq!(files(&pids(0)), vec![pair("pids.max", "max")]);
    // unified: as given, last.
    let r = Resources {
        pids_limit: Some(5),
        unified: vec![("pids.max".into(), "7".into()), ("cgroup.max.depth".into(), "3".into())],
        ..Resources::default()
    };
    assert_eq!(files(&r), vec![pair("pids.max", "5"), pair("pids.max", "7"), pair("cgroup.max.depth", "3")]);
}

#[test]
fn resource_errors() {
    let err = |r: Resources, at: &Controllers| plan_resources(&r, &[], at).expect_err("refused").to_string();
    let hy = hybrid_controllers();
    let v2 = v2_controllers();
    let mem =
        |limit, swap| Resources { memory: Some(Memory { limit, swap, ..Memory::default() }), ..Resources::default() };
    assert_eq!(
        err(mem(Some(100), Some(50)), &hy),
        "linux.resources.memory.swap: must be at least memory.limit (100): swap is memory+swap, got 50"
    );
    assert_eq!(
        err(mem(None, Some(50)), &v2),
        "linux.resources.memory.swap: needs memory.limit (swap is the limit of memory+swap)"
    );
    assert_eq!(err(mem(Some(-5), None), &v2), "linux.resources.memory.limit: must be -1 (unlimited) or a size, got -5");
    let cpu = |c: Cpu| Resources { cpu: Some(c), ..Resources::default() };
    assert_eq!(
        err(cpu(Cpu { shares: Some(1), ..Cpu::default() }), &hy),
        "linux.resources.cpu.shares: must be between 2 and 262144, got 1"
    );
    assert_eq!(
        err(cpu(Cpu { realtime_runtime: Some(1000), ..Cpu::default() }), &v2),
        "linux.resources.cpu.realtimeRuntime: cgroup v2 has no real-time CPU limits (cgroup v1 only)"
    );
    assert_eq!(
        err(cpu(Cpu { idle: Some(2), ..Cpu::default() }), &v2),
        "linux.resources.cpu.idle: must be 0 or 1, got 2"
    );
    // No hugetlb anywhere (v2 without it).
    let huge = Resources { hugepage_limits: full().hugepage_limits, ..Resources::default() };
    let mut no_huge = hy.clone();
    no_huge.v2 = Some(Vec::new());
    assert_eq!(
        err(huge.clone(), &no_huge),
        "linux.resources.hugepageLimits[0]: hugetlb controller not available on this host (no v1 hugetlb hierarchy \
         is mounted, and /sys/fs/cgroup/unified (hybrid hierarchy) does not offer it)"
    );
    let legacy = Controllers { v1: hy.v1.clone(), v2: None, v2_name: String::new() };
    assert_eq!(
        err(huge, &legacy),
        "linux.resources.hugepageLimits[0]: hugetlb controller not available on this host (no v1 hugetlb hierarchy \
         is mounted, and there is no cgroup2 hierarchy)"
    );
    let bad_size =
        Resources { hugepage_limits: vec![HugepageLimit { page_size: "2M".into(), limit: 1 }], ..Resources::default() };
    assert_eq!(
        err(bad_size, &v2),
        "linux.resources.hugepageLimits[0].pageSize: expected a size such as 2MB or 1GB: \"2M\""
    );
    let net = Resources { network: true, ..Resources::default() };
    assert_eq!(
        err(net, &hy),
        "linux.resources.network: classID and priorities need the v1 net_cls and net_prio controllers, which this \
         host does not mount"
    );
    let unified = |k: &str| Resources { unified: vec![(k.into(), "1".into())], ..Resources::default() };
    assert_eq!(
        err(unified("memory.max"), &legacy),
        "linux.resources.unified[\"memory.max\"]: needs cgroup v2, and this host has no cgroup2 hierarchy"
    );
    assert_eq!(
        err(unified("memory.max"), &hy),
        "linux.resources.unified[\"memory.max\"]: memory controller not available in /sys/fs/cgroup/unified (hybrid \
         hierarchy)"
    );
    assert_eq!(err(unified("../x.y"), &v2), "linux.resources.unified[\"../x.y\"]: must be a file name");
    assert_eq!(err(unified("nodot"), &v2), "linux.resources.unified[\"nodot\"]: must be CONTROLLER.PARAMETER");
    // A pure v2 host without the io controller.
    let mut no_io = v2.clone();
    no_io.v2 = Some(vec!["memory".into()]);
    let blk = Resources { block_io: Some(BlockIo { weight: Some(100), ..BlockIo::default() }), ..Resources::default() };
    assert_eq!(
        err(blk, &no_io),
        "linux.resources.blockIO: io controller not available on this host (no v1 io hierarchy is mounted, and \
         /sys/fs/cgroup does not offer it)"
    );
}

#[test]
fn v1_device_rules_and_nodes() {
    let rules = vec![DeviceRule { allow: false, kind: Some('a'), major: None, minor: None, access: None }];
    let nodes = vec![
        LinuxDevice {
            path: "/dev/fuse".into(),
            kind: 'c',
            major: 10,
            minor: 229,
            file_mode: None,
            uid: None,
            gid: None,
        },
        LinuxDevice { path: "/dev/p".into(), kind: 'p', major: 0, minor: 0, file_mode: None, uid: None, gid: None },
    ];
    let r = Resources { devices: rules, ..Resources::default() };
    let w = plan_resources(&r, &nodes, &hybrid_controllers()).expect("plan");
    assert_eq!((w[0].file.as_str(), &w[0].value), ("devices.deny", &Value::Set("a".into())));
    assert_eq!(
        (w[1].file.as_str(), &w[1].value, w[1].origin.as_str()),
        ("devices.allow", &Value::Set("c 10:229 rwm".into()), "linux.devices[0]")
    );
    assert_eq!(w.len(), 12);
    // v2: the security layer's BPF program; no writes.
    assert!(plan_resources(&r, &nodes, &v2_controllers()).expect("plan").is_empty());
}

#[test]
fn plan_maps_writes_to_hierarchies() {
    let p = plan_oci(&hybrid(), &req(Some("/default/c1"), &full())).expect("plan");
    let file = |f: &str| p.v1_writes.iter().find(|w| w.file.ends_with(f)).map(|w| w.file.clone());
    assert_eq!(
        file("memory.limit_in_bytes"),
        Some(PathBuf::from("/sys/fs/cgroup/memory/default/c1/memory.limit_in_bytes"))
    );
    assert_eq!(file("pids.max"), Some(PathBuf::from("/sys/fs/cgroup/pids/default/c1/pids.max")));
    assert_eq!(file("cpu.shares"), Some(PathBuf::from("/sys/fs/cgroup/cpu/default/c1/cpu.shares")));
    let w = p.v1_writes.iter().find(|w| w.file.ends_with("blkio.bfq.weight")).expect("weight");
    assert_eq!(w.alt, Some(PathBuf::from("/sys/fs/cgroup/blkio/default/c1/blkio.weight")));
    let v2 = p.v2.expect("v2");
    assert_eq!(v2.required, ["hugetlb"]);
    assert_eq!(v2.controllers, ["hugetlb"]);
    assert_eq!(v2.enable, ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/default"].map(PathBuf::from).to_vec());
    assert_eq!(v2.writes.len(), 1);
    assert_eq!(v2.writes[0].file, PathBuf::from("/sys/fs/cgroup/unified/default/c1/hugetlb.2MB.max"));
    assert_eq!(v2.writes[0].origin, "linux.resources.hugepageLimits[0]");
}

/// A temp dir, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn new(tag: &str) -> TempTree {
        let dir = std::env::temp_dir().join(format!("spawnbox-ocicg-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempTree(dir)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A v1 hierarchy on a temp dir: mkdir fills in the files v1 controllers show (the fake v2
/// kernel's mkdir, plus the v1 files written here).
fn v1_fake(root: &Path) -> (FakeKernel, OciFacts) {
    let kernel = FakeKernel::new(root, &[], true);
    for h in ["cpuset", "memory", "blkio"] {
        std::fs::create_dir_all(root.join(h)).expect("hierarchy");
        for f in ["cgroup.procs", "cpuset.cpus", "cpuset.mems"] {
            std::fs::write(root.join(h).join(f), if f.starts_with("cpuset") { "0-3\n" } else { "" }).expect("file");
        }
    }
    let mountinfo: String = ["cpuset", "memory", "blkio"]
        .iter()
        .enumerate()
        .map(|(i, h)| format!("{} 1 0:{i} / {}/{h} rw - cgroup cgroup rw,{h}\n", 40 + i, root.display()))
        .collect();
    let facts = OciFacts {
        v2: None,
        v1: find_v1_mounts(&mountinfo),
        own: parse_proc_cgroup("3:cpuset:/\n2:memory:/\n1:blkio:/\n"),
    };
    (kernel, facts)
}

#[test]
fn v1_group_made_written_and_removed() {
    let t = TempTree::new("v1");
    let (kernel, facts) = v1_fake(&t.0);
    let res = Resources {
        memory: Some(Memory { limit: Some(1 << 20), ..Memory::default() }),
        block_io: Some(BlockIo { weight: Some(100), ..BlockIo::default() }),
        ..Resources::default()
    };
    let plan = plan_oci(&facts, &OciRequest { id: "c1", cgroups_path: Some("/p/c1"), resources: &res, devices: &[] })
        .expect("plan");
    // The fake's mkdir makes cgroup.procs; memory.limit_in_bytes and cpuset files are the
    // kernel's: made here as the test goes. Without them the write fails and nothing stays.
    let e = V1Group::create_with(&plan, &facts.v1, &facts.own, kernel.boxed()).expect_err("no cpuset files");
    assert_eq!(
        e.to_string(),
        format!("linux.resources.cpu.cpus: read {}/cpuset/p/cpuset.cpus: no such file or directory", t.0.display())
    );
    let dirs = |t: &Path| -> Vec<String> {
        let mut out = Vec::new();
        for h in ["cpuset", "memory", "blkio"] {
            for e in std::fs::read_dir(t.join(h)).expect("dir").flatten() {
                if e.path().is_dir() {
                    out.push(e.path().display().to_string());
                }
            }
        }
        out
    };
    assert!(dirs(&t.0).is_empty(), "{:?}", dirs(&t.0));

    // Pre-made v1 files: the cpuset levels inherit "0-3", the weight falls back, the
    // launcher's home is the hierarchy root.
    for h in ["cpuset", "memory", "blkio"] {
        std::fs::create_dir_all(t.0.join(h).join("p/c1")).expect("mk");
    }
    for d in ["cpuset/p", "cpuset/p/c1"] {
        for f in ["cpuset.cpus", "cpuset.mems", "cgroup.procs"] {
            std::fs::write(t.0.join(d).join(f), "").expect("w");
        }
    }
    std::fs::write(t.0.join("memory/p/c1/memory.limit_in_bytes"), "").expect("w");
    std::fs::write(t.0.join("memory/p/c1/cgroup.procs"), "").expect("w");
    std::fs::write(t.0.join("blkio/p/c1/blkio.weight"), "").expect("w");
    std::fs::write(t.0.join("blkio/p/c1/cgroup.procs"), "").expect("w");
    let g = V1Group::create_with(&plan, &facts.v1, &facts.own, kernel.boxed()).expect("create").expect("v1");
    let read = |f: &str| std::fs::read_to_string(t.0.join(f)).expect("read");
    assert_eq!(read("cpuset/p/cpuset.cpus"), "0-3");
    assert_eq!(read("cpuset/p/c1/cpuset.mems"), "0-3");
    assert_eq!(read("memory/p/c1/memory.limit_in_bytes"), "1048576");
    assert_eq!(read("blkio/p/c1/blkio.weight"), "100");
    assert_eq!(g.entries().iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["cpuset", "memory", "blkio"]);
    // The directories existed: none counts as made by this process; the leaves still go.
    assert!(g.made().is_empty());
    // (The fake kernel keeps a pid in one directory at a time: the last one joined.)
    let joined = g.join().expect("join");
    assert_eq!(read("blkio/p/c1/cgroup.procs"), format!("{}\n", kernel.self_pid()));
    joined.leave().expect("leave");
    assert_eq!(read("blkio/p/c1/cgroup.procs"), "");
    assert_eq!(read("blkio/cgroup.procs"), format!("{}\n", kernel.self_pid()));
    g.remove().expect("remove");
    assert_eq!(dirs(&t.0), ["cpuset/p", "memory/p", "blkio/p"].map(|d| t.0.join(d).display().to_string()).to_vec());
}

#[test]
fn v1_populated_leaf_is_refused() {
    let t = TempTree::new("busy");
    let (kernel, facts) = v1_fake(&t.0);
    std::fs::create_dir_all(t.0.join("memory/c1")).expect("mk");
    std::fs::write(t.0.join("memory/c1/cgroup.procs"), "77\n").expect("w");
    let res = Resources::default();
    let plan = plan_oci(&facts, &OciRequest { id: "c1", cgroups_path: Some("/c1"), resources: &res, devices: &[] })
        .expect("plan");
    let e = V1Group::create_with(&plan, &facts.v1, &facts.own, kernel.boxed()).expect_err("busy");
    assert_eq!(
        e.to_string(),
        format!("linux.cgroupsPath: {}/memory/c1: cgroup exists and is not empty", t.0.display())
    );
    // What this attempt made (the cpuset leaf) is gone again; the busy one stays.
    assert!(!t.0.join("cpuset/c1").exists());
    assert!(t.0.join("memory/c1").exists());
}

/// The fake kernel, with a concurrent container's teardown that removes `parent` (which that
/// container made, empty again) just before this process's first mkdir of `leaf`.
struct PrunedOnce {
    kernel: FakeKernel,
    parent: PathBuf,
    leaf: PathBuf,
    pruned: std::sync::atomic::AtomicBool,
}

impl super::fs::Fs for PrunedOnce {
    fn mkdir(&self, dir: &Path) -> crate::error::Result<()> {
        if dir == self.leaf && !self.pruned.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.kernel.rmdir(&self.parent)?;
        }
        self.kernel.mkdir(dir)?;
        // The files the kernel makes in a new cpuset directory (empty: inherited by the plan).
        if dir.components().any(|c| c.as_os_str() == "cpuset") {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                std::fs::write(dir.join(f), "").expect("cpuset file");
            }
        }
        Ok(())
    }
    fn rmdir(&self, dir: &Path) -> crate::error::Result<()> {
        self.kernel.rmdir(dir)
    }
    fn read(&self, file: &Path) -> crate::error::Result<String> {
        self.kernel.read(file)
    }
    fn write(&self, file: &Path, value: &str) -> crate::error::Result<()> {
        self.kernel.write(file, value)
    }
    fn open_dir(&self, dir: &Path) -> crate::error::Result<std::os::fd::OwnedFd> {
        self.kernel.open_dir(dir)
    }
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> crate::error::Result<()> {
        self.kernel.chown(path, uid, gid)
    }
    fn mark_created(&self, dir: &Path) {
        self.kernel.mark_created(dir)
    }
    fn is_marked(&self, dir: &Path) -> bool {
        self.kernel.is_marked(dir)
    }
    fn kill(&self, pid: i32) -> crate::error::Result<()> {
        self.kernel.kill(pid)
    }
    fn subdirs(&self, dir: &Path) -> crate::error::Result<Vec<PathBuf>> {
        self.kernel.subdirs(dir)
    }
    fn wait_empty(&self, dir: &Path, timeout: std::time::Duration) -> crate::error::Result<()> {
        self.kernel.wait_empty(dir, timeout)
    }
    fn own_cgroup(&self) -> Option<(PathBuf, i32)> {
        self.kernel.own_cgroup()
    }
}

/// `docker run --cgroup-parent=/p` of two containers at once: the first one's teardown removes
/// `/p` (it made it) between the second one's mkdir of `/p` (EEXIST) and of `/p/c2` (ENOENT).
/// The second one makes `/p` again and goes on (seen in CI: `mkdir .../memory/p/c2: no such file
/// or directory`); `/p` is its own now, removed with it.
#[test]
fn v1_parent_removed_by_a_concurrent_teardown_is_made_again() {
    let t = TempTree::new("pruned");
    let (kernel, facts) = v1_fake(&t.0);
    for h in ["cpuset", "memory", "blkio"] {
        std::fs::create_dir_all(t.0.join(h).join("p")).expect("mk");
        std::fs::write(t.0.join(h).join("p/cgroup.procs"), "").expect("w");
    }
    let res = Resources::default();
    let plan = plan_oci(&facts, &OciRequest { id: "c2", cgroups_path: Some("/p/c2"), resources: &res, devices: &[] })
        .expect("plan");
    let fs = PrunedOnce {
        kernel: kernel.clone(),
        parent: t.0.join("memory/p"),
        leaf: t.0.join("memory/p/c2"),
        pruned: false.into(),
    };
    for f in ["cpuset.cpus", "cpuset.mems"] {
        std::fs::write(t.0.join("cpuset/p").join(f), "").expect("w");
    }
    let made = V1Group::create_with(&plan, &facts.v1, &facts.own, Box::new(fs));
    let g = match made {
        Ok(g) => g.expect("v1"),
        Err(e) => panic!("{e}"),
    };
    assert!(t.0.join("memory/p/c2").is_dir());
    assert_eq!(g.made(), [t.0.join("memory/p")]);
    assert_eq!(
        g.entries().iter().map(|e| e.path.clone()).collect::<Vec<_>>(),
        ["cpuset/p/c2", "memory/p/c2", "blkio/p/c2"].map(|d| t.0.join(d))
    );
    g.remove().expect("remove");
    assert!(!t.0.join("memory/p").exists(), "made by this container: removed with it");
    assert!(t.0.join("cpuset/p").is_dir() && !t.0.join("cpuset/p/c2").exists());
}
