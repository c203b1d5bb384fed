//! What to do with one source entry, decided from its metadata alone: the pure part of the
//! copy (the walker in `walk.rs` carries it out).

use rustix::fs::{FileType, Statx, StatxFlags, Timespec};
use std::path::PathBuf;

/// The metadata of a source entry that the copy keeps or decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Meta {
    pub kind: FileType,
    /// Permission bits with setuid, setgid and sticky (07777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub nlink: u32,
    /// (device, inode): the hard-link key.
    pub inode: (u64, u64),
    /// Device number of a character or block device node.
    pub rdev: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    /// The mount id, if the kernel reports it (statx STATX_MNT_ID, Linux 5.8).
    pub mount: Option<u64>,
}

impl Meta {
    /// From statx(2) results.
    pub fn from_statx(s: &Statx) -> Meta {
        let ts = |t: rustix::fs::StatxTimestamp| Timespec { tv_sec: t.tv_sec, tv_nsec: t.tv_nsec.into() };
        Meta {
            kind: FileType::from_raw_mode(s.stx_mode.into()),
            mode: u32::from(s.stx_mode) & 0o7777,
            uid: s.stx_uid,
            gid: s.stx_gid,
            size: s.stx_size,
            nlink: s.stx_nlink,
            inode: (rustix::fs::makedev(s.stx_dev_major, s.stx_dev_minor), s.stx_ino),
            rdev: rustix::fs::makedev(s.stx_rdev_major, s.stx_rdev_minor),
            atime: ts(s.stx_atime),
            mtime: ts(s.stx_mtime),
            mount: (StatxFlags::from_bits_retain(s.stx_mask).contains(StatxFlags::MNT_ID)).then_some(s.stx_mnt_id),
        }
    }
}

/// One entry's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// A directory: created, its entries copied, its metadata set after them.
    Dir,
    /// A directory on another mount: an empty directory with the mount root's owner, mode and
    /// times (`cp -ax`), nothing below it.
    MountPoint,
    /// A non-directory mounted over (a bind-mounted file): left out.
    SkipMount,
    /// A regular file: data, owner, mode, xattrs, times.
    File,
    /// A symlink, copied as it is (never followed).
    Symlink,
    /// A device node, FIFO or socket (mknodat).
    Node,
    /// A further link of an inode already copied to this destination path.
    Link(PathBuf),
}

/// Whether `entry` is on the mount of the copy's `root`. By mount id where the kernel has it
/// (a btrfs subvolume has a device of its own but is the same mount); else, as systemd's
/// COPY_SAME_MOUNT, by device, for directories only (overlayfs reports the lower layers'
/// devices for files).
pub(super) fn same_mount(entry: &Meta, root: &Meta) -> bool {
    match (entry.mount, root.mount) {
        (Some(a), Some(b)) => a == b,
        _ => entry.kind != FileType::Directory || entry.inode.0 == root.inode.0,
    }
}

/// What to do with an entry of kind `kind`; `first_link` is where an earlier link of the same
/// inode went. `None` for a kind no file system should return (refused by the caller).
pub(super) fn plan(kind: FileType, same_mount: bool, first_link: Option<PathBuf>) -> Option<Action> {
    Some(match kind {
        FileType::Directory if same_mount => Action::Dir,
        FileType::Directory => Action::MountPoint,
        _ if !same_mount => Action::SkipMount,
        _ if first_link.is_some() => Action::Link(first_link?),
        FileType::RegularFile => Action::File,
        FileType::Symlink => Action::Symlink,
        FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo | FileType::Socket => Action::Node,
        FileType::Unknown => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(kind: FileType, dev: u64, mount: Option<u64>) -> Meta {
        let t = Timespec { tv_sec: 0, tv_nsec: 0 };
        Meta {
            kind,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            nlink: 1,
            inode: (dev, 2),
            rdev: 0,
            atime: t,
            mtime: t,
            mount,
        }
    }

    #[test]
    fn mounts_are_told_by_mount_id_when_known() {
        let root = meta(FileType::Directory, 1, Some(10));
        // A btrfs subvolume: another device, the same mount.
        assert!(same_mount(&meta(FileType::Directory, 2, Some(10)), &root));
        assert!(!same_mount(&meta(FileType::Directory, 1, Some(11)), &root));
        assert!(!same_mount(&meta(FileType::RegularFile, 1, Some(11)), &root));
    }

    #[test]
    fn without_mount_ids_directories_are_told_by_device_and_files_never_are() {
        let root = meta(FileType::Directory, 1, None);
        assert!(same_mount(&meta(FileType::Directory, 1, None), &root));
        assert!(!same_mount(&meta(FileType::Directory, 2, None), &root));
        // overlayfs: a file reports its layer's device.
        assert!(same_mount(&meta(FileType::RegularFile, 2, None), &root));
    }

    #[test]
    fn every_kind_has_its_action() {
        let cases = [
            (FileType::Directory, true, None, Some(Action::Dir)),
            (FileType::Directory, false, None, Some(Action::MountPoint)),
            (FileType::RegularFile, false, None, Some(Action::SkipMount)),
            (FileType::RegularFile, true, None, Some(Action::File)),
            (FileType::RegularFile, true, Some("a/b"), Some(Action::Link("a/b".into()))),
            (FileType::Symlink, true, None, Some(Action::Symlink)),
            (FileType::Symlink, true, Some("l"), Some(Action::Link("l".into()))),
            (FileType::CharacterDevice, true, None, Some(Action::Node)),
            (FileType::BlockDevice, true, None, Some(Action::Node)),
            (FileType::Fifo, true, Some("f"), Some(Action::Link("f".into()))),
            (FileType::Socket, true, None, Some(Action::Node)),
            (FileType::Unknown, true, None, None),
        ];
        for (kind, same, link, want) in cases {
            assert_eq!(plan(kind, same, link.map(PathBuf::from)), want, "{kind:?} same mount {same} link {link:?}");
        }
    }
}
