//! `create` (and `run`): the bundle's config.json becomes a `Spec` (`spec_oci.rs`), the machine
//! is created with runc's process model (`Model::Detachable`: PID 1 waits on its start FIFO and
//! outlives this process, whose caller — conmon, containerd's shim — adopts it), the console
//! goes to `--console-socket`, the prestart and createRuntime hooks run, the pid file is
//! written, and the record is left under `--root`. Any failure leaves nothing behind, and so
//! does a killed `create`: PID 1 ends with its creator until it is left, and the create's
//! watcher (`janitor.rs`) removes the rest.

use super::args::{Create, Global};
use super::record::{self, Record, Status};
use crate::error::{io_error, Error, Result};
use crate::machine::{Created, Machine, Model};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// `create`: returns PID 1's pid.
pub fn create(g: &Global, c: &Create) -> Result<i32> {
    let dir = record::dir(&g.root, &c.id)?;
    let (config, bytes) = super::record::read_config(&c.bundle)?;
    let mut spec = crate::spec_oci::from_bundle(&c.id, &c.bundle, config)?;
    if let Some(o) = spec.oci.as_mut() {
        o.no_cgroups = g.no_cgroups;
        o.preserve_fds = c.preserve_fds;
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&g.root)
        .map_err(|e| io_error("create", &g.root, &e))?;
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::msg(format!("container with id exists: {}", c.id)))
        }
        Err(e) => return Err(io_error("create", &dir, &e)),
    }
    // From here on the ID is this create's: killed, it leaves nothing either.
    let janitor = match super::janitor::watch(&c.id, &dir) {
        Ok(j) => j,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let made = create_in(&spec, c, &dir, &bytes);
    if made.is_err() {
        // Nothing of a failed create stays: the machine (if it was left) and the record. Only
        // a machine this process made: another `--root`'s container of the same ID is not it.
        if let Some(m) = Created::load(&c.id).ok().filter(|m| m.creator() == std::process::id() as i32) {
            let _ = m.teardown();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    janitor.done();
    made
}

fn create_in(spec: &crate::spec::Spec, c: &Create, dir: &Path, config_bytes: &[u8]) -> Result<i32> {
    let copy = dir.join("config.json");
    std::fs::write(&copy, config_bytes).map_err(|e| io_error("write", &copy, &e))?;
    let Some(oci) = spec.oci.as_ref() else { return Err(Error::msg("not an OCI spec")) };
    let config = &oci.config;
    let terminal = config.process.as_ref().is_some_and(|p| p.terminal);
    if terminal && c.console_socket.is_none() {
        return Err(Error::msg("process.terminal is true but no --console-socket was given"));
    }
    let mut m = Machine::create_with(spec, Model::Detachable)?;
    let pid = m.pid1_pid();
    let rec = Record {
        id: c.id.clone(),
        bundle: c.bundle.clone(),
        rootfs: spec.directory.clone(),
        created: crate::clock::rfc3339_nano(crate::clock::now_ns()),
        pid,
        annotations: config.annotations.clone(),
    };
    // Recorded before anything else can fail or be interrupted: `delete --force` finds it.
    rec.save(dir)?;
    if let (true, Some(sock)) = (terminal, &c.console_socket) {
        let master = m.take_console().ok_or_else(|| Error::msg("the container made no console"))?;
        super::console::send(sock, master, config.process.as_ref().and_then(|p| p.console_size))?;
    }
    // The state hooks see while `create` runs (runtime.md: "creating").
    let state = record::hook_state(&rec, Status::Creating, &config.oci_version);
    crate::oci_hooks::run("prestart", &config.hooks.prestart, &state)?;
    crate::oci_hooks::run("createRuntime", &config.hooks.create_runtime, &state)?;
    // The machine outlives this process: its record goes under the runtime directory.
    m.leave()?;
    if let Some(p) = &c.pid_file {
        write_pid_file(p, pid)?;
    }
    Ok(pid)
}

/// The pid file, as runc writes it (the number without a newline), through a rename.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp{}", path.display(), std::process::id()));
    std::fs::write(&tmp, pid.to_string()).map_err(|e| io_error("write", &tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error("rename", path, &e))
}

/// `run`: `create` and `start`; without `--detach`, waits for PID 1 (this process's child)
/// and, without `--keep`, deletes the container. Returns PID 1's exit status (128 + signal).
pub fn run(g: &Global, c: &Create, detach: bool, keep: bool) -> Result<i32> {
    let pid = create(g, c)?;
    if let Err(e) = super::commands::start(g, &c.id) {
        let _ = super::commands::delete(g, &c.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let code = loop {
        match rustix::process::waitpid(rustix::process::Pid::from_raw(pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, s))) => {
                break s.exit_status().unwrap_or_else(|| 128 + s.terminating_signal().unwrap_or(0));
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::sys("wait for", pid, e)),
        }
    };
    if !keep {
        super::commands::delete(g, &c.id, true)?;
    }
    Ok(code)
}
