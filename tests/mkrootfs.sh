#!/usr/bin/env bash
# Builds a small busybox-static rootfs in DIR (used by `make demo`, the tests and the bench).
# Usage: tests/mkrootfs.sh DIR   (busybox from Debian's busybox-static package)
# BUSYBOX: another static busybox; BUSYBOX_APPLETS: a file with its applet names, for a
# busybox that cannot run here (another architecture's, for the VM tests).
set -euo pipefail
dir=${1:?usage: mkrootfs.sh DIR}
bb=${BUSYBOX:-/bin/busybox}
file -L "$bb" | grep -Eq 'statically linked|static-pie linked' || { echo "mkrootfs: $bb is not static (install busybox-static)" >&2; exit 1; }
if [ -x "$dir/bin/busybox" ] && [ -f "$dir/etc/os-release" ]; then exit 0; fi
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,var/tmp,home/alice}
chmod 1777 "$dir/tmp" "$dir/var/tmp"
cp "$bb" "$dir/bin/busybox"
if [ -n "${BUSYBOX_APPLETS:-}" ]; then applets=$(cat "$BUSYBOX_APPLETS"); else applets=$("$bb" --list); fi
for applet in $applets; do
    [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
ln -sf ../bin/busybox "$dir/sbin/init"
cat > "$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
alice:x:1000:1000:Alice:/home/alice:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$dir/etc/group" <<'G'
root:x:0:
wheel:x:10:alice
audio:x:29:alice
alice:x:1000:
nogroup:x:65534:
G
chown 1000:1000 "$dir/home/alice"
cat > "$dir/etc/os-release" <<'O'
NAME="spawnbox test rootfs"
ID=spawnbox-test
VERSION_ID=1
PRETTY_NAME="busybox test rootfs"
O
