//! The recursive ownership shift behind `--private-users-ownership=chown` (systemd-nspawn's
//! `path_patch_uid()`): moves every owner and POSIX ACL id of a hostile tree into the container's
//! UID range, walking by directory fds, never following a symlink nor crossing a mount.

use crate::error::{Error, Result};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{self, AtFlags, Dir, FileType, Gid, Mode, OFlags, StatxFlags, Uid, XattrFlags};
use rustix::io::Errno;
use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The size of the range a shift covers: nspawn only supports 65536 ids per container.
const RANGE: u32 = 0x10000;
/// `POSIX_ACL_XATTR_VERSION`, the header of the ACL xattr value.
const ACL_VERSION: u32 = 2;
/// The ACL entry tags whose id names a user or a group (`ACL_USER`, `ACL_GROUP`).
const ACL_USER: u16 = 0x02;
const ACL_GROUP: u16 = 0x08;

/// The id `id` becomes in the range starting at `shift`: its low 16 bits are kept.
pub fn shifted(id: u32, shift: u32) -> u32 {
    shift | (id & (RANGE - 1))
}

/// The ACL xattr value with ids shifted, or None if nothing changes / not an ACL we understand.
pub fn shift_acl(value: &[u8], shift: u32) -> Option<Vec<u8>> {
    let (header, entries) = value.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*header) != ACL_VERSION || entries.len() % 8 != 0 {
        return None;
    }
    let mut out = value.to_vec();
    // Entries are {u16 tag, u16 perm, u32 id}, little-endian.
    for entry in out[4..].chunks_exact_mut(8) {
        let tag = u16::from_le_bytes([entry[0], entry[1]]);
        if tag == ACL_USER || tag == ACL_GROUP {
            let id = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
            entry[4..].copy_from_slice(&shifted(id, shift).to_le_bytes());
        }
    }
    (out != value).then_some(out)
}

/// Shifts the ownership of the tree under `root` (a directory fd, O_PATH or O_RDONLY) to `shift`;
/// returns how many inodes changed. `Ok(None)` when the root already has the target owner
/// (nothing walked).
pub fn shift_tree(root: BorrowedFd<'_>, shift: u32, shown: &Path) -> Result<Option<u64>> {
    // The last id of the range must not be -1, which no inode can be owned by.
    if shift % RANGE != 0 || shift == 0u32.wrapping_sub(RANGE) {
        let why = format!("UID base {shift} is not a multiple of 65536 below 4294901760");
        return Err(Error::msg(format!("shift ownership of {}: {why}", shown.display())));
    }
    let meta = stat(root).map_err(|e| Error::path("stat", shown, e))?;
    if meta.file_type() != FileType::Directory {
        return Err(Error::path("shift ownership of", shown, Errno::NOTDIR));
    }
    // The root is re-owned last, so a root owned by the base means a complete earlier run.
    if (meta.uid, meta.gid) == (shift, shift) {
        return Ok(None);
    }
    let mut walk = Walk { shift, shown, root: meta, changed: 0 };
    let dir = walk.open_dir(root, &meta, Path::new(""))?;
    walk.run(Level { dir, meta, rel: PathBuf::new() })?;
    Ok(Some(walk.changed))
}

/// What the walk needs to know about one inode.
#[derive(Clone, Copy)]
struct Meta {
    dev: u64,
    ino: u64,
    /// `STATX_MNT_ID` (Linux 5.8): tells a bind mount from its parent on the same device.
    mnt_id: Option<u64>,
    mode: u32,
    uid: u32,
    gid: u32,
}

impl Meta {
    fn file_type(&self) -> FileType {
        FileType::from_raw_mode(self.mode)
    }

    /// Whether the inode lies on the same mount as `root` (mount id when the kernel gave both).
    fn same_mount(&self, root: &Meta) -> bool {
        self.dev == root.dev && self.mnt_id.zip(root.mnt_id).map_or(true, |(a, b)| a == b)
    }
}

/// [statx(2)](https://man7.org/linux/man-pages/man2/statx.2.html) of the inode `fd` names itself
/// (the link, for a symlink opened `O_PATH|O_NOFOLLOW`).
fn stat(fd: BorrowedFd<'_>) -> rustix::io::Result<Meta> {
    let flags = AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW;
    let x = fs::statx(fd, c"", flags, StatxFlags::BASIC_STATS | StatxFlags::MNT_ID)?;
    Ok(Meta {
        dev: fs::makedev(x.stx_dev_major, x.stx_dev_minor),
        ino: x.stx_ino,
        mnt_id: (x.stx_mask & StatxFlags::MNT_ID.bits() != 0).then_some(x.stx_mnt_id),
        mode: x.stx_mode.into(),
        uid: x.stx_uid,
        gid: x.stx_gid,
    })
}

/// One directory being read, kept open while its subdirectories are walked.
struct Level {
    dir: Dir,
    meta: Meta,
    /// Its path relative to the tree root, for error messages.
    rel: PathBuf,
}

struct Walk<'a> {
    shift: u32,
    shown: &'a Path,
    root: Meta,
    changed: u64,
}

impl Walk<'_> {
    /// The host path of `rel` for error messages.
    fn at(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.shown.to_path_buf()
        } else {
            self.shown.join(rel)
        }
    }

    /// Walks depth-first with an explicit stack of open directories (no recursion, so a deep
    /// tree costs fds, not stack). A directory is patched after its contents: the root last.
    fn run(&mut self, top: Level) -> Result<()> {
        let mut stack = vec![top];
        while let Some(top) = stack.last_mut() {
            let entry = match top.dir.read() {
                Some(Ok(entry)) => entry,
                Some(Err(e)) => return Err(Error::path("read directory", &self.at(&top.rel), e)),
                None => {
                    if let Some(done) = stack.pop() {
                        let fd = done.dir.fd().map_err(|e| Error::path("read directory", &self.at(&done.rel), e))?;
                        self.patch(fd, &done.meta, &done.rel)?;
                    }
                    continue;
                }
            };
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            let rel = top.rel.join(OsStr::from_bytes(name.to_bytes()));
            let dirfd = top.dir.fd().map_err(|e| Error::path("read directory", &self.at(&top.rel), e))?;
            let fd = open_path(dirfd, name).map_err(|e| Error::path("open", &self.at(&rel), e))?;
            let meta = stat(fd.as_fd()).map_err(|e| Error::path("stat", &self.at(&rel), e))?;
            // Another mount (a host bind mount, /proc, a volume) is not the image's to re-own.
            if !meta.same_mount(&self.root) {
                continue;
            }
            if meta.file_type() == FileType::Directory {
                let dir = self.open_dir(fd.as_fd(), &meta, &rel)?;
                stack.push(Level { dir, meta, rel });
            } else {
                self.patch(fd.as_fd(), &meta, &rel)?;
            }
        }
        Ok(())
    }

    /// Opens the directory `fd` names for reading, through "." so no name is looked up again,
    /// and checks it is the inode `meta` describes.
    fn open_dir(&self, fd: BorrowedFd<'_>, meta: &Meta, rel: &Path) -> Result<Dir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let dir =
            fs::openat(fd, c".", flags, Mode::empty()).map_err(|e| Error::path("open directory", &self.at(rel), e))?;
        let now = stat(dir.as_fd()).map_err(|e| Error::path("stat", &self.at(rel), e))?;
        if (now.dev, now.ino) != (meta.dev, meta.ino) {
            return Err(Error::msg(format!("open directory {}: replaced while walking", self.at(rel).display())));
        }
        Dir::new(dir).map_err(|e| Error::path("read directory", &self.at(rel), e))
    }

    /// Re-owns the inode `fd` names (and shifts its ACLs); counts it if anything changed.
    fn patch(&mut self, fd: BorrowedFd<'_>, meta: &Meta, rel: &Path) -> Result<()> {
        let (uid, gid) = (shifted(meta.uid, self.shift), shifted(meta.gid, self.shift));
        let is_link = meta.file_type() == FileType::Symlink;
        // Names exactly the inode behind `fd`, even an O_PATH one (fchmod/fgetxattr refuse those).
        let proc = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let mut changed = false;
        if (uid, gid) != (meta.uid, meta.gid) {
            let flags = AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW;
            fs::chownat(fd, c"", Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)), flags)
                .map_err(|e| Error::path("change owner of", &self.at(rel), e))?;
            // chown() clears setuid/setgid on non-directories: put the mode back. A symlink has
            // no mode of its own (and chmod would follow it).
            if !is_link {
                fs::chmod(proc.as_str(), Mode::from_raw_mode(meta.mode & 0o7777))
                    .map_err(|e| Error::path("change mode of", &self.at(rel), e))?;
            }
            changed = true;
        }
        if !is_link {
            changed |= self.patch_acl(&proc, c"system.posix_acl_access", "ACL", rel)?;
            if meta.file_type() == FileType::Directory {
                changed |= self.patch_acl(&proc, c"system.posix_acl_default", "default ACL", rel)?;
            }
        }
        self.changed += u64::from(changed);
        Ok(())
    }

    /// Shifts the user and group entries of one ACL xattr; whether it was rewritten.
    fn patch_acl(&self, proc: &str, name: &CStr, what: &str, rel: &Path) -> Result<bool> {
        let err = |op: &str, e| Error::path(&format!("{op} {what} of"), &self.at(rel), e);
        let size = match fs::getxattr_query(proc, name) {
            Ok(size) => size,
            Err(Errno::NODATA | Errno::OPNOTSUPP) => return Ok(false),
            Err(e) => return Err(err("read", e)),
        };
        let mut value = vec![0; size];
        let len = fs::getxattr(proc, name, &mut value).map_err(|e| err("read", e))?;
        value.truncate(len);
        let Some(new) = shift_acl(&value, self.shift) else { return Ok(false) };
        fs::setxattr(proc, name, &new, XattrFlags::REPLACE).map_err(|e| err("write", e))?;
        Ok(true)
    }
}

/// Opens one directory entry without following it or opening what it is (fifo, device).
fn open_path(dir: BorrowedFd<'_>, name: &CStr) -> rustix::io::Result<OwnedFd> {
    fs::openat(dir, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs as sfs;
    use std::os::unix::fs::{chown, symlink, FileTypeExt, MetadataExt, PermissionsExt};

    const SHIFT: u32 = 0x005A_0000;
    const UNDEF: u32 = u32::MAX;

    /// A temp dir removed (after detaching any mounts on it) when dropped, even on failure.
    struct Temp {
        path: PathBuf,
        mounts: Vec<PathBuf>,
    }

    impl Temp {
        fn new(name: &str) -> Temp {
            let path = std::env::temp_dir().join(format!("spawnbox-chown-{}-{name}", std::process::id()));
            let _ = sfs::remove_dir_all(&path);
            sfs::create_dir(&path).unwrap();
            Temp { path, mounts: Vec::new() }
        }

        fn shift(&self, shift: u32) -> Result<Option<u64>> {
            let fd = fs::open(&self.path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap();
            shift_tree(fd.as_fd(), shift, Path::new("/machines/x"))
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            for m in &self.mounts {
                let _ = rustix::mount::unmount(m, rustix::mount::UnmountFlags::DETACH);
            }
            let _ = sfs::remove_dir_all(&self.path);
        }
    }

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut v = ACL_VERSION.to_le_bytes().to_vec();
        for (tag, perm, id) in entries {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&perm.to_le_bytes());
            v.extend_from_slice(&id.to_le_bytes());
        }
        v
    }

    /// USER_OBJ, USER `user`, GROUP_OBJ, GROUP `group`, MASK, OTHER, as the kernel orders them.
    fn full_acl(user: u32, group: u32) -> Vec<u8> {
        acl(&[
            (0x01, 6, UNDEF),
            (0x02, 4, user),
            (0x04, 4, UNDEF),
            (0x08, 4, group),
            (0x10, 4, UNDEF),
            (0x20, 4, UNDEF),
        ])
    }

    /// (uid, gid, mode & 0o7777) of the inode itself, not following symlinks.
    fn owner(p: &Path) -> (u32, u32, u32) {
        let m = sfs::symlink_metadata(p).unwrap();
        (m.uid(), m.gid(), m.mode() & 0o7777)
    }

    #[test]
    fn shifted_keeps_low_16_bits() {
        assert_eq!(shifted(1000, SHIFT), 0x005A_03E8);
        assert_eq!(shifted(0x0012_3456, 0x0001_0000), 0x0001_3456);
        assert_eq!(shifted(0, 0), 0);
    }

    #[test]
    fn shift_acl_moves_user_and_group_entries_only() {
        assert_eq!(shift_acl(&full_acl(1000, 0x0007_0005), SHIFT), Some(full_acl(SHIFT + 1000, SHIFT + 5)));
        assert_eq!(shift_acl(&full_acl(SHIFT + 1, SHIFT + 2), SHIFT), None);
        let objs = acl(&[(0x01, 7, UNDEF), (0x04, 5, UNDEF), (0x20, 5, UNDEF)]);
        assert_eq!(shift_acl(&objs, SHIFT), None);
    }

    #[test]
    fn shift_acl_refuses_what_it_does_not_understand() {
        let mut v1 = full_acl(1000, 1000);
        v1[0] = 1;
        assert_eq!(shift_acl(&v1, SHIFT), None);
        let full = full_acl(1000, 1000);
        assert_eq!(shift_acl(&full[..full.len() - 1], SHIFT), None);
        assert_eq!(shift_acl(&full[..3], SHIFT), None);
        assert_eq!(shift_acl(&[], SHIFT), None);
    }

    #[test]
    fn shift_tree_refuses_a_bad_base() {
        let t = Temp::new("base");
        let e = t.shift(0x12345).unwrap_err();
        let want = "shift ownership of /machines/x: UID base 74565 is not a multiple of 65536 below 4294901760";
        assert_eq!(e.to_string(), want);
        assert!(t.shift(0xFFFF_0000).is_err());
        assert_eq!(owner(&t.path).0, 0);
    }

    #[test]
    fn shift_tree_reowns_the_tree_and_nothing_outside() {
        let t = Temp::new("tree");
        let outside = Temp::new("canary");
        let secret = outside.path.join("secret");
        sfs::write(&secret, "host").unwrap();
        sfs::set_permissions(&secret, sfs::Permissions::from_mode(0o4755)).unwrap();
        chown(&secret, Some(4242), Some(4242)).unwrap();
        chown(&outside.path, Some(4242), Some(4242)).unwrap();
        let before = (owner(&outside.path), owner(&secret));

        let r = &t.path;
        sfs::create_dir_all(r.join("dir/nested/deeper")).unwrap();
        sfs::write(r.join("dir/nested/deeper/file"), "").unwrap();
        sfs::write(r.join("file"), "").unwrap();
        sfs::hard_link(r.join("file"), r.join("dir/hardlink")).unwrap();
        sfs::write(r.join("user"), "").unwrap();
        chown(r.join("user"), Some(1000), Some(1000)).unwrap();
        sfs::write(r.join("suid"), "").unwrap();
        sfs::set_permissions(r.join("suid"), sfs::Permissions::from_mode(0o4755)).unwrap();
        symlink(&secret, r.join("to-secret")).unwrap();
        symlink(&outside.path, r.join("to-outside")).unwrap();
        let up = Path::new("../..").join(outside.path.file_name().unwrap());
        symlink(&up, r.join("dir/up")).unwrap();
        fs::mknodat(fs::CWD, r.join("fifo"), FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
        sfs::write(r.join("acl"), "").unwrap();
        // Raw xattrs: ext4 must take them, an EOPNOTSUPP here fails the test.
        fs::setxattr(r.join("acl"), "system.posix_acl_access", &full_acl(1000, 2000), XattrFlags::empty()).unwrap();
        let default = acl(&[(0x01, 7, UNDEF), (0x02, 5, 1000), (0x04, 5, UNDEF), (0x10, 5, UNDEF), (0x20, 5, UNDEF)]);
        fs::setxattr(r.join("dir"), "system.posix_acl_default", &default, XattrFlags::empty()).unwrap();

        let all = ["", "dir", "dir/nested", "dir/nested/deeper", "dir/nested/deeper/file", "file", "dir/hardlink"];
        let all = all.iter().chain(&["user", "suid", "to-secret", "to-outside", "dir/up", "fifo", "acl"]);
        let modes: Vec<(&str, u32)> = all.map(|p| (*p, owner(&r.join(p)).2)).collect();

        // 13 inodes: the paths above, with file and dir/hardlink one inode.
        assert_eq!(t.shift(SHIFT), Ok(Some(13)));

        for (p, mode) in &modes {
            let id = if *p == "user" { SHIFT + 1000 } else { SHIFT };
            assert_eq!(owner(&r.join(p)), (id, id, *mode), "{p}");
        }
        assert_eq!(owner(&r.join("suid")).2, 0o4755);
        assert!(sfs::symlink_metadata(r.join("fifo")).unwrap().file_type().is_fifo());
        assert_eq!(sfs::read_link(r.join("dir/up")).unwrap(), up);
        assert_eq!((owner(&outside.path), owner(&secret)), before);

        let mut buf = vec![0; 256];
        let n = fs::getxattr(r.join("acl"), "system.posix_acl_access", &mut buf).unwrap();
        assert_eq!(buf[..n], full_acl(SHIFT + 1000, SHIFT + 2000));
        let n = fs::getxattr(r.join("dir"), "system.posix_acl_default", &mut buf).unwrap();
        assert_eq!(buf[..n], shift_acl(&default, SHIFT).unwrap());

        // Done trees are recognised by their root; a rerun past that changes only the root.
        assert_eq!(t.shift(SHIFT), Ok(None));
        chown(r, Some(0), Some(0)).unwrap();
        assert_eq!(t.shift(SHIFT), Ok(Some(1)));
    }

    #[test]
    fn shift_tree_stops_at_mounts_on_the_same_device() {
        let mut t = Temp::new("mounts");
        let src = Temp::new("mounts-src");
        sfs::write(src.path.join("inner"), "").unwrap();
        sfs::create_dir(t.path.join("bound")).unwrap();
        sfs::write(t.path.join("plain"), "").unwrap();
        let target = t.path.join("bound");
        // Root (CAP_SYS_ADMIN) is required, as for the rest of the test suite.
        rustix::mount::mount_bind(&src.path, &target).expect("bind mount (the unit tests run as root)");
        t.mounts.push(target.clone());
        assert_eq!(t.shift(SHIFT), Ok(Some(2)));
        assert_eq!(owner(&t.path.join("plain")).0, SHIFT);
        assert_eq!(owner(&target).0, 0);
        assert_eq!(owner(&target.join("inner")).0, 0);
    }
}
