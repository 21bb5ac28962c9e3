/*
 * export_read.c - the reader threads: each decrypts its share of a run's
 * clips and queues their video packets, in memory only, for the thread
 * that muxes (export_media.c). The only code of the export that opens a
 * clip with the master key.
 */
#define VG_LOG_MODULE "EXP"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "vigil/clipfile.h"
#include "vigil/clipmedia.h"
#include "vigil/err.h"
#include "vigil/export.h"

#include "export_impl.h"

/* ---- decrypting ahead ----
 *
 * Reader threads open (decrypt) the run's clips and demux their video
 * packets into small bounded queues, so AES-GCM runs on every core while
 * the caller muxes and writes. With two readers, one takes the even clips
 * and the other the odd ones; the caller takes the clips in order from
 * the reader that has each. Decrypted packets live only in memory.
 */

#define RQ_MAX_ITEMS 256
#define RQ_MAX_BYTES (8 * 1024 * 1024)

void exp_ritem_free(struct ritem *it)
{
	if (it == NULL)
		return;
	av_packet_free(&it->pkt);
	avcodec_parameters_free(&it->par);
	free(it);
}

/* Queue an item (taking it); 0, or -1 if the consumer gave up (freed). */
static int rd_push(struct reader *rd, struct ritem *it)
{
	size_t sz = it->pkt ? (size_t)it->pkt->size : 0;

	pthread_mutex_lock(&rd->mu);
	while (!rd->abort && rd->count > 0 &&
	       (rd->count >= RQ_MAX_ITEMS || rd->bytes + sz > RQ_MAX_BYTES))
		pthread_cond_wait(&rd->cv, &rd->mu);
	if (rd->abort) {
		pthread_mutex_unlock(&rd->mu);
		exp_ritem_free(it);
		return -1;
	}
	if (rd->tail)
		rd->tail->next = it;
	else
		rd->head = it;
	rd->tail = it;
	rd->count++;
	rd->bytes += sz;
	pthread_cond_broadcast(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
	return 0;
}

/* The next item (the caller frees it), or NULL once the reader is done. */
struct ritem *exp_rd_pop(struct reader *rd)
{
	struct ritem *it;

	pthread_mutex_lock(&rd->mu);
	while (rd->head == NULL && !rd->done)
		pthread_cond_wait(&rd->cv, &rd->mu);
	it = rd->head;
	if (it) {
		rd->head = it->next;
		if (rd->head == NULL)
			rd->tail = NULL;
		rd->count--;
		rd->bytes -= it->pkt ? (size_t)it->pkt->size : 0;
		pthread_cond_broadcast(&rd->cv);
	}
	pthread_mutex_unlock(&rd->mu);
	return it;
}

static struct ritem *ritem_new(int kind)
{
	struct ritem *it = calloc(1, sizeof(*it));

	if (it)
		it->kind = kind;
	return it;
}

/* The first chunk of a clip that fails authentication (0-based), read
 * again chunk by chunk; -1 if its key or header does. Only called once a
 * clip has failed, to name the chunk in the integrity.failure row. */
static int64_t first_bad_chunk(const char *data_dir, const char *path, const uint8_t *master,
			       const uint8_t *wrapped_key)
{
	struct vg_clip_reader *r = NULL;
	const uint8_t *data;
	size_t len;
	int64_t chunk = -1;
	int ret;

	if (vg_clip_reader_open_in(&r, data_dir, path, master, wrapped_key) < 0)
		return -1;
	do
		ret = vg_clip_reader_next(r, &data, &len);
	while (ret == 0);
	if (ret == -VG_EAUTH)
		chunk = (int64_t)vg_clip_reader_chunks(r);
	vg_clip_reader_free(r);
	return chunk;
}

/* One clip; 0 to go on to the next, -1 to stop reading. */
static int read_clip(struct reader *rd, const struct vg_clip *c)
{
	struct exp *e = rd->e;
	struct vg_clipmedia *m = NULL;
	AVFormatContext *fmt = NULL;
	struct ritem *it = ritem_new(R_CLIP);
	int vi = -1, ret;

	if (it == NULL)
		return -1;
	/* beneath the data folder, no symlink followed, a regular file */
	ret = vg_clipmedia_open_in(&m, e->ctx->data_dir, c->path, e->ctx->master, c->wrapped_key,
				   &fmt);
	if (ret < 0) {
		it->err = ret;
		if (ret == -VG_EAUTH)
			it->chunk = first_bad_chunk(e->ctx->data_dir, c->path, e->ctx->master,
						    c->wrapped_key);
		rd_push(rd, it);
		return -1;
	}
	for (unsigned i = 0; i < fmt->nb_streams; i++)
		if (vi < 0 && fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
			vi = (int)i;
	if (vi >= 0) {
		it->par = avcodec_parameters_alloc();
		if (it->par == NULL ||
		    avcodec_parameters_copy(it->par, fmt->streams[vi]->codecpar) < 0)
			it->err = -VG_ENOMEM;
		it->tb = fmt->streams[vi]->time_base;
	} else {
		it->err = -VG_EFORMAT;
		it->novideo = 1;
	}
	ret = it->err;
	if (rd_push(rd, it) < 0 || ret < 0) {
		vg_clipmedia_close(m);
		return -1;
	}
	for (;;) {
		AVPacket *pkt = av_packet_alloc();

		it = ritem_new(R_PKT);
		if (pkt == NULL || it == NULL) {
			av_packet_free(&pkt);
			free(it);
			ret = -VG_ENOMEM;
			break;
		}
		if (av_read_frame(fmt, pkt) < 0) {
			av_packet_free(&pkt);
			free(it);
			ret = vg_clipmedia_status(m);
			break;
		}
		if (pkt->stream_index != vi || pkt->pts == AV_NOPTS_VALUE) {
			av_packet_free(&pkt);
			free(it);
			continue;
		}
		it->pkt = pkt;
		if (rd_push(rd, it) < 0) {
			vg_clipmedia_close(m);
			return -1;
		}
	}
	it = ritem_new(R_END);
	if (it != NULL)
		it->chunk = vg_clipmedia_chunk(m);
	vg_clipmedia_close(m);
	if (it == NULL)
		return -1;
	it->err = ret;
	return rd_push(rd, it) < 0 || ret == -VG_ENOMEM ? -1 : 0;
}

/* Ask the kernel to read a clip in ahead (async), so the disk works while
 * the clip before it is decrypted. Ciphertext only: nothing plain. */
static void prefetch(struct reader *rd, int ci)
{
	int fd;

	if (ci >= rd->r->n)
		return;
	fd = vg_clip_open_in(rd->e->ctx->data_dir, rd->r->clips[ci].path, O_RDONLY);
	if (fd < 0)
		return;
	posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	close(fd);
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	prefetch(rd, rd->first);
	for (int ci = rd->first; ci < rd->r->n; ci += rd->stride) {
		prefetch(rd, ci + rd->stride);
		if (read_clip(rd, &rd->r->clips[ci]) < 0)
			break;
	}
	pthread_mutex_lock(&rd->mu);
	rd->done = 1;
	pthread_cond_broadcast(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
	return NULL;
}

int exp_reader_start(struct reader *rd, struct exp *e, const struct run *r, int first,
		     int stride)
{
	memset(rd, 0, sizeof(*rd));
	rd->e = e;
	rd->r = r;
	rd->first = first;
	rd->stride = stride;
	pthread_mutex_init(&rd->mu, NULL);
	pthread_cond_init(&rd->cv, NULL);
	if (pthread_create(&rd->th, NULL, reader_main, rd) != 0)
		return -VG_ENOMEM;
	rd->started = 1;
	return 0;
}

/* Stop the reader wherever it is and drop what it queued. */
void exp_reader_stop(struct reader *rd)
{
	pthread_mutex_lock(&rd->mu);
	rd->abort = 1;
	pthread_cond_broadcast(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
	if (rd->started)
		pthread_join(rd->th, NULL);
	rd->started = 0;
	while (rd->head) {
		struct ritem *it = rd->head;

		rd->head = it->next;
		exp_ritem_free(it);
	}
	rd->tail = NULL;
	pthread_mutex_destroy(&rd->mu);
	pthread_cond_destroy(&rd->cv);
}
