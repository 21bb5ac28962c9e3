/*
 * test_pipeline.c - one camera's whole recording path with an injected
 * wall clock: a temporary camera stops at its remove_by date, is reported
 * as expired (not failed), and its last clip is closed cleanly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vigil/catalog.h"
#include "vigil/err.h"
#include "vigil/pipeline.h"
#include "vigil/timeutil.h"

#define FRAMES_BEFORE_EXPIRY 50

static atomic_int clock_calls;
static int64_t limit_us;

/* The capture thread asks the clock once per picture: the first
 * FRAMES_BEFORE_EXPIRY answers are a second before the remove_by date. */
static int64_t fake_now(void)
{
	return atomic_fetch_add(&clock_calls, 1) < FRAMES_BEFORE_EXPIRY ? limit_us - VG_US_PER_S
									 : limit_us;
}

static char events[8][64];
static atomic_int n_events;

static void on_event(void *ud, const char *camera, const char *action, const char *detail)
{
	int i = atomic_fetch_add(&n_events, 1);

	(void)ud;
	(void)camera;
	(void)detail;
	if (i < 8)
		snprintf(events[i], sizeof(events[i]), "%s", action);
}

static int64_t total_frames;

static int add_frames(const struct vg_clip *c, void *ud)
{
	(void)ud;
	assert_int_equal(c->state, VG_CLIP_COMPLETE);
	total_frames += c->frames;
	return 0;
}

static void test_temporary_camera_expires(void **state)
{
	char dir[] = "/tmp/vigil-pipe.XXXXXX", db[64], cmd[96];
	uint8_t master[32];
	struct vg_catalog *cat;
	struct vg_pipeline *p;
	struct vg_pipeline_status st;
	struct vg_camera_config cam;
	int saw_expired = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/catalog.db", dir);
	memset(master, 7, sizeof(master));
	assert_int_equal(vg_catalog_open(&cat, db), 0);
	assert_int_equal(vg_time_local_date("2030-01-02", &limit_us), 0);

	memset(&cam, 0, sizeof(cam));
	cam.name = "temp";
	cam.enabled = 1;
	cam.kind = VG_SOURCE_SYNTHETIC;
	cam.device = "synthetic";
	cam.file_realtime = 0;	/* unpaced: as fast as the encoder takes them */
	cam.width = 160;
	cam.height = 120;
	cam.fps_num = 10;
	cam.fps_den = 1;
	cam.encoder = "libx264";
	cam.preset = "ultrafast";
	cam.crf = 30;
	cam.gop = 10;
	cam.segment_seconds = 60;
	cam.fragment_ms = 1000;
	cam.is_temporary = 1;
	cam.temporary.remove_by = "2030-01-02";

	struct vg_pipeline_env env = {
		.data_dir = dir, .master = master, .cat = cat, .event = on_event, .now = fake_now,
	};
	assert_int_equal(vg_pipeline_start(&p, &cam, &env), 0);
	/* Wait (bounded) for the state the test is about. */
	for (int i = 0; i < 3000 && !saw_expired; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		vg_pipeline_status(p, &st);
		saw_expired = st.state == VG_PIPE_EXPIRED;
		if (!saw_expired)
			nanosleep(&ts, NULL);
	}
	assert_true(saw_expired);
	assert_string_equal(vg_pipeline_state_name(st.state), "expired");
	assert_false(vg_pipeline_done(p));	/* the daemon goes on with the others */
	vg_pipeline_stop(p);

	/* Exactly the pictures taken before the date, all in closed clips. */
	assert_int_equal(vg_catalog_clips(cat, "temp", 0, 0, add_frames, NULL), 0);
	assert_int_equal(total_frames, FRAMES_BEFORE_EXPIRY);
	assert_true(atomic_load(&n_events) >= 1);
	{
		int found = 0;

		for (int i = 0; i < atomic_load(&n_events) && i < 8; i++)
			found |= strcmp(events[i], "camera.expired") == 0;
		assert_true(found);
	}
	vg_catalog_close(cat);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_temporary_camera_expires),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
