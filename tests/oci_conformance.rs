//! Conformance of `spawnbox-runc` to the OCI runtime-spec's MUST statements, one test per
//! spec section (named `<file>_<section>_...`: config.md, config-linux.md, runtime.md,
//! runtime-linux.md, features.md), for each config.json field spawnbox-runc supports. Each
//! test writes a bundle around the busybox tree of `Test::new` (the container ID is the tree's
//! name, so `Test`'s drop checks that no cgroup, registry entry, mount or process is left) and
//! reads back, from inside the container or from the host, exactly what the spec requires.
//!
//! Capabilities are read after an execve, which transforms them (capabilities(7)): for a
//! non-root user without file capabilities the permitted and effective sets become the ambient
//! set; for root both become bounding ∪ inheritable. The tests say which.

use spawnbox_tests::oci::{
    bundle, field, output, read_until, receive_console, rt, run, run_ok, runtime, text, Config, Deleted,
};
use spawnbox_tests::{scratch_dir, wait_until, Test};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// `sh -c SCRIPT` in the test's tree.
fn sh(t: &Test, script: &str) -> Config {
    Config::new(t, &["sh", "-c", script])
}

/// The capability sets of `/proc/self/status`, as its lines.
const CAPS: &str = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status";

/// A static program that prints its `Uid:` line of /proc/self/status (real, effective, saved,
/// fs): busybox drops a setuid bit, so the nosuid test needs a program of its own.
fn uid_probe() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let d = scratch_dir("uid-probe");
        let src = d.join("uid.rs");
        fs::write(
            &src,
            "fn main() { let s = std::fs::read_to_string(\"/proc/self/status\").unwrap(); \
             println!(\"{}\", s.lines().find(|l| l.starts_with(\"Uid:\")).unwrap()); }\n",
        )
        .unwrap();
        let out = d.join("uid");
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let st = Command::new(rustc)
            .args(["-O", "-C", "target-feature=+crt-static", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("run rustc");
        assert!(st.success(), "rustc of the uid probe failed");
        out
    })
}

/// A bind mount of host path `src` at `dst` with `options` (JSON strings).
fn bind(src: &Path, dst: &str, options: &str) -> String {
    format!(r#"{{"destination":"{dst}","type":"bind","source":{:?},"options":[{options}]}}"#, src.to_str().unwrap())
}

/// A tmpfs at `dst` with `options` (JSON strings).
fn tmpfs(dst: &str, options: &str) -> String {
    format!(r#"{{"destination":"{dst}","type":"tmpfs","source":"tmpfs","options":[{options}]}}"#)
}

/// The state's `pid` after `create`.
fn created_pid(t: &Test) -> i32 {
    field(&text(&rt(t, &["state", &t.name()]).stdout), "pid").parse().unwrap()
}

/// `create --bundle B ID` of `config`, asserting success; the bundle.
fn create(t: &Test, config: &Config) -> PathBuf {
    let b = bundle(t, &config.json());
    let o = rt(t, &["create", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert!(o.status.success(), "create: {}", text(&o.stderr));
    b
}

/// (exit status, stderr) of a runtime call.
fn failure(o: &std::process::Output) -> (Option<i32>, String) {
    (o.status.code(), text(&o.stderr))
}

/// Asserts that nothing of the container is left in the state dir.
fn no_state(t: &Test) {
    assert_eq!(fs::read_dir(t.path("state")).map(|d| d.count()).unwrap_or(0), 0, "state left");
}

// ------------------------------------------------------------------------ config.md: Root

/// config.md "Root": `readonly` true → the root file system is read-only inside (EROFS).
#[test]
fn config_root_readonly_fails_writes_with_erofs() {
    let t = Test::new("oci-c-root-ro");
    let _deleted = Deleted(&t);
    let mut c =
        sh(&t, "touch /newfile 2>&1; echo rc=$?; awk '$5 == \"/\" {print $6}' /proc/self/mountinfo | cut -d, -f1");
    c.root = format!("{{\"path\":{:?},\"readonly\":true}}", t.root.to_str().unwrap());
    c.cwd = "/".into();
    assert_eq!(run_ok(&t, &c), "touch: /newfile: Read-only file system\nrc=1\nro\n");
    assert!(!t.rpath("newfile").exists());
}

/// config.md "Root": `path` relative to the bundle; without `readonly` the root is writable.
#[test]
fn config_root_path_relative_to_the_bundle_and_writable_by_default() {
    let t = Test::new("oci-c-root-rel");
    let _deleted = Deleted(&t);
    let mut c =
        sh(&t, "touch /newfile && echo written; awk '$5 == \"/\" {print $6}' /proc/self/mountinfo | cut -d, -f1");
    c.root = format!("{{\"path\":\"../{}\"}}", t.name());
    assert_eq!(run_ok(&t, &c), "written\nrw\n");
    assert!(t.rpath("newfile").exists());
}

// ---------------------------------------------------------------------- config.md: Mounts

/// config.md "Mounts": entries mounted in the listed order (a bind inside an earlier tmpfs; of
/// two mounts on one destination the later is on top), destinations created (directories,
/// and a file for a file bind), a relative destination taken from "/".
#[test]
fn config_mounts_in_the_listed_order_destinations_created() {
    let t = Test::new("oci-c-mounts");
    let _deleted = Deleted(&t);
    let h1 = t.host_dir("h1");
    fs::write(h1.join("hello.txt"), "from h1\n").unwrap();
    let file = t.path("bound-file");
    fs::write(&file, "file\n").unwrap();
    assert!(!t.rpath("mnt").exists());
    let mut c = sh(
        &t,
        "cat /mnt/a/b/c/hello.txt; stat -c %a /mnt/over /mnt/rel; cat /etc/oci-file; stat -c %F /etc/oci-file; \
         grep -c ' /mnt/over ' /proc/self/mountinfo",
    );
    c.mounts.extend([
        tmpfs("/mnt/a", r#""mode=755""#),
        bind(&h1, "/mnt/a/b/c", r#""bind""#),
        tmpfs("/mnt/over", r#""mode=700""#),
        tmpfs("/mnt/over", r#""mode=750""#),
        bind(&file, "/etc/oci-file", r#""bind""#),
        tmpfs("mnt/rel", r#""mode=711""#),
    ]);
    assert_eq!(run_ok(&t, &c), "from h1\n750\n711\nfile\nregular file\n2\n");
}

/// config.md "Linux mount options": `bind` (the source's own mount only), `rbind` (with the
/// mounts below it), `ro` (EROFS), `rw` writes through to the source. The source has a mount
/// below it: the runtime runs in a private mount namespace that has one (`unshare -m`).
#[test]
fn config_linux_mount_options_bind_rbind_ro() {
    let t = Test::new("oci-c-bind");
    let _deleted = Deleted(&t);
    let h = t.host_dir("h");
    fs::write(h.join("top.txt"), "top\n").unwrap();
    fs::create_dir(h.join("sub")).unwrap();
    let mut c = sh(
        &t,
        "ls /mnt/bind/sub; cat /mnt/rbind/sub/sub.txt; touch /mnt/ro/x 2>&1; touch /mnt/bind/y && echo rw; cat /mnt/ro/top.txt",
    );
    c.mounts.extend([
        bind(&h, "/mnt/bind", r#""bind""#),
        bind(&h, "/mnt/rbind", r#""rbind""#),
        bind(&h, "/mnt/ro", r#""bind","ro""#),
    ]);
    let b = bundle(&t, &c.json());
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs -o size=1m sub \"$1/sub\" && echo s > \"$1/sub/sub.txt\" && shift && exec \"$@\"")
        .arg("sh")
        .arg(&h)
        .arg(runtime(&t))
        .arg("--root")
        .arg(t.path("state"))
        .args(["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    let o = output(&t.dir, cmd);
    assert_eq!(failure(&o), (Some(0), String::new()));
    assert_eq!(text(&o.stdout), "s\ntouch: /mnt/ro/x: Read-only file system\nrw\ntop\n");
    assert!(h.join("y").exists() && !h.join("x").exists());
}

/// config.md "Linux mount options": a tmpfs's `mode=` and `size=` (data), and `noexec`, `nodev`,
/// `nosuid` by their effect (a script cannot run, a device cannot be opened, a setuid program
/// keeps the caller's uid), beside a tmpfs without them where all three work.
#[test]
fn config_linux_mount_options_tmpfs_data_noexec_nodev_nosuid() {
    let t = Test::new("oci-c-tmpfs");
    let _deleted = Deleted(&t);
    let probe = t.host_dir("probe");
    fs::copy(uid_probe(), probe.join("uid")).unwrap();
    let script = r#"stat -c %a /mnt/t; df -k /mnt/t | awk 'NR==2 {print $2}'
for d in t plain; do
  printf '#!/bin/sh\necho ran\n' > /mnt/$d/s; chmod 755 /mnt/$d/s; /mnt/$d/s 2>&1
  mknod /mnt/$d/null c 1 3 && { echo x > /mnt/$d/null && echo dev ok; } 2>&1
done
for d in s plain; do
  cp /probe/uid /mnt/$d/uid; chown 1000:1000 /mnt/$d/uid; chmod 4755 /mnt/$d/uid; /mnt/$d/uid
done"#;
    let mut c = sh(&t, script);
    let caps = r#"["CAP_CHOWN","CAP_FOWNER","CAP_MKNOD","CAP_SETUID","CAP_SETGID","CAP_DAC_OVERRIDE"]"#;
    c.capabilities = Some(format!(r#"{{"bounding":{caps},"effective":{caps},"permitted":{caps}}}"#));
    c.mounts.extend([
        tmpfs("/mnt/t", r#""nosuid","nodev","noexec","mode=1770","size=4m""#),
        tmpfs("/mnt/s", r#""nosuid","size=32m""#),
        tmpfs("/mnt/plain", r#""size=32m""#),
        bind(&probe, "/probe", r#""bind","ro""#),
    ]);
    assert_eq!(
        run_ok(&t, &c),
        "1770\n4096\nsh: /mnt/t/s: Permission denied\nsh: can't create /mnt/t/null: Permission denied\n\
         ran\ndev ok\nUid:\t0\t0\t0\t0\nUid:\t0\t1000\t1000\t1000\n"
    );
}

/// config.md "Linux mount options": every option the table marks MUST is accepted (one tmpfs
/// each), and the flag ones show in the mount's options.
#[test]
fn config_linux_mount_options_every_must_option_accepted() {
    let t = Test::new("oci-c-mopts");
    let _deleted = Deleted(&t);
    let opts = [
        "async",
        "atime",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "iversion",
        "lazytime",
        "loud",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "relatime",
        "ro",
        "rw",
        "silent",
        "strictatime",
        "suid",
        "sync",
    ];
    let mut c = sh(
        &t,
        "grep ' /mnt/o-' /proc/self/mountinfo | while read -r a b c d mp o rest; do echo \"${mp#/mnt/o-} $o ${rest##* }\"; done",
    );
    c.mounts.extend(opts.iter().map(|o| tmpfs(&format!("/mnt/o-{o}"), &format!("\"{o}\",\"size=64k\""))));
    let got = run_ok(&t, &c);
    // (option, the mount's options, the superblock's options)
    let want: String = opts
        .iter()
        .map(|o| {
            let (mnt, sb) = match *o {
                "dirsync" => ("rw,relatime", "rw,dirsync,size=64k"),
                "lazytime" => ("rw,relatime", "rw,lazytime,size=64k"),
                "sync" => ("rw,relatime", "rw,sync,size=64k"),
                "noatime" => ("rw,noatime", "rw,size=64k"),
                "nodev" => ("rw,nodev,relatime", "rw,size=64k"),
                "nodiratime" => ("rw,nodiratime,relatime", "rw,size=64k"),
                "noexec" => ("rw,noexec,relatime", "rw,size=64k"),
                "nosuid" => ("rw,nosuid,relatime", "rw,size=64k"),
                "ro" => ("ro,relatime", "rw,size=64k"),
                "strictatime" => ("rw", "rw,size=64k"),
                _ => ("rw,relatime", "rw,size=64k"),
            };
            format!("{o} {mnt} {sb}\n")
        })
        .collect();
    assert_eq!(got, want);
}

// --------------------------------------------------------------------- config.md: Process

/// config.md "Process": `args` exactly (execvp semantics, an empty argument kept), `env`
/// exactly the environment, `cwd` the working directory (created when missing).
#[test]
fn config_process_args_env_cwd() {
    let t = Test::new("oci-c-proc");
    let _deleted = Deleted(&t);
    let mut c = Config::new(&t, &["sh", "-c", "echo \"$0|$1|$2|$#\"; pwd; env | sort", "zero", "a b", ""]);
    c.env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello world", "EMPTY=", "HOME=/home/x"]
        .map(String::from)
        .to_vec();
    c.cwd = "/srv/new/dir".into();
    // busybox sh adds PWD and SHLVL to what it exports; the rest is the config's.
    assert_eq!(
        run_ok(&t, &c),
        "zero|a b||2\n/srv/new/dir\nEMPTY=\nGREETING=hello world\nHOME=/home/x\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\nPWD=/srv/new/dir\nSHLVL=1\n"
    );
    // The environment as execve gave it, before a shell: /proc/1/environ of a `cat` that is PID 1;
    // without HOME in it, the user's home from the image's passwd is added last (runc's rule).
    let mut c = Config::new(&t, &["cat", "/proc/self/environ"]);
    c.env = ["PATH=/bin", "A=1", "B= two "].map(String::from).to_vec();
    assert_eq!(run_ok(&t, &c), "PATH=/bin\0A=1\0B= two \0HOME=/root\0");
}

/// config.md "Process" `terminal` and `consoleSize`, and config-linux.md "Default Devices"
/// `/dev/console`: the pty's master goes to the console socket, the process has the pty as its
/// terminal at the given size, and /dev/console is that pty. `consoleSize` without a terminal is
/// ignored.
#[test]
fn config_process_terminal_console_size_and_dev_console() {
    let t = Test::new("oci-c-tty");
    let _deleted = Deleted(&t);
    let id = t.name();
    let mut c = sh(&t, "stty size; tty; stat -L -c '%t:%T' /dev/console; echo done; sleep 100");
    c.terminal = true;
    c.process.push(r#""consoleSize":{"height":25,"width":100}"#.into());
    let b = bundle(&t, &c.json());
    let sock = t.path("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut cmd = Command::new(runtime(&t));
    cmd.arg("--root").arg(t.path("state")).args(["create", "--console-socket"]).arg(&sock);
    cmd.args(["--bundle", b.to_str().unwrap(), &id]);
    let dir = t.dir.clone();
    let create = std::thread::spawn(move || output(&dir, cmd));
    let (master, _) = receive_console(&listener);
    let o = create.join().unwrap();
    assert_eq!(failure(&o), (Some(0), String::new()));
    assert!(rt(&t, &["start", &id]).status.success());
    let got = read_until(&master, "done");
    // pts/0 is 136:0 (0x88).
    assert_eq!(got.replace('\r', ""), "25 100\n/dev/pts/0\n88:0\ndone\n");
    assert!(rt(&t, &["delete", "--force", &id]).status.success());
    drop(master);
    let mut c = sh(&t, "echo no terminal");
    c.process.push(r#""consoleSize":{"height":25,"width":100}"#.into());
    assert_eq!(run_ok(&t, &c), "no terminal\n");
}

/// config.md "User" (POSIX): `uid`, `gid`, `additionalGids` as `id` shows them, `umask` on a
/// new file.
#[test]
fn config_process_user_uid_gid_additional_gids_umask() {
    let t = Test::new("oci-c-user");
    let _deleted = Deleted(&t);
    let mut c =
        sh(&t, "id; umask; rm -f /tmp/u; touch /tmp/u; stat -c '%a %u:%g' /tmp/u; grep ^Groups /proc/self/status");
    c.user = r#"{"uid":1000,"gid":1000,"additionalGids":[10,29],"umask":23}"#.into();
    c.cwd = "/".into();
    assert_eq!(
        run_ok(&t, &c),
        "uid=1000(alice) gid=1000(alice) groups=10(wheel),29(audio)\n0027\n640 1000:1000\nGroups:\t10 29 \n"
    );
}

/// config.md "POSIX process" `rlimits`: soft and hard read back from /proc/self/limits;
/// a duplicated type is an error.
#[test]
fn config_posix_process_rlimits() {
    let t = Test::new("oci-c-rlimits");
    let _deleted = Deleted(&t);
    let mut c = sh(&t, "grep -E '^Max (open files|processes|core file size)' /proc/self/limits");
    c.process.push(
        r#""rlimits":[{"type":"RLIMIT_NOFILE","hard":1000,"soft":500},{"type":"RLIMIT_NPROC","hard":2000,"soft":1500},{"type":"RLIMIT_CORE","hard":4096,"soft":0}]"#
            .into(),
    );
    let line = |n: &str, s: &str, h: &str, u: &str| format!("{n:<25} {s:<20} {h:<20} {u:<10}\n");
    assert_eq!(
        run_ok(&t, &c),
        [
            line("Max core file size", "0", "4096", "bytes"),
            line("Max processes", "1500", "2000", "processes"),
            line("Max open files", "500", "1000", "files"),
        ]
        .concat()
    );
    let mut c = sh(&t, "true");
    c.process.push(
        r#""rlimits":[{"type":"RLIMIT_NOFILE","hard":1000,"soft":500},{"type":"RLIMIT_NOFILE","hard":100,"soft":50}]"#
            .into(),
    );
    let o = run(&t, &c);
    assert_eq!(
        failure(&o),
        (Some(1), "spawnbox-runc: process.rlimits[1].type: \"RLIMIT_NOFILE\" given twice\n".into())
    );
    no_state(&t);
}

/// config.md "Linux process" `capabilities`: the five sets. Read after execve (see the module
/// comment): as uid 1000, CapPrm and CapEff are the ambient set; as root, bounding ∪
/// inheritable; CapInh, CapBnd and CapAmb are the config's either way.
#[test]
fn config_linux_process_capabilities_five_sets() {
    let t = Test::new("oci-c-caps");
    let _deleted = Deleted(&t);
    let five = r#"{"bounding":["CAP_KILL","CAP_CHOWN","CAP_NET_BIND_SERVICE"],"effective":["CAP_KILL","CAP_CHOWN"],"permitted":["CAP_KILL","CAP_CHOWN"],"inheritable":["CAP_CHOWN"],"ambient":["CAP_CHOWN"]}"#;
    let mut c = sh(&t, CAPS);
    c.capabilities = Some(five.into());
    c.user = r#"{"uid":1000,"gid":1000}"#.into();
    c.cwd = "/".into();
    // CAP_CHOWN = bit 0, CAP_KILL = 5, CAP_NET_BIND_SERVICE = 10.
    assert_eq!(
        run_ok(&t, &c),
        "CapInh:\t0000000000000001\nCapPrm:\t0000000000000001\nCapEff:\t0000000000000001\nCapBnd:\t0000000000000421\nCapAmb:\t0000000000000001\n"
    );
    c.user = r#"{"uid":0,"gid":0}"#.into();
    assert_eq!(
        run_ok(&t, &c),
        "CapInh:\t0000000000000001\nCapPrm:\t0000000000000421\nCapEff:\t0000000000000421\nCapBnd:\t0000000000000421\nCapAmb:\t0000000000000001\n"
    );
    // Without ambient and inheritable, uid 1000 keeps no capability.
    c.capabilities = Some(r#"{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}"#.into());
    c.user = r#"{"uid":1000,"gid":1000}"#.into();
    assert_eq!(
        run_ok(&t, &c),
        "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000020\nCapAmb:\t0000000000000000\n"
    );
}

/// config.md "Linux process": `noNewPrivileges` in /proc/self/status; `oomScoreAdj` set when
/// given, and unchanged (the caller's) when not.
#[test]
fn config_linux_process_no_new_privileges_and_oom_score_adj() {
    let t = Test::new("oci-c-nnp");
    let _deleted = Deleted(&t);
    let script = "grep ^NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj";
    let mut c = sh(&t, script);
    c.process.push(r#""noNewPrivileges":true,"oomScoreAdj":123"#.into());
    assert_eq!(run_ok(&t, &c), "NoNewPrivs:\t1\n123\n");
    let mine = fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    let c = sh(&t, script);
    assert_eq!(run_ok(&t, &c), format!("NoNewPrivs:\t0\n{mine}"));
}

/// config.md "Hostname" and "Domainname", in the new UTS namespace.
#[test]
fn config_hostname_and_domainname() {
    let t = Test::new("oci-c-uts");
    let _deleted = Deleted(&t);
    let mut c = sh(&t, "hostname; cat /proc/sys/kernel/domainname");
    c.top = vec![r#""hostname":"oci-conf""#.into(), r#""domainname":"oci.example""#.into()];
    assert_eq!(run_ok(&t, &c), "oci-conf\noci.example\n");
}

// --------------------------------------------------------------- config-linux.md sections

/// The host's namespace links (`readlink /proc/self/ns/NAME`).
fn host_ns(name: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{name}")).unwrap().display().to_string()
}

/// config-linux.md "Namespaces": each listed type without `path` is a new namespace (differs
/// from the runtime's), an unlisted type is inherited (the same), one with `path` is joined;
/// a `path` of another type and a duplicated type are errors.
#[test]
fn config_linux_namespaces_new_inherited_and_joined() {
    let t = Test::new("oci-c-ns");
    let _deleted = Deleted(&t);
    let names = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user"];
    let mut c = sh(&t, "echo $$; for n in pid net ipc uts mnt cgroup user; do readlink /proc/self/ns/$n; done");
    c.namespaces.push(r#"{"type":"cgroup"}"#.into());
    let got = run_ok(&t, &c);
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], "1");
    for (i, n) in names.iter().enumerate() {
        let (mine, theirs) = (host_ns(n), lines[i + 1]);
        assert!(theirs.starts_with(&format!("{n}:[")), "{theirs}");
        if *n == "user" {
            assert_eq!(theirs, mine, "user is not listed: inherited");
        } else {
            assert_ne!(theirs, mine, "{n} is listed: new");
        }
    }
    // Joined by path: the test's own network namespace.
    let me = std::process::id();
    let mut c = sh(&t, "readlink /proc/self/ns/net");
    c.namespaces = c
        .namespaces
        .iter()
        .map(|n| match n.as_str() {
            r#"{"type":"network"}"# => format!(r#"{{"type":"network","path":"/proc/{me}/ns/net"}}"#),
            _ => n.clone(),
        })
        .collect();
    assert_eq!(run_ok(&t, &c), format!("{}\n", host_ns("net")));
    // A path to a namespace of another type.
    let mut c = sh(&t, "true");
    c.namespaces = c
        .namespaces
        .iter()
        .map(|n| match n.as_str() {
            r#"{"type":"network"}"# => format!(r#"{{"type":"network","path":"/proc/{me}/ns/ipc"}}"#),
            _ => n.clone(),
        })
        .collect();
    let o = run(&t, &c);
    assert_eq!(
        failure(&o),
        (Some(1), format!("spawnbox-runc: join network namespace /proc/{me}/ns/ipc: invalid argument\n"))
    );
    no_state(&t);
    let mut c = sh(&t, "true");
    c.namespaces.push(r#"{"type":"uts"}"#.into());
    let o = run(&t, &c);
    assert_eq!(
        failure(&o),
        (Some(1), "spawnbox-runc: linux.namespaces[5].type: namespace \"uts\" given twice\n".into())
    );
    no_state(&t);
}

/// config-linux.md "Devices": nodes of each type with their major/minor, fileMode, uid, gid,
/// usable; anywhere in the tree. A file in the way that is not the device is an error.
#[test]
fn config_linux_devices() {
    let t = Test::new("oci-c-dev");
    let _deleted = Deleted(&t);
    let mut c = sh(
        &t,
        "stat -c '%n %F %t:%T %a %u:%g' /dev/oci-null /srv/dev/oci-loop /dev/oci-fifo; echo x > /dev/oci-null && echo written",
    );
    c.linux.push(
        r#""devices":[{"path":"/dev/oci-null","type":"c","major":1,"minor":3,"fileMode":438,"uid":1000,"gid":29},
            {"path":"/srv/dev/oci-loop","type":"b","major":7,"minor":200,"fileMode":384,"uid":0,"gid":0},
            {"path":"/dev/oci-fifo","type":"p","fileMode":420}]"#
            .into(),
    );
    assert_eq!(
        run_ok(&t, &c),
        "/dev/oci-null character special file 1:3 666 1000:29\n/srv/dev/oci-loop block special file 7:c8 600 0:0\n\
         /dev/oci-fifo fifo 0:0 644 0:0\nwritten\n"
    );
    let mut c = sh(&t, "true");
    c.linux.push(r#""devices":[{"path":"/etc/passwd","type":"c","major":1,"minor":3}]"#.into());
    let o = run(&t, &c);
    assert_eq!(
        failure(&o),
        (Some(1), "spawnbox-runc: linux.devices: /etc/passwd: exists and is not that device\n".into())
    );
    assert!(fs::read_to_string(t.rpath("etc/passwd")).unwrap().starts_with("root:x:0:0:"), "the image's file stays");
    no_state(&t);
}

/// config-linux.md "Default Devices" (null, zero, full, random, urandom, tty, ptmx as the
/// devpts instance's) and runtime-linux.md "Dev symbolic links" (/dev/fd, stdin, stdout,
/// stderr) and "File descriptors" (only 0, 1, 2 open).
#[test]
fn config_linux_default_devices_and_runtime_linux_dev_symlinks_and_fds() {
    let t = Test::new("oci-c-defdev");
    let _deleted = Deleted(&t);
    let c = sh(
        &t,
        "stat -c '%n %F %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; stat -L -c '%n %t:%T' /dev/ptmx; \
         for l in fd stdin stdout stderr; do echo \"$l -> $(readlink /dev/$l)\"; done; ls /proc/self/fd | tr '\\n' ' '; echo",
    );
    assert_eq!(
        run_ok(&t, &c),
        "/dev/null character special file 1:3\n/dev/zero character special file 1:5\n/dev/full character special file 1:7\n\
         /dev/random character special file 1:8\n/dev/urandom character special file 1:9\n/dev/tty character special file 5:0\n\
         /dev/ptmx 5:2\nfd -> /proc/self/fd\nstdin -> /proc/self/fd/0\nstdout -> /proc/self/fd/1\nstderr -> /proc/self/fd/2\n0 1 2 3 \n"
    );
}

/// config-linux.md "Allowed Device list" (`linux.resources.devices`), applied in order, with
/// runc's defaults after them: every device denied, then one allowed back for reading. Both
/// nodes can be made (runc's defaults allow `m` for all), the denied one fails to open with
/// EPERM, the allowed one reaches its driver (1:2, /dev/kmem, is gone from the kernel: ENXIO),
/// and runc's default devices stay usable.
#[test]
fn config_linux_allowed_device_list() {
    let t = Test::new("oci-c-devcg");
    let _deleted = Deleted(&t);
    let mut c = sh(
        &t,
        "mknod /tmp/denied c 1 6 && mknod /tmp/allowed c 1 2 && \
         for f in denied allowed; do head -c1 /tmp/$f 2>&1 | sed 's/.*: //'; done; head -c3 /dev/zero | wc -c",
    );
    let caps = r#"["CAP_MKNOD","CAP_DAC_OVERRIDE"]"#;
    c.capabilities = Some(format!(r#"{{"bounding":{caps},"effective":{caps},"permitted":{caps}}}"#));
    c.linux.push(
        r#""resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":2,"access":"r"}]}"#
            .into(),
    );
    assert_eq!(run_ok(&t, &c), "Operation not permitted\nNo such device or address\n3\n");
}

/// config-linux.md "Sysctl": a network one in the new network namespace and an IPC one in the
/// new IPC namespace; the host's values are untouched.
#[test]
fn config_linux_sysctl() {
    let t = Test::new("oci-c-sysctl");
    let _deleted = Deleted(&t);
    let host = |p: &str| fs::read_to_string(p).unwrap();
    let before = (host("/proc/sys/net/ipv4/ip_forward"), host("/proc/sys/kernel/shm_rmid_forced"));
    let mut c = sh(&t, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced");
    let (fwd, rmid) = (if before.0 == "1\n" { "0" } else { "1" }, if before.1 == "1\n" { "0" } else { "1" });
    c.linux.push(format!(r#""sysctl":{{"net.ipv4.ip_forward":"{fwd}","kernel.shm_rmid_forced":"{rmid}"}}"#));
    assert_eq!(run_ok(&t, &c), format!("{fwd}\n{rmid}\n"));
    assert_eq!((host("/proc/sys/net/ipv4/ip_forward"), host("/proc/sys/kernel/shm_rmid_forced")), before);
}

/// config-linux.md "Masked Paths" (a file reads empty, a directory is empty, a missing path is
/// ignored) and "Readonly Paths" (writes fail with EROFS).
#[test]
fn config_linux_masked_paths_and_readonly_paths() {
    let t = Test::new("oci-c-mask");
    let _deleted = Deleted(&t);
    fs::create_dir_all(t.rpath("srv/ro")).unwrap();
    let mut c = sh(
        &t,
        "wc -c < /proc/timer_list; ls -A /proc/bus | wc -l; touch /proc/bus/x 2>&1; \
         { echo 1 > /proc/sys/kernel/ns_last_pid; } 2>&1; touch /srv/ro/x 2>&1; touch /srv/x && echo rw",
    );
    c.linux.push(
        r#""maskedPaths":["/proc/timer_list","/proc/bus","/no/such/path"],"readonlyPaths":["/proc/sys","/srv/ro","/no/such/dir"]"#.into(),
    );
    assert_eq!(
        run_ok(&t, &c),
        "0\n0\ntouch: /proc/bus/x: Read-only file system\nsh: can't create /proc/sys/kernel/ns_last_pid: Read-only file system\n\
         touch: /srv/ro/x: Read-only file system\nrw\n"
    );
}

/// The cgroup of `pid` in the v1 hierarchy bound to `controller` (host path).
fn v1_cgroup(pid: i32, controller: &str) -> PathBuf {
    let lines = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = lines
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, c, p) = (f.next()?, f.next()?, f.next()?);
            c.split(',').any(|c| c == controller).then(|| p.to_string())
        })
        .unwrap_or_else(|| panic!("{controller} in {lines}"));
    PathBuf::from(format!("/sys/fs/cgroup/{controller}{rel}"))
}

/// config-linux.md "Control groups" (an absolute `cgroupsPath` below the hierarchies' roots,
/// removed with the container), "Memory" (`limit`, `reservation`) and "PIDs" (`limit`), read
/// back from the cgroup files after `create`.
#[test]
fn config_linux_cgroups_path_memory_and_pids() {
    let t = Test::new("oci-c-cgroups");
    let _deleted = Deleted(&t);
    let id = t.name();
    let mut c = Config::new(&t, &["sleep", "100"]);
    c.linux.push(format!(
        r#""cgroupsPath":"/spawnbox-conformance/{id}","resources":{{"memory":{{"limit":33554432,"reservation":16777216}},"pids":{{"limit":16}}}}"#
    ));
    create(&t, &c);
    let pid = created_pid(&t);
    let (mem, pids) = (v1_cgroup(pid, "memory"), v1_cgroup(pid, "pids"));
    assert_eq!(mem, PathBuf::from(format!("/sys/fs/cgroup/memory/spawnbox-conformance/{id}")));
    assert_eq!(pids, PathBuf::from(format!("/sys/fs/cgroup/pids/spawnbox-conformance/{id}")));
    let read = |p: &Path| fs::read_to_string(p).unwrap();
    assert_eq!(
        (
            read(&mem.join("memory.limit_in_bytes")),
            read(&mem.join("memory.soft_limit_in_bytes")),
            read(&pids.join("pids.max"))
        ),
        ("33554432\n".into(), "16777216\n".into(), "16\n".into())
    );
    assert!(rt(&t, &["delete", "--force", &id]).status.success());
    assert!(!mem.exists() && !pids.exists());
    // The parent the runtime made for it is removed too (runc leaves it).
    for h in ["memory", "pids"] {
        assert!(!Path::new(&format!("/sys/fs/cgroup/{h}/spawnbox-conformance")).exists(), "{h}");
    }
}

/// The host's cgroup v1 hierarchies: (mount point name, its mount root), sorted.
fn host_v1_hierarchies() -> Vec<String> {
    let mut v: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(" - ").nth(1).is_some_and(|r| r.starts_with("cgroup ")))
        .filter_map(|l| l.split(' ').nth(4).and_then(|p| p.strip_prefix("/sys/fs/cgroup/")).map(str::to_string))
        .collect();
    v.sort();
    v
}

/// config.md "Mounts" with a `cgroup` mount on a host with cgroup v1 controllers (this one),
/// as runc makes it: a tmpfs with each hierarchy's directory, its root the container's own
/// directory of that hierarchy (the limits of `linux.resources` read there), read-only as the
/// mount asks; in the container's own cgroup namespace the same, and in a user namespace's
/// (whose sysfs covers the outer child's mounts: they are held and attached again; the covered
/// copies stay listed in its mountinfo, so mount points are counted).
#[test]
fn config_mounts_cgroup_shows_the_containers_v1_hierarchies() {
    let t = Test::new("oci-c-cgmount");
    let _deleted = Deleted(&t);
    let id = t.name();
    let hierarchies = host_v1_hierarchies();
    assert!(hierarchies.iter().any(|h| h == "memory"), "a host with v1 controllers: {hierarchies:?}");
    let script = "ls /sys/fs/cgroup | tr '\\n' ' '; echo; cat /sys/fs/cgroup/memory/memory.limit_in_bytes \
                  /sys/fs/cgroup/pids/pids.max; touch /sys/fs/cgroup/x 2>/dev/null || echo tmpfs ro; \
                  mkdir /sys/fs/cgroup/pids/sub 2>/dev/null || echo pids ro; \
                  awk '$5 ~ \"^/sys/fs/cgroup/\" { split($6, o, \",\"); print $5, $4, o[1] }' /proc/self/mountinfo | sort -u | sed -n '1p;$p'; \
                  awk '/ - cgroup / { print $5 }' /proc/self/mountinfo | sort -u | wc -l";
    // (a cgroup namespace of its own, a user namespace): without, with; with both (the user
    // namespace's PID 1 has a cgroup namespace, a network and a sysfs of its own).
    for (cgroupns, userns) in [(false, false), (true, false), (true, true)] {
        let mut c = sh(&t, script);
        if userns {
            c.namespaces.push(r#"{"type":"user"}"#.into());
            c.linux.push(r#""uidMappings":[{"containerID":0,"hostID":100000,"size":65536}]"#.into());
            c.linux.push(r#""gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]"#.into());
        }
        c.mounts.push(
            r#"{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}"#
                .into(),
        );
        if cgroupns {
            c.namespaces.push(r#"{"type":"cgroup"}"#.into());
        }
        c.linux.push(format!(
            r#""cgroupsPath":"/spawnbox-cgmount/{id}","resources":{{"memory":{{"limit":33554432}},"pids":{{"limit":16}}}}"#
        ));
        // The container's directory, as /proc/self/cgroup names it outside (`/` inside its own
        // cgroup namespace); the mount root of every hierarchy is that directory.
        let root = if cgroupns { "/".to_string() } else { format!("/spawnbox-cgmount/{id}") };
        let (first, last) = (hierarchies.first().unwrap(), hierarchies.last().unwrap());
        assert_eq!(
            run_ok(&t, &c),
            format!(
                "{} \n33554432\n16\ntmpfs ro\npids ro\n/sys/fs/cgroup/{first} {root} ro\n/sys/fs/cgroup/{last} {root} ro\n{}\n",
                hierarchies.join(" "),
                hierarchies.len()
            ),
            "cgroupns={cgroupns} userns={userns}"
        );
    }
}

/// A runtime-spec seccomp profile: allow by default, `rules` (JSON objects) for the host's
/// architecture.
fn seccomp(rules: &str) -> String {
    let arches = match std::env::consts::ARCH {
        "x86_64" => r#""SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32""#,
        "aarch64" => r#""SCMP_ARCH_AARCH64","SCMP_ARCH_ARM""#,
        a => panic!("no seccomp architectures for {a}"),
    };
    format!(r#""seccomp":{{"defaultAction":"SCMP_ACT_ALLOW","architectures":[{arches}],"syscalls":[{rules}]}}"#)
}

/// config-linux.md "Seccomp": an action with the default errno (EPERM), an `errnoRet`, and a
/// rule with an argument condition (SCMP_CMP_MASKED_EQ: chmod to 0700 only); everything else
/// works.
#[test]
fn config_linux_seccomp() {
    let t = Test::new("oci-c-seccomp");
    let _deleted = Deleted(&t);
    let mut c = sh(
        &t,
        "mkdir /tmp/d 2>&1; touch /tmp/f && echo touched; rmdir /tmp 2>&1; chmod 700 /tmp/f 2>&1; chmod 750 /tmp/f && stat -c %a /tmp/f",
    );
    c.linux.push(seccomp(
        r#"{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},
           {"names":["rmdir"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
           {"names":["chmod"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":[{"index":1,"value":4095,"valueTwo":448,"op":"SCMP_CMP_MASKED_EQ"}]},
           {"names":["fchmodat"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":[{"index":2,"value":4095,"valueTwo":448,"op":"SCMP_CMP_MASKED_EQ"}]}"#,
    ));
    assert_eq!(
        run_ok(&t, &c),
        "mkdir: can't create directory '/tmp/d': Operation not permitted\ntouched\nrmdir: '/tmp': Function not implemented\n\
         chmod: /tmp/f: Permission denied\n750\n"
    );
}

/// config-linux.md "Seccomp" `flags`: SECCOMP_FILTER_FLAG_LOG makes the kernel log the
/// filter's non-allow actions; a process `exec` adds to the container gets the filter with its
/// flags, as PID 1 has it (the kernel's audit line names the process and the action, ERRNO).
#[test]
fn config_linux_seccomp_flags_reach_exec() {
    let t = Test::new("oci-c-secflags");
    let _deleted = Deleted(&t);
    let id = t.name();
    let mut c = sh(&t, "exec sleep 100");
    // errno 77 (EBADFD), to tell the filter's answer from the kernel's.
    c.linux.push(
        seccomp(r#"{"names":["sethostname"],"action":"SCMP_ACT_ERRNO","errnoRet":77}"#)
            .replace(r#""defaultAction""#, r#""flags":["SECCOMP_FILTER_FLAG_LOG"],"defaultAction""#),
    );
    create(&t, &c);
    assert!(rt(&t, &["start", &id]).status.success());
    let logged = || {
        let o = Command::new("dmesg").output().unwrap();
        text(&o.stdout).lines().filter(|l| l.contains("comm=\"hostname\"") && l.contains("code=0x50000")).count()
    };
    let before = logged();
    let o = rt(&t, &["exec", &id, "hostname", "secflags-probe"]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), "hostname: sethostname: File descriptor in bad state\n".into())
    );
    assert!(wait_until(Duration::from_secs(5), || logged() > before), "no audit line for the exec'd process");
}

/// config-linux.md "Rootfs Mount Propagation": `private` leaves the container's root mount
/// without a peer group or master (no optional field in its mountinfo line); `shared` gives it
/// a peer group, `unbindable` marks it so.
#[test]
fn config_linux_rootfs_propagation_private() {
    let t = Test::new("oci-c-prop");
    let _deleted = Deleted(&t);
    for (kind, want) in [("private", "-\n"), ("shared", "shared\n"), ("unbindable", "unbindable\n")] {
        let mut c = sh(&t, "awk '$5 == \"/\" {sub(/:.*/, \"\", $7); print $7}' /proc/self/mountinfo");
        c.linux.push(format!(r#""rootfsPropagation":"{kind}""#));
        assert_eq!(run_ok(&t, &c), want, "{kind}");
    }
}

// --------------------------------------------------------------- config.md: POSIX hooks

/// config.md "POSIX-platform Hooks" and runtime.md "Lifecycle": prestart, createRuntime
/// (during create, before the payload runs), poststart (after it runs, before start returns),
/// poststop (after the container is gone, before delete returns), in that order, each with
/// the state on stdin.
#[test]
fn config_posix_platform_hooks_order_and_state() {
    let t = Test::new("oci-c-hooks");
    let _deleted = Deleted(&t);
    let id = t.name();
    let log = t.path("hooks.log");
    let hook = t.path("hook.sh");
    // The payload is `sleep 100`; the hook says whether PID (from the state) runs it yet.
    fs::write(
        &hook,
        r#"#!/bin/sh
state=$(cat)
status=$(echo "$state" | sed 's/.*"status":"\([a-z]*\)".*/\1/')
pid=$(echo "$state" | sed 's/.*"pid":\([0-9]*\).*/\1/')
# Gone: no such process, or a zombie its new parent has not reaped yet.
if [ ! -e /proc/$pid ] || [ "$(cut -d' ' -f3 /proc/$pid/stat)" = Z ]; then what=gone; elif tr '\0' ' ' < /proc/$pid/cmdline | grep -q '^sleep 100 $'; then what=payload; else what=not-yet; fi
echo "$1 $status $what" >> "$2"
"#,
    )
    .unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let h = |point: &str| {
        format!(r#"[{{"path":{:?},"args":["hook","{point}",{:?}]}}]"#, hook.to_str().unwrap(), log.to_str().unwrap())
    };
    let mut c = Config::new(&t, &["sleep", "100"]);
    c.top.push(format!(
        r#""hooks":{{"poststop":{},"poststart":{},"createRuntime":{},"prestart":{}}}"#,
        h("poststop"),
        h("poststart"),
        h("createRuntime"),
        h("prestart")
    ));
    create(&t, &c);
    // The status the create-time hooks see: `creating` (runtime.md: the create operation has
    // not finished), as runc passes it.
    let logged = || fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(logged(), "prestart creating not-yet\ncreateRuntime creating not-yet\n");
    assert!(rt(&t, &["start", &id]).status.success());
    assert_eq!(logged(), "prestart creating not-yet\ncreateRuntime creating not-yet\npoststart running payload\n");
    assert!(rt(&t, &["kill", &id, "KILL"]).status.success());
    assert!(wait_until(Duration::from_secs(5), || field(&text(&rt(&t, &["state", &id]).stdout), "status") == "stopped"));
    assert!(rt(&t, &["delete", &id]).status.success());
    assert_eq!(
        logged(),
        "prestart creating not-yet\ncreateRuntime creating not-yet\npoststart running payload\npoststop stopped gone\n"
    );
}

/// runtime.md "Lifecycle" step 3: a failing prestart hook is an error of create, and the
/// container is destroyed (nothing left).
#[test]
fn runtime_lifecycle_failing_prestart_hook_destroys_the_container() {
    let t = Test::new("oci-c-hookfail");
    let _deleted = Deleted(&t);
    let mut c = Config::new(&t, &["sleep", "100"]);
    c.top.push(r#""hooks":{"prestart":[{"path":"/bin/sh","args":["sh","-c","echo nope >&2; exit 3"]}]}"#.into());
    let b = bundle(&t, &c.json());
    let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert_eq!(failure(&o), (Some(1), "nope\nspawnbox-runc: hooks.prestart[0] /bin/sh: exit status 3\n".into()));
    no_state(&t);
}

/// config.md "POSIX-platform Hooks": createContainer (path in the runtime namespace, run in
/// the container's namespaces during create) and startContainer (path in the container, run
/// in it after start, before the payload), each with the state on stdin.
#[test]
fn config_posix_platform_hooks_create_container_and_start_container() {
    let t = Test::new("oci-c-hooks2");
    let _deleted = Deleted(&t);
    let id = t.name();
    let host_hook = t.path("create-hook.sh");
    fs::write(
        &host_hook,
        format!(
            "#!/bin/sh\n{{ cat; echo; readlink /proc/self/ns/uts; }} > {}\n",
            t.path("create-container.out").display()
        ),
    )
    .unwrap();
    fs::set_permissions(&host_hook, fs::Permissions::from_mode(0o755)).unwrap();
    t.script(
        "/usr/bin/start-hook",
        "{ cat; echo; cat /etc/hostname-probe 2>/dev/null || echo no-payload-yet; } > /start-container.out",
    );
    let mut c = Config::new(&t, &["sh", "-c", "echo payload > /etc/hostname-probe; exec sleep 100"]);
    c.top.push(format!(
        r#""hooks":{{"createContainer":[{{"path":{:?}}}],"startContainer":[{{"path":"/usr/bin/start-hook"}}]}}"#,
        host_hook.to_str().unwrap()
    ));
    create(&t, &c);
    let pid = created_pid(&t);
    let out = fs::read_to_string(t.path("create-container.out")).unwrap();
    let (state, ns) = out.split_once('\n').unwrap();
    assert!(state.contains(&format!("\"status\":\"creating\",\"pid\":{pid},")), "{state}");
    // In the container's UTS namespace, not the host's.
    assert_eq!(ns.trim(), fs::read_link(format!("/proc/{pid}/ns/uts")).unwrap().to_string_lossy());
    assert_ne!(ns.trim(), fs::read_link("/proc/self/ns/uts").unwrap().to_string_lossy());
    assert!(!t.rpath("/start-container.out").exists(), "startContainer runs at start");
    assert!(rt(&t, &["start", &id]).status.success());
    assert!(wait_until(Duration::from_secs(5), || t.rpath("/etc/hostname-probe").exists()));
    let out = fs::read_to_string(t.rpath("/start-container.out")).unwrap();
    // Its own pid as the container sees it (runc's), before the payload ran.
    assert!(out.contains("\"status\":\"created\",\"pid\":1,"), "{out}");
    assert!(out.ends_with("\nno-payload-yet\n"), "{out}");
}

/// config.md "POSIX-platform Hooks" with a user namespace (config-linux.md "User namespace
/// mappings"): createContainer's path resolves in the runtime namespace and the hook runs in
/// the container's namespaces, its user namespace too (root there, the config's mappings),
/// during create; the payload then runs in its own root and working directory.
#[test]
fn config_posix_platform_hooks_create_container_in_a_user_namespace() {
    let t = Test::new("oci-c-hooks3");
    let _deleted = Deleted(&t);
    let id = t.name();
    // The hook runs as the container's root (host uid 100000): a directory it may write.
    let out = t.host_dir("hook-out");
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
    let host_hook = t.path("create-hook.sh");
    let report = out.join("create-container.out");
    fs::write(
        &host_hook,
        format!(
            "#!/bin/sh\n{{ cat; echo; for n in user uts mnt pid; do readlink /proc/self/ns/$n; done; id -u; \
             cat /proc/self/uid_map; test -x {hook} && echo host-root; }} > {report}\n",
            hook = host_hook.display(),
            report = report.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&host_hook, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(t.rpath("/etc/tree-marker"), "the container's tree\n").unwrap();
    let mut c = sh(&t, "cat /etc/tree-marker; pwd; id -u; test -e /proc/1/root/etc/tree-marker && echo own-root");
    c.namespaces.push(r#"{"type":"user"}"#.into());
    c.linux.push(r#""uidMappings":[{"containerID":0,"hostID":100000,"size":65536}]"#.into());
    c.linux.push(r#""gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]"#.into());
    c.top.push(format!(r#""hooks":{{"createContainer":[{{"path":{:?}}}]}}"#, host_hook.to_str().unwrap()));
    c.args = vec!["sh".into(), "-c".into(), format!("{{ {}; }} > /srv/work/payload.out; exec sleep 100", c.args[2])];
    fs::create_dir_all(t.rpath("/srv/work")).unwrap();
    fs::set_permissions(t.rpath("/srv/work"), fs::Permissions::from_mode(0o777)).unwrap();
    create(&t, &c);
    let pid = created_pid(&t);
    let got = fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 8, "{got}");
    assert!(lines[0].contains(&format!("\"status\":\"creating\",\"pid\":{pid},")), "{got}");
    // Every namespace PID 1 has: its user namespace (not the host's), UTS, mount and PID.
    for (i, n) in ["user", "uts", "mnt", "pid"].iter().enumerate() {
        let theirs = fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
        assert_eq!(lines[i + 1], theirs.to_string_lossy(), "{n}: {got}");
        assert_ne!(lines[i + 1], host_ns(n), "{n}: {got}");
    }
    // Root of the user namespace, with the config's mapping; the host's files at their paths.
    assert_eq!(&lines[5..], ["0", "         0     100000      65536", "host-root"], "{got}");
    assert!(rt(&t, &["start", &id]).status.success());
    let payload = t.rpath("/srv/work/payload.out");
    wait_until(Duration::from_secs(5), || fs::read_to_string(&payload).is_ok_and(|s| s.lines().count() == 4));
    assert_eq!(fs::read_to_string(&payload).unwrap_or_default(), "the container's tree\n/srv/work\n0\nown-root\n");
}

/// The host's `/` PID 1 holds for createContainer hooks in a user namespace is gone before the
/// payload's program is looked up: a `PATH` through `/proc/self/fd/N` (the runc CVE-2024-21626
/// pattern) does not reach a host-only program.
#[test]
fn create_container_hooks_leave_no_host_descriptor_to_the_payload() {
    let t = Test::new("oci-c-hooks4");
    let _deleted = Deleted(&t);
    let host_only = t.host_dir("host-only");
    let prog = host_only.join("escaped-prog");
    fs::write(&prog, "#!/bin/sh\necho escaped\n").unwrap();
    fs::set_permissions(&prog, fs::Permissions::from_mode(0o755)).unwrap();
    let rel = host_only.to_str().unwrap().trim_start_matches('/').to_string();
    let path: Vec<String> = (3..40).map(|n| format!("/proc/self/fd/{n}/{rel}")).collect();
    let mut c = Config::new(&t, &["escaped-prog"]);
    c.env = vec![format!("PATH={}", path.join(":"))];
    // The working directory, which the container's root (host uid 100000) cannot make.
    fs::create_dir_all(t.rpath("/srv/work")).unwrap();
    c.namespaces.push(r#"{"type":"user"}"#.into());
    c.linux.push(r#""uidMappings":[{"containerID":0,"hostID":100000,"size":65536}]"#.into());
    c.linux.push(r#""gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]"#.into());
    c.top.push(r#""hooks":{"createContainer":[{"path":"/bin/true"}]}"#.into());
    let o = run(&t, &c);
    assert_eq!(
        failure(&o),
        (Some(1), "spawnbox-runc: exec: \"escaped-prog\": executable file not found in $PATH\n".into())
    );
    assert_eq!(text(&o.stdout), "");
    no_state(&t);
}

/// runtime.md "Lifecycle" step 13: a failing poststop hook is only a warning (delete
/// succeeds, nothing left). config.md "POSIX-platform Hooks": a hook past its `timeout` fails
/// (and create with it).
#[test]
fn runtime_lifecycle_failing_poststop_and_timed_out_hooks() {
    let t = Test::new("oci-c-hookfail2");
    let _deleted = Deleted(&t);
    let id = t.name();
    let mut c = Config::new(&t, &["sleep", "100"]);
    c.top.push(r#""hooks":{"poststop":[{"path":"/bin/sh","args":["sh","-c","exit 5"]}]}"#.into());
    create(&t, &c);
    assert!(rt(&t, &["start", &id]).status.success());
    let o = rt(&t, &["delete", "--force", &id]);
    assert_eq!(
        failure(&o),
        (Some(0), "WARN  [spawnbox::oci::commands] hooks.poststop[0] /bin/sh: exit status 5\n".into())
    );
    no_state(&t);
    let mut c = Config::new(&t, &["sleep", "100"]);
    c.top.push(r#""hooks":{"prestart":[{"path":"/bin/sleep","args":["sleep","30"],"timeout":1}]}"#.into());
    let b = bundle(&t, &c.json());
    let started = std::time::Instant::now();
    let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(failure(&o), (Some(1), "spawnbox-runc: hooks.prestart[0] /bin/sleep: timed out after 1 s\n".into()));
    no_state(&t);
}

// ----------------------------------------------------------------- runtime.md: Operations

/// runtime.md "State" and "Operations": `state` of a missing container is an error; after
/// `create` the state has the schema's members and status `created`, the payload has not run,
/// and config.json changes after create do not matter; a second `create` of the ID is an error
/// that leaves the first alone; `start` of a running container, `delete` of a running one
/// (without --force), `kill` and `start` of a stopped one are errors with no effect.
#[test]
fn runtime_operations_and_their_errors() {
    let t = Test::new("oci-c-ops");
    let _deleted = Deleted(&t);
    let id = t.name();
    let o = rt(&t, &["state", &id]);
    assert_eq!(failure(&o), (Some(1), format!("spawnbox-runc: container {id} does not exist\n")));
    let out = t.path("payload.out");
    let c = sh(&t, &format!("echo ran >> {}; exec sleep 100", "/payload.out"));
    let b = create(&t, &c);
    let _ = out;
    // The state's members (state-schema.json: ociVersion, id, status, bundle; pid while alive).
    let s = text(&rt(&t, &["state", &id]).stdout);
    let v = spawnbox::json::parse(s.as_bytes()).unwrap();
    let members: Vec<&str> = match &v {
        spawnbox::json::Value::Object(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
        _ => panic!("{s}"),
    };
    for k in ["ociVersion", "id", "status", "pid", "bundle"] {
        assert!(members.contains(&k), "{k} in {s}");
    }
    assert_eq!(v.get("status").and_then(|s| s.as_str()), Some("created"));
    assert_eq!(v.get("bundle").and_then(|s| s.as_str()), Some(b.to_str().unwrap()));
    assert!(!t.rpath("payload.out").exists(), "process.args ran before start");
    // Changes to config.json after create do not affect the container.
    fs::write(b.join("config.json"), sh(&t, "echo changed >> /payload.out; exec sleep 100").json()).unwrap();
    // A second create of the same ID.
    let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(failure(&o), (Some(1), format!("spawnbox-runc: container with id exists: {id}\n")));
    assert_eq!(field(&text(&rt(&t, &["state", &id]).stdout), "status"), "created");
    assert!(rt(&t, &["start", &id]).status.success());
    // The file exists from the shell's `>` on, its line a moment later.
    wait_until(Duration::from_secs(5), || fs::read_to_string(t.rpath("payload.out")).is_ok_and(|s| s.ends_with('\n')));
    assert_eq!(fs::read_to_string(t.rpath("payload.out")).unwrap_or_default(), "ran\n");
    let o = rt(&t, &["start", &id]);
    assert_eq!(failure(&o), (Some(1), "spawnbox-runc: cannot start an already running container\n".into()));
    let o = rt(&t, &["delete", &id]);
    assert_eq!(
        failure(&o),
        (Some(1), format!("spawnbox-runc: cannot delete container {id} that is not stopped: running\n"))
    );
    assert_eq!(field(&text(&rt(&t, &["state", &id]).stdout), "status"), "running");
    // (KILL: PID 1 of a pid namespace ignores TERM without a handler.)
    assert!(rt(&t, &["kill", &id, "KILL"]).status.success());
    assert!(wait_until(Duration::from_secs(5), || field(&text(&rt(&t, &["state", &id]).stdout), "status") == "stopped"));
    let o = rt(&t, &["kill", &id, "TERM"]);
    assert_eq!(failure(&o), (Some(1), "spawnbox-runc: container not running\n".into()));
    let o = rt(&t, &["start", &id]);
    assert_eq!(failure(&o), (Some(1), "spawnbox-runc: cannot start a container that has stopped\n".into()));
    assert_eq!(field(&text(&rt(&t, &["state", &id]).stdout), "status"), "stopped");
    assert!(rt(&t, &["delete", &id]).status.success());
    no_state(&t);
    let o = rt(&t, &["delete", &id]);
    assert_eq!(failure(&o), (Some(1), format!("spawnbox-runc: container {id} does not exist\n")));
    // An ID that is not valid.
    let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), "../escape"]);
    assert_eq!(failure(&o), (Some(1), "spawnbox-runc: create: invalid container ID \"../escape\"\n".into()));
    no_state(&t);
    // No process: start would be an error; create already is (as runc's).
    let mut c = sh(&t, "true").json();
    let (from, to) = (c.find(r#""process""#).unwrap(), c.find(r#""mounts""#).unwrap());
    c.replace_range(from..to, "");
    fs::write(b.join("config.json"), c).unwrap();
    let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(failure(&o), (Some(1), "spawnbox-runc: process: missing (create needs a process)\n".into()));
    no_state(&t);
}

/// runtime.md "Kill" of a `created` container sends the signal (it stops without running the
/// payload), and "Delete" of a running one with --force.
#[test]
fn runtime_kill_created_and_force_delete_running() {
    let t = Test::new("oci-c-kill");
    let _deleted = Deleted(&t);
    let id = t.name();
    let c = sh(&t, "echo ran > /payload.out; exec sleep 100");
    create(&t, &c);
    assert!(rt(&t, &["kill", &id, "KILL"]).status.success());
    assert!(wait_until(Duration::from_secs(5), || field(&text(&rt(&t, &["state", &id]).stdout), "status") == "stopped"));
    assert!(!t.rpath("payload.out").exists());
    assert!(rt(&t, &["delete", &id]).status.success());
    create(&t, &c);
    assert!(rt(&t, &["start", &id]).status.success());
    assert!(wait_until(Duration::from_secs(5), || t.rpath("payload.out").exists()));
    let o = rt(&t, &["delete", "--force", &id]);
    assert_eq!(failure(&o), (Some(0), String::new()));
    no_state(&t);
}

// --------------------------------------------------------------------------- features.md

/// features.md: ociVersionMin/Max (Max not below Min, both accepted as config ociVersion),
/// hooks and mount options recognised, only the members the spec defines.
#[test]
fn features_document() {
    let t = Test::new("oci-c-features");
    let _deleted = Deleted(&t);
    let o = rt(&t, &["features"]);
    assert!(o.status.success());
    let v = spawnbox::json::parse(&o.stdout).unwrap();
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap().to_string();
    assert_eq!((s("ociVersionMin"), s("ociVersionMax")), ("1.0.0".into(), "1.3.0".into()));
    let members: Vec<String> = match &v {
        spawnbox::json::Value::Object(m) => m.iter().map(|(k, _)| k.clone()).collect(),
        _ => panic!(),
    };
    for m in &members {
        assert!(
            [
                "ociVersionMin",
                "ociVersionMax",
                "hooks",
                "mountOptions",
                "linux",
                "annotations",
                "potentiallyUnsafeConfigAnnotations"
            ]
            .contains(&m.as_str()),
            "{m}"
        );
    }
    let hooks: Vec<&str> = v.get("hooks").unwrap().as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    assert_eq!(hooks, ["prestart", "createRuntime", "poststart", "poststop"]);
    // Both version bounds are accepted as config.json's ociVersion.
    for version in ["1.0.0", "1.3.0"] {
        let mut c = sh(&t, "echo ok");
        c.version = version.into();
        assert_eq!(run_ok(&t, &c), "ok\n", "{version}");
    }
}

/// runtime.md "Lifecycle" step 9: a failing poststart hook is an error of start, and the
/// container is stopped (runc kills it).
#[test]
fn lifecycle_step_9_a_failing_poststart_hook_fails_start_and_stops_the_container() {
    let t = Test::new("oci-c-poststart");
    let id = t.name();
    let mut c = Config::new(&t, &["sleep", "100"]);
    c.top.push(r#""hooks":{"poststart":[{"path":"/bin/sh","args":["sh","-c","exit 4"]}]}"#.to_string());
    create(&t, &c);
    let o = rt(&t, &["start", &id]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), "spawnbox-runc: hooks.poststart[0] /bin/sh: exit status 4\n".to_string())
    );
    assert_eq!(field(&text(&rt(&t, &["state", &id]).stdout), "status"), "stopped");
    assert!(rt(&t, &["delete", &id]).status.success());
}
