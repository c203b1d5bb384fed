//! The lifecycle API driven directly, as a front end other than the nspawn command line does
//! (issue 14): `Machine::create` leaves a PID 1 in the container's namespaces and cgroup that
//! has not run the payload yet; `start` runs it and `wait` gives its end; `kill` signals it;
//! `teardown` without a start leaves nothing behind.
//!
//! `harness = false`: `Machine::create` clones this process, so it must have no other thread
//! (the test harness runs tests on threads). The cases run one after another in `main`.

use rustix::process::Signal;
use spawnbox::machine::{Created, Machine, Model};
use spawnbox::spec::{Caller, Spec};
use spawnbox_tests::{cgroups_of_machine, Test};
use std::ffi::OsString;
use std::fs;
use std::path::Path;

/// The spec the nspawn command line would make of `-D TREE -q --console=pipe ARGS...`.
fn spec(t: &Test, args: &[&str]) -> Spec {
    spec_of(&t.root, &t.uuid, args)
}

fn spec_of(root: &Path, uuid: &str, args: &[&str]) -> Spec {
    let mut argv: Vec<OsString> = vec!["-q".into(), "--console=pipe".into(), "-D".into(), root.into()];
    argv.push(format!("--uuid={uuid}").into());
    argv.extend(args.iter().map(OsString::from));
    let getenv = |_: &str| None;
    let settings = match spawnbox::cli::parse(&argv, &getenv, Path::new("/")) {
        Ok(spawnbox::cli::Parsed::Run(s)) => s,
        Ok(_) => panic!("{argv:?}: not a run"),
        Err(e) => panic!("{argv:?}: {e}"),
    };
    let caller = Caller { cwd: Path::new("/"), stdin_tty: false, stdout_tty: false, host_hostname: "host" };
    Spec::resolve(settings, &caller).expect("resolve")
}

fn machine_name(t: &Test) -> String {
    t.root.file_name().unwrap().to_string_lossy().into_owned()
}

/// `/proc/PID/ns/NAME` of `pid`, as the link text.
fn ns(pid: i32, name: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{name}")).unwrap().to_string_lossy().into_owned()
}

fn created_waits_started_runs_and_wait_gives_the_status(userns: bool) {
    let t = Test::new(if userns { "api-userns" } else { "api" });
    let name = machine_name(&t);
    let mut extra = vec!["/bin/sh", "-c", "echo ran > /ran; exit 7"];
    if userns {
        extra.splice(0..0, ["--private-users=524288", "--private-users-ownership=chown"]);
    }
    let mut m = Machine::create(&spec(&t, &extra)).expect("create");
    let pid = m.pid1().expect("a PID 1").pid;
    // Set up and waiting: in its own namespaces and the machine's cgroup, not yet the payload.
    let me = std::process::id() as i32;
    for n in ["mnt", "pid", "uts", "ipc", "cgroup"] {
        assert_ne!(ns(pid, n), ns(me, n), "{n} namespace of PID 1");
    }
    assert_eq!(ns(pid, "user") != ns(me, "user"), userns, "user namespace of PID 1");
    let cgroups = cgroups_of_machine(&name);
    assert_eq!(cgroups.len(), 1, "{cgroups:?}");
    let procs = fs::read_to_string(cgroups[0].join("cgroup.procs")).unwrap();
    assert_eq!(procs.lines().collect::<Vec<_>>(), [pid.to_string()], "{}", cgroups[0].display());
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe, fs::read_link("/proc/self/exe").unwrap(), "PID 1 runs the launcher's code until go");
    assert!(!t.rpath("/ran").exists());

    m.start().expect("start");
    let st = m.wait().expect("wait");
    assert_eq!(st.exit_status(), Some(7), "{st:?}");
    assert_eq!(fs::read_to_string(t.rpath("/ran")).unwrap(), "ran\n");
    m.teardown();
    assert_eq!(cgroups_of_machine(&name), Vec::<std::path::PathBuf>::new());
}

fn created_and_torn_down_without_start_leaves_nothing() {
    let t = Test::new("api-teardown");
    let name = machine_name(&t);
    let mut m = Machine::create(&spec(&t, &["/bin/true"])).expect("create");
    let pid = m.pid1().expect("a PID 1").pid;
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(cgroups_of_machine(&name).len(), 1);
    drop(m);
    // Dropped: PID 1 killed and reaped, the cgroup gone (Test's drop checks mounts and
    // processes).
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "PID 1 {pid} is still there");
    assert_eq!(cgroups_of_machine(&name), Vec::<std::path::PathBuf>::new());
}

/// Runs `f` in a network namespace of the test's own (this, the only thread, joins it and
/// comes back) with a runtime directory of the test's own: `f(host, run)`.
fn in_test_netns<R>(t: &Test, f: impl FnOnce(&spawnbox_tests::net::Netns, &str) -> R) -> R {
    use rustix::thread::{move_into_link_name_space, LinkNameSpaceType::Network};
    let host = spawnbox_tests::net::Netns::new();
    let run = spawnbox_tests::net::runtime_dir(t);
    std::env::set_var("SPAWNBOX_RUNTIME_DIR", &run);
    let own = fs::File::open("/proc/thread-self/ns/net").unwrap();
    let ns = fs::File::open(host.path()).unwrap();
    move_into_link_name_space(std::os::fd::AsFd::as_fd(&ns), Some(Network)).unwrap();
    let r = f(&host, &run);
    move_into_link_name_space(std::os::fd::AsFd::as_fd(&own), Some(Network)).unwrap();
    std::env::remove_var("SPAWNBOX_RUNTIME_DIR");
    r
}

fn created_and_torn_down_with_a_veth_leaves_no_link_and_no_lease() {
    use spawnbox_tests::net::leases;
    let t = Test::new("api-net");
    let (held, after_created, left_created, before, during, st, after, left) = in_test_netns(&t, |host, run| {
        let before = host.links();
        // Created, never started: its subnet is leased; torn down, nothing is left.
        let m = Machine::create(&spec(&t, &["-n", "/bin/sleep", "1000"]));
        let held = leases(run);
        drop(m);
        let (after_created, left_created) = (host.links(), leases(run));
        // Started: the veth appears with "go"; killed and dropped, it goes.
        let mut m = Machine::create(&spec(&t, &["-n", "/bin/sleep", "1000"])).expect("create");
        m.start().expect("start");
        let during = host.links();
        m.kill(libc::SIGKILL).expect("kill");
        let st = m.wait().expect("wait");
        drop(m);
        // The kernel destroys the veth with the container's network namespace, a moment later.
        spawnbox_tests::wait_until(std::time::Duration::from_secs(5), || host.links() == before);
        let (after, left) = (host.links(), leases(run));
        (held, after_created, left_created, before, during, st, after, left)
    });
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(after_created, before, "links left behind by a machine never started");
    assert_eq!(left_created, Vec::<String>::new(), "leases left behind by a machine never started");
    m_ok(&during, &before);
    assert_eq!(st.terminating_signal(), Some(libc::SIGKILL), "{st:?}");
    assert_eq!(after, before, "links left behind");
    assert_eq!(left, Vec::<String>::new(), "leases left behind");
}

/// `Machine::wait` serves the machine's events while it waits: the port forward follows the
/// address the payload gives itself (`-p` with `--network-address=off`) with no front end
/// involved, and goes with the teardown.
fn wait_serves_the_machines_events_while_it_waits() {
    let t = Test::new("api-follow");
    let payload = "ip addr add 10.9.0.2/24 dev host0 && sleep 0.5";
    let args = ["-n", "--network-address=off", "-p", "8080:80", "/bin/sh", "-c", payload];
    let (before_start, watching, st, rules, after) = in_test_netns(&t, |host, _| {
        let mut m = Machine::create(&spec(&t, &args)).expect("create");
        let before_start = m.events_fd().is_some();
        m.start().expect("start");
        let watching = m.events_fd().is_some();
        let st = m.wait().expect("wait");
        // Reaped, not yet torn down: the rules are what the wait made of the payload's address.
        let rules = host.ruleset();
        drop(m);
        (before_start, watching, st, rules, host.ruleset())
    });
    assert!(!before_start && watching, "the events descriptor comes with the start");
    assert_eq!(st.exit_status(), Some(0), "{st:?}");
    let dnat: Vec<&str> = rules.lines().filter(|l| l.contains("dnat")).map(str::trim).collect();
    let c = format!("comment \"{}\"", machine_name(&t));
    assert_eq!(
        dnat,
        [
            format!("fib daddr type local tcp dport 8080 dnat to 10.9.0.2:80 {c}"),
            format!("ip daddr != 127.0.0.0/8 fib daddr type local tcp dport 8080 dnat to 10.9.0.2:80 {c}"),
        ],
        "{rules}"
    );
    assert!(!after.contains("spawnbox"), "{after}");
}

/// The created machine's veth is there (one `ve-*` link more than before).
fn m_ok(during: &[String], before: &[String]) {
    let new: Vec<&String> = during.iter().filter(|l| !before.contains(l)).collect();
    assert_eq!(new.len(), 1, "{during:?}");
    assert!(new[0].starts_with("ve-") && new[0].ends_with(" veth"), "{new:?}");
}

fn kill_signals_pid_1() {
    let t = Test::new("api-kill");
    let mut m = Machine::create(&spec(&t, &["/bin/sleep", "1000"])).expect("create");
    m.start().expect("start");
    assert!(m.try_wait().expect("try_wait").is_none(), "sleep ended early");
    m.kill(Signal::KILL.as_raw()).expect("kill");
    let st = m.wait().expect("wait");
    assert_eq!(st.terminating_signal(), Some(libc::SIGKILL), "{st:?}");
}

fn a_failed_create_names_the_cause_and_leaves_nothing() {
    let t = Test::new("api-fail");
    let name = machine_name(&t);
    let e = match Machine::create(&spec(&t, &["--bind=/nonexistent/source:/mnt", "/bin/true"])) {
        Ok(_) => panic!("created with a missing bind source"),
        Err(e) => e.to_string(),
    };
    assert_eq!(e, "--bind=/nonexistent/source:/mnt: stat /nonexistent/source: no such file or directory");
    assert_eq!(cgroups_of_machine(&name), Vec::<std::path::PathBuf>::new());
}

/// `--create-and-leave TREE UUID OUT`: this binary as the first process of
/// `a_later_process_starts_kills_and_tears_down_a_left_machine`: creates the machine with
/// `Model::Detachable`, leaves it, writes PID 1 and the record's directory to OUT, exits.
/// (Not on stdout: PID 1 keeps the creator's stdio, as a container's payload does.)
fn create_and_leave(root: &str, uuid: &str, out: &str) -> ! {
    let s = spec_of(
        Path::new(root),
        uuid,
        &["--overlay=+/etc::/mnt", "/bin/sh", "-c", "echo ran > /ran; echo up > /mnt/up; exec sleep 1000"],
    );
    let m = Machine::create_with(&s, Model::Detachable).unwrap_or_else(|e| panic!("create: {e}"));
    let pid = m.pid1_pid();
    let dir = m.leave().unwrap_or_else(|e| panic!("leave: {e}"));
    fs::write(out, format!("{pid} {}", dir.display())).unwrap();
    std::process::exit(0)
}

fn a_later_process_starts_kills_and_tears_down_a_left_machine() {
    let t = Test::new("api-left");
    let name = machine_name(&t);
    let run = t.host_dir("run");
    std::env::set_var("SPAWNBOX_RUNTIME_DIR", &run);
    let me = std::env::current_exe().unwrap();
    assert_eq!(spawnbox_tests::host::throwaway_uppers(), Vec::<String>::new());
    let result = t.host_dir("created").join("result");
    let st = std::process::Command::new(&me)
        .args(["--create-and-leave", &t.root.display().to_string(), &t.uuid, &result.display().to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "{st:?}");
    let text = fs::read_to_string(&result).unwrap();
    let (pid, dir) = text.trim().split_once(' ').unwrap();
    let pid: i32 = pid.parse().unwrap();
    assert_eq!(Path::new(dir), run.join("machines").join(&name));
    let mut files: Vec<String> =
        fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["lock", "machine", "seccomp", "start", "state"]);

    // Its creator is gone; PID 1 lives on in its cgroup, still at the start FIFO.
    let m = Created::load(&name).expect("load");
    assert_eq!(m.pid(), pid);
    assert!(m.is_running().unwrap());
    assert_eq!(fs::read_link(format!("/proc/{pid}/exe")).unwrap(), me);
    let cgroups = cgroups_of_machine(&name);
    assert_eq!(cgroups.len(), 1, "{cgroups:?}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!t.rpath("/ran").exists(), "the payload ran before start");

    // A start of the same machine meanwhile is refused, and does not touch it.
    let again = match Machine::create(&spec(&t, &["/bin/true"])) {
        Ok(_) => panic!("a second machine {name} was created"),
        Err(e) => e.to_string(),
    };
    assert_eq!(again, format!("machine {name} is running (PID {pid}, created by another process)"));
    assert!(m.is_running().unwrap());

    // The throw-away overlay upper of --overlay=+/etc::/mnt is the machine's, and in its record.
    let up = spawnbox_tests::host::throwaway_uppers();
    assert_eq!(up.len(), 1, "{up:?}");
    let record = fs::read_to_string(Path::new(dir).join("state")).unwrap();
    assert!(record.contains(&format!("temporary=/var/tmp/{}\n", up[0])), "{record}");
    m.start().expect("start");
    assert!(spawnbox_tests::wait_until(std::time::Duration::from_secs(5), || t.rpath("/ran").exists()));
    let upper_file = Path::new("/var/tmp").join(&up[0]).join("upper/up");
    assert!(spawnbox_tests::wait_until(std::time::Duration::from_secs(5), || upper_file.exists()));
    assert!(m.is_running().unwrap());
    m.kill(Signal::KILL).expect("kill");
    assert!(m.wait_exit(std::time::Duration::from_secs(5)).unwrap(), "PID 1 outlived SIGKILL");
    m.teardown().expect("teardown");
    assert!(!Path::new(dir).exists(), "{dir} left");
    assert_eq!(spawnbox_tests::host::throwaway_uppers(), Vec::<String>::new(), "the throw-away upper is left");
    assert_eq!(cgroups_of_machine(&name), Vec::<std::path::PathBuf>::new());
    std::env::remove_var("SPAWNBOX_RUNTIME_DIR");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--create-and-leave") {
        create_and_leave(&args[2], &args[3], &args[4]);
    }
    spawnbox_tests::require_root();
    let cases: [(&str, fn()); 8] = [
        ("created_waits_started_runs_and_wait_gives_the_status", || {
            created_waits_started_runs_and_wait_gives_the_status(false)
        }),
        ("the_same_with_a_user_namespace", || created_waits_started_runs_and_wait_gives_the_status(true)),
        ("created_and_torn_down_without_start_leaves_nothing", created_and_torn_down_without_start_leaves_nothing),
        (
            "created_and_torn_down_with_a_veth_leaves_no_link_and_no_lease",
            created_and_torn_down_with_a_veth_leaves_no_link_and_no_lease,
        ),
        ("wait_serves_the_machines_events_while_it_waits", wait_serves_the_machines_events_while_it_waits),
        ("kill_signals_pid_1", kill_signals_pid_1),
        ("a_failed_create_names_the_cause_and_leaves_nothing", a_failed_create_names_the_cause_and_leaves_nothing),
        (
            "a_later_process_starts_kills_and_tears_down_a_left_machine",
            a_later_process_starts_kills_and_tears_down_a_left_machine,
        ),
    ];
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let mut passed = 0;
    for (name, case) in cases {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        // A panic fails the binary (the panic message and backtrace name the case).
        println!("test {name} ...");
        case();
        println!("test {name} ... ok");
        passed += 1;
    }
    println!("\ntest result: ok. {passed} passed; 0 failed");
}
