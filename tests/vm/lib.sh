# shellcheck shell=bash
# tests/vm/lib.sh - the VM test library: boot a stock Debian kernel under qemu (TCG) with an
# initramfs whose /init is spawnbox-init, and check the console for expected lines.
#
# Sourced by tests/vm/run.sh. A *case* is a directory under tests/vm/cases/:
#
#   rc       shell script; becomes /etc/spawnbox-init.rc (the init's default command)
#   expect   lines (fixed strings) that must appear on the console, in this order
#   reject   optional: lines that must not appear anywhere
#   arches   optional: the guest architectures (VM_ARCH) the case runs on, one line of words;
#            without it, x86_64 only. Cases that use only busybox, spawnbox and spawnbox-init
#            run everywhere; cases that bring host programs (vm_add_host_bins) cannot.
#   files/   optional: a tree copied over the initramfs root (e.g. files/etc/hostname)
#   config   optional: bash, sourced before the boot; may set
#              CASE_INIT_ARGS  words after "--" on the kernel command line (the init's argv)
#              CASE_APPEND     extra kernel parameters (NAME=VALUE words the kernel does not
#                              know end up in the init's environment, and the rc's)
#              CASE_MODULES    kernel modules to put in /lib/modules (dependencies added,
#                              load order in /lib/modules/load-order; insmod them in rc)
#              CASE_TIMEOUT    seconds before qemu is killed (default $VM_TIMEOUT)
#              CASE_MEM, CASE_SMP
#            and define case_prepare ROOT, called with the initramfs root to add anything
#            else; `vm_add_spawnbox ROOT` there adds /sbin/spawnbox, a busybox rootfs at
#            /rootfs and the guest helpers of tests/vm/guest/ (container tests). VM_ARCH is
#            set; `vm_skip REASON` there skips the case (a prerequisite is missing), and
#            `vm_check_elf FILE` dies unless FILE is a binary for the guest.
#
# A case whose config defines case_initramfs OUT makes its whole image at OUT itself (rc,
# files/, CASE_MODULES and case_prepare are then not used): 70-initramfs-appliance boots
# exactly what `make initramfs` makes.
#
# The initramfs has busybox (every applet linked in /bin), /init and /sbin/spawnbox-init,
# and /sbin/poweroff, /sbin/reboot, /sbin/halt linked to spawnbox-init. PATH puts /sbin
# first, so `poweroff` in rc is ours; `busybox poweroff` is busybox's (SIGUSR2 to PID 1).
#
# Guest architectures: VM_ARCH=x86_64 (default) or aarch64, one row each in vm_arch_rows
# below (qemu, machine, console, Debian architecture, kernel image, where `make build` puts
# the binaries). For a foreign architecture, the kernel and busybox-static .debs come from
# Debian through a private apt state in $VM_CACHE/apt-foreign/DEB_ARCH (nothing installed).
#
# Everything downloaded is cached in $VM_CACHE (default /var/cache/spawnbox-vm), which
# survives `make clean` and fresh clones: the .debs in debs/ (apt-get download, named
# PACKAGE_VERSION_ARCH.deb), each unpacked once (dpkg-deb -x, never installed) under
# kernel/PACKAGE or busybox/PACKAGE_VERSION_ARCH, the metapackage linux-image-DEB_ARCH
# resolved once in kernel-DEB_ARCH.pkg, and the boot image made from the kernel once
# (kernel/vmlinux-KVER, kernel/Image-KVER).
#
# Environment: VM_ARCH, VM_CACHE, VM_INIT (default BUILD/spawnbox-init), VM_SPAWNBOX (default
# BUILD/spawnbox), where BUILD is $REPO/build for x86_64 and $REPO/build/ARCH otherwise,
# VM_KERNEL_PKG (default linux-image-DEB_ARCH, resolved once to the versioned package),
# VM_TIMEOUT (default 60, times the architecture's slowdown), VM_MEM (256), VM_SMP (1),
# VM_JOBS (cases booted at once; default: the table's), VM_KEEP=1 keeps the work directory and
# console logs, VM_VERBOSE=1 echoes the console while booting, VM_REFRESH=1 re-resolves the
# kernel metapackage and busybox-static (newer versions are then downloaded once).

# The initramfs base shared with `make initramfs`.
# shellcheck source=../../packaging/initramfs/base.sh
. "$REPO/packaging/initramfs/base.sh"

VM_ARCH=${VM_ARCH:-x86_64}
VM_CACHE=${VM_CACHE:-/var/cache/spawnbox-vm}
VM_TIMEOUT=${VM_TIMEOUT:-60}
VM_MEM=${VM_MEM:-256}
VM_SMP=${VM_SMP:-1}
VM_JOBS=${VM_JOBS:-}
VM_KEEP=${VM_KEEP:-0}
VM_VERBOSE=${VM_VERBOSE:-0}

# Lines that fail every case.
VM_GLOBAL_REJECT=("Kernel panic" "spawnbox-init: internal error" "end Kernel panic")

vm_log() { printf 'vm: %s\n' "$*" >&2; }
vm_die() { vm_log "error: $*"; exit 1; }

# --------------------------------------------------------------------- architectures ----
# One row per guest architecture:
#   arch     VM_ARCH (the first word of the Rust target triple)
#   deb      Debian's name for it: linux-image-DEB and busybox-static:DEB come from Debian
#   qemu     the qemu-system binary, and the Debian package that has it
#   machine  -machine; cpu: -cpu under TCG (cortex-a57: -cpu max adds pointer
#            authentication, which TCG emulates slowly)
#   console  the serial port the kernel's console= names
#   image    what qemu boots: vmlinux = the ELF inside Debian's xz bzImage (PVH boot; saves
#            ~2.7 s of decompression in the guest per boot), Image = the arm64 Image
#            (Debian's vmlinuz, unpacked once if it is gzipped)
#   elf      e_machine of the guest's binaries (EM_X86_64 62, EM_AARCH64 183)
#   slow     VM_TIMEOUT and CASE_TIMEOUT are multiplied by it: a margin for the emulation
#            of another architecture (aarch64's cases measured about as long as x86_64's,
#            but two boot at once there and the cases' timeouts were set on x86_64)
#   jobs     cases booted at once unless VM_JOBS says (at most the host's CPUs): x86_64's
#            set runs one at a time as it always has; aarch64's, 2.5 min one at a time on 2
#            CPUs, takes 1.2 min two at a time (each guest has 1 or 2 vCPUs)
#   build    where `make build` (with ARCH=) puts spawnbox and spawnbox-init, in the repo
vm_arch_rows() {
    cat <<'ROWS'
# arch   deb    qemu                 package          machine  cpu         console  image    elf  slow  jobs  build
x86_64   amd64  qemu-system-x86_64   qemu-system-x86  q35      max         ttyS0    vmlinux  62   1     1     build
aarch64  arm64  qemu-system-aarch64  qemu-system-arm  virt     cortex-a57  ttyAMA0  Image    183  2     2     build/aarch64
ROWS
}

# vm_select_arch: VM_ARCH's row into VM_DEB_ARCH, VM_QEMU, VM_QEMU_PKG, VM_MACHINE, VM_CPU,
# VM_CONSOLE, VM_IMAGE, VM_ELF, VM_SLOW, VM_BUILD; and what follows from them (VM_KERNEL_PKG,
# VM_TIMEOUT, VM_JOBS, VM_MAKE_BUILD: the command that builds VM_BUILD).
vm_select_arch() {
    local a known='' jobs
    while read -r a VM_DEB_ARCH VM_QEMU VM_QEMU_PKG VM_MACHINE VM_CPU VM_CONSOLE VM_IMAGE VM_ELF VM_SLOW jobs VM_BUILD; do
        case $a in '#'*) continue ;; "$VM_ARCH") break ;; esac
        known="$known $a"
        a=''
    done < <(vm_arch_rows)
    [ -n "$a" ] || vm_die "VM_ARCH=$VM_ARCH: unknown guest architecture (known:$known)"
    # shellcheck disable=SC2153 # REPO: set by run.sh
    VM_BUILD=$REPO/$VM_BUILD
    VM_MAKE_BUILD="make build"
    [ "$VM_BUILD" = "$REPO/build" ] || VM_MAKE_BUILD="make build ARCH=$VM_ARCH"
    VM_KERNEL_PKG=${VM_KERNEL_PKG:-linux-image-$VM_DEB_ARCH}
    VM_TIMEOUT=$((VM_TIMEOUT * VM_SLOW))
    if [ -z "$VM_JOBS" ]; then
        VM_JOBS=$(nproc 2>/dev/null || echo 1)
        [ "$VM_JOBS" -le "$jobs" ] || VM_JOBS=$jobs
    fi
}

# vm_check_elf FILE WHAT: die unless FILE is an ELF executable for the guest architecture.
vm_check_elf() {
    local f=$1 what=$2 magic machine
    magic=$(od -An -tx1 -N4 "$f" 2>/dev/null | tr -d ' \n')
    machine=$(od -An -tu2 -j18 -N2 "$f" 2>/dev/null | tr -d ' \n')
    [ "$magic" = 7f454c46 ] && [ "$machine" = "$VM_ELF" ] && return 0
    vm_die "$what $f is not a binary for $VM_ARCH guests: $(file -bL "$f" 2>/dev/null | cut -d, -f1-2)" \
        "(build it with '$VM_MAKE_BUILD', or set VM_INIT / VM_SPAWNBOX)"
}

# -------------------------------------------------------------------------------- apt ----
# apt for the guest's packages (VM_APT_GUEST): the system's own for the host's architecture;
# for another, a private state (lists, archive cache, an empty dpkg status) in
# $VM_CACHE/apt-foreign/DEB over the system's sources, so that nothing of the system's apt
# changes. VM_APT_HOST: the system's, for what the host runs (qemu, busybox-static).
# As root, apt must not drop to the _apt user for downloads.
VM_APT_HOST=(-o APT::Sandbox::User=root)
VM_APT_GUEST=("${VM_APT_HOST[@]}")
vm_apt_setup() {
    VM_APT_GUEST=("${VM_APT_HOST[@]}")
    [ "$VM_DEB_ARCH" = "$(dpkg --print-architecture)" ] && return 0
    local d=$VM_CACHE/apt-foreign/$VM_DEB_ARCH
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
    touch "$d/status"
    VM_APT_GUEST+=(-o APT::Architecture="$VM_DEB_ARCH" -o APT::Architectures::="$VM_DEB_ARCH"
        -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" -o Dir::State::status="$d/status"
        -o Debug::NoLocking=1)
}

# vm_ensure_apt_lists PKG [host|guest]: make sure that apt (the host's, or the guest's by
# default) knows PKG; apt-get update once if it does not.
declare -A vm_apt_lists_updated=()
vm_ensure_apt_lists() {
    local pkg=$1 kind=${2:-guest} apt
    if [ "$kind" = host ]; then apt=("${VM_APT_HOST[@]}"); else apt=("${VM_APT_GUEST[@]}"); fi
    if apt-cache "${apt[@]}" show "$pkg" >/dev/null 2>&1; then return 0; fi
    [ -z "${vm_apt_lists_updated[$kind]:-}" ] || vm_die "package $pkg not found in apt lists"
    vm_log "apt-get update (apt does not know $pkg for the $kind yet)"
    apt-get "${apt[@]}" update -qq >&2
    vm_apt_lists_updated[$kind]=1
    apt-cache "${apt[@]}" show "$pkg" >/dev/null 2>&1 || vm_die "package $pkg not found in apt lists"
}

# vm_fetch_deb PKG: download the guest architecture's candidate .deb of PKG into the cache
# (once; VM_REFRESH=1 looks for a newer candidate); print its path.
vm_fetch_deb() {
    local pkg=$1 dir=$VM_CACHE/debs ver f tmp
    mkdir -p "$dir"
    # shellcheck disable=SC2012 # package file names are plain
    f=$(ls "$dir/${pkg}_"*"_$VM_DEB_ARCH.deb" 2>/dev/null | tail -n1 || true)
    if [ -n "$f" ] && [ "${VM_REFRESH:-0}" != 1 ]; then printf '%s\n' "$f"; return 0; fi
    vm_ensure_apt_lists "$pkg"
    ver=$(apt-cache "${VM_APT_GUEST[@]}" policy "$pkg" | sed -n 's/^ *Candidate: //p')
    if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then vm_die "no candidate version for $pkg"; fi
    # apt-get download spells an epoch's colon %3a.
    f=$dir/${pkg}_${ver//:/%3a}_$VM_DEB_ARCH.deb
    if [ -f "$f" ]; then printf '%s\n' "$f"; return 0; fi
    tmp=$(mktemp -d "$dir/.dl.XXXXXX")
    vm_log "apt-get download $pkg=$ver ($VM_DEB_ARCH)"
    (cd "$tmp" && apt-get "${VM_APT_GUEST[@]}" download -qq "$pkg=$ver" >&2) || { rm -rf "$tmp"; vm_die "download of $pkg failed"; }
    mv "$tmp"/*.deb "$dir"/
    rmdir "$tmp"
    [ -f "$f" ] || vm_die "apt-get download $pkg=$ver did not give ${f##*/}"
    printf '%s\n' "$f"
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
# The qemu-system package of the guest architecture without removing the qemu-utils the
# image has from bookworm-backports: bookworm's own qemu-system-x86 would remove it, and its
# qemu-system-arm cannot be installed next to backports' qemu-system-common at all; so when
# the plain install would remove anything or fails, take the package from the same
# backports suite through a private sources.list.d (nothing in /etc/apt changes).
vm_ensure_qemu() {
    command -v "$VM_QEMU" >/dev/null 2>&1 && return 0
    local pkg=$VM_QEMU_PKG plan
    vm_ensure_apt_lists "$pkg" host
    if plan=$(apt-get -s install --no-install-recommends "$pkg" 2>/dev/null) && ! grep -q '^Remv' <<<"$plan"; then
        vm_log "installing $pkg (--no-install-recommends)"
        vm_apt_install install --no-install-recommends "$pkg"
    else
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
        vm_log "installing $pkg from $codename-backports (--no-install-recommends)"
        vm_apt_install -o Dir::Etc::SourceParts="$parts" update
        vm_apt_install -o Dir::Etc::SourceParts="$parts" install --no-install-recommends \
            -t "$codename-backports" "$pkg"
    fi
    command -v "$VM_QEMU" >/dev/null 2>&1 || vm_die "$VM_QEMU still missing"
}

# BUSYBOX is the guest's busybox, BUSYBOX_APPLETS a file with its applet names. For the
# host's architecture that is the installed busybox-static; for another one, the binary from
# its busybox-static .deb, whose names packaging/initramfs/busybox-applets.sh reads from the
# binary (it cannot run here). HOST_BUSYBOX (the installed one) packs the initramfs.
BUSYBOX='' BUSYBOX_APPLETS='' HOST_BUSYBOX=/bin/busybox
vm_ensure_busybox() {
    if ! dpkg -s busybox-static >/dev/null 2>&1; then
        vm_ensure_apt_lists busybox-static host
        vm_log "installing busybox-static"
        vm_apt_install install --no-install-recommends busybox-static
    fi
    "$HOST_BUSYBOX" --list >/dev/null || vm_die "$HOST_BUSYBOX does not run"
    mkdir -p "$VM_CACHE/busybox"
    if [ "$VM_DEB_ARCH" = "$(dpkg --print-architecture)" ]; then
        BUSYBOX=$HOST_BUSYBOX
        BUSYBOX_APPLETS=$VM_CACHE/busybox/host.applets
    else
        local deb dir
        deb=$(vm_fetch_deb busybox-static)
        dir=$VM_CACHE/busybox/$(basename "$deb" .deb)
        vm_unpack_deb "$deb" "$dir"
        BUSYBOX=$dir/bin/busybox
        vm_check_elf "$BUSYBOX" "busybox"
        BUSYBOX_APPLETS=$dir.applets
        [ -s "$BUSYBOX_APPLETS" ] && return 0
    fi
    bash "$REPO/packaging/initramfs/busybox-applets.sh" "$BUSYBOX" >"$BUSYBOX_APPLETS.$$" ||
        vm_die "cannot list the applets of $BUSYBOX"
    mv "$BUSYBOX_APPLETS.$$" "$BUSYBOX_APPLETS"
}

# --------------------------------------------------------------------------- kernel ----
KROOT='' KVER='' MODDIR='' KERNEL_IMAGE=''
vm_ensure_kernel() {
    local pkg=$VM_KERNEL_PKG resolved=$VM_CACHE/kernel-$VM_DEB_ARCH.pkg
    # The metapackage depends on the versioned image; resolve it once so that later runs
    # work from the cache alone. (kernel.pkg: amd64's, before there were architectures.)
    if [ "$pkg" = "linux-image-$VM_DEB_ARCH" ]; then
        if [ "$VM_DEB_ARCH" = amd64 ] && [ ! -s "$resolved" ] && [ -s "$VM_CACHE/kernel.pkg" ]; then
            cp "$VM_CACHE/kernel.pkg" "$resolved"
        fi
        if [ "${VM_REFRESH:-0}" = 1 ] || [ ! -s "$resolved" ]; then
            vm_ensure_apt_lists "$pkg"
            apt-cache "${VM_APT_GUEST[@]}" depends "$pkg" |
                awk '/Depends: linux-image-/ {print $2; exit}' >"$resolved.tmp"
            [ -s "$resolved.tmp" ] || vm_die "cannot resolve $pkg"
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

# The image qemu boots (the table's image column), made from Debian's vmlinuz once; the
# vmlinuz itself when that is not possible.
vm_pick_kernel_image() {
    local vmlinuz=$KROOT/boot/vmlinuz-$KVER out off
    KERNEL_IMAGE=$vmlinuz
    out=$VM_CACHE/kernel/$VM_IMAGE-$KVER
    if [ ! -s "$out" ]; then
        case $VM_IMAGE in
            vmlinux)
                # An xz-compressed bzImage, decompressed in the guest (~2.7 s under TCG);
                # with CONFIG_PVH=y qemu boots the ELF vmlinux inside it directly.
                grep -q '^CONFIG_PVH=y' "$KROOT/boot/config-$KVER" 2>/dev/null || return 0
                off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" 2>/dev/null | head -n1 | cut -d: -f1 || true)
                [ -n "$off" ] || { vm_log "no xz payload in vmlinuz, booting the bzImage"; return 0; }
                tail -c +"$((off + 1))" "$vmlinuz" | xz -dc --single-stream >"$out.tmp" 2>/dev/null || true
                if [ "$(head -c 4 "$out.tmp" | od -An -c | tr -d ' ')" != '177ELF' ]; then
                    rm -f "$out.tmp"
                    vm_log "vmlinux extraction failed, booting the bzImage"
                    return 0
                fi
                ;;
            Image)
                # bookworm's is the Image itself ("ARM\x64" at offset 56); other releases
                # gzip it, which qemu would unpack at every boot.
                [ "$(od -An -c -j56 -N4 "$vmlinuz" | tr -d ' ')" = ARMd ] && return 0
                gzip -dc <"$vmlinuz" >"$out.tmp" 2>/dev/null || true
                if [ "$(od -An -c -j56 -N4 "$out.tmp" 2>/dev/null | tr -d ' ')" != ARMd ]; then
                    rm -f "$out.tmp"
                    vm_log "vmlinuz is not a gzipped arm64 Image, booting it as it is"
                    return 0
                fi
                ;;
        esac
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
    local case_dir=$1 root=$2 out=$3 m
    if declare -F case_initramfs >/dev/null; then case_initramfs "$out"; return; fi
    mkdir -p "$root"/{proc,sys,run,tmp,etc,lib/modules}
    initramfs_base "$root" "$BUSYBOX" "$BUSYBOX_APPLETS" "$VM_INIT"
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
    (cd "$root" && find . -print | "$HOST_BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out"
}

# vm_add_spawnbox ROOT: for container tests, from a case's case_prepare: the launcher
# ($VM_SPAWNBOX, default $VM_BUILD/spawnbox) as /sbin/spawnbox, a busybox rootfs
# (tests/mkrootfs.sh) at /rootfs, and the guest-side helpers tests/vm/guest/*.sh in
# /etc/vmtest/ (the rc sources them).
vm_add_spawnbox() {
    local root=$1 sb=${VM_SPAWNBOX:-$VM_BUILD/spawnbox} f
    [ -x "$sb" ] || vm_die "$sb not found: run '$VM_MAKE_BUILD' (or set VM_SPAWNBOX)"
    vm_check_elf "$sb" spawnbox
    install -m 0755 "$sb" "$root/sbin/spawnbox"
    BUSYBOX=$BUSYBOX BUSYBOX_APPLETS=$BUSYBOX_APPLETS bash "$REPO/tests/mkrootfs.sh" "$root/rootfs" >&2
    mkdir -p "$root/etc/vmtest"
    for f in "$REPO"/tests/vm/guest/*.sh; do
        [ -f "$f" ] && install -m 0644 "$f" "$root/etc/vmtest/"
    done
    return 0
}

# ------------------------------------------------------------------------------ boot ----
# vm_boot INITRD LOG APPEND TIMEOUT: boot under TCG; returns qemu's exit status (124 on
# timeout). -no-reboot makes the guest's reboot end qemu too. (-nodefaults leaves the
# virt board's own UART, which -serial connects.)
vm_boot() {
    local initrd=$1 logf=$2 append=$3 tmo=$4 rc=0
    local -a qemu=("$VM_QEMU" -nodefaults -no-user-config -machine "$VM_MACHINE"
        -accel tcg -cpu "$VM_CPU" -m "${CASE_MEM:-$VM_MEM}" -smp "${CASE_SMP:-$VM_SMP}"
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

# vm_case_arches CASE_DIR: the guest architectures the case runs on (its arches file).
vm_case_arches() {
    if [ -f "$1/arches" ]; then tr -s ' \n' '  ' <"$1/arches" | sed 's/^ //; s/ $//'; else echo x86_64; fi
}

# vm_skip REASON: from a case's config or case_prepare: the case cannot run here (a
# prerequisite is missing); it is reported as skipped, neither passed nor failed.
VM_SKIP_STATUS=77
vm_skip() {
    printf 'SKIP %s: %s\n' "$VM_CASE" "$*"
    exit "$VM_SKIP_STATUS"
}

# vm_run_case CASE_DIR WORK: build, boot, check one case. Returns 0 when it passed,
# VM_SKIP_STATUS when it was skipped.
vm_run_case() {
    local case_dir=$1 work=$2 name rc=0 t0 t1 append
    name=${case_dir%/}; name=${name##*/}
    [ -f "$case_dir/expect" ] || { vm_log "$name: no expect file"; return 1; }
    (
        # A subshell, so that one case's config cannot leak into the next.
        CASE_INIT_ARGS='' CASE_APPEND='' CASE_MODULES='' CASE_TIMEOUT='' CASE_MEM='' CASE_SMP=''
        VM_CASE=$name
        # shellcheck disable=SC1091
        [ -f "$case_dir/config" ] && . "$case_dir/config"
        mkdir -p "$work/$name"
        vm_build_initramfs "$case_dir" "$work/$name/root" "$work/$name/initrd.gz"
        append="console=$VM_CONSOLE panic=-1 quiet ${CASE_APPEND:-}"
        [ -n "${CASE_INIT_ARGS:-}" ] && append="$append -- $CASE_INIT_ARGS"
        tmo=$VM_TIMEOUT
        [ -z "${CASE_TIMEOUT:-}" ] || tmo=$((CASE_TIMEOUT * VM_SLOW))
        t0=$(date +%s.%N)
        vm_boot "$work/$name/initrd.gz" "$work/$name/console.log" "$append" "$tmo" || rc=$?
        t1=$(date +%s.%N)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
        bad=0
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            vm_log "  $name: timed out after ${tmo}s"
            bad=1
        elif [ "$rc" != 0 ]; then
            vm_log "  $name: qemu exit status $rc"
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
