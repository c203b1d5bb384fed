//! The mount option syntax: `--bind`/`--bind-ro`, `--tmpfs`, `--overlay`/`--overlay-ro`,
//! `--inaccessible` and `--pivot-root`, parsed into `CustomMount`s as systemd-nspawn does.

use super::values::{has_dotdot, simplify_path};
use crate::error::Error;
use crate::settings::{BindIdmap, CustomMount, MountSource};
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, Error>;

/// Splits at `:` as systemd's `extract_first_word(":", DONT_COALESCE)`: a backslash takes the
/// next character literally (`\:` is a colon). After `max` words the unsplit remainder (after
/// the separator) is returned as is.
fn split_colons(s: &str, max: Option<usize>) -> Result<(Vec<String>, Option<String>)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e)) => word.push(e),
                None => return Err(Error::msg("trailing backslash")),
            },
            ':' => {
                words.push(std::mem::take(&mut word));
                if max == Some(words.len()) {
                    return Ok((words, Some(s[i + 1..].to_string())));
                }
            }
            _ => word.push(c),
        }
    }
    words.push(word);
    Ok((words, None))
}

/// A source path: `+/path` (inside the container root), or a host path made absolute
/// against `cwd`; both simplified. Without `cwd` (a settings file) a relative host path is
/// refused.
fn parse_source(word: &str, cwd: Option<&Path>) -> Result<MountSource> {
    if word.is_empty() {
        return Err(Error::msg("source path must not be empty"));
    }
    if let Some(inner) = word.strip_prefix('+') {
        if !inner.starts_with('/') {
            return Err(Error::msg(format!("source must be an absolute path: {word:?}")));
        }
        let p = simplify_path(Path::new(inner));
        if has_dotdot(&p) {
            return Err(Error::msg(format!("source must be a normalized path: {word:?}")));
        }
        return Ok(MountSource::InRoot(p));
    }
    match cwd {
        Some(cwd) => Ok(MountSource::Host(simplify_path(&cwd.join(word)))),
        None if word.starts_with('/') => Ok(MountSource::Host(simplify_path(Path::new(word)))),
        None => Err(Error::msg(format!("source must be an absolute path: {word:?}"))),
    }
}

/// A container path: absolute, simplified, without `..`.
fn parse_destination(word: &str) -> Result<PathBuf> {
    if !word.starts_with('/') {
        return Err(Error::msg(format!("destination must be an absolute path: {word:?}")));
    }
    let p = simplify_path(Path::new(word));
    if has_dotdot(&p) {
        return Err(Error::msg(format!("destination must be a normalized path: {word:?}")));
    }
    Ok(p)
}

/// A parsed mount, and whether it needs something spawnbox does not implement yet (a
/// temporary source directory, an idmapped bind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMount {
    pub mount: CustomMount,
    pub unsupported: bool,
}

/// `--bind`/`--bind-ro=SRC[:DST[:OPTS]]` (and the `Bind=`/`BindReadOnly=` keys, without
/// `cwd`). An empty SRC (nspawn's throw-away directory) is recorded as the empty host path
/// and marked unsupported.
pub fn parse_bind(s: &str, read_only: bool, cwd: Option<&Path>) -> Result<ParsedMount> {
    let (words, opts) = split_colons(s, Some(2))?;
    let src = words.first().map(String::as_str).unwrap_or("");
    // Without DST, the destination is SRC as written, minus the `+` (so a relative SRC is
    // refused, as in nspawn).
    let dst = match words.get(1) {
        Some(d) => d.as_str(),
        None => src.strip_prefix('+').unwrap_or(src),
    };
    let (source, temporary) = match src {
        "" => (MountSource::Host(PathBuf::new()), true),
        _ => (parse_source(src, cwd)?, false),
    };
    let destination = parse_destination(dst)?;
    let mut recursive = true;
    let mut idmap = BindIdmap::None;
    for opt in opts.as_deref().unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match opt {
            "rbind" => recursive = true,
            "norbind" => recursive = false,
            "noidmap" => idmap = BindIdmap::None,
            "idmap" => idmap = BindIdmap::Idmap,
            "rootidmap" => idmap = BindIdmap::RootIdmap,
            "owneridmap" => idmap = BindIdmap::OwnerIdmap,
            _ => return Err(Error::msg(format!("unknown bind mount option: {opt:?}"))),
        }
    }
    let unsupported = temporary;
    let mount = CustomMount::Bind { source, destination, read_only, recursive, idmap };
    Ok(ParsedMount { mount, unsupported })
}

/// `--tmpfs=PATH[:OPTS]`: PATH absolute and not `/`; OPTS kept as given (empty when absent).
pub fn parse_tmpfs(s: &str) -> Result<CustomMount> {
    let (words, opts) = split_colons(s, Some(1))?;
    let destination = parse_destination(words.first().map(String::as_str).unwrap_or(""))?;
    if destination == Path::new("/") {
        return Err(Error::msg("cannot mount a tmpfs on /"));
    }
    Ok(CustomMount::Tmpfs { destination, options: opts.unwrap_or_default() })
}

/// `--overlay=LOWER...:[UPPER]:DST` and `--overlay-ro=LOWER...:DST`. With two paths the second
/// is both the upper (top layer for `-ro`) and the destination. An empty UPPER gives
/// `upper: None` on a writable overlay: nspawn's throw-away directory (`overlay.rs`). Without
/// `cwd` (the `Overlay=` keys) relative host paths are refused.
pub fn parse_overlay(s: &str, read_only: bool, cwd: Option<&Path>) -> Result<ParsedMount> {
    let (words, _) = split_colons(s, None)?;
    let k = words.len();
    if k < 2 {
        return Err(Error::msg("needs at least two colon-separated paths"));
    }
    let sources = |ws: &[String]| -> Result<Vec<MountSource>> { ws.iter().map(|w| parse_source(w, cwd)).collect() };
    let (lower, upper, destination, unsupported) = if k == 2 {
        let top = parse_source(&words[1], cwd)?;
        let destination = match &top {
            MountSource::Host(p) | MountSource::InRoot(p) => p.clone(),
        };
        if has_dotdot(&destination) {
            let word = &words[1];
            return Err(Error::msg(format!("destination must be a normalized path: {word:?}")));
        }
        if read_only {
            (sources(&words)?, None, destination, false)
        } else {
            (sources(&words[..1])?, Some(top), destination, false)
        }
    } else {
        let destination = parse_destination(&words[k - 1])?;
        if read_only {
            (sources(&words[..k - 1])?, None, destination, false)
        } else if words[k - 2].is_empty() {
            (sources(&words[..k - 2])?, None, destination, false)
        } else {
            let upper = parse_source(&words[k - 2], cwd)?;
            (sources(&words[..k - 2])?, Some(upper), destination, false)
        }
    };
    let mount = CustomMount::Overlay { lower, upper, destination, read_only };
    Ok(ParsedMount { mount, unsupported })
}

/// `--inaccessible=PATH`: an absolute container path.
pub fn parse_inaccessible(s: &str) -> Result<CustomMount> {
    if !s.starts_with('/') {
        return Err(Error::msg(format!("path must be an absolute path: {s:?}")));
    }
    Ok(CustomMount::Inaccessible { destination: parse_destination(s)? })
}

/// `--pivot-root=NEW[:OLD]`: both absolute, normalised container paths.
pub fn parse_pivot_root(s: &str) -> Result<(PathBuf, Option<PathBuf>)> {
    let (new, old) = match s.split_once(':') {
        Some((n, o)) => (n, Some(o)),
        None => (s, None),
    };
    Ok((parse_destination(new)?, old.map(parse_destination).transpose()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CWD: &str = "/home/u";

    fn bind(s: &str) -> Result<ParsedMount> {
        parse_bind(s, false, Some(Path::new(CWD)))
    }

    fn b(source: MountSource, dst: &str, recursive: bool, idmap: BindIdmap) -> CustomMount {
        CustomMount::Bind { source, destination: dst.into(), read_only: false, recursive, idmap }
    }

    fn host(p: &str) -> MountSource {
        MountSource::Host(p.into())
    }

    fn in_root(p: &str) -> MountSource {
        MountSource::InRoot(p.into())
    }

    fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn bind_forms() {
        let ok = |s| bind(s).unwrap().mount;
        assert_eq!(ok("/srv"), b(host("/srv"), "/srv", true, BindIdmap::None));
        assert_eq!(ok("/srv:/data"), b(host("/srv"), "/data", true, BindIdmap::None));
        assert_eq!(ok("/a//b/./:/c/"), b(host("/a/b"), "/c", true, BindIdmap::None));
        assert_eq!(ok("data:/data"), b(host("/home/u/data"), "/data", true, BindIdmap::None));
        assert_eq!(ok("../x:/x"), b(host("/home/u/../x"), "/x", true, BindIdmap::None));
        assert_eq!(ok("+/srv"), b(in_root("/srv"), "/srv", true, BindIdmap::None));
        assert_eq!(ok("+/srv:/x"), b(in_root("/srv"), "/x", true, BindIdmap::None));
        assert_eq!(ok("/a\\:b:/c\\:d"), b(host("/a:b"), "/c:d", true, BindIdmap::None));
        assert_eq!(ok("/a:/b:norbind"), b(host("/a"), "/b", false, BindIdmap::None));
        assert_eq!(ok("/a:/b:"), b(host("/a"), "/b", true, BindIdmap::None));
        assert_eq!(ok("/a:/b:norbind,rbind"), b(host("/a"), "/b", true, BindIdmap::None));
        assert_eq!(ok("/a:/b:noidmap,,norbind"), b(host("/a"), "/b", false, BindIdmap::None));
        assert!(!bind("/a:/b:norbind").unwrap().unsupported);
    }

    #[test]
    fn bind_idmap_is_supported_and_temporary_is_not() {
        let r = bind("/a:/b:idmap").unwrap();
        assert_eq!(r.mount, b(host("/a"), "/b", true, BindIdmap::Idmap));
        assert!(!r.unsupported);
        assert_eq!(bind("/a:/b:rootidmap").unwrap().mount, b(host("/a"), "/b", true, BindIdmap::RootIdmap));
        assert_eq!(bind("/a:/b:owneridmap").unwrap().mount, b(host("/a"), "/b", true, BindIdmap::OwnerIdmap));
        let t = bind(":/scratch").unwrap();
        assert_eq!(t.mount, b(host(""), "/scratch", true, BindIdmap::None));
        assert!(t.unsupported);
    }

    #[test]
    fn bind_errors() {
        assert_eq!(err(bind("a:b")), "destination must be an absolute path: \"b\"");
        assert_eq!(err(bind("data")), "destination must be an absolute path: \"data\"");
        assert_eq!(err(bind("")), "destination must be an absolute path: \"\"");
        assert_eq!(err(bind("/a:")), "destination must be an absolute path: \"\"");
        assert_eq!(err(bind("/a:/b/../c")), "destination must be a normalized path: \"/b/../c\"");
        assert_eq!(err(bind("+srv:/x")), "source must be an absolute path: \"+srv\"");
        assert_eq!(err(bind("+/a/../b:/x")), "source must be a normalized path: \"+/a/../b\"");
        assert_eq!(err(bind("/a:/b:ro")), "unknown bind mount option: \"ro\"");
        assert_eq!(err(bind("/a\\")), "trailing backslash");
    }

    #[test]
    fn without_a_cwd_relative_sources_are_refused() {
        let file = |s, ro| parse_bind(s, ro, None).map(|p| p.mount);
        assert_eq!(file("/a//b:/c", false).unwrap(), b(host("/a/b"), "/c", true, BindIdmap::None));
        assert_eq!(file("+/a:/c", false).unwrap(), b(in_root("/a"), "/c", true, BindIdmap::None));
        assert_eq!(err(file("data:/data", false)), "source must be an absolute path: \"data\"");
        assert_eq!(err(parse_overlay("/l:up:/d", false, None)), "source must be an absolute path: \"up\"");
        assert_eq!(parse_bind(":/scratch", false, None).unwrap().mount, b(host(""), "/scratch", true, BindIdmap::None));
    }

    #[test]
    fn tmpfs() {
        let t = |d: &str, o: &str| CustomMount::Tmpfs { destination: d.into(), options: o.into() };
        assert_eq!(parse_tmpfs("/tmp").unwrap(), t("/tmp", ""));
        assert_eq!(parse_tmpfs("/run/x/:mode=0700,size=1M").unwrap(), t("/run/x", "mode=0700,size=1M"));
        assert_eq!(parse_tmpfs("/a:b:c").unwrap(), t("/a", "b:c"));
        assert_eq!(err(parse_tmpfs("tmp")), "destination must be an absolute path: \"tmp\"");
        assert_eq!(err(parse_tmpfs("/")), "cannot mount a tmpfs on /");
        assert_eq!(err(parse_tmpfs("//.")), "cannot mount a tmpfs on /");
    }

    fn overlay(s: &str, ro: bool) -> Result<ParsedMount> {
        parse_overlay(s, ro, Some(Path::new(CWD)))
    }

    fn ov(lower: Vec<MountSource>, upper: Option<MountSource>, dst: &str, ro: bool) -> CustomMount {
        CustomMount::Overlay { lower, upper, destination: dst.into(), read_only: ro }
    }

    #[test]
    fn overlay_forms() {
        let ok = |s, ro| overlay(s, ro).unwrap().mount;
        assert_eq!(ok("/lo:/up", false), ov(vec![host("/lo")], Some(host("/up")), "/up", false));
        assert_eq!(ok("/l1:/l2:/up:/dst", false), ov(vec![host("/l1"), host("/l2")], Some(host("/up")), "/dst", false));
        assert_eq!(ok("+/l:up:/dst", false), ov(vec![in_root("/l")], Some(host("/home/u/up")), "/dst", false));
        assert_eq!(ok("/lo:+/up", false), ov(vec![host("/lo")], Some(in_root("/up")), "/up", false));
        assert_eq!(ok("/lo:/top", true), ov(vec![host("/lo"), host("/top")], None, "/top", true));
        assert_eq!(ok("/l1:/l2:/dst", true), ov(vec![host("/l1"), host("/l2")], None, "/dst", true));
        let t = overlay("/l1::/dst", false).unwrap();
        assert_eq!(t.mount, ov(vec![host("/l1")], None, "/dst", false));
        assert!(!t.unsupported);
        assert!(!overlay("/l1:/u:/dst", false).unwrap().unsupported);
    }

    #[test]
    fn overlay_errors() {
        assert_eq!(err(overlay("/a", false)), "needs at least two colon-separated paths");
        assert_eq!(err(overlay("/a:/b:dst", false)), "destination must be an absolute path: \"dst\"");
        assert_eq!(err(overlay(":/u:/dst", false)), "source path must not be empty");
        assert_eq!(err(overlay("/l::/dst", true)), "source path must not be empty");
        assert_eq!(err(overlay("/l:+up", false)), "source must be an absolute path: \"+up\"");
        assert_eq!(err(overlay("/l:../up", false)), "destination must be a normalized path: \"../up\"");
    }

    #[test]
    fn inaccessible_and_pivot_root() {
        assert_eq!(
            parse_inaccessible("/etc//shadow").unwrap(),
            CustomMount::Inaccessible { destination: "/etc/shadow".into() }
        );
        assert_eq!(err(parse_inaccessible("etc")), "path must be an absolute path: \"etc\"");
        assert_eq!(parse_pivot_root("/sysroot").unwrap(), (PathBuf::from("/sysroot"), None));
        assert_eq!(
            parse_pivot_root("/sysroot:/sysroot/old").unwrap(),
            (PathBuf::from("/sysroot"), Some(PathBuf::from("/sysroot/old")))
        );
        assert_eq!(err(parse_pivot_root("x")), "destination must be an absolute path: \"x\"");
    }
}
