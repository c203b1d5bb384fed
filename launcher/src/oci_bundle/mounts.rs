//! A bundle's `mounts`, `linux.maskedPaths` and `linux.readonlyPaths` as nspawn's
//! `oci_mounts()`, `oci_masked_paths()` and `oci_readonly_paths()` make them: nspawn mounts
//! its own API file systems, so config mounts on those places are skipped; bind mounts and
//! tmpfs become `--bind`/`--tmpfs` custom mounts, masked paths `--inaccessible`, read-only
//! paths `--bind-ro=+PATH:PATH`.

use super::{refuse, Bundle};
use crate::error::Result;
use crate::runtime_spec::{Config, Mount};
use crate::settings::{BindIdmap, CustomMount, MountSource, SettingsMask};
use std::path::{Component, Path, PathBuf};

/// The places nspawn mounts itself (its `oci_exclude_mount()`), and everything below
/// `/sys/fs/cgroup`.
const OWN_MOUNTS: [&str; 23] = [
    "/dev",
    "/dev/mqueue",
    "/dev/pts",
    "/dev/shm",
    "/proc",
    "/proc/acpi",
    "/proc/apm",
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/kallsyms",
    "/proc/kcore",
    "/proc/keys",
    "/proc/scsi",
    "/proc/sys",
    "/proc/sys/net",
    "/proc/sysrq-trigger",
    "/proc/timer_list",
    "/run",
    "/sys",
    "/sys/fs/selinux",
    "/tmp",
];

/// Whether spawnbox mounts `p` itself, so the bundle's entry for it is skipped.
pub(super) fn is_own_mount(p: &Path) -> bool {
    OWN_MOUNTS.iter().any(|m| Path::new(m) == p) || p.starts_with("/sys/fs/cgroup")
}

/// An absolute container path, normalised; `..` refused (as for `--bind`).
fn destination(at: &str, p: &str) -> Result<PathBuf> {
    if !p.starts_with('/') {
        return Err(refuse(at, format!("must be an absolute path: {p:?}")));
    }
    let path = Path::new(p);
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(refuse(at, format!("must not contain \"..\": {p:?}")));
    }
    Ok(crate::spec::normalize(path))
}

/// Fills `custom_mounts` from `mounts`, `linux.maskedPaths` and `linux.readonlyPaths`.
pub(super) fn mounts(config: &Config, bundle: &Path, b: &mut Bundle) -> Result<()> {
    let mut list = Vec::new();
    for (i, m) in config.mounts.iter().enumerate() {
        let dest = destination(&format!("mounts[{i}].destination"), &m.destination)?;
        if is_own_mount(&dest) {
            continue;
        }
        list.push(mount(i, m, dest, bundle)?);
    }
    for (i, p) in config.linux.masked_paths.iter().enumerate() {
        let dest = destination(&format!("linux.maskedPaths[{i}]"), p)?;
        if is_own_mount(&dest) {
            continue;
        }
        // As nspawn (and runc): a path that does not exist is not an error.
        b.graceful.push(dest.clone());
        list.push(CustomMount::Inaccessible { destination: dest });
    }
    for (i, p) in config.linux.readonly_paths.iter().enumerate() {
        let dest = destination(&format!("linux.readonlyPaths[{i}]"), p)?;
        if is_own_mount(&dest) {
            continue;
        }
        list.push(CustomMount::Bind {
            source: MountSource::InRoot(dest.clone()),
            destination: dest,
            read_only: true,
            recursive: true,
            idmap: BindIdmap::None,
        });
    }
    if !list.is_empty() {
        b.settings.custom_mounts = list;
        b.settings.given |= SettingsMask::CUSTOM_MOUNTS;
    }
    Ok(())
}

/// One of `mounts` that spawnbox does not make itself.
fn mount(i: usize, m: &Mount, destination: PathBuf, bundle: &Path) -> Result<CustomMount> {
    let at = format!("mounts[{i}]");
    let mapped = |maps: &Option<Vec<_>>| maps.as_ref().is_some_and(|v| !v.is_empty());
    if mapped(&m.uid_mappings) || mapped(&m.gid_mappings) {
        return Err(refuse(format!("{at}.uidMappings"), "idmapped mounts are not supported with --oci-bundle"));
    }
    let kind = m.kind.as_deref();
    // runc's convention: type "none" (or none at all) with a bind option is a bind mount.
    let binds = m.options.iter().any(|o| o == "bind" || o == "rbind");
    match kind {
        None | Some("bind") => bind(&at, m, destination, bundle),
        Some("none") if binds => bind(&at, m, destination, bundle),
        Some("tmpfs") => {
            if destination == Path::new("/") {
                return Err(refuse(format!("{at}.destination"), "cannot mount a tmpfs on /"));
            }
            let options = m.options.join(",");
            crate::mounts::tmpfs_options(&options).map_err(|e| e.context(format!("{at}.options")))?;
            Ok(CustomMount::Tmpfs { destination, options })
        }
        Some(t) => Err(refuse(
            format!("{at}.type"),
            format!("{t:?} mounts are not supported with --oci-bundle (bind and tmpfs are)"),
        )),
    }
}

/// A bind mount: the source taken from the bundle when relative (nspawn), `rbind` unless the
/// options say `bind` (nspawn binds recursively by default), `ro`/`rw`. Propagation options
/// are spawnbox's to decide; any other option (`nosuid`, `nodev`, `noexec`, ...) is refused
/// rather than dropped.
fn bind(at: &str, m: &Mount, destination: PathBuf, bundle: &Path) -> Result<CustomMount> {
    let Some(source) = m.source.as_deref().filter(|s| !s.is_empty()) else {
        return Err(refuse(format!("{at}.source"), "a bind mount needs a source"));
    };
    let source = crate::spec::normalize(&bundle.join(source));
    let (mut read_only, mut recursive) = (false, true);
    for (j, o) in m.options.iter().enumerate() {
        match o.as_str() {
            "bind" => recursive = false,
            "rbind" => recursive = true,
            "ro" | "rro" => read_only = true,
            "rw" | "rrw" => read_only = false,
            "private" | "rprivate" | "slave" | "rslave" | "shared" | "rshared" | "unbindable" | "runbindable" => {}
            other => {
                return Err(refuse(
                    format!("{at}.options[{j}]"),
                    format!("{other:?} is not supported on bind mounts with --oci-bundle"),
                ))
            }
        }
    }
    Ok(CustomMount::Bind {
        source: MountSource::Host(source),
        destination,
        read_only,
        recursive,
        idmap: BindIdmap::None,
    })
}
