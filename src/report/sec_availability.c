/*
 * sec_availability.c - recording availability per camera per local day
 * (principles 10 and 11): the time covered by clips, the time covered by
 * gaps of each kind, and what is left, which nothing accounts for.
 *
 * The recorded time of a day is one indexed range of the catalog summed
 * by SQLite (clips_camera_span holds camera, start and end, so the table
 * itself is not read): about 1,440 index entries per camera-day for
 * one-minute clips. Gaps are few and are spread over the days here.
 */
#define VG_LOG_MODULE "REPORT"

#include <stdlib.h>
#include <string.h>

#include "vigil/log.h"
#include "vigil/timeutil.h"
#include "report_impl.h"

#define MAX_LONG_GAPS 50

/* One camera's figures, a row per day plus the kinds of gap. */
struct cam {
	char name[VG_CAMERA_NAME_MAX + 1];
	int in_config;
	double *recorded;	/* n_days */
	double *gap;		/* n_days * rep_n_gap_kinds */
	int64_t clips;
};

static int add_camera(struct cam **cams, int *n, const char *name, int in_config)
{
	struct cam *c;

	for (int i = 0; i < *n; i++)
		if (strcmp((*cams)[i].name, name) == 0)
			return 0;
	c = realloc(*cams, (size_t)(*n + 1) * sizeof(**cams));
	if (c == NULL)
		return -1;
	*cams = c;
	c = &c[(*n)++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->in_config = in_config;
	return 0;
}

/* Configured cameras first (in config order), then any other camera with
 * clips or gaps in the catalog (removed from the config since). */
static int camera_list(struct rep *r, struct cam **cams, int *n)
{
	static const char *const next_sql[] = {
		"SELECT camera FROM clips WHERE camera > ?1 ORDER BY camera LIMIT 1",
		"SELECT camera FROM gaps WHERE camera > ?1 ORDER BY camera LIMIT 1",
	};
	const struct vg_config *cfg = r->env->cfg;

	for (int i = 0; i < cfg->n_cameras; i++)
		if (add_camera(cams, n, cfg->cameras[i].name, 1) < 0)
			return -1;
	for (int q = 0; q < 2; q++) {
		sqlite3_stmt *st = rep_prepare(r->cat, next_sql[q]);
		char last[VG_CAMERA_NAME_MAX + 1] = "";

		if (st == NULL)
			return -1;
		for (;;) {
			sqlite3_bind_text(st, 1, last, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(st) != SQLITE_ROW)
				break;
			snprintf(last, sizeof(last), "%s", (const char *)sqlite3_column_text(st, 0));
			sqlite3_reset(st);
			if (add_camera(cams, n, last, 0) < 0) {
				sqlite3_finalize(st);
				return -1;
			}
		}
		sqlite3_finalize(st);
	}
	return 0;
}

static int recorded_by_day(struct rep *r, struct cam *c, int64_t span)
{
	sqlite3_stmt *st = rep_prepare(r->cat,
		"SELECT TOTAL(MIN(end_us, ?3) - MAX(start_us, ?2)), COUNT(*) FROM clips"
		" WHERE camera = ?1 AND start_us >= ?4 AND start_us < ?3 AND end_us > ?2");
	sqlite3_stmt *open = rep_prepare(r->cat,
		"SELECT start_us FROM clips WHERE state = 'recording' AND camera = ?1");

	if (st == NULL || open == NULL)
		goto fail;
	for (int d = 0; d < r->n_days; d++) {
		sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, r->days[d].start_us);
		sqlite3_bind_int64(st, 3, r->days[d].end_us);
		sqlite3_bind_int64(st, 4, r->days[d].start_us - span);
		if (sqlite3_step(st) != SQLITE_ROW)
			goto fail;
		c->recorded[d] = sqlite3_column_double(st, 0) / 1e6;
		sqlite3_reset(st);
	}
	/* The clips of the period, each counted once. */
	sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->from_us);
	sqlite3_bind_int64(st, 3, r->to_us);
	sqlite3_bind_int64(st, 4, r->from_us - span);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	c->clips = sqlite3_column_int64(st, 1);
	/* A clip being recorded has no end yet: it covers up to now. */
	sqlite3_bind_text(open, 1, c->name, -1, SQLITE_STATIC);
	while (sqlite3_step(open) == SQLITE_ROW) {
		int64_t s = sqlite3_column_int64(open, 0);

		for (int d = 0; d < r->n_days; d++) {
			int64_t a = s > r->days[d].start_us ? s : r->days[d].start_us;

			if (a < r->days[d].end_us)
				c->recorded[d] += (double)(r->days[d].end_us - a) / 1e6;
		}
	}
	sqlite3_finalize(st);
	sqlite3_finalize(open);
	return 0;
fail:
	vg_warnx("cannot sum the recorded time of camera %s: %s", c->name, sqlite3_errmsg(r->cat));
	sqlite3_finalize(st);
	sqlite3_finalize(open);
	return -1;
}

static int kind_index(const char *kind)
{
	for (int k = 0; k < rep_n_gap_kinds; k++)
		if (strcmp(rep_gap_kinds[k], kind) == 0)
			return k;
	return rep_n_gap_kinds - 1;
}

/* Spread the camera's gaps over the days; long ones go on the list. */
static int gaps_by_day(struct rep *r, struct cam *c, struct json_object *long_gaps)
{
	sqlite3_stmt *st = rep_prepare(r->cat,
		"SELECT from_us, to_us, reason FROM gaps WHERE camera = ?1 AND from_us < ?3"
		" AND (to_us IS NULL OR to_us > ?2) ORDER BY from_us, id");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, c->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->from_us);
	sqlite3_bind_int64(st, 3, r->to_us);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t f = sqlite3_column_int64(st, 0), t = sqlite3_column_int64(st, 1);
		const char *reason = (const char *)sqlite3_column_text(st, 2);
		int open = sqlite3_column_type(st, 1) == SQLITE_NULL;
		int k = kind_index(rep_gap_kind(reason));

		if (open || t > r->to_us)
			t = r->to_us;
		if (f < r->from_us)
			f = r->from_us;
		for (int d = 0; d < r->n_days; d++) {
			int64_t a = f > r->days[d].start_us ? f : r->days[d].start_us;
			int64_t b = t < r->days[d].end_us ? t : r->days[d].end_us;

			if (b > a)
				c->gap[d * rep_n_gap_kinds + k] += (double)(b - a) / 1e6;
		}
		if (t - f >= VG_REPORT_LONG_GAP_US) {
			struct json_object *g = json_object_new_object();

			json_object_object_add(g, "camera", json_object_new_string(c->name));
			json_object_object_add(g, "from", rep_time(f));
			json_object_object_add(g, "to", open ? NULL : rep_time(t));
			json_object_object_add(g, "seconds", json_object_new_int64((t - f) / VG_US_PER_S));
			json_object_object_add(g, "kind", json_object_new_string(rep_gap_kinds[k]));
			json_object_object_add(g, "reason", rep_str(reason));
			json_object_array_add(long_gaps, g);
		}
	}
	sqlite3_finalize(st);
	return 0;
}

static int has_gaps(const struct rep *r, const struct cam *c)
{
	for (int i = 0; i < r->n_days * rep_n_gap_kinds; i++)
		if (c->gap[i] > 0)
			return 1;
	return 0;
}

/* The day's figures, made to add up to the day: gaps that overlap a clip
 * (a gap opened at the last frame) are cut to what the clips leave. */
static double day_row(struct rep *r, struct cam *c, int d, struct json_object **out)
{
	double len = (double)(r->days[d].end_us - r->days[d].start_us) / 1e6;
	double rec = c->recorded[d] > len ? len : c->recorded[d], gaps = 0, scale = 1;
	double *g = &c->gap[d * rep_n_gap_kinds];
	struct json_object *o = json_object_new_object(), *go = json_object_new_object();

	c->recorded[d] = rec;
	for (int k = 0; k < rep_n_gap_kinds; k++)
		gaps += g[k];
	if (gaps > len - rec)
		scale = gaps > 0 ? (len - rec) / gaps : 0;
	gaps = 0;
	for (int k = 0; k < rep_n_gap_kinds; k++) {
		g[k] *= scale;
		gaps += g[k];
		if (g[k] >= 0.5)
			json_object_object_add(go, rep_gap_kinds[k],
					       json_object_new_int64((int64_t)(g[k] + 0.5)));
	}
	json_object_object_add(o, "date", json_object_new_string(r->days[d].date));
	json_object_object_add(o, "seconds", json_object_new_int64((int64_t)(len + 0.5)));
	json_object_object_add(o, "recorded", json_object_new_int64((int64_t)(rec + 0.5)));
	json_object_object_add(o, "gaps", go);
	json_object_object_add(o, "unaccounted",
			       json_object_new_int64((int64_t)(len - rec - gaps + 0.5)));
	*out = o;
	return len - rec - gaps;
}

static struct json_object *camera_figures(struct rep *r, struct cam *c)
{
	struct json_object *o = json_object_new_object(), *daily = json_object_new_array();
	struct json_object *kinds = json_object_new_object();
	double total = 0, rec = 0, unacc = 0, kind[16] = { 0 };
	int bad_days = 0;
	const char *first_bad = NULL;

	for (int d = 0; d < r->n_days; d++) {
		struct json_object *row;
		double u = day_row(r, c, d, &row);

		json_object_array_add(daily, row);
		total += (double)(r->days[d].end_us - r->days[d].start_us) / 1e6;
		rec += c->recorded[d];
		unacc += u;
		for (int k = 0; k < rep_n_gap_kinds; k++)
			kind[k] += c->gap[d * rep_n_gap_kinds + k];
		if (u * VG_US_PER_S >= VG_REPORT_LONG_GAP_US && bad_days++ == 0)
			first_bad = r->days[d].date;
	}
	for (int k = 0; k < rep_n_gap_kinds; k++)
		if (kind[k] >= 0.5)
			json_object_object_add(kinds, rep_gap_kinds[k],
					       json_object_new_int64((int64_t)(kind[k] + 0.5)));
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "in_config", json_object_new_boolean(c->in_config));
	json_object_object_add(o, "clips", json_object_new_int64(c->clips));
	json_object_object_add(o, "seconds", json_object_new_int64((int64_t)(total + 0.5)));
	json_object_object_add(o, "recorded", json_object_new_int64((int64_t)(rec + 0.5)));
	json_object_object_add(o, "recorded_percent",
			       json_object_new_double(total > 0 ? 100.0 * rec / total : 0));
	json_object_object_add(o, "gaps", kinds);
	json_object_object_add(o, "unaccounted", json_object_new_int64((int64_t)(unacc + 0.5)));
	json_object_object_add(o, "days_with_hour_unaccounted", json_object_new_int(bad_days));
	json_object_object_add(o, "daily", daily);
	if (bad_days > 0)
		rep_action(r, "availability", "principle 11",
			   "Camera \"%s\": on %d day%s (first %s) an hour or more is neither "
			   "recorded nor explained by a recorded gap. Find out why (vigilctl gaps, "
			   "vigild's log) and whether the camera or the box needs attention.",
			   c->name, bad_days, bad_days == 1 ? "" : "s", first_bad);
	return o;
}

static int longest_first(const void *a, const void *b)
{
	int64_t x = json_object_get_int64(json_object_object_get(*(struct json_object *const *)a,
								   "seconds"));
	int64_t y = json_object_get_int64(json_object_object_get(*(struct json_object *const *)b,
								   "seconds"));

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Long gaps, longest first, at most MAX_LONG_GAPS; one action per camera. */
static struct json_object *long_gap_list(struct rep *r, struct json_object *all)
{
	struct json_object *out = json_object_new_array();
	size_t n = json_object_array_length(all);

	json_object_array_sort(all, longest_first);
	for (size_t i = 0; i < n && i < MAX_LONG_GAPS; i++)
		json_object_array_add(out, json_object_get(json_object_array_get_idx(all, i)));
	for (size_t i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(all, i);
		const char *cam = json_object_get_string(json_object_object_get(g, "camera"));
		int count = 0, first = 1;

		for (size_t j = 0; j < n; j++) {
			const char *c2 = json_object_get_string(
				json_object_object_get(json_object_array_get_idx(all, j), "camera"));

			if (strcmp(cam, c2) == 0) {
				count++;
				if (j < i)
					first = 0;
			}
		}
		if (first)	/* the camera's longest, since sorted */
			rep_action(r, "availability", "principle 11",
				   "Camera \"%s\": %d stretch%s of an hour or more without "
				   "recording; the longest, %.1f hours from %s, was \"%s\". Check "
				   "the cause is dealt with.", cam, count, count == 1 ? "" : "es",
				   (double)json_object_get_int64(json_object_object_get(g, "seconds")) /
					   3600.0,
				   json_object_get_string(json_object_object_get(g, "from")),
				   json_object_get_string(json_object_object_get(g, "kind")));
	}
	return out;
}

struct json_object *rep_availability(struct rep *r)
{
	struct json_object *o = NULL, *arr, *all_long, *kinds, *dates;
	struct cam *cams = NULL;
	int n = 0, ok = camera_list(r, &cams, &n) == 0;
	int64_t span = rep_clip_span(r);

	all_long = json_object_new_array();
	arr = json_object_new_array();
	for (int i = 0; ok && i < n; i++) {
		struct cam *c = &cams[i];

		c->recorded = calloc((size_t)r->n_days, sizeof(double));
		c->gap = calloc((size_t)r->n_days * (size_t)rep_n_gap_kinds, sizeof(double));
		ok = c->recorded && c->gap && recorded_by_day(r, c, span) == 0 &&
		     gaps_by_day(r, c, all_long) == 0;
		if (ok && !c->in_config && c->clips == 0 && !has_gaps(r, c))
			continue;	/* gone from the config before this period */
		if (ok)
			json_object_array_add(arr, camera_figures(r, c));
	}
	if (ok) {
		o = json_object_new_object();
		kinds = json_object_new_array();
		for (int k = 0; k < rep_n_gap_kinds; k++)
			json_object_array_add(kinds, json_object_new_string(rep_gap_kinds[k]));
		dates = json_object_new_array();
		for (int d = 0; d < r->n_days; d++)
			json_object_array_add(dates, json_object_new_string(r->days[d].date));
		json_object_object_add(o, "gap_kinds", kinds);
		json_object_object_add(o, "long_gap_hours",
				       json_object_new_double((double)VG_REPORT_LONG_GAP_US /
							      3600e6));
		json_object_object_add(o, "dates", dates);
		json_object_object_add(o, "cameras", json_object_get(arr));
		json_object_object_add(o, "long_gaps", long_gap_list(r, all_long));
	}
	for (int i = 0; i < n; i++) {
		free(cams[i].recorded);
		free(cams[i].gap);
	}
	free(cams);
	json_object_put(arr);
	json_object_put(all_long);
	return o;
}
