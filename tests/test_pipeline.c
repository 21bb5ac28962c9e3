/*
 * test_pipeline.c - one camera's whole recording path with an injected
 * wall clock: a temporary camera stops at its remove_by date, is reported
 * as expired (not failed), and its last clip is closed cleanly; sound stops
 * at its review date while the pictures go on.
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
#include "vigil/clipmedia.h"
#include "vigil/diskguard.h"
#include "vigil/err.h"
#include "vigil/pipeline.h"
#include "vigil/timeutil.h"
#include "vigil/warmup.h"

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

static int last_gap(const struct vg_gap *g, void *ud)
{
	*(struct vg_gap *)ud = *g;
	return 0;
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

	/* Exactly the pictures taken before the date, all in closed clips,
	 * and from the last one's end a gap that says why. */
	assert_int_equal(vg_catalog_clips(cat, "temp", 0, 0, add_frames, NULL), 0);
	assert_int_equal(total_frames, FRAMES_BEFORE_EXPIRY);
	{
		struct vg_gap g;

		memset(&g, 0, sizeof(g));
		assert_int_equal(vg_catalog_gaps(cat, "temp", 0, 0, last_gap, &g), 0);
		assert_int_equal(strncmp(g.reason, "expired", 7), 0);
		assert_int_equal(g.to_us, 0);
	}
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

/* ---- sound past its review date ---- */

#define FPS 10
#define FRAME_US (VG_US_PER_S / FPS)
#define AAC_FRAME_US (1024 * VG_US_PER_S / 48000 + 1)
/* How far before the instant the date passed the clip's sound may end: the
 * encoder thread takes the sound captured so far once per picture, and
 * the AAC encoder holds back two frames. */
#define SOUND_END_SLACK_US (VG_US_PER_S / 2)

static int64_t review_end_us;		/* midnight ending audio_review_by */
static _Atomic int64_t switch_at_us;	/* real instant the fake clock passes it */

/* The real clock, moved so that the real instant switch_at_us is the end of
 * the sound's review date: before the test sets it, far before the date. */
static int64_t clock_passing_review(void)
{
	return review_end_us + (vg_time_now_us() - atomic_load(&switch_at_us));
}

static atomic_int n_audio_stopped;

static void on_audio_event(void *ud, const char *camera, const char *action,
			   const char *detail)
{
	(void)ud;
	(void)camera;
	(void)detail;
	if (strcmp(action, "audio.stopped") == 0)
		atomic_fetch_add(&n_audio_stopped, 1);
}

struct cliplist {
	struct vg_clip c[64];
	int n;
};

static int collect_clip(const struct vg_clip *c, void *ud)
{
	struct cliplist *l = ud;

	if (l->n < 64)
		l->c[l->n++] = *c;
	return 0;
}

static int count_gap(const struct vg_gap *g, void *ud)
{
	(void)g;
	(*(int *)ud)++;
	return 0;
}

/* A clip read back through the decryptor: its streams, and when its
 * pictures and sound are (UTC). */
struct clipsound {
	int audio_streams;
	int64_t frames;
	int64_t audio_packets;
	int64_t first_audio, last_audio, audio_end;
};

static void read_clip(const char *dir, const uint8_t *master, const struct vg_clip *c,
		      struct clipsound *cs)
{
	const AVRational us = { 1, 1000000 };
	struct vg_clipmedia *m;
	AVFormatContext *fmt;
	AVPacket *pkt = av_packet_alloc();
	char path[700];

	memset(cs, 0, sizeof(*cs));
	snprintf(path, sizeof(path), "%s/%s", dir, c->path);
	assert_int_equal(vg_clipmedia_open(&m, path, master, c->wrapped_key, &fmt), 0);
	for (unsigned i = 0; i < fmt->nb_streams; i++)
		cs->audio_streams += fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
	while (av_read_frame(fmt, pkt) == 0) {
		const AVStream *st = fmt->streams[pkt->stream_index];
		int64_t utc = c->start_us + av_rescale_q(pkt->pts, st->time_base, us);

		if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
			cs->frames++;
		} else {
			if (cs->audio_packets++ == 0)
				cs->first_audio = utc;
			cs->last_audio = utc;
			cs->audio_end = utc + av_rescale_q(pkt->duration, st->time_base, us);
		}
		av_packet_unref(pkt);
	}
	assert_int_equal(vg_clipmedia_status(m), 0);
	vg_clipmedia_close(m);
	av_packet_free(&pkt);
}

/* Poll the pipeline's status (bounded, 30 s) until clips >= n_clips and
 * frames_encoded >= n_frames. */
static void wait_for(struct vg_pipeline *p, int64_t n_clips, int64_t n_frames,
		     struct vg_pipeline_status *st)
{
	for (int i = 0; i < 3000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		vg_pipeline_status(p, st);
		if (st->clips >= n_clips && st->frames_encoded >= n_frames)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("pipeline did not reach %lld clips, %lld frames (state %s, %lld clips, "
		 "%lld frames)", (long long)n_clips, (long long)n_frames,
		 vg_pipeline_state_name(st->state), (long long)st->clips,
		 (long long)st->frames_encoded);
}

/*
 * A camera records pictures and sound (paced in real time, as a camera and
 * a microphone would); part way through its second clip the injected clock
 * passes the end of audio_review_by. The clips before hold sound all
 * through; the clip open at that instant holds sound up to it and not
 * after, and pictures on to its end; the clips after are pictures only; the
 * pictures run on without a gap throughout.
 */
static void test_sound_stops_at_review_date(void **state)
{
	char dir[] = "/tmp/vigil-pipe.XXXXXX", db[64], cmd[96];
	char switch_clip[512];
	uint8_t master[32];
	struct vg_catalog *cat;
	struct vg_pipeline *p;
	struct vg_pipeline_status st;
	struct vg_camera_config cam;
	struct cliplist l = { .n = 0 };
	int64_t clips_before, switch_at;
	int s = -1, gaps = 0;
	struct vg_gap gap;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/catalog.db", dir);
	memset(master, 9, sizeof(master));
	assert_int_equal(vg_catalog_open(&cat, db), 0);
	/* Sound is recorded through the whole review day. */
	assert_int_equal(vg_time_local_date("2030-01-02", &review_end_us), 0);
	atomic_store(&switch_at_us, INT64_MAX / 4);

	memset(&cam, 0, sizeof(cam));
	cam.name = "loud";
	cam.enabled = 1;
	cam.kind = VG_SOURCE_SYNTHETIC;
	cam.device = "synthetic";
	cam.file_realtime = 1;	/* paced like the (real-time) sound */
	cam.width = 160;
	cam.height = 120;
	cam.fps_num = FPS;
	cam.fps_den = 1;
	cam.encoder = "libx264";
	cam.preset = "ultrafast";
	cam.crf = 30;
	cam.gop = FPS;
	cam.segment_seconds = 2;
	cam.fragment_ms = 500;
	cam.audio = 1;
	cam.audio_device = "synthetic";
	cam.audio_justification = "unit test of the sound review date";
	cam.audio_review_by = "2030-01-01";

	struct vg_pipeline_env env = {
		.data_dir = dir, .master = master, .cat = cat, .event = on_audio_event,
		.now = clock_passing_review,
	};
	assert_int_equal(vg_pipeline_start(&p, &cam, &env), 0);
	/* Half a second into the second clip, the date passes. */
	wait_for(p, 1, 0, &st);
	wait_for(p, 1, st.frames_encoded + FPS / 2, &st);
	assert_int_equal(st.state, VG_PIPE_RECORDING);
	clips_before = st.clips;
	snprintf(switch_clip, sizeof(switch_clip), "%s", st.clip_path);
	assert_true(switch_clip[0] != '\0');
	switch_at = vg_time_now_us();
	atomic_store(&switch_at_us, switch_at);
	/* Until that clip and a whole one after it are complete. */
	wait_for(p, clips_before + 2, 0, &st);
	assert_int_equal(st.state, VG_PIPE_RECORDING);
	vg_pipeline_stop(p);
	assert_int_equal(atomic_load(&n_audio_stopped), 1);

	assert_int_equal(vg_catalog_clips(cat, "loud", 0, 0, collect_clip, &l), 0);
	assert_true(l.n >= clips_before + 3);	/* the last one closed at stop */
	for (int i = 0; i < l.n; i++)
		if (strcmp(l.c[i].path, switch_clip) == 0)
			s = i;
	assert_int_equal(s, clips_before);
	assert_true(l.c[s].start_us < switch_at && switch_at < l.c[s].end_us);

	for (int i = 0; i < l.n; i++) {
		struct clipsound cs;

		read_clip(dir, master, &l.c[i], &cs);
		print_message("clip %d: %+lld..%+lld ms of the switch, %lld frames, %lld audio "
			      "packets (%+lld..%+lld ms)\n", i,
			      (long long)(l.c[i].start_us - switch_at) / 1000,
			      (long long)(l.c[i].end_us - switch_at) / 1000,
			      (long long)cs.frames, (long long)cs.audio_packets,
			      cs.audio_packets ? (long long)(cs.first_audio - switch_at) / 1000 : 0,
			      cs.audio_packets ? (long long)(cs.audio_end - switch_at) / 1000 : 0);
		/* Pictures: every one, back to back across the clips. */
		assert_int_equal(l.c[i].state, VG_CLIP_COMPLETE);
		assert_int_equal(cs.frames, l.c[i].frames);
		assert_int_equal(l.c[i].end_us - l.c[i].start_us, l.c[i].frames * FRAME_US);
		if (i > 0)
			assert_int_equal(l.c[i].start_us, l.c[i - 1].end_us);
		if (i > s) {
			/* After the date: no sound at all. */
			assert_int_equal(cs.audio_streams, 0);
			assert_int_equal(cs.audio_packets, 0);
			continue;
		}
		/* Before it: sound from the clip's first picture... */
		assert_int_equal(cs.audio_streams, 1);
		assert_true(cs.audio_packets > 0);
		assert_in_range(cs.first_audio - l.c[i].start_us, 0, AAC_FRAME_US);
		if (i < s) {
			/* ...to its end... */
			assert_in_range(cs.audio_end - l.c[i].end_us + AAC_FRAME_US, 0,
					2 * AAC_FRAME_US);
		} else {
			/* ...or up to the instant the date passed, none after. */
			assert_true(cs.last_audio < switch_at);
			assert_true(cs.audio_end > switch_at - SOUND_END_SLACK_US);
		}
	}
	/* No gap while it recorded; stopping opens one where the last clip
	 * ends, for the next start's first clip to close. */
	assert_int_equal(vg_catalog_gaps(cat, "loud", 0, 0, count_gap, &gaps), 0);
	assert_int_equal(gaps, 1);
	assert_int_equal(vg_catalog_gaps(cat, "loud", 0, 0, last_gap, &gap), 0);
	assert_int_equal(gap.from_us, l.c[l.n - 1].end_us);
	assert_int_equal(gap.to_us, 0);
	assert_string_equal(gap.reason, "vigild stopped");

	vg_catalog_close(cat);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- a full disk ---- */

static _Atomic uint64_t fake_avail;
static _Atomic int64_t fake_mono;

static int fake_space(void *ud, const char *path, uint64_t *total, uint64_t *avail)
{
	(void)ud;
	(void)path;
	*total = UINT64_C(1) << 30;
	*avail = atomic_load(&fake_avail);
	return 0;
}

/* Every look is a fresh one. */
static int64_t fake_mono_us(void *ud)
{
	(void)ud;
	return atomic_fetch_add(&fake_mono, VG_DISKGUARD_CHECK_US);
}

struct record {
	struct vg_gap g[8];
	int ng;
};

static int rec_gap(const struct vg_gap *g, void *ud)
{
	struct record *r = ud;

	if (r->ng < 8)
		r->g[r->ng++] = *g;
	return 0;
}

static void wait_state(struct vg_pipeline *p, enum vg_pipeline_state want, int64_t min_clips,
		       struct vg_pipeline_status *st)
{
	for (int i = 0; i < 3000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		vg_pipeline_status(p, st);
		if (st->state == want && st->clips >= min_clips)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("state %s, %lld clips; waited for %s and %lld", vg_pipeline_state_name(st->state),
		 (long long)st->clips, vg_pipeline_state_name(want), (long long)min_clips);
}

/*
 * Below the disk guard's floor the camera finishes its clip and pauses:
 * state "disk full", pictures counted as lost, a "disk full" gap from the
 * clip's end. When the space is back it records again, and its first new
 * clip closes the gap at its start: clips and gaps cover the time with no
 * hole (pictures carry their nominal times, so the time is exact).
 */
static void test_disk_full_pauses_with_a_gap(void **state)
{
	char dir[] = "/tmp/vigil-pipe.XXXXXX", db[64], cmd[96];
	uint8_t master[32];
	struct vg_catalog *cat;
	struct vg_pipeline *p;
	struct vg_pipeline_status st;
	struct vg_camera_config cam;
	struct vg_diskguard *disk;
	struct vg_diskguard_clock dclk = { .space = fake_space, .now_mono_us = fake_mono_us };
	struct record r = { .ng = 0 };
	struct cliplist l = { .n = 0 };
	int64_t lost, clips;
	int holes = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/catalog.db", dir);
	memset(master, 5, sizeof(master));
	assert_int_equal(vg_catalog_open(&cat, db), 0);
	atomic_store(&fake_avail, UINT64_C(1) << 29);
	atomic_store(&fake_mono, 1);
	assert_int_equal(vg_diskguard_new(&disk, dir, 64 << 20, 0, &dclk), 0);

	memset(&cam, 0, sizeof(cam));
	cam.name = "full";
	cam.enabled = 1;
	cam.kind = VG_SOURCE_SYNTHETIC;
	cam.device = "synthetic";
	cam.file_realtime = 0;	/* unpaced */
	cam.width = 160;
	cam.height = 120;
	cam.fps_num = FPS;
	cam.fps_den = 1;
	cam.encoder = "libx264";
	cam.preset = "ultrafast";
	cam.crf = 30;
	cam.gop = FPS;
	cam.segment_seconds = 2;
	cam.fragment_ms = 500;

	struct vg_pipeline_env env = { .data_dir = dir, .master = master, .cat = cat,
				       .disk = disk };
	assert_int_equal(vg_pipeline_start(&p, &cam, &env), 0);
	wait_state(p, VG_PIPE_RECORDING, 2, &st);
	atomic_store(&fake_avail, UINT64_C(16) << 20);	/* below the 32 MiB floor */
	wait_state(p, VG_PIPE_DISK_FULL, 0, &st);
	clips = st.clips;
	wait_state(p, VG_PIPE_DISK_FULL, 0, &st);
	for (int i = 0; i < 3000 && st.frames_lost < 3 * FPS; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		vg_pipeline_status(p, &st);
	}
	lost = st.frames_lost;
	assert_true(lost >= 3 * FPS);
	assert_true(st.frames_dropped >= lost);
	assert_int_equal(st.clips, clips);	/* nothing recorded meanwhile */
	assert_int_equal(vg_catalog_gaps(cat, "full", 0, 0, rec_gap, &r), 0);
	assert_int_equal(r.ng, 1);
	assert_int_equal(r.g[0].to_us, 0);
	assert_non_null(strstr(r.g[0].reason, "disk full"));

	atomic_store(&fake_avail, UINT64_C(64) << 20);	/* back at min_free */
	wait_state(p, VG_PIPE_RECORDING, clips + 1, &st);
	vg_pipeline_stop(p);

	r.ng = 0;
	assert_int_equal(vg_catalog_clips(cat, "full", 0, 0, collect_clip, &l), 0);
	assert_int_equal(vg_catalog_gaps(cat, "full", 0, 0, rec_gap, &r), 0);
	assert_int_equal(r.ng, 2);
	/* the disk-full gap: from the end of the clip before it to the start
	 * of the clip after it, which holds none of the lost pictures */
	for (int i = 1; i < l.n; i++) {
		assert_int_equal(l.c[i].state, VG_CLIP_COMPLETE);
		if (l.c[i].start_us == l.c[i - 1].end_us)
			continue;
		holes++;
		assert_int_equal(r.g[0].from_us, l.c[i - 1].end_us);
		assert_int_equal(r.g[0].to_us, l.c[i].start_us);
		assert_true(l.c[i].start_us - l.c[i - 1].end_us >= lost * FRAME_US);
	}
	assert_int_equal(holes, 1);
	assert_string_equal(r.g[1].reason, "vigild stopped");
	assert_int_equal(r.g[1].from_us, l.c[l.n - 1].end_us);

	vg_catalog_close(cat);
	vg_diskguard_free(disk);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Two cameras with one start-up turn between them (warmup.h) and a stall
 * time no test reaches: the second records only because the first hands
 * its turn back after its first pictures, and once both record no turn is
 * held.
 */
static void test_cameras_take_turns_to_start(void **state)
{
	char dir[] = "/tmp/vigil-pipe.XXXXXX", db[64], cmd[96];
	uint8_t master[32];
	struct vg_catalog *cat;
	struct vg_pipeline *p[2];
	struct vg_pipeline_status st[2];
	struct vg_camera_config cam[2];
	struct vg_warmup *gate = vg_warmup_new(1, 600000);
	const int64_t want = 3 * VG_WARMUP_FRAMES;
	int i;

	(void)state;
	assert_non_null(gate);
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/catalog.db", dir);
	memset(master, 3, sizeof(master));
	assert_int_equal(vg_catalog_open(&cat, db), 0);
	for (i = 0; i < 2; i++) {
		memset(&cam[i], 0, sizeof(cam[i]));
		cam[i].name = i ? "second" : "first";
		cam[i].enabled = 1;
		cam[i].kind = VG_SOURCE_SYNTHETIC;
		cam[i].device = "synthetic";
		cam[i].file_realtime = 0;	/* unpaced */
		cam[i].width = 160;
		cam[i].height = 120;
		cam[i].fps_num = FPS;
		cam[i].fps_den = 1;
		cam[i].encoder = "libx264";
		cam[i].preset = "ultrafast";
		cam[i].crf = 30;
		cam[i].gop = FPS;
		cam[i].segment_seconds = 60;
		cam[i].fragment_ms = 500;
	}
	struct vg_pipeline_env env = { .data_dir = dir, .master = master, .cat = cat,
				       .warmup = gate, .streams = 2 };
	for (i = 0; i < 2; i++)
		assert_int_equal(vg_pipeline_start(&p[i], &cam[i], &env), 0);
	for (int n = 0; n < 3000; n++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		vg_pipeline_status(p[0], &st[0]);
		vg_pipeline_status(p[1], &st[1]);
		if (st[0].frames_encoded >= want && st[1].frames_encoded >= want)
			break;
		nanosleep(&ts, NULL);
	}
	assert_true(st[0].frames_encoded >= want);
	assert_true(st[1].frames_encoded >= want);
	assert_int_equal(vg_warmup_busy(gate), 0);
	assert_int_equal(vg_warmup_waiting(gate), 0);
	for (i = 0; i < 2; i++)
		vg_pipeline_stop(p[i]);
	assert_int_equal(vg_warmup_busy(gate), 0);
	vg_warmup_free(gate);
	vg_catalog_close(cat);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_temporary_camera_expires),
		cmocka_unit_test(test_sound_stops_at_review_date),
		cmocka_unit_test(test_disk_full_pauses_with_a_gap),
		cmocka_unit_test(test_cameras_take_turns_to_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
