//! The key parsers: each applies one value to the `State`, with the command line's value
//! parsers (`cli::values*`, `cli::mounts`) so that a key and its option take the same syntax.
//!
//! As nspawn: list keys append and scalar keys replace; a value is split into words only
//! where nspawn's parser does (`Parameters=`, `Environment=` with quotes; `Capability=`,
//! `SystemCallFilter=`, `BindUser=`, `Interface=`, `MACVLAN=`, `IPVLAN=` at whitespace); the
//! others take the whole value, as the option does. An empty value resets the key: a scalar
//! to unset, a list to what the lines before added minus this key's entries.

use super::ini::string_is_safe;
use super::words::{split, Quoting};
use super::State;
use crate::cli::values_sec::{self as sec, CapSpec};
use crate::cli::{mounts, values as v, values_net as net};
use crate::error::Error;
use crate::settings::{CustomMount, LinkJournal, PrivateUsers, StartMode, UserNamespaceOwnership};

type Result<T = ()> = std::result::Result<T, Error>;

/// `None` for an empty value, else the parsed value.
fn opt<T>(value: &str, parse: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
    if value.is_empty() {
        Ok(None)
    } else {
        parse(value).map(Some)
    }
}

/// A boolean that may be unset (systemd's `config_parse_tristate`).
fn tristate(value: &str) -> Result<Option<bool>> {
    opt(value, v::parse_bool)
}

// [Exec]

/// `Boot=` and `ProcessTwo=` share the start mode; as nspawn, `yes` after the other one's
/// `yes`, or `no` after its own `yes`, is a conflict.
fn start_mode(st: &mut State, value: &str, mode: StartMode) -> Result {
    if value.is_empty() {
        st.s.start_mode = None;
        return Ok(());
    }
    let other = if mode == StartMode::Boot { StartMode::Pid2 } else { StartMode::Boot };
    let current = st.s.start_mode;
    let conflict = || Error::msg("conflicts with an earlier Boot= or ProcessTwo= setting");
    if v::parse_bool(value)? {
        if current == Some(other) {
            return Err(conflict());
        }
        st.s.start_mode = Some(mode);
    } else if current == Some(mode) {
        return Err(conflict());
    } else if current.is_none() {
        st.s.start_mode = Some(StartMode::Pid1);
    }
    Ok(())
}

/// `Boot=`.
pub fn boot(st: &mut State, value: &str) -> Result {
    start_mode(st, value, StartMode::Boot)
}

/// `ProcessTwo=`.
pub fn process_two(st: &mut State, value: &str) -> Result {
    start_mode(st, value, StartMode::Pid2)
}

/// `Ephemeral=`.
pub fn ephemeral(st: &mut State, value: &str) -> Result {
    st.ephemeral = tristate(value)?;
    Ok(())
}

/// `Parameters=`: words with shell-like quotes.
pub fn parameters(st: &mut State, value: &str) -> Result {
    if value.is_empty() {
        st.s.parameters.clear();
    }
    st.s.parameters.extend(split(value, Quoting::Unquote)?.into_iter().map(Into::into));
    Ok(())
}

/// `Environment=`: `NAME=VALUE` words with shell-like quotes; a later assignment of a name
/// replaces the earlier one in place, as `-E` does.
pub fn environment(st: &mut State, value: &str) -> Result {
    if value.is_empty() {
        st.s.setenv.clear();
    }
    for word in split(value, Quoting::Unquote)? {
        if !word.contains('=') {
            return Err(Error::msg(format!("expected NAME=VALUE: {word:?}")));
        }
        if let Some(entry) = v::parse_setenv(&word, &|_| None)? {
            v::replace_env(&mut st.s.setenv, entry);
        }
    }
    Ok(())
}

/// `User=`: as `--user=`, without quotes, backslashes or control characters (nspawn's
/// `CONFIG_PARSE_STRING_SAFE`).
pub fn user(st: &mut State, value: &str) -> Result {
    if !string_is_safe(value) {
        return Err(Error::msg("user name contains quotes, backslashes or control characters"));
    }
    st.s.user = opt(value, |u| Ok(u.to_string()))?;
    Ok(())
}

/// A capability list: words (commas also separate, as in the option).
fn capabilities(value: &str) -> Result<u64> {
    let mut mask = 0;
    for word in split(value, Quoting::Plain)? {
        match sec::parse_capabilities(&word)? {
            CapSpec::Mask(m) => mask |= m,
            CapSpec::Help => return Err(Error::msg(format!("unknown capability: {word:?}"))),
        }
    }
    Ok(mask)
}

/// `Capability=`.
pub fn capability(st: &mut State, value: &str) -> Result {
    st.s.capability = if value.is_empty() { 0 } else { st.s.capability | capabilities(value)? };
    Ok(())
}

/// `AmbientCapability=`.
pub fn ambient_capability(st: &mut State, value: &str) -> Result {
    st.s.ambient_capability = if value.is_empty() { 0 } else { st.s.ambient_capability | capabilities(value)? };
    Ok(())
}

/// `DropCapability=`.
pub fn drop_capability(st: &mut State, value: &str) -> Result {
    st.s.drop_capability = if value.is_empty() { 0 } else { st.s.drop_capability | capabilities(value)? };
    Ok(())
}

/// `KillSignal=`.
pub fn kill_signal(st: &mut State, value: &str) -> Result {
    st.s.kill_signal = opt(value, v::parse_signal)?;
    Ok(())
}

/// `Personality=`.
pub fn personality(st: &mut State, value: &str) -> Result {
    st.s.personality = opt(value, sec::parse_personality)?;
    Ok(())
}

/// `MachineID=`.
pub fn machine_id(st: &mut State, value: &str) -> Result {
    st.s.uuid = opt(value, v::parse_uuid)?;
    Ok(())
}

/// `WorkingDirectory=`.
pub fn working_directory(st: &mut State, value: &str) -> Result {
    st.s.chdir = opt(value, v::parse_chdir)?;
    Ok(())
}

/// `PivotRoot=`.
pub fn pivot_root(st: &mut State, value: &str) -> Result {
    st.s.pivot_root = opt(value, mounts::parse_pivot_root)?;
    Ok(())
}

/// `PrivateUsers=`: as `--private-users=`, except that `0` and `1` are booleans here, as in
/// nspawn's `config_parse_private_users()` (the option reads them as UID bases).
pub fn private_users(st: &mut State, value: &str) -> Result {
    st.s.private_users = opt(value, |s| match v::bool_word(s) {
        Some(true) => Ok(PrivateUsers::Yes),
        Some(false) => Ok(PrivateUsers::No),
        None => v::parse_private_users(Some(s)),
    })?;
    Ok(())
}

/// `NotifyReady=`.
pub fn notify_ready(st: &mut State, value: &str) -> Result {
    st.s.notify_ready = tristate(value)?;
    Ok(())
}

/// `SystemCallFilter=`: words; a leading `~` makes every word of the line a denial.
pub fn system_call_filter(st: &mut State, value: &str) -> Result {
    if value.is_empty() {
        st.s.system_call_filter.clear();
    }
    let (deny, list) = match value.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    for word in split(list, Quoting::Plain)? {
        st.s.system_call_filter.push(sec::syscall_filter_word(&word, deny)?);
    }
    Ok(())
}

/// `LimitX=` for resource number `R`: `SOFT[:HARD]`, as the value of `--rlimit=X=`. A
/// handler per resource for the key table; the work is [`set_limit`]'s, compiled once.
pub fn limit<const R: u32>(st: &mut State, value: &str) -> Result {
    set_limit(st, R, value)
}

fn set_limit(st: &mut State, resource: u32, value: &str) -> Result {
    let list = &mut st.s.rlimits;
    if value.is_empty() {
        list.retain(|l| l.resource != resource);
        return Ok(());
    }
    let limit = sec::parse_rlimit_value(resource, value)?;
    match list.iter_mut().find(|l| l.resource == resource) {
        Some(slot) => *slot = limit,
        None => list.push(limit),
    }
    Ok(())
}

/// `Hostname=`.
pub fn hostname(st: &mut State, value: &str) -> Result {
    st.s.hostname = v::parse_hostname(value)?;
    Ok(())
}

/// `NoNewPrivileges=`.
pub fn no_new_privileges(st: &mut State, value: &str) -> Result {
    st.s.no_new_privileges = tristate(value)?;
    Ok(())
}

/// `OOMScoreAdjust=`.
pub fn oom_score_adjust(st: &mut State, value: &str) -> Result {
    st.s.oom_score_adjust = opt(value, sec::parse_oom_score_adjust)?;
    Ok(())
}

/// `CPUAffinity=`: lines add up (nspawn's `parse_cpu_set_extend()`); one that names no CPU
/// resets.
pub fn cpu_affinity(st: &mut State, value: &str) -> Result {
    st.s.cpu_affinity = match (sec::parse_cpu_affinity(value)?, st.s.cpu_affinity.take()) {
        (Some(mut cpus), Some(old)) => {
            cpus.extend(old);
            crate::sort::sort(&mut cpus);
            cpus.dedup();
            Some(cpus)
        }
        (cpus, _) => cpus,
    };
    Ok(())
}

/// `ResolvConf=`.
pub fn resolv_conf(st: &mut State, value: &str) -> Result {
    st.s.resolv_conf = opt(value, v::parse_resolv_conf)?;
    Ok(())
}

/// `LinkJournal=`: as `--link-journal=`, and a boolean is `auto` or `no` (nspawn's
/// `parse_link_journal()`).
pub fn link_journal(st: &mut State, value: &str) -> Result {
    st.s.link_journal = opt(value, |s| match v::bool_word(s) {
        Some(true) => Ok(LinkJournal::Auto),
        Some(false) => Ok(LinkJournal::No),
        None => v::parse_link_journal(s),
    })?;
    Ok(())
}

/// `Timezone=`.
pub fn timezone(st: &mut State, value: &str) -> Result {
    st.s.timezone = opt(value, v::parse_timezone)?;
    Ok(())
}

/// `SuppressSync=`.
pub fn suppress_sync(st: &mut State, value: &str) -> Result {
    st.s.suppress_sync = tristate(value)?;
    Ok(())
}

// [Files]

/// `ReadOnly=`.
pub fn read_only(st: &mut State, value: &str) -> Result {
    st.read_only = tristate(value)?;
    Ok(())
}

/// `Volatile=`.
pub fn volatile(st: &mut State, value: &str) -> Result {
    st.s.volatile = opt(value, |s| v::parse_volatile(Some(s)))?;
    Ok(())
}

/// Adds a mount, or (empty value) drops the ones this key added before.
fn mount(
    st: &mut State,
    value: &str,
    mine: impl Fn(&CustomMount) -> bool,
    parse: impl FnOnce(&str) -> Result<CustomMount>,
) -> Result {
    if value.is_empty() {
        st.s.custom_mounts.retain(|m| !mine(m));
    } else {
        st.s.custom_mounts.push(parse(value)?);
    }
    Ok(())
}

fn bind_key(st: &mut State, value: &str, ro: bool) -> Result {
    let mine = |m: &CustomMount| matches!(m, CustomMount::Bind { read_only, .. } if *read_only == ro);
    mount(st, value, mine, |s| Ok(mounts::parse_bind(s, ro, None)?.mount))
}

/// `Bind=`: as `--bind=`, except that a relative source is refused.
pub fn bind(st: &mut State, value: &str) -> Result {
    bind_key(st, value, false)
}

/// `BindReadOnly=`: as `--bind-ro=`, except that a relative source is refused.
pub fn bind_read_only(st: &mut State, value: &str) -> Result {
    bind_key(st, value, true)
}

/// `TemporaryFileSystem=`.
pub fn temporary_file_system(st: &mut State, value: &str) -> Result {
    mount(st, value, |m| matches!(m, CustomMount::Tmpfs { .. }), mounts::parse_tmpfs)
}

/// `Inaccessible=`.
pub fn inaccessible(st: &mut State, value: &str) -> Result {
    mount(st, value, |m| matches!(m, CustomMount::Inaccessible { .. }), mounts::parse_inaccessible)
}

fn overlay_key(st: &mut State, value: &str, ro: bool) -> Result {
    let mine = |m: &CustomMount| matches!(m, CustomMount::Overlay { read_only, .. } if *read_only == ro);
    mount(st, value, mine, |s| Ok(mounts::parse_overlay(s, ro, None)?.mount))
}

/// `Overlay=`: as `--overlay=`, except that relative paths are refused.
pub fn overlay(st: &mut State, value: &str) -> Result {
    overlay_key(st, value, false)
}

/// `OverlayReadOnly=`: as `--overlay-ro=`, except that relative paths are refused.
pub fn overlay_read_only(st: &mut State, value: &str) -> Result {
    overlay_key(st, value, true)
}

/// `PrivateUsersChown=` (the old spelling): a boolean, `chown` or `off`.
pub fn private_users_chown(st: &mut State, value: &str) -> Result {
    st.s.private_users_ownership = opt(value, |s| {
        Ok(if v::parse_bool(s)? { UserNamespaceOwnership::Chown } else { UserNamespaceOwnership::Off })
    })?;
    Ok(())
}

/// `PrivateUsersOwnership=`.
pub fn private_users_ownership(st: &mut State, value: &str) -> Result {
    st.s.private_users_ownership = opt(value, v::parse_ownership)?;
    Ok(())
}

/// `BindUser=`: user names; duplicates are dropped, as with `--bind-user=`.
pub fn bind_user(st: &mut State, value: &str) -> Result {
    if value.is_empty() {
        st.s.bind_user.clear();
    }
    for name in split(value, Quoting::Plain)? {
        if !sec::user_group_name_valid(&name) {
            return Err(Error::msg(format!("invalid user name: {name:?}")));
        }
        if !st.s.bind_user.contains(&name) {
            st.s.bind_user.push(name);
        }
    }
    Ok(())
}

/// `BindUserShell=`.
pub fn bind_user_shell(st: &mut State, value: &str) -> Result {
    st.s.bind_user_shell = opt(value, sec::parse_bind_user_shell)?;
    Ok(())
}

// [Network]

/// `Private=`.
pub fn private(st: &mut State, value: &str) -> Result {
    st.private = tristate(value)?;
    Ok(())
}

/// `VirtualEthernet=`.
pub fn virtual_ethernet(st: &mut State, value: &str) -> Result {
    st.veth = tristate(value)?;
    Ok(())
}

/// `Interface=`, `MACVLAN=`, `IPVLAN=`: `HOST[:CONT]` words.
fn pairs(list: &mut Vec<crate::settings::InterfacePair>, value: &str) -> Result {
    if value.is_empty() {
        list.clear();
    }
    for word in split(value, Quoting::Plain)? {
        list.push(net::parse_interface_pair(&word)?);
    }
    Ok(())
}

/// `Interface=`.
pub fn interface(st: &mut State, value: &str) -> Result {
    pairs(&mut st.s.network_interfaces, value)
}

/// `MACVLAN=`.
pub fn macvlan(st: &mut State, value: &str) -> Result {
    pairs(&mut st.s.network_macvlan, value)
}

/// `IPVLAN=`.
pub fn ipvlan(st: &mut State, value: &str) -> Result {
    pairs(&mut st.s.network_ipvlan, value)
}

/// `VirtualEthernetExtra=`: one `HOST[:CONT]` pair, as the option.
pub fn virtual_ethernet_extra(st: &mut State, value: &str) -> Result {
    if value.is_empty() {
        st.s.network_veth_extra.clear();
    } else {
        st.s.network_veth_extra.push(net::parse_interface_pair(value)?);
    }
    Ok(())
}

/// `Bridge=`.
pub fn bridge(st: &mut State, value: &str) -> Result {
    st.s.network_bridge = opt(value, net::parse_bridge)?;
    Ok(())
}

/// `Zone=`.
pub fn zone(st: &mut State, value: &str) -> Result {
    st.s.network_zone = opt(value, net::parse_zone)?;
    Ok(())
}

/// `Port=`: one forward; a second one of the same protocol and host port is an error.
pub fn port(st: &mut State, value: &str) -> Result {
    if value.is_empty() {
        st.s.ports.clear();
    } else {
        let p = net::parse_port(value, &st.s.ports)?;
        st.s.ports.push(p);
    }
    Ok(())
}

/// `NAT=` (spawnbox extension).
pub fn nat(st: &mut State, value: &str) -> Result {
    st.s.network_nat = tristate(value)?;
    Ok(())
}

/// `Address=` (spawnbox extension).
pub fn address(st: &mut State, value: &str) -> Result {
    st.s.network_address = opt(value, net::parse_network_address)?;
    Ok(())
}
