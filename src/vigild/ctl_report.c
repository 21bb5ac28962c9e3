/*
 * ctl_report.c - the control socket's "report" command: the review report
 * (report.h) for the data protection officer and the auditor.
 *
 *   report   from_us, to_us
 *
 * Authorised and audited like any request (the policy's "report"). vigild
 * signs an audit checkpoint first, so the report names a signed state of
 * the chain its figures come from, builds the JSON and signs its bytes
 * with the device key. The reply is {"ok": true, "bytes": N}, the JSON as
 * DATA frames (it can be larger than one frame), and an END frame with
 * {"ok", "sha256", "signature_base64", "public_key_pem"}. A last audit row,
 * "report.done", records the JSON's SHA-256, so a report can later be
 * matched to the box that made it.
 */
#define VG_LOG_MODULE "CTL"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libavutil/base64.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/report.h"
#include "vigil/sweeper.h"
#include "vigil/timeutil.h"
#include "vigil/proto.h"
#include "vigil/witness.h"
#include "control_impl.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.1.0"
#endif

static int send_end(struct req *r, const char *sha, const uint8_t *sig, size_t siglen)
{
	const struct vg_control_env *env = ctl_env(r);
	struct json_object *o = json_object_new_object();
	char b64[AV_BASE64_SIZE(VG_SIGN_MAX_SIG)], pem[VG_SIGN_PEM_MAX] = "";
	const char *s;
	int ret;

	av_base64_encode(b64, sizeof(b64), sig, (int)siglen);
	vg_sign_pubkey_pem(env->device_key, pem, sizeof(pem));
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "sha256", json_object_new_string(sha));
	json_object_object_add(o, "signature_base64", json_object_new_string(b64));
	json_object_object_add(o, "public_key_pem", json_object_new_string(pem));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	ret = vg_proto_send(r->c->fd, VG_FRAME_END, s, strlen(s));
	json_object_put(o);
	return ret;
}

int ctl_cmd_report(struct req *r)
{
	const struct vg_control_env *env = ctl_env(r);
	struct vg_report_request rq = {
		.from_us = ctl_arg_int(r, "from_us", 0), .to_us = ctl_arg_int(r, "to_us", 0),
		.login = r->login,
	};
	struct vg_sweeper_status storage;
	struct vg_audit_checkpoint cp;
	struct vg_witness_status wstate;
	struct vg_report_env re = {
		.cfg = r->cfg, .catalog_path = r->cfg->catalog, .audit_path = env->audit_path,
		.device_key = env->device_key, .firmware = "vigil " VIGIL_VERSION,
	};
	char object[200], from[40] = "?", to[40] = "?", why[512], sha[65];
	uint8_t sig[VG_SIGN_MAX_SIG];
	size_t len = 0, siglen = 0;
	char *json = NULL;
	struct json_object *o;
	int ret;

	if (rq.from_us)
		vg_time_format(rq.from_us, from, sizeof(from));
	if (rq.to_us)
		vg_time_format(rq.to_us, to, sizeof(to));
	snprintf(object, sizeof(object), "report from=%s to=%s", from, to);
	if (ctl_authorise(r, VG_ACT_REPORT, object) < 0)
		return 0;
	rq.role = r->role;
	if (env->sweeper) {
		vg_sweeper_status(env->sweeper, &storage);
		re.storage = &storage;
	}
	re.clock_known = 1;
	re.clock_synced = vg_clock_synced(&re.clock_esterror_us);
	if (env->witness) {
		vg_witness_status(env->witness, &wstate);
		re.witness = &wstate;
	}
	if (vg_audit_checkpoint(env->audit, &cp) == 0)
		re.checkpoint = &cp;
	else
		vg_warnx("report: cannot sign an audit checkpoint; the report names none");
	rq.now_us = vg_time_now_us();	/* after the checkpoint it names */
	ret = vg_report_build(&re, &rq, &json, &len, why, sizeof(why));
	if (ret == 0)
		ret = vg_report_sign(env->device_key, json, len, sig, sizeof(sig), &siglen, sha);
	if (ret < 0) {
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "signing failed: %s", vg_strerror(ret));
		free(json);
		ctl_audit(r, "report.failed", object, 0, why);
		return ctl_reply_error(r, why);
	}
	o = ctl_ok_object();
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)len));
	ret = ctl_reply(r, o);
	if (ret == 0)
		ret = ctl_send_data(r, (const uint8_t *)json, len);
	if (ret == 0)
		ret = send_end(r, sha, sig, siglen);
	free(json);
	snprintf(object + strlen(object), sizeof(object) - strlen(object), " sha256=%s", sha);
	ctl_audit(r, "report.done", object, 1, ret == 0 ? "report built, signed and sent" :
		  "report built and signed; the connection broke while sending it");
	vg_info("report %s for %s (%s)", sha, r->login, r->role);
	return ret < 0 ? ret : 0;
}
