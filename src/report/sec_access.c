/*
 * sec_access.c - access to footage (principles 4 and 7, policy 3.8 and
 * 3.10): every footage request the audit log holds for the period, by
 * role, by the kind of reference given and by person (named only in the
 * data protection officer's copy), and the refusals by the clause cited.
 *
 * One grouped query over the period's rows; SQLite does the counting.
 */
#include <string.h>

#include "vigil/policy.h"
#include "report_impl.h"

/* A person refused this often in a period is worth a conversation. */
#define REFUSALS_WORTH_A_LOOK 5

static const char *const footage[] = {
	"clip.list", "clip.view", "snapshot", "hold.place", "hold.release", "export",
};
static const char *const oversight[] = { "audit.read", "report", "disclosure.list" };
#define N_FOOTAGE (sizeof(footage) / sizeof(footage[0]))
#define N_OVERSIGHT (sizeof(oversight) / sizeof(oversight[0]))

static int is_one_of(const char *a, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(a, list[i]) == 0)
			return 1;
	return 0;
}

/* o[key] (an object of counters, created on first use)[action] += n */
static void bump(struct json_object *o, const char *key, const char *action, int64_t n)
{
	struct json_object *c, *v;

	if (!json_object_object_get_ex(o, key, &c)) {
		c = json_object_new_object();
		for (size_t i = 0; i < N_FOOTAGE; i++)
			json_object_object_add(c, footage[i], json_object_new_int64(0));
		json_object_object_add(o, key, c);
	}
	if (json_object_object_get_ex(c, action, &v))
		json_object_int_inc(v, n);
}

/* {key: {...}} -> [{name: key, field: {...}}] */
static struct json_object *to_list(struct json_object *map, const char *name, const char *field)
{
	struct json_object *arr = json_object_new_array();

	json_object_object_foreach(map, k, v) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, name, json_object_new_string(k));
		json_object_object_add(o, field, json_object_get(v));
		json_object_array_add(arr, o);
	}
	return arr;
}

struct tally {
	struct json_object *allowed_by_role, *refused_by_role, *by_kind, *people, *clauses;
	struct json_object *overs;
	int64_t refusals, no_account;
};

static void person_row(struct rep *r, struct tally *t, const char *login, const char *role,
		       const char *action, int refused, int64_t n)
{
	const char *label = rep_person(r, login, role);
	struct json_object *p;

	if (!json_object_object_get_ex(t->people, label, &p)) {
		p = json_object_new_object();
		json_object_object_add(p, "person", json_object_new_string(label));
		json_object_object_add(p, "role", json_object_new_string(role));
		json_object_object_add(p, "refused", json_object_new_int64(0));
		bump(p, "allowed", "", 0);	/* every counter, even if none is used */
		json_object_object_add(t->people, label, p);
	}
	if (refused)
		json_object_int_inc(json_object_object_get(p, "refused"), n);
	else
		bump(p, "allowed", action, n);
}

static void refusal(struct rep *r, struct tally *t, const char *action, const char *reason,
		    int64_t n)
{
	char clause[32], key[96];
	struct json_object *c;

	rep_clause(reason, clause, sizeof(clause));
	snprintf(key, sizeof(key), "%s|%s", clause, action);
	if (!json_object_object_get_ex(t->clauses, key, &c)) {
		c = json_object_new_object();
		json_object_object_add(c, "clause", json_object_new_string(clause));
		json_object_object_add(c, "action", json_object_new_string(action));
		json_object_object_add(c, "count", json_object_new_int64(0));
		/* The sentences name people: the DPO's copy only. */
		json_object_object_add(c, "example", r->names ? rep_str(reason) : NULL);
		json_object_object_add(t->clauses, key, c);
	}
	json_object_int_inc(json_object_object_get(c, "count"), n);
	t->refusals += n;
}

static int walk(struct rep *r, struct tally *t)
{
	sqlite3_stmt *st = rep_audit_select(r,
		"action, role, login, outcome,"
		" CASE WHEN reference = '' THEN '' WHEN instr(reference, '-') = 0 THEN '?'"
		"  ELSE upper(substr(reference, 1, instr(reference, '-'))) END,"
		" CASE WHEN outcome = 'refused' THEN reason ELSE '' END,"
		/* vigild stores a flood from one account as the first request
		 * and one row "count=N" for the rest of that minute (control.c):
		 * such a row is N requests */
		" sum(CASE WHEN role = '' AND outcome = 'refused' AND object GLOB 'count=[0-9]*'"
		"  THEN CAST(substr(object, 7) AS INTEGER) ELSE 1 END)",
		"action IN ('clip.list', 'clip.view', 'snapshot', 'hold.place', 'hold.release',"
		" 'export', 'audit.read', 'report', 'disclosure.list')",
		"GROUP BY 1, 2, 3, 4, 5, 6");

	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *action = (const char *)sqlite3_column_text(st, 0);
		const char *role = (const char *)sqlite3_column_text(st, 1);
		const char *login = (const char *)sqlite3_column_text(st, 2);
		int refused = strcmp((const char *)sqlite3_column_text(st, 3), "refused") == 0;
		const char *kind = rep_reference_kind((const char *)sqlite3_column_text(st, 4));
		const char *reason = (const char *)sqlite3_column_text(st, 5);
		int64_t n = sqlite3_column_int64(st, 6);

		if (is_one_of(action, oversight, N_OVERSIGHT)) {
			if (!refused)
				json_object_int_inc(json_object_object_get(t->overs, action), n);
			else
				refusal(r, t, action, reason, n);
			continue;
		}
		if (role[0] == '\0') {
			/* No staff account at all (policy 3.10): counted, not named. */
			t->no_account += n;
			refusal(r, t, action, reason, n);
			continue;
		}
		bump(refused ? t->refused_by_role : t->allowed_by_role, role, action, n);
		if (!refused)
			bump(t->by_kind, kind, action, n);
		else
			refusal(r, t, action, reason, n);
		person_row(r, t, login, role, action, refused, n);
	}
	sqlite3_finalize(st);
	return 0;
}

static struct json_object *roles(struct tally *t)
{
	struct json_object *arr = json_object_new_array();

	for (int i = 0; i < VG_ROLE_COUNT; i++) {
		const char *role = vg_role_name((enum vg_role)i);
		struct json_object *a, *f, *o;

		if (!json_object_object_get_ex(t->allowed_by_role, role, &a) &&
		    !json_object_object_get_ex(t->refused_by_role, role, &f))
			continue;
		bump(t->allowed_by_role, role, "", 0);
		bump(t->refused_by_role, role, "", 0);
		o = json_object_new_object();
		json_object_object_add(o, "role", json_object_new_string(role));
		json_object_object_add(o, "allowed",
				       json_object_get(json_object_object_get(t->allowed_by_role, role)));
		json_object_object_add(o, "refused",
				       json_object_get(json_object_object_get(t->refused_by_role, role)));
		json_object_array_add(arr, o);
	}
	return arr;
}

static void person_actions(struct rep *r, struct json_object *people, int64_t no_account)
{
	for (size_t i = 0; i < json_object_array_length(people); i++) {
		struct json_object *p = json_object_array_get_idx(people, i);
		int64_t n = json_object_get_int64(json_object_object_get(p, "refused"));

		if (n >= REFUSALS_WORTH_A_LOOK)
			rep_action(r, "access", "policy 3.8",
				   "%s (%s) was refused %lld times. Check that their account's "
				   "role and sites match their duties, or whether they need "
				   "guidance.",
				   json_object_get_string(json_object_object_get(p, "person")),
				   json_object_get_string(json_object_object_get(p, "role")),
				   (long long)n);
	}
	if (no_account > 0)
		rep_action(r, "access", "policy 3.10",
			   "%lld request%s came from Unix accounts that are not staff on this box. "
			   "Find out who (vigilctl audit show: the uid is recorded) and remove "
			   "them from vigil's group if they should not reach it.",
			   (long long)no_account, no_account == 1 ? "" : "s");
}

struct json_object *rep_access(struct rep *r)
{
	struct tally t = {
		.allowed_by_role = json_object_new_object(),
		.refused_by_role = json_object_new_object(),
		.by_kind = json_object_new_object(), .people = json_object_new_object(),
		.clauses = json_object_new_object(), .overs = json_object_new_object(),
	};
	struct json_object *o = NULL, *acts, *ref, *people, *list;

	for (size_t i = 0; i < N_OVERSIGHT; i++)
		json_object_object_add(t.overs, oversight[i], json_object_new_int64(0));
	if (walk(r, &t) == 0) {
		o = json_object_new_object();
		acts = json_object_new_array();
		for (size_t i = 0; i < N_FOOTAGE; i++)
			json_object_array_add(acts, json_object_new_string(footage[i]));
		json_object_object_add(o, "actions", acts);
		json_object_object_add(o, "by_role", roles(&t));
		json_object_object_add(o, "by_reference_kind", to_list(t.by_kind, "kind", "allowed"));
		ref = json_object_new_object();
		json_object_object_add(ref, "total", json_object_new_int64(t.refusals));
		list = json_object_new_array();
		json_object_object_foreach(t.clauses, k, v) {
			(void)k;
			json_object_array_add(list, json_object_get(v));
		}
		json_object_object_add(ref, "by_clause", list);
		json_object_object_add(o, "refusals", ref);
		people = json_object_new_array();
		json_object_object_foreach(t.people, k2, v2) {
			(void)k2;
			json_object_array_add(people, json_object_get(v2));
		}
		json_object_object_add(o, "people", people);
		json_object_object_add(o, "no_account_requests", json_object_new_int64(t.no_account));
		json_object_object_add(o, "oversight", json_object_get(t.overs));
		person_actions(r, people, t.no_account);
	}
	json_object_put(t.allowed_by_role);
	json_object_put(t.refused_by_role);
	json_object_put(t.by_kind);
	json_object_put(t.people);
	json_object_put(t.clauses);
	json_object_put(t.overs);
	return o;
}
