//! Unit tests of the runtime-spec profile compiler: Docker's default profile (as dockerd hands
//! it to the runtime on amd64 and arm64, testdata/) through a BPF interpreter on x86_64 and
//! aarch64, a differential check of random profiles against a direct reading of the rules,
//! the 64-bit comparisons at their edges, the errors, and an install on a thread.

use super::profile::*;
use super::target::{number, Target, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use super::target::{NONE, X32_SYSCALL_BIT};
use super::tests::target;
use crate::runtime_spec::{Seccomp, SeccompArg, SeccompRule};
use std::time::Instant;

const ALLOW: u32 = RET_ALLOW;
const KILL: u32 = RET_KILL_THREAD;
const fn errno(e: u32) -> u32 {
    RET_ERRNO | e
}
const EPERM: u32 = errno(1);
const ENOSYS: u32 = errno(38);

/// Runs a classic BPF program on one syscall (every opcode the profile compiler emits).
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
        let cond = |c: bool| usize::from(if c { i.jt } else { i.jf });
        match i.code {
            0x20 => a = u32::from_le_bytes(data[i.k as usize..i.k as usize + 4].try_into().unwrap()),
            0x54 => a &= i.k,
            0x05 => pc += i.k as usize,
            0x15 => pc += cond(a == i.k),
            0x25 => pc += cond(a > i.k),
            0x35 => pc += cond(a >= i.k),
            0x06 => return i.k,
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
}

fn config(json: &str) -> Seccomp {
    crate::runtime_spec::parse(json.as_bytes()).unwrap().linux.seccomp.unwrap()
}

fn docker(arch: &str) -> Seccomp {
    match arch {
        "x86_64" => config(include_str!("testdata/docker-default-amd64.json")),
        _ => config(include_str!("testdata/docker-default-arm64.json")),
    }
}

/// The number of `name` in table column `column` of `t` (with x32's bit for "x32").
fn nr(t: &Target, column: &str, name: &str) -> u32 {
    let c = t.table.column(column).unwrap();
    let row = t.table.names().position(|n| n == name).unwrap_or_else(|| panic!("{name} not in the table"));
    let n = t.table.rows().nth(row).unwrap()[c];
    assert_ne!(n, NONE, "{name} has no {column} number");
    number(n) | if column == "x32" { X32_SYSCALL_BIT } else { 0 }
}

const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_THREAD_FLAGS: u64 = 0x003d_0f00;

#[test]
fn docker_default_on_x86_64() {
    let t = target("x86_64");
    let c = compile(&t, &docker("x86_64")).unwrap();
    let p = &c.program;
    assert_eq!(c.flags, 0);
    let x = |name| nr(&t, "x86_64", name);
    let go = |name, args| run(p, AUDIT_ARCH_X86_64, x(name), args);
    for name in ["read", "write", "openat", "execve", "getpid", "arch_prctl", "chroot", "capset", "setresuid"] {
        assert_eq!(go(name, [0; 6]), ALLOW, "{name}");
    }
    for name in
        ["mount", "keyctl", "add_key", "kexec_load", "init_module", "bpf", "unshare", "setns", "reboot", "ptrace"]
    {
        // ptrace needs kernel 4.8 in the profile: allowed.
        let want = if name == "ptrace" { ALLOW } else { EPERM };
        assert_eq!(go(name, [0; 6]), want, "{name}");
    }
    // clone3: ENOSYS (errnoRet 38), so that the C library falls back to clone.
    assert_eq!(go("clone3", [0; 6]), ENOSYS);
    // clone: allowed unless a namespace flag (mask 0x7E020000) is set, in either half's view.
    assert_eq!(go("clone", [CLONE_THREAD_FLAGS, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(go("clone", [0x11, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(go("clone", [CLONE_NEWUSER | 0x11, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(go("clone", [0x0002_0000, 0, 0, 0, 0, 0]), EPERM, "CLONE_NEWNS");
    assert_eq!(go("clone", [1 << 40, 0, 0, 0, 0, 0]), ALLOW, "high half outside the mask");
    // personality: only 0, 8, 0x20000, 0x20008 and 0xffffffff.
    for v in [0u64, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert_eq!(go("personality", [v, 0, 0, 0, 0, 0]), ALLOW, "{v:#x}");
    }
    for v in [1u64, 0x0040_0000, 0x1_0000_0000, 0x1_ffff_ffff, u64::MAX] {
        assert_eq!(go("personality", [v, 0, 0, 0, 0, 0]), EPERM, "{v:#x}");
    }
    // socket: every family but AF_ALG (38) and AF_VSOCK (40) (three rules: < 38, == 39, > 40).
    for (family, want) in
        [(1u64, ALLOW), (2, ALLOW), (16, ALLOW), (37, ALLOW), (38, EPERM), (39, ALLOW), (40, EPERM), (41, ALLOW)]
    {
        assert_eq!(go("socket", [family, 1, 0, 0, 0, 0]), want, "family {family}");
    }
    assert_eq!(go("socket", [40 | 1 << 32, 1, 0, 0, 0, 0]), ALLOW, "40 in the low half only");
    // Numbers above the highest the profile names: ENOSYS (runc's stub); below: EPERM.
    let highest = t.table.rows().filter_map(|r| r.first().copied()).filter(|n| *n != NONE).max().unwrap();
    assert_eq!(run(p, AUDIT_ARCH_X86_64, 1000, [0; 6]), ENOSYS);
    assert_eq!(run(p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT - 1, [0; 6]), ENOSYS);
    assert!(u32::from(highest) < 1000);
    // i386 and x32 are listed: their own numbers.
    let i = |name| nr(&t, "x86", name);
    assert_eq!(run(p, AUDIT_ARCH_I386, i("getpid"), [0; 6]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_I386, i("socketcall"), [0; 6]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_I386, i("keyctl"), [0; 6]), EPERM);
    assert_eq!(run(p, AUDIT_ARCH_I386, i("clone"), [CLONE_NEWUSER, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(run(p, AUDIT_ARCH_I386, i("clone"), [0x11, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_I386, 2000, [0; 6]), ENOSYS);
    let x32 = |name| nr(&t, "x32", name);
    assert_eq!(run(p, AUDIT_ARCH_X86_64, x32("getpid"), [0; 6]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_X86_64, x32("keyctl"), [0; 6]), EPERM);
    assert_eq!(run(p, AUDIT_ARCH_X86_64, x32("clone"), [CLONE_NEWUSER, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(run(p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 3000, [0; 6]), ENOSYS);
    // Other architectures: libseccomp's bad-architecture action.
    for arch in [AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, 0] {
        assert_eq!(run(p, arch, 39, [0; 6]), KILL);
    }
    // Names of other families (set_tls) are quiet; names newer than our tables are listed.
    assert!(!c.unknown.iter().any(|n| n == "set_tls" || n == "read"), "{:?}", c.unknown);
}

#[test]
fn docker_default_on_aarch64() {
    let t = target("aarch64");
    let c = compile(&t, &docker("aarch64")).unwrap();
    let p = &c.program;
    let a = |name, args| run(p, AUDIT_ARCH_AARCH64, nr(&t, "aarch64", name), args);
    for name in ["read", "openat", "execve", "getpid", "capset", "setresuid", "chroot"] {
        assert_eq!(a(name, [0; 6]), ALLOW, "{name}");
    }
    for name in ["mount", "keyctl", "kexec_load", "init_module", "bpf", "unshare", "reboot"] {
        assert_eq!(a(name, [0; 6]), EPERM, "{name}");
    }
    assert_eq!(a("clone3", [0; 6]), ENOSYS);
    assert_eq!(a("clone", [CLONE_THREAD_FLAGS, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(a("clone", [CLONE_NEWUSER, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(a("personality", [8, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(a("personality", [9, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, 1000, [0; 6]), ENOSYS);
    // arm (compat) is listed, with its private calls.
    let arm = |name| nr(&t, "arm", name);
    assert_eq!(run(p, AUDIT_ARCH_ARM, arm("getpid"), [0; 6]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_ARM, arm("set_tls"), [0; 6]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_ARM, arm("cacheflush"), [0; 6]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_ARM, arm("keyctl"), [0; 6]), EPERM);
    assert_eq!(run(p, AUDIT_ARCH_ARM, arm("clone"), [CLONE_NEWUSER, 0, 0, 0, 0, 0]), EPERM);
    for arch in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386] {
        assert_eq!(run(p, arch, 39, [0; 6]), KILL);
    }
}

/// Podman's profile (containers/common `pkg/seccomp/seccomp.json`, podman's default
/// capabilities, amd64): default ENOSYS (so no stub), an explicit EPERM list, mount and unshare
/// allowed (podman relies on capabilities and the user namespace), and socket(AF_NETLINK, *,
/// NETLINK_AUDIT) EINVAL without CAP_AUDIT_WRITE through four conditional rules in order.
#[test]
fn podman_default_on_x86_64() {
    let t = target("x86_64");
    let c = compile(&t, &config(include_str!("testdata/podman-default-amd64.json"))).unwrap();
    let p = &c.program;
    let go = |name, args| run(p, AUDIT_ARCH_X86_64, nr(&t, "x86_64", name), args);
    for name in ["read", "mount", "umount2", "unshare", "clone", "clone3", "keyctl", "pivot_root", "chroot"] {
        assert_eq!(go(name, [0; 6]), ALLOW, "{name}");
    }
    for name in
        ["kexec_load", "userfaultfd", "vmsplice", "init_module", "acct", "settimeofday", "bpf", "perf_event_open"]
    {
        assert_eq!(go(name, [0; 6]), EPERM, "{name}");
    }
    // Not named: the default, ENOSYS, below and above the highest named number alike.
    assert_eq!(go("kexec_file_load", [0; 6]), EPERM);
    assert_eq!(go("lookup_dcookie", [0; 6]), EPERM);
    assert_eq!(go("nfsservctl", [0; 6]), EPERM);
    assert_eq!(go("tuxcall", [0; 6]), ENOSYS);
    assert_eq!(go("vserver", [0; 6]), ENOSYS);
    assert_eq!(run(p, AUDIT_ARCH_X86_64, 1000, [0; 6]), ENOSYS);
    assert_eq!(go("socket", [16, 3, 9, 0, 0, 0]), errno(22));
    assert_eq!(go("socket", [16, 3, 0, 0, 0, 0]), ALLOW);
    assert_eq!(go("socket", [2, 1, 9, 0, 0, 0]), ALLOW);
    assert_eq!(go("socket", [2, 1, 0, 0, 0, 0]), ALLOW);
    assert_eq!(go("personality", [0x0040_0000, 0, 0, 0, 0, 0]), ENOSYS);
    let i = |name| nr(&t, "x86", name);
    assert_eq!(run(p, AUDIT_ARCH_I386, i("socketcall"), [0; 6]), ALLOW);
    assert_eq!(run(p, AUDIT_ARCH_I386, i("vm86"), [0; 6]), EPERM);
    eprintln!("x86_64: podman's default profile: {} instructions", p.len());
}

#[test]
fn docker_default_size_and_compile_time() {
    for arch in ["x86_64", "aarch64"] {
        let t = target(arch);
        let s = docker(arch);
        let n = 200;
        let start = Instant::now();
        for _ in 0..n {
            compile(&t, &s).unwrap();
        }
        let per = start.elapsed() / n;
        let c = compile(&t, &s).unwrap();
        eprintln!(
            "{arch}: Docker's default profile: {} instructions ({} bytes), compiled in {per:?}; unknown names: {:?}",
            c.program.len(),
            c.program.len() * 8,
            c.unknown
        );
        assert!(c.program.len() < 1200, "{}", c.program.len());
    }
}

fn rule(names: &[&str], action: &str, errno_ret: Option<u32>, args: &[(u32, &str, u64, u64)]) -> SeccompRule {
    SeccompRule {
        names: names.iter().map(|s| s.to_string()).collect(),
        action: action.to_string(),
        errno_ret,
        args: args
            .iter()
            .map(|&(index, op, value, value_two)| SeccompArg { index, value, value_two, op: op.to_string() })
            .collect(),
    }
}

fn profile(default: &str, errno_ret: Option<u32>, arches: &[&str], syscalls: Vec<SeccompRule>) -> Seccomp {
    Seccomp {
        default_action: default.to_string(),
        default_errno_ret: errno_ret,
        architectures: arches.iter().map(|s| s.to_string()).collect(),
        flags: Vec::new(),
        listener_path: None,
        syscalls,
    }
}

#[test]
fn actions_and_their_values() {
    let t = target("x86_64");
    let s = profile(
        "SCMP_ACT_ALLOW",
        None,
        &[],
        vec![
            rule(&["mkdir"], "SCMP_ACT_ERRNO", None, &[]),
            rule(&["rmdir"], "SCMP_ACT_ERRNO", Some(13), &[]),
            rule(&["chdir"], "SCMP_ACT_KILL", None, &[]),
            rule(&["fchdir"], "SCMP_ACT_KILL_THREAD", None, &[]),
            rule(&["kill"], "SCMP_ACT_KILL_PROCESS", None, &[]),
            rule(&["tkill"], "SCMP_ACT_TRAP", None, &[]),
            rule(&["getpid"], "SCMP_ACT_TRACE", None, &[]),
            rule(&["getppid"], "SCMP_ACT_TRACE", Some(7), &[]),
            rule(&["uname"], "SCMP_ACT_LOG", None, &[]),
        ],
    );
    let p = compile(&t, &s).unwrap().program;
    let go = |name| run(&p, AUDIT_ARCH_X86_64, nr(&t, "x86_64", name), [0; 6]);
    assert_eq!(go("mkdir"), EPERM);
    assert_eq!(go("rmdir"), errno(13));
    assert_eq!(go("chdir"), KILL);
    assert_eq!(go("fchdir"), KILL);
    assert_eq!(go("kill"), RET_KILL_PROCESS);
    assert_eq!(go("tkill"), RET_TRAP);
    assert_eq!(go("getpid"), RET_TRACE | 1);
    assert_eq!(go("getppid"), RET_TRACE | 7);
    assert_eq!(go("uname"), RET_LOG);
    assert_eq!(go("read"), ALLOW);
    // Default ALLOW: no ENOSYS stub; x32 not listed: killed.
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 1000, [0; 6]), ALLOW);
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, nr(&t, "x32", "getpid"), [0; 6]), KILL);
    assert_eq!(run(&p, AUDIT_ARCH_I386, 20, [0; 6]), KILL, "i386 not listed");
}

#[test]
fn default_errno_and_the_stub() {
    let t = target("x86_64");
    let go = |s: &Seccomp, nr: u32| run(&compile(&t, s).unwrap().program, AUDIT_ARCH_X86_64, nr, [0; 6]);
    let getpid = nr(&t, "x86_64", "getpid");
    let allow_getpid = || vec![rule(&["getpid"], "SCMP_ACT_ALLOW", None, &[])];
    // Highest named number: getpid (39): 40 and up are ENOSYS, below is the default.
    let s = profile("SCMP_ACT_ERRNO", Some(13), &[], allow_getpid());
    assert_eq!((go(&s, getpid), go(&s, 3), go(&s, 40), go(&s, 500)), (ALLOW, errno(13), ENOSYS, ENOSYS));
    // defaultErrnoRet ENOSYS (podman's profile): no stub needed, same answer everywhere.
    let s = profile("SCMP_ACT_ERRNO", Some(38), &[], allow_getpid());
    assert_eq!((go(&s, 3), go(&s, 500)), (ENOSYS, ENOSYS));
    // KILL_PROCESS default: the stub too; LOG and TRACE defaults: none.
    let s = profile("SCMP_ACT_KILL_PROCESS", None, &[], allow_getpid());
    assert_eq!((go(&s, 3), go(&s, 500)), (RET_KILL_PROCESS, ENOSYS));
    let s = profile("SCMP_ACT_LOG", None, &[], allow_getpid());
    assert_eq!(go(&s, 500), RET_LOG);
    let s = profile("SCMP_ACT_TRACE", Some(5), &[], allow_getpid());
    assert_eq!(go(&s, 500), RET_TRACE | 5);
    // A rule with the default's action is dropped (runc), but counts for the stub's limit.
    let s = profile(
        "SCMP_ACT_ERRNO",
        None,
        &[],
        vec![rule(&["getpid"], "SCMP_ACT_ALLOW", None, &[]), rule(&["kill"], "SCMP_ACT_ERRNO", Some(1), &[])],
    );
    let kill = nr(&t, "x86_64", "kill");
    assert_eq!((go(&s, kill), go(&s, 61), go(&s, 63)), (EPERM, EPERM, ENOSYS));
}

#[test]
fn rule_order_and_precedence() {
    let t = target("x86_64");
    let x = |name| nr(&t, "x86_64", name);
    // The first matching conditional rule decides.
    let s = profile(
        "SCMP_ACT_ERRNO",
        None,
        &[],
        vec![
            rule(&["ioctl"], "SCMP_ACT_ERRNO", Some(22), &[(1, "SCMP_CMP_EQ", 0x5412, 0)]),
            rule(&["ioctl"], "SCMP_ACT_ALLOW", None, &[(0, "SCMP_CMP_LE", 2, 0)]),
            rule(&["ioctl"], "SCMP_ACT_KILL_PROCESS", None, &[(0, "SCMP_CMP_EQ", 1, 0)]),
        ],
    );
    let p = compile(&t, &s).unwrap().program;
    let io = |a0, a1| run(&p, AUDIT_ARCH_X86_64, x("ioctl"), [a0, a1, 0, 0, 0, 0]);
    assert_eq!(io(1, 0x5412), errno(22));
    assert_eq!(io(1, 0x5413), ALLOW);
    assert_eq!(io(3, 0x5413), EPERM);
    // An unconditional rule overrides conditional ones, before or after it.
    for order in [0, 1] {
        let mut rules = vec![
            rule(&["ioctl"], "SCMP_ACT_ERRNO", Some(22), &[(1, "SCMP_CMP_EQ", 0x5412, 0)]),
            rule(&["ioctl"], "SCMP_ACT_ALLOW", None, &[]),
        ];
        if order == 1 {
            rules.reverse();
        }
        let p = compile(&t, &profile("SCMP_ACT_ERRNO", None, &[], rules)).unwrap().program;
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, x("ioctl"), [1, 0x5412, 0, 0, 0, 0]), ALLOW);
    }
    // Of two unconditional rules the first decides (libseccomp drops the second).
    let rules = vec![rule(&["ioctl"], "SCMP_ACT_ERRNO", Some(22), &[]), rule(&["ioctl"], "SCMP_ACT_ALLOW", None, &[])];
    let p = compile(&t, &profile("SCMP_ACT_ERRNO", None, &[], rules)).unwrap().program;
    assert_eq!(run(&p, AUDIT_ARCH_X86_64, x("ioctl"), [0; 6]), errno(22));
    // Several conditions: AND; the same argument twice: OR (runc).
    let s = profile(
        "SCMP_ACT_ERRNO",
        None,
        &[],
        vec![
            rule(&["mmap"], "SCMP_ACT_ALLOW", None, &[(0, "SCMP_CMP_EQ", 0, 0), (2, "SCMP_CMP_MASKED_EQ", 4, 0)]),
            rule(&["kill"], "SCMP_ACT_ALLOW", None, &[(1, "SCMP_CMP_EQ", 9, 0), (1, "SCMP_CMP_EQ", 15, 0)]),
        ],
    );
    let p = compile(&t, &s).unwrap().program;
    let mm = |a0, a2| run(&p, AUDIT_ARCH_X86_64, x("mmap"), [a0, 4096, a2, 0, 0, 0]);
    assert_eq!((mm(0, 3), mm(0, 7), mm(1, 3)), (ALLOW, EPERM, EPERM));
    let k = |sig| run(&p, AUDIT_ARCH_X86_64, x("kill"), [1, sig, 0, 0, 0, 0]);
    assert_eq!((k(9), k(15), k(2)), (ALLOW, ALLOW, EPERM));
}

/// What the profile says for (abi column, number, args), read directly off the rules.
fn reference(t: &Target, s: &Seccomp, column: &str, nr: u32, args: [u64; 6]) -> u32 {
    let value = |a: &str, e: Option<u32>| match a {
        "SCMP_ACT_ALLOW" => ALLOW,
        "SCMP_ACT_ERRNO" => errno(e.unwrap_or(1)),
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_LOG" => RET_LOG,
        _ => unreachable!(),
    };
    let default = value(&s.default_action, s.default_errno_ret);
    let c = t.table.column(column).unwrap();
    let bits = if column == "x32" { X32_SYSCALL_BIT } else { 0 };
    let name =
        t.table.names().zip(t.table.rows()).find(|(_, r)| r[c] != NONE && number(r[c]) | bits == nr).map(|(n, _)| n);
    let max = t
        .table
        .names()
        .zip(t.table.rows())
        .filter(|(n, r)| r[c] != NONE && s.syscalls.iter().any(|x| x.names.iter().any(|m| m == n)))
        .map(|(_, r)| number(r[c]) | bits)
        .max();
    if matches!(max, Some(m) if nr > m && default != ALLOW && default != RET_LOG && default != ENOSYS) {
        return ENOSYS;
    }
    let Some(name) = name else { return default };
    let holds = |a: &SeccompArg| {
        let v = args[a.index as usize];
        match a.op.as_str() {
            "SCMP_CMP_NE" => v != a.value,
            "SCMP_CMP_LT" => v < a.value,
            "SCMP_CMP_LE" => v <= a.value,
            "SCMP_CMP_EQ" => v == a.value,
            "SCMP_CMP_GE" => v >= a.value,
            "SCMP_CMP_GT" => v > a.value,
            "SCMP_CMP_MASKED_EQ" => v & a.value == a.value_two,
            _ => unreachable!(),
        }
    };
    let mine: Vec<&SeccompRule> = s
        .syscalls
        .iter()
        .filter(|r| r.names.iter().any(|n| n == name) && value(&r.action, r.errno_ret) != default)
        .collect();
    if let Some(r) = mine.iter().find(|r| r.args.is_empty()) {
        return value(&r.action, r.errno_ret);
    }
    for r in mine {
        if r.args.iter().all(holds) {
            return value(&r.action, r.errno_ret);
        }
    }
    default
}

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() % v.len() as u64) as usize]
    }
}

/// Edge values for comparisons: around 0, 2^32 and 2^64, and the profile's own values.
const EDGES: [u64; 10] =
    [0, 1, 2, 0xffff_fffe, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001, 0x8000_0000_0000_0000, u64::MAX - 1, u64::MAX];

#[test]
fn random_profiles_match_a_direct_reading() {
    let t = target("x86_64");
    let names = ["read", "write", "ioctl", "mmap", "kill", "socket", "clone", "personality", "getpid", "prctl"];
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    let actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // 300 rounds natively; the cross runs under qemu-user (armv7 emulates the 64-bit
    // comparisons in software, ~40x slower) take the first 20 of the same sequence.
    let rounds = if cfg!(target_arch = "x86_64") { 300 } else { 20 };
    for round in 0..rounds {
        let default = *rng.pick(&actions);
        let default_errno = if default == "SCMP_ACT_ERRNO" { Some(*rng.pick(&[1u32, 13, 38])) } else { None };
        let mut rules = Vec::new();
        for _ in 0..(rng.next() % 8) {
            let mut args = Vec::new();
            let mut used = Vec::new();
            for _ in 0..(rng.next() % 3) {
                // Distinct indexes (the repeated-index case has its own test).
                let index = (rng.next() % 3) as u32;
                if used.contains(&index) {
                    continue;
                }
                used.push(index);
                args.push((index, *rng.pick(&ops), *rng.pick(&EDGES), *rng.pick(&EDGES)));
            }
            let action = *rng.pick(&actions);
            let e = if action == "SCMP_ACT_ERRNO" { Some(*rng.pick(&[1u32, 13, 22])) } else { None };
            let n = [*rng.pick(&names), *rng.pick(&names)];
            rules.push(rule(&n, action, e, &args));
        }
        let s = profile(default, default_errno, &["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"], rules);
        let p = compile(&t, &s).unwrap().program;
        for column in ["x86_64", "x32"] {
            let bits = if column == "x32" { X32_SYSCALL_BIT } else { 0 };
            for name in names.iter().chain(["close", "mount"].iter()) {
                let n = nr(&t, column, name);
                for _ in 0..12 {
                    let args = [*rng.pick(&EDGES), *rng.pick(&EDGES), *rng.pick(&EDGES), 0, 0, 0];
                    let want = reference(&t, &s, column, n, args);
                    assert_eq!(run(&p, AUDIT_ARCH_X86_64, n, args), want, "round {round} {column} {name} {args:x?}");
                }
            }
            for n in [bits | 500, bits | 1000, bits | 335] {
                assert_eq!(run(&p, AUDIT_ARCH_X86_64, n, [0; 6]), reference(&t, &s, column, n, [0; 6]), "{n:#x}");
            }
        }
    }
}

#[test]
fn comparisons_on_both_halves() {
    let t = target("aarch64");
    let x = nr(&t, "aarch64", "ioctl");
    let values = [0u64, 1, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001, 0x2_0000_0000, 0x1_ffff_ffff, u64::MAX];
    for op in ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT"] {
        for &v in &values {
            let s =
                profile("SCMP_ACT_ERRNO", None, &[], vec![rule(&["ioctl"], "SCMP_ACT_ALLOW", None, &[(5, op, v, 0)])]);
            let p = compile(&t, &s).unwrap().program;
            for &arg in &values {
                let holds = match op {
                    "SCMP_CMP_NE" => arg != v,
                    "SCMP_CMP_LT" => arg < v,
                    "SCMP_CMP_LE" => arg <= v,
                    "SCMP_CMP_EQ" => arg == v,
                    "SCMP_CMP_GE" => arg >= v,
                    _ => arg > v,
                };
                let got = run(&p, AUDIT_ARCH_AARCH64, x, [0, 0, 0, 0, 0, arg]);
                assert_eq!(got, if holds { ALLOW } else { EPERM }, "{arg:#x} {op} {v:#x}");
            }
        }
    }
    // MASKED_EQ with a mask across both halves.
    let s = profile(
        "SCMP_ACT_ERRNO",
        None,
        &[],
        vec![rule(&["ioctl"], "SCMP_ACT_ALLOW", None, &[(1, "SCMP_CMP_MASKED_EQ", 0xff_0000_00ff, 0x12_0000_0034)])],
    );
    let p = compile(&t, &s).unwrap().program;
    let m = |a: u64| run(&p, AUDIT_ARCH_AARCH64, x, [0, a, 0, 0, 0, 0]);
    assert_eq!(
        (m(0x12_0000_0034), m(0xff12_ffff_ff34), m(0x12_0000_0035), m(0x13_0000_0034)),
        (ALLOW, ALLOW, EPERM, EPERM)
    );
}

#[test]
fn architectures_flags_and_errors() {
    let t = target("x86_64");
    let mut s = profile("SCMP_ACT_ALLOW", None, &["SCMP_ARCH_X86_64", "SCMP_ARCH_MIPS", "SCMP_ARCH_AARCH64"], vec![]);
    s.flags = vec!["SECCOMP_FILTER_FLAG_LOG".into(), "SECCOMP_FILTER_FLAG_SPEC_ALLOW".into()];
    let c = compile(&t, &s).unwrap();
    assert_eq!(c.flags, FLAG_LOG | FLAG_SPEC_ALLOW);
    s.flags = vec!["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV".into(), "SECCOMP_FILTER_FLAG_TSYNC".into()];
    assert_eq!(compile(&t, &s).unwrap().flags, 0);
    let err = |s: &Seccomp| compile(&t, s).unwrap_err().to_string();
    s.flags = vec!["SECCOMP_FILTER_FLAG_LOG".into(), "SECCOMP_FILTER_FLAG_NEW_LISTENER".into()];
    assert_eq!(err(&s), "linux.seccomp.flags[1]: unsupported flag \"SECCOMP_FILTER_FLAG_NEW_LISTENER\"");
    let s = profile("SCMP_ACT_ALLOW", None, &["SCMP_ARCH_X86", "SCMP_ARCH_VAX"], vec![]);
    assert_eq!(err(&s), "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\"");
    let s = profile("SCMP_ACT_ERRNO", Some(70000), &[], vec![]);
    assert_eq!(err(&s), "linux.seccomp.defaultErrnoRet: errno 70000 out of range (at most 4095)");
    let s = profile("SCMP_ACT_ALLOW", None, &[], vec![rule(&["read"], "SCMP_ACT_ERRNO", Some(5000), &[])]);
    assert_eq!(err(&s), "linux.seccomp.syscalls[0].errnoRet: errno 5000 out of range (at most 4095)");
    let s = profile(
        "SCMP_ACT_ALLOW",
        None,
        &[],
        vec![
            rule(&["read"], "SCMP_ACT_ALLOW", None, &[]),
            rule(&["read"], "SCMP_ACT_ERRNO", None, &[(0, "SCMP_CMP_FOO", 0, 0)]),
        ],
    );
    assert_eq!(err(&s), "linux.seccomp.syscalls[1].args[0].op: unknown operator \"SCMP_CMP_FOO\"");
    // Unknown names are skipped and listed, the rest of the rule stays.
    let s = profile(
        "SCMP_ACT_ERRNO",
        None,
        &[],
        vec![rule(&["no_such_call", "getpid", "set_tls"], "SCMP_ACT_ALLOW", None, &[])],
    );
    let c = compile(&t, &s).unwrap();
    assert_eq!(c.unknown, ["no_such_call"]);
    assert_eq!(run(&c.program, AUDIT_ARCH_X86_64, 39, [0; 6]), ALLOW);
    // The native ABI is always there; arm has no compat ABI.
    let c = compile(&target("arm"), &profile("SCMP_ACT_ALLOW", None, &["SCMP_ARCH_AARCH64"], vec![])).unwrap();
    assert_eq!(
        (run(&c.program, AUDIT_ARCH_ARM, 20, [0; 6]), run(&c.program, AUDIT_ARCH_AARCH64, 20, [0; 6])),
        (ALLOW, KILL)
    );
}

/// A syscall number no ABI assigns.
const UNASSIGNED: libc::c_long = 1000;

/// Installs Docker's default profile (for this build) on a fresh thread with no_new_privs and
/// checks denied, errno'd and allowed calls there.
#[test]
#[allow(unsafe_code)]
fn install_docker_default_on_a_thread() {
    let Some(t) = super::native() else { return };
    let arch = t.arch.target_arch;
    if arch != "x86_64" && arch != "aarch64" {
        return;
    }
    let c = compile(&t, &docker(arch)).unwrap();
    let bytes = c.bytes();
    let out = std::thread::spawn(move || {
        // SAFETY: prctl/syscall with integer arguments; the filter affects this thread only.
        unsafe {
            assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
            super::set_mode_filter(&bytes, FLAG_SPEC_ALLOW).unwrap();
            let err = |r: libc::c_long| if r < 0 { *libc::__errno_location() } else { 0 };
            let keyctl = err(libc::syscall(libc::SYS_keyctl, 0, 0, 0));
            let unshare = err(libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER));
            let clone3 = err(libc::syscall(libc::SYS_clone3, 0, 0));
            let personality = err(libc::syscall(libc::SYS_personality, 0x0040_0000));
            let vsock = err(libc::syscall(libc::SYS_socket, libc::AF_VSOCK, libc::SOCK_STREAM, 0));
            let newer = err(libc::syscall(UNASSIGNED));
            let getpid = libc::syscall(libc::SYS_getpid);
            (keyctl, unshare, clone3, personality, vsock, newer, getpid)
        }
    })
    .join()
    .unwrap();
    let e = (libc::EPERM, libc::EPERM, libc::ENOSYS, libc::EPERM, libc::EPERM, libc::ENOSYS);
    assert_eq!((out.0, out.1, out.2, out.3, out.4, out.5), e);
    assert_eq!(out.6, std::process::id() as libc::c_long);
}
