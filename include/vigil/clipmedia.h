/*
 * clipmedia.h - reading the MP4 inside an encrypted clip without writing
 * plaintext anywhere: libavformat reads through a custom AVIOContext that
 * pulls authenticated chunks from a clip reader.
 *
 * Used to measure clips recovered after a crash, by vigilctl to hand a clip
 * to a viewer, and by export to remux the original packets. Every function
 * takes the clip's wrapped key from its catalog row: the file alone holds
 * no key material (crypto-shredding, see clipfile.h).
 */
#ifndef VIGIL_CLIPMEDIA_H
#define VIGIL_CLIPMEDIA_H

#include <stdint.h>

#include <libavformat/avformat.h>

#include "vigil/clipfile.h"

struct vg_clipmedia;

/*
 * Open the clip at path for demuxing. The AVFormatContext (borrowed, valid
 * until vg_clipmedia_close) is ready for av_read_frame(). Demuxing stops
 * with an error at the first chunk that fails authentication; a
 * crash-truncated clip simply ends early (vg_clipmedia_status tells).
 */
int vg_clipmedia_open(struct vg_clipmedia **out, const char *path,
		      const uint8_t master[VG_MASTER_KEY_LEN],
		      const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN], AVFormatContext **fmt);
/* The same for the catalog path rel beneath the data folder data_dir, with
 * no symlink followed (vg_clip_reader_open_in). */
int vg_clipmedia_open_in(struct vg_clipmedia **out, const char *data_dir, const char *rel,
			 const uint8_t master[VG_MASTER_KEY_LEN],
			 const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN], AVFormatContext **fmt);

/* 0 if every chunk read so far authenticated and the clip ended cleanly,
 * -VG_ETRUNC if it ended without its final chunk, -VG_EAUTH if a chunk
 * failed authentication. */
int vg_clipmedia_status(const struct vg_clipmedia *m);

/* Chunks authenticated so far; once the status is -VG_EAUTH, the number
 * (0-based) of the chunk that failed. */
int64_t vg_clipmedia_chunk(const struct vg_clipmedia *m);

void vg_clipmedia_close(struct vg_clipmedia *m);

struct vg_clipmedia_info {
	int64_t frames;		/* video packets */
	int64_t duration_us;	/* last pts + its duration, from the first pts */
	int width, height;
	char codec[16];
};

/* Demux the whole clip and measure it. Returns the clip's status as
 * vg_clipmedia_status does (info is filled for what could be read). */
int vg_clipmedia_measure(const char *path, const uint8_t master[VG_MASTER_KEY_LEN],
			 const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN],
			 struct vg_clipmedia_info *info);

/* Write the clip's plaintext MP4 to fd (a pipe to a player, or a file the
 * caller chose). Returns 0, -VG_ETRUNC (all that exists was written) or
 * -VG_EAUTH / -VG_EIO. */
int vg_clipmedia_decrypt_to_fd(const char *path, const uint8_t master[VG_MASTER_KEY_LEN],
			       const uint8_t wrapped_key[VG_WRAPPED_KEY_LEN], int fd);

#endif
