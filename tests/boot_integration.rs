//! `spawnctl enable`/`disable` and the OpenRC script for real, spawnbox inside a spawnbox:
//! the OpenRC guest (Debian, sysvinit + OpenRC) and the busybox guest are booted with the
//! spawnbox binary bound in, driven through their console as a person would, and run a
//! busybox guest as machine `web` with the init's own tools (`openrc-run`, busybox init's
//! inittab). The outer guest has a network namespace of its own, so the inner machine's veth
//! stays in it; the files enable writes are checked from the host, byte for byte.

use rustix::process::Signal;
use spawnbox::ctl::boot::plan::{self, Init};
use spawnbox_tests::pty::{strip_controls, Pty};
use spawnbox_tests::{guest, Running, Test};
use std::path::PathBuf;
use std::time::Duration;

/// Long enough for a booting guest on a loaded 2-core machine.
const BOOT: Duration = Duration::from_secs(120);
const STEP: Duration = Duration::from_secs(60);
/// Where spawnbox is inside the outer guest (what `enable` writes into the init's files).
const BIN: &str = "/usr/local/bin/spawnbox";
const SPAWNCTL: &str = "/usr/local/bin/spawnctl";
/// The inner machine's command line, as its init runs it.
const INNER: &str = "/usr/local/bin/spawnbox --quiet --boot -U --network-veth --settings=override \
                     --link-journal=try-guest --console=read-only --machine=web";

/// Makes spawnbox usable in the outer guest's tree: `spawnctl`, a link to the binary that
/// `--bind-ro` puts at [`BIN`].
fn install_spawnctl(t: &Test) {
    std::fs::create_dir_all(t.rpath("/usr/local/bin")).unwrap();
    std::os::unix::fs::symlink("spawnbox", t.rpath(SPAWNCTL)).unwrap();
}

/// `spawnbox -b` of the outer guest on `pty`: its own network namespace, spawnbox bound in,
/// and the busybox guest as image `web` (`image`: bound read-only from the cache, or `None`
/// for a copy already in the tree).
fn boot(t: &Test, pty: &Pty, image: Option<&PathBuf>) -> Running {
    let bin = format!("--bind-ro={}:{BIN}", spawnbox_tests::spawnbox_bin().display());
    let mut args = vec!["-b".to_string(), "--private-network".to_string(), bin];
    if let Some(i) = image {
        args.push(format!("--bind-ro={}:/var/lib/machines/web", i.display()));
    }
    t.bare().args(&args).env("TERM", "vt220").timeout(Duration::from_secs(600)).terminal(pty.slave()).spawn()
}

/// Runs `cmd` at the shell prompt; what it printed, terminal controls removed, `\r\n` as `\n`.
fn shell(pty: &mut Pty, cmd: &str) -> String {
    strip_controls(&pty.run_at_prompt(cmd, STEP)).replace("\r\n", "\n")
}

/// The host pids of the processes whose command line starts with [`INNER`] and whose root is
/// the test's tree (the outer guest's: tests running side by side have their own `web`).
fn inner_launchers(t: &Test) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let root = id(&t.root);
    spawnbox_tests::host::processes_with_cmdline(INNER)
        .into_iter()
        .filter(|pid| root.is_some() && id(std::path::Path::new(&format!("/proc/{pid}/root"))) == root)
        .collect()
}

/// The command line of host process `pid`, one string per argument.
fn cmdline(pid: i32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

/// Fails with the lines that differ unless two tree listings are the same.
fn same_listing(before: &[String], after: &[String]) {
    let (appeared, vanished) = spawnbox_tests::multiset_diff(before, after);
    assert!(appeared.is_empty() && vanished.is_empty(), "appeared: {appeared:?}\nvanished: {vanished:?}");
}

/// The pid of host process `pid` in its own PID namespace (the last of `NSpid:`).
fn ns_pid(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:")).unwrap_or_default();
    line.split_whitespace().last().unwrap_or_default().to_string()
}

/// The parent of host process `pid`.
fn parent(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)).and_then(|p| p.parse().ok()).unwrap_or(0)
}

/// Waits (in the guest) until machine `web` is registered and up; `spawnctl list` then.
fn wait_up(pty: &mut Pty) -> String {
    shell(
        pty,
        &format!(
            "i=0; while [ $i -lt 300 ] && ! {SPAWNCTL} show -p State --value web 2>/dev/null | grep -qx running; do \
             sleep 0.2; i=$((i+1)); done; {SPAWNCTL} list --no-legend"
        ),
    )
}

/// `spawnctl show -p KEY --value web` in the guest.
fn show(pty: &mut Pty, key: &str) -> String {
    shell(pty, &format!("{SPAWNCTL} show -p {key} --value web")).trim_end().to_string()
}

/// Boots the OpenRC guest on a fresh pty and logs in as root; the position after the prompt.
fn boot_openrc(t: &Test, pty: &mut Pty) -> (Running, usize) {
    let run = boot(t, pty, Some(&guest("busybox")));
    let m = pty.mark();
    let at = pty.expect_after(m, "login: ", BOOT);
    pty.type_line("root");
    let at = pty.expect_after(at, "Password: ", STEP);
    pty.type_line("root");
    (run, pty.expect_after(at, "# ", STEP))
}

/// `/etc/init.d/spawnbox.web ACTION; echo rc=$?` in the guest; fails unless the output has
/// `has` and ends with `rc=RC`.
fn service(pty: &mut Pty, action: &str, has: &[&str], rc: i32) {
    let out = shell(pty, &format!("/etc/init.d/spawnbox.web {action}; echo rc=$?"));
    let want = format!("rc={rc}\n");
    assert!(has.iter().all(|h| out.contains(h)) && out.ends_with(&want), "{action}: {out:?}");
}

#[test]
fn openrc_script_starts_stops_restarts_and_respawns_a_machine_under_supervise_daemon() {
    let t = Test::from_tree("bi-openrc", &guest("openrc"));
    install_spawnctl(&t);
    // What `make install` installs, with the binary where it is in this guest.
    let ws = spawnbox_tests::workspace();
    let script = std::fs::read_to_string(ws.join("packaging/openrc/spawnbox.initd")).unwrap();
    t.write("/etc/init.d/spawnbox", &script.replace("@BINDIR@", "/usr/local/bin"));
    std::fs::set_permissions(t.rpath("/etc/init.d/spawnbox"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    t.write("/etc/conf.d/spawnbox", &std::fs::read_to_string(ws.join("packaging/openrc/spawnbox.confd")).unwrap());
    t.write(
        "/etc/conf.d/spawnbox.web",
        "SPAWNBOX_OPTS=\"--setenv=FROM_CONFD=yes\"\nrespawn_delay=1\nstop_timeout=30\n",
    );
    let log = t.rpath("/var/log/spawnbox/web.log");
    let log_len = || std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
    let log_since =
        |from: usize| String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()[from..]).into_owned();
    let runlevel_link = t.rpath("/etc/runlevels/default/spawnbox.web");

    // Boot 1: enable makes the link and adds it to the runlevel; nothing starts.
    let mut pty = Pty::new(40, 200);
    let (mut run, _) = boot_openrc(&t, &mut pty);
    // /etc as the booted guest has it (the boot itself links /etc/localtime, for one).
    let etc_before = spawnbox_tests::tree_listing(&t.rpath("/etc"));
    assert_eq!(
        shell(&mut pty, &format!("{SPAWNCTL} enable web")),
        "Created symlink /etc/init.d/spawnbox.web \u{2192} spawnbox.\n * service spawnbox.web added to runlevel default\n"
    );
    assert_eq!(std::fs::read_link(t.rpath("/etc/init.d/spawnbox.web")).unwrap(), PathBuf::from("spawnbox"));
    assert_eq!(std::fs::read_link(&runlevel_link).unwrap(), PathBuf::from("/etc/init.d/spawnbox.web"));
    let (appeared, vanished) =
        spawnbox_tests::multiset_diff(&etc_before, &spawnbox_tests::tree_listing(&t.rpath("/etc")));
    assert_eq!(
        (appeared, vanished),
        (
            vec![
                "init.d/spawnbox.web link -> spawnbox".to_string(),
                "runlevels/default/spawnbox.web link -> /etc/init.d/spawnbox.web".to_string()
            ],
            vec![]
        )
    );
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} enable web; echo rc=$?")), "rc=0\n", "enable twice");
    assert_eq!(inner_launchers(&t), Vec::<i32>::new());
    run.kill(Signal::TERM);
    assert_eq!(run.wait().code, Some(0), "console: {:?}", pty.text());

    // Boot 2: OpenRC starts it, under supervise-daemon, with the unit's options and SPAWNBOX_OPTS.
    let mut pty = Pty::new(40, 200);
    let (mut run, _) = boot_openrc(&t, &mut pty);
    let list = wait_up(&mut pty);
    assert!(list.starts_with("web container spawnbox spawnbox-test 1 10.0.0.2/28"), "{list:?}");
    let launchers = inner_launchers(&t);
    assert_eq!(launchers.len(), 1, "{launchers:?}");
    let first = launchers[0];
    let mut want: Vec<String> = INNER.split(' ').map(str::to_string).collect();
    want.push("--setenv=FROM_CONFD=yes".into());
    assert_eq!(cmdline(first), want);
    let supervisor = cmdline(parent(first));
    assert_eq!(
        supervisor.get(..3),
        Some(&["supervise-daemon".to_string(), "spawnbox.web".into(), "--start".into()][..])
    );
    // The registry names the same process, by its pid in the outer guest's PID namespace.
    assert_eq!(show(&mut pty, "Launcher"), ns_pid(first));
    service(&mut pty, "status", &["status: started"], 0);
    assert!(log_since(0).contains("spawnbox-guest: sysinit done"), "{}", log_since(0));

    // A reboot inside the guest: the same spawnbox boots it again.
    let leader = show(&mut pty, "Leader");
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} reboot web; echo rc=$?")), "rc=0\n");
    let rebooted = shell(
        &mut pty,
        &format!(
            "i=0; while [ $i -lt 300 ] && [ \"$({SPAWNCTL} show -p Leader --value web 2>/dev/null)\" = {leader} ]; do \
             sleep 0.2; i=$((i+1)); done; {SPAWNCTL} show -p Leader --value web"
        ),
    );
    assert_ne!(rebooted.trim_end(), leader, "the guest did not reboot");
    wait_up(&mut pty);
    assert_eq!(inner_launchers(&t), [first], "spawnbox ended on a reboot of its guest");
    assert!(log_since(0).contains("Requesting system reboot"), "{}", log_since(0));

    // spawnbox killed: supervise-daemon starts it again (respawn_delay=1).
    rustix::process::kill_process(rustix::process::Pid::from_raw(first).unwrap(), Signal::KILL).unwrap();
    assert!(
        spawnbox_tests::wait_until(Duration::from_secs(60), || inner_launchers(&t).iter().any(|p| *p != first)),
        "spawnbox was not started again"
    );
    wait_up(&mut pty);
    assert_eq!(inner_launchers(&t).len(), 1, "{:?}", inner_launchers(&t));
    service(&mut pty, "status", &["status: started"], 0);

    // stop: SIGTERM, the guest halts cleanly (busybox init: SIGUSR1), well before the timeout.
    let from = log_len();
    let started = std::time::Instant::now();
    service(&mut pty, "stop", &["Stopping spawnbox.web"], 0);
    assert!(started.elapsed() < Duration::from_secs(25), "stop took {:?}", started.elapsed());
    assert_eq!(inner_launchers(&t), Vec::<i32>::new());
    assert!(log_since(from).contains("Requesting system halt"), "{}", log_since(from));
    service(&mut pty, "status", &["status: stopped"], 3);
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} list --no-legend")), "");

    // start, then restart: a new spawnbox.
    service(&mut pty, "start", &["Starting spawnbox.web"], 0);
    wait_up(&mut pty);
    let before = inner_launchers(&t);
    service(&mut pty, "restart", &["Stopping spawnbox.web", "Starting spawnbox.web"], 0);
    let list = wait_up(&mut pty);
    assert!(list.starts_with("web container"), "{list:?}");
    let after = inner_launchers(&t);
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(!before.contains(&after[0]), "{before:?} {after:?}");

    // disable while it runs: out of the runlevel; its script stays until it is stopped.
    assert_eq!(
        shell(&mut pty, &format!("{SPAWNCTL} disable web")),
        " * service spawnbox.web removed from runlevel default\n\
         Left /etc/init.d/spawnbox.web: the service is started; stop it, then disable again.\n"
    );
    assert!(runlevel_link.symlink_metadata().is_err());
    assert_eq!(inner_launchers(&t), after);
    // The outer guest's shutdown stops it, cleanly.
    let from = log_len();
    run.kill(Signal::TERM);
    let out = run.wait();
    pty.pump();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    assert!(log_since(from).contains("Requesting system halt"), "{}", log_since(from));

    // Boot 3: not started any more; disable now removes the script link, and /etc is as it was.
    let mut pty = Pty::new(40, 200);
    let (mut run, _) = boot_openrc(&t, &mut pty);
    service(&mut pty, "status", &["status: stopped"], 3);
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} list --no-legend")), "");
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} disable web")), "Removed symlink /etc/init.d/spawnbox.web.\n");
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} disable web; echo rc=$?")), "rc=0\n", "disable twice");
    same_listing(&etc_before, &spawnbox_tests::tree_listing(&t.rpath("/etc")));
    run.kill(Signal::TERM);
    assert_eq!(run.wait().code, Some(0), "console: {:?}", pty.text());
}

/// The inittab the busybox guest boots with, and the one `enable` makes of it.
fn inittabs(t: &Test) -> (String, String) {
    let before = std::fs::read_to_string(t.rpath("/etc/inittab")).unwrap();
    let step = plan::enable(&Init::Busybox, BIN, "web").remove(0);
    let after = plan::edit_inittab(&before, &step).unwrap().unwrap();
    (before, after)
}

#[test]
fn busybox_init_runs_the_enabled_machine_at_boot_and_stops_it_first_at_shutdown() {
    let t = Test::from_tree("bi-busybox", &guest("busybox"));
    install_spawnctl(&t);
    // The inner machine: a copy of the busybox guest whose shutdown action takes 3 s, longer
    // than busybox init's own grace between SIGTERM and SIGKILL to every process (1 s).
    std::fs::create_dir_all(t.rpath("/var/lib/machines")).unwrap();
    let st =
        std::process::Command::new("cp").arg("-a").arg(guest("busybox")).arg(t.rpath("/var/lib/machines/web")).status();
    assert!(st.unwrap().success());
    let inner_tab = t.rpath("/var/lib/machines/web/etc/inittab");
    let tab = std::fs::read_to_string(&inner_tab).unwrap();
    let slow = "::shutdown:/bin/sh -c 'sleep 3; echo shutdown-ran > /var/lib/spawnbox-marker'";
    std::fs::write(
        &inner_tab,
        tab.replace("::shutdown:/bin/sh -c 'echo shutdown-ran > /var/lib/spawnbox-marker'", slow),
    )
    .unwrap();
    assert!(std::fs::read_to_string(&inner_tab).unwrap().contains(slow));
    let marker = t.rpath("/var/lib/machines/web/var/lib/spawnbox-marker");
    let (before, after) = inittabs(&t);

    // Boot 1: --print shows the lines and changes nothing; enable writes them, starts nothing.
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, None);
    let m = pty.mark();
    pty.expect_after(m, "# ", BOOT);
    let printed: String = plan::enable(&Init::Busybox, BIN, "web").iter().map(plan::describe).collect();
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} enable --print web")), printed);
    assert_eq!(std::fs::read_to_string(t.rpath("/etc/inittab")).unwrap(), before);
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} enable web")), "Added spawnbox.web to /etc/inittab.\n");
    assert_eq!(std::fs::read_to_string(t.rpath("/etc/inittab")).unwrap(), after);
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} enable web; echo rc=$?")), "rc=0\n", "enable twice");
    assert_eq!(std::fs::read_to_string(t.rpath("/etc/inittab")).unwrap(), after);
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} list --no-legend")), "");
    run.kill(Signal::TERM);
    assert_eq!(run.wait().code, Some(0), "console: {:?}", pty.text());
    assert!(!marker.exists());

    // Boot 2: busybox init starts the machine; at shutdown, its line stops it first and waits.
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, None);
    let outer_init = run.container_pid1();
    let m = pty.mark();
    pty.expect_after(m, "# ", BOOT);
    let list = wait_up(&mut pty);
    assert!(list.starts_with("web container spawnbox spawnbox-test 1 10.0.0.2/28"), "{list:?}");
    let launchers = inner_launchers(&t);
    assert_eq!(launchers.len(), 1, "{launchers:?}");
    assert_eq!(cmdline(launchers[0]), INNER.split(' ').collect::<Vec<_>>());
    // busybox init ran the line through sh, which became spawnbox.
    assert_eq!(parent(launchers[0]), outer_init);
    let log = std::fs::read_to_string(t.rpath("/var/log/spawnbox/web.log")).unwrap();
    assert!(log.contains("spawnbox-guest: sysinit done"), "{log}");
    run.kill(Signal::TERM);
    let out = run.wait();
    assert_eq!(out.code, Some(0), "{out:?} console: {:?}", pty.text());
    let stopped_cleanly = || std::fs::read_to_string(&marker).ok().as_deref() == Some("shutdown-ran\n");
    assert!(stopped_cleanly(), "the machine was not stopped cleanly (its 3 s shutdown action did not finish)");
    let log = std::fs::read_to_string(t.rpath("/var/log/spawnbox/web.log")).unwrap();
    assert!(log.contains("Requesting system halt"), "{log}");

    // Boot 3: disable takes exactly its lines out again.
    std::fs::remove_file(&marker).unwrap();
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, None);
    let m = pty.mark();
    pty.expect_after(m, "# ", BOOT);
    wait_up(&mut pty);
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} disable web")), "Removed spawnbox.web from /etc/inittab.\n");
    assert_eq!(std::fs::read_to_string(t.rpath("/etc/inittab")).unwrap(), before);
    assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} disable web; echo rc=$?")), "rc=0\n", "disable twice");
    assert_eq!(std::fs::read_to_string(t.rpath("/etc/inittab")).unwrap(), before);
    // Not stopped by disable. busybox init reads the inittab at boot (or on SIGHUP): until
    // then it keeps the table it read, and still stops the machine first at shutdown.
    assert_eq!(inner_launchers(&t).len(), 1);
    run.kill(Signal::TERM);
    assert_eq!(run.wait().code, Some(0), "console: {:?}", pty.text());
    assert_eq!(inner_launchers(&t), Vec::<i32>::new());
    assert!(stopped_cleanly(), "the machine was not stopped cleanly after disable");
}

#[test]
fn enable_refuses_bad_names_and_missing_images_changing_nothing() {
    let t = Test::from_tree("bi-errors", &guest("busybox"));
    install_spawnctl(&t);
    let mut pty = Pty::new(40, 200);
    let mut run = boot(&t, &pty, Some(&guest("busybox")));
    let m = pty.mark();
    pty.expect_after(m, "# ", BOOT);
    let before = spawnbox_tests::tree_listing(&t.rpath("/etc"));
    for (args, err) in [
        (
            "enable 'a b'",
            "spawnctl: machine name \"a b\" cannot name a boot service (letters, digits, '.', '_' and '-' only)",
        ),
        ("enable web nope", "spawnctl: no image \"nope\" known"),
        (
            "disable 'x:y'",
            "spawnctl: machine name \"x:y\" cannot name a boot service (letters, digits, '.', '_' and '-' only)",
        ),
    ] {
        assert_eq!(shell(&mut pty, &format!("{SPAWNCTL} {args}; echo rc=$?")), format!("{err}\nrc=1\n"));
    }
    same_listing(&before, &spawnbox_tests::tree_listing(&t.rpath("/etc")));
    run.kill(Signal::TERM);
    assert_eq!(run.wait().code, Some(0));
}
