/*
 * source_impl.h - the table each kind of source fills in (private to the
 * source_*.c files; callers use source.h).
 */
#ifndef VIGIL_SOURCE_IMPL_H
#define VIGIL_SOURCE_IMPL_H

#include <time.h>

#include "vigil/source.h"

struct vg_source_ops {
	const char *kind;	/* "v4l2", "file", "synthetic" */
	int (*read)(struct vg_source *s, struct vg_source_frame *f, int timeout_ms);
	void (*close)(struct vg_source *s);
};

/* Every source begins with this header; implementations embed it first. */
struct vg_source {
	const struct vg_source_ops *ops;
	struct vg_source_info info;
};

/* CLOCK_MONOTONIC or CLOCK_REALTIME in nanoseconds. */
int64_t vg_source_clock_ns(clockid_t id);

/*
 * Pacing for sources that deliver at a nominal rate (files, the synthetic
 * camera): wait until due_ns (CLOCK_MONOTONIC), but no longer than
 * timeout_ms (negative: no limit). 0 when due; -VG_ENODATA after waiting
 * the whole timeout, so that a caller polling with a timeout never spins.
 */
int vg_source_pace(int64_t due_ns, int timeout_ms);

int vg_source_v4l2_open(struct vg_source **out, const struct vg_camera_config *cam,
			char *why, size_t whylen);
/* The same through other device calls (tests: tests/fake_v4l2.h). */
struct vg_v4l2_ops;
int vg_source_v4l2_open_ops(struct vg_source **out, const struct vg_camera_config *cam,
			    const struct vg_v4l2_ops *ops, char *why, size_t whylen);
int vg_source_file_open(struct vg_source **out, const struct vg_camera_config *cam,
			char *why, size_t whylen);
/* file:PATH with pixel_format = "h264": a camera that encodes itself. */
int vg_source_h264file_open(struct vg_source **out, const struct vg_camera_config *cam,
			    char *why, size_t whylen);
int vg_source_synth_open(struct vg_source **out, const struct vg_camera_config *cam,
			 char *why, size_t whylen);

#endif
