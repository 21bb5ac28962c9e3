/*
 * catalog.h - the clip catalog (SQLite, WAL, synchronous=FULL).
 *
 * One row per clip: camera, UTC start and end in microseconds, frames,
 * bytes, SHA-256 of the encrypted file, the wrapped clip key and the state.
 * A clip row is created (state "recording") before its first chunk is
 * written and completed when the clip closes, so after a crash the catalog
 * names every clip that was open. Gaps (camera lost, restarted daemon) are
 * rows of their own.
 *
 * A catalog handle may be used from several threads (it serialises).
 */
#ifndef VIGIL_CATALOG_H
#define VIGIL_CATALOG_H

#include <stdint.h>

#include "vigil/clipfile.h"

enum vg_clip_state {
	VG_CLIP_RECORDING = 0,	/* being written, or left open by a crash */
	VG_CLIP_COMPLETE,	/* closed cleanly */
	VG_CLIP_RECOVERED,	/* was open at a crash; cut to its last good chunk */
};

struct vg_clip {
	int64_t id;		/* catalog row id */
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

/* Open (creating schema if needed) the catalog at path. */
int vg_catalog_open(struct vg_catalog **out, const char *path);
void vg_catalog_close(struct vg_catalog *cat);

/* Insert a clip in state RECORDING; fills c->id. */
int vg_catalog_clip_begin(struct vg_catalog *cat, struct vg_clip *c);
/* Record the final figures and state of a clip. */
int vg_catalog_clip_finish(struct vg_catalog *cat, const struct vg_clip *c);
/* Remove a clip row and its wrapped key (used by reconcile/retention). */
int vg_catalog_clip_delete(struct vg_catalog *cat, int64_t id);

int vg_catalog_clip_get(struct vg_catalog *cat, int64_t id, struct vg_clip *out);

/* Call fn for each clip of camera (NULL: all) overlapping [from_us, to_us)
 * (0 for an open bound), ordered by camera then start. fn returning
 * non-zero stops the walk and that value is returned. */
typedef int (*vg_clip_fn)(const struct vg_clip *c, void *ud);
int vg_catalog_clips(struct vg_catalog *cat, const char *camera, int64_t from_us,
		     int64_t to_us, vg_clip_fn fn, void *ud);
/* Every clip in state RECORDING (for reconcile at start-up). */
int vg_catalog_open_clips(struct vg_catalog *cat, vg_clip_fn fn, void *ud);

/* Open a gap for camera from from_us with reason; fills *id. */
int vg_catalog_gap_open(struct vg_catalog *cat, const char *camera, int64_t from_us,
			const char *reason, int64_t *id);
int vg_catalog_gap_close(struct vg_catalog *cat, int64_t id, int64_t to_us);
typedef int (*vg_gap_fn)(const struct vg_gap *g, void *ud);
int vg_catalog_gaps(struct vg_catalog *cat, const char *camera, int64_t from_us,
		    int64_t to_us, vg_gap_fn fn, void *ud);

#endif
