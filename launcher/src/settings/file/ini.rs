//! The systemd INI lexer (systemd.syntax(7), `config_parse()` and `parse_line()` in
//! `src/shared/conf-parser.c`): bytes in, numbered logical lines out, each a section header,
//! an assignment or a malformed line. Sections and keys mean nothing here (`file.rs`).
//!
//! As systemd: a line ends at `\n`, `\r`, `\0` or a run of distinct ones (`\r\n`, `\n\r\0`);
//! a UTF-8 byte order mark opens the file at most once; a line whose first non-blank
//! character is `#` or `;` is a comment, also in the middle of a continuation; a line ending
//! in an unescaped backslash goes on on the next line, the backslash becoming a space; an
//! empty line ends a continuation; lines longer than 1 MiB are refused. The lines that are
//! not comments must be UTF-8.

/// systemd's `LONG_LINE_MAX`.
const LONG_LINE_MAX: usize = 1 << 20;

/// What a logical line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `[NAME]`: the name between the brackets, verbatim (`[ Exec ]` is ` Exec `).
    Section(String),
    /// `KEY=VALUE`, both without surrounding whitespace.
    Assignment { key: String, value: String },
    /// A line with no `=` (systemd warns and goes on).
    MissingEquals,
    /// `=VALUE` (systemd warns and goes on).
    MissingKey,
}

/// One logical line: the number of its first physical line (1-based) and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub number: usize,
    pub item: Item,
}

/// A lexing error: the line and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub line: usize,
    pub message: String,
}

fn lex_error(line: usize, message: impl Into<String>) -> LexError {
    LexError { line, message: message.into() }
}

/// systemd's `WHITESPACE`.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The end-of-line kind of a byte (systemd's `EndOfLineMarker`), 0 for none.
fn eol_kind(b: u8) -> u8 {
    match b {
        b'\n' => 1,
        b'\r' => 2,
        0 => 4,
        _ => 0,
    }
}

/// Splits `bytes` into physical lines as systemd's `read_line()`.
fn physical_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && eol_kind(bytes[i]) == 0 {
            i += 1;
        }
        lines.push(&bytes[start..i]);
        let mut seen = 0u8;
        while i < bytes.len() {
            let kind = eol_kind(bytes[i]);
            if kind == 0 || seen & 4 != 0 || seen & kind != 0 {
                break;
            }
            seen |= kind;
            i += 1;
        }
    }
    lines
}

/// Whether the line ends in a backslash that is not itself escaped.
fn ends_in_backslash(line: &str) -> bool {
    let mut escaped = false;
    for b in line.bytes() {
        escaped = !escaped && b == b'\\';
    }
    escaped
}

/// systemd's `string_is_safe()`: no control characters, quotes or backslashes.
pub fn string_is_safe(s: &str) -> bool {
    !s.chars().any(|c| c < ' ' || c == '\x7f' || matches!(c, '"' | '\'' | '\\'))
}

/// Lexes a whole file.
pub fn lines(bytes: &[u8]) -> Result<Vec<Line>, LexError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut out = Vec::new();
    // The logical line being continued: its first line number and text so far.
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in physical_lines(bytes).into_iter().enumerate() {
        let number = i + 1;
        if raw.len() > LONG_LINE_MAX {
            return Err(lex_error(number, "line too long"));
        }
        let first = raw.iter().position(|b| !is_blank(*b));
        if first.is_some_and(|f| matches!(raw[f], b'#' | b';')) {
            continue;
        }
        let text = std::str::from_utf8(raw).map_err(|_| lex_error(number, "invalid UTF-8"))?;
        let (start, mut logical) = match pending.take() {
            Some((start, mut so_far)) => {
                if so_far.len() + text.len() > LONG_LINE_MAX {
                    return Err(lex_error(number, "continuation line too long"));
                }
                so_far.push_str(text);
                (start, so_far)
            }
            None => (number, text.to_string()),
        };
        if ends_in_backslash(text) {
            logical.pop();
            logical.push(' ');
            pending = Some((start, logical));
            continue;
        }
        if let Some(item) = parse_line(start, &logical)? {
            out.push(Line { number: start, item });
        }
    }
    if let Some((start, logical)) = pending {
        if let Some(item) = parse_line(start, &logical)? {
            out.push(Line { number: start, item });
        }
    }
    Ok(out)
}

/// systemd's `parse_line()` on one logical line; `None` for a blank one.
fn parse_line(number: usize, line: &str) -> Result<Option<Item>, LexError> {
    let l = line.trim_matches(|c: char| c.is_ascii() && is_blank(c as u8));
    if l.is_empty() {
        return Ok(None);
    }
    if let Some(rest) = l.strip_prefix('[') {
        let name = rest.strip_suffix(']').ok_or_else(|| lex_error(number, format!("invalid section header {l:?}")))?;
        if !string_is_safe(name) {
            return Err(lex_error(number, format!("bad characters in section header {l:?}")));
        }
        return Ok(Some(Item::Section(name.to_string())));
    }
    let strip = |s: &str| s.trim_matches(|c: char| c.is_ascii() && is_blank(c as u8)).to_string();
    Ok(Some(match l.split_once('=') {
        None => Item::MissingEquals,
        Some(("", _)) => Item::MissingKey,
        Some((key, value)) => Item::Assignment { key: strip(key), value: strip(value) },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign(number: usize, key: &str, value: &str) -> Line {
        Line { number, item: Item::Assignment { key: key.into(), value: value.into() } }
    }

    fn section(number: usize, name: &str) -> Line {
        Line { number, item: Item::Section(name.into()) }
    }

    fn lex(s: &[u8]) -> Vec<Line> {
        lines(s).unwrap()
    }

    fn fail(s: &[u8]) -> (usize, String) {
        let e = lines(s).unwrap_err();
        (e.line, e.message)
    }

    #[test]
    fn line_endings_as_read_line() {
        let want = vec![section(1, "Exec"), assign(2, "A", "1"), assign(3, "B", "2")];
        assert_eq!(lex(b"[Exec]\nA=1\nB=2\n"), want);
        assert_eq!(lex(b"[Exec]\r\nA=1\r\nB=2"), want);
        assert_eq!(lex(b"[Exec]\rA=1\n\rB=2\r\n\0"), want);
        assert_eq!(lex(b"[Exec]\0A=1\nB=2"), want);
        // A repeated marker is a new (empty) line.
        assert_eq!(lex(b"[Exec]\n\nA=1\r\rB=2"), vec![section(1, "Exec"), assign(3, "A", "1"), assign(5, "B", "2")]);
        assert_eq!(lex(b""), vec![]);
        assert_eq!(lex(b"\n\n"), vec![]);
    }

    #[test]
    fn comments_blanks_and_bom() {
        let s = b"\xef\xbb\xbf# comment\n  ; also\n\n\t[Exec]  \n  Key  =  v a l  \n#x\xff\n";
        assert_eq!(lex(s), vec![section(4, "Exec"), assign(5, "Key", "v a l")]);
        // Only at the very start: elsewhere it is part of the text.
        assert_eq!(lex(b"[Exec]\n\xef\xbb\xbfA=1\n")[1], assign(2, "\u{feff}A", "1"));
    }

    #[test]
    fn continuation() {
        assert_eq!(lex(b"A=a \\\n  b\\\nc\n"), vec![assign(1, "A", "a    b c")]);
        // Comments in the middle are skipped; an empty line ends it; so does the end of the file.
        assert_eq!(lex(b"A=a \\\n# c\n  b\n"), vec![assign(1, "A", "a    b")]);
        assert_eq!(lex(b"A=a\\\n\nB=b\\"), vec![assign(1, "A", "a"), assign(3, "B", "b")]);
        // An escaped backslash does not continue; a blank after the backslash neither.
        assert_eq!(lex(b"A=a\\\\\nB=b\\ \n"), vec![assign(1, "A", "a\\\\"), assign(2, "B", "b\\")]);
        assert_eq!(lex(b"[Ex\\\nec]\n"), vec![section(1, "Ex ec")]);
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(
            lex(b"[Exec]\nNoEquals\n=x\n.include /x\n"),
            vec![
                section(1, "Exec"),
                Line { number: 2, item: Item::MissingEquals },
                Line { number: 3, item: Item::MissingKey },
                Line { number: 4, item: Item::MissingEquals },
            ]
        );
        assert_eq!(lex(b"[ Exec ]\n[]\n[Exec]]\n"), vec![section(1, " Exec "), section(2, ""), section(3, "Exec]")]);
        assert_eq!(fail(b"A=1\n[Exec\n"), (2, "invalid section header \"[Exec\"".into()));
        assert_eq!(fail(b"[Ex\"ec]\n"), (1, "bad characters in section header \"[Ex\\\"ec]\"".into()));
        assert_eq!(fail(b"[Exec]\nA=\xff\n"), (2, "invalid UTF-8".into()));
        assert_eq!(fail(b"A=a\\\n\xff\n"), (2, "invalid UTF-8".into()));
    }

    #[test]
    fn long_lines() {
        let mut long = b"A=".to_vec();
        long.extend(vec![b'x'; LONG_LINE_MAX]);
        assert_eq!(fail(&long), (1, "line too long".into()));
        let half = "x".repeat(LONG_LINE_MAX / 2 + 1);
        let cont = format!("A={half}\\\n{half}\n");
        assert_eq!(fail(cont.as_bytes()), (2, "continuation line too long".into()));
    }

    #[test]
    fn safe_strings() {
        assert!(string_is_safe("Exec"));
        assert!(string_is_safe("a b-ä"));
        for bad in ["a\"b", "a'b", "a\\b", "a\x01", "a\x7f"] {
            assert!(!string_is_safe(bad), "{bad:?}");
        }
    }
}
