//! btrfs subvolumes: whether a directory is one, snapshots, deletion — the three ioctls
//! `-x/--ephemeral` (and `--template=`, `spawnctl clone`) need, one thin function each. The
//! descriptors are plain directory descriptors (`O_RDONLY|O_DIRECTORY`): the kernel refuses
//! ioctls on `O_PATH` ones.
#![allow(unsafe_code)]

use rustix::fd::{AsFd, AsRawFd, BorrowedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::{Errno, Result};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// `BTRFS_SUPER_MAGIC` (statfs(2) `f_type`).
const SUPER_MAGIC: i64 = 0x9123_683E;
/// `BTRFS_FIRST_FREE_OBJECTID`: the inode number of every subvolume's root directory.
const SUBVOLUME_INO: u64 = 256;
/// `BTRFS_SUBVOL_RDONLY`.
const SUBVOL_RDONLY: u64 = 1 << 1;
/// `BTRFS_SUBVOL_NAME_MAX`.
const NAME_MAX: usize = 4039;

/// `struct btrfs_ioctl_vol_args` (`fd` unused by SNAP_DESTROY).
#[repr(C)]
struct VolArgs {
    fd: i64,
    name: [u8; 4088],
}

/// `struct btrfs_ioctl_vol_args_v2` with the name member of its last union.
#[repr(C)]
struct VolArgsV2 {
    fd: i64,
    transid: u64,
    flags: u64,
    unused: [u64; 4],
    name: [u8; NAME_MAX + 1],
}

/// `_IOW(0x94, nr, size)`.
const fn iow(nr: u32, size: usize) -> libc::c_ulong {
    ((1u32 << 30) | ((size as u32) << 16) | (0x94 << 8) | nr) as libc::c_ulong
}
const IOC_SNAP_DESTROY: libc::c_ulong = iow(15, std::mem::size_of::<VolArgs>());
const IOC_SNAP_CREATE_V2: libc::c_ulong = iow(23, std::mem::size_of::<VolArgsV2>());

fn ioctl<T>(fd: BorrowedFd<'_>, request: libc::c_ulong, arg: &mut T) -> Result<()> {
    // SAFETY: `arg` is the exact argument structure of `request` (sizes are part of the
    // request number), valid and exclusively borrowed for the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg as *mut T) };
    if r < 0 {
        return Err(Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)));
    }
    Ok(())
}

/// A subvolume name: one path component, not `.` or `..`, within btrfs' length.
fn copy_name(name: &OsStr, out: &mut [u8]) -> Result<()> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= out.len() || b.contains(&b'/') || b.contains(&0) || b == b"." || b == b".." {
        return Err(Errno::INVAL);
    }
    out[..b.len()].copy_from_slice(b);
    Ok(())
}

/// True when `fd` is the root directory of a btrfs subvolume (nspawn's `btrfs_is_subvol_fd`).
pub fn is_subvolume(fd: BorrowedFd<'_>) -> Result<bool> {
    let st = rustix::fs::fstat(fd)?;
    if st.st_ino != SUBVOLUME_INO || st.st_mode & 0o170000 != 0o040000 {
        return Ok(false);
    }
    Ok(rustix::fs::fstatfs(fd)?.f_type as i64 == SUPER_MAGIC)
}

/// Snapshots subvolume `src` as `name` in directory `dst_dir` (on the same btrfs), read-only if
/// asked. Subvolumes nested in `src` are not part of it (they show as empty directories).
/// [BTRFS_IOC_SNAP_CREATE_V2](https://btrfs.readthedocs.io/en/latest/btrfs-ioctl.html)
pub fn snapshot(src: BorrowedFd<'_>, dst_dir: BorrowedFd<'_>, name: &OsStr, read_only: bool) -> Result<()> {
    let mut args = VolArgsV2 {
        fd: src.as_raw_fd() as i64,
        transid: 0,
        flags: if read_only { SUBVOL_RDONLY } else { 0 },
        unused: [0; 4],
        name: [0; NAME_MAX + 1],
    };
    copy_name(name, &mut args.name)?;
    ioctl(dst_dir, IOC_SNAP_CREATE_V2, &mut args)
}

/// Deletes subvolume `name` of directory `dir` with everything in it, subvolumes nested in it
/// first (a guest may have made some: systemd-tmpfiles' `v` lines do).
/// [BTRFS_IOC_SNAP_DESTROY](https://btrfs.readthedocs.io/en/latest/btrfs-ioctl.html)
pub fn delete_subvolume(dir: BorrowedFd<'_>, name: &OsStr) -> Result<()> {
    let mut args = VolArgs { fd: 0, name: [0; 4088] };
    copy_name(name, &mut args.name)?;
    match ioctl(dir, IOC_SNAP_DESTROY, &mut args) {
        Err(Errno::NOTEMPTY) => {
            let sub = open_dir(dir, name)?;
            delete_nested(sub.as_fd(), 64)?;
            ioctl(dir, IOC_SNAP_DESTROY, &mut args)
        }
        r => r,
    }
}

fn open_dir(dir: BorrowedFd<'_>, name: &OsStr) -> Result<rustix::fd::OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Deletes the subvolumes below directory `dir` (of one subvolume), at most `depth` levels down.
fn delete_nested(dir: BorrowedFd<'_>, depth: u32) -> Result<()> {
    if depth == 0 {
        return Err(Errno::NOTEMPTY);
    }
    let mut subdirs = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if entry.file_type() == rustix::fs::FileType::Directory && n != b"." && n != b".." {
            subdirs.push(OsStr::from_bytes(n).to_owned());
        }
    }
    for name in subdirs {
        let sub = open_dir(dir, &name)?;
        if is_subvolume(sub.as_fd())? {
            delete_subvolume(dir, &name)?;
        } else {
            delete_nested(sub.as_fd(), depth - 1)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_are_the_kernels() {
        // From <linux/btrfs.h> as the C compiler computes them.
        assert_eq!(std::mem::size_of::<VolArgs>(), 4096);
        assert_eq!(std::mem::size_of::<VolArgsV2>(), 4096);
        assert_eq!(IOC_SNAP_DESTROY, 0x5000_940F);
        assert_eq!(IOC_SNAP_CREATE_V2, 0x5000_9417);
    }

    #[test]
    fn names_are_single_components() {
        let mut buf = [0u8; 8];
        for bad in ["", ".", "..", "a/b", "12345678"] {
            assert_eq!(copy_name(OsStr::new(bad), &mut buf), Err(Errno::INVAL), "{bad:?}");
        }
        copy_name(OsStr::new(".#x.1"), &mut buf).unwrap();
        assert_eq!(&buf[..6], b".#x.1\0");
    }

    #[test]
    fn a_made_directory_is_no_subvolume() {
        // mkdir never makes a subvolume's root (inode 256), on btrfs neither.
        let d = std::env::temp_dir().join(format!("spawnbox-btrfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let fd = rustix::fs::open(&d, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        assert!(!is_subvolume(fd.as_fd()).unwrap());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
