# Shared helpers for the end-to-end tests (sourced, not run).
# Each check prints a TAP-style line that tests/run-tests.sh counts:
#   ok - WHAT / not ok - WHAT / skip - WHAT (WHY)
BUILD=${BUILD:-build}
VIGILD=$BUILD/vigild
VIGILCTL=$BUILD/vigilctl
CLIPVEC=$BUILD/tests/clipvec

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; FAILED=1; }
skip() { echo "skip - $*"; }
# tool_missing TOOL WHAT: a check cannot run because TOOL is not installed.
# scripts/install-deps.sh installs every tool a test calls, so in CI or as
# root (where it could install them) that is a failure of the set-up, never a
# quiet skip; elsewhere the check is skipped and the line says what to do.
tool_missing() {
	if [ "${CI:-}" = true ] || [ "$(id -u)" = 0 ]; then
		notok "$2 ($1 missing, which scripts/install-deps.sh installs: is it out of date?)"
	else
		skip "$2 ($1 missing: run scripts/install-deps.sh as root)"
	fi
}
check() { # check "what" command...: ok if the command succeeds
	what=$1
	shift
	if "$@"; then ok "$what"; else notok "$what"; fi
}

# wait_for SECONDS COMMAND...: poll a condition (not a fixed sleep) until it
# holds or the deadline passes; returns the condition's last status.
wait_for() {
	limit=$1
	shift
	end=$(($(date +%s) + limit))
	while ! "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
	return 0
}

make_tmp() {
	T=$(mktemp -d /tmp/vigil-e2e.XXXXXX)
	trap 'cleanup' EXIT
}

cleanup() {
	[ -n "${VIGILD_PID:-}" ] && kill -9 "$VIGILD_PID" 2>/dev/null
	record_verdicts
	[ -n "${T:-}" ] && rm -rf "$T"
}

# Every config a test wrote is judged by vigilctl config check and vigild -n
# while its folders still exist; tests/e2e/verdict.sh checks they agreed.
record_verdicts() {
	[ -n "${T:-}" ] && [ -x "$VIGILD" ] && [ -x "$VIGILCTL" ] || return 0
	for f in "$T"/*.conf; do
		[ -f "$f" ] || continue
		"$VIGILCTL" config check "$f" >/dev/null 2>&1
		a=$?
		"$VIGILD" -n -c "$f" >/dev/null 2>&1
		b=$?
		mkdir -p "$BUILD/e2e-configs"
		echo "$a $b $(basename "$0" .sh)/$(basename "$f")" >>"$BUILD/e2e-configs/verdicts.txt"
	done
}

# Ids of the finished (complete or recovered) clips of a camera; $VCTL is
# vigilctl with the test's config, purpose and reference.
clips_of() { # clips_of CONFIG CAMERA
	$VCTL clips --camera "$2" | awk 'NR > 1 && $11 != "recording" { print $1 }'
}

# coverage_holes CATALOG CAMERA TOLERANCE_US: the holes (as FROM..TO) in the
# camera's record, from its first clip's start to its last clip's end, that
# neither a clip nor a gap covers and that are longer than the tolerance,
# then their count on the last line (an open gap counts to the end of time).
# The queries run one after another: sqlite3 has no busy timeout, and the
# first reader of a catalog vigild has just left may have to rebuild its
# WAL index, which locks out a reader started beside it ("database is
# locked", seen once in CI).
coverage_holes() {
	_ch_first=$(sqlite3 "$1" "select min(start_us) from clips where camera = '$2'")
	_ch_last=$(sqlite3 "$1" "select max(end_us) from clips where camera = '$2'")
	{
		sqlite3 "$1" "select start_us, end_us from clips where camera = '$2'"
		sqlite3 "$1" "select from_us, coalesce(to_us, 9223372036854775807) from gaps
			      where camera = '$2'"
	} | tr '|' ' ' | sort -n | awk -v tol="$3" -v first="$_ch_first" -v last="$_ch_last" '
		$1 >= first && $1 < last && covered != "" && $1 > covered + tol {
			printf "%s..%s\n", covered, $1; n++
		}
		{ if (covered == "" || $2 > covered) covered = $2 }
		END { print n + 0 }'
}
