//! Carrying out a `--bind-user=` plan in the container's fresh `/run` (before it is made
//! read-only and handed to the container's root) and over its `/etc/passwd` and `/etc/group`
//! (after the switch into the tree, in the outer child, so the container cannot undo the binds).

use super::records::{self, Entry};
use super::Plan;
use crate::error::{Error, Result};
use crate::rootfs::{self, libc_mode, Follow};
use crate::run_host::write_new;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{mkdirat, openat, symlinkat, Mode, OFlags};
use rustix::mount::{move_mount, MoveMountFlags};
use std::path::{Path, PathBuf};

/// Where the passwd and group copies live in the container (bound from there onto `/etc`).
pub const ETC_COPIES: &str = "/run/host/bind-user";

/// Makes directory `name` (mode 0755) under `dir` and opens it.
fn make_dir(dir: BorrowedFd<'_>, name: &str, shown: &Path) -> Result<OwnedFd> {
    mkdirat(dir, name, Mode::from_raw_mode(0o755)).map_err(|e| Error::path("create", shown, e))?;
    openat(dir, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::path("open", shown, e))
}

/// Fills `/run/host` of the fresh `/run` (`run` is its mount, `/run/host` already made):
/// `home/NAME` mount points, `userdb/` with the records, and the passwd/group copies.
pub fn populate(run: BorrowedFd<'_>, plan: &Plan) -> Result<()> {
    let host_path = Path::new("/run/host");
    let host =
        openat(run, "host", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::path("open", host_path, e))?;
    let home_path = host_path.join("home");
    let home = make_dir(host.as_fd(), "home", &home_path)?;
    for u in &plan.users {
        mkdirat(&home, u.name.as_str(), Mode::from_raw_mode(0o755))
            .map_err(|e| Error::path("create", &home_path.join(&u.name), e))?;
    }
    let userdb_path = host_path.join("userdb");
    let userdb = make_dir(host.as_fd(), "userdb", &userdb_path)?;
    for entry in records::userdb_entries(&plan.users) {
        match entry {
            Entry::File { name, content, mode } => write_new(userdb.as_fd(), &name, content.as_bytes(), mode)
                .map_err(|e| Error::path("write", &userdb_path.join(&name), e))?,
            Entry::Symlink { name, target } => symlinkat(target.as_str(), &userdb, name.as_str())
                .map_err(|e| Error::path("create symlink", &userdb_path.join(&name), e))?,
        }
    }
    if plan.passwd.is_none() && plan.group.is_none() {
        return Ok(());
    }
    let copies_path = PathBuf::from(ETC_COPIES);
    let copies = make_dir(host.as_fd(), "bind-user", &copies_path)?;
    for (name, text) in [("passwd", &plan.passwd), ("group", &plan.group)] {
        if let Some(text) = text {
            write_new(copies.as_fd(), name, text, 0o644)
                .map_err(|e| Error::path("write", &copies_path.join(name), e))?;
        }
    }
    Ok(())
}

/// Binds the copies read-only over the container's `/etc/passwd` and `/etc/group` (`root` is the
/// container's `/`). The originals must still be there as regular files: nothing is created in
/// the tree.
pub fn bind_etc(root: BorrowedFd<'_>, plan: &Plan) -> Result<()> {
    for (name, text) in [("passwd", &plan.passwd), ("group", &plan.group)] {
        if text.is_none() {
            continue;
        }
        let src = Path::new(ETC_COPIES).join(name);
        let dst = Path::new("/etc").join(name);
        let ctx = || format!("--bind-user: bind {} onto {}", src.display(), dst.display());
        let src_fd =
            rootfs::open_path(root, &src, Follow::Never).map_err(|e| Error::path("open", &src, e).context(ctx()))?;
        let at =
            rootfs::open_path(root, &dst, Follow::InRoot).map_err(|e| Error::path("open", &dst, e).context(ctx()))?;
        let st = rustix::fs::fstat(&at).map_err(|e| Error::path("stat", &dst, e).context(ctx()))?;
        if st.st_mode & libc_mode::S_IFMT != libc_mode::S_IFREG {
            return Err(Error::msg(format!("{}: {} is not a regular file", ctx(), dst.display())));
        }
        let mnt =
            crate::mounts::clone_tree(src_fd.as_fd(), Path::new(""), false, true).map_err(|e| e.context(ctx()))?;
        move_mount(
            &mnt,
            "",
            &at,
            "",
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
        )
        .map_err(|e| Error::path("mount on", &dst, e).context(ctx()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind_user::plan::BoundUser;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn populate_writes_the_userdb_and_the_copies() {
        let d = std::env::temp_dir().join(format!("spawnbox-binduser-populate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("host")).unwrap();
        let plan = Plan {
            users: vec![BoundUser {
                name: "bob".into(),
                host_uid: 1000,
                host_gid: 1000,
                uid: 60514,
                host_home: "/home/bob".into(),
                shell: None,
                hashed_password: Some("$6$x".into()),
                member_of: vec!["wheel".into()],
            }],
            passwd: Some(b"p\n".to_vec()),
            group: None,
        };
        let run = rustix::fs::open(&d, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let umask = rustix::process::umask(Mode::empty());
        let r = populate(run.as_fd(), &plan);
        rustix::process::umask(umask);
        r.unwrap();
        let mode = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap().permissions().mode() & 0o7777;
        assert!(d.join("host/home/bob").is_dir());
        assert_eq!(mode("host/userdb/bob.user-privileged"), 0o600);
        assert_eq!(mode("host/userdb/bob.user"), 0o644);
        assert_eq!(std::fs::read_link(d.join("host/userdb/60514.user")).unwrap(), Path::new("bob.user"));
        assert_eq!(std::fs::read_to_string(d.join("host/userdb/bob:wheel.membership")).unwrap(), "{}\n");
        assert_eq!(std::fs::read(d.join("host/bind-user/passwd")).unwrap(), b"p\n");
        assert!(!d.join("host/bind-user/group").exists());
        // A second run finds the directories there: an error, never a merge.
        assert!(populate(run.as_fd(), &plan).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
