//! The board build: `cargo build -p spawnbox --no-default-features` (no `images` feature, so
//! no tarball or OCI transfer and none of their codecs) compiles, and its spawnctl lists the
//! transfer verbs in `--help` as not in this build and answers them with one line and exit 1.
//! Built (debug) into `target/board`, so the workspace's own build is left alone.

use std::path::PathBuf;
use std::process::Command;

/// The board build's binary, built once for this test process.
fn board_binary() -> PathBuf {
    let ws = spawnbox_tests::workspace();
    let target = ws.join("target/board");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&ws)
        .args(["build", "--locked", "-p", "spawnbox", "--no-default-features", "--bin", "spawnbox"])
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("run cargo");
    assert!(out.status.success(), "board build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    target.join("debug/spawnbox")
}

#[test]
fn board_build_lacks_transfer_verbs_and_says_so() {
    let bin = board_binary();
    let ctl = bin.with_file_name("spawnctl");
    let _ = std::fs::remove_file(&ctl);
    std::os::unix::fs::symlink(&bin, &ctl).unwrap();

    let help = Command::new(&ctl).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for verb in ["import-tar", "export-tar", "import-oci"] {
        let line = help.lines().find(|l| l.trim_start().starts_with(verb)).unwrap_or_else(|| panic!("{verb}: {help}"));
        assert!(line.ends_with(" (not in this build)"), "{line}");

        let out = Command::new(&ctl).args([verb, "x", "y"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{verb}");
        assert!(out.stdout.is_empty());
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("spawnctl: {verb}: not in this build (spawnctl was built without image transfer)\n")
        );
    }
    // The rest of spawnctl is there.
    assert!(help.lines().any(|l| l.trim_start().starts_with("import-fs") && !l.ends_with("build)")), "{help}");
}
