//! The device policy nspawn gets from systemd (`DevicePolicy=closed`, `DeviceAllow=/dev/net/tun
//! rwm, char-pts rw`, plus every device node passed with `--bind`): a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program assembled here by hand, loaded and attached by the
//! launcher to the container's cgroup right after the clone (while the child sets up) and
//! before "go", so the payload starts confined.
//!
//! The kernel runs the program on every open (read/write) and mknod of a character or block
//! device node by a process of the cgroup and its descendants, with `struct bpf_cgroup_dev_ctx`
//! (`access_type` = access << 16 | type, `major`, `minor`); 0 means EPERM. The program compares
//! against the allow list ([`Rule`]s) and returns 1 for the first match, 0 otherwise.
//!
//! Attached with `BPF_F_ALLOW_MULTI`: a later attach to the same cgroup (or below) adds a
//! program, all of which must allow; it cannot replace ours without our program's fd
//! (`BPF_F_REPLACE`), and detaching needs it too. Every bpf(2) call from the container is denied
//! by the default seccomp filter anyway.

use crate::error::{Error, Result};
use crate::settings::{CustomMount, MountSource};
use rustix::fd::{BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// `BPF_DEVCG_DEV_BLOCK`, `BPF_DEVCG_DEV_CHAR`.
pub const BLOCK: u32 = 1;
pub const CHAR: u32 = 2;
/// `BPF_DEVCG_ACC_MKNOD`, `_READ`, `_WRITE`.
pub const MKNOD: u32 = 1;
pub const READ: u32 = 2;
pub const WRITE: u32 = 4;
pub const RW: u32 = READ | WRITE;
pub const RWM: u32 = MKNOD | READ | WRITE;

/// `BPF_PROG_TYPE_CGROUP_DEVICE`, `BPF_CGROUP_DEVICE`, `BPF_F_ALLOW_MULTI`.
const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const ATTACH_CGROUP_DEVICE: u32 = 6;
const F_ALLOW_MULTI: u32 = 2;

/// One allowed class of devices: type, a range of majors, one minor or all, the accesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// [`CHAR`] or [`BLOCK`].
    pub kind: u32,
    /// First and last major (equal for one major).
    pub majors: (u32, u32),
    /// `None`: every minor.
    pub minor: Option<u32>,
    /// Bits of [`MKNOD`], [`READ`], [`WRITE`].
    pub access: u32,
}

impl Rule {
    pub const fn node(kind: u32, major: u32, minor: u32, access: u32) -> Rule {
        Rule { kind, majors: (major, major), minor: Some(minor), access }
    }

    /// The rule's meaning, for tests of the program against it.
    pub fn allows(&self, kind: u32, major: u32, minor: u32, access: u32) -> bool {
        kind == self.kind
            && access & !self.access == 0
            && (self.majors.0..=self.majors.1).contains(&major)
            && self.minor.map_or(true, |m| m == minor)
    }
}

/// What every container may use: the nodes spawnbox creates in `/dev` (null, zero, full,
/// random, urandom, tty: rwm, as systemd's closed policy), ptmx (5:2, the devpts instance's),
/// `/dev/net/tun` and `/dev/fuse` (rwm, as nspawn ≥ 256), every pts (majors 136–143, rw, never mknod, as nspawn's
/// `char-pts rw`), and the 0:0 nodes (`/run/host/inaccessible/{chr,blk}`, overlayfs whiteouts),
/// which systemd allows too and which no driver backs.
pub const BASE: [Rule; 12] = [
    Rule::node(CHAR, 1, 3, RWM),
    Rule::node(CHAR, 1, 5, RWM),
    Rule::node(CHAR, 1, 7, RWM),
    Rule::node(CHAR, 1, 8, RWM),
    Rule::node(CHAR, 1, 9, RWM),
    Rule::node(CHAR, 5, 0, RWM),
    Rule::node(CHAR, 5, 2, RWM),
    Rule::node(CHAR, 10, 200, RWM),
    Rule::node(CHAR, 10, 229, RWM),
    Rule { kind: CHAR, majors: (136, 143), minor: None, access: RW },
    Rule::node(CHAR, 0, 0, RWM),
    Rule::node(BLOCK, 0, 0, RWM),
];

/// [`BASE`] plus each `--bind`/`--bind-ro` whose host source is a device node (followed as the
/// bind mount follows it): rw, or r with `--bind-ro`, never mknod (as nspawn). Sources inside
/// the tree (`+`) are the image's and are not trusted; sources that cannot be stat'ed are left
/// to the mount step to report.
pub fn rules(mounts: &[CustomMount]) -> Vec<Rule> {
    let mut v = BASE.to_vec();
    for m in mounts {
        let CustomMount::Bind { source: MountSource::Host(src), read_only, .. } = m else { continue };
        let Ok(st) = std::fs::metadata(src) else { continue };
        let kind = match st.file_type() {
            t if t.is_char_device() => CHAR,
            t if t.is_block_device() => BLOCK,
            _ => continue,
        };
        let rdev = st.rdev();
        let (major, minor) = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
        let access = if *read_only { READ } else { RW };
        log::debug!(
            "device policy: --bind of {} allows {} {major}:{minor}",
            src.display(),
            if kind == CHAR { "char" } else { "block" }
        );
        if !v.iter().any(|r| r.allows(kind, major, minor, access)) {
            v.push(Rule::node(kind, major, minor, access));
        }
    }
    v
}

/// One `struct bpf_insn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The 8 bytes of the record (x86_64 and other little-endian hosts: dst in the low nibble).
    pub fn to_bytes(self) -> [u8; 8] {
        let (o, i) = (self.off.to_ne_bytes(), self.imm.to_ne_bytes());
        let regs = if cfg!(target_endian = "little") { self.dst | self.src << 4 } else { self.dst << 4 | self.src };
        [self.code, regs, o[0], o[1], i[0], i[1], i[2], i[3]]
    }
}

/// Opcodes used: `BPF_LDX|BPF_MEM|BPF_W`, `BPF_ALU64|{MOV,AND,OR,ADD,SUB,RSH}|{K,X}`,
/// `BPF_ALU|{MOV,XOR,SUB}|BPF_K` (32-bit: the result is zero-extended), `BPF_JMP|BPF_EXIT`.
/// No conditional jump: see [`assemble`].
pub const LDX_W: u8 = 0x61;
pub const MOV_X: u8 = 0xbf;
pub const MOV_K: u8 = 0xb7;
pub const AND_K: u8 = 0x57;
pub const OR_X: u8 = 0x4f;
pub const ADD_K: u8 = 0x07;
pub const SUB_X: u8 = 0x1f;
pub const RSH_K: u8 = 0x77;
pub const MOV32_K: u8 = 0xb4;
pub const XOR32_K: u8 = 0xa4;
pub const SUB32_K: u8 = 0x14;
pub const AND_X: u8 = 0x5f;
pub const EXIT: u8 = 0x95;

pub(crate) const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, dst, src, off, imm }
}

/// The program, in straight-line code: r2 = type, r3 = access, r4 = major, r5 = minor (u32
/// each), r9 = type ^ CHAR, r1 = type ^ BLOCK (the context is not needed once read). Per rule,
/// r7 is made 0 exactly when the rule matches: an OR of the fields XORed with the rule's
/// values (32-bit), of a flag for a major out of the rule's range, and of the accesses the
/// rule does not allow; r7 < 2^32, so `(r7 - 1) >> 63` is 1 exactly when r7 is 0, and is ORed
/// into r0, which is returned (1 allows).
///
/// Why no jumps: the verifier follows both ways of every conditional jump. The program of
/// compares and jumps this replaced (71 instructions for [`BASE`]) took 266 instruction visits
/// and 30 states, about 0.25 ms of the launcher's start on kernel 6.18; straight-line code is
/// visited once (123 instructions, about 0.08 ms). The kernel runs it only on device opens and
/// mknods, where a few dozen more instructions cost nothing measurable.
pub fn assemble(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),              // r2 = ctx->access_type
        insn(MOV_X, 3, 2, 0, 0),              // r3 = r2
        insn(RSH_K, 3, 0, 0, 16),             // r3 >>= 16: access
        insn(AND_K, 2, 0, 0, 0xffff),         // r2 &= 0xffff: type
        insn(LDX_W, 4, 1, 4, 0),              // r4 = ctx->major
        insn(LDX_W, 5, 1, 8, 0),              // r5 = ctx->minor
        insn(MOV_X, 9, 2, 0, 0),              // r9 = r2
        insn(XOR32_K, 9, 0, 0, CHAR as i32),  // w9 ^= CHAR
        insn(MOV_X, 1, 2, 0, 0),              // r1 = r2
        insn(XOR32_K, 1, 0, 0, BLOCK as i32), // w1 ^= BLOCK
        insn(MOV_K, 0, 0, 0, 0),              // r0 = 0: no rule matched yet
    ];
    for r in rules {
        match_into_r7(&mut p, r, false);
        p.push(insn(OR_X, 0, 7, 0, 0)); // r0 |= r7
    }
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// Appends the code that makes r7 1 when `r` matches the device of the context and 0 when
/// not (registers as [`assemble`] sets them up; r8 is scratch). `partial`: the rule matches
/// when the accesses asked for and the rule's overlap (the kernel's test of a deny exception
/// under a default-allow policy); otherwise all of them must be the rule's.
pub(crate) fn match_into_r7(p: &mut Vec<Insn>, r: &Rule, partial: bool) {
    let (lo, hi) = r.majors;
    if lo == hi {
        p.push(insn(MOV_X, 7, 4, 0, 0)); // r7 = major
        p.push(insn(XOR32_K, 7, 0, 0, lo as i32)); // w7 ^= lo
    } else {
        p.push(insn(MOV32_K, 7, 0, 0, hi.wrapping_sub(lo) as i32)); // w7 = hi - lo
        p.push(insn(MOV_X, 8, 4, 0, 0)); // r8 = major
        p.push(insn(SUB32_K, 8, 0, 0, lo as i32)); // w8 -= lo (wrapping)
        p.push(insn(SUB_X, 7, 8, 0, 0)); // r7 -= r8: negative when major - lo > hi - lo
        p.push(insn(RSH_K, 7, 0, 0, 63)); // r7 = 1 then, else 0
    }
    if let Some(m) = r.minor {
        p.push(insn(MOV_X, 8, 5, 0, 0)); // r8 = minor
        p.push(insn(XOR32_K, 8, 0, 0, m as i32)); // w8 ^= m
        p.push(insn(OR_X, 7, 8, 0, 0)); // r7 |= r8
    }
    match r.kind {
        CHAR => p.push(insn(OR_X, 7, 9, 0, 0)),
        BLOCK => p.push(insn(OR_X, 7, 1, 0, 0)),
        k => {
            p.push(insn(MOV_X, 8, 2, 0, 0));
            p.push(insn(XOR32_K, 8, 0, 0, k as i32));
            p.push(insn(OR_X, 7, 8, 0, 0));
        }
    }
    if r.access & RWM != RWM {
        p.push(insn(MOV_X, 8, 3, 0, 0)); // r8 = access
        if partial {
            p.push(insn(AND_K, 8, 0, 0, r.access as i32)); // what the rule names of it
            p.push(insn(ADD_K, 8, 0, 0, -1)); // r8 -= 1
            p.push(insn(RSH_K, 8, 0, 0, 63)); // r8 = 1 when none
        } else {
            p.push(insn(AND_K, 8, 0, 0, (!r.access & RWM) as i32)); // what the rule does not allow
        }
        p.push(insn(OR_X, 7, 8, 0, 0));
    }
    p.push(insn(ADD_K, 7, 0, 0, -1)); // r7 -= 1
    p.push(insn(RSH_K, 7, 0, 0, 63)); // r7 = 1 when it was 0
}

/// The program as the bytes bpf(BPF_PROG_LOAD) takes.
pub fn encode(prog: &[Insn]) -> Vec<u8> {
    prog.iter().flat_map(|i| i.to_bytes()).collect()
}

/// Loads the program for `rules` and attaches it to the cgroup `cgroup` (an `O_PATH` fd of its
/// directory); returns the number of instructions. The program stays attached until the cgroup
/// is removed; its fd is closed here.
pub fn attach(cgroup: BorrowedFd<'_>, rules: &[Rule]) -> Result<usize> {
    attach_program(cgroup, &assemble(rules))
}

/// Loads `prog` and attaches it to the cgroup `cgroup`, as [`attach`] does.
pub fn attach_program(cgroup: BorrowedFd<'_>, prog: &[Insn]) -> Result<usize> {
    let bytes = encode(prog);
    let fd = load(&bytes)?;
    let dir = rustix::fs::openat(
        cgroup,
        ".",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Error::sys("open", "the container's cgroup", e))?;
    use rustix::fd::AsFd;
    crate::sys::bpf_prog_attach(dir.as_fd(), fd.as_fd(), ATTACH_CGROUP_DEVICE, F_ALLOW_MULTI)
        .map_err(|e| Error::sys("attach", "the device program to the container's cgroup", e))?;
    Ok(prog.len())
}

/// bpf(BPF_PROG_LOAD); on failure loads again with the verifier's log to report its last line.
pub(crate) fn load(bytes: &[u8]) -> Result<OwnedFd> {
    let license = c"GPL";
    match crate::sys::bpf_prog_load(PROG_TYPE_CGROUP_DEVICE, bytes, license, "spawnbox_dev", None) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            let mut log = vec![0u8; 16 * 1024];
            let _ = crate::sys::bpf_prog_load(PROG_TYPE_CGROUP_DEVICE, bytes, license, "spawnbox_dev", Some(&mut log));
            let text =
                String::from_utf8_lossy(&log[..log.iter().position(|b| *b == 0).unwrap_or(log.len())]).into_owned();
            let last = text.lines().rev().find(|l| !l.trim().is_empty()).map(str::trim).unwrap_or("");
            let err = Error::sys("load", "the device program", e);
            Err(if last.is_empty() { err } else { Error::msg(format!("{err} (verifier: {last})")) })
        }
    }
}

#[cfg(test)]
#[path = "devices_tests.rs"]
pub(crate) mod tests;
