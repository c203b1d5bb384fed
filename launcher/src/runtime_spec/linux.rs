//! `config.json`'s `linux` object: namespaces, id mappings, devices, the cgroup and its
//! resources, sysctls, the seccomp profile, propagation, masked and read-only paths.

use super::{absolute, nonempty, opt_bool, opt_i64, opt_str, opt_strings, opt_u32, opt_u64, u32_of};
use crate::error::Result;
use crate::json::At;

/// `linux`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Linux {
    pub namespaces: Vec<Namespace>,
    pub uid_mappings: Vec<IdMap>,
    pub gid_mappings: Vec<IdMap>,
    pub devices: Vec<LinuxDevice>,
    pub cgroups_path: Option<String>,
    pub resources: Resources,
    pub sysctl: Vec<(String, String)>,
    pub seccomp: Option<Seccomp>,
    /// `shared`, `slave`, `private`, `unbindable` (with or without `r`).
    pub rootfs_propagation: Option<String>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// `linux` or `linux32` (`personality.domain`).
    pub personality: Option<String>,
    pub mount_label: Option<String>,
    /// `timeOffsets`: the clocks of a new time namespace, in document order.
    pub time_offsets: Vec<TimeOffset>,
}

/// One of `linux.timeOffsets`: a clock's offset in the container's time namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOffset {
    /// `monotonic` or `boottime` (the member's key).
    pub clock: String,
    pub secs: i64,
    /// Below one second.
    pub nanosecs: u32,
}

/// The namespace types of the spec, and their `CLONE_NEW*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsKind {
    Pid,
    Network,
    Mount,
    Ipc,
    Uts,
    User,
    Cgroup,
    Time,
}

/// The spec's names for [`NsKind`].
const NS_KINDS: [(&str, NsKind); 8] = [
    ("pid", NsKind::Pid),
    ("network", NsKind::Network),
    ("mount", NsKind::Mount),
    ("ipc", NsKind::Ipc),
    ("uts", NsKind::Uts),
    ("user", NsKind::User),
    ("cgroup", NsKind::Cgroup),
    ("time", NsKind::Time),
];

impl NsKind {
    /// The spec's name (`pid`, `network`, ...).
    pub fn name(self) -> &'static str {
        NS_KINDS.iter().find(|(_, k)| *k == self).map_or("?", |(n, _)| n)
    }
}

/// One of `linux.namespaces`: a new one, or (`path`) one to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub kind: NsKind,
    pub path: Option<String>,
}

/// One line of a uid or gid map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

/// One of `linux.devices`: a node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxDevice {
    pub path: String,
    /// `c`, `b`, `u` or `p`.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub file_mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// One of `linux.resources.devices`: an allow or deny rule of the device cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// `a` (all), `c` or `b`; `None` is all.
    pub kind: Option<char>,
    /// `None` is any (`*`).
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Some of `rwm`; `None` is all.
    pub access: Option<String>,
}

/// `linux.resources.memory` (bytes; -1 is unlimited).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Memory {
    pub limit: Option<i64>,
    pub reservation: Option<i64>,
    pub swap: Option<i64>,
    pub kernel: Option<i64>,
    pub kernel_tcp: Option<i64>,
    pub swappiness: Option<u64>,
    pub disable_oom_killer: bool,
    pub use_hierarchy: Option<bool>,
    pub check_before_update: bool,
}

/// `linux.resources.cpu`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cpu {
    pub shares: Option<u64>,
    pub quota: Option<i64>,
    pub burst: Option<u64>,
    pub period: Option<u64>,
    pub realtime_runtime: Option<i64>,
    pub realtime_period: Option<u64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
    pub idle: Option<i64>,
}

/// A weight for one device (`linux.resources.blockIO.weightDevice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightDevice {
    pub major: i64,
    pub minor: i64,
    pub weight: Option<u32>,
    pub leaf_weight: Option<u32>,
}

/// A rate for one device (`linux.resources.blockIO.throttle*Device`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleDevice {
    pub major: i64,
    pub minor: i64,
    pub rate: u64,
}

/// `linux.resources.blockIO`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockIo {
    pub weight: Option<u32>,
    pub leaf_weight: Option<u32>,
    pub weight_device: Vec<WeightDevice>,
    pub throttle_read_bps: Vec<ThrottleDevice>,
    pub throttle_write_bps: Vec<ThrottleDevice>,
    pub throttle_read_iops: Vec<ThrottleDevice>,
    pub throttle_write_iops: Vec<ThrottleDevice>,
}

/// One of `linux.resources.hugepageLimits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HugepageLimit {
    /// `2MB`, `1GB`, ...
    pub page_size: String,
    pub limit: u64,
}

/// `linux.resources`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resources {
    pub devices: Vec<DeviceRule>,
    pub memory: Option<Memory>,
    pub cpu: Option<Cpu>,
    /// `pids.limit`; -1 (or 0 in older specs' writers) is unlimited.
    pub pids_limit: Option<i64>,
    pub block_io: Option<BlockIo>,
    pub hugepage_limits: Vec<HugepageLimit>,
    /// `network.classID` and `network.priorities` are kept only to refuse them where the
    /// host lacks net_cls/net_prio.
    pub network: bool,
    /// cgroup v2 files to write (`unified`).
    pub unified: Vec<(String, String)>,
}

/// `linux.seccomp`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Seccomp {
    pub default_action: String,
    pub default_errno_ret: Option<u32>,
    pub architectures: Vec<String>,
    pub flags: Vec<String>,
    pub listener_path: Option<String>,
    pub syscalls: Vec<SeccompRule>,
}

/// One of `linux.seccomp.syscalls`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeccompRule {
    pub names: Vec<String>,
    pub action: String,
    pub errno_ret: Option<u32>,
    pub args: Vec<SeccompArg>,
}

/// An argument condition of a seccomp rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompArg {
    pub index: u32,
    pub value: u64,
    pub value_two: u64,
    /// `SCMP_CMP_EQ`, ...
    pub op: String,
}

/// The seccomp actions of the spec.
const SECCOMP_ACTIONS: [&str; 8] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
];

/// The seccomp argument operators of the spec.
const SECCOMP_OPS: [&str; 7] =
    ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];

/// The clocks a time namespace offsets (time_namespaces(7)).
const TIME_CLOCKS: [&str; 2] = ["monotonic", "boottime"];

/// Root propagation values (runc's list).
const PROPAGATIONS: [&str; 8] =
    ["shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable"];

/// Reads `linux`.
pub fn parse(l: &At<'_>) -> Result<Linux> {
    let mut namespaces: Vec<Namespace> = Vec::new();
    if let Some(ns) = l.opt("namespaces")? {
        for n in ns.items()? {
            let t = n.req("type")?;
            let name = t.str()?;
            let kind = NS_KINDS
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, k)| *k)
                .ok_or_else(|| t.error(format!("unknown namespace type {name:?}")))?;
            if namespaces.iter().any(|x| x.kind == kind) {
                return Err(t.error(format!("namespace {name:?} given twice")));
            }
            let path = match n.opt("path")? {
                Some(p) => Some(absolute(&p, nonempty(&p)?)?.to_string()),
                None => None,
            };
            namespaces.push(Namespace { kind, path });
        }
    }
    let uid_mappings = id_maps(l, "uidMappings")?;
    let gid_mappings = id_maps(l, "gidMappings")?;
    let new_userns = namespaces.iter().any(|n| n.kind == NsKind::User && n.path.is_none());
    let mapped = !uid_mappings.is_empty() || !gid_mappings.is_empty();
    if mapped && !new_userns {
        return Err(l.error("uidMappings/gidMappings need a new user namespace in linux.namespaces"));
    }
    let rootfs_propagation = match l.opt("rootfsPropagation")? {
        Some(p) => {
            let s = p.str()?;
            if !PROPAGATIONS.contains(&s) {
                return Err(p.error(format!("unknown propagation {s:?}")));
            }
            Some(s.to_string())
        }
        None => None,
    };
    let personality = match l.opt("personality")? {
        Some(p) => {
            let d = p.req("domain")?;
            let s = d.str()?;
            if s != "LINUX" && s != "LINUX32" {
                return Err(d.error(format!("expected LINUX or LINUX32: {s:?}")));
            }
            Some(s.to_string())
        }
        None => None,
    };
    Ok(Linux {
        namespaces,
        uid_mappings,
        gid_mappings,
        devices: match l.opt("devices")? {
            Some(d) => d.items()?.iter().map(device).collect::<Result<_>>()?,
            None => Vec::new(),
        },
        cgroups_path: opt_str(l, "cgroupsPath")?.filter(|s| !s.is_empty()),
        resources: match l.opt("resources")? {
            Some(r) => resources(&r)?,
            None => Resources::default(),
        },
        sysctl: string_map(l, "sysctl")?,
        seccomp: l.opt("seccomp")?.map(|s| seccomp(&s)).transpose()?,
        rootfs_propagation,
        masked_paths: absolute_paths(l, "maskedPaths")?,
        readonly_paths: absolute_paths(l, "readonlyPaths")?,
        personality,
        mount_label: opt_str(l, "mountLabel")?.filter(|s| !s.is_empty()),
        time_offsets: time_offsets(l)?,
    })
}

/// `timeOffsets`: `{"monotonic": {"secs": S, "nanosecs": N}, ...}`, both members optional.
fn time_offsets(l: &At<'_>) -> Result<Vec<TimeOffset>> {
    let Some(t) = l.opt("timeOffsets")? else { return Ok(Vec::new()) };
    t.entries()?
        .into_iter()
        .map(|(clock, o)| {
            if !TIME_CLOCKS.contains(&clock) {
                return Err(o.error(format!("unknown clock (expected {})", TIME_CLOCKS.join(" or "))));
            }
            let nanosecs = match o.opt("nanosecs")? {
                Some(n) => {
                    let v = u32_of(&n)?;
                    if v >= 1_000_000_000 {
                        return Err(n.error(format!("must be below 1000000000: {v}")));
                    }
                    v
                }
                None => 0,
            };
            Ok(TimeOffset { clock: clock.to_string(), secs: opt_i64(&o, "secs")?.unwrap_or(0), nanosecs })
        })
        .collect()
}

/// `uidMappings`/`gidMappings` of `v`.
pub fn id_maps(v: &At<'_>, key: &str) -> Result<Vec<IdMap>> {
    Ok(opt_id_maps(v, key)?.unwrap_or_default())
}

/// A list of id mappings under `key`, `None` when the key is absent.
pub fn opt_id_maps(v: &At<'_>, key: &str) -> Result<Option<Vec<IdMap>>> {
    let Some(list) = v.opt(key)? else { return Ok(None) };
    list.items()?
        .iter()
        .map(|m| {
            let size_at = m.req("size")?;
            let size = u32_of(&size_at)?;
            if size == 0 {
                return Err(size_at.error("must be greater than zero"));
            }
            Ok(IdMap { container_id: u32_of(&m.req("containerID")?)?, host_id: u32_of(&m.req("hostID")?)?, size })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn absolute_paths(v: &At<'_>, key: &str) -> Result<Vec<String>> {
    let Some(list) = v.opt(key)? else { return Ok(Vec::new()) };
    list.items()?.iter().map(|p| Ok(absolute(p, p.str()?)?.to_string())).collect()
}

fn string_map(v: &At<'_>, key: &str) -> Result<Vec<(String, String)>> {
    let Some(m) = v.opt(key)? else { return Ok(Vec::new()) };
    m.entries()?.into_iter().map(|(k, v)| Ok((k.to_string(), v.str()?.to_string()))).collect()
}

fn one_char(v: &At<'_>, allowed: &str) -> Result<char> {
    let s = v.str()?;
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if allowed.contains(c) => Ok(c),
        _ => Err(v.error(format!("expected one of {:?}: {s:?}", allowed.chars().collect::<Vec<_>>()))),
    }
}

fn device(d: &At<'_>) -> Result<LinuxDevice> {
    let p = d.req("path")?;
    let path = absolute(&p, nonempty(&p)?)?;
    let kind = one_char(&d.req("type")?, "cbup")?;
    let (major, minor) = match kind {
        'p' => (opt_i64(d, "major")?.unwrap_or(0), opt_i64(d, "minor")?.unwrap_or(0)),
        _ => (d.req("major")?.i64()?, d.req("minor")?.i64()?),
    };
    Ok(LinuxDevice {
        path: path.to_string(),
        kind,
        major,
        minor,
        file_mode: opt_u32(d, "fileMode")?,
        uid: opt_u32(d, "uid")?,
        gid: opt_u32(d, "gid")?,
    })
}

fn device_rule(d: &At<'_>) -> Result<DeviceRule> {
    let access = match d.opt("access")? {
        Some(a) => {
            let s = a.str()?;
            if s.is_empty() || !s.chars().all(|c| "rwm".contains(c)) {
                return Err(a.error(format!("expected some of \"rwm\": {s:?}")));
            }
            Some(s.to_string())
        }
        None => None,
    };
    Ok(DeviceRule {
        allow: d.req("allow")?.bool()?,
        kind: d.opt("type")?.map(|t| one_char(&t, "acb")).transpose()?,
        major: opt_i64(d, "major")?,
        minor: opt_i64(d, "minor")?,
        access,
    })
}

fn resources(r: &At<'_>) -> Result<Resources> {
    let memory = match r.opt("memory")? {
        Some(m) => Some(Memory {
            limit: opt_i64(&m, "limit")?,
            reservation: opt_i64(&m, "reservation")?,
            swap: opt_i64(&m, "swap")?,
            kernel: opt_i64(&m, "kernel")?,
            kernel_tcp: opt_i64(&m, "kernelTCP")?,
            swappiness: match m.opt("swappiness")? {
                Some(s) => {
                    let n = s.u64()?;
                    if n > 100 {
                        return Err(s.error(format!("must be between 0 and 100: {n}")));
                    }
                    Some(n)
                }
                None => None,
            },
            disable_oom_killer: opt_bool(&m, "disableOOMKiller")?,
            use_hierarchy: m.opt("useHierarchy")?.map(|b| b.bool()).transpose()?,
            check_before_update: opt_bool(&m, "checkBeforeUpdate")?,
        }),
        None => None,
    };
    let cpu = match r.opt("cpu")? {
        Some(c) => Some(Cpu {
            shares: opt_u64(&c, "shares")?,
            quota: opt_i64(&c, "quota")?,
            burst: opt_u64(&c, "burst")?,
            period: opt_u64(&c, "period")?,
            realtime_runtime: opt_i64(&c, "realtimeRuntime")?,
            realtime_period: opt_u64(&c, "realtimePeriod")?,
            cpus: opt_str(&c, "cpus")?.filter(|s| !s.is_empty()),
            mems: opt_str(&c, "mems")?.filter(|s| !s.is_empty()),
            idle: opt_i64(&c, "idle")?,
        }),
        None => None,
    };
    let block_io = match r.opt("blockIO")? {
        Some(b) => Some(block_io(&b)?),
        None => None,
    };
    let pids_limit = match r.opt("pids")? {
        Some(p) => Some(p.req("limit")?.i64()?),
        None => None,
    };
    let hugepage_limits = match r.opt("hugepageLimits")? {
        Some(h) => h
            .items()?
            .iter()
            .map(|l| {
                Ok(HugepageLimit {
                    page_size: nonempty(&l.req("pageSize")?)?.to_string(),
                    limit: l.req("limit")?.u64()?,
                })
            })
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let network = match r.opt("network")? {
        Some(n) => {
            n.opt("classID")?.is_some() || n.opt("priorities")?.is_some_and(|p| p.items().is_ok_and(|i| !i.is_empty()))
        }
        None => false,
    };
    Ok(Resources {
        devices: match r.opt("devices")? {
            Some(d) => d.items()?.iter().map(device_rule).collect::<Result<_>>()?,
            None => Vec::new(),
        },
        memory,
        cpu,
        pids_limit,
        block_io,
        hugepage_limits,
        network,
        unified: string_map(r, "unified")?,
    })
}

fn block_io(b: &At<'_>) -> Result<BlockIo> {
    let throttle = |key: &str| -> Result<Vec<ThrottleDevice>> {
        let Some(list) = b.opt(key)? else { return Ok(Vec::new()) };
        list.items()?
            .iter()
            .map(|d| {
                Ok(ThrottleDevice {
                    major: d.req("major")?.i64()?,
                    minor: d.req("minor")?.i64()?,
                    rate: d.req("rate")?.u64()?,
                })
            })
            .collect()
    };
    let weight_device = match b.opt("weightDevice")? {
        Some(list) => list
            .items()?
            .iter()
            .map(|d| {
                Ok(WeightDevice {
                    major: d.req("major")?.i64()?,
                    minor: d.req("minor")?.i64()?,
                    weight: weight(d, "weight")?,
                    leaf_weight: weight(d, "leafWeight")?,
                })
            })
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    Ok(BlockIo {
        weight: weight(b, "weight")?,
        leaf_weight: weight(b, "leafWeight")?,
        weight_device,
        throttle_read_bps: throttle("throttleReadBpsDevice")?,
        throttle_write_bps: throttle("throttleWriteBpsDevice")?,
        throttle_read_iops: throttle("throttleReadIOPSDevice")?,
        throttle_write_iops: throttle("throttleWriteIOPSDevice")?,
    })
}

/// A blkio weight: 10 to 1000; 0 means unset (dockerd writes it so, and runc ignores it).
fn weight(v: &At<'_>, key: &str) -> Result<Option<u32>> {
    let Some(w) = v.opt(key)? else { return Ok(None) };
    let n = u32_of(&w)?;
    if n == 0 {
        return Ok(None);
    }
    if !(10..=1000).contains(&n) {
        return Err(w.error(format!("must be between 10 and 1000: {n}")));
    }
    Ok(Some(n))
}

fn seccomp_action(v: &At<'_>) -> Result<String> {
    let s = v.str()?;
    if !SECCOMP_ACTIONS.contains(&s) {
        let hint = if s == "SCMP_ACT_NOTIFY" { " (seccomp notify is not supported)" } else { "" };
        return Err(v.error(format!("unsupported action {s:?}{hint}")));
    }
    Ok(s.to_string())
}

fn seccomp(s: &At<'_>) -> Result<Seccomp> {
    let mut syscalls = Vec::new();
    if let Some(list) = s.opt("syscalls")? {
        for r in list.items()? {
            let names_at = r.req("names")?;
            let names: Vec<String> = names_at.strings()?.into_iter().map(str::to_string).collect();
            if names.is_empty() {
                return Err(names_at.error("must not be empty"));
            }
            let args = match r.opt("args")? {
                Some(a) => a
                    .items()?
                    .iter()
                    .map(|x| {
                        let index_at = x.req("index")?;
                        let index = u32_of(&index_at)?;
                        if index > 5 {
                            return Err(index_at.error(format!("must be between 0 and 5: {index}")));
                        }
                        let op_at = x.req("op")?;
                        let op = op_at.str()?;
                        if !SECCOMP_OPS.contains(&op) {
                            return Err(op_at.error(format!("unknown operator {op:?}")));
                        }
                        Ok(SeccompArg {
                            index,
                            value: x.req("value")?.u64()?,
                            value_two: opt_u64(x, "valueTwo")?.unwrap_or(0),
                            op: op.to_string(),
                        })
                    })
                    .collect::<Result<_>>()?,
                None => Vec::new(),
            };
            syscalls.push(SeccompRule {
                names,
                action: seccomp_action(&r.req("action")?)?,
                errno_ret: opt_u32(&r, "errnoRet")?,
                args,
            });
        }
    }
    Ok(Seccomp {
        default_action: seccomp_action(&s.req("defaultAction")?)?,
        default_errno_ret: opt_u32(s, "defaultErrnoRet")?,
        architectures: opt_strings(s, "architectures")?,
        flags: opt_strings(s, "flags")?,
        listener_path: opt_str(s, "listenerPath")?.filter(|p| !p.is_empty()),
        syscalls,
    })
}
