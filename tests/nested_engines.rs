//! spawnbox inside another container engine (nested use): podman, from Debian's packages
//! (`make deps`), runs spawnbox as the entrypoint of a `--privileged --network=none` container,
//! and spawnbox boots the busybox-init guest inside it. The tests read what the innermost guest
//! sees (its PID 1, hostname, cgroup) and stop it the ways an engine user does: `poweroff` at
//! the guest's shell, `podman stop`, a command's exit status.
//!
//! Every piece of podman's state is in the test's temp dir: `--root`, `--runroot`, `--tmpdir`,
//! `--network-config-dir`, and runc's `--root` (through a wrapper script, since podman's cleanup
//! runs the runtime without `--runtime-flag`). The container runs on the test's own tree
//! (`--rootfs`: no image store, no blob cache in /var/lib/containers), in a cgroup parent of
//! its own that the test removes. The checks at the end: no podman container, no process in
//! the cgroup parent, no cgroup but podman's own `conmon` one, no file of podman's or runc's
//! outside the temp dir, the host mount table unchanged (the common `Test` checks).
//!
//! Runtime: runc, not podman's default crun. crun 1.8 refuses a hybrid host whose cgroup2
//! hierarchy has a controller enabled ("cgroups in hybrid mode not supported, drop all
//! controllers from cgroupv2"), which this project's hosts are (hugetlb in
//! /sys/fs/cgroup/unified). Podman is missing: the tests fail (`make deps` installs it).

use spawnbox_tests::pty::Pty;
use spawnbox_tests::{tree_listing, wait_until, Cmd, Test};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(30);

/// A podman container mounts its `/dev/shm` on the host while it runs (in the state dir): the
/// tests of this file run one at a time, so that one test's mount-table check does not see
/// another's container.
static SERIAL: Mutex<()> = Mutex::new(());

/// Paths podman, runc or crun use by default outside the state dirs the tests give them.
const ENGINE_PATHS: &[&str] = &[
    "/run/runc",
    "/run/crun",
    "/run/libpod",
    "/run/containers",
    "/var/lib/containers",
    "/etc/cni/net.d",
    "/run/netns",
];

fn engine_state() -> Vec<String> {
    ENGINE_PATHS
        .iter()
        .flat_map(|p| {
            let p = Path::new(p);
            if !p.exists() {
                return vec![format!("{} absent", p.display())];
            }
            std::iter::once(format!("{} present", p.display()))
                .chain(tree_listing(p).into_iter().map(|l| format!("{}/{l}", p.display())))
                .collect()
        })
        .collect()
}

/// The cached busybox-init guest (`tests/guests/mkguest.sh busybox`, exported by `make`).
fn busybox_guest() -> PathBuf {
    let p = spawnbox_tests::guest("busybox");
    assert!(p.join("etc/inittab").is_file(), "{} is no busybox guest tree", p.display());
    p
}

/// Where the host's cgroup2 hierarchy is mounted (`/sys/fs/cgroup/unified` on hybrid hosts).
fn cgroup2_mount() -> PathBuf {
    cgroup_mounts().into_iter().find(|(_, t)| t == "cgroup2").map(|(p, _)| p).expect("a cgroup2 mount")
}

/// Every cgroup (v1 or v2) mount of the host: (mount point, fs type).
fn cgroup_mounts() -> Vec<(PathBuf, String)> {
    fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() > 2 && (f[2] == "cgroup" || f[2] == "cgroup2")).then(|| (PathBuf::from(f[1]), f[2].to_string()))
        })
        .collect()
}

/// The host's cgroup2 hierarchy is at /sys/fs/cgroup (not a hybrid or legacy layout).
fn host_is_unified() -> bool {
    cgroup2_mount() == Path::new("/sys/fs/cgroup")
}

/// systemd's unit-name escaping of a machine name as the tests use them (`-` is `\x2d`).
fn escaped(name: &str) -> String {
    name.replace('-', "\\x2d")
}

/// One test's podman: the test's tree (a copy of the busybox guest, with spawnbox in
/// /usr/bin and a second copy of the guest in /guest) is the container's root.
struct Podman {
    /// The podman container's name, the inner machine's name (`-M`) and its hostname.
    name: String,
    state: PathBuf,
    /// `--cgroup-parent`, below the root of every hierarchy.
    parent: String,
    engine_before: Vec<String>,
    t: Test,
    _serial: MutexGuard<'static, ()>,
}

impl Podman {
    fn new(tag: &str) -> Podman {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let version = std::process::Command::new("podman").arg("--version").output();
        assert!(
            version.as_ref().is_ok_and(|o| o.status.success()),
            "podman does not run ({version:?}): `make deps` installs it (DEB_PACKAGES)"
        );
        assert!(Path::new("/usr/bin/runc").is_file(), "runc is not installed: `make deps` installs it (DEB_PACKAGES)");
        let engine_before = engine_state();
        let t = Test::from_tree(tag, &busybox_guest());
        let name = t.root.file_name().unwrap().to_string_lossy().into_owned();
        let st =
            std::process::Command::new("cp").arg("-a").arg(busybox_guest()).arg(t.rpath("/guest")).status().unwrap();
        assert!(st.success(), "copy the guest into the tree");
        fs::create_dir_all(t.rpath("/usr/bin")).unwrap();
        fs::copy(spawnbox_tests::spawnbox_bin(), t.rpath("/usr/bin/spawnbox")).unwrap();
        let state = t.host_dir("podman");
        let runc = t.host_dir("podman/bin").join("runc");
        fs::write(&runc, format!("#!/bin/sh\nexec /usr/bin/runc --root {}/runc \"$@\"\n", state.display())).unwrap();
        fs::set_permissions(&runc, fs::Permissions::from_mode(0o755)).unwrap();
        Podman { parent: format!("/spawnbox-{name}"), name, state, engine_before, t, _serial: serial }
    }

    /// `podman` with the test's state dirs and ARGS.
    fn podman(&self, args: &[&str]) -> Cmd {
        let s = self.state.display();
        let mut c = Cmd::new();
        c.program("/usr/bin/podman")
            .args(&[
                &format!("--root={s}/root"),
                &format!("--runroot={s}/run"),
                &format!("--tmpdir={s}/tmp"),
                &format!("--network-config-dir={s}/net"),
                &format!("--runtime={s}/bin/runc"),
                "--storage-driver=vfs",
                "--cgroup-manager=cgroupfs",
                "--events-backend=file",
            ])
            .args(args)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        c
    }

    /// `podman run --rm --privileged --network=none` on the test's tree, named after the
    /// test, with OPTS, then the container's command CMD.
    fn run(&self, opts: &[&str], cmd: &[&str]) -> Cmd {
        // Podman's default limits for a root container (nofile 1048576, nproc 4194304) raise
        // the hard limits, which root cannot without CAP_SYS_RESOURCE (this project's CI):
        // the test's own nofile limit and a fixed nproc instead.
        let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum.unwrap_or(1 << 20);
        let root = self.t.root.to_str().unwrap();
        let mut args = vec![
            "run".to_string(),
            "--rm".into(),
            "--privileged".into(),
            "--network=none".into(),
            format!("--name={}", self.name),
            format!("--cgroup-parent={}", self.parent),
            format!("--ulimit=nofile={nofile}:{nofile}"),
            "--ulimit=nproc=4096:4096".into(),
        ];
        args.extend(opts.iter().map(|s| s.to_string()));
        args.extend(["--rootfs".to_string(), root.to_string()]);
        args.extend(cmd.iter().map(|s| s.to_string()));
        let mut c = self.podman(&args.iter().map(String::as_str).collect::<Vec<_>>());
        c.timeout(Duration::from_secs(300));
        c
    }

    /// The parent's directory in each cgroup hierarchy that has it.
    fn parent_dirs(&self) -> Vec<PathBuf> {
        cgroup_mounts()
            .into_iter()
            .map(|(m, _)| m.join(self.parent.trim_start_matches('/')))
            .filter(|d| d.is_dir())
            .collect()
    }

    /// The PIDs in the parent cgroup or below it, in any hierarchy.
    fn processes_in_parent(&self) -> Vec<i32> {
        fn walk(d: &Path, out: &mut Vec<i32>) {
            let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            out.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            for e in fs::read_dir(d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), out);
                }
            }
        }
        let mut out = Vec::new();
        for d in self.parent_dirs() {
            walk(&d, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        let ps = self.podman(&["ps", "-a", "-q"]).run();
        let containers = ps.stdout.trim().to_string();
        if !containers.is_empty() {
            let _ = self.podman(&["rm", "-f", "-t", "0", "-a"]).run();
        }
        // conmon runs podman's `container cleanup` after the container's end: wait for it.
        let mut left = Vec::new();
        let quiet = wait_until(Duration::from_secs(20), || {
            left = self.processes_in_parent();
            left.is_empty()
        });
        for pid in &left {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(*pid).unwrap(),
                rustix::process::Signal::KILL,
            );
        }
        // Podman removes each container's cgroup (runc delete) but leaves its conmon's and the
        // parent; anything else is a leak (a cgroup spawnbox left inside the container's).
        let mut leaked = Vec::new();
        for d in self.parent_dirs() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != "conmon" {
                    leaked.push(e.path());
                }
            }
            remove_cgroup_tree(&d);
        }
        let left_dirs = self.parent_dirs();
        let engine_after = engine_state();
        if panicking {
            return;
        }
        assert!(containers.is_empty(), "podman containers were left (removed now): {containers:?}");
        assert!(quiet, "processes were left in the cgroup parent {} (killed now): {left:?}", self.parent);
        assert!(leaked.is_empty(), "cgroups were left below {} (removed now): {leaked:?}", self.parent);
        assert!(left_dirs.is_empty(), "cgroups could not be removed: {left_dirs:?}");
        assert_eq!(self.engine_before, engine_after, "podman or runc changed files outside the test's temp dir");
    }
}

/// Removes cgroup `dir` and every cgroup below it, children first.
fn remove_cgroup_tree(dir: &Path) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&e.path());
        }
    }
    wait_until(Duration::from_secs(5), || fs::remove_dir(dir).is_ok() || !dir.exists());
}

/// Runs `cmd` at the guest's shell prompt and returns what it printed.
fn shell(pty: &mut Pty, cmd: &str) -> String {
    pty.run_at_prompt(cmd, STEP)
}

/// What the innermost guest is asked: its PID 1, hostname, cgroup, what is mounted on
/// /sys/fs/cgroup, and that busybox init ran its sysinit action.
const PROBE: &str = "cat /proc/1/comm; hostname; grep ^0:: /proc/self/cgroup; \
                     grep ' /sys/fs/cgroup ' /proc/self/mountinfo | sed 's/.* - //'; cat /run/booted";

#[test]
fn a_booted_guest_in_a_podman_container_powers_off_with_status_0() {
    let p = Podman::new("podman-boot");
    // What podman gives the container on this host: with runc on a hybrid host, the v1
    // hierarchies only (no cgroup2 inside); on a unified host, a cgroup2 namespace.
    let view = p.run(&[], &["/bin/sh", "-c", "grep -c ' - cgroup2 ' /proc/self/mountinfo; exit 0"]).run();
    let engine_cgroup2 = view.code(0) != "0\n";
    assert_eq!(engine_cgroup2, host_is_unified(), "{view:?}");

    let mut pty = Pty::new(40, 200);
    let mut run =
        p.run(&["-it"], &["/usr/bin/spawnbox", "-b", "-D", "/guest", "-M", &p.name]).terminal(pty.slave()).spawn();
    let m = pty.mark();
    let at = pty.expect_after(m, "# ", BOOT);
    let boot_text = pty.text_after(m)[..at - m].to_string();
    assert!(boot_text.contains(&format!("Spawning container {} on /guest.", p.name)), "{boot_text:?}");
    // That the guest's sysinit ran is read from its state (PROBE's /run/booted) rather than
    // from its console: busybox getty's tcflush(TCIOFLUSH) on the console discards, in the
    // kernel (pty_flush_buffer flushes the other side), what spawnbox has not read yet, so
    // under load the sysinit line may never reach any terminal (seen once in CI).
    let (cgroup, cgroupfs) = if engine_cgroup2 {
        ("0::/init.scope", "cgroup2 cgroup2 rw\r\n")
    } else {
        // spawnbox's documented fallback without cgroup2 (docs/CGROUPS.md): no cgroup of its
        // own, one warning; the guest still gets a cgroup namespace of its own, and no
        // /sys/fs/cgroup.
        let warning = "no cgroup2 hierarchy on this host, running the container without a cgroup of its own";
        assert!(boot_text.contains(warning), "{boot_text:?}");
        ("0::/", "")
    };
    assert_eq!(shell(&mut pty, PROBE), format!("init\r\n{}\r\n{cgroup}\r\n{cgroupfs}booted\r\n", p.name));
    // The guest's console is the terminal podman gave spawnbox (a pty of conmon's).
    assert_eq!(shell(&mut pty, "tty; stat -c %t /dev/console"), "/dev/console\r\n88\r\n");
    let m = pty.mark();
    pty.type_line("poweroff");
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    pty.expect_after(m, "Requesting system poweroff", STEP);
    pty.expect_after(m, &format!("Container {} has been shut down.", p.name), STEP);
}

#[test]
fn podman_stop_halts_a_guest_that_has_its_own_cgroup_in_a_private_cgroup_namespace() {
    // A private cgroup namespace with cgroup2 mounted by the entrypoint: spawnbox runs alone in
    // the root of its cgroup namespace, as in a cgroup2 podman container. It makes the guest's
    // cgroup below the container's.
    let p = Podman::new("podman-cgns");
    p.t.script(
        "/nest.sh",
        "grep -q ' - cgroup2 ' /proc/self/mountinfo || \
         { mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified; } || exit 99\n\
         exec /usr/bin/spawnbox \"$@\"",
    );
    let mut pty = Pty::new(40, 200);
    let mut run = p
        .run(&["-it", "--cgroupns=private"], &["/nest.sh", "-b", "-D", "/guest", "-M", &p.name])
        .terminal(pty.slave())
        .spawn();
    let m = pty.mark();
    pty.expect_after(m, "# ", BOOT);
    assert_eq!(
        shell(&mut pty, PROBE),
        format!("init\r\n{}\r\n0::/init.scope\r\ncgroup2 cgroup2 rw\r\nbooted\r\n", p.name)
    );

    // On the host: the guest's processes are in machine.slice/machine-NAME.scope/init.scope below the
    // podman container's cgroup.
    let ctr = cgroup2_mount().join(p.parent.trim_start_matches('/'));
    let libpod: Vec<PathBuf> = fs::read_dir(&ctr)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|d| d.file_name().unwrap().to_string_lossy().starts_with("libpod-") && d.is_dir())
        .filter(|d| !d.file_name().unwrap().to_string_lossy().starts_with("libpod-conmon"))
        .collect();
    assert_eq!(libpod.len(), 1, "{libpod:?}");
    let scope = libpod[0].join(format!("machine.slice/machine-{}.scope", escaped(&p.name)));
    let procs = fs::read_to_string(scope.join("init.scope/cgroup.procs")).unwrap();
    let mut comms: Vec<String> = procs
        .lines()
        .map(|pid| fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string())
        .collect();
    comms.sort();
    // busybox init and the console's shell (getty -l /bin/sh), which init started there.
    assert_eq!(comms, ["init", "sh"], "{}", scope.display());
    // spawnbox is alone in the namespace root: when that root has controllers to give, it moves
    // into supervisor/ so that the guest gets them (docs/CGROUPS.md, "Nested").
    let offered = fs::read_to_string(libpod[0].join("cgroup.controllers")).unwrap();
    let supervisor = libpod[0].join("supervisor");
    if offered.trim().is_empty() {
        assert!(!supervisor.exists(), "nothing to enable, yet {} exists", supervisor.display());
    } else {
        let pids = fs::read_to_string(supervisor.join("cgroup.procs")).unwrap();
        let comms: Vec<String> = pids
            .lines()
            .map(|pid| fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string())
            .collect();
        assert_eq!(comms, ["spawnbox"]);
        assert_eq!(fs::read_to_string(scope.join("cgroup.controllers")).unwrap(), offered);
    }

    let m = pty.mark();
    let started = Instant::now();
    let stop = p.podman(&["stop", "-t", "60", &p.name]).timeout(Duration::from_secs(90)).run();
    assert_eq!(stop.code(0), format!("{}\n", p.name));
    // Not the SIGKILL at the end of podman's grace time: spawnbox (the container's PID 1)
    // took SIGTERM and halted the guest through busybox init's shutdown actions.
    assert!(started.elapsed() < Duration::from_secs(30), "podman stop took {:?}", started.elapsed());
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    pty.expect_after(m, "Trying to halt container by sending SIGUSR1 to container PID 1.", STEP);
    pty.expect_after(m, &format!("Container {} has been shut down.", p.name), STEP);
    assert_eq!(fs::read_to_string(p.t.rpath("/guest/var/lib/spawnbox-marker")).unwrap(), "shutdown-ran\n");
    assert!(!scope.exists(), "spawnbox left {}", scope.display());
}

#[test]
fn a_command_run_by_spawnbox_in_podman_gives_podman_its_exit_status() {
    let p = Podman::new("podman-cmd");
    let out = p
        .run(
            &[],
            &[
                "/usr/bin/spawnbox",
                "-D",
                "/guest",
                "-M",
                &p.name,
                "--console=pipe",
                "/bin/sh",
                "-c",
                "cat /proc/1/comm; hostname; echo $container; grep ^0:: /proc/self/cgroup; exit 7",
            ],
        )
        .run();
    // The command is the container's PID 1, in a cgroup namespace of its own.
    assert_eq!(out.code(7), format!("sh\n{}\nspawnbox\n0::/\n", p.name));
    assert_eq!(out.stderr, "");
}
