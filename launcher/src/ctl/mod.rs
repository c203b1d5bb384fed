//! spawnctl: machinectl's command line without machined (same binary as spawnbox, chosen by
//! argv[0]). A table of verbs, each with its operand count and handler; the image verbs are
//! in `images.rs`, the machine verbs in `machines.rs`, `start.rs`, `shell.rs`, `bind.rs` and
//! `files.rs`, `enable`/`disable` in `boot/`.

pub mod args;
mod bind;
pub mod boot;
mod files;
mod images;
pub mod leader;
mod machines;
#[cfg(feature = "images")]
mod progress;
mod shell;
mod show;
mod start;
#[cfg(feature = "images")]
mod tarballs;

use crate::error::{Error, Result};
use crate::guest::Shutdown;
use args::Options;

/// What a verb prints on stdout.
pub type Handler = fn(&Options, &[String]) -> Result<String>;
/// A verb that runs something and returns its exit status (`shell`, `login`).
pub type Runner = fn(&Options, &[String]) -> Result<i32>;

/// A verb: name, operand counts (min, max; `usize::MAX` for any), synopsis, handler.
pub struct Verb {
    pub name: &'static str,
    pub min: usize,
    pub max: usize,
    pub synopsis: &'static str,
    pub help: &'static str,
    pub run: Option<Handler>,
    pub exec: Option<Runner>,
    /// Image transfer (the `images` cargo feature): without it the verb has no handler and
    /// says that this build lacks it.
    pub images: bool,
}

/// Whether this build has the image transfer verbs (the `images` cargo feature).
pub const IMAGES: bool = cfg!(feature = "images");

impl Verb {
    /// Whether spawnctl does this verb (the others say "not implemented yet"); an image
    /// transfer verb counts even in a build without it.
    pub fn implemented(&self) -> bool {
        self.run.is_some() || self.exec.is_some() || self.images
    }

    /// Whether this build has the verb.
    pub fn built(&self) -> bool {
        IMAGES || !self.images
    }
}

const ANY: usize = usize::MAX;

const fn verb(
    name: &'static str,
    min: usize,
    max: usize,
    synopsis: &'static str,
    help: &'static str,
    run: Option<Handler>,
) -> Verb {
    Verb { name, min, max, synopsis, help, run, exec: None, images: false }
}

/// An image transfer verb: `run` is `None` in a build without the `images` feature.
const fn transfer(v: Verb) -> Verb {
    Verb { images: true, ..v }
}

/// `Some(handler)` with the `images` feature, `None` without (where the handler's code does
/// not exist).
macro_rules! with_images {
    ($h:expr) => {{
        #[cfg(feature = "images")]
        let h: Option<Handler> = Some($h);
        #[cfg(not(feature = "images"))]
        let h: Option<Handler> = None;
        h
    }};
}

const fn runner(name: &'static str, max: usize, synopsis: &'static str, help: &'static str, exec: Runner) -> Verb {
    Verb { name, min: 0, max, synopsis, help, run: None, exec: Some(exec), images: false }
}

fn quiet(r: Result<()>) -> Result<String> {
    r.map(|()| String::new())
}

/// machinectl's verbs; those without a handler are not implemented yet.
pub const VERBS: &[Verb] = &[
    verb("list", 0, 0, "list", "List running machines", Some(|o, _| machines::list(o))),
    verb("status", 1, ANY, "status NAME...", "Show machine details", Some(|_, a| machines::status(a))),
    verb("show", 0, ANY, "show [NAME...]", "Show properties of one or more machines", Some(machines::show_machines)),
    verb("start", 1, ANY, "start NAME...", "Start container as a service", Some(|o, a| quiet(start::start(o, a)))),
    runner("login", 1, "login [NAME]", "Get a login prompt in a container", |o, a| {
        shell::run(o, &shell::parse_login(o, a)?)
    }),
    runner(
        "shell",
        ANY,
        "shell [[USER@]NAME [COMMAND...]]",
        "Invoke a shell (or other command) in a container",
        |o, a| shell::run(o, &shell::parse_shell(o, a)?),
    ),
    verb("enable", 1, ANY, "enable NAME...", "Enable automatic container start at boot", Some(boot::enable)),
    verb("disable", 1, ANY, "disable NAME...", "Disable automatic container start at boot", Some(boot::disable)),
    verb(
        "poweroff",
        1,
        ANY,
        "poweroff NAME...",
        "Power off one or more containers",
        Some(|o, a| quiet(machines::shutdown(o, a, Shutdown::Poweroff))),
    ),
    verb(
        "reboot",
        1,
        ANY,
        "reboot NAME...",
        "Reboot one or more containers",
        Some(|o, a| quiet(machines::shutdown(o, a, Shutdown::Reboot))),
    ),
    verb(
        "terminate",
        1,
        ANY,
        "terminate NAME...",
        "Terminate one or more machines",
        Some(|o, a| quiet(machines::terminate(o, a))),
    ),
    verb(
        "kill",
        1,
        ANY,
        "kill NAME...",
        "Send signal to processes of a machine",
        Some(|o, a| quiet(machines::kill(o, a))),
    ),
    verb(
        "set-property",
        2,
        ANY,
        "set-property NAME PROPERTY=VALUE...",
        "Set resource limits on a running machine",
        Some(|_, a| quiet(machines::set_property(a))),
    ),
    verb(
        "bind",
        2,
        3,
        "bind NAME PATH [PATH]",
        "Bind mount a path from the host into a container",
        Some(|o, a| quiet(bind::bind(o, a))),
    ),
    verb(
        "copy-to",
        2,
        3,
        "copy-to NAME PATH [PATH]",
        "Copy files from the host to a container",
        Some(|o, a| quiet(files::copy(o, a, files::Direction::ToContainer))),
    ),
    verb(
        "copy-from",
        2,
        3,
        "copy-from NAME PATH [PATH]",
        "Copy files from a container to the host",
        Some(|o, a| quiet(files::copy(o, a, files::Direction::FromContainer))),
    ),
    verb(
        "list-images",
        0,
        0,
        "list-images",
        "Show available container and VM images",
        Some(|o, _| images::list_images(o)),
    ),
    verb("image-status", 1, ANY, "image-status NAME...", "Show image details", Some(|_, a| images::image_status(a))),
    verb("show-image", 1, ANY, "show-image NAME...", "Show properties of image", Some(images::show_image)),
    verb("clone", 2, 2, "clone NAME NAME", "Clone an image", Some(|o, a| quiet(images::clone(o, a)))),
    verb("rename", 2, 2, "rename NAME NAME", "Rename an image", Some(|_, a| quiet(images::rename(a)))),
    verb(
        "read-only",
        1,
        2,
        "read-only NAME [BOOL]",
        "Mark or unmark image read-only",
        Some(|_, a| quiet(images::read_only(a))),
    ),
    verb("remove", 1, ANY, "remove NAME...", "Remove an image", Some(|_, a| quiet(images::remove(a)))),
    transfer(verb(
        "import-tar",
        1,
        2,
        "import-tar FILE [NAME]",
        "Import a local TAR container image",
        with_images!(|o, a| quiet(tarballs::import(o, a))),
    )),
    verb(
        "import-fs",
        1,
        2,
        "import-fs DIRECTORY [NAME]",
        "Import a local directory container image",
        Some(|o, a| quiet(images::import_fs(o, a))),
    ),
    transfer(verb(
        "import-oci",
        1,
        2,
        "import-oci SOURCE [NAME]",
        "Import a local OCI image (layout directory or archive, docker save tarball)",
        with_images!(|o, a| quiet(images::import_oci(o, a))),
    )),
    verb(
        "export-fs",
        2,
        2,
        "export-fs NAME DIRECTORY",
        "Export a container image to a directory",
        Some(|_, a| quiet(images::export_fs(a))),
    ),
    transfer(verb(
        "export-tar",
        1,
        2,
        "export-tar NAME [FILE]",
        "Export a TAR container image locally",
        with_images!(|o, a| quiet(tarballs::export(o, a))),
    )),
];

/// The `--help` text, from the verb table.
pub fn help_text() -> String {
    let mut out = String::from(
        "spawnctl [OPTIONS...] COMMAND ...\n\nSend control commands to or query the container manager.\n\nCommands:\n",
    );
    let width = VERBS.iter().map(|v| v.synopsis.len()).max().unwrap_or(0) + 2;
    for v in VERBS {
        let star = match (v.implemented(), v.built()) {
            (false, _) => " *",
            (true, false) => " (not in this build)",
            (true, true) => "",
        };
        out.push_str(&format!("  {:<width$}{}{star}\n", v.synopsis, v.help));
    }
    out.push_str(
        "\nOptions:\n  -h --help            Show this help\n     --version         Show package version\n     \
         --no-legend       Do not show the headers and footers\n  -a --all             Show hidden images too\n  \
         -p --property=NAME   Show only properties by this name\n     --value           When showing properties, only print the value\n  \
         -o --output=MODE     Output mode: short, json, json-pretty\n     --read-only       Create read-only clone or import, or bind\n     \
         --mkdir           Create directory before bind mounting, if missing\n     \
         --force           Replace the target of import-fs, import-oci, copy-to, copy-from\n     \
         --uid=USER        shell: run as USER (as USER@NAME)\n  -E --setenv=VAR=VALUE shell: add to the environment\n  \
         -q --quiet           shell, login: no connection messages\n     \
         --print           enable, disable: show what would be written and run, change nothing\n     \
         --format=FORMAT   export-tar: uncompressed, gzip, xz\n     \
         --wait            poweroff, reboot, terminate: return once it is done\n",
    );
    out
}

/// Runs spawnctl with `args` (without argv[0]); the exit status.
pub fn main(args: &[String]) -> i32 {
    match run(args) {
        Ok((out, code)) => {
            print!("{out}");
            code
        }
        Err(e) => {
            eprintln!("spawnctl: {e}");
            1
        }
    }
}

fn run(args: &[String]) -> Result<(String, i32)> {
    let (o, words) = args::parse(args)?;
    if o.help {
        return Ok((help_text(), 0));
    }
    if o.version {
        return Ok((format!("spawnctl {} (machinectl compatible)\n", env!("CARGO_PKG_VERSION")), 0));
    }
    let (name, operands) = match words.split_first() {
        Some((n, rest)) => (n.as_str(), rest),
        None => ("list", &[][..]),
    };
    let v =
        VERBS.iter().find(|v| v.name == name).ok_or_else(|| Error::msg(format!("unknown command verb '{name}'")))?;
    if !v.built() {
        return Err(Error::msg(format!("{name}: not in this build (spawnctl was built without image transfer)")));
    }
    if operands.len() < v.min {
        return Err(Error::msg(format!("{name}: too few arguments (usage: spawnctl {})", v.synopsis)));
    }
    if operands.len() > v.max {
        return Err(Error::msg(format!("{name}: too many arguments (usage: spawnctl {})", v.synopsis)));
    }
    if let Some(exec) = v.exec {
        return exec(&o, operands).map(|code| (String::new(), code));
    }
    let handler = v.run.ok_or_else(|| Error::msg(format!("{name}: not implemented yet (issue #16)")))?;
    handler(&o, operands).map(|out| (out, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        run(&args).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn verbs_and_operand_counts() {
        assert_eq!(err(&["frobnicate"]), "unknown command verb 'frobnicate'");
        assert_eq!(err(&["rename", "a"]), "rename: too few arguments (usage: spawnctl rename NAME NAME)");
        assert_eq!(err(&["list-images", "x"]), "list-images: too many arguments (usage: spawnctl list-images)");
        if IMAGES {
            assert_eq!(err(&["import-tar", "-"]), "import-tar -: give the image's NAME");
        }
        assert!(err(&["shell"]).starts_with("machine \".host\" is the host itself"));
        assert_eq!(err(&["login", "a", "b"]), "login: too many arguments (usage: spawnctl login [NAME])");
        assert_eq!(err(&["show-image", "a/b"]), "invalid image name \"a/b\"");
        assert_eq!(err(&["disable"]), "disable: too few arguments (usage: spawnctl disable NAME...)");
        assert_eq!(
            err(&["enable", "--print", "web", "a b"]),
            "machine name \"a b\" cannot name a boot service (letters, digits, '.', '_' and '-' only)"
        );
        let names: Vec<&str> = VERBS.iter().map(|v| v.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a verb is listed twice");
    }

    #[test]
    fn transfer_verbs_follow_the_images_feature() {
        let transfer: Vec<&str> = VERBS.iter().filter(|v| v.images).map(|v| v.name).collect();
        assert_eq!(transfer, ["import-tar", "import-oci", "export-tar"]);
        for v in VERBS.iter().filter(|v| v.images) {
            assert_eq!(v.run.is_some(), IMAGES, "{}", v.name);
            assert!(v.implemented() && v.built() == IMAGES, "{}", v.name);
        }
        if !IMAGES {
            assert_eq!(
                err(&["import-tar"]),
                "import-tar: not in this build (spawnctl was built without image transfer)"
            );
            assert!(help_text().contains("Export a TAR container image locally (not in this build)\n"));
        }
    }

    #[test]
    fn help_lists_every_verb() {
        let h = help_text();
        for v in VERBS {
            assert!(h.contains(v.synopsis), "{}", v.name);
        }
    }
}
