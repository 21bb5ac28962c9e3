/*
 * test_catalog.c - the clip catalog: round trips, range semantics, gaps,
 * crypto-shredding down to the raw file bytes, crash durability, retention
 * order, batches, concurrent writers, export requests awaiting approval and
 * schema migrations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

/* Frees what the library malloc()ed (the request text): defined before
 * cmocka.h, which turns free() into its own checker. */
static void lib_free(void *p)
{
	free(p);
}

/* after the system headers: with UNIT_TESTING it redefines malloc & co */
#include <cmocka.h>

#include "vigil/catalog.h"
#include "vigil/err.h"

struct fixture {
	char dir[64];
	char db[128];
	struct vg_catalog *cat;
};

static void rm_catalog_files(const char *db)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[160];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-cat-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/catalog.db", f->dir);
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];

	vg_catalog_close(f->cat);
	rm_catalog_files(f->db);
	snprintf(p, sizeof(p), "%s/other.db", f->dir);
	rm_catalog_files(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A clip with every field set to something distinguishable. */
static void make_clip(struct vg_clip *c, const char *camera, int64_t start, int64_t end, int n)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->camera, sizeof(c->camera), "%s", camera);
	snprintf(c->path, sizeof(c->path), "%s/%lld-%d.vgc", camera, (long long)start, n);
	assert_int_equal(getrandom(c->clip_id, sizeof(c->clip_id), 0), sizeof(c->clip_id));
	assert_int_equal(getrandom(c->wrapped_key, sizeof(c->wrapped_key), 0),
			 sizeof(c->wrapped_key));
	c->start_us = start;
	c->end_us = end;
	c->synthetic = n & 1;
	snprintf(c->encoder, sizeof(c->encoder), "%s", (n & 1) ? "passthrough" : "libx264");
	c->width = 640 + n;
	c->height = 480 + n;
}

/* Insert a clip and finish it as COMPLETE over [start, end). */
static int64_t add_clip(struct vg_catalog *cat, const char *camera, int64_t start, int64_t end)
{
	static int n;
	struct vg_clip c;

	make_clip(&c, camera, start, start, n++);
	assert_int_equal(vg_catalog_clip_begin(cat, &c), 0);
	c.end_us = end;
	c.frames = (end - start) / 40000;
	c.bytes = 1000 + n;
	c.state = VG_CLIP_COMPLETE;
	assert_int_equal(vg_catalog_clip_finish(cat, &c), 0);
	return c.id;
}

/* Collects what a walk hands out. */
struct seen {
	int n;
	int64_t id[256];
	char camera[256][33];
	int64_t start[256], end[256];
	int stop_after;		/* non-zero: return 7 after this many */
	struct vg_catalog *del;	/* non-NULL: delete each clip as it is seen */
};

static int seen_fn(const struct vg_clip *c, void *ud)
{
	struct seen *s = ud;

	assert_true(s->n < 256);
	s->id[s->n] = c->id;
	memcpy(s->camera[s->n], c->camera, sizeof(c->camera));
	s->start[s->n] = c->start_us;
	s->end[s->n] = c->end_us;
	s->n++;
	if (s->del != NULL)
		assert_int_equal(vg_catalog_clip_delete(s->del, c->id), 0);
	if (s->stop_after && s->n == s->stop_after)
		return 7;
	return 0;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct vg_clip c, got, dup;

	make_clip(&c, "door", 1000000, 0, 1);
	c.has_key = 0;	/* ignored by begin: a new clip always has its key */
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	assert_true(c.id > 0);
	assert_int_equal(vg_catalog_clip_get(f->cat, c.id, &got), 0);
	assert_string_equal(got.camera, "door");
	assert_string_equal(got.path, c.path);
	assert_memory_equal(got.clip_id, c.clip_id, VG_CLIP_ID_LEN);
	assert_memory_equal(got.wrapped_key, c.wrapped_key, VG_WRAPPED_KEY_LEN);
	assert_int_equal(got.has_key, 1);
	assert_int_equal(got.state, VG_CLIP_RECORDING);
	assert_int_equal(got.start_us, 1000000);
	assert_int_equal(got.end_us, 1000000);	/* end before start: stored as start */

	c.end_us = 61000000;
	c.frames = 1500;
	c.bytes = 123456789012LL;
	assert_int_equal(getrandom(c.sha256, sizeof(c.sha256), 0), sizeof(c.sha256));
	c.state = VG_CLIP_COMPLETE;
	snprintf(c.encoder, sizeof(c.encoder), "h264_v4l2m2m");
	c.width = 1920;
	c.height = 1080;
	assert_int_equal(vg_catalog_clip_finish(f->cat, &c), 0);

	assert_int_equal(vg_catalog_clip_by_path(f->cat, c.path, &got), 0);
	assert_int_equal(got.id, c.id);
	assert_string_equal(got.camera, c.camera);
	assert_string_equal(got.path, c.path);
	assert_memory_equal(got.clip_id, c.clip_id, VG_CLIP_ID_LEN);
	assert_int_equal(got.start_us, c.start_us);
	assert_int_equal(got.end_us, c.end_us);
	assert_int_equal(got.frames, c.frames);
	assert_int_equal(got.bytes, c.bytes);
	assert_memory_equal(got.sha256, c.sha256, VG_SHA256_LEN);
	assert_memory_equal(got.wrapped_key, c.wrapped_key, VG_WRAPPED_KEY_LEN);
	assert_int_equal(got.has_key, 1);
	assert_int_equal(got.state, VG_CLIP_COMPLETE);
	assert_int_equal(got.synthetic, 1);
	assert_string_equal(got.encoder, "h264_v4l2m2m");
	assert_int_equal(got.width, 1920);
	assert_int_equal(got.height, 1080);

	c.state = VG_CLIP_RECOVERED;
	assert_int_equal(vg_catalog_clip_finish(f->cat, &c), 0);
	assert_int_equal(vg_catalog_clip_get(f->cat, c.id, &got), 0);
	assert_int_equal(got.state, VG_CLIP_RECOVERED);

	/* missing rows, duplicates and paths that leave the data folder */
	assert_int_equal(vg_catalog_clip_get(f->cat, c.id + 100, &got), -VG_ENOENT);
	assert_int_equal(vg_catalog_clip_by_path(f->cat, "door/none.vgc", &got), -VG_ENOENT);
	got = c;
	got.id = c.id + 100;
	assert_int_equal(vg_catalog_clip_finish(f->cat, &got), -VG_ENOENT);
	assert_int_equal(vg_catalog_clip_delete(f->cat, c.id + 100), -VG_ENOENT);
	dup = c;
	assert_int_equal(vg_catalog_clip_begin(f->cat, &dup), -VG_EEXIST);
	snprintf(dup.path, sizeof(dup.path), "/var/lib/vigil/x.vgc");
	assert_int_equal(vg_catalog_clip_begin(f->cat, &dup), -VG_EINVAL);
	snprintf(dup.path, sizeof(dup.path), "door/../../etc/passwd");
	assert_int_equal(vg_catalog_clip_begin(f->cat, &dup), -VG_EINVAL);
	snprintf(dup.path, sizeof(dup.path), "door/x.vgc");
	dup.camera[0] = '\0';
	assert_int_equal(vg_catalog_clip_begin(f->cat, &dup), -VG_EINVAL);

	assert_int_equal(vg_catalog_clip_delete(f->cat, c.id), 0);
	assert_int_equal(vg_catalog_clip_get(f->cat, c.id, &got), -VG_ENOENT);
}

static void test_ranges(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t a1, a2, a3, b1;

	a1 = add_clip(f->cat, "stairs", 100, 200);
	a2 = add_clip(f->cat, "stairs", 200, 300);
	a3 = add_clip(f->cat, "stairs", 300, 400);
	b1 = add_clip(f->cat, "lobby", 150, 250);

	/* ends exactly at from: out; starts exactly at to: out */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "stairs", 200, 300, seen_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], a2);

	/* overlapping either boundary: in */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "stairs", 150, 201, seen_fn, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.id[0], a1);
	assert_int_equal(s.id[1], a2);

	/* all cameras, open bounds: ordered by camera, then start */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, NULL, 0, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.id[0], b1);
	assert_int_equal(s.id[1], a1);
	assert_int_equal(s.id[2], a2);
	assert_int_equal(s.id[3], a3);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, NULL, 240, 260, seen_fn, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.camera[0], "lobby");
	assert_int_equal(s.id[1], a2);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "stairs", 350, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], a3);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "garage", 0, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 0);

	/* the callback's answer stops the walk and is returned */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(vg_catalog_clips(f->cat, NULL, 0, 0, seen_fn, &s), 7);
	assert_int_equal(s.n, 2);
}

/* A clip far longer than its neighbours, finished after they were
 * catalogued, still shows up in a range that starts well inside it. */
static void test_range_long_clip(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t long_id;

	for (int i = 0; i < 20; i++)
		add_clip(f->cat, "yard", 1000000 + i * 1000, 1000000 + i * 1000 + 1000);
	long_id = add_clip(f->cat, "yard", 500, 900000000);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "yard", 800000000, 800000001, seen_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], long_id);
}

/* The clip being recorded has no end yet, but it is footage of every
 * moment since its start: a range that starts inside it (the last minute,
 * say) must find it, whether or not the camera has closed clips (whose
 * longest span otherwise bounds the scan), and however long it has run. */
static void test_range_recording_clip(void **state)
{
	struct fixture *f = *state;
	struct vg_clip open;
	struct seen s;

	make_clip(&open, "bins", 5000, 0, 9);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &open), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "bins", 9000, 9500, seen_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], open.id);

	/* closed clips of 100 us before it: still found 4000 us in */
	add_clip(f->cat, "bins", 4800, 4900);
	add_clip(f->cat, "bins", 4900, 5000);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "bins", 9000, 9500, seen_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], open.id);
	/* all cameras too; and not in a range that ends before it starts */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, NULL, 9000, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "bins", 4850, 5000, seen_fn, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_not_equal(s.id[1], open.id);
}

/* Walks page through many rows in order, and the callback may delete the
 * clip it is handed (as retention does). */
static void test_walk_pages(void **state)
{
	struct fixture *f = *state;
	struct seen s;
	int64_t ids[200];

	assert_int_equal(vg_catalog_begin(f->cat), 0);
	for (int i = 0; i < 200; i++)
		ids[i] = add_clip(f->cat, "hall", 1000 * (int64_t)i, 1000 * (int64_t)i + 1000);
	assert_int_equal(vg_catalog_commit(f->cat), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "hall", 0, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 200);
	for (int i = 0; i < 200; i++)
		assert_int_equal(s.id[i], ids[i]);

	memset(&s, 0, sizeof(s));
	s.del = f->cat;
	assert_int_equal(vg_catalog_expired(f->cat, "hall", 150000, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 150);
	for (int i = 0; i < 150; i++)
		assert_int_equal(s.id[i], ids[i]);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_clips(f->cat, "hall", 0, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 50);
	assert_int_equal(s.id[0], ids[150]);
}

static void test_open_clips(void **state)
{
	struct fixture *f = *state;
	struct vg_clip c1, c2, c3;
	struct seen s;

	make_clip(&c1, "door", 10, 0, 1);
	make_clip(&c2, "door", 20, 0, 2);
	make_clip(&c3, "lift", 30, 0, 3);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c1), 0);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c2), 0);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c3), 0);
	c2.end_us = 40;
	c2.state = VG_CLIP_COMPLETE;
	assert_int_equal(vg_catalog_clip_finish(f->cat, &c2), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_open_clips(f->cat, seen_fn, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.id[0], c1.id);
	assert_int_equal(s.id[1], c3.id);
}

struct gseen {
	int n;
	struct vg_gap g[8];
};

static int gap_fn(const struct vg_gap *g, void *ud)
{
	struct gseen *s = ud;

	assert_true(s->n < 8);
	s->g[s->n++] = *g;
	return 0;
}

static void test_gaps(void **state)
{
	struct fixture *f = *state;
	struct gseen s;
	int64_t ga, gb;
	char longreason[300];

	assert_int_equal(vg_catalog_gap_open(f->cat, "stairs", 100, "camera lost", &ga), 0);
	assert_int_equal(vg_catalog_gap_open(f->cat, "lobby", 50, NULL, &gb), 0);
	assert_int_equal(vg_catalog_gap_close(f->cat, ga, 200), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_gaps(f->cat, "stairs", 0, 0, gap_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.g[0].id, ga);
	assert_string_equal(s.g[0].camera, "stairs");
	assert_int_equal(s.g[0].from_us, 100);
	assert_int_equal(s.g[0].to_us, 200);
	assert_string_equal(s.g[0].reason, "camera lost");

	/* all cameras; the open gap overlaps every later range */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_gaps(f->cat, NULL, 150, 0, gap_fn, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.g[0].id, gb);
	assert_int_equal(s.g[0].to_us, 0);
	assert_string_equal(s.g[0].reason, "");
	assert_int_equal(s.g[1].id, ga);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_gaps(f->cat, NULL, 200, 1000000, gap_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.g[0].id, gb);

	assert_int_equal(vg_catalog_gap_close(f->cat, gb + 100, 300), -VG_ENOENT);
	assert_int_equal(vg_catalog_gap_close(f->cat, gb, 10), -VG_EINVAL);

	memset(longreason, 'x', sizeof(longreason) - 1);
	longreason[sizeof(longreason) - 1] = '\0';
	assert_int_equal(vg_catalog_gap_open(f->cat, "yard", 5, longreason, &ga), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_gaps(f->cat, "yard", 0, 0, gap_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(strlen(s.g[0].reason), 127);
}

static int file_contains(const char *path, const void *needle, size_t len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long size;
	int found = 0;

	if (fp == NULL)
		return 0;	/* a missing -wal file holds nothing */
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	rewind(fp);
	if (size > 0) {
		buf = malloc((size_t)size);
		assert_non_null(buf);
		assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
		found = memmem(buf, (size_t)size, needle, len) != NULL;
	}
	free(buf);
	fclose(fp);
	return found;
}

static int key_on_disk(const struct fixture *f, const uint8_t *key)
{
	char wal[160];

	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	return file_contains(f->db, key, VG_WRAPPED_KEY_LEN) ||
	       file_contains(wal, key, VG_WRAPPED_KEY_LEN);
}

static void test_shred(void **state)
{
	struct fixture *f = *state;
	struct vg_clip a, b, filler, got;

	make_clip(&a, "door", 100, 0, 1);
	make_clip(&b, "door", 200, 0, 2);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &a), 0);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &b), 0);
	/* a neighbour on the same page, which must keep its key */
	make_clip(&filler, "door", 300, 0, 3);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &filler), 0);

	/* the search finds the keys while they are there */
	assert_int_equal(vg_catalog_checkpoint(f->cat), 0);
	assert_true(key_on_disk(f, a.wrapped_key));
	assert_true(key_on_disk(f, b.wrapped_key));

	assert_int_equal(vg_catalog_clip_shred(f->cat, a.id), 0);
	assert_int_equal(vg_catalog_clip_delete(f->cat, b.id), 0);
	assert_int_equal(vg_catalog_clip_get(f->cat, a.id, &got), 0);
	assert_int_equal(got.has_key, 0);
	assert_string_equal(got.path, a.path);	/* the row stays */
	assert_int_equal(vg_catalog_clip_shred(f->cat, b.id), -VG_ENOENT);

	assert_int_equal(vg_catalog_checkpoint(f->cat), 0);
	assert_false(key_on_disk(f, a.wrapped_key));
	assert_false(key_on_disk(f, b.wrapped_key));
	assert_true(key_on_disk(f, filler.wrapped_key));
	assert_int_equal(vg_catalog_clip_get(f->cat, filler.id, &got), 0);
	assert_int_equal(got.has_key, 1);
	assert_memory_equal(got.wrapped_key, filler.wrapped_key, VG_WRAPPED_KEY_LEN);
}

/* A process that finishes a clip and then dies without closing the
 * catalog leaves it readable, with the clip complete. */
static void test_durability(void **state)
{
	struct fixture *f = *state;
	struct vg_catalog *other = NULL;
	struct vg_clip c, got;
	char path[160];
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/other.db", f->dir);
	make_clip(&c, "door", 5000, 0, 4);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vg_catalog *cat;

		if (vg_catalog_open(&cat, path) != 0 || vg_catalog_clip_begin(cat, &c) != 0)
			_exit(2);
		c.end_us = 9000;
		c.frames = 100;
		c.state = VG_CLIP_COMPLETE;
		if (vg_catalog_clip_finish(cat, &c) != 0)
			_exit(3);
		raise(SIGKILL);	/* no close, no checkpoint */
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	assert_int_equal(vg_catalog_open(&other, path), 0);
	assert_int_equal(vg_catalog_clip_by_path(other, c.path, &got), 0);
	assert_int_equal(got.state, VG_CLIP_COMPLETE);
	assert_int_equal(got.end_us, 9000);
	assert_int_equal(got.frames, 100);
	assert_memory_equal(got.wrapped_key, c.wrapped_key, VG_WRAPPED_KEY_LEN);
	vg_catalog_close(other);
}

static void test_expired_oldest(void **state)
{
	struct fixture *f = *state;
	struct vg_clip rec;
	struct seen s;
	int64_t a1, a2, a3, b1, b2;

	b1 = add_clip(f->cat, "lobby", 50, 250);
	a1 = add_clip(f->cat, "stairs", 100, 200);
	a3 = add_clip(f->cat, "stairs", 500, 600);
	a2 = add_clip(f->cat, "stairs", 300, 400);
	b2 = add_clip(f->cat, "lobby", 250, 350);
	/* still recording: never offered for deletion */
	make_clip(&rec, "stairs", 0, 0, 9);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &rec), 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_expired(f->cat, "stairs", 400, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.id[0], a1);
	assert_int_equal(s.id[1], a2);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_expired(f->cat, NULL, 350, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.id[0], a1);
	assert_int_equal(s.id[1], b1);
	assert_int_equal(s.id[2], b2);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_expired(f->cat, "stairs", 1000, 1, seen_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], a1);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_oldest(f->cat, 4, seen_fn, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.id[0], a1);
	assert_int_equal(s.id[1], b1);
	assert_int_equal(s.id[2], b2);
	assert_int_equal(s.id[3], a2);

	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_oldest(f->cat, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.id[4], a3);

	/* a shredded clip is still offered, so retention can finish it */
	assert_int_equal(vg_catalog_clip_shred(f->cat, a1), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vg_catalog_expired(f->cat, "stairs", 200, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.id[0], a1);
}

static void test_batch_meta(void **state)
{
	struct fixture *f = *state;
	struct vg_clip c, got;
	char buf[64], tiny[4];

	make_clip(&c, "door", 100, 0, 5);
	assert_int_equal(vg_catalog_begin(f->cat), 0);
	assert_int_equal(vg_catalog_begin(f->cat), -VG_EINVAL);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	assert_int_equal(vg_catalog_clip_get(f->cat, c.id, &got), 0);
	assert_int_equal(vg_catalog_rollback(f->cat), 0);
	assert_int_equal(vg_catalog_clip_get(f->cat, c.id, &got), -VG_ENOENT);
	assert_int_equal(vg_catalog_commit(f->cat), -VG_EINVAL);

	assert_int_equal(vg_catalog_meta_get(f->cat, "device_id", buf, sizeof(buf)), -VG_ENOENT);
	assert_int_equal(vg_catalog_meta_set(f->cat, "device_id", "box-0042"), 0);
	assert_int_equal(vg_catalog_meta_set(f->cat, "catalog.clip_span_max_us", "0"),
			 -VG_EINVAL);
	assert_int_equal(vg_catalog_meta_get(f->cat, "device_id", tiny, sizeof(tiny)), -VG_EINVAL);
	vg_catalog_close(f->cat);
	f->cat = NULL;
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	assert_int_equal(vg_catalog_meta_get(f->cat, "device_id", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "box-0042");
	assert_int_equal(vg_catalog_meta_set(f->cat, "device_id", NULL), 0);
	assert_int_equal(vg_catalog_meta_get(f->cat, "device_id", buf, sizeof(buf)), -VG_ENOENT);
}

/* The file is private, and a database that is not a vigil catalog (or is
 * from a newer vigil) is left alone. */
static void test_foreign_files(void **state)
{
	struct fixture *f = *state;
	struct vg_catalog *other = NULL;
	struct stat st;
	char path[160];
	sqlite3 *db;

	assert_int_equal(stat(f->db, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);

	snprintf(path, sizeof(path), "%s/other.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE notes(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(vg_catalog_open(&other, path), -VG_EFORMAT);
	assert_null(other);
	rm_catalog_files(path);

	assert_int_equal(vg_catalog_open(&other, path), 0);
	vg_catalog_close(other);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 5", NULL, NULL, NULL), SQLITE_OK);
	/* the schema refuses a state outside the three known ones */
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO clips (camera, path, clip_id, start_us,"
					  " end_us, state) VALUES ('a', 'a/b', zeroblob(16), 1, 2,"
					  " 'bogus')", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(vg_catalog_open(&other, path), -VG_EFORMAT);
}

struct writer {
	struct vg_catalog *cat;
	char camera[16];
	int batched;
	int failures;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct vg_clip c;

	for (int i = 0; i < 500; i++) {
		if (w->batched && i % 50 == 0 && vg_catalog_begin(w->cat) != 0)
			w->failures++;
		memset(&c, 0, sizeof(c));
		snprintf(c.camera, sizeof(c.camera), "%s", w->camera);
		snprintf(c.path, sizeof(c.path), "%s/%d.vgc", w->camera, i);
		c.start_us = (int64_t)i * 1000;
		if (vg_catalog_clip_begin(w->cat, &c) != 0)
			w->failures++;
		c.end_us = c.start_us + 1000;
		c.state = VG_CLIP_COMPLETE;
		if (vg_catalog_clip_finish(w->cat, &c) != 0)
			w->failures++;
		if (w->batched && i % 50 == 49 && vg_catalog_commit(w->cat) != 0)
			w->failures++;
	}
	return NULL;
}

struct counter {
	long n;
	int64_t last_id;
	int complete;
};

static int count_fn(const struct vg_clip *c, void *ud)
{
	struct counter *k = ud;

	k->n++;
	k->complete += c->state == VG_CLIP_COMPLETE;
	return 0;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct writer w[2] = {
		{ .cat = f->cat, .camera = "cam-a", .batched = 0 },
		{ .cat = f->cat, .camera = "cam-b", .batched = 1 },
	};
	pthread_t th[2];
	struct counter k = { 0 };

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(w[0].failures, 0);
	assert_int_equal(w[1].failures, 0);
	assert_int_equal(vg_catalog_clips(f->cat, NULL, 0, 0, count_fn, &k), 0);
	assert_int_equal(k.n, 1000);
	assert_int_equal(k.complete, 1000);
	memset(&k, 0, sizeof(k));
	assert_int_equal(vg_catalog_clips(f->cat, "cam-b", 0, 0, count_fn, &k), 0);
	assert_int_equal(k.n, 500);
}

/* ---- export requests awaiting a second person (schema 3) ---- */

struct waiting {
	int n;
	int64_t id[8];
	char requester[8][VG_CATALOG_LOGIN_LEN];
	int64_t created[8];
};

static int waiting_fn(int64_t id, const char *requester, int64_t created_us, void *ud)
{
	struct waiting *w = ud;

	assert_true(w->n < 8);
	w->id[w->n] = id;
	snprintf(w->requester[w->n], sizeof(w->requester[0]), "%s", requester);
	w->created[w->n] = created_us;
	w->n++;
	return 0;
}

static struct waiting list_waiting(struct vg_catalog *cat)
{
	struct waiting w;

	memset(&w, 0, sizeof(w));
	assert_int_equal(vg_catalog_export_requests_waiting(cat, waiting_fn, &w), 0);
	return w;
}

/* One row of export_requests as the file has it, read behind the API. */
static void raw_request(const char *db_path, int64_t id, char *state, size_t slen,
			char *decided_by, size_t dlen, int64_t *decided_us)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT state, decided_by, decided_us FROM"
					    " export_requests WHERE id = ?1", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(state, slen, "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(decided_by, dlen, "%s", sqlite3_column_type(st, 1) == SQLITE_NULL ? "(null)"
					 : (const char *)sqlite3_column_text(st, 1));
	*decided_us = sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_export_requests(void **state)
{
	struct fixture *f = *state;
	const char *media = "{\"cmd\":\"export\",\"recipient\":\"media\",\"reference\":\"DISC-7\"}";
	const char *dsar = "{\"cmd\":\"export\",\"recipient\":\"data-subject\","
			   "\"reference\":\"DSAR-9\",\"victim_wishes\":\"caf\xc3\xa9 \\\"ok\\\"\"}";
	char requester[VG_CATALOG_LOGIN_LEN], st[16], by[VG_CATALOG_LOGIN_LEN];
	char *json = NULL;
	int64_t a = 0, b = 0, when;
	struct waiting w;

	assert_int_equal(vg_catalog_export_request_add(f->cat, "alice", media, 1000, &a), 0);
	assert_int_equal(vg_catalog_export_request_add(f->cat, "carol", dsar, 2000, &b), 0);
	assert_true(a > 0 && b > a);
	/* nobody and nothing are refused before they reach the file */
	assert_int_equal(vg_catalog_export_request_add(f->cat, "", media, 1, &when), -VG_EINVAL);
	assert_int_equal(vg_catalog_export_request_add(f->cat, "alice", "", 1, &when),
			 -VG_EINVAL);

	w = list_waiting(f->cat);
	assert_int_equal(w.n, 2);
	assert_int_equal(w.id[0], a);
	assert_string_equal(w.requester[0], "alice");
	assert_int_equal(w.created[0], 1000);
	assert_int_equal(w.id[1], b);
	assert_string_equal(w.requester[1], "carol");
	assert_int_equal(w.created[1], 2000);

	/* reading does not decide */
	assert_int_equal(vg_catalog_export_request_get(f->cat, b, &json, requester), 0);
	assert_string_equal(json, dsar);
	assert_string_equal(requester, "carol");
	lib_free(json);
	assert_int_equal(list_waiting(f->cat).n, 2);

	/* the requester cannot take their own request; it keeps waiting */
	assert_int_equal(vg_catalog_export_request_take(f->cat, a, "alice", 3000, &json,
							requester), -VG_ENOENT);
	assert_null(json);
	assert_int_equal(list_waiting(f->cat).n, 2);

	assert_int_equal(vg_catalog_export_request_take(f->cat, a, "bob", 4000, &json, requester),
			 0);
	assert_string_equal(json, media);
	assert_string_equal(requester, "alice");
	lib_free(json);
	json = NULL;
	/* taken once: a second approver gets nothing to run */
	assert_int_equal(vg_catalog_export_request_take(f->cat, a, "dave", 5000, &json, requester),
			 -VG_ENOENT);
	assert_null(json);
	assert_int_equal(vg_catalog_export_request_get(f->cat, a, &json, NULL), -VG_ENOENT);
	assert_int_equal(vg_catalog_export_request_take(f->cat, 999, "bob", 5000, NULL, NULL),
			 -VG_ENOENT);
	w = list_waiting(f->cat);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.id[0], b);

	/* after close and reopen (a restart of vigild) */
	vg_catalog_close(f->cat);
	f->cat = NULL;
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	w = list_waiting(f->cat);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.id[0], b);
	assert_string_equal(w.requester[0], "carol");
	assert_int_equal(w.created[0], 2000);
	raw_request(f->db, a, st, sizeof(st), by, sizeof(by), &when);
	assert_string_equal(st, "approved");
	assert_string_equal(by, "bob");
	assert_int_equal(when, 4000);
	raw_request(f->db, b, st, sizeof(st), by, sizeof(by), &when);
	assert_string_equal(st, "waiting");
	assert_string_equal(by, "(null)");
	assert_int_equal(vg_catalog_export_request_take(f->cat, b, "alice", 6000, &json,
							requester), 0);
	assert_string_equal(json, dsar);
	assert_string_equal(requester, "carol");
	lib_free(json);
	assert_int_equal(list_waiting(f->cat).n, 0);
	/* a new request gets a new number, never a used one */
	assert_int_equal(vg_catalog_export_request_add(f->cat, "alice", media, 7000, &when), 0);
	assert_true(when > b);

	/* withdrawn (by its requester): no longer waiting, cannot be taken or
	 * withdrawn again, and the row says who and when */
	a = when;
	assert_int_equal(vg_catalog_export_request_withdraw(f->cat, a, "alice", 8000), 0);
	assert_int_equal(list_waiting(f->cat).n, 0);
	assert_int_equal(vg_catalog_export_request_take(f->cat, a, "bob", 9000, &json, NULL),
			 -VG_ENOENT);
	assert_null(json);
	assert_int_equal(vg_catalog_export_request_withdraw(f->cat, a, "alice", 9000), -VG_ENOENT);
	assert_int_equal(vg_catalog_export_request_withdraw(f->cat, b, "alice", 9000), -VG_ENOENT);
	raw_request(f->db, a, st, sizeof(st), by, sizeof(by), &when);
	assert_string_equal(st, "withdrawn");
	assert_string_equal(by, "alice");
	assert_int_equal(when, 8000);
}

/* The record cannot be removed or rewritten behind the API's back. */
static void test_export_requests_kept(void **state)
{
	struct fixture *f = *state;
	int64_t id;
	sqlite3 *db;

	assert_int_equal(vg_catalog_export_request_add(f->cat, "alice", "{}", 1, &id), 0);
	assert_int_equal(vg_catalog_export_request_take(f->cat, id, "bob", 2, NULL, NULL), 0);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM export_requests", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE export_requests SET state = 'waiting',"
					  " decided_by = NULL, decided_us = NULL", NULL, NULL,
					  NULL), SQLITE_OK);
	/* nor approved by its requester, nor its text changed while it waits */
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO export_requests (requester,"
					  " created_us, request, state, decided_by, decided_us)"
					  " VALUES ('alice', 1, '{}', 'approved', 'alice', 2)",
					  NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO export_requests (id, requester,"
				      " created_us, request) VALUES (50, 'alice', 1, '{}')",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE export_requests SET request ="
					  " '{\"dest\":\"/elsewhere\"}' WHERE id = 50",
					  NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(list_waiting(f->cat).n, 1);
}

#define N_RACE 200

struct racer {
	const char *db;
	const char *login;
	pthread_barrier_t *go;
	int64_t first, last;
	int taken[N_RACE];
	int failures;
};

/* Each approver on its own connection, as two vigild threads or two
 * processes would be: every request must be taken by exactly one. */
static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct vg_catalog *cat = NULL;
	int rc;

	if (vg_catalog_open(&cat, r->db) != 0)
		r->failures++;
	/* both connections open before either approves anything */
	pthread_barrier_wait(r->go);
	if (cat == NULL)
		return NULL;
	for (int64_t id = r->first; id <= r->last; id++) {
		rc = vg_catalog_export_request_take(cat, id, r->login, id, NULL, NULL);
		if (rc == 0)
			r->taken[id - r->first] = 1;
		else if (rc != -VG_ENOENT)
			r->failures++;
	}
	vg_catalog_close(cat);
	return NULL;
}

static void test_export_request_race(void **state)
{
	struct fixture *f = *state;
	struct racer r[2] = { { .login = "bob" }, { .login = "dave" } };
	pthread_barrier_t go;
	pthread_t th[2];
	int64_t id;

	assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
	for (int i = 0; i < N_RACE; i++) {
		assert_int_equal(vg_catalog_export_request_add(f->cat, "alice", "{}", i, &id), 0);
		if (i == 0)
			r[0].first = id;
	}
	for (int i = 0; i < 2; i++) {
		r[i].db = f->db;
		r[i].go = &go;
		r[i].first = r[0].first;
		r[i].last = id;
		assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&go);
	assert_int_equal(r[0].failures + r[1].failures, 0);
	for (int i = 0; i < N_RACE; i++)
		assert_int_equal(r[0].taken[i] + r[1].taken[i], 1);
	assert_int_equal(list_waiting(f->cat).n, 0);
}

static int64_t user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Version 4 undone: the clips table as versions 1 to 3 made it (no
 * AUTOINCREMENT), without the open-gap index and trigger. */
#define V4_DOWN \
	"CREATE TABLE clips_v3 (id INTEGER PRIMARY KEY, camera TEXT NOT NULL, path TEXT NOT NULL" \
	" UNIQUE, clip_id BLOB NOT NULL, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL," \
	" frames INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, sha256 BLOB," \
	" wrapped_key BLOB, state TEXT NOT NULL DEFAULT 'recording', synthetic INTEGER NOT NULL" \
	" DEFAULT 0, encoder TEXT NOT NULL DEFAULT '', width INTEGER NOT NULL DEFAULT 0," \
	" height INTEGER NOT NULL DEFAULT 0);" \
	" INSERT INTO clips_v3 SELECT * FROM clips; DROP TABLE clips;" \
	" ALTER TABLE clips_v3 RENAME TO clips; DELETE FROM sqlite_sequence;" \
	" CREATE INDEX clips_camera_start ON clips (camera, start_us);" \
	" CREATE INDEX clips_end ON clips (end_us);" \
	" CREATE INDEX clips_open ON clips (state) WHERE state = 'recording';" \
	" CREATE INDEX clips_shredded ON clips (id) WHERE wrapped_key IS NULL;" \
	" DROP INDEX gaps_open; "

/* Turn the fixture's catalog into an older version: today's file minus
 * what the later versions added (sql), then reopen it through the API. */
static void downgrade_and_reopen(struct fixture *f, const char *sql)
{
	sqlite3 *db;

	vg_catalog_close(f->cat);
	f->cat = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
}

static void test_migrate_v2(void **state)
{
	struct fixture *f = *state;
	struct vg_clip got;
	struct vg_hold h, hg;
	struct waiting w;
	int64_t clip, id;

	clip = add_clip(f->cat, "lobby", 1000000, 2000000);
	memset(&h, 0, sizeof(h));
	snprintf(h.camera, sizeof(h.camera), "lobby");
	h.from_us = 1000000;
	h.to_us = 2000000;
	snprintf(h.reason, sizeof(h.reason), "assault");
	snprintf(h.reference, sizeof(h.reference), "CRIME-1");
	snprintf(h.placed_by, sizeof(h.placed_by), "alice");
	assert_int_equal(vg_catalog_hold_insert(f->cat, &h), 0);
	downgrade_and_reopen(f, V4_DOWN "DROP TABLE export_requests; PRAGMA user_version = 2");

	assert_int_equal(user_version(f->db), 4);
	assert_int_equal(vg_catalog_clip_get(f->cat, clip, &got), 0);
	assert_string_equal(got.camera, "lobby");
	assert_int_equal(got.end_us, 2000000);
	assert_int_equal(got.state, VG_CLIP_COMPLETE);
	assert_int_equal(vg_catalog_hold_get(f->cat, h.id, &hg), 0);
	assert_string_equal(hg.reference, "CRIME-1");
	assert_int_equal(list_waiting(f->cat).n, 0);
	assert_int_equal(vg_catalog_export_request_add(f->cat, "alice", "{}", 5, &id), 0);

	/* and it stays version 4, with its rows, when opened again */
	vg_catalog_close(f->cat);
	f->cat = NULL;
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	assert_int_equal(user_version(f->db), 4);
	w = list_waiting(f->cat);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.id[0], id);
	assert_int_equal(vg_catalog_clip_get(f->cat, clip, &got), 0);
}

static void test_migrate_v1(void **state)
{
	struct fixture *f = *state;
	struct vg_clip got;
	struct vg_hold h;
	int64_t clip, id;

	clip = add_clip(f->cat, "door", 1000000, 2000000);
	downgrade_and_reopen(f, V4_DOWN "DROP TABLE export_requests; DROP TABLE holds;"
			     " DROP INDEX clips_shredded; PRAGMA user_version = 1");

	assert_int_equal(user_version(f->db), 4);
	assert_int_equal(vg_catalog_clip_get(f->cat, clip, &got), 0);
	assert_string_equal(got.camera, "door");
	memset(&h, 0, sizeof(h));
	snprintf(h.camera, sizeof(h.camera), "door");
	h.from_us = 1;
	h.to_us = 2;
	snprintf(h.reason, sizeof(h.reason), "x");
	snprintf(h.reference, sizeof(h.reference), "y");
	snprintf(h.placed_by, sizeof(h.placed_by), "alice");
	assert_int_equal(vg_catalog_hold_insert(f->cat, &h), 0);
	assert_int_equal(vg_catalog_export_request_add(f->cat, "alice", "{}", 5, &id), 0);
	assert_int_equal(list_waiting(f->cat).n, 1);
}

/* Schema 4: a clip number is never given to another clip, even when the
 * newest clip is deleted and the catalog reopened (audit rows quote it). */
static void test_ids_never_reused(void **state)
{
	struct fixture *f = *state;
	int64_t a, b, c;

	a = add_clip(f->cat, "stairs", 1000, 2000);
	b = add_clip(f->cat, "stairs", 2000, 3000);
	assert_true(b > a);
	assert_int_equal(vg_catalog_clip_delete(f->cat, b), 0);
	vg_catalog_close(f->cat);
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	c = add_clip(f->cat, "lobby", 3000, 4000);
	assert_true(c > b);
}

static int64_t sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* A version 3 file (clips without AUTOINCREMENT) becomes version 4 with
 * every row, index and trigger, and from then on never reuses an id. */
static void test_migrate_v3(void **state)
{
	struct fixture *f = *state;
	struct vg_clip got;
	int64_t a, b, c, gid;

	a = add_clip(f->cat, "lobby", 1000000, 2000000);
	b = add_clip(f->cat, "lobby", 2000000, 3000000);
	assert_int_equal(vg_catalog_gap_open(f->cat, "lobby", 3000000, "camera lost", &gid), 0);
	downgrade_and_reopen(f, V4_DOWN "PRAGMA user_version = 3");

	assert_int_equal(user_version(f->db), 4);
	assert_int_equal(vg_catalog_clip_get(f->cat, a, &got), 0);
	assert_int_equal(got.end_us, 2000000);
	assert_int_equal(vg_catalog_clip_get(f->cat, b, &got), 0);
	assert_string_equal(got.camera, "lobby");
	assert_int_equal(got.state, VG_CLIP_COMPLETE);
	assert_true(got.has_key);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
			" AND name IN ('clips_camera_span', 'clips_end', 'clips_open',"
			" 'clips_shredded', 'sqlite_autoindex_clips_1', 'gaps_open')"), 6);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE type ="
			" 'trigger' AND tbl_name = 'clips'"), 3);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE"
			" '%AUTOINCREMENT%' AND name = 'clips'"), 1);
	/* the newest clip goes; its number stays taken */
	assert_int_equal(vg_catalog_clip_delete(f->cat, b), 0);
	c = add_clip(f->cat, "lobby", 3500000, 4000000);
	assert_true(c > b);
	/* and the gap left open before the migration was closed by it */
	assert_int_equal(sql_int(f->db, "SELECT to_us FROM gaps WHERE camera = 'lobby'"), 3500000);
}

/* A gap stays open until the camera's next clip begins, which closes it
 * at the clip's start in its own transaction; other cameras' gaps stay
 * open. ensure never opens a second gap; recorded_until says where the
 * camera's record stops. */
static void test_gap_closed_by_next_clip(void **state)
{
	struct fixture *f = *state;
	struct gseen l = { 0 };
	int64_t until = -1;
	int opened = -1;

	assert_int_equal(vg_catalog_recorded_until(f->cat, "door", &until), 0);
	assert_int_equal(until, 0);
	add_clip(f->cat, "door", 1000000, 2000000);
	assert_int_equal(vg_catalog_recorded_until(f->cat, "door", &until), 0);
	assert_int_equal(until, 2000000);
	assert_int_equal(vg_catalog_gap_ensure(f->cat, "door", until, "vigild stopped", &opened), 0);
	assert_int_equal(opened, 1);
	assert_int_equal(vg_catalog_gap_ensure(f->cat, "door", 2500000, "disk full", &opened), 0);
	assert_int_equal(opened, 0);
	assert_int_equal(vg_catalog_gap_ensure(f->cat, "yard", 2500000, "camera lost", &opened), 0);
	assert_int_equal(opened, 1);
	add_clip(f->cat, "door", 9000000, 9500000);
	assert_int_equal(vg_catalog_gaps(f->cat, NULL, 0, 0, gap_fn, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.g[0].camera, "door");
	assert_int_equal(l.g[0].from_us, 2000000);
	assert_int_equal(l.g[0].to_us, 9000000);
	assert_string_equal(l.g[0].reason, "vigild stopped");
	assert_string_equal(l.g[1].camera, "yard");
	assert_int_equal(l.g[1].to_us, 0);
	/* a closed gap ending later than the last clip is where the record stops */
	assert_int_equal(vg_catalog_gap_ensure(f->cat, "door", 9500000, "disk full", &opened), 0);
	add_clip(f->cat, "door", 12000000, 12000000);
	assert_int_equal(vg_catalog_recorded_until(f->cat, "door", &until), 0);
	assert_int_equal(until, 12000000);
}

/* A version 2 file that cannot be migrated is left exactly as it was. */
/* A catalog made before clips_camera_span gets it in place of the old
 * (camera, start_us) index when opened, with every clip still found; and
 * summing a camera's time then reads the index alone. */
static void test_camera_index_replaced(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	sqlite3 *db;
	sqlite3_stmt *st;
	char plan[256] = "";

	add_clip(f->cat, "door", 100, 200);
	add_clip(f->cat, "door", 200, 300);
	vg_catalog_close(f->cat);
	f->cat = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX clips_camera_span; CREATE INDEX "
				      "clips_camera_start ON clips (camera, start_us)", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT group_concat(name) FROM sqlite_schema WHERE"
					    " name LIKE 'clips_camera_%'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "clips_camera_span");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT total(end_us - start_us)"
					    " FROM clips WHERE camera = 'door' AND start_us >= 0"
					    " AND start_us < 1000 AND end_us > 0", -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		snprintf(plan, sizeof(plan), "%s", (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_non_null(strstr(plan, "COVERING INDEX clips_camera_span"));
	assert_int_equal(vg_catalog_clips(f->cat, "door", 0, 0, seen_fn, &s), 0);
	assert_int_equal(s.n, 2);
}

static void test_migrate_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;

	vg_catalog_close(f->cat);
	f->cat = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	/* An index whose name version 3 needs: its table is created, then
	 * the migration fails midway. */
	assert_int_equal(sqlite3_exec(db, V4_DOWN "DROP TABLE export_requests;"
				      " CREATE INDEX export_requests_waiting ON gaps (to_us);"
				      " PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(vg_catalog_open(&f->cat, f->db), -VG_EDB);
	assert_null(f->cat);
	assert_int_equal(user_version(f->db), 2);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "SELECT * FROM export_requests", NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_long_clip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_recording_clip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_clips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_requests_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_request_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_camera_index_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_never_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_closed_by_next_clip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
