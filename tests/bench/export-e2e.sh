#!/bin/sh
# export-e2e.sh - `make bench` (run-bench.sh): evidence export as the user
# sees it. The wall time of the `vigilctl export` command, timed from the
# shell (vigilctl's start, the connection, vigild's whole export with its
# read-back check, the reply), against cp + sync + sha256sum of the same
# clip files on the same filesystem: 5 alternating pairs (which goes first
# alternates), the page cache dropped before each run when we are root
# (said plainly when not), and the median of each compared.
#   BENCH_EXPORT_MB (default 200)   footage, MB
#   BENCH_EXPORT_PAIRS (default 5)
set -eu
BUILD=${BUILD:-build}
MB=${BENCH_EXPORT_MB:-200}
PAIRS=${BENCH_EXPORT_PAIRS:-5}
T=$(mktemp -d /tmp/vigil-bench-export-e2e.XXXXXX)
PID=
trap '{ [ -n "$PID" ] && kill "$PID"; wait; } 2>/dev/null || true; rm -rf "$T"' EXIT
mkdir -m 700 "$T/data"
# The socket in a folder of its own: vigild refuses to export into its
# runtime folder (the socket's) or anything beneath it, which $T would be.
mkdir "$T/usb" "$T/cp" "$T/run"

"$BUILD/tests/bench_export" --footage "$MB" "$T/data" >"$T/footage.txt"
bytes=$(du -sb "$T/data/clips" | cut -f1)
cat >"$T/vigil.conf" <<CONF
site = { name = "Benchmark"; address = "none"; area_manager = "$(id -un)"; contact = "none"; };
data_dir = "$T/data";
user = "$(id -un)";
socket = "$T/run/vigil.sock";
log_level = "warn";
cameras = ( { name = "cam"; device = "synthetic"; enabled = false; purpose = "benchmark";
  area = "none"; } );
users = ( { login = "$(id -un)"; name = "Bench DPO"; role = "dpo"; },
  { login = "test-auditor"; name = "Test Auditor"; role = "auditor"; } );
CONF
"$BUILD/vigild" -c "$T/vigil.conf" >"$T/vigild.log" 2>&1 &
PID=$!
VCTL="$BUILD/vigilctl -c $T/vigil.conf"
n=0
until $VCTL status >/dev/null 2>&1; do
	n=$((n + 1))
	if [ $n -gt 300 ] || ! kill -0 "$PID" 2>/dev/null; then
		echo "export-e2e: vigild did not start:" >&2
		cat "$T/vigild.log" >&2
		exit 1
	fi
	sleep 0.1
done

if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
	drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
	cold="page cache dropped before each run"
else
	drop() { sync; }
	cold="page cache NOT dropped (not root): reads may come from memory"
fi
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
baseline() {
	drop
	t=$(date +%s%N)
	mkdir "$T/cp/$1"
	cp -r "$T/data/clips" "$T/cp/$1/"
	sync
	find "$T/cp/$1" -type f -exec sha256sum {} + >/dev/null
	b=$(ms "$t")
	rm -rf "$T/cp/$1"
	sync
}
export_once() {
	drop
	t=$(date +%s%N)
	if ! $VCTL --purpose benchmark --reference "CRIME-$1" export --camera cam \
		--from -24h --to now --recipient police --organisation Bench \
		--dest "$T/usb" --force >"$T/export.out" 2>&1; then
		cat "$T/export.out" >&2
		exit 1
	fi
	e=$(ms "$t")
	rm -rf "$T/usb/CRIME-$1"
	sync
}

echo "== end-to-end export: 'vigilctl export' wall time vs cp + sync + sha256sum"
echo "   $((bytes / 1000000)) MB of clips, $PAIRS alternating pairs, $cold"
: >"$T/times"
i=1
while [ $i -le "$PAIRS" ]; do
	if [ $((i % 2)) = 1 ]; then
		baseline "$i"
		export_once "$i"
	else
		export_once "$i"
		baseline "$i"
	fi
	echo "pair $i: cp+sync+sha256sum $b ms, vigilctl export $e ms"
	echo "$b $e" >>"$T/times"
	i=$((i + 1))
done
sed -n 's/^  written, read back and checked in/   (vigild says: written, read back and checked in/p' "$T/export.out" |
	sed 's/$/)/'
median() { cut -d' ' -f"$1" "$T/times" | sort -n | sed -n "$(((PAIRS + 1) / 2))p"; }
mb_=$(median 1)
me_=$(median 2)
echo "median: cp+sync+sha256sum $mb_ ms, vigilctl export $me_ ms"
awk -v b="$mb_" -v e="$me_" 'BEGIN {
	printf "end-to-end export speed: %.2fx cp + sync + sha256sum (target >= 1.00)\n", b / e
}'
