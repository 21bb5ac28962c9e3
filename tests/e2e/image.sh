#!/bin/sh
# End-to-end: the qemu-x86_64 board image, booted under qemu with Debian's
# kernel, captures from vivid (the kernel's virtual V4L2 camera driver), and
# vigild records from it. Results come back through a 9p shared folder and
# are judged here, on the host, with standard tools (ffprobe) and clipvec.
#
# Runs only as root or with CI=true (the image build may need to install
# qemu and fetch the kernel package); otherwise every check is skipped.
# TAP-style lines: "ok - ...", "not ok - ...", "skip - ... (why)"; a check
# vigild is known to fail (see KNOWN below) is "not ok - ... # TODO ..." and
# does not fail the run.
# Boots: frames (vivid alone), record, disconnect, nv12 (NV12 at a size and
# rate vivid does not offer), faults (unbind/bind and vivid's error injection
# in one recording); about 3 minutes in all.
#
# vigild is judged by what the driver delivered, never by the wall clock: a
# guest starved of CPU (software emulation on a busy host) gets fewer frames
# from vivid, and vivid says so by the gaps in v4l2_buffer.sequence. vigild
# logs, at each close of the camera, what the driver delivered, skipped and
# flagged, and at stop what its pipeline received, encoded and lost; every
# recording must hold exactly the frames the driver delivered (flagged ones
# excepted), none lost by vigild. (A test build that loses one frame in 50,
# make CFLAGS='-O2 -g -DVG_TEST_DROP_ONE_IN=50', shows these checks fail.)
# Environment: BUILD (default build), BOARD (default qemu-x86_64),
# VIGIL_IMAGE_SECONDS (record and disconnect length, default 20),
# VIGIL_IMAGE_KEEP=1 (keep the work folder: consoles, vigild.log, the
# encrypted clips), VIGIL_IMAGE_KNOWN (the known-bug keys; "" counts them all).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) build=$BUILD ;;
*) build=$top/$BUILD ;;
esac
board=${BOARD:-qemu-x86_64}
bdir=$top/board/$board
img=$build/board/$board/image
secs=${VIGIL_IMAGE_SECONDS:-20}
fps=15
segment=10

FRAMES_CHECKS="qemu image boots, loads vivid and powers off by itself
vivid delivers frames through the real V4L2 driver
vivid honours the frame rate set with S_PARM (15 fps)"
RECORD_CHECKS="vigild recording under qemu: YUYV, NV12, disconnect, unbind/bind, injected errors"

skip_all() {
	echo "skip - board image builds ($1)"
	echo "$FRAMES_CHECKS" | while read -r c; do echo "skip - $c ($1)"; done
	echo "skip - $RECORD_CHECKS ($1)"
	exit 0
}

if [ "$board" != qemu-x86_64 ]; then
	skip_all "board $board is not booted under qemu"
fi
if [ "$(id -u)" != 0 ] && [ "${CI:-}" != true ]; then
	skip_all "needs root to install qemu and the kernel package; runs in CI"
fi
case "${BUILD:-build}" in
*asan*)	# frame-exact checks cannot hold with sanitizer slowdown under TCG
	skip_all "the sanitizer build is too slow for real-time capture under software emulation; make check runs it" ;;
esac

work=$(mktemp -d /tmp/vigil-image.XXXXXX)
if [ -n "${VIGIL_IMAGE_KEEP:-}" ]; then
	echo "# keeping $work (consoles, vigild.log, clips) for inspection"
else
	trap 'rm -rf "$work"' EXIT INT TERM
fi
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }

# Show the end of a log, for a failed check.
show() {
	[ -f "$1" ] || return 0
	echo "# --- last lines of $(basename "$1") ---"
	tail -n "${2:-25}" "$1" | sed 's/^/# /'
}

# Boot the image once: boot NAME KERNEL-ARGS... -> share in $work/NAME,
# console in $work/NAME.console, seconds the run took in $run_secs.
boot() {
	name=$1
	shift
	mkdir -p "$work/$name"
	t0=$(date +%s)
	sh "$bdir/run-qemu.sh" "$img" "$work/$name" "$work/$name.console" "$@" \
		>"$work/$name.qemu" 2>&1
	qrc=$?
	run_secs=$(($(date +%s) - t0))
	return $qrc
}

# --- build -----------------------------------------------------------------
if BUILD=$build sh "$bdir/build-image.sh" "$img" >"$work/build.log" 2>&1; then
	ok "board image builds ($board, kernel $(cat "$img/kernel-version"))"
else
	notok "board image builds ($board)"
	show "$work/build.log"
	echo "$FRAMES_CHECKS" | while read -r c; do echo "skip - $c (no image)"; done
	echo "skip - $RECORD_CHECKS (no image)"
	exit 1
fi

# --- vivid, without vigild --------------------------------------------------
boot frames vigil.test=frames
qrc=$?
s=$work/frames
if [ "$qrc" = 0 ] && [ "$(cat "$s/guest.rc" 2>/dev/null)" = 0 ] &&
   grep -q '/dev/video0' "$work/frames.console"; then
	ok "qemu image boots, loads vivid and powers off by itself ($run_secs s;" \
		"$(sed -n 's/.*vigil-board: \(up in [0-9.]* s\).*/guest \1/p' "$work/frames.console"))"
else
	notok "qemu image boots, loads vivid and powers off by itself (qemu exit $qrc," \
		"guest test exit $(cat "$s/guest.rc" 2>/dev/null || echo none))"
	show "$work/frames.qemu"
	show "$work/frames.console" 40
fi

want=$((30 * 640 * 480 * 2))
got=$(tr -d ' ' 2>/dev/null <"$s/frames.bytes")
if [ "$(cat "$s/v4l2-ctl.rc" 2>/dev/null)" = 0 ] && [ "${got:-0}" = "$want" ] &&
   grep -q "640/480" "$s/fmt.txt" && grep -q "'YUYV'" "$s/fmt.txt"; then
	ok "vivid delivers frames through the real V4L2 driver (30 x 640x480 YUYV = $got bytes)"
else
	notok "vivid delivers frames through the real V4L2 driver (got ${got:-no} bytes, want $want)"
	show "$s/fmt.txt"
	show "$work/frames.console" 40
fi

# 30 frames take 2.0 s at 15 fps; at vivid's initial 5 fps they would take 6 s.
cs=$(cat "$s/frames.cs" 2>/dev/null || echo 0)
if [ "$cs" -ge 170 ] && [ "$cs" -le 450 ] && grep -q '15.000 (15/1)' "$s/parm.txt"; then
	ok "vivid honours the frame rate set with S_PARM (15 fps): 30 frames in $cs cs"
else
	notok "vivid honours the frame rate set with S_PARM (15 fps): 30 frames in $cs cs" \
		"(expected 170-450)"
	show "$s/parm.txt"
fi

# --- vigild recording ---------------------------------------------------------
if [ ! -x "$build/vigild" ]; then
	echo "skip - $RECORD_CHECKS (build/vigild not built)"
	[ "$fails" = 0 ]
	exit
fi
if [ ! -x "$build/tests/clipvec" ]; then
	echo "skip - $RECORD_CHECKS (build/tests/clipvec not built)"
	[ "$fails" = 0 ]
	exit
fi
if ! command -v sqlite3 >/dev/null; then
	# install-deps.sh installs it, and this test runs only as root or in CI.
	notok "$RECORD_CHECKS (sqlite3 missing, which scripts/install-deps.sh installs)"
	exit 1
fi

# What a recording's vigild.log says was delivered and kept:
# "DELIVERED SKIPPED FLAGGED FROM_SOURCE SOURCE_SKIPPED ENCODED LOST", summed
# over every close of the camera (the driver's counts, by its sequence
# numbers) and every stop of the camera's pipeline.
frame_counts() {
	awk '
	/closed: the driver delivered/ {
		for (i = 1; i <= NF; i++) {
			if ($i == "delivered") d += $(i + 1)
			if ($i == "skipped") k += $(i + 1)
			if ($i == "flagged") f += $(i + 1)
		}
		closes++
	}
	/vivid: stopped: .* frames from the source/ {
		for (i = 1; i <= NF; i++) {
			if ($i == "stopped:") x += $(i + 1)
			if ($i == "more") s += substr($(i - 1), 2)
			if ($i == "encoded") e += $(i - 1)
			if ($i == "lost") l += $(i - 1)
		}
		stops++
	}
	END { printf "%d %d %d %d %d %d %d %d %d\n", d, k, f, x, s, e, l, closes, stops }
	' "$1"
}

# account LABEL SHARE CLIP_FRAMES: vigild lost none of the frames the driver
# delivered, and the clips hold exactly those (by ffprobe's count).
account() {
	set -- "$1" "$2" "$3" $(frame_counts "$2/vigild.log")
	al=$1 as=$2 cf=$3 d=$4 k=$5 f=$6 x=$7 sk=$8 e=$9
	shift 9	# $1.. are the counts now; the share is $as
	l=$1 closes=$2 stops=$3
	usable=$((d - f))
	if [ "$closes" -gt 0 ] && [ "$stops" -gt 0 ] && [ "$d" -gt 0 ] && [ "$l" = 0 ] &&
	   [ "$x" = "$usable" ] && [ "$e" = "$x" ] && [ "$sk" = $((k + f)) ]; then
		ok "$al: vigild lost none of the $usable frames the driver delivered" \
			"($k skipped by the driver, by the gaps in v4l2_buffer.sequence; $f flagged" \
			"corrupt; $x received, $e encoded)"
	else
		notok "$al: vigild lost none of the frames the driver delivered (driver: $d" \
			"delivered, $k skipped, $f flagged, in $closes session(s); pipeline: $x" \
			"received, $sk skipped, $e encoded, $l lost, in $stops stop(s))"
		grep -E 'closed: the driver|stopped: ' "$as/vigild.log" | sed 's/^/# /'
	fi
	if [ "$d" -gt 0 ] && [ "$cf" = "$usable" ]; then
		ok "$al: the clips hold exactly the $cf frames the driver delivered"
	else
		notok "$al: the clips hold $cf frames; the driver delivered $usable usable ones"
	fi
}

# The catalog of a finished run, read-only with the sqlite3 CLI (vigilctl
# asks a running daemon, and none runs on this side).
catalog_clips() {
	sqlite3 -readonly -separator ' ' "$1/data/catalog.db" \
		"SELECT id, start_us, end_us, frames, state, lower(hex(wrapped_key)), path FROM clips
		 WHERE camera = 'vivid' ORDER BY start_us" 2>>"$work/sqlite.err"
}

boot record vigil.test=record "vigil.seconds=$secs"
qrc=$?
s=$work/record
vrc=$(cat "$s/vigild.rc" 2>/dev/null || echo none)
if [ "$qrc" = 0 ] && [ "$vrc" = 0 ]; then
	ok "vigild records $secs s from vivid under qemu and exits 0 on SIGTERM ($run_secs s)"
else
	notok "vigild records $secs s from vivid under qemu and exits 0 on SIGTERM" \
		"(qemu exit $qrc, vigild exit $vrc)"
	show "$s/vigild.log" 40
	show "$work/record.console" 30
fi

key=$s/data/master.key
if [ -s "$key" ]; then
	ok "vigild created its master key on first start ($(wc -c <"$key") bytes)"
else
	notok "vigild created its master key on first start (no $key)"
fi

catalog_clips "$s" >"$work/clips.tab"
n=$(wc -l <"$work/clips.tab")
open=$(awk '$5 != "complete"' "$work/clips.tab" | wc -l)
# The segmenter cuts every segment_seconds: all clips but the last are full.
# (The guest records secs from vigild's first picture, plus the moments
# SIGTERM takes: one more, short, clip may start.)
want_clips=$(((secs + segment - 1) / segment + 1))
if [ "$n" -ge $((want_clips - 2)) ] && [ "$n" -le "$want_clips" ] && [ "$n" -gt 0 ] &&
   [ "$open" = 0 ]; then
	ok "the catalog lists $n complete clip(s) for $secs s at segment_seconds=$segment"
else
	notok "the catalog lists $((want_clips - 2))-$want_clips complete clip(s) for $secs s" \
		"at segment_seconds=$segment (got $n, $open not complete)"
	show "$work/clips.tab"
	show "$work/sqlite.err"
	show "$s/vigild.log" 40
fi

frame_us=$((1000000 / fps))
# A join may be as far apart as the frames the driver skipped there allow:
# one interval, plus one for each frame it skipped in the recording.
skipped=$(frame_counts "$s/vigild.log" | cut -d ' ' -f 2)
join_us=$((frame_us * (1 + ${skipped:-0})))
total=0
i=0
prev_end=
joins_bad=""
cuts_bad=""
while read -r _ start end cframes _ wk file; do
	i=$((i + 1))
	clip=$s/data/$file
	len_us=$((end - start))
	len=$(awk -v u="$len_us" 'BEGIN { printf "%.2f", u / 1e6 }')
	if ! "$build/tests/clipvec" check "$key" "$wk" "$clip" >"$work/check.out" 2>&1; then
		notok "clip $i ($(basename "$file")) verifies with clipvec check"
		show "$work/check.out"
		continue
	fi
	# Plaintext only ever flows through the pipe, never to a file.
	info=$("$build/tests/clipvec" decrypt "$key" "$wk" "$clip" 2>"$work/decrypt.err" |
		ffprobe -v error -count_frames -select_streams v:0 \
			-show_entries stream=codec_name,width,height,nb_read_frames \
			-of csv=p=0 - 2>"$work/ffprobe.err")
	codec=$(echo "$info" | cut -d , -f 1)
	w=$(echo "$info" | cut -d , -f 2)
	h=$(echo "$info" | cut -d , -f 3)
	frames=$(echo "$info" | cut -d , -f 4)
	case $frames in '' | *[!0-9]*) frames=0 ;; esac
	total=$((total + frames))
	if [ "$codec" = h264 ] && [ "$w" = 640 ] && [ "$h" = 480 ] && [ "$frames" = "$cframes" ]; then
		ok "clip $i decrypts and plays as catalogued: h264 640x480, $frames frames"
	else
		notok "clip $i decrypts and plays as catalogued: h264 640x480, $cframes frames" \
			"(ffprobe: '$info')"
		show "$work/decrypt.err"
		show "$work/ffprobe.err"
	fi
	# No more frames than the clip's length (by the driver's timestamps)
	# allows at the configured rate; fewer is the driver's to explain (its
	# sequence gaps), which the accounting below checks, not the clock.
	expect=$(((len_us * fps + 500000) / 1000000))
	if [ "$frames" -gt 0 ] && [ "$frames" -le $((expect + 1)) ]; then
		ok "clip $i holds $frames frames for $len s at $fps fps (at most $expect +1)"
	else
		notok "clip $i holds $frames frames for $len s at $fps fps (1 to $expect +1)"
	fi
	# Every clip but the last (cut by SIGTERM) is segment_seconds long.
	if [ "$i" -lt "$n" ] && { [ "$len_us" -lt $((segment * 1000000 - frame_us)) ] ||
	   [ "$len_us" -gt $((segment * 1000000 + frame_us)) ]; }; then
		cuts_bad="$cuts_bad clip $i: $len s;"
	fi
	# Consecutive clips join up: start and previous end within one frame interval.
	if [ -n "$prev_end" ]; then
		gap=$((start - prev_end))
		if [ "$gap" -lt $((-frame_us)) ] || [ "$gap" -gt "$join_us" ]; then
			joins_bad="$joins_bad before clip $i: $gap us;"
		fi
	fi
	prev_end=$end
done <"$work/clips.tab"

if [ "$n" -gt 1 ]; then
	if [ -z "$cuts_bad" ]; then
		ok "clips are cut every $segment s (+-1 frame), the last at SIGTERM"
	else
		notok "clips are cut every $segment s (+-1 frame), the last at SIGTERM:$cuts_bad"
		show "$work/clips.tab"
	fi
	if [ -z "$joins_bad" ]; then
		ok "consecutive clips join up (within one frame interval, plus one per frame" \
			"the driver skipped: $skipped)"
	else
		notok "consecutive clips join up (within one frame interval):$joins_bad"
		show "$work/clips.tab"
	fi
fi

# Every frame vivid delivered is in a clip: judged by the driver's own
# count and sequence numbers, not by how long the recording took.
account record "$s" "$total"

# --- vivid disconnects mid-recording ------------------------------------------
# vivid's "disconnect" control makes the driver behave as an unplugged camera
# (poll reports POLLERR|POLLHUP, DQBUF fails with ENODEV); it reconnects only
# once every handle is closed and its buffers unmapped, so recording resumes
# only if vigild lets go of the device and opens it again.
boot disconnect vigil.test=disconnect "vigil.seconds=$secs"
qrc=$?
s=$work/disconnect
vrc=$(cat "$s/vigild.rc" 2>/dev/null || echo none)
if [ "$qrc" = 0 ] && [ "$vrc" = 0 ] && grep -qi 'camera lost' "$s/vigild.log"; then
	ok "vivid disconnect mid-recording: vigild logs the loss and exits 0 on SIGTERM" \
		"($(grep -i -m 1 'camera lost' "$s/vigild.log" | cut -c 26-))"
else
	notok "vivid disconnect mid-recording: vigild logs the loss and exits 0 on SIGTERM" \
		"(qemu exit $qrc, vigild exit $vrc)"
	show "$s/vigild.log" 40
	show "$work/disconnect.console" 30
fi

sqlite3 -readonly -separator ' ' "$s/data/catalog.db" \
	"SELECT from_us, to_us, reason FROM gaps WHERE camera = 'vivid' ORDER BY from_us" \
	>"$work/gaps.tab" 2>>"$work/sqlite.err"
catalog_clips "$s" >"$work/clips-disc.tab"
dutc=$(cat "$s/disconnect.utc" 2>/dev/null || echo 0)
# The first gap that starts within 2 s of the disconnect: "from_us to_us".
gap=$(while read -r gfrom gto _; do
	f=$((gfrom / 1000000))
	if [ $((f - dutc)) -le 2 ] && [ $((dutc - f)) -le 2 ]; then
		echo "$gfrom $gto"
		break
	fi
done <"$work/gaps.tab")
if [ -n "$gap" ]; then
	gfrom=${gap% *}
	gto=${gap#* }
	ok "the catalog records the disconnect as a gap ($(date -u -d "@$((gfrom / 1000000))" +%T)," \
		"$(((gto - gfrom) / 1000)) ms)"
else
	notok "the catalog records the disconnect (at $(date -u -d "@$dutc" +%T)) as a gap"
	show "$work/gaps.tab"
	gto=
fi

# Frames recorded after the gap: every frame vivid delivered once reopened
# (the sessions after the first close), and some (by the driver's count,
# not the clock: a starved guest delivers fewer).
# The clips of the sessions after the gap are those ending after it began:
# a reopened device's first picture may come sooner than the last clip's
# nominal end (its last picture plus one frame interval), so such a clip
# can start a few ms before the gap's recorded end.
after=0
if [ -n "$gto" ]; then
	after=$(awk -v t="$gfrom" '$3 > t { n += $4 } END { print n + 0 }' "$work/clips-disc.tab")
fi
want=$(awk '/closed: the driver delivered/ {
		for (i = 1; i <= NF; i++) {
			if ($i == "delivered") d = $(i + 1)
			if ($i == "flagged") f = $(i + 1)
		}
		if (n++) sum += d - f
	} END { print sum + 0 }' "$s/vigild.log")
if [ "$want" -gt 0 ] && [ "$after" = "$want" ]; then
	ok "recording resumes after the disconnect: $after frames in clips after the gap," \
		"all that vivid delivered once reopened"
else
	notok "recording resumes after the disconnect: $after frames in clips after the gap," \
		"vivid delivered $want once reopened"
	show "$work/clips-disc.tab"
	show "$s/vigild.log" 40
fi
disc_total=$(awk '{ n += $4 } END { print n + 0 }' "$work/clips-disc.tab")
account disconnect "$s" "$disc_total"

# --- helpers for the runs below -------------------------------------------------
# A check the issue asks for that vigild does not meet yet, found by these
# tests and reported: printed as TAP "not ok ... # TODO ...", not counted as a
# failure. Delete the name from KNOWN once vigild is fixed.
KNOWN=${VIGIL_IMAGE_KNOWN-""}
notok_known() {
	key=$1
	shift
	case " $KNOWN " in
	*" ${key:-(none)} "*) echo "not ok - $* # TODO known vigild bug ($key)" ;;
	*) notok "$*" ;;
	esac
}

# vigild.log with each line's time as UTC milliseconds in front:
# "MS LINE" (the log's own stamps are ISO 8601 UTC, e.g. 2026-...T05:37:57.004Z).
log_ms() {
	while read -r stamp rest; do
		ms=$(date -u -d "$stamp" +%s%3N 2>/dev/null) || continue
		echo "$ms $stamp $rest"
	done <"$1"
}

# The first log line matching the extended regex RE within FROM_MS-TO_MS:
# log_between MSLOG FROM_MS TO_MS RE
log_between() {
	awk -v a="$2" -v b="$3" -v re="$4" '$1 >= a && $1 <= b && $0 ~ re { $1 = ""; print; exit }' "$1"
}

# Check every clip of a run: clipvec check, then decrypt | ffprobe says h264,
# WxH and the catalogued frame count, and the clip holds its catalogued length
# at NUM/DEN fps (+-1 frame). One TAP line per clip.
# check_clips SHARE CLIPS.TAB W H NUM DEN LABEL; sets clips_ok, clips_frames.
check_clips() {
	cs=$1 tab=$2 cw=$3 ch=$4 fnum=$5 fden=$6 label=$7
	clips_ok=0
	clips_frames=0
	ci=0
	while read -r _ start end cframes cstate wk file; do
		ci=$((ci + 1))
		clip=$cs/data/$file
		len_us=$((end - start))
		len=$(awk -v u="$len_us" 'BEGIN { printf "%.2f", u / 1e6 }')
		if ! "$build/tests/clipvec" check "$cs/data/master.key" "$wk" "$clip" \
			>"$work/check.out" 2>&1; then
			notok "$label clip $ci ($cstate) verifies with clipvec check"
			show "$work/check.out"
			continue
		fi
		info=$("$build/tests/clipvec" decrypt "$cs/data/master.key" "$wk" "$clip" \
			2>"$work/decrypt.err" |
			ffprobe -v error -count_frames -select_streams v:0 \
				-show_entries stream=codec_name,width,height,nb_read_frames \
				-of csv=p=0 - 2>"$work/ffprobe.err")
		cframes_got=$(echo "$info" | cut -d , -f 4)
		case $cframes_got in '' | *[!0-9]*) cframes_got=0 ;; esac
		clips_frames=$((clips_frames + cframes_got))
		# At most the clip's length at the rate (+1); fewer is the
		# driver's skips, which account checks by sequence numbers.
		expect=$(((len_us * fnum / fden + 500000) / 1000000))
		if [ "$cstate" = complete ] && [ "$info" = "h264,$cw,$ch,$cframes" ] &&
		   [ "$cframes_got" -gt 0 ] && [ "$cframes_got" -le $((expect + 1)) ]; then
			ok "$label clip $ci decrypts and plays: h264 ${cw}x$ch, $cframes_got frames" \
				"for $len s at $fnum/$fden fps (at most $expect +1)"
			clips_ok=$((clips_ok + 1))
		else
			notok "$label clip $ci ($cstate) decrypts and plays: h264 ${cw}x$ch," \
				"$cframes frames as catalogued, 1 to $expect +1 for $len s at $fnum/$fden fps" \
				"(ffprobe: '$info')"
			show "$work/decrypt.err"
			show "$work/ffprobe.err"
		fi
	done <"$tab"
}

# --- NV12 at a size and rate vivid does not offer ---------------------------------
# vigil-nv12.conf asks for NV12 at 600x400, 12 fps. What vivid grants for that
# is asked in the guest with v4l2-ctl first (nv12-grant.txt); vigild must log
# both its request and that grant, and the clips must be that size, at that rate.
nsecs=16
boot nv12 vigil.test=nv12 "vigil.seconds=$nsecs"
qrc=$?
s=$work/nv12
vrc=$(cat "$s/vigild.rc" 2>/dev/null || echo none)
gw=$(sed -n 's|.*Width/Height *: *\([0-9]*\)/\([0-9]*\).*|\1|p' "$s/nv12-grant.txt" 2>/dev/null)
gh=$(sed -n 's|.*Width/Height *: *\([0-9]*\)/\([0-9]*\).*|\2|p' "$s/nv12-grant.txt" 2>/dev/null)
gfps=$(sed -n 's|.*Frames per second: [0-9.]* (\([0-9]*/[0-9]*\)).*|\1|p' "$s/nv12-grant.txt" \
	2>/dev/null)
if [ "$qrc" = 0 ] && [ "$vrc" = 0 ] && [ -n "$gw" ] && [ -n "$gfps" ] &&
   grep -q "'NV12'" "$s/nv12-grant.txt"; then
	ok "vigild records NV12 from vivid and exits 0 on SIGTERM ($run_secs s; v4l2-ctl:" \
		"600x400 at 12 fps is granted as ${gw}x$gh at $gfps fps)"
else
	notok "vigild records NV12 from vivid and exits 0 on SIGTERM (qemu exit $qrc," \
		"vigild exit $vrc, v4l2-ctl grant '${gw:-?}x${gh:-?} ${gfps:-?}')"
	show "$s/nv12-grant.txt"
	show "$s/vigild.log" 30
	show "$work/nv12.console" 30
	gw=${gw:-0} gh=${gh:-0} gfps=${gfps:-1/1}
fi
line=$(grep -m 1 'the driver granted' "$s/vigild.log" 2>/dev/null)
if echo "$line" | grep -q "asked for 600x400@12/1, the driver granted ${gw}x$gh@$gfps" &&
   grep -q "recording from .* nv12 ${gw}x$gh" "$s/vigild.log"; then
	ok "vigild logs what it asked for and what the driver granted (${line#*: vivid: })"
else
	notok "vigild logs what it asked for (600x400@12/1) and what the driver granted" \
		"(${gw}x$gh@$gfps): '${line:-no such line}'"
	show "$s/vigild.log" 30
fi
catalog_clips "$s" >"$work/clips-nv12.tab"
n=$(wc -l <"$work/clips-nv12.tab")
if [ "$n" -gt 0 ]; then
	check_clips "$s" "$work/clips-nv12.tab" "$gw" "$gh" "${gfps%/*}" "${gfps#*/}" NV12
	account NV12 "$s" "$clips_frames"
else
	notok "NV12 clips: the catalog lists none"
	show "$work/sqlite.err"
fi

# --- a USB-unplug-like rebind and vivid's error injection, in one run ---------------
# vigil-bypath.conf names the camera by /dev/v4l/by-path/platform-vivid.0-video-index0;
# busybox has no udev, so the guest makes that link and re-points it after the
# rebind, as udev would. One recording; a sixth of the way in vivid is unbound
# from its driver (the node disappears) and bound again 2 s later, then every
# sixth: inject_vidioc_qbuf_error, inject_v4l2_buf_flag_error,
# inject_vidioc_streamon_error with inject_fatal_streaming_error (the restart's
# STREAMON fails), and 10 QBUF errors in 2 s; SIGTERM 6 s later. faults.tab
# says when each started (UTC, to the second).
fsecs=40
boot faults vigil.test=faults "vigil.seconds=$fsecs"
qrc=$?
s=$work/faults
vrc=$(cat "$s/vigild.rc" 2>/dev/null || echo none)
nf=$(grep -c . "$s/faults.tab" 2>/dev/null || echo 0)
if [ "$qrc" = 0 ] && [ "$vrc" = 0 ] && [ "$nf" = 8 ] &&
   awk '$1 != "qbuf_burst" && $3 != 0 { bad = 1 } END { exit bad }' "$s/faults.tab"; then
	ok "vigild records through unbind/bind and vivid's injected errors and exits 0 on" \
		"SIGTERM ($run_secs s; $(awk '{ printf "%s%s", s, $1; s = ", " }' "$s/faults.tab"))"
else
	notok "vigild records through unbind/bind and vivid's injected errors and exits 0 on" \
		"SIGTERM (qemu exit $qrc, vigild exit $vrc, $nf of 8 steps done)"
	show "$s/faults.tab"
	show "$s/vigild.log" 40
	show "$work/faults.console" 30
fi
# The checks below need every step's time; without them one line says why.
if [ "$nf" != 8 ]; then
	notok "unbind/bind and injected-error checks (faults.tab has $nf of 8 steps)"
else
	log_ms "$s/vigild.log" >"$work/faults.logms"
	sqlite3 -readonly -separator ' ' "$s/data/catalog.db" \
		"SELECT from_us, to_us, reason FROM gaps WHERE camera = 'vivid' ORDER BY from_us" \
		>"$work/gaps-faults.tab" 2>>"$work/sqlite.err"
	catalog_clips "$s" >"$work/clips-faults.tab"
	# When a step was done, in UTC ms (to the second: busybox date has no %N).
	# (mawk prints large numbers as 1.8e+12: cut the digits off as text instead.)
	fault_ms() {
		us=$(awk -v f="$1" '$1 == f { print $2; exit }' "$s/faults.tab" 2>/dev/null)
		[ -n "$us" ] && echo "${us%???}"
	}
	# The first gap starting within 2 s of MS: "from_us to_us", or nothing.
	gap_near() {
		awk -v t="$1" '{ d = $1 / 1000 - t } d >= -2000 && d <= 3000 { print $1, $2; exit }' \
			"$work/gaps-faults.tab"
	}
	# Microseconds of FROM_US-TO_US that clips cover.
	covered_us() {
		awk -v a="$1" -v b="$2" '{ s = $2 > a ? $2 : a; e = $3 < b ? $3 : b; if (e > s) c += e - s }
			END { printf "%.0f\n", c }' "$work/clips-faults.tab"
	}
	# Recording resumes after a fault: clips cover (all but 200 ms of) the time from
	# RESUME_S seconds after it to the next step. resumes NAME NEXT RESUME_S DESC [KNOWNKEY]
	resumes() {
		t=$(fault_ms "$1")
		nx=$(fault_ms "$2")
		if [ -z "$t" ] || [ -z "$nx" ]; then
			notok "$4: recording resumes (no time for $1 or $2 in faults.tab)"
			return
		fi
		# The step's time is known to the second (it happened within
		# [t, t + 1 s)): the window starts RESUME_S after that second.
		a=$(((t + 1000 + $3 * 1000) * 1000))
		b=$((nx * 1000))
		c=$(covered_us "$a" "$b")
		# Within 200 ms: clips that follow each other join within a frame.
		if [ "$c" -ge $((b - a - 200000)) ]; then
			ok "$4: recording resumes within $3 s (clips cover $((c / 1000)) of the" \
				"$(((b - a) / 1000)) ms before the next step)"
		else
			notok_known "${5:-}" "$4: recording resumes within $3 s (clips cover" \
				"only $((c / 1000)) of the $(((b - a) / 1000)) ms before the next step)"
			show "$work/clips-faults.tab"
			show "$s/vigild.log" 15
		fi
	}
	# logged NAME RE DESC [KNOWNKEY]: vigild logs RE within -1..+3 s of step NAME.
	logged() {
		t=$(fault_ms "$1")
		l=$(log_between "$work/faults.logms" $((t - 1000)) $((t + 4000)) "$2")
		if [ -n "$t" ] && [ -n "$l" ]; then
			ok "$3: vigild logs it ($(echo "$l" | cut -c 27-))"
		else
			notok_known "${4:-}" "$3: vigild logs it (no line matching '$2'" \
				"within 4 s)"
			show "$s/vigild.log" 15
		fi
	}

	# 1. unbind/bind: the node goes away (open: ENOENT) and comes back.
	logged unbind 'camera lost' "vivid unbound mid-recording"
	if log_between "$work/faults.logms" "$(fault_ms unbind)" "$(fault_ms bind)" \
		'No such file|no such device' | grep -q .; then
		ok "vivid unbound: vigild finds the node gone (ENOENT) and keeps trying"
	else
		notok "vivid unbound: vigild finds the node gone (ENOENT) and keeps trying"
		show "$s/vigild.log" 15
	fi
	back=$(head -n 1 "$s/rebind.txt" 2>/dev/null)
	if [ "$back" = /dev/video0 ]; then
		ok "vigild let go of the device at once: after bind vivid is /dev/video0 again"
	else
		notok "vigild let go of the device at once: after bind vivid is ${back:-?}, not" \
			"/dev/video0 (a handle or mapping was still held)"
	fi
	g=$(gap_near "$(fault_ms unbind)")
	bind_us=$(($(fault_ms bind) * 1000))
	if [ -n "$g" ] && [ "${g#* }" -ge "$bind_us" ]; then
		ok "the catalog records the unplug as a gap ($(((${g#* } - ${g% *}) / 1000)) ms," \
			"ending after the bind)"
	else
		notok "the catalog records the unplug as a gap ending after the bind (gap: '${g:-none}')"
		show "$work/gaps-faults.tab"
	fi
	resumes bind qbuf 3 "vivid bound again"

	# 2. QBUF fails once (EINVAL).
	logged qbuf 'QBUF' "VIDIOC_QBUF error injected"
	resumes qbuf buf_flag 1 "VIDIOC_QBUF error injected"
	# 3. A buffer comes back flagged V4L2_BUF_FLAG_ERROR: the frame is dropped.
	# (A camera or V4L2 line, not the muxer's pts warnings.)
	logged buf_flag ' (warn|error) +(CAM|V4L2): ' "V4L2_BUF_FLAG_ERROR injected" buf_flag_logged
	resumes buf_flag streamon 1 "V4L2_BUF_FLAG_ERROR injected"
	# 4. The restart after a fatal streaming error meets a failing STREAMON.
	logged streamon 'STREAMON' "VIDIOC_STREAMON error injected at a restart"
	g=$(gap_near "$(fault_ms streamon)")
	if [ -n "$g" ]; then
		ok "the catalog records the streaming restart as a gap ($(((${g#* } - ${g% *}) / 1000)) ms)"
	else
		notok "the catalog records the streaming restart as a gap"
		show "$work/gaps-faults.tab"
	fi
	resumes streamon qbuf_burst_start 3 "VIDIOC_STREAMON error injected at a restart"
	# 5. QBUF fails 10 times in 2 s: more times than the queue has buffers.
	logged qbuf_burst_start 'QBUF' "10 VIDIOC_QBUF errors in a row"
	# Timed from the end of the burst: reopening backs off to 2 s between
	# tries, and a reopen (V4L2 set-up, encoder start) takes about a second
	# under software emulation: back within 4 s.
	resumes qbuf_burst sigterm 4 "10 VIDIOC_QBUF errors in a row" qbuf_burst_recovers

	# No lost clip: every clip is complete, verifies and plays.
	check_clips "$s" "$work/clips-faults.tab" 640 480 "$fps" 1 faults
	account faults "$s" "$clips_frames"
	# And no unexplained hole: from the first clip to SIGTERM, every second is in
	# a clip or in a catalogued gap (a camera that stops delivering must be seen).
	first_us=$(head -n 1 "$work/clips-faults.tab" | cut -d ' ' -f 2)
	end_us=$(($(fault_ms sigterm) * 1000))
	hole=$({ cut -d ' ' -f 2,3 "$work/clips-faults.tab"; cut -d ' ' -f 1,2 "$work/gaps-faults.tab"; } \
		2>/dev/null | sort -n |
		awk -v a="${first_us:-0}" -v b="$end_us" '
			BEGIN { at = a; worst = 0 }
			{ if ($1 > at && $1 - at > worst) worst = $1 - at; if ($2 > at) at = $2 }
			END { if (b > at && b - at > worst) worst = b - at; printf "%.0f\n", worst / 1000 }')
	if [ -n "$first_us" ] && [ "${hole:-99999}" -le 1500 ]; then
		ok "clips and catalogued gaps account for the whole recording (largest hole $hole ms)"
	else
		notok_known faults_covered "clips and catalogued gaps account for the whole recording" \
			"(largest hole ${hole:-?} ms, at most 1500)"
		show "$work/clips-faults.tab"
		show "$work/gaps-faults.tab"
	fi
fi

[ "$fails" = 0 ]
