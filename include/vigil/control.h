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
 * VG_CONTROL_MAX_CONN in all. Limits one group cannot use against another:
 *   - VG_CONTROL_MAX_PER_UID per staff account; the last 2 slots only for
 *     the DPO and the auditor, so that oversight always gets in;
 *   - an account in vigil's group but not on the staff list: one
 *     connection, 2 for all such accounts together, 4 requests of at most
 *     4 KiB each, 5 s idle;
 *   - a connection waiting for its next request is idle: when the limits
 *     are reached, a newcomer has the oldest idle connection of the
 *     account holding most closed (its own, at its own limit; never one of
 *     a higher class: no staff < staff < DPO/auditor); else it is refused
 *     with {"ok": false, "busy": true, "error": ...}.
 * Deadlines: 60 s idle between requests; a frame, once begun, must arrive
 * whole within 10 s; a reply the client does not take for 30 s ends the
 * connection. Malformed requests (bad frames, bad JSON, no or a mistyped
 * "cmd", unknown commands) and every request of a non-staff account get a
 * compact audit row (uid, action, what was wrong; never the payload), the
 * first of each kind per uid per minute, then one row with the count.
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
/* vg_control_stop waits this long for requests in progress. */
#define VG_CONTROL_STOP_S 5

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

/* Stop accepting, remove the socket file, end every connection (blocked
 * reads and writes return at once) and wait up to VG_CONTROL_STOP_S for
 * the requests in progress. Returns 0 when all ended (c is freed), or the
 * number of requests abandoned: their threads still run (stuck in I/O, or
 * a long export), so c and everything in its env (catalog, audit log)
 * must stay valid until the process exits. NULL: 0. */
int vg_control_stop(struct vg_control *c);

/* Audit a daemon event (uid -1, no login): recording start and stop, clip
 * created, camera lost, config reloaded... */
void vg_control_audit_event(struct vg_audit *a, const char *action, const char *object,
			    const char *reason);
/* The same with its outcome ("allowed" or "refused"): a refused reload. */
void vg_control_audit_outcome(struct vg_audit *a, const char *action, const char *object,
			      const char *outcome, const char *reason);

#endif
