//! user namespace integration tests (root): uid_map/gid_map under each `--private-users` mode,
//! the `pick` range choice and its lock, the tree's ownership with idmapped mounts and with a
//! recursive chown (never leaving the tree), the `--bind` idmap options, the nodes spawnbox
//! creates owned by the container's root, capabilities, limits, boot with a delegated cgroup.

use spawnbox_tests::{Output, Test};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

const NET_BIND_SERVICE: u64 = 1 << 10;
const NET_ADMIN: u64 = 1 << 12;
const BASE_MIN: u32 = 0x0008_0000;
const BASE_MAX: u32 = 0x6FFF_0000;

/// `uid_map` and `gid_map` of the payload, each as `inside outside count`.
const MAPS: &str = "tr -s ' ' < /proc/self/uid_map; tr -s ' ' < /proc/self/gid_map";

fn maps(base: u32, size: u32) -> String {
    format!(" 0 {base} {size}\n 0 {base} {size}\n")
}

fn owner(p: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    (m.uid(), m.gid())
}

fn chown_tree(t: &Test, uid: u32, gid: u32) {
    let st =
        std::process::Command::new("chown").args(["-R", "-h", &format!("{uid}:{gid}")]).arg(&t.root).status().unwrap();
    assert!(st.success());
}

fn overflow_id() -> u32 {
    fs::read_to_string("/proc/sys/kernel/overflowuid").unwrap().trim().parse().unwrap()
}

/// The first base nspawn's `pick` tries for a root-owned tree: siphash24 of the machine name,
/// stored in a 32-bit uid_t before the modulo.
fn machine_candidate(machine: &str) -> u32 {
    const KEY: [u8; 16] =
        [0xe1, 0x56, 0xe0, 0xf0, 0x4a, 0xf0, 0x41, 0xaf, 0x96, 0x41, 0xcf, 0x41, 0x33, 0x94, 0xff, 0x72];
    let x = netsetup::siphash24(machine.as_bytes(), &KEY) as u32 as u64;
    ((x % (BASE_MAX - BASE_MIN) as u64) as u32 + BASE_MIN) & 0xFFFF_0000
}

/// The base of ` 0 BASE SIZE` (the first uid_map line).
fn base_of(out: &str) -> u32 {
    out.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn run_env(t: &Test, runtime: &Path, args: &[&str]) -> Output {
    t.cmd(args).env("SPAWNBOX_RUNTIME_DIR", runtime.to_str().unwrap()).run()
}

fn cap(out: &str, key: &str) -> u64 {
    let line = out.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in {out:?}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn identity_maps_every_id_to_itself() {
    let t = Test::new("userns-identity");
    let out =
        t.sh(&["--private-users=identity"], &format!("{MAPS}; stat -c %u:%g /etc/passwd; id -u")).ok().to_string();
    assert_eq!(out, format!("{}0:0\n0\n", maps(0, 65536)));
}

#[test]
fn explicit_base_and_size_are_the_map() {
    let t = Test::new("userns-fixed");
    let nobody = overflow_id();
    let out = t.sh(&["--private-users=524288"], &format!("{MAPS}; stat -c %u:%g /etc/passwd")).ok().to_string();
    assert_eq!(out, format!("{}{nobody}:{nobody}\n", maps(524288, 65536)));
    let out = t.sh(&["--private-users=589824:1000"], MAPS).ok().to_string();
    assert_eq!(out, maps(589824, 1000));
    // Nothing of the tree changed on the host.
    assert_eq!(owner(&t.rpath("/etc/passwd")), (0, 0));
}

#[test]
fn yes_takes_the_range_from_the_owner_of_the_tree() {
    let t = Test::new("userns-yes");
    chown_tree(&t, 589824, 589824);
    let out = t.sh(&["--private-users"], &format!("{MAPS}; stat -c %u:%g /etc/passwd; touch /made")).ok().to_string();
    assert_eq!(out, format!("{}0:0\n", maps(589824, 65536)));
    assert_eq!(owner(&t.rpath("/made")), (589824, 589824));

    std::os::unix::fs::lchown(&t.root, Some(589824), Some(655360)).unwrap();
    t.run(&["--private-users=yes", "/bin/true"])
        .error(&format!("UID and GID base of {} don't match", t.root.display()));
}

#[test]
fn pick_tries_the_machine_hash_first_and_maps_the_tree() {
    let t = Test::new("userns-pick");
    let runtime = t.host_dir("runtime");
    let machine = t.root.file_name().unwrap().to_str().unwrap().to_string();
    let want = machine_candidate(&machine);
    let script = format!("{MAPS}; stat -c %u:%g /etc/passwd /; touch /made-inside; id -u");
    let out = run_env(&t, &runtime, &["-U", "/bin/sh", "-c", &script]).ok().to_string();
    assert_eq!(out, format!("{}0:0\n0:0\n0\n", maps(want, 65536)));
    // Mapped, not chowned: the disk keeps its owners; what root made inside is uid 0 on disk.
    assert_eq!(owner(&t.rpath("/etc/passwd")), (0, 0));
    assert_eq!(owner(&t.rpath("/made-inside")), (0, 0));
    // The lock went with the container; so did its registry entry (the registry's directory
    // stays, empty).
    assert_eq!(fs::read_dir(&runtime).unwrap().flatten().map(|e| e.file_name()).collect::<Vec<_>>(), ["machines"]);
    assert_eq!(fs::read_dir(runtime.join("machines")).unwrap().count(), 0);
}

#[test]
fn pick_skips_a_locked_range_and_holds_its_own_lock_while_running() {
    let t = Test::new("userns-pick-lock");
    let runtime = t.host_dir("runtime");
    let machine = t.root.file_name().unwrap().to_str().unwrap().to_string();
    let first = machine_candidate(&machine);
    let locks = runtime.join("uid");
    fs::create_dir_all(&locks).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&locks, fs::Permissions::from_mode(0o700)).unwrap();
    let held = fs::File::create(locks.join(first.to_string())).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();

    let sig = t.host_dir("sig");
    let bind = format!("--bind={}:/sig", sig.display());
    let script = format!("{MAPS}; echo running; while [ ! -e /sig/go ]; do sleep 0.05; done");
    let mut c = t.cmd(&[&bind, "-U", "/bin/sh", "-c", &script]);
    c.env("SPAWNBOX_RUNTIME_DIR", runtime.to_str().unwrap());
    let mut running = c.spawn();
    running.wait_for_stdout("running", Duration::from_secs(20));
    let base = base_of(&running.stdout_so_far());
    assert_ne!(base, first, "a locked range was picked");
    assert!((BASE_MIN..=BASE_MAX).contains(&base) && base.is_multiple_of(65536), "bad base {base}");
    let lock = locks.join(base.to_string());
    assert!(lock.is_file(), "no lock file {} while the container runs", lock.display());
    let probe = fs::File::open(&lock).unwrap();
    assert_eq!(
        rustix::fs::flock(&probe, rustix::fs::FlockOperation::NonBlockingLockExclusive),
        Err(rustix::io::Errno::WOULDBLOCK),
        "the range lock is not held"
    );
    fs::write(sig.join("go"), "").unwrap();
    let out = running.wait();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(!lock.exists(), "lock file {} left behind", lock.display());
    assert!(locks.join(first.to_string()).exists(), "someone else's lock file was removed");
}

#[test]
fn pick_takes_an_already_shifted_tree_as_it_is() {
    let t = Test::new("userns-pick-shifted");
    let runtime = t.host_dir("runtime");
    chown_tree(&t, 0x0010_0000, 0x0010_0000);
    let out = run_env(&t, &runtime, &["-U", "/bin/sh", "-c", &format!("{MAPS}; stat -c %u:%g /etc/passwd")]);
    assert_eq!(out.ok(), format!("{}0:0\n", maps(0x0010_0000, 65536)));
    assert_eq!(owner(&t.rpath("/etc/passwd")), (0x0010_0000, 0x0010_0000));
}

#[test]
fn chown_reowns_the_tree_and_nothing_outside_it() {
    let t = Test::new("userns-chown");
    let canary = t.path("canary");
    fs::write(&canary, "host file").unwrap();
    let canary_dir = t.host_dir("canary-dir");
    fs::write(canary_dir.join("inner"), "").unwrap();
    std::os::unix::fs::symlink(&canary, t.rpath("/etc/evil-abs")).unwrap();
    std::os::unix::fs::symlink("../../../../../../canary", t.rpath("/etc/evil-rel")).unwrap();
    std::os::unix::fs::symlink(&canary_dir, t.rpath("/evil-dir")).unwrap();
    std::os::unix::fs::symlink("loop", t.rpath("/loop")).unwrap();
    t.write("/home/u/file", "x");
    std::os::unix::fs::chown(t.rpath("/home/u/file"), Some(1000), Some(1000)).unwrap();
    t.write("/usr/bin/suid", "");
    fs::set_permissions(t.rpath("/usr/bin/suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    // A mount inside the tree (made in spawnbox's own mount namespace) is not crossed.
    let other = t.host_dir("other-fs");
    fs::write(other.join("f"), "").unwrap();
    fs::create_dir_all(t.rpath("/mnt/other")).unwrap();
    let setup = format!("mount --bind {} {}", other.display(), t.rpath("/mnt/other").display());

    let script = "stat -c %u:%g / /etc/passwd /home/u/file /usr/bin/suid; stat -c %a /usr/bin/suid; touch /made";
    let out = t
        .cmd(&["--private-users=524288", "--private-users-ownership=chown", "/bin/sh", "-c", script])
        .in_private_mount_ns(&setup)
        .run();
    assert_eq!(out.ok(), "0:0\n0:0\n1000:1000\n0:0\n4755\n");
    assert_eq!(owner(&t.root), (524288, 524288));
    assert_eq!(owner(&t.rpath("/etc/passwd")), (524288, 524288));
    assert_eq!(owner(&t.rpath("/home/u/file")), (525288, 525288));
    assert_eq!(owner(&t.rpath("/made")), (524288, 524288));
    assert_eq!(fs::metadata(t.rpath("/usr/bin/suid")).unwrap().mode() & 0o7777, 0o4755);
    for link in ["/etc/evil-abs", "/etc/evil-rel", "/evil-dir", "/loop"] {
        assert_eq!(owner(&t.rpath(link)), (524288, 524288), "{link} itself is re-owned");
    }
    assert_eq!(owner(&canary), (0, 0));
    assert_eq!(fs::read_to_string(&canary).unwrap(), "host file");
    assert_eq!(owner(&canary_dir), (0, 0));
    assert_eq!(owner(&canary_dir.join("inner")), (0, 0));
    assert_eq!(owner(&other.join("f")), (0, 0), "chown crossed into a mount");
    // A second run finds the tree shifted and leaves it alone.
    let out = t.sh(&["--private-users=524288", "--private-users-ownership=chown"], "stat -c %u /etc/passwd");
    assert_eq!(out.ok(), "0\n");
}

#[test]
fn map_shows_the_tree_as_root_owned_and_leaves_the_disk_alone() {
    let t = Test::new("userns-map");
    let script = "stat -c %u:%g / /etc/passwd; touch /made; mkdir /made-dir";
    let out = t.sh(&["--private-users=524288", "--private-users-ownership=map"], script).ok().to_string();
    assert_eq!(out, "0:0\n0:0\n");
    assert_eq!(owner(&t.rpath("/etc/passwd")), (0, 0));
    assert_eq!(owner(&t.rpath("/made")), (0, 0));
    assert_eq!(owner(&t.rpath("/made-dir")), (0, 0));
}

#[test]
fn bind_idmap_options_map_the_source_owner() {
    let t = Test::new("userns-bind-idmap");
    let src = t.host_dir("src");
    fs::write(src.join("f"), "").unwrap();
    for p in [src.as_path(), &src.join("f")] {
        std::os::unix::fs::chown(p, Some(1234), Some(1234)).unwrap();
    }
    t.write("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n");
    t.write("/etc/group", "root:x:0:\nu:x:1000:\n");
    fs::create_dir_all(t.rpath("/home/u")).unwrap();
    std::os::unix::fs::chown(t.rpath("/home/u"), Some(1000), Some(1000)).unwrap();
    let userns = ["--private-users=524288", "--private-users-ownership=map"];
    let bind = |opt: &str, dst: &str| format!("--bind={}:{dst}:{opt}", src.display());

    // idmap: host ids are container ids.
    let mut a = userns.to_vec();
    let b = bind("idmap", "/mnt");
    a.push(&b);
    assert_eq!(t.sh(&a, "stat -c %u:%g /mnt/f; touch /mnt/by-root").ok(), "1234:1234\n");
    assert_eq!(owner(&src.join("by-root")), (0, 0));

    // rootidmap: the source's owner is the container's root.
    let mut a = userns.to_vec();
    let b = bind("rootidmap", "/mnt");
    a.push(&b);
    assert_eq!(t.sh(&a, "stat -c %u:%g /mnt /mnt/f; touch /mnt/by-root2").ok(), "0:0\n0:0\n");
    assert_eq!(owner(&src.join("by-root2")), (1234, 1234));

    // owneridmap: the source's owner is the owner of the target inside (u, 1000).
    let mut a = userns.to_vec();
    let b = bind("owneridmap", "/home/u");
    a.push(&b);
    a.push("--user=u");
    assert_eq!(t.sh(&a, "id -u; stat -c %u:%g /home/u/f; touch /home/u/by-u").ok(), "1000\n1000:1000\n");
    assert_eq!(owner(&src.join("by-u")), (1234, 1234));

    // Without a user namespace the options are refused before anything happens.
    let b = bind("idmap", "/mnt");
    t.run(&[&b, "/bin/true"]).error("idmapped bind mount on /mnt requires user namespacing (--private-users)");
}

#[test]
fn nodes_spawnbox_creates_belong_to_the_containers_root() {
    let t = Test::new("userns-nodes");
    let script = "stat -c '%n %u:%g %a %t:%T %F' /dev /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty \
                  /dev/shm /dev/pts /run /run/host /run/host/os-release /run/host/inaccessible/chr /tmp; \
                  echo x > /dev/null && head -c 4 /dev/zero | wc -c; touch /tmp/t /dev/shm/s /run/r && echo writable; \
                  mknod /tmp/n c 1 3 2>&1 || echo mknod refused";
    let out = t.sh(&["--private-users=524288"], script).ok().to_string();
    let want = "/dev 0:0 755 0:0 directory\n\
                /dev/null 0:0 666 1:3 character special file\n\
                /dev/zero 0:0 666 1:5 character special file\n\
                /dev/full 0:0 666 1:7 character special file\n\
                /dev/random 0:0 666 1:8 character special file\n\
                /dev/urandom 0:0 666 1:9 character special file\n\
                /dev/tty 0:0 666 5:0 character special file\n\
                /dev/shm 0:0 1777 0:0 directory\n\
                /dev/pts 0:0 755 0:0 directory\n\
                /run 0:0 755 0:0 directory\n\
                /run/host 0:0 755 0:0 directory\n\
                /run/host/os-release 0:0 444 0:0 regular file\n\
                /run/host/inaccessible/chr 0:0 0 0:0 character special file\n\
                /tmp 0:0 1777 0:0 directory\n\
                4\nwritable\n";
    assert!(out.starts_with(want), "got {out:?}");
    assert!(out.ends_with("Operation not permitted\nmknod refused\n"), "got {out:?}");
}

#[test]
fn proc_and_sys_are_the_containers_own() {
    let t = Test::new("userns-api");
    let script = "cat /proc/1/comm; awk '$5 == \"/proc\"' /proc/self/mountinfo | wc -l; ls /proc > /tmp/l; grep -c '^[0-9]' /tmp/l; \
                  (echo 60 > /proc/sys/vm/swappiness) 2>/dev/null || echo sysctl read-only; \
                  (touch /sys/x) 2>/dev/null || echo sys read-only";
    // Two procfs on /proc: the container's, over the one pinned for it (the kernel lets a user
    // namespace mount a procfs only where one is fully visible), whose PID namespace is empty.
    let want = "sh\n2\n2\nsysctl read-only\nsys read-only\n";
    assert_eq!(t.sh(&["--private-users=524288"], script).ok(), want);
    let out = t
        .sh(&["--private-users=524288", "--private-network"], &format!("{script}; ls /sys/class/net"))
        .ok()
        .to_string();
    assert_eq!(out, format!("{want}lo\n"));
}

#[test]
fn cap_net_bind_service_needs_a_private_network_in_a_user_namespace() {
    let t = Test::new("userns-caps");
    let status = "grep -E '^Cap(Bnd|Eff)' /proc/self/status";
    let plain = t.sh(&[], status).ok().to_string();
    let userns = t.sh(&["--private-users=identity"], status).ok().to_string();
    let net = t.sh(&["--private-users=identity", "--private-network"], status).ok().to_string();
    assert_ne!(cap(&plain, "CapBnd") & NET_BIND_SERVICE, 0);
    assert_eq!(cap(&userns, "CapBnd"), cap(&plain, "CapBnd") & !NET_BIND_SERVICE);
    assert_eq!(cap(&userns, "CapEff"), cap(&userns, "CapBnd"));
    assert_eq!(cap(&net, "CapBnd"), cap(&plain, "CapBnd") | NET_ADMIN);
}

#[test]
fn limits_and_oom_score_are_those_of_a_container_without_user_namespace() {
    let t = Test::new("userns-limits");
    let script = "cat /proc/self/limits; cat /proc/self/oom_score_adj";
    let plain = t.sh(&["--oom-score-adjust=500", "--rlimit=RLIMIT_NOFILE=4096:8192"], script).ok().to_string();
    let userns = t
        .sh(&["--private-users=524288", "--oom-score-adjust=500", "--rlimit=RLIMIT_NOFILE=4096:8192"], script)
        .ok()
        .to_string();
    assert_eq!(userns, plain);
    assert!(userns.ends_with("\n500\n"), "{userns}");
    assert!(userns.lines().any(|l| l.starts_with("Max open files") && l.contains(" 4096 ") && l.contains(" 8192 ")));
}

#[test]
fn as_pid2_runs_in_the_user_namespace() {
    let t = Test::new("userns-pid2");
    let out = t.sh(&["--private-users=524288", "-a"], &format!("{MAPS}; echo $$; cat /proc/1/comm")).ok().to_string();
    assert_eq!(out, format!("{}2\nspawnbox-init\n", maps(524288, 65536)));
}

#[test]
fn boot_gets_a_cgroup_owned_by_the_containers_root() {
    let t = Test::new("userns-boot");
    fs::remove_file(t.rpath("/sbin/init")).unwrap();
    t.script(
        "/sbin/init",
        "echo init $$; stat -c %u:%g /sys/fs/cgroup /sys/fs/cgroup/cgroup.procs; \
         mkdir /sys/fs/cgroup/child && echo delegated; rmdir /sys/fs/cgroup/child",
    );
    let out = t.run(&["-b", "--private-users=524288"]);
    assert_eq!(out.ok(), "init 1\n0:0\n0:0\ndelegated\n");
}

#[test]
fn bad_combinations_are_refused_before_anything_changes() {
    let t = Test::new("userns-errors");
    t.run(&["--private-users-ownership=chown", "--private-users=524288", "--read-only", "/bin/true"])
        .error("--read-only and --private-users-ownership=chown may not be combined");
    t.run(&["--private-users=524288:1000", "--private-users-ownership=chown", "/bin/true"])
        .error("--private-users-ownership=chown: only 64K ranges can be chowned, not 1000");
    // A bind source that does not exist is found before the tree is re-owned.
    t.run(&["--private-users=524288", "--private-users-ownership=chown", "--bind=/nonexistent/src:/data", "/bin/true"])
        .error("--bind=/nonexistent/src:/data: stat /nonexistent/src: no such file or directory");
    assert_eq!(owner(&t.rpath("/etc/passwd")), (0, 0));
    assert_eq!(owner(&t.root), (0, 0));
}

#[test]
fn a_tree_runs_one_user_namespaced_container_at_a_time() {
    let t = Test::new("userns-busy");
    let sig = t.host_dir("sig");
    let bind = format!("--bind={}:/sig", sig.display());
    let script = "echo running; while [ ! -e /sig/go ]; do sleep 0.05; done";
    let mut first = t.cmd(&["--private-users=524288", &bind, "-M", "userns-busy-a", "/bin/sh", "-c", script]).spawn();
    first.wait_for_stdout("running", Duration::from_secs(20));
    t.run(&["--private-users=589824", "--private-users-ownership=chown", "-M", "userns-busy-b", "/bin/true"])
        .error(&format!("directory tree {} is currently busy", t.root.display()));
    assert_eq!(owner(&t.rpath("/etc/passwd")), (0, 0), "the tree was re-owned under a running container");
    fs::write(sig.join("go"), "").unwrap();
    assert_eq!(first.wait().code, Some(0));
}

#[test]
fn cleanup_removes_range_locks_nobody_holds() {
    let t = Test::new("userns-cleanup");
    let runtime = t.host_dir("runtime");
    let locks = runtime.join("uid");
    fs::create_dir_all(&locks).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(locks.join("589824"), "").unwrap();
    let held = fs::File::create(locks.join("655360")).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
    let out = run_env(&t, &runtime, &["--cleanup"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(!locks.join("589824").exists(), "a stale lock was kept");
    assert!(locks.join("655360").exists(), "a held lock was removed");
}

#[test]
fn the_containers_root_cannot_undo_read_only_mounts_or_uncover_the_pin() {
    let t = Test::new("userns-locked");
    let src = t.host_dir("src");
    fs::write(src.join("secret"), "host\n").unwrap();
    fs::create_dir_all(t.rpath("/ro")).unwrap();
    let bind = format!("--bind-ro={}:/ro:idmap", src.display());
    let script = "(echo x > /ro/secret) 2>/dev/null || echo bind read-only; \
                  mount -o remount,bind,rw /ro 2>/dev/null || echo remount refused; \
                  umount /ro 2>/dev/null || echo umount refused; \
                  mount -o remount,bind,rw / 2>/dev/null || echo root remount refused; \
                  touch /made 2>/dev/null || echo root read-only; \
                  umount -l /proc && ls /proc > /tmp/l; grep -c '^[0-9]' /tmp/l; true";
    let out = t.sh(&["--private-users=524288", "--private-users-ownership=map", "--read-only", &bind], script);
    assert_eq!(out.ok(), "bind read-only\nremount refused\numount refused\nroot remount refused\nroot read-only\n0\n");
    assert_eq!(fs::read_to_string(src.join("secret")).unwrap(), "host\n");
    assert!(!t.rpath("/made").exists());
}

#[test]
fn mounts_made_inside_never_reach_a_shared_host_source() {
    let t = Test::new("userns-shared");
    let shared = t.host_dir("shared");
    fs::create_dir_all(shared.join("data/sub")).unwrap();
    fs::create_dir_all(t.rpath("/data")).unwrap();
    // The source lives on a shared mount (in spawnbox's own mount namespace, never the host's).
    let setup =
        format!("mount -t tmpfs shared {s} && mount --make-shared {s} && mkdir -p {s}/data/sub", s = shared.display());
    let bind = format!("--bind={}/data:/data", shared.display());
    let script = "mount -t tmpfs inner /data/sub && echo from-container > /data/sub/f && echo mounted; \
                  grep -c ' /data ' /proc/self/mountinfo; grep ' /data ' /proc/self/mountinfo | grep -c shared:; true";
    let out = t
        .cmd(&["--private-users=524288", &bind, "/bin/sh", "-c", script])
        .in_private_mount_ns(&format!(
            "{setup} && echo host-side: $(grep -c ' {}/data/sub ' /proc/self/mountinfo)",
            shared.display()
        ))
        .run();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("mounted\n1\n0\n"), "{out:?}");
}

#[test]
fn credentials_belong_to_the_containers_root_and_are_read_only() {
    let t = Test::new("userns-creds");
    let file = t.path("cred");
    fs::write(&file, "loaded\n").unwrap();
    let load = format!("--load-credential=f:{}", file.display());
    let script = "echo $CREDENTIALS_DIRECTORY; cat /run/host/credentials/s /run/host/credentials/f; \
                  stat -c '%a %u:%g' /run/host/credentials /run/host/credentials/s; \
                  touch /run/host/credentials/x 2>/dev/null || echo read-only";
    for extra in [&["--private-users=524288", "--private-users-ownership=map"][..], &[][..]] {
        let mut args = extra.to_vec();
        args.extend(["--set-credential=s:set\\n", load.as_str()]);
        assert_eq!(
            t.sh(&args, script).ok(),
            "/run/host/credentials\nset\nloaded\n500 0:0\n400 0:0\nread-only\n",
            "{extra:?}"
        );
    }
}

#[test]
fn overlays_with_a_user_namespace() {
    // As nspawn: layers keep their on-disk owners. `+` layers of a chowned tree belong to the
    // container; host layers of host root show as nobody (never idmapped to the container's
    // root, which would let it write root-owned files on the host); the throw-away upper of
    // `LOWER::DST` is made for the container's root.
    let t = Test::new("userns-overlay");
    fs::create_dir_all(t.rpath("/srv/lower")).unwrap();
    fs::create_dir_all(t.rpath("/srv/upper")).unwrap();
    t.write("/srv/lower/in-tree", "tree\n");
    let chown = ["--private-users=524288", "--private-users-ownership=chown"];
    let script = "stat -c '%u %n' /mnt/in-tree; echo new > /mnt/new && stat -c '%u %n' /mnt/new";
    let out = t.sh(&[chown[0], chown[1], "--overlay=+/srv/lower:+/srv/upper:/mnt"], script);
    assert_eq!(out.ok(), "0 /mnt/in-tree\n0 /mnt/new\n");
    let st = fs::metadata(t.rpath("/srv/upper/new")).unwrap();
    assert_eq!(
        (std::os::unix::fs::MetadataExt::uid(&st), fs::read_to_string(t.rpath("/srv/upper/new")).unwrap()),
        (524288, "new\n".into())
    );

    let lower = t.host_dir("lower");
    fs::create_dir(lower.join("dir")).unwrap();
    fs::write(lower.join("from-host"), "host\n").unwrap();
    let o = format!("--overlay={}::/mnt", lower.display());
    let script = "stat -c '%u %n' /mnt /mnt/from-host /mnt/dir; echo top > /mnt/top && cat /mnt/top; \
                  (echo sub > /mnt/dir/sub) 2>/dev/null || echo sub-refused";
    let out = t.sh(&[chown[0], chown[1], &o], script);
    assert_eq!(out.ok(), "0 /mnt\n65534 /mnt/from-host\n65534 /mnt/dir\ntop\nsub-refused\n");
    assert!(!lower.join("top").exists());
}
