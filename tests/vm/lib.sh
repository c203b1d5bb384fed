# shellcheck shell=bash
# tests/vm/lib.sh - the VM test library: boot a stock Debian kernel under qemu (TCG) with an
# initramfs whose /init is spawnbox-init, and check the console for expected lines.
#
# Sourced by tests/vm/run.sh. A *case* is a directory under tests/vm/cases/:
#
#   rc       shell script; becomes /etc/spawnbox-init.rc (the init's default command)
#   expect   lines (fixed strings) that must appear on the console, in this order
#   reject   optional: lines that must not appear anywhere
#   files/   optional: a tree copied over the initramfs root (e.g. files/etc/hostname)
#   config   optional: bash, sourced before the boot; may set
#              CASE_INIT_ARGS  words after "--" on the kernel command line (the init's argv)
#              CASE_APPEND     extra kernel parameters
#              CASE_MODULES    kernel modules to put in /lib/modules (dependencies added,
#                              load order in /lib/modules/load-order; insmod them in rc)
#              CASE_TIMEOUT    seconds before qemu is killed (default $VM_TIMEOUT)
#              CASE_MEM, CASE_SMP
#            and define case_prepare ROOT, called with the initramfs root to add anything
#            else; `vm_add_spawnbox ROOT` there adds /sbin/spawnbox, a busybox rootfs at
#            /rootfs and the guest helpers of tests/vm/guest/ (container tests).
#
# A case whose config defines case_initramfs OUT makes its whole image at OUT itself (rc,
# files/, CASE_MODULES and case_prepare are then not used): 70-initramfs-appliance boots
# exactly what `make initramfs` makes.
#
# The initramfs has busybox (every applet linked in /bin), /init and /sbin/spawnbox-init,
# and /sbin/poweroff, /sbin/reboot, /sbin/halt linked to spawnbox-init. PATH puts /sbin
# first, so `poweroff` in rc is ours; `busybox poweroff` is busybox's (SIGUSR2 to PID 1).
#
# Everything downloaded is cached in $VM_CACHE (default /var/cache/spawnbox-vm), which
# survives `make clean` and fresh clones: the kernel .deb (apt-get download, unpacked with
# dpkg-deb -x, never installed) and the vmlinux extracted from it for PVH boot.
#
# Environment: VM_CACHE, VM_INIT (default $REPO/build/spawnbox-init), VM_KERNEL_PKG
# (default linux-image-amd64, resolved once to the versioned package), VM_TIMEOUT (default
# 60), VM_MEM (256), VM_SMP (1), VM_KEEP=1 keeps the work directory and console logs,
# VM_VERBOSE=1 echoes the console while booting, VM_REFRESH=1 re-resolves the kernel
# metapackage (a newer kernel is then downloaded once).

VM_CACHE=${VM_CACHE:-/var/cache/spawnbox-vm}
VM_KERNEL_PKG=${VM_KERNEL_PKG:-linux-image-amd64}
VM_TIMEOUT=${VM_TIMEOUT:-60}
VM_MEM=${VM_MEM:-256}
VM_SMP=${VM_SMP:-1}
VM_KEEP=${VM_KEEP:-0}
VM_VERBOSE=${VM_VERBOSE:-0}

# Lines that fail every case.
VM_GLOBAL_REJECT=("Kernel panic" "spawnbox-init: internal error" "end Kernel panic")

vm_log() { printf 'vm: %s\n' "$*" >&2; }
vm_die() { vm_log "error: $*"; exit 1; }

# apt-get download as root: tell apt not to drop to the _apt user.
VM_APT_DL=(-o APT::Sandbox::User=root)

# Make sure apt knows package $1 (apt-get update once if it does not).
vm_apt_lists_updated=0
vm_ensure_apt_lists() {
    if apt-cache show "$1" >/dev/null 2>&1; then return 0; fi
    [ "$vm_apt_lists_updated" = 0 ] || vm_die "package $1 not found in apt lists"
    vm_log "apt-get update (apt does not know $1 yet)"
    apt-get update -qq >&2
    vm_apt_lists_updated=1
    apt-cache show "$1" >/dev/null 2>&1 || vm_die "package $1 not found in apt lists"
}

# Download the candidate .deb of $1 into the cache (once); print its path.
vm_fetch_deb() {
    local pkg=$1 dir=$VM_CACHE/debs ver f tmp
    mkdir -p "$dir"
    # shellcheck disable=SC2012 # package file names are plain
    f=$(ls "$dir/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
    if [ -n "$f" ]; then printf '%s\n' "$f"; return 0; fi
    vm_ensure_apt_lists "$pkg"
    ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
    [ -n "$ver" ] && [ "$ver" != "(none)" ] || vm_die "no candidate version for $pkg"
    tmp=$(mktemp -d "$dir/.dl.XXXXXX")
    vm_log "apt-get download $pkg=$ver"
    (cd "$tmp" && apt-get "${VM_APT_DL[@]}" download -qq "$pkg=$ver" >&2) || { rm -rf "$tmp"; vm_die "download of $pkg failed"; }
    mv "$tmp"/*.deb "$dir"/
    rmdir "$tmp"
    # shellcheck disable=SC2012 # package file names are plain
    ls "$dir/${pkg}_"*.deb | head -n1
}

# Unpack .deb $1 into $2 (once, atomically).
vm_unpack_deb() {
    local deb=$1 dest=$2 tmp
    [ -d "$dest" ] && return 0
    tmp=$(mktemp -d "$dest.tmp.XXXXXX")
    dpkg-deb -x "$deb" "$tmp"
    mv "$tmp" "$dest"
}

# Run an apt-get install quietly; its output goes to $VM_CACHE/install.log, shown on failure.
vm_apt_install() {
    if ! DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o DPkg::Lock::Timeout=300 "$@" \
        >>"$VM_CACHE/install.log" 2>&1; then
        tail -n 30 "$VM_CACHE/install.log" >&2
        vm_die "apt-get $* failed (log: $VM_CACHE/install.log)"
    fi
}

# ---------------------------------------------------------------------------- tools ----
# qemu-system-x86 without removing the qemu-utils the image has from bookworm-backports: a
# plain install of bookworm's qemu-system-x86 would remove it, so take it from the same
# backports suite through a private sources.list.d (nothing in /etc/apt changes).
vm_ensure_qemu() {
    command -v qemu-system-x86_64 >/dev/null 2>&1 && return 0
    vm_ensure_apt_lists qemu-system-x86
    local plan
    plan=$(apt-get -s install --no-install-recommends qemu-system-x86 2>/dev/null || true)
    if grep -q '^Remv' <<<"$plan"; then
        local codename repo parts f
        codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
        # shellcheck disable=SC2016 # apt's own $(FIELD) syntax
        repo=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 'Identifier: Packages' |
            awk -v c="$codename" '$1 == c {print $2; exit}')
        [ -n "$repo" ] || vm_die "cannot find the Debian mirror for $codename in apt's sources"
        parts=$VM_CACHE/apt/sources.list.d
        rm -rf "$parts"
        mkdir -p "$parts"
        for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] && cp "$f" "$parts/"
        done
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $repo $codename-backports main" \
            >"$parts/spawnbox-vm-backports.list"
        vm_log "installing qemu-system-x86 from $codename-backports (--no-install-recommends)"
        vm_apt_install -o Dir::Etc::SourceParts="$parts" update
        vm_apt_install -o Dir::Etc::SourceParts="$parts" install --no-install-recommends \
            -t "$codename-backports" qemu-system-x86
    else
        vm_log "installing qemu-system-x86 (--no-install-recommends)"
        vm_apt_install install --no-install-recommends qemu-system-x86
    fi
    command -v qemu-system-x86_64 >/dev/null 2>&1 || vm_die "qemu-system-x86_64 still missing"
}

BUSYBOX=
vm_ensure_busybox() {
    if ! dpkg -s busybox-static >/dev/null 2>&1; then
        vm_ensure_apt_lists busybox-static
        vm_log "installing busybox-static"
        vm_apt_install install --no-install-recommends busybox-static
    fi
    BUSYBOX=/bin/busybox
    "$BUSYBOX" --list >/dev/null || vm_die "$BUSYBOX does not run"
}

# --------------------------------------------------------------------------- kernel ----
KROOT='' KVER='' MODDIR='' KERNEL_IMAGE=''
vm_ensure_kernel() {
    local pkg=$VM_KERNEL_PKG resolved=$VM_CACHE/kernel.pkg
    # The metapackage depends on the versioned image; resolve it once so that later runs
    # work from the cache alone.
    if [ "$pkg" = linux-image-amd64 ]; then
        if [ "${VM_REFRESH:-0}" = 1 ] || [ ! -s "$resolved" ]; then
            vm_ensure_apt_lists linux-image-amd64
            apt-cache depends linux-image-amd64 |
                awk '/Depends: linux-image-/ {print $2; exit}' >"$resolved.tmp"
            [ -s "$resolved.tmp" ] || vm_die "cannot resolve linux-image-amd64"
            mv "$resolved.tmp" "$resolved"
        fi
        pkg=$(cat "$resolved")
    fi
    KROOT=$VM_CACHE/kernel/$pkg
    if [ ! -d "$KROOT" ]; then
        mkdir -p "$VM_CACHE/kernel"
        vm_unpack_deb "$(vm_fetch_deb "$pkg")" "$KROOT"
    fi
    # shellcheck disable=SC2012 # bookworm: lib/modules, newer: usr/lib/modules
    MODDIR=$(ls -d "$KROOT"/lib/modules/*/ "$KROOT"/usr/lib/modules/*/ 2>/dev/null | head -n1 || true)
    MODDIR=${MODDIR%/}
    KVER=${MODDIR##*/}
    [ -f "$KROOT/boot/vmlinuz-$KVER" ] || vm_die "no vmlinuz in $KROOT"
    vm_pick_kernel_image
}

# Debian's vmlinuz is an xz-compressed bzImage; decompressing it costs ~2.7 s per boot under
# TCG. With CONFIG_PVH=y qemu boots the ELF vmlinux directly, so extract it once.
vm_pick_kernel_image() {
    local vmlinuz=$KROOT/boot/vmlinuz-$KVER out=$VM_CACHE/kernel/vmlinux-$KVER off
    KERNEL_IMAGE=$vmlinuz
    grep -q '^CONFIG_PVH=y' "$KROOT/boot/config-$KVER" 2>/dev/null || return 0
    if [ ! -s "$out" ]; then
        off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" 2>/dev/null | head -n1 | cut -d: -f1 || true)
        [ -n "$off" ] || { vm_log "no xz payload in vmlinuz, booting the bzImage"; return 0; }
        tail -c +"$((off + 1))" "$vmlinuz" | xz -dc --single-stream >"$out.tmp" 2>/dev/null || true
        if [ "$(head -c 4 "$out.tmp" | od -An -c | tr -d ' ')" != '177ELF' ]; then
            rm -f "$out.tmp"
            vm_log "vmlinux extraction failed, booting the bzImage"
            return 0
        fi
        mv "$out.tmp" "$out"
    fi
    KERNEL_IMAGE=$out
}

# -------------------------------------------------------------------------- modules ----
# The .deb ships no modules.dep: read each module's depends= from its .modinfo and order
# dependencies first.
declare -A VM_MOD_PATH=()
vm_index_modules() {
    [ "${#VM_MOD_PATH[@]}" -gt 0 ] && return 0
    local f n
    while IFS= read -r f; do
        n=${f##*/}; n=${n%%.ko*}; n=${n//-/_}
        VM_MOD_PATH[$n]=$f
    done < <(find "$MODDIR/kernel" -name '*.ko*')
}
vm_mod_cat() {
    case $1 in
        *.ko.xz) xz -dc "$1" ;;
        *.ko.zst) zstd -qdc "$1" ;;
        *.ko.gz) gzip -dc "$1" ;;
        *) cat "$1" ;;
    esac
}
# "softdep=pre: crc32c" names aliases, which only depmod's modules.alias maps to files.
# Best effort without kmod: the name itself, without "crypto-", and "<base>_generic".
vm_mod_softdeps() {
    vm_mod_cat "$1" | tr '\0' '\n' | sed -n 's/^softdep=//p' |
        awk '{pre=0; for (i=1;i<=NF;i++) { if ($i=="pre:") pre=1; else if ($i ~ /:$/) pre=0; else if (pre) print $i }}'
}
vm_is_builtin() {
    grep -q "/$1\.ko\|/${1//_/-}\.ko" "$MODDIR/modules.builtin" 2>/dev/null
}
# Print the load order for modules "$@" (dependencies first, each once).
vm_module_order() {
    vm_index_modules
    local -A seen=()
    local -a order=()
    _vm_add_softdep() {
        local a=${1#crypto-} c base
        base=${a%%-*}
        for c in "$a" "${a}_generic" "${base}_generic" "${base%%[0-9]*}_generic"; do
            c=${c//-/_}
            if [ -n "${VM_MOD_PATH[$c]:-}" ]; then _vm_add "$c"; return 0; fi
            vm_is_builtin "$c" && return 0
        done
        vm_log "warning: soft dependency '$1' not resolved (add its module to CASE_MODULES if insmod fails)"
    }
    _vm_add() {
        local n=${1//-/_} d
        [ -n "${seen[$n]:-}" ] && return 0
        seen[$n]=1
        if [ -z "${VM_MOD_PATH[$n]:-}" ]; then
            vm_is_builtin "$n" && return 0
            vm_die "module $1 not found under $MODDIR"
        fi
        for d in $(vm_mod_softdeps "${VM_MOD_PATH[$n]}"); do _vm_add_softdep "$d"; done
        for d in $(vm_mod_cat "${VM_MOD_PATH[$n]}" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '); do
            _vm_add "$d"
        done
        order+=("$n")
    }
    local m
    for m in "$@"; do _vm_add "$m"; done
    printf '%s\n' "${order[@]}"
}

# ------------------------------------------------------------------------ initramfs ----
# vm_build_initramfs CASE_DIR ROOT OUT: the initramfs for one case.
vm_build_initramfs() {
    local case_dir=$1 root=$2 out=$3 a m
    if declare -F case_initramfs >/dev/null; then case_initramfs "$out"; return; fi
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,run,tmp,etc,lib/modules}
    cp "$BUSYBOX" "$root/bin/busybox"
    for a in $("$BUSYBOX" --list); do
        case $a in busybox | init | linuxrc | poweroff | reboot | halt) continue ;; esac
        ln -s busybox "$root/bin/$a"
    done
    install -m 0755 "$VM_INIT" "$root/sbin/spawnbox-init"
    ln -s sbin/spawnbox-init "$root/init"
    for a in poweroff reboot halt; do ln -s spawnbox-init "$root/sbin/$a"; done
    # The console must exist before devtmpfs is mounted, or the kernel starts init without
    # stdio (spawnbox-init would then open it itself).
    mknod -m 600 "$root/dev/console" c 5 1
    [ -f "$case_dir/rc" ] && install -m 0755 "$case_dir/rc" "$root/etc/spawnbox-init.rc"
    [ -d "$case_dir/files" ] && cp -a "$case_dir/files/." "$root/"
    if [ -n "${CASE_MODULES:-}" ]; then
        # vm_module_order runs in a subshell below: build the module index out here first.
        vm_index_modules
        # shellcheck disable=SC2086 # a word list
        for m in $(vm_module_order $CASE_MODULES); do
            vm_mod_cat "${VM_MOD_PATH[$m]}" >"$root/lib/modules/$m.ko"
            echo "$m" >>"$root/lib/modules/load-order"
        done
    fi
    if declare -F case_prepare >/dev/null; then case_prepare "$root"; fi
    (cd "$root" && find . -print | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out"
}

# vm_add_spawnbox ROOT: for container tests, from a case's case_prepare: the launcher
# ($VM_SPAWNBOX, default $REPO/build/spawnbox) as /sbin/spawnbox, a busybox rootfs
# (tests/mkrootfs.sh) at /rootfs, and the guest-side helpers tests/vm/guest/*.sh in
# /etc/vmtest/ (the rc sources them).
vm_add_spawnbox() {
    local root=$1 sb=${VM_SPAWNBOX:-$REPO/build/spawnbox} f
    [ -x "$sb" ] || vm_die "$sb not found: run 'make build' (or set VM_SPAWNBOX)"
    install -m 0755 "$sb" "$root/sbin/spawnbox"
    BUSYBOX=$BUSYBOX bash "$REPO/tests/mkrootfs.sh" "$root/rootfs" >&2
    mkdir -p "$root/etc/vmtest"
    for f in "$REPO"/tests/vm/guest/*.sh; do
        [ -f "$f" ] && install -m 0644 "$f" "$root/etc/vmtest/"
    done
    return 0
}

# ------------------------------------------------------------------------------ boot ----
# vm_boot INITRD LOG APPEND TIMEOUT: boot under TCG; returns qemu's exit status (124 on
# timeout). -no-reboot makes the guest's reboot end qemu too.
vm_boot() {
    local initrd=$1 logf=$2 append=$3 tmo=$4 rc=0
    local -a qemu=(qemu-system-x86_64 -nodefaults -no-user-config -machine q35
        -accel tcg -cpu max -m "${CASE_MEM:-$VM_MEM}" -smp "${CASE_SMP:-$VM_SMP}"
        -kernel "$KERNEL_IMAGE" -initrd "$initrd" -append "$append"
        -display none -monitor none -serial stdio -no-reboot)
    if [ "$VM_VERBOSE" = 1 ]; then
        timeout --kill-after=5 "$tmo" "${qemu[@]}" </dev/null 2>&1 | tee "$logf" >&2 || rc=${PIPESTATUS[0]}
    else
        timeout --kill-after=5 "$tmo" "${qemu[@]}" </dev/null >"$logf" 2>&1 || rc=$?
    fi
    return "$rc"
}

# vm_check_log LOG CASE_DIR: expected lines in order, rejected lines nowhere. Prints
# problems; returns non-zero on any.
vm_check_log() {
    local logf=$1 case_dir=$2 line at=0 n bad=0
    # The console has \r\n line ends.
    tr -d '\r' <"$logf" >"$logf.txt"
    while IFS= read -r line || [ -n "$line" ]; do
        [ -n "$line" ] || continue
        n=$(tail -n +"$((at + 1))" "$logf.txt" | grep -n -F -m1 -- "$line" | cut -d: -f1 || true)
        if [ -n "$n" ]; then
            at=$((at + n))
        else
            vm_log "  missing: $line"
            bad=1
        fi
    done <"$case_dir/expect"
    local -a reject=("${VM_GLOBAL_REJECT[@]}")
    if [ -f "$case_dir/reject" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            [ -n "$line" ] && reject+=("$line")
        done <"$case_dir/reject"
    fi
    for line in "${reject[@]}"; do
        if grep -q -F -- "$line" "$logf.txt"; then
            vm_log "  unexpected: $(grep -F -m1 -- "$line" "$logf.txt")"
            bad=1
        fi
    done
    return "$bad"
}

# vm_run_case CASE_DIR WORK: build, boot, check one case. Returns 0 when it passed.
vm_run_case() {
    local case_dir=$1 work=$2 name rc=0 t0 t1 append
    name=${case_dir%/}; name=${name##*/}
    [ -f "$case_dir/expect" ] || { vm_log "$name: no expect file"; return 1; }
    (
        # A subshell, so that one case's config cannot leak into the next.
        CASE_INIT_ARGS='' CASE_APPEND='' CASE_MODULES='' CASE_TIMEOUT='' CASE_MEM='' CASE_SMP=''
        # shellcheck disable=SC1091
        [ -f "$case_dir/config" ] && . "$case_dir/config"
        mkdir -p "$work/$name"
        vm_build_initramfs "$case_dir" "$work/$name/root" "$work/$name/initrd.gz"
        append="console=ttyS0 panic=-1 quiet ${CASE_APPEND:-}"
        [ -n "${CASE_INIT_ARGS:-}" ] && append="$append -- $CASE_INIT_ARGS"
        t0=$(date +%s.%N)
        vm_boot "$work/$name/initrd.gz" "$work/$name/console.log" "$append" "${CASE_TIMEOUT:-$VM_TIMEOUT}" || rc=$?
        t1=$(date +%s.%N)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
        bad=0
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            vm_log "  timed out after ${CASE_TIMEOUT:-$VM_TIMEOUT}s"
            bad=1
        elif [ "$rc" != 0 ]; then
            vm_log "  qemu exit status $rc"
            bad=1
        fi
        vm_check_log "$work/$name/console.log" "$case_dir" || bad=1
        if [ "$bad" = 0 ]; then
            printf 'PASS %s (%ss)\n' "$name" "$secs"
        else
            printf 'FAIL %s (%ss); console:\n' "$name" "$secs"
            tr -d '\r' <"$work/$name/console.log" | tail -n 40 | sed 's/^/    | /'
            exit 1
        fi
    )
}

# vm_add_host_libs ROOT ELF...: every shared library that ldd lists for the host's ELF files,
# and the dynamic loader, at their host paths in the initramfs ROOT.
vm_add_host_libs() {
    local root=$1 f lib
    shift
    for f in "$@"; do
        for lib in $(ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
            [ -e "$root$lib" ] && continue
            mkdir -p "$root${lib%/*}"
            cp -L "$lib" "$root$lib"
        done
    done
}

# vm_add_host_bins ROOT PROG...: the host's dynamically linked programs PROG (paths, or names
# looked up in PATH) at their host paths in the initramfs ROOT, with their libraries and the
# loader (vm_add_host_libs), so that they run in the guest as on the host.
vm_add_host_bins() {
    local root=$1 p bin
    shift
    for p in "$@"; do
        bin=$(command -v "$p") || vm_die "$p is missing on the host"
        mkdir -p "$root${bin%/*}"
        # Not through a busybox applet link of the same name.
        rm -f "$root$bin"
        cp -L "$bin" "$root$bin"
        vm_add_host_libs "$root" "$bin"
    done
}
