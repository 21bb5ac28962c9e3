/*
 * export.c - evidence export (format: docs/export-format.md).
 *
 * Three threads share the work of a run: a reader decrypts and demuxes
 * the clips into a small bounded queue (in memory only), this thread
 * remuxes and writes (starting writeback as it goes), and a worker hashes
 * each finished file from the page cache, then fsyncs it, while the next
 * run is muxed. The moov is written into room reserved for it after ftyp,
 * so every byte is written once (+faststart would move the whole file up
 * at the end). A video cannot be hashed while it is written: its moov,
 * which comes first, is only known at the end. The read-back check runs
 * on two threads.
 */
#define VG_LOG_MODULE "EXP"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/base64.h>
#include <libavutil/opt.h>
/* struct burn_source comes from libisofs.h when libburn's header is absent */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

#include "vigil/clipmedia.h"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/export.h"
#include "vigil/isofs.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"

#define IO_BUF (1024 * 1024)
#define US ((AVRational){ 1, 1000000 })
#define TB ((AVRational){ 1, 90000 })
#define MAX_FILES 4096

struct outfile {
	char name[160];
	char path[1280];
	uint8_t sha[VG_SHA256_LEN];
	uint64_t size;
	int video, redacted;
	int synthetic;			/* from the synthetic test camera (issue 16) */
	char camera[33];
	int64_t frames, duration_us, from_us, to_us;
	int width, height, clips;
	int run;			/* index in exp.runs */
	int clk_synced, clk_unsynced, clk_unknown;	/* its clips' clock state */
};

struct run {
	const struct vg_export_camera *cam;
	struct vg_clip *clips;
	int n;
};

struct gap {
	char camera[33];
	int64_t from_us, to_us;
	char reason[128];
};

struct job {
	struct outfile *f;
	int readback;
	struct job *next;
};

/* A two-thread work queue: hash jobs (after muxing) and read-back jobs. */
struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv, idle;
	struct job *head, *tail;
	int busy, stop, nthreads;
	pthread_t th[2];
	int err;
	char bad[160];
	struct exp *e;
};

struct exp {
	const struct vg_export_ctx *ctx;
	const struct vg_export_request *req;
	struct vg_export_result *res;
	char dir[1200];			/* /proc/self/fd/N of dir_fd: every file is made
					 * beneath it, never through a path that could
					 * be swapped for a symlink meanwhile */
	char dir_name[1200];		/* DEST/REF.incomplete, for messages */
	char final_dir[1200];		/* DEST/REF */
	int dir_fd;			/* the export folder being written; -1 none */
	int staging;			/* ISO: the folder is staged for the image */
	char dest[1024];
	char ref[VG_EXPORT_REF_MAX];
	struct outfile *files;
	int nfiles;
	struct run *runs;
	int nruns;
	struct gap *gaps;
	int ngaps;
	struct vg_gap *cgaps;		/* catalog gap rows */
	int ncgaps;
	pthread_mutex_t prog_mu;
	uint64_t done, total;
	struct pool pool;
	int64_t now_us;
	/* Image exports: this is disc disc_no of disc_of (0 of 0 for a
	 * folder); when split, req is this disc's part of the request and
	 * whole_from/whole_to are what was asked for in all. */
	int disc_no, disc_of;
	int64_t whole_from_us, whole_to_us;
	/* Every exported clip by id (sorted, for lookups per audit row) with
	 * its clock state from its clip.create audit row (write_custody). */
	struct clip_clock *clk;
	int nclk;
};

enum { CLOCK_UNKNOWN = -1, CLOCK_UNSYNCED = 0, CLOCK_SYNCED = 1 };

struct clip_clock {
	int64_t id;
	int state;		/* CLOCK_* */
};

/* ---- small helpers ---- */

static void progress(struct exp *e, uint64_t add)
{
	pthread_mutex_lock(&e->prog_mu);
	e->done += add;
	if (e->done > e->total)
		e->total = e->done;
	if (e->ctx->progress)
		e->ctx->progress(e->done, e->total, e->ctx->progress_ud);
	pthread_mutex_unlock(&e->prog_mu);
}

static void why(struct exp *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why(struct exp *e, const char *fmt, ...)
{
	va_list ap;

	if (e->res->why[0])	/* keep the first, root cause */
		return;
	va_start(ap, fmt);
	vsnprintf(e->res->why, sizeof(e->res->why), fmt, ap);
	va_end(ap);
	vg_warnx("%s", e->res->why);
}

/* The folder a path names a file in: "/a/b.iso" -> "/a", "/b.iso" -> "/",
 * "b.iso" -> ".". */
static void dir_of(const char *path, char *out, size_t len)
{
	char *slash;

	snprintf(out, len, "%s", path);
	slash = strrchr(out, '/');
	if (slash == out)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(out, len, ".");
}

static int fsync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -vg_err_from_errno(errno);
	if (fsync(fd) < 0)
		ret = -vg_err_from_errno(errno);
	close(fd);
	return ret;
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

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -vg_err_from_errno(errno);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static double mono_s(void)
{
	return (double)vg_time_mono_us() / 1e6;
}

static struct outfile *new_file(struct exp *e, const char *name)
{
	struct outfile *f;

	if (e->nfiles >= MAX_FILES)
		return NULL;
	f = &e->files[e->nfiles++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->path, sizeof(f->path), "%s/%s", e->dir, name);
	return f;
}

/* Hash what fd holds from its start; with readback, first drop its cached
 * pages so the bytes come from the medium, not from memory. */
static int hash_fd(struct exp *e, int fd, int readback, uint8_t out[VG_SHA256_LEN],
		   uint64_t *size)
{
	struct vg_sha256 s;
	uint8_t *buf = malloc(IO_BUF);
	uint64_t n = 0;
	int ret = 0;

	if (buf == NULL)
		return -VG_ENOMEM;
	/* Clean pages (fsynced) are dropped; dirty ones would not be. */
	if (readback) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);	/* larger read-ahead */
	}
	vg_sha256_init(&s);
	for (;;) {
		ssize_t r = pread(fd, buf, IO_BUF, (off_t)n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -vg_err_from_errno(errno);
			break;
		}
		if (r == 0)
			break;
		vg_sha256_update(&s, buf, (size_t)r);
		n += (uint64_t)r;
		if (readback)
			progress(e, (uint64_t)r);
	}
	if (vg_sha256_final(&s, out) < 0 && ret == 0)
		ret = -VG_ECRYPTO;
	if (size)
		*size = n;
	/* After hashing (from the page cache), so that the hash overlaps the
	 * writeback the muxer started. */
	if (!readback && ret == 0 && fsync(fd) < 0)
		ret = -vg_err_from_errno(errno);
	free(buf);
	return ret;
}

static int hash_file(struct exp *e, const char *path, int readback, uint8_t out[VG_SHA256_LEN],
		     uint64_t *size)
{
	/* No symlink is followed: the folder may belong to the requester. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	int ret;

	if (fd < 0)
		return -vg_err_from_errno(errno);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		ret = -VG_EINVAL;
	else
		ret = hash_fd(e, fd, readback, out, size);
	close(fd);
	return ret;
}

/* ---- the worker pool ---- */

static int run_job(struct exp *e, struct job *j)
{
	uint8_t sha[VG_SHA256_LEN];
	uint64_t size;
	int ret;

	if (!j->readback)
		return hash_file(e, j->f->path, 0, j->f->sha, &j->f->size);
	ret = hash_file(e, j->f->path, 1, sha, &size);
	if (ret == 0 && (size != j->f->size || !vg_crypto_equal(sha, j->f->sha, sizeof(sha))))
		ret = -VG_EAUTH;
	return ret;
}

static void *worker(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct job *j;
		int ret;

		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->head == NULL)
			break;
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		ret = run_job(p->e, j);
		pthread_mutex_lock(&p->mu);
		p->busy--;
		if (ret < 0 && p->err == 0) {
			p->err = ret;
			snprintf(p->bad, sizeof(p->bad), "%s", j->f->name);
		}
		free(j);
		if (p->head == NULL && p->busy == 0)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int pool_start(struct pool *p, struct exp *e, int n)
{
	memset(p, 0, sizeof(*p));
	p->e = e;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_cond_init(&p->idle, NULL);
	for (int i = 0; i < n; i++) {
		if (pthread_create(&p->th[i], NULL, worker, p) != 0)
			return -VG_ENOMEM;
		p->nthreads++;
	}
	return 0;
}

static int pool_submit(struct pool *p, struct outfile *f, int readback)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -VG_ENOMEM;
	j->f = f;
	j->readback = readback;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/* Wait until the queue is empty and nothing runs; returns the first error. */
static int pool_wait(struct pool *p)
{
	int ret;

	pthread_mutex_lock(&p->mu);
	while (p->head != NULL || p->busy > 0)
		pthread_cond_wait(&p->idle, &p->mu);
	ret = p->err;
	pthread_mutex_unlock(&p->mu);
	return ret;
}

static void pool_stop(struct pool *p)
{
	if (p->e == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	while (p->head) {
		struct job *j = p->head;

		p->head = j->next;
		free(j);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_cond_destroy(&p->idle);
	p->e = NULL;
}

/* ---- small files ---- */

static int finish_file(struct exp *e, struct outfile *f)
{
	if (e->ctx->fault && e->ctx->fault(f->path, e->ctx->fault_ud) != 0) {
		why(e, "writing %s failed", f->name);
		return -VG_EIO;
	}
	return 0;
}

static int write_small(struct exp *e, const char *name, const void *data, size_t len)
{
	struct outfile *f = new_file(e, name);
	int fd, ret;

	if (f == NULL)
		return -VG_ENOMEM;
	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -vg_err_from_errno(errno);
		why(e, "cannot create %s: %s", name, vg_strerror(ret));
		return ret;
	}
	ret = write_all(fd, data, len);
	if (ret == 0 && fsync(fd) < 0)
		ret = -vg_err_from_errno(errno);
	if (close(fd) < 0 && ret == 0)
		ret = -vg_err_from_errno(errno);
	if (ret < 0) {
		why(e, "writing %s failed: %s", name, vg_strerror(ret));
		return ret;
	}
	f->size = len;
	ret = vg_sha256(data, len, f->sha);
	e->res->bytes += len;
	return ret < 0 ? ret : finish_file(e, f);
}

/* ---- collecting clips into runs ---- */

struct clip_list {
	struct vg_clip *c;
	int n, cap;
};

static int collect_clip(const struct vg_clip *c, void *ud)
{
	struct clip_list *l = ud;

	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 64;
		struct vg_clip *nc = realloc(l->c, (size_t)cap * sizeof(*nc));

		if (nc == NULL)
			return -VG_ENOMEM;
		l->c = nc;
		l->cap = cap;
	}
	l->c[l->n++] = *c;
	return 0;
}

static int collect_gap(const struct vg_gap *g, void *ud)
{
	struct exp *e = ud;
	struct vg_gap *ng = realloc(e->cgaps, (size_t)(e->ncgaps + 1) * sizeof(*ng));

	if (ng == NULL)
		return -VG_ENOMEM;
	e->cgaps = ng;
	e->cgaps[e->ncgaps++] = *g;
	return 0;
}

static int64_t frame_us(const struct vg_clip *c)
{
	if (c->frames > 0 && c->end_us > c->start_us)
		return (c->end_us - c->start_us) / c->frames;
	return VG_US_PER_S / 10;
}

/* A catalog gap row starting between two clips (within a frame of the
 * first one's end) also cuts the run: the daemon restarted there. */
static const struct vg_gap *gap_between(struct exp *e, const char *cam, const struct vg_clip *a,
				       const struct vg_clip *b)
{
	for (int i = 0; i < e->ncgaps; i++) {
		const struct vg_gap *g = &e->cgaps[i];

		if (strcmp(g->camera, cam) == 0 && g->from_us >= a->end_us - frame_us(a) &&
		    g->from_us <= b->start_us)
			return g;
	}
	return NULL;
}

static int add_run(struct exp *e, const struct vg_export_camera *cam, struct vg_clip *c, int n)
{
	struct run *nr = realloc(e->runs, (size_t)(e->nruns + 1) * sizeof(*nr));

	if (nr == NULL)
		return -VG_ENOMEM;
	e->runs = nr;
	nr[e->nruns].cam = cam;
	nr[e->nruns].n = n;
	nr[e->nruns].clips = malloc((size_t)n * sizeof(*c));
	if (nr[e->nruns].clips == NULL)
		return -VG_ENOMEM;
	memcpy(nr[e->nruns].clips, c, (size_t)n * sizeof(*c));
	e->nruns++;
	return 0;
}

static int build_runs(struct exp *e, uint64_t *estimate)
{
	const struct vg_export_request *q = e->req;
	int ret = 0;

	*estimate = 0;
	for (int ci = 0; ci < q->n_cameras && ret == 0; ci++) {
		const struct vg_export_camera *cam = &q->cameras[ci];
		struct clip_list l = { 0 };
		int start = 0;

		ret = vg_catalog_gaps(e->ctx->cat, cam->name, q->from_us, q->to_us, collect_gap, e);
		if (ret == 0)
			ret = vg_catalog_clips(e->ctx->cat, cam->name, q->from_us, q->to_us,
					       collect_clip, &l);
		/* Shredded clips cannot be read: drop them (their time shows as
		 * a gap between runs). */
		if (ret == 0) {
			int k = 0;

			for (int i = 0; i < l.n; i++)
				if (l.c[i].has_key)
					l.c[k++] = l.c[i];
			l.n = k;
		}
		for (int i = 1; ret == 0 && i <= l.n; i++) {
			int cut = i == l.n;

			if (!cut) {
				const struct vg_clip *a = &l.c[i - 1], *b = &l.c[i];

				cut = b->start_us - a->end_us > frame_us(a) * 3 / 2 ||
				      gap_between(e, cam->name, a, b) != NULL;
			}
			if (cut) {
				ret = add_run(e, cam, &l.c[start], i - start);
				start = i;
			}
		}
		for (int i = 0; i < l.n; i++)
			*estimate += (uint64_t)l.c[i].bytes;
		free(l.c);
	}
	return ret;
}

/* ---- writing one run ---- */

struct rect_px {
	int x, y, w, h;
	int64_t from_us, to_us;
};

struct sink {
	struct exp *e;
	struct outfile *f;
	AVFormatContext *o;
	AVStream *ost;
	AVRational tb;			/* output time base (the run's) */
	AVPacket *held;			/* remux: waits for the next pts for its duration */
	int64_t nominal;		/* frame interval in tb */
	int64_t first_pts, end_pts;
	int64_t utc0;			/* UTC of output pts 0 */
	/* redaction */
	AVCodecContext *dec, *enc;
	AVFrame *frame;
	AVPacket *epkt;
	/* output */
	int fd;
	int64_t pos, synced;		/* fdio: write position, writeback started below */
	int reserve;			/* moov_size reserved after ftyp; 0: +faststart */
	int werr;			/* errno of the first failed write to the medium */
};

/* Room reserved for the moov: a fixed part (boxes, avcC, metadata) plus a
 * worst case per sample (stsz 4, co64 8, stsc 12, stss 4, stts 8). */
#define MOOV_BASE (64 * 1024)
#define MOOV_PER_FRAME 36

/* Writeback is started every WB_STEP bytes so the disk works while the
 * muxer does, and the final fsync has little left to wait for. */
#define WB_STEP (8 * 1024 * 1024)

/* The output AVIO: plain pwrite at the muxer's position. */
static int fdio_write(void *opaque, uint8_t *buf, int size)
{
	struct sink *s = opaque;
	int done = 0;

	while (done < size) {
		ssize_t n = pwrite(s->fd, buf + done, (size_t)(size - done), s->pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (s->werr == 0)
				s->werr = errno;
			return AVERROR(errno);
		}
		done += (int)n;
		s->pos += n;
	}
	if (s->pos - s->synced >= WB_STEP) {
		sync_file_range(s->fd, s->synced, s->pos - s->synced, SYNC_FILE_RANGE_WRITE);
		s->synced = s->pos;
	}
	return size;
}

static int64_t fdio_seek(void *opaque, int64_t off, int whence)
{
	struct sink *s = opaque;
	struct stat st;

	if (whence == AVSEEK_SIZE || whence == SEEK_END) {
		if (fstat(s->fd, &st) < 0)
			return AVERROR(errno);
		if (whence == AVSEEK_SIZE)
			return st.st_size;
		off += st.st_size;
	} else if (whence == SEEK_CUR) {
		off += s->pos;
	} else if (whence != SEEK_SET) {
		return AVERROR(EINVAL);
	}
	if (off < 0)
		return AVERROR(EINVAL);
	/* Seeking back (the muxer patching sizes) restarts writeback there. */
	if (off < s->synced)
		s->synced = off;
	s->pos = off;
	return off;
}

/* Release the output AVIO and fd; returns the first write error. */
static int fdio_close(struct sink *s)
{
	int ret = 0;

	if (s->o && s->o->pb) {
		avio_flush(s->o->pb);
		if (s->o->pb->error < 0)
			ret = -VG_EIO;
		av_freep(&s->o->pb->buffer);
		avio_context_free(&s->o->pb);
	}
	if (s->fd > 0) {
		if (close(s->fd) < 0 && ret == 0)
			ret = -vg_err_from_errno(errno);
		s->fd = -1;
	}
	return ret;
}

/* The medium refused a write (EPERM on a FUSE vfat past its limit,
 * ENOSPC, EIO from a failing stick): say so, naming the destination, not
 * as a muxer failure. Returns the VG_E* code for errno werr. */
static int medium_error(struct sink *s)
{
	why(s->e, "the destination medium %s refused a write to %s (%s): check the USB "
	    "stick or disc is writable, has room and is not faulty, or export to another "
	    "medium", s->e->dest, s->f->name, strerror(s->werr));
	return -vg_err_from_errno(s->werr);
}

static int mux_open(struct sink *s, const char *path, const AVCodecParameters *par)
{
	AVDictionary *opt = NULL;
	char when[40];
	int ret;

	if (avformat_alloc_output_context2(&s->o, NULL, "mp4", path) < 0)
		return -VG_ENOMEM;
	s->ost = avformat_new_stream(s->o, NULL);
	if (s->ost == NULL)
		return -VG_ENOMEM;
	if (s->enc)
		ret = avcodec_parameters_from_context(s->ost->codecpar, s->enc);
	else
		ret = avcodec_parameters_copy(s->ost->codecpar, par);
	if (ret < 0)
		return -VG_ECODEC;
	s->ost->codecpar->codec_tag = 0;
	s->ost->time_base = s->tb;
	vg_time_format(s->utc0, when, sizeof(when));
	av_dict_set(&s->o->metadata, "creation_time", when, 0);
	av_dict_set(&s->ost->metadata, "creation_time", when, 0);
	/* Test footage keeps its label wherever the file goes (players and
	 * ffprobe show the comment tag). */
	if (s->f && s->f->synthetic)
		av_dict_set(&s->o->metadata, "comment", VG_EXPORT_SYNTHETIC_LABEL, 0);
	s->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (s->fd < 0)
		return -vg_err_from_errno(errno);
	s->pos = 0;
	s->synced = 0;
	{
		uint8_t *buf = av_malloc(IO_BUF);

		if (buf)
			s->o->pb = avio_alloc_context(buf, IO_BUF, 1, s, NULL, fdio_write,
						      fdio_seek);
		if (s->o->pb == NULL) {
			av_free(buf);
			return -VG_ENOMEM;
		}
		s->o->flags |= AVFMT_FLAG_CUSTOM_IO;
	}
	/*
	 * moov first. With room reserved for it after ftyp (moov_size), the
	 * muxer writes it there at the end and every byte is written once;
	 * +faststart instead moves the whole file up at the end, writing it
	 * twice. The room is a generous bound from the frame count (a few
	 * tens of bytes per sample in stsz/stco/stsc/stss/stts); the unused
	 * rest is a "free" box, which every player skips. Should the moov not
	 * fit after all, the run is written again with +faststart.
	 */
	if (s->reserve > 0) {
		char v[24];

		snprintf(v, sizeof(v), "%d", s->reserve);
		av_dict_set(&opt, "moov_size", v, 0);
	} else {
		av_dict_set(&opt, "movflags", "+faststart", 0);
	}
	ret = avformat_write_header(s->o, &opt);
	av_dict_free(&opt);
	if (ret < 0 && s->werr)
		return medium_error(s);
	return ret < 0 ? -VG_ECODEC : 0;
}

static int mux_write(struct sink *s, AVPacket *p, AVRational from)
{
	int ret;

	av_packet_rescale_ts(p, from, s->ost->time_base);
	p->stream_index = 0;
	p->pos = -1;
	ret = av_write_frame(s->o, p);
	if (ret < 0 && s->werr)
		return medium_error(s);
	if (ret < 0) {
		why(s->e, "writing %s failed (%s)", s->f->name,
		    ret == AVERROR(ENOSPC) ? "the medium is full" : "muxer error");
		return ret == AVERROR(ENOSPC) ? -VG_ENOSPC : -VG_EIO;
	}
	return 0;
}

/* The blanked area is the rectangle grown by a margin and out to whole
 * 16-pixel macroblocks: the encoder's transforms and deblocking work on
 * those blocks and would otherwise smear picture detail back in at the
 * rectangle's edges. */
static void fill(AVFrame *fr, const struct rect_px *in, int64_t utc)
{
	/* 64-bit throughout and clamped to the picture: a rectangle from a
	 * request is checked before it gets here, but an overflow must never
	 * turn into a region that blanks nothing. */
	int64_t gx0, gy0, gx1, gy1;

	if ((in->from_us || in->to_us) && (utc < in->from_us || utc >= in->to_us))
		return;
	if (in->w <= 0 || in->h <= 0 || fr->width <= 0 || fr->height <= 0)
		return;
	gx0 = (int64_t)in->x - 4;
	gy0 = (int64_t)in->y - 4;
	gx0 = gx0 < 0 ? 0 : gx0 / 16 * 16;
	gy0 = gy0 < 0 ? 0 : gy0 / 16 * 16;
	gx1 = ((int64_t)in->x + in->w + 4 + 15) / 16 * 16;
	gy1 = ((int64_t)in->y + in->h + 4 + 15) / 16 * 16;
	if (gx1 > fr->width)
		gx1 = fr->width;
	if (gy1 > fr->height)
		gy1 = fr->height;
	if (gx0 >= gx1 || gy0 >= gy1)
		return;
	for (int pl = 0; pl < 3; pl++) {
		int sh = pl ? 1 : 0;
		int64_t x0 = gx0 >> sh, y0 = gy0 >> sh;
		int64_t x1 = (gx1 + sh) >> sh, y1 = (gy1 + sh) >> sh;
		int64_t pw = pl ? (fr->width + 1) / 2 : fr->width;
		int64_t ph = pl ? (fr->height + 1) / 2 : fr->height;

		if (x1 > pw)
			x1 = pw;
		if (y1 > ph)
			y1 = ph;
		for (int64_t y = y0; y < y1; y++)
			memset(fr->data[pl] + (size_t)y * (size_t)fr->linesize[pl] + (size_t)x0,
			       pl ? 128 : 16, (size_t)(x1 > x0 ? x1 - x0 : 0));
	}
}

static int enc_drain(struct sink *s, const AVFrame *fr)
{
	int ret = avcodec_send_frame(s->enc, fr);

	if (ret < 0)
		return -VG_ECODEC;
	for (;;) {
		ret = avcodec_receive_packet(s->enc, s->epkt);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return -VG_ECODEC;
		if (s->first_pts == AV_NOPTS_VALUE)
			s->first_pts = s->epkt->pts;
		if (s->epkt->pts + s->nominal > s->end_pts)
			s->end_pts = s->epkt->pts + s->nominal;
		s->f->frames++;
		if (s->epkt->duration <= 0)
			s->epkt->duration = s->nominal;
		ret = mux_write(s, s->epkt, s->enc->time_base);
		av_packet_unref(s->epkt);
		if (ret < 0)
			return ret;
	}
}

static int dec_drain(struct sink *s, const AVPacket *p)
{
	const struct vg_export_request *q = s->e->req;
	int ret = avcodec_send_packet(s->dec, p);

	if (ret < 0)
		return -VG_ECODEC;
	for (;;) {
		int64_t pts;

		ret = avcodec_receive_frame(s->dec, s->frame);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return -VG_ECODEC;
		if (s->frame->format != AV_PIX_FMT_YUV420P && s->frame->format != AV_PIX_FMT_YUVJ420P) {
			av_frame_unref(s->frame);
			why(s->e, "redaction needs 4:2:0 video");
			return -VG_EFORMAT;
		}
		pts = s->frame->best_effort_timestamp;
		ret = av_frame_make_writable(s->frame);
		if (ret < 0) {
			av_frame_unref(s->frame);
			return -VG_ENOMEM;
		}
		for (int i = 0; i < q->n_redactions; i++) {
			const struct vg_export_rect *r = &q->redactions[i];
			struct rect_px px = { r->x, r->y, r->w, r->h, r->from_us, r->to_us };

			fill(s->frame, &px, s->utc0 + av_rescale_q(pts, s->tb, US));
		}
		s->frame->pts = pts;
		s->frame->pict_type = AV_PICTURE_TYPE_NONE;
		ret = enc_drain(s, s->frame);
		av_frame_unref(s->frame);
		if (ret < 0)
			return ret;
	}
}

static int sink_open(struct sink *s, struct exp *e, struct outfile *f,
		     const AVCodecParameters *par, AVRational in_tb)
{
	const AVCodec *dc, *ec;

	s->e = e;
	s->f = f;
	s->first_pts = AV_NOPTS_VALUE;
	s->end_pts = 0;
	if (!f->redacted) {
		s->held = av_packet_alloc();
		return s->held ? mux_open(s, f->path, par) : -VG_ENOMEM;
	}
	dc = avcodec_find_decoder(par->codec_id);
	ec = avcodec_find_encoder_by_name("libx264");
	if (dc == NULL || ec == NULL) {
		why(e, "redaction needs an H.264 decoder and libx264");
		return -VG_ECODEC;
	}
	s->dec = avcodec_alloc_context3(dc);
	s->enc = avcodec_alloc_context3(ec);
	s->frame = av_frame_alloc();
	s->epkt = av_packet_alloc();
	if (!s->dec || !s->enc || !s->frame || !s->epkt)
		return -VG_ENOMEM;
	if (avcodec_parameters_to_context(s->dec, par) < 0)
		return -VG_ECODEC;
	s->dec->pkt_timebase = s->tb;
	s->dec->thread_count = 1;
	if (avcodec_open2(s->dec, dc, NULL) < 0)
		return -VG_ECODEC;
	s->enc->width = par->width;
	s->enc->height = par->height;
	s->enc->pix_fmt = AV_PIX_FMT_YUV420P;
	s->enc->time_base = s->tb;
	s->enc->gop_size = 50;
	s->enc->max_b_frames = 0;
	s->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	av_opt_set(s->enc->priv_data, "preset", "veryfast", 0);
	av_opt_set(s->enc->priv_data, "crf", "20", 0);
	if (avcodec_open2(s->enc, ec, NULL) < 0) {
		why(e, "cannot open libx264 for the redacted copy");
		return -VG_ECODEC;
	}
	(void)in_tb;
	return mux_open(s, f->path, par);
}

/* One packet of the original stream, pts/dts already on the run's timeline. */
static int sink_packet(struct sink *s, AVPacket *p)
{
	int ret;

	if (s->f->redacted)
		return dec_drain(s, p);
	if (s->held->data) {
		s->held->duration = p->pts - s->held->pts;
		ret = mux_write(s, s->held, s->tb);
		av_packet_unref(s->held);
		if (ret < 0)
			return ret;
	}
	if (s->first_pts == AV_NOPTS_VALUE)
		s->first_pts = p->pts;
	s->f->frames++;
	av_packet_move_ref(s->held, p);
	return 0;
}

/* Flush and close; ok = 0 closes without writing the rest. */
static int sink_close(struct sink *s, int ok)
{
	int ret = 0;

	if (ok && s->f && !s->f->redacted && s->held && s->held->data) {
		s->held->duration = s->nominal;
		s->end_pts = s->held->pts + s->nominal;
		ret = mux_write(s, s->held, s->tb);
	}
	if (ok && ret == 0 && s->f && s->f->redacted) {
		ret = dec_drain(s, NULL);
		if (ret == 0)
			ret = enc_drain(s, NULL);
	}
	if (s->o && ok && ret == 0 && av_write_trailer(s->o) < 0) {
		if (s->werr) {
			ret = medium_error(s);
		} else if (s->reserve > 0) {
			ret = -VG_EAGAIN;	/* the moov did not fit: the caller retries */
		} else {
			why(s->e, "finishing %s failed", s->f->name);
			ret = -VG_EIO;
		}
	}
	{
		int cr = fdio_close(s);

		if (cr < 0 && ret == 0 && s->werr) {
			ret = medium_error(s);
		} else if (cr < 0 && ret == 0) {
			why(s->e, "writing %s failed: %s", s->f->name, vg_strerror(cr));
			ret = cr;
		}
	}
	if (s->o) {
		avformat_free_context(s->o);
		s->o = NULL;
	}
	av_packet_free(&s->held);
	av_packet_free(&s->epkt);
	av_frame_free(&s->frame);
	avcodec_free_context(&s->dec);
	avcodec_free_context(&s->enc);
	return ret;
}

/* ---- decrypting ahead ----
 *
 * Reader threads open (decrypt) the run's clips and demux their video
 * packets into small bounded queues, so AES-GCM runs on every core while
 * the caller muxes and writes. With two readers, one takes the even clips
 * and the other the odd ones; the caller takes the clips in order from
 * the reader that has each. Decrypted packets live only in memory.
 */

enum { R_CLIP, R_PKT, R_END };

struct ritem {
	int kind;
	int err;			/* R_CLIP: open failed; R_END: the clip's status */
	int64_t chunk;			/* R_END: with -VG_EAUTH, the chunk that failed */
	int novideo;
	AVPacket *pkt;			/* R_PKT */
	AVCodecParameters *par;		/* R_CLIP */
	AVRational tb;			/* R_CLIP */
	struct ritem *next;
};

#define RQ_MAX_ITEMS 256
#define RQ_MAX_BYTES (8 * 1024 * 1024)
#define READERS 2

struct reader {
	struct exp *e;
	const struct run *r;
	int first, stride;		/* clips first, first + stride, ... */
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ritem *head, *tail;
	int count, abort, done;
	size_t bytes;
};

static void ritem_free(struct ritem *it)
{
	if (it == NULL)
		return;
	av_packet_free(&it->pkt);
	avcodec_parameters_free(&it->par);
	free(it);
}

/* Queue an item (taking it); 0, or -1 if the consumer gave up (freed). */
static int rd_push(struct reader *rd, struct ritem *it)
{
	size_t sz = it->pkt ? (size_t)it->pkt->size : 0;

	pthread_mutex_lock(&rd->mu);
	while (!rd->abort && rd->count > 0 &&
	       (rd->count >= RQ_MAX_ITEMS || rd->bytes + sz > RQ_MAX_BYTES))
		pthread_cond_wait(&rd->cv, &rd->mu);
	if (rd->abort) {
		pthread_mutex_unlock(&rd->mu);
		ritem_free(it);
		return -1;
	}
	if (rd->tail)
		rd->tail->next = it;
	else
		rd->head = it;
	rd->tail = it;
	rd->count++;
	rd->bytes += sz;
	pthread_cond_broadcast(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
	return 0;
}

/* The next item (the caller frees it), or NULL once the reader is done. */
static struct ritem *rd_pop(struct reader *rd)
{
	struct ritem *it;

	pthread_mutex_lock(&rd->mu);
	while (rd->head == NULL && !rd->done)
		pthread_cond_wait(&rd->cv, &rd->mu);
	it = rd->head;
	if (it) {
		rd->head = it->next;
		if (rd->head == NULL)
			rd->tail = NULL;
		rd->count--;
		rd->bytes -= it->pkt ? (size_t)it->pkt->size : 0;
		pthread_cond_broadcast(&rd->cv);
	}
	pthread_mutex_unlock(&rd->mu);
	return it;
}

static struct ritem *ritem_new(int kind)
{
	struct ritem *it = calloc(1, sizeof(*it));

	if (it)
		it->kind = kind;
	return it;
}

/* The first chunk of a clip that fails authentication (0-based), read
 * again chunk by chunk; -1 if its key or header does. Only called once a
 * clip has failed, to name the chunk in the integrity.failure row. */
static int64_t first_bad_chunk(const char *data_dir, const char *path, const uint8_t *master,
			       const uint8_t *wrapped_key)
{
	struct vg_clip_reader *r = NULL;
	const uint8_t *data;
	size_t len;
	int64_t chunk = -1;
	int ret;

	if (vg_clip_reader_open_in(&r, data_dir, path, master, wrapped_key) < 0)
		return -1;
	do
		ret = vg_clip_reader_next(r, &data, &len);
	while (ret == 0);
	if (ret == -VG_EAUTH)
		chunk = (int64_t)vg_clip_reader_chunks(r);
	vg_clip_reader_free(r);
	return chunk;
}

/* One clip; 0 to go on to the next, -1 to stop reading. */
static int read_clip(struct reader *rd, const struct vg_clip *c)
{
	struct exp *e = rd->e;
	struct vg_clipmedia *m = NULL;
	AVFormatContext *fmt = NULL;
	struct ritem *it = ritem_new(R_CLIP);
	int vi = -1, ret;

	if (it == NULL)
		return -1;
	/* beneath the data folder, no symlink followed, a regular file */
	ret = vg_clipmedia_open_in(&m, e->ctx->data_dir, c->path, e->ctx->master, c->wrapped_key,
				   &fmt);
	if (ret < 0) {
		it->err = ret;
		if (ret == -VG_EAUTH)
			it->chunk = first_bad_chunk(e->ctx->data_dir, c->path, e->ctx->master,
						    c->wrapped_key);
		rd_push(rd, it);
		return -1;
	}
	for (unsigned i = 0; i < fmt->nb_streams; i++)
		if (vi < 0 && fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
			vi = (int)i;
	if (vi >= 0) {
		it->par = avcodec_parameters_alloc();
		if (it->par == NULL ||
		    avcodec_parameters_copy(it->par, fmt->streams[vi]->codecpar) < 0)
			it->err = -VG_ENOMEM;
		it->tb = fmt->streams[vi]->time_base;
	} else {
		it->err = -VG_EFORMAT;
		it->novideo = 1;
	}
	ret = it->err;
	if (rd_push(rd, it) < 0 || ret < 0) {
		vg_clipmedia_close(m);
		return -1;
	}
	for (;;) {
		AVPacket *pkt = av_packet_alloc();

		it = ritem_new(R_PKT);
		if (pkt == NULL || it == NULL) {
			av_packet_free(&pkt);
			free(it);
			ret = -VG_ENOMEM;
			break;
		}
		if (av_read_frame(fmt, pkt) < 0) {
			av_packet_free(&pkt);
			free(it);
			ret = vg_clipmedia_status(m);
			break;
		}
		if (pkt->stream_index != vi || pkt->pts == AV_NOPTS_VALUE) {
			av_packet_free(&pkt);
			free(it);
			continue;
		}
		it->pkt = pkt;
		if (rd_push(rd, it) < 0) {
			vg_clipmedia_close(m);
			return -1;
		}
	}
	it = ritem_new(R_END);
	if (it != NULL)
		it->chunk = vg_clipmedia_chunk(m);
	vg_clipmedia_close(m);
	if (it == NULL)
		return -1;
	it->err = ret;
	return rd_push(rd, it) < 0 || ret == -VG_ENOMEM ? -1 : 0;
}

/* Ask the kernel to read a clip in ahead (async), so the disk works while
 * the clip before it is decrypted. Ciphertext only: nothing plain. */
static void prefetch(struct reader *rd, int ci)
{
	int fd;

	if (ci >= rd->r->n)
		return;
	fd = vg_clip_open_in(rd->e->ctx->data_dir, rd->r->clips[ci].path, O_RDONLY);
	if (fd < 0)
		return;
	posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	close(fd);
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	prefetch(rd, rd->first);
	for (int ci = rd->first; ci < rd->r->n; ci += rd->stride) {
		prefetch(rd, ci + rd->stride);
		if (read_clip(rd, &rd->r->clips[ci]) < 0)
			break;
	}
	pthread_mutex_lock(&rd->mu);
	rd->done = 1;
	pthread_cond_broadcast(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
	return NULL;
}

static int reader_start(struct reader *rd, struct exp *e, const struct run *r, int first,
			int stride)
{
	memset(rd, 0, sizeof(*rd));
	rd->e = e;
	rd->r = r;
	rd->first = first;
	rd->stride = stride;
	pthread_mutex_init(&rd->mu, NULL);
	pthread_cond_init(&rd->cv, NULL);
	if (pthread_create(&rd->th, NULL, reader_main, rd) != 0)
		return -VG_ENOMEM;
	rd->started = 1;
	return 0;
}

/* Stop the reader wherever it is and drop what it queued. */
static void reader_stop(struct reader *rd)
{
	pthread_mutex_lock(&rd->mu);
	rd->abort = 1;
	pthread_cond_broadcast(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
	if (rd->started)
		pthread_join(rd->th, NULL);
	rd->started = 0;
	while (rd->head) {
		struct ritem *it = rd->head;

		rd->head = it->next;
		ritem_free(it);
	}
	rd->tail = NULL;
	pthread_mutex_destroy(&rd->mu);
	pthread_cond_destroy(&rd->cv);
}

static void name_file(struct exp *e, struct outfile *f)
{
	char a[32], b[32];

	vg_time_format_compact(f->from_us, a, sizeof(a));
	vg_time_format_compact(f->to_us, b, sizeof(b));
	snprintf(f->name, sizeof(f->name), "%s_%s-%s%s.mp4", f->camera, a, b,
		 f->redacted ? "-REDACTED" : "");
}

/*
 * Remux (or re-encode) one run. Packets are placed on one timeline from the
 * catalog start of each clip plus the packet's offset in its clip; the file
 * starts at the last keyframe at or before the requested start, so its
 * first picture decodes, and ends before the first picture at or after
 * the requested end. The file is written under a temporary name and named
 * by its delivered range once that is known.
 */
static int export_run(struct exp *e, const struct run *r, int faststart)
{
	const struct vg_export_request *q = e->req;
	struct sink s = { 0 };
	struct outfile *f;
	AVPacket *pkt = av_packet_alloc();
	AVPacket **pend = NULL;
	int npend = 0, capend = 0, started = 0, stop = 0, ret = 0;
	int64_t raw0 = 0, last_out = -1, last_utc = 0;
	AVRational rtb = TB;
	AVCodecParameters *cpar = NULL;	/* the current clip's */
	struct reader rd[READERS];
	int nrd = r->n > 1 ? READERS : 1;
	char tmpname[64];

	snprintf(tmpname, sizeof(tmpname), ".run%d.mp4", e->nruns);
	f = new_file(e, tmpname);
	if (f == NULL || pkt == NULL) {
		av_packet_free(&pkt);
		return -VG_ENOMEM;
	}
	f->video = 1;
	f->run = (int)(r - e->runs);
	f->redacted = q->n_redactions > 0;
	for (int ci = 0; ci < r->n; ci++)
		f->synthetic |= r->clips[ci].synthetic != 0;
	snprintf(f->camera, sizeof(f->camera), "%s", r->cam->name);
	s.tb = rtb;
	s.fd = -1;
	s.nominal = av_rescale_q(frame_us(&r->clips[0]), US, rtb);
	if (!faststart) {
		int64_t frames = 0;

		for (int ci = 0; ci < r->n; ci++)
			frames += r->clips[ci].frames > 0 ? r->clips[ci].frames : 0;
		if (frames > 0 && frames < (INT_MAX - MOOV_BASE) / MOOV_PER_FRAME)
			s.reserve = (int)(MOOV_BASE + frames * MOOV_PER_FRAME);
	}
	for (int i = 0; i < nrd; i++) {
		int rs = reader_start(&rd[i], e, r, i, nrd);

		if (ret == 0)
			ret = rs;
	}
	for (int ci = 0; ci < r->n && !stop && ret == 0; ci++) {
		const struct vg_clip *c = &r->clips[ci];
		struct reader *from = &rd[ci % nrd];
		struct ritem *it = rd_pop(from);
		int64_t first = AV_NOPTS_VALUE, fus = frame_us(c);
		AVRational stb;
		int rr = 0;

		if (it == NULL || it->kind != R_CLIP) {
			ritem_free(it);
			why(e, "cannot read clip %s", c->path);
			ret = -VG_EIO;
			break;
		}
		if (it->err < 0) {
			ret = it->err;
			if (ret == -VG_EAUTH && e->res->bad_clip == 0) {
				e->res->bad_clip = c->id;
				e->res->bad_chunk = it->chunk;
			}
			if (it->novideo)
				why(e, "clip %s holds no video", c->path);
			else
				why(e, "cannot read clip %s: %s", c->path, vg_strerror(ret));
			ritem_free(it);
			break;
		}
		avcodec_parameters_free(&cpar);
		cpar = it->par;
		it->par = NULL;
		stb = it->tb;
		ritem_free(it);
		f->width = cpar->width;
		f->height = cpar->height;
		f->clips++;
		while (ret == 0 && !stop) {
			int64_t utc, raw;

			it = rd_pop(from);
			if (it == NULL || it->kind != R_PKT) {
				/* R_END, or NULL: the reader stopped (out of memory) */
				rr = it ? it->err : -VG_ENOMEM;
				if (rr == -VG_EAUTH && e->res->bad_clip == 0) {
					e->res->bad_clip = c->id;
					e->res->bad_chunk = it->chunk;
				}
				ritem_free(it);
				break;
			}
			av_packet_move_ref(pkt, it->pkt);
			ritem_free(it);
			progress(e, (uint64_t)pkt->size);
			if (first == AV_NOPTS_VALUE)
				first = pkt->pts;
			utc = c->start_us + av_rescale_q(pkt->pts - first, stb, US);
			if (utc >= q->to_us) {
				stop = 1;
				av_packet_unref(pkt);
				break;
			}
			raw = av_rescale_q(c->start_us - r->clips[0].start_us, US, rtb) +
			      av_rescale_q(pkt->pts - first, stb, rtb);
			pkt->pts = pkt->dts = raw;	/* no B-frames: decode order is display order */
			pkt->duration = 0;
			if (!started) {
				AVPacket *keep;

				if (pkt->flags & AV_PKT_FLAG_KEY) {
					while (npend > 0)
						av_packet_free(&pend[--npend]);
				}
				if (npend == 0 && !(pkt->flags & AV_PKT_FLAG_KEY)) {
					av_packet_unref(pkt);
					continue;
				}
				if (npend == capend) {
					AVPacket **np = realloc(pend, (size_t)(capend + 64) * sizeof(*np));

					if (np == NULL) {
						ret = -VG_ENOMEM;
						break;
					}
					pend = np;
					capend += 64;
				}
				keep = av_packet_alloc();
				if (keep == NULL) {
					ret = -VG_ENOMEM;
					break;
				}
				av_packet_move_ref(keep, pkt);
				pend[npend++] = keep;
				if (utc + fus <= q->from_us)
					continue;
				/* This picture overlaps the range: start at its GOP. */
				started = 1;
				raw0 = pend[0]->pts;
				f->from_us = r->clips[0].start_us + av_rescale_q(raw0, rtb, US);
				s.utc0 = f->from_us;
				ret = sink_open(&s, e, f, cpar, stb);
				for (int i = 0; i < npend && ret == 0; i++) {
					pend[i]->pts = pend[i]->dts = pend[i]->pts - raw0;
					last_out = pend[i]->pts;
					ret = sink_packet(&s, pend[i]);
				}
				while (npend > 0)
					av_packet_free(&pend[--npend]);
				last_utc = utc;
				continue;
			}
			raw -= raw0;
			if (raw <= last_out)	/* catalog times that overlap by a tick */
				raw = last_out + 1;
			pkt->pts = pkt->dts = raw;
			last_out = raw;
			last_utc = utc;
			ret = sink_packet(&s, pkt);
			av_packet_unref(pkt);
		}
		if (ret == 0 && rr == -VG_ENOMEM) {
			ret = rr;
		} else if (ret == 0 && rr == -VG_EAUTH) {
			why(e, "clip %s failed authentication (tampered or corrupt)", c->path);
			ret = -VG_EAUTH;
		} else if (rr == -VG_ETRUNC) {
			vg_info("clip %s ends early (crash-cut); exported up to its cut", c->path);
		}
		s.nominal = av_rescale_q(fus, US, rtb);
	}
	for (int i = 0; i < nrd; i++)
		reader_stop(&rd[i]);
	avcodec_parameters_free(&cpar);
	while (npend > 0)
		av_packet_free(&pend[--npend]);
	free(pend);
	av_packet_free(&pkt);
	if (!started) {
		/* Nothing of this run fell in the range. */
		e->nfiles--;
		return ret;
	}
	{
		int cr = sink_close(&s, ret == 0);

		if (ret == 0)
			ret = cr;
	}
	if (ret < 0) {
		unlink(f->path);
		if (ret == -VG_EAGAIN) {
			vg_info("%s: the reserved moov room was short; writing it again with "
				"+faststart", f->camera);
			e->nfiles--;
			return export_run(e, r, 1);
		}
		return ret;
	}
	f->duration_us = av_rescale_q(s.end_pts - (s.first_pts == AV_NOPTS_VALUE ? 0 : s.first_pts),
				      rtb, US);
	f->to_us = f->from_us + av_rescale_q(s.end_pts, rtb, US);
	if (f->to_us < last_utc)
		f->to_us = last_utc;
	{
		char old[1280];

		snprintf(old, sizeof(old), "%s", f->path);
		name_file(e, f);
		snprintf(f->path, sizeof(f->path), "%s/%s", e->dir, f->name);
		if (rename(old, f->path) < 0) {
			ret = -vg_err_from_errno(errno);
			why(e, "cannot name %s: %s", f->name, vg_strerror(ret));
			return ret;
		}
	}
	ret = pool_submit(&e->pool, f, 0);
	return ret;
}

/* ---- documents ---- */

static json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static json_object *jtime(int64_t us)
{
	char b[40];

	vg_time_format(us, b, sizeof(b));
	return json_object_new_string(b);
}

struct coc {
	struct exp *e;
	json_object *arr;
	const char *camera;
	size_t camlen;
};

/* "camera=NAME" as a whole token in an audit row's object. */
static int mentions_camera(const char *obj, const char *cam, size_t camlen)
{
	const char *p = obj;

	while ((p = strstr(p, "camera=")) != NULL) {
		const char *v = p + 7;

		if ((p == obj || p[-1] == ' ' || p[-1] == ',') && strncmp(v, cam, camlen) == 0 &&
		    (v[camlen] == '\0' || v[camlen] == ' ' || v[camlen] == ','))
			return 1;
		p = v;
	}
	return 0;
}

/* The value of "key=" as a whole token of an audit object, or 0. */
static int token(const char *obj, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = obj;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == obj || p[-1] == ' ') && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, " ");

			if (n >= len)
				return 0;
			memcpy(out, p + kl + 1, n);
			out[n] = '\0';
			return 1;
		}
		p += kl;
	}
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct clip_clock *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* e->clk: every clip of the runs, sorted by id, clock state unknown. */
static int index_clips(struct exp *e)
{
	int n = 0, k = 0;

	for (int i = 0; i < e->nruns; i++)
		n += e->runs[i].n;
	e->clk = calloc((size_t)(n ? n : 1), sizeof(*e->clk));
	if (e->clk == NULL)
		return -VG_ENOMEM;
	for (int i = 0; i < e->nruns; i++)
		for (int j = 0; j < e->runs[i].n; j++) {
			e->clk[k].id = e->runs[i].clips[j].id;
			e->clk[k++].state = CLOCK_UNKNOWN;
		}
	e->nclk = n;
	qsort(e->clk, (size_t)n, sizeof(*e->clk), by_id);
	return 0;
}

/* The exported clip id, or NULL if it is not in the export. */
static struct clip_clock *exported_clip(struct exp *e, int64_t id)
{
	struct clip_clock key = { .id = id };

	return e->nclk ? bsearch(&key, e->clk, (size_t)e->nclk, sizeof(key), by_id) : NULL;
}

/*
 * Does an audit row of the camera concern this export? A row about a clip
 * ("clip=ID": recorded, viewed) if the clip is exported; a row about a
 * time range ("from=... to=...": holds, listings, other exports) if the
 * range overlaps the request; any other row (the camera lost, started,
 * reconfigured) if it was written during the requested time. The rest of
 * the camera's history is not this recipient's business.
 */
static int concerns_export(struct exp *e, const struct vg_audit_entry *r)
{
	char v[64];
	int64_t from, to;

	if (token(r->object, "clip", v, sizeof(v))) {
		struct clip_clock *c = exported_clip(e, strtoll(v, NULL, 10));
		char clk[32];

		if (c == NULL)
			return 0;
		if (strcmp(r->action, "clip.create") == 0 && token(r->object, "clock", clk, sizeof(clk)))
			c->state = strcmp(clk, "synchronised") == 0 ? CLOCK_SYNCED : CLOCK_UNSYNCED;
		return 1;
	}
	if (token(r->object, "from", v, sizeof(v)) && vg_time_parse(v, 0, &from) == 0 &&
	    token(r->object, "to", v, sizeof(v)) && vg_time_parse(v, 0, &to) == 0)
		return from < e->req->to_us && to > e->req->from_us;
	return r->time_us >= e->req->from_us && r->time_us < e->req->to_us;
}

static int coc_row(const struct vg_audit_entry *r, void *ud)
{
	struct coc *c = ud;
	json_object *o;
	char h[65];

	if (!mentions_camera(r->object, c->camera, c->camlen) || !concerns_export(c->e, r))
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "seq", json_object_new_int64(r->seq));
	json_object_object_add(o, "time", jtime(r->time_us));
	json_object_object_add(o, "uid", json_object_new_int64(r->uid));
	json_object_object_add(o, "login", jstr(r->login));
	json_object_object_add(o, "role", jstr(r->role));
	json_object_object_add(o, "action", jstr(r->action));
	json_object_object_add(o, "object", jstr(r->object));
	json_object_object_add(o, "purpose", jstr(r->purpose));
	json_object_object_add(o, "reference", jstr(r->reference));
	json_object_object_add(o, "outcome", jstr(r->outcome));
	json_object_object_add(o, "reason", jstr(r->reason));
	vg_hex(r->prev_hash, VG_AUDIT_HASH_LEN, h);
	json_object_object_add(o, "prev_hash", json_object_new_string(h));
	vg_hex(r->hash, VG_AUDIT_HASH_LEN, h);
	json_object_object_add(o, "hash", json_object_new_string(h));
	json_object_array_add(c->arr, o);
	return 0;
}

static int write_json(struct exp *e, const char *name, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	char *buf;
	int ret;

	if (s == NULL)
		return -VG_ENOMEM;
	/* json-c ends without a newline; text tools expect one */
	if (asprintf(&buf, "%s\n", s) < 0)
		return -VG_ENOMEM;
	ret = write_small(e, name, buf, strlen(buf));
	free(buf);
	return ret;
}

static int write_custody(struct exp *e)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	int ret = index_clips(e);

	json_object_object_add(root, "note",
			       jstr("Audit log rows of this device that concern this footage, in "
				    "order: the exported clips (recorded, viewed), holds and exports "
				    "of these cameras whose time overlaps it, and other events of "
				    "these cameras during it. Rows are chained by hash to rows not "
				    "shown here; the device's whole log can be checked with "
				    "'vigilctl audit verify'. See docs/audit-format.md."));
	for (int i = 0; i < e->req->n_cameras && e->ctx->audit && ret == 0; i++) {
		struct vg_audit_filter flt = { 0 };
		struct coc c = { e, arr, e->req->cameras[i].name,
				 strlen(e->req->cameras[i].name) };

		flt.camera = c.camera;
		ret = vg_audit_query(e->ctx->audit, &flt, coc_row, &c);
	}
	json_object_object_add(root, "rows", arr);
	if (ret == 0)
		ret = write_json(e, "chain-of-custody.json", root);
	else
		why(e, "reading the audit log failed: %s", vg_strerror(ret));
	json_object_put(root);
	return ret;
}

/* 1 if any exported video is from the synthetic test camera. */
static int any_synthetic(const struct exp *e)
{
	for (int i = 0; i < e->nfiles; i++)
		if (e->files[i].synthetic)
			return 1;
	return 0;
}

/* Seconds as a JSON number rounded to the millisecond: 22.8, not
 * 22.800000000000001. */
static json_object *seconds_json(int64_t us)
{
	char txt[40];
	size_t n;

	snprintf(txt, sizeof(txt), "%.3f", (double)us / 1e6);
	n = strlen(txt);
	while (n > 1 && txt[n - 1] == '0' && txt[n - 2] != '.')
		txt[--n] = '\0';
	if (n > 2 && txt[n - 1] == '0' && txt[n - 2] == '.')
		txt[n -= 2] = '\0';
	return json_object_new_double_s((double)us / 1e6, txt);
}

static int write_readme(struct exp *e, const char *fpr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char from[40], to[40];
	int ret;

	if (m == NULL)
		return -VG_ENOMEM;
	vg_time_format(e->whole_from_us, from, sizeof(from));
	vg_time_format(e->whole_to_us, to, sizeof(to));
	if (any_synthetic(e))
		fprintf(m, "SYNTHETIC TEST FOOTAGE: %s. It is not evidence of anything.\n\n",
			VG_EXPORT_SYNTHETIC_LABEL);
	fprintf(m,
		"CCTV EVIDENCE EXPORT  -  reference %s\n"
		"=====================================================================\n\n"
		"Site:      %s\n"
		"Recipient: %s\n"
		"Requested: %s to %s (all times are UTC)\n\n",
		e->req->reference, e->req->site_name ? e->req->site_name : "(not set)",
		e->req->recipient,
		from, to);
	if (e->disc_of > 1) {
		vg_time_format(e->req->from_us, from, sizeof(from));
		vg_time_format(e->req->to_us, to, sizeof(to));
		fprintf(m,
			"THIS IS DISC %d OF %d. The footage did not fit on one disc, so it was\n"
			"split by time. This disc holds %s to %s and can be\n"
			"played and checked on its own; the other discs hold the rest.\n\n",
			e->disc_no, e->disc_of, from, to);
	}
	fprintf(m,
		"WHAT IS HERE\n"
		"  *.mp4                  The recorded video, one file per camera for each\n"
		"                         unbroken stretch of recording. File names give the\n"
		"                         camera and the UTC start and end time.\n");
	if (e->req->n_redactions > 0)
		fprintf(m,
			"                         These files are REDACTED WORKING COPIES: parts of\n"
			"                         the picture were blanked out and the video was\n"
			"                         re-encoded. They are not the original recording.\n");
	else
		fprintf(m,
			"                         These hold the camera's original encoded pictures,\n"
			"                         unchanged (copied, not re-encoded).\n");
	fprintf(m,
		"  manifest.json          What was exported, by whom, when, and why; the\n"
		"                         fingerprint (SHA-256) of every file; gaps in recording.\n"
		"  manifest.json.sig      The recording device's digital signature of the manifest.\n"
		"  device-public-key.pem  The device's public key, to check that signature.\n"
		"  chain-of-custody.json  The device's audit log entries for these cameras.\n"
		"  SHA256SUMS             The SHA-256 fingerprint of every other file.\n"
		"  README.txt             This file.\n\n"
		"HOW TO PLAY THE VIDEO\n"
		"  Windows: double-click a .mp4 file (Films & TV / Media Player), or use VLC.\n"
		"  macOS:   QuickTime Player or VLC.   Linux: VLC or any video player.\n"
		"  Do not save the files again from an editor: that changes them.\n\n"
		"HOW TO CHECK NOTHING WAS CHANGED\n"
		"  1. Check every file against SHA256SUMS (open a terminal in this folder).\n"
		"     Linux:   sha256sum -c SHA256SUMS             (every line must say OK)\n"
		"     macOS:   shasum -a 256 -c SHA256SUMS\n"
		"     Windows: certutil -hashfile FILE SHA256      (for each FILE; compare the\n"
		"              result with the line for FILE in SHA256SUMS; case does not matter)\n"
		"  2. Check the device's signature on the manifest (OpenSSL; on Windows it\n"
		"     comes with Git for Windows, or use WSL):\n"
		"     openssl dgst -sha256 -verify device-public-key.pem \\\n"
		"         -signature manifest.json.sig manifest.json\n"
		"     It must print \"Verified OK\".\n"
		"  3. Confirm the key is really the device's: compare this fingerprint with the\n"
		"     one the sending organisation gives you separately, not from this medium:\n"
		"     on the request or disclosure form, on the label on the recorder, or read\n"
		"     out by phone from the recorder ('vigilctl key show' or 'vigilctl status'):\n"
		"     %s\n"
		"     With vigil's tool: vigilctl verify FOLDER --fingerprint THAT-FINGERPRINT\n"
		"     says whether the export was signed by that recorder.\n"
		"     To compute it yourself:\n"
		"     openssl pkey -pubin -in device-public-key.pem -outform DER | sha256sum\n"
		"     (macOS: ... | shasum -a 256)\n"
		"  Together these prove the files are exactly what the device exported.\n",
		fpr);
	if (fclose(m) != 0) {
		free(buf);
		return -VG_ENOMEM;
	}
	ret = write_small(e, "README.txt", buf, len);
	free(buf);
	return ret;
}

static void list_gaps(struct exp *e)
{
	for (int ci = 0; ci < e->req->n_cameras; ci++) {
		const char *cam = e->req->cameras[ci].name;
		int64_t at = e->req->from_us;

		for (int i = 0; i <= e->nfiles; i++) {
			const struct outfile *f = i < e->nfiles ? &e->files[i] : NULL;
			int64_t next = f ? f->from_us : e->req->to_us;
			struct gap *g;

			if (f && (!f->video || strcmp(f->camera, cam) != 0))
				continue;
			if (next > at) {
				struct gap *ng = realloc(e->gaps, (size_t)(e->ngaps + 1) * sizeof(*ng));

				if (ng == NULL)
					return;
				e->gaps = ng;
				g = &ng[e->ngaps++];
				memset(g, 0, sizeof(*g));
				snprintf(g->camera, sizeof(g->camera), "%s", cam);
				g->from_us = at;
				g->to_us = next;
				snprintf(g->reason, sizeof(g->reason), "no recording");
				for (int k = 0; k < e->ncgaps; k++) {
					const struct vg_gap *cg = &e->cgaps[k];

					if (strcmp(cg->camera, cam) == 0 && cg->from_us < next &&
					    (cg->to_us == 0 || cg->to_us > at) && cg->reason[0])
						snprintf(g->reason, sizeof(g->reason), "%s", cg->reason);
				}
			}
			if (f && f->to_us > at)
				at = f->to_us;
		}
	}
	e->res->runs_gaps = e->ngaps;
}

/* Count the clock state of the clips in a video file (those of its run
 * that overlap the file's time). */
static void tally_clock(struct exp *e, struct outfile *f)
{
	const struct run *r = &e->runs[f->run];

	f->clk_synced = f->clk_unsynced = f->clk_unknown = 0;
	for (int j = 0; j < r->n; j++) {
		const struct vg_clip *c = &r->clips[j];
		const struct clip_clock *k;

		if (c->end_us <= f->from_us || c->start_us >= f->to_us)
			continue;
		k = exported_clip(e, c->id);
		if (k == NULL || k->state == CLOCK_UNKNOWN)
			f->clk_unknown++;
		else if (k->state == CLOCK_SYNCED)
			f->clk_synced++;
		else
			f->clk_unsynced++;
	}
}

static json_object *clock_words(const struct outfile *f)
{
	char b[96];
	int n = f->clk_synced + f->clk_unsynced + f->clk_unknown;

	if (n > 0 && f->clk_synced == n)
		return jstr("synchronised");
	if (f->clk_unsynced > 0)
		snprintf(b, sizeof(b), "NOT synchronised while %d of its %d clips were recorded",
			 f->clk_unsynced, n);
	else
		snprintf(b, sizeof(b), "unknown for %d of its %d clips", f->clk_unknown, n);
	return jstr(b);
}

static int write_manifest(struct exp *e, const char *fpr, const char *pem)
{
	const struct vg_export_request *q = e->req;
	json_object *root = json_object_new_object(), *a, *o;
	struct vg_audit_checkpoint cp;
	uint8_t digest[VG_SIGN_DIGEST_LEN], sig[VG_SIGN_MAX_SIG];
	size_t siglen;
	int64_t dfrom = 0, dto = 0;
	char h[65];
	int ret = 0;

	json_object_object_add(root, "format", jstr("vigil-export"));
	json_object_object_add(root, "format_version", json_object_new_int(1));
	json_object_object_add(root, "reference", jstr(q->reference));
	json_object_object_add(root, "recipient", jstr(q->recipient));
	json_object_object_add(root, "reason", jstr(q->reason));
	json_object_object_add(root, "police_decision", jstr(q->police_decision));
	json_object_object_add(root, "victim_wishes", jstr(q->victim_wishes));
	o = json_object_new_object();
	json_object_object_add(o, "login", jstr(q->exporter_login));
	json_object_object_add(o, "name", jstr(q->exporter_name));
	json_object_object_add(root, "exporter", o);
	json_object_object_add(root, "export_time", jtime(e->now_us));
	json_object_object_add(root, "site", jstr(q->site_name));
	o = json_object_new_object();
	json_object_object_add(o, "id", jstr(q->device_id));
	json_object_object_add(o, "firmware_version", jstr(q->firmware_version));
	json_object_object_add(o, "public_key_file", jstr("device-public-key.pem"));
	json_object_object_add(o, "public_key_sha256", jstr(fpr));
	json_object_object_add(root, "device", o);
	a = json_object_new_array();
	for (int i = 0; i < q->n_cameras; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "name", jstr(q->cameras[i].name));
		json_object_object_add(o, "purpose", jstr(q->cameras[i].purpose));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "cameras", a);
	o = json_object_new_object();
	json_object_object_add(o, "from", jtime(e->whole_from_us));
	json_object_object_add(o, "to", jtime(e->whole_to_us));
	json_object_object_add(root, "requested", o);
	/* An image: which disc of the set this is and the time it covers. */
	if (e->disc_of > 0) {
		o = json_object_new_object();
		json_object_object_add(o, "number", json_object_new_int(e->disc_no));
		json_object_object_add(o, "of", json_object_new_int(e->disc_of));
		json_object_object_add(o, "from", jtime(q->from_us));
		json_object_object_add(o, "to", jtime(q->to_us));
		json_object_object_add(root, "disc", o);
	}
	for (int i = 0; i < e->nfiles; i++) {
		if (!e->files[i].video)
			continue;
		if (dfrom == 0 || e->files[i].from_us < dfrom)
			dfrom = e->files[i].from_us;
		if (e->files[i].to_us > dto)
			dto = e->files[i].to_us;
	}
	e->res->delivered_from_us = dfrom;
	e->res->delivered_to_us = dto;
	o = json_object_new_object();
	json_object_object_add(o, "from", jtime(dfrom));
	json_object_object_add(o, "to", jtime(dto));
	json_object_object_add(o, "note", jstr("Each file starts at the keyframe at or before the "
					       "requested start, so its first picture can be shown."));
	json_object_object_add(root, "delivered", o);
	json_object_object_add(root, "clock_sync", jstr(q->clock_sync ? q->clock_sync : "unknown"));
	{
		int sy = 0, un = 0, uk = 0;

		for (int i = 0; i < e->nfiles; i++) {
			if (!e->files[i].video)
				continue;
			tally_clock(e, &e->files[i]);
			sy += e->files[i].clk_synced;
			un += e->files[i].clk_unsynced;
			uk += e->files[i].clk_unknown;
		}
		o = json_object_new_object();
		json_object_object_add(o, "synchronised", json_object_new_int(sy));
		json_object_object_add(o, "not_synchronised", json_object_new_int(un));
		json_object_object_add(o, "unknown", json_object_new_int(uk));
		json_object_object_add(o, "note", jstr("The recorder's clock as each clip was "
						       "recorded (NTP), from the clips' audit rows "
						       "in chain-of-custody.json."));
		json_object_object_add(root, "clips_clock_sync", o);
	}
	json_object_object_add(root, "redacted_working_copy",
			       json_object_new_boolean(q->n_redactions > 0));
	if (q->n_redactions > 0)
		json_object_object_add(root, "redaction_note",
				       jstr("The video files are REDACTED WORKING COPIES: regions "
					    "were blanked and the video re-encoded. They are not "
					    "the master exhibit."));
	a = json_object_new_array();
	for (int i = 0; i < e->nfiles; i++) {
		const struct outfile *f = &e->files[i];

		o = json_object_new_object();
		json_object_object_add(o, "name", jstr(f->name));
		json_object_object_add(o, "type", jstr(f->video ? "video" : "document"));
		vg_hex(f->sha, VG_SHA256_LEN, h);
		json_object_object_add(o, "sha256", jstr(h));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)f->size));
		if (f->video) {
			json_object_object_add(o, "camera", jstr(f->camera));
			json_object_object_add(o, "from", jtime(f->from_us));
			json_object_object_add(o, "to", jtime(f->to_us));
			json_object_object_add(o, "duration_seconds", seconds_json(f->duration_us));
			json_object_object_add(o, "synthetic", json_object_new_boolean(f->synthetic));
			json_object_object_add(o, "frames", json_object_new_int64(f->frames));
			json_object_object_add(o, "codec", jstr("h264"));
			json_object_object_add(o, "width", json_object_new_int(f->width));
			json_object_object_add(o, "height", json_object_new_int(f->height));
			json_object_object_add(o, "source_clips", json_object_new_int(f->clips));
			json_object_object_add(o, "clock_sync", clock_words(f));
			json_object_object_add(o, "content",
					       jstr(f->redacted ? "redacted working copy (re-encoded)"
								: "original encoded frames, remuxed"));
		}
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "files", a);
	a = json_object_new_array();
	for (int i = 0; i < e->ngaps; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "camera", jstr(e->gaps[i].camera));
		json_object_object_add(o, "from", jtime(e->gaps[i].from_us));
		json_object_object_add(o, "to", jtime(e->gaps[i].to_us));
		json_object_object_add(o, "reason", jstr(e->gaps[i].reason));
		json_object_array_add(a, o);
	}
	json_object_object_add(root, "gaps", a);
	if (e->ctx->audit) {
		char b64[AV_BASE64_SIZE(VG_SIGN_MAX_SIG)];

		ret = vg_audit_checkpoint(e->ctx->audit, &cp);
		if (ret < 0) {
			why(e, "cannot sign an audit checkpoint: %s", vg_strerror(ret));
			goto out;
		}
		o = json_object_new_object();
		json_object_object_add(o, "seq", json_object_new_int64(cp.seq));
		vg_hex(cp.hash, VG_AUDIT_HASH_LEN, h);
		json_object_object_add(o, "hash", jstr(h));
		json_object_object_add(o, "time", jtime(cp.time_us));
		av_base64_encode(b64, sizeof(b64), cp.sig, (int)cp.sig_len);
		json_object_object_add(o, "signature_base64", jstr(b64));
		json_object_object_add(root, "audit_checkpoint", o);
	} else {
		json_object_object_add(root, "audit_checkpoint", NULL);
	}
	o = json_object_new_object();
	json_object_object_add(o, "file", jstr("manifest.json.sig"));
	json_object_object_add(o, "algorithm", jstr("ECDSA P-256 over SHA-256(manifest.json), DER"));
	json_object_object_add(o, "public_key_pem", jstr(pem));
	json_object_object_add(root, "signature", o);
	ret = write_json(e, "manifest.json", root);
	if (ret < 0)
		goto out;
	memcpy(digest, e->files[e->nfiles - 1].sha, sizeof(digest));
	vg_hex(digest, sizeof(digest), e->res->manifest_sha256);
	ret = vg_sign_digest(e->ctx->key, digest, sig, sizeof(sig), &siglen);
	if (ret < 0) {
		why(e, "signing the manifest failed: %s", vg_strerror(ret));
		goto out;
	}
	ret = write_small(e, "manifest.json.sig", sig, siglen);
out:
	json_object_put(root);
	return ret;
}

static int write_sums(struct exp *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char h[65];
	int ret;

	if (m == NULL)
		return -VG_ENOMEM;
	for (int i = 0; i < e->nfiles; i++) {
		vg_hex(e->files[i].sha, VG_SHA256_LEN, h);
		fprintf(m, "%s  %s\n", h, e->files[i].name);
	}
	if (fclose(m) != 0) {
		free(buf);
		return -VG_ENOMEM;
	}
	ret = write_small(e, "SHA256SUMS", buf, len);
	free(buf);
	return ret;
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
		if (write_all(fd, buf, strlen(buf)) == 0)
			fsync(fd);
		close(fd);
	}
	free(buf);
	fsync_path(e->dir, 1);
}

/* ---- the folder export ---- */

static int export_folder(struct exp *e, uint64_t estimate)
{
	char pem[VG_SIGN_PEM_MAX], fpr[VG_SIGN_FPR_HEX_LEN];
	int given = e->req->given && !e->staging;
	struct statvfs sv;
	struct stat st;
	double t0;
	int ret;

	e->dir_fd = -1;
	snprintf(e->final_dir, sizeof(e->final_dir), "%s/%s", e->dest, e->ref);
	snprintf(e->dir_name, sizeof(e->dir_name), "%s/%s.incomplete", e->dest, e->ref);
	snprintf(e->res->path, sizeof(e->res->path), "%s", e->final_dir);
	if (!given && (stat(e->final_dir, &st) == 0 || stat(e->dir_name, &st) == 0)) {
		why(e, "%s (or its .incomplete folder) already exists", e->final_dir);
		return -VG_EEXIST;
	}
	if ((given ? fstatvfs(e->req->folder_fd, &sv) : statvfs(e->dest, &sv)) < 0) {
		ret = -vg_err_from_errno(errno);
		why(e, "cannot use %s: %s", e->dest, vg_strerror(ret));
		return ret;
	}
	if ((uint64_t)sv.f_bavail * sv.f_frsize < estimate) {
		why(e, "%s has %llu MB free; this export needs about %llu MB", e->dest,
		    (unsigned long long)((uint64_t)sv.f_bavail * sv.f_frsize / 1000000),
		    (unsigned long long)(estimate / 1000000));
		return -VG_ENOSPC;
	}
	ret = vg_sign_pubkey_pem(e->ctx->key, pem, sizeof(pem));
	if (ret == 0)
		ret = vg_sign_fingerprint(e->ctx->key, fpr);
	if (ret < 0) {
		why(e, "cannot read the device key: %s", vg_strerror(ret));
		return ret;
	}
	if (given) {
		/* vigilctl made the folder with the requester's rights */
		e->dir_fd = fcntl(e->req->folder_fd, F_DUPFD_CLOEXEC, 3);
	} else if (mkdir(e->dir_name, 0755) == 0) {
		e->dir_fd = open(e->dir_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		ret = -vg_err_from_errno(errno);
		why(e, "cannot create %s: %s", e->dir_name, vg_strerror(ret));
		return ret;
	}
	if (e->dir_fd < 0) {
		ret = -vg_err_from_errno(errno);
		why(e, "cannot open %s: %s", e->dir_name, vg_strerror(ret));
		return ret;
	}
	snprintf(e->dir, sizeof(e->dir), "/proc/self/fd/%d", e->dir_fd);
	snprintf(e->res->path, sizeof(e->res->path), "%s", e->dir_name);
	t0 = mono_s();
	ret = pool_start(&e->pool, e, 1);
	for (int i = 0; i < e->nruns && ret == 0; i++)
		ret = export_run(e, &e->runs[i], 0);
	if (ret == 0) {
		ret = pool_wait(&e->pool);
		if (ret < 0)
			why(e, "writing %s failed: %s", e->pool.bad, vg_strerror(ret));
	}
	for (int i = 0; i < e->nfiles && ret == 0; i++) {
		if (e->files[i].video) {
			e->res->files++;
			e->res->bytes += e->files[i].size;
			ret = finish_file(e, &e->files[i]);
		}
	}
	if (ret == 0 && e->res->files == 0) {
		why(e, "no footage of these cameras in the requested time range");
		ret = -VG_ENOENT;
	}
	if (ret == 0) {
		list_gaps(e);
		ret = write_custody(e);
	}
	if (ret == 0)
		ret = write_small(e, "device-public-key.pem", pem, strlen(pem));
	if (ret == 0)
		ret = write_readme(e, fpr);
	if (ret == 0)
		ret = write_manifest(e, fpr, pem);
	if (ret == 0)
		ret = write_sums(e);
	if (ret == 0)
		ret = fsync_path(e->dir, 1);
	e->res->write_seconds = mono_s() - t0;
	pool_stop(&e->pool);
	if (ret < 0)
		goto fail;
	/* Read everything back from the medium, two files at a time. */
	t0 = mono_s();
	ret = pool_start(&e->pool, e, 2);
	for (int i = 0; i < e->nfiles && ret == 0; i++)
		ret = pool_submit(&e->pool, &e->files[i], 1);
	if (ret == 0)
		ret = pool_wait(&e->pool);
	pool_stop(&e->pool);
	e->res->readback_seconds = mono_s() - t0;
	if (ret < 0) {
		why(e, "%s reads back different from what was written: the medium is faulty "
		    "(%s)", e->pool.bad, vg_strerror(ret));
		goto fail;
	}
	/* vigild runs with umask 077 (its own files are for nobody else); the
	 * medium is for the recipient: files 0644, the folder 0755. */
	open_up(e->dir_fd);
	if (given) {
		/* The requester's vigilctl renames its folder once told it is
		 * good: vigild may not write in the folder around it. */
		snprintf(e->res->path, sizeof(e->res->path), "%s", e->final_dir);
		return 0;
	}
	if (rename(e->dir_name, e->final_dir) < 0) {
		ret = -vg_err_from_errno(errno);
		why(e, "cannot rename the finished folder: %s", vg_strerror(ret));
		goto fail;
	}
	snprintf(e->res->path, sizeof(e->res->path), "%s", e->final_dir);
	ret = fsync_path(e->dest, 1);
	if (ret < 0)
		why(e, "fsync of %s failed", e->dest);
	return ret;
fail:
	pool_stop(&e->pool);
	mark_incomplete(e, ret);
	return ret;
}

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

static int write_iso(struct exp *e, const char *iso, int given_fd, uint64_t limit)
{
	IsoImage *img = NULL;
	IsoWriteOpts *opts = NULL;
	IsoDir *d = NULL;
	struct burn_source *bs = NULL;
	struct vg_sha256 s;
	uint8_t sha[VG_SHA256_LEN], back[VG_SHA256_LEN];
	unsigned char *buf = malloc(64 * 2048);
	char tmp[1100], vol[33], tree[1210];
	uint64_t n = 0, nback = 0;
	int fd = -1, ret = 0, inited = 0;

	snprintf(tmp, sizeof(tmp), "%s.incomplete", iso);
	/* The staged folder by its descriptor ("/." so that libisofs sees a
	 * folder, not the /proc link): its name could be swapped meanwhile. */
	snprintf(tree, sizeof(tree), "%s/.", e->dir);
	volume_id(e->ref, any_synthetic(e), vol);
	if (buf == NULL)
		return -VG_ENOMEM;
	if (vg_isofs_get() < 0) {
		ret = -VG_EFORMAT;
		goto out;
	}
	inited = 1;
	if (iso_image_new(vol, &img) < 0 || iso_write_opts_new(&opts, 0) < 0) {
		ret = -VG_ENOMEM;
		goto out;
	}
	iso_image_set_volume_id(img, vol);
	iso_image_set_application_id(img, "VIGIL EVIDENCE EXPORT");
	iso_tree_set_follow_symlinks(img, 0);
	iso_tree_set_ignore_hidden(img, 0);
	if (iso_tree_add_new_dir(iso_image_get_root(img), e->ref, &d) < 0 ||
	    iso_tree_add_dir_rec(img, d, tree) < 0) {
		why(e, "cannot add the export folder to the ISO image");
		ret = -VG_EIO;
		goto out;
	}
	iso_write_opts_set_iso_level(opts, 3);	/* files over 4 GiB in several extents */
	iso_write_opts_set_rockridge(opts, 1);
	iso_write_opts_set_joliet(opts, 1);
	iso_write_opts_set_always_gmt(opts, 1);
	if (iso_image_create_burn_source(img, opts, &bs) < 0) {
		ret = -VG_EFORMAT;
		goto out;
	}
	if ((uint64_t)bs->get_size(bs) > limit) {
		why(e, "the image (%llu MB) came out larger than estimated and does not fit on "
		    "a disc of %llu MB: export a shorter time range",
		    (unsigned long long)((uint64_t)bs->get_size(bs) / 1000000),
		    (unsigned long long)(limit / 1000000));
		ret = -VG_EFORMAT;
		goto out;
	}
	if (given_fd >= 0) {
		/* vigilctl made the image with the requester's rights; it
		 * renames it once told it is good */
		fd = fcntl(given_fd, F_DUPFD_CLOEXEC, 3);
		snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d", fd);
	} else {
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		ret = -vg_err_from_errno(errno);
		why(e, "cannot create %s: %s", tmp, vg_strerror(ret));
		goto out;
	}
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
		n += have;
		if (ret == 0)
			ret = write_all(fd, buf, have);
		if (ret < 0)
			why(e, "writing the ISO image failed: %s", vg_strerror(ret));
	}
	if (vg_sha256_final(&s, sha) < 0 && ret == 0)
		ret = -VG_ECRYPTO;
	if (ret == 0 && fsync(fd) < 0)
		ret = -vg_err_from_errno(errno);
	if (ret == 0 && e->ctx->fault && e->ctx->fault(tmp, e->ctx->fault_ud) != 0) {
		why(e, "writing the ISO image failed");
		ret = -VG_EIO;
	}
	if (ret == 0)
		ret = hash_fd(e, fd, 1, back, &nback);
	close(fd);
	fd = -1;
	if (ret == 0 && (nback != n || !vg_crypto_equal(sha, back, sizeof(sha)))) {
		why(e, "the ISO image reads back different from what was written");
		ret = -VG_EAUTH;
	}
	if (given_fd >= 0) {
		snprintf(e->res->path, sizeof(e->res->path), "%s%s", iso,
			 ret == 0 ? "" : ".incomplete");
		goto out;
	}
	if (ret == 0 && chmod(tmp, 0644) < 0)
		ret = -vg_err_from_errno(errno);
	if (ret == 0 && rename(tmp, iso) < 0)
		ret = -vg_err_from_errno(errno);
	if (ret == 0) {
		char dir[1100];

		dir_of(iso, dir, sizeof(dir));
		ret = fsync_path(dir, 1);
		snprintf(e->res->path, sizeof(e->res->path), "%s", iso);
	} else {
		snprintf(e->res->path, sizeof(e->res->path), "%s", tmp);
	}
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

static int export_iso(struct exp *e, uint64_t estimate, int image_fd)
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
			why(e, "%s (or %s) already exists", iso, tmp);
			return -VG_EEXIST;
		}
		snprintf(stage, sizeof(stage), "%s.staging", iso);
		if (mkdir(stage, 0700) < 0) {
			ret = -vg_err_from_errno(errno);
			why(e, "cannot create %s: %s", stage, vg_strerror(ret));
			return ret;
		}
	}
	snprintf(e->dest, sizeof(e->dest), "%s", stage);
	e->staging = 1;
	/* room for the staged folder and the image beside it */
	ret = export_folder(e, estimate * 2);
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
static void free_runs(struct exp *e)
{
	for (int i = 0; i < e->nruns; i++)
		free(e->runs[i].clips);
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

/* The clips of the request, for sizing discs: start time and a bound on
 * what the clip becomes in an exported MP4 (its encrypted size exceeds its
 * packets; each picture adds a few moov table entries). */
struct clip_cost {
	int64_t start_us;
	uint64_t bytes;		/* without the moov base */
	int first;		/* starts its run: a new file */
};

static int by_start(const void *a, const void *b)
{
	const struct clip_cost *x = a, *y = b;

	return x->start_us < y->start_us ? -1 : x->start_us > y->start_us;
}

/*
 * Split the request over discs of limit bytes: cut[0..n] with cut[0] the
 * request's start and cut[n] its end; each disc holds the clips that start
 * in [cut[k], cut[k+1]). Cuts fall on clip starts, which are keyframes, so
 * a camera's file on one disc ends where the next disc's begins. Returns
 * the number of discs, or a negative code (a single clip larger than a
 * disc: -VG_EFORMAT).
 */
/* Room on a disc for footage: 5 % and 512 KiB are kept for the file
 * system, the documents and the rounding in the estimate. */
static uint64_t disc_budget(uint64_t limit)
{
	uint64_t keep = limit / 20 + 512 * 1024;

	return limit > keep ? limit - keep : 0;
}

static int plan_discs(struct exp *e, uint64_t limit, int64_t *cut, int max)
{
	uint64_t budget = disc_budget(limit), acc = 0;
	struct clip_cost *cc;
	int n = 0, k = 0;

	for (int i = 0; i < e->nruns; i++)
		n += e->runs[i].n;
	cc = calloc((size_t)(n ? n : 1), sizeof(*cc));
	if (cc == NULL)
		return -VG_ENOMEM;
	for (int i = 0; i < e->nruns; i++) {
		for (int j = 0; j < e->runs[i].n; j++) {
			const struct vg_clip *c = &e->runs[i].clips[j];

			cc[k].start_us = c->start_us;
			cc[k].bytes = (uint64_t)c->bytes + (uint64_t)(c->frames > 0 ? c->frames : 0) *
							   MOOV_PER_FRAME;
			cc[k].first = j == 0;
			k++;
		}
	}
	qsort(cc, (size_t)n, sizeof(*cc), by_start);
	cut[0] = e->req->from_us;
	k = 1;
	for (int i = 0; i < n; i++) {
		/* on a disc of its own, a clip starts a file */
		if (cc[i].bytes + MOOV_BASE > budget) {
			why(e, "one clip (%.1f MB) is larger than a disc of %.1f MB; use a larger "
			    "disc (--disc-size) or export to a USB stick (--dest)",
			    (double)cc[i].bytes / 1e6, (double)limit / 1e6);
			free(cc);
			return -VG_EFORMAT;
		}
		if (acc > 0 && acc + cc[i].bytes > budget && cc[i].start_us > cut[k - 1]) {
			if (k == max) {
				why(e, "this export would need more than %d discs: export a shorter "
				    "time range, or to a USB stick (--dest)", max - 1);
				free(cc);
				return -VG_EFORMAT;
			}
			cut[k++] = cc[i].start_us;
			/* every camera's run that continues starts a new file */
			acc = (uint64_t)e->req->n_cameras * MOOV_BASE;
		} else if (cc[i].first) {
			acc += MOOV_BASE;
		}
		acc += cc[i].bytes;
	}
	cut[k] = e->req->to_us;
	free(cc);
	return k;
}

/* Export one request (a whole folder, or one disc's image). */
static int export_once(struct exp *e)
{
	uint64_t estimate;
	int ret;

	e->dir_fd = -1;
	e->files = calloc(MAX_FILES, sizeof(*e->files));
	if (e->files == NULL)
		return -VG_ENOMEM;
	ret = build_runs(e, &estimate);
	if (ret < 0) {
		why(e, "reading the catalog failed: %s", vg_strerror(ret));
		return ret;
	}
	if (e->nruns == 0) {
		why(e, "no footage of these cameras in the requested time range");
		return -VG_ENOENT;
	}
	/* Written once, read back once (the total grows if the guess was low;
	 * one disc of several counts on from the set's total). */
	if (e->total < e->done + estimate * 2)
		e->total = e->done + estimate * 2;
	estimate += 1024 * 1024;
	if (e->req->iso_path) {
		int k = e->disc_no > 0 ? e->disc_no : 1;

		ret = export_iso(e, estimate, e->req->given && k <= e->req->n_images ?
				 e->req->image_fds[k - 1] : -1);
	} else {
		snprintf(e->dest, sizeof(e->dest), "%s", e->req->dest_dir);
		ret = export_folder(e, estimate);
	}
	if (e->dir_fd >= 0)
		close(e->dir_fd);
	e->dir_fd = -1;
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

static int export_discs(const struct vg_export_ctx *ctx, const struct vg_export_request *req,
			struct vg_export_result *res, struct exp *whole, uint64_t limit,
			uint64_t estimate)
{
	int64_t cut[VG_EXPORT_MAX_DISCS + 1];
	struct vg_export_request part = *req;
	struct vg_export_result *one = calloc(1, sizeof(*one));
	char path[1100];
	int n, ret = 0;

	if (one == NULL)
		return -VG_ENOMEM;
	n = plan_discs(whole, limit, cut, VG_EXPORT_MAX_DISCS);
	if (n < 1) {	/* the caller planned already; this is the same plan */
		free(one);
		return n < 0 ? n : -VG_EINVAL;
	}
	for (int k = 1; k <= n; k++) {
		vg_export_disc_path(req->iso_path, k, n, path, sizeof(path));
		if (!req->given && access(path, F_OK) == 0) {
			snprintf(res->why, sizeof(res->why), "%s already exists", path);
			free(one);
			return -VG_EEXIST;
		}
	}
	/* Room for every image, and for one disc's staged folder beside them:
	 * checked before the first disc, so a set never stops half-way for
	 * want of space. */
	{
		char dir[1100];
		struct statvfs sv;
		uint64_t need = estimate + estimate / (uint64_t)n + 2 * 1024 * 1024;

		dir_of(req->iso_path, dir, sizeof(dir));
		if ((req->given ? fstatvfs(req->staging_fd, &sv) : statvfs(dir, &sv)) == 0 &&
		    (uint64_t)sv.f_bavail * sv.f_frsize < need) {
			snprintf(res->why, sizeof(res->why), "%s has %llu MB free; these %d disc "
				 "images need about %llu MB", dir,
				 (unsigned long long)((uint64_t)sv.f_bavail * sv.f_frsize / 1000000),
				 n, (unsigned long long)(need / 1000000));
			free(one);
			return -VG_ENOSPC;
		}
	}
	vg_info("export needs %d discs of %.1f MB: split by time", n, (double)limit / 1e6);
	res->discs = n;
	for (int k = 1; k <= n && ret == 0; k++) {
		struct exp e = { 0 };

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
		{
			char ref[VG_EXPORT_REF_MAX + 16];

			if (n > 1)
				snprintf(ref, sizeof(ref), "%s-disc%dof%d", whole->ref, k, n);
			else
				snprintf(ref, sizeof(ref), "%s", whole->ref);
			vg_export_folder_name(ref, e.ref);
		}
		ret = export_once(&e);
		whole->done = e.done;
		whole->total = e.total > whole->total ? e.total : whole->total;
		free_runs(&e);
		pthread_mutex_destroy(&e.prog_mu);
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
	free(one);
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
	ret = build_runs(&e, &estimate);
	if (ret == 0 && e.nruns == 0) {
		why(&e, "no footage of these cameras in the requested time range");
		ret = -VG_ENOENT;
	} else if (ret == 0) {
		int64_t cut[VG_EXPORT_MAX_DISCS + 1];

		ret = plan_discs(&e, limit, cut, VG_EXPORT_MAX_DISCS);
	}
	if (ret < 0 && why_out)
		snprintf(why_out, len, "%s", res->why[0] ? res->why : vg_strerror(ret));
	free_runs(&e);
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
		ret = export_once(&e);
		goto out;
	}
	/* An image: does it need more than one disc? */
	limit = req->disc_bytes > 0 ? (uint64_t)req->disc_bytes : (uint64_t)VG_EXPORT_DVD_BYTES;
	ret = build_runs(&e, &estimate);
	if (ret < 0) {
		why(&e, "reading the catalog failed: %s", vg_strerror(ret));
		goto out;
	}
	if (e.nruns == 0) {
		why(&e, "no footage of these cameras in the requested time range");
		ret = -VG_ENOENT;
		goto out;
	}
	{
		int64_t cut[VG_EXPORT_MAX_DISCS + 1];

		ret = plan_discs(&e, limit, cut, VG_EXPORT_MAX_DISCS);
		if (ret < 0)
			goto out;
	}
	if (ret == 1) {
		free_runs(&e);
		e.disc_no = e.disc_of = 1;
		res->discs = 1;
		ret = export_once(&e);
		snprintf(res->disc_manifest_sha256[0], sizeof(res->disc_manifest_sha256[0]), "%s",
			 res->manifest_sha256);
		goto out;
	}
	e.total = estimate * 2;
	ret = export_discs(ctx, req, res, &e, limit, estimate);
out:
	if (ret == 0)
		vg_info("exported %d video files, %llu bytes, to %s%s", res->files,
			(unsigned long long)res->bytes, res->path,
			res->discs > 1 ? " and the discs after it" : "");
	free_runs(&e);
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
