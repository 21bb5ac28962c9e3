/*
 * export.c - evidence export (format: docs/export-format.md): the entry
 * points, the check of a request, and the flow of one export folder
 * (write, read back, rename). The work is in the files beside it:
 *
 *   export_plan.c       which clips go into which file, and onto which disc
 *   export_read.c       decrypting the clips ahead, in memory only
 *   export_media.c      remuxing (or redacting) one run into an MP4 file
 *   export_documents.c  README.txt, chain of custody, manifest, SHA256SUMS
 *   export_io.c         writing small files, hashing, the read-back pool
 *   export_iso.c        ISO images and sets of discs
 *
 * The threads of a run: two readers decrypt and demux the clips into
 * small bounded queues (in memory only), this thread remuxes and writes
 * (starting writeback every 8 MiB), and two workers check each 8 MiB
 * behind the muxer (its writeback waited for, read back from the medium
 * with O_DIRECT, compared with the page cache's copy) and hash each
 * finished file from the page cache, then fsync it, while the next run is
 * muxed. The moov is written into room reserved for it after ftyp, so
 * every byte is written once (+faststart would move the whole file up at
 * the end); it and the other bytes the muxer writes again are checked
 * again once the file is finished. A video cannot be hashed while it is
 * written: its moov, which comes first, is only known at the end.
 *
 * The read-back after the write (two workers) reads the documents back in
 * full, and any video the medium would not let us read with O_DIRECT
 * (tmpfs on older kernels, some FUSE): their cached pages dropped, read
 * again and hashed against the hash taken when they were written. Of a
 * video checked as written it reads again the first 4 KiB of every 8 MiB,
 * kept as they were read back then: a medium that loses data once it is
 * checked, or lands later writes on earlier ones, is caught there.
 */
#define VG_LOG_MODULE "EXP"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vigil/err.h"
#include "vigil/export.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"

#include "export_impl.h"

/* ---- small helpers ---- */

void exp_progress(struct exp *e, uint64_t add)
{
	pthread_mutex_lock(&e->prog_mu);
	e->done += add;
	if (e->done > e->total)
		e->total = e->done;
	if (e->ctx->progress)
		e->ctx->progress(e->done, e->total, e->ctx->progress_ud);
	pthread_mutex_unlock(&e->prog_mu);
}

void exp_why(struct exp *e, const char *fmt, ...)
{
	va_list ap;

	if (e->res->why[0])	/* keep the first, root cause */
		return;
	va_start(ap, fmt);
	vsnprintf(e->res->why, sizeof(e->res->why), fmt, ap);
	va_end(ap);
	vg_warnx("%s", e->res->why);
}

/* Make an export folder readable by whoever receives it (see the rename).
 * Through descriptors, never following a symlink: the folder may belong to
 * the requester, who could put one there meanwhile. */
static void open_up(int dfd)
{
	int k = dup(dfd);
	DIR *d = k >= 0 ? fdopendir(k) : NULL;
	struct dirent *de;

	if (d == NULL) {
		if (k >= 0)
			close(k);
		return;
	}
	rewinddir(d);	/* a dup shares the offset: start from the top */
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			fchmod(fd, 0644);
		close(fd);
	}
	closedir(d);
	fchmod(dfd, 0755);	/* fails harmlessly on a folder vigild does not own */
}

static double mono_s(void)
{
	return (double)vg_time_mono_us() / 1e6;
}

static void mark_incomplete(struct exp *e, int err)
{
	char path[1300], *buf = NULL;
	int fd;

	if (e->dir_fd < 0)
		return;
	snprintf(path, sizeof(path), "%s/INCOMPLETE.txt", e->dir);
	if (asprintf(&buf,
		     "THIS EXPORT IS INCOMPLETE AND MUST NOT BE USED AS EVIDENCE.\n\n"
		     "Reference: %s\nWhat went wrong: %s (%s)\n\n"
		     "The export stopped before every file was written and checked. Delete\n"
		     "this folder and export again, to another medium if this one is faulty.\n",
		     e->ref, e->res->why[0] ? e->res->why : "unknown", vg_strerror(err)) < 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (vg_write_all(fd, buf, strlen(buf)) == 0)
			fsync(fd);
		close(fd);
	}
	free(buf);
	exp_fsync_path(e->dir, 1);
}

/* ---- the folder export ---- */

/* Before anything is made: DEST/REF must not exist yet (unless vigilctl
 * made the folder: given) and the medium must have about estimate bytes
 * free. */
static int folder_room(struct exp *e, uint64_t estimate, int given)
{
	struct statvfs sv;
	struct stat st;
	int ret;

	if (!given && (stat(e->final_dir, &st) == 0 || stat(e->dir_name, &st) == 0)) {
		exp_why(e, "%s (or its .incomplete folder) already exists", e->final_dir);
		return -VG_EEXIST;
	}
	if ((given ? fstatvfs(e->req->folder_fd, &sv) : statvfs(e->dest, &sv)) < 0) {
		ret = -vg_err_from_errno(errno);
		exp_why(e, "cannot use %s: %s", e->dest, vg_strerror(ret));
		return ret;
	}
	if ((uint64_t)sv.f_bavail * sv.f_frsize < estimate) {
		exp_why(e, "%s has %llu MB free; this export needs about %llu MB", e->dest,
		    (unsigned long long)((uint64_t)sv.f_bavail * sv.f_frsize / 1000000),
		    (unsigned long long)(estimate / 1000000));
		return -VG_ENOSPC;
	}
	return 0;
}

/* Make DEST/REF.incomplete (or take the folder vigilctl made: given) and
 * open it: e->dir_fd, and e->dir, the path every file is made beneath. */
static int folder_open(struct exp *e, int given)
{
	int ret;

	if (given) {
		/* vigilctl made the folder with the requester's rights */
		e->dir_fd = fcntl(e->req->folder_fd, F_DUPFD_CLOEXEC, 3);
	} else if (mkdir(e->dir_name, 0755) == 0) {
		e->dir_fd = open(e->dir_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		ret = -vg_err_from_errno(errno);
		exp_why(e, "cannot create %s: %s", e->dir_name, vg_strerror(ret));
		return ret;
	}
	if (e->dir_fd < 0) {
		ret = -vg_err_from_errno(errno);
		exp_why(e, "cannot open %s: %s", e->dir_name, vg_strerror(ret));
		return ret;
	}
	snprintf(e->dir, sizeof(e->dir), "/proc/self/fd/%d", e->dir_fd);
	snprintf(e->res->path, sizeof(e->res->path), "%s", e->dir_name);
	return 0;
}

/* The reason for the pool's first error, ret, for people. */
static void pool_why(struct exp *e, int ret)
{
	const char *name = e->pool.badf ? e->pool.badf->name : e->pool.bad;

	if (ret == -VG_EAUTH)
		exp_why(e, "%s reads back different from what was written: the medium is faulty "
		    "(%s)", name, vg_strerror(ret));
	else
		exp_why(e, "writing %s failed: %s", name, vg_strerror(ret));
}

/* Write every file into the open folder, each fsynced: the runs' videos
 * (two workers check each as it is written and hash it while the next is
 * muxed), then the documents (pem, fpr: the device key). */
static int folder_write(struct exp *e, const char *pem, const char *fpr)
{
	double t0 = mono_s();
	int ret = exp_pool_start(&e->pool, e, 2);

	for (int i = 0; i < e->nruns && ret == 0; i++)
		ret = exp_run(e, &e->runs[i], 0);
	if (ret == 0) {
		ret = exp_pool_wait(&e->pool);
		if (ret < 0)
			pool_why(e, ret);
	}
	for (int i = 0; i < e->nfiles && ret == 0; i++) {
		if (e->files[i].video) {
			e->res->files++;
			e->res->bytes += e->files[i].size;
			ret = exp_finish_file(e, &e->files[i]);
		}
	}
	if (ret == 0 && e->res->files == 0) {
		exp_why(e, "no footage of these cameras in the requested time range");
		ret = -VG_ENOENT;
	}
	if (ret == 0) {
		exp_list_gaps(e);
		ret = exp_write_custody(e);
	}
	if (ret == 0)
		ret = exp_write_small(e, "device-public-key.pem", pem, strlen(pem));
	if (ret == 0)
		ret = exp_write_readme(e, fpr);
	if (ret == 0)
		ret = exp_write_manifest(e, fpr, pem);
	if (ret == 0)
		ret = exp_write_sums(e);
	if (ret == 0)
		ret = exp_fsync_path(e->dir, 1);
	e->res->write_seconds = mono_s() - t0;
	exp_pool_stop(&e->pool);
	return ret;
}

/* Read back from the medium, two files at a time, what was not checked
 * as it was written, and the blocks sampled from what was. */
static int folder_read_back(struct exp *e)
{
	double t0 = mono_s();
	int ret = exp_pool_start(&e->pool, e, 2);

	for (int i = 0; i < e->nfiles && ret == 0; i++)
		ret = exp_pool_submit(&e->pool, &e->files[i],
				      e->files[i].checked ? J_SPOT : J_READBACK);
	if (ret == 0)
		ret = exp_pool_wait(&e->pool);
	exp_pool_stop(&e->pool);
	e->res->readback_seconds = mono_s() - t0;
	if (ret < 0)
		exp_why(e, "%s reads back different from what was written: the medium is faulty "
		    "(%s)", e->pool.bad, vg_strerror(ret));
	return ret;
}

/* The checked folder, handed over: readable by its recipient, and named
 * DEST/REF (res->path). */
static int folder_release(struct exp *e, int given)
{
	int ret;

	/* vigild runs with umask 077 (its own files are for nobody else); the
	 * medium is for the recipient: files 0644, the folder 0755. */
	open_up(e->dir_fd);
	/* The requester's vigilctl renames its folder once told it is good:
	 * vigild may not write in the folder around it. */
	if (!given && rename(e->dir_name, e->final_dir) < 0) {
		ret = -vg_err_from_errno(errno);
		exp_why(e, "cannot rename the finished folder: %s", vg_strerror(ret));
		return ret;
	}
	snprintf(e->res->path, sizeof(e->res->path), "%s", e->final_dir);
	return 0;
}

int exp_folder(struct exp *e, uint64_t estimate)
{
	char pem[VG_SIGN_PEM_MAX], fpr[VG_SIGN_FPR_HEX_LEN];
	int given = e->req->given && !e->staging;
	int ret;

	e->dir_fd = -1;
	snprintf(e->final_dir, sizeof(e->final_dir), "%s/%s", e->dest, e->ref);
	snprintf(e->dir_name, sizeof(e->dir_name), "%s/%s.incomplete", e->dest, e->ref);
	snprintf(e->res->path, sizeof(e->res->path), "%s", e->final_dir);
	ret = folder_room(e, estimate, given);
	if (ret < 0)
		return ret;
	ret = vg_sign_pubkey_pem(e->ctx->key, pem, sizeof(pem));
	if (ret == 0)
		ret = vg_sign_fingerprint(e->ctx->key, fpr);
	if (ret < 0) {
		exp_why(e, "cannot read the device key: %s", vg_strerror(ret));
		return ret;
	}
	ret = folder_open(e, given);
	if (ret < 0)
		return ret;
	ret = folder_write(e, pem, fpr);
	if (ret == 0)
		ret = folder_read_back(e);
	if (ret == 0)
		ret = folder_release(e, given);
	if (ret < 0) {
		/* the folder keeps its .incomplete name and says why inside */
		exp_pool_stop(&e->pool);
		mark_incomplete(e, ret);
		return ret;
	}
	if (given)
		return 0;
	ret = exp_fsync_path(e->dest, 1);
	if (ret < 0)
		exp_why(e, "fsync of %s failed", e->dest);
	return ret;
}

/* ---- entry points ---- */

static int check_request(const struct vg_export_ctx *ctx, const struct vg_export_request *q)
{
	if (ctx == NULL || q == NULL || ctx->cat == NULL || ctx->data_dir == NULL ||
	    ctx->master == NULL || ctx->key == NULL)
		return -VG_EINVAL;
	if (q->n_cameras < 1 || q->cameras == NULL || q->to_us <= q->from_us ||
	    q->recipient == NULL || q->reference == NULL || q->exporter_login == NULL)
		return -VG_EINVAL;
	if ((q->dest_dir == NULL) == (q->iso_path == NULL))
		return -VG_EINVAL;
	if (q->given && q->dest_dir && q->folder_fd < 0)
		return -VG_EINVAL;
	if (q->given && q->iso_path && (q->staging_fd < 0 || q->n_images < 1 ||
					q->n_images > VG_EXPORT_MAX_DISCS || q->image_fds == NULL))
		return -VG_EINVAL;
	if (q->n_redactions < 0 || (q->n_redactions > 0 && q->redactions == NULL))
		return -VG_EINVAL;
	for (int i = 0; i < q->n_cameras; i++)
		if (q->cameras[i].name == NULL || strlen(q->cameras[i].name) > 32)
			return -VG_EINVAL;
	for (int i = 0; i < q->n_redactions; i++)
		if (!vg_export_rect_sane(&q->redactions[i]))
			return -VG_EINVAL;
	return 0;
}

/* Free what build_runs collected. */
void exp_free_runs(struct exp *e)
{
	for (int i = 0; i < e->nruns; i++)
		free(e->runs[i].clips);
	for (int i = 0; e->files && i < e->nfiles; i++)
		exp_check_free(&e->files[i]);
	free(e->runs);
	free(e->gaps);
	free(e->cgaps);
	free(e->files);
	free(e->clk);
	e->clk = NULL;
	e->nclk = 0;
	e->runs = NULL;
	e->gaps = NULL;
	e->cgaps = NULL;
	e->files = NULL;
	e->nruns = e->ngaps = e->ncgaps = e->nfiles = 0;
}

/* Export one request (a whole folder, or one disc's image). */
int exp_once(struct exp *e)
{
	uint64_t estimate;
	int ret;

	e->dir_fd = -1;
	e->files = calloc(MAX_FILES, sizeof(*e->files));
	if (e->files == NULL)
		return -VG_ENOMEM;
	ret = exp_build_runs(e, &estimate);
	if (ret < 0) {
		exp_why(e, "reading the catalog failed: %s", vg_strerror(ret));
		return ret;
	}
	if (e->nruns == 0) {
		exp_why(e, "no footage of these cameras in the requested time range");
		return -VG_ENOENT;
	}
	/* Written once, read back once (the total grows if the guess was low;
	 * one disc of several counts on from the set's total). */
	if (e->total < e->done + estimate * 2)
		e->total = e->done + estimate * 2;
	estimate += 1024 * 1024;
	if (e->req->iso_path) {
		int k = e->disc_no > 0 ? e->disc_no : 1;

		ret = exp_iso(e, estimate, e->req->given && k <= e->req->n_images ?
				 e->req->image_fds[k - 1] : -1);
	} else {
		snprintf(e->dest, sizeof(e->dest), "%s", e->req->dest_dir);
		ret = exp_folder(e, estimate);
	}
	if (e->dir_fd >= 0)
		close(e->dir_fd);
	e->dir_fd = -1;
	return ret;
}

int vg_export_images_needed(const struct vg_export_ctx *ctx, const struct vg_export_request *req,
			    char *why_out, size_t len)
{
	struct vg_export_result *res = calloc(1, sizeof(*res));
	struct exp e = { 0 };
	uint64_t estimate, limit;
	int ret;

	if (res == NULL)
		return -VG_ENOMEM;
	ret = check_request(ctx, req);
	if (ret < 0 || req->iso_path == NULL) {
		free(res);
		return ret < 0 ? ret : 1;
	}
	e.ctx = ctx;
	e.req = req;
	e.res = res;
	e.dir_fd = -1;
	pthread_mutex_init(&e.prog_mu, NULL);
	limit = req->disc_bytes > 0 ? (uint64_t)req->disc_bytes : (uint64_t)VG_EXPORT_DVD_BYTES;
	ret = exp_build_runs(&e, &estimate);
	if (ret == 0 && e.nruns == 0) {
		exp_why(&e, "no footage of these cameras in the requested time range");
		ret = -VG_ENOENT;
	} else if (ret == 0) {
		int64_t cut[VG_EXPORT_MAX_DISCS + 1];

		ret = exp_plan_discs(&e, limit, cut, VG_EXPORT_MAX_DISCS);
	}
	if (ret < 0 && why_out)
		snprintf(why_out, len, "%s", res->why[0] ? res->why : vg_strerror(ret));
	exp_free_runs(&e);
	pthread_mutex_destroy(&e.prog_mu);
	free(res);
	return ret;
}

int vg_export_run(const struct vg_export_ctx *ctx, const struct vg_export_request *req,
		  struct vg_export_result *res)
{
	struct exp e = { 0 };
	uint64_t estimate, limit;
	int ret;

	if (res == NULL)
		return -VG_EINVAL;
	memset(res, 0, sizeof(*res));
	ret = check_request(ctx, req);
	if (ret < 0) {
		snprintf(res->why, sizeof(res->why), "malformed export request");
		return ret;
	}
	e.ctx = ctx;
	e.req = req;
	e.res = res;
	e.now_us = vg_time_now_us();
	e.whole_from_us = req->from_us;
	e.whole_to_us = req->to_us;
	pthread_mutex_init(&e.prog_mu, NULL);
	vg_export_folder_name(req->reference, e.ref);
	if (req->iso_path == NULL) {
		ret = exp_once(&e);
		goto out;
	}
	/* An image: does it need more than one disc? */
	limit = req->disc_bytes > 0 ? (uint64_t)req->disc_bytes : (uint64_t)VG_EXPORT_DVD_BYTES;
	ret = exp_build_runs(&e, &estimate);
	if (ret < 0) {
		exp_why(&e, "reading the catalog failed: %s", vg_strerror(ret));
		goto out;
	}
	if (e.nruns == 0) {
		exp_why(&e, "no footage of these cameras in the requested time range");
		ret = -VG_ENOENT;
		goto out;
	}
	{
		int64_t cut[VG_EXPORT_MAX_DISCS + 1];

		ret = exp_plan_discs(&e, limit, cut, VG_EXPORT_MAX_DISCS);
		if (ret < 0)
			goto out;
	}
	if (ret == 1) {
		exp_free_runs(&e);
		e.disc_no = e.disc_of = 1;
		res->discs = 1;
		ret = exp_once(&e);
		snprintf(res->disc_manifest_sha256[0], sizeof(res->disc_manifest_sha256[0]), "%s",
			 res->manifest_sha256);
		goto out;
	}
	e.total = estimate * 2;
	ret = exp_discs(ctx, req, res, &e, limit, estimate);
out:
	if (ret == 0)
		vg_info("exported %d video files, %llu bytes, to %s%s", res->files,
			(unsigned long long)res->bytes, res->path,
			res->discs > 1 ? " and the discs after it" : "");
	exp_free_runs(&e);
	pthread_mutex_destroy(&e.prog_mu);
	return ret;
}

int vg_export_rect_sane(const struct vg_export_rect *r)
{
	return r->x >= 0 && r->y >= 0 && r->x <= VG_EXPORT_PIXELS_MAX &&
	       r->y <= VG_EXPORT_PIXELS_MAX && r->w > 0 && r->h > 0 &&
	       r->w <= VG_EXPORT_PIXELS_MAX && r->h <= VG_EXPORT_PIXELS_MAX &&
	       r->from_us >= 0 && r->to_us >= r->from_us;
}

int vg_export_rect_in_picture(const struct vg_export_rect *r, int width, int height)
{
	return vg_export_rect_sane(r) && width > 0 && height > 0 && r->x < width &&
	       r->y < height;
}

void vg_export_folder_name(const char *reference, char out[VG_EXPORT_REF_MAX])
{
	size_t k = 0;

	for (const char *p = reference ? reference : ""; *p && k < VG_EXPORT_REF_MAX - 1; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '.' || c == '_' || c == '-';

		if (k == 0 && c == '.')
			ok = 0;
		out[k++] = ok ? c : '_';
	}
	out[k] = '\0';
	if (k == 0)
		snprintf(out, VG_EXPORT_REF_MAX, "export");
}

static int read_flag(const char *path)
{
	char b[8] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	return n > 0 ? b[0] == '1' : -1;
}

static int removable(const struct stat *sb);

int vg_export_dest_is_removable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -vg_err_from_errno(errno);
	return removable(&st);
}

int vg_export_fd_is_removable(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -vg_err_from_errno(errno);
	return removable(&st);
}

static int removable(const struct stat *sb)
{
	struct stat st = *sb;
	char p[128];
	int r;

	if (major(st.st_dev) == 0)	/* tmpfs, overlay, NFS: no block device */
		return 0;
	/* A whole disk has "removable" itself; a partition's is its parent's. */
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/removable", major(st.st_dev),
		 minor(st.st_dev));
	r = read_flag(p);
	if (r < 0) {
		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/../removable", major(st.st_dev),
			 minor(st.st_dev));
		r = read_flag(p);
	}
	return r < 0 ? 0 : r;
}
