//! Running spawnbox: a command builder, a handle on the running launcher (its output so far,
//! signals, the container's PID 1) and the collected result. Every wait has a deadline; on
//! timeout the launcher is SIGKILLed (its container dies with it) and the test fails.

use super::host::children_of;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fd::{AsFd, OwnedFd};
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default bound on one spawnbox run.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How to run spawnbox.
pub struct Cmd {
    program: Option<std::path::PathBuf>,
    wrapper: Option<String>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    terminal: Option<OwnedFd>,
    timeout: Duration,
}

impl Default for Cmd {
    fn default() -> Self {
        Self::new()
    }
}

impl Cmd {
    /// `spawnbox` with no arguments and an empty environment.
    pub fn new() -> Cmd {
        Cmd {
            program: None,
            wrapper: None,
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            terminal: None,
            timeout: TIMEOUT,
        }
    }

    pub fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(&mut self, a: &[S]) -> &mut Cmd {
        for x in a {
            self.arg(x);
        }
        self
    }

    /// Sets a variable in spawnbox's (otherwise empty) environment.
    pub fn env(&mut self, k: &str, v: &str) -> &mut Cmd {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Bytes fed to spawnbox's stdin (then closed); default: /dev/null.
    pub fn stdin(&mut self, data: &[u8]) -> &mut Cmd {
        self.stdin = Some(data.to_vec());
        self
    }

    /// Runs spawnbox on `tty` (stdin, stdout and stderr) as its controlling terminal, in a
    /// session of its own.
    pub fn terminal(&mut self, tty: OwnedFd) -> &mut Cmd {
        self.terminal = Some(tty);
        self
    }

    /// Runs `program` instead of spawnbox (a container engine that starts spawnbox itself),
    /// with the same deadline, terminal and output handling.
    pub fn program(&mut self, program: impl AsRef<std::path::Path>) -> &mut Cmd {
        self.program = Some(program.as_ref().to_owned());
        self
    }

    /// Runs spawnbox through `unshare -m --propagation private /bin/sh -c SETUP` in a private
    /// mount namespace of its own, so SETUP can mount things the host never sees.
    pub fn in_private_mount_ns(&mut self, setup: &str) -> &mut Cmd {
        self.wrapper = Some(setup.to_string());
        self
    }

    pub fn timeout(&mut self, t: Duration) -> &mut Cmd {
        self.timeout = t;
        self
    }

    /// The program (`program()`'s, else spawnbox), the arguments and the environment: for a
    /// caller that runs the command its own way (the engine harness's cleanup).
    pub fn parts(&self) -> (std::path::PathBuf, &[OsString], &[(OsString, OsString)]) {
        let p = self.program.clone().unwrap_or_else(|| super::spawnbox_bin().to_path_buf());
        (p, &self.args, &self.env)
    }

    fn describe(&self) -> String {
        let mut s = self.program.as_ref().map_or("spawnbox".to_string(), |p| p.display().to_string());
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Starts spawnbox.
    pub fn spawn(&mut self) -> Running {
        let bin = match &self.program {
            Some(p) => p.as_path(),
            None => super::spawnbox_bin(),
        };
        let mut c = match &self.wrapper {
            None => Command::new(bin),
            Some(setup) => {
                let mut c = Command::new("unshare");
                c.args(["-m", "--propagation", "private", "/bin/sh", "-c"])
                    .arg(format!("set -e\n{setup}\nexec \"$@\""))
                    .arg("sh")
                    .arg(bin);
                c
            }
        };
        c.args(&self.args).env_clear();
        for (k, v) in &self.env {
            c.env(k, v);
        }
        if self.wrapper.is_some() {
            c.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        }
        let piped = self.terminal.is_none();
        if let Some(tty) = self.terminal.take() {
            c.stdin(Stdio::from(tty.try_clone().unwrap()))
                .stdout(Stdio::from(tty.try_clone().unwrap()))
                .stderr(Stdio::from(tty));
            // SAFETY: setsid and ioctl are async-signal-safe; nothing is allocated.
            unsafe {
                c.pre_exec(|| {
                    rustix::process::setsid()?;
                    rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())?;
                    Ok(())
                });
            }
        } else {
            c.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        }
        let mut child = c.spawn().unwrap_or_else(|e| panic!("start {}: {e}", self.describe()));
        if let (Some(data), Some(mut w)) = (self.stdin.clone(), child.stdin.take()) {
            std::thread::spawn(move || {
                let _ = w.write_all(&data);
            });
        }
        let (tx, done) = channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = 0;
        if piped {
            for (pipe, buf) in [
                (child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>), stdout.clone()),
                (child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>), stderr.clone()),
            ] {
                let Some(mut pipe) = pipe else { continue };
                let tx = tx.clone();
                readers += 1;
                std::thread::spawn(move || {
                    let mut chunk = [0u8; 8192];
                    loop {
                        match pipe.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.lock().unwrap().extend_from_slice(&chunk[..n]),
                        }
                    }
                    let _ = tx.send(());
                });
            }
        }
        let pid = child.id() as i32;
        let pidfd = pidfd_open(Pid::from_raw(pid).unwrap(), PidfdFlags::empty()).expect("pidfd_open");
        Running {
            child,
            pidfd,
            stdout,
            stderr,
            done,
            readers,
            deadline: Instant::now() + self.timeout,
            desc: self.describe(),
        }
    }

    /// Runs spawnbox to its end.
    pub fn run(&mut self) -> Output {
        self.spawn().wait()
    }
}

/// A running spawnbox.
pub struct Running {
    child: Child,
    pidfd: OwnedFd,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    done: Receiver<()>,
    readers: usize,
    deadline: Instant,
    desc: String,
}

impl Running {
    /// spawnbox's host PID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// What spawnbox wrote to stdout so far.
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    /// Waits until stdout contains `needle` (fails the test after `within`).
    pub fn wait_for_stdout(&mut self, needle: &str, within: Duration) {
        let ok = super::wait_until(within, || self.stdout_so_far().contains(needle) || self.exited());
        if !ok || !self.stdout_so_far().contains(needle) {
            self.kill(Signal::KILL);
            let out = self.wait();
            panic!("{needle:?} did not appear on stdout within {within:?}: {out:?}");
        }
    }

    fn exited(&self) -> bool {
        let mut fds = [PollFd::new(&self.pidfd, PollFlags::IN)];
        let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
        poll(&mut fds, Some(&zero)).unwrap_or(0) > 0
    }

    /// Sends `sig` to spawnbox.
    pub fn kill(&self, sig: Signal) {
        let _ = pidfd_send_signal(self.pidfd.as_fd(), sig);
    }

    /// The host PID of the container's PID 1 (spawnbox's child), waiting for it to exist.
    pub fn container_pid1(&self) -> i32 {
        let mut found = None;
        super::wait_until(Duration::from_secs(10), || {
            found = children_of(self.pid()).first().copied();
            found.is_some()
        });
        found.unwrap_or_else(|| panic!("spawnbox {} has no child (container PID 1)", self.pid()))
    }

    /// Waits for spawnbox to exit (SIGKILL and fail at the deadline) and collects its output.
    pub fn wait(&mut self) -> Output {
        let mut timed_out = false;
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                timed_out = true;
                self.kill(Signal::KILL);
                break;
            }
            let ts = Timespec { tv_sec: left.as_secs() as i64, tv_nsec: left.subsec_nanos() as i64 };
            let mut fds = [PollFd::new(&self.pidfd, PollFlags::IN)];
            match poll(&mut fds, Some(&ts)) {
                Ok(n) if n > 0 => break,
                _ => {}
            }
        }
        let status = self.child.wait().expect("wait for spawnbox");
        // Output pipes close when the last container process is gone.
        let pipes_deadline = Instant::now() + Duration::from_secs(10);
        let mut closed = 0;
        while closed < self.readers {
            let left = pipes_deadline.saturating_duration_since(Instant::now());
            match self.done.recv_timeout(left) {
                Ok(()) => closed += 1,
                Err(_) => break,
            }
        }
        let out = Output {
            desc: self.desc.clone(),
            code: status.code(),
            signal: status.signal(),
            stdout: String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned(),
        };
        assert!(!timed_out, "spawnbox did not exit within its deadline (killed): {out:?}");
        assert!(
            closed == self.readers,
            "spawnbox exited but its stdout/stderr stayed open for 10 s: a process was left behind: {out:?}"
        );
        out
    }
}

/// How a spawnbox run ended.
pub struct Output {
    pub desc: String,
    /// Exit status, if it exited.
    pub code: Option<i32>,
    /// The signal that killed spawnbox itself, if any.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n  command: {}\n  status: code {:?} signal {:?}\n  stdout: {:?}\n  stderr: {:?}\n",
            self.desc, self.code, self.signal, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// Asserts exit status 0 and an empty stderr; returns stdout.
    pub fn ok(&self) -> &str {
        assert!(self.code == Some(0) && self.stderr.is_empty(), "expected success with empty stderr: {self:?}");
        &self.stdout
    }

    /// Asserts the exit status; returns stdout.
    pub fn code(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "unexpected exit status: {self:?}");
        &self.stdout
    }

    /// Asserts that spawnbox failed with exactly `spawnbox: MSG` and status 1, printing nothing
    /// on stdout.
    pub fn error(&self, msg: &str) {
        assert_eq!(self.code, Some(1), "expected exit status 1: {self:?}");
        assert_eq!(self.stderr, format!("spawnbox: {msg}\n"), "unexpected error message: {self:?}");
        assert_eq!(self.stdout, "", "unexpected output: {self:?}");
    }
}
