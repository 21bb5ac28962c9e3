/*
 * fake_v4l2.c - a strict in-memory V4L2 capture driver; see fake_v4l2.h.
 *
 * The rules it enforces are those of the V4L2 spec and of vb2, the buffer
 * framework nearly every capture driver (vivid, uvcvideo) is built on,
 * plus vigil's own teardown order (unmap, REQBUFS 0, then close), which the
 * spec permits to differ but vivid's reconnect logic relies on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/videodev2.h>

#include "fake_v4l2.h"

#define FAKE_FD 1000
#define MAX_BUFS 32
#define OFFSET_STEP 0x1000000u	/* 16 MiB between mmap offsets, page aligned */

struct fbuf {
	uint8_t *mem;
	uint32_t length;
	int queued;
	int mapped;
};

struct ioctl_fault {
	unsigned long req;
	unsigned skip;
	int err;
};

static struct {
	pthread_mutex_t lock;
	struct fake_v4l2_config cfg;
	int open;
	int open_flags;
	int vanished;
	unsigned long vanish_on;
	int fail_open;
	struct ioctl_fault faults[8];
	int n_faults;
	int mmap_fail_err;
	unsigned mmap_fail_skip;
	int dq_err, dq_err_count;
	uint32_t refuse;
	int error_next;
	int stall;
	int subscribed;
	int event_pending;
	int frame_w, frame_h;	/* input size after a source change, 0 if none */
	/* current format */
	uint32_t fourcc;
	uint32_t width, height, bpl, sizeimage;
	uint32_t tpf_num, tpf_den;
	/* buffers */
	struct fbuf bufs[MAX_BUFS];
	unsigned n_bufs;
	unsigned fifo[MAX_BUFS];
	unsigned fifo_head, fifo_len;
	int streaming;
	uint32_t sequence;
	int streamoffs, releases;
} F = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Protocol violation: release our lock (fail_msg longjmps) and fail. */
#define VIOLATION(...)                              \
	do {                                        \
		pthread_mutex_unlock(&F.lock);      \
		fail_msg("fake_v4l2: " __VA_ARGS__); \
	} while (0)

void fake_v4l2_default_config(struct fake_v4l2_config *c)
{
	memset(c, 0, sizeof(*c));
	c->path = "/dev/video0";
	c->caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
	c->formats[0].fourcc = V4L2_PIX_FMT_YUYV;
	c->formats[1].fourcc = V4L2_PIX_FMT_MJPEG;
	c->formats[2].fourcc = V4L2_PIX_FMT_RGB24;
	c->formats[2].flags = V4L2_FMT_FLAG_EMULATED;
	c->n_formats = 3;
	c->sizes[0][0] = 640;
	c->sizes[0][1] = 480;
	c->sizes[1][0] = 1280;
	c->sizes[1][1] = 720;
	c->sizes[2][0] = 1920;
	c->sizes[2][1] = 1080;
	c->n_sizes = 3;
	c->tpf[0][0] = 1;
	c->tpf[0][1] = 30;
	c->tpf[1][0] = 1;
	c->tpf[1][1] = 15;
	c->tpf[2][0] = 1;
	c->tpf[2][1] = 5;
	c->n_rates = 3;
	c->min_buffers = 2;
	c->max_buffers = 8;
	c->ts_flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
	c->events = 1;
}

static void free_bufs(void)
{
	for (unsigned i = 0; i < MAX_BUFS; i++) {
		if (F.bufs[i].mem != NULL)
			munmap(F.bufs[i].mem, F.bufs[i].length);
		memset(&F.bufs[i], 0, sizeof(F.bufs[i]));
	}
	F.n_bufs = 0;
	F.fifo_head = F.fifo_len = 0;
}

void fake_v4l2_reset(const struct fake_v4l2_config *c)
{
	/* A failed test may have left the lock held by a longjmp. */
	pthread_mutex_init(&F.lock, NULL);
	free_bufs();
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.lock, NULL);
	F.cfg = *c;
	F.mmap_fail_err = 0;
}

/* ---- injection ---- */

void fake_v4l2_fail_open(int err)
{
	F.fail_open = err;
}

void fake_v4l2_fail_ioctl(unsigned long req, unsigned skip, int err)
{
	pthread_mutex_lock(&F.lock);
	if (F.n_faults < 8) {
		F.faults[F.n_faults].req = req;
		F.faults[F.n_faults].skip = skip;
		F.faults[F.n_faults].err = err;
		F.n_faults++;
	}
	pthread_mutex_unlock(&F.lock);
}

void fake_v4l2_fail_mmap(unsigned skip, int err)
{
	F.mmap_fail_skip = skip;
	F.mmap_fail_err = err;
}

void fake_v4l2_dqbuf_errno(int err, int count)
{
	pthread_mutex_lock(&F.lock);
	F.dq_err = err;
	F.dq_err_count = count;
	pthread_mutex_unlock(&F.lock);
}

void fake_v4l2_vanish(void)
{
	pthread_mutex_lock(&F.lock);
	F.vanished = 1;
	pthread_mutex_unlock(&F.lock);
}

void fake_v4l2_vanish_on(unsigned long req)
{
	F.vanish_on = req;
}

void fake_v4l2_refuse_format(uint32_t substitute)
{
	F.refuse = substitute;
}

void fake_v4l2_source_change(int w, int h)
{
	pthread_mutex_lock(&F.lock);
	F.frame_w = w;
	F.frame_h = h;
	F.cfg.sizes[0][0] = w;
	F.cfg.sizes[0][1] = h;
	F.cfg.n_sizes = 1;
	if (F.subscribed)
		F.event_pending = 1;
	pthread_mutex_unlock(&F.lock);
}

void fake_v4l2_next_error_flag(void)
{
	F.error_next = 1;
}

void fake_v4l2_drop_frames(uint32_t n)
{
	pthread_mutex_lock(&F.lock);
	F.sequence += n;
	pthread_mutex_unlock(&F.lock);
}

void fake_v4l2_set_sequence(uint32_t seq)
{
	pthread_mutex_lock(&F.lock);
	F.sequence = seq;
	pthread_mutex_unlock(&F.lock);
}

void fake_v4l2_stall(int on)
{
	pthread_mutex_lock(&F.lock);
	F.stall = on;
	pthread_mutex_unlock(&F.lock);
}

void fake_v4l2_get_stats(struct fake_v4l2_stats *s)
{
	pthread_mutex_lock(&F.lock);
	memset(s, 0, sizeof(*s));
	s->open_fds = F.open;
	for (unsigned i = 0; i < MAX_BUFS; i++)
		s->mappings += F.bufs[i].mapped;
	s->streaming = F.streaming;
	s->queued = (int)F.fifo_len;
	s->open_flags = F.open_flags;
	s->streamoffs = F.streamoffs;
	s->releases = F.releases;
	s->frames = F.sequence;
	pthread_mutex_unlock(&F.lock);
}

void fake_v4l2_assert_clean(void)
{
	pthread_mutex_lock(&F.lock);
	if (F.open)
		VIOLATION("leak: the device handle is still open");
	for (unsigned i = 0; i < MAX_BUFS; i++)
		if (F.bufs[i].mapped)
			VIOLATION("leak: buffer %u is still mapped", i);
	if (F.n_bufs)
		VIOLATION("leak: %u buffers still allocated (no REQBUFS 0)", F.n_bufs);
	pthread_mutex_unlock(&F.lock);
}

/* ---- helpers ---- */

static void check_fd(int fd, const char *what)
{
	if (!F.open || fd != FAKE_FD)
		VIOLATION("%s on fd %d, which is not an open handle of the device", what, fd);
}

static int take_fault(unsigned long req)
{
	for (int i = 0; i < F.n_faults; i++) {
		if (F.faults[i].req != req)
			continue;
		if (F.faults[i].skip > 0) {
			F.faults[i].skip--;
			continue;
		}
		int err = F.faults[i].err;

		F.faults[i] = F.faults[--F.n_faults];
		return err;
	}
	return 0;
}

static void image_size(uint32_t fourcc, uint32_t w, uint32_t h, uint32_t *bpl, uint32_t *size)
{
	switch (fourcc) {
	case V4L2_PIX_FMT_YUYV:
		*bpl = w * 2;
		*size = w * 2 * h;
		break;
	case V4L2_PIX_FMT_NV12:
	case V4L2_PIX_FMT_YUV420:
		*bpl = w;
		*size = w * h * 3 / 2;
		break;
	case V4L2_PIX_FMT_RGB24:
		*bpl = w * 3;
		*size = w * 3 * h;
		break;
	default:	/* compressed: worst case, no line length */
		*bpl = 0;
		*size = w * h * 2;
		break;
	}
}

static int offered(uint32_t fourcc)
{
	for (int i = 0; i < F.cfg.n_formats; i++)
		if (F.cfg.formats[i].fourcc == fourcc)
			return 1;
	return 0;
}

static int64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void check_buf_arg(const struct v4l2_buffer *b, const char *what)
{
	if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		VIOLATION("%s with buffer type %u, not VIDEO_CAPTURE", what, b->type);
	if (b->memory != V4L2_MEMORY_MMAP)
		VIOLATION("%s with memory %u, not MMAP", what, b->memory);
}

/* ---- ioctls ---- */

static int do_querycap(struct v4l2_capability *cap)
{
	memset(cap, 0, sizeof(*cap));
	snprintf((char *)cap->driver, sizeof(cap->driver), "fake");
	snprintf((char *)cap->card, sizeof(cap->card), "vigil fake camera");
	snprintf((char *)cap->bus_info, sizeof(cap->bus_info), "platform:fake");
	cap->version = 0x060100;
	cap->device_caps = F.cfg.caps;
	cap->capabilities = F.cfg.caps | V4L2_CAP_DEVICE_CAPS;
	return 0;
}

static int do_enum_fmt(struct v4l2_fmtdesc *d)
{
	uint32_t index = d->index;

	if (d->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		VIOLATION("ENUM_FMT with type %u", d->type);
	if (index >= (uint32_t)F.cfg.n_formats) {
		errno = EINVAL;
		return -1;
	}
	memset(d, 0, sizeof(*d));
	d->index = index;
	d->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	d->pixelformat = F.cfg.formats[index].fourcc;
	d->flags = F.cfg.formats[index].flags;
	snprintf((char *)d->description, sizeof(d->description), "fake %u", index);
	return 0;
}

static int do_s_fmt(struct v4l2_format *f)
{
	struct v4l2_pix_format *p = &f->fmt.pix;
	long best = -1;
	int bi = 0;

	if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		VIOLATION("S_FMT with type %u", f->type);
	if (F.n_bufs)
		VIOLATION("S_FMT while buffers are allocated (the kernel says EBUSY)");
	if (F.refuse)
		p->pixelformat = F.refuse;
	else if (!offered(p->pixelformat))
		p->pixelformat = F.cfg.formats[0].fourcc;
	for (int i = 0; i < F.cfg.n_sizes; i++) {
		long d = labs((long)F.cfg.sizes[i][0] - (long)p->width) +
			 labs((long)F.cfg.sizes[i][1] - (long)p->height);

		if (best < 0 || d < best) {
			best = d;
			bi = i;
		}
	}
	p->width = (uint32_t)F.cfg.sizes[bi][0];
	p->height = (uint32_t)F.cfg.sizes[bi][1];
	p->field = V4L2_FIELD_NONE;
	image_size(p->pixelformat, p->width, p->height, &p->bytesperline, &p->sizeimage);
	p->colorspace = V4L2_COLORSPACE_SRGB;
	F.fourcc = p->pixelformat;
	F.width = p->width;
	F.height = p->height;
	F.bpl = p->bytesperline;
	F.sizeimage = p->sizeimage;
	F.frame_w = F.frame_h = 0;
	return 0;
}

static int do_parm(struct v4l2_streamparm *s, int set)
{
	if (s->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		VIOLATION("%s_PARM with type %u", set ? "S" : "G", s->type);
	if (F.cfg.n_rates == 0) {
		errno = ENOTTY;
		return -1;
	}
	if (set) {
		struct v4l2_fract *t = &s->parm.capture.timeperframe;
		double want = t->numerator ? (double)t->denominator / t->numerator : 0;
		double best = -1;
		int bi = 0;

		for (int i = 0; want > 0 && i < F.cfg.n_rates; i++) {
			double fps = (double)F.cfg.tpf[i][1] / F.cfg.tpf[i][0];
			double d = fps > want ? fps - want : want - fps;

			if (best < 0 || d < best) {
				best = d;
				bi = i;
			}
		}
		F.tpf_num = F.cfg.tpf[bi][0];
		F.tpf_den = F.cfg.tpf[bi][1];
	}
	memset(&s->parm, 0, sizeof(s->parm));
	s->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
	s->parm.capture.timeperframe.numerator = F.tpf_num ? F.tpf_num : F.cfg.tpf[0][0];
	s->parm.capture.timeperframe.denominator = F.tpf_den ? F.tpf_den : F.cfg.tpf[0][1];
	s->parm.capture.readbuffers = 0;
	return 0;
}

static int do_subscribe(struct v4l2_event_subscription *sub)
{
	if (!F.cfg.events || sub->type != V4L2_EVENT_SOURCE_CHANGE) {
		errno = EINVAL;
		return -1;
	}
	F.subscribed = 1;
	return 0;
}

static int do_dqevent(struct v4l2_event *ev)
{
	if (!F.event_pending) {
		errno = ENOENT;
		return -1;
	}
	memset(ev, 0, sizeof(*ev));
	ev->type = V4L2_EVENT_SOURCE_CHANGE;
	ev->u.src_change.changes = V4L2_EVENT_SRC_CH_RESOLUTION;
	ev->pending = 0;
	F.event_pending = 0;
	return 0;
}

static int do_reqbufs(struct v4l2_requestbuffers *rb)
{
	unsigned n;

	if (rb->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || rb->memory != V4L2_MEMORY_MMAP)
		VIOLATION("REQBUFS with type %u memory %u", rb->type, rb->memory);
	if (rb->flags || rb->reserved[0] || rb->reserved[1] || rb->reserved[2])
		VIOLATION("REQBUFS with non-zero flags/reserved fields");
	if (F.streaming)
		VIOLATION("REQBUFS while streaming (the kernel says EBUSY)");
	for (unsigned i = 0; i < F.n_bufs; i++)
		if (F.bufs[i].mapped)
			VIOLATION("REQBUFS %u while buffer %u is still mapped", rb->count, i);
	if (rb->count == 0) {
		F.releases++;
		free_bufs();
		if (F.vanished) {
			errno = ENODEV;
			return -1;
		}
		rb->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
		return 0;
	}
	if (F.vanished) {
		errno = ENODEV;
		return -1;
	}
	if (F.n_bufs)
		VIOLATION("REQBUFS %u with %u buffers already allocated", rb->count, F.n_bufs);
	if (F.sizeimage == 0)
		VIOLATION("REQBUFS before any S_FMT");
	n = rb->count;
	if (n > F.cfg.max_buffers)
		n = F.cfg.max_buffers;
	if (n < F.cfg.min_buffers)
		n = F.cfg.min_buffers;
	if (n > MAX_BUFS)
		n = MAX_BUFS;
	for (unsigned i = 0; i < n; i++) {
		F.bufs[i].length = F.sizeimage + F.cfg.buf_slack;
		/* Real pages, not cmocka's tracked heap: after a failed test
		 * cmocka frees its blocks behind our back. */
		F.bufs[i].mem = mmap(NULL, F.bufs[i].length, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (F.bufs[i].mem == MAP_FAILED) {
			F.bufs[i].mem = NULL;
			VIOLATION("out of memory for %u-byte buffers", F.bufs[i].length);
		}
	}
	F.n_bufs = n;
	rb->count = n;
	rb->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
	return 0;
}

static void describe(unsigned i, struct v4l2_buffer *b)
{
	b->index = i;
	b->m.offset = i * OFFSET_STEP;
	b->length = F.bufs[i].length;
	b->flags = F.cfg.ts_flags | (F.bufs[i].mapped ? V4L2_BUF_FLAG_MAPPED : 0) |
		   (F.bufs[i].queued ? V4L2_BUF_FLAG_QUEUED : 0);
	b->field = V4L2_FIELD_NONE;
}

static int do_querybuf(struct v4l2_buffer *b)
{
	check_buf_arg(b, "QUERYBUF");
	if (b->index >= F.n_bufs)
		VIOLATION("QUERYBUF of index %u, only %u buffers", b->index, F.n_bufs);
	describe(b->index, b);
	return 0;
}

static int do_qbuf(struct v4l2_buffer *b)
{
	check_buf_arg(b, "QBUF");
	if (b->index >= F.n_bufs)
		VIOLATION("QBUF of index %u, only %u buffers", b->index, F.n_bufs);
	if (b->reserved2 || b->reserved)
		VIOLATION("QBUF with non-zero reserved fields");
	if (F.bufs[b->index].queued)
		VIOLATION("QBUF of buffer %u, which is already queued", b->index);
	F.bufs[b->index].queued = 1;
	F.fifo[(F.fifo_head + F.fifo_len) % MAX_BUFS] = b->index;
	F.fifo_len++;
	describe(b->index, b);
	return 0;
}

static int do_dqbuf(struct v4l2_buffer *b)
{
	unsigned i;
	uint32_t used;
	int64_t ts;

	check_buf_arg(b, "DQBUF");
	if (F.dq_err_count > 0) {
		F.dq_err_count--;
		errno = F.dq_err;
		return -1;
	}
	if (!F.streaming)
		VIOLATION("DQBUF before STREAMON");
	if (F.fifo_len == 0 || F.stall) {
		if (!(F.open_flags & O_NONBLOCK))
			VIOLATION("DQBUF on a blocking handle with nothing to dequeue: hangs");
		errno = EAGAIN;
		return -1;
	}
	i = F.fifo[F.fifo_head];
	F.fifo_head = (F.fifo_head + 1) % MAX_BUFS;
	F.fifo_len--;
	F.bufs[i].queued = 0;
	used = F.sizeimage;
	if (F.frame_w > 0 && !F.subscribed) {
		/* The input changed under a driver that cannot tell: frames of
		 * the new size, as far as the buffer holds them. */
		uint32_t bpl, size;

		image_size(F.fourcc, (uint32_t)F.frame_w, (uint32_t)F.frame_h, &bpl, &size);
		used = size < F.bufs[i].length ? size : F.bufs[i].length;
	}
	memset(F.bufs[i].mem, (int)(F.sequence & 0xff), used);
	F.bufs[i].mem[0] = (uint8_t)F.sequence;
	F.bufs[i].mem[1] = (uint8_t)(F.sequence >> 8);
	F.bufs[i].mem[2] = (uint8_t)(F.sequence >> 16);
	F.bufs[i].mem[3] = (uint8_t)(F.sequence >> 24);
	memset(b, 0, sizeof(*b));
	b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b->memory = V4L2_MEMORY_MMAP;
	describe(i, b);
	b->flags |= V4L2_BUF_FLAG_DONE;
	if (F.error_next) {
		b->flags |= V4L2_BUF_FLAG_ERROR;
		F.error_next = 0;
	}
	b->bytesused = used;
	b->sequence = F.sequence++;
	ts = mono_us() - F.cfg.ts_lag_us;
	b->timestamp.tv_sec = ts / 1000000;
	b->timestamp.tv_usec = ts % 1000000;
	return 0;
}

static int do_stream(int *type, int on)
{
	if (*type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		VIOLATION("STREAM%s with type %d", on ? "ON" : "OFF", *type);
	if (on) {
		if (F.n_bufs == 0)
			VIOLATION("STREAMON without buffers");
		F.streaming = 1;
		return 0;
	}
	/* STREAMOFF returns every buffer to user space, queued or done. */
	F.streamoffs++;
	F.streaming = 0;
	for (unsigned i = 0; i < F.n_bufs; i++)
		F.bufs[i].queued = 0;
	F.fifo_head = F.fifo_len = 0;
	return 0;
}

static int f_ioctl(int fd, unsigned long req, void *arg)
{
	int err, r;

	pthread_mutex_lock(&F.lock);
	check_fd(fd, "ioctl");
	if (arg == NULL)
		VIOLATION("ioctl 0x%lx with a NULL argument", req);
	if (F.vanish_on != 0 && F.vanish_on == req) {
		F.vanish_on = 0;
		F.vanished = 1;
	}
	if (F.vanished) {
		/* The core refuses everything on an unregistered node; REQBUFS 0
		 * still counts as the release vigil is required to attempt. */
		if (req == VIDIOC_REQBUFS && ((struct v4l2_requestbuffers *)arg)->count == 0) {
			r = do_reqbufs(arg);
			pthread_mutex_unlock(&F.lock);
			return r;
		}
		if (req == VIDIOC_STREAMOFF) {
			F.streamoffs++;
			F.streaming = 0;
		}
		pthread_mutex_unlock(&F.lock);
		errno = ENODEV;
		return -1;
	}
	err = take_fault(req);
	if (err) {
		pthread_mutex_unlock(&F.lock);
		errno = err;
		return -1;
	}
	switch (req) {
	case VIDIOC_QUERYCAP:
		r = do_querycap(arg);
		break;
	case VIDIOC_ENUM_FMT:
		r = do_enum_fmt(arg);
		break;
	case VIDIOC_S_FMT:
		r = do_s_fmt(arg);
		break;
	case VIDIOC_S_PARM:
		r = do_parm(arg, 1);
		break;
	case VIDIOC_G_PARM:
		r = do_parm(arg, 0);
		break;
	case VIDIOC_SUBSCRIBE_EVENT:
		r = do_subscribe(arg);
		break;
	case VIDIOC_DQEVENT:
		r = do_dqevent(arg);
		break;
	case VIDIOC_REQBUFS:
		r = do_reqbufs(arg);
		break;
	case VIDIOC_QUERYBUF:
		r = do_querybuf(arg);
		break;
	case VIDIOC_QBUF:
		r = do_qbuf(arg);
		break;
	case VIDIOC_DQBUF:
		r = do_dqbuf(arg);
		break;
	case VIDIOC_STREAMON:
		r = do_stream(arg, 1);
		break;
	case VIDIOC_STREAMOFF:
		r = do_stream(arg, 0);
		break;
	default:
		errno = ENOTTY;
		r = -1;
		break;
	}
	err = errno;
	pthread_mutex_unlock(&F.lock);
	errno = err;
	return r;
}

static int f_open(const char *path, int flags)
{
	pthread_mutex_lock(&F.lock);
	if (F.fail_open) {
		errno = F.fail_open;
		F.fail_open = 0;
		pthread_mutex_unlock(&F.lock);
		return -1;
	}
	if (path == NULL || F.cfg.path == NULL || strcmp(path, F.cfg.path) != 0) {
		pthread_mutex_unlock(&F.lock);
		errno = ENOENT;
		return -1;
	}
	if ((flags & O_ACCMODE) != O_RDWR)
		VIOLATION("open without O_RDWR (V4L2 capture needs read/write)");
	if (F.open)
		VIOLATION("a second handle opened while the first is still open");
	F.open = 1;
	F.open_flags = flags;
	F.subscribed = 0;
	F.event_pending = 0;
	pthread_mutex_unlock(&F.lock);
	return FAKE_FD;
}

static int f_close(int fd)
{
	pthread_mutex_lock(&F.lock);
	check_fd(fd, "close");
	for (unsigned i = 0; i < F.n_bufs; i++)
		if (F.bufs[i].mapped)
			VIOLATION("close with buffer %u still mapped", i);
	if (F.n_bufs)
		VIOLATION("close with %u buffers allocated: REQBUFS 0 first", F.n_bufs);
	F.open = 0;
	F.streaming = 0;
	F.subscribed = 0;
	/* Every handle closed and nothing mapped: an unplugged device may
	 * come back now (as vivid's reconnect does). */
	F.vanished = 0;
	pthread_mutex_unlock(&F.lock);
	return 0;
}

static void *f_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
	unsigned i;

	pthread_mutex_lock(&F.lock);
	check_fd(fd, "mmap");
	if (F.mmap_fail_err) {
		if (F.mmap_fail_skip > 0) {
			F.mmap_fail_skip--;
		} else {
			errno = F.mmap_fail_err;
			F.mmap_fail_err = 0;
			pthread_mutex_unlock(&F.lock);
			return MAP_FAILED;
		}
	}
	if (!(flags & MAP_SHARED))
		VIOLATION("mmap without MAP_SHARED (V4L2 does not support private maps)");
	if (!(prot & PROT_READ))
		VIOLATION("mmap of a capture buffer without PROT_READ");
	if (off < 0 || off % OFFSET_STEP != 0 || (uint64_t)off / OFFSET_STEP >= F.n_bufs)
		VIOLATION("mmap at offset 0x%llx, which no buffer has", (unsigned long long)off);
	i = (unsigned)((uint64_t)off / OFFSET_STEP);
	if (len != F.bufs[i].length)
		VIOLATION("mmap of buffer %u with length %zu, QUERYBUF said %u", i, len,
			  F.bufs[i].length);
	if (F.bufs[i].mapped)
		VIOLATION("buffer %u mapped twice", i);
	F.bufs[i].mapped = 1;
	pthread_mutex_unlock(&F.lock);
	(void)addr;
	return F.bufs[i].mem;
}

static int f_munmap(void *addr, size_t len)
{
	pthread_mutex_lock(&F.lock);
	for (unsigned i = 0; i < F.n_bufs; i++) {
		if (F.bufs[i].mem == addr && F.bufs[i].mapped) {
			if (len != F.bufs[i].length)
				VIOLATION("munmap of buffer %u with length %zu, mapped %u", i,
					  len, F.bufs[i].length);
			F.bufs[i].mapped = 0;
			pthread_mutex_unlock(&F.lock);
			return 0;
		}
	}
	VIOLATION("munmap of %p, which is not a mapped buffer", addr);
	return -1;
}

static int f_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	short rev = 0;

	pthread_mutex_lock(&F.lock);
	if (n != 1)
		VIOLATION("poll on %lu fds", (unsigned long)n);
	check_fd(fds[0].fd, "poll");
	if (F.vanished) {
		rev = POLLERR | POLLHUP;
	} else {
		if (F.event_pending && (fds[0].events & POLLPRI))
			rev |= POLLPRI;
		if (!F.streaming)
			rev |= POLLERR;	/* vb2: nothing to wait for */
		else if (F.fifo_len > 0 && !F.stall && (fds[0].events & POLLIN))
			rev |= POLLIN | POLLRDNORM;
	}
	if (rev == 0 && timeout_ms < 0)
		VIOLATION("poll with no timeout and nothing that will ever be ready");
	fds[0].revents = rev;
	pthread_mutex_unlock(&F.lock);
	return rev ? 1 : 0;
}

const struct vg_v4l2_ops fake_v4l2_ops = {
	.open = f_open,
	.close = f_close,
	.ioctl = f_ioctl,
	.mmap = f_mmap,
	.munmap = f_munmap,
	.poll = f_poll,
};
