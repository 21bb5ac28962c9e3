# End to end: fleet metrics. vigild records two synthetic cameras with
# metrics_file set; the file is read the way node_exporter's textfile
# collector reads it, with the Prometheus client library's own text-format
# parser (Debian's python3-prometheus-client), twice: the counters move
# with the frames the source delivered, never backwards, and every camera,
# the disk, the alarms, the clock and the audit log are there. The site's
# name carries a quote and a backslash, which the format must escape.
. tests/e2e-lib.sh
FAILED=0
make_tmp
PY=/usr/bin/python3

if ! $PY -c 'import prometheus_client.parser' 2>/dev/null; then
	tool_missing python3-prometheus-client "metrics end to end"
	exit 0
fi
ME=$(id -un)
mkdir "$T/data" "$T/run" "$T/prom"
cat >"$T/vigil.conf" <<CONF
site = { name = "Block \"B\" \\\\ east"; address = "1 Test Street"; area_manager = "$ME";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/run/vigil.sock";
user = "$ME";
metrics_file = "$T/prom/vigil.prom";
defaults = { width = 320; height = 240; fps = 15; preset = "ultrafast"; segment_seconds = 10; };
cameras = (
  { name = "synth-a"; device = "synthetic"; purpose = "ASB in the lobby"; area = "lobby";
    signage_confirmed = "2026-01-01"; },
  { name = "synth-b"; device = "synthetic"; purpose = "ASB at the door"; area = "door";
    signage_confirmed = "2026-01-01"; }
);
users = ( { login = "$ME"; name = "Test DPO"; role = "dpo"; },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
cat >"$T/read.py" <<'EOF'
# Print "name{label=value,...} value" for every sample, sorted, as parsed.
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s %s{%s} %r" % (fam.type, s.name, labels, s.value))
EOF

"$VIGILD" -c "$T/vigil.conf" >>"$T/vigild.log" 2>&1 &
VIGILD_PID=$!
parsed() { $PY "$T/read.py" "$T/prom/vigil.prom" >"$T/m1" 2>"$T/err" && grep -q ' 1\.0$' "$T/m1"; }
recording() { parsed && grep -q '^gauge vigil_camera_recording{camera=synth-b} 1.0$' "$T/m1"; }
check "the metrics file appears and parses, both cameras recording" wait_for 60 recording
sed 's/^/# /' "$T/err"
value() { # value FILE SAMPLE: its value
	awk -v s="$2" '$2 == s { print $3 }' "$1"
}
f1=$(value "$T/m1" 'vigil_camera_frames_total{camera=synth-a}')
check "vigil_info names the site with its quote and backslash" \
	grep -qF 'vigil_info{device=vigil-' "$T/m1"
check "... exactly" grep -qF 'site=Block "B" \ east' "$T/m1"
for m in 'counter vigil_camera_frames_total{camera=synth-a}' \
	'counter vigil_camera_frames_dropped_total{camera=synth-b}' \
	'gauge vigil_camera_fps{camera=synth-a}' \
	'gauge vigil_camera_state{camera=synth-a,state=recording} 1.0' \
	'gauge vigil_camera_gap_seconds_last_24h{camera=synth-b}' \
	'gauge vigil_camera_gap_open{camera=synth-a} 0.0' \
	'gauge vigil_alarm{alarm=disk_full} 0.0' \
	'gauge vigil_alarm{alarm=clock_clamp}' \
	'gauge vigil_audit_witness_configured{} 0.0' \
	'gauge vigil_config_warnings{} 0.0'; do
	check "has $m" grep -qF "$m" "$T/m1"
done
# The disk figures come from the first retention sweep; it runs at start.
disk() { parsed && grep -q '^gauge vigil_disk_free_bytes{} [1-9]' "$T/m1"; }
check "disk size, free and reserve are there" wait_for 30 disk
size=$(value "$T/m1" 'vigil_disk_size_bytes{}')
free=$(value "$T/m1" 'vigil_disk_free_bytes{}')
reserve=$(value "$T/m1" 'vigil_disk_reserve_bytes{}')
check "... free ($free) at most the size ($size), a reserve ($reserve) kept" \
	$PY -c "import sys; sys.exit(0 if 0 < float('${free:-0}') <= float('${size:-0}') and float('${reserve:-0}') > 0 else 1)"
# Judged by what the source delivered, not the clock: the next file has
# more frames than the first.
moved() {
	$PY "$T/read.py" "$T/prom/vigil.prom" >"$T/m2" 2>/dev/null &&
		[ "$(value "$T/m2" 'vigil_camera_frames_total{camera=synth-a}' | cut -d. -f1)" -gt "${f1%.*}" ]
}
check "the file is rewritten and the frame counter goes up (from $f1)" wait_for 60 moved
ckpt=$(value "$T/m2" 'vigil_audit_last_checkpoint_age_seconds{}')
check "the last checkpoint's age is there and not negative ($ckpt)" \
	$PY -c "import sys; sys.exit(0 if 0 <= float('${ckpt:-x}') < 3600 else 1)"
rows=$(value "$T/m2" 'vigil_audit_rows{}')
audit_rows=$(sqlite3 -readonly "$T/data/audit.db" 'select max(seq) from audit' 2>/dev/null)
check "vigil_audit_rows ($rows) is no more than the log holds now ($audit_rows)" \
	[ "${rows%.*}" -gt 0 -a "${rows%.*}" -le "${audit_rows:-0}" ]
check "readable by node_exporter's user (mode $(stat -c %a "$T/prom/vigil.prom"))" \
	[ "$(stat -c %a "$T/prom/vigil.prom")" = 644 ]
check "no temporary file is left beside it" [ "$(ls "$T/prom")" = vigil.prom ]

# A config the collector would never read is refused, with what to do.
sed "s|metrics_file = .*|metrics_file = \"$T/prom/vigil.txt\";|" "$T/vigil.conf" >"$T/bad.conf"
out=$("$VIGILD" -n -c "$T/bad.conf" 2>&1)
check "metrics_file not ending in .prom is refused: $out" \
	sh -c "echo \"\$1\" | grep -q 'bad.conf:6: metrics_file must be an absolute path ending in .prom'" sh "$out"
kill -TERM "$VIGILD_PID"
wait "$VIGILD_PID"
VIGILD_PID=
exit "$FAILED"
