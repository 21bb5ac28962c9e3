/*
 * confcheck.c - the one verdict on a config file (confcheck.h). The
 * loader (config.c) judges the file; this adds what depends on the
 * machine it runs on (accounts, folders, the time zone data), finds what
 * may record but needs a person's attention, each with the clause it
 * comes from so the message can go straight to the housing officer, and
 * hands everything out in line order.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vigil/confcheck.h"
#include "vigil/err.h"
#include "vigil/layout.h"
#include "vigil/timeutil.h"

/* The folder systemd makes for vigild.service (board/common). */
#define SERVICE_RUNTIME_DIR "/run/vigil"
/* Retention up to this many days needs no written reason (config.c). */
#define RETENTION_STANDARD 31

struct cc {
	const struct vg_config *cfg;
	vg_confcheck_fn fn;
	void *ud;
	int n;
};

static void say(struct cc *c, enum vg_confcheck_level level, int line, const char *fmt,
		va_list ap)
{
	char msg[768];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	c->fn(level, c->cfg->path, line, msg, c->ud);
	c->n++;
}

static void warn(struct cc *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn(struct cc *c, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, VG_CONFCHECK_WARNING, line, fmt, ap);
	va_end(ap);
}

static void error(struct cc *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void error(struct cc *c, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(c, VG_CONFCHECK_ERROR, line, fmt, ap);
	va_end(ap);
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
	const char *name = cam->name;
	double cover;

	if (name == NULL)	/* a block the loader refused: nothing to add */
		return;
	if (cam->signage_confirmed == NULL) {
		warn(c, cam->line, "camera \"%s\": no signage_confirmed date; check that CCTV "
		     "signs are displayed where it records, then add signage_confirmed = "
		     "\"YYYY-MM-DD\"; (policy 3.5)", name);
	} else {
		long age = today - day_number(cam->signage_confirmed);

		if (age < 0)
			warn(c, cam->signage_line, "camera \"%s\": signage_confirmed %s is in the "
			     "future; write the date the signs were checked in place (policy 3.5)",
			     name, cam->signage_confirmed);
		else if (age > c->cfg->signage_review_days)
			warn(c, cam->signage_line, "camera \"%s\": the signs were last confirmed on "
			     "%s, %ld days ago (a re-check is due every %d days, "
			     "signage_review_days); check they are still displayed and readable, "
			     "then update signage_confirmed (policy 3.5, principle 2)", name,
			     cam->signage_confirmed, age, c->cfg->signage_review_days);
	}
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
	cover = vg_mask_coverage(cam);
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
	int i, enabled = 0;

	if (cfg == NULL || fn == NULL)
		return -VG_EINVAL;
	t = (time_t)(now_us / 1000000);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(today_s, sizeof(today_s), "%Y-%m-%d", &tm) != 10)
		return -VG_EINVAL;
	today = day_number(today_s);

	/* About the whole file: line 0 when there is no users list at all.
	 * (With a camera enabled, the loader refuses the file instead.) */
	for (i = 0; i < cfg->n_cameras; i++)
		enabled |= cfg->cameras[i].enabled;
	if (cfg->n_users == 0 && !enabled)
		warn(&c, cfg->users_line, "no users are configured: once a camera is enabled, "
		     "vigild records nothing until users = ( ... ) lists the area manager and "
		     "the others who need access (policy 3.8, principle 7)");
	for (i = 0; i < cfg->n_cameras; i++)
		camera_checks(&c, &cfg->cameras[i], today);
	return c.n;
}

/* ------------------------------------------------------------------ */
/* The file against this machine */

/* Does the folder of path exist (or is it data_dir, which vigild makes)?
 * 0 yes or cannot tell (no permission to look), -1 no; dir receives it. */
static int folder_missing(const char *path, const char *data_dir, char *dir, size_t len)
{
	struct stat st;
	char *slash;

	snprintf(dir, len, "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, len, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (data_dir != NULL && strcmp(dir, data_dir) == 0)
		return 0;
	return stat(dir, &st) != 0 && errno == ENOENT ? -1 : 0;
}

/* A key vigild would refuse to load (keystore.c, sign.c): not a file, open
 * to others, or another account's. Absent is fine (vigild makes it); one
 * we may not look at cannot be judged here. The owner is judged only
 * when we know whom vigild runs as: we are root (it becomes run_as) or
 * we are that account. */
static void key_checks(struct cc *c, const char *path, int line, const char *what)
{
	const struct passwd *pw = getpwnam(c->cfg->run_as);
	struct stat st;
	int know = geteuid() == 0 ? pw != NULL : pw != NULL && pw->pw_uid == geteuid();

	if (path == NULL || stat(path, &st) != 0)
		return;
	if (!S_ISREG(st.st_mode))
		error(c, line, "%s %s is not a file; vigild refuses it: point the configuration "
		      "at the key file itself", what, path);
	else if ((st.st_mode & 077) != 0)
		error(c, line, "%s %s has mode %04o, so other users may read or change it, and "
		      "vigild refuses it; run: chmod 600 %s", what, path,
		      (unsigned)(st.st_mode & 07777), path);
	else if (know && st.st_uid != pw->pw_uid)
		error(c, line, "%s %s belongs to uid %u, not to %s (uid %u), the account vigild "
		      "runs as, and vigild refuses it; run: chown %s %s", what, path,
		      (unsigned)st.st_uid, pw->pw_name, (unsigned)pw->pw_uid, pw->pw_name, path);
}

static void machine_checks(struct cc *c)
{
	const struct vg_config *cfg = c->cfg;
	struct stat st;
	char dir[1024], zone[1024];
	int i, root = geteuid() == 0;

	/* vigild started as root becomes this account (service.c) */
	if (cfg->run_as != NULL && getpwnam(cfg->run_as) == NULL) {
		if (cfg->run_as_line > 0)
			error(c, cfg->run_as_line, "user \"%s\": there is no such account on this "
			      "box; create it (useradd --system %s) or name the account vigild "
			      "should run as (\"vigil\", made when vigil is installed)",
			      cfg->run_as, cfg->run_as);
		else if (root)
			error(c, 0, "vigild started as root runs as the account \"vigil\", which "
			      "does not exist on this box: create it (useradd --system vigil) or "
			      "set user = \"...\"; to an account that does");
	}
	if (cfg->timezone != NULL && !vg_time_zone_installed(cfg->timezone, zone, sizeof(zone)))
		error(c, cfg->timezone_line, "timezone \"%s\" is not installed on this box (no "
		      "time zone file %s): check the spelling (the names are the files under "
		      "/usr/share/zoneinfo, like \"Europe/London\") or install the tzdata "
		      "package; without it the pictures would show UTC", cfg->timezone, zone);
	/* vigild makes data_dir itself, but not the folders above it */
	if (cfg->data_dir != NULL) {
		if (stat(cfg->data_dir, &st) == 0 && !S_ISDIR(st.st_mode))
			error(c, cfg->data_dir_line, "data_dir %s is a file, not a folder; name a "
			      "folder (vigild makes it if it does not exist)", cfg->data_dir);
		else if (folder_missing(cfg->data_dir, NULL, dir, sizeof(dir)) < 0)
			error(c, cfg->data_dir_line, "data_dir %s: the folder %s does not exist; "
			      "create it, or choose a data_dir inside a folder that exists",
			      cfg->data_dir, dir);
	}
	if (cfg->key_file != NULL && folder_missing(cfg->key_file, cfg->data_dir, dir, sizeof(dir)) < 0)
		error(c, cfg->key_file_line, "key_file %s: the folder %s does not exist; create it "
		      "or leave key_file out (it then lives in data_dir)", cfg->key_file, dir);
	if (cfg->catalog != NULL && folder_missing(cfg->catalog, cfg->data_dir, dir, sizeof(dir)) < 0)
		error(c, cfg->catalog_line, "catalog %s: the folder %s does not exist; create it "
		      "or leave catalog out (it then lives in data_dir)", cfg->catalog, dir);
	/* The socket's folder (once its path fits: the loader says when it
	 * does not): made by systemd for vigild.service
	 * (RuntimeDirectory=vigil, removed while it is stopped), or by vigild
	 * itself when started as root (one level). */
	if (cfg->socket_path != NULL &&
	    strlen(cfg->socket_path) < sizeof(((struct sockaddr_un *)0)->sun_path) &&
	    folder_missing(cfg->socket_path, NULL, dir, sizeof(dir)) < 0 &&
	    strcmp(dir, SERVICE_RUNTIME_DIR) != 0) {
		char parent[1024];

		if (!root || folder_missing(dir, NULL, parent, sizeof(parent)) < 0)
			error(c, cfg->socket_line, "socket %s: the folder %s does not exist%s; "
			      "create it or choose another socket path", cfg->socket_path, dir,
			      root ? " and neither does the one above it" : "");
	}
	key_checks(c, cfg->key_file, cfg->key_file_line ? cfg->key_file_line : cfg->data_dir_line,
		   "the master key");
	if (cfg->data_dir != NULL) {
		char dev[1100];

		snprintf(dev, sizeof(dev), "%s/device.key", cfg->data_dir);
		key_checks(c, dev, cfg->data_dir_line, "the device key");
	}
	/* Staff reach vigild as themselves: an unknown login cannot. */
	for (i = 0; i < cfg->n_users; i++) {
		const char *login = cfg->users[i].login;

		if (login != NULL && getpwnam(login) == NULL)
			warn(c, cfg->user_lines[i], "user '%s': there is no account '%s' on this "
			     "box, so they cannot use vigilctl until it is made (and added to the "
			     "group vigil); check the login is spelt as on the box", login, login);
	}
}

/* ------------------------------------------------------------------ */
/* The one verdict */

struct finding {
	enum vg_confcheck_level level;
	char *file;
	int line, seq;
	char *text;
};

struct findings {
	const char *path;
	struct finding *v;
	int n, cap, oom;
};

static void keep(enum vg_confcheck_level level, const char *file, int line, const char *text,
		 void *ud)
{
	struct findings *f = ud;
	struct finding *e;

	if (f->n == f->cap) {
		int ncap = f->cap ? 2 * f->cap : 16;
		struct finding *nv = realloc(f->v, (size_t)ncap * sizeof(*nv));

		if (nv == NULL) {
			f->oom = 1;
			return;
		}
		f->v = nv;
		f->cap = ncap;
	}
	e = &f->v[f->n];
	e->level = level;
	e->file = strdup(file != NULL ? file : f->path);
	e->text = strdup(text);
	e->line = line;
	e->seq = f->n;
	if (e->file == NULL || e->text == NULL) {
		free(e->file);
		free(e->text);
		f->oom = 1;
		return;
	}
	f->n++;
}

static void keep_error(const char *file, int line, const char *text, void *ud)
{
	keep(VG_CONFCHECK_ERROR, file, line, text, ud);
}

/* The main file (arg) first, then included ones; by line; as found. */
static int cmp_finding(const void *a, const void *b, void *arg)
{
	const struct finding *x = a, *y = b;
	const char *path = arg;
	int xm = strcmp(x->file, path) == 0, ym = strcmp(y->file, path) == 0, r;

	if (xm != ym)
		return xm ? -1 : 1;
	r = strcmp(x->file, y->file);
	if (r != 0)
		return r;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int vg_confcheck_file(const char *path, int64_t now_us, unsigned flags, vg_confcheck_fn fn,
		      void *ud, struct vg_config **out, int *n_warnings)
{
	struct findings f = { .path = path };
	struct vg_config *cfg = NULL;
	int ret, i, errors = 0, warnings = 0;
	char zone[1024];

	if (out != NULL)
		*out = NULL;
	if (n_warnings != NULL)
		*n_warnings = 0;
	if (path == NULL)
		return -VG_EINVAL;
	ret = vg_config_read(path, &cfg, keep_error, &f);
	if (cfg != NULL && ret != -VG_ENOMEM) {
		struct cc c = { cfg, keep, &f, 0 };

		machine_checks(&c);
		if ((flags & VG_CONFCHECK_SET_ZONE) && cfg->timezone != NULL &&
		    vg_time_zone_installed(cfg->timezone, zone, sizeof(zone)))
			vg_time_set_zone(cfg->timezone);
		if (vg_confcheck(cfg, now_us, keep, &f) < 0)
			ret = ret < 0 ? ret : -VG_EINVAL;
	}
	if (f.oom)
		ret = -VG_ENOMEM;
	qsort_r(f.v, (size_t)f.n, sizeof(*f.v), cmp_finding, (void *)path);
	for (i = 0; i < f.n; i++) {
		if (f.v[i].level == VG_CONFCHECK_ERROR)
			errors++;
		else
			warnings++;
		if (fn != NULL)
			fn(f.v[i].level, f.v[i].file, f.v[i].line, f.v[i].text, ud);
		free(f.v[i].file);
		free(f.v[i].text);
	}
	free(f.v);
	if (ret == 0 && errors > 0)
		ret = -VG_ECONFIG;
	if (n_warnings != NULL)
		*n_warnings = warnings;
	if (ret == 0 && out != NULL)
		*out = cfg;
	else
		vg_config_free(cfg);
	return ret;
}

void vg_confcheck_format(enum vg_confcheck_level level, const char *file, int line,
			 const char *message, char *buf, size_t len)
{
	char at[16] = "";

	if (line > 0)
		snprintf(at, sizeof(at), ":%d", line);
	snprintf(buf, len, "%s%s: %s%s", file, at, level == VG_CONFCHECK_WARNING ? "warning: " : "",
		 message);
}
