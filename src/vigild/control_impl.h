/*
 * control_impl.h - what the control server's command files share
 * (control.c, ctl_hold.c, ctl_export.c). Private to vigild.
 *
 * Every command handler follows the same order: read its arguments with
 * ctl_arg_*, describe the object, call ctl_authorise() (which asks the
 * policy, writes the audit row and, on a refusal, sends the reply), and
 * only then act and reply with ctl_reply(). Handlers return 0 to keep the
 * connection, a negative VG_E* code to close it.
 */
#ifndef VIGIL_CONTROL_IMPL_H
#define VIGIL_CONTROL_IMPL_H

#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "vigil/control.h"
#include "vigil/policy.h"

struct vg_control;

/* Who a connection belongs to, for the connection limits (control.h):
 * the DPO and the auditor have slots the others cannot take; an account
 * in vigil's group but not on the staff list gets one short-lived
 * connection and small frames. */
enum ctl_class { CTL_CLASS_NONSTAFF, CTL_CLASS_STAFF, CTL_CLASS_OVERSIGHT };

struct conn {
	struct vg_control *srv;
	int fd;			/* the client's socket: DATA frames go here */
	uid_t uid;		/* from SO_PEERCRED */
	pid_t pid;
	int active;
	/* Under the server's lock: */
	enum ctl_class cls;	/* at accept time */
	int busy;		/* in a handler: never evicted */
	int evicted;		/* closed to make room for another client */
	int64_t idle_since_us;	/* monotonic: waiting for a request since */
	int requests;		/* handled on this connection */
	char login[64];		/* the uid's Unix login, or "uid:N" */
};

/* Everything one request needs while it is being handled. */
struct req {
	struct conn *c;
	const struct vg_config *cfg;	/* a reference held for the request */
	struct json_object *in;		/* the request object (borrowed) */
	char login[64];			/* the caller's Unix login */
	const char *role;		/* "" when the caller has no account */
	const char *purpose, *reference;
};

/* The daemon's shared handles (catalog, audit, keys, data dir). */
const struct vg_control_env *ctl_env(struct req *r);

/* Reply with o (consumed). */
int ctl_reply(struct req *r, struct json_object *o);
/* Reply {"ok": false, "error": msg}. */
int ctl_reply_error(struct req *r, const char *msg);
/* A new {"ok": true} object to add fields to. */
struct json_object *ctl_ok_object(void);

/* A string / integer argument of the request; NULL / def if absent or of
 * another type. */
const char *ctl_arg_str(struct req *r, const char *key);
int64_t ctl_arg_int(struct req *r, const char *key, int64_t def);

/* Progress of a long job (export, burn) for the client: DATA frames of
 * {"done","total","elapsed_us"}, at most four a second and always the last.
 * ctl_progress_start before the job; ctl_progress_send is the job's
 * progress callback (ud = the struct). Once a send fails (the client went
 * away) the rest are dropped; the job goes on and is audited. */
struct ctl_progress {
	int fd;
	int broken;
	int64_t last_us, start_us;
};
void ctl_progress_start(struct ctl_progress *p, struct req *r);
void ctl_progress_send(uint64_t done, uint64_t total, void *ud);

/* Write an audit row for this request; negative if it could not be
 * written (the handler must then not act). */
int ctl_audit(struct req *r, const char *action, const char *object, int allowed,
	      const char *reason);
/* The same with the outcome in words: "allowed", "refused", or "failed"
 * (an allowed action that could not be completed; audit-format.md). */
int ctl_audit_outcome(struct req *r, const char *action, const char *object,
		      const char *outcome, const char *reason);

/* "camera=C clip=ID clip_id=HEX start=T": how audit rows name a clip. */
void ctl_clip_object(const struct vg_clip *c, char *buf, size_t len);

/* A clip failed authentication while being read for this request (view,
 * export): an "integrity.failure" audit row naming the clip (row id and
 * clip id) and the chunk (-1: its key or header), an ALARM log line, and
 * the status alarm (integrity_failures, integrity_last). */
void ctl_integrity_failure(struct req *r, const struct vg_clip *c, int64_t chunk);

/* Ask the policy; audit the answer; on a refusal send it and return
 * -VG_EDENIED (the handler then returns 0). */
int ctl_authorise(struct req *r, enum vg_action action, const char *object);
/* The policy's answer alone (1 allowed, 0 not), r->role set, no audit row:
 * for handlers that may still refuse for a reason of their own, so that a
 * refused request leaves one "refused" row, not "allowed" then "refused". */
int ctl_policy_allows(struct req *r, enum vg_action action);

/* Send footage to the client as DATA frames (split at VG_PROTO_MAX); the
 * handler ends the stream with an END frame. */
int ctl_send_data(struct req *r, const uint8_t *data, size_t len);

/* "camera=C from=T to=T" for the request's camera/from_us/to_us. */
void ctl_range_object(struct req *r, char *buf, size_t len);

/* The staff account of the caller, NULL if none. */
const struct vg_user *ctl_user(struct req *r);

/* What a request frame holds, before anyone acts on it. */
enum ctl_decoded {
	CTL_REQ_OK = 0,		/* an object with a known "cmd" */
	CTL_REQ_BAD_JSON,	/* not JSON, a NUL inside, trailing bytes, bad
				 * UTF-8 or nested deeper than CTL_MAX_DEPTH */
	CTL_REQ_NOT_OBJECT,	/* JSON, but not an object */
	CTL_REQ_NO_CMD,		/* no "cmd" */
	CTL_REQ_CMD_TYPE,	/* "cmd" is not a string */
	CTL_REQ_UNKNOWN,	/* "cmd" names no command */
};
#define CTL_MAX_DEPTH 16

/* Decode the len bytes of a request frame (msg[len] is a NUL). *out gets
 * the object (the caller puts it) when the result is CTL_REQ_OK, or
 * NULL; *cmd (may be NULL) points into *out. Pure: no I/O, no audit (the
 * fuzz harness tests/fuzz/fuzz_request.c drives it). */
enum ctl_decoded ctl_decode(const char *msg, size_t len, struct json_object **out,
			    const char **cmd);
/* "bad JSON", "not an object", ... for the audit row. */
const char *ctl_decoded_name(enum ctl_decoded d);

/* Command handlers living in other files. */
int ctl_cmd_hold_place(struct req *r);
int ctl_cmd_holds(struct req *r);
int ctl_cmd_hold_release(struct req *r);
int ctl_cmd_hold_approve(struct req *r);
int ctl_cmd_retention_accept_clock(struct req *r);
int ctl_cmd_export(struct req *r);
int ctl_cmd_export_approve(struct req *r);
int ctl_cmd_export_withdraw(struct req *r);
int ctl_cmd_export_burn(struct req *r);
int ctl_cmd_disclosures(struct req *r);
int ctl_cmd_report(struct req *r);	/* ctl_report.c */
int ctl_cmd_audit_show(struct req *r);	/* ctl_audit.c */
int ctl_cmd_audit_verify(struct req *r);
int ctl_cmd_audit_acknowledge(struct req *r);
int ctl_cmd_key_show(struct req *r);
/* While the audit log is broken (vg_audit_broken), turn an allowed footage
 * decision into a refusal, except the DPO's read-only ones (ctl_audit.c). */
void ctl_audit_gate(struct req *r, enum vg_action action, struct vg_policy_decision *d);
/* Every string of the request against textfield.h's rules, before anything
 * reads it; a refusal is audited ("request.refused", a short form of the
 * value) and sent, and -VG_EDENIED returned (ctl_audit.c). */
int ctl_text_gate(struct req *r);

#endif
