#!/bin/sh
# checksrc.sh - the privilege boundary, checked on the built binary.
#
#   scripts/checksrc.sh build/vigilctl
#
# vigilctl is the staff tool: it holds no key and reads no footage file
# (docs/design.md, docs/security.md). It must therefore link none of the
# code that opens clips (vg_clip_*), holds or unwraps keys (vg_keystore_*,
# the clip cipher vg_crypto_aead_* / vg_crypto_gcm_* / vg_crypto_key_*),
# reads the catalog (vg_catalog_*), captures or encodes (vg_source_*,
# vg_v4l2_*, vg_encoder_*, vg_pipeline_*, vg_segmenter_*, vg_picture_*),
# and no codec or capture library: no libavcodec symbol, and no DT_NEEDED
# entry for FFmpeg's codec, format, filter, device or scaling libraries,
# libv4l2 or x264. Exit 1 naming every offender, 0 if clean.
set -u
bin=${1:-build/vigilctl}
if [ ! -f "$bin" ]; then
	echo "checksrc: $bin: no such file; build it first (make)" >&2
	exit 2
fi
for tool in nm readelf; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "checksrc: $tool not found (Debian package binutils)" >&2
		exit 2
	fi
done
bad=0
syms=$(nm "$bin" 2>/dev/null | awk '{ print $NF }' | sed 's/@.*//' |
	grep -E '^(vg_(clip|keystore|catalog|crypto_aead|crypto_gcm|crypto_key|source|v4l2|encoder|pipeline|segmenter|picture)_|avcodec_|av_packet_|v4l2_)' |
	sort -u)
if [ -n "$syms" ]; then
	for s in $syms; do
		echo "checksrc: $bin links $s, which is on the vigild side of the privilege boundary"
	done
	bad=1
fi
libs=$(readelf -d "$bin" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
	grep -E '^lib(avcodec|avformat|avfilter|avdevice|swscale|swresample|postproc|v4l2|v4lconvert|x264)\.' || true)
if [ -n "$libs" ]; then
	for l in $libs; do
		echo "checksrc: $bin needs $l (DT_NEEDED): a codec or capture library"
	done
	bad=1
fi
if [ "$bad" != 0 ]; then
	echo "checksrc: FAILED: keep $bin to protocol, JSON, config check and export" \
	     "verification (Makefile CTL_LIB_SRCS, CTL_PKGS)"
	exit 1
fi
echo "checksrc: $bin: no clip, keystore, catalog, capture or codec code linked;" \
     "$(readelf -d "$bin" | grep -c '(NEEDED)') libraries needed"
