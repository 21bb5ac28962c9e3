/*
 * source_v4l2.c - a V4L2 camera as a vigil source.
 *
 * Raw pictures are handed out without a copy: the AVFrame points into the
 * driver's mmap'd buffer, and the buffer goes back to the driver when the
 * last reference to the frame is dropped (av_buffer_create's free
 * callback). The source therefore outlives vg_source_close() until every
 * frame it handed out has been released; only then is the device closed.
 * Compressed pictures (MJPEG, H.264) are copied into padded packets: they
 * are small, and decoders may read past the end of their input.
 *
 * Under pressure the no-copy rule gives way: when all but SPARE_BUFFERS of
 * the driver's buffers are out (the encoder is slow for a moment, e.g.
 * closing one clip and opening the next), a picture is copied and its
 * buffer given straight back, so the driver always has buffers to fill and
 * the pipeline's queue, not the driver's few buffers, absorbs the delay.
 */
#define VG_LOG_MODULE "CAM"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/v4l2.h"
#include "source_impl.h"

struct v4l2_source {
	struct vg_source base;
	struct vg_v4l2 *cam;
	struct vg_v4l2_granted g;
	pthread_mutex_t lock;
	int outstanding;	/* frames handed out and not yet released */
	int closing;		/* vg_source_close() was called */
	int requeue_failed;	/* a buffer could not go back to the driver */
	uint64_t corrupt;	/* frames the driver flagged as corrupt */
	uint64_t copies;	/* pictures copied to spare the driver's buffers */
};

#define SPARE_BUFFERS 2

struct held_buf {
	struct v4l2_source *src;
	int index;
};

static void destroy(struct v4l2_source *s)
{
	vg_v4l2_close(s->cam);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Called by FFmpeg when the last reference to a wrapped frame goes. */
static void release_buf(void *opaque, uint8_t *data)
{
	struct held_buf *h = opaque;
	struct v4l2_source *s = h->src;
	int last;

	pthread_mutex_lock(&s->lock);
	/* A buffer the driver would not take back is lost to it: with too
	 * few left, capture stalls. The next read reports it so the camera
	 * is reopened (and the gap catalogued) instead. */
	if (!s->closing && vg_v4l2_requeue(s->cam, h->index) < 0)
		s->requeue_failed = 1;
	s->outstanding--;
	last = s->closing && s->outstanding == 0;
	pthread_mutex_unlock(&s->lock);
	free(h);
	if (last)
		destroy(s);
}

static enum AVPixelFormat av_format(enum vg_cam_format f)
{
	switch (f) {
	case VG_FMT_YUYV:
		return AV_PIX_FMT_YUYV422;
	case VG_FMT_NV12:
		return AV_PIX_FMT_NV12;
	case VG_FMT_YUV420:
		return AV_PIX_FMT_YUV420P;
	default:
		return AV_PIX_FMT_NONE;
	}
}

/* *out: buffers out with the pipeline, this one included. */
static int wrap_raw(struct v4l2_source *s, const struct vg_v4l2_buf *b, struct vg_source_frame *f,
		    int *out)
{
	const struct vg_v4l2_granted *g = &s->g;
	struct held_buf *h = malloc(sizeof(*h));
	AVFrame *fr = av_frame_alloc();
	int bpl = (int)g->bytesperline;
	int ret;

	if (h == NULL || fr == NULL)
		goto nomem;
	h->src = s;
	h->index = b->index;
	fr->buf[0] = av_buffer_create((uint8_t *)b->data, b->bytesused, release_buf, h,
				      AV_BUFFER_FLAG_READONLY);
	if (fr->buf[0] == NULL)
		goto nomem;
	pthread_mutex_lock(&s->lock);
	*out = ++s->outstanding;
	pthread_mutex_unlock(&s->lock);
	fr->format = av_format(g->format);
	fr->width = g->width;
	fr->height = g->height;
	/* Plane layout per the V4L2 single-planar formats: planes follow one
	 * another, chroma lines are half (YUV420) or equal (NV12) in length. */
	ret = av_image_fill_linesizes(fr->linesize, fr->format, g->width);
	if (ret < 0)
		goto bad;
	fr->linesize[0] = bpl;
	if (g->format == VG_FMT_NV12)
		fr->linesize[1] = bpl;
	else if (g->format == VG_FMT_YUV420)
		fr->linesize[1] = fr->linesize[2] = bpl / 2;
	ret = av_image_fill_pointers(fr->data, fr->format, g->height, (uint8_t *)b->data,
				     fr->linesize);
	if (ret < 0 || (size_t)ret > b->bytesused)
		goto bad;
	f->frame = fr;
	f->ts_utc_us = b->ts_utc_us;
	f->sequence = b->sequence;
	return 0;
bad:
	av_frame_free(&fr);	/* releases the buffer back to the driver */
	return -VG_EFORMAT;
nomem:
	free(h);
	av_frame_free(&fr);
	vg_v4l2_requeue(s->cam, b->index);
	return -VG_ENOMEM;
}

static int copy_packet(struct v4l2_source *s, const struct vg_v4l2_buf *b,
		       struct vg_source_frame *f)
{
	AVPacket *pkt = av_packet_alloc();
	int ret = -VG_ENOMEM;

	if (pkt && av_new_packet(pkt, (int)b->bytesused) == 0) {
		memcpy(pkt->data, b->data, b->bytesused);
		f->packet = pkt;
		f->ts_utc_us = b->ts_utc_us;
		f->sequence = b->sequence;
		pkt = NULL;
		ret = 0;
	}
	av_packet_free(&pkt);
	if (vg_v4l2_requeue(s->cam, b->index) < 0) {
		pthread_mutex_lock(&s->lock);
		s->requeue_failed = 1;
		pthread_mutex_unlock(&s->lock);
	}
	return ret;
}

/* Too few buffers left with the driver: give this one back now, keeping a
 * copy of the picture. */
static void copy_if_short(struct v4l2_source *s, struct vg_source_frame *f, int out)
{
	AVFrame *copy;

	if (out <= s->g.n_buffers - SPARE_BUFFERS)
		return;
	copy = av_frame_alloc();
	if (copy == NULL)
		return;	/* keep the driver's buffer: still a picture */
	copy->format = f->frame->format;
	copy->width = f->frame->width;
	copy->height = f->frame->height;
	if (av_frame_get_buffer(copy, 0) < 0 || av_frame_copy(copy, f->frame) < 0 ||
	    av_frame_copy_props(copy, f->frame) < 0) {
		av_frame_free(&copy);
		return;
	}
	s->copies++;
	av_frame_free(&f->frame);	/* the driver's buffer goes back */
	f->frame = copy;
}

static int v4l2_read(struct vg_source *base, struct vg_source_frame *f, int timeout_ms)
{
	struct v4l2_source *s = (struct v4l2_source *)base;
	struct vg_v4l2_buf b;
	int ret, out;

	pthread_mutex_lock(&s->lock);
	ret = s->requeue_failed;
	pthread_mutex_unlock(&s->lock);
	if (ret) {
		vg_warnx("the driver refused a buffer back (VIDIOC_QBUF failed): reopening the camera");
		return -VG_EIO;
	}
	for (;;) {
		ret = vg_v4l2_dequeue(s->cam, timeout_ms, &b);
		if (ret == -VG_EAGAIN)
			continue;
		if (ret < 0)
			return ret;
		if (!b.error)
			break;
		/* The driver says this picture is corrupt: drop it, and say so
		 * (the first time, then every 100th, so a bad cable is visible
		 * without flooding the log). */
		if (s->corrupt++ % 100 == 0)
			vg_warnx("the driver flagged a frame as corrupt (V4L2_BUF_FLAG_ERROR); "
				 "dropped (%llu so far)", (unsigned long long)s->corrupt);
		if (vg_v4l2_requeue(s->cam, b.index) < 0) {
			vg_warnx("the driver refused a buffer back: reopening the camera");
			return -VG_EIO;
		}
		timeout_ms = 0;
	}
	if (s->g.format == VG_FMT_MJPEG || s->g.format == VG_FMT_H264)
		return copy_packet(s, &b, f);
	ret = wrap_raw(s, &b, f, &out);
	if (ret == 0)
		copy_if_short(s, f, out);
	return ret;
}

static void v4l2_close(struct vg_source *base)
{
	struct v4l2_source *s = (struct v4l2_source *)base;
	int now;

	/* How often the encoder fell behind the driver this session. */
	if (s->copies > 0)
		vg_info("%s: %llu pictures copied out of the driver's buffers while the "
			"encoder was behind", s->base.info.label, (unsigned long long)s->copies);
	pthread_mutex_lock(&s->lock);
	s->closing = 1;
	now = s->outstanding == 0;
	pthread_mutex_unlock(&s->lock);
	if (now)
		destroy(s);
}

static const struct vg_source_ops v4l2_ops = {
	.kind = "v4l2",
	.read = v4l2_read,
	.close = v4l2_close,
};

int vg_source_v4l2_open(struct vg_source **out, const struct vg_camera_config *cam,
			char *why, size_t whylen)
{
	return vg_source_v4l2_open_ops(out, cam, &vg_v4l2_libv4l2_ops, why, whylen);
}

int vg_source_v4l2_open_ops(struct vg_source **out, const struct vg_camera_config *cam,
			    const struct vg_v4l2_ops *ops, char *why, size_t whylen)
{
	struct vg_v4l2_request req;
	struct v4l2_source *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -VG_ENOMEM;
	memset(&req, 0, sizeof(req));
	memcpy(req.formats, cam->formats, sizeof(req.formats));
	req.n_formats = cam->n_formats;
	req.width = cam->width;
	req.height = cam->height;
	req.fps_num = cam->fps_num;
	req.fps_den = cam->fps_den;
	req.n_buffers = 8;
	ret = vg_v4l2_open(&s->cam, cam->device, &req, ops, why, whylen);
	if (ret < 0) {
		free(s);
		return ret;
	}
	pthread_mutex_init(&s->lock, NULL);
	vg_v4l2_granted(s->cam, &s->g);
	s->base.ops = &v4l2_ops;
	s->base.info.width = s->g.width;
	s->base.info.height = s->g.height;
	s->base.info.pix_fmt = av_format(s->g.format);
	s->base.info.codec = s->g.format == VG_FMT_MJPEG  ? AV_CODEC_ID_MJPEG
			     : s->g.format == VG_FMT_H264 ? AV_CODEC_ID_H264
							  : AV_CODEC_ID_NONE;
	s->base.info.live = 1;
	s->base.info.wall_clock = 1;
	s->base.info.fps_num = s->g.fps_num;
	s->base.info.fps_den = s->g.fps_den;
	snprintf(s->base.info.label, sizeof(s->base.info.label), "%s %s %dx%d@%.2f",
		 cam->device, vg_cam_format_name(s->g.format), s->g.width, s->g.height,
		 s->g.fps_den ? (double)s->g.fps_num / s->g.fps_den : 0.0);
	if (s->g.width != cam->width || s->g.height != cam->height ||
	    (int64_t)s->g.fps_num * cam->fps_den != (int64_t)cam->fps_num * s->g.fps_den)
		vg_info("%s: asked for %dx%d@%d/%d, the driver granted %dx%d@%d/%d", cam->name,
			cam->width, cam->height, cam->fps_num, cam->fps_den, s->g.width,
			s->g.height, s->g.fps_num, s->g.fps_den);
	*out = &s->base;
	return 0;
}
