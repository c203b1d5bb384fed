//! The OCI runtime's mount steps (`OciStep`, planned by `mount_plan_oci.rs`) carried out in the
//! container after the switch into its root: every path resolved inside it, every mount made by
//! descriptor, as `mounts.rs` does for nspawn's steps.

use crate::error::{Error, Result};
use crate::mount_plan::attr;
use crate::mount_plan_oci::{CgroupV1, OciStep};
use crate::mounts::{clone_tree, new_fs, Mounter};
use crate::rootfs::{self, libc_mode::*, Follow, NodeKind};
use crate::runtime_spec::LinuxDevice;
use rustix::fd::AsFd;
use rustix::fs::{FileType, Mode};
use rustix::io::Errno;
use std::path::Path;

/// Carries out one of the OCI runtime's steps (`mounts::mount_all` hands them over through its
/// caller, `child::mount_steps`).
pub fn step(m: &Mounter<'_>, step: &OciStep) -> Result<()> {
    match step {
        OciStep::Fs { target, fstype, data, attrs } => fresh(m, target, fstype, data, *attrs),
        OciStep::CgroupV1 { target, attrs, hierarchies } => cgroup_v1(m, target, *attrs, hierarchies),
        OciStep::Attrs { target, attrs } => set_attrs(m, target, *attrs),
        OciStep::Devices(list) => devices(m, list),
        OciStep::Sysctl(values) => sysctl(m, values),
        OciStep::WorkingDirectory { target } => {
            rootfs::mount_point(m.root.as_fd(), target, NodeKind::Directory, Follow::InRoot).map(drop)
        }
        OciStep::Mask { target } => mask(m, target),
        OciStep::ReadOnly { target } => m.read_only_self(target),
        OciStep::RootReadOnly => root_read_only(m),
        OciStep::Propagation { target, kind } => propagation(m, target, kind),
    }
}

/// A fresh `fstype` with options `data` on `target` (made, with its parents, if missing).
pub fn fresh(m: &Mounter<'_>, target: &Path, fstype: &str, data: &str, attrs: u32) -> Result<()> {
    let mnt = new_fs(fstype, data, attrs)
        .map_err(|e| e.context(format!("mount {fstype} on {}", m.shown(target).display())))?;
    let at = rootfs::mount_point(m.root.as_fd(), target, NodeKind::Directory, Follow::InRoot)?;
    m.attach(&mnt, &at, fstype, target)
}

/// A `cgroup` mount on a host with v1 controllers, as runc makes it: a tmpfs (mode 755, nosuid,
/// nodev, noexec) on `target`; in it, per hierarchy, its directory with the container's
/// directory of the hierarchy as a mount's root (the hierarchy mounted fresh, the directory's
/// clone taking its place), and a symlink per controller of a co-mounted one (`cpu` →
/// `cpu,cpuacct`); the tmpfs read-only last when the mount is.
pub fn cgroup_v1(m: &Mounter<'_>, target: &Path, attrs: u32, hierarchies: &[CgroupV1]) -> Result<()> {
    let fixed = attr::NOSUID | attr::NODEV | attr::NOEXEC;
    let tmpfs = new_fs("tmpfs", "mode=755", (attrs & !attr::RDONLY) | fixed)
        .map_err(|e| e.context(format!("mount tmpfs on {}", m.shown(target).display())))?;
    let at = rootfs::mount_point(m.root.as_fd(), target, NodeKind::Directory, Follow::InRoot)?;
    m.attach(&tmpfs, &at, "tmpfs", target)?;
    drop(at);
    let top = rootfs::open_path(m.root.as_fd(), target, Follow::InRoot)
        .map_err(|e| Error::path("open", &m.shown(target), e))?;
    for h in hierarchies {
        let t = target.join(&h.dir);
        let mnt = new_fs("cgroup", &h.name, attrs)
            .map_err(|e| e.context(format!("mount cgroup {} on {}", h.name, m.shown(&t).display())))?;
        // Made in the tmpfs just mounted: nothing of the image's lies on the way.
        let at = rootfs::mount_point(m.root.as_fd(), &t, NodeKind::Directory, Follow::Never)?;
        m.attach(&mnt, &at, "cgroup", &t)?;
        let rel = h.path.strip_prefix("/").unwrap_or(&h.path);
        if !rel.as_os_str().is_empty() {
            // The hierarchy's whole tree stays only long enough to clone the container's
            // directory (outside its own cgroup namespace, where that is not the root).
            let root = rootfs::open_path(m.root.as_fd(), &t, Follow::Never)
                .map_err(|e| Error::path("open", &m.shown(&t), e))?;
            let dir =
                clone_tree(root.as_fd(), rel, false, false).map_err(|e| e.context(format!("cgroup {}", h.name)))?;
            drop(root);
            rustix::mount::unmount(&t, rustix::mount::UnmountFlags::DETACH)
                .map_err(|e| Error::path("unmount", &m.shown(&t), e))?;
            m.attach(&dir, &at, "cgroup", &t)?;
        }
        for c in h.dir.split(',').filter(|c| *c != h.dir) {
            match rustix::fs::symlinkat(h.dir.as_str(), &top, c) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(Error::path("create symlink", &m.shown(&target.join(c)), e)),
            }
        }
    }
    if attrs & attr::RDONLY != 0 {
        crate::sys::mount_setattr(top.as_fd(), attr::RDONLY as u64, 0, false)
            .map_err(|e| Error::path("make read-only", &m.shown(target), e))?;
    }
    Ok(())
}

/// Attributes (nosuid, nodev, noexec, atime) on the mount just made on `target`.
pub fn set_attrs(m: &Mounter<'_>, target: &Path, attrs: u32) -> Result<()> {
    let at = rootfs::open_path(m.root.as_fd(), target, Follow::InRoot)
        .map_err(|e| Error::path("open", &m.shown(target), e))?;
    crate::sys::mount_setattr(at.as_fd(), attrs as u64, 0, false)
        .map_err(|e| Error::path("set mount attributes of", &m.shown(target), e))
}

/// `linux.maskedPaths`: a directory covered by an empty read-only tmpfs, anything else by the
/// container's `/dev/null` (runc's way); a missing path is skipped.
pub fn mask(m: &Mounter<'_>, target: &Path) -> Result<()> {
    let at = match rootfs::open_path(m.root.as_fd(), target, Follow::InRoot) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(Error::path("open", &m.shown(target), e)),
    };
    let mode = rustix::fs::fstat(&at).map_err(|e| Error::path("stat", &m.shown(target), e))?.st_mode;
    if mode & S_IFMT == S_IFDIR {
        let mnt = new_fs("tmpfs", "size=0", attr::RDONLY)?;
        return m.attach(&mnt, &at, "masking tmpfs", target);
    }
    let null = rootfs::open_path(m.root.as_fd(), Path::new("/dev/null"), Follow::Never)
        .map_err(|e| Error::path("open", Path::new("/dev/null"), e).context(format!("mask {}", target.display())))?;
    let tree = clone_tree(null.as_fd(), Path::new(""), false, false)?;
    m.attach(&tree, &at, "/dev/null", target)
}

/// `root.readonly`: the root mount read-only (its submounts keep their own attributes).
pub fn root_read_only(m: &Mounter<'_>) -> Result<()> {
    crate::sys::mount_setattr(m.root.as_fd(), attr::RDONLY as u64, 0, false)
        .map_err(|e| Error::path("make read-only", Path::new("/"), e))
}

/// `linux.devices`: each node made (parents too) with its type, numbers, mode and owner.
pub fn devices(m: &Mounter<'_>, devices: &[LinuxDevice]) -> Result<()> {
    for d in devices {
        let path = Path::new(&d.path);
        let kind = match d.kind {
            'c' | 'u' => FileType::CharacterDevice,
            'b' => FileType::BlockDevice,
            'p' => FileType::Fifo,
            k => return Err(Error::msg(format!("linux.devices: {}: unknown type {k:?}", d.path))),
        };
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(Error::msg(format!("linux.devices: {}: not a file path", d.path)));
        };
        // O_PATH: enough for the *at calls below.
        let dir = rootfs::mount_point(m.root.as_fd(), parent, NodeKind::Directory, Follow::InRoot)?;
        let mode = Mode::from_raw_mode(d.file_mode.unwrap_or(0o666) & 0o7777);
        let dev = crate::sys::makedev(d.major as u32, d.minor as u32);
        match rustix::fs::mknodat(&dir, name, kind, mode, dev) {
            Ok(()) => {}
            // A node the mounts already made (runc replaces it; the same numbers are kept).
            // Anything else in the way is an error (config-linux.md "Devices": MUST), never
            // removed: it is the image's file.
            Err(Errno::EXIST) => {
                let st = rustix::fs::statat(&dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| Error::path("stat", &m.shown(path), e))?;
                let same = FileType::from_raw_mode(st.st_mode) == kind && (kind == FileType::Fifo || st.st_rdev == dev);
                if !same {
                    return Err(Error::msg(format!("linux.devices: {}: exists and is not that device", d.path)));
                }
                rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty())
                    .map_err(|e| Error::path("remove", &m.shown(path), e))?;
                rustix::fs::mknodat(&dir, name, kind, mode, dev)
                    .map_err(|e| Error::path("create device node", &m.shown(path), e))?;
            }
            Err(e) => return Err(Error::path("create device node", &m.shown(path), e)),
        }
        // mknod's mode goes through the umask: set it as asked.
        rustix::fs::chmodat(&dir, name, mode, rustix::fs::AtFlags::empty())
            .map_err(|e| Error::path("change mode of", &m.shown(path), e))?;
        if d.uid.is_some() || d.gid.is_some() {
            rustix::fs::chownat(
                &dir,
                name,
                d.uid.map(rustix::fs::Uid::from_raw),
                d.gid.map(rustix::fs::Gid::from_raw),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| Error::path("change owner of", &m.shown(path), e))?;
        }
    }
    Ok(())
}

/// `linux.sysctl`: `net.ipv4.ip_forward=1` written to the container's
/// `/proc/sys/net/ipv4/ip_forward` (a name with `/` or `..` is refused: it stays below
/// `/proc/sys`).
pub fn sysctl(m: &Mounter<'_>, values: &[(String, String)]) -> Result<()> {
    for (key, value) in values {
        let rel = key.replace('.', "/");
        if key.is_empty() || key.contains('/') || rel.split('/').any(|c| c.is_empty()) {
            return Err(Error::msg(format!("linux.sysctl: invalid name {key:?}")));
        }
        let path = Path::new("/proc/sys").join(&rel);
        let fd = rootfs::open_in_root(
            m.root.as_fd(),
            &path,
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::TRUNC,
            Follow::Never,
        )
        .map_err(|e| Error::path("open", &path, e).context(format!("linux.sysctl: {key}")))?;
        crate::run_host::write_all(fd.as_fd(), value.as_bytes())
            .map_err(|e| Error::path("write", &path, e).context(format!("linux.sysctl: {key}")))?;
    }
    Ok(())
}

/// Propagation `kind` (`shared`, `rslave`, `private`, `runbindable`, ...) of the mount on
/// `target` (mount_setattr on its descriptor).
pub fn propagation(m: &Mounter<'_>, target: &Path, kind: &str) -> Result<()> {
    let (recursive, base) = match kind.strip_prefix('r') {
        Some(b @ ("shared" | "slave" | "private" | "unbindable")) => (true, b),
        _ => (false, kind),
    };
    let flag: u64 = match base {
        "shared" => libc::MS_SHARED,
        "slave" => libc::MS_SLAVE,
        "private" => libc::MS_PRIVATE,
        "unbindable" => libc::MS_UNBINDABLE,
        _ => return Err(Error::msg(format!("{}: unknown propagation {kind:?}", target.display()))),
    } as u64;
    let at = rootfs::open_path(m.root.as_fd(), target, Follow::InRoot)
        .map_err(|e| Error::path("open", &m.shown(target), e))?;
    crate::sys::mount_set_propagation(at.as_fd(), flag, recursive)
        .map_err(|e| Error::path(&format!("make {kind}"), &m.shown(target), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(path: &str) -> LinuxDevice {
        LinuxDevice { path: path.into(), kind: 'p', major: 0, minor: 0, file_mode: Some(0o640), uid: None, gid: None }
    }

    #[test]
    fn a_device_over_another_file_is_an_error_and_the_file_stays() {
        let dir = std::env::temp_dir().join(format!("spawnbox-mounts-oci-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        let root =
            rustix::fs::open(&dir, rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY, Mode::empty()).unwrap();
        let m = Mounter { root, directory: &dir, host_sources: Vec::new(), premade: Vec::new() };
        let err = devices(&m, &[fifo("/etc/passwd")]).unwrap_err();
        assert_eq!(err.to_string(), "linux.devices: /etc/passwd: exists and is not that device");
        assert_eq!(std::fs::read_to_string(dir.join("etc/passwd")).unwrap(), "root:x:0:0::/:/bin/sh\n");
        // The same node again (as a mount made it) is replaced, with the mode asked for.
        devices(&m, &[fifo("/dev/f")]).unwrap();
        devices(&m, &[fifo("/dev/f")]).unwrap();
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let md = std::fs::symlink_metadata(dir.join("dev/f")).unwrap();
        assert!(md.file_type().is_fifo());
        assert_eq!(md.permissions().mode() & 0o7777, 0o640);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
