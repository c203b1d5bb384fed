//! Where spawnbox-runc's errors go: stderr (podman shows it), and `--log` as runc writes it —
//! logrus text lines, or with `--log-format json` JSON lines
//! (`{"level":"error","msg":"…","time":"…"}`), the last of which containerd's shim reports.

use super::args::{Global, LogFormat};
use std::io::Write;
use std::path::PathBuf;

/// The error sink of one invocation.
#[derive(Debug, Default)]
pub struct Log {
    file: Option<PathBuf>,
    json: bool,
}

impl Log {
    pub fn new(g: &Global) -> Log {
        Log { file: g.log.clone(), json: g.log_format == LogFormat::Json }
    }

    /// One line at `level` to `--log` (created 0644 and appended to; a log that cannot be
    /// written is not worth failing for).
    pub fn line(&self, level: &str, msg: &str) {
        let Some(path) = &self.file else { return };
        let text = format_line(self.json, level, msg, &crate::clock::rfc3339_nano(crate::clock::now_ns()));
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(text.as_bytes());
        }
    }

    /// An error: stderr and the log.
    pub fn error(&self, msg: &str) {
        eprintln!("spawnbox-runc: {msg}");
        self.line("error", msg);
    }
}

/// One log line as runc writes it.
pub fn format_line(json: bool, level: &str, msg: &str, time: &str) -> String {
    use crate::json::quote;
    if json {
        format!("{{\"level\":{},\"msg\":{},\"time\":{}}}\n", quote(level), quote(msg), quote(time))
    } else {
        format!("time={} level={level} msg={}\n", quote(time), quote(msg))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_as_runc_writes_them() {
        assert_eq!(
            super::format_line(true, "error", "process.args: must not be \"empty\"", "2026-12-07T10:00:00Z"),
            "{\"level\":\"error\",\"msg\":\"process.args: must not be \\\"empty\\\"\",\"time\":\"2026-12-07T10:00:00Z\"}\n"
        );
        assert_eq!(
            super::format_line(false, "error", "no such container", "2026-12-07T10:00:00Z"),
            "time=\"2026-12-07T10:00:00Z\" level=error msg=\"no such container\"\n"
        );
    }
}
