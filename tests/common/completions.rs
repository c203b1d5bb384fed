//! Shell completions for spawnbox and spawnctl, generated from the library's tables: the
//! option table (`spawnbox::cli::OPTIONS`, with the values `--X=help` lists), spawnctl's verb
//! table (`spawnbox::ctl::VERBS`, each verb's operands read from its synopsis) and option
//! table (`spawnbox::ctl::args::OPTIONS`). `make docs` runs the `spawnbox-completions` binary
//! (`tests/gen_completions.rs`) into `build/completions/`; `tests/completions.rs` checks the
//! scripts against the tables and runs them in bash.

use spawnbox::cli::{self, ArgKind, OptSpec, Parsed};
use spawnbox::ctl::{self, args};
use std::ffi::OsString;
use std::path::Path;

/// The scripts: (path below the output directory, text). `make install` copies
/// `bash/NAME` to `share/bash-completion/completions/NAME` and `zsh/_NAME` to
/// `share/zsh/site-functions/_NAME`.
pub fn scripts() -> Vec<(&'static str, String)> {
    vec![
        ("bash/spawnbox", bash_spawnbox()),
        ("bash/spawnctl", bash_spawnctl()),
        ("zsh/_spawnbox", zsh_spawnbox()),
        ("zsh/_spawnctl", zsh_spawnctl()),
    ]
}

/// What completes a value or an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Nothing we know of (bash falls back to file names for spawnbox).
    Free,
    /// A directory on the host.
    Directory,
    /// A file on the host.
    File,
    /// An image name, from `spawnctl list-images --no-legend`.
    Image,
    /// Words of a fixed set (given with it).
    Words,
}

const BOOLEANS: &[&str] = &["yes", "no"];

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

/// The options whose values the table cannot tell: host directories, image names, and
/// `--settings`, whose metavar says BOOLEAN but which also takes `trusted` and `override`.
fn spawnbox_kind_override(long: &str) -> Option<(Kind, Vec<String>)> {
    Some(match long {
        "directory" | "template" | "oci-bundle" => (Kind::Directory, Vec::new()),
        "machine" => (Kind::Image, Vec::new()),
        "settings" => (Kind::Words, words(&["yes", "no", "trusted", "override"])),
        _ => return None,
    })
}

/// The values of option `o`: the override above, else the words `--X=help` lists, else
/// booleans for a BOOL(EAN) metavar, else host files for a metavar naming a path, else the
/// lowercase words of a metavar of alternatives (`off|auto|CIDR`).
pub fn spawnbox_values(o: &OptSpec) -> (Kind, Vec<String>) {
    if let Some(found) = spawnbox_kind_override(o.long) {
        return found;
    }
    if o.arg == ArgKind::None || o.long.is_empty() {
        return (Kind::Free, Vec::new());
    }
    if let Some(listed) = listed_values(o.long) {
        return (Kind::Words, listed);
    }
    if o.metavar == "BOOL" || o.metavar == "BOOLEAN" {
        return (Kind::Words, words(BOOLEANS));
    }
    if o.metavar.starts_with("PATH") || o.metavar.starts_with("FILE") {
        return (Kind::File, Vec::new());
    }
    // `off|auto|CIDR`: the lowercase alternatives are literal words.
    let literal: Vec<String> = o
        .metavar
        .split('|')
        .filter(|w| w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        .map(str::to_string)
        .collect();
    if o.metavar.contains('|') && !literal.is_empty() {
        return (Kind::Words, literal);
    }
    (Kind::Free, Vec::new())
}

/// The words spawnbox prints for `--LONG=help`, if it lists values for that option.
fn listed_values(long: &str) -> Option<Vec<String>> {
    let args = [OsString::from(format!("--{long}=help"))];
    match cli::parse(&args, &|_| None, Path::new("/")) {
        Ok(Parsed::ListValues(text)) => Some(text.split_whitespace().map(str::to_string).collect()),
        _ => None,
    }
}

/// The options `--help` shows (hidden ones are left out of the lists, as in `--help`).
fn shown_options() -> impl Iterator<Item = &'static OptSpec> {
    cli::OPTIONS.iter().filter(|o| !o.help.is_empty())
}

/// The long options a completion offers: `--directory`, and `--volatile` plus `--volatile=`
/// for an option whose value must follow `=`.
pub fn spawnbox_long_words() -> Vec<String> {
    let mut out = Vec::new();
    for o in shown_options().filter(|o| !o.long.is_empty()) {
        out.push(format!("--{}", o.long));
        if matches!(o.arg, ArgKind::Optional | ArgKind::OptionalOrNext) {
            out.push(format!("--{}=", o.long));
        }
    }
    out
}

/// An option's names as a shell `case` pattern: `-D|--directory`.
fn pattern(long: &str, short: Option<char>) -> String {
    let mut names = Vec::new();
    if !long.is_empty() {
        names.push(format!("--{long}"));
    }
    if let Some(c) = short {
        names.push(format!("-{c}"));
    }
    names.join("|")
}

/// `case` patterns of the options that take the next word as their value (`--opt value`,
/// `-o value`, and a short cluster ending in such a letter: `-bD dir`).
fn takes_next_word<'a>(opts: impl Iterator<Item = (&'a str, Option<char>)>) -> String {
    let mut pats = Vec::new();
    for (long, short) in opts {
        if !long.is_empty() {
            pats.push(format!("--{long}"));
        }
        if let Some(c) = short {
            pats.push(format!("-{c}"));
            pats.push(format!("-[!-]*{c}"));
        }
    }
    pats.join("|")
}

/// Single-quoted for the shell.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The bash lines that fill COMPREPLY for `kind` (the word is `$cur`, images come from the
/// spawnctl at `$ctl`).
fn bash_action(kind: Kind, words: &[String]) -> String {
    match kind {
        Kind::Free => "return 0".to_string(),
        Kind::Directory => "compopt -o filenames 2>/dev/null || :; COMPREPLY=($(compgen -d -- \"$cur\"))".to_string(),
        Kind::File => "compopt -o filenames 2>/dev/null || :; COMPREPLY=($(compgen -f -- \"$cur\"))".to_string(),
        Kind::Image => "COMPREPLY=($(compgen -W \"$(__spawnbox_images \"$ctl\")\" -- \"$cur\"))".to_string(),
        Kind::Words => format!("COMPREPLY=($(compgen -W {} -- \"$cur\"))", sq(&words.join(" "))),
    }
}

/// The shared bash prologue: image names, and the word being completed split at `=`.
const BASH_HELPERS: &str = r#"# The image names spawnctl lists (first column of `list-images --no-legend`).
__spawnbox_images() {
    local name rest
    while read -r name rest; do
        if [[ -n $name ]]; then printf '%s\n' "$name"; fi
    done < <("$1" list-images --no-legend 2>/dev/null)
}

# Sets cur (the word being completed), opt (the word before it, or the option before its
# "="), eq (set when cur follows opt's "=") and pre (what goes before each reply: "--opt="
# when "=" is not among COMP_WORDBREAKS) from COMP_WORDS.
__spawnbox_split() {
    cur=${COMP_WORDS[COMP_CWORD]} pre= opt= eq=1
    local prev=${COMP_WORDS[COMP_CWORD-1]}
    if [[ $cur == = ]]; then
        opt=$prev cur=
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
        opt=${COMP_WORDS[COMP_CWORD-2]}
    elif [[ $cur == --*=* ]]; then
        opt=${cur%%=*} pre=${cur%%=*}= cur=${cur#*=}
    else
        opt=$prev eq=
        # A short cluster: its last letter takes the value (-bD DIR).
        if [[ $opt == -[!-]?* ]]; then opt=-${opt: -1}; fi
    fi
}
"#;

/// The file header of every script.
fn header(what: &str) -> String {
    format!(
        "# {what}\n# Generated by spawnbox-completions (tests/common/completions.rs) from spawnbox's tables: \
         do not edit.\n"
    )
}

/// bash completion for spawnbox: long options, option values, then the command's own words
/// (bash's default completion).
pub fn bash_spawnbox() -> String {
    let mut values: Vec<(String, Vec<String>)> = Vec::new();
    for o in cli::OPTIONS.iter().filter(|o| o.arg != ArgKind::None) {
        let (kind, words) = spawnbox_values(o);
        if kind != Kind::Free {
            add_arm(&mut values, bash_action(kind, &words), pattern(o.long, o.short));
        }
    }
    let values = arms(&values, "            ");
    // `--user NAME` takes the next word only when it does not start with `-`; treat it as
    // taking it, so NAME is not taken for the command.
    let next = takes_next_word(
        cli::OPTIONS
            .iter()
            .filter(|o| matches!(o.arg, ArgKind::Required | ArgKind::OptionalOrNext))
            .map(|o| (o.long, o.short)),
    );
    format!(
        r#"{header}
{helpers}
_spawnbox() {{
    local cur pre opt eq ctl=spawnctl
    if [[ ${{COMP_WORDS[0]}} == */* ]]; then ctl=${{COMP_WORDS[0]%/*}}/spawnctl; fi
    __spawnbox_split
    # An option's value: after its "=", or as the next word of an option that takes one.
    local value=$eq
    case $opt in
        {next}) value=1 ;;
    esac
    if [[ -n $value ]]; then
        case $opt in
{values}        esac
        if [[ -n $pre ]]; then COMPREPLY=("${{COMPREPLY[@]/#/$pre}}"); fi
        return 0
    fi
    # After the first word that is not an option (or after --), the command's own words.
    local i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${{COMP_WORDS[i]}}
        case $w in
            --) return 0 ;;
            =) i=$((i + 1)) ;;
            {next}) if [[ ${{COMP_WORDS[i+1]}} != = ]]; then i=$((i + 1)); fi ;;
            -*) ;;
            *) return 0 ;;
        esac
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W {longs} -- "$cur"))
        if [[ ${{#COMPREPLY[@]}} == 1 && ${{COMPREPLY[0]}} == *= ]]; then compopt -o nospace 2>/dev/null || :; fi
    fi
    return 0
}}
complete -o bashdefault -o default -F _spawnbox spawnbox
"#,
        header = header("bash completion for spawnbox(1)."),
        helpers = BASH_HELPERS,
        values = values,
        next = next,
        longs = sq(&spawnbox_long_words().join(" ")),
    )
}

/// What each operand of a verb is, read from its synopsis: the first operand named NAME is
/// an image (a later NAME is a new name), DIRECTORY a directory, FILE and PATH files, BOOL a
/// boolean. The last kind repeats when the synopsis ends in `...`.
pub fn verb_operands(synopsis: &str) -> (Vec<Kind>, bool) {
    let words: Vec<String> =
        synopsis.split_whitespace().skip(1).map(|w| w.replace(['[', ']'], "")).filter(|w| !w.is_empty()).collect();
    let mut kinds = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let base = w.trim_end_matches("...").rsplit('@').next().unwrap_or_default();
        kinds.push(match base {
            "NAME" if i == 0 => Kind::Image,
            "DIRECTORY" => Kind::Directory,
            "FILE" | "PATH" => Kind::File,
            "BOOL" => Kind::Words,
            _ => Kind::Free,
        });
    }
    let repeats = words.last().is_some_and(|w| w.ends_with("..."));
    (kinds, repeats)
}

/// `case "$verb:$n"` arms (n: the operand's index from 0) completing each verb's operands,
/// one arm per action: `status:*|show:*) ACTION ;;`. A repeated last operand is `verb:*`; those
/// arms come after every numbered one, so `shell:0` is matched before `shell:*`.
fn operand_arms(action: impl Fn(Kind) -> String, indent: &str) -> String {
    let mut numbered: Vec<(String, Vec<String>)> = Vec::new();
    let mut starred: Vec<(String, Vec<String>)> = Vec::new();
    for v in ctl::VERBS {
        let (kinds, repeats) = verb_operands(v.synopsis);
        for (i, k) in kinds.iter().enumerate() {
            let star = repeats && i + 1 == kinds.len();
            if star {
                add_arm(&mut starred, action(*k), format!("{}:*", v.name));
            } else {
                add_arm(&mut numbered, action(*k), format!("{}:{i}", v.name));
            }
        }
    }
    numbered.extend(starred);
    arms(&numbered, indent)
}

/// Adds `pat` to the arm that runs `action`, or a new arm.
fn add_arm(arms: &mut Vec<(String, Vec<String>)>, action: String, pat: String) {
    match arms.iter_mut().find(|(a, _)| *a == action) {
        Some((_, pats)) => pats.push(pat),
        None => arms.push((action, vec![pat])),
    }
}

/// `case` arms, one line each: `pat|pat) action ;;`.
fn arms(arms: &[(String, Vec<String>)], indent: &str) -> String {
    arms.iter().map(|(act, pats)| format!("{indent}{}) {act} ;;\n", pats.join("|"))).collect()
}

/// The words of a verb operand of kind `Words` (only BOOL has them).
fn verb_words(k: Kind) -> Vec<String> {
    if k == Kind::Words {
        words(BOOLEANS)
    } else {
        Vec::new()
    }
}

/// bash completion for spawnctl: verbs, options, and each verb's operands.
pub fn bash_spawnctl() -> String {
    let verbs: Vec<&str> = ctl::VERBS.iter().map(|v| v.name).collect();
    let mut opts: Vec<String> = args::OPTIONS.iter().map(|o| format!("--{}", o.long)).collect();
    opts.extend(args::OPTIONS.iter().filter_map(|o| o.short.map(|c| format!("-{c}"))));
    let next = takes_next_word(args::OPTIONS.iter().filter(|o| o.value).map(|o| (o.long, o.short)));
    let arms = operand_arms(|k| bash_action(k, &verb_words(k)), "        ");
    format!(
        r#"{header}
{helpers}
_spawnctl() {{
    local cur pre opt eq ctl=${{COMP_WORDS[0]}}
    __spawnbox_split
    # An option's value: nothing to offer.
    if [[ -n $eq ]]; then return 0; fi
    case $opt in
        {next}) return 0 ;;
    esac
    # The verb and the index of the operand being completed.
    local i w verb= n=0 dd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${{COMP_WORDS[i]}}
        if [[ -z $dd ]]; then
            case $w in
                --) dd=1; continue ;;
                =) i=$((i + 1)); continue ;;
                {next}) if [[ ${{COMP_WORDS[i+1]}} != = ]]; then i=$((i + 1)); fi; continue ;;
                -*) continue ;;
            esac
        fi
        if [[ -z $verb ]]; then verb=$w; else n=$((n + 1)); fi
    done
    if [[ -z $dd && $cur == -* ]]; then
        COMPREPLY=($(compgen -W {opts} -- "$cur"))
        return 0
    fi
    if [[ -z $verb ]]; then
        COMPREPLY=($(compgen -W {verbs} -- "$cur"))
        return 0
    fi
    case "$verb:$n" in
{arms}    esac
    return 0
}}
complete -F _spawnctl spawnctl
"#,
        header = header("bash completion for spawnctl(1)."),
        helpers = BASH_HELPERS,
        next = next,
        opts = sq(&opts.join(" ")),
        verbs = sq(&verbs.join(" ")),
        arms = arms,
    )
}

/// Text for inside a zsh `_arguments` spec's `[...]` (itself inside single quotes).
fn zsh_desc(s: &str) -> String {
    s.replace('\'', r"'\''").replace('[', r"\[").replace(']', r"\]")
}

/// The zsh action completing `kind`.
fn zsh_action(kind: Kind, words: &[String]) -> String {
    match kind {
        Kind::Free => " ".to_string(),
        Kind::Directory => "_directories".to_string(),
        Kind::File => "_files".to_string(),
        Kind::Image => "__spawnbox_images".to_string(),
        Kind::Words => format!("({})", words.join(" ")),
    }
}

/// The zsh command completing `kind` (in a `case` arm).
fn zsh_command(kind: Kind, words: &[String]) -> String {
    match kind {
        Kind::Free => ":".to_string(),
        Kind::Words => format!("compadd -- {} && ret=0", words.join(" ")),
        _ => format!("{} && ret=0", zsh_action(kind, words)),
    }
}

const ZSH_IMAGES: &str = r#"(( $+functions[__spawnbox_images] )) ||
__spawnbox_images() {
    local -a names
    names=(${${(f)"$(_call_program images spawnctl list-images --no-legend 2>/dev/null)"}%% *})
    _wanted images expl image compadd -a names
}
"#;

/// zsh completion for spawnbox: every option `--help` shows, with its help line and its
/// values, then the command.
pub fn zsh_spawnbox() -> String {
    let mut specs = Vec::new();
    for o in shown_options() {
        let desc = zsh_desc(o.help);
        let (kind, words) = spawnbox_values(o);
        let value = match o.arg {
            ArgKind::None => String::new(),
            _ => format!(":{}:{}", o.metavar.to_lowercase().replace(':', r"\:"), zsh_action(kind, &words)),
        };
        let (short, long) = match o.arg {
            ArgKind::None => (o.short.map(|c| format!("-{c}")), format!("--{}", o.long)),
            ArgKind::Required => (o.short.map(|c| format!("-{c}+")), format!("--{}=", o.long)),
            ArgKind::Optional | ArgKind::OptionalOrNext => (None, format!("--{}=-", o.long)),
        };
        let names: Vec<String> = short.into_iter().chain((!o.long.is_empty()).then_some(long)).collect();
        for n in names {
            specs.push(format!("    '*{n}[{desc}]{}'", value.replace('\'', r"'\''")));
        }
    }
    format!(
        "#compdef spawnbox\n{header}\n{images}\n_spawnbox() {{\n    _arguments -s -S -A '-*' \\\n{specs} \\\n    \
         '*::command:_normal'\n}}\n\n_spawnbox \"$@\"\n",
        header = header("zsh completion for spawnbox(1)."),
        images = ZSH_IMAGES,
        specs = specs.join(" \\\n"),
    )
}

/// zsh completion for spawnctl: options, the verbs with their help lines, and each verb's
/// operands.
pub fn zsh_spawnctl() -> String {
    let mut specs = Vec::new();
    for o in args::OPTIONS {
        let (short, long, value) = if o.value {
            (o.short.map(|c| format!("-{c}+")), format!("--{}=", o.long), ":value: ")
        } else {
            (o.short.map(|c| format!("-{c}")), format!("--{}", o.long), "")
        };
        for n in short.into_iter().chain(Some(long)) {
            specs.push(format!("        '*{n}{value}'"));
        }
    }
    let verbs: Vec<String> =
        ctl::VERBS.iter().map(|v| format!("        '{}:{}'", v.name, zsh_desc(v.help).replace(':', r"\:"))).collect();
    let arms = operand_arms(|k| zsh_command(k, &verb_words(k)), "                ");
    format!(
        r#"#compdef spawnctl
{header}
{images}
_spawnctl() {{
    local curcontext=$curcontext state line ret=1
    local -a verbs
    verbs=(
{verbs}
    )
    _arguments -s -S -C \
{specs} \
        '1: :->verb' \
        '*:: :->operand' && ret=0
    case $state in
        verb)
            _describe -t commands 'spawnctl command' verbs && ret=0
            ;;
        operand)
            case "$words[1]:$((CURRENT - 2))" in
{arms}            esac
            ;;
    esac
    return ret
}}

_spawnctl "$@"
"#,
        header = header("zsh completion for spawnctl(1)."),
        images = ZSH_IMAGES,
        verbs = verbs.join("\n"),
        specs = specs.join(" \\\n"),
        arms = arms,
    )
}
