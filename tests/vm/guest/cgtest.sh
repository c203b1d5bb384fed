# shellcheck shell=sh
# tests/vm/guest/cgtest.sh - guest-side helpers of the container VM cases (the cgroup cases
# 50-*..53-*, 45-*, 6x-*), installed as /etc/vmtest/cgtest.sh by vm_add_spawnbox and sourced
# by their rc (busybox sh).
#
# Each check prints "VMTEST: PASS NAME" or "VMTEST-FAIL: NAME: detail"; the case's expect
# file lists the PASS lines in order, its reject file has "VMTEST-FAIL". cg_done prints the
# totals and powers off. A run of spawnbox is bounded by `timeout` (SB_TIMEOUT seconds).

CG=/sys/fs/cgroup
ROOTFS=/rootfs
SB_TIMEOUT=${SB_TIMEOUT:-30}
CG_FAILS=0
CG_CHECKS=0

pass() { CG_CHECKS=$((CG_CHECKS + 1)); echo "VMTEST: PASS $1"; }
fail() { CG_CHECKS=$((CG_CHECKS + 1)); CG_FAILS=$((CG_FAILS + 1)); echo "VMTEST-FAIL: $1: $2"; }

# check_eq NAME WANT GOT
check_eq() {
    if [ "$3" = "$2" ]; then pass "$1"; else fail "$1" "want [$2], got [$3]"; fi
}
# check_true NAME DETAIL CONDITION...: CONDITION is a test(1) expression.
check_true() {
    _n=$1 _d=$2
    shift 2
    if [ "$@" ]; then pass "$_n"; else fail "$_n" "$_d"; fi
}
# check_has NAME NEEDLE HAYSTACK: fixed-string containment.
check_has() {
    case $3 in *"$2"*) pass "$1" ;; *) fail "$1" "[$3] does not contain [$2]" ;; esac
}

# Mount cgroup2 at /sys/fs/cgroup (spawnbox-init mounts /sys but not cgroupfs).
cg_init() {
    grep -q "^[^ ]* $CG cgroup2 " /proc/mounts || mount -t cgroup2 cgroup2 $CG ||
        { echo "VMTEST-FAIL: cannot mount cgroup2"; poweroff; sleep 30; }
    echo "VMTEST: cgroup2 controllers: $(cat $CG/cgroup.controllers)"
}

# The hierarchy's directories, sorted: the teardown checks compare two of these.
cg_tree() { find $CG -type d | sort; }
cg_snap() { cg_tree >/tmp/tree.before; }
# cg_check_tree NAME: the hierarchy is exactly as at the last cg_snap.
cg_check_tree() {
    cg_tree >/tmp/tree.after
    if cmp -s /tmp/tree.before /tmp/tree.after; then
        pass "$1"
    else
        fail "$1" "hierarchy changed: $(diff /tmp/tree.before /tmp/tree.after | grep '^[-+]/' | tr '\n' ' ')"
    fi
}

# spawnbox -D /rootfs -q --console=pipe ARGS under `timeout` (its watcher stays here);
# with SB_CGROUP set (a path below /sys/fs/cgroup), spawnbox is started from that cgroup,
# as a service manager would start it.
SB_SH='[ -z "$SB_CGROUP" ] || echo $$ >"/sys/fs/cgroup/$SB_CGROUP/cgroup.procs" || exit 125
exec spawnbox -D /rootfs -q --console=pipe "$@"'
sb_cmd() {
    SB_CGROUP=${SB_CGROUP:-} timeout -s KILL "$SB_TIMEOUT" sh -c "$SB_SH" spawnbox "$@"
}
# sb ARGS...: sb_cmd in the foreground; the output (the container's and spawnbox's) goes to
# /tmp/sb.out and, indented, to the console; the status to SB_RC (137 = timed out).
sb() {
    sb_cmd "$@" >/tmp/sb.out 2>&1
    SB_RC=$?
    sed 's/^/    | /' /tmp/sb.out
}
# val KEY: the value of the first "KEY=VALUE" line the container printed.
val() { sed -n "s/^$1=//p" /tmp/sb.out | head -n1; }
# lastval KEY: the value of the last such line.
lastval() { sed -n "s/^$1=//p" /tmp/sb.out | tail -n1; }

# The container side of sb_bg: announce readiness, wait for the go (both files in the
# rootfs's /var/tmp, which the host sees as /rootfs/var/tmp; the container's /tmp is a tmpfs
# of its own). Payload scripts end with the same wait.
HOLD='touch /var/tmp/ready; while [ ! -e /var/tmp/go ]; do usleep 20000; done' 

# sb_bg ARGS...: sb_cmd in the background; SB_PID is spawnbox's pid (busybox timeout and sh
# exec it in their own process). ARGS end with a payload that runs $HOLD, e.g.
# `sb_bg -M x /bin/sh -c "$HOLD"`.
# Returns non-zero when the container did not get ready within 20 s.
sb_bg() {
    rm -f $ROOTFS/var/tmp/ready $ROOTFS/var/tmp/go
    # Not through sb_cmd: a function in the background is a subshell, and $! its pid.
    SB_CGROUP=${SB_CGROUP:-} timeout -s KILL "$SB_TIMEOUT" sh -c "$SB_SH" spawnbox "$@" >/tmp/sb.out 2>&1 &
    SB_PID=$!
    _i=0
    while [ ! -e $ROOTFS/var/tmp/ready ] && [ $_i -lt 400 ]; do
        usleep 50000
        _i=$((_i + 1))
    done
    [ -e $ROOTFS/var/tmp/ready ] || { sed 's/^/    | /' /tmp/sb.out; return 1; }
}
# sb_finish: let the held container exit; SB_RC is spawnbox's status.
sb_finish() {
    touch $ROOTFS/var/tmp/go
    wait "$SB_PID"
    SB_RC=$?
    sed 's/^/    | /' /tmp/sb.out
    rm -f $ROOTFS/var/tmp/ready $ROOTFS/var/tmp/go
}
# pid_cgroup PID: the cgroup v2 path of a process as seen from here.
pid_cgroup() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
# procs DIR: the pids in DIR/cgroup.procs, on one line.
procs() { tr '\n' ' ' <"$1/cgroup.procs" | sed 's/ $//'; }
# child_of PID: the (first) child of PID; for spawnbox, the container's PID 1.
child_of() {
    _parent=$1
    for _d in /proc/[0-9]*; do
        read -r _s 2>/dev/null <"$_d/stat" || continue
        _s=${_s##*) } # after "PID (COMM) ": STATE PPID ...
        # shellcheck disable=SC2086 # word splitting of stat is intended
        set -- $_s
        [ "$2" = "$_parent" ] && { echo "${_d#/proc/}"; return 0; }
    done
    return 1
}
# comm PID
comm() { cat "/proc/$1/comm" 2>/dev/null; }
# ct_install: the container-side reporter ctinfo.sh at /ctinfo in the tree.
ct_install() { cp /etc/vmtest/ctinfo.sh $ROOTFS/ctinfo && chmod 0755 $ROOTFS/ctinfo; }

# The clock for timings: /proc/timer_list's "now at N nsecs" (busybox date has no %N), read
# with shell builtins only.
now_ns() {
    { read -r _l; read -r _l; read -r _a _b NOW _c; } </proc/timer_list
}

# median FILE: the median of the numbers in FILE (one per line).
median() {
    _n=$(wc -l <"$1")
    sort -n "$1" | sed -n "$(((_n + 1) / 2))p"
}

cg_done() {
    echo "VMTEST: $CG_CHECKS checks, $CG_FAILS failed"
    [ "$CG_FAILS" = 0 ] && echo "VMTEST: all checks passed"
    poweroff
    sleep 30
    echo "VMTEST-FAIL: still alive 30s after poweroff"
}
