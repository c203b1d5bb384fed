//! A `Spec` from an OCI bundle (`spawnbox-runc create`): the container ID names the machine,
//! config.json's root, process and mounts fill the spec, and every nspawn default that would
//! add policy (resolv.conf, timezone, journal, `/tmp`, the machine id, the API mounts) is off.
//! What the core cannot do yet is refused here, before anything exists, naming the JSON path.

use crate::error::{Error, Result};
use crate::runtime_spec::{Config, NsKind};
use crate::settings::{
    ConsoleMode, LinkJournal, NetworkAddress, PrivateUsers, ResolvConfMode, Settings, StartMode, TimezoneMode,
    UserNamespaceOwnership,
};
use crate::spec::{normalize, Caller, OciSpec, Spec};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The namespaces the core always makes (mount, PID, UTS, IPC): config.json must ask for them.
const ALWAYS_NEW: [NsKind; 4] = [NsKind::Mount, NsKind::Pid, NsKind::Uts, NsKind::Ipc];

/// The spec for container `id` of the bundle at `bundle` (absolute), `config` its config.json.
pub fn from_bundle(id: &str, bundle: &Path, config: Config) -> Result<Spec> {
    let process = config.process.as_ref().ok_or_else(|| Error::msg("process: missing (create needs a process)"))?;
    check_namespaces(&config)?;
    let terminal = process.terminal;
    let root = Path::new(&config.root.path);
    let directory = normalize(&if root.is_absolute() { root.to_path_buf() } else { bundle.join(root) });
    let settings = Settings {
        directory: Some(directory),
        machine: Some(id.to_string()),
        start_mode: Some(StartMode::Pid1),
        parameters: process.args.iter().map(OsString::from).collect(),
        console: Some(if terminal { ConsoleMode::Interactive } else { ConsoleMode::Pipe }),
        quiet: true,
        ..Default::default()
    };
    let caller = Caller { cwd: bundle, stdin_tty: false, stdout_tty: false, host_hostname: "" };
    let mut spec = Spec::resolve(settings, &caller)?;
    spec.hostname = config.hostname.clone().unwrap_or_default();
    spec.chdir = Some(PathBuf::from(&process.cwd));
    spec.setenv = process.env.clone();
    spec.kill_signal = 15;
    spec.resolv_conf = ResolvConfMode::Off;
    spec.timezone = TimezoneMode::Off;
    spec.link_journal = LinkJournal::No;
    spec.lock_tree = false;
    spec.tmpfs_tmp = false;
    spec.check_os_release = false;
    spec.private_users = PrivateUsers::No;
    spec.ownership = UserNamespaceOwnership::Off;
    spec.net.address = NetworkAddress::Off;
    for ns in &config.linux.namespaces {
        if ns.kind == NsKind::Network {
            spec.net.private_network = true;
            spec.net.namespace_path = ns.path.as_ref().map(PathBuf::from);
        }
    }
    spec.custom_mounts = crate::mount_plan_oci::binds(&config, bundle)?;
    // Every mount option is read (and refused) now, not in the child.
    crate::mount_plan_oci::plan(&config, &spec.custom_mounts)?;
    spec.oci = Some(Box::new(OciSpec {
        id: id.to_string(),
        bundle: bundle.to_path_buf(),
        config,
        no_cgroups: false,
        preserve_fds: 0,
    }));
    Ok(spec)
}

/// What the core makes of `linux.namespaces` today: new mount, PID, UTS and IPC namespaces
/// (required), a network namespace new or joined by path, a cgroup namespace or none.
fn check_namespaces(config: &Config) -> Result<()> {
    let list = &config.linux.namespaces;
    for (i, ns) in list.iter().enumerate() {
        let at = format!("linux.namespaces[{i}]");
        match ns.kind {
            NsKind::User => {
                return Err(Error::msg(format!("{at}: user namespaces are not supported by spawnbox-runc yet")))
            }
            NsKind::Time => {
                return Err(Error::msg(format!("{at}: time namespaces are not supported by spawnbox-runc yet")))
            }
            NsKind::Network => {}
            _ if ns.path.is_some() => {
                return Err(Error::msg(format!(
                    "{at}.path: joining a {} namespace is not supported by spawnbox-runc yet (only network)",
                    ns.kind.name()
                )))
            }
            _ => {}
        }
    }
    for kind in ALWAYS_NEW {
        if !list.iter().any(|n| n.kind == kind) {
            return Err(Error::msg(format!(
                "linux.namespaces: a container without a {} namespace of its own is not supported by spawnbox-runc yet",
                kind.name()
            )));
        }
    }
    Ok(())
}

/// Whether config.json asks for a cgroup namespace.
pub fn cgroup_namespace(config: &Config) -> bool {
    config.linux.namespaces.iter().any(|n| n.kind == NsKind::Cgroup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime_spec::parse;

    fn config(namespaces: &str) -> Config {
        let text = format!(
            r#"{{"ociVersion":"1.2.0","root":{{"path":"rootfs"}},"hostname":"h1",
               "process":{{"cwd":"/srv","args":["echo","hi"],"env":["PATH=/bin","A=b"],"user":{{"uid":1000,"gid":100}}}},
               "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}}],
               "linux":{{"namespaces":[{namespaces}]}}}}"#
        );
        parse(text.as_bytes()).expect("config")
    }

    const ALL: &str = r#"{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"network"}"#;

    #[test]
    fn spec_from_a_bundle() {
        let s = from_bundle("c1", Path::new("/b"), config(ALL)).unwrap();
        assert_eq!(s.machine, "c1");
        assert_eq!(s.directory, PathBuf::from("/b/rootfs"));
        assert_eq!(s.hostname, "h1");
        assert_eq!(s.parameters, [OsString::from("echo"), OsString::from("hi")]);
        assert_eq!(s.setenv, ["PATH=/bin", "A=b"]);
        assert_eq!(s.chdir, Some(PathBuf::from("/srv")));
        assert_eq!(s.console, ConsoleMode::Pipe);
        assert!(s.net.private_network && s.net.namespace_path.is_none());
        assert!(!s.tmpfs_tmp && s.resolv_conf == ResolvConfMode::Off && s.timezone == TimezoneMode::Off);
        assert!(s.oci.is_some());
    }

    #[test]
    fn refused_namespaces_name_their_path() {
        let cases = [
            (
                r#"{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"user"}"#,
                "linux.namespaces[4]: user namespaces are not supported by spawnbox-runc yet",
            ),
            (
                r#"{"type":"pid","path":"/proc/1/ns/pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"}"#,
                "linux.namespaces[0].path: joining a pid namespace is not supported by spawnbox-runc yet (only network)",
            ),
            (
                r#"{"type":"mount"},{"type":"ipc"},{"type":"uts"}"#,
                "linux.namespaces: a container without a pid namespace of its own is not supported by spawnbox-runc yet",
            ),
        ];
        for (ns, want) in cases {
            assert_eq!(from_bundle("c", Path::new("/b"), config(ns)).unwrap_err().to_string(), want);
        }
    }
}
