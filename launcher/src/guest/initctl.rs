//! sysvinit's control FIFO: the `struct init_request` that telinit(8) and shutdown(8) write to
//! `/run/initctl` (`/dev/initctl` before sysvinit 2.95) to change the runlevel, written by the
//! launcher into the guest's own view of its root.

use crate::error::{Error, Result};
use crate::rootfs::{self, Follow};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::path::Path;

/// `INIT_MAGIC` of initreq.h.
const MAGIC: i32 = 0x0309_1969;
/// `INIT_CMD_RUNLVL`.
const CMD_RUNLEVEL: i32 = 1;
/// `sizeof(struct init_request)`: magic, cmd, runlevel, sleeptime, then a 368-byte union.
pub const REQUEST_SIZE: usize = 384;
/// Seconds between SIGTERM and SIGKILL when init leaves a runlevel (telinit's default).
const SLEEP_TIME: i32 = 3;
/// Where sysvinit listens, newest first.
const FIFOS: [&str; 2] = ["/run/initctl", "/dev/initctl"];

/// The request that switches to `runlevel` (`b'0'` halt/power off, `b'6'` reboot).
pub fn runlevel_request(runlevel: u8) -> [u8; REQUEST_SIZE] {
    let mut b = [0u8; REQUEST_SIZE];
    for (i, v) in [MAGIC, CMD_RUNLEVEL, runlevel as i32, SLEEP_TIME].into_iter().enumerate() {
        b[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
    }
    b
}

/// The guest's root as its PID 1 sees it (`/proc/PID/root`: its mount namespace, its `/run`).
pub fn open_guest_root(pid: i32) -> Result<OwnedFd> {
    let p = format!("/proc/{pid}/root");
    rustix::fs::open(p.as_str(), OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::sys("open", &p, e))
}

/// `/proc/self/fd/N` of `fd`.
pub fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Writes a runlevel request to the FIFO of the guest whose PID 1 is `pid`; the FIFO's path.
pub fn request_runlevel(pid: i32, runlevel: u8) -> Result<&'static str> {
    let root = open_guest_root(pid)?;
    let mut last = Error::msg("no initctl FIFO in the container");
    for fifo in FIFOS {
        match write_request(root.as_fd(), Path::new(fifo), &runlevel_request(runlevel)) {
            Ok(()) => return Ok(fifo),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The guest owns its tree: the path is resolved inside it, and only a FIFO is opened for
/// writing (never a device node the guest made), without blocking.
fn write_request(root: BorrowedFd<'_>, fifo: &Path, req: &[u8]) -> Result<()> {
    let fd = rootfs::open_path(root, fifo, Follow::InRoot).map_err(|e| Error::path("open", fifo, e))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat", fifo, e))?;
    if st.st_mode & 0o170000 != 0o010000 {
        return Err(Error::msg(format!("{} is not a FIFO", fifo.display())));
    }
    let w = rustix::fs::open(
        fd_path(fd.as_fd()).as_str(),
        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    // ENXIO: nobody reads the FIFO (not sysvinit, or it is not listening).
    .map_err(|e| Error::path("open", fifo, e))?;
    let n = rustix::io::write(&w, req).map_err(|e| Error::path("write", fifo, e))?;
    if n != req.len() {
        return Err(Error::msg(format!("write {}: short write", fifo.display())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout_is_sysvinits() {
        let r = runlevel_request(b'0');
        assert_eq!(r.len(), 384);
        assert_eq!(&r[0..4], &0x0309_1969i32.to_ne_bytes());
        assert_eq!(&r[4..8], &1i32.to_ne_bytes());
        assert_eq!(&r[8..12], &48i32.to_ne_bytes());
        assert_eq!(&r[12..16], &3i32.to_ne_bytes());
        assert!(r[16..].iter().all(|&b| b == 0));
        assert_eq!(&runlevel_request(b'6')[8..12], &54i32.to_ne_bytes());
    }

    #[test]
    fn only_a_fifo_is_written() {
        let dir = std::env::temp_dir().join(format!("spawnbox-initctl-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::write(dir.join("run/initctl"), b"").unwrap();
        let root = rustix::fs::open(&dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let e = write_request(root.as_fd(), Path::new("/run/initctl"), &runlevel_request(b'0')).unwrap_err();
        assert_eq!(e.to_string(), "/run/initctl is not a FIFO");
        std::fs::remove_file(dir.join("run/initctl")).unwrap();
        rustix::fs::mknodat(&root, "run/initctl", rustix::fs::FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        // Nobody listens: ENXIO, not a hang.
        let e = write_request(root.as_fd(), Path::new("/run/initctl"), &runlevel_request(b'0')).unwrap_err();
        assert_eq!(e.to_string(), "open /run/initctl: no such device or address");
        // A listener gets the 384 bytes.
        let rd = rustix::fs::open(dir.join("run/initctl"), OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty()).unwrap();
        write_request(root.as_fd(), Path::new("/run/initctl"), &runlevel_request(b'6')).unwrap();
        let mut buf = [0u8; 512];
        let n = rustix::io::read(&rd, &mut buf).unwrap();
        assert_eq!(&buf[..n], &runlevel_request(b'6')[..]);
        // A symlink out of the tree stays inside it.
        std::fs::remove_file(dir.join("run/initctl")).unwrap();
        std::os::unix::fs::symlink("/../../../../dev/null", dir.join("run/initctl")).unwrap();
        let e = write_request(root.as_fd(), Path::new("/run/initctl"), &runlevel_request(b'0')).unwrap_err();
        assert_eq!(e.to_string(), "open /run/initctl: no such file or directory");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
