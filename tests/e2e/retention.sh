# End to end: evidence holds over vigilctl (placed, listed, released only
# with a second person's approval, every step audited) and a full disk
# (vigild recording two synthetic cameras onto a small tmpfs keeps
# recording, deletes the oldest unheld clips early, keeps the held one).
#
# The second person and the tmpfs need root; without it those checks are
# skipped and the one-person half of the hold checks still runs.
. tests/e2e-lib.sh
FAILED=0

for tool in ffprobe sqlite3; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "retention end to end"
		exit 0
	fi
done

ME=$(id -un)
ROOT=0
[ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null && ROOT=1
P=vgr$$
if [ "$ROOT" = 1 ]; then
	DAEMON=${P}d	# vigild runs as its own user, staff in its group
	DPO=${P}p
	AUD=${P}a
else
	DAEMON=$ME
	DPO=nobody-dpo
	AUD=nobody-aud
fi
MNT=
teardown() {
	if [ -n "${VIGILD_PID:-}" ]; then
		kill -9 "$VIGILD_PID" 2>/dev/null
		wait "$VIGILD_PID" 2>/dev/null
		VIGILD_PID=
	fi
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	cleanup
	if [ "$ROOT" = 1 ]; then
		for u in $DPO $AUD $DAEMON; do userdel "$u" 2>/dev/null; done
		groupdel "$DAEMON" 2>/dev/null
	fi
}
make_tmp
trap teardown EXIT
mkdir -p "$T/bin" "$T/run"
cp "$VIGILD" "$VIGILCTL" tests/hostile_client.py "$T/bin/"
if [ "$ROOT" = 1 ]; then
	useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$DAEMON"
	for u in $DPO $AUD; do
		useradd --no-create-home --shell /bin/sh --groups "$DAEMON" "$u"
	done
	chmod 755 "$T" "$T/bin" "$T/bin"/*
	chown "$DAEMON:$DAEMON" "$T/run"
	chmod 750 "$T/run"
fi

# write_conf DATA_DIR DEFAULTS STORAGE CAMERAS
write_conf() {
	cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME";
         contact = "dpo@example.org"; };
data_dir = "$1";
socket = "$T/run/vigil.sock";
user = "$DAEMON";
log_level = "info";
defaults = { $2 };
storage = { $3 };
cameras = ( $4 );
users = (
  { login = "$ME"; name = "Area Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "$DPO"; name = "Data Protection Officer"; role = "dpo"; },
  { login = "$AUD"; name = "Auditor"; role = "auditor"; }
);
CONF
	chmod 644 "$T/vigil.conf"
}
mkdata() { # mkdata DIR: vigild's own data folder
	mkdir -p "$1"
	[ "$ROOT" = 1 ] && chown "$DAEMON:$DAEMON" "$1"
	chmod 700 "$1"
}
VCTL="$T/bin/vigilctl -c $T/vigil.conf"
as() { # as USER vigilctl-args...
	u=$1
	shift
	if [ "$u" = "$ME" ]; then
		$VCTL "$@"
	else
		setpriv --reuid="$u" --regid="$u" --init-groups $VCTL "$@"
	fi
}
start_daemon() {
	"$T/bin/vigild" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
	VIGILD_PID=$!
	wait_for 20 sh -c "[ -S '$T/run/vigil.sock' ]"
}
stop_daemon() {
	kill -TERM "$VIGILD_PID"
	wait "$VIGILD_PID"
	rc=$?
	VIGILD_PID=
	return $rc
}
storage_field() { # storage_field NAME: from vigilctl status --json
	$VCTL status --json | tr -d ' \n' | sed -n "s/.*\"storage\":{[^}]*\"$1\":\([^,}]*\).*/\1/p"
}
says() { # says TEXT COMMAND...: the command fails and its stderr says TEXT
	want=$1
	shift
	! "$@" 2>"$T/says.err" >/dev/null && grep -q "$want" "$T/says.err"
}

# ---- a) holds over the CLI ----
mkdata "$T/data"
write_conf "$T/data" 'width = 320; height = 240; fps = 15; preset = "ultrafast"; segment_seconds = 10;' \
	'min_free = "1%";' \
	'{ name = "stairs"; device = "synthetic"; purpose = "ASB in stairwell"; area = "stairwell"; }'
start_daemon
swept() { [ "$(storage_field sweeps)" -ge 1 ] 2>/dev/null; }
check "vigilctl status reports the storage after the first sweep" wait_for 20 swept

REVIEW=$(date -u -d '+20 days' +%F)
check "a hold without --purpose is refused (access-policy.md: purpose and reference)" \
	says "purpose" as "$ME" hold --camera stairs --from -1h --to now \
	--reason "assault in the stairwell" --reference CRIME-42
id=$(as "$ME" hold --camera stairs --from -1h --to now --reason "assault in the stairwell" \
	--purpose "keep the evidence of the assault" --reference CRIME-42 --review-by "$REVIEW" \
	2>"$T/hold.err")
check "the area manager places a hold and gets its id ($id)" sh -c "echo '$id' | grep -qx '[0-9][0-9]*'"
as "$ME" holds >"$T/holds.txt"
check "vigilctl holds (no --reference, as vigilctl(8) has it) lists it as active with its reference and review date" \
	grep -q "^$id .*stairs.*$REVIEW *active .*CRIME-42" "$T/holds.txt"
check "a review date past storage.hold_review_days is refused" \
	says "reviewed at least every 30 days" as "$ME" hold --camera stairs --from -1h --to now \
	--reason "x" --purpose x --reference CRIME-43 --review-by "$(date -u -d '+90 days' +%F)"
check "a hold on a camera that does not exist is refused" \
	says "no camera named 'nope'" as "$ME" hold --camera nope --from -1h --to now \
	--reason "x" --purpose x --reference CRIME-43
check "a release without its own purpose and reference is refused" says "reference" \
	as "$ME" hold release "$id" --reason "case closed, no charge" --purpose "case closed"
check "the area manager asks for its release" \
	sh -c "$VCTL hold release $id --reason 'case closed, no charge' --purpose 'case closed' --reference CRIME-42 >/dev/null"
check "the same person approving it is refused" says "second, different person" \
	as "$ME" hold approve "$id" --purpose "check the release" --reference CRIME-42
as "$ME" holds >"$T/holds2.txt"
check "after the self-approval the hold still stands (release pending)" \
	grep -q "^$id .*release-pending" "$T/holds2.txt"
check "a second request while one is pending is refused" says "already pending" \
	as "$ME" hold release "$id" --reason "again" --purpose again --reference CRIME-42

if [ "$ROOT" = 1 ]; then
	check "the DPO's approval without its own purpose and reference is refused" \
		says "reference" setpriv --reuid=$DPO --regid=$DPO --init-groups $VCTL hold approve $id
	# and vigild's own rule, for a client that is not vigilctl
	out=$(setpriv --reuid=$DPO --regid=$DPO --init-groups /usr/bin/python3 "$T/bin/hostile_client.py" \
		"$T/run/vigil.sock" ask hold.approve "{\"id\": $id}")
	check "... and by vigild for a raw request without them ($out)" \
		sh -c "echo '$out' | grep -q 'refused.*purpose'"
	check "... audited as refused, and the hold still stands" sh -c \
		"[ \"\$(sqlite3 '$T/data/audit.db' \"select action || ' ' || outcome from audit where login = '$DPO' order by seq desc limit 1\")\" = 'hold.release refused' ] &&
		 $VCTL holds | grep -q '^$id .*release-pending'"
	check "the data protection officer approves the release" \
		sh -c "setpriv --reuid=$DPO --regid=$DPO --init-groups $VCTL hold approve $id --purpose 'case closed' --reference CRIME-42 >/dev/null"
	as "$ME" holds >"$T/holds3.txt"
	check "a released hold is no longer listed as active" sh -c "! grep -q '^$id ' '$T/holds3.txt'"
	as "$ME" holds all >"$T/holds4.txt"
	check "vigilctl holds all shows it released with both names" \
		grep -q "approved by $DPO" "$T/holds4.txt"
	check "the auditor may not place a hold" says "auditor" \
		as "$AUD" hold --camera stairs --from -1h --to now --reason x --purpose x --reference CRIME-44
	as "$AUD" audit show >"$T/audit.txt"
	check "audited: the placement (decision and outcome)" sh -c \
		"grep -q '\"$ME\".*\"hold.place\" \"allowed\"' '$T/audit.txt' &&
		 grep -q '\"$ME\".*\"hold.placed\" \"allowed\".*hold $id placed' '$T/audit.txt'"
	check "audited: the release request" grep -q "\"$ME\".*\"hold.release_requested\" \"allowed\"" "$T/audit.txt"
	check "audited: the refused self-approval" grep -q "\"$ME\".*\"hold.approve_failed\" \"refused\"" "$T/audit.txt"
	check "audited: the release by the second person" grep -q "\"$DPO\".*\"hold.released\" \"allowed\"" "$T/audit.txt"
	check "audited: the auditor's refused hold" grep -q "\"$AUD\".*\"hold.place\" \"refused\"" "$T/audit.txt"
else
	skip "release approved by a second person, audit rows read by an auditor (needs root to create a second user)"
fi
check "vigild exits 0 on SIGTERM" stop_daemon

# ---- b) a full disk ----
if [ "$ROOT" != 1 ] || ! command -v mount >/dev/null; then
	skip "disk full on a tmpfs (needs root to mount one)"
	[ "$FAILED" = 0 ] || { echo "--- vigild.log"; tail -n 40 "$T/vigild.log"; }
	exit 0
fi
# 64 MiB, two 720p cameras at 20 Mbit/s (the synthetic picture gives about
# 10 Mbit/s: 13 MB per 10 s clip, 2.6 MB/s in all). min_free 12M + one
# held clip + two open clips + the databases fit with room for two or three
# deletable clips; writing three times the capacity takes about 75 s.
MNT=$T/disk
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=64m,mode=0755 tmpfs "$MNT"; then
	MNT=
	skip "disk full on a tmpfs (mount failed: in a container without CAP_SYS_ADMIN?)"
	exit 0
fi
mkdata "$MNT/data"
CAMS='{ name = "cam-a"; device = "synthetic"; purpose = "test"; area = "test"; },
      { name = "cam-b"; device = "synthetic"; purpose = "test"; area = "test"; }'
write_conf "$MNT/data" \
	'width = 1280; height = 720; fps = 15; preset = "ultrafast"; bitrate = 20000; segment_seconds = 10;' \
	'min_free = "12M";' "$CAMS"
: >"$T/vigild.log"
started=$(date +%s)
start_daemon
REF="--purpose e2e-test --reference CASE-1"
first_a() { as "$ME" $REF clips --camera cam-a | awk 'NR > 1 && $11 == "complete" { print; exit }'; }
has_first() { [ -n "$(first_a)" ]; }
check "camera A finishes its first clip" wait_for 40 has_first
line=$(first_a)
held=$(echo "$line" | awk '{ print $1 }')
hfrom=$(echo "$line" | awk '{ print $3 }')
hto=$(echo "$line" | awk '{ print $4 }')
hid=$(as "$ME" hold --camera cam-a --from "$hfrom" --to "$hto" --reason "evidence: first clip" \
	--purpose "keep the evidence" \
	--reference CASE-1)
check "a hold is placed on it at once (clip $held, hold $hid)" [ -n "$hid" ]

CAP=$(storage_field total_bytes)
written() { # bytes written so far: what is on the disk plus what was deleted
	echo $(( $(storage_field used_bytes) + $(storage_field early_bytes) + $(storage_field deleted_bytes) ))
}
three_times() { [ "$(written)" -ge $((3 * CAP)) ]; }
check "recording goes on until three times the capacity ($CAP bytes) is written" \
	wait_for 150 three_times
echo "# wrote $(written) bytes onto $CAP in $(( $(date +%s) - started )) s"
last=$(as "$ME" $REF clips | awk 'NR > 1 { print $1 }' | sort -n | tail -n 1)
newer() { [ "$(as "$ME" $REF clips | awk 'NR > 1 && $11 == "complete" { print $1 }' | sort -n |
	tail -n 1)" -gt "$last" ]; }
check "recording never stopped: a new clip (after $last) is finished" wait_for 30 newer
check "the disk alarm is not raised (unheld clips were there to delete)" \
	[ "$(storage_field disk_alarm)" = false ]
early=$(storage_field early_deleted)
check "clips were deleted early ($early)" [ "${early:-0}" -gt 0 ]
maxclip=$(as "$ME" $REF clips --json | tr -d ' \n' | grep -o '"bytes":[0-9]*' | cut -d: -f2 | sort -n |
	tail -n 1)
free=$(df -B1 --output=avail "$MNT" | tail -n 1 | tr -d ' ')
check "free space $free is at least min_free (12 MiB) less one clip ($maxclip)" \
	[ "$free" -ge $((12 * 1048576 - maxclip)) ]
check "both cameras still record" sh -c "$VCTL status | grep -c 'recording' | grep -qx 2"
stop_daemon
echo "# recorded for $(( $(date +%s) - started )) s"

# Restart with the cameras off, so that nothing changes while every
# remaining clip is decrypted.
write_conf "$MNT/data" \
	'width = 1280; height = 720; fps = 15; preset = "ultrafast"; bitrate = 20000; segment_seconds = 10;' \
	'min_free = "12M";' \
	"$(echo "$CAMS" | sed 's/area = "test";/area = "test"; enabled = false;/g')"
start_daemon
swept_again() { [ "$(storage_field sweeps)" -ge 1 ] 2>/dev/null; }
wait_for 20 swept_again
as "$ME" $REF clips >"$T/clips.txt"
check "the held clip $held is still there" awk -v id="$held" '$1 == id { f = 1 } END { exit !f }' "$T/clips.txt"
bad=0
n=0
for id in $(awk 'NR > 1 { print $1 }' "$T/clips.txt"); do
	frames=$(as "$ME" $REF view "$id" - 2>>"$T/view.err" | ffprobe -v error -count_frames \
		-select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 - 2>/dev/null)
	n=$((n + 1))
	[ "${frames:-0}" -gt 0 ] || { echo "# clip $id does not decrypt ($frames frames)"; bad=$((bad + 1)); }
	[ "$id" = "$held" ] && hframes=$frames
done
check "the held clip decrypts and plays (${hframes:-0} frames)" [ "${hframes:-0}" -gt 0 ]
check "every remaining clip ($n) decrypts and plays" [ "$bad" = 0 -a "$n" -gt 0 ]
as "$AUD" audit show --action retention.early_delete >"$T/early.txt"
check "early deletions are audited with the days kept" grep -q 'days_kept=' "$T/early.txt"
check "vigild exits 0 on SIGTERM" stop_daemon

[ "$FAILED" = 0 ] || { echo "--- vigild.log"; tail -n 60 "$T/vigild.log"; }
exit 0
