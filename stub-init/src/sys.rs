//! The syscall seam: one thin function per kernel operation the init needs that rustix's
//! stable API does not cover (signal masks, sigtimedwait, fork, execve) plus a few helpers.
//! All unsafe code of the process-control path lives here.
//!
//! rustix keeps these in its (hash-named, libc-free) runtime module. They are raw syscalls;
//! musl is linked only for its crt1/`__libc_start_main`, and this program never uses musl's
//! threads, stdio or malloc, so bypassing libc for them is sound.
#![allow(unsafe_code)]

use crate::signals;
use core::ffi::{c_char, CStr};
use rustix::fd::{AsFd, AsRawFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, Signal};
use rustix::runtime_448b8ad740e2a26f as rt;

pub use rt::{KernelSigSet as SigSet, Timespec};

/// A received signal: number, origin code and sender.
#[derive(Clone, Copy, Debug)]
pub struct SigInfo {
    pub signo: i32,
    pub code: i32,
    pub pid: i32,
}

impl SigInfo {
    /// Sent by this very process (kill/tkill from us, or a side effect of our own syscalls
    /// such as SIGHUP+SIGCONT from TIOCNOTTY or SIGPIPE from a write). Those are not
    /// forwarded. SI_USER is 0 and SI_TKILL -6; kernel-generated signals have codes > 0.
    pub fn sent_by(&self, me: i32) -> bool {
        self.code <= 0 && self.pid == me
    }
}

/// A signal number as rustix's type.
fn signal(sig: i32) -> Signal {
    // SAFETY: callers pass 1..=64. Signal numbers libc reserves for itself are fine here:
    // this process never uses libc's threads.
    unsafe { Signal::from_raw_unchecked(sig) }
}

/// The set of signals PID 1 keeps blocked: everything except the synchronous ones.
pub fn init_sigset() -> SigSet {
    let mut set = SigSet::empty();
    for s in 1..=signals::SIGMAX {
        if signals::is_blocked(s) {
            set.insert(signal(s));
        }
    }
    set
}

/// Block `set` and return the previous mask ([rt_sigprocmask(2)]).
///
/// [rt_sigprocmask(2)]: https://man7.org/linux/man-pages/man2/sigprocmask.2.html
pub fn block(set: &SigSet) -> SigSet {
    // SAFETY: changes only this thread's mask; no libc signal machinery is in use.
    unsafe { rt::kernel_sigprocmask(rt::How::BLOCK, Some(set)) }.unwrap_or(SigSet::empty())
}

/// Replace the signal mask ([rt_sigprocmask(2)]).
///
/// [rt_sigprocmask(2)]: https://man7.org/linux/man-pages/man2/sigprocmask.2.html
pub fn set_mask(set: &SigSet) {
    // SAFETY: as in `block`.
    let _ = unsafe { rt::kernel_sigprocmask(rt::How::SETMASK, Some(set)) };
}

/// Reset every signal disposition to SIG_DFL ([rt_sigaction(2)]). Dispositions set to
/// SIG_IGN survive execve; the payload must not inherit them.
///
/// [rt_sigaction(2)]: https://man7.org/linux/man-pages/man2/sigaction.2.html
pub fn reset_dispositions() {
    for s in 1..=signals::SIGMAX {
        if s == signals::SIGKILL || s == signals::SIGSTOP {
            continue;
        }
        let act = rt::KernelSigaction { sa_handler_kernel: rt::KERNEL_SIG_DFL, ..Default::default() };
        // SAFETY: SIG_DFL needs no handler or restorer.
        let _ = unsafe { rt::kernel_sigaction(signal(s), Some(act)) };
    }
}

/// Wait for a signal in `set` ([rt_sigtimedwait(2)]); `Err(AGAIN)` when `timeout` passed.
///
/// [rt_sigtimedwait(2)]: https://man7.org/linux/man-pages/man2/sigtimedwait.2.html
pub fn wait_signal(set: &SigSet, timeout: Option<&Timespec>) -> Result<SigInfo, Errno> {
    // SAFETY: the signals in `set` are blocked, as sigtimedwait requires.
    let info = unsafe { rt::kernel_sigtimedwait(set, timeout) }?;
    // SAFETY: the kernel filled the common header; _kill's pid is where every sender-carrying
    // layout (kill, rt, sigchld) keeps the pid.
    let (signo, code, pid) = unsafe {
        let h = &info.__bindgen_anon_1.__bindgen_anon_1;
        (h.si_signo, h.si_code, h._sifields._kill._pid)
    };
    Ok(SigInfo { signo, code, pid })
}

/// The result of `fork`.
pub enum Forked {
    Child,
    Parent(Pid),
}

/// [fork(2)] without libc's atfork handlers (there are none: single thread, no libc state).
///
/// [fork(2)]: https://man7.org/linux/man-pages/man2/fork.2.html
pub fn fork() -> Result<Forked, Errno> {
    // SAFETY: single-threaded process; the child only makes raw syscalls and execs or exits.
    match unsafe { rt::kernel_fork() }? {
        rt::Fork::Child(_) => Ok(Forked::Child),
        rt::Fork::ParentOf(pid) => Ok(Forked::Parent(pid)),
    }
}

/// [execve(2)]; returns only on failure.
///
/// [execve(2)]: https://man7.org/linux/man-pages/man2/execve.2.html
pub fn execve(path: &CStr, argv: *const *const c_char, envp: *const *const c_char) -> Errno {
    // SAFETY: argv and envp are NULL-terminated arrays of C strings (see args::CArray).
    unsafe { rt::execve(path, argv.cast(), envp.cast()) }
}

/// End the process now ([exit_group(2)]).
///
/// [exit_group(2)]: https://man7.org/linux/man-pages/man2/exit_group.2.html
pub fn exit(code: i32) -> ! {
    rt::exit_group(code)
}

/// [kill(2)] one process.
///
/// [kill(2)]: https://man7.org/linux/man-pages/man2/kill.2.html
pub fn kill(pid: Pid, sig: i32) -> Result<(), Errno> {
    rustix::process::kill_process(pid, signal(sig))
}

/// `kill(-1, sig)`: every process we may signal except ourselves ([kill(2)]). Only ever
/// called as PID 1, where "every process" is the PID namespace (or the machine).
///
/// [kill(2)]: https://man7.org/linux/man-pages/man2/kill.2.html
pub fn kill_all(sig: i32) -> Result<(), Errno> {
    rustix::process::kill_process_group(Pid::INIT, signal(sig))
}

/// Whether a process with this PID exists (`kill(pid, 0)`; EPERM still means it exists).
pub fn pid_exists(pid: i32) -> bool {
    match Pid::from_raw(pid) {
        Some(p) => !matches!(rustix::process::test_kill_process(p), Err(Errno::SRCH)),
        None => false,
    }
}

/// Die by `sig` with its default action, so that our parent sees the same wait status as
/// from a PID namespace's init calling reboot(2). Used when we are not PID 1.
pub fn die_by_signal(sig: i32) -> ! {
    let act = rt::KernelSigaction { sa_handler_kernel: rt::KERNEL_SIG_DFL, ..Default::default() };
    // SAFETY: SIG_DFL needs no handler.
    let _ = unsafe { rt::kernel_sigaction(signal(sig), Some(act)) };
    let _ = rustix::process::kill_process(rustix::process::getpid(), signal(sig));
    let mut only = SigSet::empty();
    only.insert(signal(sig));
    // SAFETY: unblocking lets the pending signal kill us.
    let _ = unsafe { rt::kernel_sigprocmask(rt::How::UNBLOCK, Some(&only)) };
    exit(128 + sig)
}

/// Close every fd above 2 that we inherited ([close(2)]). The payload keeps its own copies
/// (it is forked before this), which is how fd passing such as LISTEN_FDS keeps working.
///
/// [close(2)]: https://man7.org/linux/man-pages/man2/close.2.html
pub fn close_inherited_fds() {
    if let Ok(dir) =
        rustix::fs::open(c"/proc/self/fd", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
    {
        let dirfd = dir.as_raw_fd();
        let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 1024];
        let mut entries = rustix::fs::RawDir::new(dir.as_fd(), &mut buf);
        // Closing entries while reading /proc/self/fd is safe: it is walked by fd number.
        while let Some(Ok(e)) = entries.next() {
            if let Some(fd) = parse_fd(e.file_name().to_bytes()) {
                if fd > 2 && fd != dirfd {
                    // SAFETY: we own every inherited fd and nothing else refers to it.
                    unsafe { rustix::io::close(fd) };
                }
            }
        }
        return;
    }
    // No /proc: close the usual range blindly.
    for fd in 3..1024 {
        // SAFETY: as above; closing an fd that is not open is harmless (EBADF).
        unsafe { rustix::io::close(fd) };
    }
}

fn parse_fd(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 9 {
        return None;
    }
    let mut n = 0i32;
    for &b in name {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i32::from(b - b'0');
    }
    Some(n)
}

/// fd 0. (rustix marks the stdio accessors unsafe without std because the fd might be
/// closed and reused; this program never closes 0, 1 or 2, and a missing one only makes
/// the syscalls fail with EBADF.)
// With rustix's `std` feature (unified in by the workspace's other crates in some builds)
// the accessors are safe: the block is needed only without it.
#[allow(unused_unsafe)]
pub fn stdin() -> rustix::fd::BorrowedFd<'static> {
    // SAFETY: see above.
    unsafe { rustix::stdio::stdin() }
}

/// fd 1 (see `stdin`).
#[allow(unused_unsafe)]
pub fn stdout() -> rustix::fd::BorrowedFd<'static> {
    // SAFETY: see `stdin`.
    unsafe { rustix::stdio::stdout() }
}

/// fd 2 (see `stdin`).
#[allow(unused_unsafe)]
pub fn stderr() -> rustix::fd::BorrowedFd<'static> {
    // SAFETY: see `stdin`.
    unsafe { rustix::stdio::stderr() }
}

/// Give up the controlling terminal ([TIOCNOTTY(2const)]).
///
/// [TIOCNOTTY(2const)]: https://man7.org/linux/man-pages/man2/TIOCNOTTY.2const.html
pub fn tiocnotty<Fd: AsFd>(fd: Fd) -> Result<(), Errno> {
    const TIOCNOTTY: rustix::ioctl::Opcode = linux_raw_sys::ioctl::TIOCNOTTY as rustix::ioctl::Opcode;
    // SAFETY: TIOCNOTTY takes no argument.
    unsafe { rustix::ioctl::ioctl(fd, rustix::ioctl::NoArg::<TIOCNOTTY>::new()) }
}

/// Read up to `buf.len()` bytes of a small file; returns the bytes read.
pub fn read_file<'b>(path: &CStr, buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY, Mode::empty())?;
    let mut len = 0;
    while len < buf.len() {
        let rest = buf.get_mut(len..).unwrap_or(&mut []);
        match rustix::io::read(&fd, rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(buf.get(..len).unwrap_or(b""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_names() {
        assert_eq!(parse_fd(b"0"), Some(0));
        assert_eq!(parse_fd(b"1023"), Some(1023));
        assert_eq!(parse_fd(b"."), None);
        assert_eq!(parse_fd(b".."), None);
        assert_eq!(parse_fd(b""), None);
    }

    #[test]
    fn own_signals_are_recognised() {
        let tiocnotty_hup = SigInfo { signo: 1, code: 0, pid: 1 };
        assert!(tiocnotty_hup.sent_by(1));
        let from_launcher = SigInfo { signo: 1, code: 0, pid: 0 };
        assert!(!from_launcher.sent_by(1));
        let kernel = SigInfo { signo: 2, code: 0x80, pid: 0 };
        assert!(!kernel.sent_by(1));
    }
}
