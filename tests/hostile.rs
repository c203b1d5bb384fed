//! Root integration tests with hostile trees: `/etc/resolv.conf`, `/etc/localtime`, `/etc`
//! itself and mount targets are symlinks (absolute, and relative with `..`) or hard links to
//! canary files in the test's temp dir, outside the tree. Whatever the mode, the canaries keep
//! their content, mode and mtime, no mount appears on the host (checked when each test ends),
//! and spawnbox either runs or refuses with one clear error line. `/proc`, `/sys`, `/dev`,
//! `/run` and `/tmp` as symlinks are refused.

use spawnbox_tests::host::{file_state, FileState};
use spawnbox_tests::{tree_listing, Output, Test};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// A host file outside the tree that must never change.
struct Canary {
    path: PathBuf,
    state: FileState,
}

impl Canary {
    fn new(t: &Test, name: &str) -> Canary {
        let path = t.path(name);
        fs::write(&path, format!("canary {name}: host file, keep out\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let state = file_state(&path);
        Canary { path, state }
    }

    fn check(&self, what: &str) {
        assert_eq!(file_state(&self.path), self.state, "canary {} changed ({what})", self.path.display());
    }
}

/// A host directory outside the tree that must never change (listing, mode, mtime).
struct CanaryDir {
    path: PathBuf,
    listing: Vec<String>,
    state: FileState,
}

impl CanaryDir {
    fn new(t: &Test, name: &str) -> CanaryDir {
        let path = t.host_dir(name);
        fs::write(path.join("host-marker"), "host dir\n").unwrap();
        CanaryDir { listing: tree_listing(&path), state: file_state(&path), path }
    }

    fn check(&self, what: &str) {
        assert_eq!(tree_listing(&self.path), self.listing, "canary dir {} changed ({what})", self.path.display());
        assert_eq!(file_state(&self.path), self.state, "canary dir {} changed ({what})", self.path.display());
    }
}

/// spawnbox ran (status 0) or refused with exactly one `spawnbox: ...` line and status 1.
fn ran_or_refused(out: &Output, what: &str) -> bool {
    match out.code {
        Some(0) => {
            assert!(!out.stderr.contains("spawnbox:"), "{what}: {out:?}");
            true
        }
        Some(1) => {
            assert!(out.stderr.starts_with("spawnbox: ") && out.stderr.lines().count() == 1 && out.stdout.is_empty(), "{what}: unclear refusal: {out:?}");
            false
        }
        _ => panic!("{what}: neither ran nor refused: {out:?}"),
    }
}

fn replace_with_symlink(t: &Test, p: &str, target: &str) {
    let f = t.rpath(p);
    let _ = fs::remove_file(&f);
    let _ = fs::remove_dir_all(&f);
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    symlink(target, &f).unwrap();
}

/// The absolute and the relative (`..` out of the tree) link to `canary` from container path
/// `p` (the tree sits directly in the test dir, beside the canaries).
fn links_to(p: &str, canary: &Path) -> [String; 2] {
    let depth = p.trim_start_matches('/').matches('/').count() + 1;
    let rel = format!("{}{}", "../".repeat(depth), canary.file_name().unwrap().to_string_lossy());
    [canary.display().to_string(), rel]
}

const RESOLV_MODES: [&[&str]; 10] = [
    &["--resolv-conf=off"],
    &["--resolv-conf=copy-host"],
    &["--resolv-conf=replace-host"],
    &["--resolv-conf=bind-host"],
    &["--resolv-conf=delete"],
    &["--resolv-conf=auto"],
    &["--resolv-conf=auto", "--read-only"],
    &["--resolv-conf=copy-static"],
    &["--resolv-conf=bind-static"],
    &["--resolv-conf=replace-static"],
];

const TZ_MODES: [&[&str]; 8] = [
    &["--timezone=off"],
    &["--timezone=copy"],
    &["--timezone=bind"],
    &["--timezone=symlink"],
    &["--timezone=delete"],
    &["--timezone=auto"],
    &["--timezone=auto", "--read-only"],
    &["--timezone=bind", "--read-only"],
];

/// The container writes through whatever it sees, as a payload might.
const POKE: &str = "cat /etc/resolv.conf /etc/localtime >/dev/null 2>&1; echo done";

#[test]
fn resolv_conf_symlinked_to_a_host_file() {
    let t = Test::new("hostile-resolv");
    let canary = Canary::new(&t, "canary-resolv");
    for link in links_to("/etc/resolv.conf", &canary.path) {
        for mode in RESOLV_MODES {
            replace_with_symlink(&t, "/etc/resolv.conf", &link);
            let what = format!("/etc/resolv.conf -> {link} with {mode:?}");
            let out = t.sh(mode, POKE);
            if ran_or_refused(&out, &what) {
                assert_eq!(out.stdout, "done\n", "{what}");
            }
            canary.check(&what);
        }
    }
}

#[test]
fn localtime_symlinked_to_a_host_file() {
    let t = Test::new("hostile-tz");
    t.write("/usr/share/zoneinfo/Etc/UTC", "tree zone\n");
    let canary = Canary::new(&t, "canary-localtime");
    for link in links_to("/etc/localtime", &canary.path) {
        for mode in TZ_MODES {
            replace_with_symlink(&t, "/etc/localtime", &link);
            let what = format!("/etc/localtime -> {link} with {mode:?}");
            let out = t.sh(mode, POKE);
            if ran_or_refused(&out, &what) {
                assert_eq!(out.stdout, "done\n", "{what}");
            }
            canary.check(&what);
        }
    }
}

#[test]
fn zoneinfo_symlinked_out_of_the_tree() {
    // The zone the symlink mode checks for is itself a link to the host.
    let t = Test::new("hostile-zoneinfo");
    let canary = Canary::new(&t, "canary-zone");
    let zone = t.rpath("/usr/share/zoneinfo/Etc/UTC");
    fs::create_dir_all(zone.parent().unwrap()).unwrap();
    for link in links_to("/usr/share/zoneinfo/Etc/UTC", &canary.path) {
        let _ = fs::remove_file(&zone);
        symlink(&link, &zone).unwrap();
        for mode in TZ_MODES {
            let what = format!("zoneinfo/Etc/UTC -> {link} with {mode:?}");
            let out = t.sh(mode, "cat /etc/localtime > /dev/null 2>&1; echo done");
            ran_or_refused(&out, &what);
            canary.check(&what);
        }
    }
}

#[test]
fn etc_files_hard_linked_to_host_files() {
    let t = Test::new("hostile-hardlink");
    let resolv = Canary::new(&t, "canary-hl-resolv");
    let localtime = Canary::new(&t, "canary-hl-localtime");
    t.write("/usr/share/zoneinfo/Etc/UTC", "tree zone\n");
    for mode in RESOLV_MODES.iter().chain(TZ_MODES.iter()) {
        for (p, c) in [("/etc/resolv.conf", &resolv), ("/etc/localtime", &localtime)] {
            let f = t.rpath(p);
            let _ = fs::remove_file(&f);
            fs::hard_link(&c.path, &f).unwrap();
        }
        let what = format!("hard links with {mode:?}");
        let out = t.sh(mode, POKE);
        ran_or_refused(&out, &what);
        resolv.check(&what);
        localtime.check(&what);
    }
}

#[test]
fn etc_symlinked_to_a_host_directory() {
    let t = Test::new("hostile-etc");
    let dir = CanaryDir::new(&t, "canary-etc");
    fs::write(dir.path.join("resolv.conf"), "nameserver 203.0.113.9\n").unwrap();
    fs::write(dir.path.join("localtime"), "host localtime\n").unwrap();
    fs::write(dir.path.join("passwd"), "root:x:0:0:evil:/:/bin/sh\n").unwrap();
    let dir = CanaryDir { listing: tree_listing(&dir.path), state: file_state(&dir.path), path: dir.path };
    fs::remove_dir_all(t.rpath("/etc")).unwrap();
    for link in links_to("/etc", &dir.path) {
        for mode in RESOLV_MODES.iter().chain(TZ_MODES.iter()) {
            replace_with_symlink(&t, "/etc", &link);
            let what = format!("/etc -> {link} with {mode:?}");
            let out = t.sh(mode, POKE);
            ran_or_refused(&out, &what);
            dir.check(&what);
        }
        // -u looks users up in the tree, never through a link out of it.
        let out = t.sh(&["-u", "root"], "id -u");
        ran_or_refused(&out, "-u root with /etc out of the tree");
        dir.check("-u root");
    }
}

#[test]
fn mount_targets_symlinked_to_a_host_directory() {
    let t = Test::new("hostile-binds");
    let dir = CanaryDir::new(&t, "canary-dir");
    let file = Canary::new(&t, "canary-file");
    let src = t.host_dir("bind-src");
    fs::write(src.join("payload"), "bind source\n").unwrap();
    let src_file = t.path("bind-src-file");
    fs::write(&src_file, "bind source file\n").unwrap();
    t.write("/srv/lower/f", "lower\n");
    fs::create_dir_all(t.rpath("/srv/upper")).unwrap();
    let s = src.display().to_string();
    let sf = src_file.display().to_string();
    let mounts: Vec<Vec<String>> = vec![
        vec![format!("--bind={s}:/mnt/link")],
        vec![format!("--bind={s}:/mnt/link/sub")],
        vec![format!("--bind-ro={s}:/mnt/link")],
        vec![format!("--bind-ro={s}:/mnt/link/a/b")],
        vec![format!("--bind={s}:/mnt/link:norbind")],
        vec!["--bind=+/srv/lower:/mnt/link".into()],
        vec!["--tmpfs=/mnt/link".into()],
        vec!["--tmpfs=/mnt/link/sub".into()],
        vec!["--overlay=+/srv/lower:+/srv/upper:/mnt/link".into()],
        vec!["--overlay-ro=+/srv/lower:/mnt/link".into()],
        vec!["--inaccessible=/mnt/link".into()],
        vec![format!("--bind={sf}:/mnt/filelink")],
        vec![format!("--bind-ro={sf}:/mnt/filelink")],
        vec!["--inaccessible=/mnt/filelink".into()],
        vec!["--bind=+/etc/passwd:/mnt/filelink".into()],
    ];
    for (dlink, flink) in links_to("/mnt/link", &dir.path).into_iter().zip(links_to("/mnt/filelink", &file.path)) {
        for m in &mounts {
            replace_with_symlink(&t, "/mnt/link", &dlink);
            replace_with_symlink(&t, "/mnt/filelink", &flink);
            let what = format!("{m:?} with /mnt/link -> {dlink}, /mnt/filelink -> {flink}");
            let mut args: Vec<&str> = m.iter().map(String::as_str).collect();
            args.extend(["/bin/sh", "-c", "ls /mnt/link /mnt/link/sub > /dev/null 2>&1; echo x > /mnt/filelink 2>/dev/null; echo done"]);
            let out = t.run(&args);
            ran_or_refused(&out, &what);
            dir.check(&what);
            file.check(&what);
        }
    }
}

#[test]
fn in_root_bind_source_symlinked_out_of_the_tree_stays_in_the_tree() {
    let t = Test::new("hostile-src");
    let dir = CanaryDir::new(&t, "canary-srcdir");
    for link in links_to("/srv/link", &dir.path) {
        replace_with_symlink(&t, "/srv/link", &link);
        let out = t.sh(&["--bind=+/srv/link:/mnt/x"], "ls -A /mnt/x");
        // The link resolves inside the tree, where its target does not exist.
        if ran_or_refused(&out, &link) {
            assert!(!out.stdout.contains("host-marker"), "host directory exposed: {out:?}");
        }
        dir.check(&link);
    }
}

#[test]
fn api_directories_as_symlinks_are_refused() {
    for p in ["/proc", "/sys", "/dev", "/run", "/tmp", "/dev/pts"] {
        let t = Test::new("hostile-api");
        let dir = CanaryDir::new(&t, "canary-api");
        for link in links_to(p, &dir.path) {
            replace_with_symlink(&t, p, &link);
            let before = tree_listing(&t.root);
            let out = t.run(&["/bin/true"]);
            // /dev/pts sits on the fresh /dev tmpfs: a link in the tree never matters.
            if p == "/dev/pts" {
                assert_eq!(out.code, Some(0), "{out:?}");
            } else {
                assert!(!ran_or_refused(&out, &format!("{p} -> {link}")), "{p} as a symlink was accepted: {out:?}");
                assert!(out.stderr.contains(p), "the error does not name {p}: {out:?}");
                assert_eq!(tree_listing(&t.root), before, "{p} -> {link}: the tree changed");
            }
            dir.check(&format!("{p} -> {link}"));
        }
    }
}
