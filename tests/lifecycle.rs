//! Root integration tests of how a container ends: exit codes 0..255 (133 → 1), PID 1 killed
//! by a signal, reboot loop, poweroff, `--kill-signal` on SIGTERM/SIGINT, `-b` boot, and
//! spawnbox itself SIGKILLed (no process of the container survives), the stop timeout, and a
//! machine that is still dying when it is started again.

use rustix::process::Signal;
use spawnbox_tests::host::processes_with_cmdline;
use spawnbox_tests::{parallel, wait_until, Test};
use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn exit_codes_0_to_255_pass_through_except_133() {
    let t = Arc::new(Test::new("exit-codes"));
    let pid = std::process::id();
    let t2 = t.clone();
    let results = parallel(256, 4, move |code| {
        // Machine names must not collide while containers run side by side.
        let m = format!("exit{code}-{pid}");
        let out = t2.run(&["-M", &m, "/bin/sh", "-c", &format!("exit {code}")]);
        (out.code, out.stderr.clone(), out.stdout.clone())
    });
    for (code, (got, stderr, stdout)) in results.into_iter().enumerate() {
        let want = if code == 133 { 1 } else { code as i32 };
        assert_eq!((got, stderr.as_str(), stdout.as_str()), (Some(want), "", ""), "exit {code}");
    }
    drop(Arc::try_unwrap(t).ok().expect("test still shared"));
}

#[test]
fn pid_1_killed_by_sigkill_is_reported() {
    let t = Test::new("sigkill-pid1");
    let mut run = t.cmd(&["/bin/sh", "-c", "echo ready; exec sleep 1000"]).spawn();
    run.wait_for_stdout("ready\n", Duration::from_secs(10));
    let pid1 = run.container_pid1();
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid1).unwrap(), Signal::KILL).unwrap();
    let out = run.wait();
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr, "spawnbox: container terminated by signal SIGKILL\n");
    assert_eq!(out.stdout, "ready\n");
}

#[test]
fn reboot_restarts_the_container_in_the_same_process() {
    let t = Test::new("reboot");
    let state = t.host_dir("state");
    t.script(
        "/bin/payload",
        "n=$(cat /state/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /state/count\n\
         echo \"run $n pid $$\"\n\
         if [ $n -eq 1 ]; then reboot -f; sleep 10; echo not-rebooted; fi\n\
         exit 7",
    );
    let out = t.run(&[&format!("--bind={}:/state", state.display()), "/bin/payload"]);
    assert_eq!(out.code(7), "run 1 pid 1\nrun 2 pid 1\n", "{out:?}");
    assert_eq!(out.stderr, "");
    assert_eq!(fs::read_to_string(state.join("count")).unwrap(), "2\n");
}

#[test]
fn reboot_is_announced_when_not_quiet() {
    let t = Test::new("reboot-msg");
    let state = t.host_dir("state");
    t.script("/bin/payload", "if [ -e /state/once ]; then exit 0; fi; touch /state/once; reboot -f; sleep 10");
    let m = format!("rb-{}", std::process::id());
    let out = t
        .cmd(&[
            "--console=read-only",
            "--timezone=off",
            "-M",
            &m,
            &format!("--bind={}:/state", state.display()),
            "/bin/payload",
        ])
        .run();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains(&format!("Container {m} is being rebooted.")), "{out:?}");
}

#[test]
fn poweroff_exits_0() {
    let t = Test::new("poweroff");
    let out = t.sh(&[], "echo before; poweroff -f; sleep 10; echo after");
    assert_eq!(out.ok(), "before\n");
    let out = t.sh(&[], "halt -f; sleep 10; exit 3");
    assert_eq!(out.ok(), "");
}

#[test]
fn sigterm_to_spawnbox_kills_pid_1_with_sigkill_by_default() {
    let t = Test::new("kill-default");
    // PID 1 traps TERM: the default kill signal (SIGKILL) must be used anyway.
    let mut run = t.cmd(&["/bin/sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 1; done"]).spawn();
    run.wait_for_stdout("ready\n", Duration::from_secs(10));
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr, "spawnbox: container terminated by signal SIGKILL\n");
}

#[test]
fn kill_signal_is_sent_on_sigterm_and_sigint() {
    let t = Test::new("kill-signal");
    for (sig, opt) in [
        (Signal::TERM, "--kill-signal=SIGTERM"),
        (Signal::INT, "--kill-signal=TERM"),
        (Signal::TERM, "--kill-signal=15"),
    ] {
        let mut run =
            t.cmd(&[opt, "/bin/sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; sleep 1000 & wait"]).spawn();
        run.wait_for_stdout("ready\n", Duration::from_secs(10));
        run.kill(sig);
        let out = run.wait();
        assert_eq!(out.code(42), "ready\ngot-term\n", "{opt} {sig:?}: {out:?}");
        assert_eq!(out.stderr, "", "{out:?}");
    }
}

#[test]
fn second_sigterm_escalates_to_sigkill() {
    let t = Test::new("kill-twice");
    // PID 1 ignores the first (trapped, no exit) request; the second one is SIGKILL.
    let mut run = t
        .cmd(&[
            "--kill-signal=SIGUSR1",
            "/bin/sh",
            "-c",
            "trap 'echo usr1' USR1; echo ready; while :; do sleep 1; done",
        ])
        .spawn();
    run.wait_for_stdout("ready\n", Duration::from_secs(10));
    run.kill(Signal::TERM);
    run.wait_for_stdout("usr1\n", Duration::from_secs(10));
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr, "spawnbox: container terminated by signal SIGKILL\n");
}

/// A tree whose /sbin/init is a script that reports how it was started.
fn boot_tree(tag: &str, init: &str) -> Test {
    let t = Test::new(tag);
    fs::remove_file(t.rpath("/sbin/init")).unwrap();
    t.script("/sbin/init", init);
    t
}

#[test]
fn boot_runs_sbin_init_as_pid_1_with_the_arguments() {
    let t = boot_tree("boot", "echo \"init $$ $0 $*\"; tr '\\0' ' ' < /proc/1/cmdline; echo; exit 3");
    let out = t.run(&["-b", "systemd.unit=rescue.target", "quiet"]);
    assert_eq!(
        out.code(3),
        "init 1 /sbin/init systemd.unit=rescue.target quiet\n/bin/sh /sbin/init systemd.unit=rescue.target quiet \n",
        "{out:?}"
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn boot_prefers_systemd_over_sbin_init() {
    let t = boot_tree("boot-systemd", "echo sbin-init");
    t.script("/lib/systemd/systemd", "echo lib-systemd");
    assert_eq!(t.run(&["--boot"]).ok(), "lib-systemd\n");
    t.script("/usr/lib/systemd/systemd", "echo usr-lib-systemd");
    assert_eq!(t.run(&["--boot"]).ok(), "usr-lib-systemd\n");
}

#[test]
fn boot_default_kill_signal_is_sigrtmin_plus_3() {
    // systemd's SIGRTMIN+3 is 37 (glibc numbering); busybox sh traps it by number.
    let t = boot_tree("boot-kill", "trap 'echo halt-requested; exit 5' 37; echo ready; while :; do sleep 1; done");
    let mut run = t.cmd(&["-b"]).spawn();
    run.wait_for_stdout("ready\n", Duration::from_secs(10));
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code(5), "ready\nhalt-requested\n", "{out:?}");
}

#[test]
fn boot_without_os_release_is_refused() {
    let t = boot_tree("boot-no-osrel", "echo init");
    fs::remove_file(t.rpath("/etc/os-release")).unwrap();
    t.run(&["-b"]).error(&format!(
        "directory {} doesn't look like an OS root directory (os-release file is missing), refusing",
        t.root.display()
    ));
    // /usr/lib/os-release is enough.
    t.write("/usr/lib/os-release", "ID=test\n");
    assert_eq!(t.run(&["-b"]).ok(), "init\n");
}

#[test]
fn boot_without_init_is_refused() {
    let t = Test::new("boot-no-init");
    fs::remove_file(t.rpath("/sbin/init")).unwrap();
    t.run(&["-b"]).error(&format!(
        "cannot find an init in {} (tried /usr/lib/systemd/systemd, /lib/systemd/systemd, /sbin/init)",
        t.root.display()
    ));
    // A non-executable file is not an init either.
    t.write("/sbin/init", "#!/bin/sh\n");
    t.run(&["-b"]).error(&format!(
        "cannot find an init in {} (tried /usr/lib/systemd/systemd, /lib/systemd/systemd, /sbin/init)",
        t.root.display()
    ));
}

#[test]
fn sigkill_to_spawnbox_takes_the_whole_container_down() {
    let t = Test::new("launcher-kill");
    // A unique marker in the sleeps' argv finds them on the host.
    let marker = format!("{}{:05}", 7_000_000 + (std::process::id() % 1_000_000), 4242);
    let script = format!("sleep {marker}1 & sleep {marker}2 & (sleep {marker}3 &) ; echo ready; exec sleep {marker}0");
    let mut run = t.cmd(&["/bin/sh", "-c", &script]).spawn();
    run.wait_for_stdout("ready\n", Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(5), || processes_with_cmdline(&format!("sleep {marker}")).len() == 4),
        "container processes did not start"
    );
    run.kill(Signal::KILL);
    let out = run.wait();
    assert_eq!(out.signal, Some(9), "{out:?}");
    let gone = wait_until(Duration::from_secs(5), || processes_with_cmdline(&format!("sleep {marker}")).is_empty());
    assert!(gone, "container processes survived spawnbox: {:?}", processes_with_cmdline(&format!("sleep {marker}")));
    // A killed spawnbox cannot remove the machine's cgroup; `--cleanup` does.
    let out = t.bare().arg("--cleanup").run();
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), ""), "{out:?}");
    let name = t.root.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        spawnbox_tests::cgroups_of_machine(&name),
        Vec::<std::path::PathBuf>::new(),
        "cgroup left after --cleanup"
    );
}

#[test]
fn boot_guest_that_ignores_the_request_is_killed_after_the_stop_timeout() {
    // An init with no handler for SIGRTMIN+3: the request is dropped by the kernel.
    let t = boot_tree("boot-timeout", "echo ready; while :; do sleep 1; done");
    let mut run =
        t.cmd(&["-b", "--timezone=off"]).env("SPAWNBOX_STOP_TIMEOUT", "1").env("SPAWNBOX_LOG", "warn").spawn();
    run.wait_for_stdout("ready\n", Duration::from_secs(10));
    let asked = Instant::now();
    run.kill(Signal::TERM);
    let out = run.wait();
    let took = asked.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(out.code, Some(1), "{out:?}");
    let name = t.root.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        out.stderr,
        format!(
            "WARN  [spawnbox::launch] Container {name} did not stop within 1 s, killing it.\n\
             spawnbox: container terminated by signal SIGKILL\n"
        )
    );
}

#[test]
fn a_dying_machine_is_waited_for_then_killed_and_a_live_one_refused() {
    let t = Test::new("dying");
    let name = t.root.file_name().unwrap().to_string_lossy().into_owned();
    let mut run = t.cmd(&["/bin/sh", "-c", "echo ready; exec sleep 1000"]).spawn();
    run.wait_for_stdout("ready\n", Duration::from_secs(10));
    let scope = spawnbox_tests::cgroups_of_machine(&name);
    assert_eq!(scope.len(), 1, "{scope:?}");
    // The launcher lives: a second start of the machine is refused by the registry (which
    // holds the name), and changes nothing.
    let pid1 = run.container_pid1();
    t.run(&["/bin/true"]).error(&format!(
        "machine {name} is already running (PID {pid1})\nhint: spawnctl poweroff {name}, or -M to pick another name"
    ));
    assert_eq!(spawnbox_tests::cgroups_of_machine(&name), scope);
    // A straggler outside the container's PID namespace keeps the cgroup busy after the
    // launcher is SIGKILLed: the machine is still dying.
    let mut straggler = std::process::Command::new("sleep").arg("100000").spawn().unwrap();
    fs::write(scope[0].join("cgroup.procs"), straggler.id().to_string()).unwrap();
    run.kill(Signal::KILL);
    assert_eq!(run.wait().signal, Some(9));
    let started = Instant::now();
    let out = t.cmd(&["/bin/sh", "-c", "echo second"]).env("SPAWNBOX_LOG", "info").run();
    let took = started.elapsed();
    assert_eq!(out.code(0), "second\n");
    assert!(took >= Duration::from_secs(5) && took < Duration::from_secs(20), "took {took:?}");
    assert!(out.stderr.contains("Waiting for the previous instance of this machine to finish dying."), "{out:?}");
    assert!(out.stderr.contains("still has processes after 5 s, killing them"), "{out:?}");
    let st = straggler.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9), "{st:?}");
}

#[test]
fn no_warning_about_default_capabilities_the_host_lacks() {
    let t = Test::new("caps-quiet");
    // Not quiet: every message of a default start would show.
    let out = t.cmd(&["/bin/true"]).env("SPAWNBOX_LOG", "info").run();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(!out.stderr.contains("not retained"), "{out:?}");
}

#[test]
fn boot_nested_in_a_cgroup_namespace_whose_root_holds_only_the_launcher() {
    // What a user has as the entrypoint of a podman or docker container: spawnbox runs alone in
    // the root of its cgroup namespace, which is not the host's root, so controllers cannot be
    // enabled there while it stays (EBUSY). The launcher moves into supervisor/ (nspawn's
    // supervisor/payload split) and the guest gets every controller the namespace has.
    let (out, controllers, leftover) = boot_in_cgroup_namespace("boot-nested", "");
    assert_eq!(out.ok(), format!("0::/init.scope\ncontrollers: {controllers}\n"));
    assert!(!cgroup2_controllers().is_empty(), "the host's cgroup2 root enables no controller");
    assert_eq!(controllers, cgroup2_controllers());
    assert!(leftover.is_empty(), "{leftover:?}");
}

#[test]
fn boot_nested_in_a_cgroup_namespace_whose_root_holds_other_processes() {
    // A shell beside spawnbox in the namespace root (docker exec, a login inside an LXC
    // container): moving the launcher would not help, so the controllers are left alone and the
    // guest boots with none, as nspawn does.
    let (out, _, leftover) = boot_in_cgroup_namespace("boot-nested-shared", "sleep 1000 >/dev/null 2>&1 &");
    assert_eq!(out.ok(), "0::/init.scope\ncontrollers:\n");
    assert!(leftover.is_empty(), "{leftover:?}");
}

/// Boots a tree whose init reports its cgroup and controllers, with spawnbox started in the
/// root of a new cgroup namespace below a fresh host cgroup (after `before`, run in that root).
/// Returns the run, the controllers the namespace root offers and the directories left below it.
fn boot_in_cgroup_namespace(tag: &str, before: &str) -> (spawnbox_tests::Output, String, Vec<std::path::PathBuf>) {
    let t = boot_tree(tag, "grep ^0:: /proc/self/cgroup; echo controllers: $(cat /sys/fs/cgroup/cgroup.controllers)");
    let outer = HostCgroup::new(cgroup2_mount().join(format!("spawnbox-{tag}-{}", std::process::id())));
    let controllers = fs::read_to_string(outer.0.join("cgroup.controllers")).unwrap().trim().to_string();
    let setup = format!(
        "echo $$ > {o}/cgroup.procs\n\
         set -- unshare --cgroup /bin/sh -c 'mount -n -t cgroup2 none /sys/fs/cgroup || exit 1; {before} exec \"$@\"' sh \"$@\"",
        o = outer.0.display()
    );
    let out = t.cmd(&["-b"]).in_private_mount_ns(&setup).run();
    let leftover: Vec<_> =
        fs::read_dir(&outer.0).unwrap().flatten().filter(|e| e.path().is_dir()).map(|e| e.path()).collect();
    drop(outer);
    (out, controllers, leftover)
}

/// A cgroup a test made on the host: on drop (a failed assertion too), whatever runs in it is
/// killed and it is removed with everything below it.
struct HostCgroup(std::path::PathBuf);

impl HostCgroup {
    fn new(path: std::path::PathBuf) -> HostCgroup {
        fs::create_dir(&path).unwrap();
        HostCgroup(path)
    }
}

impl Drop for HostCgroup {
    fn drop(&mut self) {
        fn dirs(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            out.push(d.to_path_buf());
            for e in fs::read_dir(d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    dirs(&e.path(), out);
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut all = Vec::new();
            dirs(&self.0, &mut all);
            for d in &all {
                for pid in fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default().split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        let _ =
                            rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), Signal::KILL);
                    }
                }
            }
            // Deepest first.
            for d in all.iter().rev() {
                let _ = fs::remove_dir(d);
            }
            if !self.0.exists() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.0.exists() && !std::thread::panicking() {
            panic!("{} stays busy", self.0.display());
        }
    }
}

/// What the host's cgroup2 root enables for its children.
fn cgroup2_controllers() -> String {
    fs::read_to_string(cgroup2_mount().join("cgroup.subtree_control")).unwrap().trim().to_string()
}

#[test]
fn boot_inside_a_booted_container() {
    // An outer booted container whose init runs spawnbox -b on a guest tree inside it: the
    // inner one gets the controllers the outer one was given, and a --property that needs a
    // controller the outer one does not have is a clear error.
    let t = boot_tree(
        "boot-in-boot",
        "echo outer: $(grep ^0:: /proc/self/cgroup)\n\
         /usr/bin/spawnbox -b -D /guest --console=pipe -M inner; echo inner-exit=$?\n\
         /usr/bin/spawnbox -b -D /guest --console=pipe -M inner --property=TasksMax=5; echo inner-exit=$?\n\
         ls -d /sys/fs/cgroup/machine.slice 2>&1 | sed 's/.*: //'",
    );
    fs::create_dir_all(t.rpath("/usr/bin")).unwrap();
    fs::copy(spawnbox_tests::spawnbox_bin(), t.rpath("/usr/bin/spawnbox")).unwrap();
    let st = std::process::Command::new("bash")
        .arg(spawnbox_tests::workspace().join("tests/mkrootfs.sh"))
        .arg(t.rpath("/guest"))
        .output()
        .unwrap();
    assert!(st.status.success(), "{st:?}");
    fs::remove_file(t.rpath("/guest/sbin/init")).unwrap();
    t.script(
        "/guest/sbin/init",
        "echo inner: $(grep ^0:: /proc/self/cgroup) $(cat /sys/fs/cgroup/cgroup.controllers)\nexit 7",
    );
    let host_controllers = fs::read_to_string(cgroup2_mount().join("cgroup.controllers")).unwrap();
    let out = t.cmd(&["-b"]).run();
    let inner = host_controllers.trim();
    let pids = inner.split(' ').any(|c| c == "pids");
    let second = if pids { format!("inner: 0::/init.scope {inner}\ninner-exit=7") } else { "inner-exit=1".to_string() };
    assert_eq!(
        out.code(0),
        format!(
            "outer: 0::/init.scope\ninner: 0::/init.scope {inner}\ninner-exit=7\n{second}\nNo such file or directory\n"
        )
    );
    let want_err =
        if pids { "" } else { "spawnbox: --property=TasksMax=5: pids controller not available in /sys/fs/cgroup\n" };
    assert_eq!(out.stderr, want_err);
}

/// Where the host's cgroup2 hierarchy is mounted (`/sys/fs/cgroup/unified` on hybrid hosts).
fn cgroup2_mount() -> std::path::PathBuf {
    fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(2) == Some(&"cgroup2")).then(|| std::path::PathBuf::from(f[1]))
        })
        .expect("a cgroup2 mount")
}
