//! The launcher's side of a container run: checks the tree, prepares what is read from the
//! host once, clones the container child, drives the handshake and the event loop (signals,
//! console), restarts on reboot, and turns the end of PID 1 into spawnbox's exit status.

use crate::cgroup::{self, Cgroup, Placement};
use crate::channel::{Channel, Msg};
use crate::console::{Console, Request};
use crate::error::{Error, Result};
use crate::guest::Shutdown;
use crate::mount_plan::CgroupMount;
use crate::prepared::Prepared;
use crate::rootfs;
use crate::settings::{Id128, StartMode};
use crate::signals::signal_name;
use crate::spec::Spec;
use crate::stopping::{stop_timeout, Cause, Stopping};
use crate::sys::{self, Forked, SigSet};
use crate::{env, overlay, resolv_conf, timezone};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, WaitOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The init candidates of `-b`, in nspawn's order.
pub const INITS: [&str; 3] = ["/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init"];

/// spawnbox-init, embedded at build time (empty when built without it).
static STUB_INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/spawnbox-init"));

/// Checks the tree and reads what every start needs; `bind_user` is the `--bind-user=` plan
/// (its home binds are among the spec's custom mounts already).
pub fn prepare(spec: &Spec, bind_user: Option<crate::bind_user::Plan>) -> Result<(Prepared, OwnedFd)> {
    let dir = &spec.directory;
    if dir == Path::new("/") {
        return Err(Error::msg("spawning a container on the root directory is not supported"));
    }
    let tree = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open directory", dir, e))?;
    // With --pivot-root the checks look at the root the container will get, as nspawn's.
    let pivoted = match &spec.pivot_root {
        Some((new, old)) => Some(
            rootfs::open_in_root(tree.as_fd(), new, OFlags::PATH | OFlags::DIRECTORY, rootfs::Follow::InRoot).map_err(
                |e| {
                    Error::path("open", &dir.join(rootfs::relative(new)), e)
                        .context(rootfs::pivot_option(new, old.as_deref()))
                },
            )?,
        ),
        None => None,
    };
    let t = tree.as_fd();
    let v = pivoted.as_ref().map_or(t, |p| p.as_fd());
    let mut init = None;
    if spec.start_mode == StartMode::Boot {
        if spec.check_os_release
            && !rootfs::is_regular_file(v, Path::new("/etc/os-release"))
            && !rootfs::is_regular_file(v, Path::new("/usr/lib/os-release"))
        {
            return Err(Error::msg(format!(
                "directory {} doesn't look like an OS root directory (os-release file is missing), refusing",
                dir.display()
            )));
        }
        let found = INITS.iter().find(|p| {
            rootfs::stat_in_root(v, Path::new(p)).is_some_and(|m| m & 0o170000 == 0o100000 && m & 0o111 != 0)
        });
        match found {
            Some(p) => init = Some(PathBuf::from(p)),
            None => {
                return Err(Error::msg(format!(
                    "cannot find an init in {} (tried {})",
                    dir.display(),
                    INITS.join(", ")
                )))
            }
        }
    } else if rootfs::stat_in_root(v, Path::new("/usr")).map_or(true, |m| m & 0o170000 != 0o040000) {
        return Err(Error::msg(format!(
            "directory {} doesn't look like it has an OS tree (/usr/ directory is missing), refusing",
            dir.display()
        )));
    }

    let init_kind = match &init {
        Some(p) => crate::guest::identify(v, p),
        None if spec.start_mode == StartMode::Pid2 => crate::guest::InitKind::SpawnboxInit,
        None => crate::guest::InitKind::Unknown,
    };
    let uuid = machine_id(v).or(spec.uuid).unwrap_or_else(Id128::random);

    let os_release = etc_text("/etc/os-release").or_else(|| etc_text("/usr/lib/os-release"));
    let os_release_ids =
        os_release.as_deref().map(|b| env::parse_os_release(&String::from_utf8_lossy(b))).unwrap_or_default();

    let writable = !spec.read_only;
    // `auto` leaves the tree's file alone in a network namespace of its own, unless NAT gives
    // the container a way out (then the host's file is useful and copied).
    let isolated = (spec.net.private_network || spec.net.namespace_path.is_some()) && !spec.net.nat;
    let resolv = resolv_conf::decide(spec.resolv_conf, writable, isolated, &|p| p.exists());
    let resolv_content = match &resolv {
        resolv_conf::Action::Copy(p) | resolv_conf::Action::Replace(p) | resolv_conf::Action::Bind(p) => {
            crate::etc_files::read_host_file(p)
        }
        _ => None,
    };
    let host_zone = match std::fs::read_link("/etc/localtime") {
        Ok(target) => match timezone::zone_of_link(&target.to_string_lossy()) {
            Some(z) => timezone::HostZone::Zone(z),
            None if Path::new("/etc/localtime").exists() => timezone::HostZone::File,
            None => timezone::HostZone::Missing,
        },
        Err(_) if Path::new("/etc/localtime").is_file() => timezone::HostZone::File,
        Err(_) => timezone::HostZone::Missing,
    };
    let timezone = timezone::decide(spec.timezone, writable, &host_zone);
    log::debug!("resolv.conf: {resolv:?}; timezone: {timezone:?} (host {host_zone:?}); uuid {}", uuid.uuid_string());
    let localtime_content = matches!(timezone, timezone::Action::Copy | timezone::Action::Bind)
        .then(|| crate::etc_files::read_host_file(Path::new("/etc/localtime")))
        .flatten();

    let security = crate::security::prepare(spec)?;
    let stub_init = if spec.start_mode == StartMode::Pid2 { Some(stub_init_memfd()?) } else { None };
    let workdirs = overlay::prepare(&spec.custom_mounts, t)?;
    if spec.userns() {
        // Those file systems are mounted inside the user namespace, after the custom mounts.
        if let Some(m) = spec
            .custom_mounts
            .iter()
            .find(|m| crate::mount_plan::INSIDE_USERNS_TARGETS.iter().any(|t| m.destination().starts_with(t)))
        {
            return Err(Error::msg(format!(
                "{}: mounts on or below {} are not supported with --private-users yet",
                crate::mounts::describe(m),
                crate::mount_plan::INSIDE_USERNS_TARGETS.join(", ")
            )));
        }
    }
    let own_creds = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    let credentials = crate::credentials::load(&spec.credentials, own_creds.as_deref())?;
    let bind_idmaps =
        if spec.userns() { Vec::new() } else { crate::userns::idmap::host_bind_mappings(&spec.custom_mounts, t)? };
    let userns = if spec.userns() {
        // One user-namespaced container per tree: a second one could re-own it under the first.
        let lock = if spec.lock_tree { Some(lock_tree(dir)?) } else { None };
        // Every bind source must open before the tree may be re-owned below.
        drop(crate::mounts::open_host_sources(&spec.custom_mounts, &workdirs, t)?);
        // Last: with --private-users-ownership=chown (or auto) this re-owns the tree.
        let bound = bind_user.as_ref().map(crate::bind_user::Plan::bound_ids).unwrap_or_default();
        crate::userns::prepare(spec, t, bound)?.map(|u| u.with_tree_lock(lock))
    } else {
        None
    };
    let var = |k: &str| std::env::var(k).ok();
    Ok((
        Prepared {
            uuid,
            os_release,
            os_release_ids,
            resolv,
            resolv_content,
            timezone,
            localtime_content,
            init,
            init_kind,
            stub_init,
            workdirs,
            bind_idmaps,
            credentials,
            dev_nodes: crate::dev::host_optional_nodes(),
            cgroup_mount: CgroupMount::None,
            security,
            term: var("TERM"),
            colorterm: var("COLORTERM"),
            no_color: var("NO_COLOR"),
            userns,
            bind_user,
        },
        tree,
    ))
}

/// The tree's `/etc/machine-id`, if it holds one.
fn machine_id(tree: BorrowedFd<'_>) -> Option<Id128> {
    let b = rootfs::read_small_file(tree, Path::new("/etc/machine-id"), 64).ok().flatten()?;
    Id128::parse(String::from_utf8_lossy(&b).trim())
}

/// An exclusive lock on the tree directory for the container's lifetime (nspawn's image lock).
fn lock_tree(dir: &Path) -> Result<OwnedFd> {
    let fd = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open directory", dir, e))?;
    match rustix::fs::flock(&fd, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(fd),
        Err(rustix::io::Errno::WOULDBLOCK) => {
            Err(Error::msg(format!("directory tree {} is currently busy", dir.display())))
        }
        Err(e) => Err(Error::path("lock", dir, e)),
    }
}

fn etc_text(p: &str) -> Option<Vec<u8>> {
    crate::etc_files::read_host_file(Path::new(p))
}

/// spawnbox-init's bytes in a sealed memfd: executed from there, it is never written into the
/// tree, and the container cannot modify it through `/proc/1/exe`.
fn stub_init_memfd() -> Result<OwnedFd> {
    use rustix::fs::{MemfdFlags, SealFlags};
    if STUB_INIT.is_empty() {
        return Err(Error::msg("--as-pid2: this spawnbox was built without spawnbox-init"));
    }
    let fd = rustix::fs::memfd_create("spawnbox-init", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .map_err(|e| Error::sys("create", "memfd for spawnbox-init", e))?;
    crate::run_host::write_all(fd.as_fd(), STUB_INIT).map_err(|e| Error::sys("write", "spawnbox-init memfd", e))?;
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE)
        .map_err(|e| Error::sys("seal", "spawnbox-init memfd", e))?;
    Ok(fd)
}

/// The namespaces every container gets (the network namespace stays the host's).
const CLONE_FLAGS: u64 =
    (libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWCGROUP) as u64;
/// Signals the launcher handles through its signalfd.
const HANDLED: [i32; 4] = [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGWINCH];

/// How one start of the container ended.
enum End {
    /// PID 1 called reboot(2) with RESTART (seen as killed by SIGHUP): start again.
    Reboot,
    /// spawnbox's exit status.
    Exit(i32),
}

/// Runs the container until it powers off or exits; returns spawnbox's exit status.
pub fn run(spec: &Spec) -> Result<i32> {
    if spec.cleanup {
        return cleanup(spec);
    }
    if spec.directory == Path::new("/") {
        return Err(Error::msg("spawning a container on the root directory is not supported"));
    }
    let mut spec = spec.clone();
    // Read and checked before anything changes on the host; the homes join the custom mounts
    // (kept sorted by destination).
    let bind_user = crate::bind_user::prepare(&spec)?;
    for m in bind_user.iter().flat_map(crate::bind_user::Plan::home_mounts) {
        let at = spec.custom_mounts.partition_point(|c| c.destination() <= m.destination());
        spec.custom_mounts.insert(at, m);
    }
    if crate::journal::wanted(spec.link_journal) {
        // The machine id is settled here: the journal link is named after it.
        let tree = rustix::fs::open(&spec.directory, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open directory", &spec.directory, e))?;
        let id = machine_id(tree.as_fd()).or(spec.uuid).unwrap_or_else(Id128::random);
        spec.uuid = Some(id);
        let host_id = crate::journal::host_machine_id();
        if let Some(m) = crate::journal::setup(spec.link_journal, id, host_id, tree.as_fd(), &spec.directory)? {
            // Custom mounts stay sorted by destination.
            let at = spec.custom_mounts.partition_point(|c| c.destination() <= m.destination());
            spec.custom_mounts.insert(at, m);
        }
    }
    // `--overlay=LOWER::DST`: a throw-away upper for this run, gone with it.
    let temporary = overlay::temporary_uppers(&mut spec.custom_mounts)?;
    let result = run_with(&spec, bind_user, &temporary);
    overlay::remove_temporary(&temporary);
    result
}

fn run_with(spec: &Spec, bind_user: Option<crate::bind_user::Plan>, temporary: &[PathBuf]) -> Result<i32> {
    let (mut prep, tree) = prepare(spec, bind_user)?;
    if let Some(ns) = &prep.userns {
        // The throw-away uppers belong to the container's root, which may write there.
        overlay::give_temporary(temporary, ns.shift)?;
    }
    let net = match crate::network::HostNetwork::prepare(spec) {
        Ok(n) => n,
        Err(e) => {
            overlay::cleanup(&spec.custom_mounts, tree.as_fd());
            return Err(e);
        }
    };
    let shift = prep.userns.as_ref().map(|u| u.shift);
    let cg = match create_cgroup(spec, shift) {
        Ok(cg) => cg,
        Err(e) => {
            if let Some(n) = net {
                n.release();
            }
            overlay::cleanup(&spec.custom_mounts, tree.as_fd());
            return Err(e);
        }
    };
    if cg.is_some() {
        prep.cgroup_mount = match spec.start_mode {
            StartMode::Boot if crate::cgroup::inner::guest_mounts_cgroup(tree.as_fd()) => CgroupMount::LeftToGuest,
            StartMode::Boot => CgroupMount::Writable,
            _ => CgroupMount::ReadOnly,
        };
    }
    let mut net = net;
    if prep.userns.is_some() {
        // PID 1 is cloned by the outer child, which exits: the launcher adopts it.
        if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
            if let Some(n) = net {
                n.release();
            }
            if let Some(cg) = cg {
                let _ = cg.kill_and_remove();
            }
            overlay::cleanup(&spec.custom_mounts, tree.as_fd());
            return Err(Error::sys("become", "child subreaper", e));
        }
    }
    let result = prep
        .security
        .attach_device_policy(cg.as_ref().map(Cgroup::dir_fd))
        .and_then(|()| run_prepared(spec, &prep, tree.as_fd(), cg.as_ref(), net.as_mut()));
    if let Some(n) = net {
        n.release();
    }
    if let Some(cg) = cg {
        if let Err(e) = cg.kill_and_remove() {
            log::warn!("remove cgroup: {e}");
        }
    }
    overlay::cleanup(&spec.custom_mounts, tree.as_fd());
    result
}

/// The container's cgroup: `machine.slice/machine-NAME.scope` (or `-S`), or below spawnbox's
/// own cgroup with `--keep-unit`. `None` on hosts without cgroup2, or with `--keep-unit` when
/// spawnbox runs in the root cgroup.
/// With a user namespace, a delegated cgroup belongs to the container's root (host uid `shift`).
fn create_cgroup(spec: &Spec, shift: Option<u32>) -> Result<Option<Cgroup>> {
    let Some(h) = cgroup::Hierarchy::detect()? else {
        if let Some(p) = spec.properties.first() {
            return Err(Error::msg(format!("--property={}: no cgroup2 hierarchy on this host", p.raw)));
        }
        log::warn!("no cgroup2 hierarchy on this host, running the container without a cgroup of its own");
        return Ok(None);
    };
    let placement = if spec.keep_unit {
        let own = cgroup::read_own_cgroup()?;
        if own.as_os_str().is_empty() {
            if let Some(p) = spec.properties.first() {
                return Err(Error::msg(format!(
                    "--property={}: --keep-unit from the root cgroup leaves no cgroup to limit",
                    p.raw
                )));
            }
            log::debug!("--keep-unit in the root cgroup: the container stays there");
            return Ok(None);
        }
        Placement::KeepUnit { own }
    } else {
        Placement::Machine { slice: spec.slice.clone() }
    };
    let root = shift.unwrap_or(0);
    let delegate = (spec.start_mode == StartMode::Boot).then_some((root, root));
    let req = cgroup::Request { machine: &spec.machine, placement: &placement, properties: &spec.properties, delegate };
    let plan = cgroup::plan(&h, &req, &cgroup::SystemHost)?;
    log::debug!("cgroup {}", plan.cgroup.display());
    Cgroup::create(&plan).map(Some)
}

/// `--cleanup`: removes what a killed spawnbox left of machine `spec.machine`.
fn cleanup(spec: &Spec) -> Result<i32> {
    if let Some(h) = cgroup::Hierarchy::detect()? {
        if cgroup::cleanup(&h, spec.slice.as_deref(), &spec.machine)? {
            log::info!("removed the left-over cgroup of {}", spec.machine);
        }
    }
    let stale = crate::userns::pick::remove_stale(&crate::userns::lock_dir())?;
    if stale > 0 {
        log::info!("removed {stale} stale UID range lock(s)");
    }
    if crate::network::cleanup(&spec.machine)? {
        log::info!("removed the left-over network state of {}", spec.machine);
    }
    Ok(0)
}

fn run_prepared(
    spec: &Spec,
    prep: &Prepared,
    tree: BorrowedFd<'_>,
    cg: Option<&Cgroup>,
    mut net: Option<&mut crate::network::HostNetwork>,
) -> Result<i32> {
    let old_mask = sys::set_signal_mask(&SigSet::of(&HANDLED)).map_err(|e| Error::sys("block", "signals", e))?;
    sys::ignore_sigpipe(true);
    let sigfd = sys::signalfd(&SigSet::of(&HANDLED)).map_err(|e| Error::sys("create", "signalfd", e))?;
    let mut console = Console::new(spec.console)?;
    console.watch_signals(sigfd.as_fd())?;
    if !spec.quiet && spec.console == crate::settings::ConsoleMode::Interactive {
        log::info!("Spawning container {} on {}.", spec.machine, spec.directory.display());
        if spec.start_mode == StartMode::Boot {
            log::info!(
                "Press Ctrl-] three times within 1s to kill container; two times followed by r within 1s to \
                 reboot container; two times followed by p within 1s to poweroff container."
            );
        } else {
            log::info!("Press Ctrl-] three times within 1s to kill container.");
        }
    }
    let result = loop {
        let end = run_once(spec, prep, tree, &sigfd, &mut console, cg, net.as_deref_mut());
        if let Some(n) = net.as_deref_mut() {
            n.detach();
        }
        match end {
            Ok(End::Reboot) => {
                log::info!("Container {} is being rebooted.", spec.machine);
                if let Some(Err(e)) = cg.map(Cgroup::clear_for_restart) {
                    break Err(e.context("reboot"));
                }
                continue;
            }
            Ok(End::Exit(code)) => break Ok(code),
            Err(e) => break Err(e),
        }
    };
    console.restore();
    let _ = sys::set_signal_mask(&old_mask);
    result
}

/// What the guest's PID 1 said on the notify socket.
fn on_note(spec: &Spec, note: crate::notify::Note) {
    use crate::notify::{tell_manager, Note};
    match note {
        Note::Ready => {
            log::info!("Container {} is ready.", spec.machine);
            if spec.notify_ready {
                tell_manager("READY=1\nSTATUS=Container running.");
            }
        }
        Note::Status(s) => {
            log::debug!("container {} status: {s}", spec.machine);
            tell_manager(&format!("STATUS=Container running: {s}"));
        }
        Note::Stopping => log::debug!("container {} is stopping", spec.machine),
    }
}

/// Kills the container's PID 1 and reaps it after a failed start; `e` is the failure.
fn abandon(pid: i32, e: Error) -> Error {
    let _ = sys::kill(pid, libc::SIGKILL);
    let _ = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty());
    e
}

/// The outer child of a user-namespaced start reports the host pid of PID 1 (or an error) and
/// exits; PID 1, orphaned, is now the launcher's child (it is a child subreaper).
fn adopt_pid1(ch: &Channel, outer: i32) -> Result<i32> {
    let got = ch.recv();
    let _ = rustix::process::waitpid(Pid::from_raw(outer), WaitOptions::empty());
    match got? {
        Some(Msg::Pid(pid)) => Ok(pid),
        Some(Msg::Error(text)) => Err(Error::msg(text)),
        _ => Err(Error::msg("the container's setup ended before its PID 1 was started")),
    }
}

/// One start: clone, handshake, event loop, reap.
fn run_once(
    spec: &Spec,
    prep: &Prepared,
    tree: BorrowedFd<'_>,
    sigfd: &OwnedFd,
    console: &mut Console,
    cg: Option<&Cgroup>,
    net: Option<&mut crate::network::HostNetwork>,
) -> Result<End> {
    let (parent_ch, child_ch) = Channel::pair()?;
    // With a cgroup, the child joins it at clone time and unshares its cgroup namespace itself,
    // so that the namespace is rooted at the container's cgroup.
    let mut flags = if cg.is_some() { CLONE_FLAGS & !(libc::CLONE_NEWCGROUP as u64) } else { CLONE_FLAGS };
    if spec.net.new_namespace() {
        flags |= libc::CLONE_NEWNET as u64;
    }
    // With a user namespace this child is the outer one (a mount namespace of its own, in the
    // host's user namespace); it clones PID 1 into the other namespaces (userns::child). What
    // needs the launcher's privileges is made now and inherited.
    let outer = match &prep.userns {
        Some(ns) => {
            flags = libc::CLONE_NEWNS as u64;
            Some(crate::userns::outer::make(spec, prep, tree, ns)?)
        }
        None => None,
    };
    let mut outer = outer;
    // With a user namespace the launcher made `/run` and bound the notify socket itself.
    let mut notify: Option<OwnedFd> = outer.as_mut().and_then(|o| o.notify.take());
    let pid = match sys::clone_process(flags, cg.map(|c| c.dir_fd()))
        .map_err(|e| Error::sys("clone", "container namespaces", e))?
    {
        Forked::Child => {
            drop(parent_ch);
            crate::container::run(spec, prep, child_ch, outer)
        }
        Forked::Parent { pid } => pid,
    };
    drop(outer);
    drop(child_ch);
    let pid = match &prep.userns {
        Some(ns) => {
            let pid1 = adopt_pid1(&parent_ch, pid)?;
            if let Err(e) = ns.write_maps(pid1).and_then(|()| parent_ch.send(Msg::Mapped)) {
                return Err(abandon(pid1, e));
            }
            pid1
        }
        None => pid,
    };
    log::debug!("container PID 1 is {pid} on the host");
    let mut child_error: Option<String> = None;
    let mut channel_open = true;

    // Handshake: the console (optional), then ready or an error.
    loop {
        match parent_ch.recv() {
            Ok(Some(Msg::Pty(fd))) => console.attach(fd)?,
            Ok(Some(Msg::Notify(fd))) => notify = Some(fd),
            Ok(Some(Msg::Ready)) => break,
            Ok(Some(Msg::Error(text))) => {
                child_error = Some(text);
                channel_open = false;
                break;
            }
            Ok(Some(Msg::Go | Msg::Mapped | Msg::Pid(_))) | Ok(None) | Err(_) => {
                channel_open = false;
                break;
            }
        }
    }
    if channel_open {
        // A user namespace's root could not raise its limits: the launcher sets them, last.
        let limits = if prep.userns.is_some() { prep.security.apply_to_child(pid) } else { Ok(()) };
        if let Err(e) = limits.and_then(|()| net.map_or(Ok(()), |n| n.attach(pid))) {
            return Err(abandon(pid, e));
        }
        log::debug!("container ready, sending go");
        parent_ch.send(Msg::Go)?;
        console.start();
        if !spec.notify_ready {
            crate::notify::tell_manager("READY=1\nSTATUS=Container running.");
        }
    }
    if let Some(fd) = &notify {
        console.watch_notify(fd.as_fd())?;
    }

    if channel_open {
        console.watch_channel(parent_ch.fd())?;
    }
    let mut kill_requests = 0;
    let mut stopping: Option<Stopping> = None;
    let status = loop {
        let timeout = stopping.as_ref().map(|s| s.wake_at().saturating_duration_since(Instant::now()));
        let ev = console.wait(timeout)?;
        if ev.channel && channel_open {
            match parent_ch.recv() {
                Ok(Some(Msg::Error(text))) => child_error = Some(text),
                Ok(Some(_)) => {}
                _ => {
                    console.unwatch_channel(parent_ch.fd());
                    channel_open = false;
                }
            }
        }
        if ev.notify {
            for note in notify.as_ref().map(|fd| crate::notify::receive(fd.as_fd(), pid)).unwrap_or_default() {
                on_note(spec, note);
            }
        }
        let kind = prep.init_kind;
        match ev.request {
            Some(Request::Kill) => {
                let _ = sys::kill(pid, libc::SIGKILL);
            }
            Some(r) => {
                let what = if r == Request::Reboot { Shutdown::Reboot } else { Shutdown::Poweroff };
                if let Some(s) = Stopping::begin(&spec.machine, pid, kind, what, None, Cause::Hotkey) {
                    stopping = Some(s);
                }
            }
            None => {}
        }
        while let Some(sig) = sys::read_signalfd(sigfd.as_fd()).map_err(|e| Error::sys("read", "signalfd", e))? {
            match sig {
                libc::SIGTERM | libc::SIGINT => {
                    kill_requests += 1;
                    if kill_requests > 1 || spec.kill_signal == libc::SIGKILL {
                        let _ = sys::kill(pid, libc::SIGKILL);
                    } else if spec.start_mode == StartMode::Boot {
                        let explicit = spec.kill_signal_explicit.then_some(spec.kill_signal);
                        stopping = Stopping::begin(&spec.machine, pid, kind, Shutdown::Halt, explicit, Cause::Signal);
                    } else {
                        log::debug!("sending {} to the container", signal_name(spec.kill_signal));
                        let _ = sys::kill(pid, spec.kill_signal);
                        stopping = Some(Stopping::sent());
                    }
                }
                libc::SIGWINCH => console.resize(),
                _ => {}
            }
        }
        if stopping.as_mut().is_some_and(|s| s.poll(&spec.machine, pid)) {
            log::warn!("Container {} did not stop within {} s, killing it.", spec.machine, stop_timeout().as_secs());
            let _ = sys::kill(pid, libc::SIGKILL);
            stopping = None;
        }
        if let Some((_, st)) = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::NOHANG)
            .map_err(|e| Error::sys("wait for", "container", e))?
        {
            break st;
        }
    };
    console.drain();
    // Whatever is printed from here on must find the terminal as the user left it.
    console.restore();
    log::debug!("container PID 1 ended: {status:?}");

    if let Some(text) = child_error {
        return Err(Error::msg(text));
    }
    if let Some(code) = status.exit_status() {
        // 133 is how a container asks a service manager for a restart; never pass it on.
        return Ok(End::Exit(if code == 133 { 1 } else { code }));
    }
    match status.terminating_signal() {
        Some(libc::SIGHUP) => Ok(End::Reboot),
        Some(libc::SIGINT) => {
            log::info!("Container {} has been shut down.", spec.machine);
            Ok(End::Exit(0))
        }
        Some(sig) => Err(Error::msg(format!("container terminated by signal {}", signal_name(sig)))),
        None => Err(Error::msg("container stopped in an unknown way")),
    }
}
