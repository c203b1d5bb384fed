//! Root integration tests of the container's mounts: the exact API mount list with its flags
//! (`/proc/self/mountinfo` inside), masked files, `--read-only`, every `--bind` form,
//! `--tmpfs`, `--overlay`/`--overlay-ro` and `--inaccessible`.

use spawnbox_tests::{parse_mountinfo, tree_listing, MountLine, Test};
use std::fs;
use std::path::Path;

/// The container's mount table (PID 1 reads its own mountinfo).
fn mounts(t: &Test, opts: &[&str]) -> Vec<MountLine> {
    let mut args = opts.to_vec();
    args.extend(["/bin/cat", "/proc/self/mountinfo"]);
    parse_mountinfo(t.run(&args).ok())
}

fn find<'a>(m: &'a [MountLine], point: &str) -> &'a MountLine {
    m.iter().rev().find(|l| l.point == point).unwrap_or_else(|| panic!("no mount on {point} in {m:#?}"))
}

/// `"POINT FSTYPE OPTS ROOT"` of the API mounts nspawn makes; which `/proc`
/// masks and read-only directories appear depends on what the host kernel's procfs has.
fn expected_api_mounts() -> Vec<String> {
    let proc_ = "rw,nosuid,nodev,noexec,relatime";
    let proc_ro = "ro,nosuid,nodev,noexec,relatime";
    let mut v = vec![
        format!("/proc proc {proc_} /"),
        format!("/proc/sys proc {proc_ro} /sys"),
        "/run tmpfs rw,nosuid,nodev /".to_string(),
        "/run/host tmpfs ro,nosuid,nodev /host".to_string(),
    ];
    for f in ["kallsyms", "kcore", "keys", "sysrq-trigger", "timer_list"] {
        if Path::new("/proc").join(f).exists() {
            // An empty file from /run/host/inaccessible, read-only.
            v.push(format!("/proc/{f} tmpfs ro,nosuid,nodev /host/inaccessible/reg"));
        }
    }
    for d in ["acpi", "apm", "asound", "bus", "fs", "irq", "scsi"] {
        if Path::new("/proc").join(d).exists() {
            v.push(format!("/proc/{d} proc {proc_ro} /{d}"));
        }
    }
    v.extend([
        "/sys sysfs ro,nosuid,nodev,noexec,relatime /".to_string(),
        "/dev tmpfs rw,nosuid /".to_string(),
        "/dev/pts devpts rw,nosuid,noexec,relatime /".to_string(),
        "/dev/shm tmpfs rw,nosuid,nodev /".to_string(),
        "/dev/mqueue mqueue rw,nosuid,nodev,noexec,relatime /".to_string(),
        "/tmp tmpfs rw,nosuid,nodev /".to_string(),
    ]);
    v
}

/// Checks the whole table: one `/` (rw or ro), and exactly the API mounts and `extra`.
/// mountinfo lists mounts in allocation order: the launcher makes `/dev` and `/run` while the
/// child binds the tree (premade.rs), so `/` need not be the first line.
fn assert_mount_table(m: &[MountLine], root_ro: bool, extra: &[&str]) {
    let roots: Vec<&MountLine> = m.iter().filter(|l| l.point == "/").collect();
    assert_eq!(roots.len(), 1, "{m:#?}");
    let want_root = if root_ro { "ro" } else { "rw" };
    assert_eq!(roots[0].opts.split(',').next(), Some(want_root), "{:?}", roots[0]);
    let mut got: Vec<String> = Vec::new();
    for l in m.iter().filter(|l| l.point != "/") {
        if l.point == "/sys/fs/cgroup" {
            // The container's own cgroup, when the host gives it one: cgroup2, read-only.
            assert_eq!((l.fstype.as_str(), l.opts.as_str()), ("cgroup2", "ro,nosuid,nodev,noexec,relatime"), "{l:?}");
            continue;
        }
        got.push(format!("{} {} {} {}", l.point, l.fstype, l.opts, l.root));
    }
    let mut want = expected_api_mounts();
    want.extend(extra.iter().map(|s| s.to_string()));
    // mountinfo lists mounts in allocation order (a bind source is cloned before the API
    // file systems are made), not attach order: compare the sets.
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn api_mounts_are_exactly_nspawns() {
    let t = Test::new("api-mounts");
    let m = mounts(&t, &[]);
    assert_mount_table(&m, false, &[]);
    // File-system options that matter.
    assert!(find(&m, "/run").has_super("mode=755") && find(&m, "/run").has_super("nr_inodes=819200"), "{m:#?}");
    let dev = find(&m, "/dev");
    assert!(dev.has_super("mode=755") && dev.has_super("size=4096k") && dev.has_super("nr_inodes=65536"), "{dev:?}");
    let pts = find(&m, "/dev/pts");
    assert!(pts.has_super("gid=5") && pts.has_super("mode=620") && pts.has_super("ptmxmode=666"), "{pts:?}");
    // Mode 1777 is tmpfs' default, which mountinfo does not print.
    for p in ["/dev/shm", "/tmp"] {
        let l = find(&m, p);
        assert!(l.has_super("nr_inodes=409600") && !l.super_opts.contains("mode="), "{l:?}");
    }
}

#[test]
fn api_mounts_are_the_same_with_a_pty_console() {
    let t = Test::new("api-mounts-pty");
    let out_dir = t.host_dir("out");
    let out = t
        .cmd(&[
            "--console=passive",
            &format!("--bind={}:/out", out_dir.display()),
            "/bin/sh",
            "-c",
            "cat /proc/self/mountinfo > /out/m",
        ])
        .run();
    assert_eq!(out.code(0), "", "{out:?}");
    let m = parse_mountinfo(&fs::read_to_string(out_dir.join("m")).unwrap());
    let bind = format!("/out {} rw,relatime {}", find(&m, "/out").fstype, find(&m, "/out").root);
    // With a pty, /dev/console is the container's pty slave (pts/0) bound on a file.
    assert_mount_table(&m, false, &[&bind, "/dev/console devpts rw,nosuid,noexec,relatime /0"]);
}

#[test]
fn proc_sys_sys_and_masked_files_are_read_only() {
    let t = Test::new("ro-api");
    let out = t.sh(
        &[],
        "echo 1 > /proc/sys/kernel/domainname; echo rc=$?; \
         echo x > /sys/kernel/uevent_helper; echo rc=$?; \
         wc -c < /proc/kallsyms; stat -c '%s %a %F' /proc/kallsyms /proc/keys /proc/timer_list; \
         echo x > /proc/keys; echo rc=$?; \
         touch /run/host/x; echo rc=$?; ls /run/host; cat /run/host/container-manager /run/host/container-uuid",
    );
    assert_eq!(
        out.code(0),
        format!(
            "rc=1\nrc=1\n0\n0 0 regular empty file\n0 0 regular empty file\n0 0 regular empty file\nrc=1\nrc=1\n\
             container-manager\ncontainer-uuid\ninaccessible\nnotify\nos-release\nspawnbox\n{}\n",
            t.uuid
        ),
        "{out:?}"
    );
    assert_eq!(
        out.stderr,
        "/bin/sh: can't create /proc/sys/kernel/domainname: Read-only file system\n\
         /bin/sh: can't create /sys/kernel/uevent_helper: Read-only file system\n\
         /bin/sh: can't create /proc/keys: Read-only file system\n\
         touch: /run/host/x: Read-only file system\n"
    );
    // /run/host/os-release is the host's.
    let rel = t.sh(&[], "cat /run/host/os-release").ok().to_string();
    assert_eq!(rel, fs::read_to_string("/etc/os-release").unwrap());
}

#[test]
fn read_only_root_with_writable_tmp_and_run() {
    let t = Test::new("read-only");
    let before = tree_listing(&t.root);
    let m = mounts(&t, &["--read-only"]);
    assert_mount_table(&m, true, &[]);
    let out = t.sh(
        &["--read-only"],
        "touch /x; echo rc=$?; mkdir /etc/d; echo rc=$?; echo x >> /etc/passwd; echo rc=$?; \
         touch /tmp/a /run/a /dev/shm/a /var/tmp/a 2>/dev/null; ls /tmp; ls /run; ls /dev/shm; ls /var/tmp | wc -l",
    );
    assert_eq!(out.code(0), "rc=1\nrc=1\nrc=1\na\na\nhost\na\n0\n", "{out:?}");
    assert_eq!(
        out.stderr,
        "touch: /x: Read-only file system\nmkdir: can't create directory '/etc/d': Read-only file system\n\
         /bin/sh: can't create /etc/passwd: Read-only file system\n"
    );
    // resolv.conf is bound (auto + read-only), not written: the tree is untouched.
    assert_eq!(tree_listing(&t.root), before);
}

#[test]
fn bind_host_directory_read_write() {
    let t = Test::new("bind-rw");
    let src = t.host_dir("data");
    fs::write(src.join("hello"), "from host\n").unwrap();
    let m = mounts(&t, &[&format!("--bind={}:/mnt/data", src.display())]);
    let l = find(&m, "/mnt/data");
    assert_eq!(l.opts.split(',').next(), Some("rw"), "{l:?}");
    let out = t.sh(
        &[&format!("--bind={}:/mnt/data", src.display())],
        "cat /mnt/data/hello; echo new > /mnt/data/new; stat -c %a /mnt",
    );
    // The missing mount point was created in the tree, mode 0755.
    assert_eq!(out.ok(), "from host\n755\n");
    assert_eq!(fs::read_to_string(src.join("new")).unwrap(), "new\n");
    assert!(t.rpath("/mnt/data").is_dir());
    assert_eq!(fs::read_dir(t.rpath("/mnt/data")).unwrap().count(), 0, "write went into the tree");
}

#[test]
fn bind_without_destination_uses_the_same_path() {
    let t = Test::new("bind-same");
    let src = t.host_dir("same");
    fs::write(src.join("f"), "same\n").unwrap();
    // The host path lies under /tmp, which is a tmpfs in the container: the bind lands on top.
    let p = src.display().to_string();
    let out = t.sh(&[&format!("--bind={p}")], &format!("cat {p}/f; grep -c ' {p} ' /proc/self/mountinfo"));
    assert_eq!(out.ok(), "same\n1\n");
}

#[test]
fn bind_ro_is_enforced() {
    let t = Test::new("bind-ro");
    let src = t.host_dir("ro");
    fs::write(src.join("f"), "ro\n").unwrap();
    let before = tree_listing(&src);
    let arg = format!("--bind-ro={}:/srv/ro", src.display());
    let l = find(&mounts(&t, &[&arg]), "/srv/ro").clone();
    assert_eq!(l.opts.split(',').next(), Some("ro"), "{l:?}");
    let out = t.sh(
        &[&arg],
        "cat /srv/ro/f; echo x > /srv/ro/f; echo rc=$?; touch /srv/ro/g; echo rc=$?; rm /srv/ro/f; echo rc=$?",
    );
    assert_eq!(out.code(0), "ro\nrc=1\nrc=1\nrc=1\n");
    assert_eq!(
        out.stderr,
        "/bin/sh: can't create /srv/ro/f: Read-only file system\ntouch: /srv/ro/g: Read-only file system\n\
         rm: can't remove '/srv/ro/f': Read-only file system\n"
    );
    assert_eq!(tree_listing(&src), before);
}

#[test]
fn bind_a_file() {
    let t = Test::new("bind-file");
    let src = t.path("hostfile");
    fs::write(&src, "file content\n").unwrap();
    let out = t.sh(
        &[&format!("--bind={}:/etc/hostfile", src.display())],
        "cat /etc/hostfile; echo more >> /etc/hostfile; stat -c %F /etc/hostfile",
    );
    assert_eq!(out.ok(), "file content\nregular file\n");
    assert_eq!(fs::read_to_string(&src).unwrap(), "file content\nmore\n");
    // The mount point is an empty file in the tree.
    assert_eq!(fs::read_to_string(t.rpath("/etc/hostfile")).unwrap(), "");
}

#[test]
fn bind_with_in_root_source() {
    let t = Test::new("bind-plus");
    t.write("/srv/site/index", "in tree\n");
    let out = t.sh(
        &["--bind=+/srv/site:/var/www", "--bind-ro=+/etc/passwd:/mnt/passwd"],
        "cat /var/www/index; head -1 /mnt/passwd; echo x > /mnt/passwd; echo rc=$?",
    );
    assert_eq!(out.code(0), "in tree\nroot:x:0:0:root:/root:/bin/sh\nrc=1\n");
    assert_eq!(out.stderr, "/bin/sh: can't create /mnt/passwd: Read-only file system\n");
}

#[test]
fn bind_with_escaped_colons() {
    let t = Test::new("bind-colon");
    let src = t.host_dir("a:b");
    fs::write(src.join("f"), "colon\n").unwrap();
    let esc = src.display().to_string().replace(':', "\\:");
    let out = t.sh(&[&format!("--bind={esc}:/mnt/x\\:y")], "cat '/mnt/x:y/f'");
    assert_eq!(out.ok(), "colon\n");
}

/// Runs `script` in a container whose host bind source `src` has a tmpfs submount `src/sub`
/// holding `sub/f`; the submount exists only in a private mount namespace around spawnbox.
fn with_submount(t: &Test, bind: &str, script: &str) -> spawnbox_tests::Output {
    let src = t.host_dir("rsrc");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("top"), "top\n").unwrap();
    let setup = format!("mount -t tmpfs -o size=1m sub {s}/sub\necho submount > {s}/sub/f", s = src.display());
    t.cmd(&[&format!("{bind}={}:/mnt/r", src.display()), "/bin/sh", "-c", script]).in_private_mount_ns(&setup).run()
}

#[test]
fn bind_is_recursive_by_default() {
    let t = Test::new("rbind");
    let out = with_submount(&t, "--bind", "cat /mnt/r/top /mnt/r/sub/f; echo w > /mnt/r/sub/w; echo rc=$?");
    assert_eq!(out.ok(), "top\nsubmount\nrc=0\n");
    // The submount never reached the host: the host dir is empty.
    assert_eq!(fs::read_dir(t.path("rsrc/sub")).unwrap().count(), 0);
}

#[test]
fn bind_norbind_leaves_submounts_out() {
    let t = Test::new("norbind");
    let out = with_submount(&t, "--bind", "ls -A /mnt/r/sub | wc -l; grep -c ' /mnt/r' /proc/self/mountinfo");
    assert_eq!(out.ok(), "1\n2\n", "rbind: the submount is there");
    let src = t.path("rsrc").display().to_string();
    let setup = format!("mount -t tmpfs -o size=1m sub {src}/sub\necho submount > {src}/sub/f");
    let out = t
        .cmd(&[
            &format!("--bind={src}:/mnt/r:norbind"),
            "/bin/sh",
            "-c",
            "ls -A /mnt/r/sub | wc -l; cat /mnt/r/top; grep -c ' /mnt/r' /proc/self/mountinfo",
        ])
        .in_private_mount_ns(&setup)
        .run();
    assert_eq!(out.ok(), "0\ntop\n1\n");
}

#[test]
fn bind_ro_recursive_makes_submounts_read_only() {
    let t = Test::new("rbind-ro");
    let out = with_submount(&t, "--bind-ro", "cat /mnt/r/sub/f; echo w > /mnt/r/sub/w; echo rc=$?");
    assert_eq!(out.code(0), "submount\nrc=1\n");
    assert_eq!(out.stderr, "/bin/sh: can't create /mnt/r/sub/w: Read-only file system\n");
}

#[test]
fn bind_source_missing_is_an_error_and_leaves_nothing() {
    let t = Test::new("bind-missing");
    let before = tree_listing(&t.root);
    let missing = t.path("nope");
    t.run(&[&format!("--bind={}:/mnt/x", missing.display()), "/bin/true"])
        .error(&format!("--bind={m}:/mnt/x: stat {m}: no such file or directory", m = missing.display()));
    assert_eq!(tree_listing(&t.root), before);
    assert!(!missing.exists());
}

#[test]
fn tmpfs_with_default_and_given_options() {
    let t = Test::new("tmpfs");
    let args = ["--tmpfs=/mnt/t", "--tmpfs=/var/scratch:mode=1777,size=1m,ro,noexec,nosuid"];
    let m = mounts(&t, &args);
    let a = find(&m, "/mnt/t");
    assert_eq!((a.fstype.as_str(), a.opts.as_str()), ("tmpfs", "rw,nodev"), "{a:?}");
    assert!(a.has_super("mode=755"), "{a:?}");
    let b = find(&m, "/var/scratch");
    assert_eq!((b.fstype.as_str(), b.opts.as_str()), ("tmpfs", "ro,nosuid,nodev,noexec"), "{b:?}");
    // 1777 is tmpfs' default mode, which mountinfo does not print; stat shows it below.
    assert!(b.has_super("size=1024k") && !b.super_opts.contains("mode="), "{b:?}");
    let out =
        t.sh(&args, "stat -c %a /mnt/t /var/scratch; touch /mnt/t/f && ls /mnt/t; touch /var/scratch/f; echo rc=$?");
    assert_eq!(out.code(0), "755\n1777\nf\nrc=1\n");
    assert_eq!(out.stderr, "touch: /var/scratch/f: Read-only file system\n");
    // The tree only got the (empty) mount points.
    assert_eq!(fs::read_dir(t.rpath("/mnt/t")).unwrap().count(), 0);
}

#[test]
fn overlay_writes_go_to_the_upper_directory() {
    let t = Test::new("overlay");
    let lower = t.host_dir("lower");
    let upper = t.host_dir("upper");
    fs::write(lower.join("a"), "lower a\n").unwrap();
    fs::write(lower.join("b"), "lower b\n").unwrap();
    let lower_before = tree_listing(&lower);
    let arg = format!("--overlay={}:{}:/srv/ov", lower.display(), upper.display());
    let out = t.sh(
        &[&arg],
        "cat /srv/ov/a; echo changed > /srv/ov/a; echo new > /srv/ov/c; rm /srv/ov/b; ls /srv/ov; grep ' /srv/ov ' /proc/self/mountinfo | cut -d' ' -f5,6,9",
    );
    assert_eq!(out.ok(), "lower a\na\nc\n/srv/ov rw,relatime overlay\n");
    assert_eq!(tree_listing(&lower), lower_before, "the lower layer changed");
    assert_eq!(fs::read_to_string(upper.join("a")).unwrap(), "changed\n");
    assert_eq!(fs::read_to_string(upper.join("c")).unwrap(), "new\n");
    // b is a whiteout (character device 0:0) in the upper layer.
    let wh = fs::symlink_metadata(upper.join("b")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(&wh.file_type()));
    // The work directory beside the upper one is gone after the exit.
    let left: Vec<_> = fs::read_dir(&t.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("work"))
        .collect();
    assert!(left.is_empty(), "work directory left behind: {left:?}");
}

#[test]
fn overlay_with_in_root_layers() {
    let t = Test::new("overlay-plus");
    t.write("/srv/lower/f", "lower\n");
    fs::create_dir_all(t.rpath("/srv/upper")).unwrap();
    let out = t.sh(&["--overlay=+/srv/lower:+/srv/upper:/srv/merged"], "cat /srv/merged/f; echo up > /srv/merged/g");
    assert_eq!(out.ok(), "lower\n");
    assert_eq!(fs::read_to_string(t.rpath("/srv/upper/g")).unwrap(), "up\n");
    assert!(!t.rpath("/srv/lower/g").exists());
    let mut names: Vec<_> = fs::read_dir(t.rpath("/srv"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["lower", "merged", "upper"], "work directory left in the tree");
}

#[test]
fn overlay_ro_stacks_layers_read_only() {
    let t = Test::new("overlay-ro");
    let l1 = t.host_dir("l1");
    let l2 = t.host_dir("l2");
    fs::write(l1.join("f"), "bottom\n").unwrap();
    fs::write(l1.join("only1"), "1\n").unwrap();
    fs::write(l2.join("f"), "top\n").unwrap();
    let before = (tree_listing(&l1), tree_listing(&l2));
    // The rightmost layer before the destination is the top one.
    let arg = format!("--overlay-ro={}:{}:/srv/ro", l1.display(), l2.display());
    let out = t.sh(&[&arg], "cat /srv/ro/f /srv/ro/only1; touch /srv/ro/x; echo rc=$?; grep ' /srv/ro ' /proc/self/mountinfo | cut -d' ' -f6,9");
    assert_eq!(out.code(0), "top\n1\nrc=1\nro,relatime overlay\n");
    assert_eq!(out.stderr, "touch: /srv/ro/x: Read-only file system\n");
    assert_eq!((tree_listing(&l1), tree_listing(&l2)), before);
}

#[test]
fn inaccessible_file_and_directory() {
    let t = Test::new("inaccessible");
    t.write("/srv/secret/key", "secret\n");
    let args = ["--inaccessible=/etc/os-release", "--inaccessible=/srv/secret"];
    let m = mounts(&t, &args);
    let f = find(&m, "/etc/os-release");
    assert_eq!((f.root.as_str(), f.opts.split(',').next()), ("/host/inaccessible/reg", Some("ro")), "{f:?}");
    let d = find(&m, "/srv/secret");
    assert_eq!((d.root.as_str(), d.opts.split(',').next()), ("/host/inaccessible/dir", Some("ro")), "{d:?}");
    // root (with CAP_DAC_OVERRIDE) sees empty inodes of mode 0; alice cannot open them.
    let out =
        t.sh(&args, "stat -c '%a %s' /etc/os-release /srv/secret; cat /etc/os-release; ls -A /srv/secret | wc -l");
    assert_eq!(out.ok(), "0 0\n0 40\n0\n");
    let mut alice = args.to_vec();
    alice.extend(["-u", "alice"]);
    let out = t.sh(&alice, "cat /etc/os-release; echo rc=$?; ls /srv/secret; echo rc=$?");
    assert_eq!(out.code(0), "rc=1\nrc=1\n");
    assert_eq!(
        out.stderr,
        "cat: can't open '/etc/os-release': Permission denied\nls: can't open '/srv/secret': Permission denied\n"
    );
    assert_eq!(fs::read_to_string(t.rpath("/srv/secret/key")).unwrap(), "secret\n");
}

#[test]
fn rootidmap_and_owneridmap_work_without_a_user_namespace() {
    // nspawn ≥ 256: the source's owner is the container's root, or the target's owner inside;
    // without -U container ids are host ids, and everything else shows as nobody.
    let t = Test::new("bind-idmap-nouserns");
    let src = t.host_dir("src");
    fs::write(src.join("f"), "").unwrap();
    fs::write(src.join("by-other"), "").unwrap();
    for p in [src.as_path(), &src.join("f")] {
        std::os::unix::fs::chown(p, Some(1234), Some(1234)).unwrap();
    }
    std::os::unix::fs::chown(src.join("by-other"), Some(4321), Some(4321)).unwrap();
    t.write("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n");
    t.write("/etc/group", "root:x:0:\nu:x:1000:\n");
    fs::create_dir_all(t.rpath("/home/u")).unwrap();
    std::os::unix::fs::chown(t.rpath("/home/u"), Some(1000), Some(1000)).unwrap();
    let owner = |p: &std::path::Path| {
        let m = fs::metadata(p).unwrap();
        (std::os::unix::fs::MetadataExt::uid(&m), std::os::unix::fs::MetadataExt::gid(&m))
    };

    let b = format!("--bind={}:/mnt:rootidmap", src.display());
    let out = t.sh(&[&b], "stat -c %u:%g /mnt /mnt/f /mnt/by-other; touch /mnt/by-root");
    assert_eq!(out.ok(), "0:0\n0:0\n65534:65534\n");
    assert_eq!(owner(&src.join("by-root")), (1234, 1234));

    let b = format!("--bind={}:/home/u:owneridmap", src.display());
    let out = t.sh(&[&b, "--user=u"], "id -u; stat -c %u:%g /home/u/f; touch /home/u/by-u");
    assert_eq!(out.ok(), "1000\n1000:1000\n");
    assert_eq!(owner(&src.join("by-u")), (1234, 1234));
    // The host's view of the source is unchanged.
    assert_eq!(owner(&src.join("f")), (1234, 1234));
}

#[test]
fn overlay_with_an_empty_upper_writes_to_a_throw_away_directory() {
    // nspawn: `--overlay=LOWER::DST` puts the upper below the host's /var/tmp and removes it
    // when the container ends.
    assert_eq!(spawnbox_tests::host::throwaway_uppers(), Vec::<String>::new());
    let t = Test::new("overlay-tmp-upper");
    let lower = t.host_dir("lower");
    fs::write(lower.join("from-lower"), "lower\n").unwrap();
    let o = format!("--overlay={}::/mnt", lower.display());
    let script = "cat /mnt/from-lower; echo new > /mnt/written; cat /mnt/written; \
                  grep ' /mnt ' /proc/self/mounts | cut -d' ' -f3; ls -d /var/tmp/spawnbox-overlay-* 2>/dev/null | wc -l";
    assert_eq!(t.sh(&[&o], script).ok(), "lower\nnew\noverlay\n0\n");
    assert!(!lower.join("written").exists());
    assert_eq!(spawnbox_tests::host::throwaway_uppers(), Vec::<String>::new());
}

/// A tree holding a second OS tree at `/deploy` (as an OSTree deployment does), each with a
/// marker file naming it.
fn ostree_like(tag: &str) -> Test {
    let t = Test::new(tag);
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(spawnbox_tests::template())
        .arg(t.rpath("/deploy"))
        .status()
        .unwrap();
    assert!(st.success());
    t.write("/marker", "outer\n");
    t.write("/deploy/marker", "deploy\n");
    t
}

#[test]
fn pivot_root_makes_a_directory_of_the_tree_the_root() {
    let t = ostree_like("pivot");
    // Without OLD the tree itself is gone from the container.
    let out = t.sh(
        &["--pivot-root=/deploy"],
        "cat /marker; ls /sysroot 2>&1; awk '$5 == \"/\" { print $4 }' /proc/self/mountinfo",
    );
    assert_eq!(out.ok(), format!("deploy\nls: /sysroot: No such file or directory\n{}/deploy\n", t.root.display()));
    // With OLD the tree stays reachable there (created inside NEW when missing).
    let out = t.sh(&["--pivot-root=/deploy:/sysroot"], "cat /marker /sysroot/marker; ls -d /sysroot/deploy");
    assert_eq!(out.ok(), "deploy\nouter\n/sysroot/deploy\n");
    assert!(t.rpath("/deploy/sysroot").is_dir());
    // The same with a user namespace (the pinned procfs lives in the new root).
    let out = t.sh(&["-U", "--pivot-root=/deploy"], "cat /marker; id -u; echo $$; ls /proc/1/comm");
    assert_eq!(out.ok(), "deploy\n0\n1\n/proc/1/comm\n");
    let out = t.sh(&["-U", "--pivot-root=/deploy:/sysroot"], "cat /marker /sysroot/marker");
    assert_eq!(out.ok(), "deploy\nouter\n");
}

#[test]
fn pivot_root_boots_the_init_of_the_new_root() {
    // nspawn checks the os-release file and looks for the init in NEW, not in the tree.
    let t = ostree_like("pivot-boot");
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
        let _ = fs::remove_file(t.rpath(p));
    }
    fs::remove_file(t.rpath("/sbin/init")).unwrap();
    fs::remove_file(t.rpath("/deploy/sbin/init")).unwrap();
    t.write("/deploy/etc/os-release", "ID=deploy\n");
    t.script("/deploy/sbin/init", "echo init $$ $(cat /marker); exit 4");
    assert_eq!(t.run(&["-b", "--pivot-root=/deploy"]).code(4), "init 1 deploy\n");
    let dir = t.root.display().to_string();
    t.run(&["-b"]).error(&format!(
        "directory {dir} doesn't look like an OS root directory (os-release file is missing), refusing"
    ));
}

#[test]
fn pivot_root_stays_inside_the_tree_and_reports_a_missing_directory() {
    let t = ostree_like("pivot-hostile");
    // A symlink climbing out resolves inside the tree (RESOLVE_IN_ROOT): its root, not the host's.
    std::os::unix::fs::symlink("../../../../../../../..", t.rpath("/up")).unwrap();
    assert_eq!(t.sh(&["--pivot-root=/up"], "cat /marker").ok(), "outer\n");
    let out = t.run(&["--pivot-root=/nope", "/bin/true"]);
    out.error(&format!("--pivot-root=/nope: open {}/nope: no such file or directory", t.root.display()));
    t.write("/file", "x");
    t.run(&["--pivot-root=/file", "/bin/true"])
        .error(&format!("--pivot-root=/file: open {}/file: not a directory", t.root.display()));
}
