# The overlay is whole in real recordings: for each corner, config check
# refuses an overlay size too big for the picture and names the largest
# that fits; a camera recorded at that size (a 32-character name on a
# 640x360 grey picture, encoded, encrypted, then decrypted with vigilctl
# view and decoded by ffmpeg) shows the date, time, zone and name well
# inside the picture, laid out exactly as in the picture kept for that
# corner in tests/data/overlay/ (same box, to 2 pixels: the digits differ,
# their widths do not). UPDATE_OVERLAY_PICTURES=1 writes new ones there.
. tests/e2e-lib.sh
FAILED=0
make_tmp
for tool in ffmpeg od; do
	command -v $tool >/dev/null || { tool_missing "$tool" "overlay pictures"; exit 0; }
done
ME=$(id -un)
NAME=north-entrance-stairwell-block-a	# 32 characters, the most a name may have
W=640
H=360
ffmpeg -loglevel error -f lavfi -i "color=c=0x808080:s=${W}x${H}:r=10" -frames:v 20 \
	-pix_fmt yuv420p -f rawvideo "$T/grey.yuv"
VCTL="$VIGILCTL -s $T/vigil.sock --purpose overlay-test --reference CASE-12"

write_conf() { # write_conf POSITION SIZE [ENABLED]
	cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME"; contact = "x"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
cameras = ( { name = "$NAME"; device = "file:$T/grey.yuv"; pixel_format = "yuv420p";
  realtime = false; width = $W; height = $H; fps = 10; preset = "ultrafast";
  segment_seconds = 10; purpose = "test"; area = "test"; signage_confirmed = "$(date +%F)";
  enabled = ${3:-true}; overlay = { position = "$1"; size = $2; }; } );
users = ( { login = "$ME"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "daemon"; name = "Test Auditor"; role = "auditor"; } );
CONF
}

# bbox PICTURE: "x0 y0 x1 y1" of the pixels the overlay changed (luma more
# than 24 away from the grey 128), or nothing.
bbox() {
	ffmpeg -loglevel error -i "$1" -f rawvideo -pix_fmt gray - | od -An -v -tu1 -w$W |
		awk -v w=$W '{ for (x = 1; x <= NF; x++) { d = $x - 128; if (d > 24 || d < -24) {
			if (!n++ || x - 1 < x0) x0 = x - 1; if (x - 1 > x1) x1 = x - 1;
			if (n == 1) y0 = NR - 1; y1 = NR - 1 } } }
			END { if (n) print x0, y0, x1, y1 }'
}

for pos in top-left top-right bottom-left bottom-right; do
	write_conf "$pos" 200
	max=$("$VIGILCTL" config check "$T/vigil.conf" |
		sed -n 's/.*overlay size 200 does not fit a 640x360 picture.*the largest size that fits is \([0-9]*\):.*/\1/p')
	check "$pos: config check refuses size 200 on 640x360 and names the largest that fits ($max)" \
		[ -n "$max" ]
	[ -n "$max" ] || continue
	write_conf "$pos" "$max"
	check "$pos: size $max is accepted" "$VIGILD" -n -c "$T/vigil.conf"
	rm -rf "$T/data"
	"$VIGILD" -c "$T/vigil.conf" >"$T/vigild-$pos.log" 2>&1 &
	VIGILD_PID=$!
	wait "$VIGILD_PID"	# the file ends: vigild finishes the clip and stops
	VIGILD_PID=
	# vigilctl needs vigild: start it again on the recorded data, with the
	# camera off (the file would end again at once, and vigild with it)
	write_conf "$pos" "$max" false
	"$VIGILD" -c "$T/vigil.conf" >>"$T/vigild-$pos.log" 2>&1 &
	VIGILD_PID=$!
	up() { $VCTL clips --camera "$NAME" >"$T/clips.txt" 2>/dev/null; }
	wait_for 30 up
	id=$(awk 'NR == 2 { print $1 }' "$T/clips.txt")
	$VCTL view "$id" - 2>/dev/null |
		ffmpeg -loglevel error -i - -frames:v 1 -pix_fmt gray -y "$T/$pos.png"
	kill -TERM "$VIGILD_PID" 2>/dev/null
	wait "$VIGILD_PID"
	VIGILD_PID=
	check "$pos: a frame of the recording at size $max decodes" [ -s "$T/$pos.png" ]
	[ -s "$T/$pos.png" ] || { sed 's/^/# /' "$T/vigild-$pos.log" | tail -n 20; continue; }
	box=$(bbox "$T/$pos.png")
	inside() { # inside X0 Y0 X1 Y1
		[ $# = 4 ] && [ "$1" -ge 2 ] && [ "$2" -ge 2 ] && [ "$3" -le $((W - 3)) ] &&
			[ "$4" -le $((H - 3)) ]
	}
	check "$pos: the overlay ($box) lies inside the ${W}x$H picture, clear of every edge" \
		inside $box
	kept=tests/data/overlay/$pos.png
	if [ "${UPDATE_OVERLAY_PICTURES:-}" = 1 ]; then
		mkdir -p tests/data/overlay
		cp "$T/$pos.png" "$kept"
		echo "# wrote $kept"
	fi
	if [ ! -f "$kept" ]; then
		notok "$pos: $kept is missing (UPDATE_OVERLAY_PICTURES=1 makes it)"
		continue
	fi
	kept_box=$(bbox "$kept")
	same() { # same X0 Y0 X1 Y1 X0' Y0' X1' Y1': each within 2 pixels
		[ $# = 8 ] || return 1
		for a in "$1 $5" "$2 $6" "$3 $7" "$4 $8"; do
			set -- $a
			[ $(($1 - $2)) -le 2 ] && [ $(($2 - $1)) -le 2 ] || return 1
		done
	}
	check "$pos: laid out as in $kept ($box vs $kept_box)" same $box $kept_box
done
exit 0
