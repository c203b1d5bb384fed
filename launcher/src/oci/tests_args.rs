//! The argv lines the engines send (../shared/reference/oci-runtime.md, measured with a logging
//! wrapper), and the errors for bad ones.

use super::args::*;
use std::path::{Path, PathBuf};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn parse_line(line: &str) -> crate::error::Result<Request> {
    let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    parse(&args, Path::new("/cwd"))
}

fn ok(line: &str) -> (Global, Command) {
    match parse_line(line) {
        Ok(Request::Command(g, c)) => (g, c),
        other => panic!("{line}: {other:?}"),
    }
}

fn err(line: &str) -> String {
    match parse_line(line) {
        Err(e) => e.to_string(),
        Ok(r) => panic!("{line}: parsed as {r:?}"),
    }
}

#[test]
fn podman_conmon_create_start_delete() {
    let (g, c) = ok(&format!("create --bundle /u/userdata --pid-file /u/userdata/pidfile {ID}"));
    assert_eq!(g, Global { root: PathBuf::from(DEFAULT_ROOT), ..Global::default() });
    assert_eq!(
        c,
        Command::Create(Create {
            id: ID.into(),
            bundle: "/u/userdata".into(),
            pid_file: Some("/u/userdata/pidfile".into()),
            ..Create::default()
        })
    );
    assert_eq!(ok(&format!("start {ID}")).1, Command::Start { id: ID.into() });
    assert_eq!(ok(&format!("delete --force {ID}")).1, Command::Delete { id: ID.into(), force: true });
    let (_, c) =
        ok(&format!("create --bundle /u/userdata --pid-file /u/p --console-socket /tmp/conmon-term.Ab12 {ID}"));
    let Command::Create(c) = c else { panic!() };
    assert_eq!(c.console_socket, Some("/tmp/conmon-term.Ab12".into()));
}

#[test]
fn podman_runc_named_flags_exec_pause_stop() {
    let (g, _) = ok(&format!("--log-format=json --log /u/userdata/oci-log create --bundle /b {ID}"));
    assert_eq!(g.log_format, LogFormat::Json);
    assert_eq!(g.log, Some("/u/userdata/oci-log".into()));
    let (_, c) = ok(&format!("exec --pid-file /u/{ID}/exec_pid --process /u/{ID}/exec-process-123 --detach {ID}"));
    assert_eq!(
        c,
        Command::Exec(Exec {
            id: ID.into(),
            process: Some(format!("/u/{ID}/exec-process-123").into()),
            pid_file: Some(format!("/u/{ID}/exec_pid").into()),
            detach: true,
            ..Exec::default()
        })
    );
    let (_, c) =
        ok(&format!("exec --pid-file /p --process /f --detach --tty --console-socket /tmp/conmon-term.X {ID}"));
    let Command::Exec(e) = c else { panic!() };
    assert!(e.tty && e.detach);
    assert_eq!(e.console_socket, Some("/tmp/conmon-term.X".into()));
    assert_eq!(ok(&format!("pause {ID}")).1, Command::Pause { id: ID.into() });
    assert_eq!(ok(&format!("resume {ID}")).1, Command::Resume { id: ID.into() });
    assert_eq!(ok(&format!("kill {ID} 15")).1, Command::Kill { id: ID.into(), all: false, signal: 15 });
    assert_eq!(ok(&format!("kill {ID} 9")).1, Command::Kill { id: ID.into(), all: false, signal: 9 });
    let (g, _) = ok(&format!("--cgroup-manager disabled create --bundle /b {ID}"));
    assert!(g.no_cgroups);
}

#[test]
fn containerd_shim_calls() {
    let g = "--root /run/containerd/runc/default --log /s/c1/log.json --log-format json";
    let (global, c) = ok(&format!("{g} create --bundle /s/c1 --pid-file /s/c1/init.pid c1"));
    assert_eq!(
        global,
        Global {
            root: "/run/containerd/runc/default".into(),
            log: Some("/s/c1/log.json".into()),
            log_format: LogFormat::Json,
            debug: false,
            no_cgroups: false,
        }
    );
    assert_eq!(
        c,
        Command::Create(Create {
            id: "c1".into(),
            bundle: "/s/c1".into(),
            pid_file: Some("/s/c1/init.pid".into()),
            ..Create::default()
        })
    );
    let (_, c) =
        ok(&format!("{g} create --bundle /s/c1 --pid-file /s/c1/init.pid --console-socket /tmp/pty1/pty.sock c1"));
    let Command::Create(c) = c else { panic!() };
    assert_eq!(c.console_socket, Some("/tmp/pty1/pty.sock".into()));
    assert_eq!(ok(&format!("{g} delete c1")).1, Command::Delete { id: "c1".into(), force: false });
    let (_, c) = ok(&format!(
        "{g} exec --process /tmp/runc-process1 --console-socket /tmp/p/pty.sock --detach --pid-file /s/c3/e2.pid c3"
    ));
    let Command::Exec(e) = c else { panic!() };
    assert_eq!((e.id.as_str(), e.detach, e.pid_file), ("c3", true, Some("/s/c3/e2.pid".into())));
    assert_eq!(ok(&format!("{g} ps --format json c3")).1, Command::Ps { id: "c3".into(), json: true, args: vec![] });
    assert_eq!(ok(&format!("{g} kill --all c4 9")).1, Command::Kill { id: "c4".into(), all: true, signal: 9 });
}

#[test]
fn suites_put_options_after_the_id_and_send_signal_names() {
    let (g, c) = ok("--root /r create c1 --bundle /b --no-pivot");
    assert_eq!(g.root, PathBuf::from("/r"));
    assert_eq!(
        c,
        Command::Create(Create { id: "c1".into(), bundle: "/b".into(), no_pivot: true, ..Create::default() })
    );
    for (sig, n) in [("TERM", 15), ("KILL", 9), ("SIGKILL", 9), ("sigterm", 15), ("hup", 1), ("SIGRTMIN+3", 37)] {
        assert_eq!(ok(&format!("kill c1 {sig}")).1, Command::Kill { id: "c1".into(), all: false, signal: n }, "{sig}");
    }
    assert_eq!(ok("kill c1").1, Command::Kill { id: "c1".into(), all: false, signal: 15 });
    // Go's flag syntax: one dash for long names, and `=false` for booleans.
    let (g, c) = ok("-root /r delete -force=false c1");
    assert_eq!(g.root, PathBuf::from("/r"));
    assert_eq!(c, Command::Delete { id: "c1".into(), force: false });
}

#[test]
fn exec_leaves_the_commands_own_options_alone() {
    let (_, c) = ok("exec -t --env A=1 -e B=2 --user 1000:100 -g 5 -g 6 --cwd /tmp c1 ls -l --color -- x");
    assert_eq!(
        c,
        Command::Exec(Exec {
            id: "c1".into(),
            args: ["ls", "-l", "--color", "--", "x"].map(String::from).to_vec(),
            env: vec!["A=1".into(), "B=2".into()],
            tty: true,
            user: Some((1000, Some(100))),
            additional_gids: vec![5, 6],
            cwd: Some("/tmp".into()),
            ..Exec::default()
        })
    );
    let (_, c) = ok("exec c1 -- sh -c true");
    let Command::Exec(e) = c else { panic!() };
    assert_eq!(e.args, ["sh", "-c", "true"]);
}

#[test]
fn relative_paths_are_taken_from_the_working_directory() {
    let (g, c) = ok("--root state --log l.json create c1 --bundle b --pid-file p");
    assert_eq!((g.root, g.log), (PathBuf::from("/cwd/state"), Some(PathBuf::from("/cwd/l.json"))));
    let Command::Create(c) = c else { panic!() };
    assert_eq!((c.bundle, c.pid_file), (PathBuf::from("/cwd/b"), Some(PathBuf::from("/cwd/p"))));
    let Command::Create(c) = ok("create c1").1 else { panic!() };
    assert_eq!(c.bundle, PathBuf::from("/cwd"));
}

#[test]
fn version_help_and_other_commands() {
    assert_eq!(parse_line("--version").unwrap(), Request::Version);
    assert_eq!(parse_line("-v").unwrap(), Request::Version);
    assert_eq!(parse_line("--help").unwrap(), Request::Help);
    assert_eq!(ok("list --format json -q").1, Command::List { json: true, quiet: true });
    assert_eq!(ok("spec --bundle b").1, Command::Spec { bundle: Some("/cwd/b".into()), rootless: false });
    assert_eq!(ok("features").1, Command::Features);
    assert_eq!(ok("state c1").1, Command::State { id: "c1".into() });
    assert_eq!(
        ok("run -d --keep c1 -b /b").1,
        Command::Run {
            create: Create { id: "c1".into(), bundle: "/b".into(), ..Create::default() },
            detach: true,
            keep: true
        }
    );
}

#[test]
fn errors_name_the_option_or_the_command() {
    for (line, want) in [
        ("", "no command given (see --help)"),
        ("frobnicate c1", "frobnicate: unknown command (see --help)"),
        ("checkpoint c1", "checkpoint: not supported by spawnbox-runc"),
        (
            "--systemd-cgroup create c1",
            "--systemd-cgroup: not supported: spawnbox-runc creates cgroups itself (cgroupfs)",
        ),
        ("--cgroup-manager systemd state c1", "--cgroup-manager: \"systemd\" is not supported (cgroupfs or disabled)"),
        ("--log-format xml state c1", "--log-format: \"xml\": expected text or json"),
        ("--root", "--root: needs a value"),
        ("--nope state c1", "--nope: unknown option"),
        ("create --bundle", "create: --bundle: needs a value"),
        ("create --frob c1", "create: --frob: unknown option"),
        ("create", "create: needs a container ID"),
        ("create c1 c2", "create: unexpected argument \"c2\""),
        ("create ../x", "create: invalid container ID \"../x\""),
        ("state ..", "state: invalid container ID \"..\""),
        ("delete --force=maybe c1", "delete: --force: takes no value, got \"maybe\""),
        ("kill c1 FROB", "kill: invalid signal \"FROB\""),
        ("kill c1 9 9", "kill: unexpected argument \"9\""),
        ("exec c1", "exec: needs a command or --process"),
        ("exec --user root c1 sh", "exec: --user: \"root\": expected UID[:GID]"),
        ("exec -g x c1 sh", "exec: --additional-gids: \"x\" is not a number"),
        ("create --preserve-fds two c1", "create: --preserve-fds: \"two\" is not a number"),
        ("ps --format yaml c1", "ps: --format: \"yaml\": expected table or json"),
    ] {
        assert_eq!(err(line), want, "{line:?}");
    }
}
