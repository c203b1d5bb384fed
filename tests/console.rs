//! Root integration tests of the interactive console, driven through a real pty pair: the test
//! holds the master, spawnbox gets the slave as stdin/stdout/stderr and controlling terminal.
//! Output arrives, input reaches the payload, the window size is passed on and follows
//! resizes, Ctrl-] three times kills the container, and the terminal mode is restored.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use rustix::process::Signal;
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcgetattr, tcsetwinsize, LocalModes, Termios, Winsize};
use spawnbox_tests::Test;
use std::time::{Duration, Instant};

/// A pty pair; the master is non-blocking and collects what spawnbox writes.
struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    seen: Vec<u8>,
}

impl Pty {
    fn new(rows: u16, cols: u16) -> Pty {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .expect("open pty slave");
        let fl = fcntl_getfl(&master).unwrap();
        fcntl_setfl(&master, fl | OFlags::NONBLOCK).unwrap();
        tcsetwinsize(&master, Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 }).unwrap();
        Pty { master, slave, seen: Vec::new() }
    }

    fn slave(&self) -> OwnedFd {
        self.slave.try_clone().unwrap()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Reads what is available now.
    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = rustix::io::read(&self.master, &mut buf) {
            if n == 0 {
                break;
            }
            self.seen.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads until the output contains `needle`; fails the test after `within`.
    fn expect(&mut self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            self.pump();
            if self.text().contains(needle) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "{needle:?} did not arrive within {within:?}; console so far: {:?}", self.text());
            let mut fds = [rustix::event::PollFd::new(&self.master, rustix::event::PollFlags::IN)];
            let ts =
                rustix::event::Timespec { tv_sec: 0, tv_nsec: left.min(Duration::from_millis(50)).as_nanos() as i64 };
            let _ = rustix::event::poll(&mut fds, Some(&ts));
        }
    }

    fn write(&self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match rustix::io::write(&self.master, rest) {
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::AGAIN) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => panic!("write to pty master: {e}"),
            }
        }
    }

    fn termios(&self) -> Termios {
        tcgetattr(self.slave.as_fd()).unwrap()
    }
}

/// The parts of a termios that raw mode changes.
fn mode(t: &Termios) -> String {
    format!("{:?} {:?} {:?} {:?} {:?}", t.input_modes, t.output_modes, t.control_modes, t.local_modes, t.special_codes)
}

/// spawnbox on the pty (no --console: a terminal on stdin and stdout means interactive).
fn spawn(t: &Test, pty: &Pty, args: &[&str]) -> spawnbox_tests::Running {
    t.bare().args(args).env("TERM", "xterm-256color").terminal(pty.slave()).spawn()
}

#[test]
fn output_arrives_with_the_banner() {
    let t = Test::new("con-output");
    let mut pty = Pty::new(24, 80);
    let m = format!("con-{}", std::process::id());
    let mut run =
        spawn(&t, &pty, &["-M", &m, "--timezone=off", "/bin/sh", "-c", "echo hello-from-container; echo \"$TERM\""]);
    let out = run.wait();
    pty.expect("hello-from-container\r\nxterm-256color\r\n", Duration::from_secs(5));
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    let text = pty.text();
    assert!(text.contains(&format!("Spawning container {m} on {}.", t.root.display())), "{text:?}");
    assert!(text.contains("Press Ctrl-] three times within 1s to kill container."), "{text:?}");
}

#[test]
fn input_reaches_the_payload() {
    let t = Test::new("con-input");
    let mut pty = Pty::new(24, 80);
    let mut run = spawn(&t, &pty, &["-q", "/bin/sh", "-c", "echo ready; read line; echo \"got:$line\"; exit 4"]);
    pty.expect("ready\r\n", Duration::from_secs(10));
    // The caller's terminal is raw: the Enter key arrives as CR and the container's pty turns it
    // into a newline.
    pty.write(b"hello world\r");
    pty.expect("got:hello world\r\n", Duration::from_secs(10));
    let out = run.wait();
    assert_eq!(out.code, Some(4), "{out:?}");
}

#[test]
fn payload_has_its_own_tty_as_console() {
    let t = Test::new("con-tty");
    let mut pty = Pty::new(24, 80);
    // stdin is the pty allocated in the container's own devpts, which is /dev/console.
    let mut run =
        spawn(&t, &pty, &["-q", "/bin/sh", "-c", "tty; readlink /dev/console; ls /dev/pts | tr '\\n' ' '; echo"]);
    let out = run.wait();
    pty.expect("ptmx \r\n", Duration::from_secs(5));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(pty.text(), "/dev/pts/0\r\npts/0\r\n0 ptmx \r\n");
}

#[test]
fn window_size_is_passed_and_follows_resizes() {
    let t = Test::new("con-winsize");
    let mut pty = Pty::new(33, 77);
    let script = "stty size; trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 1 & wait; done";
    let mut run = spawn(&t, &pty, &["-q", "/bin/sh", "-c", script]);
    pty.expect("33 77\r\nready\r\n", Duration::from_secs(10));
    tcsetwinsize(&pty.master, Winsize { ws_row: 40, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0 }).unwrap();
    run.kill(Signal::WINCH);
    pty.expect("40 100\r\n", Duration::from_secs(10));
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
}

#[test]
fn ctrl_bracket_three_times_kills_the_container() {
    let t = Test::new("con-hotkey");
    let mut pty = Pty::new(24, 80);
    let before = mode(&pty.termios());
    let mut run = spawn(&t, &pty, &["-q", "/bin/sh", "-c", "echo ready; exec sleep 1000"]);
    pty.expect("ready\r\n", Duration::from_secs(10));
    let started = Instant::now();
    pty.write(&[0x1d, 0x1d, 0x1d]);
    let out = run.wait();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(out.code, Some(1), "{out:?}");
    // As nspawn, the read that completes the sequence is not forwarded (earlier reads are, and
    // the container's pty may echo them as ^]); the error comes after the terminal was
    // restored (so its newline is a CR LF again).
    pty.expect("spawnbox: container terminated by signal SIGKILL\r\n", Duration::from_secs(5));
    let after_ready = pty.text().split_once("ready\r\n").map(|(_, rest)| rest.replace("^]", "")).unwrap_or_default();
    assert_eq!(after_ready, "spawnbox: container terminated by signal SIGKILL\r\n");
    assert_eq!(mode(&pty.termios()), before, "terminal mode not restored");
}

#[test]
fn two_presses_are_forwarded_and_do_not_kill() {
    let t = Test::new("con-hotkey2");
    let mut pty = Pty::new(24, 80);
    let mut run = spawn(&t, &pty, &["-q", "/bin/sh", "-c", "echo ready; read line; echo \"len:${#line}\""]);
    pty.expect("ready\r\n", Duration::from_secs(10));
    pty.write(&[0x1d, 0x1d, b'x', b'\r']);
    pty.expect("len:3\r\n", Duration::from_secs(10));
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn terminal_is_raw_while_running_and_restored_on_every_exit() {
    let t = Test::new("con-restore");
    let pty = Pty::new(24, 80);
    let before = pty.termios();
    assert!(before.local_modes.contains(LocalModes::ICANON | LocalModes::ECHO));
    // Normal exit, while checking raw mode in the middle.
    let mut p = Pty::new(24, 80);
    let mut run = spawn(&t, &p, &["-q", "/bin/sh", "-c", "echo ready; read x; exit 3"]);
    p.expect("ready\r\n", Duration::from_secs(10));
    let during = p.termios();
    assert!(
        !during.local_modes.contains(LocalModes::ICANON) && !during.local_modes.contains(LocalModes::ECHO),
        "not raw while running"
    );
    p.write(b"\r");
    assert_eq!(run.wait().code, Some(3));
    assert_eq!(mode(&p.termios()), mode(&before), "after a normal exit");
    // SIGTERM to spawnbox (container SIGKILLed).
    let mut p = Pty::new(24, 80);
    let mut run = spawn(&t, &p, &["-q", "/bin/sh", "-c", "echo ready; exec sleep 1000"]);
    p.expect("ready\r\n", Duration::from_secs(10));
    run.kill(Signal::TERM);
    assert_eq!(run.wait().code, Some(1));
    assert_eq!(mode(&p.termios()), mode(&before), "after SIGTERM");
    // PID 1 killed from outside.
    let mut p = Pty::new(24, 80);
    let mut run = spawn(&t, &p, &["-q", "/bin/sh", "-c", "echo ready; exec sleep 1000"]);
    p.expect("ready\r\n", Duration::from_secs(10));
    rustix::process::kill_process(rustix::process::Pid::from_raw(run.container_pid1()).unwrap(), Signal::KILL).unwrap();
    assert_eq!(run.wait().code, Some(1));
    assert_eq!(mode(&p.termios()), mode(&before), "after PID 1 was killed");
    // Setup error in the container (before the terminal is touched).
    let p = Pty::new(24, 80);
    let mut run = spawn(&t, &p, &["-q", "--chdir=/nonexistent", "/bin/true"]);
    assert_eq!(run.wait().code, Some(1));
    assert_eq!(mode(&p.termios()), mode(&before), "after a setup error");
}

#[test]
fn read_only_console_forwards_output_but_not_input() {
    let t = Test::new("con-readonly");
    let mut pty = Pty::new(24, 80);
    let before = mode(&pty.termios());
    let mut run = spawn(
        &t,
        &pty,
        &["-q", "--console=read-only", "/bin/sh", "-c", "echo ready; read -t 1 line; echo \"got:$line.\""],
    );
    // The caller's terminal stays as it was (nspawn leaves it alone in read-only mode too), so
    // its own output processing adds a CR to the container's CR LF.
    pty.expect("ready\r\r\n", Duration::from_secs(10));
    assert_eq!(mode(&pty.termios()), before);
    pty.write(b"typed\r");
    pty.expect("got:.\r\r\n", Duration::from_secs(10));
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(!pty.text().contains("got:typed"), "{:?}", pty.text());
}
