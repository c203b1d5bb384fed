//! The systemd-nspawn front end of the lifecycle (`machine`): the banner, the console and its
//! hotkeys, signals to spawnbox (SIGTERM → the guest's stop request), the guest's notify
//! messages, the reboot loop, and the end of PID 1 turned into spawnbox's exit status.

use crate::console::{Console, Request};
use crate::error::{Error, Result};
use crate::guest::Shutdown;
use crate::machine::Machine;
use crate::settings::StartMode;
use crate::signals::signal_name;
use crate::spec::Spec;
use crate::stopping::{stop_timeout, Cause, Stopping};
use crate::sys::{self, SigSet};
use rustix::fd::{AsFd, OwnedFd};
use std::time::Instant;

/// Signals the launcher handles through its signalfd.
const HANDLED: [i32; 4] = [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGWINCH];

/// How one boot of the container ended.
enum End {
    /// PID 1 called reboot(2) with RESTART (seen as killed by SIGHUP): start again.
    Reboot,
    /// spawnbox's exit status.
    Exit(i32),
}

/// Runs the container until it powers off or exits; returns spawnbox's exit status.
pub fn run(spec: &Spec) -> Result<i32> {
    if spec.cleanup {
        return crate::machine::cleanup(spec);
    }
    if let Some(template) = &spec.template {
        crate::template::populate(&spec.directory, template)?;
    }
    let mut machine = Machine::new(spec)?;
    let result = run_machine(&mut machine);
    machine.teardown();
    result
}

fn run_machine(m: &mut Machine) -> Result<i32> {
    let old_mask = sys::set_signal_mask(&SigSet::of(&HANDLED)).map_err(|e| Error::sys("block", "signals", e))?;
    sys::ignore_sigpipe(true);
    let sigfd = sys::signalfd(&SigSet::of(&HANDLED)).map_err(|e| Error::sys("create", "signalfd", e))?;
    let spec = m.spec().clone();
    let mut console = Console::new(spec.console)?;
    console.watch_signals(sigfd.as_fd())?;
    if !spec.quiet && spec.console == crate::settings::ConsoleMode::Interactive {
        log::info!("Spawning container {} on {}.", spec.machine, spec.directory.display());
        if spec.start_mode == StartMode::Boot {
            log::info!(
                "Press Ctrl-] three times within 1s to kill container; two times followed by r within 1s to \
                 reboot container; two times followed by p within 1s to poweroff container."
            );
        } else {
            log::info!("Press Ctrl-] three times within 1s to kill container.");
        }
    }
    // Nothing happens between the spawn and "go" here without a console pty.
    let mut spawned = m.spawn_and_go();
    let result = loop {
        let end = spawned.and_then(|()| boot(&spec, m, &sigfd, &mut console));
        match end {
            Ok(End::Reboot) => {
                log::info!("Container {} is being rebooted.", spec.machine);
                spawned = m.reboot();
            }
            Ok(End::Exit(code)) => break Ok(code),
            Err(e) => break Err(e),
        }
    };
    console.restore();
    let _ = sys::set_signal_mask(&old_mask);
    result
}

/// What the guest's PID 1 said on the notify socket.
fn on_note(spec: &Spec, note: crate::notify::Note) {
    use crate::notify::{tell_manager, Note};
    match note {
        Note::Ready => {
            log::info!("Container {} is ready.", spec.machine);
            if spec.notify_ready {
                tell_manager("READY=1\nSTATUS=Container running.");
            }
        }
        Note::Status(s) => {
            log::debug!("container {} status: {s}", spec.machine);
            tell_manager(&format!("STATUS=Container running: {s}"));
        }
        Note::Stopping => log::debug!("container {} is stopping", spec.machine),
    }
}

/// One boot: the console attached, "go", the event loop until PID 1 ends.
fn boot(spec: &Spec, m: &mut Machine, sigfd: &OwnedFd, console: &mut Console) -> Result<End> {
    if let Some(fd) = m.take_console() {
        console.attach(fd)?;
    }
    m.start()?;
    console.start();
    if !spec.notify_ready {
        crate::notify::tell_manager("READY=1\nSTATUS=Container running.");
    }
    let kind = m.prepared().init_kind;
    let Some(p) = m.pid1() else {
        return Err(Error::msg("the machine has no PID 1"));
    };
    let pid = p.pid;
    if let Some(fd) = p.notify_fd() {
        console.watch_notify(fd)?;
    }
    if let Some(fd) = p.channel_fd() {
        console.watch_channel(fd)?;
    }
    if let Some(fd) = m.events_fd() {
        console.watch_machine(fd)?;
    }
    let mut child_error: Option<Error> = None;
    let mut kill_requests = 0;
    let mut stopping: Option<Stopping> = None;
    let status = loop {
        let timeout = stopping.as_ref().map(|s| s.wake_at().saturating_duration_since(Instant::now()));
        let ev = console.wait(timeout)?;
        if ev.machine {
            m.handle_events();
        }
        if let Some(p) = m.pid1() {
            if ev.channel && p.channel_fd().is_some() {
                if let Some(e) = p.read_channel() {
                    child_error = Some(e);
                }
                if p.channel_fd().is_none() {
                    console.unwatch_channel(p.channel());
                }
            }
            if ev.notify {
                let notes = p.notify_fd().map(|fd| crate::notify::receive(fd, pid)).unwrap_or_default();
                for note in notes {
                    if note == crate::notify::Note::Ready {
                        if let Err(e) = m.mark_ready() {
                            log::warn!("registry: {e}");
                        }
                    }
                    on_note(spec, note);
                }
            }
        }
        match ev.request {
            Some(Request::Kill) => {
                let _ = sys::kill(pid, libc::SIGKILL);
            }
            Some(r) => {
                let what = if r == Request::Reboot { Shutdown::Reboot } else { Shutdown::Poweroff };
                if let Some(s) = Stopping::begin(&spec.machine, pid, kind, what, None, Cause::Hotkey) {
                    stopping = Some(s);
                }
            }
            None => {}
        }
        while let Some(sig) = sys::read_signalfd(sigfd.as_fd()).map_err(|e| Error::sys("read", "signalfd", e))? {
            match sig {
                libc::SIGTERM | libc::SIGINT => {
                    kill_requests += 1;
                    if kill_requests > 1 || spec.kill_signal == libc::SIGKILL {
                        let _ = sys::kill(pid, libc::SIGKILL);
                    } else if spec.start_mode == StartMode::Boot {
                        let explicit = spec.kill_signal_explicit.then_some(spec.kill_signal);
                        stopping = Stopping::begin(&spec.machine, pid, kind, Shutdown::Halt, explicit, Cause::Signal);
                    } else {
                        log::debug!("sending {} to the container", signal_name(spec.kill_signal));
                        let _ = sys::kill(pid, spec.kill_signal);
                        stopping = Some(Stopping::sent());
                    }
                }
                libc::SIGWINCH => console.resize(),
                _ => {}
            }
        }
        if stopping.as_mut().is_some_and(|s| s.poll(&spec.machine, pid)) {
            log::warn!("Container {} did not stop within {} s, killing it.", spec.machine, stop_timeout().as_secs());
            let _ = sys::kill(pid, libc::SIGKILL);
            stopping = None;
        }
        if let Some(st) = m.try_wait()? {
            break st;
        }
    };
    console.drain();
    // Whatever is printed from here on must find the terminal as the user left it.
    console.restore();
    log::debug!("container PID 1 ended: {status:?}");

    if let Some(e) = child_error {
        return Err(e);
    }
    if let Some(code) = status.exit_status() {
        // 133 is how a container asks a service manager for a restart; never pass it on.
        return Ok(End::Exit(if code == 133 { 1 } else { code }));
    }
    match status.terminating_signal() {
        Some(libc::SIGHUP) => Ok(End::Reboot),
        Some(libc::SIGINT) => {
            log::info!("Container {} has been shut down.", spec.machine);
            Ok(End::Exit(0))
        }
        Some(sig) => Err(Error::msg(format!("container terminated by signal {}", signal_name(sig)))),
        None => Err(Error::msg("container stopped in an unknown way")),
    }
}
