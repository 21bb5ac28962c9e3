# One verdict: `vigilctl config check` and `vigild -n` run the same
# function (vg_confcheck_file) and must agree on every config in the tree
# (tests/data/config, config/, board/) and on every config another
# end-to-end test wrote (judged by both as that test ended, while its
# folders still existed: tests/e2e-lib.sh, cleanup). They agree when
# config check exits 0 or 1 (clean, warnings) exactly when vigild -n
# exits 0, and 2 exactly when vigild -n exits 1; and both print the same
# findings.
#
# A file in tests/data/config may also say what the verdict must be:
#   # expect: refused          (or: runs)
#   # finding: 15: the largest size that fits is 40
# each finding a "FILE:LINE: ..." line both tools must print.
. tests/e2e-lib.sh
FAILED=0
make_tmp

if [ ! -x "$VIGILD" ] || [ ! -x "$VIGILCTL" ]; then
	skip "config verdicts ($VIGILD or $VIGILCTL not built)"
	exit 0
fi

verdict_of_check() { case $1 in 0 | 1) echo runs ;; 2) echo refused ;; *) echo "exit $1" ;; esac; }
verdict_of_n() { case $1 in 0) echo runs ;; 1) echo refused ;; *) echo "exit $1" ;; esac; }

for f in tests/data/config/*.conf config/*.conf board/*/vigil*.conf; do
	[ -f "$f" ] || continue
	"$VIGILCTL" config check "$f" >"$T/check.out" 2>&1
	a=$(verdict_of_check $?)
	"$VIGILD" -n -c "$f" >"$T/n.out" 2>&1
	b=$(verdict_of_n $?)
	if [ "$a" = "$b" ]; then
		ok "$f: config check and vigild -n agree ($a)"
	else
		notok "$f: config check says $a, vigild -n says $b"
		sed 's/^/# /' "$T/check.out" "$T/n.out"
	fi
	# The same findings, word for word (vigild -n adds only its summary).
	grep "^$f" "$T/check.out" | grep -v ': valid, \|: errors: vigild will not' >"$T/a"
	grep "^$f" "$T/n.out" | grep -v ': configuration OK \|: errors: vigild will not' >"$T/b"
	check "$f: both print the same $(wc -l <"$T/a") finding(s)" cmp -s "$T/a" "$T/b"
	want=$(sed -n 's/^# expect: //p' "$f")
	if [ -n "$want" ]; then
		check "$f: the verdict is '$want' ($a)" [ "$a" = "$want" ]
	fi
	sed -n 's/^# finding: \([0-9]*\): //p; ' "$f" >"$T/want"
	sed -n 's/^# finding: \([0-9]*\): .*/\1/p' "$f" >"$T/lines"
	paste -d '|' "$T/lines" "$T/want" | while IFS='|' read -r line text; do
		[ -n "$line" ] || continue
		if grep -F "$f:$line: " "$T/a" | grep -qF "$text"; then
			ok "$f:$line: says '$text'"
		else
			notok "$f:$line: does not say '$text'"
			sed 's/^/# /' "$T/a"
		fi
	done
done

# The configs the other end-to-end tests wrote, judged as they ended.
rec=$BUILD/e2e-configs/verdicts.txt
if [ -s "$rec" ]; then
	while read -r a b name; do
		if [ "$(verdict_of_check "$a")" = "$(verdict_of_n "$b")" ]; then
			ok "$name (written by an end-to-end test): both agree ($(verdict_of_n "$b"))"
		else
			notok "$name (written by an end-to-end test): config check exit $a, vigild -n exit $b"
		fi
	done <"$rec"
	rm -f "$rec"
else
	skip "configs written by the other end-to-end tests (none recorded: run make check)"
fi
exit 0
