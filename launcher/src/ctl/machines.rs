//! spawnctl's machine verbs on the registry (`machine::registry`): `list`, `status`, `show`,
//! `poweroff`, `reboot`, `terminate`, `kill`, `set-property`. Stop requests go to the guest's
//! PID 1 in the way its init understands (`guest::ask`), as machinectl sends them, but per init.

use super::args::Options;
use super::show::{self, Cell};
use crate::cgroup;
use crate::error::{Error, Result};
use crate::guest::{self, Asked, Shutdown};
use crate::machine::registry::{self, Entry};
use crate::rootfs;
use std::path::Path;
use std::time::{Duration, Instant};

/// `ID` and `VERSION_ID` (or `PRETTY_NAME`) of the machine's os-release, read inside its root
/// as its PID 1 sees it (symlinks resolved in that root, never on the host).
fn os_release(e: &Entry) -> Vec<(String, String)> {
    let Ok(root) = rustix::fs::open(
        format!("/proc/{}/root", e.leader),
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) else {
        return Vec::new();
    };
    let text = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| rootfs::read_small_file(std::os::fd::AsFd::as_fd(&root), Path::new(p), 64 << 10).ok().flatten())
        .unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

fn os_field(os: &[(String, String)], key: &str) -> String {
    os.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_else(|| "-".to_string())
}

/// `list`: MACHINE CLASS SERVICE OS VERSION ADDRESSES.
pub fn list(o: &Options) -> Result<String> {
    let rows: Vec<Vec<Cell>> = registry::list()
        .iter()
        .map(|e| {
            let os = os_release(e);
            let addresses = if e.addresses.is_empty() { "-".to_string() } else { e.addresses.join(" ") };
            vec![
                Cell::Text(e.name.clone()),
                Cell::Text(e.class.clone()),
                Cell::Text("spawnbox".into()),
                Cell::Text(os_field(&os, "ID")),
                Cell::Text(os_field(&os, "VERSION_ID")),
                Cell::Text(addresses),
            ]
        })
        .collect();
    let header = ["MACHINE", "CLASS", "SERVICE", "OS", "VERSION", "ADDRESSES"];
    Ok(show::table(&header, &rows, "machines", o.output, !o.no_legend))
}

/// The processes of the machine's cgroup, recursively: `(cgroup relative path, pid, command)`.
fn processes(e: &Entry) -> Vec<(String, i32, String)> {
    let Some(cg) = &e.cgroup else { return Vec::new() };
    let mut out = Vec::new();
    let mut dirs = vec![cg.clone()];
    while let Some(d) = dirs.pop() {
        let rel = d.strip_prefix(cg).map(|r| format!("/{}", r.display())).unwrap_or_default();
        for pid in std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default().lines() {
            let Ok(pid) = pid.parse::<i32>() else { continue };
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd: Vec<String> = cmd
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            out.push((rel.clone(), pid, cmd.join(" ")));
        }
        if let Ok(rd) = std::fs::read_dir(&d) {
            let mut subs: Vec<_> = rd.filter_map(|x| x.ok()).filter(|x| x.path().is_dir()).map(|x| x.path()).collect();
            crate::sort::sort(&mut subs);
            dirs.extend(subs.into_iter().rev());
        }
    }
    out
}

/// `status NAME...`.
pub fn status(names: &[String]) -> Result<String> {
    let mut blocks = Vec::new();
    for n in names {
        let e = registry::read(n)?;
        let os = os_release(&e);
        let mut s = match &e.uuid {
            Some(u) => format!("{}({u})\n", e.name),
            None => format!("{}\n", e.name),
        };
        let mut line = |k: &str, v: String| s.push_str(&format!("{k:>16}: {v}\n"));
        line("Since", show::format_timestamp(e.started));
        let leader_cmd = std::fs::read_to_string(format!("/proc/{}/comm", e.leader)).unwrap_or_default();
        line("Leader", format!("{} ({})", e.leader, leader_cmd.trim_end()));
        line("Service", format!("spawnbox; class {}", e.class));
        line("Root", e.directory.display().to_string());
        if !e.interfaces.is_empty() {
            line("Iface", e.interfaces.join(" "));
        }
        if !e.addresses.is_empty() {
            line("Address", e.addresses.join(" "));
        }
        let pretty = os_field(&os, "PRETTY_NAME");
        if pretty != "-" {
            line("OS", pretty);
        }
        line("Init", format!("{}{}", e.init, if e.ready { "" } else { " (starting)" }));
        if let Some(cg) = &e.cgroup {
            line("Unit", cg.display().to_string());
            for (rel, pid, cmd) in processes(&e) {
                s.push_str(&format!("{:>18}{rel} {pid} {cmd}\n", ""));
            }
        }
        blocks.push(s);
    }
    Ok(blocks.join("\n"))
}

/// `show [NAME...]`: `Key=value` per machine (all running ones without names).
pub fn show_machines(o: &Options, names: &[String]) -> Result<String> {
    let entries = match names {
        [] => registry::list(),
        _ => names.iter().map(|n| registry::read(n)).collect::<Result<Vec<_>>>()?,
    };
    let blocks: Vec<String> = entries
        .iter()
        .map(|e| {
            let pairs = [
                ("Name", e.name.clone()),
                ("Id", e.uuid.clone().unwrap_or_default()),
                ("Timestamp", show::format_timestamp(e.started)),
                ("TimestampRealtime", e.started.to_string()),
                ("Service", "spawnbox".to_string()),
                ("Leader", e.leader.to_string()),
                ("Launcher", e.launcher.to_string()),
                ("Class", e.class.clone()),
                ("RootDirectory", e.directory.display().to_string()),
                ("ControlGroup", e.cgroup.as_ref().map(|c| c.display().to_string()).unwrap_or_default()),
                ("NetworkInterfaces", e.interfaces.join(" ")),
                ("Addresses", e.addresses.join(" ")),
                ("Init", e.init.clone()),
                ("State", (if e.ready { "running" } else { "opening" }).to_string()),
            ];
            show::properties(&pairs, &o.properties, o.value)
        })
        .collect();
    Ok(blocks.join("\n"))
}

/// How long `--wait` waits.
const WAIT_TIMEOUT: Duration = Duration::from_secs(120);

/// `--wait`: until every machine of `entries` is gone (`poweroff`, `terminate`) or runs a new,
/// ready leader (`reboot`).
fn wait_for(entries: &[Entry], reboot: bool) -> Result<()> {
    let deadline = Instant::now() + WAIT_TIMEOUT;
    for e in entries {
        loop {
            let now = registry::read(&e.name).ok();
            let done = match (&now, reboot) {
                (None, false) => true,
                (Some(n), true) => n.leader != e.leader && n.ready,
                _ => false,
            };
            if done {
                break;
            }
            if Instant::now() >= deadline {
                let what = if reboot { "come back" } else { "stop" };
                return Err(Error::msg(format!(
                    "machine \"{}\" did not {what} within {} s",
                    e.name,
                    WAIT_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// `poweroff NAME...` and `reboot NAME...`: the request each guest's init understands, asked
/// again for a few seconds while the init does not listen yet (still booting); with `--wait`,
/// until it is done.
pub fn shutdown(o: &Options, names: &[String], what: Shutdown) -> Result<()> {
    let entries = names.iter().map(|n| registry::read(n)).collect::<Result<Vec<_>>>()?;
    for e in &entries {
        let kind = guest::kind_named(&e.init);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match guest::ask(e.leader, kind, what, None) {
                Ok(Asked::Sent(how)) => {
                    log::debug!("{}: {} requested ({how})", e.name, what.word());
                    break;
                }
                Ok(Asked::NotYet(why)) if Instant::now() < deadline => {
                    log::debug!("{}: {why}", e.name);
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(Asked::NotYet(why)) => {
                    return Err(Error::msg(format!("could not {} machine \"{}\": {why}", what.word(), e.name)))
                }
                Err(err) => return Err(err.context(format!("could not {} machine \"{}\"", what.word(), e.name))),
            }
        }
    }
    if o.wait {
        wait_for(&entries, what == Shutdown::Reboot)?;
    }
    Ok(())
}

/// `kill NAME... [--signal=SIG] [--kill-whom=leader|all]` (default: SIGTERM to all).
pub fn kill(o: &Options, names: &[String]) -> Result<()> {
    let sig = match &o.signal {
        None => libc::SIGTERM,
        Some(s) => crate::cli::values::parse_signal(s).map_err(|e| e.context(format!("--signal={s}")))?,
    };
    let all = match o.kill_whom.as_deref() {
        None | Some("all") => true,
        Some("leader") => false,
        Some(w) => return Err(Error::msg(format!("--kill-whom={w}: must be leader or all"))),
    };
    let entries = names.iter().map(|n| registry::read(n)).collect::<Result<Vec<_>>>()?;
    for e in &entries {
        let pids: Vec<i32> = if all && e.cgroup.is_some() {
            processes(e).into_iter().map(|(_, p, _)| p).collect()
        } else {
            vec![e.leader]
        };
        for pid in pids {
            if let Err(err) = crate::sys::kill(pid, sig) {
                if err != rustix::io::Errno::SRCH {
                    return Err(Error::sys("signal", format!("process {pid} of machine \"{}\"", e.name), err));
                }
            }
        }
    }
    Ok(())
}

/// `terminate NAME...`: every process killed at once (SIGKILL to the leader, whose launcher
/// then tears the machine down; a machine left by its creator is torn down here).
pub fn terminate(o: &Options, names: &[String]) -> Result<()> {
    let entries = names.iter().map(|n| registry::read(n)).collect::<Result<Vec<_>>>()?;
    for e in &entries {
        if e.launcher_alive() {
            let _ = crate::sys::kill(e.leader, libc::SIGKILL);
        } else {
            crate::machine::Created::load(&e.name)?.teardown()?;
        }
    }
    if o.wait {
        wait_for(&entries, false)?;
    }
    Ok(())
}

/// `set-property NAME PROP=VALUE...`: `--property=`'s parser and cgroup writes, applied to the
/// machine's live cgroup (controllers enabled on the way down as at start). On a hybrid host a
/// property whose controller a v1 hierarchy holds is refused, as at start.
pub fn set_property(args: &[String]) -> Result<()> {
    let (name, assignments) = (&args[0], &args[1..]);
    // The errors of the shared parser and writer name `--property=ASSIGNMENT`; here it is an
    // operand.
    let named = |e: Error| {
        let text = e.to_string();
        let text = text.strip_prefix("--property=").unwrap_or(&text);
        Error::from_parts(format!("set-property {name}: {text}"), e.errno(), None)
    };
    let props = assignments.iter().map(|a| cgroup::parse_property(a)).collect::<Result<Vec<_>>>().map_err(named)?;
    let e = registry::read(name)?;
    let path = e.cgroup.ok_or_else(|| Error::msg(format!("machine \"{name}\" has no cgroup")))?;
    let h = cgroup::Hierarchy::detect()?.ok_or_else(|| Error::msg("no cgroup2 hierarchy on this host"))?;
    let mut cg = cgroup::Cgroup::open(&h, &path)?;
    cg.set_properties(&props, &cgroup::SystemHost).map_err(named)
}
