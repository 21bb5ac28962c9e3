#!/bin/sh
# tests/bench/input.sh NAME FRAMES OUT: write FRAMES frames of 1280x720
# YUYV at 15 fps, raw, to OUT. Both inputs are generated patterns, never
# footage:
#   testsrc2  FFmpeg's moving test pattern: flat colours and sharp edges,
#             which x264 codes cheaply (it flatters an encoder)
#   noisy     the same pattern with fresh sensor-like noise in every
#             frame (Gaussian, luma 12, chroma 6: a dim stairwell camera
#             at high gain), so no two frames are alike and motion search
#             and residual coding cost what they do on real cameras
#   still     one still picture of that pattern with milder sensor noise
#             (luma 5, chroma 2) in every frame: an empty stairwell, what a
#             CCTV camera sees most of the day; it is what x264's
#             macroblock-tree (rc-lookahead >= 1) saves most bits on
set -eu
case $1 in
testsrc2) vf="testsrc2=size=1280x720:rate=15" ;;
noisy) vf="testsrc2=size=1280x720:rate=15,noise=c0s=12:c1s=6:c2s=6:allf=t" ;;
still) vf="testsrc2=size=1280x720:rate=15,trim=end_frame=1,loop=loop=-1:size=1:start=0,setpts=N/15/TB,noise=c0s=5:c1s=2:c2s=2:allf=t" ;;
*)
	echo "input.sh: unknown input $1 (testsrc2, noisy or still)" >&2
	exit 2
	;;
esac
ffmpeg -v error -f lavfi -i "$vf" -frames:v "$2" -pix_fmt yuyv422 -f rawvideo -y "$3"
