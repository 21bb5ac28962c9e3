#!/bin/sh
# apt-get, waiting up to 10 minutes for another apt or dpkg (a parallel
# build, a test installing qemu, unattended-upgrades) to release its lock
# instead of failing at once with "Could not get lock". Every script that
# installs packages goes through here, so none fails on a busy machine.
export DEBIAN_FRONTEND=noninteractive
exec apt-get -o DPkg::Lock::Timeout=600 -o APT::Lock::Timeout=600 "$@"
