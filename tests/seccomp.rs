//! seccomp integration tests (root): a static probe (tests/probe/probe.rs) calls syscalls with
//! harmless arguments inside real containers and the tests assert the exact errno of each.
//! The probe is built by tests/probe/build.sh for `SPAWNBOX_PROBE_TARGET` (a rustc target
//! triple; default `native`: the host's musl target if installed, else the host's own). The
//! expectations here are x86_64's (x32 and i386 checks); the tests that run the probe on the
//! host need a probe of the host's architecture.

use spawnbox_tests::{workspace, Test};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const EPERM: i64 = libc::EPERM as i64;
const EINVAL: i64 = libc::EINVAL as i64;
const ENOSYS: i64 = libc::ENOSYS as i64;
const EFAULT: i64 = libc::EFAULT as i64;
const EAFNOSUPPORT: i64 = libc::EAFNOSUPPORT as i64;

/// The probe, built once per test binary by tests/probe/build.sh (static, rustc only).
fn probe_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let (tmp, out) = (dir.join(format!("seccomp-probe.{}", std::process::id())), dir.join("seccomp-probe"));
        let script = workspace().join("tests/probe/build.sh");
        let target = std::env::var("SPAWNBOX_PROBE_TARGET").unwrap_or_else(|_| "native".into());
        let st = Command::new("sh").arg(&script).arg(&target).arg(&tmp).status().expect("run sh");
        assert!(st.success(), "sh {} {target} failed", script.display());
        std::fs::rename(&tmp, &out).expect("rename the probe");
        out
    })
}

/// Parses `NAME=VALUE` lines; negative values are -errno.
fn parse(stdout: &str) -> HashMap<String, i64> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().parse().unwrap_or_else(|_| panic!("bad probe line {k}={v}"))))
        .collect()
}

/// A test with the probe at /probe in its tree.
fn test(tag: &str) -> Test {
    let t = Test::new(tag);
    std::fs::copy(probe_bin(), t.rpath("/probe")).expect("copy the probe into the tree");
    t
}

/// Runs the probe as the container's PID 1 with `opts`, asserting success; its results.
fn probe(t: &Test, opts: &[&str], checks: &[&str]) -> HashMap<String, i64> {
    let mut args = opts.to_vec();
    args.push("/probe");
    args.extend(checks);
    let out = t.run(&args);
    let r = parse(out.ok());
    assert_eq!(r.len(), checks.len(), "missing probe results: {out:?}");
    r
}

/// Runs the probe on the host (no filter): the kernel's own answers.
fn host_probe(checks: &[&str]) -> HashMap<String, i64> {
    let out = Command::new(probe_bin()).args(checks).output().expect("run the probe on the host");
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn assert_results(r: &HashMap<String, i64>, want: &[(&str, i64)]) {
    for (name, errno) in want {
        assert_eq!(r[*name], -errno, "{name}: got {} (all: {r:?})", r[*name]);
    }
}

#[test]
fn denied_calls_get_eperm_and_new_ones_enosys() {
    let t = test("denied");
    let want = [
        ("kexec_load", EPERM),
        ("kexec_file_load", EPERM),
        ("init_module", EPERM),
        ("finit_module", EPERM),
        ("delete_module", EPERM),
        ("keyctl", EPERM),
        ("add_key", EPERM),
        ("bpf", EPERM),
        ("swapon", EPERM),
        ("swapoff", EPERM),
        ("open_by_handle_at", EPERM),
        ("perf_event_open", EPERM),
        ("clock_settime_monotonic", EPERM),
        ("settimeofday_bad", EPERM),
        // Newer than the policy's data, and never assigned: ENOSYS, as from an old kernel.
        ("fchmodat2_bad_flags", ENOSYS),
        ("nr_1000", ENOSYS),
        // Allowed (CAP_SYS_BOOT is retained): the kernel rejects the bad magic.
        ("reboot_bad_magic", EINVAL),
    ];
    let names: Vec<&str> = want.iter().map(|w| w.0).chain(["getpid"]).collect();
    let r = probe(&t, &[], &names);
    assert_results(&r, &want);
    assert_eq!(r["getpid"], 1);
    // The host kernel answers differently to the calls the filter stops.
    let host = host_probe(&["keyctl", "bpf", "fchmodat2_bad_flags", "clock_settime_monotonic"]);
    assert_eq!(
        (host["keyctl"], host["fchmodat2_bad_flags"], host["clock_settime_monotonic"]),
        (-EINVAL, -EINVAL, -EINVAL)
    );
}

#[test]
fn reboot_needs_cap_sys_boot() {
    let t = test("reboot-cap");
    let r = probe(&t, &["--drop-capability=CAP_SYS_BOOT"], &["reboot_bad_magic", "reboot_poweroff"]);
    assert_results(&r, &[("reboot_bad_magic", EPERM), ("reboot_poweroff", EPERM)]);
    let r = probe(&t, &["--system-call-filter=~reboot"], &["reboot_bad_magic"]);
    assert_results(&r, &[("reboot_bad_magic", EPERM)]);
}

#[test]
fn reboot_with_cap_sys_boot_powers_the_container_off() {
    let t = test("reboot-ok");
    let out = t.run(&["/probe", "getpid", "reboot_poweroff"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "getpid=1\n", "reboot returned instead of stopping the container: {out:?}");
}

#[test]
fn clock_group_addition_reaches_the_kernel() {
    let t = test("clock");
    // clock_settime(CLOCK_MONOTONIC) and an out-of-range settimeofday are EINVAL in the kernel
    // whatever the capabilities: EINVAL means the filter let them through, EPERM that it did not.
    let checks = ["clock_settime_monotonic", "settimeofday_bad"];
    assert_results(&probe(&t, &[], &checks), &[("clock_settime_monotonic", EPERM), ("settimeofday_bad", EPERM)]);
    for opt in
        ["--system-call-filter=@clock", "--capability=CAP_SYS_TIME", "--system-call-filter=clock_settime settimeofday"]
    {
        let r = probe(&t, &[opt], &checks);
        assert_results(&r, &[("clock_settime_monotonic", EINVAL), ("settimeofday_bad", EINVAL)]);
    }
    let r = probe(&t, &["--system-call-filter=@clock", "--system-call-filter=~clock_settime"], &checks);
    assert_results(&r, &[("clock_settime_monotonic", EPERM), ("settimeofday_bad", EINVAL)]);
}

#[test]
fn removals_deny_with_eperm() {
    let t = test("mkdir");
    let r = probe(&t, &["--system-call-filter=~mkdir"], &["mkdir", "mkdirat", "i386_mkdir_null"]);
    assert_results(&r, &[("mkdir", EPERM), ("mkdirat", 0), ("i386_mkdir_null", EPERM)]);
    assert!(!t.rpath("/probe-mkdir").exists() && t.rpath("/probe-mkdirat").is_dir());
    let r = probe(&t, &[], &["mkdir", "i386_mkdir_null"]);
    assert_results(&r, &[("mkdir", 0), ("i386_mkdir_null", EFAULT)]);
    let r = probe(&t, &["--system-call-filter=~@file-system"], &["mkdirat"]);
    assert_results(&r, &[("mkdirat", EPERM)]);
}

#[test]
fn netlink_audit_sockets_are_refused() {
    let t = test("audit");
    let r = probe(&t, &[], &["netlink_audit", "netlink_audit_high_bits", "netlink_route", "i386_socket_audit"]);
    assert_results(
        &r,
        &[
            ("netlink_audit", EAFNOSUPPORT),
            ("netlink_audit_high_bits", EAFNOSUPPORT),
            ("netlink_route", 0),
            ("i386_socket_audit", EAFNOSUPPORT),
        ],
    );
}

#[test]
fn x32_never_bypasses_the_allow_list() {
    let t = test("x32");
    let checks = ["x32_getpid", "x32_keyctl", "x32_kexec_load", "x32_nr_1000", "x32_x86_64_rt_sigaction"];
    let host = host_probe(&checks);
    let r = probe(&t, &[], &checks);
    // x32's own table: denied calls get EPERM (the host kernel: ENOSYS without x32 support, or
    // EINVAL), numbers x32 does not have get ENOSYS, and allowed calls reach the kernel.
    assert_results(
        &r,
        &[
            ("x32_keyctl", EPERM),
            ("x32_kexec_load", EPERM),
            ("x32_nr_1000", ENOSYS),
            ("x32_x86_64_rt_sigaction", ENOSYS),
        ],
    );
    assert_ne!(host["x32_keyctl"], -EPERM);
    if host["x32_getpid"] == -ENOSYS {
        assert_eq!(r["x32_getpid"], -ENOSYS, "no x32 in this kernel");
    } else {
        assert_eq!(r["x32_getpid"], 1);
    }
}

#[test]
fn i386_never_bypasses_the_allow_list() {
    let t = test("i386");
    let checks = ["i386_getpid", "i386_keyctl", "i386_kexec_load", "i386_nr_1000"];
    let host = host_probe(&checks);
    assert!(host["i386_getpid"] > 0, "this test needs IA32 emulation in the kernel: {host:?}");
    assert_ne!(host["i386_keyctl"], -EPERM);
    let r = probe(&t, &[], &checks);
    assert_results(&r, &[("i386_keyctl", EPERM), ("i386_kexec_load", EPERM), ("i386_nr_1000", ENOSYS)]);
    assert_eq!(r["i386_getpid"], 1);
}

#[test]
fn payloads_run_under_the_filter() {
    let t = test("payload");
    let out = t.sh(&[], "mkdir /tmp/a && ls / >/dev/null && cat /proc/self/status | grep -E '^Seccomp:' && echo ok");
    assert_eq!(out.ok(), "Seccomp:\t2\nok\n");
    let out = t.sh(&["-a"], "grep -E '^Seccomp_filters:' /proc/self/status; echo ok");
    assert_eq!(out.ok(), "Seccomp_filters:\t1\nok\n");
    let out =
        t.sh(&["--user=nobody", "--system-call-filter=@clock", "--system-call-filter=~@keyring"], "id -u; echo ok");
    assert_eq!(out.ok(), "65534\nok\n");
}

#[test]
fn unknown_names_are_errors() {
    let t = test("unknown");
    t.run(&["--system-call-filter=@nonsense", "/bin/true"])
        .error("--system-call-filter=@nonsense: unknown system call group");
    t.run(&["--system-call-filter=~@nonsense", "/bin/true"])
        .error("--system-call-filter=~@nonsense: unknown system call group");
    t.run(&["--system-call-filter=@clock nosuchcall", "/bin/true"])
        .error("--system-call-filter=nosuchcall: unknown system call");
}

#[test]
fn systemd_seccomp_0_turns_the_filter_off() {
    let t = test("systemd-seccomp");
    // Each denied by the filter (EPERM, or ENOSYS for fchmodat2, newer than the policy) and
    // answered by the kernel with another errno for container root with nspawn's capabilities.
    let checks = ["keyctl", "fchmodat2_bad_flags", "clock_settime_monotonic", "bpf", "perf_event_open", "getpid"];
    let filtered =
        [("keyctl", EPERM), ("fchmodat2_bad_flags", ENOSYS), ("clock_settime_monotonic", EPERM), ("bpf", EPERM)];
    let kernel =
        [("keyctl", EINVAL), ("fchmodat2_bad_flags", EINVAL), ("clock_settime_monotonic", EINVAL), ("bpf", EINVAL)];
    let run = |value: Option<&str>, args: &[&str]| {
        let mut c = t.cmd(args);
        c.env("SPAWNBOX_LOG", "warn");
        if let Some(v) = value {
            c.env("SYSTEMD_SECCOMP", v);
        }
        c.run()
    };
    // Our own lines on stderr (the rest is the rootfs's, e.g. its missing time zone).
    let said = |out: &spawnbox_tests::Output| -> Vec<String> {
        out.stderr.lines().filter(|l| l.contains("SYSTEMD_SECCOMP")).map(str::to_string).collect()
    };
    let mut args = vec!["/probe"];
    args.extend(checks);

    // Unset, true or not a boolean: the filter stays.
    for value in [None, Some("1"), Some("yes"), Some("maybe")] {
        let out = run(value, &args);
        let r = parse(out.code(0));
        assert_results(&r, &filtered);
        assert_results(&r, &[("perf_event_open", EPERM)]);
        assert_eq!(r["getpid"], 1);
        let want: Vec<String> = match value {
            Some("maybe") => vec!["SYSTEMD_SECCOMP=maybe: not a boolean, the seccomp filter stays".into()],
            _ => vec![],
        };
        assert!(
            said(&out).len() == want.len() && said(&out).iter().zip(&want).all(|(l, w)| l.ends_with(w.as_str())),
            "SYSTEMD_SECCOMP={value:?}: {out:?}"
        );
    }

    // A false boolean: no filter, the kernel's own answers (perf_event_open's NULL attr: EFAULT),
    // and one warning.
    for value in ["0", "no"] {
        let out = run(Some(value), &args);
        let r = parse(out.code(0));
        assert_results(&r, &kernel);
        assert_results(&r, &[("perf_event_open", EFAULT)]);
        assert_eq!(r["getpid"], 1);
        let lines = said(&out);
        assert!(
            lines.len() == 1 && lines[0].ends_with(&format!("seccomp filter disabled by SYSTEMD_SECCOMP={value}")),
            "{out:?}"
        );
    }
    // The host kernel agrees: those answers are not the filter's.
    let host = host_probe(&checks[..5]);
    assert_results(&host, &kernel);
    assert_results(&host, &[("perf_event_open", EFAULT)]);

    // Only the filter goes: the kernel reports no seccomp mode, the bounding set is unchanged.
    let status = "grep -E '^(Seccomp|Seccomp_filters|CapBnd):' /proc/self/status";
    let on = run(None, &["/bin/sh", "-c", status]);
    let off = run(Some("0"), &["/bin/sh", "-c", status]);
    let field = |out: &spawnbox_tests::Output, k: &str| -> String {
        let text = out.code(0);
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:\t")))
            .unwrap_or_else(|| panic!("no {k}: {out:?}"))
            .into()
    };
    assert_eq!((field(&on, "Seccomp"), field(&on, "Seccomp_filters")), ("2".into(), "1".into()), "{on:?}");
    assert_eq!((field(&off, "Seccomp"), field(&off, "Seccomp_filters")), ("0".into(), "0".into()), "{off:?}");
    assert_eq!(field(&on, "CapBnd"), field(&off, "CapBnd"));

    // Whether a --system-call-filter= word is an error does not depend on the environment.
    run(Some("0"), &["--system-call-filter=@nonsense", "/bin/true"])
        .error("--system-call-filter=@nonsense: unknown system call group");
}

#[test]
fn suppress_sync_makes_sync_calls_succeed_and_refuses_sync_opens() {
    let t = test("suppress-sync");
    let checks = [
        "fsync_bad_fd",
        "fdatasync_bad_fd",
        "syncfs_bad_fd",
        "sync_file_range_bad_flags",
        "msync_unaligned",
        "open_osync",
        "openat_odsync",
        "openat_plain",
    ];
    // The kernel's answers without the option: the bad arguments are refused.
    let plain = probe(&t, &[], &checks);
    let ebadf = libc::EBADF as i64;
    assert_results(
        &plain,
        &[
            ("fsync_bad_fd", ebadf),
            ("fdatasync_bad_fd", ebadf),
            ("syncfs_bad_fd", ebadf),
            ("sync_file_range_bad_flags", ebadf),
            ("msync_unaligned", EINVAL),
        ],
    );
    assert_eq!((plain["open_osync"], plain["openat_odsync"], plain["openat_plain"]), (0, 0, 0), "{plain:?}");
    // nspawn's seccomp_suppress_sync(): the sync family returns 0 without running, and opens
    // asking for synchronous writes fail with EINVAL.
    for extra in [&["--suppress-sync=yes"][..], &["--suppress-sync=yes", "--system-call-filter=@clock"][..]] {
        let r = probe(&t, extra, &checks);
        for c in &checks[..5] {
            assert_eq!(r[*c], 0, "{c} with {extra:?}: {r:?}");
        }
        assert_results(&r, &[("open_osync", EINVAL), ("openat_odsync", EINVAL)]);
        assert_eq!(r["openat_plain"], 0, "{r:?}");
    }
    // Not a security policy: it stays when SYSTEMD_SECCOMP=0 turns the filter off.
    let mut args = vec!["--suppress-sync=yes", "/probe"];
    args.extend(checks);
    let out = t.cmd(&args).env("SYSTEMD_SECCOMP", "0").run();
    let r = parse(out.ok());
    assert_eq!((r["fsync_bad_fd"], r["open_osync"]), (0, -EINVAL), "{r:?}");
}
