//! `spawnctl start NAME...`: what `systemd-nspawn@NAME.service` runs, without a service
//! manager: spawnbox on image NAME in the background (`-b -U --network-veth
//! --settings=override --link-journal=try-guest`), its console and messages appended to
//! `/var/log/spawnbox/NAME.log`; returns once the machine is up (READY=1 from a systemd guest,
//! PID 1 running for any other), or with the log's last lines when it failed.

use super::args::Options;
use crate::error::{Error, Result};
use crate::machine::registry;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the logs go.
pub const LOG_DIR: &str = "/var/log/spawnbox";

/// nspawn@.service's options (`--keep-unit` left out: without a service manager the machine
/// gets its own scope).
pub const UNIT_OPTIONS: [&str; 6] =
    ["--quiet", "--boot", "-U", "--network-veth", "--settings=override", "--link-journal=try-guest"];

/// spawnbox's arguments for machine `name` as a service runs it: [`UNIT_OPTIONS`], the
/// console read-only (into the log), `--machine=NAME`. `start` and the boot integration
/// (`enable`: busybox init's line, runit's run script) use it; the OpenRC script spells the
/// same list (a unit test compares them).
pub fn unit_args(name: &str) -> Vec<String> {
    let mut v: Vec<String> = UNIT_OPTIONS.iter().map(|s| s.to_string()).collect();
    v.push("--console=read-only".into());
    v.push(format!("--machine={name}"));
    v
}

/// How long `start` waits for a machine to be up.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// The log file of machine `name`.
pub fn log_file(name: &str) -> PathBuf {
    Path::new(LOG_DIR).join(format!("{name}.log"))
}

pub fn start(_: &Options, names: &[String]) -> Result<()> {
    for name in names {
        crate::image::get(name)?;
        if registry::read(name).is_ok() {
            return Err(Error::msg(format!("machine \"{name}\" is already running")));
        }
        start_one(name)?;
    }
    Ok(())
}

fn start_one(name: &str) -> Result<()> {
    let io = |op: &str, p: &Path, e: std::io::Error| Error::path(op, p, crate::error::io_errno(&e));
    std::fs::create_dir_all(LOG_DIR).map_err(|e| io("create", Path::new(LOG_DIR), e))?;
    let log = log_file(name);
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).map_err(|e| io("open", &log, e))?;
    let len_before = file.metadata().map(|m| m.len()).unwrap_or(0);
    let err = file.try_clone().map_err(|e| io("open", &log, e))?;
    let mut child = Command::new("/proc/self/exe")
        .arg0("spawnbox")
        .args(unit_args(name))
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| io("run", Path::new("/proc/self/exe"), e))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(e) = registry::read(name) {
            if e.ready {
                return Ok(());
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = log_tail(&log, len_before);
            return Err(Error::msg(format!(
                "machine \"{name}\" failed to start ({status}); {}:\n{tail}",
                log.display()
            )));
        }
        if Instant::now() >= deadline {
            return Err(Error::msg(format!(
                "machine \"{name}\" is not up after {} s; it runs on, see {}",
                START_TIMEOUT.as_secs(),
                log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last lines this start wrote to the log.
fn log_tail(log: &Path, from: u64) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    let new = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = new.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}
