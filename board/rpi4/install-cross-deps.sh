#!/bin/sh
# Install what `make BOARD=rpi4` needs to cross-compile vigild and vigilctl
# for arm64 (Raspberry Pi 4-class gateways) on a Debian 12 amd64 host:
# the cross compiler (gcc-aarch64-linux-gnu) and the arm64 multiarch -dev
# packages of every library in scripts/install-deps.sh's BUILD_PKGS.
# A no-op when everything is present; `make BOARD=rpi4` calls it first.
#   --quiet   print nothing when nothing is missing
#
# Every -dev package below is "Multi-Arch: same" in Debian 12, so the arm64
# ones install beside the amd64 ones the native build uses (same version).
# fonts-dejavu-core is data for the device, not a build input: not here.
set -eu

ARCH=arm64
HOST_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross pkg-config file"
# Keep in step with BUILD_PKGS in scripts/install-deps.sh.
DEV_PKGS="libv4l-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
libavfilter-dev libavdevice-dev libmbedtls-dev libsqlite3-dev libconfig-dev
libjson-c-dev libisofs-dev nettle-dev"

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in $HOST_PKGS; do
	installed "$p" || missing="$missing $p"
done
for p in $DEV_PKGS; do
	installed "$p:$ARCH" || missing="$missing $p:$ARCH"
done
have_arch=0
if [ "$(dpkg --print-architecture)" = "$ARCH" ] ||
	dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
	have_arch=1
fi

if [ -z "$missing" ] && [ "$have_arch" = 1 ]; then
	[ "$quiet" = 1 ] || echo "install-cross-deps: all packages present"
	exit 0
fi

echo "install-cross-deps: missing for BOARD=rpi4:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "install-cross-deps: run as root (board/rpi4/install-cross-deps.sh), or:" >&2
	[ "$have_arch" = 1 ] || echo "    sudo dpkg --add-architecture $ARCH" >&2
	echo "    sudo apt-get update && sudo apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ "$have_arch" = 0 ]; then
	dpkg --add-architecture "$ARCH"
fi
# apt-get.sh waits for another apt or dpkg's lock (a test installing
# qemu beside this one) instead of failing.
apt=$(dirname "$0")/../../scripts/apt-get.sh
sh "$apt" update -qq
# shellcheck disable=SC2086
sh "$apt" install -y -qq --no-install-recommends $missing
echo "install-cross-deps: installed:$missing"
