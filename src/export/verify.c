/*
 * verify.c - an export checked with nothing but what is on the medium.
 *
 * An ISO image is read in place: libisofs imports its directory tree, and
 * each file's bytes are read straight from the image at the file's extents.
 * Nothing is extracted: no copy of the footage ever reaches a temporary file.
 */
#define VG_LOG_MODULE "VFY"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libisofs/libisofs.h>

#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/isofs.h"
#include "vigil/log.h"
#include "vigil/mp4check.h"
#include "vigil/sign.h"
#include "vigil/verify.h"

#define MAX_SUMS 4096
#define SMALL_MAX (16 * 1024 * 1024)
#define ISO_BLOCK 2048

/* One image verified at a time (the data source and tree walk are not
 * written for concurrent use); libisofs itself is shared with the
 * exporter through isofs.h. */
static pthread_mutex_t iso_lock = PTHREAD_MUTEX_INITIALIZER;

struct sum {
	char name[160];
	char hex[65];
	char got[65];
	int have;		/* got is valid */
	int64_t frames;		/* from the manifest, -1 if not given */
};

/* Where the export's files are read from: a folder (dir), or the export
 * folder inside an ISO image (iso, a node of the image read from fd). */
struct vctx {
	const char *dir;
	IsoImage *img;
	IsoDir *iso;
	int fd;
	int notreg;		/* the last vf_open met a FIFO, device or symlink */
	vg_verify_report_fn fn;
	void *ud;
	struct vg_verify_result *res;
	struct sum *sums;
	int nsums;
};

static void note(struct vctx *v, int ok, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void note(struct vctx *v, int ok, const char *file, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ok) {
		v->res->problems++;
		if (v->res->first_bad[0] == '\0')
			snprintf(v->res->first_bad, sizeof(v->res->first_bad), "%s",
				 file[0] ? file : "(export)");
	}
	if (v->fn)
		v->fn(ok, file, msg, v->ud);
}

/*
 * ---- file access: the same reads whether the export is a folder or in an image ----
 * vf_open (by plain name) / vf_pread / vf_close / f.size, and list_names.
 */

/* A run of a file's bytes inside the file read: off..off+len. */
struct extent {
	int64_t off;
	int64_t len;
};

/* One export file open for reading: its bytes are its extents in fd, in
 * order (one extent for a file in a folder; one or more, an image being
 * limited to extents under 4 GiB, for a file in an ISO image). */
struct vfile {
	int fd;
	int own_fd;		/* fd is the file's own (folder), else the image's */
	int64_t size;
	int n;
	struct extent *ext;	/* &one, or allocated (vf_close frees it) */
	struct extent one;
};

static void vf_close(struct vfile *f)
{
	if (f->own_fd && f->fd >= 0)
		close(f->fd);
	if (f->ext != &f->one)
		free(f->ext);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

static int vf_open_dir(struct vctx *v, const char *name, struct vfile *f)
{
	char path[1300];
	struct stat st;

	/* Only regular files, opened once and checked on the descriptor: a
	 * FIFO or device planted in an export folder would otherwise block
	 * the open or the reads forever, and a symlink could point anywhere.
	 * O_NONBLOCK makes the open of a FIFO return at once. */
	snprintf(path, sizeof(path), "%s/%s", v->dir, name);
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (f->fd < 0 && errno == ELOOP)
		v->notreg = 1;
	if (f->fd < 0)
		return v->notreg ? -VG_EFORMAT : -vg_err_from_errno(errno);
	f->own_fd = 1;
	if (fstat(f->fd, &st) < 0) {
		int ret = -vg_err_from_errno(errno);

		vf_close(f);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		v->notreg = 1;
		vf_close(f);
		return -VG_EFORMAT;
	}
	f->size = st.st_size;
	f->one.off = 0;
	f->one.len = st.st_size;
	f->ext = &f->one;
	f->n = 1;
	return 0;
}

/* The file's extents as the image's directory records give them. */
static int vf_open_iso(struct vctx *v, const char *name, struct vfile *f)
{
	struct iso_file_section *sec = NULL;
	IsoNode *node = NULL;
	int n = 0, ret;

	if (iso_image_dir_get_node(v->img, v->iso, name, &node, 1) != 1 || node == NULL)
		return -VG_ENOENT;
	if (iso_node_get_type(node) != LIBISO_FILE)
		return -VG_EFORMAT;
	if (iso_file_get_old_image_sections((IsoFile *)node, &n, &sec, 0) != 1 || n < 0)
		return -VG_EFORMAT;
	f->fd = v->fd;
	f->ext = n > 0 ? calloc((size_t)n, sizeof(*f->ext)) : &f->one;
	if (f->ext == NULL) {
		free(sec);
		return -VG_ENOMEM;
	}
	f->n = n;
	for (int i = 0; i < n; i++) {
		f->ext[i].off = (int64_t)sec[i].block * ISO_BLOCK;
		f->ext[i].len = sec[i].size;
		f->size += sec[i].size;
	}
	free(sec);
	ret = f->size == (int64_t)iso_file_get_size((IsoFile *)node) ? 0 : -VG_EFORMAT;
	if (ret < 0)
		vf_close(f);
	return ret;
}

/* Open the export file name (a plain name: no '/'); vf_close it after. */
static int vf_open(struct vctx *v, const char *name, struct vfile *f)
{
	v->notreg = 0;
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	return v->iso ? vf_open_iso(v, name, f) : vf_open_dir(v, name, f);
}

/* Up to n bytes of the file from off: the count read (short only at the
 * end of the file, or where the image itself ends early), or a negative
 * VG_E* code. */
static ssize_t vf_pread(const struct vfile *f, void *buf, size_t n, int64_t off)
{
	uint8_t *p = buf;
	size_t got = 0;

	if (off < 0)
		return -VG_EINVAL;
	while (got < n && off + (int64_t)got < f->size) {
		int64_t at = off + (int64_t)got, base = 0;
		const struct extent *e = NULL;
		size_t want;
		ssize_t r;

		for (int i = 0; i < f->n; i++) {
			if (at < base + f->ext[i].len) {
				e = &f->ext[i];
				break;
			}
			base += f->ext[i].len;
		}
		if (e == NULL)
			break;
		want = n - got;
		if ((int64_t)want > e->len - (at - base))
			want = (size_t)(e->len - (at - base));
		r = pread(f->fd, p + got, want, (off_t)(e->off + at - base));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -vg_err_from_errno(errno);
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* What is wrong with a file vf_open (or a read) failed on. */
static const char *unreadable(const struct vctx *v)
{
	return v->notreg ? "is not a regular file (a FIFO, device or symbolic link): an export "
			   "holds only plain files, so something was put here"
			 : "missing or unreadable";
}

/* Read a small file whole (NUL-terminated). */
static int slurp(struct vctx *v, const char *name, char **out, size_t *len)
{
	struct vfile f;
	char *buf;
	ssize_t n;
	int ret;

	ret = vf_open(v, name, &f);
	if (ret < 0)
		return ret;
	if (f.size > SMALL_MAX) {
		vf_close(&f);
		return -VG_EFORMAT;
	}
	buf = malloc((size_t)f.size + 1);
	if (buf == NULL) {
		vf_close(&f);
		return -VG_ENOMEM;
	}
	n = vf_pread(&f, buf, (size_t)f.size, 0);
	if (n >= 0 && n < f.size)
		n = -VG_ETRUNC;	/* the image ends inside the file */
	vf_close(&f);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	buf[n] = '\0';
	*out = buf;
	*len = (size_t)n;
	return 0;
}

static int hash_file(struct vctx *v, const char *name, char out[65])
{
	struct vfile f;
	struct vg_sha256 s;
	uint8_t d[VG_SHA256_DIGEST_LEN];
	uint8_t *buf = malloc(1024 * 1024);
	int64_t off = 0;
	int ret;

	if (buf == NULL)
		return -VG_ENOMEM;
	ret = vf_open(v, name, &f);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	vg_sha256_init(&s);
	while (off < f.size) {
		ssize_t n = vf_pread(&f, buf, 1024 * 1024, off);

		if (n < 0) {
			ret = (int)n;
			break;
		}
		if (n == 0) {
			/* the image ends inside the file */
			ret = -VG_ETRUNC;
			break;
		}
		vg_sha256_update(&s, buf, (size_t)n);
		off += n;
	}
	vf_close(&f);
	free(buf);
	if (vg_sha256_final(&s, d) < 0 && ret == 0)
		ret = -VG_ECRYPTO;
	if (ret == 0)
		vg_hex(d, sizeof(d), out);
	return ret;
}

static struct sum *find_sum(struct vctx *v, const char *name)
{
	for (int i = 0; i < v->nsums; i++)
		if (strcmp(v->sums[i].name, name) == 0)
			return &v->sums[i];
	return NULL;
}

static int plain_name(const char *s)
{
	return s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL && strchr(s, '\\') == NULL;
}

static void check_signature(struct vctx *v)
{
	char *pem = NULL, *man = NULL, *sig = NULL;
	size_t plen, mlen, slen;
	struct vg_sign_key *k = NULL;
	uint8_t d[VG_SIGN_DIGEST_LEN];

	if (slurp(v, "device-public-key.pem", &pem, &plen) < 0) {
		note(v, 0, "device-public-key.pem", "%s", unreadable(v));
		goto out;
	}
	if (slurp(v, "manifest.json", &man, &mlen) < 0) {
		note(v, 0, "manifest.json", "%s", unreadable(v));
		goto out;
	}
	if (slurp(v, "manifest.json.sig", &sig, &slen) < 0) {
		note(v, 0, "manifest.json.sig", "%s", unreadable(v));
		goto out;
	}
	if (vg_sign_pubkey_parse(pem, &k) < 0) {
		note(v, 0, "device-public-key.pem", "not an ECDSA P-256 public key");
		goto out;
	}
	vg_sign_fingerprint(k, v->res->fingerprint);
	note(v, 1, "device-public-key.pem",
	     "device key fingerprint %s: compare it with the one the device's owner gives you",
	     v->res->fingerprint);
	vg_sign_sha256(man, mlen, d);
	if (vg_sign_verify(k, d, (const uint8_t *)sig, slen) < 0)
		note(v, 0, "manifest.json.sig",
		     "the signature does not match manifest.json: one of them was changed");
	else
		note(v, 1, "manifest.json.sig", "signature of manifest.json verified");
out:
	vg_sign_key_free(k);
	free(pem);
	free(man);
	free(sig);
}

static void check_sums(struct vctx *v)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len;

	if (slurp(v, "SHA256SUMS", &buf, &len) < 0) {
		note(v, 0, "SHA256SUMS", "%s", unreadable(v));
		return;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct sum *s;
		char *name = line + 66;
		int r;

		if (strlen(line) < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*')) {
			note(v, 0, "SHA256SUMS", "malformed line");
			continue;
		}
		if (!plain_name(name) || v->nsums >= MAX_SUMS || find_sum(v, name)) {
			note(v, 0, "SHA256SUMS", "bad or repeated file name \"%s\"", name);
			continue;
		}
		s = &v->sums[v->nsums++];
		memset(s, 0, sizeof(*s));
		s->frames = -1;
		snprintf(s->name, sizeof(s->name), "%s", name);
		memcpy(s->hex, line, 64);
		s->hex[64] = '\0';
		for (int i = 0; i < 64; i++)
			if (s->hex[i] >= 'A' && s->hex[i] <= 'F')
				s->hex[i] = (char)(s->hex[i] - 'A' + 'a');
		r = hash_file(v, name, s->got);
		v->res->files++;
		if (r < 0) {
			if (v->notreg)
				note(v, 0, name, "%s", unreadable(v));
			else
				note(v, 0, name, "missing or unreadable (%s)", vg_strerror(r));
			continue;
		}
		s->have = 1;
		if (strcmp(s->got, s->hex) != 0)
			note(v, 0, name, "SHA-256 differs from SHA256SUMS: the file was changed");
		else
			note(v, 1, name, "SHA-256 matches");
	}
	free(buf);
	{
		static const char *const must[] = { "manifest.json", "manifest.json.sig",
						    "device-public-key.pem", "README.txt",
						    "chain-of-custody.json" };

		for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
			if (find_sum(v, must[i]) == NULL)
				note(v, 0, must[i], "not listed in SHA256SUMS");
	}
}

/* Every file the manifest lists must be in SHA256SUMS with the same hash. */
static void check_manifest(struct vctx *v)
{
	json_object *root = NULL, *files;
	json_tokener *tok = json_tokener_new();
	char *buf = NULL;
	size_t n;

	/* Parsed from the bytes read like every other file's, as
	 * json_object_from_file would parse them. */
	if (tok && slurp(v, "manifest.json", &buf, &n) == 0 && n <= INT32_MAX)
		root = json_tokener_parse_ex(tok, buf, (int)n);
	json_tokener_free(tok);
	free(buf);
	if (root == NULL) {
		note(v, 0, "manifest.json", "not valid JSON");
		return;
	}
	if (!json_object_object_get_ex(root, "files", &files) ||
	    !json_object_is_type(files, json_type_array)) {
		note(v, 0, "manifest.json", "has no file list");
		json_object_put(root);
		return;
	}
	n = json_object_array_length(files);
	for (size_t i = 0; i < n; i++) {
		json_object *f = json_object_array_get_idx(files, i), *jn, *jh, *jf;
		const char *name, *h;
		struct sum *s;

		if (!json_object_object_get_ex(f, "name", &jn) ||
		    !json_object_object_get_ex(f, "sha256", &jh)) {
			note(v, 0, "manifest.json", "file entry %zu lacks a name or hash", i);
			continue;
		}
		name = json_object_get_string(jn);
		h = json_object_get_string(jh);
		s = find_sum(v, name);
		if (s == NULL) {
			note(v, 0, name, "listed in manifest.json but not in SHA256SUMS");
			continue;
		}
		if (json_object_object_get_ex(f, "frames", &jf))
			s->frames = json_object_get_int64(jf);
		if (!s->have || strcasecmp(h, s->got) != 0)
			note(v, 0, name, "SHA-256 differs from manifest.json");
	}
	json_object_put(root);
}

/* Call fn with the name of every entry of the export folder (on disk:
 * "." and ".." too); < 0 if the folder cannot be listed. */
static int list_names(struct vctx *v, void (*fn)(struct vctx *v, const char *name))
{
	IsoDirIter *it = NULL;
	IsoNode *node;
	struct dirent *de;
	DIR *d;

	if (v->iso) {
		if (iso_dir_get_children(v->iso, &it) != 1)
			return -VG_EIO;
		while (iso_dir_iter_next(it, &node) == 1)
			fn(v, iso_node_get_name(node));
		iso_dir_iter_free(it);
		return 0;
	}
	d = opendir(v->dir);
	if (d == NULL)
		return -vg_err_from_errno(errno);
	for (;;) {
		de = readdir(d);
		if (de == NULL)
			break;
		fn(v, de->d_name);
	}
	closedir(d);
	return 0;
}

static void check_extra_name(struct vctx *v, const char *name)
{
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "SHA256SUMS") == 0)
		return;
	if (find_sum(v, name) == NULL)
		note(v, 0, name, "is not part of the export (not in SHA256SUMS)");
}

/* Nothing in the folder that the export did not put there. */
static void check_extra(struct vctx *v)
{
	if (list_names(v, check_extra_name) < 0)
		note(v, 0, "", "cannot list the folder");
}

static ssize_t vf_read_cb(void *ud, void *buf, size_t n, int64_t off)
{
	return vf_pread(ud, buf, n, off);
}

/* The video's structure (mp4check.h), not its pictures decoded: the
 * hashes and the signature already say the bytes are the recorder's, and
 * vigilctl links no decoder. */
static void check_video(struct vctx *v, struct sum *s)
{
	struct vg_mp4_info info;
	struct vfile f;
	char why[200];
	int ret;

	v->res->videos++;
	ret = vf_open(v, s->name, &f);
	if (ret < 0) {
		note(v, 0, s->name, "cannot be opened (%s)", vg_strerror(ret));
		return;
	}
	ret = vg_mp4_check(vf_read_cb, &f, f.size, &info, why, sizeof(why));
	vf_close(&f);
	if (ret == -VG_EFORMAT) {
		note(v, 0, s->name, "is not a well-formed MP4: %s", why);
		return;
	}
	if (ret < 0) {
		note(v, 0, s->name, "cannot be read (%s)", vg_strerror(ret));
		return;
	}
	v->res->frames += info.pictures;
	if (s->frames >= 0 && info.pictures != s->frames)
		note(v, 0, s->name, "holds %lld pictures, manifest.json says %lld",
		     (long long)info.pictures, (long long)s->frames);
	else
		note(v, 1, s->name, "well-formed MP4: %lld pictures, starting at a keyframe",
		     (long long)info.pictures);
}

static int verify_dir(struct vctx *v)
{
	v->sums = calloc(MAX_SUMS, sizeof(*v->sums));
	if (v->sums == NULL)
		return -VG_ENOMEM;
	/* Hashes first, so that a changed file is named before the signature
	 * check reports the manifest and its signature as disagreeing. */
	check_sums(v);
	check_manifest(v);
	check_signature(v);
	check_extra(v);
	for (int i = 0; i < v->nsums; i++) {
		size_t l = strlen(v->sums[i].name);

		if (l > 4 && strcasecmp(v->sums[i].name + l - 4, ".mp4") == 0 && v->sums[i].have)
			check_video(v, &v->sums[i]);
	}
	free(v->sums);
	return v->res->problems ? -VG_EAUTH : 0;
}

/* ---- an ISO image, read in place ---- */

/* libisofs reads the image's directory tree through this, from the same
 * open file the files' bytes are then read from. */
/* open and close: the fd is verify_iso's, open for the whole call */
static int ds_nop(IsoDataSource *src)
{
	(void)src;
	return ISO_SUCCESS;
}

/*
 * The image as libisofs reads it. While the image is imported its reads
 * are budgeted: a well-formed image's directories, path tables and Rock
 * Ridge areas are a part of its blocks, each read a few times, but a
 * hostile one whose directories loop or share their extents makes
 * libisofs walk the same blocks without end (a fuzzed 88 kB image kept
 * `vigilctl verify` busy for over 5 minutes). Past the budget a read
 * fails, and so does the import: the image is refused, not walked.
 */
struct iso_src {
	int fd;
	uint64_t reads;
	uint64_t budget;		/* 0: not counted (after the import) */
};

/* Reads allowed for importing an image of this many blocks. */
#define IMPORT_READS_PER_BLOCK 8
#define IMPORT_READS_MIN 1024

static int ds_read_block(IsoDataSource *src, uint32_t lba, uint8_t *buffer)
{
	struct iso_src *is = src->data;
	size_t got = 0;

	if (is->budget > 0 && ++is->reads > is->budget)
		return (int)ISO_DATA_SOURCE_FAILURE;
	while (got < ISO_BLOCK) {
		ssize_t r = pread(is->fd, buffer + got, ISO_BLOCK - got,
				  (off_t)lba * ISO_BLOCK + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return (int)ISO_DATA_SOURCE_FAILURE;
		got += (size_t)r;
	}
	return ISO_SUCCESS;
}

static void ds_free(IsoDataSource *src)
{
	(void)src;	/* nothing allocated: it lives in verify_iso's frame */
}

/* The export folder in the image: the root or its one folder holding
 * manifest.json. */
static int find_export(IsoImage *img, IsoDir **out)
{
	IsoDir *root = iso_image_get_root(img);
	IsoDirIter *it = NULL;
	IsoNode *node;
	int found = 0;

	if (iso_image_dir_get_node(img, root, "manifest.json", NULL, 1) == 1) {
		*out = root;
		return 0;
	}
	if (iso_dir_get_children(root, &it) != 1)
		return -VG_EIO;
	while (iso_dir_iter_next(it, &node) == 1) {
		if (iso_node_get_name(node)[0] == '.' || iso_node_get_type(node) != LIBISO_DIR)
			continue;
		if (iso_image_dir_get_node(img, (IsoDir *)node, "manifest.json", NULL, 1) == 1) {
			*out = (IsoDir *)node;
			found++;
		}
	}
	iso_dir_iter_free(it);
	return found == 1 ? 0 : -VG_EFORMAT;
}

/* v->img from the image open on v->fd; ds is its data source. */
static int import_image(struct vctx *v, IsoDataSource *ds)
{
	IsoReadOpts *ro = NULL;
	int ret = 0;

	if (iso_image_new("VERIFY", &v->img) < 0 || iso_read_opts_new(&ro, 0) < 0)
		ret = -VG_ENOMEM;
	else if (iso_image_import(v->img, ds, ro, NULL) < 0)
		ret = -VG_EFORMAT;
	if (ro)
		iso_read_opts_free(ro);
	return ret;
}

static int verify_iso(struct vctx *v, const char *path)
{
	IsoDataSource ds = {
		.version = 0, .refcount = 1, .open = ds_nop, .close = ds_nop,
		.read_block = ds_read_block, .free_data = ds_free,
	};
	struct iso_src is = { .fd = -1 };
	struct stat st;
	uint64_t budget;
	int ret;

	ds.data = &is;

	/* O_NONBLOCK: a FIFO given as the image must not hang the check. */
	v->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (v->fd < 0) {
		ret = -vg_err_from_errno(errno);
		note(v, 0, "", "cannot read the ISO image");
		return ret;
	}
	if (fstat(v->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		note(v, 0, "", "is neither an export folder nor an ISO image file (a FIFO or "
			 "device?)");
		close(v->fd);
		v->fd = -1;
		return -VG_EFORMAT;
	}
	pthread_mutex_lock(&iso_lock);
	ret = vg_isofs_get();
	if (ret < 0) {
		note(v, 0, "", "cannot read the ISO image");
		goto out;
	}
	is.fd = v->fd;
	budget = (uint64_t)st.st_size / ISO_BLOCK * IMPORT_READS_PER_BLOCK + IMPORT_READS_MIN;
	is.budget = budget;
	ret = import_image(v, &ds);
	is.budget = 0;
	if (is.reads > budget) {
		/* libisofs may pass over the folders it could not read and
		 * succeed: the image is refused all the same. */
		ret = -VG_EFORMAT;
		note(v, 0, "", "the ISO image's folders loop or repeat (reading it took over %llu "
		     "block reads for %llu blocks): it is not an image vigil wrote",
		     (unsigned long long)budget, (unsigned long long)(st.st_size / ISO_BLOCK));
	} else if (ret < 0) {
		note(v, 0, "", "cannot read the ISO image");
	} else {
		ret = find_export(v->img, &v->iso);
		if (ret < 0)
			note(v, 0, "", "the image holds no export folder");
	}
	if (ret == 0)
		ret = verify_dir(v);
	/* The image's nodes hold ds until the image goes, before ds does. */
	if (v->img)
		iso_image_unref(v->img);
	v->img = NULL;
	v->iso = NULL;
	vg_isofs_put();
out:
	pthread_mutex_unlock(&iso_lock);
	close(v->fd);
	v->fd = -1;
	return ret;
}

int vg_verify_export(const char *path, vg_verify_report_fn report, void *ud,
		     struct vg_verify_result *res)
{
	struct vg_verify_result local;
	struct vctx v = { 0 };
	struct stat st;

	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	v.fn = report;
	v.ud = ud;
	v.res = res;
	v.fd = -1;
	if (path == NULL || stat(path, &st) < 0)
		return -VG_ENOENT;
	if (S_ISDIR(st.st_mode)) {
		v.dir = path;
		return verify_dir(&v);
	}
	return verify_iso(&v, path);
}
