/*
 * test_audit.c - the audit chain: append, query, verify, and every kind of
 * tampering with the database file an attacker without the device key can
 * do (sqlite3 CLI with the triggers dropped, raw byte edits, a chain
 * rebuilt with the documented hash algorithm).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <sqlite3.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vigil/audit.h"
#include "vigil/err.h"
#include "vigil/sign.h"
#include "vigil/textfield.h"

struct fx {
	char dir[64];
	char db[128];
	char head[160];
	struct vg_sign_key *key;
};

static int setup(void **state)
{
	struct fx *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/vigil-audit-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->db, sizeof(t->db), "%s/audit.db", t->dir);
	snprintf(t->head, sizeof(t->head), "%s/audit.db.head", t->dir);
	if (vg_sign_key_generate(&t->key) != 0)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct fx *t = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	vg_sign_key_free(t->key);
	free(t);
	return 0;
}

static void fill(struct vg_audit_entry *e, int i, char *login, size_t cap)
{
	memset(e, 0, sizeof(*e));
	snprintf(login, cap, "user%02d", i);
	e->uid = 1000 + i;
	e->login = login;
	e->role = "area_manager";
	e->action = i % 2 ? "clip.view" : "clip.list";
	e->object = i % 3 ? "camera=lobby from=2024-05-01T10:00Z to=2024-05-01T10:05Z clips=17"
			  : "camera=bins clips=3,4";
	e->purpose = "investigate damage to the bin store";
	e->reference = "ASB-2024-0042";
	e->outcome = "allowed";
	e->reason = "area manager for Oak Court";
	e->time_us = 1714557600000000LL + (int64_t)i * 1000000;
}

/* Append rows first..last (1-based numbering of the test rows); checkpoint
 * after each seq listed in cps (0-terminated). */
static void build(struct fx *t, int n, const int *cps)
{
	struct vg_audit *a = NULL;
	char login[32];
	int i, c = 0;

	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	for (i = 1; i <= n; i++) {
		struct vg_audit_entry e;
		int64_t seq = 0;

		fill(&e, i, login, sizeof(login));
		if (i == 6)
			e.login = "mallory-byteedit";
		assert_int_equal(vg_audit_append(a, &e, &seq), 0);
		assert_int_equal(seq, i);
		if (cps != NULL && cps[c] == i) {
			assert_int_equal(vg_audit_checkpoint(a, NULL), 0);
			c++;
		}
	}
	vg_audit_close(a);
}

/* Run SQL as an attacker with the sqlite3 CLI; returns its exit status. */
static int attacker_sql(struct fx *t, const char *sql)
{
	char path[160], cmd[400];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/attack.sql", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(sql, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "sqlite3 -bail '%s' < '%s' >/dev/null 2>&1", t->db, path);
	rc = system(cmd);
	unlink(path);
	return rc;
}

#define DROP_TRIGGERS "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;" \
	" DROP TRIGGER checkpoint_no_update; DROP TRIGGER checkpoint_no_delete;"

/* The attacker's own implementation of docs/audit-format.md section 3,
 * written from the document (not calling vg_audit_row_hash). */
static void put_be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void doc_row_hash(sqlite3_stmt *st, const uint8_t prev[32], uint8_t out[32])
{
	uint8_t buf[4096];
	size_t off = 28;
	int i;

	memcpy(buf, "VGA1", 4);
	put_be(buf + 4, (uint64_t)sqlite3_column_int64(st, 0), 8);
	put_be(buf + 12, (uint64_t)sqlite3_column_int64(st, 1), 8);
	put_be(buf + 20, (uint64_t)sqlite3_column_int64(st, 2), 8);
	for (i = 3; i <= 10; i++) {
		size_t n = (size_t)sqlite3_column_bytes(st, i);

		assert_true(off + 4 + n + 32 <= sizeof(buf));
		put_be(buf + off, n, 4);
		memcpy(buf + off + 4, sqlite3_column_text(st, i), n);
		off += 4 + n;
	}
	memcpy(buf + off, prev, 32);
	assert_int_equal(mbedtls_sha256_ret(buf, off + 32, out, 0), 0);
}

/* Recompute prev_hash and hash of every row, as an attacker who read the
 * format document would after editing rows. */
static void attacker_rechain(struct fx *t)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *sel = NULL, *upd = NULL;
	uint8_t prev[32] = { 0 }, h[32];

	assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
	sqlite3_exec(db, "DROP TRIGGER IF EXISTS audit_no_update; BEGIN", NULL, NULL, NULL);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, time_us, uid, login, role, action,"
					    " object, purpose, reference, outcome, reason FROM audit"
					    " ORDER BY seq", -1, &sel, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET prev_hash = ?, hash = ?"
					    " WHERE seq = ?", -1, &upd, NULL), SQLITE_OK);
	while (sqlite3_step(sel) == SQLITE_ROW) {
		doc_row_hash(sel, prev, h);
		sqlite3_bind_blob(upd, 1, prev, 32, SQLITE_TRANSIENT);
		sqlite3_bind_blob(upd, 2, h, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 3, sqlite3_column_int64(sel, 0));
		assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
		sqlite3_reset(upd);
		memcpy(prev, h, 32);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Verify with a fresh read-only handle and the device's public key only. */
static int verify(struct fx *t, struct vg_audit_problem *p)
{
	struct vg_sign_key *pub = NULL;
	struct vg_audit *a = NULL;
	char pem[VG_SIGN_PEM_MAX];
	int rc;

	assert_int_equal(vg_sign_pubkey_pem(t->key, pem, sizeof(pem)), 0);
	assert_int_equal(vg_sign_pubkey_parse(pem, &pub), 0);
	assert_int_equal(vg_audit_open(t->db, NULL, &a), 0);
	rc = vg_audit_verify(a, pub, p, NULL);
	vg_audit_close(a);
	vg_sign_key_free(pub);
	return rc;
}

static void expect_bad(struct fx *t, int64_t seq, const char *word)
{
	struct vg_audit_problem p;

	assert_int_equal(verify(t, &p), -VG_EAUTH);
	print_message("    detected: seq %lld: %s\n", (long long)p.seq, p.msg);
	assert_int_equal(p.seq, seq);
	assert_non_null(strstr(p.msg, word));
}

static const int cps_10[] = { 4, 10, 0 };

/* ---- the tests -------------------------------------------------------- */

struct count {
	int n;
	int64_t seqs[64];
};

static int collect(const struct vg_audit_entry *e, void *ud)
{
	struct count *c = ud;

	if (c->n < 64)
		c->seqs[c->n] = e->seq;
	c->n++;
	return 0;
}

static void test_append_verify_query(void **state)
{
	struct fx *t = *state;
	struct vg_audit *a = NULL;
	struct vg_audit_problem p;
	struct vg_audit_stats st;
	struct vg_audit_filter f;
	struct count c;
	struct stat sb;

	build(t, 12, cps_10);
	/* The head file exists and is not world-writable. */
	assert_int_equal(stat(t->head, &sb), 0);
	assert_int_equal(sb.st_mode & 022, 0);
	assert_int_equal(verify(t, &p), 0);

	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	assert_int_equal(vg_audit_verify(a, NULL, &p, &st), 0);
	assert_int_equal(st.rows, 12);
	assert_int_equal(st.checkpoints, 3);	/* genesis, 4, 10 */
	assert_int_equal(st.last_checkpoint_seq, 10);

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	f.login = "user03";
	assert_int_equal(vg_audit_query(a, &f, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seqs[0], 3);

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	f.camera = "bins";	/* rows 3, 6, 9, 12 */
	f.action = "clip";	/* prefix: clip.* */
	f.since_us = 1714557600000000LL + 4 * 1000000;
	assert_int_equal(vg_audit_query(a, &f, collect, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seqs[0], 6);
	assert_int_equal(c.seqs[2], 12);

	memset(&c, 0, sizeof(c));
	f.action = "clip.vie";	/* not a whole component: matches nothing */
	assert_int_equal(vg_audit_query(a, &f, collect, &c), 0);
	assert_int_equal(c.n, 0);

	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	f.action = "clip.view";
	f.until_us = 1714557600000000LL + 5 * 1000000;	/* rows 1..4 by time */
	assert_int_equal(vg_audit_query(a, &f, collect, &c), 0);
	assert_int_equal(c.n, 2);	/* 1 and 3 */
	vg_audit_close(a);
}

static void test_triggers_refuse_update_and_delete(void **state)
{
	struct fx *t = *state;
	struct vg_audit_problem p;

	build(t, 5, NULL);
	assert_int_not_equal(attacker_sql(t, "UPDATE audit SET outcome = 'refused' WHERE seq = 2;"),
			     0);
	assert_int_not_equal(attacker_sql(t, "DELETE FROM audit WHERE seq = 5;"), 0);
	assert_int_not_equal(attacker_sql(t, "DELETE FROM checkpoint;"), 0);
	assert_int_not_equal(attacker_sql(t, "UPDATE checkpoint SET seq = 3;"), 0);
	assert_int_equal(verify(t, &p), 0);
	/* Dropping the triggers alone is reported. */
	assert_int_equal(attacker_sql(t, "DROP TRIGGER audit_no_delete;"), 0);
	expect_bad(t, 0, "triggers");
}

static void test_changed_field_detected(void **state)
{
	struct fx *t = *state;

	build(t, 12, cps_10);
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS
				      "UPDATE audit SET outcome = 'refused' WHERE seq = 7;"), 0);
	expect_bad(t, 7, "altered");
}

static void test_byte_edit_detected(void **state)
{
	struct fx *t = *state;
	uint8_t *buf;
	size_t n;
	char *hit;
	FILE *f;

	build(t, 8, NULL);
	f = fopen(t->db, "r+b");
	assert_non_null(f);
	buf = malloc(1 << 20);
	assert_non_null(buf);
	n = fread(buf, 1, 1 << 20, f);
	hit = memmem(buf, n, "mallory-byteedit", 16);
	assert_non_null(hit);
	hit[0] = 'M';	/* same length: the page stays readable */
	rewind(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	fclose(f);
	free(buf);
	expect_bad(t, 6, "altered");
}

static void test_deleted_row_detected(void **state)
{
	struct fx *t = *state;

	build(t, 12, cps_10);
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS "DELETE FROM audit WHERE seq = 5;"), 0);
	expect_bad(t, 5, "missing");
}

static void test_inserted_row_detected(void **state)
{
	struct fx *t = *state;

	build(t, 12, NULL);
	/* Make room at seq 7 and insert a plausible row there, with the
	 * correct prev_hash and a hash computed by the documented method. */
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS
				      "UPDATE audit SET seq = seq + 1000 WHERE seq >= 7;"
				      "UPDATE audit SET seq = seq - 999 WHERE seq > 1000;"
				      "INSERT INTO audit SELECT 7, time_us, uid, 'ghost', role,"
				      " action, object, purpose, reference, outcome, reason,"
				      " prev_hash, hash FROM audit WHERE seq = 6;"), 0);
	{
		/* Give the ghost row a valid hash chained on row 6 only. */
		sqlite3 *db = NULL;
		sqlite3_stmt *sel = NULL, *upd = NULL;
		uint8_t prev[32], h[32];

		assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, time_us, uid, login, role,"
						    " action, object, purpose, reference, outcome,"
						    " reason, (SELECT hash FROM audit WHERE seq = 6)"
						    " FROM audit WHERE seq = 7", -1, &sel, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(sel), SQLITE_ROW);
		memcpy(prev, sqlite3_column_blob(sel, 11), 32);
		doc_row_hash(sel, prev, h);
		assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET prev_hash = ?, hash = ?"
						    " WHERE seq = 7", -1, &upd, NULL), SQLITE_OK);
		sqlite3_bind_blob(upd, 1, prev, 32, SQLITE_TRANSIENT);
		sqlite3_bind_blob(upd, 2, h, 32, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
		sqlite3_finalize(sel);
		sqlite3_finalize(upd);
		sqlite3_close(db);
	}
	/* Row 7 itself is now consistent; row 8 (the old 7) no longer is. */
	expect_bad(t, 8, "row 8");
}

static void test_reordered_rows_detected(void **state)
{
	struct fx *t = *state;

	build(t, 12, cps_10);
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS
				      "UPDATE audit SET seq = -1 WHERE seq = 3;"
				      "UPDATE audit SET seq = 3 WHERE seq = 8;"
				      "UPDATE audit SET seq = 8 WHERE seq = -1;"), 0);
	expect_bad(t, 3, "row 3");
}

static void test_truncated_tail_detected(void **state)
{
	struct fx *t = *state;

	build(t, 12, cps_10);
	/* Delete rows 8.. and every checkpoint that mentions them: only the
	 * head file remembers the checkpoint at seq 10. */
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS "DELETE FROM audit WHERE seq >= 8;"
				      "DELETE FROM checkpoint WHERE seq >= 8;"), 0);
	expect_bad(t, 8, "deleted");
}

static void test_truncated_tail_keeping_checkpoints_detected(void **state)
{
	struct fx *t = *state;

	build(t, 12, cps_10);
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS "DELETE FROM audit WHERE seq >= 9;"), 0);
	expect_bad(t, 9, "deleted");
}

static void test_rebuilt_chain_detected(void **state)
{
	struct fx *t = *state;

	build(t, 12, cps_10);
	/* Change row 6 and recompute every hash: the chain is internally
	 * consistent again, so only the signed checkpoint at 10 can tell.
	 * Rows 1..4 are unchanged and still match the checkpoint at 4. */
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS
				      "UPDATE audit SET outcome = 'refused' WHERE seq = 6;"), 0);
	attacker_rechain(t);
	expect_bad(t, 5, "checkpoint at seq 10");
}

static void test_rebuilt_chain_without_checkpoints_detected(void **state)
{
	struct fx *t = *state;

	build(t, 12, cps_10);
	/* Same, and the attacker also deletes every checkpoint row; the head
	 * file (signed checkpoint at 10) still catches it. */
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS
				      "UPDATE audit SET reason = 'no reason' WHERE seq = 2;"
				      "DELETE FROM checkpoint;"), 0);
	attacker_rechain(t);
	expect_bad(t, 1, "checkpoint at seq 10");
	/* And with the head file gone as well, the loss itself is reported. */
	assert_int_equal(unlink(t->head), 0);
	expect_bad(t, 0, "head file");
}

static void test_forged_checkpoint_detected(void **state)
{
	struct fx *t = *state;
	struct vg_sign_key *mine = NULL, *saved;
	struct vg_audit *a = NULL;

	build(t, 6, NULL);
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS
				      "UPDATE audit SET outcome = 'refused' WHERE seq = 2;"), 0);
	attacker_rechain(t);
	/* The attacker signs a checkpoint with a key of their own. */
	assert_int_equal(vg_sign_key_generate(&mine), 0);
	assert_int_equal(vg_audit_open(t->db, mine, &a), 0);
	assert_int_equal(vg_audit_checkpoint(a, NULL), 0);
	vg_audit_close(a);
	vg_sign_key_free(mine);
	saved = t->key;
	expect_bad(t, 6, "invalid signature");
	t->key = saved;
}

static void test_bad_input_and_formats(void **state)
{
	struct fx *t = *state;
	struct vg_audit *a = NULL;
	struct vg_audit_entry e;
	uint8_t h1[32], h2[32];
	char login[32], line[512], sd[1024];
	size_t n;

	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	fill(&e, 1, login, sizeof(login));
	e.reason = "bad \xc3\x28 utf-8";
	assert_int_equal(vg_audit_append(a, &e, NULL), -VG_EINVAL);
	e.reason = "over\xe0\x80\xaflong";
	assert_int_equal(vg_audit_append(a, &e, NULL), -VG_EINVAL);
	e.reason = "truncated \xe2\x82";
	assert_int_equal(vg_audit_append(a, &e, NULL), -VG_EINVAL);

	/* A value with every RFC 5424 special character and a newline. */
	e.reason = "R\xc3\xa9sum\xc3\xa9 said \"no\" \\ [x] done\nnext";
	assert_int_equal(vg_audit_append(a, &e, NULL), 0);
	e.seq = 1;
	memset(e.prev_hash, 0, sizeof(e.prev_hash));
	assert_int_equal(vg_audit_row_hash(&e, h1), 0);
	assert_int_equal(vg_audit_head(a, &e.seq, h2), 0);
	assert_int_equal(e.seq, 1);
	assert_memory_equal(h1, h2, 32);
	memcpy(e.hash, h1, 32);

	n = vg_audit_format_sd(&e, sd, sizeof(sd));
	assert_int_equal(n, strlen(sd));
	assert_true(strncmp(sd, "[vigil@32473 seq=\"1\" ", 21) == 0);
	assert_non_null(strstr(sd, " reason=\"R\xc3\xa9sum\xc3\xa9 said \\\"no\\\" \\\\ [x\\] done\nnext\""));
	assert_int_equal(sd[n - 1], ']');

	n = vg_audit_format_line(&e, line, sizeof(line));
	assert_int_equal(n, strlen(line));
	assert_null(strchr(line, '\n'));
	assert_true(strncmp(line, "2024-05-01T10:00:01.000000Z #1 \"user01\"", 39) == 0);
	assert_non_null(strstr(line, "done\\nnext"));
	/* Truncation keeps a terminated string and reports the full length. */
	assert_int_equal(vg_audit_format_line(&e, line, 10), n);
	assert_int_equal(strlen(line), 9);
	vg_audit_close(a);
}

/* The worked example of docs/audit-format.md: the genesis row. The hex is
 * the documented value; if this fails the format changed (new version!). */
static void test_documented_genesis_example(void **state)
{
	struct vg_audit_entry e;
	uint8_t h[32];
	char hex[65];
	int i;

	memset(&e, 0, sizeof(e));
	e.seq = 1;
	e.time_us = 1714557600000000LL;	/* 2024-05-01T10:00:00Z */
	e.uid = 1001;
	e.login = "jsmith";
	e.role = "area_manager";
	e.action = "clip.view";
	e.object = "camera=lobby from=2024-05-01T09:00:00Z to=2024-05-01T09:05:00Z clips=17";
	e.purpose = "damage to the bin store";
	e.reference = "ASB-2024-0042";
	e.outcome = "allowed";
	e.reason = "jsmith is the area manager for Oak Court";
	assert_int_equal(vg_audit_row_hash(&e, h), 0);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	print_message("    genesis example hash %s\n", hex);
	assert_string_equal(hex, "b6f72e8de63142f2c95687862ef373fd9eb8ca676e6b5b35f97bd27e37f79b8d");
}

struct thr {
	struct vg_audit *a;
	int id;
};

static void *writer(void *arg)
{
	struct thr *th = arg;
	char login[32];
	int i;

	for (i = 0; i < 100; i++) {
		struct vg_audit_entry e;

		fill(&e, th->id, login, sizeof(login));
		if (vg_audit_append(th->a, &e, NULL) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent_appends_chain(void **state)
{
	struct fx *t = *state;
	struct vg_audit *a = NULL;
	struct vg_audit_stats st;
	struct vg_audit_problem p;
	pthread_t tid[4];
	struct thr th[4];
	void *ret;
	int i;

	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	for (i = 0; i < 4; i++) {
		th[i].a = a;
		th[i].id = i;
		assert_int_equal(pthread_create(&tid[i], NULL, writer, &th[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(tid[i], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(vg_audit_checkpoint(a, NULL), 0);
	assert_int_equal(vg_audit_verify(a, NULL, &p, &st), 0);
	assert_int_equal(st.rows, 400);
	vg_audit_close(a);
}


/* ---- issue 13: verify before signing, the witness, paging, text ------ */

/* The attacker puts the triggers back after editing (docs/audit-format.md). */
#define RESTORE_TRIGGERS \
	" CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit" \
	" BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;" \
	" CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit" \
	" BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;" \
	" CREATE TRIGGER checkpoint_no_update BEFORE UPDATE ON checkpoint" \
	" BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;" \
	" CREATE TRIGGER checkpoint_no_delete BEFORE DELETE ON checkpoint" \
	" BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;"

/* Rows and checkpoints deleted above 7 of a log signed at 10: the start
 * check records the break, keeps evidence, never reuses 8..10, and refuses
 * to sign until acknowledged. */
static void test_start_check_records_break(void **state)
{
	struct fx *t = *state;
	struct vg_audit *a = NULL;
	struct vg_audit_break b;
	struct vg_audit_problem p;
	struct vg_audit_stats st;
	struct vg_audit_entry e;
	struct vg_audit_checkpoint cp;
	char path[400], login[32];
	struct stat sb;
	int64_t seq = 0;

	build(t, 10, cps_10);
	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	snprintf(path, sizeof(path), "%s/ev", t->dir);
	assert_int_equal(vg_audit_start_check(a, path, &b), 0);	/* intact: nothing */
	vg_audit_close(a);
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS "DELETE FROM audit WHERE seq > 7;"
				      " DELETE FROM checkpoint WHERE seq > 7;" RESTORE_TRIGGERS), 0);
	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	assert_int_equal(vg_audit_start_check(a, path, &b), 1);
	print_message("    recorded: row %lld: %s\n", (long long)b.first_bad_seq, b.msg);
	assert_int_equal(b.first_bad_seq, 8);
	assert_int_equal(b.row_seq, 11);	/* above every signed seq: none reused */
	assert_int_equal(vg_audit_broken(a, NULL), 1);
	snprintf(path, sizeof(path), "%s/problem.txt", b.evidence);
	assert_int_equal(stat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/audit.db.head", b.evidence);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(vg_audit_checkpoint(a, NULL), -VG_EAUTH);	/* not over it */
	fill(&e, 12, login, sizeof(login));
	assert_int_equal(vg_audit_append(a, &e, &seq), 0);
	assert_int_equal(seq, 12);
	/* An acknowledgement row that no checkpoint covers counts for nothing. */
	e.action = "audit.acknowledge";
	e.object = "first_bad_row=8 broken_row=11";
	assert_int_equal(vg_audit_append(a, &e, NULL), 0);
	assert_int_equal(vg_audit_verify(a, NULL, &p, NULL), -VG_EAUTH);
	assert_int_equal(p.seq, 8);
	/* The DPO's acknowledgement is signed: verify accepts rows 8..10 only. */
	e.action = NULL;
	e.object = NULL;
	assert_int_equal(vg_audit_acknowledge(a, &e, &cp), 0);
	assert_int_equal(vg_audit_broken(a, NULL), 0);
	if (vg_audit_verify(a, NULL, &p, &st) != 0)
		fail_msg("after the acknowledgement: row %lld: %s", (long long)p.seq, p.msg);
	assert_int_equal(st.acknowledged_breaks, 2);	/* the anchored fake counts as one too */
	vg_audit_close(a);
	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	snprintf(path, sizeof(path), "%s/ev", t->dir);
	assert_int_equal(vg_audit_start_check(a, path, &b), 0);
	vg_audit_close(a);
	/* A later change outside the acknowledged rows is still caught. */
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS "UPDATE audit SET purpose = 'x'"
				      " WHERE seq = 12;" RESTORE_TRIGGERS), 0);
	expect_bad(t, 12, "altered");
}

/* A deleted head file: recorded (row 0), and the database is not re-signed
 * from scratch when it is missing but its head file is there. */
static void test_start_check_missing_head_or_db(void **state)
{
	struct fx *t = *state;
	struct vg_audit *a = NULL;
	struct vg_audit_break b;
	char path[300];

	build(t, 6, NULL);
	snprintf(path, sizeof(path), "%s/ev", t->dir);
	assert_int_equal(unlink(t->db), 0);
	unlink(path);
	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	assert_int_equal(vg_audit_start_check(a, path, &b), 1);
	print_message("    recorded: row %lld: %s\n", (long long)b.first_bad_seq, b.msg);
	assert_non_null(strstr(b.msg, "deleted"));
	vg_audit_close(a);
	assert_int_equal(unlink(t->head), 0);
	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	assert_int_equal(vg_audit_start_check(a, path, &b), 1);
	assert_non_null(strstr(b.msg, "missing"));
	vg_audit_close(a);
}

struct cps {
	struct vg_audit_checkpoint v[16];
	size_t n;
};

static int keep_cp(const struct vg_audit_checkpoint *cp, void *ud)
{
	struct cps *c = ud;

	if (c->n < 16)
		c->v[c->n++] = *cp;
	return 0;
}

/* What a collector received, checked against tampered logs. */
static void test_witness(void **state)
{
	struct fx *t = *state;
	struct vg_audit *a = NULL;
	struct vg_audit_problem p;
	struct vg_audit_checkpoint back;
	struct cps c = { .n = 0 };
	char line[600];

	build(t, 10, cps_10);
	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	assert_int_equal(vg_audit_checkpoints(a, 0, keep_cp, &c), 0);
	assert_int_equal(c.n, 3);
	assert_true(c.v[0].id < c.v[1].id && c.v[1].id < c.v[2].id);
	/* The syslog element round-trips. */
	vg_audit_format_cp_sd(&c.v[2], line, sizeof(line));
	assert_int_equal(vg_audit_parse_witness(line, &back), 1);
	assert_int_equal(back.seq, 10);
	assert_memory_equal(back.hash, c.v[2].hash, 32);
	assert_int_equal(back.sig_len, c.v[2].sig_len);
	assert_int_equal(vg_audit_parse_witness("<85>1 - - - - no element", &back), 0);
	assert_int_equal(vg_audit_parse_witness("[vigil-checkpoint@32473 seq=\"x\"]", &back),
			 -VG_EFORMAT);
	assert_int_equal(vg_audit_check_witness(a, NULL, c.v, c.n, &p), 0);
	vg_audit_close(a);
	/* Rolled back: rows rewritten from row 1, every checkpoint but seq 0
	 * dropped, the head set back. The box alone is fooled (the head file
	 * is checked separately); the witness is not. */
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS "UPDATE audit SET purpose = 'forged';"
				      " DELETE FROM checkpoint WHERE seq > 0;"), 0);
	attacker_rechain(t);
	assert_int_equal(vg_audit_open(t->db, NULL, &a), 0);
	assert_int_equal(vg_audit_check_witness(a, t->key, c.v, c.n, &p), -VG_EAUTH);
	print_message("    witness: row %lld: %s\n", (long long)p.seq, p.msg);
	assert_int_equal(p.seq, 4);
	vg_audit_close(a);
	/* A forged witness entry is reported, not trusted. */
	c.v[1].sig[10] ^= 1;
	assert_int_equal(vg_audit_open(t->db, NULL, &a), 0);
	assert_int_equal(vg_audit_check_witness(a, t->key, &c.v[1], 1, &p), -VG_EAUTH);
	assert_non_null(strstr(p.msg, "did not sign"));
	vg_audit_close(a);
}

static void test_witness_truncation(void **state)
{
	struct fx *t = *state;
	struct vg_audit *a = NULL;
	struct vg_audit_problem p;
	struct cps c = { .n = 0 };

	build(t, 10, cps_10);
	assert_int_equal(vg_audit_open(t->db, t->key, &a), 0);
	assert_int_equal(vg_audit_checkpoints(a, 0, keep_cp, &c), 0);
	vg_audit_close(a);
	assert_int_equal(attacker_sql(t, DROP_TRIGGERS "DELETE FROM audit WHERE seq > 6;"
				      " DELETE FROM checkpoint WHERE seq > 6;"), 0);
	assert_int_equal(vg_audit_open(t->db, NULL, &a), 0);
	assert_int_equal(vg_audit_check_witness(a, t->key, c.v, c.n, &p), -VG_EAUTH);
	assert_int_equal(p.seq, 7);
	assert_non_null(strstr(p.msg, "deleted or the log was rolled back"));
	vg_audit_close(a);
}

static void test_query_pages(void **state)
{
	struct fx *t = *state;
	struct vg_audit *a = NULL;
	struct vg_audit_filter f = { .limit = 4 };
	struct count c;
	int pages = 0;

	build(t, 10, NULL);
	assert_int_equal(vg_audit_open(t->db, NULL, &a), 0);
	for (;;) {
		memset(&c, 0, sizeof(c));
		assert_int_equal(vg_audit_query(a, &f, collect, &c), 0);
		if (c.n == 0)
			break;
		assert_int_equal(c.seqs[0], f.after_seq + 1);
		f.after_seq = c.seqs[c.n - 1];
		pages++;
	}
	assert_int_equal(pages, 3);
	assert_int_equal(f.after_seq, 10);
	vg_audit_close(a);
}

static void test_textfield_rules(void **state)
{
	char why[300], ex[4 * VG_TEXT_EXCERPT + 8], big[VG_TEXT_PURPOSE_MAX + 2];

	(void)state;
	assert_int_equal(vg_textfield_check("purpose", "damage to the bin store", 23, why,
					    sizeof(why)), 0);
	assert_int_equal(vg_textfield_check("purpose", "caf\xc3\xa9", 5, why, sizeof(why)), 0);
	assert_int_equal(vg_textfield_check("purpose", "a\0b", 3, why, sizeof(why)), -VG_EINVAL);
	assert_non_null(strstr(why, "NUL"));
	assert_int_equal(vg_textfield_check("purpose", "a\xff", 2, why, sizeof(why)), -VG_EINVAL);
	assert_non_null(strstr(why, "UTF-8"));
	assert_int_equal(vg_textfield_check("purpose", "\xc0\xaf", 2, why, sizeof(why)),
			 -VG_EINVAL);	/* overlong '/' */
	assert_int_equal(vg_textfield_check("reference", "ASB-1\n", 6, why, sizeof(why)),
			 -VG_EINVAL);
	assert_non_null(strstr(why, "control"));
	assert_int_equal(vg_textfield_check("reference", "ASB-\xc2\x85", 6, why, sizeof(why)),
			 -VG_EINVAL);	/* U+0085, a C1 control */
	memset(big, 'x', sizeof(big));
	assert_int_equal(vg_textfield_check("purpose", big, VG_TEXT_PURPOSE_MAX, why,
					    sizeof(why)), 0);
	assert_int_equal(vg_textfield_check("purpose", big, VG_TEXT_PURPOSE_MAX + 1, why,
					    sizeof(why)), -VG_EINVAL);
	assert_non_null(strstr(why, "at most 500"));
	assert_int_equal(vg_textfield_limit("reference"), VG_TEXT_REFERENCE_MAX);
	assert_int_equal(vg_textfield_limit("organisation"), VG_TEXT_ORGANISATION_MAX);
	vg_textfield_excerpt("a\0b\xff\"", 5, ex, sizeof(ex));
	assert_string_equal(ex, "a\\x00b\\xff\\\"");
	vg_textfield_excerpt(big, sizeof(big), ex, sizeof(ex));
	assert_int_equal(strlen(ex), VG_TEXT_EXCERPT + 3);
	assert_string_equal(ex + VG_TEXT_EXCERPT, "...");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_append_verify_query),
		T(test_triggers_refuse_update_and_delete),
		T(test_changed_field_detected),
		T(test_byte_edit_detected),
		T(test_deleted_row_detected),
		T(test_inserted_row_detected),
		T(test_reordered_rows_detected),
		T(test_truncated_tail_detected),
		T(test_truncated_tail_keeping_checkpoints_detected),
		T(test_rebuilt_chain_detected),
		T(test_rebuilt_chain_without_checkpoints_detected),
		T(test_forged_checkpoint_detected),
		T(test_bad_input_and_formats),
		T(test_documented_genesis_example),
		T(test_concurrent_appends_chain),
		T(test_start_check_records_break),
		T(test_start_check_missing_head_or_db),
		T(test_witness),
		T(test_witness_truncation),
		T(test_query_pages),
		T(test_textfield_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
