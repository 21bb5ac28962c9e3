/*
 * sweeper.h - vigild's retention thread: runs vg_retention_sweep
 * (retention.h) at start and every minute, sooner when free space drops
 * below storage.min_free, and reports on the storage for `vigilctl status`.
 *
 * vg_sweeper_start first finishes any deletion a crash cut short
 * (vg_retention_recover, census off: reconcile's background check matches
 * rows and files, and re-reads a row before reporting it, so a deletion
 * by this thread is never taken for a missing file), then starts the
 * thread. Between sweeps the thread looks at the
 * free space every pressure_check_us (one statvfs) and sweeps at once
 * when it is below min_free, so early deletion keeps ahead of recording
 * without waiting a minute. While the disk alarm stands (only held or
 * open footage left) those extra sweeps stop, so the alarm is logged once
 * a minute, not once a second.
 *
 * Alarms (disk full of held footage, held footage past its share, clock
 * jump) are logged by the retention module on every sweep they persist;
 * the sweeper adds a warning for each hold past its review date at start
 * and once a day (vg_hold_overdue), and keeps the figures for status.
 *
 * Thread safety: every function may be called from any thread, except
 * that vg_sweeper_stop must not race with the others. The thread is the
 * only user of its struct vg_retention.
 */
#ifndef VIGIL_SWEEPER_H
#define VIGIL_SWEEPER_H

#include <stdint.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/config.h"
#include "vigil/retention.h"

struct json_object;

/* Zero fields take the default named. */
struct vg_sweeper_opts {
	int64_t interval_us;		/* 60 s between regular sweeps */
	int64_t pressure_check_us;	/* 1 s between free-space checks; also the
					 * shortest gap between two sweeps */
	int64_t overdue_interval_us;	/* 1 day between overdue-hold warnings */
	const struct vg_retention_clock *clk;	/* NULL: real clocks; copied */
};

struct vg_sweeper_status {
	int64_t sweeps;			/* sweeps finished since start */
	int64_t last_sweep_us;		/* realtime of the last one; 0: none yet */
	int last_error;			/* its return (0 or a negative VG_E* code) */
	uint64_t total_bytes, free_bytes, min_free_bytes;	/* after the last sweep */
	int64_t held_bytes;		/* footage under active holds */
	double held_percent;		/* held_bytes as a share of total_bytes */
	int64_t oldest_us;		/* start of the oldest finished clip; 0: none */
	int disk_low, disk_alarm, held_warn, clock_jump;	/* from the last sweep */
	int64_t jump_us;
	int overdue_holds;		/* active holds past their review date */
	int64_t deleted, early_deleted;	/* clips, totals since start */
	int64_t deleted_bytes, early_bytes;	/* their sizes, totals since start */
};

struct vg_sweeper;

/*
 * Recover, then start the thread (its first sweep runs at once). cat and
 * audit (may be NULL) are borrowed and must outlive the sweeper; data_dir,
 * cfg's retention settings and opts are copied (cfg may be freed after).
 * Retention per camera comes from cfg->cameras[].retention_days (every
 * configured camera, enabled or not), min_free from cfg->min_free_bytes /
 * min_free_percent, the held share from cfg->held_warn_percent.
 */
int vg_sweeper_start(struct vg_sweeper **out, struct vg_catalog *cat, struct vg_audit *audit,
		     const char *data_dir, const struct vg_config *cfg,
		     const struct vg_sweeper_opts *opts);

/* Stop the thread (a sweep in progress finishes first) and free s; NULL
 * is a no-op. Call it before closing the catalog. */
void vg_sweeper_stop(struct vg_sweeper *s);

/* New retention settings from a reloaded config (copied); they apply from
 * the next sweep, which runs at once. The clock-jump protection carries
 * over. 0, -VG_ENOMEM. */
int vg_sweeper_reload(struct vg_sweeper *s, const struct vg_config *cfg);

/* Ask for a sweep now (e.g. a camera hit a full disk); returns at once. */
void vg_sweeper_kick(struct vg_sweeper *s);

/* An operator confirms the clock after a clock-jump alarm (vigilctl
 * retention accept-clock): if the last sweep was clamped, the next one
 * (asked for now) trusts the realtime clock again and may then delete
 * what is truly past retention; returns 1. Returns 0, and changes
 * nothing, if retention is not clamped. */
int vg_sweeper_accept_clock(struct vg_sweeper *s);

/* Ask for a sweep and wait until one that started after this call has
 * finished: 0, or -VG_EAGAIN after timeout_ms. */
int vg_sweeper_sync(struct vg_sweeper *s, int timeout_ms);

/* The latest figures (all zero before the first sweep). */
void vg_sweeper_status(struct vg_sweeper *s, struct vg_sweeper_status *st);

/* Add "storage": {...} (the figures above, times as ISO 8601 UTC too) to
 * out, a JSON object the caller owns. */
void vg_sweeper_status_json(struct vg_sweeper *s, struct json_object *out);

#endif
