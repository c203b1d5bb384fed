//! `exec`: a new process in a running container, as runc starts one. The process is
//! `--process FILE` (a runtime-spec `process` object) or the command line's, over config.json's
//! own process (environment, working directory, user). Three processes, as `spawnctl shell`:
//!
//! 1. this one: reads the record, connects the console socket (a host path, out of reach once
//!    inside), forks the joiner and reports: with `--detach` it writes the pid file and returns
//!    once the process has exec'd; without, it waits and returns its status.
//! 2. the joiner (`machine::join::Join`): enters the container's cgroup, namespaces and root,
//!    opens a pty of the container's devpts for `--tty` and sends its master to the console
//!    socket, forks the process into the container's PID namespace, sends its host pid, and
//!    exits at once (`--detach`: the process passes to the caller, conmon or containerd's shim,
//!    which are subreapers) or with the process's status.
//! 3. the process: its session (the pty as controlling terminal), the container's bounding set
//!    and seccomp filter, the process's own capability sets (config.json's or `--process`'s), its user, working directory and umask, execve in `PATH`.

use super::args::{Exec, Global};
use super::record::Status;
use crate::channel::{Channel, Msg};
use crate::error::{io_error, Error, Result};
use crate::machine::join::Join;
use crate::machine::registry;
use crate::runtime_spec::Process;
use crate::security::caps::Quintet;
use crate::sys::{self, Forked, SigSet};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::Mode;
use rustix::process::{Pid, WaitOptions};
use std::convert::Infallible;
use std::ffi::CString;
use std::path::Path;

/// `exec`: the process's exit status, or 0 with `--detach`.
pub fn exec(g: &Global, x: &Exec) -> Result<i32> {
    // The statuses `state` reports (one reading of PID 1 and the cgroup).
    let c = super::commands::Container::load(g, &x.id)?;
    match c.status() {
        Status::Running => {}
        Status::Paused if x.ignore_paused => {}
        Status::Paused => {
            return Err(Error::msg(format!("cannot exec in a paused container {} (use --ignore-paused)", x.id)))
        }
        s => return Err(Error::msg(format!("cannot exec in a {} container", s.name()))),
    }
    let (config, _) = super::record::read_config(&c.dir)?;
    let base = config.process.clone().unwrap_or_default();
    let process = plan(x, &base)?;
    let entry = registry::read(&x.id)?;
    let join = Join::open(&entry)?;
    let machine = c.machine.ok_or_else(|| Error::msg(format!("container {}: its machine is gone", x.id)))?;
    let console = match (process.terminal, &x.console_socket) {
        (true, Some(path)) => Some(super::console::connect(path)?),
        (true, None) => return Err(Error::msg("exec: --tty needs --console-socket")),
        (false, _) => None,
    };
    let (quintet, missing) = crate::security::caps::oci_quintet(process.capabilities.as_ref())?;
    if !missing.is_empty() {
        ::log::warn!("process.capabilities: not available on this host, left out: {}", missing.join(", "));
    }
    let (ours, theirs) = Channel::pair()?;
    let argv: Vec<CString> = process.args.iter().map(|a| cstring(a)).collect::<Result<_>>()?;
    let env: Vec<CString> = process.env.iter().map(|a| cstring(a)).collect::<Result<_>>()?;
    let detach = x.detach;
    match sys::clone_process(0, None).map_err(|e| Error::sys("fork", "the joining process", e))? {
        Forked::Child => {
            drop(ours);
            let what = What {
                process: &process,
                quintet: &quintet,
                argv: &argv,
                env: &env,
                detach,
                machine: &machine,
                preserve: (3..3 + x.preserve_fds as i32).take(4096).collect(),
            };
            let e = joiner(join, &theirs, console, &what);
            let _ = theirs.send(Msg::Error(match e {
                Ok(never) => match never {},
                Err(e) => e,
            }));
            sys::exit_now(1)
        }
        Forked::Parent { pid: joiner_pid } => {
            drop((theirs, console, join));
            report(&ours, joiner_pid, x)
        }
    }
}

/// The process to run: `--process FILE`, or config.json's process with the command line's
/// command, environment, working directory, user and terminal.
fn plan(x: &Exec, base: &Process) -> Result<Process> {
    if let Some(file) = &x.process {
        let bytes = std::fs::read(file).map_err(|e| io_error("read", file, &e))?;
        return crate::runtime_spec::parse_process(&bytes).map_err(|e| e.context(file.display().to_string()));
    }
    if x.args.is_empty() {
        return Err(Error::msg("exec: no command given"));
    }
    let mut p = base.clone();
    p.args = x.args.clone();
    p.terminal = x.tty;
    for e in &x.env {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        p.env.retain(|old| old.split_once('=').map_or(old.as_str(), |(k, _)| k) != key);
        p.env.push(e.clone());
    }
    if let Some(cwd) = &x.cwd {
        p.cwd = cwd.clone();
    }
    if let Some((uid, gid)) = x.user {
        p.user.uid = uid;
        p.user.gid = gid.unwrap_or(0);
        p.user.additional_gids.clear();
    }
    p.user.additional_gids.extend(&x.additional_gids);
    p.no_new_privileges |= x.no_new_privs;
    Ok(p)
}

/// In this process: the joiner's word (the process's host pid, or an error), the pid file,
/// and with `--detach` the end once the process has exec'd; else its status.
fn report(ch: &Channel, joiner: i32, x: &Exec) -> Result<i32> {
    let mut pid = None;
    let mut failure = None;
    // Until every copy of the joiner's end is gone: the joiner's (closed before it waits or
    // exits) and the process's (closed by its execve).
    while let Some(msg) = ch.recv()? {
        match msg {
            Msg::Pid(p) => pid = Some(p),
            Msg::Error(e) => failure = Some(e),
            _ => {}
        }
    }
    let status = wait(joiner)?;
    if let Some(e) = failure {
        return Err(e);
    }
    let pid = pid.ok_or_else(|| Error::msg("exec: the joining process ended without starting the process"))?;
    if let Some(p) = &x.pid_file {
        super::create::write_pid_file(p, pid)?;
    }
    Ok(if x.detach { 0 } else { status })
}

fn wait(pid: i32) -> Result<i32> {
    loop {
        match rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty()) {
            Ok(Some((_, s))) => {
                return Ok(s.exit_status().unwrap_or_else(|| 128 + s.terminating_signal().unwrap_or(0)))
            }
            Ok(None) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::sys("wait for", pid, e)),
        }
    }
}

/// What the joiner and the process need, copied by the fork.
struct What<'a> {
    process: &'a Process,
    quintet: &'a Quintet,
    argv: &'a [CString],
    env: &'a [CString],
    detach: bool,
    /// For its cgroups: v2 and every v1 hierarchy.
    machine: &'a crate::machine::Created,
    /// `--preserve-fds N`: the caller's descriptors 3 to 3+N-1.
    preserve: Vec<i32>,
}

/// The joiner: enters the container, forks the process into it, reports its pid. Returns
/// only on error.
fn joiner(mut join: Join, ch: &Channel, console: Option<OwnedFd>, w: &What<'_>) -> Result<Infallible> {
    let p = w.process;
    let mut keep = join.fds();
    keep.extend([0, 1, 2, ch.fd().as_raw_fd()]);
    keep.extend(&w.preserve);
    keep.extend(console.as_ref().map(|c| c.as_raw_fd()));
    sys::close_all_except(&keep);
    // Every cgroup of the container (v1 hierarchies too), from the host's view.
    w.machine.attach(rustix::process::getpid().as_raw_nonzero().get())?;
    join.enter()?;
    let root = crate::child::open_root()?;
    let slave = match console {
        Some(sock) => {
            let (master, slave) = crate::console::pty::open_in(root.as_fd(), "the container")?;
            super::console::send_on(sock.as_fd(), master, p.console_size)?;
            Some(slave)
        }
        None => None,
    };
    match sys::clone_process(0, None).map_err(|e| Error::sys("fork", "into the container's PID namespace", e))? {
        Forked::Child => {
            let e = process(&join, ch, slave, w, root.as_fd());
            let _ = ch.send(Msg::Error(e));
            sys::exit_now(127)
        }
        Forked::Parent { pid } => {
            ch.send(Msg::Pid(pid))?;
            // The channel too: the caller sees its end once the process has exec'd.
            sys::close_all_except(&[]);
            if w.detach {
                sys::exit_now(0);
            }
            sys::exit_now(wait(pid).unwrap_or(1))
        }
    }
}

/// The process, in the container's PID namespace. Returns the error.
fn process(join: &Join, ch: &Channel, slave: Option<OwnedFd>, w: &What<'_>, root: BorrowedFd<'_>) -> Error {
    let (p, q) = (w.process, w.quintet);
    let r = (|| -> Result<Infallible> {
        crate::console::pty::become_session_leader(slave)?;
        // `HOME` from the container's passwd when the environment lacks it (runc's rule).
        let mut env = w.env.to_vec();
        if !env.iter().any(|e| e.to_bytes().starts_with(b"HOME=")) {
            let home = crate::user::home_of(&crate::user::read_db(root)?.0, p.user.uid);
            env.push(cstring(&format!("HOME={home}"))?);
        }
        join.confine()?;
        join.confine_oci(q)?;
        let user = crate::user::UserInfo {
            name: p.user.uid.to_string(),
            uid: p.user.uid,
            gid: p.user.gid,
            groups: p.user.additional_gids.clone(),
            home: "/".into(),
            shell: "/bin/sh".into(),
        };
        user.become_user()?;
        let cwd = Path::new(&p.cwd);
        let dir = crate::rootfs::open_path(root, cwd, crate::rootfs::Follow::InRoot)
            .map_err(|e| Error::path("open", cwd, e))?;
        rustix::process::fchdir(&dir).map_err(|e| Error::path("change directory to", cwd, e))?;
        rustix::process::umask(Mode::from_raw_mode(p.user.umask.unwrap_or(0o022) & 0o777));
        sys::set_signal_mask(&SigSet::empty()).map_err(|e| Error::sys("reset", "signal mask", e))?;
        sys::ignore_sigpipe(false);
        join.before_exec_oci(q)?;
        if p.no_new_privileges {
            crate::security::process::set_no_new_privs()?;
        }
        let mut keep = vec![0, 1, 2, ch.fd().as_raw_fd()];
        keep.extend(&w.preserve);
        sys::close_all_except(&keep);
        Err(execvp(w.argv, &env))
    })();
    match r {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// execve with `argv[0]` looked up in the process's own `PATH` (runc's lookup).
fn execvp(argv: &[CString], env: &[CString]) -> Error {
    let Some(cmd) = argv.first() else { return Error::msg("exec: empty command") };
    let name = cmd.to_bytes();
    if name.contains(&b'/') {
        return Error::sys("execute", cmd.to_string_lossy(), sys::execve(cmd, argv, env));
    }
    let path = env
        .iter()
        .find_map(|e| e.to_bytes().strip_prefix(b"PATH="))
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_else(|| crate::env::DEFAULT_PATH.to_string());
    let mut err = rustix::io::Errno::NOENT;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let Ok(full) = CString::new(format!("{dir}/{}", String::from_utf8_lossy(name))) else { continue };
        match sys::execve(&full, argv, env) {
            rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR => {}
            rustix::io::Errno::ACCESS => err = rustix::io::Errno::ACCESS,
            e => return Error::sys("execute", full.to_string_lossy(), e),
        }
    }
    Error::sys("execute", cmd.to_string_lossy(), err)
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::msg(format!("argument contains a NUL byte: {s:?}")))
}
