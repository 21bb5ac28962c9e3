/*
 * audit.c - append-only hash-chained audit log in SQLite, with signed
 * checkpoints. The encodings hashed and signed here are specified in
 * docs/audit-format.md; change one only with a new version tag.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define VG_LOG_MODULE "AUD"
#include "audit_text.h"
#include "vigil/audit.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/sign.h"

#define ROW_TAG "VGA1"		/* row encoding, version 1 */
#define CP_TAG "VGC1"		/* checkpoint encoding, version 1 */
#define CP_ENC_LEN (4 + 8 + 8 + VG_AUDIT_HASH_LEN)
#define N_TEXT 8
#define HEAD_MAGIC "vigil-audit-head 1"
#define SD_ID "vigil@32473"

static atomic_int syslog_on;

struct vg_audit {
	sqlite3 *db;
	char *path;
	char *head_path;
	struct vg_sign_key *key;	/* borrowed; NULL = read-only */
	sqlite3_stmt *ins;
	sqlite3_stmt *last;
	pthread_mutex_t lock;		/* serialises writers */
	/* Set by vg_audit_start_check() when the log was found broken: no
	 * checkpoint is signed over it until vg_audit_acknowledge(), and new
	 * rows start above every seq a signed checkpoint ever covered, so no
	 * seq number is used twice. */
	int broken;
	struct vg_audit_break brk;
	int64_t seq_floor;		/* the next row's seq is at least this */
};

static const char schema[] =
	"CREATE TABLE audit ("
	" seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, uid INTEGER NOT NULL,"
	" login TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL,"
	" object TEXT NOT NULL, purpose TEXT NOT NULL, reference TEXT NOT NULL,"
	" outcome TEXT NOT NULL, reason TEXT NOT NULL,"
	" prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
	"CREATE INDEX audit_time ON audit(time_us);"
	"CREATE TABLE checkpoint ("
	" id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, time_us INTEGER NOT NULL,"
	" hash BLOB NOT NULL, sig BLOB NOT NULL);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
	"CREATE TRIGGER checkpoint_no_update BEFORE UPDATE ON checkpoint"
	" BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;"
	"CREATE TRIGGER checkpoint_no_delete BEFORE DELETE ON checkpoint"
	" BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;"
	"PRAGMA user_version = 1;";

#define ROW_COLS "seq, time_us, uid, login, role, action, object, purpose, reference," \
	" outcome, reason, prev_hash, hash"

void vg_audit_set_syslog(int on)
{
	atomic_store(&syslog_on, on != 0);
}

/* ---- canonical encodings ---------------------------------------------- */

static void put_u64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static const char *nz(const char *s)
{
	return s != NULL ? s : "";
}

static void text_fields(const struct vg_audit_entry *e, const char *t[N_TEXT])
{
	t[0] = nz(e->login);
	t[1] = nz(e->role);
	t[2] = nz(e->action);
	t[3] = nz(e->object);
	t[4] = nz(e->purpose);
	t[5] = nz(e->reference);
	t[6] = nz(e->outcome);
	t[7] = nz(e->reason);
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t need, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + need >= n)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += need + 1;
	}
	return 1;
}

int vg_audit_row_hash(const struct vg_audit_entry *e, uint8_t out[VG_AUDIT_HASH_LEN])
{
	const char *t[N_TEXT];
	size_t len[N_TEXT], total = 4 + 8 * 3 + VG_AUDIT_HASH_LEN, off;
	uint8_t stackbuf[1024], *buf = stackbuf;
	int i;

	text_fields(e, t);
	for (i = 0; i < N_TEXT; i++) {
		len[i] = strlen(t[i]);
		if (len[i] > UINT32_MAX)
			return -VG_EINVAL;
		total += 4 + len[i];
	}
	if (total > sizeof(stackbuf)) {
		buf = malloc(total);
		if (buf == NULL)
			return -VG_ENOMEM;
	}
	memcpy(buf, ROW_TAG, 4);
	put_u64(buf + 4, (uint64_t)e->seq);
	put_u64(buf + 12, (uint64_t)e->time_us);
	put_u64(buf + 20, (uint64_t)e->uid);
	off = 28;
	for (i = 0; i < N_TEXT; i++) {
		put_u32(buf + off, (uint32_t)len[i]);
		memcpy(buf + off + 4, t[i], len[i]);
		off += 4 + len[i];
	}
	memcpy(buf + off, e->prev_hash, VG_AUDIT_HASH_LEN);
	vg_sign_sha256(buf, total, out);
	if (buf != stackbuf)
		free(buf);
	return 0;
}

static void cp_digest(const struct vg_audit_checkpoint *cp, uint8_t out[VG_AUDIT_HASH_LEN])
{
	uint8_t enc[CP_ENC_LEN];

	memcpy(enc, CP_TAG, 4);
	put_u64(enc + 4, (uint64_t)cp->seq);
	put_u64(enc + 12, (uint64_t)cp->time_us);
	memcpy(enc + 20, cp->hash, VG_AUDIT_HASH_LEN);
	vg_sign_sha256(enc, sizeof(enc), out);
}

/* ---- text formatting -------------------------------------------------- */

struct sbuf {
	char *buf;
	size_t cap;
	size_t len;	/* untruncated length */
};

static void sb_putc(struct sbuf *b, char c)
{
	if (b->cap > 0 && b->len + 1 < b->cap)
		b->buf[b->len] = c;
	b->len++;
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n, i;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	for (i = 0; i < n && i < (int)sizeof(tmp) - 1; i++)
		sb_putc(b, tmp[i]);
}

static void sb_puts(struct sbuf *b, const char *s)
{
	while (*s != '\0')
		sb_putc(b, *s++);
}

static size_t sb_end(struct sbuf *b)
{
	if (b->cap > 0)
		b->buf[b->len < b->cap ? b->len : b->cap - 1] = '\0';
	return b->len;
}

/* RFC 5424 section 6.3.3: '"', '\' and ']' in PARAM-VALUE are escaped. */
static void sb_sdparam(struct sbuf *b, const char *name, const char *v)
{
	sb_printf(b, " %s=\"", name);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\' || *v == ']')
			sb_putc(b, '\\');
		sb_putc(b, *v);
	}
	sb_putc(b, '"');
}

/* A quoted value for a one-line display: no control character survives. */
static void sb_quoted(struct sbuf *b, const char *v)
{
	sb_putc(b, '"');
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '"' || c == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, (char)c);
		} else if (c == '\n') {
			sb_puts(b, "\\n");
		} else if (c < 0x20 || c == 0x7f) {
			sb_printf(b, "\\x%02x", c);
		} else {
			sb_putc(b, (char)c);
		}
	}
	sb_putc(b, '"');
}

static void sb_time(struct sbuf *b, int64_t us)
{
	time_t secs = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;
	char tmp[40];

	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		sb_printf(b, "@%" PRId64, us);
		return;
	}
	sb_printf(b, "%s.%06ldZ", tmp, frac);
}

static void sb_hex(struct sbuf *b, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sb_printf(b, "%02x", p[i]);
}

size_t vg_audit_format_line(const struct vg_audit_entry *e, char *buf, size_t cap)
{
	struct sbuf b = { buf, cap, 0 };

	sb_time(&b, e->time_us);
	sb_printf(&b, " #%" PRId64 " ", e->seq);
	sb_quoted(&b, *nz(e->login) != '\0' ? e->login : "vigild");
	sb_puts(&b, " (");
	sb_quoted(&b, nz(e->role));
	if (e->uid >= 0)
		sb_printf(&b, ", uid %" PRId64, e->uid);
	sb_puts(&b, ") ");
	sb_quoted(&b, nz(e->action));
	sb_putc(&b, ' ');
	sb_quoted(&b, nz(e->outcome));
	sb_puts(&b, " object=");
	sb_quoted(&b, nz(e->object));
	sb_puts(&b, " purpose=");
	sb_quoted(&b, nz(e->purpose));
	sb_puts(&b, " reference=");
	sb_quoted(&b, nz(e->reference));
	sb_puts(&b, " reason=");
	sb_quoted(&b, nz(e->reason));
	return sb_end(&b);
}

size_t vg_audit_format_sd(const struct vg_audit_entry *e, char *buf, size_t cap)
{
	struct sbuf b = { buf, cap, 0 };
	char num[32];
	struct sbuf tb;
	char tbuf[40];

	sb_puts(&b, "[" SD_ID);
	snprintf(num, sizeof(num), "%" PRId64, e->seq);
	sb_sdparam(&b, "seq", num);
	tb = (struct sbuf){ tbuf, sizeof(tbuf), 0 };
	sb_time(&tb, e->time_us);
	sb_end(&tb);
	sb_sdparam(&b, "time", tbuf);
	snprintf(num, sizeof(num), "%" PRId64, e->uid);
	sb_sdparam(&b, "uid", num);
	sb_sdparam(&b, "login", nz(e->login));
	sb_sdparam(&b, "role", nz(e->role));
	sb_sdparam(&b, "action", nz(e->action));
	sb_sdparam(&b, "object", nz(e->object));
	sb_sdparam(&b, "purpose", nz(e->purpose));
	sb_sdparam(&b, "reference", nz(e->reference));
	sb_sdparam(&b, "outcome", nz(e->outcome));
	sb_sdparam(&b, "reason", nz(e->reason));
	sb_puts(&b, " hash=\"");
	sb_hex(&b, e->hash, VG_AUDIT_HASH_LEN);
	sb_puts(&b, "\"]");
	return sb_end(&b);
}

static void syslog_row(const struct vg_audit_entry *e)
{
	char stack[2048], *buf = stack;
	size_t n;

	n = vg_audit_format_sd(e, stack, sizeof(stack));
	if (n >= sizeof(stack)) {
		buf = malloc(n + 1);
		if (buf == NULL)
			return;
		vg_audit_format_sd(e, buf, n + 1);
	}
	syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", buf);
	if (buf != stack)
		free(buf);
}

static void syslog_cp(const struct vg_audit_checkpoint *cp)
{
	char buf[512];

	vg_audit_format_cp_sd(cp, buf, sizeof(buf));
	syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", buf);
}

size_t vg_audit_format_cp_sd(const struct vg_audit_checkpoint *cp, char *buf, size_t cap)
{
	struct sbuf b = { buf, cap, 0 };

	sb_printf(&b, "[" CP_SD_ID " seq=\"%" PRId64 "\" time_us=\"%" PRId64 "\" hash=\"",
		  cp->seq, cp->time_us);
	sb_hex(&b, cp->hash, VG_AUDIT_HASH_LEN);
	sb_puts(&b, "\" sig=\"");
	sb_hex(&b, cp->sig, cp->sig_len);
	sb_puts(&b, "\"]");
	return sb_end(&b);
}

/* ---- database plumbing ------------------------------------------------ */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int exec(struct vg_audit *a, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(a->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		vg_warnx("%s: %s", a->path, msg != NULL ? msg : "error");
		sqlite3_free(msg);
		return -VG_EDB;
	}
	return 0;
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *r = malloc(la + lb + 1);

	if (r != NULL) {
		memcpy(r, a, la);
		memcpy(r + la, b, lb + 1);
	}
	return r;
}

static int head_locked(struct vg_audit *a, int64_t *seq, uint8_t hash[VG_AUDIT_HASH_LEN])
{
	int rc = 0, s;

	sqlite3_reset(a->last);
	s = sqlite3_step(a->last);
	if (s == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(a->last, 1);

		if (h == NULL || sqlite3_column_bytes(a->last, 1) != VG_AUDIT_HASH_LEN) {
			rc = -VG_EAUTH;
		} else {
			*seq = sqlite3_column_int64(a->last, 0);
			memcpy(hash, h, VG_AUDIT_HASH_LEN);
		}
	} else if (s == SQLITE_DONE) {
		*seq = 0;
		memset(hash, 0, VG_AUDIT_HASH_LEN);
	} else {
		rc = -VG_EDB;
	}
	sqlite3_reset(a->last);
	return rc;
}

int vg_audit_head(struct vg_audit *a, int64_t *seq, uint8_t hash[VG_AUDIT_HASH_LEN])
{
	int rc;

	pthread_mutex_lock(&a->lock);
	rc = head_locked(a, seq, hash);
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* Write PATH.head atomically: temp file, fsync, rename, fsync directory. */
static int head_file_write(struct vg_audit *a, const struct vg_audit_checkpoint *cp)
{
	char buf[512];
	struct sbuf b = { buf, sizeof(buf), 0 };
	char *tmp = join(a->head_path, ".tmp");
	char *dir = NULL;
	int fd = -1, rc = -VG_EIO;
	size_t len;

	if (tmp == NULL)
		return -VG_ENOMEM;
	sb_printf(&b, HEAD_MAGIC "\nseq %" PRId64 "\ntime_us %" PRId64 "\nhash ", cp->seq,
		  cp->time_us);
	sb_hex(&b, cp->hash, VG_AUDIT_HASH_LEN);
	sb_puts(&b, "\nsig ");
	sb_hex(&b, cp->sig, cp->sig_len);
	sb_putc(&b, '\n');
	len = sb_end(&b);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, a->head_path) != 0)
		goto out;
	dir = strdup(a->head_path);
	if (dir != NULL) {
		int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		vg_warn("cannot write audit head file %s", a->head_path);
		unlink(tmp);
	}
	free(dir);
	free(tmp);
	return rc;
}

/* "NAME VALUE\n" at *p: returns VALUE and its length, advances *p. */
static const char *head_field(const char **p, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *v, *end;

	if (strncmp(*p, name, nl) != 0 || (*p)[nl] != ' ')
		return NULL;
	v = *p + nl + 1;
	end = strchr(v, '\n');
	if (end == NULL)
		return NULL;
	*vlen = (size_t)(end - v);
	*p = end + 1;
	return v;
}

/* 0 and *cp; -VG_ENOENT if missing; -VG_EFORMAT if unreadable. */
static int head_file_read(struct vg_audit *a, struct vg_audit_checkpoint *cp)
{
	char buf[1024];
	const char *p = buf, *v;
	size_t n, vlen, hlen;
	ssize_t r;
	int fd;

	fd = open(a->head_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -VG_ENOENT : -VG_EFORMAT;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -VG_EFORMAT;
	n = (size_t)r;
	buf[n] = '\0';
	if (strncmp(p, HEAD_MAGIC "\n", sizeof(HEAD_MAGIC)) != 0)
		return -VG_EFORMAT;
	p += sizeof(HEAD_MAGIC);
	v = head_field(&p, "seq", &vlen);
	if (v == NULL || vg_audit_parse_i64(v, vlen, &cp->seq) < 0)
		return -VG_EFORMAT;
	v = head_field(&p, "time_us", &vlen);
	if (v == NULL || vg_audit_parse_i64(v, vlen, &cp->time_us) < 0)
		return -VG_EFORMAT;
	v = head_field(&p, "hash", &vlen);
	if (v == NULL || vg_audit_parse_hex(v, vlen, cp->hash, VG_AUDIT_HASH_LEN, &hlen) < 0 ||
	    hlen != VG_AUDIT_HASH_LEN)
		return -VG_EFORMAT;
	v = head_field(&p, "sig", &vlen);
	if (v == NULL || vg_audit_parse_hex(v, vlen, cp->sig, sizeof(cp->sig), &cp->sig_len) < 0)
		return -VG_EFORMAT;
	return 0;
}

void vg_audit_close(struct vg_audit *a)
{
	if (a == NULL)
		return;
	sqlite3_finalize(a->ins);
	sqlite3_finalize(a->last);
	sqlite3_close(a->db);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a->head_path);
	free(a);
}

static int checkpoint_locked(struct vg_audit *a, struct vg_audit_checkpoint *out);

int vg_audit_open(const char *path, struct vg_sign_key *key, struct vg_audit **out)
{
	struct vg_audit *a;
	sqlite3_stmt *st = NULL;
	int rc, version = -1, flags;

	*out = NULL;
	if (path == NULL)
		return -VG_EINVAL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -VG_ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->key = key;
	a->path = strdup(path);
	a->head_path = join(path, ".head");
	if (a->path == NULL || a->head_path == NULL) {
		rc = -VG_ENOMEM;
		goto fail;
	}
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
	if (key != NULL)
		flags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(path, &a->db, flags, NULL) != SQLITE_OK) {
		vg_warnx("cannot open audit database %s: %s", path,
			 a->db != NULL ? sqlite3_errmsg(a->db) : "out of memory");
		rc = key == NULL ? -VG_ENOENT : -VG_EDB;
		goto fail;
	}
	sqlite3_busy_timeout(a->db, 5000);
	rc = exec(a, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
	if (rc < 0)
		goto fail;
	if (sqlite3_prepare_v2(a->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version == 0 && key != NULL) {
		rc = exec(a, "BEGIN IMMEDIATE");
		if (rc == 0)
			rc = exec(a, schema);
		if (rc == 0)
			rc = exec(a, "COMMIT");
		if (rc < 0) {
			exec(a, "ROLLBACK");
			goto fail;
		}
	} else if (version != 1) {
		vg_warnx("%s is not a version 1 vigil audit database (user_version %d)", path,
			 version);
		rc = -VG_EFORMAT;
		goto fail;
	}
	/* The acknowledgements verify looks up first (section 6a): a partial
	 * index keeps that lookup from scanning the whole log at every start.
	 * Not part of the hashed or signed data; a read-only handle scans. */
	if (key != NULL && exec(a, "CREATE INDEX IF NOT EXISTS audit_acknowledge ON audit(seq)"
			       " WHERE action = 'audit.acknowledge'") < 0) {
		rc = -VG_EDB;
		goto fail;
	}
	if (sqlite3_prepare_v2(a->db, "INSERT INTO audit (" ROW_COLS ") VALUES"
			       " (?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &a->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(a->db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
			       -1, &a->last, NULL) != SQLITE_OK) {
		rc = -VG_EDB;
		goto fail;
	}
	if (version == 0 && access(a->head_path, F_OK) == 0) {
		/* A head file without its database: the database was deleted.
		 * Signing a genesis checkpoint would overwrite the evidence;
		 * vg_audit_start_check() reports it instead. */
		vg_warnx("%s was missing but its head file %s exists: the audit database was "
			 "deleted or moved", path, a->head_path);
	} else if (version == 0) {
		/* The genesis checkpoint pins the head file from the start. */
		rc = checkpoint_locked(a, NULL);
		if (rc < 0)
			goto fail;
	}
	*out = a;
	return 0;
fail:
	vg_audit_close(a);
	return rc;
}

/* ---- append ----------------------------------------------------------- */

static int insert_row(struct vg_audit *a, struct vg_audit_entry *r)
{
	const char *t[N_TEXT];
	int i, rc = 0;

	text_fields(r, t);
	for (i = 0; i < N_TEXT; i++) {
		if (!utf8_ok((const unsigned char *)t[i], strlen(t[i])))
			return -VG_EINVAL;
	}
	rc = vg_audit_row_hash(r, r->hash);
	if (rc < 0)
		return rc;
	sqlite3_reset(a->ins);
	sqlite3_bind_int64(a->ins, 1, r->seq);
	sqlite3_bind_int64(a->ins, 2, r->time_us);
	sqlite3_bind_int64(a->ins, 3, r->uid);
	for (i = 0; i < N_TEXT; i++)
		sqlite3_bind_text(a->ins, 4 + i, t[i], -1, SQLITE_STATIC);
	sqlite3_bind_blob(a->ins, 12, r->prev_hash, VG_AUDIT_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(a->ins, 13, r->hash, VG_AUDIT_HASH_LEN, SQLITE_STATIC);
	if (sqlite3_step(a->ins) != SQLITE_DONE) {
		vg_warnx("audit append failed: %s", sqlite3_errmsg(a->db));
		rc = -VG_EDB;
	}
	sqlite3_reset(a->ins);
	sqlite3_clear_bindings(a->ins);
	return rc;
}

static int append_locked(struct vg_audit *a, const struct vg_audit_entry *e, size_t n,
			 int64_t *seq_out)
{
	struct vg_audit_entry *rows;
	int64_t seq;
	uint8_t prev[VG_AUDIT_HASH_LEN];
	size_t i;
	int rc;

	rows = calloc(n, sizeof(*rows));
	if (rows == NULL)
		return -VG_ENOMEM;
	rc = exec(a, "BEGIN IMMEDIATE");
	if (rc < 0)
		goto out;
	rc = head_locked(a, &seq, prev);
	if (seq < a->seq_floor - 1)
		seq = a->seq_floor - 1;	/* never reuse a seq a signature covered */
	for (i = 0; rc == 0 && i < n; i++) {
		rows[i] = e[i];
		rows[i].seq = ++seq;
		if (rows[i].time_us == 0)
			rows[i].time_us = now_us();
		memcpy(rows[i].prev_hash, prev, VG_AUDIT_HASH_LEN);
		rc = insert_row(a, &rows[i]);
		memcpy(prev, rows[i].hash, VG_AUDIT_HASH_LEN);
	}
	if (rc == 0)
		rc = exec(a, "COMMIT");
	if (rc < 0) {
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	if (seq_out != NULL)
		*seq_out = seq;
	if (atomic_load(&syslog_on)) {
		for (i = 0; i < n; i++)
			syslog_row(&rows[i]);
	}
out:
	free(rows);
	return rc;
}

int vg_audit_append(struct vg_audit *a, const struct vg_audit_entry *e, int64_t *seq)
{
	int rc;

	if (a == NULL || e == NULL)
		return -VG_EINVAL;
	pthread_mutex_lock(&a->lock);
	rc = append_locked(a, e, 1, seq);
	pthread_mutex_unlock(&a->lock);
	return rc;
}

int vg_audit_append_many(struct vg_audit *a, const struct vg_audit_entry *e, size_t n)
{
	int rc;

	if (a == NULL || e == NULL || n == 0)
		return -VG_EINVAL;
	pthread_mutex_lock(&a->lock);
	rc = append_locked(a, e, n, NULL);
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* ---- checkpoints ------------------------------------------------------ */

static int checkpoint_locked(struct vg_audit *a, struct vg_audit_checkpoint *out)
{
	struct vg_audit_checkpoint cp;
	uint8_t digest[VG_AUDIT_HASH_LEN];
	sqlite3_stmt *st = NULL;
	int rc;

	if (a->key == NULL || !vg_sign_key_has_private(a->key))
		return -VG_EINVAL;
	if (a->broken)
		return -VG_EAUTH;	/* never sign over a broken chain */
	memset(&cp, 0, sizeof(cp));
	rc = exec(a, "BEGIN IMMEDIATE");
	if (rc < 0)
		return rc;
	rc = head_locked(a, &cp.seq, cp.hash);
	if (rc < 0)
		goto fail;
	cp.time_us = now_us();
	cp_digest(&cp, digest);
	rc = vg_sign_digest(a->key, digest, cp.sig, sizeof(cp.sig), &cp.sig_len);
	if (rc < 0)
		goto fail;
	if (sqlite3_prepare_v2(a->db, "INSERT INTO checkpoint (seq, time_us, hash, sig)"
			       " VALUES (?,?,?,?)", -1, &st, NULL) != SQLITE_OK) {
		rc = -VG_EDB;
		goto fail;
	}
	sqlite3_bind_int64(st, 1, cp.seq);
	sqlite3_bind_int64(st, 2, cp.time_us);
	sqlite3_bind_blob(st, 3, cp.hash, VG_AUDIT_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, cp.sig, (int)cp.sig_len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = -VG_EDB;
		goto fail;
	}
	cp.id = sqlite3_last_insert_rowid(a->db);
	sqlite3_finalize(st);
	st = NULL;
	rc = exec(a, "COMMIT");
	if (rc < 0)
		goto fail;
	/* After the commit: a crash in between leaves an older head file,
	 * which verify accepts (the database holds a newer checkpoint). */
	rc = head_file_write(a, &cp);
	if (rc < 0)
		return rc;
	if (atomic_load(&syslog_on))
		syslog_cp(&cp);
	if (out != NULL)
		*out = cp;
	return 0;
fail:
	sqlite3_finalize(st);
	sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int vg_audit_checkpoint(struct vg_audit *a, struct vg_audit_checkpoint *cp)
{
	int rc;

	if (a == NULL)
		return -VG_EINVAL;
	pthread_mutex_lock(&a->lock);
	rc = checkpoint_locked(a, cp);
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* ---- verify ----------------------------------------------------------- */

#define MAX_ACKS 16

/* A break a DPO acknowledged: problems in rows lo..hi are set aside, and
 * count only if no valid checkpoint covers the acknowledgement row. */
struct ack {
	int64_t lo, hi, ack_seq;
	int anchored;
	int have;
	struct vg_audit_problem first;
};

struct vctx {
	struct vg_audit_problem *prob;
	int have;
	int64_t rank;
	struct ack acks[MAX_ACKS];
	int n_acks;
};

static void problem(struct vctx *v, int64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keep the problem with the lowest row number; problems tied to no row
 * (seq 0) rank after every row. */
static void problem(struct vctx *v, int64_t seq, const char *fmt, ...)
{
	int64_t rank = seq > 0 ? seq : INT64_MAX;
	struct vg_audit_problem *dst = NULL;
	va_list ap;
	int i;

	for (i = 0; seq > 0 && i < v->n_acks; i++) {
		struct ack *k = &v->acks[i];

		if (seq >= k->lo && seq <= k->hi) {
			if (k->have && seq >= k->first.seq)
				return;
			k->have = 1;
			dst = &k->first;
			break;
		}
	}
	if (dst == NULL) {
		if (v->have && rank >= v->rank)
			return;
		v->have = 1;
		v->rank = rank;
		dst = v->prob;
	}
	dst->seq = seq;
	va_start(ap, fmt);
	vsnprintf(dst->msg, sizeof(dst->msg), fmt, ap);
	va_end(ap);
}

/* The acknowledgements in the log ("first_bad_row=X broken_row=B"). */
static int load_acks(struct vg_audit *a, struct vctx *v)
{
	sqlite3_stmt *st = NULL;
	int s;

	if (sqlite3_prepare_v2(a->db, "SELECT seq, object FROM audit WHERE action ="
			       " 'audit.acknowledge' ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return -VG_EDB;
	while ((s = sqlite3_step(st)) == SQLITE_ROW && v->n_acks < MAX_ACKS) {
		const char *o = (const char *)sqlite3_column_text(st, 1);
		long long x, b;

		if (o == NULL || sscanf(o, "first_bad_row=%lld broken_row=%lld", &x, &b) != 2 ||
		    x < 0 || b <= x)
			continue;
		/* x = 0: a problem tied to no row (the head file), which the
		 * acknowledgement's checkpoint cured: no rows are set aside. */
		v->acks[v->n_acks] = (struct ack){ .lo = x > 0 ? x : 1, .hi = x > 0 ? b - 1 : 0,
						   .ack_seq = sqlite3_column_int64(st, 0) };
		v->n_acks++;
	}
	sqlite3_finalize(st);
	return 0;
}

struct cprow {
	struct vg_audit_checkpoint cp;
	int from_head;
	int sig_ok;
};

static int cp_cmp(const void *x, const void *y)
{
	const struct cprow *a = x, *b = y;

	return (a->cp.seq > b->cp.seq) - (a->cp.seq < b->cp.seq);
}

static int load_checkpoints(struct vg_audit *a, struct cprow **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct cprow *v = NULL;
	size_t cap = 0, len = 0;
	int s, rc = 0;

	if (sqlite3_prepare_v2(a->db, "SELECT seq, time_us, hash, sig, id FROM checkpoint ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return -VG_EDB;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(st, 2), *sg = sqlite3_column_blob(st, 3);
		int hl = sqlite3_column_bytes(st, 2), sl = sqlite3_column_bytes(st, 3);
		struct cprow *c;

		if (len == cap) {
			struct cprow *nv;

			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v) + sizeof(*v));	/* +1 for the head */
			if (nv == NULL) {
				rc = -VG_ENOMEM;
				goto out;
			}
			v = nv;
		}
		c = &v[len++];
		memset(c, 0, sizeof(*c));
		c->cp.seq = sqlite3_column_int64(st, 0);
		c->cp.time_us = sqlite3_column_int64(st, 1);
		c->cp.id = sqlite3_column_int64(st, 4);
		/* A malformed blob is kept zeroed/empty and fails verification. */
		if (h != NULL && hl == VG_AUDIT_HASH_LEN)
			memcpy(c->cp.hash, h, VG_AUDIT_HASH_LEN);
		if (sg != NULL && sl > 0 && (size_t)sl <= sizeof(c->cp.sig)) {
			memcpy(c->cp.sig, sg, (size_t)sl);
			c->cp.sig_len = (size_t)sl;
		}
	}
	if (s != SQLITE_DONE)
		rc = -VG_EDB;
out:
	sqlite3_finalize(st);
	if (rc < 0) {
		free(v);
		return rc;
	}
	if (v == NULL) {
		v = calloc(1, sizeof(*v));
		if (v == NULL)
			return -VG_ENOMEM;
	}
	*out = v;
	*n = len;
	return 0;
}

static int trigger_count(struct vg_audit *a)
{
	sqlite3_stmt *st = NULL;
	int n = -1;

	if (sqlite3_prepare_v2(a->db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
			       " AND name IN ('audit_no_update', 'audit_no_delete',"
			       " 'checkpoint_no_update', 'checkpoint_no_delete')"
			       " AND sql LIKE '%RAISE(ABORT%'", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* The row's fields from columns 0-10 of a SELECT over the audit table (the
 * order verify and query share); strings point into the statement. */
static void row_fields(sqlite3_stmt *st, struct vg_audit_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = sqlite3_column_int64(st, 0);
	e->time_us = sqlite3_column_int64(st, 1);
	e->uid = sqlite3_column_int64(st, 2);
	e->login = (const char *)sqlite3_column_text(st, 3);
	e->role = (const char *)sqlite3_column_text(st, 4);
	e->action = (const char *)sqlite3_column_text(st, 5);
	e->object = (const char *)sqlite3_column_text(st, 6);
	e->purpose = (const char *)sqlite3_column_text(st, 7);
	e->reference = (const char *)sqlite3_column_text(st, 8);
	e->outcome = (const char *)sqlite3_column_text(st, 9);
	e->reason = (const char *)sqlite3_column_text(st, 10);
}

int vg_audit_verify(struct vg_audit *a, const struct vg_sign_key *pub,
		    struct vg_audit_problem *prob, struct vg_audit_stats *stats)
{
	struct vg_audit_problem dummy;
	struct vctx v = { .prob = prob != NULL ? prob : &dummy };
	struct cprow *cps = NULL;
	size_t ncp = 0, ci = 0, i, n_db;
	sqlite3_stmt *st = NULL;
	uint8_t prev[VG_AUDIT_HASH_LEN] = { 0 }, h[VG_AUDIT_HASH_LEN];
	int64_t expect = 1, last_good_cp = 0, rows = 0, last_seq = 0, db_max_cp = -1;
	int rc, s, head_rc;

	if (a == NULL)
		return -VG_EINVAL;
	if (pub == NULL)
		pub = a->key;
	if (pub == NULL)
		return -VG_EINVAL;
	memset(v.prob, 0, sizeof(*v.prob));
	pthread_mutex_lock(&a->lock);
	rc = exec(a, "BEGIN");	/* one consistent snapshot for the whole walk */
	if (rc < 0)
		goto out;
	rc = load_acks(a, &v);
	if (rc < 0)
		goto out;
	rc = load_checkpoints(a, &cps, &ncp);
	if (rc < 0)
		goto out;
	n_db = ncp;
	head_rc = head_file_read(a, &cps[ncp].cp);
	if (head_rc == 0) {
		cps[ncp].from_head = 1;
		ncp++;
	} else if (head_rc == -VG_ENOENT) {
		problem(&v, 0, "the head file %s is missing: the latest signed checkpoint "
			"cannot be checked against the database", a->head_path);
	} else {
		problem(&v, 0, "the head file %s is unreadable or malformed", a->head_path);
	}
	for (i = 0; i < ncp; i++) {
		uint8_t d[VG_AUDIT_HASH_LEN];

		cp_digest(&cps[i].cp, d);
		cps[i].sig_ok = vg_sign_verify(pub, d, cps[i].cp.sig, cps[i].cp.sig_len) == 0;
		if (!cps[i].sig_ok)
			problem(&v, cps[i].cp.seq, "the %s checkpoint at seq %" PRId64 " has an "
				"invalid signature (forged or not made by this device's key)",
				cps[i].from_head ? "head file's" : "database's", cps[i].cp.seq);
		if (!cps[i].from_head && cps[i].cp.seq > db_max_cp)
			db_max_cp = cps[i].cp.seq;
	}
	if (head_rc == 0 && cps[ncp - 1].cp.seq > db_max_cp)
		problem(&v, 0, "the head file records a checkpoint at seq %" PRId64 " but the "
			"database's latest is at seq %" PRId64 ": checkpoints were deleted",
			cps[ncp - 1].cp.seq, db_max_cp);
	qsort(cps, ncp, sizeof(*cps), cp_cmp);
	/* Checkpoints of the empty chain (seq 0) must carry the zero hash. */
	for (; ci < ncp && cps[ci].cp.seq <= 0; ci++) {
		if (cps[ci].cp.seq < 0 || memcmp(cps[ci].cp.hash, prev, VG_AUDIT_HASH_LEN) != 0)
			problem(&v, 0, "a checkpoint at seq %" PRId64 " is malformed",
				cps[ci].cp.seq);
	}
	if (sqlite3_prepare_v2(a->db, "SELECT " ROW_COLS " FROM audit ORDER BY seq", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = -VG_EDB;
		goto out;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct vg_audit_entry e;
		const void *ph = sqlite3_column_blob(st, 11), *hh = sqlite3_column_blob(st, 12);
		int bad_blob = ph == NULL || hh == NULL ||
			sqlite3_column_bytes(st, 11) != VG_AUDIT_HASH_LEN ||
			sqlite3_column_bytes(st, 12) != VG_AUDIT_HASH_LEN;

		row_fields(st, &e);
		rows++;
		if (e.seq != expect) {
			if (e.seq > expect)
				problem(&v, expect, "row %" PRId64 " is missing (the next row is %"
					PRId64 "): rows were deleted", expect, e.seq);
			else
				problem(&v, e.seq, "row %" PRId64 " is out of sequence", e.seq);
		}
		if (bad_blob) {
			problem(&v, e.seq, "row %" PRId64 " has a malformed hash field", e.seq);
			memset(e.hash, 0, sizeof(e.hash));
		} else {
			memcpy(e.prev_hash, ph, VG_AUDIT_HASH_LEN);
			memcpy(e.hash, hh, VG_AUDIT_HASH_LEN);
			if (e.seq == expect && memcmp(e.prev_hash, prev, VG_AUDIT_HASH_LEN) != 0)
				problem(&v, e.seq, "row %" PRId64 " does not link to row %" PRId64
					" (prev_hash differs): rows were inserted, removed or "
					"reordered", e.seq, e.seq - 1);
			if (vg_audit_row_hash(&e, h) < 0) {
				rc = -VG_ENOMEM;
				goto out;
			}
			if (memcmp(h, e.hash, VG_AUDIT_HASH_LEN) != 0)
				problem(&v, e.seq, "row %" PRId64 " was altered: its hash does not "
					"match its contents", e.seq);
		}
		for (; ci < ncp && cps[ci].cp.seq <= e.seq; ci++) {
			if (cps[ci].cp.seq < e.seq)
				continue;	/* a hole; reported above */
			if (memcmp(cps[ci].cp.hash, e.hash, VG_AUDIT_HASH_LEN) != 0)
				problem(&v, last_good_cp + 1, "rows %" PRId64 " to %" PRId64
					" do not match the signed checkpoint at seq %" PRId64
					": they were changed and the chain rebuilt",
					last_good_cp + 1, e.seq, e.seq);
			else
				last_good_cp = e.seq;
			if (memcmp(cps[ci].cp.hash, e.hash, VG_AUDIT_HASH_LEN) == 0 &&
			    cps[ci].sig_ok) {
				for (int k = 0; k < v.n_acks; k++)
					if (v.acks[k].ack_seq <= e.seq)
						v.acks[k].anchored = 1;
			}
		}
		memcpy(prev, e.hash, VG_AUDIT_HASH_LEN);
		last_seq = e.seq;
		expect = e.seq + 1;
	}
	if (s != SQLITE_DONE) {
		rc = -VG_EDB;
		goto out;
	}
	if (ci < ncp)
		problem(&v, last_seq + 1, "the log ends at seq %" PRId64 " but a signed checkpoint "
			"covers seq %" PRId64 ": rows %" PRId64 " onwards were deleted", last_seq,
			cps[ncp - 1].cp.seq, last_seq + 1);
	if (trigger_count(a) != 4)
		problem(&v, 0, "the append-only triggers were removed or changed");
	{
		int64_t acked = 0;
		int n_acks = v.n_acks;

		/* An acknowledgement counts only under a valid signature. */
		v.n_acks = 0;	/* from here on, problems are not set aside */
		for (int k = 0; k < n_acks; k++) {
			struct ack *ak = &v.acks[k];

			if (ak->anchored)
				acked++;
			else if (ak->have)
				problem(&v, ak->first.seq, "%s (an acknowledgement at row %" PRId64
					" would cover this, but no valid signed checkpoint covers "
					"it)", ak->first.msg, ak->ack_seq);
		}
		if (stats != NULL)
			stats->acknowledged_breaks = acked;
	}
	if (stats != NULL) {
		stats->rows = rows;
		stats->checkpoints = (int64_t)n_db;
		stats->last_checkpoint_seq = db_max_cp;
	}
	rc = v.have ? -VG_EAUTH : 0;
out:
	sqlite3_finalize(st);
	sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
	pthread_mutex_unlock(&a->lock);
	free(cps);
	return rc;
}

/* ---- query ------------------------------------------------------------ */

int vg_audit_query(struct vg_audit *a, const struct vg_audit_filter *f,
		   vg_audit_row_fn fn, void *ud)
{
	char sql[512];
	struct sbuf b = { sql, sizeof(sql), 0 };
	struct vg_audit_filter none = { 0 };
	sqlite3_stmt *st = NULL;
	int rc = 0, s;

	if (a == NULL || fn == NULL)
		return -VG_EINVAL;
	if (f == NULL)
		f = &none;
	sb_puts(&b, "SELECT " ROW_COLS " FROM audit WHERE 1");
	if (f->since_us != 0)
		sb_puts(&b, " AND time_us >= :since");
	if (f->until_us != 0)
		sb_puts(&b, " AND time_us < :until");
	if (f->login != NULL)
		sb_puts(&b, " AND login = :login");
	if (f->camera != NULL)
		sb_puts(&b, " AND instr(object, :camera) > 0");
	if (f->action != NULL)
		sb_puts(&b, " AND (action = :action OR substr(action, 1, length(:action) + 1)"
			" = :action || '.')");
	if (f->after_seq != 0)
		sb_puts(&b, " AND seq > :after");
	sb_puts(&b, " ORDER BY seq");
	if (f->limit > 0)
		sb_puts(&b, " LIMIT :limit");
	sb_end(&b);
	/* Under the writer lock so that a query never sees half of a batch
	 * appended on this connection; hence fn must not call this handle. */
	pthread_mutex_lock(&a->lock);
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&a->lock);
		return -VG_EDB;
	}
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":since"), f->since_us);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":until"), f->until_us);
	sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":login"), nz(f->login), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":camera"), nz(f->camera), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":action"), nz(f->action), -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":after"), f->after_seq);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"), f->limit);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct vg_audit_entry e;
		const void *p;

		row_fields(st, &e);
		p = sqlite3_column_blob(st, 11);
		if (p != NULL && sqlite3_column_bytes(st, 11) == VG_AUDIT_HASH_LEN)
			memcpy(e.prev_hash, p, VG_AUDIT_HASH_LEN);
		p = sqlite3_column_blob(st, 12);
		if (p != NULL && sqlite3_column_bytes(st, 12) == VG_AUDIT_HASH_LEN)
			memcpy(e.hash, p, VG_AUDIT_HASH_LEN);
		rc = fn(&e, ud);
		if (rc != 0)
			break;
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = -VG_EDB;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* ---- verify at start, acknowledge ------------------------------------- */

static int64_t scalar(struct vg_audit *a, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;

	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int copy_file(const char *from, const char *to)
{
	char buf[4096];
	ssize_t n;
	int in, out, rc = 0;

	in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? -VG_ENOENT : -VG_EIO;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -VG_EIO;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -VG_EIO;
	if (n < 0 || fsync(out) != 0)
		rc = -VG_EIO;
	close(in);
	if (close(out) != 0)
		rc = -VG_EIO;
	return rc;
}

/* The evidence folder: the head file as found, the rows from `from` on and
 * every checkpoint (evidence.db), and what verify said (problem.txt). */
static int keep_evidence(struct vg_audit *a, const char *dir, int64_t from,
			 const struct vg_audit_problem *p, char *out, size_t outlen)
{
	char base[480], sub[512], path[600], *sql;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int rc;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -VG_EIO;
	gmtime_r(&now, &tm);
	snprintf(base, sizeof(base), "%s/%04d%02d%02dT%02d%02d%02dZ-row%" PRId64, dir,
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 p->seq);
	snprintf(sub, sizeof(sub), "%s", base);
	for (int i = 1; mkdir(sub, 0700) < 0; i++) {
		if (errno != EEXIST || i > 99)
			return -VG_EIO;
		snprintf(sub, sizeof(sub), "%s.%d", base, i);
	}
	snprintf(out, outlen, "%s", sub);
	snprintf(path, sizeof(path), "%s/audit.db.head", sub);
	rc = copy_file(a->head_path, path);
	if (rc < 0 && rc != -VG_ENOENT)
		return rc;
	snprintf(path, sizeof(path), "%s/problem.txt", sub);
	f = fopen(path, "w");
	if (f == NULL)
		return -VG_EIO;
	fprintf(f, "first bad row: %" PRId64 "\n%s\nhead file: %s\n", p->seq, p->msg,
		rc == -VG_ENOENT ? "missing" : "copied as audit.db.head");
	if (fclose(f) != 0)
		return -VG_EIO;
	snprintf(path, sizeof(path), "%s/evidence.db", sub);
	sql = sqlite3_mprintf("ATTACH DATABASE %Q AS ev;"
			      "CREATE TABLE ev.audit AS SELECT * FROM main.audit WHERE seq >= %lld;"
			      "CREATE TABLE ev.checkpoint AS SELECT * FROM main.checkpoint;"
			      "DETACH DATABASE ev;", path, (long long)from);
	if (sql == NULL)
		return -VG_ENOMEM;
	rc = exec(a, sql);
	sqlite3_free(sql);
	return rc;
}

int vg_audit_start_check(struct vg_audit *a, const char *evidence_dir,
			 struct vg_audit_break *brk)
{
	struct vg_audit_problem p;
	struct vg_audit_checkpoint head;
	struct vg_audit_break b;
	int64_t last, from, top, seq = 0;
	char object[160];
	int rc;

	if (a == NULL || evidence_dir == NULL)
		return -VG_EINVAL;
	memset(&p, 0, sizeof(p));
	rc = vg_audit_verify(a, NULL, &p, NULL);
	if (rc != -VG_EAUTH)
		return rc;
	memset(&b, 0, sizeof(b));
	memset(&head, 0, sizeof(head));
	pthread_mutex_lock(&a->lock);
	last = scalar(a, "SELECT coalesce(max(seq), 0) FROM audit");
	top = scalar(a, "SELECT coalesce(max(seq), 0) FROM checkpoint");
	if (head_file_read(a, &head) == 0 && head.seq > top)
		top = head.seq;
	if (last > top)
		top = last;
	/* The unsigned tail after the head, and everything from the first bad
	 * row on. */
	from = head.seq + 1;
	if (p.seq > 0 && p.seq < from)
		from = p.seq;
	rc = keep_evidence(a, evidence_dir, from, &p, b.evidence, sizeof(b.evidence));
	if (rc < 0)
		vg_warnx("cannot keep a copy of the broken audit log under %s", evidence_dir);
	a->seq_floor = top + 1;
	pthread_mutex_unlock(&a->lock);
	snprintf(object, sizeof(object), "first_bad_row=%" PRId64 " evidence=%s", p.seq,
		 b.evidence[0] ? b.evidence : "(not kept)");
	{
		struct vg_audit_entry e = {
			.uid = -1, .login = "", .role = "", .action = "audit.broken",
			.object = object, .purpose = "", .reference = "", .outcome = "refused",
			.reason = p.msg,
		};

		rc = vg_audit_append(a, &e, &seq);
	}
	pthread_mutex_lock(&a->lock);
	a->broken = 1;
	b.first_bad_seq = p.seq;
	b.row_seq = seq;
	snprintf(b.msg, sizeof(b.msg), "%s", p.msg);
	a->brk = b;
	pthread_mutex_unlock(&a->lock);
	if (brk != NULL)
		*brk = b;
	return rc < 0 ? rc : 1;
}

int vg_audit_broken(struct vg_audit *a, struct vg_audit_break *brk)
{
	int broken;

	if (a == NULL)
		return 0;
	pthread_mutex_lock(&a->lock);
	broken = a->broken;
	if (broken && brk != NULL)
		*brk = a->brk;
	pthread_mutex_unlock(&a->lock);
	return broken;
}

int vg_audit_acknowledge(struct vg_audit *a, const struct vg_audit_entry *who,
			 struct vg_audit_checkpoint *cp)
{
	struct vg_audit_entry e;
	char object[400], reason[512];
	int rc;

	if (a == NULL || who == NULL)
		return -VG_EINVAL;
	pthread_mutex_lock(&a->lock);
	if (!a->broken) {
		pthread_mutex_unlock(&a->lock);
		return -VG_ENOENT;
	}
	snprintf(object, sizeof(object), "first_bad_row=%" PRId64 " broken_row=%" PRId64
		 " evidence=%s", a->brk.first_bad_seq, a->brk.row_seq, a->brk.evidence);
	snprintf(reason, sizeof(reason), "the break is accepted; the copies in the evidence "
		 "folder are its record: %s", a->brk.msg);
	e = *who;
	e.action = "audit.acknowledge";
	e.object = object;
	e.outcome = "allowed";
	e.reason = reason;
	rc = append_locked(a, &e, 1, NULL);
	if (rc == 0) {
		a->broken = 0;
		rc = checkpoint_locked(a, cp);
		if (rc < 0)
			a->broken = 1;
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* ---- the witness ------------------------------------------------------ */

int vg_audit_checkpoints(struct vg_audit *a, int64_t after_id, vg_audit_cp_fn fn, void *ud)
{
	int rc = 0;

	if (a == NULL || fn == NULL)
		return -VG_EINVAL;
	/* One row per lock hold: appends are never kept waiting for a slow fn. */
	for (;;) {
		struct vg_audit_checkpoint cp;
		sqlite3_stmt *st = NULL;
		int s;

		memset(&cp, 0, sizeof(cp));
		pthread_mutex_lock(&a->lock);
		if (sqlite3_prepare_v2(a->db, "SELECT id, seq, time_us, hash, sig FROM checkpoint"
				       " WHERE id > ? ORDER BY id LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
			pthread_mutex_unlock(&a->lock);
			return -VG_EDB;
		}
		sqlite3_bind_int64(st, 1, after_id);
		s = sqlite3_step(st);
		if (s == SQLITE_ROW) {
			const void *h = sqlite3_column_blob(st, 3), *sg = sqlite3_column_blob(st, 4);
			int hl = sqlite3_column_bytes(st, 3), sl = sqlite3_column_bytes(st, 4);

			cp.id = sqlite3_column_int64(st, 0);
			cp.seq = sqlite3_column_int64(st, 1);
			cp.time_us = sqlite3_column_int64(st, 2);
			if (h != NULL && hl == VG_AUDIT_HASH_LEN)
				memcpy(cp.hash, h, VG_AUDIT_HASH_LEN);
			if (sg != NULL && sl > 0 && (size_t)sl <= sizeof(cp.sig)) {
				memcpy(cp.sig, sg, (size_t)sl);
				cp.sig_len = (size_t)sl;
			}
		}
		sqlite3_finalize(st);
		pthread_mutex_unlock(&a->lock);
		if (s == SQLITE_DONE)
			return 0;
		if (s != SQLITE_ROW)
			return -VG_EDB;
		rc = fn(&cp, ud);
		if (rc != 0)
			return rc;
		after_id = cp.id;
	}
}

int vg_audit_check_witness(struct vg_audit *a, const struct vg_sign_key *pub,
			   const struct vg_audit_checkpoint *w, size_t n,
			   struct vg_audit_problem *prob)
{
	struct vg_audit_problem dummy;
	struct vctx v = { .prob = prob != NULL ? prob : &dummy };
	sqlite3_stmt *row = NULL, *cpq = NULL;
	int64_t last;
	int rc = 0;

	if (a == NULL || (w == NULL && n > 0))
		return -VG_EINVAL;
	if (pub == NULL)
		pub = a->key;
	if (pub == NULL)
		return -VG_EINVAL;
	memset(v.prob, 0, sizeof(*v.prob));
	pthread_mutex_lock(&a->lock);
	if (exec(a, "BEGIN") < 0) {
		pthread_mutex_unlock(&a->lock);
		return -VG_EDB;
	}
	last = scalar(a, "SELECT coalesce(max(seq), 0) FROM audit");
	if (sqlite3_prepare_v2(a->db, "SELECT hash FROM audit WHERE seq = ?", -1, &row,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(a->db, "SELECT count(*) FROM checkpoint WHERE seq = ? AND"
			       " time_us = ? AND hash = ? AND sig = ?", -1, &cpq, NULL) != SQLITE_OK) {
		rc = -VG_EDB;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct vg_audit_checkpoint *c = &w[i];
		uint8_t d[VG_AUDIT_HASH_LEN];
		char when[40];
		struct sbuf tb = { when, sizeof(when), 0 };
		int s;

		sb_time(&tb, c->time_us);
		sb_end(&tb);
		cp_digest(c, d);
		if (vg_sign_verify(pub, d, c->sig, c->sig_len) < 0) {
			problem(&v, 0, "the witness copy holds a checkpoint at seq %" PRId64 " that "
				"this device did not sign: the collector's copy was tampered with",
				c->seq);
			continue;
		}
		if (c->seq > last) {
			problem(&v, last + 1, "the witness holds a checkpoint at seq %" PRId64
				" signed %s, but the log ends at seq %" PRId64 ": rows %" PRId64
				" onwards were deleted or the log was rolled back", c->seq, when,
				last, last + 1);
			continue;
		}
		if (c->seq > 0) {
			sqlite3_reset(row);
			sqlite3_bind_int64(row, 1, c->seq);
			s = sqlite3_step(row);
			if (s != SQLITE_ROW || sqlite3_column_bytes(row, 0) != VG_AUDIT_HASH_LEN ||
			    memcmp(sqlite3_column_blob(row, 0), c->hash, VG_AUDIT_HASH_LEN) != 0) {
				problem(&v, c->seq, "row %" PRId64 " is not the row the witness "
					"received in the checkpoint signed %s: the history up to it "
					"was rewritten (forged or rolled back)", c->seq, when);
				continue;
			}
		}
		sqlite3_reset(cpq);
		sqlite3_bind_int64(cpq, 1, c->seq);
		sqlite3_bind_int64(cpq, 2, c->time_us);
		sqlite3_bind_blob(cpq, 3, c->hash, VG_AUDIT_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(cpq, 4, c->sig, (int)c->sig_len, SQLITE_STATIC);
		if (sqlite3_step(cpq) != SQLITE_ROW || sqlite3_column_int64(cpq, 0) < 1)
			problem(&v, c->seq > 0 ? c->seq : 0, "the checkpoint at seq %" PRId64
				" signed %s that the witness received is missing from the database: "
				"checkpoints were deleted", c->seq, when);
	}
	rc = v.have ? -VG_EAUTH : 0;
out:
	sqlite3_finalize(row);
	sqlite3_finalize(cpq);
	sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
	pthread_mutex_unlock(&a->lock);
	return rc;
}
