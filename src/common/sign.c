/*
 * sign.c - device signing key (ECDSA P-256) on mbedTLS 2.28.
 *
 * This is the second place mbedTLS is called (crypto.c holds the clip
 * ciphers): ECDSA and the PEM/DER encodings live here so the audit module
 * needs no mbedTLS type in its interface.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#define VG_LOG_MODULE "SIGN"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/sign.h"

#define KEY_FILE_MAX 4096	/* a P-256 PEM private key is about 230 bytes */

struct vg_sign_key {
	mbedtls_pk_context pk;
	int has_private;
	int rng_ready;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	pthread_mutex_t lock;	/* guards drbg and pk while signing */
};

static void set_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static int key_alloc(struct vg_sign_key **out)
{
	struct vg_sign_key *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return -VG_ENOMEM;
	mbedtls_pk_init(&k->pk);
	mbedtls_entropy_init(&k->entropy);
	mbedtls_ctr_drbg_init(&k->drbg);
	pthread_mutex_init(&k->lock, NULL);
	*out = k;
	return 0;
}

void vg_sign_key_free(struct vg_sign_key *k)
{
	if (k == NULL)
		return;
	mbedtls_pk_free(&k->pk);	/* zeroizes the private scalar */
	mbedtls_ctr_drbg_free(&k->drbg);
	mbedtls_entropy_free(&k->entropy);
	pthread_mutex_destroy(&k->lock);
	mbedtls_platform_zeroize(k, sizeof(*k));
	free(k);
}

/* Seed the DRBG lazily: verify-only keys never need it. */
static int rng_init(struct vg_sign_key *k)
{
	static const char pers[] = "vigil-sign";

	if (k->rng_ready)
		return 0;
	if (mbedtls_ctr_drbg_seed(&k->drbg, mbedtls_entropy_func, &k->entropy,
				  (const unsigned char *)pers, sizeof(pers) - 1) != 0)
		return -VG_ECRYPTO;
	k->rng_ready = 1;
	return 0;
}

static int check_p256(const mbedtls_pk_context *pk)
{
	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY)
		return -VG_EFORMAT;
	if (mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return -VG_EFORMAT;
	return 0;
}

int vg_sign_key_generate(struct vg_sign_key **out)
{
	struct vg_sign_key *k = NULL;
	int rc;

	*out = NULL;
	rc = key_alloc(&k);
	if (rc < 0)
		return rc;
	rc = rng_init(k);
	if (rc < 0)
		goto fail;
	if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk),
				mbedtls_ctr_drbg_random, &k->drbg) != 0) {
		rc = -VG_ECRYPTO;
		goto fail;
	}
	k->has_private = 1;
	*out = k;
	return 0;
fail:
	vg_sign_key_free(k);
	return rc;
}

int vg_sign_pubkey_parse(const char *pem, struct vg_sign_key **out)
{
	struct vg_sign_key *k = NULL;
	int rc;

	*out = NULL;
	if (pem == NULL)
		return -VG_EINVAL;
	rc = key_alloc(&k);
	if (rc < 0)
		return rc;
	if (mbedtls_pk_parse_public_key(&k->pk, (const unsigned char *)pem,
					strlen(pem) + 1) != 0 || check_p256(&k->pk) < 0) {
		vg_sign_key_free(k);
		return -VG_EFORMAT;
	}
	*out = k;
	return 0;
}

int vg_sign_key_has_private(const struct vg_sign_key *k)
{
	return k != NULL && k->has_private;
}

/* fsync the directory holding path so a new file's name is durable too. */
static void sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Write k's private key to a new file: -VG_EEXIST if someone else won. */
static int key_write_new(const struct vg_sign_key *k, const char *path, char *why, size_t whylen)
{
	unsigned char pem[KEY_FILE_MAX];
	size_t len, off = 0;
	int fd, rc = 0;

	if (mbedtls_pk_write_key_pem((mbedtls_pk_context *)&k->pk, pem, sizeof(pem)) != 0)
		return -VG_ECRYPTO;
	len = strlen((const char *)pem);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -vg_err_from_errno(errno);
		if (rc != -VG_EEXIST)
			set_why(why, whylen, "cannot create signing key %s (errno %d)", path,
				errno);
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, pem + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -VG_EIO;
			break;
		}
		off += (size_t)n;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -VG_EIO;
	close(fd);
	if (rc < 0) {
		set_why(why, whylen, "cannot write signing key %s", path);
		unlink(path);
		goto out;
	}
	sync_dir(path);
out:
	mbedtls_platform_zeroize(pem, sizeof(pem));
	return rc;
}

static int key_read(const char *path, struct vg_sign_key **out, char *why, size_t whylen)
{
	unsigned char buf[KEY_FILE_MAX + 1];
	struct vg_sign_key *k = NULL;
	struct stat st;
	size_t len = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -vg_err_from_errno(errno);
		if (errno == ELOOP)
			rc = -VG_EPERM;
		set_why(why, whylen, rc == -VG_EPERM ?
			"signing key %s is a symbolic link or unreadable; it must be a plain "
			"file owned by the vigil user" : "cannot open signing key %s", path);
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -VG_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		set_why(why, whylen, "signing key %s is unsafe (mode %03o, owner uid %u): it "
			"must be a plain file owned by uid %u that only its owner can read; run "
			"chown %u %s && chmod 600 %s", path, (unsigned)(st.st_mode & 0777),
			(unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), path, path);
		rc = -VG_EPERM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, KEY_FILE_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -VG_EIO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == KEY_FILE_MAX) {
			rc = -VG_EFORMAT;
			set_why(why, whylen, "signing key %s is too large to be a P-256 key", path);
			goto out;
		}
	}
	buf[len] = '\0';
	rc = key_alloc(&k);
	if (rc < 0)
		goto out;
	if (mbedtls_pk_parse_key(&k->pk, buf, len + 1, NULL, 0) != 0 || check_p256(&k->pk) < 0) {
		set_why(why, whylen, "signing key %s is not a PEM ECDSA P-256 private key", path);
		rc = -VG_EFORMAT;
		goto out;
	}
	k->has_private = 1;
	*out = k;
	k = NULL;
	rc = 0;
out:
	if (rc == -VG_EIO)
		set_why(why, whylen, "cannot read signing key %s", path);
	vg_sign_key_free(k);
	mbedtls_platform_zeroize(buf, sizeof(buf));
	close(fd);
	return rc;
}

int vg_sign_key_load(const char *path, int create, struct vg_sign_key **out,
		     int *created, char *why, size_t whylen)
{
	struct vg_sign_key *k = NULL;
	int rc, attempt;

	*out = NULL;
	if (created != NULL)
		*created = 0;
	if (path == NULL)
		return -VG_EINVAL;
	/* Two attempts: if another process creates the file between our
	 * failed open and our O_EXCL create, we load theirs. */
	for (attempt = 0; attempt < 2; attempt++) {
		rc = key_read(path, out, why, whylen);
		if (rc != -VG_ENOENT || !create)
			return rc;
		rc = vg_sign_key_generate(&k);
		if (rc < 0)
			return rc;
		rc = key_write_new(k, path, why, whylen);
		if (rc == 0) {
			vg_info("created signing key %s", path);
			if (created != NULL)
				*created = 1;
			*out = k;
			return 0;
		}
		vg_sign_key_free(k);
		k = NULL;
		if (rc != -VG_EEXIST)
			return rc;
	}
	return rc;
}

int vg_sign_digest(struct vg_sign_key *k, const uint8_t digest[VG_SIGN_DIGEST_LEN],
		   uint8_t *sig, size_t cap, size_t *siglen)
{
	unsigned char tmp[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t len = 0;
	int rc = 0;

	if (k == NULL || !k->has_private || sig == NULL || siglen == NULL)
		return -VG_EINVAL;
	pthread_mutex_lock(&k->lock);
	rc = rng_init(k);
	if (rc == 0 && mbedtls_pk_sign(&k->pk, MBEDTLS_MD_SHA256, digest, VG_SIGN_DIGEST_LEN,
				       tmp, &len, mbedtls_ctr_drbg_random, &k->drbg) != 0)
		rc = -VG_ECRYPTO;
	pthread_mutex_unlock(&k->lock);
	if (rc < 0)
		return rc;
	if (len > cap)
		return -VG_EINVAL;
	memcpy(sig, tmp, len);
	*siglen = len;
	return 0;
}

int vg_sign_verify(const struct vg_sign_key *k, const uint8_t digest[VG_SIGN_DIGEST_LEN],
		   const uint8_t *sig, size_t siglen)
{
	if (k == NULL || sig == NULL || siglen == 0)
		return -VG_EAUTH;
	/* mbedtls_pk_verify does not modify the context; the cast is its API. */
	if (mbedtls_pk_verify((mbedtls_pk_context *)&k->pk, MBEDTLS_MD_SHA256, digest,
			      VG_SIGN_DIGEST_LEN, sig, siglen) != 0)
		return -VG_EAUTH;
	return 0;
}

int vg_sign_pubkey_pem(const struct vg_sign_key *k, char *out, size_t cap)
{
	if (k == NULL || out == NULL || cap == 0)
		return -VG_EINVAL;
	if (mbedtls_pk_write_pubkey_pem((mbedtls_pk_context *)&k->pk,
					(unsigned char *)out, cap) != 0)
		return -VG_EINVAL;
	return 0;
}

int vg_sign_fingerprint(const struct vg_sign_key *k, char out[VG_SIGN_FPR_HEX_LEN])
{
	unsigned char der[256];
	uint8_t h[VG_SIGN_DIGEST_LEN];
	int len;

	if (k == NULL)
		return -VG_EINVAL;
	/* mbedtls writes DER at the END of the buffer and returns its length. */
	len = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)&k->pk, der, sizeof(der));
	if (len <= 0)
		return -VG_ECRYPTO;
	vg_sign_sha256(der + sizeof(der) - (size_t)len, (size_t)len, h);
	vg_hex(h, VG_SIGN_DIGEST_LEN, out);
	return 0;
}

void vg_sign_sha256(const void *data, size_t len, uint8_t out[VG_SIGN_DIGEST_LEN])
{
	(void)mbedtls_sha256_ret(data, len, out, 0);
}
