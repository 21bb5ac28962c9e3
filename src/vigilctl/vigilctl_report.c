/*
 * vigilctl_report.c - `vigilctl report --from T --to T --out FILE.html`
 * (or --json --out FILE.json): the review report (report.h).
 *
 * vigild builds and signs the figures; this writes, next to FILE:
 *   BASE.json      the figures (docs/report-format.md), exactly as signed
 *   BASE.json.sig  the device's DER signature of BASE.json
 *   BASE.pem       the device's public key, to check it with openssl
 * and, unless --json, FILE itself: the HTML page rendered from BASE.json,
 * stating its SHA-256. BASE is FILE without .html, .htm or .json. Nothing
 * is written unless the signature checks, and no file is overwritten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <mbedtls/base64.h>

#include "vigil/fdio.h"
#include "vigil/proto.h"
#include "vigil/report.h"
#include "vigil/sign.h"
#include "ctlclient.h"

#define MAX_REPORT_BYTES (64 * 1024 * 1024)

struct outputs {
	char json[4096], sig[4096], pem[4096];
	const char *html;	/* NULL with --json */
};

static int names(struct ctl *c, struct outputs *o)
{
	static const char *const exts[] = { ".html", ".htm", ".json" };
	size_t n = strlen(c->out);

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t e = strlen(exts[i]);

		if (n > e && strcmp(c->out + n - e, exts[i]) == 0) {
			n -= e;
			break;
		}
	}
	snprintf(o->json, sizeof(o->json), "%.*s.json", (int)n, c->out);
	snprintf(o->sig, sizeof(o->sig), "%s.sig", o->json);
	snprintf(o->pem, sizeof(o->pem), "%.*s.pem", (int)n, c->out);
	o->html = c->json ? NULL : c->out;
	if (o->html && strcmp(o->html, o->json) == 0) {
		fprintf(stderr, "vigilctl: --out names the HTML page; use --json for the figures "
				"alone\n");
		return -1;
	}
	if (access(o->json, F_OK) == 0 || access(o->sig, F_OK) == 0 ||
	    access(o->pem, F_OK) == 0 || (o->html && access(o->html, F_OK) == 0)) {
		fprintf(stderr, "vigilctl: %s or its companions (%s, %s, %s) already exist; "
				"choose another name\n", c->out, o->json, o->sig, o->pem);
		return -1;
	}
	return 0;
}

/* The JSON in DATA frames, then the END frame's object. */
static int receive(struct ctl *c, char **buf, size_t *len, struct json_object **end)
{
	size_t cap = 0;

	*buf = NULL;
	*len = 0;
	*end = NULL;
	for (;;) {
		enum vg_frame_type type;
		char *f;
		size_t n;

		if (vg_proto_recv(c->fd, &type, &f, &n) != 0) {
			fprintf(stderr, "vigilctl: the connection to vigild broke before the end\n");
			return -1;
		}
		if (type != VG_FRAME_DATA) {
			*end = type == VG_FRAME_END ? json_tokener_parse(f) : NULL;
			free(f);
			return *end ? 0 : -1;
		}
		if (*len + n > MAX_REPORT_BYTES) {
			free(f);
			fprintf(stderr, "vigilctl: the report is larger than %d MB\n",
				MAX_REPORT_BYTES >> 20);
			return -1;
		}
		if (*len + n + 1 > cap) {
			char *nb;

			cap = (*len + n + 1) * 2;
			nb = realloc(*buf, cap);
			if (nb == NULL) {
				free(f);
				return -1;
			}
			*buf = nb;
		}
		memcpy(*buf + *len, f, n);
		*len += n;
		(*buf)[*len] = '\0';
		free(f);
	}
}

/* The signature must check against the key vigild sent before anything is
 * written: a corrupted transfer never becomes a "signed" report. */
static int check(const char *json, size_t len, struct json_object *end, uint8_t *sig,
		 size_t *siglen, char sha[65])
{
	struct vg_sign_key *k = NULL;
	const char *b64 = ctl_get_str(end, "signature_base64");
	uint8_t d[VG_SIGN_DIGEST_LEN];
	size_t n = 0;
	int ok;

	vg_sign_sha256(json, len, d);
	for (int i = 0; i < VG_SIGN_DIGEST_LEN; i++)
		snprintf(sha + 2 * i, 3, "%02x", d[i]);
	/* mbedTLS's decoder (vigilctl links no FFmpeg): a signature that
	 * does not fit VG_SIGN_MAX_SIG is refused, not cut. */
	if (mbedtls_base64_decode(sig, VG_SIGN_MAX_SIG, &n, (const unsigned char *)b64,
				  strlen(b64)) != 0)
		n = 0;
	if (n == 0 || strcmp(sha, ctl_get_str(end, "sha256")) != 0 ||
	    vg_sign_pubkey_parse(ctl_get_str(end, "public_key_pem"), &k) != 0)
		return -1;
	*siglen = n;
	ok = vg_sign_verify(k, d, sig, *siglen) == 0;
	vg_sign_key_free(k);
	return ok ? 0 : -1;
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = ctl_open_output(path), ret = 0;

	if (fd < 0)
		return EXIT_REFUSED;
	if (vg_write_all(fd, data, len) < 0) {
		fprintf(stderr, "vigilctl: cannot write %s: %m\n", path);
		ret = EXIT_REFUSED;
	}
	return ctl_close_output(fd, path, ret);
}

static int write_html(const char *path, const char *json, size_t len, const char *sha)
{
	int fd = ctl_open_output(path), rc;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	char why[300] = "out of memory";

	if (fd < 0)
		return EXIT_REFUSED;
	if (f == NULL) {
		close(fd);
		rc = -1;
	} else {
		rc = vg_report_html(json, len, sha, f, why, sizeof(why));
		if (fclose(f) != 0 && rc == 0) {
			snprintf(why, sizeof(why), "%m");
			rc = -1;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "vigilctl: cannot write %s: %s\n", path, why);
		unlink(path);	/* never half a page that looks whole */
		return EXIT_REFUSED;
	}
	return 0;
}

static int count_actions(const char *json)
{
	struct json_object *o = json_tokener_parse(json), *a;
	int n = -1;

	if (o && json_object_object_get_ex(o, "actions", &a))
		n = (int)json_object_array_length(a);
	json_object_put(o);
	return n;
}

int ctl_cmd_report(struct ctl *c)
{
	struct json_object *req, *o, *end = NULL;
	struct outputs out;
	uint8_t sig[VG_SIGN_MAX_SIG];
	size_t len = 0, siglen = 0;
	char *json = NULL, sha[65];
	int ret = EXIT_REFUSED;

	if (c->from == 0 || c->to == 0 || c->out == NULL || c->n_args != 0) {
		fprintf(stderr, "usage: vigilctl report --from T --to T --out FILE.html\n"
				"       vigilctl report --from T --to T --json --out FILE.json\n");
		return EXIT_USAGE;
	}
	if (names(c, &out) < 0)
		return EXIT_USAGE;
	req = json_object_new_object();
	json_object_object_add(req, "from_us", json_object_new_int64(c->from));
	json_object_object_add(req, "to_us", json_object_new_int64(c->to));
	o = ctl_request(c, "report", req);
	if (o == NULL)
		return EXIT_REFUSED;
	json_object_put(o);
	if (receive(c, &json, &len, &end) < 0 || !json_object_get_boolean(
		    json_object_object_get(end, "ok"))) {
		fprintf(stderr, "vigilctl: vigild did not finish sending the report: %s\n",
			end ? ctl_get_str(end, "error") : "no closing frame");
		goto out;
	}
	if (check(json, len, end, sig, &siglen, sha) < 0) {
		fprintf(stderr, "vigilctl: the report's signature does not check; nothing "
				"written (try again, and tell the installer if it persists)\n");
		goto out;
	}
	ret = write_file(out.json, json, len);
	if (ret == 0)
		ret = write_file(out.sig, sig, siglen);
	if (ret == 0)
		ret = write_file(out.pem, ctl_get_str(end, "public_key_pem"),
				 strlen(ctl_get_str(end, "public_key_pem")));
	if (ret == 0 && out.html)
		ret = write_html(out.html, json, len, sha);
	if (ret != 0)
		goto out;
	if (out.html)
		printf("report written: %s (%d action(s) listed)\n", out.html, count_actions(json));
	printf("figures: %s (SHA-256 %s)\nsignature: %s\ndevice public key: %s\n"
	       "check with: openssl dgst -sha256 -verify %s -signature %s %s\n", out.json, sha,
	       out.sig, out.pem, out.pem, out.sig, out.json);
out:
	json_object_put(end);
	free(json);
	return ret;
}
