#!/bin/sh
# Install the Debian 12 packages vigil needs to build, run and test.
# A no-op when everything is present; `make`, `make check` and `make run`
# call it so that README's two commands work on a fresh machine.
#   --quiet   print nothing when nothing is missing
set -eu

# Build and run: the libraries vigild links.
BUILD_PKGS="libv4l-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
libavfilter-dev libavdevice-dev libmbedtls-dev libsqlite3-dev libconfig-dev
libjson-c-dev libisofs-dev nettle-dev fonts-dejavu-core"
# Tests: cmocka, and the standard tools the end-to-end tests judge with
# (ffprobe/ffmpeg decode what we wrote, sqlite3 edits the catalog like an
# attacker would, xorriso reads ISO images, openssl verifies signatures).
TEST_PKGS="libcmocka-dev ffmpeg sqlite3 xorriso openssl file"
# The review report is rendered by chromium as a reader would see it; the
# metrics file is read with the Prometheus client library's own parser.
TEST_PKGS="$TEST_PKGS chromium python3-prometheus-client"
# The fuzz harnesses (make fuzz): clang with libFuzzer and the sanitizers.
TEST_PKGS="$TEST_PKGS clang libclang-rt-14-dev"
# The audit witness end-to-end test sends checkpoints to a real collector:
# rsyslog with its TLS driver, as the reference receiver (docs/audit-format.md).
TEST_PKGS="$TEST_PKGS rsyslog rsyslog-gnutls"
# Every other tool a test calls that a minimal Debian 12 lacks (so that on a
# fresh machine no test skips for want of a package): python3 and
# python3-cryptography (test_export, the independent clip decryptor),
# systemd's systemd-analyze/-sysusers/-tmpfiles and man-db (the board's
# units are verified with the man pages they name), bc (audio), mkfs.ext4
# (the full-disk test), procps.
TEST_PKGS="$TEST_PKGS python3 python3-cryptography systemd man-db bc e2fsprogs procps"

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1

missing=""
for p in $BUILD_PKGS $TEST_PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	[ "$quiet" = 1 ] || echo "install-deps: all packages present"
	exit 0
fi

echo "install-deps: missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: run as root (or: sudo apt-get install$missing), then try again" >&2
	exit 1
fi
# apt-get.sh waits for another apt or dpkg's lock instead of failing.
apt=$(dirname "$0")/apt-get.sh
sh "$apt" update -qq
# shellcheck disable=SC2086
sh "$apt" install -y -qq --no-install-recommends $missing
echo "install-deps: installed:$missing"
