/*
 * vigilctl_hold.c - evidence holds from the command line:
 *
 *   vigilctl hold --camera C --from T --to T --reason "..." --purpose P
 *                 --reference REF [--review-by YYYY-MM-DD]   prints the hold's id
 *   vigilctl hold release ID --reason "..." --purpose P --reference REF
 *   vigilctl hold approve ID --purpose P --reference REF     second person
 *   vigilctl holds [all] [--json]                     list (overdue flagged)
 *   vigilctl retention accept-clock --purpose P       confirm the clock (DPO)
 *
 * Placing, releasing and approving are footage operations: each takes its
 * own --purpose and --reference (docs/access-policy.md), nothing is filled
 * in for the caller. Listing holds shows no footage and needs neither.
 * Whether the caller may do any of it is vigild's decision, made and
 * audited per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vigil/timeutil.h"
#include "ctlclient.h"

static int parse_id(const char *s, int64_t *id)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*end != '\0' || v <= 0) {
		fprintf(stderr, "vigilctl: '%s' is not a hold id; see 'vigilctl holds'\n", s);
		return -1;
	}
	*id = v;
	return 0;
}

static int place(struct ctl *c)
{
	struct json_object *req, *o;

	if (c->camera == NULL || c->from == 0 || c->to == 0 || c->reason == NULL ||
	    c->purpose == NULL || c->reference == NULL) {
		fprintf(stderr, "usage: vigilctl hold --camera C --from T --to T --reason \"why\" "
				"--purpose P --reference REF [--review-by YYYY-MM-DD]\n");
		return EXIT_USAGE;
	}
	req = ctl_range_request(c);
	json_object_object_add(req, "reason", json_object_new_string(c->reason));
	if (c->review_by)
		json_object_object_add(req, "review_by", json_object_new_string(c->review_by));
	o = ctl_request(c, "hold.place", req);
	if (o == NULL)
		return EXIT_REFUSED;
	if (c->json)
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	else
		printf("%lld\n", (long long)ctl_get_int(o, "id"));
	json_object_put(o);
	return 0;
}

static int release_or_approve(struct ctl *c, int approve)
{
	struct json_object *req, *o;
	int64_t id;

	if (c->n_args != 2 || (!approve && c->reason == NULL) || c->purpose == NULL ||
	    c->reference == NULL) {
		fprintf(stderr, approve ? "usage: vigilctl hold approve ID --purpose P "
					  "--reference REF\n"
					: "usage: vigilctl hold release ID --reason \"why\" "
					  "--purpose P --reference REF\n");
		return EXIT_USAGE;
	}
	if (parse_id(c->args[1], &id) < 0)
		return EXIT_USAGE;
	req = json_object_new_object();
	json_object_object_add(req, "id", json_object_new_int64(id));
	if (!approve)
		json_object_object_add(req, "reason", json_object_new_string(c->reason));
	o = ctl_request(c, approve ? "hold.approve" : "hold.release", req);
	if (o == NULL)
		return EXIT_REFUSED;
	printf("%s\n", ctl_get_str(o, "message"));
	json_object_put(o);
	return 0;
}

int ctl_cmd_hold(struct ctl *c)
{
	if (c->n_args == 0)
		return place(c);
	if (strcmp(c->args[0], "release") == 0)
		return release_or_approve(c, 0);
	if (strcmp(c->args[0], "approve") == 0)
		return release_or_approve(c, 1);
	fprintf(stderr, "usage: vigilctl hold --camera C --from T --to T --reason \"why\" "
			"--purpose P --reference REF [--review-by YYYY-MM-DD]\n"
			"       vigilctl hold release ID --reason \"why\" --purpose P --reference REF\n"
			"       vigilctl hold approve ID --purpose P --reference REF\n");
	return EXIT_USAGE;
}

static void day_of(int64_t us, char *buf, size_t len)
{
	vg_time_format(us, buf, len);
	if (len > 10)
		buf[10] = '\0';
}

int ctl_cmd_holds(struct ctl *c)
{
	struct json_object *req = json_object_new_object(), *o, *arr;
	int all = c->n_args == 1 && strcmp(c->args[0], "all") == 0;

	if (c->n_args > 1 || (c->n_args == 1 && !all)) {
		fprintf(stderr, "usage: vigilctl holds [all] [--json]\n");
		json_object_put(req);
		return EXIT_USAGE;
	}
	json_object_object_add(req, "include_released", json_object_new_int(all));
	o = ctl_request(c, "holds", req);
	if (o == NULL)
		return EXIT_REFUSED;
	json_object_object_get_ex(o, "holds", &arr);
	if (c->json) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return 0;
	}
	printf("%-5s %-16s %-27s %-27s %-10s %-15s %-12s %-16s %s\n", "ID", "CAMERA",
	       "FROM (UTC)", "TO (UTC)", "REVIEW BY", "STATE", "PLACED BY", "REFERENCE", "REASON");
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *h = json_object_array_get_idx(arr, i), *od;
		char from[40], to[40], review[40];
		int overdue;

		vg_time_format(ctl_get_int(h, "from_us"), from, sizeof(from));
		vg_time_format(ctl_get_int(h, "to_us"), to, sizeof(to));
		day_of(ctl_get_int(h, "review_by_us"), review, sizeof(review));
		overdue = json_object_object_get_ex(h, "overdue", &od) &&
			  json_object_get_boolean(od);
		printf("%-5lld %-16s %s %s %-10s %-15s %-12s %-16s %s%s\n",
		       (long long)ctl_get_int(h, "id"), ctl_get_str(h, "camera"), from, to, review,
		       ctl_get_str(h, "state"), ctl_get_str(h, "placed_by"),
		       ctl_get_str(h, "reference"), ctl_get_str(h, "reason"),
		       overdue ? "  [OVERDUE FOR REVIEW]" : "");
		if (ctl_get_str(h, "release_by")[0])
			printf("      release asked by %s: %s%s%s\n", ctl_get_str(h, "release_by"),
			       ctl_get_str(h, "release_reason"),
			       ctl_get_str(h, "approved_by")[0] ? "; approved by "
							    : "; awaiting approval",
			       ctl_get_str(h, "approved_by"));
	}
	json_object_put(o);
	return 0;
}

/* retention accept-clock: after the clock was off (or jumped), retention
 * deletes only what the time elapsed allows; the data protection officer
 * confirms the clock is right and it trusts it again. */
int ctl_cmd_retention(struct ctl *c)
{
	struct json_object *o;

	if (c->n_args != 1 || strcmp(c->args[0], "accept-clock") != 0) {
		fprintf(stderr, "usage: vigilctl retention accept-clock --purpose \"why the clock "
				"is right\"\n");
		return EXIT_USAGE;
	}
	o = ctl_request(c, "retention.accept_clock", json_object_new_object());
	if (o == NULL)
		return EXIT_REFUSED;
	printf("%s\n", ctl_get_str(o, "message"));
	json_object_put(o);
	return 0;
}
