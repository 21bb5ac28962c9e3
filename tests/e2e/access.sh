# End to end (root only): staff reach footage only through vigild, as
# ordinary users who cannot read the key or the clip files; the policy
# decides per request and every decision is audited; tampering with the
# audit database is detected.
#
# Runs vigild as its own system user, as in production, with staff
# accounts in its group (the control socket is 0660).
. tests/e2e-lib.sh
FAILED=0

if [ "$(id -u)" != 0 ]; then
	skip "access control as separate Unix users (needs root to create users; runs in CI)"
	exit 0
fi
for tool in setpriv useradd ffprobe sqlite3; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "access control end to end"
		exit 0
	fi
done

P=vgt$$
DAEMON=${P}d
MGR=${P}m
RES=${P}r
AUD=${P}a
cleanup_users() {
	for u in $MGR $RES $AUD $DAEMON; do userdel "$u" 2>/dev/null; done
	groupdel "$DAEMON" 2>/dev/null
}
make_tmp
trap 'cleanup; cleanup_users' EXIT
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$DAEMON"
for u in $MGR $RES $AUD; do
	useradd --no-create-home --shell /bin/sh --groups "$DAEMON" "$u"
done

chmod 755 "$T"
mkdir -p "$T/bin" "$T/data" "$T/run"
cp "$VIGILD" "$VIGILCTL" "$T/bin/"
chmod 755 "$T/bin"/*
# As the image lays it out: the data folder is vigild's alone; the socket's
# folder lets vigild's group (the staff) in.
chown "$DAEMON:$DAEMON" "$T/data" "$T/run"
chmod 700 "$T/data"
chmod 750 "$T/run"
cat >"$T/vigil.conf" <<CONF
site = { name = "Oak Court"; address = "1 Oak Street"; area_manager = "$MGR";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/run/vigil.sock";
defaults = { width = 320; height = 240; fps = 15; preset = "ultrafast"; segment_seconds = 10; };
cameras = ( { name = "stairs"; device = "synthetic"; purpose = "ASB in stairwell";
              area = "stairwell"; } );
users = (
  { login = "$MGR"; name = "Area Manager"; role = "area_manager"; sites = ( "Oak Court" ); },
  { login = "$AUD"; name = "Auditor"; role = "auditor"; }
);
CONF
chmod 644 "$T/vigil.conf"

as() { # as USER vigilctl-args...: run vigilctl as that user
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --init-groups "$T/bin/vigilctl" -c "$T/vigil.conf" "$@"
}
start_daemon() {
	setpriv --reuid="$DAEMON" --regid="$DAEMON" --init-groups \
		"$T/bin/vigild" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
	VIGILD_PID=$!
}
stop_daemon() {
	kill -TERM "$VIGILD_PID"
	wait "$VIGILD_PID"
	VIGILD_PID=
}
REF="--purpose investigating-damage --reference ASB-77"
exit_and_says() { # exit_and_says RC WANT OUTPUT TEXT
	[ "$1" = "$2" ] && echo "$3" | grep -q "$4"
}

start_daemon
one_clip() { as "$MGR" $REF clips --camera stairs | awk 'NR > 1 && $11 == "complete"' | grep -q .; }
check "the area manager lists clips through vigild" wait_for 60 one_clip
id=$(as "$MGR" $REF clips --camera stairs | awk 'NR > 1 && $11 == "complete" { print $1; exit }')
n=$(as "$MGR" $REF view "$id" - | ffprobe -v error -count_frames -select_streams v:0 \
	-show_entries stream=nb_read_frames -of csv=p=0 -)
check "the area manager views clip $id as an ordinary user ($n frames)" [ "${n:-0}" -gt 0 ]
check "that user cannot read the master key" sh -c "! setpriv --reuid=$MGR --regid=$MGR --init-groups cat '$T/data/master.key' >/dev/null 2>&1"
clip=$(find "$T/data/clips" -name '*.vgc' | head -n 1)
check "that user cannot read a clip file" sh -c "! setpriv --reuid=$MGR --regid=$MGR --init-groups cat '$clip' >/dev/null 2>&1"
check "the key file is 0600 and the data folder 0700" [ "$(stat -c %a "$T/data/master.key")" = 600 -a "$(stat -c %a "$T/data")" = 700 ]

out=$(as "$RES" $REF clips 2>&1)
rc=$?
check "a resident with no staff account is refused (exit $rc): $out" exit_and_says "$rc" 1 "$out" "no account"
as "$MGR" clips >/dev/null 2>&1
rc=$?
check "a footage request without purpose and reference is refused (exit $rc)" [ "$rc" = 1 ]
as "$AUD" $REF view "$id" - >/dev/null 2>"$T/aud.err"
rc=$?
check "the auditor may not view footage (exit $rc)" [ "$rc" = 1 ]
as "$AUD" audit show >"$T/audit.txt"
check "the auditor reads the audit log" [ -s "$T/audit.txt" ]
check "the resident's refusal is in the audit log" grep -q "\"$RES\".*\"clip.list\" \"refused\"" "$T/audit.txt"
check "the manager's view is in the audit log with purpose and reference" \
	grep -q "\"$MGR\".*\"clip.view\" \"allowed\".*reference=\"ASB-77\"" "$T/audit.txt"
check "the auditor's refused view is audited" grep -q "\"$AUD\".*\"clip.view\" \"refused\"" "$T/audit.txt"
check "every use of vigilctl is logged as a login, the resident's too (refused: no staff account)" \
	grep -q "\"$RES\".*\"session.login\" \"refused\".*reason=\"no account" "$T/audit.txt"
check "audit verify says the log is intact" as "$AUD" audit verify
stop_daemon

# vigilctl without vigild: a clear message and no way around it.
out=$(as "$MGR" $REF clips 2>&1)
rc=$?
check "with vigild stopped, vigilctl says so (exit $rc)" exit_and_says "$rc" 3 "$out" "not running"

# An attacker with the database file edits a row (dropping the trigger
# that refuses UPDATE): the chain no longer verifies.
triggers=$(sqlite3 "$T/data/audit.db" "SELECT name FROM sqlite_master WHERE type = 'trigger'")
for t in $triggers; do sqlite3 "$T/data/audit.db" "DROP TRIGGER $t"; done
sqlite3 "$T/data/audit.db" "UPDATE audit SET reason = 'nothing to see' WHERE seq = 3" 2>"$T/sql.err" ||
	sqlite3 "$T/data/audit.db" ".tables" >>"$T/sql.err"
start_daemon
wait_for 20 sh -c "[ -S '$T/run/vigil.sock' ]"
out=$(as "$AUD" audit verify 2>&1)
rc=$?
check "after editing row 3 in the database, audit verify fails naming a row (exit $rc): $out" exit_and_says "$rc" 1 "$out" "first bad row 3"
stop_daemon

[ "$FAILED" = 0 ] || { echo "--- audit"; cat "$T/audit.txt"; echo "--- vigild.log"; tail -n 30 "$T/vigild.log"; }
exit 0
