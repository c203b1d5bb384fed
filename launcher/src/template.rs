//! `--template=DIR`: the container tree (`-D`) made from a template when it does not exist yet;
//! an existing one is left as it is (nspawn). A btrfs snapshot when the template is a
//! subvolume on the destination's btrfs, else a copy that keeps everything (`copy::copy_tree`, reflinks where the file
//! system has them). The tree is made under a temporary name next to it, `.#NAME.XXXXXX`, and
//! renamed into place when complete: a failed or interrupted (SIGINT, SIGTERM, SIGHUP) copy is
//! removed and never leaves a half tree under the real name.

use crate::copy;
use crate::error::{Error, Result};
use crate::sys::{self, SigSet};
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, CWD};
use rustix::io::Errno;
use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Makes `directory` from `template` unless `directory` exists (as anything, even a dangling
/// symlink: nspawn's mkdir fails there too). Missing parents of `directory` are created.
pub fn populate(directory: &Path, template: &Path) -> Result<()> {
    let ctx = || format!("--template={}", template.display());
    match rustix::fs::statat(CWD, directory, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => {
            exists(directory, template);
            return Ok(());
        }
        Err(Errno::NOENT) => {}
        Err(e) => return Err(Error::path("stat", directory, e).context(ctx())),
    }
    match create(directory, template) {
        Ok(Some(stats)) => {
            log::debug!("{}: {stats:?}", directory.display());
            log::info!("Populated {} from template {}.", directory.display(), template.display());
            Ok(())
        }
        Ok(None) => {
            exists(directory, template);
            Ok(())
        }
        Err(e) => Err(e.context(ctx())),
    }
}

/// Makes `directory` (which must not exist; missing parents are created) a copy of `source`,
/// under a temporary name renamed into place when complete; `None` if `directory` appeared
/// meanwhile. SIGINT, SIGTERM and SIGHUP stop the copy and remove it. Also `spawnctl clone`
/// and `import-fs`.
pub fn create(directory: &Path, source: &Path) -> Result<Option<copy::Stats>> {
    let template = source;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let src = rustix::fs::open(template, flags, Mode::empty()).map_err(|e| Error::path("open", template, e))?;
    let (Some(parent), Some(name)) = (directory.parent(), directory.file_name()) else {
        return Err(Error::msg(format!("{} has no parent directory", directory.display())));
    };
    std::fs::create_dir_all(parent).map_err(|e| {
        let errno = Errno::from_raw_os_error(e.raw_os_error().unwrap_or(libc::EIO));
        Error::path("create", parent, errno)
    })?;
    // Not O_PATH: the snapshot ioctl is made on it.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let parent_fd = rustix::fs::open(parent, flags, Mode::empty()).map_err(|e| Error::path("open", parent, e))?;
    let temp = random_temp_name(name)?;
    stoppable(|interrupted| make(src.as_fd(), parent_fd.as_fd(), &temp, name, template, interrupted))
}

/// `.#NAME.XXXXXX` with six random characters.
pub(crate) fn random_temp_name(name: &OsStr) -> Result<OsString> {
    let mut random = [0u8; 6];
    rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty())
        .map_err(|e| Error::sys("read", "random bytes", e))?;
    Ok(temp_name(name, random))
}

/// Runs a copy `f` with SIGINT, SIGTERM and SIGHUP stopping it (and its removal) instead of the
/// process: `f` gets the `interrupted` check for `copy::Options`. Nothing is blocked before
/// (launcher, spawnctl): the mask before is restored after `f`, so a signal that came after the
/// last check acts only once the copy is complete or removed.
pub(crate) fn stoppable<T>(f: impl FnOnce(&dyn Fn() -> bool) -> Result<T>) -> Result<T> {
    let stop = SigSet::of(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP]);
    let old = sys::set_signal_mask(&stop).map_err(|e| Error::sys("block", "signals", e))?;
    let made = sys::signalfd(&stop).map_err(|e| Error::sys("create", "signalfd", e)).and_then(|signals| {
        let hit = Cell::new(false);
        let interrupted = || {
            if !hit.get() && matches!(sys::read_signalfd(signals.as_fd()), Ok(Some(_))) {
                hit.set(true);
            }
            hit.get()
        };
        f(&interrupted)
    });
    let _ = sys::set_signal_mask(&old);
    made
}

fn exists(directory: &Path, template: &Path) {
    log::info!(
        "Directory {} already exists, not populating from template {}.",
        directory.display(),
        template.display()
    );
}

/// Copies `src` to `temp` in `parent` and renames it to `name`; `None` if `name` appeared
/// meanwhile (the copy is removed again).
fn make(
    src: BorrowedFd<'_>,
    parent: BorrowedFd<'_>,
    temp: &OsStr,
    name: &OsStr,
    template: &Path,
    interrupted: &dyn Fn() -> bool,
) -> Result<Option<copy::Stats>> {
    // A subvolume is snapshotted where the destination is on the same btrfs; anything else
    // (or a snapshot the kernel refuses, as across file systems) is copied.
    let snapshot = crate::btrfs::is_subvolume(src).unwrap_or(false)
        && crate::btrfs::snapshot(src, parent, temp, false)
            .map_err(|e| log::debug!("{}: no snapshot ({e}), copying", template.display()))
            .is_ok();
    let stats = if snapshot {
        copy::Stats::default()
    } else {
        let opts = copy::Options { interrupted: Some(interrupted), ..copy::Options::new(template) };
        copy::copy_tree(src, parent, temp, &opts)?
    };
    match rustix::fs::renameat_with(parent, temp, parent, name, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(Some(stats)),
        Err(e) => {
            let _ = match snapshot {
                true => crate::btrfs::delete_subvolume(parent, temp),
                false => copy::remove_tree(parent, temp),
            };
            match e {
                Errno::EXIST => Ok(None),
                e => Err(Error::sys("rename", format!("the copy to {}", name.to_string_lossy()), e)),
            }
        }
    }
}

/// `.#NAME.XXXXXX`, the six characters picked from `[A-Za-z0-9]` by `random`.
fn temp_name(name: &OsStr, random: [u8; 6]) -> OsString {
    const CHARS: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut n = b".#".to_vec();
    n.extend_from_slice(name.as_bytes());
    n.push(b'.');
    n.extend(random.iter().map(|r| CHARS[usize::from(*r) % CHARS.len()]));
    OsStr::from_bytes(&n).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(args: &[&str]) -> crate::spec::Spec {
        let argv: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        let Ok(crate::cli::Parsed::Run(settings)) = crate::cli::parse(&argv, &|_| None, Path::new("/w")) else {
            panic!("{args:?}: not a run");
        };
        let caller =
            crate::spec::Caller { cwd: Path::new("/w"), stdin_tty: false, stdout_tty: false, host_hostname: "h" };
        crate::spec::Spec::resolve(settings, &caller).unwrap()
    }

    #[test]
    fn the_tree_of_a_template_is_d_or_var_lib_machines_name() {
        let s = spec(&["-M", "web", "--template=t"]);
        assert_eq!(
            (s.directory.to_str(), s.template.as_deref().and_then(Path::to_str)),
            (Some("/var/lib/machines/web"), Some("/w/t"))
        );
        let s = spec(&["-M", "web", "-D", "r", "--template=/t"]);
        assert_eq!(s.directory.to_str(), Some("/w/r"));
        // -x --template=X is -x -D X: no template.
        let s = spec(&["-x", "--template=/t"]);
        assert_eq!((s.directory.to_str(), s.template), (Some("/t"), None));
    }

    #[test]
    fn temp_name_is_hidden_next_to_the_tree_and_names_it() {
        assert_eq!(temp_name(OsStr::new("debian"), [0, 1, 25, 26, 61, 62]), OsStr::new(".#debian.ABZa9A"));
        assert_eq!(temp_name(OsStr::new("a"), [255; 6]), OsStr::new(".#a.HHHHHH"));
    }
}
