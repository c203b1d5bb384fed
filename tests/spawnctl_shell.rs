//! Root integration tests of `spawnctl shell` and `spawnctl login` on machines started with
//! `spawnctl start`: commands and their exit status, stdio kept apart without a terminal, the
//! user from the guest's passwd, the security layer seen from inside (PID 1's bounding set,
//! no_new_privs and seccomp filter, no descriptor of spawnctl, PID 1's mounts, processes and
//! cgroup), a pty from the guest's devpts with Ctrl-] ×3 to leave, and the guest's own login
//! on the busybox, OpenRC and systemd guests.
//!
//! Each test runs one script with `unshare -m -n`: a private mount namespace with a tmpfs on
//! /run (images in /run/machines, the registry) and /var/log (the machines' logs), and a
//! network namespace of its own. Machines are named after the test's tree (`Test::new`), which
//! makes the common end-of-test checks look for their cgroups too; each script stops its
//! machines and waits for their launchers before it ends.

use spawnbox_tests::pty::Pty;
use spawnbox_tests::{guest, unshared_script, Cmd, Running, Test};
use std::time::Duration;

/// Long enough for a booting guest on a loaded 2-core machine.
const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(30);

/// The private /run and /var/log, and the helpers: `copy TREE` copies a guest tree to
/// /run/machines/$M, `boot` starts it (setting $L, its launcher, and $LEADER, its PID 1),
/// `start TREE` does both; `stop` terminates $M and waits (at most 60 s) until its launcher is
/// gone.
const SETUP: &str = r#"set -u
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /var/log
mkdir -p /run/machines /run/systemd/nspawn
ip link set lo up
start() { copy "$1"; boot; }
copy() { cp -a "$1" /run/machines/$M; }
boot() {
    "$SPAWNCTL" start $M || exit 1
    L=$(sed -n 's/^launcher=//p' /run/spawnbox/machines/$M/machine)
    LEADER=$(sed -n 's/^leader=//p' /run/spawnbox/machines/$M/machine)
}
stop() {
    "$SPAWNCTL" terminate $M
    n=0; while kill -0 $L 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done
}
"#;

/// Runs `script` (after [`SETUP`]) in private mount and network namespaces with `$SPAWNCTL`,
/// `$M` (the machine name) and `$BUSYBOX`, `$OPENRC`, `$SYSTEMD` (guest trees); its stdout.
/// It must succeed with nothing on stderr.
fn in_private_run(t: &Test, script: &str) -> String {
    let (ctl, m) = (t.spawnctl(), t.name());
    let (busybox, openrc, systemd) = (guest("busybox"), guest("openrc"), guest("systemd"));
    let env = [
        ("SPAWNCTL", ctl.as_os_str()),
        ("M", std::ffi::OsStr::new(&m)),
        ("BUSYBOX", busybox.as_os_str()),
        ("OPENRC", openrc.as_os_str()),
        ("SYSTEMD", systemd.as_os_str()),
    ];
    unshared_script(true, &format!("{SETUP}{script}"), &env)
}

/// The same on the terminal `pty` (its slave as stdin, stdout, stderr and controlling
/// terminal, TERM=vt220), left running for the test to drive.
fn in_private_pty(t: &Test, pty: &Pty, script: &str) -> Running {
    Cmd::new()
        .program("unshare")
        .args(&["-m", "-n", "--propagation", "private", "/bin/sh", "-c"])
        .arg(format!("{SETUP}{script}"))
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("TERM", "vt220")
        .env("SPAWNCTL", &t.spawnctl().to_string_lossy())
        .env("M", &t.name())
        .env("BUSYBOX", &guest("busybox").to_string_lossy())
        .env("OPENRC", &guest("openrc").to_string_lossy())
        .env("SYSTEMD", &guest("systemd").to_string_lossy())
        .timeout(Duration::from_secs(400))
        .terminal(pty.slave())
        .spawn()
}

#[test]
fn commands_run_with_their_status_environment_and_stdio_apart() {
    let t = Test::new("sh-cmd");
    let m = t.name();
    let script = r#"start "$BUSYBOX"
"$SPAWNCTL" shell $M /bin/echo hi >/run/o 2>/run/e; echo "rc=$? out=[$(cat /run/o)] err=[$(cat /run/e)]"
"$SPAWNCTL" shell $M /bin/sh -c 'exit 7'; echo rc=$?
"$SPAWNCTL" shell $M /bin/sh -c 'kill -TERM $$'; echo rc=$?
echo typed | "$SPAWNCTL" shell $M /bin/sh -c 'read l; echo "out:$l"; echo "err:$l" >&2' >/run/o 2>/run/e
echo "rc=$? out=[$(cat /run/o)] err=[$(cat /run/e)]"
TERM=xterm-test "$SPAWNCTL" shell -E FOO=bar --setenv=USER=override $M /bin/env </dev/null | sort
"$SPAWNCTL" shell $M /bin/sh -c 'pwd; echo $0 "$@"; ls -l /proc/self/exe | sed "s/.* -> //"' a1 -l 'two words'
printf 'echo $0; pwd\n' | "$SPAWNCTL" shell $M
for args in "nope /bin/true" "mallory@$M /bin/true" "$M echo hi" "$M /bin/nonexistent" "" "@ /bin/true" "--uid=alice alice@$M"; do
    "$SPAWNCTL" shell $args </dev/null >/run/o 2>&1; echo "rc=$? $(cat /run/o)"
done
"$SPAWNCTL" login nope 2>&1; echo rc=$?
rm /run/machines/$M/bin/login; "$SPAWNCTL" login $M 2>&1; echo rc=$?
# A reused pid: the entry's leader is now a host process (the recorded start time is not its
# own); it is never entered.
E=/run/spawnbox/machines/$M/machine; cp $E /run/entry
sleep 60 & sed -i "s/^leader=.*/leader=$!/" $E
"$SPAWNCTL" shell $M /bin/true 2>&1; echo rc=$?
kill $!; cp /run/entry $E
mv /run/spawnbox/machines/$M/seccomp /run/seccomp
"$SPAWNCTL" shell $M /bin/true 2>&1; echo rc=$?
mv /run/seccomp /run/spawnbox/machines/$M/seccomp
"$SPAWNCTL" shell $M /bin/true; echo rc=$?
stop
"$SPAWNCTL" shell $M /bin/true 2>&1; echo rc=$?
"#;
    let got = in_private_run(&t, script);
    let want = format!(
        "rc=0 out=[hi] err=[]
rc=7
rc=143
rc=0 out=[out:typed] err=[err:typed]
FOO=bar
HOME=/root
LOGNAME=root
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SHELL=/bin/sh
TERM=xterm-test
USER=override
/root
a1 -l two words
/bin/busybox
-sh
/root
rc=1 spawnctl: machine \"nope\" is not running
rc=1 spawnctl: user \"mallory\" does not exist in machine \"{m}\"
rc=1 spawnctl: shell: \"echo\": the command must be an absolute path
rc=1 spawnctl: execute /bin/nonexistent: no such file or directory
rc=1 spawnctl: machine \".host\" is the host itself: spawnbox has no host shell (name a running container)
rc=1 spawnctl: machine \".host\" is the host itself: spawnbox has no host shell (name a running container)
rc=1 spawnctl: shell: --uid= and USER@NAME both name a user
spawnctl: machine \"nope\" is not running
rc=1
spawnctl: machine \"{m}\" has no /bin/login or /usr/bin/login
rc=1
spawnctl: machine \"{m}\" is not running
rc=1
spawnctl: machine \"{m}\" runs under a seccomp filter: read /run/spawnbox/machines/{m}/seccomp: no such file or directory
rc=1
rc=0
spawnctl: machine \"{m}\" is not running
rc=1
"
    );
    assert_eq!(got, want);
}

#[test]
fn user_at_name_runs_as_the_guests_user_with_its_home_and_shell() {
    let t = Test::new("sh-user");
    let script = r#"copy "$BUSYBOX"
T=/run/machines/$M
echo 'carol:x:1234:1235:Carol:/home/carol:/bin/ash' >>$T/etc/passwd
echo 'carol:x:1235:' >>$T/etc/group
sed -i 's/^audio:x:29:alice$/audio:x:29:alice,carol/' $T/etc/group
mkdir -m 0700 $T/home/carol && chown 1234:1235 $T/home/carol
boot
grep CapBnd /proc/$LEADER/status
"$SPAWNCTL" shell carol@$M /bin/sh -c 'id; pwd; echo $HOME $SHELL $USER $LOGNAME; grep -E "^Cap(Eff|Prm|Inh|Bnd|Amb)" /proc/self/status; touch made'
stat -c '%u %g %n' $T/home/carol/made | sed "s|$T||"
printf 'echo $0; id -u\n' | "$SPAWNCTL" shell --uid=carol $M
"$SPAWNCTL" shell 1234@$M /bin/sh -c 'id -un'
"$SPAWNCTL" shell alice@$M /bin/sh -c 'pwd; ls /home/carol' 2>&1
stop
"#;
    let got = in_private_run(&t, script);
    let bounding = got.lines().next().unwrap_or_default().to_string();
    assert!(bounding.starts_with("CapBnd:\t"), "{got}");
    let want = format!(
        "{bounding}
uid=1234(carol) gid=1235(carol) groups=29(audio)
/home/carol
/home/carol /bin/ash carol carol
CapInh:\t0000000000000000
CapPrm:\t0000000000000000
CapEff:\t0000000000000000
{bounding}
CapAmb:\t0000000000000000
1234 1235 /home/carol/made
-ash
1234
carol
/home/alice
ls: can't open '/home/carol': Permission denied
"
    );
    assert_eq!(got, want);
}

#[test]
fn the_shell_has_pid1s_security_layer_and_nothing_of_the_host() {
    let t = Test::new("sh-sec");
    let script = r#"copy "$BUSYBOX"
printf '[Exec]\nNoNewPrivileges=yes\nDropCapability=CAP_NET_RAW CAP_SYS_PTRACE\nSystemCallFilter=~mkdir mkdirat\n' \
    >/run/systemd/nspawn/$M.nspawn
boot
grep -E '^(CapBnd|NoNewPrivs|Seccomp)' /proc/$LEADER/status | tr '\n' ' '; echo
"$SPAWNCTL" shell $M /bin/sh -c '
    for f in /proc/self/status /proc/1/status; do grep -E "^(CapBnd|NoNewPrivs|Seccomp)" $f | tr "\n" " "; echo; done
    mkdir /tmp/made 2>&1; echo "mkdir: $?"
    /bin/sh -c "ls -1 /proc/$$/fd"
    for f in 0 1 2; do readlink /proc/$$/fd/$f; done | grep -c "^pipe:"
    for f in 0 1 2; do readlink /proc/$$/fd/$f; done | sort -u | wc -l
    cmp /proc/self/mountinfo /proc/1/mountinfo && echo "mounts: PID 1s"
    grep -c -e " /var/log " -e " /work" -e " /run/machines" -e " /var/cache" /proc/self/mountinfo
    cmp /proc/self/cgroup /proc/1/cgroup && echo "cgroup: PID 1s"
    for n in cgroup ipc mnt net pid user uts; do [ "$(readlink /proc/self/ns/$n)" = "$(readlink /proc/1/ns/$n)" ] || echo "ns $n differs"; done
    cd /proc; echo pids: [0-9]*; echo "self: $$"
'
# The machine's processes seen from the host, by their pid inside.
for p in /proc/[0-9]*; do
    [ "$(readlink $p/ns/pid)" = "$(readlink /proc/$LEADER/ns/pid)" ] && sed -n 's/^NSpid:.*\t//p' $p/status
done | sort -n | tr '\n' ' '; echo
stop
"#;
    let got = in_private_run(&t, script);
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 16, "{got}");
    // The .nspawn file's policy is in force: CAP_NET_RAW and CAP_SYS_PTRACE out of nspawn's
    // default set (with CAP_NET_ADMIN for the private network), no_new_privs, a filter.
    let pid1 = "CapBnd:\t00000000fce49fff NoNewPrivs:\t1 Seccomp:\t2 Seccomp_filters:\t1 ";
    assert_eq!(lines[0], pid1, "{got}");
    assert_eq!(lines[1], pid1, "the shell's own: {got}");
    assert_eq!(lines[2], pid1, "PID 1's from inside: {got}");
    assert_eq!(lines[3], "mkdir: can't create directory '/tmp/made': Operation not permitted", "{got}");
    assert_eq!(lines[4], "mkdir: 1");
    // The shell's descriptors, listed by another process while the shell waits for it (so
    // neither the listing's descriptor nor a pipeline's pipe is among them): 0, 1, 2 and
    // nothing else, three distinct pipes (spawnctl's relay, not the caller's /dev/null and
    // this test's pipes).
    assert_eq!(lines[5..8], ["0", "1", "2"], "{got}");
    assert_eq!(lines[8..10], ["3", "3"], "{got}");
    assert_eq!(lines[10..13], ["mounts: PID 1s", "0", "cgroup: PID 1s"], "{got}");
    // Every namespace is PID 1's (none differs).
    let pids: Vec<&str> = lines[13].strip_prefix("pids: ").unwrap_or_default().split(' ').collect();
    let me = lines[14].strip_prefix("self: ").unwrap_or_default();
    let mut host: Vec<&str> = lines[15].split_whitespace().collect();
    host.push(me);
    host.sort_by_key(|p| p.parse::<u32>().unwrap_or(0));
    assert!(host.contains(&"1") && host.len() >= 3, "{got}");
    assert_eq!(pids, host, "inside, /proc lists exactly the machine's processes: {got}");
}

/// Waits for the script's end, which must be a success.
fn finish(mut run: Running, pty: &mut Pty) {
    pty.expect("DONE", BOOT);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?}; terminal: {:?}", pty.text());
}

#[test]
fn a_terminal_gets_a_pty_of_the_guests_devpts_and_ctrl_bracket_three_times_leaves() {
    let t = Test::new("sh-pty");
    let m = t.name();
    let mut pty = Pty::new(40, 200);
    let script = r#"start "$BUSYBOX"
"$SPAWNCTL" shell $M
echo "left: $?"
# The interactive shell (a login shell: -sh) is gone: it got SIGHUP.
n=0; while [ $n -lt 100 ]; do
    left=0; for p in /proc/[0-9]*; do [ "$(readlink $p/ns/pid)" = "$(readlink /proc/$LEADER/ns/pid)" ] && grep -q '^-sh' $p/cmdline 2>/dev/null && left=1; done
    [ $left = 0 ] && break; n=$((n+1)); sleep 0.05
done
echo "login shells left: $left"
"$SPAWNCTL" shell -q $M /bin/sh -c '/bin/sh -c "ls -1 /proc/$$/fd"; for f in 0 1 2; do readlink /proc/$$/fd/$f; done; tty; stty size; echo $TERM'
echo "command: $?"
stop
echo DONE
"#;
    let run = in_private_pty(&t, &pty, script);
    let at = pty.expect_after(
        0,
        &format!("Connected to machine {m}. Press ^] three times within 1s to exit session.\r\n"),
        BOOT,
    );
    pty.expect_after(at, "# ", STEP);
    let tty = pty.run_at_prompt("tty; stty size; echo $TERM $0", STEP);
    let pts: Vec<&str> = tty.lines().collect();
    assert_eq!(pts.len(), 3, "{tty:?}");
    assert!(pts[0].starts_with("/dev/pts/") && pts[0] != "/dev/pts/0", "the guest's devpts, not its console: {tty:?}");
    assert_eq!(pts[1..], ["40 200", "vt220 -sh"], "{tty:?}");
    // Ctrl-] three times within a second: spawnctl leaves, the shell hangs up.
    let at = pty.mark();
    pty.write(b"\x1d\x1d\x1d");
    let at = pty.expect_after(at, &format!("Connection to machine {m} terminated.\r\n"), STEP);
    let at = pty.expect_after(at, "left: 0\r\n", STEP);
    let at = pty.expect_after(at, "login shells left: 0\r\n", STEP);
    let end = pty.expect_after(at, "command: 0\r\n", STEP);
    // A command on a terminal: a pty too (-q: no connection messages).
    let cmd = pty.text_after(at);
    let cmd = &cmd[..end - at - "command: 0\r\n".len()];
    let lines: Vec<&str> = cmd.lines().collect();
    assert_eq!(lines.len(), 9, "{cmd:?}");
    assert_eq!(lines[..3], ["0", "1", "2"], "only the pty: {cmd:?}");
    let name = lines[6];
    assert!(name.starts_with("/dev/pts/") && name != "/dev/pts/0", "{cmd:?}");
    assert_eq!(lines[3..6], [name, name, name], "{cmd:?}");
    assert_eq!(lines[7..], ["40 200", "vt220"], "{cmd:?}");
    finish(run, &mut pty);
}

/// `shell NAME /bin/echo hi` prints exactly `hi`, then `login NAME` reaches the guest's own
/// `login:` prompt and, with root/root, its shell.
fn echo_and_login(kind: &str) {
    let t = Test::new(&format!("sh-{kind}"));
    let m = t.name();
    let mut pty = Pty::new(40, 200);
    let tree = kind.to_ascii_uppercase();
    // busybox's tree has no password for root: give it `root` too.
    let script = format!(
        r#"copy "${tree}"
[ {kind} = busybox ] && echo '{SHADOW}' >/run/machines/$M/etc/shadow && chmod 600 /run/machines/$M/etc/shadow
boot
"$SPAWNCTL" shell $M /bin/echo hi </dev/null >/run/o 2>/run/e; echo "echo: $? $(wc -c </run/o) bytes [$(cat /run/o)] [$(cat /run/e)]"
"$SPAWNCTL" login $M
echo "login: $?"
stop
echo DONE
"#
    );
    let run = in_private_pty(&t, &pty, &script);
    // Exactly `hi\n` on stdout, nothing on stderr, status 0.
    let at = pty.expect_after(0, "echo: 0 3 bytes [hi] []\r\n", BOOT);
    let at = pty.expect_after(at, &format!("Connected to machine {m}."), STEP);
    let at = pty.expect_after(at, "login: ", STEP);
    pty.type_line("root");
    let at = pty.expect_after(at, "Password: ", STEP);
    pty.type_line("root");
    pty.expect_after(at, "# ", STEP);
    let id = pty.run_at_prompt("id -u; tty", STEP);
    assert!(id.starts_with("0\r\n/dev/pts/"), "{id:?}");
    let at = pty.mark();
    pty.type_line("exit");
    let at = pty.expect_after(at, &format!("Connection to machine {m} terminated.\r\n"), STEP);
    pty.expect_after(at, "login: 0\r\n", STEP);
    finish(run, &mut pty);
}

/// root's password `root` (SHA-512 crypt, `openssl passwd -6 -salt spawnbox root`).
const SHADOW: &str = "root:$6$spawnbox$qACcrXgQ1062TCq31D.sfGR5947966DXTrCowLappG6ffmW6wxLjmxEX2rQHlUDmG5zp7ZJEQq/xv//GKnsB6/:19000:0:99999:7:::";

#[test]
fn busybox_guest_echo_and_login() {
    echo_and_login("busybox");
}

#[test]
fn openrc_guest_echo_and_login() {
    echo_and_login("openrc");
}

#[test]
fn systemd_guest_echo_and_login() {
    echo_and_login("systemd");
}
