//! Carries out the steps of `plan.rs` in a root directory (the host's `/`; a temp dir in the
//! unit tests): every path resolved inside it (openat2 RESOLVE_IN_ROOT, the last component
//! never followed), every step idempotent, removals only of what is still as `enable` made it.
//! Reports what changed, one line each, as systemctl does.

use super::plan::{edit_inittab, Step, INITTAB};
use crate::error::{Error, Result};
use crate::rootfs::{self, Follow};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::path::Path;

/// Runs a command (`rc-update`); what to report of it (nothing when it printed itself).
pub type Runner<'a> = &'a mut dyn FnMut(&[&str]) -> Result<String>;

/// The runlevel `rc-update` adds services to.
const RUNLEVEL: &str = "/etc/runlevels/default";

/// Does `steps` in `root`, reporting each change as it is made.
pub fn apply(root: BorrowedFd<'_>, steps: &[Step], run: Runner<'_>, report: &mut dyn FnMut(String)) -> Result<()> {
    for step in steps {
        if let Some(line) = apply_one(root, step, run)? {
            report(line);
        }
    }
    Ok(())
}

/// The directory holding `path` (resolved in the root) and the last component's name.
fn parent(root: BorrowedFd<'_>, path: &str) -> Result<(OwnedFd, String)> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let dir = if dir.is_empty() { "/" } else { dir };
    let fd = rootfs::open_in_root(root, Path::new(dir), OFlags::PATH | OFlags::DIRECTORY, Follow::InRoot)
        .map_err(|e| Error::sys("open", dir, e))?;
    Ok((fd, name.to_string()))
}

/// [`parent`] for a removal: `None` when the directory is gone (nothing left to remove).
fn parent_of_gone(root: BorrowedFd<'_>, path: &str) -> Result<Option<(OwnedFd, String)>> {
    match parent(root, path) {
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
        r => r.map(Some),
    }
}

/// Whether `path` exists in the root (its last component not followed).
fn exists(root: BorrowedFd<'_>, path: &str) -> bool {
    parent(root, path)
        .is_ok_and(|(dir, name)| rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).is_ok())
}

/// The whole content of `name` in `dir` (not following a symlink); `None` if it is absent.
fn read_at(dir: BorrowedFd<'_>, name: &str, path: &str) -> Result<Option<String>> {
    let fd = match rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()) {
        Err(Errno::NOENT) => return Ok(None),
        r => r.map_err(|e| Error::sys("open", path, e))?,
    };
    let mut f = std::fs::File::from(fd);
    let mut s = String::new();
    std::io::Read::read_to_string(&mut f, &mut s)
        .map_err(|e| Error::sys("read", path, Errno::from_io_error(&e).unwrap_or(Errno::IO)))?;
    Ok(Some(s))
}

/// Writes `text` to a new file `name` in `dir` (O_EXCL) with `mode`.
fn create_at(dir: BorrowedFd<'_>, name: &str, path: &str, text: &str, mode: u32) -> Result<OwnedFd> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd =
        rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode)).map_err(|e| Error::sys("create", path, e))?;
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        match rustix::io::write(&fd, rest) {
            Ok(n) => rest = &rest[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(Error::sys("write", path, e)),
        }
    }
    // The umask may have taken bits away.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| Error::sys("chmod", path, e))?;
    Ok(fd)
}

/// The target of symlink `name` in `dir`; `None` if it is absent, an error if it is no symlink.
fn link_target(dir: BorrowedFd<'_>, name: &str, path: &str) -> Result<Option<String>> {
    match rustix::fs::readlinkat(dir, name, Vec::new()) {
        Ok(t) => Ok(Some(t.to_string_lossy().into_owned())),
        Err(Errno::NOENT) => Ok(None),
        Err(Errno::INVAL) => Err(Error::msg(format!("{path} exists and is not a symbolic link: left as it is"))),
        Err(e) => Err(Error::sys("read link", path, e)),
    }
}

fn unlink(dir: BorrowedFd<'_>, name: &str, path: &str, flags: AtFlags) -> Result<()> {
    rustix::fs::unlinkat(dir, name, flags).map_err(|e| Error::sys("remove", path, e))
}

fn apply_one(root: BorrowedFd<'_>, step: &Step, run: Runner<'_>) -> Result<Option<String>> {
    match step {
        Step::Need { path, hint } => {
            if rootfs::is_regular_file(root, Path::new(path)) {
                return Ok(None);
            }
            Err(Error::msg(format!("{path} is missing")).hint(*hint))
        }
        Step::Dir(path) => {
            let (dir, name) = parent(root, path)?;
            match rustix::fs::mkdirat(&dir, name.as_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) => Ok(Some(format!("Created {path}."))),
                Err(Errno::EXIST) => {
                    let st = rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| Error::sys("stat", path, e))?;
                    if st.st_mode & rootfs::libc_mode::S_IFMT == rootfs::libc_mode::S_IFDIR {
                        Ok(None)
                    } else {
                        Err(Error::msg(format!("{path} exists and is not a directory: left as it is")))
                    }
                }
                Err(e) => Err(Error::sys("create directory", path, e)),
            }
        }
        Step::File { path, text } => {
            let (dir, name) = parent(root, path)?;
            match read_at(dir.as_fd(), &name, path)? {
                Some(old) if old == *text => Ok(None),
                Some(_) => Err(Error::msg(format!("{path} exists with other content: left as it is"))),
                None => {
                    create_at(dir.as_fd(), &name, path, text, 0o755)?;
                    Ok(Some(format!("Wrote {path}.")))
                }
            }
        }
        Step::Link { path, target } => {
            let (dir, name) = parent(root, path)?;
            match link_target(dir.as_fd(), &name, path)? {
                Some(t) if t == *target => Ok(None),
                Some(t) => Err(Error::msg(format!("{path} exists and points at {t}, not {target}: left as it is"))),
                None => {
                    rustix::fs::symlinkat(target.as_str(), &dir, name.as_str())
                        .map_err(|e| Error::sys("create symlink", path, e))?;
                    Ok(Some(format!("Created symlink {path} \u{2192} {target}.")))
                }
            }
        }
        Step::InittabAdd { name, .. } | Step::InittabRemove { name } => {
            let adding = matches!(step, Step::InittabAdd { .. });
            let (dir, file) = parent(root, INITTAB)?;
            let Some(text) = read_at(dir.as_fd(), &file, INITTAB)? else {
                if adding {
                    // Without one busybox init runs its built-in table, which ours would replace.
                    return Err(Error::msg(format!("{INITTAB} is missing: busybox init runs its built-in table")));
                }
                return Ok(None);
            };
            let Some(new) = edit_inittab(&text, step)? else { return Ok(None) };
            replace(dir.as_fd(), &file, INITTAB, &new)?;
            let s = super::plan::service(name);
            Ok(Some(if adding { format!("Added {s} to {INITTAB}.") } else { format!("Removed {s} from {INITTAB}.") }))
        }
        Step::RcUpdateAdd(s) | Step::RcUpdateDel(s) => {
            let add = matches!(step, Step::RcUpdateAdd(_));
            let there = exists(root, &format!("{RUNLEVEL}/{s}"));
            if there == add {
                return Ok(None);
            }
            let out = run(&["rc-update", if add { "add" } else { "del" }, s, "default"])?;
            Ok(Some(out).filter(|o| !o.is_empty()))
        }
        Step::RemoveFile { path, marker } => {
            let Some((dir, name)) = parent_of_gone(root, path)? else { return Ok(None) };
            let Some(text) = read_at(dir.as_fd(), &name, path)? else { return Ok(None) };
            if text.lines().nth(1) != Some(marker.as_str()) {
                return Err(Error::msg(format!("{path} was not written by spawnctl enable: left as it is")));
            }
            unlink(dir.as_fd(), &name, path, AtFlags::empty())?;
            Ok(Some(format!("Removed {path}.")))
        }
        Step::RemoveLink { path, target, busy } => {
            let Some((dir, name)) = parent_of_gone(root, path)? else { return Ok(None) };
            match link_target(dir.as_fd(), &name, path)? {
                None => Ok(None),
                Some(t) if t == *target => {
                    if busy.iter().any(|b| exists(root, b)) {
                        return Ok(Some(format!("Left {path}: the service is started; stop it, then disable again.")));
                    }
                    unlink(dir.as_fd(), &name, path, AtFlags::empty())?;
                    Ok(Some(format!("Removed symlink {path}.")))
                }
                Some(t) => Err(Error::msg(format!("{path} points at {t}, not {target}: left as it is"))),
            }
        }
        Step::RemoveDir(path) => remove_service_dir(root, path),
    }
}

/// Replaces file `name` in `dir` by one holding `text`, atomically (a temp file renamed over
/// it), with the old file's mode and owner.
fn replace(dir: BorrowedFd<'_>, name: &str, path: &str, text: &str) -> Result<()> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| Error::sys("stat", path, e))?;
    let tmp = format!(".{name}.spawnctl");
    let shown = format!("{path}.spawnctl");
    let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
    let result = (|| {
        let fd = create_at(dir, &tmp, &shown, text, st.st_mode & 0o7777)?;
        rustix::fs::fchown(
            &fd,
            Some(rustix::process::Uid::from_raw(st.st_uid)),
            Some(rustix::process::Gid::from_raw(st.st_gid)),
        )
        .map_err(|e| Error::sys("chown", &shown, e))?;
        rustix::fs::fsync(&fd).map_err(|e| Error::sys("sync", &shown, e))?;
        rustix::fs::renameat(dir, tmp.as_str(), dir, name).map_err(|e| Error::sys("rename", &shown, e))
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
    }
    result
}

/// Removes runit's service directory: runsv's `supervise/` first, unless runsv still holds
/// its lock (it is stopping the machine: a later `disable` finishes), then the directory if
/// nothing else is left in it.
fn remove_service_dir(root: BorrowedFd<'_>, path: &str) -> Result<Option<String>> {
    let Some((dir, name)) = parent_of_gone(root, path)? else { return Ok(None) };
    let svc = match rustix::fs::openat(
        &dir,
        name.as_str(),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Err(Errno::NOENT) => return Ok(None),
        r => r.map_err(|e| Error::sys("open", path, e))?,
    };
    let sup = format!("{path}/supervise");
    match rustix::fs::openat(
        &svc,
        "supervise",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Err(Errno::NOENT) => {}
        Err(e) => return Err(Error::sys("open", &sup, e)),
        Ok(s) => {
            let busy = match rustix::fs::openat(
                &s,
                "lock",
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(lock) => rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err(),
                Err(_) => false,
            };
            if busy {
                return Ok(Some(format!(
                    "Left {path}: runsv is still stopping the machine; disable again to remove it."
                )));
            }
            let names: Vec<String> = rustix::fs::Dir::read_from(&s)
                .map_err(|e| Error::sys("read", &sup, e))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "." && n != "..")
                .collect();
            for n in names {
                unlink(s.as_fd(), &n, &format!("{sup}/{n}"), AtFlags::empty())?;
            }
            unlink(svc.as_fd(), "supervise", &sup, AtFlags::REMOVEDIR)?;
        }
    }
    match rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::REMOVEDIR) {
        Ok(()) => Ok(Some(format!("Removed {path}."))),
        Err(Errno::NOTEMPTY) | Err(Errno::EXIST) => {
            Ok(Some(format!("Left {path}: it holds files spawnctl did not write.")))
        }
        Err(e) => Err(Error::sys("remove", path, e)),
    }
}
