//! The OCI runtime's cgroups through the lifecycle API, as `spawnbox-runc` will drive them:
//! a machine whose spec carries a config.json (`Spec::oci`) with a `linux.cgroupsPath` and
//! `linux.resources` is created with `Model::Detachable` and left by a first process; a second
//! one loads it (`Created::load`), starts it, pauses and resumes it, joins a process to it,
//! lists and kills its
//! processes and tears it down. On this hybrid host PID 1 is in every v1 hierarchy and the
//! unified one, and its cgroup namespace is rooted there in all of them (it reads `/` for each
//! line of `/proc/self/cgroup`): the launcher joined the v1 directories for the clone.
//!
//! `harness = false`: `Machine::create_with` clones this process, which must have no other
//! thread; the first process is this binary again (`--create-and-leave`).

use rustix::process::Signal;
use spawnbox::machine::{Created, Machine, Model};
use spawnbox::spec::Spec;
use spawnbox_tests::Test;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The spec `spawnbox-runc create` makes of a bundle around TREE running ARGS, whose
/// config.json has cgroupsPath `cgroups_path` and memory, CPU and pids limits.
fn spec_of(root: &Path, _uuid: &str, args: &[&str], cgroups_path: &str) -> Spec {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    let text = format!(
        r#"{{"ociVersion":"1.2.0","root":{{"path":{root:?}}},
  "process":{{"user":{{"uid":0,"gid":0}},"args":[{args}],"env":["PATH=/bin:/usr/bin"],"cwd":"/",
    "capabilities":{{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}}}},
  "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}}],
  "linux":{{"namespaces":[{{"type":"pid"}},{{"type":"ipc"}},{{"type":"uts"}},{{"type":"mount"}},{{"type":"cgroup"}}],
    "cgroupsPath":{cgroups_path:?},
    "resources":{{"memory":{{"limit":{mem}}},"cpu":{{"shares":512}},"pids":{{"limit":32}}}}}}}}"#,
        root = root.to_str().unwrap(),
        args = args.join(","),
        mem = 64u64 << 20,
    );
    let config = spawnbox::runtime_spec::parse(text.as_bytes()).expect("config");
    let id = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let bundle = root.parent().map(Path::to_path_buf).unwrap_or_default();
    spawnbox::spec_oci::from_bundle(&id, &bundle, config).expect("spec")
}

const PAYLOAD: &[&str] = &["/bin/sh", "-c", "cat /proc/self/cgroup > /cg; exec sleep 1000"];

fn base() -> String {
    format!("sbtest{}-ocimachine", std::process::id())
}

/// `--create-and-leave TREE UUID CGPATH OUT`: the first process.
fn create_and_leave(root: &str, uuid: &str, cgroups_path: &str, out: &str) -> ! {
    let s = spec_of(Path::new(root), uuid, PAYLOAD, cgroups_path);
    let m = Machine::create_with(&s, Model::Detachable).unwrap_or_else(|e| panic!("create: {e}"));
    let pid = m.pid1_pid();
    m.leave().unwrap_or_else(|e| panic!("leave: {e}"));
    fs::write(out, pid.to_string()).unwrap();
    std::process::exit(0)
}

/// Every directory below /sys/fs/cgroup (two levels) whose path contains `frag`.
fn ours(frag: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for h in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for d in fs::read_dir(h.path()).into_iter().flatten().flatten() {
            if d.file_name().to_string_lossy().contains(frag) {
                out.push(d.path());
            }
        }
    }
    out
}

fn a_left_machine_in_its_oci_cgroups() {
    let t = Test::new("oci-cg");
    let name = t.root.file_name().unwrap().to_string_lossy().into_owned();
    let run = t.host_dir("run");
    std::env::set_var("SPAWNBOX_RUNTIME_DIR", &run);
    let cgpath = format!("/{}/{name}", base());
    let result = t.host_dir("created").join("result");
    let st = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--create-and-leave", &t.root.display().to_string(), &t.uuid, &cgpath, &result.display().to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "{st:?}");
    let pid: i32 = fs::read_to_string(&result).unwrap().trim().parse().unwrap();

    let m = Created::load(&name).expect("load");
    assert_eq!(m.pid(), pid);
    // In every hierarchy at cgroupsPath, before it runs anything of its own.
    let lines = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for l in lines.lines() {
        assert!(l.ends_with(&format!(":{cgpath}")), "PID 1 not placed: {l}");
    }
    let record = fs::read_to_string(run.join("machines").join(&name).join("state")).unwrap();
    assert!(record.contains(&format!("cgroup-v1=memory:/sys/fs/cgroup/memory{cgpath}\n")), "{record}");
    assert!(record.contains(&format!("cgroup=/sys/fs/cgroup/unified{cgpath}\n")), "{record}");
    assert_eq!(
        fs::read_to_string(format!("/sys/fs/cgroup/memory{cgpath}/memory.limit_in_bytes")).unwrap().trim(),
        "67108864"
    );
    assert_eq!(fs::read_to_string(format!("/sys/fs/cgroup/cpu{cgpath}/cpu.shares")).unwrap().trim(), "512");
    assert_eq!(fs::read_to_string(format!("/sys/fs/cgroup/pids{cgpath}/pids.max")).unwrap().trim(), "32");
    assert_eq!(m.pids().expect("pids"), vec![pid]);

    m.start().expect("start");
    assert!(spawnbox_tests::wait_until(Duration::from_secs(5), || t
        .rpath("/cg")
        .metadata()
        .is_ok_and(|m| m.len() > 0)));
    // Its cgroup namespace is rooted at its cgroup of every hierarchy.
    let inside = fs::read_to_string(t.rpath("/cg")).unwrap();
    assert!(inside.lines().count() >= 2, "{inside}");
    for l in inside.lines() {
        assert!(l.ends_with(":/"), "seen from inside: {l}\n{inside}");
    }

    assert!(!m.paused().unwrap());
    m.pause().expect("pause");
    assert!(m.paused().unwrap());
    assert_eq!(fs::read_to_string(format!("/sys/fs/cgroup/freezer{cgpath}/freezer.state")).unwrap().trim(), "FROZEN");
    m.resume().expect("resume");
    assert!(!m.paused().unwrap());
    let pids = m.pids().expect("pids");
    assert_eq!(pids, vec![pid], "sh exec'd sleep: PID 1 alone");
    // A process joined from outside (what exec does first).
    let mut execd = std::process::Command::new("/bin/sleep").arg("60").spawn().unwrap();
    let epid = execd.id() as i32;
    m.attach(epid).expect("attach");
    let lines = fs::read_to_string(format!("/proc/{epid}/cgroup")).unwrap();
    assert!(lines.lines().all(|l| l.ends_with(&format!(":{cgpath}"))), "{lines}");
    let mut both = vec![pid, epid];
    both.sort_unstable();
    assert_eq!(m.pids().expect("pids"), both);

    m.kill_all(Signal::KILL).expect("kill --all");
    let st = execd.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(libc::SIGKILL));
    assert!(m.wait_exit(Duration::from_secs(5)).unwrap(), "PID 1 outlived kill --all");
    m.teardown().expect("teardown");
    assert_eq!(ours(&base()), Vec::<PathBuf>::new(), "cgroups left");
    assert!(!run.join("machines").join(&name).exists());
    std::env::remove_var("SPAWNBOX_RUNTIME_DIR");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--create-and-leave") {
        create_and_leave(&args[2], &args[3], &args[4], &args[5]);
    }
    spawnbox_tests::require_root();
    if !Path::new("/sys/fs/cgroup/memory").is_dir() || !Path::new("/sys/fs/cgroup/unified").is_dir() {
        // The checks name this host's hybrid layout; the VM case 54-oci-cgroups covers pure v2.
        println!("oci_cgroups: not a hybrid host, nothing to run");
        return;
    }
    a_left_machine_in_its_oci_cgroups();
    println!("oci_cgroups: 1 passed");
}
