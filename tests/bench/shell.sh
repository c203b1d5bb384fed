#!/usr/bin/env bash
# tests/bench/shell.sh -- `spawnctl shell NAME /bin/true` against `nsenter -a -t LEADER
# /bin/true`, and `machinectl shell` where it can run (it needs systemd-machined, so not on a
# host whose PID 1 is not systemd), on the busybox guest started with `spawnctl start` in
# private mount and network namespaces (issue 16).
#
# The commands alternate in ROUNDS rounds; in each, every command runs RUNS times under
# `perf stat -e task-clock` (CPU time of it and its children: the measure a loaded machine
# disturbs least), then RUNS times in a timed loop (wall time). Printed: the medians over the
# rounds, and of the per-round ratios to nsenter.
#
# Run as root:  bash tests/bench/shell.sh [SPAWNBOX]
# Env knobs:    ROUNDS=10 RUNS=50
# Needs nsenter and unshare (util-linux), perf (linux-perf, which `make bench` installs) and
# the busybox guest (tests/guests/mkguest.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sb=${1:-$here/build/spawnbox}
ROUNDS=${ROUNDS:-10}
RUNS=${RUNS:-50}
command -v perf >/dev/null || { echo "shell.sh: perf is missing (make bench installs linux-perf)" >&2; exit 1; }
if [ -z "${SHELL_BENCH_INNER:-}" ]; then
	tree=$(bash "$here/tests/guests/mkguest.sh" busybox)
	exec unshare -m -n --propagation private env SHELL_BENCH_INNER="$tree" bash "$0" "$sb"
fi
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=0755 tmpfs /var/log
mkdir -p /run/machines
ip link set lo up
tmp=$(mktemp -d)
ctl=$tmp/spawnctl
ln -s "$sb" "$ctl"
m=bench-shell-$$
cp -a "$SHELL_BENCH_INNER" /run/machines/$m
"$ctl" start $m
launcher=$(sed -n 's/^launcher=//p' /run/spawnbox/machines/$m/machine)
leader=$(sed -n 's/^leader=//p' /run/spawnbox/machines/$m/machine)
stop() {
	"$ctl" terminate $m || true
	while kill -0 "$launcher" 2>/dev/null; do sleep 0.05; done
	rm -rf "$tmp"
}
trap stop EXIT

names=(spawnctl nsenter)
cmds=("$ctl shell $m /bin/true" "nsenter -a -t $leader /bin/true")
if out=$(machinectl shell $m /bin/true 2>&1 </dev/null); then
	names+=(machinectl)
	cmds+=("machinectl shell $m /bin/true")
else
	echo "machinectl shell: cannot run here: $(head -1 <<<"$out")"
fi
for c in "${cmds[@]}"; do $c </dev/null >/dev/null; done # warm-up, and each must work
for _ in $(seq "$ROUNDS"); do
	line=''
	for c in "${cmds[@]}"; do
		# shellcheck disable=SC2086
		perf stat -x, -r "$RUNS" -e task-clock $c </dev/null 2>"$tmp/perf" >/dev/null
		cpu=$(awk -F, '/task-clock/ {print $1}' "$tmp/perf")
		start=$(date +%s%N)
		for _ in $(seq "$RUNS"); do $c </dev/null >/dev/null; done
		end=$(date +%s%N)
		line="$line $cpu $(((end - start) / RUNS / 1000))"
	done
	echo "$line" >>"$tmp/rounds"
done
med() { sort -g | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
ratio() { med | awk '{printf "%.2f", $1}'; }
for i in "${!names[@]}"; do
	cpu=$((2 * i + 1)) wall=$((2 * i + 2))
	printf '%-10s CPU %6s ms (%s x nsenter)  wall %6s us (%s x nsenter)\n' "${names[$i]}" \
		"$(awk -v c=$cpu '{print $c}' "$tmp/rounds" | med)" \
		"$(awk -v c=$cpu '{print $c / $3}' "$tmp/rounds" | ratio)" \
		"$(awk -v c=$wall '{print $c}' "$tmp/rounds" | med)" \
		"$(awk -v c=$wall '{print $c / $4}' "$tmp/rounds" | ratio)"
done
echo "(medians of $ROUNDS rounds of $RUNS runs each; the wall time includes the shell loop's fork and exec)"
