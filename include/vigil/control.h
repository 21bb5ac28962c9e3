/*
 * control.h - vigild's control socket: the only way staff reach footage.
 *
 * vigilctl is an ordinary, unprivileged client. vigild identifies the
 * caller by SO_PEERCRED (a uid the kernel vouches for, not a name the
 * client claims), maps it to a staff login in the config, asks the access
 * policy about each request (not each connection), writes an audit row for
 * every request, allowed or refused, and only then does the work itself:
 * the master key and the clip files never leave vigild.
 *
 * One thread accepts; each connection gets a worker thread, at most
 * VG_CONTROL_MAX_PER_UID per uid and VG_CONTROL_MAX_CONN in all.
 */
#ifndef VIGIL_CONTROL_H
#define VIGIL_CONTROL_H

#include <stdint.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/config.h"
#include "vigil/sign.h"

#define VG_CONTROL_MAX_CONN 16
#define VG_CONTROL_MAX_PER_UID 4

struct json_object;
struct AVPacket;
struct vg_sweeper;
struct vg_witness;

/* What the control server needs from the daemon; all borrowed. */
struct vg_control_env {
	struct vg_catalog *cat;
	struct vg_audit *audit;
	struct vg_sign_key *device_key;
	const uint8_t *master;
	const char *data_dir;
	/* The config is replaced on SIGHUP: take a reference for the length
	 * of one request and give it back. */
	const struct vg_config *(*config_get)(void *ud);
	void (*config_put)(void *ud, const struct vg_config *cfg);
	/* Fill out (a JSON object) with the daemon's status. */
	void (*status)(void *ud, struct json_object *out);
	/* An installer's snapshot of the named camera (vg_pipeline_snapshot):
	 * 0 and a JPEG in *jpeg (the caller frees it with av_packet_free), or
	 * -VG_ENOENT if no such camera is recording, or the pipeline's code.
	 * Blocks for up to a few seconds. NULL: snapshots are unavailable. */
	int (*snapshot)(void *ud, const char *camera, struct AVPacket **jpeg);
	/* Add what camera is doing now to its register entry e ("state",
	 * "audio": what `vigilctl status` says). NULL: the register shows
	 * only the configuration. */
	void (*camera_state)(void *ud, const char *camera, struct json_object *e);
	/* Retention (sweeper.h); NULL: none. retention_sweep asks for a sweep
	 * now (a hold was released: its footage may be needed to free the
	 * disk). retention_accept_clock confirms the clock after a clamp:
	 * 1 once the sweep that trusts it again has run (or is running), 0
	 * if retention was not clamped (nothing changes). */
	void (*retention_sweep)(void *ud);
	int (*retention_accept_clock)(void *ud);
	void *ud;
	/* The review report (report.h) reads these too: the audit database's
	 * path, and the retention thread for storage and alarms (NULL:
	 * "unknown" in the report). */
	const char *audit_path;
	struct vg_sweeper *sweeper;
	struct vg_witness *witness;	/* the off-box audit witness (witness.h); NULL: none */
};

struct vg_control;

/*
 * Bind path (mode 0660: the daemon's user and group) and start serving.
 * -VG_EEXIST if another vigild already answers on it; a stale socket file
 * from a crash is replaced.
 */
int vg_control_start(struct vg_control **out, const char *path, const struct vg_control_env *env);

/* Stop accepting, end every connection, join all threads, remove the
 * socket file. NULL is a no-op. */
void vg_control_stop(struct vg_control *c);

/* Audit a daemon event (uid -1, no login): recording start and stop, clip
 * created, camera lost, config reloaded... */
void vg_control_audit_event(struct vg_audit *a, const char *action, const char *object,
			    const char *reason);
/* The same with its outcome ("allowed" or "refused"): a refused reload. */
void vg_control_audit_outcome(struct vg_audit *a, const char *action, const char *object,
			      const char *outcome, const char *reason);

#endif
