//! The command line: systemd-nspawn compatible parsing of spawnbox's argv into `Settings`.
//!
//! `table.rs` lists every option; `getopt.rs` walks argv as getopt_long does; the handlers in
//! `apply.rs` use the value parsers (`values*.rs`, `mounts.rs`) to fill in `Settings`, and
//! each option marks its group in `Settings::given`; `verify.rs` checks the rules between
//! options.
#![allow(dead_code)]

mod apply;
pub mod environ;
mod getopt;
mod help;
pub(crate) mod mounts;
mod table;
pub use table::{ArgKind, Group, OptSpec, OPTIONS};
pub(crate) mod values;
pub use values::{bool_word, signal_name as short_signal_name, SIGRTMIN};
pub use values_sec::{CAPABILITIES, DEFAULT_RETAINED_CAPS};
pub(crate) mod values_net;
pub(crate) mod values_sec;
mod verify;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_golden;
#[cfg(test)]
mod tests_mask;
#[cfg(test)]
mod tests_rules;

use crate::error::Error;
use crate::settings::{Settings, SettingsMask};
use apply::{Flow, Seen, State};
use std::ffi::OsString;
use std::path::Path;

/// What the command line asks for.
#[allow(clippy::large_enum_variant)] // built once per run
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run a container with these settings.
    Run(Settings),
    /// `-h/--help`: print [`help_text`] and exit 0.
    Help,
    /// `--version`: print [`version_text`] and exit 0.
    Version,
    /// `--X=help` (`--resolv-conf=help`, `--capability=help`, ...): print this text to stdout
    /// and exit 0.
    ListValues(String),
}

/// Parses spawnbox's arguments (without argv[0]) as systemd-nspawn does. `getenv` looks up
/// spawnbox's own environment (for `-E NAME`); `cwd` makes relative paths absolute.
pub fn parse(args: &[OsString], getenv: &dyn Fn(&str) -> Option<String>, cwd: &Path) -> Result<Parsed, Error> {
    let mut st = State { settings: Settings::default(), seen: Seen::default(), getenv, cwd };
    let mut opts = getopt::Getopt::new(args, table::OPTIONS);
    while let Some(found) = opts.next_option()? {
        let spec = found.spec;
        let name =
            if spec.long.is_empty() { format!("-{}", spec.short.unwrap_or('?')) } else { format!("--{}", spec.long) };
        let value = match &found.value {
            None => None,
            Some(os) => Some(os.to_str().ok_or_else(|| Error::msg(format!("{name}: value is not valid UTF-8")))?),
        };
        let flow = (spec.apply)(&mut st, value).map_err(|e| match value {
            Some(v) => e.context(format!("{name}={v}")),
            None => e.context(&name),
        })?;
        if let (Flow::Continue, table::Marks::Group(group)) = (&flow, spec.marks) {
            st.settings.given |= group;
        }
        match flow {
            Flow::Exit(parsed) => return Ok(parsed),
            Flow::Continue if !spec.supported && !spec.long.is_empty() => st.unsupported(spec.long),
            Flow::Continue => {}
        }
    }
    st.settings.parameters = opts.operands().to_vec();
    if !st.settings.parameters.is_empty() {
        // As nspawn: positional arguments beat a settings file's `Parameters=` and `Boot=`.
        st.settings.given |= SettingsMask::START_MODE;
    }
    environ::apply(&mut st.settings, getenv)?;
    verify::finish(&mut st.settings);
    verify::verify(&st.settings, &st.seen)?;
    Ok(Parsed::Run(st.settings))
}

/// Checks the cross-option rules again on settings a `.nspawn` file was merged into (the
/// file cannot give the command-line-only combinations `Seen` records).
pub fn verify_merged(s: &Settings) -> Result<(), Error> {
    verify::verify(s, &apply::Seen::default())
}

/// The `--help` text: options listed in nspawn's groups.
pub fn help_text() -> String {
    help::help_text()
}

/// The `--version` text.
pub fn version_text() -> String {
    help::version_text()
}
