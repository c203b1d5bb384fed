//! `spawnctl enable`/`disable`: start a machine at boot with the host's init, as machinectl
//! does with systemd-nspawn@.service: OpenRC (the multiplexed `spawnbox` script), busybox init
//! (inittab lines) or runit (a service directory). Which init runs the host is found here; what
//! changes is planned as data (`plan.rs`), then done in the host's root (`apply.rs`).

mod apply;
pub mod plan;
#[cfg(test)]
mod tests;

use super::args::Options;
use crate::error::{Error, Result};
use crate::guest::{self, InitKind};
use crate::rootfs;
use plan::{Init, Step, RUNIT_SERVICE_DIRS};
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::OFlags;
use std::path::Path;

/// What the host shows of its init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// PID 1, by the name of its binary (and its content when the name says nothing).
    pub pid1: InitKind,
    /// OpenRC booted this system (`/run/openrc`, its state directory, exists).
    pub openrc: bool,
    /// runsvdir's directories that exist, in [`RUNIT_SERVICE_DIRS`]' order.
    pub service_dirs: Vec<String>,
}

/// The init a machine is enabled in: OpenRC wherever it runs (under busybox init on Alpine,
/// sysvinit on Debian, or as openrc-init), else busybox init or runit as PID 1.
pub fn choose(f: &Facts) -> Result<Init> {
    if f.openrc {
        return Ok(Init::OpenRc);
    }
    match f.pid1 {
        InitKind::Busybox => Ok(Init::Busybox),
        InitKind::Runit | InitKind::RunitDebian => match f.service_dirs.first() {
            Some(d) => Ok(Init::Runit { service_dir: d.clone() }),
            None => Err(Error::msg(format!(
                "runit runs this host, but none of its service directories exists ({})",
                RUNIT_SERVICE_DIRS.join(", ")
            ))),
        },
        k => Err(Error::msg(format!(
            "the host's init ({}) is none of OpenRC, busybox init and runit, which spawnctl enables machines in",
            guest::row(k).name
        ))
        .hint("spawnctl enable --print NAME shows busybox init's lines and runit's service")),
    }
}

/// Looks at the host (`root` is its `/`).
fn facts(root: &OwnedFd) -> Facts {
    let is_dir = |p: &str| {
        rootfs::stat_in_root(root.as_fd(), Path::new(p))
            .is_some_and(|m| m & rootfs::libc_mode::S_IFMT == rootfs::libc_mode::S_IFDIR)
    };
    Facts {
        pid1: host_pid1(),
        openrc: is_dir("/run/openrc"),
        service_dirs: RUNIT_SERVICE_DIRS.iter().filter(|d| is_dir(d)).map(|d| d.to_string()).collect(),
    }
}

/// The host's PID 1: the name of its binary, else its `comm`; its content only when the name
/// says nothing (an init installed as /sbin/init).
fn host_pid1() -> InitKind {
    let name = std::fs::read_link("/proc/1/exe")
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| std::fs::read_to_string("/proc/1/comm").ok().map(|c| c.trim_end().to_string()))
        .unwrap_or_default();
    let kind = guest::classify(&name, &[]);
    if kind != InitKind::Unknown {
        return kind;
    }
    guest::classify(&name, &std::fs::read("/proc/1/exe").unwrap_or_default())
}

/// spawnbox's own path, as the init will run it.
fn own_binary() -> Result<String> {
    let p = std::fs::read_link("/proc/self/exe")
        .map_err(|e| Error::sys("read link", "/proc/self/exe", crate::error::io_errno(&e)))?;
    let p = p.to_string_lossy().into_owned();
    plan::check_binary(&p)?;
    Ok(p)
}

/// `enable NAME...`.
pub fn enable(o: &Options, names: &[String]) -> Result<String> {
    run(o, names, true)
}

/// `disable NAME...`.
pub fn disable(o: &Options, names: &[String]) -> Result<String> {
    run(o, names, false)
}

fn run(o: &Options, names: &[String], enabling: bool) -> Result<String> {
    let verb = if enabling { "enable" } else { "disable" };
    // Every name checked before anything changes.
    for n in names {
        plan::check_name(n)?;
    }
    if enabling {
        for n in names {
            crate::image::get(n)?;
        }
    }
    let bin = if enabling { own_binary()? } else { String::new() };
    let root = rustix::fs::open("/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, rustix::fs::Mode::empty())
        .map_err(|e| Error::sys("open", "/", e))?;
    let inits = match choose(&facts(&root)) {
        Ok(i) => vec![i],
        // --print without a known init: both ways OpenRC-less hosts are served.
        Err(_) if o.print => {
            vec![Init::Busybox, Init::Runit { service_dir: RUNIT_SERVICE_DIRS[0].to_string() }]
        }
        Err(e) => return Err(e.context(verb)),
    };
    let plan_for = |init: &Init, n: &str| -> Vec<Step> {
        if enabling {
            plan::enable(init, &bin, n)
        } else {
            plan::disable(init, n)
        }
    };
    if o.print {
        return Ok(print(&inits, names, plan_for));
    }
    let mut run = |argv: &[&str]| run_command(argv, o.quiet);
    let mut report = |line: String| {
        if !o.quiet {
            println!("{line}");
        }
    };
    for n in names {
        apply::apply(root.as_fd(), &plan_for(&inits[0], n), &mut run, &mut report).map_err(|e| e.context(verb))?;
    }
    Ok(String::new())
}

/// `--print`: what would be written and run, per init when it is not known which.
fn print(inits: &[Init], names: &[String], plan_for: impl Fn(&Init, &str) -> Vec<Step>) -> String {
    let mut out = String::new();
    for init in inits {
        if inits.len() > 1 {
            let which = if *init == Init::Busybox { "busybox init" } else { "runit" };
            out.push_str(&format!("# --- {which} ---\n"));
        }
        for n in names {
            out.extend(plan_for(init, n).iter().map(plan::describe));
        }
    }
    out
}

/// Runs `argv` (rc-update, `-q` with `quiet`), found where a root's PATH would find it (the
/// caller's may lack the sbin directories), its output passed through.
fn run_command(argv: &[&str], quiet: bool) -> Result<String> {
    let prog = ["/sbin", "/usr/sbin", "/bin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| format!("{d}/{}", argv[0]))
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| argv[0].to_string());
    let status = std::process::Command::new(&prog)
        .args(quiet.then_some("-q"))
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| Error::sys("run", &prog, crate::error::io_errno(&e)))?;
    if status.success() {
        return Ok(String::new());
    }
    Err(Error::msg(format!("{} failed ({status})", argv.join(" "))))
}
