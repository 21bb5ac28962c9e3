#!/bin/sh
# tests/bench/pipeline.sh INPUT: vigild's whole recording pipeline against
# the ffmpeg CLI on the same raw 1280x720 YUYV frames at 15 fps (INPUT:
# testsrc2, noisy or still, tests/bench/input.sh), the CLI given the x264 settings
# vigild uses for one camera on this box, in the same run. Prints CPU,
# peak RSS, kbit/s, and SSIM/PSNR of the CLI's output against the input,
# also with x264's own defaults (what vigild used before issue 18) so the
# cost of the settings in bits and quality is in plain view. The CLI also
# runs a third way, burning in the same date/time overlay as vigild
# (drawtext, same font, size, box and place), so that vigild can be
# compared with the CLI doing the same job as well as with the plain one.
#   BENCH_SECONDS (default 20)  seconds of video
#   BENCH_RUNS (default 3)      the CLI and vigild run in turn this many
#   times; the ratio is of the median CPU of each (single runs of 2-3
#   CPU-s differ by up to 20 % on a shared 2-core VM). Each run also
#   codes one picture, so the start-up (libraries, x264's open) can be
#   told from the cost per second of a daemon that runs for months.
#   BENCH_PRESET (default veryfast)
#   BENCH_X264_THREADS (default: vigild's choice for one camera, the
#   cores up to 8), BENCH_X264_LOOKAHEAD (default VG_ENC_LOOKAHEAD, read
#   from include/vigil/encoder.h),
#   BENCH_X264_EXTRA (default sync-lookahead=0:sliced-threads=0:force-cfr=1): the
#   settings vigild chooses (src/record/encoder.c); set them to 0, -1 and
#   "" to give the CLI x264's defaults, as the vigild before issue 18 had.
set -eu
BUILD=${BUILD:-build}
INPUT=$1
SECS=${BENCH_SECONDS:-20}
PRESET=${BENCH_PRESET:-veryfast}
cores=$(nproc)
[ "$cores" -le 8 ] || cores=8
THREADS=${BENCH_X264_THREADS:-$cores}
LOOKAHEAD=${BENCH_X264_LOOKAHEAD:-$(sed -n 's/^#define VG_ENC_LOOKAHEAD \([0-9]*\).*/\1/p' include/vigil/encoder.h)}
EXTRA=${BENCH_X264_EXTRA-sync-lookahead=0:sliced-threads=0:force-cfr=1}
FPS=15
W=1280
H=720
FRAMES=$((SECS * FPS))
T=$(mktemp -d /tmp/vigil-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
RU=$BUILD/tests/bench_rusage

echo "== recording pipeline, input $INPUT: ${SECS}s of ${W}x${H} YUYV at ${FPS} fps, x264 preset $PRESET, crf 23, gop 30, no B-frames"
echo "   x264 for both: threads $THREADS, rc-lookahead $LOOKAHEAD, ${EXTRA:-no other settings}"
echo "   (vigild also burns in its date/time overlay and encrypts; the plain ffmpeg CLI does neither)"
tests/bench/input.sh "$INPUT" "$FRAMES" "$T/in.yuv"

# ffmpeg CLI: OUT THREADS LOOKAHEAD EXTRA [INPUT [FILTER]]. -pix_fmt
# yuv420p: given YUYV, the CLI would otherwise pick yuv422p and code twice
# vigild's chroma (High 4:2:2), a heavier job than vigild's; until stop 25
# it did.
cli() {
	rm -rf "${T:?}/$1"
	mkdir -p "$T/$1"
	$RU ffmpeg -v error -f rawvideo -pix_fmt yuyv422 -s ${W}x${H} -r $FPS -i "${5:-$T/in.yuv}" \
		${6:+-vf "$6"} -pix_fmt yuv420p -c:v libx264 -preset "$PRESET" -crf 23 -g 30 -bf 0 -threads "$2" \
		-rc-lookahead "$3" -x264-params "open-gop=0:scenecut=0${4:+:$4}" \
		-f segment -segment_time 60 -segment_format mp4 \
		-segment_format_options movflags=empty_moov+default_base_moof+frag_keyframe \
		"$T/$1/out%03d.mp4" 2>"$T/$1.ru"
	tail -n 1 "$T/$1.ru"
}
# SSIM and PSNR (all planes) of an MP4 (a file, or - for stdin) against
# the input, below the top 80 rows: vigild burns its date/time overlay
# there, which is not an encoding error. Same crop for every output.
quality() {
	ffmpeg -nostats -f rawvideo -pix_fmt yuyv422 -s ${W}x${H} -r $FPS -i "$T/in.yuv" \
		-i "$1" -lavfi "[1:v]format=yuv420p,crop=iw:ih-80:0:80,split[a][c];[0:v]format=yuv420p,crop=iw:ih-80:0:80,split[b][d];[a][b]ssim;[c][d]psnr" \
		-f null - 2>&1 |
		sed -n 's/.*SSIM.*All:\([0-9.]*\).*/ssim=\1/p; s/.*PSNR.*average:\([0-9.inf]*\).*/psnr=\1/p' |
		tr '\n' ' '
}
kbps_of() { awk -v b="$1" -v s="$SECS" 'BEGIN { printf "%.0f", b * 8 / s / 1000 }'; }

# vigild's overlay for a 1280x720 camera named "bench" (its font read from
# src/record/picture.c; src/policy/layout.c, vg_overlay_layout: size h/24,
# margin size/2, border size/4, top left),
# drawn on yuv420p after the conversion as vigild draws it. The text goes
# in a file: drawtext expands it the same way, without a second layer of
# filter-graph quoting.
printf '%s' '%{pts:localtime:0:%Y-%m-%d %H\:%M\:%S %Z}  bench' >"$T/overlay.txt"
OSIZE=$((H / 24))
FONT=$(sed -n 's/^#define OVERLAY_FONT "\(.*\)"$/\1/p' src/record/picture.c)
OVERLAY="format=yuv420p,drawtext=fontfile=$FONT:textfile=$T/overlay.txt:fontsize=$OSIZE:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=$((OSIZE / 4)):x=$((OSIZE / 2)):y=$((OSIZE / 2))"

ref=$(cli ref 0 -1 "")
refq=$(quality "$T/ref/out000.mp4")
refk=$(kbps_of "$(cat "$T"/ref/*.mp4 | wc -c)")

# vigild's configuration for INPUT: CONF INPUT
conf() {
	cat >"$1" <<CONF
site = { name = "Benchmark"; address = "none"; area_manager = "nobody"; contact = "none"; };
data_dir = "$T/data";
key_file = "$T/master.key";
user = "$(id -un)";
socket = "$T/vigil.sock";
log_level = "warn";
cameras = ( { name = "bench"; device = "file:$2"; pixel_format = "yuyv422";
  purpose = "benchmark"; area = "none";
  realtime = false; width = $W; height = $H; fps = $FPS; preset = "$PRESET"; crf = 23;
  gop = 30; segment_seconds = 60; fragment_ms = 1000; } );
users = ( { login = "$(id -un)"; name = "Test Manager"; role = "area_manager"; sites = ( "Benchmark" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
}
conf "$T/vigil.conf" "$T/in.yuv"
# One picture: what starting either process costs (loading FFmpeg's 225
# libraries, opening x264), once per boot for a daemon, but a few per cent
# of a 20 s run.
head -c $((W * H * 2)) "$T/in.yuv" >"$T/in1.yuv"
conf "$T/vigil1.conf" "$T/in1.yuv"
# vigild [CONF]
vig() {
	rm -rf "$T/data"
	if ! $RU "$BUILD/vigild" -c "${1:-$T/vigil.conf}" 2>"$T/vg.ru"; then
		cat "$T/vg.ru" >&2
		exit 1
	fi
	tail -n 1 "$T/vg.ru"
}
cpu() { echo "$1" | sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p'; }
rss() { echo "$1" | sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# In turn, so that a busy spell of the machine falls on both.
ffcpus=""
focpus=""
vgcpus=""
ff1cpus=""
vg1cpus=""
runs=""
for r in $(seq 1 "${BENCH_RUNS:-3}"); do
	ff1cpus="$ff1cpus $(cpu "$(cli ff1 "$THREADS" "$LOOKAHEAD" "$EXTRA" "$T/in1.yuv")")"
	vg1=$(vig "$T/vigil1.conf") || exit 1
	vg1cpus="$vg1cpus $(cpu "$vg1")"
	ff=$(cli ff "$THREADS" "$LOOKAHEAD" "$EXTRA")
	fo=$(cli fo "$THREADS" "$LOOKAHEAD" "$EXTRA" "$T/in.yuv" "$OVERLAY")
	vg=$(vig) || exit 1
	# A benchmark of a pipeline that skipped frames would flatter it: check.
	got=$(sqlite3 "$T/data/catalog.db" "select sum(frames) from clips")
	if [ "$got" != "$FRAMES" ]; then
		echo "pipeline.sh: vigild recorded $got frames, expected $FRAMES: figures invalid" >&2
		exit 1
	fi
	ffcpus="$ffcpus $(cpu "$ff")"
	focpus="$focpus $(cpu "$fo")"
	vgcpus="$vgcpus $(cpu "$vg")"
	runs="$runs $(awk -v f="$(cpu "$ff")" -v v="$(cpu "$vg")" 'BEGIN { printf "%.2f", v / f }')"
done
ffq=$(quality "$T/ff/out000.mp4")
ffk=$(kbps_of "$(cat "$T"/ff/*.mp4 | wc -c)")
vgk=$(kbps_of "$(sqlite3 "$T/data/catalog.db" "select sum(bytes) from clips")")
# vigild's own pictures, decrypted through a pipe (never to disk): the
# overlay is in them, so they can only score a little below the CLI's.
vgq=""
if [ "$(sqlite3 "$T/data/catalog.db" "select count(*) from clips")" = 1 ]; then
	set -- $(sqlite3 -separator ' ' "$T/data/catalog.db" "select hex(wrapped_key), path from clips")
	vgq=$("$BUILD/tests/clipvec" decrypt "$T/master.key" "$1" "$T/data/$2" | quality -)
fi

echo "ffmpeg CLI, same x264 settings: $ff kbit/s=$ffk $ffq"
echo "ffmpeg CLI, x264 defaults:      $ref kbit/s=$refk $refq"
echo "ffmpeg CLI, same + overlay:     $fo kbit/s=$(kbps_of "$(cat "$T"/fo/*.mp4 | wc -c)")"
echo "vigild:                         $vg kbit/s=$vgk (encrypted clips) $vgq"
echo "CPU-s of each run, in turn: ffmpeg$ffcpus; ffmpeg + overlay$focpus; vigild$vgcpus; ratios to plain ffmpeg$runs"
echo "CPU-s of each one-picture run: ffmpeg$ff1cpus; vigild$vg1cpus"
awk -v name="$INPUT" -v f="$(echo "$ffcpus" | median)" -v v="$(echo "$vgcpus" | median)" -v s="$SECS" \
	-v fo="$(echo "$focpus" | median)" \
	-v f1="$(echo "$ff1cpus" | median)" -v v1="$(echo "$vg1cpus" | median)" \
	-v fr="$(rss "$ff")" -v vr="$(rss "$vg")" 'BEGIN {
	printf "%s: ffmpeg CPU-s per s of video: %.3f\n", name, f / s
	printf "%s: vigild CPU-s per s of video: %.3f\n", name, v / s
	printf "%s: vigild / ffmpeg CPU ratio:   %.2f of the medians (target <= 0.9)\n", name, v / f
	printf "%s: vigild / (ffmpeg + the same overlay) CPU ratio: %.2f of the medians (the same job)\n", name, v / fo
	printf "%s: start-up CPU-s: ffmpeg %.2f, vigild %.2f (one-picture runs, medians)\n", name, f1, v1
	printf "%s: after start-up, vigild / ffmpeg: %.2f (each median less its start-up)\n", name, (v - v1) / (f - f1)
	printf "%s: peak RSS: ffmpeg %.0f MB, vigild %.0f MB (one stream)\n", name, fr / 1024, vr / 1024
	printf "%s: 720p15 streams two cores could encode (2 / CPU-s per s): %.1f\n", name, 2 * s / v
}'
