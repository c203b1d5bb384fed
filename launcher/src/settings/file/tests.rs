//! The INI syntax as nspawn reads it, warnings and errors with their exact text, and the
//! `given` rules. Cases marked "nspawn 252" were checked against systemd-nspawn 252.

use super::*;
use crate::settings::{
    BindIdmap, CustomMount, InterfacePair, MountSource, PortForward, Rlimit, SettingsMask as S, StartMode,
    UserNamespaceOwnership as Own,
};
use std::ffi::OsString;

const FILE: &str = "/etc/systemd/nspawn/web.nspawn";

fn parse_str(text: &str) -> Result<Parsed, Error> {
    parse(Path::new(FILE), text.as_bytes())
}

fn ok(text: &str) -> Parsed {
    match parse_str(text) {
        Ok(p) => p,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

/// The settings of a file that must parse without warnings.
fn clean(text: &str) -> Settings {
    let p = ok(text);
    assert_eq!(p.warnings, Vec::<String>::new(), "{text:?}");
    p.settings
}

fn err(text: &str) -> String {
    match parse_str(text) {
        Ok(p) => panic!("{text:?} parsed: {p:?}"),
        Err(e) => e.to_string(),
    }
}

fn args(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn bind(src: &str, dst: &str, read_only: bool) -> CustomMount {
    let source = MountSource::Host(src.into());
    CustomMount::Bind { source, destination: dst.into(), read_only, recursive: true, idmap: BindIdmap::None }
}

#[test]
fn empty_files() {
    for text in ["", "\n\n", "# only a comment\n; and another\n", "[Exec]\n", "[Exec]\n[Files]\n[Network]\n"] {
        assert_eq!(clean(text), Settings::default(), "{text:?}");
    }
}

#[test]
fn comments_blank_lines_bom_and_line_endings() {
    let want = clean("[Exec]\nHostname=web\n");
    for text in [
        "# comment\n[Exec]\n; comment\n\n  # indented comment\nHostname=web\n",
        "\u{feff}[Exec]\r\nHostname=web\r\n",
        "  [Exec]  \n\t Hostname \t=\t web \t\n",
        "[Exec]\rHostname=web",
    ] {
        assert_eq!(clean(text), want, "{text:?}");
    }
    // A comment must start the line: after a value it is part of the value.
    assert_eq!(err("[Exec]\nHostname=web # the host\n"), format!("{FILE}:2: [Exec] Hostname=: invalid hostname"));
}

#[test]
fn continuation_lines() {
    // nspawn 252: "Parameters=/bin/echo a \\\n# comment\n  b" runs `echo a b`.
    let s = clean("[Exec]\nParameters=/bin/echo a \\\n# comment\n  b\n");
    assert_eq!(s.parameters, args(&["/bin/echo", "a", "b"]));
    // The backslash becomes a space, also inside quotes; an escaped one does not continue.
    let s = clean("[Exec]\nEnvironment=\"MSG=a\\\nb\" C=x\\\\\n");
    assert_eq!(s.setenv, ["MSG=a b", "C=x\\\\"]);
    // An empty line ends a continuation; so does the end of the file.
    let s = clean("[Exec]\nParameters=a \\\n\nHostname=h\\");
    assert_eq!((s.parameters, s.hostname), (args(&["a"]), Some("h".into())));
    // Messages name the line the key is on.
    assert_eq!(err("[Exec]\nKillSignal=\\\n\\\nFOO\n"), format!("{FILE}:2: [Exec] KillSignal=: invalid signal name"));
}

#[test]
fn quoting_follows_each_keys_parser() {
    // nspawn 252: Environment="A=hello world" B=x\\ty C=\\x41 D=a"b c"d E=1 (the file's text).
    let s = clean("[Exec]\nEnvironment=\"A=hello world\" B=x\\\\ty C=\\\\x41 D=a\"b c\"d\nEnvironment=E=1\n");
    assert_eq!(s.setenv, ["A=hello world", "B=x\\\\ty", "C=\\\\x41", "D=ab cd", "E=1"]);
    let s = clean("[Exec]\nParameters=/bin/sh -c 'echo \"$A\"' \"\" x\\y\n");
    assert_eq!(s.parameters, args(&["/bin/sh", "-c", "echo \"$A\"", "", "x\\y"]));
    // Plain words: a backslash escapes the next character, quotes are plain characters.
    assert_eq!(clean("[Files]\nBindUser=al\\ice\tbob\n").bind_user, ["alice", "bob"]);
    let e = format!("{FILE}:2: [Files] BindUser=: invalid user name: \"\\\"alice\\\"\"");
    assert_eq!(err("[Files]\nBindUser=\"alice\"\n"), e);
    // Mount keys take the whole value, as the options do: a blank is part of the path.
    let s = clean("[Files]\nBind=/srv/my data:/data\n");
    assert_eq!(s.custom_mounts, [bind("/srv/my data", "/data", false)]);
}

#[test]
fn empty_assignments_reset() {
    let s = clean("[Exec]\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n");
    assert_eq!(s.setenv, ["B=2"]);
    let s = clean("[Exec]\nParameters=a b\nParameters=\nParameters=c\nBoot=no\n");
    assert_eq!(s.parameters, args(&["c"]));
    let s = clean("[Exec]\nCapability=CAP_NET_ADMIN\nCapability=\nCapability=CAP_SYS_TIME\n");
    assert_eq!(s.capability, 1 << 25);
    // A mount key drops its own earlier lines only.
    let s = clean("[Files]\nBind=/a\nBindReadOnly=/b\nTemporaryFileSystem=/t\nBind=/c\nBind=\nBind=/d\n");
    assert_eq!(
        s.custom_mounts,
        [
            bind("/b", "/b", true),
            CustomMount::Tmpfs { destination: "/t".into(), options: String::new() },
            bind("/d", "/d", false)
        ]
    );
    let s = clean("[Exec]\nLimitNOFILE=10\nLimitCORE=0\nLimitNOFILE=\n");
    assert_eq!((s.rlimits, s.given), (vec![Rlimit { resource: 4, soft: 0, hard: 0 }], S::rlimit(4)));
    // A key reset to nothing leaves its group unset, as nspawn's merge tests the values.
    for text in [
        "[Exec]\nHostname=a\nHostname=\n",
        "[Exec]\nEphemeral=yes\nEphemeral=\n",
        "[Exec]\nCPUAffinity=1\nCPUAffinity=\n",
        "[Exec]\nCPUAffinity=1\nCPUAffinity=,\n",
        "[Files]\nBindUser=alice\nBindUser=\n",
        "[Network]\nInterface=eth1\nInterface=\n",
        "[Network]\nPort=80\nPort=\n",
        "[Network]\nPrivate=yes\nPrivate=\n",
    ] {
        assert_eq!(clean(text), Settings::default(), "{text:?}");
    }
}

#[test]
fn repeated_keys_append_lists_and_replace_scalars() {
    let s = clean("[Exec]\nHostname=a\nHostname=b\nKillSignal=TERM\nKillSignal=SIGINT\n");
    assert_eq!((s.hostname.as_deref(), s.kill_signal), (Some("b"), Some(2)));
    let s = clean("[Exec]\nEnvironment=A=1 B=2\nEnvironment=A=3\nCapability=CAP_CHOWN\nCapability=CAP_KILL\n");
    assert_eq!((s.setenv, s.capability), (vec!["A=3".to_string(), "B=2".into()], 0b100001));
    let s = clean("[Exec]\nCPUAffinity=3 1\nCPUAffinity=0-1\nLimitNOFILE=1\nLimitNOFILE=2:3\n");
    assert_eq!(s.cpu_affinity, Some(vec![0, 1, 3]));
    assert_eq!(s.rlimits, [Rlimit { resource: 7, soft: 2, hard: 3 }]);
    let s = clean("[Network]\nPort=80\nPort=udp:80\nInterface=a b\nInterface=c\n");
    assert_eq!(s.ports.len(), 2);
    assert_eq!(s.network_interfaces.iter().map(|p| p.host.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    let s = clean("[Exec]\nSystemCallFilter=@clock\nSystemCallFilter=~@swap kexec_load\n");
    assert_eq!(s.system_call_filter, ["@clock", "~@swap", "~kexec_load"]);
}

#[test]
fn unknown_sections_and_keys_warn() {
    // nspawn 252 warns about both and goes on.
    let p = ok("[Exec]\nHostname=web\nFoo=bar\n[Bogus]\nX=1\nBind=/x\n[Files]\nBind=/srv\n");
    assert_eq!(
        p.warnings,
        [
            format!("{FILE}:3: [Exec] Foo=: unknown key, ignoring"),
            format!("{FILE}:4: [Bogus]: unknown section, ignoring")
        ]
    );
    assert_eq!(p.settings.custom_mounts, [bind("/srv", "/srv", false)]);
    // Keys and sections are case-sensitive; a key of another section gets a hint.
    let p = ok("[exec]\nBoot=yes\n[Exec]\nboot=yes\nBind=/x\n[ Exec ]\n");
    assert_eq!(
        p.warnings,
        [
            format!("{FILE}:1: [exec]: unknown section, ignoring"),
            format!("{FILE}:4: [Exec] boot=: unknown key, ignoring"),
            format!("{FILE}:5: [Exec] Bind=: unknown key, ignoring (it belongs in [Files])"),
            format!("{FILE}:6: [ Exec ]: unknown section, ignoring"),
        ]
    );
    assert_eq!(p.settings, Settings::default());
    // X- sections and keys are extensions of other programs: ignored without a word.
    assert_eq!(clean("[X-Tool]\nA=1\n[Exec]\nX-Tool-Key=1\nHostname=h\n").hostname.as_deref(), Some("h"));
}

#[test]
fn malformed_lines_warn() {
    // nspawn 252: "Assignment outside of section", "Missing '='", "Missing key name before '='".
    let p = ok("Boot=yes\n.include /etc/other\n[Exec]\nNoEquals\n= x\nHostname=h\n[Bogus]\nNoEquals\n");
    assert_eq!(
        p.warnings,
        [
            format!("{FILE}:1: assignment outside of a section, ignoring"),
            format!("{FILE}:2: assignment outside of a section, ignoring"),
            format!("{FILE}:4: [Exec]: missing '=', ignoring line"),
            format!("{FILE}:5: [Exec]: missing key name before '=', ignoring line"),
            format!("{FILE}:7: [Bogus]: unknown section, ignoring"),
        ]
    );
    assert_eq!((p.settings.start_mode, p.settings.hostname.as_deref()), (None, Some("h")));
}

#[test]
fn syntax_errors() {
    // nspawn 252 fails on these too ("Invalid section header", "Bad characters in section
    // header", "String is not UTF-8 clean").
    assert_eq!(err("[Exec]\nBoot=yes\n[Files\n"), format!("{FILE}:3: invalid section header \"[Files\""));
    assert_eq!(err("[Fi\\les]\n"), format!("{FILE}:1: bad characters in section header \"[Fi\\\\les]\""));
    let bytes = b"[Exec]\n# caf\xe9 is fine in a comment\nHostname=caf\xe9\n";
    let e = parse(Path::new(FILE), bytes).unwrap_err().to_string();
    assert_eq!(e, format!("{FILE}:3: invalid UTF-8"));
    // Also in a section that is ignored.
    let e = parse(Path::new(FILE), b"[X-Other]\nA=\xff\n").unwrap_err().to_string();
    assert_eq!(e, format!("{FILE}:2: invalid UTF-8"));
}

#[test]
fn value_errors_name_file_line_section_and_key() {
    let cases = [
        ("[Files]\nBind=srv:/srv\n", "2: [Files] Bind=: source must be an absolute path: \"srv\""),
        ("[Files]\n\nBind=/srv:srv\n", "3: [Files] Bind=: destination must be an absolute path: \"srv\""),
        ("[Files]\nOverlay=lower:/upper:/dst\n", "2: [Files] Overlay=: source must be an absolute path: \"lower\""),
        ("[Files]\nBind=/a:/b:ro\n", "2: [Files] Bind=: unknown bind mount option: \"ro\""),
        ("[Exec]\nBoot=maybe\n", "2: [Exec] Boot=: invalid boolean"),
        (
            "[Exec]\nBoot=yes\nProcessTwo=yes\n",
            "3: [Exec] ProcessTwo=: conflicts with an earlier Boot= or ProcessTwo= setting",
        ),
        ("[Exec]\nBoot=yes\nBoot=no\n", "3: [Exec] Boot=: conflicts with an earlier Boot= or ProcessTwo= setting"),
        ("[Exec]\nEnvironment=PATH\n", "2: [Exec] Environment=: expected NAME=VALUE: \"PATH\""),
        ("[Exec]\nEnvironment=1A=x\n", "2: [Exec] Environment=: invalid environment variable name"),
        ("[Exec]\nEnvironment=\"A=x\n", "2: [Exec] Environment=: unbalanced quotes"),
        ("[Exec]\nUser=da\"emon\n", "2: [Exec] User=: user name contains quotes, backslashes or control characters"),
        ("[Exec]\nCapability=CAP_FOO\n", "2: [Exec] Capability=: unknown capability: \"CAP_FOO\""),
        ("[Exec]\nCapability=help\n", "2: [Exec] Capability=: unknown capability: \"help\""),
        ("[Exec]\nSystemCallFilter=@clock a;b\n", "2: [Exec] SystemCallFilter=: invalid system call name: \"a;b\""),
        ("[Exec]\nLimitNOFILE=1K\n", "2: [Exec] LimitNOFILE=: invalid resource limit value: \"1K\""),
        ("[Exec]\nWorkingDirectory=srv\n", "2: [Exec] WorkingDirectory=: working directory must be an absolute path"),
        ("[Exec]\nMachineID=0\n", "2: [Exec] MachineID=: invalid UUID"),
        ("[Exec]\nPrivateUsers=lots\n", "2: [Exec] PrivateUsers=: invalid UID base"),
        ("[Exec]\nCPUAffinity=0-1 x\n", "2: [Exec] CPUAffinity=: invalid CPU index: \"x\""),
        ("[Files]\nBindUser=root alice!\n", "2: [Files] BindUser=: invalid user name: \"alice!\""),
        ("[Files]\nVolatile=tmpfs\n", "2: [Files] Volatile=: invalid volatile mode"),
        (
            "[Network]\nInterface=eth0 bad/name\n",
            "2: [Network] Interface=: invalid network interface name: \"bad/name\"",
        ),
        ("[Network]\nPort=80\nPort=80:8080\n", "3: [Network] Port=: duplicate port specification"),
        ("[Network]\nZone=much-too-long-zone\n", "2: [Network] Zone=: invalid network zone name"),
        ("[Network]\nAddress=10.0.0.1/8\n", "2: [Network] Address=: address pool 10.0.0.1/8 has host bits set"),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), format!("{FILE}:{want}"), "{text:?}");
    }
}

#[test]
fn given_follows_the_values() {
    let given = |text: &str| clean(text).given;
    // "no" is a value: it is given, and wins over the command line under --settings=override.
    assert_eq!(given("[Files]\nReadOnly=no\n"), S::READ_ONLY);
    assert_eq!(given("[Exec]\nEphemeral=no\nNotifyReady=no\n"), S::EPHEMERAL | S::NOTIFY_READY);
    assert_eq!(given("[Network]\nPrivate=no\n"), S::NETWORK);
    assert_eq!(given("[Exec]\nBoot=no\n"), S::START_MODE);
    assert_eq!(clean("[Exec]\nBoot=no\n").start_mode, Some(StartMode::Pid1));
    // Parameters= alone gives the command as the positional arguments do (nspawn ignores it
    // without Boot=/ProcessTwo=, systemd issue #7428).
    let s = clean("[Exec]\nParameters=/bin/true\n");
    assert_eq!((s.start_mode, s.given), (None, S::START_MODE));
    assert_eq!(given("[Exec]\nSystemCallFilter=~\n"), S::EMPTY);
    assert_eq!(given("[Exec]\nDropCapability=CAP_SYS_ADMIN\n"), S::CAPABILITY);
}

#[test]
fn network_keys_imply_as_in_nspawn() {
    let s = clean("[Network]\nBridge=br0\n");
    assert!(s.network_veth && s.private_network);
    let s = clean("[Network]\nPrivate=no\nInterface=eth1\n");
    assert!(s.private_network && !s.network_veth);
    let s = clean("[Network]\nVirtualEthernet=no\n");
    assert!(!s.private_network && !s.network_veth);
    assert_eq!(s.given, S::NETWORK);
    let s = clean("[Network]\nVirtualEthernetExtra=ve-x:x\n");
    assert_eq!(s.network_veth_extra, [InterfacePair { host: "ve-x".into(), container: Some("x".into()) }]);
    assert!(s.private_network && !s.network_veth);
}

#[test]
fn user_namespace_keys_pair_up_as_in_settings_load() {
    let s = clean("[Exec]\nPrivateUsers=pick\n");
    assert_eq!((s.private_users, s.private_users_ownership), (Some(PrivateUsers::Pick), Some(Own::Chown)));
    let s = clean("[Exec]\nPrivateUsers=yes\n");
    assert_eq!((s.private_users, s.private_users_ownership), (Some(PrivateUsers::Yes), Some(Own::Off)));
    let s = clean("[Files]\nPrivateUsersOwnership=map\n");
    assert_eq!((s.private_users, s.private_users_ownership), (Some(PrivateUsers::No), Some(Own::Map)));
    let s = clean("[Exec]\nPrivateUsers=pick\n[Files]\nPrivateUsersChown=no\n");
    assert_eq!(s.private_users_ownership, Some(Own::Off));
    // In a file 0 and 1 are booleans (nspawn's config_parse_private_users); other numbers are
    // UID bases, as for the option.
    assert_eq!(clean("[Exec]\nPrivateUsers=0\n").private_users, Some(PrivateUsers::No));
    assert_eq!(clean("[Exec]\nPrivateUsers=1\n").private_users, Some(PrivateUsers::Yes));
    let s = clean("[Exec]\nPrivateUsers=524288:65536\n");
    assert_eq!(s.private_users, Some(PrivateUsers::Fixed { base: 524288, size: 65536 }));
    assert_eq!(s.given, S::USERNS);
}

#[test]
fn booleans_for_mode_keys() {
    // systemd's tables take booleans: yes is auto, no is off (LinkJournal: no).
    use crate::settings::{LinkJournal, ResolvConfMode, TimezoneMode};
    let s = clean("[Exec]\nResolvConf=yes\nTimezone=off\nLinkJournal=off\n[Files]\nPrivateUsersOwnership=1\n");
    assert_eq!(s.resolv_conf, Some(ResolvConfMode::Auto));
    assert_eq!(s.timezone, Some(TimezoneMode::Off));
    assert_eq!(s.link_journal, Some(LinkJournal::No));
    assert_eq!(s.private_users_ownership, Some(Own::Auto));
}

#[test]
fn unsupported_values_are_recorded_as_the_command_line_does() {
    let s = clean("[Exec]\nEphemeral=yes\n[Files]\nVolatile=state\nBind=:/scratch\nBindReadOnly=/ro\n");
    assert_eq!(s.unsupported, ["bind"]);
    assert!(s.ephemeral && s.volatile == Some(crate::settings::VolatileMode::State));
    assert!(clean("[Exec]\nEphemeral=no\n[Files]\nVolatile=no\n").unsupported.is_empty());
    assert_eq!(clean("[Exec]\nPrivateUsers=managed\n").unsupported, ["private-users"]);
}

#[test]
fn ports_and_file_names() {
    let s = clean("[Network]\nPort=tcp:8080:80\nPort=udp:53\n");
    let p = |udp, host_port, container_port| PortForward { udp, host_port, container_port };
    assert_eq!(s.ports, [p(false, 8080, 80), p(true, 53, 53)]);
    // The name is only used in messages.
    let e = parse(Path::new("relative/x.nspawn"), b"[Exec]\nBoot=x\n").unwrap_err().to_string();
    assert_eq!(e, "relative/x.nspawn:2: [Exec] Boot=: invalid boolean");
}
