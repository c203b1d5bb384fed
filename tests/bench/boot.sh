#!/usr/bin/env bash
# tests/bench/boot.sh W -- boot-to-ready of a real guest, called by tests/bench/run.sh inside
# its namespace wrapper (a cgroup namespace rooted at a throw-away cgroup, private /run).
#
# The guest is the Debian bookworm + systemd tree of tests/guests/mkguest.sh. Each launcher
# boots it with --notify-ready=yes and $NOTIFY_SOCKET pointing at a datagram socket of ours
# (socat UNIX-RECV): both spawnbox and systemd-nspawn send READY=1 there only once the guest's
# systemd said READY=1 on the container's own notify socket. Measured: the launcher's start to
# that READY=1 (boot), then SIGTERM to the guest's halt and the launcher's exit (stop).
# Rows: spawnbox, and systemd-nspawn --register=no --keep-unit when $NSPAWN_BIN is set.
#
# Writes $W/boot.tsv: ID  RUN  BOOT_MS  STOP_MS  STATUS   (one line per timed run)
# Env: BOOT_RUNS=5 (after one untimed warm-up boot per launcher), SPAWNBOX, NSPAWN_BIN.
set -euo pipefail
W=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BOOT_RUNS=${BOOT_RUNS:-5}
SPAWNBOX=${SPAWNBOX:-$REPO/build/spawnbox}
log() { printf '[bench] %s\n' "$*" >&2; }

now_ns() { date +%s%N; }

# one ID RUN TREE CMD... : a boot to READY=1 and a stop by SIGTERM; appends to boot.tsv.
one() {
    local id=$1 run=$2 tree=$3; shift 3
    local sock=$W/boot-notify.sock out=$W/boot-notify.out lpid spid t0 t1 t2 st=OK rc=0
    rm -f "$sock"; : > "$out"
    socat -u "UNIX-RECV:$sock" "OPEN:$out,append" &
    spid=$!
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.01; done
    t0=$(now_ns)
    NOTIFY_SOCKET=$sock "$@" </dev/null >"$W/boot-$id-$run.log" 2>&1 &
    lpid=$!
    t1=''
    for _ in $(seq 12000); do
        if grep -q 'READY=1' "$out"; then t1=$(now_ns); break; fi
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.01
    done
    [ -n "$t1" ] || { st="no READY=1"; t1=$(now_ns); }
    kill -TERM "$lpid" 2>/dev/null || true
    wait "$lpid" || rc=$?
    t2=$(now_ns)
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    [ "$rc" = 0 ] || [ "$st" != OK ] || st="exit $rc"
    [ "$run" = 0 ] || printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$run" \
        "$(( (t1 - t0) / 1000000 ))" "$(( (t2 - t1) / 1000000 ))" "$st" >> "$W/boot.tsv"
    [ "$st" = OK ] || { log "boot $id run $run: $st"; tail -n 5 "$W/boot-$id-$run.log" | sed 's/^/    /' >&2; }
}

: > "$W/boot.tsv"
command -v socat >/dev/null || { log "socat missing: boot-to-ready not measured"; exit 0; }
guest=$(bash "$REPO/tests/guests/mkguest.sh" systemd)
for id in spawnbox nspawn; do
    tree=$W/boot-tree-$id
    case $id in
        spawnbox) cmd=("$SPAWNBOX" -b -D "$tree" -M bench-boot --notify-ready=yes --console=read-only) ;;
        nspawn)
            [ -n "${NSPAWN_BIN:-}" ] && [ -x "$NSPAWN_BIN" ] || continue
            cmd=("$NSPAWN_BIN" --register=no --keep-unit -b -D "$tree" -M bench-boot --notify-ready=yes --console=read-only) ;;
    esac
    cp -a "$guest" "$tree"
    log "boot-to-ready: $id, 1 + $BOOT_RUNS boots of $guest"
    for run in $(seq 0 "$BOOT_RUNS"); do one "$id" "$run" "$tree" "${cmd[@]}"; done
    rm -rf "$tree"
done
