/*
 * hold.c - evidence holds on top of the catalog's holds table: argument
 * checks, the two-person release rule's answers, review-date warnings and
 * the in-memory snapshot the sweeper consults per clip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VG_LOG_MODULE "HOLD"
#include "vigil/err.h"
#include "vigil/hold.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"

/* A required string that fits in cap - 1 bytes. */
static int field_ok(const char *s, size_t cap)
{
	return s != NULL && s[0] != '\0' && strnlen(s, cap) < cap;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -VG_EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

int vg_hold_place(struct vg_catalog *cat, const struct vg_hold_spec *spec, int64_t now_us,
		  int64_t *id)
{
	struct vg_hold h;
	int rc;

	if (cat == NULL || spec == NULL)
		return -VG_EINVAL;
	memset(&h, 0, sizeof(h));
	if (!field_ok(spec->camera, sizeof(h.camera)) ||
	    !field_ok(spec->reason, sizeof(h.reason)) ||
	    !field_ok(spec->reference, sizeof(h.reference)) ||
	    !field_ok(spec->placed_by, sizeof(h.placed_by))) {
		vg_warnx("hold refused: camera, reason, reference and login are all required "
			 "(and must not be too long)");
		return -VG_EINVAL;
	}
	if (spec->to_us <= spec->from_us) {
		vg_warnx("hold refused: the range must end after it starts");
		return -VG_EINVAL;
	}
	if (spec->review_by_us <= now_us) {
		vg_warnx("hold refused: the review date must be in the future");
		return -VG_EINVAL;
	}
	copy_field(h.camera, sizeof(h.camera), spec->camera);
	copy_field(h.reason, sizeof(h.reason), spec->reason);
	copy_field(h.reference, sizeof(h.reference), spec->reference);
	copy_field(h.placed_by, sizeof(h.placed_by), spec->placed_by);
	h.from_us = spec->from_us;
	h.to_us = spec->to_us;
	h.review_by_us = spec->review_by_us;
	h.placed_us = now_us;
	rc = vg_catalog_hold_insert(cat, &h);
	if (rc == 0) {
		vg_info("hold %lld placed on camera %s by %s (reference %s)", (long long)h.id,
			h.camera, h.placed_by, h.reference);
		if (id != NULL)
			*id = h.id;
	}
	return rc;
}

int vg_hold_list(struct vg_catalog *cat, int include_released, vg_hold_fn fn, void *ud)
{
	return vg_catalog_holds(cat, !include_released, fn, ud);
}

int vg_hold_get(struct vg_catalog *cat, int64_t id, struct vg_hold *out)
{
	return vg_catalog_hold_get(cat, id, out);
}

int vg_hold_request_release(struct vg_catalog *cat, int64_t id, const char *login,
			    const char *reason, int64_t now_us)
{
	struct vg_hold h;
	int rc;

	if (cat == NULL || !field_ok(login, sizeof(h.placed_by)) ||
	    !field_ok(reason, sizeof(h.release_reason)))
		return -VG_EINVAL;
	rc = vg_catalog_hold_get(cat, id, &h);
	if (rc != 0)
		return rc;
	if (h.released_us != 0)
		return -VG_ENOENT;
	if (h.release_by[0] != '\0')
		return -VG_EEXIST;
	rc = vg_catalog_hold_request_release(cat, id, login, reason, now_us);
	if (rc == -VG_ENOENT)
		rc = -VG_EEXIST;	/* someone else asked in between */
	if (rc == 0)
		vg_info("release of hold %lld requested by %s; it needs a second person's "
			"approval", (long long)id, login);
	return rc;
}

int vg_hold_approve_release(struct vg_catalog *cat, int64_t id, const char *login,
			    int64_t now_us)
{
	struct vg_hold h;
	int rc;

	if (cat == NULL || !field_ok(login, sizeof(h.placed_by)))
		return -VG_EINVAL;
	rc = vg_catalog_hold_approve_release(cat, id, login, now_us);
	if (rc == 0) {
		vg_info("hold %lld released (approved by %s)", (long long)id, login);
		return 0;
	}
	if (rc != -VG_ENOENT)
		return rc;
	/* Say why nothing changed. */
	if (vg_catalog_hold_get(cat, id, &h) == 0 && h.released_us == 0 &&
	    strcmp(h.release_by, login) == 0) {
		vg_warnx("hold %lld: %s asked for the release and cannot also approve it",
			 (long long)id, login);
		return -VG_EPERM;
	}
	return -VG_ENOENT;
}

int vg_hold_cancel_release(struct vg_catalog *cat, int64_t id)
{
	return vg_catalog_hold_cancel_release(cat, id);
}

struct overdue_ctx {
	int64_t now_us;
	vg_hold_fn fn;
	void *ud;
};

static int overdue_one(const struct vg_hold *h, void *ud)
{
	struct overdue_ctx *x = ud;

	if (h->review_by_us > x->now_us)
		return 0;
	return x->fn(h, x->ud);
}

int vg_hold_overdue(struct vg_catalog *cat, int64_t now_us, vg_hold_fn fn, void *ud)
{
	struct overdue_ctx x = { .now_us = now_us, .fn = fn, .ud = ud };

	if (fn == NULL)
		return -VG_EINVAL;
	return vg_catalog_holds(cat, 1, overdue_one, &x);
}

size_t vg_hold_overdue_message(const struct vg_hold *h, char *buf, size_t cap)
{
	char when[40];
	int n;

	vg_time_format(h->review_by_us, when, sizeof(when));
	when[10] = '\0';	/* the date part of 2026-11-01T00:00:00.000000Z */
	n = snprintf(buf, cap, "hold %lld on camera %s passed its review date %s: "
		     "review it or release it", (long long)h->id, h->camera, when);
	return n < 0 ? 0 : (size_t)n;
}

int vg_hold_covers(const struct vg_hold *h, const char *camera, int64_t start_us,
		   int64_t end_us)
{
	if (h->released_us != 0 || strcmp(h->camera, camera) != 0)
		return 0;
	/* Overlap at all. A zero-length clip (end == start) is treated as the
	 * instant start_us. */
	if (end_us <= start_us)
		return start_us >= h->from_us && start_us < h->to_us;
	return start_us < h->to_us && end_us > h->from_us;
}

struct vg_hold_set {
	struct vg_hold *h;
	int n, cap;
};

static int set_add(const struct vg_hold *h, void *ud)
{
	struct vg_hold_set *s = ud;

	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		struct vg_hold *g = realloc(s->h, (size_t)cap * sizeof(*g));

		if (g == NULL)
			return -VG_ENOMEM;
		s->h = g;
		s->cap = cap;
	}
	s->h[s->n++] = *h;
	return 0;
}

int vg_hold_set_load(struct vg_catalog *cat, struct vg_hold_set **out)
{
	struct vg_hold_set *s;
	int rc;

	if (out == NULL)
		return -VG_EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -VG_ENOMEM;
	rc = vg_catalog_holds(cat, 1, set_add, s);
	if (rc != 0) {
		vg_hold_set_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void vg_hold_set_free(struct vg_hold_set *s)
{
	if (s == NULL)
		return;
	free(s->h);
	free(s);
}

int vg_hold_set_count(const struct vg_hold_set *s)
{
	return s == NULL ? 0 : s->n;
}

const struct vg_hold *vg_hold_set_at(const struct vg_hold_set *s, int i)
{
	if (s == NULL || i < 0 || i >= s->n)
		return NULL;
	return &s->h[i];
}

int vg_hold_set_covers(const struct vg_hold_set *s, const char *camera, int64_t start_us,
		       int64_t end_us)
{
	/* Linear: a box has a handful of holds, and this runs in memory. */
	for (int i = 0; s != NULL && i < s->n; i++) {
		if (vg_hold_covers(&s->h[i], camera, start_us, end_us))
			return 1;
	}
	return 0;
}
