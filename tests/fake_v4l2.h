/*
 * fake_v4l2.h - a strict in-memory V4L2 capture driver behind struct
 * vg_v4l2_ops, for unit tests only.
 *
 * One device node (config.path) with one open handle at a time. The fake
 * follows the V4L2 MMAP streaming protocol the way vb2 drivers do, and
 * FAILS the running cmocka test (fail_msg) on a protocol violation: any
 * call on a handle that is not open, S_FMT with buffers allocated, REQBUFS
 * while streaming or with buffers still mapped, QBUF of a queued buffer or
 * an index out of range, non-zero reserved fields, DQBUF before STREAMON,
 * a DQBUF or poll that would block forever, mmap with the wrong offset,
 * length or flags, munmap of something not mapped, close() with buffers
 * still mapped or without REQBUFS 0 first (vigil's required teardown).
 * fake_v4l2_assert_clean() reports leaks: an open handle, a mapping,
 * buffers never released.
 *
 * Frames are made on demand: while streaming, every queued buffer is
 * "ready", and DQBUF fills the oldest with frame number n as a 32-bit
 * little-endian value in the first 4 bytes and (n & 0xff) in every other
 * byte, stamped with CLOCK_MONOTONIC now minus config.ts_lag_us. With no
 * buffer queued (or when stalled), poll returns 0 at once: no test waits.
 *
 * Single global instance; not for use from several tests at once. Calls are
 * serialised by an internal mutex so a test may requeue from a thread.
 */
#ifndef VIGIL_TESTS_FAKE_V4L2_H
#define VIGIL_TESTS_FAKE_V4L2_H

#include <stdint.h>

#include "vigil/v4l2.h"

#define FAKE_V4L2_MAX 8

struct fake_v4l2_format {
	uint32_t fourcc;
	uint32_t flags;		/* e.g. V4L2_FMT_FLAG_EMULATED */
};

struct fake_v4l2_config {
	const char *path;	/* the one node that exists; default "/dev/video0" */
	uint32_t caps;		/* device_caps; default VIDEO_CAPTURE | STREAMING */
	struct fake_v4l2_format formats[FAKE_V4L2_MAX];
	int n_formats;		/* in ENUM_FMT order */
	int sizes[FAKE_V4L2_MAX][2];	/* S_FMT snaps to the nearest */
	int n_sizes;
	uint32_t tpf[FAKE_V4L2_MAX][2];	/* timeperframe num/den; S_PARM snaps */
	int n_rates;		/* 0: no V4L2_CAP_TIMEPERFRAME (S/G_PARM ENOTTY) */
	unsigned min_buffers, max_buffers;	/* REQBUFS grants within these */
	uint32_t ts_flags;	/* default V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC */
	int64_t ts_lag_us;	/* capture happened this long before DQBUF */
	int events;		/* supports V4L2_EVENT_SOURCE_CHANGE */
	uint32_t buf_slack;	/* buffer length = sizeimage + slack */
};

/* Fill *c with a typical USB camera: YUYV and MJPEG native, RGB3 emulated,
 * 640x480/1280x720/1920x1080, 30/15/5 fps, 2..8 buffers, events on. */
void fake_v4l2_default_config(struct fake_v4l2_config *c);
/* Forget everything (frees leftovers silently) and become device c. */
void fake_v4l2_reset(const struct fake_v4l2_config *c);

extern const struct vg_v4l2_ops fake_v4l2_ops;

/* Fault injection; each arms once. */
void fake_v4l2_fail_open(int err);
/* The call of req after `skip` successful ones fails with err. */
void fake_v4l2_fail_ioctl(unsigned long req, unsigned skip, int err);
void fake_v4l2_fail_mmap(unsigned skip, int err);
/* The next `count` DQBUFs fail with err (EAGAIN, EIO, ...). */
void fake_v4l2_dqbuf_errno(int err, int count);
/* The device is unplugged now / at the next call of req (which then
 * fails with ENODEV). Afterwards every ioctl fails with ENODEV and poll
 * says POLLERR|POLLHUP; it comes back once the handle is closed. */
void fake_v4l2_vanish(void);
void fake_v4l2_vanish_on(unsigned long req);
/* S_FMT grants this pixel format whatever is asked. */
void fake_v4l2_refuse_format(uint32_t substitute);
/* The input switches to w x h: a SOURCE_CHANGE event if subscribed,
 * otherwise frames simply grow (up to the buffer length). */
void fake_v4l2_source_change(int w, int h);
/* The next frame carries V4L2_BUF_FLAG_ERROR. */
void fake_v4l2_next_error_flag(void);
/* The driver drops n frames: the next one's sequence is n higher. */
void fake_v4l2_drop_frames(uint32_t n);
/* The driver's frame counter goes on from seq (e.g. near its wrap). */
void fake_v4l2_set_sequence(uint32_t seq);
/* No signal: no frame becomes ready while on. */
void fake_v4l2_stall(int on);

struct fake_v4l2_stats {
	int open_fds;
	int mappings;
	int streaming;
	int queued;
	int open_flags;		/* flags of the last open() */
	int streamoffs;
	int releases;		/* REQBUFS 0 calls */
	uint32_t frames;	/* frames produced */
};
void fake_v4l2_get_stats(struct fake_v4l2_stats *s);

/* Fail the test if a handle is open, a buffer mapped or allocated. */
void fake_v4l2_assert_clean(void);

#endif
