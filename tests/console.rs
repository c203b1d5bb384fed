//! Root integration tests of the interactive console, driven through a real pty pair: the test
//! holds the master, spawnbox gets the slave as stdin/stdout/stderr and controlling terminal.
//! Output arrives, input reaches the payload, the window size is passed on and follows
//! resizes, Ctrl-] three times kills the container, and the terminal mode is restored.

use rustix::process::Signal;
use rustix::termios::{tcsetwinsize, LocalModes, Termios, Winsize};
use spawnbox_tests::pty::Pty;
use spawnbox_tests::Test;
use std::time::{Duration, Instant};

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
    // stdin is the pty allocated in the container's own devpts; /dev/console is that pty
    // bind-mounted on a file, as nspawn makes it (a character device, not a symlink).
    let script = "tty; stat -c '%F %t:%T' /dev/console /dev/pts/0; \
                  grep ' /dev/console ' /proc/self/mountinfo | cut -d' ' -f4,5,9; ls /dev/pts | tr '\\n' ' '; echo";
    let mut run = spawn(&t, &pty, &["-q", "/bin/sh", "-c", script]);
    let out = run.wait();
    pty.expect("ptmx \r\n", Duration::from_secs(5));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        pty.text(),
        "/dev/pts/0\r\ncharacter special file 88:0\r\ncharacter special file 88:0\r\n/0 /dev/console devpts\r\n0 ptmx \r\n"
    );
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

/// utime + stime of process `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn a_console_nobody_has_open_costs_no_cpu_and_comes_back() {
    let t = Test::new("con-hangup");
    let mut pty = Pty::new(24, 80);
    // PID 1 lets go of every descriptor of its console (no slave is open: the master reads EIO,
    // as after agetty's vhangup()), then opens /dev/console again.
    let script = "echo ready; exec </dev/null >/dev/null 2>&1; sleep 3; \
                  exec </dev/console >/dev/console 2>&1; echo back; read line; echo \"got:$line\"";
    let mut run = spawn(&t, &pty, &["-q", "/bin/sh", "-c", script]);
    pty.expect("ready\r\n", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(run.pid());
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(run.pid()) - before;
    // A loop on the master's HUP would burn all 200 ticks of the 2 s.
    assert!(spent <= 2, "the launcher used {spent} ticks of CPU in 2 s with the console closed");
    pty.expect("back\r\n", Duration::from_secs(10));
    pty.write(b"hello\r");
    pty.expect("got:hello\r\n", Duration::from_secs(10));
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?}");
}
