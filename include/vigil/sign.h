/*
 * sign.h - the box's device signing key: ECDSA P-256 (mbedTLS), used to
 * sign audit checkpoints and exports so that a rebuilt or truncated audit
 * chain is detected by anyone holding the public key.
 *
 * The private key lives in one PEM file (SEC1 "EC PRIVATE KEY"), created on
 * first use with mode 0600, O_EXCL and O_NOFOLLOW. A key file that is not a
 * regular file, not owned by the caller, or that group/other may read or
 * write is refused (-VG_EPERM) with a sentence saying how to fix it.
 *
 * Signatures are DER ECDSA-Sig-Value over a SHA-256 digest: exactly what
 * `openssl dgst -sha256 -verify pub.pem -signature sig data` checks when
 * the digest is SHA-256(data).
 *
 * A struct vg_sign_key is opaque. Signing is serialised by an internal
 * mutex (the DRBG has state), so one key may be shared by threads;
 * verifying and exporting only read it.
 */
#ifndef VIGIL_SIGN_H
#define VIGIL_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define VG_SIGN_DIGEST_LEN 32
#define VG_SIGN_MAX_SIG 80		/* DER P-256 signature is at most 72 bytes */
#define VG_SIGN_FPR_HEX_LEN 65		/* 64 hex digits + NUL */
#define VG_SIGN_PEM_MAX 512		/* public key PEM (about 180 bytes) */

struct vg_sign_key;

/*
 * Load the private key at path, or create it if it does not exist and
 * create != 0. *out receives a new key the caller frees with
 * vg_sign_key_free(). *created (may be NULL) is set to 1 if the file was
 * created now. why/whylen (may be NULL/0) receive a sentence on failure.
 * Returns 0, -VG_ENOENT (missing, create == 0), -VG_EPERM (unsafe file),
 * -VG_EFORMAT (not a P-256 key), -VG_EIO, -VG_ECRYPTO, -VG_ENOMEM.
 */
int vg_sign_key_load(const char *path, int create, struct vg_sign_key **out,
		     int *created, char *why, size_t whylen);

/* A fresh private key held only in memory (tests, tools). */
int vg_sign_key_generate(struct vg_sign_key **out);

/* A verify-only key from a PEM SubjectPublicKeyInfo (NUL-terminated). */
int vg_sign_pubkey_parse(const char *pem, struct vg_sign_key **out);

/* Free a key, wiping its private part; NULL is a no-op. */
void vg_sign_key_free(struct vg_sign_key *k);

/* 1 if k holds a private key (can sign), 0 if verify-only. */
int vg_sign_key_has_private(const struct vg_sign_key *k);

/* Sign a SHA-256 digest. sig (cap bytes, at least VG_SIGN_MAX_SIG) receives
 * the DER signature and *siglen its length. -VG_EINVAL for a public key. */
int vg_sign_digest(struct vg_sign_key *k, const uint8_t digest[VG_SIGN_DIGEST_LEN],
		   uint8_t *sig, size_t cap, size_t *siglen);

/* 0 if sig is a valid signature of digest by k, else -VG_EAUTH. */
int vg_sign_verify(const struct vg_sign_key *k, const uint8_t digest[VG_SIGN_DIGEST_LEN],
		   const uint8_t *sig, size_t siglen);

/* The public key as a NUL-terminated PEM "PUBLIC KEY" into out (cap bytes,
 * VG_SIGN_PEM_MAX is enough). */
int vg_sign_pubkey_pem(const struct vg_sign_key *k, char *out, size_t cap);

/* Hex SHA-256 of the DER SubjectPublicKeyInfo: `openssl pkey -pubin -in
 * pub.pem -outform DER | sha256sum` prints the same. */
int vg_sign_fingerprint(const struct vg_sign_key *k, char out[VG_SIGN_FPR_HEX_LEN]);

/* SHA-256 of len bytes at data (a thin wrapper so callers need no mbedTLS). */
void vg_sign_sha256(const void *data, size_t len, uint8_t out[VG_SIGN_DIGEST_LEN]);

#endif
