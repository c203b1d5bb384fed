//! `spawnctl bind NAME SRC [DST] [--read-only] [--mkdir]`: a host path mounted into a running
//! container with the new mount API, as one detached mount moved across namespaces. The clone
//! of SRC's mount tree is made in the host's namespace (open_tree(OPEN_TREE_CLONE |
//! AT_RECURSIVE)), made read-only (mount_setattr) and, for a container with a user namespace of
//! its own, idmapped to it, so that host ids show as the container's (host root as its root);
//! DST is opened inside the container's root (RESOLVE_IN_ROOT, created by its root with
//! `--mkdir`); only the attach (move_mount) runs in the container's mount namespace, entered by
//! the leader's pidfd and left again. nspawn's machinectl bind needs a propagation directory
//! prepared at start (`/run/host/incoming`) and refuses user-namespaced containers; a
//! detached mount needs neither.

use super::args::Options;
use super::leader::Leader;
use crate::error::{Error, Result};
use crate::rootfs::{self, Follow, NodeKind};
use rustix::fd::AsFd;
use rustix::fs::{FileType, Mode, OFlags};
use rustix::mount::{move_mount, MoveMountFlags};
use rustix::thread::{move_into_link_name_space, move_into_thread_name_spaces, LinkNameSpaceType};
use std::path::Path;

/// `bind NAME SRC [DST]`.
pub fn bind(o: &Options, args: &[String]) -> Result<()> {
    let (name, src) = (&args[0], &args[1]);
    let dst = args.get(2).unwrap_or(src);
    for (p, what) in [(src, "source"), (dst, "destination")] {
        if !p.starts_with('/') {
            return Err(Error::msg(format!("{what} must be an absolute path: \"{p}\"")));
        }
    }
    let (src, dst) = (Path::new(src), Path::new(dst));
    let m = Leader::open(name)?;
    let ctx = format!("bind {} on {}", src.display(), m.shown(dst).display());

    // The host side: SRC's mounts, detached.
    let tree = crate::mounts::clone_tree(rustix::fs::CWD, src, true, o.read_only).map_err(|e| e.context(&ctx))?;
    if let Some(userns) = m.userns()? {
        crate::sys::mount_setattr_idmap(tree.as_fd(), userns.as_fd(), true).map_err(|e| {
            Error::path("make idmapped mount of", src, e).context(&ctx).hint(
                "the machine has a user namespace of its own, so a bind into it is an idmapped mount, \
                 and every file system below SRC must support those (procfs and sysfs do not)",
            )
        })?;
    }
    let st = rustix::fs::fstat(&tree).map_err(|e| Error::path("stat", src, e).context(&ctx))?;
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => NodeKind::Directory,
        _ => NodeKind::File,
    };

    // The container side: DST inside its root.
    let at = if o.mkdir {
        m.as_container_root(|| rootfs::mount_point(m.root(), dst, kind, Follow::InRoot))
    } else {
        existing(&m, dst, kind)
    }
    .map_err(|e| e.context(&ctx))?;

    // The attach, in the container's mount namespace: move_mount(2) attaches only there.
    let own_path = "/proc/thread-self/ns/mnt";
    let own = rustix::fs::open(own_path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::sys("open", own_path, e))?;
    move_into_thread_name_spaces(m.pidfd.as_fd(), rustix::thread::ThreadNameSpaceType::MOUNT)
        .map_err(|e| Error::sys("enter", format!("the mount namespace of machine \"{name}\""), e))?;
    let flags = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    let attached = move_mount(&tree, "", &at, "", flags);
    move_into_link_name_space(own.as_fd(), Some(LinkNameSpaceType::Mount))
        .map_err(|e| Error::sys("go back to", "the host's mount namespace", e))?;
    attached.map_err(|e| Error::path("attach", &m.shown(dst), e).context(&ctx))
}

/// DST as it is: there, and a directory for a directory, a non-directory for a file.
fn existing(m: &Leader, dst: &Path, kind: NodeKind) -> Result<rustix::fd::OwnedFd> {
    let fd = rootfs::open_path(m.root(), dst, Follow::InRoot).map_err(|e| {
        let err = Error::path("open", &m.shown(dst), e);
        if e == rustix::io::Errno::NOENT {
            err.hint("--mkdir creates it")
        } else {
            err
        }
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat", &m.shown(dst), e))?;
    match (kind, FileType::from_raw_mode(st.st_mode) == FileType::Directory) {
        (NodeKind::Directory, false) => Err(Error::msg(format!("{} is not a directory", m.shown(dst).display()))),
        (NodeKind::File, true) => {
            Err(Error::msg(format!("{} is a directory, the source is not", m.shown(dst).display())))
        }
        _ => Ok(fd),
    }
}
