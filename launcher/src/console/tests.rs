//! The forwarder's state machine on a pty pair of the test's own (no root): output, hangup
//! (no slave open), escape while hung up, reopen, input kept and delivered.

use super::*;
use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;

struct Rig {
    console: Console,
    /// What the user types (the console's input).
    keys: OwnedFd,
    /// What the user sees (the console's output).
    screen: OwnedFd,
    slave_path: std::path::PathBuf,
}

fn nonblock(fd: &OwnedFd) {
    let fl = rustix::fs::fcntl_getfl(fd).unwrap();
    rustix::fs::fcntl_setfl(fd, fl | OFlags::NONBLOCK).unwrap();
}

fn rig() -> (Rig, OwnedFd) {
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    rustix::pty::grantpt(&master).unwrap();
    rustix::pty::unlockpt(&master).unwrap();
    let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
    let slave_path = std::path::PathBuf::from(name.to_string_lossy().into_owned());
    let slave = open_slave(&slave_path);
    // Raw: no echo, no line buffering, so the bytes seen are the bytes sent.
    let mut t = tcgetattr(&slave).unwrap();
    t.make_raw();
    tcsetattr(&slave, OptionalActions::Now, &t).unwrap();
    let (in_r, in_w) = rustix::pipe::pipe().unwrap();
    let (out_r, out_w) = rustix::pipe::pipe().unwrap();
    nonblock(&out_r);
    let mut console = Console::with_fds(ConsoleMode::Interactive, in_r, out_w).unwrap();
    console.attach(master).unwrap();
    (Rig { console, keys: in_w, screen: out_r, slave_path }, slave)
}

fn open_slave(p: &std::path::Path) -> OwnedFd {
    rustix::fs::open(p, OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NONBLOCK, Mode::empty()).unwrap()
}

fn read_all(fd: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = rustix::io::read(fd, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Runs the loop until `done` or two seconds.
fn until(r: &mut Rig, mut done: impl FnMut(&mut Rig, &Events) -> bool) -> Events {
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        let ev = r.console.wait(Some(Duration::from_millis(50))).unwrap();
        if done(r, &ev) || Instant::now() > end {
            return ev;
        }
    }
}

#[test]
fn output_is_forwarded_and_survives_a_hangup_and_reopen() {
    let (mut r, slave) = rig();
    rustix::io::write(&slave, b"INIT: version 3.06 booting\r\n").unwrap();
    let mut seen = Vec::new();
    until(&mut r, |r, _| {
        seen.extend(read_all(&r.screen));
        seen.ends_with(b"booting\r\n")
    });
    assert_eq!(seen, b"INIT: version 3.06 booting\r\n");

    // Every slave descriptor closed (what vhangup() or sysvinit's close per message does).
    drop(slave);
    until(&mut r, |r, _| r.console.hung_up());
    assert!(r.console.hung_up());

    // Opened again: output flows again.
    let slave = open_slave(&r.slave_path);
    rustix::io::write(&slave, b"debian login: ").unwrap();
    let mut seen = Vec::new();
    until(&mut r, |r, _| {
        seen.extend(read_all(&r.screen));
        seen.ends_with(b"login: ")
    });
    assert_eq!(seen, b"debian login: ");
    assert!(!r.console.hung_up());
}

#[test]
fn a_hung_up_console_does_not_wake_the_loop() {
    let (mut r, slave) = rig();
    drop(slave);
    until(&mut r, |r, _| r.console.hung_up());
    // Level-triggered, a master without slave reports HUP at once, for ever: the loop would
    // spin. Edge-triggered it sleeps for the whole timeout.
    // This thread's CPU time: the other tests, running in parallel threads, do not count (under
    // qemu-user they alone took 435 ms of the process's CPU in these 500 ms).
    let cpu0 = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let t0 = Instant::now();
    let mut wakeups = 0;
    while t0.elapsed() < Duration::from_millis(500) {
        let ev = r.console.wait(Some(Duration::from_millis(250))).unwrap();
        assert_eq!(ev, Events::default());
        wakeups += 1;
    }
    let cpu1 = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let cpu_ms = (cpu1.tv_sec - cpu0.tv_sec) * 1000 + (cpu1.tv_nsec - cpu0.tv_nsec) / 1_000_000;
    assert!(wakeups <= 3, "{wakeups} wake-ups in 500 ms");
    // A spinning loop would burn about 500 ms; a sleeping one almost nothing.
    assert!(cpu_ms < 100, "{cpu_ms} ms of CPU in 500 ms");
}

#[test]
fn hotkeys_work_while_no_slave_is_open() {
    let (mut r, slave) = rig();
    drop(slave);
    until(&mut r, |r, _| r.console.hung_up());
    rustix::io::write(&r.keys, &[hotkey::ESCAPE, hotkey::ESCAPE, b'p']).unwrap();
    let ev = until(&mut r, |_, ev| ev.request.is_some());
    assert_eq!(ev.request, Some(Request::Poweroff));
    rustix::io::write(&r.keys, &[hotkey::ESCAPE, hotkey::ESCAPE, hotkey::ESCAPE]).unwrap();
    let ev = until(&mut r, |_, ev| ev.request.is_some());
    assert_eq!(ev.request, Some(Request::Kill));
}

#[test]
fn input_typed_while_hung_up_reaches_the_next_slave() {
    let (mut r, slave) = rig();
    drop(slave);
    until(&mut r, |r, _| r.console.hung_up());
    rustix::io::write(&r.keys, b"root\r").unwrap();
    // Nobody reads yet: the bytes wait in the launcher.
    for _ in 0..3 {
        r.console.wait(Some(Duration::from_millis(20))).unwrap();
    }
    assert!(r.console.hung_up());
    // A getty opens the console again and reads, without writing first: the retry delivers.
    let slave = open_slave(&r.slave_path);
    let mut got = Vec::new();
    until(&mut r, |_, _| {
        got.extend(read_all(&slave));
        got.ends_with(b"root\r")
    });
    assert_eq!(got, b"root\r");
}
