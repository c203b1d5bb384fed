//! runtime-spec seccomp profiles (`linux.seccomp` of an OCI bundle's config.json) compiled to
//! classic BPF by our own compiler, with the meaning runc gives them through libseccomp:
//!
//! - The filter covers the build's native ABI and the compatible ones `architectures` lists
//!   (x86_64: `SCMP_ARCH_X86`, `SCMP_ARCH_X32`; aarch64: `SCMP_ARCH_ARM`). Any other
//!   `seccomp_data.arch`, and x32 calls when `SCMP_ARCH_X32` is not listed, get libseccomp's
//!   bad-architecture action, `SCMP_ACT_KILL` (kill the thread). Names of architectures this
//!   build cannot run (`SCMP_ARCH_MIPS`, ...) are accepted and add nothing.
//! - Rules whose action equals `defaultAction` are dropped (runc does so before libseccomp
//!   sees them). The first unconditional rule for a call decides it (libseccomp's db.c: a rule
//!   for a call that has an unconditional one is dropped, and an unconditional rule clears the
//!   call's conditional ones and takes their place); otherwise the call's
//!   conditional rules are tried in the order of config.json and the first that matches
//!   decides; none matching: `defaultAction`. (libseccomp orders overlapping conditional rules
//!   with different actions by its own tree; profiles in the wild do not have them.)
//! - Conditions of one rule are ANDed. Two conditions on the same argument in one rule make one
//!   rule each (ORed), as runc does.
//! - Comparisons are on the full 64-bit argument, both 32-bit halves (the high half of a
//!   32-bit ABI's argument is 0). `SCMP_CMP_MASKED_EQ`: `(arg & value) == valueTwo`.
//! - runc's -ENOSYS stub: unless `defaultAction` is ALLOW, LOG or TRACE, or `defaultErrnoRet`
//!   is ENOSYS, numbers above the highest one the profile names on an ABI get ENOSYS, so that
//!   a C library falls back from calls newer than the profile (clone3, ...).
//! - Names our syscall tables do not know are skipped (runc skips names libseccomp does not
//!   know); they are listed for a debug message. Names of the other family's calls (`set_tls`
//!   on x86_64) are skipped quietly.
//!
//! Layout: per ABI an arch check, then one binary search over the numbers (x32's, which carry
//! bit 30, in the same search), whose leaves are returns or jumps to a call's block of
//! argument checks. Pure code: the unit tests compile for every architecture.

use super::target::{number, Table, Target, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
use super::target::{NONE, X32_SYSCALL_BIT};
use crate::error::{Error, Result};
use crate::runtime_spec::{Seccomp, SeccompArg};

/// BPF_MAXINSNS.
pub const MAX_INSNS: usize = 4096;

/// `SECCOMP_RET_*` values.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// `SECCOMP_FILTER_FLAG_*`.
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;
/// The kernel's MAX_ERRNO: larger values are not errors to the C library.
const MAX_ERRNO: u32 = 4095;

const LD_W_ABS: u16 = 0x20;
const ALU_AND_K: u16 = 0x54;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

pub use super::compile::Insn;

const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

/// A compiled profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    pub program: Vec<Insn>,
    /// `SECCOMP_FILTER_FLAG_*` for seccomp(2).
    pub flags: u32,
    /// Names of `syscalls` our tables do not know, skipped (sorted, once each).
    pub unknown: Vec<String>,
}

impl Compiled {
    /// The program as seccomp(2) reads it.
    pub fn bytes(&self) -> Vec<u8> {
        super::compile::encode(&self.program)
    }
}

/// An ABI of the filter: its `seccomp_data.arch`, the table column and the bits its numbers
/// carry (x32's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Abi {
    scmp: &'static str,
    audit_arch: u32,
    column: &'static str,
    bits: u32,
}

const ABIS: [Abi; 5] = [
    Abi { scmp: "SCMP_ARCH_X86_64", audit_arch: AUDIT_ARCH_X86_64, column: "x86_64", bits: 0 },
    Abi { scmp: "SCMP_ARCH_X32", audit_arch: AUDIT_ARCH_X86_64, column: "x32", bits: X32_SYSCALL_BIT },
    Abi { scmp: "SCMP_ARCH_X86", audit_arch: AUDIT_ARCH_I386, column: "x86", bits: 0 },
    Abi { scmp: "SCMP_ARCH_AARCH64", audit_arch: AUDIT_ARCH_AARCH64, column: "aarch64", bits: 0 },
    Abi { scmp: "SCMP_ARCH_ARM", audit_arch: AUDIT_ARCH_ARM, column: "arm", bits: 0 },
];

/// libseccomp's architecture names that no build of ours runs: accepted, without effect.
const OTHER_ARCHES: [&str; 18] = [
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

/// The native ABI of a build and the ones it may add.
fn abis_of(target_arch: &str) -> Option<(&'static str, &'static [&'static str])> {
    match target_arch {
        "x86_64" => Some(("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"])),
        "aarch64" => Some(("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"])),
        "arm" => Some(("SCMP_ARCH_ARM", &[])),
        _ => None,
    }
}

/// The seccomp return value of `action` (checked by the parser) with `errno_ret`.
fn action_value(action: &str, errno_ret: Option<u32>, at: &str) -> Result<u32> {
    let data = |default: u32| -> Result<u32> {
        let v = errno_ret.unwrap_or(default);
        if v > MAX_ERRNO {
            return Err(Error::msg(format!("{at}: errno {v} out of range (at most {MAX_ERRNO})")));
        }
        Ok(v)
    };
    Ok(match action {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_ERRNO" => RET_ERRNO | data(EPERM)?,
        "SCMP_ACT_TRACE" => RET_TRACE | data(EPERM)?,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        other => return Err(Error::msg(format!("{at}: unsupported action {other:?}"))),
    })
}

/// The filter flags of `flags` (names as runc takes them).
fn filter_flags(flags: &[String]) -> Result<u32> {
    let mut out = 0;
    for (i, f) in flags.iter().enumerate() {
        out |= match f.as_str() {
            // The container child is single-threaded: nothing to synchronize.
            "SECCOMP_FILTER_FLAG_TSYNC" => 0,
            "SECCOMP_FILTER_FLAG_LOG" => FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => FLAG_SPEC_ALLOW,
            // Only meaningful with a notify listener, which is refused; the kernel rejects the
            // flag without one (libseccomp leaves it out then too).
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => 0,
            other => {
                return Err(Error::msg(format!("linux.seccomp.flags[{i}]: unsupported flag {other:?}")));
            }
        };
    }
    Ok(out)
}

/// One argument comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// (mask, datum)
    MaskedEq(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cond {
    index: u32,
    op: Op,
    value: u64,
}

fn cond(a: &SeccompArg, at: &str) -> Result<Cond> {
    if a.index > 5 {
        return Err(Error::msg(format!("{at}.index: must be between 0 and 5: {}", a.index)));
    }
    let (op, value) = match a.op.as_str() {
        "SCMP_CMP_NE" => (Op::Ne, a.value),
        "SCMP_CMP_LT" => (Op::Lt, a.value),
        "SCMP_CMP_LE" => (Op::Le, a.value),
        "SCMP_CMP_EQ" => (Op::Eq, a.value),
        "SCMP_CMP_GE" => (Op::Ge, a.value),
        "SCMP_CMP_GT" => (Op::Gt, a.value),
        "SCMP_CMP_MASKED_EQ" => (Op::MaskedEq(a.value), a.value_two),
        other => return Err(Error::msg(format!("{at}.op: unknown operator {other:?}"))),
    };
    Ok(Cond { index: a.index, op, value })
}

/// What a call of one ABI gets: unconditionally an action, or its conditional rules in order
/// (each the conditions ANDed, and its action).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Always(u32),
    Rules(Vec<(Vec<Cond>, u32)>),
}

/// Where a number range goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    /// The block of argument checks of a call.
    Block(usize),
}

/// The profile as data: per call name (table index) its decision; the ENOSYS stub applies.
struct Resolved {
    /// Per table row.
    decisions: Vec<Option<Decision>>,
    default: u32,
    stub: bool,
    /// Table rows the profile names at all (for the stub's highest number).
    named: Vec<bool>,
    unknown: Vec<String>,
}

fn resolve(table: &Table, s: &Seccomp) -> Result<Resolved> {
    let names: Vec<&str> = table.names().collect();
    let default = action_value(&s.default_action, s.default_errno_ret, "linux.seccomp.defaultErrnoRet")?;
    let stub = !matches!(s.default_action.as_str(), "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG" | "SCMP_ACT_TRACE")
        && s.default_errno_ret != Some(ENOSYS);
    let mut decisions: Vec<Option<Decision>> = vec![None; names.len()];
    let mut named = vec![false; names.len()];
    let mut unknown: Vec<String> = Vec::new();
    for (i, rule) in s.syscalls.iter().enumerate() {
        let at = format!("linux.seccomp.syscalls[{i}]");
        let act = action_value(&rule.action, rule.errno_ret, &format!("{at}.errnoRet"))?;
        let mut conds = Vec::with_capacity(rule.args.len());
        for (j, a) in rule.args.iter().enumerate() {
            conds.push(cond(a, &format!("{at}.args[{j}]"))?);
        }
        // runc: the same argument twice in one rule makes one rule per condition.
        let repeated = conds.iter().enumerate().any(|(j, c)| conds[..j].iter().any(|d| d.index == c.index));
        let alternatives: Vec<Vec<Cond>> =
            if repeated { conds.iter().map(|c| vec![*c]).collect() } else { vec![conds] };
        for name in &rule.names {
            let Ok(row) = names.binary_search(&name.as_str()) else {
                if !table.is_foreign(name) && !unknown.contains(name) {
                    unknown.push(name.clone());
                }
                continue;
            };
            named[row] = true;
            if act == default {
                continue;
            }
            let d = &mut decisions[row];
            match (d.as_mut(), alternatives.first().map_or(true, Vec::is_empty)) {
                (Some(Decision::Always(_)), _) => {}
                (_, true) => *d = Some(Decision::Always(act)),
                (Some(Decision::Rules(r)), false) => r.extend(alternatives.iter().map(|c| (c.clone(), act))),
                (None, false) => *d = Some(Decision::Rules(alternatives.iter().map(|c| (c.clone(), act)).collect())),
            }
        }
    }
    unknown.sort();
    Ok(Resolved { decisions, default, stub, named, unknown })
}

/// The ABIs of the filter for `target_arch`: the native one, then those `architectures` lists
/// that the build runs, in the order of `ABIS`.
fn selected_abis(target_arch: &str, architectures: &[String]) -> Result<Vec<Abi>> {
    let (native, compat) =
        abis_of(target_arch).ok_or_else(|| Error::msg(format!("linux.seccomp: not supported on {target_arch}")))?;
    let mut wanted = vec![native];
    for (i, a) in architectures.iter().enumerate() {
        let a = if a == "SCMP_ARCH_NATIVE" { native } else { a.as_str() };
        if compat.contains(&a) {
            if !wanted.contains(&a) {
                wanted.push(a);
            }
        } else if a != native && !ABIS.iter().any(|x| x.scmp == a) && !OTHER_ARCHES.contains(&a) {
            return Err(Error::msg(format!("linux.seccomp.architectures[{i}]: unknown architecture {a:?}")));
        }
    }
    Ok(ABIS.iter().copied().filter(|x| wanted.contains(&x.scmp)).collect())
}

/// Compiles `s` for the build `t` describes (its table; `t.arch.target_arch`).
pub fn compile(t: &Target, s: &Seccomp) -> Result<Compiled> {
    let flags = filter_flags(&s.flags)?;
    let abis = selected_abis(t.arch.target_arch, &s.architectures)?;
    let r = resolve(t.table, s)?;
    let mut p = vec![insn(LD_W_ABS, 0, 0, OFF_ARCH)];
    let mut arches: Vec<u32> = Vec::new();
    for a in &abis {
        if !arches.contains(&a.audit_arch) {
            arches.push(a.audit_arch);
        }
    }
    for arch in arches {
        let mine: Vec<Abi> = abis.iter().copied().filter(|a| a.audit_arch == arch).collect();
        let section = section(t.table, &r, arch, &mine)?;
        // Not this arch: over the section, to the next check (A still holds the arch).
        p.push(insn(JMP_JEQ_K, 1, 0, arch));
        p.push(insn(JMP_JA, 0, 0, section.len() as u32));
        p.extend(section);
    }
    // libseccomp's default bad-architecture action.
    p.push(insn(RET_K, 0, 0, RET_KILL_THREAD));
    if p.len() > MAX_INSNS {
        return Err(Error::msg(format!(
            "linux.seccomp: the filter has {} instructions, more than the kernel's {MAX_INSNS}",
            p.len()
        )));
    }
    Ok(Compiled { program: p, flags, unknown: r.unknown })
}

/// The code of one `seccomp_data.arch`: load the number, search, blocks.
fn section(table: &Table, r: &Resolved, arch: u32, abis: &[Abi]) -> Result<Vec<Insn>> {
    let x86_64 = arch == AUDIT_ARCH_X86_64;
    // (number, leaf) of every named call of these ABIs; blocks numbered as they come.
    let mut points: Vec<(u32, Leaf)> = Vec::new();
    let mut blocks: Vec<&Vec<(Vec<Cond>, u32)>> = Vec::new();
    // Highest named number per ABI (the ENOSYS stub), and where each ABI's numbers end.
    let mut ranges: Vec<(u32, u32, Option<u32>)> = Vec::new();
    for abi in abis {
        let column = table.column(abi.column).map_err(Error::msg)?;
        let mut max: Option<u32> = None;
        for (row, nrs) in table.rows().enumerate() {
            let n = nrs.get(column).copied().unwrap_or(NONE);
            if n == NONE {
                continue;
            }
            let nr = number(n) | abi.bits;
            if r.named[row] {
                max = Some(max.map_or(nr, |m| m.max(nr)));
            }
            match &r.decisions[row] {
                None => {}
                Some(Decision::Always(a)) => points.push((nr, Leaf::Ret(*a))),
                Some(Decision::Rules(rules)) => {
                    points.push((nr, Leaf::Block(blocks.len())));
                    blocks.push(rules);
                }
            }
        }
        let (lo, hi) = if abi.bits != 0 {
            (abi.bits, u32::MAX)
        } else if x86_64 {
            (0, X32_SYSCALL_BIT - 1)
        } else {
            (0, u32::MAX)
        };
        ranges.push((lo, hi, max.filter(|_| r.stub)));
    }
    points.sort_by_key(|(nr, _)| *nr);
    for w in points.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(Error::msg(format!("seccomp: syscall number {:#x} listed twice", w[0].0)));
        }
    }
    // Intervals over [0, 2^32): each named number its leaf; the rest the default, ENOSYS above
    // the stub's limit, and on x86_64 without x32 the bad-architecture action for x32 numbers.
    let mut iv: Vec<(u32, Leaf)> = Vec::new();
    let push = |iv: &mut Vec<(u32, Leaf)>, start: u32, leaf: Leaf| match iv.last() {
        Some((_, l)) if *l == leaf => {}
        _ => iv.push((start, leaf)),
    };
    let filler = |nr: u32| -> Leaf {
        match ranges.iter().find(|(lo, hi, _)| (*lo..=*hi).contains(&nr)) {
            Some((_, _, Some(max))) if nr > *max => Leaf::Ret(RET_ERRNO | ENOSYS),
            Some(_) => Leaf::Ret(r.default),
            None => Leaf::Ret(RET_KILL_THREAD),
        }
    };
    // Boundaries where the filler changes.
    let mut cuts: Vec<u32> = vec![0];
    for (lo, hi, max) in &ranges {
        cuts.push(*lo);
        if let Some(next) = hi.checked_add(1) {
            cuts.push(next);
        }
        if let Some(m) = max.and_then(|m| m.checked_add(1)) {
            cuts.push(m);
        }
    }
    if x86_64 && !abis.iter().any(|a| a.bits != 0) {
        cuts.push(X32_SYSCALL_BIT);
    }
    for (nr, _) in &points {
        cuts.push(*nr);
        if let Some(next) = nr.checked_add(1) {
            cuts.push(next);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut pi = 0;
    for &c in &cuts {
        while pi < points.len() && points[pi].0 < c {
            pi += 1;
        }
        let leaf = match points.get(pi) {
            Some((nr, leaf)) if *nr == c => *leaf,
            _ => filler(c),
        };
        push(&mut iv, c, leaf);
    }
    let mut code = vec![insn(LD_W_ABS, 0, 0, OFF_NR)];
    let mut jumps: Vec<(usize, usize)> = Vec::new();
    tree(&iv, &mut code, &mut jumps)?;
    let mut starts = Vec::with_capacity(blocks.len());
    for rules in &blocks {
        starts.push(code.len());
        code.extend(block(rules, r.default)?);
    }
    for (at, b) in jumps {
        code[at].k = (starts[b] - at - 1) as u32;
    }
    Ok(code)
}

/// The binary search over `iv` (sorted starts): `jge` on the middle start; a leaf is a `ret`
/// or a `ja` to its block (recorded in `jumps` as (instruction, block)). A left half longer
/// than a conditional jump reaches gets a `ja` bridge.
fn tree(iv: &[(u32, Leaf)], code: &mut Vec<Insn>, jumps: &mut Vec<(usize, usize)>) -> Result<()> {
    match iv {
        [] => Err(Error::msg("seccomp: empty interval list")),
        [(_, Leaf::Ret(a))] => {
            code.push(insn(RET_K, 0, 0, *a));
            Ok(())
        }
        [(_, Leaf::Block(b))] => {
            jumps.push((code.len(), *b));
            code.push(insn(JMP_JA, 0, 0, 0));
            Ok(())
        }
        _ => {
            let mid = iv.len() / 2;
            let mut left = Vec::new();
            let mut left_jumps = Vec::new();
            tree(&iv[..mid], &mut left, &mut left_jumps)?;
            match u8::try_from(left.len()) {
                Ok(skip) => code.push(insn(JMP_JGE_K, skip, 0, iv[mid].0)),
                Err(_) => {
                    code.push(insn(JMP_JGE_K, 0, 1, iv[mid].0));
                    code.push(insn(JMP_JA, 0, 0, left.len() as u32));
                }
            }
            let base = code.len();
            jumps.extend(left_jumps.into_iter().map(|(at, b)| (at + base, b)));
            code.extend(left);
            tree(&iv[mid..], code, jumps)
        }
    }
}

/// The argument checks of one call: each rule's conditions (a failed one jumps to the next
/// rule), its action; after the last rule the default.
fn block(rules: &[(Vec<Cond>, u32)], default: u32) -> Result<Vec<Insn>> {
    let mut out = Vec::new();
    for (conds, act) in rules {
        // Jumps to the end of this rule are marked FAIL and resolved once its length is known.
        let mut code: Vec<(Insn, Fail)> = Vec::new();
        for c in conds {
            condition(c, &mut code);
        }
        code.push((insn(RET_K, 0, 0, *act), Fail::No));
        let n = code.len();
        for (i, (mut ins, fail)) in code.into_iter().enumerate() {
            let skip = u8::try_from(n - i - 1).map_err(|_| Error::msg("seccomp: a rule too long"))?;
            match fail {
                Fail::No => {}
                Fail::True => ins.jt = skip,
                Fail::False => ins.jf = skip,
            }
            out.push(ins);
        }
    }
    out.push(insn(RET_K, 0, 0, default));
    Ok(out)
}

/// Which branch of a conditional jump leaves the rule (to the next one).
#[derive(Clone, Copy)]
enum Fail {
    No,
    True,
    False,
}

/// The code of one condition: falls through when it holds, jumps to the rule's end when not.
/// Little endian: the low half of args[i] at 16 + 8i, the high half 4 bytes on.
fn condition(c: &Cond, code: &mut Vec<(Insn, Fail)>) {
    let lo_off = OFF_ARGS + 8 * c.index;
    let hi_off = lo_off + 4;
    let (vh, vl) = ((c.value >> 32) as u32, c.value as u32);
    let ld = |off| (insn(LD_W_ABS, 0, 0, off), Fail::No);
    match c.op {
        Op::Eq => code.extend([
            ld(hi_off),
            (insn(JMP_JEQ_K, 0, 0, vh), Fail::False),
            ld(lo_off),
            (insn(JMP_JEQ_K, 0, 0, vl), Fail::False),
        ]),
        Op::MaskedEq(mask) => code.extend([
            ld(hi_off),
            (insn(ALU_AND_K, 0, 0, (mask >> 32) as u32), Fail::No),
            (insn(JMP_JEQ_K, 0, 0, vh), Fail::False),
            ld(lo_off),
            (insn(ALU_AND_K, 0, 0, mask as u32), Fail::No),
            (insn(JMP_JEQ_K, 0, 0, vl), Fail::False),
        ]),
        // Holds when either half differs.
        Op::Ne => code.extend([
            ld(hi_off),
            (insn(JMP_JEQ_K, 0, 2, vh), Fail::No),
            ld(lo_off),
            (insn(JMP_JEQ_K, 0, 0, vl), Fail::True),
        ]),
        // hi > vh, or hi == vh and lo > vl (>= for Ge).
        Op::Gt | Op::Ge => code.extend([
            ld(hi_off),
            (insn(JMP_JGT_K, 3, 0, vh), Fail::No),
            (insn(JMP_JEQ_K, 0, 0, vh), Fail::False),
            ld(lo_off),
            (insn(if c.op == Op::Gt { JMP_JGT_K } else { JMP_JGE_K }, 0, 0, vl), Fail::False),
        ]),
        // hi < vh, or hi == vh and lo < vl (<= for Le): the negations of Ge and Gt.
        Op::Lt | Op::Le => code.extend([
            ld(hi_off),
            (insn(JMP_JGE_K, 0, 3, vh), Fail::No),
            (insn(JMP_JEQ_K, 0, 0, vh), Fail::False),
            ld(lo_off),
            (insn(if c.op == Op::Lt { JMP_JGE_K } else { JMP_JGT_K }, 0, 0, vl), Fail::True),
        ]),
    }
}
