# End to end: the review report, as the data protection officer and an
# auditor make it and as an auditor receiving it checks it. vigild records
# two synthetic cameras; the DPO places a hold, views footage, is refused
# twice and exports for the police; then `vigilctl report` builds the
# report. Every figure the test can count independently is counted from
# audit.db and catalog.db with the sqlite3 CLI and compared with the JSON;
# openssl checks the signature; headless Chromium renders the page (first
# page kept as $BUILD/report-first-page.png), dumps its DOM and prints it
# to PDF, and the test checks the page is not blank and every chart is
# there.
#
# As root, an auditor and an area manager are real Unix users (useradd):
# the auditor's copy names nobody, the area manager is refused. Otherwise
# those checks skip.
. tests/e2e-lib.sh
FAILED=0
make_tmp
PY=/usr/bin/python3

for tool in openssl sqlite3 sha256sum chromium ffmpeg $PY; do
	if ! command -v "$tool" >/dev/null; then
		tool_missing "$tool" "report end to end"
		exit 0
	fi
done

ME=$(id -un)
ROOT=0
[ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null && ROOT=1
P=vgr$$
DAEMON=${P}v
AUD=${P}a
AM=${P}m
cleanup_users() {
	for u in $AUD $AM $DAEMON; do userdel "$u" 2>/dev/null; done
	groupdel "$DAEMON" 2>/dev/null
}
mkdir "$T/data" "$T/run" "$T/usb" "$T/rep"
RUN_AS=
EXTRA_USERS=
if [ "$ROOT" = 1 ]; then
	trap 'cleanup; cleanup_users' EXIT
	useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$DAEMON"
	for u in $AUD $AM; do
		useradd --no-create-home --shell /bin/sh --user-group --groups "$DAEMON" "$u"
	done
	chmod 755 "$T"
	chown "$DAEMON:$DAEMON" "$T/data" "$T/run" "$T/usb"
	chmod 750 "$T/run"
	chmod 777 "$T/rep"
	RUN_AS="user = \"$DAEMON\";"
	EXTRA_USERS="{ login = \"$AUD\"; name = \"Ann Auditor\"; role = \"auditor\"; },
  { login = \"$AM\"; name = \"Alan Areamanager\"; role = \"area_manager\"; sites = ( \"Test Court\" ); },"
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
  { name = "synth-a"; device = "synthetic"; purpose = "ASB in the lobby"; area = "lobby";
    signage_confirmed = "2020-01-31"; },
  { name = "synth-b"; device = "synthetic"; purpose = "ASB at the door"; area = "door";
    retention_days = 45; retention_justification = "ongoing ASB case"; }
);
users = (
  { login = "$ME"; name = "Dana Protection"; role = "dpo"; },
  $EXTRA_USERS
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; }
);
CONF
chmod 644 "$T/vigil.conf"
VCTL="$VIGILCTL -c $T/vigil.conf"
DSAR="--purpose subject-access-request --reference DSAR-77"
POLICE="--purpose police-request --reference CRIME-114"
as() { # as USER vigilctl-args...
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --init-groups "$VIGILCTL" -c "$T/vigil.conf" "$@"
}
j() { # j FILE PYTHON-EXPRESSION-ON-d: a value of the report's JSON
	$PY -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"
}

FROM=$(date -u +%Y-%m-%dT%H:%M:%S)
"$VIGILD" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
complete_clips() { # complete_clips CAMERA: ids of its complete clips
	$VCTL $DSAR clips --camera "$1" | awk 'NR > 1 && $11 == "complete" { print $1 }'
}
two_each() { [ "$(complete_clips synth-a | wc -l)" -ge 2 ] && [ "$(complete_clips synth-b | wc -l)" -ge 1 ]; }
check "vigild records complete clips of both cameras" wait_for 90 two_each

# ---- what the report will count ----
set -- $(complete_clips synth-a)
A1=$1
A2=$2
$VCTL $DSAR view "$A1" "$T/v1.mp4" >/dev/null 2>&1
$VCTL $DSAR view "$A2" "$T/v2.mp4" >/dev/null 2>&1
check "the DPO views two clips for a subject access request" [ -s "$T/v1.mp4" -a -s "$T/v2.mp4" ]
out=$($VCTL --purpose curiosity --reference ASB-5 view "$A1" "$T/v3.mp4" 2>&1)
check "a view without a DSAR reference is refused: $out" [ ! -e "$T/v3.mp4" ]
out=$($VCTL $DSAR snapshot --camera synth-a "$T/s.jpg" 2>&1)
check "the DPO may not take a live snapshot: $out" [ ! -e "$T/s.jpg" ]
hold=$($VCTL $POLICE hold --camera synth-a --from "$FROM" --to now --reason "assault in the lobby" \
	--review-by "$(date -u -d '+20 days' +%Y-%m-%d)" 2>&1)
check "the DPO places a hold ($hold)" sh -c "echo '$hold' | grep -qx '[0-9][0-9]*'"
out=$($VCTL $POLICE export --camera synth-a --from "$FROM" --to now --recipient police \
	--organisation "Test Constabulary" --dest "$T/usb" --force 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
check "the DPO exports footage for the police (exit $rc)" [ "$rc" = 0 ]

# ---- the report ----
out=$($VCTL report --from "$FROM" --to now --out "$T/rep/review.html" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
R=$T/rep/review
check "vigilctl report writes the page, the figures, the signature and the key (exit $rc)" \
	[ "$rc" = 0 -a -s "$R.html" -a -s "$R.json" -a -s "$R.json.sig" -a -s "$R.pem" ]
TO=$(j "$R.json" 'd["period"]["to"]')	# the same period for the other copies
out2=$($VCTL report --from "$FROM" --to "$TO" --out "$T/rep/review.html" 2>&1)
rc=$?
check "a second report under the same name is refused, nothing overwritten (exit $rc)" \
	sh -c "[ $rc = 2 ] && echo \"\$1\" | grep -q 'already exist'" sh "$out2"
out2=$($VCTL report --from 2020-01-01 --to 2026-01-01 --out "$T/rep/long.html" 2>&1)
rc=$?
check "a period over 400 days is refused with what to do (exit $rc): $out2" \
	sh -c "[ $rc = 1 ] && echo \"\$1\" | grep -q 'at most 400 days'" sh "$out2"
if [ "$ROOT" = 1 ]; then
	out2=$(as "$AM" report --from "$FROM" --to "$TO" --out "$T/rep/am.html" 2>&1)
	rc=$?
	check "an area manager may not make the report (exit $rc): $out2" \
		sh -c "[ $rc = 1 ] && [ ! -e '$T/rep/am.html' ] && [ ! -e '$T/rep/am.json' ]"
else
	skip "report refused to an area manager (needs root to create a second user)"
fi
if [ "$ROOT" = 1 ]; then
	as "$AUD" report --from "$FROM" --to "$TO" --out "$T/rep/auditor.html" >/dev/null 2>&1
	check "the auditor's copy names no staff: people are Person 1, 2..." \
		sh -c "[ -s '$T/rep/auditor.json' ] && ! grep -q 'Dana Protection' \
			'$T/rep/auditor.json' '$T/rep/auditor.html' && grep -q 'Person 1' '$T/rep/auditor.html'"
	check "... not even by login" [ "$(j "$T/rep/auditor.json" \
		'[p["person"] for p in d["sections"]["access"]["people"]] + [h["placed_by"] for h in d["sections"]["retention"]["holds"]]')" = "['Person 2', 'Person 2']" ]
	check "... and says so" [ "$(j "$T/rep/auditor.json" 'd["prepared_for"]["names_shown"]')" = false ]
else
	skip "the auditor's copy names nobody (needs root to create a second user)"
fi
check "the DPO's copy names the DPO" grep -q "Dana Protection ($ME)" "$R.json"

# Stop vigild: every clip is finished, so the catalog is what the report
# saw, clipped to its period (a clip still open then is cut at TO both ways).
kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
VIGILD_PID=

# ---- the signature ----
check "openssl verifies the signature with the key written beside it" \
	sh -c "openssl dgst -sha256 -verify '$R.pem' -signature '$R.json.sig' '$R.json' | grep -q 'Verified OK'"
SHA=$(sha256sum "$R.json" | cut -d' ' -f1)
check "the page states the JSON's SHA-256 ($SHA)" grep -q "$SHA" "$R.html"
fpr=$(openssl pkey -pubin -in "$R.pem" -outform DER | sha256sum | cut -d' ' -f1)
check "the key is the device key named in the report ($fpr)" \
	[ "$fpr" = "$(j "$R.json" 'd["device"]["public_key_sha256"]')" ]
sed 's/"synth-a"/"synth-x"/' "$R.json" >"$T/tampered.json"
check "one changed word fails the signature" \
	sh -c "! openssl dgst -sha256 -verify '$R.pem' -signature '$R.json.sig' '$T/tampered.json' >/dev/null 2>&1"
check "audit row report.done records the JSON's SHA-256" \
	[ "$(sqlite3 -readonly "$T/data/audit.db" "select count(*) from audit where action = 'report.done' and object like '%sha256=$SHA%'")" = 1 ]

# ---- every figure against an independent count ----
A="$T/data/audit.db"
C="$T/data/catalog.db"
SEQ=$(j "$R.json" 'd["sources"]["audit_rows_through_seq"]')
F_US=$(j "$R.json" 'int(__import__("datetime").datetime.fromisoformat(d["period"]["from"].replace("Z", "+00:00")).timestamp() * 1000000)')
T_US=$(j "$R.json" 'int(__import__("datetime").datetime.fromisoformat(d["period"]["covered_to"].replace("Z", "+00:00")).timestamp() * 1000000)')
in_period="seq <= $SEQ and time_us >= $F_US and time_us < $T_US"
q() { sqlite3 -readonly "$1" "$2"; }
same() { # same WHAT JSON-EXPR SQLITE-FILE SQL
	want=$(q "$3" "$4")
	got=$(j "$R.json" "$2")
	check "$1: report $got, independent count $want" [ "$got" = "$want" ]
}
same "views allowed to the DPO" 'd["sections"]["access"]["by_role"][0]["allowed"]["clip.view"]' \
	"$A" "select count(*) from audit where $in_period and action = 'clip.view' and outcome = 'allowed' and role = 'dpo'"
same "listings allowed to the DPO" 'd["sections"]["access"]["by_role"][0]["allowed"]["clip.list"]' \
	"$A" "select count(*) from audit where $in_period and action = 'clip.list' and outcome = 'allowed' and role = 'dpo'"
same "holds placed (audit)" 'd["sections"]["access"]["by_role"][0]["allowed"]["hold.place"]' \
	"$A" "select count(*) from audit where $in_period and action = 'hold.place' and outcome = 'allowed'"
same "footage requests with a DSAR reference" 'sum(d["sections"]["access"]["by_reference_kind"][[k["kind"] for k in d["sections"]["access"]["by_reference_kind"]].index("DSAR")]["allowed"].values())' \
	"$A" "select count(*) from audit where $in_period and outcome = 'allowed' and reference like 'DSAR-%' and action in ('clip.list','clip.view','snapshot','hold.place','hold.release','export')"
same "refusals" 'd["sections"]["access"]["refusals"]["total"]' \
	"$A" "select count(*) from audit where $in_period and outcome = 'refused' and action in ('clip.list','clip.view','snapshot','hold.place','hold.release','export','audit.read','report','disclosure.list')"
same "refusals citing policy 3.10" 'sum(c["count"] for c in d["sections"]["access"]["refusals"]["by_clause"] if c["clause"] == "policy 3.10")' \
	"$A" "select count(*) from audit where $in_period and outcome = 'refused' and action in ('clip.list','clip.view','snapshot','hold.place','hold.release','export') and reason like '%(policy 3.10)%'"
same "disclosures to the police" '[r for r in d["sections"]["disclosures"]["by_recipient"] if r["recipient"] == "police"][0]["disclosed"]' \
	"$A" "select count(*) from audit where $in_period and action = 'export.done' and object like '%recipient=police%'"
same "disclosures in all" 'd["sections"]["disclosures"]["disclosed"]' \
	"$A" "select count(*) from audit where $in_period and action = 'export.done'"
same "disclosures listed with their manifest" 'd["sections"]["disclosures"]["list"][0]["manifest_sha256"]' \
	"$A" "select substr(object, instr(object, 'manifest_sha256=') + 16, 64) from audit where $in_period and action = 'export.done'"
same "clips recorded (audit)" 'd["sections"]["integrity"]["clock"]["clips"]' \
	"$A" "select count(*) from audit where $in_period and action = 'clip.create'"
same "clips recorded with the clock unsynchronised" 'd["sections"]["integrity"]["clock"]["clips_unsynchronised"]' \
	"$A" "select count(*) from audit where $in_period and action = 'clip.create' and object like '% clock=UNSYNCHRONISED%'"
same "deletions by retention" 'd["sections"]["retention"]["deletions"]["clips_deleted"]' \
	"$A" "select count(*) from audit where $in_period and action = 'retention.delete'"
same "daemon starts" 'd["sections"]["integrity"]["daemon_events"].get("daemon.start", 0)' \
	"$A" "select count(*) from audit where $in_period and action = 'daemon.start'"
same "last checkpoint" 'd["sections"]["integrity"]["last_checkpoint"]["seq"]' \
	"$A" "select seq from checkpoint where id = (select max(id) from checkpoint where seq <= $SEQ)"
check "the audit chain is reported intact over at least the rows counted" \
	[ "$(j "$R.json" 'd["sections"]["integrity"]["audit_chain"]["intact"] and d["sections"]["integrity"]["audit_chain"]["rows"] >= '"$SEQ")" = true ]
for cam in synth-a synth-b; do
	sel="[c for c in d[\"sections\"][\"availability\"][\"cameras\"] if c[\"name\"] == \"$cam\"][0]"
	same "$cam: clips in the period" "$sel[\"clips\"]" \
		"$C" "select count(*) from clips where camera = '$cam' and start_us < $T_US and end_us > $F_US"
	# Seconds: the report rounds each day, so compare whole seconds.
	want=$(q "$C" "select cast(round(total(min(end_us, $T_US) - max(start_us, $F_US)) / 1e6) as int) from clips where camera = '$cam' and start_us < $T_US and end_us > $F_US")
	got=$(j "$R.json" "$sel[\"recorded\"]")
	check "$cam: seconds recorded: report $got, independent sum $want" \
		[ "$((got - want))" -le 1 -a "$((want - got))" -le 1 ]
	period=$(j "$R.json" "$sel[\"seconds\"]")
	unacc=$(j "$R.json" "$sel[\"unaccounted\"]")
	check "$cam: recorded + gaps + unaccounted make the period ($got + 0 + $unacc = $period)" \
		[ "$((period - got - unacc))" -ge -1 -a "$((period - got - unacc))" -le 1 ]
done
same "holds placed (catalog)" 'd["sections"]["retention"]["holds_placed"]' \
	"$C" "select count(*) from holds where placed_us >= $F_US and placed_us < $T_US"
same "the hold's reference" 'd["sections"]["retention"]["holds"][0]["reference"]' \
	"$C" "select reference from holds order by id limit 1"
same "oldest footage of synth-a" 'd["sections"]["retention"]["cameras"][0]["oldest"][:19]' \
	"$C" "select strftime('%Y-%m-%dT%H:%M:%S', min(start_us) / 1e6, 'unixepoch') from clips where camera = 'synth-a'"
check "the register lists both cameras with their purposes" \
	[ "$(j "$R.json" '[(c["name"], c["purpose"]) for c in d["sections"]["register"]["cameras"]]')" = "[('synth-a', 'ASB in the lobby'), ('synth-b', 'ASB at the door')]" ]
check "lapsed signage is an action" \
	[ "$(j "$R.json" 'any("synth-a" in a["text"] and "2020-01-31" in a["text"] for a in d["actions"])')" = true ]
check "config check's warnings are actions (no signage date for synth-b)" \
	[ "$(j "$R.json" 'any("synth-b" in a["text"] and "signage_confirmed" in a["text"] for a in d["actions"])')" = true ]

# ---- the page, as Chromium renders and prints it ----
chrome() { # chrome ARGS...: a fresh profile each time, nothing fetched
	rm -rf "$T/chrome"
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--hide-scrollbars --user-data-dir="$T/chrome" "$@" 2>>"$T/chromium.log"
}
PNG=$BUILD/report-first-page.png
rm -f "$PNG"
chrome --window-size=794,1123 --screenshot="$PNG" "file://$R.html" >/dev/null
check "Chromium renders the first page to $PNG" [ -s "$PNG" ]
ink=$(ffmpeg -v error -i "$PNG" -f rawvideo -pix_fmt gray - | $PY -c 'import sys
b = sys.stdin.buffer.read()
print(int(1000 * sum(1 for x in b if x < 200) / max(len(b), 1)))')
check "the first page is not blank ($ink per mille of it is ink)" [ "${ink:-0}" -ge 20 ]
chrome --dump-dom "file://$R.html" >"$T/dom.html"
want_charts="availability-synth-a availability-synth-b retention access-by-role access-by-reference refusals disclosures"
missing=
for c in $want_charts; do
	$PY - "$T/dom.html" "$c" <<'EOF' || missing="$missing $c"
import re, sys
dom = open(sys.argv[1]).read()
m = re.search(r'<svg[^>]*data-chart="%s"[^>]*>(.*?)</svg>' % re.escape(sys.argv[2]), dom, re.S)
sys.exit(0 if m and re.search(r'<(path|rect)\b', m.group(1)) and '<title>' in m.group(1) else 1)
EOF
done
check "every chart is in the rendered page, drawn (missing:${missing:- none})" [ -z "$missing" ]
nsvg=$(grep -o '<svg' "$T/dom.html" | wc -l)
check "and no other ($nsvg charts)" [ "$nsvg" = 7 ]
check "the page fetches nothing and runs no script" \
	sh -c "! grep -qi -e '<script' -e 'src=\"http' -e 'href=\"http' -e '@import' '$R.html'"
chrome --no-pdf-header-footer --print-to-pdf="$T/review.pdf" "file://$R.html" >/dev/null
pdf=$($PY - "$T/review.pdf" <<'EOF'
import re, sys
pdf = open(sys.argv[1], "rb").read()
pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
a4 = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+59[45](\.\d*)?\s+84[12](\.\d*)?\s*\]", pdf)
print(pages if pdf.startswith(b"%PDF") and a4 else 0)
EOF
)
check "it prints to PDF on A4 (${pdf:-0} pages)" [ "${pdf:-0}" -ge 4 ]
echo "# first page: $PNG"
exit "$FAILED"
