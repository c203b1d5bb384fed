#!/usr/bin/env bash
# tests/vm/run.sh - the VM tests (`make test-vm`): boot a stock Debian kernel under qemu
# (TCG, no KVM) with an initramfs whose /init is spawnbox-init, once per case in
# tests/vm/cases/, and check the console. See tests/vm/lib.sh for the case format.
#
# Usage: tests/vm/run.sh [CASE...]     (default: every case; names or directories)
# Needs root the first time (installs qemu-system-x86 and busybox-static, downloads the
# kernel .deb into /var/cache/spawnbox-vm). Ends with "N passed, M failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export REPO
VM_INIT=${VM_INIT:-${SPAWNBOX_INIT:-$REPO/build/spawnbox-init}}
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || vm_die "run as root (qemu install, mknod in the initramfs)"
[ -x "$VM_INIT" ] || vm_die "$VM_INIT not found: run 'make build' (or set VM_INIT)"
for t in timeout gzip xz dpkg-deb apt-get; do
    command -v "$t" >/dev/null 2>&1 || vm_die "$t is missing"
done

cases=()
if [ $# -gt 0 ]; then
    for c in "$@"; do
        if [ -d "$c" ]; then cases+=("$c"); else cases+=("$HERE/cases/$c"); fi
    done
else
    for c in "$HERE"/cases/*/; do cases+=("${c%/}"); done
fi

t_start=$(date +%s)
mkdir -p "$VM_CACHE"
# One harness at a time sets up the cache (several engineers share the machine).
exec 9>"$VM_CACHE/.lock"
flock -w 900 9 || vm_die "cannot lock $VM_CACHE/.lock"
vm_ensure_qemu
vm_ensure_busybox
vm_ensure_kernel
flock -u 9
vm_log "kernel $KVER (${KERNEL_IMAGE##*/}), init $VM_INIT ($(stat -c %s "$VM_INIT") bytes)"

WORK=$(mktemp -d /tmp/spawnbox-vm.XXXXXX)
if [ "$VM_KEEP" = 1 ]; then
    vm_log "keeping $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

passed=0 failed=0
for c in "${cases[@]}"; do
    if [ ! -d "$c" ]; then
        vm_log "no such case: $c"
        failed=$((failed + 1))
        continue
    fi
    if vm_run_case "$c" "$WORK"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
vm_log "done in $(($(date +%s) - t_start))s"
echo "vm: $passed passed, $failed failed"
[ "$failed" = 0 ]
