//! Helpers of the `spawnbox-runc` tests (tests/oci_runtime.rs, tests/oci_conformance.rs,
//! tests/oci_namespaces.rs): the
//! runtime as a link in the test's temp dir, running it with its output in files, and a
//! config.json builder around the test's busybox tree.
//!
//! Output goes to files, never pipes: a container the runtime leaves (after `create`, or a
//! `run --detach`) holds its creator's stdio, as with runc, so a pipe would stay open as long
//! as the container runs.

use crate::{spawnbox_bin, wait_until, Test};
use std::fs;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `spawnbox-runc` (a link to the binary) in the test's temp dir.
pub fn runtime(t: &Test) -> PathBuf {
    let rt = t.path("spawnbox-runc");
    if !rt.exists() {
        std::os::unix::fs::symlink(spawnbox_bin(), &rt).unwrap();
    }
    rt
}

/// `spawnbox-runc --root STATE ARGS...` (`STATE`: the test's `state`), stdin from /dev/null,
/// output captured.
pub fn rt(t: &Test, args: &[&str]) -> Output {
    rt_in(t, &t.path("state"), args)
}

/// [`rt`] with the state directory `state` (another test's: the containers of a pod share
/// their runtime's).
pub fn rt_in(t: &Test, state: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(runtime(t));
    c.arg("--root").arg(state).args(args);
    output(&t.dir, c)
}

/// Runs `c` with stdout and stderr in files of `dir` (see the module's comment).
pub fn output(dir: &Path, mut c: Command) -> Output {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (out, err) = (dir.join(format!("out.{n}")), dir.join(format!("err.{n}")));
    let status = c
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .status()
        .expect("run spawnbox-runc");
    let o = Output { status, stdout: fs::read(&out).unwrap(), stderr: fs::read(&err).unwrap() };
    let _ = (fs::remove_file(&out), fs::remove_file(&err));
    o
}

/// Bytes as text (lossy).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A config.json for the test's tree, as members (JSON text) that tests replace or extend.
/// `json()` writes it compactly (`{"type":"pid"},`), so tests may also edit the text.
#[derive(Clone, Debug)]
pub struct Config {
    /// `ociVersion`.
    pub version: String,
    /// The `root` object.
    pub root: String,
    /// `process.terminal`.
    pub terminal: bool,
    /// The `process.user` object.
    pub user: String,
    /// `process.args`.
    pub args: Vec<String>,
    /// `process.env`.
    pub env: Vec<String>,
    /// `process.cwd`.
    pub cwd: String,
    /// The `process.capabilities` object (`None`: absent).
    pub capabilities: Option<String>,
    /// More members of `process` (`"noNewPrivileges":true`).
    pub process: Vec<String>,
    /// The `mounts` entries (objects).
    pub mounts: Vec<String>,
    /// The `linux.namespaces` entries (objects).
    pub namespaces: Vec<String>,
    /// More members of `linux` (`"sysctl":{...}`).
    pub linux: Vec<String>,
    /// More top-level members (`"hostname":"x"`, `"hooks":{...}`).
    pub top: Vec<String>,
}

/// The namespaces of `Config::new`: pid, network, ipc, uts, mount.
pub const NAMESPACES: [&str; 5] = ["pid", "network", "ipc", "uts", "mount"];

impl Config {
    /// The test's tree (absolute `root.path`) running `args` as root in `/srv/work`, with
    /// runc spec's mounts (proc, a /dev tmpfs, devpts, /dev/shm, a read-only sysfs), new
    /// pid/network/ipc/uts/mount namespaces, hostname `oci-box`, CAP_KILL and CAP_CHOWN.
    pub fn new(t: &Test, args: &[&str]) -> Config {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        Config {
            version: "1.2.0".into(),
            root: format!("{{\"path\":{:?}}}", t.root.to_str().unwrap()),
            terminal: false,
            user: r#"{"uid":0,"gid":0}"#.into(),
            args: s(args),
            env: s(&["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"]),
            cwd: "/srv/work".into(),
            capabilities: Some(
                r#"{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL","CAP_CHOWN"],"permitted":["CAP_KILL","CAP_CHOWN"]}"#
                    .into(),
            ),
            process: Vec::new(),
            mounts: s(&[
                r#"{"destination":"/proc","type":"proc","source":"proc"}"#,
                r#"{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}"#,
                r#"{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]}"#,
                r#"{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]}"#,
                r#"{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}"#,
            ]),
            namespaces: NAMESPACES.iter().map(|n| format!("{{\"type\":\"{n}\"}}")).collect(),
            linux: Vec::new(),
            top: vec![r#""hostname":"oci-box""#.into()],
        }
    }

    /// The JSON text.
    pub fn json(&self) -> String {
        let strings = |v: &[String]| v.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(",");
        let more = |v: &[String]| v.iter().map(|m| format!(",{m}")).collect::<String>();
        let caps = self.capabilities.as_ref().map(|c| format!(",\"capabilities\":{c}")).unwrap_or_default();
        format!(
            concat!(
                r#"{{"ociVersion":{v:?},"root":{root}{top},"#,
                "\n",
                r#"  "process":{{"terminal":{term},"user":{user},"args":[{args}],"env":[{env}],"cwd":{cwd:?}{caps}{process}}},"#,
                "\n",
                r#"  "mounts":[{mounts}],"#,
                "\n",
                r#"  "linux":{{"namespaces":[{ns}]{linux}}}}}"#
            ),
            v = self.version,
            root = self.root,
            top = more(&self.top),
            term = self.terminal,
            user = self.user,
            args = strings(&self.args),
            env = strings(&self.env),
            cwd = self.cwd,
            caps = caps,
            process = more(&self.process),
            mounts = self.mounts.join(",\n    "),
            ns = self.namespaces.join(","),
            linux = more(&self.linux),
        )
    }
}

/// tests/oci_runtime.rs's config: `Config::new` with a terminal or not, masked /proc/keys and
/// /proc/bus, a read-only /proc/sys, and `extra` (`,"member":...`) at the top level.
pub fn config(t: &Test, args: &[&str], terminal: bool, extra: &str) -> String {
    let mut c = Config::new(t, args);
    c.terminal = terminal;
    c.linux.push(r#""maskedPaths":["/proc/keys","/proc/bus"],"readonlyPaths":["/proc/sys"]"#.into());
    if let Some(m) = extra.strip_prefix(',') {
        c.top.push(m.to_string());
    }
    c.json()
}

/// Writes the bundle (`DIR/bundle/config.json`) and returns its directory.
pub fn bundle(t: &Test, config: &str) -> PathBuf {
    let b = t.host_dir("bundle");
    fs::write(b.join("config.json"), config).unwrap();
    b
}

/// `spawnbox-runc run --bundle B ID` (ID: the tree's name) of `config` to its end: the
/// container's output and status, and the runtime's errors.
pub fn run(t: &Test, config: &Config) -> Output {
    let b = bundle(t, &config.json());
    rt(t, &["run", "--bundle", b.to_str().unwrap(), &t.name()])
}

/// `run`, asserting that the container exited 0 with nothing on stderr; its stdout.
pub fn run_ok(t: &Test, config: &Config) -> String {
    let o = run(t, config);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(0), String::new()),
        "stdout: {}\nconfig: {}",
        text(&o.stdout),
        config.json()
    );
    text(&o.stdout)
}

/// A JSON string member of `state`'s output.
pub fn field(state: &str, key: &str) -> String {
    let pat = format!("\"{key}\": ");
    let line = state.lines().find(|l| l.trim_start().starts_with(&pat)).unwrap_or_else(|| panic!("{key} in {state}"));
    line.trim().trim_start_matches(&pat).trim_end_matches(',').trim_matches('"').to_string()
}

/// Deletes the test's container (`delete --force ID`) when dropped: declared right after the
/// `Test`, it runs first, so a failing test leaves no container (nor its cgroups) behind.
pub struct Deleted<'a>(pub &'a Test);

impl Drop for Deleted<'_> {
    fn drop(&mut self) {
        let _ = rt(self.0, &["delete", "--force", &self.0.name()]);
    }
}

/// Receives the pty master a runtime sends on `listener` (runc's console socket protocol).
pub fn receive_console(listener: &UnixListener) -> (rustix::fd::OwnedFd, Vec<u8>) {
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    use std::mem::MaybeUninit;
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut anc = RecvAncillaryBuffer::new(&mut space);
    let r = recvmsg(&conn, &mut [std::io::IoSliceMut::new(&mut buf)], &mut anc, RecvFlags::CMSG_CLOEXEC).unwrap();
    let name = buf[..r.bytes].to_vec();
    let fd = anc
        .drain()
        .find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        })
        .expect("a descriptor");
    (fd, name)
}

/// Reads the pty master until `want` shows up (or 5 s pass).
pub fn read_until(master: &rustix::fd::OwnedFd, want: &str) -> String {
    let mut got = Vec::new();
    let _ = wait_until(Duration::from_secs(5), || {
        let mut b = [0u8; 512];
        let mut fds = [rustix::event::PollFd::new(master, rustix::event::PollFlags::IN)];
        let ts = rustix::event::Timespec { tv_sec: 0, tv_nsec: 50_000_000 };
        if rustix::event::poll(&mut fds, Some(&ts)).unwrap_or(0) > 0 {
            if let Ok(n) = rustix::io::read(master, &mut b) {
                got.extend_from_slice(&b[..n]);
            }
        }
        String::from_utf8_lossy(&got).contains(want)
    });
    String::from_utf8_lossy(&got).into_owned()
}
