#!/bin/sh
# PID 1 stays; a child allocates 64 MiB of anonymous memory: dd's 64 MiB buffer, every page
# touched by one read(2) from /dev/zero. The child volunteers for the OOM killer
# (oom_score_adj 1000), so that PID 1 survives to report the cgroup's counters.
read -r v </sys/fs/cgroup/memory.max
echo "memory_max=$v"
(echo 1000 >/proc/self/oom_score_adj && exec dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null)
echo "alloc_status=$?"
while read -r k v; do echo "memory_events_$k=$v"; done </sys/fs/cgroup/memory.events
read -r v </sys/fs/cgroup/memory.peak
echo "memory_peak=$v"
