/*
 * mp4check.c - an exported MP4's structure checked box by box and sample
 * by sample, without a decoder (mp4check.h says what and why).
 *
 * The moov is read whole into memory (bounded: MOOV_MAX) and walked from
 * there; samples are read one at a time, only to walk their NAL lengths.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/err.h"
#include "vigil/mp4check.h"

#define MOOV_MAX (256 * 1024 * 1024)	/* 36 bytes a picture: years of video */
#define SAMPLE_MAX (64 * 1024 * 1024)	/* one H.264 picture */
#define MAX_MDAT 64

struct range {
	int64_t off, end;
};

struct mp4 {
	vg_mp4_read_fn read;
	void *ud;
	int64_t size;
	struct range mdat[MAX_MDAT];
	int n_mdat;
	char *why;
	size_t whylen;
	struct vg_mp4_info *info;
	int have_video;
};

/* A box inside the moov held in memory: payload p..p+len. */
struct box {
	const uint8_t *p;
	uint64_t len;
	char type[5];
};

static int bad(struct mp4 *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct mp4 *m, const char *fmt, ...)
{
	va_list ap;

	if (m->why && m->whylen) {
		va_start(ap, fmt);
		vsnprintf(m->why, m->whylen, fmt, ap);
		va_end(ap);
	}
	return -VG_EFORMAT;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int read_all(struct mp4 *m, void *buf, size_t n, int64_t off)
{
	ssize_t r = m->read(m->ud, buf, n, off);

	if (r < 0)
		return (int)r;
	return (size_t)r == n ? 0 : -VG_ETRUNC;
}

/* The next box of the len bytes at p (*at advanced past it); 0 at the
 * end, 1 for a box, < 0 if the boxes do not tile the bytes. */
static int next_box(struct mp4 *m, const uint8_t *p, uint64_t len, uint64_t *at, struct box *b)
{
	uint64_t size, hdr = 8;

	if (*at == len)
		return 0;
	if (len - *at < 8)
		return bad(m, "a box header is cut off");
	size = be32(p + *at);
	memcpy(b->type, p + *at + 4, 4);
	b->type[4] = '\0';
	if (size == 1) {
		if (len - *at < 16)
			return bad(m, "box '%s': 64-bit size cut off", b->type);
		size = be64(p + *at + 8);
		hdr = 16;
	} else if (size == 0) {
		size = len - *at;
	}
	if (size < hdr || size > len - *at)
		return bad(m, "box '%s' has a size outside its parent", b->type);
	b->p = p + *at + hdr;
	b->len = size - hdr;
	*at += size;
	return 1;
}

/* The first child of the given type (a 4-character code), or 0. */
static int child(struct mp4 *m, const struct box *parent, const char *type, struct box *out)
{
	uint64_t at = 0;
	struct box b;
	int r;

	while ((r = next_box(m, parent->p, parent->len, &at, &b)) == 1)
		if (memcmp(b.type, type, 4) == 0) {
			*out = b;
			return 1;
		}
	return r;
}

/* A path of children ("mdia/minf/stbl"); 1 found, 0 not, < 0 malformed. */
static int path(struct mp4 *m, const struct box *from, const char *p, struct box *out)
{
	struct box cur = *from;
	char t[5];

	while (*p) {
		int r;

		if (strlen(p) < 4)
			return 0;
		memcpy(t, p, 4);
		t[4] = '\0';
		r = child(m, &cur, t, &cur);
		if (r <= 0)
			return r;
		p += 4;
		if (*p == '/')
			p++;
	}
	*out = cur;
	return 1;
}

/* A full box's entry table: count entries of esize bytes after skip
 * bytes (version and flags, then the fields before the count). */
static int table(struct mp4 *m, const struct box *b, uint64_t skip, uint64_t esize,
		 uint32_t *count, const uint8_t **entries)
{
	if (b->len < skip + 4)
		return bad(m, "box '%s' is too short", b->type);
	*count = be32(b->p + skip);
	if ((uint64_t)*count > (b->len - skip - 4) / esize)
		return bad(m, "box '%s' lists more entries than it holds", b->type);
	*entries = b->p + skip + 4;
	return 0;
}

/* The sample tables of one track, as read from its stbl. */
struct track {
	int video;		/* handler 'vide' with an avc1 entry */
	int nal_len;		/* avcC length size: 1, 2 or 4 */
	uint32_t n;		/* samples */
	uint32_t fixed;		/* stsz sample_size, 0 = sizes[] */
	const uint8_t *sizes;
	uint32_t n_chunks;
	const uint8_t *chunks;
	int co64;
	uint32_t n_stsc;
	const uint8_t *stsc;
	int has_stss;
	uint32_t n_stss;
	const uint8_t *stss;
};

static int read_avc(struct mp4 *m, const struct box *stbl, struct track *t)
{
	struct box stsd, entry, avcc;
	uint64_t at = 0;
	int r;

	r = child(m, stbl, "stsd", &stsd);
	if (r <= 0)
		return r < 0 ? r : bad(m, "the video track has no sample description");
	if (stsd.len < 8 || be32(stsd.p + 4) != 1)
		return bad(m, "the video track must have exactly one sample description");
	r = next_box(m, stsd.p + 8, stsd.len - 8, &at, &entry);
	if (r <= 0)
		return r < 0 ? r : bad(m, "the sample description is empty");
	if (strcmp(entry.type, "avc1") != 0)
		return bad(m, "the video is '%s', not H.264 (avc1)", entry.type);
	/* VisualSampleEntry: 78 bytes of fields, then its boxes */
	if (entry.len < 78)
		return bad(m, "the avc1 sample description is too short");
	entry.p += 78;
	entry.len -= 78;
	r = child(m, &entry, "avcC", &avcc);
	if (r <= 0)
		return r < 0 ? r : bad(m, "the H.264 track has no avcC configuration");
	if (avcc.len < 5 || avcc.p[0] != 1)
		return bad(m, "the avcC configuration is malformed");
	t->nal_len = (avcc.p[4] & 3) + 1;
	if (t->nal_len == 3)
		return bad(m, "the avcC NAL length size is 3, which H.264 does not allow");
	t->video = 1;
	return 0;
}

static int read_track(struct mp4 *m, const struct box *trak, struct track *t)
{
	struct box hdlr, stbl, b;
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = path(m, trak, "mdia/hdlr", &hdlr)) <= 0 ||
	    (r = path(m, trak, "mdia/minf/stbl", &stbl)) <= 0)
		return r < 0 ? r : bad(m, "a track lacks its handler or sample table");
	if (hdlr.len < 12)
		return bad(m, "a track's handler box is too short");
	if (memcmp(hdlr.p + 8, "vide", 4) == 0 && (r = read_avc(m, &stbl, t)) < 0)
		return r;
	r = child(m, &stbl, "stsz", &b);
	if (r <= 0)
		return r < 0 ? r : bad(m, "a track has no sample sizes (stsz)");
	if (b.len < 12)
		return bad(m, "the stsz box is too short");
	t->fixed = be32(b.p + 4);
	if (t->fixed == 0) {
		if ((r = table(m, &b, 8, 4, &t->n, &t->sizes)) < 0)
			return r;
	} else {
		t->n = be32(b.p + 8);
	}
	r = child(m, &stbl, "stco", &b);
	if (r == 0) {
		r = child(m, &stbl, "co64", &b);
		t->co64 = 1;
	}
	if (r <= 0)
		return r < 0 ? r : bad(m, "a track has no chunk offsets (stco)");
	if ((r = table(m, &b, 4, t->co64 ? 8 : 4, &t->n_chunks, &t->chunks)) < 0)
		return r;
	r = child(m, &stbl, "stsc", &b);
	if (r <= 0)
		return r < 0 ? r : bad(m, "a track has no sample-to-chunk table (stsc)");
	if ((r = table(m, &b, 4, 12, &t->n_stsc, &t->stsc)) < 0)
		return r;
	r = child(m, &stbl, "stss", &b);
	if (r < 0)
		return r;
	if (r == 1) {
		t->has_stss = 1;
		if ((r = table(m, &b, 4, 4, &t->n_stss, &t->stss)) < 0)
			return r;
	}
	return 0;
}

static int in_mdat(const struct mp4 *m, int64_t off, int64_t len)
{
	for (int i = 0; i < m->n_mdat; i++)
		if (off >= m->mdat[i].off && len <= m->mdat[i].end - off)
			return 1;
	return 0;
}

/* Every NAL unit of one H.264 sample: lengths that add up to the sample,
 * headers with the forbidden bit clear and a type H.264 defines. *idr is
 * set when one is an IDR slice. */
static int walk_nals(struct mp4 *m, const struct track *t, const uint8_t *s, uint32_t len,
		     uint32_t no, int *idr)
{
	uint32_t at = 0;

	*idr = 0;
	if (len == 0)
		return bad(m, "picture %u is empty", no);
	while (at < len) {
		uint32_t n = 0, type;

		if (len - at < (uint32_t)t->nal_len)
			return bad(m, "picture %u: a NAL length is cut off", no);
		for (int i = 0; i < t->nal_len; i++)
			n = n << 8 | s[at + i];
		at += (uint32_t)t->nal_len;
		if (n == 0 || n > len - at)
			return bad(m, "picture %u: a NAL unit's length runs past the picture", no);
		if (s[at] & 0x80)
			return bad(m, "picture %u: a NAL unit header is invalid", no);
		type = s[at] & 0x1f;
		if (type == 0)
			return bad(m, "picture %u: a NAL unit has type 0", no);
		if (type == 5)
			*idr = 1;
		at += n;
	}
	return 0;
}

static int check_samples(struct mp4 *m, const struct track *t)
{
	uint8_t *buf = NULL;
	uint32_t sample = 0, e = 0;
	int ret = 0;

	if (t->n_stsc == 0 && t->n > 0)
		return bad(m, "the sample-to-chunk table is empty");
	for (uint32_t c = 1; c <= t->n_chunks && ret == 0; c++) {
		const uint8_t *ent;
		uint32_t per;
		int64_t off;

		while (e + 1 < t->n_stsc && be32(t->stsc + 12 * (e + 1)) <= c)
			e++;
		ent = t->stsc + 12 * e;
		if (be32(ent) > c || (e == 0 && be32(ent) != 1)) {
			ret = bad(m, "the sample-to-chunk table does not start at chunk 1");
			goto out;
		}
		per = be32(ent + 4);
		off = t->co64 ? (int64_t)(be64(t->chunks + 8 * (c - 1)) & INT64_MAX) :
			(int64_t)be32(t->chunks + 4 * (c - 1));
		for (uint32_t k = 0; k < per && ret == 0; k++, sample++) {
			uint32_t sz = t->fixed ? t->fixed : sample < t->n ? be32(t->sizes + 4 * sample) : 0;
			int idr;

			if (sample >= t->n) {
				ret = bad(m, "the chunks hold more samples than stsz lists");
				goto out;
			}
			if (!in_mdat(m, off, sz)) {
				ret = bad(m, "sample %u lies outside the media data", sample + 1);
				goto out;
			}
			if (t->video) {
				if (sz > SAMPLE_MAX) {
					ret = bad(m, "picture %u is implausibly large", sample + 1);
					goto out;
				}
				free(buf);
				buf = malloc(sz ? sz : 1);
				if (buf == NULL) {
					ret = -VG_ENOMEM;
					goto out;
				}
				ret = read_all(m, buf, sz, off);
				if (ret == 0)
					ret = walk_nals(m, t, buf, sz, sample + 1, &idr);
				if (ret == 0 && sample == 0 && !idr)
					ret = bad(m, "the first picture is not an IDR picture; the "
						  "video does not start at a keyframe");
			}
			off += sz;
		}
	}
out:
	free(buf);
	if (ret == 0 && sample != t->n)
		return bad(m, "stsz lists %u samples, the chunks hold %u", t->n, sample);
	return ret;
}

static int check_track(struct mp4 *m, const struct box *trak)
{
	struct track t;
	int r = read_track(m, trak, &t);

	if (r < 0)
		return r;
	m->info->tracks++;
	if (t.video && t.has_stss && t.n > 0 && (t.n_stss == 0 || be32(t.stss) != 1))
		return bad(m, "the first picture is not marked as a keyframe");
	if ((r = check_samples(m, &t)) < 0)
		return r;
	if (t.video && !m->have_video) {
		m->have_video = 1;
		m->info->pictures = t.n;
		m->info->keyframes = t.has_stss ? t.n_stss : t.n;
	}
	return 0;
}

/* The top-level boxes: they must tile the file. */
static int top_level(struct mp4 *m, int64_t *moov_off, uint64_t *moov_len)
{
	int64_t at = 0;
	int n = 0, moovs = 0;

	while (at < m->size) {
		uint8_t h[16];
		uint64_t size, hdr = 8;
		int r;

		if (m->size - at < 8)
			return bad(m, "the file ends inside a box header");
		if ((r = read_all(m, h, 8, at)) < 0)
			return r;
		size = be32(h);
		if (size == 1) {
			if (m->size - at < 16 || (r = read_all(m, h + 8, 8, at + 8)) < 0)
				return r < 0 ? r : bad(m, "the file ends inside a box header");
			size = be64(h + 8);
			hdr = 16;
		} else if (size == 0) {
			size = (uint64_t)(m->size - at);
		}
		if (size < hdr || size > (uint64_t)(m->size - at))
			return bad(m, "top-level box %d ('%.4s') runs past the end of the file", n + 1,
				   (const char *)h + 4);
		if (n == 0 && memcmp(h + 4, "ftyp", 4) != 0)
			return bad(m, "the file does not start with an ftyp box: not an MP4");
		if (memcmp(h + 4, "moov", 4) == 0) {
			moovs++;
			*moov_off = at + (int64_t)hdr;
			*moov_len = size - hdr;
		} else if (memcmp(h + 4, "mdat", 4) == 0) {
			if (m->n_mdat == MAX_MDAT)
				return bad(m, "more than %d media data boxes", MAX_MDAT);
			m->mdat[m->n_mdat].off = at + (int64_t)hdr;
			m->mdat[m->n_mdat].end = at + (int64_t)size;
			m->n_mdat++;
		}
		at += (int64_t)size;
		n++;
	}
	if (n == 0)
		return bad(m, "the file is empty");
	if (moovs != 1)
		return bad(m, "the file has %d movie boxes (moov), not one", moovs);
	if (m->n_mdat == 0)
		return bad(m, "the file has no media data (mdat)");
	return 0;
}

int vg_mp4_check(vg_mp4_read_fn read, void *ud, int64_t size, struct vg_mp4_info *info,
		 char *why, size_t whylen)
{
	struct mp4 m = { .read = read, .ud = ud, .size = size, .why = why, .whylen = whylen };
	struct vg_mp4_info local;
	struct box moov, b;
	int64_t moov_off = 0;
	uint64_t moov_len = 0, at = 0;
	uint8_t *buf;
	int r;

	m.info = info ? info : &local;
	memset(m.info, 0, sizeof(*m.info));
	if (why && whylen)
		why[0] = '\0';
	if (read == NULL || size < 0)
		return -VG_EINVAL;
	if ((r = top_level(&m, &moov_off, &moov_len)) < 0)
		return r;
	if (moov_len > MOOV_MAX)
		return bad(&m, "the movie box is implausibly large");
	buf = malloc(moov_len ? moov_len : 1);
	if (buf == NULL)
		return -VG_ENOMEM;
	r = read_all(&m, buf, moov_len, moov_off);
	moov.p = buf;
	moov.len = moov_len;
	memcpy(moov.type, "moov", 5);
	while (r == 0 && (r = next_box(&m, moov.p, moov.len, &at, &b)) == 1) {
		r = 0;
		if (strcmp(b.type, "trak") == 0)
			r = check_track(&m, &b);
	}
	free(buf);
	if (r < 0)
		return r;
	if (!m.have_video)
		return bad(&m, "the file holds no H.264 video track");
	return 0;
}
