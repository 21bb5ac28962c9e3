#!/bin/sh
# The privilege boundary, in the build (issue 15): vigilctl links no clip,
# keystore, catalog, capture or codec code (scripts/checksrc.sh), and the
# check itself fails when such a symbol or libavcodec gets linked into a
# program (a small stand-in linked here, so the check cannot pass by
# looking at nothing).
. tests/e2e-lib.sh
make_tmp

out=$(scripts/checksrc.sh "$VIGILCTL" 2>&1)
rc=$?
echo "$out"
check "checksrc passes on $VIGILCTL" [ "$rc" = 0 ]
check "vigilctl needs no FFmpeg, x264 or libv4l2 library" \
	sh -c "! readelf -d '$VIGILCTL' | grep -Eq 'NEEDED.*(libav|libsw|libx264|libv4l)'"
check "vigilctl --help runs and lists the commands" \
	sh -c "'$VIGILCTL' --help | grep -q 'vigilctl verify'"
check "vigilctl --help lists the export options" \
	sh -c "'$VIGILCTL' --help | grep -q -- '--police-decision REF --victim-wishes' &&
	       '$VIGILCTL' --help | grep -q -- '--disc-size SIZE'"
check "vigilctl --help lists audit show --camera and --json" \
	sh -c "'$VIGILCTL' --help | grep -q -- 'audit show .*--camera C.*--json'"

# A stand-in that defines a catalog function and calls libavcodec.
cat >"$T/leak.c" <<'SRC'
#include <libavcodec/avcodec.h>
int vg_catalog_open(void);
int vg_catalog_open(void) { return 0; }
int main(void) { return avcodec_version() == 0 ? vg_catalog_open() : 0; }
SRC
if cc $(pkg-config --cflags libavcodec) -o "$T/leak" "$T/leak.c" \
	-Wl,--no-as-needed $(pkg-config --libs libavcodec) 2>"$T/cc.err"; then
	out=$(scripts/checksrc.sh "$T/leak" 2>&1)
	rc=$?
	echo "$out"
	check "checksrc fails on a program that links vg_catalog_* and libavcodec" [ "$rc" = 1 ]
	check "and names the catalog symbol" sh -c "echo '$out' | grep -q vg_catalog_open"
	check "and names libavcodec" sh -c "echo '$out' | grep -q 'needs libavcodec'"
else
	cat "$T/cc.err"
	notok "could not build the stand-in program to test checksrc"
fi
[ -z "${FAILED:-}" ]
