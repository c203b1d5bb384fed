//! JSON (RFC 8259): a small strict parser from bytes to a [`Value`] tree, for the OCI image
//! files (`index.json`, manifests, image configs) and the OCI runtime's `config.json`.
//!
//! `parse.rs` is the parser (a pure function of bytes, with size and depth limits); this file
//! is the tree, the compact writer, and [`At`], a value with its path in the document
//! (`manifests[0].digest`) whose accessors turn a wrong type or a missing key into an error
//! that names the path. Strict: no comments, no trailing commas, no byte order mark, no
//! duplicate keys in an object (two parsers that pick different ones of a pair disagree on
//! what a hostile file says), no lone surrogates, no control characters in strings, input
//! valid UTF-8.

mod parse;
#[cfg(test)]
mod tests;

pub use parse::{parse, parse_with, Limits, ParseError};

use crate::error::{Error, Result};
use std::fmt;

/// A JSON value. Objects keep their keys in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// A number, kept as its text (valid RFC 8259 syntax), converted on request: no precision is
/// lost to a float on the way, and `1.0` stays a non-integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// The number's text as it was in the document.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An integer without fraction or exponent, if it fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.integer().then(|| self.0.parse().ok()).flatten()
    }

    /// A non-negative integer without fraction or exponent, if it fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        self.integer().then(|| self.0.parse().ok()).flatten()
    }

    /// The nearest `f64`, if it is finite.
    pub fn as_f64(&self) -> Option<f64> {
        self.0.parse::<f64>().ok().filter(|f| f.is_finite())
    }

    fn integer(&self) -> bool {
        !self.0.contains(['.', 'e', 'E'])
    }
}

impl Value {
    /// The value as the root of its document, for the path-naming accessors.
    pub fn at(&self) -> At<'_> {
        At { value: self, path: String::new() }
    }

    /// The member `key` of an object (`None` for other values).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if the value is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// What kind of value this is, as error messages name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Compact JSON: no blanks, keys in their order, numbers as their text. What [`parse`] reads
/// back to the same value.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => f.write_str(&n.0),
            Value::String(s) => f.write_str(&quote(s)),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{v}", quote(k))?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A JSON string literal: `"`, `\` and control characters escaped (`\n`, `\t`, `\u001b`).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value and its path from the document's root (`manifests[0].digest`; empty at the root).
/// The accessors return errors that start with the path: `manifests[0].size: expected an
/// integer, found a string`.
#[derive(Debug, Clone)]
pub struct At<'a> {
    pub value: &'a Value,
    path: String,
}

impl<'a> At<'a> {
    /// Where the value is (`config.Env[2]`), empty for the root.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// An error about this value: `PATH: message` (the message alone at the root).
    pub fn error(&self, message: impl fmt::Display) -> Error {
        if self.path.is_empty() {
            Error::msg(message.to_string())
        } else {
            Error::msg(format!("{}: {message}", self.path))
        }
    }

    fn wrong(&self, expected: &str) -> Error {
        self.error(format!("expected {expected}, found {}", self.value.kind()))
    }

    fn child(&self, value: &'a Value, segment: Segment<'_>) -> At<'a> {
        let mut path = self.path.clone();
        match segment {
            Segment::Index(i) => path.push_str(&format!("[{i}]")),
            Segment::Key(k) if is_identifier(k) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Segment::Key(k) => path.push_str(&format!("[{}]", quote(k))),
        }
        At { value, path }
    }

    fn members(&self) -> Result<&'a [(String, Value)]> {
        match self.value {
            Value::Object(m) => Ok(m),
            _ => Err(self.wrong("an object")),
        }
    }

    /// Member `key` of this object; `None` when it is missing or `null` (as Go's encoder
    /// writes an empty list: `"Cmd": null`). An error if this is not an object.
    pub fn opt(&self, key: &str) -> Result<Option<At<'a>>> {
        let found = self.members()?.iter().find(|(k, _)| k == key);
        Ok(found.filter(|(_, v)| *v != Value::Null).map(|(k, v)| self.child(v, Segment::Key(k))))
    }

    /// Member `key` of this object, which must be there (and not `null`).
    pub fn req(&self, key: &str) -> Result<At<'a>> {
        self.opt(key)?.ok_or_else(|| self.error(format!("missing {}", quote(key))))
    }

    /// The members of this object, in document order, each with its path.
    pub fn entries(&self) -> Result<Vec<(&'a str, At<'a>)>> {
        Ok(self.members()?.iter().map(|(k, v)| (k.as_str(), self.child(v, Segment::Key(k)))).collect())
    }

    /// The items of this array, each with its path.
    pub fn items(&self) -> Result<Vec<At<'a>>> {
        match self.value {
            Value::Array(items) => {
                Ok(items.iter().enumerate().map(|(i, v)| self.child(v, Segment::Index(i))).collect())
            }
            _ => Err(self.wrong("an array")),
        }
    }

    /// This string.
    pub fn str(&self) -> Result<&'a str> {
        self.value.as_str().ok_or_else(|| self.wrong("a string"))
    }

    /// This array of strings.
    pub fn strings(&self) -> Result<Vec<&'a str>> {
        self.items()?.iter().map(At::str).collect()
    }

    /// This boolean.
    pub fn bool(&self) -> Result<bool> {
        match self.value {
            Value::Bool(b) => Ok(*b),
            _ => Err(self.wrong("a boolean")),
        }
    }

    /// This non-negative integer.
    pub fn u64(&self) -> Result<u64> {
        match self.value {
            Value::Number(n) => n.as_u64().ok_or_else(|| self.error(format!("not a non-negative integer: {}", n.0))),
            _ => Err(self.wrong("an integer")),
        }
    }

    /// This integer.
    pub fn i64(&self) -> Result<i64> {
        match self.value {
            Value::Number(n) => n.as_i64().ok_or_else(|| self.error(format!("not a 64-bit integer: {}", n.0))),
            _ => Err(self.wrong("an integer")),
        }
    }
}

enum Segment<'k> {
    Key(&'k str),
    Index(usize),
}

/// Keys written `.key` in a path; others are written `["key"]`.
fn is_identifier(k: &str) -> bool {
    let mut chars = k.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
