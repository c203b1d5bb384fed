//! User namespaces (`-U`, `--private-users=`): the UID/GID range, how the tree's ownership is
//! adapted to it, and the uid_map/gid_map written for the container (split around the host
//! users `--bind-user=` maps 1:1, as nspawn's `make_uid_map_string()`).

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

/// Inodes this process makes from now on belong to host uid `uid` and gid `gid` (the
/// container's root: uid 0 on disk through an idmapped tree, which refuses any id outside its
/// mapping), and file access is checked as them. The file-system capabilities the kernel drops
/// from the effective set with the fsuid change are raised again; `create_as(0, 0)` goes back.
pub fn create_as(uid: u32, gid: u32) -> Result<()> {
    crate::sys::set_fs_ids(uid, gid).map_err(|e| Error::sys("set", "file-system ids", e))?;
    let mut caps = rustix::thread::capabilities(None).map_err(|e| Error::sys("read", "capabilities", e))?;
    caps.effective = caps.permitted;
    rustix::thread::set_capabilities(None, caps).map_err(|e| Error::sys("raise", "capabilities", e))
}

/// How the container sees the ownership of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeView {
    /// As on disk: host uid `shift + k` is container uid `k` (ownership `off`, or chowned).
    Direct,
    /// Through an idmapped mount: on-disk uid `disk_base + k` is container uid `k`.
    Idmapped { disk_base: u32 },
}

/// A host user mapped 1:1 into the container (`--bind-user=`): container uid and gid `inside`
/// are host uid `host_uid` and host gid `host_gid`, a hole in the range's shifted mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundId {
    pub inside: u32,
    pub host_uid: u32,
    pub host_gid: u32,
    /// The user (and private group) name, for messages.
    pub name: String,
}

/// The uid_map (or gid_map) text for ids `0..range` of the container, seen at `base + k` (0 for
/// the container's own namespace, the on-disk base for an idmapped tree): `k` maps onto host
/// `shift + k`, except each `(inside, host)` of `holes`, which maps onto `host` alone. Holes
/// outside the range are ignored (the plan never makes them).
pub fn map_text(base: u32, shift: u32, range: u32, holes: &[(u32, u32)]) -> String {
    let mut holes: Vec<(u32, u32)> = holes.iter().copied().filter(|(inside, _)| *inside < range).collect();
    crate::sort::sort(&mut holes);
    holes.dedup_by_key(|(inside, _)| *inside);
    let mut text = String::new();
    let mut next = 0u32;
    for (inside, host) in holes {
        if inside > next {
            text.push_str(&format!("{} {} {}\n", base + next, shift + next, inside - next));
        }
        text.push_str(&format!("{} {host} 1\n", base + inside));
        next = inside + 1;
    }
    if range > next {
        text.push_str(&format!("{} {} {}\n", base + next, shift + next, range - next));
    }
    text
}

/// The container's user namespace, decided once per run.
pub struct UserNs {
    /// First host uid (and gid) of the range; container uid 0 is this.
    pub shift: u32,
    pub range: u32,
    pub view: TreeView,
    /// Host users mapped 1:1 (`--bind-user=`), by ascending container id.
    pub bound: Vec<BoundId>,
    /// The `pick` lock on the range, held while the container runs.
    _lock: Option<pick::UidLock>,
    /// A namespace carrying the container's mapping, for idmapped mounts (made on first use).
    mapping_ns: OnceCell<OwnedFd>,
    /// The same for a tree in the foreign range.
    tree_ns: OnceCell<OwnedFd>,
    /// The exclusive lock on the tree directory, held while the container runs.
    _tree_lock: Option<OwnedFd>,
    /// The OCI runtime: config.json's uid_map and gid_map texts, written as given.
    explicit: Option<(String, String)>,
    /// The OCI runtime: a namespace joined by path, whose maps exist already.
    joined: bool,
}

/// The descriptor in `cell`, made by `make` on first use.
fn cached<'a>(cell: &'a OnceCell<OwnedFd>, make: impl FnOnce() -> Result<OwnedFd>) -> Result<BorrowedFd<'a>> {
    if let Some(fd) = cell.get() {
        return Ok(fd.as_fd());
    }
    let fd = make()?;
    Ok(cell.get_or_init(|| fd).as_fd())
}

/// The uid_map (or gid_map) text of config.json's mappings: one `CONTAINER HOST SIZE` line
/// each, in their order (runc's).
pub fn oci_map_text(maps: &[crate::runtime_spec::IdMap]) -> String {
    maps.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect()
}

impl UserNs {
    fn new(shift: u32, range: u32, view: TreeView, bound: Vec<BoundId>, lock: Option<pick::UidLock>) -> UserNs {
        UserNs {
            shift,
            range,
            view,
            bound,
            _lock: lock,
            mapping_ns: OnceCell::new(),
            tree_ns: OnceCell::new(),
            _tree_lock: None,
            explicit: None,
            joined: false,
        }
    }

    /// Keeps `lock` (the tree's lock, if taken) as long as the namespace's range.
    pub fn with_tree_lock(mut self, lock: Option<OwnedFd>) -> UserNs {
        self._tree_lock = lock;
        self
    }

    /// The uid_map text (`0 SHIFT RANGE`, split around the bound users) with container ids
    /// seen at `base + k`.
    fn uid_map_at(&self, base: u32) -> String {
        let holes: Vec<(u32, u32)> = self.bound.iter().map(|b| (b.inside, b.host_uid)).collect();
        map_text(base, self.shift, self.range, &holes)
    }

    /// The gid_map text, likewise.
    fn gid_map_at(&self, base: u32) -> String {
        let holes: Vec<(u32, u32)> = self.bound.iter().map(|b| (b.inside, b.host_gid)).collect();
        map_text(base, self.shift, self.range, &holes)
    }

    /// The container's uid_map and gid_map texts.
    pub fn maps(&self) -> (String, String) {
        match &self.explicit {
            Some((uid, gid)) => (uid.clone(), gid.clone()),
            None => (self.uid_map_at(0), self.gid_map_at(0)),
        }
    }

    /// Writes uid_map and gid_map of `pid`, a child waiting in its new user namespace (nothing
    /// for a namespace joined by path: it has its maps).
    pub fn write_maps(&self, pid: i32) -> Result<()> {
        if self.joined {
            return Ok(());
        }
        let (uid, gid) = self.maps();
        idmap::write_maps(pid, &uid, &gid)
    }

    /// A user namespace with the container's own mapping (`idmap` binds, the mapped tree).
    pub fn mapping_ns(&self) -> Result<BorrowedFd<'_>> {
        cached(&self.mapping_ns, || {
            let (uid, gid) = self.maps();
            idmap::userns_with(&uid, &gid)
        })
    }

    /// The namespace the tree is idmapped through, if it is.
    pub fn tree_ns(&self) -> Result<Option<BorrowedFd<'_>>> {
        match self.view {
            TreeView::Direct => Ok(None),
            TreeView::Idmapped { disk_base: 0 } => self.mapping_ns().map(Some),
            TreeView::Idmapped { disk_base } => {
                cached(&self.tree_ns, || idmap::userns_with(&self.uid_map_at(disk_base), &self.gid_map_at(disk_base)))
                    .map(Some)
            }
        }
    }

    /// The container uid that on-disk owner `id` of the tree shows as (`None`: unmapped).
    pub fn container_uid(&self, id: u32) -> Option<u32> {
        self.container_id(id, |b| b.host_uid)
    }

    /// The container gid that on-disk group `id` of the tree shows as.
    pub fn container_gid(&self, id: u32) -> Option<u32> {
        self.container_id(id, |b| b.host_gid)
    }

    fn container_id(&self, id: u32, host: impl Fn(&BoundId) -> u32) -> Option<u32> {
        match self.view {
            // Through the idmapped tree, on-disk `base + k` is container `k`, bound ids too.
            TreeView::Idmapped { disk_base } => id.checked_sub(disk_base).filter(|k| *k < self.range),
            TreeView::Direct => {
                if let Some(b) = self.bound.iter().find(|b| host(b) == id) {
                    return Some(b.inside);
                }
                let k = id.checked_sub(self.shift).filter(|k| *k < self.range)?;
                (!self.bound.iter().any(|b| b.inside == k)).then_some(k)
            }
        }
    }

    /// The host uid of container uid `k`.
    pub fn host_uid(&self, k: u32) -> u32 {
        self.bound.iter().find(|b| b.inside == k).map_or(self.shift + k, |b| b.host_uid)
    }

    /// The host gid of container gid `k`.
    pub fn host_gid(&self, k: u32) -> u32 {
        self.bound.iter().find(|b| b.inside == k).map_or(self.shift + k, |b| b.host_gid)
    }
}

/// Refuses bound users whose host ids fall inside the container's range (the split map would
/// overlap itself) or whose container id lies beyond it, as nspawn's `bind_user_prepare()`.
pub fn check_bound(bound: &[BoundId], shift: u32, range: u32) -> Result<()> {
    let end = shift as u64 + range as u64;
    let inside = |id: u32| (shift as u64..end).contains(&(id as u64));
    for b in bound {
        if inside(b.host_uid) {
            return Err(Error::msg(format!(
                "--bind-user={}: UID {} of {} is already in the container's UID range ({shift} - {end}), refusing",
                b.name, b.host_uid, b.name
            )));
        }
        if inside(b.host_gid) {
            return Err(Error::msg(format!(
                "--bind-user={}: GID {} of group {} is already in the container's GID range ({shift} - {end}), refusing",
                b.name, b.host_gid, b.name
            )));
        }
        if b.inside >= range {
            return Err(Error::msg(format!(
                "--bind-user={}: container UID {} is beyond the range of {range} ids",
                b.name, b.inside
            )));
        }
    }
    Ok(())
}

/// The range for `spec` and, with `--private-users-ownership=chown` (or `auto` falling back to
/// it), the tree re-owned to it — once, before the first start. `bound`: the host users mapped
/// 1:1 (`--bind-user=`), checked against the range before anything is re-owned. `keep`: the
/// tree must stay as it is (`-x` without a snapshot, `--volatile`), so never chowned. `None`
/// without a user namespace.
pub fn prepare(spec: &Spec, tree: BorrowedFd<'_>, bound: Vec<BoundId>, keep: bool) -> Result<Option<UserNs>> {
    if let (Some(oci), PrivateUsers::Fixed { base, size }) = (&spec.oci, spec.private_users) {
        return oci_user_namespace(&oci.config, base, size).map(Some);
    }
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
    check_bound(&bound, shift, range)?;
    let mut ns = UserNs::new(shift, range, TreeView::Direct, bound, lock);
    ns.view = match spec.ownership {
        UserNamespaceOwnership::Off => TreeView::Direct,
        UserNamespaceOwnership::Map => TreeView::Idmapped { disk_base: 0 },
        UserNamespaceOwnership::Foreign => TreeView::Idmapped { disk_base: FOREIGN_BASE },
        UserNamespaceOwnership::Chown if keep => return Err(kept(dir, "chown")),
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
                // A tree shifted to this very range already needs no chown.
                _ if keep && (st.st_uid & 0xFFFF_0000, st.st_gid & 0xFFFF_0000) == (shift, shift) => TreeView::Direct,
                _ if keep => return Err(kept(dir, "auto")),
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

/// The OCI runtime's user namespace: config.json's mappings as they are (container root is host
/// uid and gid `base`, its line `size` ids long), or the mappings of the namespace joined by
/// path, read from it; the tree as it is.
fn oci_user_namespace(config: &crate::runtime_spec::Config, base: u32, size: u32) -> Result<UserNs> {
    use crate::spec_oci::{choice, host_id, NsChoice};
    if let NsChoice::Join { index, path } = choice(config, crate::runtime_spec::NsKind::User) {
        let at = format!("linux.namespaces[{index}].path");
        let fd = rustix::fs::open(
            &path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::path("open", &path, e).context(&at))?;
        let (uid, gid) = idmap::read_maps(fd.as_fd(), &path).map_err(|e| e.context(&at))?;
        let bad = || Error::msg(format!("{at}: {}: unreadable uid_map/gid_map", path.display()));
        let (uids, gids) = (idmap::parse_map(&uid).ok_or_else(bad)?, idmap::parse_map(&gid).ok_or_else(bad)?);
        let root = (host_id(&uids, 0), host_id(&gids, 0));
        let (Some(shift), Some(gid0)) = root else {
            return Err(Error::msg(format!("{at}: container root is not mapped in user namespace {}", path.display())));
        };
        if shift != gid0 {
            return Err(Error::msg(format!(
                "{at}: container GID 0 maps to host GID {gid0}, but spawnbox-runc needs it to be the host ID of \
                 container UID 0 ({shift})"
            )));
        }
        let range = uids.iter().find(|m| m.container_id == 0).map_or(1, |m| m.size);
        let mut ns = UserNs::new(shift, range, TreeView::Direct, Vec::new(), None);
        ns.joined = true;
        // Idmapped binds show ownership through the joined namespace itself.
        let _ = ns.mapping_ns.set(fd);
        log::debug!("user namespace {}: container root is host uid {shift}", path.display());
        return Ok(ns);
    }
    let linux = &config.linux;
    let mut ns = UserNs::new(base, size, TreeView::Direct, Vec::new(), None);
    ns.explicit = Some((oci_map_text(&linux.uid_mappings), oci_map_text(&linux.gid_mappings)));
    log::debug!("user namespace: config.json's mappings, container root is host uid {base}");
    Ok(ns)
}

/// The tree would have to be chowned, and must not be.
fn kept(dir: &Path, mode: &str) -> Error {
    Error::msg(format!(
        "--private-users-ownership={mode}: {} would be chowned, but --ephemeral and --volatile leave the tree \
         as it is (it cannot be mounted idmapped here)",
        dir.display()
    ))
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
        UserNs::new(shift, RANGE, view, Vec::new(), None)
    }

    fn bound(inside: u32, host_uid: u32, host_gid: u32) -> BoundId {
        BoundId { inside, host_uid, host_gid, name: format!("u{host_uid}") }
    }

    #[test]
    fn map_texts() {
        assert_eq!(ns(0x80000, TreeView::Direct).maps().0, "0 524288 65536\n");
        let mut n = ns(100000, TreeView::Direct);
        n.range = 1000;
        assert_eq!(n.maps(), ("0 100000 1000\n".into(), "0 100000 1000\n".into()));
    }

    #[test]
    fn bound_users_split_the_map() {
        // As systemd-nspawn 252 writes it for one bound user (host uid 1001, gid 1002).
        let mut n = ns(417136640, TreeView::Direct);
        n.bound = vec![bound(60514, 1001, 1002)];
        let (uid, gid) = n.maps();
        assert_eq!(uid, "0 417136640 60514\n60514 1001 1\n60515 417197155 5021\n");
        assert_eq!(gid, "0 417136640 60514\n60514 1002 1\n60515 417197155 5021\n");
        // Adjacent holes leave no empty range between them; unsorted input is sorted.
        let holes = [(60515, 2000), (60514, 1000), (60577, 3000)];
        assert_eq!(
            map_text(0, 0x80000, RANGE, &holes),
            "0 524288 60514\n60514 1000 1\n60515 2000 1\n60516 584804 61\n60577 3000 1\n60578 584866 4958\n"
        );
        // A hole at the very end or start needs no closing or opening range.
        assert_eq!(map_text(0, 100, 3, &[(2, 7)]), "0 100 2\n2 7 1\n");
        assert_eq!(map_text(0, 100, 3, &[(0, 7)]), "0 7 1\n1 101 2\n");
        // Beyond the range: ignored. Seen from an on-disk base (idmapped foreign tree).
        assert_eq!(map_text(0, 100, 3, &[(5, 7)]), "0 100 3\n");
        assert_eq!(map_text(FOREIGN_BASE, 100, 4, &[(1, 7)]), "2147352576 100 1\n2147352577 7 1\n2147352578 102 2\n");
        // Every id of the range is mapped exactly once.
        let total: u32 = map_text(0, 0x80000, RANGE, &holes)
            .lines()
            .map(|l| l.split(' ').nth(2).unwrap().parse::<u32>().unwrap())
            .sum();
        assert_eq!(total, RANGE);
    }

    #[test]
    fn bound_ids_must_lie_outside_the_range() {
        assert_eq!(
            check_bound(&[bound(60514, 1000, 5000)], 0, RANGE).unwrap_err().to_string(),
            "--bind-user=u1000: UID 1000 of u1000 is already in the container's UID range (0 - 65536), refusing"
        );
        assert_eq!(
            check_bound(&[bound(60514, 70000, 1000)], 0, RANGE).unwrap_err().to_string(),
            "--bind-user=u70000: GID 1000 of group u70000 is already in the container's GID range (0 - 65536), refusing"
        );
        assert_eq!(
            check_bound(&[bound(60514, 1000, 1000)], 0x80000, 1000).unwrap_err().to_string(),
            "--bind-user=u1000: container UID 60514 is beyond the range of 1000 ids"
        );
        check_bound(&[bound(60514, 1000, 1000)], 0x80000, RANGE).unwrap();
        // The range's end is exclusive, and never overflows.
        check_bound(&[bound(60514, 0x90000, 0x90000)], 0x80000, RANGE).unwrap();
        check_bound(&[bound(60514, 1000, 1000)], u32::MAX - RANGE + 1, RANGE).unwrap();
    }

    #[test]
    fn container_ids_follow_the_view() {
        let direct = ns(0x80000, TreeView::Direct);
        assert_eq!(direct.container_uid(0x80000), Some(0));
        assert_eq!(direct.container_uid(0x80000 + 1000), Some(1000));
        assert_eq!(direct.container_uid(0), None);
        assert_eq!(direct.container_uid(0x90000), None);
        let mapped = ns(0x80000, TreeView::Idmapped { disk_base: 0 });
        assert_eq!(mapped.container_uid(0), Some(0));
        assert_eq!(mapped.container_uid(1000), Some(1000));
        assert_eq!(mapped.container_uid(0x80000), None);
        let foreign = ns(0x80000, TreeView::Idmapped { disk_base: FOREIGN_BASE });
        assert_eq!(foreign.container_uid(FOREIGN_BASE + 5), Some(5));
    }

    #[test]
    fn bound_ids_show_through_the_hole() {
        let mut direct = ns(0x80000, TreeView::Direct);
        direct.bound = vec![bound(60514, 1000, 1001)];
        assert_eq!(direct.container_uid(1000), Some(60514));
        assert_eq!(direct.container_gid(1001), Some(60514));
        assert_eq!(direct.container_gid(1000), None);
        assert_eq!(direct.container_uid(0x80000 + 60514), None);
        assert_eq!(direct.container_uid(0x80000 + 60515), Some(60515));
        assert_eq!((direct.host_uid(60514), direct.host_gid(60514)), (1000, 1001));
        assert_eq!((direct.host_uid(5), direct.host_gid(60515)), (0x80000 + 5, 0x80000 + 60515));
        let mut mapped = ns(0x80000, TreeView::Idmapped { disk_base: 0 });
        mapped.bound = direct.bound.clone();
        assert_eq!(mapped.container_uid(60514), Some(60514));
        assert_eq!(mapped.container_uid(1000), Some(1000));
    }
}
