# shellcheck shell=sh
# Sourced by ns.sh and boot.sh.

# hold: tell the host we are ready (the rootfs's /var/tmp is /rootfs/var/tmp there), then
# wait until it says go (sb_bg/sb_finish in tests/vm/guest/cgtest.sh).
hold() {
    touch /var/tmp/ready
    while [ ! -e /var/tmp/go ]; do usleep 20000; done
}

# view: the container's view of its cgroup, as KEY=VALUE lines.
view() {
    read -r v </proc/self/cgroup
    echo "self_cgroup=$v"
    # mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    while read -r _ _ _ root mp opts rest; do
        [ "$mp" = /sys/fs/cgroup ] || continue
        rest=${rest#*- }
        echo "cg_root=$root"
        echo "cg_opts=${opts%%,*}"
        echo "cg_fstype=${rest%% *}"
    done </proc/self/mountinfo
    n=0
    while read -r p; do n=$((n + 1)); done </sys/fs/cgroup/cgroup.procs
    echo "procs_count=$n"
    echo "subdirs=$(find /sys/fs/cgroup -mindepth 1 -type d | wc -l)"
}
