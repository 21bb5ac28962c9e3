/*
 * vigilctl - the staff tool. An ordinary program: it holds no key and
 * reads no footage file; every request goes to vigild over its control
 * socket, where the caller's uid is checked against the access policy and
 * every request is audited, refusals too.
 *
 *   vigilctl clips [--camera C] [--from T] [--to T] --purpose P --reference R
 *   vigilctl view CLIP-ID OUT.mp4|- --purpose P --reference R
 *   ...  (vigilctl --help lists every command)
 *
 * Times are UTC: "2026-11-29T14:00", "2026-11-29", "now", "-2h".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vigil/confcheck.h"
#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/proto.h"
#include "vigil/timeutil.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_NO_DAEMON 3

#include "ctlclient.h"

/* ---- commands ---- */

static int cmd_clips(struct ctl *c)
{
	struct json_object *o = ctl_request(c, "clips", ctl_range_request(c));
	struct json_object *arr;

	if (o == NULL)
		return EXIT_REFUSED;
	json_object_object_get_ex(o, "clips", &arr);
	if (c->json) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return 0;
	}
	printf("%-6s %-16s %-27s %-27s %9s %13s %16s %-9s %s\n", "ID", "CAMERA", "START (UTC)",
	       "END (UTC)", "LENGTH", "FRAMES", "BYTES", "STATE", "FILE");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		int64_t s = ctl_get_int(e, "start_us"), en = ctl_get_int(e, "end_us");
		int open = strcmp(ctl_get_str(e, "state"), "recording") == 0;
		char from[40], to[40];
		struct json_object *syn;

		vg_time_format(s, from, sizeof(from));
		vg_time_format(en, to, sizeof(to));
		json_object_object_get_ex(e, "synthetic", &syn);
		printf("%-6lld %-16s %s %s %7.1f s %6lld frames %10lld bytes %-9s %s%s\n",
		       (long long)ctl_get_int(e, "id"), ctl_get_str(e, "camera"), from, open ? "(open)" : to,
		       open ? 0.0 : (double)(en - s) / 1e6, (long long)ctl_get_int(e, "frames"),
		       (long long)ctl_get_int(e, "bytes"), ctl_get_str(e, "state"), ctl_get_str(e, "path"),
		       json_object_get_boolean(syn) ? " [SYNTHETIC]" : "");
	}
	json_object_put(o);
	return 0;
}

static int cmd_gaps(struct ctl *c)
{
	struct json_object *o = ctl_request(c, "gaps", ctl_range_request(c));
	struct json_object *arr;

	if (o == NULL)
		return EXIT_REFUSED;
	json_object_object_get_ex(o, "gaps", &arr);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *g = json_object_array_get_idx(arr, i);
		char from[40], to[40] = "(ongoing)";

		vg_time_format(ctl_get_int(g, "from_us"), from, sizeof(from));
		if (ctl_get_int(g, "to_us"))
			vg_time_format(ctl_get_int(g, "to_us"), to, sizeof(to));
		printf("%-16s %s %s %s\n", ctl_get_str(g, "camera"), from, to, ctl_get_str(g, "reason"));
	}
	json_object_put(o);
	return 0;
}

/* Footage arrives as DATA frames and goes only where the user said: a
 * file they create (0600, must not exist) or stdout (a pipe to a player). */
static int cmd_view(struct ctl *c)
{
	struct json_object *req, *o;
	const char *out;
	char *end;
	long long id;
	int fd, ret = 0;

	if (c->n_args != 2) {
		fprintf(stderr, "usage: vigilctl view CLIP-ID OUT.mp4|- --purpose P --reference R\n");
		return EXIT_USAGE;
	}
	id = strtoll(c->args[0], &end, 10);
	if (*end != '\0' || id <= 0) {
		fprintf(stderr, "vigilctl: '%s' is not a clip id; see 'vigilctl clips'\n", c->args[0]);
		return EXIT_USAGE;
	}
	out = c->args[1];
	if (strcmp(out, "-") == 0 && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "vigilctl: refusing to write video to a terminal; pipe it to a "
				"player (| vlc -) or name a file\n");
		return EXIT_USAGE;
	}
	/* The output first: a file that cannot be created must not cost an
	 * audited view of footage that then goes nowhere. */
	fd = ctl_open_output(out);
	if (fd < 0)
		return EXIT_REFUSED;
	req = json_object_new_object();
	json_object_object_add(req, "clip", json_object_new_int64(id));
	o = ctl_request(c, "view", req);
	if (o == NULL)
		return ctl_close_output(fd, out, EXIT_REFUSED);
	json_object_put(o);
	ret = ctl_receive(c, fd, out, &o);
	if (ret == 0 && o == NULL) {
		fprintf(stderr, "vigilctl: clip %lld: unexpected reply from vigild\n", id);
		ret = EXIT_REFUSED;
	} else if (o && strcmp(ctl_get_str(o, "error"), "") != 0) {
		fprintf(stderr, "vigilctl: clip %lld: %s\n", id, ctl_get_str(o, "error"));
		ret = EXIT_REFUSED;
	} else if (o && ctl_get_int(o, "truncated")) {
		fprintf(stderr, "vigilctl: clip %lld ends early (cut off by a power cut or "
				"crash); everything up to the cut was written\n", id);
	}
	json_object_put(o);
	return ctl_close_output(fd, out, ret);
}

/* The camera register, and the temporary cameras' record (policy 4.2). */
static int cmd_cameras(struct ctl *c)
{
	struct json_object *o = ctl_request(c, "cameras", json_object_new_object());
	struct json_object *cams, *t;

	if (o == NULL)
		return EXIT_REFUSED;
	json_object_object_get_ex(o, "cameras", &cams);
	if (c->json) {
		printf("%s\n", json_object_to_json_string_ext(cams, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return 0;
	}
	for (size_t i = 0; i < json_object_array_length(cams); i++) {
		struct json_object *e = json_object_array_get_idx(cams, i);

		printf("%-16s %s: %s (kept %lld days%s%s)\n", ctl_get_str(e, "name"),
		       ctl_get_str(e, "area"), ctl_get_str(e, "purpose"),
		       (long long)ctl_get_int(e, "retention_days"),
		       ctl_get_str(e, "signage_confirmed")[0] ? ", signs confirmed " : ", NO SIGNAGE DATE",
		       ctl_get_str(e, "signage_confirmed"));
		if (json_object_object_get_ex(e, "temporary", &t))
			printf("%16s temporary: %s; reason: %s; case %s; installed %s, remove by %s "
			       "(%lld days installed)\n", "", ctl_get_str(t, "equipment"),
			       ctl_get_str(t, "reason"), ctl_get_str(t, "case_reference"),
			       ctl_get_str(t, "installed"), ctl_get_str(t, "remove_by"),
			       (long long)ctl_get_int(t, "days_installed"));
	}
	json_object_put(o);
	return 0;
}

static int cmd_status(struct ctl *c)
{
	struct json_object *o = ctl_request(c, "status", json_object_new_object());
	struct json_object *cams;

	if (o == NULL)
		return EXIT_REFUSED;
	if (c->json) {
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return 0;
	}
	printf("vigild %s\nmaster key fingerprint: %s\ndevice key fingerprint: %s\n",
	       ctl_get_str(o, "version"), ctl_get_str(o, "master_key_fingerprint"),
	       ctl_get_str(o, "device_key_fingerprint"));
	{
		struct json_object *sto, *warn, *alog;

		printf("clock: %s (estimated error %lld us)\n",
		       ctl_get_int(o, "clock_synchronised") ? "synchronised" : "NOT SYNCHRONISED",
		       (long long)ctl_get_int(o, "clock_esterror_us"));
		if (json_object_object_get_ex(o, "storage", &sto)) {
			char oldest[40] = "none";

			if (ctl_get_int(sto, "oldest_us"))
				vg_time_format(ctl_get_int(sto, "oldest_us"), oldest, sizeof(oldest));
			printf("storage: %.1f of %.1f GB used, %.1f GB free (keep %.1f GB free), held "
			       "footage %.1f%%, oldest footage %s%s%s%s\n",
			       (double)ctl_get_int(sto, "used_bytes") / 1e9,
			       (double)ctl_get_int(sto, "total_bytes") / 1e9,
			       (double)ctl_get_int(sto, "free_bytes") / 1e9,
			       (double)ctl_get_int(sto, "min_free_bytes") / 1e9,
			       json_object_get_double(json_object_object_get(sto, "held_percent")),
			       oldest, ctl_get_int(sto, "disk_alarm") ? "; ALARM: only held footage left" : "",
			       ctl_get_int(sto, "clock_jump") ? "; ALARM: clock jumped, deletion limited" : "",
			       ctl_get_int(sto, "held_warn") ? "; held footage above its share" : "");
			if (ctl_get_int(sto, "overdue_holds"))
				printf("holds: %lld past their review date: review or release them "
				       "(vigilctl holds)\n", (long long)ctl_get_int(sto, "overdue_holds"));
		}
		if (ctl_get_int(o, "disk_full"))
			printf("ALARM: disk full: recording paused below %.1f MB free (the room kept "
			       "for the audit log); free space, e.g. release holds no longer needed\n",
			       (double)ctl_get_int(o, "disk_floor_bytes") / 1e6);
		if (json_object_object_get_ex(o, "audit_log", &alog) && ctl_get_int(alog, "broken"))
			printf("ALARM: the audit log was found broken at start: first bad row %lld: %s; "
			       "evidence kept in %s; footage is closed (except the DPO's viewing) and "
			       "nothing is signed over it until the DPO runs 'vigilctl audit "
			       "acknowledge'\n", (long long)ctl_get_int(alog, "first_bad_row"),
			       ctl_get_str(alog, "problem"), ctl_get_str(alog, "evidence"));
		if (json_object_object_get_ex(o, "witness", &alog) && ctl_get_int(alog, "configured"))
			printf("audit witness %s: %s, backlog %lld checkpoint(s), last sent covers seq "
			       "%lld%s%s\n", ctl_get_str(alog, "collector"),
			       ctl_get_int(alog, "connected") ? "connected" : "NOT CONNECTED",
			       (long long)ctl_get_int(alog, "backlog"),
			       (long long)ctl_get_int(alog, "sent_seq"),
			       ctl_get_str(alog, "last_error")[0] ? "; last error: " : "",
			       ctl_get_str(alog, "last_error"));
		if (ctl_get_int(o, "integrity_failures"))
			printf("ALARM: %lld clip(s) failed authentication since vigild started "
			       "(tampered or corrupt; see vigilctl audit show --action integrity); "
			       "last: %s\n", (long long)ctl_get_int(o, "integrity_failures"),
			       ctl_get_str(o, "integrity_last"));
		if (json_object_object_get_ex(o, "warnings", &warn))
			for (size_t i = 0; i < json_object_array_length(warn); i++)
				printf("warning: %s\n",
				       json_object_get_string(json_object_array_get_idx(warn, i)));
	}
	if (ctl_get_str(o, "timezone")[0])
		printf("time zone: %s (%s now): the pictures and the config's dates are in it\n",
		       ctl_get_str(o, "timezone"), ctl_get_str(o, "timezone_now"));
	json_object_object_get_ex(o, "cameras", &cams);
	for (size_t i = 0; cams && i < json_object_array_length(cams); i++) {
		struct json_object *e = json_object_array_get_idx(cams, i);
		const char *st = ctl_get_str(e, "state"), *snd = ctl_get_str(e, "audio");

		/* configured but not running: say why */
		if (strcmp(st, "disabled") == 0 || strcmp(st, "expired") == 0 ||
		    !json_object_object_get_ex(e, "frames_in", NULL)) {
			printf("camera %-16s %-18s %s\n", ctl_get_str(e, "name"), st,
			       ctl_get_str(e, "last_error"));
			continue;
		}
		printf("camera %-16s %-18s %5.1f fps in %lld encoded %lld dropped %lld (lost to a "
		       "full disk %lld) clips %lld reconnects %lld gaps today %lld  %s%s%s",
		       ctl_get_str(e, "name"), ctl_get_str(e, "state"),
		       json_object_get_double(json_object_object_get(e, "fps")),
		       (long long)ctl_get_int(e, "frames_in"),
		       (long long)ctl_get_int(e, "frames_encoded"),
		       (long long)ctl_get_int(e, "frames_dropped"),
		       (long long)ctl_get_int(e, "frames_lost"), (long long)ctl_get_int(e, "clips"),
		       (long long)ctl_get_int(e, "reconnects"), (long long)ctl_get_int(e, "gaps_today"),
		       ctl_get_str(e, "source"),
		       ctl_get_str(e, "last_error")[0] ? "  last error: " : "", ctl_get_str(e, "last_error"));
		/* sound, when configured: failing costs only the sound, so say it */
		if (strcmp(snd, "failed") == 0 || strcmp(snd, "ended") == 0)
			printf("  SOUND %s: %s (video goes on)", strcmp(snd, "failed") == 0 ?
			       "FAILED" : "ENDED", ctl_get_str(e, "audio_error"));
		else if (strcmp(snd, "recording") == 0)
			printf("  sound recording");
		putchar('\n');
	}
	json_object_put(o);
	return 0;
}

/* Print one finding of the config check, as vigild -n does. */
static void print_finding(enum vg_confcheck_level level, const char *file, int line,
			  const char *msg, void *ud)
{
	char text[1200];

	(void)ud;
	vg_confcheck_format(level, file, line, msg, text, sizeof(text));
	printf("%s\n", text);
}

/* Holds past their review date live in the catalog, not the file: if the
 * vigild this config names is running, ask it (quietly: config check works
 * without a daemon). Returns the number of warnings printed. */
static int overdue_holds(struct ctl *c, const struct vg_config *cfg)
{
	struct sockaddr_un sa;
	struct json_object *o, *sto;
	int n = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(cfg->socket_path) >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, cfg->socket_path, strlen(cfg->socket_path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return 0;
	}
	o = ctl_request(c, "status", json_object_new_object());
	if (o && json_object_object_get_ex(o, "storage", &sto) &&
	    ctl_get_int(sto, "overdue_holds") > 0) {
		printf("%s: warning: %lld evidence hold(s) are past their review date: review "
		       "or release them (vigilctl holds)\n", cfg->path,
		       (long long)ctl_get_int(sto, "overdue_holds"));
		n = 1;
	}
	json_object_put(o);
	close(c->fd);
	c->fd = -1;
	return n;
}

/* config check [FILE]: vigild's own verdict (vg_confcheck_file, the
 * function vigild -n and a reload call), errors and the policy warnings a
 * housing officer can act on, in line order. 0 clean, 1 warnings, 2
 * errors. Dates are judged in the file's time zone, as vigild would. */
static int cmd_config(struct ctl *c)
{
	const char *path = c->config_path;
	struct vg_config *cfg;
	int n;

	if (c->n_args < 1 || strcmp(c->args[0], "check") != 0 || c->n_args > 2) {
		fprintf(stderr, "usage: vigilctl config check [FILE]\n");
		return EXIT_USAGE;
	}
	if (c->n_args == 2)
		path = c->args[1];
	if (vg_confcheck_file(path, vg_time_now_us(), VG_CONFCHECK_SET_ZONE, print_finding, NULL,
			      &cfg, &n) < 0) {
		printf("%s: errors: vigild will not start with this file\n", path);
		return 2;
	}
	n += overdue_holds(c, cfg);
	if (n > 0)
		printf("%s: valid, with %d warning(s) to act on\n", path, n);
	else
		printf("%s: valid, no warnings\n", path);
	vg_config_free(cfg);
	return n > 0 ? 1 : 0;
}

struct verb {
	const char *name;
	int (*fn)(struct ctl *c);
	int needs_daemon;	/* 0: runs locally (config check, verify) */
	const char *help;
};

static const struct verb verbs[] = {
	{ "clips", cmd_clips, 1, "clips [--camera C] [--from T] [--to T] [--json]   list clips" },
	{ "gaps", cmd_gaps, 1, "gaps [--camera C] [--from T] [--to T]            times without pictures" },
	{ "view", cmd_view, 1, "view CLIP-ID OUT.mp4|-                           decrypt one clip" },
	{ "decrypt", cmd_view, 1, "decrypt CLIP-ID OUT.mp4|-                        (same as view)" },
	{ "cameras", cmd_cameras, 1, "cameras [--json]                                 camera register" },
	{ "status", cmd_status, 1, "status [--json]                                  cameras, keys" },
	{ "audit", ctl_cmd_audit, 1, "audit show [--since T] [--until T] [--user L] [--camera C] "
				     "[--action A] [--json] | audit verify [--witness FILE] | "
				     "audit acknowledge" },
	{ "key", ctl_cmd_key, 1, "key show                                         device public key" },
	{ "config", cmd_config, 0, "config check [FILE]                              check a config" },
	{ "snapshot", ctl_cmd_snapshot, 1, "snapshot --camera C OUT.jpg|-                 "
					   "one live picture, masks outlined" },
	/* evidence holds (vigilctl_hold.c) */
	{ "hold", ctl_cmd_hold, 1, "hold --camera C --from T --to T --reason R [--review-by DAY] "
				   "| hold release ID --reason R | hold approve ID (each with "
				   "--purpose, --reference)" },
	{ "holds", ctl_cmd_holds, 1, "holds [all] [--json]                          evidence holds" },
	{ "retention", ctl_cmd_retention, 1, "retention accept-clock --purpose P           "
					     "confirm the clock after a clamp (DPO)" },
	/* disclosures (vigilctl_export.c); verify needs no vigild */
	{ "export", ctl_cmd_export, 1, "export --camera C [--camera C2...] --from T --to T\n"
	  "           --recipient police|prosecutor|legal|media|data-subject --organisation O\n"
	  "           (--dest DIR | --iso FILE [--disc-size SIZE] [--burn /dev/srN]) [--force]\n"
	  "           [--police-decision REF --victim-wishes \"...\"] [--redact x,y,w,h[@FROM-TO]]\n"
	  "  vigilctl export approve ID | export withdraw ID --reason R" },
	{ "burn", ctl_cmd_burn, 1, "burn IMAGE.iso... --device /dev/srN [--force] (with --purpose, "
				   "--reference)  write export images to discs" },
	{ "verify", ctl_cmd_verify, 0, "verify DIR|ISO [--fingerprint HEX | --key FILE]  check an "
				       "export and who signed it" },
	{ "disclosures", ctl_cmd_disclosures, 1, "disclosures [--since T] [--until T] [--json]  "
						 "the disclosure log" },
	/* the review report (vigilctl_report.c) */
	{ "report", ctl_cmd_report, 1, "report --from T --to T --out FILE.html [--json]  "
				       "signed review report" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vigilctl [-c CONFIG] [-s SOCKET] COMMAND ...\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  vigilctl %s\n", verbs[i].help);
	fprintf(f, "Footage commands need --purpose \"why\" and --reference REF (ASB-, CRIME-, CASE-,\n"
		   "DSAR-, DISC- or, for installers, JOB- followed by the number). Times are UTC:\n"
		   "2026-11-29T14:00, 2026-11-29, now, -2h. Every request is checked and recorded\n"
		   "in the audit log.\n");
}

static int parse_time(const char *s, int64_t *out)
{
	if (vg_time_parse(s, vg_time_now_us(), out) == 0)
		return 0;
	fprintf(stderr, "vigilctl: cannot read the time '%s'; write it as 2026-11-29T14:00 (UTC), "
			"2026-11-29, now, or -2h\n", s);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "camera", required_argument, NULL, 'C' },
		{ "from", required_argument, NULL, 'f' },
		{ "since", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "until", required_argument, NULL, 't' },
		{ "purpose", required_argument, NULL, 'p' },
		{ "reference", required_argument, NULL, 'r' },
		{ "user", required_argument, NULL, 'u' },
		{ "action", required_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'R' },	/* hold */
		{ "review-by", required_argument, NULL, 'B' },	/* hold */
		{ "recipient", required_argument, NULL, CTL_OPT_RECIPIENT },	/* export */
		{ "organisation", required_argument, NULL, CTL_OPT_ORGANISATION },
		{ "dest", required_argument, NULL, CTL_OPT_DEST },
		{ "iso", required_argument, NULL, CTL_OPT_ISO },
		{ "force", no_argument, NULL, CTL_OPT_FORCE },
		{ "police-decision", required_argument, NULL, CTL_OPT_POLICE_DECISION },
		{ "victim-wishes", required_argument, NULL, CTL_OPT_VICTIM_WISHES },
		{ "redact", required_argument, NULL, CTL_OPT_REDACT },
		{ "burn", required_argument, NULL, CTL_OPT_BURN },
		{ "disc-size", required_argument, NULL, CTL_OPT_DISC_SIZE },
		{ "device", required_argument, NULL, CTL_OPT_DEVICE },
		{ "key", required_argument, NULL, CTL_OPT_KEY },		/* verify */
		{ "fingerprint", required_argument, NULL, CTL_OPT_FINGERPRINT },
		{ "json", no_argument, NULL, 'j' },
		{ "out", required_argument, NULL, 'o' },	/* report */
		{ "witness", required_argument, NULL, 'W' },	/* audit verify */
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c = { .config_path = VG_CONFIG_DEFAULT_PATH, .fd = -1 };
	int o, ret;

	vg_log_init("vigilctl", 0, VG_LOG_WARN);
	while ((o = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			c.config_path = optarg;
			break;
		case 's':
			c.socket_path = optarg;
			break;
		case 'C':
			c.camera = optarg;
			if (c.n_cameras < CTL_MAX_CAMERAS)	/* export takes several */
				c.cameras[c.n_cameras] = optarg;
			c.n_cameras++;
			break;
		case CTL_OPT_RECIPIENT:
		case CTL_OPT_ORGANISATION:
		case CTL_OPT_DEST:
		case CTL_OPT_ISO:
		case CTL_OPT_FORCE:
		case CTL_OPT_POLICE_DECISION:
		case CTL_OPT_VICTIM_WISHES:
		case CTL_OPT_REDACT:
		case CTL_OPT_BURN:
		case CTL_OPT_DISC_SIZE:
		case CTL_OPT_DEVICE:
			if (ctl_export_option(&c, o, optarg) < 0)
				return EXIT_USAGE;
			break;
		case CTL_OPT_KEY:
			c.key_file = optarg;
			break;
		case CTL_OPT_FINGERPRINT:
			c.fingerprint = optarg;
			break;
		case 'f':
			if (parse_time(optarg, &c.from) < 0)
				return EXIT_USAGE;
			break;
		case 't':
			if (parse_time(optarg, &c.to) < 0)
				return EXIT_USAGE;
			break;
		case 'p':
			c.purpose = optarg;
			break;
		case 'r':
			c.reference = optarg;
			break;
		case 'u':
			c.user = optarg;
			break;
		case 'a':
			c.action = optarg;
			break;
		case 'R':
			c.reason = optarg;
			break;
		case 'B':
			c.review_by = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 'o':
			c.out = optarg;
			break;
		case 'W':
			c.witness = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (c.from && c.to && c.to <= c.from) {
		fprintf(stderr, "vigilctl: --to must be later than --from\n");
		return EXIT_USAGE;
	}
	c.args = argv + optind + 1;
	c.n_args = argc - optind - 1;
	for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
		if (strcmp(argv[optind], verbs[v].name) != 0)
			continue;
		if (verbs[v].needs_daemon && (ret = ctl_connect(&c)) != 0)
			return ret < 0 ? EXIT_NO_DAEMON : ret;
		ret = verbs[v].fn(&c);
		if (c.fd >= 0)
			close(c.fd);
		return ret != 0 && c.dropped ? EXIT_DROPPED : ret;
	}
	fprintf(stderr, "vigilctl: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
