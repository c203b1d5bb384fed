//! The syscall seam of the cgroup module: every kernel operation on cgroupfs, one thin method
//! each, building the error with the operation and path. `Cgroup` is written against the
//! trait so tests run it on a temp dir through a fake kernel (`fake.rs`).

use crate::error::{Error, Result};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{Gid, Mode, OFlags, Uid, XattrFlags};
use rustix::io::Errno;
use rustix::process::{kill_process, Pid, Signal};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Whether `e` was caused by one of `errnos`.
pub(crate) fn errno_is(e: &Error, errnos: &[Errno]) -> bool {
    e.errno().is_some_and(|n| errnos.iter().any(|x| x.raw_os_error() == n))
}

/// Marks directories spawnbox created, so any spawnbox may remove them once empty and none
/// removes a slice an administrator made. `trusted.*` needs CAP_SYS_ADMIN: the container
/// cannot forge it on its own subtree, and it is never consulted below the machine's cgroup.
const CREATED_XATTR: &str = "trusted.spawnbox.created";

/// Kernel operations on a cgroup2 tree.
pub(crate) trait Fs: Send + Sync {
    /// [mkdir(2)](https://man7.org/linux/man-pages/man2/mkdir.2.html) with mode 0755.
    fn mkdir(&self, dir: &Path) -> Result<()>;
    /// [rmdir(2)](https://man7.org/linux/man-pages/man2/rmdir.2.html).
    fn rmdir(&self, dir: &Path) -> Result<()>;
    /// Reads a whole (small) cgroup file.
    fn read(&self, file: &Path) -> Result<String>;
    /// Writes `value` to a cgroup file in one write(2), as cgroupfs requires.
    fn write(&self, file: &Path, value: &str) -> Result<()>;
    /// An `O_PATH|O_DIRECTORY` fd of a cgroup, for `clone3(CLONE_INTO_CGROUP)`.
    fn open_dir(&self, dir: &Path) -> Result<OwnedFd>;
    /// [chown(2)](https://man7.org/linux/man-pages/man2/chown.2.html).
    fn chown(&self, path: &Path, uid: u32, gid: u32) -> Result<()>;
    /// Marks `dir` as created by spawnbox (best effort).
    fn mark_created(&self, dir: &Path);
    /// Whether `dir` carries spawnbox's creation mark.
    fn is_marked(&self, dir: &Path) -> bool;
    /// SIGKILL to `pid`; a process already gone is not an error.
    fn kill(&self, pid: i32) -> Result<()>;
    /// The child cgroups of `dir` (only on the slow teardown paths).
    fn subdirs(&self, dir: &Path) -> Result<Vec<PathBuf>>;
    /// Waits until `dir/cgroup.events` says `populated 0`, at most `timeout`.
    fn wait_empty(&self, dir: &Path, timeout: Duration) -> Result<()>;
    /// The calling process's cgroup relative to the hierarchy root (`/proc/self/cgroup`), and
    /// its pid as `cgroup.procs` lists it; read only on the slow path of a busy cgroup.
    fn own_cgroup(&self) -> Option<(PathBuf, i32)>;
}

/// The real kernel.
pub(crate) struct RealFs;

impl Fs for RealFs {
    fn mkdir(&self, dir: &Path) -> Result<()> {
        rustix::fs::mkdir(dir, Mode::from_raw_mode(0o755)).map_err(|e| Error::path("mkdir", dir, e))
    }

    fn rmdir(&self, dir: &Path) -> Result<()> {
        rustix::fs::rmdir(dir).map_err(|e| Error::path("rmdir", dir, e))
    }

    fn read(&self, file: &Path) -> Result<String> {
        let fd = rustix::fs::open(file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("read", file, e))?;
        read_fd(&fd, file)
    }

    fn write(&self, file: &Path, value: &str) -> Result<()> {
        // O_NONBLOCK: memory.max/high then skip synchronous reclaim on kernels that support it
        // (as systemd's cg_set_attribute()); elsewhere it is ignored.
        let flags = OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let fd = rustix::fs::open(file, flags, Mode::empty()).map_err(|e| Error::path("write", file, e))?;
        let n = rustix::io::write(&fd, value.as_bytes()).map_err(|e| Error::path("write", file, e))?;
        if n != value.len() {
            return Err(Error::path("write", file, Errno::IO));
        }
        Ok(())
    }

    fn open_dir(&self, dir: &Path) -> Result<OwnedFd> {
        rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open", dir, e))
    }

    fn chown(&self, path: &Path, uid: u32, gid: u32) -> Result<()> {
        rustix::fs::chown(path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
            .map_err(|e| Error::path("chown", path, e))
    }

    fn mark_created(&self, dir: &Path) {
        // Without the mark only this process removes the directory again: acceptable.
        let _ = rustix::fs::setxattr(dir, CREATED_XATTR, b"1", XattrFlags::empty());
    }

    fn is_marked(&self, dir: &Path) -> bool {
        let mut buf = [0u8; 4];
        rustix::fs::getxattr(dir, CREATED_XATTR, &mut buf[..]).is_ok()
    }

    fn kill(&self, pid: i32) -> Result<()> {
        let Some(p) = Pid::from_raw(pid) else {
            return Ok(());
        };
        match kill_process(p, Signal::KILL) {
            Ok(()) | Err(Errno::SRCH) => Ok(()),
            Err(e) => Err(Error::sys("kill", pid, e)),
        }
    }

    fn subdirs(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let entries = std::fs::read_dir(dir).map_err(|e| super::hierarchy::io_error("read directory", dir, &e))?;
        Ok(entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect())
    }

    fn wait_empty(&self, dir: &Path, timeout: Duration) -> Result<()> {
        let file = dir.join("cgroup.events");
        let fd = rustix::fs::open(&file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("read", &file, e))?;
        let deadline = Instant::now() + timeout;
        loop {
            // Reading re-arms kernfs' notification; a change after this read wakes poll().
            let text = pread_fd(&fd, &file)?;
            if text.lines().any(|l| l == "populated 0") {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::msg(format!("{}: still populated after {} ms", dir.display(), timeout.as_millis())));
            }
            let ts = Timespec { tv_sec: left.as_secs() as _, tv_nsec: left.subsec_nanos() as _ };
            let mut fds = [PollFd::new(&fd, PollFlags::PRI)];
            match poll(&mut fds, Some(&ts)) {
                Ok(_) | Err(Errno::INTR) => {}
                // No notification support: a short bounded retry loop.
                Err(_) => std::thread::sleep(left.min(Duration::from_millis(1))),
            }
        }
    }

    fn own_cgroup(&self) -> Option<(PathBuf, i32)> {
        let own = super::read_own_cgroup().ok()?;
        Some((own, rustix::process::getpid().as_raw_nonzero().get()))
    }
}

fn read_fd(fd: &OwnedFd, file: &Path) -> Result<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(fd, &mut buf[..]) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::path("read", file, e)),
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn pread_fd(fd: &OwnedFd, file: &Path) -> Result<String> {
    let mut buf = [0u8; 256];
    let n = rustix::io::pread(fd, &mut buf[..], 0).map_err(|e| Error::path("read", file, e))?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}
