//! The launcher's event loop and its end of the container console: forwards the pty master to
//! stdout (and, in interactive mode, stdin to the pty with the caller's terminal in raw mode),
//! passes window size changes on, watches for the hotkeys, and restores the terminal on every
//! way out.
//!
//! Real inits do odd things with their console: agetty calls vhangup(), sysvinit opens and
//! closes `/dev/console` for every message, systemd closes it once boot output is done. While
//! no slave descriptor is open the master reads EIO and polls HUP. As nspawn's pty forwarder in
//! boot mode (PTY_FORWARD_IGNORE_VHANGUP), an EIO is not the end: the master is watched
//! edge-triggered, so a hung-up master wakes the loop once and then sleeps until the guest
//! writes again (no busy loop), and stdin is read all along (the hotkeys work whether or not
//! the guest has its console open).

pub mod hotkey;
pub mod pty;
pub mod relay;

use crate::error::{Error, Result};
use crate::settings::ConsoleMode;
use hotkey::Hotkey;
pub use hotkey::Request;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, tcsetwinsize, OptionalActions, Termios};
use std::time::{Duration, Instant};

/// Input kept for the guest while its console is not open (more is dropped).
const MAX_PENDING: usize = 64 * 1024;
/// How often input waiting for a console that is not open is retried: the kernel does not wake
/// the master when a slave is opened, only when the guest writes (a getty's prompt does).
const RETRY: Duration = Duration::from_millis(100);

const SIGNALS: u64 = 1;
const CHANNEL: u64 = 2;
const MASTER: u64 = 3;
const INPUT: u64 = 4;
const NOTIFY: u64 = 5;
const MACHINE: u64 = 6;

/// What woke the event loop, besides console traffic it handled itself.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Events {
    /// The signalfd is readable.
    pub signal: bool,
    /// The channel to the container child has something (or was closed).
    pub channel: bool,
    /// The notify socket has datagrams.
    pub notify: bool,
    /// The machine's own events descriptor is readable (`Machine::handle_events`).
    pub machine: bool,
    /// A hotkey sequence was typed.
    pub request: Option<Request>,
}

/// Where the console's bytes go: the launcher's stdin/stdout, or descriptors of a test.
enum Io {
    Stdio,
    #[cfg_attr(not(test), allow(dead_code))]
    Fds {
        input: OwnedFd,
        output: OwnedFd,
    },
}

/// The console of the running container and the launcher's event loop.
pub struct Console {
    mode: ConsoleMode,
    io: Io,
    epoll: OwnedFd,
    master: Option<OwnedFd>,
    /// Edge-triggered state of the master: it may have data / room (cleared on EAGAIN or EIO).
    master_readable: bool,
    master_writable: bool,
    /// The last read or write of the master gave EIO: no slave is open.
    hung_up: bool,
    input_open: bool,
    saved: Option<Termios>,
    pending: Vec<u8>,
    hotkey: Hotkey,
}

impl Console {
    /// A console for `mode` on the launcher's stdin and stdout (the terminal is touched only
    /// by [`Console::start`]).
    pub fn new(mode: ConsoleMode) -> Result<Self> {
        Self::with_io(mode, Io::Stdio)
    }

    /// A console that reads `input` and writes `output` instead of stdin and stdout.
    #[cfg(test)]
    fn with_fds(mode: ConsoleMode, input: OwnedFd, output: OwnedFd) -> Result<Self> {
        Self::with_io(mode, Io::Fds { input, output })
    }

    fn with_io(mode: ConsoleMode, io: Io) -> Result<Self> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| Error::sys("create", "epoll", e))?;
        let mut c = Console {
            mode,
            io,
            epoll,
            master: None,
            master_readable: false,
            master_writable: false,
            hung_up: false,
            input_open: false,
            saved: None,
            pending: Vec::new(),
            hotkey: Hotkey::default(),
        };
        if mode == ConsoleMode::Interactive {
            // A regular file cannot be watched (EPERM): its content is not console input.
            c.input_open = epoll::add(&c.epoll, c.input(), EventData::new_u64(INPUT), EventFlags::IN).is_ok();
        }
        Ok(c)
    }

    fn input(&self) -> BorrowedFd<'_> {
        match &self.io {
            Io::Stdio => rustix::stdio::stdin(),
            Io::Fds { input, .. } => input.as_fd(),
        }
    }

    fn output(&self) -> BorrowedFd<'_> {
        match &self.io {
            Io::Stdio => rustix::stdio::stdout(),
            Io::Fds { output, .. } => output.as_fd(),
        }
    }

    /// Wakes the loop when the signalfd `fd` is readable.
    pub fn watch_signals(&self, fd: BorrowedFd<'_>) -> Result<()> {
        epoll::add(&self.epoll, fd, EventData::new_u64(SIGNALS), EventFlags::IN)
            .map_err(|e| Error::sys("watch", "signalfd", e))
    }

    /// Wakes the loop when the channel `fd` to the container child has a message or is closed.
    pub fn watch_channel(&self, fd: BorrowedFd<'_>) -> Result<()> {
        epoll::add(&self.epoll, fd, EventData::new_u64(CHANNEL), EventFlags::IN)
            .map_err(|e| Error::sys("watch", "container channel", e))
    }

    /// Wakes the loop when the notify socket `fd` has a datagram.
    pub fn watch_notify(&self, fd: BorrowedFd<'_>) -> Result<()> {
        epoll::add(&self.epoll, fd, EventData::new_u64(NOTIFY), EventFlags::IN)
            .map_err(|e| Error::sys("watch", "notify socket", e))
    }

    /// Wakes the loop when the machine's events descriptor `fd` is readable
    /// (`Machine::events_fd`; a closed descriptor leaves the set by itself).
    pub fn watch_machine(&self, fd: BorrowedFd<'_>) -> Result<()> {
        epoll::add(&self.epoll, fd, EventData::new_u64(MACHINE), EventFlags::IN)
            .map_err(|e| Error::sys("watch", "the container's address changes", e))
    }

    /// Stops watching the channel `fd` (closed by the child, or done with).
    pub fn unwatch_channel(&self, fd: BorrowedFd<'_>) {
        let _ = epoll::delete(&self.epoll, fd);
    }

    /// Takes the pty master the container sent (a new one after each reboot).
    pub fn attach(&mut self, master: OwnedFd) -> Result<()> {
        let flags = rustix::fs::fcntl_getfl(&master).map_err(|e| Error::sys("get flags of", "console", e))?;
        rustix::fs::fcntl_setfl(&master, flags | rustix::fs::OFlags::NONBLOCK)
            .map_err(|e| Error::sys("set flags of", "console", e))?;
        self.detach();
        if matches!(self.mode, ConsoleMode::Interactive | ConsoleMode::ReadOnly) {
            epoll::add(
                &self.epoll,
                &master,
                EventData::new_u64(MASTER),
                EventFlags::IN | EventFlags::OUT | EventFlags::ET,
            )
            .map_err(|e| Error::sys("watch", "console", e))?;
        }
        self.master = Some(master);
        self.master_readable = true;
        self.master_writable = true;
        self.hung_up = false;
        self.pending.clear();
        self.resize();
        Ok(())
    }

    /// Lets go of the master (the container ended).
    fn detach(&mut self) {
        if let Some(m) = self.master.take() {
            let _ = epoll::delete(&self.epoll, &m);
        }
    }

    /// Puts the caller's terminal into raw mode (interactive mode only, once per start).
    pub fn start(&mut self) {
        if self.mode != ConsoleMode::Interactive || self.saved.is_some() {
            return;
        }
        let input = self.input();
        if let Ok(t) = tcgetattr(input) {
            let mut raw = t.clone();
            raw.make_raw();
            if tcsetattr(input, OptionalActions::Now, &raw).is_ok() {
                self.saved = Some(t);
                crate::logger::set_raw(true);
            }
        }
        self.resize();
    }

    /// Restores the caller's terminal mode.
    pub fn restore(&mut self) {
        if let Some(t) = self.saved.take() {
            let _ = tcsetattr(self.input(), OptionalActions::Now, &t);
            crate::logger::set_raw(false);
        }
    }

    /// Passes the caller's window size on to the container's console (the master's window
    /// size is the terminal's, whether or not a slave is open).
    pub fn resize(&self) {
        if let Some(m) = &self.master {
            if let Ok(ws) = tcgetwinsize(self.input()) {
                let _ = tcsetwinsize(m.as_fd(), ws);
            }
        }
    }

    /// True while no slave of the console is open (after a hangup, between two opens).
    #[cfg(test)]
    pub fn hung_up(&self) -> bool {
        self.hung_up
    }

    /// Waits up to `timeout` (for ever with `None`) for a signal, a message from the child, a
    /// hotkey, or console traffic (which it forwards).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Events> {
        let retry = (!self.pending.is_empty() && !self.master_writable && self.master.is_some()).then_some(RETRY);
        let t = match (timeout, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let ts = t.map(|d| rustix::time::Timespec { tv_sec: d.as_secs() as i64, tv_nsec: d.subsec_nanos() as i64 });
        let mut list = Vec::with_capacity(8);
        match epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut list), ts.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::sys("wait for", "events", e)),
        }
        let mut ev = Events::default();
        let mut input_ready = false;
        for e in &list {
            match e.data.u64() {
                SIGNALS => ev.signal = true,
                CHANNEL => ev.channel = true,
                NOTIFY => ev.notify = true,
                MACHINE => ev.machine = true,
                // Any edge: data, room, or a hangup (whose EIO the next read reports).
                MASTER => {
                    self.master_readable = true;
                    self.master_writable = true;
                }
                INPUT => input_ready = true,
                _ => {}
            }
        }
        if list.is_empty() && retry.is_some() {
            self.master_writable = true;
        }
        if input_ready {
            ev.request = self.read_input();
        }
        self.shovel();
        Ok(ev)
    }

    /// Reads what the user typed: hotkeys are acted on, the rest is kept for the guest.
    fn read_input(&mut self) -> Option<Request> {
        let mut buf = [0u8; 4096];
        match rustix::io::read(self.input(), &mut buf) {
            Ok(0) => self.close_input(),
            Ok(n) => {
                let fed = self.hotkey.feed(&buf[..n], Instant::now());
                let room = MAX_PENDING.saturating_sub(self.pending.len());
                self.pending.extend_from_slice(&buf[..fed.forward.min(room)]);
                return fed.request;
            }
            Err(Errno::AGAIN) | Err(Errno::INTR) => {}
            Err(_) => self.close_input(),
        }
        None
    }

    fn close_input(&mut self) {
        if self.input_open {
            let _ = epoll::delete(&self.epoll, self.input());
            self.input_open = false;
        }
    }

    /// Moves bytes both ways until the master would block or has no slave.
    fn shovel(&mut self) {
        self.pump_output();
        self.flush_input();
    }

    /// Copies what the container wrote to stdout.
    fn pump_output(&mut self) {
        let Some(m) = &self.master else { return };
        if !matches!(self.mode, ConsoleMode::Interactive | ConsoleMode::ReadOnly) {
            return;
        }
        let mut buf = [0u8; 8192];
        while self.master_readable {
            match rustix::io::read(m, &mut buf) {
                Ok(n) if n > 0 => {
                    self.hung_up = false;
                    let _ = crate::run_host::write_all(self.output(), &buf[..n]);
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => self.master_readable = false,
                // EIO (or 0): no slave descriptor is open. Not the end: wait for the next edge.
                Ok(_) | Err(_) => {
                    self.master_readable = false;
                    self.hung_up = true;
                }
            }
        }
    }

    /// Writes what the user typed to the console, while a slave is open.
    fn flush_input(&mut self) {
        let Some(m) = &self.master else { return };
        while self.master_writable && !self.pending.is_empty() {
            match rustix::io::write(m, &self.pending) {
                Ok(n) => {
                    self.hung_up = false;
                    self.pending.drain(..n);
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => self.master_writable = false,
                // EIO: no slave is open; kept for when one is.
                Err(_) => {
                    self.master_writable = false;
                    self.hung_up = true;
                }
            }
        }
    }

    /// Forwards what is left in the console after PID 1 is gone, then lets go of it.
    pub fn drain(&mut self) {
        self.master_readable = true;
        self.pump_output();
        self.pending.clear();
        self.detach();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.restore();
    }
}

#[cfg(test)]
mod tests;
