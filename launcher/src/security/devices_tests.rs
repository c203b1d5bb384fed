//! The device program: golden instruction bytes, and a small interpreter of the instructions
//! [`assemble`] emits run over a table of (type, major, minor, access) against the rules.

use super::*;
use crate::settings::BindIdmap;
use std::path::PathBuf;

fn hex(bytes: &[u8]) -> Vec<String> {
    bytes.chunks(8).map(|c| c.iter().map(|b| format!("{b:02x}")).collect::<String>()).collect()
}

const HEADER: [&str; 11] = [
    "6112000000000000", // r2 = *(u32 *)(r1 + 0)   access_type
    "bf23000000000000", // r3 = r2
    "7703000010000000", // r3 >>= 16               access
    "57020000ffff0000", // r2 &= 0xffff            type
    "6114040000000000", // r4 = *(u32 *)(r1 + 4)   major
    "6115080000000000", // r5 = *(u32 *)(r1 + 8)   minor
    "bf29000000000000", // r9 = r2
    "a409000002000000", // w9 ^= 2                 0 for CHAR
    "bf21000000000000", // r1 = r2
    "a401000001000000", // w1 ^= 1                 0 for BLOCK
    "b700000000000000", // r0 = 0
];
const TAIL: [&str; 3] = [
    "07070000ffffffff", // r7 += -1
    "770700003f000000", // r7 >>= 63
    "4f70000000000000", // r0 |= r7
];
const EXIT_INSN: &str = "9500000000000000";

#[test]
fn golden_bytes_of_one_node() {
    let p = encode(&assemble(&[Rule::node(CHAR, 1, 3, RWM)]));
    let mut want: Vec<&str> = HEADER.to_vec();
    want.extend([
        "bf47000000000000", // r7 = r4
        "a407000001000000", // w7 ^= 1
        "bf58000000000000", // r8 = r5
        "a408000003000000", // w8 ^= 3
        "4f87000000000000", // r7 |= r8
        "4f97000000000000", // r7 |= r9                type
    ]);
    want.extend(TAIL);
    want.push(EXIT_INSN);
    assert_eq!(hex(&p), want);
}

#[test]
fn golden_bytes_of_a_major_range_with_restricted_access() {
    let p = encode(&assemble(&[Rule { kind: CHAR, majors: (136, 143), minor: None, access: RW }]));
    let mut want: Vec<&str> = HEADER.to_vec();
    want.extend([
        "b407000007000000", // w7 = 143 - 136
        "bf48000000000000", // r8 = r4
        "1408000088000000", // w8 -= 136
        "1f87000000000000", // r7 -= r8
        "770700003f000000", // r7 >>= 63               major out of range
        "4f97000000000000", // r7 |= r9                type
        "bf38000000000000", // r8 = r3
        "5708000001000000", // r8 &= MKNOD (what the rule does not allow)
        "4f87000000000000", // r7 |= r8
    ]);
    want.extend(TAIL);
    want.push(EXIT_INSN);
    assert_eq!(hex(&p), want);
}

#[test]
fn size_of_the_default_program() {
    // 11 + 11 nodes × 9 + pts 12 + 1.
    assert_eq!(assemble(&BASE).len(), 123);
}

#[test]
fn the_program_has_no_jumps() {
    // The verifier's cost grows with the paths through a program: one path here.
    for i in assemble(&BASE) {
        assert!(i.code & 0x07 != 0x05 || i.code == EXIT, "jump {:#x}", i.code);
    }
}

/// Runs `prog` on a `struct bpf_cgroup_dev_ctx`; panics on anything `assemble` never emits.
pub(crate) fn run(prog: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
    let ctx = [access << 16 | kind, major, minor];
    let mut r = [0u64; 11];
    for i in prog {
        let (d, s, imm) = (i.dst as usize, i.src as usize, i.imm as i64 as u64);
        let low = |v: u64| v & 0xffff_ffff;
        match i.code {
            LDX_W => {
                assert_eq!(s, 1, "loads only from the context");
                r[d] = u64::from(ctx[i.off as usize / 4]);
            }
            MOV_X => r[d] = r[s],
            MOV_K => r[d] = imm,
            AND_K => r[d] &= imm,
            OR_X => r[d] |= r[s],
            AND_X => r[d] &= r[s],
            ADD_K => r[d] = r[d].wrapping_add(imm),
            SUB_X => r[d] = r[d].wrapping_sub(r[s]),
            RSH_K => r[d] >>= imm,
            MOV32_K => r[d] = low(imm),
            XOR32_K => r[d] = low(r[d] ^ imm),
            SUB32_K => r[d] = low(r[d].wrapping_sub(imm)),
            EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
    panic!("no exit")
}

#[test]
fn the_default_policy_over_a_table() {
    let prog = assemble(&BASE);
    let table: &[(u32, u32, u32, u32, bool)] = &[
        (CHAR, 1, 3, RW, true),     // /dev/null
        (CHAR, 1, 3, MKNOD, true),  // mknod /dev/null
        (CHAR, 1, 5, READ, true),   // zero
        (CHAR, 1, 7, WRITE, true),  // full
        (CHAR, 1, 8, READ, true),   // random
        (CHAR, 1, 9, RW, true),     // urandom
        (CHAR, 5, 0, RW, true),     // tty
        (CHAR, 5, 2, RW, true),     // ptmx
        (CHAR, 10, 200, RWM, true), // /dev/net/tun
        (CHAR, 136, 0, RW, true),   // pts/0
        (CHAR, 143, 1048575, READ, true),
        (CHAR, 136, 0, MKNOD, false), // pts are never created
        (CHAR, 135, 0, READ, false),
        (CHAR, 144, 0, READ, false),
        (CHAR, 0, 0, MKNOD, true),  // inaccessible/chr, whiteouts
        (BLOCK, 0, 0, MKNOD, true), // inaccessible/blk
        (BLOCK, 8, 0, READ, false), // a host disk
        (BLOCK, 8, 0, MKNOD, false),
        (BLOCK, 253, 0, RW, false),
        (BLOCK, 1, 3, READ, false),  // block 1:3 is not char 1:3
        (CHAR, 1, 1, READ, false),   // /dev/mem
        (CHAR, 1, 2, READ, false),   // /dev/kmem
        (CHAR, 1, 11, WRITE, false), // /dev/kmsg
        (CHAR, 1, 4, READ, false),   // /dev/port
        (CHAR, 5, 1, RW, false),     // the host's /dev/console
        (CHAR, 4, 0, RW, false),     // tty0
        (CHAR, 10, 229, RWM, true),  // /dev/fuse (nspawn ≥ 256)
        (CHAR, 10, 237, RW, false),  // loop-control
        (CHAR, 3, 3, RW, false),
        (CHAR, 2, 0, RW, false),
        (3, 1, 3, READ, false), // no such type
    ];
    for &(kind, major, minor, access, allowed) in table {
        assert_eq!(
            run(&prog, kind, access, major, minor),
            u64::from(allowed),
            "type {kind} {major}:{minor} access {access}"
        );
    }
}

#[test]
fn program_and_rules_agree_everywhere_near_the_rules() {
    let mut rules = BASE.to_vec();
    rules.push(Rule::node(BLOCK, 8, 16, READ));
    rules.push(Rule::node(CHAR, 226, 128, RW));
    // Shapes the defaults do not have: a range with one minor, a range at the top of u32.
    rules.push(Rule { kind: CHAR, majors: (4000, 4095), minor: Some(7), access: READ });
    rules.push(Rule { kind: BLOCK, majors: (u32::MAX - 1, u32::MAX), minor: None, access: RWM });
    let prog = assemble(&rules);
    for kind in [BLOCK, CHAR, 0, 3] {
        for major in (0..16).chain(130..150).chain([
            200,
            226,
            253,
            3999,
            4000,
            4001,
            4095,
            4096,
            1 << 31,
            u32::MAX - 2,
            u32::MAX - 1,
            u32::MAX,
        ]) {
            for minor in (0..20).chain([128, 200, 1_048_575, 1 << 31, u32::MAX]) {
                for access in 1..=RWM {
                    let want = rules.iter().any(|r| r.allows(kind, major, minor, access));
                    assert_eq!(
                        run(&prog, kind, access, major, minor),
                        u64::from(want),
                        "type {kind} {major}:{minor} access {access}"
                    );
                }
            }
        }
    }
    // Read-only bind: read only.
    assert_eq!(run(&prog, BLOCK, READ, 8, 16), 1);
    assert_eq!(run(&prog, BLOCK, RW, 8, 16), 0);
    assert_eq!(run(&prog, BLOCK, MKNOD, 8, 16), 0);
}

fn bind(source: MountSource, read_only: bool) -> CustomMount {
    CustomMount::Bind { source, destination: PathBuf::from("/x"), read_only, recursive: true, idmap: BindIdmap::None }
}

#[test]
fn bind_mounted_device_nodes_are_added() {
    let host = |p: &str| MountSource::Host(PathBuf::from(p));
    assert_eq!(rules(&[]), BASE.to_vec());
    // Already allowed: nothing new.
    assert_eq!(rules(&[bind(host("/dev/null"), false), bind(host("/dev/zero"), true)]), BASE.to_vec());
    // Others: rw, or r when read-only (never mknod).
    if std::path::Path::new("/dev/kmsg").exists() {
        let r = rules(&[bind(host("/dev/kmsg"), true), bind(host("/dev/kmsg"), false)]);
        assert_eq!(r[BASE.len()..], [Rule::node(CHAR, 1, 11, READ), Rule::node(CHAR, 1, 11, RW)]);
    }
    // Not device nodes, missing, or inside the tree: nothing.
    let none = [
        bind(host("/tmp"), false),
        bind(host("/nonexistent/dev"), false),
        bind(MountSource::InRoot(PathBuf::from("/dev/null")), false),
    ];
    assert_eq!(rules(&none), BASE.to_vec());
}
