# End to end: a restart never launders a tampered audit log (issue 13).
# A log is made by two clean runs of vigild; copies of the stopped data
# folder are then tampered with as an attacker without the device key
# would, and vigild is started on each. Judged by what vigild and
# vigilctl say and what the log holds, never by timing:
#  - restart laundering x4 (rows and checkpoints deleted above N, a
#    corrupted head, a deleted head, the chain rebuilt with its checkpoints
#    dropped) and a truncated final row: after the restart verify still says
#    NOT intact, an audit.broken row names the first bad row, the evidence
#    is kept, status says so, footage is refused, no seq is reused, and a
#    second restart does not launder it either; the DPO's acknowledgement
#    then reopens footage and verify accepts that break only;
#  - a rollback to the seq-0 head and a forged log under an old head fool
#    the box alone (documented), and are caught by verify --witness with the
#    collector's copy of the checkpoints.
. tests/e2e-lib.sh
FAILED=0
make_tmp

for tool in sqlite3 python3; do
	if ! command -v $tool >/dev/null; then
		skip "audit restart laundering ($tool missing: run scripts/install-deps.sh)"
		exit 0
	fi
done
TAMPER="python3 tests/tools/audit_tamper.py"
ME=$(id -un)
conf() { # conf NAME: a config whose data folder is $T/NAME
	cat >"$T/$1.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME";
         contact = "dpo@example.org"; };
data_dir = "$T/$1";
socket = "$T/$1.sock";
user = "$ME";
log_level = "info";
defaults = { width = 160; height = 120; fps = 5; preset = "ultrafast"; segment_seconds = 10; };
cameras = ( { name = "hall"; device = "synthetic"; purpose = "test"; area = "hall"; } );
users = ( { login = "$ME"; name = "Data Protection Officer"; role = "dpo"; },
          { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
}
ctl() { # ctl NAME args...
	n=$1
	shift
	"$VIGILCTL" -c "$T/$n.conf" "$@"
}
start() { # start NAME: until vigild answers
	"$VIGILD" -c "$T/$1.conf" >>"$T/$1.log" 2>&1 &
	VIGILD_PID=$!
	wait_for 60 ctl "$1" status >/dev/null 2>&1
}
stop() {
	kill -TERM "$VIGILD_PID"
	wait "$VIGILD_PID"
	VIGILD_PID=
}
qa() { sqlite3 "$T/$1/audit.db" "$2"; }

# The original: two clean runs, each signing at start and at stop.
conf base
start base || notok "vigild starts on a new data folder"
ctl base status >/dev/null
stop
start base
for i in 1 2 3; do ctl base status >/dev/null; done
# Bounded free text (textfield.h): refused before anything is written, the
# refusal itself audited with a short form of the value.
long=$(head -c 1000 /dev/zero | tr '\0' x)
out=$(ctl base clips --purpose "$long" --reference DSAR-1 2>&1)
check "a 1000-byte purpose is refused, saying the limit" \
	sh -c "echo \"\$1\" | grep -q 'at most 500'" _ "$out"
out=$(ctl base clips --purpose "$(printf 'bad \377 text')" --reference DSAR-1 2>&1)
check "a purpose that is not UTF-8 gets that refusal, not a disk-full message" \
	sh -c "echo \"\$1\" | grep -q 'not valid UTF-8'" _ "$out"
out=$(python3 - "$T/base.sock" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
body = json.dumps({"cmd": "clips", "purpose": "a\u0000b", "reference": "DSAR-1"}).encode()
s.sendall(struct.pack(">BBHI", 1, ord("J"), 0, len(body)) + body)
hdr = s.recv(8, socket.MSG_WAITALL)
n = struct.unpack(">I", hdr[4:])[0]
print(json.loads(s.recv(n, socket.MSG_WAITALL)).get("error", "accepted"))
PY
)
check "a purpose holding NUL is refused, not stored cut short" \
	sh -c "echo \"\$1\" | grep -q 'NUL'" _ "$out"
qa base "select object from audit where action = 'request.refused'" >"$T/refused.txt"
check "each refusal is audited with a short, safe form of the value" \
	sh -c "grep -q '^field=purpose value=\"x\\{40\\}...\" (1000 bytes)\$' '$T/refused.txt' &&
	       grep -Fq 'value=\"bad \\xff text\"' '$T/refused.txt' &&
	       grep -Fq 'value=\"a\\x00b\"' '$T/refused.txt'"
check "no refused value reached the log whole" \
	test "$(qa base "select count(*) from audit where length(purpose) > 500
		or object like '%$long%'")" = 0
rows=$(qa base "select count(*) from audit")
check "audit show --json streams every row as one JSON array" \
	sh -c "\"$VIGILCTL\" -c '$T/base.conf' audit show --json |
		python3 -c 'import json, sys; sys.exit(len(json.load(sys.stdin)) < $rows)'"
stop
check "the original log verifies (it has a stop checkpoint over daemon.stop)" \
	test "$(qa base "select max(seq) from audit")" = "$(qa base "select max(seq) from checkpoint")"
LAST=$(qa base "select max(seq) from audit")
$TAMPER witness "$T/base/audit.db" "$T/witness.log"

# laundered NAME WHAT: vigild started on a tampered copy must not sign over it.
laundered() {
	n=$1
	tc=$2
	start "$n" || notok "$tc: vigild starts"
	out=$(ctl "$n" audit verify)
	check "$tc: after the restart verify still says NOT intact" \
		sh -c "echo \"\$1\" | grep -q 'NOT intact'" _ "$out"
	check "$tc: an audit.broken row names the first bad row" \
		test "$(qa "$n" "select count(*) from audit where action = 'audit.broken'
				 and object like 'first_bad_row=%'")" = 1
	check "$tc: the evidence is kept under DATA/audit-evidence" \
		sh -c "ls '$T/$n/audit-evidence'/*/problem.txt >/dev/null 2>&1 &&
		       ls '$T/$n/audit-evidence'/*/evidence.db >/dev/null 2>&1"
	check "$tc: status raises the alarm" \
		sh -c "ctl() { \"$VIGILCTL\" -c '$T/$n.conf' \"\$@\"; }; ctl status | grep -q 'audit log was found broken'"
	check "$tc: the log (vigild's own log) says so" grep -q "ALARM: the audit log is broken" "$T/$n.log"
	out=$(ctl "$n" hold --camera hall --from -1h --to now --reason test \
		--purpose "subject access" --reference DSAR-1 2>&1)
	check "$tc: a footage operation (a hold) is refused while broken" \
		sh -c "echo \"\$1\" | grep -q 'audit log was found broken'" _ "$out"
	broken_seq=$(qa "$n" "select seq from audit where action = 'audit.broken'")
	check "$tc: no seq is reused (the broken row is above every signed seq)" \
		test "$broken_seq" -gt "$LAST"
	stop
	start "$n"
	check "$tc: a second restart does not launder it either" \
		sh -c "ctl() { \"$VIGILCTL\" -c '$T/$n.conf' \"\$@\"; }; ctl audit verify | grep -q 'NOT intact'"
	check "$tc: no checkpoint was signed over the break" \
		test "$(qa "$n" "select count(*) from checkpoint where seq >= $broken_seq")" = 0
	ctl "$n" audit acknowledge --purpose "the break is recorded" >"$T/$n.ack" 2>&1
	out=$(ctl "$n" audit verify)
	check "$tc: after the DPO's acknowledgement verify accepts that break only" \
		sh -c "echo \"\$1\" | grep -q '^audit log intact.*1 acknowledged break'" _ "$out"
	out=$(ctl "$n" hold --camera hall --from -1h --to now --reason test \
		--purpose "subject access" --reference DSAR-1 2>&1)
	check "$tc: footage opens again after the acknowledgement" \
		sh -c "! echo \"\$1\" | grep -q 'audit log was found broken'" _ "$out"
	stop
	start "$n"
	check "$tc: a restart after the acknowledgement finds it intact" \
		sh -c "ctl() { \"$VIGILCTL\" -c '$T/$n.conf' \"\$@\"; }; ctl audit verify | grep -q '^audit log intact'"
	stop
}
copy() { conf "$1"; cp -a "$T/base" "$T/$1"; }
# The attacker drops the append-only triggers, edits, and puts them back.
drop_triggers="drop trigger audit_no_update; drop trigger audit_no_delete;
	drop trigger checkpoint_no_update; drop trigger checkpoint_no_delete;"
restore_triggers() { # restore_triggers NAME: as they were in the original
	sqlite3 "$T/base/audit.db" "select sql || ';' from sqlite_master where type = 'trigger'" |
		sqlite3 "$T/$1/audit.db"
}

N=$((LAST - 4))
copy del
qa del "$drop_triggers delete from audit where seq > $N; delete from checkpoint where seq > $N;"
restore_triggers del
laundered del "rows and checkpoints deleted above $N"

copy corrupt
sed -i 's/^hash \(.\)/hash f/; s/^hash ff/hash 00/' "$T/corrupt/audit.db.head"
sed -i 's/^sig 30/sig 31/' "$T/corrupt/audit.db.head"
laundered corrupt "a corrupted head file"

copy nohead
rm "$T/nohead/audit.db.head"
laundered nohead "a deleted head file"

copy rebuilt
$TAMPER rebuild "$T/rebuilt/audit.db" 3 0
laundered rebuilt "the chain rebuilt from row 3 with its checkpoints dropped"

copy trunc
qa trunc "$drop_triggers delete from audit where seq = $LAST;"
restore_triggers trunc
laundered trunc "the final row (daemon.stop) deleted"

# What the box alone cannot see, the witness does.
copy rollback
$TAMPER rebuild "$T/rollback/audit.db" 1 0
$TAMPER head "$T/rollback/audit.db" "$T/rollback/audit.db.head" 0
start rollback
check "rollback to the seq-0 head: the box alone cannot tell (documented in audit-format.md 7)" \
	sh -c "ctl() { \"$VIGILCTL\" -c '$T/rollback.conf' \"\$@\"; }; ctl audit verify | grep -q '^audit log intact'"
out=$(ctl rollback audit verify --witness "$T/witness.log")
rc=$?
check "rollback to the seq-0 head: verify --witness catches it" \
	sh -c "[ $rc = 1 ] && echo \"\$1\" | grep -q 'does NOT match the witness'" _ "$out"
stop

copy forged
OLD=$(qa forged "select min(seq) from checkpoint where seq > 0")
$TAMPER rebuild "$T/forged/audit.db" $((OLD + 1)) "$OLD"
$TAMPER head "$T/forged/audit.db" "$T/forged/audit.db.head" "$OLD"
start forged
out=$(ctl forged audit verify --witness "$T/witness.log")
rc=$?
check "a forged log under an old head (seq $OLD): verify --witness catches it" \
	sh -c "[ $rc = 1 ] && echo \"\$1\" | grep -q 'does NOT match the witness'" _ "$out"
stop

copy honest
start honest
out=$(ctl honest audit verify --witness "$T/witness.log")
check "the untouched log matches the witness (no false alarm)" \
	sh -c "echo \"\$1\" | grep -q 'match the log'" _ "$out"
stop

exit $FAILED
