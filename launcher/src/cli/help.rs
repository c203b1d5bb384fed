//! `--help` and `--version` text, generated from the option table.

use super::table::{ArgKind, Group, OptSpec, OPTIONS};

/// The left column of a help line: `  -D --directory=PATH`.
fn usage(o: &OptSpec) -> String {
    let short = match o.short {
        Some(c) => format!("-{c}"),
        None => "  ".to_string(),
    };
    if o.long.is_empty() {
        return format!("  {short}");
    }
    let value = match o.arg {
        ArgKind::None => String::new(),
        ArgKind::Required => format!("={}", o.metavar),
        ArgKind::Optional | ArgKind::OptionalOrNext => format!("[={}]", o.metavar),
    };
    format!("  {short} --{}{value}", o.long)
}

/// The `--help` text: usage, then the options in nspawn's groups; options that are parsed but
/// not supported yet are marked with `*`.
pub fn help_text() -> String {
    let shown: Vec<&OptSpec> = OPTIONS.iter().filter(|o| !o.help.is_empty()).collect();
    let width = shown.iter().map(|o| usage(o).len()).max().unwrap_or(0) + 2;
    let mut out = String::from(
        "spawnbox [OPTIONS...] [PATH] [ARGUMENTS...]\n\n\
         Spawn a command or OS in a lightweight container.\n",
    );
    for group in Group::ALL {
        out.push('\n');
        if let Some(title) = group.title() {
            out.push_str(title);
            out.push_str(":\n");
        }
        for o in shown.iter().filter(|o| o.group == group) {
            let mark = if o.supported { "" } else { " *" };
            out.push_str(&format!("{:<width$}{}{mark}\n", usage(o), o.help));
        }
    }
    out.push_str("\n* parsed, but not supported by spawnbox yet (see docs/CLI.md).\n");
    out
}

/// The `--version` text.
pub fn version_text() -> String {
    format!("spawnbox {} (systemd-nspawn compatible)", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_groups_and_options() {
        let h = help_text();
        assert!(h.starts_with("spawnbox [OPTIONS...] [PATH] [ARGUMENTS...]\n"));
        for title in Group::ALL.iter().filter_map(|g| g.title()) {
            assert!(h.contains(&format!("\n{title}:\n")), "{title}");
        }
        let line = |start: &str| h.lines().find(|l| l.starts_with(start)).map(str::to_string);
        let dir = line("  -D --directory=PATH").unwrap();
        assert!(dir.ends_with("Root directory for the container"), "{dir}");
        assert!(line("     --volatile[=MODE]").is_some());
        assert!(!line("  -U ").unwrap().ends_with(" *"));
        assert!(!line("  -j ").unwrap().ends_with(" *"), "-j works (--link-journal=try-guest)");
        assert!(line("     --private-users-delegate=N").unwrap().ends_with(" *"));
        assert!(!line("  -n --network-veth").unwrap().ends_with(" *"));
        assert!(line("     --bind=PATH[:PATH[:OPTIONS]]").unwrap().ends_with("container"));
        // Hidden as in nspawn.
        assert!(!h.contains("--share-system"));
        assert!(!h.contains("--private-users-chown"));
        // Every help line's text starts in the same column.
        let col = dir.find("Root").unwrap();
        let l = line("  -p --port").unwrap();
        assert_eq!(l.find("Expose").unwrap(), col);
    }

    #[test]
    fn version() {
        assert_eq!(version_text(), "spawnbox 0.1.0 (systemd-nspawn compatible)");
    }
}
