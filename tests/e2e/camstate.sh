# vigilctl status lists every configured camera with what it is doing:
# recording, disabled, expired (a temporary camera past remove_by, never
# started), waiting for its device, and sound that failed while the video
# goes on. A reload with errors is refused, audited as refused, and
# vigilctl still finds vigild through the edited file.
. tests/e2e-lib.sh
FAILED=0
make_tmp
command -v sqlite3 >/dev/null || { tool_missing sqlite3 "camera states"; exit 0; }
ME=$(id -un)
FUTURE=$(date -d '+30 days' +%F)
TODAY=$(date +%F)
write_conf() { # write_conf EXTRA-SETTING-FOR-rec
	cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME"; contact = "x"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
defaults = { width = 160; height = 120; fps = 10; preset = "ultrafast"; segment_seconds = 10; };
cameras = (
  { name = "rec"; device = "synthetic"; purpose = "test"; area = "test";
    signage_confirmed = "$TODAY"; $1 },
  { name = "off"; device = "synthetic"; purpose = "test"; area = "test"; enabled = false;
    signage_confirmed = "$TODAY"; },
  { name = "old"; device = "synthetic"; purpose = "test"; area = "test";
    signage_confirmed = "2025-01-05";
    temporary = { equipment = "Battery camera TC-3"; reason = "ASB reports";
                  case_reference = "ASB-41"; installed = "2025-01-05"; remove_by = "2025-06-01"; }; },
  { name = "nodev"; device = "/dev/video-vigil-missing-$$"; purpose = "test"; area = "test";
    signage_confirmed = "$TODAY"; },
  { name = "mute"; device = "synthetic"; purpose = "test"; area = "test";
    signage_confirmed = "$TODAY";
    audio = true; audio_device = "alsa:vigil-no-such-card-$$";
    audio_justification = "e2e test of a sound device that fails"; audio_review_by = "$FUTURE"; }
);
users = ( { login = "$ME"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "daemon"; name = "Test Auditor"; role = "auditor"; } );
CONF
}
write_conf ""
"$VIGILD" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
VCTL="$VIGILCTL -s $T/vigil.sock"
state_of() { $VCTL status | awk -v c="$1" '$1 == "camera" && $2 == c { print $3 }'; }
is() { [ "$(state_of "$1")" = "$2" ]; }
wait_for 30 is rec recording
$VCTL status >"$T/status.txt"
check "status lists all five configured cameras ($(grep -c '^camera ' "$T/status.txt"))" \
	[ "$(grep -c '^camera ' "$T/status.txt")" = 5 ]
check "the synthetic camera is recording" is rec recording
check "a camera with enabled = false is listed as disabled, and why" \
	grep -q "^camera off  *disabled  *enabled = false in the configuration" "$T/status.txt"
check "a temporary camera past its remove_by is listed as expired" \
	grep -q "^camera old  *expired  *temporary camera past its remove_by date" "$T/status.txt"
check "a camera whose device is missing is waiting for it" wait_for 20 is nodev waiting-for-device
check "a camera whose sound device fails records video and says SOUND FAILED" \
	wait_for 20 sh -c "$VCTL status | grep -q '^camera mute  *recording .*SOUND FAILED: '"
started=$(sqlite3 "$T/data/audit.db" "select group_concat(object, ';') from audit
	where action = 'recording.start'")
check "the expired and the disabled cameras were never started ($started)" \
	sh -c "! echo '$started' | grep -q 'camera=old\|camera=off'"
check "the log says why the expired camera does not record" \
	grep -q "camera old: temporary camera past its remove_by date 2025-06-01: not recording" \
	"$T/vigild.log"
$VCTL cameras --json | tr -d ' \n' >"$T/cameras.json"
entry() { grep -o "\"name\":\"$1\"[^}]*" "$T/cameras.json"; }
register_ok() {
	entry mute | grep -q '"audio":true.*"audio_state":"failed"' &&
		entry rec | grep -q '"audio_state":"off"' &&
		entry old | grep -q '"state":"expired"' &&
		entry off | grep -q '"state":"disabled"'
}
check "cameras --json: mute's sound is configured (\"audio\": true) and failed (\"audio_state\")" \
	register_ok
check "status says which time zone the pictures are in" \
	grep -q "^time zone: Europe/London (\(GMT\|BST\) now)" "$T/status.txt"

# An edit with an error: refused on SIGHUP, the old config kept.
write_conf "fps = 0;"
kill -HUP "$VIGILD_PID"
check "the reload is refused, with the line of the error in the log" \
	wait_for 10 grep -q "vigil.conf:8: camera \"rec\": fps must be between 1 and 120" "$T/vigild.log"
outcome() { sqlite3 "$T/data/audit.db" "select outcome from audit where action = 'config.reload'"; }
refused() { [ "$(outcome)" = refused ]; }
check "the refused reload is audited as refused" wait_for 10 refused
check "and recording goes on" is rec recording
# vigilctl with the edited file finds vigild on the socket the file names.
$VIGILCTL -c "$T/vigil.conf" status >"$T/status2.txt" 2>"$T/status2.err"
rc=$?
check "vigilctl -c EDITED-FILE status still reaches vigild (exit $rc)" \
	sh -c "[ $rc = 0 ] && grep -q '^camera rec ' '$T/status2.txt'"
check "and notes that the file has errors" grep -q "has errors ('vigilctl config check" "$T/status2.err"

kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
rc=$?
VIGILD_PID=
check "vigild stops cleanly (exit $rc)" [ "$rc" = 0 ]
[ "$FAILED" = 0 ] || tail -n 30 "$T/vigild.log"
exit 0
