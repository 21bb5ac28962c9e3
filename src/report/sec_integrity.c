/*
 * sec_integrity.c - integrity and security (principles 9 and 11, policy
 * 3.6): the audit chain (its verdict is added by report.c, from its own
 * thread), the last signed checkpoint, the off-box witness, integrity
 * failures, alarms, the daemon's starts and stops, and the clock the
 * pictures' times come from.
 */
#include <stdlib.h>
#include <string.h>

#include "vigil/timeutil.h"
#include "report_impl.h"

#define MAX_LISTED 50

static struct json_object *last_checkpoint(struct rep *r)
{
	sqlite3_stmt *st = rep_prepare(r->aud,
		"SELECT seq, time_us FROM checkpoint ORDER BY id DESC LIMIT 1");
	struct json_object *o = NULL;

	if (st && sqlite3_step(st) == SQLITE_ROW) {
		int64_t t = sqlite3_column_int64(st, 1);

		o = json_object_new_object();
		json_object_object_add(o, "seq", json_object_new_int64(sqlite3_column_int64(st, 0)));
		json_object_object_add(o, "time", rep_time(t));
		json_object_object_add(o, "age_hours", json_object_new_double(
			t < r->rq->now_us ? (double)(r->rq->now_us - t) / 3600e6 : 0));
	}
	sqlite3_finalize(st);
	return o;
}

/* Alarms and integrity failures raised in the period, and the daemon's
 * own events, counted by action. */
static int events(struct rep *r, struct json_object *alarms, struct json_object *daemon,
		  struct json_object *failures)
{
	sqlite3_stmt *st = rep_audit_select(r, "time_us, action, object",
		"action GLOB 'alarm.*' OR action IN ('integrity.failure', 'daemon.start',"
		" 'daemon.stop', 'catalog.recover', 'config.reload', 'camera.lost', 'audit.broken')",
		"ORDER BY seq");

	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *action = (const char *)sqlite3_column_text(st, 1);
		const char *alarm = rep_alarm_name(action);
		struct json_object *into = alarm ? alarms : daemon, *n;
		const char *key = alarm ? alarm : action;

		if (json_object_object_get_ex(into, key, &n))
			json_object_int_inc(n, 1);
		else
			json_object_object_add(into, key, json_object_new_int64(1));
		if (strcmp(action, "integrity.failure") == 0 &&
		    json_object_array_length(failures) < MAX_LISTED) {
			struct json_object *f = json_object_new_object();

			json_object_object_add(f, "time", rep_time(sqlite3_column_int64(st, 0)));
			json_object_object_add(f, "what",
					       rep_str((const char *)sqlite3_column_text(st, 2)));
			json_object_array_add(failures, f);
		}
	}
	sqlite3_finalize(st);
	return 0;
}

/* The alarms standing now, from the daemon's live figures. */
static struct json_object *alarms_now(struct rep *r)
{
	const struct vg_sweeper_status *s = r->env->storage;
	struct json_object *o = json_object_new_object();

	if (s == NULL || s->sweeps == 0) {
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "disk full", json_object_new_boolean(s->disk_alarm));
	json_object_object_add(o, "disk low", json_object_new_boolean(s->disk_low));
	json_object_object_add(o, "clock clamp", json_object_new_boolean(s->clock_jump));
	json_object_object_add(o, "held footage above its share",
			       json_object_new_boolean(s->held_warn));
	if (s->disk_alarm)
		rep_action(r, "integrity", "policy 3.7",
			   "ALARM now: the disk is full of footage under hold, so recording "
			   "cannot keep its free space. Review the holds (release those no longer "
			   "needed) or add storage.");
	if (s->clock_jump)
		rep_action(r, "integrity", "principle 11",
			   "ALARM now: the clock jumped, so retention deletes only what it can "
			   "trust. Check the time and confirm it (see vigild(8), clock), or fix "
			   "time synchronisation.");
	if (s->held_warn)
		rep_action(r, "integrity", "policy 3.7",
			   "Footage under hold uses %.0f%% of the storage, above its share. "
			   "Review the holds.", s->held_percent);
	return o;
}

/* The clock as each clip was recorded: the clip's audit row says. */
static struct json_object *clock_history(struct rep *r)
{
	sqlite3_stmt *st = rep_audit_select(r, "time_us, instr(object, ' clock=UNSYNCHRONISED') > 0",
					    "action = 'clip.create'", "");
	struct json_object *o, *days;
	int64_t clips = 0, unsynced = 0;
	int *per_day;

	if (st == NULL)
		return NULL;
	per_day = calloc((size_t)r->n_days, sizeof(*per_day));
	if (per_day == NULL) {
		sqlite3_finalize(st);
		return NULL;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		clips++;
		if (sqlite3_column_int(st, 1)) {
			int d = rep_day_of(r, sqlite3_column_int64(st, 0));

			unsynced++;
			if (d >= 0)
				per_day[d]++;
		}
	}
	sqlite3_finalize(st);
	o = json_object_new_object();
	json_object_object_add(o, "synchronised_now", r->env->clock_known ?
			       json_object_new_boolean(r->env->clock_synced) : NULL);
	json_object_object_add(o, "estimated_error_us", r->env->clock_known ?
			       json_object_new_int64(r->env->clock_esterror_us) : NULL);
	json_object_object_add(o, "clips", json_object_new_int64(clips));
	json_object_object_add(o, "clips_unsynchronised", json_object_new_int64(unsynced));
	days = json_object_new_array();
	for (int d = 0; d < r->n_days; d++)
		if (per_day[d]) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "date", json_object_new_string(r->days[d].date));
			json_object_object_add(e, "clips_unsynchronised",
					       json_object_new_int(per_day[d]));
			json_object_array_add(days, e);
		}
	free(per_day);
	json_object_object_add(o, "days_unsynchronised", days);
	if (r->env->clock_known && !r->env->clock_synced)
		rep_action(r, "integrity", "principle 11",
			   "The clock is not synchronised now: the time burnt into every picture "
			   "may be wrong. Set up time synchronisation (NTP).");
	if (unsynced > 0)
		rep_action(r, "integrity", "principle 11",
			   "%lld of %lld clips in the period were recorded while the clock was not "
			   "synchronised (on %zu day%s). Their times need care as evidence; fix "
			   "time synchronisation.", (long long)unsynced, (long long)clips,
			   json_object_array_length(days), json_object_array_length(days) == 1 ? "" : "s");
	return o;
}

struct json_object *rep_integrity(struct rep *r)
{
	struct json_object *o = json_object_new_object(), *w = json_object_new_object();
	struct json_object *alarms = json_object_new_object(), *daemon = json_object_new_object();
	struct json_object *failures = json_object_new_array(), *clock;

	if (events(r, alarms, daemon, failures) < 0 || (clock = clock_history(r)) == NULL) {
		json_object_put(alarms);
		json_object_put(daemon);
		json_object_put(failures);
		json_object_put(w);
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "last_checkpoint", last_checkpoint(r));
	rep_witness(r, w);
	json_object_object_add(o, "witness", w);
	json_object_object_add(o, "integrity_failures", failures);
	json_object_object_add(o, "alarms_raised", alarms);
	json_object_object_add(o, "alarms_now", alarms_now(r));
	json_object_object_add(o, "daemon_events", daemon);
	json_object_object_add(o, "clock", clock);
	if (json_object_array_length(failures) > 0)
		rep_action(r, "integrity", "principle 9",
			   "%zu integrity failure%s (footage that failed its authentication check) "
			   "in the period. Find the clips named and keep them for inspection; "
			   "call the installer.", json_object_array_length(failures),
			   json_object_array_length(failures) == 1 ? "" : "s");
	return o;
}
