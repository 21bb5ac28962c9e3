/*
 * reconcile.c - start-up repair of clips left open by a crash, and a census
 * of rows without files and files without rows.
 */
#define VG_LOG_MODULE "RECON"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/clipmedia.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/reconcile.h"

struct ctx {
	struct vg_catalog *cat;
	const char *data_dir;
	const uint8_t *master;
	struct vg_reconcile_report *rep;
	struct vg_clip *open;	/* open rows collected first, fixed after the walk */
	int n_open, cap_open;
};

static int collect_open(const struct vg_clip *c, void *ud)
{
	struct ctx *x = ud;

	if (x->n_open == x->cap_open) {
		int cap = x->cap_open ? x->cap_open * 2 : 16;
		struct vg_clip *n = realloc(x->open, (size_t)cap * sizeof(*n));

		if (n == NULL)
			return -VG_ENOMEM;
		x->open = n;
		x->cap_open = cap;
	}
	x->open[x->n_open++] = *c;
	return 0;
}

static void recover_one(struct ctx *x, struct vg_clip *c)
{
	char path[1024];
	struct vg_clipmedia_info info;
	uint64_t chunks = 0, bytes = 0;
	struct stat sb;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", x->data_dir, c->path);
	if (stat(path, &sb) < 0) {
		/* The row is written before the first byte of footage, so a
		 * row without a file never held any: remove it. */
		vg_warnx("clip %lld (%s) was open at the crash but has no file; removing the row",
			 (long long)c->id, c->path);
		vg_catalog_clip_delete(x->cat, c->id);
		x->rep->open_missing++;
		return;
	}
	ret = vg_clip_recover(path, x->master, c->wrapped_key, &chunks, &bytes);
	if (ret < 0) {
		vg_errx("clip %lld (%s) cannot be recovered: %s; left as it is for inspection",
			(long long)c->id, c->path, vg_strerror(ret));
		x->rep->unreadable++;
		return;
	}
	ret = vg_clipmedia_measure(path, x->master, c->wrapped_key, &info);
	if (ret < 0 && ret != -VG_ETRUNC)
		vg_warnx("clip %lld (%s): %s after recovery", (long long)c->id, c->path,
			 vg_strerror(ret));
	c->frames = info.frames;
	c->end_us = c->start_us + info.duration_us;
	c->state = VG_CLIP_RECOVERED;
	if (vg_file_sha256(path, c->sha256) == 0 && stat(path, &sb) == 0)
		c->bytes = sb.st_size;
	if (vg_catalog_clip_finish(x->cat, c) == 0) {
		vg_info("recovered clip %lld (%s): %lld frames, %.1f s kept", (long long)c->id,
			c->path, (long long)c->frames, (double)info.duration_us / 1e6);
		x->rep->recovered++;
	}
}

static int check_row(const struct vg_clip *c, void *ud)
{
	struct ctx *x = ud;
	char path[1024];
	struct stat sb;

	if (c->state == VG_CLIP_RECORDING || !c->has_key)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", x->data_dir, c->path);
	if (stat(path, &sb) < 0) {
		vg_errx("clip %lld (%s, camera %s) is in the catalog but its file is missing",
			(long long)c->id, c->path, c->camera);
		x->rep->rows_without_file++;
	}
	return 0;
}

/* Walk DATA_DIR/clips/CAMERA/DAY/ for files the catalog does not know. */
static void walk(struct ctx *x, const char *rel, int depth)
{
	char abs_dir[1024];
	DIR *d;
	struct dirent *e;

	snprintf(abs_dir, sizeof(abs_dir), "%s/%s", x->data_dir, rel);
	d = opendir(abs_dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char sub[1024];
		struct vg_clip c;

		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name);
		if (depth < 2) {
			walk(x, sub, depth + 1);
			continue;
		}
		if (strncmp(e->d_name, ".new-", 5) == 0) {
			/* Created but never catalogued, so never written to. */
			char abs_path[1100];

			snprintf(abs_path, sizeof(abs_path), "%s/%s", abs_dir, e->d_name);
			unlink(abs_path);
			continue;
		}
		if (vg_catalog_clip_by_path(x->cat, sub, &c) == -VG_ENOENT) {
			vg_errx("file %s/%s is not in the catalog; it was not written by this "
				"catalog, or its row was removed: keep it for inspection",
				x->data_dir, sub);
			x->rep->files_without_row++;
		}
	}
	closedir(d);
}

int vg_reconcile(struct vg_catalog *cat, const char *data_dir,
		 const uint8_t master[VG_MASTER_KEY_LEN], struct vg_reconcile_report *rep)
{
	struct ctx x = { .cat = cat, .data_dir = data_dir, .master = master, .rep = rep };
	int ret;

	memset(rep, 0, sizeof(*rep));
	ret = vg_catalog_open_clips(cat, collect_open, &x);
	for (int i = 0; ret == 0 && i < x.n_open; i++)
		recover_one(&x, &x.open[i]);
	free(x.open);
	if (ret < 0)
		return ret;
	ret = vg_catalog_clips(cat, NULL, 0, 0, check_row, &x);
	if (ret < 0)
		return ret;
	walk(&x, "clips", 0);
	if (rep->recovered || rep->open_missing || rep->rows_without_file ||
	    rep->files_without_row || rep->unreadable)
		vg_info("reconcile: %d recovered, %d empty rows removed, %d rows without file, "
			"%d files without row, %d unreadable",
			rep->recovered, rep->open_missing, rep->rows_without_file,
			rep->files_without_row, rep->unreadable);
	return 0;
}
