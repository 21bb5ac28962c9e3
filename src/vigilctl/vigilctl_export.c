/*
 * vigilctl_export.c - vigilctl's disclosure commands:
 *
 *   vigilctl export --camera C [--camera ...] --from T --to T --recipient R
 *        [--organisation O] --purpose P --reference REF (--dest DIR | --iso FILE)
 *        [--force] [--police-decision REF --victim-wishes "..."]
 *        [--redact "x,y,w,h[@from-to]"]...
 *   vigilctl export approve ID --purpose P --reference REF
 *   (vigilctl verify DIR|ISO is in vigilctl_verify.c)
 *   vigilctl disclosures [--since T] [--until T] [--json]
 *
 * vigild decides and does the export (it holds the key); this side only
 * builds the request, shows progress and prints the outcome.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vigil/err.h"
#include "vigil/proto.h"
#include "vigil/timeutil.h"
#include "ctlclient.h"

/* ---- options ---- */

int ctl_export_option(struct ctl *c, int opt, const char *arg)
{
	switch (opt) {
	case CTL_OPT_RECIPIENT:
		c->recipient = arg;
		break;
	case CTL_OPT_ORGANISATION:
		c->organisation = arg;
		break;
	case CTL_OPT_DEST:
		c->dest = arg;
		break;
	case CTL_OPT_ISO:
		c->iso = arg;
		break;
	case CTL_OPT_FORCE:
		c->force = 1;
		break;
	case CTL_OPT_POLICE_DECISION:
		c->police_decision = arg;
		break;
	case CTL_OPT_VICTIM_WISHES:
		c->victim_wishes = arg;
		break;
	case CTL_OPT_REDACT:
		if (c->n_redact == CTL_MAX_REDACT) {
			fprintf(stderr, "vigilctl: at most %d --redact regions\n", CTL_MAX_REDACT);
			return -1;
		}
		c->redact[c->n_redact++] = arg;
		break;
	case CTL_OPT_BURN:
		c->burn = arg;
		break;
	case CTL_OPT_DEVICE:
		c->device = arg;
		break;
	case CTL_OPT_DISC_SIZE: {
		/* Decimal units, as disc makers count: 4.7G is a DVD. */
		char *end;
		double v = strtod(arg, &end);
		double unit = 1e6;

		if (end != arg && (*end == 'K' || *end == 'k'))
			unit = 1e3;
		else if (end != arg && (*end == 'G' || *end == 'g'))
			unit = 1e9;
		if (end != arg && *end != '\0' && strchr("KkMmGg", *end) != NULL)
			end++;
		if (end == arg || *end != '\0' || v * unit < 1e5 || v * unit > 1e12) {
			fprintf(stderr, "vigilctl: --disc-size takes the disc's capacity, e.g. 4.7G "
					"(a DVD), 8.5G (dual layer), 25G (a Blu-ray) or 700M (a CD), "
					"at least 100K; not '%s'\n", arg);
			return -1;
		}
		c->disc_bytes = (int64_t)(v * unit);
		break;
	}
	default:
		return -1;
	}
	return 0;
}

/* ---- export ---- */

static int parse_int(const char *s, char **end, int *out)
{
	long v;

	errno = 0;
	v = strtol(s, end, 10);
	if (errno != 0 || *end == s || v < 0 || v > 100000)
		return -1;
	*out = (int)v;
	return 0;
}

/* "x,y,w,h[@from-to]" into a JSON object; NULL (message printed) if not.
 * Times may contain '-' themselves, so the split is the first '-' with a
 * readable time on both sides. */
static struct json_object *parse_redact(const char *s)
{
	int v[4];
	char *end = (char *)s;
	const char *p = s;
	int64_t from = 0, to = 0;
	struct json_object *o;

	for (int i = 0; i < 4; i++) {
		if (parse_int(p, &end, &v[i]) < 0 || (i < 3 && *end != ',') ||
		    (i == 3 && *end != '\0' && *end != '@'))
			goto bad;
		p = end + 1;
	}
	if (v[2] == 0 || v[3] == 0)
		goto bad;
	if (*end == '@') {
		const char *t = end + 1;
		int found = 0;

		for (const char *d = strchr(t + 1, '-'); d && !found; d = strchr(d + 1, '-')) {
			char left[64];
			size_t n = (size_t)(d - t);

			if (n >= sizeof(left))
				break;
			memcpy(left, t, n);
			left[n] = '\0';
			if (vg_time_parse(left, vg_time_now_us(), &from) == 0 &&
			    vg_time_parse(d + 1, vg_time_now_us(), &to) == 0 && to > from)
				found = 1;
		}
		if (!found)
			goto bad;
	}
	o = json_object_new_object();
	json_object_object_add(o, "x", json_object_new_int(v[0]));
	json_object_object_add(o, "y", json_object_new_int(v[1]));
	json_object_object_add(o, "w", json_object_new_int(v[2]));
	json_object_object_add(o, "h", json_object_new_int(v[3]));
	json_object_object_add(o, "from_us", json_object_new_int64(from));
	json_object_object_add(o, "to_us", json_object_new_int64(to));
	return o;
bad:
	fprintf(stderr, "vigilctl: cannot read --redact '%s'; write x,y,w,h in pixels, "
			"optionally @FROM-TO (UTC), e.g. 40,60,80,120@2026-11-29T14:00-"
			"2026-11-29T14:02\n", s);
	return NULL;
}

static void print_result(struct json_object *o)
{
	double bytes = (double)ctl_get_int(o, "bytes");
	double secs = 0;
	struct json_object *v;
	char from[40] = "", to[40] = "", b[32];

	if (json_object_object_get_ex(o, "write_seconds", &v))
		secs += json_object_get_double(v);
	if (json_object_object_get_ex(o, "readback_seconds", &v))
		secs += json_object_get_double(v);
	vg_time_format(ctl_get_int(o, "delivered_from_us"), from, sizeof(from));
	vg_time_format(ctl_get_int(o, "delivered_to_us"), to, sizeof(to));
	ctl_human_bytes(bytes, b, sizeof(b));
	if (json_object_object_get_ex(o, "images", &v) && json_object_array_length(v) > 1) {
		size_t n = json_object_array_length(v);

		printf("exported to %zu disc images (the footage did not fit on one disc; each\n"
		       "disc is complete for its part of the time and can be checked on its own):\n",
		       n);
		for (size_t i = 0; i < n; i++)
			printf("  disc %zu of %zu: %s\n", i + 1, n,
			       json_object_get_string(json_object_array_get_idx(v, i)));
	} else {
		printf("exported to %s\n", ctl_get_str(o, "path"));
	}
	printf("  %lld video file(s), %s, footage from %s to %s, %lld gap(s) listed\n",
	       (long long)ctl_get_int(o, "files"), b, from, to, (long long)ctl_get_int(o, "gaps"));
	printf("  written, read back and checked in %.1f s\n", secs);
	printf("  manifest sha256 %s\n", ctl_get_str(o, "manifest_sha256"));
	printf("  device key fingerprint %s\n", ctl_get_str(o, "device_key_fingerprint"));
	printf("Give the recipient the fingerprint separately (phone or letter), so that they\n"
	       "can check the signature really is this recorder's.\n");
}

/* Print what was made and, with --burn, put the image(s) on disc. */
static int finish(struct ctl *c, struct json_object *o)
{
	struct json_object *imgs;
	char *paths[100];
	int n = 0, ret = 0;

	print_result(o);
	if (c->burn && json_object_object_get_ex(o, "images", &imgs)) {
		for (size_t i = 0; i < json_object_array_length(imgs) && n < 100; i++)
			paths[n++] = (char *)json_object_get_string(json_object_array_get_idx(imgs, i));
		ret = ctl_burn_images(c, paths, n, c->burn, c->force);
	}
	json_object_put(o);
	return ret;
}

/* An export request number from the command line; 0 (said why) if not. */
static long long request_id(const char *arg)
{
	char *end;
	long long id = strtoll(arg, &end, 10);

	if (end == arg || *end != '\0' || id <= 0) {
		fprintf(stderr, "vigilctl: '%s' is not an export request number\n", arg);
		return 0;
	}
	return id;
}

static int export_approve(struct ctl *c)
{
	struct json_object *req, *o;
	long long id = request_id(c->args[1]);

	if (id <= 0)
		return EXIT_USAGE;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("export.approve"));
	json_object_object_add(req, "id", json_object_new_int64(id));
	/* the approver's vigilctl makes the destination, with the approver's
	 * rights, when vigild asks */
	json_object_object_add(req, "pass_fds", json_object_new_boolean(1));
	if (ctl_send(c, req) < 0) {
		fprintf(stderr, "vigilctl: lost the connection to vigild\n");
		return EXIT_REFUSED;
	}
	o = ctl_await_reply(c, "export", "see 'vigilctl disclosures' for what happened");
	if (o == NULL) {
		ctl_dest_finish(c, 0);
		return EXIT_REFUSED;
	}
	if (ctl_dest_finish(c, 1) != 0) {
		json_object_put(o);
		return EXIT_REFUSED;
	}
	return finish(c, o);
}

static int export_withdraw(struct ctl *c)
{
	struct json_object *req, *o;
	long long id = request_id(c->args[1]);

	if (id <= 0)
		return EXIT_USAGE;
	if (c->reason == NULL) {
		fprintf(stderr, "vigilctl: say why it is withdrawn: --reason \"...\"\n");
		return EXIT_USAGE;
	}
	req = json_object_new_object();
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "reason", json_object_new_string(c->reason));
	o = ctl_request(c, "export.withdraw", req);
	if (o == NULL)
		return EXIT_REFUSED;
	printf("export request %lld withdrawn: it will not be exported\n", id);
	json_object_put(o);
	return 0;
}

static void usage_export(void)
{
	fprintf(stderr,
		"usage: vigilctl export --camera C [--camera C2 ...] --from T --to T\n"
		"         --recipient police|prosecutor|legal|media|data-subject --organisation O\n"
		"         --purpose P --reference REF (--dest DIR | --iso FILE [--disc-size SIZE]\n"
		"         [--burn /dev/srN]) [--force]\n"
		"         [--police-decision REF --victim-wishes \"...\"] [--redact x,y,w,h[@FROM-TO]]\n"
		"       vigilctl export approve ID\n"
		"       vigilctl export withdraw ID --reason R\n");
}

int ctl_cmd_export(struct ctl *c)
{
	struct json_object *req, *arr, *o;
	char path[PATH_MAX];

	if (c->n_args == 2 && strcmp(c->args[0], "approve") == 0)
		return export_approve(c);
	if (c->n_args == 2 && strcmp(c->args[0], "withdraw") == 0)
		return export_withdraw(c);
	if (c->n_args != 0) {
		usage_export();
		return EXIT_USAGE;
	}
	if ((c->burn || c->disc_bytes) && c->iso == NULL) {
		fprintf(stderr, "vigilctl: --burn and --disc-size go with --iso FILE (a disc image)\n");
		usage_export();
		return EXIT_USAGE;
	}
	if (c->n_cameras == 0 || c->from == 0 || c->to == 0 || (c->dest == NULL) == (c->iso == NULL)) {
		fprintf(stderr, "vigilctl: export needs --camera, --from, --to and one of --dest or "
				"--iso\n");
		usage_export();
		return EXIT_USAGE;
	}
	if (c->n_cameras > CTL_MAX_CAMERAS) {
		fprintf(stderr, "vigilctl: at most %d cameras per export\n", CTL_MAX_CAMERAS);
		return EXIT_USAGE;
	}
	if (ctl_absolute_path(c->dest ? c->dest : c->iso, c->dest == NULL, path) < 0) {
		if (c->dest)
			fprintf(stderr, "vigilctl: is the USB stick mounted?\n");
		return EXIT_USAGE;
	}
	req = json_object_new_object();
	arr = json_object_new_array();
	for (int i = 0; i < c->n_cameras; i++)
		json_object_array_add(arr, json_object_new_string(c->cameras[i]));
	json_object_object_add(req, "cameras", arr);
	json_object_object_add(req, "from_us", json_object_new_int64(c->from));
	json_object_object_add(req, "to_us", json_object_new_int64(c->to));
	json_object_object_add(req, c->dest ? "dest" : "iso", json_object_new_string(path));
	json_object_object_add(req, "force", json_object_new_int(c->force));
	if (c->disc_bytes > 0)
		json_object_object_add(req, "disc_bytes", json_object_new_int64(c->disc_bytes));
	if (c->recipient)
		json_object_object_add(req, "recipient", json_object_new_string(c->recipient));
	if (c->organisation)
		json_object_object_add(req, "organisation", json_object_new_string(c->organisation));
	if (c->reason)
		json_object_object_add(req, "reason", json_object_new_string(c->reason));
	if (c->police_decision)
		json_object_object_add(req, "police_decision",
				       json_object_new_string(c->police_decision));
	if (c->victim_wishes)
		json_object_object_add(req, "victim_wishes", json_object_new_string(c->victim_wishes));
	if (c->n_redact > 0) {
		arr = json_object_new_array();
		json_object_object_add(req, "redactions", arr);
		for (int i = 0; i < c->n_redact; i++) {
			struct json_object *r = parse_redact(c->redact[i]);

			if (r == NULL) {
				json_object_put(req);
				return EXIT_USAGE;
			}
			json_object_array_add(arr, r);
		}
	}
	json_object_object_add(req, "cmd", json_object_new_string("export"));
	/* vigild writes only where this user may: it asks, and vigilctl makes
	 * the destination with the user's rights (vigilctl_dest.c) */
	json_object_object_add(req, "pass_fds", json_object_new_boolean(1));
	if (ctl_send(c, req) < 0) {
		fprintf(stderr, "vigilctl: lost the connection to vigild\n");
		return EXIT_REFUSED;
	}
	o = ctl_await_reply(c, "export", "see 'vigilctl disclosures' for what happened");
	if (o == NULL) {
		ctl_dest_finish(c, 0);
		return EXIT_REFUSED;
	}
	if (ctl_dest_finish(c, 1) != 0) {
		json_object_put(o);
		return EXIT_REFUSED;
	}
	if (ctl_get_int(o, "pending")) {
		printf("export request %lld is waiting for a second person's approval: another\n"
		       "member of staff with export rights runs 'vigilctl export approve %lld'.\n",
		       (long long)ctl_get_int(o, "pending"), (long long)ctl_get_int(o, "pending"));
		json_object_put(o);
		return 0;
	}
	return finish(c, o);
}

/* ---- disclosures ---- */

/* The value of KEY=value or KEY="value" in an audit object. */
static void token(const char *obj, const char *key, char *out, size_t len)
{
	const char *p = strstr(obj, key);
	size_t n = 0;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(key);
	if (*p == '"') {
		p++;
		while (p[n] && p[n] != '"')
			n++;
	} else {
		while (p[n] && p[n] != ' ')
			n++;
	}
	snprintf(out, len, "%.*s", (int)n, p);
}

static const char *status_of(struct json_object *e)
{
	const char *a = ctl_get_str(e, "action");
	int allowed = strcmp(ctl_get_str(e, "outcome"), "allowed") == 0;

	if (strcmp(a, "export") == 0)
		return allowed ? NULL : "REFUSED";
	if (strcmp(a, "export.pending") == 0)
		return "AWAITING APPROVAL";
	if (strcmp(a, "export.approve") == 0)
		return allowed ? "APPROVED" : "APPROVAL REFUSED";
	if (strcmp(a, "export.done") == 0)
		return "DISCLOSED";
	if (strcmp(a, "export.withdraw") == 0)
		return allowed ? "WITHDRAWN" : "WITHDRAWAL REFUSED";
	if (strcmp(a, "export.disc") == 0)
		return "DISCLOSED (FURTHER DISC)";
	if (strcmp(a, "export.burn") == 0)
		return allowed ? "BURNED TO DISC" : "BURN REFUSED";
	if (strcmp(a, "export.failed") == 0)
		return "FAILED";
	return a;
}

int ctl_cmd_disclosures(struct ctl *c)
{
	struct json_object *req = json_object_new_object(), *o, *rows, *pend;

	if (c->from)
		json_object_object_add(req, "since_us", json_object_new_int64(c->from));
	if (c->to)
		json_object_object_add(req, "until_us", json_object_new_int64(c->to));
	o = ctl_request(c, "disclosures", req);
	if (o == NULL)
		return EXIT_REFUSED;
	json_object_object_get_ex(o, "rows", &rows);
	if (c->json) {
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return 0;
	}
	printf("Disclosure log (policy 3.9): every export asked for, refused, approved and made.\n"
	       "The policy decisions behind them: vigilctl audit show --action export\n\n");
	for (size_t i = 0; rows && i < json_object_array_length(rows); i++) {
		struct json_object *e = json_object_array_get_idx(rows, i);
		const char *st = status_of(e), *obj = ctl_get_str(e, "object");
		char when[40], recip[64], org[256];

		if (st == NULL)
			continue;
		vg_time_format(ctl_get_int(e, "time_us"), when, sizeof(when));
		token(obj, "recipient=", recip, sizeof(recip));
		token(obj, "organisation=", org, sizeof(org));
		printf("%s  %-17s %s%s%s%s  ref %s  by %s (%s)\n", when, st, recip[0] ? recip : "?",
		       org[0] ? " \"" : "", org, org[0] ? "\"" : "", ctl_get_str(e, "reference"),
		       ctl_get_str(e, "login"), ctl_get_str(e, "role")[0] ? ctl_get_str(e, "role")
									: "no account");
		printf("    purpose: %s\n    what:    %s\n    outcome: %s\n",
		       ctl_get_str(e, "purpose"), obj, ctl_get_str(e, "reason"));
	}
	if (json_object_object_get_ex(o, "pending", &pend) && json_object_array_length(pend) > 0) {
		printf("\nWaiting for a second person's approval now:\n");
		for (size_t i = 0; i < json_object_array_length(pend); i++) {
			struct json_object *e = json_object_array_get_idx(pend, i);
			char when[40];

			vg_time_format(ctl_get_int(e, "time_us"), when, sizeof(when));
			printf("  request %lld by %s at %s\n", (long long)ctl_get_int(e, "id"),
			       ctl_get_str(e, "requester"), when);
		}
	}
	json_object_put(o);
	return 0;
}
