#!/usr/bin/env bash
# tests/bench/ab.sh -- A/B start time of two or more spawnbox binaries, interleaved.
#
# One hyperfine run per binary, one after the other, drifts with the machine (its load, its
# frequency): a change of a few percent hides in that. This script alternates the binaries in
# ROUNDS rounds of RUNS starts each (`perf stat -r RUNS`, the default start: `spawnbox -q -D
# ROOTFS --console=pipe /bin/true`) and prints, per binary, the median over the rounds of:
#   wall     RUNS starts from a shell loop, per start (includes the loop's fork and exec)
#   elapsed  perf stat's mean elapsed time per start (fork, exec, wait: as hyperfine -N)
#   cpu      task-clock, the launcher and its children
# and of the per-round ratios of elapsed to the first binary's (and, with PEERS=1, to the
# floor's and bwrap's).
#
# Run as root:  bash tests/bench/ab.sh OLD_BINARY NEW_BINARY [MORE...]
# Env knobs:    ROUNDS=10 RUNS=60 ROOTFS=(made with tests/mkrootfs.sh in a temp dir)
#               PEERS=1  also alternate the floor (unshare -m -u -i -p -f chroot ROOT
#                        /bin/true) and bwrap, with the commands of `make bench`
#               WRAP=1   run inside make bench's namespace wrapper (a cgroup2-only
#                        /sys/fs/cgroup rooted at a throw-away cgroup, a nested pid
#                        namespace, the runtime directory on a tmpfs); PEERS=1 implies it,
#                        so that the ratios are make bench's
#
# Needs perf (linux-perf, which `make bench` installs) and busybox-static; bwrap for PEERS=1.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${ROUNDS:-10}
RUNS=${RUNS:-60}
PEERS=${PEERS:-0}
WRAP=${WRAP:-$PEERS}
[ $# -ge 1 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY [MORE...]" >&2; exit 1; }
command -v perf >/dev/null || { echo "ab: perf is missing (make bench installs linux-perf)" >&2; exit 1; }
for b in "$@"; do [ -x "$b" ] || { echo "ab: $b: not an executable" >&2; exit 1; }; done

if [ "$WRAP" = 1 ] && [ -z "${AB_INNER:-}" ]; then
	# make bench's wrapper (tests/bench/run.sh, "The namespace wrapper"), then this script again.
	[ "$(id -u)" = 0 ] || { echo "ab: WRAP=1 needs root" >&2; exit 1; }
	cg2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
	[ -n "$cg2" ] || { echo "ab: no cgroup2 mount on the host" >&2; exit 1; }
	cgdir=$cg2/spawnbox-ab-$$
	mkdir "$cgdir"
	rt=$(mktemp -d /tmp/spawnbox-ab-run.XXXXXX)
	rc=0
	bash -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$cgdir" \
		unshare --cgroup --mount --pid --fork --mount-proc --propagation private \
		env AB_INNER=1 SPAWNBOX_RUNTIME_DIR="$rt" bash -c '
			mkdir -p "$1/cg2" && mount -n -t cgroup2 cgroup2 "$1/cg2"
			umount -n -R /sys/fs/cgroup 2>/dev/null || true
			mount -n --move "$1/cg2" /sys/fs/cgroup
			mount -n -t tmpfs -o mode=700 tmpfs "$1"
			shift; exec bash "$@"' _ "$rt" "$0" "$@" || rc=$?
	find "$cgdir" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
	rmdir "$cgdir" || echo "ab: WARNING: could not remove $cgdir" >&2
	rm -rf "$rt"
	exit $rc
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=${ROOTFS:-$tmp/rootfs}
[ -n "${ROOTFS:-}" ] || bash "$HERE/../mkrootfs.sh" "$root" >/dev/null
names=() cmds=()
for b in "$@"; do names+=("$b"); cmds+=("$b -q -D $root --console=pipe /bin/true"); done
if [ "$PEERS" = 1 ]; then
	command -v bwrap >/dev/null || { echo "ab: PEERS=1 needs bwrap" >&2; exit 1; }
	names+=(floor bwrap)
	cmds+=("unshare --mount --uts --ipc --pid --fork chroot $root /bin/true")
	cmds+=("bwrap --unshare-all --share-net --die-with-parent --bind $root / --proc /proc --dev /dev /bin/true")
fi
for r in $(seq "$ROUNDS"); do
	for i in "${!cmds[@]}"; do
		read -ra words <<<"${cmds[$i]}"
		perf stat -r "$RUNS" -e task-clock "${words[@]}" 2>"$tmp/perf" >/dev/null
		cpu=$(awk '/task-clock/ {gsub(",", "", $1); print $1; exit}' "$tmp/perf")
		elapsed=$(awk '/seconds time elapsed/ {print $1 * 1000; exit}' "$tmp/perf")
		start=$(date +%s%N)
		for _ in $(seq "$RUNS"); do "${words[@]}" >/dev/null; done
		end=$(date +%s%N)
		echo "$r $i $cpu $elapsed $(( (end - start) / RUNS ))" >>"$tmp/samples"
	done
done
awk -v names="$(printf '%s\n' "${names[@]}")" -v runs="$RUNS" -v peers="$PEERS" '
	function median(a, m,   t, j, l, x) {
		for (j = 1; j <= m; j++) t[j] = a[j]
		for (j = 2; j <= m; j++) for (l = j; l > 1 && t[l-1] > t[l]; l--) { x = t[l]; t[l] = t[l-1]; t[l-1] = x }
		return (m % 2) ? t[(m+1)/2] : (t[m/2] + t[m/2+1]) / 2
	}
	BEGIN { n = split(names, name, "\n") }
	{ cpu[$2, $1] = $3; el[$2, $1] = $4; wall[$2, $1] = $5 / 1e6; rounds[$1] = 1 }
	END {
		k = length(rounds); nb = peers ? n - 2 : n
		for (i = 0; i < n; i++) {
			for (r = 1; r <= k; r++) { c[r] = cpu[i, r]; e[r] = el[i, r]; w[r] = wall[i, r]; q[r] = el[i, r] / el[0, r] }
			line = sprintf("%s: wall %.3f ms, elapsed %.3f ms, cpu %.3f ms", name[i+1], median(w, k), median(e, k), median(c, k))
			if (i > 0 && i < nb) line = line sprintf(", elapsed/first %.3f", median(q, k))
			if (peers && i < nb) {
				for (r = 1; r <= k; r++) { f[r] = el[i, r] / el[nb, r]; b[r] = el[i, r] / el[nb+1, r] }
				line = line sprintf(", x floor %.3f, x bwrap %.3f", median(f, k), median(b, k))
			}
			print line
		}
		printf "(medians of %d rounds of %d starts each; ratios: medians of the per-round ratios of elapsed)\n", k, runs
	}
' "$tmp/samples"
