# vigil - one non-recursive Makefile.
#
#   make            build vigild and vigilctl into build/
#   make check      run every test; ends with "N passed, N failed"
#   make asan       the same tests built with AddressSanitizer + UBSan
#   make run        record from the synthetic camera into ./run/
#   make bench      benchmarks; figures go to docs/performance.md by hand
#   make fuzz       libFuzzer harnesses, FUZZ_SECONDS each (fuzz-smoke: 60 s)
#   make check-fresh  README's two commands on a fresh Debian 12 root (CI)
#   make install DESTDIR=... PREFIX=...
#
# Missing Debian packages are installed by scripts/install-deps.sh, which
# `make`, `make check` and `make run` call first (a no-op when all is there).

# Cross-compiling boards set CC, PKG_CONFIG and BUILD here (board/rpi4).
-include board/$(BOARD)/board-vars.mk
CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
WERROR ?= $(if $(CI),-Werror,)

# First the packages, then the build. On a fresh machine nothing pkg-config
# says exists until scripts/install-deps.sh has run, and a make reads
# $(shell pkg-config ...) once, when it parses this file: the link line
# would lack every library. So the goals below only run install-deps.sh and
# then a second make (VIGIL_DEPS_DONE=1), which parses this file afresh with
# the packages in place. Nothing compiles while apt is still installing,
# even with -j. Any other goal (a file, clean, check-fresh) is made directly.
DEPS_FIRST := all check asan run bench install image image-test image-run fuzz fuzz-smoke checksrc
ifeq ($(VIGIL_DEPS_DONE)$(filter-out $(DEPS_FIRST),$(or $(MAKECMDGOALS),all)),)
.PHONY: $(DEPS_FIRST) deps-ok
$(DEPS_FIRST): deps-ok
	@$(MAKE) --no-print-directory VIGIL_DEPS_DONE=1 $@
deps-ok:
	@scripts/install-deps.sh --quiet
	@if [ -f board/$(BOARD)/install-cross-deps.sh ]; then \
		sh board/$(BOARD)/install-cross-deps.sh --quiet; fi
else

PKGS := libv4l2 libavcodec libavformat libavdevice libavutil libswscale libavfilter sqlite3 libconfig json-c libisofs-1 nettle
TEST_PKGS := cmocka

CFLAGS ?= -O2 -g
_CFLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -Wall -Wextra -Wshadow \
	-Wmissing-prototypes -Wstrict-prototypes -Wpointer-arith -Wformat=2 \
	-Wno-unused-parameter -Wno-format-truncation $(WERROR) -MMD -MP \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
_LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) \
	-lmbedtls -lmbedx509 -lmbedcrypto -lpthread -lm
_TEST_LDLIBS := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

# The library shared by both binaries: listed by hand (never globbed), and
# filtered by presence only so that a half-built tree still compiles.
LIB_SRCS := $(wildcard \
	$(addprefix src/common/, err.c fdio.c log.c timeutil.c proto.c sha256.c crypto.c sign.c) \
	$(addprefix src/store/, clipfile.c clipmedia.c keystore.c catalog.c reconcile.c diskguard.c) \
	$(addprefix src/record/, v4l2.c source.c source_v4l2.c source_file.c \
		source_synth.c source_h264file.c encoder.c segmenter.c picture.c \
		audio.c pipeline.c warmup.c) \
	$(addprefix src/policy/, config.c confcheck.c layout.c policy.c audit.c audit_text.c witness.c \
		textfield.c) \
	$(addprefix src/retention/, retention.c hold.c sweeper.c) \
	$(addprefix src/export/, export.c export_plan.c export_read.c export_media.c \
		export_documents.c export_io.c export_iso.c verify.c mp4check.c isofs.c burn.c) \
	$(addprefix src/report/, report.c sources.c sec_register.c sec_availability.c \
		sec_retention.c sec_access.c sec_disclosures.c sec_integrity.c html.c svg.c \
		metrics.c) \
	$(addprefix src/vigild/, control.c service.c))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/src/%.o)
LIB := $(BUILD)/libvigil.a

VIGILD_SRCS := $(addprefix src/vigild/, vigild.c ctl_hold.c ctl_export.c ctl_burn.c \
	ctl_report.c ctl_dest.c ctl_audit.c)
VIGILCTL_SRCS := $(addprefix src/vigilctl/, vigilctl.c ctlclient.c vigilctl_hold.c \
	vigilctl_export.c vigilctl_snapshot.c vigilctl_burn.c vigilctl_report.c \
	vigilctl_verify.c vigilctl_dest.c vigilctl_audit.c)
# The privilege boundary, in the build: vigilctl holds no key and reads
# no footage, so it links only this list of library objects (protocol,
# JSON, config check, export verification, report rendering) and its own
# libraries, never libvigil.a. scripts/checksrc.sh (make checksrc, run by
# make check) fails if a clip, keystore or catalog symbol or libavcodec
# gets in.
CTL_LIB_SRCS := $(addprefix src/common/, err.c fdio.c log.c timeutil.c proto.c sha256.c sign.c) \
	$(addprefix src/policy/, config.c confcheck.c layout.c policy.c audit_text.c) \
	$(addprefix src/export/, verify.c mp4check.c isofs.c) \
	$(addprefix src/report/, html.c svg.c)
CTL_LIB := $(BUILD)/libvigilctl.a
CTL_PKGS := libconfig json-c libisofs-1 nettle
_CTL_LDLIBS := -Wl,--as-needed $(shell $(PKG_CONFIG) --libs $(CTL_PKGS) 2>/dev/null) \
	-lmbedcrypto -lpthread -lm
BINS := $(BUILD)/vigild $(BUILD)/vigilctl

# Unit tests: tests/test_NAME.c, each linked with libvigil.a and cmocka.
# Extra objects a test needs (fakes) are named in TEST_EXTRA_NAME.
UNIT_TESTS := $(basename $(notdir $(wildcard $(addprefix tests/, \
	test_err.c test_clipfile.c test_keystore.c test_config.c test_v4l2.c \
	test_catalog.c test_segmenter.c test_reconcile.c test_source.c \
	test_audit.c test_policy.c test_sign.c test_pipeline.c test_retention.c test_hold.c test_picture.c test_confcheck.c test_export.c test_export_check.c test_sweeper.c test_burn.c \
	test_report.c test_diskguard.c test_warmup.c))))
TEST_EXTRA_test_v4l2 := $(BUILD)/tests/fake_v4l2.o
TEST_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/%)

# Tools the end-to-end tests and benchmarks drive.
TOOL_SRCS := $(wildcard tests/clipvec.c tests/bench_crypto.c tests/bench_audit.c \
	tests/bench_rusage.c tests/bench_catalog.c tests/bench_export.c tests/bench_report.c)
TOOL_BINS := $(TOOL_SRCS:tests/%.c=$(BUILD)/tests/%)

.PHONY: all check asan run bench install clean deps-ok checksrc
all: deps-ok $(BINS)

deps-ok:
	@scripts/install-deps.sh --quiet

$(BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(_CFLAGS) $(CFLAGS) -DUNIT_TESTING $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(CTL_LIB): $(CTL_LIB_SRCS:src/%.c=$(BUILD)/src/%.o)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# --as-needed: each binary records only the libraries it calls.
$(BUILD)/vigild: $(VIGILD_SRCS:src/%.c=$(BUILD)/src/%.o) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(_LDLIBS)

$(BUILD)/vigilctl: $(VIGILCTL_SRCS:src/%.c=$(BUILD)/src/%.o) $(CTL_LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(_CTL_LDLIBS)

# Keep the test objects, which only pattern rules name: make would
# otherwise delete them after the tests ran, and `make check` must end with
# the "N passed, N failed" line. (A bare .SECONDARY: would also keep make
# from rebuilding an object that is missing, e.g. after a source moved.)
.PRECIOUS: $(BUILD)/tests/%.o

.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $$(TEST_EXTRA_test_$$*) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(_LDLIBS) $(_TEST_LDLIBS)

$(TOOL_BINS): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(_LDLIBS)

check: deps-ok $(BINS) $(TEST_BINS) $(TOOL_BINS)
	@BUILD=$(BUILD) tests/run-tests.sh $(TEST_BINS)

# Sanitizer profile in its own build folder, so it never mixes objects.
# Every instrumented process (unit tests, and vigild and vigilctl in the
# end-to-end tests, whose stderr goes to their own logs) writes its
# reports to build-asan/sanitizer/; any ASan or UBSan error there fails
# the run (tests/sanitizer-reports.sh).
asan:
	rm -rf build-asan/sanitizer && mkdir -p build-asan/sanitizer
	ASAN_OPTIONS=log_path=$(CURDIR)/build-asan/sanitizer/asan \
	UBSAN_OPTIONS=log_path=$(CURDIR)/build-asan/sanitizer/ubsan:print_stacktrace=1 \
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" check; rc=$$?; \
	tests/sanitizer-reports.sh build-asan/sanitizer && exit $$rc

# Fuzzing (tests/fuzz/README): libFuzzer harnesses built with clang, ASan
# and UBSan in build-fuzz/. `make fuzz` runs each for FUZZ_SECONDS (600
# by default) from seeds made by make_seeds; `make fuzz-smoke` is CI's
# 60 s each. Both fail on any report.
FUZZ_SECONDS ?= 600
FUZZ_NAMES := fuzz_clip fuzz_config fuzz_frame fuzz_request fuzz_verify fuzz_verify_iso
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -Wno-unknown-warning-option
.PHONY: fuzz fuzz-smoke fuzz-bins
fuzz: deps-ok
	$(MAKE) BUILD=build-fuzz CC=clang WERROR= \
		CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" fuzz-bins
	@tests/fuzz/run-fuzz.sh build-fuzz $(FUZZ_SECONDS)

fuzz-smoke:
	$(MAKE) FUZZ_SECONDS=60 fuzz

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/%) $(BUILD)/fuzz/make_seeds

$(BUILD)/fuzz/fuzz_verify_iso: tests/fuzz/fuzz_verify.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(_CFLAGS) $(CFLAGS) -DFUZZ_ISO -fsanitize=fuzzer -o $@ $< $(LIB) $(_LDLIBS)

# The request decoder lives in control.c, whose command table names the
# handlers in vigild's other files.
FUZZ_CTL_OBJS = $(filter-out %/vigild.o,$(VIGILD_SRCS:src/%.c=$(BUILD)/src/%.o))
$(BUILD)/fuzz/fuzz_request: tests/fuzz/fuzz_request.c $(FUZZ_CTL_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(_CFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_CTL_OBJS) $(LIB) $(_LDLIBS)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(_CFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(_LDLIBS)

$(BUILD)/fuzz/make_seeds: tests/fuzz/make_seeds.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(_CFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(_LDLIBS)

run: deps-ok $(BINS)
	@scripts/run-synthetic.sh $(BUILD)

bench: deps-ok $(BINS) $(TOOL_BINS)
	@BUILD=$(BUILD) tests/bench/run-bench.sh

install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/doc/vigil $(DESTDIR)/etc/vigil
	install -m 0755 $(BUILD)/vigild $(DESTDIR)$(PREFIX)/sbin/vigild
	install -m 0755 $(BUILD)/vigilctl $(DESTDIR)$(PREFIX)/bin/vigilctl
	install -m 0644 docs/man/vigild.8 docs/man/vigilctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 docs/man/vigil.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 config/vigil.conf $(DESTDIR)$(PREFIX)/share/doc/vigil/vigil.conf.example
	test -e $(DESTDIR)/etc/vigil/vigil.conf || install -m 0640 config/vigil.conf $(DESTDIR)/etc/vigil/vigil.conf

# Board images (board/*/): make image BOARD=..., make image-test.
-include board/board.mk

# README's two commands on a fresh Debian 12 root, as CI runs them
# (tests/fresh-root.sh; needs root and debootstrap). COMMIT=... (default HEAD).
.PHONY: check-fresh
check-fresh:
	@sh tests/fresh-root.sh $(COMMIT)

checksrc: $(BUILD)/vigilctl
	@scripts/checksrc.sh $(BUILD)/vigilctl

clean:
	rm -rf build build-asan build-rpi4 build-fuzz

-include $(wildcard $(BUILD)/src/*/*.d) \
	$(TEST_BINS:=.d) $(wildcard $(BUILD)/tests/*.d)

endif # VIGIL_DEPS_DONE
