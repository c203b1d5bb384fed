//! How spawnctl prints: machinectl's aligned tables (header and `N items listed.` unless
//! `--no-legend`), JSON for `-o json`, `Key=value` lines for `show-*`, and timestamps.

use super::args::Output;

/// One cell: text for the table, and the JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Bool(bool),
    /// A size in bytes; `None` prints `n/a` (`null` in JSON).
    Bytes(Option<u64>),
    /// Microseconds since the epoch; `None` prints `n/a`.
    Time(Option<u64>),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Bool(b) => (if *b { "yes" } else { "no" }).to_string(),
            Cell::Bytes(Some(n)) => format_bytes(*n),
            Cell::Time(Some(us)) => format_timestamp(*us),
            Cell::Bytes(None) | Cell::Time(None) => "n/a".to_string(),
        }
    }

    fn json(&self) -> String {
        match self {
            Cell::Text(s) => json_string(s),
            Cell::Bool(b) => b.to_string(),
            Cell::Bytes(Some(n)) | Cell::Time(Some(n)) => n.to_string(),
            Cell::Bytes(None) | Cell::Time(None) => "null".to_string(),
        }
    }
}

/// A table: the header names (upper case as printed; lower case as JSON keys) and rows.
pub fn table(header: &[&str], rows: &[Vec<Cell>], what: &str, output: Output, legend: bool) -> String {
    match output {
        Output::Short => text_table(header, rows, what, legend),
        Output::Json | Output::JsonPretty => json_table(header, rows, output == Output::JsonPretty),
    }
}

fn text_table(header: &[&str], rows: &[Vec<Cell>], what: &str, legend: bool) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(Cell::text).collect()).collect();
    let mut width: Vec<usize> = header.iter().map(|h| if legend { h.len() } else { 0 }).collect();
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in row.iter().zip(&width).enumerate() {
            if i + 1 == row.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$} "));
            }
        }
        l.truncate(l.trim_end().len());
        l.push('\n');
        l
    };
    let mut out = String::new();
    if legend {
        out.push_str(&line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>()));
    }
    for row in &cells {
        out.push_str(&line(row));
    }
    if legend {
        if rows.is_empty() {
            out = format!("No {what} found.\n");
        } else {
            out.push_str(&format!("\n{} {what} listed.\n", rows.len()));
        }
    }
    out
}

fn json_table(header: &[&str], rows: &[Vec<Cell>], pretty: bool) -> String {
    let objects: Vec<String> = rows
        .iter()
        .map(|r| {
            let fields: Vec<String> =
                header.iter().zip(r).map(|(h, c)| format!("\"{}\":{}", h.to_ascii_lowercase(), c.json())).collect();
            if pretty {
                format!("\t{{\n\t\t{}\n\t}}", fields.join(",\n\t\t").replace("\":", "\" : "))
            } else {
                format!("{{{}}}", fields.join(","))
            }
        })
        .collect();
    if pretty {
        format!("[\n{}\n]\n", objects.join(",\n"))
    } else {
        format!("[{}]\n", objects.join(","))
    }
}

/// `Key=value` lines (`show-image`): only `properties` if any are given, the value alone with
/// `value_only`.
pub fn properties(pairs: &[(&str, String)], only: &[String], value_only: bool) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !only.is_empty() && !only.iter().any(|p| p == k) {
            continue;
        }
        if value_only {
            out.push_str(&format!("{v}\n"));
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    out
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    crate::json::quote(s)
}

/// systemd's `format_bytes()`: `1.5G`, `300M`, `12K`, `512B` (base 1024, one decimal below 10).
pub fn format_bytes(n: u64) -> String {
    const UNITS: [(char, u64); 6] =
        [('E', 1 << 60), ('P', 1 << 50), ('T', 1 << 40), ('G', 1 << 30), ('M', 1 << 20), ('K', 1 << 10)];
    for (unit, factor) in UNITS {
        if n >= factor {
            let whole = n / factor;
            let tenth = (n % factor) * 10 / factor;
            return if whole < 10 && tenth > 0 { format!("{whole}.{tenth}{unit}") } else { format!("{whole}{unit}") };
        }
    }
    format!("{n}B")
}

/// A timestamp as systemd prints it, in UTC: `Mon 2026-12-07 10:50:33 UTC`.
pub fn format_timestamp(us: u64) -> String {
    let secs = us / 1_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = crate::clock::civil_from_days(days as i64);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let wd = WEEKDAYS[(days % 7) as usize];
    format!("{wd} {y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_sizes() {
        assert_eq!(format_timestamp(0), "Thu 1970-01-01 00:00:00 UTC");
        assert_eq!(format_timestamp(1_796_640_633_000_000), "Mon 2026-12-07 10:50:33 UTC");
        assert_eq!(format_timestamp(951_782_400_000_000), "Tue 2000-02-29 00:00:00 UTC");
        for (n, want) in
            [(0, "0B"), (1023, "1023B"), (1024, "1K"), (1536, "1.5K"), (300 << 20, "300M"), ((3 << 30) / 2, "1.5G")]
        {
            assert_eq!(format_bytes(n), want, "{n}");
        }
    }

    #[test]
    fn tables() {
        let rows = vec![
            vec![Cell::Text("web".into()), Cell::Bool(false), Cell::Time(None)],
            vec![Cell::Text("database".into()), Cell::Bool(true), Cell::Time(Some(0))],
        ];
        let h = ["NAME", "RO", "CREATED"];
        assert_eq!(
            table(&h, &rows, "images", Output::Short, true),
            "NAME     RO  CREATED\nweb      no  n/a\ndatabase yes Thu 1970-01-01 00:00:00 UTC\n\n2 images listed.\n"
        );
        assert_eq!(
            table(&h, &rows, "images", Output::Short, false),
            "web      no  n/a\ndatabase yes Thu 1970-01-01 00:00:00 UTC\n"
        );
        assert_eq!(table(&h, &[], "images", Output::Short, true), "No images found.\n");
        assert_eq!(table(&h, &[], "images", Output::Json, true), "[]\n");
        assert_eq!(
            table(&h, &rows[..1], "images", Output::Json, true),
            "[{\"name\":\"web\",\"ro\":false,\"created\":null}]\n"
        );
        assert_eq!(json_string("a\"b\\\n\u{1}"), "\"a\\\"b\\\\\\n\\u0001\"");
        let pairs = [("Name", "web".to_string()), ("Path", "/x".to_string())];
        assert_eq!(properties(&pairs, &[], false), "Name=web\nPath=/x\n");
        assert_eq!(properties(&pairs, &["Path".into()], true), "/x\n");
    }
}
