//! Tests of `parse()`: getopt forms, error texts, `help` values and golden `Settings` for
//! realistic command lines.

use super::*;
use crate::settings::*;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

const CWD: &str = "/work/here";

pub(super) fn os_args(a: &[&str]) -> Vec<OsString> {
    a.iter().map(OsString::from).collect()
}

fn env(name: &str) -> Option<String> {
    match name {
        "FOO" => Some("from-env".into()),
        "HOME" => Some("/root".into()),
        _ => None,
    }
}

pub(super) fn parsed(a: &[&str]) -> Result<Parsed, Error> {
    parse(&os_args(a), &env, Path::new(CWD))
}

pub(super) fn run(a: &[&str]) -> Settings {
    match parsed(a) {
        Ok(Parsed::Run(s)) => s,
        other => panic!("{a:?}: {other:?}"),
    }
}

pub(super) fn fail(a: &[&str]) -> String {
    match parsed(a) {
        Err(e) => e.to_string(),
        other => panic!("{a:?}: expected an error, got {other:?}"),
    }
}

fn listed(a: &[&str]) -> String {
    match parsed(a) {
        Ok(Parsed::ListValues(text)) => text,
        other => panic!("{a:?}: {other:?}"),
    }
}

fn params(s: &Settings) -> Vec<&str> {
    s.parameters.iter().map(|p| p.to_str().unwrap()).collect()
}

pub(super) fn dir(p: &str) -> Option<PathBuf> {
    Some(PathBuf::from(p))
}

#[test]
fn payload_argv_is_verbatim() {
    let s = run(&["-D", "r", "/bin/ls", "-la"]);
    assert_eq!(s.directory, dir("/work/here/r"));
    assert_eq!(params(&s), ["/bin/ls", "-la"]);
}

#[test]
fn no_arguments_is_all_defaults() {
    assert_eq!(run(&[]), Settings::default());
}

#[test]
fn short_options_cluster() {
    let s = run(&["-bUD", "dir"]);
    assert_eq!(s.start_mode, Some(StartMode::Boot));
    assert_eq!(s.private_users, Some(PrivateUsers::Pick));
    assert_eq!(s.private_users_ownership, Some(UserNamespaceOwnership::Auto));
    assert_eq!(s.directory, dir("/work/here/dir"));
    assert!(s.unsupported.is_empty());
    assert_eq!(run(&["-Ddir"]).directory, dir("/work/here/dir"));
    let s = run(&["-qD/r"]);
    assert!(s.quiet);
    assert_eq!(s.directory, dir("/r"));
    let s = run(&["-qPbM", "m", "-E", "A=1"]);
    assert_eq!((s.quiet, s.console, s.machine.as_deref()), (true, Some(ConsoleMode::Pipe), Some("m")));
    assert_eq!(s.setenv, ["A=1"]);
}

#[test]
fn long_values_with_equals_or_separate() {
    assert_eq!(run(&["--directory=/r"]).directory, dir("/r"));
    assert_eq!(run(&["--directory", "/r"]).directory, dir("/r"));
    assert_eq!(run(&["--machine", "-x"]).machine.as_deref(), Some("-x"));
    assert!(!run(&["-M", "-x"]).ephemeral);
    assert_eq!(run(&["--directory="]).directory, None);
    assert_eq!(run(&["--setenv=A=b=c"]).setenv, ["A=b=c"]);
}

#[test]
fn optional_values_only_with_equals() {
    let s = run(&["--volatile", "yes"]);
    assert_eq!(s.volatile, Some(VolatileMode::Yes));
    assert_eq!(params(&s), ["yes"]);
    assert!(s.unsupported.is_empty());
    let s = run(&["--volatile=no"]);
    assert_eq!(s.volatile, Some(VolatileMode::No));
    assert!(s.unsupported.is_empty());
    assert_eq!(run(&["--volatile=state", "-x"]).volatile, Some(VolatileMode::State));
    let s = run(&["--private-users", "-D", "/r"]);
    assert_eq!(s.private_users, Some(PrivateUsers::Yes));
    assert_eq!(s.directory, dir("/r"));
    assert!(s.unsupported.is_empty());
    let s = run(&["--private-users=no"]);
    assert_eq!(s.private_users, Some(PrivateUsers::No));
    assert!(s.unsupported.is_empty());
    assert_eq!(run(&["--private-users=0:65536"]).private_users, Some(PrivateUsers::Fixed { base: 0, size: 65536 }));
}

#[test]
fn double_dash_ends_options() {
    let s = run(&["-D", "/r", "--", "-b", "--", "x"]);
    assert_eq!(s.start_mode, None);
    assert_eq!(params(&s), ["-b", "--", "x"]);
    assert!(run(&["--"]).parameters.is_empty());
}

#[test]
fn parsing_stops_at_first_operand() {
    let s = run(&["-D", "/r", "ls", "-b", "--quiet"]);
    assert_eq!(s.start_mode, None);
    assert!(!s.quiet);
    assert_eq!(params(&s), ["ls", "-b", "--quiet"]);
    assert_eq!(params(&run(&["-", "-b"])), ["-", "-b"]);
    assert_eq!(params(&run(&["-b", "", "x"])), ["", "x"]);
}

#[test]
fn non_utf8_operands_pass_through() {
    let raw = OsString::from_vec(vec![b'/', 0xff]);
    let args = vec![OsString::from("-D"), OsString::from("/r"), raw.clone()];
    match parse(&args, &env, Path::new(CWD)) {
        Ok(Parsed::Run(s)) => assert_eq!(s.parameters, [raw]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_utf8_values_are_refused() {
    let args = vec![OsString::from("-D"), OsString::from_vec(vec![b'/', 0xff])];
    let e = parse(&args, &env, Path::new(CWD)).unwrap_err();
    assert_eq!(e.to_string(), "--directory: value is not valid UTF-8");
    let args = vec![OsString::from_vec(b"--machine=\xff".to_vec())];
    let e = parse(&args, &env, Path::new(CWD)).unwrap_err();
    assert_eq!(e.to_string(), "--machine: value is not valid UTF-8");
}

#[test]
fn unique_prefixes_abbreviate() {
    assert_eq!(run(&["--dir=/r"]).directory, dir("/r"));
    assert_eq!(run(&["--ma", "web"]).machine.as_deref(), Some("web"));
    assert!(run(&["--qu"]).quiet);
    assert_eq!(parsed(&["--vers"]).unwrap(), Parsed::Version);
    // An exact match wins over longer names sharing the prefix.
    let s = run(&["--bind=/a", "--overlay=/l:/u", "--network-veth", "--user=al"]);
    assert!(matches!(s.custom_mounts[0], CustomMount::Bind { read_only: false, .. }));
    assert!(matches!(s.custom_mounts[1], CustomMount::Overlay { read_only: false, .. }));
    assert!(s.network_veth && s.network_veth_extra.is_empty());
    assert_eq!(s.user.as_deref(), Some("al"));
    assert_eq!(run(&["--bind-r=/a"]).custom_mounts.len(), 1);
}

#[test]
fn ambiguous_prefixes_are_errors() {
    assert_eq!(fail(&["--m", "x"]), "option '--m' is ambiguous; possibilities: '--mstack' '--machine'");
    assert_eq!(fail(&["--ver"]), "option '--ver' is ambiguous; possibilities: '--version' '--verity-data'");
    assert_eq!(fail(&["--ro=x"]), "option '--ro=x' is ambiguous; possibilities: '--root-hash' '--root-hash-sig'");
    assert_eq!(
        fail(&["--bind-user-"]),
        "option '--bind-user-' is ambiguous; possibilities: '--bind-user-shell' '--bind-user-group'"
    );
}

#[test]
fn getopt_error_texts() {
    assert_eq!(fail(&["--frobnicate"]), "unrecognized option '--frobnicate'");
    assert_eq!(fail(&["--frobnicate=1"]), "unrecognized option '--frobnicate=1'");
    assert_eq!(fail(&["-k"]), "invalid option -- 'k'");
    assert_eq!(fail(&["-bk"]), "invalid option -- 'k'");
    assert_eq!(fail(&["--directory"]), "option '--directory' requires an argument");
    assert_eq!(fail(&["--dir"]), "option '--directory' requires an argument");
    assert_eq!(fail(&["-D"]), "option requires an argument -- 'D'");
    assert_eq!(fail(&["-bD"]), "option requires an argument -- 'D'");
    assert_eq!(fail(&["--quiet=1"]), "option '--quiet' doesn't allow an argument");
    assert_eq!(fail(&["--qui=yes"]), "option '--quiet' doesn't allow an argument");
    assert_eq!(fail(&["--=x"]), "unrecognized option '--=x'");
}

#[test]
fn help_and_version_stop_parsing() {
    assert_eq!(parsed(&["-h", "--frobnicate"]).unwrap(), Parsed::Help);
    assert_eq!(parsed(&["--help"]).unwrap(), Parsed::Help);
    assert_eq!(parsed(&["-qh"]).unwrap(), Parsed::Help);
    assert_eq!(parsed(&["--version", "-b", "-a"]).unwrap(), Parsed::Version);
    assert_eq!(fail(&["--frobnicate", "-h"]), "unrecognized option '--frobnicate'");
    assert_eq!(params(&run(&["-D", "/r", "ls", "--help"])), ["ls", "--help"]);
}

#[test]
fn help_values_list_the_choices() {
    assert!(listed(&["--resolv-conf=help"]).starts_with("off\ncopy-host\ncopy-static\n"));
    assert_eq!(listed(&["--timezone=help"]), "off\ncopy\nbind\nsymlink\ndelete\nauto\n");
    assert!(listed(&["--capability=help"]).contains("\ncap_sys_admin\n"));
    assert!(listed(&["--drop-capability", "help"]).starts_with("cap_chown\n"));
    assert!(listed(&["--kill-signal=help"]).contains("\nTERM\n"));
    assert_eq!(listed(&["--volatile=help"]), "no\nyes\nstate\noverlay\n");
    assert_eq!(listed(&["--console=help"]), "interactive\nread-only\npassive\npipe\nautopipe\n");
    assert!(listed(&["--rlimit=help"]).contains("RLIMIT_NOFILE\n"));
    assert_eq!(listed(&["--private-users-ownership=help"]), "off\nchown\nmap\nforeign\nauto\n");
    assert!(listed(&["--link-journal=help"]).contains("try-guest\n"));
    // Earlier errors still win.
    assert_eq!(fail(&["--uuid=0", "--timezone=help"]), "--uuid=0: invalid UUID");
}

#[test]
fn value_errors_name_the_option() {
    assert_eq!(fail(&["--kill-signal=FOO"]), "--kill-signal=FOO: invalid signal name");
    assert_eq!(fail(&["--machine=foo bar"]), "--machine=foo bar: invalid machine name");
    assert_eq!(fail(&["-M", "foo bar"]), "--machine=foo bar: invalid machine name");
    assert_eq!(fail(&["--hostname=a..b"]), "--hostname=a..b: invalid hostname");
    assert_eq!(fail(&["--bind=a:b"]), "--bind=a:b: destination must be an absolute path: \"b\"");
    assert_eq!(fail(&["--bind-ro=/a:/b:ro"]), "--bind-ro=/a:/b:ro: unknown bind mount option: \"ro\"");
    assert_eq!(fail(&["--tmpfs=/"]), "--tmpfs=/: cannot mount a tmpfs on /");
    assert_eq!(fail(&["--overlay=/a"]), "--overlay=/a: needs at least two colon-separated paths");
    assert_eq!(fail(&["--inaccessible=x"]), "--inaccessible=x: path must be an absolute path: \"x\"");
    assert_eq!(
        fail(&["--uuid=00000000-0000-0000-0000-000000000000"]),
        "--uuid=00000000-0000-0000-0000-000000000000: machine UUID may not be all zeroes"
    );
    assert_eq!(fail(&["--chdir=tmp"]), "--chdir=tmp: working directory must be an absolute path");
    assert_eq!(fail(&["-E", "1X=y"]), "--setenv=1X=y: invalid environment variable name");
    assert_eq!(fail(&["--console=tty"]), "--console=tty: unknown console mode");
    assert_eq!(fail(&["--resolv-conf=x"]), "--resolv-conf=x: invalid /etc/resolv.conf mode");
    assert_eq!(fail(&["--timezone=x"]), "--timezone=x: invalid /etc/localtime mode");
    assert_eq!(fail(&["--volatile=x"]), "--volatile=x: invalid volatile mode");
    assert_eq!(fail(&["--private-users=x"]), "--private-users=x: invalid UID base");
    assert_eq!(fail(&["--notify-ready=maybe"]), "--notify-ready=maybe: invalid boolean");
    assert_eq!(fail(&["--register=x"]), "--register=x: invalid value, expected a boolean or \"auto\"");
    assert_eq!(fail(&["--settings=x"]), "--settings=x: invalid value, expected a boolean, \"override\" or \"trusted\"");
    assert_eq!(fail(&["--link-journal=x"]), "--link-journal=x: invalid link journal mode");
    assert_eq!(fail(&["-p", "0"]), "--port=0: invalid port number: \"0\"");
    assert_eq!(fail(&["-p", "80", "-p", "80:81"]), "--port=80:81: duplicate port specification");
    assert_eq!(fail(&["--capability=CAP_FOO"]), "--capability=CAP_FOO: unknown capability: \"CAP_FOO\"");
    assert_eq!(fail(&["--rlimit=NOFILE"]), "--rlimit=NOFILE: expects an '=' assignment");
    assert_eq!(
        fail(&["--oom-score-adjust=-1001"]),
        "--oom-score-adjust=-1001: OOM score adjustment value out of range -1000..1000"
    );
    assert_eq!(fail(&["--cpu-affinity=3-1"]), "--cpu-affinity=3-1: invalid CPU range: \"3-1\"");
    // Another architecture's name (arm on x86_64).
    let foreign = crate::security::process::test_names::FOREIGN;
    let opt = format!("--personality={foreign}");
    assert_eq!(fail(&[&opt]), format!("{opt}: unknown or unsupported personality"));
    assert_eq!(fail(&["--network-bridge=a b"]), "--network-bridge=a b: invalid bridge interface name");
    assert_eq!(fail(&["--network-zone=much-too-long"]), "--network-zone=much-too-long: invalid network zone name");
    assert_eq!(fail(&["--network-interface=a/b"]), "--network-interface=a/b: invalid network interface name: \"a/b\"");
    assert_eq!(fail(&["--property=MemoryMax"]), "--property=MemoryMax: expected NAME=VALUE");
    assert_eq!(fail(&["-S", ""]), "--slice=: invalid slice name");
    assert_eq!(fail(&["--bind-user=1x"]), "--bind-user=1x: invalid user name");
    assert_eq!(fail(&["--bind-user-group=a.b"]), "--bind-user-group=a.b: invalid group name");
    assert_eq!(fail(&["--set-credential=x"]), "--set-credential=x: expected ID:VALUE");
    assert_eq!(fail(&["--private-users-delegate=x"]), "--private-users-delegate=x: invalid number");
    assert_eq!(fail(&["--forward-journal-max-use=1Q"]), "--forward-journal-max-use=1Q: invalid size");
    assert_eq!(fail(&["--pivot-root=x"]), "--pivot-root=x: destination must be an absolute path: \"x\"");
    assert_eq!(fail(&["--root-hash=ab"]), "--root-hash=ab: root hash must be at least 128-bit long");
    assert_eq!(fail(&["--background=blue"]), "--background=blue: not an ANSI color code");
    assert_eq!(fail(&["--system-call-filter=a;b"]), "--system-call-filter=a;b: invalid system call name: \"a;b\"");
}

#[test]
fn setenv_resolves_and_replaces() {
    let s = run(&["-E", "A=1", "-E", "FOO", "-E", "UNSET", "--setenv=A=2", "-E", "HOME"]);
    assert_eq!(s.setenv, ["A=2", "FOO=from-env", "UNSET=", "HOME=/root"]);
}

#[test]
fn signals_and_identity() {
    assert_eq!(run(&["--kill-signal=SIGRTMIN+4"]).kill_signal, Some(38));
    assert_eq!(run(&["--kill-signal=RTMIN+3"]).kill_signal, Some(37));
    assert_eq!(run(&["--kill-signal=TERM"]).kill_signal, Some(15));
    assert_eq!(run(&["--kill-signal=2"]).kill_signal, Some(2));
    let s = run(&["--uuid=0123456789abcdef0123456789abcdef", "--hostname=h.example", "-M", "m"]);
    assert_eq!(s.uuid.map(|u| u.0[15]), Some(0xef));
    assert_eq!(s.hostname.as_deref(), Some("h.example"));
    assert_eq!(s.machine.as_deref(), Some("m"));
    assert_eq!(run(&["-M", "m", "-M", ""]).machine, None);
}

#[test]
fn users() {
    assert_eq!(run(&["-u", "alice"]).user.as_deref(), Some("alice"));
    assert_eq!(run(&["--uid=1000"]).user.as_deref(), Some("1000"));
    assert_eq!(run(&["--user", "bob", "/bin/id"]).user.as_deref(), Some("bob"));
    assert_eq!(params(&run(&["--user", "bob", "/bin/id"])), ["/bin/id"]);
    assert!(run(&["--user=bob"]).unsupported.is_empty());
}

#[test]
fn console_modes() {
    assert_eq!(run(&["-P"]).console, Some(ConsoleMode::Pipe));
    assert_eq!(run(&["--pipe"]).console, Some(ConsoleMode::Pipe));
    assert_eq!(run(&["--console=passive"]).console, Some(ConsoleMode::Passive));
    assert_eq!(run(&["-P", "--console=autopipe"]).console, Some(ConsoleMode::Autopipe));
}

#[test]
fn mounts_keep_command_line_order() {
    let s = run(&["--tmpfs=/b", "--overlay-ro=/l1:/l2:/opt", "--bind=rel:/x", "--inaccessible=/a"]);
    let dsts: Vec<&Path> = s.custom_mounts.iter().map(|m| m.destination()).collect();
    assert_eq!(dsts, [Path::new("/b"), Path::new("/opt"), Path::new("/x"), Path::new("/a")]);
    assert_eq!(
        s.custom_mounts[1],
        CustomMount::Overlay {
            lower: vec![MountSource::Host("/l1".into()), MountSource::Host("/l2".into())],
            upper: None,
            destination: "/opt".into(),
            read_only: true,
        }
    );
    assert!(
        matches!(&s.custom_mounts[2], CustomMount::Bind { source: MountSource::Host(p), .. } if p == Path::new("/work/here/rel"))
    );
}

#[test]
fn register_accepts_auto() {
    assert_eq!(run(&["--register=auto"]).register, None);
    assert_eq!(run(&["--register=yes"]).register, Some(true));
}

#[test]
fn later_values_override_earlier_ones() {
    let s = run(&["-D", "/a", "-D", "/b", "--kill-signal=INT", "--kill-signal=TERM"]);
    assert_eq!((s.directory, s.kill_signal), (dir("/b"), Some(15)));
    let s = run(&["--cpu-affinity=1", "--cpu-affinity="]);
    assert_eq!(s.cpu_affinity, None);
}

#[test]
fn help_text_is_public() {
    assert!(help_text().contains("  -b --boot"));
    assert!(version_text().starts_with("spawnbox "));
}
