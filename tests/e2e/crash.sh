# End to end: kill -9 torture. vigild records two synthetic cameras and is
# killed with SIGKILL again and again, after a random 0.5 to 4 s (so at
# every stage: opening the catalog, recovering, recording, cutting a
# clip); after some kills the open clip's last chunk is torn as a power
# cut would leave it. Then one clean run. Judged by what the catalog and
# the audit log hold, never by timing:
#  - no catalog row is lost: every clip row seen after any kill is still
#    there, or its removal (it held no footage) is audited;
#  - every recovered clip has its own audit row, naming it, and no row is
#    left empty (0 frames) or open;
#  - clips and gaps together cover each camera's whole time, from its
#    first frame to its last, with no hole longer than one frame interval.
# VIGIL_KILLS sets the number of kills (default 50).
. tests/e2e-lib.sh
FAILED=0
make_tmp

for tool in sqlite3 od truncate; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "kill -9 torture"
		exit 0
	fi
done

KILLS=${VIGIL_KILLS:-50}
FPS=15
FRAME_US=$((1000000 / FPS + 1))
ME=$(id -un)
cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "test-mgr";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
log_level = "info";
defaults = { width = 160; height = 120; fps = $FPS; preset = "ultrafast"; segment_seconds = 10; fragment_ms = 500; };
cameras = ( { name = "hall"; device = "synthetic"; purpose = "test"; area = "hall"; },
            { name = "yard"; device = "synthetic"; purpose = "test"; area = "yard"; } );
users = (
  { login = "$ME"; name = "Data Protection Officer"; role = "dpo"; },
  { login = "test-mgr"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; }
);
CONF
DB=$T/data/catalog.db
AUDIT=$T/data/audit.db
q() { sqlite3 "$DB" "$1" 2>/dev/null; }
qa() { sqlite3 "$AUDIT" "$1" 2>/dev/null; }
rnd() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }

: >"$T/seen.txt"
torn=0
for i in $(seq 1 "$KILLS"); do
	"$VIGILD" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
	VIGILD_PID=$!
	ms=$(( $(rnd) % 3501 + 500 ))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 "$VIGILD_PID"
	wait "$VIGILD_PID" 2>/dev/null
	VIGILD_PID=
	q "select id from clips" >>"$T/seen.txt"
	# Every third kill: tear the open clips' last chunk, as a write cut
	# off by a power cut would leave it.
	if [ $((i % 3)) = 0 ]; then
		for p in $(q "select path from clips where state = 'recording'"); do
			f=$T/data/$p
			size=$(stat -c %s "$f" 2>/dev/null || echo 0)
			if [ "$size" -gt 400 ]; then
				truncate -s $((size - $(rnd) % 300 - 1)) "$f"
				torn=$((torn + 1))
			fi
		done
	fi
done
echo "# $KILLS kills, $torn open clips torn"

# One clean run: recovery, then a whole new clip of each camera, then stop.
before=$(q "select coalesce(max(id), 0) from clips")
"$VIGILD" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
new_clips() {
	[ "$(q "select count(distinct camera) from clips where state = 'complete' and id > $before")" = 2 ]
}
check "after $KILLS kills vigild records a complete clip of each camera" wait_for 90 new_clips
$VIGILCTL -c "$T/vigil.conf" audit verify >"$T/verify.txt" 2>&1
check "the audit log is intact: $(cat "$T/verify.txt")" grep -q "^audit log intact" "$T/verify.txt"
kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
rc=$?
VIGILD_PID=
check "vigild stops cleanly (exit $rc)" [ "$rc" = 0 ]

# 1. No row lost.
sort -u "$T/seen.txt" >"$T/seen_ids.txt"
q "select id from clips" | sort -u >"$T/now_ids.txt"
qa "select object from audit where action = 'clip.remove_empty'" |
	sed -n 's/^clip=\([0-9]*\) .*/\1/p' | sort -u >"$T/removed_ids.txt"
sort -u "$T/now_ids.txt" "$T/removed_ids.txt" >"$T/accounted.txt"
lost=$(comm -23 "$T/seen_ids.txt" "$T/accounted.txt" | tr '\n' ' ')
seen=$(wc -l <"$T/seen_ids.txt")
check "0 catalog rows lost: all $seen rows seen after the kills are there or their removal is audited (lost: ${lost:-none})" \
	[ -z "$lost" -a "$seen" -gt 0 ]
qa "select object from audit where action = 'clip.create'" |
	sed -n 's/^camera=[^ ]* clip=\([0-9]*\) clip_id=.*/\1/p' | sort -u >"$T/created_ids.txt"
missing=$(comm -23 "$T/created_ids.txt" "$T/now_ids.txt" | tr '\n' ' ')
created=$(wc -l <"$T/created_ids.txt")
check "every one of the $created clips whose completion was audited is still catalogued (missing: ${missing:-none})" \
	[ -z "$missing" -a "$created" -gt 0 ]

# 2. Recovery audited per clip; no empty or open rows.
recovered=$(q "select count(*) from clips where state = 'recovered'")
unaudited=""
for row in $(q "select id || ':' || hex(clip_id) from clips where state = 'recovered'"); do
	id=${row%%:*}
	hex=$(echo "${row#*:}" | tr 'A-F' 'a-f')
	n=$(qa "select count(*) from audit where action = 'clip.recover' and object like 'clip=$id clip_id=$hex %'")
	[ "$n" -ge 1 ] || unaudited="$unaudited $id"
done
check "every one of the $recovered recovered clips has its own clip.recover row (unaudited:${unaudited:- none})" \
	[ -z "$unaudited" -a "$recovered" -gt 0 ]
empty=$(q "select count(*) from clips where frames = 0 or state = 'recording'")
removed=$(wc -l <"$T/removed_ids.txt")
check "no empty or open clip row is left ($empty; $removed empty clips removed, audited)" [ "$empty" = 0 ]

# 3. Clips + gaps cover each camera's time.
for cam in hall yard; do
	last=$(q "select max(end_us) from clips where camera = '$cam'")
	holes=$(coverage_holes "$DB" "$cam" "$FRAME_US" | tr '\n' ' ')
	gaps=$(q "select count(*) from gaps where camera = '$cam'")
	# An open gap covers all later time: only the clean stop's may be.
	open=$(q "select from_us || ' ' || reason from gaps where camera = '$cam' and to_us is null")
	check "camera $cam: the one open gap is the clean stop's, from its last clip's end ($open)" \
		[ "$open" = "$last vigild stopped" ]
	check "camera $cam: clips and $gaps gaps cover its whole time with no hole over one frame (holes: $holes)" \
		[ "$holes" = "0 " -a "$gaps" -gt 0 ]
done
crashed=$(q "select count(*) from gaps where reason like 'vigild stopped unexpectedly%'")
check "the crashes are gaps of their own reason ($crashed)" [ "$crashed" -gt 0 ]

[ "$FAILED" = 0 ] || { echo "--- vigild.log"; tail -n 60 "$T/vigild.log"; }
exit 0
