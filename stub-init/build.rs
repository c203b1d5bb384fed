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
        println!("cargo:rustc-link-arg-bins=-Wl,--strip-all");
    }
}
