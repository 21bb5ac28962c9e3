/*
 * test_export_check.c - the export's check of a video as it is written
 * (export_io.c, exp_check_*): a file is written here the way the muxer
 * writes one (1 MiB at a time, writeback started and the pieces handed
 * over every 8 MiB, then a seek back to write the head again), with the
 * export's pool checking it behind the writer. The medium test seam
 * (vg_export_ctx.medium) plays a medium that reads back different: a
 * piece that reads back wrong is caught while the file is still being
 * written, a piece written again is checked again, every byte counts once
 * in the progress, and a sampled block that changes on the medium after
 * it was checked is caught by the spot check at the end. Needs a
 * filesystem under /tmp that takes O_DIRECT (skips otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* The library allocates with the C library: free with it too, not with
 * cmocka's checked allocator (which -DUNIT_TESTING switches on). */
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "vigil/err.h"
#include "vigil/export.h"

#include "../src/export/export_impl.h"

#define MIB (1024 * 1024)
#define STEP (8 * MIB)		/* export_media.c's WB_STEP */

/* The medium seam: flip the byte at `at` the `nth` time (1-based) a piece
 * read back holds it; count how often each watched offset was read. */
struct medium {
	int64_t at;
	int nth;
	int seen;
	int flipped;
};

struct fx {
	char dir[64];
	struct vg_export_ctx ctx;
	struct vg_export_result res;
	struct exp e;
	struct outfile *f;
	struct medium m;
	int fd;
	int64_t pos, synced;
	uint8_t *buf;
};

static void medium(const char *path, uint64_t off, uint8_t *buf, size_t len, void *ud)
{
	struct medium *m = ud;

	if (m->at < 0 || (uint64_t)m->at < off || (uint64_t)m->at >= off + len)
		return;
	if (++m->seen == m->nth) {
		buf[(uint64_t)m->at - off] ^= 0x01;
		m->flipped = 1;
	}
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	snprintf(x->dir, sizeof(x->dir), "/tmp/vigil-check.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	x->ctx.medium = medium;
	x->ctx.medium_ud = &x->m;
	x->m.at = -1;
	x->e.ctx = &x->ctx;
	x->e.res = &x->res;
	x->e.total = 1;
	pthread_mutex_init(&x->e.prog_mu, NULL);
	x->e.files = calloc(4, sizeof(*x->e.files));
	assert_non_null(x->e.files);
	x->f = exp_new_file(&x->e, "a.mp4");
	snprintf(x->f->path, sizeof(x->f->path), "%s/a.mp4", x->dir);
	x->fd = open(x->f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(x->fd >= 0);
	x->buf = malloc(MIB);
	assert_non_null(x->buf);
	assert_int_equal(exp_pool_start(&x->e.pool, &x->e, 2), 0);
	exp_check_open(&x->e, x->f, x->fd);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char p[1400];

	exp_pool_stop(&x->e.pool);
	exp_check_free(x->f);
	close(x->fd);
	unlink(x->f->path);
	snprintf(p, sizeof(p), "%s", x->dir);
	rmdir(p);
	pthread_mutex_destroy(&x->e.prog_mu);
	free(x->e.files);
	free(x->buf);
	free(x);
	return 0;
}

/* Write len bytes at the writer's position as fdio_write does: the check
 * told first, then every STEP the writeback started and the pieces handed
 * over. The bytes are a pattern of their offset and seed. */
static void write_at(struct fx *x, int64_t len, uint8_t seed)
{
	while (len > 0) {
		int64_t n = len < MIB ? len : MIB;

		for (int64_t i = 0; i < n; i++)
			x->buf[i] = (uint8_t)((x->pos + i) * 131 + seed + ((x->pos + i) >> 12));
		exp_check_write(&x->e, x->f, x->pos, n);
		assert_int_equal(pwrite(x->fd, x->buf, (size_t)n, x->pos), n);
		x->pos += n;
		len -= n;
		if (x->pos - x->synced >= STEP) {
			sync_file_range(x->fd, x->synced, x->pos - x->synced, SYNC_FILE_RANGE_WRITE);
			x->synced = x->pos;
			exp_check_upto(&x->e, x->f, x->synced);
		}
	}
}

static int have_direct(struct fx *x)
{
	if (x->f->chk == NULL) {
		print_message("skip: %s does not take O_DIRECT\n", x->dir);
		return 0;
	}
	return 1;
}

/* A piece that reads back different is caught while the file is still
 * being written, and named; the dropped file is not counted as checked. */
static void test_caught_while_written(void **state)
{
	struct fx *x = *state;

	if (!have_direct(x))
		skip();
	x->m.at = 9 * MIB + 5;
	x->m.nth = 1;
	write_at(x, 24 * MIB + 100, 1);
	/* [0, 16 MiB) and more are handed over; the file is not closed yet */
	assert_int_equal(exp_pool_wait(&x->e.pool), -VG_EAUTH);
	assert_true(x->m.flipped);
	assert_ptr_equal(x->e.pool.badf, x->f);
	exp_check_close(&x->e, x->f, 0);
	assert_null(x->f->chk);
	assert_int_equal(x->f->checked, 0);
}

/* A file that reads back right is checked: every byte once in the
 * progress, and the head, written again after it was checked (as the
 * muxer writes the moov last), checked again. */
static void test_clean_file_and_head_rechecked(void **state)
{
	struct fx *x = *state;
	int64_t size;

	if (!have_direct(x))
		skip();
	x->m.at = 200;
	x->m.nth = 99;		/* never flip: only count */
	write_at(x, 20 * MIB + 777, 1);
	size = x->pos;
	assert_int_equal(exp_pool_wait(&x->e.pool), 0);
	assert_int_equal(x->m.seen, 1);		/* the head was checked once */
	x->pos = 100;
	write_at(x, 300, 2);			/* the head again */
	exp_check_close(&x->e, x->f, 1);
	assert_int_equal(exp_pool_wait(&x->e.pool), 0);
	assert_int_equal(x->m.seen, 2);		/* and again after it changed */
	assert_int_equal(x->f->checked, 1);
	assert_int_equal((int64_t)x->e.done, size);
}

/* Bytes written again right after they were handed over, while their
 * check may still be reading them: the writer waits for it, so the check
 * never sees them change halfway (which would read as a faulty medium),
 * and they are checked again at the end. */
static void test_rewrite_under_a_running_check(void **state)
{
	struct fx *x = *state;

	if (!have_direct(x))
		skip();
	for (int i = 0; i < 4; i++) {
		write_at(x, 8 * MIB, (uint8_t)i);
		x->pos -= 8 * MIB - 4096;
		write_at(x, 64 * 1024, (uint8_t)(i + 100));
		x->pos += 8 * MIB - 4096 - 64 * 1024;
	}
	exp_check_close(&x->e, x->f, 1);
	assert_int_equal(exp_pool_wait(&x->e.pool), 0);
	assert_int_equal(x->f->checked, 1);
}

/* Bytes written again that then read back different are caught. */
static void test_rewrite_that_reads_back_different(void **state)
{
	struct fx *x = *state;

	if (!have_direct(x))
		skip();
	x->m.at = 250;
	x->m.nth = 2;		/* fine when first checked, wrong once written again */
	write_at(x, 17 * MIB, 1);
	assert_int_equal(exp_pool_wait(&x->e.pool), 0);
	x->pos = 100;
	write_at(x, 300, 2);
	exp_check_close(&x->e, x->f, 1);
	assert_int_equal(exp_pool_wait(&x->e.pool), -VG_EAUTH);
	assert_true(x->m.flipped);
	assert_int_equal(x->f->checked, 0);
}

/* The spot check at the end: the sampled blocks of a checked file read
 * back as they did when checked; one that changed on the medium since
 * (here rewritten behind the export's back, as a stick that lands a later
 * write on it would) is caught. */
static void test_spot_check_catches_later_change(void **state)
{
	struct fx *x = *state;
	uint8_t b = 0;

	if (!have_direct(x))
		skip();
	write_at(x, 20 * MIB + 3, 1);
	exp_check_close(&x->e, x->f, 1);
	assert_int_equal(exp_pool_wait(&x->e.pool), 0);
	assert_int_equal(x->f->checked, 1);
	x->f->size = (uint64_t)x->pos;	/* as the hash job sets it */
	assert_int_equal(exp_pool_submit(&x->e.pool, x->f, J_SPOT), 0);
	assert_int_equal(exp_pool_wait(&x->e.pool), 0);
	/* the block sampled at 16 MiB changes */
	assert_int_equal(pread(x->fd, &b, 1, 16 * MIB + 10), 1);
	b ^= 0x80;
	assert_int_equal(pwrite(x->fd, &b, 1, 16 * MIB + 10), 1);
	assert_int_equal(fsync(x->fd), 0);
	assert_int_equal(exp_pool_submit(&x->e.pool, x->f, J_SPOT), 0);
	assert_int_equal(exp_pool_wait(&x->e.pool), -VG_EAUTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_caught_while_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_file_and_head_rechecked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_under_a_running_check, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_that_reads_back_different, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_spot_check_catches_later_change, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
