#!/bin/sh
# Run every unit test binary given on the command line, then every
# end-to-end script in tests/e2e/, and finish with "N passed, N failed".
#
# Unit tests are cmocka programs: their test cases are counted one by one
# from cmocka's summary lines. An end-to-end script counts its own checks by
# printing "ok - ..." / "not ok - ..." lines (TAP style) and may print
# "skip - ... (why)" for checks it cannot run here (e.g. needs root).
set -u
BUILD=${BUILD:-build}
export BUILD
passed=0
failed=0
skipped=0
log_dir=$BUILD/test-logs
mkdir -p "$log_dir"

for t in "$@"; do
	name=$(basename "$t")
	out=$log_dir/$name.log
	"$t" >"$out" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$out" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1	# crashed or failed outside a test case
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" != 0 ]; then
		echo "FAIL $name ($p passed, $f failed) - see $out"
		grep -E '^\[  (FAILED|  ERROR) \]|^\[  ERROR   \]|error:|Assert|failure' "$out" | head -20
	else
		echo "ok   $name ($p passed)"
	fi
done

for s in tests/e2e/*.sh; do
	[ -e "$s" ] || continue
	name=$(basename "$s" .sh)
	out=$log_dir/e2e-$name.log
	sh "$s" >"$out" 2>&1
	rc=$?
	p=$(grep -c '^ok - ' "$out")
	f=$(grep -c '^not ok - ' "$out")
	k=$(grep -c '^skip - ' "$out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "FAIL e2e/$name exited $rc without reporting a failed check"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + k))
	if [ "$f" != 0 ]; then
		echo "FAIL e2e/$name ($p passed, $f failed) - see $out"
		grep -E '^not ok - ' "$out" | head -20
		tail -n 30 "$out"
	else
		echo "ok   e2e/$name ($p passed${k:+, $k skipped})"
	fi
	grep '^skip - ' "$out" | sed 's/^/     /'
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
