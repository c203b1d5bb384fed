//! `spawnbox -a/--as-pid2` end to end: the embedded spawnbox-init is PID 1 (run from a sealed
//! memfd, nothing written into the tree), the payload PID 2; exit statuses pass through;
//! poweroff and reboot requests sent to PID 1 end or restart the container.

use spawnbox_tests::{host::tree_listing, Test};
use std::fs;
use std::time::Duration;

#[test]
fn payload_is_pid_2_under_spawnbox_init_from_a_memfd() {
    let t = Test::new("pid2");
    let before = tree_listing(&t.root);
    let out = t.sh(
        &["-a", "--resolv-conf=off", "--timezone=off"],
        "echo \"$$ $(cat /proc/1/comm) $(readlink /proc/1/exe)\"; tr '\\0' ' ' < /proc/1/cmdline; echo",
    );
    assert_eq!(
        out.ok(),
        "2 spawnbox-init /memfd:spawnbox-init (deleted)\nspawnbox-init --container -- /bin/sh -c echo \"$$ $(cat /proc/1/comm) $(readlink /proc/1/exe)\"; tr '\\0' ' ' < /proc/1/cmdline; echo \n"
    );
    assert_eq!(tree_listing(&t.root), before, "spawnbox -a wrote into the tree");
}

#[test]
fn exit_status_passes_through_pid_1() {
    let t = Test::new("pid2-exit");
    assert_eq!(t.sh(&["-a"], "exit 7").code, Some(7));
    assert_eq!(t.sh(&["-a"], "exit 0").code, Some(0));
    // Killed by a signal: spawnbox-init exits 128+signal.
    assert_eq!(t.sh(&["-a"], "kill -TERM $$").code, Some(143));
}

#[test]
fn default_shell_runs_as_pid_2() {
    let t = Test::new("pid2-shell");
    let out = t.cmd(&["-a"]).stdin(b"echo shell-pid=$$\nexit 3\n").run();
    assert_eq!(out.code(3), "shell-pid=2\n");
}

#[test]
fn sigrtmin_plus_4_to_pid_1_powers_off_with_status_0() {
    let t = Test::new("pid2-poweroff");
    let mut run = t.cmd(&["-a", "/bin/sh", "-c", "echo ready; exec sleep 1000"]).spawn();
    run.wait_for_stdout("ready\n", Duration::from_secs(10));
    let pid1 = run.container_pid1();
    // systemd numbering: SIGRTMIN+4 = 38.
    assert_eq!(unsafe { libc::kill(pid1, 38) }, 0);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "ready\n");
}

#[test]
fn sigint_to_pid_1_reboots_the_container() {
    let t = Test::new("pid2-reboot");
    let state = t.host_dir("state");
    t.script(
        "/bin/payload",
        "n=$(cat /state/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /state/count\n\
         echo \"run $n pid $$\"\n\
         if [ $n -eq 1 ]; then exec sleep 1000; fi\n\
         exit 5",
    );
    let bind = format!("--bind={}:/state", state.display());
    let mut run = t.cmd(&["-a", &bind, "/bin/payload"]).spawn();
    run.wait_for_stdout("run 1 pid 2\n", Duration::from_secs(10));
    let pid1 = run.container_pid1();
    assert_eq!(unsafe { libc::kill(pid1, libc::SIGINT) }, 0);
    let out = run.wait();
    assert_eq!(out.code(5), "run 1 pid 2\nrun 2 pid 2\n", "{out:?}");
    assert_eq!(fs::read_to_string(state.join("count")).unwrap(), "2\n");
}
