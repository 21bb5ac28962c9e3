/*
 * export.h - evidence export: a fully decided request in, one self-contained,
 * signed, verifiable folder (or ISO 9660 image) out. Format of what lands on
 * the medium: docs/export-format.md; the recipient's guide:
 * docs/export-guide.md.
 *
 * Who may export to whom is NOT decided here: the caller runs the access
 * policy and the disclosure rules first and audits the decision.
 *
 * The footage is the original H.264 packets, remuxed bit for bit from the
 * encrypted clips (clipmedia.h) into ordinary MP4 files (moov first), one per
 * camera per continuous run; clips are decrypted in memory only. A request
 * with redactions (subject access) re-encodes instead, into files named
 * ...-REDACTED.mp4 that the manifest calls a redacted working copy.
 *
 * A folder export is written into DEST/REF.incomplete/, every file fsynced,
 * then read back from the medium and checked against its hash before the
 * folder is renamed DEST/REF/. On any failure the folder keeps its
 * .incomplete name and holds INCOMPLETE.txt saying so.
 *
 * Every function returns 0 or a negative VG_E* code unless stated.
 */
#ifndef VIGIL_EXPORT_H
#define VIGIL_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/clipfile.h"
#include "vigil/sign.h"

#define VG_EXPORT_DVD_BYTES INT64_C(4700000000)	/* one single-layer DVD */
#define VG_EXPORT_REF_MAX 65			/* sanitised reference + NUL */
/* How footage from the synthetic test camera is labelled in an export:
 * the MP4 comment tag, README.txt's first line (and the manifest says
 * "synthetic": true per file, the ISO volume id starts SYNTHETIC_). */
#define VG_EXPORT_SYNTHETIC_LABEL "SYNTHETIC TEST CAMERA - not real footage"
#define VG_EXPORT_MAX_DISCS 99			/* discs in one image export */

/* One camera and why it exists (the config's purpose; NULL if none). */
struct vg_export_camera {
	const char *name;
	const char *purpose;
};

/* A region to obscure (pixels of the recorded picture), over [from_us,
 * to_us) UTC, or over the whole export when both are 0. */
struct vg_export_rect {
	int x, y, w, h;
	int64_t from_us, to_us;
};

/* The largest coordinate or size of a redaction, in pixels: bigger than
 * any camera's picture, small enough that no sum of them overflows. */
#define VG_EXPORT_PIXELS_MAX 65535

/* 1 if r is well formed: x, y >= 0, w, h > 0, all at most
 * VG_EXPORT_PIXELS_MAX, 0 <= from_us <= to_us. vg_export_run() refuses a
 * request with any other (-VG_EINVAL). */
int vg_export_rect_sane(const struct vg_export_rect *r);

/* 1 if r is sane and blanks at least one pixel of a width x height
 * picture (its top left corner lies inside it; a part beyond the right or
 * bottom edge is blanked up to the edge). Callers refuse a redaction that
 * is not, before the request is accepted or queued for approval: such a
 * region would blank nothing. */
int vg_export_rect_in_picture(const struct vg_export_rect *r, int width, int height);

/* The decided request. Every pointer is borrowed for the call only; strings
 * may be NULL where stated ("" is written for them). Exactly one of dest_dir
 * and iso_path is set. */
struct vg_export_request {
	const struct vg_export_camera *cameras;
	int n_cameras;
	int64_t from_us, to_us;		/* requested range, UTC, to exclusive */
	const char *recipient;		/* police, prosecutor, legal, media, data-subject */
	const char *reference;		/* names the folder (sanitised) */
	const char *reason;
	const char *exporter_login;
	const char *exporter_name;	/* may be NULL */
	const char *police_decision;	/* may be NULL */
	const char *victim_wishes;	/* may be NULL */
	const char *dest_dir;		/* folder export: DEST_DIR/REF/ */
	const char *iso_path;		/* ISO export: this image file */
	const struct vg_export_rect *redactions;	/* n_redactions > 0: REDACTED copies */
	int n_redactions;
	const char *device_id;
	const char *firmware_version;
	const char *site_name;		/* may be NULL */
	const char *clock_sync;		/* e.g. "ntp-synchronised"; NULL: "unknown" */
	int64_t disc_bytes;		/* disc capacity; 0 = VG_EXPORT_DVD_BYTES */
	/*
	 * given = 1: write only through these descriptors, made by the
	 * requester's vigilctl with the requester's own rights (vigild never
	 * writes where the requester may not). dest_dir / iso_path then only
	 * name them in messages and the result; nothing is created, checked
	 * or renamed by path outside them, and the final rename (REF.incomplete
	 * to REF, IMAGE.incomplete to IMAGE) is left to the caller.
	 */
	int given;
	int folder_fd;		/* folder export: the new, empty DEST/REF.incomplete */
	int staging_fd;		/* ISO export: a new, empty folder beside the image(s),
				 * where the plaintext folder is staged and removed */
	const int *image_fds;	/* ISO export: image k (1-based) is image_fds[k - 1],
				 * new, empty, open read-write */
	int n_images;		/* as vg_export_images_needed() said */
};

/* Progress: bytes done out of an estimated total (the total may grow). May
 * be called from a worker thread; calls are serialised. */
typedef void (*vg_export_progress_fn)(uint64_t done, uint64_t total, void *ud);

/* Test seam: called after a file is written and fsynced, before the
 * read-back at the end, with its full path. A non-zero return fails the
 * export as a write error would. Tests use it to fail a write, or to change
 * a file after it was written: the read-back at the end catches that (for
 * a video checked as it was written, in the blocks it sampled then). */
typedef int (*vg_export_fault_fn)(const char *path, void *ud);

/* Test seam: called with each piece of a file read back from the medium
 * (the file's path, where the piece starts in it, its bytes) before it is
 * compared with what was written. Tests change buf to act as a medium that
 * reads back different. */
typedef void (*vg_export_medium_fn)(const char *path, uint64_t off, uint8_t *buf, size_t len,
				    void *ud);

/* Where the footage and the keys come from; all borrowed for the call. */
struct vg_export_ctx {
	struct vg_catalog *cat;
	const char *data_dir;			/* clip paths are relative to it */
	const uint8_t *master;			/* VG_MASTER_KEY_LEN bytes */
	struct vg_sign_key *key;		/* device key: signs the manifest */
	struct vg_audit *audit;			/* checkpoint + chain of custody; NULL: none */
	vg_export_progress_fn progress;		/* may be NULL */
	void *progress_ud;
	vg_export_fault_fn fault;		/* NULL outside tests */
	void *fault_ud;
	vg_export_medium_fn medium;		/* NULL outside tests */
	void *medium_ud;
};

/* What was made. */
struct vg_export_result {
	char path[1024];		/* the final folder or (first) ISO, or the
					 * .incomplete one */
	int discs;			/* images made (vg_export_disc_path); 0: a folder */
	char disc_manifest_sha256[VG_EXPORT_MAX_DISCS][65];	/* each image's manifest */
	int files;			/* video files */
	int runs_gaps;			/* gaps listed in the manifest */
	uint64_t bytes;			/* bytes written (all files) */
	int64_t delivered_from_us, delivered_to_us;	/* 0 if no footage */
	char manifest_sha256[65];
	double write_seconds;		/* decrypt + remux + hash + fsync, and the
					 * read-back check of each video as it is
					 * written, which runs alongside */
	double readback_seconds;	/* the read-back after the write: the
					 * documents in full, the videos' sampled
					 * blocks, and in full any file the medium
					 * would not let us check as written */
	char why[256];			/* a sentence on failure */
	int64_t bad_clip;		/* -VG_EAUTH: catalog id of the clip that failed
					 * authentication; 0 if none did */
	int64_t bad_chunk;		/* its first chunk that failed (0-based); -1:
					 * its key or header did */
};

/*
 * Run the export. res (required) is filled in both cases. Returns 0;
 * -VG_ENOENT if no footage overlaps the range; -VG_ENOSPC if the
 * destination lacks room (checked first with statvfs: nothing is written)
 * or fills up; -VG_EEXIST if DEST/REF or an image already exists; -VG_EAUTH
 * if a clip fails authentication or a file reads back different
 * (bad medium); -VG_EFORMAT if one clip is larger than a disc or more than
 * VG_EXPORT_MAX_DISCS discs would be needed; -VG_EINVAL for a malformed
 * request; other codes from below.
 *
 * An image export larger than one disc (disc_bytes, with 5 % kept free for
 * the file system) is split by time into several images, each a complete,
 * signed export of its part (its manifest says "disc K of N" and gives the
 * whole request), named by vg_export_disc_path(). Cuts fall where a clip
 * starts; a camera whose clips do not start there has its file on the next
 * disc begin at the keyframe before the cut, so a second or so may appear
 * on both discs. If one disc fails, the ones made before it are renamed
 * IMAGE.incomplete.
 */
int vg_export_run(const struct vg_export_ctx *ctx, const struct vg_export_request *req,
		  struct vg_export_result *res);

/* How many images an ISO export of req needs (1 for a folder export), so
 * that the caller can have them made; negative (a sentence in why) if it
 * cannot be made: -VG_ENOENT no footage, -VG_EFORMAT too large. */
int vg_export_images_needed(const struct vg_export_ctx *ctx, const struct vg_export_request *req,
			    char *why, size_t len);

/* The name of disc k (1-based) of n for an image export to iso_path:
 * iso_path itself when n is 1, else "STEM-discKofN.iso" where STEM is
 * iso_path without a trailing ".iso". */
void vg_export_disc_path(const char *iso_path, int k, int n, char *out, size_t len);

/* 1 if path lies on a block device the kernel flags removable (USB stick,
 * SD card), 0 if not (or not a block device: tmpfs, network), negative on
 * error (path missing). */
int vg_export_dest_is_removable(const char *path);
/* The same for the file system an open descriptor lies on. */
int vg_export_fd_is_removable(int fd);

/* The folder name for a reference: [A-Za-z0-9._-] kept, anything else '_',
 * no leading '.', at most VG_EXPORT_REF_MAX - 1 bytes; "export" if empty. */
void vg_export_folder_name(const char *reference, char out[VG_EXPORT_REF_MAX]);

#endif
