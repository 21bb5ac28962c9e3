/*
 * vigilctl_verify.c - `vigilctl verify DIR|ISO [--fingerprint HEX | --key FILE]`:
 * an export checked as a recipient would (verify.h), and who signed it.
 *
 * A valid signature proves only that whoever holds the included key signed
 * the manifest; a forger re-signs with a key of their own. So the signer is
 * named against a key the user trusts, never the one on the medium:
 *   - the key they name (--fingerprint HEX, e.g. read from the request form
 *     or the recorder's label, or --key FILE, the recorder's public key);
 *   - else, on the recorder itself, the device key vigild reports (status);
 *   - else the signer is unknown, and the exit status says so.
 * Exit 0: intact and signed by the expected recorder; 1: not intact (or
 * unreadable); 4: intact, but signed by an unknown or a different key.
 *
 * Runs without vigild; only the "this recorder" comparison asks it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vigil/err.h"
#include "vigil/sign.h"
#include "vigil/verify.h"
#include "ctlclient.h"

#define EXIT_UNKNOWN_SIGNER 4
#define KEY_FILE_MAX (64 * 1024)

static void verify_report(int ok, const char *file, const char *msg, void *ud)
{
	(void)ud;
	if (!ok)
		printf("BAD  %s%s%s\n", file, file[0] ? ": " : "", msg);
}

/* 64 hex digits from s, ignoring ':' and spaces, lower-cased; -1 if not. */
static int parse_fingerprint(const char *s, char out[VG_SIGN_FPR_HEX_LEN])
{
	int n = 0;

	for (; *s; s++) {
		if (*s == ':' || *s == ' ')
			continue;
		if (!isxdigit((unsigned char)*s) || n == VG_SIGN_FPR_HEX_LEN - 1)
			return -1;
		out[n++] = (char)tolower((unsigned char)*s);
	}
	out[n] = '\0';
	return n == VG_SIGN_FPR_HEX_LEN - 1 ? 0 : -1;
}

/* The fingerprint of the public key in the PEM file path (a regular file,
 * opened once); -1 with the reason printed. */
static int key_file_fingerprint(const char *path, char out[VG_SIGN_FPR_HEX_LEN])
{
	struct vg_sign_key *k = NULL;
	struct stat st;
	char *pem;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		fprintf(stderr, "vigilctl: cannot open the key file %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
		fprintf(stderr, "vigilctl: %s is not a public key file (a PEM file such as an "
				"export's device-public-key.pem)\n", path);
		close(fd);
		return -1;
	}
	pem = calloc(1, (size_t)st.st_size + 1);
	n = pem ? read(fd, pem, (size_t)st.st_size) : -1;
	close(fd);
	if (n < 0 || vg_sign_pubkey_parse(pem, &k) < 0 || vg_sign_fingerprint(k, out) < 0) {
		fprintf(stderr, "vigilctl: %s holds no ECDSA P-256 public key (PEM)\n", path);
		vg_sign_key_free(k);
		free(pem);
		return -1;
	}
	vg_sign_key_free(k);
	free(pem);
	return 0;
}

/* This recorder's device key fingerprint, from the vigild the config (or
 * -s) names, if one answers and lets us ask; 0 if known, -1 if not. */
static int recorder_fingerprint(struct ctl *c, char out[VG_SIGN_FPR_HEX_LEN])
{
	struct json_object *o;
	int ret = -1;

	c->quiet = 1;
	if (ctl_connect(c) < 0)
		return -1;
	o = ctl_request(c, "status", json_object_new_object());
	if (o && parse_fingerprint(ctl_get_str(o, "device_key_fingerprint"), out) == 0)
		ret = 0;
	json_object_put(o);
	close(c->fd);
	c->fd = -1;
	return ret;
}

/* Who signed: 0 the expected recorder, EXIT_UNKNOWN_SIGNER if not. */
static int name_signer(struct ctl *c, const char *fpr)
{
	char want[VG_SIGN_FPR_HEX_LEN];

	if (c->fingerprint || c->key_file) {
		const char *what = c->key_file ? c->key_file : "the fingerprint you gave";

		if (c->key_file ? key_file_fingerprint(c->key_file, want) < 0
				: parse_fingerprint(c->fingerprint, want) < 0) {
			if (!c->key_file)
				fprintf(stderr, "vigilctl: --fingerprint takes the 64 hex digits "
						"of a recorder's device key\n");
			return EXIT_USAGE;
		}
		if (strcmp(want, fpr) == 0) {
			printf("signed by: the recorder you named (%s): the fingerprints match\n",
			       what);
			return 0;
		}
		printf("signed by: an UNKNOWN key, NOT the recorder you named (%s is %s)\n"
		       "The export may have been re-signed by someone else: do not rely on it.\n",
		       what, want);
		return EXIT_UNKNOWN_SIGNER;
	}
	if (recorder_fingerprint(c, want) == 0) {
		if (strcmp(want, fpr) == 0) {
			printf("signed by: this recorder (vigild here reports the same device "
			       "key)\n");
			return 0;
		}
		printf("signed by: an UNKNOWN key, NOT this recorder (its device key is %s)\n"
		       "If it came from another recorder, check it with --fingerprint or --key.\n",
		       want);
		return EXIT_UNKNOWN_SIGNER;
	}
	printf("signed by: an UNKNOWN key: no recorder key to compare with.\n"
	       "Ask the sender for the recorder's fingerprint (on the request or disclosure\n"
	       "form, the label on the recorder, or read out from 'vigilctl key show' on it)\n"
	       "and run again with --fingerprint HEX, or --key FILE with its public key.\n");
	return EXIT_UNKNOWN_SIGNER;
}

int ctl_cmd_verify(struct ctl *c)
{
	struct vg_verify_result res;
	int ret, who = EXIT_UNKNOWN_SIGNER;

	if (c->n_args != 1) {
		fprintf(stderr, "usage: vigilctl verify EXPORT-FOLDER|IMAGE.iso "
				"[--fingerprint HEX | --key FILE]\n");
		return EXIT_USAGE;
	}
	if (c->fingerprint && c->key_file) {
		fprintf(stderr, "vigilctl: give --fingerprint or --key, not both\n");
		return EXIT_USAGE;
	}
	memset(&res, 0, sizeof(res));
	ret = vg_verify_export(c->args[0], verify_report, NULL, &res);
	if (res.fingerprint[0]) {
		printf("device key fingerprint %s\n", res.fingerprint);
		who = name_signer(c, res.fingerprint);
		if (who == EXIT_USAGE)
			return EXIT_USAGE;
	}
	if (ret == 0) {
		printf("%s: intact: %d files checked, %d video(s), %lld pictures, signature valid%s\n",
		       c->args[0], res.files, res.videos, (long long)res.frames,
		       who == 0 ? "" : ", but the signer is not the recorder expected");
		return who;
	}
	if (ret == -VG_EAUTH)
		printf("%s: NOT intact: %d problem(s); first bad file: %s\n", c->args[0],
		       res.problems, res.first_bad[0] ? res.first_bad : "(the export as a whole)");
	else
		printf("%s: cannot be checked: %s\n", c->args[0], vg_strerror(ret));
	return EXIT_REFUSED;
}
