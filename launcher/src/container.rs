//! The container child: runs in the new mount/PID/UTS/IPC/cgroup namespaces as PID 1, binds
//! the tree, switches into it, mounts the plan, and after the launcher's "go" becomes the
//! payload (or spawnbox-init, or the OS's init).

use crate::channel::{Channel, Msg};
use crate::error::{Error, Result};
use crate::etc_files::{self, Install};
use crate::launch::Prepared;
use crate::mount_plan::{self, Step};
use crate::mounts::{self, Mounter};
use crate::rootfs::{self, Follow};
use crate::settings::StartMode;
use crate::spec::Spec;
use crate::sys;
use crate::user::{self, UserInfo};
use crate::userns::outer::Outer;
use crate::{dev, env, resolv_conf, run_host, timezone};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::convert::Infallible;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Entry point of the cloned child; never returns. With `outer` (a user namespace), this is
/// the outer child of [`crate::userns::child`].
pub fn run(spec: &Spec, prep: &Prepared, ch: Channel, outer: Option<Outer>) -> ! {
    let result = match outer {
        None => setup_and_exec(spec, prep, &ch),
        Some(o) => crate::userns::child::outer(spec, prep, &ch, o, prep.userns.as_ref().map_or(0, |u| u.shift)),
    };
    fail(&ch, result)
}

/// Reports the error of a child's setup to the launcher and exits.
pub fn fail(ch: &Channel, result: Result<Infallible>) -> ! {
    let err = match result {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = ch.send(Msg::Error(err.to_string()));
    sys::exit_now(1)
}

/// Dies at once when the launcher is gone (its end of the channel is closed).
pub fn exit_if_orphaned(ch: &Channel) {
    let fd = ch.fd();
    let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::IN)];
    let zero = rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 };
    if rustix::event::poll(&mut fds, Some(&zero)).is_ok() && fds[0].revents().contains(rustix::event::PollFlags::HUP) {
        sys::exit_now(1);
    }
}

/// The descriptors a child keeps: the channel, spawnbox-init's memfd, and `extra`.
pub fn keep_fds(ch: &Channel, prep: &Prepared, extra: &[i32]) -> Vec<i32> {
    let mut k = vec![ch.fd().as_raw_fd()];
    k.extend(prep.stub_init.as_ref().map(|f| f.as_raw_fd()));
    k.extend(prep.bind_idmaps.iter().flatten().map(|f| f.as_raw_fd()));
    k.extend_from_slice(extra);
    k
}

/// The start of every container child: signal mask, parent-death signal, descriptors (nothing
/// the launcher holds on the host — the tree, the cgroup directory, netlink and state
/// descriptors — may stay reachable through /proc/self/fd), umask.
pub fn prologue(prep: &Prepared, ch: &Channel, extra: &[i32]) -> Result<()> {
    sys::set_signal_mask(&sys::SigSet::empty()).map_err(|e| Error::sys("reset", "signal mask", e))?;
    sys::ignore_sigpipe(false);
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| Error::sys("set", "parent death signal", e))?;
    exit_if_orphaned(ch);
    sys::close_all_except(&keep_fds(ch, prep, extra));
    rustix::process::umask(Mode::empty());
    Ok(())
}

/// Makes every mount of the child's namespace a slave: nothing mounted from here on
/// propagates back to the host.
pub fn make_slave() -> Result<()> {
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::DOWNSTREAM | rustix::mount::MountPropagationFlags::REC,
    )
    .map_err(|e| Error::sys("make", "/ a slave mount", e))
}

fn setup_and_exec(spec: &Spec, prep: &Prepared, ch: &Channel) -> Result<Infallible> {
    prologue(prep, ch, &[])?;
    if prep.cgroup_mount != mount_plan::CgroupMount::None {
        // Started inside the container's cgroup (CLONE_INTO_CGROUP): root the namespace here.
        sys::unshare(libc::CLONE_NEWCGROUP).map_err(|e| Error::sys("unshare", "cgroup namespace", e))?;
    }

    if let Some(path) = &spec.net.namespace_path {
        let ns = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open network namespace", path, e))?;
        rustix::thread::move_into_link_name_space(ns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
            .map_err(|e| Error::path("join network namespace", path, e))?;
    }
    make_slave()?;
    log::debug!("binding {} (read-only: {})", spec.directory.display(), spec.read_only);
    let root = rootfs::bind_root(&spec.directory, spec.read_only)?;
    // The last moment the host is reachable: open what the mounts need from it.
    let host_sources = mounts::open_host_sources(&spec.custom_mounts, &prep.workdirs, root.as_fd())?;
    apply_bind_idmaps(spec, prep, &host_sources)?;
    let resolv = resolv_install(prep);
    let tz = timezone_install(prep);

    log::debug!("switching root");
    rootfs::switch_root(root.as_fd(), &spec.directory, false)?;
    drop(root);
    if let Some((new, old)) = &spec.pivot_root {
        rootfs::pivot_into(new, old.as_deref())?;
    }
    let mounter = Mounter { root: open_root()?, directory: &spec.directory, host_sources, premade: Vec::new() };
    let made = mount_steps(&mounter, &mount_plan::plan(spec, prep.cgroup_mount), prep)?;
    let root = mounter.root;
    apply_etc_files(root.as_fd(), resolv, tz);
    finish(spec, prep, ch, root, made)
}

/// `rootidmap` and `owneridmap` without a user namespace: the launcher's mappings applied to
/// the detached copies of the bind sources, before they are attached.
fn apply_bind_idmaps(spec: &Spec, prep: &Prepared, sources: &[mounts::HostSource]) -> Result<()> {
    for ((m, src), ns) in spec.custom_mounts.iter().zip(sources).zip(&prep.bind_idmaps) {
        if let (Some(ns), mounts::HostSource::Bind { tree, .. }, crate::settings::CustomMount::Bind { recursive, .. }) =
            (ns, src, m)
        {
            crate::userns::idmap::apply(tree.as_fd(), ns.as_fd(), *recursive, m.destination())
                .map_err(|e| e.context(mounts::describe(m)))?;
        }
    }
    Ok(())
}

/// The new root, by descriptor.
pub fn open_root() -> Result<OwnedFd> {
    rustix::fs::open("/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open", Path::new("/"), e))
}

/// What the mount steps made that the launcher gets: the console's pty (if one was allocated)
/// and the notify socket (unless the launcher made `/run` itself).
#[derive(Default)]
pub struct Made {
    pub pty: Option<dev::Pty>,
    pub notify: Option<OwnedFd>,
}

/// Runs `steps` of the mount plan.
pub fn mount_steps(mounter: &Mounter<'_>, steps: &[Step], prep: &Prepared) -> Result<Made> {
    let mut pty = None;
    let mut notify = None;
    let uuid = prep.uuid.uuid_string();
    mounts::mount_all(mounter, steps, &mut |step, m| match step {
        Step::RunHost if m.is_premade("/run") => {
            install_credentials(m, prep)?;
            m.read_only_self(Path::new("/run/host"))
        }
        Step::DevNodes if m.is_premade("/dev") => Ok(()),
        Step::RunHost => {
            let run = run_host::open_run(m.root.as_fd())?;
            run_host::populate(run.as_fd(), prep.os_release.as_deref(), &uuid)?;
            notify = Some(crate::notify::bind(run.as_fd(), None)?);
            install_credentials(m, prep)?;
            m.read_only_self(Path::new("/run/host"))
        }
        Step::DevNodes => dev::populate(open_dev(m.root.as_fd())?.as_fd(), &prep.dev_nodes),
        Step::Console => {
            let stdin = rustix::stdio::stdin();
            let from = rustix::termios::isatty(stdin).then_some(stdin);
            pty = Some(dev::allocate_console(open_dev(m.root.as_fd())?.as_fd(), from)?);
            Ok(())
        }
        Step::CgroupInitLeaf { unmount } => crate::cgroup::inner::enter_init_leaf(*unmount),
        _ => Ok(()),
    })?;
    Ok(Made { pty, notify })
}

/// `--set-credential=`/`--load-credential=`: their ramfs on `/run/host/credentials`, made by
/// whoever fills `/run/host` (with a user namespace, the outer child, as the container's root).
fn install_credentials(m: &Mounter<'_>, prep: &Prepared) -> Result<()> {
    if prep.credentials.is_empty() {
        return Ok(());
    }
    let mnt = crate::credentials::make_fs(&prep.credentials)?;
    m.attach_detached(&mnt, Path::new(crate::credentials::DIRECTORY), "credentials")
}

/// `/etc/resolv.conf` and `/etc/localtime` as decided; a failure is a warning.
pub fn apply_etc_files(root: BorrowedFd<'_>, resolv: Install, tz: Install) {
    if let Err(e) = etc_files::apply(root, "resolv.conf", resolv) {
        log::warn!("--resolv-conf: {e}, ignoring");
    }
    if let Err(e) = etc_files::apply(root, "localtime", checked_zone(root, tz)) {
        log::warn!("--timezone: {e}, ignoring");
    }
}

/// The end of every start, in the container's namespaces: hostname, user, environment, the
/// console and "ready" to the launcher, then on "go" the payload.
pub fn finish(spec: &Spec, prep: &Prepared, ch: &Channel, root: OwnedFd, made: Made) -> Result<Infallible> {
    rustix::system::sethostname(spec.hostname.as_bytes()).map_err(|e| Error::sys("set hostname", &spec.hostname, e))?;

    let user = lookup_user(root.as_fd(), spec)?;
    let environment = build_env(spec, prep, &user);
    let exec = exec_plan(root.as_fd(), spec, prep, &environment)?;
    let cwd = match &spec.chdir {
        Some(d) => Some(d.clone()),
        None if spec.parameters.is_empty() && spec.start_mode != StartMode::Boot => Some(PathBuf::from(&user.home)),
        None => None,
    };

    // Hand the console and the notify socket to the launcher, report ready, wait for "go".
    if let Some(fd) = made.notify {
        ch.send(Msg::Notify(fd))?;
    }
    let slave = match made.pty {
        Some(p) => {
            ch.send(Msg::Pty(p.master))?;
            Some(p.slave)
        }
        None => None,
    };
    log::debug!("setup done as {} (uid {}), waiting for go", user.name, user.uid);
    ch.send(Msg::Ready)?;
    match ch.recv()? {
        Some(Msg::Go) => {}
        _ => sys::exit_now(1),
    }

    become_payload(root.as_fd(), spec, prep, &user, slave, cwd.as_deref())?;
    // The exec lookup follows magic links: no descriptor but the channel (closed by the exec)
    // and spawnbox-init's memfd may be open now.
    drop(root);
    sys::close_all_except(&keep_fds(ch, prep, &[]));
    Err(exec.run(&environment))
}

/// In a new user namespace: waits until the launcher has written its maps, then becomes its
/// root (uid and gid 0, no supplementary groups).
pub fn become_root_of_user_namespace(ch: &Channel) -> Result<()> {
    match ch.recv()? {
        Some(Msg::Mapped) => {}
        _ => sys::exit_now(1),
    }
    let root_gid = rustix::process::Gid::from_raw(0);
    let root_uid = rustix::process::Uid::from_raw(0);
    rustix::thread::set_thread_groups(&[]).map_err(|e| Error::sys("drop", "supplementary groups", e))?;
    rustix::thread::set_thread_res_gid(root_gid, root_gid, root_gid)
        .map_err(|e| Error::sys("become", "gid 0 of the user namespace", e))?;
    rustix::thread::set_thread_res_uid(root_uid, root_uid, root_uid)
        .map_err(|e| Error::sys("become", "uid 0 of the user namespace", e))?;
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| Error::sys("set", "parent death signal", e))
}

fn open_dev(root: BorrowedFd<'_>) -> Result<OwnedFd> {
    rootfs::open_path(root, Path::new("/dev"), Follow::Never).map_err(|e| Error::path("open", Path::new("/dev"), e))
}

pub fn resolv_install(prep: &Prepared) -> Install {
    match &prep.resolv {
        resolv_conf::Action::Off => Install::Off,
        resolv_conf::Action::Delete => Install::Delete,
        resolv_conf::Action::Copy(_) => prep.resolv_content.clone().map_or(Install::Off, Install::CopyThrough),
        resolv_conf::Action::Replace(_) => prep.resolv_content.clone().map_or(Install::Off, Install::Replace),
        resolv_conf::Action::Bind(p) => match etc_files::clone_host_file(p) {
            Ok(tree) => Install::Bind(tree),
            // nspawn falls back to a copy when the bind cannot be made.
            Err(_) => prep.resolv_content.clone().map_or(Install::Off, Install::CopyThrough),
        },
    }
}

pub fn timezone_install(prep: &Prepared) -> Install {
    match &prep.timezone {
        timezone::Action::Off => Install::Off,
        timezone::Action::Delete => Install::Delete,
        timezone::Action::Copy => prep.localtime_content.clone().map_or(Install::Off, Install::Replace),
        timezone::Action::Bind => match etc_files::clone_host_file(Path::new("/etc/localtime")) {
            Ok(tree) => Install::Bind(tree),
            Err(_) => prep.localtime_content.clone().map_or(Install::Off, Install::Replace),
        },
        timezone::Action::Symlink(zone) => Install::Symlink(zone.clone()),
    }
}

/// A symlink is only made to a zone the tree has (nspawn: "not creating symlink").
fn checked_zone(root: BorrowedFd<'_>, install: Install) -> Install {
    match install {
        Install::Symlink(zone) => {
            let file = Path::new("/usr/share/zoneinfo").join(&zone);
            if rootfs::is_regular_file(root, &file) {
                Install::Symlink(format!("../usr/share/zoneinfo/{zone}"))
            } else {
                log::warn!("timezone {zone} does not exist in the container, not creating symlink");
                Install::Off
            }
        }
        other => other,
    }
}

fn lookup_user(root: BorrowedFd<'_>, spec: &Spec) -> Result<UserInfo> {
    let read = |p: &str| -> Result<String> {
        Ok(rootfs::read_small_file(root, Path::new(p), 1 << 20)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default())
    };
    let passwd = read("/etc/passwd")?;
    match &spec.user {
        Some(u) => user::lookup(&passwd, &read("/etc/group")?, u),
        None => Ok(user::lookup(&passwd, "", "root").unwrap_or_else(|_| UserInfo::root())),
    }
}

fn build_env(spec: &Spec, prep: &Prepared, user: &UserInfo) -> Vec<String> {
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

/// The payload's own session and console, credentials, working directory and umask.
fn become_payload(
    root: BorrowedFd<'_>,
    spec: &Spec,
    prep: &Prepared,
    user: &UserInfo,
    slave: Option<OwnedFd>,
    cwd: Option<&Path>,
) -> Result<()> {
    let _ = rustix::process::setsid();
    if let Some(slave) = slave {
        rustix::process::ioctl_tiocsctty(&slave)
            .map_err(|e| Error::sys("make", "the console the controlling terminal", e))?;
        for dup in [rustix::stdio::dup2_stdin, rustix::stdio::dup2_stdout, rustix::stdio::dup2_stderr] {
            dup(&slave).map_err(|e| Error::sys("attach", "console", e))?;
        }
    }
    prep.security.before_credentials()?;
    let groups: Vec<_> = user.groups.iter().map(|&g| rustix::process::Gid::from_raw(g)).collect();
    rustix::thread::set_thread_groups(&groups)
        .map_err(|e| Error::sys("set supplementary groups for", &user.name, e))?;
    let gid = rustix::process::Gid::from_raw(user.gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| Error::sys("set gid for", &user.name, e))?;
    let uid = rustix::process::Uid::from_raw(user.uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| Error::sys("set uid for", &user.name, e))?;
    // Changing credentials clears the parent-death signal: set it again.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| Error::sys("set", "parent death signal", e))?;
    if let Some(dir) = cwd {
        match change_directory(root, dir) {
            Ok(()) => {}
            Err(e) if spec.chdir.is_some() => return Err(Error::path("change directory to", dir, e)),
            Err(_) => change_directory(root, Path::new("/"))
                .map_err(|e| Error::path("change directory to", Path::new("/"), e))?,
        }
    }
    rustix::process::umask(Mode::from_raw_mode(0o022));
    sys::cloexec_from(3);
    prep.security.before_exec()
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
enum Exec<'a> {
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

fn exec_plan<'a>(root: BorrowedFd<'_>, spec: &Spec, prep: &'a Prepared, environment: &[String]) -> Result<Exec<'a>> {
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
    fn run(&self, environment: &[String]) -> Error {
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

fn exec_error(what: &[u8], e: Errno) -> Error {
    Error::sys("execute", String::from_utf8_lossy(&OsString::from_vec(what.to_vec()).into_vec()), e)
}
