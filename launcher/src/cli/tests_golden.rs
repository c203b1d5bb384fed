//! Golden `Settings` for realistic command lines (tutorial-style invocations).

use super::tests::{dir, os_args, run};
use crate::settings::SettingsMask as S;
use crate::settings::*;

#[test]
fn golden_boot_with_bind_ro() {
    let s = run(&["-bD", "/var/lib/machines/deb", "-M", "deb", "--bind-ro=/etc/ssl:/etc/ssl:norbind", "-E", "FOO=bar"]);
    let want = Settings {
        start_mode: Some(StartMode::Boot),
        directory: dir("/var/lib/machines/deb"),
        machine: Some("deb".into()),
        custom_mounts: vec![CustomMount::Bind {
            source: MountSource::Host("/etc/ssl".into()),
            destination: "/etc/ssl".into(),
            read_only: true,
            recursive: false,
            idmap: BindIdmap::None,
        }],
        setenv: vec!["FOO=bar".into()],
        given: S::START_MODE | S::DIRECTORY | S::MACHINE | S::CUSTOM_MOUNTS | S::ENVIRONMENT,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn golden_command_with_mounts_and_user() {
    let s = run(&[
        "-D",
        "/srv/c",
        "--bind=/srv/data:/data",
        "--bind=+/var/cache",
        "--tmpfs=/tmp:mode=1777",
        "-u",
        "alice",
        "--chdir=/home/alice",
        "/bin/sh",
        "-c",
        "echo hi",
    ]);
    let bind = |source, dst: &str| CustomMount::Bind {
        source,
        destination: dst.into(),
        read_only: false,
        recursive: true,
        idmap: BindIdmap::None,
    };
    let want = Settings {
        directory: dir("/srv/c"),
        custom_mounts: vec![
            bind(MountSource::Host("/srv/data".into()), "/data"),
            bind(MountSource::InRoot("/var/cache".into()), "/var/cache"),
            CustomMount::Tmpfs { destination: "/tmp".into(), options: "mode=1777".into() },
        ],
        user: Some("alice".into()),
        chdir: dir("/home/alice"),
        parameters: os_args(&["/bin/sh", "-c", "echo hi"]),
        given: S::DIRECTORY | S::CUSTOM_MOUNTS | S::USER | S::WORKING_DIRECTORY | S::START_MODE,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn golden_integration_options() {
    let s = run(&[
        "--directory=rootfs",
        "--read-only",
        "--overlay=/srv/l:/srv/u:/opt",
        "--inaccessible=/etc/shadow",
        "--resolv-conf=bind-host",
        "--timezone=off",
        "--register=no",
        "--keep-unit",
        "--console=pipe",
        "-q",
        "--settings=no",
        "--link-journal=no",
        "--notify-ready=no",
        "--suppress-sync=0",
        "--kill-signal=SIGTERM",
        "--background=44",
        "--no-pager",
        "--no-ask-password",
        "--",
        "/bin/true",
    ]);
    let want = Settings {
        quiet: true,
        settings_mode: Some(SettingsMode::No),
        directory: dir("/work/here/rootfs"),
        read_only: true,
        kill_signal: Some(15),
        notify_ready: Some(false),
        suppress_sync: Some(false),
        register: Some(false),
        keep_unit: true,
        resolv_conf: Some(ResolvConfMode::Bind(ResolvConfSource::Host)),
        timezone: Some(TimezoneMode::Off),
        link_journal: Some(LinkJournal::No),
        custom_mounts: vec![
            CustomMount::Overlay {
                lower: vec![MountSource::Host("/srv/l".into())],
                upper: Some(MountSource::Host("/srv/u".into())),
                destination: "/opt".into(),
                read_only: false,
            },
            CustomMount::Inaccessible { destination: "/etc/shadow".into() },
        ],
        console: Some(ConsoleMode::Pipe),
        background: Some("44".into()),
        parameters: os_args(&["/bin/true"]),
        given: S::DIRECTORY
            | S::READ_ONLY
            | S::CUSTOM_MOUNTS
            | S::RESOLV_CONF
            | S::TIMEZONE
            | S::REGISTRATION
            | S::CONSOLE_MODE
            | S::QUIET
            | S::SETTINGS_MODE
            | S::LINK_JOURNAL
            | S::NOTIFY_READY
            | S::SUPPRESS_SYNC
            | S::KILL_SIGNAL
            | S::BACKGROUND
            | S::START_MODE,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn golden_networked_container_in_a_user_namespace() {
    let s = run(&["-D", "r", "-M", "web", "-n", "-p", "8080:80", "-U", "--capability=CAP_NET_ADMIN"]);
    let want = Settings {
        directory: dir("/work/here/r"),
        machine: Some("web".into()),
        private_network: true,
        network_veth: true,
        ports: vec![PortForward { udp: false, host_port: 8080, container_port: 80 }],
        private_users: Some(PrivateUsers::Pick),
        private_users_ownership: Some(UserNamespaceOwnership::Auto),
        capability: 1 << 12,
        given: S::DIRECTORY | S::MACHINE | S::NETWORK | S::EXPOSE_PORTS | S::USERNS | S::CAPABILITY,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn golden_resources_and_security() {
    let s = run(&[
        "--rlimit=RLIMIT_NOFILE=1024:4096",
        "--rlimit=NOFILE=2048",
        "--rlimit=CORE=0",
        "--oom-score-adjust=-500",
        "--cpu-affinity=0,2-3",
        crate::security::process::test_names::NATIVE_OPTION,
        "--drop-capability=sys_admin,CAP_MKNOD",
        "--no-new-privileges=yes",
        "--system-call-filter=~@clock",
        "-Z",
        "system_u:system_r:svirt_t:s0",
        "-L",
        "system_u:object_r:svirt_file_t:s0",
        "--set-credential=pw:secret",
        "--load-credential=key:/etc/key",
    ]);
    assert_eq!(s.rlimits, [Rlimit { resource: 7, soft: 2048, hard: 2048 }, Rlimit { resource: 4, soft: 0, hard: 0 }]);
    assert_eq!(s.oom_score_adjust, Some(-500));
    assert_eq!(s.cpu_affinity, Some(vec![0, 2, 3]));
    assert_eq!(s.personality.as_deref(), Some(crate::security::process::test_names::NATIVE));
    assert_eq!(s.drop_capability, (1 << 21) | (1 << 27));
    assert_eq!(s.no_new_privileges, Some(true));
    assert_eq!(s.system_call_filter, ["~@clock"]);
    assert_eq!(s.selinux_context.as_deref(), Some("system_u:system_r:svirt_t:s0"));
    assert_eq!(s.selinux_apifs_context.as_deref(), Some("system_u:object_r:svirt_file_t:s0"));
    assert_eq!(
        s.credentials,
        [
            Credential::Set { id: "pw".into(), value: b"secret".to_vec() },
            Credential::Load { id: "key".into(), path: "/etc/key".into() },
        ]
    );
    assert_eq!(s.unsupported, ["selinux-context", "selinux-apifs-context"]);
    let limits = S::rlimit(7) | S::rlimit(4);
    let security = S::CAPABILITY | S::NO_NEW_PRIVILEGES | S::SYSCALL_FILTER | S::SELINUX | S::CREDENTIALS;
    assert_eq!(s.given, limits | S::OOM_SCORE_ADJUST | S::CPU_AFFINITY | S::PERSONALITY | security);
}

#[test]
fn golden_image_options() {
    let s = run(&[
        "-i",
        "img.raw",
        "--image-policy=root=verity",
        "--root-hash=0123456789abcdef0123456789abcdef",
        "--root-hash-sig=base64:AAAA",
        "--verity-data=img.verity",
        "--pivot-root=/sysroot:/sysroot/old",
    ]);
    assert_eq!(s.image, dir("/work/here/img.raw"));
    assert_eq!(s.image_policy.as_deref(), Some("root=verity"));
    assert_eq!(s.root_hash.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    assert_eq!(s.root_hash_sig.as_deref(), Some("base64:AAAA"));
    assert_eq!(s.verity_data, dir("/work/here/img.verity"));
    assert_eq!(s.pivot_root, Some(("/sysroot".into(), Some("/sysroot/old".into()))));
    assert_eq!(s.unsupported, ["image", "image-policy", "root-hash", "root-hash-sig", "verity-data"]);
    assert_eq!(s.given, S::DIRECTORY | S::IMAGE_OPTIONS | S::PIVOT_ROOT);
}

#[test]
fn golden_x11_forwarding() {
    // ArchWiki: run a graphical program with the host's X server.
    let s = run(&["-D", "/home/u/MyContainer", "--bind-ro=/tmp/.X11-unix", "-E", "DISPLAY", "-E", "FOO", "firefox"]);
    let want = Settings {
        directory: dir("/home/u/MyContainer"),
        custom_mounts: vec![CustomMount::Bind {
            source: MountSource::Host("/tmp/.X11-unix".into()),
            destination: "/tmp/.X11-unix".into(),
            read_only: true,
            recursive: true,
            idmap: BindIdmap::None,
        }],
        // DISPLAY is unset in the test environment: passed empty, as nspawn does.
        setenv: vec!["DISPLAY=".into(), "FOO=from-env".into()],
        parameters: os_args(&["firefox"]),
        given: S::DIRECTORY | S::CUSTOM_MOUNTS | S::ENVIRONMENT | S::START_MODE,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn golden_bridged_boot() {
    let s = run(&["-bD", "/var/lib/machines/arch", "--network-bridge=br0", "-p", "tcp:2222:22"]);
    let want = Settings {
        start_mode: Some(StartMode::Boot),
        directory: dir("/var/lib/machines/arch"),
        private_network: true,
        network_veth: true,
        network_bridge: Some("br0".into()),
        ports: vec![PortForward { udp: false, host_port: 2222, container_port: 22 }],
        given: S::START_MODE | S::DIRECTORY | S::NETWORK | S::EXPOSE_PORTS,
        ..Settings::default()
    };
    assert_eq!(s, want);
}

#[test]
fn golden_as_pid2_with_identity() {
    let s = run(&[
        "--resolv-conf=copy-host",
        "--timezone=symlink",
        "-M",
        "c1",
        "--hostname=c1.local",
        "-D",
        "/m/c1",
        "--as-pid2",
        "--",
        "/usr/bin/env",
    ]);
    let want = Settings {
        start_mode: Some(StartMode::Pid2),
        directory: dir("/m/c1"),
        machine: Some("c1".into()),
        hostname: Some("c1.local".into()),
        resolv_conf: Some(ResolvConfMode::Copy(ResolvConfSource::Host)),
        timezone: Some(TimezoneMode::Symlink),
        parameters: os_args(&["/usr/bin/env"]),
        given: S::RESOLV_CONF | S::TIMEZONE | S::MACHINE | S::HOSTNAME | S::DIRECTORY | S::START_MODE,
        ..Settings::default()
    };
    assert_eq!(s, want);
}
