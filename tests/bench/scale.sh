#!/usr/bin/env bash
# tests/bench/scale.sh -- `make bench-scale`: N `-n` containers running together (issue 18).
#
# Inside a network namespace (and a runtime directory) of its own, starts N containers with
# `-n` and a busybox payload that reports and sleeps, BATCH at a time (each batch started at
# once, the next when all of it runs); every container stays up. Then it checks that every
# container got a distinct /28 and answers a ping from the host side, reports memory per
# running container and start latency per batch, stops them all and checks that nothing is
# left: links, leases, nft rules, cgroups, registry entries, processes.
#
# Run as root:  make bench-scale       (or: bash tests/bench/scale.sh)
# Env knobs:    N=1000 BATCH=100 PROBES=21 (single starts timed with none and with N running)
#               SPAWNBOX=build/spawnbox   TREE=busybox tree (tests/guests/mkguest.sh busybox)
#               OPTS="..."   more spawnbox options (e.g. "--keep-unit --register=no")
#               KEEP=DIR     copy the raw figures (latencies, /proc/meminfo before and after)
#
# Start latency: from the launcher's exec to the payload's first line on stdout (the shell's
# own fork is in it). Memory: the launcher's and PID 1's RSS and PSS from /proc, and the
# kernel's share as the MemAvailable and Slab deltas of /proc/meminfo between no container and
# N (page cache and other processes of the machine move these too: read them as an estimate).
#
# Exit status: 0 when every container came up, got a distinct subnet, answered the ping and
# left nothing behind; 1 otherwise.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export N=${N:-1000} BATCH=${BATCH:-100} PROBES=${PROBES:-21}
export SPAWNBOX=${SPAWNBOX:-$REPO/build/spawnbox}
export OPTS=${OPTS:-} KEEP=${KEEP:-}

log() { printf '[scale] %s\n' "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

if [ "${1:-}" != --inside ]; then
	[ "$(id -u)" = 0 ] || die "run as root"
	[ -x "$SPAWNBOX" ] || die "$SPAWNBOX is missing (make build)"
	command -v busybox >/dev/null || die "busybox is missing (make deps)"
	export TREE=${TREE:-$(bash "$REPO/tests/guests/mkguest.sh" busybox)}
	# Each container holds about 5 descriptors in this shell's children and 2 processes.
	need=$((N * 2 + 1000))
	pid_max=$(cat /proc/sys/kernel/pid_max)
	[ "$need" -lt "$pid_max" ] || die "N=$N needs about $need pids, kernel.pid_max is $pid_max"
	ulimit -n "$(ulimit -Hn)"
	exec unshare --net --mount --propagation private -- "$0" --inside
fi

tmp=$(mktemp -d /tmp/spawnbox-scale.XXXXXX)
# The runtime directory on a tmpfs, as /run is (on ext4, creating the registry's and the
# index's files costs more with every file of the running containers in the same block group).
mount -t tmpfs -o mode=0700 spawnbox-scale "$tmp"
export SPAWNBOX_RUNTIME_DIR=$tmp/run
mkdir -m 0700 "$SPAWNBOX_RUNTIME_DIR"
mkdir "$tmp/lat" "$tmp/log" "$tmp/fifo"
ip link set lo up
echo 0 >/proc/sys/net/ipv4/ip_forward
cg_root=/sys/fs/cgroup/unified/machine.slice
[ -d "$cg_root" ] || cg_root=/sys/fs/cgroup/machine.slice

pids=()
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	if [ ${#pids[@]} -gt 0 ]; then kill "${pids[@]}" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	umount "$tmp" 2>/dev/null || true
	rmdir "$tmp"
}
trap cleanup EXIT

meminfo() { awk '/^(MemAvailable|Slab|SUnreclaim|KernelStack|PageTables):/ {printf "%s=%s ", $1, $2} END {print ""}' /proc/meminfo; }
kb() { sed -n "s/^$1=\([0-9]*\)$/\1/p" | head -1; }
field() { tr ' ' '\n' <<<"$1" | kb "$2:"; }
# p50 and p99 (nearest rank) of the numbers on stdin, one per line.
pct() { sort -n | awk '{a[NR] = $1} END {i = int(NR * 0.5 + 0.5); j = int(NR * 0.99 + 0.5); if (i < 1) i = 1; if (j < 1) j = 1; printf "%.0f %.0f\n", a[i], a[j]}'; }

sync
echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true
# One start at a time, with nothing else starting: the medians of PROBES starts of a `-n`
# container running /bin/true, wall ms and (with perf) the CPU ms of the launcher and its
# children, with none and with all N running.
probe() {
	local r t0 cpu=-
	for ((r = 0; r < PROBES; r++)); do
		t0=$EPOCHREALTIME
		# shellcheck disable=SC2086
		if command -v perf >/dev/null; then
			perf stat -x, -e task-clock -o "$tmp/perf" "$SPAWNBOX" -q -D "$TREE" -M "probe$r" -n --console=pipe $OPTS /bin/true ||
				die "probe start failed"
			cpu=$(awk -F, '/task-clock/ {print $1}' "$tmp/perf")
		else
			"$SPAWNBOX" -q -D "$TREE" -M "probe$r" -n --console=pipe $OPTS /bin/true || die "probe start failed"
		fi
		awk -v a="$t0" -v b="$EPOCHREALTIME" -v c="$cpu" 'BEGIN {printf "%.2f %s\n", (b - a) * 1000, c}'
	done >"$tmp/probe"
	med() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
	echo "$(cut -d' ' -f1 "$tmp/probe" | med) $(cut -d' ' -f2 "$tmp/probe" | med)"
}
probe0=$(probe)
mem0=$(meminfo)
names=()
printf '%-8s %8s %9s %9s %9s\n' batch running "wall s" "p50 ms" "p99 ms"
i=0
b=0
while [ "$i" -lt "$N" ]; do
	b=$((b + 1))
	first=$i
	t_batch=$EPOCHREALTIME
	while [ "$i" -lt "$N" ] && [ "$i" -lt $((first + BATCH)) ]; do
		m=sc$i
		mkfifo "$tmp/fifo/$m"
		t0=$EPOCHREALTIME
		# The payload's first line, read through a FIFO by a reader of the shell's own.
		(read -r _ <"$tmp/fifo/$m" && echo "$t0 $EPOCHREALTIME" >"$tmp/lat/$m") &
		# shellcheck disable=SC2086
		"$SPAWNBOX" -q -D "$TREE" -M "$m" -n --console=pipe $OPTS /bin/sh -c 'echo up; exec sleep 1000000' \
			</dev/null 2>"$tmp/log/$m" >"$tmp/fifo/$m" &
		pids+=($!)
		names+=("$m")
		i=$((i + 1))
	done
	deadline=$((SECONDS + 300))
	for ((k = first; k < i; k++)); do
		m=${names[$k]}
		until [ -s "$tmp/lat/$m" ]; do
			kill -0 "${pids[$k]}" 2>/dev/null || { sleep 0.2; [ -s "$tmp/lat/$m" ] && break; die "$m did not start: $(cat "$tmp/log/$m")"; }
			[ "$SECONDS" -lt "$deadline" ] || die "$m did not start within 300 s"
			sleep 0.01
		done
	done
	wall=$(awk -v a="$t_batch" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')
	for ((k = first; k < i; k++)); do awk '{printf "%.1f\n", ($2 - $1) * 1000}' "$tmp/lat/${names[$k]}"; done >"$tmp/batch$b"
	read -r p50 p99 < <(pct <"$tmp/batch$b")
	printf '%-8s %8s %9s %9s %9s\n' "$b" "$i" "$wall" "$p50" "$p99"
	echo "$b $i $wall $p50 $p99" >>"$tmp/batches"
done
sleep 1
mem1=$(meminfo)
probe1=$(probe)
fail=0

# Distinct subnets, read from the host side of every veth.
ip -o -4 addr show | awk '$2 ~ /^ve-sc[0-9]/ {print $4}' | sort >"$tmp/addrs"
n_addr=$(wc -l <"$tmp/addrs")
n_distinct=$(sort -u "$tmp/addrs" | wc -l)
echo "host sides with an address: $n_addr, distinct subnets: $n_distinct (of $N)"
if [ "$n_addr" != "$N" ] || [ "$n_distinct" != "$N" ]; then log "FAIL: subnets"; fail=1; fi
# Each container pings its host side (the gateway) from inside, 50 at a time. The kernel's
# neighbour table is one for all namespaces, with room for gc_thresh3 (1024) entries, and
# only entries older than 5 s can be collected: a ping costs one entry on each side, so each
# container's is flushed after its ping, and the host side's every 200 containers.
ip -o -4 addr show | awk '$2 ~ /^ve-sc[0-9]/ {split($4, a, "/"); print substr($2, 4), a[1]}' >"$tmp/gateways"
declare -A leader
for ((k = 0; k < ${#names[@]}; k++)); do
	leader[${names[$k]}]=$(cut -d' ' -f1 "/proc/${pids[$k]}/task/${pids[$k]}/children" 2>/dev/null || true)
done
while read -r m gw; do echo "${leader[$m]:-0} $gw $m"; done <"$tmp/gateways" >"$tmp/peers"
split -l 200 "$tmp/peers" "$tmp/peers."
: >"$tmp/unreachable"
for chunk in "$tmp"/peers.*; do
	# shellcheck disable=SC2016 # expanded by the sh that xargs runs
	xargs -P 50 -L 1 sh -c 'nsenter -t "$0" -n sh -c "busybox ping -c 1 -W 2 $1 >/dev/null 2>&1 && ip neigh flush all" || echo "$2"' \
		<"$chunk" >>"$tmp/unreachable"
	ip neigh flush all
done
n_bad=$(wc -l <"$tmp/unreachable")
echo "containers reaching their host side (ping from inside): $((n_addr - n_bad)) of $n_addr"
[ "$n_bad" = 0 ] || { log "FAIL: no answer from $(head -3 "$tmp/unreachable" | tr '\n' ' ')..."; fail=1; }

# Memory per running container.
rss=0 pss=0 cg=0 cgn=0
for p in "${pids[@]}"; do
	for q in "$p" $(cat "/proc/$p/task/$p/children" 2>/dev/null); do
		r=$(awk '/^VmRSS:/ {print $2}' "/proc/$q/status" 2>/dev/null || echo 0)
		s=$(awk '/^Pss:/ {print $2}' "/proc/$q/smaps_rollup" 2>/dev/null || echo 0)
		rss=$((rss + ${r:-0})) pss=$((pss + ${s:-0}))
	done
done
for m in "${names[@]}"; do
	f=$cg_root/machine-$m.scope/memory.current
	[ -r "$f" ] && cg=$((cg + $(cat "$f") / 1024)) && cgn=$((cgn + 1))
done
avail=$(($(field "$mem0" MemAvailable) - $(field "$mem1" MemAvailable)))
slab=$(($(field "$mem1" Slab) - $(field "$mem0" Slab)))
kstack=$(($(field "$mem1" KernelStack) - $(field "$mem0" KernelStack)))
ptab=$(($(field "$mem1" PageTables) - $(field "$mem0" PageTables)))
echo "memory per running container (KiB): launcher + PID 1 RSS $((rss / N)), PSS $((pss / N));" \
	"kernel: Slab +$((slab / N)), KernelStack +$((kstack / N)), PageTables +$((ptab / N));" \
	"MemAvailable $(printf "%+d" $((-avail / N)))"
if [ "$cgn" -gt 0 ]; then
	echo "cgroup memory.current per container: $((cg / cgn)) KiB ($cgn cgroups)"
else
	echo "cgroup memory.current: not available (no memory controller in $cg_root)"
fi

# The last batch against the first (same batch size).
read -r _ _ _ first_p50 _ < <(head -1 "$tmp/batches")
read -r _ _ _ last_p50 _ < <(tail -1 "$tmp/batches")
ratio=$(awk -v a="$first_p50" -v b="$last_p50" 'BEGIN {printf "%.2f", b / a}')
echo "start p50: batch 1 $first_p50 ms, batch $b $last_p50 ms: x$ratio"
read -r w0 c0 <<<"$probe0"
read -r w1 c1 <<<"$probe1"
echo "one start alone (medians of $PROBES): wall $w0 ms with none running, $w1 ms with $N" \
	"(x$(awk -v a="$w0" -v b="$w1" 'BEGIN {printf "%.2f", b / a}')); CPU $c0 ms, $c1 ms" \
	"(x$(awk -v a="$c0" -v b="$c1" 'BEGIN {if (a + 0 > 0) printf "%.2f", b / a; else print "-"}'))"

# Stop them all and check what is left.
t_stop=$EPOCHREALTIME
kill -TERM "${pids[@]}"
wait "${pids[@]}" 2>/dev/null || true
pids=()
echo "stop of all $N: $(awk -v a="$t_stop" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}') s"
left_links=0
for _ in $(seq 100); do
	left_links=$(ip -o link show | grep -c -v ': lo:' || true)
	[ "$left_links" = 0 ] && break
	sleep 0.1
done
left_leases=$({ cat "$SPAWNBOX_RUNTIME_DIR/net/leases" 2>/dev/null || true; } | wc -l)
left_rules=$({ nft list ruleset 2>/dev/null || true; } | grep -c spawnbox || true)
left_cg=0
for m in "${names[@]}"; do [ -d "$cg_root/machine-$m.scope" ] && left_cg=$((left_cg + 1)); done
left_reg=$(find "$SPAWNBOX_RUNTIME_DIR/machines" -name machine 2>/dev/null | wc -l)
left_procs=$(pgrep -c -f "^$SPAWNBOX -q -D $TREE -M sc[0-9]" || true)
echo "left after the stop: links $left_links, leases $left_leases, nft rules $left_rules, cgroups $left_cg," \
	"registry entries $left_reg, processes $left_procs"
[ "$left_links$left_leases$left_rules$left_cg$left_reg$left_procs" = 000000 ] || { log "FAIL: leftovers"; fail=1; }
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ] || { log "FAIL: ip_forward"; fail=1; }

if [ -n "$KEEP" ]; then
	mkdir -p "$KEEP"
	cp -r "$tmp/lat" "$tmp"/batch* "$KEEP"/
	printf '%s\n%s\n' "$mem0" "$mem1" >"$KEEP/meminfo"
fi
exit "$fail"
