#!/bin/sh
# guest-test.sh NAME - a test action run inside the qemu-x86_64 image by init
# (vigil.test=NAME). Results go to the shared folder /mnt/share, where the
# host-side test (tests/e2e/image.sh) judges them; this script only acts and
# records, it decides nothing.
#
#   frames      capture 30 frames of 640x480 YUYV at 15 fps with v4l2-ctl;
#               writes fmt.txt, parm.txt, frames.bytes (byte count; the frames
#               are counted in the guest's RAM, never stored), frames.cs (elapsed
#               centiseconds), v4l2-ctl.rc
#   record      vigild -c /etc/vigil/vigil.conf for VIGIL_SECONDS, then SIGTERM;
#               writes vigild.log, vigild.rc (exit status, or "killed" when it
#               did not stop within 30 s of SIGTERM), window.cs (centiseconds
#               from start to SIGTERM); clips land in data/
#   disconnect  as record, and a third of the way in sets vivid's disconnect
#               control; writes disconnect.txt (what was done, and when) and
#               disconnect.utc (the UTC second it was done)
set -u
share=/mnt/share
dev=/dev/video0
seconds=${VIGIL_SECONDS:-20}

# Uptime in centiseconds, for elapsed times that do not depend on the clock.
uptime_cs() {
	awk '{ split($1, a, "."); print a[1] * 100 + substr(a[2] "00", 1, 2) }' /proc/uptime
}

# Start vigild in the background; its operational log goes to the share.
start_vigild() {
	mkdir -p "$share/data"
	vigild -c /etc/vigil/vigil.conf >"$share/vigild.log" 2>&1 &
	vigild_pid=$!
	vigild_t0=$(uptime_cs)
	echo "guest: vigild started, pid $vigild_pid"
}

# SIGTERM, then wait (bounded) for vigild to exit and record its status.
stop_vigild() {
	t0=$(uptime_cs)
	kill -TERM "$vigild_pid" 2>/dev/null
	echo $((t0 - vigild_t0)) >"$share/window.cs"
	# Graceful-stop deadline for the daemon under test, not synchronisation:
	# a daemon that ignores SIGTERM for 30 s is a failure the host reports.
	while kill -0 "$vigild_pid" 2>/dev/null; do
		if [ $(($(uptime_cs) - t0)) -gt 3000 ]; then
			kill -KILL "$vigild_pid" 2>/dev/null
			wait "$vigild_pid" 2>/dev/null
			echo killed >"$share/vigild.rc"
			echo "guest: vigild ignored SIGTERM for 30 s: killed"
			return 1
		fi
		sleep 0.2
	done
	wait "$vigild_pid"
	rc=$?
	echo "$rc" >"$share/vigild.rc"
	echo "guest: vigild exited $rc, $(($(uptime_cs) - t0)) cs after SIGTERM"
	return 0
}

case ${1:-} in
frames)
	v4l2-ctl -d "$dev" --set-fmt-video=width=640,height=480,pixelformat=YUYV
	v4l2-ctl -d "$dev" --get-fmt-video >"$share/fmt.txt" 2>&1
	t0=$(uptime_cs)
	# The frames go to the guest's RAM (tmpfs), are counted and dropped.
	v4l2-ctl -d "$dev" --set-parm=15 --stream-mmap --stream-count=30 \
		--stream-to=/tmp/frames.raw
	echo $? >"$share/v4l2-ctl.rc"
	echo $(($(uptime_cs) - t0)) >"$share/frames.cs"
	wc -c </tmp/frames.raw >"$share/frames.bytes"
	rm -f /tmp/frames.raw
	v4l2-ctl -d "$dev" --get-parm >"$share/parm.txt" 2>&1
	cat "$share/fmt.txt" "$share/parm.txt"
	echo "guest: $(cat "$share/frames.bytes") bytes in $(cat "$share/frames.cs") cs"
	;;
record)
	command -v vigild >/dev/null || { echo "guest: no vigild in the image"; exit 2; }
	start_vigild
	sleep "$seconds"	# the recording length
	stop_vigild
	;;
disconnect)
	command -v vigild >/dev/null || { echo "guest: no vigild in the image"; exit 2; }
	start_vigild
	first=$((seconds / 3))
	sleep "$first"
	t=$(uptime_cs)
	utc=$(date -u +%s)
	v4l2-ctl -d "$dev" -c disconnect=1
	echo "disconnect=1 rc=$? at ${first} s (uptime ${t} cs)" >"$share/disconnect.txt"
	echo "$utc" >"$share/disconnect.utc"
	echo "guest: $(cat "$share/disconnect.txt")"
	sleep $((seconds - first))
	ls -l /dev/video* >>"$share/disconnect.txt" 2>&1
	stop_vigild
	;;
*)
	echo "guest-test.sh: unknown test '${1:-}' (frames, record, disconnect)" >&2
	exit 2
	;;
esac
