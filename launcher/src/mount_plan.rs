//! The mount plan: which file systems go where inside the container, in order — nspawn's
//! `mount_all()` table plus the custom mounts — as pure data that `mounts.rs` executes.

use crate::mount_plan_oci::step::OciStep;
use crate::settings::{ApiVfsWritable, CustomMount};
use crate::spec::Spec;

/// The tmpfs of `--volatile` and `-x`'s overlay upper (nspawn's: mode 0755, a quarter of RAM,
/// a million inodes).
pub const VOLATILE_TMPFS_OPTIONS: &str = "mode=0755,size=25%,nr_inodes=1m";

/// Mount attributes (`MOUNT_ATTR_*` of mount_setattr(2)/fsmount(2)).
pub mod attr {
    pub const RDONLY: u32 = 0x01;
    pub const NOSUID: u32 = 0x02;
    pub const NODEV: u32 = 0x04;
    pub const NOEXEC: u32 = 0x08;
    pub const STRICTATIME: u32 = 0x20;
}
use attr::*;

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A fresh file system on `target`, which must be a real directory (created if missing).
    Fs { target: &'static str, fstype: &'static str, options: &'static str, attrs: u32 },
    /// `target` bind-mounted onto itself read-only; skipped if it does not exist.
    ReadOnlySelf { target: &'static str },
    /// `target` bind-mounted onto itself writable (`/proc/sys/net` of a private network).
    WritableSelf { target: &'static str },
    /// `target` over-mounted read-only by an inaccessible inode of its type; skipped if absent.
    Mask { target: &'static str },
    /// `/run/host`: os-release, container-manager, container-uuid, inaccessible nodes; then
    /// made read-only.
    RunHost,
    /// Device nodes and links in the fresh `/dev`.
    DevNodes,
    /// The pty allocated in the container's devpts becomes `/dev/console`.
    Console,
    /// PID 1 of a booted container moves into `/init.scope` of its writable cgroup, and the
    /// root's controllers are enabled for the guest (`cgroup::inner`); with `unmount`, the
    /// cgroup2 mount is then taken away again for a guest that mounts its own.
    CgroupInitLeaf { unmount: bool },
    /// A `--bind`, `--tmpfs`, `--overlay` or `--inaccessible` mount: the spec's custom mount
    /// number `index` (its host source, opened before the switch, has the same index).
    Custom(usize, CustomMount),
    /// One of the OCI runtime's steps (`mount_plan_oci.rs` plans them, `mounts_oci.rs` makes
    /// them).
    Oci(OciStep),
}

impl std::fmt::Display for Step {
    /// One line of the plan as `SPAWNBOX_LOG=debug` lists it and the golden tests compare it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Fs { target, fstype, options, attrs } => {
                write!(f, "{fstype} {target} {attrs:#x}")?;
                if !options.is_empty() {
                    write!(f, " {options}")?;
                }
                Ok(())
            }
            Step::ReadOnlySelf { target } => write!(f, "ro {target}"),
            Step::WritableSelf { target } => write!(f, "rw {target}"),
            Step::Mask { target } => write!(f, "mask {target}"),
            Step::RunHost => f.write_str("run-host"),
            Step::DevNodes => f.write_str("dev-nodes"),
            Step::Console => f.write_str("console"),
            Step::CgroupInitLeaf { unmount } => write!(f, "cgroup-init-leaf unmount={unmount}"),
            Step::Custom(_, m) => write!(f, "custom {}", m.describe()),
            Step::Oci(s) => std::fmt::Display::fmt(s, f),
        }
    }
}

/// nspawn's API file systems, in mount order (from `mount_all()` in nspawn-mount.c).
const API_MOUNTS: &[Step] = &[
    // procfs of the container's own PID namespace.
    Step::Fs { target: "/proc", fstype: "proc", options: "", attrs: NOSUID | NOEXEC | NODEV },
    // Kernel tunables are not the container's to change.
    Step::ReadOnlySelf { target: "/proc/sys" },
    Step::Fs {
        target: "/run",
        fstype: "tmpfs",
        options: "mode=0755,size=20%,nr_inodes=800k",
        attrs: NOSUID | NODEV | STRICTATIME,
    },
    Step::RunHost,
    // Files that leak or poke at the host kernel, masked as nspawn does.
    Step::Mask { target: "/proc/kallsyms" },
    Step::Mask { target: "/proc/kcore" },
    Step::Mask { target: "/proc/keys" },
    Step::Mask { target: "/proc/sysrq-trigger" },
    Step::Mask { target: "/proc/timer_list" },
    // Hardware-facing /proc directories stay visible but read-only.
    Step::ReadOnlySelf { target: "/proc/acpi" },
    Step::ReadOnlySelf { target: "/proc/apm" },
    Step::ReadOnlySelf { target: "/proc/asound" },
    Step::ReadOnlySelf { target: "/proc/bus" },
    Step::ReadOnlySelf { target: "/proc/fs" },
    Step::ReadOnlySelf { target: "/proc/irq" },
    Step::ReadOnlySelf { target: "/proc/scsi" },
    // The host network namespace is shared: sysfs read-only.
    Step::Fs { target: "/sys", fstype: "sysfs", options: "", attrs: RDONLY | NOSUID | NOEXEC | NODEV },
    // A small private /dev with copies of the safe host nodes.
    Step::Fs {
        target: "/dev",
        fstype: "tmpfs",
        options: "mode=0755,size=4m,nr_inodes=64k",
        attrs: NOSUID | STRICTATIME,
    },
    Step::DevNodes,
    Step::Fs {
        target: "/dev/pts",
        fstype: "devpts",
        options: "newinstance,ptmxmode=0666,mode=0620,gid=5",
        attrs: NOSUID | NOEXEC,
    },
    Step::Fs {
        target: "/dev/shm",
        fstype: "tmpfs",
        options: "mode=01777,size=10%,nr_inodes=400k",
        attrs: NOSUID | NODEV | STRICTATIME,
    },
    Step::Fs { target: "/dev/mqueue", fstype: "mqueue", options: "", attrs: NOSUID | NOEXEC | NODEV },
];

/// `--volatile=state`: the tree read-only, `/var` a tmpfs (nspawn's `setup_volatile_state()`,
/// before every other mount; `TMPFS_LIMITS_VOLATILE_STATE`).
const VOLATILE_VAR: Step =
    Step::Fs { target: "/var", fstype: "tmpfs", options: VOLATILE_TMPFS_OPTIONS, attrs: STRICTATIME };

/// `/tmp`, after the console so that the console setup never depends on it.
const TMP: Step = Step::Fs {
    target: "/tmp",
    fstype: "tmpfs",
    options: "mode=01777,size=10%,nr_inodes=400k",
    attrs: NOSUID | NODEV | STRICTATIME,
};

/// The container's own cgroup (its cgroup namespace root), read-only ...
const CGROUP_RO: Step =
    Step::Fs { target: "/sys/fs/cgroup", fstype: "cgroup2", options: "", attrs: RDONLY | NOSUID | NOEXEC | NODEV };
/// ... or writable when it is delegated to an init (`-b`).
const CGROUP_RW: Step =
    Step::Fs { target: "/sys/fs/cgroup", fstype: "cgroup2", options: "", attrs: NOSUID | NOEXEC | NODEV };

/// For a container in a user namespace: whether `step` is made inside it (nspawn's
/// MOUNT_IN_USERNS): the file systems of its own namespaces — procfs of its PID namespace and
/// what lies on it, sysfs of its own network namespace (`own_network`), cgroup2 of its cgroup
/// namespace, mqueue of its IPC namespace, devpts — and the console. Everything else is made
/// outside, where the container's root cannot undo it (its copy of those mounts is locked).
pub fn inside_userns(step: &Step, own_network: bool) -> bool {
    let proc = |t: &str| t == "/proc" || t.starts_with("/proc/");
    match step {
        Step::Fs { target, .. } => {
            proc(target)
                || ["/sys/fs/cgroup", "/dev/pts", "/dev/mqueue"].contains(target)
                || (*target == "/sys" && own_network)
        }
        Step::ReadOnlySelf { target } | Step::WritableSelf { target } | Step::Mask { target } => proc(target),
        Step::Console | Step::CgroupInitLeaf { .. } => true,
        Step::RunHost | Step::DevNodes | Step::Custom(..) => false,
        // The OCI runtime's, by the same rule (`OciStep::inside_userns`).
        Step::Oci(s) => s.inside_userns(&INSIDE_USERNS_TARGETS, own_network),
    }
}

/// Mount points the inner child of a user-namespaced start mounts on (custom mounts below them
/// would be hidden).
pub const INSIDE_USERNS_TARGETS: [&str; 4] = ["/proc", "/sys/fs/cgroup", "/dev/pts", "/dev/mqueue"];

/// The API file system nspawn mounts on `target` (fstype, options, attributes).
pub fn api_fs(target: &str) -> Option<(&'static str, &'static str, u32)> {
    API_MOUNTS.iter().find_map(|s| match s {
        Step::Fs { target: t, fstype, options, attrs } if *t == target => Some((*fstype, *options, *attrs)),
        _ => None,
    })
}

/// Whether the container gets a cgroup2 mount of its own cgroup at `/sys/fs/cgroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMount {
    None,
    ReadOnly,
    Writable,
    /// Writable while PID 1 is placed, then unmounted: the guest's init mounts cgroup2 itself
    /// (OpenRC's `cgroups` service does, and fails with EBUSY on a mount already there).
    LeftToGuest,
}

/// The ordered steps for `spec`: API file systems, console, `/tmp`, then custom mounts sorted
/// by destination (so a `--bind` onto `/tmp/x` lands on top of the tmpfs).
pub fn plan(spec: &Spec, cgroup: CgroupMount) -> Vec<Step> {
    let mut steps: Vec<Step> = API_MOUNTS.to_vec();
    if spec.volatile == crate::settings::VolatileMode::State {
        steps.insert(0, VOLATILE_VAR);
    }
    if spec.api_vfs_writable == ApiVfsWritable::Yes {
        // $SYSTEMD_NSPAWN_API_VFS_WRITABLE=1: /proc/sys, the hardware /proc directories and
        // /sys stay writable (the masks stay).
        steps.retain(|s| !matches!(s, Step::ReadOnlySelf { target } if target.starts_with("/proc/")));
        for s in &mut steps {
            if let Step::Fs { target: "/sys", attrs, .. } = s {
                *attrs &= !RDONLY;
            }
        }
    }
    let net_writable = spec.net.separate_namespace();
    if net_writable || spec.api_vfs_writable == ApiVfsWritable::Network {
        let after = steps.iter().position(|s| *s == Step::ReadOnlySelf { target: "/proc/sys" }).map_or(0, |i| i + 1);
        steps.insert(after, Step::WritableSelf { target: "/proc/sys/net" });
    }
    let after_sys =
        steps.iter().position(|s| matches!(s, Step::Fs { target: "/sys", .. })).map_or(steps.len(), |i| i + 1);
    match cgroup {
        CgroupMount::None => {}
        CgroupMount::ReadOnly => steps.insert(after_sys, CGROUP_RO),
        CgroupMount::Writable | CgroupMount::LeftToGuest => {
            steps.insert(after_sys, CGROUP_RW);
            steps.insert(after_sys + 1, Step::CgroupInitLeaf { unmount: cgroup == CgroupMount::LeftToGuest });
        }
    }
    if spec.has_pty() {
        steps.push(Step::Console);
    }
    if spec.tmpfs_tmp {
        steps.push(TMP);
    }
    steps.extend(spec.custom_mounts.iter().cloned().enumerate().map(|(i, m)| Step::Custom(i, m)));
    steps
}

#[cfg(test)]
#[path = "mount_plan_golden.rs"]
mod golden;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{ConsoleMode, Settings};
    use crate::spec::Caller;
    use std::path::Path;

    fn spec(console: ConsoleMode, mounts: Vec<CustomMount>) -> Spec {
        let s = Settings { console: Some(console), custom_mounts: mounts, ..Default::default() };
        let c = Caller { cwd: Path::new("/m/t"), stdin_tty: false, stdout_tty: false, host_hostname: "h" };
        Spec::resolve(s, &c).unwrap()
    }

    fn plan_of(s: &Spec) -> Vec<Step> {
        plan(s, CgroupMount::None)
    }

    fn describe(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Fs { target, fstype, attrs, .. } => format!("{fstype} {target} {attrs:#x}"),
                Step::ReadOnlySelf { target } => format!("ro {target}"),
                Step::WritableSelf { target } => format!("rw {target}"),
                Step::Mask { target } => format!("mask {target}"),
                Step::RunHost => "run-host".into(),
                Step::DevNodes => "dev-nodes".into(),
                Step::Console => "console".into(),
                Step::CgroupInitLeaf { unmount } => format!("cgroup-init-leaf unmount={unmount}"),
                Step::Custom(_, m) => format!("custom {}", m.destination().display()),
                s => s.to_string(),
            })
            .collect()
    }

    #[test]
    fn pipe_mode_plan_is_golden() {
        let got = describe(&plan_of(&spec(ConsoleMode::Pipe, vec![])));
        let want = [
            "proc /proc 0xe",
            "ro /proc/sys",
            "tmpfs /run 0x26",
            "run-host",
            "mask /proc/kallsyms",
            "mask /proc/kcore",
            "mask /proc/keys",
            "mask /proc/sysrq-trigger",
            "mask /proc/timer_list",
            "ro /proc/acpi",
            "ro /proc/apm",
            "ro /proc/asound",
            "ro /proc/bus",
            "ro /proc/fs",
            "ro /proc/irq",
            "ro /proc/scsi",
            "sysfs /sys 0xf",
            "tmpfs /dev 0x22",
            "dev-nodes",
            "devpts /dev/pts 0xa",
            "tmpfs /dev/shm 0x26",
            "mqueue /dev/mqueue 0xe",
            "tmpfs /tmp 0x26",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn pty_modes_add_the_console_before_tmp() {
        for mode in [ConsoleMode::Interactive, ConsoleMode::ReadOnly, ConsoleMode::Passive] {
            let got = describe(&plan_of(&spec(mode, vec![])));
            let n = got.len();
            assert_eq!(&got[n - 2..], ["console", "tmpfs /tmp 0x26"], "{mode:?}");
        }
    }

    #[test]
    fn custom_mounts_come_last_in_path_order() {
        let t = |d: &str| CustomMount::Tmpfs { destination: d.into(), options: String::new() };
        let got = describe(&plan_of(&spec(ConsoleMode::Pipe, vec![t("/tmp/x/y"), t("/tmp/x"), t("/srv")])));
        let n = got.len();
        assert_eq!(&got[n - 4..], ["tmpfs /tmp 0x26", "custom /srv", "custom /tmp/x", "custom /tmp/x/y"]);
    }

    #[test]
    fn user_namespace_split_is_nspawns() {
        let s = spec(
            ConsoleMode::Interactive,
            vec![CustomMount::Tmpfs { destination: "/srv".into(), options: String::new() }],
        );
        let steps = plan(&s, CgroupMount::ReadOnly);
        let inside: Vec<String> =
            describe(&steps.iter().filter(|x| inside_userns(x, false)).cloned().collect::<Vec<_>>());
        let outside: Vec<String> =
            describe(&steps.iter().filter(|x| !inside_userns(x, false)).cloned().collect::<Vec<_>>());
        assert_eq!(
            inside,
            [
                "proc /proc 0xe",
                "ro /proc/sys",
                "mask /proc/kallsyms",
                "mask /proc/kcore",
                "mask /proc/keys",
                "mask /proc/sysrq-trigger",
                "mask /proc/timer_list",
                "ro /proc/acpi",
                "ro /proc/apm",
                "ro /proc/asound",
                "ro /proc/bus",
                "ro /proc/fs",
                "ro /proc/irq",
                "ro /proc/scsi",
                "cgroup2 /sys/fs/cgroup 0xf",
                "devpts /dev/pts 0xa",
                "mqueue /dev/mqueue 0xe",
                "console",
            ]
        );
        assert_eq!(
            outside,
            [
                "tmpfs /run 0x26",
                "run-host",
                "sysfs /sys 0xf",
                "tmpfs /dev 0x22",
                "dev-nodes",
                "tmpfs /dev/shm 0x26",
                "tmpfs /tmp 0x26",
                "custom /srv"
            ]
        );
        let sys = steps.iter().find(|x| matches!(x, Step::Fs { target: "/sys", .. })).unwrap();
        assert!(!inside_userns(sys, false) && inside_userns(sys, true));
    }

    #[test]
    fn cgroup_mount_follows_sysfs() {
        let s = spec(ConsoleMode::Pipe, vec![]);
        for (mode, attrs) in
            [(CgroupMount::ReadOnly, "0xf"), (CgroupMount::Writable, "0xe"), (CgroupMount::LeftToGuest, "0xe")]
        {
            let got = describe(&plan(&s, mode));
            let i = got.iter().position(|g| g.starts_with("sysfs /sys")).unwrap();
            assert_eq!(got[i + 1], format!("cgroup2 /sys/fs/cgroup {attrs}"));
        }
        // A booted init is placed in /init.scope right after the mount.
        let got = describe(&plan(&s, CgroupMount::Writable));
        let i = got.iter().position(|g| g.starts_with("cgroup2")).unwrap();
        assert_eq!(got[i + 1], "cgroup-init-leaf unmount=false");
        let got = describe(&plan(&s, CgroupMount::LeftToGuest));
        assert_eq!(got[i + 1], "cgroup-init-leaf unmount=true");
        assert!(!describe(&plan(&s, CgroupMount::ReadOnly)).iter().any(|d| d.starts_with("cgroup-init-leaf")));
    }
}
