#!/bin/sh
# `make bench`: vigild's recording pipeline against the ffmpeg CLI on the
# same raw 1280x720 YUYV frames at 15 fps with the same x264 settings and
# segmenting, on three inputs (testsrc2, testsrc2 with sensor-like noise,
# and one still picture with sensor noise:
# tests/bench/input.sh); then the crypto container and other module
# benchmarks; then how many cameras record in real time, for each input.
# Figures go into docs/performance.md by hand, with this command.
#   BENCH_SECONDS (default 20)  seconds of video (tests/bench/pipeline.sh)
#   BENCH_PRESET (default veryfast)
#   BENCH_ONLY=video            only the pipeline and streams benchmarks
set -eu
BUILD=${BUILD:-build}
export BUILD
T=$(mktemp -d /tmp/vigil-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

for input in testsrc2 noisy still; do
	tests/bench/pipeline.sh "$input"
done

if [ "${BENCH_ONLY:-}" != video ] && [ -x "$BUILD/tests/bench_crypto" ]; then
	echo "== clip container (AES-256-GCM, mbedTLS)"
	"$BUILD/tests/bench_crypto"
fi
if [ "${BENCH_ONLY:-}" != video ] && [ -x "$BUILD/tests/bench_audit" ]; then
	echo "== audit log"
	"$BUILD/tests/bench_audit"
	echo "== audit log at 1 M rows: start-up check and audit show"
	BUILD=$BUILD tests/bench/audit_scale.sh 1000000
fi
if [ "${BENCH_ONLY:-}" != video ] && [ -x "$BUILD/tests/bench_catalog" ]; then
	echo "== catalog"
	mkdir "$T/catalog"
	"$BUILD/tests/bench_catalog" 365 "$T/catalog"
	# The year's catalog stays for the review report: a year of it plus
	# a 1 M-row audit log (docs/performance.md, Review report).
	if [ -x "$BUILD/tests/bench_report" ]; then
		echo "== review report"
		"$BUILD/tests/bench_report" "$T/catalog" 1000000
	fi
	rm -rf "$T/catalog"
fi
echo "== concurrent 720p15 cameras in real time"
BUILD=$BUILD tests/bench/streams.sh
# The user's view of an export: `vigilctl export` timed from the shell
# against cp + sync + sha256sum (issue 16; BENCH_EXPORT_MB, default 200).
BUILD=$BUILD tests/bench/export-e2e.sh
