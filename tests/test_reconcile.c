/*
 * test_reconcile.c - start-up repair after a crash, split in two jobs:
 * the clips open at the crash (before recording) and the census of rows
 * without files and files without rows (beside recording, in batches),
 * against a real catalog in a temp dir. Finished clips are rows plus
 * files of random bytes; the open clip is a real encrypted clip file
 * abandoned mid-recording, as a power cut leaves it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/clipfile.h"
#include "vigil/err.h"
#include "vigil/reconcile.h"
#include "vigil/sign.h"
#include "vigil/timeutil.h"

#define CAM "porch"
#define DAYDIR "clips/" CAM "/20261129"
/* 2026-11-29T00:00:00Z */
#define T0 INT64_C(1795910400000000)
#define CLIP_US (10 * VG_US_PER_S)

struct fixture {
	char dir[64];
	struct vg_catalog *cat;
	struct vg_sign_key *key;
	struct vg_audit *audit;
	uint8_t master[VG_MASTER_KEY_LEN];
	int64_t ids[16];
	int n;
};

static void abs_of(const struct fixture *f, const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->dir, rel);
}

static void write_file(const char *path, size_t len)
{
	uint8_t buf[256];
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(getrandom(buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static int exists(const struct fixture *f, const char *rel)
{
	char path[512];
	struct stat sb;

	abs_of(f, rel, path, sizeof(path));
	return lstat(path, &sb) == 0;
}

/* A finished clip number k: catalog row (complete, with a key) and, if
 * with_file, its file. Returns the row id. */
static int64_t add_clip(struct fixture *f, int k, int with_file)
{
	struct vg_clip c;
	char path[512];

	memset(&c, 0, sizeof(c));
	snprintf(c.camera, sizeof(c.camera), CAM);
	snprintf(c.path, sizeof(c.path), DAYDIR "/" CAM "-%02d.vgc", k);
	c.clip_id[0] = (uint8_t)k;
	c.start_us = T0 + k * CLIP_US;
	assert_int_equal(getrandom(c.wrapped_key, sizeof(c.wrapped_key), 0),
			 (ssize_t)sizeof(c.wrapped_key));
	snprintf(c.encoder, sizeof(c.encoder), "x264");
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	c.end_us = c.start_us + CLIP_US;
	c.frames = 150;
	c.bytes = 200;
	c.state = VG_CLIP_COMPLETE;
	assert_int_equal(vg_catalog_clip_finish(f->cat, &c), 0);
	if (with_file) {
		abs_of(f, c.path, path, sizeof(path));
		write_file(path, 200);
	}
	f->ids[f->n++] = c.id;
	return c.id;
}

/* Delete clip id the way retention does: shred, unlink, delete the row. */
static void retention_delete(struct fixture *f, int64_t id)
{
	struct vg_clip c;
	char path[512];

	assert_int_equal(vg_catalog_clip_get(f->cat, id, &c), 0);
	assert_int_equal(vg_catalog_clip_shred(f->cat, id), 0);
	abs_of(f, c.path, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(vg_catalog_clip_delete(f->cat, id), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-reconcile.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/catalog.db", f->dir);
	assert_int_equal(vg_catalog_open(&f->cat, path), 0);
	assert_int_equal(vg_sign_key_generate(&f->key), 0);
	snprintf(path, sizeof(path), "%s/audit.db", f->dir);
	assert_int_equal(vg_audit_open(path, f->key, &f->audit), 0);
	abs_of(f, "clips", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	abs_of(f, "clips/" CAM, path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	abs_of(f, DAYDIR, path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(getrandom(f->master, sizeof(f->master), 0), (ssize_t)sizeof(f->master));
	*state = f;
	return 0;
}

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[512];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR)
			rm_tree(sub);
		else
			unlink(sub);
	}
	if (d != NULL)
		closedir(d);
	rmdir(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vg_catalog_close(f->cat);
	vg_audit_close(f->audit);
	vg_sign_key_free(f->key);
	rm_tree(f->dir);
	memset(f->master, 0, sizeof(f->master));
	free(f);
	return 0;
}

/* A clip open at the crash: a real encrypted file with two flushed
 * chunks, abandoned without its final chunk, and its row "recording". */
static int64_t add_open_clip(struct fixture *f, const char *rel)
{
	struct vg_clip_writer *w;
	struct vg_clip c;
	char path[512];
	uint8_t data[1000];

	memset(&c, 0, sizeof(c));
	memset(data, 0x42, sizeof(data));
	snprintf(c.camera, sizeof(c.camera), CAM);
	snprintf(c.path, sizeof(c.path), "%s", rel);
	c.start_us = T0 + 100 * CLIP_US;
	abs_of(f, rel, path, sizeof(path));
	assert_int_equal(vg_clip_writer_open(&w, path, f->master, c.wrapped_key, c.clip_id), 0);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	assert_int_equal(vg_clip_writer_write(w, data, sizeof(data)), 0);
	assert_int_equal(vg_clip_writer_flush(w), 0);
	assert_int_equal(vg_clip_writer_write(w, data, sizeof(data)), 0);
	assert_int_equal(vg_clip_writer_flush(w), 0);
	vg_clip_writer_abandon(w);
	return c.id;
}

/* Job 1 alone: the open clip is recovered, the open row without a file is
 * removed, and finished clips - even one whose file is gone - and stray
 * files are left for the census. */
static void test_open_clips_only(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_report rep;
	struct vg_clip c, before, after;
	int64_t open_id, empty_id, done_id, gone_id;

	done_id = add_clip(f, 1, 1);
	gone_id = add_clip(f, 2, 0);
	open_id = add_open_clip(f, DAYDIR "/" CAM "-open.vgc");
	memset(&c, 0, sizeof(c));
	snprintf(c.camera, sizeof(c.camera), CAM);
	snprintf(c.path, sizeof(c.path), DAYDIR "/" CAM "-never.vgc");
	c.start_us = T0 + 200 * CLIP_US;
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	empty_id = c.id;
	{
		char path[512];

		abs_of(f, DAYDIR "/stray.vgc", path, sizeof(path));
		write_file(path, 10);
		abs_of(f, DAYDIR "/.new-1-" CAM, path, sizeof(path));
		write_file(path, 0);
	}
	assert_int_equal(vg_catalog_clip_get(f->cat, done_id, &before), 0);

	assert_int_equal(vg_reconcile_open_clips(f->cat, NULL, f->dir, f->master, &rep), 0);
	assert_int_equal(rep.recovered, 1);
	assert_int_equal(rep.empty_removed, 1);
	assert_int_equal(rep.unreadable, 0);
	assert_int_equal(rep.rows_without_file, 0);
	assert_int_equal(rep.files_without_row, 0);
	assert_int_equal(rep.rows_checked, 0);
	assert_int_equal(rep.files_checked, 0);

	assert_int_equal(vg_catalog_clip_get(f->cat, open_id, &c), 0);
	assert_int_equal(c.state, VG_CLIP_RECOVERED);
	assert_true(c.bytes > 0);
	assert_int_equal(vg_catalog_clip_get(f->cat, empty_id, &c), -VG_ENOENT);
	/* The finished clips are exactly as they were. */
	assert_int_equal(vg_catalog_clip_get(f->cat, done_id, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(vg_catalog_clip_get(f->cat, gone_id, &c), 0);
	assert_int_equal(c.state, VG_CLIP_COMPLETE);
	assert_true(exists(f, DAYDIR "/stray.vgc"));
	assert_true(exists(f, DAYDIR "/.new-1-" CAM));
}

/* Job 2: a catalogued clip whose file is gone and a file the catalog does
 * not know are reported; the other clips are not; a leftover ".new-" file
 * of another process is removed, this process's (a camera creating a
 * clip) is not. */
static void test_census_finds_problems(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_report rep;
	char path[512], own[64];

	for (int k = 0; k < 5; k++)
		add_clip(f, k, k != 3);
	abs_of(f, DAYDIR "/unknown.vgc", path, sizeof(path));
	write_file(path, 100);
	abs_of(f, DAYDIR "/.new-99999999-" CAM, path, sizeof(path));
	write_file(path, 0);
	snprintf(own, sizeof(own), DAYDIR "/.new-%d-" CAM, (int)getpid());
	abs_of(f, own, path, sizeof(path));
	write_file(path, 0);

	memset(&rep, 0, sizeof(rep));
	rep.recovered = 2;	/* job 1's counts are kept */
	assert_int_equal(vg_reconcile_census(f->cat, f->dir, NULL, &rep), 0);
	assert_int_equal(rep.rows_without_file, 1);
	assert_int_equal(rep.files_without_row, 1);
	assert_int_equal(rep.recovered, 2);
	assert_int_equal(rep.rows_checked, 5);
	assert_int_equal(rep.files_checked, 4 + 1 + 2);
	assert_int_equal(rep.stopped, 0);
	assert_false(exists(f, DAYDIR "/.new-99999999-" CAM));
	assert_true(exists(f, own));
	assert_true(exists(f, DAYDIR "/unknown.vgc"));	/* reported, never deleted */
}

/* A file modified after the census's start time is a camera's new clip
 * whose row is being written: not reported. */
static void test_census_ignores_new_files(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_census_opts o = { .batch = 2 };
	struct vg_reconcile_report rep;
	char path[512];

	add_clip(f, 0, 1);
	add_clip(f, 1, 1);
	o.since_us = vg_time_now_us() - 60 * VG_US_PER_S;	/* check began a minute ago */
	abs_of(f, DAYDIR "/" CAM "-new.vgc", path, sizeof(path));
	write_file(path, 100);

	memset(&rep, 0, sizeof(rep));
	assert_int_equal(vg_reconcile_census(f->cat, f->dir, &o, &rep), 0);
	assert_int_equal(rep.files_checked, 3);
	assert_int_equal(rep.files_without_row, 0);
	assert_int_equal(rep.rows_without_file, 0);
}

/* A stop asked before the census starts ends it after the first batch. */
static void test_census_stops(void **state)
{
	struct fixture *f = *state;
	atomic_int stop;
	struct vg_reconcile_census_opts o = { .batch = 4, .stop = &stop };
	struct vg_reconcile_report rep;

	for (int k = 0; k < 10; k++)
		add_clip(f, k, k != 9);	/* the last clip's file is missing */
	atomic_init(&stop, 1);
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(vg_reconcile_census(f->cat, f->dir, &o, &rep), 0);
	assert_int_equal(rep.stopped, 1);
	assert_int_equal(rep.rows_checked, 4);
	assert_int_equal(rep.files_checked, 0);
	assert_int_equal(rep.rows_without_file, 0);	/* not reached */

	/* Not stopped, the same census reaches the end. */
	atomic_store(&stop, 0);
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(vg_reconcile_census(f->cat, f->dir, &o, &rep), 0);
	assert_int_equal(rep.stopped, 0);
	assert_int_equal(rep.rows_checked, 10);
	assert_int_equal(rep.files_checked, 9);
	assert_int_equal(rep.rows_without_file, 1);
}

/* The sweeper (or a person) acts at the seam between batches. */
struct seam {
	struct fixture *f;
	int calls;
	int at;			/* act at this call (1 = first) */
	int64_t id;		/* this clip */
	int file_only;		/* 1: unlink its file, keep the row */
};

static void seam_act(void *ud)
{
	struct seam *s = ud;
	struct vg_clip c;
	char path[512];

	if (++s->calls != s->at)
		return;
	if (!s->file_only) {
		retention_delete(s->f, s->id);
		return;
	}
	assert_int_equal(vg_catalog_clip_get(s->f->cat, s->id, &c), 0);
	abs_of(s->f, c.path, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
}

static void census_with_seam(struct fixture *f, int batch, struct seam *s,
			     struct vg_reconcile_report *rep)
{
	struct vg_reconcile_census_opts o = { .batch = batch, .between = seam_act,
					      .between_ud = s };

	for (int k = 0; k < 6; k++)
		add_clip(f, k, 1);
	s->f = f;
	s->id = f->ids[1];	/* in the first batch of rows (by id) */
	memset(rep, 0, sizeof(*rep));
	assert_int_equal(vg_reconcile_census(f->cat, f->dir, &o, rep), 0);
	assert_false(exists(f, DAYDIR "/" CAM "-01.vgc"));
}

/* Rows: read in the first of two batches, deleted before they are
 * checked. */
static void test_deleted_during_row_batch(void **state)
{
	struct seam s = { .at = 1 };
	struct vg_reconcile_report rep;

	census_with_seam(*state, 3, &s, &rep);
	assert_int_equal(rep.rows_without_file, 0);
	assert_int_equal(rep.files_without_row, 0);
	assert_int_equal(rep.rows_checked, 6);
}

/* Names: all six read from the folder in one batch (the rows were one
 * batch too: call 1), then one clip deleted before they are looked up. */
static void test_deleted_during_name_batch(void **state)
{
	struct seam s = { .at = 2 };
	struct vg_reconcile_report rep;

	census_with_seam(*state, 8, &s, &rep);
	assert_int_equal(rep.rows_without_file, 0);
	assert_int_equal(rep.files_without_row, 0);
	assert_int_equal(rep.files_checked, 6);
}

/* The same seam still reports a file that really went missing. */
static void test_missing_at_seam_reported(void **state)
{
	struct seam s = { .at = 1, .file_only = 1 };
	struct vg_reconcile_report rep;

	census_with_seam(*state, 3, &s, &rep);
	assert_int_equal(rep.rows_without_file, 1);
	assert_int_equal(rep.files_without_row, 0);
}

/* Both jobs in one call, as before the split. */
static void test_reconcile_both(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_report rep;
	char path[512];

	add_clip(f, 0, 1);
	add_clip(f, 1, 0);
	add_open_clip(f, DAYDIR "/" CAM "-open.vgc");
	abs_of(f, DAYDIR "/unknown.vgc", path, sizeof(path));
	write_file(path, 100);
	assert_int_equal(vg_reconcile(f->cat, NULL, f->dir, f->master, &rep), 0);
	assert_int_equal(rep.recovered, 1);
	assert_int_equal(rep.rows_without_file, 1);
	assert_int_equal(rep.files_without_row, 1);
	assert_int_equal(rep.rows_checked, 2 + 1);	/* the recovered clip too */
}

/* The background census keeps job 1's counts and stops when asked; stop
 * right after start never hangs and leaves no thread behind. */
static void test_bg_stop(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_report first, rep;
	struct vg_reconcile_bg *b;

	for (int k = 0; k < 6; k++)
		add_clip(f, k, 1);
	memset(&first, 0, sizeof(first));
	first.recovered = 3;
	first.unreadable = 1;
	assert_int_equal(vg_reconcile_bg_start(&b, f->cat, NULL, f->dir, vg_time_now_us(),
					       &first), 0);
	vg_reconcile_bg_stop(b, &rep);
	assert_int_equal(rep.recovered, 3);
	assert_int_equal(rep.unreadable, 1);
	assert_int_equal(rep.rows_without_file, 0);
	assert_int_equal(rep.files_without_row, 0);
	/* Either it finished first or it stopped: never half a report of a
	 * finished census. */
	if (!rep.stopped) {
		assert_int_equal(rep.rows_checked, 6);
		assert_int_equal(rep.files_checked, 6);
	}
	vg_reconcile_bg_stop(NULL, NULL);
}

/* Audit rows of one action whose object names clip=ID, or, with id 0,
 * all rows of the action. */
struct audit_count {
	const char *action;
	char needle[64];
	int n;
};

static int count_row(const struct vg_audit_entry *e, void *ud)
{
	struct audit_count *a = ud;

	if (strcmp(e->action, a->action) == 0 && strstr(e->object, a->needle) != NULL)
		a->n++;
	return 0;
}

static int audited(struct fixture *f, const char *action, int64_t id)
{
	struct vg_audit_filter filt;
	struct audit_count a = { .action = action };

	memset(&filt, 0, sizeof(filt));
	if (id > 0)
		snprintf(a.needle, sizeof(a.needle), "clip=%lld ", (long long)id);
	assert_int_equal(vg_audit_query(f->audit, &filt, count_row, &a), 0);
	return a.n;
}

/* An open clip whose writer died before its first chunk: recovery would
 * leave a 0-frame row, so file and row go, audited first; a clip with
 * chunks is recovered, audited first, with its clip id in the row. */
static void test_recovery_audited_and_empty_removed(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_report rep;
	struct vg_clip_writer *w;
	struct vg_clip c, got;
	char path[512], hex[VG_CLIP_ID_HEX_LEN], needle[64];
	struct vg_audit_filter filt;
	struct audit_count a = { .action = "clip.recover" };
	int64_t open_id, empty_id;

	open_id = add_open_clip(f, DAYDIR "/" CAM "-open.vgc");
	memset(&c, 0, sizeof(c));
	snprintf(c.camera, sizeof(c.camera), CAM);
	snprintf(c.path, sizeof(c.path), DAYDIR "/" CAM "-empty.vgc");
	c.start_us = T0 + 300 * CLIP_US;
	abs_of(f, c.path, path, sizeof(path));
	assert_int_equal(vg_clip_writer_open(&w, path, f->master, c.wrapped_key, c.clip_id), 0);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	vg_clip_writer_abandon(w);
	empty_id = c.id;

	assert_int_equal(vg_reconcile_open_clips(f->cat, f->audit, f->dir, f->master, &rep), 0);
	assert_int_equal(rep.recovered, 1);
	assert_int_equal(rep.empty_removed, 1);
	assert_int_equal(rep.not_audited, 0);
	assert_int_equal(vg_catalog_clip_get(f->cat, open_id, &got), 0);
	assert_int_equal(got.state, VG_CLIP_RECOVERED);
	assert_int_equal(vg_catalog_clip_get(f->cat, empty_id, &got), -VG_ENOENT);
	assert_false(exists(f, DAYDIR "/" CAM "-empty.vgc"));
	assert_int_equal(audited(f, "clip.recover", open_id), 1);
	assert_int_equal(audited(f, "clip.recover", empty_id), 1);
	assert_int_equal(audited(f, "clip.remove_empty", empty_id), 1);
	assert_int_equal(audited(f, "clip.remove_empty", open_id), 0);
	/* the row names the clip id as well as the row id */
	assert_int_equal(vg_catalog_clip_get(f->cat, open_id, &got), 0);
	vg_clip_id_hex(got.clip_id, hex);
	snprintf(needle, sizeof(needle), "clip_id=%s", hex);
	memcpy(a.needle, needle, sizeof(a.needle));
	memset(&filt, 0, sizeof(filt));
	assert_int_equal(vg_audit_query(f->audit, &filt, count_row, &a), 0);
	assert_int_equal(a.n, 1);
}

/* One clip given up by its writer while recording goes on. */
static void test_reconcile_one_clip(void **state)
{
	struct fixture *f = *state;
	struct vg_clip got;
	int64_t open_id, done_id;

	open_id = add_open_clip(f, DAYDIR "/" CAM "-open.vgc");
	done_id = add_clip(f, 1, 1);
	assert_int_equal(vg_reconcile_clip(f->cat, f->audit, f->dir, f->master, open_id, &got), 0);
	assert_int_equal(got.state, VG_CLIP_RECOVERED);
	assert_int_equal(got.id, open_id);
	assert_int_equal(vg_reconcile_clip(f->cat, f->audit, f->dir, f->master, done_id, NULL),
			 -VG_EINVAL);
	assert_int_equal(audited(f, "clip.recover", open_id), 1);
	assert_int_equal(audited(f, "clip.recover", done_id), 0);
}

/* A file holding a clip header and nothing else, with no row (vigild died
 * between naming and cataloguing it), is removed with an audit row; a
 * header with a chunk after it, or any other stray file, is reported and
 * kept. */
static void test_census_removes_header_only_orphan(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_census_opts o = { .audit = f->audit };
	struct vg_reconcile_report rep;
	struct vg_clip_writer *w;
	uint8_t wrapped[VG_WRAPPED_KEY_LEN], id[VG_CLIP_ID_LEN], data[100];
	char path[512];

	memset(&rep, 0, sizeof(rep));
	memset(data, 1, sizeof(data));
	abs_of(f, DAYDIR "/" CAM "-orphan.vgc", path, sizeof(path));
	assert_int_equal(vg_clip_writer_open(&w, path, f->master, wrapped, id), 0);
	vg_clip_writer_abandon(w);
	abs_of(f, DAYDIR "/" CAM "-chunked.vgc", path, sizeof(path));
	assert_int_equal(vg_clip_writer_open(&w, path, f->master, wrapped, id), 0);
	assert_int_equal(vg_clip_writer_write(w, data, sizeof(data)), 0);
	assert_int_equal(vg_clip_writer_flush(w), 0);
	vg_clip_writer_abandon(w);
	abs_of(f, DAYDIR "/" CAM "-stray.vgc", path, sizeof(path));
	write_file(path, VG_CLIP_HEADER_LEN);
	o.since_us = vg_time_now_us() + VG_US_PER_S;

	assert_int_equal(vg_reconcile_census(f->cat, f->dir, &o, &rep), 0);
	assert_int_equal(rep.orphans_removed, 1);
	assert_int_equal(rep.files_without_row, 2);
	assert_false(exists(f, DAYDIR "/" CAM "-orphan.vgc"));
	assert_true(exists(f, DAYDIR "/" CAM "-chunked.vgc"));
	assert_true(exists(f, DAYDIR "/" CAM "-stray.vgc"));
	assert_int_equal(audited(f, "clip.orphan_removed", 0), 1);
}


/* ---- data-folder hygiene ---- */

/* The clip naming scheme's shape, and what is not a clip's path. */
static void test_clip_path_shape(void **state)
{
	static const char *const good[] = {
		"clips/porch/20261129/porch-20261129T101500Z-0a1b2c3d.vgc", DAYDIR "/porch-01.vgc",
		"clips/cam/c1.vgc", "clips/cam/day5/c1.vgc",
	};
	static const char *const bad[] = {
		"master.key", "victim.bin", "catalog.db", "clips/../master.key",
		"clips/porch/../../master.key", DAYDIR "/.new-1-porch", DAYDIR "/victim.bin",
		"/etc/passwd", "clips//x.vgc", "clips/a/b/c/d.vgc", "clips/", "clips/.vgc",
		"clips/porch/20261129/", "clips/por ch/x.vgc", "clips/porch/x.vgc/", "",
		"audit-evidence/x.vgc", "clips/porch/\xc3\xa9.vgc",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(vg_reconcile_clip_path_ok(good[i]), 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vg_reconcile_clip_path_ok(bad[i]) != 0)
			fail_msg("accepted as a clip path: \"%s\"", bad[i]);
	}
	assert_int_equal(vg_reconcile_clip_path_ok(NULL), 0);
}

static void read_all_of(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* A tampered catalog: open rows naming master.key, and a clip path that
 * is a symbolic link to a file outside clips/. Recovery (which cuts and
 * removes files) touches neither; each row is reported. */
static void test_open_rows_naming_non_clips_left_alone(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_report rep;
	struct vg_clip c;
	char key[512], victim[512], link[512], buf[64];
	const char *rels[] = { "master.key", DAYDIR "/link.vgc" };

	abs_of(f, "master.key", key, sizeof(key));
	abs_of(f, "victim.bin", victim, sizeof(victim));
	abs_of(f, DAYDIR "/link.vgc", link, sizeof(link));
	for (int i = 0; i < 2; i++) {
		int fd = open(i == 0 ? key : victim, O_CREAT | O_EXCL | O_WRONLY, 0600);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "precious", 8), 8);
		close(fd);
	}
	assert_int_equal(symlink("../../../victim.bin", link), 0);
	for (int i = 0; i < 2; i++) {
		memset(&c, 0, sizeof(c));
		snprintf(c.camera, sizeof(c.camera), CAM);
		snprintf(c.path, sizeof(c.path), "%s", rels[i]);
		c.start_us = T0 + (400 + i) * CLIP_US;
		assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	}
	assert_int_equal(vg_reconcile_clip_file_ok(f->dir, DAYDIR "/link.vgc"), -VG_EPERM);
	assert_int_equal(vg_reconcile_clip_file_ok(f->dir, "master.key"), -VG_EPERM);
	assert_int_equal(vg_reconcile_clip_file_ok(f->dir, DAYDIR "/none.vgc"), -VG_ENOENT);

	assert_int_equal(vg_reconcile_open_clips(f->cat, f->audit, f->dir, f->master, &rep), 0);
	assert_int_equal(rep.not_clips, 2);
	assert_int_equal(rep.empty_removed, 0);
	assert_int_equal(rep.recovered, 0);
	read_all_of(key, buf, sizeof(buf));
	assert_string_equal(buf, "precious");
	read_all_of(victim, buf, sizeof(buf));
	assert_string_equal(buf, "precious");
	assert_true(exists(f, DAYDIR "/link.vgc"));
	/* the census reports the finished-row case too, without touching */
	add_clip(f, 1, 1);
}

/* Symbolic links and FIFOs in the clip folders (a clip replaced by a
 * link to the key, a FIFO that would hang a reader, a linked day folder)
 * are moved to quarantine/ after an audit row; what they point at stays. */
static void test_census_quarantines_links_and_fifos(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_report rep;
	struct vg_reconcile_census_opts o = { .audit = f->audit };
	char path[512], target[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	add_clip(f, 1, 1);
	abs_of(f, "master.key", target, sizeof(target));
	write_file(target, 32);
	abs_of(f, DAYDIR "/evil.vgc", path, sizeof(path));
	assert_int_equal(symlink("../../../master.key", path), 0);
	abs_of(f, DAYDIR "/hang.vgc", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	abs_of(f, "clips/" CAM "/20261130", path, sizeof(path));
	assert_int_equal(symlink("/", path), 0);

	memset(&rep, 0, sizeof(rep));
	assert_int_equal(vg_reconcile_census(f->cat, f->dir, &o, &rep), 0);
	assert_int_equal(rep.quarantined, 3);
	assert_int_equal(rep.files_without_row, 0);
	assert_false(exists(f, DAYDIR "/evil.vgc"));
	assert_false(exists(f, DAYDIR "/hang.vgc"));
	assert_false(exists(f, "clips/" CAM "/20261130"));
	assert_true(exists(f, "master.key"));
	assert_true(exists(f, DAYDIR "/" CAM "-01.vgc"));
	abs_of(f, "quarantine", path, sizeof(path));
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 3);
	{
		struct vg_audit_filter filt;
		struct audit_count a = { .action = "clip.quarantined" };

		memset(&filt, 0, sizeof(filt));
		assert_int_equal(vg_audit_query(f->audit, &filt, count_row, &a), 0);
		assert_int_equal(a.n, 3);
	}
}

/* A catalog row naming a file outside the scheme is reported by the
 * census and not counted as a missing file. */
static void test_census_reports_non_clip_rows(void **state)
{
	struct fixture *f = *state;
	struct vg_reconcile_report rep;
	struct vg_clip c;

	memset(&c, 0, sizeof(c));
	snprintf(c.camera, sizeof(c.camera), CAM);
	snprintf(c.path, sizeof(c.path), "victim.bin");
	c.start_us = T0;
	assert_int_equal(getrandom(c.wrapped_key, sizeof(c.wrapped_key), 0),
			 (ssize_t)sizeof(c.wrapped_key));
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	c.end_us = c.start_us + CLIP_US;
	c.state = VG_CLIP_COMPLETE;
	assert_int_equal(vg_catalog_clip_finish(f->cat, &c), 0);
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(vg_reconcile_census(f->cat, f->dir, NULL, &rep), 0);
	assert_int_equal(rep.not_clips, 1);
	assert_int_equal(rep.rows_without_file, 0);
}

/* A 0777 data folder and a 0666 catalog are repaired with a log line;
 * the audit log's own folders are not looked at. */
static void test_data_modes_repaired(void **state)
{
	struct fixture *f = *state;
	char path[512], why[512];
	struct stat sb;

	/* (the fixture made its files with the test's umask) */
	assert_true(vg_reconcile_data_modes(f->dir, NULL, NULL, why, sizeof(why)) >= 0);
	assert_int_equal(chmod(f->dir, 0777), 0);
	abs_of(f, "catalog.db", path, sizeof(path));
	assert_int_equal(chmod(path, 0666), 0);
	abs_of(f, "audit-evidence", path, sizeof(path));
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(chmod(path, 0755), 0);
	why[0] = '\0';
	assert_int_equal(vg_reconcile_data_modes(f->dir, NULL, NULL, why, sizeof(why)), 2);
	assert_int_equal(stat(f->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	abs_of(f, "catalog.db", path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	abs_of(f, "audit-evidence", path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0755);
	/* again: nothing left to repair */
	assert_int_equal(vg_reconcile_data_modes(f->dir, NULL, NULL, why, sizeof(why)), 0);
	/* a symbolic link in place of the catalog is refused */
	abs_of(f, "catalog.db-shm", path, sizeof(path));
	unlink(path);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(vg_reconcile_data_modes(f->dir, NULL, NULL, why, sizeof(why)),
			 -VG_EPERM);
	assert_non_null(strstr(why, "catalog.db-shm"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_clips_only, setup, teardown),
		cmocka_unit_test(test_clip_path_shape),
		cmocka_unit_test_setup_teardown(test_open_rows_naming_non_clips_left_alone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_census_quarantines_links_and_fifos, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_census_reports_non_clip_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_modes_repaired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_census_finds_problems, setup, teardown),
		cmocka_unit_test_setup_teardown(test_census_ignores_new_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_census_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_during_row_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_during_name_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_at_seam_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bg_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_audited_and_empty_removed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_one_clip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_census_removes_header_only_orphan, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
