/*
 * warmup.c - cameras take turns to start their encoders (warmup.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "vigil/timeutil.h"
#include "vigil/warmup.h"

struct vg_warmup {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a turn came back, or wake() */
	int limit;
	int64_t stall_us;
	int busy;			/* turns held */
	int waiting;			/* cameras in vg_warmup_begin */
	int64_t progress_us;		/* monotonic: the last turn given or handed back */
};

struct vg_warmup *vg_warmup_new(int limit, int stall_ms)
{
	struct vg_warmup *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	if (g == NULL)
		return NULL;
	g->limit = limit < 1 ? 1 : limit;
	g->stall_us = (int64_t)(stall_ms < 0 ? 0 : stall_ms) * 1000;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	return g;
}

void vg_warmup_free(struct vg_warmup *g)
{
	if (g == NULL)
		return;
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
	free(g);
}

int vg_warmup_begin(struct vg_warmup *g, int *turn, int (*cancelled)(void *ud), void *ud)
{
	int waited = 0;

	if (g == NULL) {
		*turn = 1;
		return 1;
	}
	pthread_mutex_lock(&g->lock);
	if (*turn) {	/* still held from the camera's last session */
		pthread_mutex_unlock(&g->lock);
		return 1;
	}
	for (;;) {
		int64_t now = vg_time_mono_us();
		int64_t until = g->progress_us + g->stall_us;
		struct timespec ts;

		if (cancelled && cancelled(ud)) {
			g->waiting -= waited;
			pthread_mutex_unlock(&g->lock);
			return 0;
		}
		/* A free turn; or the turns held have not moved for the stall
		 * time (a camera that opened and sends nothing): go anyway,
		 * one camera per stall time. */
		if (g->busy < g->limit || now >= until)
			break;
		if (!waited) {
			waited = 1;
			g->waiting++;
		}
		ts.tv_sec = (time_t)(until / VG_US_PER_S);
		ts.tv_nsec = (long)(until % VG_US_PER_S) * 1000;
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	}
	g->waiting -= waited;
	g->busy++;
	g->progress_us = vg_time_mono_us();
	*turn = 1;
	pthread_mutex_unlock(&g->lock);
	return 1;
}

void vg_warmup_end(struct vg_warmup *g, int *turn)
{
	if (g == NULL) {
		*turn = 0;
		return;
	}
	pthread_mutex_lock(&g->lock);
	if (*turn) {
		*turn = 0;
		g->busy--;
		g->progress_us = vg_time_mono_us();
		pthread_cond_broadcast(&g->cond);
	}
	pthread_mutex_unlock(&g->lock);
}

void vg_warmup_wake(struct vg_warmup *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* One of the gate's counts, read under its lock. */
static int count(struct vg_warmup *g, const int *n)
{
	int v;

	if (g == NULL)
		return 0;
	pthread_mutex_lock(&g->lock);
	v = *n;
	pthread_mutex_unlock(&g->lock);
	return v;
}

int vg_warmup_busy(struct vg_warmup *g)
{
	return count(g, g ? &g->busy : NULL);
}

int vg_warmup_waiting(struct vg_warmup *g)
{
	return count(g, g ? &g->waiting : NULL);
}
