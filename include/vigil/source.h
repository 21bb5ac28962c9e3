/*
 * source.h - where a camera's pictures come from: a V4L2 device, a file of
 * raw frames, or the synthetic test pattern (clearly labelled as such).
 *
 * A source hands out one frame at a time with its UTC capture time. Raw
 * pictures come as reference-counted AVFrames (possibly wrapping the
 * driver's own buffer: unref them promptly, the driver has only a few);
 * compressed pictures (H.264 for pass-through, MJPEG to be decoded) come as
 * AVPackets. The caller owns what it receives and frees it with
 * vg_source_frame_release().
 */
#ifndef VIGIL_SOURCE_H
#define VIGIL_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>

#include "vigil/config.h"

struct vg_source_info {
	int width, height;
	enum AVPixelFormat pix_fmt;	/* raw sources; AV_PIX_FMT_NONE otherwise */
	enum AVCodecID codec;		/* AV_CODEC_ID_NONE for raw, H264, MJPEG */
	int fps_num, fps_den;		/* nominal rate granted */
	int synthetic;			/* 1 for the synthetic test camera */
	int live;			/* 1: pictures come in real time and are dropped
					 * when the encoder falls behind; 0 (unpaced
					 * files, benchmarks): capture waits instead */
	int wall_clock;			/* 1: ts_utc_us is read from the wall clock as
					 * each picture arrives (a device), so a step
					 * of the clock shows in it; 0: computed from
					 * the frame count (files, synthetic) */
	char label[128];		/* for logs: "vivid /dev/video0 YUYV 640x480@15" */
};

struct vg_source_frame {
	AVFrame *frame;		/* raw picture, or NULL */
	AVPacket *packet;	/* compressed picture, or NULL */
	int64_t ts_utc_us;	/* capture time, UTC microseconds */
	uint32_t sequence;	/* source frame counter (gaps = frames lost upstream) */
};

struct vg_source;

/* Open the source a camera config names. -VG_ENODEV when a device is
 * absent (the caller retries with backoff), -VG_EFORMAT when it offers
 * nothing usable; why receives a sentence for the log. */
int vg_source_open(struct vg_source **out, const struct vg_camera_config *cam,
		   char *why, size_t whylen);

void vg_source_info(const struct vg_source *s, struct vg_source_info *info);

/*
 * Next frame, waiting at most timeout_ms. 0: *f filled. 1: end of input (a
 * file source without loop). -VG_ENODATA: nothing within the timeout.
 * -VG_ENODEV: the device vanished; close and reopen later.
 */
int vg_source_read(struct vg_source *s, struct vg_source_frame *f, int timeout_ms);

/* Free what a frame holds (safe on an empty or already released frame). */
void vg_source_frame_release(struct vg_source_frame *f);

/* Close; NULL is a no-op. Frames already handed out stay valid until
 * released (a V4L2 source defers unmapping until they are). */
void vg_source_close(struct vg_source *s);

#endif
