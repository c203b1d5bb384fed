//! A new pty of a running container's own devpts, opened from outside by a process that
//! joined it (`spawnctl shell`, `spawnbox-runc exec`): the master and its slave.

use crate::error::{Error, Result};
use crate::rootfs::{self, Follow};
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::fs::OFlags;
use std::path::Path;

/// A new pty of the machine's devpts (its `/dev/pts/ptmx`, else `/dev/ptmx`, resolved in its
/// root; it must be the pty multiplexer, 5:2, whatever the guest put there), and its slave,
/// opened from the master (TIOCGPTPEER: no path the guest could swap).
pub fn open_in(root: BorrowedFd<'_>, whose: &str) -> Result<(OwnedFd, OwnedFd)> {
    let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
    let mut last = rustix::io::Errno::NOENT;
    for p in ["/dev/pts/ptmx", "/dev/ptmx"] {
        let master = match rootfs::open_in_root(root, Path::new(p), flags, Follow::InRoot) {
            Ok(m) => m,
            Err(e) => {
                last = e;
                continue;
            }
        };
        let what = || format!("{p} of {whose}");
        let st = rustix::fs::fstat(&master).map_err(|e| Error::sys("stat", what(), e))?;
        let rdev = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
        if st.st_mode & 0o170000 != 0o020000 || rdev != (5, 2) {
            return Err(Error::msg(format!("{}: not the pty multiplexer (5:2)", what())));
        }
        rustix::pty::unlockpt(&master).map_err(|e| Error::sys("unlock", what(), e))?;
        let slave = rustix::pty::ioctl_tiocgptpeer(
            &master,
            rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY | rustix::pty::OpenptFlags::CLOEXEC,
        )
        .map_err(|e| Error::sys("open the pty peer of", what(), e))?;
        return Ok((master, slave));
    }
    Err(Error::sys("open", format!("/dev/pts/ptmx of {whose}"), last))
}

/// In a new process that joined a container: its own session, with `slave` (when there is a
/// pty) as its controlling terminal and its stdin, stdout and stderr. Without a pty too: a
/// session of its own leaves the caller's terminal out of reach (TIOCSTI needs it as the
/// controlling terminal).
pub fn become_session_leader(slave: Option<OwnedFd>) -> Result<()> {
    let _ = rustix::process::setsid();
    if let Some(slave) = slave {
        rustix::process::ioctl_tiocsctty(&slave)
            .map_err(|e| Error::sys("make", "the pty the controlling terminal", e))?;
        for dup in [rustix::stdio::dup2_stdin, rustix::stdio::dup2_stdout, rustix::stdio::dup2_stderr] {
            dup(&slave).map_err(|e| Error::sys("attach", "the pty", e))?;
        }
    }
    Ok(())
}
