#!/usr/bin/env bash
# tests/bench/ephemeral.sh -- what `-x` adds to a start, on a tree of any size (issue 15).
#
# `make bench` has the rows spawnbox / spawnbox-x / nspawn-x on its small busybox rootfs, one
# block of runs after the other; the difference it shows drifts with the machine. This script
# alternates a plain start and a `-x` start of the same TREE in ROUNDS rounds (`perf stat -r
# RUNS`, then RUNS timed starts in a loop, each) and prints the medians over the rounds of the
# CPU time (task-clock) and the wall time, and of the per-round differences.
#
# Run as root:  bash tests/bench/ephemeral.sh TREE [SPAWNBOX]
# Env knobs:    ROUNDS=10 RUNS=40
# TREE is only read (-x), but a plain start writes /etc/resolv.conf into it: use a copy.
# Needs perf (linux-perf, which `make bench` installs).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 TREE [SPAWNBOX]" >&2; exit 1; }
tree=$1
sb=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/spawnbox}
ROUNDS=${ROUNDS:-10}
RUNS=${RUNS:-40}
command -v perf >/dev/null || { echo "ephemeral.sh: perf is missing (make bench installs linux-perf)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for _ in $(seq "$ROUNDS"); do
	line=''
	for x in '' -x; do
		# shellcheck disable=SC2086
		perf stat -x, -r "$RUNS" -e task-clock "$sb" -q -D "$tree" --console=pipe $x /bin/true 2>"$tmp/perf" >/dev/null
		cpu=$(awk -F, '/task-clock/ {print $1}' "$tmp/perf")
		start=$(date +%s%N)
		# shellcheck disable=SC2086
		for _ in $(seq "$RUNS"); do "$sb" -q -D "$tree" --console=pipe $x /bin/true; done
		end=$(date +%s%N)
		line="$line $cpu $(((end - start) / RUNS / 1000))"
	done
	echo "$line" >>"$tmp/rounds"
done
med() { sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
col() { awk -v c="$1" '{print $c}' "$tmp/rounds" | med; }
printf 'CPU ms:  plain %s  -x %s  -x minus plain %s\n' "$(col 1)" "$(col 3)" "$(awk '{print $3 - $1}' "$tmp/rounds" | med)"
printf 'wall us: plain %s  -x %s  -x minus plain %s\n' "$(col 2)" "$(col 4)" "$(awk '{print $4 - $2}' "$tmp/rounds" | med)"
echo "(medians of $ROUNDS rounds of $RUNS starts each; the wall time includes the shell loop's fork and exec)"
