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
#   nv12        as record, with /etc/vigil/vigil-nv12.conf (NV12 asked for at
#               600x400, 12 fps: a size and rate vivid does not offer);
#               first asks vivid the same with v4l2-ctl: nv12-grant.txt
#   faults      as record, with /etc/vigil/vigil-bypath.conf (the camera named
#               by an emulated udev by-path link), and during the recording:
#               vivid unbound from its driver and bound again (a USB unplug),
#               then vivid's inject_vidioc_qbuf_error,
#               inject_v4l2_buf_flag_error, inject_vidioc_streamon_error with
#               inject_fatal_streaming_error (so that the STREAMON of the
#               restart fails), and inject_vidioc_qbuf_error 10 times in 2 s;
#               writes faults.tab ("NAME UTC_US RC" a line: when it was done,
#               to the second; for qbuf_burst RC is how many were injected)
#               and a last "sigterm" line) and rebind.txt (the node vivid came
#               back as)
#   probe       what vivid offers (controls, formats, what it grants for
#               600x400 NV12 at 12 fps, unbind/bind); writes probe.txt
set -u
share=/mnt/share
dev=/dev/video0
seconds=${VIGIL_SECONDS:-20}

# Uptime in centiseconds, for elapsed times that do not depend on the clock.
uptime_cs() {
	awk '{ split($1, a, "."); print a[1] * 100 + substr(a[2] "00", 1, 2) }' /proc/uptime
}

# Start vigild [CONFIG] in the background; its operational log goes to the
# share.
start_vigild() {
	mkdir -p "$share/data"
	vigild -c "${1:-/etc/vigil/vigil.conf}" >"$share/vigild.log" 2>&1 &
	vigild_pid=$!
	vigild_t0=$(uptime_cs)
	echo "guest: vigild started, pid $vigild_pid"
	wait_recording
}

# Wait (bounded) until vigild says it records from the camera. On a guest
# starved of CPU its start (keys, catalog) can take several seconds; the
# steps of a test are timed from its first picture, not from its start, or
# a fault meant for mid-recording lands before vigild has the camera open.
wait_recording() {
	w0=$(uptime_cs)
	until grep -q 'recording from' "$share/vigild.log" 2>/dev/null; do
		if ! kill -0 "$vigild_pid" 2>/dev/null ||
		   [ $(($(uptime_cs) - w0)) -gt 6000 ]; then
			echo "guest: vigild is not recording $(($(uptime_cs) - w0)) cs after its start"
			return 1
		fi
		sleep 0.2
	done
	echo "guest: vigild recording $(($(uptime_cs) - w0)) cs after its start"
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

# Point the emulated by-path link at vivid's current node (faults).
relink() {
	n=$(ls /sys/bus/platform/devices/vivid.0/video4linux/ 2>/dev/null | head -n 1)
	mkdir -p "${link%/*}"
	rm -f "$link"
	[ -n "$n" ] && ln -s "../../$n" "$link"
}

# fault NAME COMMAND...: do it, and note when (UTC us) and its status.
fault() {
	name=$1
	shift
	t=$(date -u +%s%N 2>/dev/null)
	case $t in *N | '') t=$(($(date -u +%s) * 1000000)) ;; *) t=${t%???} ;; esac
	"$@"
	rc=$?
	echo "$name $t $rc" >>"$share/faults.tab"
	echo "guest: fault $name rc=$rc"
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
nv12)
	command -v vigild >/dev/null || { echo "guest: no vigild in the image"; exit 2; }
	# What vivid grants for the config's request, asked with v4l2-ctl
	# first, for the host to compare with what vigild says it got.
	{
		v4l2-ctl -d "$dev" --set-fmt-video=width=600,height=400,pixelformat=NV12 &&
			v4l2-ctl -d "$dev" --set-parm=12 &&
			v4l2-ctl -d "$dev" --get-fmt-video --get-parm
	} >"$share/nv12-grant.txt" 2>&1
	start_vigild /etc/vigil/vigil-nv12.conf
	sleep "$seconds"	# the recording length
	stop_vigild
	;;
faults)
	command -v vigild >/dev/null || { echo "guest: no vigild in the image"; exit 2; }
	# busybox has no udev: make the link udev's 60-persistent-v4l.rules
	# would, and point it again after a rebind, as udev would.
	link=/dev/v4l/by-path/platform-vivid.0-video-index0
	relink
	start_vigild /etc/vigil/vigil-bypath.conf
	# Steps a sixth of the recording apart (plus the 2 s unplugged and the
	# 2 s of the QBUF burst): each fault gets that long to be noticed and
	# recovered from before the next. 40 s: SIGTERM 6 s after the burst.
	step=$((seconds / 6))
	sleep "$step"
	fault unbind sh -c 'echo vivid.0 >/sys/bus/platform/drivers/vivid/unbind'
	# Unplugged for 2 s (vigild's first reopen attempts fail with ENOENT).
	sleep 2
	fault bind sh -c 'echo vivid.0 >/sys/bus/platform/drivers/vivid/bind'
	node=$(ls /sys/bus/platform/devices/vivid.0/video4linux/ 2>/dev/null | head -n 1)
	echo "/dev/${node:-none}" >"$share/rebind.txt"
	relink
	echo "guest: vivid came back as /dev/${node:-none}"
	sleep "$step"
	# The next VIDIOC_QBUF fails with EINVAL (vivid's buf_prepare error).
	fault qbuf v4l2-ctl -d "$link" -c inject_vidioc_qbuf_error=1
	sleep "$step"
	# The next buffer comes back with V4L2_BUF_FLAG_ERROR set.
	fault buf_flag v4l2-ctl -d "$link" -c inject_v4l2_buf_flag_error=1
	sleep "$step"
	# The STREAMON error fires on the next STREAMON: a fatal streaming error
	# (the queue fails, poll gives POLLERR) makes vigild restart it.
	fault streamon v4l2-ctl -d "$link" -c inject_vidioc_streamon_error=1 \
		-c inject_fatal_streaming_error=1
	sleep "$step"
	# QBUF failing again and again (10 times, one every 0.2 s: more times
	# than a capture queue has buffers): recording must not stall. The time
	# logged is the END of the burst: under software emulation ten
	# v4l2-ctl runs take several seconds, and recovery can only start then.
	echo "qbuf_burst_start $(($(date -u +%s) * 1000000)) 0" >>"$share/faults.tab"
	i=0
	while [ $i -lt 10 ]; do
		v4l2-ctl -d "$link" -c inject_vidioc_qbuf_error=1 || break
		sleep 0.2
		i=$((i + 1))
	done
	t=$(($(date -u +%s) * 1000000))
	echo "qbuf_burst $t $i" >>"$share/faults.tab"
	echo "guest: $i QBUF errors injected"
	# 7 s after the burst: 4 s to recover, then 3 s that must be recorded.
	sleep 7
	ls -l /dev/video* /dev/v4l/by-path/ >>"$share/rebind.txt" 2>&1
	echo "sigterm $(($(date -u +%s) * 1000000)) 0" >>"$share/faults.tab"
	stop_vigild
	;;
probe)
	# What the driver offers, for writing tests and configs (not judged).
	{
		v4l2-ctl -d "$dev" -l
		v4l2-ctl -d "$dev" --list-formats
		v4l2-ctl -d "$dev" --set-fmt-video=width=600,height=400,pixelformat=NV12
		v4l2-ctl -d "$dev" --get-fmt-video
		v4l2-ctl -d "$dev" --set-parm=12
		v4l2-ctl -d "$dev" --get-parm
		v4l2-ctl -d "$dev" --list-frameintervals=width=640,height=360,pixelformat=NV12
		ls -l /sys/bus/platform/drivers/vivid/ /sys/class/video4linux/
		readlink -f /sys/class/video4linux/video0/device
		echo vivid.0 >/sys/bus/platform/drivers/vivid/unbind
		echo "unbind rc=$?"
		ls -l /dev/video*
		echo vivid.0 >/sys/bus/platform/drivers/vivid/bind
		echo "bind rc=$?"
		ls -l /dev/video*
	} >"$share/probe.txt" 2>&1
	;;
*)
	echo "guest-test.sh: unknown test '${1:-}' (frames, record, disconnect, nv12, faults, probe)" >&2
	exit 2
	;;
esac
