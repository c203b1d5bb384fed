//! The seccomp compiler: policy words → per-syscall actions → one classic BPF program (an arch
//! check per ABI of the build, then a binary search over that ABI's sorted syscall numbers,
//! whose compares jump to shared return blocks).
//! Pure code over a [`Target`] (table, policy, ABIs), shared with build.rs, which compiles the
//! default filter of the *target* at build time; no dependency but std.

use super::groups::ALWAYS;
use super::target::{is_known, number, Abi, Table, Target, ARM_NR_BASE, ARM_PRIVATE, GROUP, NONE};

/// BPF_MAXINSNS.
pub const MAX_INSNS: usize = 4096;

// errno values, address family and open flags: the asm-generic ones, which x86 and arm share
// (alpha, mips, parisc and sparc differ; spawnbox has no filter there).
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

/// Name → table index, by binary search (the table is sorted by name).
struct Index(Vec<&'static str>);

impl Index {
    fn new(table: &Table) -> Index {
        Index(table.names().collect())
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.0.binary_search(&name).ok()
    }
}

/// Marks `members` (a policy run: table indices and groups, expanded) in `set`.
fn mark_members(t: &Target, members: &[u16], set: &mut [bool], depth: u8) -> Result<(), String> {
    for &m in members {
        if m & GROUP == 0 {
            if let Some(s) = set.get_mut(usize::from(m)) {
                *s = true;
            }
            continue;
        }
        match t.policy.group_at(m & !GROUP) {
            Some(g) if depth < 4 => mark_members(t, g, set, depth + 1)?,
            _ => return Err(format!("seccomp policy: bad group reference {m:#x}")),
        }
    }
    Ok(())
}

/// Marks the user's `item` (`word` less its `~`: a syscall, `@group` or `@known`) in `set`.
fn mark(t: &Target, index: &Index, item: &str, set: &mut [bool], word: &str) -> Result<(), String> {
    if item == "@known" {
        for (s, row) in set.iter_mut().zip(t.table.rows()) {
            *s |= is_known(row);
        }
        return Ok(());
    }
    if item.starts_with('@') {
        let members = t.policy.group(item);
        let members = members.ok_or_else(|| format!("--system-call-filter={word}: unknown system call group"))?;
        return mark_members(t, members, set, 0);
    }
    match index.get(item) {
        Some(i) => {
            if let Some(s) = set.get_mut(i) {
                *s = true;
            }
        }
        // A call of other architectures: accepted, has no number here.
        None if t.table.is_foreign(item) || t.policy.is_foreign(item) => {}
        None => return Err(format!("--system-call-filter={word}: unknown system call")),
    }
    Ok(())
}

/// The syscalls `item` (a name or `@group`) marks, as a table-long set (for the tests).
#[cfg(test)]
pub fn members(t: &Target, item: &str) -> Result<Vec<bool>, String> {
    let mut set = vec![false; t.table.len()];
    mark(t, &Index::new(t.table), item, &mut set, item)?;
    Ok(set)
}

/// The action of every syscall of the table: nspawn's allow list gated on `caps` (retained
/// capability mask), plus the `--system-call-filter=` words (`~` prefix: deny; the deny list
/// wins). Unknown words are errors; names of other architectures are accepted and do nothing.
pub fn resolve(t: &Target, caps: u64, words: &[&str]) -> Result<Vec<Action>, String> {
    let index = Index::new(t.table);
    let n = t.table.len();
    let (mut allow, mut deny) = (vec![false; n], vec![false; n]);
    for (cap, members) in t.policy.allow() {
        if cap == u16::from(ALWAYS) || caps & 1u64.checked_shl(u32::from(cap)).unwrap_or(0) != 0 {
            mark_members(t, members, &mut allow, 0)?;
        }
    }
    for word in words {
        match word.strip_prefix('~') {
            Some(item) => mark(t, &index, item, &mut deny, word)?,
            None => mark(t, &index, word, &mut allow, word)?,
        }
    }
    let socket = index.get("socket");
    Ok(t.table
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let allowed = allow[i] && !deny[i];
            if Some(i) == socket {
                Action::Socket(allowed)
            } else if allowed {
                Action::Allow
            } else if deny[i] || is_known(row) {
                Action::Errno(EPERM)
            } else {
                Action::Errno(ENOSYS)
            }
        })
        .collect())
}

/// (number, action) of one ABI, sorted by number; `actions` has one entry per table name.
/// Errors when two calls share a number.
pub fn rules(table: &Table, abi: &Abi, actions: &[Action]) -> Result<Vec<(u32, Action)>, String> {
    // Numbers are below 1024 on every ABI, arm's private calls below ARM_NR_BASE + 16 (checked):
    // bucket them instead of sorting (no sort code in the binary). The columns of an ABI come
    // in increasing order of their bits, so their runs follow each other (intervals() checks).
    const PLAIN: usize = 1024;
    const PRIVATE: usize = 16;
    let slot_number = |i: usize| if i < PLAIN { i as u32 } else { ARM_NR_BASE + (i - PLAIN) as u32 };
    let mut out = Vec::with_capacity(actions.len());
    for &(name, bits) in abi.columns {
        let column = table.column(name)?;
        let mut slots: Vec<Option<Action>> = vec![None; PLAIN + PRIVATE];
        for (row, act) in table.rows().zip(actions) {
            let nr = row.get(column).copied().unwrap_or(NONE);
            if nr == NONE {
                continue;
            }
            let slot = match nr.checked_sub(ARM_PRIVATE) {
                Some(k) => PLAIN + usize::from(k),
                None if usize::from(nr) < PLAIN => usize::from(nr),
                None => PLAIN + PRIVATE,
            };
            match slots.get_mut(slot) {
                Some(s @ None) => *s = Some(*act),
                _ => return Err(format!("syscall number {:#x} listed twice or out of range", number(nr))),
            }
        }
        out.extend(slots.iter().enumerate().filter_map(|(i, s)| s.map(|a| (slot_number(i) | bits, a))));
    }
    Ok(out)
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

/// Intervals searched by one [`chunk`]: its jumps to its return blocks stay within the 255
/// instructions a conditional jump reaches (127 compares and a few blocks).
const CHUNK: usize = 128;

/// Binary search over intervals, with the syscall number in A. Layout per node:
/// `jge k` (true: right half) / left half / right half; a `ja` bridges left halves over 255.
/// Up to [`CHUNK`] intervals are one [`chunk`].
fn tree(iv: &[(u32, Action)]) -> Result<Vec<Insn>, String> {
    if iv.len() <= CHUNK {
        return chunk(iv);
    }
    let mid = iv.len() / 2;
    let (left, right) = (tree(&iv[..mid])?, tree(&iv[mid..])?);
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
    Ok(out)
}

/// The binary search of a few intervals whose leaves are no instructions of their own: the
/// compares jump straight to one return block per action, placed after the search. Half the
/// instructions of a search with a return per leaf; the kernel converts, JITs and checks the
/// filter at every install in time that grows with its length.
fn chunk(iv: &[(u32, Action)]) -> Result<Vec<Insn>, String> {
    if iv.len() == 1 {
        return Ok(ret(iv[0].1));
    }
    let mut actions: Vec<Action> = Vec::new();
    for &(_, a) in iv {
        if !actions.contains(&a) {
            actions.push(a);
        }
    }
    // (compare's index, its true branch?, action's index): jumps to a return block.
    let mut to_block: Vec<(usize, bool, usize)> = Vec::new();
    let mut code = Vec::new();
    search(iv, &actions, &mut code, &mut to_block)?;
    let mut starts = Vec::with_capacity(actions.len());
    for &a in &actions {
        starts.push(code.len());
        code.extend(ret(a));
    }
    for (at, branch, block) in to_block {
        let skip = near(starts[block] - at - 1)?;
        if branch {
            code[at].jt = skip;
        } else {
            code[at].jf = skip;
        }
    }
    Ok(code)
}

/// The compares of [`chunk`] (at least two intervals): a leaf is a jump to its action's block.
fn search(
    iv: &[(u32, Action)],
    actions: &[Action],
    code: &mut Vec<Insn>,
    to_block: &mut Vec<(usize, bool, usize)>,
) -> Result<(), String> {
    let block = |a: Action| actions.iter().position(|b| *b == a).unwrap_or(0);
    let mid = iv.len() / 2;
    let at = code.len();
    code.push(insn(JMP_JGE_K, 0, 0, iv[mid].0));
    match &iv[..mid] {
        [(_, a)] => to_block.push((at, false, block(*a))),
        // Falls through (jf 0) into the left half.
        left => search(left, actions, code, to_block)?,
    }
    match &iv[mid..] {
        [(_, a)] => to_block.push((at, true, block(*a))),
        right => {
            code[at].jt = near(code.len() - at - 1)?;
            search(right, actions, code, to_block)?;
        }
    }
    Ok(())
}

/// A forward jump of `n` instructions, which a conditional jump can make.
fn near(n: usize) -> Result<u8, String> {
    u8::try_from(n).map_err(|_| format!("seccomp filter: a jump of {n} instructions"))
}

/// The whole program: per ABI (`seccomp_data.arch`, its rules), in order, an arch check and
/// the binary search of its numbers; any other arch gets ENOSYS.
pub fn program(abis: &[(u32, &[(u32, Action)])]) -> Result<Vec<Insn>, String> {
    if abis.is_empty() {
        return Err("seccomp filter without an architecture".into());
    }
    let mut p = vec![insn(LD_W_ABS, 0, 0, OFF_ARCH)];
    for (i, (arch, rules)) in abis.iter().enumerate() {
        let t = tree(&intervals(rules)?)?;
        p.push(insn(JMP_JEQ_K, 1, 0, *arch));
        if i + 1 < abis.len() {
            // Not this arch: over the number load and the tree, to the next arch check (A still
            // holds the arch).
            p.push(insn(JMP_JA, 0, 0, 1 + t.len() as u32));
        } else {
            p.extend(ret(Action::Errno(ENOSYS)));
        }
        p.push(insn(LD_W_ABS, 0, 0, OFF_NR));
        p.extend(t);
    }
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

/// The program bytes of `actions` (one per table name) for the ABIs of the target.
pub fn build(t: &Target, actions: &[Action]) -> Result<Vec<u8>, String> {
    let mut per_abi = Vec::with_capacity(t.arch.abis.len());
    for abi in t.arch.abis {
        per_abi.push((abi.audit_arch, rules(t.table, abi, actions)?));
    }
    let abis: Vec<(u32, &[(u32, Action)])> = per_abi.iter().map(|(a, r)| (*a, r.as_slice())).collect();
    Ok(encode(&program(&abis)?))
}

/// Policy to program bytes in one step.
pub fn compile(t: &Target, caps: u64, words: &[&str]) -> Result<Vec<u8>, String> {
    build(t, &resolve(t, caps, words)?)
}

/// `--suppress-sync=yes` on top of `actions` (nspawn's `seccomp_suppress_sync()`): the @sync
/// calls succeed without doing anything (ERRNO(0)), open() and openat() with O_SYNC or O_DSYNC
/// fail with EINVAL. `None` for `actions`: everything else allowed (SYSTEMD_SECCOMP=0).
pub fn compile_suppressing_sync(t: &Target, actions: Option<Vec<Action>>) -> Result<Vec<u8>, String> {
    let mut actions = actions.unwrap_or_else(|| vec![Action::Allow; t.table.len()]);
    suppress_sync(t, &mut actions)?;
    build(t, &actions)
}

/// The actions of [`compile_suppressing_sync`], applied to a policy table.
pub fn suppress_sync(t: &Target, actions: &mut [Action]) -> Result<(), String> {
    let index = Index::new(t.table);
    let mut sync = vec![false; t.table.len()];
    mark(t, &index, "@sync", &mut sync, "@sync")?;
    for (a, s) in actions.iter_mut().zip(&sync) {
        if *s {
            *a = Action::Errno(0);
        }
    }
    for (name, off) in [("open", OFF_ARG1), ("openat", OFF_ARG2)] {
        if let Some(a) = index.get(name).and_then(|i| actions.get_mut(i)) {
            if *a == Action::Allow {
                *a = Action::NoSyncOpen(off);
            }
        }
    }
    Ok(())
}
