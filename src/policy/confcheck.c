/*
 * confcheck.c - policy warnings on a loaded config. The config loader
 * refuses what must never record; this finds what may record but needs a
 * person's attention, each with the clause it comes from, so the message
 * can go straight to the housing officer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vigil/confcheck.h"
#include "vigil/err.h"
#include "vigil/picture.h"

/* Retention up to this many days needs no written reason (config.c). */
#define RETENTION_STANDARD 31

struct cc {
	const struct vg_config *cfg;
	vg_confcheck_fn fn;
	void *ud;
	int n;
};

static void warn(struct cc *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn(struct cc *c, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->fn(VG_CONFCHECK_WARNING, c->cfg->path, line, msg, c->ud);
	c->n++;
}

/* Days since 1970-01-01 of a valid "YYYY-MM-DD" (the loader checked it). */
static long day_number(const char *s)
{
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	int m = (s[5] - '0') * 10 + (s[6] - '0');
	int d = (s[8] - '0') * 10 + (s[9] - '0');
	long era, yoe, doy, doe;

	/* civil-from-days inverse (proleptic Gregorian) */
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void camera_checks(struct cc *c, const struct vg_camera_config *cam, long today)
{
	const char *name = cam->name != NULL ? cam->name : "?";
	double cover;

	if (cam->signage_confirmed == NULL)
		warn(c, cam->line, "camera \"%s\": no signage_confirmed date; check that CCTV "
		     "signs are displayed where it records, then add signage_confirmed = "
		     "\"YYYY-MM-DD\"; (policy 3.5)", name);
	if (cam->audio && cam->audio_review_by != NULL) {
		long left = day_number(cam->audio_review_by) - today;

		if (left < 0)
			warn(c, cam->audio_line, "camera \"%s\": sound recording was due for review "
			     "on %s and has stopped (video continues); review the need for sound "
			     "and set a new audio_review_by, or set audio = false (policy 3.11)",
			     name, cam->audio_review_by);
		else
			warn(c, cam->audio_line, "camera \"%s\": records sound until %s (%ld days), "
			     "justified as: %s; review before then (policy 3.11, 3.13)", name,
			     cam->audio_review_by, left,
			     cam->audio_justification ? cam->audio_justification : "?");
	}
	if (cam->is_temporary && cam->temporary.remove_by != NULL) {
		long left = day_number(cam->temporary.remove_by) - today;

		if (left <= 0)
			warn(c, cam->temporary.line, "camera \"%s\": temporary camera (case %s) was "
			     "due for removal on %s and no longer records; remove it, or renew "
			     "remove_by if the case still needs it (policy 3.4, 4.2)", name,
			     cam->temporary.case_reference ? cam->temporary.case_reference : "?",
			     cam->temporary.remove_by);
		else if (left <= VG_CONFCHECK_REMOVE_SOON_DAYS)
			warn(c, cam->temporary.line, "camera \"%s\": temporary camera (case %s) must "
			     "be removed by %s, in %ld day%s; arrange removal or renew remove_by "
			     "(policy 3.4, 4.2)", name,
			     cam->temporary.case_reference ? cam->temporary.case_reference : "?",
			     cam->temporary.remove_by, left, left == 1 ? "" : "s");
	}
	cover = vg_picture_mask_coverage(cam);
	if (cover > 0.5)
		warn(c, cam->masks_line, "camera \"%s\": privacy masks cover %d%% of the picture; "
		     "a camera that must hide most of its view may be in the wrong place: "
		     "review its siting (principles 1, 2)", name, (int)(cover * 100 + 0.5));
	if (cam->retention_days > RETENTION_STANDARD)
		warn(c, cam->retention_line, "camera \"%s\": footage is kept %d days, beyond the "
		     "standard %d, because: %s; lower it once that need has passed "
		     "(policy 3.7, principle 6)", name, cam->retention_days, RETENTION_STANDARD,
		     cam->retention_justification ? cam->retention_justification : "?");
}

int vg_confcheck(const struct vg_config *cfg, int64_t now_us, vg_confcheck_fn fn, void *ud)
{
	struct cc c = { cfg, fn, ud, 0 };
	time_t t;
	struct tm tm;
	char today_s[16];
	long today;
	int i;

	if (cfg == NULL || fn == NULL)
		return -VG_EINVAL;
	t = (time_t)(now_us / 1000000);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(today_s, sizeof(today_s), "%Y-%m-%d", &tm) != 10)
		return -VG_EINVAL;
	today = day_number(today_s);

	/* About the whole file: line 0 when there is no users list at all. */
	if (cfg->n_users == 0)
		warn(&c, cfg->users_line, "no users are configured: footage is recorded but "
		     "nobody can view it; list the area manager and the others who need access "
		     "in users = ( ... ); (policy 3.8, principle 7)");
	for (i = 0; i < cfg->n_cameras; i++)
		camera_checks(&c, &cfg->cameras[i], today);
	return c.n;
}
