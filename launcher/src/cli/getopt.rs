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
        Getopt {
            args,
            table,
            index: 0,
            cluster: None,
            operands: None,
        }
    }

    /// The operands (the payload's argv), valid once `next_option` returned `None`.
    pub fn operands(&self) -> &'a [OsString] {
        let start = self
            .operands
            .unwrap_or(self.args.len())
            .min(self.args.len());
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
        let spec = self
            .table
            .iter()
            .find(|s| c.is_ascii() && s.short == Some(char::from(c)))
            .ok_or_else(|| {
                let shown = if c.is_ascii() {
                    char::from(c).to_string()
                } else {
                    format!("\\x{c:02x}")
                };
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
                    let v = self.take_next().ok_or_else(|| {
                        Error::msg(format!(
                            "option requires an argument -- '{}'",
                            char::from(c)
                        ))
                    })?;
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
        let spec = match self
            .table
            .iter()
            .filter(named)
            .find(|s| s.long.as_bytes() == name)
        {
            Some(exact) => exact,
            None => {
                let candidates: Vec<&'static OptSpec> = self
                    .table
                    .iter()
                    .filter(named)
                    .filter(|s| !name.is_empty() && s.long.as_bytes().starts_with(name))
                    .collect();
                match candidates.as_slice() {
                    [] => {
                        return Err(Error::msg(format!(
                            "unrecognized option '{}'",
                            lossy(whole)
                        )))
                    }
                    [one] => *one,
                    many => {
                        let list: Vec<String> =
                            many.iter().map(|s| format!("'--{}'", s.long)).collect();
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
                    return Err(Error::msg(format!(
                        "option '--{}' doesn't allow an argument",
                        spec.long
                    )));
                }
                None
            }
            ArgKind::Required => match attached {
                Some(v) => Some(v),
                None => Some(self.take_next().ok_or_else(|| {
                    Error::msg(format!("option '--{}' requires an argument", spec.long))
                })?),
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
