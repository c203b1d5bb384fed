#!/usr/bin/env bash
# tests/bench/ab.sh -- A/B start time of two or more spawnbox binaries, interleaved.
#
# One hyperfine run per binary, one after the other, drifts with the machine (its load, its
# frequency): a change of a few percent hides in that. This script alternates the binaries in
# ROUNDS rounds of RUNS starts each (`perf stat -r RUNS`, the default start: `spawnbox -q -D
# ROOTFS --console=pipe /bin/true`) and prints, per binary, the median over the rounds of the
# wall time and of the CPU time (task-clock, the launcher and its children).
#
# Run as root:  bash tests/bench/ab.sh OLD_BINARY NEW_BINARY [MORE...]
# Env knobs:    ROUNDS=10 RUNS=60 ROOTFS=(made with tests/mkrootfs.sh in a temp dir)
#
# Needs perf (linux-perf, which `make bench` installs) and busybox-static.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${ROUNDS:-10}
RUNS=${RUNS:-60}
[ $# -ge 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY [MORE...]" >&2; exit 1; }
command -v perf >/dev/null || { echo "ab: perf is missing (make bench installs linux-perf)" >&2; exit 1; }
for b in "$@"; do [ -x "$b" ] || { echo "ab: $b: not an executable" >&2; exit 1; }; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=${ROOTFS:-$tmp/rootfs}
[ -n "${ROOTFS:-}" ] || bash "$HERE/../mkrootfs.sh" "$root" >/dev/null
for r in $(seq "$ROUNDS"); do
	i=0
	for b in "$@"; do
		i=$((i + 1))
		perf stat -x, -r "$RUNS" -e task-clock "$b" -q -D "$root" --console=pipe /bin/true 2>"$tmp/perf" >/dev/null
		cpu=$(awk -F, '/task-clock/ {print $1}' "$tmp/perf")
		# perf -x prints no elapsed time: time the same RUNS starts once more.
		start=$(date +%s%N)
		for _ in $(seq "$RUNS"); do "$b" -q -D "$root" --console=pipe /bin/true; done
		end=$(date +%s%N)
		echo "$i $cpu $(( (end - start) / RUNS ))" >>"$tmp/samples"
	done
done
i=0
for b in "$@"; do
	i=$((i + 1))
	awk -v n="$i" -v name="$b" '
		$1 == n { cpu[++k] = $2; wall[k] = $3 / 1e6 }
		function median(a, m,   t, j, l) {
			for (j = 1; j <= m; j++) t[j] = a[j]
			for (j = 2; j <= m; j++) for (l = j; l > 1 && t[l-1] > t[l]; l--) { x = t[l]; t[l] = t[l-1]; t[l-1] = x }
			return (m % 2) ? t[(m+1)/2] : (t[m/2] + t[m/2+1]) / 2
		}
		END { printf "%s: wall %.3f ms, cpu %.3f ms (medians of %d rounds of '"$RUNS"' starts)\n", name, median(wall, k), median(cpu, k), k }
	' "$tmp/samples"
done
