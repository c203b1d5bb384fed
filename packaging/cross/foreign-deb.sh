#!/usr/bin/env bash
# packaging/cross/foreign-deb.sh ARCH PKG... - download Debian packages of a foreign
# architecture (arm64, armhf) without installing anything or touching /etc/apt: a private apt
# state (lists, cache, an empty dpkg status) under $CROSS_CACHE/apt-foreign/ARCH, the host's
# own sources. Prints the path of each .deb, one per line, in argument order. Packages are
# downloaded once (cached by package name and version); CROSS_REFRESH=1 re-reads the lists.
# Used by the cross builds (armv7's musl) and the VM harness (arm64 kernel and busybox).
set -euo pipefail
arch=${1:?usage: foreign-deb.sh ARCH PKG...}
shift
cache=${CROSS_CACHE:-/var/cache/spawnbox-vm}
d=$cache/apt-foreign/$arch
mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs"
[ -f "$d/status" ] || : >"$d/status"
apt_opts=(-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "Dir::State::Lists=$d/lists"
    -o "Dir::Cache=$d/cache" -o "Dir::State::status=$d/status" -o APT::Sandbox::User=root -o Debug::NoLocking=1)
# One writer at a time (the VM harness and a build may both ask).
exec 8>"$d/.lock"
flock -w 600 8 || { echo "foreign-deb: cannot lock $d/.lock" >&2; exit 1; }
if [ "${CROSS_REFRESH:-0}" = 1 ] || ! compgen -G "$d/lists/*_Packages*" >/dev/null; then
    apt-get "${apt_opts[@]}" update -qq >&2 || { echo "foreign-deb: apt-get update for $arch failed" >&2; exit 1; }
fi
for pkg in "$@"; do
    ver=$(apt-cache "${apt_opts[@]}" policy "$pkg" | sed -n 's/^ *Candidate: //p')
    [ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "foreign-deb: no $arch candidate for $pkg" >&2; exit 1; }
    f="$d/debs/${pkg}_${ver//:/%3a}_$arch.deb"
    if [ ! -f "$f" ]; then
        tmp=$(mktemp -d "$d/debs/.dl.XXXXXX")
        (cd "$tmp" && apt-get "${apt_opts[@]}" download -qq "$pkg=$ver" >&2) ||
            { rm -rf "$tmp"; echo "foreign-deb: download of $pkg=$ver ($arch) failed" >&2; exit 1; }
        mv "$tmp"/*.deb "$f"
        rmdir "$tmp"
    fi
    printf '%s\n' "$f"
done
