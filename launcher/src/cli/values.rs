//! Value parsers for the general options: booleans, signals, ids, names, paths and mode words.
//!
//! Each parser returns the problem only (`invalid signal name`); the caller prepends the
//! option and its value (`--kill-signal=FOO: invalid signal name`).

use crate::error::Error;
use crate::settings::{
    ConsoleMode, Id128, LinkJournal, PrivateUsers, ResolvConfMode, ResolvConfSource, SettingsMode, TimezoneMode,
    UserNamespaceOwnership, VolatileMode,
};
use std::path::{Component, Path, PathBuf};

type Result<T> = std::result::Result<T, Error>;

/// The words systemd's `parse_boolean()` accepts (compared case-insensitively).
const YES_WORDS: [&str; 6] = ["1", "yes", "y", "true", "t", "on"];
const NO_WORDS: [&str; 6] = ["0", "no", "n", "false", "f", "off"];

/// `Some(bool)` when `s` is one of systemd's boolean words.
pub fn bool_word(s: &str) -> Option<bool> {
    if YES_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if NO_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// Parses a boolean (`1/yes/y/true/t/on`, `0/no/n/false/f/off`).
pub fn parse_bool(s: &str) -> Result<bool> {
    bool_word(s).ok_or_else(|| Error::msg("invalid boolean"))
}

/// Parses a boolean or `auto` (`None`).
pub fn parse_tristate(s: &str) -> Result<Option<bool>> {
    if s == "auto" {
        return Ok(None);
    }
    bool_word(s).map(Some).ok_or_else(|| Error::msg("invalid value, expected a boolean or \"auto\""))
}

/// systemd's (glibc's) SIGRTMIN; the kernel says 32 and musl 35, systemd's tables say 34.
pub const SIGRTMIN: i32 = 34;
/// The highest signal number.
pub const SIGRTMAX: i32 = 64;

/// Signal names without `SIG`, numbered as on x86-64/arm64 Linux.
const SIGNALS: [(&str, i32); 31] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a signal as systemd's `signal_from_string()`: a number 1..64, `SIGTERM`, `TERM`,
/// `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n` (with or without `SIG`), SIGRTMIN being 34.
pub fn parse_signal(s: &str) -> Result<i32> {
    if all_digits(s) {
        return match s.parse::<i32>() {
            Ok(n) if (1..=SIGRTMAX).contains(&n) => Ok(n),
            _ => Err(Error::msg("invalid signal number")),
        };
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    if let Some((_, n)) = SIGNALS.iter().find(|(sig, _)| *sig == name) {
        return Ok(*n);
    }
    let range = SIGRTMAX - SIGRTMIN;
    let offset = |rest: &str, sign: char| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.strip_prefix(sign)?;
        if !all_digits(digits) {
            return None;
        }
        digits.parse::<i32>().ok().filter(|n| *n <= range)
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        if let Some(n) = offset(rest, '+') {
            return Ok(SIGRTMIN + n);
        }
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        if let Some(n) = offset(rest, '-') {
            return Ok(SIGRTMAX - n);
        }
    }
    Err(Error::msg("invalid signal name"))
}

/// The name of a signal without `SIG` (`TERM`, `RTMIN+3`), or its number when it has none.
pub fn signal_name(n: i32) -> String {
    if let Some((name, _)) = SIGNALS.iter().find(|(_, v)| *v == n) {
        name.to_string()
    } else if n == SIGRTMIN {
        "RTMIN".to_string()
    } else if n > SIGRTMIN && n <= SIGRTMAX {
        format!("RTMIN+{}", n - SIGRTMIN)
    } else {
        n.to_string()
    }
}

/// `--kill-signal=help`: every signal name, one a line.
pub fn signal_list() -> String {
    let mut out = String::new();
    for n in (1..=31).chain(SIGRTMIN..=SIGRTMAX) {
        out.push_str(&signal_name(n));
        out.push('\n');
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses a 128-bit id: 32 hex digits, or the 8-4-4-4-12 UUID form.
pub fn parse_id128(s: &str) -> Option<Id128> {
    let b = s.as_bytes();
    let hex: Vec<u8> = match b.len() {
        32 => b.to_vec(),
        36 => {
            if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                return None;
            }
            b.iter().copied().filter(|&c| c != b'-').collect()
        }
        _ => return None,
    };
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        out[i] = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
    }
    Some(Id128(out))
}

/// `--uuid=`: a non-zero 128-bit id.
pub fn parse_uuid(s: &str) -> Result<Id128> {
    let id = parse_id128(s).ok_or_else(|| Error::msg("invalid UUID"))?;
    if id.0 == [0u8; 16] {
        return Err(Error::msg("machine UUID may not be all zeroes"));
    }
    Ok(id)
}

/// systemd's `hostname_is_valid(s, 0)`: labels of `[A-Za-z0-9_-]` joined by single dots,
/// no leading or trailing dot, at most 64 characters.
pub fn hostname_is_valid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `-M/--machine=`: a valid hostname; empty means unset.
pub fn parse_machine_name(s: &str) -> Result<Option<String>> {
    match s {
        "" => Ok(None),
        _ if hostname_is_valid(s) => Ok(Some(s.to_string())),
        _ => Err(Error::msg("invalid machine name")),
    }
}

/// `--hostname=`: a valid hostname; empty means unset.
pub fn parse_hostname(s: &str) -> Result<Option<String>> {
    match s {
        "" => Ok(None),
        _ if hostname_is_valid(s) => Ok(Some(s.to_string())),
        _ => Err(Error::msg("invalid hostname")),
    }
}

/// Drops `.` components, repeated and trailing slashes (systemd's `path_simplify()`); keeps `..`.
pub fn simplify_path(p: &Path) -> PathBuf {
    p.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

/// Whether a path has a `..` component.
pub fn has_dotdot(p: &Path) -> bool {
    p.components().any(|c| matches!(c, Component::ParentDir))
}

/// systemd's `parse_path_argument()`: empty means unset, relative paths are taken from `cwd`,
/// the result is simplified.
pub fn parse_path_arg(s: &str, cwd: &Path) -> Option<PathBuf> {
    if s.is_empty() {
        return None;
    }
    Some(simplify_path(&cwd.join(s)))
}

/// `--chdir=`: absolute, normalised, not below `/proc`, `/sys` or `/dev`.
pub fn parse_chdir(s: &str) -> Result<PathBuf> {
    if !s.starts_with('/') {
        return Err(Error::msg("working directory must be an absolute path"));
    }
    let p = simplify_path(Path::new(s));
    if has_dotdot(&p) {
        return Err(Error::msg("working directory path is not normalized"));
    }
    if ["/proc", "/sys", "/dev"].iter().any(|api| p.starts_with(api)) {
        return Err(Error::msg("working directory is below an API file system"));
    }
    Ok(p)
}

/// systemd's `env_name_is_valid()`: `[A-Za-z0-9_]+`, not starting with a digit.
pub fn env_name_is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// `-E NAME=VALUE` or `-E NAME` (takes `getenv(NAME)`; `None` when that is unset).
pub fn parse_setenv(s: &str, getenv: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>> {
    let name = s.split('=').next().unwrap_or(s);
    if !env_name_is_valid(name) {
        return Err(Error::msg("invalid environment variable name"));
    }
    if s.contains('=') {
        return Ok(Some(s.to_string()));
    }
    // As nspawn: a name spawnbox does not have is passed with an empty value.
    Ok(Some(format!("{name}={}", getenv(name).unwrap_or_default())))
}

/// Adds `NAME=VALUE` to an environment list, replacing an earlier assignment of NAME in place
/// (`-E` and the `Environment=` key).
pub fn replace_env(list: &mut Vec<String>, entry: String) {
    let prefix_len = entry.find('=').map_or(entry.len(), |i| i + 1);
    let prefix = &entry[..prefix_len];
    match list.iter_mut().find(|e| e.starts_with(prefix)) {
        Some(slot) => *slot = entry,
        None => list.push(entry),
    }
}

/// The `--console=` words.
pub const CONSOLE_WORDS: [&str; 5] = ["interactive", "read-only", "passive", "pipe", "autopipe"];

/// `--console=`.
pub fn parse_console(s: &str) -> Result<ConsoleMode> {
    Ok(match s {
        "interactive" => ConsoleMode::Interactive,
        "read-only" => ConsoleMode::ReadOnly,
        "passive" => ConsoleMode::Passive,
        "pipe" => ConsoleMode::Pipe,
        "autopipe" => ConsoleMode::Autopipe,
        _ => return Err(Error::msg("unknown console mode")),
    })
}

/// The `--resolv-conf=` words, in systemd's order.
pub const RESOLV_CONF_WORDS: [&str; 15] = [
    "off",
    "copy-host",
    "copy-static",
    "copy-uplink",
    "copy-stub",
    "replace-host",
    "replace-static",
    "replace-uplink",
    "replace-stub",
    "bind-host",
    "bind-static",
    "bind-uplink",
    "bind-stub",
    "delete",
    "auto",
];

/// `--resolv-conf=`; a boolean is `auto` or `off`, as in systemd's table.
pub fn parse_resolv_conf(s: &str) -> Result<ResolvConfMode> {
    let bad = || Error::msg("invalid /etc/resolv.conf mode");
    match bool_word(s) {
        Some(true) => return Ok(ResolvConfMode::Auto),
        Some(false) => return Ok(ResolvConfMode::Off),
        None => {}
    }
    match s {
        "off" => return Ok(ResolvConfMode::Off),
        "delete" => return Ok(ResolvConfMode::Delete),
        "auto" => return Ok(ResolvConfMode::Auto),
        _ => {}
    }
    let (how, from) = s.split_once('-').ok_or_else(bad)?;
    let source = match from {
        "host" => ResolvConfSource::Host,
        "static" => ResolvConfSource::Static,
        "uplink" => ResolvConfSource::Uplink,
        "stub" => ResolvConfSource::Stub,
        _ => return Err(bad()),
    };
    match how {
        "copy" => Ok(ResolvConfMode::Copy(source)),
        "replace" => Ok(ResolvConfMode::Replace(source)),
        "bind" => Ok(ResolvConfMode::Bind(source)),
        _ => Err(bad()),
    }
}

/// The `--timezone=` words.
pub const TIMEZONE_WORDS: [&str; 6] = ["off", "copy", "bind", "symlink", "delete", "auto"];

/// `--timezone=`; a boolean is `auto` or `off`, as in systemd's table.
pub fn parse_timezone(s: &str) -> Result<TimezoneMode> {
    match bool_word(s) {
        Some(true) => return Ok(TimezoneMode::Auto),
        Some(false) => return Ok(TimezoneMode::Off),
        None => {}
    }
    Ok(match s {
        "off" => TimezoneMode::Off,
        "copy" => TimezoneMode::Copy,
        "bind" => TimezoneMode::Bind,
        "symlink" => TimezoneMode::Symlink,
        "delete" => TimezoneMode::Delete,
        "auto" => TimezoneMode::Auto,
        _ => return Err(Error::msg("invalid /etc/localtime mode")),
    })
}

/// The `--volatile=` words.
pub const VOLATILE_WORDS: [&str; 4] = ["no", "yes", "state", "overlay"];

/// `--volatile[=MODE]`: bare means `yes`; booleans, `state`, `overlay`.
pub fn parse_volatile(s: Option<&str>) -> Result<VolatileMode> {
    let Some(s) = s else {
        return Ok(VolatileMode::Yes);
    };
    match (bool_word(s), s) {
        (Some(true), _) => Ok(VolatileMode::Yes),
        (Some(false), _) => Ok(VolatileMode::No),
        (None, "state") => Ok(VolatileMode::State),
        (None, "overlay") => Ok(VolatileMode::Overlay),
        _ => Err(Error::msg("invalid volatile mode")),
    }
}

/// The `--link-journal=` words.
pub const LINK_JOURNAL_WORDS: [&str; 6] = ["no", "auto", "host", "try-host", "guest", "try-guest"];

/// `--link-journal=`.
pub fn parse_link_journal(s: &str) -> Result<LinkJournal> {
    Ok(match s {
        "no" => LinkJournal::No,
        "auto" => LinkJournal::Auto,
        "host" => LinkJournal::Host,
        "try-host" => LinkJournal::TryHost,
        "guest" => LinkJournal::Guest,
        "try-guest" => LinkJournal::TryGuest,
        _ => return Err(Error::msg("invalid link journal mode")),
    })
}

/// `--settings=`: a boolean, `override` or `trusted`.
pub fn parse_settings_mode(s: &str) -> Result<SettingsMode> {
    match (bool_word(s), s) {
        (Some(true), _) => Ok(SettingsMode::Yes),
        (Some(false), _) => Ok(SettingsMode::No),
        (None, "override") => Ok(SettingsMode::Override),
        (None, "trusted") => Ok(SettingsMode::Trusted),
        _ => Err(Error::msg("invalid value, expected a boolean, \"override\" or \"trusted\"")),
    }
}

/// `--private-users[=MODE]` as systemd's `parse_private_users()`: bare means `yes`; digit
/// strings are never booleans (`--private-users=1` is base 1); `N` or `N:M`.
pub fn parse_private_users(s: Option<&str>) -> Result<PrivateUsers> {
    let Some(s) = s else {
        return Ok(PrivateUsers::Yes);
    };
    if !all_digits(s) {
        match bool_word(s) {
            Some(true) => return Ok(PrivateUsers::Yes),
            Some(false) => return Ok(PrivateUsers::No),
            None => {}
        }
    }
    match s {
        "pick" => return Ok(PrivateUsers::Pick),
        "identity" => return Ok(PrivateUsers::Identity),
        "managed" => return Ok(PrivateUsers::Managed),
        _ => {}
    }
    let (base, size) = match s.split_once(':') {
        Some((b, r)) => (b, Some(r)),
        None => (s, None),
    };
    let base = match base.parse::<u32>() {
        // 65535 and 4294967295 are the invalid uids.
        Ok(n) if all_digits(base) && n != 0xFFFF && n != u32::MAX => n,
        _ => return Err(Error::msg("invalid UID base")),
    };
    let size = match size {
        None => 0x10000,
        Some(r) => match r.parse::<u32>() {
            Ok(n) if all_digits(r) => n,
            _ => return Err(Error::msg("invalid UID range size")),
        },
    };
    if size == 0 || u64::from(base) + u64::from(size) > u64::from(u32::MAX) {
        return Err(Error::msg("UID range cannot be empty or go beyond 4294967295"));
    }
    Ok(PrivateUsers::Fixed { base, size })
}

/// The `--private-users-ownership=` words.
pub const OWNERSHIP_WORDS: [&str; 5] = ["off", "chown", "map", "foreign", "auto"];

/// `--private-users-ownership=`; a boolean is `auto` or `off`, as in systemd's table.
pub fn parse_ownership(s: &str) -> Result<UserNamespaceOwnership> {
    match bool_word(s) {
        Some(true) => return Ok(UserNamespaceOwnership::Auto),
        Some(false) => return Ok(UserNamespaceOwnership::Off),
        None => {}
    }
    Ok(match s {
        "off" => UserNamespaceOwnership::Off,
        "chown" => UserNamespaceOwnership::Chown,
        "map" => UserNamespaceOwnership::Map,
        "foreign" => UserNamespaceOwnership::Foreign,
        "auto" => UserNamespaceOwnership::Auto,
        _ => return Err(Error::msg("invalid user namespace ownership mode")),
    })
}

/// Word lists as `--X=help` prints them: one a line.
pub fn word_list(words: &[&str]) -> String {
    words.iter().map(|w| format!("{w}\n")).collect()
}

/// Parses an unsigned decimal number.
pub fn parse_u32(s: &str) -> Result<u32> {
    match s.parse::<u32>() {
        Ok(n) if all_digits(s) => Ok(n),
        _ => Err(Error::msg("invalid number")),
    }
}

/// Parses an unsigned decimal number.
pub fn parse_u64(s: &str) -> Result<u64> {
    match s.parse::<u64>() {
        Ok(n) if all_digits(s) => Ok(n),
        _ => Err(Error::msg("invalid number")),
    }
}

/// A byte size with an optional base-1024 suffix (`B K M G T P E`), as systemd's `parse_size()`.
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = || Error::msg("invalid size");
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n = parse_u64(num).map_err(|_| bad())?;
    let shift = match suffix {
        "" | "B" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        "E" => 60,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn booleans() {
        for w in ["1", "yes", "y", "true", "t", "on", "YES", "On"] {
            assert!(parse_bool(w).unwrap(), "{w}");
        }
        for w in ["0", "no", "n", "false", "f", "off", "No"] {
            assert!(!parse_bool(w).unwrap(), "{w}");
        }
        assert_eq!(err(parse_bool("maybe")), "invalid boolean");
        assert_eq!(err(parse_bool("")), "invalid boolean");
        assert_eq!(parse_tristate("auto").unwrap(), None);
        assert_eq!(parse_tristate("no").unwrap(), Some(false));
        assert_eq!(err(parse_tristate("x")), "invalid value, expected a boolean or \"auto\"");
    }

    #[test]
    fn signals_use_systemd_numbering() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("TERM").unwrap(), 15);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("RTMIN").unwrap(), 34);
        assert_eq!(parse_signal("RTMIN+3").unwrap(), 37);
        assert_eq!(parse_signal("SIGRTMIN+4").unwrap(), 38);
        assert_eq!(parse_signal("RTMAX").unwrap(), 64);
        assert_eq!(parse_signal("SIGRTMAX-1").unwrap(), 63);
        assert_eq!(parse_signal("RTMIN+30").unwrap(), 64);
        assert_eq!(parse_signal("64").unwrap(), 64);
    }

    #[test]
    fn bad_signals() {
        assert_eq!(err(parse_signal("FOO")), "invalid signal name");
        assert_eq!(err(parse_signal("sigterm")), "invalid signal name");
        assert_eq!(err(parse_signal("RTMIN+31")), "invalid signal name");
        assert_eq!(err(parse_signal("RTMIN-1")), "invalid signal name");
        assert_eq!(err(parse_signal("RTMIN+")), "invalid signal name");
        assert_eq!(err(parse_signal("")), "invalid signal name");
        assert_eq!(err(parse_signal("0")), "invalid signal number");
        assert_eq!(err(parse_signal("65")), "invalid signal number");
        assert_eq!(err(parse_signal("99999999999")), "invalid signal number");
    }

    #[test]
    fn signal_names_round_trip() {
        for n in (1..=31).chain(34..=64) {
            assert_eq!(parse_signal(&signal_name(n)).unwrap(), n);
        }
        assert_eq!(signal_name(37), "RTMIN+3");
        let list = signal_list();
        assert!(list.starts_with("HUP\nINT\n"));
        assert!(list.ends_with("RTMIN+30\n"));
    }

    #[test]
    fn uuids() {
        let want =
            Id128([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        assert_eq!(parse_uuid("0123456789abcdef0123456789ABCDEF").unwrap(), want);
        assert_eq!(parse_uuid("01234567-89ab-cdef-0123-456789abcdef").unwrap(), want);
        assert_eq!(err(parse_uuid("0123456789abcdef")), "invalid UUID");
        assert_eq!(err(parse_uuid("0123456789abcdef0123456789abcdeg")), "invalid UUID");
        assert_eq!(err(parse_uuid("01234567-89ab-cdef-0123-456789abcdef0")), "invalid UUID");
        assert_eq!(err(parse_uuid("0123456789-ab-cdef-0123-456789abcdef")), "invalid UUID");
        assert_eq!(err(parse_uuid("00000000000000000000000000000000")), "machine UUID may not be all zeroes");
    }

    #[test]
    fn hostnames() {
        for ok in ["deb", "a.b-c_d", "x", &"a".repeat(64)] {
            assert!(hostname_is_valid(ok), "{ok}");
        }
        for bad in ["", ".a", "a.", "a..b", "foo bar", "ä", &"a".repeat(65), "a/b"] {
            assert!(!hostname_is_valid(bad), "{bad}");
        }
        assert_eq!(parse_machine_name("").unwrap(), None);
        assert_eq!(err(parse_machine_name("foo bar")), "invalid machine name");
        assert_eq!(err(parse_hostname("a..b")), "invalid hostname");
    }

    #[test]
    fn paths() {
        let cwd = Path::new("/home/u");
        assert_eq!(parse_path_arg("r", cwd).unwrap(), PathBuf::from("/home/u/r"));
        assert_eq!(parse_path_arg("/a//b/./c/", cwd).unwrap(), PathBuf::from("/a/b/c"));
        assert_eq!(parse_path_arg("", cwd), None);
        assert_eq!(parse_chdir("/srv//x/./").unwrap(), PathBuf::from("/srv/x"));
        assert_eq!(err(parse_chdir("srv")), "working directory must be an absolute path");
        assert_eq!(err(parse_chdir("/a/../b")), "working directory path is not normalized");
        assert_eq!(err(parse_chdir("/proc/1")), "working directory is below an API file system");
        assert_eq!(parse_chdir("/process").unwrap(), PathBuf::from("/process"));
    }

    #[test]
    fn setenv() {
        let env = |n: &str| (n == "HOME").then(|| "/root".to_string());
        assert_eq!(parse_setenv("A=b=c", &env).unwrap(), Some("A=b=c".into()));
        assert_eq!(parse_setenv("A=", &env).unwrap(), Some("A=".into()));
        assert_eq!(parse_setenv("HOME", &env).unwrap(), Some("HOME=/root".into()));
        assert_eq!(parse_setenv("UNSET", &env).unwrap(), Some("UNSET=".into()));
        for bad in ["1A=x", "=x", "A-B=x", "", "A B"] {
            assert_eq!(err(parse_setenv(bad, &env)), "invalid environment variable name");
        }
    }

    #[test]
    fn mode_words() {
        assert_eq!(parse_console("read-only").unwrap(), ConsoleMode::ReadOnly);
        assert_eq!(err(parse_console("tty")), "unknown console mode");
        for w in RESOLV_CONF_WORDS {
            assert!(parse_resolv_conf(w).is_ok(), "{w}");
        }
        assert_eq!(parse_resolv_conf("bind-stub").unwrap(), ResolvConfMode::Bind(ResolvConfSource::Stub));
        assert_eq!(err(parse_resolv_conf("copy-foo")), "invalid /etc/resolv.conf mode");
        assert_eq!(err(parse_resolv_conf("move-host")), "invalid /etc/resolv.conf mode");
        for w in TIMEZONE_WORDS {
            assert!(parse_timezone(w).is_ok(), "{w}");
        }
        assert_eq!(err(parse_timezone("utc")), "invalid /etc/localtime mode");
        assert_eq!(parse_link_journal("try-guest").unwrap(), LinkJournal::TryGuest);
        assert_eq!(err(parse_link_journal("yes")), "invalid link journal mode");
        assert_eq!(parse_settings_mode("trusted").unwrap(), SettingsMode::Trusted);
        assert_eq!(parse_settings_mode("0").unwrap(), SettingsMode::No);
        assert_eq!(err(parse_settings_mode("x")), "invalid value, expected a boolean, \"override\" or \"trusted\"");
        assert_eq!(parse_ownership("foreign").unwrap(), UserNamespaceOwnership::Foreign);
        assert_eq!(err(parse_ownership("x")), "invalid user namespace ownership mode");
    }

    #[test]
    fn mode_words_take_booleans_as_systemds_tables() {
        assert_eq!(parse_resolv_conf("yes").unwrap(), ResolvConfMode::Auto);
        assert_eq!(parse_resolv_conf("0").unwrap(), ResolvConfMode::Off);
        assert_eq!(parse_timezone("on").unwrap(), TimezoneMode::Auto);
        assert_eq!(parse_timezone("false").unwrap(), TimezoneMode::Off);
        assert_eq!(parse_ownership("true").unwrap(), UserNamespaceOwnership::Auto);
        assert_eq!(parse_ownership("no").unwrap(), UserNamespaceOwnership::Off);
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        replace_env(&mut env, "A=3".into());
        replace_env(&mut env, "AB=4".into());
        assert_eq!(env, ["A=3", "B=2", "AB=4"]);
    }

    #[test]
    fn volatile() {
        assert_eq!(parse_volatile(None).unwrap(), VolatileMode::Yes);
        assert_eq!(parse_volatile(Some("no")).unwrap(), VolatileMode::No);
        assert_eq!(parse_volatile(Some("true")).unwrap(), VolatileMode::Yes);
        assert_eq!(parse_volatile(Some("state")).unwrap(), VolatileMode::State);
        assert_eq!(parse_volatile(Some("overlay")).unwrap(), VolatileMode::Overlay);
        assert_eq!(err(parse_volatile(Some("tmpfs"))), "invalid volatile mode");
    }

    #[test]
    fn private_users() {
        use PrivateUsers::*;
        assert_eq!(parse_private_users(None).unwrap(), Yes);
        assert_eq!(parse_private_users(Some("yes")).unwrap(), Yes);
        assert_eq!(parse_private_users(Some("off")).unwrap(), No);
        assert_eq!(parse_private_users(Some("pick")).unwrap(), Pick);
        assert_eq!(parse_private_users(Some("identity")).unwrap(), Identity);
        assert_eq!(parse_private_users(Some("managed")).unwrap(), Managed);
        // Digit strings are ranges, never booleans.
        assert_eq!(parse_private_users(Some("1")).unwrap(), Fixed { base: 1, size: 65536 });
        assert_eq!(parse_private_users(Some("0")).unwrap(), Fixed { base: 0, size: 65536 });
        assert_eq!(parse_private_users(Some("524288:65536")).unwrap(), Fixed { base: 524288, size: 65536 });
        assert_eq!(err(parse_private_users(Some("x"))), "invalid UID base");
        assert_eq!(err(parse_private_users(Some("65535"))), "invalid UID base");
        assert_eq!(err(parse_private_users(Some("5:x"))), "invalid UID range size");
        assert_eq!(err(parse_private_users(Some("5:0"))), "UID range cannot be empty or go beyond 4294967295");
        assert_eq!(
            err(parse_private_users(Some("4294901760:65536"))),
            "UID range cannot be empty or go beyond 4294967295"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("4K").unwrap(), 4096);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(err(parse_size("1Q")), "invalid size");
        assert_eq!(err(parse_size("K")), "invalid size");
        assert_eq!(err(parse_size("99999999999E")), "invalid size");
        assert_eq!(err(parse_u32("-1")), "invalid number");
    }
}
