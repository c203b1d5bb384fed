//! Fuzzes the command-line parser `cli::parse(argv, getenv, cwd)`.
//!
//! Input: argv bytes, arguments separated by NUL (argv[0] not included). The parser comes from
//! the launcher's library.
//!
//! Invariants:
//! 1. `parse` never panics (overflow, slicing, unwrap) on any argv, UTF-8 or not.
//! 2. `parse` is deterministic: the same argv gives the same result twice.
//! 3. Errors are non-empty messages; `Help`/`Version`/`ListValues` only come from argv that
//!    asked for them (an argument contains `h`, as in `--help`/`--he`/`-qh`, or is `--version` or
//!    an abbreviation of it).
//! 4. Every accepted custom mount destination, `--chdir`, `--pivot-root` path is absolute and
//!    normalised (only `/` and normal components: no `.`, no `..`); in-root sources likewise;
//!    host sources are absolute (the empty path only as the throw-away-directory marker).
//! 5. Round trip: the accepted mounts, `-E` list, properties, `--system-call-filter` words,
//!    `--chdir` and the payload argv are rendered back to options, parsed again, and come
//!    back equal.
#![no_main]

use spawnbox::{cli, settings};

use libfuzzer_sys::fuzz_target;
use settings::{BindIdmap, CustomMount, MountSource, Settings};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

const CWD: &str = "/work/cwd";

fn getenv(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/root".into()),
        "TERM" => Some("xterm-256color".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn split_args(data: &[u8]) -> Vec<OsString> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|b| *b == 0).map(|a| OsStr::from_bytes(a).to_os_string()).collect()
}

/// `/` followed by normal components only.
fn is_normal_abs(p: &Path) -> bool {
    let mut c = p.components();
    c.next() == Some(Component::RootDir) && c.all(|c| matches!(c, Component::Normal(_)))
}

fn check_source(s: &MountSource, what: &str) {
    match s {
        MountSource::Host(p) => {
            assert!(p.as_os_str().is_empty() || p.is_absolute(), "{what}: host source not absolute: {p:?}")
        }
        MountSource::InRoot(p) => {
            assert!(is_normal_abs(p), "{what}: in-root source not normalised: {p:?}")
        }
    }
}

fn check_invariants(s: &Settings) {
    for m in &s.custom_mounts {
        assert!(is_normal_abs(m.destination()), "mount destination not normalised: {m:?}");
        match m {
            CustomMount::Bind { source, .. } => check_source(source, "bind"),
            CustomMount::Overlay { lower, upper, .. } => {
                assert!(!lower.is_empty(), "overlay without lower layers: {m:?}");
                lower.iter().chain(upper.iter()).for_each(|l| check_source(l, "overlay"));
            }
            CustomMount::Tmpfs { destination, .. } => {
                assert!(destination != Path::new("/"), "tmpfs on /: {m:?}")
            }
            CustomMount::Inaccessible { .. } => {}
        }
    }
    if let Some(c) = &s.chdir {
        assert!(is_normal_abs(c), "--chdir not normalised: {c:?}");
    }
    if let Some((new, old)) = &s.pivot_root {
        assert!(is_normal_abs(new), "--pivot-root new not normalised: {new:?}");
        if let Some(old) = old {
            assert!(is_normal_abs(old), "--pivot-root old not normalised: {old:?}");
        }
    }
    for e in &s.setenv {
        let (name, _) = e.split_once('=').unwrap_or_else(|| panic!("-E entry without '=': {e:?}"));
        assert!(!name.is_empty(), "-E entry with an empty name: {e:?}");
    }
}

/// `\` and `:` escaped as `split_colons` reads them.
fn esc(p: &Path) -> String {
    let s = p.to_str().expect("values were UTF-8");
    s.replace('\\', "\\\\").replace(':', "\\:")
}

fn src(s: &MountSource) -> String {
    match s {
        MountSource::Host(p) => esc(p),
        MountSource::InRoot(p) => format!("+{}", esc(p)),
    }
}

/// The options that give back the fields compared by the round trip.
fn render(s: &Settings) -> Vec<OsString> {
    let mut out: Vec<String> = Vec::new();
    let mut idmap = false;
    for m in &s.custom_mounts {
        out.push(match m {
            CustomMount::Bind { source, destination, read_only, recursive, idmap: im } => {
                let mut opts = Vec::new();
                if !recursive {
                    opts.push("norbind");
                }
                match im {
                    BindIdmap::None => {}
                    BindIdmap::Idmap => opts.push("idmap"),
                    BindIdmap::RootIdmap => opts.push("rootidmap"),
                    BindIdmap::OwnerIdmap => opts.push("owneridmap"),
                    // Only the OCI runtime's config.json makes it.
                    BindIdmap::IdmapTop => unreachable!("the command line made an OCI-only idmap"),
                }
                idmap |= *im != BindIdmap::None;
                let opt = if *read_only { "bind-ro" } else { "bind" };
                let mut v = format!("--{opt}={}:{}", src(source), esc(destination));
                if !opts.is_empty() {
                    v = format!("{v}:{}", opts.join(","));
                }
                v
            }
            CustomMount::Tmpfs { destination, options } if options.is_empty() => {
                format!("--tmpfs={}", esc(destination))
            }
            CustomMount::Tmpfs { destination, options } => {
                format!("--tmpfs={}:{options}", esc(destination))
            }
            CustomMount::Overlay { lower, upper, destination, read_only } => {
                let mut words: Vec<String> = lower.iter().map(src).collect();
                if !read_only {
                    words.push(upper.as_ref().map(src).unwrap_or_default());
                }
                words.push(esc(destination));
                let opt = if *read_only { "overlay-ro" } else { "overlay" };
                format!("--{opt}={}", words.join(":"))
            }
            CustomMount::Inaccessible { destination } => {
                format!("--inaccessible={}", destination.to_str().unwrap())
            }
        });
    }
    if idmap {
        // idmapped binds need a user namespace (any mode: it is not compared).
        out.push("--private-users=yes".into());
    }
    out.extend(s.setenv.iter().map(|e| format!("--setenv={e}")));
    out.extend(s.properties.iter().map(|p| format!("--property={p}")));
    out.extend(s.system_call_filter.iter().map(|w| format!("--system-call-filter={w}")));
    if let Some(c) = &s.chdir {
        out.push(format!("--chdir={}", c.to_str().unwrap()));
    }
    let mut argv: Vec<OsString> = out.into_iter().map(OsString::from).collect();
    argv.push("--".into());
    argv.extend(s.parameters.iter().cloned());
    argv
}

fuzz_target!(|data: &[u8]| {
    let args = split_args(data);
    let cwd = Path::new(CWD);
    let first = cli::parse(&args, &getenv, cwd);
    let again = cli::parse(&args, &getenv, cwd);
    assert_eq!(first, again, "parse is not deterministic for {args:?}");

    let asked = |w: &str| args.iter().any(|a| a.as_bytes().windows(w.len()).any(|x| x == w.as_bytes()));
    let s = match first {
        Err(e) => {
            assert!(!e.to_string().is_empty(), "empty error message for {args:?}");
            return;
        }
        Ok(cli::Parsed::Help) => {
            assert!(asked("h"), "help without asking: {args:?}");
            return;
        }
        Ok(cli::Parsed::Version) => {
            // `--version` or an unambiguous abbreviation (`--vers`).
            let version = args.iter().any(|a| a.len() >= 4 && b"--version".starts_with(a.as_bytes()));
            assert!(version, "version without asking: {args:?}");
            return;
        }
        Ok(cli::Parsed::ListValues(text)) => {
            assert!(asked("help"), "value list without =help: {args:?}");
            assert!(!text.is_empty(), "empty value list for {args:?}");
            return;
        }
        Ok(cli::Parsed::Run(s)) => s,
    };
    check_invariants(&s);

    let rendered = render(&s);
    let back = match cli::parse(&rendered, &getenv, cwd) {
        Ok(cli::Parsed::Run(b)) => b,
        other => panic!("round trip: {args:?}\n rendered as {rendered:?}\n parsed as {other:?}"),
    };
    assert_eq!(s.custom_mounts, back.custom_mounts, "round trip mounts: {args:?} -> {rendered:?}");
    assert_eq!(s.setenv, back.setenv, "round trip -E: {args:?} -> {rendered:?}");
    assert_eq!(s.properties, back.properties, "round trip --property: {args:?} -> {rendered:?}");
    assert_eq!(
        s.system_call_filter, back.system_call_filter,
        "round trip --system-call-filter: {args:?} -> {rendered:?}"
    );
    assert_eq!(s.chdir, back.chdir, "round trip --chdir: {args:?} -> {rendered:?}");
    assert_eq!(s.parameters, back.parameters, "round trip payload argv: {args:?} -> {rendered:?}");
});
