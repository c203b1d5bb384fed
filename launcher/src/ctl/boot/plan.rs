//! What `spawnctl enable` and `disable` change, as data (pure, unit-tested): for each init
//! system the steps that start machine NAME at boot or stop doing so, the exact text written
//! (busybox init's inittab lines, runit's run and finish scripts) and the inittab edit.

use crate::ctl::start::{log_file, unit_args, LOG_DIR};
use crate::error::{Error, Result};

/// The init system a machine is enabled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Init {
    /// OpenRC: `/etc/init.d/spawnbox.NAME` → `spawnbox` (packaging/openrc/spawnbox.initd), in
    /// the default runlevel.
    OpenRc,
    /// busybox init: two lines in /etc/inittab.
    Busybox,
    /// runit: `/etc/sv/spawnbox.NAME/`, linked into the directory runsvdir watches.
    Runit { service_dir: String },
}

/// One change. Each is idempotent (what is already as planned is left alone), and a removal
/// touches only what is still as `enable` made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// This regular file must exist (the OpenRC script `make install` puts there).
    Need { path: String, hint: &'static str },
    /// A directory, made (0755) if missing.
    Dir(String),
    /// An executable file (0755) holding `text`; an existing one must hold exactly that.
    File { path: String, text: String },
    /// A symbolic link; an existing one must point at `target`.
    Link { path: String, target: String },
    /// The machine's lines put into /etc/inittab (see [`edit_inittab`]).
    InittabAdd { name: String, respawn: String, shutdown: String },
    /// The machine's lines taken out of /etc/inittab.
    InittabRemove { name: String },
    /// `rc-update add SERVICE default`, unless the service is in the runlevel already.
    RcUpdateAdd(String),
    /// `rc-update del SERVICE default`, if the service is in the runlevel.
    RcUpdateDel(String),
    /// A file removed if its second line is `marker` (written by `enable`); left otherwise.
    RemoveFile { path: String, marker: String },
    /// A symbolic link removed if it points at `target`, unless one of `busy` exists: an
    /// OpenRC service that is started keeps its script until it is stopped.
    RemoveLink { path: String, target: String, busy: Vec<String> },
    /// runit's service directory removed, with runsv's `supervise/` once runsv let go of it.
    RemoveDir(String),
}

/// Where the inittab is.
pub const INITTAB: &str = "/etc/inittab";
/// Where runit's service definitions are (Void, Debian, Alpine, Artix).
pub const SV: &str = "/etc/sv";
/// The directories runsvdir watches, in the order they are looked for: Void's, Debian's and
/// Alpine's, runit's own default, Artix's.
pub const RUNIT_SERVICE_DIRS: [&str; 4] = ["/var/service", "/etc/service", "/service", "/run/runit/service"];
/// OpenRC's scripts, and the multiplexed one spawnbox installs there.
const INIT_D: &str = "/etc/init.d";
const OPENRC_SCRIPT: &str = "spawnbox";
/// OpenRC's service states that need the script (in its state directory, /run/openrc).
const OPENRC_BUSY: [&str; 4] = ["started", "starting", "stopping", "inactive"];

/// The service's name in every init: `spawnbox.NAME`.
pub fn service(name: &str) -> String {
    format!("spawnbox.{name}")
}

/// Whether `name` can go into init scripts, inittab lines and service names unquoted: letters,
/// digits, `.`, `_`, `-`, not starting with `.` or `-`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        return Ok(());
    }
    Err(Error::msg(format!(
        "machine name \"{name}\" cannot name a boot service (letters, digits, '.', '_' and '-' only)"
    )))
}

/// Whether `path` (spawnbox's own) can go into a shell command unquoted.
pub fn check_binary(path: &str) -> Result<()> {
    let ok = path.starts_with('/')
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+'));
    if ok {
        return Ok(());
    }
    Err(Error::msg(format!("spawnbox's path {path:?} cannot be written into an init script unquoted")))
}

/// spawnbox's command line for `name`, its output appended to the machine's log (and no
/// input: busybox init would leave it the console, which a getty there reads).
fn command(bin: &str, name: &str) -> String {
    format!("{bin} {} </dev/null >>{} 2>&1", unit_args(name).join(" "), log_file(name).display())
}

/// The directory spawnbox lives in (`spawnctl` is a link next to it).
fn bindir(bin: &str) -> &str {
    bin.rsplit_once('/').map_or("", |(d, _)| d)
}

/// The marker comments above the machine's two inittab lines.
fn inittab_markers(name: &str) -> [String; 2] {
    let s = service(name);
    [
        format!("# {s}: machine {name} started at boot (spawnctl enable {name}; spawnctl disable {name} removes this line and the next)"),
        format!("# {s}: machine {name} stopped cleanly first at shutdown (spawnctl disable {name} removes this line and the next)"),
    ]
}

/// busybox init's lines for `name`: a `::respawn:` line that runs spawnbox, and a
/// `::shutdown:` line that stops it cleanly (SIGTERM to the launcher, which asks the guest's
/// init to halt and kills it after its stop timeout) and waits: busybox init itself would only
/// give it one second between its SIGTERM and SIGKILL to every process. No `#` in either line:
/// busybox's parser ends a line there.
pub fn inittab_lines(bin: &str, name: &str) -> (String, String) {
    let respawn = format!("::respawn:/bin/sh -c 'mkdir -p {LOG_DIR} && exec {}'", command(bin, name));
    let shutdown = format!(
        "::shutdown:/bin/sh -c 'p=$({}/spawnctl show -p Launcher --value {name} 2>/dev/null) && [ \"$p\" -gt 1 ] && kill $p && while kill -0 $p 2>/dev/null; do sleep 1; done'",
        bindir(bin)
    );
    (respawn, shutdown)
}

/// The second line of the runit scripts, which `disable` recognises them by.
fn runit_marker(name: &str) -> String {
    format!(
        "# {}: machine {name} under runit (written by spawnctl enable {name}; spawnctl disable {name} removes it)",
        service(name)
    )
}

/// runit's `run`: spawnbox in the foreground, as systemd-nspawn@.service runs it.
pub fn runit_run(bin: &str, name: &str) -> String {
    format!(
        "#!/bin/sh\n{}\n# As systemd-nspawn@{name}.service runs it; console and messages go to {}.\nmkdir -p {LOG_DIR}\nexec {}\n",
        runit_marker(name),
        log_file(name).display(),
        command(bin, name)
    )
}

/// runit's `finish`: a clean end keeps the service down, as nspawn@.service's
/// `Restart=on-failure` does (runsv would start it again whatever the exit status).
pub fn runit_finish(name: &str) -> String {
    format!(
        "#!/bin/sh\n{}\n# Exit status 0 (the guest powered off, or sv down) keeps it down, as systemd-nspawn@.service's\n# Restart=on-failure does; runsv starts it again after any other end.\n[ \"$1\" != 0 ] || exec sv down .\n",
        runit_marker(name)
    )
}

/// The steps that make `init` start machine `name` at boot (spawnbox being `bin`).
pub fn enable(init: &Init, bin: &str, name: &str) -> Vec<Step> {
    let s = service(name);
    match init {
        Init::OpenRc => vec![
            Step::Need {
                path: format!("{INIT_D}/{OPENRC_SCRIPT}"),
                hint: "install spawnbox's OpenRC script: make install, or the spawnbox-openrc package",
            },
            Step::Link { path: format!("{INIT_D}/{s}"), target: OPENRC_SCRIPT.into() },
            Step::RcUpdateAdd(s),
        ],
        Init::Busybox => {
            let (respawn, shutdown) = inittab_lines(bin, name);
            vec![Step::InittabAdd { name: name.into(), respawn, shutdown }]
        }
        Init::Runit { service_dir } => {
            let dir = format!("{SV}/{s}");
            vec![
                Step::Dir(dir.clone()),
                Step::File { path: format!("{dir}/run"), text: runit_run(bin, name) },
                Step::File { path: format!("{dir}/finish"), text: runit_finish(name) },
                // Last: runsvdir starts the service as soon as it sees the link.
                Step::Link { path: format!("{service_dir}/{s}"), target: dir },
            ]
        }
    }
}

/// The steps that undo [`enable`], in reverse order.
pub fn disable(init: &Init, name: &str) -> Vec<Step> {
    let s = service(name);
    match init {
        Init::OpenRc => vec![
            Step::RcUpdateDel(s.clone()),
            Step::RemoveLink {
                path: format!("{INIT_D}/{s}"),
                target: OPENRC_SCRIPT.into(),
                busy: OPENRC_BUSY.iter().map(|d| format!("/run/openrc/{d}/{s}")).collect(),
            },
        ],
        Init::Busybox => vec![Step::InittabRemove { name: name.into() }],
        Init::Runit { service_dir } => {
            let dir = format!("{SV}/{s}");
            vec![
                Step::RemoveLink { path: format!("{service_dir}/{s}"), target: dir.clone(), busy: Vec::new() },
                Step::RemoveFile { path: format!("{dir}/run"), marker: runit_marker(name) },
                Step::RemoveFile { path: format!("{dir}/finish"), marker: runit_marker(name) },
                Step::RemoveDir(dir),
            ]
        }
    }
}

/// The action field of an inittab line (`id:runlevels:action:process`), `None` for comments.
fn action(line: &str) -> Option<&str> {
    if line.trim_start().starts_with('#') {
        return None;
    }
    line.split(':').nth(2).map(str::trim)
}

/// The inittab `text` with an add or remove step done; `None` when it is unchanged. Adding
/// puts the `::respawn:` line at the end and the `::shutdown:` line before the first other
/// shutdown action (so the machine is down before the system unmounts), each under its marker
/// comment; earlier lines of the machine are replaced. Removing takes out each marker and the
/// line after it, which must still be the machine's action line.
pub fn edit_inittab(text: &str, step: &Step) -> Result<Option<String>> {
    let (name, add) = match step {
        Step::InittabAdd { name, respawn, shutdown } => (name, Some((respawn, shutdown))),
        Step::InittabRemove { name } => (name, None),
        _ => return Ok(None),
    };
    let markers = inittab_markers(name);
    let mut lines: Vec<&str> = text.lines().collect();
    let before = lines.len();
    for (marker, want) in markers.iter().zip(["respawn", "shutdown"]) {
        while let Some(i) = lines.iter().position(|l| l == marker) {
            if lines.get(i + 1).and_then(|l| action(l)) != Some(want) {
                let at = text.lines().position(|l| l == marker).unwrap_or(i) + 2;
                return Err(Error::msg(format!(
                    "{INITTAB}:{at}: the line after {}'s marker is not its ::{want}: line any more; edit the file by hand",
                    service(name)
                )));
            }
            lines.drain(i..i + 2);
        }
    }
    let Some((respawn, shutdown)) = add else {
        return Ok((lines.len() != before).then(|| joined(&lines)));
    };
    lines.extend([markers[0].as_str(), respawn.as_str()]);
    let mut at = lines.iter().position(|l| action(l) == Some("shutdown")).unwrap_or(lines.len());
    // Above the comments that go with that line (another machine's marker among them).
    while at > 0 && lines[at - 1].trim_start().starts_with('#') {
        at -= 1;
    }
    lines.splice(at..at, [markers[1].as_str(), shutdown.as_str()]);
    let out = joined(&lines);
    Ok((out != text).then_some(out))
}

/// Lines as a file's text: each ends with a newline.
fn joined(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// How `--print` shows a step: the file's path and its text, the link, the command.
pub fn describe(step: &Step) -> String {
    match step {
        Step::Need { path, .. } => format!("# needs {path}\n"),
        Step::Dir(p) => format!("mkdir -p {p}\n"),
        Step::File { path, text } => format!("# {path} (mode 0755):\n{text}"),
        Step::Link { path, target } => format!("ln -s {target} {path}\n"),
        Step::InittabAdd { respawn, shutdown, name } => {
            let [m1, m2] = inittab_markers(name);
            format!(
                "# {INITTAB}, at the end:\n{m1}\n{respawn}\n# {INITTAB}, before its first ::shutdown: line:\n{m2}\n{shutdown}\n"
            )
        }
        Step::InittabRemove { name } => {
            format!(
                "# {INITTAB}: the lines after the comments that start with \"# {}:\", and those comments\n",
                service(name)
            )
        }
        Step::RcUpdateAdd(s) => format!("rc-update add {s} default\n"),
        Step::RcUpdateDel(s) => format!("rc-update del {s} default\n"),
        Step::RemoveFile { path, .. } | Step::RemoveLink { path, .. } => format!("rm {path}\n"),
        Step::RemoveDir(p) => format!("rm -r {p}\n"),
    }
}
