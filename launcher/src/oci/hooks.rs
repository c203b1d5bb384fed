//! Running config.json's hooks as runc does: each program with its own argv and environment
//! (nothing of ours), the container's state JSON on stdin, its `timeout` in seconds; a failing
//! hook fails the step it belongs to (poststart and poststop only warn, as the spec says).

use crate::error::{Error, Result};
use crate::runtime_spec::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `hooks` of point `point` (`prestart`, ...) in order with `state` on stdin.
pub fn run(point: &str, hooks: &[Hook], state: &str) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state).map_err(|e| e.context(format!("hooks.{point}[{i}] {}", h.path)))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &str) -> Result<()> {
    let mut cmd = Command::new(&h.path);
    if let Some((argv0, rest)) = h.args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for e in &h.env {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::inherit()).stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::msg(format!("start: {}", crate::error::errno_text(e.raw_os_error().unwrap_or(0)))))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state is not an error (EPIPE).
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = h.timeout.map(|t| Instant::now() + Duration::from_secs(u64::from(t)));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(Error::msg(format!("wait: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::msg(format!("timed out after {} s", h.timeout.unwrap_or(0))));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    match status.code() {
        Some(0) => Ok(()),
        Some(n) => Err(Error::msg(format!("exit status {n}"))),
        None => Err(Error::msg(format!(
            "killed by signal {}",
            std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
        ))),
    }
}
