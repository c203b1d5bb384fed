//! Value parsers for security and resource options: capabilities, rlimits, OOM score, CPU
//! affinity, personality, system-call filters, user/group names and credentials.

use crate::error::Error;
use crate::settings::{Credential, Rlimit};
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, Error>;

pub use crate::kernel_names::{CAPABILITIES, RLIMITS};

/// CAP_NET_ADMIN, retained whenever the container has a private network.
pub const CAP_NET_ADMIN: u32 = 12;

/// nspawn's default retained bounding set (`arg_caps_retain`).
pub const DEFAULT_RETAINED_CAPS: u64 = (1 << 30) // audit_control
    | (1 << 29) // audit_write
    | (1 << 0) // chown
    | (1 << 1) // dac_override
    | (1 << 2) // dac_read_search
    | (1 << 3) // fowner
    | (1 << 4) // fsetid
    | (1 << 15) // ipc_owner
    | (1 << 5) // kill
    | (1 << 28) // lease
    | (1 << 9) // linux_immutable
    | (1 << 27) // mknod
    | (1 << 10) // net_bind_service
    | (1 << 11) // net_broadcast
    | (1 << 13) // net_raw
    | (1 << 31) // setfcap
    | (1 << 6) // setgid
    | (1 << 8) // setpcap
    | (1 << 7) // setuid
    | (1 << 21) // sys_admin
    | (1 << 22) // sys_boot
    | (1 << 18) // sys_chroot
    | (1 << 23) // sys_nice
    | (1 << 19) // sys_ptrace
    | (1 << 24) // sys_resource
    | (1 << 26); // sys_tty_config

/// A parsed capability list, or the request to list the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapSpec {
    Mask(u64),
    Help,
}

fn capability_from_name(word: &str) -> Option<u32> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse::<u32>().ok().filter(|n| *n < 64);
    }
    let lower = word.to_ascii_lowercase();
    let name = lower.strip_prefix("cap_").unwrap_or(&lower);
    CAPABILITIES.iter().position(|c| *c == name).and_then(|i| u32::try_from(i).ok())
}

/// `--capability=CAP[,CAP...]|all|help`: names with or without `CAP_`, any case, or numbers.
pub fn parse_capabilities(s: &str) -> Result<CapSpec> {
    let mut mask = 0u64;
    for word in s.split(',').filter(|w| !w.is_empty()) {
        if word == "help" {
            return Ok(CapSpec::Help);
        }
        if word == "all" {
            mask = u64::MAX;
            continue;
        }
        let n = capability_from_name(word).ok_or_else(|| Error::msg(format!("unknown capability: {word:?}")))?;
        mask |= 1u64 << n;
    }
    Ok(CapSpec::Mask(mask))
}

/// `--capability=help`: the names, one a line.
pub fn capability_list() -> String {
    CAPABILITIES.iter().map(|c| format!("cap_{c}\n")).collect()
}

/// Resources whose limits are byte sizes (accepting `K`, `M`, ... suffixes).
const RLIMIT_BYTES: [&str; 8] = ["FSIZE", "DATA", "STACK", "CORE", "RSS", "MEMLOCK", "AS", "MSGQUEUE"];

/// A parsed `--rlimit=`, or the request to list the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlimitSpec {
    Limit(Rlimit),
    Help,
}

/// `--rlimit=help`: the names, one a line.
pub fn rlimit_list() -> String {
    RLIMITS.iter().map(|r| format!("RLIMIT_{r}\n")).collect()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// `--rlimit=NAME=SOFT[:HARD]`: NAME as `RLIMIT_NOFILE`, `NOFILE` or `LimitNOFILE` (any case);
/// values are numbers or `infinity`, byte limits take size suffixes.
pub fn parse_rlimit(s: &str) -> Result<RlimitSpec> {
    if s == "help" {
        return Ok(RlimitSpec::Help);
    }
    let (name, value) = s.split_once('=').ok_or_else(|| Error::msg("expects an '=' assignment"))?;
    let short = strip_prefix_ci(name, "RLIMIT_")
        .or_else(|| strip_prefix_ci(name, "Limit"))
        .unwrap_or(name)
        .to_ascii_uppercase();
    let resource = RLIMITS
        .iter()
        .position(|r| *r == short)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| Error::msg(format!("unknown resource limit: {name:?}")))?;
    Ok(RlimitSpec::Limit(parse_rlimit_value(resource, value)?))
}

/// The value of `--rlimit=NAME=SOFT[:HARD]` (and of the `LimitNAME=` keys) for resource
/// number `resource` (0..=15): numbers or `infinity`, byte limits take size suffixes.
pub fn parse_rlimit_value(resource: u32, value: &str) -> Result<Rlimit> {
    let short =
        usize::try_from(resource).ok().and_then(|i| RLIMITS.get(i)).ok_or_else(|| Error::msg("bad resource"))?;
    let bytes = RLIMIT_BYTES.contains(short);
    let one = |v: &str| -> Result<u64> {
        let parsed = if v == "infinity" {
            Ok(u64::MAX)
        } else if bytes {
            super::values::parse_size(v)
        } else {
            super::values::parse_u64(v)
        };
        parsed.map_err(|_| Error::msg(format!("invalid resource limit value: {v:?}")))
    };
    let (soft, hard) = match value.split_once(':') {
        Some((s, h)) => (one(s)?, one(h)?),
        None => {
            let v = one(value)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(Error::msg("soft resource limit is above the hard limit"));
    }
    Ok(Rlimit { resource, soft, hard })
}

/// `--oom-score-adjust=`: -1000..1000.
pub fn parse_oom_score_adjust(s: &str) -> Result<i32> {
    let n: i32 = s.parse().map_err(|_| Error::msg("invalid OOM score adjustment value"))?;
    if !(-1000..=1000).contains(&n) {
        return Err(Error::msg("OOM score adjustment value out of range -1000..1000"));
    }
    Ok(n)
}

/// The number of CPUs a `--cpu-affinity=` list may name.
const MAX_CPUS: u32 = 8192;

/// `--cpu-affinity=0,2-3`: indices and ranges separated by commas or whitespace, sorted and
/// deduplicated; an empty list means unset.
pub fn parse_cpu_affinity(s: &str) -> Result<Option<Vec<u32>>> {
    let mut cpus = Vec::new();
    let index = |w: &str| -> Result<u32> {
        let n = super::values::parse_u32(w).map_err(|_| Error::msg(format!("invalid CPU index: {w:?}")))?;
        if n >= MAX_CPUS {
            return Err(Error::msg(format!("CPU index out of range: {n}")));
        }
        Ok(n)
    };
    for word in s.split(|c: char| c == ',' || c.is_ascii_whitespace()).filter(|w| !w.is_empty()) {
        match word.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (index(a)?, index(b)?);
                if a > b {
                    return Err(Error::msg(format!("invalid CPU range: {word:?}")));
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(index(word)?),
        }
    }
    crate::sort::sort(&mut cpus);
    cpus.dedup();
    Ok((!cpus.is_empty()).then_some(cpus))
}

/// `--personality=`: an architecture name this build runs (`x86-64`, `x86` on x86_64; `arm64`,
/// `arm` on aarch64; `arm` on arm), as nspawn's `personality_from_string()` takes them.
pub fn parse_personality(s: &str) -> Result<String> {
    match crate::security::process::persona_on(std::env::consts::ARCH, s) {
        Some(_) => Ok(s.to_string()),
        None => Err(Error::msg("unknown or unsupported personality")),
    }
}

/// `--system-call-filter=[~]LIST`: whitespace-separated names and `@groups`; a leading `~` applies
/// to every word and is kept on each.
pub fn parse_syscall_filter(s: &str) -> Result<Vec<String>> {
    let (deny, list) = match s.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    list.split_ascii_whitespace().map(|word| syscall_filter_word(word, deny)).collect()
}

/// One name or `@group` of a system-call filter list, with the `~` prefix when `deny`.
pub fn syscall_filter_word(word: &str, deny: bool) -> Result<String> {
    let body = word.strip_prefix('@').unwrap_or(word);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(Error::msg(format!("invalid system call name: {word:?}")));
    }
    Ok(if deny { format!("~{word}") } else { word.to_string() })
}

/// systemd's strict `valid_user_group_name()`: `[A-Za-z_][A-Za-z0-9_-]*`, at most 31 bytes.
pub fn user_group_name_valid(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 31
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

/// `--bind-user-shell=BOOL|PATH`: kept as given once validated.
pub fn parse_bind_user_shell(s: &str) -> Result<String> {
    let p = Path::new(s);
    let ok = super::values::bool_word(s).is_some()
        || (s.starts_with('/') && super::values::simplify_path(p) == p && !super::values::has_dotdot(p));
    if !ok {
        return Err(Error::msg("expected a boolean or an absolute, normalized path"));
    }
    Ok(s.to_string())
}

/// systemd's `credential_name_valid()`: a valid file name of at most 255 bytes.
pub fn credential_name_valid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s != "." && s != ".." && !s.contains('/')
}

fn credential_id<'a>(s: &'a str, existing: &[Credential]) -> Result<(&'a str, &'a str)> {
    let (id, rest) = s.split_once(':').ok_or_else(|| Error::msg("expected ID:VALUE"))?;
    if !credential_name_valid(id) {
        return Err(Error::msg(format!("invalid credential name: {id:?}")));
    }
    let dup = existing.iter().any(|c| match c {
        Credential::Set { id: other, .. } | Credential::Load { id: other, .. } => other == id,
    });
    if dup {
        return Err(Error::msg(format!("duplicate credential {id:?}")));
    }
    Ok((id, rest))
}

/// `--set-credential=ID:VALUE`; VALUE takes C escapes (`\n`, `\x00`, ...).
pub fn parse_set_credential(s: &str, existing: &[Credential]) -> Result<Credential> {
    let (id, value) = credential_id(s, existing)?;
    Ok(Credential::Set { id: id.to_string(), value: cunescape(value)? })
}

/// `--load-credential=ID:PATH`; PATH is absolute, or the name of a credential spawnbox itself
/// received.
pub fn parse_load_credential(s: &str, existing: &[Credential]) -> Result<Credential> {
    let (id, path) = credential_id(s, existing)?;
    let p = Path::new(path);
    let path = if path.starts_with('/') {
        super::values::simplify_path(p)
    } else if credential_name_valid(path) {
        PathBuf::from(path)
    } else {
        return Err(Error::msg("credential source is neither an absolute path nor a credential name"));
    };
    Ok(Credential::Load { id: id.to_string(), path })
}

/// C-style unescaping as systemd's `cunescape()`: `\a \b \f \n \r \t \v \\ \" \' \s`, `\xHH`,
/// `\NNN` (octal), `\uXXXX`, `\UXXXXXXXX`.
pub fn cunescape(s: &str) -> Result<Vec<u8>> {
    let bad = || Error::msg("invalid escape sequence");
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or_else(bad)?;
        let simple = match e {
            'a' => Some(7u8),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            '\'' => Some(b'\''),
            's' => Some(b' '),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let mut take = |n: usize, radix: u32| -> Result<u32> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return Err(bad());
            }
            u32::from_str_radix(&digits, radix).map_err(|_| bad())
        };
        match e {
            'x' => out.push(u8::try_from(take(2, 16)?).map_err(|_| bad())?),
            'u' | 'U' => {
                let c = char::from_u32(take(if e == 'u' { 4 } else { 8 }, 16)?).ok_or_else(bad)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            '0'..='7' => {
                let rest = take(2, 8)?;
                let v = e.to_digit(8).ok_or_else(bad)? * 64 + rest;
                out.push(u8::try_from(v).map_err(|_| bad())?);
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

/// `--root-hash=HEX`: an even number of hex digits, at least 128 bits.
pub fn parse_root_hash(s: &str) -> Result<String> {
    if s.is_empty() || s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::msg("invalid root hash"));
    }
    if s.len() < 32 {
        return Err(Error::msg("root hash must be at least 128-bit long"));
    }
    Ok(s.to_string())
}

/// `--background=`: an ANSI SGR colour code (digits and `;`); empty means unset.
pub fn parse_background(s: &str) -> Result<Option<String>> {
    if s.is_empty() {
        return Ok(None);
    }
    if !s.bytes().all(|b| b.is_ascii_digit() || b == b';') {
        return Err(Error::msg("not an ANSI color code"));
    }
    Ok(Some(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn capabilities() {
        let m = |s| parse_capabilities(s).unwrap();
        assert_eq!(m("CAP_SYS_ADMIN,CAP_NET_ADMIN"), CapSpec::Mask((1 << 21) | (1 << 12)));
        assert_eq!(m("sys_admin"), CapSpec::Mask(1 << 21));
        assert_eq!(m("cap_sys_time,,Net_Raw"), CapSpec::Mask((1 << 25) | (1 << 13)));
        assert_eq!(m("all"), CapSpec::Mask(u64::MAX));
        assert_eq!(m("CHECKPOINT_RESTORE"), CapSpec::Mask(1 << 40));
        assert_eq!(m("12"), CapSpec::Mask(1 << 12));
        assert_eq!(m(""), CapSpec::Mask(0));
        assert_eq!(m("CAP_CHOWN,help"), CapSpec::Help);
        assert_eq!(err(parse_capabilities("CAP_FOO")), "unknown capability: \"CAP_FOO\"");
        assert_eq!(err(parse_capabilities("64")), "unknown capability: \"64\"");
        assert!(capability_list().starts_with("cap_chown\ncap_dac_override\n"));
        assert_eq!(DEFAULT_RETAINED_CAPS.count_ones(), 26);
    }

    #[test]
    fn rlimit_values_and_syscall_words() {
        assert_eq!(parse_rlimit_value(7, "1024:4096").unwrap(), Rlimit { resource: 7, soft: 1024, hard: 4096 });
        assert_eq!(parse_rlimit_value(8, "64K").unwrap(), Rlimit { resource: 8, soft: 65536, hard: 65536 });
        assert_eq!(err(parse_rlimit_value(7, "1K")), "invalid resource limit value: \"1K\"");
        assert_eq!(err(parse_rlimit_value(16, "1")), "bad resource");
        assert_eq!(syscall_filter_word("@clock", true).unwrap(), "~@clock");
        assert_eq!(err(syscall_filter_word("@", false)), "invalid system call name: \"@\"");
    }

    #[test]
    fn rlimits() {
        let l = |resource, soft, hard| RlimitSpec::Limit(Rlimit { resource, soft, hard });
        assert_eq!(parse_rlimit("RLIMIT_NOFILE=1024:4096").unwrap(), l(7, 1024, 4096));
        assert_eq!(parse_rlimit("NOFILE=1024").unwrap(), l(7, 1024, 1024));
        assert_eq!(parse_rlimit("rlimit_nproc=infinity").unwrap(), l(6, u64::MAX, u64::MAX));
        assert_eq!(parse_rlimit("LimitCORE=0:infinity").unwrap(), l(4, 0, u64::MAX));
        assert_eq!(parse_rlimit("MEMLOCK=64K").unwrap(), l(8, 65536, 65536));
        assert_eq!(parse_rlimit("RTTIME=5").unwrap(), l(15, 5, 5));
        assert_eq!(parse_rlimit("help").unwrap(), RlimitSpec::Help);
        assert_eq!(err(parse_rlimit("NOFILE")), "expects an '=' assignment");
        assert_eq!(err(parse_rlimit("FOO=1")), "unknown resource limit: \"FOO\"");
        assert_eq!(err(parse_rlimit("NOFILE=x")), "invalid resource limit value: \"x\"");
        assert_eq!(err(parse_rlimit("NOFILE=1K")), "invalid resource limit value: \"1K\"");
        assert_eq!(err(parse_rlimit("NOFILE=5:4")), "soft resource limit is above the hard limit");
        assert!(rlimit_list().starts_with("RLIMIT_CPU\n"));
    }

    #[test]
    fn oom_and_cpus_and_personality() {
        assert_eq!(parse_oom_score_adjust("-1000").unwrap(), -1000);
        assert_eq!(parse_oom_score_adjust("500").unwrap(), 500);
        assert_eq!(err(parse_oom_score_adjust("1001")), "OOM score adjustment value out of range -1000..1000");
        assert_eq!(err(parse_oom_score_adjust("x")), "invalid OOM score adjustment value");
        assert_eq!(parse_cpu_affinity("0,2-3").unwrap(), Some(vec![0, 2, 3]));
        assert_eq!(parse_cpu_affinity("3 1,1").unwrap(), Some(vec![1, 3]));
        assert_eq!(parse_cpu_affinity("").unwrap(), None);
        assert_eq!(err(parse_cpu_affinity("3-1")), "invalid CPU range: \"3-1\"");
        assert_eq!(err(parse_cpu_affinity("a")), "invalid CPU index: \"a\"");
        assert_eq!(err(parse_cpu_affinity("8192")), "CPU index out of range: 8192");
        use crate::security::process::test_names::{FOREIGN, NATIVE};
        assert_eq!(parse_personality(NATIVE).unwrap(), NATIVE);
        assert_eq!(err(parse_personality(FOREIGN)), "unknown or unsupported personality");
    }

    #[test]
    fn syscall_filters() {
        assert_eq!(parse_syscall_filter("@mount  swapon").unwrap(), vec!["@mount", "swapon"]);
        assert_eq!(parse_syscall_filter("~@clock kexec_load").unwrap(), vec!["~@clock", "~kexec_load"]);
        assert_eq!(err(parse_syscall_filter("a;b")), "invalid system call name: \"a;b\"");
        assert_eq!(err(parse_syscall_filter("@")), "invalid system call name: \"@\"");
    }

    #[test]
    fn names_and_shells() {
        assert!(user_group_name_valid("alice"));
        assert!(user_group_name_valid("_x-1"));
        assert!(!user_group_name_valid("1x"));
        assert!(!user_group_name_valid("a.b"));
        assert!(!user_group_name_valid(&"a".repeat(32)));
        assert_eq!(parse_bind_user_shell("no").unwrap(), "no");
        assert_eq!(parse_bind_user_shell("/bin/zsh").unwrap(), "/bin/zsh");
        assert_eq!(err(parse_bind_user_shell("zsh")), "expected a boolean or an absolute, normalized path");
        assert_eq!(err(parse_bind_user_shell("/bin/../zsh")), "expected a boolean or an absolute, normalized path");
    }

    #[test]
    fn credentials() {
        let c = parse_set_credential("pw:a\\nb\\x00:c", &[]).unwrap();
        assert_eq!(c, Credential::Set { id: "pw".into(), value: b"a\nb\0:c".to_vec() });
        let l = parse_load_credential("key:/etc//key", std::slice::from_ref(&c)).unwrap();
        assert_eq!(l, Credential::Load { id: "key".into(), path: "/etc/key".into() });
        let n = parse_load_credential("k2:hostkey", &[]).unwrap();
        assert_eq!(n, Credential::Load { id: "k2".into(), path: "hostkey".into() });
        assert_eq!(err(parse_set_credential("pw:x", &[c])), "duplicate credential \"pw\"");
        assert_eq!(err(parse_set_credential("pw", &[])), "expected ID:VALUE");
        assert_eq!(err(parse_set_credential("a/b:x", &[])), "invalid credential name: \"a/b\"");
        assert_eq!(err(parse_set_credential(":x", &[])), "invalid credential name: \"\"");
        assert_eq!(err(parse_set_credential("a:\\q", &[])), "invalid escape sequence");
        assert_eq!(
            err(parse_load_credential("a:x/y", &[])),
            "credential source is neither an absolute path nor a credential name"
        );
    }

    #[test]
    fn unescaping() {
        assert_eq!(cunescape("\\101\\s\\u00e4\\t").unwrap(), "A ä\t".as_bytes());
        assert_eq!(cunescape("plain").unwrap(), b"plain");
        assert_eq!(err(cunescape("x\\")), "invalid escape sequence");
        assert_eq!(err(cunescape("\\xg0")), "invalid escape sequence");
        assert_eq!(err(cunescape("\\777")), "invalid escape sequence");
    }

    #[test]
    fn root_hash_and_background() {
        let h = "0123456789abcdef0123456789abcdef";
        assert_eq!(parse_root_hash(h).unwrap(), h);
        assert_eq!(err(parse_root_hash("0123")), "root hash must be at least 128-bit long");
        assert_eq!(err(parse_root_hash("xyz")), "invalid root hash");
        assert_eq!(parse_background("48;2;0;0;80").unwrap(), Some("48;2;0;0;80".into()));
        assert_eq!(parse_background("").unwrap(), None);
        assert_eq!(err(parse_background("blue")), "not an ANSI color code");
    }
}
