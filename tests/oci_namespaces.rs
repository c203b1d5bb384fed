//! Root integration tests of `spawnbox-runc`'s namespaces (docs/OCI.md, "Namespaces"): a
//! Kubernetes-style pod — a "pause" container, then a second one that joins its IPC, UTS,
//! network and PID namespaces by `/proc/PID/ns/*` path — namespaces left out of config.json
//! (the runtime's own), a user namespace with config.json's mappings (files made in a bind
//! mount belong to the mapped host uid), a pod whose app container joins the pause container's
//! user namespace too, and a path that does not open, refused with its JSON path and nothing
//! left. Through podman (the runtime under test, `tests/common/engines.rs`): `--uidmap`, and a
//! pod whose container joins the infra container's namespaces by path. Time namespaces: new
//! with `linux.timeOffsets` (plain, and in a user namespace, which owns it; `exec` enters it),
//! joined by path from a holder process; a mount namespace joined by path from a holder
//! (killed after, by `Holder`'s drop). A bind mount's own `uidMappings`/`gidMappings` (runc's
//! meaning: `containerID` on disk, `hostID` as shown), without and with a user namespace, and
//! the ones runc refuses. Each container ID is its tree's directory name, so
//! `Test`'s drop checks that no cgroup, registry entry, mount or process of it is left.

use spawnbox_tests::engines::{image, Podman};
use spawnbox_tests::oci::{bundle, rt, rt_in, runtime, text, Config};
use spawnbox_tests::Test;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A config.json for the test's tree running `script` with `sh -c`: `Config::new`'s, as root in
/// `/` with only `PATH`, CAP_CHOWN, no `/dev/shm` (so the mounts given here start at
/// `mounts[4]`), `/proc/keys` masked and `/proc/sys` read-only. `namespaces` is the list's
/// content, `hostname` a member or nothing, `extra` more members of `linux` (each followed by
/// a comma), `mounts` more mounts (each after a comma).
fn config(t: &Test, script: &str, hostname: Option<&str>, namespaces: &str, extra: &str, mounts: &str) -> String {
    let mut c = Config::new(t, &["sh", "-c", script]);
    c.env.truncate(1);
    c.cwd = "/".into();
    c.capabilities = Some(r#"{"bounding":["CAP_CHOWN"],"effective":["CAP_CHOWN"],"permitted":["CAP_CHOWN"]}"#.into());
    c.mounts.retain(|m| !m.contains(r#""destination":"/dev/shm""#));
    c.mounts.extend(mounts.strip_prefix(',').map(String::from));
    c.namespaces = vec![namespaces.to_string()];
    c.top = hostname.map(|h| format!(r#""hostname":{h:?}"#)).into_iter().collect();
    c.linux.extend(Some(extra.trim_end().trim_end_matches(',')).filter(|e| !e.is_empty()).map(String::from));
    c.linux.push(r#""maskedPaths":["/proc/keys"],"readonlyPaths":["/proc/sys"]"#.into());
    c.json()
}

/// A running "pause" container (`sleep 1000`) of `t`, as containerd's CRI starts a pod's
/// sandbox; returns its pid on the host.
fn start_pause(t: &Test, namespaces: &str, extra: &str) -> i32 {
    let id = t.name();
    let b = bundle(t, &config(t, "exec sleep 1000", Some("pod-host"), namespaces, extra, ""));
    let pid_file = t.path("pause.pid");
    let o = rt(t, &["create", "--bundle", b.to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap(), &id]);
    assert!(o.status.success(), "create: {}", text(&o.stderr));
    let o = rt(t, &["start", &id]);
    assert!(o.status.success(), "start: {}", text(&o.stderr));
    fs::read_to_string(&pid_file).unwrap().parse().unwrap()
}

/// Stops and deletes the pause container of `t`.
fn delete_pause(t: &Test) {
    let o = rt(t, &["delete", "--force", &t.name()]);
    assert!(o.status.success(), "delete: {}", text(&o.stderr));
}

/// What `readlink /proc/PID/ns/NAME` says on the host, for each of `names`.
fn host_namespaces(pid: &str, names: &[&str]) -> String {
    names.iter().map(|n| format!("{}\n", fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap().display())).collect()
}

const SHOW_NAMESPACES: &str = "for n in ipc uts net pid; do readlink /proc/self/ns/$n; done";

#[test]
fn a_second_container_joins_the_pause_containers_namespaces_by_path() {
    let pause = Test::new("oci-pause");
    let state = pause.host_dir("state");
    let pid =
        start_pause(&pause, r#"{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}"#, "");
    let app = Test::new("oci-app");
    let ns =
        |n: &str| format!(r#"{{"type":"{n}","path":"/proc/{pid}/ns/{}"}}"#, if n == "network" { "net" } else { n });
    let namespaces = format!("{},{},{},{},{{\"type\":\"mount\"}}", ns("pid"), ns("network"), ns("ipc"), ns("uts"));
    // Its own processes are the pause container's: `sleep` is PID 1, the app the next one.
    let script = format!("{SHOW_NAMESPACES}; hostname; tr '\\0' ' ' </proc/1/cmdline; echo; echo $$");
    let b = bundle(&app, &config(&app, &script, None, &namespaces, "", ""));
    let o = rt_in(&app, &state, &["run", "--bundle", b.to_str().unwrap(), &app.name()]);
    assert_eq!(text(&o.stderr), "");
    assert_eq!(
        text(&o.stdout),
        format!("{}pod-host\nsleep 1000 \n2\n", host_namespaces(&pid.to_string(), &["ipc", "uts", "net", "pid"]))
    );
    assert_eq!(o.status.code(), Some(0));
    delete_pause(&pause);
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn namespaces_left_out_of_config_json_are_the_runtimes() {
    let t = Test::new("oci-hostns");
    let state = t.host_dir("state");
    let script = format!("{SHOW_NAMESPACES}; readlink /proc/self/ns/cgroup; hostname");
    let b = bundle(&t, &config(&t, &script, None, r#"{"type":"mount"}"#, "", ""));
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert_eq!(text(&o.stderr), "");
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(text(&o.stdout), format!("{}{host}", host_namespaces("self", &["ipc", "uts", "net", "pid", "cgroup"])));
    assert_eq!(o.status.code(), Some(0));
    // A hostname needs a UTS namespace of the container's (runc's rule), before anything exists.
    let b = bundle(&t, &config(&t, "true", Some("x"), r#"{"type":"mount"}"#, "", ""));
    let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), "spawnbox-runc: hostname: needs a UTS namespace in linux.namespaces\n".into())
    );
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

const MAPS: &str = r#""uidMappings":[{"containerID":0,"hostID":100000,"size":1000},{"containerID":1000,"hostID":101000,"size":64536}],
    "gidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"#;

#[test]
fn a_user_namespace_with_the_configs_mappings() {
    let t = Test::new("oci-userns");
    let state = t.host_dir("state");
    let data = t.host_dir("data");
    std::os::unix::fs::chown(&data, Some(100000), Some(100000)).unwrap();
    // A host directory of host root's, idmapped through the container's mappings: root's
    // inside too, and what the container's root makes there is host root's on disk.
    let idmapped = t.host_dir("idmapped");
    let bind = format!(
        r#",{{"destination":"/data","type":"bind","source":{:?},"options":["rbind"]}},
           {{"destination":"/idmapped","type":"bind","source":{:?},"options":["bind","idmap"]}}"#,
        data.to_str().unwrap(),
        idmapped.to_str().unwrap()
    );
    let script = "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; hostname; touch /data/by-root; \
                  touch /data/by-1500 && chown 1500:7 /data/by-1500; stat -c '%u %g' /data /idmapped; \
                  touch /idmapped/by-root; echo ok";
    let namespaces =
        r#"{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}"#;
    let b = bundle(&t, &config(&t, script, Some("userns-box"), namespaces, MAPS, &bind));
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert_eq!(text(&o.stderr), "");
    // Exactly the given lines, in the kernel's format.
    assert_eq!(
        text(&o.stdout),
        "         0     100000       1000\n      1000     101000      64536\n         0     100000      65536\n\
         0\n0\nuserns-box\n0 0\n0 0\nok\n"
    );
    assert_eq!(o.status.code(), Some(0));
    let owner = |f: &str| {
        let m = fs::metadata(data.join(f)).unwrap();
        (m.uid(), m.gid())
    };
    assert_eq!(owner("by-root"), (100000, 100000));
    assert_eq!(owner("by-1500"), (101500, 100007));
    let m = fs::metadata(idmapped.join("by-root")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

/// runtime-spec's `idmap` and `ridmap` on an `rbind` (runc's meaning): `ridmap` idmaps every
/// mount of the copy, `idmap` the top one only, its submounts showing host ids as they are
/// (host root's, unmapped in the container: 65534).
#[test]
fn idmap_reaches_an_rbinds_submounts_only_with_ridmap() {
    let t = Test::new("oci-ridmap");
    let src = t.host_dir("src");
    let sub = t.host_dir("src/sub");
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k,mode=755", "tmpfs"]).arg(&sub).status();
    assert!(mounted.is_ok_and(|s| s.success()), "mount a tmpfs on {}", sub.display());
    let bind = |dst: &str, opt: &str| {
        format!(
            r#",{{"destination":{dst:?},"type":"bind","source":{:?},"options":["rbind",{opt:?}]}}"#,
            src.to_str().unwrap()
        )
    };
    let mounts = bind("/top", "idmap") + &bind("/all", "ridmap");
    let namespaces =
        r#"{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}"#;
    let b = bundle(&t, &config(&t, "stat -c '%n %u %g' /top /top/sub /all /all/sub", None, namespaces, MAPS, &mounts));
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    let _ = Command::new("umount").arg(&sub).status();
    assert_eq!(text(&o.stderr), "");
    assert_eq!(text(&o.stdout), "/top 0 0\n/top/sub 65534 65534\n/all 0 0\n/all/sub 0 0\n");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_pod_in_a_user_namespace_joins_it_by_path() {
    let pause = Test::new("oci-upause");
    let state = pause.host_dir("state");
    let namespaces =
        r#"{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}"#;
    let pid = start_pause(&pause, namespaces, MAPS);
    let app = Test::new("oci-uapp");
    let ns =
        |n: &str| format!(r#"{{"type":"{n}","path":"/proc/{pid}/ns/{}"}}"#, if n == "network" { "net" } else { n });
    // containerd's app containers of a user-namespaced pod: the sandbox's user, IPC, UTS and
    // network namespaces, a PID namespace of their own.
    let namespaces = format!(
        "{},{},{},{},{{\"type\":\"pid\"}},{{\"type\":\"mount\"}}",
        ns("user"),
        ns("network"),
        ns("ipc"),
        ns("uts")
    );
    // An idmapped bind shows ownership through the joined namespace: host root's is root's.
    let idmapped = app.host_dir("idmapped");
    let bind = format!(
        r#",{{"destination":"/idmapped","type":"bind","source":{:?},"options":["bind","idmap"]}}"#,
        idmapped.to_str().unwrap()
    );
    let script = "for n in user ipc uts net; do readlink /proc/self/ns/$n; done; cat /proc/self/uid_map; id -u; \
                  hostname; stat -c '%u %g' /idmapped; echo $$";
    let b = bundle(&app, &config(&app, script, None, &namespaces, "", &bind));
    let o = rt_in(&app, &state, &["run", "--bundle", b.to_str().unwrap(), &app.name()]);
    assert_eq!(text(&o.stderr), "");
    assert_eq!(
        text(&o.stdout),
        format!(
            "{}         0     100000       1000\n      1000     101000      64536\n0\npod-host\n0 0\n1\n",
            host_namespaces(&pid.to_string(), &["user", "ipc", "uts", "net"])
        )
    );
    assert_eq!(o.status.code(), Some(0));
    delete_pause(&pause);
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn a_namespace_path_that_does_not_open_is_refused_with_its_json_path() {
    let t = Test::new("oci-nspath");
    let state = t.host_dir("state");
    let namespaces = r#"{"type":"pid"},{"type":"mount"},{"type":"ipc","path":"/proc/999999999/ns/ipc"}"#;
    let b = bundle(&t, &config(&t, "true", None, namespaces, "", ""));
    let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (
            Some(1),
            "spawnbox-runc: linux.namespaces[2].path: open /proc/999999999/ns/ipc: no such file or directory\n".into()
        )
    );
    let namespaces = r#"{"type":"pid"},{"type":"mount"},{"type":"uts","path":"/proc/self/ns/ipc"}"#;
    let b = bundle(&t, &config(&t, "true", None, namespaces, "", ""));
    let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (Some(1), "spawnbox-runc: linux.namespaces[2].path: /proc/self/ns/ipc: not a namespace of type uts\n".into())
    );
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn podman_uidmap_and_a_pod_whose_container_joins_the_infra_containers_namespaces() {
    let p = Podman::new();
    // podman's user namespace on this cgroup v1 host: a network of its own, no cgroup
    // namespace; its `cgroup` mount is runc's on a v1 host, a tmpfs (0x1021994) with the
    // container's v1 hierarchies (0x27e0eb), mounted outside, under PID 1's sysfs.
    let o = p
        .run(
            &["--rm", "--uidmap=0:100000:65536", "--gidmap=0:100000:65536"],
            &[
                "/bin/sh",
                "-c",
                "cat /proc/self/uid_map; id -u; ls /sys/class/net; stat -f -c %t /sys/fs/cgroup /sys/fs/cgroup/memory",
            ],
        )
        .run();
    assert_eq!(o.ok(), "         0     100000      65536\n0\nlo\n1021994\n27e0eb\n");
    // A pod: podman's infra container makes the namespaces, the container joins its IPC, UTS
    // and network namespaces by /proc/PID/ns/* (podman's default rlimits exceed this host's,
    // for the infra container too: containers.conf lowers them).
    let conf = p.dir.join("containers.conf");
    fs::write(&conf, "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]\n").unwrap();
    let conf = conf.to_str().unwrap();
    let parent = format!("--cgroup-parent={}", p.parent);
    p.podman(&["pod", "create", "--name=pod1", "--network=none", &parent]).env("CONTAINERS_CONF", conf).run().ok();
    let script = "hostname; for n in ipc uts net; do readlink /proc/self/ns/$n; done";
    let o = p
        .podman(&["run", "--rm", "--pod=pod1", &image().name, "/bin/sh", "-c", script])
        .env("CONTAINERS_CONF", conf)
        .run();
    let infra = p.podman(&["pod", "inspect", "pod1", "--format={{.InfraContainerID}}"]).run().ok().trim().to_string();
    let pid = p.podman(&["inspect", "--format={{.State.Pid}}", &infra]).run().ok().trim().to_string();
    assert_eq!(o.ok(), format!("pod1\n{}", host_namespaces(&pid, &["ipc", "uts", "net"])));
    p.podman(&["pod", "rm", "-f", "pod1"]).env("CONTAINERS_CONF", conf).run().ok();
    assert_eq!(p.containers(), "");
}

#[test]
fn exec_enters_a_user_namespaced_container_and_a_joined_pid_namespace() {
    let pause = Test::new("oci-xpause");
    let state = pause.host_dir("state");
    let namespaces =
        r#"{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}"#;
    let pid = start_pause(&pause, namespaces, MAPS);
    // `kubectl exec` into the pod's sandbox: the process is root of its user namespace.
    let o = rt(&pause, &["exec", &pause.name(), "sh", "-c", "cat /proc/self/uid_map; id -u; hostname"]);
    assert_eq!(text(&o.stderr), "");
    assert_eq!(text(&o.stdout), "         0     100000       1000\n      1000     101000      64536\n0\npod-host\n");
    // A second container in the pause container's PID namespace (and so its user namespace's
    // procfs): exec lands there too, next to both.
    let app = Test::new("oci-xapp");
    let ns =
        |n: &str| format!(r#"{{"type":"{n}","path":"/proc/{pid}/ns/{}"}}"#, if n == "network" { "net" } else { n });
    let namespaces = format!("{},{},{},{{\"type\":\"mount\"}}", ns("user"), ns("pid"), ns("uts"));
    let b = bundle(&app, &config(&app, "exec sleep 1000", None, &namespaces, "", ""));
    let o = rt_in(&app, &state, &["run", "--detach", "--bundle", b.to_str().unwrap(), &app.name()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let script = "for p in /proc/[0-9]*; do cat $p/comm; done | grep -c '^sleep$'; readlink /proc/self/ns/pid";
    let o = rt_in(&app, &state, &["exec", &app.name(), "sh", "-c", script]);
    assert_eq!(text(&o.stderr), "");
    // Both sleeps: the pause container's PID 1 and the app's.
    assert_eq!(text(&o.stdout), format!("2\n{}", host_namespaces(&pid.to_string(), &["pid"])));
    let o = rt_in(&app, &state, &["delete", "--force", &app.name()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    delete_pause(&pause);
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

/// The first field of `/proc/uptime` text (seconds of CLOCK_BOOTTIME, two decimals).
fn uptime(text: &str) -> f64 {
    text.split_whitespace().next().and_then(|f| f.parse().ok()).unwrap_or_else(|| panic!("uptime in {text:?}"))
}

/// The kernel's `timens_offsets` text for monotonic and boottime offsets (seconds, no
/// nanoseconds): `"%-10s %10lld %9ld\n"` a clock.
fn offsets_text(monotonic: i64, boottime: i64) -> String {
    format!("{:<10} {:>10} {:>9}\n{:<10} {:>10} {:>9}\n", "monotonic", monotonic, 0, "boottime", boottime, 0)
}

/// The inode of the user namespace that owns namespace file `path` (NS_GET_USERNS).
fn owner_userns(path: &str) -> u64 {
    let f = fs::File::open(path).unwrap();
    // SAFETY: NS_GET_USERNS takes no argument and returns a new descriptor (or -1).
    let fd = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&f), libc::NS_GET_USERNS) };
    assert!(fd >= 0, "NS_GET_USERNS on {path}: {}", std::io::Error::last_os_error());
    // SAFETY: the descriptor was just returned to us and is owned by nothing else.
    let owner = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    fs::File::from(owner).metadata().unwrap().ino()
}

const TIME_OFFSETS: &str = r#""timeOffsets":{"monotonic":{"secs":86400},"boottime":{"secs":3600}},"#;

/// `/proc/self/ns/time`, its `time_for_children`, PID 1's and the offsets, then `/proc/uptime`.
const SHOW_TIME: &str = "for f in /proc/self/ns/time /proc/self/ns/time_for_children /proc/1/ns/time; do \
                         readlink $f; done; cat /proc/self/timens_offsets /proc/uptime";

/// Checks what [`SHOW_TIME`] printed in a new time namespace with `offsets` (the kernel's
/// text) and a boottime offset of `boottime` seconds, between host uptimes `before` and
/// `after`; returns the namespace's link (`time:[INODE]`).
fn check_time(out: &str, offsets: &str, boottime: f64, before: f64, after: f64) -> String {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    let ns = lines[0].to_string();
    assert_eq!(lines[..3], [ns.as_str(); 3], "{out}");
    assert_ne!(ns, fs::read_link("/proc/self/ns/time").unwrap().to_str().unwrap(), "{out}");
    assert_eq!(format!("{}\n{}\n", lines[3], lines[4]), offsets);
    // CLOCK_BOOTTIME runs `boottime` seconds ahead of the host's (0.01 s: /proc/uptime's rounding).
    let inside = uptime(lines[5]);
    assert!(inside >= before + boottime - 0.01 && inside <= after + boottime + 0.01, "{inside} vs {before}..{after}");
    ns
}

fn host_uptime() -> f64 {
    uptime(&fs::read_to_string("/proc/uptime").unwrap())
}

#[test]
fn a_new_time_namespace_with_the_configs_offsets() {
    let t = Test::new("oci-timens");
    let state = t.host_dir("state");
    let namespaces =
        r#"{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"time"}"#;
    let b = bundle(&t, &config(&t, SHOW_TIME, None, namespaces, TIME_OFFSETS, ""));
    let before = host_uptime();
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    let after = host_uptime();
    assert_eq!(text(&o.stderr), "");
    check_time(&text(&o.stdout), &offsets_text(86400, 3600), 3600.0, before, after);
    assert_eq!(o.status.code(), Some(0));
    // Without offsets: a time namespace of its own, the host's clocks.
    let namespaces = r#"{"type":"pid"},{"type":"mount"},{"type":"time"}"#;
    let b = bundle(&t, &config(&t, SHOW_TIME, None, namespaces, "", ""));
    let before = host_uptime();
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    let after = host_uptime();
    assert_eq!(text(&o.stderr), "");
    check_time(&text(&o.stdout), &offsets_text(0, 0), 0.0, before, after);
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn a_time_namespace_in_a_user_namespace_is_owned_by_it_and_exec_enters_it() {
    let t = Test::new("oci-utimens");
    let state = t.host_dir("state");
    let namespaces = r#"{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"},{"type":"time"}"#;
    let extra = format!("{MAPS}{TIME_OFFSETS}");
    let b = bundle(&t, &config(&t, &format!("{SHOW_TIME}; exec sleep 1000"), None, namespaces, &extra, ""));
    let (out, pid_file) = (t.path("pid1.out"), t.path("pid1.pid"));
    let before = host_uptime();
    let mut c = Command::new(runtime(&t));
    c.arg("--root").arg(&state).args(["run", "--detach", "--bundle", b.to_str().unwrap(), "--pid-file"]);
    c.arg(&pid_file).arg(t.name()).stdin(Stdio::null()).stdout(fs::File::create(&out).unwrap());
    let st = c.stderr(fs::File::create(t.path("pid1.err")).unwrap()).status().unwrap();
    assert!(st.success(), "{}", fs::read_to_string(t.path("pid1.err")).unwrap());
    let pid = fs::read_to_string(&pid_file).unwrap();
    // PID 1's output is complete once it sleeps.
    assert!(spawnbox_tests::wait_until(std::time::Duration::from_secs(5), || {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n")
    }));
    let after = host_uptime();
    let ns = check_time(&fs::read_to_string(&out).unwrap(), &offsets_text(86400, 3600), 3600.0, before, after);
    // The container's user namespace owns it (PID 1 made it as its root).
    let user = fs::metadata(format!("/proc/{pid}/ns/user")).unwrap().ino();
    assert_ne!(user, fs::metadata("/proc/self/ns/user").unwrap().ino());
    assert_eq!(owner_userns(&format!("/proc/{pid}/ns/time")), user);
    assert_eq!(fs::read_link(format!("/proc/{pid}/ns/time")).unwrap().to_str().unwrap(), ns);
    // exec: the same time namespace as PID 1, its clocks.
    let before = host_uptime();
    let o = rt(&t, &["exec", &t.name(), "sh", "-c", SHOW_TIME.replace("/proc/1/ns", "/proc/self/ns").as_str()]);
    let after = host_uptime();
    assert_eq!(text(&o.stderr), "");
    assert_eq!(check_time(&text(&o.stdout), &offsets_text(86400, 3600), 3600.0, before, after), ns);
    let o = rt(&t, &["delete", "--force", &t.name()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

/// A helper process killed (and reaped) when dropped: declared after the `Test`, it goes
/// first, so a failing test leaves it no more than a passing one.
struct Holder(std::process::Child);

impl Holder {
    /// Starts `argv` and waits until `ready(pid)` holds.
    fn start(argv: &[&str], ready: impl Fn(u32) -> bool) -> Holder {
        let child = Command::new(argv[0]).args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::null()).spawn().unwrap();
        let h = Holder(child);
        let pid = h.0.id();
        assert!(spawnbox_tests::wait_until(std::time::Duration::from_secs(5), || ready(pid)), "{argv:?} not ready");
        h
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_time_namespace_joined_by_path() {
    let t = Test::new("oci-jtimens");
    let state = t.host_dir("state");
    // unshare(1) writes the offsets, then forks sleep into the namespace (killed with it):
    // joined through the sleep's /proc/PID/ns/time once it is there.
    let holder =
        Holder::start(&["unshare", "--time", "--boottime", "5000", "--fork", "--kill-child", "sleep", "1000"], |pid| {
            fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).is_ok_and(|c| !c.trim().is_empty())
        });
    let unshare = holder.0.id();
    let sleep = fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).unwrap().trim().to_string();
    assert!(spawnbox_tests::wait_until(std::time::Duration::from_secs(5), || {
        fs::read_to_string(format!("/proc/{sleep}/comm")).is_ok_and(|c| c == "sleep\n")
    }));
    let ns_link = fs::read_link(format!("/proc/{sleep}/ns/time")).unwrap().to_str().unwrap().to_string();
    let namespaces = format!(r#"{{"type":"pid"}},{{"type":"mount"}},{{"type":"time","path":"/proc/{sleep}/ns/time"}}"#);
    let b = bundle(&t, &config(&t, SHOW_TIME, None, &namespaces, "", ""));
    let before = host_uptime();
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    let after = host_uptime();
    assert_eq!(text(&o.stderr), "");
    assert_eq!(check_time(&text(&o.stdout), &offsets_text(0, 5000), 5000.0, before, after), ns_link);
    assert_eq!(o.status.code(), Some(0));
    drop(holder);
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn a_mount_namespace_joined_by_path_gets_the_containers_root() {
    let t = Test::new("oci-jmntns");
    let state = t.host_dir("state");
    t.write("/marker", "the bundle's rootfs\n");
    let own = fs::read_link("/proc/self/ns/mnt").unwrap();
    let holder = Holder::start(&["unshare", "-m", "--propagation", "private", "sleep", "1000"], |pid| {
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n")
            && fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|l| l != own)
    });
    let pid = holder.0.id();
    let mnt = fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap().to_str().unwrap().to_string();
    let namespaces = format!(
        r#"{{"type":"pid"}},{{"type":"network"}},{{"type":"ipc"}},{{"type":"uts"}},{{"type":"mount","path":"/proc/{pid}/ns/mnt"}}"#
    );
    let script = r#"readlink /proc/self/ns/mnt; cat /marker; awk '$5 == "/" {n++} END {print n}' /proc/self/mountinfo"#;
    let b = bundle(&t, &config(&t, script, None, &namespaces, "", ""));
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert_eq!(text(&o.stderr), "");
    // The holder's namespace, the tree as its root (one `/` mount: the old root detached).
    assert_eq!(text(&o.stdout), format!("{mnt}\nthe bundle's rootfs\n1\n"));
    assert_eq!(o.status.code(), Some(0));
    // The namespace is the holder's own: its root became the container's (pivot_root(2) moves
    // every process of the namespace whose root was the old one).
    let root = fs::metadata(format!("/proc/{pid}/root/marker")).map(|m| m.ino());
    assert_eq!(root.unwrap(), fs::metadata(t.rpath("/marker")).unwrap().ino());
    drop(holder);
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn time_offsets_and_mount_namespace_paths_are_refused_with_their_json_path() {
    let t = Test::new("oci-nsrefuse");
    let state = t.host_dir("state");
    let cases = [
        (
            r#"{"type":"pid"},{"type":"mount"}"#.to_string(),
            TIME_OFFSETS.to_string(),
            "linux.timeOffsets: needs a new time namespace in linux.namespaces",
        ),
        (
            r#"{"type":"pid"},{"type":"mount"},{"type":"time","path":"/proc/1/ns/time"}"#.into(),
            TIME_OFFSETS.into(),
            "linux.timeOffsets: needs a new time namespace in linux.namespaces",
        ),
        (
            r#"{"type":"pid"},{"type":"mount","path":"/proc/self/ns/ipc"}"#.into(),
            String::new(),
            "linux.namespaces[1].path: /proc/self/ns/ipc: not a namespace of type mount",
        ),
        (
            r#"{"type":"pid"},{"type":"mount","path":"/proc/self/ns/mnt"}"#.into(),
            String::new(),
            "linux.namespaces[1].path: /proc/self/ns/mnt: the runtime's own mount namespace (the container's root \
             would become its processes' root)",
        ),
        (
            r#"{"type":"pid"},{"type":"mount"},{"type":"time","path":"/proc/self/ns/uts"}"#.into(),
            String::new(),
            "linux.namespaces[2].path: /proc/self/ns/uts: not a namespace of type time",
        ),
        (
            r#"{"type":"pid"},{"type":"mount","path":"/proc/1/ns/mnt"},{"type":"user"}"#.into(),
            MAPS.into(),
            "linux.namespaces[1].path: joining a mount namespace is not supported by spawnbox-runc with a user \
             namespace (the container's PID 1 gets a mount namespace of its user namespace's)",
        ),
    ];
    for (namespaces, extra, want) in cases {
        let b = bundle(&t, &config(&t, "true", None, &namespaces, &extra, ""));
        let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), &t.name()]);
        assert_eq!((o.status.code(), text(&o.stderr)), (Some(1), format!("spawnbox-runc: {want}\n")), "{namespaces}");
        assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
    }
}

/// A host directory `rel` of `t` owned by `owner`, holding a file `f` owned by `file_owner`.
fn owned_dir(t: &Test, rel: &str, owner: (u32, u32), file_owner: (u32, u32)) -> PathBuf {
    let d = t.host_dir(rel);
    fs::write(d.join("f"), "").unwrap();
    std::os::unix::fs::chown(d.join("f"), Some(file_owner.0), Some(file_owner.1)).unwrap();
    std::os::unix::fs::chown(&d, Some(owner.0), Some(owner.1)).unwrap();
    d
}

/// A bind mount of `source` on `destination` with `options` and its own uid and gid mappings
/// `maps` (the same for both), as a `mounts` member.
fn own_mapped(source: &Path, destination: &str, options: &str, maps: &str) -> String {
    format!(
        r#",{{"destination":{destination:?},"type":"bind","source":{:?},"options":[{options}],
              "uidMappings":[{maps}],"gidMappings":[{maps}]}}"#,
        source.to_str().unwrap()
    )
}

/// The owner of host file `p`.
fn owner(p: &Path) -> (u32, u32) {
    let m = fs::symlink_metadata(p).unwrap();
    (m.uid(), m.gid())
}

// A mount's own mappings are runc's: written as given to a user namespace of the host's, so
// `containerID` is the id on disk and `hostID` the host id the mount shows it as.

#[test]
fn a_mounts_own_mappings_without_a_user_namespace() {
    let t = Test::new("oci-ownmap");
    let state = t.host_dir("state");
    // Host 1000 shown as root: what root makes there is host 1000's on disk.
    let own = owned_dir(&t, "own", (1000, 1000), (1000, 1000));
    fs::write(own.join("root-file"), "").unwrap();
    // runc's "simple idmap mount [no userns]": host root's shown as 1000, and root (unmapped
    // there) cannot create anything.
    let shown = owned_dir(&t, "shown", (0, 0), (0, 0));
    let mounts = format!(
        "{}{}",
        own_mapped(&own, "/own", r#""bind""#, r#"{"containerID":1000,"hostID":0,"size":1}"#),
        own_mapped(&shown, "/shown", r#""rbind","ridmap""#, r#"{"containerID":0,"hostID":1000,"size":1}"#)
    );
    let script = "stat -c '%u %g' /own /own/f /own/root-file /shown/f; touch /own/new; stat -c '%u %g' /own/new; \
                  touch /shown/new 2>&1; for d in /own /shown; do grep \" $d \" /proc/self/mountinfo | grep -c idmapped; done";
    let b = bundle(&t, &config(&t, script, None, r#"{"type":"mount"}"#, "", &mounts));
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert_eq!(text(&o.stderr), "");
    assert_eq!(
        text(&o.stdout),
        "0 0\n0 0\n65534 65534\n1000 1000\n0 0\n\
         touch: /shown/new: Value too large for defined data type\n1\n1\n"
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(owner(&own.join("new")), (1000, 1000));
    assert!(!shown.join("new").exists());
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn a_mounts_own_mappings_with_a_user_namespace() {
    let t = Test::new("oci-ownmapu");
    let state = t.host_dir("state");
    // Host 1000 shown as host 100000: the container's root.
    let own = owned_dir(&t, "own", (1000, 1000), (1000, 1000));
    // runc's "simple idmap mount [userns]": the mount's mapping is the container's, so host
    // ids 0 and 1 are container ids 0 and 1.
    let same = owned_dir(&t, "same", (0, 0), (1, 1));
    // Shown as host 1000, which the container's mappings leave out: nobody.
    let outside = owned_dir(&t, "outside", (0, 0), (0, 0));
    let mounts = format!(
        "{}{}{}",
        own_mapped(&own, "/own", r#""bind","idmap""#, r#"{"containerID":1000,"hostID":100000,"size":1}"#),
        own_mapped(&same, "/same", r#""bind""#, r#"{"containerID":0,"hostID":100000,"size":65536}"#),
        own_mapped(&outside, "/outside", r#""bind""#, r#"{"containerID":0,"hostID":1000,"size":1}"#)
    );
    let maps = r#""uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
                  "gidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"#;
    let script = "cat /proc/self/uid_map; stat -c '%u %g' /own /own/f /same /same/f /outside/f; \
                  touch /own/new /same/new; stat -c '%u %g' /own/new /same/new";
    let namespaces = r#"{"type":"pid"},{"type":"mount"},{"type":"user"}"#;
    let b = bundle(&t, &config(&t, script, None, namespaces, maps, &mounts));
    let o = rt(&t, &["run", "--bundle", b.to_str().unwrap(), &t.name()]);
    assert_eq!(text(&o.stderr), "");
    assert_eq!(text(&o.stdout), "         0     100000      65536\n0 0\n0 0\n0 0\n1 1\n65534 65534\n0 0\n0 0\n");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(owner(&own.join("new")), (1000, 1000));
    assert_eq!(owner(&same.join("new")), (0, 0));
    assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn a_mounts_own_mappings_that_runc_refuses_leave_nothing() {
    let t = Test::new("oci-ownmapbad");
    let state = t.host_dir("state");
    let src = t.host_dir("src");
    let src = src.to_str().unwrap();
    let one = r#"{"containerID":0,"hostID":1000,"size":1}"#;
    let cases = [
        (
            format!(
                r#",{{"destination":"/d","type":"bind","source":{src:?},"options":["bind"],"uidMappings":[{one}]}}"#
            ),
            "mounts[4].uidMappings: needs gidMappings too",
        ),
        (
            format!(
                r#",{{"destination":"/t","type":"tmpfs","source":"tmpfs","uidMappings":[{one}],"gidMappings":[{one}]}}"#
            ),
            "mounts[4].uidMappings: applies to bind mounts only",
        ),
        (
            own_mapped(
                Path::new(src),
                "/d",
                r#""bind""#,
                r#"{"containerID":0,"hostID":1000,"size":10},{"containerID":10,"hostID":1005,"size":1}"#,
            ),
            "mounts[4].uidMappings[1]: its hostID range overlaps that of mounts[4].uidMappings[0]",
        ),
    ];
    for (mount, want) in cases {
        let b = bundle(&t, &config(&t, "true", None, r#"{"type":"mount"}"#, "", &mount));
        let o = rt(&t, &["create", "--bundle", b.to_str().unwrap(), &t.name()]);
        assert_eq!((o.status.code(), text(&o.stderr)), (Some(1), format!("spawnbox-runc: {want}\n")));
        assert_eq!(fs::read_dir(&state).unwrap().count(), 0);
    }
}
