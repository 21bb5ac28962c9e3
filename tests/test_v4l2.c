/* test_v4l2.c - V4L2 capture against the strict fake driver (fake_v4l2.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/videodev2.h>

#include <libavutil/frame.h>

#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/source.h"
#include "vigil/v4l2.h"
#include "../src/record/source_impl.h"
#include "fake_v4l2.h"

#define DEV "/dev/video0"

static struct fake_v4l2_config cfg;

static int setup(void **state)
{
	fake_v4l2_default_config(&cfg);
	fake_v4l2_reset(&cfg);
	return 0;
}

/* Every test must leave no handle, mapping or buffer behind. */
static int teardown(void **state)
{
	fake_v4l2_assert_clean();
	return 0;
}

/* Re-apply cfg after a test changed it. */
static void use_config(void)
{
	fake_v4l2_reset(&cfg);
}

static void default_request(struct vg_v4l2_request *r)
{
	memset(r, 0, sizeof(*r));
	r->formats[0] = VG_FMT_YUYV;
	r->formats[1] = VG_FMT_MJPEG;
	r->n_formats = 2;
	r->width = 640;
	r->height = 480;
	r->fps_num = 15;
	r->fps_den = 1;
}

static struct vg_v4l2 *open_ok(const struct vg_v4l2_request *r)
{
	struct vg_v4l2 *cam = NULL;
	char why[256] = "";
	int ret = vg_v4l2_open(&cam, DEV, r, &fake_v4l2_ops, why, sizeof(why));

	if (ret != 0)
		fail_msg("open failed (%d): %s", ret, why);
	assert_non_null(cam);
	return cam;
}

static struct vg_v4l2 *open_default(void)
{
	struct vg_v4l2_request r;

	default_request(&r);
	return open_ok(&r);
}

static int64_t now_utc_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static uint32_t frame_number(const struct vg_v4l2_buf *b)
{
	return (uint32_t)b->data[0] | (uint32_t)b->data[1] << 8 | (uint32_t)b->data[2] << 16 |
	       (uint32_t)b->data[3] << 24;
}

/* ---- negotiation ---- */

static void test_first_offered_preference_wins(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2_granted g;
	struct vg_v4l2 *cam;

	/* H.264 and NV12 are not offered; MJPEG is the first one that is. */
	default_request(&r);
	r.formats[0] = VG_FMT_H264;
	r.formats[1] = VG_FMT_NV12;
	r.formats[2] = VG_FMT_MJPEG;
	r.formats[3] = VG_FMT_YUYV;
	r.n_formats = 4;
	cam = open_ok(&r);
	vg_v4l2_granted(cam, &g);
	assert_int_equal(g.format, VG_FMT_MJPEG);
	assert_int_equal(g.fourcc, V4L2_PIX_FMT_MJPEG);
	vg_v4l2_close(cam);
}

static void test_emulated_formats_are_skipped(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2_granted g;
	struct vg_v4l2 *cam;

	/* libv4l2 would convert to NV12 in software: we want the camera's YUYV. */
	cfg.formats[0].fourcc = V4L2_PIX_FMT_NV12;
	cfg.formats[0].flags = V4L2_FMT_FLAG_EMULATED;
	cfg.formats[1].fourcc = V4L2_PIX_FMT_YUYV;
	cfg.formats[1].flags = 0;
	cfg.n_formats = 2;
	use_config();
	default_request(&r);
	r.formats[0] = VG_FMT_NV12;
	r.formats[1] = VG_FMT_YUYV;
	cam = open_ok(&r);
	vg_v4l2_granted(cam, &g);
	assert_int_equal(g.format, VG_FMT_YUYV);
	vg_v4l2_close(cam);
}

static void test_jpeg_is_taken_as_mjpeg(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2_granted g;
	struct vg_v4l2 *cam;

	cfg.formats[0].fourcc = V4L2_PIX_FMT_JPEG;
	cfg.n_formats = 1;
	use_config();
	default_request(&r);
	r.formats[0] = VG_FMT_MJPEG;
	r.n_formats = 1;
	cam = open_ok(&r);
	vg_v4l2_granted(cam, &g);
	assert_int_equal(g.format, VG_FMT_MJPEG);
	assert_int_equal(g.fourcc, V4L2_PIX_FMT_JPEG);
	vg_v4l2_close(cam);
}

static void test_no_offered_format_is_eformat(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2 *cam = (struct vg_v4l2 *)&r;	/* must be reset to NULL */
	char why[256];

	default_request(&r);
	r.formats[0] = VG_FMT_H264;
	r.formats[1] = VG_FMT_NV12;
	assert_int_equal(vg_v4l2_open(&cam, DEV, &r, &fake_v4l2_ops, why, sizeof(why)),
			 -VG_EFORMAT);
	assert_null(cam);
	/* The sentence tells the installer what the camera can do instead. */
	assert_non_null(strstr(why, DEV));
	assert_non_null(strstr(why, "YUYV"));
	assert_non_null(strstr(why, "MJPG"));
}

static void test_size_snapped_is_reported(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2_granted g;
	struct vg_v4l2 *cam;

	default_request(&r);
	r.width = 1200;	/* nearest of 640x480, 1280x720, 1920x1080 */
	r.height = 700;
	cam = open_ok(&r);
	vg_v4l2_granted(cam, &g);
	assert_int_equal(g.width, 1280);
	assert_int_equal(g.height, 720);
	assert_int_equal(g.bytesperline, 1280 * 2);
	assert_int_equal(g.sizeimage, 1280 * 2 * 720);
	vg_v4l2_close(cam);
}

static void test_rate_granted_is_reported(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2_granted g;
	struct vg_v4l2 *cam;

	default_request(&r);
	r.fps_num = 20;	/* offered 30, 15, 5: 15 is nearest */
	r.fps_den = 1;
	cam = open_ok(&r);
	vg_v4l2_granted(cam, &g);
	assert_int_equal(g.fps_num, 15);
	assert_int_equal(g.fps_den, 1);
	vg_v4l2_close(cam);

	r.fps_num = 30000;	/* NTSC 29.97 asks for 30 */
	r.fps_den = 1001;
	cam = open_ok(&r);
	vg_v4l2_granted(cam, &g);
	assert_int_equal(g.fps_num, 30);
	assert_int_equal(g.fps_den, 1);
	vg_v4l2_close(cam);
}

static void test_rate_unknown_without_timeperframe(void **state)
{
	struct vg_v4l2_granted g;
	struct vg_v4l2 *cam;

	cfg.n_rates = 0;
	use_config();
	cam = open_default();
	vg_v4l2_granted(cam, &g);
	assert_int_equal(g.fps_num, 0);
	assert_int_equal(g.fps_den, 0);
	vg_v4l2_close(cam);
}

static void test_fewer_buffers_accepted(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2_buf b;
	struct vg_v4l2 *cam;

	cfg.max_buffers = 3;
	use_config();
	default_request(&r);
	r.n_buffers = 6;
	cam = open_ok(&r);
	/* Exactly three frames can be out at once, then nothing is queued. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_ENODATA);
	vg_v4l2_close(cam);
}

static void test_too_few_buffers_refused(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2 *cam = NULL;
	char why[256];

	cfg.min_buffers = 1;
	cfg.max_buffers = 1;
	use_config();
	default_request(&r);
	assert_int_equal(vg_v4l2_open(&cam, DEV, &r, &fake_v4l2_ops, why, sizeof(why)),
			 -VG_EIO);
	assert_null(cam);
	assert_non_null(strstr(why, "buffers"));
}

static void test_mplane_only_is_eformat(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2 *cam = NULL;
	char why[256];

	cfg.caps = V4L2_CAP_VIDEO_CAPTURE_MPLANE | V4L2_CAP_STREAMING;
	use_config();
	default_request(&r);
	assert_int_equal(vg_v4l2_open(&cam, DEV, &r, &fake_v4l2_ops, why, sizeof(why)),
			 -VG_EFORMAT);
	assert_null(cam);
	assert_non_null(strstr(why, "multi-planar"));
}

static void test_refused_format_is_eformat(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2 *cam = NULL;
	char why[256];

	fake_v4l2_refuse_format(V4L2_PIX_FMT_RGB24);
	default_request(&r);
	assert_int_equal(vg_v4l2_open(&cam, DEV, &r, &fake_v4l2_ops, why, sizeof(why)),
			 -VG_EFORMAT);
	assert_null(cam);
	assert_non_null(strstr(why, "RGB3"));
}

/* ---- open failures ---- */

static void test_missing_node_is_enodev(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2 *cam = NULL;
	char why[256];

	default_request(&r);
	assert_int_equal(vg_v4l2_open(&cam, "/dev/video7", &r, &fake_v4l2_ops, why,
				      sizeof(why)), -VG_ENODEV);
	assert_null(cam);
	assert_non_null(strstr(why, "/dev/video7"));
}

static void test_busy_device_says_so(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2 *cam = NULL;
	char why[256];

	fake_v4l2_fail_open(EBUSY);
	default_request(&r);
	assert_int_equal(vg_v4l2_open(&cam, DEV, &r, &fake_v4l2_ops, why, sizeof(why)),
			 -VG_EIO);
	assert_non_null(strstr(why, "device busy: another program is using it"));
}

struct step_fault {
	const char *name;	/* expected in the sentence */
	unsigned long req;	/* 0: mmap */
	unsigned skip;
	int err;
	int expect;
};

/* A failure at each step leaves nothing open, mapped or allocated. */
static void test_half_open_failures_leave_nothing(void **state)
{
	static const struct step_fault steps[] = {
		{ "VIDIOC_QUERYCAP", VIDIOC_QUERYCAP, 0, EIO, -VG_EIO },
		{ "VIDIOC_ENUM_FMT", VIDIOC_ENUM_FMT, 1, EIO, -VG_EIO },
		{ "VIDIOC_S_FMT", VIDIOC_S_FMT, 0, EINVAL, -VG_EIO },
		{ "VIDIOC_S_PARM", VIDIOC_S_PARM, 0, ENODEV, -VG_ENODEV },
		{ "VIDIOC_REQBUFS", VIDIOC_REQBUFS, 0, ENOMEM, -VG_EIO },
		{ "VIDIOC_QUERYBUF", VIDIOC_QUERYBUF, 2, EINVAL, -VG_EIO },
		{ "mmap", 0, 2, ENOMEM, -VG_EIO },
		{ "VIDIOC_QBUF", VIDIOC_QBUF, 1, EIO, -VG_EIO },
		{ "VIDIOC_QBUF", VIDIOC_QBUF, 3, ENODEV, -VG_ENODEV },
		{ "VIDIOC_STREAMON", VIDIOC_STREAMON, 0, ENOSPC, -VG_EIO },
	};
	struct vg_v4l2_request r;

	default_request(&r);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct vg_v4l2 *cam = NULL;
		char why[256] = "";
		char expect[64];
		int ret;

		fake_v4l2_reset(&cfg);
		if (steps[i].req == 0)
			fake_v4l2_fail_mmap(steps[i].skip, steps[i].err);
		else
			fake_v4l2_fail_ioctl(steps[i].req, steps[i].skip, steps[i].err);
		ret = vg_v4l2_open(&cam, DEV, &r, &fake_v4l2_ops, why, sizeof(why));
		if (ret != steps[i].expect)
			fail_msg("step %s: got %d (%s), expected %d", steps[i].name, ret, why,
				 steps[i].expect);
		assert_null(cam);
		snprintf(expect, sizeof(expect), "%s: %s failed: ", DEV, steps[i].name);
		if (strstr(why, expect) == NULL)
			fail_msg("step %s: unhelpful sentence \"%s\"", steps[i].name, why);
		fake_v4l2_assert_clean();
	}
}

static void test_device_vanishing_during_open(void **state)
{
	struct vg_v4l2_request r;
	struct vg_v4l2 *cam = NULL;
	char why[256];

	fake_v4l2_vanish_on(VIDIOC_QUERYBUF);
	default_request(&r);
	assert_int_equal(vg_v4l2_open(&cam, DEV, &r, &fake_v4l2_ops, why, sizeof(why)),
			 -VG_ENODEV);
	assert_null(cam);
	/* The fake brings the device back only once everything is released. */
	fake_v4l2_assert_clean();
	cam = open_default();
	vg_v4l2_close(cam);
}

/* ---- streaming ---- */

static void test_frames_in_order_with_utc_times(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b;
	uint32_t last_seq = 0;
	int64_t last_ts = 0;

	for (int i = 0; i < 20; i++) {
		int64_t now;

		assert_int_equal(vg_v4l2_dequeue(cam, 1000, &b), 0);
		now = now_utc_us();
		assert_int_equal(b.error, 0);
		assert_int_equal(b.bytesused, 640 * 2 * 480);
		/* Content is the frame the driver made, in order. */
		assert_int_equal(frame_number(&b), b.sequence);
		assert_int_equal(b.data[b.bytesused - 1], b.sequence & 0xff);
		if (i > 0) {
			assert_int_equal(b.sequence, last_seq + 1);
			assert_true(b.ts_utc_us > last_ts);
		}
		assert_true(b.ts_utc_us <= now + 1000);
		assert_true(b.ts_utc_us > now - 1000000);
		last_seq = b.sequence;
		last_ts = b.ts_utc_us;
		assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	}
	vg_v4l2_close(cam);
}

static void test_capture_time_not_dequeue_time(void **state)
{
	struct vg_v4l2 *cam;
	struct vg_v4l2_buf b;
	int64_t now;

	/* The frame was captured 300 ms before we got it: say so. */
	cfg.ts_lag_us = 300000;
	use_config();
	cam = open_default();
	assert_int_equal(vg_v4l2_dequeue(cam, 1000, &b), 0);
	now = now_utc_us();
	assert_true(b.ts_utc_us < now - 250000);
	assert_true(b.ts_utc_us > now - 350000);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	vg_v4l2_close(cam);
}

static void test_unknown_clock_uses_dequeue_time(void **state)
{
	struct vg_v4l2 *cam;
	struct vg_v4l2_buf b;
	int64_t now;

	/* Without the MONOTONIC flag the stamp means nothing we can map. */
	cfg.ts_flags = V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN;
	cfg.ts_lag_us = 5000000;
	use_config();
	cam = open_default();
	assert_int_equal(vg_v4l2_dequeue(cam, 1000, &b), 0);
	now = now_utc_us();
	assert_true(b.ts_utc_us <= now);
	assert_true(b.ts_utc_us > now - 100000);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	vg_v4l2_close(cam);
}

static void test_requeue_rules(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b[4], again;

	for (int i = 0; i < 4; i++)
		assert_int_equal(vg_v4l2_dequeue(cam, 100, &b[i]), 0);
	/* All four are with us: nothing can arrive (no real waiting). */
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &again), -VG_ENODATA);
	assert_int_equal(vg_v4l2_requeue(cam, b[2].index), 0);
	/* Twice, out of range, negative: refused without bothering the driver. */
	assert_int_equal(vg_v4l2_requeue(cam, b[2].index), -VG_EINVAL);
	assert_int_equal(vg_v4l2_requeue(cam, 4), -VG_EINVAL);
	assert_int_equal(vg_v4l2_requeue(cam, -1), -VG_EINVAL);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &again), 0);
	assert_int_equal(again.index, b[2].index);
	assert_int_equal(again.sequence, b[3].sequence + 1);
	assert_int_equal(frame_number(&again), again.sequence);
	/* Closing with buffers still out is allowed: they are forgotten. */
	vg_v4l2_close(cam);
}

static void test_timeout_is_enodata(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b;

	fake_v4l2_stall(1);
	assert_int_equal(vg_v4l2_dequeue(cam, 200, &b), -VG_ENODATA);
	fake_v4l2_stall(0);
	assert_int_equal(vg_v4l2_dequeue(cam, 200, &b), 0);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	vg_v4l2_close(cam);
}

static void test_eagain_then_retry(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b;

	fake_v4l2_dqbuf_errno(EAGAIN, 1);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_EAGAIN);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	assert_int_equal(frame_number(&b), 0);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	vg_v4l2_close(cam);
}

static void test_enodev_on_dqbuf(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b;

	fake_v4l2_vanish_on(VIDIOC_DQBUF);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_ENODEV);
	vg_v4l2_close(cam);
	fake_v4l2_assert_clean();
	/* And the camera can be reopened afterwards. */
	cam = open_default();
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	vg_v4l2_close(cam);
}

static void test_pollerr_is_enodev(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b;

	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);	/* one frame out */
	fake_v4l2_vanish();
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_ENODEV);
	vg_v4l2_close(cam);
	fake_v4l2_assert_clean();
}

static void test_enodev_on_requeue(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b;

	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	fake_v4l2_vanish_on(VIDIOC_QBUF);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), -VG_ENODEV);
	vg_v4l2_close(cam);
}

/* Documented rule: up to two EIO in a row are transient (frame lost),
 * the third in a row means the device is gone; a good frame resets it. */
static void test_eio_transient_then_gone(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b;

	fake_v4l2_dqbuf_errno(EIO, 2);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_EAGAIN);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_EAGAIN);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);

	fake_v4l2_dqbuf_errno(EIO, 2);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_EAGAIN);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_EAGAIN);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);

	fake_v4l2_dqbuf_errno(EIO, 3);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_EAGAIN);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_EAGAIN);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_ENODEV);
	vg_v4l2_close(cam);
}

static void test_resolution_change_event(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_granted g;
	struct vg_v4l2_buf b;

	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	fake_v4l2_source_change(1280, 720);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_EFORMAT);
	vg_v4l2_close(cam);
	/* Reopening negotiates the new size. */
	cam = open_default();
	vg_v4l2_granted(cam, &g);
	assert_int_equal(g.width, 1280);
	assert_int_equal(g.height, 720);
	vg_v4l2_close(cam);
}

static void test_resolution_change_without_events(void **state)
{
	struct vg_v4l2 *cam;
	struct vg_v4l2_buf b;

	cfg.events = 0;
	cfg.buf_slack = 1 << 20;	/* room for a bigger picture */
	use_config();
	cam = open_default();
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	fake_v4l2_source_change(800, 600);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), -VG_EFORMAT);
	vg_v4l2_close(cam);
}

static void test_error_flag_marks_frame(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b;

	fake_v4l2_next_error_flag();
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	assert_int_equal(b.error, 1);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	assert_int_equal(vg_v4l2_dequeue(cam, 100, &b), 0);
	assert_int_equal(b.error, 0);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	vg_v4l2_close(cam);
}

/* The driver's drops are the gaps in its sequence numbers: counted apart
 * from what it delivered, and its flagged frames, across the counter's wrap. */
static void test_driver_drops_counted_by_sequence(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct vg_v4l2_buf b;
	struct vg_v4l2_counts c;

	fake_v4l2_set_sequence(UINT32_MAX - 1);
	for (int i = 0; i < 4; i++) {	/* UINT32_MAX - 1, UINT32_MAX, 0, 1 */
		assert_int_equal(vg_v4l2_dequeue(cam, 1000, &b), 0);
		assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	}
	assert_int_equal(b.sequence, 1);
	vg_v4l2_counts(cam, &c);
	assert_int_equal(c.delivered, 4);
	assert_int_equal(c.skipped, 0);
	fake_v4l2_drop_frames(3);
	fake_v4l2_next_error_flag();
	assert_int_equal(vg_v4l2_dequeue(cam, 1000, &b), 0);
	assert_int_equal(b.sequence, 5);
	assert_int_equal(vg_v4l2_requeue(cam, b.index), 0);
	vg_v4l2_counts(cam, &c);
	assert_int_equal(c.delivered, 5);
	assert_int_equal(c.skipped, 3);
	assert_int_equal(c.flagged, 1);
	vg_v4l2_close(cam);
}

/* ---- requeue from another thread ---- */

struct requeuer {
	struct vg_v4l2 *cam;
	int fds[2];
	int failures;
};

static void *requeue_thread(void *arg)
{
	struct requeuer *q = arg;
	int index;

	while (read(q->fds[0], &index, sizeof(index)) == (ssize_t)sizeof(index))
		if (vg_v4l2_requeue(q->cam, index) != 0)
			q->failures++;
	return NULL;
}

static void test_requeue_from_another_thread(void **state)
{
	struct requeuer q;
	pthread_t th;
	uint32_t expect = 0;
	int got = 0;

	memset(&q, 0, sizeof(q));
	q.cam = open_default();
	assert_int_equal(pipe(q.fds), 0);
	assert_int_equal(pthread_create(&th, NULL, requeue_thread, &q), 0);
	/* 4 buffers, 200 frames: every frame must come through, in order. */
	while (got < 200) {
		struct vg_v4l2_buf b;
		int ret = vg_v4l2_dequeue(q.cam, 1000, &b);

		if (ret == -VG_ENODATA || ret == -VG_EAGAIN) {
			sched_yield();	/* the other thread still holds them all */
			continue;
		}
		assert_int_equal(ret, 0);
		assert_int_equal(b.sequence, expect);
		assert_int_equal(frame_number(&b), expect);
		expect++;
		got++;
		assert_int_equal(write(q.fds[1], &b.index, sizeof(b.index)),
				 (ssize_t)sizeof(b.index));
	}
	close(q.fds[1]);
	pthread_join(th, NULL);
	close(q.fds[0]);
	assert_int_equal(q.failures, 0);
	vg_v4l2_close(q.cam);
}

/* A blocking handle could hang the capture thread if a frame vanishes
 * between poll and DQBUF; an inherited one keeps the camera busy while a
 * child program (an encoder helper) runs. */
static void test_handle_nonblocking_not_inherited(void **state)
{
	struct vg_v4l2 *cam = open_default();
	struct fake_v4l2_stats st;

	fake_v4l2_get_stats(&st);
	assert_true(st.open_flags & O_NONBLOCK);
	assert_true(st.open_flags & O_CLOEXEC);
	assert_int_equal(st.streaming, 1);
	vg_v4l2_close(cam);
	fake_v4l2_get_stats(&st);
	assert_int_equal(st.streamoffs, 1);
	assert_int_equal(st.releases, 1);
}

/* ---- small API ---- */

static void test_fourcc_mapping(void **state)
{
	for (int f = 0; f < VG_FMT_COUNT; f++) {
		uint32_t cc = vg_v4l2_fourcc_from_format((enum vg_cam_format)f);

		assert_int_not_equal(cc, 0);
		assert_int_equal(vg_v4l2_format_from_fourcc(cc), f);
	}
	assert_int_equal(vg_v4l2_fourcc_from_format(VG_FMT_YUV420), V4L2_PIX_FMT_YUV420);
	assert_int_equal(vg_v4l2_format_from_fourcc(V4L2_PIX_FMT_JPEG), VG_FMT_MJPEG);
	assert_int_equal(vg_v4l2_format_from_fourcc(V4L2_PIX_FMT_RGB24), -1);
}

static void test_null_safety(void **state)
{
	struct vg_v4l2_buf b;

	vg_v4l2_close(NULL);
	assert_int_equal(vg_v4l2_dequeue(NULL, 0, &b), -VG_EINVAL);
	assert_int_equal(vg_v4l2_requeue(NULL, 0), -VG_EINVAL);
}

/*
 * A consumer that holds on to every picture (the encoder busy closing one
 * clip and opening the next): once the driver is down to its spare
 * buffers the source copies pictures and gives the buffers straight back,
 * so capture goes on without a lost frame, and every picture is intact.
 */
static void test_source_copies_when_driver_runs_short(void **state)
{
	struct vg_camera_config cam;
	struct vg_source *src;
	struct vg_source_frame f[24];
	char why[256];
	int n = (int)(sizeof(f) / sizeof(f[0]));

	memset(&cam, 0, sizeof(cam));
	cam.name = "cam";
	cam.device = "/dev/video0";
	cam.formats[0] = VG_FMT_YUYV;
	cam.n_formats = 1;
	cam.width = 640;
	cam.height = 480;
	cam.fps_num = 15;
	cam.fps_den = 1;
	assert_int_equal(vg_source_v4l2_open_ops(&src, &cam, &fake_v4l2_ops, why, sizeof(why)),
			 0);
	/* three times the driver's 8 buffers, none released */
	for (int i = 0; i < n; i++) {
		const uint8_t *p;
		uint32_t seq;

		memset(&f[i], 0, sizeof(f[i]));
		assert_int_equal(vg_source_read(src, &f[i], 0), 0);
		assert_non_null(f[i].frame);
		if (i > 0)
			assert_int_equal(f[i].sequence, f[i - 1].sequence + 1);
		p = f[i].frame->data[0];
		seq = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		      (uint32_t)p[3] << 24;
		assert_int_equal(seq, f[i].sequence);
		assert_int_equal(p[4], f[i].sequence & 0xff);
		assert_int_equal(f[i].frame->width, 640);
	}
	/* the pictures kept earlier are still intact after the driver went on */
	for (int i = 0; i < n; i++)
		assert_int_equal(f[i].frame->data[0][0], (uint8_t)f[i].sequence);
	for (int i = 0; i < n; i++)
		vg_source_frame_release(&f[i]);
	vg_source_close(src);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_first_offered_preference_wins),
		T(test_emulated_formats_are_skipped),
		T(test_jpeg_is_taken_as_mjpeg),
		T(test_no_offered_format_is_eformat),
		T(test_size_snapped_is_reported),
		T(test_rate_granted_is_reported),
		T(test_rate_unknown_without_timeperframe),
		T(test_fewer_buffers_accepted),
		T(test_too_few_buffers_refused),
		T(test_mplane_only_is_eformat),
		T(test_refused_format_is_eformat),
		T(test_missing_node_is_enodev),
		T(test_busy_device_says_so),
		T(test_half_open_failures_leave_nothing),
		T(test_device_vanishing_during_open),
		T(test_frames_in_order_with_utc_times),
		T(test_capture_time_not_dequeue_time),
		T(test_unknown_clock_uses_dequeue_time),
		T(test_requeue_rules),
		T(test_timeout_is_enodata),
		T(test_eagain_then_retry),
		T(test_enodev_on_dqbuf),
		T(test_pollerr_is_enodev),
		T(test_enodev_on_requeue),
		T(test_eio_transient_then_gone),
		T(test_resolution_change_event),
		T(test_resolution_change_without_events),
		T(test_error_flag_marks_frame),
		T(test_driver_drops_counted_by_sequence),
		T(test_requeue_from_another_thread),
		T(test_handle_nonblocking_not_inherited),
		T(test_fourcc_mapping),
		T(test_null_safety),
		T(test_source_copies_when_driver_runs_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
