/*
 * confcheck.h - the one verdict on a config file. `vigild -n`, vigild at
 * start, a SIGHUP reload and `vigilctl config check` all call
 * vg_confcheck_file(), so they accept and refuse the same files: whatever
 * would stop vigild starting is refused here, before any key, catalog or
 * folder is made, and every problem comes out in one run.
 *
 * The verdict has three parts:
 * - the file itself (vg_config_read(), config.h): syntax, types, ranges,
 *   the policy's required settings, users against sites and cameras;
 * - the file against this machine: the account in `user` exists (the
 *   default "vigil" only matters when started as root), the time zone is
 *   installed, the folders for data, keys, catalog and socket exist or
 *   will be made; staff logins that are not accounts here (a warning);
 * - the policy warnings (vg_confcheck()): things that do not stop
 *   recording but that a housing officer should act on (signage not
 *   confirmed, in the future or due for a re-check, sound being recorded
 *   and until when, temporary cameras due for removal, masks hiding most
 *   of a picture, retention beyond the standard).
 * `vigilctl config check` exits 0 (clean), 1 (warnings) or 2 (errors);
 * `vigild -n` 0 (it would run) or 1. Hold review dates are checked by the
 * daemon, not here.
 */
#ifndef VIGIL_CONFCHECK_H
#define VIGIL_CONFCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/config.h"

enum vg_confcheck_level {
	VG_CONFCHECK_WARNING = 1,	/* vigild runs, but someone should act */
	VG_CONFCHECK_ERROR,		/* vigild refuses the file */
};

/* One finding: file and line of the setting it is about (the camera block
 * when the setting is missing), and a sentence that says what to do. The
 * strings are valid during the call only. */
typedef void (*vg_confcheck_fn)(enum vg_confcheck_level level, const char *file, int line,
				const char *message, void *ud);

/* The policy warnings on cfg (borrowed) as of now_us (UTC microseconds;
 * dates are compared with today's date in the process's time zone).
 * Calls fn once per finding, in order: the user list first, then each
 * camera in turn. Returns the number of findings, or -VG_EINVAL. */
int vg_confcheck(const struct vg_config *cfg, int64_t now_us, vg_confcheck_fn fn, void *ud);

/* vg_confcheck_file() flags. */
enum {
	/* Make the file's timezone the process's (vg_time_set_zone) before
	 * the date checks, when it is installed: for a process about to run
	 * with this file (vigild at start, vigild -n, vigilctl config check).
	 * Never once threads run: a reload keeps the zone it started with. */
	VG_CONFCHECK_SET_ZONE = 1,
};

/*
 * The verdict on the file at path as of now_us: every error and warning
 * goes to fn (may be NULL), sorted by file and line (line 0, the file as a
 * whole, first). Returns 0 if vigild may run with it (warnings or not),
 * else -VG_ECONFIG (errors), -VG_ENOENT (no such file), -VG_ENOMEM or
 * -VG_EINVAL. On 0, *out (may be NULL) owns the loaded config; otherwise
 * it is NULL. *n_warnings (may be NULL) receives the number of warnings.
 */
int vg_confcheck_file(const char *path, int64_t now_us, unsigned flags, vg_confcheck_fn fn,
		      void *ud, struct vg_config **out, int *n_warnings);

/* One finding as people read it: "FILE:LINE: text", "FILE:LINE: warning:
 * text" (no ":LINE" for line 0), into buf. */
void vg_confcheck_format(enum vg_confcheck_level level, const char *file, int line,
			 const char *message, char *buf, size_t len);

/* How many days before remove_by a temporary camera is reported. */
#define VG_CONFCHECK_REMOVE_SOON_DAYS 14

#endif
