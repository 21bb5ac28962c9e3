/*
 * test_catalog.c - the clip catalog: round trips, range semantics, gaps,
 * crypto-shredding down to the raw file bytes, crash durability, retention
 * order, batches and concurrent writers.
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
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_long_clip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_clips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
