#!/bin/sh
# TasksMax=4: PID 1 (task 1) forks a subshell (task 2), which forks background sleeps until
# a fork fails: sleeps 1 and 2 are tasks 3 and 4, the fifth fork is refused (ash gives up
# with "can't fork"). At most 10 forks, so that a missing limit fails the test quickly. PID 1
# then reads the pids counters with builtins only.
(
    i=0
    while [ $i -lt 10 ]; do
        sleep 100 &
        i=$((i + 1))
        echo "fork_ok=$i"
    done
)
echo "forker_status=$?"
read -r v </sys/fs/cgroup/pids.max
echo "pids_max=$v"
read -r v </sys/fs/cgroup/pids.current
echo "pids_current=$v"
read -r v </sys/fs/cgroup/pids.events
echo "pids_events=$v"
