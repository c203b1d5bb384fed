//! `.nspawn` settings files (systemd.nspawn(5)): [`parse`] turns a file's bytes into the
//! `Settings` it asks for, with `given` marking the groups it set, as nspawn's
//! `settings_load()` and the value tests of its `merge_settings()` do.
//!
//! `ini.rs` lexes systemd's INI syntax; `keys.rs` is the table of keys; `handlers.rs` parses
//! each key's value with the command line's value parsers; `words.rs` splits values into
//! words; `search.rs` is where the file is looked for. Unknown sections and keys are warnings,
//! as in systemd; a malformed value of a known key is an error (nspawn logs it and ignores
//! the line; spawnbox stops before anything is set up). No drop-ins: nspawn reads one file.

mod handlers;
mod ini;
mod keys;
mod search;
mod words;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_corpus;
#[cfg(test)]
mod tests_keys;

pub use keys::{Key, Section, KEYS};
pub use search::{search, Found, Location, SPAWNBOX_DIRS, SYSTEMD_DIRS};

use super::{PrivateUsers, Settings, SettingsMask, UserNamespaceOwnership};
use crate::error::Error;
use std::path::Path;

/// A parsed settings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// What the file asks for; `given` holds the groups it set (an empty assignment that
    /// reset a key leaves its group unset, as in nspawn).
    pub settings: Settings,
    /// `FILE:LINE: ...` warnings about what was ignored (unknown sections and keys, lines
    /// without `=`, assignments outside a section).
    pub warnings: Vec<String>,
}

/// The parse state: the settings so far, and nspawn's tristates that `Settings` keeps as
/// plain booleans (their group tells "no" from "not set").
#[derive(Debug, Default)]
pub struct State {
    s: Settings,
    ephemeral: Option<bool>,
    read_only: Option<bool>,
    private: Option<bool>,
    veth: Option<bool>,
}

/// Where the parser is in the file: the current section, or none (before the first header),
/// or an unknown one (whose lines are skipped without a word, as systemd does).
#[derive(Clone, Copy)]
enum Current {
    None,
    Known(Section),
    Ignored,
}

/// Parses a `.nspawn` file. `file_name` only names the file in messages
/// (`/etc/systemd/nspawn/web.nspawn:7: [Files] Bind=: ...`).
pub fn parse(file_name: &Path, bytes: &[u8]) -> Result<Parsed, Error> {
    let file = file_name.display();
    let lines = ini::lines(bytes).map_err(|e| Error::msg(format!("{file}:{}: {}", e.line, e.message)))?;
    let mut st = State::default();
    let mut warnings = Vec::new();
    let mut current = Current::None;
    for ini::Line { number, item } in lines {
        let at = format!("{file}:{number}");
        let (section, key, value) = match (item, current) {
            (ini::Item::Section(name), _) => {
                current = match Section::from_name(&name) {
                    Some(s) => Current::Known(s),
                    None if name.starts_with("X-") => Current::Ignored,
                    None => {
                        warnings.push(format!("{at}: [{name}]: unknown section, ignoring"));
                        Current::Ignored
                    }
                };
                continue;
            }
            (_, Current::Ignored) => continue,
            (_, Current::None) => {
                warnings.push(format!("{at}: assignment outside of a section, ignoring"));
                continue;
            }
            (ini::Item::MissingEquals, Current::Known(s)) => {
                warnings.push(format!("{at}: [{}]: missing '=', ignoring line", s.name()));
                continue;
            }
            (ini::Item::MissingKey, Current::Known(s)) => {
                warnings.push(format!("{at}: [{}]: missing key name before '=', ignoring line", s.name()));
                continue;
            }
            (ini::Item::Assignment { key, value }, Current::Known(s)) => (s, key, value),
        };
        let Some(k) = keys::find(section, &key) else {
            if !key.starts_with("X-") {
                warnings.push(unknown_key(&at, section, &key));
            }
            continue;
        };
        (k.apply)(&mut st, &value).map_err(|e| e.context(format!("{at}: [{}] {key}=", section.name())))?;
    }
    Ok(Parsed { settings: finish(st), warnings })
}

/// The warning for a key the section does not have, with a hint when another one does.
fn unknown_key(at: &str, section: Section, key: &str) -> String {
    let mut w = format!("{at}: [{}] {key}=: unknown key, ignoring", section.name());
    if let Some(elsewhere) = keys::sections_of(key).next() {
        w.push_str(&format!(" (it belongs in [{}])", elsewhere.name()));
    }
    w
}

/// The settings once every line is read: nspawn's implications between keys, the groups
/// given, and what spawnbox does not implement yet.
fn finish(st: State) -> Settings {
    let mut s = st.s;
    s.ephemeral = st.ephemeral == Some(true);
    s.read_only = st.read_only == Some(true);
    // nspawn's settings_network_veth() and settings_private_network().
    let links = !s.network_interfaces.is_empty()
        || !s.network_macvlan.is_empty()
        || !s.network_ipvlan.is_empty()
        || !s.network_veth_extra.is_empty();
    s.network_veth = st.veth == Some(true) || s.network_bridge.is_some() || s.network_zone.is_some();
    s.private_network = st.private == Some(true) || s.network_veth || links;
    // settings_load(): the user namespace mode and the ownership come as a pair.
    match (s.private_users, s.private_users_ownership) {
        (Some(mode), None) => {
            let chown = mode == PrivateUsers::Pick;
            s.private_users_ownership =
                Some(if chown { UserNamespaceOwnership::Chown } else { UserNamespaceOwnership::Off });
        }
        (None, Some(_)) => s.private_users = Some(PrivateUsers::No),
        _ => {}
    }

    type G = SettingsMask;
    let network = st.private.is_some() || st.veth.is_some() || s.network_veth || links;
    let mut given = G::EMPTY;
    for (set, group) in [
        (s.start_mode.is_some() || !s.parameters.is_empty(), G::START_MODE),
        (st.ephemeral.is_some(), G::EPHEMERAL),
        (!s.setenv.is_empty(), G::ENVIRONMENT),
        (s.user.is_some(), G::USER),
        (s.chdir.is_some(), G::WORKING_DIRECTORY),
        (s.pivot_root.is_some(), G::PIVOT_ROOT),
        (s.capability | s.drop_capability | s.ambient_capability != 0, G::CAPABILITY),
        (s.kill_signal.is_some(), G::KILL_SIGNAL),
        (s.personality.is_some(), G::PERSONALITY),
        (s.uuid.is_some(), G::MACHINE_ID),
        (st.read_only.is_some(), G::READ_ONLY),
        (s.volatile.is_some(), G::VOLATILE_MODE),
        (!s.custom_mounts.is_empty(), G::CUSTOM_MOUNTS),
        (network, G::NETWORK),
        (!s.ports.is_empty(), G::EXPOSE_PORTS),
        (s.private_users.is_some(), G::USERNS),
        (!s.bind_user.is_empty() || s.bind_user_shell.is_some(), G::BIND_USER),
        (s.notify_ready.is_some(), G::NOTIFY_READY),
        (!s.system_call_filter.is_empty(), G::SYSCALL_FILTER),
        (s.hostname.is_some(), G::HOSTNAME),
        (s.no_new_privileges.is_some(), G::NO_NEW_PRIVILEGES),
        (s.oom_score_adjust.is_some(), G::OOM_SCORE_ADJUST),
        (s.cpu_affinity.is_some(), G::CPU_AFFINITY),
        (s.resolv_conf.is_some(), G::RESOLV_CONF),
        (s.link_journal.is_some(), G::LINK_JOURNAL),
        (s.timezone.is_some(), G::TIMEZONE),
        (s.suppress_sync.is_some(), G::SUPPRESS_SYNC),
        (s.network_nat.is_some() || s.network_address.is_some(), G::NETWORK_ADDRESSING),
    ] {
        if set {
            given |= group;
        }
    }
    for l in &s.rlimits {
        given |= G::rlimit(l.resource);
    }
    s.given = given;

    // The option names the command line records for the same values (`cli/apply.rs`).
    let temporary_bind = |ro: bool| {
        s.custom_mounts.iter().any(|m| {
            matches!(m, crate::settings::CustomMount::Bind { source: crate::settings::MountSource::Host(p), read_only, .. }
                if p.as_os_str().is_empty() && *read_only == ro)
        })
    };
    let unsupported = [
        (s.private_users == Some(PrivateUsers::Managed), "private-users"),
        (temporary_bind(false), "bind"),
        (temporary_bind(true), "bind-ro"),
    ];
    s.unsupported = unsupported.iter().filter(|(set, _)| *set).map(|(_, name)| *name).collect();
    s
}
