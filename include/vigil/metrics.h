/*
 * metrics.h - fleet metrics in the Prometheus text format, written to a
 * file for node_exporter's textfile collector (metrics_file in the
 * config). vigild runs no HTTP server: node_exporter, already on the box
 * or its neighbour, serves the file with its own, and a housing
 * association's Prometheus scrapes hundreds of boxes the usual way.
 *
 * The file is replaced atomically (written beside it as PATH.tmp, which
 * the collector ignores, then renamed), mode 0644 so node_exporter's user
 * can read it: it holds camera and site names and counts, never footage
 * or staff names. Every metric is named vigil_*, documented in
 * docs/operator-guide.md (Fleet metrics) with its HELP line here.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "vigil/sweeper.h"

struct vg_metrics_camera {
	const char *name;
	const char *state;		/* vg_pipeline_state_name(); one-hot in
					 * vigil_camera_state{state="..."} */
	double fps;
	int64_t frames_in, frames_encoded, frames_dropped, clips, reconnects;
	int64_t frames_skipped;		/* of frames_dropped: the source's own gaps */
	int gap_open;			/* a gap is open now (not recording) */
	int64_t gaps_24h;		/* gaps overlapping the last 24 hours */
	double gap_seconds_24h;		/* their time within those 24 hours */
};

/* A snapshot of the daemon; pointers borrowed for the call. */
struct vg_metrics {
	const char *version, *device_id, *site;
	const struct vg_metrics_camera *cameras;
	int n_cameras;
	const struct vg_sweeper_status *storage;	/* NULL: not known yet */
	int clock_synced;
	int64_t clock_esterror_us;
	int64_t audit_rows;		/* the audit chain's last seq */
	int64_t last_checkpoint_us;	/* the daemon's last signed checkpoint; 0: none */
	int witness_configured;		/* off-box audit witness (audit.h) */
	int64_t witness_backlog;	/* rows not yet sent; -1: unknown */
	int config_warnings;		/* vg_confcheck() findings */
	int64_t now_us;
};

/* Write m in the text format to f. 0, or -1 if f reports an error. */
int vg_metrics_format(FILE *f, const struct vg_metrics *m);

/* Write m to path atomically (see above). 0, or a negative VG_E* code
 * (the old file, if any, is left as it was). */
int vg_metrics_write(const char *path, const struct vg_metrics *m);

#endif
