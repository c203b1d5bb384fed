//! A killed `create` leaves nothing: once the record's directory is made (the ID is this
//! create's), a watcher process waits on a pipe. `create` says "done" on every end it reaches
//! (success or its own cleaned-up failure) and reaps it; when `create` is killed (an engine's
//! timeout sends SIGKILL) the pipe closes unsaid and the watcher does what a failed create does:
//! the machine (PID 1, cgroups, network, registry record) torn down, the record removed. Only
//! what this create made: the machine whose record names it as creator, the record directory
//! it made (the same inode: an engine's `delete --force` and a new `create` of the ID may have
//! come first).

use crate::error::{Error, Result};
use crate::machine::Created;
use crate::sys::{self, Forked};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::process::{Pid, WaitOptions};
use std::path::Path;
use std::time::Duration;

/// The watcher, from `create`'s side.
pub struct Janitor {
    said: OwnedFd,
    pid: i32,
}

/// Forks the watcher of `id`'s create, whose record is `dir`.
pub fn watch(id: &str, dir: &Path) -> Result<Janitor> {
    let made = rustix::fs::stat(dir).map_err(|e| Error::path("stat", dir, e))?;
    let creator = std::process::id() as i32;
    let (heard, said) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| Error::sys("create", "a pipe", e))?;
    match sys::clone_process(0, None).map_err(|e| Error::sys("fork", "the create's watcher", e))? {
        Forked::Child => {
            drop(said);
            // Nothing of the caller's: its stdio (conmon and the shim read to EOF), its session
            // and process group (a kill of the group, a terminal's ^C, end create, not this).
            let _ = rustix::process::setsid();
            sys::close_all_except(&[heard.as_raw_fd()]);
            if let Ok(null) = rustix::fs::open("/dev/null", rustix::fs::OFlags::RDWR, rustix::fs::Mode::empty()) {
                let _ = rustix::stdio::dup2_stdin(&null);
                let _ = rustix::stdio::dup2_stdout(&null);
                let _ = rustix::stdio::dup2_stderr(&null);
            }
            let _ = sys::set_signal_mask(&sys::SigSet::of(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT]));
            let mut b = [0u8; 1];
            let done = loop {
                match rustix::io::read(heard.as_fd(), &mut b) {
                    Ok(n) => break n == 1,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(_) => break false,
                }
            };
            if !done {
                clean(id, dir, creator, (made.st_dev, made.st_ino));
            }
            sys::exit_now(0)
        }
        Forked::Parent { pid } => Ok(Janitor { said, pid }),
    }
}

impl Janitor {
    /// `create` reached an end of its own: the watcher exits, reaped here.
    pub fn done(self) {
        let _ = rustix::io::write(self.said.as_fd(), b"d");
        drop(self.said);
        if let Some(pid) = Pid::from_raw(self.pid) {
            let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
        }
    }
}

/// A failed create's cleanup, for a create (`creator`) that cannot do it itself; `made` is the
/// record directory's (device, inode).
fn clean(id: &str, dir: &Path, creator: i32, made: (u64, u64)) {
    if let Some(m) = Created::load(id).ok().filter(|m| m.creator() == creator) {
        let _ = m.kill(rustix::process::Signal::KILL);
        let _ = m.wait_exit(Duration::from_secs(5));
        let _ = m.teardown();
    }
    if rustix::fs::stat(dir).is_ok_and(|st| (st.st_dev, st.st_ino) == made) {
        let _ = std::fs::remove_dir_all(dir);
    }
}
