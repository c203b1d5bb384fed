//! Where a machine's cgroup lives: `machine.slice/machine-NAME.scope` as systemd lays it out
//! (unit-name escaping, nested slices), another slice (`--slice=`), or `--keep-unit`'s
//! `payload/` and `supervisor/` below the launcher's own cgroup.

use super::Hierarchy;
use std::path::PathBuf;

/// Where the container's cgroup goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// `SLICE/machine-NAME.scope`; `None` is `machine.slice` (`-S/--slice=`).
    Machine { slice: Option<String> },
    /// `OWN/payload` for the container and `OWN/supervisor` for the launcher (`--keep-unit`);
    /// `own` is relative to the hierarchy root, from [`read_own_cgroup`](super::read_own_cgroup).
    KeepUnit { own: PathBuf },
}

/// Paths (relative to the hierarchy root) of one placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The container's cgroup.
    pub leaf: PathBuf,
    /// `--keep-unit`: where the launcher moves itself.
    pub supervisor: Option<PathBuf>,
    /// Nothing at or above this directory is ever created or removed.
    pub boundary: PathBuf,
}

/// systemd's default slice for machines.
const MACHINE_SLICE: &str = "machine.slice";
/// Unit names are shorter than this (systemd's `UNIT_NAME_MAX`).
const UNIT_NAME_MAX: usize = 256;
/// Characters allowed unescaped in unit names (systemd's `VALID_CHARS`, minus the escapes).
fn unit_char_ok(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b':' | b'_' | b'.')
}
/// Controller names systemd protects against in `cg_escape()`.
const SYSTEMD_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "io",
    "blkio",
    "memory",
    "devices",
    "pids",
    "bpf-firewall",
    "bpf-devices",
    "bpf-foreign",
    "bpf-socket-bind",
    "bpf-restrict-network-interfaces",
];

/// systemd's `unit_name_escape()`: `/` → `-`; `-`, `\` and bytes outside `[A-Za-z0-9:_.]` →
/// `\xNN`; a leading `.` is escaped too.
pub fn unit_name_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, &c) in s.as_bytes().iter().enumerate() {
        if c == b'/' {
            out.push('-');
        } else if (i == 0 && c == b'.') || !unit_char_ok(c) {
            out.push_str(&format!("\\x{c:02x}"));
        } else {
            out.push(char::from(c));
        }
    }
    out
}

/// systemd's `cg_escape()`: a leading `_` for names that could clash with kernel files.
pub fn cg_escape(name: &str) -> String {
    let clash = name.starts_with(['_', '.'])
        || matches!(name, "notify_on_release" | "release_agent" | "tasks")
        || name.starts_with("cgroup.")
        || SYSTEMD_CONTROLLERS.iter().any(|c| name.strip_prefix(c).is_some_and(|rest| rest.starts_with('.')));
    if clash {
        format!("_{name}")
    } else {
        name.to_string()
    }
}

/// The scope unit of a machine: `machine-<escaped name>.scope` (machined's naming).
pub fn scope_name(machine: &str) -> String {
    format!("machine-{}.scope", unit_name_escape(machine))
}

/// systemd's `cg_slice_to_path()`: `a-b.slice` → `a.slice/a-b.slice`; `-.slice` is the root.
pub fn slice_path(slice: &str) -> Result<PathBuf, String> {
    let bad = || format!("invalid slice name \"{slice}\" (expected NAME.slice, e.g. machine.slice)");
    if slice == "-.slice" {
        return Ok(PathBuf::new());
    }
    let prefix = slice.strip_suffix(".slice").ok_or_else(bad)?;
    let valid = !prefix.is_empty()
        && slice.len() < UNIT_NAME_MAX
        && prefix.bytes().all(|c| unit_char_ok(c) || c == b'-' || c == b'\\')
        && !prefix.starts_with('-')
        && !prefix.ends_with('-')
        && !prefix.contains("--");
    if !valid {
        return Err(bad());
    }
    let mut path = PathBuf::new();
    for (i, _) in prefix.match_indices('-') {
        path.push(cg_escape(&format!("{}.slice", &prefix[..i])));
    }
    path.push(cg_escape(slice));
    Ok(path)
}

/// The cgroup paths of `placement` for `machine`.
pub(crate) fn layout(h: &Hierarchy, placement: &Placement, machine: &str) -> Result<Layout, String> {
    match placement {
        Placement::Machine { slice } => {
            if machine.is_empty() {
                return Err("machine name is empty".into());
            }
            let scope = scope_name(machine);
            if scope.len() >= UNIT_NAME_MAX {
                return Err(format!("machine name \"{machine}\" is too long for a scope unit name"));
            }
            let slice = slice.as_deref().unwrap_or(MACHINE_SLICE);
            let parent = slice_path(slice).map_err(|e| format!("--slice={slice}: {e}"))?;
            Ok(Layout { leaf: parent.join(cg_escape(&scope)), supervisor: None, boundary: PathBuf::new() })
        }
        Placement::KeepUnit { own } => {
            if own.as_os_str().is_empty() {
                return Err(format!(
                    "--keep-unit: spawnbox runs in the root cgroup of {}; there is no unit to keep \
                     (start it from a service, or drop --keep-unit)",
                    h.describe()
                ));
            }
            if own.is_absolute() || own.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Err(format!("--keep-unit: invalid own cgroup path \"{}\"", own.display()));
            }
            Ok(Layout { leaf: own.join("payload"), supervisor: Some(own.join("supervisor")), boundary: own.clone() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hier() -> Hierarchy {
        Hierarchy { root: "/sys/fs/cgroup".into(), hybrid: false, controllers: vec![] }
    }

    #[test]
    fn escapes_like_systemd() {
        assert_eq!(unit_name_escape("foo"), "foo");
        assert_eq!(unit_name_escape("my-box"), "my\\x2dbox");
        assert_eq!(unit_name_escape(".hidden"), "\\x2ehidden");
        assert_eq!(unit_name_escape("a.b"), "a.b");
        assert_eq!(unit_name_escape("a b"), "a\\x20b");
        assert_eq!(unit_name_escape("x/y"), "x-y");
        assert_eq!(unit_name_escape("Hallöchen"), "Hall\\xc3\\xb6chen");
        assert_eq!(scope_name("web-1"), "machine-web\\x2d1.scope");
    }

    #[test]
    fn cg_escape_kernel_names() {
        assert_eq!(cg_escape("machine.slice"), "machine.slice");
        assert_eq!(cg_escape("memory.slice"), "_memory.slice");
        assert_eq!(cg_escape("cgroup.x"), "_cgroup.x");
        assert_eq!(cg_escape("_a.slice"), "__a.slice");
        assert_eq!(cg_escape("tasks"), "_tasks");
        assert_eq!(cg_escape("cpus.slice"), "cpus.slice");
    }

    #[test]
    fn slices_nest_by_dash() {
        assert_eq!(slice_path("machine.slice"), Ok("machine.slice".into()));
        assert_eq!(slice_path("a-b-c.slice"), Ok("a.slice/a-b.slice/a-b-c.slice".into()));
        assert_eq!(slice_path("-.slice"), Ok(PathBuf::new()));
        // "io.slice" looks like an io controller file: cg_escape() prefixes it.
        assert_eq!(slice_path("io-x.slice"), Ok("_io.slice/io-x.slice".into()));
        for bad in ["foo", ".slice", "-a.slice", "a-.slice", "a--b.slice", "a/b.slice", "a@b.slice", "a b.slice"] {
            assert!(slice_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn layouts_per_mode() {
        let m = |slice: Option<&str>| Placement::Machine { slice: slice.map(String::from) };
        let l = layout(&hier(), &m(None), "foo").expect("default");
        assert_eq!(l.leaf, PathBuf::from("machine.slice/machine-foo.scope"));
        assert_eq!((l.supervisor, l.boundary), (None, PathBuf::new()));

        let l = layout(&hier(), &m(Some("apps-web.slice")), "my-box").expect("slice");
        assert_eq!(l.leaf, PathBuf::from("apps.slice/apps-web.slice/machine-my\\x2dbox.scope"));

        let l = layout(&hier(), &m(Some("-.slice")), "foo").expect("root slice");
        assert_eq!(l.leaf, PathBuf::from("machine-foo.scope"));

        let l = layout(&hier(), &Placement::KeepUnit { own: "sshd".into() }, "foo").expect("keep");
        assert_eq!(l.leaf, PathBuf::from("sshd/payload"));
        assert_eq!(l.supervisor, Some(PathBuf::from("sshd/supervisor")));
        assert_eq!(l.boundary, PathBuf::from("sshd"));
    }

    #[test]
    fn layout_errors() {
        let e = layout(&hier(), &Placement::Machine { slice: Some("web".into()) }, "foo").expect_err("bad slice");
        assert_eq!(e, "--slice=web: invalid slice name \"web\" (expected NAME.slice, e.g. machine.slice)");
        let e = layout(&hier(), &Placement::KeepUnit { own: PathBuf::new() }, "foo").expect_err("root");
        assert_eq!(
            e,
            "--keep-unit: spawnbox runs in the root cgroup of /sys/fs/cgroup; there is no unit to keep \
             (start it from a service, or drop --keep-unit)"
        );
        let long = "x".repeat(250);
        assert!(layout(&hier(), &Placement::Machine { slice: None }, &long).is_err());
        assert!(layout(&hier(), &Placement::Machine { slice: None }, "").is_err());
    }
}
