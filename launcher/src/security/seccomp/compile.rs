//! The seccomp compiler: policy words → per-syscall actions → one classic BPF program (arch
//! check, then a binary search over sorted syscall numbers per ABI). Pure code, shared with
//! build.rs, which compiles the default filter at build time; no dependency but std.

use super::groups::{ALWAYS, GROUPS, KNOWN_LIMIT, NSPAWN_ALLOW};
use super::syscalls::{NAMES, NUMBERS};

/// `seccomp_data.arch` values.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// x32 syscalls arrive on AUDIT_ARCH_X86_64 with this bit set in the number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// No number on this ABI (in [`NUMBERS`]).
pub const NONE: u16 = u16::MAX;
/// BPF_MAXINSNS.
pub const MAX_INSNS: usize = 4096;

const EPERM: u16 = 1;
const ENOSYS: u16 = 38;
const EAFNOSUPPORT: u16 = 97;
const AF_NETLINK: u32 = 16;
const NETLINK_AUDIT: u32 = 9;

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;

/// Offsets in `struct seccomp_data`: nr, arch, then the low 32 bits of args[0] and args[2]
/// (little endian; the kernel reads socket()'s int arguments as 32 bits).
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG0: u32 = 16;
const OFF_ARG1: u32 = 24;
const OFF_ARG2: u32 = 32;
const JMP_JSET_K: u16 = 0x45;
const EINVAL: u16 = 22;
/// `O_DSYNC`, a bit of `O_SYNC` too (`__O_SYNC | O_DSYNC`).
const O_DSYNC: u32 = 0x1000;

/// What one syscall gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    Errno(u16),
    /// socket(): EAFNOSUPPORT for (AF_NETLINK, *, NETLINK_AUDIT), else allowed (true) or EPERM.
    Socket(bool),
    /// open()/openat() under `--suppress-sync=yes`: EINVAL when the flags (the low 32 bits of
    /// the argument at this offset of `seccomp_data`) ask for O_SYNC or O_DSYNC, else allowed.
    NoSyncOpen(u32),
}

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

/// The syscall names in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    NAMES.split(' ').filter(|n| !n.is_empty())
}

/// Known to the policy (EPERM when not allowed) rather than new (ENOSYS).
pub fn is_known(index: usize) -> bool {
    let [x64, i386, _] = NUMBERS[index];
    let nr = if x64 != NONE { x64 } else { i386 };
    nr != NONE && nr < KNOWN_LIMIT
}

/// Name → table index, by binary search (the table is sorted by name).
struct Index(Vec<&'static str>);

impl Index {
    fn new() -> Index {
        Index(names().collect())
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.0.binary_search(&name).ok()
    }
}

fn group(name: &str) -> Option<&'static str> {
    GROUPS.iter().find(|(g, _)| *g == name).map(|(_, members)| *members)
}

/// A name the policy data mentions (a syscall of another architecture: accepted, has no
/// number here).
fn named_by_policy(name: &str) -> bool {
    let lists = GROUPS.iter().map(|(_, m)| *m).chain(NSPAWN_ALLOW.iter().map(|(_, m)| *m));
    lists.flat_map(str::split_ascii_whitespace).any(|w| w == name)
}

/// Marks `item` (a syscall or `@group`, expanded recursively) in `set`. `word` is the user's
/// word for error messages, None for the built-in policy.
fn mark(index: &Index, item: &str, set: &mut [bool], word: Option<&str>, depth: u8) -> Result<(), String> {
    if item == "@known" {
        for (i, s) in set.iter_mut().enumerate() {
            *s |= is_known(i);
        }
        return Ok(());
    }
    if item.starts_with('@') {
        let members = match group(item) {
            Some(m) if depth < 4 => m,
            _ => return Err(format!("--system-call-filter={}: unknown system call group", word.unwrap_or(item))),
        };
        for m in members.split_ascii_whitespace() {
            mark(index, m, set, word, depth + 1)?;
        }
        return Ok(());
    }
    match index.get(item) {
        Some(i) => set[i] = true,
        None if word.is_none() || named_by_policy(item) => {}
        None => return Err(format!("--system-call-filter={}: unknown system call", word.unwrap_or(item))),
    }
    Ok(())
}

/// The action of every syscall of the table: nspawn's allow list gated on `caps` (retained
/// capability mask), plus the `--system-call-filter=` words (`~` prefix: deny; the deny list
/// wins). Unknown words are errors.
pub fn resolve(caps: u64, words: &[&str]) -> Result<Vec<Action>, String> {
    let index = Index::new();
    let n = NUMBERS.len();
    let (mut allow, mut deny) = (vec![false; n], vec![false; n]);
    for (cap, item) in NSPAWN_ALLOW {
        if *cap == ALWAYS || caps & (1u64 << cap) != 0 {
            for name in item.split_ascii_whitespace() {
                mark(&index, name, &mut allow, None, 0)?;
            }
        }
    }
    for word in words {
        match word.strip_prefix('~') {
            Some(item) => mark(&index, item, &mut deny, Some(word), 0)?,
            None => mark(&index, word, &mut allow, Some(word), 0)?,
        }
    }
    let socket = index.get("socket");
    Ok((0..n)
        .map(|i| {
            let allowed = allow[i] && !deny[i];
            if Some(i) == socket {
                Action::Socket(allowed)
            } else if allowed {
                Action::Allow
            } else if deny[i] || is_known(i) {
                Action::Errno(EPERM)
            } else {
                Action::Errno(ENOSYS)
            }
        })
        .collect())
}

/// (number, action) of one ABI, sorted: `abi` 0 = x86_64 (with x32 folded in, bit set), 1 = i386.
/// Errors when two calls share a number.
pub fn rules(actions: &[Action], abi: usize) -> Result<Vec<(u32, Action)>, String> {
    // Numbers are below 1024 on every ABI (checked): bucket them instead of sorting.
    let mut slots: Vec<Option<Action>> = vec![None; 2048];
    for (nrs, act) in NUMBERS.iter().zip(actions) {
        let x32 = if abi == 0 { nrs[2] } else { NONE };
        for (nr, base) in [(nrs[abi], 0), (x32, 1024)] {
            if nr == NONE {
                continue;
            }
            match slots.get_mut(base + usize::from(nr)) {
                Some(s @ None) if nr < 1024 => *s = Some(*act),
                _ => return Err(format!("syscall number {nr} listed twice or above 1023")),
            }
        }
    }
    let number = |i: usize| if i < 1024 { i as u32 } else { (i - 1024) as u32 | X32_SYSCALL_BIT };
    Ok(slots.iter().enumerate().filter_map(|(i, s)| s.map(|a| (number(i), a))).collect())
}

/// Maximal runs of equal action covering 0..=u32::MAX: (first number, action); numbers without
/// a rule get ENOSYS. Socket rules stay single.
fn intervals(rules: &[(u32, Action)]) -> Result<Vec<(u32, Action)>, String> {
    let mut out: Vec<(u32, Action)> = Vec::new();
    let mut push = |start: u32, act: Action| match out.last() {
        Some(&(_, last)) if last == act && !matches!(act, Action::Socket(_)) => {}
        _ => out.push((start, act)),
    };
    let mut next = 0u64;
    for &(nr, act) in rules {
        if u64::from(nr) < next {
            return Err(format!("rules out of order at {nr}"));
        }
        if u64::from(nr) > next {
            push(next as u32, Action::Errno(ENOSYS));
        }
        push(nr, act);
        next = u64::from(nr) + 1;
    }
    if next <= u64::from(u32::MAX) {
        push(next as u32, Action::Errno(ENOSYS));
    }
    Ok(out)
}

fn ret(act: Action) -> Vec<Insn> {
    let errno = |e: u16| insn(RET_K, 0, 0, RET_ERRNO | u32::from(e));
    let otherwise = |allowed: bool| if allowed { insn(RET_K, 0, 0, RET_ALLOW) } else { errno(EPERM) };
    match act {
        Action::Allow => vec![insn(RET_K, 0, 0, RET_ALLOW)],
        Action::Errno(e) => vec![errno(e)],
        Action::Socket(allowed) => vec![
            insn(LD_W_ABS, 0, 0, OFF_ARG0),
            insn(JMP_JEQ_K, 0, 3, AF_NETLINK),
            insn(LD_W_ABS, 0, 0, OFF_ARG2),
            insn(JMP_JEQ_K, 0, 1, NETLINK_AUDIT),
            errno(EAFNOSUPPORT),
            otherwise(allowed),
        ],
        Action::NoSyncOpen(off) => {
            vec![insn(LD_W_ABS, 0, 0, off), insn(JMP_JSET_K, 0, 1, O_DSYNC), errno(EINVAL), otherwise(true)]
        }
    }
}

/// Binary search over intervals, with the syscall number in A. Layout per node:
/// `jge k` (true: right half) / left half / right half; a `ja` bridges left halves over 255.
fn tree(iv: &[(u32, Action)]) -> Vec<Insn> {
    if iv.len() == 1 {
        return ret(iv[0].1);
    }
    let mid = iv.len() / 2;
    let (left, right) = (tree(&iv[..mid]), tree(&iv[mid..]));
    let mut out = Vec::with_capacity(left.len() + right.len() + 2);
    match u8::try_from(left.len()) {
        Ok(skip) => out.push(insn(JMP_JGE_K, skip, 0, iv[mid].0)),
        Err(_) => {
            out.push(insn(JMP_JGE_K, 0, 1, iv[mid].0));
            out.push(insn(JMP_JA, 0, 0, left.len() as u32));
        }
    }
    out.extend(left);
    out.extend(right);
    out
}

/// The whole program: x86_64 (and x32) first, then i386; any other arch gets ENOSYS.
pub fn program(x86_64: &[(u32, Action)], i386: &[(u32, Action)]) -> Result<Vec<Insn>, String> {
    let t64 = tree(&intervals(x86_64)?);
    let t32 = tree(&intervals(i386)?);
    let mut p = vec![
        insn(LD_W_ABS, 0, 0, OFF_ARCH),
        insn(JMP_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        insn(JMP_JA, 0, 0, 1 + t64.len() as u32),
        insn(LD_W_ABS, 0, 0, OFF_NR),
    ];
    p.extend(t64);
    p.push(insn(JMP_JEQ_K, 1, 0, AUDIT_ARCH_I386));
    p.extend(ret(Action::Errno(ENOSYS)));
    p.push(insn(LD_W_ABS, 0, 0, OFF_NR));
    p.extend(t32);
    if p.len() > MAX_INSNS {
        return Err(format!("seccomp filter too large: {} instructions (at most {MAX_INSNS})", p.len()));
    }
    Ok(p)
}

/// `struct sock_filter` records, native (little) endian, as seccomp(2) reads them.
pub fn encode(p: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len() * 8);
    for i in p {
        out.extend_from_slice(&i.code.to_le_bytes());
        out.extend_from_slice(&[i.jt, i.jf]);
        out.extend_from_slice(&i.k.to_le_bytes());
    }
    out
}

/// Policy to program bytes in one step.
pub fn compile(caps: u64, words: &[&str]) -> Result<Vec<u8>, String> {
    let actions = resolve(caps, words)?;
    Ok(encode(&program(&rules(&actions, 0)?, &rules(&actions, 1)?)?))
}

/// `--suppress-sync=yes` on top of `actions` (nspawn's `seccomp_suppress_sync()`): the @sync
/// calls succeed without doing anything (ERRNO(0)), open() and openat() with O_SYNC or O_DSYNC
/// fail with EINVAL. `None` for `actions`: everything else allowed (SYSTEMD_SECCOMP=0).
pub fn compile_suppressing_sync(actions: Option<Vec<Action>>) -> Result<Vec<u8>, String> {
    let mut actions = actions.unwrap_or_else(|| vec![Action::Allow; NUMBERS.len()]);
    suppress_sync(&mut actions)?;
    Ok(encode(&program(&rules(&actions, 0)?, &rules(&actions, 1)?)?))
}

/// The actions of [`compile_suppressing_sync`], applied to a policy table.
pub fn suppress_sync(actions: &mut [Action]) -> Result<(), String> {
    let index = Index::new();
    let mut sync = vec![false; NUMBERS.len()];
    mark(&index, "@sync", &mut sync, None, 0)?;
    for (a, s) in actions.iter_mut().zip(&sync) {
        if *s {
            *a = Action::Errno(0);
        }
    }
    for (name, off) in [("open", OFF_ARG1), ("openat", OFF_ARG2)] {
        if let Some(i) = index.get(name) {
            if actions[i] == Action::Allow {
                actions[i] = Action::NoSyncOpen(off);
            }
        }
    }
    Ok(())
}
