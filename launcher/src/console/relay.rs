//! The caller's stdio for a process in a machine when there is no terminal (`spawnctl shell`
//! from a script): three pipes that the caller pumps — its stdin into the process, the
//! process's stdout and stderr out to its own — so that stdout and stderr stay apart and no
//! descriptor of the caller (a terminal, a host file that `/proc/self/fd/0` would reopen with
//! other modes, a socket) ever reaches the machine.

use crate::error::{Error, Result};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use rustix::io::Errno;

/// One end of a stream.
enum End<'a> {
    Caller(BorrowedFd<'a>),
    Own(OwnedFd),
    Closed,
}

impl End<'_> {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            End::Caller(fd) => Some(*fd),
            End::Own(fd) => Some(fd.as_fd()),
            End::Closed => None,
        }
    }
}

/// Bytes from one descriptor to another.
struct Stream<'a> {
    from: End<'a>,
    to: End<'a>,
    buf: Vec<u8>,
}

/// Most bytes read at once.
const CHUNK: usize = 64 * 1024;

impl Stream<'_> {
    /// Reads what `from` has; at its end (or an error) `from` is closed, and `to` too once
    /// everything read is written.
    fn fill(&mut self) {
        let Some(fd) = self.from.fd() else { return };
        let mut chunk = [0u8; CHUNK];
        match rustix::io::read(fd, &mut chunk) {
            Ok(n) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
            Err(Errno::AGAIN | Errno::INTR) => {}
            Ok(_) | Err(_) => {
                self.from = End::Closed;
                self.close_if_done();
            }
        }
    }

    /// Writes what can be written; a reader that went away ends the stream (the writer gets
    /// EPIPE or SIGPIPE once `from` is closed).
    fn flush(&mut self) {
        let Some(fd) = self.to.fd() else { return self.buf.clear() };
        match rustix::io::write(fd, &self.buf) {
            Ok(n) => {
                self.buf.drain(..n);
            }
            Err(Errno::AGAIN | Errno::INTR) => {}
            Err(_) => {
                self.buf.clear();
                self.from = End::Closed;
                self.to = End::Closed;
            }
        }
        self.close_if_done();
    }

    fn close_if_done(&mut self) {
        if self.buf.is_empty() && matches!(self.from, End::Closed) {
            self.to = End::Closed;
        }
    }
}

/// The three streams between the caller's stdio and a process's pipes.
pub struct Relay<'a> {
    streams: [Stream<'a>; 3],
}

fn nonblocking(fd: &OwnedFd) -> Result<()> {
    let fl = fcntl_getfl(fd).map_err(|e| Error::sys("get flags of", "pipe", e))?;
    fcntl_setfl(fd, fl | OFlags::NONBLOCK).map_err(|e| Error::sys("set flags of", "pipe", e))
}

/// A pipe, both ends close-on-exec and above the stdio numbers (a caller started with a closed
/// stdin must not get its pipe there: dup2 onto 0 would then close it).
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| Error::sys("create", "pipe", e))?;
    let lift = |fd: OwnedFd| -> Result<OwnedFd> {
        if std::os::fd::AsRawFd::as_raw_fd(&fd) > 2 {
            return Ok(fd);
        }
        rustix::io::fcntl_dupfd_cloexec(&fd, 3).map_err(|e| Error::sys("duplicate", "pipe", e))
    };
    Ok((lift(r)?, lift(w)?))
}

impl<'a> Relay<'a> {
    /// Pipes between the caller's `stdio` (stdin, stdout, stderr) and a process; returns the
    /// relay and the process's ends (its stdin, stdout, stderr: blocking, close-on-exec).
    pub fn new(stdio: [BorrowedFd<'a>; 3]) -> Result<(Relay<'a>, [OwnedFd; 3])> {
        let (in_r, in_w) = pipe()?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        for fd in [&in_w, &out_r, &err_r] {
            nonblocking(fd)?;
        }
        let [stdin, stdout, stderr] = stdio;
        let stream = |from, to| Stream { from, to, buf: Vec::new() };
        let streams = [
            stream(End::Caller(stdin), End::Own(in_w)),
            stream(End::Own(out_r), End::Caller(stdout)),
            stream(End::Own(err_r), End::Caller(stderr)),
        ];
        Ok((Relay { streams }, [in_r, out_w, err_w]))
    }

    /// Waits (for ever) until one of `extra` is readable or a stream can move, moves what can
    /// be moved, and says which of `extra` are readable (or hung up).
    pub fn wait(&mut self, extra: &[BorrowedFd<'_>]) -> Result<Vec<bool>> {
        let mut fds: Vec<PollFd<'_>> = extra.iter().map(|fd| PollFd::from_borrowed_fd(*fd, PollFlags::IN)).collect();
        let mut polled = Vec::new();
        for (i, s) in self.streams.iter().enumerate() {
            let (fd, flags) = if s.buf.is_empty() { (s.from.fd(), PollFlags::IN) } else { (s.to.fd(), PollFlags::OUT) };
            if let Some(fd) = fd {
                fds.push(PollFd::from_borrowed_fd(fd, flags));
                polled.push(i);
            }
        }
        match poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(Error::sys("wait for", "stdio", e)),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        for (k, i) in polled.into_iter().enumerate() {
            if ready[extra.len() + k] {
                let s = &mut self.streams[i];
                if s.buf.is_empty() {
                    s.fill();
                }
                if !s.buf.is_empty() {
                    s.flush();
                }
            }
        }
        Ok(ready[..extra.len()].to_vec())
    }

    /// After the process ended: moves what is left in its stdout and stderr pipes (without
    /// waiting for their end: a process it left behind may hold them), then closes them.
    pub fn drain(&mut self) {
        for s in &mut self.streams[1..] {
            loop {
                if let Some(to) = s.to.fd() {
                    let _ = crate::run_host::write_all(to, &s.buf);
                }
                s.buf.clear();
                let Some(from) = s.from.fd() else { break };
                let mut chunk = [0u8; CHUNK];
                match rustix::io::read(from, &mut chunk) {
                    Ok(n) if n > 0 => s.buf.extend_from_slice(&chunk[..n]),
                    // Empty (EAGAIN), at its end, or broken.
                    _ => break,
                }
            }
            s.from = End::Closed;
            s.to = End::Closed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(fd: &OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = rustix::io::read(fd, &mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    /// A pipe that is always readable: `wait` returns at once.
    fn tick() -> (OwnedFd, OwnedFd) {
        let (r, w) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&w, b"t").unwrap();
        (r, w)
    }

    #[test]
    fn moves_all_three_streams_apart() {
        let (stdin_r, stdin_w) = rustix::pipe::pipe().unwrap();
        let (stdout_r, stdout_w) = rustix::pipe::pipe().unwrap();
        let (stderr_r, stderr_w) = rustix::pipe::pipe().unwrap();
        rustix::io::write(&stdin_w, b"typed").unwrap();
        drop(stdin_w);
        let (mut relay, [p_in, p_out, p_err]) =
            Relay::new([stdin_r.as_fd(), stdout_w.as_fd(), stderr_w.as_fd()]).unwrap();
        rustix::io::write(&p_err, b"oops").unwrap();
        let (t, _tw) = tick();
        for _ in 0..10 {
            assert_eq!(relay.wait(&[t.as_fd()]).unwrap(), [true]);
        }
        // The end of stdin reached the process: its pipe is closed.
        assert_eq!(read_all(&p_in), b"typed");
        rustix::io::write(&p_out, b"typed back").unwrap();
        drop((p_in, p_out, p_err));
        relay.drain();
        drop(relay);
        drop((stdout_w, stderr_w));
        assert_eq!(read_all(&stdout_r), b"typed back");
        assert_eq!(read_all(&stderr_r), b"oops");
    }

    #[test]
    fn a_reader_gone_ends_the_stream() {
        let (stdin_r, _stdin_w) = rustix::pipe::pipe().unwrap();
        let (stdout_r, stdout_w) = rustix::pipe::pipe().unwrap();
        let (_stderr_r, stderr_w) = rustix::pipe::pipe().unwrap();
        let (mut relay, [_p_in, p_out, _p_err]) =
            Relay::new([stdin_r.as_fd(), stdout_w.as_fd(), stderr_w.as_fd()]).unwrap();
        drop(stdout_r);
        let (t, _tw) = tick();
        // Until the relay has met EPIPE on stdout and closed its end of the process's stdout.
        let mut n = 0;
        while rustix::io::write(&p_out, b"x").is_ok() {
            assert_eq!(relay.wait(&[t.as_fd()]).unwrap(), [true]);
            n += 1;
            assert!(n < 100, "the relay kept the pipe open");
        }
    }
}
