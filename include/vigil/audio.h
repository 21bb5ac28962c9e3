/*
 * audio.h - one camera's sound (policy 3.11, 3.13): capture, AAC encoding
 * and a small queue of encoded packets for the camera's encoder thread.
 *
 * A capture thread of its own reads the device ("alsa:NAME" through
 * libavdevice, or "synthetic": a 1 kHz sine paced in real time, for tests),
 * resamples to 48 kHz mono, encodes with libavcodec's native AAC encoder and
 * queues the packets. When the queue is full the oldest packet is dropped:
 * sound never delays pictures.
 *
 * Timing: packet pts are in vg_audio_time_base() (1/sample rate) and pts 0
 * is the UTC instant vg_audio_base_utc(), the same wall clock the video
 * sources stamp pictures with. Pts count samples, so packets are contiguous.
 * Decoded audio is never written anywhere but into encrypted clips.
 */
#ifndef VIGIL_AUDIO_H
#define VIGIL_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

struct vg_audio;

/*
 * Open device (borrowed; NULL means "alsa:default") for camera (borrowed,
 * for log lines) and start capturing. On failure *out is NULL, why says
 * what went wrong, and the result is -VG_EINVAL (bad device name),
 * -VG_ENODEV (the device cannot be opened), -VG_ECODEC or -VG_ENOMEM.
 */
int vg_audio_start(struct vg_audio **out, const char *camera, const char *device, char *why,
		   size_t whylen);

/* The encoder's stream parameters (owned by a; valid until vg_audio_stop). */
const AVCodecParameters *vg_audio_codecpar(const struct vg_audio *a);
AVRational vg_audio_time_base(const struct vg_audio *a);
int64_t vg_audio_base_utc(const struct vg_audio *a);

/* Move the oldest queued packet into pkt (the caller unrefs it): 1 if one
 * was there, 0 if none (never waits). */
int vg_audio_pop(struct vg_audio *a, AVPacket *pkt);

/* Packets dropped because the queue was full. */
int64_t vg_audio_dropped(struct vg_audio *a);

/* Stop the capture thread, drop queued packets and free. NULL is a no-op. */
void vg_audio_stop(struct vg_audio *a);

#endif
