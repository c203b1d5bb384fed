//! Embeds spawnbox-init into spawnbox: the file named by SPAWNBOX_INIT_BINARY, else an empty one.
//! Compiles the default seccomp filter (see `mod seccomp` below).
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=SPAWNBOX_INIT_BINARY");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let dest = out.join("spawnbox-init");
    match std::env::var_os("SPAWNBOX_INIT_BINARY") {
        Some(src) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(&src).display());
            std::fs::copy(&src, &dest).expect("copy SPAWNBOX_INIT_BINARY");
        }
        None => std::fs::write(&dest, b"").expect("write empty stub-init"),
    }
    seccomp::write_default(&out);
}

// The seccomp compiler, its tables and the policy encoder, shared with the launcher (which
// names them `super::compile`, `super::groups`, ...). Both families' tables: this program runs
// on the host, the filter is the target's.
#[path = "src/security/seccomp/compile.rs"]
#[allow(dead_code)]
mod compile;
#[path = "src/security/seccomp/groups.rs"]
#[allow(dead_code)]
mod groups;
#[path = "src/security/seccomp/policy.rs"]
mod policy;
#[path = "src/security/seccomp/syscalls_arm.rs"]
mod syscalls_arm;
#[path = "src/security/seccomp/syscalls_x86.rs"]
mod syscalls_x86;
#[path = "src/security/seccomp/target.rs"]
#[allow(dead_code)]
mod target;

/// The seccomp policy of each family as table indices (`OUT_DIR/seccomp-policy-FAMILY.rs`,
/// policy.rs), and the default filter (nspawn's policy for its default capabilities) of the
/// target architecture, compiled here so that a start does no policy compilation:
/// `OUT_DIR/seccomp-default.bpf`, empty for a target without a filter (`native()` in
/// `src/security/seccomp/mod.rs` picks the same way).
mod seccomp {
    use super::{compile, groups, policy, syscalls_arm, syscalls_x86, target};

    pub fn write_default(out: &std::path::Path) {
        for f in ["compile.rs", "groups.rs", "policy.rs", "syscalls_arm.rs", "syscalls_x86.rs", "target.rs"] {
            println!("cargo:rerun-if-changed=src/security/seccomp/{f}");
        }
        let mut encoded = Vec::new();
        for (table, family) in [(&syscalls_x86::TABLE, "x86"), (&syscalls_arm::TABLE, "arm")] {
            let e = policy::Encoded::new(table).unwrap_or_else(|e| panic!("seccomp policy for {family}: {e}"));
            let rust = e.to_rust(&format!("syscalls_{family}.rs"));
            std::fs::write(out.join(format!("seccomp-policy-{family}.rs")), rust).expect("write seccomp-policy");
            encoded.push((table, e));
        }
        let policies: Vec<_> = encoded.iter().map(|(t, e)| (*t, e.policy())).collect();
        let families: Vec<target::Family> = policies.iter().map(|(t, p)| (*t, p)).collect();
        let var = |v: &str| std::env::var(v).unwrap_or_default();
        let (arch, endian) = (var("CARGO_CFG_TARGET_ARCH"), var("CARGO_CFG_TARGET_ENDIAN"));
        let prog = match target::Target::of(&arch, &families).filter(|_| endian == "little") {
            Some(t) => compile::compile(&t, groups::NSPAWN_DEFAULT_CAPS, &[])
                .unwrap_or_else(|e| panic!("default seccomp filter for {arch}: {e}")),
            None => Vec::new(),
        };
        std::fs::write(out.join("seccomp-default.bpf"), prog).expect("write seccomp-default.bpf");
    }
}
