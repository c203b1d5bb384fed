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
    /// O_PATH handles of host overlay layers (`None` for `+` layers, resolved later).
    Overlay { lower: Vec<Option<OwnedFd>>, upper: Option<OwnedFd>, work: Option<OwnedFd> },
}

/// Opens the host sides of `mounts` (run before the switch into the tree).
pub fn open_host_sources(mounts: &[CustomMount], workdirs: &[Option<PathBuf>]) -> Result<Vec<HostSource>> {
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
            CustomMount::Overlay { lower, upper, .. } => {
                let open = |s: &MountSource| -> Result<Option<OwnedFd>> {
                    match s {
                        MountSource::Host(p) => open_dir_path(p).map(Some),
                        MountSource::InRoot(_) => Ok(None),
                    }
                };
                let lower = lower.iter().map(open).collect::<Result<Vec<_>>>()?;
                let upper = upper.as_ref().map(open).transpose()?.flatten();
                let work = match (work, &upper) {
                    (Some(w), Some(_)) => Some(open_dir_path(w)?),
                    _ => None,
                };
                Ok(HostSource::Overlay { lower, upper, work })
            }
            _ => Ok(HostSource::None),
        })
        .collect()
}

fn open_dir_path(p: &Path) -> Result<OwnedFd> {
    rustix::fs::open(p, rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())
        .map_err(|e| Error::path("open", p, e))
}

/// A detached copy (open_tree(OPEN_TREE_CLONE)) of `path` under `dirfd`, read-only if asked.
fn clone_tree(dirfd: BorrowedFd<'_>, path: &Path, recursive: bool, read_only: bool) -> Result<OwnedFd> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    if path.as_os_str().is_empty() {
        flags |= OpenTreeFlags::AT_EMPTY_PATH;
    }
    let tree = open_tree(dirfd, path, flags).map_err(|e| Error::path("clone mount", path, e))?;
    if read_only {
        crate::sys::mount_setattr(tree.as_fd(), attr::RDONLY as u64, 0, recursive)
            .map_err(|e| Error::path("make read-only", path, e))?;
    }
    Ok(tree)
}

/// Everything the plan's steps need while they run in the container.
pub struct Mounter<'a> {
    /// The container's `/`.
    pub root: OwnedFd,
    /// The tree's host path, for messages.
    pub directory: &'a Path,
    pub host_sources: Vec<HostSource>,
}

impl Mounter<'_> {
    /// How a container path reads in messages: as the host sees it before the switch.
    fn shown(&self, path: &Path) -> PathBuf {
        self.directory.join(rootfs::relative(path))
    }

    /// A fresh `fstype` mounted on `target`.
    pub fn mount_fs(&self, target: &str, fstype: &str, options: &str, attrs: u32) -> Result<OwnedFd> {
        let target = Path::new(target);
        let mnt = new_fs(fstype, options, attrs).map_err(|e| e.context(format!("mount {fstype} on {}", self.shown(target).display())))?;
        let at = rootfs::mount_point(self.root.as_fd(), target, NodeKind::Directory, Follow::Never)?;
        self.attach(&mnt, &at, fstype, target)?;
        Ok(mnt)
    }

    fn attach(&self, mnt: &OwnedFd, at: &OwnedFd, what: &str, target: &Path) -> Result<()> {
        move_mount(mnt, "", at, "", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH)
            .map_err(|e| Error::sys(&format!("mount {what} on"), self.shown(target).display(), e))
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
        let src_fd = rootfs::open_path(self.root.as_fd(), &src, Follow::Never).map_err(|e| Error::path("open", &src, e))?;
        let tree = clone_tree(src_fd.as_fd(), Path::new(""), false, true)?;
        self.attach(&tree, &at, "inaccessible node", target)
    }

    /// Runs one custom mount; `host` is what [`open_host_sources`] opened for it.
    pub fn custom(&self, m: &CustomMount, host: &HostSource) -> Result<()> {
        match (m, host) {
            (CustomMount::Bind { source: MountSource::Host(_), destination, .. }, HostSource::Bind { tree, is_dir }) => {
                let kind = if *is_dir { NodeKind::Directory } else { NodeKind::File };
                let at = rootfs::mount_point(self.root.as_fd(), destination, kind, Follow::InRoot)?;
                self.attach(tree, &at, "bind", destination)
            }
            (CustomMount::Bind { source: MountSource::InRoot(src), destination, read_only, recursive, .. }, _) => {
                let src_fd = rootfs::open_path(self.root.as_fd(), src, Follow::InRoot).map_err(|e| Error::path("open", src, e))?;
                let is_dir = rustix::fs::fstat(&src_fd).map_err(|e| Error::path("stat", src, e))?.st_mode & S_IFMT == S_IFDIR;
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
            (CustomMount::Overlay { lower, upper, destination, read_only }, HostSource::Overlay { lower: lfd, upper: ufd, work }) => {
                self.overlay(lower, lfd, upper.as_ref(), ufd.as_ref(), work.as_ref(), destination, *read_only)
            }
            (CustomMount::Inaccessible { destination }, _) => self.mask(destination, Follow::InRoot),
            _ => Err(Error::msg(format!("mount {}: host side was not prepared", m.destination().display()))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn overlay(
        &self,
        lower: &[MountSource],
        lower_fds: &[Option<OwnedFd>],
        upper: Option<&MountSource>,
        upper_fd: Option<&OwnedFd>,
        work_fd: Option<&OwnedFd>,
        destination: &Path,
        read_only: bool,
    ) -> Result<()> {
        // In-tree (`+`) layers are opened now, inside the tree; host layers were opened before.
        let mut keep = Vec::new();
        let mut layer_path = |s: &MountSource, fd: Option<&OwnedFd>| -> Result<String> {
            let raw = match (s, fd) {
                (_, Some(fd)) => fd.as_raw_fd(),
                (MountSource::InRoot(p), None) => {
                    let fd = rootfs::open_path(self.root.as_fd(), p, Follow::InRoot).map_err(|e| Error::path("open", p, e))?;
                    let raw = fd.as_raw_fd();
                    keep.push(fd);
                    raw
                }
                (MountSource::Host(p), None) => return Err(Error::msg(format!("overlay layer {} was not opened", p.display()))),
            };
            Ok(format!("/proc/self/fd/{raw}"))
        };
        // overlayfs stacks lowerdir left (top) to right (bottom); nspawn's arguments go bottom-up.
        let mut lowers = Vec::new();
        for (s, fd) in lower.iter().zip(lower_fds).rev() {
            lowers.push(layer_path(s, fd.as_ref())?);
        }
        let mut options = format!("lowerdir={}", lowers.join(":"));
        if let Some(u) = upper {
            let work = match (u, work_fd) {
                (_, Some(w)) => format!("/proc/self/fd/{}", w.as_raw_fd()),
                (MountSource::InRoot(p), None) => layer_path(&MountSource::InRoot(crate::overlay::workdir_for(p)), None)?,
                (MountSource::Host(p), None) => return Err(Error::msg(format!("overlay workdir for {} missing", p.display()))),
            };
            options.push_str(&format!(",upperdir={},workdir={work}", layer_path(u, upper_fd)?));
        }
        let attrs = if read_only { attr::RDONLY } else { 0 };
        let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| Error::sys("open file system", "overlay", e))?;
        for opt in options.split(',') {
            if let Some((k, v)) = opt.split_once('=') {
                fsconfig_set_string(&fs, k, v).map_err(|e| Error::sys("overlay option", k, e).context(format!("mount overlay on {}", destination.display())))?;
            }
        }
        fsconfig_create(&fs).map_err(|e| Error::path("mount overlay on", destination, e))?;
        let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::from_bits_retain(attrs))
            .map_err(|e| Error::path("mount overlay on", destination, e))?;
        drop(keep);
        let at = rootfs::mount_point(self.root.as_fd(), destination, NodeKind::Directory, Follow::InRoot)?;
        self.attach(&mnt, &at, "overlay", destination)
    }
}

/// fsopen + fsconfig + fsmount: a detached new file system.
pub fn new_fs(fstype: &str, options: &str, attrs: u32) -> Result<OwnedFd> {
    let fs = fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| Error::sys("open file system", fstype, e))?;
    for opt in options.split(',').filter(|o| !o.is_empty()) {
        let r = match opt.split_once('=') {
            Some((k, v)) => fsconfig_set_string(&fs, k, v),
            None => fsconfig_set_flag(&fs, opt),
        };
        r.map_err(|e| Error::sys(&format!("{fstype} option"), opt, e))?;
    }
    fsconfig_create(&fs).map_err(|e| Error::sys("create", fstype, e))?;
    fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::from_bits_retain(attrs)).map_err(|e| Error::sys("mount", fstype, e))
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
pub fn mount_all(m: &Mounter<'_>, steps: &[Step], hooks: &mut dyn FnMut(&Step, &Mounter<'_>) -> Result<()>) -> Result<()> {
    let mut custom = 0;
    for step in steps {
        if log::log_enabled!(log::Level::Debug) {
            log::debug!("mount step: {}", describe_step(step));
        }
        match step {
            Step::Fs { target, fstype, options, attrs } => {
                m.mount_fs(target, fstype, options, *attrs)?;
            }
            Step::ReadOnlySelf { target } => m.read_only_self(Path::new(target))?,
            Step::Mask { target } => m.mask(Path::new(target), Follow::Never)?,
            Step::Custom(cm) => {
                let host = m.host_sources.get(custom).unwrap_or(&HostSource::None);
                m.custom(cm, host).map_err(|e| e.context(describe(cm)))?;
                custom += 1;
            }
            Step::RunHost | Step::DevNodes | Step::Console => hooks(step, m)?,
        }
    }
    Ok(())
}

fn describe_step(step: &Step) -> String {
    match step {
        Step::Fs { target, fstype, options, .. } => format!("{fstype} on {target} ({options})"),
        Step::ReadOnlySelf { target } => format!("read-only {target}"),
        Step::Mask { target } => format!("mask {target}"),
        Step::RunHost => "/run/host".into(),
        Step::DevNodes => "/dev nodes".into(),
        Step::Console => "console".into(),
        Step::Custom(m) => describe(m),
    }
}

/// How a custom mount is named in errors (`--bind=SRC:DST`).
pub fn describe(m: &CustomMount) -> String {
    let src = |s: &MountSource| match s {
        MountSource::Host(p) => p.display().to_string(),
        MountSource::InRoot(p) => format!("+{}", p.display()),
    };
    match m {
        CustomMount::Bind { source, destination, read_only, .. } => {
            format!("--bind{}={}:{}", if *read_only { "-ro" } else { "" }, src(source), destination.display())
        }
        CustomMount::Tmpfs { destination, .. } => format!("--tmpfs={}", destination.display()),
        CustomMount::Overlay { destination, read_only, .. } => {
            format!("--overlay{}=...:{}", if *read_only { "-ro" } else { "" }, destination.display())
        }
        CustomMount::Inaccessible { destination } => format!("--inaccessible={}", destination.display()),
    }
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
