//! The console hotkeys of systemd-nspawn: Ctrl-] three times within a second kills the
//! container; Ctrl-] twice followed by `p` or `r` within a second asks it to power off or
//! reboot (nspawn ≥ 257). Pure: bytes and instants in, a request out.

use std::time::{Duration, Instant};

/// The hotkey byte (Ctrl-]).
pub const ESCAPE: u8 = 0x1d;
/// The window, counted from the first Ctrl-], in which the sequence must be completed.
const WINDOW: Duration = Duration::from_secs(1);

/// What a completed hotkey sequence asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Ctrl-] ×3: SIGKILL, at once.
    Kill,
    /// Ctrl-] ×2, `p`: the guest's own power-off request.
    Poweroff,
    /// Ctrl-] ×2, `r`: the guest's own reboot request.
    Reboot,
}

/// Counts hotkey presses as nspawn's `look_for_escape()` does: presses within a second of the
/// first one, with no other byte in between.
#[derive(Default)]
pub struct Hotkey {
    first: Option<Instant>,
    count: usize,
}

/// What [`Hotkey::feed`] found in one read.
#[derive(Debug, PartialEq, Eq)]
pub struct Fed {
    /// A completed sequence (the first one in the read).
    pub request: Option<Request>,
    /// How many bytes of the read go to the container: everything before the completed sequence.
    /// A sequence that is not completed is forwarded (nspawn does the same: a lone Ctrl-] is a
    /// key like any other for the guest).
    pub forward: usize,
}

impl Hotkey {
    /// Feeds the bytes of one read made at `now`.
    pub fn feed(&mut self, input: &[u8], now: Instant) -> Fed {
        // Ctrl-] bytes of this read that belong to the sequence being typed.
        let mut run = 0;
        for (i, &b) in input.iter().enumerate() {
            let within = self.first.is_some_and(|t| now.duration_since(t) <= WINDOW);
            if b == ESCAPE {
                if within && self.count > 0 {
                    self.count += 1;
                    run += 1;
                } else {
                    self.first = Some(now);
                    self.count = 1;
                    run = 1;
                }
                if self.count >= 3 {
                    *self = Hotkey::default();
                    return Fed { request: Some(Request::Kill), forward: i + 1 - run };
                }
                continue;
            }
            let request = match b {
                b'p' | b'P' => Some(Request::Poweroff),
                b'r' | b'R' => Some(Request::Reboot),
                _ => None,
            };
            let count = self.count;
            *self = Hotkey::default();
            if let (Some(r), 2, true) = (request, count, within) {
                return Fed { request: Some(r), forward: i - run };
            }
            run = 0;
        }
        Fed { request: None, forward: input.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn three_presses_within_a_second_kill() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert_eq!(h.feed(&[ESCAPE, ESCAPE], t0).request, None);
        assert_eq!(h.feed(&[ESCAPE], at(t0, 900)), Fed { request: Some(Request::Kill), forward: 0 });
    }

    #[test]
    fn three_presses_in_one_read_withhold_only_the_sequence() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert_eq!(h.feed(b"ls\x1d\x1d\x1d", t0), Fed { request: Some(Request::Kill), forward: 2 });
    }

    #[test]
    fn slow_presses_do_not_kill() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert_eq!(h.feed(&[ESCAPE, ESCAPE], t0).request, None);
        // The window is counted from the first press: a late third press starts over.
        assert_eq!(h.feed(&[ESCAPE], at(t0, 1500)).request, None);
        assert_eq!(h.feed(&[ESCAPE], at(t0, 1600)).request, None);
        assert_eq!(h.feed(&[ESCAPE], at(t0, 1700)).request, Some(Request::Kill));
    }

    #[test]
    fn another_key_in_between_resets() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert_eq!(h.feed(&[ESCAPE, ESCAPE, b'a', ESCAPE], t0).request, None);
        assert_eq!(h.feed(&[ESCAPE], t0).request, None);
        assert_eq!(h.feed(&[ESCAPE], t0).request, Some(Request::Kill));
    }

    #[test]
    fn two_presses_and_p_power_off_and_r_reboots() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert_eq!(h.feed(&[ESCAPE, ESCAPE], t0).request, None);
        assert_eq!(h.feed(b"p", at(t0, 500)), Fed { request: Some(Request::Poweroff), forward: 0 });
        assert_eq!(h.feed(&[ESCAPE, ESCAPE, b'r'], at(t0, 600)), Fed { request: Some(Request::Reboot), forward: 0 });
        assert_eq!(h.feed(b"x\x1d\x1dR", at(t0, 700)), Fed { request: Some(Request::Reboot), forward: 1 });
    }

    #[test]
    fn a_late_or_lone_letter_is_only_a_letter() {
        let mut h = Hotkey::default();
        let t0 = Instant::now();
        assert_eq!(h.feed(&[ESCAPE, ESCAPE], t0).request, None);
        assert_eq!(h.feed(b"p", at(t0, 1200)), Fed { request: None, forward: 1 });
        assert_eq!(h.feed(&[ESCAPE, b'p'], at(t0, 1300)).request, None);
        assert_eq!(h.feed(b"pr", at(t0, 1400)).request, None);
    }
}
