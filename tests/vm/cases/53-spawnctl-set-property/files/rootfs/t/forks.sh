#!/bin/sh
# PID 1 of machine "sp": waits until the host has run `spawnctl set-property sp TasksMax=4`
# (the go file), then forks as tests/vm/cases/50-cgroup-limits' pids.sh does: PID 1 (task 1)
# forks a subshell (task 2), which forks background sleeps until a fork fails: sleeps 1 and 2
# are tasks 3 and 4, the fifth fork is refused. At most 10 forks.
touch /var/tmp/ready
while [ ! -e /var/tmp/go ]; do usleep 20000; done
(
    i=0
    while [ $i -lt 10 ]; do
        sleep 100 &
        i=$((i + 1))
        echo "fork_ok=$i"
    done
)
echo "forker_status=$?"
read -r v </sys/fs/cgroup/pids.events
echo "pids_events=$v"
