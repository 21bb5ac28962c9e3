/*
 * crypto.c - the one place vigil calls mbedTLS (2.28 API) and Nettle.
 *
 * Why two libraries: the bulk work (SHA-256 of every exported byte,
 * AES-256-GCM of every clip byte) goes to Nettle, which uses the CPU's
 * SHA, AES and carry-less multiply instructions where it has them; mbedTLS
 * 2.28 hashes in plain C and runs GCM 16 bytes at a time. On the
 * development machine (build/tests/bench_crypto, docs/performance.md):
 * SHA-256 about 180-370 MB/s with mbedTLS, 1300 MB/s with Nettle;
 * AES-256-GCM 150-240 MB/s with mbedTLS, 2000 MB/s with Nettle. Nettle is
 * already on the box: Debian's libavformat links it through GnuTLS. Key
 * wrap, HMAC, the random generator and ECDSA stay with mbedTLS. The clip
 * format is unchanged (the committed test vector still decrypts).
 *
 * Porting notes for mbedTLS 3.x: the sha256 *_ret functions lose the
 * suffix, and struct fields become private (we touch none). Debian's 2.28
 * build leaves MBEDTLS_NIST_KW_C out, so RFC 3394 key wrap is done here on
 * top of raw AES; on 3.x with NIST_KW it could call mbedtls_nist_kw_*.
 *
 * SHA-256 and hex (crypto.h's hashing half) live in sha256.c, so that a
 * program that only checks hashes (vigilctl verify) links no cipher.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/aes.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <nettle/gcm.h>
#include <nettle/memops.h>

#define VG_LOG_MODULE "CRY"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/log.h"

/* ---- CSPRNG ---------------------------------------------------------- */

static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_entropy_context rng_entropy;
static mbedtls_ctr_drbg_context rng_drbg;
static int rng_seeded;
static pid_t rng_pid;

static int rng_seed_locked(void)
{
	static const char pers[] = "vigil ctr_drbg";
	int rc;

	mbedtls_entropy_init(&rng_entropy);
	mbedtls_ctr_drbg_init(&rng_drbg);
	rc = mbedtls_ctr_drbg_seed(&rng_drbg, mbedtls_entropy_func, &rng_entropy,
				   (const unsigned char *)pers, sizeof(pers) - 1);
	if (rc != 0) {
		vg_errx("CSPRNG seeding failed (mbedtls -0x%04x)", (unsigned)-rc);
		mbedtls_ctr_drbg_free(&rng_drbg);
		mbedtls_entropy_free(&rng_entropy);
		return -VG_ECRYPTO;
	}
	rng_seeded = 1;
	rng_pid = getpid();
	return 0;
}

int vg_crypto_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	int ret = 0;
	int rc;

	pthread_mutex_lock(&rng_lock);
	if (!rng_seeded) {
		ret = rng_seed_locked();
		if (ret < 0)
			goto out;
	} else if (rng_pid != getpid()) {
		/* A forked child must not replay its parent's stream. */
		rc = mbedtls_ctr_drbg_reseed(&rng_drbg, NULL, 0);
		if (rc != 0) {
			ret = -VG_ECRYPTO;
			goto out;
		}
		rng_pid = getpid();
	}
	while (len > 0) {
		size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;

		rc = mbedtls_ctr_drbg_random(&rng_drbg, p, n);
		if (rc != 0) {
			ret = -VG_ECRYPTO;
			goto out;
		}
		p += n;
		len -= n;
	}
out:
	pthread_mutex_unlock(&rng_lock);
	if (ret < 0)
		mbedtls_platform_zeroize(buf, (size_t)(p - (unsigned char *)buf) + len);
	return ret;
}

void vg_crypto_cleanup(void)
{
	pthread_mutex_lock(&rng_lock);
	if (rng_seeded) {
		mbedtls_ctr_drbg_free(&rng_drbg);
		mbedtls_entropy_free(&rng_entropy);
		rng_seeded = 0;
	}
	pthread_mutex_unlock(&rng_lock);
}

/* mbedtls_md_hmac frees (and so wipes) its own context, also on error. */
int vg_crypto_hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t len,
			  uint8_t out[VG_SHA256_DIGEST_LEN])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

	if (md == NULL || mbedtls_md_hmac(md, key, keylen, data, len, out) != 0) {
		memset(out, 0, VG_SHA256_DIGEST_LEN);
		return -VG_ECRYPTO;
	}
	return 0;
}

/* ---- AES-256-GCM ----------------------------------------------------- */

struct vg_crypto_aead {
	struct gcm_aes256_ctx gcm;
};

int vg_crypto_aead_new(struct vg_crypto_aead **out, const uint8_t key[VG_AES256_KEY_LEN])
{
	struct vg_crypto_aead *a;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -VG_ENOMEM;
	gcm_aes256_set_key(&a->gcm, key);
	*out = a;
	return 0;
}

void vg_crypto_aead_free(struct vg_crypto_aead *a)
{
	if (a == NULL)
		return;
	/* the expanded key */
	mbedtls_platform_zeroize(a, sizeof(*a));
	free(a);
}

int vg_crypto_aead_seal(struct vg_crypto_aead *a, const uint8_t nonce[VG_GCM_NONCE_LEN],
			const void *aad, size_t aadlen, const void *in, size_t len,
			void *out, uint8_t tag[VG_GCM_TAG_LEN])
{
	gcm_aes256_set_iv(&a->gcm, VG_GCM_NONCE_LEN, nonce);
	if (aadlen > 0)
		gcm_aes256_update(&a->gcm, aadlen, aad);
	gcm_aes256_encrypt(&a->gcm, len, out, in);
	gcm_aes256_digest(&a->gcm, VG_GCM_TAG_LEN, tag);
	return 0;
}

int vg_crypto_aead_open(struct vg_crypto_aead *a, const uint8_t nonce[VG_GCM_NONCE_LEN],
			const void *aad, size_t aadlen, const void *in, size_t len,
			const uint8_t tag[VG_GCM_TAG_LEN], void *out)
{
	uint8_t want[VG_GCM_TAG_LEN];

	gcm_aes256_set_iv(&a->gcm, VG_GCM_NONCE_LEN, nonce);
	if (aadlen > 0)
		gcm_aes256_update(&a->gcm, aadlen, aad);
	gcm_aes256_decrypt(&a->gcm, len, out, in);
	gcm_aes256_digest(&a->gcm, VG_GCM_TAG_LEN, want);
	/* constant-time compare; on a mismatch nothing decrypted is left */
	if (!memeql_sec(want, tag, VG_GCM_TAG_LEN)) {
		mbedtls_platform_zeroize(out, len);
		return -VG_EAUTH;
	}
	return 0;
}

int vg_crypto_gcm_seal(const uint8_t key[VG_AES256_KEY_LEN],
		       const uint8_t nonce[VG_GCM_NONCE_LEN], const void *aad, size_t aadlen,
		       const void *in, size_t len, void *out, uint8_t tag[VG_GCM_TAG_LEN])
{
	struct vg_crypto_aead *a;
	int ret;

	ret = vg_crypto_aead_new(&a, key);
	if (ret < 0)
		return ret;
	ret = vg_crypto_aead_seal(a, nonce, aad, aadlen, in, len, out, tag);
	vg_crypto_aead_free(a);
	return ret;
}

int vg_crypto_gcm_open(const uint8_t key[VG_AES256_KEY_LEN],
		       const uint8_t nonce[VG_GCM_NONCE_LEN], const void *aad, size_t aadlen,
		       const void *in, size_t len, const uint8_t tag[VG_GCM_TAG_LEN], void *out)
{
	struct vg_crypto_aead *a;
	int ret;

	ret = vg_crypto_aead_new(&a, key);
	if (ret < 0)
		return ret;
	ret = vg_crypto_aead_open(a, nonce, aad, aadlen, in, len, tag, out);
	vg_crypto_aead_free(a);
	return ret;
}

/* ---- AES key wrap (RFC 3394) ----------------------------------------- */

#define KW_MIN 16
#define KW_MAX 64

static const uint8_t kw_iv[8] = { 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6 };

static void kw_xor_t(uint8_t a[8], uint64_t t)
{
	int i;

	for (i = 7; i >= 0; i--) {
		a[i] ^= (uint8_t)(t & 0xff);
		t >>= 8;
	}
}

int vg_crypto_key_wrap(const uint8_t kek[VG_AES256_KEY_LEN], const uint8_t *key, size_t keylen,
		       uint8_t *wrapped)
{
	mbedtls_aes_context aes;
	uint8_t r[KW_MAX];
	uint8_t b[16];
	size_t n = keylen / 8;
	size_t i, j;
	int ret = 0;

	if (keylen < KW_MIN || keylen > KW_MAX || keylen % 8 != 0)
		return -VG_EINVAL;
	mbedtls_aes_init(&aes);
	if (mbedtls_aes_setkey_enc(&aes, kek, 256) != 0) {
		ret = -VG_ECRYPTO;
		goto out;
	}
	memcpy(b, kw_iv, 8);
	memcpy(r, key, keylen);
	for (j = 0; j < 6; j++) {
		for (i = 0; i < n; i++) {
			/* b[0..7] holds A; B = AES(K, A | R[i]) */
			memcpy(b + 8, r + 8 * i, 8);
			if (mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, b, b) != 0) {
				ret = -VG_ECRYPTO;
				goto out;
			}
			kw_xor_t(b, (uint64_t)(n * j + i + 1));
			memcpy(r + 8 * i, b + 8, 8);
		}
	}
	memcpy(wrapped, b, 8);
	memcpy(wrapped + 8, r, keylen);
out:
	mbedtls_aes_free(&aes);
	mbedtls_platform_zeroize(r, sizeof(r));
	mbedtls_platform_zeroize(b, sizeof(b));
	return ret;
}

int vg_crypto_key_unwrap(const uint8_t kek[VG_AES256_KEY_LEN], const uint8_t *wrapped,
			 size_t wrappedlen, uint8_t *key)
{
	mbedtls_aes_context aes;
	uint8_t r[KW_MAX];
	uint8_t b[16];
	size_t n, i, j;
	int ret = 0;

	if (wrappedlen < KW_MIN + 8 || wrappedlen > KW_MAX + 8 || wrappedlen % 8 != 0)
		return -VG_EINVAL;
	n = wrappedlen / 8 - 1;
	mbedtls_aes_init(&aes);
	if (mbedtls_aes_setkey_dec(&aes, kek, 256) != 0) {
		ret = -VG_ECRYPTO;
		goto out;
	}
	memcpy(b, wrapped, 8);
	memcpy(r, wrapped + 8, 8 * n);
	for (j = 6; j-- > 0;) {
		for (i = n; i-- > 0;) {
			/* B = AES-1(K, (A ^ t) | R[i]) */
			kw_xor_t(b, (uint64_t)(n * j + i + 1));
			memcpy(b + 8, r + 8 * i, 8);
			if (mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_DECRYPT, b, b) != 0) {
				ret = -VG_ECRYPTO;
				goto out;
			}
			memcpy(r + 8 * i, b + 8, 8);
		}
	}
	if (!vg_crypto_equal(b, kw_iv, 8)) {
		ret = -VG_EAUTH;
		goto out;
	}
	memcpy(key, r, 8 * n);
out:
	if (ret < 0)
		mbedtls_platform_zeroize(key, 8 * n);
	mbedtls_aes_free(&aes);
	mbedtls_platform_zeroize(r, sizeof(r));
	mbedtls_platform_zeroize(b, sizeof(b));
	return ret;
}

/* ---- helpers --------------------------------------------------------- */

int vg_crypto_equal(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a;
	const volatile unsigned char *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

void vg_wipe(void *p, size_t n)
{
	if (p != NULL)
		mbedtls_platform_zeroize(p, n);
}
