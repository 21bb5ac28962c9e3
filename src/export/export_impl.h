/*
 * export_impl.h - what the export's files share (export.c, export_*.c).
 * Private to src/export/; the public contract is include/vigil/export.h.
 *
 * One struct exp holds an export in progress: the request, the runs of
 * clips planned for it, the files written so far and the result being
 * filled in. export.c makes it and drives the steps below in order, each
 * filling in its part. Unless stated, a function
 * returns 0 or a negative VG_E* code and, on failure, has set the reason
 * for people with exp_why() (the first reason given is kept).
 */
#ifndef VIGIL_EXPORT_IMPL_H
#define VIGIL_EXPORT_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "vigil/clipfile.h"
#include "vigil/export.h"
#include "vigil/fdio.h"

#define IO_BUF (1024 * 1024)
#define US ((AVRational){ 1, 1000000 })
#define TB ((AVRational){ 1, 90000 })
#define MAX_FILES 4096

struct outfile {
	char name[160];
	char path[1280];
	uint8_t sha[VG_SHA256_LEN];
	uint64_t size;
	int video, redacted;
	int synthetic;			/* from the synthetic test camera (issue 16) */
	char camera[33];
	int64_t frames, duration_us, from_us, to_us;
	int width, height, clips;
	int run;			/* index in exp.runs */
	int clk_synced, clk_unsynced, clk_unknown;	/* its clips' clock state */
	struct wcheck *chk;		/* a video checked as it is written (export_io.c);
					 * NULL: not, or not on this medium */
	int checked;			/* every byte was read back from the medium as
					 * written and matched: the read-back at the end
					 * only spot-checks it */
};

struct run {
	const struct vg_export_camera *cam;
	struct vg_clip *clips;
	int n;
};

struct gap {
	char camera[33];
	int64_t from_us, to_us;
	char reason[128];
};

/* What a pool job does with its file. */
enum {
	J_HASH,		/* hash it (after muxing) into f->sha and f->size, fsync it */
	J_READBACK,	/* read it back from the medium, compare with f->sha */
	J_CHECK,	/* read back [off, off + len) as it is written (f->chk) */
	J_SPOT,		/* at the end: the blocks of a checked file sampled then */
};

struct job {
	struct outfile *f;
	int kind;			/* J_* */
	int64_t off, len;		/* J_CHECK */
	int first;			/* J_CHECK: first time: progress, samples */
	struct job *next;
};

/* A two-thread work queue: hash jobs (after muxing), checks of videos as
 * they are written, and the read-back at the end. */
struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv, idle;	/* idle: the queue ran dry, or a check
					 * of a file being written ended */
	struct job *head, *tail;
	int busy, stop, nthreads;
	pthread_t th[2];
	int err;
	char bad[160];			/* the name of err's file */
	struct outfile *badf;		/* err's file */
	struct exp *e;
};

struct exp {
	const struct vg_export_ctx *ctx;
	const struct vg_export_request *req;
	struct vg_export_result *res;
	char dir[1200];			/* /proc/self/fd/N of dir_fd: every file is made
					 * beneath it, never through a path that could
					 * be swapped for a symlink meanwhile */
	char dir_name[1200];		/* DEST/REF.incomplete, for messages */
	char final_dir[1200];		/* DEST/REF */
	int dir_fd;			/* the export folder being written; -1 none */
	int staging;			/* ISO: the folder is staged for the image */
	char dest[1024];
	char ref[VG_EXPORT_REF_MAX];
	struct outfile *files;
	int nfiles;
	struct run *runs;
	int nruns;
	struct gap *gaps;
	int ngaps;
	struct vg_gap *cgaps;		/* catalog gap rows */
	int ncgaps;
	pthread_mutex_t prog_mu;
	uint64_t done, total;
	struct pool pool;
	int64_t now_us;
	/* Image exports: this is disc disc_no of disc_of (0 of 0 for a
	 * folder); when split, req is this disc's part of the request and
	 * whole_from/whole_to are what was asked for in all. */
	int disc_no, disc_of;
	int64_t whole_from_us, whole_to_us;
	/* Every exported clip by id (sorted, for lookups per audit row) with
	 * its clock state from its clip.create audit row (write_custody). */
	struct clip_clock *clk;
	int nclk;
};

enum { CLOCK_UNKNOWN = -1, CLOCK_UNSYNCED = 0, CLOCK_SYNCED = 1 };

struct clip_clock {
	int64_t id;
	int state;		/* CLOCK_* */
};

/* Room reserved for the moov: a fixed part (boxes, avcC, metadata) plus a
 * worst case per sample (stsz 4, co64 8, stsc 12, stss 4, stts 8). */
#define MOOV_BASE (64 * 1024)
#define MOOV_PER_FRAME 36

enum { R_CLIP, R_PKT, R_END };

struct ritem {
	int kind;
	int err;			/* R_CLIP: open failed; R_END: the clip's status */
	int64_t chunk;			/* R_END: with -VG_EAUTH, the chunk that failed */
	int novideo;
	AVPacket *pkt;			/* R_PKT */
	AVCodecParameters *par;		/* R_CLIP */
	AVRational tb;			/* R_CLIP */
	struct ritem *next;
};

#define READERS 2

struct reader {
	struct exp *e;
	const struct run *r;
	int first, stride;		/* clips first, first + stride, ... */
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ritem *head, *tail;
	int count, abort, done;
	size_t bytes;
};

/* ---- export.c: the export in progress ---- */

/* Count add more bytes done (written or read back) and tell the caller's
 * progress callback. Any thread. */
void exp_progress(struct exp *e, uint64_t add);
/* Give the reason the export failed, for people (res->why), and log it.
 * Only the first reason is kept: it is the root cause. */
void exp_why(struct exp *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write, read back and name the export folder DEST/REF from e->runs (e->dest
 * set; estimate: bytes it needs on the medium). On failure the folder keeps
 * its .incomplete name and holds INCOMPLETE.txt. e->dir_fd stays open for
 * the caller (exp_once) to close. */
int exp_folder(struct exp *e, uint64_t estimate);
/* Plan and export one request: a whole folder, or one disc's image. The
 * caller frees what it collected with exp_free_runs(). */
int exp_once(struct exp *e);
/* Free the runs, gaps, files and clock index of e; e can be planned again. */
void exp_free_runs(struct exp *e);

/* ---- export_io.c: files on the medium ---- */

/* The folder a path names a file in: "/a/b.iso" -> "/a", "/b.iso" -> "/",
 * "b.iso" -> ".". */
void exp_dir_of(const char *path, char *out, size_t len);
/* fsync a file (dir 0) or folder (dir 1) by its path. */
int exp_fsync_path(const char *path, int dir);
/* Write all of buf to fd, retrying short writes and EINTR. */
/* The next entry of e->files, named name in the export folder, zeroed but
 * for its name and path; NULL once MAX_FILES are in use. */
struct outfile *exp_new_file(struct exp *e, const char *name);
/* SHA-256 and size of what fd holds from its start. readback: drop its
 * cached pages first so the bytes come from the medium (and count them as
 * progress); otherwise fsync it after hashing. path: for the test seam. */
int exp_hash_fd(struct exp *e, int fd, int readback, const char *path,
		uint8_t out[VG_SHA256_LEN], uint64_t *size);
/* Start n (at most 2) worker threads for e; exp_pool_stop() even on failure. */
int exp_pool_start(struct pool *p, struct exp *e, int n);
/* Queue a J_HASH, J_READBACK or J_SPOT job for f (J_CHECK: exp_check_*). */
int exp_pool_submit(struct pool *p, struct outfile *f, int kind);
/* Wait until every queued job is done; the first error, its file in p->bad
 * and p->badf (-VG_EAUTH: it reads back different). */
int exp_pool_wait(struct pool *p);
/* Join the workers and drop any job not started. Safe on a pool that was
 * never started, and twice. */
void exp_pool_stop(struct pool *p);
/*
 * Checking a video as it is written (the muxer's thread calls these, in
 * this order, with e->pool running): each piece the muxer has passed is
 * handed to the pool, which waits for its writeback, reads it from the
 * medium with O_DIRECT and compares it with the bytes written (the page
 * cache's). A piece the muxer writes again after it was handed over (the
 * moov, the mdat size) is checked again once the file is finished. Where
 * the medium will not be read with O_DIRECT, the file is left unchecked
 * (f->checked 0) and read back whole at the end, as the documents are.
 *
 * exp_check_open: fd, f's new file open for writing (path f->path), is to
 * be checked. Never fails: trouble leaves f unchecked.
 */
void exp_check_open(struct exp *e, struct outfile *f, int fd);
/* The muxer is about to write [off, off + len): if that was handed over
 * already, wait for any check still to read it, and check it again at the
 * end. */
void exp_check_write(struct exp *e, struct outfile *f, int64_t off, int64_t len);
/* Writeback of f is started below end: hand the pieces below it over
 * (out of memory: at the next call, or at exp_check_close). */
void exp_check_upto(struct exp *e, struct outfile *f, int64_t end);
/* f's writer is closed: ok, hand over the rest (f->checked is set once it
 * all matched); not ok (the file is dropped), or out of memory, wait for
 * its checks and forget them (f is then read back whole at the end). */
void exp_check_close(struct exp *e, struct outfile *f, int ok);
/* Free f's check state (the pool is stopped); NULL f->chk does nothing. */
void exp_check_free(struct outfile *f);
/* The test hook (ctx->fault) for f: -VG_EIO if it says the write failed. */
int exp_finish_file(struct exp *e, struct outfile *f);
/* Create name in the export folder holding data, fsynced and hashed into a
 * new entry of e->files; its bytes count in res->bytes. */
int exp_write_small(struct exp *e, const char *name, const void *data, size_t len);

/* ---- export_plan.c: runs and discs ---- */

/* The interval between a clip's pictures, in microseconds (a tenth of a
 * second if the catalog cannot tell). */
int64_t exp_frame_us(const struct vg_clip *c);
/* Collect each camera's clips and catalog gaps in the requested time into
 * e->runs and e->cgaps, a new run wherever recording broke. estimate: the
 * clips' stored bytes. */
int exp_build_runs(struct exp *e, uint64_t *estimate);
/* Split e's runs over discs of limit bytes: cut[0..n], at most max discs.
 * Returns n, the number of discs, or a negative code (a clip larger than
 * a disc, or more than max discs: -VG_EFORMAT). */
int exp_plan_discs(struct exp *e, uint64_t limit, int64_t *cut, int max);

/* ---- export_read.c: decrypting ahead ---- */

/* Free an item from exp_rd_pop(); NULL does nothing. */
void exp_ritem_free(struct ritem *it);
/* The next item (the caller frees it), or NULL once the reader is done. */
struct ritem *exp_rd_pop(struct reader *rd);
/* Start a reader thread over clips first, first + stride, ... of r. For
 * each clip it queues an R_CLIP item, its video packets (R_PKT), then an
 * R_END with the clip's status; it stops after a clip that failed.
 * exp_reader_stop() even on failure. */
int exp_reader_start(struct reader *rd, struct exp *e, const struct run *r, int first,
		     int stride);
/* Stop the reader wherever it is and drop what it queued. */
void exp_reader_stop(struct reader *rd);

/* ---- export_media.c: one run into one MP4 file ---- */

/* Write run r into a new entry of e->files and queue it to be hashed.
 * faststart 0 reserves room for the moov after ftyp (and falls back to
 * faststart 1 if it was short). A run with nothing in the requested time
 * writes no file. */
int exp_run(struct exp *e, const struct run *r, int faststart);

/* ---- export_documents.c: the documents ---- */

/* 1 if any exported video is from the synthetic test camera. */
int exp_any_synthetic(const struct exp *e);
/* Fill e->gaps: each camera's requested time that no video file covers,
 * with the catalog's reason. Out of memory: the list stops short. */
void exp_list_gaps(struct exp *e);
/* chain-of-custody.json: the audit rows that concern this export. It also
 * reads each exported clip's clock state, which exp_write_manifest() uses. */
int exp_write_custody(struct exp *e);
/* README.txt: what is here, how to play it and how to check it (fpr: the
 * device key's fingerprint). */
int exp_write_readme(struct exp *e, const char *fpr);
/* manifest.json and manifest.json.sig (fpr, pem: the device key); after
 * exp_write_custody(). Sets res->delivered_* and res->manifest_sha256. */
int exp_write_manifest(struct exp *e, const char *fpr, const char *pem);
/* SHA256SUMS: every file written so far. */
int exp_write_sums(struct exp *e);

/* ---- export_iso.c: images and discs ---- */

/* Export e as one ISO image at req->iso_path (or into image_fd, made by
 * vigilctl, if >= 0): the folder is staged beside it and always removed. */
int exp_iso(struct exp *e, uint64_t estimate, int image_fd);
/* Export req as a set of disc images of limit bytes, split by time; whole
 * is the request planned (its runs, progress and reference). Fills res for
 * the set; if a disc fails, the discs before it are renamed .incomplete. */
int exp_discs(const struct vg_export_ctx *ctx, const struct vg_export_request *req,
	      struct vg_export_result *res, struct exp *whole, uint64_t limit,
	      uint64_t estimate);

#endif
