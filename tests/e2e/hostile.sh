# End to end: a hostile client on the control socket (bad framing, bad
# types, huge and nested input, odd ids, traversal, floods, stalled
# replies, a FIFO in place of a clip) cannot stop vigild recording nor
# stop it from stopping. Each malformed request leaves a compact audit row
# naming the uid and never its payload; SIGTERM with hostile requests in
# flight ends vigild (within VG_CONTROL_STOP_S plus the cameras' stop), and
# the last clip is intact.
#
# Judged by what vigild delivered (clip rows, audit rows, its exit), not
# by the clock: the waits are generous upper limits.
. tests/e2e-lib.sh
FAILED=0
make_tmp

for tool in python3 sqlite3 mkfifo; do
	if ! command -v $tool >/dev/null; then
		skip "hostile control-socket cases ($tool missing: run scripts/install-deps.sh)"
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
defaults = { width = 160; height = 120; fps = 10; preset = "ultrafast"; segment_seconds = 10; fragment_ms = 500; };
cameras = ( { name = "cam"; device = "synthetic"; purpose = "test"; area = "test"; } );
users = (
  { login = "$ME"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; }
);
CONF
VCTL="$VIGILCTL -c $T/vigil.conf --purpose hostile-test --reference ASB-2"
SOCK=$T/vigil.sock
HC="python3 tests/hostile_client.py"
MARKER=PAYLOAD$$MARK

"$VIGILD" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
VIGILD_PID=$!

n_clips() { [ -f "$T/data/catalog.db" ] && sqlite3 -readonly "$T/data/catalog.db" "select count(*) from clips where state <> 'recording'" 2>/dev/null || echo 0; }
more_clips_than() { [ "$(n_clips)" -gt "$1" ]; }
if ! wait_for 90 more_clips_than 1; then
	notok "vigild records its first two clips"
	cat "$T/vigild.log"
	exit 1
fi
before=$(n_clips)

# ---- every case once, each on its own connection ----
t0=$(date +%s)
$HC "$SOCK" cases "$MARKER" >"$T/cases.txt" 2>"$T/cases.err"
# (the time taken only sets the bound below: two kinds, at most two rows
# each per minute begun)
minutes=$(( ($(date +%s) - t0) / 60 + 2 ))
check "the hostile client ran every case ($(wc -l <"$T/cases.txt") lines)" \
	[ "$(wc -l <"$T/cases.txt")" -ge 35 ]
check "vigild is still running after the hostile cases" kill -0 "$VIGILD_PID"
check "vigild still answers a staff request" sh -c "$VCTL status >/dev/null"
cases_say() { grep -q "^$1 $2" "$T/cases.txt"; }
# (a staff request with a huge purpose is a well-formed request: its
# length limit is the audit module's, see docs/audit-format.md)
for c in bad-version bad-type data-frame-as-request reserved-bytes length-over-max \
	not-json json-array json-string json-number trailing-garbage nul-inside \
	no-cmd cmd-int cmd-null cmd-object deep-array deep-object; do
	check "malformed case $c is refused in words, and the connection closed" \
		cases_say "$c" "reply:refused:malformed"
done
check "an unknown command is refused in words" cases_say unknown-cmd "reply:refused:unknown"
check "a purpose that is not UTF-8 is refused in words, naming the rule" \
	cases_say bad-utf8 "reply:refused:.*UTF-8"
for c in clip-negative clip-huge clip-overflow clip-string clip-float range-reversed \
	camera-traversal snapshot-traversal purpose-types; do
	check "odd arguments ($c) get an answer, not a hang or a crash" cases_say "$c" "reply:"
done
check "300 unknown commands on one connection are each answered" \
	cases_say flood-unknown-300 "answered:300"

# Every case left a trace: compact audit rows naming the uid, and none of
# the payload (the marker was in every malformed frame).
sqlite3 "$T/data/audit.db" "select uid, action, object, outcome from audit" >"$T/audit.txt"
check "malformed requests are in the audit log with the uid" \
	grep -q "^$(id -u)|request.malformed|.*|refused" "$T/audit.txt"
check "unknown commands are in the audit log with the uid" \
	grep -q "^$(id -u)|request.unknown|" "$T/audit.txt"
rows=$(grep -c "|request\.\(malformed\|unknown\)|" "$T/audit.txt")
check "600 malformed and unknown requests took few rows ($rows, at most $((4 * minutes))), counted not copied" \
	[ "$rows" -le $((4 * minutes)) ]
check "no payload of a malformed request is stored in the audit log" \
	sh -c "! grep -q '$MARKER' '$T/audit.txt' && ! sqlite3 '$T/data/audit.db' .dump | grep -q '$MARKER'"
check "the log names the uid of the malformed requests" \
	grep -q "refused request.malformed from uid $(id -u)" "$T/vigild.log"
check "vigild keeps recording through the cases" wait_for 90 more_clips_than "$before"

# ---- SIGTERM with hostile requests in flight ----
# A FIFO in place of an old clip's file: a view of it blocks in open() on a
# build that opens clip files as they come.
old=$(sqlite3 "$T/data/catalog.db" "select id || ' ' || path from clips where state <> 'recording' order by id limit 1")
old_id=${old%% *}
old_path=${old#* }
mv "$T/data/$old_path" "$T/old-clip.vgc"
mkfifo "$T/data/$old_path"
$VCTL view "$old_id" - >/dev/null 2>"$T/fifo-view.err" &
FIFO_VIEW=$!
# Stalled mid-frame, idle, and a reader that never reads a view.
last=$(sqlite3 "$T/data/catalog.db" "select max(id) from clips where state <> 'recording'")
$HC "$SOCK" hold "$T/held" "$last" 2>"$T/hold.err" &
HOLD=$!
check "the in-flight cases are in place" wait_for 60 test -s "$T/held"
wait_for 30 sh -c "[ \$(sqlite3 '$T/data/audit.db' \"select count(*) from audit where action = 'clip.view'\") -ge 2 ]"
kill -TERM "$VIGILD_PID"
# The generous limit is for a loaded machine; the bound vigild keeps is
# VG_CONTROL_STOP_S (5 s) for requests, then the cameras finish their clip.
gone() { ! kill -0 "$VIGILD_PID" 2>/dev/null; }
check "vigild exits on SIGTERM with a stalled frame, idle connections, a slow reader and a FIFO view in flight" \
	wait_for 120 gone
if gone; then
	wait "$VIGILD_PID"
	rc=$?
	VIGILD_PID=
	check "vigild's exit status after SIGTERM is 0 (got $rc)" [ "$rc" = 0 ]
else
	kill -9 "$VIGILD_PID"
	VIGILD_PID=
fi
# The FIFO view either failed at once (clip files opened without blocking)
# or was abandoned at the stop; either way the log says what happened to it.
check "the request stuck on the FIFO did not hold the stop (abandoned, or refused at once)" \
	sh -c "grep -q 'abandoned, vigild stops without it' '$T/vigild.log' ||
	       [ \$(sqlite3 -readonly '$T/data/audit.db' \"select count(*) from audit where action = 'clip.view_failed'\") -ge 1 ]"
kill "$HOLD" 2>/dev/null
kill "$FIFO_VIEW" 2>/dev/null
wait "$HOLD" 2>/dev/null
wait "$FIFO_VIEW" 2>/dev/null
check "no clip is left open after the stop" \
	[ "$(sqlite3 "$T/data/catalog.db" "select count(*) from clips where state = 'recording'")" = 0 ]
row=$(sqlite3 "$T/data/catalog.db" "select hex(wrapped_key) || ' ' || path || ' ' || frames from clips order by id desc limit 1")
set -- $row
"$CLIPVEC" check "$T/data/master.key" "$1" "$T/data/$2" >"$T/lastclip.txt" 2>&1
rc=$?
check "the last clip ($2, $3 frames) authenticates to its end (clipvec check exit $rc)" \
	[ "$rc" = 0 -a "${3:-0}" -gt 0 ]
check "the clean stop is in the audit log" \
	[ "$(sqlite3 "$T/data/audit.db" "select count(*) from audit where action = 'daemon.stop'")" -ge 1 ]

# ---- a tampered data folder at the next start ----
# The FIFO stays in place of the old clip; the folder and the catalog are
# opened to everyone; a catalog row past its retention names victim.bin, a
# file that is not a clip, and another (open) names the master key.
printf 'precious' >"$T/data/victim.bin"
cp "$T/data/master.key" "$T/master.key.copy"
sqlite3 "$T/data/catalog.db" "insert into clips (camera, path, clip_id, start_us, end_us,
	wrapped_key, state) values ('cam', 'victim.bin', randomblob(16), 1577836800000000,
	1577836810000000, randomblob(40), 'complete');
	insert into clips (camera, path, clip_id, start_us, end_us, wrapped_key, state)
	values ('cam', 'master.key', randomblob(16), 1577836900000000, 1577836900000000,
	randomblob(40), 'recording')" 2>"$T/sql.err"
check "the tampering rows went into the catalog" [ ! -s "$T/sql.err" ]
chmod 0777 "$T/data"
chmod 0666 "$T/data/catalog.db"
"$VIGILD" -c "$T/vigil.conf" >"$T/vigild2.log" 2>&1 &
VIGILD_PID=$!
audited() { [ "$(sqlite3 -readonly "$T/data/audit.db" "select count(*) from audit where action = '$1'" 2>/dev/null)" -ge 1 ]; }
check "the FIFO in the clip folder is quarantined with an audit row" wait_for 90 audited clip.quarantined
check "the 0777 data folder is repaired with a log line" \
	sh -c "[ \$(stat -c %a '$T/data') = 700 ] && grep -q 'data.* was mode 0777' '$T/vigild2.log'"
check "the 0666 catalog is repaired with a log line" \
	sh -c "[ \$(stat -c %a '$T/data/catalog.db') = 600 ] && grep -q 'catalog.db was mode 0666' '$T/vigild2.log'"
check "the repair is audited" audited data.modes_repaired
check "a catalog row naming victim.bin does not make retention delete it" \
	sh -c "[ \"\$(cat '$T/data/victim.bin')\" = precious ] && grep -q 'victim.bin.*not a clip' '$T/vigild2.log'"
check "an open row naming master.key does not make recovery cut it" \
	cmp -s "$T/data/master.key" "$T/master.key.copy"
check "nothing is left where the FIFO was" [ ! -e "$T/data/$old_path" ]
kill -TERM "$VIGILD_PID"
check "vigild stops again" wait_for 120 gone
VIGILD_PID=

[ "$FAILED" = 0 ]
