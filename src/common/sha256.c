/*
 * sha256.c - SHA-256 (Nettle) and hex, the hashing half of crypto.h: all
 * an export's verifier needs, kept apart from the clip cipher and key wrap
 * in crypto.c so that vigilctl links neither (scripts/checksrc.sh).
 */
#include <stdint.h>
#include <string.h>

#include <mbedtls/platform_util.h>
#include <nettle/sha2.h>

#include "vigil/crypto.h"

/* ---- SHA-256 --------------------------------------------------------- */

struct sha_state {
	struct sha256_ctx ctx;
};

_Static_assert(sizeof(struct sha_state) <= sizeof(((struct vg_sha256 *)0)->opaque),
	       "struct vg_sha256 too small for Nettle's sha256_ctx");

void vg_sha256_init(struct vg_sha256 *s)
{
	struct sha_state *st = (struct sha_state *)(void *)s->opaque.bytes;

	sha256_init(&st->ctx);
}

void vg_sha256_update(struct vg_sha256 *s, const void *data, size_t len)
{
	struct sha_state *st = (struct sha_state *)(void *)s->opaque.bytes;

	if (len > 0)
		sha256_update(&st->ctx, len, data);
}

/* Nettle's hash cannot fail; the error return stays for the contract. */
int vg_sha256_final(struct vg_sha256 *s, uint8_t out[VG_SHA256_DIGEST_LEN])
{
	struct sha_state *st = (struct sha_state *)(void *)s->opaque.bytes;

	sha256_digest(&st->ctx, VG_SHA256_DIGEST_LEN, out);
	mbedtls_platform_zeroize(s, sizeof(*s));
	return 0;
}

void vg_hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int vg_sha256(const void *data, size_t len, uint8_t out[VG_SHA256_DIGEST_LEN])
{
	struct vg_sha256 s;

	vg_sha256_init(&s);
	vg_sha256_update(&s, data, len);
	return vg_sha256_final(&s, out);
}
