/*
 * metrics.c - the Prometheus text format (metrics.h), by hand: it is a
 * few lines of "# HELP", "# TYPE" and "name{label="value"} number", and
 * the test reads it back with the Prometheus client library's own parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/err.h"
#include "vigil/metrics.h"
#include "vigil/pipeline.h"

#define US_PER_S 1e6

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void sample(FILE *f, const char *name, const char *camera, double v)
{
	fputs(name, f);
	if (camera) {
		fputs("{camera=\"", f);
		label(f, camera);
		fputs("\"}", f);
	}
	fprintf(f, " %.15g\n", v);
}

/* One family with a sample per camera; field picks the value. */
static void per_camera(FILE *f, const struct vg_metrics *m, const char *name, const char *type,
		       const char *help, double (*field)(const struct vg_metrics_camera *c))
{
	family(f, name, type, help);
	for (int i = 0; i < m->n_cameras; i++)
		sample(f, name, m->cameras[i].name, field(&m->cameras[i]));
}

static double f_recording(const struct vg_metrics_camera *c)
{
	return strcmp(c->state, "recording") == 0;
}
static double f_fps(const struct vg_metrics_camera *c) { return c->fps; }
static double f_in(const struct vg_metrics_camera *c) { return (double)c->frames_in; }
static double f_enc(const struct vg_metrics_camera *c) { return (double)c->frames_encoded; }
static double f_drop(const struct vg_metrics_camera *c) { return (double)c->frames_dropped; }
static double f_skip(const struct vg_metrics_camera *c) { return (double)c->frames_skipped; }
static double f_clips(const struct vg_metrics_camera *c) { return (double)c->clips; }
static double f_reconn(const struct vg_metrics_camera *c) { return (double)c->reconnects; }
static double f_gap_open(const struct vg_metrics_camera *c) { return c->gap_open; }
static double f_gaps(const struct vg_metrics_camera *c) { return (double)c->gaps_24h; }
static double f_gap_s(const struct vg_metrics_camera *c) { return c->gap_seconds_24h; }

static void cameras(FILE *f, const struct vg_metrics *m)
{
	per_camera(f, m, "vigil_camera_recording", "gauge",
		   "1 if the camera is recording now, else 0.", f_recording);
	family(f, "vigil_camera_state", "gauge", "The camera's state now (one of the states is 1).");
	for (int i = 0; i < m->n_cameras; i++)
		for (int s = VG_PIPE_STARTING; s <= VG_PIPE_DISK_FULL; s++) {
			const char *st = vg_pipeline_state_name((enum vg_pipeline_state)s);

			fputs("vigil_camera_state{camera=\"", f);
			label(f, m->cameras[i].name);
			fprintf(f, "\",state=\"%s\"} %d\n", st, strcmp(st, m->cameras[i].state) == 0);
		}
	per_camera(f, m, "vigil_camera_fps", "gauge", "Pictures per second lately.", f_fps);
	per_camera(f, m, "vigil_camera_frames_total", "counter",
		   "Pictures received from the camera since vigild started.", f_in);
	per_camera(f, m, "vigil_camera_frames_encoded_total", "counter",
		   "Pictures written into clips since vigild started.", f_enc);
	per_camera(f, m, "vigil_camera_frames_dropped_total", "counter",
		   "Pictures lost (queue full, bad frames, driver gaps) since vigild started.",
		   f_drop);
	per_camera(f, m, "vigil_camera_frames_skipped_total", "counter",
		   "Of the pictures lost, those the camera's driver never delivered (gaps in its "
		   "frame counter) since vigild started.", f_skip);
	per_camera(f, m, "vigil_camera_clips_total", "counter",
		   "Clips completed since vigild started.", f_clips);
	per_camera(f, m, "vigil_camera_reconnects_total", "counter",
		   "Times the camera was lost and reopened since vigild started.", f_reconn);
	per_camera(f, m, "vigil_camera_gap_open", "gauge",
		   "1 while a gap in the recording is open (the camera is not recording).",
		   f_gap_open);
	per_camera(f, m, "vigil_camera_gaps_last_24h", "gauge",
		   "Gaps in the recording that overlap the last 24 hours.", f_gaps);
	per_camera(f, m, "vigil_camera_gap_seconds_last_24h", "gauge",
		   "Seconds of the last 24 hours in recorded gaps.", f_gap_s);
}

static void storage(FILE *f, const struct vg_sweeper_status *s)
{
	static const char *const alarms[] = { "disk_full", "disk_low", "clock_clamp",
					      "held_share" };
	int on[] = { s->disk_alarm, s->disk_low, s->clock_jump, s->held_warn };

	family(f, "vigil_disk_size_bytes", "gauge", "Size of the file system holding the footage.");
	sample(f, "vigil_disk_size_bytes", NULL, (double)s->total_bytes);
	family(f, "vigil_disk_free_bytes", "gauge", "Free space on it.");
	sample(f, "vigil_disk_free_bytes", NULL, (double)s->free_bytes);
	family(f, "vigil_disk_reserve_bytes", "gauge",
	       "Free space retention keeps (storage.min_free).");
	sample(f, "vigil_disk_reserve_bytes", NULL, (double)s->min_free_bytes);
	family(f, "vigil_held_bytes", "gauge", "Footage kept by evidence holds.");
	sample(f, "vigil_held_bytes", NULL, (double)s->held_bytes);
	family(f, "vigil_holds_overdue", "gauge", "Active holds past their review date.");
	sample(f, "vigil_holds_overdue", NULL, s->overdue_holds);
	family(f, "vigil_alarm", "gauge", "1 while the alarm stands (vigild's log says why).");
	for (size_t i = 0; i < sizeof(alarms) / sizeof(alarms[0]); i++)
		fprintf(f, "vigil_alarm{alarm=\"%s\"} %d\n", alarms[i], on[i] != 0);
}

int vg_metrics_format(FILE *f, const struct vg_metrics *m)
{
	family(f, "vigil_info", "gauge", "The recorder: firmware version, device and site (always 1).");
	fputs("vigil_info{version=\"", f);
	label(f, m->version);
	fputs("\",device=\"", f);
	label(f, m->device_id);
	fputs("\",site=\"", f);
	label(f, m->site);
	fputs("\"} 1\n", f);
	cameras(f, m);
	if (m->storage)
		storage(f, m->storage);
	family(f, "vigil_clock_synchronised", "gauge",
	       "1 if the system clock is synchronised (NTP), else 0.");
	sample(f, "vigil_clock_synchronised", NULL, m->clock_synced != 0);
	family(f, "vigil_clock_estimated_error_seconds", "gauge",
	       "The kernel's estimate of the clock's error.");
	sample(f, "vigil_clock_estimated_error_seconds", NULL,
	       (double)m->clock_esterror_us / US_PER_S);
	family(f, "vigil_audit_rows", "gauge", "Rows in the audit log (its last sequence number).");
	sample(f, "vigil_audit_rows", NULL, (double)m->audit_rows);
	if (m->last_checkpoint_us > 0) {
		family(f, "vigil_audit_last_checkpoint_timestamp_seconds", "gauge",
		       "When vigild last signed an audit checkpoint (Unix time).");
		sample(f, "vigil_audit_last_checkpoint_timestamp_seconds", NULL,
		       (double)m->last_checkpoint_us / US_PER_S);
		family(f, "vigil_audit_last_checkpoint_age_seconds", "gauge",
		       "Seconds since vigild last signed an audit checkpoint (hourly).");
		sample(f, "vigil_audit_last_checkpoint_age_seconds", NULL,
		       (double)(m->now_us - m->last_checkpoint_us) / US_PER_S);
	}
	family(f, "vigil_audit_witness_configured", "gauge",
	       "1 if an off-box witness receives the audit log, else 0.");
	sample(f, "vigil_audit_witness_configured", NULL, m->witness_configured != 0);
	if (m->witness_configured && m->witness_backlog >= 0) {
		family(f, "vigil_audit_witness_backlog", "gauge",
		       "Audit rows and checkpoints not yet sent to the witness.");
		sample(f, "vigil_audit_witness_backlog", NULL, (double)m->witness_backlog);
	}
	family(f, "vigil_config_warnings", "gauge",
	       "Warnings of the configuration check (vigilctl config check lists them).");
	sample(f, "vigil_config_warnings", NULL, m->config_warnings);
	return ferror(f) ? -1 : 0;
}

int vg_metrics_write(const char *path, const struct vg_metrics *m)
{
	char tmp[4096];
	FILE *f;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -VG_EINVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -vg_err_from_errno(errno);
	/* vigild's umask is 077; node_exporter runs as another user. */
	if (fchmod(fd, 0644) < 0 || (f = fdopen(fd, "w")) == NULL) {
		ret = -vg_err_from_errno(errno);
		close(fd);
		unlink(tmp);
		return ret;
	}
	if (vg_metrics_format(f, m) < 0)
		ret = -VG_EIO;
	if (fclose(f) != 0 && ret == 0)
		ret = -vg_err_from_errno(errno);
	/* No fsync: after a power cut a missing or older file is fine (the
	 * next write replaces it), and the flash is spared a sync a minute. */
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -vg_err_from_errno(errno);
	if (ret < 0)
		unlink(tmp);
	return ret;
}
