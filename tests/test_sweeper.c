/*
 * test_sweeper.c - vigild's retention thread: start (with recovery), stop,
 * reload, the pressure check between sweeps and the overdue-hold count,
 * against a real catalog in a temp dir with fake clip files (random
 * bytes) and an injected clock and free-space function.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/catalog.h"
#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/hold.h"
#include "vigil/sweeper.h"
#include "vigil/timeutil.h"

#define MIN_US (60 * INT64_C(1000000))
#define DAY VG_US_PER_DAY
/* 2026-11-29T00:00:00Z */
#define T0 INT64_C(1795910400000000)

/* Read by the sweeper thread while the test moves it: atomics. */
struct fake {
	_Atomic int64_t rt, mono;
	_Atomic uint64_t avail;
	_Atomic int space_calls;
};

struct fixture {
	struct fake clk;
	char dir[64];
	struct vg_catalog *cat;
	struct vg_camera_config cams[2];
	struct vg_config cfg;
	struct vg_sweeper *s;
	int n;
};

static int64_t fake_rt(void *ud)
{
	return atomic_load(&((struct fake *)ud)->rt);
}

static int64_t fake_mono(void *ud)
{
	return atomic_load(&((struct fake *)ud)->mono);
}

/* Bytes of the files under path/clips/CAMERA/. */
static uint64_t clip_bytes(const char *path)
{
	char dir[256], sub[512];
	uint64_t sum = 0;
	struct dirent *e, *g;
	struct stat sb;
	DIR *d, *cd;

	snprintf(dir, sizeof(dir), "%s/clips", path);
	d = opendir(dir);
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		cd = opendir(sub);
		while (cd != NULL && (g = readdir(cd)) != NULL) {
			char file[800];

			snprintf(file, sizeof(file), "%s/%s", sub, g->d_name);
			if (g->d_name[0] != '.' && stat(file, &sb) == 0)
				sum += (uint64_t)sb.st_size;
		}
		if (cd != NULL)
			closedir(cd);
	}
	if (d != NULL)
		closedir(d);
	return sum;
}

/* Free space is what the test sets less the clip files present, so that
 * deleting a clip frees its bytes. */
static int fake_space(void *ud, const char *path, uint64_t *total, uint64_t *avail)
{
	struct fake *f = ud;
	uint64_t used = clip_bytes(path), base = atomic_load(&f->avail);

	atomic_fetch_add(&f->space_calls, 1);
	*total = UINT64_C(1) << 30;
	*avail = used > base ? 0 : base - used;
	return 0;
}

/* Between two looks at a condition that another thread changes. */
static void nap(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

static void start(struct fixture *f, int64_t interval_us)
{
	struct vg_retention_clock c = { fake_rt, fake_mono, fake_space, &f->clk };
	struct vg_sweeper_opts o = {
		.interval_us = interval_us, .pressure_check_us = 5000, .clk = &c,
	};

	assert_int_equal(vg_sweeper_start(&f->s, f->cat, NULL, f->dir, &f->cfg, &o), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[128];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-sweep-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	atomic_store(&f->clk.rt, T0);
	atomic_store(&f->clk.mono, 1000 * MIN_US);
	atomic_store(&f->clk.avail, UINT64_C(1) << 29);
	snprintf(p, sizeof(p), "%s/catalog.db", f->dir);
	assert_int_equal(vg_catalog_open(&f->cat, p), 0);
	f->cams[0].name = "lift";
	f->cams[0].retention_days = 31;
	f->cams[1].name = "lobby";
	f->cams[1].retention_days = 31;
	f->cfg.cameras = f->cams;
	f->cfg.n_cameras = 2;
	f->cfg.held_warn_percent = 50;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	vg_sweeper_stop(f->s);
	vg_catalog_close(f->cat);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* A complete one-minute clip of camera ending at end, with a 100-byte file. */
static int64_t add_clip(struct fixture *f, const char *camera, int64_t end)
{
	struct vg_clip c;
	char path[512];
	unsigned char buf[100];
	int fd;

	memset(&c, 0, sizeof(c));
	snprintf(c.camera, sizeof(c.camera), "%s", camera);
	snprintf(c.path, sizeof(c.path), "clips/%s/c%d.vgc", camera, f->n++);
	assert_int_equal(getrandom(c.clip_id, sizeof(c.clip_id), 0), (ssize_t)sizeof(c.clip_id));
	assert_int_equal(getrandom(c.wrapped_key, sizeof(c.wrapped_key), 0),
			 (ssize_t)sizeof(c.wrapped_key));
	c.start_us = end - MIN_US;
	snprintf(c.encoder, sizeof(c.encoder), "libx264");
	snprintf(path, sizeof(path), "%s/clips", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/clips/%s", f->dir, camera);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s", f->dir, c.path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(getrandom(buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	assert_int_equal(vg_catalog_clip_begin(f->cat, &c), 0);
	c.end_us = end;
	c.bytes = sizeof(buf);
	c.frames = 900;
	c.state = VG_CLIP_COMPLETE;
	assert_int_equal(vg_catalog_clip_finish(f->cat, &c), 0);
	return c.id;
}

static int present(struct fixture *f, int64_t id)
{
	struct vg_clip c;

	return vg_catalog_clip_get(f->cat, id, &c) == 0;
}

static int64_t mono_ms(void)
{
	return vg_time_mono_us() / 1000;
}

/* The first sweep runs at start without being asked; it expires by the
 * configured retention, keeps what is within it. */
static void test_start_sweeps(void **state)
{
	struct fixture *f = *state;
	int64_t old = add_clip(f, "lift", T0 - 31 * DAY);	/* exactly at the limit */
	int64_t young = add_clip(f, "lift", T0 - 31 * DAY + 1);
	struct vg_sweeper_status st;
	int64_t deadline;

	start(f, 3600 * VG_US_PER_S);
	/* No kick: wait (bounded) for the start-up sweep to be published. */
	deadline = mono_ms() + 5000;
	for (vg_sweeper_status(f->s, &st); st.sweeps == 0 && mono_ms() < deadline; nap())
		vg_sweeper_status(f->s, &st);
	assert_true(st.sweeps >= 1);
	assert_false(present(f, old));
	assert_true(present(f, young));
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.last_sweep_us, T0);
	assert_int_equal(st.oldest_us, T0 - 31 * DAY + 1 - MIN_US);
	assert_int_equal(st.total_bytes, UINT64_C(1) << 30);
}

/* Stop wakes the thread at once (a condition variable, not a sleep). */
static void test_stop_is_prompt(void **state)
{
	struct fixture *f = *state;
	int64_t t;

	start(f, 3600 * VG_US_PER_S);
	assert_int_equal(vg_sweeper_sync(f->s, 5000), 0);
	t = mono_ms();
	vg_sweeper_stop(f->s);
	f->s = NULL;
	assert_true(mono_ms() - t < 1000);
	vg_sweeper_stop(NULL);
}

/* Reload: a shorter retention applies at the next sweep. */
static void test_reload_changes_retention(void **state)
{
	struct fixture *f = *state;
	int64_t ten_days = add_clip(f, "lobby", T0 - 10 * DAY);
	struct vg_sweeper_status st;

	start(f, 3600 * VG_US_PER_S);
	assert_int_equal(vg_sweeper_sync(f->s, 5000), 0);
	assert_true(present(f, ten_days));
	f->cams[1].retention_days = 7;
	assert_int_equal(vg_sweeper_reload(f->s, &f->cfg), 0);
	f->cams[1].retention_days = 31;	/* the sweeper copied it */
	assert_int_equal(vg_sweeper_sync(f->s, 5000), 0);
	assert_false(present(f, ten_days));
	vg_sweeper_status(f->s, &st);
	assert_int_equal(st.deleted, 1);
}

/* The clock-jump clamp survives a reload: the wall clock leaps three days
 * (less than the 7-day start-up allowance a fresh sweeper would give it)
 * while the monotonic clock moves a minute, the config is reloaded, and
 * the clip the jump would expire stays. */
static void test_reload_keeps_clock_protection(void **state)
{
	struct fixture *f = *state;
	int64_t due_later = add_clip(f, "lift", T0 - 29 * DAY);
	struct vg_sweeper_status st;

	start(f, 3600 * VG_US_PER_S);
	assert_int_equal(vg_sweeper_sync(f->s, 5000), 0);
	atomic_store(&f->clk.rt, T0 + 3 * DAY);
	atomic_fetch_add(&f->clk.mono, MIN_US);
	assert_int_equal(vg_sweeper_reload(f->s, &f->cfg), 0);
	assert_int_equal(vg_sweeper_sync(f->s, 5000), 0);
	vg_sweeper_status(f->s, &st);
	assert_true(st.clock_jump);
	assert_true(present(f, due_later));
}

/* Free space below min_free between regular sweeps: the pressure check
 * sweeps without waiting for the interval, deleting the oldest clip. */
static void test_pressure_sweeps_early(void **state)
{
	struct fixture *f = *state;
	int64_t a = add_clip(f, "lift", T0 - 2 * DAY);
	int64_t b = add_clip(f, "lobby", T0 - DAY);
	struct vg_sweeper_status st;
	int64_t deadline;

	f->cfg.min_free_bytes = 1000;
	start(f, 3600 * VG_US_PER_S);
	assert_int_equal(vg_sweeper_sync(f->s, 5000), 0);
	assert_true(present(f, a));
	/* 950 free, 1000 wanted: one 100-byte clip covers it. */
	atomic_store(&f->clk.avail, 1150);
	deadline = mono_ms() + 5000;
	for (vg_sweeper_status(f->s, &st); st.early_deleted == 0 && mono_ms() < deadline; nap())
		vg_sweeper_status(f->s, &st);
	assert_int_equal(st.early_deleted, 1);
	assert_false(present(f, a));
	assert_true(present(f, b));
	assert_true(atomic_load(&f->clk.space_calls) > 0);
}

/* A hold past its review date is counted in the status. */
static void test_overdue_holds_counted(void **state)
{
	struct fixture *f = *state;
	struct vg_hold_spec h = {
		.camera = "lift", .from_us = T0 - DAY, .to_us = T0, .reason = "assault",
		.reference = "CRIME-1", .review_by_us = T0 + 2 * DAY, .placed_by = "enf",
	};
	struct vg_sweeper_status st;

	assert_int_equal(vg_hold_place(f->cat, &h, T0, NULL), 0);
	start(f, 3600 * VG_US_PER_S);
	assert_int_equal(vg_sweeper_sync(f->s, 5000), 0);
	vg_sweeper_status(f->s, &st);
	assert_int_equal(st.overdue_holds, 0);
	atomic_store(&f->clk.rt, T0 + 3 * DAY);
	atomic_fetch_add(&f->clk.mono, 3 * DAY);
	assert_int_equal(vg_sweeper_sync(f->s, 5000), 0);
	vg_sweeper_status(f->s, &st);
	assert_int_equal(st.overdue_holds, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_sweeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_is_prompt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_changes_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_clock_protection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pressure_sweeps_early, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overdue_holds_counted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
