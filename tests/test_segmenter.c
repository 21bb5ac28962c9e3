/*
 * test_segmenter.c - encoder + segmenter + clip container + catalog,
 * without a daemon: frames made in memory go in, clips come out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

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
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vg_encoder_params ep = {
		.encoder = "libx264", .preset = "ultrafast", .crf = 30, .gop = 2 * FPS,
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
	assert_int_equal(vg_encoder_open(&f->enc, &ep, why, sizeof(why)), 0);
	f->base = INT64_C(1790000000) * VG_US_PER_S;
	par = avcodec_parameters_alloc();
	avcodec_parameters_from_context(par, vg_encoder_context(f->enc));
	{
		struct vg_segmenter_params sp = {
			.camera = "cam", .data_dir = f->dir, .master = f->master, .cat = f->cat,
			.segment_us = 3 * VG_US_PER_S, .fragment_us = VG_US_PER_S / 2,
			.codecpar = par, .time_base = { 1, 90000 }, .base_utc_us = f->base,
			.frame_us = FRAME_US, .encoder_name = "libx264",
		};
		assert_int_equal(vg_segmenter_new(&f->seg, &sp), 0);
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

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	vg_segmenter_free(f->seg);
	vg_encoder_free(f->enc);
	vg_catalog_close(f->cat);
	av_frame_free(&f->frame);
	av_packet_free(&f->pkt);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Encode frame k (a moving gradient) and hand its packets to the segmenter. */
static void feed(struct fixture *f, int k)
{
	int64_t ts = f->base + (int64_t)k * FRAME_US;

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clips_are_contiguous_and_play, setup, teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_keeps_sealed_fragments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
