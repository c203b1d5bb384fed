//! Stock guests booted with `spawnbox -b` and driven through a real pseudo-terminal, the way a
//! person does: wait for `login:`, type, read. Debian bookworm with systemd, Debian with
//! sysvinit + OpenRC, and a busybox-init tree, each built once by `tests/guests/mkguest.sh`
//! (cached outside the repo; `make guests` exports their paths) and copied per test.
//! Every test ends with the common checks: no process, mount or cgroup of the test is left.

use rustix::process::Signal;
use rustix::termios::{tcsetwinsize, Winsize};
use spawnbox_tests::pty::{strip_controls, Pty};
use spawnbox_tests::{guest, Running, Test};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Long enough for a booting guest on a loaded 2-core machine.
const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(30);

/// `spawnbox -b` on a fresh pty (interactive console: a terminal on stdin and stdout).
fn boot(t: &Test, pty: &Pty, extra: &[&str]) -> Running {
    let mut args = vec!["-b"];
    args.extend_from_slice(extra);
    t.bare().args(&args).env("TERM", "vt220").timeout(Duration::from_secs(300)).terminal(pty.slave()).spawn()
}

/// Logs in as root (password `root`) at the `login:` seen after `mark`; the position after the
/// shell's first prompt.
fn login(pty: &mut Pty, mark: usize) -> usize {
    let at = pty.expect_after(mark, "login: ", BOOT);
    pty.type_line("root");
    let at = pty.expect_after(at, "Password: ", STEP);
    pty.type_line("root");
    pty.expect_after(at, "# ", STEP)
}

/// Runs `cmd` at the shell prompt and returns what it printed, terminal controls removed.
fn shell(pty: &mut Pty, cmd: &str) -> String {
    strip_controls(&pty.run_at_prompt(cmd, STEP))
}

#[test]
fn systemd_guest_logs_in_runs_and_powers_off() {
    let t = Test::from_tree("g-sd-poweroff", &guest("systemd"));
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, &[]);
    let m = pty.mark();
    login(&mut pty, m);
    assert_eq!(shell(&mut pty, "systemctl is-system-running --wait"), "running\r\n");
    // READY=1 came in on /run/host/notify and was logged.
    let name = t.root.file_name().unwrap().to_string_lossy().into_owned();
    assert!(pty.text().contains(&format!("Container {name} is ready.")), "{:?}", pty.text());
    // /dev/console is the container's pty; PID 1 lives in /init.scope of its own cgroup.
    assert_eq!(
        shell(&mut pty, "stat -c '%F %t' /dev/console; grep ^0:: /proc/1/cgroup"),
        "character special file 88\r\n0::/init.scope\r\n"
    );
    pty.type_line("poweroff");
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    pty.expect(&format!("Powering off.\r\r\nINFO  [spawnbox::launch] Container {name} has been shut down.\r\n"), STEP);
}

#[test]
fn systemd_guest_reboots_to_a_second_login_then_halts_on_sigterm() {
    let t = Test::from_tree("g-sd-reboot", &guest("systemd"));
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, &[]);
    let m = pty.mark();
    login(&mut pty, m);
    let m = pty.mark();
    pty.type_line("reboot");
    let name = t.root.file_name().unwrap().to_string_lossy().into_owned();
    let at = pty.expect_after(m, &format!("Container {name} is being rebooted."), BOOT);
    pty.expect_after(at, "login: ", BOOT);
    // The window size still reaches the console after agetty's vhangup() of both boots.
    login(&mut pty, at);
    tcsetwinsize(&pty.master, Winsize { ws_row: 33, ws_col: 101, ws_xpixel: 0, ws_ypixel: 0 }).unwrap();
    run.kill(Signal::WINCH);
    assert_eq!(shell(&mut pty, "stty size"), "33 101\r\n");
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    pty.expect("Trying to halt container by sending SIGRTMIN+3 to container PID 1.", STEP);
    pty.expect("Halting system.", STEP);
}

#[test]
fn systemd_guest_is_killed_by_ctrl_bracket_right_after_login_prompt() {
    let t = Test::from_tree("g-sd-kill", &guest("systemd"));
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, &[]);
    let m = pty.mark();
    pty.expect_after(m, "login: ", BOOT);
    let started = Instant::now();
    pty.write(&[0x1d, 0x1d, 0x1d]);
    let out = run.wait();
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(out.code, Some(1), "{out:?}");
    pty.expect("spawnbox: container terminated by signal SIGKILL\r\n", STEP);
}

#[test]
fn systemd_guest_powers_off_on_the_hotkey() {
    let t = Test::from_tree("g-sd-hotkey", &guest("systemd"));
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, &[]);
    let m = pty.mark();
    let at = pty.expect_after(m, "login: ", BOOT);
    pty.write(&[0x1d, 0x1d, b'p']);
    pty.expect_after(at, "Sent SIGRTMIN+4 (power off request) to PID 1 of container.\r\n", STEP);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    pty.expect_after(at, "Powering off.", STEP);
}

/// The OpenRC guest's marker service writes `started`/`stopped` to this file in the tree.
const MARKER: &str = "/var/lib/spawnbox-marker";

#[test]
fn openrc_guest_boots_with_its_output_and_stops_through_its_scripts() {
    let t = Test::from_tree("g-openrc", &guest("openrc"));
    let mut pty = Pty::new(40, 200);
    // Marked before the start: sysvinit's first line may come before this process looks.
    let m = pty.mark();
    let mut run = boot(&t, &pty, &[]);
    let at = login(&mut pty, m);
    let boot_text = pty.text_after(m)[..at - m].to_string();
    assert!(boot_text.contains("INIT: version"), "{boot_text:?}");
    assert!(boot_text.contains("OpenRC"), "no OpenRC output: {boot_text:?}");
    assert!(!boot_text.to_lowercase().contains("cgroup") || !boot_text.contains("ERROR"), "{boot_text:?}");
    assert_eq!(std::fs::read_to_string(t.rpath(MARKER)).unwrap(), "started\n");
    // OpenRC put the marker's daemon in a cgroup of its own (0.45 names it after the service,
    // newer releases openrc.NAME), beside PID 1's init.scope.
    let cg = shell(&mut pty, "grep ^0:: /proc/$(cat /run/spawnbox-sleep.pid)/cgroup; grep ^0:: /proc/1/cgroup");
    assert_eq!(cg, "0::/spawnbox-marker\r\n0::/init.scope\r\n");
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text_after(at));
    pty.expect_after(at, "Trying to halt container by sending runlevel 0 via /run/initctl to container PID 1.", STEP);
    pty.expect_after(at, "Stopping spawnbox-marker", STEP);
    assert_eq!(std::fs::read_to_string(t.rpath(MARKER)).unwrap(), "stopped\n");
}

#[test]
fn busybox_guest_gives_a_shell_and_runs_its_shutdown_actions() {
    let t = Test::from_tree("g-busybox", &guest("busybox"));
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, &[]);
    let m = pty.mark();
    pty.expect_after(m, "# ", BOOT);
    assert_eq!(shell(&mut pty, "cat /run/booted; readlink /proc/1/exe"), "booted\r\n/bin/busybox\r\n");
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    pty.expect("Trying to halt container by sending SIGUSR1 to container PID 1.", STEP);
    assert_eq!(std::fs::read_to_string(t.rpath(MARKER)).unwrap(), "shutdown-ran\n");
}

#[test]
fn busybox_guest_in_a_user_namespace_gets_its_console() {
    // Its getty takes the console as its controlling terminal, which it could not steal from
    // PID 1's session without CAP_SYS_ADMIN on the host.
    let t = Test::from_tree("g-busybox-u", &guest("busybox"));
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, &["-U"]);
    let m = pty.mark();
    pty.expect_after(m, "# ", BOOT);
    assert_eq!(shell(&mut pty, "cat /run/booted; tty; id -u"), "booted\r\n/dev/console\r\n0\r\n");
    assert!(!pty.text().contains("TIOCSCTTY"), "{}", pty.text());
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
}

/// A service manager of the test's own: the datagram socket spawnbox's `$NOTIFY_SOCKET` names.
struct Manager {
    sock: std::os::unix::net::UnixDatagram,
    path: PathBuf,
}

impl Manager {
    fn new(t: &Test) -> Manager {
        let path = t.path("notify.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        Manager { sock, path }
    }

    /// The next datagram within `within`, if one comes.
    fn next(&self, within: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 4096];
        self.sock.recv(&mut buf).ok().map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

#[test]
fn notify_ready_yes_waits_for_the_guests_ready() {
    // systemd says READY=1 on /run/host/notify; spawnbox passes it on.
    let t = Test::from_tree("g-sd-notify", &guest("systemd"));
    let mgr = Manager::new(&t);
    let mut pty = Pty::new(40, 200);
    let mut run = t
        .bare()
        .args(&["-b", "--notify-ready=yes"])
        .env("NOTIFY_SOCKET", mgr.path.to_str().unwrap())
        .timeout(Duration::from_secs(300))
        .terminal(pty.slave())
        .spawn();
    let first = mgr.next(BOOT).expect("READY=1 from spawnbox");
    assert_eq!(first, "READY=1\nSTATUS=Container running.");
    let name = t.root.file_name().unwrap().to_string_lossy().into_owned();
    pty.expect(&format!("Container {name} is ready."), STEP);
    // The guest's STATUS= lines follow, passed on.
    assert_eq!(mgr.next(STEP).as_deref(), Some("STATUS=Container running: Ready."));
    run.kill(Signal::TERM);
    assert_eq!(mgr.next(STEP).as_deref(), Some("STOPPING=1\nSTATUS=Shutting down..."));
    assert_eq!(run.wait().code, Some(0));

    // A guest that never notifies (busybox init) is not waited for by default ...
    let t = Test::from_tree("g-bb-notify", &guest("busybox"));
    let mgr = Manager::new(&t);
    let pty = Pty::new(40, 200);
    let mut run = t.bare().args(&["-b"]).env("NOTIFY_SOCKET", mgr.path.to_str().unwrap()).terminal(pty.slave()).spawn();
    assert_eq!(mgr.next(STEP).as_deref(), Some("READY=1\nSTATUS=Container running."));
    run.kill(Signal::TERM);
    assert_eq!(mgr.next(STEP).as_deref(), Some("STOPPING=1\nSTATUS=Shutting down..."));
    assert_eq!(run.wait().code, Some(0));
    // ... and never reported ready with --notify-ready=yes.
    let mut pty = Pty::new(40, 200);
    let mut run = t
        .bare()
        .args(&["-b", "--notify-ready=yes"])
        .env("NOTIFY_SOCKET", mgr.path.to_str().unwrap())
        .terminal(pty.slave())
        .spawn();
    let m = pty.mark();
    pty.expect_after(m, "# ", BOOT);
    assert_eq!(mgr.next(Duration::from_secs(2)), None);
    run.kill(Signal::TERM);
    assert_eq!(mgr.next(STEP).as_deref(), Some("STOPPING=1\nSTATUS=Shutting down..."));
    assert_eq!(run.wait().code, Some(0));
}

#[test]
fn kill_signal_replaces_the_inits_own_request() {
    // busybox init powers off on SIGUSR2 (it would halt on spawnbox's own choice, SIGUSR1).
    let t = Test::from_tree("g-bb-killsig", &guest("busybox"));
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, &["--kill-signal=SIGUSR2"]);
    let m = pty.mark();
    pty.expect_after(m, "# ", BOOT);
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?}");
    pty.expect("Trying to halt container by sending SIGUSR2 to container PID 1.", STEP);
    assert_eq!(std::fs::read_to_string(t.rpath(MARKER)).unwrap(), "shutdown-ran\n");
}

#[test]
fn a_systemd_guest_sees_its_credentials() {
    let t = Test::from_tree("g-sd-creds", &guest("systemd"));
    let file = t.path("cred-file");
    std::fs::write(&file, "from a file\n").unwrap();
    let mut pty = Pty::new(40, 200);
    let set = "--set-credential=spawnbox.test:hello\\x20world";
    let load = format!("--load-credential=spawnbox.file:{}", file.display());
    let mut run = boot(&t, &pty, &[set, &load]);
    let m = pty.mark();
    login(&mut pty, m);
    // systemd imported what nspawn's interface gave it (/run/host/credentials).
    assert_eq!(
        shell(&mut pty, "systemd-creds --system cat spawnbox.test; systemd-creds --system cat spawnbox.file"),
        "hello world\r\nfrom a file\r\n"
    );
    assert_eq!(
        shell(&mut pty, "stat -c '%a %U %n' /run/host/credentials /run/host/credentials/spawnbox.test; touch /run/host/credentials/x"),
        "500 root /run/host/credentials\r\n400 root /run/host/credentials/spawnbox.test\r\ntouch: cannot touch '/run/host/credentials/x': Read-only file system\r\n"
    );
    run.kill(Signal::TERM);
    assert_eq!(run.wait().code, Some(0));
}
