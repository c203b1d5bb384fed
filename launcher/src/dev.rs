//! The container's `/dev`: the safe device nodes nspawn copies from the host, the standard
//! links, and the console pty allocated in the container's own devpts instance and bound on
//! `/dev/console`.

use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{mkdirat, mknodat, openat, symlinkat, FileType, Mode, OFlags};
use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};
use std::path::Path;

/// (name, major, minor) of the character devices every container gets, mode 0666.
pub const NODES: [(&str, u32, u32); 6] =
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

/// (link, target) created in `/dev`.
pub const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Directories that later mounts need.
const DIRS: [&str; 4] = ["pts", "shm", "mqueue", "char"];

/// (path below /dev, major, minor) of the nodes nspawn copies only when the host has them and
/// they can be opened for reading and writing (the device policy allows them too).
pub const OPTIONAL: [(&str, u32, u32); 2] = [("fuse", 10, 229), ("net/tun", 10, 200)];

/// An optional node as found on the host: its path below /dev, device numbers and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNode {
    pub name: &'static str,
    pub major: u32,
    pub minor: u32,
    pub mode: u32,
}

/// The [`OPTIONAL`] nodes the host has, as they are there (read by the launcher, which still
/// sees the host's /dev).
pub fn host_optional_nodes() -> Vec<HostNode> {
    OPTIONAL
        .iter()
        .filter_map(|&(name, major, minor)| {
            let path = Path::new("/dev").join(name);
            let fd = openat(
                rustix::fs::CWD,
                &path,
                OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
                Mode::empty(),
            )
            .ok()?;
            let st = rustix::fs::fstat(&fd).ok()?;
            let same = st.st_mode & 0o170000 == 0o020000
                && rustix::fs::major(st.st_rdev) == major
                && rustix::fs::minor(st.st_rdev) == minor;
            same.then_some(HostNode { name, major, minor, mode: st.st_mode & 0o7777 })
        })
        .collect()
}

fn err(op: &str, name: &str, e: rustix::io::Errno) -> Error {
    Error::path(op, &Path::new("/dev").join(name), e)
}

/// Fills the fresh `/dev` tmpfs (`dev` is its mount), with `optional`, the host's nodes of
/// [`OPTIONAL`].
pub fn populate(dev: BorrowedFd<'_>, optional: &[HostNode]) -> Result<()> {
    for d in DIRS {
        mkdirat(dev, d, Mode::from_raw_mode(0o755)).map_err(|e| err("create", d, e))?;
    }
    for (name, major, minor) in NODES {
        mknodat(dev, name, FileType::CharacterDevice, Mode::from_raw_mode(0o666), crate::sys::makedev(major, minor))
            .map_err(|e| err("create device node", name, e))?;
        let link = format!("char/{major}:{minor}");
        symlinkat(format!("../{name}"), dev, link.as_str()).map_err(|e| err("create symlink", &link, e))?;
    }
    for (name, target) in LINKS {
        symlinkat(target, dev, name).map_err(|e| err("create symlink", name, e))?;
    }
    for n in optional {
        if let Some((parent, _)) = n.name.split_once('/') {
            match mkdirat(dev, parent, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(err("create", parent, e)),
            }
        }
        let dev_t = crate::sys::makedev(n.major, n.minor);
        mknodat(dev, n.name, FileType::CharacterDevice, Mode::from_raw_mode(n.mode), dev_t)
            .map_err(|e| err("create device node", n.name, e))?;
        let link = format!("char/{}:{}", n.major, n.minor);
        symlinkat(format!("../{}", n.name), dev, link.as_str()).map_err(|e| err("create symlink", &link, e))?;
    }
    Ok(())
}

/// The container's console: a pty pair from the container's devpts.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Allocates a pty in the container's devpts (`/dev/pts`), makes `/dev/console` that pty (as
/// nspawn does: an empty file with the slave bind-mounted on it, so that `/dev/console` is a
/// character device whatever a guest does to resolve it), and gives it the caller's window size.
pub fn allocate_console(dev: BorrowedFd<'_>, winsize_from: Option<BorrowedFd<'_>>) -> Result<Pty> {
    let master =
        openat(dev, "pts/ptmx", OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
            .map_err(|e| err("open", "pts/ptmx", e))?;
    rustix::pty::unlockpt(&master).map_err(|e| err("unlock", "pts/ptmx", e))?;
    let slave =
        rustix::pty::ioctl_tiocgptpeer(&master, rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY)
            .map_err(|e| err("open pty peer of", "pts/ptmx", e))?;
    let name = rustix::pty::ptsname(&master, Vec::new()).map_err(|e| err("name", "pts/ptmx", e))?;
    let name = name.to_string_lossy();
    let pts = name.strip_prefix("/dev/").unwrap_or(&name).to_string();
    // The slave of this devpts instance, by the name the kernel gave it under our /dev.
    let tree = open_tree(dev, pts.as_str(), OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC)
        .map_err(|e| err("clone mount", &pts, e))?;
    let target = openat(
        dev,
        "console",
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| err("create", "console", e))?;
    move_mount(
        &tree,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| err("bind console onto", "console", e))?;
    if let Some(ws) = winsize_from.and_then(|fd| rustix::termios::tcgetwinsize(fd).ok()) {
        let _ = rustix::termios::tcsetwinsize(master.as_fd(), ws);
    }
    Ok(Pty { master, slave })
}
