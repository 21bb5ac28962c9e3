/*
 * diskguard.h - the space recording may not take: a hard floor of free
 * space kept for the audit log, the catalog and the keys.
 *
 * The retention sweeper keeps storage.min_free free by deleting the oldest
 * unheld footage early. When only held footage is left it cannot, and
 * recording would fill the disk: the audit log could not be written, and
 * with it every audited request would be refused, including the hold
 * release that would free space. So the cameras ask the guard before each
 * picture: below the floor (half of min_free, at least 4 MiB, at most
 * 256 MiB) recording pauses - each camera finishes its clip and opens a
 * "disk full" gap - and it resumes once free space is back at min_free
 * (at least the floor plus 4 MiB), which is where early deletion stops.
 * Everything else (control requests, audit rows, catalog writes) goes on
 * in the space the floor keeps.
 *
 * The guard reads the free space (statvfs f_bavail, what an unprivileged
 * writer may use) at most every 250 ms, whoever asks. A write that fails
 * with ENOSPC anyway (another program filled the disk) makes the guard
 * full at once, for at least 5 s and until the space is back. Each change
 * of state is logged
 * once (an ALARM line when recording pauses, one when it resumes).
 *
 * The floor keeps footage from taking the audit log's and catalog's space;
 * the other way round, their growth is watched (vg_diskguard_watch): the
 * retention sweeper frees min_free by deleting the oldest footage early,
 * so a log that grows fast (a flood of requests) would take footage with
 * it silently. More than VG_DISKGUARD_META_GROWTH_MAX bytes of growth of
 * the watched files within VG_DISKGUARD_META_WINDOW_US raises an ALARM
 * line (once per window) and counts in the status; normal use grows them
 * by kilobytes an hour.
 *
 * Every function may be called from any thread.
 */
#ifndef VIGIL_DISKGUARD_H
#define VIGIL_DISKGUARD_H

#include <stdint.h>

#define VG_DISKGUARD_FLOOR_MIN (UINT64_C(4) << 20)
#define VG_DISKGUARD_FLOOR_MAX (UINT64_C(256) << 20)
#define VG_DISKGUARD_CHECK_US 250000
#define VG_DISKGUARD_META_GROWTH_MAX (UINT64_C(16) << 20)
#define VG_DISKGUARD_META_WINDOW_US (INT64_C(3600) * 1000000)
#define VG_DISKGUARD_MAX_WATCH 8

/* The world, injectable for tests; NULL members use statvfs(path) and
 * CLOCK_MONOTONIC. space returns 0 or a negative VG_E* code. */
struct vg_diskguard_clock {
	int (*space)(void *ud, const char *path, uint64_t *total, uint64_t *avail);
	int64_t (*now_mono_us)(void *ud);
	void *ud;
	/* Size in bytes of a watched file; 0 if absent. NULL: lstat. */
	uint64_t (*file_bytes)(void *ud, const char *path);
};

struct vg_diskguard_status {
	int full;			/* recording is paused */
	uint64_t avail_bytes;		/* at the last look */
	uint64_t floor_bytes, resume_bytes;
	int64_t pauses;			/* times recording paused since start */
	uint64_t meta_bytes;		/* the watched files (audit log, catalog) */
	int64_t meta_alarms;		/* growth alarms since start */
};

struct vg_diskguard;

/* Watch the file system holding path (copied), with storage.min_free as
 * min_free_bytes / min_free_percent (the larger applies). clk may be NULL
 * (copied). 0, -VG_ENOMEM, -VG_EINVAL. */
int vg_diskguard_new(struct vg_diskguard **out, const char *path, int64_t min_free_bytes,
		     int min_free_percent, const struct vg_diskguard_clock *clk);
void vg_diskguard_free(struct vg_diskguard *g);

/* New min_free from a reloaded config; applies at the next look. */
void vg_diskguard_set(struct vg_diskguard *g, int64_t min_free_bytes, int min_free_percent);

/* Watch the growth of these files (the audit log and the catalog, with
 * their -wal files; copied, at most VG_DISKGUARD_MAX_WATCH, replacing any
 * earlier list). Looked at with the free space. 0 or -VG_EINVAL. */
int vg_diskguard_watch(struct vg_diskguard *g, const char *const *paths, int n);

/* 1 if recording must pause now, 0 if it may go on. NULL g: 0. */
int vg_diskguard_full(struct vg_diskguard *g);

/* A write failed for want of space: full from now until the space is back. */
void vg_diskguard_no_space(struct vg_diskguard *g);

void vg_diskguard_status(struct vg_diskguard *g, struct vg_diskguard_status *st);

/* The size of the file system holding path and the space an unprivileged
 * writer may still use (statvfs: f_blocks and f_bavail, in bytes), as the
 * guard and retention read them. 0 or a negative VG_E* code. */
int vg_diskguard_space(const char *path, uint64_t *total, uint64_t *avail);

#endif
