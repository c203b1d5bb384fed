//! The option table: every systemd-nspawn option with its argument kind, help group, help
//! line, support status, handler and the settings group it marks. The tokenizer, `--help` and
//! docs/CLI.md all follow it.

use super::apply::{self as a, Apply};
use crate::settings::SettingsMask;

/// Whether and how an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A flag.
    None,
    /// `--opt=value`, `--opt value`, `-ovalue`, `-o value`.
    Required,
    /// Only `--opt=value`; bare `--opt` has no value.
    Optional,
    /// Like `Optional`, but `--opt WORD` takes WORD when it does not start with `-`
    /// (nspawn's `--user [NAME]`).
    OptionalOrNext,
}

/// The `--help` groups, in nspawn's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    General,
    Image,
    Execution,
    SystemIdentity,
    Properties,
    UserNamespacing,
    Networking,
    Security,
    Resources,
    Integration,
    Mounts,
    InputOutput,
    Credentials,
    Other,
}

impl Group {
    /// Every group in `--help` order.
    pub const ALL: [Group; 14] = [
        Group::General,
        Group::Image,
        Group::Execution,
        Group::SystemIdentity,
        Group::Properties,
        Group::UserNamespacing,
        Group::Networking,
        Group::Security,
        Group::Resources,
        Group::Integration,
        Group::Mounts,
        Group::InputOutput,
        Group::Credentials,
        Group::Other,
    ];

    /// The heading in `--help` (the general options have none).
    pub fn title(self) -> Option<&'static str> {
        Some(match self {
            Group::General => return None,
            Group::Image => "Image",
            Group::Execution => "Execution",
            Group::SystemIdentity => "System Identity",
            Group::Properties => "Properties",
            Group::UserNamespacing => "User Namespacing",
            Group::Networking => "Networking",
            Group::Security => "Security",
            Group::Resources => "Resources",
            Group::Integration => "Integration",
            Group::Mounts => "Mounts",
            Group::InputOutput => "Input/Output",
            Group::Credentials => "Credentials",
            Group::Other => "Other",
        })
    }
}

/// One row of the option table.
#[derive(Debug)]
pub struct OptSpec {
    /// Long name without `--`; empty for the short-only `-U` and `-j`.
    pub long: &'static str,
    pub short: Option<char>,
    pub arg: ArgKind,
    /// The value's placeholder in `--help` (`PATH`).
    pub metavar: &'static str,
    pub group: Group,
    /// One-line help; empty for options nspawn hides from `--help`.
    pub help: &'static str,
    /// false: parsed and validated, then recorded in `Settings::unsupported`. Some supported
    /// options still record particular values (`--volatile=yes`); their handlers do that.
    pub supported: bool,
    /// Parses the value into the settings.
    pub apply: Apply,
    /// The group `parse()` marks in `Settings::given` when the option is given.
    pub marks: Marks,
}

/// What an option marks in `Settings::given` (nspawn's `arg_settings_mask |= SETTING_*` in
/// `parse_argv()`), whatever its value: `--hostname=` resets the hostname to the default and
/// still beats a settings file's `Hostname=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marks {
    /// This group.
    Group(SettingsMask),
    /// `--rlimit=`: the bit of the resource it names (the handler marks it).
    Rlimit,
    /// Nothing: the option changes no setting (`--help`, `--no-pager`, `--system`, the
    /// `--forward-journal-*` limits, which are validated and not kept).
    Nothing,
}

#[allow(clippy::too_many_arguments)]
const fn o(
    long: &'static str,
    short: Option<char>,
    arg: ArgKind,
    metavar: &'static str,
    group: Group,
    help: &'static str,
    supported: bool,
    apply: Apply,
    marks: Marks,
) -> OptSpec {
    OptSpec { long, short, arg, metavar, group, help, supported, apply, marks }
}

const fn g(mask: SettingsMask) -> Marks {
    Marks::Group(mask)
}

use ArgKind::{None as N, Optional as O, OptionalOrNext as ON, Required as R};
use Group as G;
const NOTHING: Marks = Marks::Nothing;
const RLIMIT: Marks = Marks::Rlimit;
use SettingsMask as S;
const Y: bool = true;
const X: bool = false;

/// Every systemd-nspawn option, grouped and ordered as in `systemd-nspawn --help`.
#[rustfmt::skip]
pub static OPTIONS: &[OptSpec] = &[
    o("help", Some('h'), N, "", G::General, "Show this help", Y, a::help, NOTHING),
    o("version", None, N, "", G::General, "Print version string", Y, a::version, NOTHING),
    o("quiet", Some('q'), N, "", G::General, "Do not show status information", Y, a::quiet, g(S::QUIET)),
    o("no-pager", None, N, "", G::General, "Do not pipe output into a pager", Y, a::ignore, NOTHING),
    o("settings", None, R, "BOOLEAN", G::General, "Load additional settings from .nspawn file", Y, a::settings, g(S::SETTINGS_MODE)),
    o("cleanup", None, N, "", G::General, "Clean up left-over mounts and underlying mount points used by the container", Y, a::cleanup, g(S::CLEANUP)),
    o("no-ask-password", None, N, "", G::General, "Do not prompt for password", Y, a::ignore, NOTHING),

    o("directory", Some('D'), R, "PATH", G::Image, "Root directory for the container", Y, a::directory, g(S::DIRECTORY)),
    o("template", None, R, "PATH", G::Image, "Initialize root directory from template directory, if missing", Y, a::template, g(S::DIRECTORY)),
    o("ephemeral", Some('x'), N, "", G::Image, "Run container with snapshot of root directory, and remove it after exit", Y, a::ephemeral, g(S::EPHEMERAL)),
    o("image", Some('i'), R, "PATH", G::Image, "Root file system disk image (or device node) for the container", X, a::image, g(S::DIRECTORY)),
    o("image-policy", None, R, "POLICY", G::Image, "Specify disk image dissection policy", X, a::image_policy, g(S::IMAGE_OPTIONS)),
    o("mstack", None, R, "PATH", G::Image, "", X, a::mstack, g(S::DIRECTORY)),
    o("oci-bundle", None, R, "PATH", G::Image, "OCI bundle directory", Y, a::oci_bundle, g(S::OCI_BUNDLE)),
    o("read-only", None, N, "", G::Image, "Mount the root directory read-only", Y, a::read_only, g(S::READ_ONLY)),
    o("volatile", None, O, "MODE", G::Image, "Run the system in volatile mode", Y, a::volatile, g(S::VOLATILE_MODE)),
    o("root-hash", None, R, "HASH", G::Image, "Specify verity root hash for root disk image", X, a::root_hash, g(S::IMAGE_OPTIONS)),
    o("root-hash-sig", None, R, "SIG", G::Image, "Specify pkcs7 signature of root hash for verity", X, a::root_hash_sig, g(S::IMAGE_OPTIONS)),
    o("verity-data", None, R, "PATH", G::Image, "Specify hash device for verity", X, a::verity_data, g(S::IMAGE_OPTIONS)),
    o("pivot-root", None, R, "PATH[:PATH]", G::Image, "Pivot root to given directory in the container", Y, a::pivot_root, g(S::PIVOT_ROOT)),

    o("as-pid2", Some('a'), N, "", G::Execution, "Maintain a stub init as PID1, invoke binary as PID2", Y, a::as_pid2, g(S::START_MODE)),
    o("boot", Some('b'), N, "", G::Execution, "Boot up full system (i.e. invoke init)", Y, a::boot, g(S::START_MODE)),
    o("chdir", None, R, "PATH", G::Execution, "Set working directory in the container", Y, a::chdir, g(S::WORKING_DIRECTORY)),
    o("setenv", Some('E'), R, "NAME[=VALUE]", G::Execution, "Pass an environment variable to PID 1", Y, a::setenv, g(S::ENVIRONMENT)),
    o("uid", Some('u'), R, "USER", G::Execution, "Run the command under specified user or UID", Y, a::uid, g(S::USER)),
    o("kill-signal", None, R, "SIGNAL", G::Execution, "Select signal to use for shutting down PID 1", Y, a::kill_signal, g(S::KILL_SIGNAL)),
    o("notify-ready", None, R, "BOOLEAN", G::Execution, "Receive notifications from the child init process", Y, a::notify_ready, g(S::NOTIFY_READY)),
    o("suppress-sync", None, R, "BOOLEAN", G::Execution, "Suppress any form of disk data synchronization", Y, a::suppress_sync, g(S::SUPPRESS_SYNC)),

    o("machine", Some('M'), R, "NAME", G::SystemIdentity, "Set the machine name for the container", Y, a::machine, g(S::MACHINE)),
    o("hostname", None, R, "NAME", G::SystemIdentity, "Override the hostname for the container", Y, a::hostname, g(S::HOSTNAME)),
    o("uuid", None, R, "UUID", G::SystemIdentity, "Set a specific machine UUID for the container", Y, a::uuid, g(S::MACHINE_ID)),

    o("slice", Some('S'), R, "SLICE", G::Properties, "Place the container in the specified slice", Y, a::slice, g(S::SLICE)),
    o("property", None, R, "NAME=VALUE", G::Properties, "Set scope unit property", Y, a::property, g(S::PROPERTIES)),
    o("register", None, R, "BOOLEAN", G::Properties, "Register container as machine", Y, a::register, g(S::REGISTRATION)),
    o("keep-unit", None, N, "", G::Properties, "Do not register a scope for the machine, reuse the service unit nspawn is running in", Y, a::keep_unit, g(S::REGISTRATION)),

    o("private-users", None, O, "MODE", G::UserNamespacing, "Run within user namespace, configure UID/GID range", Y, a::private_users, g(S::USERNS)),
    o("private-users-ownership", None, R, "MODE", G::UserNamespacing, "Adjust ('chown') or map ('map') OS tree ownership to private UID/GID range", Y, a::private_users_ownership, g(S::USERNS)),
    o("private-users-chown", None, O, "MODE", G::UserNamespacing, "", Y, a::private_users_chown, g(S::USERNS)),
    o("private-users-delegate", None, R, "N", G::UserNamespacing, "Delegate N additional 64K UID/GID ranges for use by nested containers", X, a::private_users_delegate, g(S::USERNS_DELEGATE)),
    o("", Some('U'), N, "", G::UserNamespacing, "Equivalent to --private-users=pick and --private-users-ownership=auto", Y, a::userns_pick, g(S::USERNS)),

    o("private-network", None, N, "", G::Networking, "Disable network in container", Y, a::private_network, g(S::NETWORK)),
    o("network-interface", None, R, "HOSTIF[:CONTAINERIF]", G::Networking, "Assign an existing network interface to the container", Y, a::network_interface, g(S::NETWORK)),
    o("network-macvlan", None, R, "HOSTIF[:CONTAINERIF]", G::Networking, "Create a macvlan network interface based on an existing network interface to the container", Y, a::network_macvlan, g(S::NETWORK)),
    o("network-ipvlan", None, R, "HOSTIF[:CONTAINERIF]", G::Networking, "Create an ipvlan network interface based on an existing network interface to the container", Y, a::network_ipvlan, g(S::NETWORK)),
    o("network-veth", Some('n'), N, "", G::Networking, "Add a virtual Ethernet connection between host and container", Y, a::network_veth, g(S::NETWORK)),
    o("network-veth-extra", None, R, "HOSTIF[:CONTAINERIF]", G::Networking, "Add an additional virtual Ethernet link between host and container", Y, a::network_veth_extra, g(S::NETWORK)),
    o("network-bridge", None, R, "INTERFACE", G::Networking, "Add a virtual Ethernet connection to the container and attach it to an existing bridge on the host", Y, a::network_bridge, g(S::NETWORK)),
    o("network-zone", None, R, "NAME", G::Networking, "Similar, but attach the new interface to an automatically managed bridge interface", Y, a::network_zone, g(S::NETWORK)),
    o("network-namespace-path", None, R, "PATH", G::Networking, "Set network namespace to the one represented by the specified kernel namespace file node", Y, a::network_namespace_path, g(S::NETWORK)),
    o("port", Some('p'), R, "[PROTOCOL:]HOSTPORT[:CONTAINERPORT]", G::Networking, "Expose a container IP port on the host", Y, a::port, g(S::EXPOSE_PORTS)),
    o("network-address", None, R, "off|auto|CIDR", G::Networking, "Automatic IPv4 addresses for the veth or zone (spawnbox)", Y, a::network_address, g(S::NETWORK_ADDRESSING)),
    o("network-nat", None, R, "BOOL", G::Networking, "Masquerade the container's subnet and enable forwarding (spawnbox)", Y, a::network_nat, g(S::NETWORK_ADDRESSING)),

    o("capability", None, R, "CAP", G::Security, "In addition to the default, retain specified capability", Y, a::capability, g(S::CAPABILITY)),
    o("drop-capability", None, R, "CAP", G::Security, "Drop the specified capability from the default set", Y, a::drop_capability, g(S::CAPABILITY)),
    o("ambient-capability", None, R, "CAP", G::Security, "Sets the specified capability for the started process", Y, a::ambient_capability, g(S::CAPABILITY)),
    o("no-new-privileges", None, R, "BOOL", G::Security, "Set PR_SET_NO_NEW_PRIVS flag for container payload", Y, a::no_new_privileges, g(S::NO_NEW_PRIVILEGES)),
    o("system-call-filter", None, R, "LIST|~LIST", G::Security, "Permit/prohibit specific system calls", Y, a::system_call_filter, g(S::SYSCALL_FILTER)),
    o("selinux-context", Some('Z'), R, "SECLABEL", G::Security, "Set the SELinux security context to be used by processes in the container", X, a::selinux_context, g(S::SELINUX)),
    o("selinux-apifs-context", Some('L'), R, "SECLABEL", G::Security, "Set the SELinux security context to be used by API/tmpfs file systems in the container", X, a::selinux_apifs_context, g(S::SELINUX)),

    o("rlimit", None, R, "NAME=LIMIT", G::Resources, "Set a resource limit for the payload", Y, a::rlimit, RLIMIT),
    o("oom-score-adjust", None, R, "VALUE", G::Resources, "Adjust the OOM score value for the payload", Y, a::oom_score_adjust, g(S::OOM_SCORE_ADJUST)),
    o("cpu-affinity", None, R, "CPUS", G::Resources, "Adjust the CPU affinity of the container", Y, a::cpu_affinity, g(S::CPU_AFFINITY)),
    o("personality", None, R, "ARCH", G::Resources, "Pick personality for this container", Y, a::personality, g(S::PERSONALITY)),

    o("resolv-conf", None, R, "MODE", G::Integration, "Select mode of /etc/resolv.conf initialization", Y, a::resolv_conf, g(S::RESOLV_CONF)),
    o("timezone", None, R, "MODE", G::Integration, "Select mode of /etc/localtime initialization", Y, a::timezone, g(S::TIMEZONE)),
    o("link-journal", None, R, "MODE", G::Integration, "Link up guest journal, one of no, auto, guest, host, try-guest, try-host", Y, a::link_journal, g(S::LINK_JOURNAL)),
    o("", Some('j'), N, "", G::Integration, "Equivalent to --link-journal=try-guest", Y, a::link_journal_try_guest, g(S::LINK_JOURNAL)),
    o("forward-journal", None, R, "FILE|DIR", G::Integration, "Forward the container's journal to the host", X, a::forward_journal, g(S::FORWARD_JOURNAL)),
    o("forward-journal-max-use", None, R, "BYTES", G::Integration, "Maximum disk space for forwarded journal", X, a::forward_journal_size, NOTHING),
    o("forward-journal-keep-free", None, R, "BYTES", G::Integration, "Minimum disk space to keep free", X, a::forward_journal_size, NOTHING),
    o("forward-journal-max-file-size", None, R, "BYTES", G::Integration, "Maximum size of individual journal files", X, a::forward_journal_size, NOTHING),
    o("forward-journal-max-files", None, R, "N", G::Integration, "Maximum number of journal files to keep", X, a::forward_journal_max_files, NOTHING),

    o("bind", None, R, "PATH[:PATH[:OPTIONS]]", G::Mounts, "Bind mount a file or directory from the host into the container", Y, a::bind, g(S::CUSTOM_MOUNTS)),
    o("bind-ro", None, R, "PATH[:PATH[:OPTIONS]]", G::Mounts, "Similar, but creates a read-only bind mount", Y, a::bind_ro, g(S::CUSTOM_MOUNTS)),
    o("inaccessible", None, R, "PATH", G::Mounts, "Over-mount file node with inaccessible node to mask it", Y, a::inaccessible, g(S::CUSTOM_MOUNTS)),
    o("tmpfs", None, R, "PATH:[OPTIONS]", G::Mounts, "Mount an empty tmpfs to the specified directory", Y, a::tmpfs, g(S::CUSTOM_MOUNTS)),
    o("overlay", None, R, "PATH[:PATH...]:PATH", G::Mounts, "Create an overlay mount from the host to the container", Y, a::overlay, g(S::CUSTOM_MOUNTS)),
    o("overlay-ro", None, R, "PATH[:PATH...]:PATH", G::Mounts, "Similar, but creates a read-only overlay mount", Y, a::overlay_ro, g(S::CUSTOM_MOUNTS)),
    o("bind-user", None, R, "NAME", G::Mounts, "Bind user from host to container", Y, a::bind_user, g(S::BIND_USER)),
    o("bind-user-shell", None, R, "BOOL|PATH", G::Mounts, "Configure the shell to use for --bind-user= users", Y, a::bind_user_shell, g(S::BIND_USER)),
    o("bind-user-group", None, R, "GROUP", G::Mounts, "Add an auxiliary group to --bind-user= users", Y, a::bind_user_group, g(S::BIND_USER)),

    o("console", None, R, "MODE", G::InputOutput, "Select how stdin/stdout/stderr and /dev/console are set up for the container", Y, a::console, g(S::CONSOLE_MODE)),
    o("pipe", Some('P'), N, "", G::InputOutput, "Equivalent to --console=pipe", Y, a::pipe, g(S::CONSOLE_MODE)),
    o("background", None, R, "COLOR", G::InputOutput, "Set ANSI color for background", Y, a::background, g(S::BACKGROUND)),

    o("set-credential", None, R, "ID:VALUE", G::Credentials, "Pass a credential with literal value to container", Y, a::set_credential, g(S::CREDENTIALS)),
    o("load-credential", None, R, "ID:PATH", G::Credentials, "Load credential to pass to container from file or AF_UNIX stream socket", Y, a::load_credential, g(S::CREDENTIALS)),

    o("share-system", None, N, "", G::Other, "", X, a::share_system, g(S::CLONE_NS_FLAGS)),
    o("user", None, ON, "NAME", G::Other, "Run in the user service manager scope (--user=NAME: deprecated alias of --uid=NAME)", Y, a::user, g(S::USER)),
    o("system", None, N, "", G::Other, "Run in the system service manager scope", X, a::system, NOTHING),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn no_duplicate_names() {
        let mut longs = HashSet::new();
        let mut shorts = HashSet::new();
        for o in OPTIONS {
            assert!(o.long.is_empty() || longs.insert(o.long), "duplicate --{}", o.long);
            if let Some(c) = o.short {
                assert!(shorts.insert(c), "duplicate -{c}");
            }
            assert!(!o.long.is_empty() || o.short.is_some(), "row without a name");
        }
        assert_eq!(OPTIONS.len(), longs.len() + 2, "only -U and -j lack a long name");
    }

    #[test]
    fn rows_are_well_formed() {
        for o in OPTIONS {
            let takes_value = o.arg != ArgKind::None;
            assert_eq!(takes_value, !o.metavar.is_empty(), "--{} metavar", o.long);
            assert!(o.long.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "--{}", o.long);
        }
        // Groups appear in --help order, each in one block.
        let mut order: Vec<Group> = OPTIONS.iter().map(|o| o.group).collect();
        order.dedup();
        assert_eq!(order, Group::ALL.to_vec());
    }

    #[test]
    fn covers_the_nspawn_options_named_in_the_brief() {
        let has = |l: &str| OPTIONS.iter().any(|o| o.long == l);
        for l in [
            "uid",
            "user",
            "forward-journal",
            "forward-journal-max-use",
            "bind-user",
            "bind-user-shell",
            "bind-user-group",
            "background",
            "share-system",
            "system",
            "settings",
            "cleanup",
            "no-pager",
            "no-ask-password",
            "mstack",
            "private-users-delegate",
            "selinux-context",
            "selinux-apifs-context",
        ] {
            assert!(has(l), "--{l}");
        }
        for c in ['Z', 'L', 'j', 'U', 'u', 'x', 'i', 'n', 'p', 'S', 'P', 'E', 'M', 'D', 'a', 'b', 'q', 'h'] {
            assert!(OPTIONS.iter().any(|o| o.short == Some(c)), "-{c}");
        }
    }

    #[test]
    fn docs_cover_every_long_option() {
        let doc = include_str!("../../../docs/CLI.md");
        for o in OPTIONS.iter().filter(|o| !o.long.is_empty()) {
            assert!(doc.contains(&format!("`--{}", o.long)), "docs/CLI.md lacks --{}", o.long);
        }
        for o in OPTIONS.iter().filter(|o| o.long.is_empty()) {
            let short = o.short.map(String::from).unwrap_or_default();
            assert!(doc.contains(&format!("`-{short}`")), "docs/CLI.md lacks -{short}");
        }
    }
}
