/*
 * test_hold.c - evidence holds: placing, the two-person release, review
 * dates, overlap rules, the never-deleted record and the schema 1 -> 2
 * migration that brings the holds table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include <cmocka.h>

#include "vigil/catalog.h"
#include "vigil/err.h"
#include "vigil/hold.h"
#include "vigil/timeutil.h"

struct fixture {
	char dir[64];
	char db[128];
	struct vg_catalog *cat;
	int64_t now;
};

static void rm_db(const char *db)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[160];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-hold-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/catalog.db", f->dir);
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	assert_int_equal(vg_time_parse("2026-06-01", 0, &f->now), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vg_catalog_close(f->cat);
	rm_db(f->db);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct vg_hold_spec spec(struct fixture *f, const char *camera, const char *review)
{
	struct vg_hold_spec s = {
		.camera = camera, .from_us = f->now - 3600 * VG_US_PER_S, .to_us = f->now,
		.reason = "assault", .reference = "CRIME-42", .placed_by = "enf1",
	};

	assert_int_equal(vg_time_parse(review, 0, &s.review_by_us), 0);
	return s;
}

static void test_place_validates(void **state)
{
	struct fixture *f = *state;
	struct vg_hold_spec s = spec(f, "lift", "2026-11-01");
	struct vg_hold h;
	int64_t id = 0;

	s.reason = "";
	assert_int_equal(vg_hold_place(f->cat, &s, f->now, &id), -VG_EINVAL);
	s = spec(f, "lift", "2026-11-01");
	s.reference = NULL;
	assert_int_equal(vg_hold_place(f->cat, &s, f->now, &id), -VG_EINVAL);
	s = spec(f, "lift", "2026-05-01");	/* review date already past */
	assert_int_equal(vg_hold_place(f->cat, &s, f->now, &id), -VG_EINVAL);
	s = spec(f, "lift", "2026-11-01");
	s.to_us = s.from_us;
	assert_int_equal(vg_hold_place(f->cat, &s, f->now, &id), -VG_EINVAL);

	s = spec(f, "lift", "2026-11-01");
	assert_int_equal(vg_hold_place(f->cat, &s, f->now, &id), 0);
	assert_int_equal(vg_hold_get(f->cat, id, &h), 0);
	assert_string_equal(h.camera, "lift");
	assert_string_equal(h.reference, "CRIME-42");
	assert_string_equal(h.placed_by, "enf1");
	assert_int_equal(h.placed_us, f->now);
	assert_int_equal(h.released_us, 0);
}

static void test_two_person_release(void **state)
{
	struct fixture *f = *state;
	struct vg_hold_spec s = spec(f, "lift", "2026-11-01");
	struct vg_hold h;
	int64_t id;

	assert_int_equal(vg_hold_place(f->cat, &s, f->now, &id), 0);
	/* approving with nothing requested does nothing */
	assert_int_equal(vg_hold_approve_release(f->cat, id, "bob", f->now), -VG_ENOENT);
	assert_int_equal(vg_hold_request_release(f->cat, id, "alice", "case closed", f->now), 0);
	/* one request at a time */
	assert_int_equal(vg_hold_request_release(f->cat, id, "carol", "no", f->now), -VG_EEXIST);
	/* the requester cannot approve, however often she tries */
	assert_int_equal(vg_hold_approve_release(f->cat, id, "alice", f->now), -VG_EPERM);
	assert_int_equal(vg_hold_approve_release(f->cat, id, "alice", f->now), -VG_EPERM);
	assert_int_equal(vg_hold_get(f->cat, id, &h), 0);
	assert_int_equal(h.released_us, 0);
	assert_true(vg_hold_covers(&h, "lift", s.from_us, s.to_us));

	/* a withdrawn request needs asking again */
	assert_int_equal(vg_hold_cancel_release(f->cat, id), 0);
	assert_int_equal(vg_hold_approve_release(f->cat, id, "bob", f->now), -VG_ENOENT);
	assert_int_equal(vg_hold_request_release(f->cat, id, "alice", "case closed", f->now), 0);

	assert_int_equal(vg_hold_approve_release(f->cat, id, "bob", f->now + 5), 0);
	assert_int_equal(vg_hold_get(f->cat, id, &h), 0);
	assert_string_equal(h.release_by, "alice");
	assert_string_equal(h.approved_by, "bob");
	assert_string_equal(h.release_reason, "case closed");
	assert_int_equal(h.released_us, f->now + 5);
	assert_false(vg_hold_covers(&h, "lift", s.from_us, s.to_us));
	/* released is final */
	assert_int_equal(vg_hold_request_release(f->cat, id, "carol", "again", f->now),
			 -VG_ENOENT);
	assert_int_equal(vg_hold_approve_release(f->cat, id, "carol", f->now), -VG_ENOENT);
}

static void test_overlap(void **state)
{
	struct fixture *f = *state;
	struct vg_hold_spec s = spec(f, "lift", "2026-11-01");
	struct vg_hold_set *set = NULL;
	int64_t id;

	assert_int_equal(vg_hold_place(f->cat, &s, f->now, &id), 0);
	assert_int_equal(vg_hold_set_load(f->cat, &set), 0);
	assert_int_equal(vg_hold_set_count(set), 1);
	/* any overlap at all, ends exclusive */
	assert_true(vg_hold_set_covers(set, "lift", s.from_us - 60, s.from_us + 1));
	assert_true(vg_hold_set_covers(set, "lift", s.to_us - 1, s.to_us + 60));
	assert_true(vg_hold_set_covers(set, "lift", s.from_us - 60, s.to_us + 60));
	assert_false(vg_hold_set_covers(set, "lift", s.from_us - 60, s.from_us));
	assert_false(vg_hold_set_covers(set, "lift", s.to_us, s.to_us + 60));
	assert_false(vg_hold_set_covers(set, "lobby", s.from_us, s.to_us));
	vg_hold_set_free(set);
}

struct msgs {
	int n;
	char line[4][160];
};

static int grab(const struct vg_hold *h, void *ud)
{
	struct msgs *m = ud;

	assert_true(m->n < 4);
	vg_hold_overdue_message(h, m->line[m->n], sizeof(m->line[0]));
	m->n++;
	return 0;
}

static void test_overdue_review(void **state)
{
	struct fixture *f = *state;
	struct vg_hold_spec a = spec(f, "lift", "2026-11-01");
	struct vg_hold_spec b = spec(f, "lobby", "2027-01-01");
	struct msgs m = { 0 };
	int64_t later, id_a, id_b;

	assert_int_equal(vg_hold_place(f->cat, &a, f->now, &id_a), 0);
	assert_int_equal(vg_hold_place(f->cat, &b, f->now, &id_b), 0);
	assert_int_equal(vg_hold_overdue(f->cat, f->now, grab, &m), 0);
	assert_int_equal(m.n, 0);
	assert_int_equal(vg_time_parse("2026-11-02", 0, &later), 0);
	assert_int_equal(vg_hold_overdue(f->cat, later, grab, &m), 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.line[0], "hold 1 on camera lift passed its review date 2026-11-01: "
			    "review it or release it");
	/* a released hold needs no review */
	assert_int_equal(vg_hold_request_release(f->cat, id_a, "alice", "done", later), 0);
	assert_int_equal(vg_hold_approve_release(f->cat, id_a, "bob", later), 0);
	m.n = 0;
	assert_int_equal(vg_hold_overdue(f->cat, later, grab, &m), 0);
	assert_int_equal(m.n, 0);
}

static void test_record_cannot_be_removed(void **state)
{
	struct fixture *f = *state;
	struct vg_hold_spec s = spec(f, "lift", "2026-11-01");
	sqlite3 *db;
	int64_t id;

	assert_int_equal(vg_hold_place(f->cat, &s, f->now, &id), 0);
	assert_int_equal(vg_hold_request_release(f->cat, id, "alice", "done", f->now), 0);
	assert_int_equal(vg_hold_approve_release(f->cat, id, "bob", f->now), 0);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM holds", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE holds SET released_us = NULL,"
					  " approved_by = NULL", NULL, NULL, NULL), SQLITE_OK);
	/* nor approved by the requester behind the API's back */
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO holds (camera, from_us, to_us,"
					  " reason, reference, review_by_us, placed_by, placed_us,"
					  " release_by, approved_by, released_us) VALUES ('a', 1, 2,"
					  " 'r', 'x', 3, 'p', 4, 'alice', 'alice', 5)",
					  NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_migrate_from_v1(void **state)
{
	struct fixture *f = *state;
	struct vg_hold_spec s = spec(f, "lift", "2026-11-01");
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t id;

	/* Make a version 1 file: today's schema minus what versions 2 to 4
	 * added (the clips table keeps its AUTOINCREMENT; version 4 rebuilds
	 * it anyway). */
	vg_catalog_close(f->cat);
	f->cat = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE export_requests; DROP TABLE holds; DROP INDEX clips_shredded;"
				      " DROP INDEX gaps_open; DROP TRIGGER clips_close_gaps;"
				      " PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	assert_int_equal(vg_hold_place(f->cat, &s, f->now, &id), 0);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 4);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_place_validates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_person_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overdue_review, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_cannot_be_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
