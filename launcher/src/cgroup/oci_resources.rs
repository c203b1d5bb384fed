//! `linux.resources` of an OCI config as cgroup file writes (pure): which controller, which
//! file, which value, for cgroup v1 (hybrid and legacy hosts) and v2, the way runc 1.1 writes
//! them (`libcontainer/cgroups/fs` and `fs2`). Each write carries the JSON path it comes from,
//! the context of any error it meets (`linux.resources.memory.limit: write ...: ...`).
//!
//! Where a controller lives is the caller's fact ([`Controllers`]): a v1 hierarchy binding it
//! wins (what runc and `ctr task metrics` use on a hybrid host), else the v2 hierarchy if it
//! offers it (this dev host's hugetlb), else the resource is refused before anything exists.

use crate::error::{Error, Result};
use crate::runtime_spec::{BlockIo, Cpu, DeviceRule, LinuxDevice, Memory, Resources};

/// The cgroup version a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// What a write puts into its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// This text, in one write(2).
    Set(String),
    /// The parent cgroup's value of the same file, when this one is empty (v1 cpuset.cpus and
    /// cpuset.mems: a v1 cpuset without CPUs or nodes takes no task; runc's `cpusetCopyIfNeeded`).
    Inherit,
}

/// One planned write, relative to the container's directory of its hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResWrite {
    pub version: Version,
    /// The controller whose hierarchy (v1) or whose enabling (v2) the write needs; `cgroup`
    /// for v2 core files (`unified` keys such as `cgroup.max.depth`).
    pub controller: String,
    pub file: String,
    pub value: Value,
    /// The JSON path behind it, for errors.
    pub origin: String,
    /// Written instead of `file` when `file` does not exist (v1 blkio: `blkio.bfq.weight`, else
    /// `blkio.weight`, as runc's `detectWeightFilenames`).
    pub alt: Option<String>,
}

/// Which controllers the host offers where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Controllers {
    /// Controllers bound to a mounted v1 hierarchy.
    pub v1: Vec<String>,
    /// The v2 hierarchy's root, when there is one: its `cgroup.controllers`.
    pub v2: Option<Vec<String>>,
    /// How the v2 hierarchy is named in messages (`/sys/fs/cgroup/unified (hybrid hierarchy)`).
    pub v2_name: String,
}

impl Controllers {
    /// Where `controller` is used: v1 when a hierarchy binds it, else v2 when it offers it.
    fn locate(&self, controller: &str) -> Option<Version> {
        if self.v1.iter().any(|c| c == controller) {
            Some(Version::V1)
        } else if self.v2.as_ref().is_some_and(|v| v.iter().any(|c| c == controller)) {
            Some(Version::V2)
        } else {
            None
        }
    }

    fn missing(&self, origin: &str, controller: &str) -> Error {
        let v1 = format!("no v1 {controller} hierarchy is mounted");
        let text = match &self.v2 {
            Some(_) => format!("{v1}, and {} does not offer it", self.v2_name),
            None => format!("{v1}, and there is no cgroup2 hierarchy"),
        };
        Error::msg(format!("{origin}: {controller} controller not available on this host ({text})"))
    }
}

/// runc's CPU shares limits (the kernel's `MIN_SHARES` and `MAX_SHARES`).
const MIN_SHARES: u64 = 2;
const MAX_SHARES: u64 = 262_144;

/// runc 1.1's `ConvertCPUSharesToCgroupV2Value`: shares [2, 262144] onto weight [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// runc's `ConvertBlkIOToIOWeightValue`: blkio weight [10, 1000] onto io.weight [1, 10000].
pub fn blkio_to_io_weight(weight: u32) -> u64 {
    1 + (u64::from(weight).saturating_sub(10) * 9999) / 990
}

/// The writes for `res` (and, for the v1 devices controller, the nodes of `linux.devices`),
/// in the order they are made: cpuset, devices, memory, cpu, pids, blkio/io, hugetlb, unified.
pub fn plan_resources(res: &Resources, devices: &[LinuxDevice], at: &Controllers) -> Result<Vec<ResWrite>> {
    let mut out = Planner { at, out: Vec::new() };
    if let Some(cpu) = &res.cpu {
        out.cpuset(cpu)?;
    }
    out.devices(&res.devices, devices);
    if let Some(m) = &res.memory {
        out.memory(m)?;
    }
    if let Some(cpu) = &res.cpu {
        out.cpu(cpu)?;
    }
    if let Some(limit) = res.pids_limit {
        let v = if limit > 0 { limit.to_string() } else { "max".into() };
        out.push("linux.resources.pids.limit", "pids", "pids.max", v)?;
    }
    if let Some(b) = &res.block_io {
        out.block_io(b)?;
    }
    for (i, h) in res.hugepage_limits.iter().enumerate() {
        let origin = format!("linux.resources.hugepageLimits[{i}]");
        if !valid_page_size(&h.page_size) {
            return Err(Error::msg(format!(
                "{origin}.pageSize: expected a size such as 2MB or 1GB: {:?}",
                h.page_size
            )));
        }
        let file = |v: Version| match v {
            Version::V1 => format!("hugetlb.{}.limit_in_bytes", h.page_size),
            Version::V2 => format!("hugetlb.{}.max", h.page_size),
        };
        out.push_by(&origin, "hugetlb", file, h.limit.to_string())?;
    }
    if res.network {
        let mounted = at.v1.iter().any(|c| c == "net_cls" || c == "net_prio");
        return Err(Error::msg(if mounted {
            "linux.resources.network: classID and priorities (net_cls, net_prio) are not supported by spawnbox-runc"
                .to_string()
        } else {
            "linux.resources.network: classID and priorities need the v1 net_cls and net_prio controllers, which \
             this host does not mount"
                .to_string()
        }));
    }
    out.unified(&res.unified)?;
    Ok(out.out)
}

struct Planner<'a> {
    at: &'a Controllers,
    out: Vec<ResWrite>,
}

impl Planner<'_> {
    /// A write whose file name depends on the version the controller is found in.
    fn push_by(
        &mut self,
        origin: &str,
        controller: &str,
        file: impl Fn(Version) -> String,
        value: String,
    ) -> Result<()> {
        let version = self.at.locate(controller).ok_or_else(|| self.at.missing(origin, controller))?;
        self.out.push(ResWrite {
            version,
            controller: controller.into(),
            file: file(version),
            value: Value::Set(value),
            origin: origin.into(),
            alt: None,
        });
        Ok(())
    }

    /// A write with the same file name in v1 and v2.
    fn push(&mut self, origin: &str, controller: &str, file: &str, value: String) -> Result<()> {
        self.push_by(origin, controller, |_| file.to_string(), value)
    }

    /// The version `controller` is used in, or the error naming `origin`.
    fn version(&self, origin: &str, controller: &str) -> Result<Version> {
        self.at.locate(controller).ok_or_else(|| self.at.missing(origin, controller))
    }

    fn cpuset(&mut self, cpu: &Cpu) -> Result<()> {
        for (key, value, file) in [("cpus", &cpu.cpus, "cpuset.cpus"), ("mems", &cpu.mems, "cpuset.mems")] {
            if let Some(v) = value {
                self.push(&format!("linux.resources.cpu.{key}"), "cpuset", file, v.clone())?;
            }
        }
        Ok(())
    }

    /// v1 only: the device cgroup's rules in order (each one a write to `devices.allow` or
    /// `devices.deny`, which is exactly the sequential meaning of the list), then what runc
    /// adds: an allow rule per node of `linux.devices` and runc's default devices. On v2 the
    /// security layer's BPF program does this.
    fn devices(&mut self, rules: &[DeviceRule], nodes: &[LinuxDevice]) {
        if rules.is_empty() || self.at.locate("devices") != Some(Version::V1) {
            return;
        }
        for (i, r) in rules.iter().enumerate() {
            self.device(format!("linux.resources.devices[{i}]"), r);
        }
        for (i, d) in nodes.iter().enumerate() {
            let kind = match d.kind {
                'u' => 'c',
                'p' => continue,
                k => k,
            };
            let rule = DeviceRule {
                allow: true,
                kind: Some(kind),
                major: Some(d.major),
                minor: Some(d.minor),
                access: Some("rwm".into()),
            };
            self.device(format!("linux.devices[{i}]"), &rule);
        }
        for (kind, major, minor, access) in RUNC_ALLOWED_DEVICES {
            let rule = DeviceRule {
                allow: true,
                kind: Some(*kind),
                major: *major,
                minor: *minor,
                access: Some(access.to_string()),
            };
            self.device("runc's default devices".into(), &rule);
        }
    }

    fn device(&mut self, origin: String, r: &DeviceRule) {
        let file = if r.allow { "devices.allow" } else { "devices.deny" };
        self.out.push(ResWrite {
            version: Version::V1,
            controller: "devices".into(),
            file: file.into(),
            value: Value::Set(device_line(r)),
            origin,
            alt: None,
        });
    }

    fn memory(&mut self, m: &Memory) -> Result<()> {
        let limit = m.limit.filter(|l| *l != 0);
        let swap = m.swap.filter(|s| *s != 0);
        for (key, v) in [("limit", limit), ("reservation", m.reservation), ("swap", swap)] {
            if let Some(v) = v.filter(|v| *v < -1) {
                return Err(Error::msg(format!(
                    "linux.resources.memory.{key}: must be -1 (unlimited) or a size, got {v}"
                )));
            }
        }
        if let Some(s) = swap.filter(|s| *s > 0) {
            match limit {
                Some(l) if l > 0 && s < l => {
                    return Err(Error::msg(format!(
                        "linux.resources.memory.swap: must be at least memory.limit ({l}): swap is memory+swap, got {s}"
                    )))
                }
                Some(l) if l > 0 => {}
                _ => {
                    return Err(Error::msg(
                        "linux.resources.memory.swap: needs memory.limit (swap is the limit of memory+swap)",
                    ))
                }
            }
        }
        let num = |v: i64| if v == -1 { "max".to_string() } else { v.to_string() };
        match self.version("linux.resources.memory", "memory")? {
            Version::V1 => {
                if let Some(l) = limit {
                    self.push("linux.resources.memory.limit", "memory", "memory.limit_in_bytes", l.to_string())?;
                }
                if let Some(s) = swap {
                    self.push("linux.resources.memory.swap", "memory", "memory.memsw.limit_in_bytes", s.to_string())?;
                }
                if let Some(r) = m.reservation.filter(|r| *r != 0) {
                    let origin = "linux.resources.memory.reservation";
                    self.push(origin, "memory", "memory.soft_limit_in_bytes", r.to_string())?;
                }
                if let Some(t) = m.kernel_tcp.filter(|t| *t != 0) {
                    let origin = "linux.resources.memory.kernelTCP";
                    self.push(origin, "memory", "memory.kmem.tcp.limit_in_bytes", t.to_string())?;
                }
                if m.disable_oom_killer {
                    self.push("linux.resources.memory.disableOOMKiller", "memory", "memory.oom_control", "1".into())?;
                }
                if let Some(s) = m.swappiness {
                    self.push("linux.resources.memory.swappiness", "memory", "memory.swappiness", s.to_string())?;
                }
            }
            Version::V2 => {
                // runc's ConvertMemorySwapToCgroupV2Value: v2 limits swap alone.
                let swap_max = match (swap, limit) {
                    (None, Some(-1)) => Some("max".to_string()),
                    (Some(-1), _) => Some("max".to_string()),
                    (Some(s), Some(l)) => Some((s - l).to_string()),
                    _ => None,
                };
                if let Some(s) = swap_max {
                    self.push("linux.resources.memory.swap", "memory", "memory.swap.max", s)?;
                }
                if let Some(l) = limit {
                    self.push("linux.resources.memory.limit", "memory", "memory.max", num(l))?;
                }
                if let Some(r) = m.reservation.filter(|r| *r != 0) {
                    self.push("linux.resources.memory.reservation", "memory", "memory.low", num(r))?;
                }
                // swappiness, disableOOMKiller, kernel and kernelTCP have no v2 files: ignored, as
                // runc ignores them there.
            }
        }
        Ok(())
    }

    fn cpu(&mut self, c: &Cpu) -> Result<()> {
        let any = c.shares.is_some_and(|s| s != 0)
            || c.quota.is_some_and(|q| q != 0)
            || c.period.is_some_and(|p| p != 0)
            || c.burst.is_some()
            || c.realtime_runtime.is_some_and(|r| r != 0)
            || c.realtime_period.is_some_and(|p| p != 0)
            || c.idle.is_some();
        if !any {
            return Ok(());
        }
        let shares = c.shares.filter(|s| *s != 0);
        if let Some(s) = shares.filter(|s| !(MIN_SHARES..=MAX_SHARES).contains(s)) {
            return Err(Error::msg(format!(
                "linux.resources.cpu.shares: must be between {MIN_SHARES} and {MAX_SHARES}, got {s}"
            )));
        }
        if let Some(i) = c.idle.filter(|i| !(0..=1).contains(i)) {
            return Err(Error::msg(format!("linux.resources.cpu.idle: must be 0 or 1, got {i}")));
        }
        let quota = c.quota.filter(|q| *q != 0);
        let period = c.period.filter(|p| *p != 0);
        match self.version("linux.resources.cpu", "cpu")? {
            Version::V1 => {
                if let Some(s) = shares {
                    self.push("linux.resources.cpu.shares", "cpu", "cpu.shares", s.to_string())?;
                }
                if let Some(p) = period {
                    self.push("linux.resources.cpu.period", "cpu", "cpu.cfs_period_us", p.to_string())?;
                }
                if let Some(q) = quota {
                    self.push("linux.resources.cpu.quota", "cpu", "cpu.cfs_quota_us", q.to_string())?;
                }
                if let Some(b) = c.burst {
                    self.push("linux.resources.cpu.burst", "cpu", "cpu.cfs_burst_us", b.to_string())?;
                }
                // Before any task joins: an RT task cannot enter a group without RT runtime.
                if let Some(p) = c.realtime_period.filter(|p| *p != 0) {
                    self.push("linux.resources.cpu.realtimePeriod", "cpu", "cpu.rt_period_us", p.to_string())?;
                }
                if let Some(r) = c.realtime_runtime.filter(|r| *r != 0) {
                    self.push("linux.resources.cpu.realtimeRuntime", "cpu", "cpu.rt_runtime_us", r.to_string())?;
                }
                if let Some(i) = c.idle {
                    self.push("linux.resources.cpu.idle", "cpu", "cpu.idle", i.to_string())?;
                }
            }
            Version::V2 => {
                for (key, v) in
                    [("realtimeRuntime", c.realtime_runtime), ("realtimePeriod", c.realtime_period.map(|p| p as i64))]
                {
                    if v.is_some_and(|v| v != 0) {
                        return Err(Error::msg(format!(
                            "linux.resources.cpu.{key}: cgroup v2 has no real-time CPU limits (cgroup v1 only)"
                        )));
                    }
                }
                if let Some(i) = c.idle {
                    self.push("linux.resources.cpu.idle", "cpu", "cpu.idle", i.to_string())?;
                }
                if let Some(s) = shares {
                    self.push("linux.resources.cpu.shares", "cpu", "cpu.weight", shares_to_weight(s).to_string())?;
                }
                if quota.is_some() || period.is_some() {
                    let mut v = match quota {
                        Some(q) if q > 0 => q.to_string(),
                        _ => "max".to_string(),
                    };
                    if let Some(p) = period {
                        v.push_str(&format!(" {p}"));
                    }
                    let origin =
                        if quota.is_some() { "linux.resources.cpu.quota" } else { "linux.resources.cpu.period" };
                    self.push(origin, "cpu", "cpu.max", v)?;
                }
                if let Some(b) = c.burst {
                    self.push("linux.resources.cpu.burst", "cpu", "cpu.max.burst", b.to_string())?;
                }
            }
        }
        Ok(())
    }

    fn block_io(&mut self, b: &BlockIo) -> Result<()> {
        let any = b.weight.is_some()
            || b.leaf_weight.is_some()
            || !b.weight_device.is_empty()
            || !b.throttle_read_bps.is_empty()
            || !b.throttle_write_bps.is_empty()
            || !b.throttle_read_iops.is_empty()
            || !b.throttle_write_iops.is_empty();
        if !any {
            return Ok(());
        }
        let origin = "linux.resources.blockIO";
        let throttles = [
            ("throttleReadBpsDevice", &b.throttle_read_bps, "blkio.throttle.read_bps_device", "rbps"),
            ("throttleWriteBpsDevice", &b.throttle_write_bps, "blkio.throttle.write_bps_device", "wbps"),
            ("throttleReadIOPSDevice", &b.throttle_read_iops, "blkio.throttle.read_iops_device", "riops"),
            ("throttleWriteIOPSDevice", &b.throttle_write_iops, "blkio.throttle.write_iops_device", "wiops"),
        ];
        let weighted = |this: &mut Self, origin: String, file: &str, alt: &str, value: String| {
            this.out.push(ResWrite {
                version: Version::V1,
                controller: "blkio".into(),
                file: file.into(),
                value: Value::Set(value),
                origin,
                alt: Some(alt.into()),
            });
        };
        let controller = if self.at.locate("blkio") == Some(Version::V1) { "blkio" } else { "io" };
        match self.version(origin, controller)? {
            Version::V1 => {
                if let Some(w) = b.weight.filter(|w| *w != 0) {
                    weighted(self, format!("{origin}.weight"), "blkio.bfq.weight", "blkio.weight", w.to_string());
                }
                if let Some(w) = b.leaf_weight.filter(|w| *w != 0) {
                    self.push(&format!("{origin}.leafWeight"), "blkio", "blkio.leaf_weight", w.to_string())?;
                }
                for (i, d) in b.weight_device.iter().enumerate() {
                    let o = format!("{origin}.weightDevice[{i}]");
                    if let Some(w) = d.weight.filter(|w| *w != 0) {
                        let v = format!("{}:{} {w}", d.major, d.minor);
                        weighted(self, format!("{o}.weight"), "blkio.bfq.weight_device", "blkio.weight_device", v);
                    }
                    if let Some(w) = d.leaf_weight.filter(|w| *w != 0) {
                        let v = format!("{}:{} {w}", d.major, d.minor);
                        self.push(&format!("{o}.leafWeight"), "blkio", "blkio.leaf_weight_device", v)?;
                    }
                }
                for (key, list, file, _) in throttles {
                    for (i, t) in list.iter().enumerate() {
                        let v = format!("{}:{} {}", t.major, t.minor, t.rate);
                        self.push(&format!("{origin}.{key}[{i}]"), "blkio", file, v)?;
                    }
                }
            }
            Version::V2 => {
                // leafWeight has no v2 counterpart: ignored, as runc does.
                if let Some(w) = b.weight.filter(|w| *w != 0) {
                    self.push(&format!("{origin}.weight"), "io", "io.weight", blkio_to_io_weight(w).to_string())?;
                }
                for (i, d) in b.weight_device.iter().enumerate() {
                    if let Some(w) = d.weight.filter(|w| *w != 0) {
                        let v = format!("{}:{} {}", d.major, d.minor, blkio_to_io_weight(w));
                        self.push(&format!("{origin}.weightDevice[{i}].weight"), "io", "io.weight", v)?;
                    }
                }
                for (key, list, _, name) in throttles {
                    for (i, t) in list.iter().enumerate() {
                        let v = format!("{}:{} {name}={}", t.major, t.minor, t.rate);
                        self.push(&format!("{origin}.{key}[{i}]"), "io", "io.max", v)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `unified`: v2 files written as given, after everything else (runc's order); the
    /// controller is the part before the first `.` and must be offered by the v2 hierarchy.
    fn unified(&mut self, keys: &[(String, String)]) -> Result<()> {
        for (k, v) in keys {
            let origin = format!("linux.resources.unified[{k:?}]");
            if self.at.v2.is_none() {
                return Err(Error::msg(format!("{origin}: needs cgroup v2, and this host has no cgroup2 hierarchy")));
            }
            if k.contains('/') || k.starts_with('.') {
                return Err(Error::msg(format!("{origin}: must be a file name")));
            }
            let Some((controller, rest)) = k.split_once('.').filter(|(c, r)| !c.is_empty() && !r.is_empty()) else {
                return Err(Error::msg(format!("{origin}: must be CONTROLLER.PARAMETER")));
            };
            let _ = rest;
            if controller != "cgroup" && self.at.locate_v2(controller).is_none() {
                return Err(Error::msg(format!(
                    "{origin}: {controller} controller not available in {}",
                    self.at.v2_name
                )));
            }
            self.out.push(ResWrite {
                version: Version::V2,
                controller: controller.into(),
                file: k.clone(),
                value: Value::Set(v.clone()),
                origin,
                alt: None,
            });
        }
        Ok(())
    }
}

impl Controllers {
    fn locate_v2(&self, controller: &str) -> Option<Version> {
        self.v2.as_ref().filter(|v| v.iter().any(|c| c == controller)).map(|_| Version::V2)
    }
}

/// What runc 1.1 allows every container besides its config's rules (`specconv.AllowedDevices`):
/// mknod of any node, null, random, full, tty, zero, urandom, the pty slaves and ptmx.
const RUNC_ALLOWED_DEVICES: &[(char, Option<i64>, Option<i64>, &str)] = &[
    ('c', None, None, "m"),
    ('b', None, None, "m"),
    ('c', Some(1), Some(3), "rwm"),
    ('c', Some(1), Some(8), "rwm"),
    ('c', Some(1), Some(7), "rwm"),
    ('c', Some(5), Some(0), "rwm"),
    ('c', Some(1), Some(5), "rwm"),
    ('c', Some(1), Some(9), "rwm"),
    ('c', Some(136), None, "rwm"),
    ('c', Some(5), Some(2), "rwm"),
];

/// A rule as the v1 devices controller reads it: `a` for all devices, else `c 1:3 rwm` with
/// `*` for any number.
pub fn device_line(r: &DeviceRule) -> String {
    let kind = r.kind.unwrap_or('a');
    if kind == 'a' {
        return "a".into();
    }
    let n = |v: Option<i64>| v.filter(|v| *v >= 0).map_or("*".to_string(), |v| v.to_string());
    format!("{kind} {}:{} {}", n(r.major), n(r.minor), r.access.as_deref().unwrap_or("rwm"))
}

/// `2MB`, `1GB`, `64KB`: the names of the hugetlb files.
fn valid_page_size(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && matches!(unit, "KB" | "MB" | "GB")
}
