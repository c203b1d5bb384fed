//! Fuzzes the JSON parser `json::parse(bytes)` (OCI image files, the OCI runtime's config).
//!
//! Input: a document's bytes (any bytes: non-UTF-8, NUL, deep nesting).
//!
//! Invariants:
//! 1. `parse` never panics and is deterministic.
//! 2. An error points into the input: `offset <= len`, `line` is one more than the line feeds
//!    before `offset`, `column` is the distance from the last one; the message is one line.
//! 3. Accepted input is UTF-8 and nests no deeper than the limit.
//! 4. Round trip: the value written compactly (`Display`) parses back to the same value, and
//!    writing that again gives the same text.
//! 5. No object has two equal keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spawnbox::json::{parse, Limits, Value};

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 0,
    }
}

fn unique_keys(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().all(unique_keys),
        Value::Object(members) => {
            let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
            keys.sort_unstable();
            keys.windows(2).all(|w| w[0] != w[1]) && members.iter().all(|(_, v)| unique_keys(v))
        }
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let first = parse(data);
    assert_eq!(first, parse(data), "parse is not deterministic");
    let v = match first {
        Err(e) => {
            assert!(e.offset <= data.len(), "{e}");
            let before = &data[..e.offset];
            assert_eq!(e.line, before.iter().filter(|b| **b == b'\n').count() + 1, "{e}");
            let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            assert_eq!(e.column, e.offset - line_start + 1, "{e}");
            assert!(!e.message.is_empty() && !e.message.contains('\n'), "{e}");
            return;
        }
        Ok(v) => v,
    };
    assert!(std::str::from_utf8(data).is_ok(), "accepted non-UTF-8");
    assert!(depth(&v) <= Limits::DEFAULT.max_depth, "too deep: {}", depth(&v));
    assert!(unique_keys(&v), "duplicate keys accepted");
    let text = v.to_string();
    let back = parse(text.as_bytes()).unwrap_or_else(|e| panic!("round trip: {e}\n{text}"));
    assert_eq!(back, v, "round trip:\n{text}");
    assert_eq!(back.to_string(), text);
});
