//! What a bound user looks like inside the container, as text: the JSON user and group records
//! nspawn writes to `/run/host/userdb/` for nss-systemd (same fields, same order, compact with a
//! trailing newline, as systemd-nspawn 252 writes them), and the passwd and group lines for
//! guests without nss-systemd.

use super::bound::BoundUser;
use crate::error::{Error, Result};

/// The `service` field of every record nspawn writes.
const SERVICE: &str = "io.systemd.NSpawn";

/// `s` as a JSON string.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `NAME.user`: userName, uid, gid, homeDirectory, service, shell (if any), memberOf (if any).
pub fn user_record(u: &BoundUser) -> String {
    let mut j = format!(
        "{{\"userName\":{},\"uid\":{},\"gid\":{},\"homeDirectory\":{},\"service\":{}",
        json_str(&u.name),
        u.uid,
        u.uid,
        json_str(&u.home().to_string_lossy()),
        json_str(SERVICE)
    );
    if let Some(shell) = u.shell.as_deref().filter(|s| !s.is_empty()) {
        j.push_str(&format!(",\"shell\":{}", json_str(shell)));
    }
    if !u.member_of.is_empty() {
        let groups: Vec<String> = u.member_of.iter().map(|g| json_str(g)).collect();
        j.push_str(&format!(",\"memberOf\":[{}]", groups.join(",")));
    }
    j.push_str("}\n");
    j
}

/// `NAME.user-privileged` (mode 0600): the host's password hash, when it has one.
pub fn privileged_record(u: &BoundUser) -> Option<String> {
    let hash = u.hashed_password.as_deref()?;
    Some(format!("{{\"privileged\":{{\"hashedPassword\":[{}]}}}}\n", json_str(hash)))
}

/// `NAME.group`: the user's private group.
pub fn group_record(u: &BoundUser) -> String {
    format!("{{\"groupName\":{},\"gid\":{},\"service\":{}}}\n", json_str(&u.name), u.uid, json_str(SERVICE))
}

/// The user's `/etc/passwd` line, as nss-systemd would show the record (GECOS the name: the
/// record has no realName; an empty shell field, the guest's default `/bin/sh`, without a
/// shell), except the password field: `!*`, locked and not shadowed. The guest gets no shadow
/// entry (the host's hash stays in the 0600 userdb record), and with `x` PAM's pam_unix would
/// fail the account check for want of one, so root could not even `su` to the user.
pub fn passwd_line(u: &BoundUser) -> Result<String> {
    let shell = u.shell.as_deref().unwrap_or("");
    if shell.contains([':', '\n']) {
        return Err(Error::msg(format!(
            "--bind-user-shell={shell}: a shell with ':' or a newline cannot be written to the container's /etc/passwd"
        )));
    }
    Ok(format!("{n}:!*:{id}:{id}:{n}:{}:{shell}\n", u.home().display(), n = u.name, id = u.uid))
}

/// The user's private group's `/etc/group` line (no members, as the record).
pub fn group_line(u: &BoundUser) -> String {
    format!("{}:x:{}:\n", u.name, u.uid)
}

/// One entry of `/run/host/userdb/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File { name: String, content: String, mode: u32 },
    Symlink { name: String, target: String },
}

/// Everything `/run/host/userdb/` holds for `users`, in nspawn's order: per user the group
/// record, the privileged user record (if any) and the user record, each as `NAME.SUFFIX` with
/// a `ID.SUFFIX` symlink to it, then an empty `USER:GROUP.membership` per `--bind-user-group=`.
pub fn userdb_entries(users: &[BoundUser]) -> Vec<Entry> {
    let mut v = Vec::new();
    let mut add = |name: &str, id: u32, suffix: &str, content: String, mode: u32| {
        let file = format!("{name}{suffix}");
        v.push(Entry::Symlink { name: format!("{id}{suffix}"), target: file.clone() });
        v.push(Entry::File { name: file, content, mode });
    };
    for u in users {
        add(&u.name, u.uid, ".group", group_record(u), 0o644);
        if let Some(p) = privileged_record(u) {
            add(&u.name, u.uid, ".user-privileged", p, 0o600);
        }
        add(&u.name, u.uid, ".user", user_record(u), 0o644);
    }
    for u in users {
        for g in &u.member_of {
            v.push(Entry::File { name: format!("{}:{g}.membership", u.name), content: "{}\n".into(), mode: 0o644 });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bob() -> BoundUser {
        BoundUser {
            name: "bob".into(),
            host_uid: 1001,
            host_gid: 1001,
            uid: 60514,
            host_home: "/home/bob".into(),
            shell: None,
            hashed_password: None,
            member_of: vec![],
        }
    }

    #[test]
    fn records_as_nspawn_252_writes_them() {
        // Byte for byte what systemd-nspawn 252 wrote for a host user `sbxref`, renamed.
        let mut u = bob();
        assert_eq!(
            user_record(&u),
            "{\"userName\":\"bob\",\"uid\":60514,\"gid\":60514,\"homeDirectory\":\"/run/host/home/bob\",\"service\":\"io.systemd.NSpawn\"}\n"
        );
        assert_eq!(group_record(&u), "{\"groupName\":\"bob\",\"gid\":60514,\"service\":\"io.systemd.NSpawn\"}\n");
        assert_eq!(privileged_record(&u), None);
        u.hashed_password = Some("$y$j9T$abc$def".into());
        assert_eq!(privileged_record(&u).unwrap(), "{\"privileged\":{\"hashedPassword\":[\"$y$j9T$abc$def\"]}}\n");
    }

    #[test]
    fn shell_and_groups_join_the_user_record() {
        let mut u = bob();
        u.shell = Some("/bin/z\"sh\\\u{1}".into());
        u.member_of = vec!["wheel".into(), "audio".into()];
        assert_eq!(
            user_record(&u),
            "{\"userName\":\"bob\",\"uid\":60514,\"gid\":60514,\"homeDirectory\":\"/run/host/home/bob\",\
             \"service\":\"io.systemd.NSpawn\",\"shell\":\"/bin/z\\\"sh\\\\\\u0001\",\"memberOf\":[\"wheel\",\"audio\"]}\n"
        );
    }

    #[test]
    fn passwd_and_group_lines() {
        let mut u = bob();
        assert_eq!(passwd_line(&u).unwrap(), "bob:!*:60514:60514:bob:/run/host/home/bob:\n");
        u.shell = Some("/bin/ash".into());
        assert_eq!(passwd_line(&u).unwrap(), "bob:!*:60514:60514:bob:/run/host/home/bob:/bin/ash\n");
        u.shell = Some("/bin/a\nroot::0:0::/:".into());
        assert!(passwd_line(&u).is_err());
        assert_eq!(group_line(&u), "bob:x:60514:\n");
    }

    #[test]
    fn userdb_directory() {
        let mut u = bob();
        u.hashed_password = Some("!".into());
        u.member_of = vec!["wheel".into()];
        let names: Vec<String> = userdb_entries(&[u])
            .into_iter()
            .map(|e| match e {
                Entry::File { name, mode, .. } => format!("{name} {mode:o}"),
                Entry::Symlink { name, target } => format!("{name} -> {target}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "60514.group -> bob.group",
                "bob.group 644",
                "60514.user-privileged -> bob.user-privileged",
                "bob.user-privileged 600",
                "60514.user -> bob.user",
                "bob.user 644",
                "bob:wheel.membership 644",
            ]
        );
    }
}
