//! The bash and zsh completions of spawnbox and spawnctl (`spawnbox_tests::completions`,
//! installed by `make install` from `make docs`' build/completions/): the scripts name exactly
//! what the tables have, and bash itself completes with them (COMP_WORDS as bash splits a
//! line, with "=" a word of its own, and the completion function `complete -p` names). A fake
//! `spawnctl` on PATH stands for the image list, except in the last test, which lists real
//! images with the real binary (root: a private mount namespace with its own /run/machines).

use spawnbox::cli::{self, ArgKind, Parsed};
use spawnbox::ctl::{self, args};
use spawnbox_tests::completions::{self as gen, Kind};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temp dir holding the scripts (as `make docs` lays them out) and a fake spawnctl.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("spawnbox-completions-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (rel, text) in gen::scripts() {
            let p = d.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        // A spawnctl that logs its arguments and lists two images as list-images does.
        let fake = d.join("bin/spawnctl");
        std::fs::create_dir_all(fake.parent().unwrap()).unwrap();
        std::fs::write(
            &fake,
            "#!/bin/sh\necho \"$*\" >> \"$FAKE_LOG\"\n\
             echo 'alpha directory no  n/a Thu 2026-01-01 00:00:00 UTC Thu 2026-01-01 00:00:00 UTC'\n\
             echo 'beta  directory yes n/a n/a                         n/a'\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(d.join("cwd/adir")).unwrap();
        std::fs::create_dir_all(d.join("cwd/bdir")).unwrap();
        std::fs::write(d.join("cwd/cfile"), "").unwrap();
        Dir(d)
    }

    /// What bash's completion of `words` (the last one is being completed) offers, sorted;
    /// `words[0]`'s completion function is the one `complete -p` names for its base name.
    fn complete(&self, words: &[&str]) -> Vec<String> {
        let cmd = Path::new(words[0]).file_name().unwrap().to_str().unwrap();
        let script = self.0.join("bash").join(if cmd == "spawnctl" { "spawnctl" } else { "spawnbox" });
        let out = self.bash(
            r#"source "$1"; shift
spec=$(complete -p "${1##*/}") || exit 3
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" || exit 4
printf '%s\n' "${COMPREPLY[@]}""#,
            &[script.to_str().unwrap()],
            words,
        );
        let mut got: Vec<String> = out.lines().filter(|l| !l.is_empty()).map(str::to_string).collect();
        got.sort();
        got
    }

    /// Runs `bash -c SCRIPT bash ARGS... WORDS...` in `cwd/` with the fake spawnctl first on
    /// PATH; its stdout (it must succeed, silently on stderr).
    fn bash(&self, script: &str, args: &[&str], words: &[&str]) -> String {
        let out = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", script, "bash"])
            .args(args)
            .args(words)
            .current_dir(self.0.join("cwd"))
            .env_clear()
            .env("PATH", format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", self.0.join("bin").display()))
            .env("FAKE_LOG", self.0.join("fake.log"))
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "bash {words:?}: {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status);
        assert_eq!(stderr, "", "bash {words:?}");
        stdout.into_owned()
    }

    fn fake_log(&self) -> String {
        std::fs::read_to_string(self.0.join("fake.log")).unwrap_or_default()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The words spawnbox lists for `--LONG=help`.
fn listed(long: &str) -> Vec<String> {
    match cli::parse(&[OsString::from(format!("--{long}=help"))], &|_| None, Path::new("/")) {
        Ok(Parsed::ListValues(t)) => {
            let mut w: Vec<String> = t.split_whitespace().map(str::to_string).collect();
            w.sort();
            w
        }
        other => panic!("--{long}=help: {other:?}"),
    }
}

/// The words of the bash script's `compgen -W 'FIRST ...'` list.
fn quoted_list(script: &str, first: &str) -> BTreeSet<String> {
    let start = format!("compgen -W '{first} ");
    let line = script.lines().find(|l| l.contains(&start)).unwrap_or_else(|| panic!("no {start:?}"));
    let rest = &line[line.find(&start).unwrap() + "compgen -W '".len()..];
    rest[..rest.find('\'').unwrap()].split_whitespace().map(str::to_string).collect()
}

#[test]
fn scripts_name_exactly_what_the_tables_have() {
    // spawnctl: every verb, every option (long and short), nothing else.
    let bash = gen::bash_spawnctl();
    let verbs: BTreeSet<String> = ctl::VERBS.iter().map(|v| v.name.to_string()).collect();
    assert_eq!(quoted_list(&bash, "list"), verbs);
    let mut opts: BTreeSet<String> = args::OPTIONS.iter().map(|o| format!("--{}", o.long)).collect();
    opts.extend(args::OPTIONS.iter().filter_map(|o| o.short.map(|c| format!("-{c}"))));
    assert_eq!(quoted_list(&bash, "--help"), opts);
    // Every verb has its operands' arm (or none at all: `list`, `list-images`).
    for v in ctl::VERBS {
        let (kinds, _) = gen::verb_operands(v.synopsis);
        assert_eq!(bash.contains(&format!("{}:", v.name)), !kinds.is_empty(), "{}", v.name);
    }
    let zsh = gen::zsh_spawnctl();
    for v in ctl::VERBS {
        assert!(zsh.contains(&format!("        '{}:", v.name)), "zsh lacks verb {}", v.name);
    }
    for o in args::OPTIONS {
        assert!(zsh.contains(&format!("'*--{}", o.long)), "zsh lacks --{}", o.long);
    }

    // spawnbox: the long options --help shows (with `--opt=` for optional values).
    let shown: Vec<_> = cli::OPTIONS.iter().filter(|o| !o.help.is_empty() && !o.long.is_empty()).collect();
    let mut want: BTreeSet<String> = shown.iter().map(|o| format!("--{}", o.long)).collect();
    want.extend(
        shown
            .iter()
            .filter(|o| matches!(o.arg, ArgKind::Optional | ArgKind::OptionalOrNext))
            .map(|o| format!("--{}=", o.long)),
    );
    assert_eq!(quoted_list(&gen::bash_spawnbox(), "--help"), want);
    let zsh = gen::zsh_spawnbox();
    for o in cli::OPTIONS.iter().filter(|o| !o.help.is_empty()) {
        let name = if o.long.is_empty() { format!("'*-{}[", o.short.unwrap()) } else { format!("'*--{}", o.long) };
        assert!(zsh.contains(&name), "zsh lacks {name}");
    }
    // Values come from the table: what --X=help lists, the override kinds.
    let console = cli::OPTIONS.iter().find(|o| o.long == "console").unwrap();
    let (kind, mut words) = gen::spawnbox_values(console);
    words.sort();
    assert_eq!((kind, words), (Kind::Words, listed("console")));
    let dir = cli::OPTIONS.iter().find(|o| o.long == "directory").unwrap();
    assert_eq!(gen::spawnbox_values(dir).0, Kind::Directory);
    assert_eq!(gen::verb_operands("clone NAME NAME"), (vec![Kind::Image, Kind::Free], false));
    assert_eq!(gen::verb_operands("shell [[USER@]NAME [COMMAND...]]"), (vec![Kind::Image, Kind::Free], true));
}

#[test]
fn bash_completes_spawnctl_verbs_and_operands() {
    let d = Dir::new("ctl");
    let spec = d.bash("source \"$1\"; complete -p spawnctl", &[d.0.join("bash/spawnctl").to_str().unwrap()], &[]);
    assert_eq!(spec, "complete -F _spawnctl spawnctl\n");
    // spawnctl li<TAB>
    let want: Vec<String> =
        ctl::VERBS.iter().filter(|v| v.name.starts_with("li")).map(|v| v.name.to_string()).collect();
    assert_eq!(want, ["list", "list-images"]);
    assert_eq!(d.complete(&["spawnctl", "li"]), want);
    assert_eq!(d.complete(&["spawnctl", "--no-le"]), ["--no-legend"]);
    // Image names for the image verbs, from `spawnctl list-images --no-legend`.
    assert_eq!(d.complete(&["spawnctl", "show-image", ""]), ["alpha", "beta"]);
    assert_eq!(d.fake_log(), "list-images --no-legend\n");
    assert_eq!(d.complete(&["spawnctl", "remove", "alpha", "b"]), ["beta"]);
    // Options and their values are skipped when finding the verb and the operand.
    assert_eq!(d.complete(&["spawnctl", "-o", "json", "image-status", "a"]), ["alpha"]);
    assert_eq!(d.complete(&["spawnctl", "--output", "=", "json", "-a", "show-image", ""]), ["alpha", "beta"]);
    assert_eq!(d.complete(&["spawnctl", "-ao", "json", "show-image", "al"]), ["alpha"]);
    // A new name is not completed, a boolean is, directories for import-fs.
    assert_eq!(d.complete(&["spawnctl", "clone", "alpha", ""]), Vec::<String>::new());
    assert_eq!(d.complete(&["spawnctl", "read-only", "alpha", ""]), ["no", "yes"]);
    assert_eq!(d.complete(&["spawnctl", "import-fs", ""]), ["adir", "bdir"]);
    // An option's value is nobody's business but the option's.
    assert_eq!(d.complete(&["spawnctl", "-p", ""]), Vec::<String>::new());
    assert_eq!(d.complete(&["spawnctl", "--property", "=", "Na"]), Vec::<String>::new());
}

#[test]
fn bash_completes_spawnbox_options_and_values() {
    let d = Dir::new("box");
    let spec = d.bash("source \"$1\"; complete -p spawnbox", &[d.0.join("bash/spawnbox").to_str().unwrap()], &[]);
    assert_eq!(spec, "complete -o bashdefault -o default -F _spawnbox spawnbox\n");
    // spawnbox --netw<TAB>: the --network-* options.
    let want: Vec<String> = cli::OPTIONS
        .iter()
        .filter(|o| o.long.starts_with("netw") && !o.help.is_empty())
        .map(|o| format!("--{}", o.long))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(want.len(), 10, "{want:?}");
    assert_eq!(d.complete(&["spawnbox", "--netw"]), want);
    assert_eq!(d.complete(&["spawnbox", "--volat"]), ["--volatile", "--volatile="]);
    // Values: after "=" and as the next word; an optional value only after "=".
    assert_eq!(d.complete(&["spawnbox", "--console", "=", ""]), listed("console"));
    assert_eq!(d.complete(&["spawnbox", "--console", ""]), listed("console"));
    assert_eq!(
        d.complete(&["spawnbox", "--resolv-conf", "=", "copy-"]),
        strings(&["copy-host", "copy-static", "copy-stub", "copy-uplink"])
    );
    assert_eq!(d.complete(&["spawnbox", "--volatile", "=", ""]), listed("volatile"));
    assert_eq!(d.complete(&["spawnbox", "--volatile", ""]), Vec::<String>::new());
    assert_eq!(d.complete(&["spawnbox", "--network-nat", "=", ""]), ["no", "yes"]);
    assert_eq!(d.complete(&["spawnbox", "--settings", "=", "t"]), ["trusted"]);
    // Without "=" among COMP_WORDBREAKS the word is --opt=VALUE.
    assert_eq!(d.complete(&["spawnbox", "--timezone=s"]), ["--timezone=symlink"]);
    // Directories for -D (also at the end of a cluster) and --template, images for -M.
    assert_eq!(d.complete(&["spawnbox", "-D", ""]), ["adir", "bdir"]);
    assert_eq!(d.complete(&["spawnbox", "-bD", "a"]), ["adir"]);
    assert_eq!(d.complete(&["spawnbox", "--template", "=", ""]), ["adir", "bdir"]);
    assert_eq!(d.complete(&["spawnbox", "-M", ""]), ["alpha", "beta"]);
    assert_eq!(d.complete(&["spawnbox", "-bM", "b"]), ["beta"]);
    assert_eq!(d.fake_log(), "list-images --no-legend\nlist-images --no-legend\n");
    // After the command, its own words: no spawnbox options.
    assert_eq!(d.complete(&["spawnbox", "-D", "adir", "/bin/ls", "--l"]), Vec::<String>::new());
    assert_eq!(d.complete(&["spawnbox", "-D", "adir", "--", "--l"]), Vec::<String>::new());
    assert_eq!(d.complete(&["spawnbox", "-u", "alice", "-b", "--qu"]), ["--quiet"]);
}

#[test]
fn zsh_scripts_parse_and_register() {
    let d = Dir::new("zsh");
    for f in ["zsh/_spawnbox", "zsh/_spawnctl"] {
        let out = Command::new("zsh").args(["-n"]).arg(d.0.join(f)).output().expect("run zsh (make deps installs it)");
        assert!(out.status.success(), "zsh -n {f}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // compinit reads the #compdef lines of the directory's files.
    let out = Command::new("zsh")
        .args([
            "-f",
            "-c",
            "fpath=($1 $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[spawnbox] $_comps[spawnctl]",
            "zsh",
        ])
        .arg(d.0.join("zsh"))
        .env("HOME", &d.0)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "_spawnbox _spawnctl\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bash_lists_real_images_with_the_real_spawnctl() {
    spawnbox_tests::require_root();
    let d = Dir::new("real");
    let ctl = d.0.join("real/spawnctl");
    std::fs::create_dir_all(ctl.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(spawnbox_tests::spawnbox_bin(), &ctl).unwrap();
    let script = d.0.join("bash/spawnctl");
    // In a private mount namespace with a fresh /run: /run/machines/compl-web is an image.
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "bash", "--norc", "-c"])
        .arg(
            r#"set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/machines/compl-web /run/machines/compl-db
source "$1"
COMP_WORDS=("$2" show-image compl-); COMP_CWORD=2
_spawnctl "$2" compl- show-image
printf '%s\n' "${COMPREPLY[@]}"
echo ---
"$2" list-images --no-legend | grep compl- | cut -d' ' -f1"#,
        )
        .args(["bash", script.to_str().unwrap(), ctl.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "compl-db\ncompl-web\n---\ncompl-db\ncompl-web\n");
}
