# End to end: an installer's snapshot. vigilctl snapshot gives one current
# picture as a JPEG of the camera's size, with the privacy mask filled (one
# value inside it, apart from the outline drawn on its edge) while the rest
# of the picture shows the scene; an auditor is refused; both requests are
# in the audit log.
#
# Runs as the current user: the user's role changes from installer to
# auditor by a config reload (SIGHUP), as an administrator would do it.
. tests/e2e-lib.sh
FAILED=0
make_tmp

for tool in ffprobe ffmpeg od; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "snapshot end to end"
		exit 0
	fi
done

ME=$(id -un)
W=640
H=360
MASK_W=$((W / 4))
write_conf() { # write_conf MY-ROLE OTHER-LOGIN OTHER-ROLE
	cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "test-mgr";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
log_level = "info";
defaults = { width = $W; height = $H; fps = 15; preset = "ultrafast"; segment_seconds = 10; };
cameras = (
  { name = "hall"; device = "synthetic"; purpose = "test"; area = "entrance hall";
    masks = ( { rect = [0, 0, $MASK_W, $H]; } );
    overlay = { position = "bottom-right"; }; }
);
users = (
  { login = "$ME"; name = "Test User"; role = "$1"; },
  { login = "$2"; name = "Other"; role = "$3"; },
  { login = "test-mgr"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); }
);
CONF
}
write_conf installer test-auditor auditor
VCTL="$VIGILCTL -c $T/vigil.conf --purpose checking-mask-after-install --reference JOB-17"

"$VIGILD" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
check "vigild starts recording the masked camera" \
	wait_for 30 grep -q "hall: encoding ${W}x${H}" "$T/vigild.log"

$VCTL snapshot --camera hall "$T/snap.jpg" 2>"$T/snap.err"
rc=$?
check "the installer's snapshot succeeds (rc=$rc: $(cat "$T/snap.err"))" [ "$rc" = 0 ]
mode=$(stat -c %a "$T/snap.jpg" 2>/dev/null)
check "the snapshot file is private to its owner (mode $mode)" [ "$mode" = 600 ]
probe=$(ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 \
	"$T/snap.jpg" 2>&1)
check "the snapshot is a JPEG of the camera's size ($probe)" [ "$probe" = "mjpeg,$W,$H" ]

# The picture as grey levels, one line of W values per row.
ffmpeg -v error -i "$T/snap.jpg" -f rawvideo -pix_fmt gray - 2>/dev/null |
	od -An -v -tu1 -w$W >"$T/snap.gray"
rows=$(wc -l <"$T/snap.gray")
check "the snapshot decodes to $H rows of grey ($rows)" [ "$rows" = "$H" ]
# Inside the mask, one 8x8 JPEG block away from its edges (where the
# outline is drawn and the blocks holding it ring): one value only.
inside=$(awk -v w=$MASK_W -v h=$H 'NR > 8 && NR <= h - 8 {
	for (x = 9; x <= w - 8; x++) v[$x] = 1 }
	END { n = 0; for (k in v) { n++; last = k }; print n, last }' "$T/snap.gray")
check "the masked region is one uniform value ($inside: values, value)" [ "${inside%% *}" = 1 ]
fill=${inside#* }
# The outline: on the mask's right edge, mid-height, something much
# brighter than the fill (yellow on black).
edge=$(awk -v w=$MASK_W -v h=$H 'NR == int(h / 2) {
	m = 0; for (x = w - 6; x <= w + 2; x++) if ($x > m) m = $x; print m }' "$T/snap.gray")
check "the mask's outline is drawn on its edge (brightest $edge, fill $fill)" \
	[ "${edge:-0}" -gt $((fill + 60)) ]
# Outside the mask the synthetic scene shows: many different values.
outside=$(awk -v w=$MASK_W -v h=$H 'NR > 8 && NR <= h - 40 {
	for (x = w + 24; x <= NF - 8; x++) v[$x] = 1 }
	END { n = 0; for (k in v) n++; print n }' "$T/snap.gray")
check "the unmasked part shows the scene ($outside different values)" [ "${outside:-0}" -gt 20 ]

$VCTL snapshot --camera nowhere "$T/none.jpg" 2>"$T/none.err"
rc=$?
check "a snapshot of an unknown camera is refused with a reason (rc=$rc)" \
	sh -c "[ $rc = 1 ] && grep -q 'no camera named' '$T/none.err' && [ ! -e '$T/none.jpg' ]"

# The same person, now an auditor: snapshots are footage, auditors see none.
write_conf auditor test-installer installer
kill -HUP "$VIGILD_PID"
check "vigild reloads the configuration" \
	wait_for 30 grep -q "configuration reloaded" "$T/vigild.log"
$VCTL snapshot --camera hall "$T/aud.jpg" 2>"$T/aud.err"
rc=$?
check "the auditor's snapshot is refused (rc=$rc: $(cat "$T/aud.err"))" \
	sh -c "[ $rc = 1 ] && grep -q 'auditor' '$T/aud.err'"
check "no file is created for a refused snapshot" [ ! -e "$T/aud.jpg" ]

$VCTL audit show >"$T/audit.txt" 2>&1
check "the audit log shows the installer's snapshot, allowed" \
	grep -E -q 'installer.*snapshot.*allowed.*camera=hall snapshot.*JOB-17' "$T/audit.txt"
check "the audit log shows the auditor's snapshot, refused" \
	grep -E -q 'auditor.*snapshot.*refused.*camera=hall snapshot' "$T/audit.txt"

kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
rc=$?
VIGILD_PID=
check "vigild exits 0 on SIGTERM after snapshots (rc=$rc)" [ "$rc" = 0 ]
# Footage never goes to disk in the clear: no JPEG in the data folder.
plain=$(LC_ALL=C grep -rlaP '\xff\xd8\xff\xe0..JFIF|\xff\xd8\xff\xdb' "$T/data" 2>/dev/null || true)
check "no plaintext JPEG in the data folder" [ -z "$plain" ]

[ "$FAILED" = 0 ] || { echo "--- vigild.log"; tail -n 40 "$T/vigild.log"; }
exit 0
