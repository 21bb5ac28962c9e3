#!/bin/sh
# After `make asan`: the sanitizer reports the instrumented processes left
# in DIR (log_path files). ASan errors and UBSan runtime errors fail (exit
# 1), each printed with its report; leak reports are listed but do not
# fail (a daemon that abandons a stuck request at SIGTERM exits without
# freeing it; libraries keep global state).
#   tests/sanitizer-reports.sh DIR
set -u
DIR=${1:?folder of sanitizer reports}
bad=0
leaks=0
for f in "$DIR"/*; do
	[ -f "$f" ] || continue
	if grep -q -E 'ERROR: AddressSanitizer|runtime error:' "$f"; then
		echo "sanitizer report: $f"
		sed -n '1,40p' "$f"
		bad=1
	elif grep -q 'ERROR: LeakSanitizer' "$f"; then
		leaks=$((leaks + 1))
		echo "leak report (not failing): $f: $(grep -m1 SUMMARY "$f")"
	fi
done
echo "sanitizer reports: $([ $bad = 0 ] && echo "no errors" || echo "ERRORS FOUND"), $leaks leak report(s)"
exit $bad
