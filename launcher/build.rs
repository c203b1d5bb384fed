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
// `super::groups` and `super::syscalls`).
#[path = "src/security/seccomp/compile.rs"]
#[allow(dead_code)]
mod compile;
#[path = "src/security/seccomp/groups.rs"]
#[allow(dead_code)]
mod groups;
#[path = "src/security/seccomp/syscalls.rs"]
mod syscalls;

/// The default seccomp filter (nspawn's policy for its default capabilities), compiled here so
/// that a start does no policy compilation: `OUT_DIR/seccomp-default.bpf`.
mod seccomp {
    use super::{compile, groups};

    pub fn write_default(out: &std::path::Path) {
        for f in ["compile.rs", "groups.rs", "syscalls.rs"] {
            println!("cargo:rerun-if-changed=src/security/seccomp/{f}");
        }
        let prog = compile::compile(groups::NSPAWN_DEFAULT_CAPS, &[])
            .unwrap_or_else(|e| panic!("default seccomp filter: {e}"));
        std::fs::write(out.join("seccomp-default.bpf"), prog).expect("write seccomp-default.bpf");
    }
}
