/*
 * reconcile.c - repair of clips left open by a crash (before recording),
 * and a census of rows without files and files without rows (beside
 * recording, in batches; contract and race rules in reconcile.h).
 */
#define VG_LOG_MODULE "RECON"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vigil/clipmedia.h"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/reconcile.h"
#include "vigil/timeutil.h"

#define DEFAULT_BATCH 256
#define NAME_LEN 1024
#define BG_NICE 10
#define BG_REST_US 2000		/* between batches: leaves the disk to the cameras */
/* ioprio_set(2): no glibc wrapper; best-effort class, lowest level. */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_BE 2
#define IOPRIO_CLASS_SHIFT 13

/* ---- audit rows, each written before the change it records ---- */

/* "clip=12 clip_id=... camera=... start=... file=..." */
static void clip_object(const struct vg_clip *c, char *buf, size_t len)
{
	char hex[VG_CLIP_ID_HEX_LEN], start[40];

	vg_clip_id_hex(c->clip_id, hex);
	vg_time_format(c->start_us, start, sizeof(start));
	snprintf(buf, len, "clip=%lld clip_id=%s camera=%s start=%s file=%s", (long long)c->id,
		 hex, c->camera, start, c->path);
}

/* One daemon row; 0 also when there is no audit log (tools, tests). A
 * change whose row cannot be written is not made (the caller leaves things
 * as they are, and the next start tries again). */
static int audit_row(struct vg_audit *a, const char *action, const char *object,
		     const char *reason)
{
	struct vg_audit_entry e = {
		.uid = -1, .login = "", .role = "", .action = action, .object = object,
		.purpose = "", .reference = "", .outcome = "allowed", .reason = reason,
	};

	if (a == NULL)
		return 0;
	if (vg_audit_append(a, &e, NULL) < 0) {
		vg_errx("cannot write the audit row for %s (%s): left as it is until it can be",
			action, object);
		return -VG_EIO;
	}
	return 0;
}

static int audit_clip(struct vg_audit *a, const char *action, const struct vg_clip *c,
		      const char *reason)
{
	char object[800];

	clip_object(c, object, sizeof(object));
	return audit_row(a, action, object, reason);
}

static void fsync_parent(const char *path)
{
	char dir[1100];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) != 0)
			vg_warn("fsync %s", dir);
		close(fd);
	}
}

/* ---- data-folder hygiene ---- */

static int name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

int vg_reconcile_clip_path_ok(const char *rel)
{
	const char *p, *last = NULL;
	int names = 0;
	size_t len;

	if (rel == NULL || strncmp(rel, "clips/", 6) != 0)
		return 0;
	for (p = rel + 6; *p != '\0';) {
		const char *start = p;

		if (*p == '.')
			return 0;	/* ".", "..", hidden and ".new-" files */
		while (*p != '\0' && *p != '/') {
			if (!name_char(*p))
				return 0;
			p++;
		}
		if (p == start)
			return 0;	/* "//" or a trailing '/' */
		names++;
		last = start;
		if (*p == '/')
			p++;
		if (*p == '\0' && p[-1] == '/')
			return 0;
	}
	if (names < 1 || names > 3)
		return 0;
	len = strlen(last);
	return len > 4 && strcmp(last + len - 4, ".vgc") == 0;
}

int vg_reconcile_clip_file_ok(const char *data_dir, const char *rel)
{
	char path[1200];
	struct stat sb;
	size_t base;

	if (!vg_reconcile_clip_path_ok(rel))
		return -VG_EPERM;
	base = (size_t)snprintf(path, sizeof(path), "%s/", data_dir);
	if (base + strlen(rel) >= sizeof(path))
		return -VG_EPERM;
	/* Each folder on the way, then the file, with lstat: a symbolic link
	 * anywhere could lead out of clips/. */
	for (const char *p = rel;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		memcpy(path + base, rel, (size_t)(p - rel));
		path[base + (size_t)(p - rel)] = '\0';
		if (lstat(path, &sb) != 0)
			return errno == ENOENT ? -VG_ENOENT : -VG_EPERM;
		if (*p == '\0')
			return S_ISREG(sb.st_mode) ? 0 : -VG_EPERM;
		if (!S_ISDIR(sb.st_mode))
			return -VG_EPERM;
	}
}

/* One path's owner and mode (see reconcile.h); 1 repaired, 0 fine or
 * absent, -VG_EPERM. */
static int fix_mode(const char *path, int is_dir, char *why, size_t whylen)
{
	mode_t want = is_dir ? 0700 : 0600;
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return 0;	/* made later, with the umask's 077 */
	if (S_ISLNK(sb.st_mode) || (is_dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))) {
		snprintf(why, whylen, "%s is not a %s (a symbolic link or something else in its "
			 "place): move it away and restart", path, is_dir ? "folder" : "file");
		return -VG_EPERM;
	}
	if (sb.st_uid != geteuid()) {
		snprintf(why, whylen, "%s belongs to uid %u, not to vigild's user (uid %u): give "
			 "it back with chown, or check nobody else wrote in the data folder", path,
			 (unsigned)sb.st_uid, (unsigned)geteuid());
		return -VG_EPERM;
	}
	if ((sb.st_mode & 077) == 0)
		return 0;
	if (chmod(path, want) != 0) {
		snprintf(why, whylen, "%s is mode %04o (others may reach it) and cannot be made "
			 "%04o: %s", path, (unsigned)(sb.st_mode & 07777), (unsigned)want,
			 strerror(errno));
		return -VG_EPERM;
	}
	vg_warnx("%s was mode %04o (open to others): repaired to %04o; find out who changed it",
		 path, (unsigned)(sb.st_mode & 07777), (unsigned)want);
	return 1;
}

int vg_reconcile_data_modes(const char *data_dir, const char *catalog, const char *key_file,
			    char *why, size_t whylen)
{
	static const char *const files[] = {
		"catalog.db", "catalog.db-wal", "catalog.db-shm", "audit.db", "audit.db-wal",
		"audit.db-shm", "audit.db.head",
	};
	char path[1200];
	int n = 0, ret;

	ret = fix_mode(data_dir, 1, why, whylen);
	if (ret < 0)
		return ret;
	n += ret;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", data_dir, files[i]);
		ret = fix_mode(path, 0, why, whylen);
		if (ret < 0)
			return ret;
		n += ret;
	}
	if (catalog != NULL) {
		const char *sfx[] = { "", "-wal", "-shm" };

		for (size_t i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s%s", catalog, sfx[i]);
			ret = fix_mode(path, 0, why, whylen);
			if (ret < 0)
				return ret;
			n += ret;
		}
	}
	/* Not the keys: one that was open to others may have been copied, and
	 * the key store refuses it rather than carry on (keystore.h). */
	(void)key_file;
	{
		snprintf(path, sizeof(path), "%s/clips", data_dir);
		ret = fix_mode(path, 1, why, whylen);
		if (ret < 0)
			return ret;
		n += ret;
	}
	return n;
}

/* A row whose path is not a clip file's is left alone (reconcile.h). */
static int not_a_clip(struct vg_reconcile_report *rep, const char *data_dir,
		      const struct vg_clip *c)
{
	int ret = vg_reconcile_clip_file_ok(data_dir, c->path);

	if (ret != -VG_EPERM)
		return 0;
	vg_errx("ALARM: catalog row %lld names \"%s\", which is not a clip file (not the clip "
		"naming scheme, or not a regular file beneath clips/): left alone; the catalog "
		"may have been tampered with", (long long)c->id, c->path);
	rep->not_clips++;
	return 1;
}

/* ---- job 1: clips open at the crash ---- */

struct open_ctx {
	struct vg_catalog *cat;
	struct vg_audit *audit;
	const char *data_dir;
	const uint8_t *master;
	struct vg_reconcile_report *rep;
	struct vg_clip *open;	/* open rows collected first, fixed after the walk */
	int n_open, cap_open;
};

static int collect_open(const struct vg_clip *c, void *ud)
{
	struct open_ctx *x = ud;

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

/* A clip that holds no footage is not kept as an empty row: audited, then
 * its file (if any) unlinked and the row (with its key) deleted. A crash
 * between the two leaves an open row without a file, removed the next
 * time. 1 removed, negative if the row stays. */
static int remove_empty(struct open_ctx *x, const struct vg_clip *c, const char *path,
			const char *reason)
{
	int ret;

	if (audit_clip(x->audit, "clip.remove_empty", c, reason) < 0) {
		x->rep->not_audited++;
		return -VG_EIO;
	}
	if (unlink(path) == 0)
		fsync_parent(path);
	ret = vg_catalog_clip_delete(x->cat, c->id);
	if (ret < 0 && ret != -VG_ENOENT)
		return ret;
	vg_info("removed clip %lld (%s): %s", (long long)c->id, c->path, reason);
	x->rep->empty_removed++;
	return 1;
}

/* 0 recovered (c holds the row as finished), 1 removed (it held no
 * footage), negative if it was left as it is. */
static int recover_one(struct open_ctx *x, struct vg_clip *c)
{
	char path[1024];
	struct vg_clipmedia_info info;
	uint64_t chunks = 0, bytes = 0;
	struct stat sb;
	int ret;

	if (not_a_clip(x->rep, x->data_dir, c))
		return -VG_EPERM;
	snprintf(path, sizeof(path), "%s/%s", x->data_dir, c->path);
	/* The row is written before the file gets its name, and the name
	 * before the first byte of footage: a row without a file never held
	 * any. */
	if (stat(path, &sb) < 0)
		return remove_empty(x, c, path, "open when vigild stopped, but its file was never "
				    "created: it holds no footage");
	if (audit_clip(x->audit, "clip.recover", c, "open when vigild stopped (crash, power cut "
		       "or failed write): cut to its last authenticated chunk") < 0) {
		x->rep->not_audited++;
		return -VG_EIO;
	}
	ret = vg_clip_recover(path, x->master, c->wrapped_key, &chunks, &bytes);
	if (ret < 0) {
		vg_errx("clip %lld (%s) cannot be recovered: %s; left as it is for inspection",
			(long long)c->id, c->path, vg_strerror(ret));
		x->rep->unreadable++;
		return ret;
	}
	if (chunks == 0)
		return remove_empty(x, c, path, "cut off before its first complete chunk: it "
				    "holds no footage");
	memset(&info, 0, sizeof(info));
	ret = vg_clipmedia_measure(path, x->master, c->wrapped_key, &info);
	if (ret < 0 && ret != -VG_ETRUNC)
		vg_warnx("clip %lld (%s): %s after recovery", (long long)c->id, c->path,
			 vg_strerror(ret));
	c->frames = info.frames;
	c->end_us = c->start_us + info.duration_us;
	c->state = VG_CLIP_RECOVERED;
	if (vg_file_sha256(path, c->sha256) == 0 && stat(path, &sb) == 0)
		c->bytes = sb.st_size;
	ret = vg_catalog_clip_finish(x->cat, c);
	if (ret < 0)
		return ret;
	vg_info("recovered clip %lld (%s): %lld frames, %.1f s kept", (long long)c->id, c->path,
		(long long)c->frames, (double)info.duration_us / 1e6);
	x->rep->recovered++;
	return 0;
}

int vg_reconcile_open_clips(struct vg_catalog *cat, struct vg_audit *audit, const char *data_dir,
			    const uint8_t master[VG_MASTER_KEY_LEN],
			    struct vg_reconcile_report *rep)
{
	struct open_ctx x = {
		.cat = cat, .audit = audit, .data_dir = data_dir, .master = master, .rep = rep,
	};
	int ret;

	memset(rep, 0, sizeof(*rep));
	ret = vg_catalog_open_clips(cat, collect_open, &x);
	for (int i = 0; ret == 0 && i < x.n_open; i++)
		recover_one(&x, &x.open[i]);
	if (x.open != NULL)
		vg_wipe(x.open, (size_t)x.cap_open * sizeof(*x.open));
	free(x.open);
	return ret;
}

int vg_reconcile_clip(struct vg_catalog *cat, struct vg_audit *audit, const char *data_dir,
		      const uint8_t master[VG_MASTER_KEY_LEN], int64_t id, struct vg_clip *out)
{
	struct vg_reconcile_report rep;
	struct open_ctx x = {
		.cat = cat, .audit = audit, .data_dir = data_dir, .master = master, .rep = &rep,
	};
	struct vg_clip c;
	int ret;

	memset(&rep, 0, sizeof(rep));
	ret = vg_catalog_clip_get(cat, id, &c);
	if (ret == 0 && c.state != VG_CLIP_RECORDING)
		ret = -VG_EINVAL;
	if (ret == 0)
		ret = recover_one(&x, &c);
	if (ret == 0 && out != NULL)
		*out = c;
	vg_wipe(&c, sizeof(c));
	return ret;
}

/* ---- job 2: the census ---- */

struct row {
	int64_t id;
	char camera[33];
	char path[512];
};

struct census {
	struct vg_catalog *cat;
	const char *data_dir;
	struct vg_reconcile_census_opts o;
	struct vg_reconcile_report *rep;
	pid_t pid;
	struct row *rows;		/* this batch's finished clips */
	int n_rows, n_read;		/* kept, and read (any state) */
	int64_t last_id;
	char (*names)[NAME_LEN];	/* this batch's names, relative to data_dir */
	int n_names;
	unsigned char *suspect;		/* per name: no row at the first look */
	int stopped;
};

static int stop_asked(const struct census *x)
{
	return x->o.stop != NULL && atomic_load(x->o.stop) != 0;
}

static int collect_row(const struct vg_clip *c, void *ud)
{
	struct census *x = ud;
	struct row *r;

	x->n_read++;
	x->last_id = c->id;
	/* Open clips are job 1's (or a camera's); shredded ones are being
	 * deleted by retention, file first. */
	if (c->state == VG_CLIP_RECORDING || !c->has_key)
		return 0;
	r = &x->rows[x->n_rows++];
	r->id = c->id;
	memcpy(r->camera, c->camera, sizeof(r->camera));
	memcpy(r->path, c->path, sizeof(r->path));
	return 0;
}

/* A row whose file is missing is a problem only if, read again now, it
 * still has its key: retention shreds the key before it unlinks the file,
 * and deletes the row after. */
static int row_still_wants_file(struct census *x, int64_t id)
{
	struct vg_clip c;
	int ret, wants;

	ret = vg_catalog_clip_get(x->cat, id, &c);
	if (ret == -VG_ENOENT)
		return 0;
	/* Any other failure (logged by the catalog): report, as before. */
	wants = ret < 0 || (c.has_key && c.state != VG_CLIP_RECORDING);
	vg_wipe(&c, sizeof(c));
	return wants;
}

static void check_rows(struct census *x)
{
	char path[1100];
	struct stat sb;

	for (int i = 0; i < x->n_rows; i++) {
		const struct row *r = &x->rows[i];

		snprintf(path, sizeof(path), "%s/%s", x->data_dir, r->path);
		x->rep->rows_checked++;
		if (!vg_reconcile_clip_path_ok(r->path)) {
			vg_errx("ALARM: catalog row %lld names \"%s\", which is not a clip file's "
				"path: left alone; the catalog may have been tampered with",
				(long long)r->id, r->path);
			x->rep->not_clips++;
			continue;
		}
		if (stat(path, &sb) == 0 || !row_still_wants_file(x, r->id))
			continue;
		vg_errx("clip %lld (%s, camera %s) is in the catalog but its file is missing",
			(long long)r->id, r->path, r->camera);
		x->rep->rows_without_file++;
	}
}

static int census_rows(struct census *x)
{
	int ret;

	x->last_id = 0;		/* row ids start at 1 */
	for (;;) {
		x->n_rows = 0;
		x->n_read = 0;
		ret = vg_catalog_clips_after(x->cat, x->last_id, x->o.batch, collect_row, x);
		if (ret < 0)
			return ret;
		if (x->n_read == 0)
			return 0;
		if (x->o.between != NULL)
			x->o.between(x->o.between_ud);
		check_rows(x);
		if (stop_asked(x)) {
			x->stopped = 1;
			return 0;
		}
		if (x->n_read < x->o.batch)
			return 0;
	}
}

/* ".new-PID-CAMERA": PID is this process's, so a camera is creating it. */
static int own_new_file(const struct census *x, const char *name)
{
	long pid = 0;
	const char *p = name + 5;

	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9' && pid < 100000000; p++)
		pid = pid * 10 + (*p - '0');
	return (*p == '-' || *p == '\0') && pid == (long)x->pid;
}

/* A leftover that cannot hold footage: audited, then unlinked (rel is
 * relative to the data folder). */
static void remove_orphan(struct census *x, const char *rel, const char *reason)
{
	char abs_path[NAME_LEN + 600], object[NAME_LEN + 16];

	snprintf(object, sizeof(object), "file=%s", rel);
	if (audit_row(x->o.audit, "clip.orphan_removed", object, reason) < 0)
		return;
	snprintf(abs_path, sizeof(abs_path), "%s/%s", x->data_dir, rel);
	if (unlink(abs_path) != 0) {
		if (errno != ENOENT)
			vg_warn("cannot remove %s", abs_path);
		return;
	}
	fsync_parent(abs_path);
	vg_info("removed %s: %s", rel, reason);
	x->rep->orphans_removed++;
}

/* Look at a batch of names: catalogued, a leftover to remove, or (after a
 * second look at the end of the batch) a file without a row. */
static void check_names(struct census *x)
{
	char abs_path[NAME_LEN + 600];
	struct vg_clip c;
	struct stat sb;
	int ret;

	for (int i = 0; i < x->n_names; i++) {
		const char *base = strrchr(x->names[i], '/');

		base = base != NULL ? base + 1 : x->names[i];
		x->suspect[i] = 0;
		x->rep->files_checked++;
		if (strncmp(base, ".new-", 5) == 0) {
			/* Created but never named, so never written to. */
			if (!own_new_file(x, base))
				remove_orphan(x, x->names[i], "a clip file vigild created but never "
					      "named (it stopped first): no footage");
			continue;
		}
		ret = vg_catalog_clip_by_path(x->cat, x->names[i], &c);
		vg_wipe(&c, sizeof(c));
		x->suspect[i] = ret == -VG_ENOENT;
	}
	for (int i = 0; i < x->n_names; i++) {
		int64_t mtime_us;

		if (!x->suspect[i])
			continue;
		snprintf(abs_path, sizeof(abs_path), "%s/%s", x->data_dir, x->names[i]);
		/* Gone: retention deleted its clip (row after file), or a
		 * camera gave up the clip it was creating. */
		if (lstat(abs_path, &sb) != 0)
			continue;
		/* A camera names its file before it writes the row. */
		mtime_us = (int64_t)sb.st_mtim.tv_sec * VG_US_PER_S + sb.st_mtim.tv_nsec / 1000;
		if (mtime_us >= x->o.since_us)
			continue;
		ret = vg_catalog_clip_by_path(x->cat, x->names[i], &c);
		vg_wipe(&c, sizeof(c));
		if (ret != -VG_ENOENT)
			continue;
		/* A header and nothing else: vigild stopped between naming the
		 * file and cataloguing it (builds before schema 4 named it
		 * first). Without a row its key is gone, and it holds no
		 * footage anyway. */
		if (vg_clip_header_only(abs_path) == 1) {
			remove_orphan(x, x->names[i], "a clip file header with no footage and no "
				      "catalog row, left when vigild stopped while creating it");
			continue;
		}
		vg_errx("file %s/%s is not in the catalog; it was not written by this "
			"catalog, or its row was removed: keep it for inspection",
			x->data_dir, x->names[i]);
		x->rep->files_without_row++;
	}
}

static void flush_names(struct census *x)
{
	if (x->n_names == 0)
		return;
	if (x->o.between != NULL)
		x->o.between(x->o.between_ud);
	check_names(x);
	x->n_names = 0;
	if (stop_asked(x))
		x->stopped = 1;
}

/* Something in clips/ that nothing should read through (a symbolic
 * link, a FIFO...): audited, then moved to DATA_DIR/quarantine/ under a
 * name that says where it was. Left in place if the row cannot be
 * written. */
static void quarantine(struct census *x, const char *rel, const struct stat *sb)
{
	char object[NAME_LEN + 64], from[NAME_LEN + 600], to[NAME_LEN + 700], flat[NAME_LEN];
	const char *kind = S_ISLNK(sb->st_mode)	 ? "a symbolic link"
			   : S_ISFIFO(sb->st_mode) ? "a FIFO"
			   : S_ISSOCK(sb->st_mode) ? "a socket"
			   : S_ISDIR(sb->st_mode)  ? "a folder where a clip file belongs"
			   : S_ISREG(sb->st_mode)  ? "a file where a folder belongs"
						   : "a device";
	char reason[200];

	snprintf(object, sizeof(object), "file=%s", rel);
	snprintf(reason, sizeof(reason), "%s in the clip folders: moved to quarantine/ so that "
		 "nothing reads through it; inspect it", kind);
	if (audit_row(x->o.audit, "clip.quarantined", object, reason) < 0)
		return;
	snprintf(to, sizeof(to), "%s/quarantine", x->data_dir);
	if (mkdir(to, 0700) != 0 && errno != EEXIST) {
		vg_warn("cannot create %s", to);
		return;
	}
	snprintf(flat, sizeof(flat), "%s", rel);
	for (char *p = flat; *p; p++)
		if (*p == '/')
			*p = '_';
	snprintf(from, sizeof(from), "%s/%s", x->data_dir, rel);
	snprintf(to, sizeof(to), "%s/quarantine/%lld-%s", x->data_dir,
		 (long long)(vg_time_now_us() / VG_US_PER_S), flat);
	if (rename(from, to) != 0) {
		vg_warn("cannot move %s to quarantine", from);
		return;
	}
	vg_errx("ALARM: %s was %s: moved to %s", rel, kind, to);
	x->rep->quarantined++;
}

/* Walk DATA_DIR/clips/CAMERA/DAY/ a batch of names at a time. Folders
 * are opened without following symbolic links; anything that is not a
 * folder (camera, day) or a regular file (clip) goes to quarantine. */
static void walk(struct census *x, const char *rel, int depth)
{
	char abs_dir[NAME_LEN + 100];
	DIR *d;
	struct dirent *e;
	int fd;

	snprintf(abs_dir, sizeof(abs_dir), "%s/%s", x->data_dir, rel);
	fd = open(abs_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (e = readdir(d); e != NULL && !x->stopped; e = readdir(d)) {
		char sub[NAME_LEN];
		struct stat sb;

		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (depth < 2) {
			if (S_ISDIR(sb.st_mode))
				walk(x, sub, depth + 1);
			else
				quarantine(x, sub, &sb);
			continue;
		}
		if (!S_ISREG(sb.st_mode)) {
			quarantine(x, sub, &sb);
			continue;
		}
		memcpy(x->names[x->n_names++], sub, sizeof(sub));
		if (x->n_names == x->o.batch)
			flush_names(x);
	}
	closedir(d);
}

int vg_reconcile_census(struct vg_catalog *cat, const char *data_dir,
			const struct vg_reconcile_census_opts *opts,
			struct vg_reconcile_report *rep)
{
	struct census x = { .cat = cat, .data_dir = data_dir, .rep = rep };
	int ret;

	if (opts != NULL)
		x.o = *opts;
	if (x.o.batch <= 0)
		x.o.batch = DEFAULT_BATCH;
	if (x.o.since_us == 0)
		x.o.since_us = vg_time_now_us();
	x.pid = getpid();
	x.rows = calloc((size_t)x.o.batch, sizeof(*x.rows));
	x.names = calloc((size_t)x.o.batch, sizeof(*x.names));
	x.suspect = calloc((size_t)x.o.batch, 1);
	if (x.rows == NULL || x.names == NULL || x.suspect == NULL) {
		ret = -VG_ENOMEM;
		goto out;
	}
	ret = census_rows(&x);
	if (ret < 0 || x.stopped)
		goto out;
	walk(&x, "clips", 0);
	if (!x.stopped)
		flush_names(&x);
out:
	rep->stopped |= x.stopped;
	free(x.rows);
	free(x.names);
	free(x.suspect);
	return ret;
}

static void log_summary(const struct vg_reconcile_report *rep)
{
	if (rep->recovered || rep->empty_removed || rep->rows_without_file ||
	    rep->files_without_row || rep->unreadable || rep->orphans_removed ||
	    rep->not_audited || rep->not_clips || rep->quarantined)
		vg_info("reconcile: %d recovered, %d empty clips removed, %d rows without file, "
			"%d files without row, %d unreadable, %d empty leftover files removed, "
			"%d left for want of an audit row, %d rows naming no clip file, "
			"%d quarantined", rep->recovered, rep->empty_removed, rep->rows_without_file,
			rep->files_without_row, rep->unreadable, rep->orphans_removed,
			rep->not_audited, rep->not_clips, rep->quarantined);
}

int vg_reconcile(struct vg_catalog *cat, struct vg_audit *audit, const char *data_dir,
		 const uint8_t master[VG_MASTER_KEY_LEN], struct vg_reconcile_report *rep)
{
	int ret;

	struct vg_reconcile_census_opts o = { .audit = audit };

	ret = vg_reconcile_open_clips(cat, audit, data_dir, master, rep);
	if (ret == 0)
		ret = vg_reconcile_census(cat, data_dir, &o, rep);
	if (ret == 0)
		log_summary(rep);
	return ret;
}

/* ---- the census on a thread of its own ---- */

struct vg_reconcile_bg {
	struct vg_catalog *cat;
	struct vg_audit *audit;
	char *data_dir;
	int64_t since_us;
	struct vg_reconcile_report rep;	/* the thread's until joined */
	atomic_int stop;
	pthread_t thread;
	pthread_mutex_t lock;		/* with cond: the rest wakes at stop */
	pthread_cond_t cond;
};

static void bg_rest(void *ud)
{
	struct vg_reconcile_bg *b = ud;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += BG_REST_US * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&b->lock);
	if (!atomic_load(&b->stop))
		pthread_cond_timedwait(&b->cond, &b->lock, &ts);
	pthread_mutex_unlock(&b->lock);
}

/* Below the cameras for CPU and disk. Not SCHED_IDLE nor the idle I/O
 * class: this thread takes the catalog lock, and a holder that never runs
 * while the cameras keep the box busy would stall their clip rows. */
static void bg_lower_priority(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	if (setpriority(PRIO_PROCESS, (id_t)tid, BG_NICE) != 0)
		vg_debug("cannot lower the file check's CPU priority");
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, (int)tid,
		    (IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | 7) != 0)
		vg_debug("cannot lower the file check's I/O priority");
}

static void bg_audit(struct vg_reconcile_bg *b)
{
	const struct vg_reconcile_report *rep = &b->rep;
	char object[300];

	if (!(rep->recovered || rep->rows_without_file || rep->files_without_row ||
	      rep->unreadable || rep->empty_removed || rep->orphans_removed || rep->not_clips ||
	      rep->quarantined))
		return;
	snprintf(object, sizeof(object),
		 "recovered=%d rows_without_file=%d files_without_row=%d unreadable=%d "
		 "empty_removed=%d orphans_removed=%d not_clips=%d quarantined=%d",
		 rep->recovered, rep->rows_without_file, rep->files_without_row, rep->unreadable,
		 rep->empty_removed, rep->orphans_removed, rep->not_clips, rep->quarantined);
	audit_row(b->audit, "catalog.reconcile", object,
		  rep->stopped ? "start-up after a crash (file check cut short by shutdown)"
			       : "start-up after a crash");
}

static void *bg_main(void *arg)
{
	struct vg_reconcile_bg *b = arg;
	struct vg_reconcile_census_opts o = {
		.since_us = b->since_us, .stop = &b->stop, .between = bg_rest, .between_ud = b,
		.audit = b->audit,
	};
	int64_t t0 = vg_time_mono_us();

	bg_lower_priority();
	if (vg_reconcile_census(b->cat, b->data_dir, &o, &b->rep) < 0)
		vg_warnx("checking the clip files against the catalog failed");
	if (b->rep.stopped)
		vg_info("file check stopped at shutdown after %lld clips and %lld files",
			(long long)b->rep.rows_checked, (long long)b->rep.files_checked);
	else
		vg_debug("file check done: %lld clips, %lld files in %.1f s",
			 (long long)b->rep.rows_checked, (long long)b->rep.files_checked,
			 (double)(vg_time_mono_us() - t0) / 1e6);
	log_summary(&b->rep);
	bg_audit(b);
	return NULL;
}

int vg_reconcile_bg_start(struct vg_reconcile_bg **out, struct vg_catalog *cat,
			  struct vg_audit *audit, const char *data_dir, int64_t since_us,
			  const struct vg_reconcile_report *first)
{
	struct vg_reconcile_bg *b;
	pthread_condattr_t ca;

	*out = NULL;
	if (cat == NULL || data_dir == NULL || first == NULL)
		return -VG_EINVAL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -VG_ENOMEM;
	b->data_dir = strdup(data_dir);
	if (b->data_dir == NULL) {
		free(b);
		return -VG_ENOMEM;
	}
	b->cat = cat;
	b->audit = audit;
	b->since_us = since_us;
	b->rep = *first;
	atomic_init(&b->stop, 0);
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&b->thread, NULL, bg_main, b) != 0) {
		pthread_mutex_destroy(&b->lock);
		pthread_cond_destroy(&b->cond);
		free(b->data_dir);
		free(b);
		return -VG_EAGAIN;
	}
	*out = b;
	return 0;
}

void vg_reconcile_bg_stop(struct vg_reconcile_bg *b, struct vg_reconcile_report *rep)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->lock);
	atomic_store(&b->stop, 1);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	if (rep != NULL)
		*rep = b->rep;
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b->data_dir);
	free(b);
}
