//! The grace-period clock: a one-shot timerfd armed for the grace period, read back with
//! timerfd_gettime for the time left. sigtimedwait does not report the time left, and
//! clock_gettime would pull in rustix's vDSO parser (with its assertions) for one number.

use crate::out::Line;
use rustix::fd::OwnedFd;
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};

/// A point in time `secs` from when it was made.
pub struct Deadline {
    timer: Option<OwnedFd>,
}

const ZERO: Timespec = Timespec { tv_sec: 0, tv_nsec: 0 };

impl Deadline {
    /// A deadline `secs` seconds from now ([timerfd_create(2)]). Zero seconds, or a timer
    /// that cannot be made, is a deadline that has already passed.
    ///
    /// [timerfd_create(2)]: https://man7.org/linux/man-pages/man2/timerfd_create.2.html
    pub fn after(secs: u32) -> Deadline {
        if secs == 0 {
            return Deadline { timer: None };
        }
        let spec = Itimerspec { it_interval: ZERO, it_value: Timespec { tv_sec: i64::from(secs), tv_nsec: 0 } };
        let timer = rustix::time::timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC)
            .and_then(|fd| rustix::time::timerfd_settime(&fd, TimerfdTimerFlags::empty(), &spec).map(|_| fd));
        match timer {
            Ok(fd) => Deadline { timer: Some(fd) },
            Err(e) => {
                Line::new().s(b"grace period timer: ").err(e).s(b"; not waiting").emit();
                Deadline { timer: None }
            }
        }
    }

    /// Time left; zero once the deadline has passed.
    pub fn remaining(&self) -> Timespec {
        match &self.timer {
            // An expired one-shot timer reads back as zero.
            Some(fd) => rustix::time::timerfd_gettime(fd).map(|t| t.it_value).unwrap_or(ZERO),
            None => ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down() {
        let d = Deadline::after(10);
        let r = d.remaining();
        assert!(r.tv_sec == 9 || r.tv_sec == 10, "{}", r.tv_sec);
        let past = Deadline::after(0).remaining();
        assert_eq!((past.tv_sec, past.tv_nsec), (0, 0));
    }
}
