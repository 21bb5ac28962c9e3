/*
 * segmenter.c - H.264 packets -> fragmented MP4 -> encrypted clip files.
 *
 * libavformat's mov muxer runs with frag_custom: we decide where fragments
 * end (av_write_frame(oc, NULL)) so that each fragment becomes exactly one
 * sealed chunk of the clip container. Nothing but the AVIO buffer (in
 * memory) ever holds plaintext.
 *
 * Threaded (params.threaded), the public calls only queue their packet
 * (a reference to the caller's, no copy) for a writer thread that runs the
 * same code the unthreaded calls run in place: the muxer, the sealing and
 * fdatasync of each fragment, the clip file's opening and closing with
 * their fsyncs and catalog rows. The caller, the camera's encoder thread,
 * then never waits on the disk unless the queue is full.
 */
#define VG_LOG_MODULE "SEG"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/segmenter.h"
#include "vigil/timeutil.h"

#define AVIO_BUF_SIZE (64 * 1024)
/* About 2.5 s of AAC: the sound waits for the video only as long as the
 * video is held back, so this is never reached in normal running. */
#define AUDIO_HOLD 128

/* A ring of cloned packets, oldest first. */
struct pktq {
	AVPacket **p;
	int cap, head, len;
};

enum op_kind { OP_VIDEO, OP_AUDIO, OP_AUDIO_END, OP_FINISH };

struct op {
	enum op_kind kind;
	AVPacket *pkt;			/* OP_VIDEO, OP_AUDIO: owned by the queue */
};

/* The writer thread and its queue (threaded only). An op stays in the
 * queue until it is done, so an empty queue means all is written. */
struct writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* an op queued or done, or quit */
	struct op q[SEG_QUEUE_MAX];
	int head, len;
	size_t bytes;			/* packet bytes queued */
	int quit;
	int err;			/* the first failure, 0 if none */
	int finish_ret;			/* the last OP_FINISH's result */
	struct vg_segmenter_stats st;	/* the thread's stats, as of its last op */
	/* The caller's own view of where clips are cut, for
	 * vg_segmenter_wants_keyframe (the caller's thread only): the same
	 * rule write_video applies, applied as packets are queued. */
	int open;
	int64_t start_us;
	int asked;
};

struct vg_segmenter {
	struct vg_segmenter_params p;
	struct writer *wr;		/* NULL unless threaded */
	char *camera;
	char *data_dir;
	AVCodecParameters *par;
	AVCodecParameters *apar;	/* NULL: no sound */
	int audio_on;			/* sound still expected */
	int audio_stream;		/* index in the open clip, -1 if none */
	int64_t audio_off;		/* audio pts of the open clip's start */
	int64_t audio_hw_us;		/* UTC end of the last audio packet given */
	struct pktq vq, aq;		/* held back, in time order */

	/* The open clip, if any. */
	struct vg_clip_writer *w;
	AVFormatContext *oc;
	struct vg_clip clip;
	int64_t clip_first_pts;
	int64_t frag_start_us;
	int64_t last_utc_us;
	/* The newest picture waits for the next one, which gives its true
	 * duration: the muxer rejects a fragment's first timestamp that falls
	 * inside the last picture's nominal duration (a camera's pictures come
	 * a little early or late) and moves it, so a picture would carry a
	 * time it was not taken at. */
	AVPacket *held;			/* in the clip's stream time base */
	int64_t held_utc_us;
	int keyframe_asked;		/* the cut's keyframe is on its way */
	int io_err;			/* VG_E* from the write callback */

	struct vg_segmenter_stats st;
};

static int write_cb(void *opaque, uint8_t *buf, int size)
{
	struct vg_segmenter *s = opaque;
	int ret = vg_clip_writer_write(s->w, buf, (size_t)size);

	if (ret < 0) {
		s->io_err = ret;
		return ret == -VG_ENOSPC ? AVERROR(ENOSPC) : AVERROR(EIO);
	}
	return size;
}

static int writer_start(struct vg_segmenter *s);
static void writer_stop(struct vg_segmenter *s);

static int pktq_init(struct pktq *q, int cap)
{
	q->p = calloc((size_t)cap, sizeof(*q->p));
	q->cap = cap;
	return q->p ? 0 : -VG_ENOMEM;
}

static AVPacket *pktq_head(const struct pktq *q)
{
	return q->len ? q->p[q->head] : NULL;
}

static void pktq_drop_head(struct pktq *q)
{
	av_packet_free(&q->p[q->head]);
	q->head = (q->head + 1) % q->cap;
	q->len--;
}

/* Queue a clone of pkt; when full the oldest packet is dropped (returns 1). */
static int pktq_push(struct pktq *q, const AVPacket *pkt)
{
	AVPacket *c = av_packet_clone(pkt);
	int dropped = 0;

	if (c == NULL)
		return -VG_ENOMEM;
	if (q->len == q->cap) {
		pktq_drop_head(q);
		dropped = 1;
	}
	q->p[(q->head + q->len) % q->cap] = c;
	q->len++;
	return dropped;
}

static void pktq_free(struct pktq *q)
{
	while (q->p && q->len)
		pktq_drop_head(q);
	free(q->p);
	q->p = NULL;
}

int vg_segmenter_new(struct vg_segmenter **out, const struct vg_segmenter_params *p)
{
	struct vg_segmenter *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -VG_ENOMEM;
	s->p = *p;
	s->camera = strdup(p->camera);
	s->data_dir = strdup(p->data_dir);
	s->par = avcodec_parameters_alloc();
	if (s->camera == NULL || s->data_dir == NULL || s->par == NULL ||
	    avcodec_parameters_copy(s->par, p->codecpar) < 0) {
		vg_segmenter_free(s);
		return -VG_ENOMEM;
	}
	s->p.camera = s->camera;
	s->p.data_dir = s->data_dir;
	s->p.codecpar = s->par;
	s->audio_stream = -1;
	if (p->audio_codecpar) {
		s->apar = avcodec_parameters_alloc();
		if (s->apar == NULL || avcodec_parameters_copy(s->apar, p->audio_codecpar) < 0 ||
		    pktq_init(&s->vq, SEG_VIDEO_HOLD) < 0 || pktq_init(&s->aq, AUDIO_HOLD) < 0) {
			vg_segmenter_free(s);
			return -VG_ENOMEM;
		}
		s->audio_on = 1;
	}
	s->p.audio_codecpar = s->apar;
	if (p->threaded && writer_start(s) < 0) {
		vg_segmenter_free(s);
		return -VG_ENOMEM;
	}
	*out = s;
	return 0;
}

int64_t vg_segmenter_utc(const struct vg_segmenter *s, int64_t pts)
{
	return s->p.base_utc_us + av_rescale_q(pts, s->p.time_base, (AVRational){ 1, 1000000 });
}

static int64_t audio_utc(const struct vg_segmenter *s, int64_t pts)
{
	return s->p.audio_base_utc_us +
	       av_rescale_q(pts, s->p.audio_time_base, (AVRational){ 1, 1000000 });
}

int vg_segmenter_wants_keyframe(struct vg_segmenter *s, int64_t ts_utc_us)
{
	struct writer *w = s->wr;

	if (w) {
		if (!w->open || w->asked || ts_utc_us - w->start_us < s->p.segment_us)
			return 0;
		w->asked = 1;
		return 1;
	}
	/* Ask once per clip: the encoder gives the keyframe's packet back
	 * only after its delay (frame threads, lookahead), and every picture
	 * sent meanwhile would otherwise be forced too - a run of IDRs at
	 * the start of each clip, each costing a full picture. If the forced
	 * one never came, x264's own keyframe every GOP cuts the clip. */
	if (s->w == NULL || s->keyframe_asked || ts_utc_us - s->clip.start_us < s->p.segment_us)
		return 0;
	s->keyframe_asked = 1;
	return 1;
}

void vg_segmenter_clip_path(const char *camera, int64_t start_us,
			    const uint8_t clip_id[VG_CLIP_ID_LEN], char *out, size_t len)
{
	char stamp[32];

	vg_time_format_compact(start_us, stamp, sizeof(stamp));
	/* clips/CAMERA/YYYYMMDD/CAMERA-YYYYMMDDTHHMMSSZ-IDPREFIX.vgc */
	snprintf(out, len, "clips/%s/%.8s/%s-%s-%02x%02x%02x%02x.vgc", camera, stamp, camera,
		 stamp, clip_id[0], clip_id[1], clip_id[2], clip_id[3]);
}

/* mkdir -p for the folders of a clip path, mode 0700: only vigild reads clips. */
static int make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			*p = '/';
			return -vg_err_from_errno(e);
		}
		*p = '/';
	}
	return 0;
}

static void free_muxer(struct vg_segmenter *s)
{
	if (s->oc == NULL)
		return;
	if (s->oc->pb) {
		av_freep(&s->oc->pb->buffer);
		avio_context_free(&s->oc->pb);
	}
	avformat_free_context(s->oc);
	s->oc = NULL;
}

/* Abandon the open clip after a failure: the file keeps what was sealed,
 * the row stays "recording" and is recovered (stats: abandoned_id). */
static void abandon_clip(struct vg_segmenter *s)
{
	av_packet_free(&s->held);
	if (s->w != NULL && s->clip.id > 0)
		s->st.abandoned_id = s->clip.id;
	free_muxer(s);
	vg_clip_writer_abandon(s->w);
	s->w = NULL;
	s->st.clip_id = 0;
}

static int open_clip(struct vg_segmenter *s, const AVPacket *pkt, int64_t utc)
{
	uint8_t clip_id[VG_CLIP_ID_LEN];
	char tmp_path[32];
	char abs_path[1024];
	char stamp[40];
	AVDictionary *opts = NULL;
	AVStream *st;
	uint8_t *buf;
	int ret;

	memset(&s->clip, 0, sizeof(s->clip));
	snprintf(s->clip.camera, sizeof(s->clip.camera), "%s", s->camera);
	s->clip.start_us = utc;
	s->clip.synthetic = s->p.synthetic;
	snprintf(s->clip.encoder, sizeof(s->clip.encoder), "%s", s->p.encoder_name);
	s->clip.width = s->par->width;
	s->clip.height = s->par->height;
	s->clip.state = VG_CLIP_RECORDING;

	/* The clip id is drawn by the writer; name the file after it. A
	 * placeholder id gives the folder, the real one the name. */
	memset(clip_id, 0, sizeof(clip_id));
	vg_segmenter_clip_path(s->camera, utc, clip_id, s->clip.path, sizeof(s->clip.path));
	snprintf(abs_path, sizeof(abs_path), "%s/%s", s->data_dir, s->clip.path);
	ret = make_parents(abs_path);
	if (ret < 0) {
		vg_warnx("%s: cannot create the clip folder for %s: %s", s->camera, abs_path,
			 vg_strerror(ret));
		return ret;
	}
	/* Create under a temporary unique name, catalogue the name that
	 * carries the clip id, then rename to it, all before any footage is
	 * written: a file under a clip's name always has its row (and the
	 * wrapped key), and a crash before the rename leaves a row without a
	 * file, which reconcile removes as empty. */
	snprintf(tmp_path, sizeof(tmp_path), ".new-%d", (int)getpid());
	{
		char *slash = strrchr(abs_path, '/');
		char dir[1024];
		char tmp_abs[1100];

		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - abs_path), abs_path);
		snprintf(tmp_abs, sizeof(tmp_abs), "%s/%s-%s", dir, tmp_path, s->camera);
		unlink(tmp_abs);	/* left by a crash before the rename */
		ret = vg_clip_writer_open(&s->w, tmp_abs, s->p.master, s->clip.wrapped_key,
					  s->clip.clip_id);
		if (ret < 0) {
			vg_warnx("%s: cannot create clip file: %s", s->camera, vg_strerror(ret));
			return ret;
		}
		vg_segmenter_clip_path(s->camera, utc, s->clip.clip_id, s->clip.path,
				       sizeof(s->clip.path));
		snprintf(abs_path, sizeof(abs_path), "%s/%s", s->data_dir, s->clip.path);
		s->clip.has_key = 1;
		/* The row (with the wrapped key) exists before any footage is
		 * written: after a crash, every file with footage in it has a
		 * row to recover. */
		ret = vg_catalog_clip_begin(s->p.cat, &s->clip);
		if (ret < 0) {
			vg_clip_writer_abandon(s->w);
			s->w = NULL;
			unlink(tmp_abs);
			return ret;
		}
		if (rename(tmp_abs, abs_path) < 0) {
			ret = -vg_err_from_errno(errno);
			vg_warn("%s: cannot name clip file %s", s->camera, abs_path);
			vg_clip_writer_abandon(s->w);
			s->w = NULL;
			unlink(tmp_abs);
			s->st.abandoned_id = s->clip.id;	/* a row without a file */
			return ret;
		}
	}

	ret = avformat_alloc_output_context2(&s->oc, NULL, "mp4", NULL);
	if (ret < 0 || s->oc == NULL) {
		ret = -VG_ENOMEM;
		goto fail;
	}
	st = avformat_new_stream(s->oc, NULL);
	buf = av_malloc(AVIO_BUF_SIZE);
	if (st == NULL || buf == NULL) {
		av_free(buf);
		ret = -VG_ENOMEM;
		goto fail;
	}
	s->oc->pb = avio_alloc_context(buf, AVIO_BUF_SIZE, 1, s, NULL, write_cb, NULL);
	if (s->oc->pb == NULL) {
		av_free(buf);
		ret = -VG_ENOMEM;
		goto fail;
	}
	s->oc->pb->seekable = 0;
	s->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
	avcodec_parameters_copy(st->codecpar, s->par);
	st->codecpar->codec_tag = 0;
	st->time_base = s->p.time_base;
	s->audio_stream = -1;
	if (s->apar && s->audio_on) {
		AVStream *ast = avformat_new_stream(s->oc, NULL);

		if (ast == NULL) {
			ret = -VG_ENOMEM;
			goto fail;
		}
		avcodec_parameters_copy(ast->codecpar, s->apar);
		ast->codecpar->codec_tag = 0;
		ast->time_base = s->p.audio_time_base;
		s->audio_stream = ast->index;
		/* Audio pts 0 in the clip is the keyframe's instant. */
		s->audio_off = av_rescale_q(utc - s->p.audio_base_utc_us,
					    (AVRational){ 1, 1000000 }, s->p.audio_time_base);
	}
	vg_time_format(utc, stamp, sizeof(stamp));
	av_dict_set(&s->oc->metadata, "creation_time", stamp, 0);
	av_dict_set(&s->oc->metadata, "title", s->camera, 0);
	if (s->p.synthetic)
		av_dict_set(&s->oc->metadata, "comment", "SYNTHETIC TEST CAMERA - not real footage", 0);
	av_dict_set(&opts, "movflags", "empty_moov+default_base_moof+frag_custom", 0);
	if (s->audio_stream >= 0) {
		/* The first audio packet starts up to one AAC frame after the
		 * keyframe. Without this the muxer would move it to 0; with it
		 * the fragment's tfdt carries its true start. */
		s->oc->avoid_negative_ts = AVFMT_AVOID_NEG_TS_MAKE_NON_NEGATIVE;
		av_dict_set(&opts, "use_editlist", "0", 0);
		av_dict_set(&opts, "movflags", "+frag_discont", AV_DICT_APPEND);
	}
	ret = avformat_write_header(s->oc, &opts);
	av_dict_free(&opts);
	if (ret < 0) {
		ret = s->io_err ? s->io_err : -VG_ECODEC;
		goto fail;
	}
	s->clip_first_pts = pkt->pts;
	s->keyframe_asked = 0;
	s->frag_start_us = utc;
	s->st.clip_id = s->clip.id;
	s->st.clip_frames = 0;
	snprintf(s->st.clip_path, sizeof(s->st.clip_path), "%s", s->clip.path);
	vg_debug("%s: clip %lld started: %s", s->camera, (long long)s->clip.id, s->clip.path);
	return 0;
fail:
	vg_warnx("%s: cannot start clip %s: %s", s->camera, s->clip.path, vg_strerror(ret));
	abandon_clip(s);
	return ret;
}

static int seal_fragment(struct vg_segmenter *s)
{
	int ret = av_write_frame(s->oc, NULL);

	if (ret < 0)
		return s->io_err ? s->io_err : -VG_ECODEC;
	avio_flush(s->oc->pb);
	if (s->io_err)
		return s->io_err;
	return vg_clip_writer_flush(s->w);
}

/* Write the held picture into the open clip, lasting until next_dts (in
 * the clip's stream time base; AV_NOPTS_VALUE: the nominal interval). */
static int write_held(struct vg_segmenter *s, int64_t next_dts)
{
	AVPacket *pkt = s->held;
	int ret;

	if (pkt == NULL)
		return 0;
	s->held = NULL;
	if (next_dts != AV_NOPTS_VALUE && next_dts > pkt->dts)
		pkt->duration = next_dts - pkt->dts;
	ret = av_write_frame(s->oc, pkt);
	av_packet_free(&pkt);
	if (ret < 0)
		return s->io_err ? s->io_err : -VG_ECODEC;
	s->last_utc_us = s->held_utc_us;
	s->clip.frames++;
	s->st.frames++;
	s->st.clip_frames = s->clip.frames;
	s->st.clip_bytes = vg_clip_writer_bytes(s->w);
	return 0;
}

static int close_clip(struct vg_segmenter *s)
{
	uint64_t bytes = 0;
	int ret;

	if (s->w == NULL)
		return 0;
	ret = write_held(s, AV_NOPTS_VALUE);
	if (ret < 0) {
		vg_warnx("%s: writing clip %s failed: %s", s->camera, s->clip.path,
			 vg_strerror(ret));
		abandon_clip(s);
		return ret;
	}
	ret = av_write_trailer(s->oc);
	if (ret >= 0)
		avio_flush(s->oc->pb);
	if (ret < 0 || s->io_err) {
		ret = s->io_err ? s->io_err : -VG_ECODEC;
		vg_warnx("%s: clip %s could not be closed cleanly: %s", s->camera, s->clip.path,
			 vg_strerror(ret));
		abandon_clip(s);
		return ret;
	}
	free_muxer(s);
	ret = vg_clip_writer_close(s->w, s->clip.sha256, &bytes);
	s->w = NULL;
	s->st.clip_id = 0;
	if (ret < 0) {
		vg_warnx("%s: clip %s: final write failed: %s", s->camera, s->clip.path,
			 vg_strerror(ret));
		s->st.abandoned_id = s->clip.id;
		return ret;
	}
	s->clip.bytes = (int64_t)bytes;
	s->clip.end_us = s->last_utc_us + s->p.frame_us;
	s->clip.state = VG_CLIP_COMPLETE;
	ret = vg_catalog_clip_finish(s->p.cat, &s->clip);
	if (ret < 0) {
		s->st.abandoned_id = s->clip.id;	/* whole on disk, still open in the row */
		return ret;
	}
	s->st.clips++;
	if (s->p.on_clip)
		s->p.on_clip(s->p.on_clip_ud, &s->clip);
	vg_debug("%s: clip %lld complete: %lld frames, %lld bytes", s->camera,
		 (long long)s->clip.id, (long long)s->clip.frames, (long long)s->clip.bytes);
	return 0;
}

/* The clip-relative packet for in, in the clip's stream time base. */
static AVPacket *clip_packet(struct vg_segmenter *s, const AVPacket *in)
{
	AVPacket *pkt = av_packet_clone(in);

	if (pkt == NULL)
		return NULL;
	pkt->stream_index = 0;
	pkt->pts -= s->clip_first_pts;
	pkt->dts = (in->dts == AV_NOPTS_VALUE ? in->pts : in->dts) - s->clip_first_pts;
	if (pkt->duration <= 0)
		pkt->duration = av_rescale_q(s->p.frame_us, (AVRational){ 1, 1000000 },
					     s->p.time_base);
	av_packet_rescale_ts(pkt, s->p.time_base, s->oc->streams[0]->time_base);
	return pkt;
}

static int write_video(struct vg_segmenter *s, const AVPacket *in)
{
	int key = (in->flags & AV_PKT_FLAG_KEY) != 0;
	int64_t utc = vg_segmenter_utc(s, in->pts);
	AVPacket *pkt;
	int ret;

	if (s->w && s->held) {
		/* in ends the held picture, in this clip's timeline */
		pkt = clip_packet(s, in);
		if (pkt == NULL)
			return -VG_ENOMEM;
		ret = write_held(s, pkt->dts);
		av_packet_free(&pkt);
		if (ret < 0)
			goto fail;
	}
	if (s->w && key && utc - s->clip.start_us >= s->p.segment_us) {
		ret = close_clip(s);
		if (ret < 0)
			return ret;
	}
	if (s->w == NULL) {
		if (!key) {
			s->st.skipped++;	/* a clip must start on a keyframe */
			return 0;
		}
		ret = open_clip(s, in, utc);
		if (ret < 0)
			return ret;
	} else if (utc - s->frag_start_us >= s->p.fragment_us) {
		ret = seal_fragment(s);
		if (ret < 0)
			goto fail;
		s->frag_start_us = utc;
	}

	s->held = clip_packet(s, in);
	if (s->held == NULL)
		return -VG_ENOMEM;
	s->held_utc_us = utc;
	return 0;
fail:
	vg_warnx("%s: writing clip %s failed: %s", s->camera, s->clip.path, vg_strerror(ret));
	abandon_clip(s);
	return ret;
}

/* One audio packet into the open clip, if its start lies in the clip. */
static int write_audio(struct vg_segmenter *s, const AVPacket *in)
{
	AVPacket *pkt;
	int ret;

	if (s->w == NULL || s->audio_stream < 0 ||
	    audio_utc(s, in->pts) < s->clip.start_us) {
		s->st.audio_dropped++;
		return 0;
	}
	pkt = av_packet_clone(in);
	if (pkt == NULL)
		return -VG_ENOMEM;
	pkt->stream_index = s->audio_stream;
	pkt->pts -= s->audio_off;
	pkt->dts = pkt->pts;
	av_packet_rescale_ts(pkt, s->p.audio_time_base,
			     s->oc->streams[s->audio_stream]->time_base);
	ret = av_write_frame(s->oc, pkt);
	av_packet_free(&pkt);
	if (ret < 0) {
		ret = s->io_err ? s->io_err : -VG_ECODEC;
		vg_warnx("%s: writing sound into clip %s failed: %s", s->camera, s->clip.path,
			 vg_strerror(ret));
		abandon_clip(s);
		return ret;
	}
	s->st.audio_packets++;
	return 0;
}

/*
 * Write what is held back, in time order: an audio packet that starts
 * before the next video packet goes first (into the clip that video packet
 * belongs to, or ends); a video packet goes once the sound has reached it,
 * or the hold is full, or no more sound is coming (finishing: final).
 */
static int pump(struct vg_segmenter *s, int final)
{
	int ret = 0;

	for (;;) {
		AVPacket *v = pktq_head(&s->vq);
		AVPacket *a = pktq_head(&s->aq);
		int64_t vu = v ? vg_segmenter_utc(s, v->pts) : 0;
		int64_t au = a ? audio_utc(s, a->pts) : 0;

		if (a && v && au < vu) {
			ret = write_audio(s, a);
			pktq_drop_head(&s->aq);
		} else if (v && (final || !s->audio_on || s->audio_hw_us >= vu ||
				 s->vq.len == s->vq.cap)) {
			ret = write_video(s, v);
			pktq_drop_head(&s->vq);
		} else if (a && !v && final) {
			/* The last clip ends with its last picture. */
			if (au < (s->held ? s->held_utc_us : s->last_utc_us) + s->p.frame_us)
				ret = write_audio(s, a);
			else
				s->st.audio_dropped++;
			pktq_drop_head(&s->aq);
		} else {
			return 0;
		}
		if (ret < 0)
			break;
	}
	/* After a failure the segmenter starts afresh: what was held back
	 * belonged to the clip that failed. */
	s->st.audio_dropped += s->aq.len;
	while (s->vq.len)
		pktq_drop_head(&s->vq);
	while (s->aq.len)
		pktq_drop_head(&s->aq);
	return ret;
}

static int seg_write(struct vg_segmenter *s, const AVPacket *in)
{
	int ret;

	if (s->apar == NULL || (!s->audio_on && s->vq.len == 0 && s->aq.len == 0))
		return write_video(s, in);
	ret = pktq_push(&s->vq, in);
	if (ret < 0)
		return ret;
	return pump(s, 0);
}

static int seg_write_audio(struct vg_segmenter *s, const AVPacket *in)
{
	int ret;

	if (s->apar == NULL || !s->audio_on)
		return 0;
	ret = pktq_push(&s->aq, in);
	if (ret < 0)
		return ret;
	if (ret == 1)
		s->st.audio_dropped++;
	s->audio_hw_us = audio_utc(s, in->pts + (in->duration > 0 ? in->duration : 0));
	return pump(s, 0);
}

static int seg_finish(struct vg_segmenter *s)
{
	int ret = 0;

	if (s->apar)
		ret = pump(s, 1);
	if (ret < 0)
		return ret;
	return close_clip(s);
}

/* ---- the writer thread (threaded only) ---- */

/* Carry out one op on the writer thread. After a failure the packets
 * still queued belong to a clip that is gone: they are counted, not
 * written, until the caller has seen the failure and made a new
 * segmenter. */
static int run_op(struct vg_segmenter *s, const struct op *op, int failed)
{
	switch (op->kind) {
	case OP_VIDEO:
		if (failed) {
			s->st.discarded++;
			return 0;
		}
		return seg_write(s, op->pkt);
	case OP_AUDIO:
		if (failed) {
			s->st.audio_dropped++;
			return 0;
		}
		return seg_write_audio(s, op->pkt);
	case OP_AUDIO_END:
		s->audio_on = 0;
		return 0;
	case OP_FINISH:
		return seg_finish(s);
	}
	return 0;
}

static void *writer_main(void *arg)
{
	struct vg_segmenter *s = arg;
	struct writer *w = s->wr;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct op op;
		int failed, ret;

		while (w->len == 0 && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->len == 0)
			break;		/* quit, and nothing left to do */
		op = w->q[w->head];
		failed = w->err != 0;
		pthread_mutex_unlock(&w->lock);
		ret = run_op(s, &op, failed);
		pthread_mutex_lock(&w->lock);
		if (op.kind == OP_FINISH)
			w->finish_ret = ret;
		else if (ret < 0 && w->err == 0)
			w->err = ret;
		if (op.pkt)
			w->bytes -= (size_t)op.pkt->size;
		av_packet_free(&op.pkt);
		w->head = (w->head + 1) % SEG_QUEUE_MAX;
		w->len--;
		w->st = s->st;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int writer_start(struct vg_segmenter *s)
{
	struct writer *w = calloc(1, sizeof(*w));
	char name[16];

	if (w == NULL)
		return -VG_ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	s->wr = w;
	if (pthread_create(&w->thread, NULL, writer_main, s) != 0) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		free(w);
		s->wr = NULL;
		return -VG_ENOMEM;
	}
	snprintf(name, sizeof(name), "seg:%.11s", s->camera);
	pthread_setname_np(w->thread, name);
	return 0;
}

/* Queue an op, waiting while the queue is full (by count, or by bytes
 * unless it is empty). A packet is not queued once a write has failed:
 * the failure is returned instead. */
static int writer_push(struct vg_segmenter *s, enum op_kind kind, const AVPacket *pkt)
{
	struct writer *w = s->wr;
	AVPacket *c = NULL;
	size_t size = 0;
	int ret = 0;

	if (pkt) {
		c = av_packet_clone(pkt);
		if (c == NULL)
			return -VG_ENOMEM;
		size = (size_t)c->size;
	}
	pthread_mutex_lock(&w->lock);
	if (c && w->err) {
		ret = w->err;
		w->open = 0;
		goto out;
	}
	while (w->len == SEG_QUEUE_MAX || (w->len > 0 && w->bytes + size > SEG_QUEUE_BYTES))
		pthread_cond_wait(&w->cond, &w->lock);
	w->q[(w->head + w->len) % SEG_QUEUE_MAX] = (struct op){ .kind = kind, .pkt = c };
	w->len++;
	w->bytes += size;
	c = NULL;
	pthread_cond_broadcast(&w->cond);
out:
	pthread_mutex_unlock(&w->lock);
	av_packet_free(&c);
	return ret;
}

/* Wait until the writer thread has done everything queued. */
static void writer_drain(struct writer *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->len > 0)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

/* Finish what is queued, then end the thread. */
static void writer_stop(struct vg_segmenter *s)
{
	struct writer *w = s->wr;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->quit = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	s->wr = NULL;
}

/* ---- the calls ---- */

int vg_segmenter_write(struct vg_segmenter *s, const AVPacket *in)
{
	struct writer *w = s->wr;
	int64_t utc;

	if (w == NULL)
		return seg_write(s, in);
	/* Where write_video will cut: on a keyframe, when no clip is open
	 * or the open one is long enough. */
	utc = vg_segmenter_utc(s, in->pts);
	if ((in->flags & AV_PKT_FLAG_KEY) &&
	    (!w->open || utc - w->start_us >= s->p.segment_us)) {
		w->open = 1;
		w->start_us = utc;
		w->asked = 0;
	}
	return writer_push(s, OP_VIDEO, in);
}

int vg_segmenter_write_audio(struct vg_segmenter *s, const AVPacket *in)
{
	if (s->wr == NULL)
		return seg_write_audio(s, in);
	if (s->apar == NULL)
		return 0;
	return writer_push(s, OP_AUDIO, in);
}

void vg_segmenter_audio_end(struct vg_segmenter *s)
{
	if (s->wr == NULL)
		s->audio_on = 0;
	else
		writer_push(s, OP_AUDIO_END, NULL);
}

int vg_segmenter_finish(struct vg_segmenter *s)
{
	struct writer *w = s->wr;
	int ret;

	if (w == NULL)
		return seg_finish(s);
	writer_push(s, OP_FINISH, NULL);
	writer_drain(w);
	pthread_mutex_lock(&w->lock);
	ret = w->err ? w->err : w->finish_ret;
	pthread_mutex_unlock(&w->lock);
	return ret;
}

void vg_segmenter_stats(const struct vg_segmenter *s, struct vg_segmenter_stats *st)
{
	struct writer *w = s->wr;

	if (w == NULL) {
		*st = s->st;
		return;
	}
	pthread_mutex_lock(&w->lock);
	*st = w->st;
	pthread_mutex_unlock(&w->lock);
}

void vg_segmenter_free(struct vg_segmenter *s)
{
	if (s == NULL)
		return;
	vg_segmenter_finish(s);
	writer_stop(s);
	abandon_clip(s);
	pktq_free(&s->vq);
	pktq_free(&s->aq);
	avcodec_parameters_free(&s->apar);
	avcodec_parameters_free(&s->par);
	free(s->camera);
	free(s->data_dir);
	free(s);
}
