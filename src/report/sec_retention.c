/*
 * sec_retention.c - retention (principle 6, policy 3.7): the oldest
 * footage of each camera against its retention, the evidence holds that
 * keep footage longer (reasons, references, reviews), and what retention
 * deleted, on time and early.
 */
#define VG_LOG_MODULE "REPORT"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/log.h"
#include "vigil/timeutil.h"
#include "report_impl.h"

#define US_PER_DAY (86400 * VG_US_PER_S)
/* Retention runs every minute, later while the clock is clamped: a day
 * of slack before footage counts as kept too long. */
#define SLACK_US US_PER_DAY

/* The start of the camera's oldest footage (key not shredded); with
 * unheld, the oldest no active hold keeps. 0 if none. */
static int64_t oldest(struct rep *r, const char *camera, int unheld)
{
	static const char *const sql[] = {
		"SELECT start_us FROM clips WHERE camera = ?1 AND wrapped_key IS NOT NULL"
		" ORDER BY start_us LIMIT 1",
		"SELECT start_us FROM clips c WHERE camera = ?1 AND wrapped_key IS NOT NULL"
		" AND state <> 'recording' AND NOT EXISTS (SELECT 1 FROM holds h"
		" WHERE h.camera = c.camera AND h.released_us IS NULL"
		" AND h.from_us < c.end_us AND h.to_us > c.start_us)"
		" ORDER BY start_us LIMIT 1",
	};
	sqlite3_stmt *st = rep_prepare(r->cat, sql[unheld]);
	int64_t v = 0;

	if (st == NULL)
		return 0;
	sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static struct json_object *age(int64_t from, int64_t now)
{
	return from ? json_object_new_double((double)(now - from) / US_PER_DAY) : NULL;
}

static struct json_object *cameras(struct rep *r)
{
	const struct vg_config *cfg = r->env->cfg;
	struct json_object *arr = json_object_new_array();
	int64_t now = r->rq->now_us;

	for (int i = 0; i < cfg->n_cameras; i++) {
		const struct vg_camera_config *c = &cfg->cameras[i];
		struct json_object *o = json_object_new_object();
		int64_t all = oldest(r, c->name, 0), unheld = oldest(r, c->name, 1);
		int64_t limit = (int64_t)c->retention_days * US_PER_DAY;

		json_object_object_add(o, "name", json_object_new_string(c->name));
		json_object_object_add(o, "retention_days", json_object_new_int(c->retention_days));
		json_object_object_add(o, "oldest", rep_time(all));
		json_object_object_add(o, "oldest_age_days", age(all, now));
		json_object_object_add(o, "oldest_unheld", rep_time(unheld));
		json_object_object_add(o, "oldest_unheld_age_days", age(unheld, now));
		json_object_object_add(o, "within_retention",
				       json_object_new_boolean(!unheld || now - unheld <= limit +
								     SLACK_US));
		json_object_array_add(arr, o);
		if (unheld && now - unheld > limit + SLACK_US)
			rep_action(r, "retention", "policy 3.7",
				   "Camera \"%s\": footage from %.1f days ago is kept although its "
				   "retention is %d days and no hold covers it. Check that retention "
				   "runs (vigilctl status: storage; a clock alarm stops it) and ask "
				   "the installer.", c->name, (double)(now - unheld) / US_PER_DAY,
				   c->retention_days);
	}
	return arr;
}

/* "camera=C deleted=N ... days_kept=D": the counts retention audits. */
static int field(const char *object, const char *key, char *buf, size_t len)
{
	const char *p = object;
	size_t k = strlen(key);

	for (; (p = strstr(p, key)) != NULL; p += k)
		if ((p == object || p[-1] == ' ') && p[k] == '=') {
			p += k + 1;
			snprintf(buf, len, "%.*s", (int)strcspn(p, " "), p);
			return 0;
		}
	buf[0] = '\0';
	return -1;
}

static struct json_object *deletions(struct rep *r)
{
	sqlite3_stmt *st = rep_audit_select(r, "action, object",
		"action IN ('retention.delete', 'retention.early_delete')", "");
	struct json_object *o, *by = json_object_new_object(), *arr = json_object_new_array();
	int64_t total = 0, early = 0;
	double min_kept = -1;

	if (st == NULL) {
		json_object_put(by);
		json_object_put(arr);
		return NULL;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *action = (const char *)sqlite3_column_text(st, 0);
		const char *obj = (const char *)sqlite3_column_text(st, 1);
		int is_early = strcmp(action, "retention.early_delete") == 0;
		char cam[64], n[32], kept[32];
		struct json_object *c;
		int64_t cnt;

		if (field(obj, "camera", cam, sizeof(cam)) < 0 || field(obj, "deleted", n, sizeof(n)))
			continue;
		cnt = strtoll(n, NULL, 10);
		if (!json_object_object_get_ex(by, cam, &c)) {
			c = json_object_new_object();
			json_object_object_add(c, "deleted", json_object_new_int64(0));
			json_object_object_add(c, "early_deleted", json_object_new_int64(0));
			json_object_object_add(by, cam, c);
		}
		json_object_int_inc(json_object_object_get(c, is_early ? "early_deleted" : "deleted"),
				    cnt);
		*(is_early ? &early : &total) += cnt;
		if (is_early && field(obj, "days_kept", kept, sizeof(kept)) == 0 &&
		    (min_kept < 0 || strtod(kept, NULL) < min_kept))
			min_kept = strtod(kept, NULL);
	}
	sqlite3_finalize(st);
	json_object_object_foreach(by, cam, c) {
		json_object_object_add(c, "camera", json_object_new_string(cam));
		json_object_array_add(arr, json_object_get(c));
	}
	json_object_put(by);
	o = json_object_new_object();
	json_object_object_add(o, "clips_deleted", json_object_new_int64(total));
	json_object_object_add(o, "clips_deleted_early", json_object_new_int64(early));
	json_object_object_add(o, "shortest_days_kept_early",
			       min_kept < 0 ? NULL : json_object_new_double(min_kept));
	json_object_object_add(o, "by_camera", arr);
	if (early > 0)
		rep_action(r, "retention", "policy 3.7",
			   "%lld clip%s were deleted before the end of their retention because the "
			   "disk was full (the shortest kept %.1f days). Plan more storage or "
			   "shorter retention, so that incidents reported late are still there.",
			   (long long)early, early == 1 ? "" : "s", min_kept < 0 ? 0 : min_kept);
	return o;
}

static const char *hold_state(sqlite3_stmt *st)
{
	if (sqlite3_column_type(st, 12) != SQLITE_NULL)
		return "released";
	if (sqlite3_column_type(st, 9) != SQLITE_NULL)
		return "release requested";
	return "active";
}

static struct json_object *holds(struct rep *r, struct json_object *summary)
{
	sqlite3_stmt *st = rep_prepare(r->cat,
		"SELECT id, camera, from_us, to_us, reason, reference, review_by_us, placed_by,"
		" placed_us, release_by, release_reason, approved_by, released_us FROM holds"
		" WHERE placed_us < ?2 AND (released_us IS NULL OR released_us >= ?1) ORDER BY id");
	struct json_object *arr = json_object_new_array();
	int64_t now = r->rq->now_us;
	int placed = 0, released = 0, active = 0, overdue = 0;

	if (st == NULL) {
		json_object_put(arr);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, r->from_us);
	sqlite3_bind_int64(st, 2, r->to_us);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *h = json_object_new_object();
		int64_t id = sqlite3_column_int64(st, 0), review = sqlite3_column_int64(st, 6);
		int64_t placed_us = sqlite3_column_int64(st, 8), rel = sqlite3_column_int64(st, 12);
		const char *state = hold_state(st), *cam = (const char *)sqlite3_column_text(st, 1);
		const char *ref = (const char *)sqlite3_column_text(st, 5);
		int is_overdue = rel == 0 && review < now;

		json_object_object_add(h, "id", json_object_new_int64(id));
		json_object_object_add(h, "camera", rep_str(cam));
		json_object_object_add(h, "from", rep_time(sqlite3_column_int64(st, 2)));
		json_object_object_add(h, "to", rep_time(sqlite3_column_int64(st, 3)));
		json_object_object_add(h, "reason", rep_str((const char *)sqlite3_column_text(st, 4)));
		json_object_object_add(h, "reference", rep_str(ref));
		json_object_object_add(h, "review_by", rep_time(review));
		json_object_object_add(h, "placed_by", json_object_new_string(rep_person(r,
			(const char *)sqlite3_column_text(st, 7), NULL)));
		json_object_object_add(h, "placed", rep_time(placed_us));
		json_object_object_add(h, "state", json_object_new_string(state));
		json_object_object_add(h, "released", rep_time(rel));
		json_object_object_add(h, "overdue_days", is_overdue ?
				       json_object_new_int64((now - review) / US_PER_DAY) : NULL);
		json_object_array_add(arr, h);
		placed += placed_us >= r->from_us;
		released += rel != 0;
		active += rel == 0;
		overdue += is_overdue;
		if (is_overdue) {
			char due[40];

			vg_time_format(review, due, sizeof(due));
			rep_action(r, "retention", "policy 3.7",
				   "Hold %lld (camera \"%s\", %s) was due for review on %.10s, %lld "
				   "days ago. Review it: keep it with a new review date, or release "
				   "it (two people) if the footage is no longer needed.",
				   (long long)id, cam, ref, due, (long long)((now - review) / US_PER_DAY));
		}
	}
	sqlite3_finalize(st);
	json_object_object_add(summary, "holds_placed", json_object_new_int(placed));
	json_object_object_add(summary, "holds_released", json_object_new_int(released));
	json_object_object_add(summary, "holds_active", json_object_new_int(active));
	json_object_object_add(summary, "holds_overdue", json_object_new_int(overdue));
	return arr;
}

static struct json_object *storage(const struct vg_sweeper_status *s)
{
	struct json_object *o;

	if (s == NULL || s->sweeps == 0)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "total_bytes", json_object_new_int64((int64_t)s->total_bytes));
	json_object_object_add(o, "free_bytes", json_object_new_int64((int64_t)s->free_bytes));
	json_object_object_add(o, "reserve_bytes",
			       json_object_new_int64((int64_t)s->min_free_bytes));
	json_object_object_add(o, "held_bytes", json_object_new_int64(s->held_bytes));
	json_object_object_add(o, "held_percent", json_object_new_double(s->held_percent));
	json_object_object_add(o, "last_sweep", rep_time(s->last_sweep_us));
	return o;
}

struct json_object *rep_retention(struct rep *r)
{
	struct json_object *o = json_object_new_object(), *h, *d;

	json_object_object_add(o, "cameras", cameras(r));
	h = holds(r, o);
	d = deletions(r);
	if (h == NULL || d == NULL) {
		json_object_put(h);
		json_object_put(d);
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "holds", h);
	json_object_object_add(o, "deletions", d);
	json_object_object_add(o, "storage", storage(r->env->storage));
	return o;
}
