//! Network fixtures for the networking tests: network namespaces the test creates (never the
//! host's real interfaces), code and commands run inside them, and the state they must be
//! left in.
//!
//! A namespace is held by a `sleep` started with `unshare --net`; dropping the `Netns` kills
//! it, and the kernel then removes the namespace with every link in it.
//!
//! Fault injection: [`fault_injection_bin`] is a spawnbox built with netsetup's
//! `fault-injection` feature (`NETSETUP_FAULT`, `NETSETUP_TRACE`: see `netsetup/src/fault.rs`),
//! which the release build never has; [`run_bin`] runs it.

use super::run::{Output, TIMEOUT};
use rustix::fd::AsFd;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

/// A network namespace of the test's own.
pub struct Netns {
    holder: Child,
    path: PathBuf,
}

impl Default for Netns {
    fn default() -> Self {
        Self::new()
    }
}

impl Netns {
    /// A new namespace with `lo` up.
    pub fn new() -> Netns {
        let mut holder = Command::new("unshare")
            // A new namespace copies the host's IPv4 settings (devconf_inherit_init_net=0):
            // forwarding starts off here whatever the host has, as the tests expect.
            .args([
                "--net",
                "--",
                "/bin/sh",
                "-c",
                "echo 0 > /proc/sys/net/ipv4/ip_forward && ip link set lo up && echo ready && exec sleep 600",
            ])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("run unshare --net");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n", "unshare --net failed");
        let path = PathBuf::from(format!("/proc/{}/ns/net", holder.id()));
        Netns { holder, path }
    }

    /// `/proc/PID/ns/net` of the holder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The holder's pid (for `ip link set ... netns PID`).
    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// Runs `f` on a thread inside the namespace: sockets it opens and processes it starts
    /// (spawnbox included) live there.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let ns = std::fs::File::open(&self.path).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                rustix::thread::move_into_link_name_space(ns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
                    .expect("setns into the test's network namespace");
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// Runs `sh -c SCRIPT` in the namespace: (success, stdout, stderr).
    pub fn try_sh(&self, script: &str) -> (bool, String, String) {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", self.path.display()))
            .args(["/bin/sh", "-c", script])
            .output()
            .expect("run nsenter");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs `sh -c SCRIPT` in the namespace, which must succeed; its stdout.
    pub fn sh(&self, script: &str) -> String {
        let (ok, out, err) = self.try_sh(script);
        assert!(ok, "in the test namespace: {script}: failed: {err}");
        out
    }

    /// The links in the namespace, `NAME KIND` sorted (`@peer` suffixes dropped).
    pub fn links(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .sh("ip -o -d link show")
            .lines()
            .filter_map(|l| {
                let name = l.split(": ").nth(1)?.split('@').next()?.to_string();
                let kind = ["veth", "bridge", "macvlan", "ipvlan", "dummy"]
                    .iter()
                    .find(|k| l.contains(&format!("\\    {k} ")))
                    .unwrap_or(&"-");
                Some(format!("{name} {kind}"))
            })
            .collect();
        v.sort();
        v
    }

    /// The IPv4 addresses in the namespace, `DEV ADDR/LEN` sorted.
    pub fn addresses(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .sh("ip -o -4 addr show")
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some(format!("{} {}", f.get(1)?, f.get(3)?))
            })
            .collect();
        v.sort();
        v
    }

    /// `ip -d -o link` and `ip -o addr`: what a container must leave as it found it. Bridge
    /// timers (`gc_timer 299.88`), which tick by themselves, are left out, and so is IPv6
    /// duplicate address detection's `tentative`: a new link's addresses lose it by themselves
    /// about a second after it comes up, so a snapshot taken just before would differ from one
    /// taken after a container ran (seen in the VM, network_interface_is_moved_in_and_back_...).
    pub fn snapshot(&self) -> String {
        self.sh("ip -d -o link | sed -E 's/ [a-z_]+_timer +[0-9.]+//g'; ip -o addr | sed 's/ tentative / /'")
    }

    /// `nft list ruleset` (empty when there are no tables).
    pub fn ruleset(&self) -> String {
        self.sh("nft list ruleset")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// A spawnbox state directory for one test, inside the test's temp dir (removed with it).
pub fn runtime_dir(t: &super::Test) -> String {
    t.host_dir("state").join("run").display().to_string()
}

/// The machines with a lease in a runtime directory's index (`net/leases`, one line each,
/// the machine's name first).
pub fn leases(runtime: &str) -> Vec<String> {
    lease_lines(runtime).iter().filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect()
}

/// The lines of a runtime directory's lease index (none when there is no index).
pub fn lease_lines(runtime: &str) -> Vec<String> {
    std::fs::read_to_string(Path::new(runtime).join("net/leases"))
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// `machine`'s line in a runtime directory's lease index.
pub fn lease_of(runtime: &str, machine: &str) -> Option<String> {
    lease_lines(runtime).into_iter().find(|l| l.split_whitespace().next() == Some(machine))
}

/// A spawnbox with netsetup's fault-injection seam: `$SPAWNBOX_FAULT_INJECTION`, else built
/// once per test process (a debug build of the working tree, in `target/fault-injection`, for
/// the target `make build` chose). `None` only where the test binary runs without the sources
/// and without that variable (the VM guest of case 61).
pub fn fault_injection_bin() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("SPAWNBOX_FAULT_INJECTION") {
            return Some(PathBuf::from(p));
        }
        let ws = super::workspace();
        if !ws.join("Cargo.toml").is_file() {
            return None;
        }
        let target_dir = ws.join("target/fault-injection");
        let triple = std::fs::read_to_string(ws.join("build/.target")).ok().map(|t| t.trim().to_string());
        let mut c = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        c.current_dir(&ws)
            .args(["build", "--locked", "--offline", "-q", "-p", "spawnbox", "--features", "netsetup/fault-injection"])
            .arg("--target-dir")
            .arg(&target_dir);
        if let Some(t) = triple.as_deref().filter(|t| !t.is_empty()) {
            c.args(["--target", t]);
        }
        if let Some(init) = std::env::var_os("SPAWNBOX_INIT") {
            c.env("SPAWNBOX_INIT_BINARY", init);
        }
        let out = c.output().expect("run cargo");
        assert!(
            out.status.success(),
            "building spawnbox with netsetup/fault-injection failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = match triple.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => target_dir.join(t),
            None => target_dir,
        };
        Some(dir.join("debug/spawnbox"))
    })
    .as_deref()
}

/// Runs `bin ARGS` to its end (killed after `TIMEOUT`) with nothing but `env` in its
/// environment, from the calling thread (and so in its network namespace).
pub fn run_bin(bin: &Path, args: &[String], env: &[(&str, &str)]) -> Output {
    let desc = format!("{} {}", bin.display(), args.join(" "));
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out: {desc}");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    Output {
        desc,
        code: status.code(),
        signal: status.signal(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}
