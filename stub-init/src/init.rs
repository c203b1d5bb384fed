//! The top-level flow: parse argv, pick the mode, block signals, start the payload and hand
//! over to the container or host supervisor.

use crate::args::{self, CArray};
use crate::cli::{self, Invocation};
use crate::exec::DEFAULT_PATH;
use crate::mode::{self, Probe};
use crate::out::Line;
use crate::spawn::{self, Payload};
use crate::{container, ctl, host, sys};

/// Exit code for usage errors (before anything was started).
const EXIT_USAGE: i32 = 2;

/// Run the program; returns the exit code when it returns at all.
pub fn run(argv: CArray, envp: CArray) -> i32 {
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    match cli::parse(argv.iter(), pid == 1) {
        Err(e) => {
            Line::new().s(argv.bytes(e.arg)).s(b": ").s(e.what).emit();
            Line::new().s(b"see 'spawnbox-init --help'").emit();
            EXIT_USAGE
        }
        Ok(Invocation::Help) => {
            let _ = rustix::io::write(sys::stdout(), cli::USAGE);
            0
        }
        Ok(Invocation::Version) => {
            Line::bare().s(b"spawnbox-init ").s(env!("CARGO_PKG_VERSION").as_bytes()).emit();
            0
        }
        Ok(Invocation::Request { request, force }) => ctl::run(request, force),
        Ok(Invocation::Init(a)) => start(a, pid, argv, envp),
    }
}

fn start(a: cli::InitArgs, pid: i32, argv: CArray, envp: CArray) -> i32 {
    let probe = Probe {
        pid,
        container_env: args::lookup(envp.iter(), b"container").is_some_and(|v| !v.is_empty()),
        pid2_exists: pid == 1 && sys::pid_exists(2),
    };
    let decision = match mode::decide(a.mode, probe) {
        Ok(d) => d,
        Err(msg) => {
            Line::new().s(msg).emit();
            return EXIT_USAGE;
        }
    };
    // Block first: what arrives from now on is queued for sigtimedwait, never lost and never
    // acted on by a default disposition.
    let set = sys::init_sigset();
    let mask = sys::block(&set);
    sys::reset_dispositions();
    let _ = rustix::thread::set_name(c"spawnbox-init");
    if !decision.pid1 {
        // Orphans of the payload come to us instead of the real init.
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    }
    give_up_ctty();
    match decision.mode {
        mode::Mode::Host => host::run(a.command, a.grace_secs, argv, envp, &set, &mask),
        mode::Mode::Container => {
            let Some((file, argvp)) = a.command.and_then(|i| Some((argv.get(i)?, argv.tail_ptr(i)))) else {
                Line::new().s(b"no command given (see 'spawnbox-init --help')").emit();
                return EXIT_USAGE;
            };
            let path = args::lookup(envp.iter(), b"PATH").unwrap_or(DEFAULT_PATH);
            let payload = Payload { file, argv: argvp, envp: envp.as_ptr(), path };
            let child = match spawn::spawn(&payload, &mask) {
                Ok(child) => child,
                Err(e) => {
                    Line::new().s(b"fork: ").err(e).emit();
                    return 254;
                }
            };
            sys::close_inherited_fds();
            container::supervise(child, a.grace_secs, decision.pid1, &set)
        }
    }
}

/// Let go of our controlling terminal so that the payload, in its own session, can take
/// it. If we were the session leader, the kernel sends SIGHUP and SIGCONT to the
/// terminal's foreground group (us); they come from ourselves and are not forwarded.
fn give_up_ctty() {
    let stdin = sys::stdin();
    if rustix::termios::isatty(stdin) {
        let _ = sys::tiocnotty(stdin);
    }
}
