//! `-u/--user`: the user looked up in the container's own `/etc/passwd` and `/etc/group`
//! (never through the host's NSS).

use crate::error::{Error, Result};
use rustix::fd::BorrowedFd;
use std::path::Path;

/// Who the payload runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (from `/etc/group` member lists), without the primary group.
    pub groups: Vec<u32>,
    pub home: String,
    pub shell: String,
}

impl UserInfo {
    /// root as nspawn assumes it when the tree has no passwd entry for it.
    pub fn root() -> UserInfo {
        UserInfo { name: "root".into(), uid: 0, gid: 0, groups: vec![], home: "/root".into(), shell: "/bin/sh".into() }
    }

    /// Becomes this user on the calling thread: supplementary groups, then gid, then uid (real,
    /// effective and saved). Clears the parent-death signal, as any credential change does.
    pub fn become_user(&self) -> Result<()> {
        let groups: Vec<_> = self.groups.iter().map(|&g| rustix::process::Gid::from_raw(g)).collect();
        rustix::thread::set_thread_groups(&groups)
            .map_err(|e| Error::sys("set supplementary groups for", &self.name, e))?;
        let gid = rustix::process::Gid::from_raw(self.gid);
        rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| Error::sys("set gid for", &self.name, e))?;
        let uid = rustix::process::Uid::from_raw(self.uid);
        rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| Error::sys("set uid for", &self.name, e))
    }
}

/// The container's `/etc/passwd` and `/etc/group` texts, read inside its root `root` (symlinks
/// resolved in it, never on the host); a missing file reads as empty.
pub fn read_db(root: BorrowedFd<'_>) -> Result<(String, String)> {
    let read = |p: &str| -> Result<String> {
        Ok(crate::rootfs::read_small_file(root, Path::new(p), 1 << 20)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default())
    };
    Ok((read("/etc/passwd")?, read("/etc/group")?))
}

/// Looks `user` (a name or a numeric uid) up in the container's passwd and group texts.
pub fn lookup(passwd: &str, group: &str, user: &str) -> Result<UserInfo> {
    let numeric = user.parse::<u32>().ok();
    let entry = passwd.lines().filter_map(parse_passwd_line).find(|e| e.name == user || Some(e.uid) == numeric);
    let mut info = match entry {
        Some(e) => e,
        None if user == "root" || numeric == Some(0) => UserInfo::root(),
        None => return Err(Error::msg(format!("--user={user}: no such user in the container's /etc/passwd"))),
    };
    info.groups = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            let gid = f[2].parse::<u32>().ok()?;
            (gid != info.gid && f[3].split(',').any(|m| m == info.name)).then_some(gid)
        })
        .collect();
    info.groups.dedup();
    Ok(info)
}

/// The home directory of `uid` in a passwd text (`/` when it has no entry), as runc sets
/// `HOME` for a process whose environment lacks it.
pub fn home_of(passwd: &str, uid: u32) -> String {
    passwd.lines().filter_map(parse_passwd_line).find(|e| e.uid == uid).map_or_else(|| "/".into(), |e| e.home)
}

fn parse_passwd_line(line: &str) -> Option<UserInfo> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 7 || f[0].is_empty() || f[0].starts_with('#') {
        return None;
    }
    Some(UserInfo {
        name: f[0].to_string(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        groups: vec![],
        home: if f[5].is_empty() { "/".into() } else { f[5].to_string() },
        shell: if f[6].is_empty() { "/bin/sh".into() } else { f[6].to_string() },
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn home_of_a_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001:::\n";
        assert_eq!(home_of(passwd, 0), "/root");
        assert_eq!(home_of(passwd, 1000), "/home/alice");
        assert_eq!(home_of(passwd, 1001), "/");
        assert_eq!(home_of(passwd, 7), "/");
    }

    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\nalice:x:1000:1000:Alice:/home/alice:/bin/ash\nbob:x:1001:100::/home/bob:\n";
    const GROUP: &str =
        "root:x:0:\nusers:x:100:alice\nwheel:x:10:root,alice\nalice:x:1000:alice\naudio:x:29:bob,alice\nbad\n";

    #[test]
    fn looks_up_by_name_and_uid() {
        let a = lookup(PASSWD, GROUP, "alice").unwrap();
        assert_eq!((a.uid, a.gid, a.home.as_str(), a.shell.as_str()), (1000, 1000, "/home/alice", "/bin/ash"));
        assert_eq!(a.groups, vec![100, 10, 29]);
        let b = lookup(PASSWD, GROUP, "1001").unwrap();
        assert_eq!((b.name.as_str(), b.gid, b.shell.as_str(), b.groups.clone()), ("bob", 100, "/bin/sh", vec![29]));
    }

    #[test]
    fn root_without_entry() {
        assert_eq!(lookup("", "", "root").unwrap(), UserInfo::root());
        assert_eq!(lookup("", "", "0").unwrap().home, "/root");
    }

    #[test]
    fn unknown_user_is_an_error() {
        let e = lookup(PASSWD, GROUP, "mallory").unwrap_err();
        assert_eq!(e.to_string(), "--user=mallory: no such user in the container's /etc/passwd");
    }
}
