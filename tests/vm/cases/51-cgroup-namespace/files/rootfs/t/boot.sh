#!/bin/sh
# Installed as /sbin/init for the -b run: with delegation the cgroup2 mount is writable and
# this "init" builds a subtree of its own. spawnbox started it in /init.scope with every
# controller enabled at the root already (launcher/src/cgroup/inner.rs); moving there again
# is what systemd does and must work.
. /t/common.sh
view
echo "controllers=$(cat /sys/fs/cgroup/cgroup.controllers)"
mkdir -p /sys/fs/cgroup/init.scope && echo 1 >/sys/fs/cgroup/init.scope/cgroup.procs
echo "move_status=$?"
read -r v </proc/self/cgroup
echo "self_cgroup_after=$v"
echo "+memory +pids" >/sys/fs/cgroup/cgroup.subtree_control && mkdir /sys/fs/cgroup/work.slice &&
    echo 64 >/sys/fs/cgroup/work.slice/pids.max
echo "subtree_status=$?"
echo "work_controllers=$(cat /sys/fs/cgroup/work.slice/cgroup.controllers)"
hold
