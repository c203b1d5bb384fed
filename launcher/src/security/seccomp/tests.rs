//! Unit tests of the seccomp compiler: golden programs, a BPF interpreter run over every syscall
//! number of each ABI against the policy table, compile timing, and an install on a thread.

use super::compile::*;
use super::groups::NSPAWN_DEFAULT_CAPS;
use super::syscalls::NUMBERS;
use std::time::Instant;

/// Runs a classic BPF seccomp program (the opcodes the compiler emits) on one syscall.
fn run(p: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let (mut pc, mut a) = (0usize, 0u32);
    loop {
        let i = p[pc];
        pc += 1;
        match i.code {
            0x20 => a = u32::from_le_bytes(data[i.k as usize..i.k as usize + 4].try_into().unwrap()),
            0x05 => pc += i.k as usize,
            0x15 => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
            0x35 => pc += usize::from(if a >= i.k { i.jt } else { i.jf }),
            0x45 => pc += usize::from(if a & i.k != 0 { i.jt } else { i.jf }),
            0x06 => return i.k,
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
}

fn name_index(name: &str) -> usize {
    names().position(|n| n == name).unwrap_or_else(|| panic!("{name} not in the table"))
}

const ALLOW: u32 = 0x7fff_0000;
const fn errno(e: u32) -> u32 {
    0x0005_0000 | e
}

fn expected(act: Action, args: [u64; 6]) -> u32 {
    match act {
        Action::Allow => ALLOW,
        Action::Errno(e) => errno(u32::from(e)),
        Action::Socket(_) if args[0] as u32 == 16 && args[2] as u32 == 9 => errno(97),
        Action::Socket(true) => ALLOW,
        Action::Socket(false) => errno(1),
        Action::NoSyncOpen(off) if args[(off as usize - 16) / 8] as u32 & 0x1000 != 0 => errno(22),
        Action::NoSyncOpen(_) => ALLOW,
    }
}

/// Every number 0..=600 (and the same with the x32 bit) of each ABI gives the table's action.
fn check_exhaustive(actions: &[Action]) {
    let p = program(&rules(actions, 0).unwrap(), &rules(actions, 1).unwrap()).unwrap();
    assert!(p.len() <= MAX_INSNS);
    let lookup = |abi: usize, nr: u32| -> Action {
        NUMBERS.iter().zip(actions).find(|(n, _)| u32::from(n[abi]) == nr).map_or(Action::Errno(38), |(_, a)| *a)
    };
    for nr in 0..=600u32 {
        for args in [
            [0; 6],
            [16, 3, 9, 0, 0, 0],
            [0x1_0000_0010, 3, 0x1_0000_0009, 0, 0, 0],
            [16, 3, 0, 0, 0, 0],
            // open(path, O_SYNC) / openat(fd, path, O_DSYNC), and the flags' high half set.
            [0, 0x10_1000, 0x1000, 0, 0, 0],
            [0, 0x1_0000_0000, 0x1_0000_0002, 0, 0, 0],
        ] {
            assert_eq!(run(&p, AUDIT_ARCH_X86_64, nr, args), expected(lookup(0, nr), args), "x86_64 {nr}");
            assert_eq!(
                run(&p, AUDIT_ARCH_X86_64, nr | X32_SYSCALL_BIT, args),
                expected(lookup(2, nr), args),
                "x32 {nr}"
            );
            assert_eq!(run(&p, AUDIT_ARCH_I386, nr, args), expected(lookup(1, nr), args), "i386 {nr}");
        }
    }
    for nr in [1000, 0x3fff_ffff, 0x8000_0000, u32::MAX, X32_SYSCALL_BIT | 1000] {
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, nr, [0; 6]), errno(38));
        assert_eq!(run(&p, AUDIT_ARCH_I386, nr, [0; 6]), errno(38));
    }
    assert_eq!(run(&p, 0xc000_00b7, 0, [0; 6]), errno(38), "aarch64 is not allowed through");
}

#[test]
fn default_policy_matches_the_table_on_every_abi() {
    check_exhaustive(&resolve(NSPAWN_DEFAULT_CAPS, &[]).unwrap());
}

#[test]
fn custom_policies_match_the_table() {
    check_exhaustive(&resolve(u64::MAX, &["@clock", "~mkdir", "~@keyring", "~socket"]).unwrap());
    check_exhaustive(&resolve(0, &["@known"]).unwrap());
    check_exhaustive(&resolve(0, &["~@known"]).unwrap());
    // --suppress-sync=yes on the default policy and on allow-all (SYSTEMD_SECCOMP=0).
    let mut a = resolve(NSPAWN_DEFAULT_CAPS, &[]).unwrap();
    suppress_sync(&mut a).unwrap();
    assert_eq!(a[name_index("fsync")], Action::Errno(0));
    assert_eq!(a[name_index("openat")], Action::NoSyncOpen(32));
    check_exhaustive(&a);
    let mut a = vec![Action::Allow; NUMBERS.len()];
    suppress_sync(&mut a).unwrap();
    check_exhaustive(&a);
}

#[test]
fn the_default_build_time_program_is_what_the_runtime_compiler_makes() {
    assert_eq!(super::DEFAULT_PROGRAM, compile(NSPAWN_DEFAULT_CAPS, &[]).unwrap().as_slice());
}

#[test]
fn nspawn_policy_decisions() {
    let a = resolve(NSPAWN_DEFAULT_CAPS, &[]).unwrap();
    let act = |n: &str| a[name_index(n)];
    for n in [
        "read",
        "execve",
        "execveat",
        "setresuid",
        "setgroups",
        "prctl",
        "capset",
        "close_range",
        "chdir",
        "umask",
        "seccomp",
        "reboot",
        "ptrace",
        "vhangup",
        "mount",
    ] {
        assert_eq!(act(n), Action::Allow, "{n}");
    }
    for n in [
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "keyctl",
        "add_key",
        "bpf",
        "swapon",
        "open_by_handle_at",
        "perf_event_open",
        "clock_settime",
        "settimeofday",
        "syslog",
        "acct",
        "quotactl",
        "mlock",
        "iopl",
        "pkey_alloc",
        "modify_ldt",
    ] {
        assert_eq!(act(n), Action::Errno(1), "{n}");
    }
    for n in ["fchmodat2", "landlock_create_ruleset", "statmount", "mseal"] {
        assert_eq!(act(n), Action::Errno(38), "{n} is newer than the policy");
    }
    assert_eq!(act("socket"), Action::Socket(true));
    let caps = NSPAWN_DEFAULT_CAPS & !(1 << 22) | 1 << 25;
    let b = resolve(caps, &["~mkdir", "fchmodat2"]).unwrap();
    assert_eq!(b[name_index("reboot")], Action::Errno(1));
    assert_eq!(b[name_index("clock_settime")], Action::Allow);
    assert_eq!(b[name_index("mkdir")], Action::Errno(1));
    assert_eq!(b[name_index("fchmodat2")], Action::Allow);
    let c = resolve(NSPAWN_DEFAULT_CAPS, &["@clock", "~clock_settime", "~landlock_create_ruleset"]).unwrap();
    assert_eq!(c[name_index("clock_settime")], Action::Errno(1), "the deny list wins");
    assert_eq!(c[name_index("adjtimex")], Action::Allow);
    assert_eq!(c[name_index("landlock_create_ruleset")], Action::Errno(1), "named in the deny list: EPERM");
}

#[test]
fn unknown_words_are_errors() {
    assert_eq!(resolve(0, &["@nonsense"]).unwrap_err(), "--system-call-filter=@nonsense: unknown system call group");
    assert_eq!(resolve(0, &["~@nonsense"]).unwrap_err(), "--system-call-filter=~@nonsense: unknown system call group");
    assert_eq!(resolve(0, &["nosuchcall"]).unwrap_err(), "--system-call-filter=nosuchcall: unknown system call");
    assert!(
        resolve(0, &["arm_fadvise64_64", "s390_runtime_instr"]).is_ok(),
        "names of other architectures are accepted"
    );
}

#[test]
fn table_numbers_are_unique_per_abi() {
    for abi in 0..3 {
        let mut v: Vec<u16> = NUMBERS.iter().map(|n| n[abi]).filter(|&n| n != NONE).collect();
        let len = v.len();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), len, "abi {abi}");
    }
    assert_eq!(names().count(), NUMBERS.len());
    let v: Vec<&str> = names().collect();
    assert!(v.windows(2).all(|w| w[0] < w[1]), "syscalls.rs must be sorted by name");
}

#[test]
fn golden_small_programs() {
    let r = [(1, Action::Allow), (2, Action::Allow), (5, Action::Errno(1))];
    let p = program(&r, &[(0, Action::Allow)]).unwrap();
    let want = [
        insn(0x20, 0, 0, 4),
        insn(0x15, 1, 0, AUDIT_ARCH_X86_64),
        insn(0x05, 0, 0, 1 + 9),
        insn(0x20, 0, 0, 0),
        // intervals: [0 ENOSYS) [1 ALLOW) [3 ENOSYS) [5 EPERM) [6.. ENOSYS)
        insn(0x35, 3, 0, 3),
        insn(0x35, 1, 0, 1),
        insn(0x06, 0, 0, errno(38)),
        insn(0x06, 0, 0, ALLOW),
        insn(0x35, 1, 0, 5),
        insn(0x06, 0, 0, errno(38)),
        insn(0x35, 1, 0, 6),
        insn(0x06, 0, 0, errno(1)),
        insn(0x06, 0, 0, errno(38)),
        insn(0x15, 1, 0, AUDIT_ARCH_I386),
        insn(0x06, 0, 0, errno(38)),
        insn(0x20, 0, 0, 0),
        insn(0x35, 1, 0, 1),
        insn(0x06, 0, 0, ALLOW),
        insn(0x06, 0, 0, errno(38)),
    ];
    assert_eq!(p, want);
    let s = program(&[(41, Action::Socket(true))], &[]).unwrap();
    assert_eq!(
        &s[7..13],
        &[
            insn(0x20, 0, 0, 16),
            insn(0x15, 0, 3, 16),
            insn(0x20, 0, 0, 32),
            insn(0x15, 0, 1, 9),
            insn(0x06, 0, 0, errno(97)),
            insn(0x06, 0, 0, ALLOW)
        ]
    );
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

#[test]
fn long_left_halves_get_a_bridge() {
    // 600 alternating rules: the top-level left half is far longer than 255 instructions.
    let r: Vec<(u32, Action)> = (0..600).map(|n| (n * 2, Action::Allow)).collect();
    let p = program(&r, &[]).unwrap();
    assert!(p.iter().any(|i| i.code == 0x05 && i.k > 255));
    for nr in 0..1300 {
        let want = if nr % 2 == 0 && nr < 1200 { ALLOW } else { errno(38) };
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, nr, [0; 6]), want, "{nr}");
    }
}

#[test]
fn sizes_and_compile_time() {
    let a = resolve(NSPAWN_DEFAULT_CAPS, &[]).unwrap();
    let p = program(&rules(&a, 0).unwrap(), &rules(&a, 1).unwrap()).unwrap();
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        compile(u64::MAX, &["@clock", "~mkdir", "@obsolete"]).unwrap();
    }
    let per = t.elapsed() / n;
    eprintln!("default program: {} instructions, {} bytes; runtime compile: {per:?}", p.len(), p.len() * 8);
    assert!(p.len() < MAX_INSNS);
}

/// Installs the default filter on a fresh thread (with no_new_privs, so no root is needed) and
/// checks a few calls from that thread; reports the install time.
#[test]
#[allow(unsafe_code)]
fn install_on_a_thread() {
    let out = std::thread::spawn(|| {
        // SAFETY: prctl/syscall with integer arguments; the filter affects this thread only.
        unsafe {
            assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
            let t = Instant::now();
            crate::sys::seccomp_set_mode_filter(super::DEFAULT_PROGRAM).unwrap();
            let took = t.elapsed();
            let err = |r: libc::c_long| if r < 0 { *libc::__errno_location() } else { 0 };
            let keyctl = err(libc::syscall(libc::SYS_keyctl, 0, 0, 0));
            let unknown = err(libc::syscall(1000));
            let x32 = err(libc::syscall(libc::SYS_keyctl | 0x4000_0000));
            let audit = err(libc::syscall(libc::SYS_socket, 16, 3, 9));
            let getpid = libc::syscall(libc::SYS_getpid);
            (took, keyctl, unknown, x32, audit, getpid)
        }
    })
    .join()
    .unwrap();
    eprintln!("install of the default filter: {:?}", out.0);
    assert_eq!((out.1, out.2, out.3, out.4), (libc::EPERM, libc::ENOSYS, libc::EPERM, libc::EAFNOSUPPORT));
    assert_eq!(out.5, std::process::id() as libc::c_long);
}

#[test]
fn systemd_seccomp_is_read_as_systemds_booleans() {
    use std::ffi::OsStr;
    for v in ["0", "no", "n", "false", "f", "off", "OFF", "No"] {
        assert_eq!(super::parse_boolean(OsStr::new(v)), Some(false), "{v}");
    }
    for v in ["1", "yes", "y", "true", "t", "on", "TRUE"] {
        assert_eq!(super::parse_boolean(OsStr::new(v)), Some(true), "{v}");
    }
    for v in ["", "2", "disable", " 0", "0 "] {
        assert_eq!(super::parse_boolean(OsStr::new(v)), None, "{v:?}");
    }
}
