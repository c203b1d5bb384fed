//! Root integration tests of `spawnctl import-oci`: images made by podman (from Debian's
//! packages, `make deps`) from the test's busybox tree, saved as `oci-archive`, `oci-dir` and
//! `docker-archive` (plain and gzipped), imported, their trees and `NAME.nspawn` checked, and
//! run with `spawnbox -M NAME`, whose output (arguments, user, working directory,
//! environment, the layers' whiteouts) is compared exactly. Hostile images, made byte by byte
//! here, change nothing outside.
//!
//! Each test runs one script in a private mount namespace with a tmpfs on `/var/lib`: the
//! images in `/var/lib/machines`, and podman's blob cache (`/var/lib/containers/cache`, which
//! it writes whatever `--root` says), never reach the host. Podman's state is in the test's
//! temp dir (`--root`, `--runroot`, `--tmpdir`), as in nested_engines.rs, but with the overlay
//! storage driver: its layer diffs mark a directory that was removed and made again opaque
//! (`.wh..wh..opq`), where vfs's naive diff writes a whiteout per old entry instead. Images
//! are built with `--isolation=chroot` (no OCI runtime, no conmon: no process outlives it).

use spawnbox_tests::host::processes_with_cmdline;
use spawnbox_tests::{spawnbox_bin, tree_listing, unshared_script, Test};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// Paths podman uses by default outside the state dirs the tests give it.
const ENGINE_PATHS: &[&str] = &["/run/containers", "/run/libpod", "/var/lib/containers", "/etc/cni/net.d"];

fn engine_state() -> Vec<String> {
    ENGINE_PATHS
        .iter()
        .flat_map(|p| {
            let p = Path::new(p);
            std::iter::once(format!("{} {}", p.display(), p.exists()))
                .chain(tree_listing(p).into_iter().map(|l| format!("{}/{l}", p.display())))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Runs `script` in a private mount namespace whose `/var/lib` is a fresh tmpfs, with
/// `$SPAWNCTL`, `$SPAWNBOX`, `$W` (the test's temp dir) and `$TREE` (its busybox tree); its
/// stdout with `$W` written `W`.
fn in_private_var_lib(t: &Test, script: &str) -> String {
    let setup = "set -u\nmount -t tmpfs -o mode=0755 tmpfs /var/lib\n";
    let ctl = t.spawnctl();
    let env = [
        ("SPAWNCTL", ctl.as_os_str()),
        ("SPAWNBOX", spawnbox_bin().as_os_str()),
        ("W", t.dir.as_os_str()),
        ("TREE", t.root.as_os_str()),
    ];
    unshared_script(false, &format!("{setup}{script}"), &env).replace(t.dir.to_str().unwrap(), "W")
}

/// `echo '$ ARGS'; spawnctl ARGS 2>&1; echo rc=$?`: a transcript line per command.
const RUN: &str = "run() { echo \"\\$ $*\"; \"$SPAWNCTL\" \"$@\" 2>&1; echo \"rc=$?\"; }\n";

/// The program the image runs: what it was given and what it sees.
const SHOW: &str = r#"#!/bin/sh
for a in "$0" "$@"; do printf 'arg: [%s]\n' "$a"; done
echo "id: $(id)"
echo "cwd: $(pwd)"
env | grep -E '^(GREETING|EMPTY|QUOTE|PATH)=' | sort
echo "data: $(ls -A /srv/data | tr '\n' ' ')"
[ -e /etc/gone ] && echo "gone: still there" || echo "gone: gone"
"#;

/// The second layer: removes a file of the first (`.wh.gone`) and makes a directory of it
/// again (opaque), adds the program; then what the image runs.
const CONTAINERFILE: &str = r#"FROM localhost/oci-base:1
COPY show /usr/bin/show
RUN rm /etc/gone && rm -r /srv/data && mkdir /srv/data && echo new > /srv/data/new
ENV GREETING="hello world" EMPTY= QUOTE="it's \"quoted\""
WORKDIR /srv/data
USER 1000:1000
ENTRYPOINT ["/usr/bin/show", "it's"]
CMD ["a b", "\"q\"", ""]
"#;

#[test]
fn podman_images_in_every_format_import_and_run_their_command() {
    let t = Test::new("oci-podman");
    let engine_before = engine_state();
    let ctx = t.host_dir("ctx");
    fs::write(ctx.join("Containerfile"), CONTAINERFILE).unwrap();
    fs::write(ctx.join("show"), SHOW).unwrap();
    fs::set_permissions(ctx.join("show"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script = format!(
        "{RUN}P() {{ podman --root=$W/podman/root --runroot=$W/podman/run --tmpdir=$W/podman/tmp \
           --network-config-dir=$W/podman/net --storage-driver=overlay --cgroup-manager=cgroupfs \
           --events-backend=file \"$@\"; }}
mkdir -p $TREE/srv/data/old && echo old > $TREE/srv/data/old/f && echo keep > $TREE/srv/data/keep
echo gone > $TREE/etc/gone
rmdir $TREE/proc $TREE/sys $TREE/run $TREE/dev
tar -C $TREE -cf $W/base.tar .
P import -q $W/base.tar localhost/oci-base:1 >/dev/null
P build -q --isolation=chroot -t localhost/oci-test:v1 $W/ctx >/dev/null
P save -q --format oci-archive -o $W/oa.tar localhost/oci-test:v1
P save -q --format oci-dir -o $W/odir localhost/oci-test:v1
P save -q --format docker-archive -o $W/da.tar localhost/oci-test:v1
gzip -k $W/da.tar
P rmi -a -f >/dev/null
grep -c \" $W/podman\" /proc/self/mountinfo
run import-oci $W/oa.tar
run import-oci $W/odir from-dir
run import-oci $W/da.tar docker
run import-oci --read-only $W/da.tar.gz da
run import-oci $W/oa.tar
run import-oci --force $W/oa.tar
run import-oci $W/da.tar.gz
run import-oci $W/odir a/b
ls -A /var/lib/machines
cat /var/lib/machines/oci-test.nspawn
cd /var/lib/machines
for n in from-dir docker da; do tail -n +2 $n.nspawn | cmp - /dev/fd/3 3<<EOF && echo \"$n.nspawn: same\"
$(tail -n +2 oci-test.nspawn)
EOF
done
list() {{ (cd \"$1\" && find . -mindepth 1 -printf '%P %y %m %U %G %s %T@ %l\\n' | sort | sha256sum | cut -c1-16); }}
for n in from-dir docker da; do [ \"$(list oci-test)\" = \"$(list $n)\" ] && echo \"$n: same tree\"; done
ls -A oci-test/srv/data; [ -e oci-test/etc/gone ] || echo 'etc/gone: gone'
lsattr -d da | cut -c5
for n in oci-test from-dir docker da; do echo \"== $n\"; \"$SPAWNBOX\" -q -M $n --console=pipe 2>&1; echo rc=$?; done
\"$SPAWNBOX\" -q -M oci-test --console=pipe /bin/sh -c 'echo $0 $@' x y; echo rc=$?
"
    );
    let show = |_: &str| {
        "arg: [/usr/bin/show]
arg: [it's]
arg: [a b]
arg: [\"q\"]
arg: []
id: uid=1000(alice) gid=1000(alice) groups=10(wheel),29(audio)
cwd: /srv/data
EMPTY=
GREETING=hello world
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
QUOTE=it's \"quoted\"
data: new 
gone: gone
rc=0
"
    };
    let want = format!(
        "0
$ import-oci W/oa.tar
spawnctl: imported image \"oci-test\" (3 layers, 2 whiteouts), settings in /var/lib/machines/oci-test.nspawn
rc=0
$ import-oci W/odir from-dir
spawnctl: imported image \"from-dir\" (3 layers, 2 whiteouts), settings in /var/lib/machines/from-dir.nspawn
rc=0
$ import-oci W/da.tar docker
spawnctl: imported image \"docker\" (3 layers, 2 whiteouts), settings in /var/lib/machines/docker.nspawn
rc=0
$ import-oci --read-only W/da.tar.gz da
spawnctl: imported image \"da\" (3 layers, 2 whiteouts), settings in /var/lib/machines/da.nspawn
rc=0
$ import-oci W/oa.tar
spawnctl: image \"oci-test\" already exists
hint: --force replaces it
rc=1
$ import-oci --force W/oa.tar
spawnctl: imported image \"oci-test\" (3 layers, 2 whiteouts), settings in /var/lib/machines/oci-test.nspawn
rc=0
$ import-oci W/da.tar.gz
spawnctl: image \"oci-test\" already exists
hint: --force replaces it
rc=1
$ import-oci W/odir a/b
spawnctl: invalid image name \"a/b\"
rc=1
da
da.nspawn
docker
docker.nspawn
from-dir
from-dir.nspawn
oci-test
oci-test.nspawn
# Written by spawnctl import-oci from the image configuration of W/oa.tar (sha256:CONFIG)
[Exec]
Boot=no
KillSignal=SIGTERM
User=1000
WorkingDirectory=/srv/data
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
Environment='GREETING=hello world'
Environment=EMPTY=
Environment='QUOTE=it'\"'\"'s \"quoted\"'
Parameters=/usr/bin/show 'it'\"'\"'s' 'a b' '\"q\"' ''
from-dir.nspawn: same
docker.nspawn: same
da.nspawn: same
from-dir: same tree
docker: same tree
da: same tree
new
etc/gone: gone
i
== oci-test
{0}== from-dir
{0}== docker
{0}== da
{0}x y
rc=0
",
        show("")
    );
    let got = in_private_var_lib(&t, &script);
    let config = got.split("(sha256:").nth(1).map(|s| s.chars().take(64).collect::<String>()).unwrap_or_default();
    assert_eq!(config.len(), 64, "{got}");
    assert_eq!(got, want.replace("CONFIG", &config));
    assert!(processes_with_cmdline("podman").is_empty(), "podman processes were left");
    assert_eq!(engine_before, engine_state(), "podman changed files outside the test's temp dir");
}

// ------------------------------------------------------------------ hostile images ----

/// An archive member: name, ustar type flag, data, link target.
struct Member {
    name: String,
    kind: u8,
    mode: u32,
    data: Vec<u8>,
    link: String,
}

fn file(name: &str, data: &[u8]) -> Member {
    Member { name: name.into(), kind: b'0', mode: 0o644, data: data.to_vec(), link: String::new() }
}

fn program(name: &str, data: &[u8]) -> Member {
    Member { mode: 0o755, ..file(name, data) }
}

fn dir(name: &str) -> Member {
    Member { name: name.into(), kind: b'5', mode: 0o755, data: Vec::new(), link: String::new() }
}

fn symlink(name: &str, target: &str) -> Member {
    Member { name: name.into(), kind: b'2', mode: 0o777, data: Vec::new(), link: target.into() }
}

/// A ustar archive of `members`.
fn tar(members: &[Member]) -> Vec<u8> {
    fn field(h: &mut [u8; 512], at: usize, s: &[u8]) {
        h[at..at + s.len()].copy_from_slice(s);
    }
    let mut out = Vec::new();
    for m in members {
        let mut h = [0u8; 512];
        field(&mut h, 0, m.name.as_bytes());
        field(&mut h, 100, format!("{:07o}\0", m.mode).as_bytes());
        field(&mut h, 108, b"0000000\0");
        field(&mut h, 116, b"0000000\0");
        field(&mut h, 124, format!("{:011o}\0", m.data.len()).as_bytes());
        field(&mut h, 136, b"14000000000\0");
        h[156] = m.kind;
        field(&mut h, 157, m.link.as_bytes());
        field(&mut h, 257, b"ustar\x0000");
        field(&mut h, 148, b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        field(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// The sha256 of `bytes` in hex, by coreutils' `sha256sum` (not the code under test).
fn hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut c = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    c.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// Writes an OCI layout with `layers` to `dir` (config: `/bin/sh`).
fn layout(dir: &Path, layers: &[Vec<u8>]) {
    layout_with(dir, r#"{"os":"linux","config":{"Cmd":["/bin/sh"]}}"#, layers)
}

/// Writes an OCI layout with image configuration `config` and `layers` to `dir`.
fn layout_with(dir: &Path, config: &str, layers: &[Vec<u8>]) {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let h = hex(bytes);
        fs::write(blobs.join(&h), bytes).unwrap();
        (h, bytes.len())
    };
    let (ch, cs) = put(config.as_bytes());
    let layers: Vec<String> = layers
        .iter()
        .map(|l| {
            let (h, s) = put(l);
            format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{h}","size":{s}}}"#)
        })
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{ch}","size":{cs}}},"layers":[{}]}}"#,
        layers.join(",")
    );
    let (mh, ms) = put(manifest.as_bytes());
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{mh}","size":{ms}}}]}}"#
    );
    fs::write(dir.join("index.json"), index).unwrap();
}

#[test]
fn hostile_images_change_nothing_outside() {
    let t = Test::new("oci-hostile");
    let w = &t.dir;
    let outside = t.host_dir("outside");
    let out = outside.to_str().unwrap();
    let base = tar(&[dir("usr/"), file("usr/a", b"aaa")]);
    let base_hex = hex(&base);
    let blob = |name: &str| w.join(name).join("blobs/sha256").join(&base_hex);

    // A layer whose blob holds other bytes (of the same size) than its digest says; one byte
    // more than the manifest says; a block less.
    layout(&w.join("swapped"), std::slice::from_ref(&base));
    let other = tar(&[dir("usr/"), file("usr/b", b"bbb")]);
    assert_eq!(other.len(), base.len());
    fs::write(blob("swapped"), &other).unwrap();
    layout(&w.join("longer"), std::slice::from_ref(&base));
    fs::write(blob("longer"), [&base[..], &[0]].concat()).unwrap();
    layout(&w.join("shorter"), std::slice::from_ref(&base));
    fs::write(blob("shorter"), &base[..base.len() - 512]).unwrap();

    // A digest that is a path.
    layout(&w.join("dotdot-digest"), std::slice::from_ref(&base));
    let index = fs::read_to_string(w.join("dotdot-digest/index.json")).unwrap();
    let at = index.find("sha256:").unwrap();
    let evil = format!("{}sha256:../../../../../etc/passwd{}", &index[..at], &index[at + 71..]);
    fs::write(w.join("dotdot-digest/index.json"), evil).unwrap();

    // A blob that is a symlink out of the layout directory.
    layout(&w.join("blob-symlink"), std::slice::from_ref(&base));
    fs::remove_file(blob("blob-symlink")).unwrap();
    std::os::unix::fs::symlink(outside.join("layer.tar"), blob("blob-symlink")).unwrap();
    fs::write(outside.join("layer.tar"), &base).unwrap();

    // A name with `..`; a symlink of one layer that the next one writes through (absolute,
    // and relative with more `..` than the tree is deep).
    layout(&w.join("dotdot-name"), &[base.clone(), tar(&[file("usr/../../escaped", b"x")])]);
    layout(&w.join("through-link"), &[tar(&[symlink("usr", out)]), tar(&[file("usr/pwned", b"x")])]);
    let up = format!("../../../../../../..{out}");
    layout(&w.join("through-up"), &[tar(&[symlink("up", &up)]), tar(&[file("up/pwned", b"x")])]);

    // docker save's manifest.json naming a layer out of the archive.
    let config = format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["sha256:{base_hex}"]}}}}"#);
    let config_name = format!("{}.json", hex(config.as_bytes()));
    let manifest = format!(r#"[{{"Config":"{config_name}","Layers":["../outside/layer.tar"]}}]"#);
    let docker = tar(&[file("manifest.json", manifest.as_bytes()), file(&config_name, config.as_bytes())]);
    fs::write(w.join("docker-dotdot.tar"), docker).unwrap();

    // An OCI archive whose layer blob is a symlink member out of the archive.
    layout(&w.join("arch"), std::slice::from_ref(&base));
    let mut members = vec![
        file("oci-layout", &fs::read(w.join("arch/oci-layout")).unwrap()),
        file("index.json", &fs::read(w.join("arch/index.json")).unwrap()),
    ];
    for e in fs::read_dir(w.join("arch/blobs/sha256")).unwrap().flatten() {
        let name = format!("blobs/sha256/{}", e.file_name().to_str().unwrap());
        members.push(if e.file_name().to_str() == Some(base_hex.as_str()) {
            symlink(&name, "../../../../etc/shadow")
        } else {
            file(&name, &fs::read(e.path()).unwrap())
        });
    }
    fs::write(w.join("arch-symlink.tar"), tar(&members)).unwrap();

    let script = format!(
        "{RUN}for s in swapped longer shorter dotdot-digest blob-symlink dotdot-name through-link through-up \
         docker-dotdot.tar arch-symlink.tar; do run import-oci $W/$s evil; done
ls -A /var/lib/machines $W/outside
"
    );
    let want = format!(
        "$ import-oci W/swapped evil
spawnctl: W/swapped: layer 1/1 (sha256:{base_hex}): digest mismatch: the manifest says sha256:{base_hex}, the blob is sha256:{other}
rc=1
$ import-oci W/longer evil
spawnctl: W/longer: layer 1/1 (sha256:{base_hex}): size mismatch: the manifest says {len} bytes, the blob is longer
rc=1
$ import-oci W/shorter evil
spawnctl: W/shorter: layer 1/1 (sha256:{base_hex}): size mismatch: the manifest says {len} bytes, the blob has {short}
rc=1
$ import-oci W/dotdot-digest evil
spawnctl: W/dotdot-digest: index.json: manifests[0].digest: invalid sha256 digest \"sha256:../../../../../etc/passwd\"
rc=1
$ import-oci W/blob-symlink evil
spawnctl: W/blob-symlink: open W/blob-symlink/blobs/sha256/{base_hex}: invalid cross-device link
rc=1
$ import-oci W/dotdot-name evil
spawnctl: W/dotdot-name: layer 2/2 (sha256:{dotdot}): entry \"usr/../../escaped\": name contains \"..\"
rc=1
$ import-oci W/through-link evil
spawnctl: W/through-link: layer 2/2 (sha256:{through}): entry \"usr/pwned\": \"usr\" is a symlink: not written through
rc=1
$ import-oci W/through-up evil
spawnctl: W/through-up: layer 2/2 (sha256:{up}): entry \"up/pwned\": \"up\" is a symlink: not written through
rc=1
$ import-oci W/docker-dotdot.tar evil
spawnctl: W/docker-dotdot.tar: manifest.json: [0].Layers[0]: not a plain relative path: \"../outside/layer.tar\"
rc=1
$ import-oci W/arch-symlink.tar evil
spawnctl: W/arch-symlink.tar: member \"blobs/sha256/{base_hex}\": a symlink out of the archive
rc=1
W/outside:
layer.tar

/var/lib/machines:
",
        other = hex(&other),
        len = base.len(),
        short = base.len() - 512,
        dotdot = hex(&tar(&[file("usr/../../escaped", b"x")])),
        through = hex(&tar(&[file("usr/pwned", b"x")])),
        up = hex(&tar(&[file("up/pwned", b"x")])),
    );
    let got = in_private_var_lib(&t, &script);
    assert_eq!(got, want);
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 1, "something was written outside");
}

#[test]
fn an_image_from_scratch_gets_mount_points_and_its_working_directory() {
    let t = Test::new("oci-scratch");
    let busybox = fs::read(t.rpath("/bin/busybox")).unwrap();
    let layer = tar(&[dir("bin/"), program("bin/busybox", &busybox), symlink("bin/sh", "busybox")]);
    let config = r#"{"os":"linux","config":{"Env":["A=1 2"],"WorkingDir":"/work/dir","Entrypoint":["/bin/sh","-c"],
        "Cmd":["echo \"A=$A\"; pwd; ls -d /proc /sys /dev /run /tmp /usr; mount | grep -c ' /proc '"]}}"#;
    layout_with(&t.path("scratch"), config, &[layer]);
    let script = format!(
        "{RUN}run import-oci $W/scratch
cd /var/lib/machines
stat -c '%n %a %U' scratch scratch/proc scratch/sys scratch/dev scratch/run scratch/tmp scratch/usr scratch/work scratch/work/dir
tail -n +2 scratch.nspawn
\"$SPAWNBOX\" -q -M scratch --console=pipe; echo rc=$?
"
    );
    let want = "$ import-oci W/scratch
spawnctl: imported image \"scratch\" (1 layers, 0 whiteouts), settings in /var/lib/machines/scratch.nspawn
rc=0
scratch 755 root
scratch/proc 555 root
scratch/sys 555 root
scratch/dev 755 root
scratch/run 755 root
scratch/tmp 1777 root
scratch/usr 755 root
scratch/work 755 root
scratch/work/dir 755 root
[Exec]
Boot=no
KillSignal=SIGTERM
WorkingDirectory=/work/dir
Environment='A=1 2'
Parameters=/bin/sh -c 'echo \"A=$A\"; pwd; ls -d /proc /sys /dev /run /tmp /usr; mount | grep -c '\"'\"' /proc '\"'\"''
A=1 2
/work/dir
/dev
/proc
/run
/sys
/tmp
/usr
1
rc=0
";
    assert_eq!(in_private_var_lib(&t, &script), want);
}

#[test]
fn an_interrupted_import_leaves_nothing() {
    let t = Test::new("oci-interrupt");
    // 64 MiB of zeros: an empty tar followed by padding, read and hashed to its end.
    let big = vec![0u8; 64 << 20];
    layout(&t.path("big"), &[big]);
    let script = "\"$SPAWNCTL\" import-oci $W/big 2>$W/err & pid=$!
n=0; until ls -A /var/lib/machines 2>/dev/null | grep -q '^\\.#big\\.'; do n=$((n+1)); [ $n -lt 400 ] || break; sleep 0.01; done
kill -INT $pid; wait $pid; echo rc=$?
cat $W/err
ls -A /var/lib/machines
";
    assert_eq!(in_private_var_lib(&t, script), "rc=1\nspawnctl: W/big: interrupted by SIGINT\n");
}
