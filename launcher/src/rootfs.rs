//! The container tree: binding it, switching into it (pivot_root, or MS_MOVE + chroot on an
//! initramfs), and resolving every path inside it with openat2(RESOLVE_IN_ROOT) so that no
//! symlink in a hostile tree can send an operation onto the host.

use crate::error::{Error, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::path::{Component, Path};

/// How a path inside the tree may be resolved.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Symlinks are followed, but always inside the tree (`RESOLVE_IN_ROOT`).
    InRoot,
    /// No symlink anywhere in the path (`/proc`, `/sys`, `/dev` must be real directories).
    Never,
}

fn resolve_flags(follow: Follow) -> ResolveFlags {
    match follow {
        Follow::InRoot => ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        Follow::Never => ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    }
}

/// The path relative to the tree root (`/etc/x` → `etc/x`, `/` → `.`).
pub fn relative(path: &Path) -> &Path {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    }
}

/// Opens `path` (absolute, inside the tree whose root is `root`) with `flags`.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlags, follow: Follow) -> rustix::io::Result<OwnedFd> {
    // openat2 refuses O_PATH together with anything but O_DIRECTORY/O_NOFOLLOW/O_CLOEXEC.
    let extra = if flags.contains(OFlags::PATH) { OFlags::CLOEXEC } else { OFlags::CLOEXEC | OFlags::NOCTTY };
    openat2_retry(root, relative(path), flags | extra, Mode::empty(), resolve_flags(follow))
}

/// openat2(2), retried when the kernel answers EAGAIN: with RESOLVE_IN_ROOT a `..` step that
/// races a rename or mount anywhere on the host fails that way and asks the caller to retry.
pub fn openat2_retry(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    mode: Mode,
    resolve: ResolveFlags,
) -> rustix::io::Result<OwnedFd> {
    const TRIES: usize = 64;
    let mut last = Errno::AGAIN;
    for _ in 0..TRIES {
        match openat2(root, path, flags, mode, resolve) {
            Err(Errno::AGAIN) => last = Errno::AGAIN,
            r => return r,
        }
    }
    Err(last)
}

/// Opens `path` inside the tree as an O_PATH handle.
pub fn open_path(root: BorrowedFd<'_>, path: &Path, follow: Follow) -> rustix::io::Result<OwnedFd> {
    open_in_root(root, path, OFlags::PATH, follow)
}

/// What kind of inode a missing mount point should be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NodeKind {
    Directory,
    File,
}

/// Opens mount point `path` inside the tree as O_PATH, creating it (and missing parent
/// directories, mode 0755) if absent. A file where a directory is needed, or the reverse, is an
/// error, as in nspawn.
pub fn mount_point(root: BorrowedFd<'_>, path: &Path, kind: NodeKind, follow: Follow) -> Result<OwnedFd> {
    let fd = match open_path(root, path, follow) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => {
            create_node(root, path, kind, follow)?;
            open_path(root, path, follow).map_err(|e| Error::path("open mount point", path, e))?
        }
        Err(e) => return Err(Error::path("open mount point", path, e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat", path, e))?;
    let is_dir = st.st_mode & libc_mode::S_IFMT == libc_mode::S_IFDIR;
    match (kind, is_dir) {
        (NodeKind::Directory, false) => Err(Error::msg(format!("mount point {} is not a directory", path.display()))),
        (NodeKind::File, true) => {
            Err(Error::msg(format!("mount point {} is a directory, source is not", path.display())))
        }
        _ => Ok(fd),
    }
}

/// Creates `path` inside the tree: parents as directories, the last component as `kind`.
fn create_node(root: BorrowedFd<'_>, path: &Path, kind: NodeKind, follow: Follow) -> Result<()> {
    let mut parent = open_path(root, Path::new("/"), follow).map_err(|e| Error::path("open", Path::new("/"), e))?;
    let mut so_far = std::path::PathBuf::from("/");
    let comps: Vec<_> = path.components().filter(|c| matches!(c, Component::Normal(_))).collect();
    for (i, comp) in comps.iter().enumerate() {
        so_far.push(comp);
        let last = i + 1 == comps.len();
        match open_path(root, &so_far, follow) {
            Ok(fd) if !last => {
                parent = fd;
                continue;
            }
            Ok(_) => return Ok(()),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(Error::path("open", &so_far, e)),
        }
        let name = comp.as_os_str();
        if last && kind == NodeKind::File {
            rustix::fs::openat(
                &parent,
                name,
                OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )
            .map_err(|e| Error::path("create mount point", &so_far, e))?;
            return Ok(());
        }
        match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(Error::path("create directory", &so_far, e)),
        }
        if !last {
            parent = open_path(root, &so_far, follow).map_err(|e| Error::path("open", &so_far, e))?;
        }
    }
    Ok(())
}

/// File-type bits of `st_mode`.
pub mod libc_mode {
    pub const S_IFMT: u32 = 0o170000;
    pub const S_IFDIR: u32 = 0o040000;
    pub const S_IFREG: u32 = 0o100000;
    pub const S_IFIFO: u32 = 0o010000;
    pub const S_IFSOCK: u32 = 0o140000;
    pub const S_IFCHR: u32 = 0o020000;
    pub const S_IFBLK: u32 = 0o060000;
}

/// Reads a small regular file inside the tree (at most `max` bytes); `None` if it is absent.
pub fn read_small_file(root: BorrowedFd<'_>, path: &Path, max: usize) -> Result<Option<Vec<u8>>> {
    let fd = match open_in_root(root, path, OFlags::RDONLY | OFlags::NONBLOCK, Follow::InRoot) {
        Ok(fd) => fd,
        Err(Errno::NOENT) | Err(Errno::NOTDIR) | Err(Errno::LOOP) => return Ok(None),
        Err(e) => return Err(Error::path("open", path, e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::path("stat", path, e))?;
    if st.st_mode & libc_mode::S_IFMT != libc_mode::S_IFREG {
        return Err(Error::msg(format!("{} is not a regular file", path.display())));
    }
    // Sized by the file (one byte more, to see its end in one read), not by `max`: a buffer
    // of `max` bytes is an mmap and a munmap with musl's allocator.
    let size = usize::try_from(st.st_size).unwrap_or(max);
    let mut buf = vec![0u8; size.saturating_add(1).clamp(1, max.max(1))];
    let mut len = 0;
    while len < max {
        if len == buf.len() {
            buf.resize(buf.len().saturating_mul(2).min(max), 0);
        }
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(Error::path("read", path, e)),
        }
    }
    buf.truncate(len);
    Ok(Some(buf))
}

/// True if `path` exists inside the tree as a regular file (symlinks followed inside it).
pub fn is_regular_file(root: BorrowedFd<'_>, path: &Path) -> bool {
    stat_in_root(root, path).is_some_and(|m| m & libc_mode::S_IFMT == libc_mode::S_IFREG)
}

/// `st_mode` of `path` inside the tree, following symlinks inside it.
pub fn stat_in_root(root: BorrowedFd<'_>, path: &Path) -> Option<u32> {
    let fd = open_path(root, path, Follow::InRoot).ok()?;
    rustix::fs::fstat(&fd).ok().map(|st| st.st_mode)
}

/// Makes `directory` a mount point of its own (recursive bind onto itself), read-only if asked,
/// and returns an O_PATH handle to it. `/` (`-D /` with `-x` or `--volatile`) is cloned and the
/// clone attached on top: a path lookup of `/` never reaches a mount stacked there.
pub fn bind_root(directory: &Path, read_only: bool) -> Result<OwnedFd> {
    let err = |op: &str, e: Errno| Error::path(op, directory, e).context(format!("mount {}", directory.display()));
    let root = if directory == Path::new("/") {
        use rustix::mount::{open_tree, MoveMountFlags, OpenTreeFlags};
        let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_RECURSIVE;
        let t = open_tree(rustix::fs::CWD, directory, flags).map_err(|e| err("clone", e))?;
        rustix::mount::move_mount(&t, "", rustix::fs::CWD, directory, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)
            .map_err(|e| err("attach", e))?;
        t
    } else {
        rustix::mount::mount_bind_recursive(directory, directory).map_err(|e| err("bind", e))?;
        rustix::fs::open(directory, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open", directory, e))?
    };
    if read_only {
        crate::sys::mount_setattr(root.as_fd(), crate::sys::MOUNT_ATTR_RDONLY, 0, true)
            .map_err(|e| Error::path("make read-only", directory, e))?;
    }
    Ok(root)
}

/// Makes the tree `/`: pivot_root(".", ".") and detach the old root; on an initramfs, where
/// pivot_root is refused, MS_MOVE the tree over `/` and chroot into it. `on_slash`: the tree is
/// mounted on top of `/`; `stacked`: `root` is stacked on it (a volatile root on the tree).
pub fn switch_root(root: BorrowedFd<'_>, directory: &Path, on_slash: bool, stacked: bool) -> Result<()> {
    rustix::process::fchdir(root).map_err(|e| Error::path("chdir", directory, e))?;
    match rustix::process::pivot_root(".", ".") {
        Ok(()) => {
            // The old root now lies on the new one, and on top of it whatever was stacked
            // between them on `/` (the tree, under a volatile root); a detach of "." takes the
            // topmost mount there with everything below it in the tree of mounts.
            for _ in 0..=usize::from(on_slash && stacked) {
                rustix::mount::unmount(".", rustix::mount::UnmountFlags::DETACH)
                    .map_err(|e| Error::sys("detach", "old root", e))?;
            }
        }
        Err(Errno::INVAL) => {
            // `on_slash`: the tree is already mounted on top of `/` (a user namespace's start);
            // moving it there again would move it onto itself (ELOOP).
            if !on_slash {
                rustix::mount::mount_move(".", "/")
                    .map_err(|e| Error::path("move", directory, e).context("switch root"))?;
            }
            rustix::process::chroot(".").map_err(|e| Error::path("chroot", directory, e))?;
        }
        Err(e) => return Err(Error::path("pivot_root", directory, e)),
    }
    rustix::process::chdir("/").map_err(|e| Error::path("chdir", Path::new("/"), e))
}

/// `--pivot-root=NEW[:OLD]` as given, for messages.
pub fn pivot_option(new: &Path, old: Option<&Path>) -> String {
    match old {
        Some(old) => format!("--pivot-root={}:{}", new.display(), old.display()),
        None => format!("--pivot-root={}", new.display()),
    }
}

/// `--pivot-root=NEW[:OLD]`, right after [`switch_root`]: the directory NEW of the tree
/// (resolved inside it) becomes `/`, and the tree itself stays reachable at OLD (a directory
/// inside NEW, created if missing) or is detached, as nspawn's `setup_pivot_root()` does for
/// OSTree-style trees that hold several roots. Every later mount goes into the new root.
pub fn pivot_into(new: &Path, old: Option<&Path>) -> Result<()> {
    let opt = pivot_option(new, old);
    let err = |op: &str, p: &Path, e: Errno| Error::path(op, p, e).context(&opt);
    let root = rustix::fs::open("/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| err("open", Path::new("/"), e))?;
    let dir = open_in_root(root.as_fd(), new, OFlags::PATH | OFlags::DIRECTORY, Follow::InRoot)
        .map_err(|e| err("open", new, e))?;
    // A mount of its own, which pivot_root(2) can make the root.
    rustix::process::fchdir(&dir).map_err(|e| err("chdir", new, e))?;
    rustix::mount::mount_bind_recursive(".", ".").map_err(|e| err("bind", new, e))?;
    let dir = open_in_root(root.as_fd(), new, OFlags::PATH | OFlags::DIRECTORY, Follow::InRoot)
        .map_err(|e| err("open", new, e))?;
    rustix::process::fchdir(&dir).map_err(|e| err("chdir", new, e))?;
    match old {
        Some(old) => {
            drop(mount_point(dir.as_fd(), old, NodeKind::Directory, Follow::InRoot).map_err(|e| e.context(&opt))?);
            rustix::process::pivot_root(".", relative(old)).map_err(|e| err("pivot_root", new, e))?;
        }
        None => match rustix::process::pivot_root(".", ".") {
            Ok(()) => rustix::mount::unmount(".", rustix::mount::UnmountFlags::DETACH)
                .map_err(|e| err("detach", Path::new("/"), e))?,
            // An initramfs root cannot be pivoted away from: move NEW over it instead.
            Err(Errno::INVAL) => {
                rustix::mount::mount_move(".", "/").map_err(|e| err("move", new, e))?;
                rustix::process::chroot(".").map_err(|e| err("chroot", new, e))?;
            }
            Err(e) => return Err(err("pivot_root", new, e)),
        },
    }
    rustix::process::chdir("/").map_err(|e| Error::path("chdir", Path::new("/"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/etc/resolv.conf")), Path::new("etc/resolv.conf"));
        assert_eq!(relative(Path::new("/")), Path::new("."));
    }

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("spawnbox-rootfs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let d = tmpdir("escape");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(d.join("canary"), "host").unwrap();
        std::os::unix::fs::symlink(d.join("canary"), root.join("etc/abs")).unwrap();
        std::os::unix::fs::symlink("../../canary", root.join("etc/rel")).unwrap();
        let rfd = rustix::fs::open(&root, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        // Both links resolve inside root, where no canary exists.
        assert_eq!(read_small_file(rfd.as_fd(), Path::new("/etc/abs"), 64).unwrap(), None);
        assert_eq!(read_small_file(rfd.as_fd(), Path::new("/etc/rel"), 64).unwrap(), None);
        // Creating a mount point through the relative link lands inside root.
        mount_point(rfd.as_fd(), Path::new("/etc/rel/sub"), NodeKind::Directory, Follow::InRoot).unwrap_err();
        assert_eq!(std::fs::read_to_string(d.join("canary")).unwrap(), "host");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn small_files_are_read_whole_up_to_the_limit() {
        let d = tmpdir("small");
        let text: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(d.join("f"), &text).unwrap();
        std::fs::write(d.join("empty"), "").unwrap();
        let rfd = rustix::fs::open(&d, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        assert_eq!(read_small_file(rfd.as_fd(), Path::new("/f"), 1 << 20).unwrap().unwrap(), text);
        assert_eq!(read_small_file(rfd.as_fd(), Path::new("/f"), 100).unwrap().unwrap(), &text[..100]);
        assert_eq!(read_small_file(rfd.as_fd(), Path::new("/empty"), 64).unwrap().unwrap(), b"");
        // procfs reports size 0 for files that are not empty: the buffer grows.
        let slash = rustix::fs::open("/", OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let status = read_small_file(slash.as_fd(), Path::new("/proc/self/status"), 1 << 20).unwrap().unwrap();
        assert!(status.len() > 100 && status.ends_with(b"\n"), "{}", String::from_utf8_lossy(&status));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn mount_points_are_created_inside() {
        let d = tmpdir("create");
        let rfd = rustix::fs::open(&d, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        mount_point(rfd.as_fd(), Path::new("/a/b/c"), NodeKind::Directory, Follow::InRoot).unwrap();
        mount_point(rfd.as_fd(), Path::new("/a/f"), NodeKind::File, Follow::InRoot).unwrap();
        assert!(d.join("a/b/c").is_dir());
        assert!(d.join("a/f").is_file());
        let e = mount_point(rfd.as_fd(), Path::new("/a/f"), NodeKind::Directory, Follow::InRoot).unwrap_err();
        assert_eq!(e.to_string(), "mount point /a/f is not a directory");
        std::os::unix::fs::symlink("/a", d.join("link")).unwrap();
        let e = mount_point(rfd.as_fd(), Path::new("/link/x"), NodeKind::Directory, Follow::Never).unwrap_err();
        assert_eq!(e.to_string(), "open mount point /link/x: too many levels of symbolic links");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
