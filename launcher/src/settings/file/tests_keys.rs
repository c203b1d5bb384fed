//! Every key: a golden `Settings` for one value, `given` equal to the key's group in the
//! table, an empty assignment that undoes it, the same result as its command-line option, and
//! a line in docs/SETTINGS-FILES.md.

use super::*;
use crate::security::process::test_names::{NATIVE, NATIVE_OPTION};
use crate::settings::{
    BindIdmap, CustomMount, Id128, InterfacePair, LinkJournal, MountSource, NetworkAddress, PortForward,
    ResolvConfMode, ResolvConfSource, Rlimit, StartMode, TimezoneMode, UserNamespaceOwnership as Own, VolatileMode,
};
use std::ffi::OsString;
use std::net::Ipv4Addr;

type Golden = (&'static str, &'static str, fn(&mut Settings));

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn pair(host: &str, container: Option<&str>) -> InterfacePair {
    InterfacePair { host: host.into(), container: container.map(Into::into) }
}

fn lim(resource: u32, soft: u64, hard: u64) -> Rlimit {
    Rlimit { resource, soft, hard }
}

fn host(p: &str) -> MountSource {
    MountSource::Host(p.into())
}

/// One value per key (`Key=value` in the key's section) and what it sets, given aside.
#[rustfmt::skip]
const GOLDEN: &[Golden] = &[
    ("Boot", "yes", |s| s.start_mode = Some(StartMode::Boot)),
    ("Ephemeral", "yes", |s| s.ephemeral = true),
    ("ProcessTwo", "true", |s| s.start_mode = Some(StartMode::Pid2)),
    ("Parameters", "/bin/sh -c \"echo hi\"", |s| s.parameters = os(&["/bin/sh", "-c", "echo hi"])),
    ("Environment", "LANG=C \"MSG=hello world\"", |s| s.setenv = strings(&["LANG=C", "MSG=hello world"])),
    ("User", "daemon", |s| s.user = Some("daemon".into())),
    ("Capability", "CAP_NET_ADMIN cap_sys_time", |s| s.capability = (1 << 12) | (1 << 25)),
    ("AmbientCapability", "CAP_NET_BIND_SERVICE", |s| s.ambient_capability = 1 << 10),
    ("DropCapability", "CAP_SYS_ADMIN CAP_MKNOD", |s| s.drop_capability = (1 << 21) | (1 << 27)),
    ("KillSignal", "SIGRTMIN+3", |s| s.kill_signal = Some(37)),
    ("Personality", NATIVE, |s| s.personality = Some(NATIVE.into())),
    ("MachineID", "0123456789abcdef0123456789abcdef", |s| {
        s.uuid = Some(Id128([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]))
    }),
    ("WorkingDirectory", "/srv//app/", |s| s.chdir = Some("/srv/app".into())),
    ("PivotRoot", "/sysroot:/oldroot", |s| s.pivot_root = Some(("/sysroot".into(), Some("/oldroot".into())))),
    ("PrivateUsers", "pick", |s| { s.private_users = Some(PrivateUsers::Pick); s.private_users_ownership = Some(Own::Chown) }),
    ("NotifyReady", "yes", |s| s.notify_ready = Some(true)),
    ("SystemCallFilter", "@clock swapon", |s| s.system_call_filter = strings(&["@clock", "swapon"])),
    ("LimitCPU", "60", |s| s.rlimits = vec![lim(0, 60, 60)]),
    ("LimitFSIZE", "1G", |s| s.rlimits = vec![lim(1, 1 << 30, 1 << 30)]),
    ("LimitDATA", "infinity", |s| s.rlimits = vec![lim(2, u64::MAX, u64::MAX)]),
    ("LimitSTACK", "8M:16M", |s| s.rlimits = vec![lim(3, 8 << 20, 16 << 20)]),
    ("LimitCORE", "0", |s| s.rlimits = vec![lim(4, 0, 0)]),
    ("LimitRSS", "512M", |s| s.rlimits = vec![lim(5, 512 << 20, 512 << 20)]),
    ("LimitNOFILE", "1024:524288", |s| s.rlimits = vec![lim(7, 1024, 524288)]),
    ("LimitAS", "infinity", |s| s.rlimits = vec![lim(9, u64::MAX, u64::MAX)]),
    ("LimitNPROC", "512", |s| s.rlimits = vec![lim(6, 512, 512)]),
    ("LimitMEMLOCK", "64K", |s| s.rlimits = vec![lim(8, 65536, 65536)]),
    ("LimitLOCKS", "100", |s| s.rlimits = vec![lim(10, 100, 100)]),
    ("LimitSIGPENDING", "1000:2000", |s| s.rlimits = vec![lim(11, 1000, 2000)]),
    ("LimitMSGQUEUE", "800K", |s| s.rlimits = vec![lim(12, 800 << 10, 800 << 10)]),
    ("LimitNICE", "10", |s| s.rlimits = vec![lim(13, 10, 10)]),
    ("LimitRTPRIO", "5", |s| s.rlimits = vec![lim(14, 5, 5)]),
    ("LimitRTTIME", "200000:infinity", |s| s.rlimits = vec![lim(15, 200000, u64::MAX)]),
    ("Hostname", "web-1", |s| s.hostname = Some("web-1".into())),
    ("NoNewPrivileges", "on", |s| s.no_new_privileges = Some(true)),
    ("OOMScoreAdjust", "-500", |s| s.oom_score_adjust = Some(-500)),
    ("CPUAffinity", "0-2 7", |s| s.cpu_affinity = Some(vec![0, 1, 2, 7])),
    ("ResolvConf", "copy-host", |s| s.resolv_conf = Some(ResolvConfMode::Copy(ResolvConfSource::Host))),
    ("LinkJournal", "try-guest", |s| s.link_journal = Some(LinkJournal::TryGuest)),
    ("Timezone", "symlink", |s| s.timezone = Some(TimezoneMode::Symlink)),
    ("SuppressSync", "yes", |s| s.suppress_sync = Some(true)),
    ("ReadOnly", "yes", |s| s.read_only = true),
    ("Volatile", "state", |s| s.volatile = Some(VolatileMode::State)),
    ("Bind", "/srv/data:/data:norbind,idmap", |s| s.custom_mounts = vec![CustomMount::Bind {
        source: host("/srv/data"), destination: "/data".into(), read_only: false, recursive: false, idmap: BindIdmap::Idmap,
    }]),
    ("BindReadOnly", "+/usr/share:/opt/share", |s| s.custom_mounts = vec![CustomMount::Bind {
        source: MountSource::InRoot("/usr/share".into()), destination: "/opt/share".into(), read_only: true,
        recursive: true, idmap: BindIdmap::None,
    }]),
    ("TemporaryFileSystem", "/run/cache:mode=0700,size=64M", |s| s.custom_mounts = vec![CustomMount::Tmpfs {
        destination: "/run/cache".into(), options: "mode=0700,size=64M".into(),
    }]),
    ("Inaccessible", "/etc/shadow", |s| s.custom_mounts = vec![CustomMount::Inaccessible { destination: "/etc/shadow".into() }]),
    ("Overlay", "/srv/lower:/srv/upper:/var/www", |s| s.custom_mounts = vec![CustomMount::Overlay {
        lower: vec![host("/srv/lower")], upper: Some(host("/srv/upper")), destination: "/var/www".into(), read_only: false,
    }]),
    ("OverlayReadOnly", "/a:/b:/opt", |s| s.custom_mounts = vec![CustomMount::Overlay {
        lower: vec![host("/a"), host("/b")], upper: None, destination: "/opt".into(), read_only: true,
    }]),
    ("PrivateUsersChown", "yes", |s| { s.private_users_ownership = Some(Own::Chown); s.private_users = Some(PrivateUsers::No) }),
    ("PrivateUsersOwnership", "map", |s| { s.private_users_ownership = Some(Own::Map); s.private_users = Some(PrivateUsers::No) }),
    ("BindUser", "alice bob alice", |s| s.bind_user = strings(&["alice", "bob"])),
    ("BindUserShell", "/bin/zsh", |s| s.bind_user_shell = Some("/bin/zsh".into())),
    ("Private", "yes", |s| s.private_network = true),
    ("Interface", "eth1 eth2:host2", |s| {
        s.network_interfaces = vec![pair("eth1", None), pair("eth2", Some("host2"))];
        s.private_network = true;
    }),
    ("MACVLAN", "eno1", |s| { s.network_macvlan = vec![pair("eno1", None)]; s.private_network = true }),
    ("IPVLAN", "eno1:ipv0", |s| { s.network_ipvlan = vec![pair("eno1", Some("ipv0"))]; s.private_network = true }),
    ("VirtualEthernet", "yes", |s| { s.network_veth = true; s.private_network = true }),
    ("VirtualEthernetExtra", "ve-extra:extra0", |s| {
        s.network_veth_extra = vec![pair("ve-extra", Some("extra0"))];
        s.private_network = true;
    }),
    ("Bridge", "br0", |s| { s.network_bridge = Some("br0".into()); s.network_veth = true; s.private_network = true }),
    ("Zone", "lab", |s| { s.network_zone = Some("lab".into()); s.network_veth = true; s.private_network = true }),
    ("Port", "tcp:8080:80", |s| s.ports = vec![PortForward { udp: false, host_port: 8080, container_port: 80 }]),
    ("NAT", "yes", |s| s.network_nat = Some(true)),
    ("Address", "192.168.77.0/24", |s| s.network_address = Some(NetworkAddress::Pool(Ipv4Addr::new(192, 168, 77, 0), 24))),
];

fn key(name: &str) -> &'static Key {
    KEYS.iter().find(|k| k.name == name).unwrap_or_else(|| panic!("no key {name}"))
}

fn file(name: &str, lines: &[&str]) -> String {
    let mut text = format!("[{}]\n", key(name).section.name());
    for l in lines {
        text.push_str(&format!("{name}={l}\n"));
    }
    text
}

fn parse_ok(text: &str) -> Parsed {
    parse(Path::new("/etc/systemd/nspawn/k.nspawn"), text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn every_key_has_a_golden_value() {
    let names: Vec<&str> = GOLDEN.iter().map(|g| g.0).collect();
    let keys: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    assert_eq!(names, keys, "GOLDEN follows KEYS");
}

#[test]
fn golden_settings_per_key() {
    for (name, value, set) in GOLDEN {
        let text = file(name, &[value]);
        let p = parse_ok(&text);
        assert_eq!(p.warnings, Vec::<String>::new(), "{text:?}");
        let mut want = Settings { given: key(name).group, ..Settings::default() };
        set(&mut want);
        assert_eq!(p.settings, want, "{text:?}");
    }
}

#[test]
fn an_empty_assignment_undoes_every_key() {
    for (name, value, _) in GOLDEN {
        let text = file(name, &[value, ""]);
        assert_eq!(parse_ok(&text).settings, Settings::default(), "{text:?}");
    }
}

#[test]
fn the_table_is_nspawns_gperf_plus_two_extensions() {
    assert_eq!(KEYS.len(), 64);
    let count = |s: Section| KEYS.iter().filter(|k| k.section == s && !k.extension).count();
    assert_eq!((count(Section::Exec), count(Section::Files), count(Section::Network)), (41, 12, 9));
    let ext: Vec<_> = KEYS.iter().filter(|k| k.extension).map(|k| (k.section, k.name)).collect();
    assert_eq!(ext, [(Section::Network, "NAT"), (Section::Network, "Address")]);
    for (i, k) in KEYS.iter().enumerate() {
        assert!(KEYS[..i].iter().all(|o| (o.section, o.name) != (k.section, k.name)), "{} twice", k.name);
        assert!(!k.group.is_empty() && k.group.name().is_some(), "{}: one group", k.name);
        // Only the extensions set a group that nspawn's files cannot.
        assert_eq!(SettingsMask::CLI_ONLY.contains(k.group), k.extension, "{}", k.name);
    }
}

/// Each key against its option: the same value gives the same `Settings`, `given` included.
#[test]
fn keys_and_options_agree() {
    let personality = format!("[Exec]\nPersonality={NATIVE}");
    #[rustfmt::skip]
    let cases: &[(&str, &[&str])] = &[
        ("[Exec]\nBoot=yes", &["-b"]),
        ("[Exec]\nProcessTwo=yes", &["-a"]),
        ("[Exec]\nParameters=/bin/sh -c 'echo hi'", &["--", "/bin/sh", "-c", "echo hi"]),
        ("[Exec]\nEnvironment=A=1 B=2\nEnvironment=A=3", &["-E", "A=1", "-E", "B=2", "-E", "A=3"]),
        ("[Exec]\nUser=daemon", &["-u", "daemon"]),
        ("[Exec]\nCapability=CAP_NET_ADMIN,CAP_SYS_TIME\nDropCapability=all", &["--capability=CAP_NET_ADMIN,CAP_SYS_TIME", "--drop-capability=all"]),
        ("[Exec]\nAmbientCapability=cap_chown", &["--ambient-capability=cap_chown"]),
        ("[Exec]\nKillSignal=SIGRTMIN+3", &["--kill-signal=SIGRTMIN+3"]),
        (&personality, &[NATIVE_OPTION]),
        ("[Exec]\nMachineID=01234567-89ab-cdef-0123-456789abcdef", &["--uuid=01234567-89ab-cdef-0123-456789abcdef"]),
        ("[Exec]\nWorkingDirectory=/srv\nPivotRoot=/sysroot", &["--chdir=/srv", "--pivot-root=/sysroot"]),
        ("[Exec]\nPrivateUsers=524288:65536\n[Files]\nPrivateUsersOwnership=map", &["--private-users=524288:65536", "--private-users-ownership=map"]),
        ("[Exec]\nNotifyReady=no\nNoNewPrivileges=yes\nSuppressSync=1", &["--notify-ready=no", "--no-new-privileges=yes", "--suppress-sync=1"]),
        ("[Exec]\nSystemCallFilter=@clock\nSystemCallFilter=~@swap", &["--system-call-filter=@clock", "--system-call-filter=~@swap"]),
        ("[Exec]\nLimitNOFILE=1024:4096\nLimitCORE=infinity", &["--rlimit=RLIMIT_NOFILE=1024:4096", "--rlimit=LimitCORE=infinity"]),
        ("[Exec]\nHostname=web\nOOMScoreAdjust=100\nCPUAffinity=0,2-3", &["--hostname=web", "--oom-score-adjust=100", "--cpu-affinity=0,2-3"]),
        ("[Exec]\nResolvConf=bind-stub\nTimezone=copy\nLinkJournal=host", &["--resolv-conf=bind-stub", "--timezone=copy", "--link-journal=host"]),
        ("[Exec]\nResolvConf=yes\nTimezone=no", &["--resolv-conf=yes", "--timezone=no"]),
        ("[Files]\nReadOnly=yes\nVolatile=no", &["--read-only", "--volatile=no"]),
        ("[Files]\nVolatile=overlay", &["--volatile=overlay"]),
        ("[Files]\nBind=/a:/b:norbind\nBindReadOnly=+/c", &["--bind=/a:/b:norbind", "--bind-ro=+/c"]),
        ("[Files]\nBind=/a\\:b:/c", &["--bind=/a\\:b:/c"]),
        ("[Files]\nTemporaryFileSystem=/t:size=1M\nInaccessible=/etc/x", &["--tmpfs=/t:size=1M", "--inaccessible=/etc/x"]),
        ("[Files]\nOverlay=/l::/d\nOverlayReadOnly=/l1:/l2:/d2", &["--overlay=/l::/d", "--overlay-ro=/l1:/l2:/d2"]),
        ("[Exec]\nPrivateUsers=yes\n[Files]\nBindUser=alice bob\nBindUserShell=no", &["--private-users=yes", "--private-users-ownership=off", "--bind-user=alice", "--bind-user=bob", "--bind-user-shell=no"]),
        ("[Network]\nPrivate=yes", &["--private-network"]),
        ("[Network]\nInterface=eth1 eth2:h2", &["--network-interface=eth1", "--network-interface=eth2:h2"]),
        ("[Network]\nMACVLAN=eno1\nIPVLAN=eno2:ip0", &["--network-macvlan=eno1", "--network-ipvlan=eno2:ip0"]),
        ("[Network]\nVirtualEthernet=yes\nVirtualEthernetExtra=ve-a:a", &["-n", "--network-veth-extra=ve-a:a"]),
        ("[Network]\nBridge=br0\nPort=80\nPort=udp:5353:53", &["--network-bridge=br0", "-p", "80", "-p", "udp:5353:53"]),
        ("[Network]\nZone=lab\nNAT=yes\nAddress=off", &["--network-zone=lab", "--network-nat=yes", "--network-address=off"]),
    ];
    for (text, argv) in cases {
        let from_file = parse_ok(text).settings;
        let from_cli = match crate::cli::parse(&os(argv), &|_| None, Path::new("/")) {
            Ok(crate::cli::Parsed::Run(s)) => s,
            other => panic!("{argv:?}: {other:?}"),
        };
        assert_eq!(from_file, from_cli, "{text:?} vs {argv:?}");
    }
}

#[test]
fn every_key_is_documented() {
    let doc = include_str!("../../../../docs/SETTINGS-FILES.md");
    for k in KEYS {
        let row = format!("| `{}=` | `[{}]` |", k.name, k.section.name());
        assert!(doc.contains(&row), "docs/SETTINGS-FILES.md lacks the row {row}");
    }
}
