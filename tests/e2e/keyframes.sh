# Clips from a raw (YUYV) camera, recorded by vigild as a box records:
# its own x264 threading, the overlay on. Each clip starts on one IDR and
# has x264's own keyframe every GOP after it, 1 + (frames - 1) / gop in
# all, not a run of IDRs as long as the encoder's delay (issue 16, point
# 5); and the pictures in it are the camera's (a yuyv422 camera with the
# overlay once recorded a scrambled picture: issue 18).
. tests/e2e-lib.sh
FAILED=0
make_tmp
ME=$(id -un)
for tool in ffmpeg ffprobe sqlite3; do
	command -v $tool >/dev/null || { skip "keyframes per clip ($tool missing)"; exit 0; }
done
GOP=30
# 25 s at 15 fps in 10 s clips: 150 + 150 + 75 frames.
ffmpeg -v error -f lavfi -i testsrc2=size=320x240:rate=15 -frames:v 375 -pix_fmt yuyv422 \
	-f rawvideo "$T/in.yuv"
cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME"; contact = "x"; };
data_dir = "$T/data";
key_file = "$T/master.key";
socket = "$T/vigil.sock";
user = "$ME";
cameras = ( { name = "kf"; device = "file:$T/in.yuv"; pixel_format = "yuyv422";
  realtime = false; width = 320; height = 240; fps = 15; gop = $GOP; segment_seconds = 10;
  purpose = "test"; area = "test"; } );
users = ( { login = "$ME"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
"$VIGILD" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1
check "vigild records the camera and exits at the end of its input" [ $? = 0 ]
n=$(sqlite3 "$T/data/catalog.db" "select count(*) from clips")
total=$(sqlite3 "$T/data/catalog.db" "select sum(frames) from clips")
check "375 frames in 3 clips (got $total in $n)" [ "$n.$total" = 3.375 ]
sqlite3 -separator ' ' "$T/data/catalog.db" "select id, hex(wrapped_key), path, frames from clips order by id" |
	while read -r id wk path frames; do
		"$CLIPVEC" decrypt "$T/master.key" "$wk" "$T/data/$path" >"$T/clip$id.mp4"
		ffprobe -v error -select_streams v -show_entries packet=flags -of csv=p=0 \
			"$T/clip$id.mp4" >"$T/flags$id"
		keys=$(grep -c K "$T/flags$id")
		want=$((1 + (frames - 1) / GOP))
		check "clip $id: $frames frames start on a keyframe" sh -c "head -n 1 '$T/flags$id' | grep -q K"
		check "clip $id: $keys keyframes, 1 + ($frames - 1) / $GOP = $want" [ "$keys" = "$want" ]
	done
# The first clip against the first 150 input pictures, below the overlay.
first=$(sqlite3 "$T/data/catalog.db" "select min(id) from clips")
ssim=$(ffmpeg -nostats -f rawvideo -pix_fmt yuyv422 -s 320x240 -r 15 -i "$T/in.yuv" \
	-i "$T/clip$first.mp4" -lavfi "[0:v]trim=end_frame=150,format=yuv420p,crop=iw:ih-60:0:60[a];[1:v]format=yuv420p,crop=iw:ih-60:0:60[b];[b][a]ssim" \
	-f null - 2>&1 | sed -n 's/.*SSIM.*All:\([0-9.]*\).*/\1/p')
check "the first clip's pictures are the camera's (SSIM ${ssim:-none} >= 0.95)" \
	awk -v s="${ssim:-0}" 'BEGIN { exit !(s >= 0.95) }'
[ "$FAILED" = 0 ] || { cat "$T/vigil.conf"; tail -n 20 "$T/vigild.log"; }
exit 0
