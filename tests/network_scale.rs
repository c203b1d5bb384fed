//! Root integration tests of what a `-n` start costs with many containers running (issue 18):
//! the start reads the lease index and nothing per container, and checks a launcher's
//! liveness only where that decides something (a name taken, a full pool, rules about to be
//! added). Each test runs spawnbox in a network namespace it creates, with a state directory
//! of its own, and leaves no link, lease or nft rule behind.

use rustix::process::Signal;
use spawnbox_tests::net::{lease_lines, leases, runtime_dir, Netns};
use spawnbox_tests::{wait_until, Cmd, Test};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn cmd(t: &Test, run: &str, args: &[&str]) -> Cmd {
    let mut c = t.cmd(args);
    c.env("SPAWNBOX_RUNTIME_DIR", run);
    c
}

/// Field 22 of `/proc/PID/stat`: the start time that makes a lease live.
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 1..].split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// A pid that no process has (an exited child's, not yet reused).
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// `n` leases in the index held by `pid` (with its real start time when `live`), subnets
/// 10.0.0.0/28 onwards, and the same leases as the per-container files of spawnbox before
/// the index (`NAME.lease`), which a start must not read either.
fn fake_leases(run: &str, n: u32, pid: u32, live: bool) -> Vec<String> {
    let net = std::path::Path::new(run).join("net");
    std::fs::create_dir_all(&net).unwrap();
    for d in [std::path::Path::new(run), &net] {
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let start = if live { start_time(pid) } else { 1 };
    let mut index = String::new();
    let mut names = Vec::new();
    for i in 0..n {
        let base = 0x0a00_0000 + i * 16;
        let subnet = format!("{}/28", std::net::Ipv4Addr::from(base));
        let addr = std::net::Ipv4Addr::from(base + 2);
        let name = format!("fake{i}");
        index.push_str(&format!("{name} pid={pid} start={start} subnet={subnet} addr={addr}\n"));
        std::fs::write(
            net.join(format!("{name}.lease")),
            format!("pid={pid}\nstart={start}\nsubnet={subnet}\naddr={addr}\n"),
        )
        .unwrap();
        names.push(name);
    }
    std::fs::write(net.join("leases"), index).unwrap();
    names
}

/// `syscr` of `/proc/PID/io`: the read(2) family calls the process made so far.
fn read_calls(pid: i32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines().find_map(|l| l.strip_prefix("syscr: ")).unwrap().parse().unwrap()
}

/// Starts `-n` container `m`, waits until its payload runs, and returns the launcher's read
/// calls up to then and the container's address; then stops it.
fn start_and_count(t: &Test, host: &Netns, run: &str, m: &str) -> (u64, String) {
    host.enter(|| {
        let mut r = cmd(
            t,
            run,
            &["-M", m, "-n", "/bin/sh", "-c", "ip -o -4 addr show host0 | awk '{print $4}'; exec sleep 30"],
        )
        .spawn();
        r.wait_for_stdout("/28\n", T);
        let reads = read_calls(r.pid());
        let addr = r.stdout_so_far().trim().to_string();
        r.kill(Signal::TERM);
        r.wait();
        (reads, addr)
    })
}

/// With 400 live containers in the index (and in the old per-container lease files), a start
/// makes as many read calls as with none: neither the lease files nor any `/proc/PID/stat`
/// is read (the spawnbox before the index made over 800 more), and the subnet still skips
/// every leased one.
#[test]
fn a_start_reads_no_state_per_running_container() {
    let t = Test::new("net-scale-reads");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let before = host.links();
    let m = format!("sr{}", std::process::id());
    let (alone, addr) = start_and_count(&t, &host, &run, &m);
    assert_eq!(addr, "10.0.0.2/28");
    let fakes = fake_leases(&run, 400, std::process::id(), true);
    let (crowded, addr) = start_and_count(&t, &host, &run, &m);
    assert_eq!(addr, "10.0.25.2/28", "the 401st subnet");
    assert!(
        crowded <= alone + 8,
        "a start with 400 leases made {crowded} read calls, {alone} with none: it reads per-container state"
    );
    assert_eq!(leases(&run), fakes, "the live leases stay, the container's went");
    assert!(wait_until(T, || host.links() == before), "links left behind: {:?}", host.links());
}

/// The lease of a launcher that is gone stays in the index while nothing needs it (a start
/// does not check liveness), and goes when the pool is full: a start in a pool of one subnet
/// that a dead launcher holds reclaims it.
#[test]
fn a_dead_launchers_lease_goes_when_its_room_is_needed() {
    let t = Test::new("net-scale-stale");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let before = host.links();
    let m = format!("st{}", std::process::id());
    fake_leases(&run, 1, dead_pid(), false);
    let (_, addr) = start_and_count(&t, &host, &run, &m);
    assert_eq!(addr, "10.0.0.18/28", "the dead launcher's subnet is skipped");
    assert_eq!(leases(&run), ["fake0"], "and its lease left alone");
    let out = host.enter(|| {
        cmd(&t, &run, &["-M", &m, "-n", "--network-address=10.0.0.0/28", "/bin/sh", "-c", "ip -o -4 addr show host0"])
            .run()
    });
    assert!(out.ok().contains(" inet 10.0.0.2/28 "), "{out:?}");
    assert_eq!(lease_lines(&run), Vec::<String>::new(), "the full pool reclaimed the dead lease");
    assert!(wait_until(T, || host.links() == before), "links left behind: {:?}", host.links());
}

/// A SIGKILLed launcher's port forward would win over a new one for the same host port: a
/// start that adds rules first reclaims the rules of launchers that are gone, whatever their
/// machine's name.
#[test]
fn a_start_with_rules_reclaims_the_rules_of_dead_launchers() {
    let t = Test::new("net-scale-rules");
    let host = Netns::new();
    let run = runtime_dir(&t);
    let before = host.links();
    let (a, b) = (format!("ra{}", std::process::id()), format!("rb{}", std::process::id()));
    let rules = ["--network-nat=yes", "-p", "8082:80"];
    host.enter(|| {
        let mut args = vec!["-M", a.as_str(), "-n"];
        args.extend(rules);
        args.extend(["/bin/sh", "-c", "echo ready; exec sleep 30"]);
        let mut r = cmd(&t, &run, &args).spawn();
        r.wait_for_stdout("ready\n", T);
        r.kill(Signal::KILL);
        assert_eq!(r.wait().signal, Some(9));
    });
    assert!(host.ruleset().contains(&format!("comment \"{a}\"")), "{}", host.ruleset());
    // A start without rules leaves them (and the lease) to whoever needs them.
    host.enter(|| cmd(&t, &run, &["-M", &b, "-n", "/bin/true"]).run()).ok();
    assert_eq!(leases(&run), std::slice::from_ref(&a));
    assert!(host.ruleset().contains(&format!("comment \"{a}\"")));
    let mut args = vec!["-M", b.as_str(), "-n"];
    args.extend(rules);
    args.push("/bin/true");
    host.enter(|| cmd(&t, &run, &args).run()).ok();
    assert_eq!(leases(&run), Vec::<String>::new());
    assert!(!host.ruleset().contains("spawnbox"), "nft table left behind: {}", host.ruleset());
    assert!(wait_until(T, || host.links() == before), "links left behind: {:?}", host.links());
    // The killed launcher's cgroup is not the network's to reclaim: --cleanup takes it.
    assert!(!spawnbox_tests::cgroups_of_machine(&a).is_empty(), "the killed machine's cgroup");
    host.enter(|| cmd(&t, &run, &["--cleanup", "-M", &a]).run()).ok();
    assert_eq!(spawnbox_tests::cgroups_of_machine(&a), Vec::<std::path::PathBuf>::new());
}
