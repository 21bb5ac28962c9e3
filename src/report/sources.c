/*
 * sources.c - where the report's figures come from, each behind one small
 * function, so that a source that changes (gap reasons, alarms, the
 * off-box witness, the time zone setting) is pointed at in one place.
 */
#define VG_LOG_MODULE "REPORT"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/audit.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/witness.h"
#include "report_impl.h"

#define CATALOG_APP_ID 1447510860	/* "VGCL", docs/catalog-format.md */
#define CATALOG_MIN_VERSION 3		/* holds and export_requests */

static int open_ro(const char *path, sqlite3 **db, const char *what, char *why, size_t whylen)
{
	*db = NULL;
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(why, whylen, "cannot open the %s %s: %s", what, path,
			 *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return -VG_EDB;
	}
	sqlite3_busy_timeout(*db, 5000);
	sqlite3_db_config(*db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(*db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	/* One snapshot for every query: BEGIN is deferred, so the first read
	 * below is what starts it. */
	if (sqlite3_exec(*db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(why, whylen, "cannot read the %s %s: %s", what, path, sqlite3_errmsg(*db));
		return -VG_EDB;
	}
	return 0;
}

static int64_t one_int(sqlite3 *db, const char *sql, int64_t def)
{
	sqlite3_stmt *st = rep_prepare(db, sql);
	int64_t v = def;

	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int rep_open_sources(struct rep *r, char *why, size_t whylen)
{
	int64_t app, ver;
	int rc;

	rc = open_ro(r->env->catalog_path, &r->cat, "catalog", why, whylen);
	if (rc == 0)
		rc = open_ro(r->env->audit_path, &r->aud, "audit log", why, whylen);
	if (rc < 0)
		return rc;
	app = one_int(r->cat, "PRAGMA application_id", 0);
	ver = one_int(r->cat, "PRAGMA user_version", 0);
	if (app != CATALOG_APP_ID || ver < CATALOG_MIN_VERSION) {
		snprintf(why, whylen, "%s is not a vigil catalog of version %d or later",
			 r->env->catalog_path, CATALOG_MIN_VERSION);
		return -VG_EFORMAT;
	}
	if (one_int(r->aud, "PRAGMA user_version", 0) != VG_AUDIT_FORMAT_VERSION) {
		snprintf(why, whylen, "%s is not a version %d vigil audit log", r->env->audit_path,
			 VG_AUDIT_FORMAT_VERSION);
		return -VG_EFORMAT;
	}
	/* Reading the last seq starts the audit snapshot; the clip span read
	 * starts the catalog's. */
	r->audit_seq = one_int(r->aud, "SELECT max(seq) FROM audit", 0);
	{
		/* Every row of the period lies between these (the clock may
		 * have stepped, so time order is not quite seq order). */
		sqlite3_stmt *st = rep_prepare(r->aud, "SELECT min(seq), max(seq) FROM audit"
					       " WHERE time_us >= ?1 AND time_us < ?2");

		if (st == NULL)
			return -VG_EDB;
		sqlite3_bind_int64(st, 1, r->from_us);
		sqlite3_bind_int64(st, 2, r->to_us);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			r->seq_lo = sqlite3_column_int64(st, 0);
			r->seq_hi = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);	/* no rows: lo > hi selects none */
		if (r->seq_hi == 0)
			r->seq_lo = 1;
	}
	rep_clip_span(r);
	return 0;
}

void rep_close_sources(struct rep *r)
{
	if (r->cat)
		sqlite3_exec(r->cat, "COMMIT", NULL, NULL, NULL);
	if (r->aud)
		sqlite3_exec(r->aud, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(r->cat);
	sqlite3_close(r->aud);
	r->cat = r->aud = NULL;
}

int64_t rep_clip_span(struct rep *r)
{
	return one_int(r->cat, "SELECT value FROM meta WHERE key = 'catalog.clip_span_max_us'", 0);
}

/* Gap reasons are free text today (the pipeline writes why it lost the
 * camera); these prefixes name the categories the report charts. */
const char *const rep_gap_kinds[] = {
	"camera lost", "daemon stopped", "crashed", "disk full", "clock clamp", "disabled",
	"expired", "other",
};
const int rep_n_gap_kinds = sizeof(rep_gap_kinds) / sizeof(rep_gap_kinds[0]);

const char *rep_gap_kind(const char *reason)
{
	static const struct {
		const char *prefix, *kind;
	} map[] = {
		{ "camera lost", "camera lost" }, { "cannot open", "camera lost" },
		{ "daemon stopped", "daemon stopped" }, { "daemon restarted", "daemon stopped" },
		{ "vigild stopped", "daemon stopped" }, { "crash", "crashed" },
		{ "vigild crashed", "crashed" }, { "disk full", "disk full" },
		{ "no space", "disk full" }, { "clock", "clock clamp" },
		{ "disabled", "disabled" }, { "expired", "expired" },
		{ "temporary camera", "expired" },
	};

	for (size_t i = 0; reason && i < sizeof(map) / sizeof(map[0]); i++)
		if (strncasecmp(reason, map[i].prefix, strlen(map[i].prefix)) == 0)
			return map[i].kind;
	return "other";
}

/* Alarms are audit rows "alarm.*" (and integrity failures); the live
 * state of the storage alarms comes from the sweeper (env->storage). */
const char *rep_alarm_name(const char *action)
{
	static const struct {
		const char *action, *name;
	} map[] = {
		{ "alarm.disk_full", "disk full" },
		{ "alarm.clock_clamp", "clock clamp" },
		{ "alarm.held_share", "held footage above its share" },
		{ "integrity.failure", "integrity failure" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(action, map[i].action) == 0)
			return map[i].name;
	return strncmp(action, "alarm.", 6) == 0 ? action + 6 : NULL;
}

void rep_witness(struct rep *r, struct json_object *o)
{
	const struct vg_witness_status *w = r->env->witness;
	char state[320];

	json_object_object_add(o, "configured", json_object_new_boolean(w != NULL));
	if (w == NULL) {
		json_object_object_add(o, "state", json_object_new_string("not configured"));
		json_object_object_add(o, "backlog", NULL);
		return;
	}
	snprintf(state, sizeof(state), "%s%s%s", w->connected ? "connected" : "not connected",
		 w->last_error[0] ? "; last error: " : "", w->last_error);
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "backlog", json_object_new_int64(w->backlog));
}

int rep_audit_chain(struct rep *r, struct vg_audit_problem *prob, struct vg_audit_stats *st)
{
	struct vg_audit *a = NULL;
	int rc;

	memset(prob, 0, sizeof(*prob));
	memset(st, 0, sizeof(*st));
	/* A handle of its own: the daemon's appends do not wait for this. */
	rc = vg_audit_open(r->env->audit_path, NULL, &a);
	if (rc == 0)
		rc = vg_audit_verify(a, r->env->device_key, prob, st);
	if (rc < 0 && prob->msg[0] == '\0')
		snprintf(prob->msg, sizeof(prob->msg), "the audit log could not be read: %s",
			 vg_strerror(rc));
	vg_audit_close(a);
	return rc;
}

const char *rep_time_zone(char *buf, size_t len)
{
	const char *tz = getenv("TZ");
	char link[PATH_MAX];
	ssize_t n;
	FILE *f;

	if (tz && *tz) {
		snprintf(buf, len, "%s", tz[0] == ':' ? tz + 1 : tz);
		return buf;
	}
	f = fopen("/etc/timezone", "re");
	if (f) {
		if (fgets(buf, (int)len, f)) {
			buf[strcspn(buf, "\r\n")] = '\0';
			fclose(f);
			if (buf[0])
				return buf;
		} else {
			fclose(f);
		}
	}
	n = readlink("/etc/localtime", link, sizeof(link) - 1);
	if (n > 0) {
		const char *z;

		link[n] = '\0';
		z = strstr(link, "zoneinfo/");
		snprintf(buf, len, "%s", z ? z + 9 : link);
		return buf;
	}
	snprintf(buf, len, "UTC");
	return buf;
}

const char *rep_person(struct rep *r, const char *login, const char *role)
{
	struct rep_person *p;
	const char *name = NULL;

	if (login == NULL || login[0] == '\0')
		return "vigild";
	for (int i = 0; i < r->n_people; i++)
		if (strcmp(r->people[i].login, login) == 0)
			return r->people[i].label;
	if (r->n_people == r->cap_people) {
		int cap = r->cap_people ? r->cap_people * 2 : 16;
		struct rep_person *np = realloc(r->people, (size_t)cap * sizeof(*np));

		if (np == NULL)
			return "?";
		r->people = np;
		r->cap_people = cap;
	}
	p = &r->people[r->n_people++];
	memset(p, 0, sizeof(*p));
	snprintf(p->login, sizeof(p->login), "%s", login);
	snprintf(p->role, sizeof(p->role), "%s", role ? role : "");
	for (int i = 0; i < r->env->cfg->n_users; i++)
		if (strcmp(r->env->cfg->users[i].login, login) == 0)
			name = r->env->cfg->users[i].name;
	if (!r->names)
		snprintf(p->label, sizeof(p->label), "Person %d", r->n_people);
	else if (name && name[0])
		snprintf(p->label, sizeof(p->label), "%s (%s)", name, login);
	else
		snprintf(p->label, sizeof(p->label), "%s", login);
	return p->label;
}

const char *rep_reference_kind(const char *reference)
{
	static const char *const kinds[] = { "ASB", "CRIME", "CASE", "DSAR", "DISC", "JOB" };
	size_t n;

	if (reference == NULL || reference[0] == '\0')
		return "none";
	n = strcspn(reference, "-");
	for (size_t i = 0; reference[n] == '-' && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i]) == n && strncasecmp(reference, kinds[i], n) == 0)
			return kinds[i];
	return "other";
}

const char *rep_clause(const char *reason, char *buf, size_t len)
{
	static const char *const words[] = { "policy ", "principle " };
	const char *best = NULL;
	size_t blen = 0;

	for (size_t w = 0; reason && w < sizeof(words) / sizeof(words[0]); w++) {
		for (const char *p = strstr(reason, words[w]); p; p = strstr(p + 1, words[w])) {
			const char *q = p + strlen(words[w]);
			size_t n = 0;

			while (isdigit((unsigned char)q[n]) ||
			       (q[n] == '.' && isdigit((unsigned char)q[n + 1])))
				n++;
			if (n == 0)
				continue;
			/* The first citation in the sentence names the rule. */
			if (best == NULL || p < best) {
				best = p;
				blen = (size_t)(q - p) + n;
			}
			break;
		}
	}
	if (best == NULL)
		snprintf(buf, len, "other");
	else
		snprintf(buf, len, "%.*s", (int)blen, best);
	return buf;
}
