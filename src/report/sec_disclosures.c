/*
 * sec_disclosures.c - disclosures (principle 7, policy 3.9 and 3.10): who
 * footage went to, by category of recipient, with the second person's
 * approvals, the withdrawals, the refusals and the requests still waiting.
 *
 * What was disclosed and refused comes from the audit log ("export.done",
 * "export.pending", "export.failed", "export" refused); the decisions on
 * requests that wait for a second person come from the catalog's
 * export_requests table, which keeps the request (and so its recipient).
 */
#include <stdlib.h>
#include <string.h>

#include "vigil/timeutil.h"
#include "report_impl.h"

#define US_PER_DAY (86400 * VG_US_PER_S)
#define MAX_LISTED 200
/* A request waiting longer than this for its second person is an action. */
#define WAITING_DAYS 7

static const char *const recipients[] = { "police", "prosecutor", "legal", "media",
					  "data-subject" };
#define N_RECIPIENTS (sizeof(recipients) / sizeof(recipients[0]))
#define OTHER N_RECIPIENTS

enum col { DISCLOSED, AWAITING, APPROVED, WITHDRAWN, REFUSED, FAILED, N_COLS };
static const char *const col_names[N_COLS] = {
	"disclosed", "awaiting_approval", "approved", "withdrawn", "refused", "failed",
};

static size_t recipient_index(const char *r)
{
	for (size_t i = 0; r && i < N_RECIPIENTS; i++)
		if (strcmp(r, recipients[i]) == 0)
			return i;
	return OTHER;
}

/* The value of key=VALUE (or key="VALUE") in an audit object, into buf. */
static const char *value_of(const char *object, const char *key, char *buf, size_t len)
{
	size_t k = strlen(key);

	buf[0] = '\0';
	for (const char *p = object; p && (p = strstr(p, key)) != NULL; p += k) {
		if ((p != object && p[-1] != ' ') || p[k] != '=')
			continue;
		p += k + 1;
		if (*p == '"')
			snprintf(buf, len, "%.*s", (int)strcspn(p + 1, "\""), p + 1);
		else
			snprintf(buf, len, "%.*s", (int)strcspn(p, " "), p);
		break;
	}
	return buf;
}

/* Every "camera=" of an export's object, comma-separated. */
static void cameras_of(const char *object, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const char *p = object; (p = strstr(p, "camera=")) != NULL; p += 7) {
		int n = (int)strcspn(p + 7, " ");

		if (p != object && p[-1] != ' ')
			continue;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%.*s",
					 used ? ", " : "", n, p + 7);
	}
}

static struct json_object *listed(struct rep *r, sqlite3_stmt *st, const char *object)
{
	struct json_object *o = json_object_new_object();
	char buf[512];

	json_object_object_add(o, "time", rep_time(sqlite3_column_int64(st, 0)));
	json_object_object_add(o, "recipient",
			       json_object_new_string(value_of(object, "recipient", buf, sizeof(buf))));
	json_object_object_add(o, "organisation",
			       json_object_new_string(value_of(object, "organisation", buf,
								 sizeof(buf))));
	json_object_object_add(o, "reference", rep_str((const char *)sqlite3_column_text(st, 4)));
	json_object_object_add(o, "by", json_object_new_string(rep_person(r,
		(const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3))));
	cameras_of(object, buf, sizeof(buf));
	json_object_object_add(o, "cameras", json_object_new_string(buf));
	json_object_object_add(o, "second_person_approved",
			       json_object_new_boolean(strstr(object, " requested_by=") != NULL));
	json_object_object_add(o, "manifest_sha256",
			       json_object_new_string(value_of(object, "manifest_sha256", buf,
								 sizeof(buf))));
	return o;
}

static int from_audit(struct rep *r, int64_t (*t)[N_COLS], struct json_object *list)
{
	sqlite3_stmt *st = rep_audit_select(r, "time_us, action, login, role, reference, object",
		"action IN ('export.done', 'export.pending', 'export.failed')"
		" OR (action = 'export' AND outcome = 'refused')", "ORDER BY seq");
	char rcp[64];

	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *action = (const char *)sqlite3_column_text(st, 1);
		const char *object = (const char *)sqlite3_column_text(st, 5);
		size_t i = recipient_index(value_of(object, "recipient", rcp, sizeof(rcp)));
		enum col c = strcmp(action, "export.done") == 0 ? DISCLOSED :
			     strcmp(action, "export.pending") == 0 ? AWAITING :
			     strcmp(action, "export.failed") == 0 ? FAILED : REFUSED;

		t[i][c]++;
		if (c == DISCLOSED && json_object_array_length(list) < MAX_LISTED)
			json_object_array_add(list, listed(r, st, object));
	}
	sqlite3_finalize(st);
	return 0;
}

static int decisions(struct rep *r, int64_t (*t)[N_COLS])
{
	sqlite3_stmt *st = rep_prepare(r->cat,
		"SELECT json_extract(request, '$.recipient'), state, count(*) FROM export_requests"
		" WHERE decided_us >= ?1 AND decided_us < ?2 GROUP BY 1, 2");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, r->from_us);
	sqlite3_bind_int64(st, 2, r->to_us);
	while (sqlite3_step(st) == SQLITE_ROW) {
		size_t i = recipient_index((const char *)sqlite3_column_text(st, 0));
		int approved = strcmp((const char *)sqlite3_column_text(st, 1), "approved") == 0;

		t[i][approved ? APPROVED : WITHDRAWN] += sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return 0;
}

static struct json_object *waiting(struct rep *r)
{
	sqlite3_stmt *st = rep_prepare(r->cat,
		"SELECT id, requester, created_us, json_extract(request, '$.recipient'),"
		" json_extract(request, '$.organisation') FROM export_requests"
		" WHERE state = 'waiting' ORDER BY id");
	struct json_object *arr;
	int64_t now = r->rq->now_us;

	if (st == NULL)
		return NULL;
	arr = json_object_new_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct json_object *o = json_object_new_object();
		int64_t id = sqlite3_column_int64(st, 0), asked = sqlite3_column_int64(st, 2);
		const char *rcp = (const char *)sqlite3_column_text(st, 3);

		json_object_object_add(o, "id", json_object_new_int64(id));
		json_object_object_add(o, "asked_by", json_object_new_string(rep_person(r,
			(const char *)sqlite3_column_text(st, 1), NULL)));
		json_object_object_add(o, "asked", rep_time(asked));
		json_object_object_add(o, "recipient", rep_str(rcp));
		json_object_object_add(o, "organisation",
				       rep_str((const char *)sqlite3_column_text(st, 4)));
		json_object_object_add(o, "waiting_days",
				       json_object_new_int64((now - asked) / US_PER_DAY));
		json_object_array_add(arr, o);
		if (now - asked > WAITING_DAYS * US_PER_DAY)
			rep_action(r, "disclosures", rcp && strcmp(rcp, "data-subject") == 0 ?
				   "policy 3.10" : "policy 3.9",
				   "Disclosure request %lld (to %s) has waited %lld days for a "
				   "second person. Approve it (vigilctl export approve %lld) or "
				   "withdraw it with a reason; a subject access request must be "
				   "answered within a month.", (long long)id, rcp ? rcp : "?",
				   (long long)((now - asked) / US_PER_DAY), (long long)id);
	}
	sqlite3_finalize(st);
	return arr;
}

struct json_object *rep_disclosures(struct rep *r)
{
	int64_t t[N_RECIPIENTS + 1][N_COLS];
	struct json_object *o, *by, *list = json_object_new_array(), *w;
	int64_t total = 0;

	memset(t, 0, sizeof(t));
	if (from_audit(r, t, list) < 0 || decisions(r, t) < 0 || (w = waiting(r)) == NULL) {
		json_object_put(list);
		return NULL;
	}
	by = json_object_new_array();
	for (size_t i = 0; i <= N_RECIPIENTS; i++) {
		struct json_object *row;
		int64_t any = 0;

		for (int c = 0; c < N_COLS; c++)
			any += t[i][c];
		if (i == OTHER && any == 0)
			continue;	/* only refusals name other recipients */
		row = json_object_new_object();

		json_object_object_add(row, "recipient",
				       json_object_new_string(i < N_RECIPIENTS ? recipients[i]
									       : "other"));
		json_object_object_add(row, "clause", json_object_new_string(
			i == OTHER ? "policy 3.10" : strcmp(recipients[i], "data-subject") == 0
			? "policy 3.10" : "policy 3.9"));
		for (int c = 0; c < N_COLS; c++)
			json_object_object_add(row, col_names[c], json_object_new_int64(t[i][c]));
		json_object_array_add(by, row);
		total += t[i][DISCLOSED];
	}
	o = json_object_new_object();
	json_object_object_add(o, "disclosed", json_object_new_int64(total));
	json_object_object_add(o, "by_recipient", by);
	json_object_object_add(o, "waiting", w);
	json_object_object_add(o, "list", list);
	json_object_object_add(o, "list_limit", json_object_new_int(MAX_LISTED));
	return o;
}
