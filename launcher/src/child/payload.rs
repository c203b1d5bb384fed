//! Becoming the payload: the user it runs as (the container's passwd/group), its environment,
//! session, console, credentials and working directory, and the `execve` of the command, the
//! init, spawnbox-init or a shell.

use crate::error::{Error, Result};
use crate::prepared::Prepared;
use crate::rootfs::{self, Follow};
use crate::settings::StartMode;
use crate::spec::Spec;
use crate::user::{self, UserInfo};
use crate::{env, sys};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::Mode;
use rustix::io::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

pub(super) fn lookup_user(root: BorrowedFd<'_>, spec: &Spec) -> Result<UserInfo> {
    if let Some(oci) = &spec.oci {
        // The OCI runtime: numeric ids as given, only the listed supplementary groups.
        let u = oci.config.process.as_ref().map(|p| p.user.clone()).unwrap_or_default();
        // The home only for `HOME`, when config.json's environment lacks it (as runc).
        let home = match spec.setenv.iter().any(|e| e.starts_with("HOME=")) {
            true => "/".into(),
            false => user::home_of(&user::read_db(root)?.0, u.uid),
        };
        return Ok(UserInfo {
            name: u.uid.to_string(),
            uid: u.uid,
            gid: u.gid,
            groups: u.additional_gids,
            home,
            shell: "/bin/sh".into(),
        });
    }
    let (passwd, group) = user::read_db(root)?;
    match &spec.user {
        Some(u) => user::lookup(&passwd, &group, u),
        None => Ok(user::lookup(&passwd, "", "root").unwrap_or_else(|_| UserInfo::root())),
    }
}

pub(super) fn build_env(spec: &Spec, prep: &Prepared, user: &UserInfo) -> Vec<String> {
    if spec.oci.is_some() {
        // config.json's environment, exactly, and `HOME` if it lacks one (runc's rule).
        let mut env = spec.setenv.clone();
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", user.home));
        }
        return env;
    }
    env::build(&env::EnvInput {
        uuid: &prep.uuid.uuid_string(),
        term: prep.term.as_deref(),
        pipe: !spec.has_pty(),
        colorterm: prep.colorterm.as_deref(),
        no_color: prep.no_color.as_deref(),
        user,
        explicit_user: spec.user.is_some(),
        host_os_release: &prep.os_release_ids,
        credentials: !prep.credentials.is_empty(),
        setenv: &spec.setenv,
    })
}

/// The payload's own session and console, credentials, working directory and umask;
/// `devices`: the launcher attached the device program (see [`Msg::Go`](crate::channel::Msg)).
pub(super) fn become_payload(
    root: BorrowedFd<'_>,
    spec: &Spec,
    prep: &Prepared,
    user: &UserInfo,
    slave: Option<OwnedFd>,
    cwd: Option<&Path>,
    devices: bool,
) -> Result<()> {
    let _ = rustix::process::setsid();
    if let Some(slave) = slave {
        // A command gets the console as its controlling terminal (job control, ^C). An init
        // does not: its getty on the console must be able to take it, which a getty in a
        // user namespace cannot steal from another session (TIOCSCTTY needs CAP_SYS_ADMIN in
        // the host's namespace for that).
        if spec.start_mode != crate::settings::StartMode::Boot {
            rustix::process::ioctl_tiocsctty(&slave)
                .map_err(|e| Error::sys("make", "the console the controlling terminal", e))?;
        }
        for dup in [rustix::stdio::dup2_stdin, rustix::stdio::dup2_stdout, rustix::stdio::dup2_stderr] {
            dup(&slave).map_err(|e| Error::sys("attach", "console", e))?;
        }
    }
    let caps = prep.security.capabilities(devices)?;
    prep.security.before_credentials(&caps)?;
    user.become_user()?;
    // Changing credentials clears the parent-death signal: set it again.
    super::set_death_signal(prep)?;
    if let Some(dir) = cwd {
        match change_directory(root, dir) {
            Ok(()) => {}
            Err(e) if spec.chdir.is_some() => return Err(Error::path("change directory to", dir, e)),
            Err(_) => change_directory(root, Path::new("/"))
                .map_err(|e| Error::path("change directory to", Path::new("/"), e))?,
        }
    }
    let umask = spec.oci.as_ref().and_then(|o| o.config.process.as_ref()).and_then(|p| p.user.umask);
    rustix::process::umask(Mode::from_raw_mode(umask.unwrap_or(0o022) & 0o777));
    // `--preserve-fds N`: the caller's descriptors 3 to 3+N-1 go through the exec as they are.
    sys::cloexec_from(3 + prep.preserve_fds.min(4096) as i32);
    prep.security.before_exec(&caps)
}

/// chdir(2) to `dir` resolved inside the container (never through a magic link such as
/// `/proc/self/fd/N`, which could lead to a descriptor the launcher still holds: the
/// CVE-2024-21626 class), with the permission checks of the payload's credentials.
fn change_directory(root: BorrowedFd<'_>, dir: &Path) -> rustix::io::Result<()> {
    let fd = rootfs::open_path(root, dir, Follow::InRoot)?;
    if rustix::fs::fstat(&fd)?.st_mode & 0o170000 != 0o040000 {
        return Err(Errno::NOTDIR);
    }
    rustix::process::fchdir(&fd)
}

/// What `execve` runs.
pub(super) enum Exec<'a> {
    /// `argv[0]` looked up in the container's `$PATH` (execvpe semantics).
    Search { argv: Vec<CString> },
    /// A fixed path (init, a shell).
    Path { path: CString, argv: Vec<CString> },
    /// Candidates tried in order (the default shells).
    FirstOf(Vec<(CString, Vec<CString>)>),
    /// spawnbox-init from its sealed memfd.
    Stub { fd: BorrowedFd<'a>, argv: Vec<CString> },
}

fn cstring(s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes().to_vec())
        .map_err(|_| Error::msg(format!("argument contains a NUL byte: {}", s.to_string_lossy())))
}

fn cstrings(v: &[OsString]) -> Result<Vec<CString>> {
    v.iter().map(|s| cstring(s)).collect()
}

/// The default shells nspawn tries when no command is given, as login shells.
const SHELLS: [(&str, &str); 2] = [("/bin/bash", "-bash"), ("/bin/sh", "-sh")];

pub(super) fn exec_plan<'a>(
    root: BorrowedFd<'_>,
    spec: &Spec,
    prep: &'a Prepared,
    environment: &[String],
) -> Result<Exec<'a>> {
    let _ = environment;
    let params = cstrings(&spec.parameters)?;
    Ok(match spec.start_mode {
        StartMode::Boot => {
            let init = prep.init.clone().ok_or_else(|| Error::msg("no init found"))?;
            let mut argv = vec![cstring(init.as_os_str())?];
            argv.extend(params);
            Exec::Path { path: cstring(init.as_os_str())?, argv }
        }
        StartMode::Pid2 => {
            let fd = prep.stub_init.as_ref().ok_or_else(|| Error::msg("-a: spawnbox-init is not available"))?.as_fd();
            let mut argv: Vec<CString> =
                ["spawnbox-init", "--container", "--"].iter().map(|s| CString::new(*s).unwrap_or_default()).collect();
            if params.is_empty() {
                let shell = SHELLS.iter().find(|(p, _)| rootfs::is_regular_file(root, Path::new(p)));
                argv.push(CString::new(shell.map_or("/bin/sh", |s| s.0)).unwrap_or_default());
            } else {
                argv.extend(params);
            }
            Exec::Stub { fd, argv }
        }
        StartMode::Pid1 if params.is_empty() => Exec::FirstOf(
            SHELLS
                .iter()
                .map(|(p, a)| (CString::new(*p).unwrap_or_default(), vec![CString::new(*a).unwrap_or_default()]))
                .collect(),
        ),
        StartMode::Pid1 => Exec::Search { argv: params },
    })
}

impl Exec<'_> {
    /// execve(2); returns the error when every attempt failed.
    pub(super) fn run(&self, environment: &[String]) -> Error {
        let envp: Vec<CString> = environment.iter().filter_map(|e| CString::new(e.as_bytes()).ok()).collect();
        match self {
            Exec::Path { path, argv } => exec_error(path.to_bytes(), sys::execve(path, argv, &envp)),
            Exec::Stub { fd, argv } => exec_error(b"spawnbox-init", sys::execveat_fd(*fd, argv, &envp)),
            Exec::FirstOf(list) => {
                let mut last = Errno::NOENT;
                for (path, argv) in list {
                    last = sys::execve(path, argv, &envp);
                }
                Error::msg(format!(
                    "execute shell: no /bin/bash or /bin/sh in the container ({})",
                    crate::error::errno_text(last.raw_os_error())
                ))
            }
            Exec::Search { argv } => {
                let Some(cmd) = argv.first() else { return Error::msg("empty command") };
                let name = cmd.to_bytes();
                if name.contains(&b'/') {
                    return exec_error(name, sys::execve(cmd, argv, &envp));
                }
                let path = env::lookup(environment, "PATH").unwrap_or(env::DEFAULT_PATH);
                let mut err = Errno::NOENT;
                for dir in path.split(':').filter(|d| !d.is_empty()) {
                    let mut full = dir.as_bytes().to_vec();
                    full.push(b'/');
                    full.extend_from_slice(name);
                    let Ok(full) = CString::new(full) else { continue };
                    match sys::execve(&full, argv, &envp) {
                        Errno::NOENT | Errno::NOTDIR => {}
                        Errno::ACCESS => err = Errno::ACCESS,
                        e => return exec_error(full.to_bytes(), e),
                    }
                }
                exec_error(name, err)
            }
        }
    }
}

/// The OCI runtime's program lookup, done before the process waits for `start` (runc's): a
/// name with a `/` as it is, else the first executable regular file of that name in the
/// environment's `PATH`, checked with the payload's credentials.
pub(super) fn resolve<'a>(argv: Vec<CString>, environment: &[String]) -> Result<Exec<'a>> {
    let Some(cmd) = argv.first() else { return Err(Error::msg("process.args: must not be empty")) };
    let name = cmd.to_string_lossy().into_owned();
    let executable = |p: &str| {
        rustix::fs::stat(p).is_ok_and(|st| st.st_mode & 0o170000 == 0o100000)
            && rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok()
    };
    if name.contains('/') {
        if let Err(e) = rustix::fs::access(name.as_str(), rustix::fs::Access::EXEC_OK) {
            return Err(Error::sys("exec", format!("{name:?}"), e));
        }
        return Ok(Exec::Path { path: cmd.clone(), argv });
    }
    let path = env::lookup(environment, "PATH").unwrap_or(env::DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let full = format!("{dir}/{name}");
        if executable(&full) {
            return Ok(Exec::Path { path: cstring(OsStr::new(&full))?, argv });
        }
    }
    Err(Error::msg(format!("exec: {name:?}: executable file not found in $PATH")))
}

fn exec_error(what: &[u8], e: Errno) -> Error {
    Error::sys("execute", String::from_utf8_lossy(&OsString::from_vec(what.to_vec()).into_vec()), e)
}
