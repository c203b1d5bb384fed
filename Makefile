# spawnbox build, test and demo entry points. Every install step the tests need lives here.
SHELL := /bin/bash
PREFIX ?= /usr/local
# OpenRC reads /etc/init.d and /etc/conf.d whatever the prefix.
SYSCONFDIR ?= /etc
DESTDIR ?=
TARGET ?= x86_64-unknown-linux-musl
CARGO ?= cargo
BUILD := build
# Target architecture (docs/EMBEDDED.md): the host's by default, built into build/; a cross
# architecture (make ARCH=aarch64, make ARCH=armv7) is built into build/ARCH/ with rust-lld.
HOST_ARCH := $(shell uname -m)
ARCH ?= $(HOST_ARCH)
CROSS_ARCHES := aarch64 armv7
TRIPLE_aarch64 := aarch64-unknown-linux-musl
TRIPLE_armv7 := armv7-unknown-linux-musleabihf
ifeq ($(ARCH),$(HOST_ARCH))
OUT := $(BUILD)
else ifneq ($(filter $(ARCH),$(CROSS_ARCHES)),)
OUT := $(BUILD)/$(ARCH)
CROSS_TRIPLE := $(TRIPLE_$(ARCH))
else
$(error ARCH=$(ARCH): not a supported architecture (the host's $(HOST_ARCH), or one of: $(CROSS_ARCHES)))
endif
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
ROOTFS := $(BUILD)/demo-rootfs
# Set by `setup`: the musl target when rustup can install it, else glibc with +crt-static.
TARGET_FILE := $(BUILD)/.target

.PHONY: all setup deps build build-native build-cross test-cross install docs completions dist demo guests test test-unit test-integration test-engines test-vm fuzz bench bench-scale bench-concurrent clean fmt

all: build

# Toolchain target: musl when rustup can add it; without rustup (a distribution's Rust, as
# Alpine's abuild has), rustc's own target when it is a musl one (x86_64-alpine-linux-musl);
# glibc +crt-static as the fallback.
$(TARGET_FILE):
	@mkdir -p $(BUILD)
	@host=$$(rustc -vV 2>/dev/null | sed -n 's/^host: //p'); \
	if ! command -v rustup >/dev/null && [ "$${host%-musl}" != "$$host" ]; then \
		echo "$$host" > $@; \
	elif rustup target list --installed 2>/dev/null | grep -qx '$(TARGET)' || rustup target add $(TARGET); then \
		echo '$(TARGET)' > $@; \
	else \
		echo 'musl target unavailable: falling back to glibc +crt-static' >&2; \
		echo 'x86_64-unknown-linux-gnu' > $@; \
	fi

setup: $(TARGET_FILE)

# Every program the build, the tests and their harnesses run, its Debian package, and who
# installs it ("deps": this target; "base": in every Debian system, Essential/required or
# apt's own dependencies, never installed here).
#   cc (rustc's linker for the host and test builds; tests/probe/build.sh builds the seccomp probe with rustc)
#                                      -> gcc, libc6-dev (libc.a)          deps
#   c++ (libfuzzer-sys in `make fuzz`) -> g++                              deps
#   strip (vm cases 61, 62)            -> binutils                         deps
#   file (build, mkrootfs.sh, bench, vm 61/62 copy its magic)  -> file    deps
#   busybox (mkrootfs.sh, stub_init.rs, guests, vm initramfs, bench)
#                                      -> busybox-static                   deps (+ vm, bench)
#   unshare nsenter setsid flock losetup (tests/common, stub_init.rs, vm, bench, guests, ephemeral.rs,
#   spawnctl_*.rs; nsenter: tests/bench/shell.sh),
#   setpriv (copy_tree.rs: spawnbox as nobody)
#                                      -> util-linux                       deps
#   mount umount (stub_init.rs, Cmd::in_private_mount_ns setups, ephemeral.rs) -> mount  deps
#   ip (common/net.rs, network.rs, vm 60/61, spawnctl_*.rs) -> iproute2   deps
#   nft (common/net.rs, netsetup/tests/netns_root.rs, vm 61) -> nftables  deps
#   mke2fs (vm 62)                     -> e2fsprogs                        deps
#   mkfs.btrfs, btrfs (copy_tree.rs: reflinks and subvolumes; ephemeral.rs: -x on a loop-mounted
#   btrfs image)                       -> btrfs-progs                      deps
#   xz, zstd (vm: vmlinux, compressed modules; tarball.rs: archives to import)
#                                      -> xz-utils, zstd                   deps
#   ps (bench, spawnbox-runc ps), pkill (oci_runtime.rs) -> procps         deps
#   debootstrap (tests/guests/mkguest.sh) -> debootstrap                  deps
#   scdoc (docs: the man pages from docs/man/*.scd) -> scdoc               deps
#   zsh (completions.rs: zsh -n and compinit on the generated completions) -> zsh  deps
#   make, git (packaging.rs: make install DESTDIR=..., make dist's git archive)
#                                      -> make, git                        deps
#   podman, runc (nested_engines.rs: spawnbox as a podman container's entrypoint; runc because
#   crun refuses hybrid hosts whose cgroup2 has a controller; conmon comes with podman;
#   oci_import.rs: podman import/build/save make the images import-oci reads;
#   oci_engines.rs: podman run/exec/stop/rm with the OCI runtime under test)
#                                      -> podman, runc                     deps
#   containerd, ctr, containerd-shim-runc-v2 (oci_engines.rs, tests/common/engines.rs: containerd
#   started on a temp dir, ctr run --runc-binary; dockerd's containerd)
#                                      -> containerd                       deps
#   dockerd, /usr/bin/docker (oci_engines.rs: dockerd --add-runtime on the harness's containerd,
#   docker run --runtime; the path Nomad's docker driver takes)
#                                      -> docker.io                        deps
#   crun (tests/bench/oci.sh: the create/start/delete cycle and podman run against runc and crun)
#                                      -> crun                             deps
#   hyperfine (tests/bench/oci.sh)     -> hyperfine                        tests/bench/run.sh
#   qemu-system-x86_64 (vm)            -> qemu-system-x86                  tests/vm/lib.sh
#   qemu-system-aarch64 (vm, VM_ARCH=aarch64) -> qemu-system-arm           tests/vm/lib.sh
#   qemu-aarch64, qemu-arm (cross unit tests: .cargo/config.toml runners; make test ARCH=armv7)
#                                      -> qemu-user                        deps
#   ar (packaging/cross/musl-sysroot.sh: armv7's empty libunwind.a) -> binutils  deps
#   hyperfine bwrap /usr/bin/time jq tini catatonit perf systemd-nspawn
#                                      -> (bench's own list)               tests/bench/run.sh
#   cargo-fuzz / the nightly toolchain -> cargo install / rustup           tests/fuzz/run.sh / fuzz
#   rustup, cargo                      -> rustup.rs (see README)           by hand
#   base: bash, dash (sh), coreutils (cp chown chroot timeout sha256sum du ...), grep, sed,
#   mawk, findutils, diffutils, gzip, tar (tarball.rs: GNU tar's archives and extraction), dpkg (dpkg-deb), apt (apt-get; gpgv and
#   debian-archive-keyring for debootstrap), libc-bin (ldd), passwd (chpasswd, in the guests)
DEB_PACKAGES := busybox-static file iproute2 util-linux mount e2fsprogs btrfs-progs nftables debootstrap \
	gcc g++ libc6-dev binutils xz-utils zstd procps podman runc containerd docker.io crun scdoc zsh make git qemu-user
# Packages whose maintainer scripts start a daemon (docker.io: invoke-rc.d docker start, and
# with systemd deb-systemd-invoke start docker.service/containerd.service): the install runs
# with a policy-rc.d that refuses every start (exit 101, read by invoke-rc.d and
# deb-systemd-invoke; a policy-rc.d already there is kept as it is), and when this run
# installed them, their start at boot is switched off again (update-rc.d disable, and the
# .wants/ links of their systemd units removed, which is what systemctl disable does): the
# tests start their own daemons on temp dirs, never the system's.
DAEMON_PACKAGES := containerd docker.io
deps:
	@need=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q ' installed$$' || need="$$need $$p"; \
	done; \
	if [ -n "$$need" ]; then \
		echo "installing:$$need"; \
		policy=/usr/sbin/policy-rc.d; made=""; \
		if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' > $$policy && chmod 755 $$policy && made=1; fi; \
		rc=0; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$need || rc=$$?; \
		if [ -n "$$made" ]; then rm -f $$policy; fi; \
		for p in $(DAEMON_PACKAGES); do \
			case " $$need " in *" $$p "*) ;; *) continue ;; esac; \
			for s in $$(dpkg -L $$p 2>/dev/null | sed -n 's|^/etc/init.d/||p'); do update-rc.d $$s disable >/dev/null 2>&1 || true; done; \
			for u in $$(dpkg -L $$p 2>/dev/null | sed -n 's#^/lib/systemd/system/\([^/]*\.\(service\|socket\)\)$$#\1#p'); do \
				find /etc/systemd/system -path "*.wants/$$u" -type l -delete 2>/dev/null || true; \
			done; \
		done; \
		exit $$rc; \
	fi

# Release flags of .cargo/config.toml, repeated here because RUSTFLAGS replaces them.
STATIC_FLAGS := -C relocation-model=static -C target-feature=+crt-static -C link-arg=-Wl,-z,noseparate-code -C link-arg=-Wl,--build-id=none
# 32-bit ARM kernels have 4 KiB pages only: lld's 64 KiB default alignment cost 64 KiB of padding
# before the RELRO segment. Thumb-2 code (every ARMv7-A core runs it): 0.7 of ARM mode's size.
LLD_FLAGS_armv7 := -C link-arg=-zmax-page-size=4096 -C target-feature=+thumb-mode
# The same for the cross targets, which rust-lld links directly (no -Wl,).
LLD_FLAGS := -C relocation-model=static -C target-feature=+crt-static -C link-arg=-znoseparate-code -C link-arg=--build-id=none \
	$(LLD_FLAGS_$(ARCH))
# No unwind tables: with panic=immediate-abort nothing reads .eh_frame (217 KB on x86_64).
# No panic locations either (-4 KiB). (-Zfmt-debug=none would save 16 KiB more but blanks the
# {:?} values in error messages.)
SIZE_FLAGS := -Zunstable-options -Cpanic=immediate-abort -Cforce-unwind-tables=no -Zlocation-detail=none
# BOARD=1: spawnbox without the default `images` feature (tarball and OCI import/export and
# their codecs; docs/DEPENDENCIES.md): 0.3 MB less, for boards that get their images otherwise.
SPAWNBOX_FEATURES := $(if $(filter 1,$(BOARD)),--no-default-features)
# spawnbox is built with its own std (build-std) and panic=immediate-abort: no panic messages,
# no backtrace machinery, half the size (see docs/BENCHMARKS.md). This needs the rust-src
# component and RUSTC_BOOTSTRAP on the pinned stable toolchain; without rust-src the plain
# build is used.
SIZE_BUILD ?= 1

ifeq ($(OUT),$(BUILD))
build: build-native
else
build: build-cross
endif

build-native: $(TARGET_FILE)
	@t=$$(cat $(TARGET_FILE)); \
	if [ "$$t" != x86_64-unknown-linux-musl ]; then export RUSTFLAGS="$$RUSTFLAGS -C target-feature=+crt-static"; fi; \
	$(CARGO) build --release --locked --target $$t -p spawnbox-init && \
	mkdir -p $(BUILD) && { cmp -s $(TARGET_DIR)/$$t/release/spawnbox-init $(BUILD)/spawnbox-init || { cp $(TARGET_DIR)/$$t/release/spawnbox-init $(BUILD)/.spawnbox-init.new && mv -f $(BUILD)/.spawnbox-init.new $(BUILD)/spawnbox-init; }; } && \
	export SPAWNBOX_INIT_BINARY=$(CURDIR)/$(BUILD)/spawnbox-init && \
	if [ "$(SIZE_BUILD)" = 1 ] && [ "$$t" = x86_64-unknown-linux-musl ] && \
	   { rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src >&2; }; then \
		RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(STATIC_FLAGS) $(SIZE_FLAGS)" \
			$(CARGO) build --release --locked --target $$t -p spawnbox $(SPAWNBOX_FEATURES) -Z build-std=std,panic_abort; \
	else \
		$(CARGO) build --release --locked --target $$t -p spawnbox $(SPAWNBOX_FEATURES); \
	fi && \
	{ cmp -s $(TARGET_DIR)/$$t/release/spawnbox $(BUILD)/spawnbox || { cp $(TARGET_DIR)/$$t/release/spawnbox $(BUILD)/.spawnbox.new && mv -f $(BUILD)/.spawnbox.new $(BUILD)/spawnbox; }; } && \
	ln -sf spawnbox $(BUILD)/spawnctl && ln -sf spawnbox $(BUILD)/spawnbox-runc
	@file -L $(BUILD)/spawnbox $(BUILD)/spawnbox-init | grep -Eq 'statically linked|static-pie linked' || { echo 'binaries are not static' >&2; exit 1; }
	@ls -l $(BUILD)/spawnbox $(BUILD)/spawnbox-init | awk '{print $$9": "$$5" bytes"}'

# A shell command printing the link flags of a target rustup has no std for (armv7): Debian's
# musl and LLVM libunwind for it (packaging/cross/musl-sysroot.sh); nothing for the others,
# whose target rustup adds.
CROSS_SYSROOT_FLAGS := if rustup target list --installed 2>/dev/null | grep -qx '$(CROSS_TRIPLE)' || \
	rustup target add '$(CROSS_TRIPLE)' >/dev/null 2>&1; then :; else \
	s=$$(bash packaging/cross/musl-sysroot.sh $(if $(filter armv7,$(ARCH)),armhf,$(ARCH))) && \
	echo "-C link-self-contained=no -L $$s -Z pre-link-arg=$$s/crt1.o -Z pre-link-arg=$$s/crti.o -C link-arg=$$s/crtn.o"; fi

# A cross build: rustup's target when it has one (aarch64), else std built from rust-src
# against Debian's musl of that architecture (armv7: packaging/cross/musl-sysroot.sh). Both
# binaries are built with build-std (spawnbox-init needs only core), linked by rust-lld.
build-cross:
	@t=$(CROSS_TRIPLE); flags="$(LLD_FLAGS) $$($(CROSS_SYSROOT_FLAGS))" || exit 1; \
	rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src >&2 || exit 1; \
	export RUSTC_BOOTSTRAP=1 RUSTFLAGS="$$flags $(SIZE_FLAGS)"; \
	$(CARGO) build --release --locked --target $$t -p spawnbox-init -Z build-std=core,compiler_builtins && \
	mkdir -p $(OUT) && { cmp -s $(TARGET_DIR)/$$t/release/spawnbox-init $(OUT)/spawnbox-init || { cp $(TARGET_DIR)/$$t/release/spawnbox-init $(OUT)/.spawnbox-init.new && mv -f $(OUT)/.spawnbox-init.new $(OUT)/spawnbox-init; }; } && \
	SPAWNBOX_INIT_BINARY=$(CURDIR)/$(OUT)/spawnbox-init $(CARGO) build --release --locked --target $$t -p spawnbox $(SPAWNBOX_FEATURES) -Z build-std=std,panic_abort && \
	{ cmp -s $(TARGET_DIR)/$$t/release/spawnbox $(OUT)/spawnbox || { cp $(TARGET_DIR)/$$t/release/spawnbox $(OUT)/.spawnbox.new && mv -f $(OUT)/.spawnbox.new $(OUT)/spawnbox; }; } && \
	ln -sf spawnbox $(OUT)/spawnctl && ln -sf spawnbox $(OUT)/spawnbox-runc
	@file -L $(OUT)/spawnbox $(OUT)/spawnbox-init | grep -q 'statically linked' || { echo 'binaries are not static' >&2; exit 1; }
	@ls -l $(OUT)/spawnbox $(OUT)/spawnbox-init | awk '{print $$9": "$$5" bytes"}'

install: build docs
	install -D -m 0755 $(BUILD)/spawnbox $(DESTDIR)$(PREFIX)/bin/spawnbox
	ln -sf spawnbox $(DESTDIR)$(PREFIX)/bin/spawnctl
	ln -sf spawnbox $(DESTDIR)$(PREFIX)/bin/spawnbox-runc
	install -D -m 0755 $(BUILD)/spawnbox-init $(DESTDIR)$(PREFIX)/sbin/spawnbox-init
	@for p in $(MAN_PAGES); do \
		echo "install $(BUILD)/man/$$p -> $(PREFIX)/share/man/man$${p##*.}/$$p"; \
		install -D -m 0644 $(BUILD)/man/$$p $(DESTDIR)$(PREFIX)/share/man/man$${p##*.}/$$p || exit 1; \
	done
	install -D -m 0644 $(BUILD)/completions/bash/spawnbox $(DESTDIR)$(PREFIX)/share/bash-completion/completions/spawnbox
	install -D -m 0644 $(BUILD)/completions/bash/spawnctl $(DESTDIR)$(PREFIX)/share/bash-completion/completions/spawnctl
	install -D -m 0644 $(BUILD)/completions/zsh/_spawnbox $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_spawnbox
	install -D -m 0644 $(BUILD)/completions/zsh/_spawnctl $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_spawnctl
	@mkdir -p $(BUILD)/openrc
	sed 's|@BINDIR@|$(PREFIX)/bin|g' packaging/openrc/spawnbox.initd > $(BUILD)/openrc/spawnbox.initd
	install -D -m 0755 $(BUILD)/openrc/spawnbox.initd $(DESTDIR)$(SYSCONFDIR)/init.d/spawnbox
	install -D -m 0644 packaging/openrc/spawnbox.confd $(DESTDIR)$(SYSCONFDIR)/conf.d/spawnbox

# The source tarball packaging/alpine/APKBUILD builds from: build/spawnbox-VERSION.tar.gz of
# the committed tree (git archive), VERSION the workspace's.
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n1)
dist:
	@mkdir -p $(BUILD)
	git archive --format=tar.gz --prefix=spawnbox-$(VERSION)/ -o $(BUILD)/spawnbox-$(VERSION).tar.gz HEAD
	@echo "$(BUILD)/spawnbox-$(VERSION).tar.gz"

# The man pages, from their scdoc sources in docs/man/ (a unit test, launcher/src/man_pages.rs,
# checks them against the option, verb and key tables), and the bash and zsh completions,
# generated from the same tables by spawnbox-completions (tests/common/completions.rs).
# SOURCE_DATE_EPOCH (else the page's last commit) dates the pages, so a build is reproducible.
MAN_PAGES := spawnbox.1 spawnctl.1 spawnbox.nspawn.5 spawnbox-init.8
docs: $(addprefix $(BUILD)/man/,$(MAN_PAGES)) completions

$(BUILD)/man/%: docs/man/%.scd
	@command -v scdoc >/dev/null || { echo 'scdoc not found: run `make deps` (Debian and Alpine package scdoc)' >&2; exit 1; }
	@mkdir -p $(@D)
	@d=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct -- $< 2>/dev/null)}; \
	SOURCE_DATE_EPOCH=$${d:-$$(date +%s)} scdoc < $< > $@.tmp && mv $@.tmp $@ && echo "scdoc $< -> $@"

completions:
	$(CARGO) run --locked -q -p spawnbox-tests --bin spawnbox-completions -- $(BUILD)/completions

# A small busybox rootfs, then a container that shows its PID 1, hostname and mounts.
demo: deps build
	@bash tests/mkrootfs.sh $(ROOTFS)
	$(BUILD)/spawnbox -D $(ROOTFS) -M demo --console=pipe /bin/sh -c \
		'echo "PID 1: $$(cat /proc/1/comm) (I am $$$$)"; echo "hostname: $$(hostname)"; echo "mounts:"; cat /proc/self/mountinfo | cut -d" " -f5,6,9'

# Every test the project has: the man pages and completions build, unit tests (no root),
# integration tests (root, real containers), the VM tests (stub-init as a real init, cgroup
# v2), and bounded fuzzing of the parsers.
# On a cross architecture (make test ARCH=aarch64): its build, its unit tests under qemu-user
# and its VM cases (tests/vm with VM_ARCH). The host's `make test` runs those too (test-cross).
ifeq ($(OUT),$(BUILD))
test: deps build docs test-unit test-integration test-vm test-cross fuzz
else
test: deps build test-unit test-vm
endif

# Every cross architecture's `make test`.
test-cross:
	@for a in $(CROSS_ARCHES); do $(MAKE) --no-print-directory ARCH=$$a test || exit 1; done

# Unit tests that need the real kernel, which qemu-user does not emulate: clone3 into a cgroup
# and the cgroup file system (cgroup::tests_host::host_*, cgroup::tests_oci_host::host_*),
# seccomp(2) and bpf(2) (install_on_a_thread, the OCI profiles and device programs in
# security::oci::tests_host and seccomp::profile_tests::install_*), the namespace ioctls
# (spec_oci's joined namespaces), mounts (shift_tree_stops_at_mounts_...), and a timing bound
# that emulation is 10x too slow for (a_million_keys_...). They run natively on x86_64 and
# their features in the VM cases.
QEMU_USER_SKIP := cgroup::tests_host::host_ cgroup::tests_oci_host::host_ \
	security::seccomp::tests::install_on_a_thread security::seccomp::profile_tests::install_ \
	security::oci::tests_host:: spec_oci::tests::joined_namespaces_are_opened_and_checked \
	userns::chown::tests::shift_tree_stops_at_mounts_on_the_same_device \
	json::tests::a_million_keys_are_checked_for_duplicates_quickly

ifeq ($(OUT),$(BUILD))
test-unit:
	$(CARGO) test --locked --workspace --exclude spawnbox-tests
else
# The libraries' and binaries' unit tests, built for the target and run by qemu-user
# (.cargo/config.toml's runners); the crates' root tests (netns_root.rs) need namespaces.
# armv7 has no std from rustup: build-std with unwinding (the test harness needs it) against
# the sysroot's LLVM libunwind, whose fortified error path calls glibc's __fprintf_chk (musl
# has none): that becomes abort().
test-unit:
	@echo "not run under qemu-user (need a real kernel):$(foreach t,$(QEMU_USER_SKIP), $(t))"
	@flags="$$($(CROSS_SYSROOT_FLAGS))" || exit 1; \
	if [ -n "$$flags" ]; then \
		export RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(LLD_FLAGS) $$flags -C link-arg=--defsym=__fprintf_chk=abort"; \
		std="-Z build-std=std,panic_unwind,test"; \
	fi; \
	set -x; $(CARGO) test --locked --target $(CROSS_TRIPLE) $$std -p spawnbox -p netsetup -p spawnbox-init --lib --bins -- \
		$(foreach t,$(QEMU_USER_SKIP),--skip $(t))
endif

# Stock guest trees for the boot tests (Debian bookworm with systemd, Debian with sysvinit +
# OpenRC, busybox init), built once and cached outside the repo, in
# ${SPAWNBOX_GUEST_CACHE:-/var/cache/spawnbox-guests} (tests/guests/mkguest.sh). The tests
# only read them (and copy them before booting one).
GUESTS := systemd openrc busybox
guests: deps
	@for g in $(GUESTS); do bash tests/guests/mkguest.sh $$g >/dev/null || exit 1; done

test-integration: deps build guests
	@guest_systemd=$$(bash tests/guests/mkguest.sh systemd) && \
	guest_openrc=$$(bash tests/guests/mkguest.sh openrc) && \
	guest_busybox=$$(bash tests/guests/mkguest.sh busybox) && \
	set -x && \
	SPAWNBOX=$(CURDIR)/$(BUILD)/spawnbox SPAWNBOX_INIT=$(CURDIR)/$(BUILD)/spawnbox-init \
	SPAWNBOX_GUEST_SYSTEMD=$$guest_systemd SPAWNBOX_GUEST_OPENRC=$$guest_openrc SPAWNBOX_GUEST_BUSYBOX=$$guest_busybox \
		$(CARGO) test --locked -p spawnbox-tests

# Issue 19: the OCI runtime driven end to end by podman, containerd/ctr and dockerd
# (tests/oci_engines.rs, tests/common/engines.rs). Not part of `make test` until spawnbox-runc
# passes it (tests/Cargo.toml: `test = false` on the target). OCI_RUNTIME=/usr/sbin/runc runs
# the same tests against runc (the harness's own check; no build needed then).
test-engines: deps $(if $(OCI_RUNTIME),,build)
	SPAWNBOX_OCI_RUNTIME=$(or $(OCI_RUNTIME),$(CURDIR)/$(BUILD)/spawnbox-runc) \
		$(CARGO) test --locked -p spawnbox-tests --test oci_engines

ifeq ($(ARCH),armv7)
test-vm:
	@echo "armv7: no VM cases (build and qemu-user checks only; docs/EMBEDDED.md)"
else
test-vm: deps build
	VM_ARCH=$(ARCH) bash tests/vm/run.sh
endif

# Bounded fuzzing (20 s per target; needs rustup's nightly toolchain, installs cargo-fuzz).
fuzz: deps
	@rustup run $${FUZZ_TOOLCHAIN:-nightly} rustc --version >/dev/null 2>&1 || rustup toolchain install $${FUZZ_TOOLCHAIN:-nightly} --profile minimal
	bash tests/fuzz/run.sh

bench: deps build
	bash tests/bench/run.sh

# Issue 18: 1,000 `-n` containers running together, 100 started at a time, in a network
# namespace of the script's own (docs/NETWORKING.md "Scale"; N=, BATCH=, OPTS=).
bench-scale: build
	bash tests/bench/scale.sh

# Issue 18: 100 `-n` starts at once, spawnbox against systemd-nspawn --network-veth
# (docs/BENCHMARKS.md "Concurrent starts"; N=, ROUNDS=).
bench-concurrent: build
	bash tests/bench/concurrent.sh

fmt:
	$(CARGO) fmt --all

clean:
	rm -rf $(BUILD) target fuzz/target

# The appliance initramfs (docs/EMBEDDED.md): build/initramfs.cpio.gz, or
# build/ARCH/initramfs.cpio.gz with ARCH=aarch64|armv7, from what `make build [ARCH=...]`
# built. packaging/initramfs/mkinitramfs.sh does it all and takes its INITRAMFS_* variables
# from the environment (make passes command-line variables on): INITRAMFS_TREE=DIR,
# INITRAMFS_MACHINE=NAME, INITRAMFS_CMD='WORDS', INITRAMFS_BOOT=1, INITRAMFS_OPTIONS='WORDS',
# INITRAMFS_NSPAWN=FILE, INITRAMFS_ON_EXIT=poweroff|reboot|restart|shell, INITRAMFS_RC=FILE,
# INITRAMFS_FILES=DIR, INITRAMFS_OUT=FILE, BUSYBOX=FILE.
.PHONY: initramfs
initramfs:
	@ARCH=$(ARCH) bash packaging/initramfs/mkinitramfs.sh
