/*
 * test_warmup.c - cameras take turns to start their encoders: no more than
 * the limit warm up at once, a turn handed back lets the next camera go, a
 * stuck turn holds the others back only for the stall time, and a camera
 * stopped while it waits stops waiting.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vigil/timeutil.h"
#include "vigil/warmup.h"

#define LONG_STALL_MS 600000	/* never reached by a test */

struct waiter {
	struct vg_warmup *g;
	pthread_t thread;
	int turn;
	atomic_int cancel;
	atomic_int returned;	/* 0: still waiting; 1: got a turn; 2: cancelled */
	atomic_int first_released;	/* set by the test before it hands a turn back */
	int saw_release;	/* first_released when begin returned */
	int64_t t0_us;		/* when the test began (monotonic) */
	int64_t waited_us;	/* from t0_us until begin returned */
};

static int cancelled(void *ud)
{
	return atomic_load(&((struct waiter *)ud)->cancel);
}

static void *wait_turn(void *arg)
{
	struct waiter *w = arg;
	int got = vg_warmup_begin(w->g, &w->turn, cancelled, w);

	w->waited_us = vg_time_mono_us() - w->t0_us;
	w->saw_release = atomic_load(&w->first_released);
	atomic_store(&w->returned, got ? 1 : 2);
	return NULL;
}

/* Until the waiter is inside begin, waiting (or, wrongly, has returned). */
static void until_waiting(struct waiter *w)
{
	while (vg_warmup_waiting(w->g) < 1 && atomic_load(&w->returned) == 0)
		sched_yield();
}

static void test_limit_holds_the_next_camera(void **state)
{
	struct vg_warmup *g = vg_warmup_new(2, LONG_STALL_MS);
	struct waiter w = { .g = g };
	int a = 0, b = 0;

	(void)state;
	assert_non_null(g);
	assert_int_equal(vg_warmup_begin(g, &a, NULL, NULL), 1);
	assert_int_equal(vg_warmup_begin(g, &b, NULL, NULL), 1);
	assert_int_equal(vg_warmup_busy(g), 2);
	assert_int_equal(pthread_create(&w.thread, NULL, wait_turn, &w), 0);
	until_waiting(&w);
	assert_int_equal(atomic_load(&w.returned), 0);
	/* The third camera goes when, and only when, a turn comes back. */
	atomic_store(&w.first_released, 1);
	vg_warmup_end(g, &a);
	pthread_join(w.thread, NULL);
	assert_int_equal(atomic_load(&w.returned), 1);
	assert_int_equal(w.saw_release, 1);
	assert_int_equal(w.turn, 1);
	assert_int_equal(a, 0);
	assert_int_equal(vg_warmup_busy(g), 2);
	assert_int_equal(vg_warmup_waiting(g), 0);
	vg_warmup_end(g, &b);
	vg_warmup_end(g, &w.turn);
	assert_int_equal(vg_warmup_busy(g), 0);
	vg_warmup_free(g);
}

static void test_turn_handed_back_once(void **state)
{
	struct vg_warmup *g = vg_warmup_new(1, LONG_STALL_MS);
	int a = 0;

	(void)state;
	assert_int_equal(vg_warmup_begin(g, &a, NULL, NULL), 1);
	/* A camera reopening with its turn still held does not take two. */
	assert_int_equal(vg_warmup_begin(g, &a, NULL, NULL), 1);
	assert_int_equal(vg_warmup_busy(g), 1);
	/* Both threads of a camera may hand it back: it counts once. */
	vg_warmup_end(g, &a);
	vg_warmup_end(g, &a);
	assert_int_equal(vg_warmup_busy(g), 0);
	assert_int_equal(vg_warmup_begin(g, &a, NULL, NULL), 1);
	assert_int_equal(vg_warmup_busy(g), 1);
	vg_warmup_end(g, &a);
	vg_warmup_free(g);
}

static void test_stuck_turn_delays_only_the_stall_time(void **state)
{
	const int stall_ms = 200;
	struct vg_warmup *g = vg_warmup_new(1, stall_ms);
	struct waiter w = { .g = g };
	int stuck = 0;

	(void)state;
	w.t0_us = vg_time_mono_us();
	/* A camera that opened and never sends a picture keeps its turn. */
	assert_int_equal(vg_warmup_begin(g, &stuck, NULL, NULL), 1);
	assert_int_equal(pthread_create(&w.thread, NULL, wait_turn, &w), 0);
	pthread_join(w.thread, NULL);
	/* The next one went anyway, after the stall time and not before. */
	assert_int_equal(atomic_load(&w.returned), 1);
	assert_true(w.waited_us >= (int64_t)stall_ms * 1000);
	assert_int_equal(vg_warmup_busy(g), 2);
	vg_warmup_end(g, &stuck);
	vg_warmup_end(g, &w.turn);
	assert_int_equal(vg_warmup_busy(g), 0);
	vg_warmup_free(g);
}

static void test_stopped_camera_stops_waiting(void **state)
{
	struct vg_warmup *g = vg_warmup_new(1, LONG_STALL_MS);
	struct waiter w = { .g = g };
	int a = 0;

	(void)state;
	assert_int_equal(vg_warmup_begin(g, &a, NULL, NULL), 1);
	assert_int_equal(pthread_create(&w.thread, NULL, wait_turn, &w), 0);
	until_waiting(&w);
	atomic_store(&w.cancel, 1);
	vg_warmup_wake(g);
	pthread_join(w.thread, NULL);
	assert_int_equal(atomic_load(&w.returned), 2);
	assert_int_equal(w.turn, 0);
	assert_int_equal(vg_warmup_busy(g), 1);
	assert_int_equal(vg_warmup_waiting(g), 0);
	vg_warmup_end(g, &a);
	vg_warmup_free(g);
}

static void test_no_gate_gives_the_turn_at_once(void **state)
{
	int a = 0;

	(void)state;
	assert_int_equal(vg_warmup_begin(NULL, &a, NULL, NULL), 1);
	assert_int_equal(a, 1);
	vg_warmup_end(NULL, &a);
	assert_int_equal(a, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_holds_the_next_camera),
		cmocka_unit_test(test_turn_handed_back_once),
		cmocka_unit_test(test_stuck_turn_delays_only_the_stall_time),
		cmocka_unit_test(test_stopped_camera_stops_waiting),
		cmocka_unit_test(test_no_gate_gives_the_turn_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
