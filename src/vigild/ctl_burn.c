/*
 * ctl_burn.c - the control socket's "export.burn" command: an export image
 * (vigilctl export --iso) onto a disc (burn.h).
 *
 *   export.burn   image (absolute path), device (absolute path), force
 *
 * Who may: the people who may export (VG_ACT_EXPORT, with purpose and
 * reference): a disc is a disclosure medium. What may go onto a disc: only
 * an image that verifies (verify.h) and was signed with this box's device
 * key, so that a changed image or somebody else's files never leave on a
 * disc that looks like this box's evidence. The device is an optical drive;
 * with force also a regular file or a new file path (tests, or a drive
 * reached some other way), which the audit row records.
 *
 * Neither path is opened by vigild: it asks the requester's vigilctl to
 * open the image for reading and the device for writing with the
 * requester's own rights, without blocking, and works on the descriptors
 * (ctl_dest.h): the image must be a regular file, the device a block
 * device (an optical drive) or with force a regular file that is none of
 * vigild's own and not the image. A FIFO is refused at once, never waited
 * on; a request naming paths without passing descriptors is refused.
 *
 * The decision is audited by ctl_authorise (action "export"); what happened
 * is one more row, action "export.burn", allowed for a disc written and read
 * back identical, refused for anything else, naming the image, its SHA-256,
 * the device and the reason. Read-back progress goes to the client as small
 * JSON DATA frames before the one reply, as for export.
 */
#define VG_LOG_MODULE "CTL"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vigil/burn.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/proto.h"
#include "vigil/sign.h"
#include "vigil/timeutil.h"
#include "vigil/verify.h"
#include "control_impl.h"
#include "ctl_dest.h"

/* force: true, or a non-zero number (as export sends it). */
static int arg_force(struct req *r)
{
	struct json_object *v;

	if (!json_object_object_get_ex(r->in, "force", &v))
		return 0;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	return json_object_is_type(v, json_type_int) && json_object_get_int64(v) != 0;
}

/* Refuse with msg, audited as a failed burn. */
static int fail(struct req *r, const char *object, const char *msg)
{
	ctl_audit(r, "export.burn", object, 0, msg);
	return ctl_reply_error(r, msg);
}

/* 0 if the descriptors may be used: the image a regular file, the device
 * a block device or (force) a regular file, not the image, none of
 * vigild's own; else the sentence. */
static int fds_ok(struct req *r, const int fds[2], const char *image, const char *device,
		  int force, char *why, size_t len)
{
	struct stat is, ds;

	if (fstat(fds[0], &is) < 0 || !S_ISREG(is.st_mode)) {
		snprintf(why, len, "refused: %s is not an image file (make one with vigilctl "
			 "export --iso FILE)", image);
		return -VG_EINVAL;
	}
	if (fstat(fds[1], &ds) < 0) {
		snprintf(why, len, "refused: cannot look at %s", device);
		return -VG_EINVAL;
	}
	if (S_ISBLK(ds.st_mode))
		return 0;
	if (S_ISREG(ds.st_mode) && !force) {
		snprintf(why, len, "refused: %s is a file, not a DVD writer; add --force to "
			 "write the disc image into a file (it is recorded in the audit log)",
			 device);
		return -VG_EDENIED;
	}
	if (!S_ISREG(ds.st_mode)) {
		snprintf(why, len, "refused: %s is not a DVD writer (give e.g. /dev/sr0)", device);
		return -VG_EDENIED;
	}
	if (ds.st_dev == is.st_dev && ds.st_ino == is.st_ino) {
		snprintf(why, len, "refused: the device is the image itself");
		return -VG_EINVAL;
	}
	return ctl_dest_not_own_file(r, fds[1], device, why, len);
}

int ctl_cmd_export_burn(struct req *r)
{
	const struct vg_control_env *env = ctl_env(r);
	const char *image = ctl_arg_str(r, "image"), *device = ctl_arg_str(r, "device");
	int force = arg_force(r);
	struct ctl_progress prog;
	struct vg_burn_request q = { .progress = ctl_progress_send, .progress_ud = &prog };
	struct vg_burn_result *res = NULL;
	struct vg_verify_result *vr = NULL;
	char object[2400], done_object[2600], why[800], fpr[VG_SIGN_FPR_HEX_LEN] = "";
	char image_path[64];
	struct json_object *o;
	int fds[2] = { -1, -1 }, have_fds = 0;
	int ret;

	snprintf(object, sizeof(object), "burn image=%s device=%s%s", image ? image : "(none)",
		 device ? device : "(none)", force ? " force" : "");
	if (ctl_authorise(r, VG_ACT_EXPORT, object) < 0)
		return 0;
	if (image == NULL || image[0] != '/' || strlen(image) > 1023)
		return fail(r, object, "refused: give the image as an absolute path (vigilctl burn "
				       "IMAGE.iso --device /dev/sr0)");
	if (device == NULL || strlen(device) > 1023)
		return fail(r, object, "refused: give the DVD writer with --device (e.g. "
				       "/dev/sr0)");
	if (device[0] != '/')
		return fail(r, object, "refused: the device must be an absolute path (e.g. "
				       "/dev/sr0)");
	if (!ctl_dest_passes_fds(r))
		return fail(r, object, CTL_DEST_RAW_PATH);
	{
		struct json_object *need = json_object_new_object();

		json_object_object_add(need, "need", json_object_new_string("burn"));
		json_object_object_add(need, "image", json_object_new_string(image));
		json_object_object_add(need, "device", json_object_new_string(device));
		json_object_object_add(need, "force", json_object_new_int(force));
		if (ctl_dest_ask(r, need, fds, 2, why, sizeof(why)) < 0) {
			char msg[900];

			snprintf(msg, sizeof(msg), "%s%s", strncmp(why, "refused: ", 9) == 0 ? "" :
				 "refused: ", why);
			return fail(r, object, msg);
		}
		have_fds = 1;
	}
	if (fds_ok(r, fds, image, device, force, why, sizeof(why)) < 0) {
		ret = fail(r, object, why);
		goto out;
	}
	snprintf(image_path, sizeof(image_path), "/proc/self/fd/%d", fds[0]);
	res = calloc(1, sizeof(*res));
	vr = calloc(1, sizeof(*vr));
	if (res == NULL || vr == NULL) {
		ret = fail(r, object, "failed: vigild is out of memory");
		goto out;
	}
	/* Only an intact export signed by this box goes onto a disc: checked
	 * before anything is written. */
	ret = vg_verify_export(image_path, NULL, NULL, vr);
	if (ret < 0) {
		if (ret == -VG_EAUTH)
			snprintf(why, sizeof(why), "refused: %s is not an intact export (first bad "
				 "file: %s); nothing was written. Make the export again", image,
				 vr->first_bad[0] ? vr->first_bad : "(the export as a whole)");
		else
			snprintf(why, sizeof(why), "refused: %s cannot be checked as an export "
				 "image (%s); nothing was written", image, vg_strerror(ret));
		ret = fail(r, object, why);
		goto out;
	}
	vg_sign_fingerprint(env->device_key, fpr);
	if (strcmp(fpr, vr->fingerprint) != 0) {
		snprintf(why, sizeof(why), "refused: %s was not exported by this recorder (its "
			 "device key fingerprint is %.16s..., this recorder's is %.16s...); "
			 "nothing was written", image, vr->fingerprint, fpr);
		ret = fail(r, object, why);
		goto out;
	}
	q.image = image;
	q.device = device;
	q.allow_file = force;
	q.given = 1;
	q.image_fd = fds[0];
	q.device_fd = fds[1];
	vg_info("burning %s to %s for %s (%s)", image, device, r->login,
		r->reference ? r->reference : "");
	ctl_progress_start(&prog, r);
	ret = vg_burn_image(&q, res);
	snprintf(done_object, sizeof(done_object), "burn image=%s image_sha256=%s device=%s "
		 "bytes=%llu%s", image, res->image_sha256[0] ? res->image_sha256 : "(unread)",
		 device, (unsigned long long)res->bytes, force ? " force" : "");
	if (ret < 0) {
		snprintf(why, sizeof(why), "failed: %s", res->why[0] ? res->why : vg_strerror(ret));
		ret = fail(r, done_object, why);
		goto out;
	}
	ctl_audit(r, "export.burn", done_object, 1, "burned: the disc was written and read back "
						    "identical to the image");
	o = ctl_ok_object();
	json_object_object_add(o, "bytes", json_object_new_int64((int64_t)res->bytes));
	json_object_object_add(o, "write_seconds", json_object_new_double(res->write_seconds));
	json_object_object_add(o, "verify_seconds", json_object_new_double(res->verify_seconds));
	json_object_object_add(o, "image_sha256", json_object_new_string(res->image_sha256));
	ret = ctl_reply(r, o);
out:
	if (have_fds) {
		close(fds[0]);
		close(fds[1]);
	}
	free(res);
	free(vr);
	return ret;
}
