//! Root integration tests of spawnctl's image verbs (machinectl's `list-images`,
//! `image-status`, `show-image`, `read-only`, `rename`, `remove`) on real trees.
//!
//! Each test runs one script in a private mount namespace with a tmpfs on `/run`, so the
//! images in `/run/machines` and the files in `/run/systemd/nspawn` never reach the host.

use spawnbox_tests::{spawnbox_bin, unshared_script, Test};

/// Runs `script` with `$SPAWNCTL` (spawnctl) and `$TREE` (the test's busybox tree) in a
/// private mount namespace whose /run is a fresh tmpfs holding /run/machines; its stdout.
fn in_private_run(t: &Test, script: &str) -> String {
    let setup = "set -u\nmount -t tmpfs -o mode=0755 tmpfs /run\nmkdir -p /run/machines /run/systemd/nspawn\n";
    let ctl = t.spawnctl();
    let env = [("SPAWNCTL", ctl.as_os_str()), ("SPAWNBOX", spawnbox_bin().as_os_str()), ("TREE", t.root.as_os_str())];
    unshared_script(false, &format!("{setup}{script}"), &env)
}

/// `echo '$ ARGS'; spawnctl ARGS 2>&1; echo rc=$?`: a transcript line per command.
const RUN: &str = "run() { echo \"\\$ $*\"; \"$SPAWNCTL\" \"$@\" 2>&1; echo \"rc=$?\"; }\n";

#[test]
fn list_show_and_status() {
    let t = Test::new("ctl-list");
    let script = format!(
        "{RUN}cp -a \"$TREE\" /run/machines/web
touch -d '2026-01-02 03:04:05 UTC' /run/machines/web
truncate -s 1M /run/machines/disk.raw && dd if=/dev/zero of=/run/machines/disk.raw bs=4096 count=2 conv=notrunc 2>/dev/null
touch -d '2026-01-02 03:04:06 UTC' /run/machines/disk.raw
mkdir /run/machines/.hidden /run/machines/.#web.tmp
run list-images --no-legend | sed -E 's/[A-Z][a-z]{{2}} [0-9-]{{10}} [0-9:]{{8}} UTC //'
run list-images -a -o json | sed 's/\"created\":[0-9]*,//g'
run show-image web disk -p Name,Path,Type,ReadOnly,Usage,ModificationTimestamp
run show-image --value -p Path web
run image-status web | grep -v Created
run list-images extra
run show-image nope
"
    );
    let want = "\
$ list-images --no-legend
disk raw       no 8K  Fri 2026-01-02 03:04:06 UTC
web  directory no n/a Fri 2026-01-02 03:04:05 UTC
rc=0
$ list-images -a -o json
[{\"name\":\".hidden\",\"type\":\"directory\",\"ro\":false,\"usage\":null,\"modified\":MOD_HIDDEN},\
{\"name\":\"disk\",\"type\":\"raw\",\"ro\":false,\"usage\":8192,\"modified\":1767323046000000},\
{\"name\":\"web\",\"type\":\"directory\",\"ro\":false,\"usage\":null,\"modified\":1767323045000000}]
rc=0
$ show-image web disk -p Name,Path,Type,ReadOnly,Usage,ModificationTimestamp
Name=web
Path=/run/machines/web
Type=directory
ReadOnly=no
ModificationTimestamp=Fri 2026-01-02 03:04:05 UTC
Usage=[not set]

Name=disk
Path=/run/machines/disk.raw
Type=raw
ReadOnly=no
ModificationTimestamp=Fri 2026-01-02 03:04:06 UTC
Usage=8192
rc=0
$ show-image --value -p Path web
/run/machines/web
rc=0
$ image-status web
web
             Type: directory
             Path: /run/machines/web
               RO: writable
         Modified: Fri 2026-01-02 03:04:05 UTC
rc=0
$ list-images extra
spawnctl: list-images: too many arguments (usage: spawnctl list-images)
rc=1
$ show-image nope
spawnctl: no image \"nope\" known
rc=1
";
    let got = in_private_run(&t, &script);
    // .hidden was made just now: its time is not known in advance.
    let hidden = got.split("\"name\":\".hidden\"").nth(1).and_then(|s| s.split("\"modified\":").nth(1));
    let hidden: String = hidden.unwrap_or("").chars().take_while(char::is_ascii_digit).collect();
    assert!(!hidden.is_empty(), "{got}");
    assert_eq!(got, want.replace("MOD_HIDDEN", &hidden));
}

#[test]
fn read_only_rename_and_remove() {
    let t = Test::new("ctl-change");
    let script = format!(
        "{RUN}cp -a \"$TREE\" /run/machines/web
echo '[Exec]' > /run/machines/web.nspawn
echo '[Exec]' > /run/systemd/nspawn/web.nspawn
run read-only web
lsattr -d /run/machines/web | cut -c5
run list-images --no-legend -o json
run remove web
run rename web web2
run read-only web no
run rename web web2
ls /run/machines /run/systemd/nspawn
run rename web2 a/b
mkdir /run/machines/other
run rename web2 other
\"$SPAWNBOX\" -q -M web2 --console=pipe /bin/sleep 30 2>/dev/null &
n=0; until \"$SPAWNCTL\" image-status web2 | grep -q 'Used by'; do n=$((n+1)); [ $n -lt 200 ] || break; sleep 0.05; done
run remove web2 | sed 's/process [0-9]*/process PID/'
kill $!; wait
run remove web2 other
ls -A /run/machines /run/systemd/nspawn
"
    );
    let want = "\
$ read-only web
rc=0
i
$ list-images --no-legend -o json
[{\"name\":\"web\",\"type\":\"directory\",\"ro\":true,\"usage\":null,\"created\":CREATED,\"modified\":MODIFIED}]
rc=0
$ remove web
spawnctl: cannot remove image \"web\": it is read-only
hint: spawnctl read-only web no
rc=1
$ rename web web2
spawnctl: cannot rename image \"web\": it is read-only
hint: spawnctl read-only web no
rc=1
$ read-only web no
rc=0
$ rename web web2
rc=0
/run/machines:
web2
web2.nspawn

/run/systemd/nspawn:
web2.nspawn
$ rename web2 a/b
spawnctl: invalid image name \"a/b\"
rc=1
$ rename web2 other
spawnctl: image \"other\" already exists
rc=1
$ remove web2
spawnctl: cannot remove image \"web2\": machine running (process PID)
rc=1
$ remove web2 other
rc=0
/run/machines:

/run/systemd/nspawn:
";
    let got = in_private_run(&t, &script);
    let json = got.lines().find(|l| l.starts_with("[{")).unwrap_or("");
    let field = |k: &str| -> String {
        json.split(&format!("\"{k}\":")).nth(1).unwrap_or("").chars().take_while(char::is_ascii_digit).collect()
    };
    let want = want.replace("CREATED", &field("created")).replace("MODIFIED", &field("modified"));
    assert_eq!(got, want);
}

#[test]
fn clone_import_fs_and_export_fs_copy_everything() {
    let t = Test::new("ctl-clone");
    let script = format!(
        "{RUN}mount -t tmpfs -o mode=0755 tmpfs /var/lib
cp -a \"$TREE\" /run/machines/web
mknod /run/machines/web/dev/null-copy c 1 3; ln /run/machines/web/bin/busybox /run/machines/web/hardlink
echo '[Exec]' > /run/machines/web.nspawn; echo '[Files]' > /run/systemd/nspawn/web.nspawn
list() {{ (cd \"$1\" && find . -printf '%P %y %m %U %G %s %T@ %l %n\\n' | sort | sha256sum | cut -c1-16); }}
same() {{ [ \"$(list \"$1\")\" = \"$(list \"$2\")\" ] && echo \"same tree: $2\"; }}
run read-only web
run clone web copy --read-only
\"$SPAWNCTL\" list-images --no-legend | awk '{{print $1, $2, $3, $4}}'
ls /var/lib/machines /run/systemd/nspawn
cat /var/lib/machines/copy.nspawn /run/systemd/nspawn/copy.nspawn
same /run/machines/web /var/lib/machines/copy
run clone web copy
cp -a /run/machines/web /run/src
run import-fs /run/src
same /run/src /var/lib/machines/src
run import-fs /run/src
run import-fs --force /run/src
run import-fs --read-only /run/src named
run import-fs /run/nope other
run export-fs named /run/out
same /run/src /run/out
run export-fs named /run/out
\"$SPAWNCTL\" list-images --no-legend | awk '{{print $1, $2, $3, $4}}'
"
    );
    let want = "\
$ read-only web
rc=0
$ clone web copy --read-only
rc=0
copy directory yes n/a
web directory yes n/a
/run/systemd/nspawn:
copy.nspawn
web.nspawn

/var/lib/machines:
copy
copy.nspawn
[Exec]
[Files]
same tree: /var/lib/machines/copy
$ clone web copy
spawnctl: image \"copy\" already exists
hint: --force replaces it
rc=1
$ import-fs /run/src
rc=0
same tree: /var/lib/machines/src
$ import-fs /run/src
spawnctl: image \"src\" already exists
hint: --force replaces it
rc=1
$ import-fs --force /run/src
rc=0
$ import-fs --read-only /run/src named
rc=0
$ import-fs /run/nope other
spawnctl: open /run/nope: no such file or directory
rc=1
$ export-fs named /run/out
rc=0
same tree: /run/out
$ export-fs named /run/out
spawnctl: /run/out: already exists
rc=1
copy directory yes n/a
named directory yes n/a
src directory no n/a
web directory yes n/a
";
    assert_eq!(in_private_run(&t, &script), want);
}

#[test]
fn import_tar_and_export_tar_round_trip() {
    let t = Test::new("ctl-tar");
    let script = format!(
        "{RUN}mount -t tmpfs -o mode=0755 tmpfs /var/lib
# The source on tmpfs too: directory sizes differ between file systems.
cp -a \"$TREE\" /run/tree; TREE=/run/tree
mknod \"$TREE/dev/null-copy\" c 1 3; ln \"$TREE/bin/busybox\" \"$TREE/hardlink\"
tar -C \"$TREE\" --xattrs -cpf /run/web.tar .
list() {{ (cd \"$1\" && find . -printf '%P %y %m %U %G %s %T@ %l %n\\n' | sort | sha256sum | cut -c1-16); }}
same() {{ [ \"$(list \"$1\")\" = \"$(list \"$2\")\" ] && echo \"same tree: $2\"; }}
run import-tar /run/web.tar
same \"$TREE\" /var/lib/machines/web
run import-tar /run/web.tar
run import-tar --force --read-only /run/web.tar
\"$SPAWNCTL\" list-images --no-legend | awk '{{print $1, $2, $3}}'
run export-tar web /run/out.tar.gz
run export-tar web /run/out.tar.gz
run import-tar /run/out.tar.gz copy
same \"$TREE\" /var/lib/machines/copy
\"$SPAWNCTL\" export-tar web --format=xz > /run/out.tar.xz; echo rc=$?
xz -t /run/out.tar.xz && echo xz-ok
run import-tar - piped < /run/out.tar.xz
same \"$TREE\" /var/lib/machines/piped
run export-tar web /run/out.tar.zst
run export-tar web /run/x.tar --format=gzip
run import-tar -
run import-tar /run/nope.tar
ls -A /var/lib/machines
"
    );
    let want = "\
$ import-tar /run/web.tar
rc=0
same tree: /var/lib/machines/web
$ import-tar /run/web.tar
spawnctl: image \"web\" already exists
hint: --force replaces it
rc=1
$ import-tar --force --read-only /run/web.tar
rc=0
web directory yes
$ export-tar web /run/out.tar.gz
rc=0
$ export-tar web /run/out.tar.gz
spawnctl: create /run/out.tar.gz: file exists
rc=1
$ import-tar /run/out.tar.gz copy
rc=0
same tree: /var/lib/machines/copy
rc=0
xz-ok
$ import-tar - piped
rc=0
same tree: /var/lib/machines/piped
$ export-tar web /run/out.tar.zst
spawnctl: /run/out.tar.zst: zstd: not supported for export (it is read on import): write .tar and compress it with zstd(1), or use .tar.xz or .tar.gz
rc=1
$ export-tar web /run/x.tar --format=gzip
spawnctl: export-tar /run/x.tar: --format=gzip but the file name says uncompressed
rc=1
$ import-tar -
spawnctl: import-tar -: give the image's NAME
rc=1
$ import-tar /run/nope.tar
spawnctl: open /run/nope.tar: no such file or directory
rc=1
copy
piped
web
";
    assert_eq!(in_private_run(&t, &script), want);
}
