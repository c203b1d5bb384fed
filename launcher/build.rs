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

// The seccomp compiler and its tables, shared with the launcher (`compile.rs` names them as
// `super::groups`, the tables `super::compile`). Both families' tables: this program runs on the
// host, the filter is the target's.
#[path = "src/security/seccomp/compile.rs"]
#[allow(dead_code)]
mod compile;
#[path = "src/security/seccomp/groups.rs"]
#[allow(dead_code)]
mod groups;
#[path = "src/security/seccomp/syscalls_arm.rs"]
mod syscalls_arm;
#[path = "src/security/seccomp/syscalls_x86.rs"]
mod syscalls_x86;

/// The default seccomp filter (nspawn's policy for its default capabilities) of the target
/// architecture, compiled here so that a start does no policy compilation:
/// `OUT_DIR/seccomp-default.bpf`, empty for a target without a filter (see `native()` in
/// `src/security/seccomp/mod.rs`, which picks the same way).
mod seccomp {
    use super::{compile, groups, syscalls_arm, syscalls_x86};

    pub fn write_default(out: &std::path::Path) {
        for f in ["compile.rs", "groups.rs", "syscalls_arm.rs", "syscalls_x86.rs"] {
            println!("cargo:rerun-if-changed=src/security/seccomp/{f}");
        }
        let var = |v: &str| std::env::var(v).unwrap_or_default();
        let (target, endian) = (var("CARGO_CFG_TARGET_ARCH"), var("CARGO_CFG_TARGET_ENDIAN"));
        let tables = [&syscalls_x86::TABLE, &syscalls_arm::TABLE];
        let native = compile::arch(&target)
            .filter(|_| endian == "little")
            .and_then(|arch| Some((compile::table_for(arch, &tables)?, arch)));
        let prog = match native {
            Some((table, arch)) => compile::compile(table, arch, groups::NSPAWN_DEFAULT_CAPS, &[])
                .unwrap_or_else(|e| panic!("default seccomp filter for {target}: {e}")),
            None => Vec::new(),
        };
        std::fs::write(out.join("seccomp-default.bpf"), prog).expect("write seccomp-default.bpf");
    }
}
