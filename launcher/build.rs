//! Embeds spawnbox-init into spawnbox: the file named by SPAWNBOX_INIT_BINARY, else an empty one.
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
}
