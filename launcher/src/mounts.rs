//! Executes the mount plan inside the container (after the switch into the tree): every
//! target is resolved inside the tree and every mount is made by fd (fsopen/fsmount,
//! open_tree, move_mount), never by a path string the tree could redirect.

use crate::error::{Error, Result};
use crate::mount_plan::{attr, Step};
use crate::rootfs::{self, libc_mode::*, Follow, NodeKind};
use crate::settings::{CustomMount, MountSource};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::mount::{
    fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, move_mount, open_tree, FsMountFlags,
    FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags,
};
use std::path::{Path, PathBuf};

/// Host-side objects a custom mount needs, opened before the switch into the tree (where the
/// host is still reachable), one entry per custom mount of the spec.
pub enum HostSource {
    /// Nothing from the host (tmpfs, inaccessible, or in-tree `+` sources).
    None,
    /// A detached copy of the bind source, already read-only if asked.
    Bind { tree: OwnedFd, is_dir: bool },
    /// The overlay itself, detached: built before the switch, while every layer (host or `+`
    /// in the tree) is a mount of this namespace, as overlayfs requires.
    Overlay { mnt: OwnedFd },
}

/// Opens the host sides of `mounts` (run before the switch into the tree); `root` is the bound
/// tree, against which `+` paths resolve (inside it, never following a symlink out).
pub fn open_host_sources(
    mounts: &[CustomMount],
    workdirs: &[Option<PathBuf>],
    root: BorrowedFd<'_>,
) -> Result<Vec<HostSource>> {
    mounts
        .iter()
        .zip(workdirs)
        .map(|(m, work)| match m {
            CustomMount::Bind { source: MountSource::Host(src), read_only, recursive, destination, .. } => {
                let ctx = || format!("--bind={}:{}", src.display(), destination.display());
                let st = rustix::fs::stat(src).map_err(|e| Error::path("stat", src, e).context(ctx()))?;
                let tree = clone_tree(rustix::fs::CWD, src, *recursive, *read_only).map_err(|e| e.context(ctx()))?;
                Ok(HostSource::Bind { tree, is_dir: st.st_mode & S_IFMT == S_IFDIR })
            }
            CustomMount::Overlay { lower, upper, destination, read_only } => {
                let mnt = build_overlay(root, lower, upper.as_ref(), work.as_deref(), *read_only)
                    .map_err(|e| e.context(format!("mount overlay on {}", destination.display())))?;
                Ok(HostSource::Overlay { mnt })
            }
            _ => Ok(HostSource::None),
        })
        .collect()
}

/// A detached overlayfs: layers are opened first (host paths as given, `+` paths inside the
/// tree) and handed to the kernel as `/proc/self/fd/N`, so no path is looked up twice.
fn build_overlay(
    root: BorrowedFd<'_>,
    lower: &[MountSource],
    upper: Option<&MountSource>,
    work: Option<&Path>,
    read_only: bool,
) -> Result<OwnedFd> {
    let mut fds = Vec::new();
    let mut open = |s: &MountSource| -> Result<String> {
        let fd = match s {
            MountSource::Host(p) => open_dir_path(p)?,
            MountSource::InRoot(p) => {
                rootfs::open_path(root, p, Follow::InRoot).map_err(|e| Error::path("open", p, e))?
            }
        };
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        fds.push(fd);
        Ok(path)
    };
    // overlayfs stacks lowerdir left (top) to right (bottom); nspawn's arguments go bottom-up.
    let mut lowers = Vec::new();
    for l in lower.iter().rev() {
        lowers.push(open(l)?);
    }
    let mut options = vec![("lowerdir", lowers.join(":"))];
    if let Some(u) = upper {
        let work = match (u, work) {
            (_, Some(w)) => MountSource::Host(w.to_path_buf()),
            (MountSource::InRoot(p), None) => MountSource::InRoot(crate::overlay::workdir_for(p)),
            (MountSource::Host(p), None) => return Err(Error::msg(format!("no work directory for {}", p.display()))),
        };
        options.push(("upperdir", open(u)?));
        options.push(("workdir", open(&work)?));
    }
    let fs =
        fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| Error::sys("open file system", "overlay", e))?;
    options.insert(0, ("source", "overlay".to_string()));
    for (k, v) in &options {
        fsconfig_set_string(&fs, *k, v.as_str()).map_err(|e| Error::sys("overlay option", k, e))?;
    }
    fsconfig_create(&fs).map_err(|e| Error::sys("create", "overlay", e))?;
    let attrs = if read_only { attr::RDONLY } else { 0 };
    fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::from_bits_retain(attrs))
        .map_err(|e| Error::sys("mount", "overlay", e))
}

fn open_dir_path(p: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        p,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Error::path("open", p, e))
}

/// A detached copy (open_tree(OPEN_TREE_CLONE)) of `path` under `dirfd`, a slave (mounts made
/// below it never reach the source), read-only if asked.
pub fn clone_tree(dirfd: BorrowedFd<'_>, path: &Path, recursive: bool, read_only: bool) -> Result<OwnedFd> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    if path.as_os_str().is_empty() {
        flags |= OpenTreeFlags::AT_EMPTY_PATH;
    }
    let tree = open_tree(dirfd, path, flags).map_err(|e| Error::path("clone mount", path, e))?;
    // One call for both (the kernel checks all before it changes any).
    let (set, what) = if read_only { (attr::RDONLY as u64, "make read-only") } else { (0, "make slave") };
    crate::sys::mount_make_slave(tree.as_fd(), set, recursive).map_err(|e| Error::path(what, path, e))?;
    Ok(tree)
}

/// Everything the plan's steps need while they run in the container.
pub struct Mounter<'a> {
    /// The container's `/`.
    pub root: OwnedFd,
    /// The tree's host path, for messages.
    pub directory: &'a Path,
    pub host_sources: Vec<HostSource>,
    /// File systems made before the switch (by the launcher, or by the child while the host's
    /// procfs and sysfs were still visible), by API mount target.
    pub premade: Vec<(&'static str, OwnedFd)>,
}

impl Mounter<'_> {
    /// Whether `target`'s file system was made before the switch.
    pub fn is_premade(&self, target: &str) -> bool {
        self.premade.iter().any(|(t, _)| *t == target)
    }

    /// How a container path reads in messages: as the host sees it before the switch.
    pub(crate) fn shown(&self, path: &Path) -> PathBuf {
        self.directory.join(rootfs::relative(path))
    }

    /// A fresh `fstype` mounted on `target`.
    pub fn mount_fs(&self, target: &str, fstype: &str, options: &str, attrs: u32) -> Result<()> {
        if let Some((_, mnt)) = self.premade.iter().find(|(t, _)| *t == target) {
            let target = Path::new(target);
            let at = rootfs::mount_point(self.root.as_fd(), target, NodeKind::Directory, Follow::Never)?;
            return self.attach(mnt, &at, fstype, target);
        }
        let target = Path::new(target);
        let mnt = new_fs(fstype, options, attrs)
            .map_err(|e| e.context(format!("mount {fstype} on {}", self.shown(target).display())))?;
        let at = rootfs::mount_point(self.root.as_fd(), target, NodeKind::Directory, Follow::Never)?;
        self.attach(&mnt, &at, fstype, target)
    }

    pub(crate) fn attach(&self, mnt: &OwnedFd, at: &OwnedFd, what: &str, target: &Path) -> Result<()> {
        move_mount(mnt, "", at, "", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH)
            .map_err(|e| Error::sys(&format!("mount {what} on"), self.shown(target).display(), e))
    }

    /// Attaches the detached mount `mnt` on `target` (a real directory, made 0700 if missing).
    pub fn attach_detached(&self, mnt: &OwnedFd, target: &Path, what: &str) -> Result<()> {
        let at = rootfs::mount_point(self.root.as_fd(), target, NodeKind::Directory, Follow::Never)?;
        self.attach(mnt, &at, what, target)
    }

    /// `target` bound onto itself read-only (recursively); a missing target is skipped.
    pub fn read_only_self(&self, target: &Path) -> Result<()> {
        let at = match rootfs::open_path(self.root.as_fd(), target, Follow::Never) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(Error::path("open", &self.shown(target), e)),
        };
        let tree = clone_tree(at.as_fd(), Path::new(""), true, true)?;
        self.attach(&tree, &at, "read-only bind", target)
    }

    /// `target` bound onto itself writable (under a read-only parent mount).
    pub fn writable_self(&self, target: &Path) -> Result<()> {
        let at = rootfs::open_path(self.root.as_fd(), target, Follow::Never)
            .map_err(|e| Error::path("open", &self.shown(target), e))?;
        let tree = clone_tree(at.as_fd(), Path::new(""), true, false)?;
        crate::sys::mount_setattr(tree.as_fd(), 0, attr::RDONLY as u64, true)
            .map_err(|e| Error::path("make writable", target, e))?;
        self.attach(&tree, &at, "writable bind", target)
    }

    /// Over-mounts `target` with the inaccessible inode of its type; a missing target is skipped.
    pub fn mask(&self, target: &Path, follow: Follow) -> Result<()> {
        let at = match rootfs::open_path(self.root.as_fd(), target, follow) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if follow == Follow::Never => return Ok(()),
            Err(e) => return Err(Error::path("open", &self.shown(target), e)),
        };
        let mode = rustix::fs::fstat(&at).map_err(|e| Error::path("stat", target, e))?.st_mode;
        let name = match mode & S_IFMT {
            S_IFDIR => "dir",
            S_IFREG => "reg",
            S_IFIFO => "fifo",
            S_IFSOCK => "sock",
            S_IFCHR => "chr",
            S_IFBLK => "blk",
            _ => return Err(Error::msg(format!("cannot mask {}: unknown file type", target.display()))),
        };
        let src = PathBuf::from(crate::run_host::INACCESSIBLE).join(name);
        let src_fd =
            rootfs::open_path(self.root.as_fd(), &src, Follow::Never).map_err(|e| Error::path("open", &src, e))?;
        let tree = clone_tree(src_fd.as_fd(), Path::new(""), false, true)?;
        self.attach(&tree, &at, "inaccessible node", target)
    }

    /// Runs one custom mount; `host` is what [`open_host_sources`] opened for it.
    pub fn custom(&self, m: &CustomMount, host: &HostSource) -> Result<()> {
        match (m, host) {
            (
                CustomMount::Bind { source: MountSource::Host(_), destination, .. },
                HostSource::Bind { tree, is_dir },
            ) => {
                let kind = if *is_dir { NodeKind::Directory } else { NodeKind::File };
                let at = rootfs::mount_point(self.root.as_fd(), destination, kind, Follow::InRoot)?;
                self.attach(tree, &at, "bind", destination)
            }
            (CustomMount::Bind { source: MountSource::InRoot(src), destination, read_only, recursive, .. }, _) => {
                let src_fd = rootfs::open_path(self.root.as_fd(), src, Follow::InRoot)
                    .map_err(|e| Error::path("open", src, e))?;
                let is_dir =
                    rustix::fs::fstat(&src_fd).map_err(|e| Error::path("stat", src, e))?.st_mode & S_IFMT == S_IFDIR;
                let tree = clone_tree(src_fd.as_fd(), Path::new(""), *recursive, *read_only)?;
                let kind = if is_dir { NodeKind::Directory } else { NodeKind::File };
                let at = rootfs::mount_point(self.root.as_fd(), destination, kind, Follow::InRoot)?;
                self.attach(&tree, &at, "bind", destination)
            }
            (CustomMount::Tmpfs { destination, options }, _) => {
                let (attrs, fs_opts) = tmpfs_options(options)?;
                let mnt = new_fs("tmpfs", &fs_opts, attrs)?;
                let at = rootfs::mount_point(self.root.as_fd(), destination, NodeKind::Directory, Follow::InRoot)?;
                self.attach(&mnt, &at, "tmpfs", destination)
            }
            (CustomMount::Overlay { destination, .. }, HostSource::Overlay { mnt }) => {
                let at = rootfs::mount_point(self.root.as_fd(), destination, NodeKind::Directory, Follow::InRoot)?;
                self.attach(mnt, &at, "overlay", destination)
            }
            (CustomMount::Inaccessible { destination }, _) => self.mask(destination, Follow::InRoot),
            _ => Err(Error::msg(format!("mount {}: host side was not prepared", m.destination().display()))),
        }
    }
}

/// fsopen + fsconfig + fsmount: a detached new file system.
pub fn new_fs(fstype: &str, options: &str, attrs: u32) -> Result<OwnedFd> {
    let fs = fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| Error::sys("open file system", fstype, e))?;
    // The source column of mountinfo names the file system, as mount(8) and nspawn show it.
    fsconfig_set_string(&fs, "source", fstype).map_err(|e| Error::sys("set source of", fstype, e))?;
    for opt in options.split(',').filter(|o| !o.is_empty()) {
        let r = match opt.split_once('=') {
            Some((k, v)) => fsconfig_set_string(&fs, k, v),
            None => fsconfig_set_flag(&fs, opt),
        };
        r.map_err(|e| Error::sys(&format!("{fstype} option"), opt, e))?;
    }
    fsconfig_create(&fs).map_err(|e| Error::sys("create", fstype, e))?;
    fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::from_bits_retain(attrs))
        .map_err(|e| Error::sys("mount", fstype, e))
}

/// Splits `--tmpfs` options into mount attributes and file-system options; nspawn's defaults
/// are `mode=0755`, nodev and strictatime.
pub fn tmpfs_options(options: &str) -> Result<(u32, String)> {
    let mut attrs = attr::NODEV | attr::STRICTATIME;
    let mut fs = vec!["mode=0755".to_string()];
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => attrs |= attr::RDONLY,
            "rw" => attrs &= !attr::RDONLY,
            "nosuid" => attrs |= attr::NOSUID,
            "suid" => attrs &= !attr::NOSUID,
            "nodev" => attrs |= attr::NODEV,
            "dev" => attrs &= !attr::NODEV,
            "noexec" => attrs |= attr::NOEXEC,
            "exec" => attrs &= !attr::NOEXEC,
            "strictatime" => attrs |= attr::STRICTATIME,
            "relatime" => attrs &= !attr::STRICTATIME,
            "noatime" => attrs = (attrs & !attr::STRICTATIME) | 0x10,
            o if o.starts_with("mode=") => {
                fs.retain(|f| !f.starts_with("mode="));
                fs.push(o.to_string());
            }
            o => fs.push(o.to_string()),
        }
    }
    Ok((attrs, fs.join(",")))
}

/// Runs the whole plan (the API file systems, `/run/host`, `/dev`, the console, custom mounts).
pub fn mount_all(
    m: &Mounter<'_>,
    steps: &[Step],
    hooks: &mut dyn FnMut(&Step, &Mounter<'_>) -> Result<()>,
) -> Result<()> {
    for step in steps {
        if log::log_enabled!(log::Level::Debug) {
            log::debug!("mount step: {}", describe_step(step));
        }
        match step {
            Step::Fs { target, fstype, options, attrs } => {
                m.mount_fs(target, fstype, options, *attrs)?;
            }
            Step::ReadOnlySelf { target } => m.read_only_self(Path::new(target))?,
            Step::WritableSelf { target } => m.writable_self(Path::new(target))?,
            Step::Mask { target } => m.mask(Path::new(target), Follow::Never)?,
            Step::Custom(i, cm) => {
                let host = m.host_sources.get(*i).unwrap_or(&HostSource::None);
                m.custom(cm, host).map_err(|e| e.context(describe(cm)))?;
            }
            Step::RunHost | Step::DevNodes | Step::Console | Step::CgroupInitLeaf { .. } => hooks(step, m)?,
            // The OCI runtime's steps (`mounts_oci.rs`, through the caller).
            Step::Oci(_) => hooks(step, m)?,
        }
    }
    Ok(())
}

fn describe_step(step: &Step) -> String {
    match step {
        Step::Fs { target, fstype, options, .. } => format!("{fstype} on {target} ({options})"),
        Step::ReadOnlySelf { target } => format!("read-only {target}"),
        Step::WritableSelf { target } => format!("writable {target}"),
        Step::Mask { target } => format!("mask {target}"),
        Step::RunHost => "/run/host".into(),
        Step::DevNodes => "/dev nodes".into(),
        Step::Console => "console".into(),
        Step::CgroupInitLeaf { .. } => "/sys/fs/cgroup/init.scope".into(),
        Step::Custom(_, m) => describe(m),
        s => s.to_string(),
    }
}

/// How a custom mount is named in errors (`--bind=SRC:DST`).
pub fn describe(m: &CustomMount) -> String {
    m.describe()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_defaults_and_overrides() {
        assert_eq!(tmpfs_options("").unwrap(), (attr::NODEV | attr::STRICTATIME, "mode=0755".into()));
        let (a, o) = tmpfs_options("rw,nosuid,noexec,mode=1777,size=10M").unwrap();
        assert_eq!(a, attr::NODEV | attr::STRICTATIME | attr::NOSUID | attr::NOEXEC);
        assert_eq!(o, "mode=1777,size=10M");
        assert_eq!(tmpfs_options("ro,dev").unwrap().0, attr::RDONLY | attr::STRICTATIME);
    }

    #[test]
    fn describe_names_the_option() {
        let b = CustomMount::Bind {
            source: MountSource::InRoot("/srv".into()),
            destination: "/mnt".into(),
            read_only: true,
            recursive: true,
            idmap: crate::settings::BindIdmap::None,
        };
        assert_eq!(describe(&b), "--bind-ro=+/srv:/mnt");
    }
}
