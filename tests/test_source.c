/*
 * test_source.c - the synthetic test camera and the raw-frame file source,
 * through the public source.h API.
 *
 * The files written here are generated test patterns, never footage; they
 * live in a mkdtemp directory removed after each test.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/source.h"

#ifdef VG_TEST_STUB_V4L2
/* Only for linking by hand before src/record/source_v4l2.c exists. */
int vg_source_v4l2_open(struct vg_source **out, const struct vg_camera_config *cam,
			char *why, size_t whylen);
int vg_source_v4l2_open(struct vg_source **out, const struct vg_camera_config *cam,
			char *why, size_t whylen)
{
	*out = NULL;
	snprintf(why, whylen, "stub");
	return -VG_ENODEV;
}
#endif

struct fixture {
	char dir[64];
	char path[128];
	int warn_lines;		/* WARN lines the log sink saw */
};

static int64_t now_utc_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void count_warnings(enum vg_log_level level, const char *module, const char *line,
			   void *ud)
{
	struct fixture *fx = ud;

	if (level == VG_LOG_WARN)
		fx->warn_lines++;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/vigil-test-source-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/frames.raw", fx->dir);
	vg_log_set_sink(count_warnings, fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	vg_log_set_sink(NULL, NULL);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static struct vg_camera_config cam_synth(int w, int h, int num, int den)
{
	struct vg_camera_config c;

	memset(&c, 0, sizeof(c));
	c.name = "lobby";
	c.enabled = 1;
	c.kind = VG_SOURCE_SYNTHETIC;
	c.device = "synthetic";
	c.width = w;
	c.height = h;
	c.fps_num = num;
	c.fps_den = den;
	c.file_realtime = 0;	/* unpaced: the tests never wait */
	return c;
}

static struct vg_camera_config cam_file(const char *path, const char *fmt, int w, int h)
{
	struct vg_camera_config c;

	memset(&c, 0, sizeof(c));
	c.name = "replay";
	c.enabled = 1;
	c.kind = VG_SOURCE_FILE;
	c.device = (char *)path;
	c.file_pix_fmt = (char *)fmt;
	c.width = w;
	c.height = h;
	c.fps_num = 25;
	c.fps_den = 1;
	c.file_realtime = 0;
	return c;
}

/* Byte i of test frame k: differs between frames and along the frame. */
static uint8_t pattern(int k, size_t i)
{
	return (uint8_t)(k * 37 + i * 7 + (i >> 5));
}

/* Write n frames of size bytes plus extra stray bytes. */
static void write_frames(const char *path, int n, size_t size, size_t extra)
{
	uint8_t *buf = malloc(size);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int k;
	size_t i;

	assert_non_null(buf);
	assert_true(fd >= 0);
	for (k = 0; k < n; k++) {
		for (i = 0; i < size; i++)
			buf[i] = pattern(k, i);
		assert_int_equal(write(fd, buf, size), (ssize_t)size);
	}
	memset(buf, 0xee, size);
	if (extra)
		assert_int_equal(write(fd, buf, extra), (ssize_t)extra);
	assert_int_equal(close(fd), 0);
	free(buf);
}

/* The frame holds, plane by plane and row by row (whatever its linesizes),
 * the packed bytes of test frame k. */
static void assert_frame_is(const AVFrame *fr, int k)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fr->format);
	int linesize[4];
	size_t off = 0;
	int p, y;

	assert_non_null(d);
	assert_true(av_image_fill_linesizes(linesize, fr->format, fr->width) >= 0);
	for (p = 0; p < 4 && linesize[p] > 0; p++) {
		int rows = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(fr->height, d->log2_chroma_h) :
			   fr->height;

		for (y = 0; y < rows; y++) {
			const uint8_t *row = fr->data[p] + (ptrdiff_t)y * fr->linesize[p];
			int x;

			for (x = 0; x < linesize[p]; x++)
				assert_int_equal(row[x], pattern(k, off + (size_t)x));
			off += (size_t)linesize[p];
		}
	}
	assert_int_equal(off, (size_t)av_image_get_buffer_size(fr->format, fr->width,
								fr->height, 1));
}

static int luma_differs(const AVFrame *a, const AVFrame *b)
{
	int y;

	for (y = 0; y < a->height; y++)
		if (memcmp(a->data[0] + (ptrdiff_t)y * a->linesize[0],
			   b->data[0] + (ptrdiff_t)y * b->linesize[0], (size_t)a->width) != 0)
			return 1;
	return 0;
}

/*
 * The label box (dark, with white text) sits in the bottom left: the bottom
 * sixth of the left third of the bare testsrc2 pattern has neither dark nor
 * near-white pixels, with the label about a third is dark and a tenth white.
 */
static int label_visible(const AVFrame *fr)
{
	int dark = 0, bright = 0, total = 0;
	int x, y;

	for (y = fr->height - fr->height / 6; y < fr->height; y++) {
		for (x = 0; x < fr->width / 3; x++) {
			uint8_t v = fr->data[0][(ptrdiff_t)y * fr->linesize[0] + x];

			dark += v < 50;
			bright += v > 200;
			total++;
		}
	}
	return dark * 100 > total * 15 && bright * 100 > total * 3;
}

/* ---- synthetic ---- */

static void synth_frames_have_size_format_and_timestamps(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_synth(320, 240, 25, 1);
	struct vg_source *s = NULL;
	struct vg_source_info info;
	struct vg_source_frame f[6];
	char why[256] = "";
	int64_t before = now_utc_us();
	int i;

	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	vg_source_info(s, &info);
	assert_int_equal(info.synthetic, 1);
	assert_non_null(strcasestr(info.label, "synthetic"));
	assert_non_null(strstr(info.label, "lobby"));
	assert_int_equal(info.pix_fmt, AV_PIX_FMT_YUV420P);
	assert_int_equal(info.width, 320);
	assert_int_equal(info.height, 240);

	for (i = 0; i < 6; i++) {
		assert_int_equal(vg_source_read(s, &f[i], 1000), 0);
		assert_non_null(f[i].frame);
		assert_null(f[i].packet);
		assert_int_equal(f[i].frame->format, AV_PIX_FMT_YUV420P);
		assert_int_equal(f[i].frame->width, 320);
		assert_int_equal(f[i].frame->height, 240);
		assert_int_equal(f[i].sequence, i);
		assert_true(label_visible(f[i].frame));
		if (i > 0) {
			assert_int_equal(f[i].ts_utc_us - f[i - 1].ts_utc_us, 40000);
			/* the pattern moves: no two frames in a row alike */
			assert_true(luma_differs(f[i].frame, f[i - 1].frame));
		}
	}
	/* a real UTC time, taken when the camera opened */
	assert_true(f[0].ts_utc_us >= before - 1000);
	assert_true(f[0].ts_utc_us <= now_utc_us());
	for (i = 0; i < 6; i++)
		vg_source_frame_release(&f[i]);
	assert_null(f[0].frame);
	vg_source_close(s);
	/* no warning: the label is text, not the fallback band */
	assert_int_equal(fx->warn_lines, 0);
}

/* At 15 fps the interval is not a whole number of microseconds, yet 150
 * frames must span exactly 10 s, so clip durations add up. */
static void synth_timestamps_do_not_drift(void **state)
{
	struct vg_camera_config cam = cam_synth(64, 48, 15, 1);
	struct vg_source *s = NULL;
	struct vg_source_frame f = { 0 };
	char why[256] = "";
	int64_t first = 0, prev = 0;
	int i;

	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	for (i = 0; i <= 150; i++) {
		assert_int_equal(vg_source_read(s, &f, 1000), 0);
		if (i == 0)
			first = f.ts_utc_us;
		else
			assert_in_range(f.ts_utc_us - prev, 66666, 66667);
		prev = f.ts_utc_us;
		vg_source_frame_release(&f);
	}
	assert_int_equal(prev - first, 10000000);
	vg_source_close(s);
}

static void synth_paced_frame_not_due_yet(void **state)
{
	/* one frame every 5 s: the second is certainly not due at once */
	struct vg_camera_config cam = cam_synth(64, 48, 1, 5);
	struct vg_source *s = NULL;
	struct vg_source_frame f = { 0 };
	char why[256] = "";

	cam.file_realtime = 1;
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	assert_int_equal(vg_source_read(s, &f, 0), 0);
	assert_non_null(f.frame);
	vg_source_frame_release(&f);
	assert_int_equal(vg_source_read(s, &f, 0), -VG_ENODATA);
	assert_null(f.frame);
	vg_source_close(s);
}

static void synth_frames_outlive_close(void **state)
{
	struct vg_camera_config cam = cam_synth(64, 48, 25, 1);
	struct vg_source *s = NULL;
	struct vg_source_frame f = { 0 };
	char why[256] = "";
	uint8_t first_row[64];

	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	assert_int_equal(vg_source_read(s, &f, 1000), 0);
	memcpy(first_row, f.frame->data[0], sizeof(first_row));
	vg_source_close(s);
	assert_memory_equal(f.frame->data[0], first_row, sizeof(first_row));
	vg_source_frame_release(&f);
	vg_source_frame_release(&f);	/* a second release is harmless */
}

static void synth_rejects_bad_size(void **state)
{
	struct vg_camera_config cam = cam_synth(0, 240, 25, 1);
	struct vg_source *s = (struct vg_source *)1;
	char why[256] = "";

	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), -VG_EINVAL);
	assert_null(s);
	assert_non_null(strstr(why, "0x240"));
}

/* ---- file ---- */

static void file_frames_come_back_identical(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "yuyv422", 10, 6);
	struct vg_source *s = NULL;
	struct vg_source_info info;
	struct vg_source_frame f = { 0 };
	char why[256] = "";
	int64_t first = 0;
	int k;

	write_frames(fx->path, 5, 10 * 2 * 6, 0);
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	vg_source_info(s, &info);
	assert_int_equal(info.synthetic, 0);
	assert_int_equal(info.pix_fmt, AV_PIX_FMT_YUYV422);
	assert_non_null(strstr(info.label, fx->path));
	assert_non_null(strstr(info.label, "yuyv422"));
	for (k = 0; k < 5; k++) {
		assert_int_equal(vg_source_read(s, &f, 1000), 0);
		assert_int_equal(f.frame->format, AV_PIX_FMT_YUYV422);
		assert_int_equal(f.frame->width, 10);
		assert_int_equal(f.frame->height, 6);
		assert_frame_is(f.frame, k);
		assert_int_equal(f.sequence, k);
		if (k == 0)
			first = f.ts_utc_us;
		assert_int_equal(f.ts_utc_us - first, (int64_t)k * 40000);
		vg_source_frame_release(&f);
	}
	assert_int_equal(vg_source_read(s, &f, 1000), 1);
	assert_null(f.frame);
	assert_int_equal(vg_source_read(s, &f, 1000), 1);
	vg_source_close(s);
	assert_int_equal(fx->warn_lines, 0);
}

/* Three planes, odd chroma rows: each plane lands where it belongs. */
static void file_planar_layout(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "yuv420p", 10, 6);
	struct vg_source *s = NULL;
	struct vg_source_frame f = { 0 };
	char why[256] = "";
	int k;

	write_frames(fx->path, 3, 10 * 6 + 2 * 5 * 3, 0);
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	for (k = 0; k < 3; k++) {
		assert_int_equal(vg_source_read(s, &f, 1000), 0);
		assert_int_equal(f.frame->format, AV_PIX_FMT_YUV420P);
		assert_frame_is(f.frame, k);
		vg_source_frame_release(&f);
	}
	assert_int_equal(vg_source_read(s, &f, 1000), 1);
	vg_source_close(s);
}

static void file_loop_wraps_with_rising_timestamps(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "nv12", 8, 4);
	struct vg_source *s = NULL;
	struct vg_source_frame f = { 0 };
	char why[256] = "";
	int64_t prev = 0;
	int j;

	cam.file_loop = 1;
	write_frames(fx->path, 5, 8 * 4 * 3 / 2, 0);
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	for (j = 0; j < 13; j++) {
		assert_int_equal(vg_source_read(s, &f, 1000), 0);
		assert_frame_is(f.frame, j % 5);
		assert_int_equal(f.sequence, j);
		if (j > 0)
			assert_int_equal(f.ts_utc_us - prev, 40000);
		prev = f.ts_utc_us;
		vg_source_frame_release(&f);
	}
	vg_source_close(s);
}

static void file_trailing_partial_frame_ignored(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "yuyv422", 10, 6);
	struct vg_source *s = NULL;
	struct vg_source_frame f = { 0 };
	char why[256] = "";
	int j;

	write_frames(fx->path, 5, 10 * 2 * 6, 50);

	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	for (j = 0; j < 5; j++) {
		assert_int_equal(vg_source_read(s, &f, 1000), 0);
		assert_frame_is(f.frame, j);
		vg_source_frame_release(&f);
	}
	assert_int_equal(vg_source_read(s, &f, 1000), 1);
	vg_source_close(s);
	assert_int_equal(fx->warn_lines, 1);

	/* looping: the stray bytes never show up, and are reported once */
	fx->warn_lines = 0;
	cam.file_loop = 1;
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	for (j = 0; j < 16; j++) {
		assert_int_equal(vg_source_read(s, &f, 1000), 0);
		assert_frame_is(f.frame, j % 5);
		vg_source_frame_release(&f);
	}
	vg_source_close(s);
	assert_int_equal(fx->warn_lines, 1);
}

static void file_frames_outlive_close(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "yuyv422", 10, 6);
	struct vg_source *s = NULL;
	struct vg_source_frame f[2] = { { 0 } };
	char why[256] = "";

	write_frames(fx->path, 5, 10 * 2 * 6, 0);
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	assert_int_equal(vg_source_read(s, &f[0], 1000), 0);
	assert_int_equal(vg_source_read(s, &f[1], 1000), 0);
	vg_source_close(s);
	/* two frames in flight at once are distinct buffers, both intact */
	assert_frame_is(f[0].frame, 0);
	assert_frame_is(f[1].frame, 1);
	vg_source_frame_release(&f[0]);
	vg_source_frame_release(&f[1]);
}

static void file_paced_frame_not_due_yet(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "yuyv422", 10, 6);
	struct vg_source *s = NULL;
	struct vg_source_frame f = { 0 };
	char why[256] = "";

	write_frames(fx->path, 5, 10 * 2 * 6, 0);
	cam.file_realtime = 1;
	cam.fps_num = 1;
	cam.fps_den = 5;
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	assert_int_equal(vg_source_read(s, &f, 0), 0);
	assert_frame_is(f.frame, 0);
	vg_source_frame_release(&f);
	assert_int_equal(vg_source_read(s, &f, 0), -VG_ENODATA);
	assert_null(f.frame);
	vg_source_close(s);
}

static void file_missing_is_nodev(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "yuyv422", 10, 6);
	struct vg_source *s = (struct vg_source *)1;
	char why[256] = "";

	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), -VG_ENODEV);
	assert_null(s);
	assert_non_null(strstr(why, fx->path));
}

static void file_bad_pix_fmt_is_eformat(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = { "rgb24", "no-such-format", "" };
	struct vg_source *s = NULL;
	char why[256];
	size_t i;

	write_frames(fx->path, 5, 10 * 2 * 6, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vg_camera_config cam = cam_file(fx->path, bad[i], 10, 6);

		why[0] = '\0';
		assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), -VG_EFORMAT);
		assert_null(s);
		assert_non_null(strstr(why, "yuyv422"));	/* says what would do */
	}
}

static void file_shorter_than_one_frame_is_eformat(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "yuyv422", 10, 6);
	struct vg_source *s = NULL;
	char why[256] = "";

	cam.file_loop = 1;
	write_frames(fx->path, 0, 10 * 2 * 6, 100);
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), -VG_EFORMAT);
	assert_null(s);
}

/* ---- file of H.264 ---- */

#define H264_FRAMES 5

/*
 * Write H264_FRAMES pictures of a moving test pattern as H.264 Annex B
 * (libx264, SPS/PPS in the stream, an IDR first) and keep each access
 * unit's bytes, to compare with what the source hands out.
 */
static void write_h264(const char *path, AVPacket *units[H264_FRAMES])
{
	const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
	AVCodecContext *c;
	AVFrame *fr = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();
	FILE *out = fopen(path, "wb");
	int n = 0;

	if (codec == NULL)
		fail_msg("this FFmpeg has no libx264 encoder");
	c = avcodec_alloc_context3(codec);
	assert_non_null(c);
	assert_non_null(out);
	c->width = 64;
	c->height = 48;
	c->pix_fmt = AV_PIX_FMT_YUV420P;
	c->time_base = (AVRational){ 1, 25 };
	c->gop_size = 100;
	c->max_b_frames = 0;
	c->thread_count = 1;
	av_opt_set(c->priv_data, "preset", "ultrafast", 0);
	assert_int_equal(avcodec_open2(c, codec, NULL), 0);
	fr->format = c->pix_fmt;
	fr->width = c->width;
	fr->height = c->height;
	assert_int_equal(av_frame_get_buffer(fr, 0), 0);
	for (int k = 0; k <= H264_FRAMES; k++) {
		if (k < H264_FRAMES) {
			assert_int_equal(av_frame_make_writable(fr), 0);
			for (int p = 0; p < 3; p++)
				for (int y = 0; y < (p ? 24 : 48); y++)
					for (int x = 0; x < (p ? 32 : 64); x++)
						fr->data[p][y * fr->linesize[p] + x] =
							(uint8_t)(x * 3 + y + 11 * k + 50 * p);
			fr->pts = k;
		}
		assert_int_equal(avcodec_send_frame(c, k < H264_FRAMES ? fr : NULL), 0);
		while (avcodec_receive_packet(c, pkt) == 0) {
			assert_true(n < H264_FRAMES);
			assert_int_equal(fwrite(pkt->data, 1, (size_t)pkt->size, out),
					 (size_t)pkt->size);
			units[n++] = av_packet_clone(pkt);
			av_packet_unref(pkt);
		}
	}
	assert_int_equal(n, H264_FRAMES);
	assert_int_equal(fclose(out), 0);
	av_packet_free(&pkt);
	av_frame_free(&fr);
	avcodec_free_context(&c);
}

/* pixel_format = "h264" with loop = true: the file plays again from the
 * top, the same access units in the same order, the first a keyframe
 * again, sequence numbers and timestamps still rising (issue 16, point 6). */
static void h264file_loop_wraps_with_rising_timestamps(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "h264", 64, 48);
	AVPacket *units[H264_FRAMES];
	struct vg_source *s = NULL;
	struct vg_source_info info;
	struct vg_source_frame f = { 0 };
	char why[256] = "";
	int64_t prev = 0;
	int j;

	write_h264(fx->path, units);

	/* Without loop: the five units, then the end. */
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	vg_source_info(s, &info);
	assert_int_equal(info.codec, AV_CODEC_ID_H264);
	for (j = 0; j < H264_FRAMES; j++) {
		assert_int_equal(vg_source_read(s, &f, 1000), 0);
		assert_non_null(f.packet);
		vg_source_frame_release(&f);
	}
	assert_int_equal(vg_source_read(s, &f, 1000), 1);
	vg_source_close(s);

	cam.file_loop = 1;
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	for (j = 0; j < 3 * H264_FRAMES + 2; j++) {
		const AVPacket *want = units[j % H264_FRAMES];

		assert_int_equal(vg_source_read(s, &f, 1000), 0);
		assert_non_null(f.packet);
		assert_int_equal(f.packet->size, want->size);
		assert_memory_equal(f.packet->data, want->data, (size_t)want->size);
		assert_int_equal((f.packet->flags & AV_PKT_FLAG_KEY) != 0, j % H264_FRAMES == 0);
		assert_int_equal(f.sequence, j);
		if (j > 0)
			assert_int_equal(f.ts_utc_us - prev, 40000);
		prev = f.ts_utc_us;
		vg_source_frame_release(&f);
	}
	vg_source_close(s);
	for (j = 0; j < H264_FRAMES; j++)
		av_packet_free(&units[j]);
	assert_int_equal(fx->warn_lines, 0);
}

/* A file with no whole access unit in it cannot loop for ever. */
static void h264file_loop_of_nothing_ends(void **state)
{
	struct fixture *fx = *state;
	struct vg_camera_config cam = cam_file(fx->path, "h264", 64, 48);
	struct vg_source *s = NULL;
	struct vg_source_frame f = { 0 };
	char why[256] = "";

	cam.file_loop = 1;
	write_frames(fx->path, 0, 16, 0);	/* an empty file */
	assert_int_equal(vg_source_open(&s, &cam, why, sizeof(why)), 0);
	assert_int_equal(vg_source_read(s, &f, 1000), 1);
	assert_null(f.packet);
	vg_source_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(synth_frames_have_size_format_and_timestamps,
						setup, teardown),
		cmocka_unit_test(synth_timestamps_do_not_drift),
		cmocka_unit_test(synth_paced_frame_not_due_yet),
		cmocka_unit_test(synth_frames_outlive_close),
		cmocka_unit_test(synth_rejects_bad_size),
		cmocka_unit_test_setup_teardown(file_frames_come_back_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(file_planar_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(file_loop_wraps_with_rising_timestamps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(file_trailing_partial_frame_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(file_frames_outlive_close, setup, teardown),
		cmocka_unit_test_setup_teardown(file_paced_frame_not_due_yet, setup, teardown),
		cmocka_unit_test_setup_teardown(file_missing_is_nodev, setup, teardown),
		cmocka_unit_test_setup_teardown(file_bad_pix_fmt_is_eformat, setup, teardown),
		cmocka_unit_test_setup_teardown(file_shorter_than_one_frame_is_eformat, setup,
						teardown),
		cmocka_unit_test_setup_teardown(h264file_loop_wraps_with_rising_timestamps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(h264file_loop_of_nothing_ends, setup, teardown),
	};

	vg_log_set_level(VG_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
