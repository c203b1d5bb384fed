#!/bin/sh
# A container without -b: its own cgroup namespace, /sys/fs/cgroup read-only.
. /t/common.sh
view
echo "mkdir_err=$(mkdir /sys/fs/cgroup/x 2>&1)"
echo "procs_err=$( (echo 1 >/sys/fs/cgroup/cgroup.procs) 2>&1)"
echo "max_err=$( (echo 0 >/sys/fs/cgroup/cgroup.max.depth) 2>&1)"
# With CAP_SYS_ADMIN the payload can mount cgroup2 again, writable: the cgroup namespace
# roots that mount at the container's cgroup too, so whatever it writes stays below it.
mkdir -p /run/cg && mount -t cgroup2 cgroup2 /run/cg
echo "fresh_mount=$?"
n=0
while read -r p; do n=$((n + 1)); done </run/cg/cgroup.procs
echo "fresh_procs_count=$n"
echo "fresh_subdirs=$(find /run/cg -mindepth 1 -type d | wc -l)"
mkdir /run/cg/inner && echo 1 >/run/cg/inner/cgroup.procs
echo "inner_status=$?"
read -r v </proc/self/cgroup
echo "self_cgroup_after=$v"
hold
