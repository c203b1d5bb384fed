//! A pseudo-terminal as a person at a terminal holds it: the test keeps the master, spawnbox
//! gets the slave as stdin/stdout/stderr and controlling terminal; the test reads what appears
//! (with timeouts) and types keys.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcgetattr, tcsetwinsize, Termios, Winsize};
use std::time::{Duration, Instant};

/// A pty pair; the master is non-blocking and collects what spawnbox writes.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    seen: Vec<u8>,
}

impl Pty {
    pub fn new(rows: u16, cols: u16) -> Pty {
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

    pub fn slave(&self) -> OwnedFd {
        self.slave.try_clone().unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Reads what is available now.
    pub fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = rustix::io::read(&self.master, &mut buf) {
            if n == 0 {
                break;
            }
            self.seen.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads until the output contains `needle`; fails the test after `within`.
    pub fn expect(&mut self, needle: &str, within: Duration) {
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

    pub fn write(&self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match rustix::io::write(&self.master, rest) {
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::AGAIN) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => panic!("write to pty master: {e}"),
            }
        }
    }

    pub fn termios(&self) -> Termios {
        tcgetattr(self.slave.as_fd()).unwrap()
    }
}

impl Pty {
    /// How much has been seen so far: a mark for [`Pty::expect_after`].
    pub fn mark(&mut self) -> usize {
        self.pump();
        self.seen.len()
    }

    /// What was seen after `mark`.
    pub fn text_after(&self, mark: usize) -> String {
        String::from_utf8_lossy(&self.seen[mark.min(self.seen.len())..]).into_owned()
    }

    /// Reads until the output after `mark` contains `needle`; fails the test after `within`.
    /// Returns the position just past the first occurrence.
    pub fn expect_after(&mut self, mark: usize, needle: &str, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            self.pump();
            if let Some(i) = self.text_after(mark).find(needle) {
                return mark + self.text_after(mark)[..i].len() + needle.len();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{needle:?} did not arrive within {within:?}; console after the mark: {:?}",
                self.text_after(mark)
            );
            self.poll(left.min(Duration::from_millis(50)));
        }
    }

    /// Waits until the master has something to read, at most `d`.
    pub fn poll(&self, d: Duration) {
        let mut fds = [rustix::event::PollFd::new(&self.master, rustix::event::PollFlags::IN)];
        let ts = rustix::event::Timespec { tv_sec: 0, tv_nsec: d.as_nanos() as i64 };
        let _ = rustix::event::poll(&mut fds, Some(&ts));
    }

    /// Types `line` and Enter (a CR, as a terminal in raw mode sends it).
    pub fn type_line(&self, line: &str) {
        self.write(line.as_bytes());
        self.write(b"\r");
    }

    /// Runs `cmd` at a shell prompt and returns what it printed, as the terminal got it,
    /// between two marker lines that only the shell's arithmetic makes (the terminal's echo of
    /// the command line, which the line editor may wrap, shows them unexpanded); each marker
    /// must come within `within`.
    pub fn run_at_prompt(&mut self, cmd: &str, within: Duration) -> String {
        let m = self.mark();
        self.type_line(&format!("echo BEGIN-OF-$((6*6)); {cmd}; echo END-OF-$((6*7))"));
        let begin = self.expect_after(m, "BEGIN-OF-36\r\n", within);
        let end = self.expect_after(begin, "END-OF-42", within);
        let text = self.text_after(begin);
        text[..end - begin - "END-OF-42".len()].to_string()
    }
}

/// `text` without CSI sequences (`ESC [ ... letter`) and without a CR that starts it.
pub fn strip_controls(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out.strip_prefix('\r').map(str::to_string).unwrap_or(out)
}
