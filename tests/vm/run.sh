#!/usr/bin/env bash
# tests/vm/run.sh - the VM tests (`make test-vm`): boot a stock Debian kernel under qemu
# (TCG, no KVM) with an initramfs whose /init is spawnbox-init, once per case in
# tests/vm/cases/, and check the console. See tests/vm/lib.sh for the case format.
#
# Usage: [VM_ARCH=aarch64] tests/vm/run.sh [CASE...]
#   CASE: names or directories; default every case whose arches file lists VM_ARCH
#   (x86_64 when it has none). VM_ARCH=aarch64 boots Debian's arm64 kernel under
#   qemu-system-aarch64 with build/aarch64/spawnbox-init (make build ARCH=aarch64).
# Needs root the first time (installs the qemu-system package and busybox-static, downloads
# the kernel .deb into /var/cache/spawnbox-vm). Ends with "N passed, M failed" (and ", K
# skipped" when a case was skipped).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export REPO
# shellcheck source=lib.sh
. "$HERE/lib.sh"
vm_select_arch
if [ "$VM_ARCH" = x86_64 ]; then
    VM_INIT=${VM_INIT:-${SPAWNBOX_INIT:-$VM_BUILD/spawnbox-init}}
else
    VM_INIT=${VM_INIT:-$VM_BUILD/spawnbox-init}
fi

[ "$(id -u)" = 0 ] || vm_die "run as root (qemu install, mknod in the initramfs)"
[ -x "$VM_INIT" ] || vm_die "$VM_INIT not found: run '$VM_MAKE_BUILD' (or set VM_INIT)"
vm_check_elf "$VM_INIT" spawnbox-init
for t in timeout gzip xz dpkg-deb apt-get od; do
    command -v "$t" >/dev/null 2>&1 || vm_die "$t is missing"
done

cases=()
if [ $# -gt 0 ]; then
    for c in "$@"; do
        if [ -d "$c" ]; then cases+=("${c%/}"); else cases+=("$HERE/cases/$c"); fi
    done
else
    for c in "$HERE"/cases/*/; do cases+=("${c%/}"); done
fi

t_start=$(date +%s)
mkdir -p "$VM_CACHE"
# One harness at a time sets up the cache (several engineers share the machine).
exec 9>"$VM_CACHE/.lock"
flock -w 900 9 || vm_die "cannot lock $VM_CACHE/.lock"
vm_apt_setup
vm_ensure_qemu
vm_ensure_busybox
vm_ensure_kernel
flock -u 9
vm_log "$VM_ARCH: kernel $KVER (${KERNEL_IMAGE##*/}), init $VM_INIT ($(stat -c %s "$VM_INIT") bytes)"

WORK=$(mktemp -d /tmp/spawnbox-vm.XXXXXX)
if [ "$VM_KEEP" = 1 ]; then
    vm_log "keeping $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

passed=0 failed=0 skipped=0
# count STATUS: a finished case's status into the totals.
count() {
    case $1 in
        0) passed=$((passed + 1)) ;;
        "$VM_SKIP_STATUS") skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
    esac
}
# With VM_JOBS > 1, up to VM_JOBS cases boot at once; each one's report (stdout and stderr)
# is collected in a file and shown when it ends.
declare -A running=()
reap() {
    local pid st=0
    wait -n -p pid "${!running[@]}" || st=$?
    cat "$WORK/${running[$pid]}.report"
    count "$st"
    unset "running[$pid]"
}
for c in "${cases[@]}"; do
    if [ ! -d "$c" ]; then
        vm_log "no such case: $c"
        failed=$((failed + 1))
        continue
    fi
    arches=" $(vm_case_arches "$c") "
    if [[ $arches != *" $VM_ARCH "* ]]; then
        # Named on the command line: say why it does not run; in the full set: not ours.
        [ $# -eq 0 ] || { echo "SKIP ${c##*/}: runs on$arches only"; skipped=$((skipped + 1)); }
        continue
    fi
    if [ "$VM_JOBS" -le 1 ]; then
        st=0
        vm_run_case "$c" "$WORK" || st=$?
        count "$st"
        continue
    fi
    while [ "${#running[@]}" -ge "$VM_JOBS" ]; do reap; done
    vm_run_case "$c" "$WORK" >"$WORK/${c##*/}.report" 2>&1 &
    running[$!]=${c##*/}
done
while [ "${#running[@]}" -gt 0 ]; do reap; done
vm_log "$VM_ARCH: done in $(($(date +%s) - t_start))s"
summary="vm: $passed passed, $failed failed"
[ "$skipped" = 0 ] || summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" = 0 ]
