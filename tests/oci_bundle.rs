//! Root integration tests of `spawnbox --oci-bundle=B`: real containers on the busybox tree,
//! with a bundle written around it (config.json in the test's temp dir, `root.path` the tree).
//! The payload, its environment, directory, user and hostname come from the bundle, so do a
//! bind mount, a masked path, capabilities, no_new_privs and a seccomp profile; the command
//! line wins over the bundle; a refused member stops spawnbox with the JSON path.

use spawnbox_tests::{Cmd, Output, Test};
use std::fs;
use std::path::PathBuf;

/// Writes `B/config.json` around the test's tree (a host directory `data/f` is bound on
/// `/data` read-only, `/etc/secret` is masked) with `process.args` `args` and `linux` members
/// `linux_extra` (a JSON fragment starting with a comma, or empty); returns B.
fn bundle(t: &Test, args: &[&str], linux_extra: &str) -> PathBuf {
    let data = t.host_dir("data");
    fs::write(data.join("f"), "from the host\n").unwrap();
    t.write("/etc/secret", "do not read\n");
    let b = t.host_dir("bundle");
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    let config = format!(
        r#"{{
  "ociVersion": "1.0.2",
  "root": {{"path": {root:?}}},
  "hostname": "ocibox",
  "process": {{
    "terminal": false,
    "user": {{"uid": 1000, "gid": 1000, "additionalGids": [10, 29]}},
    "args": [{args}],
    "env": ["PATH=/bin:/sbin", "FOO=from-bundle"],
    "cwd": "/home/alice",
    "noNewPrivileges": true,
    "capabilities": {{"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN"]}}
  }},
  "mounts": [
    {{"destination": "/proc", "type": "proc", "source": "proc"}},
    {{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}},
    {{"destination": "/data", "type": "bind", "source": {data:?}, "options": ["rbind", "ro"]}}
  ],
  "linux": {{
    "namespaces": [{{"type": "pid"}}, {{"type": "ipc"}}, {{"type": "uts"}}, {{"type": "mount"}}, {{"type": "cgroup"}}],
    "maskedPaths": ["/etc/secret", "/proc/kcore", "/proc/no-such-file"]{linux_extra}
  }}
}}"#,
        root = t.root.display().to_string(),
        args = args.join(", "),
        data = data.display().to_string(),
    );
    fs::write(b.join("config.json"), config).unwrap();
    b
}

/// `spawnbox --oci-bundle=B --uuid=UUID -q OPTS...`.
fn run(t: &Test, b: &std::path::Path, opts: &[&str]) -> Output {
    let mut c = Cmd::new();
    c.arg(format!("--oci-bundle={}", b.display())).arg(format!("--uuid={}", t.uuid)).arg("-q").args(opts);
    c.run()
}

#[test]
fn the_bundle_gives_payload_user_hostname_mounts_and_masks() {
    let t = Test::new("ocib-run");
    let script = "id -u; id -G; hostname; pwd; echo $FOO; cat /data/f; \
                  grep ' /data ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
                  cat /etc/secret 2>/dev/null || echo secret masked; \
                  grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status";
    let b = bundle(&t, &["/bin/sh", "-c", script], "");
    let out = run(&t, &b, &[]);
    assert_eq!(
        out.ok(),
        "1000\n1000 10 29\nocibox\n/home/alice\nfrom-bundle\nfrom the host\nro\nsecret masked\n\
         CapBnd:\t0000000000000021\nNoNewPrivs:\t1\n"
    );
}

#[test]
fn the_command_line_wins_over_the_bundle() {
    let t = Test::new("ocib-cli");
    let b = bundle(&t, &["/bin/false"], "");
    // A command replaces process.args, --hostname and -E replace the bundle's; the rest
    // (user, directory) stays the bundle's.
    let out = run(&t, &b, &["--hostname=fromcli", "-E", "FOO=cli", "/bin/sh", "-c", "hostname; echo $FOO; id -u; pwd"]);
    assert_eq!(out.ok(), "fromcli\ncli\n1000\n/home/alice\n");
    // -u from the command line: the bundle's user is not used.
    let out = run(&t, &b, &["-u", "root", "/bin/sh", "-c", "id -u"]);
    assert_eq!(out.ok(), "0\n");
}

#[test]
fn the_bundles_seccomp_profile_replaces_nspawns_filter() {
    let t = Test::new("ocib-seccomp");
    let profile = r#", "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#;
    let b = bundle(&t, &["/bin/sh", "-c", "mkdir /tmp/d 2>&1; grep ^Seccomp: /proc/self/status"], profile);
    let out = run(&t, &b, &[]);
    assert_eq!(out.ok(), "mkdir: can't create directory '/tmp/d': Operation not permitted\nSeccomp:\t2\n");
}

#[test]
fn a_refused_member_names_its_json_path() {
    let t = Test::new("ocib-refuse");
    let b = bundle(&t, &["/bin/true"], "");
    let config = b.join("config.json");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, text.replace(r#"{"type": "ipc"}"#, r#"{"type": "ipc", "path": "/proc/1/ns/ipc"}"#)).unwrap();
    run(&t, &b, &[]).error(&format!(
        "{}: linux.namespaces[1].path: only the network namespace can be joined with --oci-bundle",
        config.display()
    ));
    // A user whose groups differ from the container's /etc/group.
    fs::write(&config, text.replace(r#""additionalGids": [10, 29]"#, r#""additionalGids": []"#)).unwrap();
    run(&t, &b, &[]).error(&format!(
        "{}: process.user.additionalGids: [] are not the groups of uid 1000 in the container's /etc/group ([10 29])",
        config.display()
    ));
    // No config.json.
    fs::remove_file(&config).unwrap();
    run(&t, &b, &[]).error(&format!("open {}: no such file or directory", config.display()));
}
