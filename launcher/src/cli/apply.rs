//! The option handlers: what each option does to the `Settings` being built, one function per
//! table row (or per family of rows).

use super::mounts::{self, ParsedMount};
use super::values as v;
use super::values_net as net;
use super::values_sec::{self as sec, CapSpec, RlimitSpec};
use super::Parsed;
use crate::error::Error;
use crate::settings::{LinkJournal, PrivateUsers, Settings, SettingsMask, StartMode, UserNamespaceOwnership};
use std::path::Path;

type Result<T> = std::result::Result<T, Error>;

/// What the parser does after an option: go on, or stop with a result (`--help`).
#[allow(clippy::large_enum_variant)] // built once per option
#[derive(Debug)]
pub enum Flow {
    Continue,
    Exit(Parsed),
}

/// A handler: the parse state and the option's value (`None` for flags and bare optional
/// values).
pub type Apply = fn(&mut State, Option<&str>) -> Result<Flow>;

/// Facts the cross-option checks need that `Settings` does not keep.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    pub boot: bool,
    pub as_pid2: bool,
    /// Any `--forward-journal-max-*`/`--forward-journal-keep-free`.
    pub forward_journal_limits: bool,
    /// Bare `--user`: run in the user service manager scope.
    pub user_scope: bool,
}

/// The state while parsing: the settings so far and the caller's environment.
pub struct State<'a> {
    pub settings: Settings,
    pub seen: Seen,
    pub getenv: &'a dyn Fn(&str) -> Option<String>,
    pub cwd: &'a Path,
}

impl State<'_> {
    /// Records an option that is parsed but not implemented yet (once).
    pub fn unsupported(&mut self, name: &'static str) {
        if !self.settings.unsupported.contains(&name) {
            self.settings.unsupported.push(name);
        }
    }
}

fn go() -> Result<Flow> {
    Ok(Flow::Continue)
}

fn list(text: String) -> Result<Flow> {
    Ok(Flow::Exit(Parsed::ListValues(text)))
}

/// The value of an option with a required value (the tokenizer guarantees one).
fn val(value: Option<&str>) -> &str {
    value.unwrap_or("")
}

// General

/// `-h/--help`.
pub fn help(_: &mut State, _: Option<&str>) -> Result<Flow> {
    Ok(Flow::Exit(Parsed::Help))
}

/// `--version`.
pub fn version(_: &mut State, _: Option<&str>) -> Result<Flow> {
    Ok(Flow::Exit(Parsed::Version))
}

/// `-q/--quiet`.
pub fn quiet(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.quiet = true;
    go()
}

/// Options that change nothing for spawnbox (`--no-pager`, `--no-ask-password`).
pub fn ignore(_: &mut State, _: Option<&str>) -> Result<Flow> {
    go()
}

/// `--settings=`: whether and how the machine's `.nspawn` file is used (`settings::load`).
pub fn settings(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.settings_mode = Some(v::parse_settings_mode(val(value))?);
    go()
}

/// `--cleanup`.
pub fn cleanup(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.cleanup = true;
    go()
}

// Image

/// `-D/--directory=`.
pub fn directory(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.directory = v::parse_path_arg(val(value), st.cwd);
    go()
}

/// `--template=`.
pub fn template(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.template = v::parse_path_arg(val(value), st.cwd);
    go()
}

/// `-x/--ephemeral`.
pub fn ephemeral(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.ephemeral = true;
    go()
}

/// `-i/--image=`.
pub fn image(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.image = v::parse_path_arg(val(value), st.cwd);
    go()
}

/// `--image-policy=`: kept as a string.
pub fn image_policy(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.image_policy = Some(val(value).to_string()).filter(|p| !p.is_empty());
    go()
}

/// `--mstack=`.
pub fn mstack(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.mstack = v::parse_path_arg(val(value), st.cwd);
    go()
}

/// `--oci-bundle=`.
pub fn oci_bundle(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.oci_bundle = v::parse_path_arg(val(value), st.cwd);
    go()
}

/// `--read-only`.
pub fn read_only(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.read_only = true;
    go()
}

/// `--volatile[=MODE]`.
pub fn volatile(st: &mut State, value: Option<&str>) -> Result<Flow> {
    if value == Some("help") {
        return list(v::word_list(&v::VOLATILE_WORDS));
    }
    st.settings.volatile = Some(v::parse_volatile(value)?);
    go()
}

/// `--root-hash=`.
pub fn root_hash(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.root_hash = Some(sec::parse_root_hash(val(value))?);
    go()
}

/// `--root-hash-sig=FILE|base64:DATA`: kept as given.
pub fn root_hash_sig(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let s = val(value);
    if s.is_empty() || s == "base64:" {
        return Err(Error::msg("expected a file name or base64:DATA"));
    }
    st.settings.root_hash_sig = Some(s.to_string());
    go()
}

/// `--verity-data=`.
pub fn verity_data(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.verity_data = v::parse_path_arg(val(value), st.cwd);
    go()
}

/// `--pivot-root=NEW[:OLD]`.
pub fn pivot_root(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.pivot_root = Some(mounts::parse_pivot_root(val(value))?);
    go()
}

// Execution

/// `-a/--as-pid2` (conflicts with `-b` are checked after parsing).
pub fn as_pid2(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.seen.as_pid2 = true;
    st.settings.start_mode = Some(StartMode::Pid2);
    go()
}

/// `-b/--boot`.
pub fn boot(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.seen.boot = true;
    st.settings.start_mode = Some(StartMode::Boot);
    go()
}

/// `--chdir=`.
pub fn chdir(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.chdir = Some(v::parse_chdir(val(value))?);
    go()
}

/// `-E/--setenv=NAME[=VALUE]`: a later assignment of the same name replaces the earlier one
/// in place.
pub fn setenv(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let Some(entry) = v::parse_setenv(val(value), st.getenv)? else {
        return go();
    };
    v::replace_env(&mut st.settings.setenv, entry);
    go()
}

/// `-u/--uid=USER` (and `--user=NAME`); empty means unset.
pub fn uid(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.user = Some(val(value).to_string()).filter(|u| !u.is_empty());
    go()
}

/// `--kill-signal=`.
pub fn kill_signal(st: &mut State, value: Option<&str>) -> Result<Flow> {
    if value == Some("help") {
        return list(v::signal_list());
    }
    st.settings.kill_signal = Some(v::parse_signal(val(value))?);
    go()
}

/// `--notify-ready=`.
pub fn notify_ready(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let b = v::parse_bool(val(value))?;
    st.settings.notify_ready = Some(b);
    go()
}

/// `--suppress-sync=`.
pub fn suppress_sync(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let b = v::parse_bool(val(value))?;
    st.settings.suppress_sync = Some(b);
    go()
}

// System identity

/// `-M/--machine=`.
pub fn machine(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.machine = v::parse_machine_name(val(value))?;
    go()
}

/// `--hostname=`.
pub fn hostname(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.hostname = v::parse_hostname(val(value))?;
    go()
}

/// `--uuid=`.
pub fn uuid(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.uuid = Some(v::parse_uuid(val(value))?);
    go()
}

// Properties

/// `-S/--slice=`: `.slice` is appended when missing, as systemd's unit name mangling does.
pub fn slice(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let s = val(value);
    if s.is_empty() || s.contains('/') || s.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(Error::msg("invalid slice name"));
    }
    let name = if s.ends_with(".slice") { s.to_string() } else { format!("{s}.slice") };
    st.settings.slice = Some(name);
    go()
}

/// `--property=NAME=VALUE`.
pub fn property(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let s = val(value);
    match s.split_once('=') {
        Some((name, _)) if !name.is_empty() => st.settings.properties.push(s.to_string()),
        _ => return Err(Error::msg("expected NAME=VALUE")),
    }
    go()
}

/// `--register=BOOL|auto`: accepted; spawnbox never registers with machined.
pub fn register(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.register = v::parse_tristate(val(value))?;
    go()
}

/// `--keep-unit`.
pub fn keep_unit(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.keep_unit = true;
    go()
}

// User namespacing

/// `--private-users[=MODE]`: every mode but `managed` (which needs systemd-nsresourced).
pub fn private_users(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let mode = v::parse_private_users(value)?;
    if mode == PrivateUsers::Managed {
        st.unsupported("private-users");
    }
    st.settings.private_users = Some(mode);
    go()
}

/// `--private-users-ownership=`.
pub fn private_users_ownership(st: &mut State, value: Option<&str>) -> Result<Flow> {
    if value == Some("help") {
        return list(v::word_list(&v::OWNERSHIP_WORDS));
    }
    st.settings.private_users_ownership = Some(v::parse_ownership(val(value))?);
    go()
}

/// `--private-users-chown` (obsolete spelling of `--private-users-ownership=chown`; any value
/// is ignored, as in nspawn).
pub fn private_users_chown(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.private_users_ownership = Some(UserNamespaceOwnership::Chown);
    go()
}

/// `--private-users-delegate=N`.
pub fn private_users_delegate(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.private_users_delegate = Some(v::parse_u32(val(value))?);
    go()
}

/// `-U`: `--private-users=pick --private-users-ownership=auto`.
pub fn userns_pick(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.private_users = Some(PrivateUsers::Pick);
    st.settings.private_users_ownership = Some(UserNamespaceOwnership::Auto);
    go()
}

// Networking: every option but --network-namespace-path implies a private network.

/// `--private-network`.
pub fn private_network(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.private_network = true;
    go()
}

/// `--network-interface=HOST[:CONT]`.
pub fn network_interface(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.network_interfaces.push(net::parse_interface_pair(val(value))?);
    st.settings.private_network = true;
    go()
}

/// `--network-macvlan=HOST[:CONT]`.
pub fn network_macvlan(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.network_macvlan.push(net::parse_interface_pair(val(value))?);
    st.settings.private_network = true;
    go()
}

/// `--network-ipvlan=HOST[:CONT]`.
pub fn network_ipvlan(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.network_ipvlan.push(net::parse_interface_pair(val(value))?);
    st.settings.private_network = true;
    go()
}

/// `-n/--network-veth`.
pub fn network_veth(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.network_veth = true;
    st.settings.private_network = true;
    go()
}

/// `--network-veth-extra=HOST[:CONT]`.
pub fn network_veth_extra(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.network_veth_extra.push(net::parse_interface_pair(val(value))?);
    st.settings.private_network = true;
    go()
}

/// `--network-bridge=BR` (implies `-n`).
pub fn network_bridge(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.network_bridge = Some(net::parse_bridge(val(value))?);
    st.settings.network_veth = true;
    st.settings.private_network = true;
    go()
}

/// `--network-zone=NAME` (implies `-n`); NAME is kept without the `vz-` prefix.
pub fn network_zone(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.network_zone = Some(net::parse_zone(val(value))?);
    st.settings.network_veth = true;
    st.settings.private_network = true;
    go()
}

/// `--network-namespace-path=`.
pub fn network_namespace_path(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.network_namespace_path = v::parse_path_arg(val(value), st.cwd);
    go()
}

/// `-p/--port=`.
pub fn port(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let p = net::parse_port(val(value), &st.settings.ports)?;
    st.settings.ports.push(p);
    go()
}

/// `--network-nat=BOOL` (spawnbox extension): masquerade the container's subnet.
pub fn network_nat(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.network_nat = Some(v::parse_bool(val(value))?);
    go()
}

/// `--network-address=off|auto|CIDR` (spawnbox extension).
pub fn network_address(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.network_address = Some(net::parse_network_address(val(value))?);
    go()
}

// Security

fn caps(value: Option<&str>) -> Result<std::result::Result<u64, Flow>> {
    match sec::parse_capabilities(val(value))? {
        CapSpec::Help => Ok(Err(Flow::Exit(Parsed::ListValues(sec::capability_list())))),
        CapSpec::Mask(m) => Ok(Ok(m)),
    }
}

/// `--capability=`.
pub fn capability(st: &mut State, value: Option<&str>) -> Result<Flow> {
    match caps(value)? {
        Ok(m) => st.settings.capability |= m,
        Err(flow) => return Ok(flow),
    }
    go()
}

/// `--drop-capability=`.
pub fn drop_capability(st: &mut State, value: Option<&str>) -> Result<Flow> {
    match caps(value)? {
        Ok(m) => st.settings.drop_capability |= m,
        Err(flow) => return Ok(flow),
    }
    go()
}

/// `--ambient-capability=`.
pub fn ambient_capability(st: &mut State, value: Option<&str>) -> Result<Flow> {
    match caps(value)? {
        Ok(m) => st.settings.ambient_capability |= m,
        Err(flow) => return Ok(flow),
    }
    go()
}

/// `--no-new-privileges=`.
pub fn no_new_privileges(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.no_new_privileges = Some(v::parse_bool(val(value))?);
    go()
}

/// `--system-call-filter=`.
pub fn system_call_filter(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.system_call_filter.extend(sec::parse_syscall_filter(val(value))?);
    go()
}

/// `-Z/--selinux-context=`.
pub fn selinux_context(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.selinux_context = Some(val(value).to_string());
    go()
}

/// `-L/--selinux-apifs-context=`.
pub fn selinux_apifs_context(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.selinux_apifs_context = Some(val(value).to_string());
    go()
}

// Resources

/// `--rlimit=`: a later limit for the same resource replaces the earlier one. Marks the
/// resource's own bit (the table cannot: it depends on the value).
pub fn rlimit(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let limit = match sec::parse_rlimit(val(value))? {
        RlimitSpec::Help => return list(sec::rlimit_list()),
        RlimitSpec::Limit(l) => l,
    };
    match st.settings.rlimits.iter_mut().find(|r| r.resource == limit.resource) {
        Some(slot) => *slot = limit,
        None => st.settings.rlimits.push(limit),
    }
    st.settings.given |= SettingsMask::rlimit(limit.resource);
    go()
}

/// `--oom-score-adjust=`.
pub fn oom_score_adjust(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.oom_score_adjust = Some(sec::parse_oom_score_adjust(val(value))?);
    go()
}

/// `--cpu-affinity=`.
pub fn cpu_affinity(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.cpu_affinity = sec::parse_cpu_affinity(val(value))?;
    go()
}

/// `--personality=`.
pub fn personality(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.personality = Some(sec::parse_personality(val(value))?);
    go()
}

// Integration

/// `--resolv-conf=`.
pub fn resolv_conf(st: &mut State, value: Option<&str>) -> Result<Flow> {
    if value == Some("help") {
        return list(v::word_list(&v::RESOLV_CONF_WORDS));
    }
    st.settings.resolv_conf = Some(v::parse_resolv_conf(val(value))?);
    go()
}

/// `--timezone=`.
pub fn timezone(st: &mut State, value: Option<&str>) -> Result<Flow> {
    if value == Some("help") {
        return list(v::word_list(&v::TIMEZONE_WORDS));
    }
    st.settings.timezone = Some(v::parse_timezone(val(value))?);
    go()
}

/// `--link-journal=`.
pub fn link_journal(st: &mut State, value: Option<&str>) -> Result<Flow> {
    if value == Some("help") {
        return list(v::word_list(&v::LINK_JOURNAL_WORDS));
    }
    let mode = v::parse_link_journal(val(value))?;
    st.settings.link_journal = Some(mode);
    go()
}

/// `-j`: `--link-journal=try-guest`.
pub fn link_journal_try_guest(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.link_journal = Some(LinkJournal::TryGuest);
    go()
}

/// `--forward-journal=FILE|DIR`.
pub fn forward_journal(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.forward_journal = v::parse_path_arg(val(value), st.cwd);
    go()
}

/// `--forward-journal-max-use=`, `-keep-free=`, `-max-file-size=`: validated, not kept.
pub fn forward_journal_size(st: &mut State, value: Option<&str>) -> Result<Flow> {
    v::parse_size(val(value))?;
    st.seen.forward_journal_limits = true;
    go()
}

/// `--forward-journal-max-files=`: validated, not kept.
pub fn forward_journal_max_files(st: &mut State, value: Option<&str>) -> Result<Flow> {
    v::parse_u64(val(value))?;
    st.seen.forward_journal_limits = true;
    go()
}

// Mounts

fn push_mount(st: &mut State, parsed: ParsedMount, name: &'static str) -> Result<Flow> {
    if parsed.unsupported {
        st.unsupported(name);
    }
    st.settings.custom_mounts.push(parsed.mount);
    go()
}

/// `--bind=`.
pub fn bind(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let m = mounts::parse_bind(val(value), false, Some(st.cwd))?;
    push_mount(st, m, "bind")
}

/// `--bind-ro=`.
pub fn bind_ro(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let m = mounts::parse_bind(val(value), true, Some(st.cwd))?;
    push_mount(st, m, "bind-ro")
}

/// `--inaccessible=`.
pub fn inaccessible(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.custom_mounts.push(mounts::parse_inaccessible(val(value))?);
    go()
}

/// `--tmpfs=`.
pub fn tmpfs(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.custom_mounts.push(mounts::parse_tmpfs(val(value))?);
    go()
}

/// `--overlay=`.
pub fn overlay(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let m = mounts::parse_overlay(val(value), false, Some(st.cwd))?;
    push_mount(st, m, "overlay")
}

/// `--overlay-ro=`.
pub fn overlay_ro(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let m = mounts::parse_overlay(val(value), true, Some(st.cwd))?;
    push_mount(st, m, "overlay-ro")
}

/// `--bind-user=`: duplicates are dropped.
pub fn bind_user(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let name = val(value);
    if !sec::user_group_name_valid(name) {
        return Err(Error::msg("invalid user name"));
    }
    if !st.settings.bind_user.iter().any(|u| u == name) {
        st.settings.bind_user.push(name.to_string());
    }
    go()
}

/// `--bind-user-shell=`.
pub fn bind_user_shell(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.bind_user_shell = Some(sec::parse_bind_user_shell(val(value))?);
    go()
}

/// `--bind-user-group=`: duplicates are dropped.
pub fn bind_user_group(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let name = val(value);
    if !sec::user_group_name_valid(name) {
        return Err(Error::msg("invalid group name"));
    }
    if !st.settings.bind_user_group.iter().any(|g| g == name) {
        st.settings.bind_user_group.push(name.to_string());
    }
    go()
}

// Input/Output

/// `--console=`.
pub fn console(st: &mut State, value: Option<&str>) -> Result<Flow> {
    if value == Some("help") {
        return list(v::word_list(&v::CONSOLE_WORDS));
    }
    st.settings.console = Some(v::parse_console(val(value))?);
    go()
}

/// `-P/--pipe`.
pub fn pipe(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.console = Some(crate::settings::ConsoleMode::Pipe);
    go()
}

/// `--background=`.
pub fn background(st: &mut State, value: Option<&str>) -> Result<Flow> {
    st.settings.background = sec::parse_background(val(value))?;
    go()
}

// Credentials

/// `--set-credential=ID:VALUE`.
pub fn set_credential(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let c = sec::parse_set_credential(val(value), &st.settings.credentials)?;
    st.settings.credentials.push(c);
    go()
}

/// `--load-credential=ID:PATH`.
pub fn load_credential(st: &mut State, value: Option<&str>) -> Result<Flow> {
    let c = sec::parse_load_credential(val(value), &st.settings.credentials)?;
    st.settings.credentials.push(c);
    go()
}

// Other

/// `--share-system` (deprecated).
pub fn share_system(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.settings.share_system = true;
    go()
}

/// `--user=NAME` is `--uid=NAME`; bare `--user` selects the user scope (not supported).
pub fn user(st: &mut State, value: Option<&str>) -> Result<Flow> {
    match value {
        Some(name) => return uid(st, Some(name)),
        None => {
            st.seen.user_scope = true;
            st.unsupported("user");
        }
    }
    go()
}

/// `--system`: the system scope, which is what spawnbox does anyway; not supported as an
/// option until scopes exist.
pub fn system(st: &mut State, _: Option<&str>) -> Result<Flow> {
    st.seen.user_scope = false;
    go()
}
