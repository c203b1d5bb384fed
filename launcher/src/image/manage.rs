//! Changing images on the host (machinectl's image verbs): read-only marks, rename and remove
//! with the image's `.nspawn` files, and who is using an image right now.

use super::{find, name_is_valid, HostProbe, Image, Kind};
use crate::error::io_error;
use crate::error::{Error, Result};
use crate::settings::file::{SPAWNBOX_DIRS, SYSTEMD_DIRS};
use rustix::fs::{ioctl_getflags, ioctl_setflags, open, IFlags, Mode, OFlags};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The image named `name`, or `no image "NAME" known`.
pub fn get(name: &str) -> Result<Image> {
    if !name_is_valid(name) {
        return Err(Error::msg(format!("invalid image name \"{name}\"")));
    }
    find(name, &HostProbe).ok_or_else(|| Error::msg(format!("no image \"{name}\" known")))
}

/// Sets or clears the immutable flag, which marks a directory or raw image read-only
/// (systemd's `image_read_only()` for non-btrfs images).
pub fn set_read_only(image: &Image, read_only: bool) -> Result<()> {
    if vendor(image) && !read_only {
        return Err(Error::msg(format!("image \"{}\" is below /usr and stays read-only", image.name)));
    }
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    let fd = open(&image.path, flags, Mode::empty()).map_err(|e| Error::path("open", &image.path, e))?;
    let old = ioctl_getflags(&fd).map_err(|e| Error::path("read the flags of", &image.path, e))?;
    let new = if read_only { old | IFlags::IMMUTABLE } else { old - IFlags::IMMUTABLE };
    if new != old {
        ioctl_setflags(&fd, new).map_err(|e| Error::path("set the immutable flag of", &image.path, e))?;
    }
    Ok(())
}

/// Images below `/usr` come with the OS and are never changed.
fn vendor(image: &Image) -> bool {
    image.path.starts_with("/usr")
}

/// Refuses to change `image` while it is read-only or in use.
fn changeable(image: &Image, verb: &str) -> Result<()> {
    if image.read_only {
        return Err(Error::msg(format!("cannot {verb} image \"{}\": it is read-only", image.name))
            .hint(format!("spawnctl read-only {} no", image.name)));
    }
    if let Some(pid) = users(image).first() {
        return Err(Error::msg(format!("cannot {verb} image \"{}\": machine running (process {pid})", image.name)));
    }
    Ok(())
}

/// The settings files that belong to image `name` in `dir` (systemd's `image_settings_path()`):
/// the admin's and spawnbox's files and the one beside the image.
fn settings_files(name: &str, dir: &Path) -> Vec<PathBuf> {
    let file = format!("{name}.nspawn");
    SPAWNBOX_DIRS
        .iter()
        .chain(SYSTEMD_DIRS.iter())
        .map(|d| Path::new(d).join(&file))
        .chain(std::iter::once(dir.join(&file)))
        .collect()
}

/// Renames `image` to `new` in its directory, with its `.nspawn` files.
pub fn rename(image: &Image, new: &str) -> Result<()> {
    if !name_is_valid(new) {
        return Err(Error::msg(format!("invalid image name \"{new}\"")));
    }
    if find(new, &HostProbe).is_some() {
        return Err(Error::msg(format!("image \"{new}\" already exists")));
    }
    changeable(image, "rename")?;
    let dir = image.path.parent().unwrap_or(Path::new("/"));
    let to = dir.join(if image.kind == Kind::Raw { format!("{new}.raw") } else { new.to_string() });
    rename_noreplace(&image.path, &to)?;
    for (from, to) in settings_files(&image.name, dir).into_iter().zip(settings_files(new, dir)) {
        if from.symlink_metadata().is_ok() {
            rename_noreplace(&from, &to)?;
        }
    }
    Ok(())
}

fn rename_noreplace(from: &Path, to: &Path) -> Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE)
        .map_err(|e| Error::sys("rename", format!("{} to {}", from.display(), to.display()), e))
}

/// Removes `image` (the tree or file; for a symlink in `/etc/machines` or `/run/machines`,
/// only the link) and its `.nspawn` files.
pub fn remove(image: &Image) -> Result<()> {
    changeable(image, "remove")?;
    let md = image.path.symlink_metadata().map_err(|e| io_error("stat", &image.path, &e))?;
    let r = if md.is_dir() { std::fs::remove_dir_all(&image.path) } else { std::fs::remove_file(&image.path) };
    r.map_err(|e| io_error("remove", &image.path, &e))?;
    let dir = image.path.parent().unwrap_or(Path::new("/"));
    for f in settings_files(&image.name, dir) {
        match std::fs::remove_file(&f) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error("remove", &f, &e)),
            _ => {}
        }
    }
    Ok(())
}

/// The processes using `image`: whose root directory is the image's (a running container),
/// or that live in the machine's scope `machine-NAME.scope`.
pub fn users(image: &Image) -> Vec<i32> {
    let Ok(md) = std::fs::metadata(&image.path) else { return Vec::new() };
    let scope = format!("/{}", crate::cgroup::scope_name(&image.name));
    let Ok(proc) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<i32> = proc
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let root = std::fs::metadata(format!("/proc/{pid}/root"));
            let same_root = root.is_ok_and(|r| (r.dev(), r.ino()) == (md.dev(), md.ino()));
            let in_scope = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .is_ok_and(|c| c.lines().any(|l| l.ends_with(&scope) || l.contains(&format!("{scope}/"))));
            same_root || in_scope
        })
        .collect();
    crate::sort::sort(&mut pids);
    pids
}

/// Copies directory `source` to a new image `name` in [`super::DEFAULT_DIR`] (created if
/// missing): `clone` and `import-fs`. The copy keeps everything (`copy::copy_tree`) and appears
/// under its name only when complete. `force` first removes an image of that name.
pub fn copy_in(source: &Path, name: &str, force: bool) -> Result<Image> {
    if !name_is_valid(name) {
        return Err(Error::msg(format!("invalid image name \"{name}\"")));
    }
    if let Some(old) = find(name, &HostProbe) {
        if !force {
            return Err(Error::msg(format!("image \"{name}\" already exists")).hint("--force replaces it"));
        }
        remove(&old)?;
    }
    let dest = Path::new(super::DEFAULT_DIR).join(name);
    match crate::template::create(&dest, source)? {
        Some(stats) => log::debug!("{}: {stats:?}", dest.display()),
        None => return Err(Error::msg(format!("image \"{name}\" already exists"))),
    }
    find(name, &HostProbe)
        .ok_or_else(|| Error::msg(format!("{}: made, but not found as image \"{name}\"", dest.display())))
}

/// `clone`: image `image` copied to `new`, with its `.nspawn` files (each copied next to
/// itself, as systemd's `image_clone()`).
pub fn clone(image: &Image, new: &str) -> Result<Image> {
    if image.kind == Kind::Raw {
        return Err(Error::msg(format!("cannot clone image \"{}\": raw images are not supported yet", image.name)));
    }
    let made = copy_in(&image.path, new, false)?;
    let dir = image.path.parent().unwrap_or(Path::new("/"));
    for (from, to) in
        settings_files(&image.name, dir).into_iter().zip(settings_files(new, Path::new(super::DEFAULT_DIR)))
    {
        let to = if from.starts_with(dir) { to } else { from.with_file_name(format!("{new}.nspawn")) };
        match std::fs::read(&from) {
            Ok(bytes) => write_new(&to, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("read", &from, &e)),
        }
    }
    Ok(made)
}

/// Writes a new file (never over an existing one).
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_error("create", path, &e))?;
    f.write_all(bytes).map_err(|e| io_error("write", path, &e))
}
