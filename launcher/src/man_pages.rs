//! Checks the man pages (`docs/man/*.scd`, built by `make docs`) against the code's tables:
//! spawnbox(1)'s OPTIONS against the option table, spawnctl(1) against the verb and option
//! tables, spawnbox.nspawn(5) against the `.nspawn` keys. Exact both ways: an entry missing
//! from a page, or one the code no longer has, fails.
//!
//! The pages' convention: a *term* is a line at the start of a line, starting with `*`, whose
//! next line is indented with a tab (its text); a term's plain text (without scdoc's `*`, `_`
//! and `\` markup) spells the entry as `--help` does: `-D, --directory=PATH`.

use crate::cli::{ArgKind, Group, OptSpec, OPTIONS};
use crate::ctl::{args, VERBS};
use crate::settings::file::{Section, KEYS};
use std::collections::BTreeMap;

const SPAWNBOX_1: &str = include_str!("../../docs/man/spawnbox.1.scd");
const SPAWNCTL_1: &str = include_str!("../../docs/man/spawnctl.1.scd");
const NSPAWN_5: &str = include_str!("../../docs/man/spawnbox.nspawn.5.scd");

/// The lines of section `# TITLE`, up to the next section.
fn section<'a>(page: &'a str, title: &str) -> Vec<&'a str> {
    let heading = format!("# {title}");
    let mut lines = page.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "no section {heading:?}");
    lines.take_while(|l| !l.starts_with("# ")).collect()
}

/// A line without scdoc's markup: `*` and `_` dropped, `\x` is `x`.
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '*' | '_' => {}
            c => out.push(c),
        }
    }
    out
}

/// A term of a page: the subsection it is in, its plain text, its text's lines.
#[derive(Debug)]
struct Term {
    subsection: String,
    name: String,
    body: Vec<String>,
}

/// The terms of `lines` (a section), with the `## ` subsection each is in.
fn terms(lines: &[&str]) -> Vec<Term> {
    let mut out = Vec::new();
    let mut subsection = String::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(h) = line.strip_prefix("## ") {
            subsection = h.to_string();
            continue;
        }
        let indented = lines.get(i + 1).is_some_and(|n| n.starts_with('\t'));
        if !line.starts_with('*') || !indented {
            continue;
        }
        let body = lines[i + 1..].iter().take_while(|l| l.starts_with('\t')).map(|l| l[1..].to_string()).collect();
        out.push(Term { subsection: subsection.clone(), name: plain(line), body });
    }
    out
}

/// An option's term, as `--help` spells it: `-D, --directory=PATH`, `--volatile[=MODE]`, `-U`.
fn option_term(o: &OptSpec) -> String {
    let mut names = Vec::new();
    if let Some(c) = o.short {
        names.push(format!("-{c}"));
    }
    if !o.long.is_empty() {
        let value = match o.arg {
            ArgKind::None => String::new(),
            ArgKind::Required => format!("={}", o.metavar),
            ArgKind::Optional | ArgKind::OptionalOrNext => format!("[={}]", o.metavar),
        };
        names.push(format!("--{}{value}", o.long));
    }
    names.join(", ")
}

/// The subsection of spawnbox(1)'s OPTIONS for a `--help` group.
fn group_heading(g: Group) -> String {
    format!("{} options", g.title().unwrap_or("General"))
}

/// The checks of spawnbox(1) against `options`; the problems found.
fn check_spawnbox(page: &str, options: &[OptSpec]) -> Vec<String> {
    let mut problems = Vec::new();
    let found = terms(&section(page, "OPTIONS"));
    let mut by_name: BTreeMap<&str, Vec<&Term>> = BTreeMap::new();
    for t in &found {
        by_name.entry(&t.name).or_default().push(t);
    }
    for o in options {
        let want = option_term(o);
        let Some(ts) = by_name.remove(want.as_str()) else {
            problems.push(format!("spawnbox.1: OPTIONS lacks `{want}`"));
            continue;
        };
        if ts.len() > 1 {
            problems.push(format!("spawnbox.1: `{want}` is documented {} times", ts.len()));
        }
        let t = ts[0];
        if t.subsection != group_heading(o.group) {
            problems.push(format!(
                "spawnbox.1: `{want}` is under {:?}, not {:?}",
                t.subsection,
                group_heading(o.group)
            ));
        }
        let marked = t.body.first().is_some_and(|l| l.starts_with("*Not supported*"));
        let claims = t.body.iter().any(|l| l.contains("*Not supported*"));
        if !o.supported && !marked {
            problems.push(format!("spawnbox.1: `{want}` is not supported: its text must start with *Not supported*"));
        }
        if o.supported && claims {
            problems.push(format!("spawnbox.1: `{want}` is supported but its text says *Not supported*"));
        }
    }
    for name in by_name.keys() {
        problems.push(format!("spawnbox.1: OPTIONS documents `{name}`, which the option table lacks"));
    }
    let mut headings: Vec<String> = found.iter().map(|t| t.subsection.clone()).collect();
    headings.dedup();
    let want: Vec<String> = Group::ALL.iter().map(|g| group_heading(*g)).collect();
    if headings != want {
        problems.push(format!("spawnbox.1: OPTIONS subsections {headings:?}, --help has {want:?}"));
    }
    problems
}

#[test]
fn spawnbox_1_documents_every_option() {
    assert_eq!(check_spawnbox(SPAWNBOX_1, OPTIONS), Vec::<String>::new());
}

#[test]
fn spawnbox_1_check_catches_missing_and_stale_options() {
    // A page without `--hostname` (remove its term line), against the real table ...
    let without: String = SPAWNBOX_1.lines().filter(|l| !l.starts_with("*--hostname=")).collect::<Vec<_>>().join("\n");
    assert_eq!(check_spawnbox(&without, OPTIONS), ["spawnbox.1: OPTIONS lacks `--hostname=NAME`"]);
    // ... and the real page against a table without it.
    let fewer: Vec<OptSpec> =
        OPTIONS.iter().filter(|o| o.long != "hostname").map(|o| OptSpec { ..*o }).collect::<Vec<_>>();
    assert_eq!(
        check_spawnbox(SPAWNBOX_1, &fewer),
        ["spawnbox.1: OPTIONS documents `--hostname=NAME`, which the option table lacks"]
    );
    // A metavar that differs from --help's, a supported option marked as not supported.
    let renamed = SPAWNBOX_1.replace("*--uuid=*_UUID_", "*--uuid=*_ID_");
    assert_eq!(
        check_spawnbox(&renamed, OPTIONS),
        [
            "spawnbox.1: OPTIONS lacks `--uuid=UUID`",
            "spawnbox.1: OPTIONS documents `--uuid=ID`, which the option table lacks"
        ]
    );
    let marked = SPAWNBOX_1.replace("\tThe container's host name,", "\t*Not supported*. The container's host name,");
    assert_eq!(
        check_spawnbox(&marked, OPTIONS),
        ["spawnbox.1: `--hostname=NAME` is supported but its text says *Not supported*"]
    );
}

/// spawnctl(1): a verb's term is its synopsis; the verbs without a handler are in the
/// "Not implemented yet" subsection and only there.
fn check_spawnctl(page: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut found: BTreeMap<String, String> =
        terms(&section(page, "COMMANDS")).into_iter().map(|t| (t.name, t.subsection)).collect();
    for v in VERBS {
        match found.remove(v.synopsis) {
            None => problems.push(format!("spawnctl.1: COMMANDS lacks `{}`", v.synopsis)),
            Some(sub) if (sub == "Not implemented yet") == v.implemented() => {
                problems.push(format!("spawnctl.1: `{}` is under {sub:?}", v.name))
            }
            Some(_) => {}
        }
    }
    problems.extend(found.keys().map(|n| format!("spawnctl.1: COMMANDS documents `{n}`, which the verb table lacks")));
    // Options: `-a, --all`, `-o, --output=MODE`: the names and whether a value follows.
    let mut found: BTreeMap<String, (Option<char>, bool)> = BTreeMap::new();
    for t in terms(&section(page, "OPTIONS")) {
        let mut short = None;
        let mut long = None;
        for part in t.name.split(", ") {
            if let Some(l) = part.strip_prefix("--") {
                long = Some(l.to_string());
            } else if let Some(s) = part.strip_prefix('-') {
                short = s.chars().next();
            }
        }
        match long {
            Some(l) => {
                let value = l.contains('=');
                let name = l.split('=').next().unwrap_or_default().to_string();
                found.insert(name, (short, value));
            }
            None => problems.push(format!("spawnctl.1: option term `{}` has no long name", t.name)),
        }
    }
    for o in args::OPTIONS {
        match found.remove(o.long) {
            None => problems.push(format!("spawnctl.1: OPTIONS lacks --{}", o.long)),
            Some(got) if got != (o.short, o.value) => problems.push(format!(
                "spawnctl.1: --{}: documented as (short {:?}, value {}), the table has ({:?}, {})",
                o.long, got.0, got.1, o.short, o.value
            )),
            Some(_) => {}
        }
    }
    problems.extend(found.keys().map(|n| format!("spawnctl.1: OPTIONS documents --{n}, which spawnctl lacks")));
    problems
}

#[test]
fn spawnctl_1_documents_every_verb_and_option() {
    assert_eq!(check_spawnctl(SPAWNCTL_1), Vec::<String>::new());
    // Missing and stale entries are caught.
    let without = SPAWNCTL_1.replace("*rename* _NAME_ _NAME_\n", "*rename* _OLD_ _NEW_\n");
    assert_eq!(
        check_spawnctl(&without),
        [
            "spawnctl.1: COMMANDS lacks `rename NAME NAME`",
            "spawnctl.1: COMMANDS documents `rename OLD NEW`, which the verb table lacks"
        ]
    );
    let flag = SPAWNCTL_1.replace("*--force*\n", "*--force=*_BOOL_\n");
    assert_eq!(
        check_spawnctl(&flag),
        ["spawnctl.1: --force: documented as (short None, value true), the table has (None, false)"]
    );
}

/// spawnbox.nspawn(5): `# [SECTION] SECTION OPTIONS` has a `*Key=*` term for each key of the
/// section and no other; each key's text names its option; extensions say so.
fn check_nspawn(page: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for s in Section::ALL {
        let title = format!("[{}] SECTION OPTIONS", s.name().to_uppercase());
        let mut found: BTreeMap<String, Vec<String>> =
            terms(&section(page, &title)).into_iter().map(|t| (t.name, t.body)).collect();
        for k in KEYS.iter().filter(|k| k.section == s) {
            let Some(body) = found.remove(&format!("{}=", k.name)) else {
                problems.push(format!("spawnbox.nspawn.5: [{}] lacks {}=", s.name(), k.name));
                continue;
            };
            let text = body.join(" ");
            let option = k.option.rsplit('/').next().unwrap_or_default();
            if option.starts_with("--") && !plain(&text).contains(option) {
                problems.push(format!("spawnbox.nspawn.5: {}= does not name {option}", k.name));
            }
            if k.extension != text.contains("spawnbox extension") {
                problems.push(format!("spawnbox.nspawn.5: {}= must say whether it is a spawnbox extension", k.name));
            }
        }
        for name in found.keys() {
            problems.push(format!("spawnbox.nspawn.5: [{}] documents {name}, which the key table lacks", s.name()));
        }
    }
    problems
}

#[test]
fn nspawn_5_documents_every_key() {
    assert_eq!(check_nspawn(NSPAWN_5), Vec::<String>::new());
    let moved = NSPAWN_5.replacen("*Hostname=*\n", "*HostName=*\n", 1);
    assert_eq!(
        check_nspawn(&moved),
        [
            "spawnbox.nspawn.5: [Exec] lacks Hostname=",
            "spawnbox.nspawn.5: [Exec] documents HostName=, which the key table lacks"
        ]
    );
}

#[test]
fn plain_and_terms() {
    assert_eq!(plain("*-p*, *--port=*_[PROTOCOL:]HOSTPORT_"), "-p, --port=[PROTOCOL:]HOSTPORT");
    assert_eq!(plain(r"*--x*=\*a\_b\\"), r"--x=*a_b\");
    let t = terms(&["## A", "*-x*", "\tone", "\ttwo", "", "*not a term*", "text", "*-y*", "\tthree"]);
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].subsection.as_str(), t[0].name.as_str(), t[0].body.len()), ("A", "-x", 2));
    assert_eq!((t[1].name.as_str(), t[1].body[0].as_str()), ("-y", "three"));
}
