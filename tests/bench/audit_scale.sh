#!/bin/sh
# The audit log at scale (docs/performance.md, Audit log): a 1 000 000-row
# log made through the audit API, then vigild started on it (its start-up
# check verifies the whole chain before signing) and
# `vigilctl audit show --json` streaming every row to /dev/null.
#   BUILD=build tests/bench/audit_scale.sh [ROWS]
set -eu
BUILD=${BUILD:-build}
ROWS=${1:-1000000}
T=$(mktemp -d /tmp/vigil-bench-scale.XXXXXX)
trap 'kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
PID=
mkdir "$T/data"
"$BUILD/tests/bench_audit" "$ROWS" "$T/data" 0 keep
ME=$(id -un)
cat >"$T/vigil.conf" <<CONF
site = { name = "Bench Court"; address = "1 Bench Street"; area_manager = "$ME";
         contact = "dpo@example.org"; };
data_dir = "$T/data";
socket = "$T/vigil.sock";
user = "$ME";
defaults = { width = 160; height = 120; fps = 5; preset = "ultrafast"; };
cameras = ( { name = "hall"; device = "synthetic"; purpose = "bench"; area = "hall"; } );
users = ( { login = "$ME"; name = "Auditor"; role = "auditor"; },
          { login = "bench-dpo"; name = "DPO"; role = "dpo"; } );
CONF
t0=$(date +%s.%N)
"$BUILD/vigild" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
PID=$!
until "$BUILD/vigilctl" -c "$T/vigil.conf" status >/dev/null 2>&1; do sleep 0.05; done
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v n="$ROWS" 'BEGIN { printf "vigild start to first answer on a %d-row log: %.2f s\n", n, b - a }'
cpu() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }	# vigild's CPU ticks
k0=$(cpu)
t0=$(date +%s.%N)
n=$("$BUILD/vigilctl" -c "$T/vigil.conf" audit show --json | grep -c '"seq"')
t1=$(date +%s.%N)
k1=$(cpu)
awk -v a="$t0" -v b="$t1" -v n="$n" -v k="$((k1 - k0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
	printf "vigilctl audit show --json: %d rows in %.2f s = %.0f rows/s (vigild %.2f CPU-s)\n",
		n, b - a, n / (b - a), k / hz }'
