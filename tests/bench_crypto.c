/*
 * bench_crypto - throughput of the clip container and its primitives.
 *
 *   bench_crypto [MIB [DIR]]     default 256 MiB through a clip in /tmp
 *
 * Writes MIB MiB of generated data (not footage) through vg_clip_writer
 * with a flush (seal + fdatasync) every FLUSH bytes, as the pipeline does at
 * fragment boundaries, then reads and verifies it back, then deletes the
 * file. Prints "NAME MB/s: X" lines (MB = 10^6 bytes) plus CPU seconds
 * (user+sys, getrusage) so a slow disk and a slow CPU can be told apart.
 * The read pass usually hits the page cache: it measures verification.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "vigil/clipfile.h"
#include "vigil/crypto.h"
#include "vigil/err.h"

#define PIECE (64 * 1024)		/* one write() call from the muxer */
#define FLUSH (1024 * 1024)		/* fragment boundary every 1 MiB */

struct mark {
	double wall;
	double cpu;
};

static struct mark now(void)
{
	struct timespec ts;
	struct rusage ru;
	struct mark m;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	getrusage(RUSAGE_SELF, &ru);
	m.wall = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	m.cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return m;
}

static void report(const char *name, struct mark a, struct mark b, double bytes)
{
	double wall = b.wall - a.wall;
	double cpu = b.cpu - a.cpu;

	printf("%s MB/s: %.1f   (%.0f MB in %.3f s wall, %.3f s CPU, %.1f MB per CPU-s)\n",
	       name, bytes / 1e6 / wall, bytes / 1e6, wall, cpu,
	       cpu > 0 ? bytes / 1e6 / cpu : 0.0);
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 256;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	uint8_t master[VG_MASTER_KEY_LEN], wrapped[VG_WRAPPED_KEY_LEN], id[VG_CLIP_ID_LEN];
	uint8_t key[32], nonce[12] = { 0 }, tag[16], digest[32];
	struct vg_clip_writer *w = NULL;
	struct vg_clip_reader *r = NULL;
	struct vg_crypto_aead *aead = NULL;
	const uint8_t *data;
	char path[512];
	uint8_t *buf = NULL, *out = NULL;
	uint64_t total, done, since, got = 0;
	struct mark a, b;
	size_t len;
	int ret = 1, rc, i;

	if (mib <= 0) {
		fprintf(stderr, "usage: bench_crypto [MIB [DIR]]\n");
		return 1;
	}
	total = (uint64_t)mib * 1024 * 1024;
	buf = malloc(FLUSH);
	out = malloc(FLUSH);
	if (buf == NULL || out == NULL)
		goto out;
	/* Random data: the cipher does not care, and it defeats any
	 * compression below us. */
	if (vg_crypto_random(buf, FLUSH) < 0 || vg_crypto_random(master, sizeof(master)) < 0 ||
	    vg_crypto_random(key, sizeof(key)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/vigil-bench-%ld.vgc", dir, (long)getpid());

	printf("bench_crypto: %ld MiB through %s, flush every %d KiB, %d KiB writes\n",
	       mib, path, FLUSH / 1024, PIECE / 1024);

	a = now();
	rc = vg_clip_writer_open(&w, path, master, wrapped, id);
	if (rc < 0) {
		fprintf(stderr, "bench_crypto: %s: %s\n", path, vg_strerror(rc));
		goto out;
	}
	for (done = 0, since = 0; done < total && rc == 0; done += PIECE) {
		rc = vg_clip_writer_write(w, buf + (done % FLUSH), PIECE);
		since += PIECE;
		if (rc == 0 && since >= FLUSH) {
			rc = vg_clip_writer_flush(w);
			since = 0;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "bench_crypto: write: %s\n", vg_strerror(rc));
		vg_clip_writer_abandon(w);
		goto out_unlink;
	}
	rc = vg_clip_writer_close(w, NULL, NULL);
	b = now();
	if (rc < 0) {
		fprintf(stderr, "bench_crypto: close: %s\n", vg_strerror(rc));
		goto out_unlink;
	}
	report("clip-write", a, b, (double)total);

	a = now();
	rc = vg_clip_reader_open(&r, path, master, wrapped);
	while (rc == 0) {
		rc = vg_clip_reader_next(r, &data, &len);
		if (rc == 0)
			got += len;
	}
	b = now();
	vg_clip_reader_free(r);
	if (rc != 1 || got != total) {
		fprintf(stderr, "bench_crypto: read back failed: %s\n", vg_strerror(rc));
		goto out_unlink;
	}
	report("clip-read+verify", a, b, (double)total);

	/* The primitives alone, in memory, for comparison. */
	if (vg_crypto_aead_new(&aead, key) < 0)
		goto out_unlink;
	a = now();
	for (i = 0; i < 256; i++) {
		nonce[11] = (uint8_t)i;
		vg_crypto_aead_seal(aead, nonce, digest, sizeof(digest), buf, FLUSH, out, tag);
	}
	b = now();
	report("gcm-seal (memory)", a, b, 256.0 * FLUSH);
	a = now();
	/* out and tag hold the last seal (nonce ...ff): each open verifies. */
	for (i = 0; i < 256; i++) {
		if (vg_crypto_aead_open(aead, nonce, digest, sizeof(digest), out, FLUSH, tag,
					buf) < 0)
			goto out_unlink;
	}
	b = now();
	report("gcm-open (memory)", a, b, 256.0 * FLUSH);
	a = now();
	for (i = 0; i < 256; i++)
		vg_sha256(buf, FLUSH, digest);
	b = now();
	report("sha256 (memory)", a, b, 256.0 * FLUSH);
	ret = 0;
out_unlink:
	unlink(path);
out:
	vg_crypto_aead_free(aead);
	vg_wipe(master, sizeof(master));
	vg_wipe(key, sizeof(key));
	free(buf);
	free(out);
	return ret;
}
