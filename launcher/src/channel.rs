//! The launcher ↔ container-child channel: a SOCK_SEQPACKET pair carrying a few typed
//! messages (the console pty, the notify socket, "ready", "go", an error line, "uid map
//! written", "device program attached", "time namespace made"; for `spawnctl shell`, a pidfd of the process it
//! started), not numbered barriers.

use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{
    recvmsg, sendmsg, socketpair, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;

/// A message between the launcher and the container child.
#[derive(Debug)]
pub enum Msg {
    /// Child → launcher: the master side of the container's console.
    Pty(OwnedFd),
    /// Child → launcher: the container is set up and waits for [`Msg::Go`].
    Ready,
    /// Launcher → child: start the payload.
    Go,
    /// Launcher → child: whether the device program is now attached to the container's cgroup
    /// (the launcher attaches it while the child mounts; the child waits for this before it
    /// opens any file of the tree). Without it the child plans its capabilities without
    /// CAP_MKNOD, as the launcher did.
    Devices(bool),
    /// Launcher → plain child: the detached `/run` (with `/run/host`) it made while the child
    /// switched into the tree (`premade.rs`).
    Premade { run: OwnedFd },
    /// Launcher → plain child: the detached file systems it made after [`Msg::Premade`], in the
    /// order of `Prepared::premade_late` (`premade.rs`), while the child mounted `/proc`.
    PremadeLate(Vec<OwnedFd>),
    /// Child → launcher: setup or exec failed (message, errno and hint cross intact).
    Error(Error),
    /// Launcher → child: the user namespace's uid_map and gid_map are written (and the new
    /// time namespace's offsets, after [`Msg::TimeNamespace`]).
    Mapped,
    /// PID 1 of a user namespace → launcher: its new time namespace is made (not entered):
    /// the launcher writes its offsets, which PID 1 itself may not (see `child/time_ns.rs`).
    TimeNamespace,
    /// Outer child → launcher: the host pid of the container's PID 1, cloned into its user
    /// namespace (the outer child exits, the launcher adopts it as subreaper).
    Pid(i32),
    /// Child → launcher: the notify socket bound at `/run/host/notify`.
    Notify(OwnedFd),
    /// Joining child → spawnctl: a pidfd of the process it started in the machine.
    Pidfd(OwnedFd),
}

const TAG_PTY: u8 = 1;
const TAG_READY: u8 = 2;
const TAG_GO: u8 = 3;
const TAG_ERROR: u8 = 4;
const TAG_MAPPED: u8 = 5;
const TAG_PID: u8 = 6;
const TAG_NOTIFY: u8 = 7;
const TAG_PIDFD: u8 = 8;
const TAG_DEVICES: u8 = 9;
const TAG_PREMADE: u8 = 10;
const TAG_TIME_NAMESPACE: u8 = 11;
const TAG_PREMADE_LATE: u8 = 12;
/// Longest error line carried.
const MAX_MSG: usize = 4096;
/// Most descriptors in one message (`premade::LATE` has three).
pub const MAX_FDS: usize = 3;

/// One end of the channel.
pub struct Channel(OwnedFd);

impl Channel {
    /// A connected pair (close-on-exec, so a successful exec closes the child's end).
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)
            .map_err(|e| Error::sys("create", "socket pair", e))?;
        Ok((Channel(a), Channel(b)))
    }

    /// The socket, for poll(2).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// Sends `msg`.
    pub fn send(&self, msg: Msg) -> Result<()> {
        let r = match msg {
            Msg::Pty(fd) => self.send_fd(TAG_PTY, fd),
            Msg::Notify(fd) => self.send_fd(TAG_NOTIFY, fd),
            Msg::Pidfd(fd) => self.send_fd(TAG_PIDFD, fd),
            Msg::Premade { run } => self.send_fds(TAG_PREMADE, &[run.as_fd()]),
            Msg::PremadeLate(fds) => {
                let fds: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
                self.send_fds(TAG_PREMADE_LATE, &fds)
            }
            Msg::Ready => self.send_bytes(&[TAG_READY]),
            Msg::Go => self.send_bytes(&[TAG_GO]),
            Msg::Devices(attached) => self.send_bytes(&[TAG_DEVICES, u8::from(attached)]),
            Msg::Mapped => self.send_bytes(&[TAG_MAPPED]),
            Msg::TimeNamespace => self.send_bytes(&[TAG_TIME_NAMESPACE]),
            Msg::Pid(pid) => {
                let mut buf = vec![TAG_PID];
                buf.extend(pid.to_le_bytes());
                self.send_bytes(&buf)
            }
            Msg::Error(e) => {
                // TAG, errno (i32, 0: none), hint length (u16), hint, message.
                let hint = e.hint_text().unwrap_or("").as_bytes();
                let hint = &hint[..hint.len().min(MAX_MSG / 2)];
                let mut buf = vec![TAG_ERROR];
                buf.extend(e.errno().unwrap_or(0).to_le_bytes());
                buf.extend((hint.len() as u16).to_le_bytes());
                buf.extend(hint);
                buf.extend(e.message().as_bytes().iter().take(MAX_MSG - 7 - hint.len()));
                self.send_bytes(&buf)
            }
        };
        r.map(|_| ()).map_err(|e| Error::sys("send to", "container", e))
    }

    fn send_fd(&self, tag: u8, fd: OwnedFd) -> rustix::io::Result<usize> {
        self.send_fds(tag, &[fd.as_fd()])
    }

    /// `tag` with up to [`MAX_FDS`] descriptors.
    fn send_fds(&self, tag: u8, fds: &[BorrowedFd<'_>]) -> rustix::io::Result<usize> {
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut anc = SendAncillaryBuffer::new(&mut space);
        anc.push(SendAncillaryMessage::ScmRights(fds));
        sendmsg(&self.0, &[IoSlice::new(&[tag])], &mut anc, SendFlags::NOSIGNAL)
    }

    fn send_bytes(&self, b: &[u8]) -> rustix::io::Result<usize> {
        rustix::net::send(&self.0, b, SendFlags::NOSIGNAL)
    }

    /// Receives one message; `None` when the other end is closed.
    pub fn recv(&self) -> Result<Option<Msg>> {
        // On the stack: a heap buffer this size is an mmap and a munmap with musl's allocator.
        let mut buf = [0u8; MAX_MSG + 1];
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
        let mut anc = RecvAncillaryBuffer::new(&mut space);
        let mut reset_seen = false;
        let n = loop {
            match recvmsg(&self.0, &mut [IoSliceMut::new(&mut buf)], &mut anc, RecvFlags::CMSG_CLOEXEC) {
                Ok(r) => break r.bytes,
                Err(Errno::INTR) => {}
                // The other end closed with messages of ours unread (it gave up before reading
                // them): the kernel says so once, and what it sent before is still queued.
                Err(Errno::CONNRESET) if !reset_seen => reset_seen = true,
                Err(e) => return Err(Error::sys("receive from", "container", e)),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let mut got: Vec<OwnedFd> = Vec::new();
        for m in anc.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = m {
                got.extend(fds);
            }
        }
        if buf[0] == TAG_PREMADE_LATE {
            return Ok(Some(Msg::PremadeLate(got)));
        }
        let mut got = got.into_iter();
        let mut fd = || got.next().ok_or_else(|| Error::msg("container sent a message without its descriptor"));
        let msg = match buf[0] {
            TAG_PTY => Msg::Pty(fd()?),
            TAG_NOTIFY => Msg::Notify(fd()?),
            TAG_PIDFD => Msg::Pidfd(fd()?),
            TAG_PREMADE => Msg::Premade { run: fd()? },
            TAG_READY => Msg::Ready,
            TAG_GO => Msg::Go,
            TAG_DEVICES if n == 2 => Msg::Devices(buf[1] != 0),
            TAG_MAPPED => Msg::Mapped,
            TAG_TIME_NAMESPACE => Msg::TimeNamespace,
            TAG_PID if n == 5 => Msg::Pid(i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]])),
            TAG_ERROR if n >= 7 => Msg::Error(decode_error(&buf[1..n])),
            t => return Err(Error::msg(format!("unexpected message {t} from the container"))),
        };
        Ok(Some(msg))
    }
}

/// The payload of a `TAG_ERROR` message (see `send`).
fn decode_error(b: &[u8]) -> Error {
    let errno = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let hint_len = usize::from(u16::from_le_bytes([b[4], b[5]])).min(b.len() - 6);
    let hint = &b[6..6 + hint_len];
    let message = String::from_utf8_lossy(&b[6 + hint_len..]).into_owned();
    let hint = (!hint.is_empty()).then(|| String::from_utf8_lossy(hint).into_owned());
    Error::from_parts(message, (errno != 0).then_some(errno), hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let (a, b) = Channel::pair().unwrap();
        a.send(Msg::Ready).unwrap();
        let sent = Error::sys("mount proc on", "/x/proc", Errno::ACCESS).hint("run as root");
        a.send(Msg::Error(sent.clone())).unwrap();
        a.send(Msg::Error(Error::msg("no errno"))).unwrap();
        let (r, _w) = rustix::pipe::pipe().unwrap();
        a.send(Msg::Pty(r)).unwrap();
        assert!(matches!(b.recv().unwrap(), Some(Msg::Ready)));
        match b.recv().unwrap() {
            Some(Msg::Error(e)) => {
                assert_eq!(e, sent);
                assert_eq!(e.errno(), Some(libc::EACCES));
                assert_eq!(e.to_string(), "mount proc on /x/proc: permission denied\nhint: run as root");
            }
            other => panic!("{other:?}"),
        }
        match b.recv().unwrap() {
            Some(Msg::Error(e)) => assert_eq!((e.message(), e.errno(), e.hint_text()), ("no errno", None, None)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(b.recv().unwrap(), Some(Msg::Pty(_))));
        let me = rustix::process::pidfd_open(rustix::process::getpid(), rustix::process::PidfdFlags::empty()).unwrap();
        a.send(Msg::Pidfd(me)).unwrap();
        assert!(matches!(b.recv().unwrap(), Some(Msg::Pidfd(_))));
        // The late file systems: every descriptor, in order.
        let pipes: Vec<(OwnedFd, OwnedFd)> = (0..MAX_FDS).map(|_| rustix::pipe::pipe().unwrap()).collect();
        let inodes: Vec<u64> = pipes.iter().map(|(r, _)| rustix::fs::fstat(r).unwrap().st_ino).collect();
        a.send(Msg::PremadeLate(pipes.into_iter().map(|(r, _)| r).collect())).unwrap();
        match b.recv().unwrap() {
            Some(Msg::PremadeLate(fds)) => {
                assert_eq!(fds.iter().map(|f| rustix::fs::fstat(f).unwrap().st_ino).collect::<Vec<_>>(), inodes)
            }
            other => panic!("{other:?}"),
        }
        b.send(Msg::Go).unwrap();
        assert!(matches!(a.recv().unwrap(), Some(Msg::Go)));
        b.send(Msg::Devices(true)).unwrap();
        assert!(matches!(a.recv().unwrap(), Some(Msg::Devices(true))));
        b.send(Msg::Devices(false)).unwrap();
        assert!(matches!(a.recv().unwrap(), Some(Msg::Devices(false))));
        // /run's descriptor.
        let (r1, _w1) = rustix::pipe::pipe().unwrap();
        let ino = |fd: &OwnedFd| rustix::fs::fstat(fd).unwrap().st_ino;
        let i1 = ino(&r1);
        b.send(Msg::Premade { run: r1 }).unwrap();
        match a.recv().unwrap() {
            Some(Msg::Premade { run }) => assert_eq!(ino(&run), i1),
            other => panic!("{other:?}"),
        }
        b.send(Msg::Mapped).unwrap();
        assert!(matches!(a.recv().unwrap(), Some(Msg::Mapped)));
        a.send(Msg::TimeNamespace).unwrap();
        assert!(matches!(b.recv().unwrap(), Some(Msg::TimeNamespace)));
        a.send(Msg::Pid(4_194_303)).unwrap();
        assert!(matches!(b.recv().unwrap(), Some(Msg::Pid(4_194_303))));
        drop(a);
        assert!(b.recv().unwrap().is_none());
        // A child that fails before it reads "go": its error is still read after the reset.
        let (a, b) = Channel::pair().unwrap();
        b.send(Msg::Go).unwrap();
        a.send(Msg::Error(Error::msg("gave up"))).unwrap();
        drop(a);
        match b.recv().unwrap() {
            Some(Msg::Error(e)) => assert_eq!(e.message(), "gave up"),
            other => panic!("{other:?}"),
        }
        assert!(b.recv().unwrap().is_none());
    }
}
