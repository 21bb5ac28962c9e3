/*
 * audit.h - the append-only, hash-chained, signed audit log.
 *
 * One SQLite file (audit.db, WAL, synchronous=FULL) holds the rows and the
 * signed checkpoints; triggers refuse UPDATE and DELETE. Each row's hash is
 * SHA-256 over a canonical encoding of its fields and the previous row's
 * hash (docs/audit-format.md), so an edited, deleted, inserted or reordered
 * row breaks the chain. A whole chain rebuilt with fresh hashes, or a
 * truncated tail, is caught by the checkpoints: the head (seq, hash, time)
 * signed with the device key (sign.h). The latest checkpoint is also kept
 * in a file beside the database (PATH.head), written atomically, so that
 * deleting checkpoints from the database is caught as well; and every row
 * and checkpoint can be copied to syslog for an off-box collector.
 *
 * This is data, not the debug log (log.h). A struct vg_audit is opaque;
 * vg_audit_append() and vg_audit_checkpoint() may be called from any
 * thread (an internal mutex serialises writers).
 */
#ifndef VIGIL_AUDIT_H
#define VIGIL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/sign.h"

#define VG_AUDIT_HASH_LEN 32
#define VG_AUDIT_FORMAT_VERSION 1

struct vg_audit;

/*
 * One row. On append the caller fills time_us (0 = now), uid (-1 if not a
 * local user), and the strings (NULL is stored as ""; all must be valid
 * UTF-8); seq and the hashes are ignored. In query callbacks every field
 * is set and the strings point into memory valid only during the call.
 */
struct vg_audit_entry {
	int64_t seq;		/* 1, 2, 3, ... with no holes */
	int64_t time_us;	/* UTC microseconds since the Unix epoch */
	int64_t uid;		/* caller's uid (SO_PEERCRED), -1 for vigild itself */
	const char *login;	/* staff login, "" for the daemon */
	const char *role;	/* the login's role at the time, e.g. "area_manager" */
	const char *action;	/* e.g. "clip.view", "recording.start", "config.reload" */
	const char *object;	/* e.g. "camera=lobby from=... to=... clips=12,13" */
	const char *purpose;	/* --purpose */
	const char *reference;	/* --reference (ASB/crime/case/DSAR number) */
	const char *outcome;	/* "allowed" or "refused" */
	const char *reason;	/* why (the policy sentence) */
	uint8_t prev_hash[VG_AUDIT_HASH_LEN];
	uint8_t hash[VG_AUDIT_HASH_LEN];
};

/* A signed head. */
struct vg_audit_checkpoint {
	int64_t id;		/* its row in the checkpoint table (insertion order);
				 * 0 when it came from elsewhere (head file, witness) */
	int64_t seq;		/* last row covered; 0 = empty chain */
	int64_t time_us;
	uint8_t hash[VG_AUDIT_HASH_LEN];	/* that row's hash (zeros for seq 0) */
	uint8_t sig[VG_SIGN_MAX_SIG];	/* DER ECDSA P-256 over SHA-256(encoding) */
	size_t sig_len;
};

/* The first thing wrong found by vg_audit_verify(). */
struct vg_audit_problem {
	int64_t seq;		/* first bad row (0 = not tied to one row) */
	char msg[384];		/* what is wrong, in a sentence */
};

/* What vg_audit_verify() walked. */
struct vg_audit_stats {
	int64_t rows;
	int64_t checkpoints;
	int64_t last_checkpoint_seq;
	int64_t acknowledged_breaks;	/* breaks a DPO acknowledged (vg_audit_acknowledge) */
};

/* A log found broken at start (vg_audit_start_check). */
struct vg_audit_break {
	int64_t first_bad_seq;	/* first bad row (0: not tied to a row, e.g. the head file) */
	int64_t row_seq;	/* the audit.broken row that recorded it */
	char evidence[256];	/* folder holding the copies */
	char msg[384];		/* what verify found */
};

/*
 * Open (creating if missing) the audit database at path. key may be NULL
 * for a read-only handle (query, verify); otherwise it is borrowed, must
 * outlive the handle, and is used by vg_audit_checkpoint(). A new database
 * gets a signed genesis checkpoint (seq 0) in PATH.head at once, so a
 * later loss of the head file is detected. *out receives the handle.
 */
int vg_audit_open(const char *path, struct vg_sign_key *key, struct vg_audit **out);

/* Close; NULL is a no-op. */
void vg_audit_close(struct vg_audit *a);

/* Append one row in its own transaction (durable on return). *seq (may be
 * NULL) receives its seq. */
int vg_audit_append(struct vg_audit *a, const struct vg_audit_entry *e, int64_t *seq);

/* Append n rows in one transaction (all or none). */
int vg_audit_append_many(struct vg_audit *a, const struct vg_audit_entry *e, size_t n);

/* Sign the current head, store it in the database and in PATH.head, and
 * send it to syslog if enabled. *cp (may be NULL) receives it. Needs a key. */
int vg_audit_checkpoint(struct vg_audit *a, struct vg_audit_checkpoint *cp);

/*
 * Walk the whole chain: seq contiguity, prev links, every hash, every
 * checkpoint signature (with pub: the device key or its public half; NULL
 * means the key given to vg_audit_open), every checkpoint's (seq, hash)
 * against the chain, the head file against the database, and the
 * append-only triggers. Returns 0 if intact; -VG_EAUTH with *prob (may be
 * NULL) naming the first bad row; other negative codes if it could not be
 * read. *st (may be NULL) receives counts.
 */
int vg_audit_verify(struct vg_audit *a, const struct vg_sign_key *pub,
		    struct vg_audit_problem *prob, struct vg_audit_stats *st);

/*
 * Run once at start, before anything else writes to the log: verify the
 * whole chain against the head file. If it is intact, return 0. If not,
 * (1) copy the evidence into a new folder under evidence_dir (created 0700
 * if missing): the head file as found, and the rows from the first bad row
 * (or from just after the head's seq, if lower) with every checkpoint, in
 * an SQLite file evidence.db, plus problem.txt; (2) append an
 * "audit.broken" row (outcome "refused") naming the first bad row, with a
 * seq above every seq any signed checkpoint or head ever covered (deleted
 * seqs are never reused); (3) refuse vg_audit_checkpoint() (-VG_EAUTH)
 * until vg_audit_acknowledge(). Returns 1 and *brk (may be NULL) then, or
 * a negative code if the log could not be read.
 */
int vg_audit_start_check(struct vg_audit *a, const char *evidence_dir,
			 struct vg_audit_break *brk);

/* 1 and *brk (may be NULL) while the log is broken and unacknowledged. */
int vg_audit_broken(struct vg_audit *a, struct vg_audit_break *brk);

/*
 * The DPO accepts a break: append an "audit.acknowledge" row (who filled
 * from *who: uid, login, role, purpose, reference; the object names the
 * break as "first_bad_row=X broken_row=B") and sign a checkpoint over it.
 * From then on vg_audit_verify() accepts problems in rows X to B-1, but
 * only while that acknowledgement is covered by a valid checkpoint. The
 * copies in the evidence folder stay the record of what was wrong.
 * -VG_ENOENT if the log is not broken.
 */
int vg_audit_acknowledge(struct vg_audit *a, const struct vg_audit_entry *who,
			 struct vg_audit_checkpoint *cp);

/* ---- the off-box witness (docs/audit-format.md section 7) ---- */

/* Called once per checkpoint row with id > after_id, in id order; return
 * non-zero to stop (returned). Runs outside the writer lock per row. */
typedef int (*vg_audit_cp_fn)(const struct vg_audit_checkpoint *cp, void *ud);
int vg_audit_checkpoints(struct vg_audit *a, int64_t after_id, vg_audit_cp_fn fn, void *ud);

/* The RFC 5424 STRUCTURED-DATA element a checkpoint travels as:
 * [vigil-checkpoint@32473 seq="N" time_us="T" hash="HEX" sig="HEX"].
 * Returns its length (truncated to fit cap, like snprintf). */
size_t vg_audit_format_cp_sd(const struct vg_audit_checkpoint *cp, char *buf, size_t cap);

/* Find that element anywhere in line (a collector's log line). 1 and *cp
 * if found, 0 if the line holds none, -VG_EFORMAT if it is malformed. */
int vg_audit_parse_witness(const char *line, struct vg_audit_checkpoint *cp);

/*
 * Compare the log with n checkpoints a collector received (in any order,
 * duplicates allowed). Each must carry a valid device signature, and the
 * log must hold a row at its seq with its hash (else: rolled back,
 * truncated, or history forged) and the checkpoint row itself (else:
 * checkpoints deleted). Call vg_audit_verify() as well: it proves each
 * row's contents match its hash. 0 if consistent; -VG_EAUTH and *prob
 * naming the lowest bad row otherwise.
 */
int vg_audit_check_witness(struct vg_audit *a, const struct vg_sign_key *pub,
			   const struct vg_audit_checkpoint *w, size_t n,
			   struct vg_audit_problem *prob);

/* Query filters; zero/NULL fields do not filter. */
struct vg_audit_filter {
	int64_t since_us;	/* time_us >= since_us */
	int64_t until_us;	/* time_us < until_us */
	const char *login;	/* exact */
	const char *camera;	/* substring of object */
	const char *action;	/* exact, or a prefix up to a '.': "clip" matches clip.* */
	int64_t after_seq;	/* seq > after_seq (paging) */
	int64_t limit;		/* at most this many rows (paging); 0 = all */
};

/* Called once per matching row in seq order; return non-zero to stop
 * (vg_audit_query then returns that value). fn must not call back into
 * the same handle (the query holds its lock). */
typedef int (*vg_audit_row_fn)(const struct vg_audit_entry *e, void *ud);

int vg_audit_query(struct vg_audit *a, const struct vg_audit_filter *f,
		   vg_audit_row_fn fn, void *ud);

/* The head (last seq and its hash; 0 and zeros when empty). */
int vg_audit_head(struct vg_audit *a, int64_t *seq, uint8_t hash[VG_AUDIT_HASH_LEN]);

/* Send every appended row and checkpoint to syslog(3) (LOG_AUTHPRIV |
 * LOG_NOTICE) as RFC 5424 structured data. Process-wide; off by default. */
void vg_audit_set_syslog(int on);

/* The canonical row hash (docs/audit-format.md) of e with e->seq and
 * e->prev_hash, into out. For independent checks and tools. */
int vg_audit_row_hash(const struct vg_audit_entry *e, uint8_t out[VG_AUDIT_HASH_LEN]);

/* One human line for a row, e.g.
 *   2024-05-01T12:00:00.123456Z #12 jsmith (area_manager, uid 1001) clip.view allowed
 *   object="camera=lobby ..." purpose="..." reference="ASB-1" reason="..."
 * (one line). Truncated to fit cap; returns the untruncated length. */
size_t vg_audit_format_line(const struct vg_audit_entry *e, char *buf, size_t cap);

/* The RFC 5424 STRUCTURED-DATA element sent to syslog for a row:
 * [vigil@32473 seq="12" ...] with ", \ and ] escaped. Same return rule. */
size_t vg_audit_format_sd(const struct vg_audit_entry *e, char *buf, size_t cap);

#endif
