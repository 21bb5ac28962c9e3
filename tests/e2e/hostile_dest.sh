# End to end (issues 11 and 19): hostile destinations, numbers and camera
# lists, as an unprivileged requester (a dpo in vigild's group) against a
# vigild running as its own user. An export lands only where the requester
# may write: never in a folder only vigild's user may write, never in
# vigild's data or runtime folder (not even through a raw request that
# hands over a descriptor of it), never through a request that only names
# a path; a regular file is "not a folder". A burn onto a FIFO is refused
# at once instead of hanging vigild, and a symlink swapped between a
# harmless file and master.key while burns run never gets master.key
# written. A redaction outside the picture or of 2147483647 pixels is
# refused at request time; a camera named twice is exported once and the
# export verifies.
. tests/e2e-lib.sh
FAILED=0

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
	skip "hostile export destinations as an unprivileged requester against vigild as its own user (needs root to create both accounts; runs in CI)"
	exit 0
fi
# The raw client runs as the requester: the system's python3, not a
# per-user shim the requester cannot reach.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
for tool in "$PY" xorriso sha256sum mkfifo timeout; do
	if ! command -v $tool >/dev/null; then
		skip "hostile export destinations ($tool missing: run scripts/install-deps.sh)"
		exit 0
	fi
done
make_tmp
P=vgh$$
DAEMON=${P}v
REQ=${P}r
SWAPPER=
trap '[ -n "$SWAPPER" ] && kill "$SWAPPER" 2>/dev/null; cleanup; userdel "$REQ" 2>/dev/null;
	userdel "$DAEMON" 2>/dev/null; groupdel "$DAEMON" 2>/dev/null; groupdel "$REQ" 2>/dev/null' EXIT
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$DAEMON"
useradd --no-create-home --shell /bin/sh --user-group --groups "$DAEMON" "$REQ"
chmod 755 "$T"
mkdir "$T/data" "$T/run" "$T/req" "$T/vigilonly" "$T/shared"
chown "$DAEMON:$DAEMON" "$T/data" "$T/run" "$T/vigilonly"
chmod 700 "$T/data"
chmod 750 "$T/run"
chmod 755 "$T/vigilonly"
chown "$REQ:$REQ" "$T/req"
# where both may write (vigild's group, 2775): the image to burn goes here
chown "$DAEMON:$DAEMON" "$T/shared"
chmod 2775 "$T/shared"
cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "x";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/run/vigil.sock";
user = "$DAEMON";
log_level = "info";
defaults = { width = 160; height = 120; fps = 10; preset = "ultrafast"; segment_seconds = 10; fragment_ms = 500; };
cameras = ( { name = "tiny"; device = "synthetic"; purpose = "ASB in the lobby"; area = "lobby"; } );
users = ( { login = "$REQ"; name = "Requesting DPO"; role = "dpo"; },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
chmod 644 "$T/vigil.conf"
req() { # req vigilctl-args...: vigilctl as the unprivileged requester
	setpriv --reuid="$REQ" --regid="$REQ" --init-groups "$VIGILCTL" -c "$T/vigil.conf" "$@"
}
cp tests/tools/rawctl.py "$T/rawctl.py"
chmod 644 "$T/rawctl.py"
raw() { # raw JSON [PATHS]: a raw request as the requester; prints the reply
	setpriv --reuid="$REQ" --regid="$REQ" --init-groups "$PY" "$T/rawctl.py" \
		"$T/run/vigil.sock" "$@" 2>&1
}
says() { [ "$1" = "$2" ] && echo "$3" | grep -q -- "$4"; }
has() { echo "$1" | grep -q -- "$2"; }
POL="--purpose police-request-for-assault --reference CRIME-9"

"$VIGILD" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
complete() { req $POL clips --camera tiny 2>/dev/null | awk 'NR > 1 && $11 == "complete" { print $3, $4; exit }'; }
has_clip() { [ -n "$(complete)" ]; }
check "vigild (as its own user) records a complete clip" wait_for 60 has_clip
set -- $(complete)
FROM=$1
TO=$2
KEY=$(sha256sum <"$T/data/master.key")

# ---- where an export may land ----
out=$(req $POL export --camera tiny --from "$FROM" --to "$TO" --recipient police \
	--organisation "Test Constabulary" --dest "$T/vigilonly" --force 2>&1)
rc=$?
check "a folder only vigild's user may write is refused (exit $rc): $out" \
	says "$rc" 1 "$out" "you may not write"
check "... and nothing was written there" [ -z "$(ls -A "$T/vigilonly")" ]
for d in "$T/data" "$T/run" "$T/data/clips"; do
	out=$(req $POL export --camera tiny --from "$FROM" --to "$TO" --recipient police \
		--organisation "Test Constabulary" --dest "$d" --force 2>&1)
	rc=$?
	check "vigild's own folder $d is refused as a destination (exit $rc): $out" \
		[ "$rc" != 0 ]
done
: >"$T/req/afile"
chown "$REQ" "$T/req/afile"
out=$(req $POL export --camera tiny --from "$FROM" --to "$TO" --recipient police \
	--organisation "Test Constabulary" --dest "$T/req/afile" --force 2>&1)
rc=$?
check "a regular file as the destination folder says 'not a folder' (exit $rc): $out" \
	says "$rc" 1 "$out" "not a folder"
REQ_JSON="\"cameras\": [\"tiny\"], \"from_us\": $(date -d "$FROM" +%s)000000, \
\"to_us\": $(date -d "$TO" +%s)000000, \"recipient\": \"police\", \
\"organisation\": \"Test Constabulary\", \"purpose\": \"police-request-for-assault\", \
\"reference\": \"CRIME-9\", \"force\": 1"
out=$(raw "{\"cmd\": \"export\", $REQ_JSON, \"dest\": \"$T/req\"}")
check "a raw request that only names a path is refused, saying why: $out" \
	has "$out" "only names a path"
out=$(raw "{\"cmd\": \"export\", $REQ_JSON, \"dest\": \"$T/req\", \"pass_fds\": true}" "$T/run")
check "a raw request handing over a descriptor of vigild's runtime folder is refused: $out" \
	has "$out" "own data or runtime folder"
out=$(raw "{\"cmd\": \"export\", $REQ_JSON, \"dest\": \"$T/req\", \"pass_fds\": true}" "$T/req")
check "a raw request handing over a folder that is not new and empty is refused: $out" \
	has "$out" "refused"
check "nothing was written in vigild's data or runtime folder" \
	[ -z "$(find "$T/data" "$T/run" -name 'CRIME-9*')" ]
check "... and nothing was left in the requester's folder" \
	[ "$(ls -A "$T/req")" = afile ]

# ---- a camera named twice ----
out=$(req $POL export --camera tiny --camera tiny --from "$FROM" --to "$TO" --recipient police \
	--organisation "Test Constabulary" --dest "$T/req" --force 2>&1)
rc=$?
check "an export with --camera tiny --camera tiny succeeds (exit $rc)" [ "$rc" = 0 ]
check "... into a folder the requester owns" [ "$(stat -c %U "$T/req/CRIME-9")" = "$REQ" ]
check "... and its own verifier passes it (the camera is listed once)" \
	req verify "$T/req/CRIME-9"

out=$(req $POL export --camera ghost --from "$FROM" --to "$TO" --recipient police \
	--organisation "Test Constabulary" --dest "$T/req" --force 2>&1)
check "a camera neither configured nor recorded is refused by name (exit $?)" \
	has "$out" "no camera 'ghost' in the configuration and no footage of it"

# ---- numbers ----
DSAR="--purpose subject-access --reference DSAR-4"
out=$(req $DSAR export --camera tiny --from "$FROM" --to "$TO" --recipient data-subject \
	--redact 1000,1000,50,50 --dest "$T/req" --force 2>&1)
rc=$?
check "a redaction outside the 160x120 picture is refused at request time (exit $rc): $out" \
	says "$rc" 1 "$out" "outside camera tiny's picture"
check "... and nothing waits for approval" \
	sh -c "! req disclosures 2>/dev/null | grep -q 'Waiting for a second'"
big="{\"x\": 2147483647, \"y\": 2147483647, \"w\": 2147483647, \"h\": 2147483647}"
out=$(raw "{\"cmd\": \"export\", $REQ_JSON, \"recipient\": \"data-subject\", \
\"purpose\": \"subject-access\", \"reference\": \"DSAR-4\", \"redactions\": [$big], \
\"dest\": \"$T/req\", \"pass_fds\": true}")
check "a redaction of 2147483647 pixels is refused at request time: $out" \
	has "$out" "redact region is malformed"
out=$(raw "{\"cmd\": \"export\", $REQ_JSON, \"recipient\": \"data-subject\", \
\"purpose\": \"subject-access\", \"reference\": \"DSAR-4\", \
\"redactions\": [{\"x\": 4294967301, \"y\": 0, \"w\": 10, \"h\": 10}], \
\"dest\": \"$T/req\", \"pass_fds\": true}")
check "x = 2^32 + 5 is refused, not read as 5: $out" \
	has "$out" "redact region is malformed"

# ---- burning: FIFOs and a swapped symlink ----
out=$(req $POL export --camera tiny --from "$FROM" --to "$TO" --recipient police \
	--organisation "Test Constabulary" --iso "$T/shared/case.iso" --force 2>&1)
rc=$?
check "an ISO export by the requester succeeds (exit $rc)" [ "$rc" = 0 -a -f "$T/shared/case.iso" ]
check "... the image is the requester's and no staging folder is left" \
	[ "$(stat -c %U "$T/shared/case.iso")" = "$REQ" -a ! -e "$T/shared/case.iso.staging" ]
setpriv --reuid="$REQ" --regid="$REQ" --init-groups mkfifo "$T/req/fifo"
out=$(timeout 120 setpriv --reuid="$REQ" --regid="$REQ" --init-groups "$VIGILCTL" \
	-c "$T/vigil.conf" $POL burn "$T/shared/case.iso" --device "$T/req/fifo" --force 2>&1)
rc=$?
check "a burn onto a FIFO is refused at once, not hung on (exit $rc): $out" \
	says "$rc" 1 "$out" "not a DVD writer"
setpriv --reuid="$REQ" --regid="$REQ" --init-groups mkfifo "$T/req/imgfifo"
out=$(timeout 120 setpriv --reuid="$REQ" --regid="$REQ" --init-groups "$VIGILCTL" \
	-c "$T/vigil.conf" $POL burn "$T/req/imgfifo" --device "$T/req/d2" --force 2>&1)
rc=$?
check "a FIFO given as the image is refused at once, not hung on (exit $rc): $out" \
	says "$rc" 1 "$out" "not an image file"
out=$(raw "{\"cmd\": \"export.burn\", \"image\": \"$T/shared/case.iso\", \
\"device\": \"$T/req/fifo\", \"force\": true, \"purpose\": \"police-request-for-assault\", \
\"reference\": \"CRIME-9\"}")
check "a raw burn request naming paths is refused: $out" \
	has "$out" "only names a path"
: >"$T/req/harmless"
chown "$REQ" "$T/req/harmless"
setpriv --reuid="$REQ" --regid="$REQ" --init-groups sh -c \
	"while :; do ln -sfn '$T/req/harmless' '$T/req/disc'; ln -sfn '$T/data/master.key' '$T/req/disc'; done" &
SWAPPER=$!
# vigilctl, and a raw client naming the symlink itself (an old vigild
# checked the path, then opened it later)
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	timeout 120 setpriv --reuid="$REQ" --regid="$REQ" --init-groups "$VIGILCTL" \
		-c "$T/vigil.conf" $POL burn "$T/shared/case.iso" --device "$T/req/disc" --force \
		>/dev/null 2>&1
	raw "{\"cmd\": \"export.burn\", \"image\": \"$T/shared/case.iso\", \
\"device\": \"$T/req/disc\", \"force\": true, \"pass_fds\": true, \
\"purpose\": \"police-request-for-assault\", \"reference\": \"CRIME-9\"}" \
		"$T/shared/case.iso,$T/req/disc" >/dev/null
done
kill "$SWAPPER"
wait "$SWAPPER" 2>/dev/null
SWAPPER=
check "burns through a symlink swapped to master.key never write master.key" \
	[ "$(sha256sum <"$T/data/master.key")" = "$KEY" ]
# ---- a FIFO in place of a clip ----
id=$(req $POL clips --camera tiny | awk 'NR > 1 && $11 == "complete" { print $1; exit }')
rel=$("$PY" -c "import sqlite3, sys
c = sqlite3.connect('file:$T/data/catalog.db?mode=ro', uri=True)
print(c.execute('select path from clips where id = ?', (int(sys.argv[1]),)).fetchone()[0])" "${id:-0}")
if [ -n "$rel" ] && [ -f "$T/data/$rel" ]; then
	mv "$T/data/$rel" "$T/data/$rel.saved"
	mkfifo "$T/data/$rel"
	chown "$DAEMON:$DAEMON" "$T/data/$rel"
	out=$(timeout 120 setpriv --reuid="$REQ" --regid="$REQ" --init-groups "$VIGILCTL" \
		-c "$T/vigil.conf" $DSAR view "$id" - 2>&1 >/dev/null)
	rc=$?
	check "vigilctl view of a clip that is a FIFO fails at once, not hung on (exit $rc): $out" \
		says "$rc" 1 "$out" "not a vigil clip file"
	rm -f "$T/data/$rel"
	ln -s "$T/data/$rel.saved" "$T/data/$rel"
	out=$(timeout 120 setpriv --reuid="$REQ" --regid="$REQ" --init-groups "$VIGILCTL" \
		-c "$T/vigil.conf" $DSAR view "$id" - 2>&1 >/dev/null)
	rc=$?
	check "vigilctl view of a clip that is a symlink is refused (exit $rc): $out" \
		says "$rc" 1 "$out" "not a vigil clip file"
	rm -f "$T/data/$rel"
	mv "$T/data/$rel.saved" "$T/data/$rel"
	out=$(req $DSAR view "$id" - 2>"$T/view.err" | wc -c)
	check "... and the clip itself still plays ($out bytes) $(cat "$T/view.err")" [ "$out" -gt 0 ]
else
	notok "a complete clip to replace with a FIFO (clip ${id:-none}, path ${rel:-none})"
fi
check "vigild still answers" req status
check "vigild still runs as its own user" \
	[ "$(stat -c %U "/proc/$VIGILD_PID")" = "$DAEMON" ]
kill -TERM "$VIGILD_PID"
gone() { ! kill -0 "$VIGILD_PID" 2>/dev/null || grep -q '^State:.*Z' "/proc/$VIGILD_PID/status"; }
if wait_for 60 gone; then
	wait "$VIGILD_PID"
	rc=$?
else
	kill -9 "$VIGILD_PID"
	wait "$VIGILD_PID"
	rc=timeout
fi
VIGILD_PID=
check "vigild stops cleanly on SIGTERM (exit $rc)" [ "$rc" = 0 ]
[ "$FAILED" = 0 ] || tail -n 40 "$T/vigild.log"
exit 0
