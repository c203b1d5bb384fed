#!/usr/bin/env bash
# tests/guests/mkguest.sh NAME - print the path of a ready stock guest tree for the end-to-end
# boot tests (`spawnbox -b`), building it once and caching it outside the repo.
#
#   systemd   Debian bookworm minbase + systemd, systemd-sysv, dbus (debootstrap)
#   openrc    Debian bookworm minbase + sysvinit-core + openrc, a getty on /dev/console, the
#             spawnbox-marker service (tests/guests/openrc/)
#   busybox   tests/mkrootfs.sh's busybox-static tree + busybox init's /etc/inittab
#             (tests/guests/busybox/inittab)
#
# Root password of the Debian guests: "root". The tree is $CACHE/NAME-KEY, KEY a short sha256
# of this script and the files it uses for NAME (tests/guests/NAME/*, tests/mkrootfs.sh for
# busybox): a change to any of them builds a new tree. A build goes to a temp dir in $CACHE
# and is renamed into place when complete (a half-built tree is never used), under a flock so
# that concurrent callers build once. Tests must not write into the tree: they copy it.
#
# Environment: SPAWNBOX_GUEST_CACHE (default /var/cache/spawnbox-guests),
# SPAWNBOX_GUEST_MIRROR (default: the host's apt source for bookworm, from
# /etc/apt/sources.list.d/*.sources, *.list or /etc/apt/sources.list).
# Needs root, debootstrap and busybox-static (`make deps`). Timings and sizes go to stderr;
# stdout has the path only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SUITE=bookworm
CACHE=${SPAWNBOX_GUEST_CACHE:-/var/cache/spawnbox-guests}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf 'mkguest: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

name=${1:-}
case $name in
    systemd | openrc | busybox) ;;
    *) die "usage: mkguest.sh systemd|openrc|busybox" ;;
esac

# ---------------------------------------------------------------------------- cache key ----
# The files a tree is made from, this script first.
inputs() {
    printf '%s\n' "$HERE/mkguest.sh"
    if [ -d "$HERE/$name" ]; then find "$HERE/$name" -type f | LC_ALL=C sort; fi
    if [ "$name" = busybox ]; then
        printf '%s\n' "$REPO/tests/mkrootfs.sh"
        # The busybox binary itself (a busybox-static upgrade rebuilds the tree).
        if [ -f "${BUSYBOX:-/bin/busybox}" ]; then printf '%s\n' "${BUSYBOX:-/bin/busybox}"; fi
    fi
}
key=$(
    printf '%s %s\n' "$name" "$SUITE"
    while IFS= read -r f; do
        printf '%s %s\n' "${f#"$REPO"/}" "$(sha256sum <"$f" | cut -d' ' -f1)"
    done < <(inputs)
) || die "cannot read the inputs of $name"
key=$(sha256sum <<<"$key" | cut -c1-12)
final=$CACHE/$name-$key

# A tree only ever appears complete (rename), so its existence is enough.
if [ -d "$final" ]; then
    printf '%s\n' "$final"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "building the $name guest needs root (chroot, device nodes, ownership)"
mkdir -p "$CACHE"
chmod 0755 "$CACHE"
# One build at a time (the .deb cache below is shared); callers wait for the one in progress.
exec 9>"$CACHE/.lock"
flock -w 1800 9 || die "timed out waiting for $CACHE/.lock"
if [ -d "$final" ]; then
    printf '%s\n' "$final"
    exit 0
fi

# ------------------------------------------------------------------------------ helpers ----
# Mount points below $1, deepest first (mountinfo field 5; paths here have no spaces).
mounts_below() {
    awk -v p="$1/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | LC_ALL=C sort -r
}
# Remove a (temp) tree: first anything still mounted below it (debootstrap mounts /proc and
# /sys in the target while it configures packages; a killed build may leave them).
remove_tree() {
    local d=$1 m
    [ -e "$d" ] || return 0
    while IFS= read -r m; do umount -l "$m" 2>/dev/null || true; done < <(mounts_below "$d")
    if [ -n "$(mounts_below "$d")" ]; then
        log "NOT removing $d: still mounted below it: $(mounts_below "$d" | tr '\n' ' ')"
        return 1
    fi
    rm -rf --one-file-system "$d"
}

# Leftovers of builds that were killed (we hold the lock: nobody else is building).
for d in "$CACHE"/.*.tmp.*; do
    if [ -d "$d" ]; then
        log "removing the leftover of an interrupted build: $d"
        remove_tree "$d" || true
    elif [ -f "$d" ]; then
        rm -f "$d" # the log of a failed build
    fi
done

# The Debian mirror for $SUITE from the host's apt sources (deb822 first, then one-line).
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '
            function flush() {
                if (enabled != "no" && (" " types " ") ~ / deb / && (" " suites " ") ~ (" " suite " ") && uris != "") {
                    split(uris, u, " "); print u[1]; done = 1; exit
                }
                types = suites = uris = key = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { v = $0; sub(/^[ \t]+/, "", v)
                       if (key == "types") types = types " " v; else if (key == "suites") suites = suites " " v
                       else if (key == "uris") uris = uris " " v; next }
            {
                key = tolower($0); sub(/:.*/, "", key)
                v = $0; sub(/^[^:]*:[ \t]*/, "", v)
                if (key == "types") types = v; else if (key == "suites") suites = v
                else if (key == "uris") uris = v; else if (key == "enabled") enabled = tolower(v)
            }
            END { if (!done) flush() }' "$f" | head -n1
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }' "$f"
    done
}
mirror() {
    local m=${SPAWNBOX_GUEST_MIRROR:-}
    [ -n "$m" ] || m=$(host_mirror | head -n1)
    [ -n "$m" ] || die "no apt source for $SUITE in /etc/apt/sources.list{,.d/*.sources,.d/*.list} (set SPAWNBOX_GUEST_MIRROR)"
    case $m in http://* | https://*) ;; *) die "apt source $m for $SUITE is not http(s): set SPAWNBOX_GUEST_MIRROR" ;; esac
    printf '%s\n' "${m%/}"
}

# Run a step with its output in $LOGF, shown (tail) only when it fails.
LOGF=''
quiet() {
    # Not fd 9 (the lock) to anything that might outlive the build.
    if ! "$@" >>"$LOGF" 2>&1 9>&-; then
        tail -n 40 "$LOGF" | sed 's/^/    | /' >&2
        die "failed: $* (log: $LOGF)"
    fi
}

# debootstrap --variant=minbase ARGS... SUITE DIR MIRROR, with the .debs kept in the cache
# (a rebuild downloads only what changed) and the signature of the Release file checked.
debootstrap_min() {
    local dir=$1 mirror
    shift
    command -v debootstrap >/dev/null || die "debootstrap is missing (make deps)"
    [ -f "$KEYRING" ] || die "$KEYRING is missing (debian-archive-keyring)"
    mirror=$(mirror)
    mkdir -p "$CACHE/.debs"
    log "debootstrap --variant=minbase $* $SUITE (mirror $mirror)"
    quiet debootstrap --variant=minbase --keyring="$KEYRING" --cache-dir="$CACHE/.debs" "$@" "$SUITE" "$dir" "$mirror"
}

# Service starts blocked while packages are installed in the tree (policy-rc.d, exit 101).
apt_in_tree() {
    local dir=$1 rc=0
    shift
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 0755 "$dir/usr/sbin/policy-rc.d"
    DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get -q -y -o APT::Sandbox::User=root "$@" >>"$LOGF" 2>&1 9>&- || rc=$?
    rm -f "$dir/usr/sbin/policy-rc.d"
    if [ "$rc" != 0 ]; then
        tail -n 40 "$LOGF" | sed 's/^/    | /' >&2
        die "failed: apt-get $* in the tree (log: $LOGF)"
    fi
}

# What every Debian guest gets: root's password, a hostname, an empty machine-id (each boot
# makes one, from the container's UUID), and no package caches (tests copy the tree).
debian_common() {
    local dir=$1
    printf 'root:root\n' | chroot "$dir" chpasswd
    printf 'spawnbox-%s\n' "$name" >"$dir/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tspawnbox-%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$name" >"$dir/etc/hosts"
    : >"$dir/etc/machine-id"
    chmod 0444 "$dir/etc/machine-id"
    if [ -e "$dir/var/lib/dbus/machine-id" ] || [ -L "$dir/var/lib/dbus/machine-id" ]; then
        ln -sfn /etc/machine-id "$dir/var/lib/dbus/machine-id"
    fi
    # The host's resolv.conf, which debootstrap copied, is no part of the guest: an empty file
    # (spawnbox's --resolv-conf= fills it per run).
    rm -f "$dir/etc/resolv.conf"
    install -m 0644 /dev/null "$dir/etc/resolv.conf"
    # Smaller copies for the tests (~50 MB less): no package caches, logs of the build,
    # documentation or translations.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/*_* \
        "$dir"/var/cache/debconf/*-old "$dir"/var/lib/dpkg/*-old \
        "$dir"/var/log/apt/* "$dir"/var/log/dpkg.log "$dir"/var/log/alternatives.log "$dir"/var/log/bootstrap.log \
        "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/*
    find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
}

# -------------------------------------------------------------------------------- trees ----
build_systemd() {
    local dir=$1
    debootstrap_min "$dir" --include=systemd,systemd-sysv,dbus
    debian_common "$dir"
}

build_openrc() {
    local dir=$1
    # Not `--include=sysvinit-core,openrc`: debootstrap's resolver takes the first
    # alternative of sysvinit-core's (and initscripts') "sysv-rc | file-rc | openrc", and
    # sysv-rc conflicts with openrc. With openrc already in the tree, apt picks it.
    debootstrap_min "$dir" --include=openrc
    apt_in_tree "$dir" update
    apt_in_tree "$dir" install --no-install-recommends sysvinit-core
    local st
    # shellcheck disable=SC2016 # dpkg-query's own ${Field} syntax
    st=$(chroot "$dir" dpkg-query -W -f='${Package} ${Status}\n' systemd systemd-sysv 2>/dev/null || true)
    if grep -q ' installed$' <<<"$st"; then die "systemd got into the openrc tree: $st"; fi
    [ "$(chroot "$dir" dpkg-query -S /sbin/init | cut -d: -f1)" = sysvinit-core ] || die "/sbin/init is not sysvinit's"

    # A container has /dev/console only: a getty there, none on tty1..6 (Debian's inittab has
    # the same idea as a commented "Example for systemd-nspawn").
    sed -i -E 's|^([1-6]:[0-9]+:respawn:/sbin/getty .*tty[1-6])$|#\1|' "$dir/etc/inittab"
    printf '\n# spawnbox test guest: the container console\nco:2345:respawn:/sbin/agetty --noclear --keep-baud console 115200,38400,9600 vt220\n' \
        >>"$dir/etc/inittab"
    if ! grep -q '^co:2345:respawn:/sbin/agetty' "$dir/etc/inittab" || grep -Eq '^[1-6]:' "$dir/etc/inittab"; then
        die "inittab edit failed"
    fi

    # cgroup v2 only: service cgroups are /sys/fs/cgroup/SERVICE (rc-cgroup.sh).
    grep -q '^#rc_cgroup_mode=' "$dir/etc/rc.conf" || die "no #rc_cgroup_mode= line in /etc/rc.conf"
    sed -i 's|^#rc_cgroup_mode=.*|rc_cgroup_mode="unified"|' "$dir/etc/rc.conf"

    # Init scripts that would change the HOST's root file system: in a container on a
    # directory tree, / is a bind mount of the host's file system, and a remount without
    # MS_BIND reconfigures the shared superblock. checkroot.sh remounts / read-only (to fsck
    # it) and back; umountroot remounts / read-only at shutdown; umountfs falls back to
    # `umount -r` (remount read-only) for a busy mount and runs swapoff -a. Each is diverted
    # (dpkg-divert, original kept in /etc/spawnbox-guest/diverted/) and replaced by a no-op
    # with the same LSB header, so that the scripts that need them still resolve. The LXC
    # Debian template disables them likewise. (`rc-update del` is not enough: OpenRC starts
    # a service that another one needs, runlevel or not.)
    local s
    install -d -m 0755 "$dir/etc/spawnbox-guest/diverted"
    for s in checkroot.sh umountroot umountfs; do
        quiet chroot "$dir" dpkg-divert --local --rename --divert "/etc/spawnbox-guest/diverted/$s" --add "/etc/init.d/$s"
        {
            printf '#!/bin/sh\n'
            sed -n '/^### BEGIN INIT INFO/,/^### END INIT INFO/p' "$dir/etc/spawnbox-guest/diverted/$s"
            printf '# spawnbox test guest (tests/guests/mkguest.sh): a no-op in a container, where it would\n'
            printf '# remount the host'"'"'s file system. The original: /etc/spawnbox-guest/diverted/%s.\n' "$s"
            printf 'exit 0\n'
        } >"$dir/etc/init.d/$s"
        chmod 0755 "$dir/etc/init.d/$s"
        grep -q '^# Provides:' "$dir/etc/init.d/$s" || die "no LSB header in /etc/init.d/$s"
    done

    # checkroot.sh also made /etc/mtab a symlink at each boot (umountnfs.sh reads it).
    ln -sfn ../proc/self/mounts "$dir/etc/mtab"
    # halt -i (NETDOWN=yes) downs every interface it sees: the host's, in a container without
    # a network namespace of its own (only a missing CAP_NET_ADMIN stops it).
    grep -q '^NETDOWN=yes$' "$dir/etc/default/halt" || die "no NETDOWN=yes in /etc/default/halt"
    sed -i 's/^NETDOWN=yes$/NETDOWN=no/' "$dir/etc/default/halt"

    # The marker service (start/stop write /var/lib/spawnbox-marker; a sleep daemon in its
    # cgroup, pids.max 50 from rc_cgroup_settings).
    install -m 0755 "$HERE/openrc/spawnbox-marker" "$dir/etc/init.d/spawnbox-marker"
    # openrc-run reads ${RC_SERVICE%/*}/../conf.d/NAME; Debian ships no /etc/conf.d.
    install -d -m 0755 "$dir/etc/conf.d"
    install -m 0644 "$HERE/openrc/spawnbox-marker.conf" "$dir/etc/conf.d/spawnbox-marker"
    chroot "$dir" rc-update add spawnbox-marker default >>"$LOGF" 2>&1
    debian_common "$dir"
}

build_busybox() {
    local dir=$1 a
    BUSYBOX=${BUSYBOX:-/bin/busybox} quiet bash "$REPO/tests/mkrootfs.sh" "$dir"
    # mkrootfs.sh links every applet in /bin and only init in /sbin; the inittab names
    # /sbin/getty and /sbin/reboot, where busybox's own install puts them.
    for a in getty reboot poweroff halt; do ln -sfn ../bin/busybox "$dir/sbin/$a"; done
    install -m 0644 "$HERE/busybox/inittab" "$dir/etc/inittab"
    printf 'spawnbox-%s\n' "$name" >"$dir/etc/hostname"
    # The shutdown action writes /var/lib/spawnbox-marker.
    install -d -m 0755 "$dir/var/lib"
}

# -------------------------------------------------------------------------------- build ----
t0=$(date +%s)
tmp=$(mktemp -d "$CACHE/.$name-$key.tmp.XXXXXX")
LOGF=$tmp.log
: >"$LOGF"
trap 'remove_tree "$tmp" || true' EXIT
trap 'exit 130' INT TERM
log "building $name into $tmp"
"build_$name" "$tmp"

# The tree's root as any OS tree's: root-owned, 0755; nothing world-writable but sticky dirs
# and symlinks.
chown 0:0 "$tmp"
chmod 0755 "$tmp"
bad=$(find "$tmp" -xdev -perm -0002 ! -type l ! \( -type d -perm -1000 \) ! -type c -print | head -n 5)
[ -z "$bad" ] || die "world-writable files in the $name tree: $bad"
sync -f "$tmp"
mv -T "$tmp" "$final"
trap - EXIT
rm -f "$LOGF"
log "$name: built in $(($(date +%s) - t0)) s, $(du -sh "$final" | cut -f1) ($final)"
printf '%s\n' "$final"
