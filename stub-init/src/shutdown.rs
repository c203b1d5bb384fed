//! Host-mode shutdown: SIGTERM to every process, a grace period, SIGKILL, sync, unmount (or
//! remount read-only) every file system, then the real reboot(2).

use crate::deadline::Deadline;
use crate::mountinfo;
use crate::out::Line;
use crate::reap::{self, Reaped};
use crate::signals::{self, Request};
use crate::sys::{self, SigSet};
use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};
use rustix::system::RebootCommand;

/// How long SIGKILLed processes get to disappear (they may be in uninterruptible sleep).
const KILL_WAIT_SECS: u32 = 5;

fn line(request: Request) -> Line {
    Line::new().s(request.name()).s(b": ")
}

/// Shut the machine down. Never returns: if reboot(2) fails, keep reaping forever (PID 1
/// must not exit).
pub fn run(request: Request, grace_secs: u32, set: &SigSet) -> ! {
    line(request).s(b"sending SIGTERM to all processes").emit();
    let _ = sys::kill_all(signals::SIGTERM);
    let _ = sys::kill_all(signals::SIGCONT);
    if !wait_for_all(&Deadline::after(grace_secs), set) {
        line(request).s(b"sending SIGKILL to all processes").emit();
        let _ = sys::kill_all(signals::SIGKILL);
        wait_for_all(&Deadline::after(KILL_WAIT_SECS), set);
    }
    rustix::fs::sync();
    if is_machine_init() {
        unmount_all();
        rustix::fs::sync();
    } else {
        // --host in a PID namespace (tests): the mounts are shared with a real machine, and
        // remounting them read-only would change the host's superblocks.
        line(request).s(b"not the machine's init, leaving file systems alone").emit();
    }
    let (cmd, what): (RebootCommand, &[u8]) = match request {
        Request::Halt => (RebootCommand::Halt, b"halting system"),
        Request::Poweroff => (RebootCommand::PowerOff, b"powering off"),
        Request::Reboot => (RebootCommand::Restart, b"restarting system"),
    };
    line(request).s(what).emit();
    if let Err(e) = rustix::system::reboot(cmd) {
        line(request).s(b"reboot(2): ").err(e).emit();
    }
    loop {
        while let Reaped::Child { .. } = reap::reap_one() {}
        let _ = sys::wait_signal(set, None);
    }
}

/// Reap until no child is left (true) or the deadline passes (false).
fn wait_for_all(deadline: &Deadline, set: &SigSet) -> bool {
    loop {
        loop {
            match reap::reap_one() {
                Reaped::Child { .. } => continue,
                Reaped::NoChildren => return true,
                Reaped::Running => break,
            }
        }
        if let Err(Errno::AGAIN) = sys::wait_signal(set, Some(&deadline.remaining())) {
            return false;
        }
    }
}

/// The initial PID namespace has the fixed inode number PROC_PID_INIT_INO. This holds
/// whichever /proc is mounted: /proc/self/ns/pid always names our own namespace.
const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;

fn is_machine_init() -> bool {
    rustix::fs::stat(c"/proc/self/ns/pid").is_ok_and(|st| is_initial_pid_ns(st.st_ino))
}

/// Whether a pid namespace inode is the machine's.
pub fn is_initial_pid_ns(ino: u64) -> bool {
    ino == PROC_PID_INIT_INO
}

/// Unmount every file system with backing store, newest first; several passes because a
/// mount can hide or pin another. What stays busy (the root, above all) is remounted
/// read-only.
fn unmount_all() {
    let mut text = [0u8; 32 * 1024];
    let mut path = [0u8; 4096];
    for _pass in 0..4 {
        let Ok(info) = sys::read_file(c"/proc/self/mountinfo", &mut text) else {
            return;
        };
        let mut progress = false;
        for m in mountinfo::entries_rev(info) {
            if mountinfo::is_virtual(m.fstype) || m.point == b"/" {
                continue;
            }
            if let Some(p) = mountinfo::unescape(m.point, &mut path) {
                if rustix::mount::unmount(p, UnmountFlags::empty()).is_ok() {
                    progress = true;
                }
            }
        }
        if !progress {
            break;
        }
    }
    let Ok(info) = sys::read_file(c"/proc/self/mountinfo", &mut text) else {
        return;
    };
    for m in mountinfo::entries_rev(info) {
        if mountinfo::is_virtual(m.fstype) {
            continue;
        }
        if let Some(p) = mountinfo::unescape(m.point, &mut path) {
            if let Err(e) = rustix::mount::mount_remount(p, MountFlags::RDONLY, c"") {
                Line::new().s(b"remount ").s(p.to_bytes()).s(b" read-only: ").err(e).emit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_pid_namespace() {
        // readlink /proc/1/ns/pid on any machine: pid:[4026531836]
        assert!(is_initial_pid_ns(4_026_531_836));
        assert!(!is_initial_pid_ns(4_026_532_001));
    }
}
