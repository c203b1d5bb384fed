#!/usr/bin/env bash
# tests/bench/oci.sh -- the OCI runtime (issue 19): spawnbox-runc against runc and crun.
#
# Two measurements, each in ONE hyperfine invocation (-N, no shell between hyperfine and the
# command below):
#   cycle   a create -> start -> wait -> delete cycle of /bin/true on a bundle (the busybox
#           image's rootfs, tests/engines/mkimage.sh; config.json from `runc spec`, args
#           /bin/true, no terminal, cgroupsPath below a cgroup of this run's own), driven by
#           cycle.sh (written below): `{ RT create --bundle B ID && RT start ID; } | cat` then
#           `RT delete ID`. The container inherits the pipe as its stdout (runc's pass-through
#           stdio, which conmon and the shim use too), so `cat` returns when the container's
#           process has closed its files: the wait needs no subreaper (a delete that comes
#           while the process still exits is repeated, see cycle.sh).
#   podman  `podman run --rm --network=none IMAGE /bin/true` with each runtime (podman's state
#           in the temp dir, as tests/common/engines.rs runs it).
# Rows run in the same invocation, so the ratios (× runc) are comparable; the absolute numbers
# drift with the machine.
#
# crun 1.8.1 refuses this host ("cgroups in hybrid mode not supported, drop all controllers
# from cgroupv2": the cgroup2 hierarchy at /sys/fs/cgroup/unified carries hugetlb). The
# mount-namespace wrapper of ../shared/reference/oci-runtime.md: crun runs in a mount namespace
# of its own where /sys/fs/cgroup/unified is unmounted (hide-unified.sh), so it sees a v1-only
# (legacy) host. For the cycle, the whole cycle runs in one such namespace (one wrapper per
# cycle); the row `wrapper` is that wrapper around /bin/true alone, its cost inside the crun
# row. podman calls its runtime itself, so there every crun call goes through the wrapper.
# Every runtime gets `--root` in the temp dir; podman passes none, so podman's runtimes are
# `sh` wrappers named like the runtime that add it (the same one exec for every runtime).
#
# spawnbox-runc (build/spawnbox-runc, or $SPAWNBOX_RUNC) gets its rows only if it exists and a
# smoke cycle and a smoke podman run pass; otherwise the report says "spawnbox-runc: not
# built" or "spawnbox-runc: failed (...)" and has no numbers for it.
#
# Run as root:  bash tests/bench/oci.sh       (make bench runs it: tests/bench/run.sh)
# Env knobs:    CYCLE_RUNS=100 PODMAN_RUNS=15 WARMUP=3 SPAWNBOX_RUNC=build/spawnbox-runc
#               KEEP=DIR (copy the hyperfine JSON there)
# Output: the report (markdown) on stdout, progress on stderr. Exit status 1 when runc's rows
# could not run (the harness is broken); a failing spawnbox-runc or crun is reported ("failed",
# in lower case: run.sh fails `make bench` on a "FAILED" row of its own, not on these), not fatal.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CYCLE_RUNS=${CYCLE_RUNS:-100} PODMAN_RUNS=${PODMAN_RUNS:-15} WARMUP=${WARMUP:-3}
SPAWNBOX_RUNC=${SPAWNBOX_RUNC:-$REPO/build/spawnbox-runc}
KEEP=${KEEP:-}
RUNC=/usr/sbin/runc CRUN=/usr/bin/crun PODMAN=/usr/bin/podman

log() { printf '[oci] %s\n' "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
for p in hyperfine jq unshare "$RUNC" "$PODMAN"; do command -v "$p" >/dev/null || die "$p missing (make deps; hyperfine and jq: tests/bench/run.sh installs them)"; done

# Paths the engines and runtimes write outside what they are told (tests/common/engines.rs's
# list); what did not exist before is removed at the end.
ARTIFACTS=(/var/lib/containers /etc/containers/networks /run/containers /run/libpod /run/runc /run/crun /run/spawnbox-runc)
declare -A EXISTED
for a in "${ARTIFACTS[@]}"; do [ -e "$a" ] && EXISTED[$a]=1; done
CGNAME=spawnbox-bench-oci-$$
W=$(mktemp -d /tmp/spawnbox-bench-oci.XXXXXX)
cgroup_roots() { awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts | sort -u; }
cp /proc/self/mountinfo "$W/mountinfo.before"
P() {
    "$PODMAN" --root="$W/podman/root" --runroot="$W/podman/run" --tmpdir="$W/podman/tmp" \
        --network-config-dir="$W/podman/net" --storage-driver=vfs --cgroup-manager=cgroupfs \
        --events-backend=file "$@"
}
cleanup() {
    local rc=$? a r
    if [ -d "$W/podman" ]; then P rm -a -f -t 0 >/dev/null 2>&1 || true; P rmi -a -f >/dev/null 2>&1 || true; fi
    for r in "$W"/state-*; do
        [ -d "$r" ] || continue
        for a in "$r"/*; do [ -e "$a" ] && log "WARNING: runtime state left: $a"; done
    done
    sleep 0.2
    for r in $(cgroup_roots); do
        [ -d "$r/$CGNAME" ] || continue
        find "$r/$CGNAME" -depth -type d -exec rmdir {} \; 2>/dev/null || log "WARNING: could not remove $r/$CGNAME"
    done
    for a in "${ARTIFACTS[@]}"; do [ -n "${EXISTED[$a]:-}" ] || rm -rf "$a"; done
    if grep -qF " $W" /proc/self/mountinfo; then log "WARNING: mounts left under $W"; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------ the bundle
IMG=$(bash "$REPO/tests/engines/mkimage.sh")
mkdir -p "$W/bundle" "$W/bin"
cp -a "$IMG/rootfs" "$W/bundle/rootfs"
"$RUNC" spec --bundle "$W/bundle"
jq --arg cg "/$CGNAME/cycle" '.process.args = ["/bin/true"] | .process.terminal = false | .linux.cgroupsPath = $cg' \
    "$W/bundle/config.json" > "$W/bundle/config.json.new"
mv "$W/bundle/config.json.new" "$W/bundle/config.json"

# cycle.sh STATE_ROOT RUNTIME: one create -> start -> wait -> delete cycle (see above).
# The pipe closes when the process has closed its files, which the kernel does before the
# task is a zombie (do_exit: exit_files, then the namespaces, then exit_notify); a `delete` in
# between finds the container still running (runc, crun and spawnbox-runc alike: a few cycles
# in a hundred under load). Such a delete is repeated until the container is stopped (at most
# 1000 times): the wait ends when the runtime can delete.
cat > "$W/cycle.sh" <<EOF
#!/bin/sh
root=\$1; shift
{ "\$@" --root "\$root" create --bundle $W/bundle c && "\$@" --root "\$root" start c || : > $W/failed; } | cat
n=0
until "\$@" --root "\$root" delete c 2>/dev/null; do
    n=\$((n + 1))
    [ \$n -lt 1000 ] || exec "\$@" --root "\$root" delete c
done
EOF
# hide-unified.sh CMD...: CMD in this (already private) mount namespace without the cgroup2 mount.
cat > "$W/hide-unified.sh" <<'EOF'
#!/bin/sh
if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then umount -l /sys/fs/cgroup/unified || exit 1; fi
exec "$@"
EOF
# The podman runtimes: sh wrappers named like the runtime, adding --root.
mkdir -p "$W/bin/runc" "$W/bin/crun" "$W/bin/spawnbox-runc"
printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$RUNC" "$W/state-podman-runc" > "$W/bin/runc/runc"
printf '#!/bin/sh\nexec unshare -m --propagation private /bin/sh %s %s --root %s "$@"\n' "$W/hide-unified.sh" "$CRUN" "$W/state-podman-crun" > "$W/bin/crun/crun"
printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$SPAWNBOX_RUNC" "$W/state-podman-spawnbox-runc" > "$W/bin/spawnbox-runc/spawnbox-runc"
chmod 755 "$W"/bin/*/*
mkdir -p "$W/state-runc" "$W/state-crun" "$W/state-spawnbox-runc"
U="unshare -m --propagation private /bin/sh $W/hide-unified.sh"

# ------------------------------------------------------------------------------ the rows
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
PODMAN_RUN="run --rm --network=none --cgroup-parent=/$CGNAME/podman --ulimit=nofile=$NOFILE:$NOFILE --ulimit=nproc=4096:4096"
declare -A CMD LABEL STATUS
CYCLE_IDS=() PODMAN_IDS=()
add() { # add GROUP ID LABEL COMMAND
    if [ "$1" = cycle ]; then CYCLE_IDS+=("$2"); else PODMAN_IDS+=("$2"); fi
    LABEL[$2]=$3 CMD[$2]=$4
}
add cycle runc "runc" "sh $W/cycle.sh $W/state-runc $RUNC"
add cycle crun "crun (in the mount-namespace wrapper)" "$U sh $W/cycle.sh $W/state-crun $CRUN"
add cycle wrapper "the crun wrapper alone (unshare -m + umount + exec /bin/true)" "$U /bin/true"
add cycle spawnbox-runc "spawnbox-runc" "sh $W/cycle.sh $W/state-spawnbox-runc $SPAWNBOX_RUNC"
podman_run() { # the podman row's command with runtime wrapper $1
    echo "$PODMAN --root=$W/podman/root --runroot=$W/podman/run --tmpdir=$W/podman/tmp --network-config-dir=$W/podman/net --storage-driver=vfs --cgroup-manager=cgroupfs --events-backend=file --runtime=$W/bin/$1/$1 $PODMAN_RUN localhost/spawnbox-busybox:latest /bin/true"
}
add podman podman-runc "podman run --rm, runc" "$(podman_run runc)"
add podman podman-crun "podman run --rm, crun (wrapper on every call)" "$(podman_run crun)"
add podman podman-spawnbox-runc "podman run --rm, spawnbox-runc" "$(podman_run spawnbox-runc)"

log "importing the image into podman (temp dir)"
P import -q "$IMG/rootfs.tar" localhost/spawnbox-busybox:latest >/dev/null

SB_NOTE=''
if [ ! -e "$SPAWNBOX_RUNC" ]; then
    SB_NOTE="spawnbox-runc: not built (${SPAWNBOX_RUNC#"$REPO"/} missing; make build)"
fi
smoke() { # smoke ID: one run; status OK, or "failed: ..." with the last line of its output
    local id=$1 rc=0
    rm -f "$W/failed"
    timeout 60 bash -c "exec ${CMD[$id]}" </dev/null >"$W/smoke-$id.log" 2>&1 || rc=$?
    if [ -e "$W/failed" ] && [ "$rc" = 0 ]; then rc=1; fi
    if [ "$rc" = 0 ]; then STATUS[$id]=OK; return 0; fi
    STATUS[$id]="failed: exit $rc: $(grep -av '^$' "$W/smoke-$id.log" | tail -n 1 | tr "|" "/" | cut -c1-200)"
    log "$id: ${STATUS[$id]}"
    return 1
}
for id in "${CYCLE_IDS[@]}" "${PODMAN_IDS[@]}"; do
    if [ "${id%spawnbox-runc}" != "$id" ] && [ -n "$SB_NOTE" ]; then STATUS[$id]="not built"; continue; fi
    smoke "$id" || true
done
if [ -z "$SB_NOTE" ] && { [ "${STATUS[spawnbox-runc]}" != OK ] || [ "${STATUS[podman-spawnbox-runc]}" != OK ]; }; then
    bad=spawnbox-runc; [ "${STATUS[spawnbox-runc]}" = OK ] && bad=podman-spawnbox-runc
    SB_NOTE="spawnbox-runc: failed (${bad}: ${STATUS[$bad]#failed: })"
fi
[ "${STATUS[runc]}" = OK ] && [ "${STATUS[podman-runc]}" = OK ] || die "runc's rows fail: the harness is broken (${STATUS[runc]}; ${STATUS[podman-runc]})"

bench() { # bench GROUP RUNS IDS...
    local group=$1 runs=$2 id args=(); shift 2
    for id in "$@"; do [ "${STATUS[$id]}" = OK ] && args+=(-n "$id" "${CMD[$id]}"); done
    log "hyperfine ($group): $(($# )) rows, warmup $WARMUP + $runs runs"
    hyperfine -N -i --style basic --time-unit millisecond --warmup "$WARMUP" --runs "$runs" \
        --export-json "$W/$group.json" "${args[@]}" >"$W/$group.txt" 2>&1 || { tail -n 20 "$W/$group.txt" >&2; die "hyperfine failed"; }
    jq -r '.results[] | [.command, .median*1000, .mean*1000, .stddev*1000, .min*1000, .max*1000, ([.exit_codes[] | select(. != 0)] | length)] | @tsv' \
        "$W/$group.json" >> "$W/results.tsv"
}
: > "$W/results.tsv"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
bench cycle "$CYCLE_RUNS" "${CYCLE_IDS[@]}"
[ -e "$W/failed" ] && log "WARNING: a timed cycle failed (create or start)"
bench podman "$PODMAN_RUNS" "${PODMAN_IDS[@]}"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------------------ report
declare -A MED MEAN SD MIN MAX NZ
while IFS=$'\t' read -r id a b c d e f; do MED[$id]=$a MEAN[$id]=$b SD[$id]=$c MIN[$id]=$d MAX[$id]=$e NZ[$id]=$f; done < "$W/results.tsv"
f2() { awk -v x="$1" 'BEGIN { printf (x >= 100 ? "%.0f" : "%.2f"), x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo n/a; }
cmdline="bash tests/bench/oci.sh"
[ -n "${MAKELEVEL:-}" ] && cmdline="make bench (tests/bench/oci.sh)"
k=''; for v in CYCLE_RUNS=100 PODMAN_RUNS=15 WARMUP=3; do n=${v%%=*}; [ "$n=${!n}" = "$v" ] || k="$k$n=${!n} "; done
table() { # table BASE IDS...
    local base=$1 id st; shift
    echo "| row | median ms | mean ± σ ms | min / max ms | × runc | status |"
    echo "|---|---|---|---|---|---|"
    for id in "$@"; do
        st=${STATUS[$id]:-not run}
        [ "${NZ[$id]:-0}" != 0 ] && st="failed: ${NZ[$id]} timed runs exited non-zero"
        if [ -n "${MED[$id]:-}" ]; then
            printf '| %s | %s | %s ± %s | %s / %s | %s | %s |\n' "${LABEL[$id]}" "$(f2 "${MED[$id]}")" "$(f2 "${MEAN[$id]}")" \
                "$(f2 "${SD[$id]}")" "$(f2 "${MIN[$id]}")" "$(f2 "${MAX[$id]}")" \
                "$([ -n "${MED[$base]:-}" ] && ratio "${MED[$id]}" "${MED[$base]}" || echo -)" "$st"
        else
            printf '| %s | - | - | - | - | %s |\n' "${LABEL[$id]}" "$st"
        fi
    done
}
{
    echo "**OCI runtime (issue 19).** \`tests/bench/oci.sh\`, $(date -u '+%Y-%m-%d %H:%M UTC'): \`$k$cmdline\` (hyperfine $(pkgver hyperfine), \`-N --warmup $WARMUP\`, $CYCLE_RUNS runs per cycle row, $PODMAN_RUNS per podman row; kernel $(uname -r), $(nproc) CPUs, load $LOAD_START → $LOAD_END). runc $(pkgver runc), crun $(pkgver crun), podman $(pkgver podman)."
    echo
    if [ -n "$SB_NOTE" ]; then echo "- **$SB_NOTE**: no numbers for it in this run."; echo; fi
    echo "Create → start → wait → delete of \`/bin/true\` on a bundle (busybox rootfs):"
    echo
    table runc "${CYCLE_IDS[@]}"
    echo
    if [ -n "${MED[crun]:-}" ] && [ -n "${MED[wrapper]:-}" ]; then
        echo "crun without its wrapper (its row minus the wrapper row): $(awk -v a="${MED[crun]}" -v b="${MED[wrapper]}" 'BEGIN {printf "%.2f", a - b}') ms, $(awk -v a="${MED[crun]}" -v b="${MED[wrapper]}" -v r="${MED[runc]}" 'BEGIN {printf "%.2f", (a - b) / r}') × runc."
        [ -n "${MED[spawnbox-runc]:-}" ] && echo "spawnbox-runc: $(awk -v a="${MED[spawnbox-runc]}" -v b="${MED[crun]}" -v w="${MED[wrapper]}" 'BEGIN {printf "%.2f", a / (b - w)}') × crun (wrapper subtracted); goal: below 1."
        echo
    fi
    echo "\`podman run --rm --network=none IMAGE /bin/true\` (podman's state in the temp dir, vfs):"
    echo
    table podman-runc "${PODMAN_IDS[@]}"
    echo
    echo "Commands (W: the run's temp dir; cycle.sh and hide-unified.sh are written there, see the script):"
    echo
    for id in "${CYCLE_IDS[@]}" "${PODMAN_IDS[@]}"; do printf -- '- %s: `%s`\n' "$id" "$(sed "s|$W|W|g; s|$REPO/||g" <<<"${CMD[$id]}")"; done
} > "$W/report.md"
cat "$W/report.md"
[ -z "$KEEP" ] || { mkdir -p "$KEEP"; cp "$W"/*.json "$W"/*.txt "$W"/report.md "$KEEP"/ 2>/dev/null || true; }
if ! diff -q <(awk '{print $5}' "$W/mountinfo.before" | sort) <(awk '{print $5}' /proc/self/mountinfo | sort) >/dev/null; then
    log "WARNING: the host mount table changed during the run"
fi
exit 0
