/*
 * catalog.h - the clip catalog (SQLite, WAL, synchronous=FULL).
 *
 * One row per clip: camera, UTC start and end in microseconds, frames,
 * bytes, SHA-256 of the encrypted file, the wrapped clip key and the state.
 * A clip row is created (state "recording") before its first chunk is
 * written and completed when the clip closes, so after a crash the catalog
 * names every clip that was open. Gaps (daemon stopped or crashed, camera
 * lost, disk full, ...) are rows of their own, so that clips and gaps
 * together account for every moment of every camera.
 *
 * A catalog handle may be used from several threads (it serialises). The
 * on-disk schema is documented in docs/catalog-format.md.
 *
 * Every function returns 0 or a negative VG_E* code: -VG_EDB for an SQLite
 * failure (logged), -VG_ENOENT for a missing id/path/key, -VG_EINVAL for a
 * bad argument, -VG_EEXIST for a clip path already catalogued. Strings and
 * structs passed in are only read during the call; nothing is kept.
 */
#ifndef VIGIL_CATALOG_H
#define VIGIL_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/clipfile.h"

enum vg_clip_state {
	VG_CLIP_RECORDING = 0,	/* being written, or left open by a crash */
	VG_CLIP_COMPLETE,	/* closed cleanly */
	VG_CLIP_RECOVERED,	/* was open at a crash; cut to its last good chunk */
};

struct vg_clip {
	int64_t id;		/* catalog row id; never used for another clip */
	char camera[33];
	char path[512];		/* relative to the data folder */
	uint8_t clip_id[VG_CLIP_ID_LEN];
	int64_t start_us, end_us;	/* UTC microseconds; end exclusive */
	int64_t frames;
	int64_t bytes;
	uint8_t sha256[VG_SHA256_LEN];
	uint8_t wrapped_key[VG_WRAPPED_KEY_LEN];
	int has_key;		/* 0 once crypto-shredded */
	enum vg_clip_state state;
	int synthetic;		/* recorded from the synthetic test camera */
	char encoder[32];	/* encoder used, or "passthrough" */
	int width, height;
};

struct vg_gap {
	int64_t id;
	char camera[33];
	int64_t from_us, to_us;	/* to_us = 0 while still open */
	char reason[128];
};

struct vg_catalog;

/* Open (creating schema if needed) the catalog at path; *out is freed with
 * vg_catalog_close. A new file is created mode 0600 (-VG_ENOENT, -VG_EPERM...
 * if it cannot be). -VG_EFORMAT if path is not a vigil catalog or has a newer
 * schema than this build knows. */
int vg_catalog_open(struct vg_catalog **out, const char *path);
/* Close and free cat (NULL: no-op); an open batch is rolled back. */
void vg_catalog_close(struct vg_catalog *cat);

/* Insert a clip in state RECORDING; fills c->id. camera, path (relative:
 * no leading '/', no ".." component), clip_id, start_us, wrapped_key,
 * synthetic, encoder, width and height are stored; sha256 is stored empty
 * (all zeros when read back) until finish. end_us is stored as given, or as
 * start_us if it is smaller (the usual case: it is set by finish). A new
 * clip always has its key: c->has_key is ignored, then set to 1, and
 * c->state is set to RECORDING. */
int vg_catalog_clip_begin(struct vg_catalog *cat, struct vg_clip *c);
/* Record the final figures and state of clip c->id: end_us, frames, bytes,
 * sha256, state, encoder, width, height. Durable (fsynced) when it returns,
 * unless called inside a batch, which is durable at vg_catalog_commit. */
int vg_catalog_clip_finish(struct vg_catalog *cat, const struct vg_clip *c);
/* Remove a clip row and its wrapped key (used by reconcile/retention). The
 * freed bytes are zeroed (secure_delete); see vg_catalog_checkpoint. */
int vg_catalog_clip_delete(struct vg_catalog *cat, int64_t id);
/* Crypto-shred: set the clip's wrapped key to NULL, keeping the row
 * (has_key reads 0 afterwards). The old key bytes leave the database and
 * its WAL file at the next vg_catalog_checkpoint. */
int vg_catalog_clip_shred(struct vg_catalog *cat, int64_t id);
/* Copy WAL content into the database and truncate the WAL file to zero
 * bytes, so that shredded or deleted keys survive in neither file. Call it
 * after a retention pass. -VG_EAGAIN if a reader kept it from finishing. */
int vg_catalog_checkpoint(struct vg_catalog *cat);

int vg_catalog_clip_get(struct vg_catalog *cat, int64_t id, struct vg_clip *out);
/* Look a clip up by its path relative to the data folder. */
int vg_catalog_clip_by_path(struct vg_catalog *cat, const char *relpath, struct vg_clip *out);

/*
 * Walks. Call fn for each clip of camera (NULL: all) overlapping
 * [from_us, to_us) (0 for an open bound), ordered by camera then start, id.
 * A clip still RECORDING has no end yet (its end_us is its start_us until
 * it closes): it overlaps every range that reaches past its start.
 * fn returning non-zero stops the walk and that value is returned.
 *
 * For every walk: rows are read in pages and fn is called WITHOUT the
 * catalog lock held, so fn may call any catalog function (deleting the clip
 * it was handed is fine) and other threads keep recording meanwhile. *c is
 * valid only during the call. A row inserted or deleted by someone else
 * during a walk may or may not be seen; no row is seen twice.
 */
typedef int (*vg_clip_fn)(const struct vg_clip *c, void *ud);
int vg_catalog_clips(struct vg_catalog *cat, const char *camera, int64_t from_us,
		     int64_t to_us, vg_clip_fn fn, void *ud);
/* Every clip in state RECORDING (for reconcile at start-up), by id. */
int vg_catalog_open_clips(struct vg_catalog *cat, vg_clip_fn fn, void *ud);
/* Clips of camera (NULL: every camera) with end_us <= before_us, oldest
 * first (one camera: by start, id; all cameras: by end, id), at most limit
 * of them (limit <= 0: no limit). Clips still RECORDING are never listed
 * (reconcile owns them); shredded clips are, so that a retention pass
 * interrupted between shredding and deleting completes the next time. */
int vg_catalog_expired(struct vg_catalog *cat, const char *camera, int64_t before_us,
		       int limit, vg_clip_fn fn, void *ud);
/* The oldest clips across all cameras, by end then id, at most limit
 * (<= 0: no limit), RECORDING clips excluded (for early deletion when the
 * disk is full). */
int vg_catalog_oldest(struct vg_catalog *cat, int limit, vg_clip_fn fn, void *ud);

/*
 * Batching: everything between begin and commit is one transaction, one
 * fsync. The calling thread holds the catalog lock from begin until commit
 * or rollback (other threads wait), so the same thread must end the batch,
 * and must not wait on another catalog user meanwhile. Batches do not
 * nest (-VG_EINVAL). Walks inside a batch see its uncommitted rows.
 */
int vg_catalog_begin(struct vg_catalog *cat);
int vg_catalog_commit(struct vg_catalog *cat);
int vg_catalog_rollback(struct vg_catalog *cat);

/* Call fn with each camera name that has clips, in name order (fn returning
 * non-zero stops the walk and that value is returned). */
typedef int (*vg_camera_fn)(const char *camera, void *ud);
int vg_catalog_cameras(struct vg_catalog *cat, vg_camera_fn fn, void *ud);
/* Every crypto-shredded row (wrapped_key NULL), by id, any state: a
 * retention pass cut short between shredding and deleting (schema 2
 * indexes these, so this is cheap on a large catalog). Same walk rules. */
int vg_catalog_shredded(struct vg_catalog *cat, vg_clip_fn fn, void *ud);
/* Every clip with id > after_id, any state, by id, at most limit of them
 * (limit <= 0: no limit). Same walk rules. For a check that reads the
 * whole catalog in batches (reconcile): each call is one short index range
 * on the row id, so nothing is held between batches. */
int vg_catalog_clips_after(struct vg_catalog *cat, int64_t after_id, int limit, vg_clip_fn fn,
			   void *ud);

/*
 * Evidence holds (schema 2; rules in hold.h, which is what callers use).
 * A hold keeps every clip of camera overlapping [from_us, to_us) past its
 * retention. Rows are never deleted: a release is requested by one login
 * and takes effect when a different login approves it.
 */
struct vg_hold {
	int64_t id;
	char camera[33];
	int64_t from_us, to_us;		/* UTC microseconds, [from, to) */
	char reason[256];
	char reference[64];		/* case, crime or ASB number */
	int64_t review_by_us;		/* review date (UTC microseconds) */
	char placed_by[33];		/* login */
	int64_t placed_us;
	char release_by[33];		/* login that asked for release; "" if none */
	char release_reason[256];
	int64_t release_requested_us;	/* 0 if none */
	char approved_by[33];		/* second login; "" while not released */
	int64_t released_us;		/* 0 while the hold is active */
};

typedef int (*vg_hold_fn)(const struct vg_hold *h, void *ud);
/* Insert h (camera, from_us < to_us, reason, reference, review_by_us,
 * placed_by, placed_us; release fields ignored); fills h->id. */
int vg_catalog_hold_insert(struct vg_catalog *cat, struct vg_hold *h);
int vg_catalog_hold_get(struct vg_catalog *cat, int64_t id, struct vg_hold *out);
/* All holds (active_only: those not released) by id; fn runs unlocked and
 * *h is valid only during the call. */
int vg_catalog_holds(struct vg_catalog *cat, int active_only, vg_hold_fn fn, void *ud);
/* Record a release request; -VG_ENOENT unless hold id is active with no
 * request pending. */
int vg_catalog_hold_request_release(struct vg_catalog *cat, int64_t id, const char *login,
				    const char *reason, int64_t now_us);
/* Release hold id if a request is pending from a login other than login;
 * -VG_ENOENT otherwise (nothing changes). */
int vg_catalog_hold_approve_release(struct vg_catalog *cat, int64_t id, const char *login,
				    int64_t now_us);
/* Withdraw a pending release request; -VG_ENOENT if none is pending. */
int vg_catalog_hold_cancel_release(struct vg_catalog *cat, int64_t id);

/*
 * Disclosure requests waiting for a second person (schema 3; the rules of
 * policy 3.9 and 3.10 are applied by the control server, ctl_export.c). A
 * media or data-subject export is stored here by the login that asked and
 * runs when a different login approves it, also after a restart of vigild.
 * Rows are never deleted: approving one marks it (state, approver, time),
 * and the audit log has every decision. The request text is the request as
 * sent (JSON); it is personal data like the rest of the catalog.
 */
#define VG_CATALOG_LOGIN_LEN 64		/* login buffers: at most 63 bytes and a NUL */

/* Store request_json (at least 2 bytes, e.g. "{}") as waiting, asked by
 * requester (a login, 1..63 bytes) at created_us; fills *id (> 0, never
 * reused). Durable when it returns, unless inside a batch. */
int vg_catalog_export_request_add(struct vg_catalog *cat, const char *requester,
				  const char *request_json, int64_t created_us, int64_t *id);
/* Read waiting request id without deciding it: *json gets a copy of the
 * request (caller frees; NULL on any failure) and requester the login that
 * asked. json and requester may each be NULL if not wanted. -VG_ENOENT if
 * no request id is waiting (unknown or already approved). */
int vg_catalog_export_request_get(struct vg_catalog *cat, int64_t id, char **json,
				  char requester[VG_CATALOG_LOGIN_LEN]);
/* Take waiting request id for approval: mark it approved by login at now_us
 * and hand back its request (*json, caller frees) and requester, as for
 * get. It is taken once: -VG_ENOENT (nothing changes, *json NULL) if no
 * request id is waiting, which is what a second approver gets, or if login
 * is the requester (the two-person rule, also enforced by the schema). */
int vg_catalog_export_request_take(struct vg_catalog *cat, int64_t id, const char *login,
				   int64_t now_us, char **json,
				   char requester[VG_CATALOG_LOGIN_LEN]);
/* Withdraw waiting request id (it will not be exported): mark it withdrawn
 * by login at now_us. Who may is the caller's decision (the requester or
 * the data protection officer). -VG_ENOENT if no request id is waiting. */
int vg_catalog_export_request_withdraw(struct vg_catalog *cat, int64_t id, const char *login,
				       int64_t now_us);
/* Call fn for each waiting request, oldest (lowest id) first, with its id,
 * requester and created_us (same walk rules as the clip walks: fn runs
 * unlocked, requester is valid only during the call, non-zero stops the
 * walk and is returned). */
typedef int (*vg_export_request_fn)(int64_t id, const char *requester, int64_t created_us,
				    void *ud);
int vg_catalog_export_requests_waiting(struct vg_catalog *cat, vg_export_request_fn fn,
				       void *ud);

/* Small text settings (e.g. "device_id"). get copies the NUL-terminated
 * value into buf (-VG_ENOENT if unset, -VG_EINVAL if it does not fit);
 * set with value NULL removes key. Keys starting "catalog." are the
 * catalog's own and cannot be set. */
int vg_catalog_meta_get(struct vg_catalog *cat, const char *key, char *buf, size_t len);
int vg_catalog_meta_set(struct vg_catalog *cat, const char *key, const char *value);

/* Open a gap for camera from from_us with reason (NULL: none; cut to 127
 * bytes); fills *id. Gaps are walked like clips (open gaps overlap every
 * later range), ordered by camera, from, id. */
int vg_catalog_gap_open(struct vg_catalog *cat, const char *camera, int64_t from_us,
			const char *reason, int64_t *id);
/* Close gap id at to_us (-VG_EINVAL if to_us is before its start). */
int vg_catalog_gap_close(struct vg_catalog *cat, int64_t id, int64_t to_us);
/*
 * The record of recording (schema 4). A camera's gap stays open until its
 * next clip begins: vg_catalog_clip_begin closes every open gap of the
 * camera at the clip's start, in the same transaction (the schema's
 * trigger does it, for any writer). So a gap is opened when footage stops
 * and never needs closing by hand.
 *
 * gap_ensure opens a gap for camera from from_us with reason unless one
 * is open already (which then keeps its own start and reason); *opened
 * (may be NULL) says whether this call opened it. recorded_until gives
 * the end of the camera's newest clip or closed gap, whichever is later:
 * where the camera's record stops (0: it has none).
 */
int vg_catalog_gap_ensure(struct vg_catalog *cat, const char *camera, int64_t from_us,
			  const char *reason, int *opened);
int vg_catalog_recorded_until(struct vg_catalog *cat, const char *camera, int64_t *until_us);
typedef int (*vg_gap_fn)(const struct vg_gap *g, void *ud);
int vg_catalog_gaps(struct vg_catalog *cat, const char *camera, int64_t from_us,
		    int64_t to_us, vg_gap_fn fn, void *ud);

#endif
