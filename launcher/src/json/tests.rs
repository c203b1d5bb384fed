//! The parser on golden documents, every error with its exact text and place, the limits,
//! the writer (round trip) and the path-naming accessors.

use super::*;

fn ok(s: &str) -> Value {
    parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &[u8]) -> String {
    parse(s).map(|v| panic!("{s:?} parsed as {v:?}")).unwrap_err().to_string()
}

fn num(s: &str) -> Value {
    Value::Number(Number(s.to_string()))
}

fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

#[test]
fn golden_values() {
    assert_eq!(ok("null"), Value::Null);
    assert_eq!(ok(" \t\r\ntrue\n"), Value::Bool(true));
    assert_eq!(ok("false"), Value::Bool(false));
    assert_eq!(ok("[]"), Value::Array(vec![]));
    assert_eq!(ok("{ }"), Value::Object(vec![]));
    assert_eq!(
        ok("[1, -0, 2.5e-3, -1E+2, 0.0]"),
        Value::Array(vec![num("1"), num("-0"), num("2.5e-3"), num("-1E+2"), num("0.0")])
    );
    assert_eq!(
        ok(r#"{"b": [true, null], "a": {"x": "y"}}"#),
        Value::Object(vec![
            ("b".into(), Value::Array(vec![Value::Bool(true), Value::Null])),
            ("a".into(), Value::Object(vec![("x".into(), string("y"))])),
        ])
    );
}

#[test]
fn strings_and_escapes() {
    assert_eq!(ok(r#""a\"b\\c\/d\b\f\n\r\t""#), string("a\"b\\c/d\u{8}\u{c}\n\r\t"));
    assert_eq!(ok(r#""\u0041\u00e9\u20AC""#), string("Aé€"));
    assert_eq!(ok(r#""\u0000""#), string("\0"));
    // A surrogate pair is one character (U+1F600), raw UTF-8 passes through.
    assert_eq!(ok(r#""\ud83d\ude00 😀 ü""#), string("\u{1f600} 😀 ü"));
    assert_eq!(ok(r#""\uDBFF\uDFFF""#), string("\u{10ffff}"));
}

#[test]
fn numbers() {
    let n = |s: &str| match ok(s) {
        Value::Number(n) => n,
        v => panic!("{v:?}"),
    };
    assert_eq!(n("9223372036854775807").as_i64(), Some(i64::MAX));
    assert_eq!(n("-9223372036854775808").as_i64(), Some(i64::MIN));
    assert_eq!(n("9223372036854775808").as_i64(), None);
    assert_eq!(n("18446744073709551615").as_u64(), Some(u64::MAX));
    assert_eq!(n("18446744073709551616").as_u64(), None);
    assert_eq!(n("-1").as_u64(), None);
    assert_eq!(n("1.0").as_u64(), None);
    assert_eq!(n("1e3").as_i64(), None);
    assert_eq!(n("1e3").as_f64(), Some(1000.0));
    assert_eq!(n("-2.5").as_f64(), Some(-2.5));
    assert_eq!(n("1e999").as_f64(), None);
    assert_eq!(n("123456789012345678901234567890").as_str(), "123456789012345678901234567890");
}

#[test]
fn errors_name_line_column_and_byte() {
    for (input, want) in [
        (&b""[..], "line 1 column 1 (byte 0): expected a value (end of input)"),
        (b"  ", "line 1 column 3 (byte 2): expected a value (end of input)"),
        (b"{\"a\": 1,}", "line 1 column 9 (byte 8): expected a string key, found '}'"),
        (b"[1,]", "line 1 column 4 (byte 3): expected a value, found ']'"),
        (b"[1 2]", "line 1 column 4 (byte 3): expected ',' or ']', found '2'"),
        (b"{\"a\" 1}", "line 1 column 6 (byte 5): expected ':', found '1'"),
        (b"{\"a\": 1 \"b\": 2}", "line 1 column 9 (byte 8): expected ',' or '}', found '\"'"),
        (b"{\n  \"a\": tru\n}", "line 2 column 8 (byte 9): expected a value, found 't'"),
        (b"[1]\n[2]", "line 2 column 1 (byte 4): unexpected characters after the value, found '['"),
        (b"01", "line 1 column 2 (byte 1): unexpected characters after the value, found '1'"),
        (b"-", "line 1 column 2 (byte 1): expected a digit (end of input)"),
        (b"1.", "line 1 column 3 (byte 2): expected a digit after '.' (end of input)"),
        (b"1e+", "line 1 column 4 (byte 3): expected a digit in the exponent (end of input)"),
        (b".5", "line 1 column 1 (byte 0): expected a value, found '.'"),
        (b"+1", "line 1 column 1 (byte 0): expected a value, found '+'"),
        (b"NaN", "line 1 column 1 (byte 0): expected a value, found 'N'"),
        (b"\"abc", "line 1 column 5 (byte 4): unterminated string (end of input)"),
        (b"\"a\tb\"", "line 1 column 3 (byte 2): control character 0x09 in string"),
        (b"\"a\\x\"", "line 1 column 3 (byte 2): invalid escape in string"),
        (b"\"\\u12\"", "line 1 column 4 (byte 3): expected four hex digits after \\u"),
        (b"\"\\ud800\"", "line 1 column 2 (byte 1): lone surrogate \\ud800 in string"),
        (b"\"\\ud800\\u0041\"", "line 1 column 2 (byte 1): lone surrogate \\ud800 in string"),
        (b"\"\\udc00\"", "line 1 column 2 (byte 1): lone surrogate \\udc00 in string"),
        (b"[\"\xff\"]", "line 1 column 3 (byte 2): invalid UTF-8"),
        (b"\xef\xbb\xbf{}", "line 1 column 1 (byte 0): expected a value, found byte 0xef"),
        (b"{} // c", "line 1 column 4 (byte 3): unexpected characters after the value, found '/'"),
        (b"{\"a\":1,\"b\":2,\"a\":3}", "line 1 column 1 (byte 0): duplicate key \"a\" in object"),
        (b"[{\"k\":[],\"k\":{}}]", "line 1 column 2 (byte 1): duplicate key \"k\" in object"),
        (b"nul", "line 1 column 1 (byte 0): expected a value, found 'n'"),
        (b"\x00", "line 1 column 1 (byte 0): expected a value, found byte 0x00"),
    ] {
        assert_eq!(err(input), want, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn limits() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let l = Limits { max_size: 1 << 20, max_depth: 4 };
    assert!(parse_with(deep(4).as_bytes(), l).is_ok());
    assert_eq!(
        parse_with(deep(5).as_bytes(), l).unwrap_err().to_string(),
        "line 1 column 5 (byte 4): nested deeper than 4 levels"
    );
    assert_eq!(
        parse_with(b"{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", l).unwrap_err().to_string(),
        "line 1 column 21 (byte 20): nested deeper than 4 levels"
    );
    // The default limit stops a hostile nesting long before the stack would.
    let e = parse(deep(100_000).as_bytes()).unwrap_err();
    assert_eq!(e.message, "nested deeper than 64 levels");
    let small = Limits { max_size: 3, max_depth: 4 };
    assert!(parse_with(b"[1]", small).is_ok());
    assert_eq!(
        parse_with(b"[12]", small).unwrap_err().to_string(),
        "line 1 column 1 (byte 0): document larger than 3 bytes"
    );
}

#[test]
fn a_million_keys_are_checked_for_duplicates_quickly() {
    let mut s = String::from("{");
    for i in 0..200_000 {
        s.push_str(&format!("\"k{i}\":0,"));
    }
    s.push_str("\"k0\":1}");
    let t = std::time::Instant::now();
    assert_eq!(parse(s.as_bytes()).unwrap_err().message, "duplicate key \"k0\" in object");
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn writes_what_it_reads() {
    for s in [
        r#"{"schemaVersion":2,"manifests":[{"digest":"sha256:ab","size":745,"x":[true,false,null,-1.5e3]}]}"#,
        r#"["a\"b\\c\n\t\r\u0001\u007f é 😀"]"#,
        r#"{"":{},"b":[[]]}"#,
    ] {
        let v = ok(s);
        assert_eq!(v.to_string(), s);
        assert_eq!(ok(&v.to_string()), v);
    }
    assert_eq!(ok("[\"\\/\\b\\f\"]").to_string(), r#"["/\u0008\u000c"]"#);
    assert_eq!(quote("a\u{1b}b"), "\"a\\u001bb\"");
}

const MANIFEST: &str = r#"{
  "schemaVersion": 2,
  "config": {"digest": "sha256:c0", "size": 17},
  "layers": [
    {"digest": "sha256:aa", "size": 1},
    {"digest": 7, "size": -1, "annotations": {"org.opencontainers.image.title": "x"}}
  ],
  "Cmd": null
}"#;

#[test]
fn paths_name_the_value_in_errors() {
    let v = ok(MANIFEST);
    let root = v.at();
    assert_eq!(root.req("schemaVersion").unwrap().u64().unwrap(), 2);
    let layers = root.req("layers").unwrap().items().unwrap();
    assert_eq!(layers[0].req("digest").unwrap().str().unwrap(), "sha256:aa");
    assert_eq!(layers[0].path(), "layers[0]");
    assert_eq!(
        layers[1].req("digest").unwrap().str().unwrap_err().to_string(),
        "layers[1].digest: expected a string, found a number"
    );
    assert_eq!(
        layers[1].req("size").unwrap().u64().unwrap_err().to_string(),
        "layers[1].size: not a non-negative integer: -1"
    );
    assert_eq!(layers[1].req("size").unwrap().i64().unwrap(), -1);
    assert_eq!(layers[0].req("mediaType").unwrap_err().to_string(), "layers[0]: missing \"mediaType\"");
    let ann = layers[1].req("annotations").unwrap().entries().unwrap();
    assert_eq!(ann[0].0, "org.opencontainers.image.title");
    assert_eq!(ann[0].1.path(), r#"layers[1].annotations["org.opencontainers.image.title"]"#);
    // null is as good as missing (Go writes empty lists so).
    assert!(root.opt("Cmd").unwrap().is_none());
    assert_eq!(root.req("Cmd").unwrap_err().to_string(), "missing \"Cmd\"");
    assert_eq!(
        root.req("config").unwrap().items().unwrap_err().to_string(),
        "config: expected an array, found an object"
    );
    assert_eq!(root.items().unwrap_err().to_string(), "expected an array, found an object");
    let arr = ok(r#"[["a", 1]]"#);
    let first = &arr.at().items().unwrap()[0];
    assert_eq!(first.strings().unwrap_err().to_string(), "[0][1]: expected a string, found a number");
    assert_eq!(ok(r#"{"a":["x","y"]}"#).at().req("a").unwrap().strings().unwrap(), ["x", "y"]);
    assert!(ok("[true]").at().items().unwrap()[0].bool().unwrap());
    assert_eq!(ok(r#"{"a b":{"c":1}}"#).at().req("a b").unwrap().req("c").unwrap().path(), r#"["a b"].c"#);
    assert_eq!(
        v.get("schemaVersion").and_then(|n| match n {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }),
        Some(2)
    );
}
