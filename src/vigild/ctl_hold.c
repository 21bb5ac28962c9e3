/*
 * ctl_hold.c - the control socket's evidence-hold commands (hold.h):
 *
 *   hold.place    camera, from_us, to_us, reason, review_by ("YYYY-MM-DD");
 *                 the hold's reference is the request's reference
 *   holds         [include_released]: every hold, with overdue flags
 *   hold.release  id, reason: ask for a release (the hold stays)
 *   hold.approve  id: a second, different login releases it; the footage
 *                 follows normal retention from the next sweep
 *
 *   retention.accept_clock   confirm the clock after a clock clamp: the
 *                 sweep then trusts it again (retention.h)
 *
 * Who may: hold.place needs the policy's hold.place, release and approve
 * need hold.release (area manager of the site, line manager, enforcement,
 * DPO; docs/access-policy.md), each with its own purpose and reference, as
 * every footage operation. Listing holds (hold.list) shows cases and
 * references but no footage: the same people, at their sites, with no
 * reference needed; not installers or auditors (auditors see every hold
 * decision in the audit log). Accepting the clock is the data protection
 * officer's (it lets retention delete what the clamp held back).
 *
 * Each command is audited by ctl_authorise (the decision) and by one more
 * row saying what happened.
 */
#define VG_LOG_MODULE "CTL"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "vigil/err.h"
#include "vigil/hold.h"
#include "vigil/retention.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"
#include "control_impl.h"

/* "YYYY-MM-DD" exactly, a real date: midnight UTC at its start. */
static int parse_day(const char *s, int64_t *out)
{
	static const char shape[] = "dddd-dd-dd";
	char back[40];

	if (s == NULL || strlen(s) != sizeof(shape) - 1)
		return -VG_EINVAL;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != '-')
			return -VG_EINVAL;
	if (vg_time_parse(s, vg_time_now_us(), out) != 0)
		return -VG_EINVAL;
	/* 2026-02-30 must not slide into March. */
	vg_time_format(*out, back, sizeof(back));
	return strncmp(back, s, 10) == 0 ? 0 : -VG_EINVAL;
}

static int has_camera(const struct vg_camera_config *cams, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(cams[i].name, name) == 0)
			return 1;
	return 0;
}

static int camera_seen(const char *camera, void *ud)
{
	return strcmp(camera, (const char *)ud) == 0;
}

/* Refuse with msg and audit it as what_failed. */
static int fail(struct req *r, const char *what_failed, const char *object, const char *msg)
{
	ctl_audit(r, what_failed, object, 0, msg);
	return ctl_reply_error(r, msg);
}

int ctl_cmd_hold_place(struct req *r)
{
	const struct vg_control_env *env = ctl_env(r);
	const char *camera = ctl_arg_str(r, "camera"), *reason = ctl_arg_str(r, "reason");
	const char *review = ctl_arg_str(r, "review_by");
	int64_t from = ctl_arg_int(r, "from_us", 0), to = ctl_arg_int(r, "to_us", 0);
	int64_t now = vg_time_now_us(), review_us = 0, id = 0;
	int64_t limit_us = now + (int64_t)(r->cfg->hold_review_days + 1) * VG_US_PER_DAY;
	struct json_object *o;
	struct vg_hold_spec spec;
	char object[512], range[256], msg[400], day[40];
	int rc;

	ctl_range_object(r, range, sizeof(range));
	snprintf(object, sizeof(object), "%s review_by=%s", range, review ? review : "*");
	if (ctl_authorise(r, VG_ACT_HOLD_PLACE, object) < 0)
		return 0;
	if (camera == NULL || from == 0 || to == 0)
		return fail(r, "hold.place_failed", object,
			    "a hold needs --camera, --from and --to (the footage to keep)");
	if (to <= from)
		return fail(r, "hold.place_failed", object, "--to must be later than --from");
	if (reason == NULL || reason[0] == '\0' || strlen(reason) > 255)
		return fail(r, "hold.place_failed", object,
			    "a hold needs --reason \"why this footage is evidence\" "
			    "(at most 255 characters)");
	if (r->reference == NULL || strlen(r->reference) > 63)
		return fail(r, "hold.place_failed", object,
			    "a hold needs --reference (at most 63 characters)");
	if (!has_camera(r->cfg->cameras, r->cfg->n_cameras, camera) &&
	    vg_catalog_cameras(env->cat, camera_seen, (void *)camera) != 1) {
		snprintf(msg, sizeof(msg), "there is no camera named '%s' on this box", camera);
		return fail(r, "hold.place_failed", object, msg);
	}
	if (review == NULL) {
		review_us = now + (int64_t)r->cfg->hold_review_days * VG_US_PER_DAY;
	} else if (parse_day(review, &review_us) < 0) {
		snprintf(msg, sizeof(msg), "cannot read the review date '%s'; write it as "
			 "YYYY-MM-DD", review);
		return fail(r, "hold.place_failed", object, msg);
	}
	if (review_us <= now)
		return fail(r, "hold.place_failed", object,
			    "the review date must be in the future");
	if (review_us > limit_us) {
		vg_time_format(now + (int64_t)r->cfg->hold_review_days * VG_US_PER_DAY, day,
			       sizeof(day));
		day[10] = '\0';
		snprintf(msg, sizeof(msg), "holds must be reviewed at least every %d days "
			 "(storage.hold_review_days): give a review date no later than %s",
			 r->cfg->hold_review_days, day);
		return fail(r, "hold.place_failed", object, msg);
	}
	spec = (struct vg_hold_spec){
		.camera = camera, .from_us = from, .to_us = to, .reason = reason,
		.reference = r->reference, .review_by_us = review_us, .placed_by = r->login,
	};
	rc = vg_hold_place(env->cat, &spec, now, &id);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "the hold was not placed: %s", vg_strerror(rc));
		return fail(r, "hold.place_failed", object, msg);
	}
	snprintf(msg, sizeof(msg), "hold %lld placed", (long long)id);
	snprintf(object, sizeof(object), "hold=%lld %s review_by=%s", (long long)id, range,
		 review ? review : "default");
	ctl_audit(r, "hold.placed", object, 1, msg);
	o = ctl_ok_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "review_by_us", json_object_new_int64(review_us));
	return ctl_reply(r, o);
}

struct hold_list {
	struct json_object *arr;
	int64_t now;
};

static int add_hold(const struct vg_hold *h, void *ud)
{
	struct hold_list *l = ud;
	struct json_object *o = json_object_new_object();
	const char *state = h->released_us ? "released" :
			    h->release_by[0] ? "release-pending" : "active";

	json_object_object_add(o, "id", json_object_new_int64(h->id));
	json_object_object_add(o, "camera", json_object_new_string(h->camera));
	json_object_object_add(o, "from_us", json_object_new_int64(h->from_us));
	json_object_object_add(o, "to_us", json_object_new_int64(h->to_us));
	json_object_object_add(o, "reason", json_object_new_string(h->reason));
	json_object_object_add(o, "reference", json_object_new_string(h->reference));
	json_object_object_add(o, "review_by_us", json_object_new_int64(h->review_by_us));
	json_object_object_add(o, "placed_by", json_object_new_string(h->placed_by));
	json_object_object_add(o, "placed_us", json_object_new_int64(h->placed_us));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "release_by", json_object_new_string(h->release_by));
	json_object_object_add(o, "release_reason", json_object_new_string(h->release_reason));
	json_object_object_add(o, "release_requested_us",
			       json_object_new_int64(h->release_requested_us));
	json_object_object_add(o, "approved_by", json_object_new_string(h->approved_by));
	json_object_object_add(o, "released_us", json_object_new_int64(h->released_us));
	json_object_object_add(o, "overdue", json_object_new_boolean(
		h->released_us == 0 && h->review_by_us <= l->now));
	json_object_array_add(l->arr, o);
	return 0;
}

int ctl_cmd_holds(struct req *r)
{
	int all = ctl_arg_int(r, "include_released", 0) != 0;
	struct hold_list l = { .now = vg_time_now_us() };
	struct json_object *o;
	int rc;

	if (ctl_authorise(r, VG_ACT_HOLD_LIST, all ? "holds (all)" : "holds (active)") < 0)
		return 0;
	l.arr = json_object_new_array();
	rc = vg_hold_list(ctl_env(r)->cat, all, add_hold, &l);
	if (rc < 0) {
		json_object_put(l.arr);
		return ctl_reply_error(r, vg_strerror(rc));
	}
	o = ctl_ok_object();
	json_object_object_add(o, "holds", l.arr);
	return ctl_reply(r, o);
}

/*
 * The common start of release and approve: find the hold, describe it and
 * authorise (with the caller's own purpose and reference). 1: go on, 0:
 * answered already (refused). h->id is 0 if there is no such hold.
 */
static int release_prologue(struct req *r, int64_t id, struct vg_hold *h, char *object,
			    size_t olen)
{
	char from[40], to[40];

	memset(h, 0, sizeof(*h));
	if (id <= 0 || vg_hold_get(ctl_env(r)->cat, id, h) != 0) {
		memset(h, 0, sizeof(*h));
		snprintf(object, olen, "hold=%lld", (long long)id);
	} else {
		vg_time_format(h->from_us, from, sizeof(from));
		vg_time_format(h->to_us, to, sizeof(to));
		snprintf(object, olen, "hold=%lld camera=%s from=%s to=%s reference=%s",
			 (long long)id, h->camera, from, to, h->reference);
	}
	return ctl_authorise(r, VG_ACT_HOLD_RELEASE, object) < 0 ? 0 : 1;
}

int ctl_cmd_hold_release(struct req *r)
{
	int64_t id = ctl_arg_int(r, "id", 0);
	const char *reason = ctl_arg_str(r, "reason");
	struct json_object *o;
	struct vg_hold h;
	char object[512], msg[400];
	int rc;

	if (!release_prologue(r, id, &h, object, sizeof(object)))
		return 0;
	if (h.id == 0) {
		snprintf(msg, sizeof(msg), "there is no hold %lld; list them with 'vigilctl holds'",
			 (long long)id);
		return fail(r, "hold.release_failed", object, msg);
	}
	if (reason == NULL || reason[0] == '\0' || strlen(reason) > 255)
		return fail(r, "hold.release_failed", object,
			    "a release needs --reason \"why the footage is no longer needed\" "
			    "(at most 255 characters)");
	rc = vg_hold_request_release(ctl_env(r)->cat, id, r->login, reason, vg_time_now_us());
	if (rc == -VG_ENOENT) {
		snprintf(msg, sizeof(msg), "hold %lld is already released", (long long)id);
		return fail(r, "hold.release_failed", object, msg);
	}
	if (rc == -VG_EEXIST) {
		vg_hold_get(ctl_env(r)->cat, id, &h);
		snprintf(msg, sizeof(msg), "a release of hold %lld is already pending (asked by "
			 "%s); a second person approves it with 'vigilctl hold approve %lld'",
			 (long long)id, h.release_by, (long long)id);
		return fail(r, "hold.release_failed", object, msg);
	}
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "the release was not recorded: %s", vg_strerror(rc));
		return fail(r, "hold.release_failed", object, msg);
	}
	snprintf(msg, sizeof(msg), "release of hold %lld requested by %s: it needs a second "
		 "person's approval", (long long)id, r->login);
	ctl_audit(r, "hold.release_requested", object, 1, msg);
	o = ctl_ok_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "message", json_object_new_string(msg));
	return ctl_reply(r, o);
}

int ctl_cmd_hold_approve(struct req *r)
{
	int64_t id = ctl_arg_int(r, "id", 0);
	struct json_object *o;
	struct vg_hold h;
	char object[512], msg[400];
	int rc;

	if (!release_prologue(r, id, &h, object, sizeof(object)))
		return 0;
	if (h.id == 0) {
		snprintf(msg, sizeof(msg), "there is no hold %lld; list them with 'vigilctl holds'",
			 (long long)id);
		return fail(r, "hold.approve_failed", object, msg);
	}
	rc = vg_hold_approve_release(ctl_env(r)->cat, id, r->login, vg_time_now_us());
	if (rc == -VG_EPERM) {
		snprintf(msg, sizeof(msg), "refused: you asked for the release of hold %lld "
			 "yourself; a second, different person must approve it (the hold stays)",
			 (long long)id);
		return fail(r, "hold.approve_failed", object, msg);
	}
	if (rc == -VG_ENOENT) {
		if (h.released_us)
			snprintf(msg, sizeof(msg), "hold %lld is already released", (long long)id);
		else
			snprintf(msg, sizeof(msg), "nobody has asked for hold %lld to be released; "
				 "ask with 'vigilctl hold release %lld --reason ...'",
				 (long long)id, (long long)id);
		return fail(r, "hold.approve_failed", object, msg);
	}
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "the approval was not recorded: %s", vg_strerror(rc));
		return fail(r, "hold.approve_failed", object, msg);
	}
	snprintf(msg, sizeof(msg), "hold %lld released (asked by %s, approved by %s): its "
		 "footage follows normal retention from the next sweep, which runs now",
		 (long long)id, h.release_by, r->login);
	ctl_audit(r, "hold.released", object, 1, msg);
	/* On a full disk of held footage this is what frees space. */
	if (ctl_env(r)->retention_sweep)
		ctl_env(r)->retention_sweep(ctl_env(r)->ud);
	o = ctl_ok_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "message", json_object_new_string(msg));
	return ctl_reply(r, o);
}

int ctl_cmd_retention_accept_clock(struct req *r)
{
	const struct vg_control_env *env = ctl_env(r);
	struct json_object *o;
	const char *msg;

	if (ctl_authorise(r, VG_ACT_CLOCK_ACCEPT, "retention clock") < 0)
		return 0;
	if (env->retention_accept_clock == NULL || !env->retention_accept_clock(env->ud))
		return fail(r, "retention.accept_clock_failed", "retention clock",
			    "retention is not clamped: the clock agrees with the time elapsed, so "
			    "there is nothing to confirm");
	msg = "the clock is confirmed: retention trusts it again, and footage past its "
	      "retention is deleted from this sweep on (see vigilctl status)";
	vg_info("%s confirmed the clock: %s", r->login, msg);
	ctl_audit(r, "retention.clock_accepted", "retention clock", 1, msg);
	o = ctl_ok_object();
	json_object_object_add(o, "message", json_object_new_string(msg));
	return ctl_reply(r, o);
}
