/*
 * test_retention.c - the retention sweeper against a real catalog in a
 * temp dir, fake clip files (random bytes: no footage) and an injected
 * clock and free-space function.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/err.h"
#include "vigil/hold.h"
#include "vigil/retention.h"
#include "vigil/sign.h"
#include "vigil/timeutil.h"

#define MIN_US (60 * INT64_C(1000000))
#define DAY VG_US_PER_DAY
/* 2026-11-29T00:00:00Z */
#define T0 INT64_C(1795910400000000)

struct fake {
	int64_t rt, mono;
	uint64_t capacity;	/* total; avail = capacity - bytes of files in clips/ */
	char dir[64];
};

struct fixture {
	struct fake clk;
	char db[128];
	struct vg_catalog *cat;
	struct vg_retention *ret;
	struct vg_audit *audit;
	struct vg_sign_key *key;
	int n;
};

static int64_t fake_rt(void *ud)
{
	return ((struct fake *)ud)->rt;
}

static int64_t fake_mono(void *ud)
{
	return ((struct fake *)ud)->mono;
}

static uint64_t du(const char *path)
{
	struct stat sb;
	uint64_t sum = 0;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &sb) != 0)
		return 0;
	if (!S_ISDIR(sb.st_mode))
		return (uint64_t)sb.st_size;
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char sub[512];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		sum += du(sub);
	}
	closedir(d);
	return sum;
}

static int fake_space(void *ud, const char *path, uint64_t *total, uint64_t *avail)
{
	struct fake *f = ud;
	char clips[128];
	uint64_t used;

	snprintf(clips, sizeof(clips), "%s/clips", f->dir);
	used = du(clips);
	*total = f->capacity;
	*avail = used > f->capacity ? 0 : f->capacity - used;
	return 0;
}

static void rm_rf(const char *path)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &sb) != 0)
		return;
	if (S_ISDIR(sb.st_mode)) {
		d = opendir(path);
		while (d != NULL && (e = readdir(d)) != NULL) {
			char sub[512];

			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		if (d != NULL)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static const struct vg_retention_camera cams[] = {
	{ "lift", 31 },
	{ "lobby", 7 },
};

static void new_sweeper(struct fixture *f, int64_t min_free_bytes)
{
	struct vg_retention_params p = {
		.cameras = cams, .n_cameras = 2, .min_free_bytes = min_free_bytes,
		.batch = 3,	/* small, so that tests cross batch boundaries */
	};
	struct vg_retention_clock c = { fake_rt, fake_mono, fake_space, &f->clk };

	vg_retention_free(f->ret);
	f->ret = NULL;
	assert_int_equal(vg_retention_new(&f->ret, f->cat, f->clk.dir, f->audit, &p, &c), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[160];

	assert_non_null(f);
	snprintf(f->clk.dir, sizeof(f->clk.dir), "/tmp/vigil-ret-XXXXXX");
	assert_non_null(mkdtemp(f->clk.dir));
	f->clk.rt = T0;
	f->clk.mono = 1000 * MIN_US;
	f->clk.capacity = UINT64_C(1) << 40;
	snprintf(f->db, sizeof(f->db), "%s/catalog.db", f->clk.dir);
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	assert_int_equal(vg_sign_key_generate(&f->key), 0);
	snprintf(p, sizeof(p), "%s/audit.db", f->clk.dir);
	assert_int_equal(vg_audit_open(p, f->key, &f->audit), 0);
	new_sweeper(f, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vg_retention_free(f->ret);
	vg_catalog_close(f->cat);
	vg_audit_close(f->audit);
	vg_sign_key_free(f->key);
	rm_rf(f->clk.dir);
	free(f);
	return 0;
}

/* A complete (or still recording) clip of camera over [end - 1 min, end)
 * with a file of size bytes; the random wrapped key goes to key if given. */
static int64_t add_clip_full(struct fixture *f, const char *camera, int64_t end, int bytes,
			     int recording, uint8_t key[VG_WRAPPED_KEY_LEN])
{
	struct vg_clip c;
	char dir[256], path[512];
	unsigned char buf[4096];
	int fd, left = bytes;

	memset(&c, 0, sizeof(c));
	snprintf(c.camera, sizeof(c.camera), "%s", camera);
	snprintf(c.path, sizeof(c.path), "clips/%s/day%lld/c%d.vgc", camera,
		 (long long)(end / DAY), f->n++);
	assert_int_equal(getrandom(c.clip_id, sizeof(c.clip_id), 0), (ssize_t)sizeof(c.clip_id));
	assert_int_equal(getrandom(c.wrapped_key, sizeof(c.wrapped_key), 0),
			 (ssize_t)sizeof(c.wrapped_key));
	if (key != NULL)
		memcpy(key, c.wrapped_key, sizeof(c.wrapped_key));
	c.start_us = end - MIN_US;
	snprintf(c.encoder, sizeof(c.encoder), "libx264");
	snprintf(dir, sizeof(dir), "%s/clips", f->clk.dir);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/clips/%s", f->clk.dir, camera);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/clips/%s/day%lld", f->clk.dir, camera,
		 (long long)(end / DAY));
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/%s", f->clk.dir, c.path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	while (left > 0) {
		int n = left < (int)sizeof(buf) ? left : (int)sizeof(buf);

		assert_int_equal(getrandom(buf, (size_t)n, 0), n);
		assert_int_equal(write(fd, buf, (size_t)n), n);
		left -= n;
	}
	close(fd);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	if (!recording) {
		c.end_us = end;
		c.bytes = bytes;
		c.frames = 900;
		c.state = VG_CLIP_COMPLETE;
		assert_int_equal(vg_catalog_clip_finish(f->cat, &c), 0);
	}
	return c.id;
}

static int64_t add_clip(struct fixture *f, const char *camera, int64_t end)
{
	return add_clip_full(f, camera, end, 100, 0, NULL);
}

/* 1 if the clip's row exists and its file too; 0 if both are gone. Fails
 * the test on a half state. */
static int present(struct fixture *f, int64_t id, const char *why)
{
	struct vg_clip c;
	char path[600];
	int rc = vg_catalog_clip_get(f->cat, id, &c);

	if (rc == -VG_ENOENT)
		return 0;
	assert_int_equal(rc, 0);
	snprintf(path, sizeof(path), "%s/%s", f->clk.dir, c.path);
	if (access(path, F_OK) != 0)
		fail_msg("clip %lld (%s): row without file", (long long)id, why);
	assert_true(c.has_key);
	return 1;
}

static int64_t place_hold(struct fixture *f, const char *camera, int64_t from, int64_t to)
{
	struct vg_hold_spec s = {
		.camera = camera, .from_us = from, .to_us = to, .reason = "assault in lift",
		.reference = "CRIME-1", .review_by_us = f->clk.rt + 90 * DAY, .placed_by = "enf1",
	};
	int64_t id = 0;

	assert_int_equal(vg_hold_place(f->cat, &s, f->clk.rt, &id), 0);
	return id;
}

static void sweep(struct fixture *f, struct vg_retention_report *rep)
{
	assert_int_equal(vg_retention_sweep(f->ret, rep), 0);
}

static void test_boundary_per_camera(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_report rep;
	int64_t lift_limit = T0 - 31 * DAY, lobby_limit = T0 - 7 * DAY;
	int64_t lift_before = add_clip(f, "lift", lift_limit - 1);
	int64_t lift_at = add_clip(f, "lift", lift_limit);
	int64_t lift_after = add_clip(f, "lift", lift_limit + 1);
	int64_t lobby_before = add_clip(f, "lobby", lobby_limit - 1);
	int64_t lobby_at = add_clip(f, "lobby", lobby_limit);
	int64_t lobby_after = add_clip(f, "lobby", lobby_limit + 1);
	/* not in the configuration: the default 31 days */
	int64_t attic_8d = add_clip(f, "attic", lobby_limit - 1);
	int64_t attic_before = add_clip(f, "attic", lift_limit - 1);

	sweep(f, &rep);
	assert_false(present(f, lift_before, "lift before"));
	assert_false(present(f, lift_at, "lift at"));
	assert_true(present(f, lift_after, "lift after"));
	assert_false(present(f, lobby_before, "lobby before"));
	assert_false(present(f, lobby_at, "lobby at"));
	assert_true(present(f, lobby_after, "lobby after"));
	assert_true(present(f, attic_8d, "attic 8 days"));
	assert_false(present(f, attic_before, "attic before"));
	assert_int_equal(rep.deleted, 5);
	assert_int_equal(rep.default_cameras, 1);
	assert_false(rep.clock_jump);

	/* a microsecond later the clip just inside the limit goes */
	f->clk.rt += 2;
	f->clk.mono += 2;
	sweep(f, &rep);
	assert_false(present(f, lift_after, "lift after, later"));
	assert_false(present(f, lobby_after, "lobby after, later"));
	assert_true(present(f, attic_8d, "attic 8 days, later"));
}

static void test_hold_partial_overlap(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_report rep;
	int64_t end = T0 - 40 * DAY;
	int64_t held = add_clip(f, "lift", end);
	int64_t other_cam = add_clip(f, "lobby", end);
	int64_t next = add_clip(f, "lift", end + MIN_US);

	/* the hold covers only the last second of the first clip, on lift */
	place_hold(f, "lift", end - VG_US_PER_S, end);
	sweep(f, &rep);
	assert_true(present(f, held, "partly held"));
	assert_false(present(f, other_cam, "same time, other camera"));
	assert_false(present(f, next, "starts where the hold ends"));
	assert_int_equal(rep.held_kept, 1);
}

static void test_release_needs_two_people(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_report rep;
	int64_t end = T0 - 40 * DAY;
	int64_t clip = add_clip(f, "lift", end);
	int64_t hold = place_hold(f, "lift", end - MIN_US, end);

	assert_int_equal(vg_hold_request_release(f->cat, hold, "alice", "case closed", T0), 0);
	assert_int_equal(vg_hold_approve_release(f->cat, hold, "alice", T0), -VG_EPERM);
	assert_int_equal(vg_hold_approve_release(f->cat, hold, "alice", T0), -VG_EPERM);
	sweep(f, &rep);
	assert_true(present(f, clip, "one approver"));

	assert_int_equal(vg_hold_approve_release(f->cat, hold, "bob", T0), 0);
	f->clk.rt += MIN_US;
	f->clk.mono += MIN_US;
	sweep(f, &rep);
	assert_false(present(f, clip, "two approvers"));
	assert_int_equal(rep.held_kept, 0);
}

static void test_recording_untouched(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_report rep;
	int64_t open_clip = add_clip_full(f, "lift", T0 - 100 * DAY, 5000, 1, NULL);

	new_sweeper(f, 0);
	f->clk.capacity = 1000;	/* far below anything: pressure wants it all */
	new_sweeper(f, 900);
	sweep(f, &rep);
	assert_true(present(f, open_clip, "recording"));
	assert_int_equal(rep.deleted + rep.early_deleted, 0);
	assert_true(rep.disk_alarm);
}

/* Occurrences of needle in file path. */
static int file_contains(const char *path, const uint8_t *needle, size_t len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long size;
	int found = 0;

	if (fp == NULL)
		return 0;
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	found = size >= (long)len && memmem(buf, (size_t)size, needle, len) != NULL;
	free(buf);
	return found;
}

static void test_crypto_shredding(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_report rep;
	uint8_t gone[5][VG_WRAPPED_KEY_LEN], kept[VG_WRAPPED_KEY_LEN];
	char wal[160];
	int64_t ids[5];

	for (int i = 0; i < 5; i++)
		ids[i] = add_clip_full(f, "lift", T0 - 40 * DAY + i * MIN_US, 100, 0, gone[i]);
	add_clip_full(f, "lift", T0 - DAY, 100, 0, kept);
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	/* the search works: before the sweep the keys are in the files */
	assert_true(file_contains(f->db, gone[0], sizeof(gone[0])) ||
		    file_contains(wal, gone[0], sizeof(gone[0])));

	sweep(f, &rep);
	assert_int_equal(rep.deleted, 5);
	assert_int_equal(vg_catalog_checkpoint(f->cat), 0);
	for (int i = 0; i < 5; i++) {
		assert_false(present(f, ids[i], "shredded"));
		assert_false(file_contains(f->db, gone[i], sizeof(gone[i])));
		assert_false(file_contains(wal, gone[i], sizeof(gone[i])));
	}
	assert_true(file_contains(f->db, kept, sizeof(kept)));
}

static void test_disk_pressure(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_report rep;
	int64_t a[4], b[4];
	uint64_t total, avail;

	/* 8 recent clips of 10 kB on two cameras, interleaved in time: a0 is
	 * the oldest, then b0, a1, b1, ... None is past retention. */
	for (int i = 0; i < 4; i++) {
		a[i] = add_clip_full(f, "lift", T0 - DAY + 2 * i * MIN_US, 10000, 0, NULL);
		b[i] = add_clip_full(f, "lobby", T0 - DAY + (2 * i + 1) * MIN_US, 10000, 0, NULL);
	}
	place_hold(f, "lift", T0 - DAY - MIN_US, T0 - DAY);	/* keeps a0, the oldest */
	f->clk.capacity = 100000;	/* 80 kB used: 20 kB free */
	new_sweeper(f, 45000);		/* 25 kB short: three clips must go */
	sweep(f, &rep);
	assert_int_equal(rep.deleted, 0);
	assert_int_equal(rep.early_deleted, 3);
	assert_true(present(f, a[0], "held oldest"));
	assert_false(present(f, b[0], "oldest unheld"));
	assert_false(present(f, a[1], "second unheld"));
	assert_false(present(f, b[1], "third unheld"));
	assert_true(present(f, a[2], "fourth unheld"));
	assert_int_equal(fake_space(&f->clk, f->clk.dir, &total, &avail), 0);
	assert_true(avail >= 45000);
	assert_true(avail < 45000 + 10000);	/* within one clip of min_free */
	assert_false(rep.disk_low);
	assert_false(rep.disk_alarm);

	/* hold everything left, then ask for more space than exists */
	place_hold(f, "lift", T0 - 2 * DAY, T0);
	place_hold(f, "lobby", T0 - 2 * DAY, T0);
	new_sweeper(f, 90000);
	sweep(f, &rep);
	assert_int_equal(rep.early_deleted, 0);
	assert_true(rep.disk_alarm);
	assert_true(rep.disk_low);
	/* 50 kB held of 100 kB is not more than the 50% share... */
	assert_int_equal(rep.held_bytes, 50000);
	assert_false(rep.held_warn);
	for (int i = 2; i < 4; i++) {
		assert_true(present(f, a[i], "held a"));
		assert_true(present(f, b[i], "held b"));
	}
	/* ...of a slightly smaller disk it is */
	f->clk.capacity = 99000;
	sweep(f, &rep);
	assert_true(rep.held_warn);
}

static void test_clock_jump_forward(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_report rep;
	int64_t limit = T0 - 31 * DAY;
	int64_t margin = 10 * MIN_US;
	/* due 1 min after the first sweep: inside one interval + margin */
	int64_t due_soon = add_clip(f, "lift", limit + MIN_US);
	/* beyond the allowance for the next three minutes of monotonic time */
	int64_t due_later = add_clip(f, "lift", limit + 3 * MIN_US + margin + 1);
	int64_t recent = add_clip(f, "lift", T0 - DAY);

	sweep(f, &rep);
	assert_false(rep.clock_jump);
	assert_true(present(f, due_soon, "before the jump"));

	/* a minute later by the monotonic clock, ten years by the wall */
	f->clk.mono += MIN_US;
	f->clk.rt += 3652 * DAY + MIN_US;
	sweep(f, &rep);
	assert_true(rep.clock_jump);
	assert_true(rep.jump_us >= 3652 * DAY);
	assert_false(present(f, due_soon, "due within the allowance"));
	assert_true(present(f, due_later, "beyond the allowance"));
	assert_true(present(f, recent, "recent"));

	/* the next sweep is still held to the monotonic reckoning */
	f->clk.mono += MIN_US;
	f->clk.rt += MIN_US;
	sweep(f, &rep);
	assert_true(rep.clock_jump);
	assert_true(present(f, due_later, "still beyond"));

	/* a restart does not forget: the stored trusted time anchors it */
	new_sweeper(f, 0);
	f->clk.mono = 5 * MIN_US;
	sweep(f, &rep);
	assert_true(rep.clock_jump);
	assert_true(present(f, recent, "recent after restart"));

	/* an operator confirms the clock: everything past retention goes */
	vg_retention_accept_clock(f->ret);
	sweep(f, &rep);
	assert_false(rep.clock_jump);
	assert_false(present(f, due_later, "after accepting"));
	assert_false(present(f, recent, "after accepting"));
}

static void test_recover(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_recover_report rr;
	struct vg_clip c;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	char path[600], stray_old[600], stray_new[600];
	int64_t crashed = add_clip(f, "lift", T0 - 40 * DAY);
	int64_t lost = add_clip(f, "lift", T0 - DAY);
	int64_t fine = add_clip(f, "lift", T0 - DAY + MIN_US);
	int fd;

	/* a sweep that died after shredding: key gone, row and file left */
	assert_int_equal(vg_catalog_clip_shred(f->cat, crashed), 0);
	assert_int_equal(vg_catalog_clip_get(f->cat, crashed, &c), 0);
	snprintf(path, sizeof(path), "%s/%s", f->clk.dir, c.path);
	/* a row whose file vanished */
	assert_int_equal(vg_catalog_clip_get(f->cat, lost, &c), 0);
	snprintf(stray_old, sizeof(stray_old), "%s/%s", f->clk.dir, c.path);
	assert_int_equal(unlink(stray_old), 0);
	/* files without rows: one long past retention, one recent */
	snprintf(stray_old, sizeof(stray_old), "%s/clips/lift/day0/stray-old.vgc", f->clk.dir);
	snprintf(stray_new, sizeof(stray_new), "%s/clips/lift/day0/stray-new.vgc", f->clk.dir);
	{
		char d[300];

		snprintf(d, sizeof(d), "%s/clips/lift/day0", f->clk.dir);
		assert_int_equal(mkdir(d, 0700), 0);
	}
	fd = open(stray_old, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(futimens(fd, old), 0);
	close(fd);
	fd = open(stray_new, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	f->clk.rt = T0;

	assert_int_equal(vg_retention_recover(f->ret, 1, &rr), 0);
	assert_int_equal(rr.finished, 1);
	assert_int_equal(vg_catalog_clip_get(f->cat, crashed, &c), -VG_ENOENT);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(rr.rows_without_file, 1);
	assert_int_equal(vg_catalog_clip_get(f->cat, lost, &c), 0);	/* reported, kept */
	assert_int_equal(rr.files_removed, 1);
	assert_int_not_equal(access(stray_old, F_OK), 0);
	assert_int_equal(rr.files_kept, 1);
	assert_int_equal(access(stray_new, F_OK), 0);
	assert_true(present(f, fine, "untouched"));
}

struct rows {
	int n;
	char object[8][256];
	char action[8][32];
	char outcome[8][16];
	char login[8][8];
	int64_t uid[8];
};

static int grab_row(const struct vg_audit_entry *e, void *ud)
{
	struct rows *r = ud;

	assert_true(r->n < 8);
	snprintf(r->object[r->n], sizeof(r->object[0]), "%s", e->object);
	snprintf(r->action[r->n], sizeof(r->action[0]), "%s", e->action);
	snprintf(r->outcome[r->n], sizeof(r->outcome[0]), "%s", e->outcome);
	snprintf(r->login[r->n], sizeof(r->login[0]), "%s", e->login);
	r->uid[r->n] = e->uid;
	r->n++;
	return 0;
}

static void test_audit_rows(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_report rep;
	struct vg_audit_filter filt = { .action = "retention" };
	struct rows rows = { 0 };
	int64_t s1 = T0 - 40 * DAY;

	add_clip(f, "lift", s1);
	add_clip(f, "lift", s1 + MIN_US);
	add_clip(f, "lobby", T0 - 8 * DAY);
	add_clip_full(f, "lobby", T0 - 2 * DAY, 5000, 0, NULL);
	f->clk.capacity = 6000;
	new_sweeper(f, 2000);	/* the 5 kB lobby clip must go early */
	sweep(f, &rep);
	assert_int_equal(rep.deleted, 3);
	assert_int_equal(rep.early_deleted, 1);
	assert_int_equal(vg_audit_query(f->audit, &filt, grab_row, &rows), 0);
	assert_int_equal(rows.n, 3);
	assert_string_equal(rows.action[0], "retention.delete");
	assert_string_equal(rows.object[0], "camera=lift deleted=2 from=2026-10-19T23:59:00.000000Z"
			    " to=2026-10-20T00:01:00.000000Z clips=1-2");
	assert_string_equal(rows.action[1], "retention.delete");
	assert_non_null(strstr(rows.object[1], "camera=lobby deleted=1 "));
	assert_string_equal(rows.action[2], "retention.early_delete");
	assert_non_null(strstr(rows.object[2], "camera=lobby deleted=1 "));
	assert_non_null(strstr(rows.object[2], " days_kept=2.0"));
	for (int i = 0; i < 3; i++) {
		assert_string_equal(rows.outcome[i], "allowed");
		assert_string_equal(rows.login[i], "");
		assert_int_equal(rows.uid[i], -1);
	}
	assert_int_equal(vg_audit_verify(f->audit, NULL, NULL, NULL), 0);
}

/* No row, no deletion: when the audit log refuses the row that names the
 * clips, none of them is shredded, unlinked or deleted (docs/catalog-
 * format.md, "Audit before change"); once it takes rows again they go,
 * each named by its id. */
static void test_no_deletion_without_audit_row(void **state)
{
	struct fixture *f = *state;
	struct vg_retention_report rep;
	struct vg_audit_filter filt = { .action = "retention" };
	struct rows rows = { 0 };
	int64_t a = add_clip(f, "lift", T0 - 40 * DAY);
	int64_t b = add_clip(f, "lift", T0 - 39 * DAY);
	char p[200];
	sqlite3 *db;

	snprintf(p, sizeof(p), "%s/audit.db", f->clk.dir);
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER full BEFORE INSERT ON audit BEGIN"
				      " SELECT RAISE(ABORT, 'disk full'); END", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_not_equal(vg_retention_sweep(f->ret, &rep), 0);
	assert_int_equal(rep.deleted, 0);
	assert_true(present(f, a, "audit refused"));
	assert_true(present(f, b, "audit refused"));

	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER full", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	sweep(f, &rep);
	assert_int_equal(rep.deleted, 2);
	assert_false(present(f, a, "audited"));
	assert_int_equal(vg_audit_query(f->audit, &filt, grab_row, &rows), 0);
	assert_int_equal(rows.n, 1);
	assert_non_null(strstr(rows.object[0], " clips=1-2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_boundary_per_camera, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_partial_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_needs_two_people, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recording_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crypto_shredding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_pressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_jump_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_deletion_without_audit_row, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
