/*
 * export_iso.c - an export as an ISO 9660 image: the folder is staged
 * (a plaintext copy, always removed), written into the image with
 * libisofs, read back and checked; and a request too large for one disc
 * exported as a set of images split by time, each a whole export of its
 * part, none left looking finished if one fails.
 */
#define VG_LOG_MODULE "EXP"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* struct burn_source comes from libisofs.h when libburn's header is absent */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/export.h"
#include "vigil/isofs.h"
#include "vigil/log.h"

#include "export_impl.h"

/* ---- ISO ---- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p) < 0 ? -1 : 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void volume_id(const char *ref, int synthetic, char out[33])
{
	int k = 0;

	/* Test footage says so on the disc's label too. */
	if (synthetic)
		k = snprintf(out, 33, "SYNTHETIC_");
	for (const char *p = ref; *p && k < 32; p++) {
		char c = *p;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		out[k++] = ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_';
	}
	out[k] = '\0';
}

/* The image of the staged folder as a libisofs burn source, *bs (*img,
 * *opts and *bs are the caller's to free, even on failure); -VG_EFORMAT if
 * it would not fit on a disc of limit bytes. */
static int iso_build(struct exp *e, IsoImage **img, IsoWriteOpts **opts, struct burn_source **bs,
		     uint64_t limit)
{
	IsoDir *d = NULL;
	char vol[33], tree[1210];

	/* The staged folder by its descriptor ("/." so that libisofs sees a
	 * folder, not the /proc link): its name could be swapped meanwhile. */
	snprintf(tree, sizeof(tree), "%s/.", e->dir);
	volume_id(e->ref, exp_any_synthetic(e), vol);
	if (iso_image_new(vol, img) < 0 || iso_write_opts_new(opts, 0) < 0)
		return -VG_ENOMEM;
	iso_image_set_volume_id(*img, vol);
	iso_image_set_application_id(*img, "VIGIL EVIDENCE EXPORT");
	iso_tree_set_follow_symlinks(*img, 0);
	iso_tree_set_ignore_hidden(*img, 0);
	if (iso_tree_add_new_dir(iso_image_get_root(*img), e->ref, &d) < 0 ||
	    iso_tree_add_dir_rec(*img, d, tree) < 0) {
		exp_why(e, "cannot add the export folder to the ISO image");
		return -VG_EIO;
	}
	iso_write_opts_set_iso_level(*opts, 3);	/* files over 4 GiB in several extents */
	iso_write_opts_set_rockridge(*opts, 1);
	iso_write_opts_set_joliet(*opts, 1);
	iso_write_opts_set_always_gmt(*opts, 1);
	if (iso_image_create_burn_source(*img, *opts, bs) < 0)
		return -VG_EFORMAT;
	if ((uint64_t)(*bs)->get_size(*bs) > limit) {
		exp_why(e, "the image (%llu MB) came out larger than estimated and does not fit on "
		    "a disc of %llu MB: export a shorter time range",
		    (unsigned long long)((uint64_t)(*bs)->get_size(*bs) / 1000000),
		    (unsigned long long)(limit / 1000000));
		return -VG_EFORMAT;
	}
	return 0;
}

/* The file the image is written to: tmp (ISO.incomplete, made here), or a
 * copy of given_fd if vigilctl made it with the requester's rights (it
 * renames it once told it is good; tmp then names the copy). Returns the
 * descriptor, or a negative code. */
static int iso_open(struct exp *e, int given_fd, char *tmp, size_t len)
{
	int fd, ret;

	if (given_fd >= 0) {
		fd = fcntl(given_fd, F_DUPFD_CLOEXEC, 3);
		snprintf(tmp, len, "/proc/self/fd/%d", fd);
	} else {
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		ret = -vg_err_from_errno(errno);
		exp_why(e, "cannot create %s: %s", tmp, vg_strerror(ret));
		return ret;
	}
	return fd;
}

/* Copy the image from bs into fd, hashing what is written: sha, n bytes.
 * buf holds 64 blocks of 2048 bytes. */
static int iso_copy(struct exp *e, struct burn_source *bs, int fd, unsigned char *buf,
		    uint8_t sha[VG_SHA256_LEN], uint64_t *n)
{
	struct vg_sha256 s;
	int ret = 0;

	vg_sha256_init(&s);
	/* The burn source hands out one 2048-byte block per call (larger reads
	 * come back short); gather 64 of them per write. */
	for (int eof = 0; !eof && ret == 0;) {
		size_t have = 0;

		while (have < 64 * 2048) {
			int r = bs->read_xt(bs, buf + have, 2048);

			if (r < 0)
				ret = -VG_EIO;
			if (r <= 0) {
				eof = 1;
				break;
			}
			have += (size_t)r;
		}
		vg_sha256_update(&s, buf, have);
		*n += have;
		if (ret == 0)
			ret = vg_write_all(fd, buf, have);
		if (ret < 0)
			exp_why(e, "writing the ISO image failed: %s", vg_strerror(ret));
	}
	if (vg_sha256_final(&s, sha) < 0 && ret == 0)
		ret = -VG_ECRYPTO;
	return ret;
}

/* The written image in fd (tmp), n bytes hashing to sha: fsynced, then
 * read back from the medium and compared. */
static int iso_check(struct exp *e, int fd, const char *tmp, const uint8_t sha[VG_SHA256_LEN],
		     uint64_t n)
{
	uint8_t back[VG_SHA256_LEN];
	uint64_t nback = 0;
	int ret = 0;

	if (fsync(fd) < 0)
		ret = -vg_err_from_errno(errno);
	if (ret == 0 && e->ctx->fault && e->ctx->fault(tmp, e->ctx->fault_ud) != 0) {
		exp_why(e, "writing the ISO image failed");
		ret = -VG_EIO;
	}
	if (ret == 0)
		ret = exp_hash_fd(e, fd, 1, tmp, back, &nback);
	if (ret == 0 && (nback != n || !vg_crypto_equal(sha, back, VG_SHA256_LEN))) {
		exp_why(e, "the ISO image reads back different from what was written");
		ret = -VG_EAUTH;
	}
	return ret;
}

/* Our image (not vigilctl's), checked (ret 0) or not: a good one is made
 * readable and renamed from tmp to iso, its folder fsynced. res->path
 * names where the image is. */
static int iso_place(struct exp *e, const char *iso, const char *tmp, int ret)
{
	if (ret == 0 && chmod(tmp, 0644) < 0)
		ret = -vg_err_from_errno(errno);
	if (ret == 0 && rename(tmp, iso) < 0)
		ret = -vg_err_from_errno(errno);
	if (ret == 0) {
		char dir[1100];

		exp_dir_of(iso, dir, sizeof(dir));
		ret = exp_fsync_path(dir, 1);
		snprintf(e->res->path, sizeof(e->res->path), "%s", iso);
	} else {
		snprintf(e->res->path, sizeof(e->res->path), "%s", tmp);
	}
	return ret;
}

/* The staged folder into the image iso (or vigilctl's given_fd): built,
 * written, read back and put in place. */
static int write_iso(struct exp *e, const char *iso, int given_fd, uint64_t limit)
{
	IsoImage *img = NULL;
	IsoWriteOpts *opts = NULL;
	struct burn_source *bs = NULL;
	uint8_t sha[VG_SHA256_LEN];
	unsigned char *buf = malloc(64 * 2048);
	char tmp[1100];
	uint64_t n = 0;
	int fd, ret = 0, inited = 0;

	snprintf(tmp, sizeof(tmp), "%s.incomplete", iso);
	if (buf == NULL)
		return -VG_ENOMEM;
	if (vg_isofs_get() < 0) {
		ret = -VG_EFORMAT;
		goto out;
	}
	inited = 1;
	ret = iso_build(e, &img, &opts, &bs, limit);
	if (ret < 0)
		goto out;
	fd = iso_open(e, given_fd, tmp, sizeof(tmp));
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	ret = iso_copy(e, bs, fd, buf, sha, &n);
	if (ret == 0)
		ret = iso_check(e, fd, tmp, sha, n);
	close(fd);
	if (given_fd >= 0)
		snprintf(e->res->path, sizeof(e->res->path), "%s%s", iso,
			 ret == 0 ? "" : ".incomplete");
	else
		ret = iso_place(e, iso, tmp, ret);
out:
	if (bs) {
		if (bs->free_data)
			bs->free_data(bs);
		free(bs);
	}
	if (opts)
		iso_write_opts_free(opts);
	if (img)
		iso_image_unref(img);
	if (inited)
		vg_isofs_put();
	free(buf);
	return ret;
}

/* Remove a staged folder's files through its descriptor (never a path
 * that could be swapped), then the folder by name in its parent. */
static void rm_staged(int dfd, int parent, const char *name)
{
	int k = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = k >= 0 ? fdopendir(k) : NULL;
	struct dirent *de;

	if (d == NULL) {
		if (k >= 0)
			close(k);
		return;
	}
	rewinddir(d);	/* a dup shares the offset: start from the top */
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dfd, de->d_name, 0);
	closedir(d);
	unlinkat(parent, name, AT_REMOVEDIR);
}

int exp_iso(struct exp *e, uint64_t estimate, int image_fd)
{
	const char *iso = e->req->iso_path;
	uint64_t limit = e->req->disc_bytes > 0 ? (uint64_t)e->req->disc_bytes
						 : (uint64_t)VG_EXPORT_DVD_BYTES;
	char stage[1100], tmp[1120];
	struct stat st;
	int ret;

	snprintf(tmp, sizeof(tmp), "%s.incomplete", iso);
	if (e->req->given) {
		/* stage in the folder vigilctl made beside the image */
		snprintf(stage, sizeof(stage), "/proc/self/fd/%d", e->req->staging_fd);
	} else {
		if (stat(iso, &st) == 0 || stat(tmp, &st) == 0) {
			exp_why(e, "%s (or %s) already exists", iso, tmp);
			return -VG_EEXIST;
		}
		snprintf(stage, sizeof(stage), "%s.staging", iso);
		if (mkdir(stage, 0700) < 0) {
			ret = -vg_err_from_errno(errno);
			exp_why(e, "cannot create %s: %s", stage, vg_strerror(ret));
			return ret;
		}
	}
	snprintf(e->dest, sizeof(e->dest), "%s", stage);
	e->staging = 1;
	/* room for the staged folder and the image beside it */
	ret = exp_folder(e, estimate * 2);
	if (ret == 0)
		ret = write_iso(e, iso, image_fd, limit);
	/* The staged folder is a plaintext copy: never leave it behind. */
	if (e->req->given) {
		if (e->dir_fd >= 0) {
			char name[VG_EXPORT_REF_MAX + 16];

			snprintf(name, sizeof(name), "%s", e->ref);
			rm_staged(e->dir_fd, e->req->staging_fd, name);
			snprintf(name, sizeof(name), "%s.incomplete", e->ref);
			unlinkat(e->req->staging_fd, name, AT_REMOVEDIR);
		}
	} else {
		rm_tree(stage);
	}
	if (ret < 0 && e->req->given)
		snprintf(e->res->path, sizeof(e->res->path), "%s", tmp);
	return ret;
}

void vg_export_disc_path(const char *iso_path, int k, int n, char *out, size_t len)
{
	size_t l = strlen(iso_path);

	if (n <= 1) {
		snprintf(out, len, "%s", iso_path);
		return;
	}
	if (l >= 4 && strcasecmp(iso_path + l - 4, ".iso") == 0)
		l -= 4;
	snprintf(out, len, "%.*s-disc%dof%d.iso", (int)l, iso_path, k, n);
}

/* A disc of the set failed: the discs already made are not the whole
 * export, so none of them may look finished. */
static void abandon_discs(const struct vg_export_request *req, int done, int n)
{
	char path[1100], bad[1120];

	for (int k = 1; k <= done; k++) {
		vg_export_disc_path(req->iso_path, k, n, path, sizeof(path));
		snprintf(bad, sizeof(bad), "%s.incomplete", path);
		if (rename(path, bad) < 0)
			vg_warnx("cannot mark %s incomplete; delete it", path);
	}
}

/* Refuse a set of n discs if any of its images exists already (unless
 * vigilctl made them: given). */
static int discs_absent(const struct vg_export_request *req, struct vg_export_result *res, int n)
{
	char path[1100];

	for (int k = 1; k <= n; k++) {
		vg_export_disc_path(req->iso_path, k, n, path, sizeof(path));
		if (!req->given && access(path, F_OK) == 0) {
			snprintf(res->why, sizeof(res->why), "%s already exists", path);
			return -VG_EEXIST;
		}
	}
	return 0;
}

/* Room for every image, and for one disc's staged folder beside them:
 * checked before the first disc, so a set never stops half-way for want
 * of space. */
static int discs_room(const struct vg_export_request *req, struct vg_export_result *res, int n,
		      uint64_t estimate)
{
	char dir[1100];
	struct statvfs sv;
	uint64_t need = estimate + estimate / (uint64_t)n + 2 * 1024 * 1024;

	exp_dir_of(req->iso_path, dir, sizeof(dir));
	if ((req->given ? fstatvfs(req->staging_fd, &sv) : statvfs(dir, &sv)) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < need) {
		snprintf(res->why, sizeof(res->why), "%s has %llu MB free; these %d disc "
			 "images need about %llu MB", dir,
			 (unsigned long long)((uint64_t)sv.f_bavail * sv.f_frsize / 1000000),
			 n, (unsigned long long)(need / 1000000));
		return -VG_ENOSPC;
	}
	return 0;
}

/* Disc k of n: a whole export of the request's time from cut[k - 1] to
 * cut[k], its result in one. whole keeps the set's progress bar. */
static int export_disc(const struct vg_export_ctx *ctx, const struct vg_export_request *req,
		       struct vg_export_result *one, struct exp *whole, const int64_t *cut,
		       int k, int n)
{
	struct vg_export_request part = *req;
	struct exp e = { 0 };
	char path[1100], ref[VG_EXPORT_REF_MAX + 16];
	int ret;

	part.from_us = cut[k - 1];
	part.to_us = cut[k];
	vg_export_disc_path(req->iso_path, k, n, path, sizeof(path));
	part.iso_path = path;
	memset(one, 0, sizeof(*one));
	e.ctx = ctx;
	e.req = &part;
	e.res = one;
	e.now_us = whole->now_us;
	e.disc_no = k;
	e.disc_of = n;
	e.whole_from_us = req->from_us;
	e.whole_to_us = req->to_us;
	pthread_mutex_init(&e.prog_mu, NULL);
	/* one progress bar for the set */
	e.done = whole->done;
	e.total = whole->total;
	if (n > 1)
		snprintf(ref, sizeof(ref), "%s-disc%dof%d", whole->ref, k, n);
	else
		snprintf(ref, sizeof(ref), "%s", whole->ref);
	vg_export_folder_name(ref, e.ref);
	ret = exp_once(&e);
	whole->done = e.done;
	whole->total = e.total > whole->total ? e.total : whole->total;
	exp_free_runs(&e);
	pthread_mutex_destroy(&e.prog_mu);
	return ret;
}

/* Add disc k's result (one, ret) to the set's res. A failed disc is named
 * in res->why, and the discs before it are marked .incomplete. */
static void tally_disc(const struct vg_export_request *req, struct vg_export_result *res,
		       const struct vg_export_result *one, int k, int n, int ret)
{
	if (k == 1)
		snprintf(res->path, sizeof(res->path), "%s", one->path);
	res->files += one->files;
	res->runs_gaps += one->runs_gaps;
	res->bytes += one->bytes;
	res->write_seconds += one->write_seconds;
	res->readback_seconds += one->readback_seconds;
	if (ret == 0) {
		if (k == 1)
			res->delivered_from_us = one->delivered_from_us;
		res->delivered_to_us = one->delivered_to_us;
		snprintf(res->disc_manifest_sha256[k - 1], sizeof(res->disc_manifest_sha256[0]),
			 "%s", one->manifest_sha256);
		if (k == 1)
			snprintf(res->manifest_sha256, sizeof(res->manifest_sha256), "%s",
				 one->manifest_sha256);
	} else {
		snprintf(res->why, sizeof(res->why), "disc %d of %d: %s%s", k, n, one->why,
			 k > 1 ? " (the discs before it were marked .incomplete)" : "");
		snprintf(res->path, sizeof(res->path), "%s", one->path);
		if (!req->given)	/* else vigilctl renames none of them */
			abandon_discs(req, k - 1, n);
	}
}

int exp_discs(const struct vg_export_ctx *ctx, const struct vg_export_request *req,
	      struct vg_export_result *res, struct exp *whole, uint64_t limit,
	      uint64_t estimate)
{
	int64_t cut[VG_EXPORT_MAX_DISCS + 1];
	struct vg_export_result *one = calloc(1, sizeof(*one));
	int n, ret;

	if (one == NULL)
		return -VG_ENOMEM;
	n = exp_plan_discs(whole, limit, cut, VG_EXPORT_MAX_DISCS);
	if (n < 1) {	/* the caller planned already; this is the same plan */
		free(one);
		return n < 0 ? n : -VG_EINVAL;
	}
	ret = discs_absent(req, res, n);
	if (ret == 0)
		ret = discs_room(req, res, n, estimate);
	if (ret < 0) {
		free(one);
		return ret;
	}
	vg_info("export needs %d discs of %.1f MB: split by time", n, (double)limit / 1e6);
	res->discs = n;
	for (int k = 1; k <= n && ret == 0; k++) {
		ret = export_disc(ctx, req, one, whole, cut, k, n);
		tally_disc(req, res, one, k, n, ret);
	}
	free(one);
	return ret;
}
