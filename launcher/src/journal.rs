//! `--link-journal=`, as nspawn's `setup_journal()`: the guest's journal directory
//! `/var/log/journal/MACHINE-ID` made visible on the host, either stored on the host and
//! bind-mounted into the container (`host`), or stored in the tree with a symlink to it on the
//! host (`guest`); `try-*` give up quietly where nspawn does, `auto` binds the host's directory
//! when it exists. A host without journald still gets the directory with `host` or `guest`.

use crate::error::{Error, Result};
use crate::rootfs::{self, Follow, NodeKind};
use crate::settings::{BindIdmap, CustomMount, Id128, LinkJournal, MountSource};
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use std::path::Path;

const JOURNAL: &str = "/var/log/journal";

/// Whether `mode` can do anything on this host: `no` never; `auto` and `try-*` only where the
/// host has `/var/log/journal` (a host without journald usually has none: one stat, then
/// nothing of the machine id is read).
pub fn wanted(mode: LinkJournal) -> bool {
    match mode {
        LinkJournal::No => false,
        LinkJournal::Host | LinkJournal::Guest => true,
        LinkJournal::Auto | LinkJournal::TryHost | LinkJournal::TryGuest => Path::new(JOURNAL).is_dir(),
    }
}

/// What the run gets: nothing, or a bind mount of the host's directory onto the guest's.
pub fn setup(
    mode: LinkJournal,
    machine: Id128,
    host: Option<Id128>,
    tree: BorrowedFd<'_>,
    directory: &Path,
) -> Result<Option<CustomMount>> {
    let try_ = matches!(mode, LinkJournal::TryHost | LinkJournal::TryGuest | LinkJournal::Auto);
    let host_mode = matches!(mode, LinkJournal::Host | LinkJournal::TryHost);
    let guest_mode = matches!(mode, LinkJournal::Guest | LinkJournal::TryGuest);
    if mode == LinkJournal::No {
        return Ok(None);
    }
    if host == Some(machine) {
        if try_ {
            log::warn!("Host and machine ids are equal ({}): refusing to link journals", machine.hex());
            return Ok(None);
        }
        return Err(Error::msg(format!(
            "--link-journal: host and machine ids are equal ({}), refusing",
            machine.hex()
        )));
    }
    let rel = Path::new(JOURNAL).join(machine.hex());
    let p = rel.clone();
    let q = directory.join(rootfs::relative(&rel));
    let skip = |e: Error| {
        if try_ {
            log::debug!("--link-journal: {e}, skipping");
            Ok(None)
        } else {
            Err(e.context("--link-journal"))
        }
    };

    match std::fs::read_link(&p) {
        Ok(target) => {
            if matches!(mode, LinkJournal::Guest | LinkJournal::TryGuest | LinkJournal::Auto) && target == q {
                return make_guest_dir(tree, &rel).map(|()| None).or_else(skip);
            }
            if let Err(e) = std::fs::remove_file(&p) {
                return skip(Error::path("remove symlink", &p, errno(&e)));
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            if guest_mode {
                // A directory of the host's in the way of the symlink: only an empty one goes.
                if let Err(e) = std::fs::remove_dir(&p) {
                    return match e.raw_os_error() {
                        Some(libc::ENOTDIR) => skip(Error::msg(format!(
                            "{} already exists and is neither a symlink nor a directory",
                            p.display()
                        ))),
                        _ => skip(Error::path("remove", &p, errno(&e))),
                    };
                }
            }
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return skip(Error::path("read link", &p, errno(&e))),
    }

    if guest_mode {
        if let Err(e) = host_journal_dir(try_) {
            return skip(e);
        }
        if let Err(e) = std::os::unix::fs::symlink(&q, &p) {
            return skip(Error::msg(format!(
                "symlink {} to {}: {}",
                p.display(),
                q.display(),
                crate::error::errno_text(e.raw_os_error().unwrap_or(libc::EIO))
            )));
        }
        return make_guest_dir(tree, &rel).map(|()| None).or_else(skip);
    }
    if host_mode {
        if let Err(e) = host_journal_dir(try_).and_then(|()| mkdir(&p)) {
            return skip(e);
        }
    } else if !p.is_dir() {
        // auto: only a directory that is there already.
        return Ok(None);
    }
    make_guest_dir(tree, &rel).or_else(|e| skip(e).map(drop))?;
    Ok(Some(CustomMount::Bind {
        source: MountSource::Host(p),
        destination: rel,
        read_only: false,
        recursive: false,
        idmap: BindIdmap::None,
    }))
}

/// `/var/log/journal` on the host: made (with its parents) unless `try_`, when only an
/// existing one is used (nspawn does not force persistent journaling on a host).
fn host_journal_dir(try_: bool) -> Result<()> {
    let j = Path::new(JOURNAL);
    if j.is_dir() {
        return Ok(());
    }
    if try_ {
        return Err(Error::path("use", j, Errno::NOENT));
    }
    std::fs::create_dir_all(j).map_err(|e| Error::path("create", j, errno(&e)))
}

fn mkdir(p: &Path) -> Result<()> {
    match std::fs::create_dir(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::path("create", p, errno(&e))),
    }
}

/// `/var/log/journal/ID` inside the tree (resolved in it, parents made 0755).
fn make_guest_dir(tree: BorrowedFd<'_>, rel: &Path) -> Result<()> {
    rootfs::mount_point(tree, rel, NodeKind::Directory, Follow::InRoot).map(drop)
}

fn errno(e: &std::io::Error) -> Errno {
    Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The host's machine id (`/etc/machine-id`), if it has one.
pub fn host_machine_id() -> Option<Id128> {
    let text = std::fs::read_to_string("/etc/machine-id").ok()?;
    Id128::parse(text.trim())
}
