//! `start`, `state`, `kill`, `delete`, `list`: a container's record under `--root` and the
//! machine it names (`machine::Created`), as runc's commands see them.

use super::args::Global;
use super::record::{self, Record, Status};
use crate::error::{Error, Result};
use crate::machine::Created;
use std::time::Duration;

/// A loaded container: its record, directory and machine (gone after a failed teardown).
pub(super) struct Container {
    pub(super) rec: Record,
    pub(super) dir: std::path::PathBuf,
    pub(super) machine: Option<Created>,
}

impl Container {
    pub(super) fn load(g: &Global, id: &str) -> Result<Container> {
        let (rec, dir) = Record::load(&g.root, id)?;
        // The machine of this record's PID 1 (machine names are global, records per --root).
        let machine = Created::load(id).ok().filter(|m| m.pid() == rec.pid);
        Ok(Container { rec, dir, machine })
    }

    pub(super) fn status(&self) -> Status {
        let alive =
            self.machine.as_ref().is_some_and(|m| m.is_running().unwrap_or(false)) && record::alive(self.rec.pid);
        let started = self.dir.join("started").exists();
        let paused = alive && self.machine.as_ref().is_some_and(|m| m.paused().unwrap_or(false));
        let left = self.machine.as_ref().is_some_and(Created::left);
        record::status(alive, left, started, paused)
    }

    fn oci_version(&self) -> String {
        super::record::read_config(&self.dir).map(|(c, _)| c.oci_version).unwrap_or_else(|_| "1.0.2".into())
    }
}

pub fn start(g: &Global, id: &str) -> Result<()> {
    let c = Container::load(g, id)?;
    match c.status() {
        Status::Created => {}
        Status::Stopped => return Err(Error::msg("cannot start a container that has stopped")),
        s => return Err(Error::msg(format!("cannot start an already {} container", s.name()))),
    }
    let m = c.machine.as_ref().ok_or_else(|| Error::msg(format!("container {id}: its machine is gone")))?;
    m.start()?;
    let marker = c.dir.join("started");
    std::fs::write(&marker, b"").map_err(|e| crate::error::io_error("write", &marker, &e))?;
    if let Ok((config, _)) = super::record::read_config(&c.dir) {
        let state = record::hook_state(&c.rec, Status::Running, &config.oci_version);
        if let Err(e) = crate::oci_hooks::run("poststart", &config.hooks.poststart, &state) {
            // runtime.md, lifecycle step 9 (as runc): an error, and the container stopped.
            let _ = m.kill(rustix::process::Signal::KILL);
            let _ = m.wait_exit(Duration::from_secs(5));
            return Err(e);
        }
    }
    Ok(())
}

pub fn state(g: &Global, id: &str) -> Result<String> {
    let c = Container::load(g, id)?;
    Ok(record::state_json(&c.rec, c.status(), &c.oci_version()))
}

pub fn kill(g: &Global, id: &str, all: bool, signal: i32) -> Result<()> {
    let c = Container::load(g, id)?;
    match c.status() {
        Status::Stopped => return Err(Error::msg("container not running")),
        // runtime.md "kill": neither created nor running.
        Status::Creating => return Err(Error::msg(format!("container {id} is still being created"))),
        _ => {}
    }
    let m = c.machine.as_ref().ok_or_else(|| Error::msg("container not running"))?;
    let sig = rustix::process::Signal::from_named_raw(signal)
        .ok_or_else(|| Error::msg(format!("invalid signal {signal}")))?;
    if all {
        m.kill_all(sig)
    } else {
        m.kill(sig)
    }
}

/// `pause`: a running container's processes frozen.
pub fn pause(g: &Global, id: &str) -> Result<()> {
    let c = Container::load(g, id)?;
    match (c.status(), &c.machine) {
        (Status::Running, Some(m)) => m.pause(),
        (s, _) => Err(Error::msg(format!("container {id} is {}, not running", s.name()))),
    }
}

/// `resume`: a paused container's processes thawed.
pub fn resume(g: &Global, id: &str) -> Result<()> {
    let c = Container::load(g, id)?;
    match (c.status(), &c.machine) {
        (Status::Paused, Some(m)) => m.resume(),
        (s, _) => Err(Error::msg(format!("container {id} is {}, not paused", s.name()))),
    }
}

/// `ps`: the container's processes as JSON (host pids), or the host's `ps` output (`-ef`
/// unless other options are given) cut to their lines, as runc does.
pub fn ps(g: &Global, id: &str, json: bool, args: &[String]) -> Result<String> {
    let c = Container::load(g, id)?;
    let pids = match &c.machine {
        Some(m) if c.status() != Status::Stopped => m.pids()?,
        _ => Vec::new(),
    };
    if json {
        let list: Vec<String> = pids.iter().map(i32::to_string).collect();
        return Ok(format!("[{}]\n", list.join(",")));
    }
    let args: Vec<String> = if args.is_empty() { vec!["-ef".into()] } else { args.to_vec() };
    let out = std::process::Command::new("ps")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::msg(format!("ps: run ps: {e}")))?;
    if !out.status.success() {
        return Err(Error::msg(format!("ps {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())));
    }
    filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)
}

/// The header and the lines of `ps` output whose PID column is one of `pids`.
fn filter_ps(text: &str, pids: &[i32]) -> Result<String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::msg("ps: no PID column in ps's output"))?;
    let mut out = format!("{header}\n");
    for l in lines {
        if l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| pids.contains(&p)) {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

pub fn delete(g: &Global, id: &str, force: bool) -> Result<()> {
    let c = match Container::load(g, id) {
        Ok(c) => c,
        // runc: `delete --force` of an unknown container succeeds.
        Err(_) if force && record::dir(&g.root, id).is_ok_and(|d| !d.exists()) => return Ok(()),
        Err(e) => return Err(e),
    };
    let status = c.status();
    if matches!(status, Status::Running | Status::Paused | Status::Creating) && !force {
        return Err(Error::msg(format!("cannot delete container {id} that is not stopped: {}", status.name())));
    }
    if let Some(m) = c.machine {
        if status != Status::Stopped {
            let _ = m.kill(rustix::process::Signal::KILL);
            let _ = m.wait_exit(Duration::from_secs(5));
        }
        m.teardown()?;
    }
    if let Ok((config, _)) = super::record::read_config(&c.dir) {
        let state = record::hook_state(&c.rec, Status::Stopped, &config.oci_version);
        if let Err(e) = crate::oci_hooks::run("poststop", &config.hooks.poststop, &state) {
            log::warn!("{e}");
        }
    }
    std::fs::remove_dir_all(&c.dir).map_err(|e| crate::error::io_error("remove", &c.dir, &e))
}

/// `list`: runc's table (`ID PID STATUS BUNDLE CREATED OWNER`), or JSON, or the IDs.
pub fn list(g: &Global, json: bool, quiet: bool) -> Result<String> {
    let mut rows = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&g.root) {
        let mut ids: Vec<String> = entries.flatten().filter_map(|e| e.file_name().into_string().ok()).collect();
        ids.sort();
        for id in ids {
            if let Ok(c) = Container::load(g, &id) {
                let s = c.status();
                rows.push((c.rec, s));
            }
        }
    }
    Ok(format_list(&rows, json, quiet))
}

fn format_list(rows: &[(Record, Status)], json: bool, quiet: bool) -> String {
    use crate::json::quote;
    if quiet {
        return rows.iter().map(|(r, _)| format!("{}\n", r.id)).collect();
    }
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(r, s)| {
                format!(
                    "{{\"ociVersion\":\"1.0.2\",\"id\":{},\"pid\":{},\"status\":{},\"bundle\":{},\"rootfs\":{},\"created\":{},\"owner\":\"\"}}",
                    quote(&r.id),
                    if *s == Status::Stopped { 0 } else { r.pid },
                    quote(s.name()),
                    quote(&r.bundle.to_string_lossy()),
                    quote(&r.rootfs.to_string_lossy()),
                    quote(&r.created)
                )
            })
            .collect();
        return format!("[{}]\n", items.join(","));
    }
    let mut out = String::from("ID PID STATUS BUNDLE CREATED OWNER\n");
    for (r, s) in rows {
        let pid = if *s == Status::Stopped { 0 } else { r.pid };
        out.push_str(&format!("{} {pid} {} {} {} root\n", r.id, s.name(), r.bundle.display(), r.created));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ps_lines_of_the_container() {
        let text = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:00 ? 00:00:00 sleep 100\nroot 420 1 0 10:00 ? 00:00:00 x\n";
        assert_eq!(
            super::filter_ps(text, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sleep 100\n"
        );
        assert_eq!(super::filter_ps("A B\n1 2\n", &[1]).unwrap_err().to_string(), "ps: no PID column in ps's output");
    }
}
