//! Everything a start checks and reads before it changes anything: the tree (an OS tree, the
//! init of `-b`), the host's files the container gets copies of, the decisions about
//! `/etc/resolv.conf` and `/etc/localtime`, the security layer, the user namespace's range.

use crate::error::{Error, Result};
use crate::mount_plan::CgroupMount;
use crate::prepared::Prepared;
use crate::rootfs;
use crate::settings::{Id128, StartMode, VolatileMode};
use crate::spec::Spec;
use crate::{env, overlay, resolv_conf, timezone};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::path::{Path, PathBuf};

/// The init candidates of `-b`, in nspawn's order.
pub const INITS: [&str; 3] = ["/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init"];

/// spawnbox-init, embedded at build time (empty when built without it).
static STUB_INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/spawnbox-init"));

/// Checks the tree and reads what every start needs; `bind_user` is the `--bind-user=` plan
/// (its home binds are among the spec's custom mounts already).
/// `root` is what the container's `/` is made of.
pub fn prepare(
    spec: &Spec,
    bind_user: Option<crate::bind_user::Plan>,
    root: crate::setup::Root,
) -> Result<(Prepared, OwnedFd)> {
    let dir = &spec.directory;
    let tree = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open directory", dir, e))?;
    // With --pivot-root the checks look at the root the container will get, as nspawn's.
    let pivoted = match &spec.pivot_root {
        Some((new, old)) => Some(
            rootfs::open_in_root(tree.as_fd(), new, OFlags::PATH | OFlags::DIRECTORY, rootfs::Follow::InRoot).map_err(
                |e| {
                    Error::path("open", &dir.join(rootfs::relative(new)), e)
                        .context(rootfs::pivot_option(new, old.as_deref()))
                },
            )?,
        ),
        None => None,
    };
    let t = tree.as_fd();
    let v = pivoted.as_ref().map_or(t, |p| p.as_fd());
    let mut init = None;
    if spec.start_mode == StartMode::Boot {
        if spec.check_os_release
            && !rootfs::is_regular_file(v, Path::new("/etc/os-release"))
            && !rootfs::is_regular_file(v, Path::new("/usr/lib/os-release"))
        {
            return Err(Error::msg(format!(
                "directory {} doesn't look like an OS root directory (os-release file is missing), refusing",
                dir.display()
            )));
        }
        let found = INITS.iter().find(|p| {
            rootfs::stat_in_root(v, Path::new(p)).is_some_and(|m| m & 0o170000 == 0o100000 && m & 0o111 != 0)
        });
        match found {
            Some(p) => init = Some(PathBuf::from(p)),
            None => {
                return Err(Error::msg(format!(
                    "cannot find an init in {} (tried {})",
                    dir.display(),
                    INITS.join(", ")
                )))
            }
        }
    } else if spec.oci.is_none()
        && rootfs::stat_in_root(v, Path::new("/usr")).map_or(true, |m| m & 0o170000 != 0o040000)
    {
        return Err(Error::msg(format!(
            "directory {} doesn't look like it has an OS tree (/usr/ directory is missing), refusing",
            dir.display()
        )));
    }

    let init_kind = match &init {
        Some(p) => crate::guest::identify(v, p),
        None if spec.start_mode == StartMode::Pid2 => crate::guest::InitKind::SpawnboxInit,
        None => crate::guest::InitKind::Unknown,
    };
    let uuid = machine_id(v).or(spec.uuid).unwrap_or_else(Id128::random);

    let os_release = etc_text("/etc/os-release").or_else(|| etc_text("/usr/lib/os-release"));
    let os_release_ids =
        os_release.as_deref().map(|b| env::parse_os_release(&String::from_utf8_lossy(b))).unwrap_or_default();

    crate::volatile::check(tree.as_fd(), dir, root, &spec.custom_mounts)?;
    // nspawn's "writable /etc": --volatile=yes and =overlay give a writable root of their own.
    let writable = !spec.read_only || matches!(spec.volatile, VolatileMode::Yes | VolatileMode::Overlay);
    // `auto` leaves the tree's file alone in a network namespace of its own, unless NAT gives
    // the container a way out (then the host's file is useful and copied).
    let isolated = spec.net.separate_namespace() && !spec.net.nat;
    let resolv = resolv_conf::decide(spec.resolv_conf, writable, isolated, &|p| p.exists());
    let resolv_content = match &resolv {
        resolv_conf::Action::Copy(p) | resolv_conf::Action::Replace(p) | resolv_conf::Action::Bind(p) => {
            crate::etc_files::read_host_file(p)
        }
        _ => None,
    };
    let host_zone = match std::fs::read_link("/etc/localtime") {
        Ok(target) => match timezone::zone_of_link(&target.to_string_lossy()) {
            Some(z) => timezone::HostZone::Zone(z),
            None if Path::new("/etc/localtime").exists() => timezone::HostZone::File,
            None => timezone::HostZone::Missing,
        },
        Err(_) if Path::new("/etc/localtime").is_file() => timezone::HostZone::File,
        Err(_) => timezone::HostZone::Missing,
    };
    let timezone = timezone::decide(spec.timezone, writable, &host_zone);
    log::debug!("resolv.conf: {resolv:?}; timezone: {timezone:?} (host {host_zone:?}); uuid {}", uuid.uuid_string());
    let localtime_content = matches!(timezone, timezone::Action::Copy | timezone::Action::Bind)
        .then(|| crate::etc_files::read_host_file(Path::new("/etc/localtime")))
        .flatten();

    if let Some(oci) = &spec.oci {
        // The namespaces config.json names by path: opened and checked before anything
        // changes (the spawn opens them again for the clone).
        drop(crate::spec_oci::open_joined(&oci.config)?);
    }
    let security = crate::security::prepare(spec)?;
    let stub_init = if spec.start_mode == StartMode::Pid2 { Some(stub_init_memfd()?) } else { None };
    let workdirs = overlay::prepare(&spec.custom_mounts, t)?;
    if spec.userns() {
        // Those file systems are mounted inside the user namespace, after the custom mounts.
        if let Some(m) = spec
            .custom_mounts
            .iter()
            .find(|m| crate::mount_plan::INSIDE_USERNS_TARGETS.iter().any(|t| m.destination().starts_with(t)))
        {
            let with = if spec.oci.is_some() { "in a user namespace" } else { "with --private-users" };
            return Err(Error::msg(format!(
                "{}: mounts on or below {} are not supported {with} yet",
                crate::mounts::describe(m),
                crate::mount_plan::INSIDE_USERNS_TARGETS.join(", ")
            )));
        }
    }
    let own_creds = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    let credentials = crate::credentials::load(&spec.credentials, own_creds.as_deref())?;
    let bind_idmaps = match &spec.oci {
        Some(oci) => crate::userns::idmap::own_bind_mappings(&crate::mount_plan_oci::own_idmaps(&oci.config)?)?,
        None if spec.userns() => Vec::new(),
        None => crate::userns::idmap::host_bind_mappings(&spec.custom_mounts, t)?,
    };
    let userns = if spec.userns() {
        // One user-namespaced container per tree: a second one could re-own it under the first.
        let lock = if spec.lock_tree { Some(lock_tree(dir)?) } else { None };
        // Every bind source must open before the tree may be re-owned below.
        drop(crate::mounts::open_host_sources(&spec.custom_mounts, &workdirs, t)?);
        // Last: with --private-users-ownership=chown (or auto) this re-owns the tree.
        let bound = bind_user.as_ref().map(crate::bind_user::Plan::bound_ids).unwrap_or_default();
        // Under an overlay or a volatile root the tree stays as it is: never chowned.
        let keep = root != crate::setup::Root::Tree || spec.volatile != VolatileMode::No;
        crate::userns::prepare(spec, t, bound, keep)?.map(|u| u.with_tree_lock(lock))
    } else {
        None
    };
    let var = |k: &str| std::env::var(k).ok();
    Ok((
        Prepared {
            uuid,
            os_release,
            os_release_ids,
            resolv,
            resolv_content,
            timezone,
            localtime_content,
            init,
            init_kind,
            stub_init,
            workdirs,
            bind_idmaps,
            credentials,
            dev_nodes: crate::dev::host_optional_nodes(),
            root,
            cgroup_mount: CgroupMount::None,
            setup: crate::setup::Plan::default(),
            dies_with_launcher: true,
            start_fifo: None,
            host_root: None,
            preserve_fds: spec.oci.as_ref().map_or(0, |o| o.preserve_fds),
            security,
            devices_pending: false,
            premade_pending: false,
            premade_late: Vec::new(),
            term: var("TERM"),
            colorterm: var("COLORTERM"),
            no_color: var("NO_COLOR"),
            userns,
            bind_user,
        },
        tree,
    ))
}

/// The tree's `/etc/machine-id`, if it holds one.
pub(super) fn machine_id(tree: BorrowedFd<'_>) -> Option<Id128> {
    let b = rootfs::read_small_file(tree, Path::new("/etc/machine-id"), 64).ok().flatten()?;
    Id128::parse(String::from_utf8_lossy(&b).trim())
}

/// An exclusive lock on the tree directory for the container's lifetime (nspawn's image lock).
fn lock_tree(dir: &Path) -> Result<OwnedFd> {
    let fd = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open directory", dir, e))?;
    match rustix::fs::flock(&fd, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(fd),
        Err(rustix::io::Errno::WOULDBLOCK) => {
            Err(Error::msg(format!("directory tree {} is currently busy", dir.display())))
        }
        Err(e) => Err(Error::path("lock", dir, e)),
    }
}

fn etc_text(p: &str) -> Option<Vec<u8>> {
    crate::etc_files::read_host_file(Path::new(p))
}

/// spawnbox-init's bytes in a sealed memfd: executed from there, it is never written into the
/// tree, and the container cannot modify it through `/proc/1/exe`.
fn stub_init_memfd() -> Result<OwnedFd> {
    use rustix::fs::{MemfdFlags, SealFlags};
    if STUB_INIT.is_empty() {
        return Err(Error::msg("--as-pid2: this spawnbox was built without spawnbox-init"));
    }
    let fd = rustix::fs::memfd_create("spawnbox-init", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .map_err(|e| Error::sys("create", "memfd for spawnbox-init", e))?;
    crate::run_host::write_all(fd.as_fd(), STUB_INIT).map_err(|e| Error::sys("write", "spawnbox-init memfd", e))?;
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE)
        .map_err(|e| Error::sys("seal", "spawnbox-init memfd", e))?;
    Ok(fd)
}
