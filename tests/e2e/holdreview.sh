# A hold past its review date is flagged in the log, in vigilctl status and
# by vigilctl config check (which asks the running vigild: the holds are in
# the catalog, not the file).
. tests/e2e-lib.sh
FAILED=0
make_tmp
command -v sqlite3 >/dev/null || { tool_missing sqlite3 "hold review"; exit 0; }
ME=$(id -un)
# Staff logins are accounts here (an unknown one is a config check
# warning): the auditor is daemon, which every Debian system has.
cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME"; contact = "x"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
defaults = { width = 160; height = 120; fps = 10; preset = "ultrafast"; segment_seconds = 10; };
cameras = ( { name = "stairs"; device = "synthetic"; purpose = "test"; area = "test";
              signage_confirmed = "$(date +%Y-%m-%d)"; } );
users = ( { login = "$ME"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "daemon"; name = "Test Auditor"; role = "auditor"; } );
CONF
VCTL="$VIGILCTL -c $T/vigil.conf"
start() { "$VIGILD" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 & VIGILD_PID=$!; }
stop() { kill -TERM "$VIGILD_PID"; wait "$VIGILD_PID"; VIGILD_PID=; }
up() { $VCTL status >/dev/null 2>&1; }

start
wait_for 20 up
id=$($VCTL hold --camera stairs --from -1h --to now --reason "assault" --purpose "evidence" \
	--reference CRIME-7)
check "a hold is placed (id '$id')" [ -n "$id" ]
$VCTL config check >"$T/check1.txt"
rc=$?
check "config check is clean while the hold is within its review date (exit $rc)" [ "$rc" = 0 ]
stop

# Months pass: the hold's review date is now behind us (the administrator
# moves it back in the catalog, as time would).
sqlite3 "$T/data/catalog.db" "UPDATE holds SET review_by_us = 1000000 WHERE id = $id"
start
wait_for 20 up
check "the log flags the hold past its review date" \
	wait_for 10 grep -q "hold $id on camera stairs passed its review date" "$T/vigild.log"
$VCTL status >"$T/status.txt"
check "vigilctl status flags it" grep -q "^holds: 1 past their review date" "$T/status.txt"
$VCTL config check >"$T/check2.txt"
rc=$?
check "config check flags it too (exit $rc)" \
	sh -c "[ $rc = 1 ] && grep -q 'evidence hold(s) are past their review date' '$T/check2.txt'"
stop
[ "$FAILED" = 0 ] || tail -n 20 "$T/vigild.log"
exit 0
