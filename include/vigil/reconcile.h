/*
 * reconcile.h - make the catalog and the clip files agree after a crash.
 *
 * Two jobs, split so that recording resumes at once after a power cut:
 *
 * 1. vg_reconcile_open_clips, before recording (quick: only the few clips
 *    open at the crash): every clip still marked "recording" is cut to its
 *    last authenticated chunk, sealed and marked "recovered" with the
 *    frames and end time it really holds. A clip that holds no footage
 *    (its file never created, or cut off before its first complete chunk)
 *    is removed instead, file and row: the catalog keeps no empty rows.
 *    vigild runs it again at a clean stop (a clip a failed write left
 *    open is finished then), and vg_reconcile_clip does it for one clip
 *    at once.
 *
 * 2. vg_reconcile_census, after the cameras have started (a stat per
 *    catalogued clip and a lookup per clip file: minutes on a box with
 *    months of footage), in batches: rows whose file is missing and files
 *    that have no row are reported (never silently deleted: either may be
 *    evidence of tampering or of a failing disk), except leftovers that
 *    cannot hold footage (".new-" files: created, never catalogued, never
 *    written to, and files that hold a clip header and nothing else: a
 *    crash while vigild created them), which are removed. vg_reconcile_bg_start
 *    runs it on a thread of its own at low priority and reports the total
 *    at the end.
 *
 * A row whose path is not a clip's (vg_reconcile_clip_path_ok) or whose
 * file is not a regular file reached without symbolic links is never
 * recovered, removed or unlinked: it is logged and counted (not_clips). In
 * the census, anything in clips/ that is not a folder (at the camera and
 * day levels) or a regular file (below) - a symbolic link, a FIFO, a
 * socket, a device - is moved to DATA_DIR/quarantine/ after a
 * "clip.quarantined" audit row, so that nothing reads through it.
 *
 * Every change is audited first (docs/catalog-format.md, "Audit before
 * change"): "clip.recover" before a clip is cut, "clip.remove_empty"
 * before an empty clip's file and row go, "clip.orphan_removed" before a
 * leftover file goes; each names the catalog id and the clip id. If the
 * row cannot be written the change is not made (counted in not_audited)
 * and is tried again at the next start. With audit NULL (tools, tests) no
 * rows are written.
 *
 * The census runs beside recording and retention and reports only what
 * stays wrong when looked at again: a row whose file is missing is read
 * again (a clip retention deleted meanwhile - its key is shredded before
 * its file is unlinked - or that is gone is not reported); a file without
 * a row is looked at again at the end of its batch (gone, or catalogued
 * meanwhile: not reported), and one modified at or after since_us (a clip
 * a camera started after start-up; its row follows its file) is never
 * reported. ".new-" files named with this process's id are a camera's
 * clip being created and are left alone (the camera removes its own
 * leftovers of that name).
 *
 * The report is read and written by one thread; nothing is kept.
 */
#ifndef VIGIL_RECONCILE_H
#define VIGIL_RECONCILE_H

#include <stdatomic.h>
#include <stdint.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/clipfile.h"

/*
 * Data-folder hygiene (docs/catalog-format.md, "Clip paths").
 *
 * A catalog path is a clip's only if it has the clip naming scheme's shape:
 * "clips/" then one to three names (camera, day, file) of letters, digits,
 * '.', '_' and '-', none starting with '.', the last ending in ".vgc". So
 * a row naming master.key, catalog.db, victim.bin or "clips/../x" is not a
 * clip's, and nothing vigild does for clips (recover, remove, delete at the
 * end of retention) touches it. 1 if rel has the shape, else 0.
 */
int vg_reconcile_clip_path_ok(const char *rel);

/* rel has the shape, and DATA_DIR/rel is a regular file reached through
 * real folders (no symbolic link on the way, none at the end): 0; 
 * -VG_ENOENT if it does not exist; -VG_EPERM if it is anything else. */
int vg_reconcile_clip_file_ok(const char *data_dir, const char *rel);

/*
 * Modes of the data folder and the files vigild keeps in it (the folder,
 * clips/, the catalog, the audit log; not the keys, which the key store
 * refuses outright if others could read them), before any of them is
 * opened: owned by
 * vigild's user, else -VG_EPERM with why filled (vigild refuses to
 * start: someone else's files); any access for group or others is taken
 * away (0700 folder, 0600 files) with a log line each. Nothing else in the
 * folder is looked at (audit-evidence/, witness.state are the audit log's).
 * catalog and key_file may lie outside data_dir (then they are checked
 * too; key_file is not used). Returns the number of modes repaired (>= 0)
 * or -VG_EPERM.
 */
int vg_reconcile_data_modes(const char *data_dir, const char *catalog, const char *key_file,
			    char *why, size_t whylen);

struct vg_reconcile_report {
	int recovered;		/* open clips cut to their last good chunk */
	int empty_removed;	/* open clips with no footage: file and row removed */
	int not_audited;	/* open clips left as they were: no audit row */
	int orphans_removed;	/* census: leftover files with no footage removed */
	int rows_without_file;	/* complete clips whose file is gone */
	int files_without_row;	/* clip files the catalog does not know */
	int unreadable;		/* open clips whose header does not authenticate */
	int not_clips;		/* rows whose path is not a clip file's: left alone */
	int quarantined;	/* census: symlinks, FIFOs... moved to quarantine/ */
	int64_t rows_checked;	/* census: finished clips whose file was looked for */
	int64_t files_checked;	/* census: names in the clip folders looked at */
	int stopped;		/* census: cut short by a stop request */
};

/* Job 1. Zeroes *rep, then recovers every open clip (counts in recovered,
 * empty_removed, unreadable, not_audited). master is only read during the
 * call; audit may be NULL. 0, or a negative VG_E* code if the open clips
 * could not be listed. */
int vg_reconcile_open_clips(struct vg_catalog *cat, struct vg_audit *audit, const char *data_dir,
			    const uint8_t master[VG_MASTER_KEY_LEN],
			    struct vg_reconcile_report *rep);

/* Job 1 for one clip still RECORDING whose writer gave up (disk full, a
 * failed write), while recording goes on: 0 recovered (*out, may be NULL,
 * gets its finished row), 1 removed (it held no footage), -VG_EINVAL if
 * the clip is not open, other negative codes if it was left as it is
 * (vigild's clean stop and the next start try again). */
int vg_reconcile_clip(struct vg_catalog *cat, struct vg_audit *audit, const char *data_dir,
		      const uint8_t master[VG_MASTER_KEY_LEN], int64_t id, struct vg_clip *out);

struct vg_reconcile_census_opts {
	int batch;			/* rows, or names, per batch; <= 0: 256 */
	int64_t since_us;		/* UTC: files modified from then on are
					 * new; 0: the census's own start */
	const atomic_int *stop;		/* non-zero: stop after the batch being
					 * checked; NULL: never; only read */
	/* Called once per batch, after the batch was read (rows from the
	 * catalog, or names from a folder) and before it is checked, with
	 * between_ud. The background thread rests here; tests use it as the
	 * seam where the sweeper or a camera acts. NULL: none. */
	void (*between)(void *between_ud);
	void *between_ud;
	struct vg_audit *audit;		/* leftover removals; NULL: no rows */
};

/* Job 2, synchronous. Adds its counts (rows_without_file,
 * files_without_row, rows_checked, files_checked, stopped) to *rep, which
 * the caller initialised (normally job 1's report). opts NULL: defaults.
 * Logs each problem when found, not the summary. 0, or a negative VG_E*
 * code if the catalog could not be read (what was counted stays in rep). */
int vg_reconcile_census(struct vg_catalog *cat, const char *data_dir,
			const struct vg_reconcile_census_opts *opts,
			struct vg_reconcile_report *rep);

/* Both jobs in one call (tools and tests), then the summary line; vigild
 * uses the split. */
int vg_reconcile(struct vg_catalog *cat, struct vg_audit *audit, const char *data_dir,
		 const uint8_t master[VG_MASTER_KEY_LEN], struct vg_reconcile_report *rep);

/*
 * The census on a background thread (nice 10, lowest best-effort I/O
 * priority, a short rest between batches). first is job 1's report
 * (copied); cat and audit (may be NULL) are borrowed and must outlive the
 * thread; data_dir is copied. since_us: see the opts (the time job 1
 * began, before any camera started). When the census ends the thread logs
 * the summary line and, if anything was recovered, removed or found wrong,
 * writes the "catalog.reconcile" audit row (reason "start-up after a crash", or
 * saying the file check was cut short if it was stopped). 0, -VG_ENOMEM,
 * -VG_EAGAIN (no thread).
 */
struct vg_reconcile_bg;
int vg_reconcile_bg_start(struct vg_reconcile_bg **out, struct vg_catalog *cat,
			  struct vg_audit *audit, const char *data_dir, int64_t since_us,
			  const struct vg_reconcile_report *first);
/* Ask the thread to stop (it ends after the batch in hand), wait for it
 * and free b; NULL is a no-op. If rep is not NULL it gets the final
 * report. Call it before closing the catalog and the audit log. */
void vg_reconcile_bg_stop(struct vg_reconcile_bg *b, struct vg_reconcile_report *rep);

#endif
