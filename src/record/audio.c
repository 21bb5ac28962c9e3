/*
 * audio.c - a camera's sound: device -> (decode) -> libavfilter (48 kHz mono
 * float planar, 1024-sample frames) -> AAC -> packet queue. See audio.h.
 *
 * The filter graph does the format conversion for both kinds of input, so
 * the encoder always sees what it wants. The synthetic source is paced on
 * CLOCK_MONOTONIC like source_synth.c paces pictures: frame k is due at
 * t0_mono + k * 1024 / 48000 s and starts at t0_utc + the same offset.
 */
#define VG_LOG_MODULE "AUD"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavdevice/avdevice.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#include "vigil/audio.h"
#include "vigil/err.h"
#include "vigil/log.h"

#define SAMPLE_RATE 48000
#define FRAME_SAMPLES 1024
#define BIT_RATE 64000
/* About 5 s of AAC frames: room for the encoder thread's pauses while a
 * clip is closed and synced. */
#define QUEUE_CAP 256

struct vg_audio {
	char camera[64];
	pthread_t thread;
	pthread_mutex_t lock;
	int stop;			/* under lock */
	AVPacket *q[QUEUE_CAP];		/* under lock */
	int q_head, q_len;
	int64_t dropped;		/* under lock */

	/* Capture-thread state. */
	int synthetic;
	AVFormatContext *in;		/* ALSA, or NULL for synthetic */
	AVCodecContext *dec;		/* PCM decoder for ALSA */
	AVFilterGraph *graph;
	AVFilterContext *src;		/* abuffer (ALSA only), owned by graph */
	AVFilterContext *sink;		/* owned by graph */
	AVCodecContext *enc;
	AVCodecParameters *par;
	int64_t t0_mono_ns;
	int64_t base_utc_us;		/* set before the thread starts */
	int64_t samples;		/* samples handed to the encoder */
	AVPacket *pkt;
	AVPacket *inpkt;
	AVFrame *frame;
	AVFrame *filtered;
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int stopping(struct vg_audio *a)
{
	int s;

	pthread_mutex_lock(&a->lock);
	s = a->stop;
	pthread_mutex_unlock(&a->lock);
	return s;
}

/* libavformat polls this while a device read blocks. */
static int interrupt_cb(void *opaque)
{
	return stopping(opaque);
}

static void push(struct vg_audio *a, AVPacket *pkt)
{
	AVPacket *copy = av_packet_alloc();

	if (copy == NULL)
		return;
	av_packet_move_ref(copy, pkt);
	pthread_mutex_lock(&a->lock);
	if (a->q_len == QUEUE_CAP) {
		/* The oldest sound goes first: capture must never wait. */
		av_packet_free(&a->q[a->q_head]);
		a->q_head = (a->q_head + 1) % QUEUE_CAP;
		a->q_len--;
		a->dropped++;
	}
	a->q[(a->q_head + a->q_len) % QUEUE_CAP] = copy;
	a->q_len++;
	pthread_mutex_unlock(&a->lock);
}

/* Build "[abuffer ->] chain -> abuffersink" where chain is a filter
 * description (for synthetic: the sine source itself). */
static int build_graph(struct vg_audio *a, const char *chain)
{
	AVFilterInOut *outputs = NULL, *inputs = NULL;
	char args[256];
	int ret;

	a->graph = avfilter_graph_alloc();
	if (a->graph == NULL)
		return AVERROR(ENOMEM);
	ret = avfilter_graph_create_filter(&a->sink, avfilter_get_by_name("abuffersink"), "out",
					   NULL, NULL, a->graph);
	if (ret < 0)
		return ret;
	inputs = avfilter_inout_alloc();
	if (inputs == NULL)
		return AVERROR(ENOMEM);
	inputs->name = av_strdup("out");
	inputs->filter_ctx = a->sink;
	if (a->dec) {
		char layout[64];

		if (a->dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
			av_channel_layout_default(&a->dec->ch_layout, a->dec->ch_layout.nb_channels);
		av_channel_layout_describe(&a->dec->ch_layout, layout, sizeof(layout));
		snprintf(args, sizeof(args), "time_base=1/%d:sample_rate=%d:sample_fmt=%s:"
			 "channel_layout=%s", a->dec->sample_rate, a->dec->sample_rate,
			 av_get_sample_fmt_name(a->dec->sample_fmt), layout);
		ret = avfilter_graph_create_filter(&a->src, avfilter_get_by_name("abuffer"), "in",
						   args, NULL, a->graph);
		if (ret < 0)
			goto out;
		outputs = avfilter_inout_alloc();
		if (outputs == NULL) {
			ret = AVERROR(ENOMEM);
			goto out;
		}
		outputs->name = av_strdup("in");
		outputs->filter_ctx = a->src;
	}
	ret = avfilter_graph_parse_ptr(a->graph, chain, &inputs, &outputs, NULL);
	if (ret < 0)
		goto out;
	ret = avfilter_graph_config(a->graph, NULL);
	if (ret < 0)
		goto out;
	/* AAC takes exactly 1024 samples a frame. */
	av_buffersink_set_frame_size(a->sink, FRAME_SAMPLES);
out:
	avfilter_inout_free(&inputs);
	avfilter_inout_free(&outputs);
	return ret;
}

static int open_encoder(struct vg_audio *a)
{
	const AVCodec *codec = avcodec_find_encoder_by_name("aac");
	AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;

	if (codec == NULL)
		return AVERROR_ENCODER_NOT_FOUND;
	a->enc = avcodec_alloc_context3(codec);
	if (a->enc == NULL)
		return AVERROR(ENOMEM);
	a->enc->sample_rate = SAMPLE_RATE;
	a->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
	av_channel_layout_copy(&a->enc->ch_layout, &mono);
	a->enc->bit_rate = BIT_RATE;
	a->enc->time_base = (AVRational){ 1, SAMPLE_RATE };
	/* The MP4 esds box needs the AudioSpecificConfig in extradata. */
	a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	if (avcodec_open2(a->enc, codec, NULL) < 0)
		return AVERROR_ENCODER_NOT_FOUND;
	a->par = avcodec_parameters_alloc();
	if (a->par == NULL)
		return AVERROR(ENOMEM);
	return avcodec_parameters_from_context(a->par, a->enc);
}

static int open_alsa(struct vg_audio *a, const char *name)
{
	const AVInputFormat *fmt;
	const AVCodec *d;
	AVDictionary *opts = NULL;
	int ret;

	avdevice_register_all();
	fmt = av_find_input_format("alsa");
	if (fmt == NULL)
		return AVERROR_DEMUXER_NOT_FOUND;
	a->in = avformat_alloc_context();
	if (a->in == NULL)
		return AVERROR(ENOMEM);
	a->in->interrupt_callback.callback = interrupt_cb;
	a->in->interrupt_callback.opaque = a;
	av_dict_set(&opts, "sample_rate", "48000", 0);
	av_dict_set(&opts, "channels", "1", 0);
	ret = avformat_open_input(&a->in, name, fmt, &opts);
	av_dict_free(&opts);
	if (ret < 0)
		return ret;	/* a->in freed by libavformat */
	if (a->in->nb_streams < 1)
		return AVERROR_INVALIDDATA;
	d = avcodec_find_decoder(a->in->streams[0]->codecpar->codec_id);
	if (d == NULL)
		return AVERROR_DECODER_NOT_FOUND;
	a->dec = avcodec_alloc_context3(d);
	if (a->dec == NULL)
		return AVERROR(ENOMEM);
	ret = avcodec_parameters_to_context(a->dec, a->in->streams[0]->codecpar);
	if (ret < 0)
		return ret;
	return avcodec_open2(a->dec, d, NULL);
}

/* Encode frame (NULL: nothing) and queue what the encoder gives back. */
static int encode(struct vg_audio *a, AVFrame *frame)
{
	int ret = avcodec_send_frame(a->enc, frame);

	if (ret < 0)
		return ret;
	for (;;) {
		ret = avcodec_receive_packet(a->enc, a->pkt);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return ret;
		push(a, a->pkt);
	}
}

/* Take every whole frame the graph has, stamp it by sample count, encode. */
static int drain_graph(struct vg_audio *a)
{
	int ret;

	for (;;) {
		ret = av_buffersink_get_frame(a->sink, a->filtered);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return ret;
		a->filtered->pts = a->samples;
		a->samples += a->filtered->nb_samples;
		ret = encode(a, a->filtered);
		av_frame_unref(a->filtered);
		if (ret < 0)
			return ret;
	}
}

static int read_synthetic(struct vg_audio *a)
{
	int64_t due = a->t0_mono_ns + av_rescale(a->samples, 1000000000, SAMPLE_RATE);
	struct timespec ts = { .tv_sec = due / 1000000000, .tv_nsec = due % 1000000000 };
	int ret;

	/* The sine is due when a sound card would have captured it. Short
	 * sleeps (one frame, 21 ms) so a stop request is seen soon. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	ret = av_buffersink_get_frame(a->sink, a->filtered);
	if (ret < 0)
		return ret;
	a->filtered->pts = a->samples;
	a->samples += a->filtered->nb_samples;
	ret = encode(a, a->filtered);
	av_frame_unref(a->filtered);
	return ret;
}

static int read_alsa(struct vg_audio *a)
{
	int ret = av_read_frame(a->in, a->inpkt);

	if (ret < 0)
		return ret;
	ret = avcodec_send_packet(a->dec, a->inpkt);
	av_packet_unref(a->inpkt);
	if (ret < 0)
		return 0;	/* a bad period costs that period */
	while (avcodec_receive_frame(a->dec, a->frame) == 0) {
		ret = av_buffersrc_add_frame(a->src, a->frame);
		av_frame_unref(a->frame);
		if (ret < 0)
			return ret;
		ret = drain_graph(a);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void *audio_main(void *arg)
{
	struct vg_audio *a = arg;
	char err[AV_ERROR_MAX_STRING_SIZE];
	int ret = 0;

	while (!stopping(a)) {
		ret = a->synthetic ? read_synthetic(a) : read_alsa(a);
		if (ret < 0)
			break;
	}
	if (ret < 0 && !stopping(a)) {
		/* Pictures go on without sound; the log says so once. */
		av_strerror(ret, err, sizeof(err));
		vg_errx("%s: sound capture stopped: %s; video recording goes on", a->camera, err);
	}
	return NULL;
}

static void release(struct vg_audio *a)
{
	while (a->q_len > 0) {
		av_packet_free(&a->q[a->q_head]);
		a->q_head = (a->q_head + 1) % QUEUE_CAP;
		a->q_len--;
	}
	avfilter_graph_free(&a->graph);
	avcodec_free_context(&a->dec);
	avcodec_free_context(&a->enc);
	avcodec_parameters_free(&a->par);
	avformat_close_input(&a->in);
	av_packet_free(&a->pkt);
	av_packet_free(&a->inpkt);
	av_frame_free(&a->frame);
	av_frame_free(&a->filtered);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int vg_audio_start(struct vg_audio **out, const char *camera, const char *device, char *why,
		   size_t whylen)
{
	struct vg_audio *a;
	char err[AV_ERROR_MAX_STRING_SIZE];
	const char *stage = "";
	int ret, code = -VG_ECODEC;

	*out = NULL;
	if (device == NULL)
		device = "alsa:default";
	if (strcmp(device, "synthetic") != 0 && strncmp(device, "alsa:", 5) != 0) {
		snprintf(why, whylen, "audio_device \"%s\" is not \"alsa:NAME\" or \"synthetic\"",
			 device);
		return -VG_EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(why, whylen, "out of memory");
		return -VG_ENOMEM;
	}
	pthread_mutex_init(&a->lock, NULL);
	snprintf(a->camera, sizeof(a->camera), "%s", camera);
	a->synthetic = strcmp(device, "synthetic") == 0;
	a->pkt = av_packet_alloc();
	a->inpkt = av_packet_alloc();
	a->frame = av_frame_alloc();
	a->filtered = av_frame_alloc();
	if (a->pkt == NULL || a->inpkt == NULL || a->frame == NULL || a->filtered == NULL) {
		ret = AVERROR(ENOMEM);
		goto fail;
	}
	if (!a->synthetic) {
		stage = "cannot open the sound device";
		ret = open_alsa(a, device + 5);
		if (ret < 0) {
			code = -VG_ENODEV;
			goto fail;
		}
	}
	stage = "cannot build the sound filter graph";
	ret = build_graph(a, a->synthetic
			     ? "sine=frequency=1000:sample_rate=48000,"
			       "aformat=sample_fmts=fltp:channel_layouts=mono"
			     : "aresample=48000,aformat=sample_fmts=fltp:sample_rates=48000:"
			       "channel_layouts=mono");
	if (ret < 0)
		goto fail;
	stage = "cannot open the AAC encoder";
	ret = open_encoder(a);
	if (ret < 0)
		goto fail;
	a->t0_mono_ns = clock_ns(CLOCK_MONOTONIC);
	a->base_utc_us = clock_ns(CLOCK_REALTIME) / 1000;
	/* ALSA stamps periods with the wall clock when they were captured:
	 * the first one is sample 0. */
	if (!a->synthetic) {
		ret = av_read_frame(a->in, a->inpkt);
		if (ret < 0) {
			stage = "the sound device gives no samples";
			code = -VG_ENODEV;
			goto fail;
		}
		if (a->inpkt->pts != AV_NOPTS_VALUE)
			a->base_utc_us = av_rescale_q(a->inpkt->pts, a->in->streams[0]->time_base,
						      (AVRational){ 1, 1000000 });
		ret = avcodec_send_packet(a->dec, a->inpkt);
		av_packet_unref(a->inpkt);
		ret = 0;
	}
	if (pthread_create(&a->thread, NULL, audio_main, a) != 0) {
		ret = AVERROR(ENOMEM);
		stage = "cannot start the sound thread";
		goto fail;
	}
	*out = a;
	return 0;
fail:
	if (ret == AVERROR(ENOMEM))
		code = -VG_ENOMEM;
	av_strerror(ret, err, sizeof(err));
	snprintf(why, whylen, "%s%s%s (%s)", device, *stage ? ": " : "", stage, err);
	release(a);
	return code;
}

const AVCodecParameters *vg_audio_codecpar(const struct vg_audio *a)
{
	return a->par;
}

AVRational vg_audio_time_base(const struct vg_audio *a)
{
	return a->enc->time_base;
}

int64_t vg_audio_base_utc(const struct vg_audio *a)
{
	return a->base_utc_us;
}

int vg_audio_pop(struct vg_audio *a, AVPacket *pkt)
{
	AVPacket *p = NULL;

	pthread_mutex_lock(&a->lock);
	if (a->q_len > 0) {
		p = a->q[a->q_head];
		a->q[a->q_head] = NULL;
		a->q_head = (a->q_head + 1) % QUEUE_CAP;
		a->q_len--;
	}
	pthread_mutex_unlock(&a->lock);
	if (p == NULL)
		return 0;
	av_packet_move_ref(pkt, p);
	av_packet_free(&p);
	return 1;
}

int64_t vg_audio_dropped(struct vg_audio *a)
{
	int64_t d;

	pthread_mutex_lock(&a->lock);
	d = a->dropped;
	pthread_mutex_unlock(&a->lock);
	return d;
}

void vg_audio_stop(struct vg_audio *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = 1;
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	release(a);
}
