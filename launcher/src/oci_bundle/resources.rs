//! A bundle's cgroup as nspawn's `oci_cgroups_path()` and `oci_resources()` read it:
//! `cgroupsPath` must name a slice (`-S`), `linux.resources` become unit properties
//! (`--property=`: memory, CPU weight and quota, I/O weight and limits, tasks), `cpu.cpus`
//! the CPU affinity. The device rules are nspawn's `DeviceAllow=`: those spawnbox's device
//! policy already allows pass, the others are not granted (said once each).

use super::{refuse, Bundle};
use crate::error::Result;
use crate::runtime_spec::{BlockIo, Cpu, DeviceRule, Memory, Resources, ThrottleDevice};
use crate::security::devices;
use crate::settings::SettingsMask;

/// The slice a `cgroupsPath` names: the path must be a slice's own path
/// (`/machine.slice`, `/a.slice/a-b.slice`), as nspawn's check that the slice maps back to it.
pub(super) fn slice_of(path: &str) -> Result<String> {
    let bad = || {
        refuse(
            "linux.cgroupsPath",
            format!("{path:?} is not the path of a slice (--oci-bundle takes /NAME.slice paths, as nspawn)"),
        )
    };
    let parts: Vec<&str> = path.strip_prefix('/').ok_or_else(bad)?.trim_end_matches('/').split('/').collect();
    let last = *parts.last().ok_or_else(bad)?;
    let stem = last.strip_suffix(".slice").ok_or_else(bad)?;
    let valid = |w: &str| !w.is_empty() && w.bytes().all(|c| c.is_ascii_alphanumeric() || b":_.\\".contains(&c));
    if stem == "-" || !stem.split('-').all(valid) {
        return Err(bad());
    }
    // systemd's slice path: one component per dash-separated prefix.
    let words: Vec<&str> = stem.split('-').collect();
    let expected: Vec<String> = (1..=words.len()).map(|n| format!("{}.slice", words[..n].join("-"))).collect();
    if parts != expected {
        return Err(bad());
    }
    Ok(last.to_string())
}

/// `linux.resources`.
pub(super) fn resources(r: &Resources, b: &mut Bundle) -> Result<()> {
    device_rules(&r.devices, b)?;
    if let Some(m) = &r.memory {
        memory(m, b);
    }
    if let Some(c) = &r.cpu {
        cpu(c, b)?;
    }
    if let Some(io) = &r.block_io {
        block_io(io, b)?;
    }
    if let Some(n) = r.pids_limit {
        let v = if n <= 0 { "infinity".to_string() } else { n.to_string() };
        b.properties.push(format!("TasksMax={v}"));
    }
    if !r.hugepage_limits.is_empty() {
        return Err(refuse("linux.resources.hugepageLimits", "not supported with --oci-bundle"));
    }
    if r.network {
        return Err(refuse("linux.resources.network", "not supported with --oci-bundle"));
    }
    if !r.unified.is_empty() {
        return Err(refuse("linux.resources.unified", "not supported with --oci-bundle"));
    }
    Ok(())
}

/// Whether spawnbox's device policy (`devices::BASE`) allows all that `rule` asks for.
fn covered(kind: u32, major: Option<u32>, minor: Option<u32>, access: u32) -> bool {
    devices::BASE.iter().any(|r| {
        r.kind == kind
            && access & !r.access == 0
            && match (major, minor) {
                (Some(ma), Some(mi)) => r.allows(kind, ma, mi, access),
                (Some(ma), None) => r.minor.is_none() && (r.majors.0..=r.majors.1).contains(&ma),
                _ => false,
            }
    })
}

/// `linux.resources.devices` as nspawn's `oci_cgroup_devices()`: deny rules are implied (the
/// policy starts closed), the allow-all rule changes nothing; an allow rule outside
/// spawnbox's policy is not granted (a warning), where nspawn adds it.
fn device_rules(rules: &[DeviceRule], b: &mut Bundle) -> Result<()> {
    for (i, d) in rules.iter().enumerate() {
        let at = format!("linux.resources.devices[{i}]");
        let access = d.access.as_deref().unwrap_or("rwm");
        let mut bits = 0;
        for c in access.chars() {
            bits |= match c {
                'r' => devices::READ,
                'w' => devices::WRITE,
                'm' => devices::MKNOD,
                other => return Err(refuse(format!("{at}.access"), format!("unknown access {other:?}"))),
            };
        }
        let any_kind = matches!(d.kind, None | Some('a'));
        let (major, minor) = (d.major.filter(|m| *m >= 0), d.minor.filter(|m| *m >= 0));
        if !d.allow {
            if !(any_kind && major.is_none() && minor.is_none() && bits == devices::RWM) {
                b.warnings
                    .push(format!("{at}: deny rules other than the catch-all are ignored (the policy starts closed)"));
            }
            continue;
        }
        if bits == 0 {
            b.warnings.push(format!("{at}: allows nothing, ignored"));
            continue;
        }
        if minor.is_some() && major.is_none() {
            return Err(refuse(&at, "a minor without a major is not supported with --oci-bundle"));
        }
        if any_kind {
            if major.is_some() {
                return Err(refuse(&at, "a major without a device type is not supported with --oci-bundle"));
            }
            if bits != devices::RWM {
                return Err(refuse(&at, "a rule without a device type is not supported with --oci-bundle"));
            }
            continue; // allow everything: nspawn adds nothing either
        }
        let kind = if d.kind == Some('b') { devices::BLOCK } else { devices::CHAR };
        let num = |n: Option<i64>| n.and_then(|n| u32::try_from(n).ok());
        if !covered(kind, num(major), num(minor), bits) {
            let show = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
            b.warnings.push(format!(
                "{at}: {} {}:{} {access} not granted: spawnbox's device policy applies",
                d.kind.unwrap_or('c'),
                show(major),
                show(minor)
            ));
        }
    }
    Ok(())
}

/// `memory`: limit → `MemoryMax=`, reservation → `MemoryLow=`, swap → `MemorySwapMax=` (swap
/// minus limit); negative values are no limit. The cgroup v1 knobs are ignored, as nspawn does.
fn memory(m: &Memory, b: &mut Bundle) {
    let set = |v: Option<i64>| v.and_then(|n| u64::try_from(n).ok());
    let (limit, reservation, swap) = (set(m.limit), set(m.reservation), set(m.swap));
    if let Some(swap) = swap {
        match limit {
            None => b.warnings.push("linux.resources.memory.swap: no memory limit, ignored".to_string()),
            Some(l) if swap < l => {
                b.warnings.push("linux.resources.memory.swap: below the memory limit, ignored".to_string())
            }
            Some(l) => b.properties.push(format!("MemorySwapMax={}", swap - l)),
        }
    }
    if let Some(l) = limit {
        b.properties.push(format!("MemoryMax={l}"));
    }
    if let Some(r) = reservation {
        b.properties.push(format!("MemoryLow={r}"));
    }
    for (name, set) in [
        ("kernel", m.kernel.is_some()),
        ("kernelTCP", m.kernel_tcp.is_some()),
        ("swappiness", m.swappiness.is_some()),
        ("disableOOMKiller", m.disable_oom_killer),
    ] {
        if set {
            b.warnings.push(format!("linux.resources.memory.{name}: cgroup v1 only, ignored"));
        }
    }
}

/// `cpu`: shares → `CPUWeight=` (cgroup v2's scale), quota and period → `CPUQuota=` and
/// `CPUQuotaPeriodSec=`, cpus → the CPU affinity (nspawn's `CPUAffinity=`).
fn cpu(c: &Cpu, b: &mut Bundle) -> Result<()> {
    let at = "linux.resources.cpu";
    if let Some(shares) = c.shares {
        if !(2..=262_144).contains(&shares) {
            return Err(refuse(format!("{at}.shares"), format!("out of range: {shares} (2 to 262144)")));
        }
        b.properties.push(format!("CPUWeight={}", (shares * 100 / 1024).clamp(1, 10_000)));
    }
    let quota = c.quota.filter(|q| *q > 0);
    match (quota, c.period) {
        (Some(q), Some(p)) if p > 0 => {
            let permyriad = (q as u128 * 10_000 / u128::from(p)) as u64;
            if permyriad == 0 {
                return Err(refuse(format!("{at}.quota"), "too small for its period"));
            }
            b.properties.push(format!("CPUQuota={permyriad}‱"));
            b.properties.push(format!("CPUQuotaPeriodSec={p}us"));
        }
        (None, None) => {}
        _ => return Err(refuse(at, "quota and period must be given together")),
    }
    for (name, set) in [
        ("realtimeRuntime", c.realtime_runtime.is_some()),
        ("realtimePeriod", c.realtime_period.is_some()),
        ("mems", c.mems.is_some()),
        ("burst", c.burst.is_some()),
        ("idle", c.idle.is_some()),
    ] {
        if set {
            return Err(refuse(format!("{at}.{name}"), "not supported with --oci-bundle"));
        }
    }
    if let Some(cpus) = &c.cpus {
        let list = crate::cli::values_sec::parse_cpu_affinity(cpus).map_err(|e| e.context(format!("{at}.cpus")))?;
        if let Some(list) = list {
            b.settings.cpu_affinity = Some(list);
            b.settings.given |= SettingsMask::CPU_AFFINITY;
        }
    }
    Ok(())
}

/// `blockIO`: weight → `IOWeight=` (cgroup v2's scale), the throttles → `IO*Max=` on
/// `/dev/block/MAJOR:MINOR`; per-device weights are refused (no `IODeviceWeight=` here).
fn block_io(io: &BlockIo, b: &mut Bundle) -> Result<()> {
    let at = "linux.resources.blockIO";
    if let Some(w) = io.weight {
        if !(10..=1000).contains(&w) {
            return Err(refuse(format!("{at}.weight"), format!("out of range: {w} (10 to 1000)")));
        }
        b.properties.push(format!("IOWeight={}", (u64::from(w) * 100 / 500).clamp(1, 10_000)));
    }
    if io.leaf_weight.is_some() {
        b.warnings.push(format!("{at}.leafWeight: cgroup v1 only, ignored"));
    }
    for (i, d) in io.weight_device.iter().enumerate() {
        if d.weight.is_some() {
            return Err(refuse(
                format!("{at}.weightDevice[{i}]"),
                "per-device weights are not supported with --oci-bundle",
            ));
        }
    }
    let lists: [(&str, &str, &[ThrottleDevice]); 4] = [
        ("throttleReadBpsDevice", "IOReadBandwidthMax", &io.throttle_read_bps),
        ("throttleWriteBpsDevice", "IOWriteBandwidthMax", &io.throttle_write_bps),
        ("throttleReadIOPSDevice", "IOReadIOPSMax", &io.throttle_read_iops),
        ("throttleWriteIOPSDevice", "IOWriteIOPSMax", &io.throttle_write_iops),
    ];
    for (key, property, list) in lists {
        for (i, d) in list.iter().enumerate() {
            if d.major < 0 || d.minor < 0 || d.rate == u64::MAX {
                return Err(refuse(format!("{at}.{key}[{i}]"), "out of range"));
            }
            b.properties.push(format!("{property}=/dev/block/{}:{} {}", d.major, d.minor, d.rate));
        }
    }
    Ok(())
}
