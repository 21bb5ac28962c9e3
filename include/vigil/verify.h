/*
 * verify.h - checks an export (export.h, docs/export-format.md) the way
 * a receiving agency would, for `vigilctl verify DIR|ISO`: the manifest's
 * signature with the included public key, every hash in SHA256SUMS and in
 * the manifest, no file missing or extra, and every video a well-formed
 * MP4 (mp4check.h: boxes, sample tables, H.264 NAL framing, first picture
 * a keyframe) holding the pictures the manifest counts. Nothing here needs
 * the device's keys or catalog, nor a decoder.
 *
 * An ISO image is checked in place: its directory tree is read with
 * libisofs and every file's bytes straight from the image. Nothing is
 * extracted and no temporary file is written, so no copy of the footage is
 * left anywhere.
 *
 * Verifications of images are serialised; libisofs itself is shared with
 * the exporter through isofs.h, so a verify may run while an export writes
 * an image in another thread.
 */
#ifndef VIGIL_VERIFY_H
#define VIGIL_VERIFY_H

#include <stdint.h>

#include "vigil/sign.h"

/* One finding: ok = 1 for a check passed, 0 for a problem. file is the
 * export file concerned ("" for the export as a whole); both strings are
 * valid only during the call. */
typedef void (*vg_verify_report_fn)(int ok, const char *file, const char *msg, void *ud);

struct vg_verify_result {
	int problems;			/* 0 = the export is intact */
	char first_bad[160];		/* the first file found wrong, "" if none */
	char fingerprint[VG_SIGN_FPR_HEX_LEN];	/* of device-public-key.pem, for
						 * out-of-band comparison */
	int files;			/* files checked */
	int videos;
	int64_t frames;			/* pictures (samples of the videos) */
};

/*
 * Verify the export folder at path (the folder holding manifest.json), or
 * the ISO image at path (a regular file). report may be NULL; res (may be
 * NULL) receives the summary. Returns 0 if everything checks, -VG_EAUTH if
 * anything is changed, missing or extra (res->first_bad names it), or
 * another negative code if the export could not be read at all.
 */
int vg_verify_export(const char *path, vg_verify_report_fn report, void *ud,
		     struct vg_verify_result *res);

#endif
