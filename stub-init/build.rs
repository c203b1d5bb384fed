//! Strip the release binary at link time.
//!
//! The workspace's `[profile.release] strip = true` does not reach this crate: cargo resolves
//! `strip` to "debuginfo" for a package that has its own `[profile.release.package.*]`
//! override, which leaves the symbol table in (about 10 KiB, over the 48 KiB budget).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if release && linux {
        // Through a C compiler driver the flag needs -Wl,; rust-lld (the cross targets'
        // linker, .cargo/config.toml) takes it as is.
        let lld = std::env::var("RUSTC_LINKER").is_ok_and(|l| l.ends_with("lld"));
        println!("cargo:rustc-link-arg-bins={}", if lld { "--strip-all" } else { "-Wl,--strip-all" });
    }
}
