#!/usr/bin/env bash
# tests/bench/concurrent.sh -- N `-n` containers started at once (issue 18): spawnbox against
# systemd-nspawn --network-veth.
#
# Inside a network namespace and a private mount namespace of its own (the runtime directory
# and nspawn's /run/systemd/nspawn on tmpfs there), starts N containers of the busybox tree at
# once, each running /bin/true, and times each from its launch to its exit, and the whole
# round from the first launch to the last exit. ROUNDS rounds, spawnbox and nspawn taking
# turns. Both get the same options: --read-only (nspawn refuses a second container on a tree
# it holds writable), --register=no (no machined), --console=pipe. nspawn also gets
# --keep-unit (without systemd it cannot create a scope); spawnbox makes each container its
# own cgroup (machine.slice/machine-NAME.scope) as a default start does: more work than
# nspawn's, and concurrent --keep-unit starts in one cgroup share payload/ and supervisor/
# leaves (they are left behind when the starts overlap: docs/CGROUPS.md).
# spawnbox -n also gives both ends their addresses and the default route; nspawn's
# --network-veth leaves that to systemd-networkd, which does not run here.
#
# Run as root:  bash tests/bench/concurrent.sh        (make bench-concurrent)
# Env knobs:    N=100 ROUNDS=5   SPAWNBOX=build/spawnbox   NSPAWN=systemd-nspawn (NSPAWN=0: none)
#               TREE=busybox tree (tests/guests/mkguest.sh busybox)
# Prints one line per peer: wall of a round and p50/p99 per container (medians over the
# rounds), and the failed starts. Exit status 1 when a spawnbox start failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export N=${N:-100} ROUNDS=${ROUNDS:-5}
export SPAWNBOX=${SPAWNBOX:-$REPO/build/spawnbox}
export NSPAWN=${NSPAWN:-systemd-nspawn}

log() { printf '[concurrent] %s\n' "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

if [ "${1:-}" != --inside ]; then
	[ "$(id -u)" = 0 ] || die "run as root"
	[ -x "$SPAWNBOX" ] || die "$SPAWNBOX is missing (make build)"
	export TREE=${TREE:-$(bash "$REPO/tests/guests/mkguest.sh" busybox)}
	exec unshare --net --mount --propagation private -- "$0" --inside
fi

tmp=$(mktemp -d /tmp/spawnbox-concurrent.XXXXXX)
mount -t tmpfs -o mode=0700 spawnbox-concurrent "$tmp"
trap 'umount "$tmp"; rmdir "$tmp"' EXIT
export SPAWNBOX_RUNTIME_DIR=$tmp/run
mkdir -m 0700 "$SPAWNBOX_RUNTIME_DIR"
ip link set lo up
peers=(spawnbox)
if [ "$NSPAWN" != 0 ] && command -v "$NSPAWN" >/dev/null; then
	# nspawn keeps a directory per container under /run/systemd/nspawn/propagate: on a tmpfs
	# of this mount namespace, the host's /run is left as it was.
	mkdir -p /run/systemd/nspawn
	mount -t tmpfs -o mode=0755 spawnbox-concurrent-nspawn /run/systemd/nspawn
	peers+=(nspawn)
else
	log "systemd-nspawn left out (NSPAWN=0 or not installed): spawnbox only"
fi

# One round: N starts at once of peer $1; per-container ms in $tmp/$1.$2, wall ms appended
# to $tmp/$1.wall, failures to $tmp/$1.failed.
round() {
	local peer=$1 r=$2 i t_round
	mkdir -p "$tmp/lat"
	t_round=$EPOCHREALTIME
	for ((i = 0; i < N; i++)); do
		(
			set +e
			t0=$EPOCHREALTIME
			case $peer in
			spawnbox) "$SPAWNBOX" -q -D "$TREE" --read-only -M "c$i" -n --register=no --console=pipe /bin/true ;;
			nspawn) "$NSPAWN" -q -D "$TREE" --read-only -M "n$i" --network-veth --register=no --keep-unit --console=pipe /bin/true ;;
			esac >/dev/null 2>"$tmp/lat/$i.err"
			echo "$t0 $EPOCHREALTIME $?" >"$tmp/lat/$i"
		) &
	done
	wait
	awk -v a="$t_round" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f\n", (b - a) * 1000}' >>"$tmp/$peer.wall"
	for ((i = 0; i < N; i++)); do
		read -r t0 t1 rc <"$tmp/lat/$i"
		if [ "$rc" = 0 ]; then
			awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f\n", (b - a) * 1000}'
		else
			echo "$peer round $r: c$i: $(head -1 "$tmp/lat/$i.err")" >>"$tmp/$peer.failed"
		fi
	done >"$tmp/$peer.$r"
	rm -rf "$tmp/lat"
}

for ((r = 1; r <= ROUNDS; r++)); do
	for p in "${peers[@]}"; do round "$p" "$r"; done
done

med() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
pct() { sort -g | awk -v p="$1" '{a[NR] = $1} END {i = int(NR * p + 0.5); if (i < 1) i = 1; print a[i]}'; }
printf '%-10s %6s %12s %10s %10s %8s\n' peer starts "round wall" "p50 ms" "p99 ms" failed
for p in "${peers[@]}"; do
	p50=$(for ((r = 1; r <= ROUNDS; r++)); do pct 0.5 <"$tmp/$p.$r"; done | med)
	p99=$(for ((r = 1; r <= ROUNDS; r++)); do pct 0.99 <"$tmp/$p.$r"; done | med)
	failed=$( { cat "$tmp/$p.failed" 2>/dev/null || true; } | wc -l)
	printf '%-10s %6s %9s ms %10s %10s %8s\n' "$p" "$N" "$(med <"$tmp/$p.wall")" "$p50" "$p99" "$failed"
	[ "$failed" = 0 ] || head -3 "$tmp/$p.failed" >&2
done
echo "(medians over $ROUNDS rounds of $N starts at once; each container runs /bin/true)"
[ ! -s "$tmp/spawnbox.failed" ]
