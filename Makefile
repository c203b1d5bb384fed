# spawnbox build, test and demo entry points. Every install step the tests need lives here.
SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
TARGET ?= x86_64-unknown-linux-musl
CARGO ?= cargo
BUILD := build
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
ROOTFS := $(BUILD)/demo-rootfs
# Set by `setup`: the musl target when rustup can install it, else glibc with +crt-static.
TARGET_FILE := $(BUILD)/.target

.PHONY: all setup deps build install demo test test-unit test-integration test-vm fuzz bench clean fmt

all: build

# Toolchain target: musl when rustup can add it; glibc +crt-static as the fallback.
$(TARGET_FILE):
	@mkdir -p $(BUILD)
	@if rustup target list --installed 2>/dev/null | grep -qx '$(TARGET)' || rustup target add $(TARGET); then \
		echo '$(TARGET)' > $@; \
	else \
		echo 'musl target unavailable: falling back to glibc +crt-static' >&2; \
		echo 'x86_64-unknown-linux-gnu' > $@; \
	fi

setup: $(TARGET_FILE)

# Debian packages the demo and the tests use (busybox-static for the rootfs, iproute2 for
# network-namespace fixtures, file to check static linking, e2fsprogs for the ext4 scratch
# file system of the user-namespace VM case).
deps:
	@need=""; \
	for p in busybox-static file iproute2 util-linux e2fsprogs; do \
		dpkg -s $$p >/dev/null 2>&1 || need="$$need $$p"; \
	done; \
	if [ -n "$$need" ]; then \
		echo "installing:$$need"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$need; \
	fi

# Release flags of .cargo/config.toml, repeated here because RUSTFLAGS replaces them.
STATIC_FLAGS := -C relocation-model=static -C target-feature=+crt-static -C link-arg=-Wl,-z,noseparate-code -C link-arg=-Wl,--build-id=none
# spawnbox is built with its own std (build-std) and panic=immediate-abort: no panic messages,
# no backtrace machinery, half the size (see docs/BENCHMARKS.md). This needs the rust-src
# component and RUSTC_BOOTSTRAP on the pinned stable toolchain; without rust-src the plain
# build is used.
SIZE_BUILD ?= 1

build: $(TARGET_FILE)
	@t=$$(cat $(TARGET_FILE)); \
	if [ "$$t" = x86_64-unknown-linux-gnu ]; then export RUSTFLAGS="$$RUSTFLAGS -C target-feature=+crt-static"; fi; \
	$(CARGO) build --release --locked --target $$t -p spawnbox-init && \
	mkdir -p $(BUILD) && { cmp -s $(TARGET_DIR)/$$t/release/spawnbox-init $(BUILD)/spawnbox-init || { cp $(TARGET_DIR)/$$t/release/spawnbox-init $(BUILD)/.spawnbox-init.new && mv -f $(BUILD)/.spawnbox-init.new $(BUILD)/spawnbox-init; }; } && \
	export SPAWNBOX_INIT_BINARY=$(CURDIR)/$(BUILD)/spawnbox-init && \
	if [ "$(SIZE_BUILD)" = 1 ] && [ "$$t" = x86_64-unknown-linux-musl ] && \
	   { rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src >&2; }; then \
		RUSTC_BOOTSTRAP=1 RUSTFLAGS="$(STATIC_FLAGS) -Zunstable-options -Cpanic=immediate-abort" \
			$(CARGO) build --release --locked --target $$t -p spawnbox -Z build-std=std,panic_abort; \
	else \
		$(CARGO) build --release --locked --target $$t -p spawnbox; \
	fi && \
	{ cmp -s $(TARGET_DIR)/$$t/release/spawnbox $(BUILD)/spawnbox || { cp $(TARGET_DIR)/$$t/release/spawnbox $(BUILD)/.spawnbox.new && mv -f $(BUILD)/.spawnbox.new $(BUILD)/spawnbox; }; } && \
	ln -sf spawnbox $(BUILD)/spawnctl
	@file -L $(BUILD)/spawnbox $(BUILD)/spawnbox-init | grep -Eq 'statically linked|static-pie linked' || { echo 'binaries are not static' >&2; exit 1; }
	@ls -l $(BUILD)/spawnbox $(BUILD)/spawnbox-init | awk '{print $$9": "$$5" bytes"}'

install: build
	install -D -m 0755 $(BUILD)/spawnbox $(DESTDIR)$(PREFIX)/bin/spawnbox
	ln -sf spawnbox $(DESTDIR)$(PREFIX)/bin/spawnctl
	install -D -m 0755 $(BUILD)/spawnbox-init $(DESTDIR)$(PREFIX)/sbin/spawnbox-init

# A small busybox rootfs, then a container that shows its PID 1, hostname and mounts.
demo: deps build
	@bash tests/mkrootfs.sh $(ROOTFS)
	$(BUILD)/spawnbox -D $(ROOTFS) -M demo --console=pipe /bin/sh -c \
		'echo "PID 1: $$(cat /proc/1/comm) (I am $$$$)"; echo "hostname: $$(hostname)"; echo "mounts:"; cat /proc/self/mountinfo | cut -d" " -f5,6,9'

# Every test the project has: unit tests (no root), integration tests (root, real containers),
# the VM tests (stub-init as a real init, cgroup v2), and bounded fuzzing of the parsers.
test: deps build test-unit test-integration test-vm fuzz

test-unit:
	$(CARGO) test --locked --workspace --exclude spawnbox-tests

test-integration: deps build
	SPAWNBOX=$(CURDIR)/$(BUILD)/spawnbox SPAWNBOX_INIT=$(CURDIR)/$(BUILD)/spawnbox-init \
		$(CARGO) test --locked -p spawnbox-tests

test-vm: deps build
	bash tests/vm/run.sh

# Bounded fuzzing (20 s per target; needs rustup's nightly toolchain, installs cargo-fuzz).
fuzz:
	bash tests/fuzz/run.sh

bench: deps build
	bash tests/bench/run.sh

fmt:
	$(CARGO) fmt --all

clean:
	rm -rf $(BUILD) target fuzz/target
