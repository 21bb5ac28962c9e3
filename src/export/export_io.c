/*
 * export_io.c - the export's files on the medium: creating a file in the
 * export folder, writing a small one whole (fsynced, hashed), hashing what
 * a descriptor holds, and the two-thread pool that hashes each video after
 * it is muxed and later reads every file back from the medium to check it.
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
#include <unistd.h>

#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/export.h"

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

int exp_write_all(int fd, const void *buf, size_t len)
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

int exp_pool_submit(struct pool *p, struct outfile *f, int readback)
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
	ret = exp_write_all(fd, data, len);
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
