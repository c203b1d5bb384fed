//! `spawnbox-init poweroff|reboot|halt [-f]` (or a symlink with that name): ask PID 1 to
//! shut down with systemd's signal for it, which spawnbox-init understands in both modes.
//! `-f` skips init and calls reboot(2) at once after sync, like busybox's `-f`.

use crate::out::Line;
use crate::signals::Request;
use crate::sys;
use rustix::process::Pid;
use rustix::system::RebootCommand;

/// Run the command; returns the exit code.
pub fn run(request: Request, force: bool) -> i32 {
    if force {
        rustix::fs::sync();
        let cmd = match request {
            Request::Halt => RebootCommand::Halt,
            Request::Poweroff => RebootCommand::PowerOff,
            Request::Reboot => RebootCommand::Restart,
        };
        if let Err(e) = rustix::system::reboot(cmd) {
            Line::new().s(request.name()).s(b": reboot(2): ").err(e).emit();
        }
        return 1;
    }
    match sys::kill(Pid::INIT, request.signal()) {
        Ok(()) => 0,
        Err(e) => {
            Line::new().s(request.name()).s(b": signal PID 1: ").err(e).emit();
            1
        }
    }
}
