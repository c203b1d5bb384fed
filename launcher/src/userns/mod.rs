//! User namespaces (`-U`, `--private-users=`): the UID/GID range, how the tree's ownership is
//! adapted to it, and the uid_map/gid_map written for the container.

pub mod child;
pub mod chown;
pub mod idmap;
pub mod outer;
pub mod pick;

use crate::error::{Error, Result};
use crate::settings::{PrivateUsers, UserNamespaceOwnership};
use crate::spec::Spec;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use std::cell::OnceCell;
use std::path::{Path, PathBuf};

/// The size of a range nspawn picks or derives (64K ids).
pub const RANGE: u32 = 0x10000;
/// Where the "foreign" UID range starts: trees owned from here are mapped, never chowned.
pub const FOREIGN_BASE: u32 = 0x7FFE_0000;

/// How the container sees the ownership of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeView {
    /// As on disk: host uid `shift + k` is container uid `k` (ownership `off`, or chowned).
    Direct,
    /// Through an idmapped mount: on-disk uid `disk_base + k` is container uid `k`.
    Idmapped { disk_base: u32 },
}

/// The container's user namespace, decided once per run.
pub struct UserNs {
    /// First host uid (and gid) of the range; container uid 0 is this.
    pub shift: u32,
    pub range: u32,
    pub view: TreeView,
    /// The `pick` lock on the range, held while the container runs.
    _lock: Option<pick::UidLock>,
    /// A namespace carrying the container's mapping, for idmapped mounts (made on first use).
    mapping_ns: OnceCell<OwnedFd>,
    /// The same for a tree in the foreign range.
    tree_ns: OnceCell<OwnedFd>,
    /// The exclusive lock on the tree directory, held while the container runs.
    _tree_lock: Option<OwnedFd>,
}

/// The descriptor in `cell`, made by `make` on first use.
fn cached<'a>(cell: &'a OnceCell<OwnedFd>, make: impl FnOnce() -> Result<OwnedFd>) -> Result<BorrowedFd<'a>> {
    if let Some(fd) = cell.get() {
        return Ok(fd.as_fd());
    }
    let fd = make()?;
    Ok(cell.get_or_init(|| fd).as_fd())
}

impl UserNs {
    /// Keeps `lock` (the tree's lock, if taken) as long as the namespace's range.
    pub fn with_tree_lock(mut self, lock: Option<OwnedFd>) -> UserNs {
        self._tree_lock = lock;
        self
    }

    /// The uid_map and gid_map text: `0 SHIFT RANGE`.
    pub fn map(&self) -> String {
        format!("0 {} {}\n", self.shift, self.range)
    }

    /// Writes uid_map and gid_map of `pid`, a child waiting in its new user namespace.
    pub fn write_maps(&self, pid: i32) -> Result<()> {
        idmap::write_maps(pid, &self.map(), &self.map())
    }

    /// A user namespace with the container's own mapping (`idmap` binds, the mapped tree).
    pub fn mapping_ns(&self) -> Result<BorrowedFd<'_>> {
        cached(&self.mapping_ns, || idmap::userns_with(&self.map(), &self.map()))
    }

    /// The namespace the tree is idmapped through, if it is.
    pub fn tree_ns(&self) -> Result<Option<BorrowedFd<'_>>> {
        match self.view {
            TreeView::Direct => Ok(None),
            TreeView::Idmapped { disk_base: 0 } => self.mapping_ns().map(Some),
            TreeView::Idmapped { disk_base } => {
                let m = format!("{disk_base} {} {}\n", self.shift, self.range);
                cached(&self.tree_ns, || idmap::userns_with(&m, &m)).map(Some)
            }
        }
    }

    /// The container uid that on-disk owner `id` of the tree shows as (`None`: unmapped).
    pub fn container_id(&self, id: u32) -> Option<u32> {
        let base = match self.view {
            TreeView::Direct => self.shift,
            TreeView::Idmapped { disk_base } => disk_base,
        };
        id.checked_sub(base).filter(|k| *k < self.range)
    }
}

/// The range for `spec` and, with `--private-users-ownership=chown` (or `auto` falling back to
/// it), the tree re-owned to it — once, before the first start. `None` without a user namespace.
pub fn prepare(spec: &Spec, tree: BorrowedFd<'_>) -> Result<Option<UserNs>> {
    let dir = &spec.directory;
    let st = rustix::fs::fstat(tree).map_err(|e| Error::path("stat", dir, e))?;
    let (shift, range, lock) = match spec.private_users {
        PrivateUsers::No => return Ok(None),
        PrivateUsers::Managed => return Err(Error::msg("--private-users=managed: not supported")),
        PrivateUsers::Identity => (0, RANGE, None),
        PrivateUsers::Fixed { base, size } => (base, size, None),
        PrivateUsers::Yes => {
            let base = st.st_uid & 0xFFFF_0000;
            if st.st_gid & 0xFFFF_0000 != base {
                return Err(Error::msg(format!("UID and GID base of {} don't match", dir.display())));
            }
            (base, RANGE, None)
        }
        PrivateUsers::Pick => {
            let lock = pick::pick(st.st_uid, &spec.machine, &lock_dir())?;
            (lock.base(), RANGE, Some(lock))
        }
    };
    log::debug!("user namespace: base {shift}, range {range}");
    let mut ns = UserNs {
        shift,
        range,
        view: TreeView::Direct,
        _lock: lock,
        mapping_ns: OnceCell::new(),
        tree_ns: OnceCell::new(),
        _tree_lock: None,
    };
    ns.view = match spec.ownership {
        UserNamespaceOwnership::Off => TreeView::Direct,
        UserNamespaceOwnership::Map => TreeView::Idmapped { disk_base: 0 },
        UserNamespaceOwnership::Foreign => TreeView::Idmapped { disk_base: FOREIGN_BASE },
        UserNamespaceOwnership::Chown => {
            chown_tree(&ns, tree, dir)?;
            TreeView::Direct
        }
        UserNamespaceOwnership::Auto => {
            let owner_base = st.st_uid & 0xFFFF_0000;
            let want = if owner_base == FOREIGN_BASE {
                TreeView::Idmapped { disk_base: FOREIGN_BASE }
            } else if owner_base != 0 {
                TreeView::Direct
            } else {
                TreeView::Idmapped { disk_base: 0 }
            };
            ns.view = want;
            match want {
                TreeView::Idmapped { .. } if idmap_works(&ns, tree)? => want,
                _ => {
                    chown_tree(&ns, tree, dir)?;
                    TreeView::Direct
                }
            }
        }
    };
    log::debug!("tree ownership: {:?}", ns.view);
    Ok(Some(ns))
}

/// Where `pick` keeps its range locks.
pub fn lock_dir() -> PathBuf {
    crate::network::state::runtime_root().join("uid")
}

/// Whether the tree can be mounted idmapped: `false` when its file system refuses (EINVAL,
/// EOPNOTSUPP, ENOSYS); any other failure (no user namespaces, no descriptors) is an error, not
/// a reason to chown the tree.
fn idmap_works(ns: &UserNs, tree: BorrowedFd<'_>) -> Result<bool> {
    let userns = ns.tree_ns()?.ok_or_else(|| Error::msg("no mapping for the tree"))?;
    let mnt = idmap::clone_tree(tree, true)?;
    match idmap::apply(mnt.as_fd(), userns, true, Path::new("/")) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS)) => {
            log::debug!("idmapped mount of the tree not possible ({e}), chowning instead");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// `--private-users-ownership=chown`: the tree re-owned into the range (skipped when its root
/// already belongs to it).
fn chown_tree(ns: &UserNs, tree: BorrowedFd<'_>, dir: &Path) -> Result<()> {
    if ns.range != RANGE {
        return Err(Error::msg(format!(
            "--private-users-ownership=chown: only 64K ranges can be chowned, not {}",
            ns.range
        )));
    }
    let dirfd = rustix::fs::openat(
        tree,
        ".",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Error::path("open", dir, e))?;
    match chown::shift_tree(dirfd.as_fd(), ns.shift, dir)? {
        Some(n) => log::debug!("chowned {n} inodes of {} to base {}", dir.display(), ns.shift),
        None => log::debug!("{} already owned by base {}", dir.display(), ns.shift),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(shift: u32, view: TreeView) -> UserNs {
        UserNs {
            shift,
            range: RANGE,
            view,
            _lock: None,
            mapping_ns: OnceCell::new(),
            tree_ns: OnceCell::new(),
            _tree_lock: None,
        }
    }

    #[test]
    fn map_text() {
        assert_eq!(ns(0x80000, TreeView::Direct).map(), "0 524288 65536\n");
        let mut n = ns(100000, TreeView::Direct);
        n.range = 1000;
        assert_eq!(n.map(), "0 100000 1000\n");
    }

    #[test]
    fn container_ids_follow_the_view() {
        let direct = ns(0x80000, TreeView::Direct);
        assert_eq!(direct.container_id(0x80000), Some(0));
        assert_eq!(direct.container_id(0x80000 + 1000), Some(1000));
        assert_eq!(direct.container_id(0), None);
        assert_eq!(direct.container_id(0x90000), None);
        let mapped = ns(0x80000, TreeView::Idmapped { disk_base: 0 });
        assert_eq!(mapped.container_id(0), Some(0));
        assert_eq!(mapped.container_id(1000), Some(1000));
        assert_eq!(mapped.container_id(0x80000), None);
        let foreign = ns(0x80000, TreeView::Idmapped { disk_base: FOREIGN_BASE });
        assert_eq!(foreign.container_id(FOREIGN_BASE + 5), Some(5));
    }
}
