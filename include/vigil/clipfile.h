/*
 * clipfile.h - the encrypted clip container (format: docs/clip-format.md).
 *
 * A clip is a header followed by chunks, each sealed with AES-256-GCM under
 * a fresh random per-clip key. The per-clip key, wrapped (RFC 3394 AES key
 * wrap) by the box's 32-byte master key, lives ONLY in the catalog, never
 * in the clip file: retention deletes a clip by crypto-shredding, i.e. by
 * destroying the catalog's copy of the wrapped key (SQLite secure_delete)
 * and unlinking the file. A copy in the file's header would survive in
 * flash blocks the controller remapped, and with the master key would
 * still unlock the footage. The header holds only a key check value (a
 * truncated HMAC under the clip key, which reveals nothing about the key),
 * so that a wrapped key that belongs to another clip is refused at open
 * instead of looking like tampered chunks. Readers and recovery therefore
 * take the wrapped key from the catalog along with the path.
 *
 * The writer never holds more than one chunk of plaintext, in memory only.
 * The reader hands out a chunk's plaintext only after its tag verified.
 * A reordered, dropped, duplicated, spliced or altered chunk fails with
 * -VG_EAUTH; a file that ends without its final chunk fails with
 * -VG_ETRUNC after every complete chunk has been delivered.
 *
 * Handles are opaque; never touch their fields. All functions return 0 or a
 * negative VG_E* code unless stated.
 */
#ifndef VIGIL_CLIPFILE_H
#define VIGIL_CLIPFILE_H

#include <stddef.h>
#include <stdint.h>

#define VG_MASTER_KEY_LEN 32
#define VG_WRAPPED_KEY_LEN 40	/* AES-KW of a 32-byte key */
#define VG_CLIP_ID_LEN 16
#define VG_SHA256_LEN 32
/* Largest plaintext in one chunk; a longer write is split. */
#define VG_CHUNK_MAX (1024 * 1024)
#define VG_CLIP_KEY_LEN 32	/* per-clip AES-256-GCM key */
#define VG_CLIP_HEADER_LEN 56	/* format version 2 */

struct vg_clip_writer;
struct vg_clip_reader;

/*
 * Create path (O_EXCL, mode 0600) and write the header. A fresh clip key and
 * clip id are drawn from the CSPRNG; the wrapped key and the id are copied
 * out and the caller must catalogue them before any footage is written:
 * the file alone cannot be read, and nothing else keeps the wrapped key.
 * On failure nothing is left on disk.
 */
int vg_clip_writer_open(struct vg_clip_writer **out, const char *path,
			const uint8_t master[VG_MASTER_KEY_LEN],
			uint8_t wrapped_key[VG_WRAPPED_KEY_LEN],
			uint8_t clip_id[VG_CLIP_ID_LEN]);

/* Append plaintext to the current chunk (in memory); a chunk that reaches
 * VG_CHUNK_MAX is sealed and written. -VG_ENOSPC when the disk is full. */
int vg_clip_writer_write(struct vg_clip_writer *w, const void *buf, size_t len);

/* Seal the current chunk (if it holds any data), write it and fdatasync,
 * so that everything written so far survives a power cut. Called at each
 * MP4 fragment boundary. */
int vg_clip_writer_flush(struct vg_clip_writer *w);

/* Seal the remaining data as the final chunk, fsync the file and its
 * directory, and free w (also on error). sha256 (may be NULL) receives the
 * SHA-256 of the whole file as written; bytes (may be NULL) its size.
 * On error the file stays on disk and reads as truncated (see recover).
 *
 * After any write, flush or close error the writer is dead: every later
 * call returns the same error (a chunk number is never sealed twice), and
 * the caller should vg_clip_writer_abandon() it. */
int vg_clip_writer_close(struct vg_clip_writer *w, uint8_t sha256[VG_SHA256_LEN],
			 uint64_t *bytes);

/* Close without a final chunk (the clip then reads as truncated, as after a
 * crash); used when the disk is full or the pipeline fails. Data not yet
 * flushed is wiped and dropped. Frees w; NULL is a no-op. */
void vg_clip_writer_abandon(struct vg_clip_writer *w);

/* Bytes written to the file so far (header and sealed chunks). */
uint64_t vg_clip_writer_bytes(const struct vg_clip_writer *w);

/* Open path, check the header, unwrap wrapped_key (the catalog's copy)
 * with master and check it against the header's key check value. Errors
 * from open are about the key, never about a chunk: -VG_EAUTH if the master
 * key is wrong, the wrapped key altered, or the wrapped key belongs to
 * another clip (or the header's id / key check was edited); -VG_EFORMAT if
 * it is not a vigil clip of this format version; -VG_ETRUNC if the file
 * ends inside the header. The rest of the header is authenticated by every
 * chunk, so an edit there shows up as -VG_EAUTH from vg_clip_reader_next.
 * master and wrapped_key are borrowed for the call only. */
int vg_clip_reader_open(struct vg_clip_reader **out, const char *path,
			const uint8_t master[VG_MASTER_KEY_LEN],
			const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN]);

/* Every clip is opened with O_NOFOLLOW | O_NONBLOCK and must be a regular
 * file (fstat): a symlink, FIFO, device or folder in its place fails at
 * once with -VG_EFORMAT, never blocks the reader. */

/* vg_clip_reader_open() of the catalog path rel beneath the data folder
 * data_dir, resolved from a descriptor of that folder with no symlink
 * followed in any component (openat2 RESOLVE_BENEATH | NO_SYMLINKS, or one
 * component at a time where openat2 is missing): -VG_EINVAL if rel is
 * absolute or has "..", -VG_EFORMAT for a symlink on the way. */
int vg_clip_reader_open_in(struct vg_clip_reader **out, const char *data_dir, const char *rel,
			   const uint8_t master[VG_MASTER_KEY_LEN],
			   const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN]);

/* The descriptor vg_clip_reader_open_in() reads from (oflags: O_RDONLY or
 * O_RDWR), a regular file; or a negative code as there. */
int vg_clip_open_in(const char *data_dir, const char *rel, int oflags);

/*
 * Next authenticated chunk. On 0, *data and *len point at plaintext owned by the
 * reader, valid until the next call or free. Returns 1 at the clean end (the
 * final chunk has been delivered), -VG_ETRUNC if the file ends before a
 * final chunk (every complete chunk before it has been delivered),
 * -VG_EAUTH on any tampering.
 */
int vg_clip_reader_next(struct vg_clip_reader *r, const uint8_t **data, size_t *len);

/* Clip id from the header. */
void vg_clip_reader_id(const struct vg_clip_reader *r, uint8_t id[VG_CLIP_ID_LEN]);

/* Creation time from the header (Unix seconds, as the writer's clock had it).
 * Like the id, only trust it once vg_clip_reader_next has returned 1. */
int64_t vg_clip_reader_created(const struct vg_clip_reader *r);

/* 1 if the clip's final chunk was appended by vg_clip_recover (the recording
 * was cut short by a crash), else 0. Meaningful once next has returned 1. */
int vg_clip_reader_recovered(const struct vg_clip_reader *r);

/* Chunks authenticated so far. After vg_clip_reader_next failed with
 * -VG_EAUTH it is also the number (0-based) of the chunk that failed. */
uint64_t vg_clip_reader_chunks(const struct vg_clip_reader *r);

/* Free r and wipe its key and buffers; NULL is a no-op. */
void vg_clip_reader_free(struct vg_clip_reader *r);

/*
 * Repair a clip left open by a crash: keep every chunk that authenticates
 * (the run from the first chunk up to the first one that does not), cut the
 * file after the last one, append a final (empty) chunk marked "recovered"
 * so the file reads cleanly, fsync. *chunks and *plain_bytes (may be NULL)
 * receive how many chunks of the original file were kept and their
 * plaintext size (the appended chunk is not counted). A clip that already
 * ends cleanly is left untouched (returns 0, counts include its final
 * chunk). Returns -VG_EAUTH if the key cannot be unwrapped or does not
 * belong to this clip (so a catalog mix-up never cuts a good clip), or
 * -VG_EFORMAT / -VG_ETRUNC if the header is not a complete vigil header;
 * in all three cases nothing is changed.
 */
int vg_clip_recover(const char *path, const uint8_t master[VG_MASTER_KEY_LEN],
		    const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN], uint64_t *chunks,
		    uint64_t *plain_bytes);

/* 1 if path is a regular file that holds a vigil clip header of this
 * format version and nothing else (what a writer leaves when it dies
 * between creating the file and writing its first chunk: no footage), 0
 * if not, negative VG_E* if it cannot be read. Needs no key. */
int vg_clip_header_only(const char *path);

/* The clip id as 32 lower-case hex digits and a NUL (audit rows quote it
 * beside the catalog row id). */
#define VG_CLIP_ID_HEX_LEN (2 * VG_CLIP_ID_LEN + 1)
void vg_clip_id_hex(const uint8_t id[VG_CLIP_ID_LEN], char out[VG_CLIP_ID_HEX_LEN]);

/* SHA-256 of a whole file (used to re-check catalogued clips). */
int vg_file_sha256(const char *path, uint8_t out[VG_SHA256_LEN]);

/*
 * FOR TEST VECTORS AND TESTS ONLY - never call this in the daemon.
 * Like vg_clip_writer_open, but with a caller-chosen clip key, clip id,
 * creation time and chunk size (0 = VG_CHUNK_MAX, else 1..VG_CHUNK_MAX), so
 * that output is reproducible byte for byte. Reusing a clip key for two
 * different clips reuses GCM nonces and destroys their confidentiality.
 * wrapped_key (may be NULL) receives the wrapped clip key.
 */
int vg_clip_writer_open_fixed(struct vg_clip_writer **out, const char *path,
			      const uint8_t master[VG_MASTER_KEY_LEN],
			      const uint8_t clip_key[VG_CLIP_KEY_LEN],
			      const uint8_t clip_id[VG_CLIP_ID_LEN], int64_t created,
			      uint32_t chunk_max, uint8_t wrapped_key[VG_WRAPPED_KEY_LEN]);

#endif
