#!/usr/bin/env bash
# packaging/cross/musl-sysroot.sh DEBARCH - the C runtime for a target rustup ships no std for
# (armv7: Debian's armhf): musl-dev's crt objects and static libraries, and LLVM's libunwind.a
# (libunwind-14-dev, the unwinder Rust's own musl targets bundle), unpacked once into
# $CROSS_CACHE/musl-DEBARCH-MUSLVERSION-UNWINDVERSION; prints that directory. Release builds
# (panic=immediate-abort, no unwind tables) link nothing from libunwind.a; the unit tests
# (panic=unwind) do. Debian built it with _FORTIFY_SOURCE, so it calls glibc's __fprintf_chk
# on its fatal-error path: the test build maps that to abort() (Makefile, test-unit).
# The Makefile's cross build and cross tests read it (docs/EMBEDDED.md).
set -euo pipefail
arch=${1:?usage: musl-sysroot.sh DEBARCH}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${CROSS_CACHE:-/var/cache/spawnbox-vm}
mapfile -t debs < <(bash "$here/foreign-deb.sh" "$arch" musl-dev libunwind-14-dev)
[ "${#debs[@]}" = 2 ] || { echo "musl-sysroot: download failed" >&2; exit 1; }
key=$(dpkg-deb -f "${debs[0]}" Version)-$(dpkg-deb -f "${debs[1]}" Version)
out=$cache/musl-$arch-${key//:/_}
if [ ! -f "$out/.done" ]; then
    tmp=$(mktemp -d "$cache/.musl-$arch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    dpkg-deb -x "${debs[0]}" "$tmp/musl"
    dpkg-deb -x "${debs[1]}" "$tmp/unwind"
    lib=$(dirname "$(find "$tmp/musl" -name crt1.o | head -n1)")
    [ -f "$lib/libc.a" ] || { echo "musl-sysroot: no libc.a in ${debs[0]}" >&2; exit 1; }
    unwind=$(find "$tmp/unwind" -path '*/llvm-*/lib/libunwind.a' | head -n1)
    [ -n "$unwind" ] || { echo "musl-sysroot: no LLVM libunwind.a in ${debs[1]}" >&2; exit 1; }
    mkdir -p "$tmp/lib"
    cp "$lib"/crt1.o "$lib"/crti.o "$lib"/crtn.o "$lib"/*.a "$unwind" "$tmp/lib/"
    rm -rf "$out"
    mv "$tmp/lib" "$out"
    touch "$out/.done"
fi
printf '%s\n' "$out"
