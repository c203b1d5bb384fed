//! The launcher's end of the container console: forwards the pty master to stdout (and, in
//! interactive mode, stdin to the pty with the caller's terminal in raw mode), passes window
//! size changes on, watches for Ctrl-] pressed three times within a second, and restores the
//! terminal on every way out.

use crate::error::{Error, Result};
use crate::settings::ConsoleMode;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, tcsetwinsize, OptionalActions, Termios};
use std::time::{Duration, Instant};

/// The hotkey byte (Ctrl-]).
pub const ESCAPE: u8 = 0x1d;
/// Presses of [`ESCAPE`] within [`ESCAPE_WINDOW`] that kill the container.
const ESCAPE_PRESSES: usize = 3;
const ESCAPE_WINDOW: Duration = Duration::from_secs(1);

/// What woke the event loop, besides console traffic it handled itself.
pub struct Ready {
    /// The channel to the container child has something (or was closed).
    pub channel: bool,
    /// Ctrl-] was pressed three times within a second.
    pub kill_requested: bool,
}

/// Counts hotkey presses as nspawn's `look_for_escape()` does: three Ctrl-] within a second
/// of the first one, with no other byte in between.
#[derive(Default)]
pub struct Hotkey {
    first: Option<Instant>,
    count: usize,
}

impl Hotkey {
    /// Feeds input bytes read at `now`; true when the kill sequence is complete.
    pub fn feed(&mut self, input: &[u8], now: Instant) -> bool {
        for &b in input {
            if b != ESCAPE {
                self.first = None;
                self.count = 0;
                continue;
            }
            match self.first {
                Some(t) if now.duration_since(t) <= ESCAPE_WINDOW => self.count += 1,
                _ => {
                    self.first = Some(now);
                    self.count = 1;
                }
            }
            if self.count >= ESCAPE_PRESSES {
                *self = Hotkey::default();
                return true;
            }
        }
        false
    }
}

/// The console of the running container, as the launcher sees it.
pub struct Console {
    mode: ConsoleMode,
    master: Option<OwnedFd>,
    master_open: bool,
    stdin_open: bool,
    saved: Option<Termios>,
    pending: Vec<u8>,
    hotkey: Hotkey,
}

impl Console {
    /// A console for `mode` (nothing is touched until [`Console::start`]).
    pub fn new(mode: ConsoleMode) -> Self {
        Console {
            mode,
            master: None,
            master_open: false,
            stdin_open: true,
            saved: None,
            pending: Vec::new(),
            hotkey: Hotkey::default(),
        }
    }

    /// Takes the pty master the container sent (a new one after each reboot).
    pub fn attach(&mut self, master: OwnedFd) -> Result<()> {
        let flags = rustix::fs::fcntl_getfl(&master).map_err(|e| Error::sys("get flags of", "console", e))?;
        rustix::fs::fcntl_setfl(&master, flags | rustix::fs::OFlags::NONBLOCK)
            .map_err(|e| Error::sys("set flags of", "console", e))?;
        self.master = Some(master);
        self.master_open = true;
        self.pending.clear();
        Ok(())
    }

    /// Puts the caller's terminal into raw mode (interactive mode only, once).
    pub fn start(&mut self) {
        if self.mode != ConsoleMode::Interactive || self.saved.is_some() {
            return;
        }
        let stdin = rustix::stdio::stdin();
        if let Ok(t) = tcgetattr(stdin) {
            let mut raw = t.clone();
            raw.make_raw();
            if tcsetattr(stdin, OptionalActions::Now, &raw).is_ok() {
                self.saved = Some(t);
            }
        }
        self.resize();
    }

    /// Restores the caller's terminal mode.
    pub fn restore(&mut self) {
        if let Some(t) = self.saved.take() {
            let _ = tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &t);
        }
    }

    /// Passes the caller's window size on to the container's console.
    pub fn resize(&self) {
        if let Some(m) = &self.master {
            if let Ok(ws) = tcgetwinsize(rustix::stdio::stdin()) {
                let _ = tcsetwinsize(m.as_fd(), ws);
            }
        }
    }

    fn forwards_output(&self) -> bool {
        self.master_open && matches!(self.mode, ConsoleMode::Interactive | ConsoleMode::ReadOnly)
    }

    fn forwards_input(&self) -> bool {
        self.stdin_open && self.master_open && self.mode == ConsoleMode::Interactive
    }

    /// Waits for a signal, a message from the child, or console traffic (which it forwards).
    pub fn wait(&mut self, sigfd: BorrowedFd<'_>, channel: Option<BorrowedFd<'_>>) -> Result<Ready> {
        let stdin = rustix::stdio::stdin();
        let master = self.master.as_ref().map(|m| m.as_fd());
        let mut fds = vec![PollFd::new(&sigfd, PollFlags::IN)];
        let chan_idx = channel.as_ref().map(|c| {
            fds.push(PollFd::new(c, PollFlags::IN));
            fds.len() - 1
        });
        let master_idx = match (&master, self.forwards_output() || self.forwards_input()) {
            (Some(m), true) => {
                let mut ev = PollFlags::IN;
                if !self.pending.is_empty() {
                    ev |= PollFlags::OUT;
                }
                fds.push(PollFd::new(m, ev));
                Some(fds.len() - 1)
            }
            _ => None,
        };
        let stdin_idx = if self.forwards_input() && self.pending.len() < 64 * 1024 {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
            Some(fds.len() - 1)
        } else {
            None
        };
        match poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::sys("poll", "events", e)),
        }
        let rev = |i: Option<usize>| i.map_or(PollFlags::empty(), |i| fds[i].revents());
        let (chan_ev, master_ev, stdin_ev) = (rev(chan_idx), rev(master_idx), rev(stdin_idx));
        drop(fds);
        let mut ready = Ready { channel: !chan_ev.is_empty(), kill_requested: false };
        if !stdin_ev.is_empty() {
            let mut buf = [0u8; 4096];
            match rustix::io::read(stdin, &mut buf) {
                Ok(0) => self.stdin_open = false,
                Ok(n) => {
                    ready.kill_requested = self.hotkey.feed(&buf[..n], Instant::now());
                    // As nspawn: the read that completes the sequence is not forwarded.
                    if !ready.kill_requested {
                        self.pending.extend_from_slice(&buf[..n]);
                    }
                }
                Err(Errno::AGAIN) | Err(Errno::INTR) => {}
                Err(_) => self.stdin_open = false,
            }
        }
        if !master_ev.is_empty() {
            self.pump_output();
        }
        self.flush_input();
        Ok(ready)
    }

    /// Copies what the container wrote to stdout; notes when the console is closed.
    fn pump_output(&mut self) {
        let Some(m) = &self.master else { return };
        let mut buf = [0u8; 8192];
        loop {
            match rustix::io::read(m, &mut buf) {
                Ok(0) => {
                    self.master_open = false;
                    return;
                }
                Ok(n) => {
                    if self.forwards_output() {
                        let _ = crate::run_host::write_all(rustix::stdio::stdout(), &buf[..n]);
                    }
                }
                Err(Errno::AGAIN) | Err(Errno::INTR) => return,
                // EIO: every slave descriptor is closed.
                Err(_) => {
                    self.master_open = false;
                    return;
                }
            }
        }
    }

    fn flush_input(&mut self) {
        let Some(m) = &self.master else { return };
        while !self.pending.is_empty() && self.master_open {
            match rustix::io::write(m, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return,
                Err(_) => {
                    self.pending.clear();
                    return;
                }
            }
        }
    }

    /// Forwards what is left in the console after PID 1 is gone.
    pub fn drain(&mut self) {
        if self.master.is_some() && self.master_open {
            self.pump_output();
        }
        self.master = None;
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.restore();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_presses_within_a_second_kill() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert!(!h.feed(&[ESCAPE, ESCAPE], t0));
        assert!(h.feed(&[ESCAPE], t0 + Duration::from_millis(900)));
    }

    #[test]
    fn three_presses_within_a_second_kill_even_across_reads() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert!(!h.feed(&[ESCAPE, ESCAPE], t0));
        assert!(h.feed(&[ESCAPE], t0 + Duration::from_millis(999)));
    }

    #[test]
    fn slow_presses_do_not_kill() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert!(!h.feed(&[ESCAPE, ESCAPE], t0));
        // The window is counted from the first press: a late third press starts over.
        assert!(!h.feed(&[ESCAPE], t0 + Duration::from_millis(1500)));
        assert!(!h.feed(&[ESCAPE], t0 + Duration::from_millis(1600)));
        assert!(h.feed(&[ESCAPE], t0 + Duration::from_millis(1700)));
    }

    #[test]
    fn another_key_in_between_resets() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert!(!h.feed(&[ESCAPE, ESCAPE, b'a', ESCAPE], t0));
        assert!(!h.feed(&[ESCAPE], t0));
        assert!(h.feed(&[ESCAPE], t0));
    }
}
