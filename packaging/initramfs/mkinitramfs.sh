#!/usr/bin/env bash
# packaging/initramfs/mkinitramfs.sh - the appliance initramfs (`make initramfs`,
# docs/EMBEDDED.md): a gzip'd cpio (newc) whose /init is spawnbox-init, with busybox,
# spawnbox and one container tree, /var/lib/machines/NAME. spawnbox-init runs the image's
# /etc/spawnbox-init.rc (packaging/initramfs/appliance.rc with this script's settings), which
# starts the machine with spawnbox and powers off when it ends.
#
# Usage: mkinitramfs.sh [OPTION...]; every option also comes from the environment (the make
# variable of the same name: `make initramfs ARCH=aarch64 INITRAMFS_BOOT=1`):
#   --arch ARCH           ARCH               x86_64, aarch64 or armv7 (default: the host's)
#   --output FILE         INITRAMFS_OUT      default BINDIR/initramfs.cpio.gz
#   --bin-dir DIR         INITRAMFS_BIN_DIR  spawnbox and spawnbox-init (default build/ for the
#                                            host's architecture, build/ARCH/ for another)
#   --busybox FILE        BUSYBOX            static busybox (default: the host's /bin/busybox,
#                                            or Debian's busybox-static .deb of ARCH, downloaded)
#   --machine NAME        INITRAMFS_MACHINE  machine name (default appliance)
#   --tree DIR            INITRAMFS_TREE     the machine's tree (default: a busybox tree made by
#                                            tests/mkrootfs.sh, with a shell on the console)
#   --boot / --no-boot    INITRAMFS_BOOT=1/0 pass -b (default: -b unless --command or
#                                            --nspawn is given)
#   --command 'WORDS'     INITRAMFS_CMD      the command in the machine (shell words)
#   --options 'WORDS'     INITRAMFS_OPTIONS  more spawnbox options (shell words)
#   --nspawn FILE         INITRAMFS_NSPAWN   the machine's settings: /etc/spawnbox/NAME.nspawn
#   --on-exit ACTION      INITRAMFS_ON_EXIT  poweroff (default), reboot, restart, shell
#   --rc FILE             INITRAMFS_RC       /etc/spawnbox-init.rc instead of the generated one
#   --files DIR           INITRAMFS_FILES    a tree copied over the image's root last (kernel
#                                            modules, /etc/hostname, ...)
# In make variables `$` is written `$$`; environment variables are taken as they are.
#
# Reproducible: every mtime is SOURCE_DATE_EPOCH (default: the last commit's time), entries
# are sorted, inodes renumbered, device numbers dropped, gzip -n. Needs root (the image's
# /dev/console is a device node, mknod c 5 1; the tree keeps its owners).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=base.sh
. "$HERE/base.sh"
REPO=$(cd "$HERE/../.." && pwd)

die() { printf 'mkinitramfs: %s\n' "$*" >&2; exit 1; }
log() { printf 'mkinitramfs: %s\n' "$*" >&2; }

arch=${ARCH:-}
out=${INITRAMFS_OUT:-}
bin_dir=${INITRAMFS_BIN_DIR:-}
busybox=${BUSYBOX:-}
machine=${INITRAMFS_MACHINE:-appliance}
tree=${INITRAMFS_TREE:-}
boot=${INITRAMFS_BOOT:-}
command=${INITRAMFS_CMD:-}
options=${INITRAMFS_OPTIONS:-}
nspawn=${INITRAMFS_NSPAWN:-}
on_exit=${INITRAMFS_ON_EXIT:-poweroff}
rc=${INITRAMFS_RC:-}
files=${INITRAMFS_FILES:-}

while [ $# -gt 0 ]; do
    opt=$1
    case $opt in
        --boot) boot=1; shift; continue ;;
        --no-boot) boot=0; shift; continue ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        --arch | --output | -o | --bin-dir | --busybox | --machine | --tree | --command | --options | \
            --nspawn | --on-exit | --rc | --files) ;;
        *) die "$opt: unknown option (--help lists them)" ;;
    esac
    [ $# -ge 2 ] || die "$opt: needs a value"
    case $opt in
        --arch) arch=$2 ;;
        --output | -o) out=$2 ;;
        --bin-dir) bin_dir=$2 ;;
        --busybox) busybox=$2 ;;
        --machine) machine=$2 ;;
        --tree) tree=$2 ;;
        --command) command=$2 ;;
        --options) options=$2 ;;
        --nspawn) nspawn=$2 ;;
        --on-exit) on_exit=$2 ;;
        --rc) rc=$2 ;;
        --files) files=$2 ;;
    esac
    shift 2
done

# ------------------------------------------------------------------------ checks ----
host_arch=$(uname -m)
arch=${arch:-$host_arch}
# ARCH: Debian's name, and what file(1) says of an ELF of that architecture.
case $arch in
    x86_64 | amd64) arch=x86_64 deb_arch=amd64 elf='ELF 64-bit LSB .*, x86-64' ;;
    aarch64 | arm64) arch=aarch64 deb_arch=arm64 elf='ELF 64-bit LSB .*, ARM aarch64' ;;
    armv7 | armhf) arch=armv7 deb_arch=armhf elf='ELF 32-bit LSB .*, ARM, EABI5' ;;
    *) die "ARCH=$arch: not one of x86_64, aarch64, armv7" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root: the image's /dev/console is a device node (mknod), and the tree keeps its owners"
for t in file gzip find sort mknod dpkg-deb; do
    command -v "$t" >/dev/null || die "$t is missing"
done
# The cpio writer runs here: the host's busybox (busybox-static, `make deps`), whatever ARCH.
busybox_host=/bin/busybox
"$busybox_host" cpio --help 2>&1 | grep -q -- --renumber-inodes ||
    die "$busybox_host: no busybox with cpio --renumber-inodes (install busybox-static: make deps)"
case $machine in
    '' | *[!A-Za-z0-9._-]* | [.-]*) die "machine name \"$machine\": use letters, digits, '.', '_' and '-' (not first)" ;;
esac
case $on_exit in poweroff | reboot | restart | shell) ;; *) die "INITRAMFS_ON_EXIT=$on_exit: not poweroff, reboot, restart or shell" ;; esac
case $boot in '' | 0 | 1) ;; *) die "INITRAMFS_BOOT=$boot: 1 or 0" ;; esac
[ -z "$tree" ] || [ -d "$tree" ] || die "INITRAMFS_TREE=$tree: no such directory"
[ -z "$nspawn" ] || [ -f "$nspawn" ] || die "INITRAMFS_NSPAWN=$nspawn: no such file"
[ -z "$rc" ] || [ -f "$rc" ] || die "INITRAMFS_RC=$rc: no such file"
[ -z "$files" ] || [ -d "$files" ] || die "INITRAMFS_FILES=$files: no such directory"

if [ -z "$bin_dir" ]; then
    if [ "$arch" = "$host_arch" ]; then bin_dir=$REPO/build; else bin_dir=$REPO/build/$arch; fi
fi
out=${out:-$bin_dir/initramfs.cpio.gz}

# check_elf WHAT FILE: FILE is a static ELF of ARCH.
check_elf() {
    local what=$1 f=$2 desc
    desc=$(file -L "$f") || die "$what: cannot read $f"
    desc=${desc#"$f": }
    grep -Eq "$elf" <<<"$desc" || die "$what: $f is not for $arch: $desc"
    grep -Eq 'statically linked|static-pie linked' <<<"$desc" || die "$what: $f is not static: $desc"
}
[ "$arch" = "$host_arch" ] && make_build='make build' || make_build="make build ARCH=$arch"
for b in spawnbox spawnbox-init; do
    [ -f "$bin_dir/$b" ] || die "$bin_dir/$b not found: run '$make_build' first (or --bin-dir DIR)"
    check_elf "$b" "$bin_dir/$b"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mkinitramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -z "$busybox" ]; then
    if [ "$arch" = "$host_arch" ]; then
        busybox=/bin/busybox
        [ -x "$busybox" ] || die "no $busybox: install busybox-static (make deps), or BUSYBOX=FILE"
    else
        # Debian's busybox-static of ARCH, downloaded once (packaging/cross/foreign-deb.sh),
        # unpacked here, never installed.
        fetch=$REPO/packaging/cross/foreign-deb.sh
        [ -f "$fetch" ] || die "$fetch is missing (it downloads foreign .debs); or BUSYBOX=FILE"
        deb=$(bash "$fetch" "$deb_arch" busybox-static) || die "cannot download busybox-static for $deb_arch"
        dpkg-deb -x "$deb" "$work/busybox-deb"
        busybox=$work/busybox-deb/bin/busybox
    fi
fi
check_elf busybox "$busybox"

# tree_file TREE PATH: PATH inside TREE with its symbolic links resolved inside TREE, as the
# container sees it (at most 16 links).
tree_file() {
    local t=$1 p=$2 n=0 l
    while [ -L "$t$p" ] && [ $n -lt 16 ]; do
        l=$(readlink "$t$p")
        case $l in /*) p=$l ;; *) p=${p%/*}/$l ;; esac
        n=$((n + 1))
    done
    printf '%s\n' "$t$p"
}
if [ -n "$tree" ]; then
    # A tree of another architecture would only fail at the first boot.
    for p in /sbin/init /bin/sh; do
        f=$(tree_file "$tree" "$p")
        [ -f "$f" ] || continue
        desc=$(file -L "$f")
        case $desc in *ELF*) grep -Eq "$elf" <<<"$desc" || die "INITRAMFS_TREE=$tree: $p is not for $arch: ${desc#"$f": }" ;; esac
        break
    done
fi

# ------------------------------------------------------------------------- image ----
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,root,mnt,etc/spawnbox,lib/modules,var/lib/machines}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root" "$root/var/lib/machines"

# busybox and its applets, spawnbox-init as /init, /dev/console (base.sh).
applets=$work/busybox.applets
bash "$HERE/busybox-applets.sh" "$busybox" >"$applets" || die "cannot list the applets of $busybox"
initramfs_base "$root" "$busybox" "$applets" "$bin_dir/spawnbox-init"
install -m 0755 "$bin_dir/spawnbox" "$root/usr/bin/spawnbox"
ln -s spawnbox "$root/usr/bin/spawnctl"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

mtree=$root/var/lib/machines/$machine
if [ -n "$tree" ]; then
    mkdir "$mtree"
    cp -a "$tree/." "$mtree/"
else
    BUSYBOX=$busybox BUSYBOX_APPLETS=$applets bash "$REPO/tests/mkrootfs.sh" "$mtree" >&2
    cat >"$mtree/etc/inittab" <<'EOF'
# /etc/inittab of the appliance's default busybox tree (packaging/initramfs/mkinitramfs.sh):
# busybox init, a shell on the console once Enter is pressed; `poweroff` in it ends the
# machine and, with the appliance's default APPLIANCE_ON_EXIT, the whole machine.
::askfirst:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
EOF
fi
[ -z "$nspawn" ] || install -m 0644 "$nspawn" "$root/etc/spawnbox/$machine.nspawn"

# spawnbox's options: -b unless a command or a settings file decides (INITRAMFS_BOOT beats both).
if [ "$boot" = 1 ] || { [ -z "$boot" ] && [ -z "$command" ] && [ -z "$nspawn" ]; }; then
    options="-b${options:+ $options}"
fi
# shq WORDS: WORDS in single quotes for sh.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
if [ -n "$rc" ]; then
    install -m 0755 "$rc" "$root/etc/spawnbox-init.rc"
else
    {
        echo "# Written by mkinitramfs.sh on its options (default: as given there):"
        echo "set_default APPLIANCE_MACHINE $(shq "$machine")"
        echo "set_default APPLIANCE_OPTIONS $(shq "$options")"
        echo "set_default APPLIANCE_COMMAND $(shq "$command")"
        echo "set_default APPLIANCE_ON_EXIT $(shq "$on_exit")"
    } >"$work/settings"
    sed -e "/^# @SETTINGS@\$/{r $work/settings" -e 'd}' "$HERE/appliance.rc" >"$root/etc/spawnbox-init.rc"
    chmod 0755 "$root/etc/spawnbox-init.rc"
fi
[ -z "$files" ] || cp -a "$files/." "$root/"

# -------------------------------------------------------------------------- cpio ----
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 0)}
find "$root" -depth -exec touch -h -d "@$epoch" {} +
mkdir -p "$(dirname "$out")"
(cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    "$busybox_host" cpio -o -H newc -0 --renumber-inodes --ignore-devno 2>/dev/null) |
    gzip -n -9 >"$out.tmp"
mv -f "$out.tmp" "$out"

entries=$(cd "$root" && find . -mindepth 1 | wc -l)
unpacked=$(du -sk --apparent-size "$root" | cut -f1)
log "$out: $(stat -c %s "$out") bytes ($arch, $entries entries, ${unpacked} KiB unpacked; machine $machine: spawnbox -M $machine${options:+ $options}${command:+ -- $command}; on exit: $on_exit)"
printf '%s\n' "$out"
