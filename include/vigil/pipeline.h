/*
 * pipeline.h - one camera's recording: source -> (decode) -> encode ->
 * segment -> encrypted clips.
 *
 * Each pipeline runs two threads of its own: a capture thread that owns the
 * source and never blocks on anything else, and an encoder thread that owns
 * the encoder and the segmenter (whose own writer thread does the clip's
 * disk work, so the encoder never waits on the disk: segmenter.h). Between
 * capture and encoder is a small queue bounded by bytes: when the encoder
 * falls behind, new frames are dropped and counted rather than delaying
 * capture or growing memory. A slow or stalled camera therefore never
 * delays another camera.
 *
 * A camera that vanishes is closed at once (so the driver can reconnect it)
 * and reopened with backoff; the time without pictures is a gap row in the
 * catalog and a line in the log.
 *
 * The record of recording (catalog.h): whenever a camera's footage stops -
 * the camera is lost, the disk is full (diskguard.h), a write fails, the
 * wall clock steps forward, a temporary camera expires, the pipeline is
 * stopped - the encoder thread opens a gap where the camera's record
 * stops (the end of its last clip, after recovering a clip a failed write
 * left open), with the reason; the camera's next clip closes it. At
 * start a camera that has a record but no open gap was not stopped
 * cleanly (a crash or a power cut): a gap is opened from the end of its
 * last (recovered) clip. So clips and gaps together cover every moment.
 * Only the encoder thread writes gaps; the capture thread never touches
 * the catalog.
 */
#ifndef VIGIL_PIPELINE_H
#define VIGIL_PIPELINE_H

#include <stdint.h>

#include <libavcodec/packet.h>

#include "vigil/catalog.h"
#include "vigil/config.h"
#include "vigil/diskguard.h"

/* What every pipeline shares; all borrowed and outliving the pipelines. */
struct vg_pipeline_env {
	const char *data_dir;
	const uint8_t *master;		/* VG_MASTER_KEY_LEN bytes */
	struct vg_catalog *cat;
	/* Events worth an audit row ("clip.create", "camera.lost",
	 * "camera.back"), called from the camera's threads; may be NULL. */
	void (*event)(void *ud, const char *camera, const char *action, const char *detail);
	void *event_ud;
	/* The wall clock (UTC µs), for temporary cameras' remove_by date;
	 * NULL = the real clock. Tests inject their own. */
	int64_t (*now)(void);
	/* Free-space floor: below it recording pauses (a "disk full" gap,
	 * frames counted as lost); NULL: no floor. */
	struct vg_diskguard *disk;
	/* A clip the segmenter gave up after a failed write (its row is
	 * still "recording"): finish it now, audited (reconcile.h,
	 * vg_reconcile_clip). Called on the encoder thread; NULL: it waits
	 * for the daemon's next stop or start. */
	void (*recover)(void *ud, int64_t clip_id);
	/* Cameras this box records at once (0 = 1): each encoder takes its
	 * share of the cores and no more (encoder.h). */
	int streams;
	/* Cameras take turns to start their encoders (warmup.h): shared by
	 * every pipeline of the box; NULL: each starts at once. */
	struct vg_warmup *warmup;
};

enum vg_pipeline_state {
	VG_PIPE_STARTING = 0,
	VG_PIPE_RECORDING,
	VG_PIPE_RECONNECTING,		/* waiting for the device: camera missing or
					 * lost; retrying with backoff */
	VG_PIPE_ENDED,			/* file source at its end */
	VG_PIPE_FAILED,			/* cannot record (bad format, disk) */
	VG_PIPE_STOPPED,
	VG_PIPE_EXPIRED,		/* temporary camera past its remove_by date */
	VG_PIPE_DISK_FULL,		/* paused: free space below the floor */
};

/* Sound of a camera with audio = true (policy 3.11). */
enum vg_audio_state {
	VG_SOUND_OFF = 0,		/* audio = false */
	VG_SOUND_RECORDING,
	VG_SOUND_FAILED,		/* the device could not be opened: video only */
	VG_SOUND_ENDED,			/* past audio_review_by: video only */
};

struct vg_pipeline_status {
	enum vg_pipeline_state state;
	int64_t frames_in;		/* pictures received from the source */
	int64_t frames_dropped;		/* queue full, error frames, driver gaps,
					 * and frames_lost */
	int64_t frames_skipped;		/* of frames_dropped: never delivered, by
					 * the gaps in the source's frame counter
					 * (the driver's drops, not vigild's) */
	int64_t frames_lost;		/* not recorded: the disk was full */
	int64_t frames_encoded;		/* pictures written into clips */
	int64_t clips;			/* clips completed */
	int64_t bytes;			/* bytes of completed clips + open clip */
	int64_t reconnects;
	double fps;			/* pictures per second lately (moving average) */
	char clip_path[512];		/* open clip, "" if none */
	char source[128];		/* source label */
	char last_error[160];
	enum vg_audio_state audio;
	char audio_error[160];		/* why sound failed, "" otherwise */
};

struct vg_pipeline;

/* Start recording camera cam (borrowed: it must outlive the pipeline). */
int vg_pipeline_start(struct vg_pipeline **out, const struct vg_camera_config *cam,
		      const struct vg_pipeline_env *env);

/* Stop capture, encode what is queued, close the open clip cleanly, open
 * a gap with the reason "vigild stopped" (unless the camera is in a gap
 * already), join the threads and free. NULL is a no-op. */
void vg_pipeline_stop(struct vg_pipeline *p);
/* The same, with the gap's reason (e.g. "disabled in the configuration"). */
void vg_pipeline_stop_because(struct vg_pipeline *p, const char *why);

void vg_pipeline_status(struct vg_pipeline *p, struct vg_pipeline_status *st);

/* 1 once a pipeline has nothing more to do: its source ended (a file
 * without loop), or a temporary camera reached its remove_by date, and its
 * last clip is closed. */
int vg_pipeline_done(struct vg_pipeline *p);

/* "recording", "waiting-for-device", ... and "off", "recording",
 * "failed", "ended" for sound. The strings are static. */
const char *vg_pipeline_state_name(enum vg_pipeline_state s);
const char *vg_audio_state_name(enum vg_audio_state s);

/*
 * An installer's snapshot: the next picture the camera's encoder thread
 * encodes after this call, as it goes into clips (masks filled, overlay
 * burnt in; the raw picture when the camera has no picture stage), with
 * the mask outlines drawn in yellow on a copy (never on what is
 * encoded), encoded as one baseline JPEG (yuvj420p, mjpeg).
 *
 * Waits up to timeout_ms for that picture (on a condition variable; the
 * encoder thread only checks a flag per picture until someone asks).
 * *jpeg receives a new packet the caller frees with av_packet_free(); it
 * is footage: send it to the authorised caller, never to disk or logs.
 * -VG_ENODATA if no picture came in time (the camera is not recording, or
 * the pipeline is stopping), -VG_EFORMAT if the camera's H.264 is passed
 * through undecoded (there is no picture to show), -VG_ECODEC,
 * -VG_ENOMEM, -VG_EINVAL (timeout_ms < 0). *jpeg is NULL on failure.
 *
 * Any thread, several at once; but p must stay valid for the whole call:
 * the caller makes sure vg_pipeline_stop(p) does not run meanwhile.
 */
int vg_pipeline_snapshot(struct vg_pipeline *p, int timeout_ms, AVPacket **jpeg);

#endif
