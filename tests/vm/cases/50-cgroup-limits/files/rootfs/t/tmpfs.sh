#!/bin/sh
# 64 MiB written to a file in the rootfs (the guest's initramfs, a tmpfs): the pages of a
# tmpfs file are charged to the writer's cgroup and stay charged after the writer exits.
# Not /tmp or /dev/shm: those are the container's own tmpfs mounts, capped at 10% of RAM
# (about 33 MiB here), which would end the write with ENOSPC whatever the cgroup allows.
dd if=/dev/zero of=/var/tmp/blob bs=1M count=64 2>/dev/null
echo "write_status=$?"
read -r v </sys/fs/cgroup/memory.current
echo "memory_current=$v"
while read -r k v; do echo "memory_events_$k=$v"; done </sys/fs/cgroup/memory.events
