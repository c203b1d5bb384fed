//! Root integration tests of `spawnbox-runc` (runc's command-line contract, docs/OCI.md) on
//! bundles the tests write around the busybox tree: create → state `created` → start →
//! `running` → kill → `stopped` → delete; run with exact output and exit status; exec with and
//! without a terminal through a console socket the test listens on; hooks with the state on
//! stdin; a bad config.json refused with its JSON path and nothing left. The container ID is
//! the tree's directory name, so `Test`'s drop checks that no cgroup, registry entry, mount or
//! process of it is left.

use spawnbox_tests::{spawnbox_bin, wait_until, Test};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `spawnbox-runc` (a link to the binary) in the test's temp dir.
fn runtime(t: &Test) -> PathBuf {
    let rt = t.path("spawnbox-runc");
    if !rt.exists() {
        std::os::unix::fs::symlink(spawnbox_bin(), &rt).unwrap();
    }
    rt
}

/// `spawnbox-runc --root STATE ARGS...`, stdin from /dev/null, output captured.
fn rt(t: &Test, args: &[&str]) -> Output {
    let mut c = Command::new(runtime(t));
    c.arg("--root").arg(t.path("state")).args(args);
    output(&t.dir, c)
}

/// Runs `c` with stdout and stderr in files of `dir`: a container the runtime leaves holds
/// its creator's stdio (as with runc), so pipes would stay open as long as it runs.
fn output(dir: &Path, mut c: Command) -> Output {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (out, err) = (dir.join(format!("out.{n}")), dir.join(format!("err.{n}")));
    let status = c
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .status()
        .expect("run spawnbox-runc");
    let o = Output { status, stdout: fs::read(&out).unwrap(), stderr: fs::read(&err).unwrap() };
    let _ = (fs::remove_file(&out), fs::remove_file(&err));
    o
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A config.json for the test's tree running `args`, with `extra` members added at the top.
fn config(t: &Test, args: &[&str], terminal: bool, extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"{{"ociVersion":"1.2.0","root":{{"path":{root:?}}},"hostname":"oci-box",
  "process":{{"terminal":{terminal},"user":{{"uid":0,"gid":0}},"args":[{args}],
    "env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hello"],"cwd":"/srv/work",
    "capabilities":{{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL","CAP_CHOWN"],"permitted":["CAP_KILL","CAP_CHOWN"]}}}},
  "mounts":[
    {{"destination":"/proc","type":"proc","source":"proc"}},
    {{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}},
    {{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]}},
    {{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]}},
    {{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}}
  ],
  "linux":{{"namespaces":[{{"type":"pid"}},{{"type":"network"}},{{"type":"ipc"}},{{"type":"uts"}},{{"type":"mount"}}],
    "maskedPaths":["/proc/keys","/proc/bus"],"readonlyPaths":["/proc/sys"]}}{extra}}}"#,
        root = t.root.to_str().unwrap(),
        args = args.join(","),
    )
}

/// Writes the bundle (`DIR/bundle/config.json`) and returns its directory.
fn bundle(t: &Test, config: &str) -> PathBuf {
    let b = t.host_dir("bundle");
    fs::write(b.join("config.json"), config).unwrap();
    b
}

/// A JSON string member of `state`'s output.
fn field(state: &str, key: &str) -> String {
    let pat = format!("\"{key}\": ");
    let line = state.lines().find(|l| l.trim_start().starts_with(&pat)).unwrap_or_else(|| panic!("{key} in {state}"));
    line.trim().trim_start_matches(&pat).trim_end_matches(',').trim_matches('"').to_string()
}

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
        "echo $GREETING; ls /proc/self/fd | tr '\\n' ' '; echo; id -u; cat /proc/self/status | grep -E '^CapBnd'; \
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
    assert_eq!(lines[0], "hello");
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
    assert_eq!(fs::read_to_string(t.path("prestart")).unwrap(), want("created", "prestart"));
    assert!(!t.path("poststart").exists());
    assert!(rt(&t, &["start", &id]).status.success());
    assert_eq!(fs::read_to_string(t.path("poststart")).unwrap(), want("running", "poststart"));
    assert!(rt(&t, &["delete", "--force", &id]).status.success());
    assert_eq!(fs::read_to_string(t.path("poststop")).unwrap(), want("stopped", "poststop"));
}

/// Receives the pty master a runtime sends on `listener` (runc's console socket protocol).
fn receive_console(listener: &UnixListener) -> (rustix::fd::OwnedFd, Vec<u8>) {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    use std::mem::MaybeUninit;
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut anc = RecvAncillaryBuffer::new(&mut space);
    let r = recvmsg(&conn, &mut [std::io::IoSliceMut::new(&mut buf)], &mut anc, RecvFlags::CMSG_CLOEXEC).unwrap();
    let name = buf[..r.bytes].to_vec();
    let fd = anc
        .drain()
        .find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        })
        .expect("a descriptor");
    (fd, name)
}

/// Reads the pty master until `want` shows up (or 5 s pass).
fn read_until(master: &rustix::fd::OwnedFd, want: &str) -> String {
    let mut got = Vec::new();
    let _ = wait_until(Duration::from_secs(5), || {
        let mut b = [0u8; 512];
        let mut fds = [rustix::event::PollFd::new(master, rustix::event::PollFlags::IN)];
        let ts = rustix::event::Timespec { tv_sec: 0, tv_nsec: 50_000_000 };
        if rustix::event::poll(&mut fds, Some(&ts)).unwrap_or(0) > 0 {
            if let Ok(n) = rustix::io::read(master, &mut b) {
                got.extend_from_slice(&b[..n]);
            }
        }
        String::from_utf8_lossy(&got).contains(want)
    });
    String::from_utf8_lossy(&got).into_owned()
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
        &["exec", "--env", "GREETING=from exec", "--cwd", "/", &id, "sh", "-c", "echo $GREETING in $(pwd); exit 5"],
    );
    assert_eq!((o.status.code(), text(&o.stdout)), (Some(5), "from exec in /\n".into()), "{}", text(&o.stderr));
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
