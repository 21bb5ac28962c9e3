/*
 * catalog.c - the clip catalog in SQLite (schema: docs/catalog-format.md).
 *
 * One connection per handle, opened FULLMUTEX, plus our own recursive mutex:
 * the cached statements are shared, so a bind/step/reset sequence must not
 * interleave with another thread's, and a batch (begin..commit) must keep
 * other threads' writes out of its transaction until it ends.
 *
 * Walks read a page of rows under the lock, then call the callback with the
 * lock released and continue after the last key seen (keyset paging). A
 * slow callback (retention unlinking files) thus never stalls recording,
 * and the callback may itself call into the catalog.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>
#include <sqlite3.h>

#define VG_LOG_MODULE "CAT"
#include "vigil/catalog.h"
#include "vigil/err.h"
#include "vigil/log.h"

#define SCHEMA_VERSION 4
#define APPLICATION_ID 1447510860	/* 0x5647434c, "VGCL" */
#define STR_(x) #x
#define STR(x) STR_(x)
#define BUSY_TIMEOUT_MS 5000
#define PAGE_ROWS 64
#define SPAN_KEY "catalog.clip_span_max_us"

/* The clips table's columns, indexes and triggers: written once, used by
 * the version 1 schema and by the version 4 rebuild (AUTOINCREMENT). */
#define CLIP_COLUMNS_SQL \
	" camera TEXT NOT NULL CHECK (length(camera) BETWEEN 1 AND 32),\n" \
	" path TEXT NOT NULL UNIQUE CHECK (length(path) BETWEEN 1 AND 511\n" \
	"  AND substr(path, 1, 1) <> '/' AND instr('/' || path || '/', '/../') = 0),\n" \
	" clip_id BLOB NOT NULL CHECK (length(clip_id) = 16),\n" \
	" start_us INTEGER NOT NULL,\n" \
	" end_us INTEGER NOT NULL CHECK (end_us >= start_us),\n" \
	" frames INTEGER NOT NULL DEFAULT 0,\n" \
	" bytes INTEGER NOT NULL DEFAULT 0,\n" \
	" sha256 BLOB CHECK (sha256 IS NULL OR length(sha256) = 32),\n" \
	" wrapped_key BLOB CHECK (wrapped_key IS NULL OR length(wrapped_key) = 40),\n" \
	" state TEXT NOT NULL DEFAULT 'recording'\n" \
	"  CHECK (state IN ('recording', 'complete', 'recovered')),\n" \
	" synthetic INTEGER NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),\n" \
	" encoder TEXT NOT NULL DEFAULT '' CHECK (length(encoder) < 32),\n" \
	" width INTEGER NOT NULL DEFAULT 0,\n" \
	" height INTEGER NOT NULL DEFAULT 0\n"
#define CLIP_INDEXES_SQL \
	"CREATE INDEX clips_camera_span ON clips (camera, start_us, end_us);\n" \
	"CREATE INDEX clips_end ON clips (end_us);\n" \
	"CREATE INDEX clips_open ON clips (state) WHERE state = 'recording';\n"
/* The longest clip ever catalogued bounds how far before a range's start an
 * overlapping clip can begin; kept by triggers so that any writer
 * maintains it. */
#define CLIP_SPAN_TRIGGERS_SQL \
	"CREATE TRIGGER clips_span_ins AFTER INSERT ON clips BEGIN\n" \
	" UPDATE meta SET value = NEW.end_us - NEW.start_us\n" \
	"  WHERE key = '" SPAN_KEY "' AND value < NEW.end_us - NEW.start_us;\n" \
	" END;\n" \
	"CREATE TRIGGER clips_span_upd AFTER UPDATE OF start_us, end_us ON clips BEGIN\n" \
	" UPDATE meta SET value = NEW.end_us - NEW.start_us\n" \
	"  WHERE key = '" SPAN_KEY "' AND value < NEW.end_us - NEW.start_us;\n" \
	" END;\n"

static const char schema_sql[] =
	"CREATE TABLE meta (\n"
	" key TEXT PRIMARY KEY NOT NULL,\n"
	" value\n"
	") WITHOUT ROWID;\n"
	"CREATE TABLE clips (\n"
	" id INTEGER PRIMARY KEY,\n"
	CLIP_COLUMNS_SQL
	");\n"
	CLIP_INDEXES_SQL
	"CREATE TABLE gaps (\n"
	" id INTEGER PRIMARY KEY,\n"
	" camera TEXT NOT NULL CHECK (length(camera) BETWEEN 1 AND 32),\n"
	" from_us INTEGER NOT NULL,\n"
	" to_us INTEGER CHECK (to_us IS NULL OR to_us >= from_us),\n"
	" reason TEXT NOT NULL DEFAULT '' CHECK (length(reason) < 128)\n"
	");\n"
	"CREATE INDEX gaps_camera_from ON gaps (camera, from_us);\n"
	"INSERT INTO meta (key, value) VALUES ('" SPAN_KEY "', 0);\n"
	CLIP_SPAN_TRIGGERS_SQL;

/* Version 2 adds evidence holds and an index of shredded rows (so that a
 * retention pass cut short by a crash is found without a full scan). It is
 * run on a new file after schema_sql, and on a version 1 file as its
 * migration. A hold row is never deleted: releasing it fills release_* and
 * approved_by; the trigger keeps a buggy or hostile writer from removing
 * the record that footage was kept, or from un-releasing a hold. */
static const char schema_v2_sql[] =
	"CREATE TABLE holds (\n"
	" id INTEGER PRIMARY KEY,\n"
	" camera TEXT NOT NULL CHECK (length(camera) BETWEEN 1 AND 32),\n"
	" from_us INTEGER NOT NULL,\n"
	" to_us INTEGER NOT NULL CHECK (to_us > from_us),\n"
	" reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 255),\n"
	" reference TEXT NOT NULL CHECK (length(reference) BETWEEN 1 AND 63),\n"
	" review_by_us INTEGER NOT NULL,\n"
	" placed_by TEXT NOT NULL CHECK (length(placed_by) BETWEEN 1 AND 32),\n"
	" placed_us INTEGER NOT NULL,\n"
	" release_by TEXT CHECK (release_by IS NULL OR length(release_by) BETWEEN 1 AND 32),\n"
	" release_reason TEXT CHECK (release_reason IS NULL OR length(release_reason) < 256),\n"
	" release_requested_us INTEGER,\n"
	" approved_by TEXT CHECK (approved_by IS NULL OR\n"
	"  (release_by IS NOT NULL AND approved_by <> release_by\n"
	"   AND length(approved_by) BETWEEN 1 AND 32)),\n"
	" released_us INTEGER CHECK ((released_us IS NULL) = (approved_by IS NULL))\n"
	");\n"
	"CREATE INDEX holds_active ON holds (camera, from_us) WHERE released_us IS NULL;\n"
	"CREATE TRIGGER holds_no_delete BEFORE DELETE ON holds BEGIN\n"
	" SELECT RAISE(ABORT, 'holds are released, never deleted');\n"
	" END;\n"
	"CREATE TRIGGER holds_no_unrelease BEFORE UPDATE ON holds\n"
	" WHEN OLD.released_us IS NOT NULL BEGIN\n"
	" SELECT RAISE(ABORT, 'a released hold cannot be changed');\n"
	" END;\n"
	"CREATE INDEX clips_shredded ON clips (id) WHERE wrapped_key IS NULL;\n";

/* Version 3 adds disclosure requests waiting for a second person's
 * approval (policy 3.9, 3.10), so that they outlive a restart of vigild.
 * Run on a new file after schema_v2_sql, and on a version 2 file as its
 * migration. Like holds, a row is never deleted and is decided once: the
 * CHECKs keep the approver apart from the requester, and the triggers keep
 * a decided request, or the text of any request, from being changed. */
static const char schema_v3_sql[] =
	"CREATE TABLE export_requests (\n"
	" id INTEGER PRIMARY KEY,\n"
	" requester TEXT NOT NULL CHECK (length(requester) BETWEEN 1 AND 63),\n"
	" created_us INTEGER NOT NULL,\n"
	" request TEXT NOT NULL CHECK (length(request) >= 2),\n"
	" state TEXT NOT NULL DEFAULT 'waiting'\n"
	"  CHECK (state IN ('waiting', 'approved', 'withdrawn')),\n"
	" decided_by TEXT CHECK (decided_by IS NULL OR length(decided_by) BETWEEN 1 AND 63),\n"
	" decided_us INTEGER,\n"
	" CHECK ((state = 'waiting') = (decided_by IS NULL)\n"
	"  AND (decided_by IS NULL) = (decided_us IS NULL)),\n"
	" CHECK (state <> 'approved' OR decided_by <> requester)\n"
	");\n"
	"CREATE INDEX export_requests_waiting ON export_requests (id) WHERE state = 'waiting';\n"
	"CREATE TRIGGER export_requests_no_delete BEFORE DELETE ON export_requests BEGIN\n"
	" SELECT RAISE(ABORT, 'export requests are part of the record, never deleted');\n"
	" END;\n"
	"CREATE TRIGGER export_requests_decided_once BEFORE UPDATE ON export_requests\n"
	" WHEN OLD.state <> 'waiting' OR NEW.id IS NOT OLD.id\n"
	"  OR NEW.requester IS NOT OLD.requester OR NEW.created_us IS NOT OLD.created_us\n"
	"  OR NEW.request IS NOT OLD.request BEGIN\n"
	" SELECT RAISE(ABORT, 'an export request is decided once and never rewritten');\n"
	" END;\n";

/* Version 4: clip numbers are never used twice (AUTOINCREMENT: an audit
 * row quoting clip=N names one clip for ever), and the record of recording
 * keeps itself whole: a gap stays open until its camera's next clip
 * begins, and the trigger that closes it runs in the clip's own INSERT.
 * The clips table is rebuilt (SQLite cannot add AUTOINCREMENT in place):
 * same columns and rows, and the new counter starts at the highest id the
 * old table holds. Run on a new file after schema_v3_sql (on an empty
 * table), and on a version 3 file as its migration. */
static const char schema_v4_sql[] =
	"CREATE TABLE clips_v4 (\n"
	" id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	CLIP_COLUMNS_SQL
	");\n"
	"INSERT INTO clips_v4 (" "id, camera, path, clip_id, start_us, end_us, frames, bytes,"
	" sha256, wrapped_key, state, synthetic, encoder, width, height)\n"
	" SELECT id, camera, path, clip_id, start_us, end_us, frames, bytes, sha256,"
	" wrapped_key, state, synthetic, encoder, width, height FROM clips ORDER BY id;\n"
	"DROP TABLE clips;\n"
	"ALTER TABLE clips_v4 RENAME TO clips;\n"
	CLIP_INDEXES_SQL
	"CREATE INDEX clips_shredded ON clips (id) WHERE wrapped_key IS NULL;\n"
	CLIP_SPAN_TRIGGERS_SQL
	"CREATE INDEX gaps_open ON gaps (camera) WHERE to_us IS NULL;\n"
	"CREATE TRIGGER clips_close_gaps AFTER INSERT ON clips BEGIN\n"
	" UPDATE gaps SET to_us = max(from_us, NEW.start_us)\n"
	"  WHERE camera = NEW.camera AND to_us IS NULL;\n"
	" END;\n";

#define CLIP_COLS "id, camera, path, clip_id, start_us, end_us, frames, bytes, sha256," \
	" wrapped_key, state, synthetic, encoder, width, height"
#define GAP_COLS "id, camera, from_us, to_us, reason"
#define HOLD_COLS "id, camera, from_us, to_us, reason, reference, review_by_us, placed_by," \
	" placed_us, release_by, release_reason, release_requested_us, approved_by, released_us"

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_CLIP_INSERT,
	S_CLIP_FINISH,
	S_CLIP_DELETE,
	S_CLIP_SHRED,
	S_CLIP_GET,
	S_CLIP_BY_PATH,
	S_CLIPS_CAM,
	S_CLIP_NEXT_CAM,
	S_OPEN_CLIPS,
	S_EXPIRED_CAM,
	S_BY_END,
	S_SPAN,
	S_OPEN_START,
	S_GAP_INSERT,
	S_GAP_CLOSE,
	S_GAP_ENSURE,
	S_RECORDED_UNTIL,
	S_GAPS_CAM,
	S_GAP_NEXT_CAM,
	S_META_GET,
	S_META_SET,
	S_META_DEL,
	S_SHREDDED,
	S_HOLD_INSERT,
	S_HOLD_GET,
	S_HOLDS_ALL,
	S_HOLDS_ACTIVE,
	S_HOLD_REQUEST,
	S_HOLD_APPROVE,
	S_HOLD_CANCEL,
	S_XREQ_INSERT,
	S_XREQ_GET,
	S_XREQ_TAKE,
	S_XREQ_WAITING,
	S_XREQ_WITHDRAW,
	S_CLIPS_AFTER,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_CLIP_INSERT] = "INSERT INTO clips (camera, path, clip_id, start_us, end_us, frames,"
		" bytes, sha256, wrapped_key, state, synthetic, encoder, width, height)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, 'recording', ?9, ?10, ?11, ?12)",
	[S_CLIP_FINISH] = "UPDATE clips SET end_us = ?2, frames = ?3, bytes = ?4, sha256 = ?5,"
		" state = ?6, encoder = ?7, width = ?8, height = ?9 WHERE id = ?1",
	[S_CLIP_DELETE] = "DELETE FROM clips WHERE id = ?1",
	[S_CLIP_SHRED] = "UPDATE clips SET wrapped_key = NULL WHERE id = ?1",
	[S_CLIP_GET] = "SELECT " CLIP_COLS " FROM clips WHERE id = ?1",
	[S_CLIP_BY_PATH] = "SELECT " CLIP_COLS " FROM clips WHERE path = ?1",
	/* ?2 is max(range floor, last start seen), ?5 the last id seen; the
	 * floor keeps the index range short (see SPAN_KEY). */
	[S_CLIPS_CAM] = "SELECT " CLIP_COLS " FROM clips WHERE camera = ?1"
		" AND start_us >= ?2 AND start_us < ?3 AND (end_us > ?4 OR state = 'recording')"
		" AND (start_us > ?2 OR id > ?5) ORDER BY start_us, id LIMIT ?6",
	[S_CLIP_NEXT_CAM] = "SELECT camera FROM clips WHERE camera > ?1 ORDER BY camera LIMIT 1",
	[S_OPEN_CLIPS] = "SELECT " CLIP_COLS " FROM clips WHERE state = 'recording'"
		" AND id > ?1 ORDER BY id LIMIT ?2",
	[S_EXPIRED_CAM] = "SELECT " CLIP_COLS " FROM clips WHERE camera = ?1"
		" AND start_us >= ?2 AND start_us <= ?3 AND end_us <= ?3"
		" AND state <> 'recording' AND (start_us > ?2 OR id > ?4)"
		" ORDER BY start_us, id LIMIT ?5",
	[S_BY_END] = "SELECT " CLIP_COLS " FROM clips WHERE end_us >= ?1 AND end_us <= ?2"
		" AND state <> 'recording' AND (end_us > ?1 OR id > ?3)"
		" ORDER BY end_us, id LIMIT ?4",
	[S_SPAN] = "SELECT value FROM meta WHERE key = '" SPAN_KEY "'",
	[S_OPEN_START] = "SELECT min(start_us) FROM clips WHERE state = 'recording' AND camera = ?1",
	[S_GAP_INSERT] = "INSERT INTO gaps (camera, from_us, to_us, reason)"
		" VALUES (?1, ?2, NULL, ?3)",
	[S_GAP_CLOSE] = "UPDATE gaps SET to_us = ?2 WHERE id = ?1",
	/* gaps_open makes the NOT EXISTS one index probe. */
	[S_GAP_ENSURE] = "INSERT INTO gaps (camera, from_us, to_us, reason)"
		" SELECT ?1, ?2, NULL, ?3 WHERE NOT EXISTS"
		" (SELECT 1 FROM gaps WHERE camera = ?1 AND to_us IS NULL)",
	/* Both halves are the newest row of one index range. */
	[S_RECORDED_UNTIL] = "SELECT max(coalesce((SELECT end_us FROM clips WHERE camera = ?1"
		" ORDER BY start_us DESC, id DESC LIMIT 1), 0),"
		" coalesce((SELECT to_us FROM gaps WHERE camera = ?1 AND to_us IS NOT NULL"
		" ORDER BY from_us DESC, id DESC LIMIT 1), 0))",
	[S_GAPS_CAM] = "SELECT " GAP_COLS " FROM gaps WHERE camera = ?1"
		" AND from_us >= ?2 AND from_us < ?3 AND (to_us IS NULL OR to_us > ?4)"
		" AND (from_us > ?2 OR id > ?5) ORDER BY from_us, id LIMIT ?6",
	[S_GAP_NEXT_CAM] = "SELECT camera FROM gaps WHERE camera > ?1 ORDER BY camera LIMIT 1",
	[S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[S_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2)"
		" ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[S_META_DEL] = "DELETE FROM meta WHERE key = ?1",
	[S_SHREDDED] = "SELECT " CLIP_COLS " FROM clips WHERE wrapped_key IS NULL AND id > ?1"
		" ORDER BY id LIMIT ?2",
	[S_CLIPS_AFTER] = "SELECT " CLIP_COLS " FROM clips WHERE id > ?1 ORDER BY id LIMIT ?2",
	[S_HOLD_INSERT] = "INSERT INTO holds (camera, from_us, to_us, reason, reference,"
		" review_by_us, placed_by, placed_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_HOLD_GET] = "SELECT " HOLD_COLS " FROM holds WHERE id = ?1",
	[S_HOLDS_ALL] = "SELECT " HOLD_COLS " FROM holds ORDER BY id",
	[S_HOLDS_ACTIVE] = "SELECT " HOLD_COLS " FROM holds WHERE released_us IS NULL ORDER BY id",
	/* Only an active hold with no pending request. */
	[S_HOLD_REQUEST] = "UPDATE holds SET release_by = ?2, release_reason = ?3,"
		" release_requested_us = ?4 WHERE id = ?1 AND released_us IS NULL"
		" AND release_by IS NULL",
	/* The two-person rule lives in the WHERE clause, so it holds however
	 * many threads or processes approve at once. */
	[S_HOLD_APPROVE] = "UPDATE holds SET approved_by = ?2, released_us = ?3"
		" WHERE id = ?1 AND released_us IS NULL AND release_by IS NOT NULL"
		" AND release_by <> ?2",
	[S_HOLD_CANCEL] = "UPDATE holds SET release_by = NULL, release_reason = NULL,"
		" release_requested_us = NULL WHERE id = ?1 AND released_us IS NULL"
		" AND release_by IS NOT NULL",
	[S_XREQ_INSERT] = "INSERT INTO export_requests (requester, created_us, request, state)"
		" VALUES (?1, ?2, ?3, 'waiting')",
	[S_XREQ_GET] = "SELECT requester, request FROM export_requests"
		" WHERE id = ?1 AND state = 'waiting'",
	/* The two-person rule and "approved once" live in the WHERE clause,
	 * so they hold however many threads or processes approve at once. */
	[S_XREQ_TAKE] = "UPDATE export_requests SET state = 'approved', decided_by = ?2,"
		" decided_us = ?3 WHERE id = ?1 AND state = 'waiting' AND requester <> ?2",
	[S_XREQ_WAITING] = "SELECT id, requester, created_us FROM export_requests"
		" WHERE state = 'waiting' AND id > ?1 ORDER BY id LIMIT ?2",
	[S_XREQ_WITHDRAW] = "UPDATE export_requests SET state = 'withdrawn', decided_by = ?2,"
		" decided_us = ?3 WHERE id = ?1 AND state = 'waiting'",
};

struct vg_catalog {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	/* Recursive: a batch holds it from begin to commit while the same
	 * thread calls other catalog functions. Guards st[], batch and the
	 * connection's error state. */
	pthread_mutex_t lock;
	int batch;
};

static void cat_lock(struct vg_catalog *cat)
{
	pthread_mutex_lock(&cat->lock);
}

static void cat_unlock(struct vg_catalog *cat)
{
	pthread_mutex_unlock(&cat->lock);
}

/* Log the connection's last error and map it to a VG_E* code. */
static int db_fail(struct vg_catalog *cat, const char *what)
{
	int ext = sqlite3_extended_errcode(cat->db);

	vg_warnx("%s: %s (sqlite %d)", what, sqlite3_errmsg(cat->db), ext);
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return -VG_EEXIST;
	if (ext == SQLITE_CONSTRAINT_CHECK || ext == SQLITE_CONSTRAINT_NOTNULL)
		return -VG_EINVAL;
	if ((ext & 0xff) == SQLITE_FULL)
		return -VG_ENOSPC;
	return -VG_EDB;
}

/* Step a statement that returns no rows, then reset it. */
static int run_done(struct vg_catalog *cat, sqlite3_stmt *st, const char *what)
{
	int rc = 0;

	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(cat, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static void finish_stmt(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Length of a NUL-terminated string held in an array of size cap, or -1 if
 * it is empty or fills the whole array. */
static int bounded_len(const char *s, size_t cap)
{
	size_t n;

	if (s == NULL)
		return -1;
	n = strnlen(s, cap);
	if (n == 0 || n == cap)
		return -1;
	return (int)n;
}

/* A catalogued path is relative to the data folder and never climbs out of
 * it: retention unlinks what the catalog names. */
static int path_ok(const char *p, size_t cap)
{
	const char *c;

	if (bounded_len(p, cap) < 0 || p[0] == '/')
		return 0;
	for (c = p; *c != '\0'; ) {
		size_t seg = strcspn(c, "/");

		if (seg == 2 && c[0] == '.' && c[1] == '.')
			return 0;
		c += seg;
		if (*c == '/')
			c++;
	}
	return 1;
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n;

	dst[0] = '\0';
	if (t == NULL)
		return;
	n = strnlen((const char *)t, cap - 1);
	memcpy(dst, t, n);
	dst[n] = '\0';
}

/* Copy a blob column if it has exactly len bytes; 1 if it did. */
static int copy_blob(uint8_t *dst, size_t len, sqlite3_stmt *st, int col)
{
	const void *b = sqlite3_column_blob(st, col);

	if (b == NULL || (size_t)sqlite3_column_bytes(st, col) != len) {
		memset(dst, 0, len);
		return 0;
	}
	memcpy(dst, b, len);
	return 1;
}

static const char *state_name(enum vg_clip_state s)
{
	switch (s) {
	case VG_CLIP_COMPLETE:
		return "complete";
	case VG_CLIP_RECOVERED:
		return "recovered";
	case VG_CLIP_RECORDING:
	default:
		return "recording";
	}
}

static enum vg_clip_state state_parse(const unsigned char *t)
{
	if (t != NULL && strcmp((const char *)t, "complete") == 0)
		return VG_CLIP_COMPLETE;
	if (t != NULL && strcmp((const char *)t, "recovered") == 0)
		return VG_CLIP_RECOVERED;
	return VG_CLIP_RECORDING;
}

/* Fill c from a row laid out as CLIP_COLS. */
static void read_clip(sqlite3_stmt *st, struct vg_clip *c)
{
	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	copy_text(c->camera, sizeof(c->camera), st, 1);
	copy_text(c->path, sizeof(c->path), st, 2);
	copy_blob(c->clip_id, sizeof(c->clip_id), st, 3);
	c->start_us = sqlite3_column_int64(st, 4);
	c->end_us = sqlite3_column_int64(st, 5);
	c->frames = sqlite3_column_int64(st, 6);
	c->bytes = sqlite3_column_int64(st, 7);
	copy_blob(c->sha256, sizeof(c->sha256), st, 8);
	c->has_key = copy_blob(c->wrapped_key, sizeof(c->wrapped_key), st, 9);
	c->state = state_parse(sqlite3_column_text(st, 10));
	c->synthetic = sqlite3_column_int(st, 11) != 0;
	copy_text(c->encoder, sizeof(c->encoder), st, 12);
	c->width = sqlite3_column_int(st, 13);
	c->height = sqlite3_column_int(st, 14);
}

static void read_gap(sqlite3_stmt *st, struct vg_gap *g)
{
	memset(g, 0, sizeof(*g));
	g->id = sqlite3_column_int64(st, 0);
	copy_text(g->camera, sizeof(g->camera), st, 1);
	g->from_us = sqlite3_column_int64(st, 2);
	g->to_us = sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 3);
	copy_text(g->reason, sizeof(g->reason), st, 4);
}

/* Run a PRAGMA that answers one row and return its first column as text. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = -VG_EDB;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out;
	copy_text(out, len, st, 0);
	rc = 0;
out:
	if (rc != 0)
		vg_warnx("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	char buf[32];
	int rc = pragma_text(db, sql, buf, sizeof(buf));

	if (rc == 0)
		*out = strtoll(buf, NULL, 10);
	return rc;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		vg_warnx("%.60s...: %s", sql, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -VG_EDB;
	}
	return 0;
}

/* Create the file ourselves so that it (and the -wal/-shm files SQLite
 * derives from its mode) is not world-readable, and make its directory
 * entry durable. */
static int precreate(const char *path)
{
	char dir[4096];
	const char *slash;
	int fd;
	int rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		vg_warn("cannot create catalog %s", path);
		return -vg_err_from_errno(errno);
	}
	if (fsync(fd) != 0)
		rc = -vg_err_from_errno(errno);
	close(fd);
	slash = strrchr(path, '/');
	if (slash == NULL) {
		dir[0] = '.';
		dir[1] = '\0';
	} else if (slash == path) {
		dir[0] = '/';
		dir[1] = '\0';
	} else if ((size_t)(slash - path) < sizeof(dir)) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	} else {
		return rc;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd) != 0 && rc == 0)
			rc = -vg_err_from_errno(errno);
		close(fd);
	}
	return rc;
}

/* Check the file is ours and at a version we know; create the schema in a
 * fresh file. */
static int check_schema(sqlite3 *db)
{
	int64_t ver = 0, app = 0, ntables = 0, migrated_from = 0;
	int rc;

	rc = exec(db, "BEGIN IMMEDIATE");
	if (rc != 0)
		return rc;
	/* Read inside the write transaction: two processes opening a new file
	 * at once must not both create the schema. */
	rc = pragma_int(db, "PRAGMA user_version", &ver);
	if (rc == 0)
		rc = pragma_int(db, "PRAGMA application_id", &app);
	if (rc == 0)
		rc = pragma_int(db, "SELECT count(*) FROM sqlite_schema", &ntables);
	if (rc != 0)
		goto out;
	if (ver == 0 && app == 0 && ntables == 0) {
		rc = exec(db, schema_sql);
		if (rc == 0)
			rc = exec(db, schema_v2_sql);
		if (rc == 0)
			rc = exec(db, schema_v3_sql);
		if (rc == 0)
			rc = exec(db, schema_v4_sql);
		if (rc == 0)
			rc = exec(db, "PRAGMA application_id = " STR(APPLICATION_ID) ";"
				  " PRAGMA user_version = " STR(SCHEMA_VERSION));
		if (rc == 0)
			vg_info("created catalog schema version %d", SCHEMA_VERSION);
	} else if (app == APPLICATION_ID && ver >= 1 && ver < SCHEMA_VERSION) {
		/* Same transaction as the check: all of the migrations or none,
		 * so a crash leaves the old version or the new one. */
		if (ver == 1) {
			rc = exec(db, schema_v2_sql);
			if (rc == 0)
				rc = exec(db, "PRAGMA user_version = 2");
		}
		if (rc == 0 && ver <= 2)
			rc = exec(db, schema_v3_sql);
		if (rc == 0 && ver <= 2)
			rc = exec(db, "PRAGMA user_version = 3");
		if (rc == 0)
			rc = exec(db, schema_v4_sql);
		if (rc == 0)
			rc = exec(db, "PRAGMA user_version = 4");
		if (rc == 0)
			migrated_from = ver;
	} else if (app != APPLICATION_ID) {
		vg_warnx("not a vigil catalog (application_id %lld)", (long long)app);
		rc = -VG_EFORMAT;
	} else if (ver != SCHEMA_VERSION) {
		vg_warnx("catalog schema version %lld, this build knows %d", (long long)ver,
			 SCHEMA_VERSION);
		rc = -VG_EFORMAT;
	}
	/* Any version: the camera index carries end_us too, so that summing
	 * a camera's recorded time (the review report) reads the index alone.
	 * It serves every query the old one did (a prefix); no version change,
	 * since no reader depends on an index's name. Once per catalog. */
	if (rc == 0 && pragma_int(db, "SELECT count(*) FROM sqlite_schema WHERE name ="
				  " 'clips_camera_start'", &ntables) == 0 && ntables > 0) {
		vg_info("re-indexing the catalog's clips by camera and time (once; may take "
			"a minute on a large catalog)");
		rc = exec(db, "DROP INDEX clips_camera_start;"
			  " CREATE INDEX clips_camera_span ON clips (camera, start_us, end_us)");
	}
out:
	if (rc == 0)
		rc = exec(db, "COMMIT");
	if (rc != 0)
		exec(db, "ROLLBACK");
	/* Logged once committed: a rolled-back migration did not happen. */
	if (rc == 0 && migrated_from == 1)
		vg_info("migrated catalog schema version 1 to 2 (evidence holds)");
	if (rc == 0 && migrated_from >= 1 && migrated_from <= 2)
		vg_info("migrated catalog schema version 2 to 3 (export requests awaiting "
			"approval)");
	if (rc == 0 && migrated_from >= 1)
		vg_info("migrated catalog schema version 3 to 4 (clip numbers never reused, "
			"gaps closed by the next clip)");
	return rc;
}

/* Set the connection up; every setting the catalog's promises rest on is
 * read back. */
static int configure(sqlite3 *db)
{
	char mode[16];
	int64_t v = 0;
	int rc;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* A tampered file must not be able to run SQL functions from its
	 * schema or be corrupted through PRAGMA writable_schema. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	rc = exec(db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
		  " PRAGMA secure_delete = ON");
	if (rc != 0)
		return rc;
	rc = pragma_int(db, "PRAGMA secure_delete", &v);
	if (rc == 0 && v != 1) {
		vg_warnx("secure_delete is not available: refusing (keys could not be shredded)");
		return -VG_EDB;
	}
	rc = pragma_int(db, "PRAGMA synchronous", &v);
	if (rc == 0 && v != 2) {
		vg_warnx("synchronous=FULL refused");
		return -VG_EDB;
	}
	rc = pragma_text(db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (rc == 0 && strcmp(mode, "wal") != 0) {
		vg_warnx("journal_mode WAL refused (got %s)", mode);
		return -VG_EDB;
	}
	return rc;
}

int vg_catalog_open(struct vg_catalog **out, const char *path)
{
	struct vg_catalog *cat = NULL;
	pthread_mutexattr_t attr;
	int rc;

	if (out == NULL || path == NULL || path[0] == '\0')
		return -VG_EINVAL;
	*out = NULL;
	rc = precreate(path);
	if (rc != 0)
		return rc;
	cat = calloc(1, sizeof(*cat));
	if (cat == NULL)
		return -VG_ENOMEM;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	rc = pthread_mutex_init(&cat->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc != 0) {
		free(cat);
		return -VG_ENOMEM;
	}
	if (sqlite3_open_v2(path, &cat->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		vg_warnx("cannot open catalog %s: %s", path,
			 cat->db ? sqlite3_errmsg(cat->db) : "out of memory");
		rc = -VG_EDB;
		goto err;
	}
	rc = configure(cat->db);
	if (rc == 0)
		rc = check_schema(cat->db);
	if (rc != 0)
		goto err;
	for (int i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(cat->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &cat->st[i], NULL) != SQLITE_OK) {
			rc = db_fail(cat, "prepare");
			goto err;
		}
	}
	*out = cat;
	return 0;
err:
	vg_catalog_close(cat);
	return rc == -VG_EFORMAT || rc == -VG_ENOMEM ? rc : -VG_EDB;
}

void vg_catalog_close(struct vg_catalog *cat)
{
	if (cat == NULL)
		return;
	if (cat->db != NULL && !sqlite3_get_autocommit(cat->db)) {
		vg_warnx("catalog closed inside a batch: rolled back");
		exec(cat->db, "ROLLBACK");
	}
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(cat->st[i]);
	if (cat->db != NULL && sqlite3_close(cat->db) != SQLITE_OK)
		vg_warnx("closing catalog: %s", sqlite3_errmsg(cat->db));
	pthread_mutex_destroy(&cat->lock);
	free(cat);
}

/* ---- clips ---- */

int vg_catalog_clip_begin(struct vg_catalog *cat, struct vg_clip *c)
{
	sqlite3_stmt *st;
	int rc;

	if (cat == NULL || c == NULL || bounded_len(c->camera, sizeof(c->camera)) < 0 ||
	    !path_ok(c->path, sizeof(c->path)) ||
	    strnlen(c->encoder, sizeof(c->encoder)) == sizeof(c->encoder))
		return -VG_EINVAL;
	if (c->end_us < c->start_us)
		c->end_us = c->start_us;
	cat_lock(cat);
	st = cat->st[S_CLIP_INSERT];
	sqlite3_bind_text(st, 1, c->camera, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->path, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, c->clip_id, sizeof(c->clip_id), SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, c->start_us);
	sqlite3_bind_int64(st, 5, c->end_us);
	sqlite3_bind_int64(st, 6, c->frames);
	sqlite3_bind_int64(st, 7, c->bytes);
	sqlite3_bind_blob(st, 8, c->wrapped_key, sizeof(c->wrapped_key), SQLITE_STATIC);
	sqlite3_bind_int(st, 9, c->synthetic != 0);
	sqlite3_bind_text(st, 10, c->encoder, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 11, c->width);
	sqlite3_bind_int(st, 12, c->height);
	rc = run_done(cat, st, "clip begin");
	if (rc == 0) {
		c->id = sqlite3_last_insert_rowid(cat->db);
		c->has_key = 1;
		c->state = VG_CLIP_RECORDING;
	}
	cat_unlock(cat);
	return rc;
}

/* Run a one-row UPDATE/DELETE by id: -VG_ENOENT if no row had that id. */
static int run_by_id(struct vg_catalog *cat, sqlite3_stmt *st, const char *what)
{
	int rc = run_done(cat, st, what);

	if (rc == 0 && sqlite3_changes(cat->db) == 0)
		rc = -VG_ENOENT;
	return rc;
}

int vg_catalog_clip_finish(struct vg_catalog *cat, const struct vg_clip *c)
{
	sqlite3_stmt *st;
	int rc;

	if (cat == NULL || c == NULL || c->state < VG_CLIP_RECORDING ||
	    c->state > VG_CLIP_RECOVERED ||
	    strnlen(c->encoder, sizeof(c->encoder)) == sizeof(c->encoder))
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_CLIP_FINISH];
	sqlite3_bind_int64(st, 1, c->id);
	sqlite3_bind_int64(st, 2, c->end_us);
	sqlite3_bind_int64(st, 3, c->frames);
	sqlite3_bind_int64(st, 4, c->bytes);
	sqlite3_bind_blob(st, 5, c->sha256, sizeof(c->sha256), SQLITE_STATIC);
	sqlite3_bind_text(st, 6, state_name(c->state), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, c->encoder, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, c->width);
	sqlite3_bind_int(st, 9, c->height);
	rc = run_by_id(cat, st, "clip finish");
	cat_unlock(cat);
	return rc;
}

static int clip_by_id_op(struct vg_catalog *cat, enum stmt_id sid, int64_t id, const char *what)
{
	int rc;

	if (cat == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	sqlite3_bind_int64(cat->st[sid], 1, id);
	rc = run_by_id(cat, cat->st[sid], what);
	cat_unlock(cat);
	return rc;
}

int vg_catalog_clip_delete(struct vg_catalog *cat, int64_t id)
{
	return clip_by_id_op(cat, S_CLIP_DELETE, id, "clip delete");
}

int vg_catalog_clip_shred(struct vg_catalog *cat, int64_t id)
{
	return clip_by_id_op(cat, S_CLIP_SHRED, id, "clip shred");
}

int vg_catalog_checkpoint(struct vg_catalog *cat)
{
	int rc = 0;

	if (cat == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	if (cat->batch) {
		rc = -VG_EINVAL;
	} else {
		int r = sqlite3_wal_checkpoint_v2(cat->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
						  NULL, NULL);

		if (r == SQLITE_BUSY)
			rc = -VG_EAGAIN;
		else if (r != SQLITE_OK)
			rc = db_fail(cat, "checkpoint");
	}
	cat_unlock(cat);
	return rc;
}

/* Step a statement expected to yield at most one clip row. */
static int get_one_clip(struct vg_catalog *cat, sqlite3_stmt *st, struct vg_clip *out)
{
	int r = sqlite3_step(st);
	int rc = 0;

	if (r == SQLITE_ROW)
		read_clip(st, out);
	else if (r == SQLITE_DONE)
		rc = -VG_ENOENT;
	else
		rc = db_fail(cat, "clip get");
	finish_stmt(st);
	return rc;
}

int vg_catalog_clip_get(struct vg_catalog *cat, int64_t id, struct vg_clip *out)
{
	int rc;

	if (cat == NULL || out == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	sqlite3_bind_int64(cat->st[S_CLIP_GET], 1, id);
	rc = get_one_clip(cat, cat->st[S_CLIP_GET], out);
	cat_unlock(cat);
	return rc;
}

int vg_catalog_clip_by_path(struct vg_catalog *cat, const char *relpath, struct vg_clip *out)
{
	int rc;

	if (cat == NULL || relpath == NULL || out == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	sqlite3_bind_text(cat->st[S_CLIP_BY_PATH], 1, relpath, -1, SQLITE_STATIC);
	rc = get_one_clip(cat, cat->st[S_CLIP_BY_PATH], out);
	cat_unlock(cat);
	return rc;
}

/* ---- walks ---- */

/*
 * Step st (bound by the caller, lock held) into page, rows of size bytes
 * each read by read_row, at most PAGE_ROWS; *n rows read. Every walk
 * (clips, gaps, export requests) pages this way: the lock is held only
 * while a page is read, never while the caller's callback runs.
 */
static int fetch_rows(struct vg_catalog *cat, sqlite3_stmt *st, void *page, size_t size,
		      void (*read_row)(sqlite3_stmt *st, void *row), const char *what, int *n)
{
	int r;
	int rc = 0;

	*n = 0;
	while (*n < PAGE_ROWS) {
		r = sqlite3_step(st);
		if (r == SQLITE_DONE)
			break;
		if (r != SQLITE_ROW) {
			rc = db_fail(cat, what);
			break;
		}
		read_row(st, (char *)page + (size_t)*n * size);
		(*n)++;
	}
	finish_stmt(st);
	return rc;
}

static void read_clip_row(sqlite3_stmt *st, void *row)
{
	read_clip(st, row);
}

static int fetch_clips(struct vg_catalog *cat, sqlite3_stmt *st, struct vg_clip *page, int *n)
{
	return fetch_rows(cat, st, page, sizeof(*page), read_clip_row, "clip walk", n);
}

/* Hand rows to fn with no lock held; its first non-zero answer is kept. */
static int deliver(const struct vg_clip *page, int n, vg_clip_fn fn, void *ud)
{
	int r;

	for (int i = 0; i < n; i++) {
		r = fn(&page[i], ud);
		if (r != 0)
			return r;
	}
	return 0;
}

static struct vg_clip *page_alloc(void)
{
	return calloc(PAGE_ROWS, sizeof(struct vg_clip));
}

static void page_free(struct vg_clip *page)
{
	if (page == NULL)
		return;
	/* wrapped keys are not plaintext keys, but leave no copies about */
	mbedtls_platform_zeroize(page, PAGE_ROWS * sizeof(*page));
	free(page);
}

/* Rows left to fetch in this page given a total limit (<= 0: none). */
static int page_limit(int limit, long done)
{
	if (limit <= 0 || limit - done >= PAGE_ROWS)
		return PAGE_ROWS;
	return (int)(limit - done);
}

/* Next camera name after prev (in clips or gaps); 1 when there is none. */
static int next_camera(struct vg_catalog *cat, enum stmt_id sid, const char *prev, char out[33])
{
	sqlite3_stmt *st;
	int r, rc;

	cat_lock(cat);
	st = cat->st[sid];
	sqlite3_bind_text(st, 1, prev, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		copy_text(out, 33, st, 0);
		rc = 0;
	} else if (r == SQLITE_DONE) {
		rc = 1;
	} else {
		rc = db_fail(cat, "camera walk");
	}
	finish_stmt(st);
	cat_unlock(cat);
	return rc;
}

/* The floor on start_us of a clip overlapping [from_us, ...): no clip is
 * longer than the longest one catalogued. */
static int64_t start_floor(struct vg_catalog *cat, const char *camera, int64_t from_us)
{
	sqlite3_stmt *st = cat->st[S_SPAN];
	int64_t span = -1, floor_us;

	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		span = sqlite3_column_int64(st, 0);
	finish_stmt(st);
	if (span < 0 || from_us < INT64_MIN + span)
		return INT64_MIN;	/* unknown: scan from the camera's first clip */
	floor_us = from_us - span;
	/* A clip still being recorded has no end yet (end_us = start_us
	 * until it closes) and may already be longer than any closed one:
	 * it overlaps every range from its start on, so the scan starts no
	 * later than it. Few rows: the partial index clips_open. */
	st = cat->st[S_OPEN_START];
	sqlite3_bind_text(st, 1, camera, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
	    sqlite3_column_int64(st, 0) < floor_us)
		floor_us = sqlite3_column_int64(st, 0);
	finish_stmt(st);
	return floor_us;
}

static int clips_of_camera(struct vg_catalog *cat, const char *camera, int64_t from_us,
			   int64_t to_us, vg_clip_fn fn, void *ud, struct vg_clip *page)
{
	sqlite3_stmt *st;
	int64_t floor_us, last_start = INT64_MIN, last_id = INT64_MIN;
	int n = 0, rc;

	for (;;) {
		cat_lock(cat);
		floor_us = from_us == 0 ? INT64_MIN : start_floor(cat, camera, from_us);
		if (last_start > floor_us)
			floor_us = last_start;
		st = cat->st[S_CLIPS_CAM];
		sqlite3_bind_text(st, 1, camera, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, floor_us);
		sqlite3_bind_int64(st, 3, to_us == 0 ? INT64_MAX : to_us);
		sqlite3_bind_int64(st, 4, from_us == 0 ? INT64_MIN : from_us);
		sqlite3_bind_int64(st, 5, last_id);
		sqlite3_bind_int(st, 6, PAGE_ROWS);
		rc = fetch_clips(cat, st, page, &n);
		cat_unlock(cat);
		if (rc == 0)
			rc = deliver(page, n, fn, ud);
		if (rc != 0 || n < PAGE_ROWS)
			return rc;
		last_start = page[n - 1].start_us;
		last_id = page[n - 1].id;
	}
}

int vg_catalog_clips(struct vg_catalog *cat, const char *camera, int64_t from_us,
		     int64_t to_us, vg_clip_fn fn, void *ud)
{
	struct vg_clip *page;
	char cam[33] = "";
	int rc = 0;

	if (cat == NULL || fn == NULL)
		return -VG_EINVAL;
	page = page_alloc();
	if (page == NULL)
		return -VG_ENOMEM;
	if (camera != NULL) {
		rc = clips_of_camera(cat, camera, from_us, to_us, fn, ud, page);
	} else {
		/* One index range per camera keeps each a short seek instead
		 * of a scan of everything before to_us. */
		for (;;) {
			char prev[33];

			memcpy(prev, cam, sizeof(prev));
			rc = next_camera(cat, S_CLIP_NEXT_CAM, prev, cam);
			if (rc == 1) {
				rc = 0;
				break;
			}
			if (rc == 0)
				rc = clips_of_camera(cat, cam, from_us, to_us, fn, ud, page);
			if (rc != 0)
				break;
		}
	}
	page_free(page);
	return rc;
}

int vg_catalog_open_clips(struct vg_catalog *cat, vg_clip_fn fn, void *ud)
{
	struct vg_clip *page;
	sqlite3_stmt *st;
	int64_t last_id = INT64_MIN;
	int n, rc;

	if (cat == NULL || fn == NULL)
		return -VG_EINVAL;
	page = page_alloc();
	if (page == NULL)
		return -VG_ENOMEM;
	for (;;) {
		cat_lock(cat);
		st = cat->st[S_OPEN_CLIPS];
		sqlite3_bind_int64(st, 1, last_id);
		sqlite3_bind_int(st, 2, PAGE_ROWS);
		rc = fetch_clips(cat, st, page, &n);
		cat_unlock(cat);
		if (rc == 0)
			rc = deliver(page, n, fn, ud);
		if (rc != 0 || n < PAGE_ROWS)
			break;
		last_id = page[n - 1].id;
	}
	page_free(page);
	return rc;
}

/* Clips with end_us <= before_us, all cameras, by end then id. */
static int walk_by_end(struct vg_catalog *cat, int64_t before_us, int limit, vg_clip_fn fn,
		       void *ud)
{
	struct vg_clip *page;
	sqlite3_stmt *st;
	int64_t last_end = INT64_MIN, last_id = INT64_MIN;
	long done = 0;
	int n, want, rc;

	page = page_alloc();
	if (page == NULL)
		return -VG_ENOMEM;
	for (;;) {
		want = page_limit(limit, done);
		cat_lock(cat);
		st = cat->st[S_BY_END];
		sqlite3_bind_int64(st, 1, last_end);
		sqlite3_bind_int64(st, 2, before_us);
		sqlite3_bind_int64(st, 3, last_id);
		sqlite3_bind_int(st, 4, want);
		rc = fetch_clips(cat, st, page, &n);
		cat_unlock(cat);
		if (rc == 0)
			rc = deliver(page, n, fn, ud);
		done += n;
		if (rc != 0 || n < want || (limit > 0 && done >= limit))
			break;
		last_end = page[n - 1].end_us;
		last_id = page[n - 1].id;
	}
	page_free(page);
	return rc;
}

int vg_catalog_expired(struct vg_catalog *cat, const char *camera, int64_t before_us,
		       int limit, vg_clip_fn fn, void *ud)
{
	struct vg_clip *page;
	sqlite3_stmt *st;
	int64_t last_start = INT64_MIN, last_id = INT64_MIN;
	long done = 0;
	int n, want, rc;

	if (cat == NULL || fn == NULL)
		return -VG_EINVAL;
	if (camera == NULL)
		return walk_by_end(cat, before_us, limit, fn, ud);
	page = page_alloc();
	if (page == NULL)
		return -VG_ENOMEM;
	/* By (camera, start_us): a clip ending by before_us started by then
	 * too, so the range stops at before_us and only the few clips that
	 * straddle it are read and dropped. */
	for (;;) {
		want = page_limit(limit, done);
		cat_lock(cat);
		st = cat->st[S_EXPIRED_CAM];
		sqlite3_bind_text(st, 1, camera, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, last_start);
		sqlite3_bind_int64(st, 3, before_us);
		sqlite3_bind_int64(st, 4, last_id);
		sqlite3_bind_int(st, 5, want);
		rc = fetch_clips(cat, st, page, &n);
		cat_unlock(cat);
		if (rc == 0)
			rc = deliver(page, n, fn, ud);
		done += n;
		if (rc != 0 || n < want || (limit > 0 && done >= limit))
			break;
		last_start = page[n - 1].start_us;
		last_id = page[n - 1].id;
	}
	page_free(page);
	return rc;
}

int vg_catalog_oldest(struct vg_catalog *cat, int limit, vg_clip_fn fn, void *ud)
{
	if (cat == NULL || fn == NULL)
		return -VG_EINVAL;
	return walk_by_end(cat, INT64_MAX, limit, fn, ud);
}

/* ---- batches ---- */

int vg_catalog_begin(struct vg_catalog *cat)
{
	int rc;

	if (cat == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	if (cat->batch) {
		cat_unlock(cat);
		return -VG_EINVAL;
	}
	rc = run_done(cat, cat->st[S_BEGIN], "begin");
	if (rc != 0) {
		cat_unlock(cat);
		return rc;
	}
	cat->batch = 1;
	/* keep the lock: released by commit or rollback */
	return 0;
}

static int end_batch(struct vg_catalog *cat, enum stmt_id sid, const char *what)
{
	int rc;

	if (cat == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	if (!cat->batch) {
		cat_unlock(cat);
		return -VG_EINVAL;
	}
	rc = run_done(cat, cat->st[sid], what);
	/* A failed COMMIT may leave the transaction open; never leave a
	 * batch half-ended, or every later write would join it. */
	if (!sqlite3_get_autocommit(cat->db))
		exec(cat->db, "ROLLBACK");
	cat->batch = 0;
	cat_unlock(cat);	/* this call's lock */
	cat_unlock(cat);	/* the batch's lock, taken in begin */
	return rc;
}

int vg_catalog_commit(struct vg_catalog *cat)
{
	return end_batch(cat, S_COMMIT, "commit");
}

int vg_catalog_rollback(struct vg_catalog *cat)
{
	return end_batch(cat, S_ROLLBACK, "rollback");
}

/* ---- gaps ---- */

/* A reason as stored: at most 127 bytes, not cut inside a UTF-8 sequence. */
static int reason_len(const char *reason)
{
	size_t rlen = strnlen(reason, 127);

	while (rlen > 0 && reason[rlen] != '\0' && ((unsigned char)reason[rlen] & 0xc0) == 0x80)
		rlen--;
	return (int)rlen;
}

/* Insert a gap with statement sid (S_GAP_INSERT, or S_GAP_ENSURE which
 * inserts only if the camera has no open gap); *id (may be NULL) gets the
 * new row's id, *opened (may be NULL) whether a row was inserted. */
static int gap_insert(struct vg_catalog *cat, enum stmt_id sid, const char *camera,
		      int64_t from_us, const char *reason, int64_t *id, int *opened)
{
	sqlite3_stmt *st;
	int rc, changed;

	if (opened != NULL)
		*opened = 0;
	if (cat == NULL || bounded_len(camera, 33) < 0)
		return -VG_EINVAL;
	if (reason == NULL)
		reason = "";
	cat_lock(cat);
	st = cat->st[sid];
	sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from_us);
	sqlite3_bind_text(st, 3, reason, reason_len(reason), SQLITE_STATIC);
	rc = run_done(cat, st, "gap open");
	changed = rc == 0 && sqlite3_changes(cat->db) > 0;
	if (changed && id != NULL)
		*id = sqlite3_last_insert_rowid(cat->db);
	if (opened != NULL)
		*opened = changed;
	cat_unlock(cat);
	return rc;
}

int vg_catalog_gap_open(struct vg_catalog *cat, const char *camera, int64_t from_us,
			const char *reason, int64_t *id)
{
	return gap_insert(cat, S_GAP_INSERT, camera, from_us, reason, id, NULL);
}

int vg_catalog_gap_close(struct vg_catalog *cat, int64_t id, int64_t to_us)
{
	sqlite3_stmt *st;
	int rc;

	if (cat == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_GAP_CLOSE];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, to_us);
	rc = run_by_id(cat, st, "gap close");
	cat_unlock(cat);
	return rc;
}

int vg_catalog_gap_ensure(struct vg_catalog *cat, const char *camera, int64_t from_us,
			  const char *reason, int *opened)
{
	return gap_insert(cat, S_GAP_ENSURE, camera, from_us, reason, NULL, opened);
}

int vg_catalog_recorded_until(struct vg_catalog *cat, const char *camera, int64_t *until_us)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (until_us != NULL)
		*until_us = 0;
	if (cat == NULL || until_us == NULL || bounded_len(camera, 33) < 0)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_RECORDED_UNTIL];
	sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*until_us = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(cat, "recorded until");
	finish_stmt(st);
	cat_unlock(cat);
	return rc;
}

static void read_gap_row(sqlite3_stmt *st, void *row)
{
	read_gap(st, row);
}

static int gaps_of_camera(struct vg_catalog *cat, const char *camera, int64_t from_us,
			  int64_t to_us, vg_gap_fn fn, void *ud, struct vg_gap *page)
{
	sqlite3_stmt *st;
	int64_t last_from = INT64_MIN, last_id = INT64_MIN;
	int n, rc;

	for (;;) {
		cat_lock(cat);
		st = cat->st[S_GAPS_CAM];
		sqlite3_bind_text(st, 1, camera, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, last_from);
		sqlite3_bind_int64(st, 3, to_us == 0 ? INT64_MAX : to_us);
		sqlite3_bind_int64(st, 4, from_us == 0 ? INT64_MIN : from_us);
		sqlite3_bind_int64(st, 5, last_id);
		sqlite3_bind_int(st, 6, PAGE_ROWS);
		rc = fetch_rows(cat, st, page, sizeof(*page), read_gap_row, "gap walk", &n);
		cat_unlock(cat);
		for (int i = 0; rc == 0 && i < n; i++)
			rc = fn(&page[i], ud);
		if (rc != 0 || n < PAGE_ROWS)
			return rc;
		last_from = page[n - 1].from_us;
		last_id = page[n - 1].id;
	}
}

int vg_catalog_gaps(struct vg_catalog *cat, const char *camera, int64_t from_us,
		    int64_t to_us, vg_gap_fn fn, void *ud)
{
	struct vg_gap *page;
	char cam[33] = "";
	int rc = 0;

	if (cat == NULL || fn == NULL)
		return -VG_EINVAL;
	page = calloc(PAGE_ROWS, sizeof(*page));
	if (page == NULL)
		return -VG_ENOMEM;
	if (camera != NULL) {
		rc = gaps_of_camera(cat, camera, from_us, to_us, fn, ud, page);
	} else {
		for (;;) {
			char prev[33];

			memcpy(prev, cam, sizeof(prev));
			rc = next_camera(cat, S_GAP_NEXT_CAM, prev, cam);
			if (rc == 1) {
				rc = 0;
				break;
			}
			if (rc == 0)
				rc = gaps_of_camera(cat, cam, from_us, to_us, fn, ud, page);
			if (rc != 0)
				break;
		}
	}
	free(page);
	return rc;
}

/* ---- meta ---- */

static int meta_key_ok(const char *key)
{
	return key != NULL && key[0] != '\0' && strncmp(key, "catalog.", 8) != 0;
}

int vg_catalog_meta_get(struct vg_catalog *cat, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *st;
	int r, rc = 0;

	if (cat == NULL || key == NULL || buf == NULL || len == 0)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_META_GET];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);

		if (t == NULL) {
			rc = -VG_ENOENT;
		} else if (n >= len) {
			rc = -VG_EINVAL;
		} else {
			memcpy(buf, t, n);
			buf[n] = '\0';
		}
	} else if (r == SQLITE_DONE) {
		rc = -VG_ENOENT;
	} else {
		rc = db_fail(cat, "meta get");
	}
	finish_stmt(st);
	cat_unlock(cat);
	return rc;
}

int vg_catalog_meta_set(struct vg_catalog *cat, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int rc;

	if (cat == NULL || !meta_key_ok(key))
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[value == NULL ? S_META_DEL : S_META_SET];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (value != NULL)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = run_done(cat, st, "meta set");
	cat_unlock(cat);
	return rc;
}

/* ---- schema 2: cameras, shredded rows, evidence holds ---- */

int vg_catalog_cameras(struct vg_catalog *cat, vg_camera_fn fn, void *ud)
{
	char cam[33] = "";
	char prev[33];
	int rc;

	if (cat == NULL || fn == NULL)
		return -VG_EINVAL;
	for (;;) {
		memcpy(prev, cam, sizeof(prev));
		rc = next_camera(cat, S_CLIP_NEXT_CAM, prev, cam);
		if (rc == 1)
			return 0;
		if (rc == 0)
			rc = fn(cam, ud);
		if (rc != 0)
			return rc;
	}
}

/* Walk the clips statement sid selects by id ("id > ?1 ... LIMIT ?2"),
 * from after_id, at most limit rows (<= 0: all). */
static int walk_by_id(struct vg_catalog *cat, enum stmt_id sid, int64_t after_id, int limit,
		      vg_clip_fn fn, void *ud)
{
	struct vg_clip *page;
	sqlite3_stmt *st;
	int64_t last_id = after_id;
	long done = 0;
	int n, want, rc;

	if (cat == NULL || fn == NULL)
		return -VG_EINVAL;
	page = page_alloc();
	if (page == NULL)
		return -VG_ENOMEM;
	for (;;) {
		want = page_limit(limit, done);
		cat_lock(cat);
		st = cat->st[sid];
		sqlite3_bind_int64(st, 1, last_id);
		sqlite3_bind_int(st, 2, want);
		rc = fetch_clips(cat, st, page, &n);
		cat_unlock(cat);
		if (rc == 0)
			rc = deliver(page, n, fn, ud);
		done += n;
		if (rc != 0 || n < want || (limit > 0 && done >= limit))
			break;
		last_id = page[n - 1].id;
	}
	page_free(page);
	return rc;
}

int vg_catalog_shredded(struct vg_catalog *cat, vg_clip_fn fn, void *ud)
{
	return walk_by_id(cat, S_SHREDDED, INT64_MIN, 0, fn, ud);
}

int vg_catalog_clips_after(struct vg_catalog *cat, int64_t after_id, int limit, vg_clip_fn fn,
			   void *ud)
{
	return walk_by_id(cat, S_CLIPS_AFTER, after_id, limit, fn, ud);
}

static int64_t column_i64_or0(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, col);
}

static void read_hold(sqlite3_stmt *st, struct vg_hold *h)
{
	memset(h, 0, sizeof(*h));
	h->id = sqlite3_column_int64(st, 0);
	copy_text(h->camera, sizeof(h->camera), st, 1);
	h->from_us = sqlite3_column_int64(st, 2);
	h->to_us = sqlite3_column_int64(st, 3);
	copy_text(h->reason, sizeof(h->reason), st, 4);
	copy_text(h->reference, sizeof(h->reference), st, 5);
	h->review_by_us = sqlite3_column_int64(st, 6);
	copy_text(h->placed_by, sizeof(h->placed_by), st, 7);
	h->placed_us = sqlite3_column_int64(st, 8);
	copy_text(h->release_by, sizeof(h->release_by), st, 9);
	copy_text(h->release_reason, sizeof(h->release_reason), st, 10);
	h->release_requested_us = column_i64_or0(st, 11);
	copy_text(h->approved_by, sizeof(h->approved_by), st, 12);
	h->released_us = column_i64_or0(st, 13);
}

int vg_catalog_hold_insert(struct vg_catalog *cat, struct vg_hold *h)
{
	sqlite3_stmt *st;
	int rc;

	if (cat == NULL || h == NULL || bounded_len(h->camera, sizeof(h->camera)) < 0 ||
	    bounded_len(h->reason, sizeof(h->reason)) < 0 ||
	    bounded_len(h->reference, sizeof(h->reference)) < 0 ||
	    bounded_len(h->placed_by, sizeof(h->placed_by)) < 0 || h->to_us <= h->from_us)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_HOLD_INSERT];
	sqlite3_bind_text(st, 1, h->camera, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, h->from_us);
	sqlite3_bind_int64(st, 3, h->to_us);
	sqlite3_bind_text(st, 4, h->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, h->reference, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, h->review_by_us);
	sqlite3_bind_text(st, 7, h->placed_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, h->placed_us);
	rc = run_done(cat, st, "hold insert");
	if (rc == 0)
		h->id = sqlite3_last_insert_rowid(cat->db);
	cat_unlock(cat);
	return rc;
}

int vg_catalog_hold_get(struct vg_catalog *cat, int64_t id, struct vg_hold *out)
{
	sqlite3_stmt *st;
	int r, rc = 0;

	if (cat == NULL || out == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_HOLD_GET];
	sqlite3_bind_int64(st, 1, id);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		read_hold(st, out);
	else if (r == SQLITE_DONE)
		rc = -VG_ENOENT;
	else
		rc = db_fail(cat, "hold get");
	finish_stmt(st);
	cat_unlock(cat);
	return rc;
}

int vg_catalog_holds(struct vg_catalog *cat, int active_only, vg_hold_fn fn, void *ud)
{
	struct vg_hold *all = NULL, *grown;
	sqlite3_stmt *st;
	size_t n = 0, cap = 0;
	int r, rc = 0;

	if (cat == NULL || fn == NULL)
		return -VG_EINVAL;
	/* Holds are few (tens): read them all, then call fn unlocked. */
	cat_lock(cat);
	st = cat->st[active_only ? S_HOLDS_ACTIVE : S_HOLDS_ALL];
	for (;;) {
		r = sqlite3_step(st);
		if (r == SQLITE_DONE)
			break;
		if (r != SQLITE_ROW) {
			rc = db_fail(cat, "hold walk");
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(all, cap * sizeof(*all));
			if (grown == NULL) {
				rc = -VG_ENOMEM;
				break;
			}
			all = grown;
		}
		read_hold(st, &all[n++]);
	}
	finish_stmt(st);
	cat_unlock(cat);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = fn(&all[i], ud);
	free(all);
	return rc;
}

int vg_catalog_hold_request_release(struct vg_catalog *cat, int64_t id, const char *login,
				    const char *reason, int64_t now_us)
{
	sqlite3_stmt *st;
	int rc;

	if (cat == NULL || bounded_len(login, 33) < 0 || reason == NULL || strlen(reason) > 255)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_HOLD_REQUEST];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, login, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_us);
	rc = run_by_id(cat, st, "hold release request");
	cat_unlock(cat);
	return rc;
}

int vg_catalog_hold_approve_release(struct vg_catalog *cat, int64_t id, const char *login,
				    int64_t now_us)
{
	sqlite3_stmt *st;
	int rc;

	if (cat == NULL || bounded_len(login, 33) < 0)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_HOLD_APPROVE];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, login, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_us);
	rc = run_by_id(cat, st, "hold release approve");
	cat_unlock(cat);
	return rc;
}

int vg_catalog_hold_cancel_release(struct vg_catalog *cat, int64_t id)
{
	return clip_by_id_op(cat, S_HOLD_CANCEL, id, "hold release cancel");
}

/* ---- schema 3: export requests awaiting a second person ---- */

/* Hand a row's requester (column 0) and request (column 1) to the
 * caller's optional outputs; -VG_ENOMEM sets neither. */
static int read_xreq(sqlite3_stmt *st, char **json, char requester[VG_CATALOG_LOGIN_LEN])
{
	const unsigned char *t = sqlite3_column_text(st, 1);
	size_t n = (size_t)sqlite3_column_bytes(st, 1);

	if (json != NULL) {
		*json = malloc(n + 1);
		if (*json == NULL)
			return -VG_ENOMEM;
		if (t != NULL)
			memcpy(*json, t, n);
		(*json)[t != NULL ? n : 0] = '\0';
	}
	if (requester != NULL)
		copy_text(requester, VG_CATALOG_LOGIN_LEN, st, 0);
	return 0;
}

int vg_catalog_export_request_add(struct vg_catalog *cat, const char *requester,
				  const char *request_json, int64_t created_us, int64_t *id)
{
	sqlite3_stmt *st;
	int rc;

	if (cat == NULL || bounded_len(requester, VG_CATALOG_LOGIN_LEN) < 0 ||
	    request_json == NULL || strlen(request_json) < 2 || id == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_XREQ_INSERT];
	sqlite3_bind_text(st, 1, requester, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, created_us);
	sqlite3_bind_text(st, 3, request_json, -1, SQLITE_STATIC);
	rc = run_done(cat, st, "export request add");
	if (rc == 0)
		*id = sqlite3_last_insert_rowid(cat->db);
	cat_unlock(cat);
	return rc;
}

int vg_catalog_export_request_get(struct vg_catalog *cat, int64_t id, char **json,
				  char requester[VG_CATALOG_LOGIN_LEN])
{
	sqlite3_stmt *st;
	int r, rc;

	if (json != NULL)
		*json = NULL;
	if (cat == NULL)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_XREQ_GET];
	sqlite3_bind_int64(st, 1, id);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		rc = read_xreq(st, json, requester);
	else if (r == SQLITE_DONE)
		rc = -VG_ENOENT;
	else
		rc = db_fail(cat, "export request get");
	finish_stmt(st);
	cat_unlock(cat);
	return rc;
}

int vg_catalog_export_request_take(struct vg_catalog *cat, int64_t id, const char *login,
				   int64_t now_us, char **json,
				   char requester[VG_CATALOG_LOGIN_LEN])
{
	char who[VG_CATALOG_LOGIN_LEN];
	sqlite3_stmt *st;
	int rc;

	if (json != NULL)
		*json = NULL;
	if (cat == NULL || bounded_len(login, VG_CATALOG_LOGIN_LEN) < 0)
		return -VG_EINVAL;
	cat_lock(cat);
	/* Copy first, decide second: a failed copy must not leave a request
	 * approved that nobody ran. The text cannot change in between (the
	 * trigger), and the update's WHERE is what makes the take atomic:
	 * of two approvers, in threads or processes, one changes the row. */
	rc = vg_catalog_export_request_get(cat, id, json, who);
	if (rc == 0) {
		st = cat->st[S_XREQ_TAKE];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, login, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now_us);
		rc = run_by_id(cat, st, "export request take");
	}
	cat_unlock(cat);
	if (rc == 0 && requester != NULL)
		memcpy(requester, who, sizeof(who));
	if (rc != 0 && json != NULL) {
		free(*json);
		*json = NULL;
	}
	return rc;
}

int vg_catalog_export_request_withdraw(struct vg_catalog *cat, int64_t id, const char *login,
				       int64_t now_us)
{
	sqlite3_stmt *st;
	int rc;

	if (cat == NULL || bounded_len(login, VG_CATALOG_LOGIN_LEN) < 0)
		return -VG_EINVAL;
	cat_lock(cat);
	st = cat->st[S_XREQ_WITHDRAW];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, login, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_us);
	rc = run_by_id(cat, st, "export request withdraw");
	cat_unlock(cat);
	return rc;
}

struct xreq_row {
	int64_t id, created_us;
	char requester[VG_CATALOG_LOGIN_LEN];
};

static void read_xreq_row(sqlite3_stmt *st, void *row)
{
	struct xreq_row *x = row;

	x->id = sqlite3_column_int64(st, 0);
	copy_text(x->requester, sizeof(x->requester), st, 1);
	x->created_us = sqlite3_column_int64(st, 2);
}

int vg_catalog_export_requests_waiting(struct vg_catalog *cat, vg_export_request_fn fn,
				       void *ud)
{
	struct xreq_row *page;
	sqlite3_stmt *st;
	int64_t last_id = INT64_MIN;
	int n, rc;

	if (cat == NULL || fn == NULL)
		return -VG_EINVAL;
	page = calloc(PAGE_ROWS, sizeof(*page));
	if (page == NULL)
		return -VG_ENOMEM;
	for (;;) {
		cat_lock(cat);
		st = cat->st[S_XREQ_WAITING];
		sqlite3_bind_int64(st, 1, last_id);
		sqlite3_bind_int(st, 2, PAGE_ROWS);
		rc = fetch_rows(cat, st, page, sizeof(*page), read_xreq_row, "export request walk",
				&n);
		cat_unlock(cat);
		for (int i = 0; rc == 0 && i < n; i++)
			rc = fn(page[i].id, page[i].requester, page[i].created_us, ud);
		if (rc != 0 || n < PAGE_ROWS)
			break;
		last_id = page[n - 1].id;
	}
	free(page);
	return rc;
}
