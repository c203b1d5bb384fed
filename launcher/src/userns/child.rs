//! The two children of a user-namespaced start (nspawn's outer and inner child). The outer one,
//! still in the host's user namespace, attaches the launcher's mounts, pins a procfs, switches
//! into the tree, makes every mount the container must not be able to undo, and clones the inner
//! one — the container's PID 1 — into new user, mount, PID, UTS, IPC, cgroup (and network)
//! namespaces: the kernel locks the inner child's copy of those mounts (read-only stays
//! read-only, nothing can be unmounted to uncover what lies below). The outer child reports
//! PID 1's pid and exits; the launcher, a child subreaper, adopts PID 1.

use super::outer::Outer;
use crate::channel::{Channel, Msg};
use crate::child;
use crate::error::{Error, Result};
use crate::mount_plan;
use crate::mounts::{self, Mounter};
use crate::prepared::Prepared;
use crate::rootfs::{self, Follow, NodeKind};
use crate::setup::{out_of_order, Op};
use crate::spec::Spec;
use crate::sys::{self, Forked};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::process::{Pid, WaitOptions};
use std::convert::Infallible;
use std::path::Path;

/// The outer child: returns only on error.
pub fn outer(spec: &Spec, prep: &Prepared, ch: &Channel, o: Outer, shift: u32) -> Result<Infallible> {
    // The host's `/` for PID 1's createContainer hooks goes on to PID 1 (never to its exec).
    let keep: Vec<i32> = o.fds().into_iter().chain(prep.host_root.as_ref().map(AsRawFd::as_raw_fd)).collect();
    child::prologue(prep, ch, &keep)?;
    let Outer { root: tree, host_sources, premade, netns, joined, .. } = o;
    // Inodes made from now on (mount points, `/etc/resolv.conf`, ...) are the container root's.
    super::create_as(shift, shift)?;
    let mut tree = Some(tree);
    let mut root: Option<OwnedFd> = None;
    let (mut host_sources, mut premade) = (Some(host_sources), Some(premade));
    let mut installs = None;
    for op in &prep.setup.outer {
        log::debug!("outer: {op}");
        match op {
            Op::Slave => child::make_slave()?,
            // The tree goes on top of `/`, then becomes `/` (pivot_root, or on an initramfs a
            // chroot).
            Op::AttachTree => {
                let t = tree.as_ref().ok_or_else(|| out_of_order(op))?;
                rustix::mount::move_mount(
                    t,
                    "",
                    rustix::fs::CWD,
                    "/",
                    rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
                )
                .map_err(|e| Error::path("attach", &spec.directory, e))?;
                installs = Some((child::etc::resolv_install(prep), child::etc::timezone_install(prep)));
            }
            Op::OverlayRoot { .. } | Op::TmpfsRoot => {
                let t = tree.take().ok_or_else(|| out_of_order(op))?;
                tree = Some(crate::volatile::root(spec, op, t.as_fd())?);
            }
            Op::SwitchRoot => {
                let t = tree.take().ok_or_else(|| out_of_order(op))?;
                rootfs::switch_root(t.as_fd(), &spec.directory, true, prep.root != crate::setup::Root::Tree)?;
            }
            Op::PivotRoot { new, old } => rootfs::pivot_into(new, old.as_deref())?,
            Op::PinProcfs => {
                let r = child::open_root()?;
                pin_procfs(ch, r.as_fd(), &spec.directory)?;
                root = Some(r);
            }
            Op::Mounts(steps) => {
                let m = Mounter {
                    root: match root.take() {
                        Some(r) => r,
                        None => child::open_root()?,
                    },
                    directory: &spec.directory,
                    host_sources: host_sources.take().ok_or_else(|| out_of_order(op))?,
                    premade: premade.take().ok_or_else(|| out_of_order(op))?,
                };
                child::mount_steps(&m, steps, prep)?;
                root = Some(m.root);
            }
            Op::EtcFiles => {
                let (resolv, tz) = installs.take().ok_or_else(|| out_of_order(op))?;
                child::etc::apply_etc_files(root.as_ref().ok_or_else(|| out_of_order(op))?.as_fd(), resolv, tz);
            }
            Op::BindUserEtc => {
                let plan = prep.bind_user.as_ref().ok_or_else(|| out_of_order(op))?;
                crate::bind_user::setup::bind_etc(root.as_ref().ok_or_else(|| out_of_order(op))?.as_fd(), plan)?;
            }
            // Before PID 1's user namespace exists: joining needs the host's privileges over it
            // (the launcher opened the namespace file).
            Op::JoinNetwork(_) => {
                let ns = netns.as_ref().ok_or_else(|| out_of_order(op))?;
                rustix::thread::move_into_link_name_space(ns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
                    .map_err(|e| Error::sys("join", "--network-namespace-path", e))?;
            }
            // The OCI runtime's namespaces named by path, with the host's privileges over them;
            // a PID namespace becomes PID 1's (the one its children are born in).
            Op::JoinNamespace { kind, path } => child::join_namespace(&joined, *kind, path)?,
            Op::CloneInner { network, shared } => {
                let mut flags = (libc::CLONE_NEWUSER
                    | libc::CLONE_NEWNS
                    | libc::CLONE_NEWPID
                    | libc::CLONE_NEWUTS
                    | libc::CLONE_NEWIPC
                    | libc::CLONE_NEWCGROUP) as u64;
                if *network {
                    flags |= libc::CLONE_NEWNET as u64;
                }
                for kind in shared {
                    flags &= !crate::spec_oci::clone_flag(*kind);
                }
                match sys::clone_process(flags, None).map_err(|e| Error::sys("clone", "container namespaces", e))? {
                    Forked::Child => {
                        drop(root);
                        child::fail(ch, inner(spec, prep, ch))
                    }
                    Forked::Parent { pid } => {
                        ch.send(Msg::Pid(pid))?;
                        sys::exit_now(0)
                    }
                }
            }
            _ => return Err(out_of_order(op)),
        }
    }
    Err(Error::msg("the setup plan ends before PID 1 is cloned"))
}

/// A procfs on the tree's `/proc` for the inner child: the kernel lets a user namespace mount
/// a procfs only where a fully visible one exists. It belongs to a PID namespace that is empty
/// once this returns (its only process made the mount and exited), so it shows no process; the
/// container's own procfs is mounted over it.
fn pin_procfs(ch: &Channel, tree: BorrowedFd<'_>, dir: &Path) -> Result<()> {
    let pid = match sys::clone_process(libc::CLONE_NEWPID as u64, None)
        .map_err(|e| Error::sys("clone", "PID namespace for a procfs", e))?
    {
        Forked::Child => {
            let made = mount_plan::api_fs("/proc")
                .ok_or_else(|| Error::msg("no procfs in the mount plan"))
                .and_then(|(fstype, options, attrs)| mounts::new_fs(fstype, options, attrs))
                .and_then(|mnt| {
                    let at = rootfs::mount_point(tree, Path::new("/proc"), NodeKind::Directory, Follow::Never)?;
                    rustix::mount::move_mount(
                        &mnt,
                        "",
                        &at,
                        "",
                        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH
                            | rustix::mount::MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
                    )
                    .map_err(|e| Error::path("mount proc on", &dir.join("proc"), e))
                });
            // The whole error goes to the launcher, which reads it first; the errno is also
            // the exit status, for the outer child's own report.
            match made {
                Ok(_) => sys::exit_now(0),
                Err(e) => {
                    let code = e.errno().filter(|n| (1..=254).contains(n)).unwrap_or(255);
                    let _ = ch.send(Msg::Error(e));
                    sys::exit_now(code)
                }
            }
        }
        Forked::Parent { pid } => pid,
    };
    let shown = dir.join("proc");
    match rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty()) {
        Ok(Some((_, st))) => match st.exit_status() {
            Some(0) => Ok(()),
            Some(255) | None => Err(Error::msg(format!("mount proc on {}: failed", shown.display()))),
            Some(n) => Err(Error::path("mount proc on", &shown, rustix::io::Errno::from_raw_os_error(n))),
        },
        Ok(None) => Err(Error::msg(format!("mount proc on {}: failed", shown.display()))),
        Err(e) => Err(Error::sys("wait for", "the procfs helper", e)),
    }
}

/// The inner child, the container's PID 1: once the launcher has written its maps, becomes
/// root of its user namespace, mounts what belongs to its own namespaces, and runs the payload.
fn inner(spec: &Spec, prep: &Prepared, ch: &Channel) -> Result<Infallible> {
    let mut root: Option<OwnedFd> = None;
    let mut made = child::Made::default();
    let mut held: Vec<(&Path, OwnedFd)> = Vec::new();
    for op in &prep.setup.inner {
        log::debug!("inner: {op}");
        match op {
            Op::BecomeRoot => {
                child::become_root_of_user_namespace(ch, prep)?;
                child::exit_if_orphaned(ch);
                let host_root: Vec<i32> = prep.host_root.as_ref().map(AsRawFd::as_raw_fd).into_iter().collect();
                sys::close_all_except(&child::keep_fds(ch, prep, &host_root));
            }
            Op::Mounts(steps) => {
                let m = Mounter {
                    root: child::open_root()?,
                    directory: &spec.directory,
                    host_sources: Vec::new(),
                    premade: Vec::new(),
                };
                let more = child::mount_steps(&m, steps, prep)?;
                made.pty = made.pty.or(more.pty);
                made.notify = made.notify.or(more.notify);
                root = Some(m.root);
            }
            // In the container's user namespace, which owns it then; the launcher writes the
            // offsets while it waits for its maps.
            Op::UnshareTime { .. } => {
                child::time_ns::unshare()?;
                ch.send(Msg::TimeNamespace)?;
            }
            Op::EnterTime => child::time_ns::enter()?,
            // Absolute paths: the inner child's root is the container's already.
            // With what lies on it (an OCI `cgroup` mount's v1 hierarchies on their tmpfs).
            Op::HoldMount { target } => {
                held.push((target, crate::mounts::clone_tree(rustix::fs::CWD, target, true, false)?));
            }
            Op::AttachHeld { target } => {
                let i = held.iter().position(|(t, _)| t == target).ok_or_else(|| out_of_order(op))?;
                let (_, mnt) = held.remove(i);
                let at = rootfs::open_path(child::open_root()?.as_fd(), target, Follow::Never)
                    .map_err(|e| Error::path("open", target, e))?;
                rustix::mount::move_mount(
                    &mnt,
                    "",
                    &at,
                    "",
                    rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH
                        | rustix::mount::MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
                )
                .map_err(|e| Error::path("attach again", target, e))?;
            }
            Op::CreateContainerHooks => {
                let host = prep.host_root.as_ref().ok_or_else(|| out_of_order(op))?;
                crate::oci_hooks::run_in_host_root(spec, host.as_fd())?;
                // Gone before anything of the container's resolves a path (a `/proc/self/fd/N`
                // in the program's path or PATH would reach the host): its number now names the
                // container's `/` (the exec's close of everything but the channel closes that).
                let own = child::open_root()?;
                sys::replace_fd(host.as_raw_fd(), own.as_fd())
                    .map_err(|e| Error::sys("close", "the host's root after the createContainer hooks", e))?;
            }
            // The handshake, the start FIFO and the exec: the rest of the plan (`child::finish`).
            Op::Handshake => {
                let root = match root.take() {
                    Some(r) => r,
                    None => child::open_root()?,
                };
                let devices = child::wait_for_devices(ch, prep)?;
                return child::finish(spec, prep, ch, root, std::mem::take(&mut made), devices);
            }
            _ => return Err(out_of_order(op)),
        }
    }
    Err(Error::msg("the setup plan ends before the handshake"))
}
