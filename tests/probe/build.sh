#!/bin/sh
# Builds the seccomp probe (probe.rs, std only) as a static binary:
#   sh tests/probe/build.sh TRIPLE OUT
# TRIPLE is a rustc target that rustup has installed (x86_64-unknown-linux-musl,
# aarch64-unknown-linux-musl, armv7-unknown-linux-musleabihf, ...), or `native`: the host's
# musl target when it is installed, else the host's own (glibc, +crt-static: cc and libc.a).
# A target of another architecture than the host's is linked by rust-lld, which needs no C
# cross toolchain. RUSTC names the compiler (default rustc). Used by tests/seccomp.rs
# (SPAWNBOX_PROBE_TARGET) and by harnesses that need a probe for another architecture.
set -eu
usage="usage: build.sh TRIPLE|native OUT"
target=${1:?$usage}
out=${2:?$usage}
rustc=${RUSTC:-rustc}
host=$($rustc -vV | sed -n 's/^host: //p')
installed() { [ -d "$($rustc --print target-libdir --target "$1" 2>/dev/null)" ]; }
if [ "$target" = native ]; then
    musl=$(echo "$host" | sed 's/-gnu/-musl/')
    if installed "$musl"; then target=$musl; else target=$host; fi
fi
installed "$target" || { echo "build.sh: rustc target $target is not installed (rustup target add $target)" >&2; exit 1; }
set -- -O --edition 2021 --target "$target" -C panic=abort -C target-feature=+crt-static -C strip=symbols
if [ "${target%%-*}" != "${host%%-*}" ]; then
    set -- "$@" -C linker=rust-lld
fi
exec "$rustc" "$@" -o "$out" "$(dirname "$0")/probe.rs"
