/*
 * clipmedia.c - libavformat over a decrypting, authenticating reader.
 * Plaintext exists only in the reader's chunk buffer and the AVIO buffer.
 */
#define VG_LOG_MODULE "CLIP"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/clipmedia.h"
#include "vigil/err.h"
#include "vigil/log.h"

#define AVIO_BUF_SIZE (64 * 1024)

struct vg_clipmedia {
	struct vg_clip_reader *r;
	const uint8_t *chunk;
	size_t chunk_len, chunk_pos;
	int status;		/* 0, or -VG_ETRUNC / -VG_EAUTH once seen */
	int eof;
	AVFormatContext *fmt;
	AVIOContext *avio;
};

static int read_cb(void *opaque, uint8_t *buf, int size)
{
	struct vg_clipmedia *m = opaque;

	while (m->chunk_pos == m->chunk_len) {
		int ret;

		if (m->eof)
			return AVERROR_EOF;
		ret = vg_clip_reader_next(m->r, &m->chunk, &m->chunk_len);
		m->chunk_pos = 0;
		if (ret == 1 || ret < 0) {
			m->eof = 1;
			m->chunk_len = 0;
			if (ret < 0)
				m->status = ret;
			/* A truncated clip is still footage up to its cut;
			 * tampering is not: stop with an error. */
			return ret == -VG_EAUTH ? AVERROR_INVALIDDATA : AVERROR_EOF;
		}
	}
	if ((size_t)size > m->chunk_len - m->chunk_pos)
		size = (int)(m->chunk_len - m->chunk_pos);
	memcpy(buf, m->chunk + m->chunk_pos, (size_t)size);
	m->chunk_pos += (size_t)size;
	return size;
}

/* 1 if the container already gives an H.264 video stream's size and
 * decoder configuration, which is all a remux or a decoder needs. */
static int video_described(const AVFormatContext *fmt)
{
	for (unsigned i = 0; i < fmt->nb_streams; i++) {
		const AVCodecParameters *p = fmt->streams[i]->codecpar;

		if (p->codec_type == AVMEDIA_TYPE_VIDEO)
			return p->codec_id == AV_CODEC_ID_H264 && p->width > 0 && p->height > 0 &&
			       p->extradata_size > 0;
	}
	return 0;
}

static int media_open(struct vg_clipmedia **out, const char *data_dir, const char *path,
		      const uint8_t master[VG_MASTER_KEY_LEN],
		      const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN], AVFormatContext **fmt)
{
	struct vg_clipmedia *m;
	uint8_t *buf = NULL;
	int ret;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -VG_ENOMEM;
	ret = data_dir ? vg_clip_reader_open_in(&m->r, data_dir, path, master, wrapped_key)
		       : vg_clip_reader_open(&m->r, path, master, wrapped_key);
	if (ret < 0)
		goto err;
	buf = av_malloc(AVIO_BUF_SIZE);
	m->avio = buf ? avio_alloc_context(buf, AVIO_BUF_SIZE, 0, m, read_cb, NULL, NULL) : NULL;
	m->fmt = avformat_alloc_context();
	if (m->avio == NULL || m->fmt == NULL) {
		if (m->avio == NULL)
			av_free(buf);
		ret = -VG_ENOMEM;
		goto err;
	}
	m->avio->seekable = 0;
	m->fmt->pb = m->avio;
	m->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
	if (avformat_open_input(&m->fmt, NULL, av_find_input_format("mp4"), NULL) < 0) {
		/* avformat_open_input frees the context on failure */
		ret = m->status ? m->status : -VG_EFORMAT;
		goto err;
	}
	/* vigild wrote the clip's moov itself: the video's parameters (size,
	 * avcC with SPS and PPS) are all there. Probing as well would decode
	 * the first pictures for nothing: half of a small export's time in
	 * vigild (issue 16). Probe only a clip that lacks them. */
	if ((!video_described(m->fmt) && avformat_find_stream_info(m->fmt, NULL) < 0) ||
	    m->fmt->nb_streams < 1) {
		ret = m->status ? m->status : -VG_EFORMAT;
		goto err;
	}
	*fmt = m->fmt;
	*out = m;
	return 0;
err:
	vg_clipmedia_close(m);
	return ret;
}

int vg_clipmedia_open(struct vg_clipmedia **out, const char *path,
		      const uint8_t master[VG_MASTER_KEY_LEN],
		      const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN], AVFormatContext **fmt)
{
	return media_open(out, NULL, path, master, wrapped_key, fmt);
}

int vg_clipmedia_open_in(struct vg_clipmedia **out, const char *data_dir, const char *rel,
			 const uint8_t master[VG_MASTER_KEY_LEN],
			 const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN], AVFormatContext **fmt)
{
	return media_open(out, data_dir, rel, master, wrapped_key, fmt);
}

int vg_clipmedia_status(const struct vg_clipmedia *m)
{
	return m->status;
}

int64_t vg_clipmedia_chunk(const struct vg_clipmedia *m)
{
	return (int64_t)vg_clip_reader_chunks(m->r);
}

void vg_clipmedia_close(struct vg_clipmedia *m)
{
	if (m == NULL)
		return;
	avformat_close_input(&m->fmt);
	if (m->avio) {
		av_freep(&m->avio->buffer);
		avio_context_free(&m->avio);
	}
	vg_clip_reader_free(m->r);
	free(m);
}

int vg_clipmedia_measure(const char *path, const uint8_t master[VG_MASTER_KEY_LEN],
			 const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN],
			 struct vg_clipmedia_info *info)
{
	struct vg_clipmedia *m;
	AVFormatContext *fmt;
	AVPacket *pkt;
	AVStream *st;
	int64_t first = AV_NOPTS_VALUE, end = AV_NOPTS_VALUE, prev = AV_NOPTS_VALUE;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = vg_clipmedia_open(&m, path, master, wrapped_key, &fmt);
	if (ret < 0)
		return ret;
	st = fmt->streams[0];
	info->width = st->codecpar->width;
	info->height = st->codecpar->height;
	snprintf(info->codec, sizeof(info->codec), "%s", avcodec_get_name(st->codecpar->codec_id));
	pkt = av_packet_alloc();
	if (pkt == NULL) {
		vg_clipmedia_close(m);
		return -VG_ENOMEM;
	}
	while (av_read_frame(fmt, pkt) >= 0) {
		if (pkt->stream_index == 0 && pkt->pts != AV_NOPTS_VALUE) {
			/* Fragmented MP4 read as a stream carries no duration for
			 * a fragment's last sample: take the previous interval. */
			int64_t dur = pkt->duration > 0		 ? pkt->duration
				      : prev != AV_NOPTS_VALUE ? pkt->pts - prev
							       : 0;
			int64_t e = pkt->pts + dur;

			prev = pkt->pts;

			info->frames++;
			if (first == AV_NOPTS_VALUE || pkt->pts < first)
				first = pkt->pts;
			if (end == AV_NOPTS_VALUE || e > end)
				end = e;
		}
		av_packet_unref(pkt);
	}
	av_packet_free(&pkt);
	if (first != AV_NOPTS_VALUE)
		info->duration_us = av_rescale_q(end - first, st->time_base, (AVRational){ 1, 1000000 });
	ret = vg_clipmedia_status(m);
	vg_clipmedia_close(m);
	return ret;
}

int vg_clipmedia_decrypt_to_fd(const char *path, const uint8_t master[VG_MASTER_KEY_LEN],
			       const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN], int fd)
{
	struct vg_clip_reader *r;
	const uint8_t *data;
	size_t len;
	int ret;

	ret = vg_clip_reader_open(&r, path, master, wrapped_key);
	if (ret < 0)
		return ret;
	for (;;) {
		ret = vg_clip_reader_next(r, &data, &len);
		if (ret != 0)
			break;
		while (len > 0) {
			ssize_t n = write(fd, data, len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				ret = -vg_err_from_errno(errno);
				goto out;
			}
			data += n;
			len -= (size_t)n;
		}
	}
	if (ret == 1)
		ret = 0;
out:
	vg_clip_reader_free(r);
	return ret;
}
