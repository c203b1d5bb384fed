//! `--bind-user=`, `--bind-user-shell=`, `--bind-user-group=` (nspawn's `machine-bind-user.c`
//! and `nspawn-bind-user.c`): a host user, read from the host's own `/etc/passwd`, `/etc/group`
//! and `/etc/shadow` (no NSS: the binary is static), appears in the container with a UID/GID
//! from 60514..60577 that the guest does not use, mapped 1:1 onto its host ids (the uid_map and
//! gid_map get a hole, `userns::map_text`), its home bound on `/run/host/home/NAME`, and JSON
//! records in `/run/host/userdb/` for nss-systemd. Guests without nss-systemd also get copies of
//! their `/etc/passwd` and `/etc/group` with the user added, bound read-only over the originals
//! (the tree on disk is never changed).
//!
//! `prepare` reads and plans before anything happens on the host (`plan.rs`, `records.rs` and
//! `db.rs` are pure); `setup.rs` fills `/run/host` and binds the copies.

mod bound;
pub mod db;
pub mod plan;
pub mod records;
pub mod setup;

#[cfg(test)]
use plan::BoundUser;
pub use plan::Plan;

use crate::error::{Error, Result};
use crate::rootfs::{self, libc_mode, Follow};
use crate::settings::{BindIdmap, CustomMount, MountSource, PrivateUsers};
use crate::spec::Spec;
use crate::userns::BoundId;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::path::Path;

/// The largest account database or nsswitch.conf read (a bigger one is refused, never cut).
const DB_MAX: usize = 1 << 20;

impl Plan {
    /// The bind of each user's host home onto `/run/host/home/NAME` (read-write, recursive,
    /// without idmapping: the user's host ids are mapped into the container as they are).
    pub fn home_mounts(&self) -> Vec<CustomMount> {
        self.users
            .iter()
            .map(|u| CustomMount::Bind {
                source: MountSource::Host(u.host_home.clone()),
                destination: u.home(),
                read_only: false,
                recursive: true,
                idmap: BindIdmap::None,
            })
            .collect()
    }

    /// The ids the user namespace maps 1:1.
    pub fn bound_ids(&self) -> Vec<BoundId> {
        self.users
            .iter()
            .map(|u| BoundId { inside: u.uid, host_uid: u.host_uid, host_gid: u.host_gid, name: u.name.clone() })
            .collect()
    }
}

/// Reads the host's and the guest's databases and plans the run; `None` without `--bind-user=`.
/// Nothing on the host (or in the tree) is changed.
pub fn prepare(spec: &Spec) -> Result<Option<Plan>> {
    let Some(first) = spec.bind_user.first() else { return Ok(None) };
    let ctx = format!("--bind-user={first}");
    let host_passwd = read_host(Path::new("/etc/passwd")).map_err(|e| e.context(&ctx))?;
    let host_group = read_host(Path::new("/etc/group")).map_err(|e| e.context(&ctx))?;
    // Only root can read it; without it no password hash goes into the records.
    let host_shadow = read_host(Path::new("/etc/shadow"))
        .map_err(|e| log::debug!("{ctx}: {e}: no password hashes in the user records"))
        .ok();

    let dir = &spec.directory;
    let tree = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open directory", dir, e))?;
    let read = |p: &str| read_guest(tree.as_fd(), dir, p).map_err(|e| e.context(&ctx));
    let (guest_passwd, guest_group, nsswitch) =
        (read("/etc/passwd")?, read("/etc/group")?, read("/etc/nsswitch.conf")?);
    let nss_systemd = db::nss_systemd(nsswitch.as_deref());

    let range = match spec.private_users {
        PrivateUsers::Fixed { size, .. } => size,
        _ => crate::userns::RANGE,
    };
    let request = plan::Request {
        users: &spec.bind_user,
        shell: spec.bind_user_shell.as_deref(),
        groups: &spec.bind_user_group,
        range,
    };
    let host = plan::HostDb { passwd: &host_passwd, group: &host_group, shadow: host_shadow.as_deref() };
    let guest = plan::GuestDb { passwd: guest_passwd.as_deref(), group: guest_group.as_deref(), nss_systemd };
    let plan = plan::plan(&request, &host, &guest)?;

    // nspawn's bind of the home fails the start when the home is missing: fail here, first.
    for u in &plan.users {
        let fail = |e| Error::path("stat", &u.host_home, e).context(format!("--bind-user={}", u.name));
        let st = rustix::fs::stat(&u.host_home).map_err(fail)?;
        if st.st_mode & libc_mode::S_IFMT != libc_mode::S_IFDIR {
            return Err(fail(Errno::NOTDIR));
        }
    }
    if plan.passwd.is_none() && !nss_systemd {
        log::warn!(
            "{ctx}: the container has no /etc/passwd: bound users are known there only through /run/host/userdb/"
        );
    }
    log::debug!(
        "bind users: {} (nss-systemd in the guest: {nss_systemd})",
        plan.users.iter().map(|u| format!("{} {}->{}", u.name, u.host_uid, u.uid)).collect::<Vec<_>>().join(", ")
    );
    Ok(Some(plan))
}

/// A host database, read whole (it is trusted; its size is the host's business).
fn read_host(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::path("read", path, Errno::from_io_error(&e).unwrap_or(Errno::IO)))
}

/// A regular file of the guest tree, resolved inside it (its symlinks cannot leave it), read to
/// at most [`DB_MAX`] bytes; `None` when it does not exist. Errors name it as the host sees it.
fn read_guest(tree: BorrowedFd<'_>, dir: &Path, path: &str) -> Result<Option<Vec<u8>>> {
    let shown = dir.join(rootfs::relative(Path::new(path)));
    let flags = OFlags::RDONLY | OFlags::NONBLOCK;
    let fd = match rootfs::open_in_root(tree, Path::new(path), flags, Follow::InRoot) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(Error::path("open", &shown, e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat", &shown, e))?;
    if st.st_mode & libc_mode::S_IFMT != libc_mode::S_IFREG {
        return Err(Error::msg(format!("{} is not a regular file", shown.display())));
    }
    let mut buf = vec![0u8; DB_MAX + 1];
    let mut len = 0;
    while len < buf.len() {
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(Error::path("read", &shown, e)),
        }
    }
    if len > DB_MAX {
        return Err(Error::msg(format!("{} is larger than {} bytes, refusing", shown.display(), DB_MAX)));
    }
    buf.truncate(len);
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("spawnbox-binduser-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        d
    }

    fn open(d: &Path) -> rustix::fd::OwnedFd {
        rustix::fs::open(d, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn guest_files_are_read_inside_the_tree() {
        let d = tmpdir("read");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(d.join("etc/passwd"), "host:x:1:1::/:\n").unwrap();
        std::fs::write(root.join("etc/group"), "g:x:1:\n").unwrap();
        // An absolute symlink resolves inside the tree, where nothing is.
        symlink(d.join("etc/passwd"), root.join("etc/passwd")).unwrap();
        let t = open(&root);
        assert_eq!(read_guest(t.as_fd(), &root, "/etc/passwd").unwrap(), None);
        assert_eq!(read_guest(t.as_fd(), &root, "/etc/group").unwrap().unwrap(), b"g:x:1:\n");
        std::fs::create_dir(root.join("etc/nsswitch.conf")).unwrap();
        assert_eq!(
            read_guest(t.as_fd(), &root, "/etc/nsswitch.conf").unwrap_err().to_string(),
            format!("{}/etc/nsswitch.conf is not a regular file", root.display())
        );
        std::fs::write(root.join("etc/big"), vec![b'a'; DB_MAX + 1]).unwrap();
        assert_eq!(
            read_guest(t.as_fd(), &root, "/etc/big").unwrap_err().to_string(),
            format!("{}/etc/big is larger than 1048576 bytes, refusing", root.display())
        );
        std::fs::write(root.join("etc/big"), vec![b'a'; DB_MAX]).unwrap();
        assert_eq!(read_guest(t.as_fd(), &root, "/etc/big").unwrap().unwrap().len(), DB_MAX);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn plans_give_mounts_and_ids() {
        let p = Plan {
            users: vec![BoundUser {
                name: "bob".into(),
                host_uid: 1000,
                host_gid: 1001,
                uid: 60514,
                host_home: "/home/bob".into(),
                shell: None,
                hashed_password: None,
                member_of: vec![],
            }],
            passwd: None,
            group: None,
        };
        assert_eq!(
            p.home_mounts(),
            [CustomMount::Bind {
                source: MountSource::Host("/home/bob".into()),
                destination: "/run/host/home/bob".into(),
                read_only: false,
                recursive: true,
                idmap: BindIdmap::None,
            }]
        );
        assert_eq!(p.bound_ids(), [BoundId { inside: 60514, host_uid: 1000, host_gid: 1001, name: "bob".into() }]);
    }
}
