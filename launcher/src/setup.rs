//! The whole setup of a container as data: what each child process does, in order, computed by
//! the launcher before the first clone (bubblewrap's `SetupOp` list, nspawn's outer and inner
//! child). `SPAWNBOX_LOG=debug` lists it; the children (`container.rs`, `userns/child.rs`)
//! execute it op by op without deciding anything.

use crate::error::Error;
use crate::mount_plan::{self, CgroupMount, Step};
use crate::mount_plan_oci::{CgroupV1, OciStep};
use crate::runtime_spec::NsKind;
use crate::settings::VolatileMode;
use crate::spec::Spec;
use crate::spec_oci::{self, NsChoice};
use std::fmt;
use std::path::PathBuf;

/// One operation of a container child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// unshare(CLONE_NEWCGROUP) from inside the container's cgroup: the namespace is rooted
    /// there.
    CgroupNamespace,
    /// `--network-namespace-path=`: joined (the plain child), or joined before PID 1's user
    /// namespace exists (the outer child).
    JoinNetwork(PathBuf),
    /// The OCI runtime: a namespace config.json names by path (`linux.namespaces[i].path`),
    /// opened by the launcher, joined with setns(2); by the outer child before it clones PID 1
    /// (a PID or time namespace: PID 1 is born in it). A mount namespace (the plain child's
    /// only) is joined last, right before the root is set up in it. The plain child's PID namespace is joined by the
    /// launcher around the clone.
    JoinNamespace { kind: NsKind, path: PathBuf },
    /// The OCI runtime's new time namespace, by the plain child itself: unshare(CLONE_NEWTIME),
    /// config.json's `linux.timeOffsets` written to its `timens_offsets` (the kernel's text,
    /// one `CLOCK SECS NANOSECS` line each), then entered through `time_for_children` before
    /// any other process is in it.
    TimeNamespace { offsets: String },
    /// The same for PID 1 of a user namespace, which owns the time namespace then: made right
    /// after the clone (PID 1 tells the launcher, which writes `offsets` before the maps) ...
    UnshareTime { offsets: String },
    /// ... and entered once PID 1 is root of its user namespace.
    EnterTime,
    /// Every mount of the child's namespace a slave: nothing propagates back to the host.
    Slave,
    /// The tree bound onto itself (read-only with `--read-only`); the host sources of the
    /// custom mounts opened (the last moment the host is reachable), bind idmaps applied.
    BindTree { read_only: bool },
    /// The launcher's idmapped (or plain) clone of the tree attached on `/` (the outer child).
    AttachTree,
    /// `-x` without a btrfs snapshot, `--volatile=overlay`: an overlayfs of the tree (and of
    /// each mount below it) with a tmpfs upper layer, stacked on the tree (`volatile.rs`).
    OverlayRoot { read_only: bool },
    /// `--volatile=yes`: a tmpfs with the tree's `/usr` bound read-only, stacked on the tree.
    TmpfsRoot,
    /// The OCI runtime's createContainer hooks: in the container's namespaces, with the host's
    /// paths reachable (runtime-spec: their paths resolve in the runtime's namespace, before
    /// the pivot_root). The plain child runs them before its switch into the root; PID 1 of a
    /// user namespace (past the outer child's switch) after its mounts, chrooted for their run
    /// into the host's `/` the launcher opened (`Prepared::host_root`).
    CreateContainerHooks,
    /// The tree becomes `/` (pivot_root, or on an initramfs MS_MOVE + chroot).
    SwitchRoot,
    /// `--pivot-root=NEW[:OLD]`.
    PivotRoot { new: PathBuf, old: Option<PathBuf> },
    /// A procfs pinned on the tree's `/proc` for the inner child (user namespaces mount one
    /// only where a fully visible one exists).
    PinProcfs,
    /// Steps of the mount plan, run in order by one `Mounter` (listed one per line).
    Mounts(Vec<Step>),
    /// `/etc/resolv.conf` and `/etc/localtime` as decided.
    EtcFiles,
    /// `--bind-user=`: the passwd/group copies over the guest's.
    BindUserEtc,
    /// clone(2) of PID 1 into new user, mount, PID, UTS, IPC, cgroup (and network) namespaces
    /// but those of `shared` (the OCI runtime: joined by path, or the runtime's own); the
    /// outer child reports its pid and exits.
    CloneInner { network: bool, shared: Vec<NsKind> },
    /// The inner child waits for its maps and becomes root of its user namespace.
    BecomeRoot,
    /// The OCI runtime, PID 1 in a user namespace: a clone of the outer child's mount on
    /// `target` (the host's cgroup2 of a container without a cgroup namespace, which PID 1
    /// cannot mount), taken before PID 1's own sysfs covers it ...
    HoldMount { target: PathBuf },
    /// ... and attached again on `target` once it has.
    AttachHeld { target: PathBuf },
    /// Hostname, user, environment; the console and notify socket to the launcher; "ready";
    /// wait for "go".
    Handshake,
    /// `Model::Detachable`: wait until a process opens the start FIFO.
    WaitForStart,
    /// Session, console, credentials, security layer, working directory; execve.
    Exec,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::CgroupNamespace => f.write_str("cgroup-namespace"),
            Op::JoinNetwork(p) => write!(f, "join-network {}", p.display()),
            Op::JoinNamespace { kind, path } => write!(f, "join {} {}", kind.name(), path.display()),
            Op::TimeNamespace { offsets } => write!(f, "time-namespace{}", offsets_shown(offsets)),
            Op::UnshareTime { offsets } => write!(f, "unshare-time{}", offsets_shown(offsets)),
            Op::EnterTime => f.write_str("enter-time"),
            Op::Slave => f.write_str("slave"),
            Op::BindTree { read_only } => write!(f, "bind-tree{}", if *read_only { " ro" } else { "" }),
            Op::AttachTree => f.write_str("attach-tree"),
            Op::OverlayRoot { read_only } => write!(f, "overlay-root{}", if *read_only { " ro" } else { "" }),
            Op::TmpfsRoot => f.write_str("tmpfs-root"),
            Op::CreateContainerHooks => f.write_str("create-container-hooks"),
            Op::SwitchRoot => f.write_str("switch-root"),
            Op::PivotRoot { new, old } => match old {
                Some(o) => write!(f, "pivot-root {}:{}", new.display(), o.display()),
                None => write!(f, "pivot-root {}", new.display()),
            },
            Op::PinProcfs => f.write_str("pin-procfs"),
            Op::Mounts(steps) => write!(f, "mounts ({} steps)", steps.len()),
            Op::EtcFiles => f.write_str("etc-files"),
            Op::BindUserEtc => f.write_str("bind-user-etc"),
            Op::CloneInner { network, shared } => {
                write!(f, "clone-inner{}", if *network { " +net" } else { "" })?;
                if !shared.is_empty() {
                    let names: Vec<&str> = shared.iter().map(|k| k.name()).collect();
                    write!(f, " shares {}", names.join(","))?;
                }
                Ok(())
            }
            Op::BecomeRoot => f.write_str("become-root"),
            Op::HoldMount { target } => write!(f, "hold-mount {}", target.display()),
            Op::AttachHeld { target } => write!(f, "attach-held {}", target.display()),
            Op::Handshake => f.write_str("handshake"),
            Op::WaitForStart => f.write_str("wait-for-start"),
            Op::Exec => f.write_str("exec"),
        }
    }
}

/// ` monotonic 86400 0, boottime 3600 0` for `timens_offsets` text (nothing for none).
fn offsets_shown(offsets: &str) -> String {
    match offsets.lines().collect::<Vec<_>>().join(", ") {
        l if l.is_empty() => l,
        l => format!(" {l}"),
    }
}

/// An op where the plan has no place for it (a bug of [`plan`], never of the input).
pub fn out_of_order(op: &Op) -> Error {
    Error::msg(format!("setup: {op}: out of order"))
}

/// What one start's children do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Without a user namespace: the one child (PID 1).
    pub plain: Vec<Op>,
    /// With a user namespace: the outer child (host user namespace) and PID 1.
    pub outer: Vec<Op>,
    pub inner: Vec<Op>,
}

impl Plan {
    /// The plain child's mount steps (none with a user namespace).
    pub fn plain_mounts(&self) -> &[Step] {
        self.plain
            .iter()
            .find_map(|op| match op {
                Op::Mounts(steps) => Some(steps.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }
}

/// What the container's `/` is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// The tree (or its btrfs snapshot with `-x`), bound; read-only with `--read-only` and
    /// `--volatile=state` (which adds a tmpfs on `/var`).
    Tree,
    /// An overlayfs of the read-only tree with a tmpfs upper layer: `-x` where the tree is no
    /// btrfs subvolume, `--volatile=overlay`.
    Overlay,
    /// A tmpfs with the tree's `/usr`: `--volatile=yes`.
    Tmpfs,
}

impl Root {
    /// The root for `spec`; `snapshot`: `-x` made a btrfs snapshot (`spec.directory` is it).
    pub fn of(spec: &Spec, snapshot: bool) -> Root {
        match spec.volatile {
            VolatileMode::Yes => Root::Tmpfs,
            VolatileMode::Overlay => Root::Overlay,
            VolatileMode::State => Root::Tree,
            VolatileMode::No if spec.ephemeral && !snapshot => Root::Overlay,
            VolatileMode::No => Root::Tree,
        }
    }
}

/// What decides the plan beyond the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub root: Root,
    pub cgroup: CgroupMount,
    pub userns: bool,
    pub bind_user: bool,
    pub start_fifo: bool,
}

/// An OCI `cgroup` mount's v1 step as a process in the container's own cgroup namespace
/// makes it: each hierarchy's root is the container's directory already.
fn in_cgroup_namespace(step: &Step) -> Step {
    match step {
        Step::Oci(OciStep::CgroupV1 { target, attrs, hierarchies }) => Step::Oci(OciStep::CgroupV1 {
            target: target.clone(),
            attrs: *attrs,
            hierarchies: hierarchies.iter().map(|h| CgroupV1 { path: PathBuf::from("/"), ..h.clone() }).collect(),
        }),
        s => s.clone(),
    }
}

/// The plan for `spec`, its mount steps `steps` (`mount_plan::plan`) and `facts`.
pub fn plan(spec: &Spec, steps: &[Step], facts: Facts) -> Plan {
    let pivot = spec.pivot_root.as_ref().map(|(new, old)| Op::PivotRoot { new: new.clone(), old: old.clone() });
    let netns = spec.net.namespace_path.clone().map(Op::JoinNetwork);
    let payload = |ops: &mut Vec<Op>| {
        ops.push(Op::Handshake);
        if facts.start_fifo {
            ops.push(Op::WaitForStart);
        }
        ops.push(Op::Exec);
    };
    // `--read-only` makes an overlay read-only too (`-x --read-only`); `--volatile=overlay`
    // ignores it, as nspawn.
    let root = match facts.root {
        Root::Tree => None,
        Root::Overlay => Some(Op::OverlayRoot { read_only: spec.read_only && spec.volatile == VolatileMode::No }),
        Root::Tmpfs => Some(Op::TmpfsRoot),
    };
    let mut p = Plan::default();
    if let Some(oci) = &spec.oci {
        // The OCI runtime: config.json's namespaces and mounts, no /etc files.
        let config = &oci.config;
        // Namespaces named by path, joined first (runc's order); a PID namespace only where a
        // process is cloned into it; a time namespace's children are born in it too.
        let joins = |pid: bool| {
            spec_oci::JOINABLE.into_iter().chain([NsKind::Time]).filter(move |k| pid || *k != NsKind::Pid).filter_map(
                |k| match spec_oci::choice(config, k) {
                    NsChoice::Join { path, .. } => Some(Op::JoinNamespace { kind: k, path }),
                    _ => None,
                },
            )
        };
        let new_time = spec_oci::choice(config, NsKind::Time) == NsChoice::New;
        let offsets = spec_oci::time_offsets_text(config);
        if !facts.userns {
            let ops = &mut p.plain;
            ops.extend(joins(false));
            // A cgroup namespace of its own: unshared by the child once in its cgroup2, or, with
            // none (a pure v1 host), the one it is cloned into (`spawn`); either way in place
            // before the mounts, its v1 hierarchies' roots the container's directories.
            let cgroupns = spec_oci::cgroup_namespace(config);
            if cgroupns && facts.cgroup != CgroupMount::None {
                ops.push(Op::CgroupNamespace);
            }
            if new_time {
                ops.push(Op::TimeNamespace { offsets });
            }
            ops.extend(netns);
            // A mount namespace by path (runc's): joined after every path was opened on the
            // host's view (the network namespace's is opened by the child itself), and the whole
            // root set up inside it.
            if let NsChoice::Join { path, .. } = spec_oci::choice(config, NsKind::Mount) {
                ops.push(Op::JoinNamespace { kind: NsKind::Mount, path });
            }
            ops.push(Op::Slave);
            ops.push(Op::BindTree { read_only: false });
            if !config.hooks.create_container.is_empty() {
                ops.push(Op::CreateContainerHooks);
            }
            ops.push(Op::SwitchRoot);
            ops.push(Op::Mounts(
                steps.iter().map(|s| if cgroupns { in_cgroup_namespace(s) } else { s.clone() }).collect(),
            ));
            payload(ops);
            return p;
        }
        // A user namespace: the outer child mounts what the container's root must not undo,
        // PID 1 the file systems of its own namespaces (`mount_plan::inside_userns`). A sysfs
        // of PID 1's own network goes in both: the kernel lets a user namespace mount one only
        // where a fully visible one exists.
        let own_network = spec.net.new_namespace();
        let sysfs = |s: &Step| matches!(s, Step::Oci(OciStep::Fs { fstype, .. }) if fstype == "sysfs");
        // Without a cgroup namespace of its own, PID 1 cannot mount a cgroup2: the outer child
        // mounts the host's.
        let own_cgroup = spec_oci::cgroup_namespace(config);
        let host_cgroup =
            |s: &Step| !own_cgroup && matches!(s, Step::Oci(OciStep::Fs { fstype, .. }) if fstype == "cgroup2");
        let inside = |s: &Step| mount_plan::inside_userns(s, own_network) && !host_cgroup(s);
        let outer = &mut p.outer;
        outer.push(Op::Slave);
        outer.push(Op::AttachTree);
        outer.push(Op::SwitchRoot);
        // A network by path before the mounts: the sysfs made here shows it.
        outer.extend(netns);
        outer.push(Op::PinProcfs);
        outer.push(Op::Mounts(steps.iter().filter(|s| !inside(s) || sysfs(s)).cloned().collect()));
        outer.extend(joins(true));
        let mut shared: Vec<NsKind> =
            spec_oci::JOINABLE.iter().filter(|k| spec_oci::choice(config, **k) != NsChoice::New).copied().collect();
        // A user namespace by path last: joining it leaves the outer child no privileges over
        // the host's namespaces.
        if let NsChoice::Join { path, .. } = spec_oci::choice(config, NsKind::User) {
            outer.push(Op::JoinNamespace { kind: NsKind::User, path });
            shared.push(NsKind::User);
        }
        outer.push(Op::CloneInner { network: own_network, shared });
        // The outer child's mounts that PID 1's own file systems cover: held, and attached
        // again right after the one that covers them.
        let target = |s: &Step| match s {
            Step::Oci(OciStep::Fs { target, .. } | OciStep::CgroupV1 { target, .. }) => Some(target.clone()),
            _ => None,
        };
        let covered = |s: &Step| -> Option<PathBuf> {
            let t = target(s).filter(|_| host_cgroup(s) || matches!(s, Step::Oci(OciStep::CgroupV1 { .. })))?;
            steps.iter().filter(|c| inside(c)).filter_map(target).any(|c| t.starts_with(&c) && t != c).then_some(t)
        };
        let held: Vec<PathBuf> = steps.iter().filter_map(covered).collect();
        let inner = &mut p.inner;
        if new_time {
            inner.push(Op::UnshareTime { offsets });
        }
        inner.push(Op::BecomeRoot);
        if new_time {
            inner.push(Op::EnterTime);
        }
        inner.extend(held.iter().map(|t| Op::HoldMount { target: t.clone() }));
        let mut group = Vec::new();
        for s in steps.iter().filter(|s| inside(s)) {
            group.push(s.clone());
            let back: Vec<&PathBuf> =
                held.iter().filter(|t| target(s).is_some_and(|c| t.starts_with(&c) && **t != c)).collect();
            if !back.is_empty() {
                inner.push(Op::Mounts(std::mem::take(&mut group)));
                inner.extend(back.into_iter().map(|t| Op::AttachHeld { target: t.clone() }));
            }
        }
        inner.push(Op::Mounts(group));
        // After every mount, in all of PID 1's namespaces: the hooks run with the host's `/`
        // as their root (`Prepared::host_root`), their paths resolved on the host.
        if !config.hooks.create_container.is_empty() {
            inner.push(Op::CreateContainerHooks);
        }
        payload(inner);
        return p;
    }
    if !facts.userns {
        let ops = &mut p.plain;
        if facts.cgroup != CgroupMount::None {
            ops.push(Op::CgroupNamespace);
        }
        ops.extend(netns);
        ops.push(Op::Slave);
        ops.push(Op::BindTree { read_only: spec.read_only && root.is_none() });
        ops.extend(root);
        ops.push(Op::SwitchRoot);
        ops.extend(pivot);
        ops.push(Op::Mounts(steps.to_vec()));
        ops.push(Op::EtcFiles);
        payload(ops);
        return p;
    }
    let own_network = spec.net.private_network;
    let outer = &mut p.outer;
    outer.push(Op::Slave);
    outer.push(Op::AttachTree);
    outer.extend(root);
    outer.push(Op::SwitchRoot);
    outer.extend(pivot);
    outer.push(Op::PinProcfs);
    outer.push(Op::Mounts(steps.iter().filter(|s| !mount_plan::inside_userns(s, false)).cloned().collect()));
    outer.push(Op::EtcFiles);
    if facts.bind_user {
        outer.push(Op::BindUserEtc);
    }
    outer.extend(netns);
    outer.push(Op::CloneInner { network: spec.net.new_namespace(), shared: Vec::new() });
    let inner = &mut p.inner;
    inner.push(Op::BecomeRoot);
    inner.push(Op::Mounts(steps.iter().filter(|s| mount_plan::inside_userns(s, own_network)).cloned().collect()));
    payload(inner);
    p
}

impl Plan {
    /// Every op as `SPAWNBOX_LOG=debug` lists it, each prefixed with its child.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (who, ops) in [("child", &self.plain), ("outer", &self.outer), ("inner", &self.inner)] {
            for op in ops {
                match op {
                    Op::Mounts(steps) => out.extend(steps.iter().map(|s| format!("{who}: mount {s}"))),
                    op => out.push(format!("{who}: {op}")),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    //! Golden plans for representative command lines (the mount steps themselves are
    //! `mount_plan`'s goldens): argv → `cli::parse` → `Spec` → `plan`.
    use super::*;
    use crate::spec::Caller;
    use std::ffi::OsString;
    use std::path::Path;

    fn lines(args: &[&str], facts: Facts) -> Vec<String> {
        let mut argv: Vec<OsString> = vec!["-D".into(), "/srv/tree".into(), "--console=pipe".into()];
        argv.extend(args.iter().map(OsString::from));
        let getenv = |_: &str| None;
        let settings = match crate::cli::parse(&argv, &getenv, Path::new("/")) {
            Ok(crate::cli::Parsed::Run(s)) => s,
            other => panic!("{argv:?}: {:?}", other.err()),
        };
        let caller = Caller { cwd: Path::new("/"), stdin_tty: false, stdout_tty: false, host_hostname: "h" };
        let spec = Spec::resolve(settings, &caller).expect("resolve");
        let steps = mount_plan::plan(&spec, facts.cgroup);
        let p = plan(&spec, &steps, facts);
        let mut out = Vec::new();
        for (who, ops) in [("child", &p.plain), ("outer", &p.outer), ("inner", &p.inner)] {
            out.extend(ops.iter().map(|op| format!("{who}: {op}")));
        }
        out
    }

    const PLAIN: Facts =
        Facts { root: Root::Tree, cgroup: CgroupMount::ReadOnly, userns: false, bind_user: false, start_fifo: false };
    const USERNS: Facts = Facts { userns: true, ..PLAIN };

    fn want(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_command() {
        assert_eq!(
            lines(&["/bin/true"], PLAIN),
            want(&[
                "child: cgroup-namespace",
                "child: slave",
                "child: bind-tree",
                "child: switch-root",
                "child: mounts (24 steps)",
                "child: etc-files",
                "child: handshake",
                "child: exec",
            ])
        );
    }

    #[test]
    fn read_only_without_a_cgroup() {
        let got = lines(&["--read-only"], Facts { cgroup: CgroupMount::None, ..PLAIN });
        assert_eq!(got[..3], want(&["child: slave", "child: bind-tree ro", "child: switch-root"])[..]);
    }

    #[test]
    fn network_namespace_path_and_pivot_root() {
        let got = lines(&["--network-namespace-path=/run/netns/x", "--pivot-root=/sysroot/a:/sysroot"], PLAIN);
        assert_eq!(
            got[..7],
            want(&[
                "child: cgroup-namespace",
                "child: join-network /run/netns/x",
                "child: slave",
                "child: bind-tree",
                "child: switch-root",
                "child: pivot-root /sysroot/a:/sysroot",
                "child: mounts (25 steps)",
            ])[..]
        );
    }

    #[test]
    fn boot_with_a_writable_cgroup() {
        let got = lines(&["-b"], Facts { cgroup: CgroupMount::Writable, ..PLAIN });
        assert_eq!(got[4], "child: mounts (25 steps)");
    }

    #[test]
    fn detachable_waits_for_start() {
        let got = lines(&["/bin/true"], Facts { start_fifo: true, ..PLAIN });
        assert_eq!(got[got.len() - 3..], want(&["child: handshake", "child: wait-for-start", "child: exec"])[..]);
    }

    #[test]
    fn user_namespace_splits_the_work_between_outer_and_inner_child() {
        assert_eq!(
            lines(&["-U"], USERNS),
            want(&[
                "outer: slave",
                "outer: attach-tree",
                "outer: switch-root",
                "outer: pin-procfs",
                "outer: mounts (7 steps)",
                "outer: etc-files",
                "outer: clone-inner",
                "inner: become-root",
                "inner: mounts (17 steps)",
                "inner: handshake",
                "inner: exec",
            ])
        );
    }

    #[test]
    fn user_namespace_with_bind_user_network_and_pivot() {
        let got = lines(
            &["-U", "--network-namespace-path=/run/netns/x", "--pivot-root=/a", "--bind-user=alice"],
            Facts { bind_user: true, ..USERNS },
        );
        assert_eq!(
            got[..9],
            want(&[
                "outer: slave",
                "outer: attach-tree",
                "outer: switch-root",
                "outer: pivot-root /a",
                "outer: pin-procfs",
                "outer: mounts (7 steps)",
                "outer: etc-files",
                "outer: bind-user-etc",
                "outer: join-network /run/netns/x",
            ])[..]
        );
        assert_eq!(got[9], "outer: clone-inner");
    }

    /// The root as `Machine` decides it (no btrfs snapshot).
    fn root_of(args: &[&str]) -> Facts {
        let argv: Vec<OsString> = ["-D", "/srv/tree"].iter().chain(args).map(OsString::from).collect();
        let Ok(crate::cli::Parsed::Run(s)) = crate::cli::parse(&argv, &|_| None, Path::new("/")) else { panic!() };
        let caller = Caller { cwd: Path::new("/"), stdin_tty: false, stdout_tty: false, host_hostname: "h" };
        Facts { root: Root::of(&Spec::resolve(s, &caller).unwrap(), false), ..PLAIN }
    }

    #[test]
    fn ephemeral_and_volatile_roots_are_stacked_on_the_bound_tree() {
        let head = |args: &[&str]| lines(args, root_of(args))[1..5].to_vec();
        assert_eq!(
            head(&["-x"]),
            want(&["child: slave", "child: bind-tree", "child: overlay-root", "child: switch-root"])
        );
        assert_eq!(
            head(&["-x", "--read-only"]),
            want(&["child: slave", "child: bind-tree", "child: overlay-root ro", "child: switch-root"])
        );
        // --volatile implies --read-only, which an overlay or tmpfs root of its own ignores.
        assert_eq!(
            head(&["--volatile=overlay", "--read-only"]),
            want(&["child: slave", "child: bind-tree", "child: overlay-root", "child: switch-root"])
        );
        assert_eq!(
            head(&["--volatile"]),
            want(&["child: slave", "child: bind-tree", "child: tmpfs-root", "child: switch-root"])
        );
        assert_eq!(head(&["-x", "--volatile=yes"])[2], "child: tmpfs-root");
        // state: the tree read-only, and a tmpfs on /var first of all mounts.
        let args = ["--volatile=state"];
        let got = lines(&args, root_of(&args));
        assert_eq!(
            got[1..5],
            want(&["child: slave", "child: bind-tree ro", "child: switch-root", "child: mounts (25 steps)"])[..]
        );
        // A snapshot is bound as the tree itself.
        let spec_x = Facts { root: Root::Tree, ..root_of(&["-x"]) };
        assert_eq!(lines(&["-x"], spec_x)[2], "child: bind-tree");
    }

    #[test]
    fn ephemeral_with_a_user_namespace_stacks_on_the_attached_tree() {
        let args = ["-x", "-U"];
        let got = lines(&args, Facts { userns: true, ..root_of(&args) });
        assert_eq!(
            got[..4],
            want(&["outer: slave", "outer: attach-tree", "outer: overlay-root", "outer: switch-root"])[..]
        );
        let args = ["--volatile=yes", "-U"];
        assert_eq!(lines(&args, Facts { userns: true, ..root_of(&args) })[2], "outer: tmpfs-root");
    }

    #[test]
    fn user_namespace_with_a_private_network_clones_it_and_mounts_sys_inside() {
        // The outer child still mounts the host's sysfs: the kernel lets a user namespace
        // mount one only where a fully visible one exists (as the pinned procfs); PID 1's own
        // (its network's) goes on top, with a writable /proc/sys/net.
        let got = lines(&["-U", "--private-network"], USERNS);
        assert!(got.contains(&"outer: clone-inner +net".to_string()), "{got:?}");
        assert!(got.contains(&"outer: mounts (7 steps)".to_string()), "{got:?}");
        assert!(got.contains(&"inner: mounts (19 steps)".to_string()), "{got:?}");
    }

    /// The OCI runtime's plan for a podman-shaped config.json with `namespaces` (and, with a
    /// `{"type":"user"}`, mappings 0 → 100000).
    fn oci_lines(namespaces: &str, facts: Facts) -> Vec<String> {
        let maps = match namespaces.contains(r#"{"type":"user"}"#) {
            true => {
                r#""uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
                       "gidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"#
            }
            false => "",
        };
        let text = format!(
            r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs"}},
               "process":{{"cwd":"/","args":["sh"],"user":{{"uid":0,"gid":0}},"terminal":true}},
               "mounts":[
                 {{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]}},
                 {{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755"]}},
                 {{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec"]}},
                 {{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue"}},
                 {{"destination":"/sys","type":"sysfs","source":"sysfs","options":["ro"]}},
                 {{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro"]}},
                 {{"destination":"/etc/hosts","type":"bind","source":"/run/x/hosts","options":["rbind","nosuid"]}}],
               "linux":{{"namespaces":[{namespaces}],{maps}
                 "sysctl":{{"net.ipv4.ip_forward":"1"}},
                 "maskedPaths":["/proc/kcore","/sys/firmware"],"readonlyPaths":["/proc/sys"]}}}}"#
        );
        let config = crate::runtime_spec::parse(text.as_bytes()).expect("config");
        let spec = crate::spec_oci::from_bundle("c1", Path::new("/b"), config).expect("spec");
        let steps = crate::mount_plan_oci::plan(&spec.oci.as_ref().expect("oci").config, &spec.custom_mounts, &[])
            .expect("steps");
        plan(&spec, &steps, facts).lines()
    }

    const OCI_NEW: &str =
        r#"{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"network"},{"type":"cgroup"}"#;

    #[test]
    fn oci_plain_plan_joins_by_path_first() {
        let joined = r#"{"type":"pid","path":"/proc/9/ns/pid"},{"type":"mount"},{"type":"ipc","path":"/proc/9/ns/ipc"},
                        {"type":"uts","path":"/proc/9/ns/uts"},{"type":"network","path":"/proc/9/ns/net"},
                        {"type":"cgroup","path":"/proc/9/ns/cgroup"}"#;
        let got = oci_lines(joined, PLAIN);
        // The PID namespace is the launcher's to join (around the clone); the cgroup
        // namespace is joined, not made.
        assert_eq!(
            got[..7],
            want(&[
                "child: join ipc /proc/9/ns/ipc",
                "child: join uts /proc/9/ns/uts",
                "child: join cgroup /proc/9/ns/cgroup",
                "child: join-network /proc/9/ns/net",
                "child: slave",
                "child: bind-tree",
                "child: switch-root",
            ])[..]
        );
        let got = oci_lines(OCI_NEW, PLAIN);
        assert_eq!(
            got[..4],
            want(&["child: cgroup-namespace", "child: slave", "child: bind-tree", "child: switch-root"])[..]
        );
        // Without a cgroup namespace in config.json: none.
        let got = oci_lines(r#"{"type":"mount"},{"type":"uts"}"#, PLAIN);
        assert_eq!(got[0], "child: slave");
    }

    #[test]
    fn oci_user_namespace_splits_the_mounts() {
        let ns = format!("{OCI_NEW},{{\"type\":\"user\"}}");
        assert_eq!(
            oci_lines(&ns, USERNS),
            want(&[
                "outer: slave",
                "outer: attach-tree",
                "outer: switch-root",
                "outer: pin-procfs",
                "outer: mount tmpfs /dev 0x2 mode=755",
                "outer: mount dev-nodes",
                // The host's sysfs, for the kernel's visibility check; PID 1's own on top.
                "outer: mount sysfs /sys 0x1",
                "outer: mount custom --bind=/run/x/hosts:/etc/hosts",
                "outer: mount attrs /etc/hosts 0x2",
                "outer: clone-inner +net",
                "inner: become-root",
                "inner: mount proc /proc 0xe",
                "inner: mount devpts /dev/pts 0xa",
                "inner: mount mqueue /dev/mqueue 0x0",
                "inner: mount sysfs /sys 0x1",
                "inner: mount cgroup2 /sys/fs/cgroup 0x1",
                "inner: mount console",
                "inner: mount cwd /",
                "inner: mount sysctl (1)",
                "inner: mount ro /proc/sys",
                "inner: mount mask /proc/kcore",
                "inner: mount mask /sys/firmware",
                "inner: handshake",
                "inner: exec",
            ])
        );
        // The host's network: its sysfs and what lies on it outside; namespaces joined by path
        // (the PID namespace too: PID 1 is born in it) and the runtime's own are shared.
        let ns = r#"{"type":"pid","path":"/proc/9/ns/pid"},{"type":"mount"},{"type":"ipc","path":"/proc/9/ns/ipc"},{"type":"user"}"#;
        let got = oci_lines(ns, Facts { start_fifo: true, ..USERNS });
        assert_eq!(
            got,
            want(&[
                "outer: slave",
                "outer: attach-tree",
                "outer: switch-root",
                "outer: pin-procfs",
                "outer: mount tmpfs /dev 0x2 mode=755",
                "outer: mount dev-nodes",
                "outer: mount sysfs /sys 0x1",
                // No cgroup namespace of its own: the host's cgroup2, mounted outside.
                "outer: mount cgroup2 /sys/fs/cgroup 0x1",
                "outer: mount custom --bind=/run/x/hosts:/etc/hosts",
                "outer: mount attrs /etc/hosts 0x2",
                "outer: mount mask /sys/firmware",
                "outer: join pid /proc/9/ns/pid",
                "outer: join ipc /proc/9/ns/ipc",
                "outer: clone-inner shares pid,ipc,uts,cgroup",
                "inner: become-root",
                "inner: mount proc /proc 0xe",
                "inner: mount devpts /dev/pts 0xa",
                "inner: mount mqueue /dev/mqueue 0x0",
                "inner: mount console",
                "inner: mount cwd /",
                "inner: mount sysctl (1)",
                "inner: mount ro /proc/sys",
                "inner: mount mask /proc/kcore",
                "inner: handshake",
                "inner: wait-for-start",
                "inner: exec",
            ])
        );
        // podman's `--uidmap` on a cgroup v1 host: a network of its own, no cgroup namespace.
        // PID 1's sysfs covers the outer child's cgroup2, which it holds and attaches again.
        let ns = r#"{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}"#;
        let got = oci_lines(ns, USERNS);
        assert_eq!(got[6..8], want(&["outer: mount sysfs /sys 0x1", "outer: mount cgroup2 /sys/fs/cgroup 0x1"])[..]);
        let inner: Vec<&str> = got.iter().filter(|l| l.starts_with("inner")).map(String::as_str).collect();
        assert_eq!(
            inner[..8],
            [
                "inner: become-root",
                "inner: hold-mount /sys/fs/cgroup",
                "inner: mount proc /proc 0xe",
                "inner: mount devpts /dev/pts 0xa",
                "inner: mount mqueue /dev/mqueue 0x0",
                "inner: mount sysfs /sys 0x1",
                "inner: attach-held /sys/fs/cgroup",
                "inner: mount console",
            ]
        );
        // A Kubernetes pod's app container: the pause container's user, IPC, UTS and network
        // namespaces by path, the user namespace joined last.
        let ns = r#"{"type":"pid"},{"type":"mount"},{"type":"ipc","path":"/proc/9/ns/ipc"},{"type":"uts","path":"/proc/9/ns/uts"},
                    {"type":"network","path":"/proc/9/ns/net"},{"type":"cgroup"},{"type":"user","path":"/proc/9/ns/user"}"#;
        let got = oci_lines(ns, USERNS);
        assert_eq!(got[3..5], want(&["outer: join-network /proc/9/ns/net", "outer: pin-procfs"])[..]);
        assert_eq!(
            got[11..15],
            want(&[
                "outer: join ipc /proc/9/ns/ipc",
                "outer: join uts /proc/9/ns/uts",
                "outer: join user /proc/9/ns/user",
                "outer: clone-inner shares ipc,uts,user",
            ])[..]
        );
    }

    #[test]
    fn oci_time_namespace_and_a_mount_namespace_by_path() {
        let offsets = r#"],"timeOffsets":{"monotonic":{"secs":86400},"boottime":{"secs":3600}},"x":["#;
        // The plain child: a new time namespace made before the mount namespace is joined
        // (its procfs is its own), and the root set up inside the joined one.
        let ns = format!(
            r#"{{"type":"pid"}},{{"type":"mount","path":"/proc/9/ns/mnt"}},{{"type":"uts"}},{{"type":"time"}}{offsets}"#
        );
        assert_eq!(
            oci_lines(&ns, PLAIN)[..5],
            want(&[
                "child: time-namespace monotonic 86400 0, boottime 3600 0",
                "child: join mount /proc/9/ns/mnt",
                "child: slave",
                "child: bind-tree",
                "child: switch-root",
            ])[..]
        );
        // A time namespace by path, joined with the others.
        let ns = r#"{"type":"uts","path":"/proc/9/ns/uts"},{"type":"mount"},{"type":"time","path":"/proc/9/ns/time"},{"type":"cgroup"}"#;
        assert_eq!(
            oci_lines(ns, PLAIN)[..4],
            want(&[
                "child: join uts /proc/9/ns/uts",
                "child: join time /proc/9/ns/time",
                "child: cgroup-namespace",
                "child: slave",
            ])[..]
        );
        // With a user namespace: PID 1 makes it in its user namespace (which owns it), the
        // launcher writes the offsets, PID 1 enters it as root there; one by path is the outer
        // child's to join, PID 1 is born in it.
        let ns = format!(
            r#"{{"type":"pid"}},{{"type":"mount"}},{{"type":"uts"}},{{"type":"user"}},{{"type":"time"}}{offsets}"#
        );
        let got = oci_lines(&ns, USERNS);
        let at = got.iter().position(|l| l == "inner: become-root").expect("become-root");
        assert_eq!(
            got[at - 1..=at + 1],
            want(&[
                "inner: unshare-time monotonic 86400 0, boottime 3600 0",
                "inner: become-root",
                "inner: enter-time"
            ])[..]
        );
        assert!(!got.iter().any(|l| l.starts_with("child") || l.contains("outer: time")), "{got:?}");
        let ns = r#"{"type":"pid"},{"type":"mount"},{"type":"uts"},{"type":"user"},{"type":"time","path":"/proc/9/ns/time"}"#;
        let got = oci_lines(ns, USERNS);
        let at = got.iter().position(|l| l.starts_with("outer: clone-inner")).expect("clone-inner");
        assert_eq!(
            got[at - 1..=at],
            want(&["outer: join time /proc/9/ns/time", "outer: clone-inner shares ipc,cgroup"])[..]
        );
        assert!(!got.iter().any(|l| l.contains("-time")), "{got:?}");
    }
}
