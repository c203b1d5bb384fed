#!/usr/bin/env bash
# packaging/initramfs/busybox-applets.sh BUSYBOX - print the applet names of a busybox
# binary, one a line, as `BUSYBOX --list` does, also for a busybox of another architecture
# (make initramfs ARCH=aarch64 on an x86_64 host, without qemu-user): such a binary is read,
# not run. busybox keeps its names in one string, applet_names[], NUL-separated and sorted
# ("[", "[[", "acpid", ...): the names from the first "[" on, while they stay sorted and look
# like names. Used by mkinitramfs.sh (and its list by tests/mkrootfs.sh, BUSYBOX_APPLETS).
set -euo pipefail
bb=${1:?usage: busybox-applets.sh BUSYBOX}
if list=$("$bb" --list 2>/dev/null) && [ -n "$list" ]; then printf '%s\n' "$list"; exit 0; fi
off=$(LC_ALL=C grep -obUaP '\x00\[\x00\[\[\x00' "$bb" | head -n1 | cut -d: -f1 || true)
[ -n "$off" ] || { echo "busybox-applets: no applet name table in $bb" >&2; exit 1; }
# awk stops reading early and the writers before it die of SIGPIPE (hence "|| true"); the
# checks below judge the result.
names=$(tail -c +"$((off + 2))" "$bb" | head -c 65536 | tr '\0' '\n' |
    LC_ALL=C awk '!/^[][a-z0-9_.-]+$/ || $0 <= prev { exit } { print; prev = $0 }') || true
n=$(grep -c . <<<"$names" || true)
if [ "$n" -lt 100 ] || ! grep -qx sh <<<"$names"; then
    echo "busybox-applets: cannot read the applet names of $bb ($n names)" >&2
    exit 1
fi
printf '%s\n' "$names"
