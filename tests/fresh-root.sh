#!/bin/sh
# fresh-root.sh [COMMIT] - README's two commands on a fresh Debian 12 machine,
# typed as a newcomer would, for CI (.ci/run) and by hand (make check-fresh).
#
#   1. A bare Debian 12 root: debootstrap --variant=minbase bookworm plus
#      build-essential, git and pkg-config, nothing else. The debootstrap
#      result is cached as a tarball in $VIGIL_FRESH_CACHE (default
#      /var/cache/vigil-fresh-root); every run extracts a clean copy of it.
#   2. COMMIT (default HEAD) cloned into it (/srv/vigil).
#   3. Inside it (chroot, as root): README's test command exactly as written
#      in that commit's README ("make check"); it must end "N passed, 0 failed".
#   4. Then README's run command ("make run") for about 20 s: each synthetic
#      camera must have at least one complete clip that `vigilctl view` gives
#      back as a playable H.264 MP4 (ffprobe decodes its frames from a pipe;
#      no plaintext touches the disk). Then Ctrl-C, as README says.
#
# Prints the in-root summary line and the time each stage took; exits 1 when
# either command failed, 2 when the root could not be made. The chroot runs
# in its own mount and PID namespaces (unshare), so its mounts (proc, sys,
# dev, and whatever the tests mount) and processes (vigild) vanish with it
# on every exit path; the EXIT trap checks that and deletes the copy.
#
# Needs root and debootstrap (installed when missing). Environment:
#   VIGIL_MIRROR             Debian mirror (default: the host's apt mirror)
#   VIGIL_FRESH_CACHE        where the base tarball is kept
#   VIGIL_FRESH_RUN_SECONDS  how long make run records (default 20)
#   VIGIL_FRESH_KEEP=1       keep the root afterwards (for a post-mortem)
#   BUILD                    logs go to $BUILD/fresh-root/ (default build)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
suite=bookworm
include=build-essential,git,pkg-config
cache=${VIGIL_FRESH_CACHE:-/var/cache/vigil-fresh-root}
base=$cache/$suite-minbase-$(echo "$include" | tr , +).tar
run_secs=${VIGIL_FRESH_RUN_SECONDS:-20}
logs=$top/${BUILD:-build}/fresh-root
src=/srv/vigil		# where the clone lives inside the root

say() { echo "fresh-root: $*"; }
die() { say "error: $*" >&2; exit 2; }

if [ "$(id -u)" != 0 ]; then
	die "needs root (debootstrap, chroot, mounts): run it as root, as CI does"
fi
commit=$(git -C "$top" rev-parse --verify -q "${1:-HEAD}^{commit}") ||
	die "'${1:-HEAD}' is not a commit in $top"
if [ -z "${1:-}" ] && [ -n "$(git -C "$top" status --porcelain --untracked-files=no)" ]; then
	say "note: the work tree has uncommitted changes; testing the commit $commit as it is"
fi

# The host's own Debian mirror (deb822 "URIs:" or one-line "deb URL"), not
# the security archive; deb.debian.org when none is found.
host_mirror() {
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -oE '(URIs:|^deb) *https?://[^ ]*/debian/?( |$)' |
		grep -v security | sed -E 's/^(URIs:|deb) *//; s/ *$//' | head -n 1
}
mirror=${VIGIL_MIRROR:-$(host_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}

now() { date +%s; }
t_start=$(now)
timings=""
stage_done() { # stage_done NAME T0
	timings="$timings$(printf '  %-34s %5d s' "$1" $(($(now) - $2)))
"
}

mkdir -p "$logs"
work=$(mktemp -d /var/tmp/vigil-fresh.XXXXXX) || die "cannot make a work folder in /var/tmp"
root=$work/root
inpid=

# Every exit path: stop the chroot (its PID namespace dies with its first
# process), make sure nothing is still mounted below the copy, delete it.
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$inpid" ] && kill -0 "$inpid" 2>/dev/null; then
		kill -TERM "$inpid" 2>/dev/null
		wait "$inpid" 2>/dev/null
	fi
	left=$(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r)
	for m in $left; do
		umount -l "$m" 2>/dev/null || say "warning: could not unmount $m"
	done
	if awk -v w="$work/" 'index($2, w) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		say "warning: mounts remain below $work: not deleting it"
	elif [ -n "${VIGIL_FRESH_KEEP:-}" ]; then
		say "kept $root (VIGIL_FRESH_KEEP)"
	else
		rm -rf --one-file-system "$work"
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 2' INT TERM HUP

# in_root CMD...: run CMD (a shell command line) as root inside the copy, in
# fresh mount and PID namespaces with /proc, /sys and /dev, with the
# environment a root login has (plus CI when set), output to stdout. In the
# background so that a signal to this script reaches the trap at once.
in_root() {
	unshare --mount --pid --kill-child --propagation private -- /bin/sh -c '
		set -e
		r=$1
		mount -t proc proc "$r/proc"
		mount -t sysfs sysfs "$r/sys"
		mount --rbind /dev "$r/dev"
		mount --make-rslave "$r/dev"
		exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			${CI:+CI=$CI} /bin/sh -c "$2"' sh "$root" "$1" &
	inpid=$!
	wait "$inpid"
	rc=$?
	inpid=
	return $rc
}

# --- 1. the base: debootstrap once, then from the cache ------------------------
t0=$(now)
if [ -s "$base" ]; then
	say "base: $base (cached; delete it to debootstrap again)"
	stage_done "base (cached tarball)" "$t0"
else
	command -v debootstrap >/dev/null ||
		{ sh "$top/scripts/apt-get.sh" install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 &&
		  command -v debootstrap >/dev/null; } ||
		die "debootstrap is not installed and would not install"
	say "base: debootstrap --variant=minbase --include=$include $suite from $mirror"
	mkdir -p "$cache"
	if ! debootstrap --variant=minbase --include="$include" "$suite" "$work/base" "$mirror" \
		>"$logs/debootstrap.log" 2>&1; then
		tail -n 20 "$logs/debootstrap.log"
		die "debootstrap failed (log: $logs/debootstrap.log)"
	fi
	# The downloaded .debs are not part of an installed machine.
	rm -f "$work/base/var/cache/apt/archives/"*.deb
	tar -C "$work/base" --numeric-owner -cf "$base.part" . && mv "$base.part" "$base" ||
		die "cannot write $base"
	rm -rf --one-file-system "$work/base"
	stage_done "base (debootstrap, cached)" "$t0"
fi

t0=$(now)
mkdir "$root" && tar -C "$root" --numeric-owner -xf "$base" || die "cannot extract $base"
# What a machine on a network has: a resolver. And, as in any chroot, no
# daemon that a package installs is started (the PID namespace would end
# it anyway).
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
stage_done "extract a clean copy" "$t0"
pkgs_before=$(chroot "$root" dpkg-query -W 2>/dev/null | wc -l)
kb_before=$(du -sk --one-file-system "$root" | cut -f 1)

# --- 2. the commit under test ----------------------------------------------------
t0=$(now)
if ! git clone -q --no-hardlinks "$top" "$root$src" >"$logs/clone.log" 2>&1 ||
   ! git -C "$root$src" checkout -q --detach "$commit" >>"$logs/clone.log" 2>&1; then
	cat "$logs/clone.log"
	die "cannot clone $commit into the root"
fi
stage_done "clone $(git -C "$top" rev-parse --short "$commit")" "$t0"

# README's two commands, from that commit's README: the first two "make"
# lines of the first sh block under "## The two commands" (run, then test).
two=$(awk '/^## The two commands/ { s = 1 } s && /^```sh/ { b = 1; next }
	b && /^```/ { exit } b && /^make / { sub(/ *#.*/, ""); print }' "$root$src/README.md")
run_cmd=$(echo "$two" | sed -n 1p)
test_cmd=$(echo "$two" | sed -n 2p)
[ -n "$run_cmd" ] && [ -n "$test_cmd" ] ||
	die "README.md at $commit has no \"## The two commands\" block with two make lines"
say "README's commands: run '$run_cmd', test '$test_cmd' (in $src, as root${CI:+, CI=$CI})"

# --- 3. README's test command ------------------------------------------------------
t0=$(now)
say "running '$test_cmd' in the fresh root (log: $logs/check.log)"
in_root "cd $src && $test_cmd" >"$logs/check.log" 2>&1
check_rc=$?
stage_done "$test_cmd (deps, build, every test)" "$t0"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$logs/check.log" | tail -n 1)
rm -rf "$logs/test-logs"
cp -r "$root$src/build/test-logs" "$logs/test-logs" 2>/dev/null
if [ "$check_rc" = 0 ] && [ -n "$summary" ]; then
	check_ok=1
else
	check_ok=0
	grep -E '^FAIL|^not ok' "$logs/check.log" | head -n 40
	tail -n 30 "$logs/check.log"
fi
grep -E '^ +skip - ' "$logs/check.log" | sed 's/^ */  in-root /'
say "in-root summary: ${summary:-(none: '$test_cmd' exited $check_rc before the summary)}"
# What the first run cost a newcomer's machine (for README's first screen).
pkgs_after=$(chroot "$root" dpkg-query -W 2>/dev/null | wc -l)
kb_after=$(du -sk --one-file-system "$root" | cut -f 1)
say "'$test_cmd' installed $((pkgs_after - pkgs_before)) packages ($pkgs_before -> $pkgs_after);" \
	"the root grew by $(((kb_after - kb_before) / 1024)) MiB (packages, build, caches)"

# --- 4. README's run command ----------------------------------------------------------
# The driver runs inside the root: it starts the run command as a job of its
# own (as at a terminal), lets it record, checks one complete clip per camera
# through vigilctl, then sends the job SIGINT, as Ctrl-C would.
cat >"$root/run-check.sh" <<'DRIVER'
set -u
run_cmd=$1 secs=$2
# A session of its own (its id is the job's): SIGINT to the group then
# reaches make and vigild alike, as Ctrl-C at a terminal would.
setsid sh -c "exec $run_cmd" >/run-cmd.log 2>&1 </dev/null &
job=$!
vctl="build/vigilctl -c run/vigil.conf --purpose trying-vigil --reference CASE-1"
up() { build/vigilctl -c run/vigil.conf status >/dev/null 2>&1; }
alive() { kill -0 "$job" 2>/dev/null; }
# wait_until SECONDS COND: poll COND; a deadline for failing, never a pause.
wait_until() {
	end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		alive || return 1
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}
fail=0
if ! wait_until 600 up; then
	echo "not ok - '$run_cmd' never answered 'vigilctl status' (or exited)"
	tail -n 30 /run-cmd.log
	kill -INT -"$job" 2>/dev/null
	exit 1
fi
echo "# vigild answers; recording for $secs s"
sleep "$secs"	# the trial's length, as a user would let it run
cams=$(awk '/^cameras/ { c = 1 } /^users/ { c = 0 }
	c && /name = / { sub(/.*name = "/, ""); sub(/".*/, ""); print }' run/vigil.conf)
complete_of() { $vctl clips --camera "$1" 2>/dev/null | awk 'NR > 1 && $11 == "complete" { print $1; exit }'; }
for cam in $cams; do
	has_clip() { [ -n "$(complete_of "$cam")" ]; }
	# A camera's first clip closes after segment_seconds of its frames; on a
	# loaded machine that can be later than the trial's length: wait for it.
	wait_until 120 has_clip
	id=$(complete_of "$cam")
	if [ -z "$id" ]; then
		echo "not ok - camera $cam: no complete clip"
		$vctl clips --camera "$cam"
		fail=1
		continue
	fi
	info=$($vctl view "$id" - 2>/tmp/view.err |
		ffprobe -v error -count_frames -select_streams v:0 \
			-show_entries stream=codec_name,nb_read_frames:format=format_name \
			-of default=nw=1 - 2>/tmp/ffprobe.err | tr '\n' ' ')
	case $info in
	*codec_name=h264*nb_read_frames=[1-9]*format_name=*mp4*)
		echo "ok - camera $cam: clip $id is a playable H.264 MP4 through vigilctl view ($info)" ;;
	*)
		echo "not ok - camera $cam: clip $id through vigilctl view: '$info'"
		cat /tmp/view.err /tmp/ffprobe.err
		fail=1 ;;
	esac
done
kill -INT -"$job" 2>/dev/null	# Ctrl-C
wait "$job"
echo "# '$run_cmd' stopped by SIGINT, exit $?; $(grep -c . /run-cmd.log) log lines"
[ -n "$cams" ] || { echo "not ok - no cameras in run/vigil.conf"; fail=1; }
exit $fail
DRIVER
t0=$(now)
say "running '$run_cmd' for $run_secs s in the fresh root (log: $logs/run.log)"
in_root "cd $src && sh /run-check.sh '$run_cmd' $run_secs" >"$logs/run.log" 2>&1
run_rc=$?
cp "$root/run-cmd.log" "$logs/run-cmd.log" 2>/dev/null
stage_done "$run_cmd (record, view each camera)" "$t0"
grep -E '^(ok|not ok) - ' "$logs/run.log" | sed 's/^/  in-root /'
if [ "$run_rc" != 0 ]; then
	tail -n 30 "$logs/run.log"
	tail -n 15 "$logs/run-cmd.log" 2>/dev/null
fi

stage_done "total" "$t_start"
say "stages:"
printf '%s' "$timings"
printf '%s' "$timings" >"$logs/timings.txt"
if [ "$check_ok" = 1 ] && [ "$run_rc" = 0 ]; then
	say "PASS: '$test_cmd' ($summary) and '$run_cmd' on a fresh $suite root at $(git -C "$top" rev-parse --short "$commit")"
	exit 0
fi
say "FAIL: '$test_cmd' $([ "$check_ok" = 1 ] && echo passed || echo failed)," \
	"'$run_cmd' $([ "$run_rc" = 0 ] && echo passed || echo failed) on a fresh $suite root"
exit 1
