#!/bin/sh
# `make run`: record from two SYNTHETIC test cameras (a moving test pattern
# labelled "SYNTHETIC TEST CAMERA", not real footage) into ./run/, so vigil
# can be tried on a machine with no camera. Ctrl-C stops it cleanly.
set -eu
BUILD=${1:-build}
mkdir -p run
echo "vigil: recording from two SYNTHETIC test cameras (no real camera is used)."
echo "vigil: clips go to ./run/data; list them with:"
echo "         $BUILD/vigilctl -c config/vigil-synthetic.conf clips"
echo "vigil: press Ctrl-C to stop (open clips are finished cleanly)."
exec "$BUILD/vigild" -c config/vigil-synthetic.conf
