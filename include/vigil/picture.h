/*
 * picture.h - what is done to every raw picture before it is encoded:
 * privacy masks filled solid black (principle 2), then the evidential
 * overlay burnt in (principle 11): local date and time with the zone shown
 * ("2026-11-29 14:03:07 GMT", "... BST") and the camera name, at the
 * configured corner and size. The masked pixels therefore never exist in
 * any clip.
 *
 * Masks are filled in C from a coverage table built once per stage (a
 * pixel is masked when its centre lies inside a mask polygon; a chroma
 * sample is masked when any pixel it colours is). The overlay is FFmpeg's
 * drawtext with the DejaVu Sans Mono Bold font the synthetic camera uses,
 * showing each frame's capture time, converted with the process time zone
 * (localtime_r: vigild sets TZ from the config's timezone, by default
 * Europe/London).
 *
 * The overlay is always whole: vg_overlay_layout() places it so that the
 * date, time, zone and name lie inside the picture, with a margin of half
 * the font size. When "date time zone  name" is too wide for one line the
 * name goes on the line below (wrapped again if it is still too wide);
 * when even that does not fit at the configured size, the loader refuses
 * the size (config.c, naming the largest that fits), and a picture that
 * turns out smaller than configured (the driver granted less) gets the
 * largest size that fits, with a warning.
 *
 * Pass-through H.264 cannot be masked or overlaid: when
 * vg_picture_needed() says a stage is needed, the pipeline must decode and
 * re-encode such a camera (and log that it does).
 *
 * One stage serves one camera at one picture size and format and is used
 * by one thread at a time.
 */
#ifndef VIGIL_PICTURE_H
#define VIGIL_PICTURE_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include "vigil/config.h"
#include "vigil/layout.h"

struct vg_picture;

/* 1 if cam needs a picture stage (it has masks or its overlay is on, the
 * default), else 0: then raw frames go to the encoder as they are and
 * H.264 may be passed through. */
int vg_picture_needed(const struct vg_camera_config *cam);

/*
 * A stage for frames of width x height in pixel format fmt (8-bit YUV:
 * yuv420p, yuvj420p, yuv422p, yuvj422p, yuv444p, nv12, nv21, yuyv422,
 * uyvy422, gray). cam is borrowed for the call only (the masks, name and
 * overlay settings are copied). -VG_EFORMAT for another format,
 * -VG_ECODEC if the overlay cannot be built (no font, no drawtext),
 * -VG_EINVAL for bad sizes, -VG_ENOMEM.
 */
int vg_picture_new(struct vg_picture **out, const struct vg_camera_config *cam, int width,
		   int height, enum AVPixelFormat fmt);

/*
 * Apply the stage to in, captured at ts_utc_us (UTC microseconds, the time
 * the overlay shows). *out receives a new frame reference the caller frees
 * with av_frame_free(); its pts and other properties are in's. in is never
 * written: it may be a read-only driver buffer. When something is drawn,
 * the picture is copied first (masks: into a new buffer; overlay alone:
 * drawtext copies the shared buffer); when nothing is drawn, *out is just
 * a new reference to in's buffers. The output's pixel format is
 * vg_picture_out_format(), which differs from in's only for packed formats
 * drawtext cannot draw on (yuyv422, uyvy422: converted once per frame).
 * -VG_EINVAL if in's size or format is not the stage's (build a new stage),
 * -VG_ECODEC, -VG_ENOMEM. *out is NULL on failure.
 */
int vg_picture_apply(struct vg_picture *p, const AVFrame *in, int64_t ts_utc_us,
		     AVFrame **out);

/*
 * As vg_picture_apply(), but takes the caller's reference *in (NULL after
 * the call, whatever the result). When that was the only reference to a
 * writable buffer (a picture the caller converted itself, never a
 * driver's buffer, which is shared or read-only), the masks and overlay
 * are drawn straight on it: no copy of the picture, in time or memory.
 * Otherwise it copies as vg_picture_apply() does.
 */
int vg_picture_apply_take(struct vg_picture *p, AVFrame **in, int64_t ts_utc_us,
			  AVFrame **out);

/* The pixel format vg_picture_apply() produces. */
enum AVPixelFormat vg_picture_out_format(const struct vg_picture *p);

/*
 * For installers' snapshots: draw each mask's outline in yellow on frame,
 * a frame of the stage's size in its input or output format (usually the
 * output of vg_picture_apply). frame belongs to the caller; it is made
 * writable first (copied if its buffer is shared), so other references to
 * the old buffer are not changed. 0, -VG_EINVAL, -VG_EFORMAT, -VG_ENOMEM.
 */
int vg_picture_draw_outlines(struct vg_picture *p, AVFrame *frame);

/* Free a stage; NULL is a no-op. */
void vg_picture_free(struct vg_picture *p);

/* The overlay's date text for ts_utc_us in the process time zone, e.g.
 * "2026-11-29 14:03:07 GMT", into buf (NUL-terminated). 0, or -VG_EINVAL
 * if buf is too small or the time cannot be converted. */
int vg_picture_time_text(int64_t ts_utc_us, char *buf, size_t len);

#endif
