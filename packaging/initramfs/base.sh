# shellcheck shell=bash
# packaging/initramfs/base.sh - the base every spawnbox initramfs shares, sourced by
# mkinitramfs.sh (`make initramfs`) and the VM harness (tests/vm/lib.sh):
#
#   initramfs_base ROOT BUSYBOX APPLETS INIT
#
# puts busybox at ROOT/bin/busybox with a link per applet listed in the file APPLETS, but the
# ones spawnbox-init provides (poweroff, reboot, halt: /sbin links to it) or is (init,
# linuxrc); INIT as /sbin/spawnbox-init and /init; and /dev/console, which the kernel opens for
# init before anything mounts devtmpfs over /dev (without it spawnbox-init starts without
# stdio and opens the console itself). Needs root (mknod).
initramfs_base() {
    local root=$1 busybox=$2 applets=$3 init=$4 a
    mkdir -p "$root"/{bin,sbin,dev}
    install -m 0755 "$busybox" "$root/bin/busybox"
    while read -r a; do
        case $a in busybox | init | linuxrc | poweroff | reboot | halt) continue ;; esac
        ln -s busybox "$root/bin/$a"
    done <"$applets"
    install -m 0755 "$init" "$root/sbin/spawnbox-init"
    ln -s sbin/spawnbox-init "$root/init"
    for a in poweroff reboot halt; do ln -s spawnbox-init "$root/sbin/$a"; done
    mknod -m 0600 "$root/dev/console" c 5 1
}
