//! The steps every container child takes, whichever process model started it: the plain
//! child (`container.rs`) and the user-namespaced outer and inner children (`userns/child.rs`).
//! Setting up (descriptors, signals, propagation, the mount plan) is here; `/etc` files are in
//! `etc.rs`, becoming the payload in `payload.rs`, a new time namespace in `time_ns.rs`.

pub mod etc;
mod payload;
pub mod time_ns;

use crate::channel::{Channel, Msg};
use crate::error::{Error, Result};
use crate::mount_plan::Step;
use crate::mounts::{self, Mounter};
use crate::prepared::Prepared;
use crate::rootfs::{self, Follow};
use crate::settings::StartMode;
use crate::spec::Spec;
use crate::{dev, run_host, sys};
use payload::{become_payload, build_env, exec_plan, lookup_user};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::convert::Infallible;
use std::path::{Path, PathBuf};

/// Reports the error of a child's setup to the launcher and exits.
pub fn fail(ch: &Channel, result: Result<Infallible>) -> ! {
    let err = match result {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = ch.send(Msg::Error(err));
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
    k.extend(prep.start_fifo.as_ref().map(|f| f.as_raw_fd()));
    k.extend(prep.bind_idmaps.iter().flatten().map(|m| m.ns.as_raw_fd()));
    k.extend((3..3 + prep.preserve_fds as i32).take(4096));
    k.extend_from_slice(extra);
    k
}

/// The start of every container child: signal mask, parent-death signal, descriptors (nothing
/// the launcher holds on the host — the tree, the cgroup directory, netlink and state
/// descriptors — may stay reachable through /proc/self/fd), umask.
pub fn prologue(prep: &Prepared, ch: &Channel, extra: &[i32]) -> Result<()> {
    sys::set_signal_mask(&sys::SigSet::empty()).map_err(|e| Error::sys("reset", "signal mask", e))?;
    sys::ignore_sigpipe(false);
    set_death_signal(prep)?;
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
        Step::Oci(s) => crate::mounts_oci::step(m, s),
        _ => Ok(()),
    })?;
    Ok(Made { pty, notify })
}

/// The plain child's steps ([`mount_steps`]): those before the first step that mounts one of
/// `prep.premade_late`, then the launcher's [`Msg::PremadeLate`] is taken, then the rest.
pub fn mount_steps_with_late(m: &mut Mounter<'_>, steps: &[Step], prep: &Prepared, ch: &Channel) -> Result<Made> {
    if prep.premade_late.is_empty() {
        return mount_steps(m, steps, prep);
    }
    let split = steps
        .iter()
        .position(|s| matches!(s, Step::Fs { target, .. } if prep.premade_late.contains(target)))
        .unwrap_or(steps.len());
    let first = mount_steps(m, &steps[..split], prep)?;
    let late = wait_for_late(ch, prep)?;
    m.premade.extend(late);
    let rest = mount_steps(m, &steps[split..], prep)?;
    Ok(Made { pty: rest.pty.or(first.pty), notify: rest.notify.or(first.notify) })
}

/// The file systems of `prep.premade_late`, as the launcher made them.
fn wait_for_late(ch: &Channel, prep: &Prepared) -> Result<Vec<(&'static str, OwnedFd)>> {
    match ch.recv()? {
        Some(Msg::PremadeLate(fds)) if fds.len() == prep.premade_late.len() => {
            Ok(prep.premade_late.iter().copied().zip(fds).collect())
        }
        // The launcher gave up (it reports why) or broke the protocol.
        _ => sys::exit_now(1),
    }
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

/// The end of every start, in the container's namespaces: hostname, user, environment, the
/// console and "ready" to the launcher, then on "go" the payload.
/// `devices`: the device program is attached (see [`wait_for_devices`]).
pub fn finish(
    spec: &Spec,
    prep: &Prepared,
    ch: &Channel,
    root: OwnedFd,
    made: Made,
    devices: bool,
) -> Result<Infallible> {
    // The OCI runtime sets a hostname (and domain name) only when config.json gives one.
    if spec.oci.is_none() || !spec.hostname.is_empty() {
        rustix::system::sethostname(spec.hostname.as_bytes())
            .map_err(|e| Error::sys("set hostname", &spec.hostname, e))?;
    }
    if let Some(domain) = spec.oci.as_ref().and_then(|o| o.config.domainname.as_deref()) {
        rustix::system::setdomainname(domain.as_bytes()).map_err(|e| Error::sys("set domain name", domain, e))?;
    }

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
    if prep.start_fifo.is_some() {
        // `Model::Detachable`: the creator says once more when it has left the machine
        // (`Machine::leave`); if it dies first (its end of the channel closes), so does this
        // process: a killed `create` leaves no container behind.
        match ch.recv()? {
            Some(Msg::Go) => {}
            _ => sys::exit_now(1),
        }
    }
    become_payload(root.as_fd(), spec, prep, &user, slave, cwd.as_deref(), devices)?;
    // The OCI runtime finds the program now, as runc does, so that `create` reports a missing one.
    let exec = match (&spec.oci, exec) {
        (Some(_), payload::Exec::Search { argv }) => payload::resolve(argv, &environment)?,
        (_, e) => e,
    };
    if let Some(fifo) = &prep.start_fifo {
        // Everything that can fail before the exec has: the creator hears that it did not
        // (`Machine::leave` waits for this), then the process waits for `start` (the FIFO is
        // writable by the payload's user, as runc's exec.fifo).
        ch.send(Msg::Ready)?;
        wait_for_start(fifo.as_fd())?;
        // startContainer hooks: in the container, after `start`, with the process's own pid
        // (runc's), right before the exec.
        crate::oci_hooks::run_in_container(
            spec,
            "startContainer",
            rustix::process::getpid().as_raw_nonzero().get(),
            "created",
        )?;
    }
    // The exec lookup follows magic links: no descriptor but the channel (closed by the exec)
    // and spawnbox-init's memfd may be open now (not the start FIFO's).
    drop(root);
    let fifo = prep.start_fifo.as_ref().map(|f| f.as_raw_fd());
    let keep: Vec<i32> = keep_fds(ch, prep, &[]).into_iter().filter(|fd| Some(*fd) != fifo).collect();
    log::debug!("exec");
    sys::close_all_except(&keep);
    Err(exec.run(&environment))
}

/// Joins the namespace of type `kind` among `joined` (opened by the launcher from `path`, which
/// names it in errors).
pub fn join_namespace(
    joined: &[crate::spec_oci::Joined],
    kind: crate::runtime_spec::NsKind,
    path: &Path,
) -> Result<()> {
    let j = joined.iter().find(|j| j.kind == kind).ok_or_else(|| {
        crate::setup::out_of_order(&crate::setup::Op::JoinNamespace { kind, path: path.to_path_buf() })
    })?;
    let ty = match kind {
        crate::runtime_spec::NsKind::Pid => rustix::thread::LinkNameSpaceType::ProcessID,
        crate::runtime_spec::NsKind::Ipc => rustix::thread::LinkNameSpaceType::InterProcessCommunication,
        crate::runtime_spec::NsKind::Uts => rustix::thread::LinkNameSpaceType::HostNameAndNISDomainName,
        crate::runtime_spec::NsKind::Cgroup => rustix::thread::LinkNameSpaceType::ControlGroup,
        crate::runtime_spec::NsKind::Network => rustix::thread::LinkNameSpaceType::Network,
        crate::runtime_spec::NsKind::Mount => rustix::thread::LinkNameSpaceType::Mount,
        crate::runtime_spec::NsKind::User => rustix::thread::LinkNameSpaceType::User,
        crate::runtime_spec::NsKind::Time => rustix::thread::LinkNameSpaceType::Time,
    };
    rustix::thread::move_into_link_name_space(j.fd.as_fd(), Some(ty))
        .map_err(|e| Error::path(&format!("join {} namespace", kind.name()), path, e))
}

/// Whether the device program is attached to the container's cgroup. When the launcher
/// attaches it after the clone (`prep.devices_pending`), waits for its word: every open of a
/// file of the tree comes after this, so none of them reaches a device the program forbids.
pub fn wait_for_devices(ch: &Channel, prep: &Prepared) -> Result<bool> {
    if !prep.devices_pending {
        return Ok(prep.security.device_policy_attached());
    }
    match ch.recv()? {
        Some(Msg::Devices(attached)) => Ok(attached),
        _ => sys::exit_now(1),
    }
}

/// `/run` as the launcher made it for this child (`prep.premade_pending`), by
/// API mount target; none when the child makes them itself.
pub fn wait_for_premade(ch: &Channel, prep: &Prepared) -> Result<Vec<(&'static str, OwnedFd)>> {
    if !prep.premade_pending {
        return Ok(Vec::new());
    }
    match ch.recv()? {
        Some(Msg::Premade { run }) => Ok(vec![("/run", run)]),
        _ => sys::exit_now(1),
    }
}

/// In a new user namespace: waits until the launcher has written its maps, then becomes its
/// root (uid and gid 0, no supplementary groups).
pub fn become_root_of_user_namespace(ch: &Channel, prep: &Prepared) -> Result<()> {
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
    set_death_signal(prep)
}

/// SIGKILL when the launcher dies, unless the machine is to outlive it. Changing credentials
/// clears it: set again after each change.
pub fn set_death_signal(prep: &Prepared) -> Result<()> {
    if !prep.dies_with_launcher {
        return Ok(());
    }
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| Error::sys("set", "parent death signal", e))
}

/// `Model::Detachable`: after "go", waits until a process opens the start FIFO for reading
/// (`machine::Created::start`), then tells it so with one byte. Reopened through the inherited
/// O_PATH descriptor: the FIFO's host path is out of reach in the container.
fn wait_for_start(fifo: BorrowedFd<'_>) -> Result<()> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let w = rustix::fs::open(path.as_str(), OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::sys("open", "the start FIFO", e))?;
    rustix::io::write(&w, b"1").map_err(|e| Error::sys("write", "the start FIFO", e))?;
    Ok(())
}

fn open_dev(root: BorrowedFd<'_>) -> Result<OwnedFd> {
    rootfs::open_path(root, Path::new("/dev"), Follow::Never).map_err(|e| Error::path("open", Path::new("/dev"), e))
}
