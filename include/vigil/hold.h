/*
 * hold.h - evidence holds: keep a camera's footage over a time range past
 * its retention (policy 3.7: "footage required as evidence may be kept
 * longer"), until two different people have agreed to let it go.
 *
 * A hold covers every clip of its camera that overlaps [from_us, to_us) at
 * all: a clip only partly inside the range is kept whole. Holds live in the
 * catalog (struct vg_hold, catalog.h) and are never deleted, only released:
 * one login requests the release with a reason, and it takes effect only
 * when a second, different login approves it. Until then the hold keeps
 * its footage. Whether a login may place, request or approve at all is the
 * access policy's business (policy.h); the caller checks that first.
 *
 * Every function takes the catalog borrowed; strings are only read during
 * the call. Returns 0 or a negative VG_E* code.
 */
#ifndef VIGIL_HOLD_H
#define VIGIL_HOLD_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/catalog.h"

/* What a person asks for with `vigilctl hold`. All strings required. */
struct vg_hold_spec {
	const char *camera;
	int64_t from_us, to_us;		/* [from, to), from < to */
	const char *reason;		/* at most 255 bytes */
	const char *reference;		/* at most 63 bytes */
	int64_t review_by_us;		/* must be after now_us */
	const char *placed_by;		/* login, at most 32 bytes */
};

/* Place a hold at now_us; *id (may be NULL) receives its number.
 * -VG_EINVAL (with a logged reason) for a missing or oversized field, an
 * empty range or a review date not in the future. */
int vg_hold_place(struct vg_catalog *cat, const struct vg_hold_spec *spec, int64_t now_us,
		  int64_t *id);

/* Every hold (include_released: also released ones), by id. */
int vg_hold_list(struct vg_catalog *cat, int include_released, vg_hold_fn fn, void *ud);
int vg_hold_get(struct vg_catalog *cat, int64_t id, struct vg_hold *out);

/* First person: ask for hold id to be released (reason required). The
 * hold stays active. -VG_ENOENT: no such hold, or already released;
 * -VG_EEXIST: a request is already pending (approve or cancel it). */
int vg_hold_request_release(struct vg_catalog *cat, int64_t id, const char *login,
			    const char *reason, int64_t now_us);

/* Second person: approve the pending release of hold id. 0: released now
 * (the next sweep may delete its footage). -VG_EPERM: login is the one who
 * asked (the same person cannot approve; nothing changes). -VG_ENOENT: no
 * such hold, already released, or no request pending. */
int vg_hold_approve_release(struct vg_catalog *cat, int64_t id, const char *login,
			    int64_t now_us);

/* Withdraw a pending request (e.g. the second person disagrees). */
int vg_hold_cancel_release(struct vg_catalog *cat, int64_t id);

/* Active holds whose review date is at or before now_us, by id. */
int vg_hold_overdue(struct vg_catalog *cat, int64_t now_us, vg_hold_fn fn, void *ud);

/* "hold 3 on camera lift passed its review date 2026-11-01: review it or
 * release it" into buf (truncated to cap); returns the untruncated length. */
size_t vg_hold_overdue_message(const struct vg_hold *h, char *buf, size_t cap);

/* 1 if active hold h covers a clip of camera over [start_us, end_us). */
int vg_hold_covers(const struct vg_hold *h, const char *camera, int64_t start_us,
		   int64_t end_us);

/*
 * A snapshot of the active holds for the sweeper: loaded once per batch,
 * asked once per clip without touching the database. *out is freed with
 * vg_hold_set_free (NULL: no-op).
 */
struct vg_hold_set;
int vg_hold_set_load(struct vg_catalog *cat, struct vg_hold_set **out);
void vg_hold_set_free(struct vg_hold_set *s);
int vg_hold_set_count(const struct vg_hold_set *s);
/* 1 if any hold in s covers the clip (camera, [start_us, end_us)). */
int vg_hold_set_covers(const struct vg_hold_set *s, const char *camera, int64_t start_us,
		       int64_t end_us);
/* The i-th hold (0 <= i < count), valid until vg_hold_set_free. */
const struct vg_hold *vg_hold_set_at(const struct vg_hold_set *s, int i);

#endif
