//! The whole setup of a container as data: what each child process does, in order, computed by
//! the launcher before the first clone (bubblewrap's `SetupOp` list, nspawn's outer and inner
//! child). `SPAWNBOX_LOG=debug` lists it; the children (`container.rs`, `userns/child.rs`)
//! execute it op by op without deciding anything.

use crate::error::Error;
use crate::mount_plan::{self, CgroupMount, Step};
use crate::spec::Spec;
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
    /// Every mount of the child's namespace a slave: nothing propagates back to the host.
    Slave,
    /// The tree bound onto itself (read-only with `--read-only`); the host sources of the
    /// custom mounts opened (the last moment the host is reachable), bind idmaps applied.
    BindTree { read_only: bool },
    /// The launcher's idmapped (or plain) clone of the tree attached on `/` (the outer child).
    AttachTree,
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
    /// clone(2) of PID 1 into new user, mount, PID, UTS, IPC, cgroup (and network) namespaces;
    /// the outer child reports its pid and exits.
    CloneInner { network: bool },
    /// The inner child waits for its maps and becomes root of its user namespace.
    BecomeRoot,
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
            Op::Slave => f.write_str("slave"),
            Op::BindTree { read_only } => write!(f, "bind-tree{}", if *read_only { " ro" } else { "" }),
            Op::AttachTree => f.write_str("attach-tree"),
            Op::SwitchRoot => f.write_str("switch-root"),
            Op::PivotRoot { new, old } => match old {
                Some(o) => write!(f, "pivot-root {}:{}", new.display(), o.display()),
                None => write!(f, "pivot-root {}", new.display()),
            },
            Op::PinProcfs => f.write_str("pin-procfs"),
            Op::Mounts(steps) => write!(f, "mounts ({} steps)", steps.len()),
            Op::EtcFiles => f.write_str("etc-files"),
            Op::BindUserEtc => f.write_str("bind-user-etc"),
            Op::CloneInner { network } => write!(f, "clone-inner{}", if *network { " +net" } else { "" }),
            Op::BecomeRoot => f.write_str("become-root"),
            Op::Handshake => f.write_str("handshake"),
            Op::WaitForStart => f.write_str("wait-for-start"),
            Op::Exec => f.write_str("exec"),
        }
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

/// What decides the plan beyond the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub cgroup: CgroupMount,
    pub userns: bool,
    pub bind_user: bool,
    pub start_fifo: bool,
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
    let mut p = Plan::default();
    if !facts.userns {
        let ops = &mut p.plain;
        if facts.cgroup != CgroupMount::None {
            ops.push(Op::CgroupNamespace);
        }
        ops.extend(netns);
        ops.push(Op::Slave);
        ops.push(Op::BindTree { read_only: spec.read_only });
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
    outer.push(Op::SwitchRoot);
    outer.extend(pivot);
    outer.push(Op::PinProcfs);
    outer.push(Op::Mounts(steps.iter().filter(|s| !mount_plan::inside_userns(s, false)).cloned().collect()));
    outer.push(Op::EtcFiles);
    if facts.bind_user {
        outer.push(Op::BindUserEtc);
    }
    outer.extend(netns);
    outer.push(Op::CloneInner { network: spec.net.new_namespace() });
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

    const PLAIN: Facts = Facts { cgroup: CgroupMount::ReadOnly, userns: false, bind_user: false, start_fifo: false };
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
}
