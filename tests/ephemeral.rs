//! Root integration tests of `-x/--ephemeral` and `--volatile=`: the tree stays byte for byte
//! what it was (a `find -printf` listing and a sha256 of every file, before and after), writes
//! vanish, the machine name gets its random suffix, nothing is left on the host (mounts, temp
//! directories, runtime entries, cgroups); `-D /`; the btrfs snapshot on a loop-mounted btrfs
//! and what a killed launcher leaves of it; each volatile mode seen from inside, with and
//! without a user namespace, and booted busybox guests.

use rustix::process::Signal;
use spawnbox_tests::pty::Pty;
use spawnbox_tests::{cgroups_of_machine, parse_mountinfo, template, Cmd, Running, Test};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What "byte-identical" means: every entry's path, mode, owner, group, size, mtime and link
/// target, and the sha256 of every regular file.
fn fingerprint(dir: &Path) -> (Vec<String>, Vec<String>) {
    let lines = |args: &[&str]| {
        let out = Command::new("find").arg(dir).args(args).output().expect("run find");
        assert!(out.status.success(), "find {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        v.sort();
        v
    };
    let listing = lines(&["-printf", "%p %m %u %g %s %T@ %l\n"]);
    let sums = lines(&["-type", "f", "-exec", "sha256sum", "{}", "+"]);
    assert!(listing.len() > 20 && sums.len() > 3, "{listing:?}");
    (listing, sums)
}

/// The machine name a `-x` start derives from `base`: `base-` and 16 lowercase hex digits.
fn assert_suffixed(name: &str, base: &str) {
    let hex = name.strip_prefix(&format!("{base}-")).unwrap_or_else(|| panic!("{name:?} is not {base}-..."));
    assert!(hex.len() == 16 && hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')), "{name:?}");
}

/// Entries of the host's temp and runtime directories that a run could leave.
fn host_leftovers(machine: &str) -> Vec<String> {
    let mut out = Vec::new();
    for d in ["/tmp", "/var/tmp", "/run/spawnbox", "/run/spawnbox/machines"] {
        for e in fs::read_dir(d).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.contains(machine) || n.starts_with("spawnbox-overlay") || n.contains("nspawn") {
                out.push(format!("{d}/{n}"));
            }
        }
    }
    out.extend(cgroups_of_machine(machine).iter().map(|p| p.display().to_string()));
    out
}

/// The entries of `dir`'s parent that look like snapshots of it (`.#NAME.`).
fn snapshots_of(dir: &Path) -> Vec<String> {
    let base = format!(".#{}.", dir.file_name().unwrap().to_string_lossy());
    let mut v: Vec<String> = fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&base))
        .collect();
    v.sort();
    v
}

fn root_fstype(mountinfo: &str) -> String {
    parse_mountinfo(mountinfo).into_iter().find(|m| m.point == "/").map(|m| m.fstype).unwrap_or_default()
}

#[test]
fn ephemeral_writes_vanish_and_the_tree_stays_byte_identical() {
    let t = Test::new("eph");
    let before = fingerprint(&t.root);
    let script = "hostname; echo new > /etc/new; echo more >> /etc/passwd; rm /etc/group; mkdir -p /srv/d; \
                  chmod 600 /etc/os-release; mv /home/alice /home/bob; ln -s x /l; ls /etc | tr '\\n' ' '; echo; \
                  cat /proc/self/mountinfo > /tmp/m; grep -c more /etc/passwd; cat /tmp/m";
    let out = t.sh(&["-x"], script);
    let text = out.ok();
    let mut lines = text.lines();
    let name = lines.next().unwrap().to_string();
    assert_suffixed(&name, &t.root.file_name().unwrap().to_string_lossy());
    assert_eq!(lines.next(), Some("new os-release passwd resolv.conf "), "{text}");
    assert_eq!(lines.next(), Some("1"));
    let mountinfo: String = lines.map(|l| format!("{l}\n")).collect();
    assert_eq!(root_fstype(&mountinfo), "overlay", "{mountinfo}");
    assert_eq!(fingerprint(&t.root), before, "the tree changed");
    assert_eq!(host_leftovers(&name), Vec::<String>::new());
}

#[test]
fn ephemeral_machines_of_one_tree_run_side_by_side() {
    let t = Test::new("eph-two");
    let before = fingerprint(&t.root);
    let mut a = t.cmd(&["-x", "/bin/sh", "-c", "echo a > /f; hostname; sleep 5; cat /f"]).spawn();
    a.wait_for_stdout("\n", Duration::from_secs(10));
    let b = t.sh(&["-x"], "hostname; cat /f 2>&1; echo b > /f");
    let out_a = a.wait();
    let (name_a, name_b) = (out_a.ok().lines().next().unwrap(), b.code(0).lines().next().unwrap());
    assert_ne!(name_a, name_b);
    assert_eq!(out_a.ok().lines().nth(1), Some("a"), "{out_a:?}");
    assert_eq!(b.stdout.lines().nth(1), Some("cat: can't open '/f': No such file or directory"), "{b:?}");
    assert_eq!(fingerprint(&t.root), before);
}

#[test]
fn ephemeral_read_only_and_in_a_user_namespace() {
    let t = Test::new("eph-ro-userns");
    let before = fingerprint(&t.root);
    let out =
        t.sh(&["-x", "--read-only"], "touch /etc/x; grep ' / ' /proc/self/mounts | cut -d' ' -f3,4 | cut -d, -f1");
    assert_eq!(out.code(0), "overlay ro\n", "{out:?}");
    assert_eq!(out.stderr, "touch: /etc/x: Read-only file system\n");
    // -U: the overlay is made over the idmapped tree; the container's root owns / and what it
    // writes, the host's files keep their owners.
    let script = "echo x > /etc/x; rm /etc/group; stat -c '%u:%g %a' / /etc/x /etc/passwd /home/alice; \
                  awk '{print $1, $3}' /proc/self/uid_map";
    let out = t.sh(&["-x", "-U"], script);
    assert_eq!(out.ok(), "0:0 755\n0:0 644\n0:0 644\n1000:1000 755\n0 65536\n");
    assert_eq!(fingerprint(&t.root), before);
    // Ownership must not be changed in place.
    t.run(&["-x", "-U", "--private-users-ownership=chown", "/bin/true"]).error(&format!(
        "--private-users-ownership=chown: {} would be chowned, but --ephemeral and --volatile leave the tree as it is \
         (it cannot be mounted idmapped here)",
        t.root.display()
    ));
    assert_eq!(fingerprint(&t.root), before);
}

#[test]
fn ephemeral_refuses_an_upper_directory_inside_the_tree() {
    let t = Test::new("eph-upper");
    let before = fingerprint(&t.root);
    for opt in ["-x", "--volatile=overlay"] {
        t.run(&[opt, "--overlay=+/etc:+/srv/up:/mnt", "/bin/true"]).error(
            "--overlay=...:/mnt: an upper directory inside the tree cannot be used with --ephemeral or --volatile \
             (the tree is not written to)",
        );
    }
    assert_eq!(fingerprint(&t.root), before);
}

#[test]
fn ephemeral_host_root_reads_the_host_and_forgets_its_writes() {
    // The tree only serves the common checks (processes, mounts, cgroups of the test).
    let t = Test::new("eph-host");
    let probe = format!("/etc/spawnbox-eph-{}", t.uuid);
    let script = format!(
        "hostname; cat /etc/os-release; echo x > {probe}; rm -f /etc/hostname; cat {probe}; \
         test -e /etc/hostname || echo hostname-gone; grep -c ' / overlay ' /proc/self/mounts"
    );
    let host_hostname = fs::read("/etc/hostname").ok();
    let out = Cmd::new()
        .args(&["-D", "/", "-x", "--console=pipe", &format!("--uuid={}", t.uuid), "/bin/sh", "-c", &script])
        .run();
    let text = out.ok();
    let uname = rustix::system::uname();
    let name = text.lines().next().unwrap();
    assert_suffixed(name, &uname.nodename().to_string_lossy());
    let os_release = fs::read_to_string("/etc/os-release").unwrap();
    assert_eq!(text, format!("{name}\n{os_release}x\nhostname-gone\n1\n"));
    assert!(!Path::new(&probe).exists());
    assert_eq!(fs::read("/etc/hostname").ok(), host_hostname);
    assert_eq!(host_leftovers(name), Vec::<String>::new());
    // Without -x or --volatile=yes|state, / is refused, as nspawn does.
    Cmd::new()
        .args(&["-D", "/", "--volatile=overlay", "/bin/true"])
        .run()
        .error("--directory=/ needs --ephemeral, --volatile=yes or --volatile=state");
}

#[test]
fn a_killed_ephemeral_launcher_leaves_nothing_on_the_host() {
    let t = Test::new("eph-kill");
    let before = fingerprint(&t.root);
    let mut run = t.cmd(&["-x", "/bin/sh", "-c", "echo x > /etc/x; hostname; exec sleep 60"]).spawn();
    run.wait_for_stdout("\n", Duration::from_secs(10));
    let name = run.stdout_so_far().trim().to_string();
    run.kill(Signal::KILL);
    assert_eq!(run.wait().signal, Some(9));
    assert!(t.wait_no_processes(Duration::from_secs(5)).is_empty());
    assert_eq!(fingerprint(&t.root), before);
    // The overlay went with the container's mount namespace; only the cgroup waits for
    // --cleanup (as after any killed launcher).
    let out = t.bare().args(&["--cleanup", "-M", &name]).run();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(host_leftovers(&name), Vec::<String>::new());
}

/// A loop-mounted btrfs in the test's temp dir; unmounted and its loop device detached when
/// dropped (also when the test failed). Declare it after the `Test`, so that it goes first.
///
/// It is mounted in a mount namespace of the test's thread only (a slave of the host's): the
/// other tests, which compare the host's mount table before and after, never see it, and the
/// spawnbox runs this thread starts do.
struct Btrfs {
    mnt: PathBuf,
    loop_dev: String,
}

impl Btrfs {
    fn new(t: &Test) -> Btrfs {
        // SAFETY: unshare(2) without memory arguments; CLONE_FS first, as a thread that shares
        // its file-system information with the others cannot get a mount namespace of its own.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_FS | libc::CLONE_NEWNS) }, 0, "unshare");
        rustix::mount::mount_change(
            "/",
            rustix::mount::MountPropagationFlags::DOWNSTREAM | rustix::mount::MountPropagationFlags::REC,
        )
        .expect("make / a slave");
        let img = t.path("btrfs.img");
        fs::File::create(&img).unwrap().set_len(256 << 20).unwrap();
        let mkfs = Command::new("mkfs.btrfs").arg("-q").arg(&img).output().expect("run mkfs.btrfs (make deps)");
        assert!(mkfs.status.success(), "mkfs.btrfs: {}", String::from_utf8_lossy(&mkfs.stderr));
        let losetup = Command::new("losetup").arg("--find").arg("--show").arg(&img).output().expect("run losetup");
        assert!(losetup.status.success(), "losetup: {}", String::from_utf8_lossy(&losetup.stderr));
        let fs =
            Btrfs { mnt: t.host_dir("btrfs"), loop_dev: String::from_utf8_lossy(&losetup.stdout).trim().to_string() };
        let st = Command::new("mount").arg(&fs.loop_dev).arg(&fs.mnt).status().unwrap();
        assert!(st.success(), "mount {} failed", fs.loop_dev);
        fs
    }

    /// A subvolume `name` holding a copy of the busybox rootfs.
    fn tree(&self, name: &str) -> PathBuf {
        let p = self.mnt.join(name);
        let st = Command::new("btrfs").args(["-q", "subvolume", "create"]).arg(&p).status().unwrap();
        assert!(st.success());
        let st = Command::new("cp").arg("-a").arg(template().join(".")).arg(&p).status().unwrap();
        assert!(st.success());
        p
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
        let _ = Command::new("losetup").args(["-d", &self.loop_dev]).status();
    }
}

#[test]
fn ephemeral_on_a_btrfs_subvolume_runs_on_a_snapshot() {
    let t = Test::new("eph-btrfs");
    let fs = Btrfs::new(&t);
    let base = format!("bt{}", std::process::id());
    let tree = fs.tree(&base);
    let before = fingerprint(&tree);
    let out = Cmd::new()
        .args(&["-D", &tree.display().to_string(), "-x", "--console=pipe", &format!("--uuid={}", t.uuid)])
        .args(&[
            "/bin/sh",
            "-c",
            "hostname; echo x > /etc/x; rm /etc/group; ls /etc | tr '\\n' ' '; echo; cat /proc/self/mountinfo",
        ])
        .run();
    let text = out.ok();
    let name = text.lines().next().unwrap();
    assert_suffixed(name, &base);
    assert_eq!(text.lines().nth(1), Some("os-release passwd resolv.conf x "));
    let mountinfo: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
    let root = parse_mountinfo(&mountinfo).into_iter().find(|m| m.point == "/").unwrap();
    // The snapshot `.#NAME.XXXXXXXXXXXXXXXX` next to the tree is the container's /.
    assert_eq!(root.fstype, "btrfs");
    let snap = root.root.strip_prefix('/').unwrap().to_string();
    assert_eq!(snap.len(), format!(".#{base}.").len() + 16, "{snap}");
    assert!(snap.starts_with(&format!(".#{base}.")), "{snap}");
    assert_eq!(snapshots_of(&tree), Vec::<String>::new(), "the snapshot was not removed");
    assert_eq!(fingerprint(&tree), before);
    assert_eq!(host_leftovers(name), Vec::<String>::new());
    drop(fs);
}

#[test]
fn a_killed_launchers_snapshot_goes_with_the_next_start_or_cleanup() {
    let t = Test::new("eph-btrfs-kill");
    let fs = Btrfs::new(&t);
    let base = format!("bk{}", std::process::id());
    let tree = fs.tree(&base);
    let dir = tree.display().to_string();
    let start = |script: &str| -> Running {
        Cmd::new()
            .args(&["-D", &dir, "-x", "--console=pipe", &format!("--uuid={}", t.uuid), "/bin/sh", "-c", script])
            .spawn()
    };
    let killed = |what: &str| -> (String, Vec<String>) {
        let mut run = start("hostname; exec sleep 60");
        run.wait_for_stdout("\n", Duration::from_secs(10));
        let name = run.stdout_so_far().trim().to_string();
        let snaps = snapshots_of(&tree);
        assert_eq!(snaps.len(), 1, "{what}: {snaps:?}");
        run.kill(Signal::KILL);
        assert_eq!(run.wait().signal, Some(9));
        assert!(t.wait_no_processes(Duration::from_secs(5)).is_empty());
        assert_eq!(snapshots_of(&tree), snaps, "{what}: the killed launcher's snapshot is left");
        (name, snaps)
    };
    let cleanup = |name: &str| {
        let out = Cmd::new().args(&["--cleanup", "-D", &dir, "-M", name]).run();
        assert_eq!(out.code, Some(0), "{out:?}");
        out
    };

    // The next start removes it (one snapshot left: its own), and a snapshot in use stays while
    // another start comes and goes.
    let (name, killed_snap) = killed("first kill");
    let mut live = start("hostname; exec sleep 60");
    live.wait_for_stdout("\n", Duration::from_secs(10));
    let live_snap = snapshots_of(&tree);
    assert_eq!(live_snap.len(), 1, "{live_snap:?}");
    assert_ne!(live_snap, killed_snap);
    assert_eq!(Cmd::new().args(&["-D", &dir, "-x", "-q", "--console=pipe", "/bin/true"]).run().code(0), "");
    assert_eq!(snapshots_of(&tree), live_snap, "a running machine's snapshot was removed");
    cleanup(&name); // the killed launcher's cgroup
    live.kill(Signal::TERM);
    live.wait();
    assert_eq!(snapshots_of(&tree), Vec::<String>::new());

    // --cleanup removes it too, and says so.
    let (name, _) = killed("second kill");
    let out = cleanup(&name);
    assert!(out.stderr.contains(&format!("removed 1 left-over ephemeral snapshot(s) of {dir}")), "{out:?}");
    assert_eq!(snapshots_of(&tree), Vec::<String>::new());
    assert_eq!(host_leftovers(&name), Vec::<String>::new());
    drop(fs);
}

/// Makes the test's busybox tree a merged-/usr one: `/bin` and `/sbin` move into `/usr`, and
/// become symlinks to it.
fn merge_usr(t: &Test) {
    for d in ["bin", "sbin"] {
        for e in fs::read_dir(t.rpath(d)).unwrap().flatten() {
            fs::rename(e.path(), t.rpath(&format!("usr/{d}")).join(e.file_name())).unwrap();
        }
        fs::remove_dir(t.rpath(d)).unwrap();
        std::os::unix::fs::symlink(format!("usr/{d}"), t.rpath(d)).unwrap();
    }
    t.write("/var/lib/state", "kept\n");
}

/// What each volatile mode lets the container do: `/` and `/var` file systems, then the outcome
/// of writes to `/usr`, `/etc` and `/var`, and the tree's `/var/lib/state`.
const PROBE: &str = "for p in / /var; do grep \" $p \" /proc/self/mounts | cut -d' ' -f3,4 | cut -d, -f1; done; \
    for f in /usr/x /etc/x /var/x; do (echo > $f) 2>/dev/null && echo \"$f ok\" || echo \"$f failed\"; done; \
    cat /var/lib/state 2>&1; ls -d /bin/busybox; test -e /lib || echo no-lib";

#[test]
fn volatile_modes_seen_from_inside() {
    let t = Test::new("volatile");
    merge_usr(&t);
    let before = fingerprint(&t.root);
    let cases = [
        (
            "yes",
            "tmpfs rw\n/usr/x failed\n/etc/x ok\n/var/x ok\ncat: can't open '/var/lib/state': No such file or directory\n\
             /bin/busybox\nno-lib\n",
        ),
        (
            "state",
            "ext4 ro\ntmpfs rw\n/usr/x failed\n/etc/x failed\n/var/x ok\ncat: can't open '/var/lib/state': No such file or directory\n\
             /bin/busybox\nno-lib\n",
        ),
        ("overlay", "overlay rw\n/usr/x ok\n/etc/x ok\n/var/x ok\nkept\n/bin/busybox\nno-lib\n"),
    ];
    // The file system the tree lives on (the mount with the longest prefix of its path).
    let host_fs = parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap())
        .into_iter()
        .filter(|m| t.root.starts_with(&m.point))
        .max_by_key(|m| m.point.len())
        .unwrap()
        .fstype;
    for (mode, want) in cases {
        let want = want.replace("ext4", &host_fs);
        for userns in [false, true] {
            let mut opts = vec![format!("--volatile={mode}")];
            if userns {
                opts.push("-U".into());
            }
            let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
            let out = t.sh(&opts, PROBE);
            assert_eq!(out.ok(), want, "--volatile={mode} -U={userns}");
        }
        assert_eq!(fingerprint(&t.root), before, "--volatile={mode} changed the tree");
    }
    // /usr is the tree's, read-only, and the root is owned by the container's root.
    let out = t.sh(&["--volatile=yes", "-U"], "echo x > /usr/y; stat -c '%u %a' / /usr/bin/busybox");
    assert_eq!(out.code(0), "0 755\n0 755\n");
    assert_eq!(out.stderr, "/bin/sh: can't create /usr/y: Read-only file system\n");
    // --read-only changes nothing for an overlay of its own.
    assert_eq!(t.sh(&["--volatile=overlay", "--read-only"], "echo > /etc/x && echo ok").ok(), "ok\n");
}

#[test]
fn volatile_yes_needs_a_merged_usr() {
    let t = Test::new("volatile-unmerged");
    let before = fingerprint(&t.root);
    t.run(&["--volatile", "/bin/true"]).error(&format!(
        "--volatile=yes: {}/bin is a directory: the tree has not merged /bin, /sbin and /lib into /usr, \
         and a volatile root gets only its /usr",
        t.root.display()
    ));
    assert_eq!(fingerprint(&t.root), before);
}

/// The cached busybox-init guest (`tests/guests/mkguest.sh busybox`).
fn busybox_guest() -> PathBuf {
    let p = spawnbox_tests::guest("busybox");
    assert!(p.join("etc/inittab").exists(), "{} is no busybox guest", p.display());
    p
}

/// Boots the busybox guest with `opts` on a pty, runs `cmd` at its shell, and halts it with
/// SIGTERM (its `::shutdown:` action writes `/var/lib/spawnbox-marker`); what `cmd` printed.
fn boot_busybox(t: &Test, opts: &[&str], cmd: &str) -> String {
    let mut pty = Pty::new(40, 200);
    let mut args = vec!["-b"];
    args.extend_from_slice(opts);
    let mut run =
        t.bare().args(&args).env("TERM", "vt220").timeout(Duration::from_secs(300)).terminal(pty.slave()).spawn();
    let m = pty.mark();
    pty.expect_after(m, "# ", Duration::from_secs(120));
    let text = pty.run_at_prompt(cmd, Duration::from_secs(30)).replace('\r', "");
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    pty.expect("Trying to halt container by sending SIGUSR1 to container PID 1.", Duration::from_secs(30));
    text
}

#[test]
fn booted_busybox_guest_ephemeral_and_volatile_state() {
    let t = Test::from_tree("eph-boot", &busybox_guest());
    let before = fingerprint(&t.root);
    let marker = t.rpath("/var/lib/spawnbox-marker");
    let text = boot_busybox(
        &t,
        &["-x"],
        "hostname; cat /run/booted; echo x > /etc/x && echo written; grep -c '^overlay / ' /proc/mounts",
    );
    let mut lines = text.lines();
    assert_suffixed(lines.next().unwrap(), &t.root.file_name().unwrap().to_string_lossy());
    assert_eq!(lines.collect::<Vec<_>>(), ["booted", "written", "1"], "{text:?}");
    // The shutdown action wrote its marker into the overlay, gone with it.
    assert!(!marker.exists());
    assert_eq!(fingerprint(&t.root), before);

    let text = boot_busybox(
        &t,
        &["--volatile=state"],
        "(echo x > /etc/x) 2>/dev/null || echo refused; grep ' /var ' /proc/mounts | cut -d' ' -f3; cat /run/booted",
    );
    assert_eq!(text, "refused\ntmpfs\nbooted\n");
    assert!(!marker.exists());
    assert_eq!(fingerprint(&t.root), before);
}
