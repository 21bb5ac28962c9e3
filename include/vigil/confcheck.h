/*
 * confcheck.h - the policy warnings on a config that loaded: things that do
 * not stop recording but that a housing officer should act on (missing
 * signage date, sound being recorded and until when, temporary cameras due
 * for removal, masks hiding most of a picture, retention beyond the
 * standard, nobody able to view footage). `vigilctl config check` prints
 * vg_config_load()'s errors, then these, and exits 0 (clean), 1 (warnings)
 * or 2 (errors). Hold review dates are checked by the daemon, not here.
 */
#ifndef VIGIL_CONFCHECK_H
#define VIGIL_CONFCHECK_H

#include <stdint.h>

#include "vigil/config.h"

enum vg_confcheck_level {
	VG_CONFCHECK_WARNING = 1,	/* every finding today; room for notes later */
};

/* One finding: file and line of the setting it is about (the camera block
 * when the setting is missing), and a sentence that says what to do. The
 * strings are valid during the call only. */
typedef void (*vg_confcheck_fn)(enum vg_confcheck_level level, const char *file, int line,
				const char *message, void *ud);

/* Run every check on cfg (borrowed) as of now_us (UTC microseconds; dates
 * are compared with today's local date). Calls fn once per finding, in
 * order: the user list first, then each camera in turn. Returns the
 * number of findings, or -VG_EINVAL. */
int vg_confcheck(const struct vg_config *cfg, int64_t now_us, vg_confcheck_fn fn, void *ud);

/* How many days before remove_by a temporary camera is reported. */
#define VG_CONFCHECK_REMOVE_SOON_DAYS 14

#endif
