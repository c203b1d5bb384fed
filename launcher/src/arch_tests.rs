//! The sources stay architecture-clean: no syscall or ioctl number written out, no syscall
//! number defined locally, no inline assembly, and no `#[cfg(target_arch = "x86_64")]` code
//! without a counterpart for the other architectures. Reads launcher/, stub-init/ and netsetup/
//! sources as text and names each offence `file:line`. Syscall numbers come from `libc::SYS_*`,
//! rustix or linux-raw-sys; the seccomp tables (`syscalls_*.rs`) are data, not calls.

use std::path::{Path, PathBuf};

/// The source trees checked, relative to the launcher's manifest directory.
const TREES: &[&str] = &["src", "../stub-init/src", "../netsetup/src"];

/// This file: it spells the patterns out.
const SELF: &str = "arch_tests.rs";

/// What a line must not do, and the check, on the code part of a line: before any `//`, string
/// contents left out.
type LineRule = (&'static str, fn(&str) -> bool);

const LINE_RULES: &[LineRule] = &[
    ("hard-coded syscall number", |code| after_call(code, "syscall(").is_some_and(starts_with_number)),
    ("hard-coded ioctl request", |code| {
        after_call(code, "ioctl(").and_then(|rest| rest.split_once(',')).is_some_and(|(_, r)| starts_with_number(r))
    }),
    ("locally defined syscall number", |code| {
        ["const SYS_", "const __NR_", "static SYS_"].iter().any(|p| code.contains(p))
    }),
    ("inline assembly", |code| code.contains("asm!(") || code.contains("global_asm!(")),
];

/// The text after `name` when `name` is called on this line (not a longer name ending in it).
fn after_call<'a>(code: &'a str, name: &str) -> Option<&'a str> {
    let at = code.find(name)?;
    let before = code[..at].chars().next_back();
    if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some(&code[at + name.len()..])
}

fn starts_with_number(s: &str) -> bool {
    s.trim_start().starts_with(|c: char| c.is_ascii_digit())
}

/// The code part of a line: before a `//` comment, and the same without the contents of its
/// string literals (one line at a time: good enough here).
fn code_of(line: &str) -> (&str, String) {
    let (mut in_string, mut escaped) = (false, false);
    let mut bare = String::new();
    for (i, c) in line.char_indices() {
        match c {
            '"' if !escaped => in_string = !in_string,
            '/' if !in_string && line[i + 1..].starts_with('/') => return (&line[..i], bare),
            _ => {}
        }
        escaped = in_string && c == '\\' && !escaped;
        if !in_string || c == '"' {
            bare.push(c);
        }
    }
    (line, bare)
}

/// The offences of one file's text, as (line number, what).
fn offences(text: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    let cfg_x86_64 = "#[cfg(target_arch = \"x86_64\")]";
    // A file compiling x86_64-only code must also say what the other architectures get.
    let other_arches = ["not(target_arch = \"x86_64\")", "target_arch = \"aarch64\""];
    let has_counterpart = other_arches.iter().any(|p| text.contains(p));
    for (i, line) in text.lines().enumerate() {
        let (code, bare) = code_of(line);
        for (what, rule) in LINE_RULES {
            if rule(&bare) {
                out.push((i + 1, *what));
            }
        }
        if code.contains(cfg_x86_64) && !has_counterpart {
            out.push((i + 1, "x86_64-only code without a cfg for the other architectures"));
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn sources_have_no_architecture_specific_numbers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for tree in TREES {
        rust_files(&root.join(tree), &mut files);
    }
    files.sort();
    assert!(files.len() > 50, "too few sources found: {files:?}");
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with(SELF)) {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
        found.extend(offences(&text).into_iter().map(|(line, what)| format!("{shown}:{line}: {what}")));
    }
    assert!(found.is_empty(), "architecture-specific code:\n{}", found.join("\n"));
}

#[test]
fn the_rules_catch_what_they_name() {
    let bad = [
        "let r = unsafe { libc::syscall(435, &args, 88) };",
        "libc::syscall( 1000)",
        "unsafe { libc::ioctl(fd, 0x5413, &mut ws) };",
        "const SYS_clone3: i64 = 435;",
        "pub const __NR_foo: u32 = 1;",
        "core::arch::asm!(\"syscall\");",
        "#[cfg(target_arch = \"x86_64\")]",
    ];
    for line in bad {
        assert_eq!(offences(line).len(), 1, "{line}");
    }
    let good = [
        "libc::syscall(libc::SYS_clone3, &args, size)",
        "libc::ioctl(fd.as_raw_fd(), request as _, arg)",
        "rustix::ioctl::ioctl(fd, NoArg::<TIOCNOTTY>::new())",
        "my_syscall(1)",
        "// e.g. syscall(435) is clone3",
        "let s = \"syscall(435) // quoted\";",
        "let s = \"a \\\" syscall(435)\";",
        "#[cfg(target_arch = \"x86_64\")]\nfn a() {}\n#[cfg(not(target_arch = \"x86_64\"))]\nfn a() {}",
    ];
    for text in good {
        assert_eq!(offences(text), [], "{text}");
    }
}
