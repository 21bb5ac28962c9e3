# End to end: an ISO export burned through vigild onto a "disc". There is no
# DVD writer here, so the disc is a file (--force: xorriso's "stdio:" target,
# the same write and read-back path as a drive). vigild records a synthetic
# camera; the data protection officer exports an ISO image and burns it; the
# disc verifies as an export and the audit log shows the burn with the
# image's SHA-256. A changed image is refused before anything is written, a
# file is no disc without --force, and a role without export rights (the
# same login made an auditor by a config reload) is refused and audited.
. tests/e2e-lib.sh
FAILED=0
make_tmp

for tool in xorriso cmp; do
	if ! command -v $tool >/dev/null; then
		tool_missing "$tool" "burn end to end"
		exit 0
	fi
done

ME=$(id -un)
RUN_AS=
# As root vigild drops to the configured user; here that is root itself,
# so that the caller and vigild can both reach the temp folder.
[ "$(id -u)" = 0 ] && RUN_AS="user = \"$ME\";"
mkdir "$T/data" "$T/run" "$T/iso" "$T/discs" "$T/data2" "$T/run2"

write_conf() { # write_conf ROLE [N]: the caller's role; N: a second box
	cat >"$T/vigil$2.conf" <<CONF
site = { name = "Test Court"; address = "1 Test Street"; area_manager = "$ME";
         contact = "dpo@example.org"; };
data_dir = "$T/data$2";
socket = "$T/run$2/vigil.sock";
$RUN_AS
log_level = "info";
defaults = { width = 320; height = 240; fps = 15; preset = "ultrafast"; segment_seconds = 10; fragment_ms = 500; };
cameras = (
  { name = "synth-a"; device = "synthetic"; purpose = "ASB in the lobby"; area = "lobby"; }
);
users = (
  { login = "$ME"; name = "Test Person"; role = "$1"; },
  { login = "test-manager"; name = "Test Manager"; role = "area_manager"; sites = ( "Test Court" ); },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; }
);
CONF
	chmod 644 "$T/vigil$2.conf"
}
write_conf dpo
write_conf dpo 2
VCTL="$VIGILCTL -c $T/vigil.conf"
POLICE="--purpose police-request-for-assault --reference CRIME-214"
says() { # says RC WANT OUTPUT TEXT: exit code and message both right
	[ "$1" = "$2" ] && echo "$3" | grep -q -- "$4"
}
complete_of() { # start and end of a camera's first complete clip
	$VCTL $POLICE clips --camera "$1" | awk 'NR > 1 && $11 == "complete" { print $3, $4; exit }'
}
last() { echo "$1" | tail -n 1; }	# the refusal, not the "checking" line
same_start() { # same_start IMAGE DISC: the disc begins with the whole image
	cmp -s -n "$(stat -c %s "$1")" "$1" "$2"
}

# A second box (its own device key) records alongside, for an image that
# is intact but not this box's.
"$VIGILD" -c "$T/vigil2.conf" >>"$T/vigild2.log" 2>&1 &
OTHER_PID=$!
trap 'kill -9 $OTHER_PID 2>/dev/null; cleanup' EXIT
"$VIGILD" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
one() { [ -n "$(complete_of synth-a)" ]; }
check "vigild records a complete clip" wait_for 60 one
set -- $(complete_of synth-a)
ISO=$T/iso/evidence.iso
out=$($VCTL $POLICE export --camera synth-a --from "$1" --to "$2" --recipient police \
	--organisation "Test Constabulary" --iso "$ISO" --force 2>&1)
rc=$?
check "an ISO export is made to burn (exit $rc)" [ "$rc" = 0 -a -f "$ISO" ]
if [ ! -f "$ISO" ]; then
	echo "$out" | sed 's/^/# /'
	tail -n 30 "$T/vigild.log" | sed 's/^/# /'
	exit 0
fi
SHA=$(sha256sum "$ISO" | cut -d' ' -f1)

# ---- the burn ----
DISC=$T/discs/disc.img
t0=$(date +%s%N)
out=$($VCTL $POLICE burn "$ISO" --device "$DISC" --force 2>&1)
rc=$?
echo "# burn took $((($(date +%s%N) - t0) / 1000000)) ms"
echo "$out" | sed 's/^/# /'
check "vigilctl burn --force onto a file succeeds and says so (exit $rc)" \
	says "$rc" 0 "$out" "disc 1 of 1: $ISO written to $DISC and read back identical"
check "it reports the image's SHA-256" says "$rc" 0 "$out" "image sha256 $SHA"
check "the disc begins with the image, byte for byte" same_start "$ISO" "$DISC"
out=$($VCTL verify "$DISC" 2>&1)
rc=$?
check "the disc verifies as an export (exit $rc)" says "$rc" 0 "$out" "intact"
out=$($VCTL burn "$ISO" --device "$T/discs/nopurpose.img" --force 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check "burn without --purpose is refused (exit $rc) with no talk of DVD time first" \
	sh -c "[ $rc = 1 ] && ! echo '$out' | grep -q 'minutes' && [ ! -e '$T/discs/nopurpose.img' ]"
rm -f "$T/discs/nopurpose.img"
$VCTL audit show --action export.burn >"$T/audit.txt" 2>&1
check "the audit log shows the burn with the image's SHA-256 and the device" \
	sh -c "grep 'export.burn' '$T/audit.txt' | grep -q 'image_sha256=$SHA device=$DISC'"

# A relative image and device path are made absolute for vigild.
CTL_ABS=$(pwd)/$VIGILCTL
out=$(cd "$T" && "$CTL_ABS" -c "$T/vigil.conf" $POLICE burn iso/evidence.iso \
	--device discs/rel.img --force 2>&1)
rc=$?
check "relative paths work (exit $rc)" [ "$rc" = 0 ] && same_start "$ISO" "$T/discs/rel.img"

# Two images, no terminal, a file as the disc: one after the other.
cp "$ISO" "$T/iso/second.iso"
out=$($VCTL $POLICE burn "$ISO" "$T/iso/second.iso" --device "$T/discs/two.img" --force \
	</dev/null 2>&1)
rc=$?
both() { [ "$rc" = 0 ] && says 0 0 "$out" "disc 1 of 2: $ISO" && says 0 0 "$out" "disc 2 of 2"; }
check "two images burn in order, one line each (exit $rc)" both

# export --burn: the image is made, then burned and read back, in one go.
out=$($VCTL $POLICE --reference CRIME-117 export --camera synth-a --from "$1" --to "$2" \
	--recipient police --organisation "Test Constabulary" --iso "$T/iso/direct.iso" \
	--burn "$T/discs/direct.img" --force 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check "export --burn makes the image and burns it (exit $rc)" \
	says "$rc" 0 "$out" "disc 1 of 1: $T/iso/direct.iso written to $T/discs/direct.img"
check "... and the disc is the image" same_start "$T/iso/direct.iso" "$T/discs/direct.img"

# ---- refusals ----
cp "$ISO" "$T/iso/tampered.iso"
off=$(grep -obUa mdat "$T/iso/tampered.iso" | head -n 1 | cut -d: -f1)
off=$((off + 2000))
old=$(od -An -tu1 -j "$off" -N1 "$T/iso/tampered.iso" | tr -d ' ')
printf "$(printf '\\%03o' $(((old + 1) % 256)))" |
	dd of="$T/iso/tampered.iso" bs=1 seek="$off" count=1 conv=notrunc 2>/dev/null
out=$($VCTL $POLICE burn "$T/iso/tampered.iso" --device "$T/discs/tampered.img" --force 2>&1)
rc=$?
check "an image with one changed byte is refused (exit $rc): $(last "$out")" \
	says "$rc" 1 "$out" "not an intact export"
check "... before anything was written" [ ! -e "$T/discs/tampered.img" ]

V2="$VIGILCTL -c $T/vigil2.conf"
other() { $V2 $POLICE clips --camera synth-a 2>/dev/null |
	awk 'NR > 1 && $11 == "complete" { print $3, $4; exit }'; }
other_done() { [ -n "$(other)" ]; }
wait_for 60 other_done
set -- $(other)
$V2 $POLICE export --camera synth-a --from "$1" --to "$2" --recipient police \
	--organisation "Test Constabulary" --iso "$T/iso/other.iso" --force >/dev/null 2>&1
kill -TERM "$OTHER_PID"
wait "$OTHER_PID"
# exit 4: intact, signed by a recorder other than this one
if [ -f "$T/iso/other.iso" ] && { $VCTL verify "$T/iso/other.iso" >/dev/null 2>&1; [ $? = 4 ]; }; then
	out=$($VCTL $POLICE burn "$T/iso/other.iso" --device "$T/discs/other.img" --force 2>&1)
	rc=$?
	check "an intact image from another recorder is refused (exit $rc): $(last "$out")" \
		says "$rc" 1 "$out" "not exported by this recorder"
	check "... before anything was written" [ ! -e "$T/discs/other.img" ]
else
	notok "the second recorder made an intact ISO export to try"
fi

echo "an old file" >"$T/discs/plain.img"
out=$($VCTL $POLICE burn "$ISO" --device "$T/discs/plain.img" 2>&1)
rc=$?
check "without --force a regular file as the device is refused (exit $rc): $(last "$out")" \
	says "$rc" 1 "$out" "not a DVD writer"
check "... and the file is untouched" [ "$(cat "$T/discs/plain.img")" = "an old file" ]

out=$($VCTL $POLICE burn "$ISO" --device "$ISO" --force 2>&1)
rc=$?
check "the image itself is refused as the device (exit $rc)" \
	[ "$rc" = 1 -a "$(sha256sum "$ISO" | cut -d' ' -f1)" = "$SHA" ]
out=$($VCTL $POLICE burn "$ISO" --device "$T/data/catalog-copy.img" --force 2>&1)
rc=$?
check "a file in vigild's data folder is refused (exit $rc): $(last "$out")" \
	says "$rc" 1 "$out" "data folder"

out=$($VCTL $POLICE burn "$ISO" 2>&1)
rc=$?
check "burn without --device is a usage error (exit $rc)" says "$rc" 2 "$out" "usage"

out=$($VCTL burn "$ISO" --device "$T/discs/nopurpose.img" --force 2>&1)
rc=$?
check "burn without purpose and reference is refused (exit $rc)" \
	[ "$rc" = 1 -a ! -e "$T/discs/nopurpose.img" ]

# ---- a role without export rights ----
write_conf auditor
kill -HUP "$VIGILD_PID"
check "the config reload (the caller is now an auditor) is logged" \
	wait_for 20 grep -q "configuration reloaded" "$T/vigild.log"
out=$($VCTL $POLICE burn "$ISO" --device "$T/discs/auditor.img" --force 2>&1)
rc=$?
check "an auditor may not burn (exit $rc): $(last "$out")" [ "$rc" = 1 -a ! -e "$T/discs/auditor.img" ]
$VCTL audit show --action export >"$T/audit2.txt" 2>&1
check "... and the refusal is in the audit log" \
	sh -c "grep 'burn image=$ISO device=$T/discs/auditor.img' '$T/audit2.txt' | grep -q refused"

kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
VIGILD_PID=
[ "$FAILED" = 0 ] || { echo "--- audit"; cat "$T/audit.txt" "$T/audit2.txt";
	echo "--- vigild.log"; tail -n 40 "$T/vigild.log"; }
exit 0
