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

struct vg_picture;

/* Overlay font sizes (pixels) a config may ask for. */
#define VG_OVERLAY_SIZE_MIN 8
#define VG_OVERLAY_SIZE_MAX 200
/* Room kept for the zone's abbreviation (GMT, BST, CEST, +0530). */
#define VG_OVERLAY_ZONE_CHARS 5

/* Where the overlay goes on one picture. */
struct vg_overlay_layout {
	int size;		/* font height in pixels */
	int lines;		/* 1: "date time zone  name"; more: the name below the
				 * date, name_per_line characters a line */
	int name_per_line;
	int margin;		/* text to picture edge, at least; size / 2, >= 4 */
	int border;		/* the dark box around the text; size / 4, >= 2 */
	/* The box (text and border) at its largest, i.e. with a zone name of
	 * VG_OVERLAY_ZONE_CHARS; the box drawn is never bigger and lies
	 * inside it, and this rectangle lies inside the picture. */
	int x, y, w, h;
};

/* Lay the overlay out at font size (VG_OVERLAY_SIZE_MIN..MAX) for the
 * camera name (at most VG_CAMERA_NAME_MAX characters; wrapped after a '-'
 * or '_' where it can be) at pos on a width x height picture: 0 and *out
 * if it fits whole, -VG_EINVAL if it does not fit at this size (or an
 * argument is out of range). */
int vg_overlay_fit(int size, enum vg_overlay_pos pos, const char *name, int width, int height,
		   struct vg_overlay_layout *out);

/* The largest size that fits (VG_OVERLAY_SIZE_MIN..MAX), 0 if none does. */
int vg_overlay_max_size(enum vg_overlay_pos pos, const char *name, int width, int height);

/* The layout vigild draws for cam on a width x height picture: its size
 * if that fits; with size = 0, 1/24 of the height (at least 10); either
 * one made smaller until it fits. 0, 1 if the configured size had to be
 * made smaller, -VG_EINVAL if nothing fits (a picture under about
 * 150 x 40 pixels). */
int vg_overlay_layout(const struct vg_camera_config *cam, int width, int height,
		      struct vg_overlay_layout *out);

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

/* The fraction (0..1) of cam's configured picture covered by its masks
 * together (overlaps counted once); 0 without masks. */
double vg_picture_mask_coverage(const struct vg_camera_config *cam);

/* The overlay's date text for ts_utc_us in the process time zone, e.g.
 * "2026-11-29 14:03:07 GMT", into buf (NUL-terminated). 0, or -VG_EINVAL
 * if buf is too small or the time cannot be converted. */
int vg_picture_time_text(int64_t ts_utc_us, char *buf, size_t len);

#endif
