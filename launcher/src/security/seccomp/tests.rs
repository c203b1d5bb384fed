//! Unit tests of the seccomp compiler: golden programs, a BPF interpreter run over every syscall
//! number of each ABI of each architecture against the policy table, compile timing, and an
//! install on a thread. The aarch64 and arm programs are checked here too (tests_arm.rs): the
//! tests have both families' tables.

use super::compile::*;
use super::groups::NSPAWN_DEFAULT_CAPS;
use super::target::*;
use super::{syscalls_arm, syscalls_x86};
use std::time::Instant;

/// An architecture's table, policy and ABIs, as a build for it has them.
pub fn target(name: &str) -> Target<'static> {
    Target::of(name, super::FAMILIES).unwrap_or_else(|| panic!("no filter for {name}"))
}

/// Every architecture with a filter.
pub fn every_target() -> impl Iterator<Item = Target<'static>> {
    ARCHES.iter().map(|a| target(a.target_arch))
}

/// The x86_64 build's.
fn x86() -> Target<'static> {
    target("x86_64")
}

/// Runs a classic BPF seccomp program (the opcodes the compiler emits) on one syscall.
pub fn run(p: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
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

pub fn name_index(table: &Table, name: &str) -> usize {
    table.names().position(|n| n == name).unwrap_or_else(|| panic!("{name} not in the table"))
}

pub const ALLOW: u32 = 0x7fff_0000;
pub const fn errno(e: u32) -> u32 {
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

/// Every number 0..=600 (and the same with the x32 bit, and arm's private ones) of each ABI of
/// `arch` gives the table's action; other numbers and other arches get ENOSYS.
pub fn check_exhaustive(t: &Target, actions: &[Action]) {
    let (table, arch) = (t.table, t.arch);
    let p = compile_program(t, actions);
    assert!(p.len() <= MAX_INSNS);
    let column = |name: &str| table.abis.iter().position(|a| *a == name).unwrap();
    // The action of number `nr` (as the kernel sees it) in column `c`.
    let lookup = |c: usize, nr: u32| -> Action {
        let nr_of = |n: u16| if n >= ARM_PRIVATE { ARM_NR_BASE + u32::from(n - ARM_PRIVATE) } else { u32::from(n) };
        table
            .rows()
            .zip(actions)
            .find(|(r, _)| r[c] != NONE && nr_of(r[c]) == nr)
            .map_or(Action::Errno(38), |(_, a)| *a)
    };
    let numbers = (0..=600u32).chain(ARM_NR_BASE..ARM_NR_BASE + 16);
    for abi in arch.abis {
        for nr in numbers.clone() {
            for args in [
                [0; 6],
                [16, 3, 9, 0, 0, 0],
                [0x1_0000_0010, 3, 0x1_0000_0009, 0, 0, 0],
                [16, 3, 0, 0, 0, 0],
                // open(path, O_SYNC) / openat(fd, path, O_DSYNC), and the flags' high half set.
                [0, 0x10_1000, 0x1000, 0, 0, 0],
                [0, 0x1_0000_0000, 0x1_0000_0002, 0, 0, 0],
            ] {
                for &(name, bits) in abi.columns {
                    let got = run(&p, abi.audit_arch, nr | bits, args);
                    assert_eq!(got, expected(lookup(column(name), nr), args), "{name} {nr:#x} {args:?}");
                }
                if abi.columns.len() == 1 {
                    // No x32-like second column: the x32 bit is just an unknown number.
                    assert_eq!(run(&p, abi.audit_arch, nr | X32_SYSCALL_BIT, args), errno(38));
                }
            }
        }
        for nr in [1000, 0x3fff_ffff, 0x8000_0000, u32::MAX, X32_SYSCALL_BIT | 1000, ARM_NR_BASE + 0xffff] {
            assert_eq!(run(&p, abi.audit_arch, nr, [0; 6]), errno(38), "{nr:#x}");
        }
    }
    let ours: Vec<u32> = arch.abis.iter().map(|a| a.audit_arch).collect();
    for other in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, 0x8000_0016, 0] {
        if !ours.contains(&other) {
            for nr in [0, 20, 39, 172] {
                assert_eq!(run(&p, other, nr, [0; 6]), errno(38), "{other:#x} is not allowed through");
            }
        }
    }
}

/// The program of `actions` for `arch`, as instructions.
pub fn compile_program(t: &Target, actions: &[Action]) -> Vec<Insn> {
    let (table, arch) = (t.table, t.arch);
    let rules: Vec<(u32, Vec<(u32, Action)>)> =
        arch.abis.iter().map(|abi| (abi.audit_arch, rules(table, abi, actions).unwrap())).collect();
    let abis: Vec<(u32, &[(u32, Action)])> = rules.iter().map(|(a, r)| (*a, r.as_slice())).collect();
    let p = program(&abis).unwrap();
    assert_eq!(encode(&p), build(t, actions).unwrap());
    p
}

#[test]
fn default_policy_matches_the_table_on_every_abi() {
    for t in every_target() {
        check_exhaustive(&t, &resolve(&t, NSPAWN_DEFAULT_CAPS, &[]).unwrap());
    }
}

#[test]
fn custom_policies_match_the_table() {
    for t in every_target() {
        check_exhaustive(&t, &resolve(&t, u64::MAX, &["@clock", "~mkdir", "~@keyring", "~socket"]).unwrap());
        check_exhaustive(&t, &resolve(&t, 0, &["@known"]).unwrap());
        check_exhaustive(&t, &resolve(&t, 0, &["~@known"]).unwrap());
        // --suppress-sync=yes on the default policy and on allow-all (SYSTEMD_SECCOMP=0).
        let mut s = resolve(&t, NSPAWN_DEFAULT_CAPS, &[]).unwrap();
        suppress_sync(&t, &mut s).unwrap();
        assert_eq!(s[name_index(t.table, "fsync")], Action::Errno(0));
        assert_eq!(s[name_index(t.table, "openat")], Action::NoSyncOpen(32));
        check_exhaustive(&t, &s);
        let mut s = vec![Action::Allow; t.table.len()];
        suppress_sync(&t, &mut s).unwrap();
        check_exhaustive(&t, &s);
    }
}

#[test]
fn the_default_build_time_program_is_what_the_runtime_compiler_makes() {
    let t = super::native().expect("the tests run on an architecture with a filter");
    assert_eq!(super::DEFAULT_PROGRAM, compile(&t, NSPAWN_DEFAULT_CAPS, &[]).unwrap().as_slice());
}

#[test]
fn nspawn_policy_decisions() {
    let t = &x86();
    let name_index = |n: &str| name_index(t.table, n);
    let a = resolve(t, NSPAWN_DEFAULT_CAPS, &[]).unwrap();
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
    let b = resolve(t, caps, &["~mkdir", "fchmodat2"]).unwrap();
    assert_eq!(b[name_index("reboot")], Action::Errno(1));
    assert_eq!(b[name_index("clock_settime")], Action::Allow);
    assert_eq!(b[name_index("mkdir")], Action::Errno(1));
    assert_eq!(b[name_index("fchmodat2")], Action::Allow);
    let c = resolve(t, NSPAWN_DEFAULT_CAPS, &["@clock", "~clock_settime", "~landlock_create_ruleset"]).unwrap();
    assert_eq!(c[name_index("clock_settime")], Action::Errno(1), "the deny list wins");
    assert_eq!(c[name_index("adjtimex")], Action::Allow);
    assert_eq!(c[name_index("landlock_create_ruleset")], Action::Errno(1), "named in the deny list: EPERM");
}

#[test]
fn unknown_words_are_errors() {
    for t in every_target() {
        let resolve = |w: &[&str]| resolve(&t, 0, w);
        assert_eq!(resolve(&["@nonsense"]).unwrap_err(), "--system-call-filter=@nonsense: unknown system call group");
        assert_eq!(resolve(&["~@nonsense"]).unwrap_err(), "--system-call-filter=~@nonsense: unknown system call group");
        assert_eq!(resolve(&["nosuchcall"]).unwrap_err(), "--system-call-filter=nosuchcall: unknown system call");
        assert_eq!(resolve(&["~"]).unwrap_err(), "--system-call-filter=~: unknown system call");
        // Names of other architectures: in the policy data, or in the other family's table.
        for w in ["arm_fadvise64_64", "s390_runtime_instr", "arm_sync_file_range", "uretprobe", "~open", "iopl"] {
            assert!(resolve(&[w]).is_ok(), "{w}: names of other architectures are accepted");
        }
    }
}

#[test]
fn table_numbers_are_unique_per_abi() {
    for t in [&syscalls_x86::TABLE, &syscalls_arm::TABLE] {
        for abi in 0..t.abis.len() {
            let mut v: Vec<u16> = t.rows().map(|r| r[abi]).filter(|&n| n != NONE).collect();
            let len = v.len();
            v.sort_unstable();
            v.dedup();
            assert_eq!(v.len(), len, "{}", t.abis[abi]);
        }
        assert_eq!(t.names().count(), t.len());
        assert_eq!(t.numbers.len(), t.len() * t.abis.len());
        let v: Vec<&str> = t.names().collect();
        assert!(v.windows(2).all(|w| w[0] < w[1]), "syscalls_*.rs must be sorted by name");
        let foreign: Vec<&str> = t.foreign.split_ascii_whitespace().collect();
        assert!(foreign.iter().all(|f| v.binary_search(f).is_err()), "foreign names are the other family's only");
    }
}

/// tests/probe/probe.rs carries its own small table, [x86_64, x86, x32, aarch64, arm] per name
/// (`NO` where the ABI lacks the call): it must agree with the generated ones.
#[test]
fn the_probes_syscall_numbers_are_the_tables() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/probe/probe.rs");
    let text = std::fs::read_to_string(path).unwrap();
    let columns = [
        (&syscalls_x86::TABLE, "x86_64"),
        (&syscalls_x86::TABLE, "x86"),
        (&syscalls_x86::TABLE, "x32"),
        (&syscalls_arm::TABLE, "aarch64"),
        (&syscalls_arm::TABLE, "arm"),
    ];
    let mut rows = 0;
    for line in text.lines().map(str::trim).filter(|l| l.starts_with("(\"") && l.ends_with("]),")) {
        let (name, numbers) = line[2..line.len() - 3].split_once("\", [").unwrap();
        let numbers: Vec<&str> = numbers.split(", ").collect();
        assert_eq!(numbers.len(), columns.len(), "{line}");
        for ((table, abi), probe) in columns.iter().zip(numbers) {
            let c = table.abis.iter().position(|a| a == abi).unwrap();
            let index = table.names().position(|n| n == name);
            let nr = index.and_then(|i| table.rows().nth(i)).map_or(NONE, |row| row[c]);
            let want = if nr == NONE { "NO".to_string() } else { nr.to_string() };
            assert_eq!(probe, want, "{name} on {abi}");
        }
        rows += 1;
    }
    assert!(rows >= 20, "the probe's table was not found ({rows} rows)");
}

/// The syscalls of `list` (groups.rs words) in `table`, expanded from the strings.
fn expand_words(table: &Table, list: &str, set: &mut [bool]) {
    use super::groups::GROUPS;
    for w in list.split_ascii_whitespace() {
        if w.starts_with('@') {
            let (_, members) = GROUPS.iter().find(|(n, _)| *n == w).unwrap();
            expand_words(table, members, set);
        } else if let Some(i) = table.names().position(|n| n == w) {
            set[i] = true;
        }
    }
}

/// The policy build.rs encodes as table indices says what groups.rs says, on every family.
#[test]
fn the_encoded_policy_is_groups_rs() {
    use super::groups::{ALWAYS, GROUPS, NSPAWN_ALLOW};
    for t in every_target() {
        for (name, list) in GROUPS {
            let mut want = vec![false; t.table.len()];
            expand_words(t.table, list, &mut want);
            assert_eq!(members(&t, name).unwrap(), want, "{name} on {}", t.arch.target_arch);
        }
        let mut gates = 0;
        for (cap, members) in t.policy.allow() {
            let (mut want, mut got) = (vec![false; t.table.len()], vec![false; t.table.len()]);
            for (_, list) in NSPAWN_ALLOW.iter().filter(|(c, _)| u16::from(*c) == cap) {
                expand_words(t.table, list, &mut want);
            }
            let words: Vec<String> = members
                .iter()
                .map(|&m| match m & GROUP {
                    0 => t.table.names().nth(usize::from(m)).unwrap().to_string(),
                    _ => GROUPS[usize::from(m & !GROUP)].0.to_string(),
                })
                .collect();
            expand_words(t.table, &words.join(" "), &mut got);
            assert_eq!(got, want, "gate {cap}");
            gates += 1;
        }
        let distinct: std::collections::BTreeSet<u8> = NSPAWN_ALLOW.iter().map(|(c, _)| *c).collect();
        assert_eq!(gates, distinct.len());
        assert!(distinct.contains(&ALWAYS));
        // Every name the data mentions is in the table, in its foreign list or in the policy's.
        let all = GROUPS.iter().map(|(_, l)| *l).chain(NSPAWN_ALLOW.iter().map(|(_, l)| *l));
        for w in all.flat_map(str::split_ascii_whitespace).filter(|w| !w.starts_with('@')) {
            let known = t.table.names().any(|n| n == w) || t.table.is_foreign(w) || t.policy.is_foreign(w);
            assert!(known, "{w} on {}", t.arch.target_arch);
        }
    }
}

#[test]
fn the_generated_policies_are_policy_rs_output() {
    use super::policy::Encoded;
    for (table, family, generated, compiled) in [
        (
            &syscalls_x86::TABLE,
            "x86",
            include_str!(concat!(env!("OUT_DIR"), "/seccomp-policy-x86.rs")),
            &super::policy_x86::POLICY,
        ),
        (
            &syscalls_arm::TABLE,
            "arm",
            include_str!(concat!(env!("OUT_DIR"), "/seccomp-policy-arm.rs")),
            &super::policy_arm::POLICY,
        ),
    ] {
        let e = Encoded::new(table).unwrap();
        assert_eq!(e.to_rust(&format!("syscalls_{family}.rs")), generated);
        let p = e.policy();
        assert_eq!(
            (p.groups, p.members, p.allow, p.foreign),
            (compiled.groups, compiled.members, compiled.allow, compiled.foreign)
        );
    }
}

#[test]
fn audit_arch_values_are_the_kernels() {
    use linux_raw_sys::ptrace as k;
    assert_eq!(
        [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM],
        [k::AUDIT_ARCH_X86_64, k::AUDIT_ARCH_I386, k::AUDIT_ARCH_AARCH64, k::AUDIT_ARCH_ARM]
    );
}

#[test]
fn rules_are_sorted_and_refuse_clashes() {
    const T: Table = Table { abis: &["a", "b"], names: "x y z ", numbers: &[5, 0xf002, 1, NONE, 1023, 7], foreign: "" };
    let acts = [Action::Allow, Action::Errno(1), Action::Errno(38)];
    let abi = Abi { audit_arch: 1, columns: &[("a", 0), ("b", 0x4000_0000)] };
    let want: [(u32, Action); 5] = [
        (1, Action::Errno(1)),
        (5, Action::Allow),
        (1023, Action::Errno(38)),
        (7 | 0x4000_0000, Action::Errno(38)),
        (0xf0002 | 0x4000_0000, Action::Allow),
    ];
    assert_eq!(rules(&T, &abi, &acts).unwrap(), want);
    // Plain numbers before arm's private ones.
    let b = Abi { audit_arch: 1, columns: &[("b", 0)] };
    assert_eq!(rules(&T, &b, &acts).unwrap(), [(7, Action::Errno(38)), (0xf0002, Action::Allow)]);
    let clash = Table { numbers: &[5, 0, 5, 0, 6, 0], ..T };
    assert_eq!(rules(&clash, &abi, &acts).unwrap_err(), "syscall number 0x5 listed twice or out of range");
    let big = Table { numbers: &[1024, 0, 5, 0, 6, 0], ..T };
    assert_eq!(rules(&big, &abi, &acts).unwrap_err(), "syscall number 0x400 listed twice or out of range");
    assert_eq!(
        rules(&T, &Abi { audit_arch: 1, columns: &[("c", 0)] }, &acts).unwrap_err(),
        "no c column in the syscall table"
    );
}

#[test]
fn golden_small_programs() {
    let r = [(1, Action::Allow), (2, Action::Allow), (5, Action::Errno(1))];
    let p = program(&[(AUDIT_ARCH_X86_64, &r), (AUDIT_ARCH_I386, &[(0, Action::Allow)])]).unwrap();
    let want = [
        insn(0x20, 0, 0, 4),
        insn(0x15, 1, 0, AUDIT_ARCH_X86_64),
        insn(0x05, 0, 0, 1 + 7),
        insn(0x20, 0, 0, 0),
        // intervals: [0 ENOSYS) [1 ALLOW) [3 ENOSYS) [5 EPERM) [6.. ENOSYS); the compares jump
        // to one return block per action (ENOSYS, ALLOW, EPERM, in order of first use).
        insn(0x35, 1, 0, 3), // >= 3: the right half
        insn(0x35, 3, 2, 1), // >= 1: ALLOW, else ENOSYS
        insn(0x35, 0, 1, 5), // >= 5: the right half, else ENOSYS
        insn(0x35, 0, 2, 6), // >= 6: ENOSYS, else EPERM
        insn(0x06, 0, 0, errno(38)),
        insn(0x06, 0, 0, ALLOW),
        insn(0x06, 0, 0, errno(1)),
        insn(0x15, 1, 0, AUDIT_ARCH_I386),
        insn(0x06, 0, 0, errno(38)),
        insn(0x20, 0, 0, 0),
        insn(0x35, 1, 0, 1),
        insn(0x06, 0, 0, ALLOW),
        insn(0x06, 0, 0, errno(38)),
    ];
    assert_eq!(p, want);
    let s = program(&[(AUDIT_ARCH_X86_64, &[(41, Action::Socket(true))]), (AUDIT_ARCH_I386, &[])]).unwrap();
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
    let p = program(&[(AUDIT_ARCH_X86_64, &r)]).unwrap();
    assert!(p.iter().any(|i| i.code == 0x05 && i.k > 255));
    for nr in 0..1300 {
        let want = if nr % 2 == 0 && nr < 1200 { ALLOW } else { errno(38) };
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, nr, [0; 6]), want, "{nr}");
    }
}

#[test]
fn sizes_and_compile_time() {
    for t in every_target() {
        let p = compile_program(&t, &resolve(&t, NSPAWN_DEFAULT_CAPS, &[]).unwrap());
        let n = 200;
        let start = Instant::now();
        for _ in 0..n {
            compile(&t, u64::MAX, &["@clock", "~mkdir", "@obsolete"]).unwrap();
        }
        let per = start.elapsed() / n;
        let arch = t.arch.target_arch;
        eprintln!("{arch} default program: {} instructions, {} bytes; runtime compile: {per:?}", p.len(), p.len() * 8);
        assert!(p.len() < MAX_INSNS);
        // Return blocks shared by the compares (528 instructions with a return per leaf): the
        // kernel's install time grows with the length.
        if arch == "x86_64" {
            assert!(p.len() <= 300, "{} instructions", p.len());
        }
    }
}

/// A syscall number no ABI assigns.
const UNASSIGNED: libc::c_long = 1000;

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
            let unknown = err(libc::syscall(UNASSIGNED));
            let x32 = err(libc::syscall(libc::SYS_keyctl | X32_SYSCALL_BIT as libc::c_long));
            let audit = err(libc::syscall(libc::SYS_socket, 16, 3, 9));
            let getpid = libc::syscall(libc::SYS_getpid);
            (took, keyctl, unknown, x32, audit, getpid)
        }
    })
    .join()
    .unwrap();
    eprintln!("install of the default filter: {:?}", out.0);
    // x32 has a table of its own on x86_64; elsewhere the bit makes a number nobody assigns.
    let x32 = if cfg!(target_arch = "x86_64") { libc::EPERM } else { libc::ENOSYS };
    assert_eq!((out.1, out.2, out.3, out.4), (libc::EPERM, libc::ENOSYS, x32, libc::EAFNOSUPPORT));
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
