//! spawnctl's command line: machinectl's options (GNU style: options anywhere before `--`,
//! `--opt=value` and `--opt value`, short clusters), then the verb and its operands.

use crate::error::Error;

/// `-o/--output=`: machinectl's output modes that spawnctl has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    #[default]
    Short,
    Json,
    JsonPretty,
}

/// The options, as machinectl names them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub help: bool,
    pub version: bool,
    pub no_legend: bool,
    pub all: bool,
    pub quiet: bool,
    pub read_only: bool,
    pub mkdir: bool,
    pub force: bool,
    pub value: bool,
    /// `--print`: `enable`/`disable` show what they would write and run, and change nothing.
    pub print: bool,
    /// `--wait`: `poweroff`, `reboot` and `terminate` return once it is done.
    pub wait: bool,
    pub output: Output,
    pub properties: Vec<String>,
    pub signal: Option<String>,
    pub kill_whom: Option<String>,
    /// `--uid=USER`: who `shell` runs as (as `USER@NAME`).
    pub uid: Option<String>,
    /// `-E/--setenv=VAR=VALUE`: more environment for `shell`.
    pub setenv: Vec<String>,
    /// `--format=`: the compression of `export-tar` (`uncompressed`, `gzip`, `xz`, `zstd`).
    pub format: Option<String>,
}

/// An option: long name, short letter, whether it takes a value.
pub struct Opt {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: bool,
}

const fn opt(long: &'static str, short: Option<char>, value: bool) -> Opt {
    Opt { long, short, value }
}

/// machinectl's options that spawnctl knows. `--no-pager`, `--no-ask-password` and `-l/--full`
/// change nothing here and are accepted.
pub const OPTIONS: &[Opt] = &[
    opt("help", Some('h'), false),
    opt("version", None, false),
    opt("no-legend", None, false),
    opt("no-pager", None, false),
    opt("no-ask-password", None, false),
    opt("full", Some('l'), false),
    opt("all", Some('a'), false),
    opt("quiet", Some('q'), false),
    opt("read-only", None, false),
    opt("mkdir", None, false),
    opt("force", None, false),
    opt("value", None, false),
    opt("print", None, false),
    opt("wait", None, false),
    opt("output", Some('o'), true),
    opt("property", Some('p'), true),
    opt("signal", Some('s'), true),
    opt("kill-whom", None, true),
    opt("format", None, true),
    opt("uid", None, true),
    opt("setenv", Some('E'), true),
];

/// The options, and the verb with its operands (empty: no verb given). As machinectl, what
/// follows `shell NAME` is the command's, options included.
pub fn parse(args: &[String]) -> Result<(Options, Vec<String>), Error> {
    let mut o = Options::default();
    let mut words = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            words.extend(it.by_ref().cloned());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let spec = OPTIONS
                .iter()
                .find(|s| s.long == name)
                .ok_or_else(|| Error::msg(format!("unrecognized option '--{name}'")))?;
            let value = match (spec.value, inline) {
                (true, Some(v)) => Some(v),
                (true, None) => Some(it.next().cloned().ok_or_else(|| missing(&format!("--{name}")))?),
                (false, Some(_)) => return Err(Error::msg(format!("option '--{name}' doesn't allow an argument"))),
                (false, None) => None,
            };
            set(&mut o, spec.long, value)?;
        } else if arg.len() > 1 && arg.starts_with('-') {
            let cluster: Vec<char> = arg[1..].chars().collect();
            for (i, c) in cluster.iter().enumerate() {
                let spec = OPTIONS
                    .iter()
                    .find(|s| s.short == Some(*c))
                    .ok_or_else(|| Error::msg(format!("invalid option -- '{c}'")))?;
                if !spec.value {
                    set(&mut o, spec.long, None)?;
                    continue;
                }
                let rest: String = cluster[i + 1..].iter().collect();
                let value =
                    if rest.is_empty() { it.next().cloned().ok_or_else(|| missing(&format!("-{c}")))? } else { rest };
                set(&mut o, spec.long, Some(value))?;
                break;
            }
        } else {
            words.push(arg.clone());
            // As machinectl: after `shell NAME`, options belong to the command.
            if words.len() == 2 && words[0] == "shell" {
                words.extend(it.by_ref().cloned());
                break;
            }
        }
    }
    Ok((o, words))
}

fn missing(name: &str) -> Error {
    Error::msg(format!("option '{name}' requires an argument"))
}

/// Applies option `long` (with its value).
fn set(o: &mut Options, long: &str, value: Option<String>) -> Result<(), Error> {
    let v = value.unwrap_or_default();
    match long {
        "help" => o.help = true,
        "version" => o.version = true,
        "no-legend" => o.no_legend = true,
        "all" => o.all = true,
        "quiet" => o.quiet = true,
        "read-only" => o.read_only = true,
        "mkdir" => o.mkdir = true,
        "force" => o.force = true,
        "value" => o.value = true,
        "print" => o.print = true,
        "wait" => o.wait = true,
        "output" => {
            o.output = match v.as_str() {
                "short" | "cat" => Output::Short,
                "json" | "json-seq" | "json-sse" => Output::Json,
                "json-pretty" => Output::JsonPretty,
                _ => return Err(Error::msg(format!("--output={v}: unknown output mode (short, json, json-pretty)"))),
            }
        }
        "property" => o.properties.extend(v.split(',').filter(|p| !p.is_empty()).map(str::to_string)),
        "signal" => o.signal = Some(v),
        "kill-whom" => o.kill_whom = Some(v),
        "format" => o.format = Some(v),
        "uid" => o.uid = Some(v),
        "setenv" => {
            if !v.split_once('=').is_some_and(|(k, _)| !k.is_empty() && !k.contains('\0')) {
                return Err(Error::msg(format!("--setenv={v}: expected VAR=VALUE")));
            }
            o.setenv.push(v)
        }
        _ => {} // accepted, changes nothing
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<(Options, Vec<String>), String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse(&args).map_err(|e| e.to_string())
    }

    #[test]
    fn options_anywhere_before_double_dash() {
        let (o, w) = p(&["list-images", "--no-legend", "-ao", "json", "x"]).unwrap();
        assert_eq!(w, ["list-images", "x"]);
        assert!(o.no_legend && o.all);
        assert_eq!(o.output, Output::Json);
        let (o, w) = p(&["-pName,Path", "show-image", "--property=Type", "web", "--", "-a"]).unwrap();
        assert_eq!(w, ["show-image", "web", "-a"]);
        assert_eq!(o.properties, ["Name", "Path", "Type"]);
        assert!(!o.all);
        let (o, _) = p(&["--output=json-pretty", "--no-pager", "-l"]).unwrap();
        assert_eq!(o.output, Output::JsonPretty);
        let (o, w) = p(&["shell", "-E", "A=1", "--setenv=B=x=y", "--uid=alice", "web", "/bin/ls", "-l"]).unwrap();
        assert_eq!((o.setenv, o.uid.as_deref()), (vec!["A=1".to_string(), "B=x=y".to_string()], Some("alice")));
        assert_eq!(w, ["shell", "web", "/bin/ls", "-l"]);
        let (o, w) = p(&["enable", "web", "--print"]).unwrap();
        assert_eq!(w, ["enable", "web"]);
        assert!(o.print && !o.quiet);
    }

    #[test]
    fn errors() {
        for (args, want) in [
            (&["--bogus"][..], "unrecognized option '--bogus'"),
            (&["-z"], "invalid option -- 'z'"),
            (&["-o"], "option '-o' requires an argument"),
            (&["--output"], "option '--output' requires an argument"),
            (&["--all=yes"], "option '--all' doesn't allow an argument"),
            (&["-o", "xml"], "--output=xml: unknown output mode (short, json, json-pretty)"),
            (&["-E", "=1"], "--setenv==1: expected VAR=VALUE"),
            (&["--setenv", "PATH"], "--setenv=PATH: expected VAR=VALUE"),
        ] {
            assert_eq!(p(args).unwrap_err(), want, "{args:?}");
        }
    }
}
