# End to end: evidence export through vigild, as the receiving agency sees
# it. vigild records two synthetic cameras; the data protection officer
# exports them for the police onto a folder (--force: /tmp is not a USB
# stick) and as an ISO image; the folder checks with sha256sum, openssl and
# `vigilctl verify` (run with vigild stopped: it needs no daemon), every
# frame decodes, and one changed byte is caught and named. The disclosure
# rules refuse what policy 3.9 / 3.10 forbid, a media export needs a second
# person, and `vigilctl disclosures` lists it all.
#
# As root, a second dpo and an enforcement officer are real Unix users
# (useradd) reaching vigild through its group; otherwise those checks skip.
. tests/e2e-lib.sh
FAILED=0
make_tmp

for tool in ffmpeg ffprobe openssl sha256sum xorriso; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "export end to end"
		exit 0
	fi
done

ME=$(id -un)
ROOT=0
[ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null && ROOT=1
P=vgx$$
DAEMON=${P}v
DPO2=${P}d
ENF=${P}e
cleanup_users() {
	for u in $DPO2 $ENF $DAEMON; do userdel "$u" 2>/dev/null; done
	groupdel "$DAEMON" 2>/dev/null
}
mkdir "$T/data" "$T/run" "$T/usb" "$T/iso" "$T/media" "$T/plain"
if [ "$ROOT" = 1 ]; then
	# As in production: vigild drops to its own user; staff reach it by
	# being in its group (socket 0660) and are told apart by their uid.
	trap 'cleanup; cleanup_users' EXIT
	useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$DAEMON"
	for u in $DPO2 $ENF; do
		useradd --no-create-home --shell /bin/sh --user-group --groups "$DAEMON" "$u"
	done
	chmod 755 "$T"
	# An export lands only where the person asking (or approving) may
	# write: vigilctl makes the folder with their rights and shares it
	# with vigild's group. The second dpo approves into media: its group.
	chown "$DAEMON:$DAEMON" "$T/data" "$T/run" "$T/usb" "$T/iso" "$T/media" "$T/plain"
	chmod 775 "$T/media"
	chmod 750 "$T/run"
	RUN_AS="user = \"$DAEMON\";"
	EXTRA_USERS="{ login = \"$DPO2\"; name = \"Second DPO\"; role = \"dpo\"; },
  { login = \"$ENF\"; name = \"Enforcement Officer\"; role = \"enforcement\"; },"
fi

cat >"$T/vigil.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/run/vigil.sock";
$RUN_AS
log_level = "info";
defaults = { width = 320; height = 240; fps = 15; preset = "ultrafast"; segment_seconds = 10; fragment_ms = 500; };
cameras = (
  { name = "synth-a"; device = "synthetic"; purpose = "ASB in the lobby"; area = "lobby"; },
  { name = "synth-b"; device = "synthetic"; purpose = "ASB at the door"; area = "door"; }
);
users = (
  { login = "$ME"; name = "Data Protection Officer"; role = "dpo"; },
  $EXTRA_USERS
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; }
);
CONF
chmod 644 "$T/vigil.conf"
VCTL="$VIGILCTL -c $T/vigil.conf"
POLICE="--purpose police-request-for-assault --reference CRIME-114"
as() { # as USER vigilctl-args...
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --init-groups "$VIGILCTL" -c "$T/vigil.conf" "$@"
}
start_daemon() {
	"$VIGILD" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
	VIGILD_PID=$!
}
stop_daemon() {
	kill -TERM "$VIGILD_PID"
	wait "$VIGILD_PID"
	VIGILD_PID=
}
says() { # says RC WANT OUTPUT TEXT: exit code and message both right
	[ "$1" = "$2" ] && echo "$3" | grep -q -- "$4"
}
complete_of() { # start and end of a camera's first complete clip
	$VCTL $POLICE clips --camera "$1" | awk 'NR > 1 && $11 == "complete" { print $3, $4; exit }'
}

start_daemon
one_each() { [ -n "$(complete_of synth-a)" ] && [ -n "$(complete_of synth-b)" ]; }
t0=$(date +%s)
check "vigild records a complete clip of each camera" wait_for 60 one_each
echo "# recording took $(($(date +%s) - t0)) s"
set -- $(complete_of synth-a) $(complete_of synth-b)
# The range both first clips cover: later start, earlier end.
FROM=$1; [ "$3" \> "$FROM" ] && FROM=$3
TO=$2; [ "$4" \< "$TO" ] && TO=$4
FPR=$($VCTL status | awk '/^device key fingerprint:/ { print $4 }')
check "vigilctl status shows the device key fingerprint" [ ${#FPR} = 64 ]

# ---- the police export, onto a folder ----
t0=$(date +%s%N)
out=$($VCTL $POLICE export --camera synth-a --camera synth-b --from "$FROM" --to "$TO" \
	--recipient police --organisation "Test Constabulary" --dest "$T/usb" --force 2>&1)
rc=$?
echo "# police export took $((($(date +%s%N) - t0) / 1000000)) ms"
echo "$out" | sed 's/^/# /'
D=$T/usb/CRIME-114
check "the police export succeeds (exit $rc) into a folder named from the reference" \
	[ "$rc" = 0 -a -f "$D/manifest.json" ]
nvid=$(ls "$D" | grep -c '\.mp4$')
check "one video per camera ($nvid)" [ "$nvid" = 2 ]
# Progress counts the export's own size, not written + read back (2x).
ptotal=$(echo "$out" | sed -n 's/^export: [0-9]*% ([^ ]* [kMG]*B of \([0-9.]*\) \([kMG]*B\),.*/\1 \2/p' | sort -u)
dsize=$(du -sb "$D" | cut -f1)
check "progress gives one total, the export's size ($ptotal for $dsize bytes)" \
	awk -v t="$ptotal" -v d="$dsize" 'BEGIN { split(t, a, " "); m = a[2] == "GB" ? 1e9 : a[2] == "MB" ? 1e6 : 1e3;
		v = a[1] * m; exit !(index(t, "\n") == 0 && v > 0.6 * d && v < 1.4 * d) }'
# The top-level boxes of each video, as docs/export-format.md lists them.
boxes() {
	at=0
	size=$(stat -c %s "$1")
	while [ "$at" -lt "$size" ]; do
		sz=$(od -An -tu4 --endian=big -j "$at" -N4 "$1" | tr -d ' ')
		printf '%s ' "$(dd if="$1" bs=1 skip=$((at + 4)) count=4 2>/dev/null)"
		[ "${sz:-0}" -ge 8 ] || break
		at=$((at + sz))
	done
}
layout=$(for f in "$D"/*.mp4; do boxes "$f"; echo; done | sort -u)
check "each video's boxes are ftyp moov free free mdat, as documented ($layout)" \
	[ "$layout" = "ftyp moov free free mdat " ]
check "sha256sum -c SHA256SUMS passes in the folder" \
	sh -c "cd '$D' && sha256sum -c --quiet SHA256SUMS"
modes=$(stat -c %a "$D" "$D"/* | sort -u | tr '\n' ' ')
check "the recipient can read every file (folder 755, files 644: $modes)" [ "$modes" = "644 755 " ]
check "openssl verifies the manifest signature with the included key" \
	sh -c "cd '$D' && openssl dgst -sha256 -verify device-public-key.pem \
		-signature manifest.json.sig manifest.json | grep -q 'Verified OK'"
bad=0
frames=0
for f in "$D"/*.mp4; do
	err=$(ffmpeg -nostdin -v error -xerror -i "$f" -f null - 2>&1) || bad=1
	[ -n "$err" ] && { echo "# $f: $err"; bad=1; }
	n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
		-of csv=p=0 "$f")
	frames=$((frames + ${n:-0}))
done
check "ffmpeg decodes every frame of both videos without error ($frames frames)" \
	[ "$bad" = 0 -a "$frames" -gt 0 ]
check "the manifest names the exporter, the recipient and the reference" \
	sh -c "grep -q '\"login\": \"$ME\"' '$D/manifest.json' &&
	       grep -q 'Test Constabulary' '$D/manifest.json' &&
	       grep -q '\"reference\": \"CRIME-114\"' '$D/manifest.json'"

# The signer, named (issue 16): on the recorder, vigild's device key.
out=$($VCTL verify "$D" 2>&1)
rc=$?
check "on the recorder, verify names it as the signer (exit $rc)" \
	says "$rc" 0 "$out" "signed by: this recorder"

# ---- refusals ----
out=$($VCTL $POLICE export --camera synth-a --from "$FROM" --to "$TO" --recipient police \
	--organisation "Test Constabulary" --dest "$T/plain" 2>&1)
rc=$?
check "without --force a non-removable folder is refused (exit $rc): $out" \
	says "$rc" 1 "$out" "not on a removable medium"
check "... and nothing was written there" [ -z "$(ls "$T/plain")" ]
out=$($VCTL --purpose press-appeal --reference DISC-7 export --camera synth-a --from "$FROM" \
	--to "$TO" --recipient media --organisation "Evening Paper" --dest "$T/media" --force 2>&1)
rc=$?
check "media without a police decision is refused (exit $rc): $out" \
	says "$rc" 1 "$out" "police-decision"
out=$($VCTL $POLICE export --camera synth-a --from "$FROM" --to "$TO" --recipient resident \
	--organisation "Flat 3" --dest "$T/media" --force 2>&1)
rc=$?
check "a resident as recipient is refused citing policy 3.10 (exit $rc): $out" \
	says "$rc" 1 "$out" "policy 3.10"
$VCTL audit show --action export >"$T/refused.txt" 2>&1
n_all=$(grep -c 'recipient=resident' "$T/refused.txt")
n_ref=$(grep 'recipient=resident' "$T/refused.txt" | grep -c '"export" "refused"')
check "... leaving one audit row, refused, not allowed then refused ($n_all row(s))" \
	[ "$n_all" = 1 -a "$n_ref" = 1 ]
out=$($VCTL $POLICE export --camera synth-a --from "$FROM" --to "$TO" --recipient data-subject \
	--dest "$T/media" --force 2>&1)
rc=$?
check "data-subject without an agreed DSAR reference is refused (exit $rc): $out" \
	says "$rc" 1 "$out" "subject access request"
if [ "$ROOT" = 1 ]; then
	out=$(as "$ENF" --purpose tenancy-case --reference CASE-5 export --camera synth-a \
		--from "$FROM" --to "$TO" --recipient data-subject --dest "$T/media" --force 2>&1)
	rc=$?
	check "data-subject by the enforcement officer (not a dpo) is refused (exit $rc): $out" \
		says "$rc" 1 "$out" "data protection officer"
else
	skip "data-subject export by a non-dpo login (needs root to create a second user)"
fi

# An allowed export that cannot be done is audited as failed, not refused.
# The window is an hour that ended an hour ago: this box's catalog began
# seconds ago, so it holds no footage there, whatever the clock. (Not "the
# last second": a clip that closed within it is footage, and one does in
# about one run in ten with 10 s clips.) A folder of its own: exports never
# land on an existing one.
mkdir -p "$T/usb-none"
out=$($VCTL $POLICE export --camera synth-a --from -2h --to -1h --recipient police \
	--organisation "Test Constabulary" --dest "$T/usb-none" --force 2>&1)
rc=$?
$VCTL audit show --action export.failed >"$T/failed.txt" 2>&1
check "an export of a time with no footage fails (exit $rc), audited as failed, not refused: $out" \
	sh -c "[ $rc = 1 ] && grep -q '\"export.failed\" \"failed\"' '$T/failed.txt' &&
	       ! grep -q '\"export.failed\" \"refused\"' '$T/failed.txt'"
check "... saying there is no footage then, and leaving nothing in the folder" \
	sh -c "echo \"\$1\" | grep -q 'no footage' && [ -z \"\$(ls -A '$T/usb-none')\" ]" _ "$out"

# A window that starts where the clip being recorded starts holds no closed
# footage: failed, saying so. If that clip closed while we asked (it is cut
# every 10 s), the premise is gone and we ask again about the next one.
open_of() { # start of a camera's clip being recorded
	$VCTL $POLICE clips --camera "$1" | awk 'NR > 1 && $11 == "recording" { print $3; exit }'
}
for try in 1 2 3; do
	S=$(open_of synth-a)
	mkdir -p "$T/usb-open$try"
	out=$($VCTL $POLICE export --camera synth-a --from "${S:-now}" --to now --recipient police \
		--organisation "Test Constabulary" --dest "$T/usb-open$try" --force 2>&1)
	rc=$?
	[ -n "$S" ] && [ "$(open_of synth-a)" = "$S" ] && break
	echo "# the clip from $S closed during the export; again"
done
check "an export of the time still being recorded fails (exit $rc, clip from $S): $out" \
	says "$rc" 1 "$out" "still being recorded"
n=$($VCTL audit show --action export.failed 2>&1 | grep -c 'still being recorded')
check "... audited as failed ($n row(s))" [ "$n" -ge 1 ]

# ---- media: two people ----
MEDIA="--purpose press-appeal --reference DISC-7"
out=$($VCTL $MEDIA export --camera synth-a --from "$FROM" --to "$TO" --recipient media \
	--organisation "Evening Paper" --police-decision CRIME-114-D1 \
	--victim-wishes "victim agrees to publication" --dest "$T/media" --force 2>&1)
rc=$?
id=$(echo "$out" | sed -n 's/^export request \([0-9]*\) is waiting.*/\1/p')
check "a media export with a police decision waits for a second person (exit $rc, request $id)" \
	[ "$rc" = 0 -a -n "$id" -a -z "$(ls "$T/media")" ]
out=$($VCTL export approve "${id:-0}" 2>&1)
rc=$?
check "the requester cannot approve their own media export (exit $rc): $out" \
	says "$rc" 1 "$out" "cannot approve it"
check "... and it did not run" [ -z "$(ls "$T/media")" ]
if [ "$ROOT" = 1 ]; then
	out=$(as "$DPO2" export approve "${id:-0}" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	check "a second dpo approves it and it runs (exit $rc)" \
		[ "$rc" = 0 -a -f "$T/media/DISC-7/manifest.json" ]
	check "the approved media export verifies" $VCTL verify "$T/media/DISC-7"
else
	skip "media export approved by a second login (needs root to create a second user)"
fi

out=$($VCTL export approve 999 2>&1)
rc=$?
check "approving a request that is not waiting is refused (exit $rc)" \
	says "$rc" 1 "$out" "no export request with that number"
out=$($VCTL $POLICE export --camera synth-a --from "$FROM" --to "$TO" --recipient police \
	--organisation "Test Constabulary" --redact 0,0,64,64 --dest "$T/media" --force 2>&1)
rc=$?
check "a redacted copy for the police is refused: they get the original (exit $rc)" \
	says "$rc" 1 "$out" "original recording"

# ---- subject access: a dpo asks with a DSAR reference, another approves ----
if [ "$ROOT" = 1 ]; then
	mkdir "$T/dsar" && chown "$DAEMON:$DAEMON" "$T/dsar" && chmod 775 "$T/dsar"
	out=$($VCTL --purpose subject-access --reference DSAR-9 export --camera synth-a \
		--from "$FROM" --to "$TO" --recipient data-subject --redact 100,60,80,120 \
		--dest "$T/dsar" --force 2>&1)
	id=$(echo "$out" | sed -n 's/^export request \([0-9]*\) is waiting.*/\1/p')
	out=$(as "$DPO2" export approve "${id:-0}" 2>&1)
	rc=$?
	check "a DSAR export with a redaction, approved by a second dpo, gives REDACTED files (exit $rc)" \
		[ "$rc" = 0 -a "$(ls "$T/dsar/DSAR-9" | grep -c -- '-REDACTED\.mp4$')" = 1 ]
	check "... which verify" $VCTL verify "$T/dsar/DSAR-9"
else
	skip "subject access export approved by a second login (needs root to create a second user)"
fi

# ---- the disclosure log ----
$VCTL disclosures >"$T/disc.txt" 2>&1
check "disclosures lists the police export as disclosed" \
	grep -q "DISCLOSED.*police \"Test Constabulary\".*ref CRIME-114" "$T/disc.txt"
check "disclosures lists the refused resident request" grep -q "REFUSED.*resident" "$T/disc.txt"
check "disclosures lists the refused media request" \
	grep -q "REFUSED.*media \"Evening Paper\".*ref DISC-7" "$T/disc.txt"
check "disclosures lists the media request awaiting approval" \
	grep -q "AWAITING APPROVAL.*media" "$T/disc.txt"
if [ "$ROOT" = 1 ]; then
	out=$(as "$ENF" disclosures 2>&1)
	rc=$?
	check "the enforcement officer may not read the disclosure log (exit $rc): $out" \
		says "$rc" 1 "$out" "refused"
fi

# ---- ISO ----
t0=$(date +%s%N)
# "--to now" reaches into the clip being recorded: the export stops before it.
out=$($VCTL $POLICE --reference CRIME-115 export --camera synth-a --from "$FROM" --to now \
	--recipient police --organisation "Test Constabulary" --iso "$T/iso/evidence.iso" --force 2>&1)
rc=$?
echo "# ISO export took $((($(date +%s%N) - t0) / 1000000)) ms"
echo "$out" | sed 's/^/# /'
check "an ISO export up to 'now' succeeds (exit $rc)" [ "$rc" = 0 -a -f "$T/iso/evidence.iso" ]
check "xorriso reads the image and finds the signed manifest" \
	sh -c "xorriso -indev '$T/iso/evidence.iso' -find / -name manifest.json.sig 2>/dev/null |
	       grep -q 'CRIME-115/manifest.json.sig'"

# ---- larger than one disc: split by time ----
two_clips() { [ "$($VCTL $POLICE clips --camera synth-a --from "$FROM" --to now |
	awk 'NR > 1 && $11 == "complete"' | wc -l)" -ge 2 ]; }
check "synth-a has two complete clips to split" wait_for 60 two_clips
# A disc that holds the largest clip (as the exporter counts it: the clip,
# 36 bytes of moov tables a picture, 64 KiB of moov) but not two.
most=$($VCTL $POLICE clips --camera synth-a --from "$FROM" --to now --json |
	python3 -c 'import json,sys
print(max(c["bytes"] + 36 * c["frames"] + 65536 for c in json.load(sys.stdin)
          if c["state"] == "complete"))')
disc_k=$(((most + 1024 + 524288) * 20 / 19 / 1000 + 2))
out=$($VCTL $POLICE --reference CRIME-116 export --camera synth-a --from "$FROM" --to now \
	--recipient police --organisation "Test Constabulary" --iso "$T/iso/split.iso" \
	--disc-size "${disc_k}K" --force 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
ndisc=$(ls "$T/iso" | grep -c '^split-disc[0-9]*of[0-9]*\.iso$')
listed=$(echo "$out" | grep -c 'disc [0-9]* of [0-9]*: ')
check "an export larger than one ${disc_k} kB disc is split over $ndisc images (exit $rc)" \
	[ "$rc" = 0 -a "$ndisc" -ge 2 -a "$listed" = "$ndisc" ]
bad=0
for i in $(seq 1 "$ndisc"); do
	img=$T/iso/split-disc${i}of$ndisc.iso
	[ "$(stat -c %s "$img")" -le "$((disc_k * 1000))" ] || { echo "# $img too large"; bad=1; }
	$VCTL verify "$img" >/dev/null 2>&1 || { echo "# $img does not verify"; bad=1; }
	xorriso -indev "$img" -find / -name manifest.json 2>/dev/null |
		grep -q "CRIME-116-disc${i}of$ndisc/manifest.json" || { echo "# $img: folder"; bad=1; }
done
check "each disc fits, is named 'disc K of N' and verifies on its own" [ "$ndisc" -ge 2 -a "$bad" = 0 ]
check "--disc-size without a unit or a size makes sense is a usage error" \
	sh -c "$VCTL $POLICE export --camera synth-a --from '$FROM' --to now --recipient police \
		--iso '$T/iso/x.iso' --disc-size lots 2>&1 | grep -q 'disc-size takes'"

# ---- a waiting request survives a restart of vigild ----
mkdir "$T/media2"
[ "$ROOT" = 1 ] && chown "$DAEMON:$DAEMON" "$T/media2" && chmod 775 "$T/media2"
out=$($VCTL --purpose press-appeal --reference DISC-8 export --camera synth-a --from "$FROM" \
	--to "$TO" --recipient media --organisation "Evening Paper" --police-decision CRIME-114-D2 \
	--victim-wishes "victim agrees to publication" --dest "$T/media2" --force 2>&1)
rc=$?
id=$(echo "$out" | sed -n 's/^export request \([0-9]*\) is waiting.*/\1/p')
check "a second media request waits (exit $rc, request $id)" [ "$rc" = 0 -a -n "$id" ]
check "... and vigilctl no longer says a restart forgets it" \
	sh -c "! echo \"\$1\" | grep -qi restart" sh "$out"
stop_daemon
start_daemon
answers() { $VCTL status >/dev/null 2>&1; }
check "vigild answers again after a restart" wait_for 60 answers
$VCTL disclosures >"$T/disc2.txt" 2>&1
check "after the restart disclosures still lists request $id as waiting" \
	grep -q "^  request ${id:-x} by $ME at " "$T/disc2.txt"
out=$($VCTL export approve "${id:-0}" 2>&1)
rc=$?
check "after the restart the requester still cannot approve it (exit $rc): $out" \
	says "$rc" 1 "$out" "cannot approve it"
if [ "$ROOT" = 1 ]; then
	out=$(as "$DPO2" export approve "${id:-0}" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	check "after the restart a second dpo approves it and it runs (exit $rc)" \
		[ "$rc" = 0 -a -f "$T/media2/DISC-8/manifest.json" ]
	check "... the export verifies" $VCTL verify "$T/media2/DISC-8"
	out=$(as "$DPO2" export approve "${id:-0}" 2>&1)
	rc=$?
	check "... and it cannot be approved (run) a second time (exit $rc)" \
		says "$rc" 1 "$out" "no export request with that number"
	$VCTL disclosures >"$T/disc2.txt" 2>&1
	check "... nor is it listed as waiting any more" \
		sh -c "! grep -q '^  request $id by ' '$T/disc2.txt'"
else
	skip "approving a request made before a restart (needs root to create a second user)"
fi

# ---- an approver makes the destination with their own rights ----
if [ "$ROOT" = 1 ]; then
	mkdir "$T/vigilonly" && chown "$DAEMON:$DAEMON" "$T/vigilonly"
	out=$($VCTL --purpose press-appeal --reference DISC-10 export --camera synth-a \
		--from "$FROM" --to "$TO" --recipient media --organisation "Evening Paper" \
		--police-decision CRIME-114-D4 --victim-wishes "victim agrees" \
		--dest "$T/vigilonly" --force 2>&1)
	id4=$(echo "$out" | sed -n 's/^export request \([0-9]*\) is waiting.*/\1/p')
	out=$(as "$DPO2" export approve "${id4:-0}" 2>&1)
	rc=$?
	check "an approver who may not write where the export would land is refused (exit $rc): $out" \
		says "$rc" 1 "$out" "you may not write"
	$VCTL disclosures >"$T/disc4.txt" 2>&1
	check "... nothing was written there, and the request still waits" \
		sh -c "[ -z \"\$(ls -A '$T/vigilonly')\" ] && grep -q '^  request ${id4:-x} by ' '$T/disc4.txt'"
	$VCTL export withdraw "${id4:-0}" --reason "test over" >/dev/null 2>&1
else
	skip "an approver without rights on the destination (needs root to create a second user)"
fi

# ---- a waiting request withdrawn ----
out=$($VCTL --purpose press-appeal --reference DISC-9 export --camera synth-a --from "$FROM" \
	--to "$TO" --recipient media --organisation "Evening Paper" --police-decision CRIME-114-D3 \
	--victim-wishes "victim agrees" --dest "$T/media2" --force 2>&1)
id3=$(echo "$out" | sed -n 's/^export request \([0-9]*\) is waiting.*/\1/p')
check "a third media request waits (request $id3)" [ -n "$id3" ]
out=$($VCTL export withdraw "${id3:-0}" 2>&1)
rc=$?
check "withdrawing without a reason is a usage error (exit $rc)" says "$rc" 2 "$out" "--reason"
if [ "$ROOT" = 1 ]; then
	out=$(as "$ENF" --purpose x --reference y export withdraw "${id3:-0}" --reason "no" 2>&1)
	rc=$?
	check "the enforcement officer may not withdraw someone else's request (exit $rc)" \
		says "$rc" 1 "$out" "refused"
fi
out=$($VCTL export withdraw "${id3:-0}" --reason "the victim changed their mind" 2>&1)
rc=$?
check "the requester withdraws it (exit $rc): $out" says "$rc" 0 "$out" "withdrawn"
$VCTL disclosures >"$T/disc3.txt" 2>&1
check "disclosures shows it withdrawn and no longer waiting" \
	sh -c "grep -q 'WITHDRAWN' '$T/disc3.txt' && ! grep -q '^  request ${id3:-x} by ' '$T/disc3.txt'"
if [ "$ROOT" = 1 ]; then
	out=$(as "$DPO2" export approve "${id3:-0}" 2>&1)
	rc=$?
	check "a withdrawn request cannot be approved (exit $rc)" \
		says "$rc" 1 "$out" "no export request with that number"
	check "... and nothing was exported" [ ! -e "$T/media2/DISC-9" ]
fi

stop_daemon

# ---- verification on "an ordinary PC": vigild is stopped ----
out=$($VCTL verify "$D" --fingerprint "$FPR" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check "vigilctl verify passes the folder with vigild stopped (exit $rc)" says "$rc" 0 "$out" "intact"
check "... naming the recorder whose fingerprint was given" \
	says "$rc" 0 "$out" "signed by: the recorder you named"
vfpr=$(echo "$out" | awk '/^device key fingerprint/ { print $4 }')
check "verify's fingerprint equals the one vigilctl status showed" [ -n "$vfpr" -a "$vfpr" = "$FPR" ]
cp "$D/device-public-key.pem" "$T/recorder.pem"
out=$($VCTL verify "$D" --key "$T/recorder.pem" 2>&1)
rc=$?
check "... or whose public key file was given (exit $rc)" \
	says "$rc" 0 "$out" "signed by: the recorder you named"
out=$($VCTL verify "$D" 2>&1)
rc=$?
check "told no key and off the recorder, verify says the signer is unknown (exit $rc)" \
	says "$rc" 4 "$out" "UNKNOWN key: no recorder key to compare with"
# A forgery: the manifest changed and re-signed with another key, the
# hashes made to agree. Intact in itself, but not this recorder's.
cp -a "$D" "$T/forged"
openssl ecparam -genkey -name prime256v1 -noout -out "$T/other.key" 2>/dev/null
(
	cd "$T/forged" || exit 1
	old=$(sha256sum device-public-key.pem | cut -c1-64)
	openssl ec -in "$T/other.key" -pubout -out device-public-key.pem 2>/dev/null
	new=$(sha256sum device-public-key.pem | cut -c1-64)
	sed -i "s/Test Constabulary/Test Constabularx/; s/$old/$new/g" manifest.json
	openssl dgst -sha256 -sign "$T/other.key" -out manifest.json.sig manifest.json
	for f in $(awk '{ print $2 }' SHA256SUMS); do sha256sum "$f"; done >SHA256SUMS.new
	mv SHA256SUMS.new SHA256SUMS
)
out=$($VCTL verify "$T/forged" --fingerprint "$FPR" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check "an export re-signed with another key is not this recorder's (exit $rc)" \
	says "$rc" 4 "$out" "NOT the recorder you named"
# A FIFO where a file should be: refused at once, not a hang.
cp -a "$D" "$T/fifo"
rm "$T/fifo/README.txt"
mkfifo "$T/fifo/README.txt"
out=$(timeout 120 $VCTL verify "$T/fifo" --fingerprint "$FPR" 2>&1)
rc=$?
check "a FIFO in the export folder fails verify at once, named (exit $rc)" \
	says "$rc" 1 "$out" "README.txt: is not a regular file"
out=$($VCTL verify "$T/iso/evidence.iso" --fingerprint "$FPR" 2>&1)
rc=$?
check "vigilctl verify passes the ISO image (exit $rc)" says "$rc" 0 "$out" "intact"

cp -a "$D" "$T/tampered"
vid=$(ls "$T/tampered" | grep '\.mp4$' | head -n 1)
size=$(stat -c %s "$T/tampered/$vid")
off=$((size / 2))
old=$(od -An -tu1 -j "$off" -N1 "$T/tampered/$vid" | tr -d ' ')
printf "$(printf '\\%03o' $(((old + 1) % 256)))" |
	dd of="$T/tampered/$vid" bs=1 seek="$off" count=1 conv=notrunc 2>/dev/null
out=$($VCTL verify "$T/tampered" 2>&1)
rc=$?
echo "$out" | sed "s/^/# /"
check "one changed byte in $vid: verify exits non-zero naming the file (exit $rc)" \
	says "$rc" 1 "$out" "first bad file: $vid"
check "... and sha256sum -c fails too" sh -c "cd '$T/tampered' && ! sha256sum -c --quiet SHA256SUMS >/dev/null 2>&1"
cp -a "$D" "$T/tampered2"
sed -i 's/Test Constabulary/Test Constabularx/' "$T/tampered2/manifest.json"
out=$($VCTL verify "$T/tampered2" 2>&1)
rc=$?
check "a changed manifest fails verify (exit $rc) and openssl" sh -c "[ $rc = 1 ] && cd '$T/tampered2' &&
	! openssl dgst -sha256 -verify device-public-key.pem -signature manifest.json.sig manifest.json >/dev/null 2>&1"

[ "$FAILED" = 0 ] || { echo "--- disclosures"; cat "$T/disc.txt"; echo "--- vigild.log"; tail -n 40 "$T/vigild.log"; }
exit 0
