/*
 * config.c - read vigil.conf with libconfig, then check every setting here
 * so that all problems come out together, each with its file, line and what
 * was expected: the people who fix this file are installers on site, and
 * one pass through the list must be enough.
 *
 * Work happens in three steps. libconfig parses the syntax (and stops at
 * the first syntax error, to which we add a hint in plain words). Each
 * setting is then checked on its own (type, range, spelling of the key).
 * Last, each camera's encoding settings are merged - camera block, else
 * the defaults block, else the built-in default - and the rules that tie
 * settings together (crf or bitrate, gop from fps, fragment within
 * segment) run on the merged values.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <libconfig.h>

#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/layout.h"
#define VG_LOG_MODULE "CFG"
#include "vigil/log.h"

#define DEF_DATA_DIR "/var/lib/vigil"
#define DEF_SOCKET "/run/vigil/vigil.sock"
#define DEF_STATUS_INTERVAL 60
#define DEF_TIMEZONE VG_CONFIG_DEFAULT_TIMEZONE
#define DEF_WIDTH 1280
#define DEF_HEIGHT 720
#define DEF_FPS 15
#define DEF_ENCODER "libx264"
#define DEF_PRESET "veryfast"
#define DEF_CRF 23
#define DEF_SEGMENT 60
#define DEF_FRAGMENT 1000
#define DEF_RETENTION 31
#define DEF_MIN_FREE_PERCENT 5
#define DEF_HOLD_REVIEW_DAYS 30
#define DEF_HELD_WARN_PERCENT 50
/* The longest path a Unix socket address holds (sun_path, NUL ended). */
#define SOCKET_PATH_MAX ((int)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* Retention up to this many days needs no written reason (house policy:
 * keep no more than the stated purpose needs). */
#define RETENTION_STANDARD 31

/* One problem found; sorted by file and line before output. */
struct problem {
	char *file;
	int line;
	int seq;
	char *text;
};

struct ctx {
	config_t lc;
	const char *path;
	struct problem *probs;
	int n_probs;
	int cap_probs;
	int oom;
	char *text;		/* the main file, for syntax hints and line fix-ups */
	const char *dir;	/* directory of path: @include names are relative to it */
	char *dir_owned;
	int lc_inited;
	/* Prefix for messages about the block being checked, e.g.
	 * "camera \"lift\": ", and where it is ("in camera \"lift\"",
	 * "at the top level") for messages that name it at the end. */
	char pfx[96];
	char where[96];
};

/* Encoding settings, allowed in a camera block and in defaults. */
enum ek {
	EK_FORMATS, EK_WIDTH, EK_HEIGHT, EK_FPS, EK_ENCODER, EK_PRESET, EK_CRF,
	EK_BITRATE, EK_GOP, EK_SEGMENT, EK_FRAGMENT, EK_N
};

struct enc {
	config_setting_t *st[EK_N];	/* present in this block */
	int bad[EK_N];			/* present but invalid (reported) */
	enum vg_cam_format formats[VG_FMT_COUNT];
	int n_formats;
	int width, height, fps_num, fps_den;
	const char *encoder, *preset;	/* point into the libconfig tree */
	int crf, bitrate, gop, segment, fragment;
};

static const char *const fmt_names[VG_FMT_COUNT + 1] = {
	"yuyv", "nv12", "yuv420", "mjpeg", "h264", NULL
};

static const char *const top_keys[] = {
	"data_dir", "key_file", "catalog", "socket", "log", "log_level",
	"status_interval", "site", "storage", "defaults", "cameras", "users", "user",
	"watchdog", "timezone", "signage_review_days", "metrics_file", "witness", NULL
};
static const char *const witness_keys[] = { "host", "name", "port", "ca", "cert", "key", NULL };
static const char *const enc_keys[] = {
	"formats", "width", "height", "fps", "encoder", "preset", "crf",
	"bitrate", "gop", "segment_seconds", "fragment_ms", NULL
};
/* Camera settings that are not encoding settings (not allowed in defaults). */
static const char *const cam_own_keys[] = {
	"name", "enabled", "device", "pixel_format", "realtime", "loop",
	"purpose", "area", "retention_days", "retention_justification",
	"signage_confirmed", "audio", "audio_device", "audio_justification",
	"audio_review_by", "temporary", "masks", "overlay", NULL
};
static const char *const cam_keys[] = {
	"name", "enabled", "device", "pixel_format", "realtime", "loop",
	"formats", "width", "height", "fps", "encoder", "preset", "crf",
	"bitrate", "gop", "segment_seconds", "fragment_ms",
	"purpose", "area", "retention_days", "retention_justification",
	"signage_confirmed", "audio", "audio_device", "audio_justification",
	"audio_review_by", "temporary", "masks", "overlay", NULL
};
static const char *const site_keys[] = {
	"name", "address", "area_manager", "contact", NULL
};
static const char *const storage_keys[] = {
	"min_free", "hold_review_days", "held_warn_percent", NULL
};
static const char *const temp_keys[] = {
	"equipment", "reason", "case_reference", "installed", "remove_by", NULL
};
static const char *const mask_keys[] = { "rect", "polygon", NULL };
static const char *const overlay_keys[] = { "enabled", "position", "size", NULL };
/* Same order as enum vg_overlay_pos. */
static const char *const overlay_positions[] = {
	"top-left", "top-right", "bottom-left", "bottom-right", NULL
};
static const char *const user_keys[] = {
	"login", "name", "role", "sites", "line_manager", NULL
};

static const char *const log_names[] = { "stderr", "syslog", NULL };
/* Same order as enum vg_log_level. */
static const char *const level_names[] = { "error", "warn", "info", "debug", NULL };
static const char *const x264_presets[] = {
	"ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
	"slow", "slower", "veryslow", "placebo", NULL
};
/* Raw layouts the file source can read (source_file.c). */
static const char *const file_pix_fmts[] = { "yuyv422", "nv12", "yuv420p", "h264", NULL };

/* ------------------------------------------------------------------ */
/* Problems */

static char *xstrdup(struct ctx *c, const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		c->oom = 1;
	return d;
}

static void add_problem(struct ctx *c, const char *file, int line, const char *text)
{
	struct problem *p;

	if (c->n_probs == c->cap_probs) {
		int ncap = c->cap_probs ? c->cap_probs * 2 : 16;
		struct problem *np = realloc(c->probs, (size_t)ncap * sizeof(*np));

		if (np == NULL) {
			c->oom = 1;
			return;
		}
		c->probs = np;
		c->cap_probs = ncap;
	}
	p = &c->probs[c->n_probs];
	if (file == NULL)
		file = c->path;
	if (file != c->path && file[0] != '/' && c->dir != NULL && strcmp(file, c->path) != 0) {
		/* an @include name: show where it really is */
		size_t len = strlen(c->dir) + strlen(file) + 2;

		p->file = malloc(len);
		if (p->file != NULL)
			snprintf(p->file, len, "%s/%s", c->dir, file);
		else
			c->oom = 1;
	} else {
		p->file = xstrdup(c, file);
	}
	p->text = xstrdup(c, text);
	if (p->file == NULL || p->text == NULL) {
		free(p->file);
		free(p->text);
		return;
	}
	p->line = line;
	p->seq = c->n_probs;
	c->n_probs++;
}

static const char *setting_file(struct ctx *c, const config_setting_t *s)
{
	const char *f = s ? config_setting_source_file(s) : NULL;

	return f ? f : c->path;
}

static int setting_line(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

static void verr(struct ctx *c, const char *file, int line, int with_pfx, const char *fmt,
		 va_list ap)
{
	char text[1024];
	int n = 0;

	if (with_pfx)
		n = snprintf(text, sizeof(text), "%s", c->pfx);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = 0;
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	add_problem(c, file, line, text);
}

/* A problem at setting s, prefixed with the block being checked. */
static void err_at(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_at(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c, setting_file(c, s), setting_line(s), 1, fmt, ap);
	va_end(ap);
}

/* The same at a line worked out by the caller, in s's file. */
static void err_line(struct ctx *c, const config_setting_t *s, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void err_line(struct ctx *c, const config_setting_t *s, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c, setting_file(c, s), line, 1, fmt, ap);
	va_end(ap);
}

/* The same without the block prefix (the message names the block itself). */
static void err_raw(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_raw(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c, setting_file(c, s), setting_line(s), 0, fmt, ap);
	va_end(ap);
}

static int cmp_problem(const void *a, const void *b)
{
	const struct problem *pa = a, *pb = b;
	int r = strcmp(pa->file, pb->file);

	if (r != 0)
		return r;
	if (pa->line != pb->line)
		return pa->line < pb->line ? -1 : 1;
	return pa->seq < pb->seq ? -1 : (pa->seq > pb->seq);
}

/* Copy the sorted problems into errbuf, whole lines only. */
static void emit_problems(struct ctx *c, char *errbuf, size_t errlen)
{
	size_t used = 0;
	int i;

	if (errbuf == NULL || errlen == 0)
		return;
	errbuf[0] = '\0';
	for (i = 0; i < c->n_probs; i++) {
		char line[1200], at[16] = "";
		/* room kept for the "more problems" line unless this is the last */
		size_t reserve = i + 1 < c->n_probs ? 48 : 0;
		int n;

		if (c->probs[i].line > 0)
			snprintf(at, sizeof(at), ":%d", c->probs[i].line);
		n = snprintf(line, sizeof(line), "%s%s: %s\n", c->probs[i].file, at,
			     c->probs[i].text);

		if (n < 0)
			continue;
		if (used + (size_t)n + reserve >= errlen)
			break;
		memcpy(errbuf + used, line, (size_t)n + 1);
		used += (size_t)n;
	}
	if (i < c->n_probs)
		snprintf(errbuf + used, errlen - used, "(%d more problems not shown)\n",
			 c->n_probs - i);
}

/* ------------------------------------------------------------------ */
/* Small helpers */

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "a whole number";
	case CONFIG_TYPE_FLOAT:
		return "a decimal number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "true/false";
	case CONFIG_TYPE_GROUP:
		return "a block { ... }";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	default:
		return "an unknown kind of value";
	}
}

static int in_list(const char *s, const char *const *list)
{
	int i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(s, list[i]) == 0)
			return i;
	return -1;
}

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* Edit distance (optimal string alignment: a swap of two neighbours costs
 * one, so "fsp" is one step from "fps"); case-insensitive. */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int d[34][34];

	if (la > 32 || lb > 32)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			int cost = lower(a[i - 1]) != lower(b[j - 1]);
			int v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The known word closest to s, or NULL if none is close enough to be a
 * likely typo. */
static const char *suggest(const char *s, const char *const *known)
{
	const char *best = NULL;
	int best_d = 99, i;
	size_t ls = strlen(s);
	int limit = ls >= 6 ? 2 : 1;

	for (i = 0; known[i] != NULL; i++) {
		int dist = edit_distance(s, known[i]);
		size_t lk = strlen(known[i]);

		/* "segment" for "segment_seconds": a cut-short name */
		if (dist > limit && ls >= 4 && lk > ls && strncmp(s, known[i], ls) == 0)
			dist = limit;
		if (dist <= limit && dist < best_d) {
			best = known[i];
			best_d = dist;
		}
	}
	return best;
}

/* "a", "b", "c" into buf, for "expected one of" messages. */
static const char *join(char *buf, size_t len, const char *const *list, int quote)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; list[i] != NULL && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s%s%s", i ? ", " : "",
				 quote ? "\"" : "", list[i], quote ? "\"" : "");

		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

/* ------------------------------------------------------------------ */
/* Typed getters: 1 present and valid (stored), 0 absent, -1 invalid
 * (already reported). */

static int get_string(struct ctx *c, const config_setting_t *g, const char *key,
		      const char *example, const char **out, config_setting_t **st)
{
	config_setting_t *s = config_setting_get_member(g, key);

	if (st != NULL)
		*st = s;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(c, s, "%s must be a string in double quotes like \"%s\", not %s",
		       key, example, type_name(s));
		return -1;
	}
	*out = config_setting_get_string(s);
	if ((*out)[0] == '\0') {
		err_at(c, s, "%s is empty; write a value like \"%s\", or remove the line",
		       key, example);
		return -1;
	}
	/* "   " says nothing, and a required setting is there to say something */
	if ((*out)[strspn(*out, " \t\r\n")] == '\0') {
		err_at(c, s, "%s is only spaces; write a value like \"%s\", or remove the line",
		       key, example);
		return -1;
	}
	return 1;
}

/* A string that must be one of list; *idx is its index. */
static int get_choice(struct ctx *c, const config_setting_t *g, const char *key,
		      const char *const *list, int *idx, config_setting_t **st)
{
	const char *v = NULL;
	const char *close;
	char all[256];
	config_setting_t *s = NULL;
	int r = get_string(c, g, key, list[0], &v, &s);

	if (st != NULL)
		*st = s;
	if (r <= 0)
		return r;
	*idx = in_list(v, list);
	if (*idx >= 0)
		return 1;
	close = suggest(v, list);
	join(all, sizeof(all), list, 1);
	if (close != NULL)
		err_at(c, s, "%s \"%s\" is not known; did you mean \"%s\"? (expected one of %s)",
		       key, v, close, all);
	else
		err_at(c, s, "%s \"%s\" is not known; expected one of %s", key, v, all);
	return -1;
}

static int get_int(struct ctx *c, const config_setting_t *g, const char *key,
		   long long lo, long long hi, long long example, const char *unit,
		   long long *out, config_setting_t **st)
{
	config_setting_t *s = config_setting_get_member(g, key);
	long long v;

	if (st != NULL)
		*st = s;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		err_at(c, s, "%s must be a whole number like %lld, not %s%s", key, example,
		       type_name(s),
		       config_setting_type(s) == CONFIG_TYPE_STRING ?
		       " (write numbers without quotes)" : "");
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < lo || v > hi) {
		err_at(c, s, "%s must be between %lld and %lld%s%s (got %lld)", key, lo, hi,
		       unit[0] ? " " : "", unit, v);
		return -1;
	}
	*out = v;
	return 1;
}

static int get_bool(struct ctx *c, const config_setting_t *g, const char *key, int *out)
{
	config_setting_t *s = config_setting_get_member(g, key);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		const char *v = config_setting_type(s) == CONFIG_TYPE_STRING ?
				config_setting_get_string(s) : NULL;
		int quoted = v && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0);

		err_at(c, s, "%s must be true or false, not %s%s", key, type_name(s),
		       quoted ? " (write true or false without quotes)" : "");
		return -1;
	}
	*out = config_setting_get_bool(s) ? 1 : 0;
	return 1;
}

/* A block { ... } if present; reports anything else. */
static config_setting_t *get_group(struct ctx *c, const config_setting_t *g, const char *key,
				   const char *example)
{
	config_setting_t *s = config_setting_get_member(g, key);

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		err_at(c, s, "%s must be a block like %s = { %s }, not %s", key, key, example,
		       type_name(s));
		return NULL;
	}
	return s;
}

/* Every setting in g must be one of known. Settings listed in misplaced
 * belong elsewhere and get hint instead of a spelling suggestion. */
static void check_keys(struct ctx *c, const config_setting_t *g, const char *const *known,
		       const char *const *misplaced, const char *hint)
{
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(s);
		const char *close;
		char all[512];

		if (name == NULL || in_list(name, known) >= 0)
			continue;
		if (misplaced != NULL && in_list(name, misplaced) >= 0) {
			err_raw(c, s, "'%s' cannot be set %s; %s", name, c->where, hint);
			continue;
		}
		close = suggest(name, known);
		if (close != NULL)
			err_raw(c, s, "unknown setting '%s' %s; did you mean '%s'?", name,
				c->where, close);
		else
			err_raw(c, s, "unknown setting '%s' %s; expected one of: %s", name,
				c->where, join(all, sizeof(all), known, 0));
	}
}

static void set_block(struct ctx *c, const char *where, const char *pfx)
{
	snprintf(c->where, sizeof(c->where), "%s", where);
	snprintf(c->pfx, sizeof(c->pfx), "%s", pfx);
}

/* ------------------------------------------------------------------ */
/* Value checks */

/* fps as a fraction: 15 -> 15/1, 7.5 -> 15/2, 29.97 -> 30000/1001 (the
 * NTSC rates are what a "29.97" camera really delivers). -1 if f needs
 * more than three decimals. */
static int fps_fraction(double f, int *num, int *den)
{
	long k;
	int d;

	if (fabs(f - round(f)) < 1e-9) {
		*num = (int)lround(f);
		*den = 1;
		return 0;
	}
	k = lround(f * 1.001);
	if (fabs(f - (double)k * 1000.0 / 1001.0) < 0.001) {
		*num = (int)(k * 1000);
		*den = 1001;
		return 0;
	}
	for (d = 2; d <= 1000; d++) {
		long n = lround(f * d);

		if (fabs((double)n / d - f) < 1e-9) {
			*num = (int)n;
			*den = d;
			return 0;
		}
	}
	return -1;
}

static void check_fps(struct ctx *c, config_setting_t *s, struct enc *e)
{
	double f;

	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64) {
		f = (double)config_setting_get_int64(s);
	} else if (config_setting_type(s) == CONFIG_TYPE_FLOAT) {
		f = config_setting_get_float(s);
	} else {
		err_at(c, s, "fps must be a number like 15, not %s%s", type_name(s),
		       config_setting_type(s) == CONFIG_TYPE_STRING ?
		       " (write numbers without quotes)" : "");
		e->bad[EK_FPS] = 1;
		return;
	}
	if (!(f >= 1.0 && f <= 120.0)) {
		err_at(c, s, "fps must be between 1 and 120 frames per second (got %g)", f);
		e->bad[EK_FPS] = 1;
		return;
	}
	if (fps_fraction(f, &e->fps_num, &e->fps_den) < 0) {
		err_at(c, s, "fps %g has too many decimals; use at most three, like 7.5 or 29.97",
		       f);
		e->bad[EK_FPS] = 1;
	}
}

static int file_line(const struct ctx *c, int n, char *buf, size_t len);

/* libconfig stamps an array element with the line of the token after it,
 * so the last element of a list closed on a later line gets the line of
 * the bracket. Look back (not past the list's own line) for the line that
 * really holds "v". */
static int elem_line(const struct ctx *c, const config_setting_t *list,
		     const config_setting_t *el, const char *v)
{
	const char *f = config_setting_source_file(el);
	char buf[512], want[128];
	int line = setting_line(el), i;

	if (f != NULL && strcmp(f, c->path) != 0)
		return line;
	snprintf(want, sizeof(want), "\"%s\"", v);
	for (i = line; i >= setting_line(list) && i > 0; i--)
		if (file_line(c, i, buf, sizeof(buf)) && strstr(buf, want) != NULL)
			return i;
	return line;
}

/* "yuyvnv12" comes from a missing comma: libconfig joins adjacent strings. */
static int two_formats_joined(const char *v)
{
	int i;

	for (i = 0; i < VG_FMT_COUNT; i++) {
		size_t l = strlen(fmt_names[i]);

		if (strncmp(v, fmt_names[i], l) == 0 && v[l] != '\0' &&
		    (in_list(v + l, fmt_names) >= 0 || two_formats_joined(v + l)))
			return 1;
	}
	return 0;
}

static void check_formats(struct ctx *c, config_setting_t *s, struct enc *e)
{
	char all[128];
	int i, n, seen[VG_FMT_COUNT] = { 0 };

	join(all, sizeof(all), fmt_names, 1);
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		err_at(c, s, "formats must be a list like [\"yuyv\", \"mjpeg\"], not %s",
		       type_name(s));
		e->bad[EK_FORMATS] = 1;
		return;
	}
	n = config_setting_length(s);
	if (n == 0) {
		err_at(c, s, "formats is empty; name at least one of %s, or remove the line",
		       all);
		e->bad[EK_FORMATS] = 1;
		return;
	}
	e->n_formats = 0;
	for (i = 0; i < n; i++) {
		config_setting_t *el = config_setting_get_elem(s, (unsigned int)i);
		const char *v, *close;
		int f, line;

		if (config_setting_type(el) != CONFIG_TYPE_STRING) {
			err_at(c, el, "formats must list strings like \"yuyv\", not %s",
			       type_name(el));
			e->bad[EK_FORMATS] = 1;
			continue;
		}
		v = config_setting_get_string(el);
		line = elem_line(c, s, el, v);
		f = in_list(v, fmt_names);
		if (f < 0) {
			const char *why = "expected one of";

			close = suggest(v, fmt_names);
			if (two_formats_joined(v))
				err_line(c, el, line, "unknown format \"%s\" in formats; a comma "
					 "is missing between two names (write [\"yuyv\", "
					 "\"nv12\"])", v);
			else if (close != NULL)
				err_line(c, el, line, "unknown format \"%s\" in formats; did you "
					 "mean \"%s\"? (%s %s)", v, close, why, all);
			else
				err_line(c, el, line, "unknown format \"%s\" in formats; %s %s",
					 v, why, all);
			e->bad[EK_FORMATS] = 1;
			continue;
		}
		if (seen[f]) {
			err_line(c, el, line, "format \"%s\" is listed twice in formats; list each "
				 "format once, in order of preference", v);
			e->bad[EK_FORMATS] = 1;
			continue;
		}
		seen[f] = 1;
		e->formats[e->n_formats++] = (enum vg_cam_format)f;
	}
}

/* One encoding block (a camera's or defaults), each setting on its own. */
static void parse_enc(struct ctx *c, const config_setting_t *g, struct enc *e)
{
	long long v;
	int r, idx;

	memset(e, 0, sizeof(*e));
	e->st[EK_FORMATS] = config_setting_get_member(g, "formats");
	if (e->st[EK_FORMATS] != NULL)
		check_formats(c, e->st[EK_FORMATS], e);

	r = get_int(c, g, "width", 160, 3840, 1280, "pixels", &v, &e->st[EK_WIDTH]);
	if (r > 0 && v % 2 != 0) {
		err_at(c, e->st[EK_WIDTH], "width must be an even number (got %lld); try %lld",
		       v, v + 1 <= 3840 ? v + 1 : v - 1);
		r = -1;
	}
	e->bad[EK_WIDTH] = r < 0;
	e->width = (int)v;

	r = get_int(c, g, "height", 120, 2160, 720, "pixels", &v, &e->st[EK_HEIGHT]);
	if (r > 0 && v % 2 != 0) {
		err_at(c, e->st[EK_HEIGHT], "height must be an even number (got %lld); try %lld",
		       v, v + 1 <= 2160 ? v + 1 : v - 1);
		r = -1;
	}
	e->bad[EK_HEIGHT] = r < 0;
	e->height = (int)v;

	e->st[EK_FPS] = config_setting_get_member(g, "fps");
	if (e->st[EK_FPS] != NULL)
		check_fps(c, e->st[EK_FPS], e);

	r = get_string(c, g, "encoder", DEF_ENCODER, &e->encoder, &e->st[EK_ENCODER]);
	e->bad[EK_ENCODER] = r < 0;

	r = get_choice(c, g, "preset", x264_presets, &idx, &e->st[EK_PRESET]);
	e->bad[EK_PRESET] = r < 0;
	if (r > 0)
		e->preset = x264_presets[idx];

	r = get_int(c, g, "crf", 0, 51, 23, "", &v, &e->st[EK_CRF]);
	e->bad[EK_CRF] = r < 0;
	e->crf = (int)v;

	r = get_int(c, g, "bitrate", 0, 100000, 2000, "kbit/s", &v, &e->st[EK_BITRATE]);
	e->bad[EK_BITRATE] = r < 0;
	e->bitrate = (int)v;

	r = get_int(c, g, "gop", 1, 600, 30, "frames", &v, &e->st[EK_GOP]);
	e->bad[EK_GOP] = r < 0;
	e->gop = (int)v;

	r = get_int(c, g, "segment_seconds", 10, 3600, 60, "seconds", &v, &e->st[EK_SEGMENT]);
	e->bad[EK_SEGMENT] = r < 0;
	e->segment = (int)v;

	r = get_int(c, g, "fragment_ms", 100, 10000, 1000, "milliseconds", &v,
		    &e->st[EK_FRAGMENT]);
	e->bad[EK_FRAGMENT] = r < 0;
	e->fragment = (int)v;

	/* Two ways to control the bit rate in one block: which was meant? */
	if (e->st[EK_CRF] && e->st[EK_BITRATE] && !e->bad[EK_CRF] && !e->bad[EK_BITRATE] &&
	    e->bitrate > 0) {
		err_at(c, e->st[EK_BITRATE], "both crf (line %d) and bitrate are set; pick one: "
		       "crf for constant quality, or bitrate for a fixed rate in kbit/s",
		       setting_line(e->st[EK_CRF]));
		e->bad[EK_CRF] = e->bad[EK_BITRATE] = 1;
	}
}

/* Which block a merged value comes from: own, defaults, or NULL (built-in).
 * *bad is set if the chosen value was invalid. */
static const struct enc *pick(const struct enc *own, const struct enc *def, int k, int *bad)
{
	const struct enc *e = own->st[k] ? own : def && def->st[k] ? def : NULL;

	if (e != NULL && e->bad[k])
		*bad = 1;
	return e;
}

static void merge_enc(struct ctx *c, const struct enc *own, const struct enc *def,
		      struct vg_camera_config *cam)
{
	const struct enc *e, *rc;
	int bad = 0, i;

	e = pick(own, def, EK_FORMATS, &bad);
	if (e != NULL && !e->bad[EK_FORMATS]) {
		for (i = 0; i < e->n_formats; i++)
			cam->formats[i] = e->formats[i];
		cam->n_formats = e->n_formats;
	} else {
		for (i = 0; i < VG_FMT_COUNT; i++)
			cam->formats[i] = (enum vg_cam_format)i;
		cam->n_formats = VG_FMT_COUNT;
	}
	e = pick(own, def, EK_WIDTH, &bad);
	cam->width = e && !e->bad[EK_WIDTH] ? e->width : DEF_WIDTH;
	e = pick(own, def, EK_HEIGHT, &bad);
	cam->height = e && !e->bad[EK_HEIGHT] ? e->height : DEF_HEIGHT;
	e = pick(own, def, EK_FPS, &bad);
	if (e && !e->bad[EK_FPS]) {
		cam->fps_num = e->fps_num;
		cam->fps_den = e->fps_den;
	} else {
		cam->fps_num = DEF_FPS;
		cam->fps_den = 1;
	}
	e = pick(own, def, EK_ENCODER, &bad);
	cam->encoder = xstrdup(c, e && !e->bad[EK_ENCODER] ? e->encoder : DEF_ENCODER);
	e = pick(own, def, EK_PRESET, &bad);
	cam->preset = xstrdup(c, e && !e->bad[EK_PRESET] ? e->preset : DEF_PRESET);

	/* crf and bitrate are one choice: a camera that sets either one
	 * overrides whatever the defaults block chose. */
	rc = own->st[EK_CRF] || own->st[EK_BITRATE] ? own : def;
	cam->bitrate_kbps = 0;
	cam->crf = DEF_CRF;
	if (rc != NULL && rc->st[EK_BITRATE] && !rc->bad[EK_BITRATE] && rc->bitrate > 0) {
		cam->bitrate_kbps = rc->bitrate;
		cam->crf = 0;
	} else if (rc != NULL && rc->st[EK_CRF] && !rc->bad[EK_CRF]) {
		cam->crf = rc->crf;
	}

	e = pick(own, def, EK_GOP, &bad);
	if (e && !e->bad[EK_GOP]) {
		cam->gop = e->gop;
	} else {
		/* two seconds of frames */
		cam->gop = (int)lround(2.0 * cam->fps_num / cam->fps_den);
		if (cam->gop > 600)
			cam->gop = 600;
	}
	/* Only these two feed the cross-check below. */
	bad = 0;
	e = pick(own, def, EK_SEGMENT, &bad);
	cam->segment_seconds = e && !e->bad[EK_SEGMENT] ? e->segment : DEF_SEGMENT;
	rc = pick(own, def, EK_FRAGMENT, &bad);
	cam->fragment_ms = rc && !rc->bad[EK_FRAGMENT] ? rc->fragment : DEF_FRAGMENT;

	/* Cannot trigger with today's ranges (fragment <= 10 s <= segment),
	 * kept so that widening a range cannot let it through. */
	if (!bad && (long long)cam->fragment_ms > (long long)cam->segment_seconds * 1000) {
		const config_setting_t *at = rc ? rc->st[EK_FRAGMENT] :
					     e ? e->st[EK_SEGMENT] : NULL;

		err_at(c, at, "fragment_ms (%d) is longer than the clip (segment_seconds = %d); "
		       "fragment_ms must be at most segment_seconds x 1000",
		       cam->fragment_ms, cam->segment_seconds);
	}
}

static int valid_name(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_'))
			return 0;
	return 1;
}

static int valid_date(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int i, y, m, d, max;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !(s[i] >= '0' && s[i] <= '9'))
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return 0;
	max = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	return d <= max;
}

/* The device string: kind, and the path the source opens. */
static int check_device(struct ctx *c, config_setting_t *s, struct vg_camera_config *cam)
{
	const char *v;
	static const char expect[] = "expected \"/dev/video0\" (or another /dev/... path), "
				     "\"file:PATH\" or \"synthetic\"";

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(c, s, "device must be a string like \"/dev/video0\", not %s", type_name(s));
		return -1;
	}
	v = config_setting_get_string(s);
	if (strcmp(v, "synthetic") == 0) {
		cam->kind = VG_SOURCE_SYNTHETIC;
		cam->device = xstrdup(c, v);
		return 0;
	}
	if (strncmp(v, "file:", 5) == 0) {
		if (v[5] == '\0') {
			err_at(c, s, "device \"file:\" names no file; write the path after file:, "
			       "like \"file:/var/lib/vigil/test.yuv\"");
			return -1;
		}
		cam->kind = VG_SOURCE_FILE;
		cam->device = xstrdup(c, v + 5);
		return 0;
	}
	if (v[0] == '\0') {
		err_at(c, s, "device is empty; %s", expect);
		return -1;
	}
	if (v[0] != '/') {
		err_at(c, s, "device \"%s\" is a relative path; write the full path starting "
		       "with /dev/ (like \"/dev/%s\"), or %s", v, v, "use \"synthetic\" or "
		       "\"file:PATH\"");
		return -1;
	}
	if (strncmp(v, "/dev/", 5) != 0 || v[5] == '\0') {
		err_at(c, s, "device \"%s\" is not a camera device under /dev/; %s", v, expect);
		return -1;
	}
	cam->kind = VG_SOURCE_V4L2;
	cam->device = xstrdup(c, v);
	return 0;
}

/* A required date string; 1 stored in *out, 0 absent (reported), -1 bad. */
static int get_date(struct ctx *c, const config_setting_t *g, const char *key, int required,
		    const char *what, char **out, config_setting_t **st)
{
	const char *v = NULL;
	config_setting_t *s = NULL;
	int r = get_string(c, g, key, "2025-03-01", &v, &s);

	if (st != NULL)
		*st = s;
	if (r == 0 && required)
		err_at(c, g, "%s is missing; add %s = \"YYYY-MM-DD\"; (%s)", key, key, what);
	if (r <= 0)
		return r;
	if (!valid_date(v)) {
		err_at(c, s, "%s \"%s\" is not a real date; expected YYYY-MM-DD, like "
		       "\"2025-03-01\"", key, v);
		return -1;
	}
	*out = xstrdup(c, v);
	return 1;
}

/* Sound: off unless audio = true, which needs a reason and a review date
 * (policy 3.11 and 3.13: sound is more intrusive than pictures). */
static void parse_audio(struct ctx *c, config_setting_t *g, struct vg_camera_config *cam)
{
	config_setting_t *s = config_setting_get_member(g, "audio"), *dev_st = NULL;
	const char *v;
	int r;

	cam->audio_line = s != NULL ? setting_line(s) : 0;
	get_bool(c, g, "audio", &cam->audio);
	if (get_string(c, g, "audio_device", "alsa:default", &v, &dev_st) > 0) {
		/* audio.c takes these two forms; anything else would only fail
		 * once the camera records, and cost its sound */
		if (strcmp(v, "synthetic") != 0 && (strncmp(v, "alsa:", 5) != 0 || v[5] == '\0'))
			err_at(c, dev_st, "audio_device \"%s\" is not known; write \"alsa:NAME\" for "
			       "an ALSA device, like \"alsa:default\" or \"alsa:hw:1\" (see "
			       "arecord -L), or \"synthetic\" for a test tone", v);
		else
			cam->audio_device = xstrdup(c, v);
	}
	r = get_string(c, g, "audio_justification", "safety of a vulnerable resident, case 123",
		       &v, NULL);
	if (r > 0)
		cam->audio_justification = xstrdup(c, v);
	if (cam->audio && r == 0)
		err_at(c, s, "audio = true but audio_justification is missing; recording sound is "
		       "more intrusive than pictures (policy 3.11, 3.13): add "
		       "audio_justification = \"...\"; saying why it is needed, or set "
		       "audio = false");
	r = get_date(c, g, "audio_review_by", 0, "", &cam->audio_review_by, NULL);
	if (cam->audio && r == 0)
		err_at(c, s, "audio = true but audio_review_by is missing; add audio_review_by = "
		       "\"YYYY-MM-DD\"; the date by which the need for sound is reviewed "
		       "(sound capture stops after it)");
}

static void parse_temporary(struct ctx *c, config_setting_t *g, struct vg_camera_config *cam)
{
	static const char *const ex[] = {
		"Covert kit 3, HD dome", "ASB reports at flat 12", "ASB-2025-0042"
	};
	struct vg_temporary_config *t = &cam->temporary;
	char **fields[] = { &t->equipment, &t->reason, &t->case_reference };
	config_setting_t *tg = get_group(c, g, "temporary",
					 "equipment = \"...\"; reason = \"...\"; ...");
	config_setting_t *rb = NULL;
	const char *v;
	char save_where[96];
	int i, ri, rr;

	if (tg == NULL)
		return;
	cam->is_temporary = 1;
	t->line = setting_line(tg);
	snprintf(save_where, sizeof(save_where), "%s", c->where);
	snprintf(c->where, sizeof(c->where), "in temporary");
	check_keys(c, tg, temp_keys, NULL, NULL);
	snprintf(c->where, sizeof(c->where), "%s", save_where);
	for (i = 0; i < 3; i++) {
		int r = get_string(c, tg, temp_keys[i], ex[i], &v, NULL);

		if (r > 0)
			*fields[i] = xstrdup(c, v);
		else if (r == 0)
			err_at(c, tg, "temporary: %s is missing; a temporary camera must record "
			       "the equipment, the reason, the case reference, when it was "
			       "installed and when it must be removed (policy 3.4, 4.2)",
			       temp_keys[i]);
	}
	/* The case the camera was put up for, written as staff write it to
	 * vigilctl, so the footage and the case can be found from each other. */
	if (t->case_reference != NULL) {
		const char *kind = vg_policy_reference_kind(t->case_reference);

		if (kind == NULL || (strcmp(kind, "ASB") != 0 && strcmp(kind, "CRIME") != 0 &&
				     strcmp(kind, "CASE") != 0))
			err_at(c, config_setting_get_member(tg, "case_reference"),
			       "temporary: case_reference \"%s\" is not a case reference; write "
			       "ASB-, CRIME- or CASE- and the case number, like \"ASB-2025-0042\"",
			       t->case_reference);
	}
	ri = get_date(c, tg, "installed", 1, "the day the camera was put up",
		      &t->installed, NULL);
	rr = get_date(c, tg, "remove_by", 1, "the day by which it must be taken down",
		      &t->remove_by, &rb);
	if (ri > 0 && rr > 0 && strcmp(t->remove_by, t->installed) <= 0)
		err_at(c, rb, "temporary: remove_by \"%s\" is not after installed \"%s\"; "
		       "remove_by must be a later date", t->remove_by, t->installed);
}

/* Twice the signed area of a relative polygon. */
static double poly_area2(const double *xy, int n)
{
	double a = 0;
	int i;

	for (i = 0; i < n; i++) {
		int j = (i + 1) % n;

		a += xy[2 * i] * xy[2 * j + 1] - xy[2 * j] * xy[2 * i + 1];
	}
	return a;
}

/* One mask block: rect or polygon, all pixels or all relative. */
static void parse_mask(struct ctx *c, config_setting_t *mg, int idx,
		       struct vg_camera_config *cam, struct vg_mask *m)
{
	config_setting_t *r = config_setting_get_member(mg, "rect");
	config_setting_t *p = config_setting_get_member(mg, "polygon");
	config_setting_t *a = r != NULL ? r : p;
	double v[64];
	int n, i, is_float = -1;
	const char *key = r != NULL ? "rect" : "polygon";

	m->line = setting_line(mg);
	if ((r == NULL) == (p == NULL)) {
		err_at(c, mg, "mask #%d must have exactly one of rect = [x, y, w, h]; or "
		       "polygon = [x1, y1, x2, y2, x3, y3, ...];", idx + 1);
		return;
	}
	if (config_setting_type(a) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(a) != CONFIG_TYPE_LIST) {
		err_at(c, a, "mask #%d: %s must be an array of numbers like [0, 0, 200, 100], "
		       "not %s", idx + 1, key, type_name(a));
		return;
	}
	n = config_setting_length(a);
	for (i = 0; i < n && i < 64; i++) {
		config_setting_t *el = config_setting_get_elem(a, (unsigned int)i);
		int t = config_setting_type(el);
		int f = t == CONFIG_TYPE_FLOAT;

		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64 && !f) {
			err_at(c, a, "mask #%d: %s must hold numbers, not %s", idx + 1, key,
			       type_name(el));
			return;
		}
		if (is_float >= 0 && f != is_float) {
			err_at(c, a, "mask #%d: %s mixes whole numbers (pixels) and decimals "
			       "(fractions of the picture); write all values one way", idx + 1,
			       key);
			return;
		}
		is_float = f;
		v[i] = f ? config_setting_get_float(el) : (double)config_setting_get_int64(el);
	}
	if (r != NULL && n != 4) {
		err_at(c, a, "mask #%d: rect needs 4 values [x, y, width, height] (got %d)",
		       idx + 1, n);
		return;
	}
	if (p != NULL && (n % 2 != 0 || n < 6 || n > 64)) {
		err_at(c, a, "mask #%d: polygon needs pairs of x, y values for 3 to 32 points "
		       "(got %d values)", idx + 1, n);
		return;
	}
	/* To relative coordinates. */
	if (!is_float) {
		for (i = 0; i < n; i++)
			v[i] /= (i % 2 == 0) ? cam->width : cam->height;
	}
	if (r != NULL) {
		double x = v[0], y = v[1], w = v[2], h = v[3];

		if (!(w > 0) || !(h > 0)) {
			err_at(c, a, "mask #%d: rect width and height must be more than 0", idx + 1);
			return;
		}
		if (x < 0 || y < 0 || x + w > 1.0 + 1e-9 || y + h > 1.0 + 1e-9) {
			if (is_float)
				err_at(c, a, "mask #%d: rect goes outside the picture; fractions "
				       "must keep x + w and y + h within 0.0 to 1.0", idx + 1);
			else
				err_at(c, a, "mask #%d: rect goes outside the %dx%d picture; keep "
				       "x + w <= %d and y + h <= %d", idx + 1, cam->width,
				       cam->height, cam->width, cam->height);
			return;
		}
		/* the four corners, clockwise from the top left */
		v[2] = x + w;
		v[3] = y;
		v[4] = x + w;
		v[5] = y + h;
		v[6] = x;
		v[7] = y + h;
		n = 8;
	} else {
		for (i = 0; i < n; i++) {
			if (v[i] < -1e-9 || v[i] > 1.0 + 1e-9) {
				if (is_float)
					err_at(c, a, "mask #%d: polygon point %d is outside the "
					       "picture; fractions must be 0.0 to 1.0", idx + 1,
					       i / 2 + 1);
				else
					err_at(c, a, "mask #%d: polygon point %d is outside the "
					       "%dx%d picture", idx + 1, i / 2 + 1, cam->width,
					       cam->height);
				return;
			}
		}
		if (fabs(poly_area2(v, n / 2)) < 1e-12) {
			err_at(c, a, "mask #%d: polygon covers no area (its points are in a line)",
			       idx + 1);
			return;
		}
	}
	m->xy = malloc((size_t)n * sizeof(double));
	if (m->xy == NULL) {
		c->oom = 1;
		return;
	}
	for (i = 0; i < n; i++)
		m->xy[i] = v[i] < 0 ? 0 : v[i] > 1 ? 1 : v[i];
	m->n_points = n / 2;
	m->from_rect = r != NULL;
}

static void parse_masks(struct ctx *c, config_setting_t *g, struct vg_camera_config *cam)
{
	config_setting_t *l = config_setting_get_member(g, "masks");
	char save_where[96];
	int i, n;

	if (l == NULL)
		return;
	cam->masks_line = setting_line(l);
	if (config_setting_type(l) != CONFIG_TYPE_LIST) {
		err_at(c, l, "masks must be a list like masks = ( { rect = [0, 0, 200, 100]; } );, "
		       "not %s", type_name(l));
		return;
	}
	n = config_setting_length(l);
	if (n == 0)
		return;
	cam->masks = calloc((size_t)n, sizeof(*cam->masks));
	if (cam->masks == NULL) {
		c->oom = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		config_setting_t *mg = config_setting_get_elem(l, (unsigned int)i);

		if (config_setting_type(mg) != CONFIG_TYPE_GROUP) {
			err_at(c, mg, "mask #%d must be a block like { rect = [0, 0, 200, 100]; }, "
			       "not %s", i + 1, type_name(mg));
			continue;
		}
		snprintf(save_where, sizeof(save_where), "%s", c->where);
		snprintf(c->where, sizeof(c->where), "in mask #%d", i + 1);
		check_keys(c, mg, mask_keys, NULL, NULL);
		snprintf(c->where, sizeof(c->where), "%s", save_where);
		parse_mask(c, mg, i, cam, &cam->masks[cam->n_masks]);
		if (cam->masks[cam->n_masks].xy != NULL)
			cam->n_masks++;
	}
}

static void parse_overlay(struct ctx *c, config_setting_t *g, struct vg_camera_config *cam)
{
	config_setting_t *og = get_group(c, g, "overlay", "enabled = true; "
					 "position = \"top-left\";");
	config_setting_t *size_st = NULL;
	struct vg_overlay_layout l;
	char save_where[96];
	long long n;
	int idx;

	cam->overlay_enabled = 1;
	cam->overlay_position = VG_OVERLAY_TOP_LEFT;
	cam->overlay_size = 0;
	if (og == NULL)
		return;
	snprintf(save_where, sizeof(save_where), "%s", c->where);
	snprintf(c->where, sizeof(c->where), "in overlay");
	check_keys(c, og, overlay_keys, NULL, NULL);
	snprintf(c->where, sizeof(c->where), "%s", save_where);
	get_bool(c, og, "enabled", &cam->overlay_enabled);
	if (get_choice(c, og, "position", overlay_positions, &idx, NULL) > 0)
		cam->overlay_position = (enum vg_overlay_pos)idx;
	if (get_int(c, og, "size", VG_OVERLAY_SIZE_MIN, VG_OVERLAY_SIZE_MAX, 24, "pixels", &n,
		    &size_st) > 0)
		cam->overlay_size = (int)n;
	/* The date, time and zone are evidence: a size at which they would
	 * run off the configured picture is refused, not cut. */
	if (cam->overlay_enabled && cam->overlay_size > 0 && cam->name != NULL &&
	    vg_overlay_fit(cam->overlay_size, cam->overlay_position, cam->name, cam->width,
			   cam->height, &l) < 0) {
		int max = vg_overlay_max_size(cam->overlay_position, cam->name, cam->width,
					      cam->height);

		err_at(c, size_st, "overlay size %d does not fit a %dx%d picture: the date, time, "
		       "zone and name would run off it; the largest size that fits is %d: write "
		       "size = %d; (or leave size out to fit the picture)", cam->overlay_size,
		       cam->width, cam->height, max, max);
	}
}

static void parse_camera(struct ctx *c, config_setting_t *g, int idx, const struct enc *def,
			 struct vg_camera_config *cam, config_setting_t **name_st)
{
	config_setting_t *s, *dev_st;
	const char *v = NULL;
	struct enc own;
	long long n;
	int r, dev_ok = 0, i;
	char where[96], pfx[96];

	cam->line = setting_line(g);
	cam->enabled = 1;
	cam->file_realtime = 1;
	cam->retention_days = DEF_RETENTION;

	/* The name first: every other message about this camera uses it. */
	snprintf(where, sizeof(where), "in camera #%d", idx + 1);
	snprintf(pfx, sizeof(pfx), "camera #%d: ", idx + 1);
	set_block(c, where, pfx);
	s = config_setting_get_member(g, "name");
	*name_st = NULL;
	if (s == NULL) {
		err_at(c, g, "name is missing; add a name like name = \"stairwell-1\"; "
		       "(lowercase letters, digits, - and _)");
	} else if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(c, s, "name must be a string like \"stairwell-1\", not %s", type_name(s));
	} else {
		v = config_setting_get_string(s);
		if (v[0] == '\0') {
			err_at(c, s, "name is empty; use a name like \"stairwell-1\"");
		} else if (strlen(v) > VG_CAMERA_NAME_MAX) {
			err_at(c, s, "name \"%s\" is %zu characters long; at most %d are allowed",
			       v, strlen(v), VG_CAMERA_NAME_MAX);
		} else if (!valid_name(v)) {
			err_at(c, s, "name \"%s\" has characters that are not allowed; use only "
			       "lowercase letters a-z, digits 0-9, '-' and '_' (like "
			       "\"stairwell-1\")", v);
		} else {
			cam->name = xstrdup(c, v);
			*name_st = s;
			snprintf(where, sizeof(where), "in camera \"%s\"", v);
			snprintf(pfx, sizeof(pfx), "camera \"%s\": ", v);
			set_block(c, where, pfx);
		}
	}

	check_keys(c, g, cam_keys, NULL, NULL);
	get_bool(c, g, "enabled", &cam->enabled);

	dev_st = config_setting_get_member(g, "device");
	if (dev_st == NULL)
		err_at(c, g, "device is missing; add device = \"/dev/video0\"; (or \"synthetic\" "
		       "for the test pattern)");
	else
		dev_ok = check_device(c, dev_st, cam) == 0;

	/* Settings that only mean something for some kinds of source. */
	s = config_setting_get_member(g, "pixel_format");
	if (dev_ok && cam->kind == VG_SOURCE_FILE) {
		char all[64];

		join(all, sizeof(all), file_pix_fmts, 1);
		r = get_string(c, g, "pixel_format", "yuyv422", &v, &s);
		if (r == 0) {
			err_at(c, g, "pixel_format is missing; a file: source needs the layout of "
			       "its frames, one of %s", all);
		} else if (r > 0) {
			/* "h264" is a stream, not a pixel layout: the camera
			 * encodes itself and vigild passes it through. */
			/* Every name in the list is one of FFmpeg's pixel
			 * formats (source_file.c maps it with av_get_pix_fmt),
			 * so the check needs no FFmpeg: vigilctl's config
			 * check links none. */
			if (in_list(v, file_pix_fmts) < 0)
				err_at(c, s, "pixel_format \"%s\" is not supported; expected "
				       "one of %s", v, all);
			else
				cam->file_pix_fmt = xstrdup(c, v);
		}
	} else if (s != NULL && dev_ok) {
		err_at(c, s, "pixel_format only applies to device = \"file:...\"; remove it");
	}
	s = config_setting_get_member(g, "realtime");
	if (s != NULL && dev_ok && cam->kind == VG_SOURCE_V4L2)
		err_at(c, s, "realtime only applies to \"file:...\" and \"synthetic\" devices; "
		       "remove it");
	else
		get_bool(c, g, "realtime", &cam->file_realtime);
	s = config_setting_get_member(g, "loop");
	if (s != NULL && dev_ok && cam->kind != VG_SOURCE_FILE)
		err_at(c, s, "loop only applies to device = \"file:...\"; remove it");
	else
		get_bool(c, g, "loop", &cam->file_loop);

	parse_enc(c, g, &own);
	merge_enc(c, &own, def, cam);

	/* Governance: the purpose and the area are what make a camera lawful
	 * to run at all (principle 1), so they are required. */
	r = get_string(c, g, "purpose", "reduce anti-social behaviour", &v, NULL);
	if (r > 0)
		cam->purpose = xstrdup(c, v);
	else if (r == 0)
		err_at(c, g, "purpose is missing; add purpose = \"...\"; saying why this camera is "
		       "needed, like \"reduce anti-social behaviour in the stairwell\" "
		       "(principle 1)");
	r = get_string(c, g, "area", "ground floor lift lobby", &v, NULL);
	if (r > 0)
		cam->area = xstrdup(c, v);
	else if (r == 0)
		err_at(c, g, "area is missing; add area = \"...\"; naming the communal area it "
		       "covers, like \"ground floor lift lobby\"");
	r = get_string(c, g, "retention_justification", "police investigation ref 123", &v,
		       NULL);
	if (r > 0)
		cam->retention_justification = xstrdup(c, v);
	cam->retention_line = cam->line;
	if (get_int(c, g, "retention_days", 1, 3650, 31, "days", &n, &s) > 0) {
		cam->retention_days = (int)n;
		cam->retention_line = setting_line(s);
		if (n > RETENTION_STANDARD && r == 0)
			err_at(c, s, "retention_days is %lld, longer than the standard %d days; "
			       "add a line retention_justification = \"...\"; saying why "
			       "footage must be kept longer, or lower retention_days to %d",
			       n, RETENTION_STANDARD, RETENTION_STANDARD);
	}
	if (get_string(c, g, "signage_confirmed", "2024-03-01", &v, &s) > 0) {
		cam->signage_line = setting_line(s);
		if (valid_date(v))
			cam->signage_confirmed = xstrdup(c, v);
		else
			err_at(c, s, "signage_confirmed \"%s\" is not a real date; expected "
			       "YYYY-MM-DD, like \"2024-03-01\"", v);
	}
	parse_audio(c, g, cam);
	parse_temporary(c, g, cam);
	parse_masks(c, g, cam);
	parse_overlay(c, g, cam);
	for (i = cam->n_formats; i < VG_FMT_COUNT; i++)
		cam->formats[i] = VG_FMT_YUYV;
}

static void parse_cameras(struct ctx *c, struct vg_config *cfg, const struct enc *def)
{
	config_setting_t *list = config_setting_get_member(config_root_setting(&c->lc),
							   "cameras");
	config_setting_t **name_st = NULL;
	int i, j, n;

	if (list == NULL)
		return;
	cfg->cameras_line = setting_line(list);
	set_block(c, "at the top level", "");
	if (config_setting_type(list) != CONFIG_TYPE_LIST) {
		err_at(c, list, "cameras must be a list of camera blocks like "
		       "cameras = ( { name = \"a\"; ... }, { name = \"b\"; ... } );, not %s",
		       type_name(list));
		return;
	}
	n = config_setting_length(list);
	if (n == 0)
		return;
	if (!cfg->has_site)
		err_at(c, list, "cameras are listed but there is no site = { ... } block; vigild "
		       "records nothing until the site is declared: add site = { name = \"...\"; "
		       "address = \"...\"; area_manager = \"...\"; contact = \"...\"; }; "
		       "(principle 3: a published contact point)");
	if (n > VG_MAX_CAMERAS)
		err_at(c, list, "%d cameras are listed; at most %d are supported", n,
		       VG_MAX_CAMERAS);
	cfg->cameras = calloc((size_t)n, sizeof(*cfg->cameras));
	name_st = calloc((size_t)n, sizeof(*name_st));
	if (cfg->cameras == NULL || name_st == NULL) {
		c->oom = 1;
		free(name_st);
		return;
	}
	cfg->n_cameras = n;
	for (i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(list, (unsigned int)i);

		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			set_block(c, "at the top level", "");
			err_at(c, g, "camera #%d must be a block like { name = \"stairwell-1\"; "
			       "device = \"/dev/video0\"; }, not %s", i + 1, type_name(g));
			continue;
		}
		parse_camera(c, g, i, def, &cfg->cameras[i], &name_st[i]);
	}
	set_block(c, "at the top level", "");
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++) {
			if (name_st[i] == NULL || name_st[j] == NULL ||
			    strcmp(cfg->cameras[i].name, cfg->cameras[j].name) != 0)
				continue;
			err_at(c, name_st[i], "camera name \"%s\" is used twice (lines %d and %d); "
			       "give each camera its own name", cfg->cameras[i].name,
			       setting_line(name_st[j]), setting_line(name_st[i]));
			break;
		}
	}
	free(name_st);
}

/* metrics_file = "/var/lib/prometheus/node-exporter/vigil.prom": the
 * Prometheus text file vigild keeps (metrics.h). node_exporter's textfile
 * collector reads only files named *.prom, so a path it would never read
 * is refused here rather than the metrics silently never arriving. */
static void parse_metrics_file(struct ctx *c, const config_setting_t *root, struct vg_config *cfg)
{
	static const char example[] = "/var/lib/prometheus/node-exporter/vigil.prom";
	config_setting_t *s;
	const char *v;
	size_t n;

	if (get_string(c, root, "metrics_file", example, &v, &s) <= 0)
		return;
	n = strlen(v);
	if (v[0] != '/' || n < 6 || strcmp(v + n - 5, ".prom") != 0 || v[n - 6] == '/') {
		err_at(c, s, "metrics_file must be an absolute path ending in .prom, like \"%s\" "
		       "(node_exporter's textfile collector reads only *.prom files)", example);
		return;
	}
	cfg->metrics_file = xstrdup(c, v);
}

/* witness = { host = "logs.example.org"; port = 6514; ca = "/etc/vigil/witness-ca.pem";
 * cert = "/etc/vigil/witness.crt"; key = "/etc/vigil/witness.key"; }: the
 * collector every audit checkpoint goes to over TLS (witness.h). All but
 * port and name are required: a witness reached without mutual TLS proves
 * nothing. name is the name on the collector's certificate when host is an
 * address (a site without DNS, or a box whose /etc/hosts lacks the name):
 * the certificate is still checked, against name instead of host. */
static void parse_witness(struct ctx *c, const config_setting_t *root, struct vg_config *cfg)
{
	static const char *const ex[] = {
		"logs.example.org", "/etc/vigil/witness-ca.pem", "/etc/vigil/witness.crt",
		"/etc/vigil/witness.key"
	};
	static const char *const names[] = { "host", "ca", "cert", "key" };
	char **fields[] = { &cfg->witness.host, &cfg->witness.ca, &cfg->witness.cert,
			    &cfg->witness.key };
	config_setting_t *g = get_group(c, root, "witness", "host = \"logs.example.org\"; ...");
	config_setting_t *s;
	long long port = 6514;
	const char *v;
	int i, r;

	if (g == NULL)
		return;
	cfg->witness.line = setting_line(g);
	check_keys(c, g, witness_keys, NULL, NULL);
	for (i = 0; i < 4; i++) {
		r = get_string(c, g, names[i], ex[i], &v, &s);
		if (r == 0)
			err_at(c, g, "witness needs %s, like %s = \"%s\" (the collector is reached "
			       "only over mutual TLS)", names[i], names[i], ex[i]);
		if (r <= 0)
			continue;
		if (i > 0 && v[0] != '/') {
			err_at(c, s, "witness %s must be an absolute path, like \"%s\"", names[i],
			       ex[i]);
			continue;
		}
		*fields[i] = xstrdup(c, v);
	}
	r = get_string(c, g, "name", "logs.example.org", &v, &s);
	if (r > 0 && strpbrk(v, " \t/:") != NULL)
		err_at(c, s, "witness name is the host name on the collector's certificate, "
		       "like \"logs.example.org\" (no spaces, slashes or port)");
	else if (r > 0)
		cfg->witness.name = xstrdup(c, v);
	if (get_int(c, g, "port", 1, 65535, 6514, "", &port, NULL) < 0)
		return;
	cfg->witness.port = (int)port;
}

/* "5%", "2G", "500M", "1.5T", "1048576": bytes or a percentage.
 * 0 ok, -1 not understood, -2 out of range. */
static int parse_min_free(const char *s, int64_t *bytes, int *pct)
{
	char *end;
	double v, mult = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !(v >= 0))
		return -1;
	while (*end == ' ')
		end++;
	if (*end == '%') {
		if (end[1] != '\0' || v != floor(v))
			return -1;
		if (v < 1 || v > 90)
			return -2;
		*pct = (int)v;
		*bytes = 0;
		return 0;
	}
	switch (lower(*end)) {
	case '\0':
		break;
	case 'k':
		mult = 1024.0;
		break;
	case 'm':
		mult = 1024.0 * 1024;
		break;
	case 'g':
		mult = 1024.0 * 1024 * 1024;
		break;
	case 't':
		mult = 1024.0 * 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*end != '\0') {
		end++;
		if (lower(*end) == 'i' && lower(end[1]) == 'b')
			end += 2;
		else if (lower(*end) == 'b')
			end++;
		if (*end != '\0')
			return -1;
	} else if (v != floor(v)) {
		return -1;
	}
	v *= mult;
	if (v < 1 || v > 9.0e18)
		return -2;
	*bytes = (int64_t)v;
	*pct = 0;
	return 0;
}

static void parse_storage(struct ctx *c, struct vg_config *cfg)
{
	config_setting_t *g = get_group(c, config_root_setting(&c->lc), "storage",
					"min_free = \"5%\";");
	config_setting_t *s;
	int r;

	long long n;

	cfg->min_free_percent = DEF_MIN_FREE_PERCENT;
	cfg->min_free_bytes = 0;
	cfg->hold_review_days = DEF_HOLD_REVIEW_DAYS;
	cfg->held_warn_percent = DEF_HELD_WARN_PERCENT;
	if (g == NULL)
		return;
	set_block(c, "in storage", "storage: ");
	check_keys(c, g, storage_keys, NULL, NULL);
	if (get_int(c, g, "hold_review_days", 1, 365, 30, "days", &n, NULL) > 0)
		cfg->hold_review_days = (int)n;
	if (get_int(c, g, "held_warn_percent", 1, 100, 50, "percent", &n, NULL) > 0)
		cfg->held_warn_percent = (int)n;
	s = config_setting_get_member(g, "min_free");
	if (s == NULL)
		return;
	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);

		if (v < 1) {
			err_at(c, s, "min_free must be more than 0 bytes (got %lld); or write a "
			       "percentage like \"5%%\"", v);
			return;
		}
		cfg->min_free_bytes = v;
		cfg->min_free_percent = 0;
		return;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(c, s, "min_free must be a string like \"5%%\" or \"2G\", not %s",
		       type_name(s));
		return;
	}
	r = parse_min_free(config_setting_get_string(s), &cfg->min_free_bytes,
			   &cfg->min_free_percent);
	if (r == -1)
		err_at(c, s, "min_free \"%s\" is not understood; expected a percentage like "
		       "\"5%%\" or a size like \"2G\" or \"500M\"", config_setting_get_string(s));
	else if (r == -2)
		err_at(c, s, "min_free \"%s\" is out of range; a percentage must be 1%% to 90%%, "
		       "a size at least 1 byte", config_setting_get_string(s));
	if (r < 0) {
		cfg->min_free_percent = DEF_MIN_FREE_PERCENT;
		cfg->min_free_bytes = 0;
	}
}

static void parse_site(struct ctx *c, struct vg_config *cfg)
{
	static const char *const ex[] = {
		"Elm Court", "1-40 Elm Court, Anytown AT1 2BC", "Jo Bloggs",
		"01234 567890 or cctv@example.org"
	};
	char **fields[] = {
		&cfg->site.name, &cfg->site.address, &cfg->site.area_manager,
		&cfg->site.contact
	};
	config_setting_t *g = get_group(c, config_root_setting(&c->lc), "site",
					"name = \"Elm Court\"; ...");
	int i;

	if (g == NULL)
		return;
	cfg->has_site = 1;
	cfg->site_line = setting_line(g);
	set_block(c, "in site", "site: ");
	check_keys(c, g, site_keys, NULL, NULL);
	for (i = 0; site_keys[i] != NULL; i++) {
		const char *v;
		int r = get_string(c, g, site_keys[i], ex[i], &v, NULL);

		if (r > 0)
			*fields[i] = xstrdup(c, v);
		else if (r == 0)
			/* Principles 3 and 4: who answers for the cameras, and
			 * where residents ask; vigild records nothing without. */
			err_at(c, g, "%s is missing; add %s = \"%s\"; every site must name "
			       "the site, its address, the area manager responsible and the "
			       "published contact point", site_keys[i], site_keys[i], ex[i]);
	}
}

static int misspelt_site(struct ctx *c, const struct vg_config *cfg, const config_setting_t *el);

/* users = ( { login; name; role; sites = ( ... ); line_manager; } ... ) */
static void parse_users(struct ctx *c, struct vg_config *cfg)
{
	config_setting_t *l = config_setting_get_member(config_root_setting(&c->lc), "users");
	char why[4096];
	int i, n, bad = 0, typo = 0;

	if (l == NULL)
		return;
	cfg->users_line = setting_line(l);
	set_block(c, "at the top level", "");
	if (config_setting_type(l) != CONFIG_TYPE_LIST) {
		err_at(c, l, "users must be a list like users = ( { login = \"jbloggs\"; "
		       "role = \"area_manager\"; sites = ( \"Elm Court\" ); } );, not %s",
		       type_name(l));
		return;
	}
	n = config_setting_length(l);
	if (n == 0)
		return;
	cfg->users = calloc((size_t)n, sizeof(*cfg->users));
	cfg->user_lines = calloc((size_t)n, sizeof(*cfg->user_lines));
	if (cfg->users == NULL || cfg->user_lines == NULL) {
		c->oom = 1;
		return;
	}
	cfg->n_users = n;
	for (i = 0; i < n; i++) {
		config_setting_t *ug = config_setting_get_elem(l, (unsigned int)i);
		struct vg_user *u = &cfg->users[i];
		config_setting_t *sl;
		const char *v;
		char pfx[96];
		int j, ns;

		snprintf(pfx, sizeof(pfx), "user #%d: ", i + 1);
		set_block(c, "in a user block", pfx);
		if (config_setting_type(ug) != CONFIG_TYPE_GROUP) {
			err_at(c, ug, "must be a block like { login = \"jbloggs\"; role = "
			       "\"area_manager\"; }, not %s", type_name(ug));
			bad = 1;
			continue;
		}
		cfg->user_lines[i] = setting_line(ug);
		check_keys(c, ug, user_keys, NULL, NULL);
		if (get_string(c, ug, "login", "jbloggs", &v, NULL) > 0) {
			u->login = xstrdup(c, v);
			snprintf(pfx, sizeof(pfx), "user '%s': ", v);
			set_block(c, "in a user block", pfx);
		} else {
			err_at(c, ug, "login is missing; add the Unix login, like login = "
			       "\"jbloggs\";");
			bad = 1;
		}
		if (get_string(c, ug, "name", "Jo Bloggs", &v, NULL) > 0)
			u->name = xstrdup(c, v);
		if (get_string(c, ug, "role", "area_manager", &v, NULL) > 0) {
			u->role = xstrdup(c, v);
		} else {
			err_at(c, ug, "role is missing; add role = \"area_manager\"; (or "
			       "line_manager, enforcement, dpo, installer, auditor)");
			bad = 1;
		}
		if (get_string(c, ug, "line_manager", "asmith", &v, NULL) > 0)
			u->line_manager = xstrdup(c, v);
		sl = config_setting_get_member(ug, "sites");
		if (sl == NULL)
			continue;
		if (config_setting_type(sl) != CONFIG_TYPE_LIST &&
		    config_setting_type(sl) != CONFIG_TYPE_ARRAY) {
			err_at(c, sl, "sites must be a list like sites = ( \"Elm Court\" );, not %s",
			       type_name(sl));
			bad = 1;
			continue;
		}
		ns = config_setting_length(sl);
		if (ns == 0)
			continue;
		u->sites = calloc((size_t)ns, sizeof(char *));
		if (u->sites == NULL) {
			c->oom = 1;
			return;
		}
		for (j = 0; j < ns; j++) {
			config_setting_t *el = config_setting_get_elem(sl, (unsigned int)j);

			if (config_setting_type(el) != CONFIG_TYPE_STRING ||
			    config_setting_get_string(el)[0] == '\0') {
				err_at(c, el, "sites must list site names in double quotes, like "
				       "\"Elm Court\"");
				bad = 1;
				continue;
			}
			u->sites[u->n_sites++] = xstrdup(c, config_setting_get_string(el));
			if (misspelt_site(c, cfg, el))
				typo = 1;
		}
	}
	set_block(c, "at the top level", "");
	if (bad || c->oom)
		return;
	/* The policy's own rules; each sentence becomes one error at the list. */
	if (vg_policy_validate_users(cfg->users, cfg->n_users, why, sizeof(why)) != 0) {
		char *p = why;

		while (*p != '\0') {
			char *nl = strchr(p, '\n');

			if (nl != NULL)
				*nl = '\0';
			if (*p != '\0')
				err_at(c, l, "users: %s", p);
			if (nl == NULL)
				break;
			p = nl + 1;
		}
		return;
	}
	/* The list is sound in itself; can it serve this box? (A misspelt
	 * site, reported above, is the usual reason it cannot.) */
	if (!typo && cfg->site.name != NULL &&
	    vg_policy_site_viewers(cfg->users, cfg->n_users, cfg->site.name) == 0)
		err_at(c, l, "users: nobody in the list may view the footage of \"%s\" (site name, "
		       "line %d): add it to the sites of its area manager, like sites = ( "
		       "\"%s\" ); (policy 3.8)", cfg->site.name, cfg->site_line, cfg->site.name);
}

/* A site on an account that is nearly, but not, this box's site: with it
 * that person sees nothing here. Sites far from it may be other boxes'
 * (a shared staff list) and are left alone. 1 if reported. */
static int misspelt_site(struct ctx *c, const struct vg_config *cfg, const config_setting_t *el)
{
	const char *v = config_setting_get_string(el), *site = cfg->site.name;
	size_t n;

	if (site == NULL || strcmp(v, site) == 0)
		return 0;
	n = strlen(site) < strlen(v) ? strlen(site) : strlen(v);
	if (strcasecmp(v, site) != 0 && edit_distance(v, site) > (n >= 6 ? 2 : 1))
		return 0;
	err_at(c, el, "site \"%s\" is not this box's site; did you mean \"%s\" (site name, "
	       "line %d)? As written, this account sees none of its footage", v, site,
	       cfg->site_line);
	return 1;
}

/* Users against cameras: there are no built-in accounts, so a box with a
 * camera to record must name who may answer for the footage. */
static void check_staff(struct ctx *c, const struct vg_config *cfg)
{
	config_setting_t *root = config_root_setting(&c->lc);
	config_setting_t *at = config_setting_get_member(root, "users");
	int i, recording = 0;

	for (i = 0; i < cfg->n_cameras; i++)
		recording |= cfg->cameras[i].enabled;
	if (!recording || cfg->n_users > 0)
		return;
	if (at == NULL)
		at = config_setting_get_member(root, "cameras");
	err_raw(c, at, "cameras are listed but no users: vigild records nothing until users = "
		"( ... ) names the area manager and the others who may see the footage, like "
		"users = ( { login = \"jbloggs\"; role = \"area_manager\"; sites = ( \"%s\" ); "
		"}, { login = \"audit1\"; role = \"auditor\"; } ); (policy 3.8; there are no "
		"built-in accounts)", cfg->site.name != NULL ? cfg->site.name : "Elm Court");
}

static char *path_join(struct ctx *c, const char *dir, const char *file)
{
	size_t ld = strlen(dir), len;
	char *p;

	while (ld > 1 && dir[ld - 1] == '/')
		ld--;
	len = ld + 1 + strlen(file) + 1;
	p = malloc(len);
	if (p == NULL) {
		c->oom = 1;
		return NULL;
	}
	snprintf(p, len, "%.*s%s%s", (int)ld, dir, dir[ld - 1] == '/' ? "" : "/", file);
	return p;
}

/* An IANA zone name as the zoneinfo folder has it ("Europe/London",
 * "UTC"): no path tricks, since it becomes a file name. */
static int valid_zone_name(const char *z)
{
	size_t i, n = strlen(z);

	if (n == 0 || n > 64 || z[0] == '/' || strstr(z, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++)
		if (!((z[i] >= 'a' && z[i] <= 'z') || (z[i] >= 'A' && z[i] <= 'Z') ||
		      (z[i] >= '0' && z[i] <= '9') || strchr("/_+-", z[i]) != NULL))
			return 0;
	return 1;
}

static void parse_top(struct ctx *c, struct vg_config *cfg)
{
	config_setting_t *root = config_root_setting(&c->lc);
	config_setting_t *defs, *s = NULL;
	const char *v;
	long long n;
	int idx;
	struct enc def;

	set_block(c, "at the top level", "");
	check_keys(c, root, top_keys, cam_keys, "it is a camera setting: put it inside a camera "
		   "block, or inside defaults = { ... } to apply it to every camera");

	cfg->data_dir = xstrdup(c, get_string(c, root, "data_dir", DEF_DATA_DIR, &v, &s) > 0 ?
				v : DEF_DATA_DIR);
	cfg->data_dir_line = setting_line(s);
	if (get_string(c, root, "key_file", "/var/lib/vigil/master.key", &v, &s) > 0)
		cfg->key_file = xstrdup(c, v);
	else if (cfg->data_dir != NULL)
		cfg->key_file = path_join(c, cfg->data_dir, "master.key");
	cfg->key_file_line = setting_line(s);
	if (get_string(c, root, "catalog", "/var/lib/vigil/catalog.db", &v, &s) > 0)
		cfg->catalog = xstrdup(c, v);
	else if (cfg->data_dir != NULL)
		cfg->catalog = path_join(c, cfg->data_dir, "catalog.db");
	cfg->catalog_line = setting_line(s);
	cfg->socket_path = xstrdup(c, get_string(c, root, "socket", DEF_SOCKET, &v, &s) > 0 ?
				   v : DEF_SOCKET);
	cfg->socket_line = setting_line(s);
	/* vigild would stop at bind(), after making its keys and catalog */
	if (s != NULL && cfg->socket_path != NULL &&
	    strlen(cfg->socket_path) > (size_t)SOCKET_PATH_MAX)
		err_at(c, s, "socket path is %zu characters long; a Unix socket path holds at "
		       "most %d: choose a shorter one, like \"%s\"", strlen(cfg->socket_path),
		       SOCKET_PATH_MAX, DEF_SOCKET);
	if (get_choice(c, root, "log", log_names, &idx, NULL) > 0)
		cfg->log_syslog = idx == 1;
	cfg->log_level = VG_LOG_INFO;
	if (get_choice(c, root, "log_level", level_names, &idx, NULL) > 0)
		cfg->log_level = idx;
	cfg->status_interval = DEF_STATUS_INTERVAL;
	if (get_int(c, root, "status_interval", 1, 3600, 60, "seconds", &n, NULL) > 0)
		cfg->status_interval = (int)n;
	cfg->run_as = xstrdup(c, get_string(c, root, "user", "vigil", &v, &s) > 0 ? v : "vigil");
	cfg->run_as_line = setting_line(s);
	if (get_string(c, root, "watchdog", "/dev/watchdog", &v, NULL) > 0)
		cfg->watchdog = xstrdup(c, v);
	if (get_string(c, root, "timezone", DEF_TIMEZONE, &v, &s) > 0 && !valid_zone_name(v))
		err_at(c, s, "timezone \"%s\" is not a time zone name; write an area/city name "
		       "like \"%s\" (see /usr/share/zoneinfo)", v, DEF_TIMEZONE);
	else if (s != NULL)
		cfg->timezone = xstrdup(c, v);
	if (cfg->timezone == NULL)
		cfg->timezone = xstrdup(c, DEF_TIMEZONE);
	cfg->timezone_line = setting_line(s);
	cfg->signage_review_days = VG_CONFIG_DEFAULT_SIGNAGE_REVIEW_DAYS;
	if (get_int(c, root, "signage_review_days", 1, 3650, 365, "days", &n, NULL) > 0)
		cfg->signage_review_days = (int)n;
	parse_metrics_file(c, root, cfg);
	parse_witness(c, root, cfg);

	parse_site(c, cfg);
	parse_storage(c, cfg);

	memset(&def, 0, sizeof(def));
	set_block(c, "at the top level", "");
	defs = get_group(c, root, "defaults", "fps = 15; preset = \"veryfast\";");
	if (defs != NULL) {
		set_block(c, "in defaults", "defaults: ");
		check_keys(c, defs, enc_keys, cam_own_keys, "it differs from camera to camera: "
			   "set it in each camera block");
		parse_enc(c, defs, &def);
	}
	parse_cameras(c, cfg, defs != NULL ? &def : NULL);
	parse_users(c, cfg);
	check_staff(c, cfg);
}

/* ------------------------------------------------------------------ */
/* Syntax errors: libconfig says only "syntax error" and a line. */

/* Line n (1-based) of the main file into buf; 0 if it has fewer lines. */
static int file_line(const struct ctx *c, int n, char *buf, size_t len)
{
	const char *p = c->text;
	const char *nl;
	int cur;

	buf[0] = '\0';
	if (p == NULL || n < 1)
		return 0;
	for (cur = 1; cur < n; cur++) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			return 0;
		p = nl + 1;
	}
	if (*p == '\0')
		return 0;
	nl = strchr(p, '\n');
	snprintf(buf, len, "%.*s", (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
	return 1;
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static char last_char(const char *s)
{
	size_t l = strlen(s);

	while (l > 0 && (s[l - 1] == '\n' || s[l - 1] == '\r' || s[l - 1] == ' ' ||
			 s[l - 1] == '\t'))
		l--;
	return l ? s[l - 1] : '\0';
}

/* Quotes outside comments; odd means a string is not closed. */
static int odd_quotes(const char *s)
{
	int n = 0;

	for (; *s; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
			continue;
		}
		if (*s == '"')
			n++;
		if ((*s == '#' || (*s == '/' && s[1] == '/')) && n % 2 == 0)
			break;
	}
	return n % 2;
}

/* An unquoted word as a value: log = syslog; */
static int unquoted_word(const char *s)
{
	const char *eq = strchr(s, '=');
	const char *v;
	size_t l;

	if (eq == NULL)
		eq = strchr(s, ':');
	if (eq == NULL)
		return 0;
	v = skip_ws(eq + 1);
	if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || *v == '/'))
		return 0;
	for (l = 0; v[l] && v[l] != ';' && v[l] != ',' && v[l] != ' ' && v[l] != '\n'; l++)
		;
	return !((l == 4 && strncmp(v, "true", 4) == 0) || (l == 5 && strncmp(v, "false", 5) == 0));
}

static void syntax_hint(const struct ctx *c, int line, const char *text, char *hint, size_t len)
{
	char cur[512], prev[512];
	int have_cur, i, pl = 0;

	if (text != NULL && strstr(text, "duplicate") != NULL) {
		snprintf(hint, len, "a setting appears twice in the same block; keep one of them");
		return;
	}
	have_cur = file_line(c, line, cur, sizeof(cur)) && skip_ws(cur)[0] != '\0';
	prev[0] = '\0';
	for (i = line - 1; i >= 1; i--) {
		if (file_line(c, i, prev, sizeof(prev)) && skip_ws(prev)[0] != '\n' &&
		    skip_ws(prev)[0] != '\0') {
			pl = i;
			break;
		}
	}
	if (!have_cur) {
		/* The parser ran off the end: an unclosed string or bracket. */
		for (i = 1; file_line(c, i, cur, sizeof(cur)); i++) {
			if (odd_quotes(cur)) {
				snprintf(hint, len, "the text that starts on line %d has no "
					 "closing double quote (\")", i);
				return;
			}
		}
		snprintf(hint, len, "the file ends too early: a closing '}', ')' or ']' is "
			 "missing somewhere above");
		return;
	}
	if (odd_quotes(cur)) {
		snprintf(hint, len, "a text value on this line is missing a double quote (\")");
		return;
	}
	if (skip_ws(cur)[0] == '{' && last_char(prev) == '}') {
		snprintf(hint, len, "a comma is missing between two camera blocks: write '},' "
			 "at the end of line %d", pl);
		return;
	}
	if (strstr(cur, "}{") != NULL || strstr(cur, "} {") != NULL) {
		snprintf(hint, len, "a comma is missing between two camera blocks: write "
			 "'}, {'");
		return;
	}
	if (unquoted_word(cur)) {
		snprintf(hint, len, "text values must be in double quotes, like "
			 "log = \"syslog\";");
		return;
	}
	if (strstr(cur, ";;") != NULL) {
		snprintf(hint, len, "there are two ';' in a row");
		return;
	}
	if (strstr(cur, "= ;") != NULL || strstr(cur, "=;") != NULL) {
		snprintf(hint, len, "a setting on this line has no value after '='");
		return;
	}
	snprintf(hint, len, "check this line and the one before it; every setting is written "
		 "name = value; with text in double quotes and camera blocks { ... } "
		 "separated by commas");
}

/* ------------------------------------------------------------------ */
/* Public API */

static void free_camera(struct vg_camera_config *cam)
{
	int i;

	free(cam->name);
	free(cam->device);
	free(cam->file_pix_fmt);
	free(cam->encoder);
	free(cam->preset);
	free(cam->purpose);
	free(cam->area);
	free(cam->retention_justification);
	free(cam->signage_confirmed);
	free(cam->audio_device);
	free(cam->audio_justification);
	free(cam->audio_review_by);
	free(cam->temporary.equipment);
	free(cam->temporary.reason);
	free(cam->temporary.case_reference);
	free(cam->temporary.installed);
	free(cam->temporary.remove_by);
	for (i = 0; i < cam->n_masks; i++)
		free(cam->masks[i].xy);
	free(cam->masks);
}

void vg_config_free(struct vg_config *cfg)
{
	int i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->n_cameras; i++)
		free_camera(&cfg->cameras[i]);
	free(cfg->cameras);
	free(cfg->path);
	free(cfg->data_dir);
	free(cfg->key_file);
	free(cfg->catalog);
	free(cfg->socket_path);
	free(cfg->run_as);
	free(cfg->watchdog);
	free(cfg->timezone);
	free(cfg->metrics_file);
	free(cfg->witness.host);
	free(cfg->witness.name);
	free(cfg->witness.ca);
	free(cfg->witness.cert);
	free(cfg->witness.key);
	free(cfg->site.name);
	free(cfg->site.address);
	free(cfg->site.area_manager);
	free(cfg->site.contact);
	for (i = 0; i < cfg->n_users; i++) {
		struct vg_user *u = &cfg->users[i];
		int j;

		free(u->login);
		free(u->name);
		free(u->role);
		free(u->line_manager);
		for (j = 0; j < u->n_sites; j++)
			free(u->sites[j]);
		free(u->sites);
	}
	free(cfg->users);
	free(cfg->user_lines);
	free(cfg);
}

/* Directory part of path for @include, or NULL for the current one. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t l;
	char *d;

	if (slash == NULL)
		return NULL;
	l = slash == path ? 1 : (size_t)(slash - path);
	d = malloc(l + 1);
	if (d != NULL) {
		memcpy(d, path, l);
		d[l] = '\0';
	}
	return d;
}

/* The @include on line n of file (the main file or an included one): its
 * name into buf, for "cannot open include file", which names none. */
static int include_name(const struct ctx *c, const char *file, int n, char *buf, size_t len)
{
	char text[512];
	const char *q, *e;
	FILE *fp;
	int i;

	text[0] = '\0';
	if (file == NULL || strcmp(file, c->path) == 0) {
		file_line(c, n, text, sizeof(text));
	} else if ((fp = fopen(file, "r")) != NULL) {
		for (i = 1; i <= n && fgets(text, sizeof(text), fp) != NULL; i++)
			;
		if (i <= n)
			text[0] = '\0';
		fclose(fp);
	}
	q = strstr(text, "@include");
	q = q != NULL ? strchr(q, '"') : NULL;
	e = q != NULL ? strchr(q + 1, '"') : NULL;
	if (e == NULL)
		return 0;
	snprintf(buf, len, "%.*s", (int)(e - q - 1), q + 1);
	return 1;
}

/* libconfig stops at the first syntax error with a line and a few words;
 * say where the problem really starts and what to do. */
static void syntax_problem(struct ctx *c)
{
	char hint[256], text[1024], inc[256], buf[512];
	const char *what = config_error_text(&c->lc);
	const char *file = config_error_file(&c->lc);
	int line = config_error_line(&c->lc), i;

	if (what == NULL)
		what = "syntax error";
	if (strstr(what, "include") != NULL && include_name(c, file, line, inc, sizeof(inc))) {
		snprintf(text, sizeof(text), "@include \"%s\": cannot open %s%s%s; check the name, "
			 "or create the file", inc, inc[0] == '/' || c->dir == NULL ? "" : c->dir,
			 inc[0] == '/' || c->dir == NULL ? "" : "/", inc);
		add_problem(c, file, line, text);
		return;
	}
	/* A string left open runs on over the next lines (libconfig allows
	 * that) until a later quote: the error comes lines after the cause. */
	if (file == NULL || strcmp(file, c->path) == 0) {
		for (i = 1; i < line && file_line(c, i, buf, sizeof(buf)); i++) {
			if (odd_quotes(buf)) {
				snprintf(text, sizeof(text), "%s; the text that starts on this line "
					 "has no closing double quote (\"): add it before the ';'",
					 what);
				add_problem(c, file, i, text);
				return;
			}
		}
	}
	syntax_hint(c, line, what, hint, sizeof(hint));
	snprintf(text, sizeof(text), "%s; %s", what, hint);
	add_problem(c, file, line, text);
}

/* Read and check path into c; *cfgp is the config as far as it could be
 * read (NULL if not at all). The problems are in c, sorted. */
static int load(const char *path, struct ctx *c, struct vg_config **cfgp)
{
	struct vg_config *cfg = NULL;
	struct stat st;
	FILE *fp = NULL;
	char text[512];
	int ret;

	*cfgp = NULL;
	memset(c, 0, sizeof(*c));
	c->path = path;
	fp = fopen(path, "r");
	if (fp == NULL) {
		char eb[128];
		int e = errno;
		/* GNU strerror_r may or may not use eb */
		const char *why = strerror_r(e, eb, sizeof(eb));

		snprintf(text, sizeof(text), "cannot open: %s%s%s", why,
			 e == ENOENT ? "; create it from " : "",
			 e == ENOENT ? VG_CONFIG_EXAMPLE_PATH : "");
		add_problem(c, path, 0, text);
		ret = e == ENOENT ? -VG_ENOENT : -VG_ECONFIG;
		goto out;
	}
	if (fstat(fileno(fp), &st) != 0) {
		ret = -VG_EIO;
		goto out;
	}
	ret = -VG_ECONFIG;
	if (S_ISDIR(st.st_mode)) {
		snprintf(text, sizeof(text), "cannot open: it is a directory; expected a config "
			 "file like %s", VG_CONFIG_DEFAULT_PATH);
		add_problem(c, path, 0, text);
		goto out;
	}
	/* Kept for syntax hints and line fix-ups; a config is a few KiB. */
	if (st.st_size > 4 * 1024 * 1024) {
		snprintf(text, sizeof(text), "is %lld bytes, too big for a config file; expected "
			 "a few kilobytes", (long long)st.st_size);
		add_problem(c, path, 0, text);
		goto out;
	}
	c->text = calloc(1, (size_t)st.st_size + 1);
	if (c->text == NULL) {
		ret = -VG_ENOMEM;
		goto out;
	}
	if (fread(c->text, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
		add_problem(c, path, 0, "cannot read the file");
		goto out;
	}
	rewind(fp);

	config_init(&c->lc);
	c->lc_inited = 1;
	c->dir_owned = dir_of(path);
	if (c->dir_owned != NULL)
		config_set_include_dir(&c->lc, c->dir_owned);
	c->dir = c->dir_owned;
	if (config_read(&c->lc, fp) != CONFIG_TRUE) {
		syntax_problem(c);
		goto out;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		ret = -VG_ENOMEM;
		goto out;
	}
	cfg->path = xstrdup(c, path);
	parse_top(c, cfg);
	ret = c->oom ? -VG_ENOMEM : c->n_probs > 0 ? -VG_ECONFIG : 0;
out:
	if (fp != NULL)
		fclose(fp);
	if (c->oom && ret == 0)
		ret = -VG_ENOMEM;
	if (c->n_probs > 1)	/* probs is NULL when there are none (fuzz_config) */
		qsort(c->probs, (size_t)c->n_probs, sizeof(*c->probs), cmp_problem);
	*cfgp = cfg;
	return ret;
}

static void ctx_free(struct ctx *c)
{
	int i;

	for (i = 0; i < c->n_probs; i++) {
		free(c->probs[i].file);
		free(c->probs[i].text);
	}
	free(c->probs);
	free(c->text);
	if (c->lc_inited)
		config_destroy(&c->lc);
	free(c->dir_owned);
}

int vg_config_read(const char *path, struct vg_config **out, vg_config_error_fn fn, void *ud)
{
	struct ctx c;
	int ret, i;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL)
		return -VG_EINVAL;
	ret = load(path, &c, out);
	for (i = 0; fn != NULL && i < c.n_probs; i++)
		fn(c.probs[i].file, c.probs[i].line, c.probs[i].text, ud);
	ctx_free(&c);
	return ret;
}

int vg_config_load(const char *path, struct vg_config **out, char *errbuf, size_t errlen)
{
	struct ctx c;
	struct vg_config *cfg;
	int ret;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL)
		return -VG_EINVAL;
	ret = load(path, &c, &cfg);
	emit_problems(&c, errbuf, errlen);
	ctx_free(&c);
	if (ret < 0)
		vg_config_free(cfg);
	else
		*out = cfg;
	return ret;
}

const struct vg_camera_config *vg_config_camera(const struct vg_config *cfg, const char *name)
{
	int i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->n_cameras; i++)
		if (cfg->cameras[i].name != NULL && strcmp(cfg->cameras[i].name, name) == 0)
			return &cfg->cameras[i];
	return NULL;
}

static int str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int vg_config_camera_equal(const struct vg_camera_config *a, const struct vg_camera_config *b)
{
	int i;

	if (a == NULL || b == NULL)
		return a == b;
	if (!str_eq(a->name, b->name) || a->enabled != b->enabled || a->kind != b->kind ||
	    !str_eq(a->device, b->device) || !str_eq(a->file_pix_fmt, b->file_pix_fmt) ||
	    a->file_realtime != b->file_realtime || a->file_loop != b->file_loop ||
	    a->n_formats != b->n_formats || a->width != b->width || a->height != b->height ||
	    a->fps_num != b->fps_num || a->fps_den != b->fps_den ||
	    !str_eq(a->encoder, b->encoder) || !str_eq(a->preset, b->preset) ||
	    a->crf != b->crf || a->bitrate_kbps != b->bitrate_kbps || a->gop != b->gop ||
	    a->segment_seconds != b->segment_seconds || a->fragment_ms != b->fragment_ms)
		return 0;
	for (i = 0; i < a->n_formats && i < VG_FMT_COUNT; i++)
		if (a->formats[i] != b->formats[i])
			return 0;
	if (a->audio != b->audio || !str_eq(a->audio_device, b->audio_device) ||
	    !str_eq(a->audio_review_by, b->audio_review_by) ||
	    a->is_temporary != b->is_temporary ||
	    !str_eq(a->temporary.remove_by, b->temporary.remove_by) ||
	    a->overlay_enabled != b->overlay_enabled ||
	    a->overlay_position != b->overlay_position || a->overlay_size != b->overlay_size ||
	    a->n_masks != b->n_masks)
		return 0;
	for (i = 0; i < a->n_masks; i++) {
		const struct vg_mask *ma = &a->masks[i], *mb = &b->masks[i];

		if (ma->n_points != mb->n_points ||
		    memcmp(ma->xy, mb->xy, 2 * (size_t)ma->n_points * sizeof(double)) != 0)
			return 0;
	}
	return 1;
}

const char *vg_cam_format_name(enum vg_cam_format f)
{
	if ((int)f < 0 || f >= VG_FMT_COUNT)
		return "?";
	return fmt_names[f];
}
