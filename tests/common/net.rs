//! Network fixtures for the networking tests: network namespaces the test creates (never the
//! host's real interfaces), code and commands run inside them, and the state they must be
//! left in.
//!
//! A namespace is held by a `sleep` started with `unshare --net`; dropping the `Netns` kills
//! it, and the kernel then removes the namespace with every link in it.

use rustix::fd::AsFd;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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
            .args(["--net", "--", "/bin/sh", "-c", "ip link set lo up && echo ready && exec sleep 600"])
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

/// The lease files left in a runtime directory.
pub fn leases(runtime: &str) -> Vec<String> {
    std::fs::read_dir(Path::new(runtime).join("net"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".lease"))
                .collect()
        })
        .unwrap_or_default()
}
