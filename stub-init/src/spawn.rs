//! Start the payload as our child (PID 2 in a fresh namespace): own session, the console as
//! controlling terminal, the original signal mask, then exec with a PATH search.

use crate::exec;
use crate::out::Line;
use crate::sys::{self, Forked, SigSet};
use core::ffi::{c_char, CStr};
use rustix::io::Errno;
use rustix::process::Pid;

/// What to run.
pub struct Payload<'a> {
    pub file: &'a CStr,
    pub argv: *const *const c_char,
    pub envp: *const *const c_char,
    /// The search path for `file` (the payload's PATH, or the default).
    pub path: &'a [u8],
}

/// Fork and exec the payload. Dispositions must already be SIG_DFL (see
/// sys::reset_dispositions) and every signal blocked; the child restores `mask`.
pub fn spawn(payload: &Payload<'_>, mask: &SigSet) -> Result<Pid, Errno> {
    match sys::fork()? {
        Forked::Parent(pid) => Ok(pid),
        Forked::Child => exec_child(payload, mask),
    }
}

fn exec_child(payload: &Payload<'_>, mask: &SigSet) -> ! {
    // A new session, so that the payload can own the console and its process group gets
    // the terminal's job-control signals.
    let _ = rustix::process::setsid();
    let stdin = sys::stdin();
    if rustix::termios::isatty(stdin) {
        // Fails harmlessly when another session still owns the terminal.
        let _ = rustix::process::ioctl_tiocsctty(stdin);
    }
    sys::set_mask(mask);
    let e = exec::execvpe(payload.file, payload.argv, payload.envp, payload.path);
    Line::new().s(b"exec ").s(payload.file.to_bytes()).s(b": ").err(e).emit();
    sys::exit(exec::exit_code_for(e))
}
