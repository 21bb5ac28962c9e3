#!/bin/sh
# End-to-end: the qemu-x86_64 board image, booted under qemu with Debian's
# kernel, captures from vivid (the kernel's virtual V4L2 camera driver), and
# vigild records from it. Results come back through a 9p shared folder and
# are judged here, on the host, with standard tools (ffprobe) and clipvec.
#
# Runs only as root or with CI=true (the image build may need to install
# qemu and fetch the kernel package); otherwise every check is skipped.
# TAP-style lines: "ok - ...", "not ok - ...", "skip - ... (why)".
# Environment: BUILD (default build), BOARD (default qemu-x86_64),
# VIGIL_IMAGE_SECONDS (recording length, default 20), VIGIL_IMAGE_KEEP=1
# (keep the work folder: consoles, vigild.log, the encrypted clips).
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
RECORD_CHECKS="vigild recording under qemu, and through a vivid disconnect"

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
	echo "skip - $RECORD_CHECKS (sqlite3 missing: run scripts/install-deps.sh)"
	[ "$fails" = 0 ]
	exit
fi

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
want_clips=$(((secs + segment - 1) / segment))
if [ "$n" -ge $((want_clips - 1)) ] && [ "$n" -le "$want_clips" ] && [ "$n" -gt 0 ] &&
   [ "$open" = 0 ]; then
	ok "the catalog lists $n complete clip(s) for $secs s at segment_seconds=$segment"
else
	notok "the catalog lists $((want_clips - 1))-$want_clips complete clip(s) for $secs s" \
		"at segment_seconds=$segment (got $n, $open not complete)"
	show "$work/clips.tab"
	show "$work/sqlite.err"
	show "$s/vigild.log" 40
fi

frame_us=$((1000000 / fps))
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
	# The issue's bar: the frames a clip holds are its length at the
	# configured rate, within one frame; fewer means frames were lost.
	expect=$(((len_us * fps + 500000) / 1000000))
	if [ $((frames - expect)) -le 1 ] && [ $((expect - frames)) -le 1 ]; then
		ok "clip $i holds $frames frames for $len s at $fps fps (expected $expect +-1)"
	else
		notok "clip $i holds $frames frames for $len s at $fps fps (expected $expect +-1)"
	fi
	# Every clip but the last (cut by SIGTERM) is segment_seconds long.
	if [ "$i" -lt "$n" ] && { [ "$len_us" -lt $((segment * 1000000 - frame_us)) ] ||
	   [ "$len_us" -gt $((segment * 1000000 + frame_us)) ]; }; then
		cuts_bad="$cuts_bad clip $i: $len s;"
	fi
	# Consecutive clips join up: start and previous end within one frame interval.
	if [ -n "$prev_end" ]; then
		gap=$((start - prev_end))
		if [ "$gap" -lt $((-frame_us)) ] || [ "$gap" -gt "$frame_us" ]; then
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
		ok "consecutive clips join up (within one frame interval)"
	else
		notok "consecutive clips join up (within one frame interval):$joins_bad"
		show "$work/clips.tab"
	fi
fi

# Frames in all clips against the recording window measured in the guest
# (vigild start to SIGTERM): at most window x fps (+1 per clip); at least
# that less 4 s for vigild to start and open the camera under emulation.
win=$(cat "$s/window.cs" 2>/dev/null || echo $((secs * 100)))
hi=$((win * fps / 100 + n))
lo=$(((win - 400) * fps / 100))
if [ "$n" -gt 0 ] && [ "$total" -ge "$lo" ] && [ "$total" -le "$hi" ]; then
	ok "clips hold $total frames for a $win cs recording at $fps fps (expected $lo-$hi)"
else
	notok "clips hold $total frames for a $win cs recording at $fps fps (expected $lo-$hi)"
	show "$s/vigild.log" 40
fi

# --- vivid disconnects mid-recording ------------------------------------------
# vivid's "disconnect" control makes the driver behave as an unplugged camera
# (poll reports POLLERR|POLLHUP, DQBUF fails with ENODEV); it reconnects only
# once every handle is closed and its buffers unmapped, so recording resumes
# only if vigild lets go of the device and opens it again.
boot disconnect vigil.test=disconnect "vigil.seconds=$secs"
qrc=$?
s=$work/disconnect
vrc=$(cat "$s/vigild.rc" 2>/dev/null || echo none)
if [ "$qrc" = 0 ] && [ "$vrc" = 0 ] && grep -qi 'lost' "$s/vigild.log"; then
	ok "vivid disconnect mid-recording: vigild logs the loss and exits 0 on SIGTERM" \
		"($(grep -i -m 1 'lost' "$s/vigild.log" | cut -c 26-))"
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

# Frames recorded after the gap: at least the rest of the recording, less
# 3 s for the reopen, at the configured rate.
first=$((secs / 3))
after=0
if [ -n "$gto" ]; then
	after=$(awk -v t="$gto" '$2 >= t { n += $4 } END { print n + 0 }' "$work/clips-disc.tab")
fi
want=$(((secs - first - 3) * fps))
if [ "$after" -ge "$want" ]; then
	ok "recording resumes after the disconnect: $after frames in clips after the gap" \
		"(at least $want)"
else
	notok "recording resumes after the disconnect: $after frames in clips after the gap" \
		"(at least $want)"
	show "$work/clips-disc.tab"
	show "$s/vigild.log" 40
fi

[ "$fails" = 0 ]
