//! What the launcher makes outside the user namespace for a container inside one (nspawn's
//! "outer child" work): the tree (idmapped or as it is), the bind sources with their idmap
//! options, and the file systems whose inodes must belong to the host's namespace — `/dev` with
//! its device nodes, `/run` with `/run/host`'s inaccessible nodes, `/sys` of the host's network
//! — owned by the container's root. The child, which cannot do any of this, attaches them.

use super::{idmap, UserNs};
use crate::error::{Error, Result};
use crate::mounts::{self, HostSource};
use crate::prepared::Prepared;
use crate::settings::{BindIdmap, CustomMount, MountSource};
use crate::spec::Spec;
use crate::{premade, sys};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::process::{Gid, Uid};

/// Detached mounts for one start of a user-namespaced container.
pub struct Outer {
    /// The tree, to become the container's `/`.
    pub root: OwnedFd,
    /// One entry per custom mount, as [`mounts::open_host_sources`] gives them.
    pub host_sources: Vec<HostSource>,
    /// Fresh file systems by API mount target.
    pub premade: Vec<(&'static str, OwnedFd)>,
    /// The notify socket bound in the premade `/run` (the launcher keeps it).
    pub notify: Option<OwnedFd>,
    /// `--network-namespace-path=`: the namespace the child joins before it clones PID 1.
    pub netns: Option<OwnedFd>,
    /// The OCI runtime: the namespaces config.json names by path, joined before the clone.
    pub joined: Vec<crate::spec_oci::Joined>,
}

impl Outer {
    /// The descriptors the child must keep open.
    pub fn fds(&self) -> Vec<RawFd> {
        let mut v = vec![self.root.as_raw_fd()];
        for s in &self.host_sources {
            match s {
                HostSource::Bind { tree, .. } => v.push(tree.as_raw_fd()),
                HostSource::Overlay { mnt } => v.push(mnt.as_raw_fd()),
                HostSource::None => {}
            }
        }
        v.extend(self.premade.iter().map(|(_, fd)| fd.as_raw_fd()));
        v.extend(self.netns.iter().map(|fd| fd.as_raw_fd()));
        v.extend(self.joined.iter().map(|j| j.fd.as_raw_fd()));
        v
    }
}

/// Makes the mounts of one start; `tree` is the launcher's handle on the container directory;
/// `joined`: the OCI runtime's namespaces named by path.
pub fn make(
    spec: &Spec,
    prep: &Prepared,
    tree: BorrowedFd<'_>,
    ns: &UserNs,
    joined: Vec<crate::spec_oci::Joined>,
) -> Result<Outer> {
    let dir = &spec.directory;
    let root = idmap::clone_tree(tree, true).map_err(|e| e.context(format!("bind {}", dir.display())))?;
    if let Some(userns) = ns.tree_ns()? {
        idmap::apply(root.as_fd(), userns, true, dir)?;
    }
    if spec.read_only {
        sys::mount_setattr(root.as_fd(), sys::MOUNT_ATTR_RDONLY, 0, true)
            .map_err(|e| Error::path("make read-only", dir, e))?;
    }
    let host_sources = mounts::open_host_sources(&spec.custom_mounts, &prep.workdirs, tree)?;
    for (i, (m, src)) in spec.custom_mounts.iter().zip(&host_sources).enumerate() {
        let own = prep.bind_idmaps.get(i).and_then(Option::as_ref);
        idmap_bind(m, src, tree, ns, own).map_err(|e| e.context(mounts::describe(m)))?;
    }

    let netns = spec.net.namespace_path.as_deref().map(crate::network::open_ns).transpose()?;
    if spec.oci.is_some() {
        // The OCI runtime's /dev, /sys and /run are config.json's mounts.
        return Ok(Outer { root, host_sources, premade: Vec::new(), notify: None, netns, joined });
    }
    let (premade, notify) = api_file_systems(spec, prep, ns, netns.as_ref().map(|n| n.as_fd()))?;
    Ok(Outer { root, host_sources, premade, notify: Some(notify), netns, joined })
}

/// `/sys` (without a private network), `/dev` and `/run`, filled and owned by the container's root.
fn api_file_systems(
    spec: &Spec,
    prep: &Prepared,
    ns: &UserNs,
    netns: Option<BorrowedFd<'_>>,
) -> Result<(Vec<(&'static str, OwnedFd)>, OwnedFd)> {
    let dir = &spec.directory;
    let mut premade = Vec::new();
    if !spec.net.private_network {
        // sysfs shows the network namespace of whoever mounts it: the host's, or the one
        // --network-namespace-path names (which the container's user namespace does not own,
        // so it could not mount one there itself).
        let sys = match netns {
            Some(n) => crate::network::within_netns(n, "--network-namespace-path", || premade::fresh("/sys"))??,
            None => premade::fresh("/sys")?,
        };
        premade.push(("/sys", sys));
    }
    let shown = |p: &str| dir.join(p);
    let fill_run = |run: &OwnedFd| -> Result<()> {
        if let Some(plan) = &prep.bind_user {
            crate::bind_user::setup::populate(run.as_fd(), plan)?;
        }
        give_to_root(run.as_fd(), ns.shift).map_err(|e| Error::path("change owner of", &shown("run"), e))
    };
    let made = premade::make(prep, Some(ns.shift), &fill_run)?;
    give_to_root(made.dev.as_fd(), ns.shift).map_err(|e| Error::path("change owner of", &shown("dev"), e))?;
    premade.push(("/dev", made.dev));
    premade.push(("/run", made.run));
    Ok((premade, made.notify))
}

/// Applies a `--bind` option `idmap`, `rootidmap` or `owneridmap`, or the OCI runtime's
/// mount's own mappings (`own`, the launcher's namespace), to the cloned source.
fn idmap_bind(
    m: &CustomMount,
    src: &HostSource,
    tree: BorrowedFd<'_>,
    ns: &UserNs,
    own: Option<&idmap::MappingNs>,
) -> Result<()> {
    let CustomMount::Bind { source, destination, recursive, idmap: kind, .. } = m else {
        return Ok(());
    };
    if let (Some(own), HostSource::Bind { tree: mnt, .. }) = (own, src) {
        return idmap::apply(mnt.as_fd(), own.ns.as_fd(), own.recursive, destination);
    }
    if *kind == BindIdmap::None {
        return Ok(());
    }
    let (MountSource::Host(path), HostSource::Bind { tree: mnt, .. }) = (source, src) else {
        return Err(Error::msg("idmap options need a host source"));
    };
    let owner = || -> Result<(u32, u32)> {
        let st = rustix::fs::fstat(mnt).map_err(|e| Error::path("stat", path, e))?;
        Ok((st.st_uid, st.st_gid))
    };
    let own = idmap::owner_mapping(*kind, owner()?, tree, destination, Some(ns))?;
    let userns = match &own {
        Some(fd) => fd.as_fd(),
        None => ns.mapping_ns()?,
    };
    idmap::apply(mnt.as_fd(), userns, *recursive && *kind != BindIdmap::IdmapTop, path)
}

/// Re-owns every inode of a file system spawnbox just filled (trusted: nothing else can reach
/// it yet) to the container's root, host uid and gid `shift`.
fn give_to_root(mnt: BorrowedFd<'_>, shift: u32) -> rustix::io::Result<()> {
    let dir = rustix::fs::openat(mnt, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let (uid, gid) = (Some(Uid::from_raw(shift)), Some(Gid::from_raw(shift)));
    rustix::fs::chownat(&dir, "", uid, gid, AtFlags::EMPTY_PATH)?;
    let mut subdirs = Vec::new();
    for entry in rustix::fs::Dir::read_from(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        rustix::fs::chownat(&dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
        if entry.file_type() == rustix::fs::FileType::Directory {
            subdirs.push(name.to_owned());
        }
    }
    for name in subdirs {
        let sub = rustix::fs::openat(
            &dir,
            name.as_c_str(),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        give_to_root(sub.as_fd(), shift)?;
    }
    Ok(())
}
