/*
 * picture.c - privacy masks and the evidential overlay, applied to every
 * raw picture before it is encoded.
 *
 * Masks are done in C rather than with filters: drawbox cannot fill a
 * polygon, and a coverage table worked out once per stage makes filling
 * exact and cheap (a list of runs per plane, memset where the samples are
 * contiguous). The overlay is drawtext in a small filter graph (buffer ->
 * drawtext -> buffersink) whose text uses %{pts:localtime:...}: each
 * frame's pts is set to its capture time in microseconds, so the picture
 * shows the capture time, not the time it happened to be encoded.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>

#include "vigil/err.h"
#include "vigil/picture.h"
#define VG_LOG_MODULE "PIC"
#include "vigil/log.h"

/* The font the synthetic camera uses (Debian's fonts-dejavu-core). */
#define OVERLAY_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"

/* Mask fill: black. Limited-range luma black is 16, full range (yuvj) 0;
 * neutral chroma is 128 either way. */
#define BLACK_Y_LIMITED 16
#define BLACK_Y_FULL 0
#define CHROMA_NEUTRAL 128
/* Outline colour: yellow (BT.601 limited range). */
#define OUTLINE_Y 210
#define OUTLINE_U 16
#define OUTLINE_V 146

/* A horizontal run of masked samples in one component's grid. */
struct run {
	int y, x0, x1;		/* samples x0 .. x1-1 of row y */
};

/* Where one colour component lives in a frame (8-bit formats only). */
struct comp {
	int plane, step, offset;
	int sw, sh;		/* log2 subsampling */
	int cw, ch;		/* component grid size */
	uint8_t black;
	uint8_t outline;
	struct run *runs;
	int n_runs;
};

struct vg_picture {
	int width, height;
	enum AVPixelFormat fmt;
	enum AVPixelFormat out_fmt;
	struct comp comps[3];
	int n_comps;
	int has_masks;
	/* The masks, in relative coordinates, for outlines. */
	struct vg_mask *masks;
	int n_masks;
	/* The overlay; graph is NULL when it is off. */
	AVFilterGraph *graph;
	AVFilterContext *src, *sink;	/* owned by graph */
};

int vg_picture_needed(const struct vg_camera_config *cam)
{
	if (cam == NULL)
		return 0;
	return cam->n_masks > 0 || cam->overlay_enabled;
}

/* ------------------------------------------------------------------ */
/* Masks */

/* Runs of masked samples in one component's grid: a sample is masked when
 * any full-size pixel it covers is, so no colour of a masked pixel leaks
 * through a shared chroma sample. */
static int build_runs(struct comp *c, const uint8_t *bitmap, int w, int h)
{
	int cap = 0, cx, cy;

	for (cy = 0; cy < c->ch; cy++) {
		int start = -1;

		for (cx = 0; cx <= c->cw; cx++) {
			int m = 0, x, y;

			if (cx < c->cw) {
				for (y = cy << c->sh; y < ((cy + 1) << c->sh) && y < h && !m; y++)
					for (x = cx << c->sw; x < ((cx + 1) << c->sw) && x < w; x++)
						if (bitmap[(size_t)y * w + x]) {
							m = 1;
							break;
						}
			}
			if (m && start < 0) {
				start = cx;
			} else if (!m && start >= 0) {
				if (c->n_runs == cap) {
					int ncap = cap ? cap * 2 : 64;
					struct run *nr = realloc(c->runs, (size_t)ncap * sizeof(*nr));

					if (nr == NULL)
						return -VG_ENOMEM;
					c->runs = nr;
					cap = ncap;
				}
				c->runs[c->n_runs].y = cy;
				c->runs[c->n_runs].x0 = start;
				c->runs[c->n_runs].x1 = cx;
				c->n_runs++;
				start = -1;
			}
		}
	}
	return 0;
}

/* Component layout of an 8-bit YUV (or gray) format; -VG_EFORMAT else. */
static int layout(struct vg_picture *p, enum AVPixelFormat fmt, int w, int h)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
	int full, i;

	if (d == NULL || (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL |
				      AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL |
				      AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_FLOAT)))
		return -VG_EFORMAT;
	if (d->nb_components != 1 && d->nb_components != 3)
		return -VG_EFORMAT;
	full = fmt == AV_PIX_FMT_YUVJ420P || fmt == AV_PIX_FMT_YUVJ422P ||
	       fmt == AV_PIX_FMT_YUVJ444P || fmt == AV_PIX_FMT_YUVJ440P ||
	       fmt == AV_PIX_FMT_YUVJ411P;
	p->n_comps = d->nb_components;
	for (i = 0; i < d->nb_components; i++) {
		const AVComponentDescriptor *cd = &d->comp[i];
		struct comp *c = &p->comps[i];

		if (cd->depth != 8 || cd->shift != 0)
			return -VG_EFORMAT;
		c->plane = cd->plane;
		c->step = cd->step;
		c->offset = cd->offset;
		c->sw = i > 0 ? d->log2_chroma_w : 0;
		c->sh = i > 0 ? d->log2_chroma_h : 0;
		c->cw = -((-w) >> c->sw);
		c->ch = -((-h) >> c->sh);
		if (i == 0) {
			c->black = full ? BLACK_Y_FULL : BLACK_Y_LIMITED;
			c->outline = OUTLINE_Y;
		} else {
			c->black = CHROMA_NEUTRAL;
			c->outline = i == 1 ? OUTLINE_U : OUTLINE_V;
		}
	}
	return 0;
}

static void fill_masks(const struct vg_picture *p, AVFrame *f)
{
	int i, k;

	for (i = 0; i < p->n_comps; i++) {
		const struct comp *c = &p->comps[i];

		for (k = 0; k < c->n_runs; k++) {
			const struct run *r = &c->runs[k];
			uint8_t *row = f->data[c->plane] + (ptrdiff_t)r->y * f->linesize[c->plane] +
				       c->offset;
			int x;

			if (c->step == 1) {
				memset(row + r->x0, c->black, (size_t)(r->x1 - r->x0));
				continue;
			}
			for (x = r->x0; x < r->x1; x++)
				row[(ptrdiff_t)x * c->step] = c->black;
		}
	}
}

/* The name as drawtext draws it: after the date on one line, or on lines
 * of its own below it (l from vg_overlay_layout, name already safe). */
static void name_lines(const struct vg_overlay_layout *l, const char *name, char *out,
		       size_t len)
{
	int ends[VG_CAMERA_NAME_MAX], n, k, from = 0;
	size_t o = 0;

	if (l->lines == 1) {
		snprintf(out, len, "  %s", name);
		return;
	}
	n = vg_overlay_wrap_name(name, l->name_per_line, ends);
	for (k = 0; k < n && o + (size_t)(ends[k] - from) + 2 < len; k++) {
		out[o++] = '\n';
		memcpy(out + o, name + from, (size_t)(ends[k] - from));
		o += (size_t)(ends[k] - from);
		from = ends[k];
	}
	out[o] = '\0';
}

/* ------------------------------------------------------------------ */
/* Overlay */

static int add_filter(AVFilterGraph *g, AVFilterContext **out, AVFilterContext *prev,
		      const char *filter, AVDictionary **opts)
{
	const AVFilter *flt = avfilter_get_by_name(filter);
	AVFilterContext *ctx;
	int ret;

	if (flt == NULL)
		return AVERROR_FILTER_NOT_FOUND;
	ctx = avfilter_graph_alloc_filter(g, flt, filter);
	if (ctx == NULL)
		return AVERROR(ENOMEM);
	/* A dictionary, not a graph string: the text holds ':' and '\'. */
	ret = avfilter_init_dict(ctx, opts);
	if (ret < 0)
		return ret;
	if (prev != NULL) {
		ret = avfilter_link(prev, 0, ctx, 0);
		if (ret < 0)
			return ret;
	}
	*out = ctx;
	return 0;
}

/* drawtext's text may hold '%' and '\' as markup; names are [a-z0-9_-]
 * by config, so anything else is replaced. */
static void safe_name(char *dst, size_t len, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && name[i] != '\0' && i + 1 < len; i++) {
		char c = name[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '-';

		dst[i] = ok ? c : '_';
	}
	dst[i] = '\0';
}

static int build_overlay(struct vg_picture *p, const struct vg_camera_config *cam)
{
	AVDictionary *opts = NULL;
	AVFilterContext *txt = NULL;
	struct vg_overlay_layout l;
	char buf[256], name[VG_CAMERA_NAME_MAX + 1], lines[2 * VG_CAMERA_NAME_MAX + 4];
	char expr[64];
	int ret, right, bottom;

	/* The font's measures are what keep the text inside the picture:
	 * another font could be wider. */
	if (access(OVERLAY_FONT, R_OK) != 0) {
		vg_errx("camera %s: the overlay font %s is missing", cam->name ? cam->name : "?",
			OVERLAY_FONT);
		return AVERROR(ENOENT);
	}
	ret = vg_overlay_layout(cam, p->width, p->height, &l);
	if (ret < 0) {
		vg_errx("camera %s: a %dx%d picture is too small for the date/time overlay",
			cam->name ? cam->name : "?", p->width, p->height);
		return AVERROR(EINVAL);
	}
	if (ret == 1)
		vg_warnx("camera %s: overlay size %d does not fit the %dx%d picture the camera "
			 "gives; using %d, the largest that fits", cam->name ? cam->name : "?",
			 cam->overlay_size, p->width, p->height, l.size);
	right = cam->overlay_position == VG_OVERLAY_TOP_RIGHT ||
		cam->overlay_position == VG_OVERLAY_BOTTOM_RIGHT;
	bottom = cam->overlay_position == VG_OVERLAY_BOTTOM_LEFT ||
		 cam->overlay_position == VG_OVERLAY_BOTTOM_RIGHT;

	p->graph = avfilter_graph_alloc();
	if (p->graph == NULL)
		return AVERROR(ENOMEM);
	/* One thread per camera is the budget. */
	p->graph->nb_threads = 1;

	snprintf(buf, sizeof(buf), "%dx%d", p->width, p->height);
	av_dict_set(&opts, "video_size", buf, 0);
	av_dict_set(&opts, "pix_fmt", av_get_pix_fmt_name(p->fmt), 0);
	av_dict_set(&opts, "time_base", "1/1000000", 0);
	av_dict_set(&opts, "pixel_aspect", "1/1", 0);
	ret = add_filter(p->graph, &p->src, NULL, "buffer", &opts);
	av_dict_free(&opts);
	if (ret < 0)
		goto out;

	safe_name(name, sizeof(name), cam->name);
	name_lines(&l, name, lines, sizeof(lines));
	/* pts is the capture time in microseconds (time base 1/1000000):
	 * drawtext's localtime gives the local date, time and zone. */
	snprintf(buf, sizeof(buf), "%%{pts:localtime:0:%%Y-%%m-%%d %%H\\:%%M\\:%%S %%Z}%s",
		 lines);
	av_dict_set(&opts, "fontfile", OVERLAY_FONT, 0);
	av_dict_set(&opts, "text", buf, 0);
	av_dict_set_int(&opts, "fontsize", l.size, 0);
	av_dict_set(&opts, "fontcolor", "white", 0);
	av_dict_set(&opts, "box", "1", 0);
	av_dict_set(&opts, "boxcolor", "black@0.6", 0);
	av_dict_set_int(&opts, "boxborderw", l.border, 0);
	/* tw and th are the text as drawn (the zone's real length). */
	snprintf(expr, sizeof(expr), "%s%d", right ? "w-tw-" : "", l.margin);
	av_dict_set(&opts, "x", expr, 0);
	snprintf(expr, sizeof(expr), "%s%d", bottom ? "h-th-" : "", l.margin);
	av_dict_set(&opts, "y", expr, 0);
	ret = add_filter(p->graph, &txt, p->src, "drawtext", &opts);
	av_dict_free(&opts);
	if (ret < 0)
		goto out;
	ret = add_filter(p->graph, &p->sink, txt, "buffersink", NULL);
	if (ret < 0)
		goto out;
	ret = avfilter_graph_config(p->graph, NULL);
	if (ret < 0)
		goto out;
	p->out_fmt = (enum AVPixelFormat)av_buffersink_get_format(p->sink);
out:
	av_dict_free(&opts);
	if (ret < 0) {
		avfilter_graph_free(&p->graph);
		p->src = p->sink = NULL;
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Public */

void vg_picture_free(struct vg_picture *p)
{
	int i;

	if (p == NULL)
		return;
	for (i = 0; i < 3; i++)
		free(p->comps[i].runs);
	for (i = 0; i < p->n_masks; i++)
		free(p->masks[i].xy);
	free(p->masks);
	avfilter_graph_free(&p->graph);
	free(p);
}

static int copy_masks(struct vg_picture *p, const struct vg_camera_config *cam)
{
	int i;

	if (cam->n_masks == 0)
		return 0;
	p->masks = calloc((size_t)cam->n_masks, sizeof(*p->masks));
	if (p->masks == NULL)
		return -VG_ENOMEM;
	for (i = 0; i < cam->n_masks; i++) {
		size_t bytes = 2 * (size_t)cam->masks[i].n_points * sizeof(double);

		p->masks[i] = cam->masks[i];
		p->masks[i].xy = malloc(bytes);
		if (p->masks[i].xy == NULL)
			return -VG_ENOMEM;
		memcpy(p->masks[i].xy, cam->masks[i].xy, bytes);
		p->n_masks = i + 1;
	}
	return 0;
}

int vg_picture_new(struct vg_picture **out, const struct vg_camera_config *cam, int width,
		   int height, enum AVPixelFormat fmt)
{
	struct vg_picture *p = NULL;
	uint8_t *bitmap = NULL;
	int ret, i;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || cam == NULL || width <= 0 || height <= 0 || width > 16384 ||
	    height > 16384)
		return -VG_EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -VG_ENOMEM;
	p->width = width;
	p->height = height;
	p->fmt = fmt;
	p->out_fmt = fmt;
	ret = layout(p, fmt, width, height);
	if (ret < 0) {
		vg_warnx("camera %s: privacy masks and overlay cannot be drawn on %s pictures",
			 cam->name != NULL ? cam->name : "?",
			 av_get_pix_fmt_name(fmt) != NULL ? av_get_pix_fmt_name(fmt) : "?");
		goto fail;
	}
	ret = copy_masks(p, cam);
	if (ret < 0)
		goto fail;
	if (cam->n_masks > 0) {
		bitmap = vg_mask_raster(cam->masks, cam->n_masks, width, height);
		if (bitmap == NULL) {
			ret = -VG_ENOMEM;
			goto fail;
		}
		for (i = 0; i < p->n_comps; i++) {
			ret = build_runs(&p->comps[i], bitmap, width, height);
			if (ret < 0)
				goto fail;
			p->has_masks |= p->comps[i].n_runs > 0;
		}
	}
	if (cam->overlay_enabled) {
		ret = build_overlay(p, cam);
		if (ret < 0) {
			char averr[AV_ERROR_MAX_STRING_SIZE];

			av_strerror(ret, averr, sizeof(averr));
			vg_errx("camera %s: cannot build the date/time overlay (%s); is "
				"fonts-dejavu-core installed?", cam->name != NULL ? cam->name : "?",
				averr);
			ret = ret == AVERROR(ENOMEM) ? -VG_ENOMEM : -VG_ECODEC;
			goto fail;
		}
	}
	free(bitmap);
	*out = p;
	return 0;
fail:
	free(bitmap);
	vg_picture_free(p);
	return ret;
}

enum AVPixelFormat vg_picture_out_format(const struct vg_picture *p)
{
	return p != NULL ? p->out_fmt : AV_PIX_FMT_NONE;
}

/* A writable copy of in's picture and properties. */
static AVFrame *writable_copy(const AVFrame *in)
{
	AVFrame *w = av_frame_alloc();

	if (w == NULL)
		return NULL;
	w->format = in->format;
	w->width = in->width;
	w->height = in->height;
	if (av_frame_get_buffer(w, 0) < 0 || av_frame_copy(w, in) < 0 ||
	    av_frame_copy_props(w, in) < 0)
		av_frame_free(&w);
	return w;
}

/* The stage's filter graph on work (taken), into *out; pts becomes the
 * caller's pts again. */
static int draw_overlay(struct vg_picture *p, AVFrame *work, int64_t ts_utc_us, int64_t pts,
			AVFrame **out)
{
	AVFrame *res = NULL;
	int ret;

	if (p->graph == NULL) {
		*out = work;
		return 0;
	}
	work->pts = ts_utc_us;
	ret = av_buffersrc_add_frame_flags(p->src, work, 0);
	av_frame_free(&work);
	if (ret < 0)
		goto codec_err;
	res = av_frame_alloc();
	if (res == NULL)
		return -VG_ENOMEM;
	ret = av_buffersink_get_frame(p->sink, res);
	if (ret < 0) {
		av_frame_free(&res);
		goto codec_err;
	}
	res->pts = pts;
	*out = res;
	return 0;
codec_err:
	{
		char averr[AV_ERROR_MAX_STRING_SIZE];

		av_strerror(ret, averr, sizeof(averr));
		vg_errx("overlay failed: %s", averr);
	}
	return ret == AVERROR(ENOMEM) ? -VG_ENOMEM : -VG_ECODEC;
}

static int check_frame(const struct vg_picture *p, const AVFrame *in)
{
	if (in->width != p->width || in->height != p->height || in->format != (int)p->fmt)
		return -VG_EINVAL;
	return 0;
}

int vg_picture_apply(struct vg_picture *p, const AVFrame *in, int64_t ts_utc_us,
		     AVFrame **out)
{
	AVFrame *work;

	if (out != NULL)
		*out = NULL;
	if (p == NULL || in == NULL || out == NULL)
		return -VG_EINVAL;
	if (check_frame(p, in) < 0)
		return -VG_EINVAL;

	if (p->has_masks) {
		/* Never into in: it may be the driver's own buffer. */
		work = writable_copy(in);
		if (work == NULL)
			return -VG_ENOMEM;
		fill_masks(p, work);
	} else {
		/* A new reference only; drawtext copies a shared buffer
		 * before drawing (its input needs a writable frame). */
		work = av_frame_clone(in);
		if (work == NULL)
			return -VG_ENOMEM;
	}
	return draw_overlay(p, work, ts_utc_us, in->pts, out);
}

int vg_picture_apply_take(struct vg_picture *p, AVFrame **in, int64_t ts_utc_us,
			  AVFrame **out)
{
	AVFrame *work;
	int ret;

	if (out != NULL)
		*out = NULL;
	if (p == NULL || in == NULL || *in == NULL || out == NULL)
		return -VG_EINVAL;
	/* A buffer someone else also holds (or a read-only one) is not
	 * ours to draw on: the copying path. */
	if (check_frame(p, *in) < 0 || !av_frame_is_writable(*in)) {
		ret = vg_picture_apply(p, *in, ts_utc_us, out);
		av_frame_free(in);
		return ret;
	}
	work = *in;
	*in = NULL;
	if (p->has_masks)
		fill_masks(p, work);
	/* drawtext draws on work itself: it holds the only reference. */
	return draw_overlay(p, work, ts_utc_us, work->pts, out);
}

/* Paint a t x t square of outline colour at pixel (x, y). */
static void dot(const struct vg_picture *p, AVFrame *f, int x, int y, int t)
{
	int i, dx, dy;

	for (dy = 0; dy < t; dy++) {
		for (dx = 0; dx < t; dx++) {
			int px = x + dx - t / 2, py = y + dy - t / 2;

			if (px < 0 || py < 0 || px >= p->width || py >= p->height)
				continue;
			for (i = 0; i < p->n_comps; i++) {
				const struct comp *c = &p->comps[i];
				uint8_t *row = f->data[c->plane] +
					       (ptrdiff_t)(py >> c->sh) * f->linesize[c->plane];

				row[(ptrdiff_t)(px >> c->sw) * c->step + c->offset] = c->outline;
			}
		}
	}
}

int vg_picture_draw_outlines(struct vg_picture *p, AVFrame *frame)
{
	struct vg_picture tmp;
	const struct vg_picture *lay = p;
	int t, i, k, ret;

	if (p == NULL || frame == NULL || frame->width != p->width || frame->height != p->height)
		return -VG_EINVAL;
	if (frame->format != (int)p->fmt) {
		/* the output format (after drawtext) has its own layout */
		memset(&tmp, 0, sizeof(tmp));
		tmp.width = p->width;
		tmp.height = p->height;
		ret = layout(&tmp, (enum AVPixelFormat)frame->format, p->width, p->height);
		if (ret < 0)
			return ret;
		lay = &tmp;
	}
	ret = av_frame_make_writable(frame);
	if (ret < 0)
		return ret == AVERROR(ENOMEM) ? -VG_ENOMEM : -VG_ECODEC;
	t = p->height / 240 > 2 ? p->height / 240 : 2;
	for (k = 0; k < p->n_masks; k++) {
		const struct vg_mask *m = &p->masks[k];

		for (i = 0; i < m->n_points; i++) {
			int j = (i + 1) % m->n_points;
			double x1 = m->xy[2 * i] * p->width, y1 = m->xy[2 * i + 1] * p->height;
			double x2 = m->xy[2 * j] * p->width, y2 = m->xy[2 * j + 1] * p->height;
			int steps = (int)ceil(fmax(fabs(x2 - x1), fabs(y2 - y1)));
			int s;

			if (steps < 1)
				steps = 1;
			for (s = 0; s <= steps; s++) {
				double u = (double)s / steps;

				dot(lay, frame, (int)lround(x1 + (x2 - x1) * u),
				    (int)lround(y1 + (y2 - y1) * u), t);
			}
		}
	}
	return 0;
}

int vg_picture_time_text(int64_t ts_utc_us, char *buf, size_t len)
{
	time_t t;
	struct tm tm;
	size_t n;

	if (buf == NULL || len == 0)
		return -VG_EINVAL;
	buf[0] = '\0';
	/* floor, so that a time just before a second shows that second */
	t = (time_t)(ts_utc_us >= 0 ? ts_utc_us / 1000000 : -((-ts_utc_us + 999999) / 1000000));
	if (localtime_r(&t, &tm) == NULL)
		return -VG_EINVAL;
	n = strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm);
	if (n == 0) {
		buf[0] = '\0';
		return -VG_EINVAL;
	}
	return 0;
}
