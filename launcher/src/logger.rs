//! spawnbox's own messages on stderr (never stdout, which belongs to the container), as
//! `LEVEL [module] text`. While the caller's terminal is in raw mode for the console, a line
//! ends in CR LF: a bare LF would leave the next line starting where this one ended.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

static RAW: AtomicBool = AtomicBool::new(false);
/// When the logger was installed: debug lines carry the time since then (children forked later
/// inherit it, so their lines share the launcher's clock).
static START: OnceLock<Instant> = OnceLock::new();

/// Tells the logger whether the terminal is in raw mode now.
pub fn set_raw(raw: bool) {
    RAW.store(raw, Ordering::Relaxed);
}

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let end = if RAW.load(Ordering::Relaxed) { "\r\n" } else { "\n" };
        let line = match START.get() {
            // Per-step timings under SPAWNBOX_LOG=debug: microseconds since the logger started.
            Some(t) if log::max_level() >= log::LevelFilter::Debug => {
                format!("{:<5} +{:>6}us [{}] {}{end}", r.level(), t.elapsed().as_micros(), r.target(), r.args())
            }
            _ => format!("{:<5} [{}] {}{end}", r.level(), r.target(), r.args()),
        };
        // One write per line, so that lines of the launcher and its children do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the logger with `level` as the most verbose level shown.
pub fn init(level: log::LevelFilter) {
    static LOGGER: Stderr = Stderr;
    // A second call only changes the level.
    let _ = log::set_logger(&LOGGER);
    let _ = START.get_or_init(Instant::now);
    log::set_max_level(level);
}
