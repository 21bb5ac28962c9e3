#!/bin/sh
# How many 1280x720 YUYV 15 fps cameras one vigild records in real time on
# this machine: N paced cameras (each reading the same 20 s of frames at
# their nominal rate, dropping when the encoder falls behind, exactly as a
# live camera would), for N in $BENCH_STREAMS. A count is sustained when
# every frame of every camera is in a clip.
set -eu
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/vigil-streams.XXXXXX)
trap 'rm -rf "$T"' EXIT
ffmpeg -v error -f lavfi -i "testsrc2=size=1280x720:rate=15" -frames:v 300 -pix_fmt yuyv422 \
	-f rawvideo "$T/in.yuv"
for N in ${BENCH_STREAMS:-8 12 14}; do
	cams=""
	for i in $(seq 1 "$N"); do
		cams="$cams{ name = \"c$i\"; device = \"file:$T/in.yuv\"; pixel_format = \"yuyv422\";
		realtime = true; width = 1280; height = 720; fps = 15; preset = \"veryfast\";
		crf = 23; gop = 30; purpose = \"benchmark\"; area = \"none\"; },"
	done
	cat >"$T/v.conf" <<CONF
site = { name = "B"; address = "none"; area_manager = "none"; contact = "none"; };
data_dir = "$T/d$N"; socket = "$T/s$N.sock"; user = "$(id -un)"; log_level = "warn";
cameras = ( ${cams%,} );
users = ( { login = "$(id -un)"; name = "Test Manager"; role = "area_manager"; sites = ( "B" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
	ru=$("$BUILD/tests/bench_rusage" "$BUILD/vigild" -c "$T/v.conf" 2>&1 | tail -n 1)
	got=$(sqlite3 "$T/d$N/catalog.db" "select sum(frames) from clips")
	want=$((N * 300))
	verdict=sustained
	[ "$got" = "$want" ] || verdict="NOT sustained ($((want - got)) frames dropped)"
	echo "streams=$N frames=$got/$want $ru: $verdict"
done
