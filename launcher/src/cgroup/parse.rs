//! Value syntax of systemd unit properties: sizes, percentages, time spans and CPU lists.
//!
//! Each parser mirrors the systemd function named in its doc line and returns a plain `String`
//! reason on failure; `property.rs` turns it into the user-facing error.

/// Largest CPU or NUMA node index accepted in a list (systemd's `CPU_SET_MAX`-ish bound).
const MAX_CPU_INDEX: u32 = 8191;

/// `parse_size()`: a non-negative decimal with an optional fraction and an optional suffix
/// `B K M G T P E` (upper case, as systemd), each a power of `base` (1024 or 1000).
pub fn parse_size(s: &str, base: u64) -> Result<u64, String> {
    let bad = || format!("invalid size \"{s}\"");
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, suffix) = t.split_at(digits_end);
    let factor = match suffix.trim_start() {
        "" | "B" => 1,
        "K" => base,
        "M" => base.pow(2),
        "G" => base.pow(3),
        "T" => base.pow(4),
        "P" => base.pow(5),
        "E" => base.pow(6),
        _ => return Err(bad()),
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    // "10.M" is valid, as in systemd.
    if int.is_empty() || frac.contains('.') || frac.len() > 18 {
        return Err(bad());
    }
    let int: u64 = int.parse().map_err(|_| bad())?;
    let mut value = int.checked_mul(factor).ok_or_else(bad)?;
    if !frac.is_empty() {
        // Exact: digits × factor / 10^n, truncated (systemd does this in double precision).
        let digits: u128 = frac.parse().map_err(|_| bad())?;
        let part = digits * u128::from(factor) / 10u128.pow(frac.len() as u32);
        value = value.checked_add(u64::try_from(part).map_err(|_| bad())?).ok_or_else(bad)?;
    }
    Ok(value)
}

/// `parse_permyriad()`: `N%`, `N.N%`, `N.NN%`, `N‰`, `N.N‰` or `N‱` as parts per 10000.
/// Returns `None` when `s` has none of those suffixes (so the caller can try other syntax).
pub fn parse_permyriad(s: &str) -> Option<Result<u64, String>> {
    let t = s.trim();
    let (number, per, max_frac) = if let Some(n) = t.strip_suffix('%') {
        (n, 100, 2)
    } else if let Some(n) = t.strip_suffix('‰') {
        (n, 10, 1)
    } else if let Some(n) = t.strip_suffix('‱') {
        (n, 1, 0)
    } else {
        return None;
    };
    let bad = || format!("invalid percentage \"{s}\"");
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let valid = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !valid(int) || !valid(frac) || frac.len() > max_frac {
        return Some(Err(bad()));
    }
    if number.contains('.') && frac.is_empty() {
        return Some(Err(bad()));
    }
    let parse = || -> Option<u64> {
        let mut v = int.parse::<u64>().ok()?.checked_mul(per)?;
        let mut unit = per;
        for d in frac.bytes() {
            unit /= 10;
            v = v.checked_add(u64::from(d - b'0') * unit)?;
        }
        Some(v)
    };
    Some(parse().ok_or_else(bad))
}

/// `parse_sec()`: a time span such as `100ms`, `1s 500ms`, `2min` or a bare number of seconds,
/// in microseconds.
pub fn parse_timespan(s: &str) -> Result<u64, String> {
    const UNITS: &[(&str, u64)] = &[
        ("usec", 1),
        ("us", 1),
        ("µs", 1),
        ("msec", 1_000),
        ("ms", 1_000),
        ("seconds", 1_000_000),
        ("second", 1_000_000),
        ("sec", 1_000_000),
        ("s", 1_000_000),
        ("minutes", 60_000_000),
        ("minute", 60_000_000),
        ("min", 60_000_000),
        ("m", 60_000_000),
        ("hours", 3_600_000_000),
        ("hour", 3_600_000_000),
        ("hr", 3_600_000_000),
        ("h", 3_600_000_000),
    ];
    let bad = || format!("invalid time span \"{s}\"");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let end = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (number, tail) = rest.split_at(end);
        let tail = tail.trim_start();
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c.is_whitespace()).unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let factor = if unit.is_empty() {
            1_000_000
        } else {
            UNITS.iter().find(|(name, _)| *name == unit).map(|(_, f)| *f).ok_or_else(bad)?
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let mut v = if int.is_empty() { 0 } else { int.parse::<u64>().map_err(|_| bad())? };
        v = v.checked_mul(factor).ok_or_else(bad)?;
        let mut scale = factor;
        for d in frac.bytes() {
            if !d.is_ascii_digit() {
                return Err(bad());
            }
            scale /= 10;
            v = v.checked_add(u64::from(d - b'0') * scale).ok_or_else(bad)?;
        }
        total = total.checked_add(v).ok_or_else(bad)?;
        rest = tail.trim_start();
    }
    Ok(total)
}

/// `parse_cpu_set()`: indices and ranges separated by commas or blanks (`0-3 5,7`), normalised
/// to the kernel's range syntax (`0-3,5,7`) as `cpu_set_to_range_string()` writes it.
/// An empty list stays empty (the cgroup then uses its parent's set).
pub fn parse_cpu_list(s: &str) -> Result<String, String> {
    let bad = |w: &str| format!("invalid CPU or NUMA node list entry \"{w}\"");
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for word in s.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()) {
        let (a, b) = word.split_once('-').unwrap_or((word, word));
        let a: u32 = a.parse().map_err(|_| bad(word))?;
        let b: u32 = b.parse().map_err(|_| bad(word))?;
        if a > b || b > MAX_CPU_INDEX {
            return Err(bad(word));
        }
        ranges.push((a, b));
    }
    crate::sort::sort(&mut ranges);
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let parts: Vec<String> =
        merged.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_base_1024_and_1000() {
        assert_eq!(parse_size("32M", 1024), Ok(32 << 20));
        assert_eq!(parse_size("1.5G", 1024), Ok(3 << 29));
        assert_eq!(parse_size("4096", 1024), Ok(4096));
        assert_eq!(parse_size("2T", 1024), Ok(2 << 40));
        assert_eq!(parse_size("10K", 1024), Ok(10240));
        assert_eq!(parse_size("5M", 1000), Ok(5_000_000));
        assert_eq!(parse_size(" 7 K ", 1000), Ok(7000));
        assert_eq!(parse_size("0", 1024), Ok(0));
        assert_eq!(parse_size("10.M", 1024), Ok(10 << 20));
        assert_eq!(parse_size("0.25K", 1024), Ok(256));
        assert_eq!(parse_size("1.999B", 1024), Ok(1));
    }

    #[test]
    fn sizes_rejected() {
        for s in ["", "M", "32m", "-1", "1.2.3", ".5K", "abc", "16E", "99999999999999999999"] {
            assert_eq!(parse_size(s, 1024), Err(format!("invalid size \"{s}\"")), "{s}");
        }
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_permyriad("50%"), Some(Ok(5000)));
        assert_eq!(parse_permyriad("12.5%"), Some(Ok(1250)));
        assert_eq!(parse_permyriad("0.01%"), Some(Ok(1)));
        assert_eq!(parse_permyriad("250%"), Some(Ok(25000)));
        assert_eq!(parse_permyriad("5‰"), Some(Ok(50)));
        assert_eq!(parse_permyriad("7‱"), Some(Ok(7)));
        assert_eq!(parse_permyriad("32M"), None);
        assert!(matches!(parse_permyriad("1.234%"), Some(Err(_))));
        assert!(matches!(parse_permyriad("%"), Some(Err(_))));
        assert!(matches!(parse_permyriad("x%"), Some(Err(_))));
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("100ms"), Ok(100_000));
        assert_eq!(parse_timespan("1s 500ms"), Ok(1_500_000));
        assert_eq!(parse_timespan("2"), Ok(2_000_000));
        assert_eq!(parse_timespan("0.5s"), Ok(500_000));
        assert_eq!(parse_timespan("250us"), Ok(250));
        assert_eq!(parse_timespan("1min"), Ok(60_000_000));
        assert!(parse_timespan("10 parsecs").is_err());
        assert!(parse_timespan("").is_err());
    }

    #[test]
    fn cpu_lists_normalised() {
        assert_eq!(parse_cpu_list("0-3 5,7"), Ok("0-3,5,7".into()));
        assert_eq!(parse_cpu_list("3,2,1,0"), Ok("0-3".into()));
        assert_eq!(parse_cpu_list("1-2,2-4 8"), Ok("1-4,8".into()));
        assert_eq!(parse_cpu_list(""), Ok(String::new()));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("0-99999").is_err());
    }
}
