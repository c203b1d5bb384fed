//! Host facts that some property values depend on: RAM size, the system task limit, block
//! devices. A trait so tests inject fixed values; [`SystemHost`] reads `/proc` and `/sys`,
//! and only when a property needs it (no cost for the common case).

use super::hierarchy::io_error;
use crate::error::{Error, Result};
use rustix::fs::{major, minor, stat, FileType};
use std::path::Path;

/// What property resolution asks of the host.
pub trait Host {
    /// Physical memory in bytes (`MemTotal` of `/proc/meminfo`), for `Memory*=N%`.
    fn memory_total(&self) -> Result<u64>;
    /// The system's task limit, for `TasksMax=N%` (systemd's `system_tasks_max()`).
    fn tasks_max(&self) -> Result<u64>;
    /// `(major, minor)` of the whole disk behind `path`: the node itself for a block device,
    /// else the device of the file system holding `path`; partitions and single-slave
    /// device-mapper devices are followed to the disk (systemd's `lookup_block_device()`).
    fn block_device(&self, path: &Path) -> Result<(u32, u32)>;
}

/// The running system.
pub struct SystemHost;

/// systemd's `TASKS_MAX`: the kernel's pid limit on 64-bit (`PID_MAX_LIMIT` - 1).
const TASKS_MAX: u64 = 4_194_303;

impl Host for SystemHost {
    fn memory_total(&self) -> Result<u64> {
        let path = Path::new("/proc/meminfo");
        let text = std::fs::read_to_string(path).map_err(|e| io_error("read", path, &e))?;
        parse_meminfo(&text).ok_or_else(|| Error::msg("/proc/meminfo: no MemTotal line"))
    }

    fn tasks_max(&self) -> Result<u64> {
        let read = |p: &str| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
        let threads = read("/proc/sys/kernel/threads-max").unwrap_or(TASKS_MAX);
        // PID 0 is not a valid pid, so pid_max allows pid_max - 1 tasks.
        let pids = read("/proc/sys/kernel/pid_max").map_or(TASKS_MAX, |p| p.saturating_sub(1));
        Ok(TASKS_MAX.min(threads).min(pids))
    }

    fn block_device(&self, path: &Path) -> Result<(u32, u32)> {
        let st = stat(path).map_err(|e| Error::path("stat", path, e))?;
        let dev = match FileType::from_raw_mode(st.st_mode) {
            FileType::CharacterDevice => {
                return Err(Error::msg(format!("{} is a character device, a block device is needed", path.display())))
            }
            FileType::BlockDevice => st.st_rdev,
            _ if major(st.st_dev) != 0 => st.st_dev,
            _ => {
                return Err(Error::msg(format!(
                    "{} is not a block device node, and its file system is not on a local block device \
                     (give the disk's device node)",
                    path.display()
                )))
            }
        };
        Ok(whole_disk(originating((major(dev), minor(dev)))))
    }
}

/// `MemTotal:  24684112 kB` → bytes.
pub(crate) fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// `MAJ:MIN` text of a sysfs `dev` file.
fn read_dev(path: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(path).ok()?;
    let (a, b) = text.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Follows a device-mapper device with exactly one slave to that slave (dm-crypt, LVM linear
/// on one disk), a few levels at most.
fn originating(mut dev: (u32, u32)) -> (u32, u32) {
    for _ in 0..8 {
        let dir = format!("/sys/dev/block/{}:{}/slaves", dev.0, dev.1);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return dev;
        };
        let names: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        let [only] = names.as_slice() else { return dev };
        match read_dev(&format!("{dir}/{}/dev", only.to_string_lossy())) {
            Some(d) => dev = d,
            None => return dev,
        }
    }
    dev
}

/// A partition's disk: `io.max` only accepts whole disks.
fn whole_disk(dev: (u32, u32)) -> (u32, u32) {
    let base = format!("/sys/dev/block/{}:{}", dev.0, dev.1);
    if Path::new(&format!("{base}/partition")).exists() {
        // `..` after the sysfs symlink resolves physically: the disk's directory.
        if let Some(d) = read_dev(&format!("{base}/../dev")) {
            return d;
        }
    }
    dev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_total_in_bytes() {
        let text = "MemTotal:       24684112 kB\nMemFree:        24109808 kB\n";
        assert_eq!(parse_meminfo(text), Some(24_684_112 * 1024));
        assert_eq!(parse_meminfo("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn system_host_reads_proc() {
        assert!(SystemHost.memory_total().map(|m| m > 0).unwrap_or(false));
        let t = SystemHost.tasks_max().expect("tasks max");
        assert!(t > 0 && t <= TASKS_MAX);
    }

    #[test]
    fn block_device_errors() {
        let e = SystemHost.block_device(Path::new("/nonexistent/dev")).expect_err("absent");
        assert_eq!(e.to_string(), "stat /nonexistent/dev: no such file or directory");
        let e = SystemHost.block_device(Path::new("/dev/null")).expect_err("char device");
        assert_eq!(e.to_string(), "/dev/null is a character device, a block device is needed");
        let e = SystemHost.block_device(Path::new("/proc/self")).expect_err("procfs");
        assert!(e.to_string().starts_with("/proc/self is not a block device node"), "{e}");
    }
}
