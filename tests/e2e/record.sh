# End to end: vigild records two synthetic cameras into encrypted clips.
# Checks what a user would notice: the clips play as H.264 of the configured
# size, their frames add up to the time recorded, consecutive clips join up,
# no plaintext video sits on the disk, and a kill -9 mid-clip loses only
# the last seconds.
. tests/e2e-lib.sh
FAILED=0
make_tmp

for tool in ffprobe sqlite3; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "recording end to end"
		exit 0
	fi
done

ME=$(id -un)
cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
log_level = "info";
status_interval = 5;
defaults = { width = 320; height = 240; fps = 15; preset = "ultrafast"; segment_seconds = 10; fragment_ms = 500; };
cameras = (
  { name = "synth-a"; device = "synthetic"; purpose = "test"; area = "test"; },
  { name = "synth-b"; device = "synthetic"; purpose = "test"; area = "test"; }
);
users = (
  { login = "$ME"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; }
);
CONF
VCTL="$VIGILCTL -c $T/vigil.conf --purpose e2e-test --reference CASE-1"

"$VIGILD" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
VIGILD_PID=$!

# Wait until each camera has two finished clips (about 20 s of recording).
two_clips() {
	[ "$(clips_of "$T/vigil.conf" synth-a | wc -l)" -ge 2 ] &&
		[ "$(clips_of "$T/vigil.conf" synth-b | wc -l)" -ge 2 ]
}
check "vigild records two cameras into clips" wait_for 60 two_clips
check "the log says the camera is synthetic" grep -q "synthetic test camera" "$T/vigild.log"
check "vigild warns at start that no signage date is recorded (policy 3.5)" \
	grep -q 'camera "synth-a": no signage_confirmed date' "$T/vigild.log"
$VCTL status >"$T/status.txt"
check "vigilctl status shows the signage warning, the clock and the storage" \
	sh -c "grep -q 'no signage_confirmed' '$T/status.txt' && grep -q '^clock: ' '$T/status.txt' && grep -q '^storage: ' '$T/status.txt'"

$VCTL clips >"$T/clips.txt"
check "clips are labelled synthetic in the catalog" grep -q "SYNTHETIC" "$T/clips.txt"

# Each clip decrypts to H.264 320x240 whose frames match the catalog.
bad=0
nclips=0
for cam in synth-a synth-b; do
	prev_end=
	for id in $(clips_of "$T/vigil.conf" $cam); do
		nclips=$((nclips + 1))
		line=$(awk -v id="$id" '$1 == id' "$T/clips.txt")
		frames=$(echo "$line" | awk "{ print \$7 }")
		start=$(echo "$line" | awk '{ print $3 }')
		end=$(echo "$line" | awk '{ print $4 }')
		probe=$($VCTL decrypt "$id" - |
			ffprobe -v error -count_frames -select_streams v:0 \
				-show_entries stream=codec_name,width,height,nb_read_frames,duration \
				-of csv=p=0 -)
		codec=$(echo "$probe" | cut -d, -f1)
		w=$(echo "$probe" | cut -d, -f2)
		h=$(echo "$probe" | cut -d, -f3)
		n=$(echo "$probe" | awk -F, '{ print $NF }')
		if [ "$codec" != h264 ] || [ "$w" != 320 ] || [ "$h" != 240 ] || [ "$n" != "$frames" ]; then
			echo "clip $id: probe '$probe', catalog frames $frames"
			bad=$((bad + 1))
		fi
		# Frames add up to the clip's length: 15 per second, within one frame.
		len_us=$(( $(date -d "$end" +%s%6N) - $(date -d "$start" +%s%6N) ))
		expect=$(( (len_us * 15 + 500000) / 1000000 ))
		if [ $((frames - expect)) -gt 1 ] || [ $((expect - frames)) -gt 1 ]; then
			echo "clip $id: $frames frames for $len_us us (expected $expect)"
			bad=$((bad + 1))
		fi
		# Consecutive clips join up: this start is the previous end
		# (within one frame interval, 66667 us).
		if [ -n "$prev_end" ]; then
			d=$(( $(date -d "$start" +%s%6N) - $(date -d "$prev_end" +%s%6N) ))
			if [ "$d" -gt 66667 ] || [ "$d" -lt -66667 ]; then
				echo "clip $id starts $d us after the previous clip ends"
				bad=$((bad + 1))
			fi
		fi
		prev_end=$end
	done
done
check "every clip ($nclips) decrypts to H.264 320x240 with the catalogued frame count, lengths add up, clips join up" [ "$bad" = 0 -a "$nclips" -ge 4 ]

kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
rc=$?
VIGILD_PID=
check "vigild exits 0 on SIGTERM (rc=$rc)" [ "$rc" = 0 ]
open_rows=$(sqlite3 "$T/data/catalog.db" "select count(*) from clips where state = 'recording'")
check "no clip is left open after SIGTERM ($open_rows open)" [ "$open_rows" = 0 ]
created=$(sqlite3 "$T/data/audit.db" "select count(*) from audit where action = 'clip.create' and object like '%clock=%synchronised esterror_us=%'")
check "every finished clip has an audit row with the clock's sync state ($created rows)" [ "$created" -ge "$nclips" ]

# No plaintext MP4 anywhere in the data folder: a plaintext clip would
# show its file-type box ("ftyp" + brand) and fragment headers ("moof",
# size, "mfhd"). Eight fixed bytes: chance matches in ciphertext are
# negligible (2^-64 per position).
plain=$(LC_ALL=C grep -rlaP 'ftyp(isom|iso[2-6]|mp4[12])|moof[\x00-\xff]{4}mfhd' "$T/data" 2>/dev/null || true)
check "no plaintext MP4 box in any file under the data folder" [ -z "$plain" ]

# kill -9 in the middle of a clip, then restart: the partial clip is
# recovered up to its last sealed fragment and still plays.
"$VIGILD" -c "$T/vigil.conf" >"$T/vigild2.log" 2>&1 &
VIGILD_PID=$!
open_with_data() {
	$VCTL clips --camera synth-a |
		awk '$11 == "recording"' | grep -q . &&
		[ "$(find "$T/data/clips/synth-a" -name '*.vgc' -newer "$T/vigild.log" -size +20k | wc -l)" -ge 1 ]
}
check "a new clip is being written after restart" wait_for 30 open_with_data
kill -9 "$VIGILD_PID"
wait "$VIGILD_PID" 2>/dev/null
VIGILD_PID=
sqlite3 "$T/data/catalog.db" "select id from clips where camera = 'synth-a' and state = 'recording'" >"$T/open.txt"
check "the killed clip is still marked recording" [ -s "$T/open.txt" ]
killed=$(head -n 1 "$T/open.txt")

"$VIGILD" -c "$T/vigil.conf" >"$T/vigild3.log" 2>&1 &
VIGILD_PID=$!
recovered() {
	$VCTL clips --camera synth-a | awk -v id="$killed" '$1 == id && $11 == "recovered"' | grep -q .
}
check "after restart the killed clip is marked recovered" wait_for 30 recovered
# Recording resumes first; the recovery is in the audit log at once (read
# from the file: this test's user is an area manager, who may not).
sqlite3 "$T/data/audit.db" "select object from audit where action = 'catalog.recover'" \
	>"$T/recover.txt" 2>&1
check "the audit log records the recovery at start-up: $(cat "$T/recover.txt")" \
	grep -q "recovered=[1-9]" "$T/recover.txt"
frames=$($VCTL clips --camera synth-a | awk -v id="$killed" '$1 == id { print $7 }')
n=$($VCTL decrypt "$killed" - |
	ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 -)
kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
VIGILD_PID=
check "the recovered clip plays: $n frames decoded, $frames catalogued, more than 0" [ "${n:-0}" -gt 0 -a "${n:-0}" = "${frames:-x}" ]
check "the restart logged the recovery" grep -q "recovered clip $killed" "$T/vigild3.log"

[ "$FAILED" = 0 ] || { echo "--- vigild.log"; tail -n 40 "$T/vigild.log"; }
exit 0
