/*
 * ctl_audit.c - the audit log requests of the control socket: audit.show
 * (streamed), audit.verify (with the collector's copy, optionally),
 * audit.acknowledge (a broken log, DPO), key.show (the device public key
 * verifiers need), and the gate that closes footage while the log is
 * broken, and the check of every request's free text (textfield.h).
 * Reading the log is itself authorised and audited.
 */
#define VG_LOG_MODULE "CTL"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vigil/audit.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/proto.h"
#include "vigil/sign.h"
#include "vigil/textfield.h"
#include "control_impl.h"

#define SHOW_PAGE_ROWS 1000	/* rows per query: the audit lock is held per page */

/* ---- audit.show: pages of rows as DATA frames ---- */

struct page {
	char *buf;
	size_t len, cap;
	int json, oom;
	int64_t rows, last_seq;
};

static void page_put(struct page *p, const char *s, size_t n)
{
	if (p->oom)
		return;
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 65536;
		char *nb;

		while (cap < p->len + n + 1)
			cap *= 2;
		nb = realloc(p->buf, cap);
		if (nb == NULL) {
			p->oom = 1;
			return;
		}
		p->buf = nb;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
}

static int add_audit_row(const struct vg_audit_entry *e, void *ud)
{
	struct page *p = ud;

	p->last_seq = e->seq;
	if (!p->json) {
		char line[2048], *big = NULL;
		size_t n = vg_audit_format_line(e, line, sizeof(line));

		if (n >= sizeof(line)) {	/* the whole row, however long */
			big = malloc(n + 1);
			if (big == NULL) {
				p->oom = 1;
				return 1;
			}
			vg_audit_format_line(e, big, n + 1);
		}
		page_put(p, big ? big : line, n);
		page_put(p, "\n", 1);
		free(big);
	} else {
		struct json_object *o = json_object_new_object();
		const char *s;

		json_object_object_add(o, "seq", json_object_new_int64(e->seq));
		json_object_object_add(o, "time_us", json_object_new_int64(e->time_us));
		json_object_object_add(o, "uid", json_object_new_int64(e->uid));
		json_object_object_add(o, "login", json_object_new_string(e->login));
		json_object_object_add(o, "role", json_object_new_string(e->role));
		json_object_object_add(o, "action", json_object_new_string(e->action));
		json_object_object_add(o, "object", json_object_new_string(e->object));
		json_object_object_add(o, "purpose", json_object_new_string(e->purpose));
		json_object_object_add(o, "reference", json_object_new_string(e->reference));
		json_object_object_add(o, "outcome", json_object_new_string(e->outcome));
		json_object_object_add(o, "reason", json_object_new_string(e->reason));
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		page_put(p, p->rows ? ",\n" : "[\n", 2);
		page_put(p, s, strlen(s));
		json_object_put(o);
	}
	p->rows++;
	return p->oom;
}

/* The reply {"ok": true}, then the rows in pages (text lines, or one JSON
 * array for --json) as DATA frames, then END {"ok", "rows"}. Each page is
 * read under the audit lock and sent after it is released, so a slow
 * reader never holds up the writers; there is no size limit. */
int ctl_cmd_audit_show(struct req *r)
{
	struct vg_audit_filter f = {
		.since_us = ctl_arg_int(r, "since_us", 0), .until_us = ctl_arg_int(r, "until_us", 0),
		.login = ctl_arg_str(r, "user"), .camera = ctl_arg_str(r, "camera"),
		.action = ctl_arg_str(r, "action"), .limit = SHOW_PAGE_ROWS,
	};
	struct page p = { .json = ctl_arg_int(r, "json", 0) != 0 };
	char end[128];
	int ret = 0, q;

	if (ctl_authorise(r, VG_ACT_AUDIT_READ, "audit log") < 0)
		return 0;
	ret = ctl_reply(r, ctl_ok_object());
	while (ret == 0) {
		int64_t before = p.rows;

		p.len = 0;
		q = vg_audit_query(ctl_env(r)->audit, &f, add_audit_row, &p);
		if (q < 0 || p.oom) {
			ret = q < 0 ? q : -VG_ENOMEM;
			break;
		}
		if (p.rows == before)
			break;
		f.after_seq = p.last_seq;
		ret = ctl_send_data(r, (const uint8_t *)p.buf, p.len);
	}
	if (ret == 0 && p.json) {
		const char *close = p.rows ? "\n]\n" : "[]\n";

		ret = ctl_send_data(r, (const uint8_t *)close, strlen(close));
	}
	free(p.buf);
	if (ret < 0 && ret != -VG_ENOMEM && ret != -VG_EDB)
		return ret;	/* the reader went away */
	snprintf(end, sizeof(end), "{\"ok\":%s,\"rows\":%" PRId64 "%s}", ret == 0 ? "true" : "false",
		 p.rows, ret == 0 ? "" : ",\"error\":\"the audit log could not be read to the end\"");
	ret = vg_proto_send(r->c->fd, VG_FRAME_END, end, strlen(end));
	return ret < 0 ? ret : 0;
}

/* ---- audit.verify ---- */

static int hexbytes(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	size_t len = s ? strlen(s) : 0;

	if (len % 2 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

/* The "witness" array of the request: [{"seq","time_us","hash","sig"}]. */
static int witness_arg(struct req *r, struct vg_audit_checkpoint **out, size_t *n)
{
	struct json_object *arr;
	size_t len;

	*out = NULL;
	*n = 0;
	if (!json_object_object_get_ex(r->in, "witness", &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return -VG_EINVAL;
	len = json_object_array_length(arr);
	*out = calloc(len ? len : 1, sizeof(**out));
	if (*out == NULL)
		return -VG_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i), *v;
		struct vg_audit_checkpoint *c = &(*out)[i];
		size_t hl;

		if (!json_object_is_type(e, json_type_object))
			return -VG_EINVAL;
		c->seq = json_object_object_get_ex(e, "seq", &v) ? json_object_get_int64(v) : -1;
		c->time_us = json_object_object_get_ex(e, "time_us", &v) ? json_object_get_int64(v) : 0;
		if (c->seq < 0 || !json_object_object_get_ex(e, "hash", &v) ||
		    hexbytes(json_object_get_string(v), c->hash, sizeof(c->hash), &hl) < 0 ||
		    hl != VG_AUDIT_HASH_LEN || !json_object_object_get_ex(e, "sig", &v) ||
		    hexbytes(json_object_get_string(v), c->sig, sizeof(c->sig), &c->sig_len) < 0)
			return -VG_EINVAL;
	}
	*n = len;
	return 0;
}

int ctl_cmd_audit_verify(struct req *r)
{
	struct vg_audit_problem prob, wprob;
	struct vg_audit_stats st;
	struct vg_audit_checkpoint *w = NULL;
	struct json_object *o;
	size_t nw = 0;
	int ret = 0, wret = 0, chain = ctl_arg_int(r, "chain", 1) != 0;

	if (ctl_authorise(r, VG_ACT_AUDIT_READ, "audit verify") < 0)
		return 0;
	if (witness_arg(r, &w, &nw) < 0) {
		free(w);
		return ctl_reply_error(r, "the witness entries are malformed (each needs seq, "
				       "time_us, hash and sig in hex)");
	}
	memset(&prob, 0, sizeof(prob));
	memset(&wprob, 0, sizeof(wprob));
	memset(&st, 0, sizeof(st));
	if (chain)
		ret = vg_audit_verify(ctl_env(r)->audit, NULL, &prob, &st);
	if (nw > 0)
		wret = vg_audit_check_witness(ctl_env(r)->audit, NULL, w, nw, &wprob);
	free(w);
	o = ctl_ok_object();
	json_object_object_add(o, "intact", json_object_new_boolean(ret == 0 && wret == 0));
	json_object_object_add(o, "rows", json_object_new_int64(st.rows));
	json_object_object_add(o, "checkpoints", json_object_new_int64(st.checkpoints));
	json_object_object_add(o, "acknowledged_breaks",
			       json_object_new_int64(st.acknowledged_breaks));
	json_object_object_add(o, "witness_checked", json_object_new_int64((int64_t)nw));
	if (ret != 0) {
		json_object_object_add(o, "bad_seq", json_object_new_int64(prob.seq));
		json_object_object_add(o, "problem",
				       json_object_new_string(prob.msg[0] ? prob.msg : vg_strerror(ret)));
	}
	if (wret != 0) {
		json_object_object_add(o, "witness_bad_seq", json_object_new_int64(wprob.seq));
		json_object_object_add(o, "witness_problem", json_object_new_string(
					       wprob.msg[0] ? wprob.msg : vg_strerror(wret)));
	}
	return ctl_reply(r, o);
}

/* ---- a broken log: the gate and the acknowledgement ---- */

void ctl_audit_gate(struct req *r, enum vg_action action, struct vg_policy_decision *d)
{
	struct vg_audit_break b;

	if (!d->allowed || !vg_action_is_footage(action) || !vg_audit_broken(ctl_env(r)->audit, &b))
		return;
	if (d->role == VG_ROLE_DPO && (action == VG_ACT_CLIP_LIST || action == VG_ACT_CLIP_VIEW))
		return;	/* read-only, for the one who answers for it */
	d->allowed = 0;
	snprintf(d->reason, sizeof(d->reason), "refused: the audit log was found broken at start "
		 "(first bad row %" PRId64 ", see vigilctl status); footage stays closed, except "
		 "the data protection officer's viewing, until the DPO runs 'vigilctl audit "
		 "acknowledge'", b.first_bad_seq);
}

int ctl_cmd_audit_acknowledge(struct req *r)
{
	struct vg_audit_break b;
	struct vg_audit_checkpoint cp;
	struct json_object *o;
	char object[300];
	int ret;

	if (!vg_audit_broken(ctl_env(r)->audit, &b)) {
		if (ctl_authorise(r, VG_ACT_AUDIT_ACK, "audit log (not broken)") < 0)
			return 0;
		return ctl_reply_error(r, "the audit log is not broken: there is nothing to "
				       "acknowledge");
	}
	snprintf(object, sizeof(object), "audit log first_bad_row=%" PRId64 " broken_row=%" PRId64,
		 b.first_bad_seq, b.row_seq);
	if (ctl_authorise(r, VG_ACT_AUDIT_ACK, object) < 0)
		return 0;
	{
		struct vg_audit_entry who = {
			.uid = (int64_t)r->c->uid, .login = r->login, .role = r->role,
			.purpose = r->purpose ? r->purpose : "",
			.reference = r->reference ? r->reference : "",
		};

		ret = vg_audit_acknowledge(ctl_env(r)->audit, &who, &cp);
	}
	if (ret < 0) {
		vg_errx("the acknowledgement of the broken audit log by %s failed: %s", r->login,
			vg_strerror(ret));
		return ctl_reply_error(r, "the acknowledgement could not be written and signed; "
				       "footage stays closed (see vigild's log)");
	}
	vg_warnx("the broken audit log (first bad row %" PRId64 ") was acknowledged by %s; "
		 "evidence kept in %s; footage operations open again", b.first_bad_seq, r->login,
		 b.evidence);
	o = ctl_ok_object();
	json_object_object_add(o, "first_bad_row", json_object_new_int64(b.first_bad_seq));
	json_object_object_add(o, "evidence", json_object_new_string(b.evidence));
	json_object_object_add(o, "checkpoint_seq", json_object_new_int64(cp.seq));
	return ctl_reply(r, o);
}

/* ---- key.show: what verifiers of checkpoints and exports need ---- */

int ctl_cmd_key_show(struct req *r)
{
	char pem[VG_SIGN_PEM_MAX], fpr[VG_SIGN_FPR_HEX_LEN];
	const struct vg_user *u = ctl_user(r);
	struct json_object *o;

	if (u != NULL)
		r->role = u->role;
	if (ctl_audit(r, "key.show", "device public key", u != NULL,
		      u ? "staff account: the public key is for verifiers" :
		      "refused: no staff account") < 0)
		return ctl_reply_error(r, "refused: the audit log cannot be written");
	if (u == NULL)
		return ctl_reply_error(r, "refused: you have no staff account on this box");
	if (vg_sign_pubkey_pem(ctl_env(r)->device_key, pem, sizeof(pem)) < 0 ||
	    vg_sign_fingerprint(ctl_env(r)->device_key, fpr) < 0)
		return ctl_reply_error(r, "cannot export the device public key");
	o = ctl_ok_object();
	json_object_object_add(o, "pem", json_object_new_string(pem));
	json_object_object_add(o, "fingerprint", json_object_new_string(fpr));
	return ctl_reply(r, o);
}

/* ---- free text in requests (textfield.h) ---- */

/* The first string of v (a string, or an array of them) that breaks the
 * rules for field: 1 and why/excerpt filled, else 0. */
static int bad_text(const char *field, struct json_object *v, char *why, size_t whylen,
		    char *excerpt, size_t exlen, size_t *len)
{
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);

		*len = (size_t)json_object_get_string_len(v);
		if (vg_textfield_check(field, s, *len, why, whylen) == 0)
			return 0;
		vg_textfield_excerpt(s, *len, excerpt, exlen);
		return 1;
	}
	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (bad_text(field, json_object_array_get_idx(v, i), why, whylen, excerpt,
				     exlen, len))
				return 1;
	}
	return 0;
}

int ctl_text_gate(struct req *r)
{
	char why[300], excerpt[4 * VG_TEXT_EXCERPT + 8], name[4 * VG_TEXT_EXCERPT + 8];
	char object[400];
	size_t len = 0;

	json_object_object_foreach(r->in, key, val) {
		vg_textfield_excerpt(key, strlen(key), name, sizeof(name));
		if (strcmp(name, key) != 0) {	/* a field name is text too */
			snprintf(why, sizeof(why), "refused: a request field name is not plain "
				 "text; is vigilctl damaged?");
			excerpt[0] = '\0';
		} else if (!bad_text(key, val, why, sizeof(why), excerpt, sizeof(excerpt), &len)) {
			continue;
		}
		/* The refusal is audited, with a short safe form of the value,
		 * not the value: the log keeps only what passes the rules. */
		snprintf(object, sizeof(object), "field=%s value=\"%s\" (%zu bytes)", name,
			 excerpt, len);
		ctl_audit(r, "request.refused", object, 0, why);
		vg_info("refused a request from %s (uid %d): %s", r->login, (int)r->c->uid, why);
		ctl_reply_error(r, why);
		return -VG_EDENIED;
	}
	return 0;
}
