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
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define VG_CONFIG_DEFAULT_PATH "/etc/vigil/vigil.conf"
/* Named in the "cannot open" message so an installer knows where to start. */
#define VG_CONFIG_EXAMPLE_PATH "/usr/share/doc/vigil/vigil.conf.example"
#define VG_MAX_CAMERAS 32
#define VG_CAMERA_NAME_MAX 32

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
	char *socket_path;	/* control socket; default /run/vigil/vigil.sock */
	int log_syslog;		/* log = "syslog" (default "stderr") */
	int log_level;		/* enum vg_log_level; default info */
	int status_interval;	/* seconds between status lines; default 60 */
	struct vg_camera_config *cameras;	/* NULL when n_cameras == 0 */
	int n_cameras;
	struct vg_site_config site;
	int has_site;		/* 1 if a site block was present */
	/* storage = { min_free = "5%" | "2G" | bytes; }: exactly one is
	 * non-zero; default min_free_percent = 5. */
	int64_t min_free_bytes;
	int min_free_percent;
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

/* Free a config and every string and camera it owns; NULL is a no-op. */
void vg_config_free(struct vg_config *cfg);

/* Find a camera by name; NULL if none. The result points into cfg. */
const struct vg_camera_config *vg_config_camera(const struct vg_config *cfg, const char *name);

/* 1 if two camera configs would record identically (so SIGHUP can leave the
 * camera running), else 0. Compares name, enabled, the source, formats,
 * size, rate and every encoding and segmenting field; ignores line and the
 * governance fields (purpose, area, retention_*, signage_confirmed). */
int vg_config_camera_equal(const struct vg_camera_config *a, const struct vg_camera_config *b);

/* Name of a format ("yuyv", "nv12", ...); "?" for a value out of range.
 * The string is static. */
const char *vg_cam_format_name(enum vg_cam_format f);

#endif
