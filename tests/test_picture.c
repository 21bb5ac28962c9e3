/*
 * test_picture.c - privacy masks and the evidential overlay (picture.h).
 *
 * Pictures are made in memory from a seeded pseudo-random generator, so
 * every frame differs from the last everywhere; a masked pixel that still
 * shows any of that content fails the uniformity checks. Nothing is
 * written to disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libavutil/buffer.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>

#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/picture.h"

#define W 320
#define H 240

static uint32_t rng = 12345;

static uint8_t rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return (uint8_t)(rng >> 16);
}

/* A frame of random content (values 40..200 so they never equal the
 * mask's black by chance in a whole region). */
static AVFrame *random_frame(enum AVPixelFormat fmt)
{
	AVFrame *f = av_frame_alloc();
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
	int p, y, x;

	assert_non_null(f);
	f->format = fmt;
	f->width = W;
	f->height = H;
	assert_int_equal(av_frame_get_buffer(f, 0), 0);
	for (p = 0; p < 4 && f->data[p] != NULL; p++)
		for (y = 0; y < (p == 0 ? H : -((-H) >> d->log2_chroma_h)); y++)
			for (x = 0; x < f->linesize[p]; x++)
				f->data[p][(size_t)y * f->linesize[p] + x] =
					(uint8_t)(40 + rnd() % 160);
	return f;
}

static void set_rect(struct vg_mask *m, double x, double y, double w, double h, double *xy)
{
	xy[0] = x;
	xy[1] = y;
	xy[2] = x + w;
	xy[3] = y;
	xy[4] = x + w;
	xy[5] = y + h;
	xy[6] = x;
	xy[7] = y + h;
	m->xy = xy;
	m->n_points = 4;
	m->from_rect = 1;
}

static void base_cam(struct vg_camera_config *cam)
{
	memset(cam, 0, sizeof(*cam));
	cam->name = "stairwell-1";
	cam->width = W;
	cam->height = H;
	cam->overlay_enabled = 0;
}

static uint8_t y_at(const AVFrame *f, int x, int y)
{
	return f->data[0][(size_t)y * f->linesize[0] + x];
}

/* Masked rectangle (x 64..127, y 48..95 at 320x240): the same value in
 * every plane and every frame; unmasked pixels keep changing. */
static void test_masked_region_uniform_over_frames(void **state)
{
	struct vg_camera_config cam;
	struct vg_mask m;
	double xy[8];
	struct vg_picture *p = NULL;
	int k, x, y;
	uint8_t prev_unmasked = 0;
	int unmasked_changed = 0;

	(void)state;
	base_cam(&cam);
	set_rect(&m, 0.2, 0.2, 0.2, 0.2, xy);
	cam.masks = &m;
	cam.n_masks = 1;
	assert_int_equal(vg_picture_new(&p, &cam, W, H, AV_PIX_FMT_YUV420P), 0);
	for (k = 0; k < 5; k++) {
		AVFrame *in = random_frame(AV_PIX_FMT_YUV420P), *out = NULL;

		assert_int_equal(vg_picture_apply(p, in, 1700000000000000LL + k * 66666, &out),
				 0);
		assert_non_null(out);
		for (y = 48; y < 96; y++)
			for (x = 64; x < 128; x++)
				assert_int_equal(y_at(out, x, y), 16);
		for (y = 24; y < 48; y++)
			for (x = 32; x < 64; x++) {
				assert_int_equal(out->data[1][(size_t)y * out->linesize[1] + x], 128);
				assert_int_equal(out->data[2][(size_t)y * out->linesize[2] + x], 128);
			}
		/* just outside the mask: the picture as it came */
		assert_int_equal(y_at(out, 63, 60), y_at(in, 63, 60));
		assert_int_equal(y_at(out, 128, 60), y_at(in, 128, 60));
		assert_int_equal(y_at(out, 100, 47), y_at(in, 100, 47));
		assert_int_equal(y_at(out, 100, 96), y_at(in, 100, 96));
		if (k > 0 && y_at(out, 10, 10) != prev_unmasked)
			unmasked_changed++;
		prev_unmasked = y_at(out, 10, 10);
		av_frame_free(&in);
		av_frame_free(&out);
	}
	assert_true(unmasked_changed >= 3);
	vg_picture_free(p);
}

/* A triangle on a packed YUYV picture: inside black, outside untouched. */
static void test_polygon_mask_covers_right_pixels(void **state)
{
	struct vg_camera_config cam;
	struct vg_mask m;
	/* top-left half of the picture, below the diagonal x + y = 1 */
	double xy[6] = { 0.0, 0.0, 1.0, 0.0, 0.0, 1.0 };
	struct vg_picture *p = NULL;
	AVFrame *in, *out = NULL;
	const uint8_t *row;

	(void)state;
	base_cam(&cam);
	m.xy = xy;
	m.n_points = 3;
	m.from_rect = 0;
	cam.masks = &m;
	cam.n_masks = 1;
	assert_int_equal(vg_picture_new(&p, &cam, W, H, AV_PIX_FMT_YUYV422), 0);
	in = random_frame(AV_PIX_FMT_YUYV422);
	assert_int_equal(vg_picture_apply(p, in, 0, &out), 0);
	assert_int_equal(out->format, AV_PIX_FMT_YUYV422);
	/* (40, 40): inside. Y at byte 2x, U at 4(x/2)+1, V at 4(x/2)+3 */
	row = out->data[0] + (size_t)40 * out->linesize[0];
	assert_int_equal(row[80], 16);
	assert_int_equal(row[81], 128);
	assert_int_equal(row[83], 128);
	/* (300, 220): outside, unchanged */
	row = out->data[0] + (size_t)220 * out->linesize[0];
	assert_memory_equal(row + 600, in->data[0] + (size_t)220 * in->linesize[0] + 600, 4);
	assert_int_not_equal(row[600], 16);
	/* just either side of the diagonal on row 120: x + 0.5 < 160 * (1 - 120.5/240) */
	row = out->data[0] + (size_t)120 * out->linesize[0];
	assert_int_equal(row[2 * 158], 16);
	assert_int_equal(row[2 * 161], in->data[0][(size_t)120 * in->linesize[0] + 2 * 161]);
	av_frame_free(&in);
	av_frame_free(&out);
	vg_picture_free(p);
}

/* The overlay box at the top left differs from the same picture without
 * it; elsewhere the two are equal. */
static void test_overlay_present_by_default_position(void **state)
{
	struct vg_camera_config cam;
	struct vg_picture *on = NULL, *off = NULL;
	AVFrame *in, *a = NULL, *b = NULL;
	int x, y, diff_box = 0, diff_far = 0;

	(void)state;
	base_cam(&cam);
	assert_int_equal(vg_picture_new(&off, &cam, W, H, AV_PIX_FMT_YUV420P), 0);
	cam.overlay_enabled = 1;	/* what the config gives by default */
	assert_int_equal(vg_picture_new(&on, &cam, W, H, AV_PIX_FMT_YUV420P), 0);
	assert_int_equal(vg_picture_out_format(on), AV_PIX_FMT_YUV420P);
	in = random_frame(AV_PIX_FMT_YUV420P);
	in->pts = 4242;
	assert_int_equal(vg_picture_apply(on, in, 1795960987000000LL, &a), 0);
	assert_int_equal(vg_picture_apply(off, in, 1795960987000000LL, &b), 0);
	assert_int_equal(a->pts, 4242);
	/* default size H/24 = 10 px, margin 5: the text starts near (5, 5) */
	for (y = 4; y < 16; y++)
		for (x = 4; x < 120; x++)
			diff_box += y_at(a, x, y) != y_at(b, x, y);
	for (y = 120; y < H; y++)
		for (x = 160; x < W; x++)
			diff_far += y_at(a, x, y) != y_at(b, x, y);
	assert_true(diff_box > 200);
	assert_int_equal(diff_far, 0);
	av_frame_free(&a);
	av_frame_free(&b);

	/* bottom-right: the top-left corner is now untouched */
	vg_picture_free(on);
	cam.overlay_position = VG_OVERLAY_BOTTOM_RIGHT;
	assert_int_equal(vg_picture_new(&on, &cam, W, H, AV_PIX_FMT_YUV420P), 0);
	assert_int_equal(vg_picture_apply(on, in, 1795960987000000LL, &a), 0);
	diff_box = diff_far = 0;
	for (y = 4; y < 16; y++)
		for (x = 4; x < 120; x++)
			diff_box += y_at(a, x, y) != y_at(in, x, y);
	for (y = H - 16; y < H - 4; y++)
		for (x = W - 60; x < W - 4; x++)
			diff_far += y_at(a, x, y) != y_at(in, x, y);
	assert_int_equal(diff_box, 0);
	assert_true(diff_far > 100);
	av_frame_free(&a);
	av_frame_free(&in);
	vg_picture_free(on);
	vg_picture_free(off);
}

static void free_mapped(void *opaque, uint8_t *data)
{
	munmap(data, (size_t)(uintptr_t)opaque);
}

/* A driver-like buffer mapped read-only: any write into it would crash
 * the test, and its bytes must be unchanged afterwards. */
static void test_read_only_input_not_written(void **state)
{
	struct vg_camera_config cam;
	struct vg_mask m;
	double xy[8];
	struct vg_picture *p = NULL;
	size_t ysz = (size_t)W * H, csz = ysz / 4, total = ysz + 2 * csz;
	uint8_t *mem, *copy;
	AVFrame *in, *out = NULL;
	size_t i;

	(void)state;
	mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	for (i = 0; i < total; i++)
		mem[i] = (uint8_t)(40 + rnd() % 160);
	copy = malloc(total);
	assert_non_null(copy);
	memcpy(copy, mem, total);
	assert_int_equal(mprotect(mem, total, PROT_READ), 0);

	in = av_frame_alloc();
	assert_non_null(in);
	in->format = AV_PIX_FMT_YUV420P;
	in->width = W;
	in->height = H;
	in->buf[0] = av_buffer_create(mem, total, free_mapped, (void *)(uintptr_t)total,
				      AV_BUFFER_FLAG_READONLY);
	assert_non_null(in->buf[0]);
	in->data[0] = mem;
	in->data[1] = mem + ysz;
	in->data[2] = mem + ysz + csz;
	in->linesize[0] = W;
	in->linesize[1] = W / 2;
	in->linesize[2] = W / 2;

	base_cam(&cam);
	set_rect(&m, 0.5, 0.5, 0.25, 0.25, xy);
	cam.masks = &m;
	cam.n_masks = 1;
	cam.overlay_enabled = 1;
	/* masks and overlay */
	assert_int_equal(vg_picture_new(&p, &cam, W, H, AV_PIX_FMT_YUV420P), 0);
	assert_int_equal(vg_picture_apply(p, in, 1700000000000000LL, &out), 0);
	assert_int_equal(y_at(out, 200, 150), 16);
	av_frame_free(&out);
	vg_picture_free(p);
	/* overlay alone: drawtext must copy rather than draw in place */
	cam.n_masks = 0;
	assert_int_equal(vg_picture_new(&p, &cam, W, H, AV_PIX_FMT_YUV420P), 0);
	assert_int_equal(vg_picture_apply(p, in, 1700000000000000LL, &out), 0);
	assert_ptr_not_equal(out->data[0], mem);
	av_frame_free(&out);
	/* handed over, a read-only buffer is still copied, not drawn on */
	{
		AVFrame *ref = av_frame_clone(in);

		assert_non_null(ref);
		assert_int_equal(vg_picture_apply_take(p, &ref, 1700000000000000LL, &out), 0);
		assert_null(ref);
		assert_ptr_not_equal(out->data[0], mem);
		av_frame_free(&out);
	}
	vg_picture_free(p);

	assert_memory_equal(mem, copy, total);
	free(copy);
	av_frame_free(&in);
}

/* A picture the caller converted itself and hands over is drawn on where
 * it is (no second 720p buffer per camera, no copy per picture); one that
 * someone else still holds is copied, and their pixels stay as they were. */
static void test_own_picture_drawn_in_place(void **state)
{
	struct vg_camera_config cam;
	struct vg_mask m;
	double xy[8];
	struct vg_picture *p = NULL;
	AVFrame *in, *held, *out = NULL;
	uint8_t *where, *before;
	size_t ysz = (size_t)W * H;
	int x, y, diff = 0;

	(void)state;
	base_cam(&cam);
	set_rect(&m, 0.5, 0.5, 0.25, 0.25, xy);
	cam.masks = &m;
	cam.n_masks = 1;
	cam.overlay_enabled = 1;
	assert_int_equal(vg_picture_new(&p, &cam, W, H, AV_PIX_FMT_YUV420P), 0);

	in = random_frame(AV_PIX_FMT_YUV420P);
	in->pts = 77;
	where = in->data[0];
	assert_int_equal(vg_picture_apply_take(p, &in, 1700000000000000LL, &out), 0);
	assert_null(in);
	assert_ptr_equal(out->data[0], where);
	assert_int_equal(out->pts, 77);
	assert_int_equal(y_at(out, 200, 150), 16);	/* masked */
	av_frame_free(&out);

	/* shared: the other holder's picture is not drawn on */
	in = random_frame(AV_PIX_FMT_YUV420P);
	held = av_frame_clone(in);
	assert_non_null(held);
	before = malloc(ysz);
	assert_non_null(before);
	for (y = 0; y < H; y++)
		memcpy(before + (size_t)y * W, held->data[0] + (size_t)y * held->linesize[0], W);
	assert_int_equal(vg_picture_apply_take(p, &in, 1700000000000000LL, &out), 0);
	assert_null(in);
	assert_ptr_not_equal(out->data[0], held->data[0]);
	assert_int_equal(y_at(out, 200, 150), 16);
	for (y = 0; y < H; y++)
		for (x = 0; x < W; x++)
			diff += y_at(held, x, y) != before[(size_t)y * W + x];
	assert_int_equal(diff, 0);
	free(before);
	av_frame_free(&out);
	av_frame_free(&held);
	vg_picture_free(p);
}

static void test_wrong_size_or_format_refused(void **state)
{
	struct vg_camera_config cam;
	struct vg_picture *p = NULL;
	AVFrame *in, *out = (AVFrame *)1;

	(void)state;
	base_cam(&cam);
	cam.overlay_enabled = 1;
	assert_int_equal(vg_picture_new(&p, &cam, W, H, AV_PIX_FMT_RGB24), -VG_EFORMAT);
	assert_null(p);
	assert_int_equal(vg_picture_new(&p, &cam, W, H, AV_PIX_FMT_NV12), 0);
	in = random_frame(AV_PIX_FMT_YUV420P);
	assert_int_equal(vg_picture_apply(p, in, 0, &out), -VG_EINVAL);
	assert_null(out);
	av_frame_free(&in);
	vg_picture_free(p);
	vg_picture_free(NULL);
}

static void test_outlines_drawn_on_mask_edges(void **state)
{
	struct vg_camera_config cam;
	struct vg_mask m;
	double xy[8];
	struct vg_picture *p = NULL;
	AVFrame *in, *out = NULL, *ref;

	(void)state;
	base_cam(&cam);
	set_rect(&m, 0.25, 0.25, 0.5, 0.5, xy);	/* x 80..240, y 60..180 */
	cam.masks = &m;
	cam.n_masks = 1;
	assert_int_equal(vg_picture_new(&p, &cam, W, H, AV_PIX_FMT_YUV420P), 0);
	in = random_frame(AV_PIX_FMT_YUV420P);
	assert_int_equal(vg_picture_apply(p, in, 0, &out), 0);
	ref = av_frame_clone(out);	/* shares out's buffer */
	assert_non_null(ref);
	assert_int_equal(vg_picture_draw_outlines(p, out), 0);
	assert_int_equal(y_at(out, 80, 120), 210);	/* left edge */
	assert_int_equal(y_at(out, 160, 60), 210);	/* top edge */
	assert_int_equal(y_at(out, 160, 120), 16);	/* inside stays black */
	assert_int_equal(y_at(out, 20, 20), y_at(in, 20, 20));	/* far outside */
	/* the other reference to the old buffer is not drawn on */
	assert_int_equal(y_at(ref, 80, 120), 16);
	av_frame_free(&ref);
	av_frame_free(&out);
	av_frame_free(&in);
	vg_picture_free(p);
}

static void test_coverage_and_needed(void **state)
{
	struct vg_camera_config cam;
	struct vg_mask m[2];
	double a[8], b[8];

	(void)state;
	base_cam(&cam);
	assert_int_equal(vg_picture_needed(&cam), 0);
	assert_true(vg_mask_coverage(&cam) == 0.0);
	cam.overlay_enabled = 1;
	assert_int_equal(vg_picture_needed(&cam), 1);
	cam.overlay_enabled = 0;
	set_rect(&m[0], 0.0, 0.0, 0.5, 1.0, a);
	set_rect(&m[1], 0.25, 0.0, 0.5, 1.0, b);	/* overlaps the first by half */
	cam.masks = m;
	cam.n_masks = 1;
	assert_int_equal(vg_picture_needed(&cam), 1);
	assert_true(vg_mask_coverage(&cam) > 0.499 &&
		    vg_mask_coverage(&cam) < 0.501);
	cam.n_masks = 2;
	assert_true(vg_mask_coverage(&cam) > 0.749 &&
		    vg_mask_coverage(&cam) < 0.751);
}

/* Local time with the zone, as the image's TZ (Europe/London) gives it. */
static void test_time_text_local_with_zone(void **state)
{
	char buf[64];

	(void)state;
	setenv("TZ", "Europe/London", 1);
	tzset();
	/* 2026-11-29 14:03:07 UTC: winter, GMT */
	assert_int_equal(vg_picture_time_text(1795960987000000LL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-11-29 14:03:07 GMT");
	/* 2026-07-01 12:00:00 UTC: summer, an hour ahead */
	assert_int_equal(vg_picture_time_text(1782907200500000LL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-07-01 13:00:00 BST");
	assert_int_equal(vg_picture_time_text(0, buf, 4), -VG_EINVAL);
}


/* ------------------------------------------------------------------ */
/* The overlay is always whole (issue 12) */

static const int pictures[][2] = {
	{ 320, 240 }, { 640, 360 }, { 640, 480 }, { 800, 600 }, { 1280, 720 }, { 1920, 1080 },
};

/* A name of n characters: "s80-stairwell-..." style (breaks at '-') or
 * one long word (hard breaks). */
static void make_name(char *buf, int n, int dashed)
{
	static const char words[] = "s80-stairwell-1-north-entrance-bins-and-lift";
	int i;

	for (i = 0; i < n; i++)
		buf[i] = dashed ? words[i] : (char)('a' + i % 26);
	buf[n] = '\0';
}

static int box_inside(const struct vg_overlay_layout *l, int w, int h)
{
	return l->x >= 2 && l->y >= 2 && l->x + l->w <= w - 2 && l->y + l->h <= h - 2 &&
	       l->w > 0 && l->h > 0;
}

/* Every position x every size 8..200 x every name length 1..32 (two
 * shapes) x picture sizes 320x240..1920x1080: whenever a size is accepted
 * its box lies inside the picture with room for the whole date line, and
 * the layout vigild draws (the size, or the largest that fits) always
 * exists and is inside. */
static void test_overlay_layout_sweep(void **state)
{
	struct vg_camera_config cam;
	struct vg_overlay_layout l;
	char name[VG_CAMERA_NAME_MAX + 1];
	long fits = 0, refused = 0, wrapped = 0;
	size_t p;
	int pos, size, n, dashed;

	(void)state;
	memset(&cam, 0, sizeof(cam));
	cam.overlay_enabled = 1;
	for (p = 0; p < sizeof(pictures) / sizeof(pictures[0]); p++) {
		int w = pictures[p][0], h = pictures[p][1];

		for (pos = 0; pos < 4; pos++) {
			for (n = 1; n <= VG_CAMERA_NAME_MAX; n++) {
				for (dashed = 0; dashed < 2; dashed++) {
					int max;

					make_name(name, n, dashed);
					max = vg_overlay_max_size((enum vg_overlay_pos)pos, name, w, h);
					assert_true(max >= VG_OVERLAY_SIZE_MIN);
					for (size = VG_OVERLAY_SIZE_MIN; size <= VG_OVERLAY_SIZE_MAX;
					     size++) {
						int r = vg_overlay_fit(size, (enum vg_overlay_pos)pos,
								       name, w, h, &l);

						assert_true(size <= max || r < 0);
						if (r < 0) {
							refused++;
							continue;
						}
						fits++;
						wrapped += l.lines > 1;
						if (!box_inside(&l, w, h))
							fail_msg("%dx%d pos %d size %d name %d: box "
								 "%d,%d %dx%d outside", w, h, pos,
								 size, n, l.x, l.y, l.w, l.h);
						/* the date line, zone included, fits the box */
						assert_true(l.w - 2 * l.border >=
							    ((size * 1233 + 1024) / 2048) *
							    (20 + VG_OVERLAY_ZONE_CHARS));
						/* right and bottom keep the same margin */
						if (pos == VG_OVERLAY_TOP_RIGHT ||
						    pos == VG_OVERLAY_BOTTOM_RIGHT)
							assert_int_equal(l.x + l.w, w - l.margin +
									 l.border);
						if (pos >= VG_OVERLAY_BOTTOM_LEFT)
							assert_int_equal(l.y + l.h, h - l.margin +
									 l.border);
					}
					/* what vigild draws, whatever was configured */
					cam.name = name;
					cam.overlay_position = (enum vg_overlay_pos)pos;
					for (size = 0; size <= VG_OVERLAY_SIZE_MAX;
					     size = size ? size + 7 : VG_OVERLAY_SIZE_MIN) {
						struct vg_overlay_layout as_set;
						int r;

						cam.overlay_size = size;
						r = vg_overlay_layout(&cam, w, h, &l);
						assert_true(r >= 0);
						assert_true(box_inside(&l, w, h));
						/* the size as configured whenever it fits */
						if (size > 0 && vg_overlay_fit(size, cam.overlay_position,
									       name, w, h, &as_set) == 0)
							assert_true(r == 0 && l.size == size);
						else if (size > 0)
							assert_true(r == 1 && l.size < size);
					}
				}
			}
		}
	}
	/* the sweep met all three outcomes */
	assert_true(fits > 0 && refused > 0 && wrapped > 0);
	/* the smallest picture a config allows still gets its overlay */
	make_name(name, VG_CAMERA_NAME_MAX, 0);
	assert_true(vg_overlay_max_size(VG_OVERLAY_TOP_LEFT, name, 160, 120) >=
		    VG_OVERLAY_SIZE_MIN);
}

/* A flat grey picture of w x h; what the overlay changes stands out. */
static AVFrame *grey_frame(int w, int h)
{
	AVFrame *f = av_frame_alloc();

	assert_non_null(f);
	f->format = AV_PIX_FMT_YUV420P;
	f->width = w;
	f->height = h;
	assert_int_equal(av_frame_get_buffer(f, 0), 0);
	for (int y = 0; y < h; y++)
		memset(f->data[0] + (size_t)y * f->linesize[0], 128, (size_t)w);
	for (int y = 0; y < (h + 1) / 2; y++) {
		memset(f->data[1] + (size_t)y * f->linesize[1], 128, (size_t)(w + 1) / 2);
		memset(f->data[2] + (size_t)y * f->linesize[2], 128, (size_t)(w + 1) / 2);
	}
	return f;
}

/* The real thing: drawtext renders the overlay on grey pictures, and the
 * pixels it changed must lie inside the layout's box (so the box the
 * sweep checks is a true bound), away from every edge, and span the whole
 * date line (nothing was cut). Sizes that do not fit are drawn at the
 * largest that does. */
static void test_overlay_render_inside_layout(void **state)
{
	static const int sizes[] = { 0, 8, 12, 20, 33, 47, 60, 80, 100, 150, 200 };
	static const int pics[][2] = { { 320, 240 }, { 1280, 720 }, { 1920, 1080 } };
	static const char *const names[] = {
		"a", "s80-stairwell-1-north-entrance", "abcdefghijklmnopqrstuvwxyzabcdef",
	};
	struct vg_camera_config cam;
	size_t p, k, q;
	int pos;

	(void)state;
	setenv("TZ", "Europe/London", 1);
	tzset();
	base_cam(&cam);
	cam.overlay_enabled = 1;
	for (p = 0; p < sizeof(pics) / sizeof(pics[0]); p++) {
		int w = pics[p][0], h = pics[p][1];
		AVFrame *in = grey_frame(w, h);

		for (pos = 0; pos < 4; pos++) {
			for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
				for (q = 0; q < sizeof(names) / sizeof(names[0]); q++) {
					struct vg_overlay_layout l;
					struct vg_picture *pic = NULL;
					AVFrame *out = NULL;
					int x0 = w, y0 = h, x1 = -1, y1 = -1, x, y, adv;

					cam.name = (char *)names[q];
					cam.overlay_size = sizes[k];
					cam.overlay_position = (enum vg_overlay_pos)pos;
					cam.width = w;
					cam.height = h;
					assert_true(vg_overlay_layout(&cam, w, h, &l) >= 0);
					assert_int_equal(vg_picture_new(&pic, &cam, w, h,
									AV_PIX_FMT_YUV420P), 0);
					/* 2026-07-01 13:00:00 BST */
					assert_int_equal(vg_picture_apply(pic, in, 1782907200000000LL,
									  &out), 0);
					for (y = 0; y < h; y++)
						for (x = 0; x < w; x++)
							if (abs(y_at(out, x, y) - 128) > 8) {
								x0 = x < x0 ? x : x0;
								x1 = x > x1 ? x : x1;
								y0 = y < y0 ? y : y0;
								y1 = y > y1 ? y : y1;
							}
					if (x0 < l.x || x1 >= l.x + l.w || y0 < l.y || y1 >= l.y + l.h ||
					    x0 < 2 || y0 < 2 || x1 > w - 3 || y1 > h - 3)
						fail_msg("%dx%d pos %d size %d name '%s': drawn %d,%d-%d,%d "
							 "outside box %d,%d %dx%d", w, h, pos, sizes[k],
							 names[q], x0, y0, x1, y1, l.x, l.y, l.w, l.h);
					/* "2026-07-01 13:00:00 BST" whole: 23 advances and the box */
					adv = (l.size * 1233 + 1024) / 2048;
					assert_true(x1 - x0 + 1 >= 23 * adv + 2 * l.border);
					/* the rest of the picture is untouched */
					assert_int_equal(y_at(out, pos % 2 ? 0 : w - 1,
							      pos < 2 ? h - 1 : 0), 128);
					av_frame_free(&out);
					vg_picture_free(pic);
				}
			}
		}
		av_frame_free(&in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_masked_region_uniform_over_frames),
		cmocka_unit_test(test_polygon_mask_covers_right_pixels),
		cmocka_unit_test(test_overlay_present_by_default_position),
		cmocka_unit_test(test_read_only_input_not_written),
		cmocka_unit_test(test_own_picture_drawn_in_place),
		cmocka_unit_test(test_wrong_size_or_format_refused),
		cmocka_unit_test(test_outlines_drawn_on_mask_edges),
		cmocka_unit_test(test_coverage_and_needed),
		cmocka_unit_test(test_time_text_local_with_zone),
		cmocka_unit_test(test_overlay_layout_sweep),
		cmocka_unit_test(test_overlay_render_inside_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
