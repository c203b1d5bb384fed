//! The container's root when the tree must stay as it is: an overlayfs of the tree with a tmpfs
//! upper layer (`-x` without a btrfs snapshot, `--volatile=overlay`), or a tmpfs holding the
//! tree's `/usr` (`--volatile=yes`). The child that switches into the tree makes it in its own
//! mount namespace, stacked on the tree's mount: nothing is mounted on the host, and it all
//! vanishes with the namespace (also when the launcher is killed). `--volatile=state` is a
//! read-only tree plus a mount-plan step (`mount_plan.rs`).

use crate::error::{Error, Result};
use crate::mount_plan::attr;
use crate::mounts::{clone_tree, new_fs};
use crate::rootfs::{self, Follow};
use crate::settings::{CustomMount, MountSource};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags, StatxAttributes, StatxFlags};
use rustix::io::Errno;
use rustix::mount::{
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, move_mount, FsMountFlags, FsOpenFlags, MountAttrFlags,
    MoveMountFlags,
};
use std::path::{Path, PathBuf};

/// nspawn's tmpfs for a volatile root, its upper layer and `/var` (`TMPFS_LIMITS_ROOTFS`).
pub use crate::mount_plan::VOLATILE_TMPFS_OPTIONS as TMPFS_OPTIONS;

/// The top directories whose mounts the container replaces with its own API file systems: the
/// tree's mounts on or below them are left out of an overlay root.
pub fn replaced(tmpfs_tmp: bool) -> &'static [&'static str] {
    const ALL: [&str; 5] = ["proc", "sys", "dev", "run", "tmp"];
    if tmpfs_tmp {
        &ALL
    } else {
        &ALL[..4]
    }
}

/// What the launcher refuses before anything is made: `--volatile=yes` on a tree that has not
/// merged `/bin` into `/usr` (its root gets only `/usr`), and, whenever the tree must stay as it
/// is, `--overlay` upper directories inside it (`+PATH`: their work directories and writes
/// would land in the tree).
/// `OverlayRoot` or `TmpfsRoot` on the bound tree `tree`: the new root (for the container
/// child and the user namespace's outer child alike).
pub fn root(spec: &crate::spec::Spec, op: &crate::setup::Op, tree: BorrowedFd<'_>) -> Result<OwnedFd> {
    use crate::setup::Op;
    let dir = &spec.directory;
    match op {
        Op::OverlayRoot { read_only } => overlay_root(tree, dir, *read_only, replaced(spec.tmpfs_tmp)),
        Op::TmpfsRoot => tmpfs_root(tree, dir),
        _ => Err(crate::setup::out_of_order(op)),
    }
}

pub fn check(tree: BorrowedFd<'_>, dir: &Path, root: crate::setup::Root, mounts: &[CustomMount]) -> Result<()> {
    if root == crate::setup::Root::Tree {
        return Ok(());
    }
    if let Some(m) =
        mounts.iter().find(|m| matches!(m, CustomMount::Overlay { upper: Some(MountSource::InRoot(_)), .. }))
    {
        return Err(Error::msg(format!(
            "{}: an upper directory inside the tree cannot be used with --ephemeral or --volatile (the tree is not written to)",
            m.describe()
        )));
    }
    if root != crate::setup::Root::Tmpfs {
        return Ok(());
    }
    match rustix::fs::statat(tree, "bin", AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(Error::path("stat", &dir.join("bin"), e)),
        Ok(st) if st.st_mode & 0o170000 == 0o120000 => Ok(()),
        Ok(st) if st.st_mode & 0o170000 == 0o040000 => Err(Error::msg(format!(
            "--volatile=yes: {}/bin is a directory: the tree has not merged /bin, /sbin and /lib into /usr, \
             and a volatile root gets only its /usr",
            dir.display()
        ))),
        Ok(_) => {
            Err(Error::msg(format!("--volatile=yes: {}/bin must be a symlink (merged /usr) or absent", dir.display())))
        }
    }
}

/// The mount points below mount `id` in mountinfo text, relative to its own mount point, each
/// once, every mount after its parent (so after every visible mount above it: a mount that a
/// later one hides is no mount root where its path leads, which [`open_submounts`] checks). A
/// mount on the tree's root itself is not below it.
pub fn submounts(mountinfo: &str, id: u64) -> Vec<PathBuf> {
    let lines: Vec<(u64, u64, PathBuf)> = mountinfo
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let (id, parent) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
            Some((id, parent, PathBuf::from(crate::cgroup::unescape(f.nth(2)?))))
        })
        .collect();
    let Some(top) = lines.iter().find(|l| l.0 == id).map(|l| l.2.clone()) else {
        return Vec::new();
    };
    let mut below = vec![id];
    let mut out = Vec::new();
    // Parents may follow their children in the file (a mount moved later): repeat until stable.
    loop {
        let known = below.len();
        for (i, parent, point) in &lines {
            if below.contains(parent) && !below.contains(i) {
                below.push(*i);
                match point.strip_prefix(&top) {
                    Ok(rel) if !rel.as_os_str().is_empty() && !out.iter().any(|o| o == rel) => {
                        out.push(rel.to_path_buf())
                    }
                    _ => {}
                }
            }
        }
        if below.len() == known {
            return out;
        }
    }
}

/// A mount below the tree, opened before anything is stacked on the tree: its path relative
/// to the tree, the mount, whether it is a directory.
type Submount = (PathBuf, OwnedFd, bool);

/// The mounts below `tree` (a mount of this namespace) but those the container replaces; a
/// path that is no longer a mount's root (hidden by a later mount on a parent) is left out.
fn open_submounts(tree: BorrowedFd<'_>, dir: &Path, replaced: &[&str]) -> Result<Vec<Submount>> {
    let stat = |fd: BorrowedFd<'_>, what| {
        rustix::fs::statx(fd, "", AtFlags::EMPTY_PATH, what).map_err(|e| Error::path("stat", dir, e))
    };
    let id = stat(tree, StatxFlags::MNT_ID)?.stx_mnt_id;
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| {
        Error::path("read", Path::new("/proc/self/mountinfo"), Errno::from_io_error(&e).unwrap_or(Errno::IO))
    })?;
    let mut out = Vec::new();
    for rel in submounts(&info, id) {
        let top = rel.iter().next().unwrap_or_default();
        if replaced.iter().any(|r| top == *r) {
            continue;
        }
        let Ok(fd) = rootfs::open_path(tree, &rel, Follow::Never) else { continue };
        let st = stat(fd.as_fd(), StatxFlags::TYPE)?;
        if st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT) {
            out.push((rel, fd, u32::from(st.stx_mode) & 0o170000 == 0o040000));
        }
    }
    Ok(out)
}

/// `-x`, `--volatile=overlay`: an overlayfs of `tree` (the bound tree, a mount of this
/// namespace) under a tmpfs upper layer, stacked on the tree, and one of each mount below it
/// (but those the container replaces: `replaced`), at the same place; returns the new root.
/// A mount below the tree that overlayfs refuses as a lower layer (or a file bound on a file)
/// is bound read-only instead.
pub fn overlay_root(tree: BorrowedFd<'_>, dir: &Path, read_only: bool, replaced: &[&str]) -> Result<OwnedFd> {
    let subs = open_submounts(tree, dir, replaced)?;
    // overlayfs takes its upper layer only from a mount of the caller's namespace: the tmpfs
    // goes on the tree while the overlays are made (each keeps a private copy of its layers),
    // then away again, so that only the root overlay is stacked on the tree.
    let upper = new_fs("tmpfs", TMPFS_OPTIONS, attr::STRICTATIME)?;
    attach(&upper, tree, dir)?;
    let root = overlay(tree, upper.as_fd(), 0, read_only);
    let layers: Vec<Result<OwnedFd>> = subs
        .iter()
        .enumerate()
        .map(|(i, (_, fd, is_dir))| match is_dir {
            true => overlay(fd.as_fd(), upper.as_fd(), i + 1, read_only)
                .or_else(|_| clone_tree(fd.as_fd(), Path::new(""), false, true)),
            false => clone_tree(fd.as_fd(), Path::new(""), false, true),
        })
        .collect();
    let upper_path = format!("/proc/self/fd/{}", upper.as_raw_fd());
    rustix::mount::unmount(upper_path.as_str(), rustix::mount::UnmountFlags::DETACH)
        .map_err(|e| Error::sys("detach", "the upper layer", e))?;
    let root = root.map_err(|e| e.context(format!("overlay {}", dir.display())))?;
    attach(&root, tree, dir)?;
    for ((rel, _, _), mnt) in subs.iter().zip(layers) {
        let at = rootfs::open_path(root.as_fd(), rel, Follow::Never).map_err(|e| Error::path("open", rel, e))?;
        attach(&mnt?, at.as_fd(), rel)?;
    }
    Ok(root)
}

/// The overlayfs of layer `n`: `lower` under the directory `u<n>` of the tmpfs `upper` (with
/// `w<n>` its work directory), which takes the owner and mode of `lower` (the overlay's root
/// directory shows them).
fn overlay(lower: BorrowedFd<'_>, upper: BorrowedFd<'_>, n: usize, read_only: bool) -> Result<OwnedFd> {
    let fail = |e| Error::sys("make", "overlay layer", e);
    let st = rustix::fs::fstat(lower).map_err(fail)?;
    let (u, w) = (format!("u{n}"), format!("w{n}"));
    let open = |name: &str, mode: u32| {
        // The children's umask is 0: the mode is the lower's.
        rustix::fs::mkdirat(upper, name, Mode::from_raw_mode(mode))?;
        rustix::fs::openat(upper, name, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
    };
    let (up, work) = (open(&u, st.st_mode & 0o7777).map_err(fail)?, open(&w, 0o700).map_err(fail)?);
    let owner = (Some(rustix::fs::Uid::from_raw(st.st_uid)), Some(rustix::fs::Gid::from_raw(st.st_gid)));
    rustix::fs::chownat(upper, u.as_str(), owner.0, owner.1, AtFlags::empty()).map_err(fail)?;
    let fd = |f: BorrowedFd<'_>| format!("/proc/self/fd/{}", f.as_raw_fd());
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(fail)?;
    for (k, v) in [
        ("source", "overlay".into()),
        ("lowerdir", fd(lower)),
        ("upperdir", fd(up.as_fd())),
        ("workdir", fd(work.as_fd())),
    ] {
        fsconfig_set_string(&fs, k, v.as_str()).map_err(|e| Error::sys("overlay option", k, e))?;
    }
    fsconfig_create(&fs).map_err(fail)?;
    let attrs = if read_only { attr::RDONLY } else { 0 };
    fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::from_bits_retain(attrs)).map_err(fail)
}

/// `--volatile=yes`: a tmpfs stacked on `tree`, with the tree's `/usr` bound read-only
/// (recursively) and what a merged-`/usr` root needs around it (nspawn's
/// `base_filesystem_create()`: `bin`, `sbin`, `lib`, `lib64` links into `/usr`, empty `etc`,
/// `var`, `root` and API mount points); returns the new root.
pub fn tmpfs_root(tree: BorrowedFd<'_>, dir: &Path) -> Result<OwnedFd> {
    let usr = rootfs::open_path(tree, Path::new("usr"), Follow::Never)
        .map_err(|e| Error::path("open", &dir.join("usr"), e))?;
    let usr = clone_tree(usr.as_fd(), Path::new(""), true, true)?;
    let root = new_fs("tmpfs", TMPFS_OPTIONS, attr::STRICTATIME)?;
    let fail = |e| Error::sys("populate", "the volatile root", e);
    for (name, mode) in [
        ("usr", 0o755),
        ("etc", 0o755),
        ("var", 0o755),
        ("root", 0o750),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o555),
        ("run", 0o555),
    ] {
        rustix::fs::mkdirat(&root, name, Mode::from_raw_mode(mode)).map_err(fail)?;
    }
    for (name, target) in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")] {
        rustix::fs::symlinkat(target, &root, name).map_err(fail)?;
    }
    attach(&root, tree, dir)?;
    let at = rootfs::open_path(root.as_fd(), Path::new("usr"), Follow::Never).map_err(fail)?;
    attach(&usr, at.as_fd(), &dir.join("usr"))?;
    Ok(root)
}

/// Attaches detached mount `mnt` on top of what is mounted at `at` (`shown` in messages).
fn attach(mnt: &OwnedFd, at: BorrowedFd<'_>, shown: &Path) -> Result<()> {
    move_mount(mnt, "", at, "", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH)
        .map_err(|e| Error::path("mount on", shown, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submounts_are_the_trees_descendants_relative_to_it() {
        let info = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
50 27 254:0 /srv/t /srv/t rw - ext4 /dev/vda rw
51 50 0:30 / /srv/t/home rw - tmpfs tmpfs rw
52 51 0:31 / /srv/t/home/a\\040b rw - tmpfs tmpfs rw
53 50 0:32 / /srv/t/proc rw - proc proc rw
60 27 0:33 / /srv/t-other rw - tmpfs tmpfs rw
54 50 0:34 / /srv/t/home rw - tmpfs tmpfs rw
56 55 0:36 / /srv/t/late/x rw - tmpfs tmpfs rw
55 50 0:35 / /srv/t/late rw - tmpfs tmpfs rw
57 50 0:37 / /srv/t rw - tmpfs tmpfs rw
";
        let got: Vec<String> = submounts(info, 50).iter().map(|p| p.display().to_string()).collect();
        // Stacked mounts once; a child listed before its parent found after it; a mount on the
        // tree's own root and the neighbour sharing its prefix left out.
        assert_eq!(got, ["home", "home/a b", "proc", "late", "late/x"]);
        // Seen from a process whose root is the tree (attached on `/`).
        let info =
            "27 1 254:0 / / rw - ext4 /dev/vda rw\n70 27 0:40 / / rw - ext4 x rw\n71 70 0:41 / /var rw - tmpfs t rw\n";
        assert_eq!(submounts(info, 70), [PathBuf::from("var")]);
        assert!(submounts(info, 99).is_empty());
    }

    #[test]
    fn the_containers_own_file_systems_replace_the_trees() {
        assert_eq!(replaced(true), ["proc", "sys", "dev", "run", "tmp"]);
        assert_eq!(replaced(false), ["proc", "sys", "dev", "run"]);
    }

    #[test]
    fn checks_refuse_what_would_write_to_the_tree_or_cannot_work() {
        use crate::setup::Root;
        let d = std::env::temp_dir().join(format!("spawnbox-volatile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("bin")).unwrap();
        let fd = rustix::fs::open(&d, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let ovl = CustomMount::Overlay {
            lower: vec![MountSource::InRoot("/a".into())],
            upper: Some(MountSource::InRoot("/b".into())),
            destination: "/c".into(),
            read_only: false,
        };
        let e = check(fd.as_fd(), &d, Root::Overlay, std::slice::from_ref(&ovl)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--overlay=...:/c: an upper directory inside the tree cannot be used with --ephemeral or --volatile (the tree is not written to)"
        );
        check(fd.as_fd(), &d, Root::Tree, &[ovl]).unwrap();
        check(fd.as_fd(), &d, Root::Overlay, &[]).unwrap();
        let e = check(fd.as_fd(), &d, Root::Tmpfs, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "--volatile=yes: {}/bin is a directory: the tree has not merged /bin, /sbin and /lib into /usr, \
                 and a volatile root gets only its /usr",
                d.display()
            )
        );
        std::fs::remove_dir(d.join("bin")).unwrap();
        check(fd.as_fd(), &d, Root::Tmpfs, &[]).unwrap();
        std::os::unix::fs::symlink("usr/bin", d.join("bin")).unwrap();
        check(fd.as_fd(), &d, Root::Tmpfs, &[]).unwrap();
        std::fs::remove_file(d.join("bin")).unwrap();
        std::fs::write(d.join("bin"), "").unwrap();
        let e = check(fd.as_fd(), &d, Root::Tmpfs, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("--volatile=yes: {}/bin must be a symlink (merged /usr) or absent", d.display())
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
