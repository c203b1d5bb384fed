//! Root integration tests with hostile trees (issue 6, "Hostile rootfs"): every file, symlink
//! and device node of the tree is the attacker's. Each test builds its tree(s) from the busybox
//! template and plants canaries in the test's temp dir, beside the tree and outside it: host
//! files (content, mode, mtime, inode) and host directories (listing, mode, mtime) that must
//! never change, at the absolute paths the symlinks name. The `Test` guard checks, when each
//! test ends, that no mount appeared on the host and no process was left. spawnbox either runs
//! safely (the test asserts what the container sees) or refuses with one `spawnbox: ...` line
//! and status 1 (the exact message where it is stable). Every run has a deadline: a fifo in
//! the tree must never block the launcher.
//!
//! Tests 1, 16, 19 and 20 try every tree twice: without and with a user namespace (`USERNS`).
//!
//! Link kinds used below: *abs* = absolute path of a host canary, *rel* = `../..` climbing out
//! of the tree to the canary, *loop* = a link to itself, *dangling* = a link to nothing,
//! *climb-in* = `..` climbing out of the tree to a name that exists only inside it.
//!
//! | #  | test                                          | hostile tree                                                  | expected |
//! |----|-----------------------------------------------|---------------------------------------------------------------|----------|
//! | 1  | resolv_conf_symlinked_to_a_host_file          | `/etc/resolv.conf` abs/rel, 10 `--resolv-conf` modes          | canary kept; ran or refused |
//! | 2  | resolv_conf_loops_and_dangling_links          | `/etc/resolv.conf` loop, dangling abs, climb-in (dangling)    | copy lands in the tree, nothing in the host dir |
//! | 3  | resolv_conf_as_a_fifo_or_device               | `/etc/resolv.conf` fifo / char 1:5, copy/replace/bind/delete/off/auto | no hang; node kept or replaced inside |
//! | 4  | etc_files_hard_linked_to_host_files           | resolv.conf + localtime hard links to canaries, all modes     | canaries kept |
//! | 5  | resolv_conf_hard_link_in_copy_and_replace_mode| resolv.conf hard link to a canary, copy-host / replace-host   | copy leaves it alone, replace swaps the inode |
//! | 6  | localtime_symlinked_to_a_host_file            | `/etc/localtime` abs/rel, 8 `--timezone` modes                | canary kept; ran or refused |
//! | 7  | localtime_loops_and_devices                   | `/etc/localtime` loop, dangling, char 1:5, fifo × modes       | no hang, no read of the node |
//! | 8  | zoneinfo_symlinked_out_of_the_tree            | `zoneinfo/Etc/UTC` abs/rel                                    | canary kept |
//! | 9  | hostname_symlinked_out_of_the_tree            | `/etc/hostname` abs/rel/loop                                  | untouched; hostname = machine name |
//! | 10 | machine_id_symlinked_to_a_host_id             | `/etc/machine-id` abs/rel to a canary id, loop               | container UUID is `--uuid`, not the canary's |
//! | 11 | machine_id_as_a_fifo_or_device                | `/etc/machine-id` fifo, char 1:5                              | no hang; UUID is `--uuid` |
//! | 12 | passwd_symlinked_to_a_host_file               | `/etc/passwd` abs/rel with `-u alice`, `-u root`             | "no such user" / uid 0 |
//! | 13 | passwd_as_a_fifo                              | `/etc/passwd` fifo, with and without `-u`                     | "/etc/passwd is not a regular file", no hang |
//! | 14 | etc_symlinked_to_a_host_directory             | `/etc` abs/rel × all resolv/tz modes, `-u root`               | canary dir kept |
//! | 15 | etc_symlink_loops_and_dangling                | `/etc` loop, dangling; `-u alice`                             | runs as root / "no such user" |
//! | 16 | api_directories_as_symlinks_are_refused       | `/proc` `/sys` `/dev` `/run` `/tmp` (`/dev/pts`) abs/rel/loop/dangling | "open mount point /X: too many levels of symbolic links" (`/dev/pts`: runs) |
//! | 17 | api_directories_as_nodes_are_refused          | `/proc` `/sys` `/dev` `/run` `/tmp` as fifo / char device     | "mount point /X is not a directory" |
//! | 18 | dev_console_and_pts_prepopulated              | `/dev/console` → canary, `/dev/pts` → canary dir; pipe + pty  | fresh /dev; console is the pty |
//! | 19 | run_host_symlinked_out_of_the_tree            | `/run/host` → canary dir, abs/rel                             | /run/host is spawnbox's |
//! | 20 | mount_targets_symlinked_to_a_host_directory   | bind/bind-ro/tmpfs/overlay/inaccessible targets abs/rel, parents too | canaries kept |
//! | 21 | mount_targets_through_loops_and_dangling_links| same targets and parents: loop, dangling abs/rel              | exact refusal |
//! | 22 | mount_targets_climbing_out_land_in_the_tree   | same targets and parents: climb-in to an in-tree dir          | mounted on the in-tree dir |
//! | 23 | in_root_bind_source_symlinked_out_of_the_tree_stays_in_the_tree | `--bind=+/srv/link` → host dir abs/rel  | host dir not exposed |
//! | 24 | overlay_in_root_layers_symlinked_out          | `--overlay=+lower:+upper:dst`, upper/lower links out          | host dirs kept, no work dir on host |
//! | 25 | boot_init_symlinked_out_of_the_tree           | `-b` with `/sbin/init` → host script abs/rel/loop, climb-in   | host init never runs; refused or tree init |
//! | 26 | boot_os_release_as_a_fifo                     | `-b` with `/etc/os-release` fifo (± `/usr/lib/os-release`)    | exact refusal / boots; no hang |
//! | 27 | usr_symlinked_out_of_the_tree                 | `/usr` abs/rel/loop/dangling; in-tree link                    | exact refusal / runs |
//! | 28 | chdir_into_a_symlink_pointing_out             | `--chdir` to abs/rel/loop/dangling links                      | refused or cwd inside the tree |
//! | 29 | chdir_through_a_magic_link_stays_inside       | `--chdir=/fdN`, `/fdN` → `/proc/self/fd/N` (CVE-2024-21626)   | cwd never outside; "change directory to /fdN: ..." |
//! | 30 | home_through_a_magic_link_stays_inside        | passwd home `/proc/self/fd/N`, no command (default shell)     | cwd never outside; shell starts in `/` |
//! | 31 | climbing_links_resolve_under_concurrent_renames | `--bind` onto `/mnt/link -> ../srv/target` while the host renames | every start succeeds (EAGAIN retried) |
//! | 32 | command_through_a_magic_link_stays_inside     | command `/opt/fdN/sh` → `/proc/self/fd/N/../canary-exeN`      | never a host executable (CVE-2019-5736 class) |
//! | 33 | default_shell_through_a_magic_link_stays_inside | no command; `/bin/sh` → `/proc/self/fd/N/../canary-exeN`    | never a host executable |

use spawnbox_tests::host::{file_state, FileState};
use spawnbox_tests::{tree_listing, Output, Test};
use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every hostile tree of the tests below that take them is tried without and with a user
/// namespace (where the launcher makes `/dev`, `/run` and the tree's mount, and the child only
/// attaches them).
const USERNS: [&[&str]; 2] = [&[], &["--private-users=524288", "--private-users-ownership=map"]];

/// `a` then `b`.
fn joined<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    a.iter().chain(b).copied().collect()
}

/// A host file outside the tree that must never change.
struct Canary {
    path: PathBuf,
    state: FileState,
}

impl Canary {
    fn new(t: &Test, name: &str) -> Canary {
        Canary::with(t, name, &format!("canary {name}: host file, keep out\n"))
    }

    /// A canary with chosen content (a machine id, a passwd file).
    fn with(t: &Test, name: &str, content: &str) -> Canary {
        let path = t.path(name);
        fs::write(&path, content).unwrap();
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
            assert!(
                out.stderr.starts_with("spawnbox: ") && out.stderr.lines().count() == 1 && out.stdout.is_empty(),
                "{what}: unclear refusal: {out:?}"
            );
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

/// A link from container path `p` that climbs out of the tree with `..` to `name` in the test
/// dir: where a launcher joining paths on the host would land; `RESOLVE_IN_ROOT` clamps it to
/// `/name` inside the tree.
fn climbing(p: &str, name: &str) -> String {
    let depth = p.trim_start_matches('/').matches('/').count() + 1;
    format!("{}{name}", "../".repeat(depth))
}

/// A link from `p` to itself (ELOOP wherever it is followed).
fn self_loop(p: &str) -> String {
    Path::new(p).file_name().unwrap().to_string_lossy().into_owned()
}

/// The deadline of runs whose tree holds fifos or devices: they must never block spawnbox.
const SHORT: Duration = Duration::from_secs(15);

fn run_bounded(t: &Test, args: &[&str]) -> Output {
    t.cmd(args).timeout(SHORT).run()
}

fn sh_bounded(t: &Test, opts: &[&str], script: &str) -> Output {
    let mut args = opts.to_vec();
    args.extend(["/bin/sh", "-c", script]);
    run_bounded(t, &args)
}

/// Special inodes the tree may hold where a regular file is expected.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Node {
    Fifo,
    /// `/dev/zero` (1:5): an endless read if anything read it.
    Zero,
}

/// Replaces container path `p` with `node`.
fn replace_with_node(t: &Test, p: &str, node: Node) {
    let f = t.rpath(p);
    let _ = fs::remove_file(&f);
    let _ = fs::remove_dir_all(&f);
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    let (ft, dev) = match node {
        Node::Fifo => (rustix::fs::FileType::Fifo, 0),
        Node::Zero => (rustix::fs::FileType::CharacterDevice, rustix::fs::makedev(1, 5)),
    };
    rustix::fs::mknodat(rustix::fs::CWD, &f, ft, rustix::fs::Mode::from_raw_mode(0o644), dev)
        .unwrap_or_else(|e| panic!("mknod {}: {e}", f.display()));
}

/// The kind of `$f` as the container sees it (never reading a fifo or a device), then, for a
/// regular file, its content.
const KIND_OF_F: &str = r#"if [ -L "$f" ] && [ ! -e "$f" ]; then echo "link $(readlink "$f")"; elif [ -p "$f" ]; then echo fifo; elif [ -c "$f" ]; then echo chr; elif [ -f "$f" ]; then echo file; cat "$f"; elif [ -e "$f" ]; then echo other; else echo none; fi"#;

/// A start that hit a known launcher bug (see `climbing_links_resolve_under_concurrent_renames`):
/// openat2(RESOLVE_IN_ROOT) returns EAGAIN when a mount or rename anywhere on the host races a
/// `..` step, and spawnbox does not retry. The other tests start containers in parallel, so a
/// start through a `..` link is rerun (at most 5 times) until `settled` holds; the safety
/// checks (canaries, host directories) cover every attempt.
/// The host's resolv.conf, as a copy or bind shows it in the container.
fn host_resolv() -> String {
    fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
}

/// The host's zone (`Etc/UTC`) if its /etc/localtime links into zoneinfo.
fn host_zone() -> Option<String> {
    let target = fs::read_link("/etc/localtime").ok()?;
    let (_, zone) = target.to_str()?.split_once("/usr/share/zoneinfo/")?;
    (!zone.is_empty()).then(|| zone.to_string())
}

/// Prints `cwd inside` when the payload's working directory is reachable from its root (the
/// kernel names it by its path there), else `cwd OUTSIDE <what the kernel calls it>`.
const CWD_CHECK: &str = r#"c=$(readlink /proc/self/cwd); if [ -d "$c" ] && [ "$(stat -c %d:%i "$c")" = "$(stat -c %d:%i .)" ]; then echo "cwd inside $c"; else echo "cwd OUTSIDE $c"; fi"#;

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
    for (link, userns) in links_to("/etc/resolv.conf", &canary.path).iter().flat_map(|l| USERNS.map(|u| (l, u))) {
        for mode in RESOLV_MODES {
            replace_with_symlink(&t, "/etc/resolv.conf", link);
            let what = format!("/etc/resolv.conf -> {link} with {mode:?} {userns:?}");
            let out = t.sh(&joined(mode, userns), POKE);
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
    let links = links_to("/mnt/link", &dir.path).into_iter().zip(links_to("/mnt/filelink", &file.path));
    for ((dlink, flink), userns) in links.flat_map(|l| USERNS.map(|u| (l.clone(), u))) {
        for m in &mounts {
            replace_with_symlink(&t, "/mnt/link", &dlink);
            replace_with_symlink(&t, "/mnt/filelink", &flink);
            let what = format!("{m:?} {userns:?} with /mnt/link -> {dlink}, /mnt/filelink -> {flink}");
            let mut args: Vec<&str> = userns.to_vec();
            args.extend(m.iter().map(String::as_str));
            args.extend([
                "/bin/sh",
                "-c",
                "ls /mnt/link /mnt/link/sub > /dev/null 2>&1; echo x > /mnt/filelink 2>/dev/null; echo done",
            ]);
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
    for (p, userns) in
        ["/proc", "/sys", "/dev", "/run", "/tmp", "/dev/pts"].iter().flat_map(|p| USERNS.map(|u| (*p, u)))
    {
        let t = Test::new("hostile-api");
        let dir = CanaryDir::new(&t, "canary-api");
        let [abs, rel] = links_to(p, &dir.path);
        for link in [abs, rel, self_loop(p), "nowhere".to_string(), t.path("nowhere-abs").display().to_string()] {
            replace_with_symlink(&t, p, &link);
            let before = tree_listing(&t.root);
            let out = t.run(&joined(userns, &["/bin/true"]));
            // /dev/pts sits on the fresh /dev tmpfs: a link in the tree never matters.
            if p == "/dev/pts" {
                out.ok();
            } else {
                out.error(&format!("open mount point {p}: too many levels of symbolic links"));
                assert_eq!(tree_listing(&t.root), before, "{p} -> {link}: the tree changed");
            }
            dir.check(&format!("{p} -> {link}"));
            assert!(
                !t.path("nowhere-abs").exists() && !t.path("nowhere").exists(),
                "{p} -> {link}: created on the host"
            );
        }
    }
}

#[test]
fn api_directories_as_nodes_are_refused() {
    let t = Test::new("hostile-api-node");
    for p in ["/proc", "/sys", "/dev", "/run", "/tmp"] {
        for node in [Node::Fifo, Node::Zero] {
            replace_with_node(&t, p, node);
            let out = run_bounded(&t, &["/bin/true"]);
            out.error(&format!("mount point {p} is not a directory"));
        }
        fs::remove_file(t.rpath(p)).unwrap();
        fs::create_dir(t.rpath(p)).unwrap();
    }
    run_bounded(&t, &["/bin/true"]).ok();
}

#[test]
fn resolv_conf_loops_and_dangling_links() {
    let t = Test::new("hostile-resolv-loop");
    let p = "/etc/resolv.conf";
    let abs_new = t.path("resolv-abs-new");
    let host = host_resolv();
    let links = [self_loop(p), abs_new.display().to_string(), climbing(p, "resolv-new")];
    for link in &links {
        for mode in ["copy-host", "replace-host", "bind-host", "delete", "off", "auto"] {
            replace_with_symlink(&t, p, link);
            let _ = fs::remove_file(t.rpath("/resolv-new"));
            let what = format!("{p} -> {link} with --resolv-conf={mode}");
            let climbs = link.starts_with("../");
            let out = sh_bounded(
                &t,
                &[&format!("--resolv-conf={mode}")],
                &format!("f={p}; {KIND_OF_F}; echo; cat {p} 2>/dev/null; true"),
            );
            let seen = out.ok();
            match mode {
                // Written through the link only where it points inside the tree.
                "copy-host" | "auto" if climbs => {
                    assert_eq!(seen, format!("file\n{host}\n{host}"), "{what}");
                    assert_eq!(fs::read_link(t.rpath(p)).unwrap().display().to_string(), *link, "{what}");
                    assert_eq!(fs::read_to_string(t.rpath("/resolv-new")).unwrap(), host, "{what}");
                }
                "copy-host" | "auto" | "off" => assert_eq!(seen, format!("link {link}\n\n"), "{what}"),
                "replace-host" => assert_eq!(seen, format!("file\n{host}\n{host}"), "{what}"),
                "delete" => assert_eq!(seen, "none\n\n", "{what}"),
                // A bind needs a mount point: never created through the link, left alone.
                _ => assert!(seen.starts_with(&format!("link {link}\n")), "{what}: {out:?}"),
            }
            assert!(!abs_new.exists() && !t.path("resolv-new").exists(), "{what}: a file appeared on the host");
        }
    }
}

#[test]
fn resolv_conf_as_a_fifo_or_device() {
    let t = Test::new("hostile-resolv-node");
    let p = "/etc/resolv.conf";
    let host = host_resolv();
    for node in [Node::Fifo, Node::Zero] {
        let kind = if node == Node::Fifo { "fifo" } else { "chr" };
        for mode in ["copy-host", "auto", "replace-host", "bind-host", "delete", "off"] {
            replace_with_node(&t, p, node);
            let what = format!("{p} as {node:?} with --resolv-conf={mode}");
            let out = sh_bounded(&t, &[&format!("--resolv-conf={mode}")], &format!("f={p}; {KIND_OF_F}"));
            let seen = out.ok();
            let want = match mode {
                "replace-host" | "bind-host" => format!("file\n{host}"),
                "delete" => "none\n".to_string(),
                // copy-through writes only into a plain regular file.
                _ => format!("{kind}\n"),
            };
            assert_eq!(seen, want, "{what}");
            // In the tree: the node was kept, replaced by a file, or deleted; never written.
            let m = fs::symlink_metadata(t.rpath(p));
            match mode {
                "replace-host" => assert_eq!(fs::read_to_string(t.rpath(p)).unwrap(), host, "{what}"),
                "delete" => assert!(m.is_err(), "{what}"),
                _ => {
                    let m = m.unwrap();
                    assert_eq!(
                        (m.mode() & 0o170000, m.len()),
                        (if node == Node::Fifo { 0o010000 } else { 0o020000 }, 0),
                        "{what}"
                    );
                }
            }
        }
    }
}

#[test]
fn resolv_conf_hard_link_in_copy_and_replace_mode() {
    let t = Test::new("hostile-resolv-hl");
    let canary = Canary::new(&t, "canary-resolv-hl");
    let host = host_resolv();
    for mode in ["copy-host", "replace-host"] {
        let f = t.rpath("/etc/resolv.conf");
        let _ = fs::remove_file(&f);
        fs::hard_link(&canary.path, &f).unwrap();
        let what = format!("hard-linked resolv.conf with --resolv-conf={mode}");
        let out = t.sh(&[&format!("--resolv-conf={mode}")], "cat /etc/resolv.conf");
        let seen = out.ok();
        canary.check(&what);
        let in_tree = fs::metadata(&f).unwrap();
        if mode == "copy-host" {
            // A file with a second link is left alone: the container sees the tree's file.
            assert_eq!(seen, String::from_utf8_lossy(&canary.state.content), "{what}");
            assert_eq!(in_tree.ino(), canary.state.ino, "{what}");
        } else {
            // Replaced by a new inode in the tree; the host file keeps its link count of 1.
            assert_eq!(seen, host, "{what}");
            assert_ne!(in_tree.ino(), canary.state.ino, "{what}");
            assert_eq!(fs::metadata(&canary.path).unwrap().nlink(), 1, "{what}");
        }
    }
}

#[test]
fn localtime_loops_and_devices() {
    let t = Test::new("hostile-tz-node");
    let p = "/etc/localtime";
    let zone = host_zone();
    t.write(&format!("/usr/share/zoneinfo/{}", zone.as_deref().unwrap_or("Etc/UTC")), "tree zone\n");
    let host_has_localtime = Path::new("/etc/localtime").exists();
    enum Plant {
        Link(String),
        Node(Node),
    }
    let plants = [
        Plant::Link(self_loop(p)),
        Plant::Link("nowhere".into()),
        Plant::Link(climbing(p, "tz-new")),
        Plant::Node(Node::Fifo),
        Plant::Node(Node::Zero),
    ];
    for plant in &plants {
        for mode in ["copy", "bind", "symlink", "delete", "off", "auto"] {
            let before = match plant {
                Plant::Link(l) => {
                    replace_with_symlink(&t, p, l);
                    format!("link {l}\n")
                }
                Plant::Node(n) => {
                    replace_with_node(&t, p, *n);
                    if *n == Node::Fifo {
                        "fifo\n".into()
                    } else {
                        "chr\n".into()
                    }
                }
            };
            let what = format!("{p} = {before:?} with --timezone={mode}");
            let out = sh_bounded(
                &t,
                &[&format!("--timezone={mode}")],
                &format!("f={p}; if [ -L $f ] && [ -e $f ]; then echo \"link $(readlink $f)\"; else {KIND_OF_F}; fi"),
            );
            let seen = out.ok();
            match (mode, &zone) {
                ("off", _) => assert_eq!(seen, before, "{what}"),
                ("delete", _) => assert_eq!(seen, "none\n", "{what}"),
                ("copy", _) if host_has_localtime => assert!(seen.starts_with("file\n"), "{what}: {out:?}"),
                ("symlink", Some(z)) => assert_eq!(seen, format!("link ../usr/share/zoneinfo/{z}\n"), "{what}"),
                _ => {}
            }
            assert!(!t.path("tz-new").exists(), "{what}: a file appeared on the host");
        }
    }
}

#[test]
fn hostname_symlinked_out_of_the_tree() {
    let t = Test::new("hostile-hostname");
    let canary = Canary::new(&t, "canary-hostname");
    let machine = t.root.file_name().unwrap().to_string_lossy().into_owned();
    let p = "/etc/hostname";
    let [abs, rel] = links_to(p, &canary.path);
    for link in [abs, rel, self_loop(p)] {
        replace_with_symlink(&t, p, &link);
        let out = t.sh(&[], "hostname; cat /etc/hostname 2>/dev/null; echo end");
        assert_eq!(out.ok(), format!("{machine}\nend\n"), "{p} -> {link}");
        assert_eq!(fs::read_link(t.rpath(p)).unwrap().display().to_string(), link, "{p} -> {link}: the link changed");
        canary.check(&format!("{p} -> {link}"));
    }
}

#[test]
fn machine_id_symlinked_to_a_host_id() {
    let t = Test::new("hostile-machine-id");
    let canary = Canary::with(&t, "canary-machine-id", "0123456789abcdef0123456789abcdef\n");
    let p = "/etc/machine-id";
    let [abs, rel] = links_to(p, &canary.path);
    for link in [abs, rel, self_loop(p), climbing(p, "machine-id-new")] {
        replace_with_symlink(&t, p, &link);
        let out = t.sh(&[], "cat /run/host/container-uuid; echo $container_uuid");
        // The host file's id never becomes the container's: --uuid does.
        assert_eq!(out.ok(), format!("{0}\n{0}\n", t.uuid), "{p} -> {link}");
        canary.check(&format!("{p} -> {link}"));
        assert!(!t.path("machine-id-new").exists(), "{p} -> {link}: a file appeared on the host");
    }
}

#[test]
fn machine_id_as_a_fifo_or_device() {
    let t = Test::new("hostile-machine-id-node");
    for node in [Node::Fifo, Node::Zero] {
        replace_with_node(&t, "/etc/machine-id", node);
        let out = sh_bounded(&t, &[], "cat /run/host/container-uuid");
        assert_eq!(out.ok(), format!("{}\n", t.uuid), "/etc/machine-id as {node:?}");
    }
}

#[test]
fn passwd_symlinked_to_a_host_file() {
    let t = Test::new("hostile-passwd");
    let canary =
        Canary::with(&t, "canary-passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:4242:4242:host alice:/:/bin/sh\n");
    let p = "/etc/passwd";
    let [abs, rel] = links_to(p, &canary.path);
    for link in [abs, rel, self_loop(p)] {
        replace_with_symlink(&t, p, &link);
        // The host's alice is never found: the tree has no passwd.
        t.sh(&["-u", "alice"], "id -u").error("--user=alice: no such user in the container's /etc/passwd");
        assert_eq!(t.sh(&["-u", "root"], "id -u").ok(), "0\n", "{p} -> {link}");
        canary.check(&format!("{p} -> {link}"));
    }
}

#[test]
fn passwd_as_a_fifo() {
    let t = Test::new("hostile-passwd-fifo");
    replace_with_node(&t, "/etc/passwd", Node::Fifo);
    for opts in [&["-u", "alice"][..], &["-u", "root"], &[]] {
        sh_bounded(&t, opts, "id -u").error("/etc/passwd is not a regular file");
    }
}

#[test]
fn etc_symlink_loops_and_dangling() {
    let t = Test::new("hostile-etc-loop");
    for link in ["etc", "nowhere", &climbing("/etc", "etc-new")] {
        replace_with_symlink(&t, "/etc", link);
        let what = format!("/etc -> {link}");
        let out = t.sh(&["--resolv-conf=copy-host", "--timezone=copy"], "id -u");
        assert_eq!(out.ok(), "0\n", "{what}");
        t.sh(&["-u", "alice"], "id -u").error("--user=alice: no such user in the container's /etc/passwd");
        assert!(!t.path("etc-new").exists() && !t.path("nowhere").exists(), "{what}: created on the host");
        assert_eq!(fs::read_link(t.rpath("/etc")).unwrap().display().to_string(), link, "{what}: the link changed");
    }
}

#[test]
fn dev_console_and_pts_prepopulated() {
    let t = Test::new("hostile-console");
    let canary = Canary::new(&t, "canary-console");
    let null = Canary::new(&t, "canary-null");
    let dir = CanaryDir::new(&t, "canary-pts");
    let [abs, rel] = links_to("/dev/console", &canary.path);
    for (console, pts) in [(abs, dir.path.display().to_string()), (rel, "../../canary-pts".to_string())] {
        replace_with_symlink(&t, "/dev/console", &console);
        replace_with_symlink(&t, "/dev/pts", &pts);
        replace_with_symlink(&t, "/dev/null", &null.path.display().to_string());
        replace_with_symlink(&t, "/dev/ptmx", &null.path.display().to_string());
        let before = tree_listing(&t.rpath("/dev"));
        let script =
            "f=/dev/console; if [ -L $f ]; then readlink $f; elif [ -c $f ]; then echo chr; else echo none; fi; \
                      [ -c /dev/null ] && echo null-ok; echo x > /dev/null; echo x > /dev/console";
        // Without a pty there is no console at all; with one, it is the container's own pty
        // bound on a /dev/console file.
        assert_eq!(t.sh(&[], script).ok(), "none\nnull-ok\n", "console -> {console}");
        let out = t.sh(&["-q", "--console=read-only"], script);
        assert_eq!(out.code, Some(0), "{out:?}");
        assert_eq!(out.stdout.replace('\r', ""), "chr\nnull-ok\nx\n", "{out:?}");
        assert_eq!(tree_listing(&t.rpath("/dev")), before, "the tree's /dev changed");
        canary.check(&console);
        null.check(&console);
        dir.check(&pts);
    }
}

#[test]
fn run_host_symlinked_out_of_the_tree() {
    let t = Test::new("hostile-run-host");
    let dir = CanaryDir::new(&t, "canary-run-host");
    fs::create_dir_all(dir.path.join("inaccessible")).unwrap();
    let dir = CanaryDir { listing: tree_listing(&dir.path), state: file_state(&dir.path), path: dir.path };
    let [abs, rel] = links_to("/run/host", &dir.path);
    for (link, userns) in [abs, rel, self_loop("/run/host")].iter().flat_map(|l| USERNS.map(|u| (l, u))) {
        replace_with_symlink(&t, "/run/host", link);
        let before = tree_listing(&t.rpath("/run"));
        let out = t.sh(
            userns,
            "cat /run/host/container-manager; ls /run/host; [ -c /run/host/inaccessible/chr ] && echo masks-ok",
        );
        let os_release = if Path::new("/etc/os-release").is_file() || Path::new("/usr/lib/os-release").is_file() {
            "os-release\n"
        } else {
            ""
        };
        assert_eq!(
            out.ok(),
            format!("spawnbox\ncontainer-manager\ncontainer-uuid\ninaccessible\nnotify\n{os_release}masks-ok\n"),
            "/run/host -> {link}"
        );
        assert_eq!(tree_listing(&t.rpath("/run")), before, "/run/host -> {link}: the tree's /run changed");
        dir.check(&format!("/run/host -> {link}"));
    }
}

/// The custom mounts the target tests try, on `dst` (a directory target), as (args, how the
/// error names the option).
fn dir_mounts(src: &Path, dst: &str) -> Vec<(Vec<String>, String)> {
    let s = src.display();
    vec![
        (vec![format!("--bind={s}:{dst}")], format!("--bind={s}:{dst}")),
        (vec![format!("--bind-ro={s}:{dst}")], format!("--bind-ro={s}:{dst}")),
        (vec![format!("--bind=+/srv/lower:{dst}")], format!("--bind=+/srv/lower:{dst}")),
        (vec![format!("--tmpfs={dst}")], format!("--tmpfs={dst}")),
        (vec![format!("--overlay=+/srv/lower:+/srv/upper:{dst}")], format!("--overlay=...:{dst}")),
        (vec![format!("--overlay-ro=+/srv/lower:+/srv/upper:{dst}")], format!("--overlay-ro=...:{dst}")),
        (vec![format!("--inaccessible={dst}")], format!("--inaccessible={dst}")),
    ]
}

/// The tree's `/srv/lower` and `/srv/upper` (in-root overlay layers and bind source).
fn in_root_layers(t: &Test) {
    t.write("/srv/lower/lower-file", "lower\n");
    fs::create_dir_all(t.rpath("/srv/upper")).unwrap();
}

#[test]
fn mount_targets_through_loops_and_dangling_links() {
    let t = Test::new("hostile-target-loop");
    in_root_layers(&t);
    let src = t.host_dir("bind-src");
    fs::write(src.join("payload"), "bind source\n").unwrap();
    let abs_new = t.path("nowhere-abs");
    let links = [
        self_loop("/mnt/link"),
        "nowhere".to_string(),
        abs_new.display().to_string(),
        climbing("/mnt/link", "nowhere-climb"),
    ];
    for link in &links {
        let looped = !link.contains("nowhere");
        for dst in ["/mnt/link", "/mnt/link/sub"] {
            for (args, name) in dir_mounts(&src, dst) {
                replace_with_symlink(&t, "/mnt/link", link);
                let what = format!("{args:?} with /mnt/link -> {link}");
                let before = tree_listing(&t.root);
                let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
                argv.push("/bin/true");
                let out = t.run(&argv);
                let err = if looped { "too many levels of symbolic links" } else { "no such file or directory" };
                // The mount point is looked up through the link, inside the tree; a missing
                // parent is never created through a dangling link.
                let want = if name.starts_with("--inaccessible") {
                    format!("{name}: open {}{dst}: {err}", t.root.display())
                } else if dst == "/mnt/link" || looped {
                    format!("{name}: open mount point {dst}: {err}")
                } else {
                    format!("{name}: open /mnt/link: {err}")
                };
                out.error(&want);
                assert_eq!(tree_listing(&t.root), before, "{what}: the tree changed");
                assert!(
                    !abs_new.exists() && !t.path("nowhere-climb").exists() && !t.path("nowhere").exists(),
                    "{what}: created on the host"
                );
            }
        }
    }
}

#[test]
fn mount_targets_climbing_out_land_in_the_tree() {
    let t = Test::new("hostile-target-climb");
    in_root_layers(&t);
    // The same name beside the tree (the host) and inside it: only the latter may be used.
    let host = CanaryDir::new(&t, "cdir");
    t.write("/cdir/tree-marker", "tree\n");
    let src = t.host_dir("bind-src");
    fs::write(src.join("payload"), "bind source\n").unwrap();
    let link = climbing("/mnt/link", "cdir");
    for (dst, point) in [("/mnt/link", "/cdir"), ("/mnt/link/sub", "/cdir/sub")] {
        for (args, name) in dir_mounts(&src, dst) {
            replace_with_symlink(&t, "/mnt/link", &link);
            if name.starts_with("--inaccessible") {
                // Masking skips nothing and creates nothing: the target must exist.
                fs::create_dir_all(t.rpath(point)).unwrap();
            }
            let what = format!("{args:?} with /mnt/link -> {link}");
            let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
            argv.extend(["/bin/cat", "/proc/self/mountinfo"]);
            let out = t.run(&argv);
            let mounts = spawnbox_tests::parse_mountinfo(out.ok());
            assert!(mounts.iter().any(|m| m.point == point), "{what}: nothing mounted on {point}: {out:?}");
            host.check(&what);
            assert_eq!(fs::read_to_string(t.rpath("/cdir/tree-marker")).unwrap(), "tree\n", "{what}");
            let _ = fs::remove_dir(t.rpath("/cdir/sub"));
        }
    }
}

#[test]
fn overlay_in_root_layers_symlinked_out() {
    let t = Test::new("hostile-overlay-layers");
    let lower = CanaryDir::new(&t, "canary-lower");
    let upper = CanaryDir::new(&t, "canary-upper");
    t.write("/srv/lower/lower-file", "lower\n");
    fs::create_dir_all(t.rpath("/srv/upper")).unwrap();
    let [lower_abs, lower_rel] = links_to("/srv/ll", &lower.path);
    let [upper_abs, upper_rel] = links_to("/srv/ul", &upper.path);
    let cases = [
        // A link for a layer resolves inside the tree, where the host directory is not.
        (
            "--overlay=+/srv/ll:+/srv/upper:/mnt/ov",
            lower_abs.clone(),
            "mount overlay on /mnt/ov: open /srv/ll: no such file or directory",
        ),
        (
            "--overlay=+/srv/ll:+/srv/upper:/mnt/ov",
            lower_rel.clone(),
            "mount overlay on /mnt/ov: open /srv/ll: no such file or directory",
        ),
        (
            "--overlay=+/srv/lower:+/srv/ul:/mnt/ov",
            upper_abs.clone(),
            "mount overlay on /mnt/ov: open /srv/ul: no such file or directory",
        ),
        (
            "--overlay=+/srv/lower:+/srv/ul:/mnt/ov",
            upper_rel.clone(),
            "mount overlay on /mnt/ov: open /srv/ul: no such file or directory",
        ),
        (
            "--overlay-ro=+/srv/ll:+/srv/lower:/mnt/ov",
            lower_abs,
            "mount overlay on /mnt/ov: open /srv/ll: no such file or directory",
        ),
        // The work directory is made beside the upper, inside the tree.
        ("--overlay=+/srv/lower:+/srv/ul/up:/mnt/ov", upper_rel, "open /srv/ul: no such file or directory"),
    ];
    for (opt, link, err) in cases {
        let _ = fs::remove_file(t.rpath("/srv/ll"));
        let _ = fs::remove_file(t.rpath("/srv/ul"));
        let name = if opt.contains("/srv/ll") { "/srv/ll" } else { "/srv/ul" };
        replace_with_symlink(&t, name, &link);
        let what = format!("{opt} with {name} -> {link}");
        t.sh(&[opt], "ls /mnt/ov").error(err);
        lower.check(&what);
        upper.check(&what);
        let stray: Vec<_> = fs::read_dir(&t.dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("spawnbox-work"))
            .collect();
        assert!(stray.is_empty(), "{what}: work directory on the host: {stray:?}");
    }
    // The in-tree layers work, and the work directory stays in the tree.
    let out = t.sh(&["--overlay=+/srv/lower:+/srv/upper:/mnt/ov"], "ls /mnt/ov; echo new > /mnt/ov/new");
    assert_eq!(out.ok(), "lower-file\n");
    assert_eq!(fs::read_to_string(t.rpath("/srv/upper/new")).unwrap(), "new\n");
}

#[test]
fn boot_init_symlinked_out_of_the_tree() {
    let t = Test::new("hostile-init");
    let ran = t.path("host-init-ran");
    let host_init = t.path("host-init");
    fs::write(&host_init, format!("#!/bin/sh\necho host init > {}\n", ran.display())).unwrap();
    fs::set_permissions(&host_init, fs::Permissions::from_mode(0o755)).unwrap();
    let canary = Canary { state: file_state(&host_init), path: host_init.clone() };
    let no_init = format!(
        "cannot find an init in {} (tried /usr/lib/systemd/systemd, /lib/systemd/systemd, /sbin/init)",
        t.root.display()
    );
    let [abs, rel] = links_to("/sbin/init", &host_init);
    for link in [abs, rel.clone(), self_loop("/sbin/init"), "nowhere".into()] {
        replace_with_symlink(&t, "/sbin/init", &link);
        run_bounded(&t, &["-b"]).error(&no_init);
        assert!(!ran.exists(), "/sbin/init -> {link}: the host's init ran");
        canary.check(&format!("/sbin/init -> {link}"));
    }
    // The same climbing link with a file of that name inside the tree: the tree's runs.
    t.script("/host-init", "echo tree init $$");
    replace_with_symlink(&t, "/sbin/init", &rel);
    assert_eq!(run_bounded(&t, &["-b"]).ok(), "tree init 1\n");
    assert!(!ran.exists(), "the host's init ran");
    canary.check("climb-in");
}

#[test]
fn boot_os_release_as_a_fifo() {
    let t = Test::new("hostile-os-release");
    let canary = Canary::with(&t, "canary-os-release", "ID=host-canary\n");
    fs::remove_file(t.rpath("/sbin/init")).unwrap();
    t.script("/sbin/init", "echo init");
    let refused = format!(
        "directory {} doesn't look like an OS root directory (os-release file is missing), refusing",
        t.root.display()
    );
    replace_with_node(&t, "/etc/os-release", Node::Fifo);
    run_bounded(&t, &["-b"]).error(&refused);
    for link in links_to("/usr/lib/os-release", &canary.path) {
        replace_with_symlink(&t, "/usr/lib/os-release", &link);
        run_bounded(&t, &["-b"]).error(&refused);
        canary.check(&link);
    }
    replace_with_node(&t, "/usr/lib/os-release", Node::Fifo);
    run_bounded(&t, &["-b"]).error(&refused);
    // A regular /usr/lib/os-release is enough; the fifo is never opened.
    let _ = fs::remove_file(t.rpath("/usr/lib/os-release"));
    t.write("/usr/lib/os-release", "ID=tree\n");
    assert_eq!(run_bounded(&t, &["-b"]).ok(), "init\n");
    assert!(fs::symlink_metadata(t.rpath("/etc/os-release")).unwrap().file_type().is_fifo());
}

#[test]
fn usr_symlinked_out_of_the_tree() {
    let t = Test::new("hostile-usr");
    let dir = CanaryDir::new(&t, "canary-usr");
    fs::create_dir_all(dir.path.join("bin")).unwrap();
    let dir = CanaryDir { listing: tree_listing(&dir.path), state: file_state(&dir.path), path: dir.path };
    fs::rename(t.rpath("/usr"), t.rpath("/usr.real")).unwrap();
    let refused = format!(
        "directory {} doesn't look like it has an OS tree (/usr/ directory is missing), refusing",
        t.root.display()
    );
    let [abs, rel] = links_to("/usr", &dir.path);
    for link in [abs, rel, self_loop("/usr"), "nowhere".into()] {
        replace_with_symlink(&t, "/usr", &link);
        t.run(&["/bin/true"]).error(&refused);
        dir.check(&format!("/usr -> {link}"));
    }
    // A link inside the tree is fine.
    replace_with_symlink(&t, "/usr", "usr.real");
    assert_eq!(t.sh(&[], "readlink /usr; [ -d /usr/bin ] && echo dir").ok(), "usr.real\ndir\n");
}

#[test]
fn chdir_into_a_symlink_pointing_out() {
    let t = Test::new("hostile-chdir");
    let host = CanaryDir::new(&t, "cdir");
    t.write("/cdir/tree-marker", "tree\n");
    let [abs, rel] = links_to("/srv/out", &host.path);
    let script = format!("{CWD_CHECK}; ls");
    for (link, want) in [
        (abs, Err("change directory to /srv/out: no such file or directory")),
        (self_loop("/srv/out"), Err("change directory to /srv/out: too many levels of symbolic links")),
        ("nowhere".to_string(), Err("change directory to /srv/out: no such file or directory")),
        // `..` climbing stops at the container's root: the tree's /cdir.
        (rel, Ok("cwd inside /cdir\ntree-marker\n")),
    ] {
        replace_with_symlink(&t, "/srv/out", &link);
        let out = t.sh(&["--chdir=/srv/out"], &script);
        match want {
            Ok(seen) => assert_eq!(out.ok(), seen, "/srv/out -> {link}"),
            Err(msg) => out.error(msg),
        }
        host.check(&format!("/srv/out -> {link}"));
    }
}

/// What went wrong when the payload's working directory came through a magic link: a cwd
/// outside the container, a host file written, or an unclear refusal. spawnbox may refuse (one
/// `spawnbox:` line, status 1) or run with the cwd inside the container.
fn cwd_escape(out: &Output, canary: &Canary) -> Option<String> {
    let mut bad = Vec::new();
    if out.code == Some(1) && out.stdout.is_empty() {
        if !(out.stderr.starts_with("spawnbox: ") && out.stderr.lines().count() == 1) {
            bad.push(format!("unclear refusal {:?}", out.stderr));
        }
    } else if out.code != Some(0) || !out.stdout.starts_with("cwd inside ") {
        bad.push(format!("status {:?}, payload said {:?}", out.code, out.stdout.trim()));
    }
    if file_state(&canary.path) != canary.state {
        bad.push(format!(
            "host file {} rewritten to {:?}",
            canary.path.display(),
            fs::read_to_string(&canary.path).unwrap_or_default()
        ));
    }
    (!bad.is_empty()).then(|| bad.join("; "))
}

/// The fds a magic link may name: spawnbox's own fds still open when the payload changes
/// directory (0-2 are the payload's stdio).
const FDS: std::ops::RangeInclusive<u32> = 3..=12;

#[test]
fn chdir_through_a_magic_link_stays_inside() {
    // CVE-2024-21626 with the tree choosing the fd: a directory fd of spawnbox that is still
    // open when the payload changes directory must never become its cwd.
    let t = Test::new("hostile-chdir-fd");
    let mut escapes = Vec::new();
    for n in FDS {
        let canary = Canary::new(&t, &format!("canary-fd{n}"));
        let p = format!("/fd{n}");
        replace_with_symlink(&t, &p, &format!("/proc/self/fd/{n}"));
        let out =
            t.sh(&[&format!("--chdir={p}")], &format!("{CWD_CHECK}; echo escaped > ../canary-fd{n} 2>/dev/null; true"));
        if let Some(e) = cwd_escape(&out, &canary) {
            escapes.push(format!("--chdir={p} (-> /proc/self/fd/{n}): {e}"));
            continue;
        }
        // An explicit --chdir that cannot be resolved inside the root is refused, naming it.
        let why = ["too many levels of symbolic links", "no such file or directory"];
        assert!(
            out.code == Some(1)
                && why.iter().any(|w| out.stderr == format!("spawnbox: change directory to {p}: {w}\n")),
            "--chdir={p}: {out:?}"
        );
    }
    assert!(escapes.is_empty(), "the payload's cwd left the container:\n{}", escapes.join("\n"));
}

#[test]
fn home_through_a_magic_link_stays_inside() {
    // The same with no option at all: the default shell starts in the tree's passwd home.
    let t = Test::new("hostile-home-fd");
    let mut escapes = Vec::new();
    for n in FDS {
        let canary = Canary::new(&t, &format!("canary-home{n}"));
        t.script("/bin/bash", &format!("{CWD_CHECK}; echo escaped > ../canary-home{n} 2>/dev/null; true"));
        t.write("/etc/passwd", &format!("root:x:0:0:root:/proc/self/fd/{n}:/bin/sh\n"));
        let out = run_bounded(&t, &[]);
        if let Some(e) = cwd_escape(&out, &canary) {
            escapes.push(format!("home /proc/self/fd/{n}: {e}"));
            continue;
        }
        // An unusable home is not an error: the shell starts in `/`, as nspawn does.
        assert_eq!(out.ok(), "cwd inside /\n", "home /proc/self/fd/{n}");
    }
    assert!(escapes.is_empty(), "the default shell's cwd left the container:\n{}", escapes.join("\n"));
}

#[test]
fn climbing_links_resolve_under_concurrent_renames() {
    // openat2(RESOLVE_IN_ROOT) fails with EAGAIN when a rename or mount anywhere on the host
    // races a `..` step; the kernel asks the caller to retry. Trees are full of `..` links
    // (`/sbin/init -> ../bin/busybox`, `/etc/os-release -> ../usr/lib/os-release`): a start
    // must not fail, or silently skip a step, because the host renamed a file meanwhile.
    let t = Test::new("hostile-eagain");
    t.write("/srv/target/marker", "tree\n");
    replace_with_symlink(&t, "/mnt/link", "../srv/target");
    let src = t.host_dir("bind-src");
    fs::write(src.join("payload"), "bind source\n").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm = {
        let (stop, a, b) = (stop.clone(), t.path("storm-a"), t.path("storm-b"));
        fs::write(&a, "x").unwrap();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = fs::rename(&a, &b);
                let _ = fs::rename(&b, &a);
            }
        })
    };
    let bind = format!("--bind={}:/mnt/link", src.display());
    let mut failures = Vec::new();
    for _ in 0..100 {
        let out = t.sh(&[&bind], "ls /srv/target");
        if out.code != Some(0) || out.stdout != "payload\n" {
            failures.push(format!("{:?} {:?}", out.code, out.stderr.trim()));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    storm.join().unwrap();
    assert!(failures.is_empty(), "{} of 100 starts failed under concurrent renames: {failures:?}", failures.len());
}

/// A copy of the tree's busybox beside the tree (a host executable), its `dev:ino`, and the
/// payload check: prints `exe inside`, or `exe OUTSIDE` after trying to overwrite the host
/// executable the way CVE-2019-5736 does (keep it open, exec away, reopen it for writing).
fn host_executable(t: &Test, name: &str) -> (Canary, String) {
    let exe = t.path(name);
    fs::copy(t.rpath("/bin/busybox"), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    let m = fs::metadata(&exe).unwrap();
    let check = format!(
        r#"if [ "$(/bin/busybox stat -L -c %d:%i /proc/$$/exe)" = "{}:{}" ]; then echo "exe OUTSIDE"; exec 3</proc/$$/exe; exec /bin/busybox sh -c "echo pwned > /proc/self/fd/3"; fi; echo "exe inside""#,
        m.dev(),
        m.ino()
    );
    (Canary { state: file_state(&exe), path: exe }, check)
}

fn exe_escape(out: &Output, canary: &Canary) -> Option<String> {
    let mut bad = Vec::new();
    if out.code == Some(1) && out.stdout.is_empty() {
        if !(out.stderr.starts_with("spawnbox: ") && out.stderr.lines().count() == 1) {
            bad.push(format!("unclear refusal {:?}", out.stderr));
        }
    } else if out.stdout.contains("exe OUTSIDE") || !out.stdout.contains("exe inside") {
        bad.push(format!("status {:?}, stdout {:?}, stderr {:?}", out.code, out.stdout.trim(), out.stderr.trim()));
    }
    if file_state(&canary.path) != canary.state {
        bad.push(format!("host executable {} rewritten", canary.path.display()));
    }
    (!bad.is_empty()).then(|| bad.join("; "))
}

#[test]
fn command_through_a_magic_link_stays_inside() {
    // The command's path is the tree's: a link through /proc/self/fd/N to a descriptor the
    // launcher still holds at execve would run a host executable in the container, which the
    // payload can then rewrite through /proc/PID/exe (CVE-2019-5736 class).
    let t = Test::new("hostile-exec-fd");
    let mut escapes = Vec::new();
    for n in FDS {
        let (canary, check) = host_executable(&t, &format!("canary-exe{n}"));
        // Named `sh`: busybox picks its applet by the name it is run as.
        let p = format!("/opt/fd{n}/sh");
        let target = format!("/proc/self/fd/{n}/../canary-exe{n}");
        replace_with_symlink(&t, &p, &target);
        let out = run_bounded(&t, &[&p, "-c", &check]);
        if let Some(e) = exe_escape(&out, &canary) {
            escapes.push(format!("{p} -> {target}: {e}"));
        }
    }
    assert!(escapes.is_empty(), "the container executed a host file:\n{}", escapes.join("\n"));
}

#[test]
fn default_shell_through_a_magic_link_stays_inside() {
    // The same with no option at all: /bin/sh of the tree is the default shell, and its
    // /etc/profile is the attacker's.
    let t = Test::new("hostile-shell-fd");
    let _ = fs::remove_file(t.rpath("/bin/bash"));
    let mut escapes = Vec::new();
    for n in FDS {
        let (canary, check) = host_executable(&t, &format!("canary-exe{n}"));
        t.write("/etc/profile", &format!("{check}\n"));
        let target = format!("/proc/self/fd/{n}/../canary-exe{n}");
        replace_with_symlink(&t, "/bin/sh", &target);
        let out = run_bounded(&t, &[]);
        if let Some(e) = exe_escape(&out, &canary) {
            escapes.push(format!("/bin/sh -> {target}: {e}"));
        }
    }
    assert!(escapes.is_empty(), "the default shell was a host file:\n{}", escapes.join("\n"));
}
