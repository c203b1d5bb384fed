//! Mappings: uid_map/gid_map writes, user namespaces that exist only to carry a mapping, and
//! idmapped mounts made with them (mount_setattr(MOUNT_ATTR_IDMAP) on detached trees).

use crate::error::{Error, Result};
use crate::settings::{BindIdmap, CustomMount, MountSource};
use crate::sys::{self, Forked};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, WaitOptions};
use std::path::{Path, PathBuf};

/// Writes `uid` and `gid` (map texts) to `/proc/PID/uid_map` and `gid_map`, each in one write
/// as the kernel requires.
pub fn write_maps(pid: i32, uid: &str, gid: &str) -> Result<()> {
    for (name, text) in [("uid_map", uid), ("gid_map", gid)] {
        let path = PathBuf::from(format!("/proc/{pid}/{name}"));
        let fd = rustix::fs::open(&path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open", &path, e))?;
        match rustix::io::write(&fd, text.as_bytes()) {
            Ok(n) if n == text.len() => {}
            Ok(_) => return Err(Error::path("write", &path, rustix::io::Errno::IO)),
            Err(e) => return Err(Error::path("write", &path, e).context(hint(e))),
        }
    }
    Ok(())
}

fn hint(e: rustix::io::Errno) -> &'static str {
    match e {
        rustix::io::Errno::INVAL => "the range overlaps itself or goes beyond 4294967295",
        _ => "user namespaces may be disabled (see /proc/sys/user/max_user_namespaces)",
    }
}

/// A user namespace with the given mappings, held by descriptor: a helper child unshares it,
/// the launcher writes its maps and opens `/proc/PID/ns/user`, then the helper exits.
pub fn userns_with(uid_map: &str, gid_map: &str) -> Result<OwnedFd> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Error::sys("create", "pipe for the mapping helper", e))?;
    let pid = match sys::clone_process(libc::CLONE_NEWUSER as u64, None)
        .map_err(|e| Error::sys("create", "user namespace", e).context(hint(e)))?
    {
        Forked::Child => {
            drop(w);
            // Wait until the launcher has what it needs (the pipe closes), then go.
            let mut b = [0u8; 1];
            let _ = rustix::io::read(&r, &mut b);
            sys::exit_now(0)
        }
        Forked::Parent { pid } => pid,
    };
    drop(r);
    let result = write_maps(pid, uid_map, gid_map).and_then(|()| {
        let path = PathBuf::from(format!("/proc/{pid}/ns/user"));
        rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open", &path, e))
    });
    drop(w);
    let _ = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty());
    result
}

/// The uid_map and gid_map texts of the user namespace `userns` as the host sees them: a
/// helper child joins it and reads its own maps (shown relative to the namespace's parent).
pub fn read_maps(userns: BorrowedFd<'_>, shown: &Path) -> Result<(String, String)> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Error::sys("create", "pipe for the mapping reader", e))?;
    let pid = match sys::clone_process(0, None).map_err(|e| Error::sys("fork", "the mapping reader", e))? {
        Forked::Child => {
            drop(r);
            let read = || -> Option<Vec<u8>> {
                rustix::thread::move_into_link_name_space(userns, Some(rustix::thread::LinkNameSpaceType::User))
                    .ok()?;
                let mut out = std::fs::read("/proc/self/uid_map").ok()?;
                out.push(0);
                out.extend(std::fs::read("/proc/self/gid_map").ok()?);
                Some(out)
            };
            let code = match read() {
                Some(bytes) => i32::from(crate::run_host::write_all(w.as_fd(), &bytes).is_err()),
                None => 1,
            };
            sys::exit_now(code)
        }
        Forked::Parent { pid } => pid,
    };
    drop(w);
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(&r, &mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    let status = rustix::process::waitpid(Pid::from_raw(pid), WaitOptions::empty());
    let ok = matches!(status, Ok(Some((_, st))) if st.exit_status() == Some(0));
    let text = String::from_utf8_lossy(&bytes);
    match (ok, text.split_once('\0')) {
        (true, Some((uid, gid))) => Ok((uid.to_string(), gid.to_string())),
        _ => Err(Error::msg(format!("read the uid and gid maps of user namespace {}: failed", shown.display()))),
    }
}

/// The lines of a uid_map or gid_map text (`CONTAINER HOST SIZE`, blank-separated).
pub fn parse_map(text: &str) -> Option<Vec<crate::runtime_spec::IdMap>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split_whitespace().map(|n| n.parse::<u32>().ok());
            let m = crate::runtime_spec::IdMap { container_id: f.next()??, host_id: f.next()??, size: f.next()?? };
            f.next().is_none().then_some(m)
        })
        .collect()
}

/// A detached copy of the tree `dir` refers to (its submounts too if `recursive`), a slave.
pub fn clone_tree(dir: BorrowedFd<'_>, recursive: bool) -> Result<OwnedFd> {
    crate::mounts::clone_tree(dir, Path::new(""), recursive, false)
}

/// Makes the detached mount `mnt` show ownership through `userns`; `shown` names it in errors.
pub fn apply(mnt: BorrowedFd<'_>, userns: BorrowedFd<'_>, recursive: bool, shown: &Path) -> Result<()> {
    sys::mount_setattr_idmap(mnt, userns, recursive).map_err(|e| {
        let e = Error::path("make idmapped mount of", shown, e);
        match e.errno() {
            Some(libc::EINVAL) => e.context("the file system may not support idmapped mounts"),
            _ => e,
        }
    })
}

/// The one-id mapping line `FROM TO 1`.
pub fn single(from: u32, to: u32) -> String {
    format!("{from} {to} 1\n")
}

/// A fresh namespace mapping host owner `(uid, gid)` of a bind source onto the host ids `to`
/// of the container ids it should show as (`rootidmap`: 0; `owneridmap`: the target's owner).
pub fn owner_ns(owner: (u32, u32), to: (u32, u32)) -> Result<OwnedFd> {
    userns_with(&single(owner.0, to.0), &single(owner.1, to.1))
}

/// For a `--bind` with `rootidmap` or `owneridmap` (nspawn ≥ 256): a namespace mapping the
/// source's host owner `owner` to the container's root, or to the owner of `destination` in
/// the tree. `ns`: the container's user namespace (none: container ids are host ids).
pub fn owner_mapping(
    kind: BindIdmap,
    owner: (u32, u32),
    tree: BorrowedFd<'_>,
    destination: &Path,
    ns: Option<&super::UserNs>,
) -> Result<Option<OwnedFd>> {
    let to = match kind {
        BindIdmap::RootIdmap => (0, 0),
        BindIdmap::OwnerIdmap => target_owner(tree, destination, ns),
        BindIdmap::None | BindIdmap::Idmap | BindIdmap::IdmapTop => return Ok(None),
    };
    let host = ns.map_or(to, |n| (n.host_uid(to.0), n.host_gid(to.1)));
    owner_ns(owner, host).map(Some)
}

/// The container ids owning `destination` in the tree (root's when it does not exist yet: the
/// mount point is then created by the container's root).
fn target_owner(tree: BorrowedFd<'_>, destination: &Path, ns: Option<&super::UserNs>) -> (u32, u32) {
    const NOBODY: u32 = 65534;
    let uid = |id: u32| ns.map_or(Some(id), |n| n.container_uid(id)).unwrap_or(NOBODY);
    let gid = |id: u32| ns.map_or(Some(id), |n| n.container_gid(id)).unwrap_or(NOBODY);
    match crate::rootfs::open_path(tree, destination, crate::rootfs::Follow::InRoot).and_then(rustix::fs::fstat) {
        Ok(st) => (uid(st.st_uid), gid(st.st_gid)),
        Err(_) => (0, 0),
    }
}

/// The mapping namespace of one custom mount, made by the launcher before the first clone, and
/// whether it applies to the submounts of the source's copy too.
pub struct MappingNs {
    pub ns: OwnedFd,
    pub recursive: bool,
}

/// Without a user namespace: the mapping namespace of each custom mount's `rootidmap` or
/// `owneridmap` option (`None` for the others), made by the launcher, which can still read
/// `/proc` of its helper; the container child applies them to its copies of the sources.
pub fn host_bind_mappings(mounts: &[CustomMount], tree: BorrowedFd<'_>) -> Result<Vec<Option<MappingNs>>> {
    mounts
        .iter()
        .map(|m| match m {
            CustomMount::Bind { source: MountSource::Host(path), destination, idmap, recursive, .. }
                if matches!(idmap, BindIdmap::RootIdmap | BindIdmap::OwnerIdmap) =>
            {
                let st = rustix::fs::stat(path).map_err(|e| Error::path("stat", path, e))?;
                let ns = owner_mapping(*idmap, (st.st_uid, st.st_gid), tree, destination, None)
                    .map_err(|e| e.context(crate::mounts::describe(m)))?;
                Ok(ns.map(|ns| MappingNs { ns, recursive: *recursive }))
            }
            _ => Ok(None),
        })
        .collect()
}

/// The OCI runtime: the namespace of each bind mount's own mappings
/// ([`own_idmaps`](crate::mount_plan_oci::own_idmaps), `None` for the others), with or
/// without a container user namespace (the mappings are the host's either way).
pub fn own_bind_mappings(own: &[Option<crate::mount_plan_oci::OwnIdmap>]) -> Result<Vec<Option<MappingNs>>> {
    own.iter()
        .map(|o| {
            let Some(o) = o else { return Ok(None) };
            let (uid, gid) = (super::oci_map_text(&o.uid), super::oci_map_text(&o.gid));
            let ns = userns_with(&uid, &gid).map_err(|e| e.context(format!("mounts[{}].uidMappings", o.index)))?;
            Ok(Some(MappingNs { ns, recursive: o.recursive }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_texts_as_the_kernel_shows_them() {
        let m = parse_map("         0     100000      65536\n     65536    1000000          1\n").unwrap();
        assert_eq!(
            m,
            [
                crate::runtime_spec::IdMap { container_id: 0, host_id: 100000, size: 65536 },
                crate::runtime_spec::IdMap { container_id: 65536, host_id: 1000000, size: 1 }
            ]
        );
        assert_eq!(parse_map("0 1\n"), None);
        assert_eq!(parse_map("0 1 2 3\n"), None);
        assert_eq!(parse_map(""), Some(Vec::new()));
    }

    #[test]
    fn single_lines() {
        assert_eq!(single(1234, 524288), "1234 524288 1\n");
    }

    #[test]
    fn hints_name_the_likely_cause() {
        assert_eq!(hint(rustix::io::Errno::INVAL), "the range overlaps itself or goes beyond 4294967295");
        assert!(hint(rustix::io::Errno::PERM).contains("max_user_namespaces"));
    }
}
