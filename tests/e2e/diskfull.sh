# End to end (root only: a loop file system and a second login): a disk
# full of held footage never costs control.
#
# vigild records one 720p synthetic camera onto a small ext4 loop file
# system, already mostly full, with every minute of it under an evidence
# hold, so retention may delete nothing. Recording pauses at the floor
# kept for the audit log (half of min_free): status says "disk full" and
# counts the pictures lost, the log says so once. Staff still work: status,
# holds, the audit log, and the hold's release by two people, which frees
# space; recording resumes, and the gaps list the time lost. A clean stop
# leaves every clip finished.
. tests/e2e-lib.sh
FAILED=0

if [ "$(id -u)" != 0 ]; then
	skip "full disk on a loop file system (needs root to mount it and a second login; runs in CI)"
	exit 0
fi
for tool in sqlite3 mkfs.ext4 mount umount useradd setpriv; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "full disk on a loop file system"
		exit 0
	fi
done

ME=$(id -un)
P=vgf$$
DAEMON=${P}d	# vigild runs as its own user, staff in its group
DPO=${P}p
MNT=
teardown() {
	if [ -n "${VIGILD_PID:-}" ]; then
		kill -9 "$VIGILD_PID" 2>/dev/null
		wait "$VIGILD_PID" 2>/dev/null
		VIGILD_PID=
	fi
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	cleanup
	userdel "$DPO" 2>/dev/null
	userdel "$DAEMON" 2>/dev/null
	groupdel "$DAEMON" 2>/dev/null
}
make_tmp
trap teardown EXIT
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$DAEMON"
useradd --no-create-home --shell /bin/sh --groups "$DAEMON" "$DPO"
mkdir -p "$T/bin" "$T/run" "$T/disk"
cp "$VIGILD" "$VIGILCTL" "$T/bin/"
chmod 755 "$T" "$T/bin" "$T/bin"/*
chown "$DAEMON:$DAEMON" "$T/run"
chmod 750 "$T/run"

# 96 MiB, no blocks reserved for root (vigild's user sees what root sees).
truncate -s 96M "$T/disk.img"
mkfs.ext4 -q -F -m 0 "$T/disk.img"
if ! mount -o loop "$T/disk.img" "$T/disk"; then
	skip "full disk on a loop file system (mount -o loop failed: no loop devices here?)"
	exit 0
fi
MNT=$T/disk
mkdir "$MNT/data"
chown "$DAEMON:$DAEMON" "$MNT/data"
chmod 700 "$MNT/data"
# Most of it is taken already: about 40 MiB are left to record into.
avail=$(df -B1 --output=avail "$MNT" | tail -n 1 | tr -d ' ')
dd if=/dev/zero of="$MNT/filler" bs=1M count=$((avail / 1048576 - 40)) status=none

cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME";
         contact = "dpo@example.org"; };
data_dir = "$MNT/data";
socket = "$T/run/vigil.sock";
user = "$DAEMON";
log_level = "info";
defaults = { width = 1280; height = 720; fps = 15; preset = "ultrafast"; bitrate = 20000;
             segment_seconds = 10; };
storage = { min_free = "16M"; };
cameras = ( { name = "lobby"; device = "synthetic"; purpose = "ASB in the lobby"; area = "lobby"; } );
users = (
  { login = "$ME"; name = "Area Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "$DPO"; name = "Data Protection Officer"; role = "dpo"; },
  { login = "test-auditor"; name = "Auditor"; role = "auditor"; }
);
CONF
chmod 644 "$T/vigil.conf"
VCTL="$T/bin/vigilctl -c $T/vigil.conf"
dpo() { setpriv --reuid="$DPO" --regid="$DPO" --init-groups $VCTL "$@"; }
DB=$MNT/data/catalog.db
q() { sqlite3 "$DB" "$1" 2>/dev/null; }
field() { # field NAME: a number or boolean from vigilctl status --json
	$VCTL status --json 2>/dev/null | tr -d ' \n' | sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" |
		head -n 1
}

"$T/bin/vigild" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
wait_for 20 sh -c "[ -S '$T/run/vigil.sock' ]"
until=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M)
hid=$($VCTL hold --camera lobby --from -1h --to "$until" --reason "assault in the lobby" \
	--purpose "keep the evidence" --reference CRIME-9 2>"$T/hold.err")
check "every minute of the camera is held (hold $hid)" [ -n "$hid" ]

full() { [ "$(field disk_full)" = true ]; }
check "recording pauses at the floor: status says disk full" wait_for 150 full
lost_some() { [ "$(field frames_lost)" -ge 30 ] 2>/dev/null; }
check "pictures are counted as lost while the disk is full" wait_for 30 lost_some
$VCTL status >"$T/status.txt" 2>&1
check "vigilctl status works on the full disk and says so" \
	sh -c "grep -q '^ALARM: disk full' '$T/status.txt' && grep -q '^camera lobby *disk full' '$T/status.txt'"
check "... and counts the pictures lost to it" \
	grep -q 'lost to a full disk [1-9][0-9]*)' "$T/status.txt"
$VCTL holds >"$T/holds.txt" 2>&1
check "vigilctl holds works on the full disk" grep -q "^$hid .*lobby.*active" "$T/holds.txt"
dpo audit show --action hold >"$T/audit.txt" 2>&1
check "vigilctl audit show works on the full disk" grep -q '"hold.placed" "allowed"' "$T/audit.txt"
free=$(df -B1 --output=avail "$MNT" | tail -n 1 | tr -d ' ')
check "the floor is kept: $free bytes free for the audit log and catalog (at least 4 MiB)" \
	[ "$free" -ge 4194304 ]

out=$($VCTL hold release "$hid" --reason "case closed" --purpose "case closed" \
	--reference CRIME-9 2>&1)
rc=$?
check "the area manager asks for the release on the full disk (exit $rc: $out)" [ "$rc" = 0 ]
out=$(dpo hold approve "$hid" --purpose "case closed" --reference CRIME-9 2>&1)
rc=$?
check "the DPO approves it on the full disk (exit $rc: $out)" [ "$rc" = 0 ]
paused_clips=$(q "select coalesce(max(id), 0) from clips")
resumed() { [ "$(field disk_full)" = false ] && [ "$(q "select count(*) from clips where state = 'complete' and id > $paused_clips")" -ge 1 ]; }
check "the release frees space and recording resumes (a new clip is finished)" \
	wait_for 90 resumed
lost=$(field frames_lost)
$VCTL gaps --camera lobby --purpose review --reference CRIME-9 >"$T/gaps.txt" 2>&1
check "vigilctl gaps lists the time the disk was full, with its end" \
	grep -q "^lobby .*Z .*Z disk full" "$T/gaps.txt"
kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
rc=$?
VIGILD_PID=
check "vigild stops cleanly (exit $rc)" [ "$rc" = 0 ]

gap=$(q "select from_us || ' ' || to_us from gaps where reason like 'disk full%'")
set -- $gap
check "the gaps list the time the disk was full ($gap)" [ -n "${2:-}" ]
check "... at least as long as the $lost pictures lost ($(( (${2:-0} - ${1:-0}) / 1000 )) ms)" \
	[ $(( ${2:-0} - ${1:-0} )) -ge $(( lost * 66666 )) ]
pauses=$(grep -c "ALARM: disk full" "$T/vigild.log")
resumes=$(grep -c "disk space is back" "$T/vigild.log")
check "the log says it once per change of state ($pauses pause, $resumes resume)" \
	[ "$pauses" = 1 -a "$resumes" = 1 ]
check "the log does not repeat 'no space left'" \
	[ "$(grep -ci 'no space left' "$T/vigild.log")" -le 1 ]
bad=$(q "select count(*) from clips where state = 'recording' or frames = 0")
check "a clean stop leaves every clip finished, none empty ($bad)" [ "$bad" = 0 ]
holes=$(coverage_holes "$DB" lobby 66667 | tr '\n' ' ')
check "clips and gaps cover the camera's whole time (holes: $holes)" [ "$holes" = "0 " ]

[ "$FAILED" = 0 ] || { echo "--- vigild.log"; tail -n 40 "$T/vigild.log"; }
exit 0
