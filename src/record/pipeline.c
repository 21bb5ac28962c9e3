/*
 * pipeline.c - one camera: a capture thread and an encoder thread joined
 * by a bounded queue. See pipeline.h for the contract.
 *
 * The capture thread sends three kinds of item: START (a source opened,
 * with its format), FRAME, and END (the source closed or was lost). The
 * encoder thread builds an encoder and a segmenter at START and closes the
 * open clip at END, so a camera that comes back with another resolution
 * simply starts a new clip. Frames are dropped when the queue is full;
 * START and END are never dropped (the capture thread waits for room, which
 * only happens when a camera is lost or found).
 */
#define VG_LOG_MODULE "CAM"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/bsf.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "vigil/audio.h"
#include "vigil/encoder.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/picture.h"
#include "vigil/pipeline.h"
#include "vigil/segmenter.h"
#include "vigil/source.h"
#include "vigil/timeutil.h"
#include "vigil/warmup.h"

/*
 * The queue between capture and encoder is bounded by the bytes of the
 * pictures it holds, not by their number: a 720p YUYV picture is 1.8 MB,
 * a VGA one 0.6 MB, a camera's H.264 or MJPEG packet a few tens of kB, and
 * the queue was most of vigild's memory per camera (docs/performance.md).
 * It only has to ride out the encoder's own pace: the clip's fsyncs and
 * catalog rows are on the segmenter's writer thread (segmenter.h). A
 * picture is dropped (and counted) only when the queue is over budget and
 * holds at least QUEUE_MIN items, so the largest picture still goes in.
 */
#define QUEUE_BYTES ((size_t)6 * 1024 * 1024)	/* 3 720p YUYV, 10 VGA YUYV pictures */
/* ... and more while a session starts: opening the encoder takes longest
 * then, and on a loaded box (or a slow board) it has passed a second and
 * lost the session's first pictures. The extra room costs memory only
 * while the encoder is catching up. Once it has taken WARMUP_FRAMES
 * pictures of the session the budget shrinks as the start's backlog
 * drains, never below QUEUE_BYTES more than the backlog: cutting it to
 * QUEUE_BYTES at once dropped pictures of a backlog the encoder was
 * already working off (seen under qemu on a loaded host: 24 lost of 200
 * in the image test). */
#define QUEUE_WARMUP_BYTES ((size_t)12 * 1024 * 1024)	/* 6 720p, 20 VGA YUYV pictures */
#define WARMUP_FRAMES 32
#define QUEUE_MIN 2
#define QUEUE_MAX 64		/* items, whatever their size */
#define READ_TIMEOUT_MS 250
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 2000	/* a camera back is recording again within 2 s */
#define NO_SIGNAL_US (5 * VG_US_PER_S)	/* live camera silent this long: reopen */
#define RELEASE_WAIT_MS 2000	/* longest wait for a lost camera's frames to go */
/* The wall clock and the monotonic clock disagree by more than this
 * between two pictures: the wall clock was stepped. */
#define CLOCK_STEP_US (2 * VG_US_PER_S)
#define DISK_FULL_WHY "disk full: recording paused to keep room for the audit log"
#define STOP_WHY "vigild stopped"
#define CRASH_WHY "vigild stopped unexpectedly (crash or power cut)"

enum item_kind { ITEM_START, ITEM_FRAME, ITEM_END };

struct item {
	enum item_kind kind;
	struct vg_source_frame f;
	int64_t mono_us;		/* FRAME: when capture received it */
	struct vg_source_info info;
	char why[128];			/* END: why pictures stopped ("": no gap) */
	size_t bytes;			/* FRAME: what its picture or packet holds */
};

struct vg_pipeline {
	const struct vg_camera_config *cam;
	struct vg_pipeline_env env;
	int64_t remove_by_us;		/* temporary camera's stop time; 0 = none */
	pthread_t cap_thread, enc_thread;
	int threads_started;

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* queue changed, or stop requested */
	struct item q[QUEUE_MAX];
	int q_head, q_len;
	size_t q_bytes;			/* of the pictures queued */
	size_t q_budget;		/* QUEUE_WARMUP_BYTES while warming up, then
				 * shrinking with the backlog to QUEUE_BYTES */
	int warmup_left;		/* pictures of the session before q_budget shrinks */
	size_t q_peak_bytes;		/* the most the queue held, for the log */
	int q_peak_len;
	int stop;
	int capture_done;
	int encoder_done;		/* the encoder thread has closed its last clip */
	char stop_why[128];		/* the gap's reason at stop */
	int64_t ends_pushed;		/* ITEM_ENDs queued by the capture thread */
	int64_t ends_taken;		/* ... and taken by the encoder thread */
	int warm_turn;			/* a start-up turn is held (under the gate's lock) */
	struct vg_pipeline_status st;

	/* Installers' snapshots (vg_pipeline_snapshot). snap_want counts the
	 * waiting callers; the encoder thread reads it lock-free once per
	 * picture, so the normal path pays one relaxed load. The rest is
	 * under lock. */
	atomic_int snap_want;
	pthread_cond_t snap_cond;	/* a picture was kept, or stop requested */
	AVFrame *snap;			/* the last kept picture, outlines drawn */
	int snap_err;			/* why no picture could be kept, or 0 */
	int64_t snap_gen;		/* counts kept pictures (and failures) */

	/* Encoder-thread state (only that thread touches these). */
	struct vg_source_info info;
	int warm_frames;		/* pictures taken this session, up to VG_WARMUP_FRAMES */
	struct vg_encoder *enc;
	struct vg_picture *pic;		/* privacy masks and overlay, if configured */
	int overlay_lost;		/* the overlay cannot be drawn this session */
	AVCodecContext *dec;		/* MJPEG decoder, or H.264 when masks or the
					 * overlay rule out pass-through */
	struct vg_segmenter *seg;
	AVRational tb;
	int64_t base_utc_us;
	int64_t last_pts;
	int64_t frame_us;
	int broken;			/* setup failed: skip frames until next START */
	int paused;			/* disk full: frames are counted, not recorded */
	int64_t last_utc_us, last_mono_us;	/* the last picture's clocks */
	int64_t clips_before;		/* clips completed by earlier segmenters */
	int64_t frames_before;		/* frames written by earlier segmenters */
	AVPacket *pkt;
	AVFrame *decoded;

	/* Sound (policy 3.11): NULL when off, never started, or stopped at
	 * its review date. Started before the threads; after that only the
	 * encoder thread touches it (vg_pipeline_stop frees it last). */
	struct vg_audio *audio;
	int64_t audio_until_us;		/* sound stops at this UTC instant */
	AVPacket *apkt;
};

const char *vg_pipeline_state_name(enum vg_pipeline_state s)
{
	static const char *const names[] = { "starting", "recording", "waiting-for-device",
					     "ended", "failed", "stopped", "expired",
					     "disk full" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *vg_audio_state_name(enum vg_audio_state s)
{
	static const char *const names[] = { "off", "recording", "failed", "ended" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* Sound's state for status (under the lock: control threads read it). */
static void set_audio(struct vg_pipeline *p, enum vg_audio_state s, const char *why)
{
	pthread_mutex_lock(&p->lock);
	p->st.audio = s;
	snprintf(p->st.audio_error, sizeof(p->st.audio_error), "%s", why ? why : "");
	pthread_mutex_unlock(&p->lock);
}

/* ---- queue ---- */

/* The bytes a frame's picture or packet holds (its buffers, padding
 * included). */
static size_t frame_bytes(const struct vg_source_frame *f)
{
	size_t n = 0;

	if (f->frame) {
		for (int i = 0; i < AV_NUM_DATA_POINTERS && f->frame->buf[i]; i++)
			n += f->frame->buf[i]->size;
	} else if (f->packet) {
		n = f->packet->buf ? f->packet->buf->size : (size_t)f->packet->size;
	}
	return n;
}

/* No room for an item of this many bytes. */
static int queue_full(const struct vg_pipeline *p, size_t bytes)
{
	if (p->q_len >= QUEUE_MAX)
		return 1;
	return p->q_len >= QUEUE_MIN && p->q_bytes + bytes > p->q_budget;
}

/* Push an item. Frames from a live source are dropped when the queue is
 * full (capture must never wait); markers, and frames from a source that
 * is not live (an unpaced file), wait for room. */
static void queue_push(struct vg_pipeline *p, struct item *it, int live)
{
	it->bytes = it->kind == ITEM_FRAME ? frame_bytes(&it->f) : 0;
	pthread_mutex_lock(&p->lock);
	if (it->kind == ITEM_START) {
		p->q_budget = QUEUE_WARMUP_BYTES;
		p->warmup_left = WARMUP_FRAMES;
	}
	if (it->kind == ITEM_FRAME && live && queue_full(p, it->bytes)) {
		p->st.frames_dropped++;
		pthread_mutex_unlock(&p->lock);
		vg_source_frame_release(&it->f);
		return;
	}
	while (queue_full(p, it->bytes))
		pthread_cond_wait(&p->cond, &p->lock);
	p->q[(p->q_head + p->q_len) % QUEUE_MAX] = *it;
	p->q_len++;
	p->q_bytes += it->bytes;
	if (p->q_bytes > p->q_peak_bytes)
		p->q_peak_bytes = p->q_bytes;
	if (p->q_len > p->q_peak_len)
		p->q_peak_len = p->q_len;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Pop the next item; 0 when the capture thread is done and all is drained. */
static int queue_pop(struct vg_pipeline *p, struct item *it)
{
	pthread_mutex_lock(&p->lock);
	while (p->q_len == 0 && !p->capture_done)
		pthread_cond_wait(&p->cond, &p->lock);
	if (p->q_len == 0) {
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	*it = p->q[p->q_head];
	p->q_head = (p->q_head + 1) % QUEUE_MAX;
	p->q_len--;
	p->q_bytes -= it->bytes;
	if (it->kind == ITEM_FRAME && p->warmup_left > 0)
		p->warmup_left--;
	if (p->warmup_left == 0 && p->q_budget > QUEUE_BYTES &&
	    p->q_bytes + QUEUE_BYTES < p->q_budget)
		p->q_budget = p->q_bytes + QUEUE_BYTES;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 1;
}

static struct timespec deadline(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Wait up to ms for a stop request; returns 1 if stopping. */
static int wait_stop(struct vg_pipeline *p, int ms)
{
	struct timespec ts = deadline(ms);
	int stop;

	pthread_mutex_lock(&p->lock);
	while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
		;
	stop = p->stop;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

/*
 * After a camera is closed, wait (up to ms) until the encoder thread has
 * taken everything queued before the end marker. A V4L2 camera's frames
 * point into driver buffers, so the device is only really closed when the
 * last of them is released; reopening before that finds it busy
 * (VIDIOC_S_FMT: EBUSY) and would cost a retry interval of footage.
 */
static void wait_released(struct vg_pipeline *p, int ms)
{
	struct timespec ts = deadline(ms);

	pthread_mutex_lock(&p->lock);
	while (!p->stop && p->ends_taken < p->ends_pushed &&
	       pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&p->lock);
}

static int stopping(struct vg_pipeline *p)
{
	int s;

	pthread_mutex_lock(&p->lock);
	s = p->stop;
	pthread_mutex_unlock(&p->lock);
	return s;
}

static void set_state(struct vg_pipeline *p, enum vg_pipeline_state s, const char *err)
{
	pthread_mutex_lock(&p->lock);
	p->st.state = s;
	if (err)
		snprintf(p->st.last_error, sizeof(p->st.last_error), "%s", err);
	pthread_mutex_unlock(&p->lock);
}

static void event(struct vg_pipeline *p, const char *action, const char *detail);

/* ---- capture thread ---- */

static int64_t wall_now(const struct vg_pipeline *p)
{
	return p->env.now ? p->env.now() : vg_time_now_us();
}

/* A temporary camera records until local midnight starting its remove_by
 * date (policy 4.2: the length of time installed is part of the record). */
static int expired(struct vg_pipeline *p)
{
	return p->remove_by_us > 0 && wall_now(p) >= p->remove_by_us;
}

/* Queue an end marker: the encoder closes the session and, if why is not
 * empty, opens a gap with that reason. */
static void push_end(struct vg_pipeline *p, const char *why, int live)
{
	struct item it;

	memset(&it, 0, sizeof(it));
	it.kind = ITEM_END;
	snprintf(it.why, sizeof(it.why), "%s", why);
	queue_push(p, &it, live);
	pthread_mutex_lock(&p->lock);
	p->ends_pushed++;
	pthread_mutex_unlock(&p->lock);
}

static int capture_cancelled(void *ud)
{
	return stopping(ud);
}

static void *capture_main(void *arg)
{
	struct vg_pipeline *p = arg;
	const char *name = p->cam->name;
	struct vg_source *src = NULL;
	int backoff = BACKOFF_MIN_MS;
	int lost = 0;			/* pictures stopped; the encoder has the gap */
	int64_t last_ts = 0, last_frame_mono = 0;
	uint32_t last_seq = 0, step;
	int have_seq = 0, live = 1;
	double interval_us = 0;
	char why[256] = "", last_why[256] = "";

	while (!stopping(p)) {
		struct item it;
		int ret;

		if (expired(p)) {
			vg_warnx("%s: temporary camera reached its remove_by date %s: recording "
				 "stopped (expired, not failed); remove the camera or renew it in "
				 "the configuration", name, p->cam->temporary.remove_by);
			event(p, "camera.expired", p->cam->temporary.remove_by);
			set_state(p, VG_PIPE_EXPIRED, "temporary camera past its remove_by date");
			if (src) {
				vg_source_close(src);
				src = NULL;
			}
			push_end(p, "expired: temporary camera past its remove_by date", live);
			break;
		}
		if (src == NULL) {
			/* Wait for a start-up turn (warmup.h): the encoder
			 * hands it back after its first pictures. */
			if (!vg_warmup_begin(p->env.warmup, &p->warm_turn, capture_cancelled, p))
				break;
			ret = vg_source_open(&src, p->cam, why, sizeof(why));
			if (ret < 0) {
				vg_warmup_end(p->env.warmup, &p->warm_turn);
				/* Log a repeating failure once, until it changes. */
				if (strcmp(why, last_why) != 0)
					vg_warnx("%s: cannot open camera: %s; retrying", name, why);
				snprintf(last_why, sizeof(last_why), "%s", why);
				set_state(p, VG_PIPE_RECONNECTING, why);
				if (!lost) {
					char gap[160];

					snprintf(gap, sizeof(gap), "camera lost: %s", why);
					push_end(p, gap, live);
					lost = 1;
				}
				if (wait_stop(p, backoff))
					break;
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			last_why[0] = '\0';
			backoff = BACKOFF_MIN_MS;
			have_seq = 0;
			memset(&it, 0, sizeof(it));
			it.kind = ITEM_START;
			vg_source_info(src, &it.info);
			live = it.info.live;
			vg_info("%s: recording from %s", name, it.info.label);
			pthread_mutex_lock(&p->lock);
			snprintf(p->st.source, sizeof(p->st.source), "%s", it.info.label);
			pthread_mutex_unlock(&p->lock);
			set_state(p, VG_PIPE_RECORDING, NULL);
			last_frame_mono = vg_time_mono_us();
			queue_push(p, &it, live);
		}

		memset(&it, 0, sizeof(it));
		ret = vg_source_read(src, &it.f, READ_TIMEOUT_MS);
		if (ret == 0) {
			if (lost) {
				event(p, "camera.back", it.f.frame ? "pictures again" : "packets again");
				vg_info("%s: pictures again after %.1f s without", name,
					last_ts ? (double)(it.f.ts_utc_us - last_ts) / 1e6 : 0.0);
				lost = 0;
			}
			pthread_mutex_lock(&p->lock);
			p->st.frames_in++;
			/* Moving average of the capture interval: the rate the
			 * camera really delivers, for status. */
			if (last_ts && it.f.ts_utc_us > last_ts) {
				double dt = (double)(it.f.ts_utc_us - last_ts);

				interval_us = interval_us > 0 ? 0.9 * interval_us + 0.1 * dt : dt;
				p->st.fps = 1e6 / interval_us;
			}
			/* A gap in the source's frame counter is frames it never
			 * gave us (a driver's drops): skipped, not lost by vigild.
			 * Unsigned steps survive the counter's wrap. */
			step = it.f.sequence - last_seq;
			if (have_seq && step > 1 && step < UINT32_C(1) << 31) {
				p->st.frames_skipped += step - 1;
				p->st.frames_dropped += step - 1;
			}
#ifdef VG_TEST_DROP_ONE_IN
			/* Test builds only (-DVG_TEST_DROP_ONE_IN=50): a vigild that
			 * silently loses one delivered frame in N, to show that
			 * tests/e2e/image.sh catches it. Never in a real build. */
			if (p->st.frames_in % VG_TEST_DROP_ONE_IN == 0) {
				pthread_mutex_unlock(&p->lock);
				have_seq = 1;
				last_seq = it.f.sequence;
				vg_source_frame_release(&it.f);
				continue;
			}
#endif
			pthread_mutex_unlock(&p->lock);
			have_seq = 1;
			last_seq = it.f.sequence;
			last_ts = it.f.ts_utc_us;
			last_frame_mono = vg_time_mono_us();
			it.mono_us = last_frame_mono;
			it.kind = ITEM_FRAME;
			queue_push(p, &it, live);
			continue;
		}
		if (ret == -VG_ENODATA) {
			if (vg_time_mono_us() - last_frame_mono <= NO_SIGNAL_US || !live)
				continue;
			/* A live camera silent this long is as good as gone (an
			 * unbound driver may never report an error): reopen it,
			 * so the time without pictures is a catalogued gap. */
			ret = -VG_ENODATA;
		}
		vg_source_close(src);
		src = NULL;
		if (ret == 1) {
			push_end(p, "", live);	/* the stop's gap follows */
			vg_info("%s: end of input", name);
			set_state(p, VG_PIPE_ENDED, NULL);
			break;
		}
		if (ret == -VG_ENODATA)
			snprintf(why, sizeof(why), "camera lost: no picture for %d s",
				 (int)(NO_SIGNAL_US / VG_US_PER_S));
		else
			snprintf(why, sizeof(why), "camera lost: %s", vg_strerror(ret));
		push_end(p, why, live);
		lost = 1;
		wait_released(p, RELEASE_WAIT_MS);
		vg_warnx("%s: %s; reopening", name, why);
		event(p, "camera.lost", why);
		pthread_mutex_lock(&p->lock);
		p->st.reconnects++;
		pthread_mutex_unlock(&p->lock);
		set_state(p, VG_PIPE_RECONNECTING, why);
	}
	if (src) {
		vg_source_close(src);
		push_end(p, "", live);
	}
	pthread_mutex_lock(&p->lock);
	p->capture_done = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- sound ---- */

/* "YYYY-MM-DD" plus one day into next (11 bytes); -VG_EINVAL if malformed. */
static int next_date(const char *date, char next[11])
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int v[3] = { 0, 0, 0 }, widths[3] = { 4, 2, 2 }, pos = 0, dim;

	for (int f = 0; f < 3; f++) {
		for (int i = 0; i < widths[f]; i++, pos++) {
			if (date[pos] < '0' || date[pos] > '9')
				return -VG_EINVAL;
			v[f] = v[f] * 10 + (date[pos] - '0');
		}
		if (f < 2 && date[pos++] != '-')
			return -VG_EINVAL;
	}
	if (date[pos] != '\0' || v[1] < 1 || v[1] > 12)
		return -VG_EINVAL;
	dim = mdays[v[1] - 1];
	if (v[1] == 2 && ((v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0))
		dim = 29;
	if (++v[2] > dim) {
		v[2] = 1;
		if (++v[1] > 12) {
			v[1] = 1;
			v[0]++;
		}
	}
	snprintf(next, 11, "%04d-%02d-%02d", v[0] % 10000, v[1], v[2]);
	return 0;
}

/*
 * Start sound capture if the camera has audio = true and its review date
 * has not passed. Sound is recorded through the whole audio_review_by day
 * (as "vigilctl config check" says: "records sound until DATE") and stops
 * at the local midnight that ends it. Failing to capture sound is logged
 * and costs only the sound.
 */
static void audio_begin(struct vg_pipeline *p)
{
	const struct vg_camera_config *c = p->cam;
	char next[11], why[256];
	int ret;

	if (!c->audio)
		return;
	if (c->audio_review_by == NULL || next_date(c->audio_review_by, next) < 0 ||
	    vg_time_local_date(next, &p->audio_until_us) < 0) {
		vg_errx("%s: sound is off: no valid audio_review_by date", c->name);
		set_audio(p, VG_SOUND_FAILED, "no valid audio_review_by date");
		return;
	}
	if (wall_now(p) >= p->audio_until_us) {
		vg_warnx("%s: sound is off: its review date (audio_review_by = %s) has passed; "
			 "recording video only until the need for sound is reviewed and the "
			 "configuration renewed (policy 3.11)", c->name, c->audio_review_by);
		set_audio(p, VG_SOUND_ENDED, "audio_review_by has passed");
		return;
	}
	p->apkt = av_packet_alloc();
	ret = p->apkt ? vg_audio_start(&p->audio, c->name, c->audio_device, why, sizeof(why))
		      : -VG_ENOMEM;
	if (ret < 0) {
		vg_errx("%s: cannot record sound (%s); recording video only", c->name,
			p->apkt ? why : "out of memory");
		set_audio(p, VG_SOUND_FAILED, p->apkt ? why : "out of memory");
		return;
	}
	set_audio(p, VG_SOUND_RECORDING, NULL);
	vg_info("%s: recording sound from %s until the end of %s (justification: %s)",
		c->name, c->audio_device ? c->audio_device : "alsa:default", c->audio_review_by,
		c->audio_justification);
}

/*
 * On the encoder thread, before each video packet goes to the segmenter:
 * hand it the sound captured so far, or stop sound once its review date
 * has passed. Without a segmenter (before the first keyframe of a
 * session) the sound has no clip to go into and is dropped.
 */
static int feed_audio(struct vg_pipeline *p)
{
	int ret;

	if (p->audio == NULL)
		return 0;
	if (wall_now(p) >= p->audio_until_us) {
		vg_audio_stop(p->audio);
		p->audio = NULL;
		if (p->seg)
			vg_segmenter_audio_end(p->seg);
		vg_warnx("%s: sound is off: its review date (audio_review_by = %s) has passed; "
			 "sound capture stopped, video goes on (policy 3.11)", p->cam->name,
			 p->cam->audio_review_by);
		event(p, "audio.stopped", p->cam->audio_review_by);
		set_audio(p, VG_SOUND_ENDED, "audio_review_by has passed");
		return 0;
	}
	while (vg_audio_pop(p->audio, p->apkt) == 1) {
		ret = p->seg ? vg_segmenter_write_audio(p->seg, p->apkt) : 0;
		av_packet_unref(p->apkt);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- encoder thread ---- */

/* Close the session: the open clip is finished (or, if a write failed,
 * handed to env.recover), then everything is freed. */
static void teardown(struct vg_pipeline *p)
{
	struct vg_segmenter_stats ss;

	if (p->seg) {
		vg_segmenter_finish(p->seg);
		vg_segmenter_stats(p->seg, &ss);
		p->clips_before += ss.clips;
		p->frames_before += ss.frames;
		if (ss.skipped > 0)
			vg_warnx("%s: %lld encoded picture(s) came before any keyframe a clip could "
				 "start on and were not kept", p->cam->name, (long long)ss.skipped);
		pthread_mutex_lock(&p->lock);
		/* The frames the clips hold: a packet given after a failed
		 * write (ss.discarded) or before any keyframe is not one. */
		p->st.clips = p->clips_before;
		p->st.frames_encoded = p->frames_before;
		p->st.clip_path[0] = '\0';
		pthread_mutex_unlock(&p->lock);
		if (ss.abandoned_id > 0 && p->env.recover)
			p->env.recover(p->env.event_ud, ss.abandoned_id);
	}
	vg_segmenter_free(p->seg);
	p->seg = NULL;
	vg_encoder_free(p->enc);
	p->enc = NULL;
	vg_picture_free(p->pic);
	p->pic = NULL;
	p->overlay_lost = 0;
	avcodec_free_context(&p->dec);
}

static void event(struct vg_pipeline *p, const char *action, const char *detail)
{
	if (p->env.event)
		p->env.event(p->env.event_ud, p->cam->name, action, detail);
}

/* ---- the record of recording (pipeline.h) ---- */

/* Footage has stopped: a gap from where the camera's record stops (call
 * after teardown, so that a finished or recovered clip counts), unless
 * one is open already. */
static void record_gap(struct vg_pipeline *p, const char *why)
{
	int64_t from = 0;
	int opened = 0;
	char when[40];

	if (vg_catalog_recorded_until(p->env.cat, p->cam->name, &from) < 0)
		return;
	if (from == 0)		/* never recorded: from now */
		from = wall_now(p);
	if (vg_catalog_gap_ensure(p->env.cat, p->cam->name, from, why, &opened) == 0 && opened) {
		vg_time_format(from, when, sizeof(when));
		vg_info("%s: no footage from %s: %s", p->cam->name, when, why);
	}
}

/* At start: a camera with a record but no open gap was not stopped
 * cleanly; its footage ends where its last (recovered) clip does. */
static void gap_at_start(struct vg_pipeline *p)
{
	int64_t until = 0, away;
	char why[128];

	if (vg_catalog_recorded_until(p->env.cat, p->cam->name, &until) < 0 || until == 0)
		return;
	away = wall_now(p) - until;
	if (away > 7 * 86400 * VG_US_PER_S)
		snprintf(why, sizeof(why), "%s; clock clamp: the clock reads %.0f days later, "
			 "not trusted until confirmed", CRASH_WHY, (double)away / 86400e6);
	else
		snprintf(why, sizeof(why), "%s", CRASH_WHY);
	record_gap(p, why);
}

static void on_clip(void *ud, const struct vg_clip *c)
{
	char detail[760], from[40], to[40], hex[VG_CLIP_ID_HEX_LEN];
	int64_t err_us;
	int synced = vg_clock_synced(&err_us);

	vg_time_format(c->start_us, from, sizeof(from));
	vg_time_format(c->end_us, to, sizeof(to));
	vg_clip_id_hex(c->clip_id, hex);
	/* The clock's state goes into the clip's audit row, and so into the
	 * chain of custody of any export of it. */
	snprintf(detail, sizeof(detail),
		 "clip=%lld clip_id=%s from=%s to=%s frames=%lld file=%s clock=%s esterror_us=%lld",
		 (long long)c->id, hex, from, to, (long long)c->frames, c->path,
		 synced ? "synchronised" : "UNSYNCHRONISED", (long long)err_us);
	event(ud, "clip.create", detail);
}

static int make_segmenter(struct vg_pipeline *p, const AVCodecParameters *par,
			  const char *encoder_name)
{
	const struct vg_camera_config *c = p->cam;
	struct vg_segmenter_params sp = {
		.camera = c->name,
		.data_dir = p->env.data_dir,
		.master = p->env.master,
		.cat = p->env.cat,
		.segment_us = (int64_t)c->segment_seconds * VG_US_PER_S,
		.fragment_us = (int64_t)c->fragment_ms * 1000,
		.codecpar = par,
		.time_base = p->tb,
		.base_utc_us = p->base_utc_us,
		.frame_us = p->frame_us,
		.synthetic = p->info.synthetic,
		.encoder_name = encoder_name,
		.on_clip = on_clip,
		.on_clip_ud = p,
		/* The clip's disk work on a thread of its own: the encoder
		 * never waits on an fsync or the catalog, so the picture
		 * queue only has to ride out the encoder's own pace. */
		.threaded = 1,
	};

	if (p->audio) {
		sp.audio_codecpar = vg_audio_codecpar(p->audio);
		sp.audio_time_base = vg_audio_time_base(p->audio);
		sp.audio_base_utc_us = vg_audio_base_utc(p->audio);
	}

	return vg_segmenter_new(&p->seg, &sp);
}

static int setup_encoder(struct vg_pipeline *p, int width, int height, enum AVPixelFormat fmt)
{
	const struct vg_camera_config *c = p->cam;
	struct vg_encoder_params ep = {
		.encoder = c->encoder,
		.preset = c->preset,
		.crf = c->crf,
		.bitrate_kbps = c->bitrate_kbps,
		.gop = c->gop,
		.width = width,
		.height = height,
		.in_fmt = fmt,
		.fps_num = p->info.fps_num,
		.fps_den = p->info.fps_den,
		.time_base = p->tb,
		.streams = p->env.streams,
	};
	char why[256];
	int ret;

	ret = vg_encoder_open(&p->enc, &ep, why, sizeof(why));
	if (ret < 0) {
		vg_errx("%s: %s", c->name, why);
		return ret;
	}
	vg_info("%s: encoding %dx%d %s with %s", c->name, width, height,
		av_get_pix_fmt_name(fmt), vg_encoder_name(p->enc));
	return 0;
}

static int setup(struct vg_pipeline *p, const struct vg_source_info *info)
{
	int ret = 0;

	p->info = *info;
	if (p->info.fps_num <= 0 || p->info.fps_den <= 0) {
		p->info.fps_num = p->cam->fps_num;
		p->info.fps_den = p->cam->fps_den;
	}
	p->tb = (AVRational){ 1, 90000 };
	p->frame_us = (int64_t)VG_US_PER_S * p->info.fps_den / p->info.fps_num;
	p->base_utc_us = 0;	/* set by the first frame */
	p->last_pts = -1;
	p->broken = 0;

	if (info->codec == AV_CODEC_ID_MJPEG ||
	    (info->codec == AV_CODEC_ID_H264 && vg_picture_needed(p->cam))) {
		const AVCodec *d = avcodec_find_decoder(info->codec);

		if (info->codec == AV_CODEC_ID_H264)
			vg_info("%s: the camera sends H.264, but masks or the overlay must be drawn "
				"into the picture: decoding and re-encoding it", p->cam->name);
		p->dec = d ? avcodec_alloc_context3(d) : NULL;
		if (p->dec == NULL || avcodec_open2(p->dec, d, NULL) < 0) {
			vg_errx("%s: cannot open the %s decoder", p->cam->name,
				avcodec_get_name(info->codec));
			ret = -VG_ECODEC;
		}
		/* The encoder is built at the first decoded picture, whose
		 * pixel format only the decoder knows. */
	} else if (info->codec == AV_CODEC_ID_NONE) {
		ret = setup_encoder(p, info->width, info->height, info->pix_fmt);
	}
	/* H.264 pass-through: the segmenter is built at the first keyframe,
	 * which carries the SPS/PPS the MP4 header needs. */
	if (ret < 0) {
		p->broken = 1;
		set_state(p, VG_PIPE_FAILED, vg_strerror(ret));
		teardown(p);
	}
	return ret;
}

/* Timestamps: capture time relative to the first frame of the session,
 * forced strictly increasing so a clock step never reorders frames. */
static int64_t pts_for(struct vg_pipeline *p, int64_t ts_utc_us)
{
	int64_t pts;

	if (p->last_pts < 0)
		p->base_utc_us = ts_utc_us;
	pts = av_rescale_q(ts_utc_us - p->base_utc_us, (AVRational){ 1, 1000000 }, p->tb);
	if (pts <= p->last_pts)
		pts = p->last_pts + 1;
	p->last_pts = pts;
	return pts;
}

static void count_written(struct vg_pipeline *p)
{
	struct vg_segmenter_stats ss;

	vg_segmenter_stats(p->seg, &ss);
	pthread_mutex_lock(&p->lock);
	/* What the clips took, not what the encoder gave: a packet the
	 * segmenter could not keep (no keyframe to start a clip on) is lost,
	 * and the stop's account says so. */
	p->st.frames_encoded = p->frames_before + ss.frames;
	p->st.clips = p->clips_before + ss.clips;
	snprintf(p->st.clip_path, sizeof(p->st.clip_path), "%s", ss.clip_path);
	p->st.bytes = (int64_t)ss.clip_bytes;
	pthread_mutex_unlock(&p->lock);
}

static int write_packets(struct vg_pipeline *p)
{
	int ret;

	for (;;) {
		ret = vg_encoder_receive(p->enc, p->pkt);
		if (ret == -VG_EAGAIN || ret == 1)
			return 0;
		if (ret < 0)
			return ret;
		ret = feed_audio(p);
		if (ret == 0)
			ret = vg_segmenter_write(p->seg, p->pkt);
		av_packet_unref(p->pkt);
		if (ret < 0)
			return ret;
		count_written(p);
	}
}

static int encode_picture(struct vg_pipeline *p, AVFrame *frame, int64_t ts_utc_us);
static int draw_and_encode(struct vg_pipeline *p, AVFrame *frame, AVFrame **own,
			   int64_t ts_utc_us);

static int encode_frame(struct vg_pipeline *p, AVFrame *frame, int64_t ts_utc_us)
{
	AVFrame *conv = NULL;
	int ret;

	/* Into the encoder's format before the masks and overlay: converted
	 * once, not by drawtext's graph (it cannot draw on yuyv422) and again
	 * by the encoder (encoder.h). Not once the picture stage is built for
	 * another format (a decoded camera's first picture made it). */
	if (p->enc && vg_picture_needed(p->cam) && frame->format != vg_encoder_pix_fmt(p->enc) &&
	    (p->pic == NULL || vg_picture_out_format(p->pic) == vg_encoder_pix_fmt(p->enc))) {
		ret = vg_encoder_convert(p->enc, frame, &conv);
		if (ret < 0)
			return ret;
		frame = conv;
	}
	/* The converted picture is ours alone: drawn on where it is. */
	ret = draw_and_encode(p, frame, conv ? &conv : NULL, ts_utc_us);
	av_frame_free(&conv);
	return ret;
}

/* own: frame is *own, the caller's only reference, which the picture stage
 * may take and draw on; NULL: frame is borrowed (a driver's or the queue's
 * buffer) and is never written. */
static int draw_and_encode(struct vg_pipeline *p, AVFrame *frame, AVFrame **own,
			   int64_t ts_utc_us)
{
	AVFrame *drawn = NULL;
	int ret;

	/* Masks and overlay first: the masked pixels must never reach the
	 * encoder, so they never exist in any clip. */
	if (vg_picture_needed(p->cam) && !p->overlay_lost) {
		if (p->pic == NULL) {
			ret = vg_picture_new(&p->pic, p->cam, frame->width, frame->height,
					     frame->format);
			if (ret < 0 && p->cam->overlay_enabled) {
				/* Footage without its time stamp is still evidence;
				 * no footage is none. Masks are another matter. */
				struct vg_camera_config bare = *p->cam;

				bare.overlay_enabled = 0;
				vg_errx("%s: cannot draw the date/time overlay (%s): recording "
					"without it", p->cam->name, vg_strerror(ret));
				ret = vg_picture_needed(&bare)
					      ? vg_picture_new(&p->pic, &bare, frame->width,
							       frame->height, frame->format)
					      : 0;
			}
			if (ret < 0) {
				/* Never record what the masks should hide. */
				vg_errx("%s: cannot apply the privacy masks to %dx%d %s (%s): not "
					"recording this camera until it is reopened", p->cam->name,
					frame->width, frame->height,
					av_get_pix_fmt_name(frame->format), vg_strerror(ret));
				set_state(p, VG_PIPE_FAILED, "privacy masks cannot be applied");
				p->broken = 1;
				return 0;
			}
		}
		if (p->pic == NULL) {	/* overlay failed, no masks */
			p->overlay_lost = 1;
			return encode_picture(p, frame, ts_utc_us);
		}
		ret = own ? vg_picture_apply_take(p->pic, own, ts_utc_us, &drawn)
			  : vg_picture_apply(p->pic, frame, ts_utc_us, &drawn);
		if (ret < 0)
			return ret;
		frame = drawn;
	}
	ret = encode_picture(p, frame, ts_utc_us);
	av_frame_free(&drawn);
	return ret;
}

/*
 * A snapshot was asked for: keep a copy of frame (the picture as it will be
 * encoded, masks applied) with the mask outlines drawn on the copy only.
 * frame NULL: the camera gives no pictures (H.264 passed through), which
 * the waiting callers learn at once instead of at their timeout.
 */
static void keep_snapshot(struct vg_pipeline *p, const AVFrame *frame)
{
	AVFrame *copy = NULL;
	int ret = -VG_EFORMAT;

	if (frame) {
		copy = av_frame_clone(frame);
		ret = copy ? 0 : -VG_ENOMEM;
	}
	/* Both make the copy writable, i.e. give it a buffer of its own: the
	 * frame going to the encoder is never drawn on, and a driver buffer
	 * is not held while the caller encodes the JPEG. */
	if (ret == 0 && p->pic)
		ret = vg_picture_draw_outlines(p->pic, copy);
	else if (ret == 0 && av_frame_make_writable(copy) < 0)
		ret = -VG_ENOMEM;
	if (ret < 0)
		av_frame_free(&copy);
	pthread_mutex_lock(&p->lock);
	av_frame_free(&p->snap);
	p->snap = copy;
	p->snap_err = ret;
	p->snap_gen++;
	pthread_cond_broadcast(&p->snap_cond);
	pthread_mutex_unlock(&p->lock);
}

static int encode_picture(struct vg_pipeline *p, AVFrame *frame, int64_t ts_utc_us)
{
	int ret;

	/* Every picture that reaches the encoder passes here, after the
	 * picture stage. */
	if (atomic_load_explicit(&p->snap_want, memory_order_relaxed) > 0)
		keep_snapshot(p, frame);
	if (p->enc == NULL) {
		ret = setup_encoder(p, frame->width, frame->height, frame->format);
		if (ret < 0)
			return ret;
	}
	frame->pts = pts_for(p, ts_utc_us);
	/* The segmenter needs the session's base time: the first frame's. */
	if (p->seg == NULL) {
		AVCodecParameters *par = avcodec_parameters_alloc();

		if (par == NULL)
			return -VG_ENOMEM;
		avcodec_parameters_from_context(par, vg_encoder_context(p->enc));
		ret = make_segmenter(p, par, vg_encoder_name(p->enc));
		avcodec_parameters_free(&par);
		if (ret < 0)
			return ret;
	}
	frame->pict_type = vg_segmenter_wants_keyframe(p->seg, ts_utc_us) ? AV_PICTURE_TYPE_I
									  : AV_PICTURE_TYPE_NONE;
	ret = vg_encoder_send(p->enc, frame);
	if (ret < 0)
		return ret;
	return write_packets(p);
}

static int decode_camera(struct vg_pipeline *p, AVPacket *pkt, int64_t ts_utc_us)
{
	int ret = avcodec_send_packet(p->dec, pkt);

	if (ret < 0) {
		/* A corrupt picture from the camera costs that picture, not the clip. */
		pthread_mutex_lock(&p->lock);
		p->st.frames_dropped++;
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	while (avcodec_receive_frame(p->dec, p->decoded) == 0) {
		ret = encode_frame(p, p->decoded, ts_utc_us);
		av_frame_unref(p->decoded);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* H.264 from the camera goes into clips as it is. The first keyframe's
 * in-band SPS/PPS become the MP4 header's extradata. */
static int passthrough(struct vg_pipeline *p, AVPacket *pkt, int64_t ts_utc_us)
{
	int ret;

	if (p->seg == NULL) {
		const AVBitStreamFilter *f = av_bsf_get_by_name("extract_extradata");
		AVBSFContext *bsf = NULL;
		AVCodecParameters *par;
		uint8_t *extra;
		size_t extra_len = 0;

		if (!(pkt->flags & AV_PKT_FLAG_KEY))
			return 0;	/* wait for a keyframe */
		if (f == NULL || av_bsf_alloc(f, &bsf) < 0)
			return -VG_ECODEC;
		bsf->par_in->codec_id = AV_CODEC_ID_H264;
		if (av_bsf_init(bsf) < 0 || av_bsf_send_packet(bsf, pkt) < 0 ||
		    av_bsf_receive_packet(bsf, pkt) < 0) {
			av_bsf_free(&bsf);
			return -VG_ECODEC;
		}
		av_bsf_free(&bsf);
		extra = av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &extra_len);
		if (extra == NULL)
			return 0;	/* no SPS/PPS yet: wait for one that has them */
		par = avcodec_parameters_alloc();
		if (par == NULL)
			return -VG_ENOMEM;
		par->codec_type = AVMEDIA_TYPE_VIDEO;
		par->codec_id = AV_CODEC_ID_H264;
		par->width = p->info.width;
		par->height = p->info.height;
		par->extradata = av_mallocz(extra_len + AV_INPUT_BUFFER_PADDING_SIZE);
		if (par->extradata == NULL) {
			avcodec_parameters_free(&par);
			return -VG_ENOMEM;
		}
		memcpy(par->extradata, extra, extra_len);
		par->extradata_size = (int)extra_len;
		p->last_pts = -1;
		pkt->pts = pts_for(p, ts_utc_us);
		ret = make_segmenter(p, par, "passthrough");
		avcodec_parameters_free(&par);
		if (ret < 0)
			return ret;
		vg_info("%s: camera sends H.264: passing it through without re-encoding",
			p->cam->name);
	} else {
		pkt->pts = pts_for(p, ts_utc_us);
	}
	pkt->dts = pkt->pts;
	ret = feed_audio(p);
	if (ret == 0)
		ret = vg_segmenter_write(p->seg, pkt);
	if (ret == 0)
		count_written(p);
	return ret;
}

/* Stop recording for want of space: finish (or recover) the clip and
 * open the gap; frames are counted until disk_paused says otherwise. */
static void pause_for_disk(struct vg_pipeline *p)
{
	p->paused = 1;
	teardown(p);
	record_gap(p, DISK_FULL_WHY);
	set_state(p, VG_PIPE_DISK_FULL, "disk full: recording paused");
}

/* Below the disk guard's floor: finish the clip, open the gap, and count
 * pictures instead of recording them until the space is back. 1 while
 * paused. */
static int disk_paused(struct vg_pipeline *p)
{
	int full = vg_diskguard_full(p->env.disk);

	if (full && !p->paused) {
		pause_for_disk(p);
	} else if (!full && p->paused) {
		p->paused = 0;
		set_state(p, VG_PIPE_RECORDING, "");
		teardown(p);
		setup(p, &p->info);
	}
	if (p->paused) {
		pthread_mutex_lock(&p->lock);
		p->st.frames_lost++;
		p->st.frames_dropped++;
		pthread_mutex_unlock(&p->lock);
	}
	return p->paused;
}

/* A device's pictures carry the wall clock: if it stepped, the clip ends
 * at the last picture before the step (its timestamps would otherwise be
 * squeezed or stretched), and a step forward leaves a gap: no footage
 * carries those times. */
static void check_clock_step(struct vg_pipeline *p, const struct item *it)
{
	int64_t step;
	char why[128];

	if (!p->info.wall_clock)
		return;
	step = p->last_mono_us > 0 ? (it->f.ts_utc_us - p->last_utc_us) -
					     (it->mono_us - p->last_mono_us) : 0;
	p->last_utc_us = it->f.ts_utc_us;
	p->last_mono_us = it->mono_us;
	if (step <= CLOCK_STEP_US && step >= -CLOCK_STEP_US)
		return;
	vg_warnx("%s: the wall clock stepped %s by %.1f s: the clip ends here and a new one "
		 "starts", p->cam->name, step > 0 ? "forward" : "back", (double)llabs(step) / 1e6);
	teardown(p);
	if (step > 0) {
		snprintf(why, sizeof(why), "clock clamp: the clock stepped forward %.0f s; no "
			 "footage carries those times", (double)step / 1e6);
		record_gap(p, why);
	}
	setup(p, &p->info);
}

static void process_frame(struct vg_pipeline *p, struct item *it)
{
	int ret = 0;

	if (disk_paused(p))
		goto out;
	check_clock_step(p, it);
	if (p->broken)
		goto out;
	if (it->f.frame)
		ret = encode_frame(p, it->f.frame, it->f.ts_utc_us);
	else if (it->f.packet && p->dec)
		ret = decode_camera(p, it->f.packet, it->f.ts_utc_us);
	else if (it->f.packet) {
		if (atomic_load_explicit(&p->snap_want, memory_order_relaxed) > 0)
			keep_snapshot(p, NULL);
		ret = passthrough(p, it->f.packet, it->f.ts_utc_us);
	}
	if (ret == -VG_ENOSPC && p->env.disk != NULL) {
		/* The guard's figures said there was room: trust the write.
		 * The clip is recovered as far as it got; recording pauses. */
		vg_diskguard_no_space(p->env.disk);
		pause_for_disk(p);
	} else if (ret < 0) {
		char why[128];

		/* A codec or write failure: the open clip was abandoned as
		 * far as it got (and is recovered); start afresh at the next
		 * keyframe. */
		vg_errx("%s: recording error: %s; starting a new clip", p->cam->name,
			vg_strerror(ret));
		set_state(p, VG_PIPE_RECORDING, vg_strerror(ret));
		teardown(p);
		snprintf(why, sizeof(why), "recording error: %s", vg_strerror(ret));
		record_gap(p, why);
		setup(p, &p->info);
	}
out:
	vg_source_frame_release(&it->f);
}

static void drain(struct vg_pipeline *p)
{
	if (p->enc && p->seg && vg_encoder_send(p->enc, NULL) == 0)
		write_packets(p);
}

static void *encoder_main(void *arg)
{
	struct vg_pipeline *p = arg;
	struct item it;

	gap_at_start(p);
	while (queue_pop(p, &it)) {
		switch (it.kind) {
		case ITEM_START:
			teardown(p);
			p->warm_frames = 0;
			setup(p, &it.info);
			p->last_mono_us = 0;
			break;
		case ITEM_FRAME:
			process_frame(p, &it);
			if (p->warm_frames < VG_WARMUP_FRAMES &&
			    ++p->warm_frames == VG_WARMUP_FRAMES)
				vg_warmup_end(p->env.warmup, &p->warm_turn);
			break;
		case ITEM_END:
			/* Every frame before the marker has been released: the
			 * capture thread may reopen the camera. */
			pthread_mutex_lock(&p->lock);
			p->ends_taken++;
			pthread_cond_broadcast(&p->cond);
			pthread_mutex_unlock(&p->lock);
			vg_warmup_end(p->env.warmup, &p->warm_turn);
			drain(p);
			teardown(p);
			if (it.why[0] != '\0')
				record_gap(p, it.why);
			break;
		}
	}
	vg_warmup_end(p->env.warmup, &p->warm_turn);
	drain(p);
	teardown(p);
	record_gap(p, p->stop_why[0] ? p->stop_why : STOP_WHY);
	pthread_mutex_lock(&p->lock);
	p->encoder_done = 1;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- lifecycle ---- */

int vg_pipeline_start(struct vg_pipeline **out, const struct vg_camera_config *cam,
		      const struct vg_pipeline_env *env)
{
	struct vg_pipeline *p;
	char tname[16];

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -VG_ENOMEM;
	p->cam = cam;
	/* The date is parsed once: the check runs before every picture. */
	if (!cam->is_temporary || cam->temporary.remove_by == NULL ||
	    vg_time_local_date(cam->temporary.remove_by, &p->remove_by_us) < 0)
		p->remove_by_us = 0;
	p->env = *env;
	p->pkt = av_packet_alloc();
	p->decoded = av_frame_alloc();
	if (p->pkt == NULL || p->decoded == NULL) {
		av_packet_free(&p->pkt);
		av_frame_free(&p->decoded);
		free(p);
		return -VG_ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->q_budget = QUEUE_BYTES;
	pthread_cond_init(&p->cond, NULL);
	pthread_cond_init(&p->snap_cond, NULL);
	atomic_init(&p->snap_want, 0);
	p->st.state = VG_PIPE_STARTING;
	audio_begin(p);

	if (pthread_create(&p->enc_thread, NULL, encoder_main, p) != 0)
		goto err;
	if (pthread_create(&p->cap_thread, NULL, capture_main, p) != 0) {
		pthread_mutex_lock(&p->lock);
		p->capture_done = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->enc_thread, NULL);
		goto err;
	}
	/* Thread names show up in top and in core dumps. */
	snprintf(tname, sizeof(tname), "cap:%.11s", cam->name);
	pthread_setname_np(p->cap_thread, tname);
	snprintf(tname, sizeof(tname), "enc:%.11s", cam->name);
	pthread_setname_np(p->enc_thread, tname);
	p->threads_started = 1;
	*out = p;
	return 0;
err:
	vg_audio_stop(p->audio);
	av_packet_free(&p->apkt);
	av_packet_free(&p->pkt);
	av_frame_free(&p->decoded);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	pthread_cond_destroy(&p->snap_cond);
	free(p);
	return -VG_ENOMEM;
}

void vg_pipeline_stop(struct vg_pipeline *p)
{
	vg_pipeline_stop_because(p, STOP_WHY);
}

void vg_pipeline_stop_because(struct vg_pipeline *p, const char *why)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	snprintf(p->stop_why, sizeof(p->stop_why), "%s", why ? why : STOP_WHY);
	p->stop = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_cond_broadcast(&p->snap_cond);
	pthread_mutex_unlock(&p->lock);
	vg_warmup_wake(p->env.warmup);	/* a capture thread waiting for its turn */
	pthread_join(p->cap_thread, NULL);
	pthread_join(p->enc_thread, NULL);
	/* Every frame the source gave is encoded or was lost here: the
	 * figures a test holds vigild to (the driver's own count is logged by
	 * the source at close). */
	vg_info("%s: stopped: %lld frames from the source (%lld more skipped by it: gaps in "
		"its sequence numbers), %lld encoded into clips, %lld lost by vigild",
		p->cam->name, (long long)p->st.frames_in, (long long)p->st.frames_skipped,
		(long long)p->st.frames_encoded, (long long)(p->st.frames_in - p->st.frames_encoded));
	vg_info("%s: the picture queue held at most %d pictures, %.1f MB", p->cam->name,
		p->q_peak_len, (double)p->q_peak_bytes / 1e6);
	vg_audio_stop(p->audio);
	av_packet_free(&p->apkt);
	av_packet_free(&p->pkt);
	av_frame_free(&p->decoded);
	av_frame_free(&p->snap);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	pthread_cond_destroy(&p->snap_cond);
	free(p);
}

void vg_pipeline_status(struct vg_pipeline *p, struct vg_pipeline_status *st)
{
	pthread_mutex_lock(&p->lock);
	*st = p->st;
	pthread_mutex_unlock(&p->lock);
}

int vg_pipeline_done(struct vg_pipeline *p)
{
	int done;

	pthread_mutex_lock(&p->lock);
	/* Only the end of a file's input ends the daemon; an expired
	 * temporary camera just stops, and the others go on. */
	done = p->encoder_done && p->st.state == VG_PIPE_ENDED;
	pthread_mutex_unlock(&p->lock);
	return done;
}

/* ---- snapshots ---- */

/* The planar layout of f's format and whether its samples are full range
 * (the deprecated yuvj formats say so by name; swscale would warn about
 * them, so it gets the plain format). */
static enum AVPixelFormat plain_format(const AVFrame *f, int *full)
{
	*full = 1;
	switch (f->format) {
	case AV_PIX_FMT_YUVJ420P:
		return AV_PIX_FMT_YUV420P;
	case AV_PIX_FMT_YUVJ422P:
		return AV_PIX_FMT_YUV422P;
	case AV_PIX_FMT_YUVJ444P:
		return AV_PIX_FMT_YUV444P;
	case AV_PIX_FMT_YUVJ440P:
		return AV_PIX_FMT_YUV440P;
	default:
		*full = f->color_range == AVCOL_RANGE_JPEG;
		return f->format;
	}
}

/* Stretch limited-range (video) samples to full range (JPEG), in place:
 * luma 16..235 and chroma 16..240 to 0..255. */
static void expand_range(AVFrame *f)
{
	uint8_t luma[256], chroma[256];

	for (int v = 0; v < 256; v++) {
		int y = ((v - 16) * 255 + 109) / 219;
		int c = 128 + ((v - 128) * 255 + (v >= 128 ? 112 : -112)) / 224;

		luma[v] = (uint8_t)(y < 0 ? 0 : y > 255 ? 255 : y);
		chroma[v] = (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : c);
	}
	for (int plane = 0; plane < 3; plane++) {
		const uint8_t *lut = plane == 0 ? luma : chroma;
		int w = plane == 0 ? f->width : (f->width + 1) / 2;
		int h = plane == 0 ? f->height : (f->height + 1) / 2;

		for (int y = 0; y < h; y++) {
			uint8_t *row = f->data[plane] + (ptrdiff_t)y * f->linesize[plane];

			for (int x = 0; x < w; x++)
				row[x] = lut[row[x]];
		}
	}
}

/* in as a new full-range 4:2:0 frame for the JPEG encoder, in *out. */
static int to_yuvj420p(const AVFrame *in, AVFrame **out)
{
	struct SwsContext *sws = NULL;
	AVFrame *f = NULL;
	enum AVPixelFormat src;
	int full, ret = -VG_ENOMEM;

	*out = NULL;
	src = plain_format(in, &full);
	sws = sws_getContext(in->width, in->height, src, in->width, in->height,
			     AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
	if (sws == NULL) {
		ret = -VG_EFORMAT;
		goto out;
	}
	f = av_frame_alloc();
	if (f == NULL)
		goto out;
	f->format = AV_PIX_FMT_YUV420P;
	f->width = in->width;
	f->height = in->height;
	if (av_frame_get_buffer(f, 0) < 0)
		goto out;
	/* Layout only: swscale's plain copy (yuv420p to yuv420p) would
	 * ignore a range change, so the range is stretched here. */
	sws_scale(sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height, f->data,
		  f->linesize);
	if (!full)
		expand_range(f);
	/* Same layout; the name tells the encoder the samples are full range. */
	f->format = AV_PIX_FMT_YUVJ420P;
	f->color_range = AVCOL_RANGE_JPEG;
	*out = f;
	f = NULL;
	ret = 0;
out:
	av_frame_free(&f);
	sws_freeContext(sws);
	return ret;
}

/* Encode pic (owned by the caller, not changed) as one JPEG into *out. */
static int encode_jpeg(const AVFrame *pic, AVPacket **out)
{
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *ctx = NULL;
	AVFrame *f = NULL;
	AVPacket *pkt = NULL;
	int ret = -VG_ECODEC;

	*out = NULL;
	if (codec == NULL)
		goto out;
	ctx = avcodec_alloc_context3(codec);
	pkt = av_packet_alloc();
	if (ctx == NULL || pkt == NULL) {
		ret = -VG_ENOMEM;
		goto out;
	}
	if (pic->format == AV_PIX_FMT_YUVJ420P) {
		f = av_frame_clone(pic);
		ret = f ? 0 : -VG_ENOMEM;
	} else {
		ret = to_yuvj420p(pic, &f);
	}
	if (ret < 0)
		goto out;
	ctx->width = f->width;
	ctx->height = f->height;
	ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
	ctx->color_range = AVCOL_RANGE_JPEG;
	ctx->time_base = (AVRational){ 1, 25 };
	/* A fixed, high quality: installers judge masks and focus by it. */
	ctx->flags |= AV_CODEC_FLAG_QSCALE;
	ctx->global_quality = 2 * FF_QP2LAMBDA;
	f->quality = ctx->global_quality;
	f->pts = 0;
	f->pict_type = AV_PICTURE_TYPE_I;
	ret = -VG_ECODEC;
	if (avcodec_open2(ctx, codec, NULL) < 0 || avcodec_send_frame(ctx, f) < 0 ||
	    avcodec_send_frame(ctx, NULL) < 0 || avcodec_receive_packet(ctx, pkt) < 0)
		goto out;
	*out = pkt;
	pkt = NULL;
	ret = 0;
out:
	av_packet_free(&pkt);
	av_frame_free(&f);
	avcodec_free_context(&ctx);
	return ret;
}

int vg_pipeline_snapshot(struct vg_pipeline *p, int timeout_ms, AVPacket **jpeg)
{
	struct timespec ts;
	AVFrame *pic = NULL;
	int64_t gen;
	int ret = 0;

	*jpeg = NULL;
	if (timeout_ms < 0)
		return -VG_EINVAL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	/* Only a picture encoded after this call counts: "current". */
	gen = p->snap_gen;
	atomic_fetch_add(&p->snap_want, 1);
	while (p->snap_gen == gen && !p->stop && ret == 0)
		ret = pthread_cond_timedwait(&p->snap_cond, &p->lock, &ts);
	if (p->snap_gen != gen) {
		ret = p->snap_err;
		if (ret == 0) {
			pic = av_frame_clone(p->snap);
			ret = pic ? 0 : -VG_ENOMEM;
		}
	} else {
		ret = -VG_ENODATA;
	}
	/* The last caller out frees the kept picture: nothing of the
	 * footage stays in memory longer than a request needs it. */
	if (atomic_fetch_sub(&p->snap_want, 1) == 1)
		av_frame_free(&p->snap);
	pthread_mutex_unlock(&p->lock);
	if (ret == 0)
		ret = encode_jpeg(pic, jpeg);
	av_frame_free(&pic);
	return ret;
}
