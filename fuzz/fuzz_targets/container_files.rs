//! Fuzzes the parsers of files spawnbox reads from the (untrusted) container tree and the
//! host: `user::lookup` (the container's `/etc/passwd` + `/etc/group`, for `-u/--user`) and
//! `env::parse_os_release` (env-file syntax).
//!
//! Input: `USER \0 PASSWD \0 GROUP` (missing parts are empty); the whole input is also fed to
//! `parse_os_release`. Non-UTF-8 input is read lossily, as the launcher reads these files.
//!
//! Invariants:
//! 1. No panic for any file content.
//! 2. `lookup` returns the entry asked for: its name is USER or its uid is USER as a number,
//!    or it is nspawn's built-in root (USER `root` or `0`); its supplementary groups never
//!    contain its primary gid and have no adjacent duplicates; home and shell are non-empty.
//! 3. A user not in passwd (and not root) is an error naming `--user=`.
//! 4. `parse_os_release` keys contain no `=`, newline or leading/trailing blank, never start
//!    with `#`; values contain no newline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spawnbox::{env, user};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let who = parts.next().unwrap_or("");
    let passwd = parts.next().unwrap_or("");
    let group = parts.next().unwrap_or("");

    match user::lookup(passwd, group, who) {
        Ok(u) => {
            let numeric = who.parse::<u32>().ok();
            let root = u == user::UserInfo::root() && (who == "root" || numeric == Some(0));
            assert!(root || u.name == who || Some(u.uid) == numeric, "{who:?} gave {u:?}");
            assert!(!u.groups.contains(&u.gid), "primary gid among supplementary groups: {u:?}");
            assert!(u.groups.windows(2).all(|w| w[0] != w[1]), "adjacent duplicate groups: {u:?}");
            assert!(!u.home.is_empty() && !u.shell.is_empty(), "empty home or shell: {u:?}");
        }
        Err(e) => {
            let m = e.to_string();
            assert!(m.starts_with("--user="), "error without context: {m}");
        }
    }

    for (k, v) in env::parse_os_release(&text) {
        assert!(!k.contains('=') && !k.contains('\n'), "bad key {k:?}");
        assert!(!k.starts_with('#'), "comment parsed as key {k:?}");
        assert_eq!(k.trim_start(), k, "key with leading blank {k:?}");
        assert!(!v.contains('\n'), "value with newline {v:?}");
    }
});
