//! Unit tests of the whole engine without root: a tree exported in memory (`create`), then
//! extracted into a temp directory with the caller's owners (`same_owner: false`), compared;
//! and the refusals of an in-memory hostile archive, as data.

use super::header::Kind;
use super::reader::tests::push;
use super::*;
use std::fs as sfs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::PathBuf;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnbox-tar-{}-{name}", std::process::id()));
    let _ = sfs::remove_dir_all(&d);
    sfs::create_dir_all(&d).unwrap();
    d
}

fn open(p: &Path) -> rustix::fd::OwnedFd {
    fs::open(p, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap()
}

/// `path kind mode size mtime target nlink` of every entry, sorted.
fn list(root: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in sfs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            let m = sfs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let target = sfs::read_link(&p).map(|t| t.display().to_string()).unwrap_or_default();
            let size = if m.is_dir() { 0 } else { m.len() };
            let mtime = if m.file_type().is_symlink() { 0 } else { m.mtime() * 1_000_000_000 + m.mtime_nsec() };
            out.push(format!("{rel} {:o} {size} {mtime} {target} {}", m.mode(), m.nlink()));
            if m.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn no_owner() -> ImportOptions {
    ImportOptions { same_owner: false, oci_layer: false }
}

#[test]
fn create_then_extract_round_trips() {
    let d = tmpdir("round");
    let src = d.join("src");
    sfs::create_dir_all(src.join("a/b")).unwrap();
    sfs::write(src.join("a/b/f"), vec![b'x'; 3000]).unwrap();
    sfs::hard_link(src.join("a/b/f"), src.join("hl")).unwrap();
    symlink("a/b/f", src.join("sl")).unwrap();
    sfs::write(src.join(format!("{}-long", "n".repeat(120))), "long").unwrap();
    sfs::set_permissions(src.join("a"), sfs::Permissions::from_mode(0o750)).unwrap();
    let t = rustix::fs::Timespec { tv_sec: 1_234_567_890, tv_nsec: 987_654_321 };
    for p in ["a/b/f", "a/b", "a"] {
        fs::utimensat(
            fs::CWD,
            src.join(p),
            &rustix::fs::Timestamps { last_access: t, last_modification: t },
            AtFlags::empty(),
        )
        .unwrap();
    }
    let mut archive = Vec::new();
    let stats = create::create(open(&src).as_fd(), &mut archive, &mut |_, _| {}).unwrap();
    assert_eq!((stats.files, stats.hardlinks, stats.symlinks, stats.dirs), (2, 1, 1, 3));
    // Deterministic bytes.
    let mut again = Vec::new();
    create::create(open(&src).as_fd(), &mut again, &mut |_, _| {}).unwrap();
    assert!(archive == again);
    let dst = d.join("dst");
    sfs::create_dir(&dst).unwrap();
    let st = extract_into(&mut &archive[..], None, open(&dst).as_fd(), &no_owner(), &mut |_| {}).unwrap();
    assert_eq!(st.entries, stats.entries);
    assert!(st.root_entry);
    assert_eq!(list(&dst), list(&src));
    sfs::remove_dir_all(&d).unwrap();
}

#[test]
fn hostile_archives_are_refused_in_memory() {
    let d = tmpdir("hostile");
    type Case = (&'static [(&'static str, Kind, &'static str)], &'static str);
    let table: &[Case] = &[
        (&[("../x", Kind::File, "")], "entry \"../x\": name contains \"..\""),
        (
            &[("l", Kind::Symlink, "/"), ("l/x", Kind::File, "")],
            "entry \"l/x\": \"l\" is a symlink: not written through",
        ),
        (&[("f", Kind::File, ""), ("f/x", Kind::File, "")], "entry \"f/x\": \"f\" is not a directory"),
        (
            &[("h", Kind::HardLink, "missing")],
            "entry \"h\": hard link to \"missing\": create: no such file or directory",
        ),
    ];
    for (i, (entries, want)) in table.iter().enumerate() {
        let mut t = Vec::new();
        for (name, kind, link) in entries.iter() {
            push(&mut t, name.as_bytes(), *kind, b"", link.as_bytes());
        }
        let dst = d.join(format!("c{i}"));
        sfs::create_dir(&dst).unwrap();
        let e = extract_into(&mut &t[..], None, open(&dst).as_fd(), &no_owner(), &mut |_| {}).unwrap_err();
        assert_eq!(e.to_string(), *want);
    }
    // Through `import`: nothing is left in the parent after an error.
    let parent = d.join("parent");
    sfs::create_dir(&parent).unwrap();
    let mut t = Vec::new();
    push(&mut t, b"ok", Kind::File, b"data", b"");
    push(&mut t, b"../bad", Kind::File, b"", b"");
    let e = import_reader(&mut &t[..], None, open(&parent).as_fd(), "img", &no_owner(), &mut |_| {}).unwrap_err();
    assert_eq!(e.to_string(), "entry \"../bad\": name contains \"..\"");
    assert_eq!(sfs::read_dir(&parent).unwrap().count(), 0);
    for bad in ["", ".", "..", "a/b", ".hidden"] {
        let e = import_reader(&mut &t[..], None, open(&parent).as_fd(), bad, &no_owner(), &mut |_| {}).unwrap_err();
        assert_eq!(e.to_string(), format!("invalid image name {bad:?}"));
    }
    sfs::remove_dir_all(&d).unwrap();
}
