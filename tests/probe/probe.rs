//! The seccomp probe: calls system calls with harmless arguments and prints NAME=RESULT per
//! check named on the command line (RESULT: the return value, or -ERRNO; -9999 for a check it
//! does not know, -9998 for one whose call this architecture lacks: `mkdir` on aarch64, the
//! x32 and i386 checks anywhere but x86_64). Copied into the container tree by tests/seccomp.rs.
//!
//! One file, std only, raw syscalls (`syscall` and i386's `int 0x80` on x86_64, `svc #0` on
//! aarch64, libc's syscall() elsewhere), so that rustc alone builds it for any target:
//!
//!     rustc -O --target TRIPLE -C panic=abort -C target-feature=+crt-static -o OUT probe.rs
//!
//! plus `-C linker=rust-lld` for a cross target without a C cross toolchain
//! (aarch64-unknown-linux-musl here). `sh tests/probe/build.sh TRIPLE OUT` runs exactly that;
//! tests/seccomp.rs calls it for the host's musl target, or for `SPAWNBOX_PROBE_TARGET`.

// b"...\0" strings: rustc's default edition (2015) has no C-string literals.
#![allow(clippy::manual_c_str_literals)]

use std::io::Write;

/// No such call on this ABI.
const NO: i64 = -1;
/// The result of a check whose call the architecture lacks.
const ABSENT: i64 = -9998;
/// The result of an unknown check.
const UNKNOWN: i64 = -9999;

/// Syscall numbers, [x86_64, x86 (i386), x32 (without the bit), aarch64, arm]: the column
/// names of launcher/src/security/seccomp/syscalls_*.rs, whose unit tests check this table.
const NUMBERS: &[(&str, [i64; 5])] = &[
    ("getpid", [39, 20, 39, 172, 20]),
    ("kexec_load", [246, 283, 528, 104, 347]),
    ("kexec_file_load", [320, NO, 320, 294, 401]),
    ("init_module", [175, 128, 175, 105, 128]),
    ("finit_module", [313, 350, 313, 273, 379]),
    ("delete_module", [176, 129, 176, 106, 129]),
    ("keyctl", [250, 288, 250, 219, 311]),
    ("add_key", [248, 286, 248, 217, 309]),
    ("bpf", [321, 357, 321, 280, 386]),
    ("swapon", [167, 87, 167, 224, 87]),
    ("swapoff", [168, 115, 168, 225, 115]),
    ("open_by_handle_at", [304, 342, 304, 265, 371]),
    ("perf_event_open", [298, 336, 298, 241, 364]),
    ("reboot", [169, 88, 169, 142, 88]),
    ("clock_settime", [227, 264, 227, 112, 262]),
    ("settimeofday", [164, 79, 164, 170, 79]),
    ("mkdir", [83, 39, 83, NO, 39]),
    ("mkdirat", [258, 296, 258, 34, 323]),
    ("fchmodat2", [452, 452, 452, 452, 452]),
    ("socket", [41, 359, 41, 198, 281]),
    ("fsync", [74, 118, 74, 82, 118]),
    ("fdatasync", [75, 148, 75, 83, 148]),
    ("syncfs", [306, 344, 306, 267, 373]),
    ("sync_file_range", [277, 314, 277, 84, NO]),
    ("sync_file_range2", [NO, NO, NO, NO, 341]),
    ("msync", [26, 144, 26, 227, 144]),
    ("open", [2, 5, 2, NO, 5]),
    ("openat", [257, 295, 257, 56, 322]),
    ("close", [3, 6, 3, 57, 6]),
    ("rt_sigaction", [13, 174, 512, 134, 174]),
];

const X86_64: usize = 0;
const I386: usize = 1;
const X32: usize = 2;
#[cfg(target_arch = "x86_64")]
const NATIVE: usize = X86_64;
#[cfg(target_arch = "aarch64")]
const NATIVE: usize = 3;
#[cfg(target_arch = "arm")]
const NATIVE: usize = 4;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
compile_error!("the probe knows the syscall numbers of x86_64, aarch64 and arm only");

/// x32 calls are x86_64 syscalls with this bit in the number.
const X32_SYSCALL_BIT: i64 = 0x4000_0000;

// Arguments: the asm-generic values, which x86 and arm share.
const EPERM: i64 = 1;
const O_RDONLY: i64 = 0;
const O_NONBLOCK: i64 = 0o4000;
const O_DSYNC: i64 = 0o10000;
const O_SYNC: i64 = 0o4010000;
const AT_FDCWD: i64 = -100;
const AF_NETLINK: i64 = 16;
const SOCK_RAW: i64 = 3;
const NETLINK_ROUTE: i64 = 0;
const NETLINK_AUDIT: i64 = 9;
const CLOCK_MONOTONIC: i64 = 1;
const LINUX_REBOOT_MAGIC1: i64 = 0xfee1_dead;
const LINUX_REBOOT_MAGIC2: i64 = 672_274_793;
const LINUX_REBOOT_CMD_POWER_OFF: i64 = 0x4321_fedc;

/// The number of `name` in `column`, NO if that ABI lacks it (or the table does).
fn nr_in(name: &str, column: usize) -> i64 {
    NUMBERS.iter().find(|(n, _)| *n == name).map_or(NO, |(_, nrs)| nrs[column])
}

/// A raw syscall of this process's ABI: the result, or -errno.
#[cfg(target_arch = "x86_64")]
unsafe fn raw(nr: i64, a: [i64; 6]) -> i64 {
    let r: i64;
    // SAFETY (caller): the arguments are what the call expects; the kernel clobbers rcx, r11.
    unsafe {
        std::arch::asm!("syscall", inlateout("rax") nr => r, in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5], lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    r
}

#[cfg(target_arch = "aarch64")]
unsafe fn raw(nr: i64, a: [i64; 6]) -> i64 {
    let r: i64;
    // SAFETY (caller): the arguments are what the call expects.
    unsafe {
        std::arch::asm!("svc #0", in("x8") nr, inlateout("x0") a[0] => r, in("x1") a[1], in("x2") a[2],
            in("x3") a[3], in("x4") a[4], in("x5") a[5], options(nostack));
    }
    r
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn raw(nr: i64, a: [i64; 6]) -> i64 {
    use std::os::raw::c_long;
    extern "C" {
        fn syscall(nr: c_long, ...) -> c_long;
    }
    let c = |v: i64| v as c_long;
    // SAFETY (caller): as for the others; libc's syscall() reports errors in errno.
    let r = unsafe { syscall(c(nr), c(a[0]), c(a[1]), c(a[2]), c(a[3]), c(a[4]), c(a[5])) };
    if r == -1 {
        -i64::from(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        i64::from(r)
    }
}

/// An i386 system call through `int 0x80` (no pointers: they would be truncated).
#[cfg(target_arch = "x86_64")]
fn int80(nr: i64, a: i64, b: i64, c: i64) -> i64 {
    let r: i64;
    // SAFETY: integer arguments only. rbx (the first argument) is LLVM's: swapped in and back.
    // The kernel clobbers r8-r11 on int 0x80 from 64-bit code.
    unsafe {
        std::arch::asm!("xchg {a}, rbx", "int 0x80", "xchg {a}, rbx", a = inout(reg) a => _,
            inlateout("rax") nr => r, in("rcx") b, in("rdx") c,
            lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _, options(nostack));
    }
    i64::from(r as i32)
}

#[cfg(not(target_arch = "x86_64"))]
fn int80(_: i64, _: i64, _: i64, _: i64) -> i64 {
    ABSENT
}

/// Syscall `name` of this process's ABI with integer (or pointer) arguments.
fn sc(name: &str, args: &[i64]) -> i64 {
    match nr_in(name, NATIVE) {
        NO => ABSENT,
        nr => sc_nr(nr, args),
    }
}

fn sc_nr(nr: i64, args: &[i64]) -> i64 {
    let mut a = [0i64; 6];
    a[..args.len()].copy_from_slice(args);
    // SAFETY: every check passes integers, or pointers to data alive for the call.
    unsafe { raw(nr, a) }
}

/// Number `nr` with the x32 bit, through x86_64's `syscall`.
fn x32(nr: i64, args: &[i64]) -> i64 {
    if !cfg!(target_arch = "x86_64") {
        return ABSENT;
    }
    sc_nr(X32_SYSCALL_BIT | nr, args)
}

/// An i386 call of `name` through `int 0x80`.
fn i386(name: &str, a: i64, b: i64, c: i64) -> i64 {
    int80(nr_in(name, I386), a, b, c)
}

/// open/openat: 0 when it opened (closed again), else -errno.
fn opened(r: i64) -> i64 {
    if r >= 0 {
        sc("close", &[r]);
        0
    } else {
        r
    }
}

/// A pointer argument.
fn ptr<T>(p: *const T) -> i64 {
    p as usize as i64
}

fn check(name: &str) -> i64 {
    let ts = [0isize; 2];
    // tv_usec out of range: EINVAL from the kernel.
    let tv = [0isize, 2_000_000];
    let probe = ptr(b"/probe\0".as_ptr());
    match name {
        "getpid" => sc("getpid", &[]),
        "kexec_load" => sc("kexec_load", &[0, 1000, 0, 0xffff_0000]),
        "kexec_file_load" => sc("kexec_file_load", &[-1, -1, 0, 0, 0xffff]),
        "init_module" => sc("init_module", &[0, 0, ptr(b"\0".as_ptr())]),
        "finit_module" => sc("finit_module", &[-1, ptr(b"\0".as_ptr()), 0]),
        "delete_module" => sc("delete_module", &[ptr(b"spawnbox_no_such_module\0".as_ptr()), O_NONBLOCK]),
        "keyctl" => sc("keyctl", &[0, -1000, 0]),
        "add_key" => sc("add_key", &[ptr(b"\0".as_ptr()), ptr(b"\0".as_ptr()), 0, 0, 0]),
        "bpf" => sc("bpf", &[-1, 0, 0]),
        "swapon" => sc("swapon", &[ptr(b"/spawnbox-no-such-swap\0".as_ptr()), 0]),
        "swapoff" => sc("swapoff", &[ptr(b"/spawnbox-no-such-swap\0".as_ptr())]),
        "open_by_handle_at" => sc("open_by_handle_at", &[-1, 0, 0]),
        "perf_event_open" => sc("perf_event_open", &[0, 0, -1, -1, 0]),
        "reboot_bad_magic" => sc("reboot", &[0, 0, 0, 0]),
        "reboot_poweroff" => {
            // Never outside a PID namespace of its own.
            if sc("getpid", &[]) != 1 {
                return -EPERM;
            }
            sc("reboot", &[LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0])
        }
        "clock_settime_monotonic" => sc("clock_settime", &[CLOCK_MONOTONIC, ptr(ts.as_ptr())]),
        "settimeofday_bad" => sc("settimeofday", &[ptr(tv.as_ptr()), 0]),
        "mkdir" => sc("mkdir", &[ptr(b"/probe-mkdir\0".as_ptr()), 0o755]),
        "mkdirat" => sc("mkdirat", &[AT_FDCWD, ptr(b"/probe-mkdirat\0".as_ptr()), 0o755]),
        "fchmodat2_bad_flags" => sc("fchmodat2", &[AT_FDCWD, ptr(b"/spawnbox-no-such-file\0".as_ptr()), 0, 0xffff]),
        "netlink_audit" => sc("socket", &[AF_NETLINK, SOCK_RAW, NETLINK_AUDIT]),
        "netlink_audit_high_bits" => {
            sc("socket", &[0x1_0000_0000 | AF_NETLINK, SOCK_RAW, 0x1_0000_0000 | NETLINK_AUDIT])
        }
        "netlink_route" => sc("socket", &[AF_NETLINK, SOCK_RAW, NETLINK_ROUTE]).min(0),
        "nr_1000" => sc_nr(1000, &[]),
        "x32_getpid" => x32(nr_in("getpid", X32), &[]),
        "x32_keyctl" => x32(nr_in("keyctl", X32), &[0, -1000, 0]),
        "x32_kexec_load" => x32(nr_in("kexec_load", X32), &[0, 1000, 0, 0xffff_0000]),
        "x32_nr_1000" => x32(1000, &[]),
        // x86_64's rt_sigaction number, which x32 must not use (its own is 512).
        "x32_x86_64_rt_sigaction" => x32(nr_in("rt_sigaction", X86_64), &[0, 0, 0, 8]),
        "i386_getpid" => i386("getpid", 0, 0, 0),
        "i386_keyctl" => i386("keyctl", 0, -1000, 0),
        "i386_kexec_load" => i386("kexec_load", 0, 1000, 0),
        "i386_nr_1000" => int80(1000, 0, 0, 0),
        "i386_socket_audit" => i386("socket", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT),
        "i386_mkdir_null" => i386("mkdir", 0, 0o755, 0),
        // --suppress-sync: calls that fail in the kernel (bad descriptor or flags) succeed when
        // they are suppressed; O_SYNC/O_DSYNC opens fail with EINVAL.
        "fsync_bad_fd" => sc("fsync", &[-1]),
        "fdatasync_bad_fd" => sc("fdatasync", &[-1]),
        "syncfs_bad_fd" => sc("syncfs", &[-1]),
        "sync_file_range_bad_flags" => match nr_in("sync_file_range", NATIVE) {
            // arm has only sync_file_range2(fd, flags, offset, nbytes).
            NO => sc("sync_file_range2", &[-1, 0xff, 0, 0]),
            _ => sc("sync_file_range", &[-1, 0, 0, 0xff]),
        },
        "msync_unaligned" => sc("msync", &[1, 1, 0]),
        "open_osync" => opened(sc("open", &[probe, O_RDONLY | O_SYNC, 0])),
        "openat_odsync" => opened(sc("openat", &[AT_FDCWD, probe, O_RDONLY | O_DSYNC, 0])),
        "openat_plain" => opened(sc("openat", &[AT_FDCWD, probe, O_RDONLY, 0])),
        _ => UNKNOWN,
    }
}

fn main() {
    let mut out = std::io::stdout().lock();
    for name in std::env::args().skip(1) {
        let r = check(&name);
        // Each line out before the next call: reboot_poweroff does not come back.
        let _ = writeln!(out, "{name}={r}").and_then(|()| out.flush());
    }
}
