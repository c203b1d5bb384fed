//! The `NAME.nspawn` written next to an imported image, so that `spawnbox -M NAME` runs what
//! the image runs: `[Exec]` `Boot=no`, `KillSignal=` (`StopSignal`, SIGTERM by default),
//! `User=`, `WorkingDirectory=`, `Environment=` (one per entry) and `Parameters=`
//! (`Entrypoint` then `Cmd`), as systemd's `importctl pull-oci` writes them. The file sits
//! next to the image, so it is untrusted: these keys are all unprivileged ones.
//!
//! Words are quoted for `Parameters=` and `Environment=` (`config_parse_strv`: quotes group,
//! a backslash is literal): a word of safe characters as it is, others in single quotes with
//! each `'` as `"'"` (`it's` is `'it'"'"'s'`). `WorkingDirectory=` and `User=` take their
//! value as it is. A newline, carriage return or NUL cannot be in a `.nspawn` line: such an
//! image is refused.
//!
//! `User=` takes a name or a number, looked up in the image's `/etc/passwd` when the machine
//! starts, and no group: an OCI `user:group` keeps its user part; when the group is not the
//! user's primary group from `/etc/passwd`, the import says so (the payload runs with the
//! primary group). A user the image's `/etc/passwd` does not have is also reported, since
//! `spawnbox -M NAME` will refuse to start with it.

use super::config::ImageConfig;
use crate::cli::values as v;
use crate::error::{Error, Result};

/// The `.nspawn` text and what the import should tell the user about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub warnings: Vec<String>,
}

/// The image tree's `/etc/passwd` and `/etc/group` (empty when it has none).
#[derive(Debug, Clone, Copy, Default)]
pub struct Users<'a> {
    pub passwd: &'a str,
    pub group: &'a str,
}

/// systemd's `LONG_LINE_MAX`: longer lines are refused by the settings parser.
const LINE_MAX: usize = 1 << 20;

/// Characters a word may have without quotes (systemd's `ALPHANUMERICAL "=+-_/;.:,"`, plus `@%`).
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "=+-_/;.:,@%".contains(c)
}

/// One word for a `config_parse_strv` value.
pub fn quote_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(is_safe) {
        return s.to_string();
    }
    let mut out = String::from("'");
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\"'\"'");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Refuses a value that cannot be written on a `.nspawn` line.
fn writable(value: &str, field: &str) -> Result<()> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(Error::msg(format!(
            "config.{field}: {}: a newline, carriage return or NUL cannot be written to a .nspawn file",
            crate::json::quote(value)
        )));
    }
    Ok(())
}

/// The `.nspawn` file for `c`; `origin` (the source and the config's digest) goes into the
/// first comment line.
pub fn render(c: &ImageConfig, users: Users<'_>, origin: &str) -> Result<Rendered> {
    let mut warnings = Vec::new();
    let origin: String = origin.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    let mut text =
        format!("# Written by spawnctl import-oci from the image configuration of {origin}\n[Exec]\nBoot=no\n");

    let signal = c.stop_signal.as_deref().unwrap_or("SIGTERM");
    match v::parse_signal(signal) {
        Ok(_) => text.push_str(&format!("KillSignal={signal}\n")),
        _ => warnings.push(format!("config.StopSignal: {}: not a signal, left out", crate::json::quote(signal))),
    }

    if let Some(user) = c.user.as_deref().filter(|u| !u.is_empty()) {
        if let Some(u) = user_key(user, users, &mut warnings)? {
            text.push_str(&format!("User={u}\n"));
        }
    }

    if let Some(dir) = c.working_dir.as_deref().filter(|d| !d.is_empty()) {
        writable(dir, "WorkingDir")?;
        let p =
            v::parse_chdir(dir).map_err(|e| e.context(format!("config.WorkingDir: {}", crate::json::quote(dir))))?;
        if p != std::path::Path::new("/") {
            // Not a word list: the value is the path as it is (nspawn's `config_parse_path`),
            // with a `/` after a trailing blank (stripped from the line) or backslash (which
            // would continue it); the path is simplified when read.
            let mut path = p.to_string_lossy().into_owned();
            if path.ends_with([' ', '\t', '\\']) {
                path.push('/');
            }
            text.push_str(&format!("WorkingDirectory={path}\n"));
        }
    }

    for (i, e) in c.env.iter().enumerate() {
        writable(e, &format!("Env[{i}]"))?;
        match e.split_once('=') {
            Some((name, _)) if v::env_name_is_valid(name) => text.push_str(&format!("Environment={}\n", quote_word(e))),
            Some((name, _)) => warnings
                .push(format!("config.Env[{i}]: {}: not a valid variable name, left out", crate::json::quote(name))),
            None => warnings.push(format!("config.Env[{i}]: {}: no '=', left out", crate::json::quote(e))),
        }
    }

    let argv: Vec<&String> = c.entrypoint.iter().chain(c.cmd.iter()).collect();
    for (i, a) in argv.iter().enumerate() {
        let field = if i < c.entrypoint.len() {
            format!("Entrypoint[{i}]")
        } else {
            format!("Cmd[{}]", i - c.entrypoint.len())
        };
        writable(a, &field)?;
    }
    if !argv.is_empty() {
        let words: Vec<String> = argv.iter().map(|a| quote_word(a)).collect();
        text.push_str(&format!("Parameters={}\n", words.join(" ")));
    }
    if let Some(long) = text.lines().find(|l| l.len() > LINE_MAX) {
        let key = long.split('=').next().unwrap_or(long);
        return Err(Error::msg(format!("config: the {key}= line would be longer than {LINE_MAX} bytes")));
    }
    Ok(Rendered { text, warnings })
}

/// `User=` for the OCI `User` (`user`, `uid`, `user:group`, `uid:gid`, ...); `None` for root
/// (nspawn's default, as systemd leaves it out).
fn user_key(user: &str, users: Users<'_>, warnings: &mut Vec<String>) -> Result<Option<String>> {
    writable(user, "User")?;
    // The settings parser's rule for User= (systemd's `string_is_safe()`), and no blanks.
    if user.chars().any(|c| c <= ' ' || c == '\x7f' || matches!(c, '"' | '\'' | '\\')) {
        return Err(Error::msg(format!(
            "config.User: {}: quotes, backslashes, blanks or control characters cannot be in User=",
            crate::json::quote(user)
        )));
    }
    let (name, group) = match user.split_once(':') {
        Some((n, g)) => (n, Some(g)),
        None => (user, None),
    };
    if name.is_empty() {
        return Err(Error::msg(format!("config.User: {}: no user", crate::json::quote(user))));
    }
    let is_root = name == "root" || name == "0";
    let found = crate::user::lookup(users.passwd, users.group, name);
    let q = crate::json::quote(user);
    match (&found, group) {
        (Err(_), _) => warnings.push(format!(
            "config.User: {q}: the image's /etc/passwd has no user {name}: spawnbox -M will refuse to start until it has"
        )),
        (Ok(info), Some(g)) => {
            let gid = g.parse::<u32>().ok().or_else(|| group_id(users.group, g));
            if gid != Some(info.gid) {
                warnings.push(format!(
                    "config.User: {q}: User= takes no group: the payload runs as {name} with its primary group {} from /etc/passwd",
                    info.gid
                ));
            }
        }
        (Ok(_), None) => {}
    }
    Ok((!is_root).then(|| name.to_string()))
}

/// The GID of group `name` in an `/etc/group` text.
fn group_id(group: &str, name: &str) -> Option<u32> {
    group.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[0] == name).then(|| f[2].parse().ok()).flatten()
    })
}

#[cfg(test)]
#[path = "nspawn_tests.rs"]
mod tests;
