//! The parser: recursive descent over bytes, with a depth limit (so the recursion is bounded)
//! and a size limit, errors naming the line, column and byte offset.

use super::{Number, Value};
use std::fmt;

/// What [`parse_with`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest document, in bytes.
    pub max_size: usize,
    /// The deepest nesting of arrays and objects (the root container is depth 1).
    pub max_depth: usize,
}

impl Limits {
    /// 8 MiB and 64 levels: OCI manifests are capped at 4 MiB by registries, and neither they
    /// nor runtime configs nest more than about 8 levels.
    pub const DEFAULT: Limits = Limits { max_size: 8 << 20, max_depth: 64 };
}

/// Where and why a document is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The byte offset of the offending byte (the input's length at its end).
    pub offset: usize,
    /// 1-based line (lines end at `\n`).
    pub line: usize,
    /// 1-based column, in bytes.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {} (byte {}): {}", self.line, self.column, self.offset, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a JSON document with [`Limits::DEFAULT`].
pub fn parse(bytes: &[u8]) -> Result<Value, ParseError> {
    parse_with(bytes, Limits::DEFAULT)
}

/// Parses a JSON document: one value, blanks around it, nothing else.
pub fn parse_with(bytes: &[u8], limits: Limits) -> Result<Value, ParseError> {
    let p = Parser { b: bytes, i: 0, depth: 0, limits };
    if bytes.len() > limits.max_size {
        return Err(p.error_at(0, format!("document larger than {} bytes", limits.max_size)));
    }
    // Valid UTF-8 up front: strings can then be cut at ASCII bytes without checking again.
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(p.error_at(e.valid_up_to(), "invalid UTF-8".into()));
    }
    let mut p = p;
    p.blanks();
    let v = p.value()?;
    p.blanks();
    if p.i < bytes.len() {
        return Err(p.error("unexpected characters after the value"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
    limits: Limits,
}

type R<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn error_at(&self, offset: usize, message: String) -> ParseError {
        let before = &self.b[..offset.min(self.b.len())];
        let line = before.iter().filter(|c| **c == b'\n').count() + 1;
        let column = offset - before.iter().rposition(|c| *c == b'\n').map_or(0, |p| p + 1) + 1;
        ParseError { offset, line, column, message }
    }

    fn error(&self, message: &str) -> ParseError {
        let message = match self.peek() {
            None => format!("{message} (end of input)"),
            Some(c) if c.is_ascii_graphic() => format!("{message}, found '{}'", c as char),
            Some(c) => format!("{message}, found byte 0x{c:02x}"),
        };
        self.error_at(self.i, message)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// RFC 8259's whitespace: space, tab, line feed, carriage return.
    fn blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> R<Value> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn value(&mut self) -> R<Value> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ => Err(self.error("expected a value")),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> R<Value>) -> R<Value> {
        if self.depth >= self.limits.max_depth {
            return Err(self.error_at(self.i, format!("nested deeper than {} levels", self.limits.max_depth)));
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn array(&mut self) -> R<Value> {
        self.i += 1; // '['
        let mut items = Vec::new();
        self.blanks();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.blanks();
            items.push(self.value()?);
            self.blanks();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self) -> R<Value> {
        let start = self.i;
        self.i += 1; // '{'
        let mut members: Vec<(String, Value)> = Vec::new();
        self.blanks();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.blanks();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.blanks();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':'"));
            }
            self.i += 1;
            self.blanks();
            let v = self.value()?;
            members.push((key, v));
            self.blanks();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
        // Duplicates by sorting (n log n: a hostile object of a million keys stays cheap).
        let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        crate::sort::sort(&mut keys);
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(self.error_at(start, format!("duplicate key {} in object", super::quote(w[0]))));
        }
        Ok(Value::Object(members))
    }

    /// Four hex digits after `\u`.
    fn hex4(&mut self) -> R<u32> {
        let digits = self.b.get(self.i..self.i + 4).filter(|d| d.iter().all(u8::is_ascii_hexdigit));
        let Some(d) = digits else {
            return Err(self.error_at(self.i, "expected four hex digits after \\u".into()));
        };
        self.i += 4;
        // ASCII hex digits, so the text and the number are both there.
        Ok(std::str::from_utf8(d).ok().and_then(|s| u32::from_str_radix(s, 16).ok()).unwrap_or(0))
    }

    fn string(&mut self) -> R<String> {
        self.i += 1; // '"'
        let mut out = String::new();
        loop {
            let run = self.i;
            while matches!(self.peek(), Some(c) if c != b'"' && c != b'\\' && c >= 0x20) {
                self.i += 1;
            }
            // The input is valid UTF-8 and the run stops at ASCII bytes only.
            out.push_str(std::str::from_utf8(&self.b[run..self.i]).unwrap_or_default());
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let at = self.i;
                    self.i += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let c = self.unicode(at)?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.error_at(at, "invalid escape in string".into())),
                    };
                    self.i += 1;
                    out.push(c);
                }
                Some(c) => return Err(self.error_at(self.i, format!("control character 0x{c:02x} in string"))),
            }
        }
    }

    /// The character of a `\uXXXX` escape (the `\u` at `at` is read), a surrogate pair joined.
    fn unicode(&mut self, at: usize) -> R<char> {
        let hi = self.hex4()?;
        let code = match hi {
            0xd800..=0xdbff => {
                if !self.b[self.i..].starts_with(b"\\u") {
                    return Err(self.error_at(at, format!("lone surrogate \\u{hi:04x} in string")));
                }
                self.i += 2;
                let lo = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&lo) {
                    return Err(self.error_at(at, format!("lone surrogate \\u{hi:04x} in string")));
                }
                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(self.error_at(at, format!("lone surrogate \\u{hi:04x} in string"))),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.error_at(at, "invalid \\u escape".into()))
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> R<Value> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).unwrap_or_default();
        Ok(Value::Number(Number(text.to_string())))
    }
}
