//! Where a machine's settings file is looked for (nspawn's `load_settings()`, plus
//! spawnbox's own directories first), as a pure function of an `exists` test.

use std::path::{Path, PathBuf};

/// spawnbox's own directories, searched first (trusted; the only ones whose files may use
/// spawnbox's extension keys).
pub const SPAWNBOX_DIRS: [&str; 2] = ["/etc/spawnbox", "/run/spawnbox"];

/// The admin's directories nspawn searches (trusted).
pub const SYSTEMD_DIRS: [&str; 2] = ["/etc/systemd/nspawn", "/run/systemd/nspawn"];

/// Which kind of place a settings file was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// [`SPAWNBOX_DIRS`].
    Spawnbox,
    /// [`SYSTEMD_DIRS`].
    Systemd,
    /// Next to the image or root directory (`/var/lib/machines/NAME.nspawn`): untrusted unless
    /// `--settings=trusted`.
    Image,
}

/// A settings file found by [`search`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub location: Location,
}

impl Found {
    /// Whether nspawn trusts a file found there by default (`--settings=yes`).
    pub fn trusted_by_default(&self) -> bool {
        self.location != Location::Image
    }
}

/// The first of the candidate files of machine `machine` that `exists`: `NAME.nspawn` in
/// [`SPAWNBOX_DIRS`], then [`SYSTEMD_DIRS`], then next to `image` (the `-i` image file or the
/// `-D` directory; none for the host's root `/`). `None` for a name that cannot be a file
/// name (nspawn's machine names never are).
pub fn search(machine: &str, image: Option<&Path>, exists: &dyn Fn(&Path) -> bool) -> Option<Found> {
    if machine.is_empty() || machine.contains('/') || machine == "." || machine == ".." {
        return None;
    }
    let file = format!("{machine}.nspawn");
    let trusted = SPAWNBOX_DIRS
        .iter()
        .map(|d| (*d, Location::Spawnbox))
        .chain(SYSTEMD_DIRS.iter().map(|d| (*d, Location::Systemd)))
        .map(|(d, location)| Found { path: Path::new(d).join(&file), location });
    let beside = image.and_then(Path::parent).map(|dir| Found { path: dir.join(&file), location: Location::Image });
    trusted.chain(beside).find(|f| exists(&f.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(path: &str, location: Location) -> Option<Found> {
        Some(Found { path: path.into(), location })
    }

    #[test]
    fn search_order() {
        let dir = Path::new("/var/lib/machines/web");
        let all = |_: &Path| true;
        assert_eq!(search("web", Some(dir), &all), found("/etc/spawnbox/web.nspawn", Location::Spawnbox));
        let only = |names: &'static [&'static str]| move |p: &Path| names.iter().any(|n| Path::new(n) == p);
        let f = only(&["/run/systemd/nspawn/web.nspawn", "/var/lib/machines/web.nspawn"]);
        assert_eq!(search("web", Some(dir), &f), found("/run/systemd/nspawn/web.nspawn", Location::Systemd));
        let f = only(&["/etc/systemd/nspawn/web.nspawn", "/run/spawnbox/web.nspawn"]);
        assert_eq!(search("web", Some(dir), &f), found("/run/spawnbox/web.nspawn", Location::Spawnbox));
        let f = only(&["/var/lib/machines/web.nspawn"]);
        let beside = search("web", Some(dir), &f);
        assert_eq!(beside, found("/var/lib/machines/web.nspawn", Location::Image));
        assert!(!beside.is_some_and(|b| b.trusted_by_default()));
        // A raw image: next to the file.
        let f = only(&["/srv/images/web.nspawn"]);
        let raw = Path::new("/srv/images/web.raw");
        assert_eq!(search("web", Some(raw), &f), found("/srv/images/web.nspawn", Location::Image));
    }

    #[test]
    fn nothing_found() {
        let none = |_: &Path| false;
        assert_eq!(search("web", Some(Path::new("/var/lib/machines/web")), &none), None);
        // The host's root has no parent to look in.
        let all = |p: &Path| !p.starts_with("/etc") && !p.starts_with("/run");
        assert_eq!(search("host", Some(Path::new("/")), &all), None);
        assert_eq!(search("host", None, &all), None);
        for bad in ["", "a/b", ".", ".."] {
            assert_eq!(search(bad, None, &|_: &Path| true), None, "{bad:?}");
        }
    }
}
