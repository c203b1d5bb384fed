//! The account databases `--bind-user=` reads, as bytes: the host's `/etc/passwd`, `/etc/group`
//! and `/etc/shadow` (trusted, parsed strictly), and the guest's `/etc/passwd`, `/etc/group` and
//! `/etc/nsswitch.conf` (hostile: only split into lines and fields, never assumed well formed,
//! never decoded, so a copy of them keeps every byte).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The lines of a text, without their newline (a last line without one included).
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    // An empty text has no lines (split would yield one empty line).
    let text = if text.is_empty() { None } else { Some(text) };
    text.into_iter().flat_map(|t| t.split(|b| *b == b'\n'))
}

/// The `:`-separated fields of a line.
fn fields(line: &[u8]) -> Vec<&[u8]> {
    line.split(|b| *b == b':').collect()
}

/// A decimal id (digits only, as the shadow-utils write them).
pub fn parse_id(f: &[u8]) -> Option<u32> {
    if f.is_empty() || !f.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(f).ok()?.parse().ok()
}

/// A user of the host's `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// As written; empty when the field is.
    pub home: PathBuf,
    /// `None` when empty or not UTF-8 (nspawn drops such a shell from the record too).
    pub shell: Option<String>,
}

/// The first well-formed entry (seven fields, numeric ids) named `name` in a passwd text.
pub fn host_user(passwd: &[u8], name: &str) -> Option<HostUser> {
    lines(passwd).find_map(|l| {
        let f = fields(l);
        if f.len() != 7 || f[0] != name.as_bytes() {
            return None;
        }
        Some(HostUser {
            name: name.to_string(),
            uid: parse_id(f[2])?,
            gid: parse_id(f[3])?,
            home: PathBuf::from(OsStr::from_bytes(f[5])),
            shell: std::str::from_utf8(f[6]).ok().filter(|s| !s.is_empty()).map(str::to_string),
        })
    })
}

/// The name of the first well-formed group (four fields) with gid `gid` in a group text.
pub fn host_group_name(group: &[u8], gid: u32) -> Option<String> {
    lines(group).find_map(|l| {
        let f = fields(l);
        if f.len() != 4 || parse_id(f[2]) != Some(gid) {
            return None;
        }
        Some(String::from_utf8_lossy(f[0]).into_owned())
    })
}

/// The password hash of `name` in a shadow text, if it looks like one (systemd's
/// `looks_like_hashed_password()`: after any `!` locking prefix, anything but `x` and `*`; a
/// locked or empty password is passed on as it is).
pub fn host_password_hash(shadow: &[u8], name: &str) -> Option<String> {
    let hash = lines(shadow).find_map(|l| {
        let f = fields(l);
        (f.len() >= 2 && f[0] == name.as_bytes()).then(|| f[1])
    })?;
    let hash = std::str::from_utf8(hash).ok()?;
    let rest = hash.trim_start_matches('!');
    (rest != "x" && rest != "*").then(|| hash.to_string())
}

/// Whether any line of a guest's passwd or group text is named `name` (its first field):
/// malformed lines count too, a collision is never missed.
pub fn names(text: &[u8], name: &str) -> bool {
    lines(text).any(|l| l.split(|b| *b == b':').next() == Some(name.as_bytes()))
}

/// Whether any line of a guest's passwd or group text has id `id` (its third field).
pub fn uses_id(text: &[u8], id: u32) -> bool {
    lines(text).any(|l| l.split(|b| *b == b':').nth(2).and_then(parse_id) == Some(id))
}

/// Whether the `passwd:` line of a guest's nsswitch.conf names the `systemd` module (which reads
/// the records in `/run/host/userdb/`). No file, or no such line: no.
pub fn nss_systemd(nsswitch: Option<&[u8]>) -> bool {
    let Some(text) = nsswitch else { return false };
    lines(text)
        .map(|l| l.split(|b| *b == b'#').next().unwrap_or_default())
        .find_map(|l| {
            let l = l.trim_ascii_start();
            l.strip_prefix(b"passwd").map(<[u8]>::trim_ascii_start).and_then(|r| r.strip_prefix(b":"))
        })
        .is_some_and(|services| services.split(|b| b.is_ascii_whitespace()).any(|w| w == b"systemd"))
}

/// `group` with `user` added to the member list of the first line named `name`; `None` when no
/// line is. Every other byte stays as it was.
pub fn add_member(group: &[u8], name: &str, user: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(group.len() + user.len() + 1);
    let mut done = false;
    for (i, line) in group.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        let f = fields(line);
        if done || f.len() < 3 || f[0] != name.as_bytes() {
            out.extend_from_slice(line);
            continue;
        }
        done = true;
        out.extend_from_slice(line);
        if f.len() == 3 {
            out.push(b':');
        } else if !f[3..].concat().is_empty() && !line.ends_with(b",") {
            out.push(b',');
        }
        out.extend_from_slice(user.as_bytes());
    }
    done.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash\nbroken\nbob:x:1000:1000:Bob,,,:/home/bob:/bin/zsh\n\
        carol:x:1001:100::/home/carol:\nbob:x:9:9:second:/x:/y\nweird:x:1002:1002::/h:\xff\n";

    #[test]
    fn host_users_are_parsed_strictly() {
        let bob = host_user(PASSWD, "bob").unwrap();
        assert_eq!(
            bob,
            HostUser {
                name: "bob".into(),
                uid: 1000,
                gid: 1000,
                home: "/home/bob".into(),
                shell: Some("/bin/zsh".into())
            }
        );
        assert_eq!(host_user(PASSWD, "carol").unwrap().shell, None);
        assert_eq!(host_user(PASSWD, "weird").unwrap().shell, None);
        assert_eq!(host_user(PASSWD, "broken"), None);
        assert_eq!(host_user(PASSWD, "nobody"), None);
        assert_eq!(host_user(b"dave:x:10a:1:::\n", "dave"), None);
        assert_eq!(host_user(b"eve:x:1:1::/e:/bin/sh", "eve").unwrap().home, PathBuf::from("/e"));
    }

    #[test]
    fn host_groups_by_gid() {
        let group = b"root:x:0:\nusers:x:100:carol\nbad:x:7\nbob:x:1000:\n";
        assert_eq!(host_group_name(group, 1000).as_deref(), Some("bob"));
        assert_eq!(host_group_name(group, 100).as_deref(), Some("users"));
        assert_eq!(host_group_name(group, 7), None);
        assert_eq!(host_group_name(group, 5), None);
    }

    #[test]
    fn password_hashes_as_systemd_takes_them() {
        let shadow = b"bob:$y$j9T$abc$def:19000:0:99999:7:::\nlocked:!$6$x:1::::::\nstar:*:1::::::\n\
            bang:!:1::::::\nnone::1::::::\nxx:!x:1::::::\n";
        assert_eq!(host_password_hash(shadow, "bob").as_deref(), Some("$y$j9T$abc$def"));
        assert_eq!(host_password_hash(shadow, "locked").as_deref(), Some("!$6$x"));
        assert_eq!(host_password_hash(shadow, "bang").as_deref(), Some("!"));
        assert_eq!(host_password_hash(shadow, "none").as_deref(), Some(""));
        assert_eq!(host_password_hash(shadow, "star"), None);
        assert_eq!(host_password_hash(shadow, "xx"), None);
        assert_eq!(host_password_hash(shadow, "missing"), None);
    }

    #[test]
    fn guest_collisions_count_malformed_lines() {
        let guest = b"root:x:0:0::/root:/bin/sh\nalice\nmallory:x:60514\n#bob:x:60515:1::/:\n";
        assert!(names(guest, "alice"));
        assert!(names(guest, "root"));
        assert!(!names(guest, "bob"));
        assert!(!names(guest, "ali"));
        assert!(uses_id(guest, 60514));
        assert!(uses_id(guest, 60515));
        assert!(!uses_id(guest, 60516));
        assert!(!names(b"", "root"));
    }

    #[test]
    fn nsswitch_passwd_line() {
        assert!(nss_systemd(Some(b"passwd:         files systemd\ngroup: files\n")));
        assert!(nss_systemd(Some(b"# x\n  passwd : files [SUCCESS=merge] systemd # and more\n")));
        assert!(!nss_systemd(Some(b"passwd: files\ngroup: files systemd\n")));
        assert!(!nss_systemd(Some(b"passwd: files # systemd\n")));
        assert!(!nss_systemd(Some(b"passwdx: systemd\n")));
        assert!(!nss_systemd(Some(b"passwd: files\npasswd: systemd\n")));
        assert!(!nss_systemd(Some(b"")));
        assert!(!nss_systemd(None));
    }

    #[test]
    fn members_are_added_keeping_every_byte() {
        let group = b"root:x:0:\nwheel:x:10:alice\naudio:x:29:\nodd:x:30\nwheel:x:11:\nlat:x:31:\xe9\n";
        let added = add_member(group, "wheel", "bob").unwrap();
        assert_eq!(added, b"root:x:0:\nwheel:x:10:alice,bob\naudio:x:29:\nodd:x:30\nwheel:x:11:\nlat:x:31:\xe9\n");
        let added = add_member(group, "audio", "bob").unwrap();
        assert!(added.starts_with(b"root:x:0:\nwheel:x:10:alice\naudio:x:29:bob\n"));
        assert_eq!(add_member(b"odd:x:30\n", "odd", "bob").unwrap(), b"odd:x:30:bob\n");
        assert_eq!(add_member(b"g:x:1:a,", "g", "b").unwrap(), b"g:x:1:a,b");
        assert_eq!(add_member(group, "video", "bob"), None);
    }

    #[test]
    fn ids_are_digits_only() {
        assert_eq!(parse_id(b"60514"), Some(60514));
        assert_eq!(parse_id(b"+1"), None);
        assert_eq!(parse_id(b" 1"), None);
        assert_eq!(parse_id(b""), None);
        assert_eq!(parse_id(b"4294967296"), None);
    }
}
