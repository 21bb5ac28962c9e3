/* test_sign.c - device signing key: file safety, sign/verify, OpenSSL interop. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vigil/err.h"
#include "vigil/sign.h"

struct tmp {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/vigil-sign-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/device.key", t->dir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_create_then_load_same_key(void **state)
{
	struct tmp *t = *state;
	struct vg_sign_key *k1 = NULL, *k2 = NULL;
	char f1[VG_SIGN_FPR_HEX_LEN], f2[VG_SIGN_FPR_HEX_LEN], why[256];
	struct stat st;
	int created = -1;

	/* Missing and create == 0: a clear refusal, nothing created. */
	assert_int_equal(vg_sign_key_load(t->path, 0, &k1, &created, why, sizeof(why)),
			 -VG_ENOENT);
	assert_int_equal(access(t->path, F_OK), -1);

	assert_int_equal(vg_sign_key_load(t->path, 1, &k1, &created, why, sizeof(why)), 0);
	assert_int_equal(created, 1);
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(vg_sign_key_load(t->path, 1, &k2, &created, why, sizeof(why)), 0);
	assert_int_equal(created, 0);
	assert_int_equal(vg_sign_fingerprint(k1, f1), 0);
	assert_int_equal(vg_sign_fingerprint(k2, f2), 0);
	assert_int_equal(strlen(f1), 64);
	assert_string_equal(f1, f2);
	vg_sign_key_free(k1);
	vg_sign_key_free(k2);
	vg_sign_key_free(NULL);
}

static void test_unsafe_key_files_refused(void **state)
{
	struct tmp *t = *state;
	struct vg_sign_key *k = NULL;
	char link[160], why[512];

	assert_int_equal(vg_sign_key_load(t->path, 1, &k, NULL, why, sizeof(why)), 0);
	vg_sign_key_free(k);
	k = NULL;

	assert_int_equal(chmod(t->path, 0640), 0);
	assert_int_equal(vg_sign_key_load(t->path, 1, &k, NULL, why, sizeof(why)), -VG_EPERM);
	assert_null(k);
	assert_non_null(strstr(why, "chmod 600"));
	assert_int_equal(chmod(t->path, 0600), 0);

	/* A symlink to a good key is still refused (O_NOFOLLOW). */
	snprintf(link, sizeof(link), "%s/link.key", t->dir);
	assert_int_equal(symlink(t->path, link), 0);
	assert_int_equal(vg_sign_key_load(link, 1, &k, NULL, why, sizeof(why)), -VG_EPERM);
	assert_null(k);

	/* Garbage is refused as a format error, not overwritten. */
	unlink(link);
	{
		int fd = open(link, O_WRONLY | O_CREAT | O_EXCL, 0600);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "not a key\n", 10), 10);
		close(fd);
	}
	assert_int_equal(vg_sign_key_load(link, 1, &k, NULL, why, sizeof(why)), -VG_EFORMAT);
	assert_null(k);
}

static void test_sign_verify_and_bit_flips(void **state)
{
	struct vg_sign_key *k = NULL, *other = NULL, *pub = NULL;
	uint8_t d[32], sig[VG_SIGN_MAX_SIG];
	char pem[VG_SIGN_PEM_MAX], f1[VG_SIGN_FPR_HEX_LEN], f2[VG_SIGN_FPR_HEX_LEN];
	size_t siglen = 0;

	assert_int_equal(vg_sign_key_generate(&k), 0);
	assert_int_equal(vg_sign_key_generate(&other), 0);
	vg_sign_sha256("checkpoint", 10, d);
	assert_int_equal(vg_sign_digest(k, d, sig, sizeof(sig), &siglen), 0);
	assert_true(siglen >= 8 && siglen <= 72);
	assert_int_equal(sig[0], 0x30);	/* DER SEQUENCE */
	assert_int_equal(vg_sign_verify(k, d, sig, siglen), 0);

	/* Verify-only key from the exported PEM. */
	assert_int_equal(vg_sign_pubkey_pem(k, pem, sizeof(pem)), 0);
	assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
	assert_int_equal(vg_sign_pubkey_parse(pem, &pub), 0);
	assert_int_equal(vg_sign_key_has_private(pub), 0);
	assert_int_equal(vg_sign_verify(pub, d, sig, siglen), 0);
	assert_int_equal(vg_sign_fingerprint(k, f1), 0);
	assert_int_equal(vg_sign_fingerprint(pub, f2), 0);
	assert_string_equal(f1, f2);
	/* A public key cannot sign. */
	assert_int_equal(vg_sign_digest(pub, d, sig, sizeof(sig), &siglen), -VG_EINVAL);
	assert_int_equal(vg_sign_digest(k, d, sig, sizeof(sig), &siglen), 0);

	/* One flipped bit in the digest or in the signature fails. */
	d[5] ^= 0x01;
	assert_int_equal(vg_sign_verify(pub, d, sig, siglen), -VG_EAUTH);
	d[5] ^= 0x01;
	sig[siglen - 1] ^= 0x80;
	assert_int_equal(vg_sign_verify(pub, d, sig, siglen), -VG_EAUTH);
	sig[siglen - 1] ^= 0x80;
	/* Another device's key does not verify it. */
	assert_int_equal(vg_sign_verify(other, d, sig, siglen), -VG_EAUTH);
	assert_int_equal(vg_sign_verify(pub, d, sig, siglen), 0);
	vg_sign_key_free(k);
	vg_sign_key_free(other);
	vg_sign_key_free(pub);
}

static void test_openssl_interop(void **state)
{
	struct tmp *t = *state;
	static const char data[] = "vigil audit head: seq 12";
	struct vg_sign_key *k = NULL;
	uint8_t d[32], sig[VG_SIGN_MAX_SIG];
	char pem[VG_SIGN_PEM_MAX], fpr[VG_SIGN_FPR_HEX_LEN], cmd[1024], p_pub[160], p_sig[160],
		p_data[160], p_fpr[160], line[128] = "";
	size_t siglen;
	FILE *f;

	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		skip();
		return;
	}
	assert_int_equal(vg_sign_key_generate(&k), 0);
	vg_sign_sha256(data, sizeof(data) - 1, d);
	assert_int_equal(vg_sign_digest(k, d, sig, sizeof(sig), &siglen), 0);
	assert_int_equal(vg_sign_pubkey_pem(k, pem, sizeof(pem)), 0);
	snprintf(p_pub, sizeof(p_pub), "%s/pub.pem", t->dir);
	snprintf(p_sig, sizeof(p_sig), "%s/data.sig", t->dir);
	snprintf(p_data, sizeof(p_data), "%s/data", t->dir);
	snprintf(p_fpr, sizeof(p_fpr), "%s/fpr", t->dir);
	write_file(p_pub, pem, strlen(pem));
	write_file(p_sig, sig, siglen);
	write_file(p_data, data, sizeof(data) - 1);

	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -verify '%s' -signature '%s' '%s'"
		 " >/dev/null 2>&1", p_pub, p_sig, p_data);
	assert_int_equal(system(cmd), 0);

	/* OpenSSL must reject the same signature over different data. */
	write_file(p_data, "vigil audit head: seq 13", sizeof(data) - 1);
	assert_int_not_equal(system(cmd), 0);

	/* The fingerprint is SHA-256 of the DER public key, as OpenSSL sees it. */
	snprintf(cmd, sizeof(cmd), "openssl pkey -pubin -in '%s' -outform DER | "
		 "openssl dgst -sha256 -r > '%s'", p_pub, p_fpr);
	assert_int_equal(system(cmd), 0);
	f = fopen(p_fpr, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(vg_sign_fingerprint(k, fpr), 0);
	assert_memory_equal(line, fpr, 64);
	vg_sign_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_then_load_same_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_key_files_refused, setup, teardown),
		cmocka_unit_test(test_sign_verify_and_bit_flips),
		cmocka_unit_test_setup_teardown(test_openssl_interop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
