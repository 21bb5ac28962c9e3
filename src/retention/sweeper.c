/*
 * sweeper.c - vigild's retention thread. See sweeper.h.
 *
 * The thread sleeps on a condition variable (CLOCK_MONOTONIC), never in
 * sleep(): stop, kick and reload wake it at once. The lock guards the
 * flags, the pending parameters and the published figures; a sweep runs
 * without it, so status requests never wait for the disk.
 */
#define VG_LOG_MODULE "SWEEP"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "vigil/diskguard.h"
#include "vigil/err.h"
#include "vigil/hold.h"
#include "vigil/log.h"
#include "vigil/sweeper.h"
#include "vigil/timeutil.h"

#define DEF_INTERVAL_US (60 * VG_US_PER_S)
#define DEF_PRESSURE_US VG_US_PER_S
#define DEF_OVERDUE_US VG_US_PER_DAY
/* retention.h's default, needed here to carry the clamp over a reload. */
#define JUMP_MARGIN_US (600 * VG_US_PER_S)

/* The retention settings taken from one config; owns its strings. */
struct params {
	struct vg_retention_camera *cams;
	int n;
	int64_t min_free_bytes;
	int min_free_percent;
	int held_warn_percent;
};

struct vg_sweeper {
	struct vg_catalog *cat;
	struct vg_audit *audit;
	char *data_dir;
	struct vg_retention_clock clk;	/* members NULL: the real thing */
	int64_t interval_us, pressure_us, overdue_us;
	struct vg_retention *ret;	/* the thread's alone (start: before it runs) */
	struct params cur;		/* what ret was built from; the thread's */
	int64_t last_sweep_mono;	/* the thread's: for carrying the clamp over */
	int64_t last_overdue_mono;	/* the thread's; 0: never logged */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* wakes the thread; and sync() waiters */
	/* Under lock: */
	int stop, kick;
	int accept;			/* an operator confirmed the clock */
	struct params *pending;		/* from reload, applied by the thread */
	int64_t started, finished;	/* sweeps */
	struct vg_sweeper_status st;
};

/* ---- parameters ---- */

static void params_clear(struct params *p)
{
	for (int i = 0; p->cams && i < p->n; i++)
		free((char *)p->cams[i].name);
	free(p->cams);
	memset(p, 0, sizeof(*p));
}

static int params_from(struct params *p, const struct vg_config *cfg)
{
	memset(p, 0, sizeof(*p));
	if (cfg->n_cameras > 0) {
		p->cams = calloc((size_t)cfg->n_cameras, sizeof(*p->cams));
		if (p->cams == NULL)
			return -VG_ENOMEM;
	}
	for (int i = 0; i < cfg->n_cameras; i++) {
		char *name = strdup(cfg->cameras[i].name);

		if (name == NULL) {
			params_clear(p);
			return -VG_ENOMEM;
		}
		p->cams[i].name = name;
		p->cams[i].days = cfg->cameras[i].retention_days > 0 ?
			cfg->cameras[i].retention_days : VG_RETENTION_DEFAULT_DAYS;
		p->n++;
	}
	p->min_free_bytes = cfg->min_free_bytes;
	p->min_free_percent = cfg->min_free_percent;
	p->held_warn_percent = cfg->held_warn_percent;
	return 0;
}

/* ---- clocks and space ---- */

static int64_t now_rt(const struct vg_sweeper *s)
{
	return s->clk.now_realtime_us ? s->clk.now_realtime_us(s->clk.ud) : vg_time_now_us();
}

static int space_of(const struct vg_sweeper *s, uint64_t *total, uint64_t *avail)
{
	if (s->clk.space)
		return s->clk.space(s->clk.ud, s->data_dir, total, avail);
	return vg_diskguard_space(s->data_dir, total, avail);
}

/* The same rule as the retention module: the larger of bytes and percent. */
static int space_low(const struct vg_sweeper *s)
{
	uint64_t total, avail, pct, need;

	if (space_of(s, &total, &avail) != 0)
		return 0;
	pct = total / 100 * (uint64_t)s->cur.min_free_percent;
	need = pct > (uint64_t)s->cur.min_free_bytes ? pct : (uint64_t)s->cur.min_free_bytes;
	return avail < need;
}

/*
 * Build a retention sweeper from p. startup_gap_us > 0 narrows the
 * start-up jump check to "the time since the last sweep plus the margin",
 * so that a sweeper rebuilt on reload keeps the old one's clock
 * protection: the last trusted time is in the catalog either way.
 */
static int build(struct vg_sweeper *s, const struct params *p, int64_t startup_gap_us,
		 struct vg_retention **out)
{
	struct vg_retention_params rp = {
		.cameras = p->cams, .n_cameras = p->n, .min_free_bytes = p->min_free_bytes,
		.min_free_percent = p->min_free_percent, .held_warn_percent = p->held_warn_percent,
		.startup_max_gap_us = startup_gap_us,
	};

	return vg_retention_new(out, s->cat, s->data_dir, s->audit, &rp, &s->clk);
}

/* ---- the thread's work ---- */

struct overdue_arg {
	int n;
	int log;
};

static int on_overdue(const struct vg_hold *h, void *ud)
{
	struct overdue_arg *a = ud;
	char msg[512];

	a->n++;
	if (a->log) {
		vg_hold_overdue_message(h, msg, sizeof(msg));
		vg_warnx("%s", msg);
	}
	return 0;
}

static int first_clip(const struct vg_clip *c, void *ud)
{
	*(int64_t *)ud = c->start_us;
	return 1;
}

/* Swap in reloaded parameters, if any (p is consumed). */
static void apply(struct vg_sweeper *s, struct params *p)
{
	struct vg_retention *n = NULL;
	int64_t gap = 0;

	if (s->last_sweep_mono > 0)
		gap = vg_time_mono_us() - s->last_sweep_mono + JUMP_MARGIN_US;
	if (build(s, p, gap, &n) < 0) {
		vg_errx("cannot apply the new retention settings; keeping the old ones");
		params_clear(p);
		free(p);
		return;
	}
	vg_retention_free(s->ret);
	s->ret = n;
	params_clear(&s->cur);
	s->cur = *p;
	free(p);
	vg_info("retention settings reloaded (%d camera(s))", s->cur.n);
}

static void sweep_once(struct vg_sweeper *s)
{
	struct vg_retention_report rep;
	struct overdue_arg od = { 0, 0 };
	int64_t oldest = 0, mono = vg_time_mono_us();
	int rc, was_alarm;

	rc = vg_retention_sweep(s->ret, &rep);
	if (rc < 0)
		vg_errx("retention sweep failed: %s", vg_strerror(rc));
	s->last_sweep_mono = mono;
	od.log = s->last_overdue_mono == 0 || mono - s->last_overdue_mono >= s->overdue_us;
	if (od.log)
		s->last_overdue_mono = mono;
	vg_hold_overdue(s->cat, now_rt(s), on_overdue, &od);
	vg_catalog_oldest(s->cat, 1, first_clip, &oldest);

	pthread_mutex_lock(&s->lock);
	was_alarm = s->st.disk_alarm;
	s->st.last_sweep_us = rep.now_us;
	s->st.last_error = rc;
	s->st.total_bytes = rep.total_bytes;
	s->st.free_bytes = rep.avail_bytes;
	s->st.min_free_bytes = rep.min_free_bytes;
	s->st.held_bytes = rep.held_bytes;
	s->st.held_percent = rep.total_bytes ?
		100.0 * (double)rep.held_bytes / (double)rep.total_bytes : 0.0;
	s->st.oldest_us = oldest;
	s->st.disk_low = rep.disk_low;
	s->st.disk_alarm = rep.disk_alarm;
	s->st.held_warn = rep.held_warn;
	s->st.clock_jump = rep.clock_jump;
	s->st.jump_us = rep.jump_us;
	s->st.overdue_holds = od.n;
	s->st.deleted += rep.deleted;
	s->st.early_deleted += rep.early_deleted;
	s->st.deleted_bytes += rep.deleted_bytes;
	s->st.early_bytes += rep.early_bytes;
	s->st.sweeps++;
	s->finished++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (was_alarm && !rep.disk_alarm)
		vg_warnx("disk alarm cleared: %llu bytes free",
			 (unsigned long long)rep.avail_bytes);
}

static void deadline(struct timespec *ts, int64_t mono_us)
{
	ts->tv_sec = (time_t)(mono_us / VG_US_PER_S);
	ts->tv_nsec = (long)(mono_us % VG_US_PER_S) * 1000L;
}

static void *sweeper_main(void *arg)
{
	struct vg_sweeper *s = arg;
	int64_t next_sweep = 0, next_check = 0, earliest = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		int64_t now = vg_time_mono_us(), until;
		struct params *p;
		int accept;
		int due = now >= next_sweep || s->pending != NULL;

		/* Kicks and pressure sweeps wait for the shortest gap. */
		if (!due && now >= earliest && s->kick)
			due = 1;
		if (!due && now >= next_check && now >= earliest && !s->st.disk_alarm) {
			pthread_mutex_unlock(&s->lock);
			due = space_low(s);
			pthread_mutex_lock(&s->lock);
			next_check = now + s->pressure_us;
		}
		if (!due) {
			struct timespec ts;

			until = next_sweep;
			if (!s->st.disk_alarm && next_check < until)
				until = next_check;
			if (s->kick && earliest < until)
				until = earliest;
			deadline(&ts, until);
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			continue;
		}
		s->kick = 0;
		p = s->pending;
		s->pending = NULL;
		s->started++;
		accept = s->accept;
		s->accept = 0;
		pthread_mutex_unlock(&s->lock);
		if (p)
			apply(s, p);
		if (accept)
			vg_retention_accept_clock(s->ret);
		sweep_once(s);
		now = vg_time_mono_us();
		next_sweep = now + s->interval_us;
		next_check = now + s->pressure_us;
		earliest = now + s->pressure_us;
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- the API ---- */

int vg_sweeper_start(struct vg_sweeper **out, struct vg_catalog *cat, struct vg_audit *audit,
		     const char *data_dir, const struct vg_config *cfg,
		     const struct vg_sweeper_opts *opts)
{
	struct vg_retention_recover_report rr;
	struct vg_sweeper *s;
	pthread_condattr_t ca;
	int rc, locks = 0;

	if (out == NULL)
		return -VG_EINVAL;
	*out = NULL;
	if (cat == NULL || data_dir == NULL || cfg == NULL)
		return -VG_EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -VG_ENOMEM;
	s->cat = cat;
	s->audit = audit;
	s->interval_us = opts && opts->interval_us > 0 ? opts->interval_us : DEF_INTERVAL_US;
	s->pressure_us = opts && opts->pressure_check_us > 0 ? opts->pressure_check_us
							    : DEF_PRESSURE_US;
	s->overdue_us = opts && opts->overdue_interval_us > 0 ? opts->overdue_interval_us
							      : DEF_OVERDUE_US;
	if (opts && opts->clk)
		s->clk = *opts->clk;
	s->data_dir = strdup(data_dir);
	rc = s->data_dir ? params_from(&s->cur, cfg) : -VG_ENOMEM;
	if (rc < 0)
		goto fail;
	rc = build(s, &s->cur, 0, &s->ret);
	if (rc < 0)
		goto fail;
	/* Before recording resumes (retention.h). */
	rc = vg_retention_recover(s->ret, 0, &rr);
	if (rc < 0)
		vg_warnx("finishing interrupted deletions failed: %s; recording anyway",
			 vg_strerror(rc));
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	locks = 1;
	if (pthread_create(&s->thread, NULL, sweeper_main, s) != 0) {
		vg_errx("cannot start the retention thread");
		rc = -VG_ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (locks) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
	}
	vg_retention_free(s->ret);
	params_clear(&s->cur);
	free(s->data_dir);
	free(s);
	return rc;
}

void vg_sweeper_stop(struct vg_sweeper *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	if (s->pending) {
		params_clear(s->pending);
		free(s->pending);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	vg_retention_free(s->ret);
	params_clear(&s->cur);
	free(s->data_dir);
	free(s);
}

int vg_sweeper_reload(struct vg_sweeper *s, const struct vg_config *cfg)
{
	struct params *p, *old;
	int rc;

	if (s == NULL || cfg == NULL)
		return -VG_EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -VG_ENOMEM;
	rc = params_from(p, cfg);
	if (rc < 0) {
		free(p);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	old = s->pending;
	s->pending = p;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (old) {
		params_clear(old);
		free(old);
	}
	return 0;
}

void vg_sweeper_kick(struct vg_sweeper *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->kick = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int vg_sweeper_accept_clock(struct vg_sweeper *s)
{
	int clamped;

	if (s == NULL)
		return 0;
	pthread_mutex_lock(&s->lock);
	clamped = s->st.clock_jump;
	if (clamped) {
		s->accept = 1;
		s->kick = 1;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return clamped;
}

int vg_sweeper_sync(struct vg_sweeper *s, int timeout_ms)
{
	struct timespec ts;
	int64_t target;
	int rc = 0;

	if (s == NULL)
		return -VG_EINVAL;
	deadline(&ts, vg_time_mono_us() + (int64_t)timeout_ms * 1000);
	pthread_mutex_lock(&s->lock);
	target = s->started + 1;	/* the next sweep to start begins after now */
	s->kick = 1;
	pthread_cond_broadcast(&s->cond);
	while (s->finished < target && rc == 0)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0 && s->finished < target)
			rc = -VG_EAGAIN;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void vg_sweeper_status(struct vg_sweeper *s, struct vg_sweeper_status *st)
{
	memset(st, 0, sizeof(*st));
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

static void add_time(struct json_object *o, const char *key, int64_t us)
{
	char buf[40] = "";

	if (us)
		vg_time_format(us, buf, sizeof(buf));
	json_object_object_add(o, key, json_object_new_string(buf));
}

void vg_sweeper_status_json(struct vg_sweeper *s, struct json_object *out)
{
	struct vg_sweeper_status st;
	struct json_object *o = json_object_new_object();

	vg_sweeper_status(s, &st);
	json_object_object_add(o, "sweeps", json_object_new_int64(st.sweeps));
	add_time(o, "last_sweep", st.last_sweep_us);
	json_object_object_add(o, "last_error", json_object_new_string(
		st.last_error ? vg_strerror(st.last_error) : ""));
	json_object_object_add(o, "total_bytes", json_object_new_int64((int64_t)st.total_bytes));
	json_object_object_add(o, "used_bytes",
			       json_object_new_int64((int64_t)(st.total_bytes - st.free_bytes)));
	json_object_object_add(o, "free_bytes", json_object_new_int64((int64_t)st.free_bytes));
	json_object_object_add(o, "min_free_bytes",
			       json_object_new_int64((int64_t)st.min_free_bytes));
	json_object_object_add(o, "held_bytes", json_object_new_int64(st.held_bytes));
	json_object_object_add(o, "held_percent", json_object_new_double(st.held_percent));
	json_object_object_add(o, "oldest_us", json_object_new_int64(st.oldest_us));
	add_time(o, "oldest", st.oldest_us);
	json_object_object_add(o, "disk_low", json_object_new_boolean(st.disk_low));
	json_object_object_add(o, "disk_alarm", json_object_new_boolean(st.disk_alarm));
	json_object_object_add(o, "held_warn", json_object_new_boolean(st.held_warn));
	json_object_object_add(o, "clock_jump", json_object_new_boolean(st.clock_jump));
	json_object_object_add(o, "jump_us", json_object_new_int64(st.jump_us));
	json_object_object_add(o, "overdue_holds", json_object_new_int(st.overdue_holds));
	json_object_object_add(o, "deleted", json_object_new_int64(st.deleted));
	json_object_object_add(o, "early_deleted", json_object_new_int64(st.early_deleted));
	json_object_object_add(o, "deleted_bytes", json_object_new_int64(st.deleted_bytes));
	json_object_object_add(o, "early_bytes", json_object_new_int64(st.early_bytes));
	json_object_object_add(out, "storage", o);
}
