/*
 * ctl_export.c - the control server's disclosure commands: "export",
 * "export.approve" and "disclosures" (see control_impl.h for the order
 * every handler keeps: arguments, object, ctl_authorise(), act, reply).
 *
 * The access policy (policy.h) says who may export at all; the disclosure
 * rules of policy 3.9 and 3.10 are applied here on top of it:
 *   - recipients are police, prosecutor, legal, media or data-subject;
 *     anybody else (a resident, a neighbour) is refused (3.10);
 *   - media only with the police's decision that the footage is needed to
 *     identify someone, and the victim's wishes recorded (3.9);
 *   - data-subject only for an agreed subject access request (DSAR-
 *     reference) entered by the data protection officer (3.10);
 *   - media and data-subject exports wait for a second person with export
 *     rights (a different login) to approve them: "export.approve ID".
 * Every decision, allowed or refused, is an audit row whose action starts
 * "export"; those rows are the disclosure log ("disclosures").
 *
 * A request waiting for approval is a row of the catalog (schema 3,
 * vg_catalog_export_request_*), so it outlives a restart of vigild; the
 * catalog takes it atomically, so two approvers cannot both run it. The
 * request waiting is audited ("export.pending") as well.
 *
 * The export itself runs in this connection's thread inside vigild (it
 * needs the master key), sending small JSON progress lines as DATA frames
 * before the one JSON reply. It writes only through descriptors the
 * requester's vigilctl made with the requester's own rights (ctl_dest.h):
 * the export folder DEST/REF.incomplete, or for an image the image file(s)
 * and a staging folder beside them; vigilctl renames them when told the
 * export is good. A request that names a path without passing descriptors
 * is refused, and so is a descriptor of vigild's own folders.
 */
#define VG_LOG_MODULE "CTL"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vigil/catalog.h"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/export.h"
#include "vigil/log.h"
#include "vigil/policy.h"
#include "vigil/proto.h"
#include "vigil/timeutil.h"
#include "control_impl.h"
#include "ctl_dest.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.1.0"
#endif

#define MAX_EXPORT_CAMERAS 32
#define MAX_REDACTIONS 64
#define SELF_APPROVAL "refused: the person who asked for an export cannot approve it; a " \
	"second person with export rights must (policy 3.9, 3.10)"

/* The arguments of one export request, borrowed from its JSON object. */
struct export_args {
	struct vg_export_camera cams[MAX_EXPORT_CAMERAS];
	int n_cams;
	int64_t from_us, to_us;
	const char *recipient, *organisation, *reason;
	const char *police_decision, *victim_wishes;
	const char *dest, *iso;
	struct vg_export_rect rects[MAX_REDACTIONS];
	int n_rects;
	int force;
	int64_t disc_bytes;	/* image exports: disc capacity; 0 = a DVD */
};

static const char *const recipients[] = { "police", "prosecutor", "legal", "media",
					  "data-subject" };

/* ---- reading the request ---- */

static const char *jstr(struct json_object *in, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(in, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t jint(struct json_object *in, const char *key, int64_t def)
{
	struct json_object *v;

	if (!json_object_object_get_ex(in, key, &v) || !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

static int empty(const char *s)
{
	return s == NULL || s[0] == '\0';
}

static int same_camera(const char *camera, void *ud)
{
	return strcmp(camera, (const char *)ud) == 0;
}

/* 1 if the catalog holds clips of camera. A camera taken out of the
 * configuration keeps its footage until retention ends, and that footage
 * may be exactly what the police ask for. */
static int has_footage(struct vg_catalog *cat, const char *camera)
{
	return cat != NULL && vg_catalog_cameras(cat, same_camera, (void *)camera) == 1;
}

/* Fill a from the request; a sentence in why and -VG_EINVAL if malformed. */
static int parse_args(struct json_object *in, const struct vg_config *cfg, struct vg_catalog *cat,
		      struct export_args *a, char *why, size_t whylen)
{
	struct json_object *arr;

	memset(a, 0, sizeof(*a));
	if (json_object_object_get_ex(in, "cameras", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		size_t n = json_object_array_length(arr);

		if (n > MAX_EXPORT_CAMERAS) {
			snprintf(why, whylen, "at most %d cameras per export", MAX_EXPORT_CAMERAS);
			return -VG_EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			struct json_object *v = json_object_array_get_idx(arr, i);
			const char *name = json_object_get_string(v);
			const struct vg_camera_config *cc;

			if (!json_object_is_type(v, json_type_string) || empty(name) ||
			    strlen(name) > VG_CAMERA_NAME_MAX) {
				snprintf(why, whylen, "a camera name is empty or too long");
				return -VG_EINVAL;
			}
			cc = vg_config_camera(cfg, name);
			if (cc == NULL && !has_footage(cat, name)) {
				snprintf(why, whylen, "there is no camera '%s' in the configuration "
					 "and no footage of it (vigilctl cameras lists them)", name);
				return -VG_EINVAL;
			}
			/* Named twice is asked once: a file listed twice would
			 * make an export its own verifier rejects. */
			for (int k = 0; k < a->n_cams && name; k++)
				if (strcmp(a->cams[k].name, name) == 0)
					name = NULL;
			if (name == NULL)
				continue;
			a->cams[a->n_cams].name = name;
			a->cams[a->n_cams].purpose = cc ? cc->purpose : NULL;
			a->n_cams++;
		}
	}
	if (a->n_cams == 0) {
		snprintf(why, whylen, "name the camera(s) to export with --camera");
		return -VG_EINVAL;
	}
	a->from_us = jint(in, "from_us", 0);
	a->to_us = jint(in, "to_us", 0);
	if (a->from_us <= 0 || a->to_us <= a->from_us) {
		snprintf(why, whylen, "give the time range to export with --from and --to "
				      "(--to later than --from)");
		return -VG_EINVAL;
	}
	a->recipient = jstr(in, "recipient");
	a->organisation = jstr(in, "organisation");
	a->reason = jstr(in, "reason");
	if (empty(a->reason))
		a->reason = jstr(in, "purpose");
	a->police_decision = jstr(in, "police_decision");
	a->victim_wishes = jstr(in, "victim_wishes");
	a->dest = jstr(in, "dest");
	a->iso = jstr(in, "iso");
	a->force = jint(in, "force", 0) != 0;
	a->disc_bytes = jint(in, "disc_bytes", 0);
	if (a->disc_bytes != 0 && (a->disc_bytes < 100000 || a->disc_bytes > INT64_C(1000000000000))) {
		snprintf(why, whylen, "--disc-size must be between 100K and 1000G");
		return -VG_EINVAL;
	}
	if (empty(a->dest) == empty(a->iso)) {
		snprintf(why, whylen, "give exactly one of --dest DIR (a USB stick) and --iso FILE "
				      "(a DVD image)");
		return -VG_EINVAL;
	}
	if ((!empty(a->dest) && a->dest[0] != '/') || (!empty(a->iso) && a->iso[0] != '/')) {
		snprintf(why, whylen, "the destination must be an absolute path");
		return -VG_EINVAL;
	}
	if (json_object_object_get_ex(in, "redactions", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		size_t n = json_object_array_length(arr);

		if (n > MAX_REDACTIONS) {
			snprintf(why, whylen, "at most %d --redact regions", MAX_REDACTIONS);
			return -VG_EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_object_array_get_idx(arr, i);
			struct vg_export_rect *rc = &a->rects[a->n_rects];
			/* Range-checked as 64-bit numbers before they become ints:
			 * 2^32 + 5 must not turn into 5. */
			int64_t v[4] = { jint(o, "x", -1), jint(o, "y", -1), jint(o, "w", 0),
					 jint(o, "h", 0) };
			int ok = 1;

			for (int k = 0; k < 4; k++)
				if (v[k] < (k < 2 ? 0 : 1) || v[k] > VG_EXPORT_PIXELS_MAX)
					ok = 0;
			rc->x = ok ? (int)v[0] : 0;
			rc->y = ok ? (int)v[1] : 0;
			rc->w = ok ? (int)v[2] : 0;
			rc->h = ok ? (int)v[3] : 0;
			rc->from_us = jint(o, "from_us", 0);
			rc->to_us = jint(o, "to_us", 0);
			if (!ok || !vg_export_rect_sane(rc)) {
				snprintf(why, whylen, "a --redact region is malformed; write it "
						      "x,y,w,h[@from-to] in pixels, each at most %d",
					 VG_EXPORT_PIXELS_MAX);
				return -VG_EINVAL;
			}
			a->n_rects++;
		}
	}
	return 0;
}

/* The size of camera's picture as recorded in [from, to): the first clip
 * that says; else the configured size. 0 if neither is known. */
struct picture {
	int w, h;
};

static int clip_size(const struct vg_clip *c, void *ud)
{
	struct picture *p = ud;

	if (c->width > 0 && c->height > 0) {
		p->w = c->width;
		p->h = c->height;
		return 1;
	}
	return 0;
}

/* Every redaction must blank part of every exported camera's picture:
 * one outside it would blank nothing while the manifest says a region was
 * blanked (policy 3.10: the third parties it hides go to the data
 * subject). Checked before a request is accepted or queued for approval;
 * -VG_EINVAL with the sentence if not. */
static int check_redactions(struct req *r, const struct export_args *a, char *why, size_t len)
{
	for (int i = 0; i < a->n_cams && a->n_rects > 0; i++) {
		const struct vg_camera_config *cc = vg_config_camera(r->cfg, a->cams[i].name);
		struct picture p = { 0, 0 };

		vg_catalog_clips(ctl_env(r)->cat, a->cams[i].name, a->from_us, a->to_us, clip_size,
				 &p);
		if ((p.w <= 0 || p.h <= 0) && cc) {
			p.w = cc->width;
			p.h = cc->height;
		}
		for (int k = 0; k < a->n_rects; k++) {
			const struct vg_export_rect *rc = &a->rects[k];

			if (!vg_export_rect_in_picture(rc, p.w, p.h)) {
				snprintf(why, len, "--redact %d,%d,%d,%d lies outside camera %s's "
					 "picture (%dx%d pixels): it would blank nothing. Give x "
					 "below %d and y below %d", rc->x, rc->y, rc->w, rc->h,
					 a->cams[i].name, p.w, p.h, p.w, p.h);
				return -VG_EINVAL;
			}
		}
	}
	return 0;
}

/* "camera=a camera=b from=T to=T recipient=R organisation="O"" */
static void describe(const struct export_args *a, const char *dest_note, char *buf, size_t len)
{
	char from[40], to[40];
	size_t k = 0;

	buf[0] = '\0';
	for (int i = 0; i < a->n_cams && k < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "camera=%s ", a->cams[i].name);
	vg_time_format(a->from_us, from, sizeof(from));
	vg_time_format(a->to_us, to, sizeof(to));
	if (k < len)
		k += (size_t)snprintf(buf + k, len - k, "from=%s to=%s recipient=%s", from, to,
				      empty(a->recipient) ? "(none)" : a->recipient);
	if (k < len && !empty(a->organisation))
		k += (size_t)snprintf(buf + k, len - k, " organisation=\"%s\"", a->organisation);
	if (k < len && a->n_rects > 0)
		k += (size_t)snprintf(buf + k, len - k, " redactions=%d", a->n_rects);
	if (k < len && dest_note && dest_note[0])
		snprintf(buf + k, len - k, " %s", dest_note);
}

/* ---- the disclosure rules ---- */

static int needs_second_person(const char *recipient)
{
	return strcmp(recipient, "media") == 0 || strcmp(recipient, "data-subject") == 0;
}

/* 0 if the request may go ahead, else -VG_EDENIED with the sentence. */
static int disclosure_rules(struct req *r, const struct export_args *a, char *why, size_t len)
{
	const char *kind = vg_policy_reference_kind(r->reference);
	int known = 0;

	for (size_t i = 0; !empty(a->recipient) && i < sizeof(recipients) / sizeof(recipients[0]);
	     i++)
		if (strcmp(a->recipient, recipients[i]) == 0)
			known = 1;
	if (!known) {
		snprintf(why, len, "refused: '%s' is not a lawful recipient of footage; exports go "
				   "only to the police, a prosecutor, a legal representative, the "
				   "media (through the police) or the data subject of an agreed "
				   "subject access request. Residents and other third parties may "
				   "not receive footage (policy 3.10)",
			 empty(a->recipient) ? "(none)" : a->recipient);
		return -VG_EDENIED;
	}
	if (strcmp(a->recipient, "data-subject") != 0 && empty(a->organisation)) {
		snprintf(why, len, "refused: name the receiving organisation with --organisation "
				   "(policy 3.9: every disclosure is logged with its recipient)");
		return -VG_EDENIED;
	}
	if (strcmp(a->recipient, "media") == 0 &&
	    (empty(a->police_decision) || empty(a->victim_wishes))) {
		snprintf(why, len, "refused: footage goes to the media only through the police, "
				   "with their decision that it is needed to identify someone "
				   "(--police-decision REF) and the victim's wishes recorded "
				   "(--victim-wishes \"...\") (policy 3.9)");
		return -VG_EDENIED;
	}
	if (strcmp(a->recipient, "data-subject") == 0 &&
	    (kind == NULL || strcmp(kind, "DSAR") != 0 || strcmp(r->role, "dpo") != 0)) {
		snprintf(why, len, "refused: footage goes to a data subject only for an agreed "
				   "subject access request (a DSAR- reference) entered by the data "
				   "protection officer; %s is %s with reference '%s' (policy 3.10)",
			 r->login, r->role[0] ? r->role : "not a staff member",
			 empty(r->reference) ? "" : r->reference);
		return -VG_EDENIED;
	}
	if (a->n_rects > 0 && strcmp(a->recipient, "data-subject") != 0 &&
	    strcmp(a->recipient, "media") != 0) {
		snprintf(why, len, "refused: the police, prosecutors and legal representatives "
				   "receive the original recording; redaction (--redact) is for "
				   "subject access requests and the media");
		return -VG_EDENIED;
	}
	return 0;
}

/* ---- progress and the export itself ---- */

/* The exporter counts every byte twice, written and then read back; the
 * user is shown the export's own size ("of 200.5 MB", not 401 MB). */
static void export_progress(uint64_t done, uint64_t total, void *ud)
{
	ctl_progress_send(done / 2, total / 2, ud);
}

/* The start of the earliest clip still being written in the range, so
 * that the export stops there: an open clip is not finished on disk. */
static int open_clip(const struct vg_clip *c, void *ud)
{
	int64_t *to = ud;

	if (c->state == VG_CLIP_RECORDING && c->start_us < *to)
		*to = c->start_us;
	return 0;
}

static int64_t end_before_open_clips(const struct vg_control_env *env,
				     const struct export_args *a)
{
	int64_t to = a->to_us;

	for (int i = 0; i < a->n_cams; i++)
		vg_catalog_clips(env->cat, a->cams[i].name, a->from_us, a->to_us, open_clip, &to);
	return to;
}

/* The descriptors of one export's destination (ctl_dest.h). */
struct dest {
	int fds[2 + VG_EXPORT_MAX_DISCS];
	int n;
};

static void dest_close(struct dest *d)
{
	for (int i = 0; i < d->n; i++)
		close(d->fds[i]);
	d->n = 0;
}

/* Have the requester's vigilctl make the destination with the requester's
 * rights, check what it handed over and fill q's descriptors. 0, or
 * negative with the sentence (-VG_EDENIED: a refusal). */
static int get_dest(struct req *r, const struct export_args *a, const struct vg_export_ctx *ctx,
		    struct vg_export_request *q, struct dest *d, char *why, size_t len)
{
	struct json_object *need = json_object_new_object();
	char ref[VG_EXPORT_REF_MAX], name[VG_EXPORT_REF_MAX + 16];
	int n = 1, ret, rem;

	d->n = 0;
	vg_export_folder_name(q->reference, ref);
	if (!empty(a->dest)) {
		snprintf(name, sizeof(name), "%s.incomplete", ref);
		json_object_object_add(need, "need", json_object_new_string("folder"));
		json_object_object_add(need, "dest", json_object_new_string(a->dest));
		json_object_object_add(need, "name", json_object_new_string(name));
		ret = ctl_dest_ask(r, need, d->fds, 1, why, len);
		if (ret < 0)
			return ret;
		d->n = 1;
		ret = ctl_dest_folder(r, d->fds[0], 1, a->dest, why, len);
		q->folder_fd = d->fds[0];
	} else {
		struct json_object *imgs = json_object_new_array();
		char staging[600];

		n = vg_export_images_needed(ctx, q, why, len);
		if (n < 1) {
			json_object_put(imgs);
			json_object_put(need);
			return n < 0 ? n : -VG_EINVAL;
		}
		snprintf(staging, sizeof(staging), "%s.staging", ctl_dest_base(a->iso));
		for (int k = 1; k <= n; k++) {
			char p[1100], b[1200];

			vg_export_disc_path(a->iso, k, n, p, sizeof(p));
			snprintf(b, sizeof(b), "%s.incomplete", ctl_dest_base(p));
			json_object_array_add(imgs, json_object_new_string(b));
		}
		json_object_object_add(need, "need", json_object_new_string("iso"));
		json_object_object_add(need, "iso", json_object_new_string(a->iso));
		json_object_object_add(need, "staging", json_object_new_string(staging));
		json_object_object_add(need, "images", imgs);
		ret = ctl_dest_ask(r, need, d->fds, 2 + n, why, len);
		if (ret < 0)
			return ret;
		d->n = 2 + n;
		ret = ctl_dest_folder(r, d->fds[0], 0, a->iso, why, len);
		if (ret == 0)
			ret = ctl_dest_folder(r, d->fds[1], 1, staging, why, len);
		if (ret == 0 && ctl_dest_named(d->fds[0], staging, d->fds[1]) < 0) {
			snprintf(why, len, "refused: the staging folder is not beside the image");
			ret = -VG_EINVAL;
		}
		for (int k = 1; k <= n && ret == 0; k++) {
			char p[1100], b[1200];

			vg_export_disc_path(a->iso, k, n, p, sizeof(p));
			snprintf(b, sizeof(b), "%s.incomplete", ctl_dest_base(p));
			ret = ctl_dest_new_file(r, d->fds[0], b, d->fds[1 + k], p, why, len);
		}
		q->staging_fd = d->fds[1];
		q->image_fds = d->fds + 2;
		q->n_images = n;
	}
	if (ret == 0 && !a->force) {
		const char *target = !empty(a->dest) ? a->dest : a->iso;

		rem = vg_export_fd_is_removable(d->fds[0]);
		if (rem <= 0) {
			snprintf(why, len, "refused: %s is not on a removable medium (USB stick or "
					   "SD card); exports go onto removable media. Add --force "
					   "to write there anyway (it is recorded in the audit log)",
				 target);
			ret = -VG_EDENIED;
		}
	}
	if (ret < 0) {
		dest_close(d);
		return ret == -VG_EDENIED || ret == -VG_EPERM || ret == -VG_EINVAL ||
		       ret == -VG_EEXIST ? -VG_EDENIED : ret;
	}
	q->given = 1;
	return 0;
}

/* Run a decided export and reply. requester is who asked (the caller, or
 * for an approval the first person); r is the connection that runs it. */
/* Take waiting request id (mark it approved) so that nobody approves it
 * twice; the catalog decides which of two approvers gets it. 1 if taken;
 * else 0 with the refusal audited and sent (*ret: the reply's code). */
static int take_request(struct req *r, int64_t id, const char *object, int *ret)
{
	int t = vg_catalog_export_request_take(ctl_env(r)->cat, id, r->login, vg_time_now_us(),
						NULL, NULL);

	if (t == -VG_ENOENT) {
		ctl_audit(r, "export.approve", object, 0, "refused: already approved by someone "
							  "else");
		*ret = ctl_reply_error(r, "that export request was approved by someone else "
					  "meanwhile");
		return 0;
	}
	if (t < 0) {
		vg_warnx("cannot record the approval of export request %lld: %s", (long long)id,
			 vg_strerror(t));
		ctl_audit(r, "export.approve", object, 0, "refused: the approval could not be "
							  "recorded in the catalog");
		*ret = ctl_reply_error(r, "vigild could not record the approval in its catalog; "
					  "nothing was exported and the request is still waiting");
		return 0;
	}
	ctl_audit(r, "export.approve", object, 1, "allowed: approved by a second person "
						  "(policy 3.9, 3.10)");
	return 1;
}

/* Run a decided export and reply. For an approval (take_id > 0), the
 * waiting request is taken only once the approver's vigilctl has made the
 * destination: an approver who may not write there leaves it waiting. */
static int run_export(struct req *r, const struct export_args *a, const char *requester,
		      const char *approver, int64_t take_id, const char *take_object)
{
	const struct vg_control_env *env = ctl_env(r);
	const struct vg_user *u = NULL;
	char recipient[320], reason[600], object[2048], note[1400], devid[32], clock[96];
	char fpr[VG_SIGN_FPR_HEX_LEN] = "";
	struct ctl_progress prog;
	struct vg_export_ctx ctx = {
		.cat = env->cat, .data_dir = env->data_dir, .master = env->master,
		.key = env->device_key, .audit = env->audit, .progress = export_progress,
		.progress_ud = &prog,
	};
	struct vg_export_request q;
	struct vg_export_result *res;
	struct json_object *o;
	struct dest dest = { .n = 0 };
	int ret;

	res = calloc(1, sizeof(*res));
	if (res == NULL)
		return ctl_reply_error(r, "vigild is out of memory");
	for (int i = 0; i < r->cfg->n_users; i++)
		if (strcmp(r->cfg->users[i].login, requester) == 0)
			u = &r->cfg->users[i];
	/* The manifest names the organisation with the category. */
	if (empty(a->organisation))
		snprintf(recipient, sizeof(recipient), "%s", a->recipient);
	else
		snprintf(recipient, sizeof(recipient), "%s: %s", a->recipient, a->organisation);
	if (approver)
		snprintf(reason, sizeof(reason), "%s (approved by %s)", a->reason ? a->reason : "",
			 approver);
	else
		snprintf(reason, sizeof(reason), "%s", a->reason ? a->reason : "");
	/* No device id in the config: the device key identifies the box. */
	vg_sign_fingerprint(env->device_key, fpr);
	snprintf(devid, sizeof(devid), "vigil-%.16s", fpr);
	memset(&q, 0, sizeof(q));
	q.cameras = a->cams;
	q.n_cameras = a->n_cams;
	q.from_us = a->from_us;
	/* "--to now" reaches into the clip being recorded: stop before it
	 * (the manifest gives the delivered range). */
	q.to_us = end_before_open_clips(env, a);
	if (q.to_us <= q.from_us) {
		describe(a, "", object, sizeof(object));
		ctl_audit_outcome(r, "export.failed", object, "failed",
				  "failed: the requested time is still being recorded");
		free(res);
		return ctl_reply_error(r, "export failed: the requested time is still being "
					  "recorded; try again when the current clip is closed");
	}
	q.recipient = recipient;
	q.reference = r->reference;
	q.reason = reason;
	q.exporter_login = requester;
	q.exporter_name = u ? u->name : NULL;
	q.police_decision = a->police_decision;
	q.victim_wishes = a->victim_wishes;
	q.dest_dir = empty(a->dest) ? NULL : a->dest;
	q.iso_path = empty(a->iso) ? NULL : a->iso;
	q.disc_bytes = a->disc_bytes;
	q.redactions = a->n_rects ? a->rects : NULL;
	q.n_redactions = a->n_rects;
	q.device_id = devid;
	q.firmware_version = "vigil " VIGIL_VERSION;
	q.site_name = r->cfg->has_site ? r->cfg->site.name : NULL;
	{
		int64_t esterr = 0;

		/* The box's clock now; each clip's own state is in its audit row
		 * (chain-of-custody.json). */
		if (vg_clock_synced(&esterr))
			snprintf(clock, sizeof(clock), "synchronised at export (estimated error "
				 "%lld us)", (long long)esterr);
		else
			snprintf(clock, sizeof(clock), "NOT synchronised at export");
		q.clock_sync = clock;
	}
	{
		char why[700];

		ret = get_dest(r, a, &ctx, &q, &dest, why, sizeof(why));
		if (ret < 0) {
			char msg[800];

			snprintf(note, sizeof(note), "%s=%s%s", empty(a->dest) ? "iso" : "dest",
				 empty(a->dest) ? a->iso : a->dest,
				 approver ? " requested_by=" : "");
			if (approver)
				snprintf(note + strlen(note), sizeof(note) - strlen(note), "%s",
					 requester);
			describe(a, note, object, sizeof(object));
			if (strncmp(why, "refused: ", 9) == 0 || ret == -VG_EDENIED)
				snprintf(msg, sizeof(msg), "%s%s", strncmp(why, "refused: ", 9) == 0
					 ? "" : "refused: ", why);
			else
				snprintf(msg, sizeof(msg), "export failed: %s", why);
			vg_info("export by %s: %s", r->login, msg);
			ctl_audit(r, ret == -VG_EDENIED ? "export" : "export.failed", object, 0, msg);
			free(res);
			return ctl_reply_error(r, msg);
		}
	}
	if (take_id > 0 && !take_request(r, take_id, take_object, &ret)) {
		dest_close(&dest);
		free(res);
		return ret;
	}
	vg_info("export for %s (%s) by %s%s%s starting", recipient, r->reference, requester,
		approver ? ", approved by " : "", approver ? approver : "");
	ctl_progress_start(&prog, r);
	ret = vg_export_run(&ctx, &q, res);
	dest_close(&dest);
	if (ret == 0) {
		if (res->discs > 1)
			snprintf(note, sizeof(note), "images=%s (disc 1 of %d) files=%d bytes=%llu "
				 "manifest_sha256=%s (disc 1; each disc's is in its own audit "
				 "row)%s%s%s", res->path, res->discs, res->files,
				 (unsigned long long)res->bytes, res->manifest_sha256,
				 approver ? " requested_by=" : "", approver ? requester : "",
				 a->force ? " forced" : "");
		else
			snprintf(note, sizeof(note), "folder=%s files=%d bytes=%llu "
				 "manifest_sha256=%s%s%s%s", res->path, res->files,
				 (unsigned long long)res->bytes, res->manifest_sha256,
				 approver ? " requested_by=" : "", approver ? requester : "",
				 a->force ? " forced" : "");
		describe(a, note, object, sizeof(object));
		ctl_audit(r, "export.done", object, 1, "disclosed: the export was written, read "
						       "back and verified");
		/* One row per further disc, so each manifest is on the record. */
		for (int k = 2; k <= res->discs; k++) {
			char p[1100], n2[1400];

			vg_export_disc_path(q.iso_path, k, res->discs, p, sizeof(p));
			snprintf(n2, sizeof(n2), "image=%s (disc %d of %d) manifest_sha256=%s", p, k,
				 res->discs, res->disc_manifest_sha256[k - 1]);
			describe(a, n2, object, sizeof(object));
			ctl_audit(r, "export.disc", object, 1, "disclosed: one disc of a split export");
		}
		o = ctl_ok_object();
		json_object_object_add(o, "path", json_object_new_string(res->path));
		if (res->discs > 0) {
			struct json_object *imgs = json_object_new_array();

			for (int k = 1; k <= res->discs; k++) {
				char p[1100];

				vg_export_disc_path(q.iso_path, k, res->discs, p, sizeof(p));
				json_object_array_add(imgs, json_object_new_string(p));
			}
			json_object_object_add(o, "images", imgs);
		}
		json_object_object_add(o, "files", json_object_new_int(res->files));
		json_object_object_add(o, "gaps", json_object_new_int(res->runs_gaps));
		json_object_object_add(o, "bytes", json_object_new_int64((int64_t)res->bytes));
		json_object_object_add(o, "delivered_from_us",
				       json_object_new_int64(res->delivered_from_us));
		json_object_object_add(o, "delivered_to_us",
				       json_object_new_int64(res->delivered_to_us));
		json_object_object_add(o, "manifest_sha256",
				       json_object_new_string(res->manifest_sha256));
		json_object_object_add(o, "device_key_fingerprint", json_object_new_string(fpr));
		json_object_object_add(o, "write_seconds", json_object_new_double(res->write_seconds));
		json_object_object_add(o, "readback_seconds",
				       json_object_new_double(res->readback_seconds));
		ret = ctl_reply(r, o);
	} else {
		char msg[400];

		snprintf(note, sizeof(note), "left=%s%s%s", res->path[0] ? res->path : "(nothing)",
			 approver ? " requested_by=" : "", approver ? requester : "");
		describe(a, note, object, sizeof(object));
		snprintf(msg, sizeof(msg), "export failed: %s", res->why[0] ? res->why
									 : vg_strerror(ret));
		if (ret == -VG_EAUTH && res->bad_clip > 0) {
			struct vg_clip bad;

			if (vg_catalog_clip_get(ctl_env(r)->cat, res->bad_clip, &bad) == 0)
				ctl_integrity_failure(r, &bad, res->bad_chunk);
			vg_wipe(&bad, sizeof(bad));
		}
		ctl_audit_outcome(r, "export.failed", object, "failed", msg);
		ret = ctl_reply_error(r, msg);
	}
	free(res);
	return ret;
}

/* ---- commands ---- */

/* Store the request, as sent, in the catalog for a second person; fills
 * *id. Durable when it returns: it survives a restart of vigild. */
static int pending_add(struct req *r, int64_t *id)
{
	const char *s = json_object_to_json_string_ext(r->in, JSON_C_TO_STRING_PLAIN);

	if (s == NULL)
		return -VG_ENOMEM;
	return vg_catalog_export_request_add(ctl_env(r)->cat, r->login, s, vg_time_now_us(), id);
}

int ctl_cmd_export(struct req *r)
{
	struct export_args a;
	char why[700], object[2048], dest_note[1100];
	int ret, bad;

	bad = parse_args(r->in, r->cfg, ctl_env(r)->cat, &a, why, sizeof(why));
	if (bad == 0)
		bad = check_redactions(r, &a, why, sizeof(why));
	if (bad < 0) {
		/* Describe what we can: the refusal is still a row. */
		a.recipient = ctl_arg_str(r, "recipient");
		snprintf(object, sizeof(object), "recipient=%s",
			 empty(a.recipient) ? "(none)" : a.recipient);
	} else {
		snprintf(dest_note, sizeof(dest_note), "%s=%s%s", empty(a.dest) ? "iso" : "dest",
			 empty(a.dest) ? a.iso : a.dest, a.force ? " force" : "");
		describe(&a, dest_note, object, sizeof(object));
	}
	/* A request the role allows but the request itself or the disclosure
	 * rules refuse leaves one "refused" row; ctl_authorise writes the
	 * "allowed" row only once everything has been checked. */
	if (ctl_policy_allows(r, VG_ACT_EXPORT) && bad < 0) {
		char msg[800];

		snprintf(msg, sizeof(msg), "refused: %s", why);
		ctl_audit(r, "export", object, 0, msg);
		return ctl_reply_error(r, msg);
	}
	if (!ctl_dest_passes_fds(r)) {
		ctl_audit(r, "export", object, 0, CTL_DEST_RAW_PATH);
		return ctl_reply_error(r, CTL_DEST_RAW_PATH);
	}
	if (ctl_policy_allows(r, VG_ACT_EXPORT) && disclosure_rules(r, &a, why, sizeof(why)) < 0) {
		vg_info("refused export for %s by %s: %s", a.recipient ? a.recipient : "(none)",
			r->login, why);
		ctl_audit(r, "export", object, 0, why);
		return ctl_reply_error(r, why);
	}
	if (ctl_authorise(r, VG_ACT_EXPORT, object) < 0)
		return 0;
	if (needs_second_person(a.recipient)) {
		struct json_object *o;
		int64_t id = 0;
		char msg[300];

		ret = pending_add(r, &id);
		if (ret < 0) {
			vg_warnx("cannot store the export request by %s for approval: %s",
				 r->login, vg_strerror(ret));
			snprintf(msg, sizeof(msg), "refused: vigild could not store the request "
				 "for a second person's approval in its catalog (%s); nothing "
				 "is waiting and nothing was exported. Ask again, and tell the "
				 "installer if this keeps happening", vg_strerror(ret));
			ctl_audit(r, "export", object, 0, msg);
			return ctl_reply_error(r, msg);
		}
		snprintf(msg, sizeof(msg), "awaiting approval by a second person (request %lld)",
			 (long long)id);
		ctl_audit(r, "export.pending", object, 1, msg);
		o = ctl_ok_object();
		json_object_object_add(o, "pending", json_object_new_int64(id));
		json_object_object_add(o, "message", json_object_new_string(msg));
		return ctl_reply(r, o);
	}
	return run_export(r, &a, r->login, NULL, 0, NULL);
}

int ctl_cmd_export_approve(struct req *r)
{
	int64_t id = ctl_arg_int(r, "id", 0);
	struct vg_catalog *cat = ctl_env(r)->cat;
	struct json_object *in = NULL;
	struct export_args a;
	char requester[VG_CATALOG_LOGIN_LEN] = "", object[2048], why[700];
	const char *own_purpose = r->purpose, *own_reference = r->reference;
	char *json = NULL;
	int ret = 0, bad, found;

	found = id > 0 ? vg_catalog_export_request_get(cat, id, &json, requester) : -VG_ENOENT;
	if (found == 0)
		in = json_tokener_parse(json);
	free(json);
	if (found < 0 || in == NULL) {
		const struct vg_user *u = ctl_user(r);
		int lost = found < 0 && found != -VG_ENOENT;

		/* Nothing to authorise against (no reference): just refuse. */
		json_object_put(in);
		r->role = u ? u->role : "";
		snprintf(object, sizeof(object), "approve request=%lld", (long long)id);
		ctl_audit(r, "export.approve", object, 0, lost ?
			  "refused: the waiting requests could not be read from the catalog" :
			  "refused: no export request with that number is waiting");
		return ctl_reply_error(r, lost ? "vigild could not read the waiting export "
					  "requests from its catalog; nothing was approved" :
					  "no export request with that number is waiting for "
					  "approval");
	}
	/* The approver is checked against the request's own purpose and
	 * reference: that is what they are approving. */
	r->purpose = jstr(in, "purpose");
	r->reference = jstr(in, "reference");
	bad = parse_args(in, r->cfg, ctl_env(r)->cat, &a, why, sizeof(why));
	if (bad == 0)
		bad = check_redactions(r, &a, why, sizeof(why));
	if (bad < 0) {
		snprintf(object, sizeof(object), "approve request=%lld", (long long)id);
	} else {
		char note[128];

		snprintf(note, sizeof(note), "approve request=%lld requested_by=%s", (long long)id,
			 requester);
		describe(&a, note, object, sizeof(object));
	}
	if (ctl_authorise(r, VG_ACT_EXPORT, object) < 0)
		goto out;
	if (strcmp(requester, r->login) == 0) {
		ctl_audit(r, "export.approve", object, 0, SELF_APPROVAL);
		ret = ctl_reply_error(r, SELF_APPROVAL);
		goto out;
	}
	if (!ctl_dest_passes_fds(r)) {
		ctl_audit(r, "export.approve", object, 0, CTL_DEST_RAW_PATH);
		ret = ctl_reply_error(r, CTL_DEST_RAW_PATH);
		goto out;
	}
	if (bad < 0) {	/* checked when stored; the config may have changed since */
		ctl_audit(r, "export.approve", object, 0, why);
		ret = ctl_reply_error(r, why);
		goto out;
	}
	ret = run_export(r, &a, requester, r->login, id, object);
out:
	r->purpose = own_purpose;
	r->reference = own_reference;
	json_object_put(in);
	return ret;
}

/*
 * "export.withdraw": take back a request still waiting for approval (it is
 * then never exported). The requester may, and so may the data protection
 * officer; a reason is required. Audited as export.withdraw.
 */
int ctl_cmd_export_withdraw(struct req *r)
{
	int64_t id = ctl_arg_int(r, "id", 0);
	const char *reason = ctl_arg_str(r, "reason");
	struct vg_catalog *cat = ctl_env(r)->cat;
	const char *own_purpose = r->purpose, *own_reference = r->reference;
	struct json_object *in = NULL;
	char requester[VG_CATALOG_LOGIN_LEN] = "", object[300], msg[300];
	char *json = NULL;
	int ret = 0, found;

	found = id > 0 ? vg_catalog_export_request_get(cat, id, &json, requester) : -VG_ENOENT;
	if (found == 0)
		in = json_tokener_parse(json);
	free(json);
	snprintf(object, sizeof(object), "withdraw request=%lld requested_by=%s", (long long)id,
		 requester[0] ? requester : "(none)");
	if (found < 0 || in == NULL) {
		const struct vg_user *u = ctl_user(r);

		json_object_put(in);
		r->role = u ? u->role : "";
		ctl_audit(r, "export.withdraw", object, 0,
			  "refused: no export request with that number is waiting");
		return ctl_reply_error(r, "no export request with that number is waiting for "
					  "approval");
	}
	/* Authorised against the request's own purpose and reference. */
	r->purpose = jstr(in, "purpose");
	r->reference = jstr(in, "reference");
	if (ctl_authorise(r, VG_ACT_EXPORT, object) < 0)
		goto out;
	if (strcmp(r->login, requester) != 0 && strcmp(r->role, "dpo") != 0) {
		snprintf(msg, sizeof(msg), "refused: only %s, who asked for it, or the data "
			 "protection officer may withdraw export request %lld", requester,
			 (long long)id);
		ctl_audit(r, "export.withdraw", object, 0, msg);
		ret = ctl_reply_error(r, msg);
		goto out;
	}
	if (empty(reason)) {
		ctl_audit(r, "export.withdraw", object, 0, "refused: no reason given");
		ret = ctl_reply_error(r, "say why the request is withdrawn (--reason)");
		goto out;
	}
	ret = vg_catalog_export_request_withdraw(cat, id, r->login, vg_time_now_us());
	if (ret < 0) {
		ctl_audit(r, "export.withdraw", object, 0, ret == -VG_ENOENT ?
			  "refused: it was approved or withdrawn a moment ago" :
			  "failed: the catalog could not record it");
		ret = ctl_reply_error(r, ret == -VG_ENOENT ? "that request was approved or "
				      "withdrawn a moment ago" : "vigild could not record the "
				      "withdrawal in its catalog; the request still waits");
		goto out;
	}
	snprintf(msg, sizeof(msg), "withdrawn: %s", reason);
	ctl_audit(r, "export.withdraw", object, 1, msg);
	ret = ctl_reply(r, ctl_ok_object());
out:
	json_object_put(in);
	r->purpose = own_purpose;
	r->reference = own_reference;
	return ret;
}

/* ---- the disclosure log ---- */

struct rows {
	struct json_object *arr;
};

static int add_row(const struct vg_audit_entry *e, void *ud)
{
	struct rows *l = ud;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "seq", json_object_new_int64(e->seq));
	json_object_object_add(o, "time_us", json_object_new_int64(e->time_us));
	json_object_object_add(o, "login", json_object_new_string(e->login));
	json_object_object_add(o, "role", json_object_new_string(e->role));
	json_object_object_add(o, "action", json_object_new_string(e->action));
	json_object_object_add(o, "object", json_object_new_string(e->object));
	json_object_object_add(o, "purpose", json_object_new_string(e->purpose));
	json_object_object_add(o, "reference", json_object_new_string(e->reference));
	json_object_object_add(o, "outcome", json_object_new_string(e->outcome));
	json_object_object_add(o, "reason", json_object_new_string(e->reason));
	json_object_array_add(l->arr, o);
	return 0;
}

/* One export request waiting for a second person, for "disclosures". */
static int add_waiting(int64_t id, const char *requester, int64_t created_us, void *ud)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "id", json_object_new_int64(id));
	json_object_object_add(e, "requester", json_object_new_string(requester));
	json_object_object_add(e, "time_us", json_object_new_int64(created_us));
	json_object_array_add(ud, e);
	return 0;
}

int ctl_cmd_disclosures(struct req *r)
{
	/* "export" also matches export.pending, .approve, .done, .failed. */
	struct vg_audit_filter f = {
		.since_us = ctl_arg_int(r, "since_us", 0), .until_us = ctl_arg_int(r, "until_us", 0),
		.action = "export",
	};
	struct rows l;
	struct json_object *o, *p;
	int ret;

	if (ctl_authorise(r, VG_ACT_DISCLOSURE_LIST, "disclosure log") < 0)
		return 0;
	l.arr = json_object_new_array();
	ret = vg_audit_query(ctl_env(r)->audit, &f, add_row, &l);
	if (ret < 0) {
		json_object_put(l.arr);
		return ctl_reply_error(r, "cannot read the audit log");
	}
	o = ctl_ok_object();
	json_object_object_add(o, "rows", l.arr);
	p = json_object_new_array();
	ret = vg_catalog_export_requests_waiting(ctl_env(r)->cat, add_waiting, p);
	if (ret < 0) {
		json_object_put(p);
		json_object_put(o);
		return ctl_reply_error(r, "cannot read the waiting export requests from the "
					  "catalog");
	}
	json_object_object_add(o, "pending", p);
	return ctl_reply(r, o);
}
