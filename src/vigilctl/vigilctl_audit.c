/*
 * vigilctl_audit.c - `vigilctl audit show|verify|acknowledge` and `vigilctl
 * key show`.
 *
 * audit show streams: vigild sends the rows in pages as DATA frames and
 * they are copied to stdout as they come, so a log of any length prints
 * (text lines, or one JSON array with --json). audit verify --witness FILE
 * also compares the log with a collector's copy of the checkpoints (any
 * file of syslog lines holding [vigil-checkpoint@32473 ...] elements).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vigil/audit.h"
#include "vigil/err.h"
#include "ctlclient.h"

#define WITNESS_CHUNK 2000	/* checkpoints per request: well inside a frame */

static int audit_show(struct ctl *c)
{
	struct json_object *req = json_object_new_object(), *o, *end = NULL;
	int ret;

	if (c->from)
		json_object_object_add(req, "since_us", json_object_new_int64(c->from));
	if (c->to)
		json_object_object_add(req, "until_us", json_object_new_int64(c->to));
	if (c->user)
		json_object_object_add(req, "user", json_object_new_string(c->user));
	if (c->camera)
		json_object_object_add(req, "camera", json_object_new_string(c->camera));
	if (c->action)
		json_object_object_add(req, "action", json_object_new_string(c->action));
	json_object_object_add(req, "json", json_object_new_int(c->json));
	o = ctl_request(c, "audit.show", req);
	if (o == NULL)
		return EXIT_REFUSED;
	json_object_put(o);
	ret = ctl_receive(c, STDOUT_FILENO, "standard output", &end);
	if (ret == 0 && (end == NULL || !ctl_get_int(end, "ok"))) {
		fprintf(stderr, "vigilctl: %s\n", end ? ctl_get_str(end, "error") :
			"vigild ended the audit listing without saying how it went");
		ret = EXIT_REFUSED;
	}
	json_object_put(end);
	return ret;
}

static void add_cp(struct json_object *arr, const struct vg_audit_checkpoint *cp)
{
	struct json_object *e = json_object_new_object();
	char hex[2 * VG_SIGN_MAX_SIG + 1];

	json_object_object_add(e, "seq", json_object_new_int64(cp->seq));
	json_object_object_add(e, "time_us", json_object_new_int64(cp->time_us));
	for (size_t i = 0; i < VG_AUDIT_HASH_LEN; i++)
		sprintf(hex + 2 * i, "%02x", cp->hash[i]);
	json_object_object_add(e, "hash", json_object_new_string(hex));
	for (size_t i = 0; i < cp->sig_len; i++)
		sprintf(hex + 2 * i, "%02x", cp->sig[i]);
	hex[2 * cp->sig_len] = '\0';
	json_object_object_add(e, "sig", json_object_new_string(hex));
	json_object_array_add(arr, e);
}

/* One audit.verify request: the chain (first only) and a chunk of the
 * witness. 0 intact, 1 not intact (printed), EXIT_REFUSED. */
static int verify_once(struct ctl *c, int chain, struct json_object *witness, int *printed)
{
	struct json_object *req = json_object_new_object(), *o;
	int bad = 0;

	json_object_object_add(req, "chain", json_object_new_int(chain));
	if (witness)
		json_object_object_add(req, "witness", witness);
	o = ctl_request(c, "audit.verify", req);
	if (o == NULL)
		return EXIT_REFUSED;
	if (chain && json_object_object_get_ex(o, "problem", NULL)) {
		printf("audit log NOT intact: first bad row %lld: %s\n",
		       (long long)ctl_get_int(o, "bad_seq"), ctl_get_str(o, "problem"));
		bad = 1;
	}
	if (json_object_object_get_ex(o, "witness_problem", NULL)) {
		printf("audit log does NOT match the witness: first bad row %lld: %s\n",
		       (long long)ctl_get_int(o, "witness_bad_seq"), ctl_get_str(o, "witness_problem"));
		bad = 1;
	}
	if (chain && !bad) {
		printf("audit log intact: %lld rows, %lld signed checkpoints",
		       (long long)ctl_get_int(o, "rows"), (long long)ctl_get_int(o, "checkpoints"));
		if (ctl_get_int(o, "acknowledged_breaks"))
			printf(" (%lld acknowledged break(s): see audit show --action audit)",
			       (long long)ctl_get_int(o, "acknowledged_breaks"));
		printf("\n");
		*printed = 1;
	}
	json_object_put(o);
	return bad;
}

static int audit_verify(struct ctl *c)
{
	struct json_object *chunk = NULL;
	FILE *f = NULL;
	char *line = NULL;
	size_t cap = 0, n = 0, total = 0, lineno = 0;
	int ret = 0, first = 1, printed = 0, r;

	if (c->witness == NULL)
		return verify_once(c, 1, NULL, &printed);
	f = fopen(c->witness, "r");
	if (f == NULL) {
		fprintf(stderr, "vigilctl: cannot read the witness file %s: %m\n", c->witness);
		return EXIT_USAGE;
	}
	while (getline(&line, &cap, f) > 0) {
		struct vg_audit_checkpoint cp;

		lineno++;
		r = vg_audit_parse_witness(line, &cp);
		if (r < 0)
			fprintf(stderr, "vigilctl: %s:%zu: a malformed checkpoint element; skipped "
				"(a collector's copy should not hold one: find out why)\n",
				c->witness, lineno);
		if (r != 1)
			continue;
		if (chunk == NULL)
			chunk = json_object_new_array();
		add_cp(chunk, &cp);
		n++;
		total++;
		if (n == WITNESS_CHUNK) {
			r = verify_once(c, first, chunk, &printed);
			chunk = NULL;
			n = 0;
			first = 0;
			if (r == EXIT_REFUSED) {
				ret = r;
				goto out;
			}
			ret |= r;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "vigilctl: cannot read the witness file %s: %m\n", c->witness);
		json_object_put(chunk);
		ret = EXIT_USAGE;
		goto out;
	}
	if (total == 0) {
		fprintf(stderr, "vigilctl: %s holds no vigil checkpoint: is it the collector's copy "
			"of this box's log?\n", c->witness);
		ret = 1;
		goto out;
	}
	if (chunk != NULL || first) {
		r = verify_once(c, first, chunk, &printed);
		if (r == EXIT_REFUSED) {
			ret = r;
			goto out;
		}
		ret |= r;
	}
	if (ret == 0)
		printf("witness: %zu checkpoint(s) from %s match the log\n", total, c->witness);
out:
	free(line);
	fclose(f);
	return ret;
}

static int audit_acknowledge(struct ctl *c)
{
	struct json_object *o = ctl_request(c, "audit.acknowledge", json_object_new_object());

	if (o == NULL)
		return EXIT_REFUSED;
	printf("the broken audit log (first bad row %lld) is acknowledged and signed over; the "
	       "evidence stays in %s\n", (long long)ctl_get_int(o, "first_bad_row"),
	       ctl_get_str(o, "evidence"));
	json_object_put(o);
	return 0;
}

int ctl_cmd_audit(struct ctl *c)
{
	if (c->n_args == 1 && strcmp(c->args[0], "show") == 0)
		return audit_show(c);
	if (c->n_args == 1 && strcmp(c->args[0], "verify") == 0)
		return audit_verify(c);
	if (c->n_args == 1 && strcmp(c->args[0], "acknowledge") == 0)
		return audit_acknowledge(c);
	fprintf(stderr, "usage: vigilctl audit show [--since T] [--until T] [--user L] [--camera C] "
			"[--action A] [--json]\n"
			"       vigilctl audit verify [--witness FILE]\n"
			"       vigilctl audit acknowledge --purpose P   (DPO: accept a broken log)\n");
	return EXIT_USAGE;
}

int ctl_cmd_key(struct ctl *c)
{
	struct json_object *o;

	if (c->n_args != 1 || strcmp(c->args[0], "show") != 0) {
		fprintf(stderr, "usage: vigilctl key show\n");
		return EXIT_USAGE;
	}
	o = ctl_request(c, "key.show", json_object_new_object());
	if (o == NULL)
		return EXIT_REFUSED;
	printf("%sfingerprint (SHA-256 of the DER public key): %s\n", ctl_get_str(o, "pem"),
	       ctl_get_str(o, "fingerprint"));
	json_object_put(o);
	return 0;
}
