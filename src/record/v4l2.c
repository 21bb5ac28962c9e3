/*
 * v4l2.c - a V4L2 camera behind an ops table: format negotiation, mmap
 * streaming, non-blocking dequeue with poll, timestamps mapped to UTC.
 *
 * Every buffer is in exactly one of three states once mapped: queued with
 * the driver, out with the caller, or (only transiently, inside this file)
 * neither. The state lives in struct cam_buf and is guarded by cam->lock,
 * because vg_v4l2_requeue() may come from another thread than the one
 * dequeuing. poll() runs without the lock, so a requeue never waits for a
 * frame interval.
 *
 * vg_v4l2_close() works on any half-built object: each field records how
 * far vg_v4l2_open() got, and the teardown undoes exactly that, in the
 * order the kernel wants (STREAMOFF, munmap, REQBUFS 0, close). The vivid
 * driver, for one, only lets a disconnected device come back once every
 * handle is closed and every buffer unmapped.
 */
#define VG_LOG_MODULE "V4L2"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <libv4l2.h>
#include <linux/videodev2.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/v4l2.h"

#define DEFAULT_BUFFERS 4
#define MIN_BUFFERS 2
/* Upper bound on ENUM_FMT indices, in case a driver never says EINVAL. */
#define MAX_ENUM_FMT 128
/* Consecutive EIO from DQBUF before the device is declared gone (see
 * vg_v4l2_dequeue() in the header for why). */
#define EIO_LIMIT 3

struct cam_buf {
	void *start;		/* MAP_FAILED-free: NULL when not mapped */
	size_t length;
	int queued;		/* with the driver */
	int out;		/* with the caller */
};

struct vg_v4l2 {
	const struct vg_v4l2_ops *ops;
	char *device;
	int fd;			/* -1 when not open */
	int have_bufs;		/* REQBUFS granted buffers: release with REQBUFS 0 */
	int streaming;
	int events;		/* subscribed to V4L2_EVENT_SOURCE_CHANGE */
	int eio_run;		/* consecutive EIO from DQBUF */
	struct cam_buf *bufs;
	unsigned n_bufs;
	struct vg_v4l2_granted g;
	pthread_mutex_t lock;
	/* What the driver delivered this session, by its own frame counter
	 * (v4l2_buffer.sequence): buffers dequeued, numbers it skipped (its
	 * drops, e.g. a starved emulated camera), buffers it flagged corrupt.
	 * Logged at close, so a test can hold vigild to exactly these. */
	int64_t delivered, skipped, flagged;
	uint32_t first_seq, last_seq;
};

static const char *errtext(int e, char *buf, size_t len)
{
	/* GNU strerror_r may return a static string instead of filling buf. */
	return strerror_r(e, buf, len);
}

static void fourcc_str(uint32_t f, char out[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((f >> (8 * i)) & 0xff);

		out[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	out[4] = '\0';
}

/* ioctl that retries when a signal interrupts it. */
static int xioctl(const struct vg_v4l2 *cam, unsigned long req, void *arg)
{
	int r;

	do {
		r = cam->ops->ioctl(cam->fd, req, arg);
	} while (r < 0 && errno == EINTR);
	return r;
}

/* Record why a step failed and pick the code: a vanished device is
 * reopened with backoff, anything else is an I/O error. */
static int step_failed(const struct vg_v4l2 *cam, const char *step, int e, char *why,
		       size_t whylen)
{
	char eb[128];

	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s: %s failed: %s", cam->device, step,
			 errtext(e, eb, sizeof(eb)));
	if (e == ENODEV || e == ENXIO)
		return -VG_ENODEV;
	return -VG_EIO;
}

int vg_v4l2_format_from_fourcc(uint32_t fourcc)
{
	switch (fourcc) {
	case V4L2_PIX_FMT_YUYV:
		return VG_FMT_YUYV;
	case V4L2_PIX_FMT_NV12:
		return VG_FMT_NV12;
	case V4L2_PIX_FMT_YUV420:
		return VG_FMT_YUV420;
	case V4L2_PIX_FMT_MJPEG:
	case V4L2_PIX_FMT_JPEG:
		return VG_FMT_MJPEG;
	case V4L2_PIX_FMT_H264:
		return VG_FMT_H264;
	default:
		return -1;
	}
}

uint32_t vg_v4l2_fourcc_from_format(enum vg_cam_format f)
{
	switch (f) {
	case VG_FMT_YUYV:
		return V4L2_PIX_FMT_YUYV;
	case VG_FMT_NV12:
		return V4L2_PIX_FMT_NV12;
	case VG_FMT_YUV420:
		return V4L2_PIX_FMT_YUV420;
	case VG_FMT_MJPEG:
		return V4L2_PIX_FMT_MJPEG;
	case VG_FMT_H264:
		return V4L2_PIX_FMT_H264;
	default:
		return 0;
	}
}

static int open_device(struct vg_v4l2 *cam, char *why, size_t whylen)
{
	char eb[128];
	int e;

	cam->fd = cam->ops->open(cam->device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (cam->fd >= 0)
		return 0;
	e = errno;
	cam->fd = -1;
	switch (e) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		snprintf(why, whylen, "%s: no such device: %s", cam->device,
			 errtext(e, eb, sizeof(eb)));
		return -VG_ENODEV;
	case EBUSY:
		snprintf(why, whylen, "%s: device busy: another program is using it",
			 cam->device);
		return -VG_EIO;
	case EACCES:
	case EPERM:
		snprintf(why, whylen, "%s: cannot open: %s (is the daemon in the video group?)",
			 cam->device, errtext(e, eb, sizeof(eb)));
		return -VG_EIO;
	default:
		snprintf(why, whylen, "%s: cannot open: %s", cam->device,
			 errtext(e, eb, sizeof(eb)));
		return -VG_EIO;
	}
}

static int check_caps(struct vg_v4l2 *cam, char *why, size_t whylen)
{
	struct v4l2_capability cap;
	uint32_t caps;

	memset(&cap, 0, sizeof(cap));
	if (xioctl(cam, VIDIOC_QUERYCAP, &cap) < 0)
		return step_failed(cam, "VIDIOC_QUERYCAP", errno, why, whylen);
	/* device_caps describes this node; capabilities the whole device. */
	caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
	if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
		if (caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE)
			snprintf(why, whylen, "%s: the device only offers the multi-planar "
				 "capture API, which vigil does not support", cam->device);
		else
			snprintf(why, whylen, "%s: not a video capture device", cam->device);
		return -VG_EFORMAT;
	}
	if (!(caps & V4L2_CAP_STREAMING)) {
		snprintf(why, whylen, "%s: the device does not support streaming I/O",
			 cam->device);
		return -VG_EFORMAT;
	}
	return 0;
}

/*
 * Choose the first format of the preference list that the driver offers
 * natively. libv4l2 adds emulated formats (converted in user space, e.g.
 * to RGB); those cost CPU and are not what the camera sends, so skip them.
 */
static int choose_format(struct vg_v4l2 *cam, const struct vg_v4l2_request *req,
			 uint32_t *chosen, char *why, size_t whylen)
{
	uint32_t offered[MAX_ENUM_FMT];
	unsigned n = 0;
	char list[256] = "";
	size_t used = 0;

	for (unsigned i = 0; i < MAX_ENUM_FMT; i++) {
		struct v4l2_fmtdesc d;

		memset(&d, 0, sizeof(d));
		d.index = i;
		d.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		if (xioctl(cam, VIDIOC_ENUM_FMT, &d) < 0) {
			if (errno == EINVAL)
				break;	/* end of the list */
			return step_failed(cam, "VIDIOC_ENUM_FMT", errno, why, whylen);
		}
		if (d.flags & V4L2_FMT_FLAG_EMULATED)
			continue;
		offered[n++] = d.pixelformat;
	}
	for (int p = 0; p < req->n_formats; p++) {
		uint32_t want = vg_v4l2_fourcc_from_format(req->formats[p]);

		for (unsigned i = 0; i < n; i++) {
			/* Some cameras call their MJPEG "JPEG"; the stream is the same. */
			if (offered[i] == want ||
			    (req->formats[p] == VG_FMT_MJPEG && offered[i] == V4L2_PIX_FMT_JPEG)) {
				*chosen = offered[i];
				return 0;
			}
		}
	}
	for (unsigned i = 0; i < n && used + 6 < sizeof(list); i++) {
		char s[5];
		int w;

		fourcc_str(offered[i], s);
		w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? " " : "", s);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	snprintf(why, whylen, "%s: the device offers none of the requested formats "
		 "(it offers: %s)", cam->device, n ? list : "nothing");
	return -VG_EFORMAT;
}

static int set_format(struct vg_v4l2 *cam, const struct vg_v4l2_request *req, uint32_t fourcc,
		      char *why, size_t whylen)
{
	struct v4l2_format fmt;
	char want[5], got[5];

	memset(&fmt, 0, sizeof(fmt));
	fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	fmt.fmt.pix.width = (uint32_t)req->width;
	fmt.fmt.pix.height = (uint32_t)req->height;
	fmt.fmt.pix.pixelformat = fourcc;
	fmt.fmt.pix.field = V4L2_FIELD_ANY;
	if (xioctl(cam, VIDIOC_S_FMT, &fmt) < 0)
		return step_failed(cam, "VIDIOC_S_FMT", errno, why, whylen);
	/* Drivers adjust rather than refuse: a different pixel format means
	 * the one we picked from ENUM_FMT is not usable after all. */
	if (fmt.fmt.pix.pixelformat != fourcc) {
		fourcc_str(fourcc, want);
		fourcc_str(fmt.fmt.pix.pixelformat, got);
		snprintf(why, whylen, "%s: asked for format %s, the driver granted %s", cam->device,
			 want, got);
		return -VG_EFORMAT;
	}
	if (fmt.fmt.pix.width == 0 || fmt.fmt.pix.height == 0 || fmt.fmt.pix.sizeimage == 0) {
		snprintf(why, whylen, "%s: the driver granted an empty picture (%ux%u, %u bytes)",
			 cam->device, fmt.fmt.pix.width, fmt.fmt.pix.height, fmt.fmt.pix.sizeimage);
		return -VG_EFORMAT;
	}
	cam->g.format = (enum vg_cam_format)vg_v4l2_format_from_fourcc(fourcc);
	cam->g.fourcc = fourcc;
	cam->g.width = (int)fmt.fmt.pix.width;
	cam->g.height = (int)fmt.fmt.pix.height;
	cam->g.bytesperline = fmt.fmt.pix.bytesperline;
	cam->g.sizeimage = fmt.fmt.pix.sizeimage;
	return 0;
}

/*
 * Ask for the frame rate, then read back what the driver chose. A driver
 * without V4L2_CAP_TIMEPERFRAME has no rate to set or tell: report 0/0
 * and let the caller time frames by their timestamps.
 */
static int set_rate(struct vg_v4l2 *cam, const struct vg_v4l2_request *req, char *why,
		    size_t whylen)
{
	struct v4l2_streamparm parm;
	char eb[128];

	cam->g.fps_num = 0;
	cam->g.fps_den = 0;
	if (req->fps_num > 0 && req->fps_den > 0) {
		memset(&parm, 0, sizeof(parm));
		parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		/* timeperframe is the inverse of the rate */
		parm.parm.capture.timeperframe.numerator = (uint32_t)req->fps_den;
		parm.parm.capture.timeperframe.denominator = (uint32_t)req->fps_num;
		if (xioctl(cam, VIDIOC_S_PARM, &parm) < 0) {
			if (errno == ENODEV || errno == ENXIO)
				return step_failed(cam, "VIDIOC_S_PARM", errno, why, whylen);
			vg_info("%s: cannot set the frame rate (%s); using the driver's",
				cam->device, errtext(errno, eb, sizeof(eb)));
		}
	}
	memset(&parm, 0, sizeof(parm));
	parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (xioctl(cam, VIDIOC_G_PARM, &parm) < 0) {
		if (errno == ENODEV || errno == ENXIO)
			return step_failed(cam, "VIDIOC_G_PARM", errno, why, whylen);
		return 0;
	}
	if ((parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME) &&
	    parm.parm.capture.timeperframe.numerator > 0 &&
	    parm.parm.capture.timeperframe.denominator > 0 &&
	    parm.parm.capture.timeperframe.denominator <= INT32_MAX &&
	    parm.parm.capture.timeperframe.numerator <= INT32_MAX) {
		cam->g.fps_num = (int)parm.parm.capture.timeperframe.denominator;
		cam->g.fps_den = (int)parm.parm.capture.timeperframe.numerator;
	}
	return 0;
}

/* A resolution change on the input arrives as an event; drivers that
 * cannot tell simply refuse the subscription, which is fine. */
static int subscribe_events(struct vg_v4l2 *cam, char *why, size_t whylen)
{
	struct v4l2_event_subscription sub;

	memset(&sub, 0, sizeof(sub));
	sub.type = V4L2_EVENT_SOURCE_CHANGE;
	if (xioctl(cam, VIDIOC_SUBSCRIBE_EVENT, &sub) < 0) {
		if (errno == ENODEV || errno == ENXIO)
			return step_failed(cam, "VIDIOC_SUBSCRIBE_EVENT", errno, why, whylen);
		return 0;
	}
	cam->events = 1;
	return 0;
}

static int setup_buffers(struct vg_v4l2 *cam, const struct vg_v4l2_request *req, char *why,
			 size_t whylen)
{
	struct v4l2_requestbuffers rb;

	memset(&rb, 0, sizeof(rb));
	rb.count = (uint32_t)(req->n_buffers > 0 ? req->n_buffers : DEFAULT_BUFFERS);
	rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	rb.memory = V4L2_MEMORY_MMAP;
	if (xioctl(cam, VIDIOC_REQBUFS, &rb) < 0)
		return step_failed(cam, "VIDIOC_REQBUFS", errno, why, whylen);
	if (rb.count > 0)
		cam->have_bufs = 1;
	if (rb.count < MIN_BUFFERS) {
		snprintf(why, whylen, "%s: the driver granted only %u capture buffers "
			 "(at least %d are needed)", cam->device, rb.count, MIN_BUFFERS);
		return -VG_EIO;
	}
	cam->bufs = calloc(rb.count, sizeof(*cam->bufs));
	if (cam->bufs == NULL) {
		snprintf(why, whylen, "%s: out of memory", cam->device);
		return -VG_ENOMEM;
	}
	cam->n_bufs = rb.count;
	cam->g.n_buffers = (int)rb.count;
	for (unsigned i = 0; i < cam->n_bufs; i++) {
		struct v4l2_buffer b;
		void *p;

		memset(&b, 0, sizeof(b));
		b.index = i;
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		if (xioctl(cam, VIDIOC_QUERYBUF, &b) < 0)
			return step_failed(cam, "VIDIOC_QUERYBUF", errno, why, whylen);
		p = cam->ops->mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, cam->fd,
				   (int64_t)b.m.offset);
		if (p == MAP_FAILED)
			return step_failed(cam, "mmap", errno, why, whylen);
		cam->bufs[i].start = p;
		cam->bufs[i].length = b.length;
	}
	for (unsigned i = 0; i < cam->n_bufs; i++) {
		struct v4l2_buffer b;

		memset(&b, 0, sizeof(b));
		b.index = i;
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		if (xioctl(cam, VIDIOC_QBUF, &b) < 0)
			return step_failed(cam, "VIDIOC_QBUF", errno, why, whylen);
		cam->bufs[i].queued = 1;
	}
	return 0;
}

static int stream_on(struct vg_v4l2 *cam, char *why, size_t whylen)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

	if (xioctl(cam, VIDIOC_STREAMON, &type) < 0)
		return step_failed(cam, "VIDIOC_STREAMON", errno, why, whylen);
	cam->streaming = 1;
	return 0;
}

int vg_v4l2_open(struct vg_v4l2 **out, const char *device,
		 const struct vg_v4l2_request *req, const struct vg_v4l2_ops *ops,
		 char *why, size_t whylen)
{
	struct vg_v4l2 *cam = NULL;
	char dummy[8];
	uint32_t fourcc = 0;
	int ret;

	/* Every step writes to why unconditionally; give it somewhere to go. */
	if (why == NULL || whylen == 0) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	if (out == NULL || device == NULL || req == NULL || ops == NULL ||
	    req->n_formats < 1 || req->n_formats > VG_FMT_COUNT || req->width < 0 ||
	    req->height < 0 || req->n_buffers < 0) {
		snprintf(why, whylen, "%s: invalid capture request", device ? device : "(null)");
		return -VG_EINVAL;
	}
	*out = NULL;
	cam = calloc(1, sizeof(*cam));
	if (cam == NULL) {
		snprintf(why, whylen, "%s: out of memory", device);
		return -VG_ENOMEM;
	}
	cam->fd = -1;
	cam->ops = ops;
	pthread_mutex_init(&cam->lock, NULL);
	cam->device = strdup(device);
	if (cam->device == NULL) {
		snprintf(why, whylen, "%s: out of memory", device);
		ret = -VG_ENOMEM;
		goto fail;
	}
	ret = open_device(cam, why, whylen);
	if (ret < 0)
		goto fail;
	ret = check_caps(cam, why, whylen);
	if (ret < 0)
		goto fail;
	ret = choose_format(cam, req, &fourcc, why, whylen);
	if (ret < 0)
		goto fail;
	ret = set_format(cam, req, fourcc, why, whylen);
	if (ret < 0)
		goto fail;
	ret = set_rate(cam, req, why, whylen);
	if (ret < 0)
		goto fail;
	ret = subscribe_events(cam, why, whylen);
	if (ret < 0)
		goto fail;
	ret = setup_buffers(cam, req, why, whylen);
	if (ret < 0)
		goto fail;
	ret = stream_on(cam, why, whylen);
	if (ret < 0)
		goto fail;
	*out = cam;
	return 0;
fail:
	vg_v4l2_close(cam);
	return ret;
}

void vg_v4l2_granted(const struct vg_v4l2 *cam, struct vg_v4l2_granted *g)
{
	if (cam == NULL || g == NULL)
		return;
	*g = cam->g;
}

/*
 * Map a buffer timestamp to UTC microseconds.
 *
 * Drivers stamp buffers with CLOCK_MONOTONIC (flag TIMESTAMP_MONOTONIC).
 * The offset REALTIME - MONOTONIC only moves when the wall clock is set or
 * slewed, so sampling it now, a few milliseconds after the capture, is
 * accurate to the amount NTP moved the clock in between: negligible for
 * footage. Sampling the monotonic clock on both sides of the realtime read
 * keeps the offset exact to a fraction of a microsecond even if we are
 * preempted. A buffer with no usable stamp (flag UNKNOWN or COPY, zero, or
 * later than now, i.e. not from CLOCK_MONOTONIC at all) gets the dequeue
 * time instead, which is late by at most the queueing delay.
 */
static int64_t ts_us(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000 + t->tv_nsec / 1000;
}

static int64_t utc_from_buffer(const struct v4l2_buffer *b)
{
	struct timespec m0, rt, m1;
	int64_t mono_now, rt_now, ts;

	clock_gettime(CLOCK_MONOTONIC, &m0);
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &m1);
	mono_now = (ts_us(&m0) + ts_us(&m1)) / 2;
	rt_now = ts_us(&rt);
	ts = (int64_t)b->timestamp.tv_sec * 1000000 + b->timestamp.tv_usec;
	if ((b->flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) != V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC ||
	    ts <= 0 || ts > ts_us(&m1))
		return rt_now;
	return ts + (rt_now - mono_now);
}

/* Drain pending events; 1 if the input's resolution changed. */
static int resolution_changed(struct vg_v4l2 *cam)
{
	struct v4l2_event ev;
	int changed = 0;

	for (int i = 0; i < 64; i++) {
		memset(&ev, 0, sizeof(ev));
		if (xioctl(cam, VIDIOC_DQEVENT, &ev) < 0)
			break;	/* ENOENT: no more events */
		if (ev.type == V4L2_EVENT_SOURCE_CHANGE &&
		    (ev.u.src_change.changes & V4L2_EVENT_SRC_CH_RESOLUTION))
			changed = 1;
		if (ev.pending == 0)
			break;
	}
	return changed;
}

/*
 * The spec gives EIO from DQBUF two meanings: an internal error, or a
 * temporary problem such as signal loss, after which the driver may even
 * have dequeued an (empty) buffer that we never hear of. One EIO is worth
 * a retry; EIO_LIMIT in a row means the device is not coming back by
 * itself, and reopening is also the only way to recover a buffer the
 * driver may have swallowed. A frame in between resets the count.
 */
static int dqbuf_error(struct vg_v4l2 *cam, int e)
{
	char eb[128];

	switch (e) {
	case EAGAIN:
		return -VG_EAGAIN;
	case ENODEV:
	case ENXIO:
		return -VG_ENODEV;
	case EIO:
		cam->eio_run++;
		if (cam->eio_run >= EIO_LIMIT) {
			vg_warnx("%s: VIDIOC_DQBUF failed %d times in a row with EIO; "
				 "treating the device as gone", cam->device, cam->eio_run);
			return -VG_ENODEV;
		}
		vg_debug("%s: VIDIOC_DQBUF: transient EIO (%d in a row)", cam->device,
			 cam->eio_run);
		return -VG_EAGAIN;
	default:
		vg_warnx("%s: VIDIOC_DQBUF failed: %s", cam->device, errtext(e, eb, sizeof(eb)));
		return -VG_EIO;
	}
}

/* Best effort: hand a buffer the caller will never see back to the driver. */
static void requeue_locked(struct vg_v4l2 *cam, unsigned index)
{
	struct v4l2_buffer b;

	memset(&b, 0, sizeof(b));
	b.index = index;
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_MMAP;
	if (xioctl(cam, VIDIOC_QBUF, &b) == 0) {
		cam->bufs[index].queued = 1;
		cam->bufs[index].out = 0;
	}
}

/* A gap in the sequence is frames the driver never gave us. Unsigned
 * arithmetic survives the counter's wrap; a step back (a driver that
 * restarted its count) is not a gap. */
static void count_delivered(struct vg_v4l2 *cam, const struct vg_v4l2_buf *buf)
{
	uint32_t step = buf->sequence - cam->last_seq;

	if (cam->delivered == 0)
		cam->first_seq = buf->sequence;
	else if (step > 1 && step < UINT32_C(1) << 31)
		cam->skipped += step - 1;
	cam->last_seq = buf->sequence;
	cam->delivered++;
	if (buf->error)
		cam->flagged++;
}

void vg_v4l2_counts(const struct vg_v4l2 *cam, struct vg_v4l2_counts *c)
{
	c->delivered = cam->delivered;
	c->skipped = cam->skipped;
	c->flagged = cam->flagged;
}

int vg_v4l2_dequeue(struct vg_v4l2 *cam, int timeout_ms, struct vg_v4l2_buf *buf)
{
	struct pollfd pfd;
	struct v4l2_buffer b;
	char eb[128];
	int r, ret;

	if (cam == NULL || buf == NULL || !cam->streaming)
		return -VG_EINVAL;
	pfd.fd = cam->fd;
	pfd.events = POLLIN | POLLPRI;
	pfd.revents = 0;
	r = cam->ops->poll(&pfd, 1, timeout_ms);
	if (r < 0) {
		if (errno == EINTR)
			return -VG_EAGAIN;
		vg_warnx("%s: poll failed: %s", cam->device, errtext(errno, eb, sizeof(eb)));
		return -VG_EIO;
	}
	if (r == 0)
		return -VG_ENODATA;
	/* Events first: a resolution change calls for renegotiation even if
	 * the driver also flagged an error because of it. */
	if ((pfd.revents & POLLPRI) && cam->events && resolution_changed(cam)) {
		vg_info("%s: the input resolution changed", cam->device);
		return -VG_EFORMAT;
	}
	if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
		return -VG_ENODEV;
	if (!(pfd.revents & POLLIN))
		return -VG_EAGAIN;	/* only an event we do not act on */

	memset(&b, 0, sizeof(b));
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_MMAP;
	pthread_mutex_lock(&cam->lock);
	if (xioctl(cam, VIDIOC_DQBUF, &b) < 0) {
		ret = dqbuf_error(cam, errno);
		goto out;
	}
	cam->eio_run = 0;
	if (b.index >= cam->n_bufs || !cam->bufs[b.index].queued) {
		vg_warnx("%s: the driver returned buffer %u, which was not queued", cam->device,
			 b.index);
		ret = -VG_EIO;
		goto out;
	}
	cam->bufs[b.index].queued = 0;
	cam->bufs[b.index].out = 1;
	/* More data than the negotiated picture: the input changed size under
	 * us (drivers without source-change events). */
	if (b.bytesused > cam->bufs[b.index].length || b.bytesused > cam->g.sizeimage) {
		vg_info("%s: a frame of %u bytes arrived for a %u-byte picture; the input "
			"format changed", cam->device, b.bytesused, cam->g.sizeimage);
		requeue_locked(cam, b.index);
		ret = -VG_EFORMAT;
		goto out;
	}
	memset(buf, 0, sizeof(*buf));
	buf->index = (int)b.index;
	buf->data = cam->bufs[b.index].start;
	buf->bytesused = b.bytesused;
	buf->ts_utc_us = utc_from_buffer(&b);
	buf->sequence = b.sequence;
	buf->error = (b.flags & V4L2_BUF_FLAG_ERROR) ? 1 : 0;
	count_delivered(cam, buf);
	ret = 0;
out:
	pthread_mutex_unlock(&cam->lock);
	return ret;
}

int vg_v4l2_requeue(struct vg_v4l2 *cam, int index)
{
	struct v4l2_buffer b;
	char eb[128];
	int ret = 0;

	if (cam == NULL)
		return -VG_EINVAL;
	pthread_mutex_lock(&cam->lock);
	if (index < 0 || (unsigned)index >= cam->n_bufs || !cam->bufs[index].out) {
		ret = -VG_EINVAL;
		goto out;
	}
	memset(&b, 0, sizeof(b));
	b.index = (uint32_t)index;
	b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.memory = V4L2_MEMORY_MMAP;
	if (xioctl(cam, VIDIOC_QBUF, &b) < 0) {
		if (errno == ENODEV || errno == ENXIO) {
			ret = -VG_ENODEV;
		} else {
			vg_warnx("%s: VIDIOC_QBUF failed: %s", cam->device,
				 errtext(errno, eb, sizeof(eb)));
			ret = -VG_EIO;
		}
		goto out;
	}
	cam->bufs[index].out = 0;
	cam->bufs[index].queued = 1;
out:
	pthread_mutex_unlock(&cam->lock);
	return ret;
}

void vg_v4l2_close(struct vg_v4l2 *cam)
{
	char eb[128];

	if (cam == NULL)
		return;
	pthread_mutex_lock(&cam->lock);
	if (cam->delivered > 0)
		vg_info("%s: closed: the driver delivered %lld frames (sequence %lu-%lu), "
			"skipped %lld (gaps in its sequence numbers: its drops, not vigild's), "
			"flagged %lld as corrupt", cam->device, (long long)cam->delivered,
			(unsigned long)cam->first_seq, (unsigned long)cam->last_seq,
			(long long)cam->skipped, (long long)cam->flagged);
	if (cam->streaming) {
		int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

		/* Fails with ENODEV on a vanished device: carry on regardless. */
		if (xioctl(cam, VIDIOC_STREAMOFF, &type) < 0)
			vg_debug("%s: VIDIOC_STREAMOFF: %s", cam->device,
				 errtext(errno, eb, sizeof(eb)));
		cam->streaming = 0;
	}
	for (unsigned i = 0; i < cam->n_bufs; i++) {
		if (cam->bufs[i].start != NULL &&
		    cam->ops->munmap(cam->bufs[i].start, cam->bufs[i].length) < 0)
			vg_warnx("%s: munmap of buffer %u failed: %s", cam->device, i,
				 errtext(errno, eb, sizeof(eb)));
		cam->bufs[i].start = NULL;
		cam->bufs[i].queued = 0;
		cam->bufs[i].out = 0;
	}
	if (cam->have_bufs) {
		struct v4l2_requestbuffers rb;

		memset(&rb, 0, sizeof(rb));
		rb.count = 0;
		rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		rb.memory = V4L2_MEMORY_MMAP;
		if (xioctl(cam, VIDIOC_REQBUFS, &rb) < 0)
			vg_debug("%s: VIDIOC_REQBUFS 0: %s", cam->device,
				 errtext(errno, eb, sizeof(eb)));
		cam->have_bufs = 0;
	}
	if (cam->fd >= 0 && cam->ops->close(cam->fd) < 0)
		vg_debug("%s: close: %s", cam->device, errtext(errno, eb, sizeof(eb)));
	cam->fd = -1;
	pthread_mutex_unlock(&cam->lock);
	pthread_mutex_destroy(&cam->lock);
	free(cam->bufs);
	free(cam->device);
	free(cam);
}

/* Production ops: libv4l2 for the device calls, poll(2) directly (the fd
 * libv4l2 returns is the kernel's). */
static int lib_open(const char *path, int flags)
{
	return v4l2_open(path, flags);
}

static int lib_close(int fd)
{
	return v4l2_close(fd);
}

static int lib_ioctl(int fd, unsigned long req, void *arg)
{
	return v4l2_ioctl(fd, req, arg);
}

static void *lib_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
	return v4l2_mmap(addr, len, prot, flags, fd, off);
}

static int lib_munmap(void *addr, size_t len)
{
	return v4l2_munmap(addr, len);
}

static int lib_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	return poll(fds, n, timeout_ms);
}

const struct vg_v4l2_ops vg_v4l2_libv4l2_ops = {
	.open = lib_open,
	.close = lib_close,
	.ioctl = lib_ioctl,
	.mmap = lib_mmap,
	.munmap = lib_munmap,
	.poll = lib_poll,
};
