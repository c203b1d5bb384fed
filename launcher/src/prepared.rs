//! What one run of a container checked and read before its first clone (`launch::prepare`):
//! decisions and host data the children use, and the live resources they inherit (spawnbox-init's
//! memfd, the mapping namespaces, the security layer, the user namespace's range).

use crate::mount_plan::CgroupMount;
use crate::settings::Id128;
use crate::{resolv_conf, timezone};
use rustix::fd::OwnedFd;
use std::path::PathBuf;

/// What the launcher reads from the host and the tree once, before the first start.
pub struct Prepared {
    pub uuid: Id128,
    /// The host's os-release text and its parsed pairs.
    pub os_release: Option<Vec<u8>>,
    pub os_release_ids: Vec<(String, String)>,
    pub resolv: resolv_conf::Action,
    pub resolv_content: Option<Vec<u8>>,
    pub timezone: timezone::Action,
    pub localtime_content: Option<Vec<u8>>,
    /// The init found with `-b`, and what kind of init it is.
    pub init: Option<PathBuf>,
    pub init_kind: crate::guest::InitKind,
    /// spawnbox-init in a sealed memfd, with `-a`.
    pub stub_init: Option<OwnedFd>,
    /// Overlay work directories on the host, per custom mount.
    pub workdirs: Vec<Option<PathBuf>>,
    /// `/dev/fuse` and `/dev/net/tun` as the host has them (copied into the container's /dev).
    pub dev_nodes: Vec<crate::dev::HostNode>,
    /// `--set-credential=`/`--load-credential=` values, read once.
    pub credentials: Vec<(String, Vec<u8>)>,
    /// The mapping namespace of each custom mount that has one (the child, or with a user
    /// namespace the launcher's `userns::outer`, applies it to its copy of the source): without
    /// a user namespace, `rootidmap` and `owneridmap`; the OCI runtime's mounts' own mappings.
    pub bind_idmaps: Vec<Option<crate::userns::idmap::MappingNs>>,
    /// What the container's `/` is made of (the tree, an overlay of it, a tmpfs).
    pub root: crate::setup::Root,
    /// The cgroup2 mount the container gets (none when it has no cgroup of its own).
    pub cgroup_mount: CgroupMount,
    /// PID 1 dies with the launcher (nspawn's model, the default); `false` when another process
    /// takes the machine over (`machine::Model::Detachable`).
    pub dies_with_launcher: bool,
    /// `machine::Model::Detachable`: the FIFO PID 1 opens for writing after "go", which blocks
    /// until the process that starts the machine opens it for reading (runc's `exec.fifo`).
    pub start_fifo: Option<OwnedFd>,
    /// `spawnbox-runc create --preserve-fds N`: the caller's descriptors 3 to 3+N-1 stay open
    /// into the payload.
    pub preserve_fds: u32,
    /// The host's `/`, for createContainer hooks run by PID 1 of a user namespace (their
    /// root while they run: `Op::CreateContainerHooks`); closed by PID 1's exec.
    pub host_root: Option<OwnedFd>,
    /// What the children do, in order (`setup::plan`, with the mount plan), computed once by
    /// the launcher before the first clone.
    pub setup: crate::setup::Plan,
    /// Capabilities, seccomp and resource settings of the payload.
    pub security: crate::security::Security,
    /// The launcher attaches the device program after this boot's clone, while the child
    /// mounts: the child waits for [`Msg::Devices`](crate::channel::Msg) before it opens any
    /// file of the tree (`child::wait_for_devices`).
    pub devices_pending: bool,
    /// The launcher makes `/run` and `/dev` for this boot's plain child after the clone
    /// (`premade.rs`): the child waits for [`Msg::Premade`](crate::channel::Msg) before its
    /// first mount step.
    pub premade_pending: bool,
    /// With `premade_pending`: the file systems ([`premade::LATE`](crate::premade::LATE)) the
    /// launcher makes next and sends in [`Msg::PremadeLate`](crate::channel::Msg), in this
    /// order; the child waits for them before the first step that mounts one.
    pub premade_late: Vec<&'static str>,
    pub term: Option<String>,
    pub colorterm: Option<String>,
    pub no_color: Option<String>,
    /// The user namespace's range and the tree's view of it (`-U`, `--private-users=`).
    pub userns: Option<crate::userns::UserNs>,
    /// `--bind-user=`: the users, their records and the guest's passwd/group copies.
    pub bind_user: Option<crate::bind_user::Plan>,
}
