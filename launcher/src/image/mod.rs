//! Machine images: where `-M NAME` and `spawnctl` find them (systemd's `image_find()` for the
//! machine class), which names are valid, and which images are read-only.
//!
//! An image is a directory (or a symlink to one) named `NAME`, or a raw disk image
//! `NAME.raw`, in one of [`SEARCH_PATH`]; the first directory that has one wins. The search is a
//! pure function of a [`Probe`], so its order is tested on data; [`HostProbe`] asks the host.

use crate::error::{Error, Result};
use crate::settings::Settings;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// systemd's search path for machine images, in order (`src/shared/discover-image.c`).
/// `/etc/machines` and `/run/machines` hold symlinks to images kept elsewhere.
pub const SEARCH_PATH: [&str; 6] = [
    "/etc/machines",
    "/run/machines",
    "/var/lib/machines",
    "/var/lib/container",
    "/usr/local/lib/machines",
    "/usr/lib/machines",
];

/// Where `spawnctl import-*` and `clone` put new images.
pub const DEFAULT_DIR: &str = "/var/lib/machines";

/// What an image is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory tree (or a symlink to one).
    Directory,
    /// A btrfs subvolume.
    Subvolume,
    /// A raw disk image file (`NAME.raw`): found, but not supported yet.
    Raw,
}

impl Kind {
    /// machinectl's word for the kind (`list-images`' TYPE column).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Directory => "directory",
            Kind::Subvolume => "subvolume",
            Kind::Raw => "raw",
        }
    }
}

/// An image found in the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    /// The directory or file (as found: a symlink stays a symlink).
    pub path: PathBuf,
    pub kind: Kind,
    /// Below `/usr`, marked immutable (`chattr +i`, machinectl's `read-only`), or a read-only
    /// subvolume.
    pub read_only: bool,
}

/// What the search asks of the file system.
pub trait Probe {
    /// The kind of `path` (following a symlink), `None` if it is missing or neither a
    /// directory nor a regular file.
    fn kind(&self, path: &Path) -> Option<Kind>;
    /// Whether the image at `path` is marked read-only.
    fn marked_read_only(&self, path: &Path) -> bool;
    /// The names in directory `dir` (none if it cannot be read).
    fn names(&self, dir: &Path) -> Vec<String>;
}

/// Whether `name` may name an image (systemd's `image_name_is_valid()`): a file name (not
/// empty, `.` or `..`, no `/`, at most 255 bytes), no control characters, not a temporary
/// `.#` name.
pub fn name_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.chars().any(char::is_control)
        && !name.starts_with(".#")
}

/// The image named `name`: the first of `SEARCH_PATH/NAME` (a directory) and
/// `SEARCH_PATH/NAME.raw` (a file), directory by directory.
pub fn find(name: &str, probe: &dyn Probe) -> Option<Image> {
    if !name_is_valid(name) {
        return None;
    }
    SEARCH_PATH.iter().find_map(|dir| found(Path::new(dir), name, probe))
}

/// Every image in the search path, sorted by name; of two with the same name, the one found
/// first. Hidden images (`.`-prefixed names) only with `all`.
pub fn list(probe: &dyn Probe, all: bool) -> Vec<Image> {
    let mut out: Vec<Image> = Vec::new();
    for dir in SEARCH_PATH.iter().map(Path::new) {
        for entry in probe.names(dir) {
            let name = entry.strip_suffix(".raw").unwrap_or(&entry);
            if (name.starts_with('.') && !all) || !name_is_valid(name) || out.iter().any(|i| i.name == name) {
                continue;
            }
            if let Some(image) = found(dir, name, probe) {
                out.push(image);
            }
        }
    }
    crate::sort::sort_by(&mut out, |a, b| a.name.cmp(&b.name));
    out
}

/// Image `name` in `dir`, if there is one.
fn found(dir: &Path, name: &str, probe: &dyn Probe) -> Option<Image> {
    let candidates = [(dir.join(name), false), (dir.join(format!("{name}.raw")), true)];
    candidates.into_iter().find_map(|(path, raw)| {
        let kind = probe.kind(&path)?;
        if (kind == Kind::Raw) != raw {
            return None;
        }
        let read_only = path.starts_with("/usr") || probe.marked_read_only(&path);
        Some(Image { name: name.to_string(), path, kind, read_only })
    })
}

/// `-M NAME` without `-D`, `-i` or `--oci-bundle` (nspawn's `determine_names()`): the root
/// directory is image `NAME`, read-only if the image is (unless `-x`).
pub fn locate(s: &mut Settings, probe: &dyn Probe) -> Result<()> {
    if s.directory.is_some() || s.image.is_some() || s.oci_bundle.is_some() {
        return Ok(());
    }
    let Some(name) = s.machine.clone() else { return Ok(()) };
    match find(&name, probe) {
        // `--template=` then makes `/var/lib/machines/NAME` (`spec::root_directory`).
        None if s.template.is_some() => Ok(()),
        None => Err(Error::msg(format!("--machine={name}: no image named {name} in {}", SEARCH_PATH.join(", ")))
            .hint("-D DIR runs a directory kept elsewhere")),
        Some(Image { kind: Kind::Raw, path, .. }) => {
            Err(Error::msg(format!("--machine={name}: {}: raw images are not supported yet", path.display())))
        }
        Some(image) => {
            s.directory = Some(image.path);
            s.read_only |= image.read_only && !s.ephemeral;
            Ok(())
        }
    }
}

/// btrfs subvolumes have inode number 256 (`BTRFS_FIRST_FREE_OBJECTID`).
const BTRFS_SUBVOL_INO: u64 = 256;
/// `BTRFS_SUPER_MAGIC`.
const BTRFS_MAGIC: i64 = 0x9123_683E;

/// The host's file system.
pub struct HostProbe;

impl Probe for HostProbe {
    #[allow(clippy::useless_conversion)] // f_type is 32 bits wide on 32-bit targets
    fn kind(&self, path: &Path) -> Option<Kind> {
        let md = std::fs::metadata(path).ok()?;
        if md.is_file() {
            return Some(Kind::Raw);
        }
        if !md.is_dir() {
            return None;
        }
        let btrfs = rustix::fs::statfs(path).is_ok_and(|s| i64::from(s.f_type) == BTRFS_MAGIC);
        Some(if btrfs && md.ino() == BTRFS_SUBVOL_INO { Kind::Subvolume } else { Kind::Directory })
    }

    fn marked_read_only(&self, path: &Path) -> bool {
        immutable(path).unwrap_or(false)
    }

    fn names(&self, dir: &Path) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
        rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect()
    }
}

/// Whether `path` carries the immutable flag (`chattr +i`), which is how systemd marks a
/// directory or raw image read-only.
pub fn immutable(path: &Path) -> rustix::io::Result<bool> {
    use rustix::fs::{ioctl_getflags, open, IFlags, Mode, OFlags};
    let fd = open(path, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY, Mode::empty())?;
    Ok(ioctl_getflags(&fd)?.contains(IFlags::IMMUTABLE))
}

mod manage;
pub use manage::{clone, copy_in, get, remove, rename, set_read_only, users};

#[cfg(test)]
mod tests;
