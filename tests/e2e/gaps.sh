# End to end: the account of what happened (issue 14), as the DPO and an
# auditor read it.
#  - a clean stop and restart is a "vigild stopped" gap, from the last
#    clip's end to the first new clip's start, listed by vigilctl gaps and
#    counted in status;
#  - a clip number is never given to another clip, even when the newest
#    clip was deleted before a restart;
#  - a file holding only a clip header and no row is removed at start,
#    with an audit row;
#  - a view is audited when the footage was delivered; vigilctl refuses an
#    output file that exists before it asks, so no view is audited;
#  - a clip that fails authentication is an integrity.failure audit row
#    naming clip and chunk, an ALARM line in the log and in status;
#  - after the clock clamp (vigild off for more than 7 days) the DPO lifts
#    it with vigilctl retention accept-clock, audited, and the log says
#    when the clamp ends;
#  - a camera disabled in the configuration (SIGHUP) is a "disabled in
#    the configuration" gap from its last clip's end, one gap across a
#    restart, closed by the first clip once it is enabled again;
#  - the docs name the schema version vigild writes.
. tests/e2e-lib.sh
FAILED=0
make_tmp

for tool in sqlite3 ffprobe; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "gaps end to end"
		exit 0
	fi
done

ME=$(id -un)
cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "test-mgr";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
log_level = "info";
defaults = { width = 160; height = 120; fps = 15; preset = "ultrafast"; segment_seconds = 10; fragment_ms = 500; };
cameras = ( { name = "door"; device = "synthetic"; purpose = "test"; area = "entrance"; } );
users = (
  { login = "$ME"; name = "Data Protection Officer"; role = "dpo"; },
  { login = "test-mgr"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; }
);
CONF
VCTL="$VIGILCTL -c $T/vigil.conf --purpose subject-access-request --reference DSAR-14"
DB=$T/data/catalog.db
AUDIT=$T/data/audit.db
q() { sqlite3 "$DB" "$1" 2>/dev/null; }
qa() { sqlite3 "$AUDIT" "$1" 2>/dev/null; }
start() {
	"$VIGILD" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
	VIGILD_PID=$!
}
stop() {
	kill -TERM "$VIGILD_PID"
	wait "$VIGILD_PID"
	VIGILD_PID=
}
complete_after() { # complete_after ID: a complete clip with a larger id
	[ "$(q "select count(*) from clips where state = 'complete' and id > $1")" -ge 1 ] 2>/dev/null
}

start
check "vigild records two complete clips" wait_for 60 complete_after 1
stop
last_end=$(q "select max(end_us) from clips")
gap=$(q "select from_us || ' ' || coalesce(to_us, 'open') || ' ' || reason from gaps")
check "a clean stop opens a gap from the last clip's end ($gap)" \
	[ "$gap" = "$last_end open vigild stopped" ]

# The newest clip goes (as retention would: row and file) before the restart.
newest=$(q "select max(id) from clips")
newest_path=$(q "select path from clips where id = $newest")
q "delete from clips where id = $newest" >/dev/null
rm -f "$T/data/$newest_path"
# A clip file header with no row and no footage, as a crash between
# naming a file and cataloguing it left them.
any=$(q "select path from clips order by id limit 1")
orphan=$(dirname "$T/data/$any")/door-20260101T000000Z-deadbeef.vgc
head -c 56 "$T/data/$any" >"$orphan"
touch -d '-1 hour' "$orphan"

start
check "recording resumes after the restart" wait_for 60 complete_after "$newest"
first_new=$(q "select min(id) from clips where id > $((newest - 1))")
check "clip number $newest, deleted before the restart, is not given to another clip (next: $first_new)" \
	[ "${first_new:-0}" -gt "$newest" ]
first_start=$(q "select start_us from clips where id = $first_new")
gap=$(q "select from_us || ' ' || to_us from gaps where reason = 'vigild stopped'")
check "the first new clip closes the gap at its start, which began where the footage ended ($gap)" \
	[ "$gap" = "$last_end $first_start" ]
$VCTL gaps --camera door >"$T/gaps.txt" 2>&1
check "vigilctl gaps lists the stop" grep -q "^door .* vigild stopped" "$T/gaps.txt"
$VCTL status >"$T/status.txt" 2>&1
today=$(grep -o 'gaps today [0-9]*' "$T/status.txt" | awk '{ print $3 }')
check "status counts the gap today ($today)" [ "${today:-0}" -ge 1 ]
removed() { [ ! -e "$orphan" ] && [ "$(qa "select count(*) from audit where action = 'clip.orphan_removed' and object like '%deadbeef.vgc'")" = 1 ]; }
check "the header-only file without a row is removed, with an audit row" wait_for 30 removed

# Views: audited when delivered; an output that exists is refused first.
id=$(q "select min(id) from clips where state = 'complete'")
$VCTL view "$id" "$T/clip.mp4" 2>"$T/view.err"
rc=$?
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
	-of csv=p=0 "$T/clip.mp4" 2>/dev/null)
check "the DPO views clip $id (exit $rc, $frames frames)" [ "$rc" = 0 -a "${frames:-0}" -gt 0 ]
check "the view is audited as delivered, naming the clip id" \
	[ "$(qa "select count(*) from audit where action = 'clip.viewed' and object like '%clip=$id clip_id=%' and reason like 'delivered:%'")" = 1 ]
$VCTL view "$id" "$T/clip.mp4" 2>"$T/view2.err"
rc=$?
check "viewing into a file that exists is refused (exit $rc)" \
	sh -c "[ $rc != 0 ] && grep -q 'must not exist' '$T/view2.err'"
views=$(qa "select count(*) from audit where action = 'clip.view' and object like '%clip=$id %'")
check "... before asking vigild: one audited view, not two ($views)" [ "$views" = 1 ]

# A clip that fails authentication.
bad=$(q "select max(id) from clips where state = 'complete' and id < $newest")
bad_path=$(q "select path from clips where id = $bad")
printf 'X' | dd of="$T/data/$bad_path" bs=1 seek=100 conv=notrunc 2>/dev/null
$VCTL view "$bad" "$T/bad.mp4" 2>"$T/bad.err"
rc=$?
check "viewing the tampered clip $bad fails (exit $rc)" \
	sh -c "[ $rc != 0 ] && grep -q 'authentication' '$T/bad.err'"
check "an integrity.failure audit row names the clip and its chunk" \
	[ "$(qa "select count(*) from audit where action = 'integrity.failure' and object like '%clip=$bad clip_id=%' and object like '% chunk=0 %'")" = 1 ]
check "the view is audited as not delivered" \
	[ "$(qa "select count(*) from audit where action = 'clip.view_failed' and object like '%clip=$bad %'")" = 1 ]
check "vigild logs it as an alarm" grep -q "ALARM: integrity failure: .*clip=$bad " "$T/vigild.log"
$VCTL status >"$T/status2.txt" 2>&1
check "status raises the integrity alarm" grep -q "ALARM: 1 clip(s) failed authentication" "$T/status2.txt"
stop

# The clock clamp: vigild was off for more than 7 days (the last sweep's
# trusted time moves back, as time would).
week=$(( $(date +%s) - 8 * 86400 ))000000
q "update meta set value = '$week' where key = 'retention.last_sweep_us'" >/dev/null
start
jumped() { $VCTL status --json 2>/dev/null | tr -d ' \n' | grep -q '"clock_jump":1\|"clock_jump":true'; }
check "after 8 days off, retention is clamped and says so" wait_for 30 jumped
out=$($VIGILCTL -c "$T/vigil.conf" --purpose "the clock was checked against NTP" retention accept-clock 2>&1)
rc=$?
check "the DPO confirms the clock: vigilctl retention accept-clock (exit $rc: $out)" [ "$rc" = 0 ]
check "the log says the clamp ended" wait_for 10 grep -q "retention clock clamp ended" "$T/vigild.log"
check "the confirmation is audited (decision and outcome)" \
	[ "$(qa "select count(*) from audit where action in ('retention.accept_clock', 'retention.clock_accepted') and outcome = 'allowed'")" = 2 ]
unclamped() { ! jumped; }
check "status shows no clamp afterwards" wait_for 10 unclamped
out=$($VIGILCTL -c "$T/vigil.conf" --purpose again retention accept-clock 2>&1)
rc=$?
check "confirming again, with no clamp, is refused (exit $rc: $out)" \
	sh -c "[ $rc != 0 ] && echo '$out' | grep -q 'not clamped'"

# An installer disables the camera and reloads (SIGHUP): the time it is
# off is a "disabled in the configuration" gap from its last clip's end,
# still one gap across a restart, closed when it is enabled again.
before=$(q "select coalesce(max(id), 0) from clips")
check "recording before the camera is disabled" wait_for 60 complete_after "$before"
cp "$T/vigil.conf" "$T/vigil.conf.on"
sed 's/device = "synthetic";/device = "synthetic"; enabled = false;/' "$T/vigil.conf.on" \
	>"$T/vigil.conf"
kill -HUP "$VIGILD_PID"
disabled_gap() { [ "$(q "select count(*) from gaps where reason = 'disabled in the configuration' and to_us is null")" = 1 ]; }
check "disabling the camera opens a 'disabled in the configuration' gap" wait_for 30 disabled_gap
off_end=$(q "select max(end_us) from clips where state = 'complete'")
off_from=$(q "select from_us from gaps where reason = 'disabled in the configuration'")
check "... from where its footage ends ($off_from, last clip ends $off_end)" \
	[ "${off_from:-x}" = "$off_end" ]
$VCTL gaps --camera door >"$T/gaps2.txt" 2>&1
check "vigilctl gaps lists it" grep -q "^door .* disabled in the configuration" "$T/gaps2.txt"
stop
start
told() { grep -q "camera door is disabled in the configuration" "$T/vigild.log"; }
check "vigild restarted with the camera still disabled says so" wait_for 30 told
gaps_after=$(q "select group_concat(reason, ',') from gaps where from_us >= $off_from")
check "... and it is still one gap, with no 'vigild stopped' one after it ($gaps_after)" \
	[ "$gaps_after" = "disabled in the configuration" ]
last=$(q "select coalesce(max(id), 0) from clips")
cp "$T/vigil.conf.on" "$T/vigil.conf"
kill -HUP "$VIGILD_PID"
check "enabled again: recording resumes" wait_for 60 complete_after "$last"
on_start=$(q "select min(start_us) from clips where id > $last")
closed=$(q "select to_us from gaps where reason = 'disabled in the configuration'")
check "... and its first clip closes the gap ($closed = $on_start)" \
	[ "${closed:-none}" = "$on_start" ]
stop

version=$(q "pragma user_version")
check "docs/catalog-format.md names the schema version vigild writes ($version)" \
	grep -q "| \`PRAGMA user_version\` | \`$version\` |" docs/catalog-format.md
check "docs/catalog-format.md no longer says the clip header holds the wrapped key" \
	sh -c "! grep -q 'header also holds the wrapped key' docs/catalog-format.md"

[ "$FAILED" = 0 ] || { echo "--- vigild.log"; tail -n 60 "$T/vigild.log"; }
exit 0
