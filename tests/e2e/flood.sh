# End to end (root only): accounts cannot use the control socket against
# each other or against the footage.
#  - 16 idle connections from 4 accounts (one of them in vigil's group but
#    not on the staff list) do not lock another manager or the auditor out;
#  - an account whose connections are all busy is refused in words, and
#    vigilctl exits with status 5 (not 141, SIGPIPE);
#  - 10,000 refused 1 MB requests from the non-staff account leave the
#    audit log a few rows bigger, retention deletes nothing early and the
#    camera goes on recording.
# vigild runs as its own system user, the clients as separate accounts.
. tests/e2e-lib.sh
FAILED=0

if [ "$(id -u)" != 0 ]; then
	skip "connection limits and audit flooding as separate Unix users (needs root to create users; runs in CI)"
	exit 0
fi
for tool in setpriv useradd python3 sqlite3; do
	if ! command -v $tool >/dev/null; then
		skip "connection limits and audit flooding ($tool missing)"
		exit 0
	fi
done

# The system's python3: the clients run as other accounts, which may not
# reach root's own (a pyenv shim under /root, say).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
P=vgf$$
DAEMON=${P}d
S1=${P}a
S2=${P}b
S3=${P}c
NS=${P}n
MGR=${P}m
AUD=${P}u
cleanup_users() {
	for u in $S1 $S2 $S3 $NS $MGR $AUD $DAEMON; do userdel "$u" 2>/dev/null; done
	groupdel "$DAEMON" 2>/dev/null
}
make_tmp
trap 'kill $PIDS 2>/dev/null; cleanup; cleanup_users' EXIT
PIDS=
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$DAEMON"
for u in $S1 $S2 $S3 $NS $MGR $AUD; do
	useradd --no-create-home --shell /bin/sh --groups "$DAEMON" "$u"
done

chmod 755 "$T"
mkdir -p "$T/bin" "$T/data" "$T/run"
cp "$VIGILD" "$VIGILCTL" tests/hostile_client.py "$T/bin/"
chmod 755 "$T/bin"/*
chown "$DAEMON:$DAEMON" "$T/data" "$T/run"
chmod 700 "$T/data"
chmod 750 "$T/run"
cat >"$T/vigil.conf" <<CONF
site = { name = "Oak Court"; address = "1 Oak Street"; area_manager = "$MGR";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/run/vigil.sock";
log_level = "info";
defaults = { width = 640; height = 480; fps = 15; preset = "ultrafast"; segment_seconds = 10; };
cameras = ( { name = "stairs"; device = "synthetic"; purpose = "ASB in stairwell";
              area = "stairwell"; retention_days = 31; } );
users = (
  { login = "$MGR"; name = "Area Manager"; role = "area_manager"; sites = ( "Oak Court" ); },
  { login = "$S1"; name = "One"; role = "area_manager"; sites = ( "Oak Court" ); },
  { login = "$S2"; name = "Two"; role = "area_manager"; sites = ( "Oak Court" ); },
  { login = "$S3"; name = "Three"; role = "area_manager"; sites = ( "Oak Court" ); },
  { login = "$AUD"; name = "Auditor"; role = "auditor"; }
);
CONF
chmod 644 "$T/vigil.conf"
SOCK=$T/run/vigil.sock
REF="--purpose flood-test --reference FLOOD-1"

as() { # as USER vigilctl-args...
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --init-groups "$T/bin/vigilctl" -c "$T/vigil.conf" "$@"
}
exit_and_says() { # exit_and_says RC WANT OUTPUT TEXT
	[ "$1" = "$2" ] && echo "$3" | grep -q "$4"
}
client_as() { # client_as USER hostile_client-args...
	u=$1
	shift
	# exec: the background job's pid is the client's, so kill ends it
	exec setpriv --reuid="$u" --regid="$u" --init-groups "$PY" "$T/bin/hostile_client.py" \
		"$SOCK" "$@"
}
setpriv --reuid="$DAEMON" --regid="$DAEMON" --init-groups \
	"$T/bin/vigild" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
n_clips() { [ -f "$T/data/catalog.db" ] && sqlite3 -readonly "$T/data/catalog.db" "select count(*) from clips where state <> 'recording'" 2>/dev/null || echo 0; }
more_clips_than() { [ "$(n_clips)" -gt "$1" ]; }
if ! wait_for 120 more_clips_than 0; then
	notok "vigild records a first clip"
	cat "$T/vigild.log"
	exit 1
fi

# ---- 16 idle connections from 4 accounts ----
mkdir -m 777 "$T/ready"
for u in $S1 $S2 $S3 $NS; do
	client_as "$u" idle 4 "$T/ready/$u" >/dev/null 2>"$T/idle-$u.err" &
	PIDS="$PIDS $!"
done
all_ready() { [ -s "$T/ready/$S1" ] && [ -s "$T/ready/$S2" ] && [ -s "$T/ready/$S3" ] && [ -s "$T/ready/$NS" ]; }
if wait_for 120 all_ready; then
	ok "4 accounts open 4 idle connections each"
else
	notok "4 accounts open 4 idle connections each"
	tail -n 3 "$T"/idle-*.err
	grep -v ' CAM: \| SEG: ' "$T/vigild.log" | tail -n 20
fi
out=$(as "$MGR" $REF status 2>&1)
rc=$?
check "another manager still gets in (exit $rc)" [ "$rc" = 0 ]
out=$(as "$AUD" audit verify 2>&1)
rc=$?
check "the auditor still gets in (exit $rc): $out" [ "$rc" = 0 ]
check "vigild logs the idle connection it closed to make room" \
	grep -q "closing an idle connection of uid" "$T/vigild.log"
kill $PIDS 2>/dev/null
wait $PIDS 2>/dev/null
PIDS=

# ---- an account whose connections are all busy ----
big=$(sqlite3 -readonly "$T/data/catalog.db" "select id from clips where state <> 'recording' order by bytes desc limit 1")
bytes=$(sqlite3 -readonly "$T/data/catalog.db" "select bytes from clips where id = $big")
client_as "$S1" busy 4 "$T/ready/busy" "$big" >/dev/null 2>&1 &
PIDS=$!
wait_for 60 test -s "$T/ready/busy"
wait_for 30 sh -c "[ \$(sqlite3 '$T/data/audit.db' \"select count(*) from audit where action = 'clip.view' and login = '$S1'\") -ge 4 ]"
out=$(as "$S1" $REF status 2>&1)
rc=$?
if [ "$bytes" -gt 1000000 ]; then
	check "with 4 requests in progress, a 5th connection of the same account is refused in words (exit $rc): $out" \
		exit_and_says "$rc" 5 "$out" "busy"
else
	skip "busy refusal (the largest clip, $bytes bytes, fits in the socket buffers: its views do not stay busy)"
fi
[ "$rc" = 5 ] || sqlite3 -readonly "$T/data/audit.db" "select login, action, object, outcome, reason from audit where login = '$S1'" | tail -n 12
check "vigilctl never dies of SIGPIPE (exit $rc)" [ "$rc" != 141 ]
kill $PIDS 2>/dev/null
wait $PIDS 2>/dev/null
PIDS=

# ---- 10,000 refused 1 MB requests from the non-staff account ----
size_of() { du -sb "$T/data/audit.db"* | awk '{ s += $1 } END { print s }'; }
a0=$(size_of)
rows0=$(sqlite3 -readonly "$T/data/audit.db" "select count(*) from audit")
c0=$(n_clips)
out=$(client_as "$NS" flood 10000 1048576 2>&1)
check "the non-staff flood ran ($out)" sh -c "echo '$out' | grep -q 'answered='"
check "vigild is still running after the flood" kill -0 "$VIGILD_PID"
a1=$(size_of)
rows1=$(sqlite3 -readonly "$T/data/audit.db" "select count(*) from audit")
grow=$((a1 - a0))
check "10,000 refused 1 MB requests grew the audit log by $grow bytes ($((rows1 - rows0)) rows): bounded (< 1 MB)" \
	[ "$grow" -lt 1048576 ]
check "the flood is in the audit log, compactly, with the uid" \
	sh -c "sqlite3 '$T/data/audit.db' \"select count(*) from audit where login = '$NS' and outcome = 'refused'\" | grep -q '^[1-9]'"
check "retention deleted nothing before its time" sh -c "! grep -q 'before their retention ended' '$T/vigild.log'"
check "the camera goes on recording after the flood" wait_for 90 more_clips_than "$c0"
out=$(as "$MGR" $REF status 2>&1)
rc=$?
check "staff are served after the flood (exit $rc)" [ "$rc" = 0 ]

kill -TERM "$VIGILD_PID"
gone() { ! kill -0 "$VIGILD_PID" 2>/dev/null; }
check "vigild stops on SIGTERM" wait_for 120 gone
VIGILD_PID=
[ "$FAILED" = 0 ]
