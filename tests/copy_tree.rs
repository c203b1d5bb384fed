//! The tree copier (`spawnbox::copy`, issue 15) and `--template=` on real file systems: a source
//! made with every kind of entry is copied and compared with the original by a metadata listing
//! (`find -printf`), the files' access times, a dump of every xattr and a checksum of every
//! file; then the copier's edges (depth, mounts inside the source, a destination without
//! xattrs, a full one, an interruption), and `--template=` through the binary.

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags, Timespec, Timestamps};
use spawnbox::copy::{copy_tree, Options, Stats};
use spawnbox_tests::{Cmd, Test};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn sh(script: &str, args: &[&Path]) -> String {
    let out = Command::new("sh").arg("-c").arg(script).arg("sh").args(args).output().expect("run sh");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every entry (the root included) as find prints it: path, type, mode, owner, group, size,
/// mtime with nanoseconds, symlink target, link count; sorted.
fn listing(root: &Path) -> Vec<String> {
    let out = sh(r"find $1 -printf '%P %y %m %U %G %s %T@ %l %n\n'", &[root]);
    let mut l: Vec<String> = out.lines().map(String::from).collect();
    l.sort();
    l
}

/// Access times of everything but directories and symlinks (reading a directory or a link
/// moves its own: `find -printf %l` does).
fn atimes(root: &Path) -> Vec<String> {
    let mut l: Vec<String> =
        sh(r"find $1 ! -type d ! -type l -printf '%P %A@\n'", &[root]).lines().map(String::from).collect();
    l.sort();
    l
}

/// Every xattr of every entry, symlinks not followed: `path name=hex`, sorted.
fn xattrs(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let (mut names, mut value) = (vec![0u8; 65536], vec![0u8; 65536]);
    // Without recursion: the deep tree has 1900 levels.
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let n =
            rustix::fs::llistxattr(&p, &mut names[..]).unwrap_or_else(|e| panic!("llistxattr {}: {e}", p.display()));
        for name in names[..n].split(|b| *b == 0).filter(|a| !a.is_empty()) {
            let name = std::ffi::CString::new(name).unwrap();
            let len = rustix::fs::lgetxattr(&p, name.as_c_str(), &mut value[..]).unwrap();
            let hex: String = value[..len].iter().map(|b| format!("{b:02x}")).collect();
            out.push(format!("{rel} {}={hex}", name.to_string_lossy()));
        }
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out.sort();
    out
}

/// sha256 of every regular file, by path.
fn contents(root: &Path) -> String {
    sh(r#"cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum"#, &[root])
}

/// The whole comparison, in an order that reads no file before its access time is taken.
fn assert_same_tree(src: &Path, dst: &Path) {
    assert_eq!(atimes(src), atimes(dst), "access times");
    assert_eq!(listing(src), listing(dst), "metadata listing");
    assert_eq!(xattrs(src), xattrs(dst), "xattrs");
    let (a, b) = (contents(src), contents(dst));
    assert!(!a.is_empty());
    assert_eq!(a, b, "contents");
}

fn open_dir(p: &Path) -> OwnedFd {
    rustix::fs::open(p, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .unwrap_or_else(|e| panic!("open {}: {e}", p.display()))
}

/// Copies directory `src` to `dst` (which must not exist) with the library.
fn copy(src: &Path, dst: &Path, opts: &Options<'_>) -> spawnbox::error::Result<Stats> {
    let (s, parent) = (open_dir(src), open_dir(dst.parent().unwrap()));
    copy_tree(s.as_fd(), parent.as_fd(), dst.file_name().unwrap(), opts)
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(p, name, value, rustix::fs::XattrFlags::empty())
        .unwrap_or_else(|e| panic!("setxattr {name} on {}: {e}", p.display()));
}

/// Access and modification time, nanoseconds included, without following a symlink.
fn set_times(p: &Path, atime: (i64, i64), mtime: (i64, i64)) {
    let t = Timestamps {
        last_access: Timespec { tv_sec: atime.0, tv_nsec: atime.1 },
        last_modification: Timespec { tv_sec: mtime.0, tv_nsec: mtime.1 },
    };
    rustix::fs::utimensat(rustix::fs::CWD, p, &t, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).unwrap();
}

/// A POSIX ACL as the kernel stores it in `system.posix_acl_*`: version 2, then (tag, perm, id)
/// entries sorted by tag and id.
fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

const NO_ID: u32 = u32::MAX;
/// u::rw-, u:1000:rwx, g::r--, m::rwx, o::---
const ACL_ACCESS: &[(u16, u16, u32)] =
    &[(0x01, 6, NO_ID), (0x02, 7, 1000), (0x04, 4, NO_ID), (0x10, 7, NO_ID), (0x20, 0, NO_ID)];

/// How many of each kind `make_source` makes.
const SOURCE_STATS: Stats = Stats {
    // file empty sparse h1 suid cap acl u1000 nobody odd caf\xe9 locked/inner acldir/child
    // home/.profile deep/a/b/c/leaf
    files: 15,
    // the root, a b shared tmp acldir home locked deep deep/a deep/a/b deep/a/b/c empty-dir
    dirs: 13,
    // rel dangling abs out a/up
    symlinks: 5,
    // null loop0 fifo sock
    nodes: 4,
    // b/h2 h3
    hardlinks: 2,
    bytes: 0, // checked apart: the file sizes
    reflinked: 0,
    xattrs_skipped: 0,
    mounts_skipped: 0,
};

/// A source tree with every kind of entry a container tree has; `outside` is a directory next
/// to it that symlinks point to.
fn make_source(src: &Path, outside: &Path) {
    fs::create_dir_all(outside).unwrap();
    fs::write(outside.join("canary"), "outside\n").unwrap();
    for d in ["a", "b", "shared", "tmp", "acldir", "home", "locked", "deep/a/b/c", "empty-dir"] {
        fs::create_dir_all(src.join(d)).unwrap();
    }
    let p = |rel: &str| src.join(rel);
    fs::write(p("file"), "hello\n").unwrap();
    fs::write(p("empty"), "").unwrap();
    // 1 GiB with three data blocks.
    let f = fs::File::create(p("sparse")).unwrap();
    f.set_len(1 << 30).unwrap();
    for off in [0u64, 512 << 20, (1 << 30) - 4096] {
        f.write_all_at(&[0xa5; 4096], off).unwrap();
    }
    drop(f);
    // A hard-link group of three in three directories.
    fs::write(p("a/h1"), "linked\n").unwrap();
    fs::hard_link(p("a/h1"), p("b/h2")).unwrap();
    fs::hard_link(p("a/h1"), p("h3")).unwrap();
    // Symlinks: relative, dangling, absolute (to the host's files), out of the tree, upwards.
    std::os::unix::fs::symlink("file", p("rel")).unwrap();
    std::os::unix::fs::symlink("nowhere/at/all", p("dangling")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", p("abs")).unwrap();
    std::os::unix::fs::symlink(outside, p("out")).unwrap();
    std::os::unix::fs::symlink("../..", p("a/up")).unwrap();
    // Nodes.
    let dir = open_dir(src);
    let node = |name: &str, kind, dev| rustix::fs::mknodat(&dir, name, kind, Mode::from_raw_mode(0o640), dev).unwrap();
    node("null", FileType::CharacterDevice, rustix::fs::makedev(1, 3));
    node("loop0", FileType::BlockDevice, rustix::fs::makedev(7, 0));
    node("fifo", FileType::Fifo, 0);
    drop(std::os::unix::net::UnixListener::bind(p("sock")).unwrap());
    // Owners, then modes (chown clears setuid).
    fs::write(p("suid"), "#!/bin/sh\n").unwrap();
    chown(&p("suid"), 1000, 1000);
    chmod(&p("suid"), 0o4755);
    chown(&p("shared"), 0, 100);
    chmod(&p("shared"), 0o2775);
    chmod(&p("tmp"), 0o1777);
    for (name, uid, gid) in [("u1000", 1000, 1000), ("nobody", 65534, 65534), ("odd", 12345, 54321)] {
        fs::write(p(name), name).unwrap();
        chown(&p(name), uid, gid);
    }
    fs::write(p("home/.profile"), "PS1='$ '\n").unwrap();
    chown(&p("home/.profile"), 1000, 1000);
    chown(&p("home"), 1000, 1000);
    chown(&p("fifo"), 65534, 65534);
    chown(&p("rel"), 1000, 1000);
    fs::write(p("deep/a/b/c/leaf"), "leaf").unwrap();
    fs::write(src.join(OsStr::from_bytes(b"caf\xe9")), "latin-1 name").unwrap();
    // xattrs: user.*, an empty value, trusted.*, a file capability (after its chown: a chown
    // drops it), ACLs (a default ACL on a directory whose child has none).
    set_xattr(&p("file"), "user.comment", b"kept");
    set_xattr(&p("a"), "user.empty", b"");
    set_xattr(&p("file"), "trusted.t", &[0, 1, 2, 255]);
    fs::write(p("cap"), "\x7fELF").unwrap();
    chmod(&p("cap"), 0o755);
    let mut cap = 0x0200_0001u32.to_le_bytes().to_vec(); // VFS_CAP_REVISION_2 | effective
    cap.extend_from_slice(&(1u32 << 10).to_le_bytes()); // permitted: cap_net_bind_service
    cap.extend_from_slice(&[0; 12]);
    set_xattr(&p("cap"), "security.capability", &cap);
    fs::write(p("acl"), "acl").unwrap();
    set_xattr(&p("acl"), "system.posix_acl_access", &acl(ACL_ACCESS));
    fs::write(p("acldir/child"), "no acl of its own").unwrap();
    set_xattr(&p("acldir"), "system.posix_acl_default", &acl(ACL_ACCESS));
    // A mode-000 file in a mode-000 directory.
    fs::write(p("locked/inner"), "secret").unwrap();
    chmod(&p("locked/inner"), 0);
    // Nanosecond times, every directory last (its entries are made).
    set_times(&p("file"), (1_500_000_000, 987_654_321), (1_600_000_000, 123_456_789));
    set_times(&p("rel"), (1_400_000_000, 1), (1_400_000_001, 999_999_999));
    set_times(&p("null"), (1_300_000_000, 5), (1_300_000_000, 6));
    set_times(&p("sparse"), (1_200_000_000, 0), (1_200_000_000, 500));
    for (i, d) in
        ["deep/a/b/c", "deep/a/b", "deep/a", "deep", "a", "b", "acldir", "home", "empty-dir"].iter().enumerate()
    {
        set_times(&p(d), (1_100_000_000, 0), (1_100_000_000 + i as i64, 111_111_111 * i as i64));
    }
    chmod(&p("locked"), 0);
    set_times(&p("locked"), (1_000_000_000, 0), (1_000_000_000, 42));
    set_times(src, (1_000_000_000, 0), (1_000_000_001, 43));
}

#[test]
fn copy_keeps_every_kind_of_entry() {
    let t = Test::new("copy-kinds");
    let (src, dst) = (t.path("src"), t.path("dst"));
    make_source(&src, &t.path("outside"));
    let stats = copy(&src, &dst, &Options::new(&src)).expect("copy");
    // A symlink's access time, before anything reads the link (the copy read the source's).
    let atime = |p: &Path| {
        let m = fs::symlink_metadata(p).unwrap();
        (m.atime(), m.atime_nsec())
    };
    assert_eq!(atime(&dst.join("rel")), (1_400_000_000, 1));
    assert_same_tree(&src, &dst);
    let sizes: u64 = sh(r"find $1 -type f -links 1 -printf '%s\n'; find $1 -name h1 -printf '%s\n'", &[&src])
        .lines()
        .map(|l| l.parse::<u64>().unwrap())
        .sum();
    // ext4 shares no extents: every file's data was copied.
    assert_eq!(stats, Stats { bytes: sizes, ..SOURCE_STATS });
    // Holes stay holes: three 4 KiB blocks, not 1 GiB.
    let (s, d) = (fs::metadata(src.join("sparse")).unwrap(), fs::metadata(dst.join("sparse")).unwrap());
    assert_eq!(d.len(), 1 << 30);
    assert!(d.blocks() <= s.blocks() + 8 && d.blocks() < 128, "the copy allocates {} blocks of 512 bytes", d.blocks());
    // One inode for the three links.
    let ino = |p: &str| fs::metadata(dst.join(p)).unwrap().ino();
    assert_eq!((ino("b/h2"), ino("h3")), (ino("a/h1"), ino("a/h1")));
    assert_ne!(ino("a/h1"), fs::metadata(src.join("a/h1")).unwrap().ino());
    // Nothing was written outside the copy through its symlinks.
    assert_eq!(fs::read_dir(t.path("outside")).unwrap().count(), 1);
    assert_eq!(fs::read_link(dst.join("out")).unwrap(), t.path("outside"));
}

#[test]
fn deep_trees_are_copied_without_recursion() {
    let t = Test::new("copy-deep");
    let src = t.path("src");
    // 1900 levels (a 3800-byte path: PATH_MAX is the limit), copied on a thread with a 256 KiB
    // stack, which a recursion of 1900 frames of a few hundred bytes would overflow.
    let mut deepest = src.clone();
    for _ in 0..1900 {
        deepest.push("d");
    }
    fs::create_dir_all(&deepest).unwrap();
    fs::write(deepest.join("bottom"), "down here").unwrap();
    let (s, d) = (src.clone(), t.path("dst"));
    let stats = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || copy(&s, &d, &Options::new(&s)).map_err(|e| e.to_string()))
        .unwrap()
        .join()
        .expect("the copy thread");
    let stats = stats.expect("copy");
    assert_eq!((stats.dirs, stats.files), (1901, 1));
    assert_same_tree(&src, &t.path("dst"));
}

/// Runs `f` on a thread of its own in a private mount namespace: what it mounts is gone when it
/// returns, and the host (whose mount table every test compares) never sees it.
fn in_private_mount_ns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare(CLONE_NEWNS) only detaches this thread's file system context.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNS) }, 0, "unshare: {}", std::io::Error::last_os_error());
        let private = rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC;
        rustix::mount::mount_change("/", private).expect("make / private");
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn mount_tmpfs(target: &Path, options: &std::ffi::CStr) {
    rustix::mount::mount("tmpfs", target, "tmpfs", rustix::mount::MountFlags::empty(), Some(options))
        .unwrap_or_else(|e| panic!("mount tmpfs on {}: {e}", target.display()));
}

#[test]
fn mounts_inside_the_source_are_not_entered() {
    let t = Test::new("copy-mounts");
    let (src, dst, other) = (t.path("src"), t.path("dst"), t.path("other"));
    fs::create_dir_all(src.join("proc")).unwrap();
    fs::write(src.join("file"), "a file").unwrap();
    fs::write(src.join("bound"), "under the bind mount").unwrap();
    fs::write(&other, "bound over").unwrap();
    let stats = in_private_mount_ns(move || {
        mount_tmpfs(&src.join("proc"), c"mode=0555");
        fs::write(src.join("proc/inside"), "on the other mount").unwrap();
        rustix::mount::mount_bind(&other, src.join("bound")).unwrap();
        copy(&src, &dst, &Options::new(&src)).map_err(|e| e.to_string())
    })
    .expect("copy");
    assert_eq!((stats.files, stats.dirs, stats.mounts_skipped), (1, 2, 2));
    // The mount point is an empty directory with the mount root's mode; the file mounted over
    // is left out.
    let dst = t.path("dst");
    assert_eq!(fs::read_dir(dst.join("proc")).unwrap().count(), 0);
    assert_eq!(fs::metadata(dst.join("proc")).unwrap().permissions().mode() & 0o7777, 0o555);
    assert!(!dst.join("bound").exists());
    assert_eq!(fs::read_to_string(dst.join("file")).unwrap(), "a file");
}

#[test]
fn a_destination_without_xattrs_skips_and_counts_them() {
    let t = Test::new("copy-noxattr");
    let src = t.path("src");
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("f"), "data").unwrap();
    set_xattr(&src.join("f"), "user.one", b"1");
    set_xattr(&src.join("f"), "trusted.two", b"2");
    set_xattr(&src.join("d"), "user.three", b"3");
    set_times(&src.join("f"), (1_000_000_000, 1), (1_000_000_000, 2));
    chmod(&src.join("f"), 0o640);
    chown(&src.join("f"), 1000, 1000);
    let target = t.host_dir("ramfs");
    let (stats, f) = in_private_mount_ns(move || {
        // ramfs has no xattrs at all.
        rustix::mount::mount("ramfs", &target, "ramfs", rustix::mount::MountFlags::empty(), None).unwrap();
        let dst = target.join("dst");
        let stats = copy(&src, &dst, &Options::new(&src)).map_err(|e| e.to_string());
        let f = fs::symlink_metadata(dst.join("f")).map(|m| (m.mode(), m.uid(), m.mtime(), m.mtime_nsec(), m.len()));
        (stats, f.ok())
    });
    let stats = stats.expect("copy");
    assert_eq!((stats.files, stats.dirs, stats.xattrs_skipped), (1, 2, 3));
    assert_eq!(f, Some((0o100640, 1000, 1_000_000_000, 2, 4)));
}

#[test]
fn a_full_destination_fails_naming_the_file_and_leaves_nothing() {
    let t = Test::new("copy-full");
    let src = t.path("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("sub/small"), "small").unwrap();
    fs::write(src.join("big"), vec![7u8; 2 << 20]).unwrap();
    let target = t.host_dir("small-tmpfs");
    let s = src.clone();
    let (e, left) = in_private_mount_ns(move || {
        mount_tmpfs(&target, c"size=1m");
        let e = copy(&s, &target.join("dst"), &Options::new(&s)).map(|_| ()).map_err(|e| (e.to_string(), e.errno()));
        (e, fs::read_dir(&target).unwrap().count())
    });
    // tmpfs and ext4 are different file systems: copy_file_range says EXDEV, write says ENOSPC.
    let want = format!("copy {}/big: write: no space left on device", src.display());
    assert_eq!(e, Err((want, Some(libc::ENOSPC))));
    assert_eq!(left, 0, "the partial copy was left");
}

#[test]
fn btrfs_shares_extents_and_its_subvolumes_are_copied() {
    let t = Test::new("copy-btrfs");
    let img = t.path("btrfs.img");
    fs::File::create(&img).unwrap().set_len(256 << 20).unwrap();
    let out = Command::new("mkfs.btrfs").arg("-q").arg(&img).output().expect("run mkfs.btrfs");
    assert!(out.status.success(), "mkfs.btrfs: {}", String::from_utf8_lossy(&out.stderr));
    let mnt = t.host_dir("mnt");
    let result = in_private_mount_ns(move || {
        // The loop device goes with the mount (autoclear), the mount with this namespace.
        let out = Command::new("mount").arg("-o").arg("loop").arg(&img).arg(&mnt).output().expect("run mount");
        assert!(out.status.success(), "mount: {}", String::from_utf8_lossy(&out.stderr));
        let src = mnt.join("src");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("data"), vec![3u8; 1 << 20]).unwrap();
        let f = fs::File::create(src.join("sparse")).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all_at(&[1; 4096], 32 << 20).unwrap();
        drop(f);
        fs::write(src.join("empty"), "").unwrap();
        // A subvolume: a device number of its own, the same mount.
        let out = Command::new("btrfs").args(["subvolume", "create"]).arg(src.join("sub")).output().expect("run btrfs");
        assert!(out.status.success(), "btrfs subvolume create: {}", String::from_utf8_lossy(&out.stderr));
        fs::write(src.join("sub/inner"), "in the subvolume").unwrap();
        assert_ne!(fs::metadata(src.join("sub")).unwrap().dev(), fs::metadata(&src).unwrap().dev());
        let dst = mnt.join("dst");
        let stats = copy(&src, &dst, &Options::new(&src)).map_err(|e| e.to_string());
        let same = (listing(&src) == listing(&dst), contents(&src) == contents(&dst));
        let blocks = fs::metadata(dst.join("sparse")).unwrap().blocks();
        // --template / clone of a subvolume on the same btrfs: a snapshot (a subvolume of its
        // own, inode 256), not a copy.
        let snap = mnt.join("snap");
        let made = spawnbox::template::create(&snap, &src.join("sub")).map_err(|e| e.to_string());
        let snapshot = (
            made.map(|s| s.is_some()),
            fs::metadata(&snap).unwrap().ino(),
            fs::read_to_string(snap.join("inner")).unwrap(),
        );
        (stats, same, blocks, snapshot)
    });
    let (stats, same, blocks, snapshot) = result;
    assert_eq!(snapshot, (Ok(true), 256, "in the subvolume".to_string()));
    let stats = stats.expect("copy");
    // data, sparse and sub/inner shared; the empty file has nothing to share.
    assert_eq!((stats.files, stats.reflinked, stats.dirs, stats.mounts_skipped), (4, 3, 2, 0));
    assert_eq!(same, (true, true), "(listing, contents) equal");
    assert!(blocks < 64, "the reflinked sparse file has {blocks} blocks");
}

#[test]
fn a_copy_into_the_source_leaves_itself_out() {
    let t = Test::new("copy-into");
    let src = t.path("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("f"), "f").unwrap();
    let dst = src.join("sub/copy");
    let stats = copy(&src, &dst, &Options::new(&src)).expect("copy");
    assert_eq!((stats.files, stats.dirs), (1, 2));
    assert_eq!(fs::read_dir(dst.join("sub")).unwrap().count(), 0);
    assert_eq!(fs::read_to_string(dst.join("f")).unwrap(), "f");
}

#[test]
fn an_interrupted_copy_leaves_nothing() {
    let t = Test::new("copy-stop");
    let src = t.path("src");
    for i in 0..20 {
        fs::create_dir_all(src.join(format!("d{i}"))).unwrap();
        fs::write(src.join(format!("d{i}/f")), "x").unwrap();
    }
    let asked = std::cell::Cell::new(0);
    let stop = || {
        asked.set(asked.get() + 1);
        asked.get() > 25
    };
    let opts = Options { interrupted: Some(&stop), ..Options::new(&src) };
    let e = copy(&src, &t.path("dst"), &opts).expect_err("interrupted");
    assert_eq!(e.to_string(), format!("copy {}: interrupted", src.display()));
    assert_eq!(e.errno(), Some(libc::EINTR));
    assert!(!t.path("dst").exists());
}

#[test]
fn copy_entry_copies_one_entry_of_any_kind_under_a_new_name() {
    let t = Test::new("copy-entry");
    let src = t.path("src");
    make_source(&src, &t.path("outside"));
    let (from, to) = (open_dir(&src), open_dir(&t.dir));
    // The source as spawnctl names it: the entry's own path.
    let one = |name: &str, new: &str, owner: Option<(u32, u32)>| {
        let path = src.join(name);
        let opts = Options { owner, ..Options::new(&path) };
        spawnbox::copy::copy_entry(from.as_fd(), OsStr::new(name), to.as_fd(), OsStr::new(new), &opts)
            .map_err(|e| e.to_string())
    };
    // A directory: its tree; a file, symlinks (never followed) and nodes: themselves.
    one("deep", "deep-copy", None).expect("directory");
    assert_eq!(listing(&src.join("deep")).len(), 5);
    assert_eq!(listing(&src.join("deep"))[1..], listing(&t.path("deep-copy"))[1..]);
    for name in ["suid", "rel", "out", "fifo", "null", "cap"] {
        let new = format!("{name}-copy");
        one(name, &new, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (a, b) = (fs::symlink_metadata(src.join(name)).unwrap(), fs::symlink_metadata(t.path(&new)).unwrap());
        let meta = |m: &fs::Metadata| (m.mode(), m.uid(), m.gid(), m.rdev(), m.mtime(), m.mtime_nsec());
        assert_eq!(meta(&a), meta(&b), "{name}");
    }
    assert_eq!(fs::read_link(t.path("out-copy")).unwrap(), t.path("outside"));
    assert_eq!(fs::read_dir(t.path("outside")).unwrap().count(), 1);
    assert_eq!(xattrs(&t.path("cap-copy")), xattrs(&src.join("cap")));
    // A new owner: setuid, setgid and file capabilities go; a directory keeps its setgid.
    let owner = Some((4242, 4343));
    one("suid", "owned", owner).expect("file");
    let m = fs::metadata(t.path("owned")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o755, 4242, 4343));
    one("cap", "owned-cap", owner).expect("file");
    assert_eq!(xattrs(&t.path("owned-cap")), Vec::<String>::new());
    one("shared", "owned-dir", owner).expect("directory");
    let m = fs::metadata(t.path("owned-dir")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o2775, 4242, 4343));
    // Errors name the source; the destination is never replaced.
    let e = one("missing", "x", None).unwrap_err();
    assert_eq!(e, format!("copy {}: open: no such file or directory", src.join("missing").display()));
    let e = one("suid", "owned", None).unwrap_err();
    assert_eq!(e, format!("copy {}: create: file exists", src.join("suid").display()));
    assert_eq!(fs::metadata(t.path("owned")).unwrap().uid(), 4242);
}

/// The busybox guest (`$SPAWNBOX_GUEST_BUSYBOX`, from `tests/guests/mkguest.sh busybox`).
fn busybox_guest() -> PathBuf {
    let p = spawnbox_tests::guest("busybox");
    assert!(p.join("bin/busybox").is_file(), "{}: not the busybox guest", p.display());
    p
}

/// Entries of the two listings that differ, by path.
fn differing(a: &[String], b: &[String]) -> Vec<String> {
    let mut d: Vec<String> =
        a.iter().filter(|l| !b.contains(l)).chain(b.iter().filter(|l| !a.contains(l))).cloned().collect();
    d = d.into_iter().map(|l| l.split(' ').next().unwrap_or("").to_string()).collect();
    d.sort();
    d.dedup();
    d
}

#[test]
fn template_creates_the_tree_and_the_container_runs_from_it() {
    let t = Test::new("template");
    // A copy of the guest without /etc/resolv.conf, so that the container's own shows: the
    // cache is shared, and a container run on it directly leaves the host's there.
    let guest = t.host_dir("guest");
    sh("cp -a \"$1\"/. \"$2\" && rm -f \"$2\"/etc/resolv.conf", &[&busybox_guest(), &guest]);
    fs::remove_dir_all(&t.root).unwrap();
    let out = t.sh(&[&format!("--template={}", guest.display())], "echo $container; cat /etc/os-release | grep ^ID=");
    assert_eq!(out.ok(), "spawnbox\nID=spawnbox-test\n");
    // The tree is the template but for what the container itself changed.
    let changed = differing(&listing(&guest), &listing(&t.root));
    assert_eq!(changed, ["etc", "etc/resolv.conf"], "entries that differ from the template");
    let leftovers: Vec<_> =
        fs::read_dir(&t.dir).unwrap().flatten().filter(|e| e.file_name().as_bytes().starts_with(b".#")).collect();
    assert!(leftovers.is_empty(), "temporary trees left: {leftovers:?}");
}

#[test]
fn template_leaves_an_existing_directory_untouched() {
    let t = Test::new("template-exists");
    let tmpl = t.host_dir("tmpl");
    fs::write(tmpl.join("from-template"), "not wanted").unwrap();
    t.write("/marker", "mine\n");
    let before = listing(&t.root);
    let out = t.sh(
        &[&format!("--template={}", tmpl.display()), "--read-only"],
        "cat /marker; test -e /from-template || echo absent",
    );
    assert_eq!(out.ok(), "mine\nabsent\n");
    assert_eq!(listing(&t.root), before);
}

#[test]
fn template_with_a_missing_parent_creates_it() {
    let guest = busybox_guest();
    let t = Test::new("template-parent");
    let tree = t.path("machines/new/tmpl-parent");
    let mut c = Cmd::new();
    c.arg("-D").arg(&tree).arg(format!("--template={}", guest.display()));
    c.arg(format!("--uuid={}", t.uuid)).args(&["--console=pipe", "/bin/true"]);
    c.run().ok();
    assert!(tree.join("bin/busybox").is_file());
}

#[test]
fn a_failing_template_copy_leaves_no_half_tree() {
    let t = Test::new("template-fail");
    // The template and the tree's parent belong to nobody, who runs spawnbox: the copy makes a
    // directory, then cannot read a mode-000 file.
    let tmpl = t.host_dir("tmpl");
    fs::create_dir_all(tmpl.join("sub")).unwrap();
    fs::write(tmpl.join("sub/ok"), "readable").unwrap();
    fs::write(tmpl.join("secret"), "unreadable").unwrap();
    chmod(&tmpl.join("secret"), 0);
    let parent = t.host_dir("machines");
    for p in [&tmpl, &tmpl.join("sub"), &tmpl.join("sub/ok"), &tmpl.join("secret"), &parent] {
        chown(p, 65534, 65534);
    }
    chmod(&t.dir, 0o755);
    let tree = parent.join("nobody-tree");
    let mut c = Cmd::new();
    c.program("setpriv").args(&["--reuid=65534", "--regid=65534", "--clear-groups"]);
    c.arg(spawnbox_tests::spawnbox_bin()).arg("-D").arg(&tree).arg(format!("--template={}", tmpl.display()));
    c.args(&["--console=pipe", "/bin/true"]);
    c.env("PATH", "/usr/bin:/bin");
    let out = c.run();
    out.error(&format!("--template={0}: copy {0}/secret: open: permission denied", tmpl.display()));
    assert_eq!(fs::read_dir(&parent).unwrap().count(), 0, "the tree or its temporary copy was left");
}

#[test]
fn an_interrupted_template_copy_leaves_no_half_tree() {
    use std::os::unix::process::CommandExt;
    let guest = busybox_guest();
    let t = Test::new("template-stop");
    fs::remove_dir_all(&t.root).unwrap();
    // SIGTERM is pending when spawnbox starts (blocked, so kept across exec): the copy sees it
    // at its first entry.
    let mut c = Command::new(spawnbox_tests::spawnbox_bin());
    c.arg("-D").arg(&t.root).arg(format!("--template={}", guest.display()));
    c.args([&format!("--uuid={}", t.uuid), "--console=pipe", "/bin/true"]).env_clear();
    // SAFETY: sigprocmask and raise are async-signal-safe; nothing is allocated.
    unsafe {
        c.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            libc::raise(libc::SIGTERM);
            Ok(())
        });
    }
    let out = c.output().expect("run spawnbox");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr, format!("spawnbox: --template={0}: copy {0}: interrupted\n", guest.display()));
    let left: Vec<_> = fs::read_dir(&t.dir).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "left in the tree's directory: {left:?}");
}
