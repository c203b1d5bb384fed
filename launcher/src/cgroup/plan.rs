//! The pure half: from placement and properties to a [`Plan`] of directories, controller
//! enables and file writes. Every user error (unknown controller, bad slice, device that is not
//! a block device) surfaces here, before anything is created.

use super::placement::layout;
use super::property::{Amount, IoLimit, Property, Setting, KEYS};
use super::{Hierarchy, Host, Placement};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Controllers in the order the kernel lists them (`cgroup.controllers`).
const CONTROLLER_ORDER: &[&str] = &["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"];

/// systemd's `CGROUP_CPU_QUOTA_DEFAULT_PERIOD_USEC`.
const DEFAULT_PERIOD_US: u64 = 100_000;
const USEC_PER_MSEC: u64 = 1_000;
const USEC_PER_SEC: u64 = 1_000_000;

/// What the launcher asks for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Machine name (`-M`), unescaped.
    pub machine: &'a str,
    /// Where the cgroup goes.
    pub placement: &'a Placement,
    /// `--property=` values in command-line order (later ones win).
    pub properties: &'a [Property],
    /// Hand the container's cgroup to this uid/gid (the container's root) so an init inside
    /// can manage its subtree (`-b`); every controller of the hierarchy is then enabled down
    /// to the container's cgroup.
    pub delegate: Option<(u32, u32)>,
}

/// One cgroup file write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Absolute path of the file.
    pub file: PathBuf,
    /// What is written (one write(2)).
    pub value: String,
    /// What asked for it, the context of its errors (`--property=MemoryMax=32M`,
    /// `linux.resources.memory.limit`).
    pub origin: String,
    /// A missing file is not an error (`cpu.idle` before Linux 5.15).
    pub optional: bool,
}

/// Everything `Cgroup::create` does, decided up front. Paths are absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The hierarchy the plan is for.
    pub hierarchy: Hierarchy,
    /// The container's cgroup.
    pub cgroup: PathBuf,
    /// `--keep-unit`: the launcher's cgroup, `supervisor/` beside `payload/`.
    pub supervisor: Option<PathBuf>,
    /// Nothing at or above this directory is created or removed (the root, or the launcher's
    /// own cgroup with `--keep-unit`).
    pub boundary: PathBuf,
    /// Directories below the boundary down to the container's cgroup, outermost first; those
    /// that exist already are left alone (and never removed).
    pub mkdir: Vec<PathBuf>,
    /// Directories whose `cgroup.subtree_control` gets `+c` for each of `controllers`, from
    /// the root down to the container cgroup's parent.
    pub enable: Vec<PathBuf>,
    /// Controllers the properties (or delegation) need, in kernel order.
    pub controllers: Vec<String>,
    /// Those of `controllers` a property needs: enabling them must succeed. The others are
    /// delegation's, enabled where the kernel lets us (nspawn carries on without them, e.g.
    /// nested in a cgroup namespace whose root holds processes: EBUSY).
    pub required: Vec<String>,
    /// Property files of the container's cgroup, in write order.
    pub writes: Vec<Write>,
    /// uid/gid the container's cgroup is handed to.
    pub delegate: Option<(u32, u32)>,
    /// An existing leaf is taken as it is when empty and refused when it holds processes (the
    /// OCI runtime: the engine may have made it, runc 1.2 refuses a populated one). Otherwise
    /// a stale leaf is replaced and a dying machine's reclaimed.
    pub reuse: bool,
}

/// Plans the container's cgroup: pure except for the host facts a few property values need.
pub fn plan(h: &Hierarchy, req: &Request<'_>, host: &dyn Host) -> Result<Plan> {
    check_controllers(h, req.properties)?;
    let l = layout(h, req.placement, req.machine).map_err(Error::msg)?;
    let cgroup = h.root.join(&l.leaf);
    let writes = resolve(&cgroup, req.properties, host)?;

    let mut required: Vec<String> = req.properties.iter().map(|p| p.controller.to_string()).collect();
    kernel_order(&mut required);
    let mut controllers = match req.delegate {
        Some(_) => h.controllers.clone(),
        None => required.clone(),
    };
    kernel_order(&mut controllers);

    let mut mkdir = Vec::new();
    let mut dir = under(&h.root, &l.boundary);
    for part in l.leaf.strip_prefix(&l.boundary).unwrap_or(&l.leaf).components() {
        dir.push(part);
        mkdir.push(dir.clone());
    }
    let mut enable = Vec::new();
    if !controllers.is_empty() {
        let mut dir = h.root.clone();
        enable.push(dir.clone());
        let parent = l.leaf.parent().unwrap_or(Path::new(""));
        for part in parent.components() {
            dir.push(part);
            enable.push(dir.clone());
        }
    }
    Ok(Plan {
        hierarchy: h.clone(),
        cgroup,
        supervisor: l.supervisor.map(|s| h.root.join(s)),
        boundary: under(&h.root, &l.boundary),
        mkdir,
        enable,
        controllers,
        required,
        writes,
        delegate: req.delegate,
        reuse: false,
    })
}

/// Sorts controllers as the kernel lists them and drops duplicates.
pub(crate) fn kernel_order(controllers: &mut Vec<String>) {
    crate::sort::sort_by_key(controllers, |c| CONTROLLER_ORDER.iter().position(|o| o == c).unwrap_or(usize::MAX));
    controllers.dedup();
}

/// `root/rel` without the trailing `/` that joining an empty path adds.
fn under(root: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// Refuses a property whose controller the hierarchy lacks, naming both.
pub(crate) fn check_controllers(h: &Hierarchy, props: &[Property]) -> Result<()> {
    match props.iter().find(|p| !h.has_controller(p.controller)) {
        Some(p) => Err(Error::msg(format!(
            "--property={}: {} controller not available in {}",
            p.raw,
            p.controller,
            h.describe()
        ))),
        None => Ok(()),
    }
}

/// The files and values for `props` in `cgroup`, in key-table order, later properties winning.
pub(crate) fn resolve(cgroup: &Path, props: &[Property], host: &dyn Host) -> Result<Vec<Write>> {
    let last = |name: &str| props.iter().rev().find(|p| p.name == name);
    let mut out = Vec::new();
    let mut push = |file: &str, value: String, origin: &Property, optional: bool| {
        out.push(Write { file: cgroup.join(file), value, origin: format!("--property={}", origin.raw), optional });
    };
    let mut cpu_max_done = false;
    let mut io_max_done = false;
    for key in KEYS {
        match key.file {
            "cpu.max" if !cpu_max_done => {
                cpu_max_done = true;
                let quota = last("CPUQuota");
                let period = last("CPUQuotaPeriodSec");
                if let Some(origin) = quota.or(period) {
                    let q = quota.and_then(|p| match p.setting {
                        Setting::CpuQuota(q) => q,
                        _ => None,
                    });
                    let per = period.and_then(|p| match p.setting {
                        Setting::CpuQuotaPeriod(v) => v,
                        _ => None,
                    });
                    push("cpu.max", cpu_max(q, per), origin, false);
                }
            }
            "io.max" if !io_max_done => {
                io_max_done = true;
                for (line, origin) in io_max(props, host)? {
                    push("io.max", line, origin, false);
                }
            }
            "cpu.max" | "io.max" => {}
            file => {
                let Some(p) = last(key.name) else { continue };
                match &p.setting {
                    Setting::Memory(a) => push(file, amount(p, *a, || host.memory_total())?, p, false),
                    Setting::Tasks(a) => push(file, amount(p, *a, || host.tasks_max())?, p, false),
                    Setting::CpuWeight(Some(w)) => {
                        push(file, w.to_string(), p, false);
                        push("cpu.idle", "0".into(), p, true);
                    }
                    Setting::CpuWeight(None) => push("cpu.idle", "1".into(), p, false),
                    Setting::CpuSet(list) => push(file, list.clone(), p, false),
                    Setting::IoWeight(w) => push(file, format!("default {w}"), p, false),
                    _ => {}
                }
            }
        }
    }
    Ok(out)
}

/// `max`, a number, or a share of `total` (RAM or the task limit) read only when needed.
fn amount(p: &Property, a: Amount, total: impl Fn() -> Result<u64>) -> Result<String> {
    Ok(match a {
        Amount::Max => "max".into(),
        Amount::Value(v) => v.to_string(),
        Amount::Permyriad(pm) => {
            let t = total().map_err(|e| e.context(format!("--property={}", p.raw)))?;
            (u128::from(t) * u128::from(pm) / 10_000).to_string()
        }
    })
}

/// `cpu.max` as systemd writes it: the period clamped to [1 ms, 1 s] and long enough for a
/// 1 ms quota; no quota means `max` with the default period.
fn cpu_max(quota_per_sec: Option<u64>, period: Option<u64>) -> String {
    let Some(q) = quota_per_sec else {
        return format!("max {DEFAULT_PERIOD_US}");
    };
    let period = period.unwrap_or(DEFAULT_PERIOD_US);
    let period = period.max(USEC_PER_MSEC).max(USEC_PER_MSEC * USEC_PER_SEC / q).min(USEC_PER_SEC);
    let quota = (u128::from(q) * u128::from(period) / u128::from(USEC_PER_SEC)) as u64;
    format!("{} {period}", quota.max(USEC_PER_MSEC))
}

/// One device's `io.max` keys: `None` unset, `Some(None)` `max`.
struct IoLine<'p> {
    dev: (u32, u32),
    keys: [Option<Option<u64>>; 4],
    origin: &'p Property,
}

/// One `io.max` line per device (in order of first mention), with the keys that were set:
/// unset keys keep their value on a live cgroup, and are `max` on a new one.
fn io_max<'p>(props: &'p [Property], host: &dyn Host) -> Result<Vec<(String, &'p Property)>> {
    const NAMES: [&str; 4] = ["rbps", "wbps", "riops", "wiops"];
    let mut lines: Vec<IoLine<'p>> = Vec::new();
    for p in props {
        let Setting::Io { limit, device, value } = &p.setting else {
            continue;
        };
        let dev = host.block_device(device).map_err(|e| e.context(format!("--property={}", p.raw)))?;
        let slot = match limit {
            IoLimit::ReadBandwidth => 0,
            IoLimit::WriteBandwidth => 1,
            IoLimit::ReadIops => 2,
            IoLimit::WriteIops => 3,
        };
        match lines.iter_mut().find(|l| l.dev == dev) {
            Some(l) => l.keys[slot] = Some(*value),
            None => {
                let mut keys = [None; 4];
                keys[slot] = Some(*value);
                lines.push(IoLine { dev, keys, origin: p });
            }
        }
    }
    Ok(lines
        .into_iter()
        .map(|l| {
            let mut text = format!("{}:{}", l.dev.0, l.dev.1);
            for (k, name) in l.keys.iter().zip(NAMES) {
                match k {
                    Some(Some(n)) => text.push_str(&format!(" {name}={n}")),
                    Some(None) => text.push_str(&format!(" {name}=max")),
                    None => {}
                }
            }
            (text, l.origin)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::parse_property;
    use super::*;

    /// A host with 8 GiB of RAM, 32768 tasks and every path on disk 8:0.
    pub(crate) struct FakeHost;
    impl Host for FakeHost {
        fn memory_total(&self) -> Result<u64> {
            Ok(8 << 30)
        }
        fn tasks_max(&self) -> Result<u64> {
            Ok(32768)
        }
        fn block_device(&self, path: &Path) -> Result<(u32, u32)> {
            match path.to_str() {
                Some("/dev/vdb") => Ok((254, 16)),
                Some("/dev/missing") => Err(Error::msg("stat /dev/missing: no such file or directory")),
                _ => Ok((8, 0)),
            }
        }
    }

    fn all_controllers() -> Hierarchy {
        Hierarchy {
            root: "/cg".into(),
            hybrid: false,
            controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"].map(String::from).to_vec(),
        }
    }

    fn props(list: &[&str]) -> Vec<Property> {
        list.iter().map(|s| parse_property(s).expect("valid property")).collect()
    }

    /// `(file name, value)` of each write for `list`, the golden form.
    fn golden(list: &[&str]) -> Vec<(String, String)> {
        let ps = props(list);
        resolve(Path::new("/cg/x"), &ps, &FakeHost)
            .expect("resolves")
            .into_iter()
            .map(|w| (w.file.strip_prefix("/cg/x").expect("in cgroup").display().to_string(), w.value))
            .collect()
    }

    fn one(list: &[&str]) -> (String, String) {
        let mut g = golden(list);
        assert_eq!(g.len(), 1, "{list:?} → {g:?}");
        g.remove(0)
    }

    fn pair(file: &str, value: &str) -> (String, String) {
        (file.to_string(), value.to_string())
    }

    #[test]
    fn golden_memory() {
        assert_eq!(one(&["MemoryMax=32M"]), pair("memory.max", "33554432"));
        assert_eq!(one(&["MemoryMax=infinity"]), pair("memory.max", "max"));
        assert_eq!(one(&["MemoryHigh=1.5G"]), pair("memory.high", "1610612736"));
        assert_eq!(one(&["MemoryLow=25%"]), pair("memory.low", "2147483648"));
        assert_eq!(one(&["MemoryMin=64K"]), pair("memory.min", "65536"));
        assert_eq!(one(&["MemoryMin="]), pair("memory.min", "0"));
        assert_eq!(one(&["MemorySwapMax=0"]), pair("memory.swap.max", "0"));
        assert_eq!(one(&["MemorySwapMax=1T"]), pair("memory.swap.max", "1099511627776"));
    }

    #[test]
    fn golden_cpu() {
        assert_eq!(one(&["CPUQuota=10%"]), pair("cpu.max", "10000 100000"));
        assert_eq!(one(&["CPUQuota=250%"]), pair("cpu.max", "250000 100000"));
        assert_eq!(one(&["CPUQuota=20%", "CPUQuotaPeriodSec=10ms"]), pair("cpu.max", "2000 10000"));
        // Period raised so that the quota is at least 1 ms (systemd's clamping).
        assert_eq!(one(&["CPUQuota=1%", "CPUQuotaPeriodSec=10ms"]), pair("cpu.max", "1000 100000"));
        assert_eq!(one(&["CPUQuota=50%", "CPUQuotaPeriodSec=5s"]), pair("cpu.max", "500000 1000000"));
        assert_eq!(one(&["CPUQuota=50%", "CPUQuotaPeriodSec=100us"]), pair("cpu.max", "1000 2000"));
        assert_eq!(one(&["CPUQuota="]), pair("cpu.max", "max 100000"));
        assert_eq!(one(&["CPUQuotaPeriodSec=20ms"]), pair("cpu.max", "max 100000"));
        assert_eq!(golden(&["CPUWeight=500"]), vec![pair("cpu.weight", "500"), pair("cpu.idle", "0")]);
        assert_eq!(one(&["CPUWeight=idle"]), pair("cpu.idle", "1"));
        assert_eq!(one(&["AllowedCPUs=0-1 3"]), pair("cpuset.cpus", "0-1,3"));
        assert_eq!(one(&["AllowedMemoryNodes=0"]), pair("cpuset.mems", "0"));
    }

    #[test]
    fn golden_io_and_tasks() {
        assert_eq!(one(&["IOWeight=200"]), pair("io.weight", "default 200"));
        assert_eq!(one(&["IOReadBandwidthMax=/dev/sda 1M"]), pair("io.max", "8:0 rbps=1000000"));
        assert_eq!(one(&["IOWriteBandwidthMax=/dev/sda 2K"]), pair("io.max", "8:0 wbps=2000"));
        assert_eq!(one(&["IOReadIOPSMax=/dev/sda 100"]), pair("io.max", "8:0 riops=100"));
        assert_eq!(one(&["IOWriteIOPSMax=/dev/sda infinity"]), pair("io.max", "8:0 wiops=max"));
        assert_eq!(
            golden(&["IOReadBandwidthMax=/dev/sda 1M", "IOWriteIOPSMax=/dev/vdb 50", "IOWriteBandwidthMax=/ 5M"]),
            vec![pair("io.max", "8:0 rbps=1000000 wbps=5000000"), pair("io.max", "254:16 wiops=50")]
        );
        assert_eq!(one(&["TasksMax=4"]), pair("pids.max", "4"));
        assert_eq!(one(&["TasksMax=infinity"]), pair("pids.max", "max"));
        assert_eq!(one(&["TasksMax=50%"]), pair("pids.max", "16384"));
    }

    #[test]
    fn later_property_wins_and_order_is_the_table() {
        assert_eq!(
            golden(&["TasksMax=9", "MemoryMax=1G", "MemoryMin=1M", "MemoryMax=2G"]),
            vec![pair("memory.min", "1048576"), pair("memory.max", "2147483648"), pair("pids.max", "9")]
        );
    }

    #[test]
    fn resolution_errors_name_the_property() {
        let ps = props(&["IOReadBandwidthMax=/dev/missing 1M"]);
        let e = resolve(Path::new("/cg/x"), &ps, &FakeHost).expect_err("missing device");
        assert_eq!(
            e.to_string(),
            "--property=IOReadBandwidthMax=/dev/missing 1M: stat /dev/missing: no such file or directory"
        );
    }

    #[test]
    fn plan_default_placement() {
        let ps = props(&["MemoryMax=32M", "TasksMax=4"]);
        let placement = Placement::Machine { slice: None };
        let req = Request { machine: "web-1", placement: &placement, properties: &ps, delegate: None };
        let p = plan(&all_controllers(), &req, &FakeHost).expect("plan");
        let scope = PathBuf::from("/cg/machine.slice/machine-web\\x2d1.scope");
        assert_eq!(p.cgroup, scope);
        assert_eq!(p.mkdir, vec![PathBuf::from("/cg/machine.slice"), scope.clone()]);
        assert_eq!(p.enable, vec![PathBuf::from("/cg"), PathBuf::from("/cg/machine.slice")]);
        assert_eq!(p.controllers, vec!["memory", "pids"]);
        assert_eq!(p.boundary, PathBuf::from("/cg"));
        assert_eq!(p.supervisor, None);
        assert_eq!(p.writes.len(), 2);
        assert_eq!(p.writes[0].file, scope.join("memory.max"));
        assert_eq!(p.writes[0].origin, "--property=MemoryMax=32M");
    }

    #[test]
    fn plan_nested_slice_and_keep_unit() {
        let ps = props(&["CPUWeight=50"]);
        let placement = Placement::Machine { slice: Some("a-b.slice".into()) };
        let req = Request { machine: "m", placement: &placement, properties: &ps, delegate: None };
        let p = plan(&all_controllers(), &req, &FakeHost).expect("plan");
        assert_eq!(
            p.mkdir,
            ["/cg/a.slice", "/cg/a.slice/a-b.slice", "/cg/a.slice/a-b.slice/machine-m.scope"]
                .map(PathBuf::from)
                .to_vec()
        );
        assert_eq!(p.enable, ["/cg", "/cg/a.slice", "/cg/a.slice/a-b.slice"].map(PathBuf::from).to_vec());

        let placement = Placement::KeepUnit { own: "svc/web".into() };
        let req = Request { machine: "m", placement: &placement, properties: &ps, delegate: None };
        let p = plan(&all_controllers(), &req, &FakeHost).expect("plan");
        assert_eq!(p.cgroup, PathBuf::from("/cg/svc/web/payload"));
        assert_eq!(p.supervisor, Some(PathBuf::from("/cg/svc/web/supervisor")));
        assert_eq!(p.mkdir, vec![PathBuf::from("/cg/svc/web/payload")]);
        assert_eq!(p.enable, ["/cg", "/cg/svc", "/cg/svc/web"].map(PathBuf::from).to_vec());
        assert_eq!(p.boundary, PathBuf::from("/cg/svc/web"));
    }

    #[test]
    fn plan_without_properties_enables_nothing() {
        let placement = Placement::Machine { slice: None };
        let req = Request { machine: "m", placement: &placement, properties: &[], delegate: None };
        let p = plan(&all_controllers(), &req, &FakeHost).expect("plan");
        assert!(p.enable.is_empty() && p.controllers.is_empty() && p.writes.is_empty());
    }

    #[test]
    fn plan_delegation_enables_everything() {
        let placement = Placement::Machine { slice: None };
        let req = Request { machine: "m", placement: &placement, properties: &[], delegate: Some((100000, 100000)) };
        let p = plan(&all_controllers(), &req, &FakeHost).expect("plan");
        assert_eq!(p.controllers, vec!["cpuset", "cpu", "io", "memory", "hugetlb", "pids"]);
        assert_eq!(p.enable.len(), 2);
    }

    #[test]
    fn missing_controller_error_text() {
        let ps = props(&["TasksMax=4", "MemoryMax=32M"]);
        let placement = Placement::Machine { slice: None };
        let req = Request { machine: "m", placement: &placement, properties: &ps, delegate: None };
        let hybrid =
            Hierarchy { root: "/sys/fs/cgroup/unified".into(), hybrid: true, controllers: vec!["pids".into()] };
        let e = plan(&hybrid, &req, &FakeHost).expect_err("no memory controller");
        assert_eq!(
            e.to_string(),
            "--property=MemoryMax=32M: memory controller not available in /sys/fs/cgroup/unified (hybrid hierarchy)"
        );
        let unified = Hierarchy { root: "/sys/fs/cgroup".into(), hybrid: false, controllers: vec![] };
        let e = plan(&unified, &req, &FakeHost).expect_err("no pids controller");
        assert_eq!(e.to_string(), "--property=TasksMax=4: pids controller not available in /sys/fs/cgroup");
    }
}
