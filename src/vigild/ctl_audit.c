/*
 * ctl_audit.c - the audit log requests of the control socket (audit.show,
 * audit.verify): reading the log is itself authorised and audited.
 */
#define VG_LOG_MODULE "CTL"

#include <string.h>

#include <json-c/json.h>

#include "vigil/audit.h"
#include "vigil/err.h"
#include "control_impl.h"

struct audit_rows {
	struct json_object *arr;
	int json;
};

static int add_audit_row(const struct vg_audit_entry *e, void *ud)
{
	struct audit_rows *a = ud;
	struct json_object *o = json_object_new_object();
	char line[2048];

	if (!a->json) {
		vg_audit_format_line(e, line, sizeof(line));
		json_object_array_add(a->arr, json_object_new_string(line));
		json_object_put(o);
		return 0;
	}
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
	json_object_array_add(a->arr, o);
	return 0;
}

int ctl_cmd_audit_show(struct req *r)
{
	struct vg_audit_filter f = {
		.since_us = ctl_arg_int(r, "since_us", 0), .until_us = ctl_arg_int(r, "until_us", 0),
		.login = ctl_arg_str(r, "user"), .camera = ctl_arg_str(r, "camera"),
		.action = ctl_arg_str(r, "action"),
	};
	struct audit_rows a = { .json = (int)ctl_arg_int(r, "json", 0) };
	struct json_object *o;

	if (ctl_authorise(r, VG_ACT_AUDIT_READ, "audit log") < 0)
		return 0;
	o = ctl_ok_object();
	a.arr = json_object_new_array();
	vg_audit_query(ctl_env(r)->audit, &f, add_audit_row, &a);
	json_object_object_add(o, "rows", a.arr);
	return ctl_reply(r, o);
}

int ctl_cmd_audit_verify(struct req *r)
{
	struct vg_audit_problem prob;
	struct vg_audit_stats st;
	struct json_object *o;
	int ret;

	if (ctl_authorise(r, VG_ACT_AUDIT_READ, "audit verify") < 0)
		return 0;
	memset(&prob, 0, sizeof(prob));
	memset(&st, 0, sizeof(st));
	ret = vg_audit_verify(ctl_env(r)->audit, NULL, &prob, &st);
	o = ctl_ok_object();
	json_object_object_add(o, "intact", json_object_new_boolean(ret == 0));
	json_object_object_add(o, "rows", json_object_new_int64(st.rows));
	json_object_object_add(o, "checkpoints", json_object_new_int64(st.checkpoints));
	if (ret != 0) {
		json_object_object_add(o, "bad_seq", json_object_new_int64(prob.seq));
		json_object_object_add(o, "problem",
				       json_object_new_string(prob.msg[0] ? prob.msg : vg_strerror(ret)));
	}
	return ctl_reply(r, o);
}
