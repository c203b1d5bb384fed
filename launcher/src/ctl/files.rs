//! `spawnctl copy-to NAME SRC [DST]` and `copy-from NAME SRC [DST]`: machinectl's copies
//! between the host and a running container, on the tree copier (`copy/`).
//!
//! The container's tree is hostile: every container path is opened from the leader's root
//! directory (`/proc/PID/root`) with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so its
//! symlinks and `..` never lead out of it, and its last component is never followed (a symlink
//! is copied as a symlink, as machinectl does). Below that the copier opens nothing but through
//! RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS and O_NOFOLLOW. The copy is made under a hidden
//! temporary name beside the destination and renamed into place (exchanged with the old entry
//! under `--force`), so nothing is ever written through an existing file: a procfs file or a
//! planted link is replaced, never opened for writing.

use super::args::Options;
use super::leader::{split, Leader};
use crate::copy;
use crate::error::{Error, Result};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Which way a copy goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToContainer,
    FromContainer,
}

/// `copy-to NAME SRC [DST]` (`to`) or `copy-from NAME SRC [DST]`; DST defaults to SRC.
pub fn copy(o: &Options, args: &[String], way: Direction) -> Result<()> {
    let (name, src) = (&args[0], &args[1]);
    let dst = args.get(2).unwrap_or(src);
    let (src_dir, src_name) = split(src, "source")?;
    let (dst_dir, dst_name) = split(dst, "destination")?;
    let m = Leader::open(name)?;
    let dir = OFlags::PATH | OFlags::DIRECTORY;
    let host_dir =
        |p: &Path| rustix::fs::open(p, dir | OFlags::CLOEXEC, Mode::empty()).map_err(|e| Error::path("open", p, e));
    match way {
        Direction::ToContainer => {
            let from = host_dir(&src_dir)?;
            let to = m.open_in(&dst_dir, dir)?;
            let shown = (PathBuf::from(src), m.shown(Path::new(dst)));
            // Files the container's root owns, as it sees them (nothing to change without a
            // user namespace: the container's ids are the host's).
            m.as_container_root(|| place(&from, &src_name, &to, &dst_name, m.shift, o.force, &shown))
        }
        Direction::FromContainer => {
            let from = m.open_in(&src_dir, dir)?;
            let to = host_dir(&dst_dir)?;
            let shown = (m.shown(Path::new(src)), PathBuf::from(dst));
            // As machined: across a user namespace the copies are the caller's.
            let caller = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
            let owner = m.shift.map(|_| caller);
            place(&from, &src_name, &to, &dst_name, owner, o.force, &shown)
        }
    }
}

/// Copies `name` of `from` to `to_name` in `to` through a temporary name; `shown`: the source
/// and the destination as errors name them.
fn place(
    from: &OwnedFd,
    name: &OsStr,
    to: &OwnedFd,
    to_name: &OsStr,
    owner: Option<(u32, u32)>,
    force: bool,
    shown: &(PathBuf, PathBuf),
) -> Result<()> {
    let (source, dest) = shown;
    let exists = match rustix::fs::statat(to, to_name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => true,
        Err(Errno::NOENT) => false,
        Err(e) => return Err(Error::path("stat", dest, e)),
    };
    if exists && !force {
        return Err(Error::path("copy to", dest, Errno::EXIST).hint("--force replaces it"));
    }
    let temp = crate::template::random_temp_name(to_name)?;
    // SIGINT, SIGTERM and SIGHUP stop the copy and remove it, as for `clone`.
    crate::template::stoppable(|interrupted| {
        let opts = copy::Options { interrupted: Some(interrupted), owner, ..copy::Options::new(source) };
        copy::copy_entry(from.as_fd(), name, to.as_fd(), &temp, &opts)?;
        // Never over an entry that appeared meanwhile; with --force, exchanged with the one
        // there, which is then removed from under the temporary name.
        let how = if exists { RenameFlags::EXCHANGE } else { RenameFlags::NOREPLACE };
        if let Err(e) = rustix::fs::renameat_with(to, &temp, to, to_name, how) {
            let _ = copy::remove_tree(to.as_fd(), &temp);
            return Err(match e {
                Errno::EXIST => Error::path("copy to", dest, e).hint("--force replaces it"),
                e => Error::path("rename the copy to", dest, e),
            });
        }
        if exists {
            copy::remove_tree(to.as_fd(), &temp).map_err(|e| Error::path("remove the replaced", dest, e))?;
        }
        Ok(())
    })
}
