//! Unit tests of the aarch64 and arm filters, run on any host: the programs an aarch64 build (with
//! arm as its compat ABI) and an arm build make, through the BPF interpreter of tests.rs, with
//! the numbers of syscalls_arm.rs.

use super::compile::*;
use super::groups::{CAP_SYS_BOOT, NSPAWN_DEFAULT_CAPS};
use super::target::*;
use super::tests::{compile_program, errno, name_index, run, target, ALLOW};

const ENOSYS: u32 = errno(38);
const EPERM: u32 = errno(1);
const EINVAL: u32 = errno(22);
const EAFNOSUPPORT: u32 = errno(97);

/// aarch64 numbers (asm-generic).
mod a64 {
    pub const OPENAT: u32 = 56;
    pub const FSYNC: u32 = 82;
    pub const KEXEC_LOAD: u32 = 104;
    pub const INIT_MODULE: u32 = 105;
    pub const CLOCK_SETTIME: u32 = 112;
    pub const REBOOT: u32 = 142;
    pub const GETPID: u32 = 172;
    pub const SOCKET: u32 = 198;
    pub const KEYCTL: u32 = 219;
}

/// 32-bit arm (EABI) numbers.
mod a32 {
    pub const OPEN: u32 = 5;
    pub const GETPID: u32 = 20;
    pub const MKDIR: u32 = 39;
    pub const REBOOT: u32 = 88;
    pub const SOCKET: u32 = 281;
    pub const KEYCTL: u32 = 311;
    pub const OPENAT: u32 = 322;
    pub const SYNC_FILE_RANGE2: u32 = 341;
    pub const BREAKPOINT: u32 = 0x0f_0001;
    pub const CACHEFLUSH: u32 = 0x0f_0002;
    pub const SET_TLS: u32 = 0x0f_0005;
}

/// Calls newer than the policy: the same number on both ABIs.
const FCHMODAT2: u32 = 452;
const LANDLOCK_CREATE_RULESET: u32 = 444;

fn program(target_arch: &str, caps: u64, words: &[&str]) -> Vec<Insn> {
    let t = target(target_arch);
    compile_program(&t, &resolve(&t, caps, words).unwrap())
}

#[test]
fn the_numbers_above_are_the_tables() {
    let t = target("aarch64").table;
    let nr = |name: &str, column: usize| {
        let n = t.rows().nth(name_index(t, name)).unwrap()[column];
        if n >= ARM_PRIVATE {
            ARM_NR_BASE + u32::from(n - ARM_PRIVATE)
        } else {
            u32::from(n)
        }
    };
    assert_eq!(t.abis, ["aarch64", "arm"]);
    for (name, want) in [
        ("openat", a64::OPENAT),
        ("fsync", a64::FSYNC),
        ("kexec_load", a64::KEXEC_LOAD),
        ("init_module", a64::INIT_MODULE),
        ("clock_settime", a64::CLOCK_SETTIME),
        ("reboot", a64::REBOOT),
        ("getpid", a64::GETPID),
        ("socket", a64::SOCKET),
        ("keyctl", a64::KEYCTL),
        ("fchmodat2", FCHMODAT2),
        ("landlock_create_ruleset", LANDLOCK_CREATE_RULESET),
    ] {
        assert_eq!(nr(name, 0), want, "aarch64 {name}");
    }
    for (name, want) in [
        ("open", a32::OPEN),
        ("getpid", a32::GETPID),
        ("mkdir", a32::MKDIR),
        ("reboot", a32::REBOOT),
        ("socket", a32::SOCKET),
        ("keyctl", a32::KEYCTL),
        ("openat", a32::OPENAT),
        ("sync_file_range2", a32::SYNC_FILE_RANGE2),
        ("breakpoint", a32::BREAKPOINT),
        ("cacheflush", a32::CACHEFLUSH),
        ("set_tls", a32::SET_TLS),
        ("fchmodat2", FCHMODAT2),
    ] {
        assert_eq!(nr(name, 1), want, "arm {name}");
    }
    for absent in ["open", "mkdir", "arch_prctl", "iopl"] {
        let row = t.names().position(|n| n == absent).and_then(|i| t.rows().nth(i));
        assert!(row.map_or(true, |r| r[0] == NONE), "{absent} on aarch64");
    }
}

/// What the default policy gives: (build, `seccomp_data.arch`, number, result, why).
const DEFAULT_POLICY: &[(&str, u32, u32, u32, &str)] = &[
    ("aarch64", AUDIT_ARCH_AARCH64, a64::GETPID, ALLOW, "@default"),
    ("aarch64", AUDIT_ARCH_AARCH64, a64::OPENAT, ALLOW, "@file-system"),
    ("aarch64", AUDIT_ARCH_AARCH64, a64::REBOOT, ALLOW, "CAP_SYS_BOOT is retained by default"),
    ("aarch64", AUDIT_ARCH_AARCH64, a64::KEYCTL, EPERM, "@keyring"),
    ("aarch64", AUDIT_ARCH_AARCH64, a64::KEXEC_LOAD, EPERM, "@reboot, not in the allow list"),
    ("aarch64", AUDIT_ARCH_AARCH64, a64::INIT_MODULE, EPERM, "@module needs CAP_SYS_MODULE"),
    ("aarch64", AUDIT_ARCH_AARCH64, a64::CLOCK_SETTIME, EPERM, "@clock needs CAP_SYS_TIME"),
    ("aarch64", AUDIT_ARCH_AARCH64, FCHMODAT2, ENOSYS, "newer than the policy"),
    ("aarch64", AUDIT_ARCH_AARCH64, LANDLOCK_CREATE_RULESET, ENOSYS, "newer than the policy"),
    ("aarch64", AUDIT_ARCH_AARCH64, 1000, ENOSYS, "unassigned"),
    ("aarch64", AUDIT_ARCH_AARCH64, a64::GETPID | X32_SYSCALL_BIT, ENOSYS, "no x32 bit on arm64"),
    // Foreign arches: the kernel of an arm64 build never produces them, the filter refuses them.
    ("aarch64", AUDIT_ARCH_X86_64, a64::GETPID, ENOSYS, "x86_64 is foreign"),
    ("aarch64", AUDIT_ARCH_I386, a64::GETPID, ENOSYS, "i386 is foreign"),
    // 32-bit arm programs on arm64, under the arm table.
    ("aarch64", AUDIT_ARCH_ARM, a32::GETPID, ALLOW, "@default"),
    ("aarch64", AUDIT_ARCH_ARM, a32::OPEN, ALLOW, "@file-system"),
    ("aarch64", AUDIT_ARCH_ARM, a32::MKDIR, ALLOW, "@file-system"),
    ("aarch64", AUDIT_ARCH_ARM, a32::SET_TLS, ALLOW, "@default: musl's and glibc's thread pointer"),
    ("aarch64", AUDIT_ARCH_ARM, a32::CACHEFLUSH, ALLOW, "@default"),
    ("aarch64", AUDIT_ARCH_ARM, a32::BREAKPOINT, EPERM, "known, not allowed"),
    ("aarch64", AUDIT_ARCH_ARM, a32::KEYCTL, EPERM, "@keyring"),
    ("aarch64", AUDIT_ARCH_ARM, a32::SYNC_FILE_RANGE2, ALLOW, "@sync"),
    ("aarch64", AUDIT_ARCH_ARM, FCHMODAT2, ENOSYS, "newer than the policy"),
    ("aarch64", AUDIT_ARCH_ARM, 1000, ENOSYS, "unassigned"),
    // Each ABI is searched in its own table: 219 is keyctl on aarch64 and mincore on arm.
    ("aarch64", AUDIT_ARCH_ARM, a64::KEYCTL, ALLOW, "arm's mincore"),
    // arm as the native arch.
    ("arm", AUDIT_ARCH_ARM, a32::GETPID, ALLOW, "@default"),
    ("arm", AUDIT_ARCH_ARM, a32::SET_TLS, ALLOW, "@default"),
    ("arm", AUDIT_ARCH_ARM, a32::REBOOT, ALLOW, "CAP_SYS_BOOT is retained by default"),
    ("arm", AUDIT_ARCH_ARM, a32::KEYCTL, EPERM, "@keyring"),
    ("arm", AUDIT_ARCH_ARM, FCHMODAT2, ENOSYS, "newer than the policy"),
    ("arm", AUDIT_ARCH_ARM, 1000, ENOSYS, "unassigned"),
    ("arm", AUDIT_ARCH_AARCH64, a32::GETPID, ENOSYS, "aarch64 is foreign to an arm build"),
    ("arm", AUDIT_ARCH_X86_64, a32::GETPID, ENOSYS, "x86_64 is foreign"),
];

#[test]
fn default_policy_decisions() {
    let programs =
        [("aarch64", program("aarch64", NSPAWN_DEFAULT_CAPS, &[])), ("arm", program("arm", NSPAWN_DEFAULT_CAPS, &[]))];
    for &(build, arch, nr, want, why) in DEFAULT_POLICY {
        let p = &programs.iter().find(|(b, _)| *b == build).unwrap().1;
        assert_eq!(run(p, arch, nr, [0; 6]), want, "{build} build, arch {arch:#x}, number {nr:#x}: {why}");
    }
    // socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) on both ABIs.
    let p = &programs[0].1;
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, a64::SOCKET, [16, 3, 9, 0, 0, 0]), EAFNOSUPPORT);
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, a64::SOCKET, [16, 3, 0, 0, 0, 0]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_ARM, a32::SOCKET, [16, 3, 9, 0, 0, 0]), EAFNOSUPPORT);
}

#[test]
fn reboot_follows_cap_sys_boot_on_both_abis() {
    let p = program("aarch64", NSPAWN_DEFAULT_CAPS & !(1 << CAP_SYS_BOOT), &[]);
    assert_eq!(run(&p, AUDIT_ARCH_AARCH64, a64::REBOOT, [0; 6]), EPERM);
    assert_eq!(run(&p, AUDIT_ARCH_ARM, a32::REBOOT, [0; 6]), EPERM);
    assert_eq!(run(&p, AUDIT_ARCH_AARCH64, a64::GETPID, [0; 6]), ALLOW);
    let p = program("aarch64", NSPAWN_DEFAULT_CAPS, &["~reboot"]);
    assert_eq!(run(&p, AUDIT_ARCH_AARCH64, a64::REBOOT, [0; 6]), EPERM);
}

#[test]
fn names_absent_on_aarch64_do_not_break_it() {
    // open and mkdir exist on arm (the compat ABI) only; arch_prctl and iopl on x86 only.
    let p = program("aarch64", NSPAWN_DEFAULT_CAPS, &["~open", "~mkdir", "~arch_prctl", "iopl"]);
    assert_eq!(run(&p, AUDIT_ARCH_ARM, a32::OPEN, [0; 6]), EPERM);
    assert_eq!(run(&p, AUDIT_ARCH_ARM, a32::MKDIR, [0; 6]), EPERM);
    assert_eq!(run(&p, AUDIT_ARCH_ARM, a32::OPENAT, [0; 6]), ALLOW);
    assert_eq!(run(&p, AUDIT_ARCH_AARCH64, a64::OPENAT, [0; 6]), ALLOW);
    let t = target("aarch64");
    assert_eq!(
        resolve(&t, 0, &["nosuchcall"]).unwrap_err(),
        "--system-call-filter=nosuchcall: unknown system call",
        "a name of no architecture is still an error"
    );
}

#[test]
fn suppress_sync_on_aarch64() {
    let t = target("aarch64");
    let mut actions = resolve(&t, NSPAWN_DEFAULT_CAPS, &[]).unwrap();
    suppress_sync(&t, &mut actions).unwrap();
    let p = compile_program(&t, &actions);
    assert_eq!(run(&p, AUDIT_ARCH_AARCH64, a64::FSYNC, [0; 6]), errno(0));
    assert_eq!(run(&p, AUDIT_ARCH_AARCH64, a64::OPENAT, [0, 0, 0x1000, 0, 0, 0]), EINVAL);
    assert_eq!(run(&p, AUDIT_ARCH_AARCH64, a64::OPENAT, [0, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(run(&p, AUDIT_ARCH_ARM, a32::OPEN, [0, 0x10_1000, 0, 0, 0, 0]), EINVAL);
    assert_eq!(run(&p, AUDIT_ARCH_ARM, a32::SYNC_FILE_RANGE2, [0; 6]), errno(0));
}

#[test]
fn arm_native_program() {
    let p = program("arm", NSPAWN_DEFAULT_CAPS & !(1 << CAP_SYS_BOOT), &[]);
    assert_eq!(run(&p, AUDIT_ARCH_ARM, a32::REBOOT, [0; 6]), EPERM);
    // One ABI: the arch check, ENOSYS for any other arch, the number load.
    let head: Vec<(u16, u32)> = p[..4].iter().map(|i| (i.code, i.k)).collect();
    assert_eq!(head, [(0x20, 4), (0x15, AUDIT_ARCH_ARM), (0x06, ENOSYS), (0x20, 0)]);
}
