/*
 * err.h - vigil's error codes.
 *
 * Every vigil function that can fail returns 0 on success or a negative
 * VG_E* code; constructors return NULL (or a code through an out
 * parameter). Conditions that call for a different reaction get their own
 * code: a vanished camera (VG_ENODEV) is reopened with backoff, a full disk
 * (VG_ENOSPC) triggers early deletion, a failed authentication (VG_EAUTH)
 * means tampering or corruption and is never retried.
 */
#ifndef VIGIL_ERR_H
#define VIGIL_ERR_H

enum vg_err {
	VG_OK = 0,
	VG_ENOMEM = 1,	/* out of memory */
	VG_EINVAL,	/* bad argument or malformed input */
	VG_EIO,		/* I/O error (read, write, fsync) */
	VG_ENODEV,	/* device vanished or not present */
	VG_ENODATA,	/* no frame within the timeout (no signal) */
	VG_EAGAIN,	/* try again (non-blocking) */
	VG_ENOSPC,	/* storage full */
	VG_EAUTH,	/* authentication failed: tampered or corrupt */
	VG_ETRUNC,	/* input ends early (crash-truncated clip) */
	VG_EFORMAT,	/* unsupported or refused format */
	VG_ECODEC,	/* encoder/decoder/muxer failure */
	VG_EDB,		/* catalog or audit database failure */
	VG_ECONFIG,	/* configuration invalid */
	VG_EPERM,	/* unsafe file permissions or not permitted */
	VG_EDENIED,	/* refused by the access policy */
	VG_ENOENT,	/* no such file, clip or record */
	VG_EEXIST,	/* already exists / already running */
	VG_ECRYPTO,	/* crypto library failure (not tampering) */
	VG_EPROTO,	/* malformed message on the control socket */
	VG_ELAST
};

/* A short English description of err (either sign); never NULL. */
const char *vg_strerror(int err);

/* Map an errno value to the nearest VG_E* code (positive result). */
int vg_err_from_errno(int errnum);

#endif
