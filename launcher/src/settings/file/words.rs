//! Word splitting of `.nspawn` values, as systemd's `extract_first_word()` does it for the
//! two flag sets nspawn's key parsers use.

use crate::error::Error;

type Result<T> = std::result::Result<T, Error>;

/// How a value is split into words (systemd's `ExtractFlags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// Flags `0` (`Capability=`, `SystemCallFilter=`, `BindUser=`, `Interface=`, ...): a
    /// backslash takes the next character literally; quotes are ordinary characters.
    Plain,
    /// `EXTRACT_UNQUOTE|EXTRACT_RETAIN_ESCAPE` (`config_parse_strv`: `Parameters=`,
    /// `Environment=`): `'...'` and `"..."` group whitespace and are removed, also in the middle
    /// of a word (`a"b c"d` is `ab cd`); a backslash is an ordinary character.
    Unquote,
}

/// systemd's `WHITESPACE`: the word separators.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Splits `s` into words. Errors on an unterminated quote ([`Quoting::Unquote`]) or a
/// trailing backslash ([`Quoting::Plain`]), where systemd's parser fails with `EINVAL`.
pub fn split(s: &str, quoting: Quoting) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| is_separator(*c)).is_some() {}
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (quoting, quote) {
                (Quoting::Plain, _) if c == '\\' => match chars.next() {
                    Some(e) => word.push(e),
                    None => return Err(Error::msg("trailing backslash")),
                },
                (Quoting::Plain, _) | (Quoting::Unquote, None) if is_separator(c) => break,
                (Quoting::Unquote, None) if c == '\'' || c == '"' => quote = Some(c),
                (Quoting::Unquote, Some(q)) if c == q => quote = None,
                _ => word.push(c),
            }
        }
        if quote.is_some() {
            return Err(Error::msg("unbalanced quotes"));
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str, q: Quoting) -> Vec<String> {
        split(s, q).unwrap()
    }

    #[test]
    fn plain() {
        assert_eq!(ok("  a\tb  c ", Quoting::Plain), ["a", "b", "c"]);
        assert_eq!(ok("a\\ b c\\\\d", Quoting::Plain), ["a b", "c\\d"]);
        assert_eq!(ok("\"a b\"", Quoting::Plain), ["\"a", "b\""]);
        assert_eq!(ok("", Quoting::Plain), Vec::<String>::new());
        assert_eq!(split("a\\", Quoting::Plain).unwrap_err().to_string(), "trailing backslash");
    }

    #[test]
    fn unquote() {
        // The cases checked against systemd-nspawn 252's Environment= (see tests.rs).
        assert_eq!(ok("\"A=hello world\" B=x\\\\ty", Quoting::Unquote), ["A=hello world", "B=x\\\\ty"]);
        assert_eq!(ok("D=a\"b c\"d 'e \"f' \"\"", Quoting::Unquote), ["D=ab cd", "e \"f", ""]);
        assert_eq!(ok("a\\ b", Quoting::Unquote), ["a\\", "b"]);
        assert_eq!(split("\"A=x", Quoting::Unquote).unwrap_err().to_string(), "unbalanced quotes");
        assert_eq!(split("a 'b", Quoting::Unquote).unwrap_err().to_string(), "unbalanced quotes");
    }
}
