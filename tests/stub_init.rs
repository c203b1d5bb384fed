//! Black-box tests of spawnbox-init: the real static binary runs as PID 1 of a fresh PID
//! namespace (util-linux `unshare --pid --fork --mount-proc`), with /bin/sh payloads.
//!
//! They need root and fail (never skip) without it. `SPAWNBOX_INIT` names the binary
//! (default `<workspace>/build/spawnbox-init`, made by `make build`). Every wait is
//! bounded, and a test that fails kills its namespace on the way out.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// systemd's SIGRTMIN (glibc's): poweroff is SIGRTMIN+4 = 38.
const SIGRTMIN: i32 = 34;
const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;
const SIGUSR1: i32 = 10;
const SIGUSR2: i32 = 12;
const SIGTERM: i32 = 15;

fn init_bin() -> PathBuf {
    let p = std::env::var_os("SPAWNBOX_INIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/spawnbox-init"));
    assert!(p.is_file(), "{}: not found (run `make build` or set SPAWNBOX_INIT)", p.display());
    p
}

fn require_root() {
    assert!(rustix::process::geteuid().is_root(), "the spawnbox-init tests need root (PID namespaces)");
}

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("spawnbox-init-test-{}-{tag}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Write an executable shell script.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `unshare --pid --fork --mount-proc --kill-child [extra]`: what follows becomes PID 1 of
/// a new PID namespace. If the test thread dies, unshare gets SIGKILL, and with it the
/// namespace (--kill-child).
fn unshare(extra: &[&str]) -> Command {
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc", "--kill-child"]).args(extra);
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    c
}

/// `unshare ... spawnbox-init --container ARGS...`
fn container(args: &[&str]) -> Command {
    let mut c = unshare(&[]);
    c.arg(init_bin()).arg("--container").args(args);
    c
}

/// A started namespace: the unshare process and its child, our init.
struct Ns {
    child: Child,
    init_pid: Option<i32>,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Ns {
    /// Start `cmd` with stdin from /dev/null and output into files in `dir`.
    fn start(mut cmd: Command, dir: &TempDir) -> Ns {
        let stdout = dir.join("init.stdout");
        let stderr = dir.join("init.stderr");
        cmd.stdin(Stdio::null()).stdout(fs::File::create(&stdout).unwrap()).stderr(fs::File::create(&stderr).unwrap());
        Ns::spawn(cmd, stdout, stderr)
    }

    fn spawn(mut cmd: Command, stdout: PathBuf, stderr: PathBuf) -> Ns {
        let child = cmd.spawn().expect("spawn unshare (util-linux)");
        Ns { child, init_pid: None, stdout, stderr }
    }

    /// The init's PID as seen from here (unshare's child).
    fn init_pid(&mut self) -> i32 {
        if let Some(pid) = self.init_pid {
            return pid;
        }
        let upid = self.child.id() as i32;
        let t0 = Instant::now();
        loop {
            if let Some(pid) = child_of(upid) {
                self.init_pid = Some(pid);
                return pid;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("init exited early ({st}); stderr: {}", self.stderr_text());
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "init did not start");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn stdout_text(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Send `sig` to the init from outside (as the launcher does).
    fn signal(&mut self, sig: i32) {
        let pid = self.init_pid();
        // SAFETY: plain kill(2).
        let r = unsafe { libc::kill(pid, sig) };
        assert_eq!(r, 0, "kill {pid} {sig}");
    }

    /// Wait for the namespace to end; panics after `limit`.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if t0.elapsed() > limit {
                panic!("init still running after {limit:?}; stderr: {}", self.stderr_text());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Whether the init still runs.
    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        if self.running() {
            // SAFETY: plain kill(2); the init's death takes the whole namespace along.
            unsafe {
                if let Some(pid) = self.init_pid {
                    libc::kill(pid, libc::SIGKILL);
                }
                libc::kill(self.child.id() as i32, libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
    }
}

/// The first child of `pid`, from /proc/*/stat.
fn child_of(pid: i32) -> Option<i32> {
    for e in fs::read_dir("/proc").ok()?.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        if stat_field(&stat, 4) == Some(pid.to_string().as_str()) {
            return Some(p);
        }
    }
    None
}

/// Field `n` (1-based, as in proc(5)) of a /proc/PID/stat line.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(n.checked_sub(3)?)
}

/// Wait until `path` exists.
fn wait_for_file(path: &Path, limit: Duration) {
    let t0 = Instant::now();
    while !path.exists() {
        assert!(t0.elapsed() < limit, "{} did not appear within {limit:?}", path.display());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Wait until the file contains `needle`.
fn wait_for_text(path: &Path, needle: &str, limit: Duration) {
    let t0 = Instant::now();
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        assert!(t0.elapsed() < limit, "{:?} never appeared in {}: {text:?}", needle, path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Wait until the file has at least `n` lines.
fn wait_for_lines(path: &Path, n: usize, limit: Duration) {
    let t0 = Instant::now();
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if text.lines().count() >= n {
            return;
        }
        assert!(t0.elapsed() < limit, "{} has {} lines, want {n}: {text:?}", path.display(), text.lines().count());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Run `sh -c SCRIPT` as the payload and return how the namespace ended.
fn run_sh(script: &str) -> (ExitStatus, String) {
    let dir = TempDir::new("sh");
    let mut ns = Ns::start(container(&["--", "sh", "-c", script]), &dir);
    let st = ns.wait(Duration::from_secs(20));
    (st, ns.stderr_text())
}

const TEN_S: Duration = Duration::from_secs(10);

#[test]
fn exit_codes_0_to_255_pass_through() {
    require_root();
    for code in 0..=255 {
        let (st, err) = run_sh(&format!("exit {code}"));
        assert_eq!(st.code(), Some(code), "exit {code}: {st}; stderr: {err}");
    }
}

#[test]
fn death_by_signal_becomes_128_plus_signal() {
    require_root();
    for sig in [SIGHUP, SIGINT, 6, 9, SIGUSR1, 11, SIGTERM] {
        let (st, err) = run_sh(&format!("ulimit -c 0; kill -{sig} $$; sleep 5"));
        assert_eq!(st.code(), Some(128 + sig), "signal {sig}: {st}; stderr: {err}");
    }
}

#[test]
fn exec_failures_use_shell_exit_codes() {
    require_root();
    let dir = TempDir::new("exec");
    let noexec = dir.join("not-executable");
    fs::write(&noexec, "#!/bin/sh\n").unwrap();
    let cases: [(&OsStr, i32, &str); 3] = [
        (OsStr::new("/nonexistent/cmd"), 127, "spawnbox-init: exec /nonexistent/cmd: no such file or directory"),
        (
            OsStr::new("no-such-command-on-path"),
            127,
            "spawnbox-init: exec no-such-command-on-path: no such file or directory",
        ),
        (noexec.as_os_str(), 126, "permission denied"),
    ];
    for (cmd, code, msg) in cases {
        let mut c = container(&["--"]);
        c.arg(cmd);
        let mut ns = Ns::start(c, &dir);
        let st = ns.wait(TEN_S);
        assert_eq!(st.code(), Some(code), "{cmd:?}: {st}");
        assert!(ns.stderr_text().contains(msg), "{cmd:?}: stderr {:?}", ns.stderr_text());
    }
}

#[test]
fn path_search_uses_the_payload_environment() {
    require_root();
    let dir = TempDir::new("path");
    dir.script("my-payload", "exit 42");
    let mut c = container(&["--", "my-payload"]);
    c.env("PATH", format!("/nonexistent:{}:/usr/bin:/bin", dir.0.display()));
    let mut ns = Ns::start(c, &dir);
    assert_eq!(ns.wait(TEN_S).code(), Some(42), "stderr: {}", ns.stderr_text());
}

#[test]
fn usage_errors_exit_2() {
    require_root();
    let bin = init_bin();
    let dir = TempDir::new("usage");
    for args in [&["--container", "--bogus", "true"][..], &["--container"], &["--container", "--grace=x", "true"]] {
        let mut c = unshare(&[]);
        c.arg(&bin).args(args);
        let mut ns = Ns::start(c, &dir);
        assert_eq!(ns.wait(TEN_S).code(), Some(2), "{args:?}");
        assert!(ns.stderr_text().starts_with("spawnbox-init: "), "{args:?}: {}", ns.stderr_text());
    }
    // Host mode outside PID 1 is refused (it would mount, kill(-1) and reboot(2)).
    let out = Command::new(&bin).args(["--host", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "spawnbox-init: --host: host mode needs to run as PID 1\n");
}

#[test]
fn payload_is_pid2_in_its_own_session_with_the_original_mask_and_default_dispositions() {
    require_root();
    let dir = TempDir::new("pid2");
    let mut c = container(&["--", "cat", "/proc/self/status", "/proc/self/stat"]);
    // The launcher's state: SIGUSR1 ignored (survives exec), SIGUSR2 blocked (the mask).
    // SAFETY: async-signal-safe calls only.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGUSR1, libc::SIG_IGN);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR2);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut ns = Ns::start(c, &dir);
    assert_eq!(ns.wait(TEN_S).code(), Some(0), "stderr: {}", ns.stderr_text());
    let out = ns.stdout_text();
    let field = |name: &str| {
        out.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or_else(|| panic!("no {name} in {out}"))
    };
    assert_eq!(field("Pid:"), "2");
    assert_eq!(field("PPid:"), "1");
    assert_eq!(field("SigIgn:"), "0000000000000000", "SIG_IGN must not reach the payload");
    assert_eq!(field("SigBlk:"), "0000000000000800", "the original mask (SIGUSR2) is restored");
    let stat = out.lines().last().unwrap();
    assert_eq!(stat_field(stat, 6), Some("2"), "session id: {stat}");
}

#[test]
fn init_closes_inherited_fds_and_renames_itself() {
    require_root();
    let dir = TempDir::new("fds");
    // Start it through a symlink with another name: only PR_SET_NAME makes comm right.
    let link = dir.join("renamed-init");
    symlink(init_bin(), &link).unwrap();
    let ready = dir.join("ready");
    let fds = dir.join("payload-fds");
    let mut c = unshare(&[]);
    c.arg(&link).args(["--container", "--", "sh", "-c"]).arg(format!(
        "ls /proc/$$/fd > {}; echo > {}; exec sleep 100",
        fds.display(),
        ready.display()
    ));
    let extra = fs::File::open("/etc/hostname").unwrap();
    let extra: OwnedFd = extra.into();
    // SAFETY: dup2 and fcntl are async-signal-safe; fd 7 is inherited without CLOEXEC. When
    // the file already is fd 7 (other test threads decide which number it gets), dup2 would
    // leave its CLOEXEC flag: clear it instead.
    unsafe {
        let raw = std::os::fd::AsRawFd::as_raw_fd(&extra);
        c.pre_exec(move || {
            if raw == 7 {
                libc::fcntl(7, libc::F_SETFD, 0);
            } else {
                libc::dup2(raw, 7);
            }
            Ok(())
        });
    }
    let mut ns = Ns::start(c, &dir);
    wait_for_file(&ready, TEN_S);
    let comm = fs::read_to_string(format!("/proc/{}/comm", ns.init_pid())).unwrap();
    assert_eq!(comm.trim(), "spawnbox-init");
    let mut init_fds: Vec<String> = fs::read_dir(format!("/proc/{}/fd", ns.init_pid()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    init_fds.sort();
    assert_eq!(init_fds, ["0", "1", "2"], "init keeps only stdio");
    let payload_fds = fs::read_to_string(&fds).unwrap();
    assert!(payload_fds.lines().any(|l| l == "7"), "the payload keeps inherited fds: {payload_fds}");
    ns.signal(SIGRTMIN + 4);
    assert_eq!(ns.wait(TEN_S).signal(), Some(SIGINT));
}

#[test]
fn reaps_1000_orphaned_zombies() {
    require_root();
    // Each (true &) forks `true` from a subshell that exits at once: `true` is orphaned and
    // reparented to PID 1 (as a zombie if it already ended), so only the init can reap it.
    // The payload then waits until the namespace holds no zombie and no process but itself
    // and the init.
    let script = r#"
        i=0
        while [ $i -lt 1000 ]; do (true &); i=$((i + 1)); done
        n=0
        while :; do
            z=0; p=0
            for f in /proc/[0-9]*/stat; do
                read -r l 2>/dev/null <"$f" || continue
                p=$((p + 1))
                case $l in *") Z "*) z=$((z + 1)) ;; esac
            done
            [ $z = 0 ] && [ $p = 2 ] && exit 0
            n=$((n + 1))
            [ $n -ge 1000 ] && { echo "left: $z zombies, $p processes" >&2; exit 1; }
            sleep 0.01
        done
    "#;
    let dir = TempDir::new("orphans");
    let mut ns = Ns::start(container(&["--", "sh", "-c", script]), &dir);
    let st = ns.wait(Duration::from_secs(60));
    assert_eq!(st.code(), Some(0), "stderr: {}", ns.stderr_text());
}

/// Every catchable signal that is not a shutdown request, as numbers dash can trap (glibc
/// keeps 32 and 33 for itself; the init forwards them too).
fn forwarded_signals() -> Vec<i32> {
    let requests = [SIGINT, 37, 38, 39, 40, 47, 48, 49, 50];
    let not_forwarded = [4, 5, 6, 7, 8, 9, 11, 17, 19, 31, 32, 33];
    (1..=64).filter(|s| !requests.contains(s) && !not_forwarded.contains(s)).collect()
}

#[test]
fn forwards_every_other_signal_to_the_payload() {
    require_root();
    let dir = TempDir::new("forward");
    let got = dir.join("got");
    let ready = dir.join("ready");
    let sigs = forwarded_signals();
    assert_eq!(sigs.len(), 43);
    let traps: String = sigs.iter().map(|s| format!("trap 'echo {s} >> {}' {s}\n", got.display())).collect();
    let script = format!("{traps}echo > {}\nwhile :; do sleep 0.01; done", ready.display());
    let mut ns = Ns::start(container(&["--grace=1", "--", "sh", "-c", &script]), &dir);
    wait_for_file(&ready, TEN_S);
    // One at a time, each confirmed before the next (standard signals do not queue).
    for (i, &s) in sigs.iter().enumerate() {
        ns.signal(s);
        wait_for_lines(&got, i + 1, TEN_S);
    }
    let lines: Vec<i32> = fs::read_to_string(&got).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(lines, sigs, "each signal reached the payload exactly once, in order");
    assert!(ns.running(), "no forwarded signal is a shutdown request");
    // The payload traps SIGTERM and SIGHUP: the grace period (1 s) ends it.
    ns.signal(SIGRTMIN + 4);
    assert_eq!(ns.wait(TEN_S).signal(), Some(SIGINT));
}

/// (signal, how the launcher sees PID 1 end): poweroff and halt kill it with SIGINT,
/// reboot with SIGHUP.
const CONTAINER_REQUESTS: [(i32, i32); 9] = [
    (SIGRTMIN + 3, SIGINT),
    (SIGRTMIN + 4, SIGINT),
    (SIGRTMIN + 13, SIGINT),
    (SIGRTMIN + 14, SIGINT),
    (SIGINT, SIGHUP),
    (SIGRTMIN + 5, SIGHUP),
    (SIGRTMIN + 6, SIGHUP),
    (SIGRTMIN + 15, SIGHUP),
    (SIGRTMIN + 16, SIGHUP),
];

#[test]
fn shutdown_requests_end_pid1_with_sigint_or_sighup() {
    require_root();
    for (sig, outcome) in CONTAINER_REQUESTS {
        let dir = TempDir::new("request");
        let ready = dir.join("ready");
        let mut ns =
            Ns::start(container(&["--", "sh", "-c", &format!("echo > {}; exec sleep 100", ready.display())]), &dir);
        wait_for_file(&ready, TEN_S);
        let t0 = Instant::now();
        ns.signal(sig);
        let st = ns.wait(TEN_S);
        assert_eq!(st.signal(), Some(outcome), "signal {sig}: {st}; stderr: {}", ns.stderr_text());
        // sleep dies on SIGTERM: no grace period needed.
        assert!(t0.elapsed() < Duration::from_secs(3), "signal {sig} took {:?}", t0.elapsed());
    }
}

#[test]
fn grace_period_then_sigkill() {
    require_root();
    for (sig, outcome) in [(SIGRTMIN + 4, SIGINT), (SIGINT, SIGHUP)] {
        let dir = TempDir::new("grace");
        let ready = dir.join("ready");
        // sleep inherits SIG_IGN for TERM and HUP: only SIGKILL ends it.
        let script = format!("trap '' TERM HUP; echo > {}; exec sleep 100", ready.display());
        let mut ns = Ns::start(container(&["--grace=1", "--", "sh", "-c", &script]), &dir);
        wait_for_file(&ready, TEN_S);
        let t0 = Instant::now();
        ns.signal(sig);
        let st = ns.wait(TEN_S);
        let took = t0.elapsed();
        assert_eq!(st.signal(), Some(outcome), "{st}; stderr: {}", ns.stderr_text());
        assert!(took >= Duration::from_millis(950) && took < Duration::from_secs(4), "took {took:?}");
    }
}

#[test]
fn poweroff_reboot_halt_commands_and_symlinks() {
    require_root();
    let bin = init_bin();
    let dir = TempDir::new("commands");
    for name in ["poweroff", "reboot", "halt"] {
        symlink(&bin, dir.join(name)).unwrap();
    }
    let cases = [
        (format!("{} poweroff", bin.display()), SIGINT),
        (format!("{} reboot", bin.display()), SIGHUP),
        (format!("{} halt", bin.display()), SIGINT),
        (format!("{}", dir.join("poweroff").display()), SIGINT),
        (format!("{}", dir.join("reboot").display()), SIGHUP),
        (format!("{}", dir.join("halt").display()), SIGINT),
    ];
    for (cmd, outcome) in cases {
        let mut ns = Ns::start(container(&["--", "sh", "-c", &format!("{cmd} && exec sleep 100")]), &dir);
        let st = ns.wait(TEN_S);
        assert_eq!(st.signal(), Some(outcome), "{cmd}: {st}; stderr: {}", ns.stderr_text());
    }
}

#[test]
fn without_pid_namespace_it_is_a_subreaper_and_never_reboots() {
    require_root();
    let dir = TempDir::new("subreaper");
    let out = Command::new(init_bin()).args(["--", "sh", "-c", "exit 5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    // A shutdown request ends the payload; the init then dies by the same signal instead of
    // calling reboot(2) on this machine.
    let ready = dir.join("ready");
    let mut c = Command::new(init_bin());
    c.args(["--", "sh", "-c"]).arg(format!("echo > {}; exec sleep 100", ready.display()));
    let mut ns = Ns::start(c, &dir);
    // The process we started is the init itself here.
    ns.init_pid = Some(ns.child.id() as i32);
    wait_for_file(&ready, TEN_S);
    ns.signal(SIGRTMIN + 4);
    assert_eq!(ns.wait(TEN_S).signal(), Some(SIGINT));
}

/// A pseudo-terminal: (master, slave).
fn pty() -> (OwnedFd, OwnedFd) {
    use rustix::fs::{Mode, OFlags};
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = rustix::fs::open(name.as_c_str(), OFlags::RDWR | OFlags::NOCTTY, Mode::empty()).unwrap();
    (master, slave)
}

#[test]
fn payload_gets_the_console_as_controlling_terminal() {
    require_root();
    // 1: nobody owns the terminal. 2: the init is the session leader that owns it (as when
    // the launcher's child did setsid + TIOCSCTTY before exec): it must hand it over, and
    // the SIGHUP/SIGCONT that TIOCNOTTY sends it must not reach the payload.
    for steal in [false, true] {
        let dir = TempDir::new("ctty");
        let stat = dir.join("stat");
        let (master, slave) = pty();
        let mut c = unshare(&[]);
        if steal {
            c.args(["setsid", "--ctty"]);
        }
        c.arg(init_bin()).args(["--container", "--", "sh", "-c"]);
        c.arg(format!("sleep 0.3; cat /proc/self/stat > {}; exit 0", stat.display()));
        c.stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave);
        let mut ns = Ns::spawn(c, dir.join("none"), dir.join("none"));
        let st = ns.wait(TEN_S);
        // Drain what the terminal got (error messages, if any) for the assertion message.
        rustix::io::ioctl_fionbio(&master, true).unwrap();
        let mut out = [0u8; 4096];
        let n = std::fs::File::from(master.try_clone().unwrap()).read(&mut out).unwrap_or(0);
        let said = String::from_utf8_lossy(&out[..n]).into_owned();
        assert_eq!(st.code(), Some(0), "steal={steal}: {st}; terminal: {said:?}");
        let s = fs::read_to_string(&stat).unwrap();
        assert_ne!(stat_field(&s, 7), Some("0"), "steal={steal}: no controlling tty: {s}");
        assert_eq!(stat_field(&s, 8), Some("2"), "steal={steal}: payload is the foreground group: {s}");
    }
}

/// Host mode, exercised safely in PID+mount+UTS+net namespaces: it sets the hostname from
/// /etc/hostname, brings lo up, keeps running after the rc command exits, honours busybox's
/// and systemd's requests, and SIGTERMs then SIGKILLs everything on shutdown.
#[test]
fn host_mode_in_namespaces() {
    require_root();
    let busybox = Path::new("/bin/busybox");
    assert!(busybox.exists(), "busybox-static is needed (make deps)");
    // (request, outcome, with a process that ignores SIGTERM)
    let cases = [
        (SIGUSR2, SIGINT, true),
        (SIGTERM, SIGHUP, false),
        (SIGUSR1, SIGINT, false),
        (SIGINT, SIGHUP, false),
        (SIGRTMIN + 3, SIGINT, false),
        (SIGRTMIN + 4, SIGINT, false),
        (SIGRTMIN + 5, SIGHUP, false),
    ];
    for (sig, outcome, stubborn) in cases {
        let dir = TempDir::new("host");
        fs::write(dir.join("hostname"), "# test\nspawnbox-test-host\n").unwrap();
        let seen = dir.join("seen");
        let ready = dir.join("ready");
        // The stubborn daemon is in place (TERM ignored) before the rc script says ready.
        let daemon = if stubborn {
            "setsid sh -c 'trap \"\" TERM; echo > daemon; exec sleep 100' &\n\
             while [ ! -e daemon ]; do sleep 0.01; done"
        } else {
            ""
        };
        let rc = dir.script(
            "rc",
            &format!(
                "cd {dir}\ncat /proc/sys/kernel/hostname > seen\n{busybox} ip -o link show lo >> seen\n\
                 {daemon}\necho > ready\nexit 3",
                dir = dir.0.display(),
                busybox = busybox.display(),
            ),
        );
        // PID 1 first bind-mounts a test /etc/hostname (in its own mount namespace), then
        // becomes the init.
        let wrap = dir.script("wrap", "mount --bind \"$1\" /etc/hostname && exec \"$2\" --host --grace=1 -- \"$3\"");
        let mut c = unshare(&["--mount", "--uts", "--net"]);
        c.arg(wrap).arg(dir.join("hostname")).arg(init_bin()).arg(rc);
        let mut ns = Ns::start(c, &dir);
        wait_for_file(&ready, TEN_S);
        wait_for_text(
            &ns.stderr,
            "spawnbox-init: rc command exited with status 3; waiting for poweroff, reboot or halt",
            TEN_S,
        );
        let s = fs::read_to_string(&seen).unwrap();
        assert!(s.starts_with("spawnbox-test-host\n"), "hostname: {s}");
        assert!(s.contains("<LOOPBACK,UP"), "lo: {s}");
        // Non-request signals mean nothing to a machine's init.
        ns.signal(SIGHUP);
        ns.signal(SIGRTMIN + 1);
        std::thread::sleep(Duration::from_millis(100));
        assert!(ns.running(), "host mode ignores SIGHUP");
        let t0 = Instant::now();
        ns.signal(sig);
        let st = ns.wait(TEN_S);
        let err = ns.stderr_text();
        assert_eq!(st.signal(), Some(outcome), "signal {sig}: {st}; stderr: {err}");
        let name = match outcome {
            SIGHUP => "reboot",
            _ if sig == SIGUSR1 || sig == SIGRTMIN + 3 => "halt",
            _ => "poweroff",
        };
        assert!(err.contains(&format!("spawnbox-init: {name}: sending SIGTERM to all processes\n")), "{err}");
        assert!(
            err.contains(&format!("spawnbox-init: {name}: not the machine's init, leaving file systems alone\n")),
            "{err}"
        );
        let killed = err.contains("sending SIGKILL to all processes");
        assert_eq!(killed, stubborn, "{err}");
        if stubborn {
            assert!(t0.elapsed() >= Duration::from_millis(950), "grace period skipped");
        }
    }
}
