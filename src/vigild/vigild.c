/*
 * vigild - the capture daemon.
 *
 * Start-up order matters: the whole config is parsed and validated before
 * anything is touched (vigild -n stops there), then the data folder, the
 * master key and the catalog are opened, clips left open by a crash are
 * recovered, and only then do the cameras start.
 *
 * Signals are blocked in every thread and taken synchronously by the main
 * thread with sigtimedwait(), so no code runs in signal context:
 *   SIGTERM, SIGINT  finish every open clip and exit
 *   SIGHUP           reload the config: cameras added, removed or changed
 *                    are started or stopped; the others keep recording
 */
#define VG_LOG_MODULE "vigild"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libavutil/log.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/confcheck.h"
#include "vigil/config.h"
#include "vigil/control.h"
#include "vigil/diskguard.h"
#include "vigil/sign.h"
#include "vigil/err.h"
#include "vigil/keystore.h"
#include "vigil/log.h"
#include "vigil/metrics.h"
#include "vigil/pipeline.h"
#include "vigil/reconcile.h"
#include "vigil/sweeper.h"
#include "vigil/service.h"
#include "vigil/timeutil.h"
#include "vigil/warmup.h"
#include "vigil/witness.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.1.0"
#endif

/* A loaded config, kept alive while any camera started from it runs. */
struct cfg_ref {
	struct vg_config *cfg;
	int refs;
	struct cfg_ref *next;	/* every live config, so any can be found */
};

static struct cfg_ref *live_refs;

struct camera {
	struct cfg_ref *ref;
	const struct vg_camera_config *cam;
	struct vg_pipeline *pipe;
};

struct daemon {
	const char *config_path;
	struct cfg_ref *current;
	struct camera cams[VG_MAX_CAMERAS];
	int n_cams;
	struct vg_catalog *cat;
	struct vg_audit *audit;
	struct vg_witness *witness;	/* NULL: no witness configured */
	struct vg_sign_key *device_key;
	struct vg_control *control;
	struct vg_sweeper *sweeper;	/* retention thread (sweeper.h) */
	int control_abandoned;		/* requests still running after the stop */
	struct vg_diskguard *disk;	/* the free space recording may not take */
	uint8_t master[VG_MASTER_KEY_LEN];
	struct vg_pipeline_env env;
	char *data_dir;
	char *audit_path;		/* DATA_DIR/audit.db */
	int watchdog_fd;		/* hardware watchdog, -1 if none */
	int64_t last_checkpoint_us;	/* time of our last signed checkpoint */
	int metrics_error;		/* the last metrics write's result */
	int64_t last_in[VG_MAX_CAMERAS];	/* frames_in at the last health check */
	int64_t last_progress_us[VG_MAX_CAMERAS];
	/* Guards current, the camera table and config refcounts: the control
	 * threads read them while the main thread reloads. */
	pthread_mutex_t lock;
	/* Snapshots in progress (under lock): a control thread waits on a
	 * pipeline without the lock, so stop_camera waits for them to end
	 * (at most SNAPSHOT_TIMEOUT_MS) before it frees a pipeline. */
	int snapshots;
	pthread_cond_t snapshots_done;
};

#define CHECKPOINT_INTERVAL_US (3600 * VG_US_PER_S)
/* node_exporter is scraped every 15 s to a minute; this keeps up. */
#define METRICS_INTERVAL_US (10 * VG_US_PER_S)

static struct cfg_ref *cfg_ref_new(struct vg_config *cfg)
{
	struct cfg_ref *r = calloc(1, sizeof(*r));

	if (r) {
		r->cfg = cfg;
		r->refs = 1;
		r->next = live_refs;
		live_refs = r;
	}
	return r;
}

/* Callers hold the daemon's lock (or run before any other thread). */
static void cfg_ref_put(struct cfg_ref *r)
{
	if (r && --r->refs == 0) {
		for (struct cfg_ref **pp = &live_refs; *pp; pp = &(*pp)->next)
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		vg_config_free(r->cfg);
		free(r);
	}
}

/* FFmpeg's own messages go to our log (x264's end-of-stream statistics
 * are debug detail, not something an installer should read). */
static void av_log_to_vigil(void *avcl, int level, const char *fmt, va_list vl)
{
	char line[512];
	enum vg_log_level l;
	size_t n;

	if (level > AV_LOG_WARNING)
		l = VG_LOG_DEBUG;
	else if (level > AV_LOG_ERROR)
		l = VG_LOG_WARN;
	else
		l = VG_LOG_ERROR;
	vsnprintf(line, sizeof(line), fmt, vl);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n > 0)
		vg_log_write(l, avcl ? av_default_item_name(avcl) : "ffmpeg", 0, "%s", line);
}

static void log_warning(enum vg_confcheck_level level, const char *file, int line,
			const char *msg, void *ud);

/* ---- what the control server and the cameras ask of the daemon ---- */

static const struct vg_config *config_get(void *ud)
{
	struct daemon *d = ud;
	const struct vg_config *cfg;

	pthread_mutex_lock(&d->lock);
	d->current->refs++;
	cfg = d->current->cfg;
	pthread_mutex_unlock(&d->lock);
	return cfg;
}

static void config_put(void *ud, const struct vg_config *cfg)
{
	struct daemon *d = ud;

	pthread_mutex_lock(&d->lock);
	for (struct cfg_ref *r = live_refs; r; r = r->next)
		if (r->cfg == cfg) {
			cfg_ref_put(r);
			break;
		}
	pthread_mutex_unlock(&d->lock);
}

static int count_gap(const struct vg_gap *g, void *ud)
{
	(void)g;
	(*(int *)ud)++;
	return 0;
}

/* Local midnight today, for "gaps today". */
static int64_t today_start(void)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) * VG_US_PER_S;
}

/* A temporary camera whose remove_by day has begun records no more. */
static int camera_expired(const struct vg_camera_config *c)
{
	int64_t until;

	return c->is_temporary && c->temporary.remove_by != NULL &&
	       vg_time_local_date(c->temporary.remove_by, &until) == 0 &&
	       vg_time_now_us() >= until;
}

/* Cameras the configuration has recording: the encoders share the cores
 * between them (encoder.h). */
static int cameras_recording(const struct vg_config *cfg)
{
	int n = 0;

	for (int i = 0; i < cfg->n_cameras; i++)
		n += cfg->cameras[i].enabled && !camera_expired(&cfg->cameras[i]);
	return n;
}

/* The running camera called name, -1 if none (under the lock). */
static int running_index(const struct daemon *d, const char *name)
{
	for (int i = 0; i < d->n_cams; i++)
		if (strcmp(d->cams[i].cam->name, name) == 0)
			return i;
	return -1;
}

/* A configured camera that is not running: why not. */
static void idle_camera_json(const struct vg_camera_config *cc, struct json_object *c)
{
	const char *state = "failed", *why = "its pipeline could not start (see the log)";

	if (!cc->enabled) {
		state = "disabled";
		why = "enabled = false in the configuration";
	} else if (camera_expired(cc)) {
		state = "expired";
		why = "temporary camera past its remove_by date";
	}
	json_object_object_add(c, "name", json_object_new_string(cc->name));
	json_object_object_add(c, "state", json_object_new_string(state));
	json_object_object_add(c, "last_error", json_object_new_string(why));
	json_object_object_add(c, "audio", json_object_new_string("off"));
}

/* control.h camera_state: the register's "state" and "audio_state". */
static void camera_state_json(void *ud, const char *name, struct json_object *e)
{
	struct daemon *d = ud;
	struct json_object *tmp = json_object_new_object(), *v;
	const struct vg_config *cfg;
	const struct vg_camera_config *cc;
	int i;

	pthread_mutex_lock(&d->lock);
	cfg = d->current->cfg;
	cc = vg_config_camera(cfg, name);
	i = running_index(d, name);
	if (i >= 0) {
		struct vg_pipeline_status st;

		vg_pipeline_status(d->cams[i].pipe, &st);
		json_object_object_add(tmp, "state", json_object_new_string(vg_pipeline_state_name(st.state)));
		json_object_object_add(tmp, "audio", json_object_new_string(vg_audio_state_name(st.audio)));
	} else if (cc != NULL) {
		idle_camera_json(cc, tmp);
	}
	pthread_mutex_unlock(&d->lock);
	if (json_object_object_get_ex(tmp, "state", &v))
		json_object_object_add(e, "state", json_object_get(v));
	if (json_object_object_get_ex(tmp, "audio", &v))
		json_object_object_add(e, "audio_state", json_object_get(v));
	json_object_put(tmp);
}

/* "audit_log": whether the log was found broken at start, and how. */
static void audit_status_json(struct daemon *d, struct json_object *out)
{
	struct json_object *a = json_object_new_object();
	struct vg_audit_break b;
	int broken = vg_audit_broken(d->audit, &b);

	json_object_object_add(a, "broken", json_object_new_boolean(broken));
	if (broken) {
		json_object_object_add(a, "first_bad_row", json_object_new_int64(b.first_bad_seq));
		json_object_object_add(a, "broken_row", json_object_new_int64(b.row_seq));
		json_object_object_add(a, "problem", json_object_new_string(b.msg));
		json_object_object_add(a, "evidence", json_object_new_string(b.evidence));
	}
	json_object_object_add(out, "audit_log", a);
	a = json_object_new_object();
	json_object_object_add(a, "configured", json_object_new_boolean(d->witness != NULL));
	if (d->witness != NULL) {
		const struct vg_witness_config *w = &d->current->cfg->witness;
		struct vg_witness_status ws;
		char where[300];

		vg_witness_status(d->witness, &ws);
		snprintf(where, sizeof(where), "%s:%d", w->host ? w->host : "?", w->port);
		json_object_object_add(a, "collector", json_object_new_string(where));
		json_object_object_add(a, "connected", json_object_new_boolean(ws.connected));
		json_object_object_add(a, "backlog", json_object_new_int64(ws.backlog));
		json_object_object_add(a, "sent_seq", json_object_new_int64(ws.sent_seq));
		json_object_object_add(a, "last_error", json_object_new_string(ws.last_error));
	}
	json_object_object_add(out, "witness", a);
}

static void status_json(void *ud, struct json_object *out)
{
	struct daemon *d = ud;
	struct json_object *cams = json_object_new_array();
	char fp[17], dfp[VG_SIGN_FPR_HEX_LEN];
	const struct vg_config *cfg;

	pthread_mutex_lock(&d->lock);
	/* Every configured camera, running or not, in the file's order. */
	cfg = d->current->cfg;
	for (int k = 0; k < cfg->n_cameras; k++) {
		struct vg_pipeline_status st;
		struct json_object *c = json_object_new_object();
		int i = running_index(d, cfg->cameras[k].name);

		if (i < 0) {
			idle_camera_json(&cfg->cameras[k], c);
			json_object_array_add(cams, c);
			continue;
		}
		vg_pipeline_status(d->cams[i].pipe, &st);
		json_object_object_add(c, "name", json_object_new_string(d->cams[i].cam->name));
		json_object_object_add(c, "state", json_object_new_string(vg_pipeline_state_name(st.state)));
		json_object_object_add(c, "source", json_object_new_string(st.source));
		json_object_object_add(c, "frames_in", json_object_new_int64(st.frames_in));
		json_object_object_add(c, "fps", json_object_new_double(st.fps));
		json_object_object_add(c, "frames_encoded", json_object_new_int64(st.frames_encoded));
		json_object_object_add(c, "frames_dropped", json_object_new_int64(st.frames_dropped));
		json_object_object_add(c, "frames_skipped", json_object_new_int64(st.frames_skipped));
		json_object_object_add(c, "frames_lost", json_object_new_int64(st.frames_lost));
		json_object_object_add(c, "clips", json_object_new_int64(st.clips));
		json_object_object_add(c, "reconnects", json_object_new_int64(st.reconnects));
		json_object_object_add(c, "clip", json_object_new_string(st.clip_path));
		json_object_object_add(c, "last_error", json_object_new_string(st.last_error));
		json_object_object_add(c, "audio", json_object_new_string(vg_audio_state_name(st.audio)));
		json_object_object_add(c, "audio_error", json_object_new_string(st.audio_error));
		{
			int gaps = 0;

			vg_catalog_gaps(d->cat, d->cams[i].cam->name, today_start(), 0, count_gap,
					&gaps);
			json_object_object_add(c, "gaps_today", json_object_new_int(gaps));
		}
		json_object_array_add(cams, c);
	}
	pthread_mutex_unlock(&d->lock);
	json_object_object_add(out, "cameras", cams);
	json_object_object_add(out, "version", json_object_new_string(VIGIL_VERSION));
	{
		/* the zone the pictures' times are in (set once, at start) */
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		json_object_object_add(out, "timezone", json_object_new_string(getenv("TZ") ?
					       getenv("TZ") : "(system)"));
		json_object_object_add(out, "timezone_now", json_object_new_string(tm.tm_zone));
	}
	{
		struct json_object *w = json_object_new_array();

		pthread_mutex_lock(&d->lock);
		vg_confcheck(d->current->cfg, vg_time_now_us(), log_warning, w);
		pthread_mutex_unlock(&d->lock);
		json_object_object_add(out, "warnings", w);
	}
	{
		int64_t err;
		int synced = vg_clock_synced(&err);

		json_object_object_add(out, "clock_synchronised", json_object_new_boolean(synced));
		json_object_object_add(out, "clock_esterror_us", json_object_new_int64(err));
	}
	vg_keystore_fingerprint(d->master, fp);
	json_object_object_add(out, "master_key_fingerprint", json_object_new_string(fp));
	if (vg_sign_fingerprint(d->device_key, dfp) == 0)
		json_object_object_add(out, "device_key_fingerprint", json_object_new_string(dfp));
	vg_sweeper_status_json(d->sweeper, out);	/* "storage" */
	audit_status_json(d, out);	/* "audit_log" */
	{
		struct vg_diskguard_status ds;

		vg_diskguard_status(d->disk, &ds);
		json_object_object_add(out, "disk_full", json_object_new_boolean(ds.full));
		json_object_object_add(out, "disk_floor_bytes",
				       json_object_new_int64((int64_t)ds.floor_bytes));
		json_object_object_add(out, "audit_catalog_bytes",
				       json_object_new_int64((int64_t)ds.meta_bytes));
		json_object_object_add(out, "audit_growth_alarms",
				       json_object_new_int64(ds.meta_alarms));
	}
}

/* pipeline.h: a clip whose writer gave up (disk full) is finished now,
 * audited, while the camera goes on. */
static void recover_clip(void *ud, int64_t clip_id)
{
	struct daemon *d = ud;
	struct vg_clip c;

	if (vg_reconcile_clip(d->cat, d->audit, d->data_dir, d->master, clip_id, &c) == 0)
		vg_info("clip %lld finished after a failed write: %lld frames kept",
			(long long)clip_id, (long long)c.frames);
	vg_wipe(&c, sizeof(c));
}

/* control.h: retention, on staff's word. */
static void retention_sweep(void *ud)
{
	struct daemon *d = ud;

	vg_sweeper_kick(d->sweeper);
}

static int retention_accept_clock(void *ud)
{
	struct daemon *d = ud;

	if (!vg_sweeper_accept_clock(d->sweeper))
		return 0;
	/* Wait for the sweep that trusts the clock, so the answer says what
	 * it did; a very long one goes on after the reply. */
	vg_sweeper_sync(d->sweeper, 30000);
	return 1;
}

#define SNAPSHOT_TIMEOUT_MS 5000

/* control.h: find the camera under the lock, take the picture without it
 * (see snapshots in struct daemon). */
static int camera_snapshot(void *ud, const char *camera, AVPacket **jpeg)
{
	struct daemon *d = ud;
	struct vg_pipeline *pipe = NULL;
	int ret;

	*jpeg = NULL;
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < d->n_cams && pipe == NULL; i++)
		if (strcmp(d->cams[i].cam->name, camera) == 0)
			pipe = d->cams[i].pipe;
	if (pipe)
		d->snapshots++;
	pthread_mutex_unlock(&d->lock);
	if (pipe == NULL)
		return -VG_ENOENT;
	ret = vg_pipeline_snapshot(pipe, SNAPSHOT_TIMEOUT_MS, jpeg);
	pthread_mutex_lock(&d->lock);
	if (--d->snapshots == 0)
		pthread_cond_broadcast(&d->snapshots_done);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static void camera_event(void *ud, const char *camera, const char *action, const char *detail)
{
	struct daemon *d = ud;
	char object[800];

	snprintf(object, sizeof(object), "camera=%s %s", camera, detail);
	vg_control_audit_event(d->audit, action, object, "");
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vigild [-n] [-c FILE] [-d]\n"
		"  -c FILE   configuration file (default %s)\n"
		"  -n        check the configuration and exit (0 if valid)\n"
		"  -d        debug logging to stderr\n"
		"  -V        print the version and exit\n",
		VG_CONFIG_DEFAULT_PATH);
}

/* Outside systemd, as root: make the socket's folder for vigild's user,
 * open to its group (the staff who may use vigilctl). */
static void prepare_socket_dir(const struct vg_config *cfg)
{
	char dir[512];
	char *slash;
	struct passwd *pw = getpwnam(cfg->run_as);

	snprintf(dir, sizeof(dir), "%s", cfg->socket_path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir || pw == NULL)
		return;
	*slash = '\0';
	/* chmod: the umask (077) would otherwise shut the staff out. */
	if (mkdir(dir, 0750) == 0 &&
	    (chmod(dir, 0750) < 0 || chown(dir, pw->pw_uid, pw->pw_gid) < 0))
		vg_warn("cannot give %s to %s", dir, cfg->run_as);
}

/* Where vg_confcheck_file()'s findings go. */
enum show { SHOW_STDERR, SHOW_LOG };

static void show_finding(enum vg_confcheck_level level, const char *file, int line,
			 const char *msg, void *ud)
{
	char text[1200];

	vg_confcheck_format(level, file, line, msg, text, sizeof(text));
	if (*(enum show *)ud == SHOW_STDERR)
		fprintf(stderr, "%s\n", text);
	else if (level == VG_CONFCHECK_ERROR)
		vg_errx("%s", text);
	else
		vg_warnx("%s", text);
}

/*
 * The verdict `vigilctl config check` gives, from the same function
 * (confcheck.h): the file, the machine and the policy warnings, every
 * problem at once. First boot, Secure by Default: the box records only
 * once the config says whose cameras these are and who may answer for
 * the footage; there are no built-in accounts.
 */
static int load_config(const char *path, unsigned flags, enum show show, struct vg_config **out,
		       int *n_warnings)
{
	int ret = vg_confcheck_file(path, vg_time_now_us(), flags, show_finding, &show, out,
				    n_warnings);

	if (ret == -VG_ENOMEM)
		fprintf(stderr, "vigild: out of memory reading %s\n", path);
	return ret;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		vg_err("cannot create data folder %s", path);
		return -VG_EIO;
	}
	return 0;
}

static void start_camera(struct daemon *d, struct cfg_ref *ref, const struct vg_camera_config *c)
{
	struct camera *cam;

	if (!c->enabled) {
		int64_t until = 0;

		vg_info("camera %s is disabled in the configuration", c->name);
		/* Its time is accounted for too: a gap from where its record
		 * stops, closed when it records again. */
		if (vg_catalog_recorded_until(d->cat, c->name, &until) == 0 && until > 0)
			vg_catalog_gap_ensure(d->cat, c->name, until, "disabled in the configuration",
					      NULL);
		return;
	}
	if (camera_expired(c)) {
		/* not started only to stop at once: vigilctl status lists it */
		vg_warnx("camera %s: temporary camera past its remove_by date %s: not recording; "
			 "remove it or renew remove_by in the configuration (policy 3.4, 4.2)",
			 c->name, c->temporary.remove_by);
		return;
	}
	if (d->n_cams == VG_MAX_CAMERAS)
		return;
	cam = &d->cams[d->n_cams];
	if (vg_pipeline_start(&cam->pipe, c, &d->env) < 0) {
		vg_errx("camera %s: cannot start its pipeline", c->name);
		return;
	}
	{
		char object[600];

		snprintf(object, sizeof(object), "camera=%s device=%s", c->name,
			 c->kind == VG_SOURCE_SYNTHETIC ? "synthetic" : c->device);
		vg_control_audit_event(d->audit, "recording.start", object,
				       c->purpose ? c->purpose : "");
	}
	pthread_mutex_lock(&d->lock);
	cam->ref = ref;
	cam->cam = c;
	ref->refs++;
	d->n_cams++;
	pthread_mutex_unlock(&d->lock);
}

static void stop_camera(struct daemon *d, int i, const char *why)
{
	struct camera cam;
	char object[64];

	pthread_mutex_lock(&d->lock);
	cam = d->cams[i];
	d->cams[i] = d->cams[d->n_cams - 1];
	d->n_cams--;
	while (d->snapshots > 0)	/* one may be waiting on cam.pipe */
		pthread_cond_wait(&d->snapshots_done, &d->lock);
	pthread_mutex_unlock(&d->lock);
	/* Stopping finishes the open clip: not under the lock. */
	vg_pipeline_stop_because(cam.pipe, why);
	snprintf(object, sizeof(object), "camera=%s", cam.cam->name);
	vg_control_audit_event(d->audit, "recording.stop", object, "");
	pthread_mutex_lock(&d->lock);
	cfg_ref_put(cam.ref);
	pthread_mutex_unlock(&d->lock);
}

static void reload(struct daemon *d)
{
	struct vg_config *cfg;
	struct cfg_ref *ref;
	int added = 0, removed = 0, changed = 0;

	vg_info("SIGHUP: reloading %s", d->config_path);
	/* No SET_ZONE: threads run; the zone is the one vigild started with. */
	if (load_config(d->config_path, 0, SHOW_LOG, &cfg, NULL) < 0) {
		vg_errx("the new configuration has errors (above); still running the old one");
		vg_control_audit_outcome(d->audit, "config.reload", d->config_path, "refused",
					 "the new configuration has errors: still running the "
					 "old one");
		return;
	}
	if (strcmp(cfg->data_dir, d->data_dir) != 0 ||
	    strcmp(cfg->catalog, d->current->cfg->catalog) != 0 ||
	    strcmp(cfg->key_file, d->current->cfg->key_file) != 0)
		vg_warnx("data_dir, catalog and key_file changes take effect at the next restart");
	if (getenv("TZ") != NULL && strcmp(cfg->timezone, getenv("TZ")) != 0)
		vg_warnx("timezone \"%s\" takes effect at the next restart; the pictures keep "
			 "the zone vigild started with (%s)", cfg->timezone, getenv("TZ"));
	pthread_mutex_lock(&d->lock);
	ref = cfg_ref_new(cfg);
	pthread_mutex_unlock(&d->lock);
	if (ref == NULL) {
		vg_config_free(cfg);
		return;
	}
	/* Stop cameras that are gone or whose settings changed. */
	for (int i = 0; i < d->n_cams;) {
		const struct vg_camera_config *n = vg_config_camera(cfg, d->cams[i].cam->name);

		if (n && n->enabled && vg_config_camera_equal(n, d->cams[i].cam)) {
			i++;
			continue;
		}
		vg_info("camera %s: %s", d->cams[i].cam->name,
			n && n->enabled ? "settings changed, restarting" : "removed or disabled");
		if (n && n->enabled)
			changed++;
		else
			removed++;
		stop_camera(d, i, n == NULL ? "removed from the configuration"
			    : !n->enabled ? "disabled in the configuration"
					  : "restarted with changed settings");
	}
	/* Start cameras that are new (or were just stopped for a change). */
	d->env.streams = cameras_recording(cfg);
	for (int i = 0; i < cfg->n_cameras; i++) {
		const struct vg_camera_config *c = &cfg->cameras[i];
		int running = 0;

		for (int j = 0; j < d->n_cams; j++)
			if (strcmp(d->cams[j].cam->name, c->name) == 0)
				running = 1;
		if (running || !c->enabled || camera_expired(c))
			continue;
		if (vg_config_camera(d->current->cfg, c->name) == NULL)
			added++;
		start_camera(d, ref, c);
	}
	pthread_mutex_lock(&d->lock);
	cfg_ref_put(d->current);
	d->current = ref;
	pthread_mutex_unlock(&d->lock);
	vg_log_set_level((enum vg_log_level)cfg->log_level);
	/* retention: new per-camera days, min_free, held share (sweeper.h) */
	if (vg_sweeper_reload(d->sweeper, cfg) < 0)
		vg_errx("cannot apply the new retention settings; keeping the old ones");
	vg_diskguard_set(d->disk, cfg->min_free_bytes, cfg->min_free_percent);
	vg_info("configuration reloaded: %d camera(s) added, %d removed, %d changed, %d running",
		added, removed, changed, d->n_cams);
	{
		char object[200];

		snprintf(object, sizeof(object), "file=%s added=%d removed=%d changed=%d",
			 d->config_path, added, removed, changed);
		vg_control_audit_event(d->audit, "config.reload", object, "SIGHUP");
	}
}

static void status_lines(struct daemon *d, int64_t interval_us, int64_t *last_frames)
{
	for (int i = 0; i < d->n_cams; i++) {
		struct vg_pipeline_status st;

		vg_pipeline_status(d->cams[i].pipe, &st);
		vg_info("status %s: %s, frames in %lld encoded %lld dropped %lld (skipped by the "
			"source %lld), %.1f fps, %lld clips, clip %s",
			d->cams[i].cam->name, vg_pipeline_state_name(st.state),
			(long long)st.frames_in, (long long)st.frames_encoded,
			(long long)st.frames_dropped, (long long)st.frames_skipped,
			interval_us > 0 ? (double)(st.frames_encoded - last_frames[i]) * 1e6 /
						  (double)interval_us
					: 0.0,
			(long long)st.clips, st.clip_path[0] ? st.clip_path : "(none)");
		last_frames[i] = st.frames_encoded;
	}
}

static int all_done(struct daemon *d)
{
	if (d->n_cams == 0)
		return 0;
	for (int i = 0; i < d->n_cams; i++)
		if (!vg_pipeline_done(d->cams[i].pipe))
			return 0;
	return 1;
}

/*
 * Alive means every camera is either delivering pictures (its frame count
 * moved in the last 10 s) or in a logged reconnect loop. Only then are the
 * hardware watchdog and systemd's watchdog fed, so a wedged daemon gets
 * the box rebooted while a camera that is merely unplugged does not.
 */
static int healthy(struct daemon *d)
{
	int64_t now = vg_time_mono_us();

	for (int i = 0; i < d->n_cams; i++) {
		struct vg_pipeline_status st;

		vg_pipeline_status(d->cams[i].pipe, &st);
		if (st.frames_in != d->last_in[i] || d->last_progress_us[i] == 0) {
			d->last_in[i] = st.frames_in;
			d->last_progress_us[i] = now;
		}
		if (st.state == VG_PIPE_RECONNECTING || st.state == VG_PIPE_ENDED ||
		    st.state == VG_PIPE_EXPIRED)
			continue;
		if (now - d->last_progress_us[i] > 10 * VG_US_PER_S)
			return 0;
	}
	return 1;
}

/* Warn (at start and hourly) when the clock is not synchronised: the
 * time burnt into every picture and stored with every clip comes from it. */
static void check_clock(void)
{
	int64_t err;

	if (!vg_clock_synced(&err))
		vg_warnx("the system clock is not synchronised (no NTP or other time source): "
			 "the times on the pictures may be wrong; set up time synchronisation");
}

/* The policy warnings config check prints (no signage date, sound on,
 * temporary cameras near their date...), logged at start and hourly and
 * listed in status, so nobody has to remember to run the check. */
static void log_warning(enum vg_confcheck_level level, const char *file, int line,
			const char *msg, void *ud)
{
	(void)level;
	if (ud)
		json_object_array_add(ud, json_object_new_string(msg));
	else
		vg_warnx("%s:%d: %s", file, line, msg);
}

static void policy_warnings(struct daemon *d)
{
	vg_confcheck(d->current->cfg, vg_time_now_us(), log_warning, NULL);
}

static void checkpoint(struct daemon *d)
{
	struct vg_audit_checkpoint cp;

	if (vg_audit_broken(d->audit, NULL))
		vg_errx("ALARM: the audit log is broken and not acknowledged: no checkpoint is "
			"signed over it (vigilctl status; the DPO runs 'vigilctl audit acknowledge')");
	else if (vg_audit_checkpoint(d->audit, &cp) < 0)
		vg_errx("cannot sign the audit checkpoint");
	else
		d->last_checkpoint_us = cp.time_us;
	vg_witness_kick(d->witness);
}

struct gap_sum {
	int64_t from_us, now_us, n;
	double seconds;
	int open;
};

static int sum_gap(const struct vg_gap *g, void *ud)
{
	struct gap_sum *s = ud;
	int64_t a = g->from_us > s->from_us ? g->from_us : s->from_us;
	int64_t b = g->to_us ? g->to_us : s->now_us;

	s->n++;
	s->open |= g->to_us == 0;
	if (b > a)
		s->seconds += (double)(b - a) / 1e6;
	return 0;
}

static void count_warning(enum vg_confcheck_level level, const char *file, int line,
			  const char *msg, void *ud)
{
	(*(int *)ud)++;
}

/* The Prometheus text file for node_exporter (metrics.h), if configured. */
static void write_metrics(struct daemon *d)
{
	const struct vg_config *cfg = d->current->cfg;
	struct vg_metrics_camera cams[VG_MAX_CAMERAS];
	struct vg_pipeline_status st[VG_MAX_CAMERAS];
	struct vg_sweeper_status sto;
	struct vg_metrics m = {
		.version = VIGIL_VERSION, .site = cfg->has_site ? cfg->site.name : "",
		.cameras = cams, .storage = &sto, .last_checkpoint_us = d->last_checkpoint_us,
		.witness_backlog = -1, .now_us = vg_time_now_us(),
		.witness_configured = d->witness != NULL,
	};
	char fpr[VG_SIGN_FPR_HEX_LEN] = "", id[32];
	uint8_t head[VG_AUDIT_HASH_LEN];
	int ret;

	if (cfg->metrics_file == NULL)
		return;
	vg_sign_fingerprint(d->device_key, fpr);
	snprintf(id, sizeof(id), "vigil-%.16s", fpr);	/* as in exports and reports */
	m.device_id = id;
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < d->n_cams; i++) {
		struct gap_sum g = { .from_us = m.now_us - 86400 * VG_US_PER_S, .now_us = m.now_us };

		vg_pipeline_status(d->cams[i].pipe, &st[i]);
		vg_catalog_gaps(d->cat, d->cams[i].cam->name, g.from_us, 0, sum_gap, &g);
		cams[i] = (struct vg_metrics_camera){
			.name = d->cams[i].cam->name, .state = vg_pipeline_state_name(st[i].state),
			.fps = st[i].fps, .frames_in = st[i].frames_in,
			.frames_encoded = st[i].frames_encoded,
			.frames_dropped = st[i].frames_dropped, .clips = st[i].clips,
			.frames_skipped = st[i].frames_skipped,
			.reconnects = st[i].reconnects, .gap_open = g.open, .gaps_24h = g.n,
			.gap_seconds_24h = g.seconds,
		};
	}
	m.n_cameras = d->n_cams;
	vg_confcheck(cfg, m.now_us, count_warning, &m.config_warnings);
	pthread_mutex_unlock(&d->lock);
	vg_sweeper_status(d->sweeper, &sto);
	if (sto.sweeps == 0)
		m.storage = NULL;
	m.clock_synced = vg_clock_synced(&m.clock_esterror_us);
	vg_audit_head(d->audit, &m.audit_rows, head);
	if (d->witness != NULL) {
		struct vg_witness_status ws;

		vg_witness_status(d->witness, &ws);
		m.witness_backlog = ws.backlog;
	}
	ret = vg_metrics_write(cfg->metrics_file, &m);
	/* Said once per change, not every 10 s; recording goes on regardless. */
	if (ret < 0 && ret != d->metrics_error)
		vg_warnx("cannot write the metrics file %s: %s; check that the folder exists "
			 "and that vigild's user may write in it", cfg->metrics_file,
			 vg_strerror(ret));
	else if (ret == 0 && d->metrics_error < 0)
		vg_info("metrics file %s written again", cfg->metrics_file);
	d->metrics_error = ret;
}

static int run(struct daemon *d)
{
	sigset_t sigs;
	int64_t last_checkpoint = vg_time_mono_us();
	int64_t last_feed = 0;
	int64_t last_status = vg_time_mono_us();
	int64_t last_metrics = 0;
	int64_t last_frames[VG_MAX_CAMERAS] = { 0 };

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	for (;;) {
		struct timespec tick = { .tv_sec = 0, .tv_nsec = 200 * 1000000L };
		int sig = sigtimedwait(&sigs, NULL, &tick);
		int64_t interval = (int64_t)d->current->cfg->status_interval * VG_US_PER_S;

		if (sig == SIGTERM || sig == SIGINT) {
			vg_info("%s: finishing open clips", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		if (sig == SIGHUP)
			reload(d);
		if (vg_time_mono_us() - last_feed >= VG_US_PER_S) {
			last_feed = vg_time_mono_us();
			if (healthy(d)) {
				vg_watchdog_feed(d->watchdog_fd);
				vg_service_notify("WATCHDOG=1");
			}
		}
		if (vg_time_mono_us() - last_status >= interval) {
			status_lines(d, vg_time_mono_us() - last_status, last_frames);
			last_status = vg_time_mono_us();
		}
		if (vg_time_mono_us() - last_metrics >= METRICS_INTERVAL_US) {
			write_metrics(d);
			last_metrics = vg_time_mono_us();
		}
		if (vg_time_mono_us() - last_checkpoint >= CHECKPOINT_INTERVAL_US) {
			checkpoint(d);
			check_clock();
			policy_warnings(d);
			last_checkpoint = vg_time_mono_us();
		}
		if (all_done(d)) {
			vg_info("every camera's input has ended");
			break;
		}
	}
	/* Staff requests end first (within VG_CONTROL_STOP_S), then the
	 * cameras finish their clips. */
	d->control_abandoned = vg_control_stop(d->control);
	d->control = NULL;
	while (d->n_cams > 0)
		stop_camera(d, d->n_cams - 1, "vigild stopped");
	return 0;	/* main signs the checkpoint after the daemon.stop row */
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct vg_config *cfg = NULL;
	struct vg_reconcile_report rep;
	struct vg_audit_break brk;
	struct vg_reconcile_bg *recon = NULL;
	int64_t recon_since = 0;
	sigset_t sigs;
	char why[512];
	int check_only = 0, debug = 0, created = 0, opt, ret = 1, n_warn = 0, modes_repaired = 0;

	memset(&d, 0, sizeof(d));
	d.watchdog_fd = -1;
	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.snapshots_done, NULL);
	d.config_path = VG_CONFIG_DEFAULT_PATH;
	while ((opt = getopt(argc, argv, "c:ndVh")) != -1) {
		switch (opt) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'V':
			printf("vigild %s\n", VIGIL_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* Before any key, catalog or folder is made; the box's time zone is
	 * set here, before any thread starts. */
	if (load_config(d.config_path, VG_CONFCHECK_SET_ZONE, SHOW_STDERR, &cfg, &n_warn) < 0) {
		fprintf(stderr, "%s: errors: vigild will not start with this file\n",
			d.config_path);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration OK (%d camera(s)", d.config_path, cfg->n_cameras);
		if (n_warn > 0)
			printf(", %d warning(s) to act on", n_warn);
		printf(")\n");
		vg_config_free(cfg);
		return 0;
	}
	vg_log_init("vigild", cfg->log_syslog && !debug,
		    debug ? VG_LOG_DEBUG : (enum vg_log_level)cfg->log_level);
	av_log_set_callback(av_log_to_vigil);
	d.current = cfg_ref_new(cfg);
	if (d.current == NULL)
		return 1;

	/* Block the signals before any thread starts, so all inherit it. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	umask(077);	/* nothing vigild writes is for anyone else */

	/* What needs root happens first: the watchdog device and the socket's
	 * folder (outside systemd, which makes /run/vigil itself). */
	d.watchdog_fd = vg_watchdog_open(cfg->watchdog);
	if (geteuid() == 0)
		prepare_socket_dir(cfg);
	if (vg_service_drop_root(cfg->run_as, why, sizeof(why)) < 0) {
		vg_errx("%s", why);
		ret = 1;
		goto out;
	}

	d.data_dir = strdup(cfg->data_dir);
	if (d.data_dir == NULL || make_dir(cfg->data_dir) < 0)
		goto out;
	/* Before anything in it is opened: ours alone (reconcile.h). */
	modes_repaired = vg_reconcile_data_modes(cfg->data_dir, cfg->catalog, cfg->key_file, why,
						 sizeof(why));
	if (modes_repaired < 0) {
		vg_errx("refusing to start: %s", why);
		ret = 1;
		goto out;
	}
	ret = vg_keystore_load(cfg->key_file, 1, d.master, &created, why, sizeof(why));
	if (ret < 0) {
		vg_errx("master key %s: %s", cfg->key_file, why);
		ret = 1;
		goto out;
	}
	{
		char fp[17];

		vg_keystore_fingerprint(d.master, fp);
		vg_info("master key %s %s (fingerprint %s)", cfg->key_file,
			created ? "created" : "loaded", fp);
	}
	if (vg_catalog_open(&d.cat, cfg->catalog) < 0) {
		vg_errx("cannot open the catalog %s", cfg->catalog);
		ret = 1;
		goto out;
	}
	{
		char path[1024];

		snprintf(path, sizeof(path), "%s/device.key", cfg->data_dir);
		if (vg_sign_key_load(path, 1, &d.device_key, &created, why, sizeof(why)) < 0) {
			vg_errx("device key %s: %s", path, why);
			ret = 1;
			goto out;
		}
		snprintf(path, sizeof(path), "%s/audit.db", cfg->data_dir);
		d.audit_path = strdup(path);
		if (d.audit_path == NULL || vg_audit_open(path, d.device_key, &d.audit) < 0) {
			vg_errx("cannot open the audit log %s", path);
			ret = 1;
			goto out;
		}
		vg_audit_set_syslog(cfg->log_syslog);
		/* Before any row or checkpoint of this run: a log found broken
		 * is recorded and kept as evidence, never signed over. */
		snprintf(path, sizeof(path), "%s/audit-evidence", cfg->data_dir);
		if (vg_audit_start_check(d.audit, path, &brk) == 1)
			vg_errx("ALARM: the audit log is broken: %s (first bad row %lld); a copy is "
				"kept in %s; no checkpoint will be signed and footage operations "
				"are refused (except the DPO's viewing) until the DPO runs 'vigilctl "
				"audit acknowledge'", brk.msg, (long long)brk.first_bad_seq,
				brk.evidence[0] ? brk.evidence : "(nowhere: copying failed)");
		if (cfg->witness.host != NULL) {
			char host[256] = "-";

			gethostname(host, sizeof(host) - 1);
			snprintf(path, sizeof(path), "%s/witness.state", cfg->data_dir);
			if (vg_witness_start(&d.witness, d.audit, &cfg->witness, path, host) < 0) {
				ret = 1;
				goto out;
			}
		}
	}
	vg_control_audit_event(d.audit, "daemon.start", d.config_path, "vigild " VIGIL_VERSION);
	if (modes_repaired > 0) {
		char object[64];

		snprintf(object, sizeof(object), "repaired=%d", modes_repaired);
		vg_control_audit_event(d.audit, "data.modes_repaired", object,
				       "the data folder or its files were open to others: closed "
				       "(the log names each)");
	}
	/* Clips open at the crash are repaired before recording resumes; the
	 * check of every file against the catalog runs once the cameras have
	 * started, and reports (log and audit) when it ends (reconcile.h). */
	recon_since = vg_time_now_us();
	if (vg_reconcile_open_clips(d.cat, d.audit, cfg->data_dir, d.master, &rep) < 0)
		vg_warnx("recovering the clips left open by a crash failed; recording anyway");
	/* Each clip has its own row, written before it was touched; this one
	 * sums them up (the file check's own row repeats these counts). */
	if (rep.recovered || rep.unreadable || rep.empty_removed) {
		char object[160];

		snprintf(object, sizeof(object), "recovered=%d unreadable=%d empty_removed=%d",
			 rep.recovered, rep.unreadable, rep.empty_removed);
		vg_control_audit_event(d.audit, "catalog.recover", object,
				       "start-up after a crash: clips left open were cut to their "
				       "last good chunk");
	}
	/* retention: finish interrupted deletions, then sweep at start and
	 * every minute, before recording resumes (sweeper.h) */
	if (vg_sweeper_start(&d.sweeper, d.cat, d.audit, cfg->data_dir, cfg, NULL) < 0) {
		vg_errx("cannot start the retention sweeper");
		ret = 1;
		goto out;
	}

	if (vg_diskguard_new(&d.disk, cfg->data_dir, cfg->min_free_bytes, cfg->min_free_percent,
			     NULL) < 0) {
		ret = 1;
		goto out;
	}
	{
		/* Their growth takes footage (diskguard.h): watched. */
		char wal[2][1100];
		const char *watch[4] = { d.audit_path, cfg->catalog, wal[0], wal[1] };

		snprintf(wal[0], sizeof(wal[0]), "%s-wal", d.audit_path);
		snprintf(wal[1], sizeof(wal[1]), "%s-wal", cfg->catalog);
		vg_diskguard_watch(d.disk, watch, 4);
	}
	d.env.data_dir = d.data_dir;
	d.env.master = d.master;
	d.env.cat = d.cat;
	d.env.event = camera_event;
	d.env.event_ud = &d;
	d.env.disk = d.disk;
	d.env.recover = recover_clip;
	d.env.streams = cameras_recording(cfg);
	/* As many cameras warm up at once as there are cores (warmup.h). */
	d.env.warmup = vg_warmup_new((int)sysconf(_SC_NPROCESSORS_ONLN),
				      VG_WARMUP_STALL_MS);
	if (d.env.warmup == NULL) {
		ret = 1;
		goto out;
	}
	{
		struct vg_control_env ce = {
			.cat = d.cat, .audit = d.audit, .device_key = d.device_key,
			.master = d.master, .data_dir = d.data_dir, .config_get = config_get,
			.config_put = config_put, .status = status_json, .snapshot = camera_snapshot,
			.camera_state = camera_state_json,
			.ud = &d, .audit_path = d.audit_path, .sweeper = d.sweeper,
			.witness = d.witness,
			.retention_sweep = retention_sweep,
			.retention_accept_clock = retention_accept_clock,
		};

		if (vg_control_start(&d.control, cfg->socket_path, &ce) < 0) {
			ret = 1;
			goto out;
		}
	}
	checkpoint(&d);
	vg_info("vigild %s starting with %d camera(s) from %s", VIGIL_VERSION, cfg->n_cameras,
		d.config_path);
	for (int i = 0; i < cfg->n_cameras; i++)
		start_camera(&d, d.current, &cfg->cameras[i]);
	if (vg_reconcile_bg_start(&recon, d.cat, d.audit, cfg->data_dir, recon_since, &rep) < 0)
		vg_warnx("cannot start checking the clip files against the catalog");
	check_clock();	/* the policy warnings came with the config check */
	vg_service_notify("READY=1");
	ret = run(&d);
	vg_service_notify("STOPPING=1");
	/* Every clip is finished at a clean stop: one a failed write left
	 * open (a full disk) is recovered now, not at the next start. */
	if (vg_reconcile_open_clips(d.cat, d.audit, d.data_dir, d.master, &rep) == 0 &&
	    (rep.recovered || rep.empty_removed))
		vg_info("finished %d clip(s) a failed write had left open (%d held no footage)",
			rep.recovered + rep.empty_removed, rep.empty_removed);
	vg_reconcile_bg_stop(recon, NULL);	/* its audit row comes before daemon.stop */
	recon = NULL;
	vg_control_audit_event(d.audit, "daemon.stop", d.config_path, "");
	checkpoint(&d);	/* the last row is signed: deleting it is detected */
	vg_witness_stop(d.witness, 5000);	/* and sent off the box, if it can be */
	d.witness = NULL;
	vg_info("vigild stopped");
out:
	vg_control_stop(d.control);
	vg_sweeper_stop(d.sweeper);	/* before the catalog closes */
	vg_diskguard_free(d.disk);
	vg_warmup_free(d.env.warmup);	/* every camera stopped in run() */
	vg_reconcile_bg_stop(recon, NULL);	/* before the catalog and audit close */
	vg_witness_stop(d.witness, 0);
	/* A request abandoned at the stop may still use them: the process's
	 * exit closes them instead (every row and clip is already durable). */
	if (!d.control_abandoned) {
		vg_audit_close(d.audit);
		vg_sign_key_free(d.device_key);
		vg_catalog_close(d.cat);
		/* (left for the exit too: a request reading with a wiped key
		 * would report the clips as tampered) */
		vg_wipe(d.master, sizeof(d.master));
	}
	cfg_ref_put(d.current);
	vg_watchdog_close(d.watchdog_fd);
	free(d.data_dir);
	free(d.audit_path);
	return ret;
}
