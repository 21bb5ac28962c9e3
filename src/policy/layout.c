/*
 * layout.c - where the privacy masks and the evidential overlay fall on a
 * camera's picture: arithmetic on the config only, no FFmpeg. Split from
 * picture.c so that the config check (config.c, confcheck.c), which
 * vigilctl links, needs none of the capture and encoding code.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/err.h"
#include "vigil/layout.h"

/* ------------------------------------------------------------------ */
/* Masks */

/* Mark the pixels of w x h whose centre lies inside the relative polygon
 * xy (n points), even-odd rule, in bitmap. */
static void raster_polygon(uint8_t *bitmap, int w, int h, const double *xy, int n)
{
	double xs[64];
	int y, i;

	for (y = 0; y < h; y++) {
		double cy = y + 0.5;
		int nx = 0;

		for (i = 0; i < n && nx < 64; i++) {
			int j = (i + 1) % n;
			double x1 = xy[2 * i] * w, y1 = xy[2 * i + 1] * h;
			double x2 = xy[2 * j] * w, y2 = xy[2 * j + 1] * h;

			if ((y1 <= cy && cy < y2) || (y2 <= cy && cy < y1))
				xs[nx++] = x1 + (cy - y1) * (x2 - x1) / (y2 - y1);
		}
		/* insertion sort: a handful of crossings per row */
		for (i = 1; i < nx; i++) {
			double v = xs[i];
			int k = i - 1;

			while (k >= 0 && xs[k] > v) {
				xs[k + 1] = xs[k];
				k--;
			}
			xs[k + 1] = v;
		}
		for (i = 0; i + 1 < nx; i += 2) {
			/* pixels whose centre x + 0.5 is in [xs[i], xs[i+1]) */
			int a = (int)ceil(xs[i] - 0.5);
			int b = (int)ceil(xs[i + 1] - 0.5);
			int x;

			if (a < 0)
				a = 0;
			if (b > w)
				b = w;
			for (x = a; x < b; x++)
				bitmap[(size_t)y * w + x] = 1;
		}
	}
}

uint8_t *vg_mask_raster(const struct vg_mask *masks, int n, int w, int h)
{
	uint8_t *bitmap = calloc((size_t)w * h, 1);
	int i;

	if (bitmap == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (masks[i].xy != NULL && masks[i].n_points >= 3)
			raster_polygon(bitmap, w, h, masks[i].xy, masks[i].n_points);
	return bitmap;
}

double vg_mask_coverage(const struct vg_camera_config *cam)
{
	uint8_t *bitmap;
	size_t i, n, covered = 0;

	if (cam == NULL || cam->n_masks == 0 || cam->width <= 0 || cam->height <= 0)
		return 0;
	bitmap = vg_mask_raster(cam->masks, cam->n_masks, cam->width, cam->height);
	if (bitmap == NULL)
		return 0;
	n = (size_t)cam->width * cam->height;
	for (i = 0; i < n; i++)
		covered += bitmap[i];
	free(bitmap);
	return (double)covered / (double)n;
}

/* ------------------------------------------------------------------ */
/* Overlay layout */

/* DejaVu Sans Mono Bold, as drawtext lays it out: every glyph advances
 * 1233/2048 of the font size, rounded to whole pixels; the tallest glyph
 * vigil can draw ([a-z0-9_-], digits, ':', capitals of zone names) is at
 * most 1.1 x size high, and each line of the box is that high. Measured
 * for every size 8..200 and checked against real renders by
 * tests/test_picture.c. */
static int glyph_advance(int size)
{
	return (size * 1233 + 1024) / 2048;
}

static int line_height(int size)
{
	return (11 * size + 9) / 10;
}

/* "YYYY-MM-DD HH:MM:SS " and the zone */
#define DATE_CHARS (20 + VG_OVERLAY_ZONE_CHARS)

/* Cut name into lines of at most per characters, after its last '-' or
 * '_' that keeps the line full enough ("stairwell-1-north-entrance" ->
 * "stairwell-1-north-", "entrance"), else at per. ends[k] is where line k
 * ends; returns the number of lines. */
int vg_overlay_wrap_name(const char *name, int per, int ends[VG_CAMERA_NAME_MAX])
{
	int n = (int)strlen(name), i = 0, k = 0;

	while (i < n && k < VG_CAMERA_NAME_MAX) {
		int end = i + per < n ? i + per : n, j;

		for (j = end - 1; end < n && j > i + per / 2; j--) {
			if (name[j] == '-' || name[j] == '_') {
				end = j + 1;
				break;
			}
		}
		ends[k++] = end;
		i = end;
	}
	return k;
}

int vg_overlay_fit(int size, enum vg_overlay_pos pos, const char *name, int width, int height,
		   struct vg_overlay_layout *out)
{
	struct vg_overlay_layout l;
	int adv, avail_w, avail_h, chars, n, ends[VG_CAMERA_NAME_MAX], k;

	n = name != NULL ? (int)strlen(name) : -1;
	if (out == NULL || size < VG_OVERLAY_SIZE_MIN || size > VG_OVERLAY_SIZE_MAX ||
	    n < 0 || n > VG_CAMERA_NAME_MAX || width <= 0 || height <= 0 ||
	    (int)pos < 0 || pos > VG_OVERLAY_BOTTOM_RIGHT)
		return -VG_EINVAL;
	memset(&l, 0, sizeof(l));
	l.size = size;
	l.margin = size / 2 > 4 ? size / 2 : 4;
	l.border = size / 4 > 2 ? size / 4 : 2;
	adv = glyph_advance(size);
	avail_w = width - 2 * l.margin;
	avail_h = height - 2 * l.margin;
	chars = DATE_CHARS + 2 + n;
	if (adv * chars <= avail_w) {
		l.lines = 1;
		l.name_per_line = n;
	} else {
		/* the name on lines of its own, below the date */
		if (adv * DATE_CHARS > avail_w)
			return -VG_EINVAL;
		l.name_per_line = avail_w / adv;	/* >= DATE_CHARS */
		l.lines = 1 + vg_overlay_wrap_name(name, l.name_per_line, ends);
		chars = DATE_CHARS;
		for (k = 0; k + 1 < l.lines; k++) {
			int len = ends[k] - (k > 0 ? ends[k - 1] : 0);

			if (len > chars)
				chars = len;
		}
	}
	if (l.lines * line_height(size) > avail_h)
		return -VG_EINVAL;
	l.w = adv * chars + 2 * l.border;
	l.h = l.lines * line_height(size) + 2 * l.border;
	l.x = pos == VG_OVERLAY_TOP_RIGHT || pos == VG_OVERLAY_BOTTOM_RIGHT ?
	      width - l.margin + l.border - l.w : l.margin - l.border;
	l.y = pos == VG_OVERLAY_BOTTOM_LEFT || pos == VG_OVERLAY_BOTTOM_RIGHT ?
	      height - l.margin + l.border - l.h : l.margin - l.border;
	*out = l;
	return 0;
}

int vg_overlay_max_size(enum vg_overlay_pos pos, const char *name, int width, int height)
{
	struct vg_overlay_layout l;
	int s;

	/* Fitting is not monotonic in the size (wrapping changes at some
	 * sizes), so look from the top down. */
	for (s = VG_OVERLAY_SIZE_MAX; s >= VG_OVERLAY_SIZE_MIN; s--)
		if (vg_overlay_fit(s, pos, name, width, height, &l) == 0)
			return s;
	return 0;
}

int vg_overlay_layout(const struct vg_camera_config *cam, int width, int height,
		      struct vg_overlay_layout *out)
{
	int want, s;

	if (cam == NULL || out == NULL)
		return -VG_EINVAL;
	want = cam->overlay_size;
	if (want <= 0)
		want = height / 24 > 10 ? height / 24 : 10;
	if (want > VG_OVERLAY_SIZE_MAX)
		want = VG_OVERLAY_SIZE_MAX;
	if (want < VG_OVERLAY_SIZE_MIN)
		want = VG_OVERLAY_SIZE_MIN;
	for (s = want; s >= VG_OVERLAY_SIZE_MIN; s--)
		if (vg_overlay_fit(s, cam->overlay_position, cam->name ? cam->name : "", width,
				   height, out) == 0)
			return cam->overlay_size > 0 && s < cam->overlay_size;
	return -VG_EINVAL;
}
