//! Container mode: PID 1 of a PID namespace (systemd-nspawn's `--as-pid2` stub, catatonit's
//! discipline). Reap everything, forward signals to the payload, exit with its status, and
//! turn a shutdown request into reboot(2), which the kernel reports to the launcher as our
//! death by SIGINT (poweroff, halt) or SIGHUP (reboot).

use crate::deadline::Deadline;
use crate::mode::Mode;
use crate::out::Line;
use crate::reap::{self, Reaped};
use crate::signals::{self, Action, Request};
use crate::sys::{self, SigSet};
use rustix::io::Errno;
use rustix::process::Pid;
use rustix::system::RebootCommand;

/// A shutdown in progress: what was asked and when the grace period ends.
struct Stopping {
    request: Request,
    deadline: Deadline,
}

/// Supervise the running payload until it exits or a shutdown completes. Never returns and
/// never bails out: errors from here on are ignored or reported, not fatal.
pub fn supervise(payload: Pid, grace_secs: u32, pid1: bool, set: &SigSet) -> ! {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let mut stopping: Option<Stopping> = None;
    loop {
        // Reap before waiting: a SIGCHLD may stand for many children.
        loop {
            match reap::reap_one() {
                Reaped::Child { pid, status } if pid == payload => match &stopping {
                    Some(s) => finish(s.request, pid1),
                    None => sys::exit(status),
                },
                Reaped::Child { .. } => continue,
                Reaped::Running | Reaped::NoChildren => break,
            }
        }
        let timeout = stopping.as_ref().map(|s| s.deadline.remaining());
        match sys::wait_signal(set, timeout.as_ref()) {
            Ok(info) => match signals::classify(Mode::Container, info.signo) {
                Action::Shutdown(request) if stopping.is_none() => {
                    ask_to_stop(payload);
                    stopping = Some(Stopping { request, deadline: Deadline::after(grace_secs) });
                }
                Action::Forward if !info.sent_by(me) => {
                    let _ = sys::kill(payload, info.signo);
                }
                _ => {}
            },
            Err(Errno::AGAIN) => {
                if let Some(s) = &stopping {
                    kill_remaining(payload, pid1);
                    finish(s.request, pid1);
                }
            }
            Err(_) => {}
        }
    }
}

/// As nspawn's stub: SIGTERM (with SIGCONT in case it is stopped), then SIGHUP for shells,
/// which ignore SIGTERM.
fn ask_to_stop(payload: Pid) {
    let _ = sys::kill(payload, signals::SIGTERM);
    let _ = sys::kill(payload, signals::SIGCONT);
    let _ = sys::kill(payload, signals::SIGHUP);
}

/// The grace period is over.
fn kill_remaining(payload: Pid, pid1: bool) {
    if pid1 {
        // Everything in our PID namespace but us.
        let _ = sys::kill_all(signals::SIGKILL);
    } else {
        let _ = sys::kill(payload, signals::SIGKILL);
    }
}

/// End the container so that the launcher sees the request: reboot(2) in a PID namespace
/// kills its init with SIGHUP (RESTART) or SIGINT (POWER_OFF, HALT).
fn finish(request: Request, pid1: bool) -> ! {
    let sig = if request == Request::Reboot { signals::SIGHUP } else { signals::SIGINT };
    if !pid1 {
        // Not a namespace init: reboot(2) would act on the machine. Die by the same signal.
        sys::die_by_signal(sig);
    }
    let cmd = if request == Request::Reboot { RebootCommand::Restart } else { RebootCommand::PowerOff };
    if let Err(e) = rustix::system::reboot(cmd) {
        // No CAP_SYS_BOOT, or a seccomp filter: the next best thing is the shell encoding.
        Line::new().s(b"reboot(2): ").err(e).s(b"; exiting with 128+signal").emit();
    }
    sys::exit(128 + sig)
}
