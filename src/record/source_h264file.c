/*
 * source_h264file.c - a file of H.264 (Annex B) as a camera that delivers
 * H.264 itself: device = "file:PATH", pixel_format = "h264". The stream is
 * split into access units with libavcodec's H.264 parser and handed out as
 * packets, so the pipeline takes its pass-through path exactly as it would
 * for a camera with an on-board encoder. With loop = true the file plays
 * again from the top (a fresh parser each time), timestamps still rising.
 */
#define VG_LOG_MODULE "CAM"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"
#include "source_impl.h"

#define READ_CHUNK 65536

struct h264src {
	struct vg_source base;
	int fd;
	AVCodecParserContext *parser;
	AVCodecContext *ctx;	/* the parser wants one; never opened */
	uint8_t *buf;		/* READ_CHUNK + padding */
	size_t len, pos;
	int eof;
	int loop;
	uint32_t pass_units;	/* access units handed out since the top */
	int realtime;
	int64_t t0_mono_ns, t0_utc_us, frame_ns;
	uint32_t k;
};

static int h264_read(struct vg_source *s, struct vg_source_frame *f, int timeout_ms);
static void h264_close(struct vg_source *s);

static const struct vg_source_ops h264_ops = {
	.kind = "file-h264",
	.read = h264_read,
	.close = h264_close,
};

int vg_source_h264file_open(struct vg_source **out, const struct vg_camera_config *cam,
			    char *why, size_t whylen)
{
	struct h264src *hs = calloc(1, sizeof(*hs));
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
	if (hs == NULL)
		return -VG_ENOMEM;
	hs->fd = open(cam->device, O_RDONLY | O_CLOEXEC);
	if (hs->fd < 0) {
		snprintf(why, whylen, "%s: cannot open %s: %m", cam->name, cam->device);
		free(hs);
		return -VG_ENODEV;
	}
	hs->parser = av_parser_init(AV_CODEC_ID_H264);
	hs->ctx = codec ? avcodec_alloc_context3(codec) : NULL;
	hs->buf = av_mallocz(READ_CHUNK + AV_INPUT_BUFFER_PADDING_SIZE);
	if (hs->parser == NULL || hs->ctx == NULL || hs->buf == NULL) {
		h264_close(&hs->base);
		return -VG_ENOMEM;
	}
	hs->realtime = cam->file_realtime;
	hs->loop = cam->file_loop;
	hs->frame_ns = (int64_t)1000000000 * cam->fps_den / cam->fps_num;
	hs->t0_mono_ns = vg_source_clock_ns(CLOCK_MONOTONIC);
	hs->t0_utc_us = vg_time_now_us();
	hs->base.ops = &h264_ops;
	hs->base.info.width = cam->width;
	hs->base.info.height = cam->height;
	hs->base.info.pix_fmt = AV_PIX_FMT_NONE;
	hs->base.info.codec = AV_CODEC_ID_H264;
	hs->base.info.fps_num = cam->fps_num;
	hs->base.info.fps_den = cam->fps_den;
	hs->base.info.live = cam->file_realtime;
	snprintf(hs->base.info.label, sizeof(hs->base.info.label), "file %s h264 %dx%d",
		 cam->device, cam->width, cam->height);
	*out = &hs->base;
	return 0;
}

/* Back to the top of the file for another pass. The parser is made
 * afresh: the last pass's flush left it at the end of a stream. */
static int rewind_file(struct h264src *hs)
{
	AVCodecParserContext *p = av_parser_init(AV_CODEC_ID_H264);

	if (p == NULL)
		return -VG_ENOMEM;
	if (lseek(hs->fd, 0, SEEK_SET) < 0) {
		av_parser_close(p);
		return -VG_EIO;
	}
	av_parser_close(hs->parser);
	hs->parser = p;
	hs->len = hs->pos = 0;
	hs->eof = 0;
	hs->pass_units = 0;
	return 0;
}

static int h264_read(struct vg_source *s, struct vg_source_frame *f, int timeout_ms)
{
	struct h264src *hs = (struct h264src *)s;
	int ret = hs->realtime ? vg_source_pace(hs->t0_mono_ns + (int64_t)hs->k * hs->frame_ns,
						timeout_ms)
			       : 0;

	if (ret < 0)
		return ret;
	for (;;) {
		uint8_t *out = NULL;
		int out_len = 0, used;

		if (hs->pos == hs->len && !hs->eof) {
			ssize_t n = read(hs->fd, hs->buf, READ_CHUNK);

			if (n < 0)
				return -VG_EIO;
			hs->len = (size_t)n;
			hs->pos = 0;
			hs->eof = n == 0;
		}
		/* At the end an empty call flushes the parser's last unit. */
		used = av_parser_parse2(hs->parser, hs->ctx, &out, &out_len, hs->buf + hs->pos,
					(int)(hs->len - hs->pos), AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
		if (used < 0)
			return -VG_EFORMAT;
		hs->pos += (size_t)used;
		if (out_len > 0) {
			f->packet = av_packet_alloc();
			if (f->packet == NULL || av_new_packet(f->packet, out_len) < 0)
				return -VG_ENOMEM;
			memcpy(f->packet->data, out, (size_t)out_len);
			if (hs->parser->key_frame == 1)
				f->packet->flags |= AV_PKT_FLAG_KEY;
			f->ts_utc_us = hs->t0_utc_us + (int64_t)hs->k * hs->frame_ns / 1000;
			f->sequence = hs->k++;
			hs->pass_units++;
			return 0;
		}
		if (hs->eof && hs->pos == hs->len) {
			/* A file without a whole access unit would loop for
			 * ever: that is its end. */
			if (!hs->loop || hs->pass_units == 0)
				return 1;
			ret = rewind_file(hs);
			if (ret < 0)
				return ret;
		}
	}
}

static void h264_close(struct vg_source *s)
{
	struct h264src *hs = (struct h264src *)s;

	if (hs->fd >= 0)
		close(hs->fd);
	av_parser_close(hs->parser);
	avcodec_free_context(&hs->ctx);
	av_free(hs->buf);
	free(hs);
}
