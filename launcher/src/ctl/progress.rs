//! A progress line on stderr while an import or export runs, when stderr is a terminal: bytes
//! done (and of how many), rate and time left, redrawn at most ten times a second and cleared
//! at the end. Nothing is drawn into a pipe or a log.

use super::show::format_bytes;
use std::io::Write;
use std::time::{Duration, Instant};

/// The progress of one transfer.
pub struct Bar {
    label: String,
    start: Instant,
    drawn: Option<Instant>,
    tty: bool,
}

impl Bar {
    /// A bar for `label` (`Importing web.tar.xz`); silent unless stderr is a terminal.
    pub fn new(label: impl Into<String>) -> Bar {
        let tty = rustix::termios::isatty(rustix::stdio::stderr());
        Bar { label: label.into(), start: Instant::now(), drawn: None, tty }
    }

    /// `done` bytes of `total` (if known).
    pub fn update(&mut self, done: u64, total: Option<u64>) {
        let now = Instant::now();
        if !self.tty || self.drawn.is_some_and(|d| now.duration_since(d) < Duration::from_millis(100)) {
            return;
        }
        self.drawn = Some(now);
        let text = line(&self.label, done, total, now.duration_since(self.start));
        let _ = write!(std::io::stderr(), "\r{text}\x1b[K");
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if self.tty && self.drawn.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `LABEL: 45% 123.4M/274.0M 56.7M/s 3s left` (without a total: `LABEL: 123.4M 56.7M/s`).
pub fn line(label: &str, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { (done as f64 / secs) as u64 } else { 0 };
    match total.filter(|t| *t > 0) {
        Some(t) => {
            let pct = (done.min(t) * 100) / t;
            let left = t.saturating_sub(done).checked_div(rate).map(|s| format!(" {s}s left")).unwrap_or_default();
            format!("{label}: {pct}% {}/{} {}/s{left}", format_bytes(done), format_bytes(t), format_bytes(rate))
        }
        None => format!("{label}: {} {}/s", format_bytes(done), format_bytes(rate)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let s = Duration::from_secs;
        assert_eq!(
            line("Importing a.tar", 50 << 20, Some(200 << 20), s(2)),
            "Importing a.tar: 25% 50M/200M 25M/s 6s left"
        );
        assert_eq!(line("Importing -", 3 << 20, None, s(1)), "Importing -: 3M 3M/s");
        assert_eq!(line("x", 0, Some(10), Duration::ZERO), "x: 0% 0B/10B 0B/s");
        assert_eq!(line("x", 20, Some(10), s(1)), "x: 100% 20B/10B 20B/s 0s left");
    }
}
