//! Root-only tests of the OCI runtime's cgroups on this host's real hierarchies (hybrid here:
//! nine v1 hierarchies, cgroup2 with hugetlb only; on a pure v2 host the same code takes the
//! v2 branch). A throw-away absolute `cgroupsPath` named after the test process, a process
//! born in it the way PID 1 is (the launcher joins the v1 directories for the clone, v2 by
//! `CLONE_INTO_CGROUP`) and one attached after its start; resources read back, freeze and thaw,
//! pids, kill --all, removal; the host's hierarchies as before.
#![allow(unsafe_code)]

use super::tests_host::{listing, require_root, SERIAL};
use super::*;
use crate::runtime_spec::{BlockIo, Cpu, DeviceRule, HugepageLimit, Memory, Resources};
use rustix::process::Signal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn base() -> String {
    format!("sbtest{}-oci", std::process::id())
}

/// Removes what a failed test left: every hierarchy's `/<base>` tree (processes killed).
struct Leftovers(Vec<PathBuf>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for d in &self.0 {
            if d.exists() {
                let live = Live { v2: None, v1: vec![V1Entry { name: "x".into(), path: d.clone() }], made: Vec::new() };
                let _ = live.remove_v1();
            }
        }
    }
}

fn leftovers(facts: &OciFacts) -> Leftovers {
    let mut dirs: Vec<PathBuf> = facts.v1.iter().map(|m| m.path.join(base())).collect();
    if let Some(h) = &facts.v2 {
        dirs.push(h.root.join(base()));
    }
    Leftovers(dirs)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())).trim().to_string()
}

/// Forks a child (one thread) that joins the v1 directories, clones a process into the v2
/// cgroup as the launcher clones PID 1, leaves and exits; returns the clone's pid (it waits in
/// pause()).
fn born_inside(v2: &Cgroup, v1: Option<&V1Group>) -> i32 {
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only makes syscalls (and glibc's malloc, fork-safe) and _exits.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork");
    if child == 0 {
        let code = match v1.map(V1Group::join).transpose() {
            Ok(j) => match crate::sys::clone_process(0, Some(v2.dir_fd())) {
                Ok(crate::sys::Forked::Child) => loop {
                    unsafe { libc::pause() };
                },
                Ok(crate::sys::Forked::Parent { pid }) => {
                    let ok = j.map_or(Ok(()), Joined::leave).is_ok();
                    let b = pid.to_ne_bytes();
                    unsafe { libc::write(fds[1], b.as_ptr().cast(), b.len()) };
                    if ok {
                        0
                    } else {
                        3
                    }
                }
                Err(_) => 2,
            },
            Err(_) => 1,
        };
        unsafe { libc::_exit(code) };
    }
    unsafe { libc::close(fds[1]) };
    let mut b = [0u8; 4];
    let n = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 4) };
    unsafe { libc::close(fds[0]) };
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "joining child: status {status:#x}");
    assert_eq!(n, 4, "no pid from the joining child");
    i32::from_ne_bytes(b)
}

/// `/proc/PID/cgroup` as (hierarchy, path) pairs.
fn cgroups_of(pid: i32) -> Vec<(String, String)> {
    parse_proc_cgroup(&std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("/proc/PID/cgroup"))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// No directory of this test process in any hierarchy (other sessions share this host and
/// make and remove cgroups of their own meanwhile: only ours are compared).
fn assert_nothing_left() {
    let ours: Vec<String> = listing().into_iter().filter(|p| p.contains(&base())).collect();
    assert!(ours.is_empty(), "left behind: {ours:?}");
}

/// Disables in the root what was not enabled before the test.
fn restore_root_control(h: &Hierarchy, before: &str) {
    let file = h.root.join("cgroup.subtree_control");
    let now = std::fs::read_to_string(&file).expect("root control");
    let off: Vec<String> = now
        .split_whitespace()
        .filter(|c| !before.split_whitespace().any(|b| b == *c))
        .map(|c| format!("-{c}"))
        .collect();
    if !off.is_empty() {
        std::fs::write(&file, off.join(" ")).expect("restore root control");
    }
}

#[test]
fn host_oci_lifecycle_on_this_hierarchy() {
    require_root();
    let _g = SERIAL.lock();
    let facts = OciFacts::read().expect("facts");
    let h = facts.v2.clone().expect("cgroup2");
    let _left = leftovers(&facts);
    let root_control = std::fs::read_to_string(h.root.join("cgroup.subtree_control")).expect("root control");

    let mut res = Resources {
        devices: vec![
            DeviceRule { allow: false, kind: None, major: None, minor: None, access: Some("rwm".into()) },
            DeviceRule { allow: true, kind: Some('c'), major: Some(1), minor: Some(3), access: Some("rwm".into()) },
        ],
        memory: Some(Memory { limit: Some(64 << 20), swap: Some(96 << 20), ..Memory::default() }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            cpus: Some("0".into()),
            ..Cpu::default()
        }),
        pids_limit: Some(16),
        ..Resources::default()
    };
    if h.has_controller("hugetlb") && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        res.hugepage_limits = vec![HugepageLimit { page_size: "2MB".into(), limit: 4 << 20 }];
    }
    let path = format!("/{}/c1", base());
    let req = OciRequest { id: "c1", cgroups_path: Some(&path), resources: &res, devices: &[] };
    let plan = plan_oci(&facts, &req).expect("plan");
    let t0 = Instant::now();
    let v2 = Cgroup::create(plan.v2.as_ref().expect("v2 plan")).expect("v2");
    let v1 = V1Group::create(&plan, &facts.v1, &facts.own).expect("v1");
    let created = t0.elapsed();
    assert_eq!(v2.path(), h.root.join(&path[1..]));
    let leaf = |m: &str| PathBuf::from(format!("/sys/fs/cgroup/{m}{path}"));
    match &v1 {
        Some(v1) => {
            // Hybrid: every v1 hierarchy runc joins, and the resources there.
            let names: Vec<&str> = v1.entries().iter().map(|e| e.name.as_str()).collect();
            assert_eq!(
                names,
                ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"]
            );
            for e in v1.entries() {
                assert!(e.path.is_dir(), "{}", e.path.display());
            }
            assert_eq!(v1.made().len(), 9, "{:?}", v1.made());
            assert_eq!(read(&leaf("memory").join("memory.limit_in_bytes")), "67108864");
            if leaf("memory").join("memory.memsw.limit_in_bytes").exists() {
                assert_eq!(read(&leaf("memory").join("memory.memsw.limit_in_bytes")), "100663296");
            }
            assert_eq!(read(&leaf("cpu").join("cpu.shares")), "512");
            assert_eq!(read(&leaf("cpu").join("cpu.cfs_quota_us")), "50000");
            assert_eq!(read(&leaf("cpu").join("cpu.cfs_period_us")), "100000");
            assert_eq!(read(&leaf("cpuset").join("cpuset.cpus")), "0");
            // The parent made here inherited the root's set.
            let parent_cpus = read(&PathBuf::from(format!("/sys/fs/cgroup/cpuset/{}", base())).join("cpuset.cpus"));
            assert_eq!(parent_cpus, read(Path::new("/sys/fs/cgroup/cpuset/cpuset.cpus")));
            assert!(!read(&leaf("cpuset").join("cpuset.mems")).is_empty());
            assert_eq!(read(&leaf("pids").join("pids.max")), "16");
            let devices = read(&leaf("devices").join("devices.list"));
            for line in ["c 1:3 rwm", "c *:* m", "b *:* m", "c 136:* rwm", "c 5:2 rwm"] {
                assert!(devices.lines().any(|l| l == line), "{line} not in devices.list: {devices}");
            }
            assert!(!devices.lines().any(|l| l == "a *:* rwm"), "{devices}");
        }
        None => {
            // Pure v2: the same resources in v2's files, runc's conversions.
            assert!(facts.v1.is_empty());
            let f = |name: &str| read(&v2.path().join(name));
            assert_eq!(f("memory.max"), "67108864");
            if v2.path().join("memory.swap.max").exists() {
                assert_eq!(f("memory.swap.max"), "33554432");
            }
            assert_eq!(f("cpu.weight"), "20");
            assert_eq!(f("cpu.max"), "50000 100000");
            assert_eq!(f("cpuset.cpus"), "0");
            assert_eq!(f("pids.max"), "16");
        }
    }
    if !res.hugepage_limits.is_empty() {
        assert_eq!(read(&v2.path().join("hugetlb.2MB.max")), "4194304");
    }

    // PID 1's way in: born in every v1 directory and the v2 cgroup.
    let pid1 = born_inside(&v2, v1.as_ref());
    let mut own: Vec<(String, String)> = cgroups_of(pid1);
    own.sort();
    for (name, p) in &own {
        if name == "name=openrc" {
            continue;
        }
        assert_eq!(p, &path, "{name} of the clone");
    }
    // The forking child left again: this process never moved, and neither did its parent's.
    for (name, p) in cgroups_of(std::process::id() as i32) {
        assert_ne!(p, path, "{name}");
    }
    // A process attached after its start (runc's exec joins the same way).
    let mut sleeper = Command::new("/bin/sleep").arg("60").stdin(Stdio::null()).spawn().expect("sleep");
    let spid = sleeper.id() as i32;
    v2.attach(spid).expect("attach v2");
    if let Some(v1) = &v1 {
        v1.attach(spid).expect("attach v1");
    }
    assert!(cgroups_of(spid).iter().all(|(n, p)| n == "name=openrc" || p == &path), "{:?}", cgroups_of(spid));

    let live = Live {
        v2: Some(v2.path().to_path_buf()),
        v1: v1.as_ref().map(|g| g.entries().to_vec()).unwrap_or_default(),
        made: v1.as_ref().map(|g| g.made().to_vec()).unwrap_or_default(),
    };
    // A third through the later process's view (exec).
    let mut execd = Command::new("/bin/sleep").arg("60").stdin(Stdio::null()).spawn().expect("sleep");
    let epid = execd.id() as i32;
    live.attach(epid).expect("attach through Live");
    assert!(cgroups_of(epid).iter().all(|(n, p)| n == "name=openrc" || p == &path), "{:?}", cgroups_of(epid));
    let mut all = vec![pid1, spid, epid];
    all.sort_unstable();
    assert_eq!(live.pids().expect("pids"), all);

    // Freeze and thaw (the v1 freezer on this host).
    assert!(!live.paused().expect("paused"));
    live.pause().expect("pause");
    assert!(live.paused().expect("paused"));
    if v1.is_some() {
        assert_eq!(read(&leaf("freezer").join("freezer.state")), "FROZEN");
    } else {
        assert!(read(&v2.path().join("cgroup.events")).lines().any(|l| l == "frozen 1"));
    }
    let state = |pid: i32| -> String {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        s.rsplit(") ").next().and_then(|r| r.split(' ').next()).unwrap_or("").to_string()
    };
    // A frozen task sleeps in the refrigerator: D (v1 freezer) or S.
    assert!(matches!(state(spid).as_str(), "D" | "S"), "{}", state(spid));
    live.resume().expect("resume");
    assert!(!live.paused().expect("paused"));
    if v1.is_some() {
        assert_eq!(read(&leaf("freezer").join("freezer.state")), "THAWED");
    } else {
        assert!(read(&v2.path().join("cgroup.events")).lines().any(|l| l == "frozen 0"));
    }

    // kill --all with a signal that is not SIGKILL: freeze, signal each, thaw.
    live.kill_all(Signal::TERM).expect("kill --all");
    for child in [&mut sleeper, &mut execd] {
        let st = child.wait().expect("reap sleeper");
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(libc::SIGTERM));
    }
    wait_until("the clone ends", || live.pids().map(|p| p.is_empty()).unwrap_or(false));
    assert!(!live.paused().expect("paused"), "kill --all left it frozen");

    // Removal: v2 (with the parent it made), then v1 (leaves, then the made parents).
    let t1 = Instant::now();
    v2.kill_and_remove().expect("remove v2");
    if let Some(v1) = v1 {
        v1.remove().expect("remove v1");
    }
    let removed = t1.elapsed();
    for m in &facts.v1 {
        assert!(!m.path.join(base()).exists(), "{} left", m.path.join(base()).display());
    }
    assert!(!h.root.join(base()).exists());
    // A pure v2 host: every controller of the root was enabled there (runc's fs2); they stay
    // for other containers, but this test gives them back.
    restore_root_control(&h, &root_control);
    assert_nothing_left();
    eprintln!("oci cgroups: created in {created:?}, removed in {removed:?}");
}

#[test]
fn host_oci_errors_leave_nothing() {
    require_root();
    let _g = SERIAL.lock();
    let facts = OciFacts::read().expect("facts");
    let h = facts.v2.clone().expect("cgroup2");
    let _left = leftovers(&facts);
    let root_control = std::fs::read_to_string(h.root.join("cgroup.subtree_control")).expect("root control");
    let path = format!("/{}/bad", base());
    let create = |res: &Resources| -> Result<(), String> {
        let req = OciRequest { id: "bad", cgroups_path: Some(&path), resources: res, devices: &[] };
        let plan = plan_oci(&facts, &req).map_err(|e| e.to_string())?;
        let v2 = Cgroup::create(plan.v2.as_ref().expect("v2")).map_err(|e| e.to_string())?;
        match V1Group::create(&plan, &facts.v1, &facts.own) {
            Ok(g) => {
                let _ = v2.kill_and_remove();
                if let Some(g) = g {
                    let _ = g.remove();
                }
                Ok(())
            }
            Err(e) => {
                let _ = v2.kill_and_remove();
                Err(e.to_string())
            }
        }
    };
    // No blkio weight files on this host: named, with the file and the errno.
    let blk = Resources { block_io: Some(BlockIo { weight: Some(500), ..BlockIo::default() }), ..Resources::default() };
    let hybrid_blkio = facts.v1.iter().any(|m| m.has("blkio"));
    if hybrid_blkio && !Path::new("/sys/fs/cgroup/blkio").join("blkio.weight").exists() {
        let e = create(&blk).expect_err("no weight files");
        assert_eq!(
            e,
            format!(
                "linux.resources.blockIO.weight: write /sys/fs/cgroup/blkio{path}/blkio.weight: no such file or \
                 directory\nhint: neither blkio.bfq.weight nor blkio.weight exists: this host's I/O scheduler offers \
                 no weights"
            )
        );
    }
    // A CPU the host does not have: the kernel's refusal, named.
    let cpus = Resources { cpu: Some(Cpu { cpus: Some("64".into()), ..Cpu::default() }), ..Resources::default() };
    let e = create(&cpus).expect_err("cpu 64");
    let dir = match facts.v1.iter().any(|m| m.has("cpuset")) {
        true => format!("/sys/fs/cgroup/cpuset{path}"),
        false => format!("{}{path}", h.root.display()),
    };
    assert!(e.starts_with(&format!("linux.resources.cpu.cpus: write {dir}/cpuset.cpus: ")), "{e}");
    // Refused before anything exists.
    let net = Resources { network: true, ..Resources::default() };
    assert!(create(&net).expect_err("network").starts_with("linux.resources.network: "));
    let e = {
        let res = Resources::default();
        let req = OciRequest { id: "bad", cgroups_path: Some("system.slice:docker:x"), resources: &res, devices: &[] };
        plan_oci(&facts, &req).expect_err("systemd").to_string()
    };
    assert_eq!(
        e,
        "linux.cgroupsPath: systemd cgroup paths need --systemd-cgroup, which spawnbox-runc does not support"
    );
    for m in &facts.v1 {
        assert!(!m.path.join(base()).exists(), "{} left", m.path.join(base()).display());
    }
    assert!(!h.root.join(base()).exists());
    restore_root_control(&h, &root_control);
    assert_nothing_left();
}
