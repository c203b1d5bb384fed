//! runc's console socket protocol: the pty master sent over the caller's unix socket
//! (`--console-socket`) by SCM_RIGHTS, with the pty's name as the message bytes; conmon and
//! containerd's shim then own the terminal. The window size of `process.consoleSize` is set
//! first.

use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::net::{
    sendmsg, AddressFamily, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix, SocketFlags,
    SocketType,
};
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::path::Path;

/// Sends `master` to the socket at `path`.
pub fn send(path: &Path, master: OwnedFd, size: Option<(u32, u32)>) -> Result<()> {
    let sock = connect(path)?;
    send_on(sock.as_fd(), master, size).map_err(|e| e.context(format!("console socket {}", path.display())))
}

/// Connects to the console socket at `path` (before a process leaves the host's root).
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let sock = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .map_err(|e| Error::sys("create", "console socket", e))?;
    let addr = SocketAddrUnix::new(path).map_err(|e| Error::path("name", path, e))?;
    rustix::net::connect(&sock, &addr).map_err(|e| Error::path("connect to console socket", path, e))?;
    Ok(sock)
}

/// Sends `master` (its window size set first) on the connected socket `sock`.
pub fn send_on(sock: BorrowedFd<'_>, master: OwnedFd, size: Option<(u32, u32)>) -> Result<()> {
    if let Some((height, width)) = size {
        let ws = rustix::termios::Winsize { ws_row: height as u16, ws_col: width as u16, ws_xpixel: 0, ws_ypixel: 0 };
        rustix::termios::tcsetwinsize(&master, ws).map_err(|e| Error::sys("set window size of", "the console", e))?;
    }
    let name = rustix::pty::ptsname(&master, Vec::new()).map(|n| n.to_bytes().to_vec()).unwrap_or_default();
    let fds = [master.as_fd()];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut anc = SendAncillaryBuffer::new(&mut space);
    anc.push(SendAncillaryMessage::ScmRights(&fds));
    let body: &[u8] = if name.is_empty() { b"console" } else { &name };
    sendmsg(sock, &[IoSlice::new(body)], &mut anc, SendFlags::NOSIGNAL)
        .map_err(|e| Error::sys("send", "the console", e))?;
    Ok(())
}
