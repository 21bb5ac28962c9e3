/*
 * ctlclient.h - vigilctl's side of the control socket, shared by the
 * files that implement its commands (vigilctl*.c). Private to vigilctl.
 */
#ifndef VIGIL_CTLCLIENT_H
#define VIGIL_CTLCLIENT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_NO_DAEMON 3
/* vigild refused the connection (busy: every slot for your role in use)
 * or dropped it before it answered (see vigilctl(8), CONNECTIONS). (4 is
 * verify's "intact, but not signed by the recorder expected".) */
#define EXIT_DROPPED 5

#define CTL_MAX_CAMERAS 32
#define CTL_MAX_REDACT 64

/* Long options of export (values outside any short option's range);
 * ctl_export_option() takes them. */
enum {
	CTL_OPT_RECIPIENT = 0x200,
	CTL_OPT_ORGANISATION,
	CTL_OPT_DEST,
	CTL_OPT_ISO,
	CTL_OPT_FORCE,
	CTL_OPT_POLICE_DECISION,
	CTL_OPT_VICTIM_WISHES,
	CTL_OPT_REDACT,
	CTL_OPT_BURN,
	CTL_OPT_DISC_SIZE,
	CTL_OPT_DEVICE,
	CTL_OPT_KEY,		/* verify --key FILE */
	CTL_OPT_FINGERPRINT,	/* verify --fingerprint HEX */
};

/* The parsed command line. */
struct ctl {
	const char *config_path;
	const char *socket_path;
	const char *camera, *purpose, *reference, *user, *action;
	const char *reason, *review_by;	/* hold: --reason, --review-by */
	/* export: --camera repeated (camera is the last one), --redact
	 * repeated; counts may exceed the arrays (export says so). */
	const char *cameras[CTL_MAX_CAMERAS];
	int n_cameras;
	const char *redact[CTL_MAX_REDACT];
	int n_redact;
	const char *recipient, *organisation, *dest, *iso, *police_decision, *victim_wishes;
	const char *burn;	/* export --burn DEV: burn the image(s) after */
	const char *device;	/* burn --device DEV */
	int64_t disc_bytes;	/* export --disc-size; 0: a single-layer DVD */
	int force;
	int dropped;	/* vigild refused or dropped the connection */
	int64_t from, to;
	int json;
	const char *out;	/* report --out FILE */
	const char *witness;	/* audit verify --witness FILE */
	char **args;		/* positional arguments after the command */
	int n_args;
	int fd;
	const char *key_file, *fingerprint;	/* verify: the recorder expected */
	int quiet;		/* ctl_connect says nothing when it fails */
	int daemon_gid;		/* the socket's group (vigild's), -1 unknown */
	struct ctl_made *made;	/* what vigilctl_dest.c made for vigild */
};

/* Connect to vigild (socket from -s, else the config, else the default)
 * and say hello; prints why not and returns -1 if nothing answers, or
 * EXIT_DROPPED if vigild refused the connection (busy) or dropped it.
 * Ignores SIGPIPE: a dropped connection is reported in words. */
int ctl_connect(struct ctl *c);
/* Send req (consumed) with the global --purpose and --reference. */
int ctl_send(struct ctl *c, struct json_object *req);
/* The JSON reply; prints the refusal and returns NULL on {"ok": false}. */
struct json_object *ctl_read_reply(struct ctl *c);
/* Read the reply to a long job (export, burn), showing the DATA frames
 * vigild sends meanwhile ({"done","total","elapsed_us"}) as a progress bar
 * with rate and time left on a terminal, or a line per 10 % otherwise,
 * labelled label. NULL if refused (printed), or if the connection broke
 * (printed, with hint: where to see what happened). */
struct json_object *ctl_await_reply(struct ctl *c, const char *label, const char *hint);
/* vigild runs elsewhere (another working folder): paths go to it absolute.
 * path must exist, or with may_be_new its folder must (a file to create).
 * 0, or -1 with the reason printed. */
int ctl_absolute_path(const char *path, int may_be_new, char out[PATH_MAX]);
/* "1.5 MB", "2.10 GB", "12 kB" (powers of 1000). */
void ctl_human_bytes(double b, char *out, size_t len);
/* Send {"cmd": cmd, ...req} and read the reply (NULL: refused, printed). */
struct json_object *ctl_request(struct ctl *c, const char *cmd, struct json_object *req);
/* A request object with --camera, --from, --to. */
struct json_object *ctl_range_request(struct ctl *c);
/* Field of a reply: "" / 0 if absent. */
const char *ctl_get_str(struct json_object *o, const char *k);
int64_t ctl_get_int(struct json_object *o, const char *k);
/* write(2) all of it; -1 on error (errno set). */

/* Footage goes only where the user said: a new 0600 file (it must not
 * exist) or stdout for "-". Returns the fd, or -1 (reason printed). */
int ctl_open_output(const char *out);
/* Copy DATA frames to fd until the closing frame; *end receives that
 * frame's JSON (NULL if it was not an END frame). 0 or EXIT_REFUSED. */
int ctl_receive(struct ctl *c, int fd, const char *out, struct json_object **end);
/* Close the output; on failure (ret != 0) remove a file. Returns ret, or
 * EXIT_REFUSED if closing failed. */
int ctl_close_output(int fd, const char *out, int ret);

/* vigilctl_dest.c: vigild asks (a DATA frame {"need": ...}) for the
 * destination of an export or burn; make or open it with the user's own
 * rights and hand the descriptors over (ctl_await_reply calls this).
 * 0, or -1 if the connection broke. */
int ctl_dest_answer(struct ctl *c, struct json_object *need);
/* After the reply: on success rename what was made to its final name
 * (DEST/REF.incomplete -> DEST/REF, IMAGE.incomplete -> IMAGE) and open
 * it up for the recipient; on failure remove what is empty. Returns 0,
 * or EXIT_REFUSED if the rename failed (said why). */
int ctl_dest_finish(struct ctl *c, int ok);

/* Commands implemented in other files. */
int ctl_cmd_hold(struct ctl *c);
int ctl_cmd_holds(struct ctl *c);
int ctl_cmd_retention(struct ctl *c);	/* vigilctl_hold.c: retention accept-clock */
int ctl_cmd_export(struct ctl *c);

/* vigilctl_burn.c: `vigilctl burn IMAGE... --device DEV [--force]`, and
 * export --burn. Burns each image (one disc each, in order; on a terminal
 * the user is asked to insert the next blank disc) through vigild, which
 * checks the image is a signed export of this device, writes it with
 * xorriso, reads the disc back and audits it. Returns 0 or an EXIT_* code
 * (reason printed). */
int ctl_burn_images(struct ctl *c, char *const *images, int n, const char *device, int force);
int ctl_cmd_burn(struct ctl *c);
int ctl_cmd_verify(struct ctl *c);
int ctl_cmd_disclosures(struct ctl *c);
int ctl_cmd_snapshot(struct ctl *c);	/* vigilctl_snapshot.c */
int ctl_cmd_report(struct ctl *c);	/* vigilctl_report.c */
int ctl_cmd_audit(struct ctl *c);	/* vigilctl_audit.c: audit show|verify|acknowledge */
int ctl_cmd_key(struct ctl *c);		/* vigilctl_audit.c: key show */
/* Store one CTL_OPT_* option; -1 (message printed) if it is unusable. */
int ctl_export_option(struct ctl *c, int opt, const char *arg);

#endif
