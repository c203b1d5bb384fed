//! The notify socket nspawn gives every container at `/run/host/notify` (`$NOTIFY_SOCKET`):
//! an sd_notify(3) datagram socket whose READY=1, STATUS= and STOPPING=1 from the guest's PID 1
//! the launcher reads; and the launcher's own READY=1 to whoever started it with a
//! `$NOTIFY_SOCKET` (a service manager, a test, the bench).

use crate::error::{Error, Result};
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendFlags, SocketAddrUnix, SocketFlags,
    SocketType,
};
use std::io::IoSliceMut;
use std::mem::MaybeUninit;

/// Where the guest finds the socket, and the value of its `$NOTIFY_SOCKET`.
pub const PATH: &str = crate::env::NOTIFY_SOCKET;

/// Binds the socket at `host/notify` below the container's `/run` (`run`, a descriptor), with
/// nspawn's mode 0200 (only PID 1, as root, is meant to write), owned by the container's root
/// (`owner`, a host uid, with a user namespace).
pub fn bind(run: BorrowedFd<'_>, owner: Option<u32>) -> Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(|e| Error::sys("create", "notify socket", e))?;
    let at = format!("/proc/self/fd/{}/host/notify", run.as_raw_fd());
    let addr = SocketAddrUnix::new(at.as_str()).map_err(|e| Error::sys("bind", PATH, e))?;
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o577));
    let bound = rustix::net::bind(&fd, &addr);
    rustix::process::umask(old);
    bound.map_err(|e| Error::sys("bind", PATH, e))?;
    if let Some(uid) = owner {
        let id = Some(rustix::process::Uid::from_raw(uid));
        rustix::fs::chownat(
            run,
            "host/notify",
            id,
            Some(rustix::process::Gid::from_raw(uid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| Error::sys("change owner of", PATH, e))?;
    }
    rustix::net::sockopt::set_socket_passcred(&fd, true).map_err(|e| Error::sys("set SO_PASSCRED on", PATH, e))?;
    Ok(fd)
}

/// What a notification said, in the order of its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Ready,
    Status(String),
    Stopping,
}

/// The known assignments of one datagram (`KEY=VALUE` lines; others are ignored, as nspawn).
pub fn parse(text: &str) -> Vec<Note> {
    text.lines()
        .filter_map(|l| match l.split_once('=') {
            Some(("READY", "1")) => Some(Note::Ready),
            Some(("STOPPING", "1")) => Some(Note::Stopping),
            Some(("STATUS", s)) => Some(Note::Status(s.to_string())),
            _ => None,
        })
        .collect()
}

/// Reads every datagram waiting on `fd`; keeps those sent by `pid1` (the container's PID 1, as
/// the host sees it), as nspawn drops anything else.
pub fn receive(fd: BorrowedFd<'_>, pid1: i32) -> Vec<Note> {
    let mut notes = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
        let mut anc = RecvAncillaryBuffer::new(&mut space);
        let n = match rustix::net::recvmsg(fd, &mut [IoSliceMut::new(&mut buf)], &mut anc, RecvFlags::DONTWAIT) {
            Ok(r) => r.bytes,
            Err(Errno::INTR) => continue,
            Err(_) => break,
        };
        let sender = anc.drain().find_map(|m| match m {
            RecvAncillaryMessage::ScmCredentials(c) => Some(c.pid.as_raw_nonzero().get()),
            _ => None,
        });
        if sender != Some(pid1) {
            log::debug!("notification from process {sender:?}, not the container's PID 1: ignored");
            continue;
        }
        let text = String::from_utf8_lossy(&buf[..n]);
        log::debug!("got sd_notify() message: {}", text.trim_end().replace('\n', " "));
        notes.extend(parse(&text));
    }
    notes
}

/// Sends `text` to the socket named by the launcher's own `$NOTIFY_SOCKET` (a path, or `@name`
/// for the abstract namespace); nothing when it is not set.
pub fn tell_manager(text: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let path = path.to_string_lossy().into_owned();
    let addr = match path.strip_prefix('@') {
        Some(name) => SocketAddrUnix::new_abstract_name(name.as_bytes()),
        None => SocketAddrUnix::new(path.as_str()),
    };
    let Ok(addr) = addr else { return };
    let Ok(fd) = rustix::net::socket_with(AddressFamily::UNIX, SocketType::DGRAM, SocketFlags::CLOEXEC, None) else {
        return;
    };
    if let Err(e) = rustix::net::sendto(&fd, text.as_bytes(), SendFlags::NOSIGNAL, &addr) {
        log::debug!("notify {path}: {}", crate::error::errno_text(e.raw_os_error()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fd::AsFd;

    #[test]
    fn parses_what_systemd_sends() {
        assert_eq!(
            parse("READY=1\nSTATUS=Startup finished in 412ms.\nX_SYSTEMD_UNIT_ACTIVE=basic.target\n"),
            vec![Note::Ready, Note::Status("Startup finished in 412ms.".into())]
        );
        assert_eq!(parse("STOPPING=1"), vec![Note::Stopping]);
        assert_eq!(parse("READY=0\nMAINPID=7\nnonsense"), vec![]);
    }

    #[test]
    fn only_pid1_is_heard() {
        let dir = std::env::temp_dir().join(format!("spawnbox-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run =
            rustix::fs::open(&dir, rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty())
                .unwrap();
        std::fs::create_dir(dir.join("host")).unwrap();
        let sock = bind(run.as_fd(), None).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.join("host/notify")).unwrap().permissions().mode() & 0o777, 0o200);
        let client = rustix::net::socket(AddressFamily::UNIX, SocketType::DGRAM, None).unwrap();
        let to = SocketAddrUnix::new(dir.join("host/notify")).unwrap();
        rustix::net::sendto(&client, b"READY=1\nSTATUS=up", SendFlags::empty(), &to).unwrap();
        let me = rustix::process::getpid().as_raw_nonzero().get();
        assert_eq!(receive(sock.as_fd(), me), vec![Note::Ready, Note::Status("up".into())]);
        rustix::net::sendto(&client, b"READY=1", SendFlags::empty(), &to).unwrap();
        assert_eq!(receive(sock.as_fd(), me + 1), vec![]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
