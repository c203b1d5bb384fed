//! The tokenizer: walks argv exactly as glibc's `getopt_long()` with a leading `+` does
//! (clustered short options, `--opt=value` and `--opt value`, unique-prefix abbreviations,
//! optional values only after `=`, stop at the first non-option word or after `--`).

use super::table::{ArgKind, OptSpec};
use crate::error::Error;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

type Result<T> = std::result::Result<T, Error>;

/// One option found on the command line, with its value if it took one.
#[derive(Debug)]
pub struct Found {
    pub spec: &'static OptSpec,
    pub value: Option<OsString>,
}

/// A cursor over argv (without argv[0]).
pub struct Getopt<'a> {
    args: &'a [OsString],
    table: &'static [OptSpec],
    /// The next argv element to look at.
    index: usize,
    /// Inside a short-option cluster: (argv index, byte offset of the next option character).
    cluster: Option<(usize, usize)>,
    /// Where the operands start, once options have ended.
    operands: Option<usize>,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn os(b: &[u8]) -> OsString {
    OsStr::from_bytes(b).to_os_string()
}

impl<'a> Getopt<'a> {
    /// A cursor at the start of `args`.
    pub fn new(args: &'a [OsString], table: &'static [OptSpec]) -> Self {
        Getopt { args, table, index: 0, cluster: None, operands: None }
    }

    /// The operands (the payload's argv), valid once `next_option` returned `None`.
    pub fn operands(&self) -> &'a [OsString] {
        let start = self.operands.unwrap_or(self.args.len()).min(self.args.len());
        &self.args[start..]
    }

    /// The next option, `None` when options have ended, or the getopt-style error.
    pub fn next_option(&mut self) -> Result<Option<Found>> {
        if let Some((i, off)) = self.cluster {
            return self.short(i, off).map(Some);
        }
        if self.operands.is_some() {
            return Ok(None);
        }
        let Some(arg) = self.args.get(self.index) else {
            self.operands = Some(self.index);
            return Ok(None);
        };
        let bytes = arg.as_bytes();
        if bytes == b"--" {
            self.operands = Some(self.index + 1);
            return Ok(None);
        }
        if let Some(body) = bytes.strip_prefix(b"--") {
            self.index += 1;
            return self.long(bytes, body).map(Some);
        }
        if bytes.len() > 1 && bytes[0] == b'-' {
            let i = self.index;
            self.index += 1;
            return self.short(i, 1).map(Some);
        }
        self.operands = Some(self.index);
        Ok(None)
    }

    /// Takes the next argv element as an option's value.
    fn take_next(&mut self) -> Option<OsString> {
        let v = self.args.get(self.index)?.clone();
        self.index += 1;
        Some(v)
    }

    fn short(&mut self, i: usize, off: usize) -> Result<Found> {
        let arg = self.args[i].as_bytes();
        let c = arg[off];
        let rest = &arg[off + 1..];
        self.cluster = None;
        let spec = self.table.iter().find(|s| c.is_ascii() && s.short == Some(char::from(c))).ok_or_else(|| {
            let shown = if c.is_ascii() { char::from(c).to_string() } else { format!("\\x{c:02x}") };
            Error::msg(format!("invalid option -- '{shown}'"))
        })?;
        let value = match spec.arg {
            ArgKind::None => {
                if !rest.is_empty() {
                    self.cluster = Some((i, off + 1));
                }
                None
            }
            ArgKind::Required => {
                if !rest.is_empty() {
                    Some(os(rest))
                } else {
                    let v = self
                        .take_next()
                        .ok_or_else(|| Error::msg(format!("option requires an argument -- '{}'", char::from(c))))?;
                    Some(v)
                }
            }
            ArgKind::Optional | ArgKind::OptionalOrNext => (!rest.is_empty()).then(|| os(rest)),
        };
        Ok(Found { spec, value })
    }

    fn long(&mut self, whole: &[u8], body: &[u8]) -> Result<Found> {
        let (name, attached) = match body.iter().position(|&b| b == b'=') {
            Some(eq) => (&body[..eq], Some(os(&body[eq + 1..]))),
            None => (body, None),
        };
        let named = |s: &&OptSpec| !s.long.is_empty();
        let spec = match self.table.iter().filter(named).find(|s| s.long.as_bytes() == name) {
            Some(exact) => exact,
            None => {
                let candidates: Vec<&'static OptSpec> = self
                    .table
                    .iter()
                    .filter(named)
                    .filter(|s| !name.is_empty() && s.long.as_bytes().starts_with(name))
                    .collect();
                match candidates.as_slice() {
                    [] => return Err(Error::msg(format!("unrecognized option '{}'", lossy(whole)))),
                    [one] => *one,
                    many => {
                        let list: Vec<String> = many.iter().map(|s| format!("'--{}'", s.long)).collect();
                        return Err(Error::msg(format!(
                            "option '{}' is ambiguous; possibilities: {}",
                            lossy(whole),
                            list.join(" ")
                        )));
                    }
                }
            }
        };
        let value = match spec.arg {
            ArgKind::None => {
                if attached.is_some() {
                    return Err(Error::msg(format!("option '--{}' doesn't allow an argument", spec.long)));
                }
                None
            }
            ArgKind::Required => match attached {
                Some(v) => Some(v),
                None => Some(
                    self.take_next()
                        .ok_or_else(|| Error::msg(format!("option '--{}' requires an argument", spec.long)))?,
                ),
            },
            ArgKind::Optional => attached,
            // `--user NAME`: the next word is taken when it does not look like an option.
            ArgKind::OptionalOrNext => match attached {
                Some(v) => Some(v),
                None => match self.args.get(self.index) {
                    Some(next) if !next.as_bytes().starts_with(b"-") => self.take_next(),
                    _ => None,
                },
            },
        };
        Ok(Found { spec, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::table::OPTIONS;
    use std::os::unix::ffi::OsStringExt;

    /// (option name, value) pairs and the operands.
    fn walk(args: &[&str]) -> (Vec<(String, Option<String>)>, Vec<String>) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let mut g = Getopt::new(&args, OPTIONS);
        let mut found = Vec::new();
        while let Some(f) = g.next_option().unwrap() {
            let name =
                if f.spec.long.is_empty() { format!("-{}", f.spec.short.unwrap()) } else { f.spec.long.to_string() };
            found.push((name, f.value.map(|v| v.into_string().unwrap())));
        }
        let ops = g.operands().iter().map(|o| o.to_str().unwrap().to_string()).collect();
        (found, ops)
    }

    fn opt(name: &str, value: Option<&str>) -> (String, Option<String>) {
        (name.to_string(), value.map(str::to_string))
    }

    #[test]
    fn cluster_then_separate_value() {
        let (found, ops) = walk(&["-bUD", "dir", "cmd"]);
        assert_eq!(found, [opt("boot", None), opt("-U", None), opt("directory", Some("dir"))]);
        assert_eq!(ops, ["cmd"]);
    }

    #[test]
    fn attached_short_value_ends_the_cluster() {
        let (found, ops) = walk(&["-qD/r-b", "-b"]);
        assert_eq!(found, [opt("quiet", None), opt("directory", Some("/r-b")), opt("boot", None)]);
        assert!(ops.is_empty());
    }

    #[test]
    fn required_value_may_look_like_an_option() {
        let (found, _) = walk(&["-D", "-b", "--machine", "--quiet"]);
        assert_eq!(found, [opt("directory", Some("-b")), opt("machine", Some("--quiet"))]);
    }

    #[test]
    fn empty_attached_values() {
        let (found, _) = walk(&["--directory=", "--volatile="]);
        assert_eq!(found, [opt("directory", Some("")), opt("volatile", Some(""))]);
    }

    #[test]
    fn user_takes_a_following_name_only() {
        let (found, ops) = walk(&["--user", "alice", "cmd"]);
        assert_eq!(found, [opt("user", Some("alice"))]);
        assert_eq!(ops, ["cmd"]);
        let (found, _) = walk(&["--user", "-b"]);
        assert_eq!(found, [opt("user", None), opt("boot", None)]);
        let (found, ops) = walk(&["--user"]);
        assert_eq!((found, ops), (vec![opt("user", None)], vec![]));
    }

    #[test]
    fn operands_start_at_the_first_non_option() {
        assert_eq!(walk(&["-b", "init", "-b"]).1, ["init", "-b"]);
        assert_eq!(walk(&["-b", "--", "--", "-b"]).1, ["--", "-b"]);
        assert_eq!(walk(&["-", "-b"]).1, ["-", "-b"]);
        assert!(walk(&["-b"]).1.is_empty());
    }

    #[test]
    fn non_ascii_short_option() {
        let args = vec![OsString::from_vec(vec![b'-', 0xc3, 0xa4])];
        let mut g = Getopt::new(&args, OPTIONS);
        assert_eq!(g.next_option().unwrap_err().to_string(), "invalid option -- '\\xc3'");
    }

    #[test]
    fn non_utf8_long_option_is_shown_lossily() {
        let args = vec![OsString::from_vec(b"--fo\xff".to_vec())];
        let mut g = Getopt::new(&args, OPTIONS);
        assert_eq!(g.next_option().unwrap_err().to_string(), "unrecognized option '--fo\u{fffd}'");
    }
}
