/*
 * sec_register.c - the register of cameras (principles 1-3 and 5, policy
 * 3.4, 3.5, 3.11, 4.2): what each camera is for, what it covers, how long
 * it keeps footage and why, its masks and sound, its signs, and for a
 * temporary camera the equipment, reason and time installed. Its actions
 * are config check's own warnings (through vg_confcheck, never copied)
 * and signs not confirmed for a year.
 */
#include <string.h>

#include "vigil/confcheck.h"
#include "vigil/timeutil.h"
#include "report_impl.h"

#define US_PER_DAY (86400 * VG_US_PER_S)

/* Days from local midnight of date to now; -1 if date is not one. */
static int64_t days_since(const char *date, int64_t now_us)
{
	int64_t t;

	if (date == NULL || vg_time_local_date(date, &t) < 0 || t > now_us)
		return -1;
	return (now_us - t) / US_PER_DAY;
}

static struct json_object *temporary(const struct vg_camera_config *c, int64_t now_us)
{
	struct json_object *t = json_object_new_object();
	int64_t from, to = now_us;

	json_object_object_add(t, "equipment", rep_str(c->temporary.equipment));
	json_object_object_add(t, "reason", rep_str(c->temporary.reason));
	json_object_object_add(t, "case_reference", rep_str(c->temporary.case_reference));
	json_object_object_add(t, "installed", rep_str(c->temporary.installed));
	json_object_object_add(t, "remove_by", rep_str(c->temporary.remove_by));
	/* The length of time installed (policy 4.2): it stops recording at
	 * remove_by, so it counts to then at most. */
	if (vg_time_local_date(c->temporary.remove_by, &from) == 0 && from < to)
		to = from;
	if (vg_time_local_date(c->temporary.installed, &from) == 0 && to >= from)
		json_object_object_add(t, "days_installed",
				       json_object_new_int64((to - from) / US_PER_DAY));
	else
		json_object_object_add(t, "days_installed", NULL);
	return t;
}

static struct json_object *camera(struct rep *r, const struct vg_camera_config *c)
{
	struct json_object *o = json_object_new_object();
	int64_t age = days_since(c->signage_confirmed, r->rq->now_us);

	json_object_object_add(o, "name", rep_str(c->name));
	json_object_object_add(o, "purpose", rep_str(c->purpose));
	json_object_object_add(o, "area", rep_str(c->area));
	json_object_object_add(o, "enabled", json_object_new_boolean(c->enabled));
	json_object_object_add(o, "retention_days", json_object_new_int(c->retention_days));
	json_object_object_add(o, "retention_justification", rep_str(c->retention_justification));
	json_object_object_add(o, "masks", json_object_new_int(c->n_masks));
	json_object_object_add(o, "overlay", json_object_new_boolean(c->overlay_enabled));
	json_object_object_add(o, "audio", json_object_new_boolean(c->audio));
	json_object_object_add(o, "audio_justification", rep_str(c->audio_justification));
	json_object_object_add(o, "audio_review_by", rep_str(c->audio_review_by));
	json_object_object_add(o, "signage_confirmed", rep_str(c->signage_confirmed));
	json_object_object_add(o, "signage_age_days", age < 0 ? NULL : json_object_new_int64(age));
	json_object_object_add(o, "temporary", c->is_temporary ? temporary(c, r->rq->now_us) : NULL);
	if (age > VG_REPORT_SIGNAGE_DAYS)
		rep_action(r, "register", "policy 3.5",
			   "Camera \"%s\": the CCTV signs were last confirmed on %s, %lld days "
			   "ago. Check they are still displayed and readable where it records, "
			   "then update signage_confirmed.", c->name, c->signage_confirmed,
			   (long long)age);
	return o;
}

static void confcheck_action(enum vg_confcheck_level level, const char *file, int line,
			     const char *msg, void *ud)
{
	char clause[32];

	(void)level;
	(void)file;
	(void)line;
	rep_action(ud, "register", rep_clause(msg, clause, sizeof(clause)), "%s", msg);
}

struct json_object *rep_register(struct rep *r)
{
	const struct vg_config *cfg = r->env->cfg;
	struct json_object *o = json_object_new_object(), *cams = json_object_new_array();
	struct json_object *roles = json_object_new_object();

	for (int i = 0; i < cfg->n_cameras; i++)
		json_object_array_add(cams, camera(r, &cfg->cameras[i]));
	json_object_object_add(o, "cameras", cams);
	/* Who may do what is in docs/access-policy.md; here, how many hold
	 * each role (principles 4 and 7), never who. */
	for (int i = 0; i < cfg->n_users; i++) {
		struct json_object *n;
		const char *role = cfg->users[i].role;

		if (json_object_object_get_ex(roles, role, &n))
			json_object_int_inc(n, 1);
		else
			json_object_object_add(roles, role, json_object_new_int(1));
	}
	json_object_object_add(o, "staff_accounts_by_role", roles);
	vg_confcheck(cfg, r->rq->now_us, confcheck_action, r);
	return o;
}
