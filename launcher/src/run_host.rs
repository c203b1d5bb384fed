//! `/run/host`: what the container may know about its host (os-release, the manager's name,
//! its UUID) and the inaccessible inodes used to mask files; read-only once filled.

use crate::error::{Error, Result};
use crate::rootfs::{self, Follow};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{mkdirat, mknodat, openat, FileType, Mode, OFlags};
use std::path::Path;

/// Where the masking inodes live.
pub const INACCESSIBLE: &str = "/run/host/inaccessible";

/// Fills `/run/host` in the fresh `/run` tmpfs (`run` is its mount).
pub fn populate(run: BorrowedFd<'_>, os_release: Option<&[u8]>, uuid: &str) -> Result<()> {
    let err = |op: &str, name: &str, e| Error::path(op, &Path::new("/run/host").join(name), e);
    mkdirat(run, "host", Mode::from_raw_mode(0o755)).map_err(|e| err("create", "", e))?;
    let host =
        openat(run, "host", OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| err("open", "", e))?;
    if let Some(text) = os_release {
        write_new(host.as_fd(), "os-release", text, 0o444).map_err(|e| err("write", "os-release", e))?;
    }
    write_new(host.as_fd(), "container-manager", b"spawnbox\n", 0o444)
        .map_err(|e| err("write", "container-manager", e))?;
    write_new(host.as_fd(), "container-uuid", format!("{uuid}\n").as_bytes(), 0o444)
        .map_err(|e| err("write", "container-uuid", e))?;
    mkdirat(&host, "inaccessible", Mode::from_raw_mode(0o755)).map_err(|e| err("create", "inaccessible", e))?;
    let dir = openat(
        &host,
        "inaccessible",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err("open", "inaccessible", e))?;
    let none = Mode::empty();
    write_new(dir.as_fd(), "reg", b"", 0).map_err(|e| err("create", "inaccessible/reg", e))?;
    mkdirat(&dir, "dir", none).map_err(|e| err("create", "inaccessible/dir", e))?;
    let nodes = [
        ("fifo", FileType::Fifo),
        ("sock", FileType::Socket),
        ("chr", FileType::CharacterDevice),
        ("blk", FileType::BlockDevice),
    ];
    for (name, ft) in nodes {
        mknodat(&dir, name, ft, none, 0).map_err(|e| err("create", &format!("inaccessible/{name}"), e))?;
    }
    Ok(())
}

/// Creates `name` under `dir` (which must not have it) with `content` and `mode`.
pub fn write_new(dir: BorrowedFd<'_>, name: &str, content: &[u8], mode: u32) -> rustix::io::Result<()> {
    let fd: OwnedFd = openat(
        dir,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    write_all(fd.as_fd(), content)
}

/// write(2) until everything is written.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> rustix::io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Opens `/run` of the container (a real directory) to fill it.
pub fn open_run(root: BorrowedFd<'_>) -> Result<OwnedFd> {
    rootfs::open_path(root, Path::new("/run"), Follow::Never).map_err(|e| Error::path("open", Path::new("/run"), e))
}
