/* source.c - dispatch to the kind of source a camera config names. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/err.h"
#include "source_impl.h"

int vg_source_open(struct vg_source **out, const struct vg_camera_config *cam,
		   char *why, size_t whylen)
{
	*out = NULL;
	switch (cam->kind) {
	case VG_SOURCE_V4L2:
		return vg_source_v4l2_open(out, cam, why, whylen);
	case VG_SOURCE_FILE:
		if (cam->file_pix_fmt && strcmp(cam->file_pix_fmt, "h264") == 0)
			return vg_source_h264file_open(out, cam, why, whylen);
		return vg_source_file_open(out, cam, why, whylen);
	case VG_SOURCE_SYNTHETIC:
		return vg_source_synth_open(out, cam, why, whylen);
	}
	snprintf(why, whylen, "unknown source kind %d", (int)cam->kind);
	return -VG_EINVAL;
}

int64_t vg_source_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until_ns(int64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000000, .tv_nsec = t % 1000000000 };

	/* clock_nanosleep returns the error rather than setting errno; a
	 * signal only interrupts the wait, the deadline stays absolute. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int vg_source_pace(int64_t due_ns, int timeout_ms)
{
	int64_t now = vg_source_clock_ns(CLOCK_MONOTONIC);

	if (due_ns <= now)
		return 0;
	if (timeout_ms >= 0 && due_ns - now > (int64_t)timeout_ms * 1000000) {
		sleep_until_ns(now + (int64_t)timeout_ms * 1000000);
		return -VG_ENODATA;
	}
	sleep_until_ns(due_ns);
	return 0;
}

void vg_source_info(const struct vg_source *s, struct vg_source_info *info)
{
	*info = s->info;
}

int vg_source_read(struct vg_source *s, struct vg_source_frame *f, int timeout_ms)
{
	f->frame = NULL;
	f->packet = NULL;
	return s->ops->read(s, f, timeout_ms);
}

void vg_source_frame_release(struct vg_source_frame *f)
{
	av_frame_free(&f->frame);
	av_packet_free(&f->packet);
}

void vg_source_close(struct vg_source *s)
{
	if (s)
		s->ops->close(s);
}
