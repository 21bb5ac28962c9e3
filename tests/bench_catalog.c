/*
 * bench_catalog.c - retention on a big catalog.
 *
 *   build/tests/bench_catalog [DAYS [DIR]]
 *
 * Builds a catalog of 10 cameras x DAYS (default 365) of one-minute clips
 * (5,256,000 rows for a year). The schema is created by vg_catalog_open;
 * the rows are then bulk-loaded with plain sqlite3 INSERTs into that same
 * schema (through the API it takes several times longer), 100,000 rows
 * per transaction. Only the first day's clips get files (empty ones: the
 * cost measured is the unlink and directory fsync, not the file system
 * freeing data blocks); every later row has none.
 *
 * Then, through the API: one retention sweep that expires exactly that
 * first day of all cameras (14,400 clips: shred, unlink, fsync, delete,
 * checkpoint), listing one camera's day, and the size on disk. Prints
 * "name: value unit" lines. DIR defaults to a new /tmp/vigil-bench-XXXXXX,
 * removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "vigil/catalog.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/retention.h"
#include "vigil/timeutil.h"

#define CAMS 10
#define MIN_US (60 * VG_US_PER_S)
#define BASE INT64_C(1767225600000000)	/* 2026-01-01T00:00:00Z */
#define ROWS_PER_TXN 100000

static double secs(int64_t us)
{
	return (double)us / 1e6;
}

static int64_t fake_now;

static int64_t bench_rt(void *ud)
{
	return fake_now;
}

static int64_t bench_mono(void *ud)
{
	return vg_time_mono_us();
}

static int bench_space(void *ud, const char *path, uint64_t *total, uint64_t *avail)
{
	*total = UINT64_C(1) << 40;
	*avail = UINT64_C(1) << 39;
	return 0;
}

static int check(int rc, sqlite3 *db, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int load(const char *dbpath, const char *dir, int days)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	uint8_t key[VG_WRAPPED_KEY_LEN], cid[VG_CLIP_ID_LEN];
	char path[128], fpath[512];
	int64_t n = 0, minutes = (int64_t)days * 1440;
	int rc = -1;

	if (check(sqlite3_open(dbpath, &db), db, "open"))
		goto out;
	/* Bulk load only: the catalog itself always runs synchronous=FULL. */
	sqlite3_exec(db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144", NULL, NULL,
		     NULL);
	if (check(sqlite3_prepare_v2(db, "INSERT INTO clips (camera, path, clip_id, start_us,"
				     " end_us, frames, bytes, sha256, wrapped_key, state, encoder,"
				     " width, height) VALUES (?1, ?2, ?3, ?4, ?5, 900, 3000000,"
				     " zeroblob(32), ?6, 'complete', 'libx264', 1280, 720)",
				     -1, &st, NULL), db, "prepare"))
		goto out;
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (int64_t m = 0; m < minutes; m++) {
		for (int c = 0; c < CAMS; c++) {
			char cam[16];

			snprintf(cam, sizeof(cam), "cam%d", c);
			snprintf(path, sizeof(path), "clips/%s/d%" PRId64 "/m%" PRId64 ".vgc", cam,
				 m / 1440, m);
			if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key) ||
			    getrandom(cid, sizeof(cid), 0) != (ssize_t)sizeof(cid))
				goto out;
			sqlite3_bind_text(st, 1, cam, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
			sqlite3_bind_blob(st, 3, cid, sizeof(cid), SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 4, BASE + m * MIN_US);
			sqlite3_bind_int64(st, 5, BASE + (m + 1) * MIN_US);
			sqlite3_bind_blob(st, 6, key, sizeof(key), SQLITE_TRANSIENT);
			if (check(sqlite3_step(st), db, "insert"))
				goto out;
			sqlite3_reset(st);
			if (m < 1440) {
				int fd;

				snprintf(fpath, sizeof(fpath), "%s/clips", dir);
				mkdir(fpath, 0700);
				snprintf(fpath, sizeof(fpath), "%s/clips/%s", dir, cam);
				mkdir(fpath, 0700);
				snprintf(fpath, sizeof(fpath), "%s/clips/%s/d0", dir, cam);
				mkdir(fpath, 0700);
				snprintf(fpath, sizeof(fpath), "%s/%s", dir, path);
				fd = open(fpath, O_WRONLY | O_CREAT, 0600);
				if (fd < 0)
					goto out;
				close(fd);
			}
			if (++n % ROWS_PER_TXN == 0) {
				sqlite3_exec(db, "COMMIT; BEGIN", NULL, NULL, NULL);
			}
		}
	}
	if (check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit"))
		goto out;
	sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static int count_fn(const struct vg_clip *c, void *ud)
{
	(*(int64_t *)ud)++;
	return 0;
}

static int64_t file_size(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* Make a version 4 file look like version 3 to the migration (the clips
 * table keeps its AUTOINCREMENT: the rebuild costs the same). */
static int downgrade_to_v3(const char *path)
{
	sqlite3 *db;
	int rc;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, "DROP INDEX gaps_open; DROP TRIGGER clips_close_gaps;"
			  " PRAGMA user_version = 3", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	char dir[256], dbpath[300], wal[310], cmd[400];
	struct vg_catalog *cat = NULL;
	struct vg_retention *ret = NULL;
	struct vg_retention_camera cams[CAMS];
	char names[CAMS][16];
	struct vg_retention_params p = { 0 };
	struct vg_retention_clock clk = { bench_rt, bench_mono, bench_space, NULL };
	struct vg_retention_report rep;
	int days = argc > 1 ? atoi(argv[1]) : 365;
	int made_dir = argc <= 2;
	int64_t t, n, best = INT64_MAX;
	int rc = 1;

	if (days < 2 || days > 3650) {
		fprintf(stderr, "usage: %s [DAYS (2..3650, default 365) [DIR]]\n", argv[0]);
		return 2;
	}
	vg_log_set_level(VG_LOG_WARN);
	if (made_dir) {
		snprintf(dir, sizeof(dir), "/tmp/vigil-bench-XXXXXX");
		if (mkdtemp(dir) == NULL)
			return 1;
	} else {
		snprintf(dir, sizeof(dir), "%s", argv[2]);
	}
	snprintf(dbpath, sizeof(dbpath), "%s/catalog.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	if (vg_catalog_open(&cat, dbpath) != 0)
		goto out;
	vg_catalog_close(cat);
	cat = NULL;
	t = vg_time_mono_us();
	if (load(dbpath, dir, days) != 0)
		goto out;
	printf("rows: %lld clips\n", (long long)days * 1440 * CAMS);
	printf("bulk_load: %.1f s\n", secs(vg_time_mono_us() - t));
	if (vg_catalog_open(&cat, dbpath) != 0)
		goto out;
	printf("catalog_size: %.1f MB\n", (double)(file_size(dbpath) + file_size(wal)) / 1e6);
	printf("bytes_per_clip: %.0f B\n",
	       (double)file_size(dbpath) / ((double)days * 1440 * CAMS));

	for (int c = 0; c < CAMS; c++) {
		snprintf(names[c], sizeof(names[c]), "cam%d", c);
		cams[c].name = names[c];
		cams[c].days = days - 1;
	}
	p.cameras = cams;
	p.n_cameras = CAMS;
	/* retention days - 1, now = end of the catalog: the first day expires */
	fake_now = BASE + (int64_t)days * VG_US_PER_DAY;
	if (vg_retention_new(&ret, cat, dir, NULL, &p, &clk) != 0)
		goto out;
	t = vg_time_mono_us();
	if (vg_retention_sweep(ret, &rep) != 0)
		goto out;
	printf("sweep_expire_one_day: %.3f s\n", secs(vg_time_mono_us() - t));
	printf("sweep_deleted: %lld clips\n", (long long)rep.deleted);
	/* a second sweep with nothing to do: the per-minute steady cost */
	t = vg_time_mono_us();
	if (vg_retention_sweep(ret, &rep) != 0)
		goto out;
	printf("sweep_idle: %.3f s\n", secs(vg_time_mono_us() - t));

	for (int i = 0; i < 5; i++) {
		int64_t from = BASE + (int64_t)(days / 2) * VG_US_PER_DAY;

		n = 0;
		t = vg_time_mono_us();
		vg_catalog_clips(cat, "cam3", from, from + VG_US_PER_DAY, count_fn, &n);
		t = vg_time_mono_us() - t;
		if (t < best)
			best = t;
		if (i == 0)
			printf("list_camera_day_first: %.2f ms\n", (double)t / 1000.0);
	}
	printf("list_camera_day: %.2f ms\n", (double)best / 1000.0);
	printf("list_camera_day_rows: %lld clips\n", (long long)n);
	vg_catalog_checkpoint(cat);
	printf("catalog_size_after: %.1f MB\n",
	       (double)(file_size(dbpath) + file_size(wal)) / 1e6);
	/* The version 3 to 4 migration rebuilds the clips table: what it
	 * costs at the first start of a new build on this catalog. */
	vg_retention_free(ret);
	ret = NULL;
	vg_catalog_close(cat);
	cat = NULL;
	if (downgrade_to_v3(dbpath) != 0)
		goto out;
	t = vg_time_mono_us();
	if (vg_catalog_open(&cat, dbpath) != 0)
		goto out;
	printf("migrate_v3_to_v4: %.1f s\n", secs(vg_time_mono_us() - t));
	rc = rep.deleted == 0 ? 0 : 1;
out:
	vg_retention_free(ret);
	vg_catalog_close(cat);
	if (made_dir) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return rc;
}
