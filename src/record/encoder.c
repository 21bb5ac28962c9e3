/*
 * encoder.c - libavcodec H.264 encoding with libx264 fallback and a
 * libswscale stage only for formats the encoder cannot read in place.
 */
#define VG_LOG_MODULE "ENC"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "vigil/encoder.h"
#include "vigil/err.h"
#include "vigil/log.h"

struct vg_encoder {
	AVCodecContext *ctx;
	/* Conversion into the encoder's format, made for the format frames
	 * actually come in (which may change: the overlay's filter graph
	 * gives yuv422p for a yuyv422 camera). */
	struct SwsContext *sws;
	AVBufferPool *pool;	/* pictures in the encoder's format */
	int pool_size;
};

static int codec_takes(const AVCodec *codec, enum AVPixelFormat fmt)
{
	if (codec->pix_fmts == NULL)
		return 0;
	for (const enum AVPixelFormat *p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
		if (*p == fmt)
			return 1;
	return 0;
}

/* The encoder's own format for a converted picture: NV12 for the
 * hardware encoders that prefer it, else YUV420P. */
static enum AVPixelFormat conversion_target(const AVCodec *codec)
{
	if (codec_takes(codec, AV_PIX_FMT_YUV420P))
		return AV_PIX_FMT_YUV420P;
	if (codec_takes(codec, AV_PIX_FMT_NV12))
		return AV_PIX_FMT_NV12;
	return codec->pix_fmts ? codec->pix_fmts[0] : AV_PIX_FMT_YUV420P;
}

int vg_encoder_threads_for(int streams, int cores)
{
	int share;

	if (streams < 1)
		streams = 1;
	if (cores < 1)
		cores = 1;
	share = cores / streams;
	/* Beyond 8, x264's frame threads only add delay and memory. */
	return share < 1 ? 1 : share > 8 ? 8 : share;
}

static int online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

/* x264's own settings for a box of many cameras (encoder.h): closed GOPs
 * only (a clip starting at a keyframe decodes alone), no scene cuts (the
 * keyframes stay where the GOP and the clip cuts put them), a short
 * lookahead, no sync lookahead, frame threads rather than slices, and
 * rate control at the camera's nominal rate (force-cfr): the timestamps
 * still go into the clip as captured, but a picture that comes late
 * after lost ones is not taken for a change of frame rate. x264 read
 * such a gap as time to spend bits in and spent 13 times the bits and
 * 2.4 times the CPU on a still scene with every other picture lost, so
 * a box that fell behind lost ever more (docs/performance.md, stop 25). */
static void x264_settings(AVCodecContext *c, const struct vg_encoder_params *p)
{
	const char *preset = p->preset ? p->preset : "veryfast";

	av_opt_set(c->priv_data, "preset", preset, 0);
	if (p->bitrate_kbps <= 0)	/* crf 0 is lossless, a valid choice */
		av_opt_set_double(c->priv_data, "crf", p->crf, 0);
	av_opt_set_int(c->priv_data, "forced-idr", 1, 0);
	/* ultrafast and superfast use no lookahead (and no macroblock-tree):
	 * giving them one would only cost memory. */
	if (strcmp(preset, "ultrafast") != 0 && strcmp(preset, "superfast") != 0)
		av_opt_set_int(c->priv_data, "rc-lookahead", VG_ENC_LOOKAHEAD, 0);
	av_opt_set(c->priv_data, "x264-params",
		   "open-gop=0:scenecut=0:sync-lookahead=0:sliced-threads=0:force-cfr=1", 0);
}

static int open_codec(struct vg_encoder *e, const AVCodec *codec,
		      const struct vg_encoder_params *p, char *why, size_t whylen)
{
	AVCodecContext *c;
	enum AVPixelFormat fmt;
	char err[AV_ERROR_MAX_STRING_SIZE];
	int ret;

	c = avcodec_alloc_context3(codec);
	if (c == NULL)
		return -VG_ENOMEM;
	fmt = codec_takes(codec, p->in_fmt) ? p->in_fmt : conversion_target(codec);
	c->width = p->width;
	c->height = p->height;
	c->pix_fmt = fmt;
	c->time_base = p->time_base;
	c->framerate = (AVRational){ p->fps_num, p->fps_den };
	c->gop_size = p->gop > 0 ? p->gop : 2 * p->fps_num / (p->fps_den ? p->fps_den : 1);
	c->max_b_frames = 0;
	c->thread_count = p->threads > 0 ? p->threads
					 : vg_encoder_threads_for(p->streams, online_cores());
	/* Frame threads: slices would cost bitrate and memory per slice. */
	c->thread_type = FF_THREAD_FRAME;
	/* The muxer needs SPS/PPS in extradata for the MP4 avcC box. */
	c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	if (p->bitrate_kbps > 0) {
		c->bit_rate = (int64_t)p->bitrate_kbps * 1000;
		c->rc_max_rate = c->bit_rate * 3 / 2;
		c->rc_buffer_size = (int)(c->bit_rate * 2);
	}
	if (strcmp(codec->name, "libx264") == 0)
		x264_settings(c, p);
	ret = avcodec_open2(c, codec, NULL);
	if (ret < 0) {
		av_strerror(ret, err, sizeof(err));
		snprintf(why, whylen, "encoder %s refused %dx%d %s: %s", codec->name, p->width,
			 p->height, av_get_pix_fmt_name(fmt), err);
		avcodec_free_context(&c);
		return -VG_ECODEC;
	}
	e->ctx = c;
	return 0;
}

int vg_encoder_open(struct vg_encoder **out, const struct vg_encoder_params *p,
		    char *why, size_t whylen)
{
	const char *name = p->encoder ? p->encoder : "libx264";
	const AVCodec *codec;
	struct vg_encoder *e;
	int ret = -VG_ECODEC;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -VG_ENOMEM;

	codec = avcodec_find_encoder_by_name(name);
	if (codec && codec->id == AV_CODEC_ID_H264)
		ret = open_codec(e, codec, p, why, whylen);
	else
		snprintf(why, whylen, "no H.264 encoder named %s in this FFmpeg build", name);
	if (ret < 0 && strcmp(name, "libx264") != 0) {
		vg_warnx("%s; falling back to libx264", why);
		codec = avcodec_find_encoder_by_name("libx264");
		if (codec)
			ret = open_codec(e, codec, p, why, whylen);
	}
	if (ret < 0)
		goto err;

	e->pool_size = av_image_get_buffer_size(e->ctx->pix_fmt, p->width, p->height, 64);
	e->pool = e->pool_size > 0 ? av_buffer_pool_init((size_t)e->pool_size, NULL) : NULL;
	if (e->pool == NULL) {
		ret = -VG_ENOMEM;
		goto err;
	}
	/* Find out now, not at the first picture, whether the camera's
	 * format can be converted. */
	if (e->ctx->pix_fmt != p->in_fmt) {
		e->sws = sws_getContext(p->width, p->height, p->in_fmt, p->width, p->height,
					e->ctx->pix_fmt, SWS_BILINEAR, NULL, NULL, NULL);
		if (e->sws == NULL) {
			snprintf(why, whylen, "cannot convert %s to %s",
				 av_get_pix_fmt_name(p->in_fmt), av_get_pix_fmt_name(e->ctx->pix_fmt));
			ret = -VG_EFORMAT;
			goto err;
		}
	}
	*out = e;
	return 0;
err:
	vg_encoder_free(e);
	return ret;
}

int vg_encoder_convert(struct vg_encoder *e, const AVFrame *in, AVFrame **out)
{
	const AVCodecContext *c = e->ctx;
	AVFrame *f;
	int ret;

	*out = NULL;
	if (in->width != c->width || in->height != c->height)
		return -VG_EFORMAT;	/* the encoder cannot change size */
	if (in->format == c->pix_fmt) {
		*out = av_frame_clone(in);
		return *out ? 0 : -VG_ENOMEM;
	}
	e->sws = sws_getCachedContext(e->sws, in->width, in->height, in->format, c->width,
				      c->height, c->pix_fmt, SWS_BILINEAR, NULL, NULL, NULL);
	if (e->sws == NULL)
		return -VG_EFORMAT;
	f = av_frame_alloc();
	if (f == NULL)
		return -VG_ENOMEM;
	/* A buffer from the pool, not a fresh allocation per picture: a
	 * 720p picture is above malloc's mmap threshold, and every fresh
	 * mapping costs hundreds of page faults. */
	f->buf[0] = av_buffer_pool_get(e->pool);
	if (f->buf[0] == NULL) {
		av_frame_free(&f);
		return -VG_ENOMEM;
	}
	f->format = c->pix_fmt;
	f->width = c->width;
	f->height = c->height;
	ret = av_image_fill_arrays(f->data, f->linesize, f->buf[0]->data, c->pix_fmt, c->width,
				   c->height, 64);
	if (ret < 0) {
		av_frame_free(&f);
		return -VG_EFORMAT;
	}
	sws_scale(e->sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height, f->data,
		  f->linesize);
	/* pts, and pict_type: the pipeline forces keyframes to cut clips. */
	av_frame_copy_props(f, in);
	*out = f;
	return 0;
}

int vg_encoder_send(struct vg_encoder *e, const AVFrame *frame)
{
	AVFrame *conv = NULL;
	int ret;

	if (frame && frame->format != e->ctx->pix_fmt) {
		ret = vg_encoder_convert(e, frame, &conv);
		if (ret < 0)
			return ret;
		frame = conv;
	}
	ret = avcodec_send_frame(e->ctx, frame);
	av_frame_free(&conv);	/* the encoder holds its own reference */
	if (ret == AVERROR(EAGAIN))
		return -VG_EAGAIN;
	if (ret < 0 && ret != AVERROR_EOF)
		return -VG_ECODEC;
	return 0;
}

int vg_encoder_receive(struct vg_encoder *e, AVPacket *pkt)
{
	int ret = avcodec_receive_packet(e->ctx, pkt);

	if (ret == AVERROR(EAGAIN))
		return -VG_EAGAIN;
	if (ret == AVERROR_EOF)
		return 1;
	if (ret < 0)
		return -VG_ECODEC;
	return 0;
}

const AVCodecContext *vg_encoder_context(const struct vg_encoder *e)
{
	return e->ctx;
}

enum AVPixelFormat vg_encoder_pix_fmt(const struct vg_encoder *e)
{
	return e->ctx->pix_fmt;
}

const char *vg_encoder_name(const struct vg_encoder *e)
{
	return e->ctx->codec->name;
}

void vg_encoder_free(struct vg_encoder *e)
{
	if (e == NULL)
		return;
	avcodec_free_context(&e->ctx);
	sws_freeContext(e->sws);
	av_buffer_pool_uninit(&e->pool);
	free(e);
}
