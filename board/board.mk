# Board images, included by the top-level Makefile.
#
#   make BOARD=rpi4                  cross-compile vigild and vigilctl for
#                                    arm64 into build-rpi4/ (board/rpi4/)
#   make image [BOARD=qemu-x86_64]   build the board's image into
#                                    build/board/BOARD/image/
#   make image-test                  build it, boot it under qemu, capture from
#                                    vivid and record with vigild (the same
#                                    script `make check` runs: tests/e2e/image.sh)
#   make image-run                   boot it by hand: a shell on this terminal
#                                    (exit powers it off); SHARE=DIR (default
#                                    build/board/BOARD/share) is /mnt/share
#
# vigild, vigilctl and clipvec go into the image when they are built, so
# image and image-test build them first; a half-written tree that cannot
# build them still gets an image (and the recording checks are skipped).
BOARD ?= qemu-x86_64

# A cross-compiling board (board/BOARD/board-vars.mk, included at the top of
# the Makefile) installs its compiler and target -dev packages first, the
# way scripts/install-deps.sh does for the native build: `make BOARD=rpi4`
# puts arm64 vigild and vigilctl in build-rpi4/.
ifneq ($(wildcard board/$(BOARD)/install-cross-deps.sh),)
.PHONY: board-deps-ok
deps-ok: board-deps-ok
board-deps-ok:
	@sh board/$(BOARD)/install-cross-deps.sh --quiet
endif
BOARD_IMAGE := $(BUILD)/board/$(BOARD)/image
SHARE ?= $(BUILD)/board/$(BOARD)/share

.PHONY: image image-test image-run image-bins
image-bins:
	-@$(MAKE) --no-print-directory $(BINS) $(BUILD)/tests/clipvec

image: image-bins
	@test -f board/$(BOARD)/build-image.sh || \
		{ echo "board $(BOARD): no board/$(BOARD)/build-image.sh"; exit 1; }
	BUILD=$(BUILD) sh board/$(BOARD)/build-image.sh $(BOARD_IMAGE)

image-test: image-bins
	@BUILD=$(BUILD) BOARD=$(BOARD) sh tests/e2e/image.sh

image-run: image
	@mkdir -p $(SHARE)
	sh board/$(BOARD)/run-qemu.sh $(BOARD_IMAGE) $(SHARE) - vigil.shell=1
