/*
 * test_clipfile.c - the encrypted clip container (clipfile.h) and the
 * primitives it stands on (crypto.h), checked against published vectors.
 *
 * The plaintext here is generated test data, never footage. Every file
 * lives in a mkdtemp directory that each test removes.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vigil/clipfile.h"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/keystore.h"
#include "vigil/log.h"

#define HDR VG_CLIP_HEADER_LEN
#define OVH 20	/* per chunk: 4-byte length field + 16-byte tag */

struct fx {
	char dir[64];
	uint8_t master[VG_MASTER_KEY_LEN];
};

/* What a reader delivered: chunks (non-empty ones counted), bytes, end. */
struct got {
	uint8_t *data;
	size_t len;
	size_t chunk_len[64];
	int nchunks;		/* every chunk delivered, empty ones too */
	int end;		/* 1 clean end, or the negative error */
	int open_ret;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/vigil-clipXXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	if (vg_crypto_random(fx->master, sizeof(fx->master)) != 0)
		return -1;
	vg_log_set_level(VG_LOG_ERROR);	/* recovery warnings are expected here */
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char p[512];
	struct dirent *de;
	DIR *d = opendir(fx->dir);

	for (de = d != NULL ? readdir(d) : NULL; de != NULL; de = readdir(d)) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", fx->dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void path_in(const struct fx *fx, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", fx->dir, name);
}

/* Deterministic, non-repeating test data (xorshift). */
static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/*
 * Write a clip whose chunks hold sizes[i] bytes of pattern seed+i, with a
 * flush (fragment boundary) after each; the last size goes into the final
 * chunk. Returns the whole plaintext (caller frees); wrapped receives the
 * clip's wrapped key, which only the caller (the catalog) keeps.
 */
static uint8_t *make_clip(const char *path, const uint8_t *master,
			  uint8_t wrapped[VG_WRAPPED_KEY_LEN], const size_t *sizes, int n,
			  uint32_t seed, size_t *total)
{
	struct vg_clip_writer *w;
	uint8_t id[VG_CLIP_ID_LEN];
	size_t sum = 0, off = 0;
	uint8_t *plain;
	int i;

	for (i = 0; i < n; i++)
		sum += sizes[i];
	plain = malloc(sum + 1);
	assert_non_null(plain);
	assert_int_equal(vg_clip_writer_open(&w, path, master, wrapped, id), 0);
	for (i = 0; i < n; i++) {
		fill_pattern(plain + off, sizes[i], seed + (uint32_t)i);
		assert_int_equal(vg_clip_writer_write(w, plain + off, sizes[i]), 0);
		off += sizes[i];
		if (i < n - 1)
			assert_int_equal(vg_clip_writer_flush(w), 0);
	}
	assert_int_equal(vg_clip_writer_close(w, NULL, NULL), 0);
	*total = sum;
	return plain;
}

static void read_clip(const char *path, const uint8_t *master, const uint8_t *wk,
		      struct got *g)
{
	struct vg_clip_reader *r;
	const uint8_t *data;
	size_t len;
	int ret;

	memset(g, 0, sizeof(*g));
	g->open_ret = vg_clip_reader_open(&r, path, master, wk);
	if (g->open_ret < 0) {
		g->end = g->open_ret;
		return;
	}
	for (;;) {
		ret = vg_clip_reader_next(r, &data, &len);
		if (ret != 0)
			break;
		if (len > 0) {
			g->data = realloc(g->data, g->len + len);
			assert_non_null(g->data);
			memcpy(g->data + g->len, data, len);
			g->len += len;
		}
		assert_true(g->nchunks < 64);
		g->chunk_len[g->nchunks++] = len;
	}
	g->end = ret;
	/* The end is sticky. */
	assert_int_equal(vg_clip_reader_next(r, &data, &len), ret);
	vg_clip_reader_free(r);
}

/* ---- primitives against published vectors ---------------------------- */

static void hex2bin(const char *hex, uint8_t *out)
{
	size_t i;
	unsigned v;

	for (i = 0; hex[2 * i] != '\0'; i++) {
		char b[3] = { hex[2 * i], hex[2 * i + 1], 0 };

		v = (unsigned)strtoul(b, NULL, 16);
		out[i] = (uint8_t)v;
	}
}

static void test_sha256_vector(void **state)
{
	uint8_t want[32], got[32];
	struct vg_sha256 s;

	hex2bin("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
	assert_int_equal(vg_sha256("abc", 3, got), 0);
	assert_memory_equal(got, want, 32);
	/* Streaming in pieces gives the same digest. */
	vg_sha256_init(&s);
	vg_sha256_update(&s, "a", 1);
	vg_sha256_update(&s, "", 0);
	vg_sha256_update(&s, "bc", 2);
	assert_int_equal(vg_sha256_final(&s, got), 0);
	assert_memory_equal(got, want, 32);
}

static void test_keywrap_rfc3394(void **state)
{
	/* RFC 3394 section 4.6: 256 bits of key data with a 256-bit KEK. */
	uint8_t kek[32], key[32], want[40], wrapped[40], back[32];

	hex2bin("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", kek);
	hex2bin("00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f", key);
	hex2bin("28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43b"
		"fb988b9b7a02dd21", want);
	assert_int_equal(vg_crypto_key_wrap(kek, key, 32, wrapped), 0);
	assert_memory_equal(wrapped, want, 40);
	assert_int_equal(vg_crypto_key_unwrap(kek, wrapped, 40, back), 0);
	assert_memory_equal(back, key, 32);
	wrapped[17] ^= 0x01;
	assert_int_equal(vg_crypto_key_unwrap(kek, wrapped, 40, back), -VG_EAUTH);
	wrapped[17] ^= 0x01;
	kek[0] ^= 0x80;
	assert_int_equal(vg_crypto_key_unwrap(kek, wrapped, 40, back), -VG_EAUTH);
}

static void test_hmac_rfc4231(void **state)
{
	/* RFC 4231 test case 2 ("Jefe"), and case 6 (a key longer than a block). */
	uint8_t want[32], got[32], key[131];

	hex2bin("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want);
	assert_int_equal(vg_crypto_hmac_sha256((const uint8_t *)"Jefe", 4,
					       "what do ya want for nothing?", 28, got), 0);
	assert_memory_equal(got, want, 32);
	memset(key, 0xaa, sizeof(key));
	hex2bin("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want);
	assert_int_equal(vg_crypto_hmac_sha256(key, sizeof(key), "Test Using Larger Than "
					       "Block-Size Key - Hash Key First", 54, got), 0);
	assert_memory_equal(got, want, 32);
}

static void test_gcm_vector(void **state)
{
	/* McGrew & Viega GCM spec, test case 14: zero key, zero IV, one zero block. */
	uint8_t key[32] = { 0 }, nonce[12] = { 0 }, pt[16] = { 0 };
	uint8_t ct[16], tag[16], want_ct[16], want_tag[16], back[16];

	hex2bin("cea7403d4d606b6e074ec5d3baf39d18", want_ct);
	hex2bin("d0d1c8a799996bf0265b98b5d48ab919", want_tag);
	assert_int_equal(vg_crypto_gcm_seal(key, nonce, NULL, 0, pt, 16, ct, tag), 0);
	assert_memory_equal(ct, want_ct, 16);
	assert_memory_equal(tag, want_tag, 16);
	assert_int_equal(vg_crypto_gcm_open(key, nonce, NULL, 0, ct, 16, tag, back), 0);
	assert_memory_equal(back, pt, 16);
	/* A bad tag releases nothing: the output is zeroed. */
	tag[15] ^= 1;
	memset(back, 0xaa, sizeof(back));
	assert_int_equal(vg_crypto_gcm_open(key, nonce, NULL, 0, ct, 16, tag, back), -VG_EAUTH);
	assert_memory_equal(back, pt, 16);
	tag[15] ^= 1;
	/* So does different AAD. */
	assert_int_equal(vg_crypto_gcm_open(key, nonce, "x", 1, ct, 16, tag, back), -VG_EAUTH);
}

static void test_random_differs(void **state)
{
	uint8_t a[48], b[48];

	/* Longer than one CTR_DRBG request, to cover the loop. */
	uint8_t big[3000];

	assert_int_equal(vg_crypto_random(a, sizeof(a)), 0);
	assert_int_equal(vg_crypto_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	memset(big, 0, sizeof(big));
	assert_int_equal(vg_crypto_random(big, sizeof(big)), 0);
	assert_memory_not_equal(big + 2000, a, 48);
}

/* ---- round trips ------------------------------------------------------ */

static void roundtrip(struct fx *fx, size_t total, size_t piece, const char *name)
{
	char path[256];
	struct vg_clip_writer *w;
	struct vg_clip_reader *r;
	uint8_t wk[VG_WRAPPED_KEY_LEN], id[VG_CLIP_ID_LEN], id2[VG_CLIP_ID_LEN];
	uint8_t sha[32], sha2[32];
	uint64_t bytes;
	uint8_t *plain = malloc(total + 1);
	struct got g;
	struct stat st;
	size_t off;

	assert_non_null(plain);
	fill_pattern(plain, total, (uint32_t)total);
	path_in(fx, name, path, sizeof(path));
	assert_int_equal(vg_clip_writer_open(&w, path, fx->master, wk, id), 0);
	for (off = 0; off < total; off += piece) {
		size_t n = total - off < piece ? total - off : piece;

		assert_int_equal(vg_clip_writer_write(w, plain + off, n), 0);
	}
	assert_int_equal(vg_clip_writer_close(w, sha, &bytes), 0);

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, bytes);
	assert_int_equal(st.st_mode & 0077, 0);		/* only vigild may read it */
	assert_int_equal(vg_file_sha256(path, sha2), 0);
	assert_memory_equal(sha, sha2, 32);

	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, 1);
	assert_int_equal(g.len, total);
	if (total > 0)
		assert_memory_equal(g.data, plain, total);
	assert_int_equal(vg_clip_reader_open(&r, path, fx->master, wk), 0);
	vg_clip_reader_id(r, id2);
	assert_memory_equal(id, id2, sizeof(id));
	vg_clip_reader_free(r);

	/* The file must not contain the plaintext: look for a 32-byte window. */
	if (total >= 64) {
		size_t flen, i;
		uint8_t *file = read_file(path, &flen);

		for (i = 0; i + 32 <= flen; i++)
			assert_true(memcmp(file + i, plain + total / 2, 32) != 0);
		free(file);
	}
	free(g.data);
	free(plain);
	unlink(path);
}

static void test_roundtrip_sizes(void **state)
{
	struct fx *fx = *state;

	roundtrip(fx, 0, 1, "empty.vgc");
	roundtrip(fx, 1, 1, "one.vgc");
	roundtrip(fx, 1000, 333, "small.vgc");
	roundtrip(fx, VG_CHUNK_MAX - 1, 65536, "justunder.vgc");
	roundtrip(fx, VG_CHUNK_MAX, VG_CHUNK_MAX, "exact.vgc");
	roundtrip(fx, VG_CHUNK_MAX + 1, 7777, "justover.vgc");
	roundtrip(fx, 5 * VG_CHUNK_MAX / 2, 3 * VG_CHUNK_MAX, "multi.vgc");
}

static void test_flush_makes_chunks(void **state)
{
	struct fx *fx = *state;
	char path[256];
	size_t sizes[] = { 100, 200, 0, 55 };
	uint8_t wk[VG_WRAPPED_KEY_LEN];
	size_t total;
	uint8_t *plain;
	struct got g;

	path_in(fx, "flush.vgc", path, sizeof(path));
	plain = make_clip(path, fx->master, wk, sizes, 4, 7, &total);
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, 1);
	/* An empty flush adds no chunk: 100, 200, then 55 as the final chunk. */
	assert_int_equal(g.nchunks, 3);
	assert_int_equal(g.chunk_len[0], 100);
	assert_int_equal(g.chunk_len[1], 200);
	assert_int_equal(g.chunk_len[2], 55);
	assert_memory_equal(g.data, plain, total);
	free(g.data);
	free(plain);
}

static void test_open_refuses_existing(void **state)
{
	struct fx *fx = *state;
	char path[256];
	struct vg_clip_writer *w = (void *)1;
	uint8_t wrapped[40], id[16];
	size_t len;
	uint8_t *buf;

	path_in(fx, "exists.vgc", path, sizeof(path));
	write_file(path, "keep me", 7);
	assert_int_equal(vg_clip_writer_open(&w, path, fx->master, wrapped, id), -VG_EEXIST);
	assert_null(w);
	buf = read_file(path, &len);
	assert_int_equal(len, 7);
	assert_memory_equal(buf, "keep me", 7);
	free(buf);
}

static void test_wrong_master(void **state)
{
	struct fx *fx = *state;
	char path[256];
	size_t sizes[] = { 10, 10 };
	uint8_t wk[VG_WRAPPED_KEY_LEN];
	size_t total;
	uint8_t other[VG_MASTER_KEY_LEN];
	uint8_t *plain;
	struct got g;

	path_in(fx, "wm.vgc", path, sizeof(path));
	plain = make_clip(path, fx->master, wk, sizes, 2, 1, &total);
	memcpy(other, fx->master, sizeof(other));
	other[31] ^= 0x01;
	read_clip(path, other, wk, &g);
	assert_int_equal(g.open_ret, -VG_EAUTH);
	/* An altered catalog copy of the wrapped key fails the same way. */
	wk[20] ^= 0x04;
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.open_ret, -VG_EAUTH);
	wk[20] ^= 0x04;
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, 1);
	assert_int_equal(g.len, total);
	free(g.data);
	free(plain);
}

/*
 * The wrapped key of another clip (a catalog row mixed up with the wrong
 * file) unwraps fine under the master key; the header's key check must
 * refuse it at open, before any chunk, and recovery must then leave a
 * crashed clip alone rather than cut off every chunk as "tampered".
 */
static void test_wrong_wrapped_key(void **state)
{
	struct fx *fx = *state;
	char pa[256], pb[256];
	size_t sizes[] = { 40, 50, 60 };
	uint8_t wa[VG_WRAPPED_KEY_LEN], wb[VG_WRAPPED_KEY_LEN], sha1[32], sha2[32];
	uint8_t *plain_a, *plain_b, *file;
	uint64_t chunks = 99, bytes = 99;
	size_t ta, tb, flen;
	struct got g;

	path_in(fx, "a.vgc", pa, sizeof(pa));
	path_in(fx, "b.vgc", pb, sizeof(pb));
	plain_a = make_clip(pa, fx->master, wa, sizes, 3, 31, &ta);
	plain_b = make_clip(pb, fx->master, wb, sizes, 3, 32, &tb);
	assert_memory_not_equal(wa, wb, sizeof(wa));

	read_clip(pa, fx->master, wb, &g);
	assert_int_equal(g.open_ret, -VG_EAUTH);
	assert_int_equal(g.nchunks, 0);
	read_clip(pb, fx->master, wa, &g);
	assert_int_equal(g.open_ret, -VG_EAUTH);

	/* Clip A crashed after two chunks (its final chunk never written). */
	file = read_file(pa, &flen);
	assert_int_equal(flen, HDR + 3 * OVH + ta);
	write_file(pa, file, flen - OVH - 60);
	free(file);
	assert_int_equal(vg_file_sha256(pa, sha1), 0);
	assert_int_equal(vg_clip_recover(pa, fx->master, wb, &chunks, &bytes), -VG_EAUTH);
	assert_int_equal(vg_file_sha256(pa, sha2), 0);
	assert_memory_equal(sha1, sha2, 32);
	/* With its own key, the two chunks are still there to recover. */
	assert_int_equal(vg_clip_recover(pa, fx->master, wa, &chunks, &bytes), 0);
	assert_int_equal(chunks, 2);
	assert_int_equal(bytes, 90);
	read_clip(pa, fx->master, wa, &g);
	assert_int_equal(g.end, 1);
	assert_int_equal(g.len, 90);
	assert_memory_equal(g.data, plain_a, 90);
	free(g.data);
	free(plain_a);
	free(plain_b);
}

/* True if any 8-byte window of key occurs anywhere in buf. */
static int holds_key_part(const uint8_t *buf, size_t len, const uint8_t *key, size_t klen)
{
	size_t i, k;

	for (k = 0; k + 8 <= klen; k++)
		for (i = 0; i + 8 <= len; i++)
			if (memcmp(buf + i, key + k, 8) == 0)
				return 1;
	return 0;
}

/*
 * Crypto-shredding: once the catalog's wrapped key is destroyed, nothing in
 * the clip file (or in any stale copy of its blocks) may lead back to the
 * clip key. So the raw bytes of a clip, as written, as recovered after a
 * crash, and as made by the fixed-key opener, hold neither the wrapped key
 * nor the clip key, not even 8 bytes of either.
 */
static void test_file_holds_no_key(void **state)
{
	struct fx *fx = *state;
	char path[256];
	size_t sizes[] = { 1000, 3000, 77 };
	uint8_t wk[VG_WRAPPED_KEY_LEN], key[VG_CLIP_KEY_LEN], id[VG_CLIP_ID_LEN];
	struct vg_clip_writer *w;
	uint8_t *plain, *file;
	size_t total, flen;
	struct got g;

	/* A clip with a random key, read back raw. */
	path_in(fx, "nokey.vgc", path, sizeof(path));
	plain = make_clip(path, fx->master, wk, sizes, 3, 41, &total);
	assert_int_equal(vg_crypto_key_unwrap(fx->master, wk, sizeof(wk), key), 0);
	file = read_file(path, &flen);
	assert_int_equal(flen, HDR + 3 * OVH + total);
	assert_false(holds_key_part(file, flen, wk, sizeof(wk)));
	assert_false(holds_key_part(file, flen, key, sizeof(key)));
	/* The search itself works: a copy of the key in the file is found. */
	memcpy(file + flen / 2, key + 9, 8);
	assert_true(holds_key_part(file, flen, key, sizeof(key)));
	free(file);

	/* The same after a crash and a recovery, which appends a chunk. */
	file = read_file(path, &flen);
	write_file(path, file, flen - OVH - 77);
	free(file);
	assert_int_equal(vg_clip_recover(path, fx->master, wk, NULL, NULL), 0);
	file = read_file(path, &flen);
	assert_int_equal(flen, HDR + 3 * OVH + 4000);
	assert_false(holds_key_part(file, flen, wk, sizeof(wk)));
	assert_false(holds_key_part(file, flen, key, sizeof(key)));
	free(file);
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, 1);
	assert_int_equal(g.len, 4000);
	free(g.data);
	free(plain);

	/* The fixed-key opener (test vectors) too; its header is the clip's
	 * whole non-chunk content, so check an empty clip. */
	unlink(path);
	assert_int_equal(vg_crypto_random(key, sizeof(key)), 0);
	assert_int_equal(vg_crypto_random(id, sizeof(id)), 0);
	assert_int_equal(vg_clip_writer_open_fixed(&w, path, fx->master, key, id, 7, 0, wk), 0);
	assert_int_equal(vg_clip_writer_close(w, NULL, NULL), 0);
	file = read_file(path, &flen);
	assert_int_equal(flen, HDR + OVH);
	assert_false(holds_key_part(file, flen, wk, sizeof(wk)));
	assert_false(holds_key_part(file, flen, key, sizeof(key)));
	free(file);
	vg_wipe(key, sizeof(key));
}

static void test_not_a_clip(void **state)
{
	struct fx *fx = *state;
	char path[256];
	uint8_t junk[200], wk[VG_WRAPPED_KEY_LEN];
	struct got g;

	path_in(fx, "junk.vgc", path, sizeof(path));
	fill_pattern(junk, sizeof(junk), 3);
	write_file(path, junk, sizeof(junk));
	memset(wk, 0, sizeof(wk));
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.open_ret, -VG_EFORMAT);
}

/* A FIFO in place of a clip fails at once (it used to block open() for
 * ever: alarm() turns a hang into a failure), and so does a symlink, in
 * the last component or on the way beneath the data folder; a catalog
 * path may not leave the folder. */
static void test_fifo_and_symlink_refused(void **state)
{
	struct fx *fx = *state;
	char path[256], link[256], sub[256], real[256];
	uint8_t junk[200], wk[VG_WRAPPED_KEY_LEN];
	struct vg_clip_reader *r = NULL;
	struct got g;

	alarm(30);
	memset(wk, 0, sizeof(wk));
	path_in(fx, "fifo.vgc", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.open_ret, -VG_EFORMAT);
	assert_int_equal(vg_clip_reader_open_in(&r, fx->dir, "fifo.vgc", fx->master, wk),
			 -VG_EFORMAT);
	assert_null(r);
	assert_int_equal(vg_clip_open_in(fx->dir, "fifo.vgc", O_RDONLY), -VG_EFORMAT);

	path_in(fx, "junk.vgc", path, sizeof(path));
	fill_pattern(junk, sizeof(junk), 3);
	write_file(path, junk, sizeof(junk));
	path_in(fx, "link.vgc", link, sizeof(link));
	assert_int_equal(symlink(path, link), 0);
	read_clip(link, fx->master, wk, &g);
	assert_int_equal(g.open_ret, -VG_EFORMAT);
	assert_int_equal(vg_clip_open_in(fx->dir, "link.vgc", O_RDONLY), -VG_EFORMAT);
	/* the plain file itself opens (and is then not a clip) */
	{
		int fd = vg_clip_open_in(fx->dir, "junk.vgc", O_RDONLY);

		assert_true(fd >= 0);
		close(fd);
	}
	/* a symlinked folder on the way */
	path_in(fx, "realdir", real, sizeof(real));
	assert_int_equal(mkdir(real, 0700), 0);
	snprintf(path, sizeof(path), "%s/x.vgc", real);
	write_file(path, junk, sizeof(junk));
	path_in(fx, "subdir", sub, sizeof(sub));
	assert_int_equal(symlink(real, sub), 0);
	assert_int_equal(vg_clip_open_in(fx->dir, "subdir/x.vgc", O_RDONLY), -VG_EFORMAT);
	{
		int fd = vg_clip_open_in(fx->dir, "realdir/x.vgc", O_RDONLY);

		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(vg_clip_open_in(fx->dir, "../x.vgc", O_RDONLY), -VG_EINVAL);
	assert_int_equal(vg_clip_open_in(fx->dir, "realdir/../junk.vgc", O_RDONLY), -VG_EINVAL);
	assert_int_equal(vg_clip_open_in(fx->dir, "/etc/passwd", O_RDONLY), -VG_EINVAL);
	unlink(path);
	rmdir(real);
	alarm(0);
}

/* ---- tampering -------------------------------------------------------- */

/* got must be a prefix of the original chunks and end in a failure. */
static void assert_failed_prefix(const struct got *g, const uint8_t *plain, size_t plen)
{
	assert_true(g->end == -VG_EAUTH || g->end == -VG_EFORMAT || g->end == -VG_ETRUNC);
	assert_true(g->len <= plen);
	if (g->len > 0)
		assert_memory_equal(g->data, plain, g->len);
}

static void test_every_bit_flip_fails(void **state)
{
	struct fx *fx = *state;
	char path[256], bad[256];
	size_t sizes[] = { 9, 14, 3, 5 };
	uint8_t wk[VG_WRAPPED_KEY_LEN];
	size_t total, flen, i;
	uint8_t *plain, *file;
	int bit, failures = 0;
	struct got g;

	path_in(fx, "flip.vgc", path, sizeof(path));
	path_in(fx, "flipped.vgc", bad, sizeof(bad));
	plain = make_clip(path, fx->master, wk, sizes, 4, 11, &total);
	file = read_file(path, &flen);
	assert_int_equal(flen, HDR + 4 * OVH + total);
	for (i = 0; i < flen; i++) {
		for (bit = 0; bit < 8; bit++) {
			file[i] ^= (uint8_t)(1u << bit);
			write_file(bad, file, flen);
			file[i] ^= (uint8_t)(1u << bit);
			read_clip(bad, fx->master, wk, &g);
			if (g.end == 1)
				fail_msg("flip of byte %zu bit %d read cleanly", i, bit);
			assert_failed_prefix(&g, plain, total);
			free(g.data);
			failures++;
		}
	}
	assert_int_equal(failures, (int)flen * 8);
	/* And the unflipped file still reads. */
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, 1);
	free(g.data);
	free(file);
	free(plain);
}

static void test_truncation(void **state)
{
	struct fx *fx = *state;
	char path[256], cut[256];
	size_t sizes[] = { 40, 25, 60, 10 };
	uint8_t wk[VG_WRAPPED_KEY_LEN];
	size_t bounds[5];	/* file offset after the header and after each chunk */
	size_t total, flen, at, i;
	uint8_t *plain, *file;
	struct got g;
	int k, whole;

	path_in(fx, "trunc.vgc", path, sizeof(path));
	path_in(fx, "cut.vgc", cut, sizeof(cut));
	plain = make_clip(path, fx->master, wk, sizes, 4, 21, &total);
	file = read_file(path, &flen);
	bounds[0] = HDR;
	for (k = 0; k < 4; k++)
		bounds[k + 1] = bounds[k] + OVH + sizes[k];
	assert_int_equal(bounds[4], flen);

	/* Every cut from inside the header: open reports the truncation. */
	for (at = 0; at < HDR; at++) {
		write_file(cut, file, at);
		read_clip(cut, fx->master, wk, &g);
		assert_int_equal(g.open_ret, -VG_ETRUNC);
	}
	/* At each chunk boundary and at points inside each chunk: every
	 * complete chunk comes out, then -VG_ETRUNC. */
	for (k = 0; k < 4; k++) {
		size_t pts[] = { bounds[k], bounds[k] + 2, bounds[k] + 4, bounds[k] + 5,
				 bounds[k + 1] - 16, bounds[k + 1] - 1 };

		for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
			size_t want = 0;

			write_file(cut, file, pts[i]);
			read_clip(cut, fx->master, wk, &g);
			assert_int_equal(g.end, -VG_ETRUNC);
			for (whole = 0; whole < k; whole++)
				want += sizes[whole];
			assert_int_equal(g.nchunks, k);
			assert_int_equal(g.len, want);
			if (want > 0)
				assert_memory_equal(g.data, plain, want);
			free(g.data);
		}
	}
	free(file);
	free(plain);
}

/* Assemble a file from pieces of other files (header and chunk spans). */
struct span {
	const uint8_t *p;
	size_t len;
};

static void write_spans(const char *path, const struct span *s, int n)
{
	uint8_t *buf;
	size_t len = 0, off = 0;
	int i;

	for (i = 0; i < n; i++)
		len += s[i].len;
	buf = malloc(len + 1);
	assert_non_null(buf);
	for (i = 0; i < n; i++) {
		memcpy(buf + off, s[i].p, s[i].len);
		off += s[i].len;
	}
	write_file(path, buf, len);
	free(buf);
}

static void test_reorder_drop_dup_splice(void **state)
{
	struct fx *fx = *state;
	char pa[256], pb[256], pc[256], out[256];
	size_t sizes[] = { 30, 30, 30, 30 };	/* equal sizes: swaps keep lengths */
	size_t ta, tb, la, lb, lc;
	uint8_t *plain_a, *plain_b, *fa, *fb, *fc;
	uint8_t key[32], id1[16], id2[16];
	uint8_t wk[VG_WRAPPED_KEY_LEN], wb[VG_WRAPPED_KEY_LEN];	/* clip A's, clip B's */
	struct vg_clip_writer *w;
	struct got g;
	const size_t c = OVH + 30;	/* one chunk on disk */

	path_in(fx, "a.vgc", pa, sizeof(pa));
	path_in(fx, "b.vgc", pb, sizeof(pb));
	path_in(fx, "c.vgc", pc, sizeof(pc));
	path_in(fx, "out.vgc", out, sizeof(out));
	plain_a = make_clip(pa, fx->master, wk, sizes, 4, 100, &ta);
	plain_b = make_clip(pb, fx->master, wb, sizes, 4, 200, &tb);
	fa = read_file(pa, &la);
	fb = read_file(pb, &lb);
	assert_int_equal(la, HDR + 4 * c);

#define A(i) { fa + HDR + (i) * c, c }
#define B(i) { fb + HDR + (i) * c, c }
	{
		/* chunks 0 and 1 swapped */
		struct span s[] = { { fa, HDR }, A(1), A(0), A(2), A(3) };

		write_spans(out, s, 5);
		read_clip(out, fx->master, wk, &g);
		assert_int_equal(g.end, -VG_EAUTH);
		assert_int_equal(g.len, 0);
	}
	{
		/* chunk 0 duplicated */
		struct span s[] = { { fa, HDR }, A(0), A(0), A(1), A(2), A(3) };

		write_spans(out, s, 6);
		read_clip(out, fx->master, wk, &g);
		assert_int_equal(g.end, -VG_EAUTH);
		assert_int_equal(g.len, 30);
		free(g.data);
	}
	{
		/* chunk 1 dropped */
		struct span s[] = { { fa, HDR }, A(0), A(2), A(3) };

		write_spans(out, s, 4);
		read_clip(out, fx->master, wk, &g);
		assert_int_equal(g.end, -VG_EAUTH);
		assert_int_equal(g.len, 30);
		free(g.data);
	}
	{
		/* final chunk dropped: reads as truncated, never as a clean end */
		struct span s[] = { { fa, HDR }, A(0), A(1), A(2) };

		write_spans(out, s, 4);
		read_clip(out, fx->master, wk, &g);
		assert_int_equal(g.end, -VG_ETRUNC);
		assert_int_equal(g.len, 90);
		free(g.data);
	}
	{
		/* chunk 1 taken from another clip at the same position */
		struct span s[] = { { fa, HDR }, A(0), B(1), A(2), A(3) };

		write_spans(out, s, 5);
		read_clip(out, fx->master, wk, &g);
		assert_int_equal(g.end, -VG_EAUTH);
		assert_int_equal(g.len, 30);
		assert_memory_equal(g.data, plain_a, 30);
		free(g.data);
	}
	{
		/* clip B's header in front of clip A's chunks: with A's wrapped
		 * key (A's catalog row) the key check refuses it at open; with
		 * B's, B's key opens it and A's chunks fail. */
		struct span s[] = { { fb, HDR }, A(0), A(1), A(2), A(3) };

		write_spans(out, s, 5);
		read_clip(out, fx->master, wk, &g);
		assert_int_equal(g.open_ret, -VG_EAUTH);
		assert_int_equal(g.len, 0);
		read_clip(out, fx->master, wb, &g);
		assert_int_equal(g.open_ret, 0);
		assert_int_equal(g.end, -VG_EAUTH);
		assert_int_equal(g.nchunks, 0);
	}
	{
		/* data after the final chunk */
		struct span s[] = { { fa, la }, B(0) };

		write_spans(out, s, 2);
		read_clip(out, fx->master, wk, &g);
		assert_int_equal(g.end, -VG_EAUTH);
		assert_true(g.len <= ta);
		free(g.data);
	}

	/* Two clips sharing one clip key (only possible through the test-only
	 * opener) still cannot be spliced: the header hash is in every AAD. */
	assert_int_equal(vg_crypto_random(key, sizeof(key)), 0);
	memset(id1, 1, sizeof(id1));
	memset(id2, 2, sizeof(id2));
	unlink(pc);
	assert_int_equal(vg_clip_writer_open_fixed(&w, pc, fx->master, key, id1, 1000, 0, wk), 0);
	assert_int_equal(vg_clip_writer_write(w, plain_a, 30), 0);
	assert_int_equal(vg_clip_writer_close(w, NULL, NULL), 0);
	fc = read_file(pc, &lc);
	unlink(pc);
	assert_int_equal(vg_clip_writer_open_fixed(&w, pc, fx->master, key, id2, 1000, 0, wb), 0);
	assert_int_equal(vg_clip_writer_write(w, plain_a, 30), 0);
	assert_int_equal(vg_clip_writer_close(w, NULL, NULL), 0);
	free(fb);
	fb = read_file(pc, &lb);
	{
		struct span s[] = { { fb, HDR }, { fc + HDR, lc - HDR } };

		/* Same clip key, so the second header's key check passes: the
		 * chunks, bound to the first header's hash, are what fail. */
		assert_memory_equal(wk, wb, sizeof(wk));
		write_spans(out, s, 2);
		read_clip(out, fx->master, wb, &g);
		assert_int_equal(g.open_ret, 0);
		assert_int_equal(g.end, -VG_EAUTH);
		assert_int_equal(g.len, 0);
	}
#undef A
#undef B
	free(fa);
	free(fb);
	free(fc);
	free(plain_a);
	free(plain_b);
}

static void test_fixed_is_reproducible(void **state)
{
	struct fx *fx = *state;
	char p1[256], p2[256];
	uint8_t key[32], id[16], w1[40], w2[40];
	struct vg_clip_writer *w;
	uint8_t *f1, *f2;
	size_t l1, l2;

	memset(key, 0x42, sizeof(key));
	memset(id, 0x17, sizeof(id));
	path_in(fx, "r1.vgc", p1, sizeof(p1));
	path_in(fx, "r2.vgc", p2, sizeof(p2));
	assert_int_equal(vg_clip_writer_open_fixed(&w, p1, fx->master, key, id, 5, 64, w1), 0);
	assert_int_equal(vg_clip_writer_write(w, "hello, world; more than sixty-four bytes of "
					      "input so it spans two chunks", 73), 0);
	assert_int_equal(vg_clip_writer_close(w, NULL, NULL), 0);
	assert_int_equal(vg_clip_writer_open_fixed(&w, p2, fx->master, key, id, 5, 64, w2), 0);
	assert_int_equal(vg_clip_writer_write(w, "hello, world; more than sixty-four bytes of "
					      "input so it spans two chunks", 73), 0);
	assert_int_equal(vg_clip_writer_close(w, NULL, NULL), 0);
	f1 = read_file(p1, &l1);
	f2 = read_file(p2, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(f1, f2, l1);
	assert_memory_equal(w1, w2, 40);
	/* 73 bytes with 64-byte chunks: one full chunk, then the final one. */
	assert_int_equal(l1, HDR + 2 * OVH + 73);
	free(f1);
	free(f2);
	assert_int_equal(vg_clip_writer_open_fixed(&w, "/nonexistent/x", fx->master, key, id, 5,
						   VG_CHUNK_MAX + 1, NULL), -VG_EINVAL);
}

/* ---- crash recovery --------------------------------------------------- */

static void test_recover(void **state)
{
	struct fx *fx = *state;
	char path[256];
	struct vg_clip_writer *w;
	struct vg_clip_reader *r;
	uint8_t wk[VG_WRAPPED_KEY_LEN], id[16], sha1[32], sha2[32], other[32];
	uint8_t plain[300];
	uint64_t chunks = 99, bytes = 99;
	size_t flen;
	uint8_t *file;
	struct got g;
	int fd;

	fill_pattern(plain, sizeof(plain), 5);
	path_in(fx, "crash.vgc", path, sizeof(path));
	assert_int_equal(vg_clip_writer_open(&w, path, fx->master, wk, id), 0);
	assert_int_equal(vg_clip_writer_write(w, plain, 100), 0);
	assert_int_equal(vg_clip_writer_flush(w), 0);
	assert_int_equal(vg_clip_writer_write(w, plain + 100, 120), 0);
	assert_int_equal(vg_clip_writer_flush(w), 0);
	assert_int_equal(vg_clip_writer_write(w, plain + 220, 80), 0);
	assert_int_equal(vg_clip_writer_flush(w), 0);
	vg_clip_writer_abandon(w);	/* the crash: no final chunk */

	/* ... and half of the third chunk reached the disk. */
	file = read_file(path, &flen);
	assert_int_equal(flen, HDR + 3 * OVH + 300);
	write_file(path, file, flen - 50);
	free(file);

	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, -VG_ETRUNC);
	assert_int_equal(g.len, 220);
	free(g.data);

	/* The wrong key changes nothing. */
	assert_int_equal(vg_file_sha256(path, sha1), 0);
	memcpy(other, fx->master, 32);
	other[0] ^= 1;
	assert_int_equal(vg_clip_recover(path, other, wk, NULL, NULL), -VG_EAUTH);
	assert_int_equal(vg_file_sha256(path, sha2), 0);
	assert_memory_equal(sha1, sha2, 32);

	assert_int_equal(vg_clip_recover(path, fx->master, wk, &chunks, &bytes), 0);
	assert_int_equal(chunks, 2);
	assert_int_equal(bytes, 220);
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, 1);
	assert_int_equal(g.len, 220);
	assert_memory_equal(g.data, plain, 220);
	free(g.data);
	assert_int_equal(vg_clip_reader_open(&r, path, fx->master, wk), 0);
	{
		const uint8_t *d;
		size_t l;

		while (vg_clip_reader_next(r, &d, &l) == 0)
			;
	}
	assert_int_equal(vg_clip_reader_recovered(r), 1);
	vg_clip_reader_free(r);

	/* A second recovery leaves the now clean file alone. */
	assert_int_equal(vg_file_sha256(path, sha1), 0);
	assert_int_equal(vg_clip_recover(path, fx->master, wk, &chunks, &bytes), 0);
	assert_int_equal(vg_file_sha256(path, sha2), 0);
	assert_memory_equal(sha1, sha2, 32);

	/* A recovered end cannot be passed off as a normal one. */
	file = read_file(path, &flen);
	file[flen - OVH] &= 0xbf;	/* clear the "recovered" flag */
	write_file(path, file, flen);
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, -VG_EAUTH);
	free(g.data);
	free(file);

	/* A clip that crashed before its first chunk recovers to an empty clip. */
	unlink(path);
	assert_int_equal(vg_clip_writer_open(&w, path, fx->master, wk, id), 0);
	vg_clip_writer_abandon(w);
	assert_int_equal(vg_clip_recover(path, fx->master, wk, &chunks, &bytes), 0);
	assert_int_equal(chunks, 0);
	assert_int_equal(bytes, 0);
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, 1);
	assert_int_equal(g.len, 0);

	/* A last chunk full of zeros (blocks lost in a power cut) is cut off. */
	unlink(path);
	assert_int_equal(vg_clip_writer_open(&w, path, fx->master, wk, id), 0);
	assert_int_equal(vg_clip_writer_write(w, plain, 100), 0);
	assert_int_equal(vg_clip_writer_flush(w), 0);
	assert_int_equal(vg_clip_writer_write(w, plain + 100, 100), 0);
	assert_int_equal(vg_clip_writer_flush(w), 0);
	vg_clip_writer_abandon(w);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	{
		uint8_t zeros[60] = { 0 };

		assert_int_equal(pwrite(fd, zeros, sizeof(zeros), HDR + OVH + 100 + 30), 60);
	}
	close(fd);
	assert_int_equal(vg_clip_recover(path, fx->master, wk, &chunks, &bytes), 0);
	assert_int_equal(chunks, 1);
	assert_int_equal(bytes, 100);
	read_clip(path, fx->master, wk, &g);
	assert_int_equal(g.end, 1);
	assert_int_equal(g.len, 100);
	assert_memory_equal(g.data, plain, 100);
	free(g.data);
}

static void test_recover_clean_untouched(void **state)
{
	struct fx *fx = *state;
	char path[256];
	size_t sizes[] = { 10, 20, 0 };
	uint8_t wk[VG_WRAPPED_KEY_LEN];
	size_t total;
	uint8_t *plain, sha1[32], sha2[32];
	uint64_t chunks, bytes;
	struct vg_clip_reader *r;
	const uint8_t *d;
	size_t l;

	path_in(fx, "clean.vgc", path, sizeof(path));
	plain = make_clip(path, fx->master, wk, sizes, 3, 9, &total);
	assert_int_equal(vg_file_sha256(path, sha1), 0);
	assert_int_equal(vg_clip_recover(path, fx->master, wk, &chunks, &bytes), 0);
	assert_int_equal(vg_file_sha256(path, sha2), 0);
	assert_memory_equal(sha1, sha2, 32);
	assert_int_equal(chunks, 3);
	assert_int_equal(bytes, 30);
	assert_int_equal(vg_clip_reader_open(&r, path, fx->master, wk), 0);
	while (vg_clip_reader_next(r, &d, &l) == 0)
		;
	assert_int_equal(vg_clip_reader_recovered(r), 0);
	vg_clip_reader_free(r);
	free(plain);
}

/* The child half of test_disk_full; its exit status is the verdict. */
static int disk_full_child(const char *sub, const uint8_t *master)
{
	char path[256];
	struct vg_clip_writer *w;
	struct vg_clip_reader *r;
	uint8_t wk[VG_WRAPPED_KEY_LEN], id[16];
	static uint8_t piece[65536];
	const uint8_t *d;
	size_t l, delivered = 0;
	int i, ret = 0;

	/* A private mount namespace: the tiny tmpfs vanishes with us. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", sub, "tmpfs", 0, "size=128k") < 0)
		return 77;
	snprintf(path, sizeof(path), "%s/clip.vgc", sub);
	fill_pattern(piece, sizeof(piece), 1);
	if (vg_clip_writer_open(&w, path, master, wk, id) < 0)
		return 10;
	for (i = 0; i < 16 && ret == 0; i++) {
		ret = vg_clip_writer_write(w, piece, sizeof(piece));
		if (ret == 0)
			ret = vg_clip_writer_flush(w);
	}
	if (ret != -VG_ENOSPC)
		return 11;
	/* The writer stays dead: no chunk number is sealed twice. */
	if (vg_clip_writer_write(w, piece, 10) != -VG_ENOSPC ||
	    vg_clip_writer_flush(w) != -VG_ENOSPC)
		return 12;
	vg_clip_writer_abandon(w);
	/* What was flushed before the disk filled is still there. */
	if (vg_clip_reader_open(&r, path, master, wk) < 0)
		return 13;
	for (ret = vg_clip_reader_next(r, &d, &l); ret == 0; ret = vg_clip_reader_next(r, &d, &l))
		delivered += l;
	vg_clip_reader_free(r);
	if (ret != -VG_ETRUNC || delivered == 0 || delivered % sizeof(piece) != 0)
		return 14;
	return 0;
}

static void test_disk_full(void **state)
{
	struct fx *fx = *state;
	char sub[256];
	pid_t pid;
	int status = 0;

	path_in(fx, "full", sub, sizeof(sub));
	assert_int_equal(mkdir(sub, 0700), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(disk_full_child(sub, fx->master));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	rmdir(sub);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();	/* needs CAP_SYS_ADMIN to mount a small tmpfs */
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vector),
		cmocka_unit_test(test_keywrap_rfc3394),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_gcm_vector),
		cmocka_unit_test(test_random_differs),
		cmocka_unit_test_setup_teardown(test_roundtrip_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_makes_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_master, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_wrapped_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_holds_no_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_clip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_and_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_bit_flip_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reorder_drop_dup_splice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixed_is_reproducible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_clean_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
