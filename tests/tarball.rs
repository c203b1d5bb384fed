//! Root integration tests of the tarball engine (`spawnbox::tar`, issue 15's import-tar and
//! export-tar), through the library:
//!
//! | test | what |
//! |---|---|
//! | gnu_tar_archives_import_exactly | a tree with every kind of entry, archived by GNU tar (`--format=pax` and `gnu`, xattrs, ACLs) plain/gzip/xz/zstd, imported: metadata listing, xattrs and checksums identical |
//! | export_round_trips_and_gnu_tar_reads_it | export per suffix, import again: identical; the plain export extracted by GNU tar: identical |
//! | hostile_tarballs_change_nothing_outside | raw archives written here (`..`, absolute names, symlink then write through it, `..` symlink chains, hard links out, devices, symlink replaced by a file): each refused with its one-line error or contained; a canary tree around the destination is unchanged and no temporary directory is left |
//! | oci_layers_apply_whiteouts | two layers into one directory: `.wh.NAME` and `.wh..wh..opq` |
//! | import_throughput_against_gnu_tar | the Debian systemd guest tree as a tarball per compression: import time against `tar -xf` of the same file |
//!
//! The listing is `find -printf '%P %y %m %U %G %s %T@ %l %n'` (directory sizes left out: they
//! depend on the order entries were made), sorted, plus every xattr (hex) and a sha256 of every
//! file.

use rustix::fd::AsFd;
use rustix::fs::{self, Mode, OFlags, Timespec, Timestamps, XattrFlags};
use spawnbox::tar::{self, header, ExportOptions, ImportOptions, Progress};
use std::fs as sfs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A temp dir for one test; removed on drop, which also checks the host's cgroup root.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        spawnbox_tests::require_root();
        let d = std::env::temp_dir().join(format!("spawnbox-tarball-{}-{tag}", std::process::id()));
        let _ = sfs::remove_dir_all(&d);
        sfs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn dir(&self, rel: &str) -> PathBuf {
        let d = self.path(rel);
        sfs::create_dir_all(&d).unwrap();
        d
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = sfs::remove_dir_all(&self.0);
        if !std::thread::panicking() {
            assert!(spawnbox_tests::stray_root_leaves().is_empty());
        }
    }
}

fn sh(script: &str) -> String {
    let out = Command::new("bash").arg("-c").arg(format!("set -o pipefail; {script}")).output().expect("run bash");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn open_dir(p: &Path) -> rustix::fd::OwnedFd {
    fs::open(p, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Metadata listing, xattrs and checksums of the tree below `dir`.
fn listing(dir: &Path) -> String {
    let find = sh(&format!("cd '{}' && find . -printf '%P %y %m %U %G %s %T@ %l %n\\n' | sort", dir.display()));
    let mut out: Vec<String> = find
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(' ').collect();
            if f.get(1) == Some(&"d") {
                f[5] = "-";
            }
            f.join(" ")
        })
        .collect();
    let paths = sh(&format!("cd '{}' && find . ! -type l -print0 | sort -z | tr '\\0' '\\n'", dir.display()));
    for p in paths.lines() {
        let full = dir.join(p);
        let mut names = vec![0u8; 65536];
        let n = fs::llistxattr(&full, &mut names[..]).unwrap_or(0);
        let mut list: Vec<&[u8]> = names[..n].split(|&b| b == 0).filter(|s| !s.is_empty()).collect();
        list.sort();
        for name in list {
            let mut v = vec![0u8; 65536];
            let cname = std::ffi::CString::new(name).unwrap();
            let len = fs::lgetxattr(&full, cname.as_c_str(), &mut v[..]).unwrap();
            out.push(format!("xattr {p} {}={}", String::from_utf8_lossy(name), hex(&v[..len])));
        }
    }
    out.push(sh(&format!("cd '{}' && find . -type f -print0 | sort -z | xargs -0r sha256sum", dir.display())));
    out.join("\n")
}

/// A listing without xattrs, mtimes cut to whole seconds.
fn seconds_only(listing: &str) -> String {
    listing
        .lines()
        .filter(|l| !l.starts_with("xattr "))
        .map(|l| {
            let f: Vec<String> = l
                .split(' ')
                .enumerate()
                .map(|(i, w)| {
                    if i == 6 && w.contains('.') {
                        format!("{}.0000000000", w.split('.').next().unwrap())
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            f.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An ACL xattr value: (tag, perm, id) entries.
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (t, p, i) in entries {
        v.extend_from_slice(&t.to_le_bytes());
        v.extend_from_slice(&p.to_le_bytes());
        v.extend_from_slice(&i.to_le_bytes());
    }
    v
}

fn set_mtime(p: &Path, sec: i64, nsec: i64) {
    let t = Timespec { tv_sec: sec, tv_nsec: nsec };
    fs::utimensat(fs::CWD, p, &Timestamps { last_access: t, last_modification: t }, fs::AtFlags::SYMLINK_NOFOLLOW)
        .unwrap();
}

/// A tree with every kind of entry tar carries.
fn build_tree(t: &Path) {
    const U: u32 = u32::MAX;
    sfs::create_dir_all(t.join("etc/ssl")).unwrap();
    sfs::write(t.join("etc/hostname"), "tree\n").unwrap();
    sfs::write(t.join("etc/ssl/cert"), vec![0x5au8; 70_000]).unwrap();
    // Made before the directory's default ACL: it has no ACL of its own to inherit.
    sfs::write(t.join("etc/ssl/plain"), "no acl\n").unwrap();
    sfs::write(t.join("empty"), "").unwrap();
    // A hard-link group of three, and a pair.
    sfs::write(t.join("h1"), "linked\n").unwrap();
    sfs::hard_link(t.join("h1"), t.join("etc/h2")).unwrap();
    sfs::hard_link(t.join("h1"), t.join("h3")).unwrap();
    sfs::write(t.join("p1"), "pair\n").unwrap();
    sfs::hard_link(t.join("p1"), t.join("p2")).unwrap();
    symlink("/etc/hostname", t.join("abs-link")).unwrap();
    symlink("etc/ssl/cert", t.join("rel-link")).unwrap();
    symlink("../nowhere", t.join("dangling")).unwrap();
    sfs::create_dir(t.join("dev")).unwrap();
    fs::mknodat(
        fs::CWD,
        t.join("dev/null"),
        fs::FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        fs::makedev(1, 3),
    )
    .unwrap();
    fs::mknodat(fs::CWD, t.join("dev/loop9"), fs::FileType::BlockDevice, Mode::from_raw_mode(0o660), fs::makedev(7, 9))
        .unwrap();
    fs::mknodat(fs::CWD, t.join("fifo"), fs::FileType::Fifo, Mode::from_raw_mode(0o640), 0).unwrap();
    sfs::write(t.join("suid"), "#!/bin/sh\n").unwrap();
    sfs::write(t.join("sgid"), "x").unwrap();
    sfs::create_dir(t.join("sticky")).unwrap();
    sfs::create_dir(t.join("private")).unwrap();
    // Long names: over 100 bytes (ustar prefix), over 255 (pax path / GNU L), long link target.
    let deep = t.join("d".repeat(60)).join("e".repeat(60));
    sfs::create_dir_all(&deep).unwrap();
    sfs::write(deep.join("f".repeat(150)), "deep\n").unwrap();
    symlink("t".repeat(200), t.join("long-target")).unwrap();
    sfs::write(t.join("ünïcödé-name"), "utf-8\n").unwrap();
    // Owners, including ids beyond ustar's octal fields.
    std::os::unix::fs::lchown(t.join("etc/hostname"), Some(1000), Some(1000)).unwrap();
    std::os::unix::fs::lchown(t.join("abs-link"), Some(7), Some(8)).unwrap();
    std::os::unix::fs::lchown(t.join("fifo"), Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::lchown(t.join("private"), Some(3_000_000), Some(3_000_001)).unwrap();
    std::os::unix::fs::lchown(t.join("suid"), Some(0), Some(50)).unwrap();
    sfs::set_permissions(t.join("suid"), sfs::Permissions::from_mode(0o4755)).unwrap();
    sfs::set_permissions(t.join("sgid"), sfs::Permissions::from_mode(0o2711)).unwrap();
    sfs::set_permissions(t.join("sticky"), sfs::Permissions::from_mode(0o1777)).unwrap();
    sfs::set_permissions(t.join("private"), sfs::Permissions::from_mode(0o500)).unwrap();
    // xattrs: user, file capabilities (cap_net_raw, v2), ACLs on a file and a directory.
    fs::setxattr(t.join("etc/hostname"), "user.comment", b"binary\0value\n", XattrFlags::empty()).unwrap();
    let cap = [&0x0200_0001u32.to_le_bytes()[..], &(1u32 << 13).to_le_bytes(), &[0; 12]].concat();
    fs::setxattr(t.join("suid"), "security.capability", &cap, XattrFlags::empty()).unwrap();
    let file_acl = acl(&[(1, 6, U), (2, 4, 1234), (4, 4, U), (0x10, 4, U), (0x20, 4, U)]);
    fs::setxattr(t.join("etc/ssl/cert"), "system.posix_acl_access", &file_acl, XattrFlags::empty()).unwrap();
    let dir_acl = acl(&[(1, 7, U), (2, 7, 4321), (4, 5, U), (0x10, 7, U), (0x20, 5, U)]);
    fs::setxattr(t.join("etc/ssl"), "system.posix_acl_default", &dir_acl, XattrFlags::empty()).unwrap();
    // Nanosecond mtimes, last (children first, so that directories keep theirs).
    let all = sh(&format!("cd '{}' && find . -depth -print0 | tr '\\0' '\\n'", t.display()));
    for (i, p) in all.lines().enumerate() {
        set_mtime(&t.join(p), 1_600_000_000 + i as i64 * 1000, (i as i64 * 123_456_789) % 1_000_000_000);
    }
}

fn compress_cmd(codec: &str) -> &'static str {
    match codec {
        "gz" => "gzip -c",
        "xz" => "xz -T1 -3 -c",
        "zst" => "zstd -q -c",
        _ => "cat",
    }
}

fn import(src: &Path, parent: &Path, name: &str) -> spawnbox::error::Result<tar::Stats> {
    let dir = open_dir(parent);
    let mut calls = 0;
    let r = tar::import(src, dir.as_fd(), name, &ImportOptions::default(), &mut |_: Progress| calls += 1);
    if r.is_ok() {
        assert!(calls > 0, "progress was never reported");
    }
    r
}

#[test]
fn gnu_tar_archives_import_exactly() {
    let s = Scratch::new("gnu");
    let tree = s.dir("tree");
    build_tree(&tree);
    let full = listing(&tree);
    for format in ["pax", "gnu"] {
        // GNU tar writes xattrs and ACLs only in pax archives; the gnu format keeps whole
        // seconds (and writes base-256 ids, L/K long names).
        let (opts, want) = match format {
            "pax" => ("--xattrs --xattrs-include='*' --acls", full.clone()),
            _ => ("", seconds_only(&full)),
        };
        for codec in ["", "gz", "xz", "zst"] {
            let file = s.path(&format!("t-{format}.tar{}{codec}", if codec.is_empty() { "" } else { "." }));
            sh(&format!(
                "tar {opts} --numeric-owner --format={format} -C '{}' -cpf - . | {} > '{}'",
                tree.display(),
                compress_cmd(codec),
                file.display()
            ));
            let name = format!("img-{format}-{codec}");
            let stats = import(&file, &s.0, &name).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let got = if format == "pax" { listing(&s.path(&name)) } else { seconds_only(&listing(&s.path(&name))) };
            assert_eq!(got, want, "{format} {codec}");
            assert_eq!((stats.hardlinks, stats.devices, stats.fifos, stats.symlinks), (3, 2, 1, 4), "{format} {codec}");
            assert!(stats.root_entry);
            sfs::remove_dir_all(s.path(&name)).unwrap();
        }
    }
    let leftovers: Vec<_> =
        sfs::read_dir(&s.0).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with(".#")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn export_round_trips_and_gnu_tar_reads_it() {
    let s = Scratch::new("export");
    let tree = s.dir("tree");
    build_tree(&tree);
    let want = listing(&tree);
    for suffix in ["tar", "tar.gz", "tgz", "tar.xz", "txz"] {
        let out = s.path(&format!("out.{suffix}"));
        let mut last = None;
        let stats = tar::export(&tree, &out, &ExportOptions::default(), &mut |p| last = Some(p)).unwrap();
        let p = last.expect("progress reported");
        assert_eq!(p.total, Some(p.done));
        assert_eq!(p.done, stats.bytes);
        assert_eq!((stats.hardlinks, stats.devices, stats.fifos, stats.symlinks), (3, 2, 1, 4));
        let name = format!("re-{}", suffix.replace('.', "-"));
        import(&out, &s.0, &name).unwrap();
        assert_eq!(listing(&s.path(&name)), want, "{suffix}");
        sfs::remove_dir_all(s.path(&name)).unwrap();
        // The same tree exports to the same bytes.
        let again = s.path(&format!("again.{suffix}"));
        tar::export(&tree, &again, &ExportOptions::default(), &mut |_| {}).unwrap();
        assert!(sfs::read(&out).unwrap() == sfs::read(&again).unwrap(), "{suffix}: export is not deterministic");
        // An existing file is refused without --force, and left alone.
        let e = tar::export(&tree, &again, &ExportOptions::default(), &mut |_| {}).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: create: file exists", again.display()));
        // Compressed exports decompress with the reference tools, and GNU tar lists them.
        let n = sh(&format!("tar -tf '{}' | wc -l", out.display()));
        assert_eq!(n.trim(), stats.entries.to_string(), "{suffix}");
    }
    // GNU tar extracts the plain export to the same tree.
    let x = s.dir("by-gnu-tar");
    sh(&format!(
        "tar --xattrs --xattrs-include='*' --acls --numeric-owner -xpf '{}' -C '{}'",
        s.path("out.tar").display(),
        x.display()
    ));
    assert_eq!(listing(&x), want);
    let e = tar::export(&tree, &s.path("out.tar.bz2"), &ExportOptions::default(), &mut |_| {}).unwrap_err();
    assert_eq!(
        e.to_string(),
        "out.tar.bz2: bzip2: not supported (use .tar, .tar.gz, .tgz, .tar.xz, .txz, .tar.zst or .tzst)"
            .replace("out.tar.bz2", &s.path("out.tar.bz2").display().to_string())
    );
    assert!(!s.path("out.tar.bz2").exists());
    let zst = s.path("out.tar.zst");
    let e = tar::export(&tree, &zst, &ExportOptions::default(), &mut |_| {}).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: zstd: not supported for export (it is read on import): write .tar and compress it with zstd(1), or use .tar.xz or .tar.gz",
            zst.display()
        )
    );
    assert!(!zst.exists());
}

/// A raw archive of (name, kind, data, link) entries, as a hostile tool would write it.
fn raw_tar(entries: &[(&str, header::Kind, &str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, data, link) in entries {
        let h = header::Header {
            name: name.as_bytes().to_vec(),
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: data.len() as u64,
            mtime: 1_700_000_000,
            kind: *kind,
            link: link.as_bytes().to_vec(),
            dev_major: if *kind == header::Kind::Block { 8 } else { 0 },
            dev_minor: 0,
        };
        out.extend_from_slice(&header::encode(&h));
        out.extend_from_slice(data.as_bytes());
        out.resize(out.len() + header::padding(data.len() as u64) as usize, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn hostile_tarballs_change_nothing_outside() {
    use header::Kind::{Block, Dir, File, HardLink, Symlink};
    let s = Scratch::new("hostile");
    // The canary: a tree around the destination directory, with the files the names aim at.
    let canary = s.dir("canary");
    sfs::create_dir_all(canary.join("etc")).unwrap();
    sfs::write(canary.join("etc/passwd"), "host passwd\n").unwrap();
    sfs::write(canary.join("etc/shadow"), "host shadow\n").unwrap();
    sfs::write(canary.join("x"), "host x\n").unwrap();
    let parent = s.dir("canary/a/b/parent");
    let c = canary.display().to_string();
    let abs_etc = format!("{c}/etc");
    let abs_passwd = format!("{c}/etc/passwd");
    let abs_shadow = format!("{c}/etc/shadow");
    let before = listing(&canary);
    // (case, entries, Err(message) or Ok(check of the image)).
    type Check = fn(&Path);
    type Case<'a> = (&'a str, Vec<(&'a str, header::Kind, &'a str, &'a str)>, Result<Check, String>);
    let cases: Vec<Case> = vec![
        ("dotdot", vec![("../../etc/x", File, "pwned", "")], Err("entry \"../../etc/x\": name contains \"..\"".into())),
        ("dotdot-mid", vec![("a/../../x", File, "pwned", "")], Err("entry \"a/../../x\": name contains \"..\"".into())),
        (
            "absolute",
            vec![("/etc/x", File, "contained", "")],
            Ok(|img| assert_eq!(sfs::read_to_string(img.join("etc/x")).unwrap(), "contained")),
        ),
        (
            "absolute-to-canary",
            vec![(abs_passwd.as_str(), File, "contained", "")],
            Ok(|img| {
                let found = sh(&format!("find '{}' -name passwd -type f", img.display()));
                assert_eq!(found.lines().count(), 1, "{found}");
            }),
        ),
        (
            "symlink-then-write-through",
            vec![("a", Symlink, "", abs_etc.as_str()), ("a/passwd", File, "pwned", "")],
            Err("entry \"a/passwd\": \"a\" is a symlink: not written through".into()),
        ),
        (
            "relative-symlink-then-write-through",
            vec![("etc", Symlink, "", "../../../../etc"), ("etc/passwd", File, "pwned", "")],
            Err("entry \"etc/passwd\": \"etc\" is a symlink: not written through".into()),
        ),
        (
            "dotdot-symlink-chain",
            vec![
                ("a", Symlink, "", ".."),
                ("b", Symlink, "", "a/.."),
                ("c", Dir, "", ""),
                ("c/d", Symlink, "", "../b/.."),
                ("c/d/x", File, "pwned", ""),
            ],
            Err("entry \"c/d/x\": \"c/d\" is a symlink: not written through".into()),
        ),
        (
            "dotdot-symlink-as-parent-dir",
            vec![("a", Symlink, "", ".."), ("a/a/a/x", File, "pwned", "")],
            Err("entry \"a/a/a/x\": \"a\" is a symlink: not written through".into()),
        ),
        (
            "hard-link-to-absolute-host-file",
            vec![("h", HardLink, "", abs_shadow.as_str())],
            Err(format!("entry \"h\": hard link target \"{abs_shadow}\": open \"tmp\": no such file or directory")),
        ),
        (
            "hard-link-dotdot",
            vec![("h", HardLink, "", "../x")],
            Err("entry \"h\": hard link target \"../x\": name contains \"..\"".into()),
        ),
        (
            "hard-link-through-symlink",
            vec![("a", Symlink, "", abs_etc.as_str()), ("h", HardLink, "", "a/shadow")],
            Err("entry \"h\": hard link target \"a/shadow\": \"a\" is a symlink: not written through".into()),
        ),
        (
            "hard-link-to-own-file",
            vec![("etc/shadow", File, "image shadow", ""), ("h", HardLink, "", "/etc/shadow")],
            Ok(|img| {
                assert_eq!(sfs::read_to_string(img.join("h")).unwrap(), "image shadow");
                assert_eq!(std::os::unix::fs::MetadataExt::nlink(&sfs::metadata(img.join("h")).unwrap()), 2);
            }),
        ),
        (
            "device-node",
            vec![("dev/sda", Block, "", "")],
            Ok(|img| {
                use std::os::unix::fs::{FileTypeExt, MetadataExt};
                let m = sfs::symlink_metadata(img.join("dev/sda")).unwrap();
                assert!(m.file_type().is_block_device());
                assert_eq!(m.rdev(), fs::makedev(8, 0));
            }),
        ),
        (
            "file-replaces-symlink",
            vec![("a", Symlink, "", abs_passwd.as_str()), ("a", File, "replaced", "")],
            Ok(|img| {
                let m = sfs::symlink_metadata(img.join("a")).unwrap();
                assert!(m.is_file());
                assert_eq!(sfs::read_to_string(img.join("a")).unwrap(), "replaced");
            }),
        ),
        (
            "dir-replaces-symlink",
            vec![("d", Symlink, "", abs_etc.as_str()), ("d/", Dir, "", ""), ("d/passwd", File, "inside", "")],
            Ok(|img| {
                assert!(sfs::symlink_metadata(img.join("d")).unwrap().is_dir());
                assert_eq!(sfs::read_to_string(img.join("d/passwd")).unwrap(), "inside");
            }),
        ),
        (
            "hard-link-replaces-symlink",
            vec![("f", File, "mine", ""), ("a", Symlink, "", abs_shadow.as_str()), ("a", HardLink, "", "f")],
            Ok(|img| assert_eq!(sfs::read_to_string(img.join("a")).unwrap(), "mine")),
        ),
        (
            "file-over-nonempty-dir",
            vec![("d/x", File, "x", ""), ("d", File, "file", "")],
            Err("entry \"d\": a directory with contents is in the way".into()),
        ),
        ("root-as-a-file", vec![(".", File, "x", "")], Err("entry \".\": the image's root must be a directory".into())),
        ("empty-name", vec![("", File, "x", "")], Err("entry \"\": empty name".into())),
    ];
    for (i, (case, entries, want)) in cases.into_iter().enumerate() {
        let src = s.path(&format!("{case}.tar"));
        sfs::write(&src, raw_tar(&entries)).unwrap();
        let name = format!("img{i}");
        let r = import(&src, &parent, &name);
        match (r, want) {
            (Err(e), Err(msg)) => {
                assert_eq!(e.to_string(), format!("{}: {msg}", src.display()), "{case}");
                assert!(!parent.join(&name).exists(), "{case}: image left after an error");
            }
            (Ok(_), Ok(check)) => check(&parent.join(&name)),
            (r, want) => panic!("{case}: got {r:?}, wanted {}", if want.is_ok() { "success" } else { "an error" }),
        }
        let left: Vec<String> = sfs::read_dir(&parent)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".#"))
            .collect();
        assert!(left.is_empty(), "{case}: temporary directories left: {left:?}");
        // Nothing outside the destination changed (the images themselves are below `parent`).
        let now = listing(&canary);
        let strip = |l: &str| l.lines().filter(|l| !l.contains("a/b/parent/")).map(str::to_owned).collect::<Vec<_>>();
        let keep = |l: &str| strip(l).into_iter().filter(|l| !l.starts_with("a/b/parent ")).collect::<Vec<_>>();
        assert_eq!(keep(&now), keep(&before), "{case}: the canary tree changed");
    }
    // An image name that exists is refused, the existing tree untouched.
    let src = s.path("ok.tar");
    sfs::write(&src, raw_tar(&[("f", File, "x", "")])).unwrap();
    let e = import(&src, &parent, "img2").unwrap_err();
    assert_eq!(e.to_string(), format!("{}: image \"img2\" exists", src.display()));
    let e = import(&src, &parent, "../escape").unwrap_err();
    assert_eq!(e.to_string(), format!("{}: invalid image name \"../escape\"", src.display()));
}

#[test]
fn oci_layers_apply_whiteouts() {
    use header::Kind::{Dir, File};
    let s = Scratch::new("oci");
    let root = s.dir("rootfs");
    let layer1 = raw_tar(&[
        ("a/", Dir, "", ""),
        ("a/f", File, "f", ""),
        ("a/g", File, "g", ""),
        ("b/", Dir, "", ""),
        ("b/x", File, "x", ""),
        ("c", File, "c", ""),
    ]);
    let layer2 = raw_tar(&[
        ("a/.wh.f", File, "", ""),
        ("b/", Dir, "", ""),
        ("b/y", File, "y", ""),
        ("b/.wh..wh..opq", File, "", ""),
        (".wh.c", File, "", ""),
        (".wh..wh.plnk", Dir, "", ""),
    ]);
    let opts = ImportOptions { oci_layer: true, ..ImportOptions::default() };
    let fd = open_dir(&root);
    tar::extract_into(&mut &layer1[..], None, fd.as_fd(), &opts, &mut |_| {}).unwrap();
    let st = tar::extract_into(&mut &layer2[..], None, fd.as_fd(), &opts, &mut |_| {}).unwrap();
    assert_eq!(st.whiteouts, 3);
    let got = sh(&format!("cd '{}' && find . | sort", root.display()));
    assert_eq!(got, ".\n./a\n./a/g\n./b\n./b/y\n");
    // Without the option the whiteouts are plain files.
    let plain = s.dir("plain");
    let fd = open_dir(&plain);
    tar::extract_into(&mut &layer2[..], None, fd.as_fd(), &ImportOptions::default(), &mut |_| {}).unwrap();
    assert!(plain.join("a/.wh.f").is_file());
}

/// The gap allowed between the library and GNU tar (debug build of the engine's own code in
/// the test profile; the codecs are optimised, see Cargo.toml).
const MAX_RATIO: f64 = 4.0;

#[test]
fn import_throughput_against_gnu_tar() {
    let guest = std::env::var("SPAWNBOX_GUEST_SYSTEMD").unwrap_or_else(|_| {
        sh(&format!("bash '{}/tests/guests/mkguest.sh' systemd", spawnbox_tests::workspace().display()))
            .trim()
            .to_string()
    });
    let guest = PathBuf::from(guest);
    assert!(guest.join("usr/lib/systemd").is_dir(), "{} is not the systemd guest", guest.display());
    let s = Scratch::new("speed");
    let plain = s.path("guest.tar");
    sh(&format!(
        "tar --xattrs --xattrs-include='*' --numeric-owner -C '{}' -cpf '{}' .",
        guest.display(),
        plain.display()
    ));
    let mut report = Vec::new();
    for codec in ["", "gz", "xz", "zst"] {
        let file = if codec.is_empty() {
            plain.clone()
        } else {
            let f = s.path(&format!("guest.tar.{codec}"));
            let cmd = if codec == "xz" { "xz -T2 -1 -c" } else { compress_cmd(codec) };
            sh(&format!("{cmd} < '{}' > '{}'", plain.display(), f.display()));
            f
        };
        let gnu = s.dir("gnu");
        let t0 = Instant::now();
        sh(&format!(
            "tar --xattrs --xattrs-include='*' --numeric-owner -xpf '{}' -C '{}'",
            file.display(),
            gnu.display()
        ));
        let t_tar = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let stats = import(&file, &s.0, "mine").unwrap();
        let t_lib = t0.elapsed().as_secs_f64();
        assert!(stats.files > 1000, "{stats:?}");
        let ratio = t_lib / t_tar;
        report.push(format!(
            "{:>4}: import {t_lib:.2} s, tar -xf {t_tar:.2} s, ratio {ratio:.2}",
            if codec.is_empty() { "tar" } else { codec }
        ));
        if codec.is_empty() {
            // Same result as GNU tar's, on the real tree.
            assert_eq!(listing(&s.path("mine")), listing(&gnu));
        }
        sh(&format!("rm -rf '{}' '{}'", gnu.display(), s.path("mine").display()));
        assert!(ratio < MAX_RATIO, "{codec}: import is {ratio:.1}x slower than tar -xf");
    }
    eprintln!("import-tar throughput ({}):\n{}", guest.display(), report.join("\n"));
}
