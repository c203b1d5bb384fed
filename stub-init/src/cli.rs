//! Command-line parsing: `spawnbox-init [OPTIONS] [--] COMMAND [ARGS...]` and the
//! `poweroff|reboot|halt` commands. Pure: works on argv as byte strings and returns indices.

use crate::mode::ModeFlag;
use crate::signals::Request;

/// nspawn's DEFAULT_TIMEOUT_USEC: how long the payload may take to stop.
pub const DEFAULT_GRACE_SECS: u32 = 90;

pub const USAGE: &[u8] = b"\
usage: spawnbox-init [OPTIONS] [--] COMMAND [ARGS...]
       spawnbox-init poweroff|reboot|halt [-f]

A tiny PID 1. In a container it runs COMMAND as PID 2, reaps every process, forwards
signals and turns poweroff/reboot requests into the matching exit. As the init of a
machine it mounts /proc, /sys, /dev, /dev/pts and /run, sets the hostname, brings up lo
and runs COMMAND (default: /bin/sh /etc/spawnbox-init.rc).

options:
  --grace=SECONDS  time the payload gets between SIGTERM and SIGKILL (default 90)
  --container      container mode (PID 1 of a PID namespace)
  --host           host mode (PID 1 of a machine)
  -h, --help       this text
  --version        print the version

poweroff, reboot, halt (or argv[0] with that name) ask PID 1 to shut down, with
SIGRTMIN+4, SIGRTMIN+5, SIGRTMIN+3; -f calls reboot(2) directly.
";

/// Options of the init itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitArgs {
    pub mode: ModeFlag,
    pub grace_secs: u32,
    /// Index in argv of COMMAND (its arguments follow it).
    pub command: Option<usize>,
}

/// What the command line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invocation {
    Init(InitArgs),
    /// `spawnbox-init poweroff|reboot|halt [-f]`, or argv[0] named after the request.
    Request {
        request: Request,
        force: bool,
    },
    Help,
    Version,
}

/// A usage error: a message about argv[arg].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CliError {
    pub what: &'static [u8],
    pub arg: usize,
}

fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => path.get(i + 1..).unwrap_or(b""),
        None => path,
    }
}

/// Parse a number of seconds (decimal, at most a year's worth).
pub fn parse_secs(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    let mut n: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    (n <= 366 * 24 * 3600).then_some(n)
}

/// Parse argv (argv[0] included). The request commands are recognised only when we are not
/// PID 1: as init, a COMMAND named `reboot` is just a command.
pub fn parse<'a, I>(args: I, pid1: bool) -> Result<Invocation, CliError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut it = args.into_iter().enumerate();
    let argv0 = it.next().map(|(_, a)| a).unwrap_or(b"");
    if !pid1 {
        if let Some(r) = Request::from_name(basename(argv0)) {
            return parse_request(r, it);
        }
    }
    let mut out = InitArgs { mode: ModeFlag::Auto, grace_secs: DEFAULT_GRACE_SECS, command: None };
    let mut first = true;
    while let Some((i, a)) = it.next() {
        if first && !pid1 {
            if let Some(r) = Request::from_name(a) {
                return parse_request(r, it);
            }
        }
        first = false;
        match a {
            b"--" => {
                out.command = it.next().map(|(j, _)| j);
                break;
            }
            b"-h" | b"--help" => return Ok(Invocation::Help),
            b"--version" => return Ok(Invocation::Version),
            b"--container" | b"--host" => {
                let m = if a == b"--host" { ModeFlag::Host } else { ModeFlag::Container };
                if out.mode != ModeFlag::Auto && out.mode != m {
                    return Err(CliError { what: b"--container and --host exclude each other", arg: i });
                }
                out.mode = m;
            }
            b"--grace" => {
                let (j, v) = it.next().ok_or(CliError { what: b"option needs a value", arg: i })?;
                out.grace_secs = parse_secs(v).ok_or(CliError { what: b"invalid number of seconds", arg: j })?;
            }
            _ if a.starts_with(b"--grace=") => {
                let v = a.get(8..).unwrap_or(b"");
                out.grace_secs = parse_secs(v).ok_or(CliError { what: b"invalid number of seconds", arg: i })?;
            }
            _ if a.len() > 1 && a.starts_with(b"-") => {
                return Err(CliError { what: b"unknown option", arg: i });
            }
            _ => {
                out.command = Some(i);
                break;
            }
        }
    }
    Ok(Invocation::Init(out))
}

fn parse_request<'a, I>(request: Request, rest: I) -> Result<Invocation, CliError>
where
    I: Iterator<Item = (usize, &'a [u8])>,
{
    let mut force = false;
    for (i, a) in rest {
        match a {
            b"-f" | b"--force" => force = true,
            b"-h" | b"--help" => return Ok(Invocation::Help),
            _ => return Err(CliError { what: b"unknown argument", arg: i }),
        }
    }
    Ok(Invocation::Request { request, force })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str], pid1: bool) -> Result<Invocation, CliError> {
        parse(args.iter().map(|a| a.as_bytes()), pid1)
    }

    fn init(mode: ModeFlag, grace_secs: u32, command: Option<usize>) -> Result<Invocation, CliError> {
        Ok(Invocation::Init(InitArgs { mode, grace_secs, command }))
    }

    #[test]
    fn launcher_contract() {
        assert_eq!(
            p(&["spawnbox-init", "--container", "--", "/bin/sh", "-c", "exit 7"], true),
            init(ModeFlag::Container, 90, Some(3))
        );
        assert_eq!(
            p(&["3", "--grace=5", "--container", "--", "--weird-payload"], true),
            init(ModeFlag::Container, 5, Some(4))
        );
    }

    #[test]
    fn command_without_dashes() {
        assert_eq!(p(&["init", "sleep", "--grace=1"], true), init(ModeFlag::Auto, 90, Some(1)));
        assert_eq!(p(&["init", "--grace", "0", "true"], true), init(ModeFlag::Auto, 0, Some(3)));
        assert_eq!(p(&["init", "-"], true), init(ModeFlag::Auto, 90, Some(1)));
    }

    #[test]
    fn kernel_command_line() {
        // init=/sbin/spawnbox-init -- /etc/rc.local: the kernel drops the "--".
        assert_eq!(p(&["/sbin/spawnbox-init", "/etc/rc.local"], true), init(ModeFlag::Auto, 90, Some(1)));
        assert_eq!(p(&["/init"], true), init(ModeFlag::Auto, 90, None));
        assert_eq!(p(&["/init", "--"], true), init(ModeFlag::Auto, 90, None));
        assert_eq!(p(&[], true), init(ModeFlag::Auto, 90, None));
    }

    #[test]
    fn errors_name_the_argument() {
        assert_eq!(p(&["i", "--grace=x", "true"], true), Err(CliError { what: b"invalid number of seconds", arg: 1 }));
        assert_eq!(p(&["i", "--grace=", "true"], true).unwrap_err().arg, 1);
        assert_eq!(p(&["i", "--grace"], true), Err(CliError { what: b"option needs a value", arg: 1 }));
        assert_eq!(p(&["i", "--grace", "-1"], true).unwrap_err().arg, 2);
        assert_eq!(p(&["i", "--bogus", "true"], true), Err(CliError { what: b"unknown option", arg: 1 }));
        assert_eq!(p(&["i", "--host", "--container"], true).unwrap_err().arg, 2);
        assert_eq!(p(&["i", "--grace=99999999"], true).unwrap_err().arg, 1);
    }

    #[test]
    fn help_and_version() {
        assert_eq!(p(&["i", "--help"], true), Ok(Invocation::Help));
        assert_eq!(p(&["i", "-h", "x"], false), Ok(Invocation::Help));
        assert_eq!(p(&["i", "--version"], true), Ok(Invocation::Version));
    }

    #[test]
    fn request_commands() {
        let poweroff = Ok(Invocation::Request { request: Request::Poweroff, force: false });
        assert_eq!(p(&["spawnbox-init", "poweroff"], false), poweroff);
        assert_eq!(p(&["/sbin/poweroff"], false), poweroff);
        assert_eq!(p(&["poweroff"], false), poweroff);
        assert_eq!(p(&["reboot", "-f"], false), Ok(Invocation::Request { request: Request::Reboot, force: true }));
        assert_eq!(
            p(&["x/spawnbox-init", "halt", "--force"], false),
            Ok(Invocation::Request { request: Request::Halt, force: true })
        );
        assert_eq!(p(&["halt", "now"], false), Err(CliError { what: b"unknown argument", arg: 1 }));
        // As PID 1 these are ordinary commands to run.
        assert_eq!(p(&["spawnbox-init", "reboot"], true), init(ModeFlag::Auto, 90, Some(1)));
        assert_eq!(p(&["reboot"], true), init(ModeFlag::Auto, 90, None));
        // Only the first argument can be a request.
        assert_eq!(p(&["i", "--container", "reboot"], false), init(ModeFlag::Container, 90, Some(2)));
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_secs(b"0"), Some(0));
        assert_eq!(parse_secs(b"90"), Some(90));
        assert_eq!(parse_secs(b"31622400"), Some(31_622_400));
        assert_eq!(parse_secs(b"31622401"), None);
        assert_eq!(parse_secs(b"1.5"), None);
        assert_eq!(parse_secs(b""), None);
    }

    /// spawnbox-init(8)'s OPTIONS (term lines `*--grace=*_SECONDS_`, each followed by its
    /// tab-indented text) name exactly the options of the usage text, spelled the same.
    #[test]
    fn man_page_lists_the_usage_options() {
        let usage = core::str::from_utf8(USAGE).unwrap();
        let mut want: Vec<String> = usage
            .lines()
            .skip_while(|l| *l != "options:")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .map(|l| l.trim_start().split("  ").next().unwrap().to_string())
            .collect();
        let page = include_str!("../../docs/man/spawnbox-init.8.scd");
        let lines: Vec<&str> =
            page.lines().skip_while(|l| *l != "# OPTIONS").skip(1).take_while(|l| !l.starts_with("# ")).collect();
        let mut got: Vec<String> = lines
            .windows(2)
            .filter(|w| w[0].starts_with("*-") && w[1].starts_with('\t'))
            .map(|w| w[0].chars().filter(|c| !matches!(c, '*' | '_')).collect())
            .collect();
        assert_eq!(want.len(), 5, "{want:?}");
        want.sort();
        got.sort();
        assert_eq!(got, want);
    }
}
