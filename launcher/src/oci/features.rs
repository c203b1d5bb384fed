//! `spec` (a default config.json, as runc writes one) and `features` (runtime-spec's features
//! document: what this runtime accepts), both from the tables the code uses.

use crate::error::{io_error, Error, Result};
use std::path::Path;

/// The config.json `spec` writes: runc's defaults with spawnbox's hostname.
pub const DEFAULT_SPEC: &str = r#"{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": true,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "spawnbox",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
"#;

/// `spec [--bundle DIR]`: writes DIR/config.json (the working directory's without
/// `--bundle`); an existing one is kept, as runc does.
pub fn write_spec(bundle: Option<&Path>, rootless: bool) -> Result<()> {
    if rootless {
        return Err(Error::msg(
            "spec: --rootless: not supported by spawnbox-runc (it runs as root; user namespaces with mappings are)",
        ));
    }
    let dir = bundle.map(Path::to_path_buf).unwrap_or_else(|| std::path::PathBuf::from("."));
    let file = dir.join("config.json");
    if file.exists() {
        return Err(Error::msg(format!("File {} exists. Remove it first", file.display())));
    }
    std::fs::write(&file, DEFAULT_SPEC).map_err(|e| io_error("write", &file, &e))
}

/// runtime-spec's features document for this runtime.
pub fn features_json() -> String {
    let list = |items: &[&str]| items.iter().map(|s| crate::json::quote(s)).collect::<Vec<_>>().join(",");
    format!(
        concat!(
            "{{\"ociVersionMin\":\"1.0.0\",\"ociVersionMax\":\"1.3.0\",",
            "\"hooks\":[{}],\"mountOptions\":[{}],",
            "\"linux\":{{\"namespaces\":[{}],\"cgroup\":{{\"v1\":true,\"v2\":true,\"systemd\":false,\"systemdUser\":false}},",
            "\"apparmor\":{{\"enabled\":false}},\"selinux\":{{\"enabled\":false}},",
            "\"intelRdt\":{{\"enabled\":false}},\"mountExtensions\":{{\"idmap\":{{\"enabled\":true}}}}}},",
            "\"annotations\":{{\"org.opencontainers.runtime-spec.features.runtime\":\"spawnbox-runc\"}}}}\n"
        ),
        list(&["prestart", "createRuntime", "poststart", "poststop"]),
        list(&[crate::mount_plan_oci::OPTION_NAMES, crate::mount_plan_oci::IDMAP].concat()),
        list(&["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_spec_is_one_we_run() {
        let c = crate::runtime_spec::parse(super::DEFAULT_SPEC.as_bytes()).unwrap();
        assert_eq!(c.process.as_ref().unwrap().args, ["sh"]);
        let s = crate::spec_oci::from_bundle("x", std::path::Path::new("/b"), c).unwrap();
        assert_eq!(s.directory, std::path::PathBuf::from("/b/rootfs"));
    }

    #[test]
    fn features_is_json() {
        let text = super::features_json();
        let v = crate::json::parse(text.as_bytes()).unwrap();
        assert_eq!(v.get("ociVersionMax").and_then(|v| v.as_str()), Some("1.3.0"));
        assert!(text.contains("\"rbind\""));
        assert!(text.contains(r#""namespaces":["cgroup","ipc","mount","network","pid","time","user","uts"]"#));
    }
}
