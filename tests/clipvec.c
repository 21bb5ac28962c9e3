/*
 * clipvec - test tool for the clip container (not installed on boxes).
 *
 *   clipvec make OUTDIR                      write the deterministic test vector
 *   clipvec decrypt KEYFILE WRAPPED CLIP     authenticated plaintext to stdout
 *   clipvec check KEYFILE WRAPPED CLIP       print chunks/bytes, exit status below
 *   clipvec encrypt KEYFILE CLIP [N]         stdin to a new clip (random clip key),
 *                                            a fragment boundary every N bytes;
 *                                            prints the wrapped key (hex) on stdout
 *   clipvec recover KEYFILE WRAPPED CLIP     vg_clip_recover
 *
 * KEYFILE holds the master key as 32 raw bytes or as 64 hex digits.
 * WRAPPED is the clip's wrapped key as 80 hex digits: the clip file does not
 * hold it (format version 2), the catalog does; encrypt prints it.
 * Exit status: 0 clean, 2 truncated, 3 authentication failure, 1 other.
 * decrypt writes only chunks that authenticated, and refuses a terminal:
 * pipe it into the consumer (e.g. ffprobe -) so no plaintext file exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/clipfile.h"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/keystore.h"

/* The vector's fixed inputs (also listed in docs/clip-format.md). */
#define VEC_CREATED 1700000000	/* 2023-11-14T22:13:20Z */

static const char *const vec_chunks[] = {
	"vigil clip test vector, chunk 0: a fragment boundary follows.\n",
	"chunk 1 is a little longer, so that the three sealed chunks differ in length "
	"and a decoder that assumes a fixed size fails.\n",
	"chunk 2, the last one with data; the final chunk after it is empty.\n",
};

static void vec_keys(uint8_t master[32], uint8_t clip_key[32], uint8_t id[16])
{
	int i;

	for (i = 0; i < 32; i++) {
		master[i] = (uint8_t)i;			/* 00 01 .. 1f */
		clip_key[i] = (uint8_t)(0xa0 + i);	/* a0 a1 .. bf */
	}
	for (i = 0; i < 16; i++)
		id[i] = (uint8_t)(0xf0 + i);		/* f0 f1 .. ff */
}

static int exit_for(int ret)
{
	if (ret == -VG_ETRUNC)
		return 2;
	if (ret == -VG_EAUTH)
		return 3;
	return 1;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static int load_key(const char *path, uint8_t key[32])
{
	uint8_t buf[200];
	size_t len = 0, i, nd = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int hi = -1, v;

	if (fd < 0) {
		fprintf(stderr, "clipvec: cannot open %s\n", path);
		return -1;
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == 32) {
		memcpy(key, buf, 32);
		vg_wipe(buf, sizeof(buf));
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
			continue;
		v = hexval(buf[i]);
		if (v < 0 || nd >= 64)
			goto bad;
		if (hi < 0) {
			hi = v;
		} else {
			key[nd / 2] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
		nd++;
	}
	if (nd == 64) {
		vg_wipe(buf, sizeof(buf));
		return 0;
	}
bad:
	vg_wipe(buf, sizeof(buf));
	fprintf(stderr, "clipvec: %s is neither 32 raw bytes nor 64 hex digits\n", path);
	return -1;
}

/* WRAPPED argument: exactly 80 hex digits. */
static int parse_wrapped(const char *hex, uint8_t wrapped[VG_WRAPPED_KEY_LEN])
{
	size_t i;
	int hi, lo;

	if (strlen(hex) != 2 * VG_WRAPPED_KEY_LEN)
		goto bad;
	for (i = 0; i < VG_WRAPPED_KEY_LEN; i++) {
		hi = hexval(hex[2 * i]);
		lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		wrapped[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
bad:
	fprintf(stderr, "clipvec: the wrapped key must be %d hex digits\n",
		2 * VG_WRAPPED_KEY_LEN);
	return -1;
}

static int write_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, buf, len) < 0) {
		fprintf(stderr, "clipvec: cannot write %s\n", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int cmd_make(const char *dir)
{
	uint8_t master[32], key[32], id[16], wrapped[40], sha[32];
	char path[1024], hex[88], readme[4096];
	struct vg_clip_writer *w;
	uint64_t bytes;
	size_t i, off = 0, plen = 0;
	uint8_t plain[1024];
	int n, ret;

	vec_keys(master, key, id);
	for (i = 0; i < 3; i++) {
		size_t l = strlen(vec_chunks[i]);

		memcpy(plain + plen, vec_chunks[i], l);
		plen += l;
	}
	snprintf(path, sizeof(path), "%s/clip.vgc", dir);
	unlink(path);
	ret = vg_clip_writer_open_fixed(&w, path, master, key, id, VEC_CREATED, 0, wrapped);
	if (ret < 0) {
		fprintf(stderr, "clipvec: %s: %s\n", path, vg_strerror(ret));
		return 1;
	}
	for (i = 0; i < 3 && ret == 0; i++) {
		ret = vg_clip_writer_write(w, vec_chunks[i], strlen(vec_chunks[i]));
		if (ret == 0)
			ret = vg_clip_writer_flush(w);
	}
	if (ret < 0) {
		vg_clip_writer_abandon(w);
		fprintf(stderr, "clipvec: %s\n", vg_strerror(ret));
		return 1;
	}
	ret = vg_clip_writer_close(w, sha, &bytes);
	if (ret < 0) {
		fprintf(stderr, "clipvec: %s\n", vg_strerror(ret));
		return 1;
	}
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, sizeof(hex) - 2 * i, "%02x", master[i]);
	hex[64] = '\n';
	if (write_file(dir, "master.key.hex", hex, 65) < 0 ||
	    write_file(dir, "plaintext.bin", plain, plen) < 0)
		return 1;
	/* The clip's catalog entry, in effect: the file does not carry it. */
	for (i = 0; i < 40; i++)
		snprintf(hex + 2 * i, sizeof(hex) - 2 * i, "%02x", wrapped[i]);
	hex[80] = '\n';
	if (write_file(dir, "wrapped-key.hex", hex, 81) < 0)
		return 1;

	n = snprintf(readme + off, sizeof(readme) - off,
		     "vigil clip container test vector (format version 2)\n"
		     "Generated by: build/tests/clipvec make tests/data/clip-vector\n"
		     "Spec: docs/clip-format.md. Do not edit these files by hand.\n\n"
		     "master.key.hex   master key (hex) = 000102...1f\n"
		     "wrapped-key.hex  the clip key wrapped by the master key (hex); on a\n"
		     "                 box this lives only in the catalog, never in the clip\n"
		     "clip.vgc         the clip (%llu bytes)\n"
		     "plaintext.bin    what clip.vgc decrypts to (%zu bytes, three chunks\n"
		     "                 of ASCII text followed by an empty final chunk)\n\n",
		     (unsigned long long)bytes, plen);
	off += (size_t)n;
	n = snprintf(readme + off, sizeof(readme) - off, "clip key      ");
	off += (size_t)n;
	for (i = 0; i < 32; i++)
		off += (size_t)snprintf(readme + off, sizeof(readme) - off, "%02x", key[i]);
	off += (size_t)snprintf(readme + off, sizeof(readme) - off, "\nclip id       ");
	for (i = 0; i < 16; i++)
		off += (size_t)snprintf(readme + off, sizeof(readme) - off, "%02x", id[i]);
	off += (size_t)snprintf(readme + off, sizeof(readme) - off, "\nwrapped key   ");
	for (i = 0; i < 40; i++)
		off += (size_t)snprintf(readme + off, sizeof(readme) - off, "%02x", wrapped[i]);
	off += (size_t)snprintf(readme + off, sizeof(readme) - off,
				"\ncreated       %d (2023-11-14T22:13:20Z)\nchunk max     %d\n"
				"SHA-256(clip.vgc) ", VEC_CREATED, VG_CHUNK_MAX);
	for (i = 0; i < 32; i++)
		off += (size_t)snprintf(readme + off, sizeof(readme) - off, "%02x", sha[i]);
	off += (size_t)snprintf(readme + off, sizeof(readme) - off,
				"\n\nChunk plaintext lengths: %zu, %zu, %zu, then 0 (final).\n",
				strlen(vec_chunks[0]), strlen(vec_chunks[1]),
				strlen(vec_chunks[2]));
	if (write_file(dir, "README", readme, off) < 0)
		return 1;
	printf("wrote %s (%llu bytes, SHA-256 ", path, (unsigned long long)bytes);
	put_hex(stdout, sha, 32);
	printf(")\n");
	return 0;
}

/* Read the clip; out_fd >= 0 receives each authenticated chunk. */
static int walk(const char *keyfile, const char *wrapped_hex, const char *clip, int out_fd,
		int verbose)
{
	uint8_t master[32], wrapped[VG_WRAPPED_KEY_LEN];
	struct vg_clip_reader *r = NULL;
	const uint8_t *data;
	uint64_t chunks = 0, bytes = 0;
	size_t len;
	int ret;

	if (parse_wrapped(wrapped_hex, wrapped) < 0 || load_key(keyfile, master) < 0)
		return 1;
	ret = vg_clip_reader_open(&r, clip, master, wrapped);
	vg_wipe(master, sizeof(master));
	if (ret == -VG_EAUTH) {
		/* At open this is always the key, never a damaged chunk. */
		fprintf(stderr, "clipvec: %s: wrong key: the wrapped key does not unwrap under "
			"this master key, or is not this clip's (no chunk was read)\n", clip);
		return exit_for(ret);
	}
	if (ret < 0) {
		fprintf(stderr, "clipvec: %s: %s\n", clip, vg_strerror(ret));
		return exit_for(ret);
	}
	for (;;) {
		ret = vg_clip_reader_next(r, &data, &len);
		if (ret != 0)
			break;
		chunks++;
		bytes += len;
		if (out_fd >= 0 && write_all(out_fd, data, len) < 0) {
			fprintf(stderr, "clipvec: write to output failed\n");
			vg_clip_reader_free(r);
			return 1;
		}
	}
	if (verbose)
		printf("%s: %llu chunks, %llu bytes: %s%s\n", clip, (unsigned long long)chunks,
		       (unsigned long long)bytes, ret == 1 ? "clean" : vg_strerror(ret),
		       ret == 1 && vg_clip_reader_recovered(r) ? " (recovered after a crash)" : "");
	else if (ret != 1)
		fprintf(stderr, "clipvec: %s: %s after %llu chunks\n", clip, vg_strerror(ret),
			(unsigned long long)chunks);
	vg_clip_reader_free(r);
	return ret == 1 ? 0 : exit_for(ret);
}

static int cmd_encrypt(const char *keyfile, const char *clip, const char *every)
{
	uint8_t master[32], wrapped[40], id[16];
	struct vg_clip_writer *w;
	uint8_t buf[65536];
	size_t since = 0, n_every = every != NULL ? strtoul(every, NULL, 10) : 0;
	ssize_t n;
	int ret;

	if (load_key(keyfile, master) < 0)
		return 1;
	ret = vg_clip_writer_open(&w, clip, master, wrapped, id);
	vg_wipe(master, sizeof(master));
	if (ret < 0) {
		fprintf(stderr, "clipvec: %s: %s\n", clip, vg_strerror(ret));
		return 1;
	}
	for (;;) {
		size_t want = sizeof(buf);

		if (n_every > 0 && n_every - since < want)
			want = n_every - since;
		n = read(0, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ret = vg_clip_writer_write(w, buf, (size_t)n);
		if (ret < 0)
			break;
		since += (size_t)n;
		if (n_every > 0 && since == n_every) {
			ret = vg_clip_writer_flush(w);
			if (ret < 0)
				break;
			since = 0;
		}
	}
	vg_wipe(buf, sizeof(buf));
	if (ret < 0 || n < 0) {
		vg_clip_writer_abandon(w);
		fprintf(stderr, "clipvec: %s: %s\n", clip, n < 0 ? "read error" : vg_strerror(ret));
		return 1;
	}
	ret = vg_clip_writer_close(w, NULL, NULL);
	if (ret < 0) {
		fprintf(stderr, "clipvec: %s: %s\n", clip, vg_strerror(ret));
		return 1;
	}
	/* Without this the clip can never be read again. */
	put_hex(stdout, wrapped, sizeof(wrapped));
	printf("\n");
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_recover(const char *keyfile, const char *wrapped_hex, const char *clip)
{
	uint8_t master[32], wrapped[VG_WRAPPED_KEY_LEN];
	uint64_t chunks = 0, bytes = 0;
	int ret;

	if (parse_wrapped(wrapped_hex, wrapped) < 0 || load_key(keyfile, master) < 0)
		return 1;
	ret = vg_clip_recover(clip, master, wrapped, &chunks, &bytes);
	vg_wipe(master, sizeof(master));
	if (ret < 0) {
		fprintf(stderr, "clipvec: %s: %s\n", clip, vg_strerror(ret));
		return exit_for(ret);
	}
	printf("%s: kept %llu chunks, %llu bytes\n", clip, (unsigned long long)chunks,
	       (unsigned long long)bytes);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: clipvec make OUTDIR\n"
		"       clipvec decrypt KEYFILE WRAPPEDKEYHEX CLIP   (plaintext to stdout)\n"
		"       clipvec check KEYFILE WRAPPEDKEYHEX CLIP\n"
		"       clipvec encrypt KEYFILE CLIP [FLUSH_EVERY_BYTES]   (stdin; prints "
		"WRAPPEDKEYHEX)\n"
		"       clipvec recover KEYFILE WRAPPEDKEYHEX CLIP\n");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "make") == 0)
		return cmd_make(argv[2]);
	if (argc == 5 && strcmp(argv[1], "decrypt") == 0) {
		if (isatty(1)) {
			fprintf(stderr, "clipvec: refusing to write plaintext to a terminal; "
				"pipe it into the program that needs it\n");
			return 1;
		}
		return walk(argv[2], argv[3], argv[4], 1, 0);
	}
	if (argc == 5 && strcmp(argv[1], "check") == 0)
		return walk(argv[2], argv[3], argv[4], -1, 1);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "encrypt") == 0)
		return cmd_encrypt(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 5 && strcmp(argv[1], "recover") == 0)
		return cmd_recover(argv[2], argv[3], argv[4]);
	return usage();
}
