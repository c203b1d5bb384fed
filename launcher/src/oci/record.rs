//! A container's record under `--root` (runc's state directory): `ROOT/ID/state.json` with
//! what `state` prints beside the machine's own record (bundle, rootfs, creation time,
//! annotations, PID 1), a copy of the bundle's `config.json` (the poststop hooks run at
//! `delete`, when the engine may have removed the bundle; `read_config` reads either), and
//! `started` once `start` ran.
//! The status is read from PID 1 and the cgroup, never stored.

use crate::error::{io_error, Error, Result};
use crate::json::{self, quote};
use std::path::{Path, PathBuf};

/// What `create` recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 (runc's `created`).
    pub created: String,
    pub pid: i32,
    pub annotations: Vec<(String, String)>,
}

/// `ROOT/ID`, after checking that `id` can name a directory (runc's rule: letters, digits,
/// `_ + - .`, not `.` or `..`).
pub fn dir(root: &Path, id: &str) -> Result<PathBuf> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if !ok {
        return Err(Error::msg(format!("invalid container ID {id:?}")));
    }
    Ok(root.join(id))
}

impl Record {
    /// The record's JSON text.
    pub fn format(&self) -> String {
        let ann: Vec<String> = self.annotations.iter().map(|(k, v)| format!("{}:{}", quote(k), quote(v))).collect();
        format!(
            "{{\"id\":{},\"bundle\":{},\"rootfs\":{},\"created\":{},\"pid\":{},\"annotations\":{{{}}}}}\n",
            quote(&self.id),
            quote(&self.bundle.to_string_lossy()),
            quote(&self.rootfs.to_string_lossy()),
            quote(&self.created),
            self.pid,
            ann.join(",")
        )
    }

    pub fn parse(file: &Path, text: &str) -> Result<Record> {
        let v = json::parse(text.as_bytes()).map_err(|e| Error::msg(format!("{}: {e}", file.display())))?;
        let at = v.at();
        let s = |k: &str| -> Result<String> { Ok(at.req(k)?.str()?.to_string()) };
        let mut annotations = Vec::new();
        for (k, val) in at.req("annotations")?.entries()? {
            annotations.push((k.to_string(), val.str()?.to_string()));
        }
        Ok(Record {
            id: s("id")?,
            bundle: PathBuf::from(s("bundle")?),
            rootfs: PathBuf::from(s("rootfs")?),
            created: s("created")?,
            pid: i32::try_from(at.req("pid")?.i64()?)
                .map_err(|_| Error::msg(format!("{}: pid out of range", file.display())))?,
            annotations,
        })
        .map_err(|e: Error| e.context(file.display().to_string()))
    }

    /// Writes `ROOT/ID/state.json` (through a temporary file and a rename).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let file = dir.join("state.json");
        let tmp = dir.join(".state.json.new");
        std::fs::write(&tmp, self.format()).map_err(|e| io_error("write", &tmp, &e))?;
        std::fs::rename(&tmp, &file).map_err(|e| io_error("rename", &file, &e))
    }

    /// Reads container `id`'s record; an unknown ID reads as runc says it.
    pub fn load(root: &Path, id: &str) -> Result<(Record, PathBuf)> {
        let dir = dir(root, id)?;
        let file = dir.join("state.json");
        match std::fs::read_to_string(&file) {
            Ok(text) => Ok((Record::parse(&file, &text)?, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::msg(format!("container {id} does not exist")))
            }
            Err(e) => Err(io_error("read", &file, &e)),
        }
    }
}

/// Largest config.json read.
const CONFIG_MAX: u64 = 4 << 20;

/// Reads `BUNDLE/config.json` (a regular file: a FIFO there never blocks `create`).
pub fn read_config(bundle: &Path) -> Result<(crate::runtime_spec::Config, Vec<u8>)> {
    let bytes = crate::host_file::read(&bundle.join("config.json"), CONFIG_MAX, "larger than 4 MiB")?;
    Ok((crate::runtime_spec::parse(&bytes)?, bytes))
}

/// runc's statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The status of a container whose PID 1 is `alive` (and not a zombie), `left` by its
/// `create` or not yet, `started` or not, `paused` or not.
pub fn status(alive: bool, left: bool, started: bool, paused: bool) -> Status {
    match (alive, started, paused) {
        (false, _, _) => Status::Stopped,
        (true, _, _) if !left => Status::Creating,
        (true, _, true) => Status::Paused,
        (true, true, false) => Status::Running,
        (true, false, false) => Status::Created,
    }
}

/// Whether `/proc/PID/stat` names a live process (a zombie is not one; the machine's own
/// record checks the start time against pid reuse).
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // The state is the first field after the command's closing parenthesis.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return false };
    let state = rest.split_whitespace().next().unwrap_or("X");
    state != "Z" && state != "X"
}

/// runc's `state` output (indented, as `json.MarshalIndent` prints it).
pub fn state_json(r: &Record, status: Status, oci_version: &str) -> String {
    let pid = if status == Status::Stopped { 0 } else { r.pid };
    let mut out = format!(
        "{{\n  \"ociVersion\": {},\n  \"id\": {},\n  \"pid\": {pid},\n  \"status\": {},\n  \"bundle\": {},\n  \"rootfs\": {},\n  \"created\": {},\n  \"owner\": \"\"",
        quote(oci_version),
        quote(&r.id),
        quote(status.name()),
        quote(&r.bundle.to_string_lossy()),
        quote(&r.rootfs.to_string_lossy()),
        quote(&r.created),
    );
    if !r.annotations.is_empty() {
        out.push_str(",\n  \"annotations\": {\n");
        let lines: Vec<String> = r.annotations.iter().map(|(k, v)| format!("    {}: {}", quote(k), quote(v))).collect();
        out.push_str(&lines.join(",\n"));
        out.push_str("\n  }");
    }
    out.push_str("\n}\n");
    out
}

/// The state hooks get on stdin (runtime-spec: ociVersion, id, status, pid, bundle,
/// annotations), one line.
pub fn hook_state(r: &Record, status: Status, oci_version: &str) -> String {
    crate::oci_hooks::state(oci_version, &r.id, status.name(), r.pid, &r.bundle.to_string_lossy(), &r.annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> Record {
        Record {
            id: "c1".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-12-07T10:00:00.5Z".into(),
            pid: 42,
            annotations: vec![("io.container.manager".into(), "libpod".into())],
        }
    }

    #[test]
    fn record_round_trips() {
        let r = rec();
        assert_eq!(Record::parse(Path::new("s"), &r.format()).unwrap(), r);
    }

    #[test]
    fn state_as_runc_prints_it() {
        assert_eq!(
            state_json(&rec(), Status::Running, "1.0.2"),
            "{\n  \"ociVersion\": \"1.0.2\",\n  \"id\": \"c1\",\n  \"pid\": 42,\n  \"status\": \"running\",\n  \"bundle\": \"/b\",\n  \"rootfs\": \"/b/rootfs\",\n  \"created\": \"2026-12-07T10:00:00.5Z\",\n  \"owner\": \"\",\n  \"annotations\": {\n    \"io.container.manager\": \"libpod\"\n  }\n}\n"
        );
        assert!(state_json(&rec(), Status::Stopped, "1.0.2").contains("\"pid\": 0,"));
        assert_eq!(
            hook_state(&rec(), Status::Created, "1.0.2"),
            "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"created\",\"pid\":42,\"bundle\":\"/b\",\"annotations\":{\"io.container.manager\":\"libpod\"}}"
        );
    }

    #[test]
    fn ids_and_statuses() {
        for bad in ["", ".", "..", "a/b", "a b", "ä"] {
            assert_eq!(dir(Path::new("/r"), bad).unwrap_err().to_string(), format!("invalid container ID {bad:?}"));
        }
        assert_eq!(dir(Path::new("/r"), "a+b_c-d.e").unwrap(), PathBuf::from("/r/a+b_c-d.e"));
        assert_eq!(status(false, true, true, false), Status::Stopped);
        assert_eq!(status(false, false, false, false), Status::Stopped);
        assert_eq!(status(true, false, false, false), Status::Creating);
        assert_eq!(status(true, true, false, false), Status::Created);
        assert_eq!(status(true, true, true, false), Status::Running);
        assert_eq!(status(true, true, true, true), Status::Paused);
        assert!(alive(std::process::id() as i32));
        assert!(!alive(i32::MAX));
    }
}
