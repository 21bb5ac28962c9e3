/*
 * source_file.c - a camera played from a file of raw frames (benchmarks,
 * end-to-end tests, replaying a capture made for a bug report).
 *
 * The file is nothing but frames of cam->file_pix_fmt at cam->width x
 * cam->height, packed with no padding (av_image_get_buffer_size(..., 1)
 * bytes each), back to back. A trailing partial frame is ignored with one
 * warning. At the end the source either reports end of input or, with
 * cam->file_loop, starts again from the top with timestamps still rising.
 *
 * Frame k carries ts_utc_us = t0_utc + k * interval. With cam->file_realtime
 * frame k is also due at t0_mono + k * interval (t0: when the source opened)
 * and read() waits for it (a reader that falls behind gets the overdue
 * frames at once; a negative timeout_ms waits as long as it takes); without,
 * frames come as fast as read(2) gives them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/buffer.h>
#include <libavutil/imgutils.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>

#include "vigil/err.h"
#define VG_LOG_MODULE "FIL"
#include "vigil/log.h"
#include "source_impl.h"

struct filesrc {
	struct vg_source base;		/* first: source.c casts */
	int fd;
	char *path;
	AVBufferPool *pool;		/* one buffer per frame in flight */
	int frame_size;			/* bytes of one packed frame */
	int realtime;
	int loop;
	int64_t t0_mono_ns;
	int64_t t0_utc_us;
	int64_t k;			/* next frame's index, across loops */
	int64_t pass_frames;		/* whole frames read since the last rewind */
	int warned_partial;
};

static int file_read(struct vg_source *s, struct vg_source_frame *f, int timeout_ms);
static void file_close(struct vg_source *s);

static const struct vg_source_ops file_ops = {
	.kind = "file",
	.read = file_read,
	.close = file_close,
};

/* Read up to len bytes, short only at end of file; bytes read or -errno. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int vg_source_file_open(struct vg_source **out, const struct vg_camera_config *cam,
			char *why, size_t whylen)
{
	struct filesrc *fs = NULL;
	enum AVPixelFormat fmt;
	struct stat st;
	char errbuf[128];
	char fps[32];
	int ret;

	*out = NULL;
	fmt = cam->file_pix_fmt ? av_get_pix_fmt(cam->file_pix_fmt) : AV_PIX_FMT_NONE;
	if (fmt != AV_PIX_FMT_YUYV422 && fmt != AV_PIX_FMT_NV12 && fmt != AV_PIX_FMT_YUV420P) {
		snprintf(why, whylen, "file camera %s: pixel format \"%s\" is not supported; "
			 "expected yuyv422, nv12 or yuv420p", cam->name ? cam->name : "?",
			 cam->file_pix_fmt ? cam->file_pix_fmt : "(none)");
		return -VG_EFORMAT;
	}
	if (cam->fps_num <= 0 || cam->fps_den <= 0) {
		snprintf(why, whylen, "file camera %s: frame rate %d/%d is not positive",
			 cam->name ? cam->name : "?", cam->fps_num, cam->fps_den);
		return -VG_EINVAL;
	}
	ret = av_image_get_buffer_size(fmt, cam->width, cam->height, 1);
	if (ret <= 0) {
		snprintf(why, whylen, "file camera %s: size %dx%d is not valid for %s",
			 cam->name ? cam->name : "?", cam->width, cam->height, cam->file_pix_fmt);
		return -VG_EINVAL;
	}

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		goto nomem;
	fs->fd = -1;
	fs->base.ops = &file_ops;
	fs->frame_size = ret;
	fs->realtime = cam->file_realtime;
	fs->loop = cam->file_loop;
	fs->path = strdup(cam->device ? cam->device : "");
	if (!fs->path)
		goto nomem;

	fs->fd = open(fs->path, O_RDONLY | O_CLOEXEC);
	if (fs->fd < 0) {
		int e = errno;

		snprintf(why, whylen, "cannot open frame file %s: %s", fs->path,
			 strerror_r(e, errbuf, sizeof(errbuf)));
		ret = (e == ENOENT || e == ENODEV || e == ENXIO) ? -VG_ENODEV :
		      -vg_err_from_errno(e);
		goto fail;
	}
	/* A regular file with no whole frame would make loop mode spin. */
	if (fstat(fs->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < fs->frame_size) {
		snprintf(why, whylen, "frame file %s holds %lld bytes, less than one %dx%d %s "
			 "frame (%d bytes)", fs->path, (long long)st.st_size, cam->width,
			 cam->height, cam->file_pix_fmt, fs->frame_size);
		ret = -VG_EFORMAT;
		goto fail;
	}
	/* Padding: SIMD converters and encoders may read a little past the
	 * last row; the pool reuses buffers, so this costs nothing per frame. */
	fs->pool = av_buffer_pool_init((size_t)fs->frame_size + AV_INPUT_BUFFER_PADDING_SIZE,
				       NULL);
	if (!fs->pool)
		goto nomem;

	fs->t0_mono_ns = vg_source_clock_ns(CLOCK_MONOTONIC);
	fs->t0_utc_us = vg_source_clock_ns(CLOCK_REALTIME) / 1000;
	fs->base.info.width = cam->width;
	fs->base.info.height = cam->height;
	fs->base.info.pix_fmt = fmt;
	fs->base.info.codec = AV_CODEC_ID_NONE;
	fs->base.info.fps_num = cam->fps_num;
	fs->base.info.fps_den = cam->fps_den;
	fs->base.info.synthetic = 0;
	fs->base.info.live = cam->file_realtime;
	if (cam->fps_den == 1)
		snprintf(fps, sizeof(fps), "%d", cam->fps_num);
	else
		snprintf(fps, sizeof(fps), "%d/%d", cam->fps_num, cam->fps_den);
	snprintf(fs->base.info.label, sizeof(fs->base.info.label), "file %s %s %dx%d@%s",
		 fs->path, av_get_pix_fmt_name(fmt), cam->width, cam->height, fps);
	*out = &fs->base;
	return 0;

nomem:
	snprintf(why, whylen, "out of memory opening frame file %s",
		 cam->device ? cam->device : "?");
	ret = -VG_ENOMEM;
fail:
	if (fs)
		file_close(&fs->base);
	return ret;
}

/* Wrap a filled pool buffer in an AVFrame (takes the buffer reference). */
static AVFrame *wrap_frame(struct filesrc *fs, AVBufferRef *buf)
{
	const struct vg_source_info *in = &fs->base.info;
	AVFrame *frame = av_frame_alloc();

	if (!frame) {
		av_buffer_unref(&buf);
		return NULL;
	}
	frame->buf[0] = buf;
	av_image_fill_arrays(frame->data, frame->linesize, buf->data, in->pix_fmt,
			     in->width, in->height, 1);
	frame->format = in->pix_fmt;
	frame->width = in->width;
	frame->height = in->height;
	frame->pts = fs->k;	/* in 1/fps, as the synthetic source does */
	return frame;
}

static int file_read(struct vg_source *s, struct vg_source_frame *f, int timeout_ms)
{
	struct filesrc *fs = (struct filesrc *)s;
	const struct vg_source_info *in = &s->info;
	AVBufferRef *buf;
	ssize_t n;
	int ret;

	if (fs->realtime) {
		int64_t due = fs->t0_mono_ns +
			      av_rescale(fs->k, (int64_t)1000000000 * in->fps_den, in->fps_num);

		ret = vg_source_pace(due, timeout_ms);
		if (ret < 0)
			return ret;
	}
	buf = av_buffer_pool_get(fs->pool);
	if (!buf)
		return -VG_ENOMEM;
	for (;;) {
		n = read_full(fs->fd, buf->data, (size_t)fs->frame_size);
		if (n < 0) {
			errno = (int)-n;
			vg_warn("reading frame file %s", fs->path);
			av_buffer_unref(&buf);
			return -vg_err_from_errno((int)-n);
		}
		if (n == fs->frame_size)
			break;
		if (n > 0 && !fs->warned_partial) {
			vg_warnx("frame file %s ends with a partial frame (%zd of %d bytes); "
				 "ignoring it", fs->path, n, fs->frame_size);
			fs->warned_partial = 1;
		}
		/* A pass without one whole frame (file truncated since open)
		 * would loop for ever: treat it as the end. */
		if (!fs->loop || fs->pass_frames == 0) {
			av_buffer_unref(&buf);
			return 1;
		}
		if (lseek(fs->fd, 0, SEEK_SET) < 0) {
			vg_warn("cannot rewind frame file %s", fs->path);
			av_buffer_unref(&buf);
			return -VG_EIO;
		}
		fs->pass_frames = 0;
	}
	f->frame = wrap_frame(fs, buf);
	if (!f->frame)
		return -VG_ENOMEM;
	f->ts_utc_us = fs->t0_utc_us + av_rescale(fs->k, (int64_t)1000000 * in->fps_den,
						  in->fps_num);
	f->sequence = (uint32_t)fs->k;
	fs->k++;
	fs->pass_frames++;
	return 0;
}

static void file_close(struct vg_source *s)
{
	struct filesrc *fs = (struct filesrc *)s;

	if (fs->fd >= 0)
		close(fs->fd);
	/* Frames handed out keep their buffers; the pool itself goes when
	 * the last of them is released. */
	av_buffer_pool_uninit(&fs->pool);
	free(fs->path);
	free(fs);
}
