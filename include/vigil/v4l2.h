/*
 * v4l2.h - a V4L2 camera: format negotiation, mmap streaming, non-blocking
 * dequeue with poll, buffer timestamps mapped to UTC.
 *
 * Every system call goes through a small ops table so that tests can put a
 * strict fake driver underneath (tests/fake_v4l2.c); production uses
 * vg_v4l2_libv4l2_ops, which calls libv4l2 (v4l2_open, v4l2_ioctl, ...).
 *
 * Ownership: a dequeued buffer belongs to the caller until it hands it back
 * with vg_v4l2_requeue(); vg_v4l2_close() may be called with buffers still
 * out (they are then simply forgotten) and is safe on a half-opened camera.
 * One thread owns a camera; vg_v4l2_requeue() may be called from another
 * thread (it takes the camera's lock).
 */
#ifndef VIGIL_V4L2_H
#define VIGIL_V4L2_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/config.h"

struct vg_v4l2_ops {
	int (*open)(const char *path, int flags);
	int (*close)(int fd);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, int64_t off);
	int (*munmap)(void *addr, size_t len);
	int (*poll)(struct pollfd *fds, nfds_t n, int timeout_ms);
};

extern const struct vg_v4l2_ops vg_v4l2_libv4l2_ops;

/* What the config asks for. */
struct vg_v4l2_request {
	enum vg_cam_format formats[VG_FMT_COUNT];	/* preference order */
	int n_formats;
	int width, height;
	int fps_num, fps_den;
	int n_buffers;		/* 0 = default (4) */
};

/* What the driver granted (logged by the caller). */
struct vg_v4l2_granted {
	enum vg_cam_format format;
	uint32_t fourcc;
	int width, height;
	uint32_t bytesperline;
	uint32_t sizeimage;
	int fps_num, fps_den;	/* 0/0 if the driver cannot tell */
	int n_buffers;		/* buffers REQBUFS granted */
};

struct vg_v4l2_buf {
	int index;
	const uint8_t *data;
	size_t bytesused;
	int64_t ts_utc_us;	/* driver timestamp mapped to UTC */
	uint32_t sequence;	/* driver frame counter (gaps = driver drops) */
	int error;		/* V4L2_BUF_FLAG_ERROR was set: frame may be corrupt */
};

struct vg_v4l2;

/*
 * Open device, negotiate the first format in req->formats the driver offers,
 * set size and rate (nearest granted), allocate and map buffers, queue them
 * and start streaming. Returns -VG_ENODEV if the node is missing or gone,
 * -VG_EFORMAT if no requested format is offered, -VG_EIO otherwise; why
 * gets a sentence for the log.
 */
int vg_v4l2_open(struct vg_v4l2 **out, const char *device,
		 const struct vg_v4l2_request *req, const struct vg_v4l2_ops *ops,
		 char *why, size_t whylen);

void vg_v4l2_granted(const struct vg_v4l2 *cam, struct vg_v4l2_granted *g);

/*
 * Wait up to timeout_ms for a frame. 0: *buf filled, the caller owns it
 * (buf->data points into the driver's mapping and stays valid until the
 * buffer is requeued or the camera closed). buf->error set means the driver
 * flagged the picture as corrupt: usually requeue it and count a drop.
 * -VG_ENODATA on timeout, -VG_EAGAIN for a transient error (retry),
 * -VG_ENODEV if the device vanished (ENODEV/ENXIO, POLLERR/POLLHUP, or EIO
 * from DQBUF three times in a row): the caller must close and reopen.
 * A single EIO is the spec's "temporary problem like signal loss" and gives
 * -VG_EAGAIN; a good frame resets the count. -VG_EFORMAT if the input
 * changed size (source-change event, or a frame bigger than negotiated):
 * close and reopen to renegotiate. -VG_EIO otherwise.
 */
int vg_v4l2_dequeue(struct vg_v4l2 *cam, int timeout_ms, struct vg_v4l2_buf *buf);

/* What the driver delivered since the camera was opened, judged by its
 * frame counter (v4l2_buffer.sequence): buffers dequeued (flagged ones
 * included), sequence numbers it skipped (frames it dropped before we
 * could have them), buffers it flagged V4L2_BUF_FLAG_ERROR. The same
 * figures are logged at vg_v4l2_close(). Call from the owning thread. */
struct vg_v4l2_counts {
	int64_t delivered, skipped, flagged;
};
void vg_v4l2_counts(const struct vg_v4l2 *cam, struct vg_v4l2_counts *c);

/* Give a buffer back to the driver. -VG_EINVAL if index is not a buffer
 * currently out with the caller (never dequeued, or requeued already),
 * -VG_ENODEV if the device vanished (the buffer then stays out). */
int vg_v4l2_requeue(struct vg_v4l2 *cam, int index);

/* Stop streaming, unmap every buffer, release them (REQBUFS 0), close the
 * handle, in that order, even if the device vanished. NULL is a no-op. */
void vg_v4l2_close(struct vg_v4l2 *cam);

/* Map a V4L2 fourcc to our format enum; -1 if not one we take. */
int vg_v4l2_format_from_fourcc(uint32_t fourcc);
uint32_t vg_v4l2_fourcc_from_format(enum vg_cam_format f);

#endif
