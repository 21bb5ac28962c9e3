/*
 * retention.h - the retention sweeper: deletes footage past its camera's
 * retention (policy 3.7, principle 6), keeps what an evidence hold covers
 * (hold.h), deletes the oldest unheld footage early when the disk is short
 * of space, refuses to mass-delete when the wall clock jumps forward, and
 * finishes deletions a crash interrupted. docs/retention.md explains it.
 *
 * Deletion is crypto-shredding, in this order, each step durable before
 * the next: (1) the clip's wrapped key is set to NULL in the catalog
 * (secure_delete zeroes it; one transaction per batch), (2) the file is
 * unlinked and its directory fsynced, (3) the row is deleted. A crash
 * anywhere leaves the clip intact (before 1) or keyless and finished by
 * vg_retention_recover() (after 1).
 *
 * Boundary: a complete clip of a camera with retention D days is deleted
 * when end_us <= now - D * 86400 s (the limit itself is inclusive: a clip
 * ending exactly at, or 1 us before, the limit goes; 1 us after stays).
 * Clips still RECORDING are never touched (reconcile owns them).
 *
 * One sweeper is used by one thread at a time (the daemon's retention
 * thread); it shares the catalog with the recorders.
 */
#ifndef VIGIL_RETENTION_H
#define VIGIL_RETENTION_H

#include <stdint.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"

#define VG_RETENTION_DEFAULT_DAYS 31
#define VG_US_PER_DAY INT64_C(86400000000)

/*
 * The sweeper's view of the world, injectable for tests. Any NULL member
 * uses the real thing: CLOCK_REALTIME, CLOCK_MONOTONIC, statvfs(path)
 * (total = f_blocks * f_frsize, avail = f_bavail * f_frsize). space returns
 * 0 or a negative VG_E* code.
 */
struct vg_retention_clock {
	int64_t (*now_realtime_us)(void *ud);
	int64_t (*now_monotonic_us)(void *ud);
	int (*space)(void *ud, const char *path, uint64_t *total, uint64_t *avail);
	void *ud;
};

struct vg_retention_camera {
	const char *name;	/* copied */
	int days;		/* 1..3650 (the config module enforces the justification) */
};

/* Zero fields take the default named. Copied by vg_retention_new. */
struct vg_retention_params {
	const struct vg_retention_camera *cameras;
	int n_cameras;
	int default_days;		/* 31: cameras not listed (logged once each) */
	int64_t min_free_bytes;		/* storage.min_free; the larger of the two */
	int min_free_percent;		/* ... applies (both 0: no early deletion) */
	int held_warn_percent;		/* 50: warn when held footage passes this share */
	int64_t jump_margin_us;		/* 10 min: clock-jump tolerance; see below */
	int64_t startup_max_gap_us;	/* 7 days: see docs/retention.md */
	int batch;			/* 1000 clips per transaction */
};

/*
 * Clock safety: each sweep compares how far the realtime clock moved since
 * the last trusted sweep with how far the monotonic clock moved. If
 * realtime ran ahead by more than jump_margin_us, expiry is computed
 * against last trusted time + monotonic elapsed + jump_margin_us instead
 * (one sweep interval's worth plus the margin), clock_jump is raised and
 * an alarm logged, and that stays so, sweep after sweep, until realtime
 * agrees with the monotonic reckoning again or vg_retention_accept_clock()
 * is called. The first sweep after start compares realtime with the last
 * trusted sweep time stored in the catalog (none in a new catalog: then
 * realtime is trusted) and treats more than startup_max_gap_us ahead as a
 * jump.
 */
struct vg_retention_report {
	int64_t now_us;			/* the realtime clock's reading */
	int64_t effective_now_us;	/* the time expiry was computed against */
	int64_t deleted, deleted_bytes;	/* expired clips deleted */
	int64_t held_kept;		/* expired clips kept by a hold */
	int64_t early_deleted, early_bytes;	/* deleted early for disk space */
	int64_t held_bytes;		/* footage under active holds */
	uint64_t total_bytes, avail_bytes, min_free_bytes;	/* after the sweep */
	int disk_low;			/* avail < min_free after the sweep */
	int disk_alarm;			/* ... and only held or open clips are left */
	int held_warn;			/* held_bytes > held_warn_percent of total */
	int clock_jump;			/* realtime ran ahead of monotonic: deletion limited */
	int64_t jump_us;		/* by how much (0 if no jump) */
	int clock_back;			/* realtime went backwards (deleting less; logged) */
	int default_cameras;		/* cameras swept with the default retention */
	int errors;			/* files that could not be removed (logged) */
};

struct vg_retention_recover_report {
	int finished;			/* keyless rows whose deletion was completed */
	int rows_without_file;		/* rows with a key but no file (reported, kept) */
	int files_removed;		/* files without a row, past retention: removed */
	int files_kept;			/* files without a row, within retention: reported */
};

struct vg_retention;

/*
 * Create a sweeper. cat, audit (NULL: no audit rows) and clk (NULL: real
 * clocks; else copied) are borrowed and must outlive it; data_dir and
 * params are copied. The last sweep's trusted time is kept in the catalog
 * (meta key "retention.last_sweep_us") for the first sweep after a restart.
 */
int vg_retention_new(struct vg_retention **out, struct vg_catalog *cat, const char *data_dir,
		     struct vg_audit *audit, const struct vg_retention_params *params,
		     const struct vg_retention_clock *clk);
void vg_retention_free(struct vg_retention *r);

/*
 * One pass: expiry per camera, then early deletion while free space is
 * below min_free, then the held-share check, then a catalog checkpoint so
 * that shredded keys leave the -wal file. *rep is filled even on error.
 * Returns 0, or the first error that stopped the pass.
 */
int vg_retention_sweep(struct vg_retention *r, struct vg_retention_report *rep);

/*
 * At start-up, before recording resumes: finish every deletion a crash cut
 * short (rows without a key: file unlinked, row deleted). With census != 0
 * also walk every row and every file under data_dir/clips/ (slow on a big
 * catalog): a row with a key but no file is reported and kept (evidence of
 * a failing disk or of tampering; retention removes it in time); a file
 * without a row cannot be decrypted (its key lived in the row) and is
 * removed if older (mtime) than its camera's retention, else reported.
 */
int vg_retention_recover(struct vg_retention *r, int census,
			 struct vg_retention_recover_report *rep);

/* An operator confirms the realtime clock is right after a clock_jump
 * alarm: the next sweep trusts it again (and may then delete everything
 * that is truly past retention). */
void vg_retention_accept_clock(struct vg_retention *r);

/* The retention in days that applies to camera. */
int vg_retention_days(const struct vg_retention *r, const char *camera);

#endif
