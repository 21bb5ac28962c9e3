/*
 * report_impl.h - what the report's files share (report.c, sources.c,
 * sec_*.c). Private to src/report/.
 *
 * report.c opens the sources, calls one function per section in turn and
 * puts the document together. Each section function reads only through
 * struct rep (its SQL connections, the config, the live figures), returns
 * its JSON object (NULL: out of memory or a failed query, logged) and adds
 * what needs doing to r->actions with rep_action().
 */
#ifndef VIGIL_REPORT_IMPL_H
#define VIGIL_REPORT_IMPL_H

#include <stdint.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "vigil/audit.h"
#include "vigil/report.h"

/* One local day of the period, clipped to it: [start_us, end_us). */
struct rep_day {
	int64_t start_us, end_us;
	char date[11];		/* "YYYY-MM-DD", the box's local date */
};

/* A login seen in the period and how it is shown. */
struct rep_person {
	char login[64];
	char label[160];	/* "Jane Smith (jsmith)" for the DPO, else "Person 3" */
	char role[32];
};

struct rep {
	const struct vg_report_env *env;
	const struct vg_report_request *rq;
	sqlite3 *cat, *aud;		/* read-only, each inside one read transaction */
	int64_t from_us, to_us;		/* the period; to_us no later than now */
	int names;			/* staff names may be shown (the DPO) */
	struct rep_day *days;
	int n_days;
	struct rep_person *people;
	int n_people, cap_people;
	int64_t audit_seq;		/* last audit row in the snapshot */
	int64_t seq_lo, seq_hi;		/* the period's rows lie in this seq range */
	struct json_object *actions;	/* array, filled by the sections */
};

/* ---- sources.c: every data source behind one function ---- */

/* Open the catalog and the audit log read-only, each in a read
 * transaction (one snapshot for the whole report). why on failure. */
int rep_open_sources(struct rep *r, char *why, size_t whylen);
void rep_close_sources(struct rep *r);
/* The catalog's clip_span_max_us (0 if unknown: no lower bound). */
int64_t rep_clip_span(struct rep *r);
/* The category of a gap's free-text reason ("camera lost", "daemon
 * stopped", ...; "other" if none fits): the one place gap reasons are
 * read, so new reasons are named here. Static string. */
const char *rep_gap_kind(const char *reason);
/* The reason categories rep_gap_kind() returns, in chart order. */
extern const char *const rep_gap_kinds[];
extern const int rep_n_gap_kinds;
/* The audit actions that are alarms, and their names for people. */
const char *rep_alarm_name(const char *action);
/* The off-box audit witness (docs/audit-format.md): adds "configured",
 * "state" and "backlog" to o ("not configured" until the box has one). */
void rep_witness(struct rep *r, struct json_object *o);
/* Verify the audit chain with the device key on a connection of its own:
 * 0 intact, else the problem in prob. st gets the counts. */
int rep_audit_chain(struct rep *r, struct vg_audit_problem *prob, struct vg_audit_stats *st);
/* The time zone the days are in, for people ("Europe/London"). */
const char *rep_time_zone(char *buf, size_t len);
/* The person who did something, as this report may show them. */
const char *rep_person(struct rep *r, const char *login, const char *role);
/* The kind of a reference ("ASB", "CRIME", ... "none", "other"). */
const char *rep_reference_kind(const char *reference);
/* The clause a refusal sentence cites ("policy 3.8", "principle 10"), or
 * "other". Copied into buf. */
const char *rep_clause(const char *reason, char *buf, size_t len);

/* ---- report.c: helpers for the sections ---- */

/* Add one action: section key, the clause it answers to, a sentence. */
void rep_action(struct rep *r, const char *section, const char *clause, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
struct json_object *rep_time(int64_t us);	/* ISO 8601 UTC string; null for 0 */
struct json_object *rep_str(const char *s);	/* string; null for NULL */
/* Prepare sql on db; NULL (logged) on failure. */
sqlite3_stmt *rep_prepare(sqlite3 *db, const char *sql);
/* "SELECT columns FROM audit WHERE <the period> AND (where) tail", with
 * the period bound: the rows of the snapshot in [from, to), found as a
 * range of seq (rowids, read in order) rather than through the time
 * index, which costs a lookup per row. NULL (logged) on failure. */
sqlite3_stmt *rep_audit_select(struct rep *r, const char *columns, const char *where,
			       const char *tail);
/* The local day holding t, or -1 if t is outside the period. */
int rep_day_of(const struct rep *r, int64_t t);

/* ---- the sections (sec_*.c) ---- */
struct json_object *rep_register(struct rep *r);
struct json_object *rep_availability(struct rep *r);
struct json_object *rep_retention(struct rep *r);
struct json_object *rep_access(struct rep *r);
struct json_object *rep_disclosures(struct rep *r);
struct json_object *rep_integrity(struct rep *r);

#endif
