/*
 * segmenter.h - cuts a camera's H.264 packets into clips: fragmented MP4
 * (libavformat) written through a custom AVIOContext straight into the clip
 * encryptor, one catalog row per clip.
 *
 * A clip starts on a keyframe and ends where the next one starts, so
 * consecutive clips are contiguous: no frame is lost or repeated between
 * them. Each MP4 fragment (fragment_us, 1 s by default) is sealed as one
 * encrypted chunk and fdatasync'd, so a power cut loses at most the
 * fragment being built.
 *
 * Packet timestamps are in params.time_base; pts 0 is the UTC instant
 * params.base_utc_us, so every packet's capture time is known exactly.
 *
 * Sound (optional): a second, audio stream in the same clip. Audio packets
 * have their own time base and base instant; both are mapped to the clip's
 * first video keyframe, so audio pts 0 and video pts 0 are the same UTC
 * instant. An audio packet goes into the clip whose time span holds its
 * start: packets that start before the first clip's keyframe are dropped,
 * and at a cut the packets before the keyframe end the old clip. To write
 * both streams in time order, video packets are held back (at most
 * SEG_VIDEO_HOLD of them) until the sound has caught up with them.
 * Clips are still cut only on video keyframes; the catalog row is the same
 * (frames = video frames).
 */
#ifndef VIGIL_SEGMENTER_H
#define VIGIL_SEGMENTER_H

#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "vigil/catalog.h"
#include "vigil/clipfile.h"

struct vg_segmenter_params {
	const char *camera;
	const char *data_dir;		/* clips go under DATA_DIR/clips/CAMERA/YYYYMMDD/ */
	const uint8_t *master;		/* VG_MASTER_KEY_LEN bytes, borrowed */
	struct vg_catalog *cat;		/* borrowed; may be shared by cameras */
	int64_t segment_us;		/* target clip length */
	int64_t fragment_us;		/* fragment (chunk) length */
	const AVCodecParameters *codecpar;	/* H.264 with SPS/PPS extradata */
	AVRational time_base;
	int64_t base_utc_us;
	int64_t frame_us;		/* nominal frame interval */
	int synthetic;
	const char *encoder_name;	/* stored in the catalog */
	/* Called (on the encoder thread) after each clip is catalogued
	 * complete; may be NULL. */
	void (*on_clip)(void *ud, const struct vg_clip *c);
	void *on_clip_ud;
	/* Sound: NULL for video-only clips. Audio packet pts are in
	 * audio_time_base, pts 0 being the UTC instant audio_base_utc_us. */
	const AVCodecParameters *audio_codecpar;	/* copied */
	AVRational audio_time_base;
	int64_t audio_base_utc_us;
	/* 1: a writer thread of the segmenter's own muxes, seals, syncs and
	 * catalogues (vg_segmenter_write only queues the packet), so the
	 * caller never waits on the disk; on_clip is then called on that
	 * thread. 0: all of it on the caller's thread, in the call. */
	int threaded;
};

/* Video packets held back waiting for sound, at most (about 0.5 s at 15 fps). */
#define SEG_VIDEO_HOLD 8
/* Threaded: packets queued for the writer thread, at most this many and
 * (unless the queue is empty) this many bytes of them; a caller with more
 * waits. 256 pictures are 17 s at 15 fps; 8 MiB are 4 s of the noisiest
 * 720p15 (16 Mbit/s) and a minute of a quiet one. A crash loses what is
 * queued, so this is also the most footage a crash costs beyond the
 * fragment being built. */
#define SEG_QUEUE_MAX 256
#define SEG_QUEUE_BYTES (8 * 1024 * 1024)

struct vg_segmenter_stats {
	int64_t clips;			/* clips completed */
	int64_t frames;			/* packets written in all clips */
	int64_t skipped;		/* packets dropped waiting for a keyframe */
	int64_t audio_packets;		/* audio packets written in all clips */
	int64_t audio_dropped;		/* audio packets outside any clip */
	int64_t clip_id;		/* catalog id of the open clip, 0 if none */
	int64_t abandoned_id;		/* the last clip given up after a failure,
					 * its row still "recording"; 0 if none */
	int64_t clip_frames;
	uint64_t clip_bytes;
	int64_t discarded;		/* threaded: video packets given (write
					 * returned 0) but never written, because
					 * an earlier write had failed */
	char clip_path[512];
};

struct vg_segmenter;

int vg_segmenter_new(struct vg_segmenter **out, const struct vg_segmenter_params *p);

/* Convert a pts in params.time_base to UTC microseconds. */
int64_t vg_segmenter_utc(const struct vg_segmenter *s, int64_t pts);

/* 1 if the picture captured at ts_utc_us should be a keyframe because the
 * open clip has reached its length (the pipeline then forces one, so clips
 * are cut on time). Says 1 once per clip: the pictures sent after it,
 * while the encoder still holds the keyframe back, are not forced too. */
int vg_segmenter_wants_keyframe(struct vg_segmenter *s, int64_t ts_utc_us);

/*
 * Write one packet (borrowed). Starts a clip on the first keyframe, cuts to
 * a new clip on a keyframe once the clip is long enough, seals a fragment
 * once it is long enough. -VG_ENOSPC when the disk is full, other negative
 * codes on failure: the open clip is abandoned as far as it got (its row
 * stays "recording"; stats.abandoned_id names it for recovery).
 * Threaded: the packet is queued (a reference, not a copy) and the failure
 * of an earlier packet is returned instead; every packet given after the
 * failed one is discarded and counted (stats.discarded).
 */
int vg_segmenter_write(struct vg_segmenter *s, const AVPacket *pkt);

/*
 * Give one audio packet (borrowed; pts in params.audio_time_base, in
 * order). It is written once the video has reached it, or dropped if no
 * clip spans it. Ignored (0) when the segmenter has no sound. Same return
 * codes as vg_segmenter_write, whose video packets it may release.
 */
int vg_segmenter_write_audio(struct vg_segmenter *s, const AVPacket *pkt);

/* No more sound (its review date passed, or capture failed): video stops
 * waiting for it, the open clip's audio ends with the last packet given,
 * and later clips are video only. */
void vg_segmenter_audio_end(struct vg_segmenter *s);

/* Write what is held back, then close the open clip cleanly (if any).
 * Threaded: waits until the writer thread has done so, and returns the
 * first failure since the segmenter was made, if any. */
int vg_segmenter_finish(struct vg_segmenter *s);

void vg_segmenter_stats(const struct vg_segmenter *s, struct vg_segmenter_stats *st);

/* Finish (if still open) and free; NULL is a no-op. */
void vg_segmenter_free(struct vg_segmenter *s);

/* Relative path (from the data folder) for a clip: used by the segmenter and
 * by tests that predict names. */
void vg_segmenter_clip_path(const char *camera, int64_t start_us,
			    const uint8_t clip_id[VG_CLIP_ID_LEN], char *out, size_t len);

#endif
