/*
 * source_synth.c - the synthetic test camera: FFmpeg's testsrc2 pattern with
 * "SYNTHETIC TEST CAMERA <name>" and the frame's UTC time burnt in, so that
 * nobody can mistake a recording of it for footage.
 *
 * Frame k carries ts_utc_us = t0_utc + k * interval (computed from k, never
 * accumulated, so clip durations add up exactly) and is due at
 * t0_mono + k * interval on CLOCK_MONOTONIC, t0 being the moment the source
 * opened. Pacing is this source's job: read() sleeps until the next frame is
 * due, as a camera would make its reader wait. A reader that falls behind
 * gets the overdue frames at once; none is skipped. A negative timeout_ms
 * waits as long as it takes.
 *
 * There is no config key for unpaced synthetic output, so the FILE source's
 * flag is reused: cam->file_realtime == 0 delivers frames as fast as they are
 * read (tests, benchmarks). The picture's burnt-in time follows the nominal
 * timestamps either way.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>

#include "vigil/err.h"
#define VG_LOG_MODULE "SYN"
#include "vigil/log.h"
#include "source_impl.h"

/* Debian's fonts-dejavu-core; without it drawtext asks fontconfig. */
#define SYNTH_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"

struct synth {
	struct vg_source base;		/* first: source.c casts */
	AVFilterGraph *graph;
	AVFilterContext *sink;		/* owned by graph */
	int realtime;
	int64_t t0_mono_ns;
	int64_t t0_utc_us;
	int64_t k;			/* next frame's index */
};

static int synth_read(struct vg_source *s, struct vg_source_frame *f, int timeout_ms);
static void synth_close(struct vg_source *s);

static const struct vg_source_ops synth_ops = {
	.kind = "synthetic",
	.read = synth_read,
	.close = synth_close,
};

/* Create, configure and link one filter; 0 or an AVERROR. */
static int add_filter(AVFilterGraph *g, AVFilterContext **out, AVFilterContext *prev,
		      const char *filter, AVDictionary **opts)
{
	const AVFilter *flt = avfilter_get_by_name(filter);
	AVFilterContext *ctx;
	int ret;

	if (!flt)
		return AVERROR_FILTER_NOT_FOUND;
	ctx = avfilter_graph_alloc_filter(g, flt, filter);
	if (!ctx)
		return AVERROR(ENOMEM);
	/* Options go in as a dictionary, not a graph string, so the text
	 * needs no filter-graph escaping (it holds ':' and '\n'). */
	ret = avfilter_init_dict(ctx, opts);
	if (ret < 0)
		return ret;
	if (prev) {
		ret = avfilter_link(prev, 0, ctx, 0);
		if (ret < 0)
			return ret;
	}
	*out = ctx;
	return 0;
}

/*
 * Build testsrc2 -> label -> format=yuv420p -> buffersink. With label_text
 * the label is drawtext; without, a plain yellow band (drawbox), the
 * fallback when no font can be loaded.
 */
static int build_graph(struct synth *sy, const struct vg_camera_config *cam,
		       const char *label_text)
{
	AVDictionary *opts = NULL;
	AVFilterContext *src = NULL, *lab = NULL, *fmt = NULL, *sink = NULL;
	char buf[64];
	int ret;

	sy->graph = avfilter_graph_alloc();
	if (!sy->graph)
		return AVERROR(ENOMEM);
	/* One thread per camera is the budget; slice threads would only
	 * compete with the encoder. */
	sy->graph->nb_threads = 1;

	snprintf(buf, sizeof(buf), "%dx%d", cam->width, cam->height);
	av_dict_set(&opts, "size", buf, 0);
	snprintf(buf, sizeof(buf), "%d/%d", cam->fps_num, cam->fps_den);
	av_dict_set(&opts, "rate", buf, 0);
	ret = add_filter(sy->graph, &src, NULL, "testsrc2", &opts);
	av_dict_free(&opts);
	if (ret < 0)
		goto out;

	if (label_text) {
		if (access(SYNTH_FONT, R_OK) == 0)
			av_dict_set(&opts, "fontfile", SYNTH_FONT, 0);
		av_dict_set(&opts, "text", label_text, 0);
		/* About 18 lines of text per picture height, at the bottom
		 * (testsrc2 draws its own counter at the top left). */
		av_dict_set_int(&opts, "fontsize", cam->height / 18 > 8 ? cam->height / 18 : 8, 0);
		av_dict_set(&opts, "fontcolor", "white", 0);
		av_dict_set(&opts, "box", "1", 0);
		av_dict_set(&opts, "boxcolor", "black@0.7", 0);
		av_dict_set(&opts, "boxborderw", "6", 0);
		av_dict_set(&opts, "x", "8", 0);
		av_dict_set(&opts, "y", "h-th-14", 0);
		ret = add_filter(sy->graph, &lab, src, "drawtext", &opts);
	} else {
		av_dict_set(&opts, "x", "0", 0);
		av_dict_set(&opts, "y", "ih-ih/8", 0);
		av_dict_set(&opts, "w", "iw", 0);
		av_dict_set(&opts, "h", "ih/8", 0);
		av_dict_set(&opts, "color", "yellow", 0);
		av_dict_set(&opts, "t", "fill", 0);
		ret = add_filter(sy->graph, &lab, src, "drawbox", &opts);
	}
	av_dict_free(&opts);
	if (ret < 0)
		goto out;

	av_dict_set(&opts, "pix_fmts", "yuv420p", 0);
	ret = add_filter(sy->graph, &fmt, lab, "format", &opts);
	av_dict_free(&opts);
	if (ret < 0)
		goto out;
	ret = add_filter(sy->graph, &sink, fmt, "buffersink", NULL);
	if (ret < 0)
		goto out;
	ret = avfilter_graph_config(sy->graph, NULL);
	if (ret < 0)
		goto out;
	sy->sink = sink;
out:
	av_dict_free(&opts);
	if (ret < 0)
		avfilter_graph_free(&sy->graph);
	return ret;
}

/* The camera name goes into drawtext's text, where '%' and '\' mean
 * something; config names are [a-z0-9_-] anyway, so replace the rest. */
static void safe_name(char *dst, size_t len, const char *name)
{
	size_t i;

	for (i = 0; name && name[i] && i + 1 < len; i++) {
		char c = name[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '-';

		dst[i] = ok ? c : '_';
	}
	dst[i] = '\0';
}

int vg_source_synth_open(struct vg_source **out, const struct vg_camera_config *cam,
			 char *why, size_t whylen)
{
	struct synth *sy = NULL;
	char name[VG_CAMERA_NAME_MAX + 1];
	char text[160];
	char fps[32];
	char averr[AV_ERROR_MAX_STRING_SIZE];
	int ret;

	*out = NULL;
	if (cam->width <= 0 || cam->height <= 0 || cam->fps_num <= 0 || cam->fps_den <= 0) {
		snprintf(why, whylen, "synthetic camera needs a positive size and frame rate "
			 "(got %dx%d@%d/%d)", cam->width, cam->height, cam->fps_num, cam->fps_den);
		return -VG_EINVAL;
	}
	sy = calloc(1, sizeof(*sy));
	if (!sy) {
		snprintf(why, whylen, "out of memory opening the synthetic camera");
		return -VG_ENOMEM;
	}
	sy->base.ops = &synth_ops;
	sy->realtime = cam->file_realtime;
	sy->t0_mono_ns = vg_source_clock_ns(CLOCK_MONOTONIC);
	sy->t0_utc_us = vg_source_clock_ns(CLOCK_REALTIME) / 1000;

	safe_name(name, sizeof(name), cam->name);
	/* pts:gmtime with t0 as the offset prints frame k's nominal UTC
	 * time, the very ts_utc_us the frame is handed out with. */
	snprintf(text, sizeof(text), "SYNTHETIC TEST CAMERA %s\n"
		 "%%{pts:gmtime:%" PRId64 ".%06d} UTC  frame %%{n}",
		 name, sy->t0_utc_us / 1000000, (int)(sy->t0_utc_us % 1000000));
	ret = build_graph(sy, cam, text);
	if (ret < 0) {
		av_strerror(ret, averr, sizeof(averr));
		vg_warnx("camera %s: cannot draw the label text (%s); marking the synthetic "
			 "picture with a yellow band instead (install fonts-dejavu-core)",
			 name, averr);
		ret = build_graph(sy, cam, NULL);
	}
	if (ret < 0) {
		av_strerror(ret, averr, sizeof(averr));
		snprintf(why, whylen, "cannot build the synthetic test pattern %dx%d: %s",
			 cam->width, cam->height, averr);
		free(sy);
		return ret == AVERROR(ENOMEM) ? -VG_ENOMEM : -VG_ECODEC;
	}

	sy->base.info.width = cam->width;
	sy->base.info.height = cam->height;
	sy->base.info.pix_fmt = AV_PIX_FMT_YUV420P;
	sy->base.info.codec = AV_CODEC_ID_NONE;
	sy->base.info.fps_num = cam->fps_num;
	sy->base.info.fps_den = cam->fps_den;
	sy->base.info.synthetic = 1;
	sy->base.info.live = cam->file_realtime;
	if (cam->fps_den == 1)
		snprintf(fps, sizeof(fps), "%d", cam->fps_num);
	else
		snprintf(fps, sizeof(fps), "%d/%d", cam->fps_num, cam->fps_den);
	snprintf(sy->base.info.label, sizeof(sy->base.info.label),
		 "synthetic test camera %s %dx%d@%s", name, cam->width, cam->height, fps);
	*out = &sy->base;
	return 0;
}

static int synth_read(struct vg_source *s, struct vg_source_frame *f, int timeout_ms)
{
	struct synth *sy = (struct synth *)s;
	const struct vg_source_info *in = &s->info;
	AVFrame *frame;
	int ret;

	if (sy->realtime) {
		int64_t due = sy->t0_mono_ns +
			      av_rescale(sy->k, (int64_t)1000000000 * in->fps_den, in->fps_num);

		ret = vg_source_pace(due, timeout_ms);
		if (ret < 0)
			return ret;
	}
	frame = av_frame_alloc();
	if (!frame)
		return -VG_ENOMEM;
	/* The graph's own refcounted frame goes out as is: no copy. */
	ret = av_buffersink_get_frame(sy->sink, frame);
	if (ret < 0) {
		char averr[AV_ERROR_MAX_STRING_SIZE];

		av_frame_free(&frame);
		av_strerror(ret, averr, sizeof(averr));
		vg_errx("synthetic pattern failed at frame %" PRId64 ": %s", sy->k, averr);
		return ret == AVERROR(ENOMEM) ? -VG_ENOMEM : -VG_ECODEC;
	}
	f->frame = frame;
	f->ts_utc_us = sy->t0_utc_us + av_rescale(sy->k, (int64_t)1000000 * in->fps_den,
						  in->fps_num);
	f->sequence = (uint32_t)sy->k;
	sy->k++;
	return 0;
}

static void synth_close(struct vg_source *s)
{
	struct synth *sy = (struct synth *)s;

	/* Frames already handed out hold their own buffer references and
	 * outlive the graph. */
	avfilter_graph_free(&sy->graph);
	free(sy);
}
