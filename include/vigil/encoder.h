/*
 * encoder.h - raw pictures in, H.264 packets out (libavcodec).
 *
 * The encoder is chosen by name (libx264 by default; h264_v4l2m2m or any
 * other libavcodec H.264 encoder on boards with hardware). If the named
 * encoder is missing or refuses to open, libx264 is used instead and the
 * reason logged, so a board without its hardware block still records.
 *
 * Pictures the encoder cannot take as they are (YUYV for x264) are
 * converted with libswscale into a frame from a pool; pictures it can take
 * are passed by reference, never copied. B-frames are off: every picture
 * sent is muxable as soon as it comes out, so a fragment flushed to disk
 * holds everything captured up to that moment (power cuts lose less) and a
 * clip can be cut at any keyframe without reordering.
 *
 * Threads and memory (libx264): a box records many cameras on a few cores,
 * so each encoder gets its share of the cores and no more: cores / streams
 * threads, at least 1 (one each once there are as many cameras as cores),
 * at most 8; frame threads only, never sliced; a short rate-control
 * lookahead (VG_ENC_LOOKAHEAD frames) and no sync lookahead. At CRF 23 on
 * 720p15 these cost no bitrate or quality worth the name against x264's
 * veryfast defaults (docs/performance.md) and save about 3.5 MB of memory
 * per lookahead frame and per frame thread at 720p. A box with fewer cameras than
 * cores keeps threads to spare: a noisy picture can cost an A72 core more
 * than 720p15 allows.
 *
 * Timestamps: pts are in the time base given at open (vigil uses 1/90000)
 * and come out on the packets as they went in. x264's rate control runs
 * at the nominal frame rate all the same (force-cfr): pictures lost
 * before the encoder (a full queue, a driver's skips) must not make the
 * next ones cost more, or a box that falls behind falls further.
 */
#ifndef VIGIL_ENCODER_H
#define VIGIL_ENCODER_H

#include <libavcodec/avcodec.h>

struct vg_encoder_params {
	const char *encoder;	/* libavcodec encoder name; NULL = libx264 */
	const char *preset;	/* x264 preset; ignored by other encoders */
	int crf;		/* x264 CRF (0 = lossless); used when bitrate_kbps is 0 */
	int bitrate_kbps;
	int gop;		/* frames between keyframes */
	int width, height;
	enum AVPixelFormat in_fmt;
	int fps_num, fps_den;
	AVRational time_base;
	int threads;		/* 0 = vg_encoder_threads_for() */
	int streams;		/* cameras this box encodes at once; 0 = 1 */
};

/* x264's rate-control lookahead, in frames, for presets that use one
 * (veryfast's own is 10). One frame is enough for macroblock-tree, which a
 * still stairwell needs: without it (lookahead 0) x264 spends twice the
 * bits on the same picture quality, re-coding sensor noise in every frame.
 * 1 codes as well as 3 at equal quality (within 1 % of the bits on three
 * test inputs) and holds about 7 MB less per camera at 720p
 * (docs/performance.md, Encoder settings). */
#define VG_ENC_LOOKAHEAD 1

/* Encoder threads for one of streams cameras sharing cores cores
 * (streams, cores <= 0 count as 1). */
int vg_encoder_threads_for(int streams, int cores);

struct vg_encoder;

int vg_encoder_open(struct vg_encoder **out, const struct vg_encoder_params *p,
		    char *why, size_t whylen);

/* Send one picture (pts set by the caller) or NULL to drain at the end.
 * The frame is only borrowed. It may come in any format libswscale reads,
 * whatever in_fmt said at open (the overlay may have changed it); its size
 * must be the one given at open (-VG_EFORMAT otherwise). */
int vg_encoder_send(struct vg_encoder *e, const AVFrame *frame);

/* The picture in the encoder's own format: *out is a new reference to in
 * if it is in that format already, else a converted copy (writable) with
 * in's properties. The pipeline converts before drawing the overlay, so a
 * picture is converted once, not once for drawtext and again here. */
int vg_encoder_convert(struct vg_encoder *e, const AVFrame *in, AVFrame **out);

/* The encoder's own pixel format (what vg_encoder_convert gives). */
enum AVPixelFormat vg_encoder_pix_fmt(const struct vg_encoder *e);

/* Next packet: 0 and *pkt filled (caller unrefs), -VG_EAGAIN when the
 * encoder needs more input, 1 when fully drained. */
int vg_encoder_receive(struct vg_encoder *e, AVPacket *pkt);

/* Codec parameters for the muxer (with SPS/PPS in extradata). */
const AVCodecContext *vg_encoder_context(const struct vg_encoder *e);

/* Name of the encoder actually in use. */
const char *vg_encoder_name(const struct vg_encoder *e);

void vg_encoder_free(struct vg_encoder *e);

#endif
