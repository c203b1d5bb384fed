//! Tests of `Settings::given`: every option that changes the settings marks its group.

use super::table::{Marks, OPTIONS};
use super::tests::run;
use super::*;
use crate::settings::SettingsMask as S;

/// A valid use of every option: the arguments it needs first (they must pass the checks of
/// `verify.rs`), then the option itself.
const SAMPLES: &[(&str, &[&str])] = &[
    ("quiet", &["-q"]),
    ("no-pager", &["--no-pager"]),
    ("settings", &["--settings=no"]),
    ("cleanup", &["-M", "m", "--cleanup"]),
    ("no-ask-password", &["--no-ask-password"]),
    ("directory", &["--directory=/r"]),
    ("template", &["-M", "m", "--template=/t"]),
    ("ephemeral", &["--ephemeral"]),
    ("image", &["--image=/i.raw"]),
    ("image-policy", &["--image-policy=root=verity"]),
    ("mstack", &["--mstack=/m.mstack"]),
    ("oci-bundle", &["--oci-bundle=/b"]),
    ("read-only", &["--read-only"]),
    ("volatile", &["--volatile=state"]),
    ("root-hash", &["--root-hash=0123456789abcdef0123456789abcdef"]),
    ("root-hash-sig", &["--root-hash-sig=base64:AAAA"]),
    ("verity-data", &["--verity-data=/v"]),
    ("pivot-root", &["--pivot-root=/sysroot"]),
    ("as-pid2", &["--as-pid2"]),
    ("boot", &["--boot"]),
    ("chdir", &["--chdir=/home"]),
    ("setenv", &["--setenv=A=b"]),
    ("uid", &["--uid=alice"]),
    ("kill-signal", &["--kill-signal=SIGTERM"]),
    ("notify-ready", &["--notify-ready=yes"]),
    ("suppress-sync", &["--suppress-sync=yes"]),
    ("machine", &["--machine=m"]),
    ("hostname", &["--hostname=h"]),
    ("uuid", &["--uuid=0123456789abcdef0123456789abcdef"]),
    ("slice", &["--slice=s"]),
    ("property", &["--property=MemoryMax=1G"]),
    ("register", &["--register=no"]),
    ("keep-unit", &["--keep-unit"]),
    ("private-users", &["--private-users=pick"]),
    ("private-users-ownership", &["--private-users-ownership=map"]),
    ("private-users-chown", &["--private-users-chown"]),
    ("private-users-delegate", &["--private-users=managed", "--private-network", "--private-users-delegate=1"]),
    ("-U", &["-U"]),
    ("private-network", &["--private-network"]),
    ("network-interface", &["--network-interface=eth1"]),
    ("network-macvlan", &["--network-macvlan=eth1"]),
    ("network-ipvlan", &["--network-ipvlan=eth1"]),
    ("network-veth", &["--network-veth"]),
    ("network-veth-extra", &["--network-veth-extra=ve1"]),
    ("network-bridge", &["--network-bridge=br0"]),
    ("network-zone", &["--network-zone=z"]),
    ("network-namespace-path", &["--network-namespace-path=/run/netns/x"]),
    ("port", &["-n", "--port=8080"]),
    ("network-address", &["--network-address=auto"]),
    ("network-nat", &["--network-nat=yes"]),
    ("capability", &["--capability=CAP_NET_RAW"]),
    ("drop-capability", &["--drop-capability=CAP_NET_RAW"]),
    ("ambient-capability", &["--ambient-capability=CAP_CHOWN"]),
    ("no-new-privileges", &["--no-new-privileges=yes"]),
    ("system-call-filter", &["--system-call-filter=@basic-io"]),
    ("selinux-context", &["--selinux-context=system_u:system_r:t:s0"]),
    ("selinux-apifs-context", &["--selinux-apifs-context=system_u:object_r:t:s0"]),
    ("rlimit", &["--rlimit=NOFILE=1024"]),
    ("oom-score-adjust", &["--oom-score-adjust=100"]),
    ("cpu-affinity", &["--cpu-affinity=0"]),
    ("personality", &[crate::security::process::test_names::NATIVE_OPTION]),
    ("resolv-conf", &["--resolv-conf=off"]),
    ("timezone", &["--timezone=off"]),
    ("link-journal", &["--link-journal=no"]),
    ("-j", &["-j"]),
    ("forward-journal", &["--forward-journal=/f"]),
    ("forward-journal-max-use", &["--forward-journal=/f", "--forward-journal-max-use=1G"]),
    ("forward-journal-keep-free", &["--forward-journal=/f", "--forward-journal-keep-free=1G"]),
    ("forward-journal-max-file-size", &["--forward-journal=/f", "--forward-journal-max-file-size=1G"]),
    ("forward-journal-max-files", &["--forward-journal=/f", "--forward-journal-max-files=3"]),
    ("bind", &["--bind=/a:/b"]),
    ("bind-ro", &["--bind-ro=/a:/b"]),
    ("inaccessible", &["--inaccessible=/x"]),
    ("tmpfs", &["--tmpfs=/t"]),
    ("overlay", &["--overlay=/a:/b:/c"]),
    ("overlay-ro", &["--overlay-ro=/a:/b"]),
    ("bind-user", &["-U", "--bind-user=alice"]),
    ("bind-user-shell", &["-U", "--bind-user=alice", "--bind-user-shell=yes"]),
    ("bind-user-group", &["-U", "--bind-user=alice", "--bind-user-group=wheel"]),
    ("console", &["--console=pipe"]),
    ("pipe", &["--pipe"]),
    ("background", &["--background=44"]),
    ("set-credential", &["--set-credential=a:b"]),
    ("load-credential", &["--load-credential=a:/p"]),
    ("share-system", &["--share-system"]),
    ("user", &["--user=bob"]),
    ("system", &["--system"]),
];

fn row_name(o: &table::OptSpec) -> String {
    match o.long {
        "" => format!("-{}", o.short.unwrap_or('?')),
        l => l.to_string(),
    }
}

/// The settings apart from the record of what was given (and of what is not implemented).
fn values(mut s: Settings) -> Settings {
    s.given = S::EMPTY;
    s.unsupported.clear();
    s
}

#[test]
fn every_option_that_changes_settings_marks_its_group() {
    for o in OPTIONS {
        let name = row_name(o);
        if matches!(name.as_str(), "help" | "version") {
            assert_eq!(o.marks, Marks::Nothing, "--{name}");
            continue;
        }
        let (_, args) =
            SAMPLES.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no sample for {name}: add one"));
        let (prereq, _) = args.split_at(args.len() - 1);
        let before = run(prereq);
        let after = run(args);
        let changed = values(after.clone()) != values(before.clone());
        match o.marks {
            Marks::Nothing => {
                assert!(!changed, "{name} changes the settings but marks nothing");
                assert_eq!(after.given, before.given, "{name}");
            }
            Marks::Group(group) => {
                assert!(changed, "{name}: the sample changes nothing");
                assert_eq!(group.iter().count(), 1, "{name} marks one group");
                assert!(after.given.contains(group), "{name}: {:?}", after.given);
                assert_eq!(after.given, before.given | group, "{name} marks only its group");
            }
            Marks::Rlimit => {
                assert!(changed, "{name}");
                assert_eq!(after.given, before.given | S::rlimit(7), "{name}");
            }
        }
    }
    assert_eq!(SAMPLES.len(), OPTIONS.len() - 2, "one sample per row but --help and --version");
}

#[test]
fn every_sample_alone_gives_a_non_empty_mask() {
    for (name, args) in SAMPLES {
        let given = run(args).given;
        let nothing = ["no-pager", "no-ask-password", "system"];
        // (The --forward-journal-* limits mark nothing either, but need --forward-journal.)
        assert_eq!(given.is_empty(), nothing.contains(name), "{name}: {given:?}");
    }
}

#[test]
fn nothing_given_nothing_marked() {
    assert_eq!(run(&[]).given, S::EMPTY);
    assert_eq!(run(&["--no-pager", "--system"]).given, S::EMPTY);
}

#[test]
fn the_mark_does_not_depend_on_the_value() {
    // Empty values reset to the default, and still beat a settings file.
    assert_eq!(run(&["--hostname="]).given, S::HOSTNAME);
    assert_eq!(run(&["-M", ""]).given, S::MACHINE);
    assert_eq!(run(&["-u", ""]).given, S::USER);
    assert_eq!(run(&["--notify-ready=no"]).given, S::NOTIFY_READY);
    assert_eq!(run(&["--private-users=no"]).given, S::USERNS);
    assert_eq!(run(&["--volatile=no"]).given, S::VOLATILE_MODE);
    assert_eq!(run(&["--background="]).given, S::BACKGROUND);
}

#[test]
fn repeated_options_and_several_groups() {
    let s = run(&["-E", "A=1", "-E", "A=2", "--bind=/a", "--tmpfs=/t", "-n", "--network-zone=z"]);
    assert_eq!(s.given, S::ENVIRONMENT | S::CUSTOM_MOUNTS | S::NETWORK);
    let s = run(&["--rlimit=NOFILE=1", "--rlimit=CORE=0", "--rlimit=NOFILE=2"]);
    assert_eq!(s.given, S::rlimit(7) | S::rlimit(4));
    let s = run(&["--capability=CAP_NET_RAW", "--drop-capability=CAP_MKNOD", "--ambient-capability=CAP_CHOWN"]);
    assert_eq!(s.given, S::CAPABILITY);
}

#[test]
fn positional_arguments_mark_the_start_mode() {
    assert_eq!(run(&["/bin/true"]).given, S::START_MODE);
    assert_eq!(run(&["-D", "/r", "--", "/bin/sh", "-c", "x"]).given, S::DIRECTORY | S::START_MODE);
    assert_eq!(run(&["-b"]).given, S::START_MODE);
}

#[test]
fn rlimit_names_match_the_parser() {
    for (i, r) in values_sec::RLIMITS.iter().enumerate() {
        assert_eq!(S::rlimit(i as u32).name(), Some(format!("RLIMIT_{r}").as_str()));
    }
}
