//! The plain container child (no user namespace): runs in the new mount/PID/UTS/IPC/cgroup
//! namespaces as PID 1, binds the tree, switches into it, mounts the plan and hands over to the
//! steps every child shares (`child`). With a user namespace it is `userns::child`'s outer
//! child instead.

use crate::channel::Channel;
use crate::child::{self, etc, fail, make_slave, mount_steps, open_root, prologue};
use crate::error::{Error, Result};
use crate::mount_plan;
use crate::mounts::{self, Mounter};
use crate::prepared::Prepared;
use crate::rootfs;
use crate::spec::Spec;
use crate::sys;
use crate::userns::outer::Outer;
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use std::convert::Infallible;

/// Entry point of the cloned child; never returns. With `outer` (a user namespace), this is
/// the outer child of [`crate::userns::child`].
pub fn run(spec: &Spec, prep: &Prepared, ch: Channel, outer: Option<Outer>) -> ! {
    let result = match outer {
        None => setup_and_exec(spec, prep, &ch),
        Some(o) => crate::userns::child::outer(spec, prep, &ch, o, prep.userns.as_ref().map_or(0, |u| u.shift)),
    };
    fail(&ch, result)
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
    let resolv = etc::resolv_install(prep);
    let tz = etc::timezone_install(prep);

    log::debug!("switching root");
    rootfs::switch_root(root.as_fd(), &spec.directory, false)?;
    drop(root);
    if let Some((new, old)) = &spec.pivot_root {
        rootfs::pivot_into(new, old.as_deref())?;
    }
    let mounter = Mounter { root: open_root()?, directory: &spec.directory, host_sources, premade: Vec::new() };
    let made = mount_steps(&mounter, &prep.steps, prep)?;
    let root = mounter.root;
    etc::apply_etc_files(root.as_fd(), resolv, tz);
    child::finish(spec, prep, ch, root, made)
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
