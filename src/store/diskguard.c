/*
 * diskguard.c - the floor of free space recording may not take (contract
 * and thresholds in diskguard.h).
 */
#define VG_LOG_MODULE "DISK"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "vigil/diskguard.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"

#define NO_SPACE_HOLD_US (5 * VG_US_PER_S)

struct vg_diskguard {
	char *path;
	struct vg_diskguard_clock clk;
	pthread_mutex_t lock;		/* guards everything below */
	int64_t min_free_bytes;
	int min_free_percent;
	int64_t last_check_us;		/* monotonic; 0: never */
	int full;
	int space_err;			/* the last look failed (logged once) */
	int64_t hold_until_us;		/* monotonic: a failed write keeps it full */
	struct vg_diskguard_status st;
	char *watch[VG_DISKGUARD_MAX_WATCH];	/* vg_diskguard_watch */
	int n_watch;
	int64_t meta_window_us;		/* monotonic: the growth window began */
	uint64_t meta_window_bytes;	/* their size then */
	int meta_alarmed;		/* in this window */
};

int vg_diskguard_space(const char *path, uint64_t *total, uint64_t *avail)
{
	struct statvfs sv;

	if (statvfs(path, &sv) != 0)
		return -vg_err_from_errno(errno);
	*total = (uint64_t)sv.f_blocks * sv.f_frsize;
	*avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

static int sys_space(void *ud, const char *path, uint64_t *total, uint64_t *avail)
{
	(void)ud;
	return vg_diskguard_space(path, total, avail);
}

static uint64_t sys_file_bytes(void *ud, const char *path)
{
	struct stat sb;

	(void)ud;
	return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
}

static int64_t sys_mono(void *ud)
{
	(void)ud;
	return vg_time_mono_us();
}

int vg_diskguard_new(struct vg_diskguard **out, const char *path, int64_t min_free_bytes,
		     int min_free_percent, const struct vg_diskguard_clock *clk)
{
	struct vg_diskguard *g;

	if (out == NULL)
		return -VG_EINVAL;
	*out = NULL;
	if (path == NULL || min_free_bytes < 0 || min_free_percent < 0 || min_free_percent > 100)
		return -VG_EINVAL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -VG_ENOMEM;
	g->path = strdup(path);
	if (g->path == NULL) {
		free(g);
		return -VG_ENOMEM;
	}
	if (clk != NULL)
		g->clk = *clk;
	if (g->clk.space == NULL)
		g->clk.space = sys_space;
	if (g->clk.now_mono_us == NULL)
		g->clk.now_mono_us = sys_mono;
	if (g->clk.file_bytes == NULL)
		g->clk.file_bytes = sys_file_bytes;
	g->min_free_bytes = min_free_bytes;
	g->min_free_percent = min_free_percent;
	pthread_mutex_init(&g->lock, NULL);
	*out = g;
	return 0;
}

void vg_diskguard_free(struct vg_diskguard *g)
{
	if (g == NULL)
		return;
	pthread_mutex_destroy(&g->lock);
	for (int i = 0; i < g->n_watch; i++)
		free(g->watch[i]);
	free(g->path);
	free(g);
}

int vg_diskguard_watch(struct vg_diskguard *g, const char *const *paths, int n)
{
	char *copy[VG_DISKGUARD_MAX_WATCH] = { NULL };

	if (g == NULL || n < 0 || n > VG_DISKGUARD_MAX_WATCH || (n > 0 && paths == NULL))
		return -VG_EINVAL;
	for (int i = 0; i < n; i++) {
		copy[i] = strdup(paths[i]);
		if (copy[i] == NULL) {
			for (int j = 0; j < i; j++)
				free(copy[j]);
			return -VG_ENOMEM;
		}
	}
	pthread_mutex_lock(&g->lock);
	for (int i = 0; i < g->n_watch; i++)
		free(g->watch[i]);
	memcpy(g->watch, copy, sizeof(copy));
	g->n_watch = n;
	g->meta_window_us = 0;	/* a new window at the next look */
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* The watched files' growth (caller holds the lock). */
static void look_meta(struct vg_diskguard *g, int64_t now)
{
	uint64_t total = 0, grown;

	if (g->n_watch == 0)
		return;
	for (int i = 0; i < g->n_watch; i++)
		total += g->clk.file_bytes(g->clk.ud, g->watch[i]);
	g->st.meta_bytes = total;
	if (g->meta_window_us == 0 || now - g->meta_window_us >= VG_DISKGUARD_META_WINDOW_US ||
	    total < g->meta_window_bytes) {
		/* A new window (or the files shrank: a checkpoint folded the
		 * -wal back): measure from here. */
		g->meta_window_us = now;
		g->meta_window_bytes = total;
		g->meta_alarmed = 0;
		return;
	}
	grown = total - g->meta_window_bytes;
	if (grown > VG_DISKGUARD_META_GROWTH_MAX && !g->meta_alarmed) {
		g->meta_alarmed = 1;
		g->st.meta_alarms++;
		vg_errx("ALARM: the audit log and catalog grew by %" PRIu64 " bytes within the "
			"hour (now %" PRIu64 " bytes): their space comes from footage, which "
			"retention deletes early to keep free space; look for a flood of requests "
			"(vigilctl audit show) and for who sent it", grown, total);
	}
}

void vg_diskguard_set(struct vg_diskguard *g, int64_t min_free_bytes, int min_free_percent)
{
	if (g == NULL || min_free_bytes < 0 || min_free_percent < 0 || min_free_percent > 100)
		return;
	pthread_mutex_lock(&g->lock);
	g->min_free_bytes = min_free_bytes;
	g->min_free_percent = min_free_percent;
	g->last_check_us = 0;
	pthread_mutex_unlock(&g->lock);
}

/* The two thresholds for a file system of total bytes (diskguard.h). */
static void thresholds(const struct vg_diskguard *g, uint64_t total, uint64_t *floor,
		       uint64_t *resume)
{
	uint64_t pct = total / 100 * (uint64_t)g->min_free_percent;
	uint64_t min_free = pct > (uint64_t)g->min_free_bytes ? pct : (uint64_t)g->min_free_bytes;

	*floor = min_free / 2;
	if (*floor < VG_DISKGUARD_FLOOR_MIN)
		*floor = VG_DISKGUARD_FLOOR_MIN;
	if (*floor > VG_DISKGUARD_FLOOR_MAX)
		*floor = VG_DISKGUARD_FLOOR_MAX;
	*resume = min_free > *floor + VG_DISKGUARD_FLOOR_MIN ? min_free
							     : *floor + VG_DISKGUARD_FLOOR_MIN;
}

static void become_full(struct vg_diskguard *g, const char *why)
{
	if (g->full)
		return;
	g->full = 1;
	g->st.pauses++;
	vg_errx("ALARM: disk full (%s; %" PRIu64 " bytes free, recording stops below %" PRIu64
		"): recording paused, every camera's time is a \"disk full\" gap; staff "
		"requests and the audit log keep working. Free space (release holds no longer "
		"needed: vigilctl holds); recording resumes at %" PRIu64 " bytes free", why,
		g->st.avail_bytes, g->st.floor_bytes, g->st.resume_bytes);
}

/* Look at the file system (caller holds the lock). */
static void look(struct vg_diskguard *g, int64_t now)
{
	uint64_t total = 0, avail = 0;
	int rc;

	g->last_check_us = now;
	look_meta(g, now);
	rc = g->clk.space(g->clk.ud, g->path, &total, &avail);
	if (rc != 0) {
		if (!g->space_err)
			vg_warnx("cannot read the free space of %s: %s", g->path, vg_strerror(rc));
		g->space_err = 1;
		return;
	}
	g->space_err = 0;
	g->st.avail_bytes = avail;
	thresholds(g, total, &g->st.floor_bytes, &g->st.resume_bytes);
	if (!g->full && avail < g->st.floor_bytes) {
		become_full(g, "free space below the floor kept for the audit log and catalog");
	} else if (g->full && avail >= g->st.resume_bytes && now >= g->hold_until_us) {
		g->full = 0;
		vg_info("disk space is back (%" PRIu64 " bytes free): recording resumes", avail);
	}
}

int vg_diskguard_full(struct vg_diskguard *g)
{
	int64_t now;
	int full;

	if (g == NULL)
		return 0;
	now = g->clk.now_mono_us(g->clk.ud);
	pthread_mutex_lock(&g->lock);
	if (g->last_check_us == 0 || now - g->last_check_us >= VG_DISKGUARD_CHECK_US)
		look(g, now);
	full = g->full;
	pthread_mutex_unlock(&g->lock);
	return full;
}

void vg_diskguard_no_space(struct vg_diskguard *g)
{
	int64_t now;

	if (g == NULL)
		return;
	now = g->clk.now_mono_us(g->clk.ud);
	pthread_mutex_lock(&g->lock);
	look(g, now);
	/* The figures said there was room, yet a write found none (another
	 * program, or blocks reserved for root): trust the write for a while
	 * rather than pause and resume four times a second. */
	g->hold_until_us = now + NO_SPACE_HOLD_US;
	become_full(g, "a write found no space left");
	pthread_mutex_unlock(&g->lock);
}

void vg_diskguard_status(struct vg_diskguard *g, struct vg_diskguard_status *st)
{
	memset(st, 0, sizeof(*st));
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	*st = g->st;
	st->full = g->full;
	pthread_mutex_unlock(&g->lock);
}
