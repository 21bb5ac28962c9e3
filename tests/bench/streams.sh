#!/bin/sh
# How many 1280x720 YUYV 15 fps cameras one vigild records in real time on
# this machine: N paced cameras (each reading the same 20 s of frames at
# their nominal rate, dropping when the encoder falls behind, exactly as a
# live camera would), for N in $BENCH_STREAMS. A count is sustained when
# every frame of every camera is in a clip: vigild lost none of the frames
# the source delivered.
#   tests/bench/streams.sh [INPUT]   INPUT: testsrc2, noisy or still
#                                    (tests/bench/input.sh); none: all
#   BENCH_STREAMS (default "4 8 12 16" for testsrc2 and still, "2 4 8"
#   for noisy)
#   BENCH_PRESET (default veryfast): the cameras' x264 preset
# Prints one line per N (CPU, wall, peak RSS of the whole daemon and per
# stream), then the largest N sustained and the RSS per stream at 8.
set -eu
BUILD=${BUILD:-build}
if [ $# = 0 ]; then
	for input in testsrc2 noisy still; do
		sh "$0" "$input"
	done
	exit 0
fi
INPUT=$1
case $INPUT in
noisy) DEF_STREAMS="2 4 8" ;;
*) DEF_STREAMS="4 8 12 16" ;;
esac
T=$(mktemp -d /tmp/vigil-streams.XXXXXX)
trap 'rm -rf "$T"' EXIT
tests/bench/input.sh "$INPUT" 300 "$T/in.yuv"
best=0
rss8=""
echo "== concurrent 720p15 cameras in real time, input $INPUT (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
for N in ${BENCH_STREAMS:-$DEF_STREAMS}; do
	cams=""
	for i in $(seq 1 "$N"); do
		cams="$cams{ name = \"c$i\"; device = \"file:$T/in.yuv\"; pixel_format = \"yuyv422\";
		realtime = true; width = 1280; height = 720; fps = 15; preset = \"${BENCH_PRESET:-veryfast}\";
		crf = 23; gop = 30; purpose = \"benchmark\"; area = \"none\"; },"
	done
	cat >"$T/v.conf" <<CONF
site = { name = "B"; address = "none"; area_manager = "none"; contact = "none"; };
data_dir = "$T/d$N"; key_file = "$T/master.key"; socket = "$T/s$N.sock"; user = "$(id -un)";
log_level = "warn";
cameras = ( ${cams%,} );
users = ( { login = "$(id -un)"; name = "Test Manager"; role = "area_manager"; sites = ( "B" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
	ru=$("$BUILD/tests/bench_rusage" "$BUILD/vigild" -c "$T/v.conf" 2>&1 | tail -n 1)
	got=$(sqlite3 "$T/d$N/catalog.db" "select coalesce(sum(frames), 0) from clips")
	want=$((N * 300))
	kb=$(echo "$ru" | sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p')
	per=$((kb / 1024 / N))
	verdict=sustained
	if [ "$got" = "$want" ]; then
		[ "$N" -gt "$best" ] && best=$N
	else
		verdict="NOT sustained ($((want - got)) frames dropped)"
	fi
	[ "$N" = 8 ] && rss8=$per
	echo "streams=$N frames=$got/$want $ru rss_per_stream_mb=$per: $verdict"
	rm -rf "$T/d$N"
done
echo "$INPUT: streams sustained on $(nproc) cores: $best (of ${BENCH_STREAMS:-$DEF_STREAMS} tried; load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
[ -n "$rss8" ] && echo "$INPUT: peak RSS per stream at 8 streams: $rss8 MB (target <= 40)"
exit 0
