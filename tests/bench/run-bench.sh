#!/bin/sh
# `make bench`: vigild's recording pipeline against the ffmpeg CLI on the
# same raw 1280x720 YUYV frames at 15 fps with the same x264 settings and
# segmenting, then the crypto container and other module benchmarks.
# Figures go into docs/performance.md by hand, with this command.
#   BENCH_SECONDS (default 20)  seconds of video
#   BENCH_PRESET (default veryfast)
set -eu
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-20}
PRESET=${BENCH_PRESET:-veryfast}
FPS=15
W=1280
H=720
FRAMES=$((SECS * FPS))
T=$(mktemp -d /tmp/vigil-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
RU=$BUILD/tests/bench_rusage

echo "== recording pipeline: ${SECS}s of ${W}x${H} YUYV at ${FPS} fps, x264 preset $PRESET, crf 23, gop 30, no B-frames"
echo "   (vigild also burns in its date/time overlay and encrypts; the ffmpeg CLI does neither)"
# The input is a synthetic test pattern, generated once (not footage).
ffmpeg -v error -f lavfi -i "testsrc2=size=${W}x${H}:rate=$FPS" -frames:v $FRAMES \
	-pix_fmt yuyv422 -f rawvideo "$T/in.yuv"

mkdir -p "$T/ff"
$RU ffmpeg -v error -f rawvideo -pix_fmt yuyv422 -s ${W}x${H} -r $FPS -i "$T/in.yuv" \
	-c:v libx264 -preset "$PRESET" -crf 23 -g 30 -bf 0 -x264-params open-gop=0:scenecut=0 \
	-f segment -segment_time 60 -segment_format mp4 \
	-segment_format_options movflags=empty_moov+default_base_moof+frag_keyframe \
	"$T/ff/out%03d.mp4" 2>"$T/ff.ru"
ff=$(tail -n 1 "$T/ff.ru")

cat >"$T/vigil.conf" <<CONF
site = { name = "Benchmark"; address = "none"; area_manager = "nobody"; contact = "none"; };
data_dir = "$T/data";
user = "$(id -un)";
socket = "$T/vigil.sock";
log_level = "warn";
cameras = ( { name = "bench"; device = "file:$T/in.yuv"; pixel_format = "yuyv422";
  purpose = "benchmark"; area = "none";
  realtime = false; width = $W; height = $H; fps = $FPS; preset = "$PRESET"; crf = 23;
  gop = 30; segment_seconds = 60; fragment_ms = 1000; } );
users = ( { login = "$(id -un)"; name = "Test Manager"; role = "area_manager"; sites = ( "Benchmark" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
if ! $RU "$BUILD/vigild" -c "$T/vigil.conf" 2>"$T/vg.ru"; then
	cat "$T/vg.ru"
	exit 1
fi
vg=$(tail -n 1 "$T/vg.ru")
# A benchmark of a pipeline that skipped frames would flatter it: check.
got=$(sqlite3 "$T/data/catalog.db" "select sum(frames) from clips")
if [ "$got" != "$FRAMES" ]; then
	echo "run-bench: vigild recorded $got frames, expected $FRAMES: figures invalid" >&2
	exit 1
fi

cpu() { echo "$1" | sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p'; }
rss() { echo "$1" | sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p'; }
ffc=$(cpu "$ff")
vgc=$(cpu "$vg")
echo "ffmpeg CLI: $ff"
echo "vigild:     $vg"
awk -v f="$ffc" -v v="$vgc" -v s="$SECS" -v fr="$(rss "$ff")" -v vr="$(rss "$vg")" 'BEGIN {
	printf "ffmpeg CPU-s per s of video: %.3f\n", f / s
	printf "vigild CPU-s per s of video: %.3f\n", v / s
	printf "vigild / ffmpeg CPU ratio:   %.2f (target <= 1.0)\n", v / f
	printf "peak RSS: ffmpeg %.0f MB, vigild %.0f MB (one stream)\n", fr / 1024, vr / 1024
	printf "720p15 streams two cores sustain in real time (2 / CPU-s per s): %.1f\n", 2 * s / v
}'

if [ -x "$BUILD/tests/bench_crypto" ]; then
	echo "== clip container (AES-256-GCM, mbedTLS)"
	"$BUILD/tests/bench_crypto"
fi
if [ -x "$BUILD/tests/bench_audit" ]; then
	echo "== audit log"
	"$BUILD/tests/bench_audit"
	echo "== audit log at 1 M rows: start-up check and audit show"
	BUILD=$BUILD tests/bench/audit_scale.sh 1000000
fi
if [ -x "$BUILD/tests/bench_catalog" ]; then
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
