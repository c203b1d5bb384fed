//! The record of a machine created by one process for another to start, signal and tear down
//! (`Model::Detachable`): `RUNTIME/machines/NAME/state` beside the start FIFO
//! `RUNTIME/machines/NAME/start` (RUNTIME: `/run/spawnbox`, or `$SPAWNBOX_RUNTIME_DIR`). One
//! `key=value` per line; the registry of `spawnctl` builds on it.

use crate::error::{Error, Result};
use crate::network::state::{runtime_root, valid_state_name};
use std::path::{Path, PathBuf};

/// What a later process needs to start, signal and tear down a created machine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub machine: String,
    /// PID 1 on the host, and its start time (`/proc/PID/stat` field 22): a reused pid never
    /// passes for it.
    pub pid: i32,
    pub start_time: u64,
    /// The process that created it (0: not recorded): a creator's cleanup tears down only a
    /// machine it made, never another one of the same name.
    pub creator: i32,
    /// The machine's cgroup directory, if it has one.
    pub cgroup: Option<PathBuf>,
    /// Its cgroup v1 directories (the OCI runtime on hybrid and legacy hosts).
    pub cgroup_v1: Vec<crate::cgroup::V1Entry>,
    /// v1 parents its creator made, removed with it when empty.
    pub cgroup_v1_made: Vec<PathBuf>,
    /// It holds network state (leases, rules) under the runtime directory.
    pub network: bool,
    /// Throw-away overlay uppers to remove (`--overlay=LOWER::DST`).
    pub temporary: Vec<PathBuf>,
    /// The container directory (for the work directories of `+` overlay uppers).
    pub directory: Option<PathBuf>,
    /// Overlay uppers whose work directories (siblings) go at teardown: host paths, and paths
    /// inside the tree (`+`).
    pub uppers: Vec<PathBuf>,
    pub uppers_in_tree: Vec<PathBuf>,
    /// Its creator left it (`Machine::leave`); until then (`left=no`) the creator may still be
    /// setting it up (the OCI runtime's status `creating`), or died doing so. A record without
    /// the key (an older spawnbox's) is a left one.
    pub left: bool,
}

/// `RUNTIME/machines/NAME`.
pub fn dir(machine: &str) -> Result<PathBuf> {
    if !valid_state_name(machine) {
        return Err(Error::msg(format!("{machine}: not a machine name that can name a file")));
    }
    Ok(runtime_root().join("machines").join(machine))
}

impl State {
    /// The file's text.
    pub fn format(&self) -> String {
        let mut out = format!("machine={}\npid={}\nstart_time={}\n", self.machine, self.pid, self.start_time);
        if self.creator != 0 {
            out.push_str(&format!("creator={}\n", self.creator));
        }
        if let Some(c) = &self.cgroup {
            out.push_str(&format!("cgroup={}\n", c.display()));
        }
        for e in &self.cgroup_v1 {
            out.push_str(&format!("cgroup-v1={}:{}\n", e.name, e.path.display()));
        }
        for m in &self.cgroup_v1_made {
            out.push_str(&format!("cgroup-v1-made={}\n", m.display()));
        }
        out.push_str(&format!("network={}\n", if self.network { "yes" } else { "no" }));
        for t in &self.temporary {
            out.push_str(&format!("temporary={}\n", t.display()));
        }
        if let Some(d) = &self.directory {
            out.push_str(&format!("directory={}\n", d.display()));
        }
        for u in &self.uppers {
            out.push_str(&format!("upper={}\n", u.display()));
        }
        for u in &self.uppers_in_tree {
            out.push_str(&format!("upper-in-tree={}\n", u.display()));
        }
        if !self.left {
            out.push_str("left=no\n");
        }
        out
    }

    /// Parses a state file (`file` for messages): every key known, every value well formed.
    pub fn parse(file: &Path, text: &str) -> Result<State> {
        let mut s = State { left: true, ..State::default() };
        let bad = |n: usize, what: &str| Error::msg(format!("{}:{}: {what}", file.display(), n + 1));
        for (n, line) in text.lines().enumerate() {
            let Some((k, v)) = line.split_once('=') else {
                return Err(bad(n, "expected key=value"));
            };
            let path = || -> Result<PathBuf> {
                let p = PathBuf::from(v);
                if p.is_absolute() {
                    Ok(p)
                } else {
                    Err(bad(n, &format!("{k}= needs an absolute path")))
                }
            };
            match k {
                "machine" if valid_state_name(v) => s.machine = v.to_string(),
                "pid" => s.pid = v.parse().ok().filter(|p| *p > 1).ok_or_else(|| bad(n, "bad pid"))?,
                "start_time" => s.start_time = v.parse().map_err(|_| bad(n, "bad start_time"))?,
                "cgroup" => s.cgroup = Some(path()?),
                "cgroup-v1" => {
                    // NAME:PATH; a hierarchy's name (`cpu,cpuacct`, `name=systemd`) has no ':'.
                    let (name, p) = v
                        .split_once(':')
                        .filter(|(n, p)| !n.is_empty() && p.starts_with('/'))
                        .ok_or_else(|| bad(n, "cgroup-v1= needs NAME:/absolute/path"))?;
                    s.cgroup_v1.push(crate::cgroup::V1Entry { name: name.to_string(), path: PathBuf::from(p) });
                }
                "cgroup-v1-made" => s.cgroup_v1_made.push(path()?),
                "network" if v == "yes" || v == "no" => s.network = v == "yes",
                "temporary" => s.temporary.push(path()?),
                "directory" => s.directory = Some(path()?),
                "upper" => s.uppers.push(path()?),
                "upper-in-tree" => s.uppers_in_tree.push(path()?),
                "left" if v == "no" => s.left = false,
                "creator" => s.creator = v.parse().ok().filter(|p| *p > 0).ok_or_else(|| bad(n, "bad creator"))?,
                _ => return Err(bad(n, &format!("unexpected {k}="))),
            }
        }
        if s.machine.is_empty() || s.pid == 0 {
            return Err(Error::msg(format!("{}: machine= and pid= are required", file.display())));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = State {
            machine: "web-1".into(),
            pid: 4242,
            start_time: 987654,
            cgroup: Some("/sys/fs/cgroup/machine.slice/machine-web\\x2d1.scope".into()),
            cgroup_v1: vec![
                crate::cgroup::V1Entry {
                    name: "cpu,cpuacct".into(),
                    path: "/sys/fs/cgroup/cpu,cpuacct/default/c1".into(),
                },
                crate::cgroup::V1Entry {
                    name: "name=systemd".into(),
                    path: "/sys/fs/cgroup/systemd/default/c1".into(),
                },
            ],
            cgroup_v1_made: vec!["/sys/fs/cgroup/systemd/default".into()],
            network: true,
            temporary: vec!["/var/tmp/spawnbox-overlay-abc123".into()],
            directory: Some("/var/lib/machines/web-1".into()),
            uppers: vec!["/srv/upper".into()],
            uppers_in_tree: vec!["/var/upper".into()],
            creator: 4000,
            left: false,
        };
        let text = s.format();
        assert_eq!(
            text,
            "machine=web-1\npid=4242\nstart_time=987654\ncreator=4000\ncgroup=/sys/fs/cgroup/machine.slice/machine-web\\x2d1.scope\n\
             cgroup-v1=cpu,cpuacct:/sys/fs/cgroup/cpu,cpuacct/default/c1\n\
             cgroup-v1=name=systemd:/sys/fs/cgroup/systemd/default/c1\ncgroup-v1-made=/sys/fs/cgroup/systemd/default\n\
             network=yes\ntemporary=/var/tmp/spawnbox-overlay-abc123\ndirectory=/var/lib/machines/web-1\n\
             upper=/srv/upper\nupper-in-tree=/var/upper\nleft=no\n"
        );
        assert_eq!(State::parse(Path::new("/s"), &text).unwrap(), s);
        // An older spawnbox's record (no left=, no creator=): a left machine, creator unknown.
        let old = State::parse(Path::new("/s"), "machine=m\npid=5\nstart_time=1\n").unwrap();
        assert_eq!((old.left, old.creator), (true, 0));
    }

    #[test]
    fn hostile_or_broken_files_are_refused_with_file_and_line() {
        let f = Path::new("/run/spawnbox/machines/m/state");
        let err = |t: &str| State::parse(f, t).unwrap_err().to_string();
        assert_eq!(err("machine=m\npid=1\n"), "/run/spawnbox/machines/m/state:2: bad pid");
        assert_eq!(err("machine=../x\n"), "/run/spawnbox/machines/m/state:1: unexpected machine=");
        assert_eq!(
            err("machine=m\npid=5\ncgroup=rel\n"),
            "/run/spawnbox/machines/m/state:3: cgroup= needs an absolute path"
        );
        assert_eq!(err("machine=m\nbogus\n"), "/run/spawnbox/machines/m/state:2: expected key=value");
        assert_eq!(
            err("machine=m\ncgroup-v1=memory:rel\n"),
            "/run/spawnbox/machines/m/state:2: cgroup-v1= needs NAME:/absolute/path"
        );
        assert_eq!(err("machine=m\n"), "/run/spawnbox/machines/m/state: machine= and pid= are required");
    }
}
