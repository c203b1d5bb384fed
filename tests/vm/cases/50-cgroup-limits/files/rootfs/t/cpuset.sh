#!/bin/sh
# What the container's cpuset looks like from inside.
read -r v </sys/fs/cgroup/cpuset.cpus
echo "cpus=$v"
read -r v </sys/fs/cgroup/cpuset.cpus.effective
echo "cpus_effective=$v"
while read -r k v; do [ "$k" = Cpus_allowed_list: ] && echo "cpus_allowed_list=$v"; done </proc/self/status
echo "taskset=$(taskset -p $$)"
