//! A corpus of realistic `.nspawn` files (`../testdata/`): the ArchWiki examples, a bridge
//! with port forwards, bind mounts, user namespaces, a booted container with capabilities,
//! an application container, an imported OCI image, spawnbox's extensions, a messy file.

use super::*;
use crate::settings::{
    merge, BindIdmap, CustomMount, InterfacePair, LinkJournal, MountSource, NetworkAddress, PortForward,
    ResolvConfMode, ResolvConfSource, Rlimit, SettingsMask as S, StartMode, TimezoneMode,
    UserNamespaceOwnership as Own,
};
use std::ffi::OsString;
use std::net::Ipv4Addr;

macro_rules! corpus {
    ($name:literal) => {
        parse(Path::new(concat!("/etc/systemd/nspawn/", $name)), include_bytes!(concat!("../testdata/", $name)))
    };
}

/// A corpus file that parses without warnings.
fn clean(parsed: Result<Parsed, Error>) -> Settings {
    let p = parsed.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.warnings, Vec::<String>::new());
    p.settings
}

fn host(p: &str) -> MountSource {
    MountSource::Host(p.into())
}

fn bind(src: MountSource, dst: &str, read_only: bool, recursive: bool, idmap: BindIdmap) -> CustomMount {
    CustomMount::Bind { source: src, destination: dst.into(), read_only, recursive, idmap }
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn caps(names: &[u32]) -> u64 {
    names.iter().fold(0, |m, n| m | 1 << n)
}

#[test]
fn archwiki_bridge() {
    let s = clean(corpus!("archwiki-bridge.nspawn"));
    let want = Settings {
        network_bridge: Some("br0".into()),
        network_veth: true,
        private_network: true,
        given: S::NETWORK,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn archwiki_host_network() {
    // Given, so that it beats systemd-nspawn@.service's -n under --settings=override; nothing
    // private.
    let s = clean(corpus!("archwiki-host-network.nspawn"));
    assert_eq!(s, Settings { given: S::NETWORK, ..Settings::default() });
}

#[test]
fn archwiki_macvlan() {
    let s = clean(corpus!("archwiki-macvlan.nspawn"));
    assert_eq!(s.network_macvlan, [InterfacePair { host: "eno1".into(), container: None }]);
    assert!(s.private_network && !s.network_veth);
    assert_eq!(s.given, S::NETWORK);
}

#[test]
fn archwiki_pacman_cache() {
    let s = clean(corpus!("archwiki-pacman-cache.nspawn"));
    let want = Settings {
        private_users: Some(PrivateUsers::No),
        private_users_ownership: Some(Own::Off),
        custom_mounts: vec![bind(host("/var/cache/pacman/pkg"), "/var/cache/pacman/pkg", false, true, BindIdmap::None)],
        given: S::USERNS | S::CUSTOM_MOUNTS,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn archwiki_x11() {
    let s = clean(corpus!("archwiki-x11.nspawn"));
    assert_eq!(s.setenv, ["DISPLAY=:0", "XAUTHORITY=/root/.Xauthority"]);
    let n = BindIdmap::None;
    assert_eq!(
        s.custom_mounts,
        [
            bind(host("/tmp/.X11-unix"), "/tmp/.X11-unix", true, true, n),
            bind(host("/home/me/.Xauthority"), "/root/.Xauthority", true, true, n),
            bind(host("/dev/dri"), "/dev/dri", false, true, n),
        ]
    );
    assert_eq!(s.given, S::ENVIRONMENT | S::CUSTOM_MOUNTS);
}

#[test]
fn web_server_on_a_bridge_with_port_forwards() {
    let s = clean(corpus!("web-bridge-ports.nspawn"));
    let port = |udp, host_port, container_port| PortForward { udp, host_port, container_port };
    let want = Settings {
        start_mode: Some(StartMode::Boot),
        hostname: Some("web".into()),
        resolv_conf: Some(ResolvConfMode::Copy(ResolvConfSource::Host)),
        timezone: Some(TimezoneMode::Bind),
        network_bridge: Some("br0".into()),
        network_veth: true,
        private_network: true,
        ports: vec![port(false, 80, 80), port(false, 8443, 443), port(true, 5353, 53)],
        given: S::START_MODE | S::HOSTNAME | S::RESOLV_CONF | S::TIMEZONE | S::NETWORK | S::EXPOSE_PORTS,
        ..Settings::default()
    };
    assert_eq!(s, want);
    // Next to the image (untrusted) the network and the ports are not taken.
    let m = merge(&Settings::default(), &s, false);
    assert_eq!(m.settings.given, S::START_MODE | S::HOSTNAME | S::RESOLV_CONF | S::TIMEZONE);
    assert_eq!(m.ignored.iter().map(|i| i.what).collect::<Vec<_>>(), ["network settings", "Port= setting"]);
}

#[test]
fn bind_mounts() {
    let s = clean(corpus!("bind-mounts.nspawn"));
    let n = BindIdmap::None;
    assert_eq!(
        s.custom_mounts,
        [
            bind(host("/srv/www"), "/var/www", false, true, n),
            bind(host("/etc/ssl/certs"), "/etc/ssl/certs", true, true, n),
            bind(host("/srv/odd:name"), "/data", false, false, n),
            bind(MountSource::InRoot("/var/lib/shared".into()), "/mnt/shared", false, true, n),
            bind(host("/home/alice"), "/home/alice", false, true, BindIdmap::Idmap),
            CustomMount::Tmpfs { destination: "/var/cache".into(), options: "mode=0755,size=256M".into() },
            CustomMount::Inaccessible { destination: "/etc/shadow".into() },
            CustomMount::Overlay {
                lower: vec![host("/srv/base")],
                upper: Some(host("/srv/changes")),
                destination: "/opt/app".into(),
                read_only: false,
            },
            CustomMount::Overlay {
                lower: vec![host("/srv/layer1"), host("/srv/layer2")],
                upper: None,
                destination: "/usr/share/extra".into(),
                read_only: true,
            },
        ]
    );
    assert_eq!(s.given, S::CUSTOM_MOUNTS);
    assert!(s.unsupported.is_empty());
}

#[test]
fn user_namespace_picked() {
    let s = clean(corpus!("userns-pick.nspawn"));
    let want = Settings {
        private_users: Some(PrivateUsers::Pick),
        private_users_ownership: Some(Own::Auto),
        bind_user: vec!["alice".into()],
        bind_user_shell: Some("/bin/bash".into()),
        given: S::USERNS | S::BIND_USER,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn user_namespace_fixed_with_the_old_chown_key() {
    let s = clean(corpus!("userns-fixed-chown.nspawn"));
    assert_eq!(s.private_users, Some(PrivateUsers::Fixed { base: 0x7000_0000, size: 65536 }));
    assert_eq!(s.private_users_ownership, Some(Own::Chown));
    assert_eq!(s.given, S::USERNS);
}

#[test]
fn booted_container_with_capabilities() {
    let s = clean(corpus!("boot-caps.nspawn"));
    let want = Settings {
        start_mode: Some(StartMode::Boot),
        capability: caps(&[25, 12]),
        drop_capability: caps(&[16, 17]),
        system_call_filter: vec!["@clock".into(), "~@swap".into(), "~@reboot".into()],
        no_new_privileges: Some(false),
        rlimits: vec![
            Rlimit { resource: 7, soft: 65536, hard: 524288 },
            Rlimit { resource: 6, soft: 4096, hard: 4096 },
        ],
        oom_score_adjust: Some(200),
        cpu_affinity: Some(vec![2, 3]),
        kill_signal: Some(37),
        notify_ready: Some(true),
        link_journal: Some(LinkJournal::TryGuest),
        network_veth: true,
        private_network: true,
        given: S::START_MODE
            | S::CAPABILITY
            | S::SYSCALL_FILTER
            | S::NO_NEW_PRIVILEGES
            | S::rlimit(7)
            | S::rlimit(6)
            | S::OOM_SCORE_ADJUST
            | S::CPU_AFFINITY
            | S::KILL_SIGNAL
            | S::NOTIFY_READY
            | S::LINK_JOURNAL
            | S::NETWORK,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn application_as_pid2() {
    let s = clean(corpus!("app-pid2.nspawn"));
    let want = Settings {
        start_mode: Some(StartMode::Pid2),
        parameters: os(&["/usr/bin/python3", "-m", "http.server", "--bind", "0.0.0.0", "8000"]),
        setenv: vec!["GREETING=hello world".into(), "PYTHONUNBUFFERED=1".into()],
        chdir: Some("/srv/app".into()),
        user: Some("app".into()),
        suppress_sync: Some(true),
        read_only: true,
        custom_mounts: vec![CustomMount::Tmpfs { destination: "/tmp".into(), options: String::new() }],
        private_network: true,
        given: S::START_MODE
            | S::ENVIRONMENT
            | S::WORKING_DIRECTORY
            | S::USER
            | S::SUPPRESS_SYNC
            | S::READ_ONLY
            | S::CUSTOM_MOUNTS
            | S::NETWORK,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn imported_oci_image() {
    let s = clean(corpus!("oci-import.nspawn"));
    assert_eq!((s.start_mode, s.parameters), (None, os(&["docker-entrypoint.sh", "node"])));
    assert_eq!(
        s.setenv,
        [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "NODE_VERSION=20.11.1",
            "YARN_VERSION=1.22.19"
        ]
    );
    assert_eq!((s.chdir.as_deref(), s.user.as_deref()), (Some(Path::new("/usr/src/app")), Some("node")));
    assert_eq!(s.given, S::START_MODE | S::ENVIRONMENT | S::WORKING_DIRECTORY | S::USER);
}

#[test]
fn spawnbox_extensions() {
    let s = clean(corpus!("zone-nat.nspawn"));
    assert_eq!(s.network_zone.as_deref(), Some("lab"));
    assert_eq!(s.network_nat, Some(true));
    assert_eq!(s.network_address, Some(NetworkAddress::Pool(Ipv4Addr::new(172, 30, 0, 0), 16)));
    assert_eq!(s.given, S::START_MODE | S::NETWORK | S::NETWORK_ADDRESSING);
}

#[test]
fn messy_file_with_crlf_and_leftovers() {
    let p = corpus!("messy-crlf.nspawn").unwrap_or_else(|e| panic!("{e}"));
    let f = "/etc/systemd/nspawn/messy-crlf.nspawn";
    assert_eq!(
        p.warnings,
        [
            format!("{f}:5: [Exec] Bootable=: unknown key, ignoring"),
            format!("{f}:13: [Netwrok]: unknown section, ignoring"),
        ]
    );
    let s = p.settings;
    assert_eq!(s.start_mode, Some(StartMode::Boot));
    assert_eq!(s.custom_mounts, [bind(host("/srv/a"), "/srv/a", false, true, BindIdmap::None)]);
    assert_eq!(s.volatile, Some(crate::settings::VolatileMode::No));
    assert!(!s.private_network && s.network_bridge.is_none());
    assert_eq!(s.given, S::START_MODE | S::CUSTOM_MOUNTS | S::VOLATILE_MODE);
}
