#!/bin/sh
# tests/vm/guest/ctinfo.sh - what a container sees of itself, as KEY=VALUE lines that the
# VM cases read with cgtest.sh's val. The rc copies it into the tree (ct_install); run as the
# payload: `sb ... /ctinfo [STATUS]` exits with STATUS (default 0).
echo "pid=$$"
echo "pid1_comm=$(cat /proc/1/comm)"
echo "pid1_exe=$(readlink /proc/1/exe)"
echo "pid1_argv=$(tr '\0' ' ' </proc/1/cmdline | sed 's/ $//')"
echo "hostname=$(hostname)"
# The mount at /: its root within its file system and the file system's type (mountinfo:
# ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS).
echo "root_mount=$(awk '$5 == "/" { i = 7; while ($i != "-") i++; print $4, $(i + 1); exit }' /proc/self/mountinfo)"
echo "uid_map=$(tr -s ' ' </proc/self/uid_map | sed 's/^ //; s/ $//' | tr '\n' ';' | sed 's/;$//')"
echo "gid_map=$(tr -s ' ' </proc/self/gid_map | sed 's/^ //; s/ $//' | tr '\n' ';' | sed 's/;$//')"
echo "id=$(id -u):$(id -g)"
echo "owner_busybox=$(stat -c %u:%g /bin/busybox)"
echo "owner_alice=$(stat -c %u:%g /home/alice)"
echo "marker=$(cat /var/tmp/marker 2>&1)"
exit "${1:-0}"
