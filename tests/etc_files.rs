//! Root integration tests of `--resolv-conf=` and `--timezone=`: every mode, what the
//! container sees in `/etc`, and what is left in the tree afterwards.

use spawnbox_tests::Test;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

const TREE_RESOLV: &str = "nameserver 192.0.2.1\n";

fn host_resolv() -> String {
    fs::read_to_string("/etc/resolv.conf").expect("the host needs an /etc/resolv.conf for these tests")
}

fn host_resolv_mode() -> u32 {
    fs::metadata("/etc/resolv.conf").unwrap().mode() & 0o7777
}

/// What the container sees at /etc/resolv.conf: `TYPE MODE MOUNTS\nCONTENT` (or `absent`).
const SHOW_RESOLV: &str = "if [ -e /etc/resolv.conf ]; then \
    echo $(stat -c '%F %a' /etc/resolv.conf) $(grep -c ' /etc/resolv.conf ' /proc/self/mountinfo); cat /etc/resolv.conf; \
    else echo absent; fi";

fn resolv_test(tag: &str) -> Test {
    let t = Test::new(tag);
    t.write("/etc/resolv.conf", TREE_RESOLV);
    t
}

fn tree_resolv(t: &Test) -> Option<String> {
    fs::read_to_string(t.rpath("/etc/resolv.conf")).ok()
}

#[test]
fn resolv_conf_off_leaves_the_trees_file() {
    let t = resolv_test("resolv-off");
    assert_eq!(t.sh(&["--resolv-conf=off"], SHOW_RESOLV).ok(), format!("regular file 644 0\n{TREE_RESOLV}"));
    assert_eq!(tree_resolv(&t).as_deref(), Some(TREE_RESOLV));
}

#[test]
fn resolv_conf_copy_host_writes_the_hosts_file_into_the_tree() {
    let t = resolv_test("resolv-copy");
    let host = host_resolv();
    assert_eq!(t.sh(&["--resolv-conf=copy-host"], SHOW_RESOLV).ok(), format!("regular file 644 0\n{host}"));
    assert_eq!(tree_resolv(&t), Some(host.clone()));
    // Without a file in the tree, one is created with mode 0644.
    fs::remove_file(t.rpath("/etc/resolv.conf")).unwrap();
    assert_eq!(t.sh(&["--resolv-conf=copy-host"], SHOW_RESOLV).ok(), format!("regular file 644 0\n{host}"));
    assert_eq!(fs::metadata(t.rpath("/etc/resolv.conf")).unwrap().mode() & 0o7777, 0o644);
}

#[test]
fn resolv_conf_copy_host_follows_a_symlink_inside_the_tree() {
    let t = Test::new("resolv-copy-link");
    t.write("/etc/real-resolv.conf", TREE_RESOLV);
    symlink("real-resolv.conf", t.rpath("/etc/resolv.conf")).unwrap();
    let host = host_resolv();
    t.sh(&["--resolv-conf=copy-host"], "true").ok();
    assert_eq!(fs::read_link(t.rpath("/etc/resolv.conf")).unwrap(), Path::new("real-resolv.conf"));
    assert_eq!(fs::read_to_string(t.rpath("/etc/real-resolv.conf")).unwrap(), host);
}

#[test]
fn resolv_conf_replace_host_replaces_a_symlink_with_a_file() {
    let t = Test::new("resolv-replace");
    t.write("/etc/real-resolv.conf", TREE_RESOLV);
    symlink("real-resolv.conf", t.rpath("/etc/resolv.conf")).unwrap();
    let host = host_resolv();
    assert_eq!(t.sh(&["--resolv-conf=replace-host"], SHOW_RESOLV).ok(), format!("regular file 644 0\n{host}"));
    let m = fs::symlink_metadata(t.rpath("/etc/resolv.conf")).unwrap();
    assert!(m.is_file(), "still a symlink");
    assert_eq!(tree_resolv(&t), Some(host));
    assert_eq!(fs::read_to_string(t.rpath("/etc/real-resolv.conf")).unwrap(), TREE_RESOLV);
    // No temporary file is left beside it.
    let stray: Vec<_> = fs::read_dir(t.rpath("/etc"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(".#"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn resolv_conf_bind_host_is_a_read_only_mount() {
    let t = resolv_test("resolv-bind");
    let host = host_resolv();
    let out = t.sh(&["--resolv-conf=bind-host"], &format!("{SHOW_RESOLV}; echo x > /etc/resolv.conf; echo rc=$?"));
    assert_eq!(out.code(0), format!("regular file {:o} 1\n{host}rc=1\n", host_resolv_mode()));
    assert_eq!(out.stderr, "/bin/sh: can't create /etc/resolv.conf: Read-only file system\n");
    assert_eq!(tree_resolv(&t).as_deref(), Some(TREE_RESOLV));
}

#[test]
fn resolv_conf_delete_removes_the_trees_file() {
    let t = resolv_test("resolv-delete");
    assert_eq!(t.sh(&["--resolv-conf=delete"], SHOW_RESOLV).ok(), "absent\n");
    assert_eq!(tree_resolv(&t), None);
}

#[test]
fn resolv_conf_auto_copies_on_a_writable_tree_and_binds_on_a_read_only_one() {
    let t = resolv_test("resolv-auto");
    let host = host_resolv();
    assert_eq!(
        t.sh(&["--resolv-conf=auto", "--read-only"], SHOW_RESOLV).ok(),
        format!("regular file {:o} 1\n{host}", host_resolv_mode())
    );
    assert_eq!(tree_resolv(&t).as_deref(), Some(TREE_RESOLV));
    // auto is the default.
    assert_eq!(t.sh(&[], SHOW_RESOLV).ok(), format!("regular file 644 0\n{host}"));
    assert_eq!(tree_resolv(&t), Some(host));
}

#[test]
fn resolv_conf_other_sources_copy_or_bind_their_file_or_leave_the_tree_alone() {
    // Each mode's host source; where the host lacks it, the tree's file is left alone.
    let t = resolv_test("resolv-sources");
    let cases = [
        ("copy-static", "/usr/lib/systemd/resolv.conf", false),
        ("copy-uplink", "/run/systemd/resolve/resolv.conf", false),
        ("replace-stub", "/run/systemd/resolve/stub-resolv.conf", false),
        ("bind-static", "/usr/lib/systemd/resolv.conf", true),
        ("bind-uplink", "/run/systemd/resolve/resolv.conf", true),
    ];
    for (mode, src, bind) in cases {
        fs::write(t.rpath("/etc/resolv.conf"), TREE_RESOLV).unwrap();
        let want = match fs::read_to_string(src) {
            Ok(text) if bind => format!("regular file {:o} 1\n{text}", fs::metadata(src).unwrap().mode() & 0o7777),
            Ok(text) => format!("regular file 644 0\n{text}"),
            Err(_) => format!("regular file 644 0\n{TREE_RESOLV}"),
        };
        assert_eq!(t.sh(&[&format!("--resolv-conf={mode}")], SHOW_RESOLV).ok(), want, "{mode}");
        let tree_want = match fs::read_to_string(src) {
            Ok(text) if !bind => text,
            _ => TREE_RESOLV.to_string(),
        };
        assert_eq!(tree_resolv(&t), Some(tree_want), "{mode}");
    }
}

/// The host's zone (`/etc/localtime -> /usr/share/zoneinfo/ZONE`).
fn host_zone() -> String {
    let target =
        fs::read_link("/etc/localtime").expect("the host's /etc/localtime must be a symlink into /usr/share/zoneinfo");
    let t = target.to_string_lossy().into_owned();
    t.split_once("/usr/share/zoneinfo/")
        .map(|(_, z)| z.to_string())
        .expect("the host's /etc/localtime must point into /usr/share/zoneinfo")
}

const TREE_LOCALTIME: &str = "tree localtime\n";
const TREE_ZONE: &str = "tree zone file\n";

/// A tree with its own /etc/localtime file and, if `with_zone`, the host's zone in zoneinfo.
fn tz_test(tag: &str, with_zone: bool) -> Test {
    let t = Test::new(tag);
    t.write("/etc/localtime", TREE_LOCALTIME);
    if with_zone {
        t.write(&format!("/usr/share/zoneinfo/{}", host_zone()), TREE_ZONE);
    }
    t
}

/// `LINK|TYPE MODE MOUNTS\nCONTENT` of /etc/localtime in the container.
const SHOW_TZ: &str = "if [ -e /etc/localtime ] || [ -L /etc/localtime ]; then \
    echo \"$(readlink /etc/localtime)|$(stat -L -c '%F %a' /etc/localtime) $(grep -c ' /etc/localtime ' /proc/self/mountinfo)\"; cat /etc/localtime; \
    else echo absent; fi";

fn host_localtime() -> String {
    String::from_utf8_lossy(&fs::read("/etc/localtime").unwrap()).into_owned()
}

#[test]
fn timezone_off_leaves_the_trees_file() {
    let t = tz_test("tz-off", true);
    assert_eq!(t.sh(&["--timezone=off"], SHOW_TZ).ok(), format!("|regular file 644 0\n{TREE_LOCALTIME}"));
    assert_eq!(fs::read_to_string(t.rpath("/etc/localtime")).unwrap(), TREE_LOCALTIME);
}

#[test]
fn timezone_copy_replaces_with_the_hosts_file() {
    let t = tz_test("tz-copy", true);
    let out = t.sh(&["--timezone=copy"], SHOW_TZ);
    assert_eq!(out.ok(), format!("|regular file 644 0\n{}", host_localtime()));
    assert_eq!(fs::read(t.rpath("/etc/localtime")).unwrap(), fs::read("/etc/localtime").unwrap());
}

#[test]
fn timezone_bind_is_a_read_only_mount_of_the_hosts_file() {
    let t = tz_test("tz-bind", true);
    let mode = fs::metadata("/etc/localtime").unwrap().mode() & 0o7777;
    let out = t.sh(&["--timezone=bind"], &format!("{SHOW_TZ}; echo x > /etc/localtime; echo rc=$?"));
    assert_eq!(out.code(0), format!("|regular file {mode:o} 1\n{}rc=1\n", host_localtime()));
    assert_eq!(out.stderr, "/bin/sh: can't create /etc/localtime: Read-only file system\n");
    assert_eq!(fs::read_to_string(t.rpath("/etc/localtime")).unwrap(), TREE_LOCALTIME);
}

#[test]
fn timezone_symlink_points_into_the_trees_zoneinfo() {
    let t = tz_test("tz-symlink", true);
    let link = format!("../usr/share/zoneinfo/{}", host_zone());
    assert_eq!(t.sh(&["--timezone=symlink"], SHOW_TZ).ok(), format!("{link}|regular file 644 0\n{TREE_ZONE}"));
    assert_eq!(fs::read_link(t.rpath("/etc/localtime")).unwrap(), Path::new(&link));
}

#[test]
fn timezone_symlink_is_not_made_to_a_zone_the_tree_lacks() {
    let t = tz_test("tz-symlink-nozone", false);
    assert_eq!(t.sh(&["--timezone=symlink"], SHOW_TZ).ok(), format!("|regular file 644 0\n{TREE_LOCALTIME}"));
    assert_eq!(fs::read_to_string(t.rpath("/etc/localtime")).unwrap(), TREE_LOCALTIME);
}

#[test]
fn timezone_delete_removes_the_trees_file() {
    let t = tz_test("tz-delete", true);
    assert_eq!(t.sh(&["--timezone=delete"], SHOW_TZ).ok(), "absent\n");
    assert!(fs::symlink_metadata(t.rpath("/etc/localtime")).is_err());
}

#[test]
fn timezone_auto_symlinks_on_a_writable_tree_and_binds_on_a_read_only_one() {
    let t = tz_test("tz-auto", true);
    let mode = fs::metadata("/etc/localtime").unwrap().mode() & 0o7777;
    assert_eq!(
        t.sh(&["--timezone=auto", "--read-only"], SHOW_TZ).ok(),
        format!("|regular file {mode:o} 1\n{}", host_localtime())
    );
    assert_eq!(fs::read_to_string(t.rpath("/etc/localtime")).unwrap(), TREE_LOCALTIME);
    // auto is the default.
    let link = format!("../usr/share/zoneinfo/{}", host_zone());
    assert_eq!(t.sh(&[], SHOW_TZ).ok(), format!("{link}|regular file 644 0\n{TREE_ZONE}"));
    assert_eq!(fs::read_link(t.rpath("/etc/localtime")).unwrap(), Path::new(&link));
}
