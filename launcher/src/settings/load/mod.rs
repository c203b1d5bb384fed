//! Loading a machine's `.nspawn` file (nspawn's `load_settings()`): find it, read it, parse
//! it and merge it into the command line's settings. [`apply`] is pure; [`load`] reads.

use super::file::{self, Found, Location};
use super::{file_trusted, merge_from, Settings, SettingsMask, SettingsMode};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The largest settings file read: files next to images are hostile input.
const MAX_SIZE: u64 = 1 << 20;

/// The command line's settings with a settings file merged in.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    /// The file used, if any.
    pub file: Option<PathBuf>,
    /// What the parser and the merge ignored, each once, for the caller to log as warnings.
    pub warnings: Vec<String>,
}

/// The option names `file::parse` records as not supported, and the key that sets each
/// (for the error), with the group that carries it.
const UNSUPPORTED_KEYS: [(&str, &str, SettingsMask); 3] = [
    ("private-users", "PrivateUsers=managed", SettingsMask::USERNS),
    ("bind", "Bind= without a source", SettingsMask::CUSTOM_MOUNTS),
    ("bind-ro", "BindReadOnly= without a source", SettingsMask::CUSTOM_MOUNTS),
];

/// Finds machine `machine`'s settings file (for root directory or image file `image`) and
/// merges it into `cli`; `cli` unchanged when `--settings=no` or there is none.
pub fn load(cli: Settings, machine: &str, image: Option<&Path>) -> Result<Loaded> {
    if cli.settings_mode == Some(SettingsMode::No) {
        return Ok(Loaded { settings: cli, file: None, warnings: Vec::new() });
    }
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let Some(found) = file::search(machine, image, &exists) else {
        return Ok(Loaded { settings: cli, file: None, warnings: Vec::new() });
    };
    let bytes = read(&found.path)?;
    apply(cli, &found, &bytes)
}

/// Merges the settings file `found`, whose contents are `bytes`, into `cli`: trusted as its
/// location and `--settings=` say, spawnbox's extension keys only from spawnbox's own
/// directories. A malformed value, or a value spawnbox does not support yet in a group that
/// is used, is an error.
pub fn apply(cli: Settings, found: &Found, bytes: &[u8]) -> Result<Loaded> {
    let parsed = file::parse(&found.path, bytes)?;
    let trusted = file_trusted(cli.settings_mode, found.trusted_by_default());
    let extensions = found.location == Location::Spawnbox;
    let merged = merge_from(&cli, &parsed.settings, trusted, extensions);
    let taken = merged.settings.given.difference(cli.given);
    for (name, key, group) in UNSUPPORTED_KEYS {
        if parsed.settings.unsupported.contains(&name) && taken.intersects(group) {
            return Err(Error::msg(format!("{}: {key}: not supported yet", found.path.display())));
        }
    }
    let mut warnings = parsed.warnings;
    for ignored in &merged.ignored {
        let w = ignored.message(&found.path);
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    Ok(Loaded { settings: merged.settings, file: Some(found.path.clone()), warnings })
}

/// Reads a settings file: a regular file (never a FIFO or device) of at most [`MAX_SIZE`].
fn read(path: &Path) -> Result<Vec<u8>> {
    crate::host_file::read(path, MAX_SIZE, "larger than 1 MiB, not a settings file")
}

#[cfg(test)]
mod tests;
