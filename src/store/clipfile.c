/*
 * clipfile.c - the encrypted clip container. The byte layout is specified
 * in docs/clip-format.md; keep the two in step (and bump the version).
 *
 * Every mbedTLS call goes through crypto.h. Plaintext lives only in the
 * writer's one-chunk buffer (sealed in place, so it is overwritten by
 * ciphertext) and in the reader's output buffer after its tag verified.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define VG_LOG_MODULE "CLIP"
#include "vigil/clipfile.h"
#include "vigil/crypto.h"
#include "vigil/err.h"
#include "vigil/fdio.h"
#include "vigil/log.h"

static const uint8_t clip_magic[8] = { 'V', 'I', 'G', 'I', 'L', 'C', 'L', 'P' };

/* Version 2: the wrapped clip key left the header (it lives only in the
 * catalog, so that shredding the catalog row shreds the clip). */
#define CLIP_VERSION 2

/* Header field offsets (docs/clip-format.md, "Header"). */
#define OFF_MAGIC 0
#define OFF_VERSION 8
#define OFF_HDRLEN 10
#define OFF_ID 12
#define OFF_KCV 28
#define OFF_CHUNKMAX 44
#define OFF_CREATED 48

/* Key check value: the first KCV_LEN bytes of
 * HMAC-SHA256(clip key, kcv_label || clip id). */
#define KCV_LEN 16
static const char kcv_label[] = "vigil clip key check";
#define KCV_LABEL_LEN (sizeof(kcv_label) - 1)

/* Chunk length field: top bits are flags, the rest the plaintext length. */
#define LEN_FINAL 0x80000000u
#define LEN_RECOVERED 0x40000000u
#define LEN_MASK 0x3fffffffu

/* The flags byte inside the AAD. */
#define AAD_FINAL 0x01
#define AAD_RECOVERED 0x02
#define AAD_LEN (VG_SHA256_LEN + 8 + 1 + 4)

/* Nonce prefixes: writer chunks and the one chunk vg_clip_recover appends
 * live in separate nonce spaces, so recovery never reuses a nonce the
 * writer may already have used for a chunk it cut off. */
#define NONCE_WRITER 0x00
#define NONCE_RECOVERY 0x01

#define CHUNK_OVERHEAD (4 + VG_GCM_TAG_LEN)

_Static_assert(VG_CHUNK_MAX <= LEN_MASK, "VG_CHUNK_MAX does not fit the length field");
_Static_assert(OFF_CREATED + 8 == VG_CLIP_HEADER_LEN, "header layout and length disagree");

struct vg_clip_writer {
	int fd;
	char *path;
	struct vg_crypto_aead *aead;
	uint8_t hhash[VG_SHA256_LEN];	/* SHA-256 of the header, in every AAD */
	uint64_t index;			/* next chunk number; never reused */
	uint8_t *buf;			/* [len field][chunk_max plaintext][tag] */
	size_t fill;			/* plaintext bytes in buf */
	size_t chunk_max;
	struct vg_sha256 fhash;		/* of every byte written */
	int hashing;			/* fhash initialised and not finalised */
	uint64_t bytes;
	int dirty;			/* written since the last fdatasync */
	int err;			/* sticky: the writer is dead once set */
};

struct vg_clip_reader {
	int fd;
	struct vg_crypto_aead *aead;
	uint8_t hhash[VG_SHA256_LEN];
	uint8_t id[VG_CLIP_ID_LEN];
	int64_t created;
	uint32_t chunk_max;
	uint64_t index;		/* chunks authenticated so far */
	uint64_t plain;		/* their plaintext bytes */
	uint64_t off;		/* file offset after the last authenticated chunk */
	uint8_t *ct;		/* ciphertext + tag of the current chunk */
	uint8_t *pt;		/* its plaintext, after verification only */
	size_t cap;
	int final_seen;
	int recovered;
	int trailing;		/* bytes after an authenticated final chunk */
	int err;		/* sticky */
};

/* ---- byte helpers ---------------------------------------------------- */

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

static void make_nonce(uint8_t nonce[VG_GCM_NONCE_LEN], uint8_t prefix, uint64_t index)
{
	nonce[0] = 0;
	nonce[1] = 0;
	nonce[2] = 0;
	nonce[3] = prefix;
	put_be64(nonce + 4, index);
}

static void make_aad(uint8_t aad[AAD_LEN], const uint8_t hhash[VG_SHA256_LEN],
		     uint64_t index, uint8_t flags, uint32_t len)
{
	memcpy(aad, hhash, VG_SHA256_LEN);
	put_be64(aad + VG_SHA256_LEN, index);
	aad[VG_SHA256_LEN + 8] = flags;
	put_be32(aad + VG_SHA256_LEN + 9, len);
}

/*
 * The header's key check value. An HMAC rather than a GCM tag over nothing:
 * it needs no nonce (so it can never collide with a chunk's), and HMAC-SHA256
 * commits to its key, so no second key can be found that passes the check.
 * A 128-bit PRF output says nothing about the 256-bit key, so the header
 * stays useless once the catalog's wrapped key is shredded.
 */
static int key_check(const uint8_t key[VG_CLIP_KEY_LEN], const uint8_t id[VG_CLIP_ID_LEN],
		     uint8_t kcv[KCV_LEN])
{
	uint8_t msg[KCV_LABEL_LEN + VG_CLIP_ID_LEN];
	uint8_t mac[VG_SHA256_DIGEST_LEN];
	int ret;

	memcpy(msg, kcv_label, KCV_LABEL_LEN);
	memcpy(msg + KCV_LABEL_LEN, id, VG_CLIP_ID_LEN);
	ret = vg_crypto_hmac_sha256(key, VG_CLIP_KEY_LEN, msg, sizeof(msg), mac);
	if (ret == 0)
		memcpy(kcv, mac, KCV_LEN);
	vg_wipe(mac, sizeof(mac));
	return ret;
}

/* ---- file helpers ---------------------------------------------------- */

static int errno_code(int e)
{
	return -vg_err_from_errno(e);
}

/* Read up to len bytes, stopping early only at end of file. */
static int read_full(int fd, void *buf, size_t len, size_t *got)
{
	uint8_t *p = buf;
	ssize_t n;

	*got = 0;
	while (*got < len) {
		n = read(fd, p + *got, len - *got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno_code(errno);
		}
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/* fsync the directory holding path, so a created file's name is durable. */
static int fsync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int fd = -1;
	int ret = 0;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return -VG_ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = errno_code(errno);
		goto out;
	}
	if (fsync(fd) < 0)
		ret = errno_code(errno);
	close(fd);
out:
	free(dir);
	return ret;
}

/* ---- writer ---------------------------------------------------------- */

static void writer_free(struct vg_clip_writer *w)
{
	uint8_t scratch[VG_SHA256_LEN];

	if (w->fd >= 0)
		close(w->fd);
	if (w->buf != NULL) {
		vg_wipe(w->buf, CHUNK_OVERHEAD + w->chunk_max);
		free(w->buf);
	}
	vg_crypto_aead_free(w->aead);
	/* Release the running hash state (final wipes it). */
	if (w->hashing)
		vg_sha256_final(&w->fhash, scratch);
	free(w->path);
	vg_wipe(w, sizeof(*w));
	free(w);
}

/* Seal buf's plaintext in place as chunk w->index and write it. */
static int writer_seal(struct vg_clip_writer *w, int final)
{
	uint8_t nonce[VG_GCM_NONCE_LEN];
	uint8_t aad[AAD_LEN];
	uint32_t len = (uint32_t)w->fill;
	size_t total = CHUNK_OVERHEAD + w->fill;
	int ret;

	put_be32(w->buf, len | (final ? LEN_FINAL : 0));
	make_nonce(nonce, NONCE_WRITER, w->index);
	make_aad(aad, w->hhash, w->index, final ? AAD_FINAL : 0, len);
	ret = vg_crypto_aead_seal(w->aead, nonce, aad, sizeof(aad), w->buf + 4, w->fill,
				  w->buf + 4, w->buf + 4 + w->fill);
	/* The number is spent whether or not the write below succeeds. */
	w->index++;
	w->fill = 0;
	if (ret < 0) {
		vg_wipe(w->buf, total);
		return ret;
	}
	ret = vg_write_all(w->fd, w->buf, total);
	if (ret < 0)
		return ret;
	vg_sha256_update(&w->fhash, w->buf, total);
	w->bytes += total;
	w->dirty = 1;
	return 0;
}

static int writer_open(struct vg_clip_writer **out, const char *path,
		       const uint8_t master[VG_MASTER_KEY_LEN], const uint8_t key[VG_CLIP_KEY_LEN],
		       const uint8_t id[VG_CLIP_ID_LEN], int64_t created, uint32_t chunk_max,
		       uint8_t wrapped_out[VG_WRAPPED_KEY_LEN])
{
	struct vg_clip_writer *w = NULL;
	uint8_t hdr[VG_CLIP_HEADER_LEN];
	uint8_t wrapped[VG_WRAPPED_KEY_LEN];
	int created_file = 0;
	int ret;

	*out = NULL;
	if (chunk_max == 0)
		chunk_max = VG_CHUNK_MAX;
	if (chunk_max > VG_CHUNK_MAX)
		return -VG_EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -VG_ENOMEM;
	w->fd = -1;
	w->chunk_max = chunk_max;
	vg_sha256_init(&w->fhash);
	w->hashing = 1;
	w->path = strdup(path);
	w->buf = malloc(CHUNK_OVERHEAD + chunk_max);
	if (w->path == NULL || w->buf == NULL) {
		ret = -VG_ENOMEM;
		goto fail;
	}

	memcpy(hdr + OFF_MAGIC, clip_magic, sizeof(clip_magic));
	put_be16(hdr + OFF_VERSION, CLIP_VERSION);
	put_be16(hdr + OFF_HDRLEN, VG_CLIP_HEADER_LEN);
	memcpy(hdr + OFF_ID, id, VG_CLIP_ID_LEN);
	ret = key_check(key, id, hdr + OFF_KCV);
	if (ret < 0)
		goto fail;
	/* Wrapped for the caller's catalog only; never written to the file. */
	ret = vg_crypto_key_wrap(master, key, VG_CLIP_KEY_LEN, wrapped);
	if (ret < 0)
		goto fail;
	put_be32(hdr + OFF_CHUNKMAX, chunk_max);
	put_be64(hdr + OFF_CREATED, (uint64_t)created);
	ret = vg_sha256(hdr, sizeof(hdr), w->hhash);
	if (ret < 0)
		goto fail;
	ret = vg_crypto_aead_new(&w->aead, key);
	if (ret < 0)
		goto fail;

	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		ret = errno_code(errno);
		goto fail;
	}
	created_file = 1;
	ret = vg_write_all(w->fd, hdr, sizeof(hdr));
	if (ret < 0)
		goto fail;
	vg_sha256_update(&w->fhash, hdr, sizeof(hdr));
	w->bytes = sizeof(hdr);
	/* Make the file and its name durable now: every later fdatasync
	 * would be worthless if a power cut lost the directory entry. */
	if (fsync(w->fd) < 0) {
		ret = errno_code(errno);
		goto fail;
	}
	ret = fsync_dir(path);
	if (ret < 0)
		goto fail;
	if (wrapped_out != NULL)
		memcpy(wrapped_out, wrapped, VG_WRAPPED_KEY_LEN);
	*out = w;
	return 0;
fail:
	if (created_file)
		unlink(path);
	writer_free(w);
	return ret;
}

int vg_clip_writer_open(struct vg_clip_writer **out, const char *path,
			const uint8_t master[VG_MASTER_KEY_LEN],
			uint8_t wrapped_key[VG_WRAPPED_KEY_LEN],
			uint8_t clip_id[VG_CLIP_ID_LEN])
{
	uint8_t key[VG_CLIP_KEY_LEN];
	uint8_t id[VG_CLIP_ID_LEN];
	struct timespec now;
	int ret;

	*out = NULL;
	ret = vg_crypto_random(key, sizeof(key));
	if (ret < 0)
		goto out;
	ret = vg_crypto_random(id, sizeof(id));
	if (ret < 0)
		goto out;
	clock_gettime(CLOCK_REALTIME, &now);
	ret = writer_open(out, path, master, key, id, (int64_t)now.tv_sec, VG_CHUNK_MAX,
			  wrapped_key);
	if (ret == 0)
		memcpy(clip_id, id, sizeof(id));
out:
	vg_wipe(key, sizeof(key));
	return ret;
}

int vg_clip_writer_open_fixed(struct vg_clip_writer **out, const char *path,
			      const uint8_t master[VG_MASTER_KEY_LEN],
			      const uint8_t clip_key[VG_CLIP_KEY_LEN],
			      const uint8_t clip_id[VG_CLIP_ID_LEN], int64_t created,
			      uint32_t chunk_max, uint8_t wrapped_key[VG_WRAPPED_KEY_LEN])
{
	return writer_open(out, path, master, clip_key, clip_id, created, chunk_max,
			   wrapped_key);
}

int vg_clip_writer_write(struct vg_clip_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n;
	int ret;

	if (w->err < 0)
		return w->err;
	while (len > 0) {
		n = w->chunk_max - w->fill;
		if (n > len)
			n = len;
		memcpy(w->buf + 4 + w->fill, p, n);
		w->fill += n;
		p += n;
		len -= n;
		if (w->fill == w->chunk_max) {
			ret = writer_seal(w, 0);
			if (ret < 0) {
				w->err = ret;
				return ret;
			}
		}
	}
	return 0;
}

int vg_clip_writer_flush(struct vg_clip_writer *w)
{
	int ret;

	if (w->err < 0)
		return w->err;
	if (w->fill > 0) {
		ret = writer_seal(w, 0);
		if (ret < 0)
			goto fail;
	}
	if (w->dirty) {
		if (fdatasync(w->fd) < 0) {
			ret = errno_code(errno);
			goto fail;
		}
		w->dirty = 0;
	}
	return 0;
fail:
	w->err = ret;
	return ret;
}

int vg_clip_writer_close(struct vg_clip_writer *w, uint8_t sha256[VG_SHA256_LEN],
			 uint64_t *bytes)
{
	int ret = w->err;

	if (ret < 0)
		goto out;
	ret = writer_seal(w, 1);
	if (ret < 0)
		goto out;
	if (fsync(w->fd) < 0) {
		ret = errno_code(errno);
		goto out;
	}
	/* close() can report a deferred write error (e.g. on NFS). */
	if (close(w->fd) < 0) {
		w->fd = -1;
		ret = errno_code(errno);
		goto out;
	}
	w->fd = -1;
	ret = fsync_dir(w->path);
	if (ret < 0)
		goto out;
	if (sha256 != NULL) {
		w->hashing = 0;
		ret = vg_sha256_final(&w->fhash, sha256);
	}
	if (bytes != NULL)
		*bytes = w->bytes;
out:
	if (ret < 0)
		vg_warnx("closing clip %s failed: %s", w->path, vg_strerror(ret));
	writer_free(w);
	return ret;
}

void vg_clip_writer_abandon(struct vg_clip_writer *w)
{
	if (w == NULL)
		return;
	writer_free(w);
}

uint64_t vg_clip_writer_bytes(const struct vg_clip_writer *w)
{
	return w->bytes;
}

/* ---- reader ---------------------------------------------------------- */

void vg_clip_reader_free(struct vg_clip_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (r->pt != NULL) {
		vg_wipe(r->pt, r->cap);
		free(r->pt);
	}
	free(r->ct);
	vg_crypto_aead_free(r->aead);
	vg_wipe(r, sizeof(*r));
	free(r);
}

/* fd (owned) must be a regular file: a FIFO, device or folder in place
 * of a clip fails at once instead of blocking the reader for ever. The
 * descriptor was opened O_NONBLOCK for that; reads then block as usual. */
static int regular_or_close(int fd)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -VG_EFORMAT;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

static int open_clip(const char *path, int oflags)
{
	int fd = open(path, oflags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return errno == ELOOP ? -VG_EFORMAT : errno_code(errno);
	return regular_or_close(fd);
}

int vg_clip_open_in(const char *data_dir, const char *rel, int oflags)
{
	int flags = oflags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	char buf[PATH_MAX];
	char *comp, *save = NULL;
	int dfd, fd = -1;

	if (rel == NULL || rel[0] == '\0' || rel[0] == '/' || strlen(rel) >= sizeof(buf))
		return -VG_EINVAL;
	snprintf(buf, sizeof(buf), "%s", rel);
	for (comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save))
		if (strcmp(comp, "..") == 0)
			return -VG_EINVAL;
	dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno_code(errno);
#ifdef SYS_openat2
	{
		struct open_how how = {
			.flags = (uint64_t)flags,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
		};

		fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
		if (fd < 0 && errno != ENOSYS && errno != EPERM) {
			int e = errno;

			close(dfd);
			return e == ELOOP || e == EXDEV ? -VG_EFORMAT : errno_code(e);
		}
	}
#endif
	if (fd < 0) {
		/* No openat2 (old kernel, or filtered): one component at a
		 * time, none of them a symlink. */
		int cur = dfd;

		snprintf(buf, sizeof(buf), "%s", rel);
		save = NULL;
		comp = strtok_r(buf, "/", &save);
		while (comp) {
			char *next = strtok_r(NULL, "/", &save);
			int nfd = openat(cur, comp, next ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC : flags);

			if (cur != dfd)
				close(cur);
			if (nfd < 0) {
				int e = errno;

				close(dfd);
				return e == ELOOP || e == ENOTDIR ? -VG_EFORMAT : errno_code(e);
			}
			cur = nfd;
			comp = next;
		}
		fd = cur;
	}
	close(dfd);
	return regular_or_close(fd);
}

static int reader_open_fd(struct vg_clip_reader **out, int fd, const char *path,
			  const uint8_t master[VG_MASTER_KEY_LEN],
			  const uint8_t wrapped[VG_WRAPPED_KEY_LEN]);

static int reader_open(struct vg_clip_reader **out, const char *path, int oflags,
		       const uint8_t master[VG_MASTER_KEY_LEN],
		       const uint8_t wrapped[VG_WRAPPED_KEY_LEN])
{
	int fd = open_clip(path, oflags);

	*out = NULL;
	if (fd < 0)
		return fd;
	return reader_open_fd(out, fd, path, master, wrapped);
}

int vg_clip_reader_open_in(struct vg_clip_reader **out, const char *data_dir, const char *rel,
			   const uint8_t master[VG_MASTER_KEY_LEN],
			   const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN])
{
	int fd = vg_clip_open_in(data_dir, rel, O_RDONLY);

	*out = NULL;
	if (fd < 0)
		return fd;
	return reader_open_fd(out, fd, rel, master, wrapped_key);
}

/* Takes fd (closed on failure, and with the reader). */
static int reader_open_fd(struct vg_clip_reader **out, int fd, const char *path,
			  const uint8_t master[VG_MASTER_KEY_LEN],
			  const uint8_t wrapped[VG_WRAPPED_KEY_LEN])
{
	struct vg_clip_reader *r;
	uint8_t hdr[VG_CLIP_HEADER_LEN];
	uint8_t key[VG_CLIP_KEY_LEN];
	uint8_t kcv[KCV_LEN];
	uint32_t chunk_max;
	size_t got;
	int ret;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		close(fd);
		return -VG_ENOMEM;
	}
	r->fd = fd;
	ret = read_full(r->fd, hdr, sizeof(hdr), &got);
	if (ret < 0)
		goto fail;
	/* A short file that starts like a clip is a crash during creation. */
	if (got < sizeof(clip_magic)) {
		ret = memcmp(hdr, clip_magic, got) == 0 ? -VG_ETRUNC : -VG_EFORMAT;
		goto fail;
	}
	if (memcmp(hdr + OFF_MAGIC, clip_magic, sizeof(clip_magic)) != 0) {
		ret = -VG_EFORMAT;
		goto fail;
	}
	if (got >= OFF_HDRLEN + 2 && (get_be16(hdr + OFF_VERSION) != CLIP_VERSION ||
				      get_be16(hdr + OFF_HDRLEN) != VG_CLIP_HEADER_LEN)) {
		ret = -VG_EFORMAT;
		goto fail;
	}
	if (got < sizeof(hdr)) {
		ret = -VG_ETRUNC;
		goto fail;
	}
	chunk_max = get_be32(hdr + OFF_CHUNKMAX);
	if (chunk_max == 0 || chunk_max > VG_CHUNK_MAX) {
		ret = -VG_EFORMAT;
		goto fail;
	}
	r->chunk_max = chunk_max;
	memcpy(r->id, hdr + OFF_ID, VG_CLIP_ID_LEN);
	r->created = (int64_t)get_be64(hdr + OFF_CREATED);
	ret = vg_crypto_key_unwrap(master, wrapped, VG_WRAPPED_KEY_LEN, key);
	if (ret < 0) {
		vg_debug("clip %s: wrapped key does not unwrap (wrong master key?)", path);
		goto fail;
	}
	ret = key_check(key, r->id, kcv);
	if (ret == 0 && !vg_crypto_equal(kcv, hdr + OFF_KCV, KCV_LEN)) {
		/* Told apart from tampered chunks: this is a catalog row that
		 * does not belong to this file, or an edited id / key check. */
		vg_debug("clip %s: wrapped key is not this clip's", path);
		ret = -VG_EAUTH;
	}
	if (ret == 0)
		ret = vg_crypto_aead_new(&r->aead, key);
	vg_wipe(key, sizeof(key));
	if (ret < 0)
		goto fail;
	ret = vg_sha256(hdr, sizeof(hdr), r->hhash);
	if (ret < 0)
		goto fail;
	r->off = sizeof(hdr);
	*out = r;
	return 0;
fail:
	vg_clip_reader_free(r);
	return ret;
}

int vg_clip_reader_open(struct vg_clip_reader **out, const char *path,
			const uint8_t master[VG_MASTER_KEY_LEN],
			const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN])
{
	return reader_open(out, path, O_RDONLY, master, wrapped_key);
}

static int reader_reserve(struct vg_clip_reader *r, size_t len)
{
	/* Grown on demand (never beyond chunk_max): small clips stay small. */
	if (len <= r->cap && r->ct != NULL)
		return 0;
	if (r->pt != NULL) {
		vg_wipe(r->pt, r->cap);
		free(r->pt);
	}
	free(r->ct);
	r->cap = 0;
	r->pt = malloc(len > 0 ? len : 1);
	r->ct = malloc(len + VG_GCM_TAG_LEN);
	if (r->pt == NULL || r->ct == NULL)
		return -VG_ENOMEM;
	r->cap = len;
	return 0;
}

static int reader_chunk(struct vg_clip_reader *r, const uint8_t **data, size_t *len)
{
	uint8_t field[4];
	uint8_t nonce[VG_GCM_NONCE_LEN];
	uint8_t aad[AAD_LEN];
	uint8_t extra;
	uint32_t v, clen;
	int final, recovered;
	size_t got;
	int ret;

	ret = read_full(r->fd, field, sizeof(field), &got);
	if (ret < 0)
		return ret;
	if (got < sizeof(field))
		return -VG_ETRUNC;
	v = get_be32(field);
	final = (v & LEN_FINAL) != 0;
	recovered = (v & LEN_RECOVERED) != 0;
	clen = v & LEN_MASK;
	if (clen > r->chunk_max || (recovered && (!final || clen != 0)))
		return -VG_EFORMAT;
	ret = reader_reserve(r, clen);
	if (ret < 0)
		return ret;
	ret = read_full(r->fd, r->ct, clen + VG_GCM_TAG_LEN, &got);
	if (ret < 0)
		return ret;
	if (got < clen + VG_GCM_TAG_LEN)
		return -VG_ETRUNC;
	make_nonce(nonce, recovered ? NONCE_RECOVERY : NONCE_WRITER, r->index);
	make_aad(aad, r->hhash, r->index,
		 (uint8_t)((final ? AAD_FINAL : 0) | (recovered ? AAD_RECOVERED : 0)), clen);
	ret = vg_crypto_aead_open(r->aead, nonce, aad, sizeof(aad), r->ct, clen,
				  r->ct + clen, r->pt);
	if (ret < 0)
		return ret;
	r->index++;
	r->plain += clen;
	r->off += CHUNK_OVERHEAD + clen;
	if (final) {
		/* The writer never writes past its final chunk. */
		ret = read_full(r->fd, &extra, 1, &got);
		if (ret < 0)
			return ret;
		if (got > 0) {
			r->trailing = 1;
			vg_wipe(r->pt, clen);
			return -VG_EAUTH;
		}
		r->final_seen = 1;
		r->recovered = recovered;
	}
	*data = r->pt;
	*len = clen;
	return 0;
}

int vg_clip_reader_next(struct vg_clip_reader *r, const uint8_t **data, size_t *len)
{
	int ret;

	*data = NULL;
	*len = 0;
	if (r->err < 0)
		return r->err;
	if (r->final_seen)
		return 1;
	ret = reader_chunk(r, data, len);
	if (ret < 0) {
		r->err = ret;
		*data = NULL;
		*len = 0;
	}
	return ret;
}

void vg_clip_reader_id(const struct vg_clip_reader *r, uint8_t id[VG_CLIP_ID_LEN])
{
	memcpy(id, r->id, VG_CLIP_ID_LEN);
}

int64_t vg_clip_reader_created(const struct vg_clip_reader *r)
{
	return r->created;
}

int vg_clip_reader_recovered(const struct vg_clip_reader *r)
{
	return r->recovered;
}

uint64_t vg_clip_reader_chunks(const struct vg_clip_reader *r)
{
	return r->index;
}

void vg_clip_id_hex(const uint8_t id[VG_CLIP_ID_LEN], char out[VG_CLIP_ID_HEX_LEN])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < VG_CLIP_ID_LEN; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * VG_CLIP_ID_LEN] = '\0';
}

int vg_clip_header_only(const char *path)
{
	uint8_t hdr[VG_CLIP_HEADER_LEN + 1];
	struct stat sb;
	size_t got;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno_code(errno);
	ret = fstat(fd, &sb) < 0 ? errno_code(errno) : 0;
	if (ret == 0 && (!S_ISREG(sb.st_mode) || sb.st_size != VG_CLIP_HEADER_LEN))
		ret = 1;	/* not ours, or has more than a header */
	if (ret == 0)
		ret = read_full(fd, hdr, sizeof(hdr), &got);
	close(fd);
	if (ret < 0)
		return ret;
	if (ret == 1 || got != VG_CLIP_HEADER_LEN)
		return 0;
	return memcmp(hdr + OFF_MAGIC, clip_magic, sizeof(clip_magic)) == 0 &&
	       get_be16(hdr + OFF_VERSION) == CLIP_VERSION &&
	       get_be16(hdr + OFF_HDRLEN) == VG_CLIP_HEADER_LEN;
}

/* ---- recovery -------------------------------------------------------- */

int vg_clip_recover(const char *path, const uint8_t master[VG_MASTER_KEY_LEN],
		    const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN], uint64_t *chunks,
		    uint64_t *plain_bytes)
{
	struct vg_clip_reader *r = NULL;
	uint8_t tail[CHUNK_OVERHEAD];
	uint8_t nonce[VG_GCM_NONCE_LEN];
	uint8_t aad[AAD_LEN];
	const uint8_t *data;
	struct stat st;
	size_t len;
	int ret;

	/* The key check in reader_open is what keeps a wrong catalog row from
	 * making every chunk "fail" and the whole clip being cut off here. */
	ret = reader_open(&r, path, O_RDWR | O_NOFOLLOW, master, wrapped_key);
	if (ret < 0)
		goto out;
	do {
		ret = vg_clip_reader_next(r, &data, &len);
	} while (ret == 0);
	if (chunks != NULL)
		*chunks = r->index;
	if (plain_bytes != NULL)
		*plain_bytes = r->plain;
	if (ret == 1) {
		ret = 0;	/* already clean: leave it alone */
		goto out;
	}
	if (ret != -VG_ETRUNC && ret != -VG_EAUTH && ret != -VG_EFORMAT)
		goto out;	/* an I/O error says nothing about the file */
	if (fstat(r->fd, &st) < 0) {
		ret = errno_code(errno);
		goto out;
	}
	if (ret != -VG_ETRUNC)
		vg_warnx("clip %s: chunk %llu does not authenticate (%s): keeping %llu chunks, "
			 "cutting %lld bytes", path, (unsigned long long)r->index,
			 vg_strerror(ret), (unsigned long long)r->index,
			 (long long)st.st_size - (long long)r->off);
	if (ftruncate(r->fd, (off_t)r->off) < 0) {
		ret = errno_code(errno);
		goto out;
	}
	if (!r->trailing) {
		put_be32(tail, LEN_FINAL | LEN_RECOVERED);
		make_nonce(nonce, NONCE_RECOVERY, r->index);
		make_aad(aad, r->hhash, r->index, AAD_FINAL | AAD_RECOVERED, 0);
		ret = vg_crypto_aead_seal(r->aead, nonce, aad, sizeof(aad), NULL, 0, NULL,
					  tail + 4);
		if (ret < 0)
			goto out;
		if (lseek(r->fd, (off_t)r->off, SEEK_SET) < 0) {
			ret = errno_code(errno);
			goto out;
		}
		ret = vg_write_all(r->fd, tail, sizeof(tail));
		if (ret < 0)
			goto out;
	}
	if (fsync(r->fd) < 0) {
		ret = errno_code(errno);
		goto out;
	}
	ret = fsync_dir(path);
	if (ret == 0)
		vg_info("clip %s recovered: %llu chunks, %llu bytes of footage kept", path,
			(unsigned long long)r->index, (unsigned long long)r->plain);
out:
	vg_clip_reader_free(r);
	return ret;
}

/* ---- whole-file hash ------------------------------------------------- */

int vg_file_sha256(const char *path, uint8_t out[VG_SHA256_LEN])
{
	struct vg_sha256 s;
	uint8_t *buf;
	size_t got;
	int fd;
	int ret;

	buf = malloc(65536);
	if (buf == NULL)
		return -VG_ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return errno_code(errno);
	}
	vg_sha256_init(&s);
	for (;;) {
		ret = read_full(fd, buf, 65536, &got);
		if (ret < 0 || got == 0)
			break;
		vg_sha256_update(&s, buf, got);
	}
	if (ret == 0) {
		ret = vg_sha256_final(&s, out);
	} else {
		vg_sha256_final(&s, out);
		memset(out, 0, VG_SHA256_LEN);
	}
	close(fd);
	free(buf);
	return ret;
}
