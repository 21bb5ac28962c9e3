/*
 * config.h - vigil.conf, parsed and validated as a whole before anything
 * starts (vigild -n and vigilctl config check use the same function).
 *
 * The file is libconfig syntax; see config/vigil.conf for an annotated
 * example and vigil.conf(5) for every key. Every error names the file and
 * line and says what is expected, e.g.
 *   /etc/vigil/vigil.conf:14: camera "lift": fps must be between 1 and 120 (got 0)
 * All errors are reported, not just the first.
 *
 * The result is a typed, owned tree: callers read the fields, never write
 * them, and free the whole with vg_config_free().
 *
 * The CCTV policy is enforced here by construction (docs/policy-map.md):
 * - a config that lists any camera must have a complete site block (name,
 *   address, area_manager, contact): without one it does not load, so
 *   vigild refuses to record and config check exits 2. A config with no
 *   cameras loads without a site (a box being set up records nothing);
 * - a config with an enabled camera must list users (there are no
 *   built-in accounts), someone of whom may view this site's footage; a
 *   site on an account that is a misspelling of site.name is refused;
 * - every camera needs purpose and area (and no text setting may be
 *   blank);
 * - audio = true needs audio_justification and audio_review_by;
 * - a temporary = { ... } block needs all five fields, remove_by after
 *   installed, and a case_reference of the form ASB-, CRIME- or CASE-n;
 * - masks must be valid polygons or rectangles inside the picture;
 * - the overlay must fit the picture whole (vg_overlay_fit(), picture.h);
 * - retention_days above 31 needs retention_justification;
 * - users are checked with vg_policy_validate_users();
 * - the socket path must fit a Unix socket address.
 * What depends on the machine rather than the file (accounts, folders,
 * the time zone data) and what does not stop recording (no signage date,
 * dates coming up) is checked by vg_confcheck_file() (confcheck.h), the
 * one verdict vigild and vigilctl both use.
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/policy.h"

#define VG_CONFIG_DEFAULT_PATH "/etc/vigil/vigil.conf"
/* Named in the "cannot open" message so an installer knows where to start. */
#define VG_CONFIG_EXAMPLE_PATH "/usr/share/doc/vigil/vigil.conf.example"
#define VG_MAX_CAMERAS 32
#define VG_CAMERA_NAME_MAX 32
/* The box's time zone unless timezone = "..." says otherwise: the overlay,
 * the config's dates and the logs are in it (GMT/BST). */
#define VG_CONFIG_DEFAULT_TIMEZONE "Europe/London"
/* Signs are re-checked at least this often unless signage_review_days
 * says otherwise (principle 2: regular reviews). */
#define VG_CONFIG_DEFAULT_SIGNAGE_REVIEW_DAYS 365

enum vg_source_kind {
	VG_SOURCE_V4L2 = 0,	/* device = "/dev/video0" or /dev/v4l/by-id/... */
	VG_SOURCE_FILE,		/* device = "file:PATH" raw frames */
	VG_SOURCE_SYNTHETIC,	/* device = "synthetic" test pattern */
};

/* Camera pixel formats vigil can take, in the order of the config's
 * "formats" preference list. */
enum vg_cam_format {
	VG_FMT_YUYV = 0,
	VG_FMT_NV12,
	VG_FMT_YUV420,
	VG_FMT_MJPEG,
	VG_FMT_H264,
	VG_FMT_COUNT
};

/* One privacy mask, always stored as a polygon in relative coordinates:
 * x in 0..1 across the picture, y in 0..1 down it, so that it covers the
 * same part of the view whatever size the driver grants. A rect = [x, y,
 * w, h] becomes its four corners; pixel values in the file are divided by
 * the camera's configured width and height. */
struct vg_mask {
	int line;		/* line of the mask's block */
	int from_rect;		/* 1 if written as rect = [...] */
	int n_points;		/* >= 3 */
	double *xy;		/* x0, y0, x1, y1, ... (2 * n_points), owned */
};

/* Corner of the evidential overlay (date, time, zone, camera name). */
enum vg_overlay_pos {
	VG_OVERLAY_TOP_LEFT = 0,	/* default */
	VG_OVERLAY_TOP_RIGHT,
	VG_OVERLAY_BOTTOM_LEFT,
	VG_OVERLAY_BOTTOM_RIGHT,
};

/* temporary = { ... }: a camera put up for a specific case (policy 3.4,
 * 4.2). Every string is set when the block is present (all required). */
struct vg_temporary_config {
	int line;		/* line of the block; 0 if the camera is permanent */
	char *equipment;
	char *reason;
	char *case_reference;
	char *installed;	/* "YYYY-MM-DD" */
	char *remove_by;	/* "YYYY-MM-DD", later than installed */
};

struct vg_camera_config {
	char *name;		/* [a-z0-9_-], unique, at most 32 chars */
	int line;		/* line of the camera's block, for messages */
	int enabled;		/* enabled = true (default) */
	enum vg_source_kind kind;
	char *device;		/* V4L2 node path, or the file path for FILE */
	/* FILE sources: the raw frame layout, an FFmpeg pixel format name
	 * ("yuyv422", "nv12", "yuv420p"); realtime = false reads as fast as
	 * the pipeline takes frames (benchmarks). */
	char *file_pix_fmt;
	int file_realtime;
	int file_loop;		/* loop at end of file (default false) */
	enum vg_cam_format formats[VG_FMT_COUNT];
	int n_formats;		/* preference order; default yuyv,nv12,yuv420,mjpeg,h264 */
	int width, height;	/* requested; the driver may grant the nearest */
	int fps_num, fps_den;	/* requested frame rate, e.g. 15/1 */
	/* Encoding. encoder is a libavcodec H.264 encoder name (default
	 * "libx264"); H.264 from the camera is passed through regardless. */
	char *encoder;
	char *preset;		/* x264 preset, default "veryfast" */
	int crf;		/* 0 = use bitrate instead; default 23 */
	int bitrate_kbps;	/* 0 = CRF */
	int gop;		/* keyframe interval in frames; default 2 s of frames */
	int segment_seconds;	/* clip length, default 60 */
	int fragment_ms;	/* MP4 fragment (and sealed chunk) length, default 1000 */
	/* Governance (policy) fields: they do not change how a camera records,
	 * so vg_config_camera_equal() ignores them. Strings are NULL if absent. */
	char *purpose;		/* why this camera exists, e.g. "anti-social behaviour" */
	char *area;		/* what it covers, e.g. "ground floor lift lobby" */
	int retention_days;	/* 1..3650, default 31; above 31 needs a justification */
	char *retention_justification;
	char *signage_confirmed; /* "YYYY-MM-DD", checked to be a real date */
	int signage_line;	/* line of signage_confirmed, 0 if absent */
	int retention_line;	/* line of retention_days, or of the camera block */
	/* Sound (policy 3.11, 3.13): off by default; audio = true needs both
	 * a justification and a review date. audio_device is NULL (meaning
	 * "alsa:default") unless set; "synthetic" is a sine test source. */
	int audio;
	int audio_line;		/* line of "audio", 0 if absent */
	char *audio_device;
	char *audio_justification;
	char *audio_review_by;	/* "YYYY-MM-DD" */
	int is_temporary;	/* 1 if a temporary block was given */
	struct vg_temporary_config temporary;
	/* Privacy masks (principle 2), filled before encoding. */
	struct vg_mask *masks;	/* NULL when n_masks == 0 */
	int n_masks;
	int masks_line;		/* line of "masks", 0 if absent */
	/* overlay = { enabled; position; size; }: on by default. size is
	 * the font height in pixels, 0 = worked out from the frame height;
	 * an explicit size fits the configured picture (the loader refuses
	 * one that does not). */
	int overlay_enabled;
	enum vg_overlay_pos overlay_position;
	int overlay_size;
};

/* site = { ... }: who runs this box and where; every field NULL if absent. */
struct vg_site_config {
	char *name;		/* e.g. "Elm Court" */
	char *address;
	char *area_manager;	/* the person responsible for the cameras */
	char *contact;		/* published contact point for residents */
};

struct vg_config {
	char *path;		/* the file this came from */
	char *data_dir;		/* clips and catalog; default /var/lib/vigil */
	char *key_file;		/* master key; default DATA_DIR/master.key */
	char *catalog;		/* default DATA_DIR/catalog.db */
	char *socket_path;	/* control socket; default /run/vigil/vigil.sock,
				 * shorter than a Unix socket address allows */
	char *run_as;		/* user = "vigil": the account vigild drops to when
				 * started as root */
	/* Lines of these settings, 0 when the default applies: messages
	 * about the machine (confcheck.h) point at them. */
	int data_dir_line, key_file_line, catalog_line, socket_line, run_as_line;
	/* timezone = "Europe/London": an IANA zone name (checked for its
	 * form here; installed on the box: vg_confcheck_file()). */
	char *timezone;
	int timezone_line;
	int signage_review_days;	/* 1..3650, default 365 */
	char *watchdog;		/* watchdog = "/dev/watchdog": fed while every camera
				 * records or is in a logged reconnect loop; NULL = none */
	char *metrics_file;	/* metrics_file = "/.../vigil.prom": Prometheus text
				 * file for node_exporter (metrics.h); NULL = none */
	/* witness = { host; name; port; ca; cert; key; }: the off-box collector
	 * every audit checkpoint is sent to (witness.h); host NULL = none. */
	struct vg_witness_config {
		char *host;	/* name or address vigild connects to */
		char *name;	/* the name the collector's certificate must carry;
				 * NULL = host (set it when host is an address) */
		int port;	/* 1..65535, default 6514 (RFC 5425) */
		char *ca;	/* PEM: the CA that signed the collector's certificate */
		char *cert;	/* PEM: this box's client certificate */
		char *key;	/* PEM: its private key */
		int line;
	} witness;
	int log_syslog;		/* log = "syslog" (default "stderr") */
	int log_level;		/* enum vg_log_level; default info */
	int status_interval;	/* seconds between status lines; default 60 */
	struct vg_camera_config *cameras;	/* NULL when n_cameras == 0 */
	int n_cameras;
	int cameras_line;	/* line of "cameras", 0 if absent */
	struct vg_site_config site;
	int has_site;		/* 1 if a site block was present */
	int site_line;		/* its line, 0 if absent */
	/* users = ( { login; name; role; sites; line_manager; } ... ): staff
	 * accounts for policy.h, validated with vg_policy_validate_users().
	 * An absent or empty list loads only when no camera is enabled.
	 * Every string is owned by the config. */
	struct vg_user *users;	/* NULL when n_users == 0 */
	int *user_lines;	/* line of each user's block */
	int n_users;
	int users_line;		/* line of "users", 0 if absent */
	/* storage = { min_free = "5%" | "2G" | bytes; }: exactly one is
	 * non-zero; default min_free_percent = 5. */
	int64_t min_free_bytes;
	int min_free_percent;
	/* storage = { hold_review_days; held_warn_percent; }: a hold (clips
	 * kept past retention) must be reviewed every hold_review_days
	 * (1..365, default 30); the daemon warns when held clips use more
	 * than held_warn_percent of the storage (1..100, default 50). */
	int hold_review_days;
	int held_warn_percent;
};

/*
 * Parse and validate path. On success *out owns a new config and 0 is
 * returned. On failure -VG_ECONFIG (or -VG_ENOENT if the file is missing) is
 * returned, *out is NULL and errbuf receives every problem, one per line,
 * each "FILE:LINE: what is wrong; what is expected", sorted by line. A
 * libconfig syntax error stops parsing, so it is then the only error. If
 * errbuf is too small it keeps whole lines and ends with a line saying how
 * many more there were; errbuf may be NULL (errlen 0). Other returns:
 * -VG_EINVAL (NULL path or out), -VG_ENOMEM. Nothing is logged.
 */
int vg_config_load(const char *path, struct vg_config **out, char *errbuf, size_t errlen);

/* One error found by vg_config_read(): text says what is wrong and what to
 * write instead; line is 0 for the file as a whole. Valid for the call. */
typedef void (*vg_config_error_fn)(const char *file, int line, const char *text, void *ud);

/*
 * The same checks as vg_config_load(), each error passed to fn (may be
 * NULL) in file and line order. *out receives the config as far as it
 * could be read even when there were errors (settings in error keep their
 * defaults, a camera block in error may have NULL strings), so that the
 * checks that come after loading can still run and every problem is
 * reported in one pass; it is NULL only after a syntax error or when the
 * file cannot be read. Returns 0 (no errors), -VG_ECONFIG, -VG_ENOENT,
 * -VG_EINVAL or -VG_ENOMEM; free *out with vg_config_free() in every case.
 */
int vg_config_read(const char *path, struct vg_config **out, vg_config_error_fn fn, void *ud);

/* Free a config and every string and camera it owns; NULL is a no-op. */
void vg_config_free(struct vg_config *cfg);

/* Find a camera by name; NULL if none. The result points into cfg. */
const struct vg_camera_config *vg_config_camera(const struct vg_config *cfg, const char *name);

/* 1 if two camera configs would record identically (so SIGHUP can leave the
 * camera running), else 0. Compares name, enabled, the source, formats,
 * size, rate, every encoding and segmenting field, the masks, the overlay,
 * the audio fields (audio, device, review date) and a temporary camera's
 * remove_by: all change what is recorded, or until when. Ignores line
 * numbers and the paperwork (purpose, area, retention_*, signage_confirmed,
 * audio_justification and the other temporary fields). */
int vg_config_camera_equal(const struct vg_camera_config *a, const struct vg_camera_config *b);

/* Name of a format ("yuyv", "nv12", ...); "?" for a value out of range.
 * The string is static. */
const char *vg_cam_format_name(enum vg_cam_format f);

#endif
