#!/bin/sh
# Spin for 1 s of wall time (timeout ends the loop) and report the cgroup's cpu.stat
# deltas and the wall time from /proc/uptime (10 ms resolution).
cpustat() { while read -r k v; do eval "cs_$k=$v"; done </sys/fs/cgroup/cpu.stat; }
uptime_ms() { read -r up _ </proc/uptime; up_ms=$((${up%.*} * 1000 + 1${up#*.} * 10 - 1000)); }
read -r v </sys/fs/cgroup/cpu.max
echo "cpu_max=$v"
cpustat
u0=$cs_usage_usec t0=${cs_nr_throttled:-0} p0=${cs_nr_periods:-0}
uptime_ms
w0=$up_ms
timeout 1 sh -c 'while :; do :; done'
uptime_ms
cpustat
echo "wall_usec=$(((up_ms - w0) * 1000))"
echo "usage_usec=$((cs_usage_usec - u0))"
echo "nr_periods=$((${cs_nr_periods:-0} - p0))"
echo "nr_throttled=$((${cs_nr_throttled:-0} - t0))"
