/*
 * control.c - the control socket server. See control.h.
 *
 * Each request is one JSON object:
 *   {"cmd": "...", "purpose": "...", "reference": "...", ...arguments}
 * Each reply is one JSON object {"ok": true, ...} or {"ok": false,
 * "error": "sentence"}, except footage, which comes as DATA frames ended by
 * an END frame carrying the status. The order inside handle() is the point
 * of this file: identify, decide, audit, and only then act.
 */
#define VG_LOG_MODULE "CTL"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libavcodec/packet.h>

#include "vigil/clipfile.h"
#include "vigil/clipmedia.h"
#include "vigil/control.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/policy.h"
#include "vigil/proto.h"
#include "vigil/timeutil.h"
#include "control_impl.h"

/* Deadlines and limits of the control socket (documented in control.h
 * and vigild(8)). */
#define CTL_IDLE_S 60			/* staff: waiting for the next request */
#define CTL_IDLE_NONSTAFF_S 5		/* no staff role: short-lived */
#define CTL_FRAME_S 10			/* a frame, once begun, arrives whole */
#define CTL_SEND_S 30			/* a reply the client does not take */
#define CTL_NONSTAFF_MAX_FRAME 4096	/* no staff role: small requests only */
#define CTL_NONSTAFF_MAX_REQUESTS 4	/* ... and a few per connection */
#define CTL_NONSTAFF_POOL 2		/* connections for all such accounts */
#define CTL_RESERVED_OVERSIGHT 2	/* slots only the DPO and auditor take */
#define CTL_EVICT_WAIT_MS 2000		/* for an idle connection to close */
#define CTL_FLOOD_SLOTS 64
#define CTL_FLOOD_WINDOW_US (60 * VG_US_PER_S)

/* One kind of refused or malformed request from one uid, counted over a
 * minute (audit_compact). */
struct flood {
	int used;
	uid_t uid;
	char login[64];
	char action[40];
	int64_t window_us;	/* monotonic: the minute began */
	int64_t window_utc_us;	/* the same, for the row */
	int64_t count;		/* since the row that opened the minute */
};

struct vg_control {
	struct vg_control_env env;	/* first: control_impl.h reads it */
	char *path;
	int listen_fd;
	int wake[2];		/* self-pipe that ends the accept loop */
	pthread_t accept_thread;
	pthread_mutex_t lock;
	pthread_cond_t idle;	/* a connection ended */
	struct conn conns[VG_CONTROL_MAX_CONN];
	int n_active;
	int stopping;
	pthread_mutex_t flood_lock;	/* guards flood[] */
	struct flood flood[CTL_FLOOD_SLOTS];
	/* The integrity alarm (under lock): clips that failed authentication
	 * since start, and the last one. */
	int64_t integrity_failures;
	char integrity_last[300];
};


void vg_control_audit_event(struct vg_audit *a, const char *action, const char *object,
			    const char *reason)
{
	vg_control_audit_outcome(a, action, object, "allowed", reason);
}

void vg_control_audit_outcome(struct vg_audit *a, const char *action, const char *object,
			      const char *outcome, const char *reason)
{
	struct vg_audit_entry e = {
		.uid = -1, .login = "", .role = "", .action = action, .object = object,
		.purpose = "", .reference = "", .outcome = outcome, .reason = reason,
	};

	if (a && vg_audit_append(a, &e, NULL) < 0)
		vg_errx("cannot write the audit row for %s", action);
}

const struct vg_control_env *ctl_env(struct req *r)
{
	return &r->c->srv->env;
}

const struct vg_user *ctl_user(struct req *r)
{
	for (int i = 0; i < r->cfg->n_users; i++)
		if (strcmp(r->cfg->users[i].login, r->login) == 0)
			return &r->cfg->users[i];
	return NULL;
}

/* ---- replies ---- */

int ctl_reply(struct req *r, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int ret = vg_proto_send(r->c->fd, VG_FRAME_JSON, s, strlen(s));

	json_object_put(o);
	return ret;
}

int ctl_reply_error(struct req *r, const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return ctl_reply(r, o);
}

struct json_object *ctl_ok_object(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

const char *ctl_arg_str(struct req *r, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->in, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int64_t ctl_arg_int(struct req *r, const char *key, int64_t def)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->in, key, &v) || !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

int ctl_send_data(struct req *r, const uint8_t *data, size_t len)
{
	while (len > 0) {
		size_t n = len > VG_PROTO_MAX ? VG_PROTO_MAX : len;
		int ret = vg_proto_send(r->c->fd, VG_FRAME_DATA, data, n);

		if (ret < 0)
			return ret;
		data += n;
		len -= n;
	}
	return 0;
}

/* ---- identify, decide, audit ---- */

#define PROGRESS_EVERY_US 250000

void ctl_progress_start(struct ctl_progress *p, struct req *r)
{
	p->fd = r->c->fd;
	p->broken = 0;
	p->last_us = 0;
	p->start_us = vg_time_mono_us();
}

/* The exporter calls this with its progress lock held: sends are
 * serialised. */
void ctl_progress_send(uint64_t done, uint64_t total, void *ud)
{
	struct ctl_progress *p = ud;
	int64_t now = vg_time_mono_us();
	char line[160];
	int n;

	if (p->broken || (now - p->last_us < PROGRESS_EVERY_US && done < total))
		return;
	p->last_us = now;
	n = snprintf(line, sizeof(line), "{\"done\":%llu,\"total\":%llu,\"elapsed_us\":%lld}",
		     (unsigned long long)done, (unsigned long long)total,
		     (long long)(now - p->start_us));
	if (vg_proto_send(p->fd, VG_FRAME_DATA, line, (size_t)n) < 0)
		p->broken = 1;
}

int ctl_audit(struct req *r, const char *action, const char *object, int allowed,
	      const char *reason)
{
	return ctl_audit_outcome(r, action, object, allowed ? "allowed" : "refused", reason);
}

int ctl_audit_outcome(struct req *r, const char *action, const char *object,
		      const char *outcome, const char *reason)
{
	int ret;

	struct vg_audit_entry e = {
		.uid = (int64_t)r->c->uid, .login = r->login, .role = r->role, .action = action,
		.object = object, .purpose = r->purpose ? r->purpose : "",
		.reference = r->reference ? r->reference : "",
		.outcome = outcome, .reason = reason,
	};

	ret = vg_audit_append(r->c->srv->env.audit, &e, NULL);
	if (ret < 0)
		vg_errx("cannot write the audit row for %s by %s", action, r->login);
	return ret;
}

void ctl_clip_object(const struct vg_clip *c, char *buf, size_t len)
{
	char hex[VG_CLIP_ID_HEX_LEN], start[40];

	vg_clip_id_hex(c->clip_id, hex);
	vg_time_format(c->start_us, start, sizeof(start));
	snprintf(buf, len, "camera=%s clip=%lld clip_id=%s start=%s", c->camera,
		 (long long)c->id, hex, start);
}

void ctl_integrity_failure(struct req *r, const struct vg_clip *c, int64_t chunk)
{
	struct vg_control *srv = r->c->srv;
	char object[300], where[40], line[300];

	ctl_clip_object(c, object, sizeof(object));
	if (chunk >= 0)
		snprintf(where, sizeof(where), " chunk=%lld", (long long)chunk);
	else
		snprintf(where, sizeof(where), " chunk=key");
	snprintf(object + strlen(object), sizeof(object) - strlen(object), "%s file=%s", where,
		 c->path);
	ctl_audit(r, "integrity.failure", object, 0, "the clip failed authentication (tampered "
		  "or corrupt): nothing from that point on was delivered");
	vg_errx("ALARM: integrity failure: %s failed authentication while %s read it; keep the "
		"file for inspection", object, r->login);
	snprintf(line, sizeof(line), "%s", object);
	pthread_mutex_lock(&srv->lock);
	srv->integrity_failures++;
	memcpy(srv->integrity_last, line, sizeof(srv->integrity_last));
	pthread_mutex_unlock(&srv->lock);
}

/*
 * Ask the policy whether the caller may do action; audit the answer. On a
 * refusal the reply is sent here and -VG_EDENIED returned.
 */
int ctl_policy_allows(struct req *r, enum vg_action action)
{
	struct vg_policy policy = { .users = r->cfg->users, .n_users = r->cfg->n_users };
	struct vg_policy_request pr = {
		.login = r->login, .action = action,
		.site = r->cfg->has_site ? r->cfg->site.name : "",
		.purpose = r->purpose, .reference = r->reference,
	};
	struct vg_policy_decision d;

	vg_policy_check(&policy, &pr, &d);
	r->role = d.role >= 0 ? vg_role_name((enum vg_role)d.role) : "";
	return d.allowed != 0;
}

int ctl_authorise(struct req *r, enum vg_action action, const char *object)
{
	struct vg_policy policy = { .users = r->cfg->users, .n_users = r->cfg->n_users };
	struct vg_policy_request pr = {
		.login = r->login, .action = action,
		.site = r->cfg->has_site ? r->cfg->site.name : "",
		.purpose = r->purpose, .reference = r->reference,
	};
	struct vg_policy_decision d;

	vg_policy_check(&policy, &pr, &d);
	r->role = d.role >= 0 ? vg_role_name((enum vg_role)d.role) : "";
	ctl_audit_gate(r, action, &d);	/* ctl_audit.c: a broken audit log stops footage */
	/* No audit row, no access: an action nobody can review later is not
	 * done (principle 10). */
	if (ctl_audit(r, vg_action_name(action), object, d.allowed, d.reason) < 0 && d.allowed) {
		vg_errx("refusing %s for %s: the audit log cannot be written", vg_action_name(action),
			r->login);
		ctl_reply_error(r, "refused: the audit log cannot be written (disk full or "
				   "damaged?), so nothing can be done that it should record; "
				   "call the installer");
		return -VG_EDENIED;
	}
	if (!d.allowed) {
		vg_info("refused %s for %s (uid %d): %s", vg_action_name(action), r->login,
			(int)r->c->uid, d.reason);
		ctl_reply_error(r, d.reason);
		return -VG_EDENIED;
	}
	return 0;
}

/* ---- commands ---- */

static int cmd_hello(struct req *r)
{
	struct json_object *o = ctl_ok_object();
	const char *role = "";

	for (int i = 0; i < r->cfg->n_users; i++)
		if (strcmp(r->cfg->users[i].login, r->login) == 0)
			role = r->cfg->users[i].role;
	r->role = role;
	ctl_audit(r, "session.login", "", 1, role[0] ? "known staff account" : "no account");
	json_object_object_add(o, "login", json_object_new_string(r->login));
	json_object_object_add(o, "role", json_object_new_string(role));
	json_object_object_add(o, "protocol", json_object_new_int(VG_PROTO_VERSION));
	return ctl_reply(r, o);
}

static int cmd_status(struct req *r)
{
	struct json_object *o = ctl_ok_object();
	int known = 0;

	for (int i = 0; i < r->cfg->n_users; i++)
		if (strcmp(r->cfg->users[i].login, r->login) == 0)
			known = 1;
	if (!known) {
		ctl_audit(r, "status", "", 0, "refused: no staff account");
		json_object_put(o);
		return ctl_reply_error(r, "refused: you have no staff account on this box");
	}
	r->role = ctl_user(r)->role;
	ctl_audit(r, "status", "", 1, "staff account");
	if (r->c->srv->env.status)
		r->c->srv->env.status(r->c->srv->env.ud, o);
	pthread_mutex_lock(&r->c->srv->lock);
	json_object_object_add(o, "integrity_failures",
			       json_object_new_int64(r->c->srv->integrity_failures));
	json_object_object_add(o, "integrity_last",
			       json_object_new_string(r->c->srv->integrity_last));
	pthread_mutex_unlock(&r->c->srv->lock);
	return ctl_reply(r, o);
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

/* The camera register: what each camera is for, and for temporary ones
 * the equipment, reason and how long it has been installed (policy 4.2).
 * No footage: any staff account may read it. */
static int cmd_cameras(struct req *r)
{
	struct json_object *o, *arr;

	if (ctl_user(r) == NULL) {
		ctl_audit(r, "cameras", "", 0, "refused: no staff account");
		return ctl_reply_error(r, "refused: you have no staff account on this box");
	}
	ctl_audit(r, "cameras", "", 1, "staff account");
	o = ctl_ok_object();
	arr = json_object_new_array();
	for (int i = 0; i < r->cfg->n_cameras; i++) {
		const struct vg_camera_config *c = &r->cfg->cameras[i];
		struct json_object *e = json_object_new_object();

		add_str(e, "name", c->name);
		add_str(e, "purpose", c->purpose);
		add_str(e, "area", c->area);
		json_object_object_add(e, "enabled", json_object_new_boolean(c->enabled));
		json_object_object_add(e, "retention_days", json_object_new_int(c->retention_days));
		add_str(e, "signage_confirmed", c->signage_confirmed);
		json_object_object_add(e, "audio", json_object_new_boolean(c->audio));
		json_object_object_add(e, "masks", json_object_new_int(c->n_masks));
		/* configured is not the same as working: "audio_state" says */
		if (ctl_env(r)->camera_state)
			ctl_env(r)->camera_state(ctl_env(r)->ud, c->name, e);
		if (c->is_temporary) {
			struct json_object *t = json_object_new_object();
			int64_t from, to;

			add_str(t, "equipment", c->temporary.equipment);
			add_str(t, "reason", c->temporary.reason);
			add_str(t, "case_reference", c->temporary.case_reference);
			add_str(t, "installed", c->temporary.installed);
			add_str(t, "remove_by", c->temporary.remove_by);
			if (vg_time_local_date(c->temporary.installed, &from) == 0) {
				to = vg_time_now_us();
				if (vg_time_local_date(c->temporary.remove_by, &from) == 0 && to > from)
					to = from;	/* it stopped recording then */
				vg_time_local_date(c->temporary.installed, &from);
				json_object_object_add(t, "days_installed",
						       json_object_new_int64((to - from) /
									     (86400 * VG_US_PER_S)));
			}
			json_object_object_add(e, "temporary", t);
		}
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "cameras", arr);
	return ctl_reply(r, o);
}

struct clip_list {
	struct json_object *arr;
};

static int add_clip(const struct vg_clip *c, void *ud)
{
	struct clip_list *l = ud;
	struct json_object *o = json_object_new_object();
	static const char *const states[] = { "recording", "complete", "recovered" };

	json_object_object_add(o, "id", json_object_new_int64(c->id));
	json_object_object_add(o, "camera", json_object_new_string(c->camera));
	json_object_object_add(o, "start_us", json_object_new_int64(c->start_us));
	json_object_object_add(o, "end_us", json_object_new_int64(c->end_us));
	json_object_object_add(o, "frames", json_object_new_int64(c->frames));
	json_object_object_add(o, "bytes", json_object_new_int64(c->bytes));
	json_object_object_add(o, "state", json_object_new_string(states[c->state]));
	json_object_object_add(o, "synthetic", json_object_new_boolean(c->synthetic));
	json_object_object_add(o, "path", json_object_new_string(c->path));
	json_object_array_add(l->arr, o);
	return 0;
}

void ctl_range_object(struct req *r, char *buf, size_t len)
{
	const char *cam = ctl_arg_str(r, "camera");
	char from[40] = "", to[40] = "";
	int64_t f = ctl_arg_int(r, "from_us", 0), t = ctl_arg_int(r, "to_us", 0);

	if (f)
		vg_time_format(f, from, sizeof(from));
	if (t)
		vg_time_format(t, to, sizeof(to));
	snprintf(buf, len, "camera=%s from=%s to=%s", cam ? cam : "*", f ? from : "*",
		 t ? to : "*");
}

static int cmd_clips(struct req *r)
{
	struct clip_list l;
	struct json_object *o;
	char object[256];

	ctl_range_object(r, object, sizeof(object));
	if (ctl_authorise(r, VG_ACT_CLIP_LIST, object) < 0)
		return 0;
	o = ctl_ok_object();
	l.arr = json_object_new_array();
	vg_catalog_clips(r->c->srv->env.cat, ctl_arg_str(r, "camera"), ctl_arg_int(r, "from_us", 0),
			 ctl_arg_int(r, "to_us", 0), add_clip, &l);
	json_object_object_add(o, "clips", l.arr);
	return ctl_reply(r, o);
}

static int add_gap(const struct vg_gap *g, void *ud)
{
	struct clip_list *l = ud;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "camera", json_object_new_string(g->camera));
	json_object_object_add(o, "from_us", json_object_new_int64(g->from_us));
	json_object_object_add(o, "to_us", json_object_new_int64(g->to_us));
	json_object_object_add(o, "reason", json_object_new_string(g->reason));
	json_object_array_add(l->arr, o);
	return 0;
}

static int cmd_gaps(struct req *r)
{
	struct clip_list l;
	struct json_object *o;
	char object[256];

	ctl_range_object(r, object, sizeof(object));
	if (ctl_authorise(r, VG_ACT_CLIP_LIST, object) < 0)
		return 0;
	o = ctl_ok_object();
	l.arr = json_object_new_array();
	vg_catalog_gaps(r->c->srv->env.cat, ctl_arg_str(r, "camera"), ctl_arg_int(r, "from_us", 0),
			ctl_arg_int(r, "to_us", 0), add_gap, &l);
	json_object_object_add(o, "gaps", l.arr);
	return ctl_reply(r, o);
}

/* A clip's plaintext goes to the client socket as DATA frames and nowhere
 * else. Two audit rows: the decision (clip.view, before anything is read)
 * and what happened (clip.viewed once the footage was delivered, or
 * clip.view_failed); a chunk that fails authentication is an
 * integrity.failure as well. */
static int cmd_view(struct req *r)
{
	struct vg_control *srv = r->c->srv;
	int64_t id = ctl_arg_int(r, "clip", 0);
	struct vg_clip clip;
	struct vg_clip_reader *rd = NULL;
	char object[300], outcome[160];
	const uint8_t *data;
	size_t len;
	uint64_t sent = 0;
	int ret, sent_ok = 1;

	if (vg_catalog_clip_get(srv->env.cat, id, &clip) < 0) {
		snprintf(object, sizeof(object), "clip=%lld", (long long)id);
		/* Audited too: asking for footage is itself worth a row. */
		if (ctl_authorise(r, VG_ACT_CLIP_VIEW, object) < 0)
			return 0;
		return ctl_reply_error(r, "no such clip; list clips with 'vigilctl clips'");
	}
	ctl_clip_object(&clip, object, sizeof(object));
	if (ctl_authorise(r, VG_ACT_CLIP_VIEW, object) < 0)
		return 0;
	if (!clip.has_key) {
		ctl_audit(r, "clip.view_failed", object, 0, "deleted: its key was destroyed");
		return ctl_reply_error(r, "this clip has been deleted (its key was destroyed)");
	}
	/* beneath the data folder, no symlink followed, a regular file (a
	 * FIFO in its place fails at once) */
	ret = vg_clip_reader_open_in(&rd, srv->env.data_dir, clip.path, srv->env.master,
				     clip.wrapped_key);
	if (ret < 0) {
		if (ret == -VG_EAUTH)
			ctl_integrity_failure(r, &clip, -1);
		snprintf(outcome, sizeof(outcome), "not delivered: %s", ret == -VG_EFORMAT ?
			 "its file is not a clip file (a FIFO, link or other file in its place)" :
			 vg_strerror(ret));
		ctl_audit(r, "clip.view_failed", object, 0, outcome);
		return ctl_reply_error(r, ret == -VG_EFORMAT ? "the clip's file is not a vigil clip "
				       "file (something else is in its place); nothing was "
				       "delivered: tell the installer" : vg_strerror(ret));
	}
	ctl_reply(r, ctl_ok_object());
	for (;;) {
		ret = vg_clip_reader_next(rd, &data, &len);
		if (ret != 0)
			break;
		if (ctl_send_data(r, data, len) < 0) {
			sent_ok = 0;
			break;
		}
		sent += len;
	}
	if (ret == -VG_EAUTH)
		ctl_integrity_failure(r, &clip, (int64_t)vg_clip_reader_chunks(rd));
	vg_clip_reader_free(rd);
	{
		struct json_object *o = json_object_new_object();
		const char *s;

		json_object_object_add(o, "ok", json_object_new_boolean(ret == 1 || ret == -VG_ETRUNC));
		json_object_object_add(o, "truncated", json_object_new_boolean(ret == -VG_ETRUNC));
		if (ret < 0 && ret != -VG_ETRUNC)
			json_object_object_add(o, "error", json_object_new_string(vg_strerror(ret)));
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		if (vg_proto_send(r->c->fd, VG_FRAME_END, s, strlen(s)) < 0)
			sent_ok = 0;
		json_object_put(o);
	}
	if (sent_ok && (ret == 1 || ret == -VG_ETRUNC)) {
		snprintf(outcome, sizeof(outcome), "delivered: %llu bytes%s",
			 (unsigned long long)sent,
			 ret == -VG_ETRUNC ? ", all there is (the clip was cut off by a crash)" : "");
		ctl_audit(r, "clip.viewed", object, 1, outcome);
	} else {
		snprintf(outcome, sizeof(outcome), "not delivered in full (%llu bytes sent): %s",
			 (unsigned long long)sent,
			 !sent_ok ? "the viewer went away" : vg_strerror(ret));
		ctl_audit(r, "clip.view_failed", object, 0, outcome);
	}
	return 0;
}

/* An installer's snapshot: one current picture, masks filled and their
 * outlines drawn, as a JPEG in DATA frames (footage: authorised and
 * audited first, and sent to the client only). */
static int cmd_snapshot(struct req *r)
{
	const struct vg_control_env *env = ctl_env(r);
	const char *cam = ctl_arg_str(r, "camera");
	AVPacket *jpeg = NULL;
	char object[160], msg[256];
	const char *end = "{\"ok\":true}";
	int ret;

	snprintf(object, sizeof(object), "camera=%s snapshot", cam ? cam : "*");
	if (ctl_authorise(r, VG_ACT_SNAPSHOT, object) < 0)
		return 0;
	if (cam == NULL)
		return ctl_reply_error(r, "which camera? give --camera C (see 'vigilctl cameras')");
	ret = env->snapshot ? env->snapshot(env->ud, cam, &jpeg) : -VG_ENOENT;
	if (ret == -VG_ENOENT)
		snprintf(msg, sizeof(msg), "no camera named '%s' is recording; see 'vigilctl "
			 "status'", cam);
	else if (ret == -VG_ENODATA)
		snprintf(msg, sizeof(msg), "camera '%s' gave no picture in time: is it recording? "
			 "(see 'vigilctl status')", cam);
	else if (ret == -VG_EFORMAT)
		snprintf(msg, sizeof(msg), "camera '%s' sends H.264 that is recorded as it comes, "
			 "without masks or overlay: there is no picture to show", cam);
	else if (ret < 0)
		snprintf(msg, sizeof(msg), "cannot take a snapshot of '%s': %s", cam,
			 vg_strerror(ret));
	if (ret < 0)
		return ctl_reply_error(r, msg);
	ret = ctl_reply(r, ctl_ok_object());
	if (ret == 0)
		ret = ctl_send_data(r, jpeg->data, (size_t)jpeg->size);
	av_packet_free(&jpeg);
	if (ret == 0)
		ret = vg_proto_send(r->c->fd, VG_FRAME_END, end, strlen(end));
	return ret < 0 ? ret : 0;
}

struct command {
	const char *name;
	int (*fn)(struct req *r);
};

static const struct command commands[] = {
	{ "hello", cmd_hello },
	{ "status", cmd_status },
	{ "cameras", cmd_cameras },
	{ "clips", cmd_clips },
	{ "gaps", cmd_gaps },
	{ "view", cmd_view },
	{ "snapshot", cmd_snapshot },
	{ "audit.show", ctl_cmd_audit_show },
	{ "audit.verify", ctl_cmd_audit_verify },
	{ "audit.acknowledge", ctl_cmd_audit_acknowledge },
	{ "key.show", ctl_cmd_key_show },
	{ "hold.place", ctl_cmd_hold_place },
	{ "holds", ctl_cmd_holds },
	{ "hold.release", ctl_cmd_hold_release },
	{ "hold.approve", ctl_cmd_hold_approve },
	{ "retention.accept_clock", ctl_cmd_retention_accept_clock },
	{ "export", ctl_cmd_export },
	{ "export.approve", ctl_cmd_export_approve },
	{ "export.withdraw", ctl_cmd_export_withdraw },
	{ "export.burn", ctl_cmd_export_burn },
	{ "disclosures", ctl_cmd_disclosures },
	{ "report", ctl_cmd_report },
};

/* The action a command's audit rows name (the policy's), for the compact
 * row of a refusal that never reaches its handler; others use the name. */
static const char *const command_actions[][2] = {
	{ "hello", "session.login" }, { "clips", "clip.list" }, { "gaps", "clip.list" },
	{ "view", "clip.view" }, { "audit.show", "audit.read" }, { "audit.verify", "audit.read" },
	{ "holds", "hold.list" }, { "export.approve", "export" }, { "export.withdraw", "export" },
	{ "export.burn", "export" }, { "disclosures", "disclosure.list" },
};

static const char *command_action(const char *name)
{
	for (size_t i = 0; i < sizeof(command_actions) / sizeof(command_actions[0]); i++)
		if (strcmp(command_actions[i][0], name) == 0)
			return command_actions[i][1];
	return name;
}

static void login_of(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(out, len, "%s", res->pw_name);
	else
		snprintf(out, len, "uid:%u", (unsigned)uid);
}

/* ---- decoding a request (pure) ---- */

const char *ctl_decoded_name(enum ctl_decoded d)
{
	switch (d) {
	case CTL_REQ_OK:
		return "well formed";
	case CTL_REQ_BAD_JSON:
		return "not valid JSON (or nested too deep, or a NUL inside)";
	case CTL_REQ_NOT_OBJECT:
		return "JSON but not an object";
	case CTL_REQ_NO_CMD:
		return "no \"cmd\"";
	case CTL_REQ_CMD_TYPE:
		return "\"cmd\" is not a string";
	case CTL_REQ_UNKNOWN:
		return "unknown command";
	}
	return "?";
}

static const struct command *find_command(const char *cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

enum ctl_decoded ctl_decode(const char *msg, size_t len, struct json_object **out,
			    const char **cmd)
{
	struct json_tokener *tok;
	struct json_object *o, *v;
	enum ctl_decoded d = CTL_REQ_OK;

	*out = NULL;
	if (cmd != NULL)
		*cmd = NULL;
	/* A NUL inside would cut every string that follows short. */
	if (msg == NULL || strlen(msg) != len)
		return CTL_REQ_BAD_JSON;
	tok = json_tokener_new_ex(CTL_MAX_DEPTH);
	if (tok == NULL)
		return CTL_REQ_BAD_JSON;
	/* No JSON_TOKENER_VALIDATE_UTF8 here: a string that is not UTF-8
	 * is refused by the text gate (ctl_text_gate, textfield.h), which
	 * names the field and audits a short, escaped form of the value; a
	 * parse error here could only say "malformed". */
	o = json_tokener_parse_ex(tok, msg, (int)len);
	/* Whole frame, one value: trailing bytes are not ignored. */
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    strspn(msg + json_tokener_get_parse_end(tok), " \t\r\n") !=
		    len - json_tokener_get_parse_end(tok)) {
		json_object_put(o);
		json_tokener_free(tok);
		return CTL_REQ_BAD_JSON;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_object))
		d = CTL_REQ_NOT_OBJECT;
	else if (!json_object_object_get_ex(o, "cmd", &v))
		d = CTL_REQ_NO_CMD;
	else if (!json_object_is_type(v, json_type_string))
		d = CTL_REQ_CMD_TYPE;
	else if (find_command(json_object_get_string(v)) == NULL)
		d = CTL_REQ_UNKNOWN;
	if (d != CTL_REQ_OK && d != CTL_REQ_UNKNOWN) {
		json_object_put(o);
		return d;
	}
	*out = o;
	if (cmd != NULL)
		*cmd = json_object_get_string(v);
	return d;
}

/* ---- compact, rate-limited audit rows ----
 *
 * Requests from accounts that are not on the staff list, and malformed
 * ones from anyone, are not stored one by one: the first of a kind (uid
 * and action) in a minute gets a row that names the uid, the action and
 * what was wrong, never the payload (no purpose, no arguments); the rest
 * of that minute are counted, and the count goes in one more row when the
 * minute is over (at the next such request, or when vigild stops). A
 * flood therefore writes at most two rows per kind and uid per minute,
 * whatever its size. */

static int64_t mono_us(void)
{
	return vg_time_mono_us();
}

struct compact_row {
	uid_t uid;
	char login[64];
	char action[40];
	char object[120];
	const char *outcome;
	char reason[300];
};

static void write_compact(struct vg_control *srv, const struct compact_row *w)
{
	struct vg_audit_entry e = {
		.uid = (int64_t)w->uid, .login = w->login, .role = "", .action = w->action,
		.object = w->object, .purpose = "", .reference = "", .outcome = w->outcome,
		.reason = w->reason,
	};

	if (srv->env.audit && vg_audit_append(srv->env.audit, &e, NULL) < 0)
		vg_errx("cannot write the audit row for %s by uid %u", w->action, (unsigned)w->uid);
}

/* The summary of slot f (caller holds flood_lock) into w; 1 if there is
 * one to write. */
static int flood_summary(struct flood *f, struct compact_row *w)
{
	char since[40];

	if (!f->used || f->count == 0)
		return 0;
	memset(w, 0, sizeof(*w));
	w->uid = f->uid;
	memcpy(w->login, f->login, sizeof(w->login));
	memcpy(w->action, f->action, sizeof(w->action));
	snprintf(w->object, sizeof(w->object), "count=%lld", (long long)f->count);
	w->outcome = "refused";
	vg_time_format(f->window_utc_us, since, sizeof(since));
	snprintf(w->reason, sizeof(w->reason), "%lld more requests like the one audited at %s "
		 "came from this account within a minute; counted, not stored one by one",
		 (long long)f->count, since);
	vg_warnx("uid %u (%s): %lld more %s requests refused within a minute", (unsigned)f->uid,
		 f->login, (long long)f->count, f->action);
	f->count = 0;
	return 1;
}

/* Flush every finished minute (all of them if all). */
static void flood_flush(struct vg_control *srv, int all)
{
	int64_t now = mono_us();

	for (;;) {
		struct compact_row w;
		int have = 0;

		pthread_mutex_lock(&srv->flood_lock);
		for (int i = 0; i < CTL_FLOOD_SLOTS && !have; i++) {
			struct flood *f = &srv->flood[i];

			if (f->used && f->count > 0 && (all || now - f->window_us >= CTL_FLOOD_WINDOW_US))
				have = flood_summary(f, &w);
		}
		pthread_mutex_unlock(&srv->flood_lock);
		if (!have)
			return;
		write_compact(srv, &w);
	}
}

/*
 * A refused or malformed request, audited compactly (see above): object
 * and reason are vigild's own words, never the requester's.
 */
static void audit_compact(struct vg_control *srv, uid_t uid, const char *login,
			  const char *action, const char *object, const char *reason)
{
	int64_t now = mono_us();
	struct compact_row w, evicted;
	struct flood *f = NULL, *oldest = NULL;
	int have_evicted = 0;

	flood_flush(srv, 0);
	pthread_mutex_lock(&srv->flood_lock);
	for (int i = 0; i < CTL_FLOOD_SLOTS; i++) {
		struct flood *s = &srv->flood[i];

		if (s->used && s->uid == uid && strcmp(s->action, action) == 0) {
			f = s;
			break;
		}
		if (oldest == NULL || !s->used || (oldest->used && s->window_us < oldest->window_us))
			oldest = s;
	}
	if (f != NULL && now - f->window_us < CTL_FLOOD_WINDOW_US) {
		f->count++;
		pthread_mutex_unlock(&srv->flood_lock);
		return;
	}
	if (f == NULL) {
		f = oldest;
		have_evicted = flood_summary(f, &evicted);
		f->used = 1;
		f->uid = uid;
		snprintf(f->login, sizeof(f->login), "%s", login);
		snprintf(f->action, sizeof(f->action), "%s", action);
	}
	f->count = 0;
	f->window_us = now;
	f->window_utc_us = vg_time_now_us();
	pthread_mutex_unlock(&srv->flood_lock);
	if (have_evicted)
		write_compact(srv, &evicted);
	memset(&w, 0, sizeof(w));
	w.uid = uid;
	snprintf(w.login, sizeof(w.login), "%s", login);
	snprintf(w.action, sizeof(w.action), "%s", action);
	snprintf(w.object, sizeof(w.object), "%s", object);
	w.outcome = "refused";
	snprintf(w.reason, sizeof(w.reason), "%s", reason);
	vg_warnx("refused %s from uid %u (%s): %s%s%s", action, (unsigned)uid, login, reason,
		 object[0] ? ": " : "", object);
	write_compact(srv, &w);
}

/* ---- one request ---- */

static int on_staff_list(const struct vg_config *cfg, const char *login)
{
	for (int i = 0; i < cfg->n_users; i++)
		if (strcmp(cfg->users[i].login, login) == 0)
			return 1;
	return 0;
}

/* Reply {"ok": false, "error": msg} outside a request. */
static void reply_error_fd(int fd, const char *msg)
{
	struct json_object *o = json_object_new_object();
	const char *s;

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (vg_proto_send(fd, VG_FRAME_JSON, s, strlen(s)) < 0)
		vg_debug("could not send a refusal");
	json_object_put(o);
}

#define NONSTAFF_REFUSAL "refused: no account on this box's staff list (being in vigil's " \
	"group lets you reach vigild; the staff list in the configuration decides what you may do)"

/* One request: 0 to keep the connection, negative to close it. */
static int handle(struct conn *c, const char *msg, size_t len)
{
	struct vg_control *srv = c->srv;
	struct req r = { .c = c, .role = "" };
	const char *cmd = NULL;
	enum ctl_decoded d;
	int ret = 0;

	d = ctl_decode(msg, len, &r.in, &cmd);
	r.cfg = srv->env.config_get(srv->env.ud);
	snprintf(r.login, sizeof(r.login), "%s", c->login);
	if (!on_staff_list(r.cfg, r.login)) {
		/* Nothing of a non-staff request is looked at beyond its
		 * command name, and nothing of it is stored. */
		audit_compact(srv, c->uid, r.login,
			      d == CTL_REQ_OK ? command_action(cmd)
			      : d == CTL_REQ_UNKNOWN ? "request.unknown" : "request.malformed",
			      d == CTL_REQ_OK ? "" : ctl_decoded_name(d),
			      "no account on the staff list (its arguments and purpose are not stored)");
		if (d == CTL_REQ_OK && strcmp(cmd, "hello") == 0) {
			/* The client learns it has no role; the login is refused. */
			struct json_object *o = ctl_ok_object();

			json_object_object_add(o, "login", json_object_new_string(r.login));
			json_object_object_add(o, "role", json_object_new_string(""));
			json_object_object_add(o, "protocol", json_object_new_int(VG_PROTO_VERSION));
			ret = ctl_reply(&r, o);
		} else {
			ret = ctl_reply_error(&r, NONSTAFF_REFUSAL);
		}
		if (d != CTL_REQ_OK && d != CTL_REQ_UNKNOWN)
			ret = -VG_EPROTO;
		goto out;
	}
	if (d != CTL_REQ_OK) {
		audit_compact(srv, c->uid, r.login,
			      d == CTL_REQ_UNKNOWN ? "request.unknown" : "request.malformed",
			      ctl_decoded_name(d), "malformed request: not acted on");
		if (d == CTL_REQ_UNKNOWN) {
			ret = ctl_reply_error(&r, "unknown command (is vigilctl newer than vigild?)");
		} else {
			ctl_reply_error(&r, "malformed request: each request is one JSON object with "
					    "a \"cmd\" string; closing the connection");
			ret = -VG_EPROTO;
		}
		goto out;
	}
	if (ctl_text_gate(&r) < 0) {	/* ctl_audit.c: bounded, plain text only */
		ret = 0;
		goto out;
	}
	r.purpose = ctl_arg_str(&r, "purpose");
	r.reference = ctl_arg_str(&r, "reference");
	ret = find_command(cmd)->fn(&r);
out:
	srv->env.config_put(srv->env.ud, r.cfg);
	json_object_put(r.in);
	return ret;
}

/* ---- receiving a frame, with deadlines ---- */

/* Exactly want bytes by deadline_us (monotonic): 0, 1 on EOF before the
 * first byte, -VG_EAGAIN when the deadline passed, -VG_EPROTO on EOF
 * inside, or another negative code. */
static int read_by(int fd, uint8_t *p, size_t want, int64_t deadline_us)
{
	size_t got = 0;

	while (got < want) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int64_t left = deadline_us - mono_us();
		ssize_t n;
		int rc;

		if (left <= 0)
			return -VG_EAGAIN;
		rc = poll(&pf, 1, (int)((left + 999) / 1000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -vg_err_from_errno(errno);
		if (rc == 0)
			continue;	/* the deadline is checked above */
		n = read(fd, p + got, want - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -vg_err_from_errno(errno);
		if (n == 0)
			return got == 0 ? 1 : -VG_EPROTO;
		got += (size_t)n;
	}
	return 0;
}

/*
 * The next request frame: 0 (buf malloc'd, NUL-terminated), 1 on a clean
 * end (EOF, idle too long, evicted or stopping: nothing to audit), or a
 * negative code with *why saying what was wrong with the frame.
 */
static int recv_request(struct conn *c, char **buf, size_t *len, const char **why)
{
	int nonstaff = c->cls == CTL_CLASS_NONSTAFF;
	int64_t idle = (nonstaff ? CTL_IDLE_NONSTAFF_S : CTL_IDLE_S) * VG_US_PER_S;
	enum vg_frame_type type;
	uint8_t h[8];
	uint32_t n;
	char *p;
	int ret;

	*buf = NULL;
	*len = 0;
	*why = NULL;
	ret = read_by(c->fd, h, 1, mono_us() + idle);
	if (ret == 1 || ret == -VG_EAGAIN)
		return 1;
	if (ret < 0)
		return 1;	/* reset by the client, or shut down by us */
	/* Once a frame has begun it must arrive whole, quickly: a client
	 * that stalls inside a frame holds nothing for long. */
	{
		int64_t deadline = mono_us() + CTL_FRAME_S * VG_US_PER_S;

		ret = read_by(c->fd, h + 1, sizeof(h) - 1, deadline);
		if (ret == 0 && vg_proto_header(h, &type, &n, why) < 0)
			return -VG_EPROTO;
		if (ret == 0 && type != VG_FRAME_JSON) {
			*why = "a data frame where a request was due";
			return -VG_EPROTO;
		}
		if (ret == 0 && nonstaff && n > CTL_NONSTAFF_MAX_FRAME) {
			*why = "a frame too large for an account with no staff role";
			return -VG_EPROTO;
		}
		if (ret != 0) {
			*why = ret == -VG_EAGAIN ? "stalled inside a frame header" : "cut off inside "
				"a frame header";
			return -VG_EPROTO;
		}
		p = malloc((size_t)n + 1);
		if (p == NULL)
			return -VG_ENOMEM;
		ret = read_by(c->fd, (uint8_t *)p, n, deadline);
		if (ret != 0) {
			free(p);
			*why = ret == -VG_EAGAIN ? "stalled inside a frame" : "cut off inside a frame";
			return -VG_EPROTO;
		}
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
}

/* ---- connections ---- */

static void conn_end(struct conn *c)
{
	struct vg_control *srv = c->srv;

	pthread_mutex_lock(&srv->lock);
	/* Closed under the lock: the accept thread and the stop shut
	 * connections down by their fd, which must still be this one. */
	close(c->fd);
	c->fd = -1;
	c->active = 0;
	srv->n_active--;
	pthread_cond_broadcast(&srv->idle);
	pthread_mutex_unlock(&srv->lock);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct vg_control *srv = c->srv;

	for (;;) {
		const char *why;
		char *buf;
		size_t len;
		int ret = recv_request(c, &buf, &len, &why);

		if (ret == 1)
			break;
		if (ret < 0) {
			if (why != NULL) {
				char msg[200];

				audit_compact(srv, c->uid, c->login, "request.malformed", why,
					      "malformed frame: connection closed");
				snprintf(msg, sizeof(msg), "malformed frame (%s): closing the "
					 "connection", why);
				reply_error_fd(c->fd, msg);
			}
			break;
		}
		pthread_mutex_lock(&srv->lock);
		if (c->evicted || srv->stopping) {
			pthread_mutex_unlock(&srv->lock);
			free(buf);
			break;
		}
		c->busy = 1;
		c->requests++;
		pthread_mutex_unlock(&srv->lock);
		ret = handle(c, buf, len);
		free(buf);
		pthread_mutex_lock(&srv->lock);
		c->busy = 0;
		c->idle_since_us = mono_us();
		/* Short-lived: a few requests, then the door closes. */
		if (c->cls == CTL_CLASS_NONSTAFF && c->requests >= CTL_NONSTAFF_MAX_REQUESTS)
			ret = -VG_EDENIED;
		pthread_mutex_unlock(&srv->lock);
		if (ret < 0)
			break;
	}
	conn_end(c);
	return NULL;
}

static enum ctl_class class_of(struct vg_control *srv, const char *login)
{
	const struct vg_config *cfg = srv->env.config_get(srv->env.ud);
	enum ctl_class cls = CTL_CLASS_NONSTAFF;

	for (int i = 0; i < cfg->n_users; i++) {
		if (strcmp(cfg->users[i].login, login) != 0)
			continue;
		cls = strcmp(cfg->users[i].role, "dpo") == 0 ||
		      strcmp(cfg->users[i].role, "auditor") == 0 ? CTL_CLASS_OVERSIGHT
								 : CTL_CLASS_STAFF;
	}
	srv->env.config_put(srv->env.ud, cfg);
	return cls;
}

/*
 * May a new connection of class cls from uid have a slot (caller holds
 * the lock)? NULL if yes; else the reason, and in *victim an idle
 * connection whose closing would make room (NULL: none may be closed).
 *
 * The rules (control.h): VG_CONTROL_MAX_PER_UID per uid (one for an
 * account with no staff role), CTL_NONSTAFF_POOL for all such accounts
 * together, and the last CTL_RESERVED_OVERSIGHT slots for the DPO and the
 * auditor. A connection waiting for its next request is idle; to make
 * room, the newcomer may have one closed: its own oldest when it is at
 * its own limit, else the oldest idle one of the uid holding most, among
 * those it outranks or equals (no staff < staff < DPO/auditor).
 */
static const char *admit(struct vg_control *srv, uid_t uid, enum ctl_class cls,
			 struct conn **victim)
{
	int total = 0, mine = 0, nonstaff = 0, per_uid[VG_CONTROL_MAX_CONN] = { 0 };
	int limit_uid = cls == CTL_CLASS_NONSTAFF ? 1 : VG_CONTROL_MAX_PER_UID;
	int limit_all = cls == CTL_CLASS_OVERSIGHT ? VG_CONTROL_MAX_CONN
						   : VG_CONTROL_MAX_CONN - CTL_RESERVED_OVERSIGHT;
	const char *why = NULL;
	int own = 0;

	*victim = NULL;
	for (int i = 0; i < VG_CONTROL_MAX_CONN; i++) {
		struct conn *c = &srv->conns[i];

		if (!c->active || c->evicted)
			continue;
		total++;
		mine += c->uid == uid;
		nonstaff += c->cls == CTL_CLASS_NONSTAFF;
		for (int j = 0; j < VG_CONTROL_MAX_CONN; j++)
			if (srv->conns[j].active && !srv->conns[j].evicted &&
			    srv->conns[j].uid == c->uid)
				per_uid[i]++;
	}
	if (mine >= limit_uid) {
		why = "your account already has as many connections to vigild as it may";
		own = 1;
	} else if (cls == CTL_CLASS_NONSTAFF && nonstaff >= CTL_NONSTAFF_POOL) {
		why = "vigild is serving as many accounts with no staff role as it will";
	} else if (total >= limit_all) {
		why = "every connection vigild keeps for your role is in use";
	} else {
		return NULL;
	}
	for (int i = 0; i < VG_CONTROL_MAX_CONN; i++) {
		struct conn *c = &srv->conns[i];
		struct conn *v = *victim;

		if (!c->active || c->evicted || c->busy)
			continue;
		if (own ? c->uid != uid : (c->cls > cls || (cls == CTL_CLASS_NONSTAFF &&
							     c->cls != CTL_CLASS_NONSTAFF)))
			continue;
		if (v == NULL || per_uid[i] > per_uid[v - srv->conns] ||
		    (per_uid[i] == per_uid[v - srv->conns] && c->idle_since_us < v->idle_since_us))
			*victim = c;
	}
	return why;
}

/* Say why before closing: vigilctl prints it (never blocks vigild). The
 * refusal is audited compactly, so a flood of connections is a count. */
static void refuse(struct vg_control *srv, int fd, uid_t uid, const char *login,
		   const char *why)
{
	char msg[400];
	struct json_object *o = json_object_new_object();
	const char *s;

	snprintf(msg, sizeof(msg), "vigild is busy: %s; try again in a minute (see "
		 "vigilctl(8), CONNECTIONS)", why);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "busy", json_object_new_boolean(1));
	json_object_object_add(o, "error", json_object_new_string(msg));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	{
		uint8_t frame[8 + 512];
		size_t n = strlen(s);

		if (n <= sizeof(frame) - 8) {
			frame[0] = VG_PROTO_VERSION;
			frame[1] = VG_FRAME_JSON;
			frame[2] = frame[3] = 0;
			frame[4] = (uint8_t)(n >> 24);
			frame[5] = (uint8_t)(n >> 16);
			frame[6] = (uint8_t)(n >> 8);
			frame[7] = (uint8_t)n;
			memcpy(frame + 8, s, n);
			if (send(fd, frame, 8 + n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				vg_debug("could not tell uid %u why", (unsigned)uid);
		}
	}
	json_object_put(o);
	close(fd);
	audit_compact(srv, uid, login, "connection.refused", why,
		      "busy: no connection slot for this account's class");
}

static void accept_one(struct vg_control *srv)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct timeval tv = { .tv_sec = CTL_SEND_S };
	struct conn *slot = NULL, *victim = NULL;
	enum ctl_class cls;
	char login[64];
	const char *why;
	pthread_attr_t attr;
	pthread_t t;
	int fd;

	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		close(fd);
		return;
	}
	/* A reader that takes no reply for this long is dropped: a send
	 * never blocks a worker for ever. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	login_of(cred.uid, login, sizeof(login));
	cls = class_of(srv, login);
	pthread_mutex_lock(&srv->lock);
	why = admit(srv, cred.uid, cls, &victim);
	if (why != NULL && victim != NULL) {
		/* Make room: the idle connection goes (its worker sees the
		 * shutdown at once), and the newcomer waits for the slot. */
		int64_t until = mono_us() + CTL_EVICT_WAIT_MS * 1000;

		vg_info("closing an idle connection of uid %u (%s) to make room for uid %u (%s)",
			(unsigned)victim->uid, victim->login, (unsigned)cred.uid, login);
		victim->evicted = 1;
		shutdown(victim->fd, SHUT_RDWR);
		while (victim->active && mono_us() < until) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&srv->idle, &srv->lock, &ts);
		}
		why = admit(srv, cred.uid, cls, &victim);
	}
	for (int i = 0; why == NULL && i < VG_CONTROL_MAX_CONN && slot == NULL; i++)
		if (!srv->conns[i].active)
			slot = &srv->conns[i];
	if (slot == NULL) {
		pthread_mutex_unlock(&srv->lock);
		refuse(srv, fd, cred.uid, login, why ? why : "no free connection slot");
		return;
	}
	memset(slot, 0, sizeof(*slot));
	slot->srv = srv;
	slot->fd = fd;
	slot->uid = cred.uid;
	slot->pid = cred.pid;
	slot->cls = cls;
	slot->idle_since_us = mono_us();
	snprintf(slot->login, sizeof(slot->login), "%s", login);
	slot->active = 1;
	srv->n_active++;
	pthread_mutex_unlock(&srv->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, conn_main, slot) != 0)
		conn_end(slot);
	pthread_attr_destroy(&attr);
}

static void *accept_main(void *arg)
{
	struct vg_control *srv = arg;
	struct pollfd p[2] = {
		{ .fd = srv->listen_fd, .events = POLLIN },
		{ .fd = srv->wake[0], .events = POLLIN },
	};

	for (;;) {
		/* Wake once a minute at least: counted floods get their row. */
		int rc = poll(p, 2, CTL_FLOOD_WINDOW_US / 1000);

		if (rc < 0 && errno != EINTR)
			break;
		if (rc <= 0) {
			flood_flush(srv, 0);
			continue;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN)
			accept_one(srv);
	}
	return NULL;
}

/* Refuse to start twice: a socket that answers belongs to a live vigild. */
static int socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

int vg_control_start(struct vg_control **out, const char *path, const struct vg_control_env *env)
{
	struct sockaddr_un sa;
	struct vg_control *srv;
	pthread_condattr_t ca;
	mode_t old;
	int ret;

	*out = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		vg_errx("control socket path %s is too long", path);
		return -VG_EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (socket_in_use(&sa)) {
		vg_errx("another vigild is already running (it answers on %s)", path);
		return -VG_EEXIST;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return -VG_ENOMEM;
	srv->env = *env;
	srv->path = strdup(path);
	srv->wake[0] = srv->wake[1] = -1;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->flood_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&srv->idle, &ca);
	pthread_condattr_destroy(&ca);
	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv->listen_fd < 0 || srv->path == NULL || pipe2(srv->wake, O_CLOEXEC) < 0)
		goto fail;
	unlink(path);	/* stale, from a crash: nobody answered */
	/* Owner and group only: staff reach vigild by being in its group, and
	 * every request is then checked against their uid. */
	old = umask(0117);
	ret = bind(srv->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0 || listen(srv->listen_fd, 16) < 0) {
		vg_err("cannot listen on %s", path);
		goto fail;
	}
	if (pthread_create(&srv->accept_thread, NULL, accept_main, srv) != 0)
		goto fail;
	vg_info("control socket %s ready", path);
	*out = srv;
	return 0;
fail:
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->wake[0] >= 0) {
		close(srv->wake[0]);
		close(srv->wake[1]);
	}
	free(srv->path);
	free(srv);
	return -VG_EIO;
}

int vg_control_stop(struct vg_control *srv)
{
	struct timespec until;
	int left;

	if (srv == NULL)
		return 0;
	if (write(srv->wake[1], "x", 1) < 0)
		vg_warn("cannot wake the control thread");
	pthread_join(srv->accept_thread, NULL);
	close(srv->listen_fd);
	unlink(srv->path);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += VG_CONTROL_STOP_S;
	pthread_mutex_lock(&srv->lock);
	srv->stopping = 1;
	/* Every blocked read and write on a client socket returns now; a
	 * handler in the middle of its work finishes it (its replies fail). */
	for (int i = 0; i < VG_CONTROL_MAX_CONN; i++)
		if (srv->conns[i].active)
			shutdown(srv->conns[i].fd, SHUT_RDWR);
	while (srv->n_active > 0)
		if (pthread_cond_timedwait(&srv->idle, &srv->lock, &until) == ETIMEDOUT)
			break;
	left = srv->n_active;
	for (int i = 0; left > 0 && i < VG_CONTROL_MAX_CONN; i++)
		if (srv->conns[i].active)
			vg_errx("a request by uid %u (%s) did not end within %d s of the stop: "
				"abandoned, vigild stops without it", (unsigned)srv->conns[i].uid,
				srv->conns[i].login, VG_CONTROL_STOP_S);
	pthread_mutex_unlock(&srv->lock);
	flood_flush(srv, 1);
	if (left > 0)
		return left;	/* srv stays: the stuck workers still point at it */
	close(srv->wake[0]);
	close(srv->wake[1]);
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->flood_lock);
	pthread_cond_destroy(&srv->idle);
	free(srv->path);
	free(srv);
	return 0;
}
