/*
 * retention.c - the retention sweeper (contract and deletion order in
 * retention.h; the why in docs/retention.md).
 *
 * Every deletion goes through three steps: shred the keys of a batch in one
 * catalog transaction, unlink the files and fsync their directories, then
 * delete the rows in a second transaction. Holds are loaded inside the
 * shredding transaction, which holds the catalog lock: a hold placed
 * meanwhile waits for the commit, so no clip is shredded after a hold on it
 * was committed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VG_LOG_MODULE "RET"
#include "vigil/diskguard.h"
#include "vigil/err.h"
#include "vigil/hold.h"
#include "vigil/log.h"
#include "vigil/reconcile.h"
#include "vigil/retention.h"
#include "vigil/timeutil.h"

#define LAST_SWEEP_KEY "retention.last_sweep_us"
#define DEFAULT_HELD_WARN 50
#define DEFAULT_MARGIN_US (INT64_C(600) * VG_US_PER_S)
#define DEFAULT_STARTUP_GAP_US (7 * VG_US_PER_DAY)
#define DEFAULT_BATCH 1000

struct cam_days {
	char name[33];
	int days;
	int configured;		/* 0: default, added when first seen (and logged) */
};

struct vg_retention {
	struct vg_catalog *cat;
	struct vg_audit *audit;
	char data_dir[512];
	struct vg_retention_clock clk;
	struct vg_retention_params p;	/* cameras points to cams, not the caller's */
	struct cam_days *cams;
	int n_cams, cap_cams;
	/* Trusted time: realtime ref_rt was right when monotonic read ref_mono. */
	int have_ref;
	int64_t ref_rt, ref_mono;
	int accept;
	int clamped;		/* the last sweep was clamped */
	int accept_seen;	/* this sweep took an operator's confirmation */
};

/* One clip chosen for deletion. */
struct victim {
	int64_t id, start_us, end_us, bytes;
	char camera[33];
	char path[512];
	int has_key;
};

struct victims {
	struct victim *v;
	int n, cap, max;
	int64_t want_bytes;	/* early deletion: stop once this much is chosen */
	int64_t sum_bytes;
	int64_t held;		/* candidates skipped because a hold covers them */
	const struct vg_hold_set *holds;
};

/* Per-camera totals for one audit row, with the row ids of the clips
 * ("12-15,18": runs of consecutive ids joined). */
struct cam_tally {
	char camera[33];
	int64_t n, from_us, to_us, newest_end;
	char *ids;
	size_t ids_len, ids_cap;
	int64_t run_first, run_last;	/* the run not yet written into ids */
};

struct tally {
	struct cam_tally *t;
	int n, cap;
};

/* ---- clocks ---- */

static int64_t sys_rt(void *ud)
{
	return vg_time_now_us();
}

static int64_t sys_mono(void *ud)
{
	return vg_time_mono_us();
}

static int sys_space(void *ud, const char *path, uint64_t *total, uint64_t *avail)
{
	return vg_diskguard_space(path, total, avail);
}

/* ---- construction ---- */

static struct cam_days *cam_find(struct vg_retention *r, const char *name)
{
	for (int i = 0; i < r->n_cams; i++) {
		if (strcmp(r->cams[i].name, name) == 0)
			return &r->cams[i];
	}
	return NULL;
}

static int cam_add(struct vg_retention *r, const char *name, int days, int configured)
{
	if (strlen(name) >= sizeof(r->cams[0].name) || name[0] == '\0')
		return -VG_EINVAL;
	if (r->n_cams == r->cap_cams) {
		int cap = r->cap_cams ? r->cap_cams * 2 : 16;
		struct cam_days *g = realloc(r->cams, (size_t)cap * sizeof(*g));

		if (g == NULL)
			return -VG_ENOMEM;
		r->cams = g;
		r->cap_cams = cap;
	}
	snprintf(r->cams[r->n_cams].name, sizeof(r->cams[0].name), "%s", name);
	r->cams[r->n_cams].days = days;
	r->cams[r->n_cams].configured = configured;
	r->n_cams++;
	return 0;
}

int vg_retention_new(struct vg_retention **out, struct vg_catalog *cat, const char *data_dir,
		     struct vg_audit *audit, const struct vg_retention_params *params,
		     const struct vg_retention_clock *clk)
{
	struct vg_retention *r;
	int rc = 0;

	if (out == NULL)
		return -VG_EINVAL;
	*out = NULL;
	if (cat == NULL || data_dir == NULL || params == NULL ||
	    strlen(data_dir) >= sizeof(r->data_dir) || params->n_cameras < 0 ||
	    params->min_free_bytes < 0 || params->min_free_percent < 0 ||
	    params->min_free_percent > 100)
		return -VG_EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -VG_ENOMEM;
	r->cat = cat;
	r->audit = audit;
	snprintf(r->data_dir, sizeof(r->data_dir), "%s", data_dir);
	if (clk != NULL)
		r->clk = *clk;
	if (r->clk.now_realtime_us == NULL)
		r->clk.now_realtime_us = sys_rt;
	if (r->clk.now_monotonic_us == NULL)
		r->clk.now_monotonic_us = sys_mono;
	if (r->clk.space == NULL)
		r->clk.space = sys_space;
	r->p = *params;
	r->p.cameras = NULL;
	if (r->p.default_days <= 0)
		r->p.default_days = VG_RETENTION_DEFAULT_DAYS;
	if (r->p.held_warn_percent <= 0)
		r->p.held_warn_percent = DEFAULT_HELD_WARN;
	if (r->p.jump_margin_us <= 0)
		r->p.jump_margin_us = DEFAULT_MARGIN_US;
	if (r->p.startup_max_gap_us <= 0)
		r->p.startup_max_gap_us = DEFAULT_STARTUP_GAP_US;
	if (r->p.batch <= 0)
		r->p.batch = DEFAULT_BATCH;
	for (int i = 0; rc == 0 && i < params->n_cameras; i++) {
		const struct vg_retention_camera *c = &params->cameras[i];

		if (c->name == NULL || c->days < 1 || c->days > 3650)
			rc = -VG_EINVAL;
		else
			rc = cam_add(r, c->name, c->days, 1);
	}
	if (rc != 0) {
		vg_retention_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void vg_retention_free(struct vg_retention *r)
{
	if (r == NULL)
		return;
	free(r->cams);
	free(r);
}

void vg_retention_accept_clock(struct vg_retention *r)
{
	if (r != NULL)
		r->accept = 1;
}

int vg_retention_days(const struct vg_retention *r, const char *camera)
{
	for (int i = 0; r != NULL && camera != NULL && i < r->n_cams; i++) {
		if (r->cams[i].configured && strcmp(r->cams[i].name, camera) == 0)
			return r->cams[i].days;
	}
	return r == NULL ? VG_RETENTION_DEFAULT_DAYS : r->p.default_days;
}

/* Days for a camera met in the catalog; an unconfigured one is logged the
 * first time it is seen (and counted in every report). */
static int days_for(struct vg_retention *r, const char *camera, struct vg_retention_report *rep)
{
	struct cam_days *c = cam_find(r, camera);

	if (c == NULL) {
		vg_info("camera %s has footage but is not in the configuration: keeping it "
			"for the default %d days", camera, r->p.default_days);
		if (cam_add(r, camera, r->p.default_days, 0) != 0)
			return r->p.default_days;
		c = &r->cams[r->n_cams - 1];
	}
	if (!c->configured && rep != NULL)
		rep->default_cameras++;
	return c->days;
}

/* ---- clock safety ---- */

static void store_trusted(struct vg_retention *r, int64_t t)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, t);
	if (vg_catalog_meta_set(r->cat, LAST_SWEEP_KEY, buf) != 0)
		vg_warnx("cannot store the last sweep time");
}

/* Where the first sweep after start anchors: the last sweep's trusted
 * time, written by every sweep; 0 if there is none (a new catalog). */
static int anchor_time(struct vg_retention *r, int64_t *anchor)
{
	char buf[32];
	char *end;

	if (vg_catalog_meta_get(r->cat, LAST_SWEEP_KEY, buf, sizeof(buf)) != 0)
		return 0;
	*anchor = strtoll(buf, &end, 10);
	return end != buf && *end == '\0';
}

static void clock_alarm(struct vg_retention_report *rep, int64_t trusted)
{
	char now_s[40], trusted_s[40];

	vg_time_format(rep->now_us, now_s, sizeof(now_s));
	vg_time_format(trusted, trusted_s, sizeof(trusted_s));
	vg_errx("ALARM: the clock reads %s but only %s can be trusted (%.1f days ahead): "
		"retention deletes only up to %s worth; fix the clock or confirm it "
		"(vigilctl retention accept-clock)", now_s, trusted_s,
		(double)rep->jump_us / (double)VG_US_PER_DAY, trusted_s);
}

static void decide_now(struct vg_retention *r, struct vg_retention_report *rep);

/* Decide the time this sweep expires against (see retention.h), and say
 * so when a clamp ends: from then on footage past its retention goes. */
static void effective_now(struct vg_retention *r, struct vg_retention_report *rep)
{
	decide_now(r, rep);
	if (r->clamped && !rep->clock_jump)
		vg_warnx("retention clock clamp ended: expiry follows the clock again (%s)",
			 r->accept_seen ? "confirmed by an operator"
					: "the clock agrees with the time elapsed again");
	r->clamped = rep->clock_jump;
	r->accept_seen = 0;
}

static void decide_now(struct vg_retention *r, struct vg_retention_report *rep)
{
	int64_t rt = r->clk.now_realtime_us(r->clk.ud);
	int64_t mono = r->clk.now_monotonic_us(r->clk.ud);
	int64_t margin = r->p.jump_margin_us;
	int64_t expected, anchor;

	rep->now_us = rt;
	rep->effective_now_us = rt;
	if (r->accept) {
		vg_warnx("the clock was confirmed by an operator; retention trusts it again");
		r->accept = 0;
		r->accept_seen = 1;
		r->have_ref = 0;
	} else if (!r->have_ref && anchor_time(r, &anchor) &&
		   rt > anchor + r->p.startup_max_gap_us) {
		/* First sweep: more than startup_max_gap_us since the last
		 * sweep (or the newest clip) looks like a jump, not an outage. */
		r->have_ref = 1;
		r->ref_rt = anchor;
		r->ref_mono = mono;
		rep->clock_jump = 1;
		rep->jump_us = rt - anchor;
		rep->effective_now_us = anchor + margin;
		clock_alarm(rep, anchor);
		store_trusted(r, anchor);
		return;
	}
	if (!r->have_ref) {
		r->have_ref = 1;
		r->ref_rt = rt;
		r->ref_mono = mono;
		store_trusted(r, rt);
		return;
	}
	expected = r->ref_rt + (mono - r->ref_mono);
	if (rt > expected + margin) {
		/* Keep the old reference: the limit advances with the
		 * monotonic clock until the two agree again. */
		rep->clock_jump = 1;
		rep->jump_us = rt - expected;
		rep->effective_now_us = expected + margin;
		clock_alarm(rep, expected);
		store_trusted(r, expected);
		return;
	}
	if (rt < expected - margin) {
		rep->clock_back = 1;
		vg_warnx("the clock went back by %.0f s; expiry follows it (deleting later, "
			 "never sooner)", (double)(expected - rt) / 1e6);
	}
	r->ref_rt = rt;
	r->ref_mono = mono;
	store_trusted(r, rt);
}

/* ---- deletion ---- */

static int victim_add(struct victims *vs, const struct vg_clip *c)
{
	struct victim *v;

	if (vs->n == vs->cap) {
		int cap = vs->cap ? vs->cap * 2 : 64;
		struct victim *g = realloc(vs->v, (size_t)cap * sizeof(*g));

		if (g == NULL)
			return -VG_ENOMEM;
		vs->v = g;
		vs->cap = cap;
	}
	v = &vs->v[vs->n++];
	v->id = c->id;
	v->start_us = c->start_us;
	v->end_us = c->end_us;
	v->bytes = c->bytes;
	v->has_key = c->has_key;
	memcpy(v->camera, c->camera, sizeof(v->camera));
	memcpy(v->path, c->path, sizeof(v->path));
	vs->sum_bytes += c->bytes > 0 ? c->bytes : 0;
	return 0;
}

/* Walk callback: choose unheld clips until the batch (or the byte goal)
 * is full; 1 stops the walk with more left. */
static int choose(const struct vg_clip *c, void *ud)
{
	struct victims *vs = ud;
	int rc;

	if (c->state == VG_CLIP_RECORDING)
		return 0;
	/* A keyless row is already unrecoverable: always finish it. */
	if (c->has_key && vg_hold_set_covers(vs->holds, c->camera, c->start_us, c->end_us)) {
		vs->held++;
		return 0;
	}
	rc = victim_add(vs, c);
	if (rc != 0)
		return rc;
	if (vs->n >= vs->max || (vs->want_bytes > 0 && vs->sum_bytes >= vs->want_bytes))
		return 1;
	return 0;
}

static void fsync_dir(const char *dir, struct vg_retention_report *rep)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		if (errno != ENOENT) {
			vg_warn("fsync %s", dir);
			if (rep != NULL)
				rep->errors++;
		}
	}
	if (fd >= 0)
		close(fd);
}

/*
 * Steps 2 and 3 for keyless victims: unlink, fsync each directory, then
 * delete the rows in one transaction. A file that cannot be unlinked keeps
 * its (keyless) row, so the next sweep or recover tries again. Returns the
 * number of rows deleted; *ok[i] says which.
 */
static int finish_victims(struct vg_retention *r, struct victims *vs, unsigned char *ok,
			  int *errors)
{
	char path[1100], dir[1100], last_dir[1100] = "";
	int done = 0, rc;

	for (int i = 0; i < vs->n; i++) {
		char *slash;

		snprintf(path, sizeof(path), "%s/%s", r->data_dir, vs->v[i].path);
		ok[i] = 1;
		/* Only clip files: a row naming master.key or a file through a
		 * symbolic link (a tampered catalog) loses its row, not the
		 * file (reconcile.h, data-folder hygiene). */
		if (vg_reconcile_clip_file_ok(r->data_dir, vs->v[i].path) == -VG_EPERM) {
			vg_errx("ALARM: catalog row %lld names \"%s\", which is not a clip file: "
				"the row goes, the file is left alone", (long long)vs->v[i].id,
				vs->v[i].path);
			continue;
		}
		if (unlink(path) != 0 && errno != ENOENT) {
			vg_warn("cannot remove %s (key already destroyed; will retry)", path);
			ok[i] = 0;
			(*errors)++;
			continue;
		}
		memcpy(dir, path, sizeof(dir));
		slash = strrchr(dir, '/');
		if (slash != NULL)
			*slash = '\0';
		/* Victims come ordered by camera and time, so one directory's
		 * clips are adjacent: one fsync per directory per batch. */
		if (strcmp(dir, last_dir) != 0) {
			if (last_dir[0] != '\0')
				fsync_dir(last_dir, NULL);
			memcpy(last_dir, dir, sizeof(last_dir));
		}
	}
	if (last_dir[0] != '\0')
		fsync_dir(last_dir, NULL);
	rc = vg_catalog_begin(r->cat);
	if (rc != 0)
		return rc;
	for (int i = 0; i < vs->n; i++) {
		if (!ok[i])
			continue;
		rc = vg_catalog_clip_delete(r->cat, vs->v[i].id);
		if (rc == -VG_ENOENT)
			rc = 0;	/* someone else finished it */
		if (rc != 0)
			break;
		done++;
	}
	if (rc == 0)
		rc = vg_catalog_commit(r->cat);
	else
		vg_catalog_rollback(r->cat);
	return rc != 0 ? rc : done;
}

/* Step 1 for the chosen victims (inside the caller's batch). */
static int shred_victims(struct vg_retention *r, const struct victims *vs)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i < vs->n; i++) {
		if (vs->v[i].has_key)
			rc = vg_catalog_clip_shred(r->cat, vs->v[i].id);
		if (rc == -VG_ENOENT)
			rc = 0;
	}
	return rc;
}

/* Append text to c->ids; 0 or -VG_ENOMEM. */
static int ids_append(struct cam_tally *c, const char *text)
{
	size_t n = strlen(text);

	if (c->ids_len + n + 1 > c->ids_cap) {
		size_t cap = c->ids_cap ? c->ids_cap * 2 : 128;
		char *g;

		while (cap < c->ids_len + n + 1)
			cap *= 2;
		g = realloc(c->ids, cap);
		if (g == NULL)
			return -VG_ENOMEM;
		c->ids = g;
		c->ids_cap = cap;
	}
	memcpy(c->ids + c->ids_len, text, n + 1);
	c->ids_len += n;
	return 0;
}

/* Write the pending run of ids. */
static int ids_flush(struct cam_tally *c)
{
	char run[48];

	if (c->run_first == 0)
		return 0;
	if (c->run_first == c->run_last)
		snprintf(run, sizeof(run), "%s%" PRId64, c->ids_len ? "," : "", c->run_first);
	else
		snprintf(run, sizeof(run), "%s%" PRId64 "-%" PRId64, c->ids_len ? "," : "",
			 c->run_first, c->run_last);
	c->run_first = c->run_last = 0;
	return ids_append(c, run);
}

static int ids_add(struct cam_tally *c, int64_t id)
{
	if (c->run_first != 0 && id == c->run_last + 1) {
		c->run_last = id;
		return 0;
	}
	if (ids_flush(c) < 0)
		return -VG_ENOMEM;
	c->run_first = c->run_last = id;
	return 0;
}

static void tally_free(struct tally *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->t[i].ids);
	free(t->t);
	memset(t, 0, sizeof(*t));
}

/* Count v in its camera's row; -VG_ENOMEM if the row could not take it
 * (the deletion is then not done: it would be missing from the row). */
static int tally_add(struct tally *t, const struct victim *v)
{
	struct cam_tally *c = NULL;

	for (int i = 0; i < t->n; i++) {
		if (strcmp(t->t[i].camera, v->camera) == 0)
			c = &t->t[i];
	}
	if (c == NULL) {
		if (t->n == t->cap) {
			int cap = t->cap ? t->cap * 2 : 8;
			struct cam_tally *g = realloc(t->t, (size_t)cap * sizeof(*g));

			if (g == NULL)
				return -VG_ENOMEM;
			t->t = g;
			t->cap = cap;
		}
		c = &t->t[t->n++];
		memset(c, 0, sizeof(*c));
		memcpy(c->camera, v->camera, sizeof(c->camera));
		c->from_us = v->start_us;
		c->to_us = v->end_us;
		c->newest_end = v->end_us;
	}
	c->n++;
	if (v->start_us < c->from_us)
		c->from_us = v->start_us;
	if (v->end_us > c->to_us)
		c->to_us = v->end_us;
	if (v->end_us > c->newest_end)
		c->newest_end = v->end_us;
	return v->id > 0 ? ids_add(c, v->id) : 0;
}

/* What the audit rows of a batch say (see audit_victims). */
struct batch_audit {
	const char *action;		/* "retention.delete", "retention.early_delete" */
	const char *reason;		/* NULL: past retention */
	int64_t eff_now;
};

static int audit_victims(struct vg_retention *r, const struct victims *vs,
			 const struct batch_audit *ba);

/*
 * Choose (by walk), audit, shred and finish one batch. walk is called
 * inside the shredding transaction with vs->holds loaded there too; the
 * audit rows naming the chosen clips are written before that transaction
 * commits, and if they cannot be, nothing is shredded (docs/catalog-
 * format.md, "Audit before change"). Returns <0 on error, else the number
 * of clips deleted; *more is 1 if the walk stopped with more candidates
 * left.
 */
typedef int (*walk_fn)(struct vg_retention *r, void *arg, struct victims *vs);

static int one_batch(struct vg_retention *r, walk_fn walk, void *arg, struct victims *vs,
		     const struct batch_audit *ba, int64_t *bytes, int *errors, int *more)
{
	struct vg_hold_set *holds = NULL;
	unsigned char *ok = NULL;
	int rc, wr, done;

	vs->n = 0;
	vs->sum_bytes = 0;
	vs->held = 0;
	*more = 0;
	rc = vg_catalog_begin(r->cat);
	if (rc != 0)
		return rc;
	rc = vg_hold_set_load(r->cat, &holds);
	if (rc == 0) {
		vs->holds = holds;
		wr = walk(r, arg, vs);
		if (wr < 0)
			rc = wr;
		*more = wr == 1;
	}
	if (rc == 0 && vs->n > 0)
		rc = audit_victims(r, vs, ba);
	if (rc == 0)
		rc = shred_victims(r, vs);
	if (rc == 0) {
		rc = vg_catalog_commit(r->cat);
	} else {
		vg_catalog_rollback(r->cat);
	}
	vs->holds = NULL;
	vg_hold_set_free(holds);
	if (rc != 0 || vs->n == 0)
		return rc;
	ok = calloc((size_t)vs->n, 1);
	if (ok == NULL)
		return -VG_ENOMEM;
	done = finish_victims(r, vs, ok, errors);
	for (int i = 0; done > 0 && i < vs->n; i++) {
		if (ok[i])
			*bytes += vs->v[i].bytes;
	}
	free(ok);
	return done;
}

/* ---- audit ---- */

/*
 * One row per camera for the clips in vs, written (durably) before they
 * are shredded: "camera=C deleted=N from=T to=T [days_kept=D] clips=IDS".
 * A clip whose file then cannot be unlinked keeps its keyless row and is
 * finished later, under a row of its own. 0, or negative (then nothing
 * may be deleted).
 */
static int audit_victims(struct vg_retention *r, const struct victims *vs,
			 const struct batch_audit *ba)
{
	struct tally t = { 0 };
	struct vg_audit_entry *e = NULL;
	char **obj = NULL;
	char (*why)[160] = NULL;
	int rc = 0;

	if (r->audit == NULL)
		return 0;
	for (int i = 0; rc == 0 && i < vs->n; i++)
		rc = tally_add(&t, &vs->v[i]);
	for (int i = 0; rc == 0 && i < t.n; i++)
		rc = ids_flush(&t.t[i]);
	if (rc == 0) {
		e = calloc((size_t)t.n, sizeof(*e));
		obj = calloc((size_t)t.n, sizeof(*obj));
		why = calloc((size_t)t.n, sizeof(*why));
		if (e == NULL || obj == NULL || why == NULL)
			rc = -VG_ENOMEM;
	}
	for (int i = 0; rc == 0 && i < t.n; i++) {
		const struct cam_tally *c = &t.t[i];
		char from_s[40], to_s[40], kept[40] = "";
		int days = vg_retention_days(r, c->camera);
		size_t len;

		vg_time_format(c->from_us, from_s, sizeof(from_s));
		vg_time_format(c->to_us, to_s, sizeof(to_s));
		if (ba->reason == NULL) {
			snprintf(why[i], sizeof(why[i]), "past retention of %d days", days);
		} else {
			/* The fewest days any of this footage was kept: the
			 * newest deleted clip's age at deletion. */
			snprintf(kept, sizeof(kept), " days_kept=%.1f",
				 (double)(ba->eff_now - c->newest_end) / (double)VG_US_PER_DAY);
			snprintf(why[i], sizeof(why[i]), "%s (retention %d days)", ba->reason,
				 days);
		}
		len = 200 + c->ids_len;
		obj[i] = malloc(len);
		if (obj[i] == NULL) {
			rc = -VG_ENOMEM;
			break;
		}
		snprintf(obj[i], len, "camera=%s deleted=%" PRId64 " from=%s to=%s%s clips=%s",
			 c->camera, c->n, from_s, to_s, kept, c->ids ? c->ids : "");
		e[i] = (struct vg_audit_entry){
			.uid = -1, .login = "", .role = "", .action = ba->action,
			.object = obj[i], .purpose = "retention", .reference = "",
			.outcome = "allowed", .reason = why[i],
		};
	}
	if (rc == 0 && vg_audit_append_many(r->audit, e, (size_t)t.n) != 0)
		rc = -VG_EIO;
	if (rc != 0)
		vg_errx("cannot write the %s audit rows: nothing deleted (%s)", ba->action,
			vg_strerror(rc));
	for (int i = 0; obj != NULL && i < t.n; i++)
		free(obj[i]);
	free(obj);
	free(why);
	free(e);
	tally_free(&t);
	return rc;
}

/* ---- expiry ---- */

struct expiry_arg {
	const char *camera;
	int64_t limit_us;
};

static int walk_expired(struct vg_retention *r, void *arg, struct victims *vs)
{
	struct expiry_arg *a = arg;

	return vg_catalog_expired(r->cat, a->camera, a->limit_us, 0, choose, vs);
}

static int add_name(const char *camera, void *ud)
{
	struct tally *names = ud;
	struct victim v;

	memset(&v, 0, sizeof(v));
	snprintf(v.camera, sizeof(v.camera), "%s", camera);
	return tally_add(names, &v);
}

static int expire_all(struct vg_retention *r, struct vg_retention_report *rep,
		      struct victims *vs)
{
	struct batch_audit ba = { .action = "retention.delete", .eff_now = rep->effective_now_us };
	struct tally names = { 0 };
	int rc;

	/* Names first: the walk must not hold the camera cursor while the
	 * batches below write. */
	rc = vg_catalog_cameras(r->cat, add_name, &names);
	for (int i = 0; rc == 0 && i < names.n; i++) {
		struct expiry_arg a = { .camera = names.t[i].camera };
		int days = days_for(r, a.camera, rep);
		int more = 1, done;

		a.limit_us = rep->effective_now_us - days * VG_US_PER_DAY;
		while (rc == 0 && more) {
			done = one_batch(r, walk_expired, &a, vs, &ba, &rep->deleted_bytes,
					 &rep->errors, &more);
			if (done < 0) {
				rc = done;
				break;
			}
			rep->deleted += done;
			if (done == 0)
				more = 0;	/* nothing finished: do not spin */
		}
		/* The last walk ran to the end, so it saw every held clip. */
		rep->held_kept += vs->held;
	}
	tally_free(&names);
	return rc;
}

/* ---- disk pressure ---- */

static int walk_oldest(struct vg_retention *r, void *arg, struct victims *vs)
{
	return vg_catalog_oldest(r->cat, 0, choose, vs);
}

static uint64_t min_free_of(const struct vg_retention *r, uint64_t total)
{
	uint64_t pct = total / 100 * (uint64_t)r->p.min_free_percent;
	uint64_t b = (uint64_t)r->p.min_free_bytes;

	return pct > b ? pct : b;
}

static int relieve_pressure(struct vg_retention *r, struct vg_retention_report *rep,
			    struct victims *vs)
{
	struct batch_audit ba = {
		.action = "retention.early_delete", .eff_now = rep->effective_now_us,
		.reason = "early deletion: free space below storage.min_free",
	};
	uint64_t total = 0, avail = 0, need;
	int rc, more, done;

	for (;;) {
		rc = r->clk.space(r->clk.ud, r->data_dir, &total, &avail);
		if (rc != 0) {
			vg_warnx("cannot read free space of %s: %s", r->data_dir, vg_strerror(rc));
			return rc;
		}
		need = min_free_of(r, total);
		rep->total_bytes = total;
		rep->avail_bytes = avail;
		rep->min_free_bytes = need;
		if (avail >= need)
			return 0;
		vs->want_bytes = (int64_t)(need - avail);
		done = one_batch(r, walk_oldest, NULL, vs, &ba, &rep->early_bytes, &rep->errors,
				 &more);
		vs->want_bytes = 0;
		if (done < 0)
			return done;
		if (done == 0) {
			if (vs->n == 0) {
				rep->disk_alarm = 1;
				vg_errx("ALARM: %" PRIu64 " bytes free, %" PRIu64 " required, and "
					"only held or still-recording footage is left: nothing "
					"more will be deleted", avail, need);
			}
			return 0;
		}
		rep->early_deleted += done;
	}
}

/* ---- held share ---- */

struct held_sum {
	int64_t bytes;
	int64_t last_id;
};

static int add_held(const struct vg_clip *c, void *ud)
{
	struct held_sum *s = ud;

	if (c->id == s->last_id)
		return 0;	/* straddles two merged ranges */
	s->last_id = c->id;
	s->bytes += c->bytes;
	return 0;
}

static int cmp_hold(const void *a, const void *b)
{
	const struct vg_hold *x = a, *y = b;
	int c = strcmp(x->camera, y->camera);

	if (c != 0)
		return c;
	return x->from_us < y->from_us ? -1 : x->from_us > y->from_us;
}

static int held_bytes(struct vg_retention *r, int64_t *out)
{
	struct vg_hold_set *set = NULL;
	struct vg_hold *h = NULL;
	struct held_sum s = { 0, -1 };
	int n, rc;

	*out = 0;
	rc = vg_hold_set_load(r->cat, &set);
	if (rc != 0)
		return rc;
	n = vg_hold_set_count(set);
	if (n > 0)
		h = malloc((size_t)n * sizeof(*h));
	if (n > 0 && h == NULL) {
		vg_hold_set_free(set);
		return -VG_ENOMEM;
	}
	for (int i = 0; i < n; i++)
		h[i] = *vg_hold_set_at(set, i);
	vg_hold_set_free(set);
	if (n > 1)	/* qsort(NULL, 0, ...) is undefined */
		qsort(h, (size_t)n, sizeof(*h), cmp_hold);
	/* Merge overlapping ranges of a camera so no clip counts twice. */
	for (int i = 0; rc == 0 && i < n; ) {
		int64_t from = h[i].from_us, to = h[i].to_us;
		int j = i + 1;

		while (j < n && strcmp(h[j].camera, h[i].camera) == 0 && h[j].from_us <= to) {
			if (h[j].to_us > to)
				to = h[j].to_us;
			j++;
		}
		rc = vg_catalog_clips(r->cat, h[i].camera, from, to, add_held, &s);
		i = j;
	}
	free(h);
	*out = s.bytes;
	return rc;
}

/* ---- the sweep ---- */

int vg_retention_sweep(struct vg_retention *r, struct vg_retention_report *rep)
{
	struct victims vs = { 0 };
	int rc, rc2;

	if (rep == NULL)
		return -VG_EINVAL;
	memset(rep, 0, sizeof(*rep));
	if (r == NULL)
		return -VG_EINVAL;
	vs.max = r->p.batch;
	effective_now(r, rep);
	rc = expire_all(r, rep, &vs);
	/* Early deletion even if expiry failed: recording must not stop. */
	rc2 = relieve_pressure(r, rep, &vs);
	if (rc == 0)
		rc = rc2;
	rep->disk_low = rep->avail_bytes < rep->min_free_bytes;
	if (rep->early_deleted > 0)
		vg_warnx("disk short of space: deleted %" PRId64 " clips (%" PRId64 " bytes) "
			 "before their retention ended", rep->early_deleted, rep->early_bytes);
	rc2 = held_bytes(r, &rep->held_bytes);
	if (rc == 0)
		rc = rc2;
	if (rep->total_bytes > 0 &&
	    (uint64_t)rep->held_bytes > rep->total_bytes / 100 * (uint64_t)r->p.held_warn_percent) {
		rep->held_warn = 1;
		vg_warnx("footage under evidence holds (%" PRId64 " bytes) is more than %d%% of "
			 "the disk: review the holds", rep->held_bytes, r->p.held_warn_percent);
	}
	if (rep->deleted + rep->early_deleted > 0) {
		/* Out of the -wal file too (docs/catalog-format.md). A reader
		 * holding it open only delays this to the next sweep. */
		rc2 = vg_catalog_checkpoint(r->cat);
		if (rc2 != 0 && rc2 != -VG_EAGAIN && rc == 0)
			rc = rc2;
		vg_info("retention: %" PRId64 " clips past retention deleted, %" PRId64
			" kept by holds, %" PRId64 " deleted early", rep->deleted, rep->held_kept,
			rep->early_deleted);
	}
	free(vs.v);
	return rc;
}

/* ---- crash recovery ---- */

static int collect_keyless(const struct vg_clip *c, void *ud)
{
	struct victims *vs = ud;

	if (c->state == VG_CLIP_RECORDING)
		return 0;
	return victim_add(vs, c);
}

struct census {
	struct vg_retention *r;
	struct vg_retention_recover_report *rep;
	int64_t now_us;
};

static int check_row(const struct vg_clip *c, void *ud)
{
	struct census *x = ud;
	char path[1100];
	struct stat sb;

	if (c->state == VG_CLIP_RECORDING || !c->has_key)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", x->r->data_dir, c->path);
	if (lstat(path, &sb) != 0 && errno == ENOENT) {
		vg_errx("clip %" PRId64 " (camera %s, %s) is catalogued but its file is gone: "
			"kept for inspection until its retention ends", c->id, c->camera, c->path);
		x->rep->rows_without_file++;
	}
	return 0;
}

/* data_dir/clips/CAMERA/DAY/FILE: files the catalog does not know. */
static void census_files(struct census *x, const char *rel, const char *camera, int depth)
{
	char abs_dir[1100];
	DIR *d;
	struct dirent *e;

	snprintf(abs_dir, sizeof(abs_dir), "%s/%s", x->r->data_dir, rel);
	d = opendir(abs_dir);
	if (d == NULL)
		return;
	for (e = readdir(d); e != NULL; e = readdir(d)) {
		char sub[1100], abs_path[1400];
		struct vg_clip c;
		struct stat sb;
		int64_t mtime_us;

		/* dot files: "." "..", and ".new-" files that reconcile owns */
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name);
		if (depth < 2) {
			census_files(x, sub, depth == 0 ? e->d_name : camera, depth + 1);
			continue;
		}
		snprintf(abs_path, sizeof(abs_path), "%s/%s", abs_dir, e->d_name);
		if (lstat(abs_path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (vg_catalog_clip_by_path(x->r->cat, sub, &c) != -VG_ENOENT)
			continue;
		mtime_us = (int64_t)sb.st_mtim.tv_sec * VG_US_PER_S + sb.st_mtim.tv_nsec / 1000;
		if (mtime_us <= x->now_us - vg_retention_days(x->r, camera) * VG_US_PER_DAY) {
			if (unlink(abs_path) == 0) {
				vg_warnx("removed %s: not in the catalog (so it cannot be "
					 "decrypted) "
					 "and past its camera's retention", abs_path);
				x->rep->files_removed++;
				fsync_dir(abs_dir, NULL);
				continue;
			}
			vg_warn("cannot remove %s", abs_path);
		}
		vg_errx("file %s is not in the catalog: kept for inspection until its "
			"camera's retention ends", abs_path);
		x->rep->files_kept++;
	}
	closedir(d);
}

int vg_retention_recover(struct vg_retention *r, int census,
			 struct vg_retention_recover_report *rep)
{
	struct victims vs = { 0 };
	unsigned char *ok = NULL;
	int rc, errors = 0;

	if (rep == NULL)
		return -VG_EINVAL;
	memset(rep, 0, sizeof(*rep));
	if (r == NULL)
		return -VG_EINVAL;
	/* Keys shredded, rows and perhaps files left: finish the deletion. */
	rc = vg_catalog_shredded(r->cat, collect_keyless, &vs);
	if (rc == 0 && vs.n > 0) {
		struct batch_audit ba = {
			.action = "retention.delete", .eff_now = r->clk.now_realtime_us(r->clk.ud),
			.reason = "finishing deletions a crash cut short (their keys were "
				  "already destroyed)",
		};

		ok = calloc((size_t)vs.n, 1);
		rc = ok == NULL ? -VG_ENOMEM : audit_victims(r, &vs, &ba);
		if (rc == 0)
			rc = finish_victims(r, &vs, ok, &errors);
		if (rc > 0) {
			rep->finished = rc;
			vg_warnx("finished %d deletions a crash had interrupted", rc);
			rc = 0;
		}
	}
	free(ok);
	free(vs.v);
	if (rc == 0 && census) {
		struct census x = { .r = r, .rep = rep,
				    .now_us = r->clk.now_realtime_us(r->clk.ud) };

		rc = vg_catalog_clips(r->cat, NULL, 0, 0, check_row, &x);
		census_files(&x, "clips", "", 0);
	}
	if (rc == 0 && (rep->finished || rep->files_removed))
		rc = vg_catalog_checkpoint(r->cat) == -VG_EDB ? -VG_EDB : 0;
	return rc;
}
