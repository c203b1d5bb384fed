//! Root integration tests of the launcher: PID 1, identity (hostname, machine name), the
//! environment, `-u`, `--chdir`, the command line reaching the payload, `/dev`, and errors on
//! bad input. Every test reads exact values from inside a real container on a busybox rootfs.

use spawnbox_tests::{host_os_release_env, tree_listing, Test};
use std::fs;
use std::os::unix::fs::symlink;

#[test]
fn payload_is_pid_1_with_its_argv() {
    let t = Test::new("pid1");
    let out = t.sh(&[], "echo $$; tr '\\0' '|' < /proc/1/cmdline; echo; grep -E '^(PPid|NSpid):' /proc/1/status");
    assert_eq!(
        out.ok(),
        "1\n/bin/sh|-c|echo $$; tr '\\0' '|' < /proc/1/cmdline; echo; grep -E '^(PPid|NSpid):' /proc/1/status|\nPPid:\t0\nNSpid:\t1\n"
    );
}

#[test]
fn command_is_found_in_the_container_path_and_gets_its_args_verbatim() {
    let t = Test::new("argv");
    // `-la` and `--foo` after the command belong to the payload, not to spawnbox.
    let out = t.run(&["echo", "-la", "--foo", "a b", ""]);
    assert_eq!(out.ok(), "-la --foo a b \n");
    let out = t.run(&["--", "echo", "-b"]);
    assert_eq!(out.ok(), "-b\n");
}

#[test]
fn only_the_containers_processes_are_visible() {
    let t = Test::new("pidns");
    // echo is a builtin and the glob is expanded by PID 1 itself: nothing else runs.
    let out = t.sh(&[], "cd /proc && echo [0-9]*");
    assert_eq!(out.ok(), "1\n");
    // A child gets PID 2.
    assert_eq!(t.sh(&[], "sh -c 'echo $$'; true").ok(), "2\n");
}

#[test]
fn hostname_defaults_to_the_cleaned_up_directory_name() {
    let t = Test::with_root_name("hostname-default", "my_tree.v2");
    assert_eq!(t.sh(&[], "hostname; cat /proc/sys/kernel/hostname").ok(), "mytree.v2\nmytree.v2\n");
}

#[test]
fn machine_name_sets_the_hostname() {
    let t = Test::new("hostname-m");
    // Machine names are host-wide: make them unique to this test run.
    let (m1, m2) = (format!("m1-{}", std::process::id()), format!("web-01.x{}", std::process::id()));
    assert_eq!(t.sh(&["-M", &m1], "uname -n").ok(), format!("{m1}\n"));
    assert_eq!(t.sh(&[&format!("--machine={m2}")], "hostname").ok(), format!("{m2}\n"));
}

#[test]
fn hostname_option_wins_over_the_machine_name() {
    let t = Test::new("hostname-h");
    let m1 = format!("m1-{}", std::process::id() + 1);
    assert_eq!(t.sh(&["-M", &m1, "--hostname=h1"], "hostname").ok(), "h1\n");
    // The machine name is still m1: it is the one spawnbox reports (non-quiet, pty console).
    let out = t
        .cmd(&[])
        .args(&[
            "--console=read-only",
            "--timezone=off",
            "-M",
            &m1,
            "--hostname",
            "h1",
            "/bin/sh",
            "-c",
            "hostname; poweroff -f",
        ])
        .run();
    assert_eq!(out.code(0), "h1\r\n", "{out:?}");
    assert!(out.stderr.contains(&format!("Container {m1} has been shut down.")), "{out:?}");
    assert!(!out.stderr.contains("h1"), "{out:?}");
}

#[test]
fn hostname_of_the_host_is_unchanged() {
    let before = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let t = Test::new("hostname-host");
    t.sh(&["--hostname=not-the-host"], "hostname").ok();
    assert_eq!(fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), before);
}

/// The environment nspawn builds (§3.3), for a known invocation.
fn expected_env(t: &Test, user: &str, home: &str, shell: Option<&str>) -> Vec<String> {
    let mut want = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        "container=spawnbox".to_string(),
        format!("container_uuid={}", t.uuid),
        "NOTIFY_SOCKET=/run/host/notify".to_string(),
        "TERM=dumb".to_string(),
        format!("HOME={home}"),
        format!("USER={user}"),
        format!("LOGNAME={user}"),
    ];
    if let Some(s) = shell {
        want.push(format!("SHELL={s}"));
    }
    want.extend(host_os_release_env());
    want
}

fn environ(out: &str) -> Vec<String> {
    out.split('\0').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[test]
fn environment_is_exactly_nspawns() {
    let t = Test::new("env");
    // PID 1 is cat itself: /proc/self/environ is what spawnbox passed to execve.
    let out = t
        .cmd(&["/bin/cat", "/proc/self/environ"])
        .env("TERM", "xterm-256color")
        .env("COLORTERM", "truecolor")
        .env("HOME", "/nope")
        .env("FOO", "leak")
        .run();
    assert_eq!(environ(out.ok()), expected_env(&t, "root", "/root", None));
}

#[test]
fn setenv_adds_and_overrides() {
    let t = Test::new("env-set");
    let out = t.run(&[
        "-E",
        "FOO=bar",
        "--setenv=TERM=linux",
        "-E",
        "PATH=/bin",
        "-E",
        "EMPTY=",
        "-E",
        "A=b=c",
        "/bin/cat",
        "/proc/self/environ",
    ]);
    let mut want: Vec<String> = expected_env(&t, "root", "/root", None)
        .into_iter()
        .filter(|e| !e.starts_with("TERM=") && !e.starts_with("PATH="))
        .collect();
    want.extend(["FOO=bar", "TERM=linux", "PATH=/bin", "EMPTY=", "A=b=c"].map(String::from));
    assert_eq!(environ(out.ok()), want);
}

#[test]
fn setenv_name_alone_passes_the_callers_value_through() {
    let t = Test::new("env-pass");
    let out = t
        .cmd(&["-E", "PASSED", "-E", "UNSET_IN_CALLER", "/bin/cat", "/proc/self/environ"])
        .env("PASSED", "from caller")
        .run();
    let env = environ(out.ok());
    assert_eq!(&env[env.len() - 2..], ["PASSED=from caller", "UNSET_IN_CALLER="]);
}

#[test]
fn user_from_the_containers_passwd_and_group() {
    let t = Test::new("user");
    // Supplementary groups are those listing alice as a member, as nspawn's `getent
    // initgroups` gives them (the primary group is not added).
    let out = t.sh(
        &["-u", "alice"],
        "grep -E '^(Uid|Gid|Groups):' /proc/self/status; id; pwd; echo $HOME $USER $LOGNAME $SHELL; touch /home/alice/f && stat -c %u:%g /home/alice/f; umask",
    );
    assert_eq!(
        out.ok(),
        "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t10 29 \n\
         uid=1000(alice) gid=1000(alice) groups=10(wheel),29(audio)\n/\n/home/alice alice alice /bin/sh\n1000:1000\n0022\n"
    );
    // The exact environment with -u.
    let out = t.run(&["--user=alice", "/bin/cat", "/proc/self/environ"]);
    assert_eq!(environ(out.ok()), expected_env(&t, "alice", "/home/alice", Some("/bin/sh")));
}

#[test]
fn user_by_number_and_root_by_name() {
    let t = Test::new("user-num");
    assert_eq!(t.sh(&["-u", "1000"], "id -u; id -g; echo $USER").ok(), "1000\n1000\nalice\n");
    assert_eq!(t.sh(&["-u", "root"], "id; echo $HOME $SHELL").ok(), "uid=0(root) gid=0(root)\n/root /bin/sh\n");
    // The container's passwd is used, never the host's NSS: a user only the tree knows.
    fs::write(t.rpath("/etc/passwd"), "root:x:0:0::/root:/bin/sh\nzed:x:4242:4343:Zed:/srv/zed:/bin/ash\n").unwrap();
    fs::write(t.rpath("/etc/group"), "root:x:0:\nstaff:x:50:zed\n").unwrap();
    assert_eq!(
        t.sh(&["-u", "zed"], "id -u; id -g; id -G; echo $HOME $SHELL; pwd").ok(),
        "4242\n4343\n4343 50\n/srv/zed /bin/ash\n/\n"
    );
}

#[test]
fn unknown_user_is_refused() {
    let t = Test::new("user-unknown");
    t.run(&["-u", "mallory", "/bin/true"]).error("--user=mallory: no such user in the container's /etc/passwd");
}

#[test]
fn no_command_runs_a_login_shell_in_home() {
    let t = Test::new("shell");
    let out = t.cmd(&[]).stdin(b"echo $0; pwd; echo $$; exit 9\n").run();
    assert_eq!(out.code(9), "-sh\n/root\n1\n", "{out:?}");
    let out = t.cmd(&["-u", "alice"]).stdin(b"echo $0; pwd; id -un\n").run();
    assert_eq!(out.ok(), "-sh\n/home/alice\nalice\n");
}

#[test]
fn chdir_sets_the_working_directory() {
    let t = Test::new("chdir");
    assert_eq!(t.sh(&["--chdir=/etc"], "pwd").ok(), "/etc\n");
    // --chdir wins over $HOME for the default shell.
    assert_eq!(t.cmd(&["--chdir=/usr"]).stdin(b"pwd\n").run().ok(), "/usr\n");
    // Without --chdir a command starts in /.
    assert_eq!(t.sh(&[], "pwd").ok(), "/\n");
}

#[test]
fn chdir_to_a_missing_directory_fails() {
    let t = Test::new("chdir-missing");
    t.run(&["--chdir=/nonexistent", "/bin/true"]).error("change directory to /nonexistent: no such file or directory");
}

/// `stat` of every entry of the container's /dev as `name|type|mode|major:minor|link`.
const DEV_LIST: &str = "for f in /dev/* /dev/char/* /dev/pts/*; do stat -c '%n|%F|%a|%t:%T|%u:%g|%N' $f; done";

fn dev_expected(console: Option<&str>) -> Vec<String> {
    let mut v = vec![
        "/dev/char|directory|755|0:0|0:0|/dev/char",
        "/dev/fd|symbolic link|777|0:0|0:0|'/dev/fd' -> '/proc/self/fd'",
        "/dev/full|character special file|666|1:7|0:0|/dev/full",
        "/dev/mqueue|directory|1777|0:0|0:0|/dev/mqueue",
        "/dev/null|character special file|666|1:3|0:0|/dev/null",
        "/dev/ptmx|symbolic link|777|0:0|0:0|'/dev/ptmx' -> 'pts/ptmx'",
        "/dev/pts|directory|755|0:0|0:0|/dev/pts",
        "/dev/random|character special file|666|1:8|0:0|/dev/random",
        "/dev/shm|directory|1777|0:0|0:0|/dev/shm",
        "/dev/stderr|symbolic link|777|0:0|0:0|'/dev/stderr' -> '/proc/self/fd/2'",
        "/dev/stdin|symbolic link|777|0:0|0:0|'/dev/stdin' -> '/proc/self/fd/0'",
        "/dev/stdout|symbolic link|777|0:0|0:0|'/dev/stdout' -> '/proc/self/fd/1'",
        "/dev/tty|character special file|666|5:0|0:0|/dev/tty",
        "/dev/urandom|character special file|666|1:9|0:0|/dev/urandom",
        "/dev/zero|character special file|666|1:5|0:0|/dev/zero",
        "/dev/char/1:3|symbolic link|777|0:0|0:0|'/dev/char/1:3' -> '../null'",
        "/dev/char/1:5|symbolic link|777|0:0|0:0|'/dev/char/1:5' -> '../zero'",
        "/dev/char/1:7|symbolic link|777|0:0|0:0|'/dev/char/1:7' -> '../full'",
        "/dev/char/1:8|symbolic link|777|0:0|0:0|'/dev/char/1:8' -> '../random'",
        "/dev/char/1:9|symbolic link|777|0:0|0:0|'/dev/char/1:9' -> '../urandom'",
        "/dev/char/5:0|symbolic link|777|0:0|0:0|'/dev/char/5:0' -> '../tty'",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    if let Some(pts) = console {
        // /dev/console sorts after /dev/char: the pty slave of the container's own devpts,
        // bind-mounted on it (so it shows the slave's type, mode and owner).
        v.insert(1, "/dev/console|character special file|620|88:0|0:5|/dev/console".to_string());
        v.push(format!("/dev/pts/{pts}|character special file|620|88:0|0:5|/dev/pts/{pts}"));
    }
    v.push("/dev/pts/ptmx|character special file|666|5:2|0:0|/dev/pts/ptmx".into());
    // nspawn ≥ 256 also copies /dev/fuse and /dev/net/tun when the host has them and they open
    // read-write, with the host node's mode.
    for (name, major, minor) in [("fuse", 10u32, 229u32), ("net/tun", 10, 200)] {
        let host = std::path::Path::new("/dev").join(name);
        if fs::OpenOptions::new().read(true).write(true).open(&host).is_err() {
            continue;
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&host).unwrap().permissions()) & 0o7777;
        match name.split_once('/') {
            Some((dir, _)) => v.push(format!("/dev/{dir}|directory|755|0:0|0:0|/dev/{dir}")),
            None => v.push(format!("/dev/{name}|character special file|{mode:o}|{major:x}:{minor:x}|0:0|/dev/{name}")),
        }
        v.push(format!(
            "/dev/char/{major}:{minor}|symbolic link|777|0:0|0:0|'/dev/char/{major}:{minor}' -> '../{name}'"
        ));
    }
    // The shell lists /dev/*, then /dev/char/*, then /dev/pts/*, each sorted by name.
    let group = |l: &String| match l.split('|').next().unwrap_or("") {
        p if p.starts_with("/dev/char/") => 1,
        p if p.starts_with("/dev/pts/") => 2,
        _ => 0,
    };
    v.sort_by(|a, b| (group(a), a.split('|').next()).cmp(&(group(b), b.split('|').next())));
    v
}

#[test]
fn dev_has_exactly_the_nspawn_nodes_in_pipe_mode() {
    let t = Test::new("dev");
    let out = t.sh(&[], DEV_LIST);
    let got: Vec<String> = out.ok().lines().map(String::from).collect();
    assert_eq!(got, dev_expected(None));
    // The nodes work.
    let out = t.sh(&[], "echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1 && head -c 16 /dev/urandom | wc -c; echo y > /dev/full; echo $?");
    assert_eq!(out.code(0), " 00 00 00 00\n16\n1\n");
}

#[test]
fn dev_console_is_a_pty_of_the_container_in_pty_modes() {
    let t = Test::new("dev-console");
    for mode in ["read-only", "passive"] {
        // The report goes to a bind-mounted host dir: passive mode does not forward output.
        let out_dir = t.host_dir(&format!("out-{mode}"));
        let out = t
            .cmd(&[])
            .args(&[&format!("--console={mode}"), "-q", &format!("--bind={}:/out", out_dir.display())])
            .args(&["/bin/sh", "-c", &format!("{{ {DEV_LIST}; tty; readlink /proc/self/fd/0; }} > /out/report 2>&1")])
            .run();
        assert_eq!(out.code(0), "", "{out:?}");
        let report = fs::read_to_string(out_dir.join("report")).unwrap();
        // The major of devpts slaves is 136 (0x88 in stat's %t).
        let mut want = dev_expected(Some("0"));
        want.push("/dev/pts/0".into());
        want.push("/dev/pts/0".into());
        let got: Vec<String> = report.lines().map(String::from).collect();
        assert_eq!(got, want, "--console={mode}");
    }
}

#[test]
fn tree_gets_no_dev_or_run_entries_on_the_host() {
    // Everything spawnbox puts in /dev, /run, /tmp lives on fresh file systems.
    let t = Test::new("tree-clean");
    let before = tree_listing(&t.root);
    t.sh(&[], "touch /dev/x /run/x /tmp/x /dev/shm/x").ok();
    let after = tree_listing(&t.root);
    let changed: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
    // The only trace: /etc/resolv.conf (auto = copy-host).
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].starts_with("etc/resolv.conf file 644 "), "{changed:?}");
}

#[test]
fn missing_directory_is_an_error() {
    let t = Test::new("err-dir");
    let missing = t.path("no-such-dir");
    let out = spawnbox_tests::Cmd::new().arg("-D").arg(&missing).arg("--console=pipe").arg("/bin/true").run();
    out.error(&format!("open directory {}: no such file or directory", missing.display()));
    assert!(!missing.exists());
}

#[test]
fn unknown_options_are_errors() {
    let t = Test::new("err-opt");
    let before = tree_listing(&t.root);
    t.run(&["--frobnicate", "/bin/true"]).error("unrecognized option '--frobnicate'");
    t.run(&["-k", "/bin/true"]).error("invalid option -- 'k'");
    t.run(&["--share-system", "/bin/true"]).error("--share-system: not supported yet");
    t.run(&["--private-users=managed", "-n", "/bin/true"]).error("--private-users: not supported yet");
    assert_eq!(tree_listing(&t.root), before);
}

#[test]
fn tree_without_usr_is_refused() {
    let t = Test::new("err-usr");
    fs::remove_dir_all(t.rpath("/usr")).unwrap();
    let before = tree_listing(&t.root);
    t.run(&["/bin/true"]).error(&format!(
        "directory {} doesn't look like it has an OS tree (/usr/ directory is missing), refusing",
        t.root.display()
    ));
    // A symlink named usr is not a directory either.
    symlink("/usr", t.rpath("/usr")).unwrap();
    let before_link = tree_listing(&t.root);
    t.run(&["/bin/true"]).error(&format!(
        "directory {} doesn't look like it has an OS tree (/usr/ directory is missing), refusing",
        t.root.display()
    ));
    assert_eq!(tree_listing(&t.root), before_link);
    assert_ne!(before, before_link);
}

#[test]
fn missing_command_is_an_error() {
    let t = Test::new("err-cmd");
    let out = t.run(&["no-such-command"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr, "spawnbox: execute no-such-command: no such file or directory\n");
    t.run(&["/bin/no-such"]).error("execute /bin/no-such: no such file or directory");
}

#[test]
fn nspawn_environment_knobs_are_honoured() {
    let t = Test::new("env-knobs");
    t.write("/tmp/from-the-tree", "kept\n");
    // $SYSTEMD_NSPAWN_TMPFS_TMP=0: the tree's own /tmp.
    let out = t.cmd(&["/bin/cat", "/tmp/from-the-tree"]).env("SYSTEMD_NSPAWN_TMPFS_TMP", "0").run();
    assert_eq!(out.ok(), "kept\n");
    assert_eq!(t.sh(&[], "cat /tmp/from-the-tree 2>&1 | sed 's/.*: //'").ok(), "No such file or directory\n");
    // $SYSTEMD_NSPAWN_API_VFS_WRITABLE: 1 makes /proc/sys writable (the UTS namespace's
    // domain name is the container's own); `network` only /proc/sys/net.
    let script = "echo test.example > /proc/sys/kernel/domainname && cat /proc/sys/kernel/domainname; \
                  grep -c ' /sys sysfs rw' /proc/self/mounts";
    let out = t.cmd(&["/bin/sh", "-c", script]).env("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "1").run();
    assert_eq!(out.ok(), "test.example\n1\n");
    let script = "{ echo 1 > /proc/sys/kernel/domainname; } 2>/dev/null || echo kernel-ro; \
                  awk '$2 == \"/proc/sys/net\" {print $4}' /proc/self/mounts | cut -d, -f1";
    let out = t.cmd(&["/bin/sh", "-c", script]).env("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "network").run();
    assert_eq!(out.ok(), "kernel-ro\nrw\n");
    // $SYSTEMD_NSPAWN_CHECK_OS_RELEASE=0: -b boots a tree without os-release.
    fs::remove_file(t.rpath("/etc/os-release")).unwrap();
    fs::remove_file(t.rpath("/sbin/init")).unwrap();
    t.script("/sbin/init", "echo booted");
    assert_eq!(t.cmd(&["-b"]).env("SYSTEMD_NSPAWN_CHECK_OS_RELEASE", "0").run().ok(), "booted\n");
    // What spawnbox cannot do is refused before anything happens.
    t.cmd(&["/bin/true"])
        .env("SYSTEMD_NSPAWN_USE_CGNS", "0")
        .run()
        .error("$SYSTEMD_NSPAWN_USE_CGNS=0: not supported: spawnbox always gives the container a cgroup namespace");
    t.cmd(&["/bin/true"])
        .env("SYSTEMD_NSPAWN_TMPFS_TMP", "maybe")
        .run()
        .error("$SYSTEMD_NSPAWN_TMPFS_TMP=maybe: invalid boolean");
}

#[test]
fn link_journal_host_guest_and_auto() {
    let t = Test::new("link-journal");
    let id = t.uuid.replace('-', "");
    let host_dir = std::path::PathBuf::from("/var/log/journal").join(&id);
    let made_parent = !std::path::Path::new("/var/log/journal").exists();
    let inside = format!("/var/log/journal/{id}");
    // host: stored on the host, bound into the container.
    let out = t.sh(
        &["--link-journal=host"],
        &format!("echo from-host-mode > {inside}/x; grep -c ' {inside} ' /proc/self/mounts"),
    );
    let host_x = fs::read_to_string(host_dir.join("x"));
    // auto (the default): the host's directory exists now, so it is bound again.
    let auto = t.sh(&[], &format!("cat {inside}/x"));
    let cleanup = || {
        let _ = fs::remove_dir_all(&host_dir);
        let _ = fs::remove_file(&host_dir);
        if made_parent {
            let _ = fs::remove_dir("/var/log/journal");
        }
    };
    cleanup();
    assert_eq!(out.ok(), "1\n");
    assert_eq!(host_x.unwrap(), "from-host-mode\n");
    assert_eq!(auto.ok(), "from-host-mode\n");
    assert!(!t.rpath(&format!("{inside}/x")).exists(), "host mode wrote into the tree");

    // guest: stored in the tree, a symlink to it on the host.
    let out = t.sh(
        &["--link-journal=guest"],
        &format!("echo from-guest-mode > {inside}/y; grep -c ' {inside} ' /proc/self/mounts"),
    );
    let link = fs::read_link(&host_dir);
    let through_link = fs::read_to_string(host_dir.join("y"));
    cleanup();
    assert_eq!(out.code(1), "0\n");
    assert_eq!(link.unwrap(), t.rpath(&inside));
    assert_eq!(through_link.unwrap(), "from-guest-mode\n");
}
