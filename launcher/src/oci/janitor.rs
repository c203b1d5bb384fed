//! A killed `create` leaves nothing: once the record's directory is made (the ID is this
//! create's), a watcher process waits on a pipe. `create` says "done" on every end it reaches
//! (success or its own cleaned-up failure) and reaps it; when `create` is killed (an engine's
//! timeout sends SIGKILL) the pipe closes unsaid and the watcher does what a failed create does:
//! the machine (PID 1, cgroups, network, registry record) torn down, the record removed.

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
    let (heard, said) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| Error::sys("create", "a pipe", e))?;
    match sys::clone_process(0, None).map_err(|e| Error::sys("fork", "the create's watcher", e))? {
        Forked::Child => {
            drop(said);
            // Nothing of the caller's: its stdio (conmon and the shim read to EOF) and signals
            // aimed at create's process group (a terminal's ^C ends create, not this).
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
                clean(id, dir);
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

/// A failed create's cleanup, for a create that cannot do it itself.
fn clean(id: &str, dir: &Path) {
    if let Ok(m) = Created::load(id) {
        let _ = m.kill(rustix::process::Signal::KILL);
        let _ = m.wait_exit(Duration::from_secs(5));
        let _ = m.teardown();
    }
    let _ = std::fs::remove_dir_all(dir);
}
