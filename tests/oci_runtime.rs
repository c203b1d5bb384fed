//! Root integration tests of `spawnbox-runc` (runc's command-line contract, docs/OCI.md) on
//! bundles the tests write around the busybox tree: create → state `created` → start →
//! `running` → kill → `stopped` → delete; run with exact output and exit status; exec with and
//! without a terminal through a console socket the test listens on; hooks with the state on
//! stdin; a bad config.json refused with its JSON path and nothing left. The container ID is
//! the tree's directory name, so `Test`'s drop checks that no cgroup, registry entry, mount or
//! process of it is left.

use spawnbox_tests::oci::{bundle, config, field, output, read_until, receive_console, rt, runtime, text};
use spawnbox_tests::{wait_until, Test};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn create_start_kill_delete_and_the_states_between() {
    let t = Test::new("oci-life");
    let id = t.name();
    let b = bundle(&t, &config(&t, &["sh", "-c", "echo started in $(pwd) as $(hostname); exec sleep 100"], false, ""));
    let out = t.path("out");
    let pidfile = t.path("pid");
    // The container's stdout is create's: a file here.
    let st = Command::new(runtime(&t))
        .args(["--root", t.path("state").to_str().unwrap(), "create", "--pid-file", pidfile.to_str().unwrap()])
        .arg(&id)
        .args(["--bundle", b.to_str().unwrap()])
        .stdout(fs::File::create(&out).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    let pid = fs::read_to_string(&pidfile).unwrap();
    assert!(pid.parse::<i32>().unwrap() > 1, "pid file {pid:?} (no newline, as runc)");
    let s = text(&rt(&t, &["state", &id]).stdout);
    assert_eq!(
        (field(&s, "id"), field(&s, "pid"), field(&s, "status"), field(&s, "bundle"), field(&s, "rootfs")),
        (id.clone(), pid.clone(), "created".into(), b.display().to_string(), t.root.display().to_string())
    );
    assert_eq!(field(&s, "ociVersion"), "1.2.0");
    assert_eq!(fs::read_to_string(&out).unwrap(), "", "the process waits for start");
    let o = rt(&t, &["start", &id]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(wait_until(Duration::from_secs(5), || fs::read_to_string(&out).unwrap_or_default().contains('\n')));
    assert_eq!(fs::read_to_string(&out).unwrap(), "started in /srv/work as oci-box\n");
    assert_eq!(field(&text(&rt(&t, &["state", &id]).stdout), "status"), "running");
    let o = rt(&t, &["start", &id]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), "spawnbox-runc: cannot start an already running container\n".into())
    );
    let o = rt(&t, &["delete", &id]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), format!("spawnbox-runc: cannot delete container {id} that is not stopped: running\n"))
    );
    let l = text(&rt(&t, &["list", "--quiet"]).stdout);
    assert_eq!(l, format!("{id}\n"));
    assert!(rt(&t, &["kill", &id, "KILL"]).status.success());
    assert!(wait_until(Duration::from_secs(5), || field(&text(&rt(&t, &["state", &id]).stdout), "status") == "stopped"));
    assert_eq!(field(&text(&rt(&t, &["state", &id]).stdout), "pid"), "0");
    assert!(rt(&t, &["delete", &id]).status.success());
    let o = rt(&t, &["state", &id]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), format!("spawnbox-runc: container {id} does not exist\n"))
    );
    assert_eq!(fs::read_dir(t.path("state")).unwrap().count(), 0);
}

#[test]
fn run_prints_exactly_and_exits_with_the_status_and_no_descriptor_leaks_in() {
    let t = Test::new("oci-run");
    let id = t.name();
    let script =
        "echo $GREETING $HOME; ls /proc/self/fd | tr '\\n' ' '; echo; id -u; cat /proc/self/status | grep -E '^CapBnd'; \
                  stat -c %t:%T /proc/keys; ls /proc/bus | wc -l; touch /proc/sys/x 2>/dev/null || echo sys ro; exit 3";
    let b = bundle(&t, &config(&t, &["sh", "-c", script], false, ""));
    // An inherited descriptor (3, as conmon's sync pipe) must not reach the container.
    let leak = fs::File::open("/dev/null").unwrap();
    let o = Command::new(runtime(&t))
        .args(["--root", t.path("state").to_str().unwrap(), "run", "--bundle", b.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    drop(leak);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let lines: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
    // HOME from the tree's passwd: config.json's environment has none.
    assert_eq!(lines[0], "hello /root");
    assert_eq!(lines[1], "0 1 2 3 ", "ls's own directory is 3; nothing else");
    assert_eq!(lines[2], "0");
    // config.json's bounding set exactly (CAP_CHOWN 0, CAP_KILL 5), nothing of nspawn's.
    assert_eq!(lines[3], "CapBnd:\t0000000000000021");
    // /proc/keys is the container's /dev/null (1:3) now, /proc/bus an empty directory (the host shows its entries).
    assert_eq!(lines[4..], ["1:3".to_string(), "0".into(), "sys ro".into()][..]);
    assert_eq!(fs::read_dir(t.path("state")).unwrap().count(), 0, "run deletes the container");
}

#[test]
fn a_bad_config_is_one_line_naming_the_json_path_and_leaves_nothing() {
    let t = Test::new("oci-bad");
    let id = t.name();
    let cases = [
        (config(&t, &[], false, ""), "spawnbox-runc: process.args: must not be empty\n".to_string()),
        // Found (or not) before `create` returns, as runc does.
        (
            config(&t, &["no-such-program"], false, ""),
            "spawnbox-runc: exec: \"no-such-program\": executable file not found in $PATH\n".into(),
        ),
        (
            config(&t, &["true"], false, "").replace(r#",{"type":"mount"}"#, ""),
            "spawnbox-runc: linux.namespaces: a container without a mount namespace of its own is not supported by spawnbox-runc\n".into(),
        ),
        (
            config(&t, &["true"], false, "").replace(r#""type":"sysfs""#, r#""type":"nfs""#),
            "spawnbox-runc: mounts[4].type: \"nfs\" is not supported by spawnbox-runc (supported: bind, proc, sysfs, tmpfs, devpts, mqueue, cgroup, cgroup2)\n".into(),
        ),
    ];
    for (c, want) in cases {
        let b = bundle(&t, &c);
        let log = t.path("log.json");
        let o = Command::new(runtime(&t))
            .args(["--root", t.path("state").to_str().unwrap(), "--log", log.to_str().unwrap(), "--log-format", "json"])
            .args(["create", "--bundle", b.to_str().unwrap(), &id])
            .output()
            .unwrap();
        assert_eq!((o.status.code(), text(&o.stderr)), (Some(1), want.clone()));
        let logged = fs::read_to_string(&log).unwrap();
        let msg = want.trim_end().trim_start_matches("spawnbox-runc: ");
        assert!(logged.starts_with("{\"level\":\"error\",\"msg\":"), "{logged}");
        assert!(logged.contains(&msg.replace('"', "\\\"")), "{logged}");
        fs::remove_file(&log).unwrap();
        assert_eq!(fs::read_dir(t.path("state")).map(|d| d.count()).unwrap_or(0), 0);
        assert!(!Path::new("/run/spawnbox/machines").join(&id).exists());
    }
}

#[test]
fn hooks_get_the_state_on_stdin() {
    let t = Test::new("oci-hooks");
    let id = t.name();
    let hook = t.path("hook.sh");
    fs::write(&hook, "#!/bin/sh\ncat > \"$1\"\necho \"args=$# $HOOKVAR\" >> \"$1\"\n").unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let h = |point: &str| {
        format!(
            r#"[{{"path":{p:?},"args":["hook-{point}",{f:?}],"env":["HOOKVAR=v-{point}"],"timeout":5}}]"#,
            p = hook.to_str().unwrap(),
            f = t.path(point).to_str().unwrap()
        )
    };
    let extra = format!(
        r#","hooks":{{"prestart":{},"poststart":{},"poststop":{}}}"#,
        h("prestart"),
        h("poststart"),
        h("poststop")
    );
    let b = bundle(&t, &config(&t, &["sleep", "100"], false, &extra));
    assert!(rt(&t, &["create", "--bundle", b.to_str().unwrap(), &id]).status.success());
    let pid = field(&text(&rt(&t, &["state", &id]).stdout), "pid");
    let want = |status: &str, point: &str| {
        format!(
            "{{\"ociVersion\":\"1.2.0\",\"id\":\"{id}\",\"status\":\"{status}\",\"pid\":{pid},\"bundle\":\"{}\",\"annotations\":{{}}}}args=1 v-{point}\n",
            b.display()
        )
    };
    assert_eq!(fs::read_to_string(t.path("prestart")).unwrap(), want("creating", "prestart"));
    assert!(!t.path("poststart").exists());
    assert!(rt(&t, &["start", &id]).status.success());
    assert_eq!(fs::read_to_string(t.path("poststart")).unwrap(), want("running", "poststart"));
    assert!(rt(&t, &["delete", "--force", &id]).status.success());
    assert_eq!(fs::read_to_string(t.path("poststop")).unwrap(), want("stopped", "poststop"));
}

#[test]
fn exec_with_and_without_a_terminal_through_the_console_socket() {
    let t = Test::new("oci-exec");
    let id = t.name();
    let b = bundle(&t, &config(&t, &["sleep", "100"], true, ""));
    let sock = t.path("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let s = sock.to_str().unwrap().to_string();
    let state = t.path("state").to_str().unwrap().to_string();
    let (b2, id2, rt_path, dir) = (b.clone(), id.clone(), runtime(&t), t.dir.clone());
    let create = std::thread::spawn(move || {
        let mut c = Command::new(rt_path);
        c.args(["--root", &state, "create", "--console-socket", &s, "--bundle", b2.to_str().unwrap(), &id2]);
        output(&dir, c)
    });
    let (master, name) = receive_console(&listener);
    let o = create.join().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(name, b"/dev/pts/0");
    assert!(rt(&t, &["start", &id]).status.success());
    // Without a terminal: the output and the status come back through this process.
    let o = rt(
        &t,
        &[
            "exec",
            "--env",
            "GREETING=from exec",
            "--cwd",
            "/",
            &id,
            "sh",
            "-c",
            "echo $GREETING in $(pwd) $HOME; exit 5",
        ],
    );
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(5), "from exec in / /root\n".into()), "{}", text(&o.stderr));
    // With one: the pty's master comes to the socket; --detach returns at once.
    let pidfile = t.path("exec.pid");
    let s = sock.to_str().unwrap().to_string();
    let (state, id2, rt_path, pf, dir) = (t.path("state"), id.clone(), runtime(&t), pidfile.clone(), t.dir.clone());
    let exec = std::thread::spawn(move || {
        let mut c = Command::new(rt_path);
        c.arg("--root").arg(&state);
        c.args(["exec", "--tty", "--detach", "--console-socket", &s, "--pid-file", pf.to_str().unwrap(), &id2]);
        c.args(["sh", "-c", "tty; echo exec-tty-done; sleep 1"]);
        output(&dir, c)
    });
    let (exec_master, exec_name) = receive_console(&listener);
    let o = exec.join().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(exec_name, b"/dev/pts/1");
    let got = read_until(&exec_master, "exec-tty-done");
    assert_eq!(got.replace('\r', ""), "/dev/pts/1\nexec-tty-done\n");
    assert!(fs::read_to_string(&pidfile).unwrap().parse::<i32>().unwrap() > 1);
    drop(master);
    assert!(rt(&t, &["delete", "--force", &id]).status.success());
}

#[test]
fn pause_resume_ps_and_kill_all() {
    let t = Test::new("oci-pause");
    let id = t.name();
    let b = bundle(&t, &config(&t, &["sh", "-c", "sleep 100 & exec sleep 101"], false, ""));
    assert!(rt(&t, &["create", "--bundle", b.to_str().unwrap(), &id]).status.success());
    assert!(rt(&t, &["start", &id]).status.success());
    let pid1: i32 = field(&text(&rt(&t, &["state", &id]).stdout), "pid").parse().unwrap();
    // PID 1 and its child, by host pid.
    assert!(wait_until(Duration::from_secs(5), || text(&rt(&t, &["ps", "--format", "json", &id]).stdout)
        .matches(',')
        .count()
        == 1));
    let ps = text(&rt(&t, &["ps", "--format", "json", &id]).stdout);
    assert!(ps.starts_with(&format!("[{pid1},")) && ps.ends_with("]\n"), "{ps}");
    let table = text(&rt(&t, &["ps", &id]).stdout);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(table.contains("sleep 101") && table.contains("sleep 100"), "{table}");
    // An exec'd process is in every cgroup of PID 1 (v1 hierarchies too; no cgroup namespace
    // in this config: the host's paths, below the caller's cgroup as runc places them).
    let o = rt(&t, &["exec", &id, "cat", "/proc/self/cgroup"]);
    let pid1_cgroups = fs::read_to_string(format!("/proc/{pid1}/cgroup")).unwrap();
    assert_eq!(text(&o.stdout), pid1_cgroups);
    assert_eq!(pid1_cgroups.lines().filter(|l| l.ends_with(&format!("/{id}"))).count(), pid1_cgroups.lines().count());
    assert!(rt(&t, &["pause", &id]).status.success());
    assert_eq!(field(&text(&rt(&t, &["state", &id]).stdout), "status"), "paused");
    let stat = fs::read_to_string(format!("/proc/{pid1}/stat")).unwrap();
    assert!(!stat.contains(") R "), "{stat}");
    let o = rt(&t, &["exec", &id, "true"]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), format!("spawnbox-runc: cannot exec in a paused container {id} (use --ignore-paused)\n"))
    );
    let o = rt(&t, &["pause", &id]);
    assert_eq!(text(&o.stderr), format!("spawnbox-runc: container {id} is paused, not running\n"));
    assert!(rt(&t, &["resume", &id]).status.success());
    assert_eq!(field(&text(&rt(&t, &["state", &id]).stdout), "status"), "running");
    assert!(rt(&t, &["kill", "--all", &id, "9"]).status.success());
    assert!(wait_until(Duration::from_secs(5), || field(&text(&rt(&t, &["state", &id]).stdout), "status") == "stopped"));
    assert_eq!(text(&rt(&t, &["ps", "--format", "json", &id]).stdout), "[]\n");
    assert!(rt(&t, &["delete", &id]).status.success());
}

/// `create` of a container whose hook at `point` (`prestart`, `createContainer`) touches
/// `hook-ran` and then sleeps: create's process, still running, and the hook's path.
fn create_held_by_hook(t: &Test, point: &str) -> (std::process::Child, PathBuf) {
    let hook = t.path("slow-hook.sh");
    fs::write(&hook, format!("#!/bin/sh\ntouch {}\nexec sleep 100\n", t.path("hook-ran").display())).unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let extra = format!(r#","hooks":{{"{point}":[{{"path":{:?}}}]}}"#, hook.to_str().unwrap());
    let b = bundle(t, &config(t, &["sleep", "100"], false, &extra));
    let create = Command::new(runtime(t))
        .args(["--root", t.path("state").to_str().unwrap(), "create", "--bundle", b.to_str().unwrap(), &t.name()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || t.path("hook-ran").exists()), "the {point} hook ran");
    (create, hook)
}

#[test]
fn a_killed_create_leaves_nothing() {
    let t = Test::new("oci-killed");
    let id = t.name();
    let (mut create, hook) = create_held_by_hook(&t, "prestart");
    let st = text(&rt(&t, &["state", &id]).stdout);
    // runtime.md "State": create has not finished; "kill" and "delete" of a container neither
    // created nor running (nor stopped) are errors with no effect.
    assert_eq!(field(&st, "status"), "creating");
    let o = rt(&t, &["kill", &id, "KILL"]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), format!("spawnbox-runc: container {id} is still being created\n"))
    );
    let o = rt(&t, &["delete", &id]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), format!("spawnbox-runc: cannot delete container {id} that is not stopped: creating\n"))
    );
    let pid1: i32 = field(&st, "pid").parse().unwrap();
    assert!(Path::new(&format!("/proc/{pid1}")).exists());
    // PID 1's cgroup directories, on every hierarchy it is in.
    let cgroups: Vec<PathBuf> = fs::read_to_string(format!("/proc/{pid1}/cgroup"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
            let mounts = if ctrl.is_empty() {
                vec!["unified".to_string(), String::new()]
            } else {
                vec![ctrl.replace("name=", "")]
            };
            mounts.into_iter().map(|m| Path::new("/sys/fs/cgroup").join(m).join(path.trim_start_matches('/'))).find(
                |d| {
                    d.join("cgroup.procs").exists()
                        && fs::read_to_string(d.join("cgroup.procs"))
                            .is_ok_and(|p| p.lines().any(|l| l == pid1.to_string()))
                },
            )
        })
        .collect();
    assert!(!cgroups.is_empty(), "PID 1 is in cgroups of its own");
    assert!(Path::new("/run/spawnbox/machines").join(&id).exists());
    create.kill().unwrap();
    create.wait().unwrap();
    // PID 1 ends with its creator (it was never left); the hook is the engine's to reap.
    assert!(wait_until(Duration::from_secs(5), || !Path::new(&format!("/proc/{pid1}/cmdline")).exists()
        || fs::read_to_string(format!("/proc/{pid1}/stat")).is_ok_and(|s| s.contains(") Z "))));
    let _ = Command::new("pkill").args(["-KILL", "-f", hook.to_str().unwrap()]).status();
    // The create's watcher removed the rest, with nobody calling delete.
    assert!(wait_until(Duration::from_secs(10), || fs::read_dir(t.path("state")).unwrap().count() == 0));
    assert!(wait_until(Duration::from_secs(5), || !Path::new("/run/spawnbox/machines").join(&id).exists()));
    for d in &cgroups {
        assert!(wait_until(Duration::from_secs(5), || !d.exists()), "{} left", d.display());
    }
    let o = rt(&t, &["state", &id]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), format!("spawnbox-runc: container {id} does not exist\n"))
    );
    // What engines call after a failed create: runc's answer for a container that is gone.
    assert!(rt(&t, &["delete", "--force", &id]).status.success());
}

/// A create killed while PID 1 is still setting up (a slow createContainer hook, before the
/// machine's handshake): its record, written at PID 1's clone, lets the watcher remove it all.
#[test]
fn a_create_killed_during_the_containers_setup_leaves_nothing() {
    let t = Test::new("oci-killsetup");
    let id = t.name();
    let (mut create, hook) = create_held_by_hook(&t, "createContainer");
    let state = fs::read_to_string(Path::new("/run/spawnbox/machines").join(&id).join("state")).unwrap();
    assert!(state.contains("\nleft=no\n"), "{state}");
    create.kill().unwrap();
    create.wait().unwrap();
    let _ = Command::new("pkill").args(["-KILL", "-f", hook.to_str().unwrap()]).status();
    assert!(wait_until(Duration::from_secs(10), || fs::read_dir(t.path("state")).unwrap().count() == 0));
    assert!(wait_until(Duration::from_secs(5), || !Path::new("/run/spawnbox/machines").join(&id).exists()));
    // `Test`'s drop checks that no cgroup of the ID is left.
}

/// Machine names are global, records per `--root`: a create of an ID another root's running
/// container has fails, and neither its cleanup nor its watcher touches that container.
#[test]
fn a_create_of_an_id_another_root_runs_leaves_that_container_alone() {
    let t = Test::new("oci-tworoots");
    let id = t.name();
    let b = bundle(&t, &config(&t, &["sleep", "100"], false, ""));
    let in_root = |root: &str, args: &[&str]| {
        let mut c = Command::new(runtime(&t));
        c.arg("--root").arg(t.path(root)).args(args);
        output(&t.dir, c)
    };
    assert!(in_root("a", &["create", "--bundle", b.to_str().unwrap(), &id]).status.success());
    assert!(in_root("a", &["start", &id]).status.success());
    let o = in_root("b", &["create", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(field(&text(&in_root("a", &["state", &id]).stdout), "status"), "running");
    assert_eq!(fs::read_dir(t.path("b")).map(|d| d.count()).unwrap_or(0), 0);
    assert!(in_root("a", &["delete", "--force", &id]).status.success());
}

#[test]
fn preserve_fds_passes_the_callers_descriptors_in() {
    let t = Test::new("oci-fds");
    let id = t.name();
    let b = bundle(&t, &config(&t, &["sh", "-c", "echo through-fd-3 >&3; ls /proc/self/fd | tr '\\n' ' '"], false, ""));
    let script = format!(
        "exec 3>{out} 4>/dev/null; exec {rt} --root {st} run --preserve-fds 1 --bundle {b} {id}",
        out = t.path("fd3").display(),
        rt = runtime(&t).display(),
        st = t.path("state").display(),
        b = b.display(),
    );
    let o = Command::new("sh").args(["-c", &script]).stdin(Stdio::null()).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    // 3 is passed in, 4 is not (only one asked), 5 is ls's own directory.
    assert_eq!(text(&o.stdout), "0 1 2 3 4 ");
    assert_eq!(fs::read_to_string(t.path("fd3")).unwrap(), "through-fd-3\n");
}

#[test]
fn rootfs_propagation_and_a_mounts_propagation() {
    let t = Test::new("oci-prop");
    let id = t.name();
    let script = "awk '$5 == \"/\" || $5 == \"/dev/shm\" { print $5, ($7 ~ /^shared:/ ? \"shared\" : \"private\") }' /proc/self/mountinfo";
    let c = config(&t, &["sh", "-c", script], false, "")
        .replace(r#""linux":{"#, r#""linux":{"rootfsPropagation":"shared","#)
        .replace(
            r#""options":["nosuid","noexec","nodev","mode=1777","size=65536k"]"#,
            r#""options":["nosuid","noexec","nodev","mode=1777","size=65536k","rshared"]"#,
        );
    let b = bundle(&t, &c);
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "/ shared\n/dev/shm shared\n".into()),
        "{}",
        text(&o.stderr)
    );
    // Without: both private to the container (slaves of nothing it can see).
    let b = bundle(&t, &config(&t, &["sh", "-c", script], false, ""));
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(text(&o.stdout), "/ private\n/dev/shm private\n", "{}", text(&o.stderr));
}
