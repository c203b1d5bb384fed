//! `spawnctl shell [[USER@]NAME [COMMAND...]]` and `spawnctl login NAME`: a process started
//! inside a running machine, as machinectl starts one, without machined or anything in the
//! guest. Three processes:
//!
//! ```text
//! spawnctl ── forwards its terminal (pty) or pumps its stdio (pipes); exit status
//!   └─ joiner (caller's PID namespace): enters the machine (machine/join.rs), looks the user
//!      │  up in the machine's passwd, opens the pty in the machine's devpts and sends the
//!      │  master back, waits for the payload and exits with its status
//!      └─ payload (the machine's PID namespace): session, the machine's bounding set and
//!         seccomp filter, the user's credentials, non-dumpable, descriptors closed, execve
//! ```
//!
//! With a terminal on stdin (and always for `login`) the payload gets a new pty of the
//! machine's devpts as its controlling terminal; without one, three pipes (`console/relay.rs`).
//! Either way no descriptor of spawnctl reaches the machine.

use super::args::Options;
use crate::channel::{Channel, Msg};
use crate::console::relay::Relay;
use crate::console::{Console, Request as Hotkey};
use crate::error::{Error, Result};
use crate::machine::join::Join;
use crate::machine::registry;
use crate::rootfs::{self, Follow};
use crate::settings::ConsoleMode;
use crate::sys::{self, Forked, SigSet};
use crate::user::{self, UserInfo};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};
use rustix::termios::Winsize;
use std::convert::Infallible;
use std::ffi::CString;
use std::path::Path;

/// What runs in the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The user's login shell.
    Shell,
    /// A command, by absolute path, with its arguments (machinectl's rule).
    Command(Vec<String>),
    /// The guest's own `/bin/login`, as root.
    Login,
}

/// One `shell` or `login`, from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub machine: String,
    pub user: String,
    pub payload: Payload,
    /// `-E` assignments.
    pub setenv: Vec<String>,
}

/// Signals spawnctl takes through its signalfd while a payload runs; all but SIGCHLD and
/// SIGWINCH are passed on to the payload.
const HANDLED: [i32; 6] = [libc::SIGCHLD, libc::SIGWINCH, libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The logins a guest may have.
const LOGINS: [&str; 2] = ["/bin/login", "/usr/bin/login"];

/// `shell [[USER@]NAME [COMMAND...]]` as machinectl reads it (NAME defaults to `.host`).
pub fn parse_shell(o: &Options, operands: &[String]) -> Result<Request> {
    let (first, command) = match operands.split_first() {
        Some((f, rest)) => (f.as_str(), rest),
        None => (".host", &[][..]),
    };
    let (user, machine) = match first.split_once('@') {
        Some((u, m)) => ((!u.is_empty()).then_some(u), if m.is_empty() { ".host" } else { m }),
        None => (None, first),
    };
    if user.is_some() && o.uid.is_some() {
        return Err(Error::msg("shell: --uid= and USER@NAME both name a user"));
    }
    let payload = match command.first() {
        None => Payload::Shell,
        Some(p) if p.starts_with('/') => Payload::Command(command.to_vec()),
        Some(p) => return Err(Error::msg(format!("shell: \"{p}\": the command must be an absolute path"))),
    };
    let user = user.or(o.uid.as_deref()).unwrap_or("root").to_string();
    request(machine, user, payload, o)
}

/// `login [NAME]`.
pub fn parse_login(o: &Options, operands: &[String]) -> Result<Request> {
    let machine = operands.first().map_or(".host", String::as_str);
    request(machine, "root".into(), Payload::Login, o)
}

fn request(machine: &str, user: String, payload: Payload, o: &Options) -> Result<Request> {
    if machine == ".host" {
        return Err(Error::msg(
            "machine \".host\" is the host itself: spawnbox has no host shell (name a running container)",
        ));
    }
    Ok(Request { machine: machine.to_string(), user, payload, setenv: o.setenv.clone() })
}

/// The payload's environment: nspawn's PATH, the user's HOME, USER, LOGNAME, SHELL, the
/// caller's TERM, then `-E`. `login` sets up the rest itself from TERM.
pub fn environment(req: &Request, user: &UserInfo, term: &str) -> Vec<String> {
    let mut env = vec![format!("TERM={term}")];
    if req.payload != Payload::Login {
        env.extend([
            format!("PATH={}", crate::env::DEFAULT_PATH),
            format!("HOME={}", user.home),
            format!("USER={}", user.name),
            format!("LOGNAME={}", user.name),
            format!("SHELL={}", user.shell),
        ]);
    }
    for s in &req.setenv {
        let key = s.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(s.clone());
    }
    env
}

/// The program and argv: the user's shell as a login shell (`-sh`), the command, or `login`
/// (the first of [`LOGINS`] the guest has, by `exists`).
pub fn program(payload: &Payload, user: &UserInfo, exists: &dyn Fn(&str) -> bool) -> Option<(String, Vec<String>)> {
    match payload {
        Payload::Shell => {
            let base = user.shell.rsplit('/').next().unwrap_or("sh");
            Some((user.shell.clone(), vec![format!("-{base}")]))
        }
        Payload::Command(argv) => Some((argv.first()?.clone(), argv.clone())),
        Payload::Login => LOGINS.iter().find(|p| exists(p)).map(|p| (p.to_string(), vec!["login".to_string()])),
    }
}

/// The exit status of spawnctl for the payload's end (a signal as 128 + its number).
pub fn exit_code(status: WaitStatus) -> i32 {
    code_of(status.exit_status(), status.terminating_signal())
}

fn code_of(exit: Option<i32>, signal: Option<i32>) -> i32 {
    match (exit, signal) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

/// Runs `req`; spawnctl's exit status.
pub fn run(o: &Options, req: &Request) -> Result<i32> {
    // Inherited by the joiner and the payload until its exec: the machine's root, whose
    // CAP_SYS_PTRACE reaches the payload as soon as it is in the machine's PID namespace, must
    // not read spawnctl's memory (the caller's environment) or take its descriptors.
    crate::security::process::set_non_dumpable()?;
    let entry = registry::read(&req.machine)?;
    let join = Join::open(&entry)?;
    let pty = req.payload == Payload::Login || rustix::termios::isatty(rustix::stdio::stdin());
    let old = sys::set_signal_mask(&SigSet::of(&HANDLED)).map_err(|e| Error::sys("block", "signals", e))?;
    sys::ignore_sigpipe(true);
    let result = session(o, req, join, pty);
    sys::ignore_sigpipe(false);
    let _ = sys::set_signal_mask(&old);
    result
}

/// What the joiner needs, as plain data copied by the fork.
struct Plan<'a> {
    req: &'a Request,
    pty: bool,
    term: String,
    winsize: Option<Winsize>,
    caller: Option<Pid>,
}

fn session(o: &Options, req: &Request, mut join: Join, pty: bool) -> Result<i32> {
    let sigfd = sys::signalfd(&SigSet::of(&HANDLED)).map_err(|e| Error::sys("create", "signalfd", e))?;
    let (ours, theirs) = Channel::pair()?;
    let stdin = rustix::stdio::stdin();
    let (relay, child_stdio) = if pty {
        let null = || {
            rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| Error::path("open", Path::new("/dev/null"), e))
        };
        (None, [null()?, null()?, null()?])
    } else {
        let (r, fds) = Relay::new([stdin, rustix::stdio::stdout(), rustix::stdio::stderr()])?;
        (Some(r), fds)
    };
    let fallback = if pty { "vt220" } else { "dumb" };
    let plan = Plan {
        req,
        pty,
        term: std::env::var("TERM").ok().filter(|t| !t.is_empty()).unwrap_or_else(|| fallback.to_string()),
        winsize: rustix::termios::tcgetwinsize(stdin).ok(),
        caller: Some(rustix::process::getpid()),
    };
    let joiner = match sys::clone_process(0, None).map_err(|e| Error::sys("fork", "the joining process", e))? {
        Forked::Child => {
            let e = match joiner(&plan, &mut join, &theirs, child_stdio) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = theirs.send(Msg::Error(e));
            sys::exit_now(1)
        }
        Forked::Parent { pid } => pid,
    };
    drop((theirs, child_stdio, join));
    let mut s = Session { name: &req.machine, joiner, channel: Some(ours), error: None, pidfd: None, status: None };
    // The handshake: the pty master (if any), then the payload's pidfd, or an error.
    let mut master = None;
    while s.pidfd.is_none() && s.channel.is_some() {
        if let Some(Msg::Pty(fd)) = s.receive()? {
            master = Some(fd);
        }
    }
    if s.pidfd.is_none() || s.error.is_some() {
        s.wait_joiner(true)?;
        return Err(s.error.take().unwrap_or_else(|| Error::msg("the joining process ended without a word")));
    }
    let left = match (relay, master) {
        (Some(relay), _) => s.pump(relay, &sigfd).map(|()| false),
        (None, Some(master)) => s.forward(master, &sigfd, o.quiet),
        (None, None) => Err(Error::msg("no pty from the machine")),
    };
    let left = match left {
        Ok(l) => l,
        Err(e) => {
            let _ = sys::kill(s.joiner, libc::SIGKILL);
            let _ = s.wait_joiner(true);
            return Err(e);
        }
    };
    if let Some(e) = s.error.take() {
        return Err(e);
    }
    if left {
        return Ok(0);
    }
    Ok(s.status.map_or(1, exit_code))
}

/// spawnctl's side of a running payload.
struct Session<'a> {
    name: &'a str,
    joiner: i32,
    channel: Option<Channel>,
    error: Option<Error>,
    pidfd: Option<OwnedFd>,
    status: Option<WaitStatus>,
}

impl Session<'_> {
    /// One message from the joiner or the payload (an error is kept, the end of the channel
    /// closes it); the message if it is for the caller.
    fn receive(&mut self) -> Result<Option<Msg>> {
        let Some(ch) = &self.channel else { return Ok(None) };
        match ch.recv()? {
            None => self.channel = None,
            Some(Msg::Error(e)) => self.error = Some(e),
            Some(Msg::Pidfd(fd)) => self.pidfd = Some(fd),
            Some(m) => return Ok(Some(m)),
        }
        Ok(None)
    }

    /// Reaps the joiner if it ended (waits for it with `block`); true once it is reaped.
    fn wait_joiner(&mut self, block: bool) -> Result<bool> {
        if self.status.is_some() {
            return Ok(true);
        }
        let opts = if block { WaitOptions::empty() } else { WaitOptions::NOHANG };
        loop {
            match rustix::process::waitpid(Pid::from_raw(self.joiner), opts) {
                Ok(Some((_, st))) => {
                    self.status = Some(st);
                    return Ok(true);
                }
                Ok(None) => return Ok(false),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::sys("wait for", "the joining process", e)),
            }
        }
    }

    /// Reads the signalfd: passes signals on to the payload; true when the joiner ended.
    fn signals(&mut self, sigfd: &OwnedFd, console: Option<&Console>) -> Result<bool> {
        while let Some(sig) = sys::read_signalfd(sigfd.as_fd()).map_err(|e| Error::sys("read", "signalfd", e))? {
            match sig {
                libc::SIGCHLD => {}
                libc::SIGWINCH => console.iter().for_each(|c| c.resize()),
                _ => {
                    if let (Some(fd), Some(s)) = (&self.pidfd, Signal::from_named_raw(sig)) {
                        let _ = rustix::process::pidfd_send_signal(fd, s);
                    }
                }
            }
        }
        self.wait_joiner(false)
    }

    /// Pipes: pumps stdio until the payload ends.
    fn pump(&mut self, mut relay: Relay<'_>, sigfd: &OwnedFd) -> Result<()> {
        loop {
            let ch = self.channel.as_ref().map(|c| c.fd());
            let extra: Vec<BorrowedFd<'_>> = [Some(sigfd.as_fd()), ch].into_iter().flatten().collect();
            let ready = relay.wait(&extra)?;
            if ready.get(1) == Some(&true) {
                self.receive()?;
            }
            if ready[0] && self.signals(sigfd, None)? {
                relay.drain();
                return Ok(());
            }
        }
    }

    /// A pty: forwards the terminal until the payload ends, or Ctrl-] three times (true: left).
    fn forward(&mut self, master: OwnedFd, sigfd: &OwnedFd, quiet: bool) -> Result<bool> {
        let mut console = Console::new(ConsoleMode::Interactive)?;
        console.watch_signals(sigfd.as_fd())?;
        if let Some(ch) = &self.channel {
            console.watch_channel(ch.fd())?;
        }
        console.attach(master)?;
        if !quiet {
            eprintln!("Connected to machine {}. Press ^] three times within 1s to exit session.", self.name);
        }
        console.start();
        let mut left = false;
        loop {
            let ev = console.wait(None)?;
            if ev.channel {
                // At its end the channel is dropped, which takes it out of the epoll set.
                self.receive()?;
            }
            if ev.request == Some(Hotkey::Kill) {
                // The payload gets SIGHUP: its parent dies (parent-death signal) and its
                // terminal hangs up when the master is closed.
                let _ = sys::kill(self.joiner, libc::SIGKILL);
                self.wait_joiner(true)?;
                left = true;
                break;
            }
            if (ev.signal && self.signals(sigfd, Some(&console))?) || self.wait_joiner(false)? {
                break;
            }
        }
        console.drain();
        console.restore();
        drop(console);
        if !quiet {
            eprintln!("Connection to machine {} terminated.", self.name);
        }
        Ok(left)
    }
}

/// The joiner, in the forked child: enters the machine, prepares the payload, forks it into the
/// machine's PID namespace, passes its pidfd on, waits for it and exits with its status.
/// Returns only on error.
fn joiner(plan: &Plan<'_>, join: &mut Join, ch: &Channel, stdio: [OwnedFd; 3]) -> Result<Infallible> {
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(|e| Error::sys("set", "parent death signal", e))?;
    if rustix::process::getppid() != plan.caller {
        sys::exit_now(1);
    }
    // Nothing of spawnctl's from here on: its stdio replaced (/dev/null or the pipes), every
    // other descriptor but the channel and the join's closed.
    let [i, o, e] = stdio;
    let dup = |r: rustix::io::Result<()>| r.map_err(|err| Error::sys("set up", "stdio", err));
    dup(rustix::stdio::dup2_stdin(&i))?;
    dup(rustix::stdio::dup2_stdout(&o))?;
    dup(rustix::stdio::dup2_stderr(&e))?;
    drop((i, o, e));
    let mut keep = join.fds();
    keep.push(ch.fd().as_raw_fd());
    sys::close_all_except(&keep);
    join.enter()?;

    let root = rustix::fs::open("/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open", Path::new("/"), e))?;
    let req = plan.req;
    let (passwd, group) = user::read_db(root.as_fd())?;
    let user = user::lookup(&passwd, &group, &req.user)
        .map_err(|_| Error::msg(format!("user \"{}\" does not exist in machine \"{}\"", req.user, req.machine)))?;
    let (path, argv) = program(&req.payload, &user, &|p| rootfs::is_regular_file(root.as_fd(), Path::new(p)))
        .ok_or_else(|| Error::msg(format!("machine \"{}\" has no {}", req.machine, LOGINS.join(" or "))))?;
    let exec = Exec {
        path: cstring(&path)?,
        argv: argv.iter().map(|a| cstring(a)).collect::<Result<_>>()?,
        env: environment(req, &user, &plan.term).iter().map(|a| cstring(a)).collect::<Result<_>>()?,
    };
    let cwd = if req.payload == Payload::Login { "/".to_string() } else { user.home.clone() };
    let slave = if plan.pty {
        let (master, slave) = crate::console::pty::open_in(root.as_fd(), &format!("machine \"{}\"", req.machine))?;
        if let Some(ws) = plan.winsize {
            let _ = rustix::termios::tcsetwinsize(&master, ws);
        }
        ch.send(Msg::Pty(master))?;
        Some(slave)
    } else {
        None
    };
    match sys::clone_process(0, None).map_err(|e| Error::sys("fork", "into the machine's PID namespace", e))? {
        Forked::Child => {
            let e = payload(join, ch, slave, &user, root.as_fd(), Path::new(&cwd), &exec);
            let _ = ch.send(Msg::Error(e));
            sys::exit_now(127)
        }
        Forked::Parent { pid } => {
            drop((slave, root));
            let pid = Pid::from_raw(pid).ok_or_else(|| Error::msg("fork returned no pid"))?;
            let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
                .map_err(|e| Error::sys("open", "a pidfd of the payload", e))?;
            ch.send(Msg::Pidfd(pidfd))?;
            // The channel too: spawnctl sees its end once the payload has exec'd.
            sys::close_all_except(&[]);
            loop {
                match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
                    Ok(Some((_, st))) => sys::exit_now(exit_code(st)),
                    Ok(None) | Err(rustix::io::Errno::INTR) => {}
                    Err(_) => sys::exit_now(1),
                }
            }
        }
    }
}

/// What the payload execs.
struct Exec {
    path: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::msg(format!("argument contains a NUL byte: {s:?}")))
}

/// The payload, in the machine's PID namespace: its own session (with the pty as controlling
/// terminal), the machine's bounding set and seccomp filter, the user's credentials and home,
/// no descriptor but 0, 1, 2 and the close-on-exec channel, execve. Returns the error.
fn payload(
    join: &Join,
    ch: &Channel,
    slave: Option<OwnedFd>,
    user: &UserInfo,
    root: BorrowedFd<'_>,
    cwd: &Path,
    exec: &Exec,
) -> Error {
    let r = (|| -> Result<Infallible> {
        crate::console::pty::become_session_leader(slave)?;
        join.confine()?;
        user.become_user()?;
        // After the credentials (a change clears it): SIGHUP when the joiner dies with spawnctl.
        rustix::process::set_parent_process_death_signal(Some(Signal::HUP))
            .map_err(|e| Error::sys("set", "parent death signal", e))?;
        // The home resolved in the machine's root with the user's rights; `/` if that fails.
        let dir = rootfs::open_path(root, cwd, Follow::InRoot)
            .ok()
            .filter(|d| rustix::fs::fstat(d).is_ok_and(|st| st.st_mode & 0o170000 == 0o040000));
        match dir {
            Some(d) => rustix::process::fchdir(&d),
            None => rustix::process::chdir("/"),
        }
        .map_err(|e| Error::path("change directory to", cwd, e))?;
        rustix::process::umask(Mode::from_raw_mode(0o022));
        sys::set_signal_mask(&SigSet::empty()).map_err(|e| Error::sys("reset", "signal mask", e))?;
        sys::ignore_sigpipe(false);
        join.before_exec()?;
        sys::close_all_except(&[ch.fd().as_raw_fd()]);
        Err(Error::sys("execute", exec.path.to_string_lossy(), sys::execve(&exec.path, &exec.argv, &exec.env)))
    })();
    match r {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    fn shell(o: &Options, args: &[&str]) -> std::result::Result<Request, String> {
        parse_shell(o, &words(args)).map_err(|e| e.to_string())
    }

    #[test]
    fn user_at_name_and_the_command() {
        let o = Options::default();
        let r = shell(&o, &["web"]).unwrap();
        assert_eq!((r.machine.as_str(), r.user.as_str(), r.payload), ("web", "root", Payload::Shell));
        let r = shell(&o, &["alice@web", "/bin/ls", "-l"]).unwrap();
        assert_eq!((r.user.as_str(), r.payload), ("alice", Payload::Command(words(&["/bin/ls", "-l"]))));
        assert_eq!(shell(&o, &["@web"]).unwrap().user, "root");
        let uid = Options { uid: Some("1000".into()), setenv: words(&["A=1"]), ..Options::default() };
        let r = shell(&uid, &["web"]).unwrap();
        assert_eq!((r.user.as_str(), r.setenv), ("1000", words(&["A=1"])));
        let host = "machine \".host\" is the host itself: spawnbox has no host shell (name a running container)";
        for args in [&[][..], &["alice@"], &[".host", "/bin/true"]] {
            assert_eq!(shell(&o, args).unwrap_err(), host, "{args:?}");
        }
        assert_eq!(shell(&o, &["web", "ls"]).unwrap_err(), "shell: \"ls\": the command must be an absolute path");
        assert_eq!(shell(&uid, &["bob@web"]).unwrap_err(), "shell: --uid= and USER@NAME both name a user");
        let l = parse_login(&o, &words(&["web"])).unwrap();
        assert_eq!((l.user.as_str(), l.payload), ("root", Payload::Login));
        assert_eq!(parse_login(&o, &[]).unwrap_err().to_string(), host);
    }

    fn alice() -> UserInfo {
        UserInfo {
            name: "alice".into(),
            uid: 1000,
            gid: 1000,
            groups: vec![],
            home: "/home/alice".into(),
            shell: "/bin/bash".into(),
        }
    }

    #[test]
    fn environment_of_a_shell_and_of_login() {
        let r = Request {
            machine: "web".into(),
            user: "alice".into(),
            payload: Payload::Shell,
            setenv: words(&["FOO=bar", "TERM=dumb"]),
        };
        assert_eq!(
            environment(&r, &alice(), "xterm"),
            words(&[
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME=/home/alice",
                "USER=alice",
                "LOGNAME=alice",
                "SHELL=/bin/bash",
                "FOO=bar",
                "TERM=dumb",
            ])
        );
        let login = Request { payload: Payload::Login, setenv: vec![], ..r };
        assert_eq!(environment(&login, &UserInfo::root(), "vt220"), words(&["TERM=vt220"]));
    }

    #[test]
    fn programs() {
        let none = |_: &str| false;
        assert_eq!(program(&Payload::Shell, &alice(), &none), Some(("/bin/bash".into(), words(&["-bash"]))));
        let cmd = Payload::Command(words(&["/bin/echo", "hi"]));
        assert_eq!(program(&cmd, &alice(), &none), Some(("/bin/echo".into(), words(&["/bin/echo", "hi"]))));
        assert_eq!(program(&Payload::Login, &alice(), &none), None);
        let usr = |p: &str| p == "/usr/bin/login";
        assert_eq!(program(&Payload::Login, &alice(), &usr), Some(("/usr/bin/login".into(), words(&["login"]))));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(code_of(Some(7), None), 7);
        assert_eq!(code_of(Some(0), None), 0);
        assert_eq!(code_of(None, Some(libc::SIGTERM)), 143);
        assert_eq!(code_of(None, Some(libc::SIGKILL)), 137);
        assert_eq!(code_of(None, None), 1);
    }
}
