//! Shared helpers for the root integration tests of spawnbox: the binary, a fresh busybox
//! rootfs per test (copied from one template built by `tests/mkrootfs.sh`), running spawnbox
//! with a deadline, and the checks every test ends with (host mount table unchanged, no
//! process of the test left, temp dir removed).
//!
//! The tests need root and fail (never skip) without it.

pub mod completions;
pub mod engines;
pub mod host;
pub mod net;
pub mod oci;
pub mod pty;
pub mod run;

pub use host::{cgroups_of_machine, host_mounts, leftover_processes, parse_mountinfo, tree_listing, MountLine};
pub use run::{Cmd, Output, Running};

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Fails the test unless it runs as root.
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the spawnbox integration tests must run as root (they create namespaces and mounts); \
         run `sudo -E cargo test -p spawnbox-tests`"
    );
}

/// The spawnbox binary: `$SPAWNBOX`, else `<workspace>/build/spawnbox`.
pub fn spawnbox_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let p = std::env::var_os("SPAWNBOX").map(PathBuf::from).unwrap_or_else(|| workspace().join("build/spawnbox"));
        assert!(
            p.is_file(),
            "spawnbox binary {} not found: run `make build` or set SPAWNBOX=/path/to/spawnbox",
            p.display()
        );
        p
    })
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    // SPAWNBOX_WORKSPACE: where tests/mkrootfs.sh is when the binary runs elsewhere (the VM).
    match std::env::var_os("SPAWNBOX_WORKSPACE") {
        Some(w) => PathBuf::from(w),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf(),
    }
}

/// The per-process scratch directory (`$TMPDIR/spawnbox-tests-PID`), removed at exit.
fn base_dir() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let p = std::env::temp_dir().join(format!("spawnbox-tests-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        // SAFETY: registers a plain extern "C" function that only touches the file system.
        unsafe { libc::atexit(remove_base_dir) };
        p
    })
}

/// A fresh directory `<per-process scratch dir>/<tag>-<n>` for a test that needs no rootfs
/// (the engine harness keeps each engine's state there); removed with the scratch dir at exit.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let d = base_dir().join(format!("{tag}-{}", N.fetch_add(1, Ordering::Relaxed)));
    fs::create_dir_all(&d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
    d
}

extern "C" fn remove_base_dir() {
    if let Some(base) = std::env::temp_dir().join(format!("spawnbox-tests-{}", std::process::id())).to_str() {
        remove_tree_safely(Path::new(base));
    }
}

/// Removes `dir` unless something is mounted below it (removing would reach into the mount).
pub fn remove_tree_safely(dir: &Path) -> bool {
    let prefix = format!("{}/", dir.display());
    let mounted: Vec<String> = host_mounts().into_iter().filter(|m| m.starts_with(&prefix)).collect();
    if !mounted.is_empty() {
        eprintln!("NOT removing {}: mounts below it: {mounted:?}", dir.display());
        return false;
    }
    let _ = fs::remove_dir_all(dir);
    true
}

/// The cached guest tree `kind` (`busybox`, `openrc`, `systemd`): `$SPAWNBOX_GUEST_<KIND>`,
/// which `make test-integration` sets from `tests/guests/mkguest.sh KIND`.
pub fn guest(kind: &str) -> PathBuf {
    let var = format!("SPAWNBOX_GUEST_{}", kind.to_ascii_uppercase());
    let p = std::env::var_os(&var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set: run the tests through `make test-integration` (it builds the guests with tests/guests/mkguest.sh)")
    });
    assert!(
        p.join("etc/os-release").exists() || p.join("usr/lib/os-release").exists(),
        "{} is no guest tree",
        p.display()
    );
    p
}

/// Runs `/bin/sh -c SCRIPT` in a private mount namespace (and, with `net`, a network namespace
/// of its own), with nothing in its environment but PATH and `env`; asserts that it succeeded
/// with nothing on stderr, and returns its stdout.
pub fn unshared_script(net: bool, script: &str, env: &[(&str, &std::ffi::OsStr)]) -> String {
    let mut c = Command::new("unshare");
    c.arg("-m");
    if net {
        c.arg("-n");
    }
    c.args(["--propagation", "private", "/bin/sh", "-c", script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(env.iter().copied());
    let out = c.output().expect("run unshare");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "script failed: {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status);
    assert_eq!(stderr, "", "stdout: {stdout}");
    stdout.into_owned()
}

/// The busybox rootfs template, built once per test binary by `tests/mkrootfs.sh`.
pub fn template() -> &'static Path {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| {
        let t = base_dir().join("template");
        let out = Command::new("bash")
            .arg(workspace().join("tests/mkrootfs.sh"))
            .arg(&t)
            .output()
            .expect("run tests/mkrootfs.sh");
        assert!(out.status.success(), "tests/mkrootfs.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        t
    })
}

/// A fresh 8-4-4-4-12 UUID (unique per call within the host).
pub fn unique_uuid() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed) as u64;
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    let pid = std::process::id() as u64;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        pid & 0xffff_ffff,
        n & 0xffff,
        (t >> 12) & 0xfff,
        t & 0xfff,
        (t >> 24) & 0xffff_ffff_ffff
    )
}

static N: AtomicUsize = AtomicUsize::new(0);

/// One test's world: a temp dir holding a fresh rootfs (and whatever host files the test
/// needs), a UUID passed to every container it starts, and the host mount table at the start.
/// Dropping it checks that no mount appeared or vanished on the host and that no process of
/// the test is left, then removes the temp dir (also when the test failed).
pub struct Test {
    /// The test's temp dir on the host.
    pub dir: PathBuf,
    /// The container tree (`dir/<name>`).
    pub root: PathBuf,
    /// `--uuid` of every container of this test (`container_uuid=` marks its processes).
    pub uuid: String,
    mounts_before: Vec<String>,
}

impl Test {
    /// A test with a fresh rootfs at `<dir>/<tag>-<n>-<pid>`: the directory name, and so the
    /// default machine name, is unique on the host (machine names must not collide).
    pub fn new(tag: &str) -> Test {
        let n = N.fetch_add(1, Ordering::Relaxed);
        Test::make(tag, n, &format!("{tag}-{n}-{}", std::process::id()))
    }

    /// A test whose rootfs directory is called `name` (the default machine name).
    pub fn with_root_name(tag: &str, name: &str) -> Test {
        Test::make(tag, N.fetch_add(1, Ordering::Relaxed), name)
    }

    /// A test whose tree is a copy of `tree` (a cached guest) instead of the busybox rootfs.
    pub fn from_tree(tag: &str, tree: &Path) -> Test {
        let n = N.fetch_add(1, Ordering::Relaxed);
        Test::make_from(tag, n, &format!("{tag}-{n}-{}", std::process::id()), tree)
    }

    fn make(tag: &str, n: usize, name: &str) -> Test {
        Test::make_from(tag, n, name, template())
    }

    fn make_from(tag: &str, n: usize, name: &str, tree: &Path) -> Test {
        require_root();
        spawnbox_bin();
        let dir = base_dir().join(format!("{tag}-{n}"));
        let mounts_before = host_mounts();
        fs::create_dir_all(&dir).unwrap();
        let root = dir.join(name);
        let st = Command::new("cp").arg("-a").arg(tree).arg(&root).status().expect("run cp");
        assert!(st.success(), "cp -a {} {} failed", tree.display(), root.display());
        Test { dir, root, uuid: unique_uuid(), mounts_before }
    }

    /// The tree's directory name: the default machine name.
    pub fn name(&self) -> String {
        self.root.file_name().unwrap().to_string_lossy().into_owned()
    }

    /// `spawnctl` (a link to the spawnbox binary, made once) in the test's temp dir.
    pub fn spawnctl(&self) -> PathBuf {
        let ctl = self.path("spawnctl");
        if !ctl.exists() {
            std::os::unix::fs::symlink(spawnbox_bin(), &ctl).unwrap();
        }
        ctl
    }

    /// A host path in the test's temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The host path of container path `p`.
    pub fn rpath(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// Writes `content` to container path `p` (creating parents).
    pub fn write(&self, p: &str, content: &str) -> PathBuf {
        let f = self.rpath(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, content).unwrap();
        f
    }

    /// Writes an executable `#!/bin/sh` script to container path `p`.
    pub fn script(&self, p: &str, body: &str) -> PathBuf {
        let _ = fs::remove_file(self.rpath(p));
        let f = self.write(p, &format!("#!/bin/sh\n{body}\n"));
        fs::set_permissions(&f, fs::Permissions::from_mode(0o755)).unwrap();
        f
    }

    /// Creates directory `rel` in the test's temp dir (outside the tree).
    pub fn host_dir(&self, rel: &str) -> PathBuf {
        let d = self.path(rel);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// `spawnbox -D ROOT --uuid=UUID` with nothing else.
    pub fn bare(&self) -> Cmd {
        let mut c = Cmd::new();
        c.arg("-D").arg(&self.root).arg(format!("--uuid={}", self.uuid));
        c
    }

    /// `spawnbox -D ROOT --uuid=UUID --console=pipe ARGS...`.
    pub fn cmd(&self, args: &[&str]) -> Cmd {
        let mut c = self.bare();
        c.arg("--console=pipe").args(args);
        c
    }

    /// Runs `spawnbox -D ROOT --uuid=UUID --console=pipe ARGS...` to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).run()
    }

    /// Runs `/bin/sh -c SCRIPT` in the container after the options `opts`.
    pub fn sh(&self, opts: &[&str], script: &str) -> Output {
        let mut args = opts.to_vec();
        args.extend(["/bin/sh", "-c", script]);
        self.run(&args)
    }

    /// Waits (bounded) until no process of this test is left; the list of those that stayed.
    pub fn wait_no_processes(&self, within: Duration) -> Vec<(i32, String)> {
        let deadline = Instant::now() + within;
        loop {
            let left = leftover_processes(&self.root, &self.uuid);
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Test {
    fn drop(&mut self) {
        let left = self.wait_no_processes(Duration::from_secs(5));
        for (pid, _) in &left {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(*pid).unwrap(),
                rustix::process::Signal::KILL,
            );
        }
        let after = host_mounts();
        let removed = remove_tree_safely(&self.dir);
        // The machine's cgroup (named after the tree, the default machine name) must be gone;
        // remove what is left so the host stays clean, then fail.
        let name = self.root.file_name().unwrap().to_string_lossy().into_owned();
        let cgroups = cgroups_of_machine(&name);
        // Registry entries of the tree's machines (NAME, and NAME-SUFFIX with -x).
        let entries: Vec<PathBuf> = fs::read_dir("/run/spawnbox/machines")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(name.as_str())))
            .collect();
        for e in &entries {
            let _ = fs::remove_dir_all(e);
        }
        for c in cgroups.iter().rev() {
            // A booted guest's cgroup has children (init.scope, its services): kill, then
            // remove depth first.
            let _ = fs::write(c.join("cgroup.kill"), "1");
            remove_cgroup_tree(c);
        }
        if std::thread::panicking() {
            return;
        }
        assert!(left.is_empty(), "processes of the test were left behind (killed now): {left:?}");
        // Mounts below another test's directory of this process (a concurrent test's engine:
        // podman mounts its containers' shm on the host) are that test's to check.
        let ours = |m: &&String| {
            let point = Path::new(m.rsplit_once(' ').map_or(m.as_str(), |(p, _)| p));
            !point.starts_with(base_dir()) || point.starts_with(&self.dir)
        };
        let before: Vec<String> = self.mounts_before.iter().filter(ours).cloned().collect();
        let after: Vec<String> = after.iter().filter(ours).cloned().collect();
        let (appeared, vanished) = multiset_diff(&before, &after);
        assert!(
            appeared.is_empty() && vanished.is_empty(),
            "the host mount table changed: appeared {appeared:?}, vanished {vanished:?}"
        );
        assert!(removed, "mounts were left below {}", self.dir.display());
        assert!(cgroups.is_empty(), "the container's cgroup was left behind (removed now): {cgroups:?}");
        assert!(entries.is_empty(), "registry entries were left behind (removed now): {entries:?}");
        // `--keep-unit`'s and the nested move's leaves belong below a cgroup of their own, never
        // in the host's cgroup2 root (seen twice on the dev host, cause not found yet).
        let stray = stray_root_leaves();
        assert!(stray.is_empty(), "{stray:?} appeared in the host's cgroup2 root");
    }
}

/// `payload/` and `supervisor/` directly below the host's cgroup2 root.
pub fn stray_root_leaves() -> Vec<PathBuf> {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let Some(root) = mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
    }) else {
        return Vec::new();
    };
    ["payload", "supervisor"].iter().map(|n| root.join(n)).filter(|p| p.is_dir()).collect()
}

/// Removes cgroup `dir` and every cgroup below it (children first), waiting a little for
/// killed processes to leave.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    wait_until(Duration::from_secs(2), || fs::remove_dir(dir).is_ok() || !dir.exists());
}

/// Runs `f(i)` for `0..n` on `threads` threads and collects the results in order.
pub fn parallel<T: Send + 'static>(n: usize, threads: usize, f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = std::sync::Arc::new(f);
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (f, next) = (f.clone(), next.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return out;
                    }
                    out.push((i, f(i)));
                }
            })
        })
        .collect();
    let mut all: Vec<(usize, T)> =
        handles.into_iter().flat_map(|h| h.join().expect("worker thread panicked")).collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// Polls `cond` every few milliseconds until it holds or `within` passes.
pub fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The `ID=`, `VERSION_ID=`, `BUILD_ID=`, `VARIANT_ID=` values of the host's os-release as
/// `container_host_*=` assignments, in file order.
pub fn host_os_release_env() -> Vec<String> {
    let text = fs::read_to_string("/etc/os-release")
        .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once('=')?;
            if !["ID", "VERSION_ID", "BUILD_ID", "VARIANT_ID"].contains(&k) {
                return None;
            }
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some(format!("container_host_{}={v}", k.to_ascii_lowercase()))
        })
        .collect()
}

/// (in `after` but not `before`, in `before` but not `after`), counting duplicates.
pub fn multiset_diff(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let mut vanished = before.to_vec();
    let mut appeared = Vec::new();
    for m in after {
        match vanished.iter().position(|b| b == m) {
            Some(i) => {
                vanished.remove(i);
            }
            None => appeared.push(m.clone()),
        }
    }
    (appeared, vanished)
}
