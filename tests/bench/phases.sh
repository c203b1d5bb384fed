#!/usr/bin/env bash
# tests/bench/phases.sh -- where a start's wall time goes, from the scheduler's tracepoints.
#
# Runs CMD N times from a shell loop under `perf record -a` of four sched tracepoints (fork,
# exec, exit) and the return of wait4, which cost next to nothing, unlike syscall tracing
# (`perf trace`, strace) or spawnbox's own debug log, which inflate every step. Each run is the
# tree of processes the loop's fork starts; its marks in time order:
#   fork        the loop forks the run's first process
#   exec:NAME   a process of the run execs NAME (the launcher; the container's payload)
#   clone       a process of the run forks or clones (the container's PID 1: the trace point
#               fires after copy_process, so the namespaces' copies fall before it)
#   exit:NAME   a process of the run starts its exit (its namespaces are torn down after it)
#   launcher-reaped   the first process's wait4 returns a child (the launcher reaps PID 1)
#   reaped      the loop's wait4 returns the run's first process
# and prints, for each pair of consecutive marks, the median duration over the runs in µs.
#
# Run as root:  bash tests/bench/phases.sh N CMD...
#   e.g.        SPAWNBOX_RUNTIME_DIR=/dev/shm/rt bash tests/bench/phases.sh 300 \
#                   build/spawnbox -q -D TREE --console=pipe /bin/true
#               bash tests/bench/phases.sh 300 unshare -m -u -i -p -f chroot TREE /bin/true
# Needs perf (linux-perf, which `make bench` installs). docs/BENCHMARKS.md has what it showed.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 N CMD..." >&2; exit 1; }
command -v perf >/dev/null || { echo "phases: perf is missing (make bench installs linux-perf)" >&2; exit 1; }
n=$1; shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
perf record -q -a -o "$tmp/perf.data" \
	-e sched:sched_process_fork -e sched:sched_process_exec -e sched:sched_process_exit \
	-e syscalls:sys_exit_wait4 \
	-- bash -c 'for ((i = 0; i < $1; i++)); do "${@:2}" >/dev/null; done' _ "$n" "$@" 2>"$tmp/err" ||
	{ cat "$tmp/err" >&2; exit 1; }
perf script -i "$tmp/perf.data" -F comm,pid,time,event,trace 2>/dev/null >"$tmp/events"

# One line per phase of every complete run: "FROM -> TO<TAB>µs"; then medians per phase.
awk '
BEGIN { nm = 0; root = 0; loop = 0 }
function mark(label, t) { labels[nm] = label; times[nm] = t; nm++ }
function flush(   i) {
	if (root == 0) return
	if (done && payload) {
		runs++
		for (i = 1; i < nm; i++) printf "%s -> %s\t%.0f\n", labels[i - 1], labels[i], (times[i] - times[i - 1]) * 1e6
		printf "TOTAL\t%.0f\n", (times[nm - 1] - times[0]) * 1e6
	}
	root = 0; nm = 0; done = 0; payload = 0; split("", inrun)
}
{
	comm = $1; pid = $2 + 0; t = $3; sub(/:$/, "", t); t += 0; ev = $4; sub(/:$/, "", ev)
	trace = ""; for (i = 5; i <= NF; i++) trace = trace " " $i
	# The loop: the first bash perf starts (other shells on the machine are not followed).
	if (loop == 0 && ev == "sched:sched_process_exec" && trace ~ /filename=[^ ]*\/bash /) { loop = pid; next }
	if (ev == "sched:sched_process_fork" && pid == loop) {
		flush()
		match(trace, /child_pid=[0-9]+/); root = substr(trace, RSTART + 10, RLENGTH - 10) + 0
		inrun[root] = 1; mark("fork", t); next
	}
	if (root == 0) next
	if (ev == "sched:sched_process_fork" && (pid in inrun)) {
		match(trace, /child_pid=[0-9]+/); inrun[substr(trace, RSTART + 10, RLENGTH - 10) + 0] = 1
		mark("clone", t)
	} else if (ev == "sched:sched_process_exec" && (pid in inrun)) {
		match(trace, /filename=[^ ]+/); f = substr(trace, RSTART + 9, RLENGTH - 9); sub(/.*\//, "", f)
		mark("exec:" f, t); if (pid != root) payload = 1
	} else if (ev == "sched:sched_process_exit" && (pid in inrun)) {
		mark("exit:" comm, t)
	} else if (ev == "syscalls:sys_exit_wait4" && pid == root && trace !~ /0x0$/ && trace !~ /0xffffffff/) {
		mark("launcher-reaped", t)
	} else if (ev == "syscalls:sys_exit_wait4" && pid == loop && trace ~ sprintf("0x%x$", root)) {
		mark("reaped", t); done = 1; flush()
	}
}
END { flush() }
' "$tmp/events" >"$tmp/phases"

# Medians, in the order the phases first appear.
echo "$(grep -c '^TOTAL' "$tmp/phases") runs of: $*"
awk -F '\t' '!($1 in seen) { seen[$1] = ++k; order[k] = $1 } { print seen[$1] "\t" $2 }' "$tmp/phases" |
	sort -t "$(printf '\t')" -k1,1n -k2,2n |
	awk -F '\t' -v names="$(awk -F '\t' '!($1 in s) { s[$1] = 1; printf "%s|", $1 }' "$tmp/phases")" '
	BEGIN { k = split(names, name, "|") }
	function out() { if (cnt) printf "%8d µs  %s  (%d runs)\n", v[int((cnt + 1) / 2)], name[cur], cnt }
	$1 != cur { out(); cur = $1; cnt = 0 }
	{ v[++cnt] = $2 }
	END { out() }'
