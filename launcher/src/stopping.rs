//! A clean stop of the guest in progress: the request its init understands (`guest::ask`),
//! asked again while the init does not listen yet (a request sent before an init set up its
//! handlers would be dropped by the kernel), and the deadline after which it is killed.

use crate::guest::{self, Asked, InitKind, Shutdown};
use std::time::{Duration, Instant};

/// How often a request is asked again while the init does not listen yet.
const RETRY: Duration = Duration::from_millis(100);

/// How long a guest has to stop after it was asked to (`$SPAWNBOX_STOP_TIMEOUT`, seconds):
/// nspawn has no timeout of its own; its unit, systemd-nspawn@.service, has TimeoutSec=2min.
pub fn stop_timeout() -> Duration {
    std::env::var("SPAWNBOX_STOP_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(120), Duration::from_secs)
}

/// Why the guest is being stopped: it decides the message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// spawnbox got SIGTERM or SIGINT.
    Signal,
    /// A console hotkey.
    Hotkey,
}

/// One stop in progress.
pub struct Stopping {
    what: Shutdown,
    kind: InitKind,
    /// `--kill-signal=`, which replaces the init's own request.
    explicit: Option<i32>,
    cause: Cause,
    deadline: Instant,
    /// When to ask again (the init did not listen yet); `None` once the request went out.
    retry: Option<Instant>,
}

impl Stopping {
    /// Asks the guest whose PID 1 is `pid` for `what` now (and again later if it does not
    /// listen yet); `None` when it cannot be asked at all (warned).
    pub fn begin(
        machine: &str,
        pid: i32,
        kind: InitKind,
        what: Shutdown,
        explicit: Option<i32>,
        cause: Cause,
    ) -> Option<Stopping> {
        let mut s = Stopping {
            what,
            kind,
            explicit,
            cause,
            deadline: Instant::now() + stop_timeout(),
            retry: Some(Instant::now()),
        };
        s.ask(machine, pid).then_some(s)
    }

    /// A request already sent by the caller (a plain signal): only the deadline is kept.
    pub fn sent() -> Stopping {
        Stopping {
            what: Shutdown::Halt,
            kind: InitKind::Unknown,
            explicit: None,
            cause: Cause::Signal,
            deadline: Instant::now() + stop_timeout(),
            retry: None,
        }
    }

    /// Until when the event loop may sleep.
    pub fn wake_at(&self) -> Instant {
        self.retry.map_or(self.deadline, |r| r.min(self.deadline))
    }

    /// Called whenever the loop wakes: asks again when due; true once the deadline passed.
    pub fn poll(&mut self, machine: &str, pid: i32) -> bool {
        let now = Instant::now();
        if self.retry.is_some_and(|r| now >= r) && !self.ask(machine, pid) {
            self.retry = None;
        }
        now >= self.deadline
    }

    /// One attempt; false when the guest cannot be asked at all.
    fn ask(&mut self, machine: &str, pid: i32) -> bool {
        match guest::ask(pid, self.kind, self.what, self.explicit) {
            Ok(Asked::Sent(how)) => {
                self.retry = None;
                log::debug!("asked {} for {} ({how})", guest::row(self.kind).name, self.what.word());
                match self.cause {
                    Cause::Signal => log::info!(
                        "Trying to halt container by sending {how} to container PID 1. Send SIGTERM again to trigger \
                         immediate termination."
                    ),
                    Cause::Hotkey => log::info!("Sent {how} ({} request) to PID 1 of container.", self.what.word()),
                }
                crate::notify::tell_manager("STOPPING=1\nSTATUS=Shutting down...");
                true
            }
            Ok(Asked::NotYet(why)) => {
                log::debug!("{} request not taken yet ({why}), asking again", self.what.word());
                self.retry = Some(Instant::now() + RETRY);
                true
            }
            Err(e) => {
                log::warn!("Cannot ask container {machine} to {}: {e}", self.what.word());
                false
            }
        }
    }
}
