//! `--property=NAME=VALUE`: the table of supported unit properties and their syntax.
//!
//! Parsing is pure. Values that depend on the host (a percentage of RAM or of the system's
//! task limit, a device path) stay symbolic here and are resolved by `plan.rs` through
//! [`Host`](super::Host), so a malformed property is refused before anything is created.

use super::parse::{parse_cpu_list, parse_permyriad, parse_size, parse_timespan};
use crate::error::{Error, Result};
use std::path::PathBuf;

/// A memory or task amount as written by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// `infinity` (written as `max`).
    Max,
    /// An absolute number (bytes or tasks).
    Value(u64),
    /// Parts per 10000 of physical memory or of the system's task limit.
    Permyriad(u64),
}

/// The four `io.max` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoLimit {
    ReadBandwidth,
    WriteBandwidth,
    ReadIops,
    WriteIops,
}

/// What a property sets, with the value parsed but not yet resolved against the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `memory.min|low|high|max|swap.max` (the file is in the key table).
    Memory(Amount),
    /// `pids.max`.
    Tasks(Amount),
    /// CPU time per second of wall time in µs; `None` is no quota.
    CpuQuota(Option<u64>),
    /// `cpu.max` period in µs; `None` is the default (100 ms).
    CpuQuotaPeriod(Option<u64>),
    /// `cpu.weight`; `None` is `idle` (`cpu.idle` = 1).
    CpuWeight(Option<u64>),
    /// `cpuset.cpus` or `cpuset.mems`, normalised.
    CpuSet(String),
    /// `io.weight` default weight.
    IoWeight(u64),
    /// One `io.max` key for one device; `None` is `max`.
    Io { limit: IoLimit, device: PathBuf, value: Option<u64> },
}

/// One parsed `--property=NAME=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The text after `--property=`, for error messages.
    pub raw: String,
    /// The property name (a row of the key table).
    pub name: &'static str,
    /// The controller the property needs.
    pub controller: &'static str,
    /// The cgroup file it writes (for `cpu.max`/`io.max` combined with its siblings).
    pub file: &'static str,
    /// The parsed value.
    pub setting: Setting,
}

type Parser = fn(&str) -> std::result::Result<Setting, String>;

/// One supported property: name, controller, file, value parser.
pub struct Key {
    pub name: &'static str,
    pub controller: &'static str,
    pub file: &'static str,
    parse: Parser,
}

/// Every supported property, in the order `plan()` writes their files (memory floors before
/// ceilings, the quota after the weight). `docs/CGROUPS.md` documents the same table.
pub const KEYS: &[Key] = &[
    Key { name: "MemoryMin", controller: "memory", file: "memory.min", parse: memory_floor },
    Key { name: "MemoryLow", controller: "memory", file: "memory.low", parse: memory_floor },
    Key { name: "MemoryHigh", controller: "memory", file: "memory.high", parse: memory },
    Key { name: "MemoryMax", controller: "memory", file: "memory.max", parse: memory },
    Key { name: "MemorySwapMax", controller: "memory", file: "memory.swap.max", parse: memory },
    Key { name: "CPUWeight", controller: "cpu", file: "cpu.weight", parse: cpu_weight },
    Key { name: "CPUQuota", controller: "cpu", file: "cpu.max", parse: cpu_quota },
    Key { name: "CPUQuotaPeriodSec", controller: "cpu", file: "cpu.max", parse: cpu_period },
    Key { name: "AllowedCPUs", controller: "cpuset", file: "cpuset.cpus", parse: cpu_set },
    Key { name: "AllowedMemoryNodes", controller: "cpuset", file: "cpuset.mems", parse: cpu_set },
    Key { name: "IOWeight", controller: "io", file: "io.weight", parse: io_weight },
    Key { name: "IOReadBandwidthMax", controller: "io", file: "io.max", parse: io_rbps },
    Key { name: "IOWriteBandwidthMax", controller: "io", file: "io.max", parse: io_wbps },
    Key { name: "IOReadIOPSMax", controller: "io", file: "io.max", parse: io_riops },
    Key { name: "IOWriteIOPSMax", controller: "io", file: "io.max", parse: io_wiops },
    Key { name: "TasksMax", controller: "pids", file: "pids.max", parse: tasks },
];

/// Parses `NAME=VALUE` (the text after `--property=`) in systemd's unit property syntax.
pub fn parse_property(s: &str) -> Result<Property> {
    let fail = |why: String| Error::msg(format!("--property={s}: {why}"));
    let (name, value) = s.split_once('=').ok_or_else(|| fail("expected NAME=VALUE".into()))?;
    let key = KEYS.iter().find(|k| k.name == name).ok_or_else(|| fail(format!("unsupported property \"{name}\"")))?;
    let setting = (key.parse)(value).map_err(fail)?;
    Ok(Property { raw: s.to_string(), name: key.name, controller: key.controller, file: key.file, setting })
}

/// `MemoryMax=` and friends: bytes (K/M/G/T base 1024), `N%` of RAM, `infinity`; empty resets
/// to the kernel default, `max`.
fn memory(v: &str) -> std::result::Result<Setting, String> {
    Ok(Setting::Memory(amount(v, |v| parse_size(v, 1024))?))
}

/// `MemoryMin=`/`MemoryLow=`: as [`memory`], but empty resets to the floor default, 0.
fn memory_floor(v: &str) -> std::result::Result<Setting, String> {
    if v.trim().is_empty() {
        return Ok(Setting::Memory(Amount::Value(0)));
    }
    memory(v)
}

/// `TasksMax=`: a count, `N%` of the system's task limit, `infinity`.
fn tasks(v: &str) -> std::result::Result<Setting, String> {
    let a = amount(v, |v| v.trim().parse::<u64>().map_err(|_| format!("invalid task count \"{v}\"")))?;
    if matches!(a, Amount::Value(0) | Amount::Permyriad(0)) {
        return Err("task limit must be positive".into());
    }
    Ok(Setting::Tasks(a))
}

fn amount(v: &str, absolute: impl Fn(&str) -> std::result::Result<u64, String>) -> std::result::Result<Amount, String> {
    let t = v.trim();
    if t.is_empty() || t == "infinity" {
        return Ok(Amount::Max);
    }
    match parse_permyriad(t) {
        Some(Ok(p)) if p > 10_000 => Err(format!("percentage out of range \"{t}\"")),
        Some(p) => p.map(Amount::Permyriad),
        None => absolute(t).map(Amount::Value),
    }
}

/// `CPUQuota=N%` (may exceed 100% on several CPUs); empty removes the quota.
fn cpu_quota(v: &str) -> std::result::Result<Setting, String> {
    let t = v.trim();
    if t.is_empty() || t == "infinity" {
        return Ok(Setting::CpuQuota(None));
    }
    match parse_permyriad(t) {
        Some(Ok(0)) => Err("CPU quota too small".into()),
        // permyriad × 1 s / 10000, as systemd's CPUQuotaPerSecUSec.
        Some(Ok(p)) => {
            p.checked_mul(100).map(|us| Setting::CpuQuota(Some(us))).ok_or_else(|| "CPU quota too large".into())
        }
        Some(Err(e)) => Err(e),
        None => Err(format!("CPU quota must be a percentage, got \"{t}\"")),
    }
}

/// `CPUQuotaPeriodSec=` time span; empty or `infinity` is the default period.
fn cpu_period(v: &str) -> std::result::Result<Setting, String> {
    let t = v.trim();
    if t.is_empty() || t == "infinity" {
        return Ok(Setting::CpuQuotaPeriod(None));
    }
    match parse_timespan(t)? {
        0 => Err("CPU quota period must be positive".into()),
        us => Ok(Setting::CpuQuotaPeriod(Some(us))),
    }
}

/// `CPUWeight=1..10000` or `idle`; empty is the default weight 100.
fn cpu_weight(v: &str) -> std::result::Result<Setting, String> {
    match v.trim() {
        "idle" => Ok(Setting::CpuWeight(None)),
        "" => Ok(Setting::CpuWeight(Some(100))),
        t => weight(t).map(|w| Setting::CpuWeight(Some(w))),
    }
}

/// `IOWeight=1..10000`; empty is the default weight 100.
fn io_weight(v: &str) -> std::result::Result<Setting, String> {
    match v.trim() {
        "" => Ok(Setting::IoWeight(100)),
        t => weight(t).map(Setting::IoWeight),
    }
}

fn weight(t: &str) -> std::result::Result<u64, String> {
    match t.parse::<u64>() {
        Ok(w) if (1..=10_000).contains(&w) => Ok(w),
        _ => Err(format!("weight must be 1..10000, got \"{t}\"")),
    }
}

/// `AllowedCPUs=` / `AllowedMemoryNodes=`: `0-3 5,7`.
fn cpu_set(v: &str) -> std::result::Result<Setting, String> {
    parse_cpu_list(v).map(Setting::CpuSet)
}

fn io_rbps(v: &str) -> std::result::Result<Setting, String> {
    io(v, IoLimit::ReadBandwidth)
}
fn io_wbps(v: &str) -> std::result::Result<Setting, String> {
    io(v, IoLimit::WriteBandwidth)
}
fn io_riops(v: &str) -> std::result::Result<Setting, String> {
    io(v, IoLimit::ReadIops)
}
fn io_wiops(v: &str) -> std::result::Result<Setting, String> {
    io(v, IoLimit::WriteIops)
}

/// `PATH VALUE`: the value is `infinity` or a number with K/M/G/T suffixes to the base of 1000
/// (systemd.resource-control(5) documents base 1000 for both bandwidth and IOPS).
fn io(v: &str, limit: IoLimit) -> std::result::Result<Setting, String> {
    let t = v.trim();
    let (device, value) =
        t.split_once(char::is_whitespace).ok_or_else(|| format!("expected \"DEVICE VALUE\", got \"{t}\""))?;
    if !device.starts_with('/') {
        return Err(format!("device must be an absolute path, got \"{device}\""));
    }
    let value = match value.trim() {
        "infinity" => None,
        n => Some(parse_size(n, 1000)?),
    };
    Ok(Setting::Io { limit, device: PathBuf::from(device), value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(s: &str) -> Setting {
        match parse_property(s) {
            Ok(p) => p.setting,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn error(s: &str) -> String {
        match parse_property(s) {
            Ok(p) => panic!("{s}: accepted as {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn memory_values() {
        assert_eq!(setting("MemoryMax=32M"), Setting::Memory(Amount::Value(32 << 20)));
        assert_eq!(setting("MemoryHigh=infinity"), Setting::Memory(Amount::Max));
        assert_eq!(setting("MemoryLow=10%"), Setting::Memory(Amount::Permyriad(1000)));
        assert_eq!(setting("MemoryMin="), Setting::Memory(Amount::Value(0)));
        assert_eq!(setting("MemoryMax="), Setting::Memory(Amount::Max));
        assert_eq!(setting("MemorySwapMax=0"), Setting::Memory(Amount::Value(0)));
    }

    #[test]
    fn cpu_values() {
        assert_eq!(setting("CPUQuota=10%"), Setting::CpuQuota(Some(100_000)));
        assert_eq!(setting("CPUQuota=250%"), Setting::CpuQuota(Some(2_500_000)));
        assert_eq!(setting("CPUQuota="), Setting::CpuQuota(None));
        assert_eq!(setting("CPUQuotaPeriodSec=10ms"), Setting::CpuQuotaPeriod(Some(10_000)));
        assert_eq!(setting("CPUWeight=idle"), Setting::CpuWeight(None));
        assert_eq!(setting("CPUWeight=500"), Setting::CpuWeight(Some(500)));
        assert_eq!(setting("AllowedCPUs=0-1 3"), Setting::CpuSet("0-1,3".into()));
    }

    #[test]
    fn io_and_tasks_values() {
        assert_eq!(
            setting("IOReadBandwidthMax=/dev/sda 1M"),
            Setting::Io { limit: IoLimit::ReadBandwidth, device: "/dev/sda".into(), value: Some(1_000_000) }
        );
        assert_eq!(
            setting("IOWriteIOPSMax=/dev/vda infinity"),
            Setting::Io { limit: IoLimit::WriteIops, device: "/dev/vda".into(), value: None }
        );
        assert_eq!(setting("IOWeight=50"), Setting::IoWeight(50));
        assert_eq!(setting("TasksMax=4"), Setting::Tasks(Amount::Value(4)));
        assert_eq!(setting("TasksMax=5%"), Setting::Tasks(Amount::Permyriad(500)));
        assert_eq!(setting("TasksMax=infinity"), Setting::Tasks(Amount::Max));
    }

    #[test]
    fn property_carries_controller_and_file() {
        let p = parse_property("MemoryMax=32M").expect("valid");
        assert_eq!(
            (p.name, p.controller, p.file, p.raw.as_str()),
            ("MemoryMax", "memory", "memory.max", "MemoryMax=32M")
        );
    }

    #[test]
    fn errors_name_the_property() {
        assert_eq!(error("MemoryMax"), "--property=MemoryMax: expected NAME=VALUE");
        assert_eq!(error("Foo=1"), "--property=Foo=1: unsupported property \"Foo\"");
        assert_eq!(error("memorymax=1"), "--property=memorymax=1: unsupported property \"memorymax\"");
        assert_eq!(error("MemoryMax=abc"), "--property=MemoryMax=abc: invalid size \"abc\"");
        assert_eq!(error("MemoryMax=150%"), "--property=MemoryMax=150%: percentage out of range \"150%\"");
        assert_eq!(error("CPUQuota=0%"), "--property=CPUQuota=0%: CPU quota too small");
        assert_eq!(error("CPUQuota=2"), "--property=CPUQuota=2: CPU quota must be a percentage, got \"2\"");
        assert_eq!(error("CPUWeight=0"), "--property=CPUWeight=0: weight must be 1..10000, got \"0\"");
        assert_eq!(error("IOWeight=10001"), "--property=IOWeight=10001: weight must be 1..10000, got \"10001\"");
        assert_eq!(error("TasksMax=0"), "--property=TasksMax=0: task limit must be positive");
        assert_eq!(error("TasksMax=lots"), "--property=TasksMax=lots: invalid task count \"lots\"");
        assert_eq!(
            error("IOReadBandwidthMax=/dev/sda"),
            "--property=IOReadBandwidthMax=/dev/sda: expected \"DEVICE VALUE\", got \"/dev/sda\""
        );
        assert_eq!(
            error("IOReadBandwidthMax=sda 1M"),
            "--property=IOReadBandwidthMax=sda 1M: device must be an absolute path, got \"sda\""
        );
        assert_eq!(error("AllowedCPUs=3-1"), "--property=AllowedCPUs=3-1: invalid CPU or NUMA node list entry \"3-1\"");
        assert_eq!(error("CPUQuotaPeriodSec=fast"), "--property=CPUQuotaPeriodSec=fast: invalid time span \"fast\"");
    }
}
