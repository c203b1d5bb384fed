//! Reaping children: every process that ends up ours (the payload, and every orphan the
//! kernel reparents to PID 1) is collected here.

use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions, WaitStatus};

/// The outcome of one non-blocking wait.
pub enum Reaped {
    /// A child ended with this shell-style status (exit code, or 128 + signal).
    Child { pid: Pid, status: i32 },
    /// Children exist, none has ended.
    Running,
    /// We have no children left.
    NoChildren,
}

/// The shell's encoding of a wait status: the exit code, or 128 + the terminating signal.
/// `raw` is the status word of wait(2).
pub fn status_code(raw: i32) -> i32 {
    let sig = raw & 0x7f;
    if sig == 0 {
        (raw >> 8) & 0xff // WIFEXITED: WEXITSTATUS
    } else if sig != 0x7f {
        128 + sig // WIFSIGNALED: WTERMSIG
    } else {
        255 // stopped: not requested, cannot happen
    }
}

/// Collect one ended child, if any ([waitpid(2)] with WNOHANG|__WALL, so that children
/// with an unusual exit signal are reaped too).
///
/// [waitpid(2)]: https://man7.org/linux/man-pages/man2/waitpid.2.html
pub fn reap_one() -> Reaped {
    let opts = WaitOptions::NOHANG | WaitOptions::from_bits_retain(linux_raw_sys::general::__WALL);
    loop {
        return match rustix::process::wait(opts) {
            Ok(Some((pid, st))) => Reaped::Child { pid, status: status_code(WaitStatus::as_raw(st)) },
            Ok(None) => Reaped::Running,
            Err(Errno::CHILD) => Reaped::NoChildren,
            Err(Errno::INTR) => continue,
            Err(_) => Reaped::Running,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_status_encoding() {
        assert_eq!(status_code(7 << 8), 7);
        assert_eq!(status_code(255 << 8), 255);
        assert_eq!(status_code(15), 143);
        assert_eq!(status_code(9 | 0x80), 137); // killed, core dumped
    }
}
