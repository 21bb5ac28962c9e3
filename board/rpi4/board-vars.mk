# Cross-compilation settings for BOARD=rpi4 (arm64, Raspberry Pi 4-class
# gateways). Included near the top of the Makefile, before its defaults, so
# `make BOARD=rpi4` builds vigild and vigilctl with Debian's cross compiler
# against the arm64 multiarch -dev packages (board/rpi4/install-cross-deps.sh
# installs both). Objects go to build-rpi4/ so they never mix with the
# native ones in build/.
CROSS_COMPILE ?= aarch64-linux-gnu-
CC := $(CROSS_COMPILE)gcc
# Only the arm64 .pc files: PKG_CONFIG_LIBDIR replaces the default search
# path, so no amd64 flags can leak in. /usr/share/pkgconfig holds the
# architecture-independent ones.
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
	PKG_CONFIG_SYSROOT_DIR= pkg-config
BUILD := build-rpi4

# The flags above come from pkg-config when the Makefile is read, so the
# cross packages must be there before that: make builds this stamp first
# (running the installer), then re-reads the Makefile with them present.
# The rule must not become the default goal, hence .DEFAULT_GOAL.
.DEFAULT_GOAL := all
-include $(BUILD)/cross-deps.stamp
$(BUILD)/cross-deps.stamp: board/rpi4/install-cross-deps.sh
	@sh board/rpi4/install-cross-deps.sh --quiet
	@mkdir -p $(@D)
	@echo "# board/rpi4/install-cross-deps.sh found every package" > $@
