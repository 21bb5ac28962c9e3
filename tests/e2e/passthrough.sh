# A camera that delivers H.264 itself is recorded without re-encoding: the
# pictures decoded from the clip are identical, frame for frame, to the
# camera's own (a re-encode would change them). With the overlay on, the
# stream must be re-encoded instead, and vigild says so.
. tests/e2e-lib.sh
FAILED=0
make_tmp
ME=$(id -un)
for tool in ffmpeg sqlite3; do
	command -v $tool >/dev/null || { tool_missing "$tool" "pass-through"; exit 0; }
done

# The "camera": 60 frames of H.264 (Annex B, SPS/PPS in band, a keyframe
# every 10 frames) from a test pattern.
ffmpeg -v error -f lavfi -i testsrc2=size=160x120:rate=10 -frames:v 60 -c:v libx264 \
	-preset ultrafast -g 10 -bf 0 -pix_fmt yuv420p -f h264 "$T/camera.h264"

write_conf() { # write_conf OVERLAY(true|false) DATADIR
	cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME"; contact = "x"; };
data_dir = "$2";
socket = "$T/vigil.sock";
user = "$ME";
cameras = ( { name = "h264cam"; device = "file:$T/camera.h264"; pixel_format = "h264";
  realtime = false; width = 160; height = 120; fps = 10; segment_seconds = 10;
  purpose = "test"; area = "test"; overlay = { enabled = $1; }; } );
users = ( { login = "$ME"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
}
# decrypt DATADIR: the catalogued clip's plaintext MP4 on stdout
decrypt() {
	id_key=$(sqlite3 "$1/catalog.db" "select path, hex(wrapped_key) from clips order by id limit 1")
	"$CLIPVEC" decrypt "$1/master.key" "${id_key#*|}" "$1/${id_key%%|*}"
}

write_conf false "$T/pass"
"$VIGILD" -c "$T/vigil.conf" >"$T/pass.log" 2>&1
check "vigild records the H.264 camera and exits at the end of its input" [ $? = 0 ]
check "it says it passes the camera's H.264 through" grep -q "passing it through without re-encoding" "$T/pass.log"
enc=$(sqlite3 "$T/pass/catalog.db" "select encoder from clips limit 1")
check "the catalog records the clip as passthrough ('$enc')" [ "$enc" = passthrough ]
ffmpeg -v error -i "$T/camera.h264" -f framemd5 - | grep -v '^#' | awk -F, '{ print $NF }' >"$T/camera.md5"
decrypt "$T/pass" | ffmpeg -v error -i - -f framemd5 - | grep -v '^#' | awk -F, '{ print $NF }' >"$T/clip.md5"
check "all $(wc -l <"$T/camera.md5") frames decode identically from the clip (no re-encoding)" \
	cmp -s "$T/camera.md5" "$T/clip.md5"

write_conf true "$T/reenc"
"$VIGILD" -c "$T/vigil.conf" >"$T/reenc.log" 2>&1
check "with the overlay on, vigild says it must decode and re-encode" grep -q "decoding and re-encoding" "$T/reenc.log"
decrypt "$T/reenc" | ffmpeg -v error -i - -f framemd5 - | grep -v '^#' | awk -F, '{ print $NF }' >"$T/reenc.md5"
check "and the clip's pictures differ from the camera's (the overlay is in them)" \
	sh -c "! cmp -s '$T/camera.md5' '$T/reenc.md5' && [ -s '$T/reenc.md5' ]"
[ "$FAILED" = 0 ] || { cat "$T/vigil.conf"; tail -n 20 "$T/pass.log"; tail -n 20 "$T/reenc.log"; }
exit 0
