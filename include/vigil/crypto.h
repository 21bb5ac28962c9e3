/*
 * crypto.h - every cryptographic primitive vigil uses, in one module.
 *
 * src/common/crypto.c is the only file that calls mbedTLS (Debian 12 ships 2.28,
 * whose API differs from 3.x); porting to another library or version is a
 * change to that one file. No mbedTLS type appears in this header.
 *
 * All functions return 0 or a negative VG_E* code unless stated. Keys are
 * borrowed, never kept beyond the call, except by vg_crypto_aead_new(),
 * which keeps an expanded copy until vg_crypto_aead_free() wipes it.
 */
#ifndef VIGIL_CRYPTO_H
#define VIGIL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define VG_AES256_KEY_LEN 32
#define VG_GCM_NONCE_LEN 12
#define VG_GCM_TAG_LEN 16
#define VG_KW_OVERHEAD 8	/* RFC 3394 adds one 64-bit block */
#define VG_SHA256_DIGEST_LEN 32

/*
 * Fill buf with len bytes from the process-wide CSPRNG (CTR_DRBG seeded
 * from the OS entropy source on first use). Thread-safe; after fork() the
 * child reseeds before its first draw so parent and child never share a
 * stream. -VG_ECRYPTO if seeding fails (buf is then zeroed).
 */
int vg_crypto_random(void *buf, size_t len);

/* Free the CSPRNG state (tests and clean shutdown); the next draw reseeds. */
void vg_crypto_cleanup(void);

/*
 * Streaming SHA-256. The state is stored inline so it can live on the
 * stack; never touch its bytes. init, then any number of update, then
 * final, which wipes the state and returns -VG_ECRYPTO if any step failed.
 */
struct vg_sha256 {
	union {
		unsigned char bytes[256];
		long double align_ld;
		void *align_p;
		uint64_t align_u64;
	} opaque;
};

void vg_sha256_init(struct vg_sha256 *s);
void vg_sha256_update(struct vg_sha256 *s, const void *data, size_t len);
int vg_sha256_final(struct vg_sha256 *s, uint8_t out[VG_SHA256_DIGEST_LEN]);
/* One-shot SHA-256 of data. */
int vg_sha256(const void *data, size_t len, uint8_t out[VG_SHA256_DIGEST_LEN]);

/* Lower-case hex of n bytes into out (2 * n + 1 bytes, NUL-terminated):
 * how hashes and fingerprints are shown and written everywhere. */
void vg_hex(const uint8_t *b, size_t n, char *out);

/* HMAC-SHA256 (RFC 2104) of data under key (any length). */
int vg_crypto_hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t len,
			  uint8_t out[VG_SHA256_DIGEST_LEN]);

/*
 * AES-256-GCM with a 12-byte nonce and a 16-byte tag. An aead handle holds
 * one expanded key (so a clip's chunks do not re-expand it); it is not
 * shared between threads. vg_crypto_aead_new copies key; free wipes it
 * (NULL is a no-op).
 */
struct vg_crypto_aead;

int vg_crypto_aead_new(struct vg_crypto_aead **out, const uint8_t key[VG_AES256_KEY_LEN]);
void vg_crypto_aead_free(struct vg_crypto_aead *a);

/* Encrypt len bytes of in to out (out may equal in; no other overlap) and
 * write the tag. aad may be NULL when aadlen is 0. */
int vg_crypto_aead_seal(struct vg_crypto_aead *a, const uint8_t nonce[VG_GCM_NONCE_LEN],
			const void *aad, size_t aadlen, const void *in, size_t len,
			void *out, uint8_t tag[VG_GCM_TAG_LEN]);

/* Verify tag (constant time) and decrypt len bytes of in to out, which must
 * not overlap in. -VG_EAUTH if the tag does not match; out is then zeroed,
 * so no unauthenticated plaintext is ever released. */
int vg_crypto_aead_open(struct vg_crypto_aead *a, const uint8_t nonce[VG_GCM_NONCE_LEN],
			const void *aad, size_t aadlen, const void *in, size_t len,
			const uint8_t tag[VG_GCM_TAG_LEN], void *out);

/* One-shot forms of the above for a single buffer. */
int vg_crypto_gcm_seal(const uint8_t key[VG_AES256_KEY_LEN],
		       const uint8_t nonce[VG_GCM_NONCE_LEN], const void *aad, size_t aadlen,
		       const void *in, size_t len, void *out, uint8_t tag[VG_GCM_TAG_LEN]);
int vg_crypto_gcm_open(const uint8_t key[VG_AES256_KEY_LEN],
		       const uint8_t nonce[VG_GCM_NONCE_LEN], const void *aad, size_t aadlen,
		       const void *in, size_t len, const uint8_t tag[VG_GCM_TAG_LEN], void *out);

/*
 * AES key wrap, RFC 3394 (default IV A6A6A6A6A6A6A6A6) under a 256-bit KEK.
 * keylen is a multiple of 8, from 16 to 64; wrapped receives keylen + 8
 * bytes. unwrap takes wrappedlen (24 to 72, multiple of 8), writes
 * wrappedlen - 8 bytes to key and returns -VG_EAUTH if the integrity check
 * fails (wrong KEK or altered input; key is then zeroed).
 */
int vg_crypto_key_wrap(const uint8_t kek[VG_AES256_KEY_LEN], const uint8_t *key, size_t keylen,
		       uint8_t *wrapped);
int vg_crypto_key_unwrap(const uint8_t kek[VG_AES256_KEY_LEN], const uint8_t *wrapped,
			 size_t wrappedlen, uint8_t *key);

/* 1 if a and b are equal, 0 if not; time depends only on len. */
int vg_crypto_equal(const void *a, const void *b, size_t len);

/* Overwrite p in a way the compiler cannot elide (also declared in
 * keystore.h, where the first callers found it). */
void vg_wipe(void *p, size_t n);

#endif
