//! The `--bind-user=` plan, pure: from the options and the texts of the host's and the guest's
//! account databases, which host users are bound, the container UID/GID each gets, its record,
//! and the guest's `/etc/passwd` and `/etc/group` copies with them added — nspawn's
//! `machine_bind_user_prepare()`, with its checks in its order.

use super::db;
use crate::error::{Error, Result};
use std::path::Path;

/// Container UIDs nspawn gives bound users (systemd's MAP_UID_MIN..MAP_UID_MAX).
pub const MAP_UID_MIN: u32 = 60514;
pub const MAP_UID_MAX: u32 = 60577;
pub use super::bound::BoundUser;
/// The uid (and gid) of `nobody`, which nspawn refuses to bind.
const NOBODY: u32 = 65534;

/// What the command line asks for.
pub struct Request<'a> {
    /// `--bind-user=` names, duplicates dropped.
    pub users: &'a [String],
    /// `--bind-user-shell=` as given (a boolean word or an absolute path).
    pub shell: Option<&'a str>,
    /// `--bind-user-group=` names, duplicates dropped.
    pub groups: &'a [String],
    /// How many ids the container's user namespace maps (picked UIDs lie below).
    pub range: u32,
}

/// The host's databases (trusted).
pub struct HostDb<'a> {
    pub passwd: &'a [u8],
    pub group: &'a [u8],
    /// `None` when unreadable: no password hash is passed on.
    pub shadow: Option<&'a [u8]>,
}

/// The guest's databases (hostile; `None` for a missing file).
pub struct GuestDb<'a> {
    pub passwd: Option<&'a [u8]>,
    pub group: Option<&'a [u8]>,
    /// The guest's NSS reads `/run/host/userdb/` (nss-systemd): it gets no passwd/group copies.
    pub nss_systemd: bool,
}

/// `--bind-user-shell=`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ShellChoice {
    /// No shell in the record (the guest's default).
    None,
    /// The host user's own shell.
    Host,
    Path(String),
}

fn shell_choice(value: Option<&str>) -> ShellChoice {
    match value {
        None => ShellChoice::None,
        Some(v) => match crate::cli::bool_word(v) {
            Some(true) => ShellChoice::Host,
            Some(false) => ShellChoice::None,
            None => ShellChoice::Path(v.to_string()),
        },
    }
}

/// Everything `--bind-user=` does in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub users: Vec<BoundUser>,
    /// The guest's `/etc/passwd` with a line per bound user, bound over it read-only (`None`:
    /// the guest has nss-systemd, or no `/etc/passwd` to bind onto).
    pub passwd: Option<Vec<u8>>,
    /// The guest's `/etc/group` with each bound user's private group and its memberships.
    pub group: Option<Vec<u8>>,
}

/// Plans the run: every check first, nothing done.
pub fn plan(req: &Request<'_>, host: &HostDb<'_>, guest: &GuestDb<'_>) -> Result<Plan> {
    let shell = shell_choice(req.shell);
    let empty: &[u8] = b"";
    let guest_passwd = guest.passwd.unwrap_or(empty);
    let guest_group = guest.group.unwrap_or(empty);
    // nspawn never goes beyond the range it maps (as its v255 find_free_uid()).
    let last = MAP_UID_MAX.min(req.range.saturating_sub(1));
    let mut next = MAP_UID_MIN;
    let mut users: Vec<BoundUser> = Vec::new();
    for name in req.users {
        let fail = |m: String| Error::msg(format!("--bind-user={name}: {m}"));
        let u =
            db::host_user(host.passwd, name).ok_or_else(|| fail("no such user in the host's /etc/passwd".into()))?;
        // nss-systemd comes last in nsswitch.conf: records for root or nobody could never win.
        if u.uid == 0 || name == "root" {
            return Err(fail("mapping the root user is not supported".into()));
        }
        if u.uid == NOBODY || name == "nobody" {
            return Err(fail("mapping the nobody user is not supported".into()));
        }
        if u.uid == u32::MAX || u.uid == 0xFFFF {
            return Err(fail(format!("UID {} is not a valid UID, refusing", u.uid)));
        }
        let group = db::host_group_name(host.group, u.gid).ok_or_else(|| {
            fail(format!("no group with GID {} (the primary group of {name}) in the host's /etc/group", u.gid))
        })?;
        if group != *name {
            return Err(fail(format!(
                "the primary group of {name} is {group}: mapping users without a private group is not supported"
            )));
        }
        if let Some(other) = users.iter().find(|b| b.host_uid == u.uid || b.host_gid == u.gid) {
            return Err(fail(format!("UID/GID {}/{} is bound already by --bind-user={}", u.uid, u.gid, other.name)));
        }
        // nspawn would bind whatever the record says, `/` too (an empty home reads as `/`).
        if !u.home.is_absolute() || u.home == Path::new("/") {
            let shown = if u.home.as_os_str().is_empty() { "(empty)".into() } else { u.home.display().to_string() };
            return Err(fail(format!("home directory {shown} in the host's /etc/passwd cannot be bound")));
        }
        let uid = (next..=last)
            .find(|id| !db::uses_id(guest_passwd, *id) && !db::uses_id(guest_group, *id))
            .ok_or_else(|| {
                fail(format!(
                    "no free UID in {MAP_UID_MIN}..{last} in the container's /etc/passwd and /etc/group, can't map the user"
                ))
            })?;
        if db::names(guest_passwd, name) {
            return Err(fail(format!("the user {name} already exists in the container's /etc/passwd")));
        }
        if db::names(guest_group, name) {
            return Err(fail(format!("the group {name} already exists in the container's /etc/group")));
        }
        next = uid + 1;
        users.push(BoundUser {
            name: name.clone(),
            host_uid: u.uid,
            host_gid: u.gid,
            uid,
            host_home: u.home,
            shell: match &shell {
                ShellChoice::None => None,
                ShellChoice::Host => u.shell,
                ShellChoice::Path(p) => Some(p.clone()),
            },
            hashed_password: host.shadow.and_then(|s| db::host_password_hash(s, name)),
            member_of: req.groups.to_vec(),
        });
    }
    let (passwd, group) = if guest.nss_systemd {
        (None, None)
    } else {
        (guest.passwd.map(|p| passwd_copy(p, &users)).transpose()?, group_copy(guest.group, &users, req.groups)?)
    };
    Ok(Plan { users, passwd, group })
}

/// `text` with `lines` appended (after a newline if its last line has none).
fn append(text: &[u8], lines: &[String]) -> Vec<u8> {
    let mut out = text.to_vec();
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    for l in lines {
        out.extend_from_slice(l.as_bytes());
    }
    out
}

/// The guest's passwd text with each bound user's line.
fn passwd_copy(guest: &[u8], users: &[BoundUser]) -> Result<Vec<u8>> {
    let lines = users.iter().map(super::records::passwd_line).collect::<Result<Vec<_>>>()?;
    Ok(append(guest, &lines))
}

/// The guest's group text with the `--bind-user-group=` memberships and each bound user's
/// private group; `None` without a guest `/etc/group` when no membership is asked for.
fn group_copy(guest: Option<&[u8]>, users: &[BoundUser], groups: &[String]) -> Result<Option<Vec<u8>>> {
    let Some(mut text) = guest.map(<[u8]>::to_vec) else {
        return match groups.first() {
            Some(g) => Err(Error::msg(format!("--bind-user-group={g}: the container has no /etc/group"))),
            None => Ok(None),
        };
    };
    for g in groups {
        for u in users {
            text = db::add_member(&text, g, &u.name).ok_or_else(|| {
                Error::msg(format!("--bind-user-group={g}: no such group in the container's /etc/group"))
            })?;
        }
    }
    let lines: Vec<String> = users.iter().map(super::records::group_line).collect();
    Ok(Some(append(&text, &lines)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n\
        bob:x:1000:1000:Bob:/home/bob:/bin/zsh\ncarol:x:1001:100::/home/carol:/bin/sh\ndave:x:1002:1002::/home/dave:/bin/sh\n\
        slash:x:1003:1003::/:/bin/sh\nempty:x:1004:1004:::/bin/sh\nalice:x:1005:1005::/home/alice:\n\
        eve:x:1006:1006::/home/eve:\nmiss:x:1007:4242::/home/miss:\nbobby:x:1000:1008::/home/bobby:\n";
    const HOST_GROUP: &[u8] = b"root:x:0:\nusers:x:100:\nbob:x:1000:\ndave:x:1002:\nslash:x:1003:\nempty:x:1004:\n\
        alice:x:1005:\neve:x:1006:\nnobody:x:65534:\nbobby:x:1008:\n";
    const HOST_SHADOW: &[u8] = b"bob:$y$j9T$salt$hash:19000::::::\ndave:*:19000::::::\n";
    const GUEST_PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n";
    const GUEST_GROUP: &[u8] = b"root:x:0:\nwheel:x:10:alice\naudio:x:29:\nalice:x:1000:\n";

    fn host() -> HostDb<'static> {
        HostDb { passwd: HOST_PASSWD, group: HOST_GROUP, shadow: Some(HOST_SHADOW) }
    }

    fn guest() -> GuestDb<'static> {
        GuestDb { passwd: Some(GUEST_PASSWD), group: Some(GUEST_GROUP), nss_systemd: false }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn run(users: &[&str], shell: Option<&str>, groups: &[&str], guest: &GuestDb<'_>) -> Result<Plan> {
        let (users, groups) = (names(users), names(groups));
        plan(&Request { users: &users, shell, groups: &groups, range: 65536 }, &host(), guest)
    }

    fn err(users: &[&str], guest: &GuestDb<'_>) -> String {
        run(users, None, &[], guest).unwrap_err().to_string()
    }

    #[test]
    fn binds_a_user_with_the_first_free_uid() {
        let p = run(&["bob"], None, &[], &guest()).unwrap();
        assert_eq!(
            p.users,
            vec![BoundUser {
                name: "bob".into(),
                host_uid: 1000,
                host_gid: 1000,
                uid: 60514,
                host_home: "/home/bob".into(),
                shell: None,
                hashed_password: Some("$y$j9T$salt$hash".into()),
                member_of: vec![],
            }]
        );
        assert_eq!(p.users[0].home(), Path::new("/run/host/home/bob"));
        assert_eq!(
            p.passwd.as_deref(),
            Some(&b"root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\nbob:!*:60514:60514:bob:/run/host/home/bob:\n"[..])
        );
        assert_eq!(
            p.group.as_deref(),
            Some(&b"root:x:0:\nwheel:x:10:alice\naudio:x:29:\nalice:x:1000:\nbob:x:60514:\n"[..])
        );
    }

    #[test]
    fn picks_skip_ids_the_guest_uses() {
        let passwd = b"root:x:0:0::/root:/bin/sh\nx:x:60514:1::/:\nbroken:x:60516\n";
        let group = b"g:x:60515:\n";
        let g = GuestDb { passwd: Some(passwd), group: Some(group), nss_systemd: false };
        let p = run(&["bob", "dave"], None, &[], &g).unwrap();
        assert_eq!(p.users.iter().map(|u| u.uid).collect::<Vec<_>>(), [60517, 60518]);
        assert_eq!(p.users[1].hashed_password, None);
        // All 64 taken.
        let full: String = (MAP_UID_MIN..=MAP_UID_MAX).map(|i| format!("u{i}:x:{i}:0::/:\n")).collect();
        let g = GuestDb { passwd: Some(full.as_bytes()), group: None, nss_systemd: false };
        assert_eq!(
            err(&["bob"], &g),
            "--bind-user=bob: no free UID in 60514..60577 in the container's /etc/passwd and /etc/group, can't map the user"
        );
        // A small range: nothing in it.
        let users = names(&["bob"]);
        let req = Request { users: &users, shell: None, groups: &[], range: 1000 };
        assert_eq!(
            plan(&req, &host(), &guest()).unwrap_err().to_string(),
            "--bind-user=bob: no free UID in 60514..999 in the container's /etc/passwd and /etc/group, can't map the user"
        );
    }

    #[test]
    fn refusals_name_the_option_and_the_user() {
        let g = guest();
        assert_eq!(err(&["zed"], &g), "--bind-user=zed: no such user in the host's /etc/passwd");
        assert_eq!(err(&["root"], &g), "--bind-user=root: mapping the root user is not supported");
        assert_eq!(err(&["nobody"], &g), "--bind-user=nobody: mapping the nobody user is not supported");
        assert_eq!(
            err(&["carol"], &g),
            "--bind-user=carol: the primary group of carol is users: mapping users without a private group is not supported"
        );
        assert_eq!(
            err(&["miss"], &g),
            "--bind-user=miss: no group with GID 4242 (the primary group of miss) in the host's /etc/group"
        );
        assert_eq!(
            err(&["slash"], &g),
            "--bind-user=slash: home directory / in the host's /etc/passwd cannot be bound"
        );
        assert_eq!(
            err(&["empty"], &g),
            "--bind-user=empty: home directory (empty) in the host's /etc/passwd cannot be bound"
        );
        assert_eq!(
            err(&["alice"], &g),
            "--bind-user=alice: the user alice already exists in the container's /etc/passwd"
        );
        let only_group = GuestDb { passwd: Some(b"root:x:0:0::/:\n"), group: Some(b"eve:x:5:\n"), nss_systemd: false };
        assert_eq!(
            err(&["eve"], &only_group),
            "--bind-user=eve: the group eve already exists in the container's /etc/group"
        );
        assert_eq!(
            err(&["bob", "bobby"], &g),
            "--bind-user=bobby: UID/GID 1000/1008 is bound already by --bind-user=bob"
        );
    }

    #[test]
    fn shells_follow_bind_user_shell() {
        let g = guest();
        let shell = |v: Option<&str>| run(&["bob"], v, &[], &g).unwrap().users[0].shell.clone();
        assert_eq!(shell(None), None);
        assert_eq!(shell(Some("no")), None);
        assert_eq!(shell(Some("yes")), Some("/bin/zsh".into()));
        assert_eq!(shell(Some("true")), Some("/bin/zsh".into()));
        assert_eq!(shell(Some("/bin/ash")), Some("/bin/ash".into()));
        // The host user has none: none with `yes` either.
        assert_eq!(run(&["eve"], Some("yes"), &[], &g).unwrap().users[0].shell, None);
        let p = run(&["bob"], Some("/bin/ash"), &[], &g).unwrap();
        assert!(p.passwd.unwrap().ends_with(b"bob:!*:60514:60514:bob:/run/host/home/bob:/bin/ash\n"));
        let e = run(&["bob"], Some("/bin/a:b"), &[], &g).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--bind-user-shell=/bin/a:b: a shell with ':' or a newline cannot be written to the container's /etc/passwd"
        );
    }

    #[test]
    fn groups_are_added_in_the_copy_and_the_record() {
        let p = run(&["bob", "dave"], None, &["wheel", "audio"], &guest()).unwrap();
        assert_eq!(p.users[0].member_of, ["wheel", "audio"]);
        assert_eq!(
            String::from_utf8(p.group.unwrap()).unwrap(),
            "root:x:0:\nwheel:x:10:alice,bob,dave\naudio:x:29:bob,dave\nalice:x:1000:\nbob:x:60514:\ndave:x:60515:\n"
        );
        assert_eq!(
            run(&["bob"], None, &["video"], &guest()).unwrap_err().to_string(),
            "--bind-user-group=video: no such group in the container's /etc/group"
        );
        let no_group = GuestDb { passwd: Some(GUEST_PASSWD), group: None, nss_systemd: false };
        assert_eq!(
            run(&["bob"], None, &["wheel"], &no_group).unwrap_err().to_string(),
            "--bind-user-group=wheel: the container has no /etc/group"
        );
        assert_eq!(run(&["bob"], None, &[], &no_group).unwrap().group, None);
    }

    #[test]
    fn nss_systemd_guests_get_records_only() {
        // As nspawn: the group is not looked for, userdb carries the membership.
        let g = GuestDb { nss_systemd: true, ..guest() };
        let p = run(&["bob"], None, &["video"], &g).unwrap();
        assert_eq!((p.passwd, p.group), (None, None));
        assert_eq!(p.users[0].member_of, ["video"]);
    }

    #[test]
    fn guests_without_databases() {
        let g = GuestDb { passwd: None, group: None, nss_systemd: false };
        let p = run(&["bob"], None, &[], &g).unwrap();
        assert_eq!((p.users[0].uid, p.passwd, p.group), (60514, None, None));
        // A last line without a newline gets one before the appended lines.
        let g = GuestDb { passwd: Some(b"root:x:0:0::/:"), group: Some(b""), nss_systemd: false };
        let p = run(&["bob"], None, &[], &g).unwrap();
        assert_eq!(p.passwd.unwrap(), b"root:x:0:0::/:\nbob:!*:60514:60514:bob:/run/host/home/bob:\n");
        assert_eq!(p.group.unwrap(), b"bob:x:60514:\n");
    }
}
