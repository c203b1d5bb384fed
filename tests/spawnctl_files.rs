//! Root integration tests of spawnctl's `bind`, `copy-to`, `copy-from` and `set-property` on
//! running busybox guests (`tests/guests/mkguest.sh busybox`): one started by `spawnctl start`
//! (nspawn@.service's options, so `-U`: a user namespace of its own and an idmapped tree), one
//! by `spawnbox -b` without a user namespace.
//!
//! Each test runs one script in a private mount and network namespace (`unshare -m -n`) with
//! fresh tmpfs on `/run` (the registry, `/run/machines`) and `/var/log` (start's log), so the
//! machines, their veth links and files never reach the host; machine names carry the test's
//! pid, since cgroups are host-wide. Container-side effects are read from the host through
//! `/proc/LEADER/root` (the host's view of ids) and from inside with `nsenter -a` (the
//! container root's view). The limits of `set-property` need cgroup v2 controllers, which this
//! hybrid dev host lacks: what they do on a cgroup v2 kernel is the VM case
//! `tests/vm/cases/53-spawnctl-set-property`.

use spawnbox_tests::{guest, spawnbox_bin, unshared_script, Test};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

/// What every script starts with: the private /run and /var/log, the image `$NAME` in
/// /run/machines (a link to the test's copy of the guest), and helpers:
/// - `run ARGS`: `$ ARGS`, spawnctl's output, `rc=N`, with the leader's pid, the container
///   root's host uid, the test's directory and the machine name replaced by `L`, `SHIFT`,
///   `HOST` and `NAME`;
/// - `up`: `spawnctl start NAME` (or, with `UP=spawnbox`, `spawnbox -b -M NAME` without a
///   user namespace in the background), then `$L`, `$R` (`/proc/L/root`) and `$SHIFT`
///   (`none` without a user namespace);
/// - `inside CMD`: CMD as the container's root in all its namespaces (`nsenter -a`), `rc=N`;
/// - on exit the machine is terminated and its launcher waited for.
const PROLOGUE: &str = r#"set -u
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /var/log
mkdir -p /run/machines "$TREE/srv"
ln -s "$TREE" "/run/machines/$NAME"
L=none SHIFT=none LAUNCHER=
norm() { sed -e "s|$HOST|HOST|g" -e "s|$NAME|NAME|g" -e "s|\b$SHIFT\b|SHIFT|g" -e "s|/proc/$L/|/proc/L/|g"; }
show() { [ -z "$1" ] || printf '%s\n' "$1" | norm; echo "rc=$2"; }
run() { echo "\$ $*" | norm; out=$("$SPAWNCTL" "$@" 2>&1); show "$out" $?; }
inside() { out=$(nsenter -t "$L" -a /bin/sh -c "$1" 2>&1); show "$out" $?; }
up() {
    if [ "${UP:-spawnctl}" = spawnctl ]; then
        "$SPAWNCTL" start "$NAME" || exit 1
    else
        setsid "$SPAWNBOX" -q -b --console=read-only -M "$NAME" </dev/null >"$HOST/launcher.log" 2>&1 &
        n=0
        until [ "$("$SPAWNCTL" show "$NAME" -p State --value 2>/dev/null)" = running ]; do
            n=$((n + 1)); [ $n -lt 400 ] || { cat "$HOST/launcher.log"; exit 1; }; sleep 0.025
        done
    fi
    L=$("$SPAWNCTL" show "$NAME" -p Leader --value)
    LAUNCHER=$("$SPAWNCTL" show "$NAME" -p Launcher --value)
    R=/proc/$L/root
    SHIFT=$(awk '$1 == 0 { print $2 }' "/proc/$L/uid_map")
    [ "$SHIFT" != 0 ] || SHIFT=none
}
down() {
    [ -n "$LAUNCHER" ] || return 0
    "$SPAWNCTL" terminate "$NAME"
    n=0
    while kill -0 "$LAUNCHER" 2>/dev/null; do n=$((n + 1)); [ $n -lt 400 ] || break; sleep 0.025; done
    LAUNCHER=
}
trap down EXIT
"#;

/// Runs `script` after [`PROLOGUE`] in a private mount and network namespace with `$SPAWNCTL`,
/// `$SPAWNBOX`, `$TREE` (the test's copy of the guest), `$NAME` (its directory name, the
/// machine's name) and `$HOST` (the test's directory on the host) set; its stdout.
fn in_machine_ns(t: &Test, script: &str, up: &str) -> String {
    let (ctl, name) = (t.spawnctl(), t.name());
    let env = [
        ("SPAWNCTL", ctl.as_os_str()),
        ("SPAWNBOX", spawnbox_bin().as_os_str()),
        ("TREE", t.root.as_os_str()),
        ("NAME", std::ffi::OsStr::new(&name)),
        ("HOST", t.dir.as_os_str()),
        ("UP", std::ffi::OsStr::new(up)),
    ];
    unshared_script(true, &format!("{PROLOGUE}{script}"), &env)
}

fn assert_lines(got: &str, want: &str) {
    if got != want {
        let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
        let at = g.iter().zip(&w).position(|(a, b)| a != b).unwrap_or(g.len().min(w.len()));
        panic!("output differs at line {}:\n got: {:?}\nwant: {:?}\n--- got:\n{got}", at + 1, g.get(at), w.get(at));
    }
}

#[test]
fn bind_into_a_user_namespaced_machine() {
    let t = Test::from_tree("cf-bind", &guest("busybox"));
    let script = r#"mkdir -p "$HOST/src/sub" "$HOST/canary"
echo hello >"$HOST/src/sub/f"; chown 1000:1000 "$HOST/src/sub/f"
echo one-file >"$HOST/file"; echo canary >"$HOST/canary/keep"
canary() { (cd "$HOST/canary" && find . -printf '%P %y %m %U %s %T@\n' | sort | cksum); }
before=$(canary)
up
run bind "$NAME" "$HOST/src" /mnt/a/b
run bind "$NAME" "$HOST/src" /mnt/a/b --mkdir
cat "$R/mnt/a/b/sub/f"
stat -c '%u:%g %n' "$R/mnt/a" "$R/mnt/a/b" "$R/mnt/a/b/sub/f" | norm
inside 'stat -c "%u:%g %n" /mnt/a /mnt/a/b /mnt/a/b/sub/f; echo made >/mnt/a/b/new'
stat -c '%u:%g %n' "$HOST/src/new" | norm
echo "host mounts at /mnt/a/b: $(grep -c ' /mnt/a/b ' /proc/self/mountinfo)"
run bind --read-only --mkdir "$NAME" "$HOST/src" /mnt/ro
inside 'echo x >/mnt/ro/x; cat /mnt/ro/sub/f'
run bind --mkdir "$NAME" "$HOST/file" /etc/motd
inside 'cat /etc/motd; grep -c " /etc/motd " /proc/self/mountinfo'
run bind "$NAME" "$HOST/missing" /mnt/x --mkdir
run bind "$NAME" "$HOST/file" /mnt/a
run bind "$NAME" "$HOST/src" /etc/motd
run bind "$NAME" src /mnt/x
run bind "$NAME" "$HOST/src" mnt/x
run bind nosuch "$HOST/src" /mnt/x
run bind --mkdir "$NAME" /sys/kernel /mnt/k
inside 'ls -d /mnt/k'
inside "ln -s $HOST/canary /mnt/dangling"
run bind --mkdir "$NAME" "$HOST/src" /mnt/dangling/x
inside "mkdir -p $HOST/canary; ln -s $HOST/canary /mnt/abs; ln -s ../../../../../../../../../..$HOST/canary /mnt/rel"
run bind --mkdir "$NAME" "$HOST/src" /mnt/abs/x
run bind --mkdir "$NAME" "$HOST/src" /mnt/rel/y
inside "cat $HOST/canary/x/sub/f $HOST/canary/y/sub/f"
[ "$(canary)" = "$before" ] && echo "host canary unchanged"
down
"#;
    let want = r#"$ bind NAME HOST/src /mnt/a/b
spawnctl: bind HOST/src on NAME:/mnt/a/b: open NAME:/mnt/a/b: no such file or directory
hint: --mkdir creates it
rc=1
$ bind NAME HOST/src /mnt/a/b --mkdir
rc=0
hello
SHIFT:SHIFT /proc/L/root/mnt/a
SHIFT:SHIFT /proc/L/root/mnt/a/b
1860895720:1860895720 /proc/L/root/mnt/a/b/sub/f
0:0 /mnt/a
0:0 /mnt/a/b
1000:1000 /mnt/a/b/sub/f
rc=0
0:0 HOST/src/new
host mounts at /mnt/a/b: 0
$ bind --read-only --mkdir NAME HOST/src /mnt/ro
rc=0
/bin/sh: can't create /mnt/ro/x: Read-only file system
hello
rc=0
$ bind --mkdir NAME HOST/file /etc/motd
rc=0
one-file
1
rc=0
$ bind NAME HOST/missing /mnt/x --mkdir
spawnctl: bind HOST/missing on NAME:/mnt/x: clone mount HOST/missing: no such file or directory
rc=1
$ bind NAME HOST/file /mnt/a
spawnctl: bind HOST/file on NAME:/mnt/a: NAME:/mnt/a is a directory, the source is not
rc=1
$ bind NAME HOST/src /etc/motd
spawnctl: bind HOST/src on NAME:/etc/motd: NAME:/etc/motd is not a directory
rc=1
$ bind NAME src /mnt/x
spawnctl: source must be an absolute path: "src"
rc=1
$ bind NAME HOST/src mnt/x
spawnctl: destination must be an absolute path: "mnt/x"
rc=1
$ bind nosuch HOST/src /mnt/x
spawnctl: machine "nosuch" is not running
rc=1
$ bind --mkdir NAME /sys/kernel /mnt/k
spawnctl: bind /sys/kernel on NAME:/mnt/k: make idmapped mount of /sys/kernel: invalid argument
hint: the machine has a user namespace of its own, so a bind into it is an idmapped mount, and every file system below SRC must support those (procfs and sysfs do not)
rc=1
ls: /mnt/k: No such file or directory
rc=1
rc=0
$ bind --mkdir NAME HOST/src /mnt/dangling/x
spawnctl: bind HOST/src on NAME:/mnt/dangling/x: open /mnt/dangling: no such file or directory
rc=1
rc=0
$ bind --mkdir NAME HOST/src /mnt/abs/x
rc=0
$ bind --mkdir NAME HOST/src /mnt/rel/y
rc=0
hello
hello
rc=0
host canary unchanged
"#;
    let got = in_machine_ns(&t, script, "spawnctl");
    // The file owned by host uid 1000 shows as the container's 1000: SHIFT + 1000 on the host.
    let shift = got.lines().find_map(|l| l.strip_suffix(" /proc/L/root/mnt/a/b/sub/f")).unwrap_or("");
    let (uid, _) = shift.split_once(':').unwrap_or(("", ""));
    let shifted: u64 = uid.parse().unwrap_or_else(|_| panic!("no host view of sub/f:\n{got}"));
    assert!(shifted > 1000, "{got}");
    assert_lines(&got.replace(&format!("{shifted}:{shifted}"), "1860895720:1860895720"), want);
}

#[test]
fn bind_into_a_machine_without_user_namespace() {
    let t = Test::from_tree("cf-bind0", &guest("busybox"));
    let script = r#"mkdir -p "$HOST/src"; echo data >"$HOST/src/f"; chown 1234:4321 "$HOST/src/f"
up
cat "/proc/$L/uid_map" | tr -s ' '
run bind --read-only --mkdir "$NAME" "$HOST/src" /srv/data
inside 'stat -c "%u:%g %n" /srv/data/f; cat /srv/data/f; echo x >>/srv/data/f'
stat -c '%u:%g %s %n' "$R/srv/data/f" | norm
down
"#;
    let want = r#" 0 0 4294967295
$ bind --read-only --mkdir NAME HOST/src /srv/data
rc=0
1234:4321 /srv/data/f
data
/bin/sh: can't create /srv/data/f: Read-only file system
rc=1
1234:4321 5 /proc/L/root/srv/data/f
"#;
    assert_lines(&in_machine_ns(&t, script, "spawnbox"), want);
}

/// A source tree with what a copy must keep: modes (setuid, sticky), owners, a hard link, a
/// symlink, a sparse file, a user xattr and file capabilities, nanosecond mtimes.
fn make_source(src: &Path) {
    fs::create_dir_all(src.join("dir/deep")).unwrap();
    fs::write(src.join("file"), "file data\n").unwrap();
    fs::write(src.join("dir/deep/note"), "deep\n").unwrap();
    fs::write(src.join("tool"), "#!/bin/sh\necho tool\n").unwrap();
    let sparse = fs::File::create(src.join("sparse")).unwrap();
    sparse.set_len(1 << 20).unwrap();
    std::os::unix::fs::FileExt::write_at(&sparse, b"end", (1 << 20) - 3).unwrap();
    fs::hard_link(src.join("file"), src.join("dir/hardlink")).unwrap();
    std::os::unix::fs::symlink("../file", src.join("dir/link")).unwrap();
    // Owners first: chown(2) clears setuid bits and file capabilities.
    for p in ["file", "dir/deep", "dir/deep/note", "tool"] {
        std::os::unix::fs::lchown(src.join(p), Some(1234), Some(4321)).unwrap();
    }
    for (p, mode) in [("file", 0o640), ("tool", 0o4755), ("dir", 0o1777), ("dir/deep", 0o750)] {
        fs::set_permissions(src.join(p), fs::Permissions::from_mode(mode)).unwrap();
    }
    let set = |p: &str, name: &str, value: &[u8]| {
        rustix::fs::lsetxattr(src.join(p), name, value, rustix::fs::XattrFlags::empty())
            .unwrap_or_else(|e| panic!("setxattr {name} on {p}: {e}"))
    };
    set("file", "user.origin", b"host");
    set("dir", "user.dir", b"d");
    // VFS_CAP_REVISION_2 | effective, permitted CAP_NET_RAW.
    let mut caps = 0x0200_0001u32.to_le_bytes().to_vec();
    caps.extend([1u32 << 13, 0, 0, 0].iter().flat_map(|w| w.to_le_bytes()));
    set("tool", "security.capability", &caps);
    for (i, p) in ["file", "tool", "sparse", "dir/deep/note", "dir/link", "dir/deep", "dir"].iter().enumerate() {
        let ts = rustix::fs::Timespec { tv_sec: 1_700_000_000 + i as i64, tv_nsec: 123_456_789 };
        let t = rustix::fs::Timestamps { last_access: ts, last_modification: ts };
        rustix::fs::utimensat(rustix::fs::CWD, src.join(p), &t, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).unwrap();
    }
}

/// Every entry: path, type, mode, owner, group, size, blocks, mtime, link target, link count;
/// then every xattr (symlinks not followed); sorted. The top directory's own line is left out
/// (it is the copy's, or a directory of the test).
fn listing(root: &Path) -> Vec<String> {
    let out = Command::new("find")
        .arg(root)
        .args(["-mindepth", "1", "-printf", "%P %y %m %U:%G %s %b %T@ %l %n\n"])
        .output()
        .unwrap();
    let mut l: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
    let (mut names, mut value) = (vec![0u8; 4096], vec![0u8; 4096]);
    for line in l.clone() {
        let rel = line.split(' ').next().unwrap_or_default().to_string();
        let p = root.join(&rel);
        let n = rustix::fs::llistxattr(&p, &mut names[..]).unwrap();
        for name in names[..n].split(|b| *b == 0).filter(|a| !a.is_empty()) {
            let name = std::ffi::CString::new(name).unwrap();
            let len = rustix::fs::lgetxattr(&p, name.as_c_str(), &mut value[..]).unwrap();
            let hex: String = value[..len].iter().map(|b| format!("{b:02x}")).collect();
            l.push(format!("{rel} xattr {}={hex}", name.to_string_lossy()));
        }
    }
    l.sort();
    l
}

/// The listing of a copy made across a user namespace, from that of its source: every entry
/// owned by `owner`, no setuid or setgid bit on files, no file capabilities.
fn mapped(l: &[String], owner: &str) -> Vec<String> {
    l.iter()
        .filter(|e| !e.contains(" xattr security.capability="))
        .map(|e| {
            if e.contains(" xattr ") {
                return e.clone();
            }
            let mut f: Vec<String> = e.split(' ').map(String::from).collect();
            if f[1] != "d" {
                let mode = u32::from_str_radix(&f[2], 8).unwrap() & !0o6000;
                f[2] = format!("{mode:o}");
            }
            f[3] = owner.to_string();
            f.join(" ")
        })
        .collect()
}

#[test]
fn copy_to_and_from_a_user_namespaced_machine() {
    let t = Test::from_tree("cf-copy", &guest("busybox"));
    let src = t.host_dir("src");
    make_source(&src);
    let script = r#"up
run copy-to "$NAME" "$HOST/src" /srv/tree
run copy-to "$NAME" "$HOST/src/file" /srv/file
run copy-to "$NAME" "$HOST/src/dir/link" /srv/link
run copy-to "$NAME" "$HOST/src/file" /srv/file
stat -c '%u:%g %a %s %n' "$R/srv/tree" "$R/srv/tree/tool" "$R/srv/file" | norm
inside 'stat -c "%u:%g %a %s %N" /srv/tree/tool /srv/tree/dir/deep/note /srv/link; cat /srv/tree/dir/link'
cp -a "$R/srv/tree" "$HOST/seen-inside"
run copy-from "$NAME" /srv/tree "$HOST/back"
run copy-from "$NAME" /srv/file "$HOST/back-file"
run copy-from "$NAME" /srv/tree "$HOST/back"
run copy-from --force "$NAME" /srv/tree "$HOST/back"
stat -c '%F %u:%g %a %s %n' "$HOST/back-file" | norm
run copy-to "$NAME" "$HOST/src/dir" /srv/dir2
run copy-to --force "$NAME" "$HOST/src/file" /srv/dir2
stat -c '%F %s %n' "$R/srv/dir2" | norm
run copy-from "$NAME" /srv/nothing "$HOST/x"
run copy-to "$NAME" "$HOST/nothing" /srv/x
run copy-to "$NAME" "$HOST/src" /nodir/x
run copy-to "$NAME" "$HOST/src" /
run copy-to "$NAME" "$HOST/src"
run copy-from nosuch /etc "$HOST/x"
ls -A "$R/srv" "$HOST" | norm
down
"#;
    let want = r#"$ copy-to NAME HOST/src /srv/tree
rc=0
$ copy-to NAME HOST/src/file /srv/file
rc=0
$ copy-to NAME HOST/src/dir/link /srv/link
rc=0
$ copy-to NAME HOST/src/file /srv/file
spawnctl: copy to NAME:/srv/file: file exists
hint: --force replaces it
rc=1
SHIFT:SHIFT 755 4096 /proc/L/root/srv/tree
SHIFT:SHIFT 755 20 /proc/L/root/srv/tree/tool
SHIFT:SHIFT 640 10 /proc/L/root/srv/file
0:0 755 20 /srv/tree/tool
0:0 644 5 /srv/tree/dir/deep/note
0:0 777 7 '/srv/link' -> '../file'
file data
rc=0
$ copy-from NAME /srv/tree HOST/back
rc=0
$ copy-from NAME /srv/file HOST/back-file
rc=0
$ copy-from NAME /srv/tree HOST/back
spawnctl: copy to HOST/back: file exists
hint: --force replaces it
rc=1
$ copy-from --force NAME /srv/tree HOST/back
rc=0
regular file 0:0 640 10 HOST/back-file
$ copy-to NAME HOST/src/dir /srv/dir2
rc=0
$ copy-to --force NAME HOST/src/file /srv/dir2
rc=0
regular file 10 /proc/L/root/srv/dir2
$ copy-from NAME /srv/nothing HOST/x
spawnctl: copy NAME:/srv/nothing: open: no such file or directory
rc=1
$ copy-to NAME HOST/nothing /srv/x
spawnctl: copy HOST/nothing: open: no such file or directory
rc=1
$ copy-to NAME HOST/src /nodir/x
spawnctl: open NAME:/nodir: no such file or directory
rc=1
$ copy-to NAME HOST/src /
spawnctl: destination must name a file or directory: "/"
rc=1
$ copy-to NAME HOST/src
spawnctl: open NAME:HOST: no such file or directory
rc=1
$ copy-from nosuch /etc HOST/x
spawnctl: machine "nosuch" is not running
rc=1
"#;
    let got = in_machine_ns(&t, script, "spawnctl");
    let (transcript, rest) = got.split_at(got.find("/proc/L/root/srv:").unwrap_or(got.len()));
    assert_lines(transcript, want);
    // No temporary copy is left beside the destinations.
    assert!(!rest.contains(".#"), "{rest}");
    let original = listing(&src);
    // Inside, as the host sees it through the idmapped tree: the container root's (the
    // shift is in the transcript as SHIFT; read it back from the copy).
    let seen = listing(&t.path("seen-inside"));
    let owner = seen.iter().find(|l| l.starts_with("file ")).and_then(|l| l.split(' ').nth(3)).unwrap();
    assert_ne!(owner, "0:0");
    assert_eq!(seen, mapped(&original, owner), "the copy inside");
    // Back on the host: the caller's, and otherwise the same.
    assert_eq!(listing(&t.path("back")), mapped(&original, "0:0"), "the copy back");
    assert_eq!(fs::read(t.path("back/sparse")).unwrap(), fs::read(src.join("sparse")).unwrap());
    assert_eq!(fs::read(t.path("back/dir/hardlink")).unwrap(), b"file data\n");
}

#[test]
fn copy_to_and_from_a_machine_without_user_namespace_keeps_owners() {
    let t = Test::from_tree("cf-copy0", &guest("busybox"));
    let src = t.host_dir("src");
    make_source(&src);
    let script = r#"up
run copy-to "$NAME" "$HOST/src" /srv/tree
inside 'stat -c "%u:%g %a %n" /srv/tree/tool /srv/tree/file'
run copy-from "$NAME" /srv/tree "$HOST/back"
down
"#;
    let want = r#"$ copy-to NAME HOST/src /srv/tree
rc=0
1234:4321 4755 /srv/tree/tool
1234:4321 640 /srv/tree/file
rc=0
$ copy-from NAME /srv/tree HOST/back
rc=0
"#;
    assert_lines(&in_machine_ns(&t, script, "spawnbox"), want);
    assert_eq!(listing(&t.path("back")), listing(&src), "the round trip");
    let meta = fs::metadata(t.path("back/dir")).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o1777);
}

#[test]
fn copies_stay_inside_a_hostile_machine() {
    let t = Test::from_tree("cf-hostile", &guest("busybox"));
    let canary = t.host_dir("canary");
    fs::write(canary.join("secret"), "host secret\n").unwrap();
    let etc_probe = format!("/etc/spawnctl-files-probe-{}", std::process::id());
    let script = format!(
        r#"echo payload >"$HOST/payload"
canary() {{ (cd "$HOST/canary" && find . -printf '%P %y %m %U %s %T@\n' | sort; cat secret) | cksum; }}
before=$(canary)
up
# The container's root plants links to the host's canary and to its own /etc.
inside "mkdir -p /srv/tree; ln -s $HOST/canary /srv/abs; ln -s ../../../../../../../../../..$HOST/canary /srv/rel
ln -s $HOST/canary/secret /srv/secret; ln -s /etc /srv/etc; ln -s $HOST/canary/secret /srv/tree/leak"
run copy-to "$NAME" "$HOST/payload" /srv/abs/x
run copy-to "$NAME" "$HOST/payload" /srv/rel/x
run copy-to "$NAME" "$HOST/payload" /srv/../../../../..$HOST/canary/x
run copy-to "$NAME" "$HOST/payload" /srv/secret
run copy-to --force "$NAME" "$HOST/payload" /srv/secret
run copy-to "$NAME" "$HOST/payload" /srv/etc/{probe}
run copy-to "$NAME" "$HOST/payload" /../../../../srv/dotdot
inside 'cat /srv/secret /etc/{probe} /srv/dotdot'
[ -e /etc/{probe} ] && echo "host /etc written" || echo "host /etc untouched"
run copy-from "$NAME" /srv/abs/secret "$HOST/out1"
run copy-from "$NAME" /srv/rel/secret "$HOST/out2"
run copy-from "$NAME" /proc/1/root/etc/hostname "$HOST/out3"
run copy-from "$NAME" /srv/tree/leak "$HOST/out4"
run copy-from "$NAME" /srv/tree "$HOST/out5"
stat -c '%F %N' "$HOST/out4" "$HOST/out5/leak" | norm
[ "$(canary)" = "$before" ] && echo "host canary unchanged"
down
"#,
        probe = etc_probe.trim_start_matches("/etc/")
    );
    let want = r#"rc=0
$ copy-to NAME HOST/payload /srv/abs/x
spawnctl: open NAME:/srv/abs: no such file or directory
rc=1
$ copy-to NAME HOST/payload /srv/rel/x
spawnctl: open NAME:/srv/rel: no such file or directory
rc=1
$ copy-to NAME HOST/payload /srv/../../../../..HOST/canary/x
spawnctl: open NAME:/srv/../../../../..HOST/canary: no such file or directory
rc=1
$ copy-to NAME HOST/payload /srv/secret
spawnctl: copy to NAME:/srv/secret: file exists
hint: --force replaces it
rc=1
$ copy-to --force NAME HOST/payload /srv/secret
rc=0
$ copy-to NAME HOST/payload /srv/etc/PROBE
rc=0
$ copy-to NAME HOST/payload /../../../../srv/dotdot
rc=0
payload
payload
payload
rc=0
host /etc untouched
$ copy-from NAME /srv/abs/secret HOST/out1
spawnctl: open NAME:/srv/abs: no such file or directory
rc=1
$ copy-from NAME /srv/rel/secret HOST/out2
spawnctl: open NAME:/srv/rel: no such file or directory
rc=1
$ copy-from NAME /proc/1/root/etc/hostname HOST/out3
spawnctl: open NAME:/proc/1/root/etc: too many levels of symbolic links
rc=1
$ copy-from NAME /srv/tree/leak HOST/out4
rc=0
$ copy-from NAME /srv/tree HOST/out5
rc=0
symbolic link 'HOST/out4' -> 'HOST/canary/secret'
symbolic link 'HOST/out5/leak' -> 'HOST/canary/secret'
host canary unchanged
"#;
    let got = in_machine_ns(&t, &script, "spawnctl");
    // Checked (and undone) first: a broken spawnctl writes the host's /etc.
    let leaked = fs::remove_file(&etc_probe).is_ok();
    assert!(!leaked, "{etc_probe} was written on the host (removed now)");
    assert_lines(&got.replace(etc_probe.trim_start_matches("/etc/"), "PROBE"), want);
    for out in ["out1", "out2", "out3"] {
        assert!(fs::symlink_metadata(t.path(out)).is_err(), "{out} was made");
    }
}

/// The pids controller's availability in the host's cgroup2 hierarchy decides what
/// `set-property TasksMax=` does here: applied, or refused as at start on a hybrid host.
fn v2_controllers() -> (String, String) {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    let root = mounts
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(2) == Some(&"cgroup2")).then(|| f[1].to_string())
        })
        .expect("a cgroup2 mount");
    let controllers = fs::read_to_string(Path::new(&root).join("cgroup.controllers")).unwrap();
    (root, controllers)
}

#[test]
fn set_property_uses_the_property_parser_and_the_hosts_cgroup_rules() {
    let t = Test::from_tree("cf-prop", &guest("busybox"));
    let script = r#"up
CG=$("$SPAWNCTL" show "$NAME" -p ControlGroup --value)
echo "cgroup: $CG" | norm
run set-property "$NAME" TasksMax=4
cat "$CG/pids.max" 2>/dev/null || echo "no pids.max"
run set-property "$NAME" Foo=1
run set-property "$NAME" MemoryMax=abc
run set-property "$NAME" CPUQuota=0%
run set-property "$NAME"
run set-property nosuch TasksMax=4
down
"#;
    let (root, controllers) = v2_controllers();
    let scope = t.root.file_name().unwrap().to_string_lossy().replace('-', "\\x2d");
    let hybrid = root != "/sys/fs/cgroup";
    let applied = if controllers.split_whitespace().any(|c| c == "pids") {
        "rc=0\n4\n".to_string()
    } else {
        let place = if hybrid { format!("{root} (hybrid hierarchy)") } else { root.clone() };
        format!(
            "spawnctl: set-property NAME: TasksMax=4: pids controller not available in {place}\nrc=1\nno pids.max\n"
        )
    };
    let want = format!(
        r#"cgroup: {root}/machine.slice/machine-{scope}.scope
$ set-property NAME TasksMax=4
{applied}$ set-property NAME Foo=1
spawnctl: set-property NAME: Foo=1: unsupported property "Foo"
rc=1
$ set-property NAME MemoryMax=abc
spawnctl: set-property NAME: MemoryMax=abc: invalid size "abc"
rc=1
$ set-property NAME CPUQuota=0%
spawnctl: set-property NAME: CPUQuota=0%: CPU quota too small
rc=1
$ set-property NAME
spawnctl: set-property: too few arguments (usage: spawnctl set-property NAME PROPERTY=VALUE...)
rc=1
$ set-property nosuch TasksMax=4
spawnctl: machine "nosuch" is not running
rc=1
"#
    );
    assert_lines(&in_machine_ns(&t, script, "spawnctl"), &want);
}
