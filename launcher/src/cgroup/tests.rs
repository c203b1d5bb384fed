//! Unit tests of creation and teardown (no root): a fake kernel on a temp dir logs every
//! operation; the tests compare the logs and the resulting tree with golden values.

use super::fake::FakeKernel;
use super::fs::Fs;
use super::group::Cgroup;
use super::teardown::cleanup_with;
use super::*;
use crate::error::Result;
use std::path::{Path, PathBuf};

/// A fresh temp dir, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn new(tag: &str) -> TempTree {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("spawnbox-cg-{}-{tag}-{n}", std::process::id()));
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

/// 8 GiB of RAM, 32768 tasks, every device 8:0.
struct FakeHost;
impl Host for FakeHost {
    fn memory_total(&self) -> Result<u64> {
        Ok(8 << 30)
    }
    fn tasks_max(&self) -> Result<u64> {
        Ok(32768)
    }
    fn block_device(&self, _: &Path) -> Result<(u32, u32)> {
        Ok((8, 0))
    }
}

const ALL: &[&str] = &["cpuset", "cpu", "io", "memory", "pids"];

struct Setup {
    tree: TempTree,
    kernel: FakeKernel,
    hierarchy: Hierarchy,
}

fn setup(tag: &str, controllers: &[&str], has_kill: bool) -> Setup {
    let tree = TempTree::new(tag);
    let kernel = FakeKernel::new(&tree.0, controllers, has_kill);
    let hierarchy = Hierarchy::open(&tree.0, false).expect("fake hierarchy");
    Setup { tree, kernel, hierarchy }
}

/// The root of a cgroup namespace (inside podman, docker or another container) holding the
/// launcher and the processes `others`.
fn setup_namespace_root(tag: &str, others: &[i32]) -> Setup {
    let tree = TempTree::new(tag);
    let kernel = FakeKernel::namespace_root(&tree.0, ALL, true);
    kernel.add_process(&tree.0, kernel.self_pid());
    for &pid in others {
        kernel.add_process(&tree.0, pid);
    }
    let hierarchy = Hierarchy::open(&tree.0, false).expect("fake hierarchy");
    Setup { tree, kernel, hierarchy }
}

impl Setup {
    fn root(&self) -> &Path {
        &self.tree.0
    }

    fn plan(&self, machine: &str, placement: Placement, props: &[&str], delegate: Option<(u32, u32)>) -> Plan {
        let props: Vec<Property> = props.iter().map(|p| parse_property(p).expect("property")).collect();
        let req = Request { machine, placement: &placement, properties: &props, delegate };
        plan(&self.hierarchy, &req, &FakeHost).expect("plan")
    }

    fn create(&self, machine: &str, placement: Placement, props: &[&str]) -> Cgroup {
        let p = self.plan(machine, placement, props, None);
        Cgroup::create_with(&p, self.kernel.boxed()).expect("create")
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Every directory below the root, relative, sorted.
    fn dirs(&self) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    out.push(e.path().strip_prefix(base).map(|p| p.display().to_string()).unwrap_or_default());
                    walk(base, &e.path(), out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.root(), self.root(), &mut out);
        out.sort();
        out
    }
}

fn machine(slice: Option<&str>) -> Placement {
    Placement::Machine { slice: slice.map(String::from) }
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn create_default_scope_with_limits_golden() {
    let s = setup("golden", ALL, true);
    let cg = s.create("web-1", machine(None), &["MemoryMax=32M", "TasksMax=4", "CPUQuota=10%"]);
    let scope = "machine.slice/machine-web\\x2d1.scope";
    assert_eq!(cg.path(), s.root().join(scope));
    assert_eq!(
        s.kernel.log(),
        lines(&[
            "mkdir machine.slice",
            "mkdir machine.slice/machine-web\\x2d1.scope",
            "write cgroup.subtree_control +cpu +memory +pids",
            "write machine.slice/cgroup.subtree_control +cpu +memory +pids",
            "write machine.slice/machine-web\\x2d1.scope/memory.max 33554432",
            "write machine.slice/machine-web\\x2d1.scope/cpu.max 10000 100000",
            "write machine.slice/machine-web\\x2d1.scope/pids.max 4",
        ])
    );
    assert_eq!(s.read(&format!("{scope}/memory.max")), "33554432");
    assert_eq!(s.read(&format!("{scope}/cpu.max")), "10000 100000");
    assert_eq!(s.read(&format!("{scope}/pids.max")), "4");
    assert_eq!(s.read("machine.slice/cgroup.subtree_control"), "cpu memory pids");
}

#[test]
fn create_every_property_golden() {
    let s = setup("every", ALL, true);
    let props = [
        "MemoryMin=1M",
        "MemoryLow=10%",
        "MemoryHigh=1G",
        "MemoryMax=2G",
        "MemorySwapMax=0",
        "CPUWeight=200",
        "CPUQuota=150%",
        "CPUQuotaPeriodSec=50ms",
        "AllowedCPUs=0-1",
        "AllowedMemoryNodes=0",
        "IOWeight=300",
        "IOReadBandwidthMax=/dev/sda 10M",
        "IOWriteIOPSMax=/dev/sda 1K",
        "TasksMax=100",
    ];
    let cg = s.create("all", machine(None), &props);
    let scope = cg.path().to_path_buf();
    let written: Vec<String> =
        s.kernel.log().into_iter().filter(|l| l.starts_with("write machine.slice/machine-all")).collect();
    let p = "write machine.slice/machine-all.scope/";
    assert_eq!(
        written,
        vec![
            format!("{p}memory.min 1048576"),
            format!("{p}memory.low 858993459"),
            format!("{p}memory.high 1073741824"),
            format!("{p}memory.max 2147483648"),
            format!("{p}memory.swap.max 0"),
            format!("{p}cpu.weight 200"),
            format!("{p}cpu.idle 0"),
            format!("{p}cpu.max 75000 50000"),
            format!("{p}cpuset.cpus 0-1"),
            format!("{p}cpuset.mems 0"),
            format!("{p}io.weight default 300"),
            format!("{p}io.max 8:0 rbps=10000000 wiops=1000"),
            format!("{p}pids.max 100"),
        ]
    );
    assert_eq!(std::fs::read_to_string(scope.join("io.weight")).ok().as_deref(), Some("default 300"));
    assert_eq!(s.read("cgroup.subtree_control"), "cpuset cpu io memory pids");
}

#[test]
fn no_properties_is_one_mkdir_when_the_slice_exists() {
    let s = setup("fast", ALL, true);
    std::fs::create_dir(s.root().join("machine.slice")).expect("slice");
    std::fs::write(s.root().join("machine.slice/cgroup.procs"), "").expect("procs");
    let cg = s.create("m", machine(None), &[]);
    assert_eq!(s.kernel.log(), lines(&["mkdir machine.slice/machine-m.scope"]));
    s.kernel.clear_log();
    cg.kill_and_remove().expect("remove");
    // Empty: removed without a kill. The slice was not ours: it stays.
    assert_eq!(s.kernel.log(), lines(&["rmdir machine.slice/machine-m.scope"]));
    assert_eq!(s.dirs(), lines(&["machine.slice"]));
}

#[test]
fn teardown_kills_and_removes_what_was_created() {
    let s = setup("teardown", ALL, true);
    let cg = s.create("m", machine(Some("a-b.slice")), &["MemoryMax=1G"]);
    s.kernel.add_process(cg.path(), 100);
    s.kernel.clear_log();
    cg.kill_and_remove().expect("remove");
    assert_eq!(
        s.kernel.log(),
        lines(&[
            "write a.slice/a-b.slice/machine-m.scope/cgroup.kill 1",
            "rmdir a.slice/a-b.slice/machine-m.scope",
            "rmdir a.slice/a-b.slice",
            "rmdir a.slice",
        ])
    );
    assert!(s.dirs().is_empty());
}

#[test]
fn slice_shared_by_two_machines_goes_with_the_last() {
    let s = setup("shared", ALL, true);
    let a = s.create("a", machine(None), &[]);
    let b = s.create("b", machine(None), &[]);
    s.kernel.add_process(b.path(), 200);
    a.kill_and_remove().expect("remove a");
    assert_eq!(s.dirs(), lines(&["machine.slice", "machine.slice/machine-b.scope"]));
    // b did not create machine.slice, but a (another spawnbox) did and marked it.
    b.kill_and_remove().expect("remove b");
    assert!(s.dirs().is_empty());
}

#[test]
fn admin_made_slice_is_never_removed() {
    let s = setup("admin", ALL, true);
    // Made by someone else: through the kernel, but without spawnbox's mark.
    s.kernel.mkdir(&s.root().join("machine.slice")).expect("slice");
    let cg = s.create("m", machine(None), &["TasksMax=5"]);
    cg.kill_and_remove().expect("remove");
    assert_eq!(s.dirs(), lines(&["machine.slice"]));
}

#[test]
fn kill_fallback_freezes_kills_every_pid_and_thaws() {
    let s = setup("fallback", ALL, false);
    let cg = s.create("m", machine(None), &[]);
    s.kernel.add_process(cg.path(), 100);
    s.kernel.add_process(cg.path(), 101);
    std::fs::create_dir(cg.path().join("init.scope")).expect("child cgroup");
    std::fs::write(cg.path().join("init.scope/cgroup.procs"), "102\n").expect("procs");
    s.kernel.clear_log();
    cg.kill_and_remove().expect("remove");
    assert_eq!(
        s.kernel.log(),
        lines(&[
            "write machine.slice/machine-m.scope/cgroup.freeze 1",
            "kill 100",
            "kill 101",
            "kill 102",
            "write machine.slice/machine-m.scope/cgroup.freeze 0",
            "rmdir machine.slice/machine-m.scope/init.scope",
            "rmdir machine.slice/machine-m.scope",
            "rmdir machine.slice",
        ])
    );
    assert!(s.dirs().is_empty());
}

#[test]
fn keep_unit_uses_payload_and_supervisor() {
    let s = setup("keep", ALL, true);
    let own = s.root().join("svc");
    std::fs::create_dir(&own).expect("own");
    std::fs::write(own.join("cgroup.procs"), format!("{}\n", s.kernel.self_pid())).expect("procs");
    std::fs::write(own.join("cgroup.subtree_control"), "").expect("stc");
    std::fs::write(own.join("cgroup.controllers"), "cpuset cpu io memory pids").expect("ctl");
    let cg = s.create("m", Placement::KeepUnit { own: "svc".into() }, &["MemoryMax=64M"]);
    assert_eq!(cg.path(), own.join("payload"));
    assert_eq!(
        s.kernel.log(),
        lines(&[
            "mkdir svc/payload",
            "mkdir svc/supervisor",
            "write svc/supervisor/cgroup.procs 0",
            "write cgroup.subtree_control +memory",
            "write svc/cgroup.subtree_control +memory",
            "write svc/payload/memory.max 67108864",
        ])
    );
    assert_eq!(s.read("svc/supervisor/cgroup.procs"), "4242\n");
    s.kernel.add_process(cg.path(), 300);
    s.kernel.clear_log();
    cg.kill_and_remove().expect("remove");
    assert_eq!(
        s.kernel.log(),
        lines(&[
            "write svc/payload/cgroup.kill 1",
            "rmdir svc/payload",
            "write svc/cgroup.subtree_control -memory",
            "write svc/cgroup.procs 0",
            "rmdir svc/supervisor",
        ])
    );
    assert_eq!(s.dirs(), lines(&["svc"]));
    assert_eq!(s.read("svc/cgroup.procs"), "4242\n");
    assert_eq!(s.read("svc/cgroup.subtree_control"), "");
}

#[test]
fn keep_unit_a_second_container_from_the_same_cgroup_is_refused_with_a_hint() {
    let s = setup("keeptwo", ALL, true);
    let own = s.root().join("svc");
    std::fs::create_dir(&own).expect("own");
    std::fs::write(own.join("cgroup.procs"), format!("{}\n", s.kernel.self_pid())).expect("procs");
    std::fs::write(own.join("cgroup.subtree_control"), "").expect("stc");
    std::fs::write(own.join("cgroup.controllers"), "memory").expect("ctl");
    let first = s.create("m1", Placement::KeepUnit { own: "svc".into() }, &[]);
    let p = s.plan("m2", Placement::KeepUnit { own: "svc".into() }, &[], None);
    let e = Cgroup::create_with(&p, s.kernel.boxed()).expect_err("the first one holds svc/payload");
    assert_eq!(
        e.to_string(),
        format!(
            "{}/svc/payload: cgroup exists and is in use (is the machine already running?)\nhint: --keep-unit runs \
             one container per unit, and another container started from this cgroup holds it (start each from a \
             service of its own, or drop --keep-unit)",
            s.root().display()
        )
    );
    drop(first);
}

#[test]
fn keep_unit_with_other_processes_fails_and_restores() {
    let s = setup("keepbusy", ALL, true);
    let own = s.root().join("svc");
    std::fs::create_dir(&own).expect("own");
    std::fs::write(own.join("cgroup.procs"), "4242\n77\n").expect("procs");
    std::fs::write(own.join("cgroup.subtree_control"), "").expect("stc");
    std::fs::write(own.join("cgroup.controllers"), "memory").expect("ctl");
    let p = s.plan("m", Placement::KeepUnit { own: "svc".into() }, &["MemoryMax=64M"], None);
    let e = Cgroup::create_with(&p, s.kernel.boxed()).expect_err("process 77 is in the way");
    assert_eq!(
        e.to_string(),
        format!(
            "enable memory: write {r}/svc/cgroup.subtree_control: device or resource busy\nhint: {r}/svc holds \
             processes, and cgroup v2 enables controllers only for cgroups that hold none",
            r = s.root().display()
        )
    );
    assert_eq!(s.dirs(), lines(&["svc"]));
    assert_eq!(s.read("svc/cgroup.procs"), "77\n4242\n");
}

#[test]
fn failed_write_removes_everything_created() {
    // The plan believes in io (the hierarchy said so), the kernel refuses it.
    let s = setup("rollback", &["memory"], true);
    let mut h = s.hierarchy.clone();
    h.controllers.push("io".into());
    let props = vec![parse_property("IOWeight=10").expect("property")];
    let placement = machine(None);
    let req = Request { machine: "m", placement: &placement, properties: &props, delegate: None };
    let p = plan(&h, &req, &FakeHost).expect("plan");
    let e = Cgroup::create_with(&p, s.kernel.boxed()).expect_err("io refused");
    assert_eq!(
        e.to_string(),
        format!("enable io: write {}/cgroup.subtree_control: no such file or directory", s.root().display())
    );
    assert!(s.dirs().is_empty());
}

#[test]
fn stale_leaf_is_replaced_busy_leaf_refused() {
    let s = setup("stale", ALL, true);
    let first = s.create("m", machine(None), &[]);
    drop(first); // a crashed run: the cgroup stays
    let again = s.create("m", machine(None), &[]);
    s.kernel.add_process(again.path(), 500);
    let p = s.plan("m", machine(None), &[], None);
    let e = Cgroup::create_with(&p, s.kernel.boxed()).expect_err("busy");
    assert_eq!(
        e.to_string(),
        format!(
            "{}/machine.slice/machine-m.scope: cgroup exists and is in use (is the machine already running?)",
            s.root().display()
        )
    );
    assert_eq!(s.dirs(), lines(&["machine.slice", "machine.slice/machine-m.scope"]));
    again.kill_and_remove().expect("remove");
    assert!(s.dirs().is_empty());
}

#[test]
fn dying_leaf_without_launcher_is_killed_and_replaced() {
    let s = setup("dying", ALL, true);
    let first = s.create("m", machine(None), &[]);
    let leaf = first.path().to_path_buf();
    s.kernel.add_process(&leaf, 600);
    // The launcher was SIGKILLed: its lock is gone, a process of the machine is still there.
    drop(first);
    let again = s.create("m", machine(None), &[]);
    assert_eq!(again.path(), leaf);
    let log = s.kernel.log();
    assert!(log.iter().any(|l| l == "write machine.slice/machine-m.scope/cgroup.kill 1"), "{log:?}");
    again.kill_and_remove().expect("remove");
    assert!(s.dirs().is_empty());
}

#[test]
fn cleared_for_a_restart_after_the_guest_made_cgroups() {
    let s = setup("restart", ALL, true);
    let p = s.plan("m", machine(None), &[], Some((0, 0)));
    let cg = Cgroup::create_with(&p, s.kernel.boxed()).expect("create");
    // What a booted init leaves: children with controllers enabled for them.
    s.kernel.write(&cg.path().join("cgroup.subtree_control"), "+pids +memory").unwrap();
    let child = cg.path().join("init.scope");
    s.kernel.mkdir(&child).unwrap();
    s.kernel.add_process(&child, 700);
    cg.clear_for_restart().expect("clear");
    assert!(!child.exists());
    assert_eq!(std::fs::read_to_string(cg.path().join("cgroup.subtree_control")).unwrap().trim(), "");
    assert_eq!(s.dirs(), lines(&["machine.slice", "machine.slice/machine-m.scope"]));
    cg.kill_and_remove().expect("remove");
}

#[test]
fn delegation_chowns_and_enables_all() {
    let s = setup("delegate", ALL, true);
    let p = s.plan("m", machine(None), &[], Some((100000, 100000)));
    let cg = Cgroup::create_with(&p, s.kernel.boxed()).expect("create");
    let log = s.kernel.log();
    assert!(log.contains(&"write machine.slice/cgroup.subtree_control +cpuset +cpu +io +memory +pids".to_string()));
    let chowns: Vec<&String> = log.iter().filter(|l| l.starts_with("chown")).collect();
    assert_eq!(
        chowns,
        [
            "chown machine.slice/machine-m.scope 100000:100000",
            "chown machine.slice/machine-m.scope/cgroup.procs 100000:100000",
            "chown machine.slice/machine-m.scope/cgroup.threads 100000:100000",
            "chown machine.slice/machine-m.scope/cgroup.subtree_control 100000:100000",
            "chown machine.slice/machine-m.scope/memory.reclaim 100000:100000",
        ]
        .iter()
        .collect::<Vec<_>>()
    );
    cg.kill_and_remove().expect("remove");
}

#[test]
fn set_properties_on_a_live_cgroup() {
    let s = setup("setprop", ALL, true);
    let mut cg = s.create("m", machine(None), &[]);
    s.kernel.clear_log();
    let props = vec![parse_property("MemoryHigh=512M").expect("p"), parse_property("CPUWeight=idle").expect("p")];
    cg.set_properties(&props, &FakeHost).expect("set");
    assert_eq!(
        s.kernel.log(),
        lines(&[
            "write cgroup.subtree_control +cpu +memory",
            "write machine.slice/cgroup.subtree_control +cpu +memory",
            "write machine.slice/machine-m.scope/memory.high 536870912",
            "write machine.slice/machine-m.scope/cpu.idle 1",
        ])
    );
    let bad = vec![parse_property("MemoryMax=1G").expect("p")];
    let h = Hierarchy { controllers: vec!["cpu".into()], ..s.hierarchy.clone() };
    cg.hierarchy = h;
    let e = cg.set_properties(&bad, &FakeHost).expect_err("no memory");
    assert_eq!(
        e.to_string(),
        format!("--property=MemoryMax=1G: memory controller not available in {}", s.root().display())
    );
    cg.kill_and_remove().expect("remove");
}

#[test]
fn attach_writes_cgroup_procs() {
    let s = setup("attach", ALL, true);
    let cg = s.create("m", machine(None), &[]);
    cg.attach(1234).expect("attach");
    assert_eq!(s.read("machine.slice/machine-m.scope/cgroup.procs"), "1234\n");
    cg.kill_and_remove().expect("remove");
}

#[test]
fn cleanup_removes_a_crashed_runs_leftovers() {
    let s = setup("cleanup", ALL, true);
    let cg = s.create("web", machine(Some("apps.slice")), &["TasksMax=3"]);
    s.kernel.add_process(cg.path(), 900);
    drop(cg);
    assert!(cleanup_with(&s.hierarchy, Some("apps.slice"), "web", s.kernel.boxed()).expect("cleanup"));
    assert!(s.dirs().is_empty());
    assert!(!cleanup_with(&s.hierarchy, Some("apps.slice"), "web", s.kernel.boxed()).expect("again"));
    let e = cleanup_with(&s.hierarchy, Some("apps"), "web", s.kernel.boxed()).expect_err("bad slice");
    assert!(e.to_string().starts_with("--slice=apps: invalid slice name"), "{e}");
}

#[test]
fn open_refuses_paths_outside_the_hierarchy() {
    let s = setup("open", ALL, true);
    let e = Cgroup::open_with(&s.hierarchy, Path::new("/etc"), s.kernel.boxed()).expect_err("outside");
    assert_eq!(e.to_string(), format!("/etc: not a cgroup below {}", s.root().display()));
}

#[test]
fn dir_fd_is_the_cgroup_directory() {
    let s = setup("fd", ALL, true);
    let cg = s.create("m", machine(None), &[]);
    let st = rustix::fs::fstat(cg.dir_fd()).expect("fstat");
    let want = rustix::fs::stat(cg.path()).expect("stat");
    assert_eq!((st.st_dev, st.st_ino), (want.st_dev, want.st_ino));
    cg.kill_and_remove().expect("remove");
}

#[test]
fn alone_in_a_namespace_root_the_launcher_moves_into_supervisor() {
    let s = setup_namespace_root("nsroot", &[]);
    let p = s.plan("m", machine(None), &["MemoryMax=64M"], Some((0, 0)));
    let cg = Cgroup::create_with(&p, s.kernel.boxed()).expect("create");
    let log = s.kernel.log();
    assert_eq!(
        log[..5],
        lines(&[
            "mkdir machine.slice",
            "mkdir machine.slice/machine-m.scope",
            "mkdir supervisor",
            "write supervisor/cgroup.procs 0",
            "write cgroup.subtree_control +cpuset +cpu +io +memory +pids",
        ])[..]
    );
    assert!(log.contains(&"write machine.slice/cgroup.subtree_control +cpuset +cpu +io +memory +pids".to_string()));
    assert!(log.contains(&"write machine.slice/machine-m.scope/memory.max 67108864".to_string()));
    assert_eq!(s.read("cgroup.procs"), "");
    assert_eq!(s.read("supervisor/cgroup.procs"), "4242\n");
    assert_eq!(s.read("machine.slice/machine-m.scope/cgroup.controllers"), "cpuset cpu io memory pids");
    s.kernel.add_process(cg.path(), 300);
    s.kernel.clear_log();
    cg.kill_and_remove().expect("remove");
    assert_eq!(
        s.kernel.log(),
        lines(&[
            "write machine.slice/machine-m.scope/cgroup.kill 1",
            "rmdir machine.slice/machine-m.scope",
            "rmdir machine.slice",
            "write cgroup.subtree_control -cpuset -cpu -io -memory -pids",
            "write cgroup.procs 0",
            "rmdir supervisor",
        ])
    );
    assert!(s.dirs().is_empty());
    assert_eq!(s.read("cgroup.procs"), "4242\n");
    assert_eq!(s.read("cgroup.subtree_control"), "");
}

#[test]
fn a_namespace_root_shared_with_others_is_left_alone() {
    let s = setup_namespace_root("nsshared", &[77]);
    // Delegation only: the controllers are left out (a debug message), the start goes on.
    let p = s.plan("m", machine(None), &[], Some((0, 0)));
    let cg = Cgroup::create_with(&p, s.kernel.boxed()).expect("create");
    assert_eq!(s.dirs(), lines(&["machine.slice", "machine.slice/machine-m.scope"]));
    assert_eq!(s.read("cgroup.subtree_control"), "");
    assert_eq!(s.read("machine.slice/machine-m.scope/cgroup.controllers"), "");
    cg.kill_and_remove().expect("remove");
    assert!(s.dirs().is_empty());
    assert_eq!(s.read("cgroup.procs"), "4242\n77\n");
    // A property that needs a controller: the error names it and why.
    let p = s.plan("m", machine(None), &["MemoryMax=64M"], None);
    let e = Cgroup::create_with(&p, s.kernel.boxed()).expect_err("process 77 is in the way");
    assert_eq!(
        e.to_string(),
        format!(
            "enable memory: write {r}/cgroup.subtree_control: device or resource busy\nhint: {r} holds processes, \
             and cgroup v2 enables controllers only for cgroups that hold none",
            r = s.root().display()
        )
    );
    assert!(s.dirs().is_empty());
}

#[test]
fn two_machines_from_a_namespace_root_share_supervisor() {
    let s = setup_namespace_root("nstwo", &[]);
    let p = s.plan("a", machine(None), &["MemoryMax=64M"], None);
    let a = Cgroup::create_with(&p, s.kernel.boxed()).expect("create a");
    // The second launcher (same fake pid) finds itself in supervisor/ already: nothing to move.
    let p = s.plan("b", machine(None), &["MemoryMax=32M"], None);
    let b = Cgroup::create_with(&p, s.kernel.boxed()).expect("create b");
    a.kill_and_remove().expect("remove a");
    // b still uses memory below the root: the launcher stays in supervisor/.
    assert_eq!(s.dirs(), lines(&["machine.slice", "machine.slice/machine-b.scope", "supervisor"]));
    assert_eq!(s.read("cgroup.subtree_control"), "memory");
    assert_eq!(s.read("machine.slice/machine-b.scope/memory.max"), "33554432");
    b.kill_and_remove().expect("remove b");
    assert_eq!(s.dirs(), lines(&["supervisor"]));
    assert_eq!(s.read("cgroup.subtree_control"), "memory");
}
