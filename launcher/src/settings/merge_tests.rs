//! Golden results of `merge()`: the command line, a settings file, trust.

use super::SettingsMask as S;
use super::*;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The command line's settings, as `cli::parse` gives them.
fn cli(args: &[&str]) -> Settings {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    match crate::cli::parse(&args, &|_| None, Path::new("/w")) {
        Ok(crate::cli::Parsed::Run(s)) => s,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn bind(src: &str, dst: &str) -> CustomMount {
    CustomMount::Bind {
        source: MountSource::Host(src.into()),
        destination: dst.into(),
        read_only: false,
        recursive: true,
        idmap: BindIdmap::None,
    }
}

fn limit(resource: u32, value: u64) -> Rlimit {
    Rlimit { resource, soft: value, hard: value }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A file that sets one key of every group a `.nspawn` file can set, privileged or not.
fn full_file() -> Settings {
    Settings {
        start_mode: Some(StartMode::Boot),
        parameters: vec!["--unit=rescue.target".into()],
        ephemeral: true,
        setenv: strings(&["LANG=C"]),
        user: Some("daemon".into()),
        chdir: Some("/srv".into()),
        pivot_root: Some(("/sysroot".into(), None)),
        capability: 1 << 25,
        drop_capability: 1 << 27,
        ambient_capability: 1 << 0,
        kill_signal: Some(15),
        personality: Some("x86".into()),
        uuid: Some(Id128([7; 16])),
        read_only: true,
        volatile: Some(VolatileMode::State),
        custom_mounts: vec![bind("/srv/data", "/data")],
        private_network: true,
        network_veth: true,
        network_zone: Some("lab".into()),
        ports: vec![PortForward { udp: false, host_port: 8080, container_port: 80 }],
        private_users: Some(PrivateUsers::Pick),
        private_users_ownership: Some(UserNamespaceOwnership::Auto),
        bind_user: strings(&["alice"]),
        notify_ready: Some(true),
        system_call_filter: strings(&["@clock", "~@swap"]),
        rlimits: vec![limit(7, 4096)],
        hostname: Some("box".into()),
        no_new_privileges: Some(true),
        oom_score_adjust: Some(-100),
        cpu_affinity: Some(vec![1]),
        resolv_conf: Some(ResolvConfMode::Off),
        link_journal: Some(LinkJournal::TryGuest),
        timezone: Some(TimezoneMode::Off),
        suppress_sync: Some(true),
        given: S::START_MODE
            | S::EPHEMERAL
            | S::ENVIRONMENT
            | S::USER
            | S::WORKING_DIRECTORY
            | S::PIVOT_ROOT
            | S::CAPABILITY
            | S::KILL_SIGNAL
            | S::PERSONALITY
            | S::MACHINE_ID
            | S::READ_ONLY
            | S::VOLATILE_MODE
            | S::CUSTOM_MOUNTS
            | S::NETWORK
            | S::EXPOSE_PORTS
            | S::USERNS
            | S::BIND_USER
            | S::NOTIFY_READY
            | S::SYSCALL_FILTER
            | S::rlimit(7)
            | S::HOSTNAME
            | S::NO_NEW_PRIVILEGES
            | S::OOM_SCORE_ADJUST
            | S::CPU_AFFINITY
            | S::RESOLV_CONF
            | S::LINK_JOURNAL
            | S::TIMEZONE
            | S::SUPPRESS_SYNC,
        ..Settings::default()
    }
}

#[test]
fn command_line_only() {
    let c = cli(&["-D", "/r", "-n", "--bind=/a", "-E", "A=1", "--hostname=", "/bin/sh"]);
    for trusted in [true, false] {
        let m = merge(&c, &Settings::default(), trusted);
        assert_eq!(m, Merged { settings: c.clone(), ignored: vec![] });
    }
}

#[test]
fn file_only_trusted_takes_every_group() {
    let file = full_file();
    let m = merge(&Settings::default(), &file, true);
    assert_eq!(m, Merged { settings: file, ignored: vec![] });
}

#[test]
fn file_only_untrusted_keeps_the_unprivileged_groups() {
    let file = full_file();
    let m = merge(&Settings::default(), &file, false);
    let want = Settings {
        start_mode: Some(StartMode::Boot),
        parameters: vec!["--unit=rescue.target".into()],
        setenv: strings(&["LANG=C"]),
        user: Some("daemon".into()),
        chdir: Some("/srv".into()),
        pivot_root: Some(("/sysroot".into(), None)),
        // DropCapability= is honoured, Capability= and AmbientCapability= are not.
        drop_capability: 1 << 27,
        kill_signal: Some(15),
        personality: Some("x86".into()),
        read_only: true,
        volatile: Some(VolatileMode::State),
        notify_ready: Some(true),
        hostname: Some("box".into()),
        no_new_privileges: Some(true),
        resolv_conf: Some(ResolvConfMode::Off),
        timezone: Some(TimezoneMode::Off),
        suppress_sync: Some(true),
        given: S::START_MODE
            | S::ENVIRONMENT
            | S::USER
            | S::WORKING_DIRECTORY
            | S::PIVOT_ROOT
            | S::CAPABILITY
            | S::KILL_SIGNAL
            | S::PERSONALITY
            | S::READ_ONLY
            | S::VOLATILE_MODE
            | S::NOTIFY_READY
            | S::HOSTNAME
            | S::NO_NEW_PRIVILEGES
            | S::RESOLV_CONF
            | S::TIMEZONE
            | S::SUPPRESS_SYNC,
        ..Settings::default()
    };
    assert_eq!(m.settings, want);
    let untrusted = |group, what| Ignored { group, what, reason: IgnoredReason::Untrusted };
    assert_eq!(
        m.ignored,
        [
            untrusted(S::EPHEMERAL, "Ephemeral= setting"),
            untrusted(S::CAPABILITY, "Capability= setting"),
            untrusted(S::CAPABILITY, "AmbientCapability= setting"),
            untrusted(S::MACHINE_ID, "MachineID= setting"),
            untrusted(
                S::CUSTOM_MOUNTS,
                "Bind=, BindReadOnly=, TemporaryFileSystem=, Inaccessible=, Overlay= and OverlayReadOnly= settings"
            ),
            untrusted(S::NETWORK, "network settings"),
            untrusted(S::EXPOSE_PORTS, "Port= setting"),
            untrusted(S::USERNS, "PrivateUsers= and PrivateUsersOwnership= settings"),
            untrusted(S::BIND_USER, "BindUser= and BindUserShell= settings"),
            untrusted(S::SYSCALL_FILTER, "SystemCallFilter= settings"),
            untrusted(S::rlimit(7), "LimitNOFILE= setting"),
            untrusted(S::OOM_SCORE_ADJUST, "OOMScoreAdjust= setting"),
            untrusted(S::CPU_AFFINITY, "CPUAffinity= setting"),
            untrusted(S::LINK_JOURNAL, "journal link setting"),
        ]
    );
    assert_eq!(
        m.ignored[5].message(Path::new("/var/lib/machines/web.nspawn")),
        "Ignoring network settings, file /var/lib/machines/web.nspawn is not trusted."
    );
}

#[test]
fn both_the_command_line_wins_group_by_group() {
    let c = cli(&["-D", "/r", "-E", "A=1", "-n", "-p", "80", "--hostname=", "--capability=CAP_NET_RAW"]);
    let file = full_file();
    for trusted in [true, false] {
        let m = merge(&c, &file, trusted);
        let s = &m.settings;
        // The command line's groups: its values, the file's ignored without a warning.
        assert_eq!(s.directory, Some(PathBuf::from("/r")));
        assert_eq!(s.setenv, ["A=1"]);
        assert_eq!((s.private_network, s.network_veth, s.network_zone.as_deref()), (true, true, None));
        assert_eq!(s.ports, [PortForward { udp: false, host_port: 80, container_port: 80 }]);
        assert_eq!(s.hostname, None, "--hostname= (empty) beats Hostname=");
        assert_eq!((s.capability, s.drop_capability, s.ambient_capability), (1 << 13, 0, 0));
        // The file's unprivileged groups, whatever the trust.
        assert_eq!((s.user.as_deref(), s.kill_signal, s.read_only), (Some("daemon"), Some(15), true));
        // The file's privileged groups, only when trusted.
        let custom = if trusted { vec![bind("/srv/data", "/data")] } else { vec![] };
        assert_eq!(s.custom_mounts, custom);
        assert_eq!(s.uuid.is_some(), trusted);
        assert!(m.ignored.iter().all(|i| !c.given.contains(i.group)), "no warning for a masked group");
        assert_eq!(m.ignored.is_empty(), trusted);
        assert_eq!(s.given, c.given | file.given.difference(c.given).difference(ignored_groups(&m)));
    }
}

fn ignored_groups(m: &Merged) -> S {
    m.ignored.iter().fold(S::EMPTY, |acc, i| acc | i.group)
}

#[test]
fn both_golden() {
    let c = cli(&["-D", "/r", "-E", "A=1", "--network-veth", "--", "/bin/sh"]);
    let file = Settings {
        setenv: strings(&["B=2"]),
        network_bridge: Some("br0".into()),
        network_veth: true,
        private_network: true,
        start_mode: Some(StartMode::Boot),
        hostname: Some("h".into()),
        custom_mounts: vec![bind("/srv", "/srv")],
        given: S::ENVIRONMENT | S::NETWORK | S::START_MODE | S::HOSTNAME | S::CUSTOM_MOUNTS,
        ..Settings::default()
    };
    let m = merge(&c, &file, true);
    let want = Settings {
        directory: Some("/r".into()),
        setenv: strings(&["A=1"]),
        private_network: true,
        network_veth: true,
        parameters: vec!["/bin/sh".into()],
        hostname: Some("h".into()),
        custom_mounts: vec![bind("/srv", "/srv")],
        given: S::DIRECTORY | S::ENVIRONMENT | S::NETWORK | S::START_MODE | S::HOSTNAME | S::CUSTOM_MOUNTS,
        ..Settings::default()
    };
    assert_eq!(m, Merged { settings: want, ignored: vec![] });
}

#[test]
fn untrusted_file_may_deny_system_calls_and_drop_capabilities() {
    let file = Settings {
        system_call_filter: strings(&["~@swap", "~@reboot"]),
        drop_capability: 1 << 21,
        given: S::SYSCALL_FILTER | S::CAPABILITY,
        ..Settings::default()
    };
    let m = merge(&Settings::default(), &file, false);
    assert_eq!(m, Merged { settings: file, ignored: vec![] });
}

#[test]
fn repeated_list_keys_replace_as_a_whole() {
    let file = Settings {
        setenv: strings(&["A=9", "C=3"]),
        custom_mounts: vec![bind("/y", "/y"), bind("/z", "/z")],
        rlimits: vec![limit(7, 20), limit(6, 5), limit(4, 0)],
        given: S::ENVIRONMENT | S::CUSTOM_MOUNTS | S::rlimit(7) | S::rlimit(6) | S::rlimit(4),
        ..Settings::default()
    };
    // The command line's lists are kept whole: no entry of the file's is added to them.
    let c = cli(&["-E", "A=1", "-E", "B=2", "--bind=/x", "--rlimit=NOFILE=10"]);
    let m = merge(&c, &file, true);
    assert_eq!(m.settings.setenv, ["A=1", "B=2"]);
    assert_eq!(m.settings.custom_mounts, [bind("/x", "/x")]);
    // Resource limits are one group each: the command line's NOFILE, the file's others
    // (appended in resource order).
    assert_eq!(m.settings.rlimits, [limit(7, 10), limit(4, 0), limit(6, 5)]);
    // Without the command line, the file's lists in the file's order.
    let m = merge(&cli(&[]), &file, true);
    assert_eq!(m.settings.setenv, ["A=9", "C=3"]);
    assert_eq!(m.settings.custom_mounts, [bind("/y", "/y"), bind("/z", "/z")]);
    assert_eq!(m.settings.rlimits, [limit(4, 0), limit(6, 5), limit(7, 20)]);
    // Untrusted: every limit is refused, one warning each.
    let m = merge(&cli(&["--rlimit=NOFILE=10"]), &file, false);
    assert_eq!(m.settings.rlimits, [limit(7, 10)]);
    let what: Vec<&str> = m.ignored.iter().map(|i| i.what).collect();
    assert_eq!(
        what,
        [
            "Bind=, BindReadOnly=, TemporaryFileSystem=, Inaccessible=, Overlay= and OverlayReadOnly= settings",
            "LimitCORE= setting",
            "LimitNPROC= setting"
        ]
    );
}

#[test]
fn settings_override_lets_the_file_win_and_no_ignores_it() {
    let file = Settings {
        setenv: strings(&["B=2"]),
        read_only: true,
        given: S::ENVIRONMENT | S::READ_ONLY,
        ..Settings::default()
    };
    let c = cli(&["--settings=override", "-E", "A=1", "--hostname=c", "-n"]);
    let m = merge(&c, &file, false);
    assert_eq!(m.settings.setenv, ["B=2"], "the file wins");
    assert!(m.settings.read_only);
    assert_eq!(m.settings.hostname.as_deref(), Some("c"), "the command line where the file is silent");
    assert!(m.settings.network_veth);
    let c = cli(&["--settings=no", "-E", "A=1"]);
    assert_eq!(merge(&c, &file, true), Merged { settings: c.clone(), ignored: vec![] });
    assert_eq!(cli_mask(&c), S::ALL);
    assert_eq!(cli_mask(&cli(&["--settings=trusted", "-E", "A=1"])), S::SETTINGS_MODE | S::ENVIRONMENT);
}

#[test]
fn trust_follows_the_location_and_settings_trusted() {
    assert!(file_trusted(None, true));
    assert!(!file_trusted(None, false));
    assert!(!file_trusted(Some(SettingsMode::Yes), false));
    assert!(file_trusted(Some(SettingsMode::Trusted), false));
    assert!(!file_trusted(Some(SettingsMode::Override), false));
    assert!(file_trusted(Some(SettingsMode::Override), true));
}

#[test]
fn command_line_only_groups_are_never_taken() {
    let file = Settings {
        machine: Some("other".into()),
        credentials: vec![Credential::Set { id: "a".into(), value: b"b".to_vec() }],
        given: S::MACHINE | S::CREDENTIALS,
        ..Settings::default()
    };
    let m = merge(&Settings::default(), &file, true);
    assert_eq!(m.settings, Settings::default());
    let only = |group, what| Ignored { group, what, reason: IgnoredReason::CommandLineOnly };
    assert_eq!(m.ignored, [only(S::CREDENTIALS, "CREDENTIALS"), only(S::MACHINE, "MACHINE")]);
    assert_eq!(
        m.ignored[1].message(Path::new("/etc/systemd/nspawn/x.nspawn")),
        "Ignoring MACHINE in file /etc/systemd/nspawn/x.nspawn: only the command line sets it."
    );
}

#[test]
fn untrusted_files_lose_exactly_the_privileged_groups() {
    let mut file = full_file();
    file.directory = Some("/srv/tree".into());
    file.slice = Some("lab.slice".into());
    file.console = Some(ConsoleMode::Pipe);
    file.share_system = true;
    file.rlimits = (0..16).map(|r| limit(r, 1)).collect();
    file.given |= S::DIRECTORY | S::SLICE | S::CONSOLE_MODE | S::CLONE_NS_FLAGS | S::USE_CGNS | S::RLIMITS;
    assert_eq!(file.given, S::ALL.difference(S::CLI_ONLY), "every group a file can set");
    let m = merge(&Settings::default(), &file, false);
    assert_eq!(ignored_groups(&m), S::PRIVILEGED);
    assert!(m.ignored.iter().all(|i| i.reason == IgnoredReason::Untrusted));
    // DropCapability= is the part of CAPABILITY that is taken.
    assert_eq!(m.settings.given, file.given.difference(S::PRIVILEGED) | S::CAPABILITY);
    let m = merge(&Settings::default(), &file, true);
    assert_eq!(m, Merged { settings: file, ignored: vec![] });
}

#[test]
fn extension_keys_only_from_spawnbox_files() {
    let file = Settings {
        network_nat: Some(true),
        network_address: Some(NetworkAddress::Off),
        given: S::NETWORK_ADDRESSING,
        ..Settings::default()
    };
    let path = Path::new("/etc/systemd/nspawn/web.nspawn");
    // A spawnbox file, trusted: taken.
    let m = merge_from(&Settings::default(), &file, true, true);
    assert_eq!((m.settings.network_nat, m.settings.network_address), (Some(true), Some(NetworkAddress::Off)));
    assert_eq!((m.settings.given, m.ignored.len()), (S::NETWORK_ADDRESSING, 0));
    // The command line wins.
    let m = merge_from(&cli(&["--network-nat=no"]), &file, true, true);
    assert_eq!((m.settings.network_nat, m.settings.network_address), (Some(false), None));
    // Untrusted (next to the image with --settings=trusted is the only way there): privileged.
    let m = merge_from(&Settings::default(), &file, false, true);
    assert_eq!(m.settings, Settings::default());
    assert_eq!(
        m.ignored[0].message(path),
        "Ignoring NAT= and Address= settings, file /etc/systemd/nspawn/web.nspawn is not trusted."
    );
    // Any other file: ignored with its own warning.
    let m = merge(&Settings::default(), &file, true);
    assert_eq!(m.settings, Settings::default());
    assert_eq!(
        m.ignored[0].message(path),
        "Ignoring NAT= and Address= settings in file /etc/systemd/nspawn/web.nspawn: spawnbox reads its own keys only from files in /etc/spawnbox and /run/spawnbox."
    );
}
