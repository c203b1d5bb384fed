//! The container engines that drive an OCI runtime through runc's command line, started with all
//! their state in a test's temp dir, for the end-to-end tests of `spawnbox-runc`
//! (`tests/oci_engines.rs`, issue 19): podman/conmon, containerd (with `ctr`) and dockerd on
//! that containerd (the path Nomad's docker driver takes). Every engine is told to use
//! [`runtime`], the runtime under test; with `SPAWNBOX_OCI_RUNTIME=/usr/sbin/runc` the same
//! tests check the harness itself against runc.
//!
//! What each engine is given (measured in `../shared/reference/oci-runtime.md`):
//! - **podman**: `--root/--runroot/--tmpdir/--network-config-dir` in the temp dir, vfs storage,
//!   `--cgroup-manager=cgroupfs --events-backend=file`, and on `run` `--network=none`, a
//!   `--cgroup-parent` of the instance's own, and `--ulimit nofile=H:H --ulimit nproc=4096:4096`
//!   (podman's default limits of 1048576 need CAP_SYS_RESOURCE, which CI lacks). Podman passes
//!   no `--root` to its runtime, so `--runtime` is a wrapper named like the runtime (podman picks
//!   runc's flags by that name) that adds `--root <temp>/runtime`.
//! - **containerd**: a config whose root, state, sockets and `opt` directory are in the temp
//!   dir, the CRI plugin disabled, a containerd namespace of the instance's own (it names the
//!   runtime's `--root /run/containerd/runc/<ns>` and the cgroup parent `/<ns>`); `ctr -a SOCK
//!   -n NS`, `ctr run --runc-binary RUNTIME --fifo-dir <temp>`.
//! - **dockerd**: `--data-root/--exec-root/--pidfile/-H unix://` in the temp dir, `--containerd`
//!   the instance's own containerd, iptables, bridge, IP forwarding and masquerading off, a cgroup
//!   parent of its own, vfs storage, `--add-runtime NAME=RUNTIME`; the Debian docker CLI
//!   `/usr/bin/docker` (docker.io), whatever else is on PATH.
//!
//! Images: [`image`], a busybox-static image built once by `tests/engines/mkimage.sh` and cached
//! in `/var/cache/spawnbox-images` (a rootfs tar for `podman import`, a docker-archive for
//! `ctr images import` and `docker load`); no registry is ever contacted.
//!
//! Cleanup: each engine's `Drop` (also when the test panics) removes its containers, stops its
//! daemons, kills what is left of its processes (conmon, shims), removes its cgroups and its temp
//! dir. The engines also write outside their roots whatever they are told (podman's blob cache in
//! `/var/lib/containers`, runc's default root, containerd's shim sockets in `/run/containerd/s`,
//! dockerd's `/etc/docker/key.json` and `/run/docker/plugins`, ...): [`HostGuard`] records which
//! of those paths existed before the first engine of the test binary started and removes, when
//! the last one is gone, only those that did not; it then checks that the host's mount table,
//! network interfaces and IP forwarding settings are what they were.

use crate::host::host_mounts;
use crate::{multiset_diff, scratch_dir, wait_until, workspace, Cmd};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How long one engine command may take.
pub const ENGINE_TIMEOUT: Duration = Duration::from_secs(60);

/// The Debian programs the engines are (make deps: podman, containerd, docker.io).
pub const PODMAN: &str = "/usr/bin/podman";
pub const CONTAINERD: &str = "/usr/bin/containerd";
pub const CTR: &str = "/usr/bin/ctr";
pub const DOCKERD: &str = "/usr/sbin/dockerd";
/// docker.io's CLI; a `docker` earlier on PATH (/usr/local/bin) may be another build.
pub const DOCKER: &str = "/usr/bin/docker";

const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The OCI runtime under test: `$SPAWNBOX_OCI_RUNTIME`, else `<workspace>/build/spawnbox-runc`
/// (the symlink to spawnbox that `make build` makes).
pub fn runtime() -> &'static Path {
    static RT: OnceLock<PathBuf> = OnceLock::new();
    RT.get_or_init(|| {
        let p = std::env::var_os("SPAWNBOX_OCI_RUNTIME")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("build/spawnbox-runc"));
        let p = if p.is_absolute() { p } else { std::env::current_dir().unwrap().join(p) };
        assert!(
            fs::metadata(&p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0),
            "OCI runtime {} not found: run `make build` (build/spawnbox-runc) or set SPAWNBOX_OCI_RUNTIME=/usr/sbin/runc",
            p.display()
        );
        p
    })
}

/// The runtime's file name (podman chooses runc's flags by it; dockerd's runtime name).
pub fn runtime_name() -> String {
    runtime().file_name().unwrap().to_string_lossy().into_owned()
}

/// The cached busybox image (`tests/engines/mkimage.sh`).
pub struct Image {
    pub dir: PathBuf,
    /// The tree as a tar, for `podman import`.
    pub rootfs_tar: PathBuf,
    /// A docker-archive, for `ctr images import` and `docker load`.
    pub archive: PathBuf,
    /// `localhost/spawnbox-busybox:latest`.
    pub name: String,
}

/// The busybox image, built once (and cached across runs) by `tests/engines/mkimage.sh`.
pub fn image() -> &'static Image {
    static IMG: OnceLock<Image> = OnceLock::new();
    IMG.get_or_init(|| {
        let out = Command::new("bash")
            .arg(workspace().join("tests/engines/mkimage.sh"))
            .stderr(Stdio::piped())
            .output()
            .expect("run tests/engines/mkimage.sh");
        assert!(out.status.success(), "tests/engines/mkimage.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let name = fs::read_to_string(dir.join("name")).unwrap().trim().to_string();
        Image { rootfs_tar: dir.join("rootfs.tar"), archive: dir.join("image.tar"), name, dir }
    })
}

fn require(program: &str, package: &str) {
    assert!(Path::new(program).is_file(), "{program} is missing: `make deps` installs Debian's {package}");
}

/// A name unique on the host for this instance (cgroup parents, containerd namespaces).
fn unique(kind: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("spawnbox-test-{kind}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

// ----------------------------------------------------------------------------------- host ---

/// Paths the engines create outside the roots they are given, parents before children.
pub const HOST_ARTIFACTS: &[&str] = &[
    "/var/lib/containers",
    "/var/lib/containers/cache",
    "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
    "/etc/containers/networks",
    "/etc/containers/networks/netavark.lock",
    "/run/containers",
    "/run/libpod",
    "/run/runc",
    "/run/crun",
    "/run/spawnbox-runc",
    "/run/containerd",
    "/run/containerd/s",
    "/run/containerd/fifo",
    "/run/containerd/runc",
    "/opt/containerd",
    "/run/docker",
    "/run/docker/plugins",
    "/etc/docker/key.json",
    "/var/lib/docker",
    "/var/lib/containerd",
];

/// Top-level cgroups engines make by default in every hierarchy.
pub const HOST_CGROUPS: &[&str] = &["libpod_parent", "docker", "moby", "default"];

struct Snapshot {
    existed: Vec<bool>,
    cgroups: Vec<PathBuf>,
    mounts: Vec<String>,
    links: Vec<String>,
    forwarding: Vec<(String, String)>,
}

const FORWARDING: &[&str] = &[
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/net/ipv6/conf/all/forwarding",
    "/proc/sys/net/ipv6/conf/default/forwarding",
];

fn default_cgroups() -> Vec<PathBuf> {
    cgroup_roots()
        .into_iter()
        .flat_map(|r| HOST_CGROUPS.iter().map(move |n| r.join(n)))
        .filter(|p| p.is_dir())
        .collect()
}

fn snapshot() -> Snapshot {
    let mut links: Vec<String> = fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    links.sort();
    Snapshot {
        existed: HOST_ARTIFACTS.iter().map(|p| fs::symlink_metadata(p).is_ok()).collect(),
        cgroups: default_cgroups(),
        mounts: host_mounts(),
        links,
        forwarding: FORWARDING
            .iter()
            .map(|f| (f.to_string(), fs::read_to_string(f).unwrap_or_default().trim().to_string()))
            .collect(),
    }
}

struct HostState {
    users: usize,
    before: Option<Snapshot>,
}

static HOST: Mutex<HostState> = Mutex::new(HostState { users: 0, before: None });

/// Held by every running engine. The first one records the host; when the last one goes, what
/// the engines made outside their roots is removed (only what did not exist before) and the
/// host's mounts, network interfaces and forwarding settings are compared with the record.
pub struct HostGuard(());

impl HostGuard {
    pub fn acquire() -> HostGuard {
        crate::require_root();
        let mut h = HOST.lock().unwrap_or_else(|e| e.into_inner());
        if h.users == 0 {
            h.before = Some(snapshot());
        }
        h.users += 1;
        HostGuard(())
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        let mut h = HOST.lock().unwrap_or_else(|e| e.into_inner());
        h.users -= 1;
        if h.users > 0 {
            return;
        }
        let Some(before) = h.before.take() else { return };
        drop(h);
        let mut removed = Vec::new();
        for (p, existed) in HOST_ARTIFACTS.iter().zip(&before.existed) {
            let p = Path::new(p);
            if *existed || fs::symlink_metadata(p).is_err() {
                continue;
            }
            let r = if p.is_dir() { fs::remove_dir_all(p) } else { fs::remove_file(p) };
            removed.push(format!("{}{}", p.display(), r.err().map(|e| format!(" (failed: {e})")).unwrap_or_default()));
        }
        for c in default_cgroups() {
            if !before.cgroups.contains(&c) {
                remove_cgroup_tree(&c);
                removed.push(format!("{}{}", c.display(), if c.exists() { " (failed)" } else { "" }));
            }
        }
        if !removed.is_empty() {
            eprintln!("engines: removed what the engines left outside their roots: {removed:?}");
        }
        // Anything still running that names this test process's scratch dir (conmon, shims,
        // daemons, container processes started from the temp dir's trees).
        let scratch =
            format!("{}/", std::env::temp_dir().join(format!("spawnbox-tests-{}", std::process::id())).display());
        let mut stray = Vec::new();
        wait_until(Duration::from_secs(10), || {
            stray = processes_mentioning(&scratch);
            stray.is_empty()
        });
        for p in &stray {
            kill(*p);
        }
        if std::thread::panicking() {
            return;
        }
        assert!(stray.is_empty(), "processes of the engines were left (killed now): {stray:?}");
        let after = snapshot();
        let (appeared, vanished) = multiset_diff(&before.mounts, &after.mounts);
        assert!(
            appeared.is_empty() && vanished.is_empty(),
            "the host mount table changed: appeared {appeared:?}, vanished {vanished:?}"
        );
        assert_eq!(before.links, after.links, "the host's network interfaces changed");
        assert_eq!(before.forwarding, after.forwarding, "the host's IP forwarding settings changed");
        let failed: Vec<&String> = removed.iter().filter(|r| r.contains("(failed")).collect();
        assert!(failed.is_empty(), "could not remove what the engines left: {failed:?}");
    }
}

/// The mount points of every cgroup hierarchy (v1 and v2).
pub fn cgroup_roots() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() > 2 && (f[2] == "cgroup" || f[2] == "cgroup2")).then(|| PathBuf::from(f[1]))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// `/<name>` in every hierarchy where it exists.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    cgroup_roots().into_iter().map(|r| r.join(name.trim_start_matches('/'))).filter(|d| d.is_dir()).collect()
}

/// PIDs in cgroup `/<name>` or below it, in any hierarchy.
pub fn processes_in_cgroup(name: &str) -> Vec<i32> {
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
    for d in cgroup_dirs(name) {
        walk(&d, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// Removes cgroup `dir` and every cgroup below it, children first.
pub fn remove_cgroup_tree(dir: &Path) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&e.path());
        }
    }
    wait_until(Duration::from_secs(5), || fs::remove_dir(dir).is_ok() || !dir.exists());
}

fn kill(pid: i32) {
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
    }
}

/// PIDs whose command line contains `needle` (shims name their containerd's socket).
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            let cmd = fs::read(e.path().join("cmdline")).ok()?;
            (pid != me && String::from_utf8_lossy(&cmd).replace('\0', " ").contains(needle)).then_some(pid)
        })
        .collect()
}

/// Kills `cgroup`'s processes that are still there after `grace`, removes the cgroup in every
/// hierarchy; the PIDs that had to be killed and the cgroups that could not be removed.
fn reap_cgroup(cgroup: &str, grace: Duration) -> (Vec<i32>, Vec<PathBuf>) {
    let mut left = Vec::new();
    wait_until(grace, || {
        left = processes_in_cgroup(cgroup);
        left.is_empty()
    });
    for p in &left {
        kill(*p);
    }
    for d in cgroup_dirs(cgroup) {
        if let Some(c) = [d.join("cgroup.kill")].iter().find(|f| f.exists()) {
            let _ = fs::write(c, "1");
        }
        remove_cgroup_tree(&d);
    }
    (left, cgroup_dirs(cgroup))
}

/// Sends SIGTERM to a daemon, waits up to `grace`, then SIGKILL; true if it went on SIGTERM.
fn stop_daemon(child: &mut Child, grace: Duration) -> bool {
    if let Some(p) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
    }
    let gone = wait_until(grace, || child.try_wait().ok().flatten().is_some());
    if !gone {
        let _ = child.kill();
    }
    let _ = child.wait();
    gone
}

/// The entries of directory `d` (none if it does not exist).
pub fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(d).into_iter().flatten().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Collects a failed check of a `Drop` (which must not panic while the test panics).
fn finish(what: &str, problems: Vec<String>) {
    if std::thread::panicking() {
        return;
    }
    assert!(problems.is_empty(), "{what}: {problems:#?}");
}

/// A command of an engine's CLI: empty environment but PATH, HOME and `env`, the engine bound.
fn engine_cmd(program: &str, home: &Path, args: &[String]) -> Cmd {
    let mut c = Cmd::new();
    c.program(program).args(args).env("PATH", PATH).env("HOME", home.to_str().unwrap()).timeout(ENGINE_TIMEOUT);
    c
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

// --------------------------------------------------------------------------------- podman ---

/// Podman with its state in a temp dir and the runtime under test; the busybox image imported.
pub struct Podman {
    pub dir: PathBuf,
    /// `--cgroup-parent` of every container (and of conmon).
    pub parent: String,
    /// The runtime's `--root`, through the wrapper.
    pub runtime_root: PathBuf,
    wrapper: PathBuf,
    _host: HostGuard,
}

impl Podman {
    pub fn new() -> Podman {
        require(PODMAN, "podman");
        let host = HostGuard::acquire();
        let dir = scratch_dir("podman");
        let runtime_root = dir.join("runtime");
        let wrapper = dir.join("bin").join(runtime_name());
        fs::create_dir_all(wrapper.parent().unwrap()).unwrap();
        fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec '{}' --root '{}' \"$@\"\n", runtime().display(), runtime_root.display()),
        )
        .unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        let p = Podman { parent: format!("/{}", unique("podman")), dir, runtime_root, wrapper, _host: host };
        let img = image();
        p.podman(&["import", "-q", img.rootfs_tar.to_str().unwrap(), &img.name]).run().ok();
        p
    }

    /// `podman` with the instance's state and ARGS.
    pub fn podman(&self, args: &[&str]) -> Cmd {
        let d = self.dir.display();
        let mut all = vec![
            format!("--root={d}/root"),
            format!("--runroot={d}/run"),
            format!("--tmpdir={d}/tmp"),
            format!("--network-config-dir={d}/net"),
            format!("--runtime={}", self.wrapper.display()),
            "--storage-driver=vfs".into(),
            "--cgroup-manager=cgroupfs".into(),
            "--events-backend=file".into(),
        ];
        all.extend(owned(args));
        engine_cmd(PODMAN, &self.dir, &all)
    }

    /// `podman run --network=none --cgroup-parent=P --ulimit ... OPTS IMAGE CMD...`.
    pub fn run(&self, opts: &[&str], cmd: &[&str]) -> Cmd {
        let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum.unwrap_or(1 << 20);
        let mut args = owned(&["run", "--network=none"]);
        args.push(format!("--cgroup-parent={}", self.parent));
        args.push(format!("--ulimit=nofile={nofile}:{nofile}"));
        args.push("--ulimit=nproc=4096:4096".into());
        args.extend(owned(opts));
        args.push(image().name.clone());
        args.extend(owned(cmd));
        self.podman(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// `podman ps -a -q`: the containers podman still knows.
    pub fn containers(&self) -> String {
        self.podman(&["ps", "-a", "-q"]).run().ok().to_string()
    }
}

impl Default for Podman {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let mut problems = Vec::new();
        let left = quiet(&self.podman(&["ps", "-a", "-q"])).1;
        if !left.trim().is_empty() {
            problems.push(format!("podman containers were left (removed now): {left:?}"));
            let _ = quiet(&self.podman(&["rm", "-f", "-t", "0", "-a"])).1;
        }
        let _ = quiet(&self.podman(&["rmi", "-a", "-f"])).1;
        // conmon runs `podman container cleanup` after a container's end: give it time.
        let (killed, cgroups) = reap_cgroup(&self.parent, Duration::from_secs(20));
        if !killed.is_empty() {
            problems.push(format!("processes were left in {} (killed now): {killed:?}", self.parent));
        }
        if !cgroups.is_empty() {
            problems.push(format!("cgroups could not be removed: {cgroups:?}"));
        }
        let state = entries(&self.runtime_root);
        if !state.is_empty() {
            problems.push(format!("the runtime kept state in {}: {state:?}", self.runtime_root.display()));
        }
        if !crate::remove_tree_safely(&self.dir) {
            problems.push(format!("mounts were left below {}", self.dir.display()));
        }
        finish("podman", problems);
    }
}

// ----------------------------------------------------------------------------- containerd ---

/// containerd with its state in a temp dir, a namespace of its own, the image imported.
pub struct Containerd {
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// The containerd namespace; also the cgroup parent of its containers (`/<ns>/<id>`).
    pub namespace: String,
    child: Option<Child>,
    _host: HostGuard,
}

impl Containerd {
    pub fn new() -> Containerd {
        let c = Containerd::start();
        c.ctr(&["images", "import", c.path("image.tar").to_str().unwrap()]).run().ok();
        c
    }

    /// containerd alone (dockerd imports its own images).
    fn start() -> Containerd {
        require(CONTAINERD, "containerd");
        require(CTR, "containerd");
        require("/usr/bin/containerd-shim-runc-v2", "containerd");
        let host = HostGuard::acquire();
        let dir = scratch_dir("containerd");
        let socket = dir.join("c.sock");
        let d = dir.display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{d}/c.sock\"\n[ttrpc]\n  address = \"{d}/c.sock.ttrpc\"\n\
             [debug]\n  address = \"{d}/debug.sock\"\n[metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n"
        );
        fs::write(dir.join("config.toml"), config).unwrap();
        // The image, linked into the temp dir (ctr's argument stays short and local).
        let _ = fs::hard_link(&image().archive, dir.join("image.tar"))
            .or_else(|_| fs::copy(&image().archive, dir.join("image.tar")).map(|_| ()));
        let log = fs::File::create(dir.join("containerd.log")).unwrap();
        let child = Command::new(CONTAINERD)
            .arg("--config")
            .arg(dir.join("config.toml"))
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let mut c = Containerd { namespace: unique("ctr"), dir, socket, child: Some(child), _host: host };
        let up = wait_until(Duration::from_secs(20), || c.socket.exists() && quiet(&c.ctr(&["version"])).0 == Some(0));
        if !up {
            let exited = c.child.as_mut().unwrap().try_wait().ok().flatten();
            panic!("containerd did not come up (exit: {exited:?}); log: {}", c.log());
        }
        c
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr -a SOCK -n NS ARGS...`.
    pub fn ctr(&self, args: &[&str]) -> Cmd {
        let mut all = vec!["-a".to_string(), self.socket.display().to_string(), "-n".into(), self.namespace.clone()];
        all.extend(owned(args));
        engine_cmd(CTR, &self.dir, &all)
    }

    /// `ctr run --runc-binary RUNTIME --fifo-dir TEMP OPTS IMAGE ID CMD...`.
    pub fn run(&self, opts: &[&str], id: &str, cmd: &[&str]) -> Cmd {
        let mut args = owned(&["run", "--runc-binary"]);
        args.push(runtime().display().to_string());
        args.push("--fifo-dir".into());
        args.push(self.path("fifo").display().to_string());
        args.extend(owned(opts));
        args.push(image().name.clone());
        args.push(id.into());
        args.extend(owned(cmd));
        self.ctr(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The runtime's state directory, which the shim passes as `--root`.
    pub fn runtime_root(&self) -> PathBuf {
        Path::new("/run/containerd/runc").join(&self.namespace)
    }

    /// `ctr containers ls -q` and `ctr tasks ls -q`, joined.
    pub fn containers(&self) -> String {
        let c = self.ctr(&["containers", "ls", "-q"]).run().ok().to_string();
        let t = self.ctr(&["tasks", "ls", "-q"]).run().ok().to_string();
        c + &t
    }

    /// Stops containerd (after its clients: dockerd), kills the shims and removes its state.
    fn shutdown(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(mut child) = self.child.take() else { return problems };
        let tasks = quiet(&self.ctr(&["tasks", "ls", "-q"])).1;
        for t in tasks.split_whitespace() {
            problems.push(format!("task {t} was left (killed now)"));
            let _ = quiet(&self.ctr(&["tasks", "kill", "-s", "SIGKILL", t])).1;
            wait_until(Duration::from_secs(5), || quiet(&self.ctr(&["tasks", "delete", t])).0 == Some(0));
        }
        let ctrs = quiet(&self.ctr(&["containers", "ls", "-q"])).1;
        for c in ctrs.split_whitespace() {
            problems.push(format!("container {c} was left (removed now)"));
            let _ = quiet(&self.ctr(&["containers", "rm", c])).1;
        }
        if !stop_daemon(&mut child, Duration::from_secs(15)) {
            problems.push("containerd did not exit on SIGTERM within 15 s (killed)".into());
        }
        let sock = self.socket.display().to_string();
        let mut shims = Vec::new();
        wait_until(Duration::from_secs(5), || {
            shims = processes_mentioning(&sock);
            shims.is_empty()
        });
        for p in &shims {
            kill(*p);
        }
        if !shims.is_empty() {
            problems.push(format!("shims of this containerd were left (killed now): {shims:?}"));
        }
        let (killed, cgroups) = reap_cgroup(&self.namespace, Duration::from_secs(5));
        if !killed.is_empty() {
            problems.push(format!("processes were left in cgroup /{} (killed now): {killed:?}", self.namespace));
        }
        if !cgroups.is_empty() {
            problems.push(format!("cgroups could not be removed: {cgroups:?}"));
        }
        let root = self.runtime_root();
        let state = entries(&root);
        if !state.is_empty() {
            problems.push(format!("the runtime kept state in {}: {state:?}", root.display()));
        }
        let _ = fs::remove_dir_all(&root);
        if !crate::remove_tree_safely(&self.dir) {
            problems.push(format!("mounts were left below {}", self.dir.display()));
        }
        problems
    }
}

impl Default for Containerd {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let problems = self.shutdown();
        finish("containerd", problems);
    }
}

// -------------------------------------------------------------------------------- dockerd ---

/// dockerd on a containerd of its own, with the runtime under test added as `runtime_name()`;
/// the image loaded.
pub struct Dockerd {
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// The name `--add-runtime` gave the runtime under test (`docker run --runtime NAME`).
    pub runtime: String,
    /// dockerd's `--cgroup-parent`.
    pub parent: String,
    child: Option<Child>,
    containerd: Containerd,
}

impl Dockerd {
    pub fn new() -> Dockerd {
        require(DOCKERD, "docker.io");
        require(DOCKER, "docker.io");
        let containerd = Containerd::start();
        let dir = scratch_dir("dockerd");
        let socket = dir.join("d.sock");
        // A name of our own, never "runc" (dockerd refuses to redefine it).
        let name = "under-test".to_string();
        let parent = format!("/{}", unique("docker"));
        fs::write(dir.join("daemon.json"), "{}\n").unwrap();
        let d = dir.display();
        let log = fs::File::create(dir.join("dockerd.log")).unwrap();
        let args: Vec<String> = vec![
            format!("--config-file={d}/daemon.json"),
            format!("--data-root={d}/data"),
            format!("--exec-root={d}/exec"),
            format!("--pidfile={d}/dockerd.pid"),
            format!("--host=unix://{}", socket.display()),
            format!("--containerd={}", containerd.socket.display()),
            format!("--containerd-namespace={}", containerd.namespace),
            format!("--containerd-plugins-namespace={}-plugins", containerd.namespace),
            format!("--cgroup-parent={parent}"),
            "--exec-opt=native.cgroupdriver=cgroupfs".into(),
            "--storage-driver=vfs".into(),
            "--iptables=false".into(),
            "--ip6tables=false".into(),
            "--ip-forward=false".into(),
            "--ip-masq=false".into(),
            "--bridge=none".into(),
            "--userland-proxy=false".into(),
            format!("--add-runtime={name}={}", runtime().display()),
        ];
        let child = Command::new(DOCKERD)
            .args(&args)
            .env_clear()
            .env("PATH", PATH)
            .env("HOME", dir.to_str().unwrap())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let mut dk = Dockerd { dir, socket, runtime: name, parent, child: Some(child), containerd };
        let up =
            wait_until(Duration::from_secs(30), || dk.socket.exists() && quiet(&dk.docker(&["version"])).0 == Some(0));
        if !up {
            let exited = dk.child.as_mut().unwrap().try_wait().ok().flatten();
            panic!("dockerd did not come up (exit: {exited:?}); log: {}", dk.log());
        }
        dk.docker(&["load", "-q", "-i", dk.containerd.path("image.tar").to_str().unwrap()]).run().ok();
        dk
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// docker.io's `docker -H unix://SOCK ARGS...` (its client config in the temp dir).
    pub fn docker(&self, args: &[&str]) -> Cmd {
        let mut all = vec![format!("--host=unix://{}", self.socket.display())];
        all.extend(owned(args));
        let mut c = engine_cmd(DOCKER, &self.dir, &all);
        c.env("DOCKER_CONFIG", self.dir.join("cli").to_str().unwrap());
        c
    }

    /// `docker run --runtime NAME --network=none OPTS IMAGE CMD...`.
    pub fn run(&self, opts: &[&str], cmd: &[&str]) -> Cmd {
        let mut args = owned(&["run", "--network=none"]);
        args.push(format!("--runtime={}", self.runtime));
        args.extend(owned(opts));
        args.push(image().name.clone());
        args.extend(owned(cmd));
        self.docker(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The runtime's state directory (`--root` from the shim): dockerd 20.10 gives every
    /// runtime `<exec-root>/runtime-runc`, the shim adds the containerd namespace.
    pub fn runtime_root(&self) -> PathBuf {
        self.dir.join("exec/runtime-runc").join(&self.containerd.namespace)
    }

    /// `docker ps -a -q`.
    pub fn containers(&self) -> String {
        self.docker(&["ps", "-a", "-q"]).run().ok().to_string()
    }
}

impl Default for Dockerd {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let mut problems = Vec::new();
        if let Some(mut child) = self.child.take() {
            let left = quiet(&self.docker(&["ps", "-a", "-q"])).1;
            if !left.trim().is_empty() {
                problems.push(format!("docker containers were left (removed now): {left:?}"));
                let mut rm = vec!["rm", "-f"];
                rm.extend(left.split_whitespace());
                let _ = quiet(&self.docker(&rm)).1;
            }
            if !stop_daemon(&mut child, Duration::from_secs(20)) {
                problems.push("dockerd did not exit on SIGTERM within 20 s (killed)".into());
            }
        }
        let (killed, cgroups) = reap_cgroup(&self.parent, Duration::from_secs(5));
        if !killed.is_empty() {
            problems.push(format!("processes were left in {} (killed now): {killed:?}", self.parent));
        }
        if !cgroups.is_empty() {
            problems.push(format!("cgroups could not be removed: {cgroups:?}"));
        }
        let state = entries(&self.runtime_root());
        if !state.is_empty() {
            problems.push(format!("the runtime kept state in {}: {state:?}", self.runtime_root().display()));
        }
        problems.extend(self.containerd.shutdown());
        if !crate::remove_tree_safely(&self.dir) {
            problems.push(format!("mounts were left below {}", self.dir.display()));
        }
        finish("dockerd", problems);
    }
}

// ------------------------------------------------------------------------------- helpers ---

/// Runs an engine command for cleanup, never failing the test (a `Drop` may run while the test
/// panics): bounded by coreutils' `timeout`, stdout and the exit status (None on a signal).
fn quiet(c: &Cmd) -> (Option<i32>, String) {
    let (program, args, env) = c.parts();
    let out = Command::new("timeout")
        .arg("-s")
        .arg("KILL")
        .arg("60")
        .arg(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) => (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned()),
        Err(_) => (None, String::new()),
    }
}
