//! The boot integration as data: the lines and scripts written, the plans, the inittab edit,
//! the host's init chosen from what it shows; then the plans carried out in a temp root.

use super::apply::apply;
use super::plan::*;
use super::{choose, Facts};
use crate::ctl::start::UNIT_OPTIONS;
use crate::guest::InitKind;
use rustix::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const BIN: &str = "/usr/bin/spawnbox";
const SCRIPT: &str = include_str!("../../../../packaging/openrc/spawnbox.initd");
const CONFD: &str = include_str!("../../../../packaging/openrc/spawnbox.confd");

#[test]
fn inittab_lines_run_spawnbox_as_the_unit_does_and_stop_it_cleanly() {
    let (respawn, shutdown) = inittab_lines(BIN, "web");
    assert_eq!(
        respawn,
        "::respawn:/bin/sh -c 'mkdir -p /var/log/spawnbox && exec /usr/bin/spawnbox --quiet --boot -U --network-veth \
         --settings=override --link-journal=try-guest --console=read-only --machine=web \
         </dev/null >>/var/log/spawnbox/web.log 2>&1'"
    );
    assert_eq!(
        shutdown,
        "::shutdown:/bin/sh -c 'p=$(/usr/bin/spawnctl show -p Launcher --value web 2>/dev/null) && [ \"$p\" -gt 1 ] \
         && kill $p && while kill -0 $p 2>/dev/null; do sleep 1; done'"
    );
    // busybox's parser ends a line at '#'.
    assert!(!respawn.contains('#') && !shutdown.contains('#'));
}

#[test]
fn runit_scripts() {
    assert_eq!(
        runit_run(BIN, "web"),
        "#!/bin/sh\n\
         # spawnbox.web: machine web under runit (written by spawnctl enable web; spawnctl disable web removes it)\n\
         # As systemd-nspawn@web.service runs it; console and messages go to /var/log/spawnbox/web.log.\n\
         mkdir -p /var/log/spawnbox\n\
         exec /usr/bin/spawnbox --quiet --boot -U --network-veth --settings=override --link-journal=try-guest \
         --console=read-only --machine=web </dev/null >>/var/log/spawnbox/web.log 2>&1\n"
    );
    assert_eq!(
        runit_finish("web"),
        "#!/bin/sh\n\
         # spawnbox.web: machine web under runit (written by spawnctl enable web; spawnctl disable web removes it)\n\
         # Exit status 0 (the guest powered off, or sv down) keeps it down, as systemd-nspawn@.service's\n\
         # Restart=on-failure does; runsv starts it again after any other end.\n\
         [ \"$1\" != 0 ] || exec sv down .\n"
    );
}

#[test]
fn plans_per_init_and_their_undoing() {
    assert_eq!(
        enable(&Init::OpenRc, BIN, "web"),
        [
            Step::Need {
                path: "/etc/init.d/spawnbox".into(),
                hint: "install spawnbox's OpenRC script: make install, or the spawnbox-openrc package"
            },
            Step::Link { path: "/etc/init.d/spawnbox.web".into(), target: "spawnbox".into() },
            Step::RcUpdateAdd("spawnbox.web".into()),
        ]
    );
    assert_eq!(
        disable(&Init::OpenRc, "web"),
        [
            Step::RcUpdateDel("spawnbox.web".into()),
            Step::RemoveLink {
                path: "/etc/init.d/spawnbox.web".into(),
                target: "spawnbox".into(),
                busy: vec![
                    "/run/openrc/started/spawnbox.web".into(),
                    "/run/openrc/starting/spawnbox.web".into(),
                    "/run/openrc/stopping/spawnbox.web".into(),
                    "/run/openrc/inactive/spawnbox.web".into(),
                ]
            },
        ]
    );
    let (respawn, shutdown) = inittab_lines(BIN, "web");
    assert_eq!(enable(&Init::Busybox, BIN, "web"), [Step::InittabAdd { name: "web".into(), respawn, shutdown }]);
    assert_eq!(disable(&Init::Busybox, "web"), [Step::InittabRemove { name: "web".into() }]);
    let runit = Init::Runit { service_dir: "/var/service".into() };
    assert_eq!(
        enable(&runit, BIN, "web"),
        [
            Step::Dir("/etc/sv/spawnbox.web".into()),
            Step::File { path: "/etc/sv/spawnbox.web/run".into(), text: runit_run(BIN, "web") },
            Step::File { path: "/etc/sv/spawnbox.web/finish".into(), text: runit_finish("web") },
            Step::Link { path: "/var/service/spawnbox.web".into(), target: "/etc/sv/spawnbox.web".into() },
        ]
    );
    let marker = runit_run(BIN, "web").lines().nth(1).unwrap().to_string();
    assert_eq!(
        disable(&runit, "web"),
        [
            Step::RemoveLink {
                path: "/var/service/spawnbox.web".into(),
                target: "/etc/sv/spawnbox.web".into(),
                busy: Vec::new()
            },
            Step::RemoveFile { path: "/etc/sv/spawnbox.web/run".into(), marker: marker.clone() },
            Step::RemoveFile { path: "/etc/sv/spawnbox.web/finish".into(), marker },
            Step::RemoveDir("/etc/sv/spawnbox.web".into()),
        ]
    );
}

#[test]
fn names_and_paths_that_cannot_go_into_scripts() {
    for ok in ["web", "web-1.example_2", "A9"] {
        assert_eq!(check_name(ok), Ok(()), "{ok}");
    }
    for bad in ["", "a b", "a'b", "$x", "-x", ".hidden", "a#b", "a:b", "é"] {
        assert_eq!(
            check_name(bad).unwrap_err().to_string(),
            format!("machine name \"{bad}\" cannot name a boot service (letters, digits, '.', '_' and '-' only)")
        );
    }
    assert_eq!(check_binary("/usr/local/bin/spawnbox"), Ok(()));
    assert_eq!(
        check_binary("/opt/my tools/spawnbox").unwrap_err().to_string(),
        "spawnbox's path \"/opt/my tools/spawnbox\" cannot be written into an init script unquoted"
    );
    assert!(check_binary("spawnbox").is_err());
}

/// A busybox system's inittab (Alpine's, without OpenRC).
const INITTAB_TEXT: &str =
    "::sysinit:/etc/init.d/rcS\ntty1::respawn:/sbin/getty 38400 tty1\n::ctrlaltdel:/sbin/reboot\n\
                            ::shutdown:/bin/umount -a -r\n::shutdown:/sbin/swapoff -a\n";

#[test]
fn inittab_edit_adds_at_the_end_and_before_the_first_shutdown_action_and_undoes_exactly() {
    let add = enable(&Init::Busybox, BIN, "web").remove(0);
    let (respawn, shutdown) = inittab_lines(BIN, "web");
    let added = edit_inittab(INITTAB_TEXT, &add).unwrap().unwrap();
    assert_eq!(
        added,
        format!(
            "::sysinit:/etc/init.d/rcS\ntty1::respawn:/sbin/getty 38400 tty1\n::ctrlaltdel:/sbin/reboot\n\
             # spawnbox.web: machine web stopped cleanly first at shutdown (spawnctl disable web removes this line and the next)\n\
             {shutdown}\n::shutdown:/bin/umount -a -r\n::shutdown:/sbin/swapoff -a\n\
             # spawnbox.web: machine web started at boot (spawnctl enable web; spawnctl disable web removes this line and the next)\n\
             {respawn}\n"
        )
    );
    // Again: nothing to do. A second machine goes in beside the first.
    assert_eq!(edit_inittab(&added, &add).unwrap(), None);
    let add2 = enable(&Init::Busybox, BIN, "db").remove(0);
    let both = edit_inittab(&added, &add2).unwrap().unwrap();
    assert_eq!(both.lines().count(), INITTAB_TEXT.lines().count() + 8);
    // Removing gives the exact text back, whatever the order; removing again changes nothing.
    let rm = |n: &str| disable(&Init::Busybox, n).remove(0);
    let one = edit_inittab(&both, &rm("web")).unwrap().unwrap();
    assert_eq!(edit_inittab(&one, &rm("db")).unwrap().as_deref(), Some(INITTAB_TEXT));
    assert_eq!(edit_inittab(&added, &rm("web")).unwrap().as_deref(), Some(INITTAB_TEXT));
    assert_eq!(edit_inittab(INITTAB_TEXT, &rm("web")).unwrap(), None);
    // No shutdown action: both lines at the end. An inittab without a final newline gets one.
    let bare = "::sysinit:/etc/init.d/rcS";
    let a = edit_inittab(bare, &add).unwrap().unwrap();
    assert_eq!(a.lines().filter(|l| l.starts_with("::")).collect::<Vec<_>>(), [bare, &respawn, &shutdown]);
    assert_eq!(edit_inittab(&a, &rm("web")).unwrap().as_deref(), Some("::sysinit:/etc/init.d/rcS\n"));
}

#[test]
fn inittab_edit_refuses_a_marker_whose_line_was_changed() {
    let add = enable(&Init::Busybox, BIN, "web").remove(0);
    let added = edit_inittab(INITTAB_TEXT, &add).unwrap().unwrap();
    let edited = added.replace("::respawn:/bin/sh -c 'mkdir", "::once:/bin/sh -c 'mkdir");
    let rm = disable(&Init::Busybox, "web").remove(0);
    assert_eq!(
        edit_inittab(&edited, &rm).unwrap_err().to_string(),
        "/etc/inittab:9: the line after spawnbox.web's marker is not its ::respawn: line any more; edit the file by hand"
    );
}

#[test]
fn the_hosts_init_is_chosen_from_what_it_shows() {
    let f = |pid1, openrc, dirs: &[&str]| Facts {
        pid1,
        openrc,
        service_dirs: dirs.iter().map(|d| d.to_string()).collect(),
    };
    // OpenRC under busybox init (Alpine), sysvinit (Debian) or as openrc-init.
    for pid1 in [InitKind::Busybox, InitKind::Sysvinit, InitKind::OpenrcInit] {
        assert_eq!(choose(&f(pid1, true, &[])), Ok(Init::OpenRc));
    }
    assert_eq!(choose(&f(InitKind::Busybox, false, &["/etc/service"])), Ok(Init::Busybox));
    assert_eq!(
        choose(&f(InitKind::Runit, false, &["/var/service", "/etc/service"])),
        Ok(Init::Runit { service_dir: "/var/service".into() })
    );
    assert_eq!(
        choose(&f(InitKind::RunitDebian, false, &["/etc/service"])),
        Ok(Init::Runit { service_dir: "/etc/service".into() })
    );
    assert_eq!(
        choose(&f(InitKind::Runit, false, &[])).unwrap_err().to_string(),
        "runit runs this host, but none of its service directories exists (/var/service, /etc/service, /service, \
         /run/runit/service)"
    );
    assert_eq!(
        choose(&f(InitKind::Systemd, false, &[])).unwrap_err().to_string(),
        "the host's init (systemd) is none of OpenRC, busybox init and runit, which spawnctl enables machines in\n\
         hint: spawnctl enable --print NAME shows busybox init's lines and runit's service"
    );
}

/// The OpenRC script and the code agree: nspawn@.service's options (`UNIT_OPTIONS`, as
/// `spawnctl start` passes them), the log, supervise-daemon with respawn, a clean stop.
#[test]
fn the_openrc_script_runs_what_start_runs() {
    let var = |name: &str| -> String {
        let prefix = format!("{name}=");
        let line =
            SCRIPT.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {name}= in the script"));
        line[prefix.len()..].trim_matches('"').to_string()
    };
    assert_eq!(SCRIPT.lines().next(), Some("#!/sbin/openrc-run"));
    assert_eq!(var("machine"), "${RC_SVCNAME#spawnbox.}");
    assert_eq!(var("supervisor"), "supervise-daemon");
    assert_eq!(var("command"), "@BINDIR@/spawnbox");
    let args = crate::ctl::start::unit_args("${machine}").join(" ");
    assert_eq!(var("command_args"), format!("{args} ${{SPAWNBOX_OPTS}}"));
    assert!(args.starts_with(&UNIT_OPTIONS.join(" ")));
    assert_eq!(var("output_log"), crate::ctl::start::log_file("${machine}").display().to_string());
    assert_eq!(var("error_log"), "${output_log}");
    for v in ["respawn_delay", "respawn_max", "respawn_period", "retry"] {
        assert!(!var(v).is_empty(), "{v}");
    }
    assert!(SCRIPT.contains("\tuse net\n\tafter firewall\n"), "depend()");
    // Every setting the conf.d file shows is one the script reads.
    for l in CONFD.lines().filter_map(|l| l.strip_prefix('#')).filter(|l| l.contains('=') && !l.contains(' ')) {
        let name = l.split('=').next().unwrap();
        if name.starts_with("rc_") {
            continue; // OpenRC's own
        }
        assert!(SCRIPT.contains(&format!("${{{name}")), "{name} of spawnbox.confd is not used by the script");
    }
}

/// A temp root for the steps, removed on drop.
struct Root(PathBuf);

impl Root {
    fn new(tag: &str) -> Root {
        let p = std::env::temp_dir().join(format!("spawnbox-boot-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Root(p)
    }
    fn path(&self, p: &str) -> PathBuf {
        self.0.join(p.trim_start_matches('/'))
    }
    fn write(&self, p: &str, text: &str) {
        std::fs::create_dir_all(self.path(p).parent().unwrap()).unwrap();
        std::fs::write(self.path(p), text).unwrap();
    }
    /// Every path below the root with its kind, mode and content or target.
    fn listing(&self) -> Vec<String> {
        fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
            let mut es: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()).collect();
            es.sort();
            for p in es {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                let m = std::fs::symlink_metadata(&p).unwrap();
                if m.file_type().is_symlink() {
                    out.push(format!("{rel} -> {}", std::fs::read_link(&p).unwrap().display()));
                } else if m.is_dir() {
                    out.push(format!("{rel}/ {:o}", m.permissions().mode() & 0o7777));
                    walk(base, &p, out);
                } else {
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    out.push(format!("{rel} {:o} {text:?}", m.permissions().mode() & 0o7777));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &self.0, &mut out);
        out
    }
    /// The steps carried out in the root (rc-update faked); the lines they reported.
    fn apply(&self, steps: &[Step], calls: &mut Vec<String>) -> crate::error::Result<Vec<String>> {
        let fd = rustix::fs::open(&self.0, rustix::fs::OFlags::PATH, rustix::fs::Mode::empty()).unwrap();
        let mut run = |argv: &[&str]| {
            calls.push(argv.join(" "));
            // What rc-update does.
            let link = self.path(&format!("/etc/runlevels/{}/{}", argv[3], argv[2]));
            if argv[1] == "add" {
                std::os::unix::fs::symlink(format!("/etc/init.d/{}", argv[2]), link).unwrap();
            } else {
                std::fs::remove_file(link).unwrap();
            }
            Ok(format!(
                " * service {} {} runlevel {}",
                argv[2],
                if argv[1] == "add" { "added to" } else { "removed from" },
                argv[3]
            ))
        };
        let mut done = Vec::new();
        apply(fd.as_fd(), steps, &mut run, &mut |l| done.push(l))?;
        Ok(done)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn runit_enable_then_disable_leaves_the_root_as_it_was() {
    let r = Root::new("runit");
    r.write("/etc/sv/sshd/run", "#!/bin/sh\nexec sshd -D\n");
    std::fs::create_dir_all(r.path("/var/service")).unwrap();
    std::os::unix::fs::symlink("/etc/sv/sshd", r.path("/var/service/sshd")).unwrap();
    let before = r.listing();
    let init = Init::Runit { service_dir: "/var/service".into() };
    let mut calls = Vec::new();
    let done = r.apply(&enable(&init, BIN, "web"), &mut calls).unwrap();
    assert_eq!(
        done,
        [
            "Created /etc/sv/spawnbox.web.",
            "Wrote /etc/sv/spawnbox.web/run.",
            "Wrote /etc/sv/spawnbox.web/finish.",
            "Created symlink /var/service/spawnbox.web \u{2192} /etc/sv/spawnbox.web.",
        ]
    );
    let mut after = before.clone();
    after.extend([
        "etc/sv/spawnbox.web/ 755".to_string(),
        format!("etc/sv/spawnbox.web/finish 755 {:?}", runit_finish("web")),
        format!("etc/sv/spawnbox.web/run 755 {:?}", runit_run(BIN, "web")),
        "var/service/spawnbox.web -> /etc/sv/spawnbox.web".to_string(),
    ]);
    after.sort();
    let mut got = r.listing();
    got.sort();
    assert_eq!(got, after);
    // Idempotent: nothing more to do.
    assert_eq!(r.apply(&enable(&init, BIN, "web"), &mut calls).unwrap(), Vec::<String>::new());
    // runsv's state, made after the link appeared, goes with the directory (its lock is free).
    std::fs::create_dir(r.path("/etc/sv/spawnbox.web/supervise")).unwrap();
    for f in ["lock", "status", "pid"] {
        r.write(&format!("/etc/sv/spawnbox.web/supervise/{f}"), "");
    }
    let done = r.apply(&disable(&init, "web"), &mut calls).unwrap();
    assert_eq!(
        done,
        [
            "Removed symlink /var/service/spawnbox.web.",
            "Removed /etc/sv/spawnbox.web/run.",
            "Removed /etc/sv/spawnbox.web/finish.",
            "Removed /etc/sv/spawnbox.web.",
        ]
    );
    assert_eq!(r.listing(), before);
    assert_eq!(r.apply(&disable(&init, "web"), &mut calls).unwrap(), Vec::<String>::new());
    assert!(calls.is_empty(), "{calls:?}");
}

#[test]
fn runit_disable_leaves_what_enable_did_not_write() {
    let r = Root::new("runit-foreign");
    let init = Init::Runit { service_dir: "/etc/service".into() };
    std::fs::create_dir_all(r.path("/etc/service")).unwrap();
    // Someone else's service of that name: enable stops before writing anything.
    r.write("/etc/sv/spawnbox.web/run", "#!/bin/sh\nexec something\n");
    let before = r.listing();
    let mut calls = Vec::new();
    assert_eq!(
        r.apply(&enable(&init, BIN, "web"), &mut calls).unwrap_err().to_string(),
        "/etc/sv/spawnbox.web/run exists with other content: left as it is"
    );
    assert_eq!(r.listing(), before);
    assert_eq!(
        r.apply(&disable(&init, "web"), &mut calls).unwrap_err().to_string(),
        "/etc/sv/spawnbox.web/run was not written by spawnctl enable: left as it is"
    );
    assert_eq!(r.listing(), before);
    // A link of that name to another directory is not removed either.
    std::fs::remove_dir_all(r.path("/etc/sv")).unwrap();
    std::os::unix::fs::symlink("/etc/sv/other", r.path("/etc/service/spawnbox.web")).unwrap();
    assert_eq!(
        r.apply(&disable(&init, "web"), &mut calls).unwrap_err().to_string(),
        "/etc/service/spawnbox.web points at /etc/sv/other, not /etc/sv/spawnbox.web: left as it is"
    );
    assert!(r.path("/etc/service/spawnbox.web").symlink_metadata().is_ok());
}

#[test]
fn runit_disable_waits_for_runsv_to_let_go_of_supervise() {
    let r = Root::new("runit-busy");
    let init = Init::Runit { service_dir: "/var/service".into() };
    std::fs::create_dir_all(r.path("/var/service")).unwrap();
    std::fs::create_dir_all(r.path("/etc/sv")).unwrap();
    let mut calls = Vec::new();
    r.apply(&enable(&init, BIN, "web"), &mut calls).unwrap();
    r.write("/etc/sv/spawnbox.web/supervise/lock", "");
    let lock = std::fs::File::open(r.path("/etc/sv/spawnbox.web/supervise/lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let done = r.apply(&disable(&init, "web"), &mut calls).unwrap();
    assert_eq!(
        done.last().unwrap(),
        "Left /etc/sv/spawnbox.web: runsv is still stopping the machine; disable again to remove it."
    );
    assert!(r.path("/etc/sv/spawnbox.web/supervise/lock").exists());
    drop(lock);
    assert_eq!(r.apply(&disable(&init, "web"), &mut calls).unwrap(), ["Removed /etc/sv/spawnbox.web."]);
    assert!(!r.path("/etc/sv/spawnbox.web").exists());
}

#[test]
fn busybox_enable_then_disable_restores_the_inittab_byte_for_byte() {
    let r = Root::new("busybox");
    r.write("/etc/inittab", INITTAB_TEXT);
    std::fs::set_permissions(r.path("/etc/inittab"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = r.listing();
    let mut calls = Vec::new();
    assert_eq!(
        r.apply(&enable(&Init::Busybox, BIN, "web"), &mut calls).unwrap(),
        ["Added spawnbox.web to /etc/inittab."]
    );
    let text = std::fs::read_to_string(r.path("/etc/inittab")).unwrap();
    assert_eq!(Some(text.clone()), edit_inittab(INITTAB_TEXT, &enable(&Init::Busybox, BIN, "web")[0]).unwrap());
    // The mode stays; no temp file is left.
    assert_eq!(std::fs::metadata(r.path("/etc/inittab")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_dir(r.path("/etc")).unwrap().count(), 1);
    assert_eq!(r.apply(&enable(&Init::Busybox, BIN, "web"), &mut calls).unwrap(), Vec::<String>::new());
    assert_eq!(
        r.apply(&disable(&Init::Busybox, "web"), &mut calls).unwrap(),
        ["Removed spawnbox.web from /etc/inittab."]
    );
    assert_eq!(r.listing(), before);
    assert_eq!(r.apply(&disable(&Init::Busybox, "web"), &mut calls).unwrap(), Vec::<String>::new());
    // No inittab: busybox init runs its built-in one, which enable must not replace.
    std::fs::remove_file(r.path("/etc/inittab")).unwrap();
    assert_eq!(
        r.apply(&enable(&Init::Busybox, BIN, "web"), &mut calls).unwrap_err().to_string(),
        "/etc/inittab is missing: busybox init runs its built-in table"
    );
}

#[test]
fn openrc_enable_then_disable_links_and_calls_rc_update_once() {
    let r = Root::new("openrc");
    let mut calls = Vec::new();
    std::fs::create_dir_all(r.path("/etc/runlevels/default")).unwrap();
    std::fs::create_dir_all(r.path("/etc/init.d")).unwrap();
    assert_eq!(
        r.apply(&enable(&Init::OpenRc, BIN, "web"), &mut calls).unwrap_err().to_string(),
        "/etc/init.d/spawnbox is missing\nhint: install spawnbox's OpenRC script: make install, or the spawnbox-openrc package"
    );
    r.write("/etc/init.d/spawnbox", SCRIPT);
    let before = r.listing();
    let done = r.apply(&enable(&Init::OpenRc, BIN, "web"), &mut calls).unwrap();
    assert_eq!(
        done,
        [
            "Created symlink /etc/init.d/spawnbox.web \u{2192} spawnbox.",
            " * service spawnbox.web added to runlevel default"
        ]
    );
    assert_eq!(r.apply(&enable(&Init::OpenRc, BIN, "web"), &mut calls).unwrap(), Vec::<String>::new());
    // Started: the script stays until the service is stopped.
    std::fs::create_dir_all(r.path("/run/openrc/started")).unwrap();
    std::os::unix::fs::symlink("/etc/init.d/spawnbox.web", r.path("/run/openrc/started/spawnbox.web")).unwrap();
    let done = r.apply(&disable(&Init::OpenRc, "web"), &mut calls).unwrap();
    assert_eq!(
        done,
        [
            " * service spawnbox.web removed from runlevel default",
            "Left /etc/init.d/spawnbox.web: the service is started; stop it, then disable again."
        ]
    );
    std::fs::remove_dir_all(r.path("/run")).unwrap();
    let done = r.apply(&disable(&Init::OpenRc, "web"), &mut calls).unwrap();
    assert_eq!(done, ["Removed symlink /etc/init.d/spawnbox.web."]);
    assert_eq!(r.apply(&disable(&Init::OpenRc, "web"), &mut calls).unwrap(), Vec::<String>::new());
    assert_eq!(r.listing(), before);
    assert_eq!(calls, ["rc-update add spawnbox.web default", "rc-update del spawnbox.web default"]);
}

#[test]
fn paths_are_resolved_inside_the_root() {
    // /etc/sv a symlink to the host's /tmp: the directory is made inside the root's /tmp.
    let r = Root::new("inroot");
    std::fs::create_dir_all(r.path("/etc")).unwrap();
    std::fs::create_dir_all(r.path("/tmp")).unwrap();
    std::fs::create_dir_all(r.path("/var/service")).unwrap();
    std::os::unix::fs::symlink("/tmp", r.path("/etc/sv")).unwrap();
    let init = Init::Runit { service_dir: "/var/service".into() };
    let mut calls = Vec::new();
    r.apply(&enable(&init, BIN, "web"), &mut calls).unwrap();
    assert!(r.path("/tmp/spawnbox.web/run").is_file());
    assert!(!Path::new("/tmp/spawnbox.web").exists());
    // A link where a file goes is never followed.
    r.write("/tmp/target", "x");
    std::fs::remove_file(r.path("/tmp/spawnbox.web/finish")).unwrap();
    std::os::unix::fs::symlink("/tmp/target", r.path("/tmp/spawnbox.web/finish")).unwrap();
    let e = r.apply(&enable(&init, BIN, "web"), &mut calls).unwrap_err().to_string();
    assert_eq!(e, "open /etc/sv/spawnbox.web/finish: too many levels of symbolic links");
    assert_eq!(std::fs::read_to_string(r.path("/tmp/target")).unwrap(), "x");
}

#[test]
fn print_shows_each_step() {
    let runit = Init::Runit { service_dir: "/var/service".into() };
    let text: String = enable(&runit, BIN, "web").iter().map(describe).collect();
    assert_eq!(
        text,
        format!(
            "mkdir -p /etc/sv/spawnbox.web\n# /etc/sv/spawnbox.web/run (mode 0755):\n{}# /etc/sv/spawnbox.web/finish (mode 0755):\n{}\
             ln -s /etc/sv/spawnbox.web /var/service/spawnbox.web\n",
            runit_run(BIN, "web"),
            runit_finish("web")
        )
    );
    let text: String = enable(&Init::OpenRc, BIN, "web").iter().map(describe).collect();
    assert_eq!(
        text,
        "# needs /etc/init.d/spawnbox\nln -s spawnbox /etc/init.d/spawnbox.web\nrc-update add spawnbox.web default\n"
    );
    let (respawn, shutdown) = inittab_lines(BIN, "web");
    let text: String = enable(&Init::Busybox, BIN, "web").iter().map(describe).collect();
    assert_eq!(
        text,
        format!(
            "# /etc/inittab, at the end:\n\
             # spawnbox.web: machine web started at boot (spawnctl enable web; spawnctl disable web removes this line and the next)\n\
             {respawn}\n# /etc/inittab, before its first ::shutdown: line:\n\
             # spawnbox.web: machine web stopped cleanly first at shutdown (spawnctl disable web removes this line and the next)\n\
             {shutdown}\n"
        )
    );
}
