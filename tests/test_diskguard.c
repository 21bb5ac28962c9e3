/*
 * test_diskguard.c - the space footage may not take, and the alarm when
 * the audit log and catalog grow fast enough to take footage (retention
 * frees their space by deleting footage early). The world (free space,
 * file sizes, monotonic clock) is faked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <string.h>

#include <cmocka.h>

#include "vigil/diskguard.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"

#define MB (UINT64_C(1) << 20)

struct world {
	uint64_t total, avail;
	uint64_t file[4];
	int64_t now;
	int alarms;		/* ALARM lines logged about the audit log */
};

static struct world W;

static int fake_space(void *ud, const char *path, uint64_t *total, uint64_t *avail)
{
	(void)ud;
	(void)path;
	*total = W.total;
	*avail = W.avail;
	return 0;
}

static int64_t fake_mono(void *ud)
{
	(void)ud;
	return W.now;
}

static uint64_t fake_bytes(void *ud, const char *path)
{
	(void)ud;
	return W.file[path[0] - 'a'];
}

static void sink(enum vg_log_level level, const char *module, const char *line, void *ud)
{
	(void)module;
	(void)ud;
	if (level == VG_LOG_ERROR && strstr(line, "ALARM: the audit log and catalog grew"))
		W.alarms++;
}

static struct vg_diskguard *guard(void)
{
	struct vg_diskguard_clock clk = {
		.space = fake_space, .now_mono_us = fake_mono, .file_bytes = fake_bytes,
	};
	const char *files[] = { "a", "b", "c", "d" };
	struct vg_diskguard *g;

	memset(&W, 0, sizeof(W));
	W.total = 10000 * MB;
	W.avail = 5000 * MB;
	W.now = VG_US_PER_S;
	W.file[0] = 2 * MB;	/* audit.db */
	W.file[1] = 1 * MB;	/* catalog.db */
	vg_log_set_sink(sink, NULL);
	assert_int_equal(vg_diskguard_new(&g, "/data", 100 * MB, 0, &clk), 0);
	assert_int_equal(vg_diskguard_watch(g, files, 4), 0);
	return g;
}

static void step(struct vg_diskguard *g, int64_t us)
{
	W.now += us;
	vg_diskguard_full(g);
}

/* Normal growth (kilobytes an hour) says nothing. */
static void test_normal_growth_is_quiet(void **state)
{
	struct vg_diskguard *g = guard();
	struct vg_diskguard_status st;

	(void)state;
	step(g, 0);
	for (int i = 0; i < 100; i++) {
		W.file[0] += 40 * 1024;
		step(g, 60 * VG_US_PER_S);
	}
	vg_diskguard_status(g, &st);
	assert_int_equal(st.meta_alarms, 0);
	assert_int_equal(W.alarms, 0);
	assert_int_equal(st.meta_bytes, W.file[0] + W.file[1]);
	vg_diskguard_free(g);
}

/* A flood: more than 16 MiB within the hour raises one ALARM line, not
 * one per look; the next hour may raise another. */
static void test_fast_growth_alarms_once_per_window(void **state)
{
	struct vg_diskguard *g = guard();
	struct vg_diskguard_status st;

	(void)state;
	step(g, 0);
	W.file[2] += 10 * MB;	/* audit.db-wal */
	step(g, 10 * VG_US_PER_S);
	vg_diskguard_status(g, &st);
	assert_int_equal(st.meta_alarms, 0);
	W.file[2] += 7 * MB;
	step(g, 10 * VG_US_PER_S);
	vg_diskguard_status(g, &st);
	assert_int_equal(st.meta_alarms, 1);
	assert_int_equal(W.alarms, 1);
	W.file[2] += 50 * MB;
	step(g, 10 * VG_US_PER_S);
	assert_int_equal(W.alarms, 1);
	/* a new hour: measured from its start */
	step(g, VG_DISKGUARD_META_WINDOW_US);
	W.file[0] += 20 * MB;
	step(g, VG_US_PER_S);
	vg_diskguard_status(g, &st);
	assert_int_equal(st.meta_alarms, 2);
	assert_int_equal(W.alarms, 2);
	vg_diskguard_free(g);
}

/* The -wal folded back into the database shrinks the total: no false
 * growth is counted from the old size. */
static void test_checkpoint_shrink_restarts_window(void **state)
{
	struct vg_diskguard *g = guard();
	struct vg_diskguard_status st;

	(void)state;
	W.file[2] = 15 * MB;
	step(g, 0);
	W.file[2] = 0;
	W.file[0] += 15 * MB;
	step(g, VG_US_PER_S);
	W.file[0] += 2 * MB;
	step(g, VG_US_PER_S);
	vg_diskguard_status(g, &st);
	assert_int_equal(st.meta_alarms, 0);
	vg_diskguard_free(g);
}

/* The floor: footage stops below it, whoever grew. */
static void test_floor_kept_for_the_log(void **state)
{
	struct vg_diskguard *g = guard();
	struct vg_diskguard_status st;

	(void)state;
	assert_int_equal(vg_diskguard_full(g), 0);
	W.avail = 10 * MB;	/* below half of min_free (50 MB) */
	step(g, VG_DISKGUARD_CHECK_US);
	assert_int_equal(vg_diskguard_full(g), 1);
	vg_diskguard_status(g, &st);
	assert_true(st.full);
	assert_int_equal(st.floor_bytes, 50 * MB);
	vg_diskguard_free(g);
}

static void test_watch_arguments(void **state)
{
	struct vg_diskguard *g = guard();
	const char *many[VG_DISKGUARD_MAX_WATCH + 1] = { "a" };

	(void)state;
	assert_int_equal(vg_diskguard_watch(g, many, VG_DISKGUARD_MAX_WATCH + 1), -VG_EINVAL);
	assert_int_equal(vg_diskguard_watch(g, NULL, 1), -VG_EINVAL);
	assert_int_equal(vg_diskguard_watch(NULL, many, 1), -VG_EINVAL);
	assert_int_equal(vg_diskguard_watch(g, NULL, 0), 0);
	vg_diskguard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal_growth_is_quiet),
		cmocka_unit_test(test_fast_growth_alarms_once_per_window),
		cmocka_unit_test(test_checkpoint_shrink_restarts_window),
		cmocka_unit_test(test_floor_kept_for_the_log),
		cmocka_unit_test(test_watch_arguments),
	};

	vg_log_init("test", 0, VG_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
