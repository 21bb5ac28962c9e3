# SIGHUP: cameras added, removed or changed start and stop; the others go
# on recording without a break. A config with errors is refused and the
# old one kept.
. tests/e2e-lib.sh
FAILED=0
make_tmp
ME=$(id -un)
write_conf() { # write_conf "camera blocks"
	cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME"; contact = "x"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
defaults = { width = 160; height = 120; fps = 10; preset = "ultrafast"; segment_seconds = 10; };
cameras = ( $1 );
users = (
  { login = "$ME"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; }
);
CONF
}
cam() { echo "{ name = \"$1\"; device = \"synthetic\"; purpose = \"test\"; area = \"test\"; $2 }"; }
VCTL="$VIGILCTL -s $T/vigil.sock --purpose e2e-test --reference CASE-1"
state_of() { $VCTL status | awk -v c="$1" '$1 == "camera" && $2 == c { print $3 }'; }
frames_of() { $VCTL status | awk -v c="$1" '$1 == "camera" && $2 == c { print $9 }'; }
recording() { [ "$(state_of "$1")" = recording ]; }

TEMP='temporary = { equipment = "Battery camera TC-3"; reason = "ASB reports in stairwell";
  case_reference = "ASB-41"; installed = "2026-01-05"; remove_by = "2099-01-01"; };'
write_conf "$(cam keep "$TEMP"), $(cam gone)"
"$VIGILD" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
wait_for 30 recording keep && wait_for 30 recording gone
check "keep and gone are recording" recording gone
before=$(frames_of keep)

$VCTL cameras >"$T/cameras.txt"
check "vigilctl cameras lists the temporary camera's equipment, reason and dates" \
	grep -q "temporary: Battery camera TC-3; reason: ASB reports in stairwell; case ASB-41; installed 2026-01-05, remove by 2099-01-01" "$T/cameras.txt"
write_conf "$(cam keep "$TEMP"), $(cam added)"
kill -HUP "$VIGILD_PID"
check "after SIGHUP the new camera records" wait_for 30 recording added
gone_state=$(state_of gone)
check "the removed camera is no longer listed ('$gone_state')" [ -z "$gone_state" ]
check "the reload is logged with what changed" wait_for 10 grep -q "1 camera(s) added, 1 removed, 0 changed" "$T/vigild.log"
after=$(frames_of keep)
check "the unchanged camera was not restarted (its frame count went on: $before -> $after)" [ "${after:-0}" -gt "${before:-0}" ]
check "its pipeline was never stopped" sh -c "! grep -q 'camera keep: ' '$T/vigild.log'"

cp "$T/vigil.conf" "$T/vigil.conf.good"
# A broken config: refused, the old one kept.
printf 'cameras = ( { name = "x" } \n' >"$T/vigil.conf"
kill -HUP "$VIGILD_PID"
check "a config with errors is refused on SIGHUP" wait_for 10 grep -q "still running the old one" "$T/vigild.log"
check "and recording goes on" recording keep

kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
rc=$?
VIGILD_PID=
check "vigild stops cleanly (exit $rc)" [ "$rc" = 0 ]
reloads=$(sqlite3 "$T/data/audit.db" "select count(*) from audit where action = 'config.reload'")
check "both reloads are audited ($reloads rows)" [ "$reloads" = 2 ]
# First boot, Secure by Default: cameras but no staff list: refused.
grep -v '^users\|^  { login\|^);$' "$T/vigil.conf.good" >"$T/nostaff.conf"
"$VIGILD" -n -c "$T/nostaff.conf" >"$T/nostaff.log" 2>&1
rc=$?
check "with cameras but no users, vigild refuses to record and says what to add (exit $rc)" \
	sh -c "[ $rc = 1 ] && grep -q 'cameras are listed but no users: vigild records nothing until users' '$T/nostaff.log'"
[ "$FAILED" = 0 ] || tail -n 30 "$T/vigild.log"
exit 0
