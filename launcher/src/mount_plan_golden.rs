//! Golden mount plans for representative command lines: argv → `cli::parse` → `Spec` → `plan`,
//! compared line by line with what `SPAWNBOX_LOG=debug` lists (no root needed). With a user
//! namespace each step is marked `outer` (made by the outer child, in the host's user
//! namespace) or `inner` (by PID 1 in the container's).

use super::{inside_userns, plan, CgroupMount, Step};
use crate::spec::{Caller, Spec};
use std::ffi::OsString;
use std::path::Path;

/// The /proc masks and read-only directories every plan has (nspawn's list).
const PROC: &[&str] = &[
    "mask /proc/kallsyms",
    "mask /proc/kcore",
    "mask /proc/keys",
    "mask /proc/sysrq-trigger",
    "mask /proc/timer_list",
    "ro /proc/acpi",
    "ro /proc/apm",
    "ro /proc/asound",
    "ro /proc/bus",
    "ro /proc/fs",
    "ro /proc/irq",
    "ro /proc/scsi",
];

fn spec(args: &[&str], env: &[(&str, &str)]) -> Spec {
    let mut argv: Vec<OsString> = vec!["-D".into(), "/srv/tree".into(), "--console=pipe".into()];
    argv.extend(args.iter().map(OsString::from));
    let getenv = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    let settings = match crate::cli::parse(&argv, &getenv, Path::new("/")) {
        Ok(crate::cli::Parsed::Run(s)) => s,
        other => panic!("{argv:?}: {:?}", other.err()),
    };
    let caller = Caller { cwd: Path::new("/"), stdin_tty: true, stdout_tty: true, host_hostname: "h" };
    Spec::resolve(settings, &caller).expect("resolve")
}

fn lines(steps: &[Step]) -> Vec<String> {
    steps.iter().map(Step::to_string).collect()
}

/// The plan with `/proc`'s masks folded into one `PROC` line (they never change).
fn folded(steps: &[Step]) -> Vec<String> {
    let all = lines(steps);
    let at = all.iter().position(|l| l == PROC[0]).expect("the /proc masks");
    assert_eq!(all[at..at + PROC.len()], *PROC);
    let mut out = all[..at].to_vec();
    out.push("PROC".into());
    out.extend_from_slice(&all[at + PROC.len()..]);
    out
}

/// The API mounts every plan starts with, up to `/sys` (default flags).
fn head() -> Vec<&'static str> {
    vec!["proc /proc 0xe", "ro /proc/sys", "tmpfs /run 0x26 mode=0755,size=20%,nr_inodes=800k", "run-host", "PROC"]
}

/// `/dev` and what follows it, without a console.
fn dev() -> Vec<&'static str> {
    vec![
        "tmpfs /dev 0x22 mode=0755,size=4m,nr_inodes=64k",
        "dev-nodes",
        "devpts /dev/pts 0xa newinstance,ptmxmode=0666,mode=0620,gid=5",
        "tmpfs /dev/shm 0x26 mode=01777,size=10%,nr_inodes=400k",
        "mqueue /dev/mqueue 0xe",
    ]
}

const TMP: &str = "tmpfs /tmp 0x26 mode=01777,size=10%,nr_inodes=400k";

fn want(parts: &[&[&str]]) -> Vec<String> {
    parts.iter().flat_map(|p| p.iter().map(|s| s.to_string())).collect()
}

#[test]
fn a_command() {
    let got = folded(&plan(&spec(&["/bin/true"], &[]), CgroupMount::ReadOnly));
    let w = want(&[&head(), &["sysfs /sys 0xf", "cgroup2 /sys/fs/cgroup 0xf"], &dev(), &[TMP]]);
    assert_eq!(got, w);
}

#[test]
fn boot_with_a_writable_cgroup_and_a_guest_that_mounts_its_own() {
    let s = spec(&["-b"], &[]);
    let got = folded(&plan(&s, CgroupMount::Writable));
    let boot = ["sysfs /sys 0xf", "cgroup2 /sys/fs/cgroup 0xe", "cgroup-init-leaf unmount=false"];
    assert_eq!(got, want(&[&head(), &boot, &dev(), &[TMP]]));
    let got = folded(&plan(&s, CgroupMount::LeftToGuest));
    let openrc = ["sysfs /sys 0xf", "cgroup2 /sys/fs/cgroup 0xe", "cgroup-init-leaf unmount=true"];
    assert_eq!(got, want(&[&head(), &openrc, &dev(), &[TMP]]));
}

#[test]
fn no_cgroup_of_its_own() {
    let got = folded(&plan(&spec(&[], &[]), CgroupMount::None));
    assert_eq!(got, want(&[&head(), &["sysfs /sys 0xf"], &dev(), &[TMP]]));
}

#[test]
fn a_console_goes_before_tmp() {
    let got = folded(&plan(&spec(&["--console=interactive"], &[]), CgroupMount::None));
    assert_eq!(got, want(&[&head(), &["sysfs /sys 0xf"], &dev(), &["console", TMP]]));
}

#[test]
fn a_private_network_gets_a_writable_proc_sys_net() {
    for args in [&["--private-network"][..], &["-n"], &["--network-namespace-path=/run/netns/x"]] {
        let got = folded(&plan(&spec(args, &[]), CgroupMount::None));
        let mut w = head();
        w.insert(2, "rw /proc/sys/net");
        assert_eq!(got, want(&[&w, &["sysfs /sys 0xf"], &dev(), &[TMP]]), "{args:?}");
    }
}

#[test]
fn custom_mounts_follow_in_destination_order() {
    let s = spec(
        &["--tmpfs=/srv/t", "--bind=/a:/mnt", "--bind-ro=/c:/mnt/c", "--inaccessible=/etc/x", "--overlay=/l:/u:/o"],
        &[],
    );
    let got = folded(&plan(&s, CgroupMount::None));
    let custom = [
        "custom --inaccessible=/etc/x",
        "custom --bind=/a:/mnt",
        "custom --bind-ro=/c:/mnt/c",
        "custom --overlay=...:/o",
        "custom --tmpfs=/srv/t",
    ];
    assert_eq!(got, want(&[&head(), &["sysfs /sys 0xf"], &dev(), &[TMP], &custom]));
}

#[test]
fn read_only_changes_no_mount_of_the_plan() {
    // --read-only is the tree's bind (made before the plan), not a step.
    let a = lines(&plan(&spec(&["--read-only"], &[]), CgroupMount::None));
    let b = lines(&plan(&spec(&[], &[]), CgroupMount::None));
    assert_eq!(a, b);
}

#[test]
fn volatile_state_puts_a_tmpfs_on_var_first_and_the_other_modes_change_no_mount() {
    let base = folded(&plan(&spec(&["/bin/true"], &[]), CgroupMount::ReadOnly));
    let got = folded(&plan(&spec(&["--volatile=state"], &[]), CgroupMount::ReadOnly));
    assert_eq!(got[0], "tmpfs /var 0x20 mode=0755,size=25%,nr_inodes=1m");
    assert_eq!(got[1..], base[..]);
    // Made outside a user namespace, where the container's root cannot take it away.
    assert_eq!(
        split(&spec(&["-U", "--volatile=state"], &[]), CgroupMount::ReadOnly)[0],
        "outer tmpfs /var 0x20 mode=0755,size=25%,nr_inodes=1m"
    );
    // yes, overlay and -x change the root (`setup.rs`), not the mounts on it.
    for args in [&["--volatile=yes"][..], &["--volatile=overlay"], &["-x"], &["-x", "--read-only"]] {
        assert_eq!(folded(&plan(&spec(args, &[]), CgroupMount::ReadOnly)), base, "{args:?}");
    }
}

#[test]
fn environment_knobs() {
    let got = folded(&plan(&spec(&[], &[("SYSTEMD_NSPAWN_TMPFS_TMP", "0")]), CgroupMount::None));
    assert_eq!(got, want(&[&head(), &["sysfs /sys 0xf"], &dev()]));
    let got = folded(&plan(&spec(&[], &[("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "network")]), CgroupMount::None));
    let mut w = head();
    w.insert(2, "rw /proc/sys/net");
    assert_eq!(got, want(&[&w, &["sysfs /sys 0xf"], &dev(), &[TMP]]));
    // Writable: /proc/sys and the hardware directories are not made read-only; /sys is rw.
    let got = lines(&plan(&spec(&[], &[("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "yes")]), CgroupMount::None));
    assert!(!got.iter().any(|l| l.starts_with("ro /proc")), "{got:?}");
    assert!(got.contains(&"sysfs /sys 0xe".to_string()), "{got:?}");
}

/// `outer`/`inner` per step, as the user-namespaced children split the plan.
fn split(s: &Spec, cgroup: CgroupMount) -> Vec<String> {
    let own_network = s.net.private_network;
    plan(s, cgroup)
        .iter()
        .filter(|st| !matches!(st, Step::Mask { .. } | Step::ReadOnlySelf { .. }) || !st.to_string().contains("/proc/"))
        .map(|st| format!("{} {st}", if inside_userns(st, own_network) { "inner" } else { "outer" }))
        .collect()
}

#[test]
fn user_namespace_splits_the_plan_between_the_children() {
    let got = split(&spec(&["-U", "-b"], &[]), CgroupMount::Writable);
    let w = [
        "inner proc /proc 0xe",
        "outer tmpfs /run 0x26 mode=0755,size=20%,nr_inodes=800k",
        "outer run-host",
        "outer sysfs /sys 0xf",
        "inner cgroup2 /sys/fs/cgroup 0xe",
        "inner cgroup-init-leaf unmount=false",
        "outer tmpfs /dev 0x22 mode=0755,size=4m,nr_inodes=64k",
        "outer dev-nodes",
        "inner devpts /dev/pts 0xa newinstance,ptmxmode=0666,mode=0620,gid=5",
        "outer tmpfs /dev/shm 0x26 mode=01777,size=10%,nr_inodes=400k",
        "inner mqueue /dev/mqueue 0xe",
        &format!("outer {TMP}"),
    ];
    assert_eq!(got, w);
    // With a network namespace of its own, the container mounts its /sys itself.
    let got = split(&spec(&["-U", "--private-network"], &[]), CgroupMount::ReadOnly);
    assert!(got.contains(&"inner sysfs /sys 0xf".to_string()), "{got:?}");
}
