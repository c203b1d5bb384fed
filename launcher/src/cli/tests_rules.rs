//! Tests of the cross-option rules and of which options and values are recorded as not
//! supported yet.

use super::tests::{fail, run};
use crate::settings::*;
use std::path::PathBuf;

#[test]
fn boot_excludes_as_pid2() {
    assert_eq!(fail(&["-b", "-a"]), "--boot and --as-pid2 may not be combined");
    assert_eq!(fail(&["-ab"]), "--boot and --as-pid2 may not be combined");
    assert_eq!(run(&["-b", "-b"]).start_mode, Some(StartMode::Boot));
    assert_eq!(run(&["-a"]).start_mode, Some(StartMode::Pid2));
}

#[test]
fn image_sources_exclude_each_other() {
    let msg = "--directory=, --image= and --mstack= may not be combined";
    assert_eq!(fail(&["-D", "/r", "-i", "/x.raw"]), msg);
    assert_eq!(fail(&["-D", "/r", "--mstack=/m"]), msg);
    assert_eq!(fail(&["-i", "/x.raw", "--mstack=/m"]), msg);
}

#[test]
fn template_rules() {
    assert_eq!(fail(&["--template=/t"]), "--template= needs --directory= or --machine=");
    assert_eq!(
        fail(&["--template=/t", "-i", "/x.raw", "-M", "m"]),
        "--template= and --image=/--mstack= may not be combined"
    );
    assert_eq!(fail(&["-x", "--template=/t", "-D", "/r"]), "--ephemeral and --template= may not be combined");
    // -x --template=X without -D is -x -D X.
    let s = run(&["-x", "--template=/t"]);
    assert_eq!((s.directory, s.template), (Some(PathBuf::from("/t")), None));
    assert!(s.unsupported.is_empty(), "{:?}", s.unsupported);
    assert_eq!(run(&["--template=/t", "-M", "m"]).template, Some(PathBuf::from("/t")));
}

#[test]
fn ephemeral_rules() {
    assert_eq!(fail(&["-x", "--link-journal=host"]), "--ephemeral and --link-journal=host|guest may not be combined");
    assert_eq!(fail(&["-x", "--link-journal=guest"]), "--ephemeral and --link-journal=host|guest may not be combined");
    assert_eq!(run(&["-x", "--link-journal=try-guest"]).link_journal, Some(LinkJournal::TryGuest));
    assert_eq!(run(&["-x", "-j"]).link_journal, Some(LinkJournal::TryGuest));
    assert_eq!(fail(&["-x", "--mstack=/m"]), "--ephemeral and --mstack= may not be combined");
}

#[test]
fn root_directory_needs_ephemeral_or_volatile() {
    let msg = "--directory=/ needs --ephemeral, --volatile=yes or --volatile=state";
    assert_eq!(fail(&["-D", "/"]), msg);
    assert_eq!(fail(&["-D", "/", "--volatile=overlay"]), msg);
    assert_eq!(run(&["-D", "/", "-x"]).directory, Some(PathBuf::from("/")));
    assert_eq!(run(&["-D", "/", "--volatile"]).volatile, Some(VolatileMode::Yes));
}

#[test]
fn chown_ownership_rules() {
    assert_eq!(
        fail(&["--private-users-ownership=chown", "--read-only"]),
        "--read-only and --private-users-ownership=chown may not be combined"
    );
    // --volatile implies a read-only root, so the read-only rule fires first, as in nspawn.
    assert_eq!(
        fail(&["--private-users-chown", "--volatile=state"]),
        "--read-only and --private-users-ownership=chown may not be combined"
    );
    assert_eq!(
        fail(&["--private-users-ownership=chown", "--bind=/srv:/"]),
        "--read-only and --private-users-ownership=chown may not be combined"
    );
    assert!(run(&["--private-users-ownership=chown"]).unsupported.is_empty());
}

#[test]
fn network_rules() {
    assert_eq!(
        fail(&["--network-namespace-path=/run/netns/a", "-n"]),
        "--network-namespace-path= cannot be combined with other network options"
    );
    assert_eq!(
        fail(&["--network-namespace-path=/run/netns/a", "--network-zone=z"]),
        "--network-namespace-path= cannot be combined with other network options"
    );
    let s = run(&["--network-namespace-path=/run/netns/a", "--private-network"]);
    assert_eq!(s.network_namespace_path, Some(PathBuf::from("/run/netns/a")));
    assert!(s.private_network);
    assert_eq!(
        fail(&["--network-bridge=br0", "--network-zone=z"]),
        "--network-bridge= and --network-zone= may not be combined"
    );
    assert_eq!(fail(&["-p", "80"]), "cannot use --port= without private networking");
    assert_eq!(
        fail(&["-p", "80", "--network-namespace-path=/run/netns/a"]),
        "cannot use --port= without private networking"
    );
    for net in [
        "--private-network",
        "-n",
        "--network-bridge=br0",
        "--network-zone=z",
        "--network-macvlan=eth0",
        "--network-ipvlan=eth0",
        "--network-interface=eth1",
        "--network-veth-extra=ve-x",
    ] {
        let s = run(&[net, "-p", "udp:53"]);
        assert!(s.private_network, "{net}");
        assert_eq!(s.ports.len(), 1, "{net}");
    }
}

#[test]
fn network_options_imply_private_network() {
    let s = run(&["--network-bridge=br0"]);
    assert!(s.private_network && s.network_veth);
    assert_eq!(s.network_bridge.as_deref(), Some("br0"));
    let s = run(&["--network-zone=lab"]);
    assert!(s.private_network && s.network_veth);
    assert_eq!(s.network_zone.as_deref(), Some("lab"));
    let s = run(&["--network-macvlan=eth0:mv0", "--network-ipvlan=eth1"]);
    assert!(s.private_network && !s.network_veth);
    assert_eq!(s.network_macvlan, [InterfacePair { host: "eth0".into(), container: Some("mv0".into()) }]);
    assert_eq!(s.network_ipvlan, [InterfacePair { host: "eth1".into(), container: None }]);
    assert!(!run(&["--network-namespace-path=/run/netns/a"]).private_network);
}

#[test]
fn ambient_capability_rules() {
    assert_eq!(fail(&["--ambient-capability=all"]), "--ambient-capability= does not support the value all");
    assert_eq!(
        fail(&["--ambient-capability=CAP_SYS_TIME"]),
        "--ambient-capability= is not fully covered by the retained capabilities"
    );
    assert_eq!(
        fail(&["--ambient-capability=CAP_CHOWN", "--drop-capability=CAP_CHOWN"]),
        "--ambient-capability= is not fully covered by the retained capabilities"
    );
    assert_eq!(
        fail(&["-b", "--ambient-capability=CAP_CHOWN"]),
        "--ambient-capability= may not be combined with --boot"
    );
    let s = run(&["--capability=CAP_SYS_TIME", "--ambient-capability=CAP_SYS_TIME"]);
    assert_eq!(s.ambient_capability, 1 << 25);
    // --private-network retains CAP_NET_ADMIN.
    run(&["--private-network", "--ambient-capability=CAP_NET_ADMIN"]);
}

#[test]
fn bind_user_rules() {
    assert_eq!(fail(&["--bind-user-shell=/bin/zsh"]), "cannot use --bind-user-shell= without --bind-user=");
    assert_eq!(fail(&["--bind-user-group=wheel"]), "cannot use --bind-user-group= without --bind-user=");
    assert_eq!(fail(&["--bind-user=alice"]), "--bind-user= requires --private-users");
    assert_eq!(fail(&["--bind-user=alice", "--private-users=no"]), "--bind-user= requires --private-users");
    let s = run(&["-U", "--bind-user=alice", "--bind-user=alice", "--bind-user-group=wheel", "--bind-user-shell=no"]);
    assert_eq!(s.bind_user, ["alice"]);
    assert_eq!(s.bind_user_group, ["wheel"]);
    assert_eq!(s.bind_user_shell.as_deref(), Some("no"));
    assert!(s.unsupported.is_empty());
    assert!(run(&["--private-users=identity", "--bind-user=alice"]).unsupported.is_empty());
}

#[test]
fn idmapped_binds_need_user_namespaces() {
    assert_eq!(fail(&["--bind=/a:/b:idmap"]), "idmapped bind mount on /b requires user namespacing (--private-users)");
    assert_eq!(
        fail(&["--bind-ro=/a:/b:idmap", "--private-users=no"]),
        "idmapped bind mount on /b requires user namespacing (--private-users)"
    );
    let s = run(&["-U", "--bind=/a:/b:owneridmap"]);
    assert!(s.unsupported.is_empty());
    // rootidmap and owneridmap need none (nspawn ≥ 256).
    assert!(run(&["--bind=/a:/b:rootidmap"]).unsupported.is_empty());
    assert!(run(&["--bind-ro=/a:/b:owneridmap", "--private-users=no"]).unsupported.is_empty());
}

#[test]
fn user_namespace_rules() {
    assert_eq!(fail(&["--private-users=managed"]), "--private-users=managed requires private networking");
    assert_eq!(fail(&["--private-users-delegate=2"]), "--private-users-delegate= requires --private-users=managed");
    let s = run(&["--private-users=managed", "--private-network", "--private-users-delegate=2"]);
    assert_eq!(s.private_users_delegate, Some(2));
    assert_eq!(fail(&["--user"]), "--user (user scope) requires --private-users=managed");
    let s = run(&["--user", "--private-users=managed", "-n"]);
    assert_eq!(s.user, None);
    assert_eq!(s.unsupported, ["user", "private-users"]);
}

#[test]
fn forward_journal_limits_need_forward_journal() {
    let msg = "--forward-journal-max-use=/--forward-journal-keep-free=/--forward-journal-max-file-size=/--forward-journal-max-files= require --forward-journal=";
    assert_eq!(fail(&["--forward-journal-max-use=1G"]), msg);
    assert_eq!(fail(&["--forward-journal-max-files=3"]), msg);
    let s = run(&["--forward-journal=journal", "--forward-journal-keep-free=1G"]);
    assert_eq!(s.forward_journal, Some(PathBuf::from("/work/here/journal")));
    assert_eq!(s.unsupported, ["forward-journal", "forward-journal-keep-free"]);
}

#[test]
fn cleanup_needs_a_machine() {
    assert_eq!(fail(&["--cleanup"]), "--cleanup needs --machine=, --directory= or --image=");
    assert!(run(&["--cleanup", "-M", "m"]).unsupported.is_empty());
}

#[test]
fn supported_options_record_nothing() {
    let s = run(&[
        "-q",
        "--no-pager",
        "--no-ask-password",
        "-D",
        "/r",
        "-M",
        "m",
        "--hostname=h",
        "--uuid=0123456789abcdef0123456789abcdef",
        "-a",
        "--chdir=/",
        "-E",
        "A=b",
        "-u",
        "u",
        "--kill-signal=TERM",
        "--read-only",
        "--bind=/a",
        "--bind-ro=/b:/c",
        "--tmpfs=/t",
        "--overlay=/l:/u",
        "--overlay-ro=/l:/v",
        "--inaccessible=/i",
        "--resolv-conf=auto",
        "--timezone=auto",
        "--console=read-only",
        "-P",
        "--register=yes",
        "--keep-unit",
        "--background=",
        "--settings=no",
        "--volatile=no",
        "--private-users=no",
        "--notify-ready=no",
        "--suppress-sync=no",
        "--link-journal=auto",
        "--user=x",
        "--settings=trusted",
    ]);
    assert!(s.unsupported.is_empty(), "{:?}", s.unsupported);
}

#[test]
fn unsupported_values_of_supported_options() {
    let cases: [(&[&str], &str); 4] = [
        (&["--private-users=managed", "-n"], "private-users"),
        (&["--bind=:/scratch"], "bind"),
        (&["--bind-ro=:/scratch"], "bind-ro"),
        (&["--user", "--private-users=managed", "-n"], "user"),
    ];
    for (args, name) in cases {
        assert!(run(args).unsupported.contains(&name), "{args:?}");
    }
}

#[test]
fn unsupported_options_are_recorded_once_in_order() {
    let s = run(&["-n", "-S", "machine", "-n", "--property=CPUQuota=50%", "--share-system", "--system"]);
    assert_eq!(s.unsupported, ["share-system", "system"]);
    assert_eq!(s.slice.as_deref(), Some("machine.slice"));
    assert_eq!(s.properties, ["CPUQuota=50%"]);
    assert!(s.share_system);
}
