//! The OCI runtime's command line, runc's contract (docs/OCI.md): global options, then the
//! command, whose options and operands may come in any order (GNU style, as the engines and
//! the conformance suites send them: `create ID --bundle B`), `--name value`, `--name=value` and
//! Go's single-dash `-name value`, `--` ending the options. Pure: argv in, [`Request`] out.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// An option of the table: its long name, its short letter, whether it takes a value.
#[derive(Debug, Clone, Copy)]
struct Opt {
    name: &'static str,
    short: Option<char>,
    value: bool,
}

const fn flag(name: &'static str, short: Option<char>) -> Opt {
    Opt { name, short, value: false }
}
const fn val(name: &'static str, short: Option<char>) -> Opt {
    Opt { name, short, value: true }
}

/// Options before the command (runc's global flags, and crun's `--cgroup-manager`, which
/// podman passes to runtimes it believes to be crun).
const GLOBAL: &[Opt] = &[
    val("root", None),
    val("log", None),
    val("log-format", None),
    flag("debug", None),
    flag("systemd-cgroup", None),
    val("cgroup-manager", None),
    val("criu", None),
    val("rootless", None),
    flag("version", Some('v')),
    flag("help", Some('h')),
];

/// Options shared by `create` and `run`.
const CREATE: &[Opt] = &[
    val("bundle", Some('b')),
    val("console-socket", None),
    val("pidfd-socket", None),
    val("pid-file", None),
    flag("no-pivot", None),
    flag("no-new-keyring", None),
    val("preserve-fds", None),
];

/// `exec`'s options.
const EXEC: &[Opt] = &[
    val("console-socket", None),
    val("pidfd-socket", None),
    val("cwd", None),
    val("env", Some('e')),
    flag("tty", Some('t')),
    val("user", Some('u')),
    val("additional-gids", Some('g')),
    val("process", Some('p')),
    flag("detach", Some('d')),
    val("pid-file", None),
    val("process-label", None),
    val("apparmor", None),
    flag("no-new-privs", None),
    val("cap", Some('c')),
    val("preserve-fds", None),
    val("cgroup", None),
    flag("ignore-paused", None),
];

/// A command of the table.
struct CommandSpec {
    name: &'static str,
    opts: &'static [&'static [Opt]],
    /// Operands, the ID included.
    min: usize,
    max: usize,
    /// After this many operands the rest of the line is operands as it is.
    free_after: usize,
}

const ANY: usize = usize::MAX;

const fn cmd(name: &'static str, opts: &'static [&'static [Opt]], min: usize, max: usize) -> CommandSpec {
    CommandSpec { name, opts, min, max, free_after: ANY }
}

/// Every command runc has that spawnbox-runc implements.
const COMMANDS: &[CommandSpec] = &[
    cmd("create", &[CREATE], 1, 1),
    cmd("run", &[CREATE, &[flag("detach", Some('d')), flag("keep", None)]], 1, 1),
    cmd("start", &[], 1, 1),
    cmd("state", &[], 1, 1),
    cmd("kill", &[&[flag("all", Some('a'))]], 1, 2),
    cmd("delete", &[&[flag("force", Some('f'))]], 1, 1),
    // `exec ID CMD ARGS...`: the command's own options are not ours.
    CommandSpec { name: "exec", opts: &[EXEC], min: 1, max: ANY, free_after: 2 },
    cmd("ps", &[&[val("format", Some('f'))]], 1, ANY),
    cmd("pause", &[], 1, 1),
    cmd("resume", &[], 1, 1),
    cmd("list", &[&[val("format", Some('f')), flag("quiet", Some('q'))]], 0, 0),
    cmd("spec", &[&[val("bundle", Some('b')), flag("rootless", None)]], 0, 0),
    cmd("features", &[], 0, 0),
];

/// runc commands spawnbox-runc does not implement: refused by name, not as unknown.
const UNSUPPORTED: &[&str] = &["checkpoint", "restore", "update", "events"];

/// How errors are written to `--log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    /// runc's JSON lines (`{"level":"error","msg":"…","time":"…"}`), which containerd's shim
    /// reads back to report a failure.
    Json,
}

/// The global options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Global {
    /// `--root`: the state directory (default [`DEFAULT_ROOT`]).
    pub root: PathBuf,
    pub log: Option<PathBuf>,
    pub log_format: LogFormat,
    pub debug: bool,
    /// `--cgroup-manager disabled` (podman with `--cgroups=disabled`): no cgroup is created.
    pub no_cgroups: bool,
}

/// Where container state lives without `--root` (runc's is `/run/runc`).
pub const DEFAULT_ROOT: &str = "/run/spawnbox-runc";

/// What the command line asks for.
// Made once per process: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Version,
    Help,
    Command(Global, Command),
}

/// `create` and `run`'s options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Create {
    pub id: String,
    /// `--bundle`, default the current directory.
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub pidfd_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// `--preserve-fds N`: descriptors 3..3+N are passed in.
    pub preserve_fds: u32,
}

/// `exec`'s options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exec {
    pub id: String,
    /// `--process F`: a runtime-spec `process` object; else `args` and the options below.
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub console_socket: Option<PathBuf>,
    pub pidfd_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub tty: bool,
    /// `--user UID[:GID]`.
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    pub detach: bool,
    pub no_new_privs: bool,
    pub caps: Vec<String>,
    pub preserve_fds: u32,
    pub cgroup: Option<String>,
    pub ignore_paused: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
}

/// A command and its options.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Create(Create),
    Run {
        create: Create,
        detach: bool,
        keep: bool,
    },
    Start {
        id: String,
    },
    State {
        id: String,
    },
    /// `kill [--all] ID [SIGNAL]`, SIGTERM by default.
    Kill {
        id: String,
        all: bool,
        signal: i32,
    },
    Delete {
        id: String,
        force: bool,
    },
    Exec(Exec),
    Ps {
        id: String,
        json: bool,
        args: Vec<String>,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    List {
        json: bool,
        quiet: bool,
    },
    Spec {
        bundle: Option<PathBuf>,
        rootless: bool,
    },
    Features,
}

/// One command line's options (names from the table) and operands, in order.
#[derive(Debug, Default)]
struct Scanned {
    opts: Vec<(&'static str, Option<String>)>,
    operands: Vec<String>,
}

impl Scanned {
    fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|(n, _)| *n == name)
    }
    /// The last value given (a later option overrides an earlier one, as in runc).
    fn last(&self, name: &str) -> Option<&str> {
        self.opts.iter().rev().find(|(n, _)| *n == name).and_then(|(_, v)| v.as_deref())
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.opts.iter().filter(|(n, _)| *n == name).filter_map(|(_, v)| v.clone()).collect()
    }
    /// The last value given, as a path taken from `cwd` when relative.
    fn path(&self, name: &str, cwd: &Path) -> Option<PathBuf> {
        self.last(name).map(|p| cwd.join(p))
    }
}

/// Finds `word` (without dashes) in `tables`: a long name, or, for one letter after a single
/// dash, a short one.
fn lookup(tables: &[&[Opt]], word: &str, single_dash: bool) -> Option<Opt> {
    let mut it = tables.iter().flat_map(|t| t.iter());
    if single_dash && word.chars().count() == 1 {
        let c = word.chars().next()?;
        return it.find(|o| o.short == Some(c)).copied();
    }
    it.find(|o| o.name == word).copied()
}

/// Reads options and operands from `args[*i..]` into `out`: up to the first operand when
/// `stop_at_operand` (the global options end at the command), else to the end. Once `free_after`
/// operands are in, the rest of the line is operands as it is (exec's command and its options).
fn scan(
    args: &[String],
    i: &mut usize,
    tables: &[&[Opt]],
    stop_at_operand: bool,
    free_after: usize,
    out: &mut Scanned,
) -> Result<()> {
    while let Some(a) = args.get(*i) {
        if a == "--" || out.operands.len() >= free_after {
            let from = if a == "--" { *i + 1 } else { *i };
            out.operands.extend(args[from..].iter().cloned());
            *i = args.len();
            return Ok(());
        }
        if !a.starts_with('-') || a == "-" {
            if stop_at_operand {
                return Ok(());
            }
            out.operands.push(a.clone());
            *i += 1;
            continue;
        }
        let single = !a.starts_with("--");
        let body = a.trim_start_matches('-');
        let (word, inline) = match body.split_once('=') {
            Some((w, v)) => (w, Some(v)),
            None => (body, None),
        };
        let opt = lookup(tables, word, single).ok_or_else(|| Error::msg(format!("{a}: unknown option")))?;
        *i += 1;
        let value = match (opt.value, inline) {
            (true, Some(v)) => Some(v.to_string()),
            (true, None) => {
                let v = args.get(*i).ok_or_else(|| Error::msg(format!("--{}: needs a value", opt.name)))?;
                *i += 1;
                Some(v.clone())
            }
            (false, None | Some("true")) => None,
            // Go's boolean flags take `=false`.
            (false, Some("false")) => continue,
            (false, Some(v)) => return Err(Error::msg(format!("--{}: takes no value, got {v:?}", opt.name))),
        };
        out.opts.push((opt.name, value));
    }
    Ok(())
}

/// Parses the runtime's argv (without argv[0]); relative paths are taken from `cwd`.
pub fn parse(args: &[String], cwd: &Path) -> Result<Request> {
    let mut i = 0;
    let mut g = Scanned::default();
    scan(args, &mut i, &[GLOBAL], true, ANY, &mut g)?;
    if g.has("help") {
        return Ok(Request::Help);
    }
    if g.has("version") {
        return Ok(Request::Version);
    }
    let global = global(&g, cwd)?;
    let Some(name) = args.get(i) else {
        return Err(Error::msg("no command given (see --help)"));
    };
    i += 1;
    if UNSUPPORTED.contains(&name.as_str()) {
        return Err(Error::msg(format!("{name}: not supported by spawnbox-runc")));
    }
    let spec = COMMANDS
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| Error::msg(format!("{name}: unknown command (see --help)")))?;
    let mut s = Scanned::default();
    scan(args, &mut i, spec.opts, false, spec.free_after, &mut s).map_err(|e| e.context(name))?;
    if s.operands.len() < spec.min {
        return Err(Error::msg(format!("{name}: needs a container ID")));
    }
    if s.operands.len() > spec.max {
        return Err(Error::msg(format!("{name}: unexpected argument {:?}", s.operands[spec.max])));
    }
    let command = command(spec, s, cwd).map_err(|e| e.context(name))?;
    Ok(Request::Command(global, command))
}

fn global(g: &Scanned, cwd: &Path) -> Result<Global> {
    if g.has("systemd-cgroup") {
        return Err(Error::msg("--systemd-cgroup: not supported: spawnbox-runc creates cgroups itself (cgroupfs)"));
    }
    let mut no_cgroups = false;
    match g.last("cgroup-manager") {
        None | Some("cgroupfs") => {}
        Some("disabled") => no_cgroups = true,
        Some(m) => return Err(Error::msg(format!("--cgroup-manager: {m:?} is not supported (cgroupfs or disabled)"))),
    }
    let log_format = match g.last("log-format") {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(f) => return Err(Error::msg(format!("--log-format: {f:?}: expected text or json"))),
    };
    Ok(Global {
        root: g.path("root", cwd).unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT)),
        log: g.path("log", cwd),
        log_format,
        debug: g.has("debug"),
        no_cgroups,
    })
}

/// A container ID as runc accepts it (`^[\w+.-]+$`, not `.` or `..`): it names a directory
/// under `--root`.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!("invalid container ID {id:?}")))
    }
}

fn number(s: &Scanned, name: &str) -> Result<Option<u32>> {
    s.last(name)
        .map(|v| v.parse::<u32>().map_err(|_| Error::msg(format!("--{name}: {v:?} is not a number"))))
        .transpose()
}

fn create(s: &Scanned, id: String, cwd: &Path) -> Result<Create> {
    Ok(Create {
        id,
        bundle: s.path("bundle", cwd).unwrap_or_else(|| cwd.to_path_buf()),
        pid_file: s.path("pid-file", cwd),
        console_socket: s.path("console-socket", cwd),
        pidfd_socket: s.path("pidfd-socket", cwd),
        no_pivot: s.has("no-pivot"),
        no_new_keyring: s.has("no-new-keyring"),
        preserve_fds: number(s, "preserve-fds")?.unwrap_or(0),
    })
}

/// A signal as runc takes it: a number, or a name in any case with or without `SIG`.
pub fn parse_signal(s: &str) -> Result<i32> {
    let upper = s.to_ascii_uppercase();
    crate::cli::values::parse_signal(&upper).map_err(|_| Error::msg(format!("invalid signal {s:?}")))
}

/// `--user UID[:GID]`, numbers as runc takes them.
fn parse_user(v: &str) -> Result<(u32, Option<u32>)> {
    let bad = || Error::msg(format!("--user: {v:?}: expected UID[:GID]"));
    let (u, g) = match v.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (v, None),
    };
    let uid = u.parse().map_err(|_| bad())?;
    let gid = g.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

fn format_json(s: &Scanned) -> Result<bool> {
    match s.last("format") {
        None | Some("table") => Ok(false),
        Some("json") => Ok(true),
        Some(f) => Err(Error::msg(format!("--format: {f:?}: expected table or json"))),
    }
}

fn command(spec: &CommandSpec, mut s: Scanned, cwd: &Path) -> Result<Command> {
    let mut operands = std::mem::take(&mut s.operands).into_iter();
    // The commands that take operands take the ID first.
    let id = if spec.min > 0 {
        let id = operands.next().unwrap_or_default();
        check_id(&id)?;
        id
    } else {
        String::new()
    };
    Ok(match spec.name {
        "create" => Command::Create(create(&s, id, cwd)?),
        "run" => Command::Run { create: create(&s, id, cwd)?, detach: s.has("detach"), keep: s.has("keep") },
        "start" => Command::Start { id },
        "state" => Command::State { id },
        "kill" => {
            let signal = operands.next().map(|v| parse_signal(&v)).transpose()?.unwrap_or(15);
            Command::Kill { id, all: s.has("all"), signal }
        }
        "delete" => Command::Delete { id, force: s.has("force") },
        "exec" => {
            let args: Vec<String> = operands.collect();
            if args.is_empty() && !s.has("process") {
                return Err(Error::msg("needs a command or --process"));
            }
            let additional_gids = s
                .all("additional-gids")
                .iter()
                .map(|g| g.parse().map_err(|_| Error::msg(format!("--additional-gids: {g:?} is not a number"))))
                .collect::<Result<_>>()?;
            Command::Exec(Exec {
                id,
                process: s.path("process", cwd),
                args,
                console_socket: s.path("console-socket", cwd),
                pidfd_socket: s.path("pidfd-socket", cwd),
                pid_file: s.path("pid-file", cwd),
                cwd: s.last("cwd").map(str::to_string),
                env: s.all("env"),
                tty: s.has("tty"),
                user: s.last("user").map(parse_user).transpose()?,
                additional_gids,
                detach: s.has("detach"),
                no_new_privs: s.has("no-new-privs"),
                caps: s.all("cap"),
                preserve_fds: number(&s, "preserve-fds")?.unwrap_or(0),
                cgroup: s.last("cgroup").map(str::to_string),
                ignore_paused: s.has("ignore-paused"),
                apparmor: s.last("apparmor").map(str::to_string),
                process_label: s.last("process-label").map(str::to_string),
            })
        }
        "ps" => Command::Ps { id, json: format_json(&s)?, args: operands.collect() },
        "pause" => Command::Pause { id },
        "resume" => Command::Resume { id },
        "list" => Command::List { json: format_json(&s)?, quiet: s.has("quiet") },
        "spec" => Command::Spec { bundle: s.path("bundle", cwd), rootless: s.has("rootless") },
        _ => Command::Features,
    })
}
