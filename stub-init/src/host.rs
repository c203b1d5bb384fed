//! Host mode: PID 1 of a machine (initramfs, embedded board). Mount the API file systems,
//! set the hostname, bring up lo, run the rc command, then reap until asked to shut down.
//!
//! When the rc command exits, the init keeps reaping and waits for a request, as busybox
//! init does for a `once` entry: the rc script ends the machine with `poweroff`, `reboot` or
//! `halt` (ours or busybox's), and Ctrl-Alt-Del reboots.

use crate::args::{self, CArray};
use crate::exec::DEFAULT_PATH;
use crate::mode::Mode;
use crate::out::Line;
use crate::reap::{self, Reaped};
use crate::signals::{self, Action};
use crate::spawn::{self, Payload};
use crate::sys::{self, SigSet};
use crate::{net, shutdown};
use core::ffi::{c_char, CStr};
use rustix::fs::Mode as FileMode;
use rustix::mount::MountFlags;
use rustix::process::Pid;

/// `PATH=` added to the rc command's environment when the kernel gave none.
pub const DEFAULT_PATH_ENV: &CStr = c"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The rc script run when no command is given.
pub const DEFAULT_RC: &CStr = c"/etc/spawnbox-init.rc";

/// An API file system, mounted unless something is mounted there already.
struct ApiMount {
    target: &'static CStr,
    parent: &'static CStr,
    fstype: &'static CStr,
    flags: MountFlags,
    data: &'static CStr,
}

fn api_mounts() -> [ApiMount; 6] {
    let nosuid_nodev = MountFlags::NOSUID | MountFlags::NODEV;
    let strict = nosuid_nodev | MountFlags::NOEXEC;
    [
        ApiMount { target: c"/proc", parent: c"/", fstype: c"proc", flags: strict, data: c"" },
        ApiMount { target: c"/sys", parent: c"/", fstype: c"sysfs", flags: strict, data: c"" },
        ApiMount { target: c"/dev", parent: c"/", fstype: c"devtmpfs", flags: MountFlags::NOSUID, data: c"mode=0755" },
        ApiMount {
            target: c"/dev/pts",
            parent: c"/dev",
            fstype: c"devpts",
            flags: MountFlags::NOSUID | MountFlags::NOEXEC,
            data: c"gid=5,mode=0620,ptmxmode=0666",
        },
        ApiMount { target: c"/dev/shm", parent: c"/dev", fstype: c"tmpfs", flags: nosuid_nodev, data: c"mode=1777" },
        ApiMount { target: c"/run", parent: c"/", fstype: c"tmpfs", flags: nosuid_nodev, data: c"mode=0755" },
    ]
}

/// Something is mounted on `target` when it is on another device than its parent.
fn is_mountpoint(target: &CStr, parent: &CStr) -> bool {
    match (rustix::fs::stat(target), rustix::fs::stat(parent)) {
        (Ok(t), Ok(p)) => t.st_dev != p.st_dev,
        _ => false,
    }
}

fn mount_api_filesystems() {
    for m in api_mounts() {
        if is_mountpoint(m.target, m.parent) {
            continue;
        }
        let _ = rustix::fs::mkdir(m.target, FileMode::from_raw_mode(0o755));
        if let Err(e) = rustix::mount::mount(m.fstype, m.target, m.fstype, m.flags, m.data) {
            Line::new().s(b"mount ").s(m.fstype.to_bytes()).s(b" on ").s(m.target.to_bytes()).s(b": ").err(e).emit();
        }
    }
}

/// Without /dev/console in the initramfs the kernel starts init with no stdio: open the
/// console once devtmpfs is there.
fn ensure_console() {
    if rustix::io::fcntl_getfd(sys::stdin()).is_ok() {
        return;
    }
    use rustix::fs::OFlags;
    if let Ok(fd) = rustix::fs::open(c"/dev/console", OFlags::RDWR | OFlags::NOCTTY, FileMode::empty()) {
        let _ = rustix::stdio::dup2_stdin(&fd);
        let _ = rustix::stdio::dup2_stdout(&fd);
        let _ = rustix::stdio::dup2_stderr(&fd);
        // `fd` is closed on drop unless it already is 0, 1 or 2.
        if matches!(rustix::fd::AsRawFd::as_raw_fd(&fd), 0..=2) {
            core::mem::forget(fd);
        }
    }
}

/// The host name in /etc/hostname: the first line that is not empty or a comment.
pub fn parse_hostname(text: &[u8]) -> Option<&[u8]> {
    text.split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty() && !l.starts_with(b"#"))
        .filter(|l| l.len() <= 64)
}

fn set_hostname() {
    let mut buf = [0u8; 256];
    let Ok(text) = sys::read_file(c"/etc/hostname", &mut buf) else {
        return;
    };
    if let Some(name) = parse_hostname(text) {
        if let Err(e) = rustix::system::sethostname(name) {
            Line::new().s(b"sethostname ").s(name).s(b": ").err(e).emit();
        }
    }
}

/// Everything before the rc command starts.
fn prepare() {
    // Ctrl-Alt-Del becomes a SIGINT to us instead of an immediate reboot.
    let _ = rustix::system::reboot(rustix::system::RebootCommand::CadOff);
    mount_api_filesystems();
    ensure_console();
    set_hostname();
    if let Err(e) = net::loopback_up() {
        Line::new().s(b"bring up lo: ").err(e).emit();
    }
}

/// Run host mode. `command` is the index of COMMAND in argv (else the default rc script).
pub fn run(command: Option<usize>, grace_secs: u32, argv: CArray, envp: CArray, set: &SigSet, mask: &SigSet) -> ! {
    prepare();

    // The kernel's environment (HOME, TERM, words with '=' from its command line) plus PATH;
    // the kernel passes at most 32 variables.
    let mut env: heapless::Vec<*const c_char, 64> = heapless::Vec::new();
    for e in (0..envp.len()).filter_map(|i| envp.get(i)).take(62) {
        let _ = env.push(e.as_ptr());
    }
    let path = args::lookup(envp.iter(), b"PATH");
    if path.is_none() {
        let _ = env.push(DEFAULT_PATH_ENV.as_ptr());
    }
    let _ = env.push(core::ptr::null());

    let default_argv: [*const c_char; 3] = [c"/bin/sh".as_ptr(), DEFAULT_RC.as_ptr(), core::ptr::null()];
    let (file, argvp) = match command.and_then(|i| Some((argv.get(i)?, argv.tail_ptr(i)))) {
        Some(c) => c,
        None => (c"/bin/sh", default_argv.as_ptr()),
    };
    let payload = Payload { file, argv: argvp, envp: env.as_ptr(), path: path.unwrap_or(DEFAULT_PATH) };
    let pid = match spawn::spawn(&payload, mask) {
        Ok(pid) => Some(pid),
        Err(e) => {
            Line::new().s(b"fork: ").err(e).emit();
            None
        }
    };
    sys::close_inherited_fds();
    supervise(pid, grace_secs, set)
}

/// Reap until a shutdown request arrives; other signals mean nothing to a machine's init.
fn supervise(mut payload: Option<Pid>, grace_secs: u32, set: &SigSet) -> ! {
    loop {
        loop {
            match reap::reap_one() {
                Reaped::Child { pid, status } if Some(pid) == payload => {
                    payload = None;
                    Line::new()
                        .s(b"rc command exited with status ")
                        .n(i64::from(status))
                        .s(b"; waiting for poweroff, reboot or halt")
                        .emit();
                }
                Reaped::Child { .. } => continue,
                Reaped::Running | Reaped::NoChildren => break,
            }
        }
        if let Ok(info) = sys::wait_signal(set, None) {
            if let Action::Shutdown(request) = signals::classify(Mode::Host, info.signo) {
                shutdown::run(request, grace_secs, set);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_file() {
        assert_eq!(parse_hostname(b"box\n"), Some(&b"box"[..]));
        assert_eq!(parse_hostname(b"# comment\n\n  board-7 \n"), Some(&b"board-7"[..]));
        assert_eq!(parse_hostname(b""), None);
        assert_eq!(parse_hostname(&[b'h'; 65]), None);
    }

    #[test]
    fn default_path_matches() {
        assert_eq!(DEFAULT_PATH_ENV.to_bytes().strip_prefix(b"PATH="), Some(DEFAULT_PATH));
    }
}
