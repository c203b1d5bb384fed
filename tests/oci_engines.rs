//! The OCI runtime under test (`build/spawnbox-runc`, or `$SPAWNBOX_OCI_RUNTIME`) driven end to
//! end by the engines that use runc's command line (issue 19): podman/conmon, containerd with
//! `ctr` and its runc v2 shim, and dockerd on containerd with `--add-runtime` (the path Nomad's
//! docker driver takes). Each test starts its own engine, with all its state in a temp dir
//! (`tests/common/engines.rs`), on the cached busybox image (`tests/engines/mkimage.sh`), and
//! compares exact outputs and exit codes; the engine's `Drop` then checks that no container,
//! process, cgroup or runtime state was left and removes what was.
//!
//! Every case also checks what the runtime must not leak into the container: `ls /proc/self/fd`
//! shows exactly 0, 1, 2 and the directory fd of `ls` itself (3); an engine's fds (conmon's sync
//! pipes, the shim's socket) would appear as 4 and up.
//!
//! Validate the harness with runc: `SPAWNBOX_OCI_RUNTIME=/usr/sbin/runc cargo test -p
//! spawnbox-tests --test oci_engines`.

use spawnbox_tests::engines::{entries, image, runtime, Containerd, Dockerd, Podman};
use spawnbox_tests::pty::Pty;
use spawnbox_tests::{parallel, wait_until, Output};
use std::sync::Arc;
use std::time::Duration;

/// What `ls /proc/self/fd` prints in a container that inherited only stdin, stdout and stderr.
const FDS: &str = "0\n1\n2\n3\n";

/// A PID 1 that exits with status 0 on SIGTERM (a plain `sleep` as PID 1 ignores it).
const SERVE: &[&str] = &["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"];

fn no_stderr(o: &Output) -> &Output {
    assert_eq!(o.stderr, "", "{o:?}");
    o
}

/// `docker run -d`'s container id. docker.io 20.10's CLI may also log `error waiting for
/// container: context canceled` as it returns (its wait goroutine outlives the command;
/// docker/cli#5043, fixed in 26.1): that line alone is taken out of stderr, nothing else.
fn detached_id(o: &Output) -> String {
    const CLI_BUG: &str = "level=error msg=\"error waiting for container: context canceled\"";
    let rest: Vec<&str> = o.stderr.lines().filter(|l| !(l.starts_with("time=") && l.ends_with(CLI_BUG))).collect();
    assert!(o.code == Some(0) && rest.is_empty(), "expected success with empty stderr: {o:?}");
    o.stdout.trim().to_string()
}

/// The pty's output once `run` has exited.
fn pty_text(pty: &mut Pty) -> String {
    pty.pump();
    pty.text()
}

// ---------------------------------------------------------------------------------- podman ---

#[test]
fn podman_run_rm_gives_exact_output_and_exit_status() {
    let p = Arc::new(Podman::new());
    let cases: Vec<(Vec<&'static str>, i32, &'static str)> = vec![
        (vec!["/bin/echo", "hello from podman"], 0, "hello from podman\n"),
        (vec!["/bin/sh", "-c", "exit 3"], 3, ""),
        (vec!["/bin/ls", "/proc/self/fd"], 0, FDS),
        (vec!["/bin/sh", "-c", "echo out; echo err >&2; exit 7"], 7, "out\n"),
    ];
    let cases = Arc::new(cases);
    let (p2, c2) = (p.clone(), cases.clone());
    let outs = parallel(cases.len(), 2, move |i| p2.run(&["--rm"], &c2[i].0).run());
    for (o, (cmd, code, stdout)) in outs.iter().zip(cases.iter()) {
        assert_eq!(o.code(*code), *stdout, "{cmd:?}");
    }
    assert_eq!(outs[3].stderr, "err\n");
    for o in &outs[..3] {
        no_stderr(o);
    }
    // --rm: podman and the runtime forgot them.
    assert_eq!(p.containers(), "");
}

#[test]
fn podman_detached_container_exec_stop_and_rm() {
    let p = Podman::new();
    let id = p.run(&["-d", "--name=served"], SERVE).run().ok().trim().to_string();
    assert_eq!(id.len(), 64, "{id:?}");
    // The runtime keeps its state where podman's calls say (the wrapper's --root).
    assert_eq!(entries(&p.runtime_root), [id.as_str()]);
    let ps = p.podman(&["ps", "--format={{.Names}} {{.Status}}"]).run();
    assert!(ps.ok().starts_with("served Up "), "{ps:?}");
    assert_eq!(p.podman(&["exec", "served", "/bin/echo", "hi", "there"]).run().ok(), "hi there\n");
    assert_eq!(p.podman(&["exec", "served", "/bin/sh", "-c", "exit 5"]).run().code(5), "");
    assert_eq!(no_stderr(&p.podman(&["exec", "served", "/bin/ls", "/proc/self/fd"]).run()).code(0), FDS);
    // PID 1 sees only what it was given too.
    assert_eq!(p.podman(&["exec", "served", "/bin/ls", "/proc/1/fd"]).run().ok(), "0\n1\n2\n");
    // exec -t: conmon hands the runtime a console socket; the process gets a pty as its
    // stdin, stdout and stderr.
    let mut pty = Pty::new(24, 80);
    let out = p
        .podman(&["exec", "-t", "served", "/bin/sh", "-c", "tty; [ -t 0 ] && [ -t 2 ] && echo all-ttys"])
        .terminal(pty.slave())
        .run();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(pty_text(&mut pty), "/dev/pts/0\r\nall-ttys\r\n");
    // stop: the runtime's kill delivers SIGTERM, PID 1 exits 0 within the grace time.
    let stop = p.podman(&["stop", "-t", "10", "served"]).run();
    assert_eq!(stop.ok(), "served\n");
    let st = p.podman(&["inspect", "--format={{.State.Status}} {{.State.ExitCode}}", "served"]).run();
    assert_eq!(st.ok(), "exited 0\n");
    assert_eq!(p.podman(&["rm", "served"]).run().ok(), "served\n");
    assert_eq!(p.containers(), "");
    assert!(entries(&p.runtime_root).is_empty(), "runtime state left");
}

// ------------------------------------------------------------------------------ containerd ---

#[test]
fn ctr_run_rm_gives_exact_output_and_exit_status() {
    let c = Arc::new(Containerd::new());
    let cases: Vec<(Vec<&'static str>, i32, &'static str)> = vec![
        (vec!["/bin/echo", "hello from containerd"], 0, "hello from containerd\n"),
        (vec!["/bin/sh", "-c", "exit 3"], 3, ""),
        (vec!["/bin/ls", "/proc/self/fd"], 0, FDS),
    ];
    let cases = Arc::new(cases);
    let (c2, k2) = (c.clone(), cases.clone());
    let outs = parallel(cases.len(), 2, move |i| c2.run(&["--rm"], &format!("rm{i}"), &k2[i].0).run());
    for (o, (cmd, code, stdout)) in outs.iter().zip(cases.iter()) {
        assert_eq!(no_stderr(o).code(*code), *stdout, "{cmd:?}");
    }
    assert_eq!(c.containers(), "");
    assert!(entries(&c.runtime_root()).is_empty(), "runtime state left");
}

#[test]
fn ctr_detached_task_exec_kill_and_delete() {
    let c = Containerd::new();
    assert_eq!(c.run(&["-d"], "served", SERVE).run().ok(), "");
    let running = |c: &Containerd| {
        let ls = c.ctr(&["tasks", "ls"]).run();
        ls.ok().lines().skip(1).map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string()).collect::<Vec<_>>()
    };
    assert_eq!(running(&c), ["RUNNING"]);
    assert_eq!(entries(&c.runtime_root()), ["served"]);
    assert_eq!(
        c.ctr(&["tasks", "exec", "--exec-id=e1", "served", "/bin/echo", "hi", "there"]).run().ok(),
        "hi there\n"
    );
    assert_eq!(c.ctr(&["tasks", "exec", "--exec-id=e2", "served", "/bin/sh", "-c", "exit 4"]).run().code(4), "");
    assert_eq!(c.ctr(&["tasks", "exec", "--exec-id=e3", "served", "/bin/ls", "/proc/self/fd"]).run().ok(), FDS);
    assert_eq!(c.ctr(&["tasks", "exec", "--exec-id=e4", "served", "/bin/ls", "/proc/1/fd"]).run().ok(), "0\n1\n2\n");
    // exec -t: the shim hands the runtime a console socket. ctr resizes the pty right after
    // the start and complains on stderr (here, the pty) when the process has already exited:
    // only the first lines are the process's. ctr leaves the test's terminal cooked, so each
    // "\r\n" of the container's pty gains another "\r" on the way out.
    let mut pty = Pty::new(24, 80);
    let out = c
        .ctr(&[
            "tasks",
            "exec",
            "-t",
            "--exec-id=e5",
            "served",
            "/bin/sh",
            "-c",
            "tty; [ -t 0 ] && [ -t 2 ] && echo all-ttys",
        ])
        .terminal(pty.slave())
        .run();
    assert_eq!(out.code, Some(0), "{out:?}");
    let text = pty_text(&mut pty);
    assert!(text.starts_with("/dev/pts/0\r\r\nall-ttys\r\r\n"), "{text:?}");
    // kill (SIGTERM by default): PID 1 exits 0.
    assert_eq!(c.ctr(&["tasks", "kill", "served"]).run().ok(), "");
    assert!(wait_until(Duration::from_secs(10), || running(&c) == ["STOPPED"]), "{:?}", running(&c));
    assert_eq!(c.ctr(&["tasks", "delete", "served"]).run().ok(), "");
    assert_eq!(c.ctr(&["containers", "rm", "served"]).run().ok(), "");
    assert_eq!(c.containers(), "");
    assert!(entries(&c.runtime_root()).is_empty(), "runtime state left");
}

// --------------------------------------------------------------------------------- dockerd ---

#[test]
fn docker_run_rm_with_the_runtime_gives_exact_output_and_exit_status() {
    let d = Arc::new(Dockerd::new());
    let cases: Vec<(Vec<&'static str>, i32, &'static str)> = vec![
        (vec!["/bin/echo", "hello from docker"], 0, "hello from docker\n"),
        (vec!["/bin/sh", "-c", "exit 3"], 3, ""),
        (vec!["/bin/ls", "/proc/self/fd"], 0, FDS),
    ];
    let cases = Arc::new(cases);
    let (d2, k2) = (d.clone(), cases.clone());
    let outs = parallel(cases.len(), 2, move |i| d2.run(&["--rm"], &k2[i].0).run());
    for (o, (cmd, code, stdout)) in outs.iter().zip(cases.iter()) {
        assert_eq!(no_stderr(o).code(*code), *stdout, "{cmd:?}");
    }
    assert_eq!(d.containers(), "");
    // The containers really ran on the runtime under test.
    let info = d.docker(&["info", "--format={{json .Runtimes}}"]).run();
    assert!(info.ok().contains(&runtime().display().to_string()), "{info:?}");
}

#[test]
fn docker_detached_container_exec_stop_and_rm() {
    let d = Dockerd::new();
    let id = detached_id(&d.run(&["-d", "--name=served"], SERVE).run());
    assert_eq!(id.len(), 64, "{id:?}");
    let rt = d.docker(&["inspect", "--format={{.HostConfig.Runtime}}", "served"]).run();
    assert_eq!(rt.ok(), format!("{}\n", d.runtime));
    assert_eq!(entries(&d.runtime_root()), [id.as_str()], "{:?}", spawnbox_tests::tree_listing(&d.dir.join("exec")));
    assert_eq!(d.docker(&["exec", "served", "/bin/echo", "hi", "there"]).run().ok(), "hi there\n");
    assert_eq!(d.docker(&["exec", "served", "/bin/sh", "-c", "exit 6"]).run().code(6), "");
    assert_eq!(d.docker(&["exec", "served", "/bin/ls", "/proc/self/fd"]).run().ok(), FDS);
    assert_eq!(d.docker(&["stop", "-t", "10", "served"]).run().ok(), "served\n");
    let st = d.docker(&["inspect", "--format={{.State.Status}} {{.State.ExitCode}}", "served"]).run();
    assert_eq!(st.ok(), "exited 0\n");
    assert_eq!(d.docker(&["rm", "served"]).run().ok(), "served\n");
    assert_eq!(d.containers(), "");
    assert!(entries(&d.runtime_root()).is_empty(), "runtime state left");
}

/// The image the tests use is the cached one, and importable by all engines (the harness itself).
#[test]
fn the_busybox_image_is_cached_outside_the_repo() {
    let img = image();
    assert!(img.rootfs_tar.is_file() && img.archive.is_file(), "{}", img.dir.display());
    assert!(!img.dir.starts_with(spawnbox_tests::workspace()), "{}", img.dir.display());
    assert_eq!(img.name, "localhost/spawnbox-busybox:latest");
}
