/*
 * test_segmenter.c - encoder + segmenter + clip container + catalog,
 * without a daemon: frames made in memory go in, clips come out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#include "vigil/catalog.h"
#include "vigil/clipmedia.h"
#include "vigil/encoder.h"
#include "vigil/err.h"
#include "vigil/segmenter.h"
#include "vigil/timeutil.h"

#define W 160
#define H 120
#define FPS 10
#define FRAME_US (VG_US_PER_S / FPS)

/* Sound for the audio tests: not the 48 kHz mono vg_audio makes, so the
 * clip's audio parameters can only have come from the ones given. */
#define A_RATE 44100
#define A_CH 2
#define A_FRAME 1024		/* samples in an AAC frame */
#define A_FRAME_US ((int64_t)A_FRAME * VG_US_PER_S / A_RATE + 1)
#define A_MAX 512		/* audio packets kept per test (about 12 s) */
/* Sound capture started this long before the first picture. */
#define A_LEAD_US 15000

struct fixture {
	char dir[64];
	char db[128];
	uint8_t master[VG_MASTER_KEY_LEN];
	struct vg_catalog *cat;
	struct vg_encoder *enc;
	struct vg_segmenter *seg;
	AVFrame *frame;
	AVPacket *pkt;
	int64_t base;

	/* Sound (setup_audio only): an AAC encoder, and a copy of every
	 * packet handed to the segmenter, in order. */
	AVCodecContext *aenc;
	AVFrame *aframe;
	AVPacket *apkt;
	int64_t abase;			/* audio pts 0 as UTC */
	int64_t asamples;		/* samples given to the AAC encoder */
	AVPacket *given[A_MAX];
	int n_given;
};

/* libavcodec's native AAC encoder at A_RATE Hz, A_CH channels. */
static void open_aac(struct fixture *f)
{
	const AVCodec *c = avcodec_find_encoder_by_name("aac");

	assert_non_null(c);
	f->aenc = avcodec_alloc_context3(c);
	assert_non_null(f->aenc);
	f->aenc->sample_rate = A_RATE;
	f->aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
	av_channel_layout_default(&f->aenc->ch_layout, A_CH);
	f->aenc->bit_rate = 96000;
	f->aenc->time_base = (AVRational){ 1, A_RATE };
	f->aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	assert_int_equal(avcodec_open2(f->aenc, c, NULL), 0);
	assert_int_equal(f->aenc->frame_size, A_FRAME);
	f->aframe = av_frame_alloc();
	f->aframe->format = AV_SAMPLE_FMT_FLTP;
	f->aframe->sample_rate = A_RATE;
	f->aframe->nb_samples = A_FRAME;
	av_channel_layout_default(&f->aframe->ch_layout, A_CH);
	assert_int_equal(av_frame_get_buffer(f->aframe, 0), 0);
	f->apkt = av_packet_alloc();
	f->abase = INT64_C(1790000000) * VG_US_PER_S - A_LEAD_US;
}

/* The GOP of the clips tests: clips of 3 s hold 30 frames, i.e. one GOP
 * and a half, so a clip's keyframes are its forced first one and one x264
 * places itself. */
#define GOP (2 * FPS)

/* delayed: an encoder that holds pictures back before their packets come
 * out (frame threads and a lookahead, as vigild's cameras run), so that
 * pictures go in after the one forced to cut a clip and before its packet
 * reaches the segmenter. */
static int setup_common(void **state, int audio, int delayed, int threaded)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vg_encoder_params ep = {
		.encoder = "libx264", .preset = "ultrafast", .crf = 30, .gop = GOP,
		.width = W, .height = H, .in_fmt = AV_PIX_FMT_YUYV422,
		.fps_num = FPS, .fps_den = 1, .time_base = { 1, 90000 }, .threads = 1,
	};
	AVCodecParameters *par;
	char why[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-seg.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/catalog.db", f->dir);
	for (int i = 0; i < VG_MASTER_KEY_LEN; i++)
		f->master[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(vg_catalog_open(&f->cat, f->db), 0);
	if (delayed) {
		ep.preset = "veryfast";	/* rc-lookahead VG_ENC_LOOKAHEAD */
		ep.threads = 3;
	}
	assert_int_equal(vg_encoder_open(&f->enc, &ep, why, sizeof(why)), 0);
	f->base = INT64_C(1790000000) * VG_US_PER_S;
	par = avcodec_parameters_alloc();
	avcodec_parameters_from_context(par, vg_encoder_context(f->enc));
	if (audio)
		open_aac(f);
	{
		struct vg_segmenter_params sp = {
			.camera = "cam", .data_dir = f->dir, .master = f->master, .cat = f->cat,
			.segment_us = 3 * VG_US_PER_S, .fragment_us = VG_US_PER_S / 2,
			.codecpar = par, .time_base = { 1, 90000 }, .base_utc_us = f->base,
			.frame_us = FRAME_US, .encoder_name = "libx264", .threaded = threaded,
		};
		AVCodecParameters *apar = NULL;

		if (audio) {
			apar = avcodec_parameters_alloc();
			assert_int_equal(avcodec_parameters_from_context(apar, f->aenc), 0);
			sp.audio_codecpar = apar;
			sp.audio_time_base = (AVRational){ 1, A_RATE };
			sp.audio_base_utc_us = f->abase;
		}
		assert_int_equal(vg_segmenter_new(&f->seg, &sp), 0);
		avcodec_parameters_free(&apar);	/* the segmenter keeps a copy */
	}
	avcodec_parameters_free(&par);
	f->frame = av_frame_alloc();
	f->frame->format = AV_PIX_FMT_YUYV422;
	f->frame->width = W;
	f->frame->height = H;
	assert_int_equal(av_frame_get_buffer(f->frame, 0), 0);
	f->pkt = av_packet_alloc();
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, 0, 0, 0);
}

static int setup_delayed(void **state)
{
	return setup_common(state, 0, 1, 0);
}

static int setup_audio(void **state)
{
	return setup_common(state, 1, 0, 0);
}

/* The same, with the segmenter's writer thread (as vigild runs it). */
static int setup_threaded(void **state)
{
	return setup_common(state, 0, 0, 1);
}

static int setup_delayed_threaded(void **state)
{
	return setup_common(state, 0, 1, 1);
}

static int setup_audio_threaded(void **state)
{
	return setup_common(state, 1, 0, 1);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	vg_segmenter_free(f->seg);
	vg_encoder_free(f->enc);
	vg_catalog_close(f->cat);
	av_frame_free(&f->frame);
	av_packet_free(&f->pkt);
	avcodec_free_context(&f->aenc);
	av_frame_free(&f->aframe);
	av_packet_free(&f->apkt);
	for (int i = 0; i < f->n_given; i++)
		av_packet_free(&f->given[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Encode frame k (a moving gradient), captured at UTC ts, and hand its
 * packets to the segmenter. */
static void feed_at(struct fixture *f, int k, int64_t ts)
{

	assert_int_equal(av_frame_make_writable(f->frame), 0);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W * 2; x++)
			f->frame->data[0][y * f->frame->linesize[0] + x] = (uint8_t)(x + y + 3 * k);
	f->frame->pts = av_rescale_q(ts - f->base, (AVRational){ 1, 1000000 }, (AVRational){ 1, 90000 });
	f->frame->pict_type = vg_segmenter_wants_keyframe(f->seg, ts) ? AV_PICTURE_TYPE_I
								      : AV_PICTURE_TYPE_NONE;
	assert_int_equal(vg_encoder_send(f->enc, f->frame), 0);
	while (vg_encoder_receive(f->enc, f->pkt) == 0) {
		assert_int_equal(vg_segmenter_write(f->seg, f->pkt), 0);
		av_packet_unref(f->pkt);
	}
}

static void feed(struct fixture *f, int k)
{
	feed_at(f, k, f->base + (int64_t)k * FRAME_US);
}

static void drain(struct fixture *f)
{
	assert_int_equal(vg_encoder_send(f->enc, NULL), 0);
	while (vg_encoder_receive(f->enc, f->pkt) == 0) {
		assert_int_equal(vg_segmenter_write(f->seg, f->pkt), 0);
		av_packet_unref(f->pkt);
	}
}

struct list {
	struct vg_clip c[16];
	int n;
};

static int collect(const struct vg_clip *c, void *ud)
{
	struct list *l = ud;

	if (l->n < 16)
		l->c[l->n++] = *c;
	return 0;
}

/* 10 s at 10 fps with 3 s clips: clips of exactly 30 frames, back to back,
 * each playing as H.264 with the catalogued frame count. */
static void test_clips_are_contiguous_and_play(void **state)
{
	struct fixture *f = *state;
	struct list l = { .n = 0 };
	int64_t total = 0;

	for (int k = 0; k < 10 * FPS; k++)
		feed(f, k);
	drain(f);
	assert_int_equal(vg_segmenter_finish(f->seg), 0);
	assert_int_equal(vg_catalog_clips(f->cat, "cam", 0, 0, collect, &l), 0);
	for (int i = 0; i < l.n; i++)
		print_message("clip %d: start %lld end %lld frames %lld\n", i,
			      (long long)(l.c[i].start_us - f->base), (long long)(l.c[i].end_us - f->base),
			      (long long)l.c[i].frames);
	assert_int_equal(l.n, 4);	/* 3 + 3 + 3 + 1 seconds */
	for (int i = 0; i < l.n; i++) {
		struct vg_clipmedia_info info;
		char path[256];

		assert_int_equal(l.c[i].state, VG_CLIP_COMPLETE);
		if (i > 0)	/* each clip starts exactly where the last ended */
			assert_true(l.c[i].start_us == l.c[i - 1].end_us);
		assert_int_equal(l.c[i].end_us - l.c[i].start_us, l.c[i].frames * FRAME_US);
		snprintf(path, sizeof(path), "%s/%s", f->dir, l.c[i].path);
		assert_int_equal(vg_clipmedia_measure(path, f->master, l.c[i].wrapped_key, &info), 0);
		assert_string_equal(info.codec, "h264");
		assert_int_equal(info.width, W);
		assert_int_equal(info.frames, l.c[i].frames);
		assert_int_equal(info.duration_us, l.c[i].frames * FRAME_US);
		total += l.c[i].frames;
	}
	assert_int_equal(l.c[0].start_us, f->base);
	assert_int_equal(l.c[0].frames, 3 * FPS);
	assert_int_equal(total, 10 * FPS);
}

/* A camera's pictures come a little early or late (a loaded box, a
 * driver's timestamps). Every picture keeps the time it was taken at:
 * mov would move a fragment's first picture that falls inside the nominal
 * duration of the picture before it (logging "Packet duration ... is out
 * of range"), unless each picture lasts exactly until the next. */
static void test_pictures_keep_their_capture_time(void **state)
{
	static const int jitter_pct[] = { 0, 35, -30, 10, -40, 20, 0, -15, 40, -35 };
	const AVRational us = { 1, 1000000 };
	struct fixture *f = *state;
	struct list l = { .n = 0 };
	int64_t given[8 * FPS], n = 0;
	AVPacket *pkt = av_packet_alloc();

	for (int k = 0; k < 8 * FPS; k++) {
		given[k] = f->base + (int64_t)k * FRAME_US +
			   (k > 0 ? jitter_pct[k % 10] * FRAME_US / 100 : 0);
		feed_at(f, k, given[k]);
	}
	drain(f);
	assert_int_equal(vg_segmenter_finish(f->seg), 0);
	assert_int_equal(vg_catalog_clips(f->cat, "cam", 0, 0, collect, &l), 0);
	assert_true(l.n >= 2);
	for (int i = 0; i < l.n; i++) {
		struct vg_clipmedia *cm;
		AVFormatContext *fmt;
		char path[700];

		snprintf(path, sizeof(path), "%s/%s", f->dir, l.c[i].path);
		assert_int_equal(vg_clipmedia_open(&cm, path, f->master, l.c[i].wrapped_key, &fmt),
				 0);
		while (av_read_frame(fmt, pkt) == 0) {
			const AVStream *st = fmt->streams[pkt->stream_index];
			int64_t utc = l.c[i].start_us + av_rescale_q(pkt->pts, st->time_base, us);
			int64_t d;

			assert_true(n < 8 * FPS);
			d = utc - given[n];
			if (d < -20 || d > 20)
				fail_msg("picture %lld (clip %d) is at %+lld us, was taken at %+lld us",
					 (long long)n, i, (long long)(utc - f->base),
					 (long long)(given[n] - f->base));
			n++;
			av_packet_unref(pkt);
		}
		assert_int_equal(vg_clipmedia_status(cm), 0);
		vg_clipmedia_close(cm);
	}
	assert_int_equal(n, 8 * FPS);
	av_packet_free(&pkt);
}

/* A power cut mid-clip: the file keeps every sealed fragment, which
 * decrypts and plays; only the fragment being built is lost. */
static void test_power_cut_keeps_sealed_fragments(void **state)
{
	struct fixture *f = *state;
	struct vg_segmenter_stats st;
	struct vg_clipmedia_info info;
	struct vg_clip open_clip;
	char path[256], crash[300];
	int ret;

	/* 2.05 s into the first clip: fragments of 0.5 s sealed at 0.5, 1.0,
	 * 1.5 and 2.0 s, i.e. 20 frames on disk. */
	for (int k = 0; k < 21; k++)
		feed(f, k);
	/* Empty the encoder so every frame fed has reached the muxer: what
	 * the test measures is the segmenter's sealing, not x264's delay. */
	drain(f);
	vg_segmenter_stats(f->seg, &st);
	assert_true(st.clip_id > 0);
	snprintf(path, sizeof(path), "%s/%s", f->dir, st.clip_path);
	/* Simulate the crash: copy the file as it is on disk now. */
	snprintf(crash, sizeof(crash), "%s.crash", path);
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "cp %s %s", path, crash);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(vg_catalog_clip_get(f->cat, st.clip_id, &open_clip), 0);
	ret = vg_clipmedia_measure(crash, f->master, open_clip.wrapped_key, &info);
	assert_int_equal(ret, -VG_ETRUNC);
	assert_int_equal(info.frames, 20);
	assert_int_equal(info.duration_us, 20 * FRAME_US);
	unlink(crash);
}

/* Keyframes in clip c, read back through the decryptor: how many, and
 * whether the first packet is one. */
static int count_keyframes(const struct fixture *f, const struct vg_clip *c, int64_t *frames,
			   int *first_is_key)
{
	struct vg_clipmedia *cm;
	AVFormatContext *fmt;
	AVPacket *pkt = av_packet_alloc();
	char path[700];
	int keys = 0;

	snprintf(path, sizeof(path), "%s/%s", f->dir, c->path);
	assert_int_equal(vg_clipmedia_open(&cm, path, f->master, c->wrapped_key, &fmt), 0);
	*frames = 0;
	while (av_read_frame(fmt, pkt) == 0) {
		int key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;

		if (*frames == 0)
			*first_is_key = key;
		keys += key;
		(*frames)++;
		av_packet_unref(pkt);
	}
	assert_int_equal(vg_clipmedia_status(cm), 0);
	vg_clipmedia_close(cm);
	av_packet_free(&pkt);
	return keys;
}

/*
 * A clip is cut by forcing a keyframe; the encoder gives its packet back
 * some pictures later. Only that one picture may be forced: every clip
 * starts with one IDR and then has x264's own every GOP frames, i.e.
 * 1 + (frames - 1) / GOP keyframes, not a run of IDRs as long as the
 * encoder's delay (issue 16, point 5).
 */
static void test_one_keyframe_at_each_clip_start(void **state)
{
	struct fixture *f = *state;
	struct list l = { .n = 0 };
	int64_t total = 0;

	for (int k = 0; k < 10 * FPS; k++)
		feed(f, k);
	drain(f);
	assert_int_equal(vg_segmenter_finish(f->seg), 0);
	assert_int_equal(vg_catalog_clips(f->cat, "cam", 0, 0, collect, &l), 0);
	assert_int_equal(l.n, 4);	/* 3 + 3 + 3 + 1 seconds */
	for (int i = 0; i < l.n; i++) {
		int64_t frames;
		int first_key = 0;
		int keys = count_keyframes(f, &l.c[i], &frames, &first_key);

		print_message("clip %d: %lld frames, %d keyframes\n", i, (long long)frames, keys);
		assert_int_equal(frames, l.c[i].frames);
		assert_true(first_key);
		assert_int_equal(keys, 1 + (frames - 1) / GOP);
		total += frames;
	}
	assert_int_equal(l.c[0].frames, 3 * FPS);
	assert_int_equal(total, 10 * FPS);
}

/*
 * Threaded, a write that fails on the writer thread (here: the clip folder
 * cannot be made, its data folder being a file) comes back from a later
 * call, not the one that queued the packet; the packets queued after it
 * are counted, not written, and no clip is catalogued.
 */
static void test_threaded_failure_comes_back(void **state)
{
	struct fixture *f = *state;
	struct vg_segmenter *seg;
	struct vg_segmenter_stats st;
	struct list l = { .n = 0 };
	AVCodecParameters *par = avcodec_parameters_alloc();
	char notdir[128];
	int ret = 0, given = 0;
	FILE *fp;

	snprintf(notdir, sizeof(notdir), "%s/file", f->dir);
	fp = fopen(notdir, "w");
	assert_non_null(fp);
	fclose(fp);
	avcodec_parameters_from_context(par, vg_encoder_context(f->enc));
	{
		struct vg_segmenter_params sp = {
			.camera = "cam", .data_dir = notdir, .master = f->master, .cat = f->cat,
			.segment_us = 3 * VG_US_PER_S, .fragment_us = VG_US_PER_S / 2,
			.codecpar = par, .time_base = { 1, 90000 }, .base_utc_us = f->base,
			.frame_us = FRAME_US, .encoder_name = "libx264", .threaded = 1,
		};

		assert_int_equal(vg_segmenter_new(&seg, &sp), 0);
	}
	avcodec_parameters_free(&par);
	for (int k = 0; k < 2 * FPS && ret == 0; k++) {
		f->frame->pts = k * (90000 / FPS);
		assert_int_equal(vg_encoder_send(f->enc, f->frame), 0);
		while (ret == 0 && vg_encoder_receive(f->enc, f->pkt) == 0) {
			ret = vg_segmenter_write(seg, f->pkt);
			given += ret == 0;
			av_packet_unref(f->pkt);
		}
	}
	assert_true(given >= 1);
	/* However far the writer thread has got: finishing waits for it. */
	assert_true(vg_segmenter_finish(seg) < 0);
	assert_non_null(f->pkt);
	f->pkt->pts = 0;
	assert_true(vg_segmenter_write(seg, f->pkt) < 0);
	vg_segmenter_stats(seg, &st);
	assert_int_equal(st.frames, 0);
	/* The failed packet and every one given after it. */
	assert_int_equal(st.discarded, given - 1);
	vg_segmenter_free(seg);
	assert_int_equal(vg_catalog_clips(f->cat, "cam", 0, 0, collect, &l), 0);
	assert_int_equal(l.n, 0);
}

/* ---- encoder threads ---- */

/* Each camera gets its share of the cores: all of them alone, one each
 * once there are as many cameras as cores, never more than 8. */
static void test_encoder_threads_fit_the_box(void **state)
{
	(void)state;
	assert_int_equal(vg_encoder_threads_for(1, 4), 4);
	assert_int_equal(vg_encoder_threads_for(2, 4), 2);
	assert_int_equal(vg_encoder_threads_for(3, 4), 1);
	assert_int_equal(vg_encoder_threads_for(4, 4), 1);
	assert_int_equal(vg_encoder_threads_for(8, 2), 1);
	assert_int_equal(vg_encoder_threads_for(16, 2), 1);
	assert_int_equal(vg_encoder_threads_for(1, 64), 8);
	/* Nonsense in, one thread out. */
	assert_int_equal(vg_encoder_threads_for(0, 0), 1);
	assert_int_equal(vg_encoder_threads_for(-3, -1), 1);
	assert_int_equal(vg_encoder_threads_for(-3, 4), 4);
}

/* threads = 0 in the parameters: the encoder opens with the planned
 * threads, and a short lookahead (less memory than veryfast's 10). */
static void test_encoder_uses_the_plan(void **state)
{
	struct vg_encoder_params ep = {
		.encoder = "libx264", .preset = "veryfast", .crf = 23, .gop = 30,
		.width = 1280, .height = 720, .in_fmt = AV_PIX_FMT_YUV420P,
		.fps_num = 15, .fps_den = 1, .time_base = { 1, 90000 }, .streams = 8,
	};
	struct vg_encoder *e = NULL;
	char why[256] = "";
	int64_t la = -1;

	(void)state;
	assert_int_equal(vg_encoder_open(&e, &ep, why, sizeof(why)), 0);
	assert_int_equal(vg_encoder_context(e)->thread_count,
			 vg_encoder_threads_for(8, (int)sysconf(_SC_NPROCESSORS_ONLN)));
	assert_int_equal(av_opt_get_int(vg_encoder_context(e)->priv_data, "rc-lookahead", 0, &la),
			 0);
	assert_int_equal(la, VG_ENC_LOOKAHEAD);
	vg_encoder_free(e);
}

/* Bytes x264 gives for n pictures of one still scene with fresh sensor
 * noise in each, the k-th stamped at pts[k] (time base 1/90000), with
 * vigild's settings for a camera of a busy box. */
static size_t still_scene_bytes(const int64_t *pts, int n)
{
	struct vg_encoder_params ep = {
		.encoder = "libx264", .preset = "veryfast", .crf = 23, .gop = 30,
		.width = 320, .height = 240, .in_fmt = AV_PIX_FMT_YUV420P,
		.fps_num = 15, .fps_den = 1, .time_base = { 1, 90000 }, .threads = 1,
	};
	struct vg_encoder *e = NULL;
	AVFrame *in = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();
	char why[256] = "";
	uint32_t rng = 12345;
	size_t bytes = 0;

	assert_int_equal(vg_encoder_open(&e, &ep, why, sizeof(why)), 0);
	in->format = AV_PIX_FMT_YUV420P;
	in->width = ep.width;
	in->height = ep.height;
	assert_int_equal(av_frame_get_buffer(in, 0), 0);
	for (int k = 0; k <= n; k++) {
		if (k < n) {
			assert_int_equal(av_frame_make_writable(in), 0);
			for (int p = 0; p < 3; p++) {
				int pw = p ? ep.width / 2 : ep.width, ph = p ? ep.height / 2 : ep.height;

				for (int y = 0; y < ph; y++)
					for (int x = 0; x < pw; x++) {
						rng = rng * 1103515245u + 12345u;
						in->data[p][y * in->linesize[p] + x] =
							(uint8_t)((p ? 128 : 40 + (x / 20 + y / 20) % 8 * 20) +
								  (int)(rng >> 28) - 8);
					}
			}
			in->pts = pts[k];
		}
		assert_int_equal(vg_encoder_send(e, k < n ? in : NULL), 0);
		while (vg_encoder_receive(e, pkt) == 0) {
			bytes += (size_t)pkt->size;
			av_packet_unref(pkt);
		}
	}
	av_packet_free(&pkt);
	av_frame_free(&in);
	vg_encoder_free(e);
	return bytes;
}

/*
 * A busy box drops pictures its encoder cannot take (the queue is full),
 * and a camera's driver skips some: the pictures that are coded then come
 * further apart than the frame rate says. x264 must not take that for a
 * change of frame rate: by default (variable frame rate input) it spent
 * 13 times the bits on the still stairwell of tests/bench/input.sh with
 * every other picture gone, and 2.4 times the CPU, so an overloaded box
 * dropped ever more (16 cameras: 2800 of 4800 pictures lost;
 * docs/performance.md). The same pictures with gaps must cost about what
 * they cost without.
 */
static void test_lost_pictures_cost_no_extra_bits(void **state)
{
	enum { N = 60 };
	int64_t even[N], gaps[N];
	size_t b_even, b_gaps;

	(void)state;
	for (int k = 0; k < N; k++) {
		even[k] = (int64_t)k * 6000;		/* 15 fps */
		gaps[k] = (int64_t)k * 2 * 6000;	/* every other one lost */
	}
	b_even = still_scene_bytes(even, N);
	b_gaps = still_scene_bytes(gaps, N);
	print_message("%d pictures: %zu bytes at 15 fps, %zu with every other one lost\n", N,
		      b_even, b_gaps);
	assert_true(b_gaps * 4 < b_even * 5);
}

/*
 * A camera's format at open is not always what reaches the encoder: the
 * overlay's drawtext cannot draw on yuyv422 and gives yuv422p. The
 * pictures that come out must be the pictures that went in, not the
 * yuv422p planes read as if they were yuyv422.
 */
static void test_encoder_takes_the_format_it_is_given(void **state)
{
	struct vg_encoder_params ep = {
		.encoder = "libx264", .preset = "ultrafast", .crf = 5, .gop = 10,
		.width = W, .height = H, .in_fmt = AV_PIX_FMT_YUYV422,
		.fps_num = FPS, .fps_den = 1, .time_base = { 1, 90000 }, .threads = 1,
	};
	const AVCodec *dc = avcodec_find_decoder(AV_CODEC_ID_H264);
	AVCodecContext *dec = avcodec_alloc_context3(dc);
	struct vg_encoder *e = NULL;
	AVFrame *in = av_frame_alloc(), *out = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();
	char why[256] = "";
	int got = 0;

	(void)state;
	assert_int_equal(vg_encoder_open(&e, &ep, why, sizeof(why)), 0);
	dec->extradata = av_mallocz((size_t)vg_encoder_context(e)->extradata_size +
				    AV_INPUT_BUFFER_PADDING_SIZE);
	memcpy(dec->extradata, vg_encoder_context(e)->extradata,
	       (size_t)vg_encoder_context(e)->extradata_size);
	dec->extradata_size = vg_encoder_context(e)->extradata_size;
	assert_int_equal(avcodec_open2(dec, dc, NULL), 0);
	in->format = AV_PIX_FMT_YUV422P;
	in->width = W;
	in->height = H;
	assert_int_equal(av_frame_get_buffer(in, 0), 0);
	for (int k = 0; k <= 3; k++) {
		if (k < 3) {
			assert_int_equal(av_frame_make_writable(in), 0);
			for (int y = 0; y < H; y++) {
				for (int x = 0; x < W; x++)
					in->data[0][y * in->linesize[0] + x] = (uint8_t)(16 + x + y);
				for (int x = 0; x < W / 2; x++) {
					in->data[1][y * in->linesize[1] + x] = (uint8_t)(64 + y / 2);
					in->data[2][y * in->linesize[2] + x] = (uint8_t)(192 - x / 2);
				}
			}
			in->pts = k * 9000;
		}
		assert_int_equal(vg_encoder_send(e, k < 3 ? in : NULL), 0);
		while (vg_encoder_receive(e, pkt) == 0) {
			assert_int_equal(avcodec_send_packet(dec, pkt), 0);
			av_packet_unref(pkt);
			while (avcodec_receive_frame(dec, out) == 0) {
				long diff = 0;

				assert_int_equal(out->format, AV_PIX_FMT_YUV420P);
				for (int y = 0; y < H; y++)
					for (int x = 0; x < W; x++)
						diff += labs((long)out->data[0][y * out->linesize[0] + x] -
							     in->data[0][y * in->linesize[0] + x]);
				/* Chroma: 4:2:2 averaged down to 4:2:0. */
				for (int y = 0; y < H / 2; y++)
					for (int x = 0; x < W / 2; x++)
						diff += labs((long)out->data[1][y * out->linesize[1] + x] -
							     (64 + y)) +
							labs((long)out->data[2][y * out->linesize[2] + x] -
							     (192 - x / 2));
				print_message("picture %d: mean difference %.2f\n", got,
					      (double)diff / (W * H * 3 / 2));
				assert_true(diff < 2L * W * H * 3 / 2);	/* < 2 levels */
				got++;
				av_frame_unref(out);
			}
		}
	}
	assert_int_equal(got, 3);
	vg_encoder_free(e);
	avcodec_free_context(&dec);
	av_frame_free(&in);
	av_frame_free(&out);
	av_packet_free(&pkt);
}

/* ---- sound ---- */

static int64_t audio_utc(const struct fixture *f, int64_t pts)
{
	return f->abase + av_rescale_q(pts, (AVRational){ 1, A_RATE }, (AVRational){ 1, 1000000 });
}

/*
 * Capture sound up to the UTC instant until_us: a tone with a little noise
 * (so that no two AAC packets are alike), encoded to AAC, every packet
 * handed to the segmenter and a copy kept in f->given.
 */
static void feed_audio(struct fixture *f, int64_t until_us)
{
	static uint32_t lcg = 12345;

	while (audio_utc(f, f->asamples) < until_us) {
		assert_int_equal(av_frame_make_writable(f->aframe), 0);
		for (int c = 0; c < A_CH; c++) {
			float *d = (float *)f->aframe->data[c];

			for (int i = 0; i < A_FRAME; i++) {
				double t = (double)(f->asamples + i) / A_RATE;

				lcg = lcg * 1103515245u + 12345u;
				d[i] = (float)(0.3 * sin(2 * M_PI * (440 + 110 * c) * t) +
					       0.05 * ((double)(lcg >> 16) / 32768.0 - 1.0));
			}
		}
		f->aframe->pts = f->asamples;
		f->asamples += A_FRAME;
		assert_int_equal(avcodec_send_frame(f->aenc, f->aframe), 0);
		while (avcodec_receive_packet(f->aenc, f->apkt) == 0) {
			assert_true(f->n_given < A_MAX);
			f->given[f->n_given] = av_packet_clone(f->apkt);
			assert_non_null(f->given[f->n_given]);
			f->n_given++;
			assert_int_equal(vg_segmenter_write_audio(f->seg, f->apkt), 0);
			av_packet_unref(f->apkt);
		}
	}
}

/* n_frames pictures with the sound captured alongside them: before each
 * picture goes in, the sound up to the end of that picture's interval. */
static void record_with_sound(struct fixture *f, int n_frames)
{
	for (int k = 0; k < n_frames; k++) {
		feed_audio(f, f->base + (int64_t)(k + 1) * FRAME_US);
		feed(f, k);
	}
	drain(f);
	/* The AAC encoder holds back two frames: the sound of the last
	 * picture reaches the segmenter with a little that comes after it. */
	feed_audio(f, f->base + (int64_t)n_frames * FRAME_US + 3 * A_FRAME_US);
	assert_int_equal(vg_segmenter_finish(f->seg), 0);
}

/* What a clip holds, read back through the decryptor. */
struct media {
	int n_video, n_audio;		/* streams */
	enum AVCodecID acodec;
	int arate, ach;
	int64_t frames;			/* video packets */
	int64_t v_first_utc;
	AVPacket *a[A_MAX];		/* audio packets, in the order read */
	int64_t a_utc[A_MAX];		/* their start, UTC */
	int64_t a_end[A_MAX];		/* their end, UTC */
	int na;
};

static void read_clip(const struct fixture *f, const struct vg_clip *c, struct media *m)
{
	const AVRational us = { 1, 1000000 };
	struct vg_clipmedia *cm;
	AVFormatContext *fmt;
	AVPacket *pkt = av_packet_alloc();
	char path[700];

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/%s", f->dir, c->path);
	assert_int_equal(vg_clipmedia_open(&cm, path, f->master, c->wrapped_key, &fmt), 0);
	for (unsigned i = 0; i < fmt->nb_streams; i++) {
		const AVCodecParameters *par = fmt->streams[i]->codecpar;

		if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
			m->n_video++;
		} else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
			m->n_audio++;
			m->acodec = par->codec_id;
			m->arate = par->sample_rate;
			m->ach = par->ch_layout.nb_channels;
		}
	}
	while (av_read_frame(fmt, pkt) == 0) {
		const AVStream *st = fmt->streams[pkt->stream_index];
		int64_t utc = c->start_us + av_rescale_q(pkt->pts, st->time_base, us);

		if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
			if (m->frames == 0)
				m->v_first_utc = utc;
			m->frames++;
		} else {
			assert_true(m->na < A_MAX);
			m->a[m->na] = av_packet_clone(pkt);
			m->a_utc[m->na] = utc;
			m->a_end[m->na] = utc + av_rescale_q(pkt->duration, st->time_base, us);
			m->na++;
		}
		av_packet_unref(pkt);
	}
	assert_int_equal(vg_clipmedia_status(cm), 0);
	vg_clipmedia_close(cm);
	av_packet_free(&pkt);
}

static void media_free(struct media *m)
{
	for (int i = 0; i < m->na; i++)
		av_packet_free(&m->a[i]);
	m->na = 0;
}

/* Index of the first packet given whose start is at or after utc. */
static int first_given_from(const struct fixture *f, int64_t utc)
{
	int i = 0;

	while (i < f->n_given && audio_utc(f, f->given[i]->pts) < utc)
		i++;
	return i;
}

/* Read packet j of m is given packet g: the same bytes, at the instant it
 * was given for (to within a sample: the clip counts time from its
 * keyframe in whole samples). */
static void assert_same_packet(const struct fixture *f, const struct media *m, int j, int g)
{
	const AVPacket *a = m->a[j], *b = f->given[g];
	int64_t d = m->a_utc[j] - audio_utc(f, b->pts);

	assert_int_equal(a->size, b->size);
	assert_memory_equal(a->data, b->data, (size_t)a->size);
	if (d < 0)
		d = -d;
	if (d > VG_US_PER_S / A_RATE + 1)
		fail_msg("audio packet %d is at %lld us, was given for %lld us", g,
			 (long long)(m->a_utc[j] - f->base),
			 (long long)(audio_utc(f, b->pts) - f->base));
}

/* 2 s of pictures and sound in a 3 s clip: one clip holding an H.264 and an
 * AAC stream as given, every packet of sound that falls within the clip's
 * time, byte for byte, in order, at the time it was captured. */
static void test_sound_goes_into_the_clip(void **state)
{
	struct fixture *f = *state;
	struct list l = { .n = 0 };
	struct vg_segmenter_stats st;
	struct media m;
	int g0, g1;

	record_with_sound(f, 2 * FPS);
	assert_int_equal(vg_catalog_clips(f->cat, "cam", 0, 0, collect, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.c[0].state, VG_CLIP_COMPLETE);
	assert_int_equal(l.c[0].start_us, f->base);
	assert_int_equal(l.c[0].frames, 2 * FPS);

	read_clip(f, &l.c[0], &m);
	assert_int_equal(m.n_video, 1);
	assert_int_equal(m.n_audio, 1);
	assert_int_equal(m.acodec, AV_CODEC_ID_AAC);
	assert_int_equal(m.arate, A_RATE);
	assert_int_equal(m.ach, A_CH);
	assert_int_equal(m.frames, 2 * FPS);
	assert_int_equal(m.v_first_utc, l.c[0].start_us);

	/* Sound from before the first picture is not in the clip; all the
	 * rest up to the clip's end is. */
	g0 = first_given_from(f, l.c[0].start_us);
	g1 = first_given_from(f, l.c[0].end_us);
	assert_true(g0 > 0);
	assert_true(g1 < f->n_given);
	assert_int_equal(m.na, g1 - g0);
	for (int j = 0; j < m.na; j++)
		assert_same_packet(f, &m, j, g0 + j);
	vg_segmenter_stats(f->seg, &st);
	assert_int_equal(st.audio_packets, m.na);

	/* In step with the pictures: sound starts with the first picture and
	 * ends with the last, each to within one AAC frame. */
	assert_in_range(m.a_utc[0] - m.v_first_utc, 0, A_FRAME_US);
	assert_in_range(l.c[0].end_us - m.a_end[m.na - 1] + A_FRAME_US, 0, 2 * A_FRAME_US);
	media_free(&m);
}

/* 7 s of pictures and sound cut into 3 s clips: the sound runs on across
 * each cut, no packet lost or repeated, each clip's sound starting where
 * the one before ended, at the cut. */
static void test_sound_continuous_across_clips(void **state)
{
	struct fixture *f = *state;
	struct list l = { .n = 0 };
	struct media m[3];
	int g;

	record_with_sound(f, 7 * FPS);
	assert_int_equal(vg_catalog_clips(f->cat, "cam", 0, 0, collect, &l), 0);
	assert_int_equal(l.n, 3);	/* 3 + 3 + 1 seconds */
	g = first_given_from(f, l.c[0].start_us);
	for (int i = 0; i < l.n; i++) {
		read_clip(f, &l.c[i], &m[i]);
		assert_int_equal(m[i].n_audio, 1);
		assert_int_equal(m[i].frames, l.c[i].frames);
		assert_true(m[i].na > 0);
		/* The clips' packets, one after the other, are exactly those
		 * given. */
		for (int j = 0; j < m[i].na; j++)
			assert_same_packet(f, &m[i], j, g++);
		/* Each clip's sound starts at its first picture. */
		assert_in_range(m[i].a_utc[0] - l.c[i].start_us, 0, A_FRAME_US);
		if (i > 0) {
			int64_t prev_end = m[i - 1].a_end[m[i - 1].na - 1];

			assert_int_equal(l.c[i].start_us, l.c[i - 1].end_us);
			/* ...where the previous clip's sound ended. */
			assert_in_range(m[i].a_utc[0] - prev_end + A_FRAME_US, 0,
					2 * A_FRAME_US);
		}
	}
	assert_int_equal(g, first_given_from(f, l.c[l.n - 1].end_us));
	for (int i = 0; i < l.n; i++)
		media_free(&m[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clips_are_contiguous_and_play, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pictures_keep_their_capture_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_keeps_sealed_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_keyframe_at_each_clip_start, setup_delayed,
						teardown),
		cmocka_unit_test(test_encoder_threads_fit_the_box),
		cmocka_unit_test(test_encoder_uses_the_plan),
		cmocka_unit_test(test_encoder_takes_the_format_it_is_given),
		cmocka_unit_test(test_lost_pictures_cost_no_extra_bits),
		cmocka_unit_test_setup_teardown(test_sound_goes_into_the_clip, setup_audio,
						teardown),
		cmocka_unit_test_setup_teardown(test_sound_continuous_across_clips, setup_audio,
						teardown),
		cmocka_unit_test_setup_teardown(test_clips_are_contiguous_and_play, setup_threaded,
						teardown),
		cmocka_unit_test_setup_teardown(test_one_keyframe_at_each_clip_start,
						setup_delayed_threaded, teardown),
		cmocka_unit_test_setup_teardown(test_sound_continuous_across_clips,
						setup_audio_threaded, teardown),
		cmocka_unit_test_setup_teardown(test_threaded_failure_comes_back, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
