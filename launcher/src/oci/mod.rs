//! The OCI runtime front end, `spawnbox-runc` (runc's command-line contract; docs/OCI.md),
//! reached by argv[0]: its command line (`args.rs`), `create`/`run` (`create.rs`; a killed create's
//! watcher `janitor.rs`), the other
//! commands on a container's record (`commands.rs`, `record.rs`), hooks (`oci_hooks.rs`), the
//! console socket (`console.rs`), `exec` (`exec.rs`), `spec` and `features` (`features.rs`), errors to `--log`
//! (`log.rs`). A bundle's `config.json` is read by `runtime_spec/`; the machine is the same
//! `Machine` as the nspawn command line's, created with `Model::Detachable`.

pub mod args;
mod commands;
mod console;
mod create;
mod exec;
mod features;
mod janitor;
mod log;
pub mod record;
#[cfg(test)]
mod tests_args;

use args::{Command, Global, Request};

/// The usage text of `--help`.
const USAGE: &str =
    "usage: spawnbox-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [OPTIONS] ID
commands: create, start, run, state, kill, delete, exec, ps, pause, resume, list, spec, features
(runc's command-line contract; see docs/OCI.md)
";

/// spawnbox-runc's entry point: the exit status.
pub fn main(args: &[String]) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("/"));
    let req = match args::parse(args, &cwd) {
        Ok(r) => r,
        Err(e) => {
            // The log options may be what failed: stderr only.
            eprintln!("spawnbox-runc: {e}");
            return 1;
        }
    };
    let (g, cmd) = match req {
        Request::Help => {
            print!("{USAGE}");
            return 0;
        }
        Request::Version => {
            println!("spawnbox-runc version {}\nspec: 1.3.0", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Request::Command(g, cmd) => (g, cmd),
    };
    let level = match (g.debug, std::env::var("SPAWNBOX_LOG").ok().as_deref()) {
        (_, Some("debug")) | (true, _) => ::log::LevelFilter::Debug,
        _ => ::log::LevelFilter::Warn,
    };
    crate::logger::init(level);
    let out = log::Log::new(&g);
    match run(&g, cmd) {
        Ok(code) => code,
        Err(e) => {
            out.error(&e.to_string());
            1
        }
    }
}

fn run(g: &Global, cmd: Command) -> crate::error::Result<i32> {
    match cmd {
        Command::Create(c) => create::create(g, &c).map(|_| 0),
        Command::Run { create: c, detach, keep } => create::run(g, &c, detach, keep),
        Command::Start { id } => commands::start(g, &id).map(|_| 0),
        Command::State { id } => commands::state(g, &id).map(|s| {
            print!("{s}");
            0
        }),
        Command::Kill { id, all, signal } => commands::kill(g, &id, all, signal).map(|_| 0),
        Command::Delete { id, force } => commands::delete(g, &id, force).map(|_| 0),
        Command::List { json, quiet } => commands::list(g, json, quiet).map(|s| {
            print!("{s}");
            0
        }),
        Command::Spec { bundle, rootless } => features::write_spec(bundle.as_deref(), rootless).map(|_| 0),
        Command::Features => {
            print!("{}", features::features_json());
            Ok(0)
        }
        Command::Exec(x) => exec::exec(g, &x),
        Command::Ps { id, json, args } => commands::ps(g, &id, json, &args).map(|s| {
            print!("{s}");
            0
        }),
        Command::Pause { id } => commands::pause(g, &id).map(|_| 0),
        Command::Resume { id } => commands::resume(g, &id).map(|_| 0),
    }
}
