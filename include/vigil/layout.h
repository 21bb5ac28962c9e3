/*
 * layout.h - where the privacy masks and the evidential overlay fall on a
 * camera's picture (picture.h draws them): pure arithmetic on the config,
 * shared by the config check and the picture stage, so that checking a
 * config needs no FFmpeg.
 */
#ifndef VIGIL_LAYOUT_H
#define VIGIL_LAYOUT_H

#include <stdint.h>

#include "vigil/config.h"

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

/* The cut vg_overlay_fit makes: name on lines of at most per characters,
 * after its last '-' or '_' that keeps the line full enough, else at per.
 * ends[k] is where line k ends; returns the number of lines. */
int vg_overlay_wrap_name(const char *name, int per, int ends[VG_CAMERA_NAME_MAX]);

/* A w x h bitmap (1 byte a pixel, 1 = masked: the pixel's centre lies
 * inside one of the n masks, relative coordinates) the caller frees; NULL
 * if out of memory. */
uint8_t *vg_mask_raster(const struct vg_mask *masks, int n, int w, int h);

/* The fraction (0..1) of cam's configured picture covered by its masks
 * together (overlaps counted once); 0 without masks. */
double vg_mask_coverage(const struct vg_camera_config *cam);

#endif
