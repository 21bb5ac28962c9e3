/*
 * export_io.c - the export's files on the medium: creating a file in the
 * export folder, writing a small one whole (fsynced, hashed), hashing what
 * a descriptor holds, and the two-thread pool that checks each video as it
 * is written (reading it back from the medium right behind the muxer),
 * hashes it once it is muxed, and after the write reads back the rest.
 * Nothing is opened through a path that could be swapped for a symlink:
 * the folder may belong to the requester.
 */
#define VG_LOG_MODULE "EXP"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/aio_abi.h>

#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/export.h"
#include "vigil/log.h"

#include "export_impl.h"

/* The folder a path names a file in: "/a/b.iso" -> "/a", "/b.iso" -> "/",
 * "b.iso" -> ".". */
void exp_dir_of(const char *path, char *out, size_t len)
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

int exp_fsync_path(const char *path, int dir)
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

struct outfile *exp_new_file(struct exp *e, const char *name)
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

/* The test seam: what was read back from the medium, before it is compared. */
static void medium_seam(struct exp *e, const char *path, uint64_t off, uint8_t *buf,
			size_t len)
{
	if (e->ctx->medium)
		e->ctx->medium(path, off, buf, len, e->ctx->medium_ud);
}

/* Hash what fd holds from its start; with readback, first drop its cached
 * pages so the bytes come from the medium, not from memory. */
int exp_hash_fd(struct exp *e, int fd, int readback, const char *path,
		uint8_t out[VG_SHA256_LEN], uint64_t *size)
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
		if (readback)
			medium_seam(e, path, n, buf, (size_t)r);
		vg_sha256_update(&s, buf, (size_t)r);
		n += (uint64_t)r;
		if (readback)
			exp_progress(e, (uint64_t)r);
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
		ret = exp_hash_fd(e, fd, readback, path, out, size);
	close(fd);
	return ret;
}

/* Read f back whole from the medium and compare it with f->sha, f->size. */
static int read_back(struct exp *e, struct outfile *f)
{
	uint8_t sha[VG_SHA256_LEN];
	uint64_t size;
	int ret = hash_file(e, f->path, 1, sha, &size);

	if (ret == 0 && (size != f->size || !vg_crypto_equal(sha, f->sha, sizeof(sha))))
		ret = -VG_EAUTH;
	return ret;
}

/* ---- checking a video as it is written ---- */

/*
 * Pieces are handed over at page boundaries (a page the muxer is still
 * filling is never compared) and read CHECK_IO at a time. The first
 * SPOT_LEN bytes of every SPOT_STEP are kept as they were read back, and
 * read again at the end of the export (J_SPOT): a medium that loses data
 * after it was checked, or whose later writes land on earlier ones (a
 * stick that claims more room than it has), is caught there.
 */
#define CHECK_IO (2 * 1024 * 1024)
#define SPOT_STEP (8 * 1024 * 1024)
#define SPOT_LEN 4096

struct wcheck {
	int fd;				/* a dup of the writer's: the bytes written */
	int dfd;			/* O_DIRECT on the same file: the medium's */
	dev_t dev;
	ino_t ino;
	int64_t align;			/* O_DIRECT offsets and lengths, and pages */
	char path[1280];		/* the name it was created with (the seam's) */
	/* the writer's thread only */
	int64_t queued;			/* [0, queued) handed over */
	int64_t redo_lo, redo_hi;	/* written again after it was handed over */
	/* under the pool's mutex */
	struct span {
		int64_t off, end;
	} *fly;				/* its J_CHECK jobs queued or running */
	int nfly, capfly;
	int finished;			/* all handed over: the last job ends it */
	int nodirect;			/* O_DIRECT refused: read back at the end */
	int failed;			/* a check failed */
	uint8_t *spot;			/* SPOT_LEN bytes at each SPOT_STEP */
	int64_t nspot, capspot;
};

/* Worker buffers for J_CHECK and J_SPOT, made on first use. */
struct wbufs {
	uint8_t *direct;		/* aligned for O_DIRECT */
	uint8_t *cached;
	aio_context_t aio;		/* 0: none yet */
	int noaio;			/* no Linux AIO here: pread */
};

/*
 * Linux AIO contexts kept for the process: io_destroy waits for an RCU
 * grace period (30 ms measured), which every export would otherwise pay
 * at its end, twice. A worker takes one, or makes one, and gives it back
 * when it ends, so there are never more than workers have run at once.
 */
#define AIO_KEPT 8
static pthread_mutex_t aio_mu = PTHREAD_MUTEX_INITIALIZER;
static aio_context_t aio_kept[AIO_KEPT];
static int naio_kept;

static void aio_take(struct wbufs *b)
{
	pthread_mutex_lock(&aio_mu);
	if (naio_kept > 0)
		b->aio = aio_kept[--naio_kept];
	pthread_mutex_unlock(&aio_mu);
	if (b->aio == 0 && syscall(SYS_io_setup, 1, &b->aio) < 0) {
		b->aio = 0;
		b->noaio = 1;	/* ENOSYS, EAGAIN (aio-max-nr): pread */
	}
}

static void aio_give_back(struct wbufs *b)
{
	if (b->aio == 0)
		return;
	pthread_mutex_lock(&aio_mu);
	if (naio_kept < AIO_KEPT) {
		aio_kept[naio_kept++] = b->aio;
		b->aio = 0;
	}
	pthread_mutex_unlock(&aio_mu);
	if (b->aio)
		syscall(SYS_io_destroy, b->aio);
	b->aio = 0;
}

/*
 * One O_DIRECT read, submitted through Linux AIO and waited for. ext4 and
 * XFS hold the file's inode lock through the whole of a synchronous direct
 * read, which stalls the muxer's writes to the file for as long (measured,
 * 200 MB: its pwrite time 0.08-0.13 s unchecked, 0.33-0.68 s with
 * synchronous reads, 0.08-0.22 s with these); submitted asynchronously,
 * the lock is held only while it is submitted. Returns the bytes read or
 * -1 with errno, as pread would.
 */
static ssize_t direct_pread(struct wbufs *b, int fd, uint8_t *buf, size_t len, int64_t off)
{
	struct iocb cb;
	struct iocb *cbs[1] = { &cb };
	struct io_event ev;
	long r;

	if (!b->noaio && b->aio == 0)
		aio_take(b);
	if (b->noaio)
		return pread(fd, buf, len, (off_t)off);
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = (uint32_t)fd;
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_buf = (uint64_t)(uintptr_t)buf;
	cb.aio_nbytes = len;
	cb.aio_offset = off;
	r = syscall(SYS_io_submit, b->aio, 1, cbs);
	if (r != 1)
		return errno == EAGAIN || errno == EINTR ? pread(fd, buf, len, (off_t)off) : -1;
	do {
		r = syscall(SYS_io_getevents, b->aio, 1, 1, &ev, NULL);
	} while (r < 0 && errno == EINTR);
	if (r != 1)
		return -1;	/* cannot happen without a timeout; errno says */
	if (ev.res < 0) {
		errno = (int)-ev.res;
		return -1;
	}
	return (ssize_t)ev.res;
}

static int bufs_get(struct wbufs *b)
{
	if (b->direct == NULL && posix_memalign((void **)&b->direct, 65536, CHECK_IO) != 0)
		b->direct = NULL;
	if (b->cached == NULL)
		b->cached = malloc(CHECK_IO);
	return b->direct && b->cached ? 0 : -VG_ENOMEM;
}

/* Read up to len bytes at off into *got, short only at the end of the
 * file; -errno on failure. direct: through direct_pread() with b; unit:
 * O_DIRECT's, where a read that ends off a unit boundary has met the end
 * of the file (1 otherwise). */
static int read_at(int fd, uint8_t *buf, size_t len, int64_t off, size_t unit,
		   struct wbufs *direct, size_t *got)
{
	*got = 0;
	while (*got < len) {
		int64_t at = off + (int64_t)*got;
		ssize_t r = direct ? direct_pread(direct, fd, buf + *got, len - *got, at) :
				     pread(fd, buf + *got, len - *got, (off_t)at);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		*got += (size_t)r;
		if (*got % unit != 0)
			break;
	}
	return 0;
}

/* Keep what was read back of the blocks sampled in [off, off + len). */
static int keep_spots(struct pool *p, struct wcheck *c, int64_t off, const uint8_t *buf,
		      size_t len)
{
	int64_t k = (off + SPOT_STEP - 1) / SPOT_STEP;
	int ret = 0;

	pthread_mutex_lock(&p->mu);
	for (; k * SPOT_STEP < off + (int64_t)len && ret == 0; k++) {
		int64_t at = k * SPOT_STEP - off;
		size_t n = len - (size_t)at < SPOT_LEN ? len - (size_t)at : SPOT_LEN;

		if (k >= c->capspot) {
			int64_t cap = c->capspot ? c->capspot * 2 : 16;
			uint8_t *sp;

			while (cap <= k)
				cap *= 2;
			sp = realloc(c->spot, (size_t)cap * SPOT_LEN);
			if (sp == NULL) {
				ret = -VG_ENOMEM;
				break;
			}
			c->spot = sp;
			c->capspot = cap;
		}
		if (k >= c->nspot) {
			/* the checks of two pieces may end out of order */
			memset(c->spot + c->nspot * SPOT_LEN, 0, (size_t)(k + 1 - c->nspot) * SPOT_LEN);
			c->nspot = k + 1;
		}
		memcpy(c->spot + k * SPOT_LEN, buf + at, n);
	}
	pthread_mutex_unlock(&p->mu);
	return ret;
}

/*
 * A J_CHECK job: [off, off + len) of the file, a piece at a time: the
 * bytes written, from the page cache (taken first, while they are most
 * surely still there), then its writeback waited for, then the same bytes
 * read from the medium with O_DIRECT, compared. Returns 1 if the medium
 * refuses O_DIRECT (EINVAL): the file is read back at the end instead.
 */
static int check_range(struct pool *p, struct outfile *f, const struct job *j, struct wbufs *b)
{
	struct wcheck *c = f->chk;
	int64_t off = j->off, end = j->off + j->len;
	int ret = bufs_get(b);

	while (ret == 0 && off < end) {
		size_t n = end - off < CHECK_IO ? (size_t)(end - off) : CHECK_IO;
		size_t dn = (size_t)((((int64_t)n + c->align - 1) / c->align) * c->align);
		size_t got, dgot;

		if (dn > CHECK_IO)
			dn = CHECK_IO;	/* n is CHECK_IO, a multiple of align */
		ret = read_at(c->fd, b->cached, n, off, 1, NULL, &got);
		if (ret < 0)
			return -vg_err_from_errno(-ret);
		if (got != n)
			return -VG_EAUTH;	/* shorter than what was written */
		if (sync_file_range(c->dfd, off, (off_t)n, SYNC_FILE_RANGE_WAIT_BEFORE |
				    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) < 0 &&
		    errno != EINVAL && errno != ESPIPE && errno != ENOSYS)
			return -vg_err_from_errno(errno);	/* the writeback failed */
		ret = read_at(c->dfd, b->direct, dn, off, (size_t)c->align, b, &dgot);
		if (ret == -EINVAL)
			return 1;
		if (ret < 0)
			return -vg_err_from_errno(-ret);
		if (dgot < n)
			return -VG_EAUTH;
		medium_seam(p->e, c->path, (uint64_t)off, b->direct, n);
		if (memcmp(b->direct, b->cached, n) != 0)
			return -VG_EAUTH;
		ret = keep_spots(p, c, off, b->direct, n);
		if (j->first)
			exp_progress(p->e, n);
		off += (int64_t)n;
	}
	return ret;
}

/* A J_SPOT job: the blocks of checked file f sampled when it was checked,
 * read from the medium once more (by its name now, no symlink followed,
 * and it must be the file written) and compared. */
static int spot_check(struct pool *p, struct outfile *f, struct wbufs *b)
{
	struct wcheck *c = f->chk;
	struct stat st;
	int ret = bufs_get(b);
	int fd;

	if (ret < 0)
		return ret;
	fd = open(f->path, O_RDONLY | O_DIRECT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == EINVAL)
		return read_back(p->e, f);
	if (fd < 0)
		return -vg_err_from_errno(errno);
	if (fstat(fd, &st) < 0 || st.st_dev != c->dev || st.st_ino != c->ino ||
	    (uint64_t)st.st_size != f->size)
		ret = -VG_EAUTH;	/* not the file that was written */
	for (int64_t k = 0; k < c->nspot && ret == 0; k++) {
		int64_t at = k * SPOT_STEP;
		size_t n = (int64_t)f->size - at < SPOT_LEN ? (size_t)((int64_t)f->size - at) :
							     SPOT_LEN;
		size_t got;

		ret = read_at(fd, b->direct, (size_t)c->align, at, (size_t)c->align, b, &got);
		if (ret == -EINVAL) {
			close(fd);
			return read_back(p->e, f);
		}
		if (ret < 0)
			ret = -vg_err_from_errno(-ret);
		else if (got < n)
			ret = -VG_EAUTH;
		else
			medium_seam(p->e, f->path, (uint64_t)at, b->direct, n);
		if (ret == 0 && memcmp(b->direct, c->spot + k * SPOT_LEN, n) != 0)
			ret = -VG_EAUTH;
	}
	close(fd);
	return ret;
}

/* Under p->mu, once c has no job left and is finished (or dropped): close
 * its descriptors and say whether every byte matched. */
static void check_end_locked(struct outfile *f)
{
	struct wcheck *c = f->chk;

	f->checked = !c->nodirect && !c->failed;
	if (c->fd >= 0)
		close(c->fd);
	if (c->dfd >= 0)
		close(c->dfd);
	c->fd = c->dfd = -1;
}

/* Under p->mu: J_CHECK job j is done (ret: its result) or dropped. */
static void check_done_locked(struct pool *p, const struct job *j, int ret)
{
	struct wcheck *c = j->f->chk;

	if (ret == 1)
		c->nodirect = 1;
	else if (ret != 0)
		c->failed = 1;
	for (int i = 0; i < c->nfly; i++) {
		if (c->fly[i].off == j->off && c->fly[i].end == j->off + j->len) {
			c->fly[i] = c->fly[--c->nfly];
			break;
		}
	}
	pthread_cond_broadcast(&p->idle);	/* a writer may wait for this span */
	if (c->nfly == 0 && c->finished)
		check_end_locked(j->f);
}

/* Under p->mu: 1 if a J_CHECK job of c queued or running reads [off, end). */
static int in_flight_locked(const struct wcheck *c, int64_t off, int64_t end)
{
	for (int i = 0; i < c->nfly; i++)
		if (c->fly[i].off < end && off < c->fly[i].end)
			return 1;
	return 0;
}

/* Queue j at the tail for the workers, and let go of the pool's mutex
 * (held by the caller). */
static void enqueue_unlock(struct pool *p, struct job *j)
{
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int queue_check(struct pool *p, struct outfile *f, int64_t off, int64_t len, int first)
{
	struct wcheck *c = f->chk;
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -VG_ENOMEM;
	j->f = f;
	j->kind = J_CHECK;
	j->off = off;
	j->len = len;
	j->first = first;
	pthread_mutex_lock(&p->mu);
	if (c->nfly == c->capfly) {
		int cap = c->capfly ? c->capfly * 2 : 8;
		struct span *nf = realloc(c->fly, (size_t)cap * sizeof(*nf));

		if (nf == NULL) {
			pthread_mutex_unlock(&p->mu);
			free(j);
			return -VG_ENOMEM;
		}
		c->fly = nf;
		c->capfly = cap;
	}
	c->fly[c->nfly].off = off;
	c->fly[c->nfly].end = off + len;
	c->nfly++;
	enqueue_unlock(p, j);
	return 0;
}

void exp_check_open(struct exp *e, struct outfile *f, int fd)
{
	struct wcheck *c = calloc(1, sizeof(*c));
	long page = sysconf(_SC_PAGESIZE);
	struct stat a, b;

	f->chk = NULL;
	f->checked = 0;
	if (c == NULL)
		return;
	c->align = page > 4096 ? page : 4096;
	c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	/* By its name, no symlink followed (the folder may belong to the
	 * requester), and it must be the file fd is. */
	c->dfd = open(f->path, O_RDONLY | O_DIRECT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (c->fd < 0 || c->dfd < 0 || c->align > 65536 || fstat(fd, &a) < 0 ||
	    fstat(c->dfd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		vg_debug("%s: not checked as written (%s): read back at the end", f->name,
			 c->dfd < 0 ? strerror(errno) : "no second descriptor");
		if (c->fd >= 0)
			close(c->fd);
		if (c->dfd >= 0)
			close(c->dfd);
		free(c);
		return;
	}
	c->dev = a.st_dev;
	c->ino = a.st_ino;
	c->redo_lo = INT64_MAX;
	snprintf(c->path, sizeof(c->path), "%s", f->path);
	f->chk = c;
}

void exp_check_write(struct exp *e, struct outfile *f, int64_t off, int64_t len)
{
	struct wcheck *c = f->chk;
	struct pool *p = &e->pool;

	if (c == NULL || off >= c->queued)
		return;
	/* Never write under a check that is to read those bytes: it would see
	 * them change between the page cache and the medium. */
	pthread_mutex_lock(&p->mu);
	while (in_flight_locked(c, off, off + len))
		pthread_cond_wait(&p->idle, &p->mu);
	pthread_mutex_unlock(&p->mu);
	if (off < c->redo_lo)
		c->redo_lo = off;
	if (off + len > c->redo_hi)
		c->redo_hi = off + len;
}

void exp_check_upto(struct exp *e, struct outfile *f, int64_t end)
{
	struct wcheck *c = f->chk;

	if (c == NULL)
		return;
	end = end / c->align * c->align;
	if (end > c->queued && queue_check(&e->pool, f, c->queued, end - c->queued, 1) == 0)
		c->queued = end;
}

void exp_check_close(struct exp *e, struct outfile *f, int ok)
{
	struct wcheck *c = f->chk;
	struct pool *p = &e->pool;
	struct stat st;

	if (c == NULL)
		return;
	if (ok && fstat(c->fd, &st) < 0)
		ok = 0;
	if (ok && st.st_size > c->queued &&
	    queue_check(p, f, c->queued, st.st_size - c->queued, 1) < 0)
		ok = 0;
	if (ok && c->redo_hi > c->redo_lo) {
		/* whole pages, and none past what the check of the rest reads */
		int64_t lo = c->redo_lo / c->align * c->align;
		int64_t hi = (c->redo_hi + c->align - 1) / c->align * c->align;

		if (hi > c->queued)
			hi = c->queued;
		if (hi > lo && queue_check(p, f, lo, hi - lo, 0) < 0)
			ok = 0;
	}
	pthread_mutex_lock(&p->mu);
	if (!ok) {
		/* dropped: nothing may still read through its descriptors */
		c->failed = 1;
		while (c->nfly > 0)
			pthread_cond_wait(&p->idle, &p->mu);
	}
	c->finished = 1;
	if (c->nfly == 0)
		check_end_locked(f);
	pthread_mutex_unlock(&p->mu);
	if (!ok)
		exp_check_free(f);
}

void exp_check_free(struct outfile *f)
{
	struct wcheck *c = f->chk;

	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->dfd >= 0)
		close(c->dfd);
	free(c->spot);
	free(c->fly);
	free(c);
	f->chk = NULL;
}

/* ---- the worker pool ---- */

static int run_job(struct exp *e, struct job *j, struct wbufs *b)
{
	switch (j->kind) {
	case J_HASH:
		return hash_file(e, j->f->path, 0, j->f->sha, &j->f->size);
	case J_CHECK:
		return check_range(&e->pool, j->f, j, b);
	case J_SPOT:
		return spot_check(&e->pool, j->f, b);
	default:
		return read_back(e, j->f);
	}
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct wbufs b = { NULL, NULL, 0, 0 };

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
		ret = run_job(p->e, j, &b);
		pthread_mutex_lock(&p->mu);
		p->busy--;
		if (j->kind == J_CHECK)
			check_done_locked(p, j, ret);
		if (ret < 0 && p->err == 0) {
			p->err = ret;
			p->badf = j->f;
			snprintf(p->bad, sizeof(p->bad), "%s", j->f->name);
		}
		free(j);
		if (p->head == NULL && p->busy == 0)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	aio_give_back(&b);
	free(b.direct);
	free(b.cached);
	return NULL;
}

int exp_pool_start(struct pool *p, struct exp *e, int n)
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

int exp_pool_submit(struct pool *p, struct outfile *f, int kind)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -VG_ENOMEM;
	j->f = f;
	j->kind = kind;
	pthread_mutex_lock(&p->mu);
	enqueue_unlock(p, j);
	return 0;
}

/* Wait until the queue is empty and nothing runs; returns the first error. */
int exp_pool_wait(struct pool *p)
{
	int ret;

	pthread_mutex_lock(&p->mu);
	while (p->head != NULL || p->busy > 0)
		pthread_cond_wait(&p->idle, &p->mu);
	ret = p->err;
	pthread_mutex_unlock(&p->mu);
	return ret;
}

void exp_pool_stop(struct pool *p)
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
		if (j->kind == J_CHECK)
			check_done_locked(p, j, -VG_EIO);	/* not checked */
		free(j);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_cond_destroy(&p->idle);
	p->e = NULL;
}

/* ---- small files ---- */

int exp_finish_file(struct exp *e, struct outfile *f)
{
	if (e->ctx->fault && e->ctx->fault(f->path, e->ctx->fault_ud) != 0) {
		exp_why(e, "writing %s failed", f->name);
		return -VG_EIO;
	}
	return 0;
}

int exp_write_small(struct exp *e, const char *name, const void *data, size_t len)
{
	struct outfile *f = exp_new_file(e, name);
	int fd, ret;

	if (f == NULL)
		return -VG_ENOMEM;
	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -vg_err_from_errno(errno);
		exp_why(e, "cannot create %s: %s", name, vg_strerror(ret));
		return ret;
	}
	ret = vg_write_all(fd, data, len);
	if (ret == 0 && fsync(fd) < 0)
		ret = -vg_err_from_errno(errno);
	if (close(fd) < 0 && ret == 0)
		ret = -vg_err_from_errno(errno);
	if (ret < 0) {
		exp_why(e, "writing %s failed: %s", name, vg_strerror(ret));
		return ret;
	}
	f->size = len;
	ret = vg_sha256(data, len, f->sha);
	e->res->bytes += len;
	return ret < 0 ? ret : exp_finish_file(e, f);
}
