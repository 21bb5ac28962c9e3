/*
 * export_media.c - one run of clips into one MP4 file: the original H.264
 * packets remuxed onto one timeline (or, with redactions, decoded, blanked
 * and re-encoded), written through our own AVIO with the moov in room
 * reserved after ftyp, then named by the time it delivers and handed to
 * the hash worker. The workers check each piece as the muxer passes it
 * (exp_check_*, export_io.c).
 */
#define VG_LOG_MODULE "EXP"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#include "vigil/err.h"
#include "vigil/export.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"

#include "export_impl.h"

/* ---- writing one run ---- */

struct rect_px {
	int x, y, w, h;
	int64_t from_us, to_us;
};

struct sink {
	struct exp *e;
	struct outfile *f;
	AVFormatContext *o;
	AVStream *ost;
	AVRational tb;			/* output time base (the run's) */
	AVPacket *held;			/* remux: waits for the next pts for its duration */
	int64_t nominal;		/* frame interval in tb */
	int64_t first_pts, end_pts;
	int64_t utc0;			/* UTC of output pts 0 */
	/* redaction */
	AVCodecContext *dec, *enc;
	AVFrame *frame;
	AVPacket *epkt;
	/* output */
	int fd;
	int64_t pos, synced;		/* fdio: write position, writeback started below */
	int reserve;			/* moov_size reserved after ftyp; 0: +faststart */
	int werr;			/* errno of the first failed write to the medium */
};

/* Writeback is started every WB_STEP bytes so the disk works while the
 * muxer does, and the final fsync has little left to wait for. */
#define WB_STEP (8 * 1024 * 1024)

/* The output AVIO: plain pwrite at the muxer's position. */
static int fdio_write(void *opaque, uint8_t *buf, int size)
{
	struct sink *s = opaque;
	int done = 0;

	exp_check_write(s->e, s->f, s->pos, size);
	while (done < size) {
		ssize_t n = pwrite(s->fd, buf + done, (size_t)(size - done), s->pos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (s->werr == 0)
				s->werr = errno;
			return AVERROR(errno);
		}
		done += (int)n;
		s->pos += n;
	}
	if (s->pos - s->synced >= WB_STEP) {
		sync_file_range(s->fd, s->synced, s->pos - s->synced, SYNC_FILE_RANGE_WRITE);
		s->synced = s->pos;
		/* and the workers read it back behind us */
		exp_check_upto(s->e, s->f, s->synced);
	}
	return size;
}

static int64_t fdio_seek(void *opaque, int64_t off, int whence)
{
	struct sink *s = opaque;
	struct stat st;

	if (whence == AVSEEK_SIZE || whence == SEEK_END) {
		if (fstat(s->fd, &st) < 0)
			return AVERROR(errno);
		if (whence == AVSEEK_SIZE)
			return st.st_size;
		off += st.st_size;
	} else if (whence == SEEK_CUR) {
		off += s->pos;
	} else if (whence != SEEK_SET) {
		return AVERROR(EINVAL);
	}
	if (off < 0)
		return AVERROR(EINVAL);
	/* Seeking back (the muxer patching sizes) restarts writeback there. */
	if (off < s->synced)
		s->synced = off;
	s->pos = off;
	return off;
}

/* Release the output AVIO and fd; returns the first write error. */
static int fdio_close(struct sink *s)
{
	int ret = 0;

	if (s->o && s->o->pb) {
		avio_flush(s->o->pb);
		if (s->o->pb->error < 0)
			ret = -VG_EIO;
		av_freep(&s->o->pb->buffer);
		avio_context_free(&s->o->pb);
	}
	if (s->fd > 0) {
		if (close(s->fd) < 0 && ret == 0)
			ret = -vg_err_from_errno(errno);
		s->fd = -1;
	}
	return ret;
}

/* The medium refused a write (EPERM on a FUSE vfat past its limit,
 * ENOSPC, EIO from a failing stick): say so, naming the destination, not
 * as a muxer failure. Returns the VG_E* code for errno werr. */
static int medium_error(struct sink *s)
{
	exp_why(s->e, "the destination medium %s refused a write to %s (%s): check the USB "
	    "stick or disc is writable, has room and is not faulty, or export to another "
	    "medium", s->e->dest, s->f->name, strerror(s->werr));
	return -vg_err_from_errno(s->werr);
}

static int mux_open(struct sink *s, const char *path, const AVCodecParameters *par)
{
	AVDictionary *opt = NULL;
	char when[40];
	int ret;

	if (avformat_alloc_output_context2(&s->o, NULL, "mp4", path) < 0)
		return -VG_ENOMEM;
	s->ost = avformat_new_stream(s->o, NULL);
	if (s->ost == NULL)
		return -VG_ENOMEM;
	if (s->enc)
		ret = avcodec_parameters_from_context(s->ost->codecpar, s->enc);
	else
		ret = avcodec_parameters_copy(s->ost->codecpar, par);
	if (ret < 0)
		return -VG_ECODEC;
	s->ost->codecpar->codec_tag = 0;
	s->ost->time_base = s->tb;
	vg_time_format(s->utc0, when, sizeof(when));
	av_dict_set(&s->o->metadata, "creation_time", when, 0);
	av_dict_set(&s->ost->metadata, "creation_time", when, 0);
	/* Test footage keeps its label wherever the file goes (players and
	 * ffprobe show the comment tag). */
	if (s->f && s->f->synthetic)
		av_dict_set(&s->o->metadata, "comment", VG_EXPORT_SYNTHETIC_LABEL, 0);
	s->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (s->fd < 0)
		return -vg_err_from_errno(errno);
	exp_check_open(s->e, s->f, s->fd);
	s->pos = 0;
	s->synced = 0;
	{
		uint8_t *buf = av_malloc(IO_BUF);

		if (buf)
			s->o->pb = avio_alloc_context(buf, IO_BUF, 1, s, NULL, fdio_write,
						      fdio_seek);
		if (s->o->pb == NULL) {
			av_free(buf);
			return -VG_ENOMEM;
		}
		s->o->flags |= AVFMT_FLAG_CUSTOM_IO;
	}
	/*
	 * moov first. With room reserved for it after ftyp (moov_size), the
	 * muxer writes it there at the end and every byte is written once;
	 * +faststart instead moves the whole file up at the end, writing it
	 * twice. The room is a generous bound from the frame count (a few
	 * tens of bytes per sample in stsz/stco/stsc/stss/stts); the unused
	 * rest is a "free" box, which every player skips. Should the moov not
	 * fit after all, the run is written again with +faststart.
	 */
	if (s->reserve > 0) {
		char v[24];

		snprintf(v, sizeof(v), "%d", s->reserve);
		av_dict_set(&opt, "moov_size", v, 0);
	} else {
		av_dict_set(&opt, "movflags", "+faststart", 0);
	}
	ret = avformat_write_header(s->o, &opt);
	av_dict_free(&opt);
	if (ret < 0 && s->werr)
		return medium_error(s);
	return ret < 0 ? -VG_ECODEC : 0;
}

static int mux_write(struct sink *s, AVPacket *p, AVRational from)
{
	int ret;

	av_packet_rescale_ts(p, from, s->ost->time_base);
	p->stream_index = 0;
	p->pos = -1;
	ret = av_write_frame(s->o, p);
	if (ret < 0 && s->werr)
		return medium_error(s);
	if (ret < 0) {
		exp_why(s->e, "writing %s failed (%s)", s->f->name,
		    ret == AVERROR(ENOSPC) ? "the medium is full" : "muxer error");
		return ret == AVERROR(ENOSPC) ? -VG_ENOSPC : -VG_EIO;
	}
	return 0;
}

/* The blanked area is the rectangle grown by a margin and out to whole
 * 16-pixel macroblocks: the encoder's transforms and deblocking work on
 * those blocks and would otherwise smear picture detail back in at the
 * rectangle's edges. */
static void fill(AVFrame *fr, const struct rect_px *in, int64_t utc)
{
	/* 64-bit throughout and clamped to the picture: a rectangle from a
	 * request is checked before it gets here, but an overflow must never
	 * turn into a region that blanks nothing. */
	int64_t gx0, gy0, gx1, gy1;

	if ((in->from_us || in->to_us) && (utc < in->from_us || utc >= in->to_us))
		return;
	if (in->w <= 0 || in->h <= 0 || fr->width <= 0 || fr->height <= 0)
		return;
	gx0 = (int64_t)in->x - 4;
	gy0 = (int64_t)in->y - 4;
	gx0 = gx0 < 0 ? 0 : gx0 / 16 * 16;
	gy0 = gy0 < 0 ? 0 : gy0 / 16 * 16;
	gx1 = ((int64_t)in->x + in->w + 4 + 15) / 16 * 16;
	gy1 = ((int64_t)in->y + in->h + 4 + 15) / 16 * 16;
	if (gx1 > fr->width)
		gx1 = fr->width;
	if (gy1 > fr->height)
		gy1 = fr->height;
	if (gx0 >= gx1 || gy0 >= gy1)
		return;
	for (int pl = 0; pl < 3; pl++) {
		int sh = pl ? 1 : 0;
		int64_t x0 = gx0 >> sh, y0 = gy0 >> sh;
		int64_t x1 = (gx1 + sh) >> sh, y1 = (gy1 + sh) >> sh;
		int64_t pw = pl ? (fr->width + 1) / 2 : fr->width;
		int64_t ph = pl ? (fr->height + 1) / 2 : fr->height;

		if (x1 > pw)
			x1 = pw;
		if (y1 > ph)
			y1 = ph;
		for (int64_t y = y0; y < y1; y++)
			memset(fr->data[pl] + (size_t)y * (size_t)fr->linesize[pl] + (size_t)x0,
			       pl ? 128 : 16, (size_t)(x1 > x0 ? x1 - x0 : 0));
	}
}

static int enc_drain(struct sink *s, const AVFrame *fr)
{
	int ret = avcodec_send_frame(s->enc, fr);

	if (ret < 0)
		return -VG_ECODEC;
	for (;;) {
		ret = avcodec_receive_packet(s->enc, s->epkt);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return -VG_ECODEC;
		if (s->first_pts == AV_NOPTS_VALUE)
			s->first_pts = s->epkt->pts;
		if (s->epkt->pts + s->nominal > s->end_pts)
			s->end_pts = s->epkt->pts + s->nominal;
		s->f->frames++;
		if (s->epkt->duration <= 0)
			s->epkt->duration = s->nominal;
		ret = mux_write(s, s->epkt, s->enc->time_base);
		av_packet_unref(s->epkt);
		if (ret < 0)
			return ret;
	}
}

static int dec_drain(struct sink *s, const AVPacket *p)
{
	const struct vg_export_request *q = s->e->req;
	int ret = avcodec_send_packet(s->dec, p);

	if (ret < 0)
		return -VG_ECODEC;
	for (;;) {
		int64_t pts;

		ret = avcodec_receive_frame(s->dec, s->frame);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
			return 0;
		if (ret < 0)
			return -VG_ECODEC;
		if (s->frame->format != AV_PIX_FMT_YUV420P && s->frame->format != AV_PIX_FMT_YUVJ420P) {
			av_frame_unref(s->frame);
			exp_why(s->e, "redaction needs 4:2:0 video");
			return -VG_EFORMAT;
		}
		pts = s->frame->best_effort_timestamp;
		ret = av_frame_make_writable(s->frame);
		if (ret < 0) {
			av_frame_unref(s->frame);
			return -VG_ENOMEM;
		}
		for (int i = 0; i < q->n_redactions; i++) {
			const struct vg_export_rect *r = &q->redactions[i];
			struct rect_px px = { r->x, r->y, r->w, r->h, r->from_us, r->to_us };

			fill(s->frame, &px, s->utc0 + av_rescale_q(pts, s->tb, US));
		}
		s->frame->pts = pts;
		s->frame->pict_type = AV_PICTURE_TYPE_NONE;
		ret = enc_drain(s, s->frame);
		av_frame_unref(s->frame);
		if (ret < 0)
			return ret;
	}
}

static int sink_open(struct sink *s, struct exp *e, struct outfile *f,
		     const AVCodecParameters *par, AVRational in_tb)
{
	const AVCodec *dc, *ec;

	s->e = e;
	s->f = f;
	s->first_pts = AV_NOPTS_VALUE;
	s->end_pts = 0;
	if (!f->redacted) {
		s->held = av_packet_alloc();
		return s->held ? mux_open(s, f->path, par) : -VG_ENOMEM;
	}
	dc = avcodec_find_decoder(par->codec_id);
	ec = avcodec_find_encoder_by_name("libx264");
	if (dc == NULL || ec == NULL) {
		exp_why(e, "redaction needs an H.264 decoder and libx264");
		return -VG_ECODEC;
	}
	s->dec = avcodec_alloc_context3(dc);
	s->enc = avcodec_alloc_context3(ec);
	s->frame = av_frame_alloc();
	s->epkt = av_packet_alloc();
	if (!s->dec || !s->enc || !s->frame || !s->epkt)
		return -VG_ENOMEM;
	if (avcodec_parameters_to_context(s->dec, par) < 0)
		return -VG_ECODEC;
	s->dec->pkt_timebase = s->tb;
	s->dec->thread_count = 1;
	if (avcodec_open2(s->dec, dc, NULL) < 0)
		return -VG_ECODEC;
	s->enc->width = par->width;
	s->enc->height = par->height;
	s->enc->pix_fmt = AV_PIX_FMT_YUV420P;
	s->enc->time_base = s->tb;
	s->enc->gop_size = 50;
	s->enc->max_b_frames = 0;
	s->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	av_opt_set(s->enc->priv_data, "preset", "veryfast", 0);
	av_opt_set(s->enc->priv_data, "crf", "20", 0);
	if (avcodec_open2(s->enc, ec, NULL) < 0) {
		exp_why(e, "cannot open libx264 for the redacted copy");
		return -VG_ECODEC;
	}
	(void)in_tb;
	return mux_open(s, f->path, par);
}

/* One packet of the original stream, pts/dts already on the run's timeline. */
static int sink_packet(struct sink *s, AVPacket *p)
{
	int ret;

	if (s->f->redacted)
		return dec_drain(s, p);
	if (s->held->data) {
		s->held->duration = p->pts - s->held->pts;
		ret = mux_write(s, s->held, s->tb);
		av_packet_unref(s->held);
		if (ret < 0)
			return ret;
	}
	if (s->first_pts == AV_NOPTS_VALUE)
		s->first_pts = p->pts;
	s->f->frames++;
	av_packet_move_ref(s->held, p);
	return 0;
}

/* Flush and close; ok = 0 closes without writing the rest. */
static int sink_close(struct sink *s, int ok)
{
	int ret = 0;

	if (ok && s->f && !s->f->redacted && s->held && s->held->data) {
		s->held->duration = s->nominal;
		s->end_pts = s->held->pts + s->nominal;
		ret = mux_write(s, s->held, s->tb);
	}
	if (ok && ret == 0 && s->f && s->f->redacted) {
		ret = dec_drain(s, NULL);
		if (ret == 0)
			ret = enc_drain(s, NULL);
	}
	if (s->o && ok && ret == 0 && av_write_trailer(s->o) < 0) {
		if (s->werr) {
			ret = medium_error(s);
		} else if (s->reserve > 0) {
			ret = -VG_EAGAIN;	/* the moov did not fit: the caller retries */
		} else {
			exp_why(s->e, "finishing %s failed", s->f->name);
			ret = -VG_EIO;
		}
	}
	{
		int cr = fdio_close(s);

		if (cr < 0 && ret == 0 && s->werr) {
			ret = medium_error(s);
		} else if (cr < 0 && ret == 0) {
			exp_why(s->e, "writing %s failed: %s", s->f->name, vg_strerror(cr));
			ret = cr;
		}
	}
	/* Every byte is written: the rest of the check (or, dropped, none). */
	if (s->f)
		exp_check_close(s->e, s->f, ok && ret == 0);
	if (s->o) {
		avformat_free_context(s->o);
		s->o = NULL;
	}
	av_packet_free(&s->held);
	av_packet_free(&s->epkt);
	av_frame_free(&s->frame);
	avcodec_free_context(&s->dec);
	avcodec_free_context(&s->enc);
	return ret;
}

static void name_file(struct exp *e, struct outfile *f)
{
	char a[32], b[32];

	vg_time_format_compact(f->from_us, a, sizeof(a));
	vg_time_format_compact(f->to_us, b, sizeof(b));
	snprintf(f->name, sizeof(f->name), "%s_%s-%s%s.mp4", f->camera, a, b,
		 f->redacted ? "-REDACTED" : "");
}

/* One run being written: the steps of exp_run() share it. */
struct runw {
	struct exp *e;
	const struct run *r;
	struct outfile *f;
	struct sink s;
	AVRational rtb;			/* the run's time base */
	AVPacket *pkt;			/* the packet being placed */
	AVPacket **pend;		/* before the file starts: the GOP so far */
	int npend, capend;
	int started;			/* the file is open: a picture was in range */
	int stop;			/* past the requested end */
	int64_t raw0;			/* run pts of the file's first packet */
	int64_t last_out, last_utc;	/* the last packet written: file pts, UTC */
	AVCodecParameters *cpar;	/* the current clip's */
	AVRational stb;			/* the current clip's time base */
	int64_t first;			/* the current clip's first pts */
};

/* The file a run becomes, named .runN.mp4 until its range is known. */
static struct outfile *run_file(struct exp *e, const struct run *r)
{
	struct outfile *f;
	char tmpname[64];

	snprintf(tmpname, sizeof(tmpname), ".run%d.mp4", e->nruns);
	f = exp_new_file(e, tmpname);
	if (f == NULL)
		return NULL;
	f->video = 1;
	f->run = (int)(r - e->runs);
	f->redacted = e->req->n_redactions > 0;
	for (int ci = 0; ci < r->n; ci++)
		f->synthetic |= r->clips[ci].synthetic != 0;
	snprintf(f->camera, sizeof(f->camera), "%s", r->cam->name);
	return f;
}

/* The sink's timeline for run r, and unless faststart the room for its
 * moov, from the run's frame count. */
static void sink_plan(struct sink *s, const struct run *r, AVRational rtb, int faststart)
{
	s->tb = rtb;
	s->fd = -1;
	s->nominal = av_rescale_q(exp_frame_us(&r->clips[0]), US, rtb);
	if (!faststart) {
		int64_t frames = 0;

		for (int ci = 0; ci < r->n; ci++)
			frames += r->clips[ci].frames > 0 ? r->clips[ci].frames : 0;
		if (frames > 0 && frames < (INT_MAX - MOOV_BASE) / MOOV_PER_FRAME)
			s->reserve = (int)(MOOV_BASE + frames * MOOV_PER_FRAME);
	}
}

/* Take clip c's first item from its reader: the clip's codec parameters
 * and time base into w, or why it cannot be read (a clip that fails
 * authentication is named in res->bad_clip). */
static int clip_begin(struct runw *w, const struct vg_clip *c, struct reader *from)
{
	struct exp *e = w->e;
	struct ritem *it = exp_rd_pop(from);
	int ret;

	if (it == NULL || it->kind != R_CLIP) {
		exp_ritem_free(it);
		exp_why(e, "cannot read clip %s", c->path);
		return -VG_EIO;
	}
	if (it->err < 0) {
		ret = it->err;
		if (ret == -VG_EAUTH && e->res->bad_clip == 0) {
			e->res->bad_clip = c->id;
			e->res->bad_chunk = it->chunk;
		}
		if (it->novideo)
			exp_why(e, "clip %s holds no video", c->path);
		else
			exp_why(e, "cannot read clip %s: %s", c->path, vg_strerror(ret));
		exp_ritem_free(it);
		return ret;
	}
	avcodec_parameters_free(&w->cpar);
	w->cpar = it->par;
	it->par = NULL;
	w->stb = it->tb;
	exp_ritem_free(it);
	w->f->width = w->cpar->width;
	w->f->height = w->cpar->height;
	w->f->clips++;
	w->first = AV_NOPTS_VALUE;
	return 0;
}

/*
 * Before the file starts: keep the packets from the last keyframe on (the
 * GOP that a picture in range needs to decode) and drop the rest. At the
 * first picture that overlaps the requested time (utc, lasting fus), open
 * the sink and write the GOP so far: the file starts at its keyframe.
 */
static int hold_or_start(struct runw *w, int64_t utc, int64_t fus)
{
	AVPacket *pkt = w->pkt, *keep;
	int ret;

	if (pkt->flags & AV_PKT_FLAG_KEY) {
		while (w->npend > 0)
			av_packet_free(&w->pend[--w->npend]);
	}
	if (w->npend == 0 && !(pkt->flags & AV_PKT_FLAG_KEY)) {
		av_packet_unref(pkt);
		return 0;
	}
	if (w->npend == w->capend) {
		AVPacket **np = realloc(w->pend, (size_t)(w->capend + 64) * sizeof(*np));

		if (np == NULL)
			return -VG_ENOMEM;
		w->pend = np;
		w->capend += 64;
	}
	keep = av_packet_alloc();
	if (keep == NULL)
		return -VG_ENOMEM;
	av_packet_move_ref(keep, pkt);
	w->pend[w->npend++] = keep;
	if (utc + fus <= w->e->req->from_us)
		return 0;
	/* This picture overlaps the range: start at its GOP. */
	w->started = 1;
	w->raw0 = w->pend[0]->pts;
	w->f->from_us = w->r->clips[0].start_us + av_rescale_q(w->raw0, w->rtb, US);
	w->s.utc0 = w->f->from_us;
	ret = sink_open(&w->s, w->e, w->f, w->cpar, w->stb);
	for (int i = 0; i < w->npend && ret == 0; i++) {
		w->pend[i]->pts = w->pend[i]->dts = w->pend[i]->pts - w->raw0;
		w->last_out = w->pend[i]->pts;
		ret = sink_packet(&w->s, w->pend[i]);
	}
	while (w->npend > 0)
		av_packet_free(&w->pend[--w->npend]);
	w->last_utc = utc;
	return ret;
}

/* The packet in w->pkt, of clip c: placed on the run's timeline, then held
 * back (the file has not started) or written. At the requested end it is
 * dropped and w->stop set. */
static int place_packet(struct runw *w, const struct vg_clip *c, int64_t fus)
{
	AVPacket *pkt = w->pkt;
	int64_t utc, raw;
	int ret;

	if (w->first == AV_NOPTS_VALUE)
		w->first = pkt->pts;
	utc = c->start_us + av_rescale_q(pkt->pts - w->first, w->stb, US);
	if (utc >= w->e->req->to_us) {
		w->stop = 1;
		av_packet_unref(pkt);
		return 0;
	}
	raw = av_rescale_q(c->start_us - w->r->clips[0].start_us, US, w->rtb) +
	      av_rescale_q(pkt->pts - w->first, w->stb, w->rtb);
	pkt->pts = pkt->dts = raw;	/* no B-frames: decode order is display order */
	pkt->duration = 0;
	if (!w->started)
		return hold_or_start(w, utc, fus);
	raw -= w->raw0;
	if (raw <= w->last_out)	/* catalog times that overlap by a tick */
		raw = w->last_out + 1;
	pkt->pts = pkt->dts = raw;
	w->last_out = raw;
	w->last_utc = utc;
	ret = sink_packet(&w->s, pkt);
	av_packet_unref(pkt);
	return ret;
}

/* Clip c's packets from its reader, until the clip ends (*rr: its status
 * from the reader), the requested time does, or a write fails. */
static int clip_packets(struct runw *w, const struct vg_clip *c, struct reader *from,
			int64_t fus, int *rr)
{
	struct exp *e = w->e;
	int ret = 0;

	while (ret == 0 && !w->stop) {
		struct ritem *it = exp_rd_pop(from);

		if (it == NULL || it->kind != R_PKT) {
			/* R_END, or NULL: the reader stopped (out of memory) */
			*rr = it ? it->err : -VG_ENOMEM;
			if (*rr == -VG_EAUTH && e->res->bad_clip == 0) {
				e->res->bad_clip = c->id;
				e->res->bad_chunk = it->chunk;
			}
			exp_ritem_free(it);
			break;
		}
		av_packet_move_ref(w->pkt, it->pkt);
		exp_ritem_free(it);
		exp_progress(e, (uint64_t)w->pkt->size);
		ret = place_packet(w, c, fus);
	}
	return ret;
}

/* Clip ci of the run, from the reader that has it. A clip cut short by a
 * crash is exported up to its cut; one that fails authentication stops
 * the run. */
static int write_clip(struct runw *w, int ci, struct reader *from)
{
	const struct vg_clip *c = &w->r->clips[ci];
	int64_t fus = exp_frame_us(c);
	int rr = 0;
	int ret = clip_begin(w, c, from);

	if (ret < 0)
		return ret;
	ret = clip_packets(w, c, from, fus, &rr);
	if (ret == 0 && rr == -VG_ENOMEM) {
		ret = rr;
	} else if (ret == 0 && rr == -VG_EAUTH) {
		exp_why(w->e, "clip %s failed authentication (tampered or corrupt)", c->path);
		ret = -VG_EAUTH;
	} else if (rr == -VG_ETRUNC) {
		vg_info("clip %s ends early (crash-cut); exported up to its cut", c->path);
	}
	w->s.nominal = av_rescale_q(fus, US, w->rtb);
	return ret;
}

/* The closed file's times, from the sink, and its name from them: the
 * temporary name becomes CAMERA_FROM-TO.mp4. */
static int name_run_file(struct runw *w)
{
	struct exp *e = w->e;
	struct outfile *f = w->f;
	int64_t first = w->s.first_pts == AV_NOPTS_VALUE ? 0 : w->s.first_pts;
	char old[1280];
	int ret;

	f->duration_us = av_rescale_q(w->s.end_pts - first, w->rtb, US);
	f->to_us = f->from_us + av_rescale_q(w->s.end_pts, w->rtb, US);
	if (f->to_us < w->last_utc)
		f->to_us = w->last_utc;
	snprintf(old, sizeof(old), "%s", f->path);
	name_file(e, f);
	snprintf(f->path, sizeof(f->path), "%s/%s", e->dir, f->name);
	if (rename(old, f->path) < 0) {
		ret = -vg_err_from_errno(errno);
		exp_why(e, "cannot name %s: %s", f->name, vg_strerror(ret));
		return ret;
	}
	return 0;
}

/*
 * Remux (or re-encode) one run. Packets are placed on one timeline from the
 * catalog start of each clip plus the packet's offset in its clip; the file
 * starts at the last keyframe at or before the requested start, so its
 * first picture decodes, and ends before the first picture at or after
 * the requested end. The file is written under a temporary name and named
 * by its delivered range once that is known.
 */
int exp_run(struct exp *e, const struct run *r, int faststart)
{
	struct runw w = { .e = e, .r = r, .rtb = TB, .last_out = -1 };
	struct reader rd[READERS];
	int nrd = r->n > 1 ? READERS : 1;
	int ret = 0;

	w.pkt = av_packet_alloc();
	w.f = run_file(e, r);
	if (w.f == NULL || w.pkt == NULL) {
		av_packet_free(&w.pkt);
		return -VG_ENOMEM;
	}
	sink_plan(&w.s, r, w.rtb, faststart);
	for (int i = 0; i < nrd; i++) {
		int rs = exp_reader_start(&rd[i], e, r, i, nrd);

		if (ret == 0)
			ret = rs;
	}
	for (int ci = 0; ci < r->n && !w.stop && ret == 0; ci++)
		ret = write_clip(&w, ci, &rd[ci % nrd]);
	for (int i = 0; i < nrd; i++)
		exp_reader_stop(&rd[i]);
	avcodec_parameters_free(&w.cpar);
	while (w.npend > 0)
		av_packet_free(&w.pend[--w.npend]);
	free(w.pend);
	av_packet_free(&w.pkt);
	if (!w.started) {
		/* Nothing of this run fell in the range. */
		e->nfiles--;
		return ret;
	}
	{
		int cr = sink_close(&w.s, ret == 0);

		if (ret == 0)
			ret = cr;
	}
	if (ret < 0) {
		unlink(w.f->path);
		if (ret == -VG_EAGAIN) {
			vg_info("%s: the reserved moov room was short; writing it again with "
				"+faststart", w.f->camera);
			e->nfiles--;
			return exp_run(e, r, 1);
		}
		return ret;
	}
	ret = name_run_file(&w);
	if (ret == 0)
		ret = exp_pool_submit(&e->pool, w.f, J_HASH);
	return ret;
}
