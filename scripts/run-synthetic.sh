#!/bin/sh
# `make run`: record from two SYNTHETIC test cameras (a moving test pattern
# labelled "SYNTHETIC TEST CAMERA", not real footage) into ./run/, so vigil
# can be tried on a machine with no camera. Ctrl-C stops it cleanly.
#
# The config is config/vigil-synthetic.conf with you (the account running
# this) as the site's area manager in its staff list, so that vigilctl
# works for you, and as the account vigild runs as.
set -eu
BUILD=${1:-build}
me=$(id -un)
mkdir -p run
umask 077
{
	sed "s/login = \"you\";/login = \"$me\";/" config/vigil-synthetic.conf
	cat <<CONF

# Added by scripts/run-synthetic.sh for the account that ran make run.
user = "$me";
CONF
} >run/vigil.conf
VCTL="$BUILD/vigilctl -c run/vigil.conf --purpose trying-vigil --reference CASE-1"
cat <<MSG
vigil: recording from two SYNTHETIC test cameras (no real camera is used).
vigil: clips go to ./run/data (encrypted). In another terminal:
         $VCTL clips
         $VCTL view 1 - | ffplay -
         $BUILD/vigilctl -c run/vigil.conf status
vigil: press Ctrl-C to stop (open clips are finished cleanly).
MSG
exec "$BUILD/vigild" -c run/vigil.conf
