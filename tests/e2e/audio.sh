# End to end: sound (policy 3.11, 3.13). A synthetic camera with audio on
# records an AAC stream in the same encrypted clip, in step with the video;
# a camera whose audio_review_by date has passed records video only and
# the log says why. Clips are decrypted into a pipe, never onto the disk.
. tests/e2e-lib.sh
FAILED=0
make_tmp

for tool in ffprobe sqlite3; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "sound end to end"
		exit 0
	fi
done

ME=$(id -un)
FUTURE=$(date -d '+30 days' +%F)
cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
log_level = "info";
defaults = { width = 160; height = 120; fps = 15; preset = "ultrafast"; segment_seconds = 10; fragment_ms = 500; };
cameras = (
  { name = "loud"; device = "synthetic"; purpose = "test"; area = "test";
    audio = true; audio_device = "synthetic";
    audio_justification = "e2e test of sound recording"; audio_review_by = "$FUTURE"; },
  { name = "stale"; device = "synthetic"; purpose = "test"; area = "test";
    audio = true; audio_device = "synthetic";
    audio_justification = "e2e test of a passed review date"; audio_review_by = "2020-01-01"; }
);
users = ( { login = "$ME"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF

"$VIGILD" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
VIGILD_PID=$!

complete() { # complete CAMERA: how many clips are finished
	sqlite3 "$T/data/catalog.db" \
		"select count(*) from clips where camera = '$1' and state = 'complete'" 2>/dev/null
}
two_each() {
	[ "$(complete loud)" -ge 2 ] 2>/dev/null && [ "$(complete stale)" -ge 1 ] 2>/dev/null
}
check "vigild records both cameras into clips" wait_for 60 two_each

# probe CAMERA N: the Nth (from 0) finished clip's packets, decrypted into
# ffprobe through a pipe: "stream_index,codec_type,pts_time,duration_time".
probe() {
	id_key=$(sqlite3 "$T/data/catalog.db" "select path, hex(wrapped_key) from clips
		where camera = '$1' and state = 'complete' order by id limit 1 offset $2")
	"$CLIPVEC" decrypt "$T/data/master.key" "${id_key#*|}" "$T/data/${id_key%%|*}" |
		ffprobe -v error -show_entries packet=stream_index,pts_time,duration_time \
			-of csv=p=0 -i pipe:0
}
codecs() { # codecs CAMERA N: the clip's streams, "h264 aac"
	id_key=$(sqlite3 "$T/data/catalog.db" "select path, hex(wrapped_key) from clips
		where camera = '$1' and state = 'complete' order by id limit 1 offset $2")
	"$CLIPVEC" decrypt "$T/data/master.key" "${id_key#*|}" "$T/data/${id_key%%|*}" |
		ffprobe -v error -show_entries stream=codec_name -of csv=p=0 -i pipe:0 | tr '\n' ' '
}
# span < PACKETS: per stream, "START END" (first pts, last pts + duration) in ms
span() {
	# ffprobe gives no duration for the video packets of a fragment:
	# each lasts as long as the gap before it (constant frame rate).
	awk -F, '{ i = $1; s = $2 * 1000;
		d = $3 != "N/A" ? $3 * 1000 : (i in last ? s - last[i] : 0); last[i] = s;
		if (!(i in st) || s < st[i]) st[i] = s; if (s + d > en[i]) en[i] = s + d }
		END { printf "%.1f %.1f %.1f %.1f\n", st[0], en[0], st[1], en[1] }'
}

for n in 0 1; do
	c=$(codecs loud $n)
	check "clip $n of the camera with sound holds H.264 and AAC ('$c')" [ "$c" = "h264 aac " ]
	pk=$(probe loud $n)
	set -- $(echo "$pk" | span)
	vs=$1 ve=$2 as=$3 ae=$4
	echo "# clip $n: video $vs..$ve ms, audio $as..$ae ms"
	check "clip $n: sound starts within 40 ms of the picture (offset $(echo "$as - $vs" | bc) ms)" \
		awk -v a="$as" -v v="$vs" 'BEGIN { d = a - v; if (d < 0) d = -d; exit !(d <= 40) }'
	# 40 ms of sync plus one AAC frame (1024 samples at 48 kHz, 21.3 ms)
	check "clip $n: sound lasts as long as the picture (within 61.3 ms)" \
		awk -v a="$(echo "$ae - $as" | bc)" -v v="$(echo "$ve - $vs" | bc)" \
		'BEGIN { d = a - v; if (d < 0) d = -d; exit !(d <= 61.3) }'
done

c=$(codecs stale 0)
check "a camera past its audio_review_by records video only ('$c')" [ "$c" = "h264 " ]
check "the log says its sound is off because the review date passed" \
	grep -q 'stale: sound is off: its review date (audio_review_by = 2020-01-01) has passed' \
	"$T/vigild.log"
check "the log says the other camera records sound, and until when" \
	grep -q "loud: recording sound from synthetic until the end of $FUTURE" "$T/vigild.log"
check "no plaintext MP4 lies on the disk" \
	sh -c "! grep -rlq ftyp '$T/data' 2>/dev/null"

kill "$VIGILD_PID"
wait "$VIGILD_PID"
check "vigild stops cleanly" [ $? = 0 ]
VIGILD_PID=

exit $FAILED
