//! spawnbox: entry point (argv[0] dispatch, logging, the one place errors are printed).
#![deny(unsafe_code)]

use spawnbox::{cli, error, image, launch, logger, settings, spec};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = if args.is_empty() { OsString::from("spawnbox") } else { args.remove(0) };
    let name = Path::new(&argv0).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name == "spawnctl" {
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        std::process::exit(spawnbox::ctl::main(&args));
    }
    if name == "spawnbox-runc" {
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        std::process::exit(spawnbox::oci::main(&args));
    }
    std::process::exit(run(&args));
}

/// Sets up logging to stderr: info by default, off with -q, `SPAWNBOX_LOG=debug` for traces.
fn init_logging(quiet: bool) {
    let level = match std::env::var("SPAWNBOX_LOG").ok().as_deref() {
        Some("trace") => log::LevelFilter::Trace,
        Some("debug") => log::LevelFilter::Debug,
        Some("info") => log::LevelFilter::Info,
        Some("warn") => log::LevelFilter::Warn,
        Some("error") => log::LevelFilter::Error,
        Some("off") => log::LevelFilter::Off,
        _ if quiet => log::LevelFilter::Error,
        _ => log::LevelFilter::Info,
    };
    logger::init(level);
}

fn run(args: &[OsString]) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let getenv = |k: &str| std::env::var(k).ok();
    let mut settings = match cli::parse(args, &getenv, &cwd) {
        Ok(cli::Parsed::Run(s)) => s,
        Ok(cli::Parsed::Help) => {
            print!("{}", cli::help_text());
            return 0;
        }
        Ok(cli::Parsed::Version) => {
            println!("{}", cli::version_text());
            return 0;
        }
        Ok(cli::Parsed::ListValues(text)) => {
            print!("{text}");
            return 0;
        }
        Err(e) => return fail(&e),
    };
    init_logging(settings.quiet);
    let stdin_tty = rustix::termios::isatty(rustix::stdio::stdin());
    let stdout_tty = rustix::termios::isatty(rustix::stdio::stdout());
    let host = rustix::system::uname();
    let host_hostname = host.nodename().to_string_lossy().into_owned();
    let caller = spec::Caller { cwd: &cwd, stdin_tty, stdout_tty, host_hostname: &host_hostname };
    // `--cleanup` needs only the name: no image is looked up and no settings file read (as in
    // nspawn, whose cleanup runs before either).
    let settings = if settings.cleanup {
        settings
    } else {
        if let Err(e) = image::locate(&mut settings, &image::HostProbe) {
            return fail(&e);
        }
        let loaded =
            if settings.oci_bundle.is_some() { load_bundle(settings, &cwd) } else { load_settings(settings, &caller) };
        match loaded {
            Ok(s) => s,
            Err(e) => return fail(&e),
        }
    };
    if let Some(opt) = settings.unsupported.first() {
        return fail(&error::Error::msg(format!("--{opt}: not supported yet")));
    }
    let spec = match spec::Spec::resolve(settings, &caller) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    init_logging(spec.quiet);
    log::debug!("machine {} on {}, {:?} start", spec.machine, spec.directory.display(), spec.start_mode);
    match launch::run(&spec) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// Merges the machine's `.nspawn` file into the command line's settings (warnings logged
/// once each) and checks the cross-option rules on the result.
fn load_settings(cli: settings::Settings, caller: &spec::Caller<'_>) -> Result<settings::Settings, error::Error> {
    let machine = spec::machine_name(&cli, caller)?;
    let image = cli.image.clone().unwrap_or_else(|| spec::root_directory(&cli, caller.cwd));
    let loaded = settings::load::load(cli, &machine, Some(&image))?;
    for w in &loaded.warnings {
        log::warn!("{w}");
    }
    if let Some(file) = &loaded.file {
        log::debug!("settings from {}", file.display());
        cli::verify_merged(&loaded.settings).map_err(|e| e.context(format!("with {}", file.display())))?;
    }
    Ok(loaded.settings)
}

/// `--oci-bundle=`: the bundle's config.json merged below the command line (no `.nspawn` file
/// is read, as in nspawn), warnings logged once each, the cross-option rules checked again.
fn load_bundle(cli: settings::Settings, cwd: &Path) -> Result<settings::Settings, error::Error> {
    let loaded = spawnbox::oci_bundle::load(cli, cwd)?;
    for w in &loaded.warnings {
        log::warn!("{w}");
    }
    if let Some(file) = &loaded.file {
        cli::verify_merged(&loaded.settings).map_err(|e| e.context(format!("with {}", file.display())))?;
    }
    Ok(loaded.settings)
}

fn fail(e: &error::Error) -> i32 {
    eprintln!("spawnbox: {e}");
    1
}
