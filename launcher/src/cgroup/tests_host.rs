//! Root-only tests on this host's real cgroup2 hierarchy (hybrid here: no controllers).
//! They fail (never skip) without root, run one at a time, use slices named after the test
//! process, and check that the host's hierarchies look exactly as before.
#![allow(unsafe_code)]

use super::*;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) static SERIAL: Mutex<()> = Mutex::new(());

pub(super) fn require_root() {
    assert!(rustix::process::geteuid().is_root(), "cgroup host tests need root: run `cargo test -p spawnbox` as root");
}

fn hierarchy() -> Hierarchy {
    Hierarchy::detect().expect("detect").expect("this host has a cgroup2 hierarchy")
}

/// Every directory of every cgroup hierarchy mounted below /sys/fs/cgroup.
pub(super) fn listing() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(e.path().display().to_string());
                walk(&e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), &mut out);
    out.sort();
    out
}

/// Compares the cgroup trees before and after a test. The v2 tree (the one spawnbox touches)
/// must be identical; v1 trees belong to other software on this host (the session runner's
/// memory cgroups come and go), so there only our names must not appear.
struct HostSnapshot {
    before: Vec<String>,
    unified: PathBuf,
    subtree_control: String,
}

impl HostSnapshot {
    fn take(h: &Hierarchy) -> HostSnapshot {
        HostSnapshot {
            before: listing(),
            unified: h.root.clone(),
            subtree_control: std::fs::read_to_string(h.root.join("cgroup.subtree_control")).unwrap_or_default(),
        }
    }

    fn assert_unchanged(&self) {
        let after = listing();
        let v2 = |l: &[String]| -> Vec<String> {
            l.iter().filter(|p| Path::new(p).starts_with(&self.unified)).cloned().collect()
        };
        assert_eq!(v2(&after), v2(&self.before), "cgroup2 tree changed");
        let ours = |p: &&String| {
            p.contains("sbtest") || p.contains("machine") || p.ends_with("/payload") || p.ends_with("/supervisor")
        };
        let new_v1: Vec<&String> = after.iter().filter(|p| !self.before.contains(p)).filter(ours).collect();
        assert!(new_v1.is_empty(), "left behind: {new_v1:?}");
        let stc = std::fs::read_to_string(self.unified.join("cgroup.subtree_control")).unwrap_or_default();
        assert_eq!(stc, self.subtree_control, "root cgroup.subtree_control changed");
    }
}

fn slice(tag: &str) -> String {
    format!("sbtest{}-{tag}.slice", std::process::id())
}

/// Removes a test's machines (killing what runs in them) and its slices when the test ends,
/// also when an assertion failed half-way; after a passing test there is nothing to do.
struct Leftovers {
    h: Hierarchy,
    slice: String,
    machines: &'static [&'static str],
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for m in self.machines {
            let _ = cleanup(&self.h, Some(&self.slice), m);
        }
        if let Ok(rel) = slice_path(&self.slice) {
            let mut dir = self.h.root.join(rel);
            while dir != self.h.root && std::fs::remove_dir(&dir).is_ok() {
                dir.pop();
            }
        }
    }
}

fn leftovers(h: &Hierarchy, slice: &str, machines: &'static [&'static str]) -> Leftovers {
    Leftovers { h: h.clone(), slice: slice.to_string(), machines }
}

fn make(h: &Hierarchy, machine: &str, placement: Placement, props: &[&str]) -> Result<Cgroup, String> {
    let props: Vec<Property> =
        props.iter().map(|p| parse_property(p).map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
    let req = Request { machine, placement: &placement, properties: &props, delegate: None };
    let p = plan(h, &req, &SystemHost).map_err(|e| e.to_string())?;
    Cgroup::create(&p).map_err(|e| e.to_string())
}

/// `sh` that, once told (after it has been moved), forks a background grandchild, so that
/// teardown must kill more than the direct child.
fn spawn_sleeper() -> Child {
    Command::new("/bin/sh")
        .args(["-c", "read go; sleep 60 & exec sleep 60"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh")
}

/// Lets the sleeper fork and waits until `cgroup` holds both processes.
fn release_sleeper(child: &mut Child, cgroup: &Path) {
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(b"go\n").expect("tell sh");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default().lines().count() < 2 {
        assert!(Instant::now() < deadline, "sleeper did not fork");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn cgroup_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .unwrap_or_default()
}

fn assert_killed(mut child: Child) {
    let status = child.wait().expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "child should be SIGKILLed, got {status:?}");
}

#[test]
fn host_hierarchy_is_the_hybrid_unified_mount() {
    let h = hierarchy();
    let text = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let m = find_hierarchy(&text).expect("mountinfo has cgroup2");
    assert_eq!((m.path, m.hybrid), (h.root.clone(), h.hybrid));
}

#[test]
fn host_scope_grouping_and_teardown() {
    require_root();
    let _g = SERIAL.lock();
    let h = hierarchy();
    let snap = HostSnapshot::take(&h);
    let sl = slice("grp");
    let _l = leftovers(&h, &sl, &["probe-1"]);
    let cg = make(&h, "probe-1", Placement::Machine { slice: Some(sl.clone()) }, &[]).expect("create");
    let mut child = spawn_sleeper();
    cg.attach(child.id() as i32).expect("attach");
    release_sleeper(&mut child, cg.path());
    let rel = cg.path().strip_prefix(&h.root).expect("below root").display().to_string();
    assert!(rel.starts_with(&format!("sbtest{}.slice/{sl}/machine-probe\\x2d1.scope", std::process::id())), "{rel}");
    assert_eq!(cgroup_of(child.id()), format!("/{rel}"));
    let procs = std::fs::read_to_string(cg.path().join("cgroup.procs")).expect("procs");
    assert_eq!(procs.lines().count(), 2, "sh and its background sleep: {procs}");
    cg.kill_and_remove().expect("kill_and_remove");
    assert_killed(child);
    snap.assert_unchanged();
}

#[test]
fn host_two_machines_share_a_slice() {
    require_root();
    let _g = SERIAL.lock();
    let h = hierarchy();
    let snap = HostSnapshot::take(&h);
    let sl = slice("two");
    let _l = leftovers(&h, &sl, &["a", "b"]);
    let a = make(&h, "a", Placement::Machine { slice: Some(sl.clone()) }, &[]).expect("a");
    let b = make(&h, "b", Placement::Machine { slice: Some(sl.clone()) }, &[]).expect("b");
    let mut child = spawn_sleeper();
    b.attach(child.id() as i32).expect("attach");
    release_sleeper(&mut child, b.path());
    let slice_dir = a.path().parent().expect("slice").to_path_buf();
    a.kill_and_remove().expect("remove a");
    assert!(slice_dir.is_dir(), "slice with machine b in it must stay");
    assert_eq!(cgroup_of(child.id()).rsplit('/').next(), Some("machine-b.scope"));
    b.kill_and_remove().expect("remove b");
    assert_killed(child);
    assert!(!slice_dir.exists());
    snap.assert_unchanged();
}

#[test]
fn host_missing_controller_error_creates_nothing() {
    require_root();
    let _g = SERIAL.lock();
    let h = hierarchy();
    let snap = HostSnapshot::take(&h);
    let _l = leftovers(&h, &slice("ctl"), &["m"]);
    let e = make(&h, "m", Placement::Machine { slice: Some(slice("ctl")) }, &["MemoryMax=32M"]).expect_err("no memory");
    assert_eq!(e, format!("--property=MemoryMax=32M: memory controller not available in {}", h.describe()));
    if h.root == Path::new("/sys/fs/cgroup/unified") {
        assert_eq!(
            e,
            "--property=MemoryMax=32M: memory controller not available in /sys/fs/cgroup/unified (hybrid hierarchy)"
        );
    }
    snap.assert_unchanged();
}

/// Moves this whole test process into a cgroup of its own for `--keep-unit`, and back.
struct OwnCgroup {
    path: PathBuf,
    home: PathBuf,
}

impl OwnCgroup {
    fn enter(h: &Hierarchy, name: &str) -> OwnCgroup {
        let home = h.root.join(read_own_cgroup().expect("own cgroup"));
        let path = h.root.join(name);
        std::fs::create_dir(&path).expect("mkdir own");
        std::fs::write(path.join("cgroup.procs"), "0").expect("enter own");
        OwnCgroup { path, home }
    }
}

impl Drop for OwnCgroup {
    fn drop(&mut self) {
        // After a failure half-way: kill the payload (never supervisor/: this process is
        // there), go home, remove the three directories.
        let payload = self.path.join("payload");
        let _ = std::fs::write(payload.join("cgroup.kill"), "1");
        let _ = std::fs::write(self.home.join("cgroup.procs"), "0");
        for dir in [payload, self.path.join("supervisor"), self.path.clone()] {
            for _ in 0..100 {
                if !dir.exists() || std::fs::remove_dir(&dir).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

#[test]
fn host_keep_unit_payload_and_supervisor() {
    require_root();
    let _g = SERIAL.lock();
    let h = hierarchy();
    let snap = HostSnapshot::take(&h);
    {
        let name = format!("sbtest{}-own", std::process::id());
        let own = OwnCgroup::enter(&h, &name);
        let own_rel = read_own_cgroup().expect("own");
        assert_eq!(own_rel, PathBuf::from(&name));
        let cg = make(&h, "k", Placement::KeepUnit { own: own_rel }, &[]).expect("create");
        assert_eq!(cg.path(), own.path.join("payload"));
        assert_eq!(read_own_cgroup().expect("own"), PathBuf::from(format!("{name}/supervisor")));
        let mut child = spawn_sleeper();
        cg.attach(child.id() as i32).expect("attach");
        release_sleeper(&mut child, cg.path());
        cg.kill_and_remove().expect("remove");
        assert_killed(child);
        assert_eq!(read_own_cgroup().expect("own"), PathBuf::from(&name), "launcher moved back");
        assert!(!own.path.join("supervisor").exists() && !own.path.join("payload").exists());
    }
    snap.assert_unchanged();
}

#[test]
fn host_clone_into_cgroup_with_dir_fd() {
    require_root();
    let _g = SERIAL.lock();
    let h = hierarchy();
    let snap = HostSnapshot::take(&h);
    let _l = leftovers(&h, &slice("c3"), &["c3"]);
    let cg = make(&h, "c3", Placement::Machine { slice: Some(slice("c3")) }, &[]).expect("create");
    // The launcher's own seam: clone3(CLONE_INTO_CGROUP) with the cgroup's directory fd.
    let pid = match crate::sys::clone_process(0, Some(cg.dir_fd())).expect("clone3") {
        crate::sys::Forked::Child => loop {
            // SAFETY: pause(2) has no preconditions; the child only waits to be killed.
            unsafe { libc::pause() };
        },
        crate::sys::Forked::Parent { pid } => pid,
    };
    let rel = cg.path().strip_prefix(&h.root).expect("below root").display().to_string();
    assert_eq!(cgroup_of(pid as u32), format!("/{rel}"));
    cg.kill_and_remove().expect("remove");
    let mut status = 0;
    // SAFETY: waiting for our own child; `status` is a valid out-pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
    snap.assert_unchanged();
}

#[test]
fn host_cleanup_after_a_crash() {
    require_root();
    let _g = SERIAL.lock();
    let h = hierarchy();
    let snap = HostSnapshot::take(&h);
    let sl = slice("crash");
    let _l = leftovers(&h, &sl, &["crashed"]);
    let cg = make(&h, "crashed", Placement::Machine { slice: Some(sl.clone()) }, &[]).expect("create");
    let mut child = spawn_sleeper();
    cg.attach(child.id() as i32).expect("attach");
    release_sleeper(&mut child, cg.path());
    drop(cg); // the launcher died: cgroup and processes stay
    assert!(cleanup(&h, Some(&sl), "crashed").expect("cleanup"));
    assert_killed(child);
    assert!(!cleanup(&h, Some(&sl), "crashed").expect("second cleanup"));
    snap.assert_unchanged();
}

#[test]
fn host_create_join_remove_cost() {
    require_root();
    let _g = SERIAL.lock();
    let h = hierarchy();
    let snap = HostSnapshot::take(&h);
    // Worst case: the slice is created and removed every time too.
    let _l = leftovers(&h, &slice("cost"), &["cost"]);
    let placement = Placement::Machine { slice: Some(slice("cost")) };
    let req = Request { machine: "cost", placement: &placement, properties: &[], delegate: None };
    let mut samples = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        let p = plan(&h, &req, &SystemHost).expect("plan");
        let cg = Cgroup::create(&p).expect("create");
        let _fd = cg.dir_fd();
        cg.kill_and_remove().expect("remove");
        samples.push(t.elapsed());
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    eprintln!(
        "cgroup plan+create+remove: median {median:?}, min {:?}, max {:?}",
        samples[0],
        samples[samples.len() - 1]
    );
    assert!(median < Duration::from_micros(500), "median {median:?} exceeds 0.5 ms");
    snap.assert_unchanged();
}

#[test]
fn host_freezer_fallback_kills_everything() {
    require_root();
    let _g = SERIAL.lock();
    let h = hierarchy();
    let snap = HostSnapshot::take(&h);
    let sl = slice("frz");
    let _l = leftovers(&h, &sl, &["frz"]);
    let cg = make(&h, "frz", Placement::Machine { slice: Some(sl.clone()) }, &[]).expect("create");
    let mut child = spawn_sleeper();
    cg.attach(child.id() as i32).expect("attach");
    release_sleeper(&mut child, cg.path());
    // The pre-5.14 route, on this kernel: freeze, SIGKILL each pid, thaw.
    super::kill::kill_fallback(&super::fs::RealFs, cg.path()).expect("fallback kill");
    assert_killed(child);
    let events = std::fs::read_to_string(cg.path().join("cgroup.events")).expect("events");
    assert!(events.contains("frozen 0"), "thawed again: {events}");
    cg.kill_and_remove().expect("remove");
    snap.assert_unchanged();
}

#[test]
fn host_wait_empty_wakes_on_the_event_not_the_timeout() {
    require_root();
    let _g = SERIAL.lock();
    let h = hierarchy();
    let snap = HostSnapshot::take(&h);
    let sl = slice("poll");
    let _l = leftovers(&h, &sl, &["poll"]);
    let cg = make(&h, "poll", Placement::Machine { slice: Some(sl.clone()) }, &[]).expect("create");
    let mut child = spawn_sleeper();
    cg.attach(child.id() as i32).expect("attach");
    release_sleeper(&mut child, cg.path());
    let procs = std::fs::read_to_string(cg.path().join("cgroup.procs")).expect("procs");
    let pids: Vec<i32> = procs.lines().filter_map(|l| l.parse().ok()).collect();
    use super::fs::Fs;
    let e = super::fs::RealFs.wait_empty(cg.path(), Duration::from_millis(30)).expect_err("busy");
    assert_eq!(e.to_string(), format!("{}: still populated after 30 ms", cg.path().display()));
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        for pid in pids {
            // SAFETY: kill(2) on pids of our test cgroup; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let t = Instant::now();
    super::fs::RealFs.wait_empty(cg.path(), Duration::from_secs(5)).expect("emptied");
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(100) && waited < Duration::from_secs(2), "waited {waited:?}");
    let _ = killer.join();
    assert_killed(child);
    let e = super::fs::RealFs.wait_empty(cg.path(), Duration::from_millis(1));
    assert!(e.is_ok(), "empty now");
    cg.kill_and_remove().expect("remove");
    snap.assert_unchanged();
}
