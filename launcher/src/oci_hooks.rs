//! Running config.json's hooks as runc does: each program with its own argv and environment
//! (nothing of ours), the container's state JSON on stdin (`state`), its `timeout` in seconds;
//! a failing hook fails the step it belongs to (poststop only warns). The OCI runtime's front
//! end runs prestart, createRuntime, poststart and poststop; the container child createContainer
//! (before the switch into the root, in the container's namespaces) and startContainer (after
//! `start`, right before the exec).

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

/// The state a hook reads on stdin (runtime-spec's state: ociVersion, id, status, pid, bundle,
/// annotations), one line.
pub fn state(
    oci_version: &str,
    id: &str,
    status: &str,
    pid: i32,
    bundle: &str,
    annotations: &[(String, String)],
) -> String {
    use crate::json::quote;
    let ann: Vec<String> = annotations.iter().map(|(k, v)| format!("{}:{}", quote(k), quote(v))).collect();
    format!(
        "{{\"ociVersion\":{},\"id\":{},\"status\":{},\"pid\":{pid},\"bundle\":{},\"annotations\":{{{}}}}}",
        quote(oci_version),
        quote(id),
        quote(status),
        quote(bundle),
        ann.join(",")
    )
}

/// `createContainer`/`startContainer`, in the container child: `spec`'s hooks of that point
/// with the state of the process `pid` as it sees itself.
pub fn run_in_container(spec: &crate::spec::Spec, point: &str, pid: i32, status: &str) -> Result<()> {
    let Some(oci) = &spec.oci else { return Ok(()) };
    let c = &oci.config;
    let hooks = match point {
        "createContainer" => &c.hooks.create_container,
        _ => &c.hooks.start_container,
    };
    if hooks.is_empty() {
        return Ok(());
    }
    let st = state(&c.oci_version, &oci.id, status, pid, &oci.bundle.to_string_lossy(), &c.annotations);
    run(point, hooks, &st)
}

/// `createContainer` in PID 1 of a user namespace, past the switch into its root: the hooks
/// run with `host_root` (the launcher's `/`) as their root, so their paths and what they read
/// resolve on the host as before a pivot_root, in every namespace of PID 1; then PID 1 takes
/// its own root back. Mount points they see are the host's: the container's mount namespace
/// is not theirs to mount into from there.
pub fn run_in_host_root(spec: &crate::spec::Spec, host_root: rustix::fd::BorrowedFd<'_>) -> Result<()> {
    use rustix::fd::AsFd;
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let own =
        rustix::fs::open("/", flags, Mode::empty()).map_err(|e| Error::path("open", std::path::Path::new("/"), e))?;
    let enter = |dir: rustix::fd::BorrowedFd<'_>, what: &str| {
        rustix::process::fchdir(dir)
            .and_then(|_| rustix::process::chroot("."))
            .map_err(|e| Error::sys("chroot into", what, e))
    };
    enter(host_root, "the host's root for the createContainer hooks")?;
    let ran = own_host_pid().and_then(|pid| run_in_container(spec, "createContainer", pid, "creating"));
    enter(own.as_fd(), "the container's root")?;
    rustix::process::chdir("/").map_err(|e| Error::sys("chdir", "/", e))?;
    ran
}

/// This process's pid as the procfs mounted on `/proc` sees it (the host's, in a container
/// child before its switch into the root).
pub fn own_host_pid() -> Result<i32> {
    let stat = std::fs::read_to_string("/proc/self/stat")
        .map_err(|e| crate::error::io_error("read", std::path::Path::new("/proc/self/stat"), &e))?;
    stat.split_whitespace().next().and_then(|p| p.parse().ok()).ok_or_else(|| Error::msg("/proc/self/stat: no pid"))
}
