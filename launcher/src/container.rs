//! The plain container child (no user namespace): runs in the new mount/PID/UTS/IPC/cgroup
//! namespaces as PID 1, binds the tree, switches into it, mounts the plan and hands over to the
//! steps every child shares (`child`). With a user namespace it is `userns::child`'s outer
//! child instead.

use crate::channel::Channel;
use crate::child::{self, etc, fail, make_slave, open_root, prologue};
use crate::error::{Error, Result};
use crate::mounts::{self, Mounter};
use crate::prepared::Prepared;
use crate::rootfs;
use crate::setup::{out_of_order, Op};
use crate::spec::Spec;
use crate::spec_oci::Joined;
use crate::sys;
use crate::userns::outer::Outer;
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::convert::Infallible;

/// Entry point of the cloned child; never returns. With `outer` (a user namespace), this is
/// the outer child of [`crate::userns::child`].
/// `joined`: the OCI runtime's namespaces named by path (the plain child's; the outer child's
/// are in `outer`).
pub fn run(spec: &Spec, prep: &Prepared, ch: Channel, outer: Option<Outer>, joined: Vec<Joined>) -> ! {
    let result = match outer {
        None => setup_and_exec(spec, prep, &ch, &joined),
        Some(o) => crate::userns::child::outer(spec, prep, &ch, o, prep.userns.as_ref().map_or(0, |u| u.shift)),
    };
    fail(&ch, result)
}

fn setup_and_exec(spec: &Spec, prep: &Prepared, ch: &Channel, joined: &[Joined]) -> Result<Infallible> {
    let keep: Vec<i32> = joined.iter().map(|j| j.fd.as_raw_fd()).collect();
    prologue(prep, ch, &keep)?;
    // The tree's bind until the switch; then the new root.
    let mut tree: Option<OwnedFd> = None;
    let mut root: Option<OwnedFd> = None;
    let mut host_sources = Vec::new();
    let mut installs = None;
    let mut made = child::Made::default();
    // Whether the device program is attached: asked before the first open of a tree file.
    let mut devices: Option<bool> = None;
    for op in &prep.setup.plain {
        log::debug!("child: {op}");
        match op {
            Op::CgroupNamespace => {
                // Started inside the container's cgroup (CLONE_INTO_CGROUP): root the namespace here.
                sys::unshare(libc::CLONE_NEWCGROUP).map_err(|e| Error::sys("unshare", "cgroup namespace", e))?
            }
            Op::JoinNetwork(path) => {
                let ns = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                    .map_err(|e| Error::path("open network namespace", path, e))?;
                rustix::thread::move_into_link_name_space(ns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
                    .map_err(|e| Error::path("join network namespace", path, e))?;
            }
            Op::JoinNamespace { kind, path } => child::join_namespace(joined, *kind, path)?,
            Op::TimeNamespace { offsets } => child::time_ns::enter_new(offsets)?,
            Op::Slave => make_slave()?,
            Op::BindTree { read_only } => tree = Some(rootfs::bind_root(&spec.directory, *read_only)?),
            Op::OverlayRoot { .. } | Op::TmpfsRoot => {
                let t = tree.take().ok_or_else(|| out_of_order(op))?;
                tree = Some(crate::volatile::root(spec, op, t.as_fd())?);
            }
            Op::CreateContainerHooks => {
                // Its host pid, from the host's procfs still mounted here (the state's `pid`).
                let pid = crate::oci_hooks::own_host_pid()?;
                crate::oci_hooks::run_in_container(spec, "createContainer", pid, "creating")?
            }
            Op::SwitchRoot => {
                let t = tree.take().ok_or_else(|| out_of_order(op))?;
                // The last moment the host is reachable: open what the mounts need from it.
                host_sources = mounts::open_host_sources(&spec.custom_mounts, &prep.workdirs, t.as_fd())?;
                apply_bind_idmaps(spec, prep, &host_sources)?;
                installs = Some((etc::resolv_install(prep), etc::timezone_install(prep)));
                let on_slash = spec.directory == std::path::Path::new("/");
                rootfs::switch_root(t.as_fd(), &spec.directory, on_slash, prep.root != crate::setup::Root::Tree)?;
            }
            Op::PivotRoot { new, old } => rootfs::pivot_into(new, old.as_deref())?,
            Op::Mounts(steps) => {
                let mut m = Mounter {
                    root: open_root()?,
                    directory: &spec.directory,
                    host_sources: std::mem::take(&mut host_sources),
                    premade: child::wait_for_premade(ch, prep)?,
                };
                made = child::mount_steps_with_late(&mut m, steps, prep, ch)?;
                root = Some(m.root);
            }
            Op::EtcFiles => {
                devices = Some(child::wait_for_devices(ch, prep)?);
                let (resolv, tz) = installs.take().ok_or_else(|| out_of_order(op))?;
                etc::apply_etc_files(root.as_ref().ok_or_else(|| out_of_order(op))?.as_fd(), resolv, tz);
            }
            // The handshake, the start FIFO (`prep.start_fifo`, there exactly when the plan waits
            // for it) and the exec: the rest of the plan, in `child::finish`.
            Op::Handshake => {
                let root = match root.take() {
                    Some(r) => r,
                    None => open_root()?,
                };
                let devices = match devices {
                    Some(d) => d,
                    None => child::wait_for_devices(ch, prep)?,
                };
                return child::finish(spec, prep, ch, root, std::mem::take(&mut made), devices);
            }
            _ => return Err(out_of_order(op)),
        }
    }
    Err(Error::msg("the setup plan ends before the handshake"))
}

/// `rootidmap`, `owneridmap` and the OCI runtime's mounts' own mappings without a user
/// namespace: the launcher's mapping namespaces applied to the detached copies of the bind
/// sources, before they are attached.
fn apply_bind_idmaps(spec: &Spec, prep: &Prepared, sources: &[mounts::HostSource]) -> Result<()> {
    for ((m, src), ns) in spec.custom_mounts.iter().zip(sources).zip(&prep.bind_idmaps) {
        if let (Some(ns), mounts::HostSource::Bind { tree, .. }) = (ns, src) {
            crate::userns::idmap::apply(tree.as_fd(), ns.ns.as_fd(), ns.recursive, m.destination())
                .map_err(|e| e.context(mounts::describe(m)))?;
        }
    }
    Ok(())
}
