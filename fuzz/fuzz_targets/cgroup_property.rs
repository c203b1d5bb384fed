//! Fuzzes the `--property=NAME=VALUE` parser `cgroup::property::parse_property` and the value
//! parsers under it (`parse_size`, `parse_permyriad`, `parse_timespan`, `parse_cpu_list`).
//!
//! Input: the text after `--property=` (UTF-8; other inputs are dropped).
//!
//! Invariants:
//! 1. No panic (overflow, slicing on a multi-byte character, unwrap) for any text.
//! 2. An accepted property is a row of the key table: `name` is the text before the first
//!    `=`, `raw` is the input, and `controller`/`file` are that row's.
//! 3. Amounts are in range: percentages ≤ 100% (10000‱) for memory and tasks, task counts and
//!    task percentages > 0, weights 1..=10000, quota period > 0, `io.max` devices absolute.
//! 4. CPU lists are normalised: `parse_cpu_list(out) == out` (idempotent), ascending,
//!    non-overlapping, non-adjacent ranges; `NAME=<out>` parses to the same setting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spawnbox::cgroup::{parse_cpu_list, parse_property, Amount, Setting, KEYS};

fn check_cpu_list(out: &str) {
    assert_eq!(parse_cpu_list(out).as_deref(), Ok(out), "CPU list not normalised");
    let mut last: Option<u32> = None;
    for word in out.split(',').filter(|w| !w.is_empty()) {
        let (a, b) = word.split_once('-').unwrap_or((word, word));
        let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
        assert!(a <= b, "range {word} reversed in {out}");
        if let Some(l) = last {
            assert!(a > l + 1, "ranges overlap or touch in {out}");
        }
        last = Some(b);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let p = match parse_property(s) {
        Ok(p) => p,
        Err(e) => {
            assert!(e.to_string().starts_with("--property="), "error without context: {e}");
            return;
        }
    };
    let (name, value) = s.split_once('=').expect("accepted without '='");
    assert_eq!(p.name, name);
    assert_eq!(p.raw, s);
    let key = KEYS.iter().find(|k| k.name == name).expect("name not in the key table");
    assert_eq!((p.controller, p.file), (key.controller, key.file));
    match &p.setting {
        Setting::Memory(Amount::Permyriad(v)) => assert!(*v <= 10_000, "{s}: {v}‱"),
        Setting::Tasks(a) => match a {
            Amount::Value(0) | Amount::Permyriad(0) => panic!("{s}: zero task limit"),
            Amount::Permyriad(v) => assert!(*v <= 10_000, "{s}: {v}‱"),
            _ => {}
        },
        Setting::CpuQuota(Some(us)) => assert!(*us > 0, "{s}: zero quota"),
        Setting::CpuQuotaPeriod(Some(us)) => assert!(*us > 0, "{s}: zero period"),
        Setting::CpuWeight(Some(w)) | Setting::IoWeight(w) => {
            assert!((1..=10_000).contains(w), "{s}: weight {w}")
        }
        Setting::CpuSet(out) => {
            check_cpu_list(out);
            let again = parse_property(&format!("{name}={out}")).expect("normalised list refused");
            assert_eq!(again.setting, p.setting, "{s}: normalised list parses differently");
        }
        Setting::Io { device, .. } => assert!(device.is_absolute(), "{s}: device {device:?}"),
        _ => {}
    }
    let _ = value;
});
