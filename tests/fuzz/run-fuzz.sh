#!/bin/sh
# Run every fuzz harness in BUILD/fuzz/ for SECONDS each, from the seeds
# make_seeds writes (and the corpus earlier runs grew), and report execs
# per target and in total. Exits 1 if any harness reported anything (a
# crash, a sanitizer report, a leak, an abort in a harness's own check):
# its output and the input that caused it are kept in BUILD/fuzz/.
#   tests/fuzz/run-fuzz.sh BUILD SECONDS
set -u
B=${1:?build folder}
SECS=${2:?seconds per target}
F=$B/fuzz
mkdir -p "$F/seeds" "$F/corpus" "$F/logs"
"$F/make_seeds" "$F/seeds" >/dev/null || { echo "fuzz: make_seeds failed" >&2; exit 1; }
cp config/vigil.conf "$F/seeds/config/example.conf"
for c in tests/data/config/*.conf; do cp "$c" "$F/seeds/config/"; done
# Images that once hung or crashed the verifier, so every run tries them.
for i in tests/data/iso/*.iso; do cp "$i" "$F/seeds/iso/"; done
# leaks of the libraries' global state at exit are not vigil's
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$(pwd)/tests/fuzz/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
total=0
bad=0
for t in clip config frame request verify verify_iso; do
	case $t in
	verify_iso) seeds=$F/seeds/iso ;;
	*) seeds=$F/seeds/$t ;;
	esac
	mkdir -p "$F/corpus/$t"
	log=$F/logs/$t.log
	(cd "$F" && exec nice "./fuzz_$t" -max_total_time="$SECS" -print_final_stats=1 \
		-rss_limit_mb=2048 -timeout=25 -artifact_prefix="$t-" \
		"corpus/$t" "seeds/${seeds##*/}") >"$log" 2>&1
	rc=$?
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	n=${n:-0}
	total=$((total + n))
	if [ "$rc" != 0 ]; then
		bad=1
		echo "fuzz_$t: REPORT after $n execs (exit $rc) - see $log"
		grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | head -10
	else
		echo "fuzz_$t: $n execs in $SECS s, 0 reports"
	fi
done
echo "fuzz total: $total execs, $([ $bad = 0 ] && echo 0 reports || echo REPORTS FOUND)"
exit $bad
