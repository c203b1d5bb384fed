#!/usr/bin/env bash
# tests/bench/run.sh -- `make bench`: start-up cost of spawnbox against its peers.
#
# Times `/bin/true` in a busybox-static rootfs with spawnbox, the unshare+chroot floor,
# bubblewrap and Debian's systemd-nspawn, all in ONE hyperfine invocation. It also measures
# binary sizes, peak RSS and the idle RSS of the launcher and stub-init, the cost of the
# security layer (issue 6: a with/without row pair, and the device program's bpf(2) calls
# timed with perf trace), checks the targets of issues 2, 3 and 18, and rewrites the generated
# part of docs/BENCHMARKS.md. The method is described in docs/BENCHMARKS.md. Boot-to-ready of a
# real systemd guest, spawnbox against systemd-nspawn, is tests/bench/boot.sh; the OCI runtime
# (spawnbox-runc against runc and crun, issue 19) is tests/bench/oci.sh.
#
# Run as root:  make bench        (or: bash tests/bench/run.sh)
# Env knobs:    RUNS=100 WARMUP=3 RSS_REPS=5 TRACE_REPS=20
#               SPAWNBOX=build/spawnbox SPAWNBOX_INIT=build/spawnbox-init
#               NSPAWN=auto|0     0: leave systemd-nspawn out (never installs it)
#               NO_INSTALL=1      never call apt-get
#               DOC=docs/BENCHMARKS.md   DOC= (empty) leaves the docs untouched
#               KEEP=DIR          copy the raw results (hyperfine JSON, logs) to DIR
#               CGROUP_IGNORE=process_api  cgroup paths the host itself churns (before/after check)
#
# Exit status: 0 when every row ran (a missed performance target is reported, not fatal);
# 1 when a row failed to run (e.g. build/spawnbox missing or failing its smoke run) or the
# harness itself failed.
#
# Adding a row is one line in define_rows below.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SELF=$HERE/run.sh

export RUNS=${RUNS:-100} WARMUP=${WARMUP:-3} RSS_REPS=${RSS_REPS:-5} TRACE_REPS=${TRACE_REPS:-20}
export SPAWNBOX=${SPAWNBOX:-$REPO/build/spawnbox}
export SPAWNBOX_INIT=${SPAWNBOX_INIT:-$REPO/build/spawnbox-init}
export NSPAWN=${NSPAWN:-auto} NO_INSTALL=${NO_INSTALL:-0}
DOC=${DOC-$REPO/docs/BENCHMARKS.md}
KEEP=${KEEP:-}
CGROUP_IGNORE=${CGROUP_IGNORE:-process_api}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# ------------------------------------------------------------------------------------ rows
# row ID NEEDS LABEL COMMAND
#   ID       short name (hyperfine -n, file names); "floor" is the reference for the ratios
#   NEEDS    a path that must exist, else the row is SKIPPED (optional peers); "-" = the row
#            must run, and a missing binary or a failed smoke run is a FAILED row
#   COMMAND  one string, split into words by hyperfine -N (no shell): no pipes, no env
#            assignments (use `env VAR=x cmd`, which adds one exec)
# Rows run in this order, inside the namespace wrapper (see docs/BENCHMARKS.md).
define_rows() {
    local R=$ROOT SB="$SPAWNBOX -D $ROOT -q --console=pipe" U="unshare --mount --uts --ipc --pid --fork"
    local BB; BB=$(command -v busybox || echo /bin/busybox)
    ROW_IDS=()
    row floor           -                  "floor: unshare -m -u -i -p -f + chroot"  "$U chroot $R /bin/true"
    row spawnbox        -                  "spawnbox"                                "$SB /bin/true"
    row bwrap           -                  "bwrap --unshare-all --share-net"         "bwrap --unshare-all --share-net --die-with-parent --bind $R / --proc /proc --dev /dev /bin/true"
    row nspawn          "${NSPAWN_BIN:-systemd-nspawn}" \
                                           "systemd-nspawn --console=pipe"           "${NSPAWN_BIN:-systemd-nspawn} --register=no --keep-unit -q --console=pipe -D $R /bin/true"
    row spawnbox-a      -                  "spawnbox -a (stub-init as PID 1)"        "$SB -a /bin/true"
    row floor-tini      "$R/sbin/tini-static" "floor + tini-static as PID 1"         "$U chroot $R /sbin/tini-static -- /bin/true"
    row floor-catatonit "$R/sbin/catatonit"   "floor + catatonit as PID 1"           "$U chroot $R /sbin/catatonit -- /bin/true"
    # Network rows: each run in a fresh network namespace of its own (never the host's
    # interfaces); spawnbox-netns is their baseline, the same container without networking.
    row spawnbox-netns  -                  "unshare --net + spawnbox (network baseline)"  "unshare --net $SB /bin/true"
    row spawnbox-pn     -                  "unshare --net + spawnbox --private-network"   "unshare --net $SB --private-network /bin/true"
    row spawnbox-veth   -                  "unshare --net + spawnbox -n (veth + addresses)" "unshare --net $SB -n /bin/true"
    row spawnbox-nat    -                  "unshare --net + spawnbox -n --network-nat=yes -p 8080:80" "unshare --net $SB -n --network-nat=yes -p 8080:80 /bin/true"
    # User namespaces (issue 6): the default container in one; -U picks a range (its lock lives
    # in the bench's runtime dir) and maps the tree through an idmapped mount.
    row spawnbox-userns -                  "spawnbox --private-users=identity"       "$SB --private-users=identity /bin/true"
    row spawnbox-U      -                  "spawnbox -U (pick + idmapped tree)"      "$SB -U /bin/true"
    # Ephemeral (issue 15): spawnbox stacks an overlayfs with a tmpfs upper layer on the tree
    # (nothing is copied); nspawn copies a tree that is no btrfs subvolume (this one is tiny).
    row spawnbox-x      -                  "spawnbox -x (overlay of the tree)"       "$SB -x /bin/true"
    row nspawn-x        "${NSPAWN_BIN:-systemd-nspawn}" \
                                           "systemd-nspawn -x --console=pipe (copy of the tree)" "${NSPAWN_BIN:-systemd-nspawn} --register=no --keep-unit -q --console=pipe -x -D $R /bin/true"
    # Security layer (issue 6): the same container with and without the seccomp filter and the
    # bounding-set drops. Both --keep-unit from the wrapper's root cgroup, so neither has a
    # cgroup, hence neither a device program (timed apart: sec_trace); both behind the host's
    # static busybox env, one exec each, to set SYSTEMD_SECCOMP. sec_state checks what each got.
    row sec-on          -                  "busybox env + spawnbox --keep-unit (issue 6: with seccomp + cap drops)" "$BB env SYSTEMD_SECCOMP=1 $SB --keep-unit /bin/true"
    row sec-off         -                  "busybox env + spawnbox --keep-unit, SYSTEMD_SECCOMP=0 --capability=all (issue 6: without)" "$BB env SYSTEMD_SECCOMP=0 $SB --keep-unit --capability=all /bin/true"
}
declare -A ROW_NEEDS ROW_LABEL ROW_CMD
row() {
    ROW_IDS+=("$1"); ROW_NEEDS[$1]=$2; ROW_LABEL[$1]=$3; ROW_CMD[$1]=$4
}

# ------------------------------------------------------------------------------------ helpers
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo n/a; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# size_kib FILE... -> "binary_KiB binary+libs_KiB" (libs: everything ldd resolves, deduplicated)
size_kib() {
    local b=0 l=0 f x libs
    for f in "$@"; do b=$((b + $(stat -L -c %s "$f"))); done
    libs=$(for f in "$@"; do ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'; done | sort -u)
    for x in $libs; do l=$((l + $(stat -L -c %s "$x"))); done
    echo "$(((b + 1023) / 1024)) $(((b + l + 1023) / 1024))"
}
linkage() {
    if file -L "$1" 2>/dev/null | grep -Eq 'statically linked|static-pie linked'; then echo static; else echo dynamic; fi
}

# cgroup directories of every cgroup mount of the host (minus what the host itself churns)
cgroup_listing() {
    awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts | sort -u | while read -r m; do
        find "$m" -xdev -type d 2>/dev/null
    done | grep -Ev -- "$CGROUP_IGNORE" | sort || true
}

# ------------------------------------------------------------------------------------ install
# apt_get update | apt_get install PKG...: output to $W/apt.log, shown only on failure
apt_get() {
    local rc=0 verb=$1; shift
    if [ "$verb" = update ]; then
        apt-get update >>"$W/apt.log" 2>&1 || rc=$?
    else
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$W/apt.log" 2>&1 || rc=$?
    fi
    [ $rc -eq 0 ] || { log "apt-get $verb $* failed ($rc):"; tail -n 15 "$W/apt.log" | sed 's/^/    /' >&2; }
    return $rc
}
# names of the user-space processes (kernel threads left out)
procs_now() { ps --ppid 2 -p 2 --deselect -o comm= | sort -u; }

ensure_packages() {
    local need=() p
    for p in hyperfine bubblewrap busybox-static util-linux time jq file socat debootstrap; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        [ "$NO_INSTALL" = 1 ] && die "missing packages (NO_INSTALL=1): ${need[*]}"
        log "installing: ${need[*]}"
        apt_get update && apt_get install "${need[@]}" || die "apt-get install ${need[*]} failed"
    fi
    # optional: static stub inits for the "floor + init" rows; perf for sec_trace
    need=()
    for p in tini catatonit; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
    command -v perf >/dev/null 2>&1 || need+=(linux-perf)
    if [ ${#need[@]} -gt 0 ] && [ "$NO_INSTALL" != 1 ]; then
        log "installing (optional): ${need[*]}"
        apt_get install "${need[@]}" || log "could not install ${need[*]}; their rows are skipped"
    fi
}

# systemd-nspawn comes from Debian's systemd-container. The host's PID 1 is not systemd, so
# installing it must neither replace the init nor start services: simulate first, refuse on
# any removal or init switch, block service starts with policy-rc.d (exit 101) while
# installing, and compare PID 1, /sbin/init and the process names afterwards.
NSPAWN_BIN=${NSPAWN_BIN:-} NSPAWN_NOTE=''
ensure_nspawn() {
    if [ "$NSPAWN" = 0 ]; then NSPAWN_NOTE="systemd-nspawn left out (NSPAWN=0)"; return; fi
    NSPAWN_BIN=$(command -v systemd-nspawn || true)
    [ -n "$NSPAWN_BIN" ] && return
    if [ "$NO_INSTALL" = 1 ]; then NSPAWN_NOTE="systemd-nspawn not installed (NO_INSTALL=1)"; return; fi
    local sim
    sim=$(LC_ALL=C apt-get install -s --no-install-recommends systemd-container 2>&1) \
        || { apt_get update; sim=$(LC_ALL=C apt-get install -s --no-install-recommends systemd-container 2>&1); } \
        || { NSPAWN_NOTE="systemd-nspawn skipped: apt cannot install systemd-container"; return; }
    if grep -q '^Remv ' <<<"$sim"; then
        NSPAWN_NOTE="systemd-nspawn skipped: installing systemd-container would remove $(awk '/^Remv /{printf "%s ", $2}' <<<"$sim")"
        return
    fi
    # a *new* install (no "[old version]") of an init package would change what /sbin/init is
    if grep -Eq '^Inst (systemd-sysv|sysvinit-core|runit-init|openrc|init) \(' <<<"$sim"; then
        NSPAWN_NOTE="systemd-nspawn skipped: installing systemd-container would install an init package"
        return
    fi
    local upgraded pid1 init procs policy=/usr/sbin/policy-rc.d backup='' rc=0
    upgraded=$(awk '/^Inst / && $3 ~ /^\[/ {printf "%s %s -> %s, ", $2, substr($3, 2, length($3) - 2), substr($4, 2)}' <<<"$sim")
    pid1=$(readlink /proc/1/exe || true); init=$(readlink -f /sbin/init || true)
    procs=$(procs_now)
    if [ -e "$policy" ]; then backup=$W/policy-rc.d.orig; cp -p "$policy" "$backup"; fi
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"
    log "installing systemd-container (service starts blocked by policy-rc.d)"
    apt_get install systemd-container || rc=$?
    if [ -n "$backup" ]; then cp -p "$backup" "$policy"; else rm -f "$policy"; fi
    if [ $rc -ne 0 ]; then NSPAWN_NOTE="systemd-nspawn skipped: apt-get install systemd-container failed ($rc)"; return; fi
    [ "$(readlink /proc/1/exe || true)" = "$pid1" ] || log "WARNING: PID 1's executable changed during the install"
    [ "$(readlink -f /sbin/init || true)" = "$init" ] || log "WARNING: /sbin/init changed during the install ($init -> $(readlink -f /sbin/init))"
    local new after
    after=$(procs_now)
    new=$(comm -13 <(echo "$procs") <(echo "$after") | tr '\n' ' ')
    [ -z "$new" ] || log "WARNING: processes running now that were not before the install (maybe unrelated): $new"
    NSPAWN_BIN=$(command -v systemd-nspawn || true)
    NSPAWN_NOTE="systemd-container installed by this run${upgraded:+; apt upgraded ${upgraded%, }}"
    log "$NSPAWN_NOTE"
}

# ------------------------------------------------------------------------------------ rootfs
build_rootfs() {
    local r=$1 a
    mkdir -p "$r"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,usr/bin,usr/sbin,var}
    cp "$(command -v busybox)" "$r/bin/busybox"
    for a in sh true cat ls mount hostname sleep; do ln -s busybox "$r/bin/$a"; done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
    echo 'root:x:0:' > "$r/etc/group"
    printf 'NAME="spawnbox bench"\nID=spawnbox-bench\nPRETTY_NAME="spawnbox bench rootfs (busybox-static)"\n' > "$r/etc/os-release"
    chmod 1777 "$r/tmp"
    for a in tini-static catatonit; do
        if command -v "$a" >/dev/null 2>&1 && [ "$(linkage "$(command -v "$a")")" = static ]; then
            cp "$(command -v "$a")" "$r/sbin/$a"
        fi
    done
}

# ------------------------------------------------------------------------------------ inner
# PID 1 of a fresh pid namespace, in private mount and cgroup namespaces whose cgroup root is
# the throw-away cgroup the outer part created. Results go to $W.
inner() {
    # Replace /sys/fs/cgroup (this mount namespace only) with a cgroup2 mount rooted, through the
    # cgroup namespace, at the throw-away cgroup: nothing run below can see or write the host's
    # hierarchies. nspawn's run-time state goes to a private tmpfs.
    mkdir -p "$W/cg2"
    mount -n -t cgroup2 cgroup2 "$W/cg2"
    umount -n -R /sys/fs/cgroup 2>/dev/null || true
    mount -n --move "$W/cg2" /sys/fs/cgroup
    if [ -d /run/systemd ]; then
        mount -n -t tmpfs -o mode=755,nosuid,nodev tmpfs /run/systemd
    else
        mount -n -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
    fi
    # spawnbox's runtime directory (its registry) on a tmpfs, as /run/spawnbox is on a real
    # host: on the temp dir's disk file system every start's lock file, entry and seccomp copy
    # go through the journal, and a close or unlink waited up to 10 ms behind other writers.
    mkdir -p "$SPAWNBOX_RUNTIME_DIR"
    mount -n -t tmpfs -o mode=700,nosuid,nodev tmpfs "$SPAWNBOX_RUNTIME_DIR"
    [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || die "could not set up the private cgroup2 mount"
    export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1     # only systemd-nspawn reads it

    define_rows
    local id cmd needs rc exe hf_args=() ok=()
    : > "$W/status.tsv"
    for id in "${ROW_IDS[@]}"; do
        cmd=${ROW_CMD[$id]} needs=${ROW_NEEDS[$id]} exe=${cmd%% *}
        if [ "$needs" != - ] && [ ! -e "$needs" ]; then
            printf '%s\tSKIPPED\tneeds %s\n' "$id" "$needs" >> "$W/status.tsv"; continue
        fi
        if [ "${exe#/}" != "$exe" ] && [ ! -x "$exe" ]; then
            printf '%s\tFAILED\t%s not found or not executable (run make build)\n' "$id" "$exe" >> "$W/status.tsv"
            log "FAILED $id: $exe not found or not executable"; continue
        fi
        # smoke run: exit status 0 once, before any timing
        rc=0; timeout 30 bash -c "exec $cmd" </dev/null >"$W/smoke-$id.log" 2>&1 || rc=$?
        if [ $rc -ne 0 ]; then
            printf '%s\tFAILED\tsmoke run exited %s: %s\n' "$id" "$rc" "$(tail -n 1 "$W/smoke-$id.log" | tr '\t' ' ' | cut -c1-160)" >> "$W/status.tsv"
            log "FAILED $id: smoke run exited $rc (see below)"; sed 's/^/    /' "$W/smoke-$id.log" | tail -n 5 >&2; continue
        fi
        printf '%s\tOK\t\n' "$id" >> "$W/status.tsv"
        ok+=("$id"); hf_args+=(-n "$id" "$cmd")
    done

    echo "$(date -u '+%Y-%m-%d %H:%M UTC')" > "$W/date"
    loadavg > "$W/load-start"
    if [ ${#ok[@]} -gt 0 ]; then
        log "hyperfine: ${#ok[@]} rows x (warmup $WARMUP + runs $RUNS)"
        # -i: a run with a non-zero exit does not abort the others; the report counts them.
        hyperfine -N -i --style basic --time-unit millisecond --warmup "$WARMUP" --runs "$RUNS" \
            --export-json "$W/hyperfine.json" "${hf_args[@]}" >"$W/hyperfine.txt" 2>&1 \
            || { log "hyperfine failed:"; tail -n 20 "$W/hyperfine.txt" >&2; }
        grep -E '^Benchmark|Time \(|Range' "$W/hyperfine.txt" | sed 's/^/    /' >&2 || true
    fi

    # peak RSS: GNU time %M (ru_maxrss of the reaped tree = its largest single process), max of RSS_REPS
    log "peak RSS (max of $RSS_REPS runs per row)"
    : > "$W/rss.tsv"
    local i v best words
    for id in "${ok[@]}"; do
        best=0
        for ((i = 0; i < RSS_REPS; i++)); do
            # GNU time execs the command itself: a shell in between would leave its own, larger
            # RSS in ru_maxrss (the kernel carries the high-water mark across execve)
            read -ra words <<<"${ROW_CMD[$id]}"
            if /usr/bin/time -f %M -o "$W/rss.tmp" "${words[@]}" </dev/null >/dev/null 2>&1; then
                v=$(tail -n 1 "$W/rss.tmp"); [ "$v" -gt "$best" ] && best=$v
            fi
        done
        printf '%s\t%s\n' "$id" "$best" >> "$W/rss.tsv"
    done

    # what %M reports for a tiny static program: GNU time's own RSS, inherited by its forked
    # child and kept across the exec. No row can report less than this.
    best=0
    for ((i = 0; i < RSS_REPS; i++)); do
        /usr/bin/time -f %M -o "$W/rss.tmp" "$ROOT/bin/true" && v=$(tail -n 1 "$W/rss.tmp") && [ "$v" -gt "$best" ] && best=$v
    done
    echo "$best" > "$W/rss-floor"
    idle_rss > "$W/idle.tsv" || true
    sec_state
    sec_trace
    # boot-to-ready of a real guest (issue 12): its own script, same wrapper
    SPAWNBOX=$SPAWNBOX NSPAWN_BIN=${NSPAWN_BIN:-} bash "$HERE/boot.sh" "$W" || log "boot-to-ready failed"
    # 100 -n starts at once against systemd-nspawn --network-veth (issue 18): its own script,
    # in a network namespace of its own
    SPAWNBOX=$SPAWNBOX NSPAWN=${NSPAWN_BIN:-0} bash "$HERE/concurrent.sh" >"$W/concurrent.txt" 2>"$W/concurrent.log" \
        || log "concurrent starts failed (see $W/concurrent.log)"
    loadavg > "$W/load-end"
}

# What the rows of the security comparison really got, from one extra run of each with
# /bin/cat /proc/self/status as the payload and the launcher's debug log: the payload's seccomp
# mode and bounding set, and whether a device program was attached.
# Writes $W/secstate.tsv: ID <tab> Seccomp <tab> CapBnd <tab> device program
sec_state() {
    local id out dev
    : > "$W/secstate.tsv"
    for id in spawnbox sec-on sec-off; do
        grep -q "^$id"$'\tOK' "$W/status.tsv" || continue
        out=$(SPAWNBOX_LOG=debug timeout 30 bash -c "exec ${ROW_CMD[$id]% /bin/true} /bin/cat /proc/self/status" </dev/null 2>&1) || continue
        case $out in
            *"device policy attached"*) dev=attached ;;
            *"no device policy"*) dev="none ($(sed -n 's/.*no device policy (\([^)]*\)).*/\1/p' <<<"$out" | head -n 1))" ;;
            *) dev='?' ;;
        esac
        printf '%s\t%s\t%s\t%s\n' "$id" "$(awk '/^Seccomp:/ {print $2}' <<<"$out")" \
            "$(awk '/^CapBnd:/ {print $2}' <<<"$out")" "$dev" >> "$W/secstate.tsv"
    done
}

# The security layer's own system calls in TRACE_REPS default starts (the spawnbox row), timed
# by the kernel's syscall tracepoints through `perf trace`: the device program (bpf PROG_LOAD and
# PROG_ATTACH, in the launcher), the filter install (seccomp), the bounding-set drops (prctl
# CAPBSET_DROP). Each duration includes the tracing overhead of one call, estimated by the mean
# duration of prctl(CAPBSET_READ), which only reads a bit (the launcher reads every capability).
# Writes $W/sectrace.tsv, one line per start:
#   load_ms attach_ms seccomp_ms drop_count drop_ms read_mean_ms
sec_trace() {
    : > "$W/sectrace.tsv"
    grep -q $'^spawnbox\tOK' "$W/status.tsv" || return 0
    if ! perf trace -e bpf -o /dev/null -- /bin/true >/dev/null 2>&1; then
        echo "perf trace does not work here (install linux-perf)" > "$W/sectrace.note"; return 0
    fi
    local i words
    read -ra words <<<"${ROW_CMD[spawnbox]}"
    for ((i = 0; i < TRACE_REPS; i++)); do
        perf trace -e bpf,seccomp,prctl -o "$W/trace.txt" -- "${words[@]}" </dev/null >/dev/null 2>&1 || continue
        awk 'match($0, /\( *[0-9.]+ ms\)/) { d = substr($0, RSTART + 1, RLENGTH - 5) + 0 }
             /bpf\(cmd: PROG_LOAD/ { load += d }  /bpf\(cmd: PROG_ATTACH/ { att += d }
             / seccomp\(/ { sc += d }  /CAPBSET_DROP/ { dn++; ds += d }  /CAPBSET_READ/ { rn++; rs += d }
             END { printf "%.4f\t%.4f\t%.4f\t%d\t%.4f\t%.4f\n", load, att, sc, dn, ds, rn ? rs / rn : 0 }' \
            "$W/trace.txt" >> "$W/sectrace.tsv"
    done
}

# Idle RSS: start `spawnbox [-a] ... /bin/sleep 3`, and after 1 s read VmRSS and VmHWM (the
# high-water mark of the process's own memory since its exec) of the launcher and, with -a, of
# stub-init: the descendant that is PID 1 of a nested pid namespace.
# Prints lines: KEY <tab> VmRSS_KiB <tab> VmHWM_KiB   (KEY: launcher, launcher-a, stub-init)
idle_rss() {
    [ -x "$SPAWNBOX" ] || return 0
    local key a sb p q todo nspid
    for key in launcher launcher-a; do
        a=(); [ "$key" = launcher-a ] && a=(-a)
        "$SPAWNBOX" -D "$ROOT" -q --console=pipe "${a[@]}" /bin/sleep 3 </dev/null >/dev/null 2>&1 &
        sb=$!
        sleep 1
        [ -r "/proc/$sb/status" ] && printf '%s\t%s\n' "$key" "$(mem_kib "$sb")"
        todo=$sb
        while [ "${#a[@]}" -gt 0 ] && [ -n "$todo" ]; do
            p=${todo%% *}; todo=${todo#"$p"}; todo=${todo# }
            for q in $(cat /proc/"$p"/task/*/children 2>/dev/null); do todo="${todo:+$todo }$q"; done
            nspid=$(awk '/^NSpid:/ {print NF - 1, $NF}' "/proc/$p/status" 2>/dev/null || true)
            if [ "$p" != "$sb" ] && [ "${nspid#* }" = 1 ] && [ "${nspid%% *}" -gt 1 ]; then
                printf 'stub-init\t%s\n' "$(mem_kib "$p")"; break
            fi
        done
        wait "$sb" || true
    done
}
mem_kib() { awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {printf "%s\t%s", r, h}' "/proc/$1/status"; }

# ------------------------------------------------------------------------------------ report
# Writes $W/report.md (the generated section of BENCHMARKS.md) and prints PASS/FAIL lines.
report() {
    define_rows
    local id st msg
    declare -A STATUS MSG MED MEAN SD MIN MAX NZ RSS
    while IFS=$'\t' read -r id st msg; do STATUS[$id]=$st; MSG[$id]=${msg//|//}; done < "$W/status.tsv"
    if [ -s "$W/hyperfine.json" ]; then
        while IFS=$'\t' read -r id a b c d e f; do
            MED[$id]=$a MEAN[$id]=$b SD[$id]=$c MIN[$id]=$d MAX[$id]=$e NZ[$id]=$f
        done < <(jq -r '.results[] | [.command, .median*1000, .mean*1000, .stddev*1000, .min*1000, .max*1000,
                                      ([.exit_codes[] | select(. != 0)] | length)] | @tsv' "$W/hyperfine.json")
    fi
    while IFS=$'\t' read -r id v; do RSS[$id]=$v; done < "$W/rss.tsv"
    for id in "${ROW_IDS[@]}"; do
        if [ "${STATUS[$id]:-}" = OK ] && [ -z "${MED[$id]:-}" ]; then STATUS[$id]=FAILED MSG[$id]="no timing (hyperfine failed)"; fi
        if [ "${NZ[$id]:-0}" != 0 ]; then STATUS[$id]=FAILED MSG[$id]="${NZ[$id]} of $RUNS timed runs exited non-zero"; fi
    done

    f2() { awk -v x="$1" 'BEGIN { printf (x >= 100 ? "%.0f" : "%.2f"), x }'; }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
    le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
    lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

    local floor=${MED[floor]:-} out=$W/report.md cmdline knobs='' k
    for k in RUNS WARMUP RSS_REPS TRACE_REPS NSPAWN NO_INSTALL; do
        case "$k=${!k}" in RUNS=100|WARMUP=3|RSS_REPS=5|TRACE_REPS=20|NSPAWN=auto|NO_INSTALL=0) ;; *) knobs="$knobs$k=${!k} " ;; esac
    done
    [ "$SPAWNBOX" = "$REPO/build/spawnbox" ] || knobs="${knobs}SPAWNBOX=$SPAWNBOX "
    [ "$SPAWNBOX_INIT" = "$REPO/build/spawnbox-init" ] || knobs="${knobs}SPAWNBOX_INIT=$SPAWNBOX_INIT "
    if [ -n "${MAKELEVEL:-}" ]; then cmdline="${knobs}make bench"; else cmdline="${knobs}bash tests/bench/run.sh"; fi
    local sbver sbrev
    sbver=$({ [ -x "$SPAWNBOX" ] && "$SPAWNBOX" --version 2>/dev/null | head -n 1; } || echo "n/a")
    sbrev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
    git -C "$REPO" diff --quiet HEAD -- 2>/dev/null || sbrev="$sbrev + uncommitted changes"

    {
        echo "Generated by \`tests/bench/run.sh\` on $(cat "$W/date"). Do not edit by hand: \`make bench\` replaces this section."
        echo
        echo "- Command: \`$cmdline\` (hyperfine $(pkgver hyperfine), \`-N --warmup $WARMUP --runs $RUNS\`, all rows in one invocation inside the namespace wrapper)"
        echo "- Machine: kernel $(uname -r), $(nproc) CPUs, load average (1/5/15 min) $(cat "$W/load-start") at start, $(cat "$W/load-end") at end"
        echo "- spawnbox: \`$sbver\`, git $sbrev; peers: util-linux $(pkgver util-linux), bubblewrap $(pkgver bubblewrap), systemd-container $(pkgver systemd-container), busybox-static $(pkgver busybox-static)"
        [ -z "$NSPAWN_NOTE" ] || echo "- Note: $NSPAWN_NOTE"
        echo
        echo "| row | median ms | mean ± σ ms | min / max ms | × floor | peak RSS KiB | status |"
        echo "|---|---|---|---|---|---|---|"
        for id in "${ROW_IDS[@]}"; do
            st=${STATUS[$id]:-SKIPPED}
            if [ -n "${MED[$id]:-}" ]; then
                printf '| %s | %s | %s ± %s | %s / %s | %s | %s | %s |\n' "${ROW_LABEL[$id]}" "$(f2 "${MED[$id]}")" \
                    "$(f2 "${MEAN[$id]}")" "$(f2 "${SD[$id]}")" "$(f2 "${MIN[$id]}")" "$(f2 "${MAX[$id]}")" \
                    "$([ -n "$floor" ] && ratio "${MED[$id]}" "$floor" || echo -)" "${RSS[$id]:--}" "$st${MSG[$id]:+: ${MSG[$id]}}"
            else
                printf '| %s | - | - | - | - | - | %s |\n' "${ROW_LABEL[$id]}" "$st${MSG[$id]:+: ${MSG[$id]}}"
            fi
        done
        echo
        echo "Commands (ROOT is the busybox rootfs in the run's temp dir):"
        echo
        for id in "${ROW_IDS[@]}"; do
            printf -- '- %s: `%s`\n' "$id" "$(sed "s|$ROOT|ROOT|g; s|$REPO/||g" <<<"${ROW_CMD[$id]}")"
        done
        echo
        security_report
        echo
        boot_report
        echo
        concurrent_report
        echo
        oci_report
    } > "$out"

    # ---- targets
    local t_rows=() res val
    target() { t_rows+=("$1"$'\t'"$2"$'\t'"$3"); printf '[bench] %-4s %s (%s)\n' "$3" "$1" "$2" >&2; }
    # ratio_target LABEL ROW OTHER BOUND [vs]: PASS when ROW's median over OTHER's is at most
    # BOUND; with `vs`, both medians follow the ratio.
    ratio_target() {
        local a=${MED[$2]:-} b=${MED[$3]:-} v detail res
        if [ -z "$a" ] || [ -z "$b" ]; then target "$1" "no measurement" FAIL; return; fi
        v=$(ratio "$a" "$b")
        detail="$v ×"
        [ "${5:-}" = vs ] && detail="$detail ($(f2 "$a") vs $(f2 "$b") ms)"
        le "$v" "$4" && res=PASS || res=FAIL
        target "$1" "$detail" "$res"
    }
    ratio_target "spawnbox ≤ 1.25 × floor" spawnbox floor 1.25
    if [ -n "${MED[spawnbox]:-}" ] && [ -n "${MED[bwrap]:-}" ]; then
        lt "${MED[spawnbox]}" "${MED[bwrap]}" && res=PASS || res=FAIL
        target "spawnbox faster than bwrap" "$(f2 "${MED[spawnbox]}") vs $(f2 "${MED[bwrap]}") ms" "$res"
    else
        target "spawnbox faster than bwrap" "no measurement" FAIL
    fi
    # issue 18: below the namespace floor, and at least 20 % faster than bwrap
    ratio_target "spawnbox ≤ 1.00 × floor (issue 18)" spawnbox floor 1.00
    ratio_target "spawnbox ≤ 0.80 × bwrap (issue 18: 20 % faster)" spawnbox bwrap 0.80 vs
    if [ -n "${MED[spawnbox-veth]:-}" ] && [ -n "${MED[spawnbox-netns]:-}" ]; then
        val=$(awk -v a="${MED[spawnbox-veth]}" -v b="${MED[spawnbox-netns]}" 'BEGIN { printf "%.2f", a - b }')
        le "$val" 1.5 && res=PASS || res=FAIL
        target "-n (veth + automatic addresses) adds ≤ 1.5 ms" "+$val ms ($(f2 "${MED[spawnbox-veth]}") vs $(f2 "${MED[spawnbox-netns]}") ms; --private-network alone: $(f2 "${MED[spawnbox-pn]:-0}") ms)" "$res"
    else
        target "-n (veth + automatic addresses) adds ≤ 1.5 ms" "no measurement" FAIL
    fi
    if [ -n "${MED[spawnbox-x]:-}" ] && [ -n "${MED[spawnbox]:-}" ]; then
        val=$(awk -v a="${MED[spawnbox-x]}" -v b="${MED[spawnbox]}" 'BEGIN { printf "%.2f", a - b }')
        le "$val" 1 && res=PASS || res=FAIL
        target "-x (ephemeral overlay) adds ≤ 1 ms" "$val ms ($(f2 "${MED[spawnbox-x]}") vs $(f2 "${MED[spawnbox]}") ms; systemd-nspawn -x: $(f2 "${MED[nspawn-x]:-0}") ms)" "$res"
    else
        target "-x (ephemeral overlay) adds ≤ 1 ms" "no measurement" FAIL
    fi
    local sz
    if [ -f "$SPAWNBOX" ]; then
        sz=$(stat -L -c %s "$SPAWNBOX")
        [ "$sz" -le $((600 * 1024)) ] && res=PASS || res=FAIL
        target "spawnbox binary ≤ 600 KiB" "$(awk -v s="$sz" 'BEGIN{printf "%.2f KiB (%d bytes)", s/1024, s}'), $(linkage "$SPAWNBOX")" "$res"
    else
        target "spawnbox binary ≤ 600 KiB" "no binary" FAIL
    fi
    if [ -n "${RSS[spawnbox]:-}" ] && [ "${RSS[spawnbox]}" != 0 ]; then
        [ "${RSS[spawnbox]}" -le 1536 ] && res=PASS || res=FAIL
        target "launcher peak RSS ≤ 1.5 MiB" "${RSS[spawnbox]} KiB by GNU time %M (its floor here: $(cat "$W/rss-floor" 2>/dev/null || echo '?') KiB); launcher VmHWM $(awk -F'\t' '$1 == "launcher" {print $3}' "$W/idle.tsv" 2>/dev/null || true) KiB" "$res"
    else
        target "launcher peak RSS ≤ 1.5 MiB" "no measurement" FAIL
    fi
    if [ -f "$SPAWNBOX_INIT" ]; then
        sz=$(stat -L -c %s "$SPAWNBOX_INIT")
        [ "$sz" -le $((48 * 1024)) ] && res=PASS || res=FAIL
        target "spawnbox-init binary ≤ 48 KiB" "$(awk -v s="$sz" 'BEGIN{printf "%.2f KiB (%d bytes)", s/1024, s}'), $(linkage "$SPAWNBOX_INIT")" "$res"
    else
        target "spawnbox-init binary ≤ 48 KiB" "no binary" FAIL
    fi
    local idle_init idle_launcher idle_launcher_a rss_floor
    idle() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k {print $c}' "$W/idle.tsv" 2>/dev/null || true; }
    idle_init=$(idle stub-init 2)
    idle_launcher=$(idle launcher 2) idle_launcher_a=$(idle launcher-a 2)
    rss_floor=$(cat "$W/rss-floor" 2>/dev/null || echo '?')
    if [ -n "$idle_init" ]; then
        [ "$idle_init" -le 256 ] && res=PASS || res=FAIL
        target "stub-init idle RSS ≤ 256 KiB" "$idle_init KiB" "$res"
    else
        target "stub-init idle RSS ≤ 256 KiB" "no measurement (spawnbox -a did not run)" FAIL
    fi

    {
        echo
        echo "| target | measured | result |"
        echo "|---|---|---|"
        local t
        for t in "${t_rows[@]}"; do IFS=$'\t' read -r a b c <<<"$t"; echo "| $a | $b | $c |"; done
        echo
        echo "Peak RSS is GNU time's \`%M\` (largest single process of the tree, max of $RSS_REPS runs). It cannot go below what it reports for the rootfs's static busybox \`true\`, $rss_floor KiB on this run: GNU time's own RSS, inherited by the forked child and kept across the exec."
        echo
        echo "| process, while \`spawnbox [-a] … /bin/sleep 3\` runs (sampled after 1 s) | VmRSS KiB | VmHWM KiB (peak since exec) |"
        echo "|---|---|---|"
        echo "| launcher (\`spawnbox\`) | ${idle_launcher:-n/a} | $(idle launcher 3) |"
        echo "| launcher (\`spawnbox -a\`) | ${idle_launcher_a:-n/a} | $(idle launcher-a 3) |"
        echo "| stub-init (PID 1, \`-a\`) | ${idle_init:-n/a} | $(idle stub-init 3) |"
        echo
        echo "| binary | KiB | with shared libs KiB | linkage |"
        echo "|---|---|---|---|"
        local name path
        for name in spawnbox spawnbox-init unshare+chroot bwrap systemd-nspawn tini-static catatonit; do
            case $name in
                spawnbox) path=$SPAWNBOX ;; spawnbox-init) path=$SPAWNBOX_INIT ;;
                unshare+chroot) path="$(command -v unshare) $(command -v chroot)" ;;
                systemd-nspawn) path=${NSPAWN_BIN:-} ;;
                *) path=$(command -v "$name" || true) ;;
            esac
            [ -n "$path" ] && [ -e "${path%% *}" ] || continue
            # shellcheck disable=SC2046,SC2086
            set -- $(size_kib $path)
            echo "| $name | $1 | $2 | $(linkage "${path%% *}") |"
        done
        echo
        echo "**Reading.** $(interpret)"
    } >> "$out"
}

# The security layer (issue 6): the sec-on/sec-off pair, the device program's bpf(2) calls from
# sec_trace, and what each row got (sec_state).
security_report() {
    local n=0 on=${MED[sec-on]:-} off=${MED[sec-off]:-} d='' dev='' whole=''
    [ -s "$W/sectrace.tsv" ] && n=$(wc -l < "$W/sectrace.tsv")
    colmed() { cut -f"$1" "$W/sectrace.tsv" | sort -n | awk '{a[NR] = $1} END {if (NR) printf "%.3f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
    echo "**Security layer (issue 6).** Start time with the default seccomp filter, capabilities and device policy against without them."
    echo
    echo "| part | with ms | without ms | cost | how |"
    echo "|---|---|---|---|---|"
    if [ -n "$on" ] && [ -n "$off" ]; then
        d=$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%+.2f", a - b}')
        echo "| seccomp filter + bounding-set drops | $(f2 "$on") | $(f2 "$off") | $d ms ($(ratio "$on" "$off") ×) | medians of rows sec-on and sec-off above (same hyperfine run; both without a cgroup, so without a device program) |"
    else
        echo "| seccomp filter + bounding-set drops | - | - | - | sec-on or sec-off did not run |"
    fi
    if [ "$n" -gt 0 ]; then
        dev=$(awk -v a="$(colmed 1)" -v b="$(colmed 2)" 'BEGIN {printf "%.2f", a + b}')
        echo "| device program: bpf(PROG_LOAD) + bpf(PROG_ATTACH) in the launcher | - | - | +$dev ms ($(colmed 1) + $(colmed 2)) | perf trace of the spawnbox row, median of $n starts; an upper bound: each call's duration includes about $(colmed 6) ms of tracing overhead |"
    else
        echo "| device program | - | - | - | not measured: $(cat "$W/sectrace.note" 2>/dev/null || echo "the spawnbox row did not run") |"
    fi
    if [ -n "$d" ] && [ -n "$dev" ] && [ -n "${MED[spawnbox]:-}" ]; then
        whole=$(awk -v a="$d" -v b="$dev" 'BEGIN {printf "%+.2f", a + b}')
        echo "| the whole layer (sum of the two) | - | - | $whole ms (upper bound) | $(awk -v w="$whole" -v s="${MED[spawnbox]}" 'BEGIN {printf "%.0f", 100 * w / s}') % of the spawnbox row's median ($(f2 "${MED[spawnbox]}") ms) |"
    fi
    echo
    if [ "$n" -gt 0 ]; then
        echo "In the same traced starts (medians, tracing overhead included): seccomp() $(colmed 3) ms; $(colmed 4 | cut -d. -f1) × prctl(CAPBSET_DROP) $(colmed 5) ms in all. The overhead is the mean duration of prctl(CAPBSET_READ), which only reads one bit."
        echo
    fi
    if [ -s "$W/secstate.tsv" ]; then
        echo "What the rows got in this run (payload's \`/proc/self/status\`, launcher's debug log):"
        echo
        echo "| row | Seccomp | CapBnd | device program |"
        echo "|---|---|---|---|"
        awk -F'\t' '{printf "| %s | %s | 0x%s | %s |\n", $1, $2, $3, $4}' "$W/secstate.tsv"
    fi
}

# The OCI runtime (tests/bench/oci.sh): its report as it printed it.
oci_report() {
    if [ ! -s "$W/oci.txt" ]; then
        echo "**OCI runtime (issue 19).** Not measured in this run: $(tail -n 1 "$W/oci.log" 2>/dev/null || echo 'tests/bench/oci.sh did not run')"
        return
    fi
    cat "$W/oci.txt"
}

# 100 starts at once (tests/bench/concurrent.sh): its table as it printed it.
concurrent_report() {
    echo "**100 starts at once (issue 18).** \`tests/bench/concurrent.sh\`: in a network namespace of its own, 100 \`-n\` containers of the busybox tree (\`--read-only --register=no --console=pipe\`, running /bin/true; a cgroup of its own for each) started at once, against \`systemd-nspawn --network-veth\` with the same options and \`--keep-unit\` (without systemd it cannot make a scope; nspawn leaves the veths without addresses, as networkd does not run here); the wall time of a round (first launch to last exit) and each container's time from launch to exit."
    echo
    if [ ! -s "$W/concurrent.txt" ]; then echo "Not measured in this run (see the log)."; return; fi
    echo '```'
    cat "$W/concurrent.txt"
    echo '```'
}

# Boot-to-ready of the systemd guest (tests/bench/boot.sh): medians of $W/boot.tsv per launcher.
boot_report() {
    local id n b s bad sb='' ns=''
    echo "**Boot to ready (issue 12).** A stock Debian 12 tree with systemd (\`tests/guests/mkguest.sh systemd\`) booted with \`-b --notify-ready=yes --console=read-only\`; the time from the launcher's start to the READY=1 it sends to \`\$NOTIFY_SOCKET\` (after the guest's systemd said READY=1 on the container's notify socket), then SIGTERM to the launcher's exit (the guest halts). One untimed boot first, then ${BOOT_RUNS:-5} timed ones per launcher."
    echo
    if [ ! -s "$W/boot.tsv" ]; then echo "Not measured in this run (see the log)."; return; fi
    echo "| launcher | boots | boot to READY=1, median ms | min–max ms | stop (SIGTERM → exit), median ms | failed runs |"
    echo "|---|---|---|---|---|---|"
    med() { sort -n | awk '{a[NR] = $1} END {if (NR) printf "%.0f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
    for id in spawnbox nspawn; do
        n=$(awk -F'\t' -v i="$id" '$1 == i && $5 == "OK"' "$W/boot.tsv" | wc -l)
        bad=$(awk -F'\t' -v i="$id" '$1 == i && $5 != "OK"' "$W/boot.tsv" | wc -l)
        [ "$n" -gt 0 ] || [ "$bad" -gt 0 ] || continue
        b=$(awk -F'\t' -v i="$id" '$1 == i && $5 == "OK" {print $3}' "$W/boot.tsv" | med)
        s=$(awk -F'\t' -v i="$id" '$1 == i && $5 == "OK" {print $4}' "$W/boot.tsv" | med)
        local lo hi
        lo=$(awk -F'\t' -v i="$id" '$1 == i && $5 == "OK" {print $3}' "$W/boot.tsv" | sort -n | head -n 1)
        hi=$(awk -F'\t' -v i="$id" '$1 == i && $5 == "OK" {print $3}' "$W/boot.tsv" | sort -n | tail -n 1)
        [ "$id" = spawnbox ] && sb=$b
        [ "$id" = nspawn ] && ns=$b
        echo "| $( [ "$id" = nspawn ] && echo "systemd-nspawn --register=no --keep-unit" || echo spawnbox) | $n | ${b:--} | ${lo:--}–${hi:--} | ${s:--} | $bad |"
    done
    echo
    if [ -n "$sb" ] && [ -n "$ns" ]; then
        echo "spawnbox boots the guest to ready in $(awk -v a="$sb" -v b="$ns" 'BEGIN {printf "%.2f", a / b}') × the time systemd-nspawn takes on the same tree, in the same run."
    elif [ -n "$sb" ]; then
        echo "systemd-nspawn was not measured in this run."
    fi
}

# A few sentences drawn from the numbers of this run.
interpret() {
    local floor=${MED[floor]:-} s=''
    if [ -z "$floor" ]; then echo "The floor did not run; no ratios."; return; fi
    if [ -n "${MED[spawnbox]:-}" ]; then
        s="spawnbox takes $(f2 "${MED[spawnbox]}") ms, $(ratio "${MED[spawnbox]}" "$floor") × the unshare+chroot floor ($(f2 "$floor") ms)"
        [ -n "${MED[bwrap]:-}" ] && s="$s and $(ratio "${MED[spawnbox]}" "${MED[bwrap]}") × bwrap ($(f2 "${MED[bwrap]}") ms)"
        s="$s, although it also sets up what the floor leaves out (the nspawn set of /proc, /sys, /dev, /run and /tmp mounts, pivot_root, a cgroup namespace)."
        awk -v a="${MED[spawnbox]}" -v b="$floor" 'BEGIN{exit !(a < b)}' &&
            s="$s The likely reason it beats the floor: the floor execs two dynamically linked programs (unshare, then chroot), spawnbox one static binary."
        [ -n "${MED[spawnbox-a]:-}" ] && s="$s Stub-init as PID 1 adds $(awk -v a="${MED[spawnbox-a]}" -v b="${MED[spawnbox]}" 'BEGIN{printf "%+.2f", a-b}') ms"
        [ -n "${MED[spawnbox-a]:-}" ] && [ -n "${MED[floor-tini]:-}" ] && s="$s (tini-static on the floor: $(awk -v a="${MED[floor-tini]}" -v b="$floor" 'BEGIN{printf "%+.2f", a-b}') ms)"
        [ -n "${MED[spawnbox-a]:-}" ] && s="$s."
    else
        s="spawnbox did not run, so only the peers were measured."
    fi
    [ -n "${MED[sec-on]:-}" ] && [ -n "${MED[sec-off]:-}" ] &&
        s="$s The seccomp filter and the bounding-set drops cost $(awk -v a="${MED[sec-on]}" -v b="${MED[sec-off]}" 'BEGIN{printf "%+.2f", a-b}') ms (sec-on against sec-off; the device program is in the security table above)."
    [ -n "${MED[nspawn]:-}" ] && s="$s systemd-nspawn is $(ratio "${MED[nspawn]}" "$floor") × the floor; most of its time goes into compiling its seccomp filter with libseccomp at every start (perf-anchors.md)."
    local l1 l2
    l1=$(cut -d' ' -f1 "$W/load-start"); l2=$(cut -d' ' -f1 "$W/load-end")
    if awk -v a="$l1" -v b="$l2" 'BEGIN{exit !(a > 1 || b > 1)}'; then
        s="$s The 1-minute load average reached $l1/$l2 on $(nproc) CPUs during the run, so read the medians as ±20 % and prefer the ratios, which were measured in the same run."
    else
        s="$s The machine was quiet (load $l1 → $l2); rows run one after the other, not interleaved, so drift between rows is not averaged out."
    fi
    echo "$s"
}

# Replace the text between the markers of $DOC with $W/report.md (append the section if absent).
update_doc() {
    local begin='<!-- bench:results:begin -->' end='<!-- bench:results:end -->'
    [ -n "$DOC" ] || return 0
    if [ ! -f "$DOC" ] || ! grep -qF "$begin" "$DOC" || ! grep -qF "$end" "$DOC"; then
        mkdir -p "$(dirname "$DOC")"
        { [ -f "$DOC" ] && echo; echo "## Results"; echo; echo "$begin"; echo "$end"; } >> "$DOC"
    fi
    awk -v b="$begin" -v e="$end" -v f="$W/report.md" '
        $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
        $0 == e { skip = 0 }
        !skip' "$DOC" > "$DOC.tmp.$$" && mv "$DOC.tmp.$$" "$DOC"
    log "updated $DOC"
}

# ------------------------------------------------------------------------------------ main
if [ "${1:-}" = --inner ]; then
    W=$2 ROOT=$2/rootfs
    inner
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root"
W=$(mktemp -d /tmp/spawnbox-bench.XXXXXX)
ROOT=$W/rootfs
# spawnbox's registry (network leases and their lock) lives in the bench's temp dir, not in
# the host's /run/spawnbox.
export SPAWNBOX_RUNTIME_DIR=$W/run
CG2='' CGDIR=''
cleanup() {
    local rc=$?
    if [ -n "$CGDIR" ] && [ -d "$CGDIR" ]; then
        find "$CGDIR" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
        rmdir "$CGDIR" 2>/dev/null || log "WARNING: could not remove cgroup $CGDIR"
    fi
    if grep -qF " $W" /proc/self/mountinfo; then log "WARNING: mounts left under $W"; else rm -rf "$W"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_packages
ensure_nspawn
export NSPAWN_BIN
build_rootfs "$ROOT"
log "rootfs: $ROOT; temp dir: $W"
if [ ! -x "$SPAWNBOX" ]; then
    log "NOTE: $SPAWNBOX is missing; its rows will FAIL (build it with make build)"
fi

cp /proc/self/mountinfo "$W/mountinfo.before"
cgroup_listing > "$W/cgroups.before"

# The throw-away cgroup: the cgroup namespace of the wrapper is rooted here.
CG2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
[ -n "$CG2" ] || die "no cgroup2 mount on the host (needed for the throw-away cgroup)"
CGDIR=$CG2/spawnbox-bench-$$
mkdir "$CGDIR"
log "running inside unshare --cgroup --mount --pid (cgroup root: $CGDIR)"
inner_rc=0
bash -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$CGDIR" \
    unshare --cgroup --mount --pid --fork --mount-proc --propagation private \
    bash "$SELF" --inner "$W" || inner_rc=$?

# Host-safety checks: no mounts, cgroups or processes left behind.
find "$CGDIR" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
rmdir "$CGDIR" || log "WARNING: could not remove $CGDIR (processes left in it?)"
CGDIR=''
if ! diff -u "$W/mountinfo.before" /proc/self/mountinfo > "$W/mountinfo.diff"; then
    log "WARNING: the host mount table changed during the run:"; sed 's/^/    /' "$W/mountinfo.diff" >&2
fi
cgroup_listing > "$W/cgroups.after"
if ! diff -u "$W/cgroups.before" "$W/cgroups.after" > "$W/cgroups.diff"; then
    log "WARNING: host cgroup directories changed during the run:"; sed 's/^/    /' "$W/cgroups.diff" >&2
fi
left=$(for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null || true); e=$(readlink "$p/exe" 2>/dev/null || true)
    case "$r $e" in *"$W"*) echo "${p#/proc/}" ;; esac
done | tr '\n' ' ')
[ -z "$left" ] || log "WARNING: processes still running in the bench rootfs: $left"

[ "$inner_rc" = 0 ] && [ -s "$W/status.tsv" ] || die "the measurement part failed (rc $inner_rc)"
# The OCI runtime (issue 19): spawnbox-runc against runc and crun, in a cycle and under podman.
# Its own script, outside the namespace wrapper: the engines and crun's wrapper need the host's
# own cgroup layout. It reports "spawnbox-runc: not built/failed" itself when it has no numbers.
log "OCI runtime: tests/bench/oci.sh"
SPAWNBOX_RUNC=${SPAWNBOX_RUNC:-$(dirname "$SPAWNBOX")/spawnbox-runc} bash "$HERE/oci.sh" >"$W/oci.txt" 2>"$W/oci.log" \
    || { log "OCI runtime bench failed (see below)"; tail -n 5 "$W/oci.log" >&2; }
if grep -q 'spawnbox-runc: \(not built\|failed\)' "$W/oci.txt" 2>/dev/null; then
    log "$(grep -o 'spawnbox-runc: \(not built\|failed\)[^*]*' "$W/oci.txt" | head -n 1)"
fi
report
echo; cat "$W/report.md"; echo
update_doc
[ -z "$KEEP" ] || { mkdir -p "$KEEP"; cp "$W"/*.json "$W"/*.txt "$W"/*.tsv "$W"/*.log "$W"/report.md "$KEEP"/ 2>/dev/null || true; log "raw results copied to $KEEP"; }
if grep -q $'\tFAILED\t' "$W/status.tsv" || grep -q '| FAILED' "$W/report.md"; then
    log "some rows FAILED to run (see the status column)"; exit 1
fi
exit 0
