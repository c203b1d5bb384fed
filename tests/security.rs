//! security integration tests (root): the capability sets, no_new_privs, rlimits, OOM score,
//! CPU affinity and personality the payload sees from inside; read-only /proc/sys and /sys; the
//! device policy (no host disk or other device outside the allow list, whether mknod'ed, shipped
//! in the tree or reached through devtmpfs); fds, session and tty of the payload; the launcher
//! non-dumpable.

use spawnbox_tests::{Output, Test};
use std::fs;
use std::time::Duration;

/// systemd-nspawn's default bounding set (26 capabilities).
const NSPAWN_DEFAULT: u64 = 0xfdec_afff;
/// capability(7) names by number, as spawnbox prints them.
const CAP_NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];
const CHOWN: u64 = 1 << 0;
const NET_BIND_SERVICE: u64 = 1 << 10;
const NET_ADMIN: u64 = 1 << 12;
const NET_RAW: u64 = 1 << 13;
const SYS_ADMIN: u64 = 1 << 21;
const SYS_RESOURCE: u64 = 1 << 24;
const MKNOD: u64 = 1 << 27;

/// The value of `Key:` in a /proc/PID/status text.
fn field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key}: in {status:?}"))
}

fn hex(status: &str, key: &str) -> u64 {
    u64::from_str_radix(field(status, key), 16).unwrap()
}

/// What spawnbox (started by this test process) may hand on: bounding ∩ permitted.
fn host_caps() -> u64 {
    let me = fs::read_to_string("/proc/self/status").unwrap();
    hex(&me, "CapBnd") & hex(&me, "CapPrm")
}

fn all_caps() -> u64 {
    let last: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap().trim().parse().unwrap();
    (1u64 << (last + 1)) - 1
}

/// Whether spawnbox gives a container started by the tests a cgroup (a cgroup2 hierarchy,
/// hybrid or unified) and so a device program: the tests run as root, where it can be attached.
fn device_policy_expected() -> bool {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines().any(|l| l.split(" - ").nth(1).is_some_and(|r| r.starts_with("cgroup2 ")))
}

/// Whether `--keep-unit` leaves the container without a cgroup: this process (and so
/// spawnbox) is in the root cgroup of the cgroup2 hierarchy.
fn keep_unit_has_no_cgroup() -> bool {
    fs::read_to_string("/proc/self/cgroup").unwrap().lines().any(|l| l == "0::/")
}

/// The default retained set on this host: nspawn's 26, without CAP_MKNOD where no device
/// program can be attached.
fn default_caps() -> u64 {
    let mknod = if device_policy_expected() { MKNOD } else { 0 };
    (NSPAWN_DEFAULT & !MKNOD | mknod) & host_caps()
}

/// The payload's /proc/self/status after `opts`.
fn status(t: &Test, opts: &[&str]) -> String {
    t.sh(opts, "cat /proc/self/status").ok().to_string()
}

/// (CapBnd, CapEff, CapPrm, CapInh, CapAmb).
fn caps(s: &str) -> [u64; 5] {
    ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"].map(|k| hex(s, k))
}

#[test]
fn default_capabilities_are_nspawns_with_mknod_under_the_device_policy() {
    assert!(device_policy_expected(), "this host has cgroup2: the device policy is expected");
    let t = Test::new("caps-default");
    let d = default_caps();
    assert_eq!(d & MKNOD, MKNOD & host_caps());
    assert_eq!(caps(&status(&t, &[])), [d, d, d, d, 0]);
}

#[test]
fn without_a_cgroup_mknod_is_not_retained_and_said_once() {
    let t = Test::new("caps-no-policy");
    if !keep_unit_has_no_cgroup() {
        eprintln!("spawnbox would get a cgroup with --keep-unit here: nothing to test");
        return;
    }
    // --console=read-only: not quiet, so the warning is printed.
    let out =
        t.bare().args(&["--keep-unit", "--console=read-only", "/bin/sh", "-c", "grep CapBnd /proc/self/status"]).run();
    assert_eq!(out.code, Some(0), "{out:?}");
    let bnd = u64::from_str_radix(out.stdout.trim().trim_start_matches("CapBnd:").trim(), 16).unwrap();
    assert_eq!(bnd, NSPAWN_DEFAULT & !MKNOD & host_caps(), "{out:?}");
    let warned: Vec<&str> = out.stderr.lines().filter(|l| l.contains("no device policy")).collect();
    assert_eq!(warned.len(), 1, "{out:?}");
    assert!(
        warned[0].contains("no device policy (the container has no cgroup of its own): cap_mknod is not retained"),
        "{out:?}"
    );
    // --ambient-capability=CAP_MKNOD cannot be honoured then.
    t.run(&["--keep-unit", "--ambient-capability=CAP_MKNOD", "/bin/true"])
        .error("--ambient-capability= is not fully covered by the retained capabilities (cap_mknod not retained)");
}

#[test]
fn capability_adds_to_the_bounding_and_effective_sets() {
    let t = Test::new("caps-add");
    let want = (default_caps() | NET_ADMIN) & host_caps();
    assert_eq!(caps(&status(&t, &["--capability=CAP_NET_ADMIN"])), [want, want, want, want, 0]);
}

#[test]
fn drop_capability_removes_from_the_default() {
    let t = Test::new("caps-drop");
    let want = default_caps() & !SYS_ADMIN;
    assert_eq!(caps(&status(&t, &["--drop-capability=CAP_SYS_ADMIN"])), [want, want, want, want, 0]);
    // Without CAP_SYS_ADMIN a mount fails.
    let out = t.sh(&["--drop-capability=CAP_SYS_ADMIN"], "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m");
    assert_eq!(out.code, Some(1), "{out:?}");
}

#[test]
fn capability_all_keeps_everything_the_host_has() {
    let t = Test::new("caps-all");
    let want = all_caps() & host_caps();
    assert_eq!(caps(&status(&t, &["--capability=all"])), [want, want, want, want, 0]);
}

#[test]
fn capability_mknod_is_kept_when_asked_for() {
    let t = Test::new("caps-mknod");
    let want = (default_caps() | MKNOD) & host_caps();
    assert_eq!(caps(&status(&t, &["--capability=CAP_MKNOD"]))[0], want);
}

#[test]
fn private_network_retains_net_admin() {
    let t = Test::new("caps-privnet");
    let want = default_caps() | (NET_ADMIN & host_caps());
    assert_eq!(caps(&status(&t, &["--private-network"])), [want, want, want, want, 0]);
}

#[test]
fn non_root_user_has_no_capabilities() {
    let t = Test::new("caps-user");
    let s = status(&t, &["-u", "alice"]);
    assert_eq!(caps(&s), [default_caps(), 0, 0, 0, 0]);
    assert_eq!(field(&s, "Uid"), "1000\t1000\t1000\t1000");
}

#[test]
fn non_root_user_keeps_its_ambient_capabilities() {
    let t = Test::new("caps-ambient");
    let s = status(&t, &["-u", "alice", "--ambient-capability=CAP_NET_RAW,CAP_CHOWN"]);
    let a = NET_RAW | CHOWN;
    assert_eq!(caps(&s), [default_caps(), a, a, a, a]);
    // CAP_CHOWN works for alice: she gives a file of hers away.
    let out = t.sh(
        &["-u", "alice", "--ambient-capability=CAP_CHOWN"],
        "touch /tmp/f && chown 0:0 /tmp/f && stat -c %u /tmp/f",
    );
    assert_eq!(out.ok(), "0\n");
}

#[test]
fn root_with_ambient_capabilities() {
    let t = Test::new("caps-root-ambient");
    let d = default_caps();
    assert_eq!(caps(&status(&t, &["--ambient-capability=CAP_NET_BIND_SERVICE"])), [d, d, d, d, NET_BIND_SERVICE]);
}

#[test]
fn ambient_capabilities_must_be_retained() {
    let t = Test::new("caps-ambient-bad");
    t.run(&["--drop-capability=CAP_CHOWN", "--ambient-capability=CAP_CHOWN", "/bin/true"])
        .error("--ambient-capability= is not fully covered by the retained capabilities");
    // CAP_MKNOD is retained under the device policy, so it may be ambient.
    let d = default_caps();
    assert_eq!(caps(&status(&t, &["--ambient-capability=CAP_MKNOD"])), [d, d, d, d, MKNOD]);
}

#[test]
fn capabilities_outside_the_hosts_sets_are_dropped_quietly_unless_asked_for() {
    let t = Test::new("caps-missing");
    // Without --console=pipe (not quiet) the warnings are printed; the run still succeeds.
    // A default capability the host lacks is dropped without a word, as nspawn does.
    let run = |extra: &[&str]| {
        t.bare()
            .args(&["--console=read-only", "--timezone=off"])
            .args(extra)
            .args(&["/bin/sh", "-c", "grep CapBnd /proc/self/status"])
            .run()
    };
    let out = run(&[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let warned = out.stderr.lines().filter(|l| l.contains("not in spawnbox's own capability sets")).count();
    assert_eq!(warned, 0, "{out:?}");
    let no_policy = out.stderr.lines().filter(|l| l.contains("no device policy")).count();
    assert_eq!(no_policy, usize::from(!device_policy_expected()), "{out:?}");
    // One the user names is worth one warning.
    let missing = NSPAWN_DEFAULT & !host_caps();
    if missing != 0 {
        let bit = missing.trailing_zeros();
        let name = CAP_NAMES[bit as usize].to_ascii_uppercase();
        let out = run(&[&format!("--capability={name}")]);
        assert_eq!(out.code, Some(0), "{out:?}");
        let warned: Vec<&str> =
            out.stderr.lines().filter(|l| l.contains("not in spawnbox's own capability sets")).collect();
        assert_eq!(warned.len(), 1, "{out:?}");
        assert!(warned[0].ends_with(&format!("not retained: {}", CAP_NAMES[bit as usize])), "{out:?}");
    }
}

#[test]
fn no_new_privileges() {
    let t = Test::new("nnp");
    assert_eq!(field(&status(&t, &[]), "NoNewPrivs"), "0");
    assert_eq!(field(&status(&t, &["--no-new-privileges=yes"]), "NoNewPrivs"), "1");
    assert_eq!(field(&status(&t, &["--no-new-privileges=no"]), "NoNewPrivs"), "0");
    assert_eq!(field(&status(&t, &["-u", "alice", "--no-new-privileges=yes"]), "NoNewPrivs"), "1");
}

/// `/proc/self/limits` rows as (soft, hard) text, keyed by their label.
fn limits(text: &str, label: &str) -> (String, String) {
    let line = text.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label} in {text}"));
    let mut w = line[label.len()..].split_whitespace();
    (w.next().unwrap().to_string(), w.next().unwrap().to_string())
}

fn show(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

fn parse(v: &str) -> u64 {
    if v == "unlimited" {
        u64::MAX
    } else {
        v.parse().unwrap()
    }
}

#[test]
fn rlimit_defaults_are_what_the_kernel_gives_pid_1() {
    let t = Test::new("rlimit-defaults");
    let inside = t.sh(&[], "cat /proc/self/limits").ok().to_string();
    let own = fs::read_to_string("/proc/self/limits").unwrap();
    let pid1 = fs::read_to_string("/proc/1/limits").unwrap();
    let nr_open: u64 = fs::read_to_string("/proc/sys/fs/nr_open").unwrap().trim().parse().unwrap();
    let can_raise = host_caps() & SYS_RESOURCE != 0;
    let inf = u64::MAX;
    let from_pid1 = |l: &str| {
        let (s, h) = limits(&pid1, l);
        (parse(&s), parse(&h))
    };
    let rows = [
        ("Max cpu time", (inf, inf)),
        ("Max file size", (inf, inf)),
        ("Max data size", (inf, inf)),
        ("Max stack size", (8 << 20, inf)),
        ("Max core file size", (0, inf)),
        ("Max resident set", (inf, inf)),
        ("Max processes", from_pid1("Max processes")),
        ("Max open files", (1024, nr_open.min(512 * 1024))),
        ("Max locked memory", (8 << 20, 8 << 20)),
        ("Max address space", (inf, inf)),
        ("Max file locks", (inf, inf)),
        ("Max pending signals", from_pid1("Max pending signals")),
        ("Max msgqueue size", (819200, 819200)),
        ("Max nice priority", (0, 0)),
        ("Max realtime priority", (0, 0)),
        ("Max realtime timeout", (inf, inf)),
    ];
    for (label, (soft, hard)) in rows {
        // Without CAP_SYS_RESOURCE a hard limit can only go down (setrlimit_closest()).
        let (soft, hard) = if can_raise {
            (soft, hard)
        } else {
            let cur = parse(&limits(&own, label).1);
            (soft.min(hard.min(cur)), hard.min(cur))
        };
        assert_eq!(limits(&inside, label), (show(soft), show(hard)), "{label}");
    }
}

#[test]
fn rlimit_overrides() {
    let t = Test::new("rlimit-set");
    let out = t.sh(
        &["--rlimit=RLIMIT_NOFILE=100:200", "--rlimit=CORE=infinity", "--rlimit=LimitRTTIME=5"],
        "cat /proc/self/limits",
    );
    let inside = out.ok();
    assert_eq!(limits(inside, "Max open files"), ("100".into(), "200".into()));
    assert_eq!(limits(inside, "Max core file size"), ("unlimited".into(), "unlimited".into()));
    assert_eq!(limits(inside, "Max realtime timeout"), ("5".into(), "5".into()));
    // Also for a non-root payload (set before the uid change).
    let out = t.sh(&["-u", "alice", "--rlimit=NOFILE=64"], "ulimit -n; ulimit -Hn");
    assert_eq!(out.ok(), "64\n64\n");
}

#[test]
fn oom_score_adjust() {
    let t = Test::new("oom");
    let own = fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    assert_eq!(t.sh(&[], "cat /proc/self/oom_score_adj").ok(), own);
    assert_eq!(t.sh(&["--oom-score-adjust=500"], "cat /proc/self/oom_score_adj").ok(), "500\n");
    assert_eq!(t.sh(&["-u", "alice", "--oom-score-adjust=1000"], "cat /proc/self/oom_score_adj").ok(), "1000\n");
}

#[test]
fn cpu_affinity() {
    let t = Test::new("affinity");
    let own = fs::read_to_string("/proc/self/status").unwrap();
    let first = field(&own, "Cpus_allowed_list").split([',', '-']).next().unwrap().to_string();
    let s = status(&t, &[&format!("--cpu-affinity={first}")]);
    assert_eq!(field(&s, "Cpus_allowed_list"), first);
    t.run(&["--cpu-affinity=8000", "/bin/true"]).error("--cpu-affinity=: none of the CPUs is available to spawnbox");
}

#[test]
fn personality() {
    let t = Test::new("personality");
    assert_eq!(t.sh(&["--personality=x86"], "uname -m").ok(), "i686\n");
    assert_eq!(t.sh(&["--personality=x86-64"], "uname -m").ok(), "x86_64\n");
    assert_eq!(t.sh(&[], "uname -m").ok(), "x86_64\n");
}

#[test]
fn proc_sys_and_sys_are_read_only() {
    let t = Test::new("ro-api");
    for file in [
        "/proc/sys/vm/drop_caches",
        "/proc/sys/kernel/hostname",
        "/proc/sys/fs/protected_regular",
        "/sys/class/mem/null/uevent",
    ] {
        let out = t.sh(&[], &format!("echo 1 > {file}"));
        assert_eq!(out.code, Some(1), "{file}: {out:?}");
        assert!(out.stderr.contains("Read-only file system"), "{file}: {out:?}");
    }
}

/// The first disk of the host (`/proc/partitions`) as (major, minor).
fn host_disk() -> (u32, u32) {
    let text = fs::read_to_string("/proc/partitions").unwrap();
    let line = text.lines().skip(2).find(|l| !l.trim().is_empty()).expect("a block device on the host");
    let mut w = line.split_whitespace();
    (w.next().unwrap().parse().unwrap(), w.next().unwrap().parse().unwrap())
}

#[test]
fn a_block_device_of_the_host_cannot_be_made_and_opened() {
    let t = Test::new("mknod");
    let (major, minor) = host_disk();
    let out = t.sh(
        &[],
        &format!("mknod /tmp/disk b {major} {minor}; echo mknod=$?; head -c1 /tmp/disk >/dev/null; echo open=$?"),
    );
    assert_eq!(out.stdout, "mknod=1\nopen=1\n", "{out:?}");
    assert!(out.stderr.contains("mknod: /tmp/disk: Operation not permitted"), "{out:?}");
    // Also as a non-root user with every ambient capability it may have.
    let out = t.sh(&["-u", "alice"], &format!("mknod /tmp/disk b {major} {minor}; echo mknod=$?"));
    assert_eq!(out.stdout, "mknod=1\n", "{out:?}");
}

/// Creates a device node at container path `p` from the host (as an image could ship it).
fn host_mknod(t: &Test, p: &str, block: bool, major: u32, minor: u32) {
    let f = t.rpath(p);
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    let ft = if block { rustix::fs::FileType::BlockDevice } else { rustix::fs::FileType::CharacterDevice };
    let dev = (u64::from(major) << 8 & 0xfff00)
        | (u64::from(major) >> 12 << 32)
        | u64::from(minor & 0xff)
        | (u64::from(minor >> 8) << 20);
    rustix::fs::mknodat(rustix::fs::CWD, &f, ft, rustix::fs::Mode::from_raw_mode(0o666), dev)
        .unwrap_or_else(|e| panic!("mknod {}: {e}", f.display()));
}

/// /dev/kmsg (1:11): opening it write-only needs no capability, so without the device policy
/// root opens it (the control below); it is not on the allow list.
const KMSG: (u32, u32) = (1, 11);

#[test]
fn device_nodes_shipped_in_the_tree_cannot_be_opened() {
    assert!(device_policy_expected());
    let t = Test::new("dev-shipped");
    let (major, minor) = host_disk();
    host_mknod(&t, "/root/disk", true, major, minor);
    host_mknod(&t, "/root/kmsg", false, KMSG.0, KMSG.1);
    host_mknod(&t, "/root/null", false, 1, 3);
    let out = t.sh(&[], "head -c1 /root/disk >/dev/null; echo disk=$?; (: > /root/kmsg); echo kmsg=$?; echo x > /root/null; echo null=$?");
    assert_eq!(out.stdout, "disk=1\nkmsg=1\nnull=0\n", "{out:?}");
    assert!(out.stderr.contains("head: /root/disk: Operation not permitted"), "{out:?}");
    assert!(out.stderr.contains("/root/kmsg: Operation not permitted"), "{out:?}");
    // Control: /dev/kmsg passed with --bind is allowed, so the EPERM above is the policy's.
    let out = t.sh(&["--bind=/dev/kmsg:/root/kmsg2"], "(: > /root/kmsg2); echo kmsg2=$?");
    assert_eq!(out.stdout, "kmsg2=0\n", "{out:?}");
    // ... and read-only with --bind-ro: opening it for writing fails.
    let out = t.sh(&["--bind-ro=/dev/kmsg:/root/kmsg2"], "(: > /root/kmsg2); echo kmsg2=$?");
    assert_eq!(out.stdout, "kmsg2=1\n", "{out:?}");
}

#[test]
fn mknod_is_allowed_only_for_the_nodes_on_the_allow_list() {
    assert!(device_policy_expected());
    let t = Test::new("dev-mknod");
    let (major, minor) = host_disk();
    // /root is in the tree (no nodev); /tmp is a nodev tmpfs.
    let script = format!(
        "mknod /root/disk b {major} {minor}; echo disk=$?; head -c1 /root/disk >/dev/null; echo open=$?; \
         mknod /root/kmsg c {} {}; echo kmsg=$?; \
         mknod /root/null c 1 3 && echo x > /root/null; echo null=$?; \
         mknod /root/tun c 10 200; echo tun=$?; mknod /root/pts c 136 0; echo pts=$?",
        KMSG.0, KMSG.1
    );
    let out = t.sh(&[], &script);
    assert_eq!(out.stdout, "disk=1\nopen=1\nkmsg=1\nnull=0\ntun=0\npts=1\n", "{out:?}");
    assert!(out.stderr.contains("mknod: /root/disk: Operation not permitted"), "{out:?}");
    assert!(out.stderr.contains("mknod: /root/kmsg: Operation not permitted"), "{out:?}");
}

#[test]
fn devtmpfs_shows_the_hosts_devices_but_they_cannot_be_opened() {
    assert!(device_policy_expected());
    let t = Test::new("dev-devtmpfs");
    let disk = fs::read_to_string("/proc/partitions")
        .unwrap()
        .lines()
        .nth(2)
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        .unwrap();
    let script = format!(
        "mkdir -p /root/d && mount -t devtmpfs none /root/d || exit 7; \
         head -c1 /root/d/{disk} >/dev/null; echo disk=$?; (: > /root/d/kmsg); echo kmsg=$?; \
         echo x > /root/d/null; echo null=$?; head -c4 /root/d/urandom | wc -c"
    );
    let out = t.sh(&[], &script);
    assert_eq!(out.stdout, "disk=1\nkmsg=1\nnull=0\n4\n", "{out:?}");
    assert!(out.stderr.contains(&format!("head: /root/d/{disk}: Operation not permitted")), "{out:?}");
    assert!(out.stderr.contains("/root/d/kmsg: Operation not permitted"), "{out:?}");
}

#[test]
fn the_allowed_devices_still_work() {
    let t = Test::new("dev-allowed");
    let script = "echo x > /dev/null && head -c1 /dev/zero | wc -c && head -c1 /dev/random | wc -c && \
        head -c1 /dev/urandom | wc -c && (echo x > /dev/full; echo full=$?) && \
        exec 3<>/dev/ptmx && ls /dev/pts | grep -c '^[0-9]'";
    let out = t.sh(&[], script);
    assert_eq!(out.stdout, "1\n1\n1\nfull=1\n1\n", "{out:?}");
    assert!(out.stderr.contains("No space left on device"), "{out:?}");
    // The console pty (pts) works: a run with a read-only console.
    let out =
        t.bare().args(&["--console=read-only", "/bin/sh", "-c", "tty; echo x > /dev/console; echo console=$?"]).run();
    assert!(out.stdout.contains("console=0"), "{out:?}");
}

#[test]
fn a_bound_dev_net_tun_opens() {
    if !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("no /dev/net/tun on this host: nothing to test");
        return;
    }
    let t = Test::new("dev-tun");
    let out = t.sh(&["--bind=/dev/net/tun"], "exec 3<>/dev/net/tun && echo open");
    assert_eq!(out.ok(), "open\n");
}

#[test]
fn inherited_fds_are_closed_and_the_payload_has_its_own_session_without_a_tty() {
    let t = Test::new("hygiene");
    // fd 7 and 8 are open without O_CLOEXEC in spawnbox.
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg("exec 7</etc/passwd 8>&2; exec \"$@\"")
        .arg("bash")
        .arg(spawnbox_tests::spawnbox_bin())
        .args(["-D", t.root.to_str().unwrap(), &format!("--uuid={}", t.uuid), "--console=pipe"])
        .args(["/bin/sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; cut -d' ' -f6,7 /proc/1/stat"]);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    // ls sees 0-2 and its own directory fd; session 1 (PID 1 called setsid); tty_nr 0.
    assert_eq!(stdout, "0 1 2 3 \n1 0\n", "{out:?}");
}

/// kcmp(2) of this thread and `pid` with CAP_SYS_PTRACE removed from this thread's effective
/// set (kept in the permitted set): it succeeds for a dumpable process of the same uid and
/// fails with EPERM for a non-dumpable one (ptrace access mode READ_REALCREDS).
fn kcmp_without_sys_ptrace(pid: i32) -> Result<(), i32> {
    std::thread::spawn(move || {
        use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
        let mut sets = capabilities(None).unwrap();
        sets.effective.remove(CapabilitySet::SYS_PTRACE);
        set_capabilities(None, sets).unwrap();
        const KCMP_VM: i32 = 1;
        // SAFETY: kcmp has no memory arguments.
        let r = unsafe { libc::syscall(libc::SYS_kcmp, std::process::id() as i32, pid, KCMP_VM, 0, 0) };
        if r < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap())
        } else {
            Ok(())
        }
    })
    .join()
    .unwrap()
}

#[test]
fn the_launcher_is_non_dumpable_and_the_payload_dumpable() {
    let t = Test::new("dumpable");
    let mut run = t.cmd(&["/bin/sh", "-c", "echo ready; exec sleep 1000"]).spawn();
    run.wait_for_stdout("ready\n", Duration::from_secs(10));
    let launcher = run.pid();
    let payload = run.container_pid1();
    // Control: a process of ours that exec'ed normally is reachable this way.
    assert_eq!(kcmp_without_sys_ptrace(payload), Ok(()), "the payload (after exec) should be dumpable");
    assert_eq!(kcmp_without_sys_ptrace(launcher), Err(libc::EPERM), "spawnbox must be non-dumpable");
    run.kill(rustix::process::Signal::TERM);
    let out: Output = run.wait();
    assert_eq!(out.code, Some(1), "{out:?}");
}

#[test]
fn dev_fuse_opens_but_serves_nothing_without_a_mount() {
    // nspawn ≥ 256 (TEST-13 testcase_fuse): /dev/fuse exists and opens; reading it without a
    // FUSE mount fails (EPERM on the kernels nspawn's test ran on, EIO on 6.18). A host
    // without a usable /dev/fuse gives none.
    let t = Test::new("dev-fuse");
    if fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").is_err() {
        assert_eq!(t.sh(&[], "[ -e /dev/fuse ] || echo none").ok(), "none\n");
        return;
    }
    let out = t.sh(&[], "exec 3<>/dev/fuse && echo opened; head -c1 <&3 2>&1 | sed 's/^.*: //'");
    let text = out.ok();
    assert!(text == "opened\nOperation not permitted\n" || text == "opened\nInput/output error\n", "{text:?}");
}
