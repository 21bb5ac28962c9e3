/*
 * export_plan.c - what an export holds before a byte is written: the
 * catalog's clips and gaps for each camera of the request, cut into runs
 * (one MP4 file each) wherever recording broke, and, for an ISO image, the
 * request split by time over as many discs as it needs.
 */
#define VG_LOG_MODULE "EXP"

#include <stdlib.h>
#include <string.h>

#include "vigil/catalog.h"
#include "vigil/err.h"
#include "vigil/export.h"
#include "vigil/timeutil.h"

#include "export_impl.h"

/* ---- collecting clips into runs ---- */

struct clip_list {
	struct vg_clip *c;
	int n, cap;
};

static int collect_clip(const struct vg_clip *c, void *ud)
{
	struct clip_list *l = ud;

	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 64;
		struct vg_clip *nc = realloc(l->c, (size_t)cap * sizeof(*nc));

		if (nc == NULL)
			return -VG_ENOMEM;
		l->c = nc;
		l->cap = cap;
	}
	l->c[l->n++] = *c;
	return 0;
}

static int collect_gap(const struct vg_gap *g, void *ud)
{
	struct exp *e = ud;
	struct vg_gap *ng = realloc(e->cgaps, (size_t)(e->ncgaps + 1) * sizeof(*ng));

	if (ng == NULL)
		return -VG_ENOMEM;
	e->cgaps = ng;
	e->cgaps[e->ncgaps++] = *g;
	return 0;
}

int64_t exp_frame_us(const struct vg_clip *c)
{
	if (c->frames > 0 && c->end_us > c->start_us)
		return (c->end_us - c->start_us) / c->frames;
	return VG_US_PER_S / 10;
}

/* A catalog gap row starting between two clips (within a frame of the
 * first one's end) also cuts the run: the daemon restarted there. */
static const struct vg_gap *gap_between(struct exp *e, const char *cam, const struct vg_clip *a,
				       const struct vg_clip *b)
{
	for (int i = 0; i < e->ncgaps; i++) {
		const struct vg_gap *g = &e->cgaps[i];

		if (strcmp(g->camera, cam) == 0 && g->from_us >= a->end_us - exp_frame_us(a) &&
		    g->from_us <= b->start_us)
			return g;
	}
	return NULL;
}

static int add_run(struct exp *e, const struct vg_export_camera *cam, struct vg_clip *c, int n)
{
	struct run *nr = realloc(e->runs, (size_t)(e->nruns + 1) * sizeof(*nr));

	if (nr == NULL)
		return -VG_ENOMEM;
	e->runs = nr;
	nr[e->nruns].cam = cam;
	nr[e->nruns].n = n;
	nr[e->nruns].clips = malloc((size_t)n * sizeof(*c));
	if (nr[e->nruns].clips == NULL)
		return -VG_ENOMEM;
	memcpy(nr[e->nruns].clips, c, (size_t)n * sizeof(*c));
	e->nruns++;
	return 0;
}

int exp_build_runs(struct exp *e, uint64_t *estimate)
{
	const struct vg_export_request *q = e->req;
	int ret = 0;

	*estimate = 0;
	for (int ci = 0; ci < q->n_cameras && ret == 0; ci++) {
		const struct vg_export_camera *cam = &q->cameras[ci];
		struct clip_list l = { 0 };
		int start = 0;

		ret = vg_catalog_gaps(e->ctx->cat, cam->name, q->from_us, q->to_us, collect_gap, e);
		if (ret == 0)
			ret = vg_catalog_clips(e->ctx->cat, cam->name, q->from_us, q->to_us,
					       collect_clip, &l);
		/* Shredded clips cannot be read: drop them (their time shows as
		 * a gap between runs). Nor can a clip still being recorded: it
		 * is not finished on disk (the caller ends the range before it;
		 * this keeps any other caller from reading half a clip). */
		if (ret == 0) {
			int k = 0;

			for (int i = 0; i < l.n; i++)
				if (l.c[i].has_key && l.c[i].state != VG_CLIP_RECORDING)
					l.c[k++] = l.c[i];
			l.n = k;
		}
		for (int i = 1; ret == 0 && i <= l.n; i++) {
			int cut = i == l.n;

			if (!cut) {
				const struct vg_clip *a = &l.c[i - 1], *b = &l.c[i];

				cut = b->start_us - a->end_us > exp_frame_us(a) * 3 / 2 ||
				      gap_between(e, cam->name, a, b) != NULL;
			}
			if (cut) {
				ret = add_run(e, cam, &l.c[start], i - start);
				start = i;
			}
		}
		for (int i = 0; i < l.n; i++)
			*estimate += (uint64_t)l.c[i].bytes;
		free(l.c);
	}
	return ret;
}

/* The clips of the request, for sizing discs: start time and a bound on
 * what the clip becomes in an exported MP4 (its encrypted size exceeds its
 * packets; each picture adds a few moov table entries). */
struct clip_cost {
	int64_t start_us;
	uint64_t bytes;		/* without the moov base */
	int first;		/* starts its run: a new file */
};

static int by_start(const void *a, const void *b)
{
	const struct clip_cost *x = a, *y = b;

	return x->start_us < y->start_us ? -1 : x->start_us > y->start_us;
}

/* Room on a disc for footage: 5 % and 512 KiB are kept for the file
 * system, the documents and the rounding in the estimate. */
static uint64_t disc_budget(uint64_t limit)
{
	uint64_t keep = limit / 20 + 512 * 1024;

	return limit > keep ? limit - keep : 0;
}

/*
 * Split the request over discs of limit bytes: cut[0..n] with cut[0] the
 * request's start and cut[n] its end; each disc holds the clips that start
 * in [cut[k], cut[k+1]). Cuts fall on clip starts, which are keyframes, so
 * a camera's file on one disc ends where the next disc's begins. Returns
 * the number of discs, or a negative code (a single clip larger than a
 * disc: -VG_EFORMAT).
 */
int exp_plan_discs(struct exp *e, uint64_t limit, int64_t *cut, int max)
{
	uint64_t budget = disc_budget(limit), acc = 0;
	struct clip_cost *cc;
	int n = 0, k = 0;

	for (int i = 0; i < e->nruns; i++)
		n += e->runs[i].n;
	cc = calloc((size_t)(n ? n : 1), sizeof(*cc));
	if (cc == NULL)
		return -VG_ENOMEM;
	for (int i = 0; i < e->nruns; i++) {
		for (int j = 0; j < e->runs[i].n; j++) {
			const struct vg_clip *c = &e->runs[i].clips[j];

			cc[k].start_us = c->start_us;
			cc[k].bytes = (uint64_t)c->bytes + (uint64_t)(c->frames > 0 ? c->frames : 0) *
							   MOOV_PER_FRAME;
			cc[k].first = j == 0;
			k++;
		}
	}
	qsort(cc, (size_t)n, sizeof(*cc), by_start);
	cut[0] = e->req->from_us;
	k = 1;
	for (int i = 0; i < n; i++) {
		/* on a disc of its own, a clip starts a file */
		if (cc[i].bytes + MOOV_BASE > budget) {
			exp_why(e, "one clip (%.1f MB) is larger than a disc of %.1f MB; use a larger "
			    "disc (--disc-size) or export to a USB stick (--dest)",
			    (double)cc[i].bytes / 1e6, (double)limit / 1e6);
			free(cc);
			return -VG_EFORMAT;
		}
		if (acc > 0 && acc + cc[i].bytes > budget && cc[i].start_us > cut[k - 1]) {
			if (k == max) {
				exp_why(e, "this export would need more than %d discs: export a shorter "
				    "time range, or to a USB stick (--dest)", max - 1);
				free(cc);
				return -VG_EFORMAT;
			}
			cut[k++] = cc[i].start_us;
			/* every camera's run that continues starts a new file */
			acc = (uint64_t)e->req->n_cameras * MOOV_BASE;
		} else if (cc[i].first) {
			acc += MOOV_BASE;
		}
		acc += cc[i].bytes;
	}
	cut[k] = e->req->to_us;
	free(cc);
	return k;
}
