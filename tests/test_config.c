/*
 * test_config.c - vigil.conf loading and validation, through config.h.
 *
 * Each config is written inline, one source line per file line with the
 * line number in a comment, so that the expected "FILE:LINE:" of every
 * message can be checked by eye against the text. Files are written to a
 * mkdtemp directory removed after each test. Run from the repository root
 * (the shipped example configs are loaded by relative path).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/log.h"

struct fixture {
	char dir[64];
	char path[128];
	char err[16384];
	struct vg_config *cfg;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/vigil-test-config-XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/vigil.conf", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	vg_config_free(fx->cfg);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Write text as the config file and load it; returns the load's result. */
static int load_text(struct fixture *fx, const char *text)
{
	FILE *fp = fopen(fx->path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	vg_config_free(fx->cfg);
	fx->cfg = NULL;
	memset(fx->err, 0, sizeof(fx->err));
	return vg_config_load(fx->path, &fx->cfg, fx->err, sizeof(fx->err));
}

static void load_ok(struct fixture *fx, const char *text)
{
	int r = load_text(fx, text);

	if (r != 0)
		print_error("unexpected errors:\n%s", fx->err);
	assert_int_equal(r, 0);
	assert_non_null(fx->cfg);
	assert_string_equal(fx->err, "");
}

/* Load text, which must fail with -VG_ECONFIG and no config. */
static void load_bad(struct fixture *fx, const char *text)
{
	int r = load_text(fx, text);

	assert_int_equal(r, -VG_ECONFIG);
	assert_null(fx->cfg);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * Assert that err has a line starting "PATH:LINE: " that contains every
 * word given (NULL-terminated). The whole error text is shown on failure.
 */
static void expect_error(const struct fixture *fx, int line, ...)
{
	char prefix[200];
	const char *p = fx->err;

	snprintf(prefix, sizeof(prefix), "%s:%d: ", fx->path, line);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char one[2048];
		int all = 1;
		va_list ap;
		const char *w;

		snprintf(one, sizeof(one), "%.*s", (int)len, p);
		if (strncmp(one, prefix, strlen(prefix)) == 0) {
			va_start(ap, line);
			for (w = va_arg(ap, const char *); w != NULL; w = va_arg(ap, const char *))
				if (strstr(one, w) == NULL)
					all = 0;
			va_end(ap);
			if (all)
				return;
		}
		p += len + (nl != NULL);
	}
	print_error("no error at line %d with the expected words; errors were:\n%s\n", line,
		    fx->err);
	fail();
}

/* Every camera needs purpose and area and every config with cameras a
 * site and staff: fixtures that test something else add them on an
 * existing line, so that the line numbers in the comments stay right. */
#define PA " purpose = \"Test\"; area = \"Hall\";"
#define STAFF "users = ( { login = \"m\"; role = \"area_manager\"; sites = ( \"S\" ); }, " \
	"{ login = \"a\"; role = \"auditor\"; } ); "
#define SITE "site = { name = \"S\"; address = \"A\"; area_manager = \"M\"; " \
	"contact = \"C\"; }; " STAFF

/* ------------------------------------------------------------------ */
/* Valid configs */

static const char full_conf[] =
	"site = {\n"							/* 1 */
	"  name = \"Elm Court\";\n"					/* 2 */
	"  address = \"1-40 Elm Court, Anytown\";\n"			/* 3 */
	"  area_manager = \"Sam Jones\";\n"				/* 4 */
	"  contact = \"01234 567890\";\n"				/* 5 */
	"};\n"								/* 6 */
	"data_dir = \"/srv/vigil\";\n"					/* 7 */
	"key_file = \"/etc/vigil/master.key\";\n"			/* 8 */
	"catalog = \"/srv/index/catalog.db\";\n"			/* 9 */
	"socket = \"/run/v.sock\";\n"					/* 10 */
	"log = \"syslog\";\n"						/* 11 */
	"log_level = \"debug\";\n"					/* 12 */
	"status_interval = 30;\n"					/* 13 */
	"storage = { min_free = \"2G\"; };\n"				/* 14 */
	"cameras = (\n"							/* 15 */
	"  {\n"								/* 16 */
	"    name = \"bin_store\";\n"					/* 17 */
	"    enabled = false;\n"					/* 18 */
	"    device = \"file:/srv/test.yuv\";\n"			/* 19 */
	"    pixel_format = \"nv12\";\n"				/* 20 */
	"    realtime = false;\n"					/* 21 */
	"    loop = true;\n"						/* 22 */
	"    formats = [ \"mjpeg\", \"yuyv\" ];\n"			/* 23 */
	"    width = 640;\n"						/* 24 */
	"    height = 480;\n"						/* 25 */
	"    fps = 7.5;\n"						/* 26 */
	"    encoder = \"h264_v4l2m2m\";\n"				/* 27 */
	"    preset = \"fast\";\n"					/* 28 */
	"    bitrate = 1500;\n"						/* 29 */
	"    gop = 20;\n"						/* 30 */
	"    segment_seconds = 120;\n"					/* 31 */
	"    fragment_ms = 500;\n"					/* 32 */
	"    purpose = \"Fly-tipping\";\n"				/* 33 */
	"    area = \"Bin store, rear yard\";\n"			/* 34 */
	"    retention_days = 60;\n"					/* 35 */
	"    retention_justification = \"Council case 42\";\n"		/* 36 */
	"    signage_confirmed = \"2024-02-29\";\n"			/* 37 */
	"  },\n"							/* 38 */
	"  {\n"								/* 39 */
	"    name = \"lift-2\";\n"					/* 40 */
	"    device = \"/dev/v4l/by-id/usb-cam-video-index0\";\n"	/* 41 */
	"    fps = 29.97; purpose = \"Lift damage\"; area = \"Lift 2\";\n"	/* 42 */
	"    crf = 30;\n"						/* 43 */
	"  }\n"								/* 44 */
	");\n"								/* 45 */
	"users = ( { login = \"sjones\"; role = \"area_manager\";\n"	/* 46 */
	"  sites = ( \"Elm Court\" ); }, { login = \"a\"; role = \"auditor\"; } );\n";	/* 47 */

static void test_full_config_loads_as_written(void **state)
{
	struct fixture *fx = *state;
	const struct vg_config *c;
	const struct vg_camera_config *a, *b;

	load_ok(fx, full_conf);
	c = fx->cfg;
	assert_string_equal(c->path, fx->path);
	assert_int_equal(c->has_site, 1);
	assert_string_equal(c->site.name, "Elm Court");
	assert_string_equal(c->site.address, "1-40 Elm Court, Anytown");
	assert_string_equal(c->site.area_manager, "Sam Jones");
	assert_string_equal(c->site.contact, "01234 567890");
	assert_string_equal(c->data_dir, "/srv/vigil");
	assert_string_equal(c->key_file, "/etc/vigil/master.key");
	assert_string_equal(c->catalog, "/srv/index/catalog.db");
	assert_string_equal(c->socket_path, "/run/v.sock");
	assert_int_equal(c->log_syslog, 1);
	assert_int_equal(c->log_level, VG_LOG_DEBUG);
	assert_int_equal(c->status_interval, 30);
	assert_int_equal(c->min_free_bytes, 2LL * 1024 * 1024 * 1024);
	assert_int_equal(c->min_free_percent, 0);
	assert_int_equal(c->n_cameras, 2);

	a = &c->cameras[0];
	assert_string_equal(a->name, "bin_store");
	assert_int_equal(a->line, 16);
	assert_int_equal(a->enabled, 0);
	assert_int_equal(a->kind, VG_SOURCE_FILE);
	assert_string_equal(a->device, "/srv/test.yuv");
	assert_string_equal(a->file_pix_fmt, "nv12");
	assert_int_equal(a->file_realtime, 0);
	assert_int_equal(a->file_loop, 1);
	assert_int_equal(a->n_formats, 2);
	assert_int_equal(a->formats[0], VG_FMT_MJPEG);
	assert_int_equal(a->formats[1], VG_FMT_YUYV);
	assert_int_equal(a->width, 640);
	assert_int_equal(a->height, 480);
	assert_int_equal(a->fps_num, 15);
	assert_int_equal(a->fps_den, 2);
	assert_string_equal(a->encoder, "h264_v4l2m2m");
	assert_string_equal(a->preset, "fast");
	assert_int_equal(a->bitrate_kbps, 1500);
	assert_int_equal(a->crf, 0);	/* bitrate chosen */
	assert_int_equal(a->gop, 20);
	assert_int_equal(a->segment_seconds, 120);
	assert_int_equal(a->fragment_ms, 500);
	assert_string_equal(a->purpose, "Fly-tipping");
	assert_string_equal(a->area, "Bin store, rear yard");
	assert_int_equal(a->retention_days, 60);
	assert_string_equal(a->retention_justification, "Council case 42");
	assert_string_equal(a->signage_confirmed, "2024-02-29");

	b = &c->cameras[1];
	assert_string_equal(b->name, "lift-2");
	assert_int_equal(b->line, 39);
	assert_int_equal(b->kind, VG_SOURCE_V4L2);
	assert_string_equal(b->device, "/dev/v4l/by-id/usb-cam-video-index0");
	assert_int_equal(b->fps_num, 30000);
	assert_int_equal(b->fps_den, 1001);
	assert_int_equal(b->crf, 30);
	assert_int_equal(b->bitrate_kbps, 0);
	assert_int_equal(b->gop, 60);	/* 2 s at 29.97 fps, rounded */

	assert_ptr_equal(vg_config_camera(c, "lift-2"), b);
	assert_ptr_equal(vg_config_camera(c, "bin_store"), a);
	assert_null(vg_config_camera(c, "lift"));
	assert_null(vg_config_camera(NULL, "lift-2"));
}

static void test_defaults_apply(void **state)
{
	struct fixture *fx = *state;
	const struct vg_config *c;
	const struct vg_camera_config *a;
	int i;

	load_ok(fx,
		SITE "cameras = ( { name = \"a\"; device = \"synthetic\";" PA " } );\n");
	c = fx->cfg;
	assert_string_equal(c->data_dir, "/var/lib/vigil");
	assert_string_equal(c->key_file, "/var/lib/vigil/master.key");
	assert_string_equal(c->catalog, "/var/lib/vigil/catalog.db");
	assert_string_equal(c->socket_path, "/run/vigil/vigil.sock");
	assert_int_equal(c->log_syslog, 0);
	assert_int_equal(c->log_level, VG_LOG_INFO);
	assert_int_equal(c->status_interval, 60);
	assert_int_equal(c->has_site, 1);
	assert_int_equal(c->min_free_percent, 5);
	assert_int_equal(c->hold_review_days, 30);
	assert_int_equal(c->held_warn_percent, 50);
	assert_int_equal(c->n_users, 2);
	assert_int_equal(c->min_free_bytes, 0);
	assert_string_equal(c->timezone, "Europe/London");
	assert_int_equal(c->timezone_line, 0);
	assert_int_equal(c->signage_review_days, 365);
	assert_string_equal(c->run_as, "vigil");
	assert_int_equal(c->run_as_line, 0);
	assert_int_equal(c->n_cameras, 1);

	a = &c->cameras[0];
	assert_int_equal(a->kind, VG_SOURCE_SYNTHETIC);
	assert_int_equal(a->enabled, 1);
	assert_int_equal(a->file_realtime, 1);
	assert_int_equal(a->file_loop, 0);
	assert_null(a->file_pix_fmt);
	assert_int_equal(a->n_formats, 5);
	for (i = 0; i < VG_FMT_COUNT; i++)
		assert_int_equal(a->formats[i], i);	/* yuyv, nv12, yuv420, mjpeg, h264 */
	assert_int_equal(a->width, 1280);
	assert_int_equal(a->height, 720);
	assert_int_equal(a->fps_num, 15);
	assert_int_equal(a->fps_den, 1);
	assert_string_equal(a->encoder, "libx264");
	assert_string_equal(a->preset, "veryfast");
	assert_int_equal(a->crf, 23);
	assert_int_equal(a->bitrate_kbps, 0);
	assert_int_equal(a->gop, 30);
	assert_int_equal(a->segment_seconds, 60);
	assert_int_equal(a->fragment_ms, 1000);
	assert_int_equal(a->retention_days, 31);
	assert_null(a->retention_justification);
	assert_null(a->signage_confirmed);
	/* sound off, permanent, no masks, overlay on at the top left */
	assert_int_equal(a->audio, 0);
	assert_null(a->audio_device);
	assert_null(a->audio_justification);
	assert_null(a->audio_review_by);
	assert_int_equal(a->is_temporary, 0);
	assert_int_equal(a->temporary.line, 0);
	assert_null(a->temporary.remove_by);
	assert_int_equal(a->n_masks, 0);
	assert_null(a->masks);
	assert_int_equal(a->overlay_enabled, 1);
	assert_int_equal(a->overlay_position, VG_OVERLAY_TOP_LEFT);
	assert_int_equal(a->overlay_size, 0);

	/* without cameras, no site is needed (a box being set up) */
	load_ok(fx, "log_level = \"info\";\n");
	assert_int_equal(fx->cfg->has_site, 0);
	assert_null(fx->cfg->site.name);
	assert_null(fx->cfg->site.contact);
}

static void test_derived_paths_follow_data_dir(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "data_dir = \"./run/data/\";\n");
	assert_string_equal(fx->cfg->data_dir, "./run/data/");
	assert_string_equal(fx->cfg->key_file, "./run/data/master.key");
	assert_string_equal(fx->cfg->catalog, "./run/data/catalog.db");
}

static void test_defaults_block_inherited_and_overridden(void **state)
{
	struct fixture *fx = *state;
	const struct vg_camera_config *a, *b;

	load_ok(fx,
		"defaults = {\n"
		"  fps = 10; width = 800; height = 600; crf = 28;\n"
		"  formats = [ \"h264\" ]; preset = \"ultrafast\"; segment_seconds = 30;\n"
		"};\n"
		SITE "cameras = (\n"
		"  { name = \"a\"; device = \"synthetic\";" PA " },\n"
		"  { name = \"b\"; device = \"/dev/video1\";" PA " fps = 25; width = 1024;\n"
		"    bitrate = 3000; formats = [ \"yuyv\", \"mjpeg\" ]; }\n"
		");\n");
	a = vg_config_camera(fx->cfg, "a");
	b = vg_config_camera(fx->cfg, "b");
	assert_non_null(a);
	assert_non_null(b);

	assert_int_equal(a->fps_num, 10);
	assert_int_equal(a->width, 800);
	assert_int_equal(a->height, 600);
	assert_int_equal(a->crf, 28);
	assert_int_equal(a->bitrate_kbps, 0);
	assert_int_equal(a->n_formats, 1);
	assert_int_equal(a->formats[0], VG_FMT_H264);
	assert_string_equal(a->preset, "ultrafast");
	assert_int_equal(a->segment_seconds, 30);
	assert_int_equal(a->gop, 20);	/* 2 s of the inherited 10 fps */

	assert_int_equal(b->fps_num, 25);
	assert_int_equal(b->width, 1024);
	assert_int_equal(b->height, 600);	/* not overridden */
	/* bitrate in the camera replaces the defaults' crf: no conflict */
	assert_int_equal(b->bitrate_kbps, 3000);
	assert_int_equal(b->crf, 0);
	assert_int_equal(b->n_formats, 2);
	assert_int_equal(b->formats[0], VG_FMT_YUYV);
	assert_int_equal(b->formats[1], VG_FMT_MJPEG);
	assert_string_equal(b->preset, "ultrafast");
	assert_int_equal(b->gop, 50);
}

static void test_fps_fractions(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *fps;
		int num, den;
	} cases[] = {
		{ "15", 15, 1 }, { "7.5", 15, 2 }, { "29.97", 30000, 1001 },
		{ "23.976", 24000, 1001 }, { "12.5", 25, 2 }, { "120.0", 120, 1 },
	};
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 SITE "cameras = ( { name = \"a\"; device = \"synthetic\";" PA " fps = %s; } );\n",
			 cases[i].fps);
		load_ok(fx, text);
		assert_int_equal(fx->cfg->cameras[0].fps_num, cases[i].num);
		assert_int_equal(fx->cfg->cameras[0].fps_den, cases[i].den);
	}
}

static void test_min_free_forms(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "storage = { min_free = \"500M\"; };\n");
	assert_int_equal(fx->cfg->min_free_bytes, 500LL * 1024 * 1024);
	assert_int_equal(fx->cfg->min_free_percent, 0);
	load_ok(fx, "storage = { min_free = \"10%\"; };\n");
	assert_int_equal(fx->cfg->min_free_bytes, 0);
	assert_int_equal(fx->cfg->min_free_percent, 10);
	load_ok(fx, "storage = { min_free = 1000000; };\n");
	assert_int_equal(fx->cfg->min_free_bytes, 1000000);
	assert_int_equal(fx->cfg->min_free_percent, 0);
	load_ok(fx, "storage = { min_free = \"1.5G\"; };\n");
	assert_int_equal(fx->cfg->min_free_bytes, 1536LL * 1024 * 1024);

	load_bad(fx,
		"storage = {\n"				/* 1 */
		"  min_free = \"lots\";\n"		/* 2 */
		"};\n");				/* 3 */
	expect_error(fx, 2, "min_free \"lots\"", "\"5%\"", "\"2G\"", NULL);
}

static void test_zero_cameras_is_valid(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "# nothing configured yet\n");
	assert_int_equal(fx->cfg->n_cameras, 0);
	assert_null(fx->cfg->cameras);
	load_ok(fx, SITE "cameras = ( );\n");
	assert_int_equal(fx->cfg->n_cameras, 0);
}


/* The off-box witness (witness.h): all four of host, ca, cert, key, or an
 * error naming what is missing; port defaults to RFC 5425's 6514. */
static void test_witness_block(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "# no witness\n");
	assert_null(fx->cfg->witness.host);
	load_ok(fx, "witness = { host = \"logs.example.org\"; ca = \"/etc/vigil/ca.pem\";\n"
		" cert = \"/etc/vigil/box.crt\"; key = \"/etc/vigil/box.key\"; };\n");
	assert_string_equal(fx->cfg->witness.host, "logs.example.org");
	assert_string_equal(fx->cfg->witness.key, "/etc/vigil/box.key");
	assert_int_equal(fx->cfg->witness.port, 6514);
	assert_null(fx->cfg->witness.name);
	/* reached by address, its certificate checked by name */
	load_ok(fx, "witness = { host = \"192.0.2.7\"; name = \"logs.example.org\";\n"
		" ca = \"/etc/vigil/ca.pem\"; cert = \"/etc/vigil/box.crt\";\n"
		" key = \"/etc/vigil/box.key\"; };\n");
	assert_string_equal(fx->cfg->witness.host, "192.0.2.7");
	assert_string_equal(fx->cfg->witness.name, "logs.example.org");
	load_bad(fx, "witness = { host = \"192.0.2.7\"; ca = \"/etc/vigil/ca.pem\";\n"
		 " cert = \"/etc/vigil/box.crt\"; key = \"/etc/vigil/box.key\";\n"
		 " name = \"logs.example.org:6514\"; };\n");			/* 3 */
	expect_error(fx, 3, "witness name is the host name on the collector's certificate",
		     NULL);
	load_bad(fx, "witness = { host = \"logs.example.org\"; port = 70000;\n"	/* 1 */
		 " ca = \"ca.pem\"; cert = \"/etc/vigil/box.crt\"; };\n");		/* 2 */
	expect_error(fx, 1, "witness needs key", "mutual TLS", NULL);
	expect_error(fx, 2, "witness ca must be an absolute path", NULL);
	expect_error(fx, 1, "port must be between 1 and 65535", NULL);
	load_bad(fx, "witness = { hots = \"x\"; };\n");
	expect_error(fx, 1, "'hots'", "did you mean 'host'?", NULL);
}

/* libconfig 1.5 makes the ';' after a setting optional; vigil follows it. */
static void test_missing_semicolon_is_accepted(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx,
		"log_level = \"warn\"\n"
		SITE "cameras = ( { name = \"a\"\n device = \"synthetic\"\n fps = 5" PA " } )\n");
	assert_int_equal(fx->cfg->log_level, VG_LOG_WARN);
	assert_int_equal(fx->cfg->cameras[0].fps_num, 5);
}

/* ------------------------------------------------------------------ */
/* One test per error message */

static void test_missing_name(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"				/* 1 */
		"  {\n"					/* 2 */
		"    device = \"synthetic\";" PA "\n"		/* 3 */
		"  }\n"					/* 4 */
		");\n");				/* 5 */
	/* a missing key points at its block */
	expect_error(fx, 2, "camera #1", "name is missing", "name = \"", NULL);
	assert_int_equal(count_lines(fx->err), 1);
}

static void test_bad_name_chars(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"				/* 1 */
		"  { name = \"ok\"; device = \"synthetic\";" PA " },\n"	/* 2 */
		"  {\n"					/* 3 */
		"    name = \"Lift 1\";\n"		/* 4 */
		"    device = \"synthetic\";" PA "\n"		/* 5 */
		"  }\n"					/* 6 */
		");\n");				/* 7 */
	expect_error(fx, 4, "camera #2", "\"Lift 1\"", "lowercase", "'-'", "'_'", NULL);

	load_bad(fx,
		SITE "cameras = ( { device = \"synthetic\";" PA "\n"			/* 1 */
		"  name = \"a-very-long-camera-name-that-goes-on\"; } );\n");	/* 2 */
	expect_error(fx, 2, "at most 32", NULL);
}

static void test_duplicate_name_names_both_lines(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"				/* 1 */
		"  {\n"					/* 2 */
		"    name = \"lift\";\n"		/* 3 */
		"    device = \"/dev/video0\";" PA "\n"	/* 4 */
		"  },\n"				/* 5 */
		"  {\n"					/* 6 */
		"    name = \"lift\";\n"		/* 7 */
		"    device = \"/dev/video1\";" PA "\n"	/* 8 */
		"  }\n"					/* 9 */
		");\n");				/* 10 */
	expect_error(fx, 7, "\"lift\"", "twice", "lines 3 and 7", NULL);
	assert_int_equal(count_lines(fx->err), 1);
}

static void test_missing_device(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"				/* 1 */
		"  {\n"					/* 2 */
		"    name = \"lift\";" PA "\n"		/* 3 */
		"  }\n"					/* 4 */
		");\n");				/* 5 */
	expect_error(fx, 2, "camera \"lift\"", "device is missing", "/dev/video0", NULL);
}

static void test_relative_device(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"				/* 1 */
		"  {\n"					/* 2 */
		"    name = \"lift\";\n"		/* 3 */
		"    device = \"video0\";" PA "\n"		/* 4 */
		"  }\n"					/* 5 */
		");\n");				/* 6 */
	expect_error(fx, 4, "camera \"lift\"", "\"video0\"", "relative", "/dev/video0", NULL);

	/* absolute, but not a device */
	load_bad(fx,
		SITE "cameras = (\n"					/* 1 */
		"  { name = \"lift\"; device = \"/tmp/cam\";" PA " }\n"	/* 2 */
		");\n");					/* 3 */
	expect_error(fx, 2, "\"/tmp/cam\"", "/dev/", "synthetic", NULL);
}

static void test_unknown_key_with_suggestion(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		"log_levle = \"info\";\n"		/* 1 */
		SITE "cameras = (\n"				/* 2 */
		"  {\n"					/* 3 */
		"    name = \"lift\";\n"		/* 4 */
		"    device = \"/dev/video0\";" PA "\n"	/* 5 */
		"    fsp = 15;\n"			/* 6 */
		"    colour = true;\n"			/* 7 */
		"  }\n"					/* 8 */
		");\n");				/* 9 */
	expect_error(fx, 6, "unknown setting 'fsp' in camera \"lift\"; did you mean 'fps'?",
		     NULL);
	expect_error(fx, 1, "unknown setting 'log_levle'", "did you mean 'log_level'?", NULL);
	/* nothing close: the known settings are listed instead */
	expect_error(fx, 7, "unknown setting 'colour' in camera \"lift\"", "device", "fps",
		     NULL);
	assert_int_equal(count_lines(fx->err), 3);
}

static void test_setting_in_wrong_block(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		"fps = 15;\n"					/* 1 */
		"defaults = {\n"				/* 2 */
		"  device = \"/dev/video0\";\n"			/* 3 */
		"  fpz = 15;\n"					/* 4 */
		"};\n");					/* 5 */
	expect_error(fx, 1, "'fps'", "camera setting", "defaults", NULL);
	expect_error(fx, 3, "'device'", "each camera", NULL);
	expect_error(fx, 4, "unknown setting 'fpz' in defaults; did you mean 'fps'?", NULL);
}

static void test_wrong_type(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		"status_interval = \"60\";\n"		/* 1 */
		SITE "cameras = (\n"				/* 2 */
		"  {\n"					/* 3 */
		"    name = \"lift\";\n"		/* 4 */
		"    device = \"/dev/video0\";" PA "\n"	/* 5 */
		"    fps = \"15\";\n"			/* 6 */
		"    enabled = \"yes\";\n"		/* 7 */
		"    crf = 20.5;\n"			/* 8 */
		"    preset = 3;\n"			/* 9 */
		"  }\n"					/* 10 */
		");\n");				/* 11 */
	expect_error(fx, 6, "camera \"lift\": fps must be a number like 15, not a string", NULL);
	expect_error(fx, 1, "status_interval must be a whole number", "not a string", NULL);
	expect_error(fx, 7, "enabled must be true or false, not a string", NULL);
	expect_error(fx, 8, "crf must be a whole number", "not a decimal number", NULL);
	expect_error(fx, 9, "preset must be a string", "not a whole number", NULL);
	assert_int_equal(count_lines(fx->err), 5);
}

static void test_out_of_range(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"				/* 1 */
		"  {\n"					/* 2 */
		"    name = \"lift\";\n"		/* 3 */
		"    device = \"/dev/video0\";" PA "\n"	/* 4 */
		"    fps = 0;\n"			/* 5 */
		"    width = 100;\n"			/* 6 */
		"    height = 721;\n"			/* 7 */
		"    crf = 52;\n"			/* 8 */
		"  }\n"					/* 9 */
		");\n");				/* 10 */
	expect_error(fx, 5, "camera \"lift\": fps must be between 1 and 120", "(got 0)", NULL);
	expect_error(fx, 6, "width must be between 160 and 3840", "(got 100)", NULL);
	expect_error(fx, 7, "height must be an even number", "721", NULL);
	expect_error(fx, 8, "crf must be between 0 and 51", "(got 52)", NULL);
	assert_int_equal(count_lines(fx->err), 4);

	load_bad(fx,
		SITE "cameras = ( { name = \"lift\"; device = \"/dev/video0\";" PA "\n"	/* 1 */
		"  fps = 120.5; } );\n");					/* 2 */
	expect_error(fx, 2, "fps must be between 1 and 120", "120.5", NULL);
}

static void test_crf_and_bitrate_both(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"				/* 1 */
		"  {\n"					/* 2 */
		"    name = \"lift\";\n"		/* 3 */
		"    device = \"/dev/video0\";" PA "\n"	/* 4 */
		"    crf = 20;\n"			/* 5 */
		"    bitrate = 2000;\n"			/* 6 */
		"  }\n"					/* 7 */
		");\n");				/* 8 */
	expect_error(fx, 6, "camera \"lift\"", "crf (line 5)", "bitrate", "pick one", NULL);
	assert_int_equal(count_lines(fx->err), 1);

	/* the same conflict inside defaults */
	load_bad(fx,
		"defaults = {\n"			/* 1 */
		"  bitrate = 900; crf = 20;\n"		/* 2 */
		"};\n");				/* 3 */
	expect_error(fx, 2, "defaults:", "pick one", NULL);
}

static void test_bad_format_name(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"					/* 1 */
		"  {\n"						/* 2 */
		"    name = \"lift\";\n"			/* 3 */
		"    device = \"/dev/video0\";" PA "\n"		/* 4 */
		"    formats = [\n"				/* 5 */
		"      \"yuyv\",\n"				/* 6 */
		"      \"mpeg\"\n"				/* 7 */
		"    ];\n"					/* 8 */
		"  }\n"						/* 9 */
		");\n");					/* 10 */
	expect_error(fx, 7, "camera \"lift\"", "unknown format \"mpeg\"", "did you mean \"mjpeg\"",
		     "\"h264\"", NULL);

	/* libconfig joins "yuyv" "nv12" into one string when the comma is left out */
	load_bad(fx,
		SITE "cameras = ( { name = \"lift\"; device = \"/dev/video0\";" PA "\n"	/* 1 */
		"  formats = [ \"yuyv\" \"nv12\" ]; } );\n");			/* 2 */
	expect_error(fx, 2, "\"yuyvnv12\"", "comma is missing", NULL);
}

static void test_duplicate_format(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"					/* 1 */
		"  {\n"						/* 2 */
		"    name = \"lift\";\n"			/* 3 */
		"    device = \"/dev/video0\";" PA "\n"		/* 4 */
		"    formats = [ \"nv12\",\n"			/* 5 */
		"                \"mjpeg\",\n"			/* 6 */
		"                \"nv12\" ];\n"			/* 7 */
		"  }\n"						/* 8 */
		");\n");					/* 9 */
	expect_error(fx, 7, "camera \"lift\"", "\"nv12\"", "listed twice", NULL);
	assert_int_equal(count_lines(fx->err), 1);
}

static void test_file_source_without_pixel_format(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"					/* 1 */
		"  {\n"						/* 2 */
		"    name = \"bench\";\n"			/* 3 */
		"    device = \"file:/tmp/frames.yuv\";" PA "\n"	/* 4 */
		"  }\n"						/* 5 */
		");\n");					/* 6 */
	expect_error(fx, 2, "camera \"bench\"", "pixel_format is missing", "yuyv422", "nv12",
		     "yuv420p", NULL);

	load_bad(fx,
		SITE "cameras = (\n"					/* 1 */
		"  { name = \"bench\"; device = \"file:/tmp/f.yuv\";" PA "\n"	/* 2 */
		"    pixel_format = \"rgb24\"; },\n"		/* 3 */
		"  { name = \"cam\"; device = \"/dev/video0\";" PA "\n"	/* 4 */
		"    pixel_format = \"nv12\"; }\n"		/* 5 */
		");\n");					/* 6 */
	expect_error(fx, 3, "pixel_format \"rgb24\" is not supported", "yuv420p", NULL);
	expect_error(fx, 5, "camera \"cam\"", "pixel_format only applies", "file:", NULL);
}

static void test_syntax_error_with_line(void **state)
{
	struct fixture *fx = *state;

	/* The comma between two camera blocks left out. */
	load_bad(fx,
		SITE "cameras = (\n"					/* 1 */
		"  {\n"						/* 2 */
		"    name = \"a\";\n"				/* 3 */
		"    device = \"synthetic\";" PA "\n"			/* 4 */
		"  }\n"						/* 5 */
		"  {\n"						/* 6 */
		"    name = \"b\";\n"				/* 7 */
		"    device = \"synthetic\";" PA "\n"			/* 8 */
		"  }\n"						/* 9 */
		");\n");					/* 10 */
	expect_error(fx, 6, "syntax error", "comma is missing", "line 5", NULL);
	assert_int_equal(count_lines(fx->err), 1);

	/* A word without quotes. */
	load_bad(fx,
		"data_dir = \"/srv/vigil\";\n"			/* 1 */
		"log = syslog;\n"				/* 2 */
		"log_level = \"info\";\n");			/* 3 */
	expect_error(fx, 2, "syntax error", "double quotes", NULL);

	/* A string never closed: the parser runs to the end of the file,
	 * but the problem is where the string starts. */
	load_bad(fx,
		"data_dir = \"/srv/vigil\";\n"			/* 1 */
		"socket = \"/run/vigil.sock;\n"			/* 2 */
		"log_level = \"info\";\n");			/* 3 */
	expect_error(fx, 2, "syntax error", "starts on this line", "closing double quote", NULL);
	assert_int_equal(count_lines(fx->err), 1);

	/* ... or runs on to a later quote, where libconfig gives up lines
	 * after the cause (issue 12: line 2 was reported at line 5). */
	load_bad(fx,
		"# vigil.conf\n"					/* 1 */
		"log_level = \"info;\n"				/* 2 */
		"status_interval = 60;\n"				/* 3 */
		"# where the footage goes\n"				/* 4 */
		"data_dir = \"/var/lib/vigil\";\n");		/* 5 */
	expect_error(fx, 2, "syntax error", "starts on this line", "closing double quote", NULL);
	assert_int_equal(count_lines(fx->err), 1);
}

static void test_missing_file(void **state)
{
	struct fixture *fx = *state;
	char err[512];
	struct vg_config *cfg = (struct vg_config *)1;
	char expect[300];
	int r;

	r = vg_config_load(fx->path, &cfg, err, sizeof(err));
	assert_int_equal(r, -VG_ENOENT);
	assert_null(cfg);
	snprintf(expect, sizeof(expect), "%s: cannot open: No such file or directory; create it "
		 "from /usr/share/doc/vigil/vigil.conf.example\n", fx->path);
	assert_string_equal(err, expect);

	/* a directory is not a config file */
	r = vg_config_load(fx->dir, &cfg, err, sizeof(err));
	assert_int_equal(r, -VG_ECONFIG);
	assert_null(cfg);
	assert_non_null(strstr(err, "directory"));
}

static void test_retention_above_31_needs_justification(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"					/* 1 */
		"  {\n"						/* 2 */
		"    name = \"lift\";\n"			/* 3 */
		"    device = \"/dev/video0\";" PA "\n"		/* 4 */
		"    retention_days = 90;\n"			/* 5 */
		"  }\n"						/* 6 */
		");\n");					/* 7 */
	expect_error(fx, 5, "camera \"lift\"", "retention_days is 90", "31",
		     "retention_justification", NULL);
	assert_int_equal(count_lines(fx->err), 1);

	/* with a reason it is accepted; 31 itself needs none */
	load_ok(fx,
		SITE "cameras = (\n"
		"  { name = \"lift\"; device = \"/dev/video0\";" PA " retention_days = 90;\n"
		"    retention_justification = \"Police request 12/3456\"; },\n"
		"  { name = \"hall\"; device = \"/dev/video1\";" PA " retention_days = 31; }\n"
		");\n");
	assert_int_equal(fx->cfg->cameras[0].retention_days, 90);
	assert_int_equal(fx->cfg->cameras[1].retention_days, 31);
	assert_null(fx->cfg->cameras[1].retention_justification);

	load_bad(fx,
		SITE "cameras = ( { name = \"lift\"; device = \"/dev/video0\";" PA "\n"	/* 1 */
		"  retention_days = 0; } );\n");				/* 2 */
	expect_error(fx, 2, "retention_days must be between 1 and 3650", NULL);
}

static void test_bad_signage_date(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"					/* 1 */
		"  {\n"						/* 2 */
		"    name = \"lift\";\n"			/* 3 */
		"    device = \"/dev/video0\";" PA "\n"		/* 4 */
		"    signage_confirmed = \"2023-02-29\";\n"	/* 5 */
		"  },\n"					/* 6 */
		"  {\n"						/* 7 */
		"    name = \"hall\";\n"			/* 8 */
		"    device = \"/dev/video1\";" PA "\n"		/* 9 */
		"    signage_confirmed = \"1/3/2024\";\n"	/* 10 */
		"  }\n"						/* 11 */
		");\n");					/* 12 */
	expect_error(fx, 5, "camera \"lift\"", "\"2023-02-29\"", "not a real date",
		     "YYYY-MM-DD", NULL);
	expect_error(fx, 10, "camera \"hall\"", "\"1/3/2024\"", "YYYY-MM-DD", NULL);
	assert_int_equal(count_lines(fx->err), 2);
}

static void test_several_errors_all_reported(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		"log = \"screen\";\n"				/* 1 */
		"status_interval = 0;\n"			/* 2 */
		SITE "cameras = (\n"					/* 3 */
		"  {\n"						/* 4 */
		"    name = \"lift\";\n"			/* 5 */
		"    device = \"video0\";" PA "\n"			/* 6 */
		"    fps = 200;\n"				/* 7 */
		"  },\n"					/* 8 */
		"  {\n"						/* 9 */
		"    device = \"synthetic\";" PA "\n"			/* 10 */
		"    preset = \"superslow\";\n"			/* 11 */
		"  },\n"					/* 12 */
		"  {\n"						/* 13 */
		"    name = \"lift\";\n"			/* 14 */
		"    device = \"/dev/video1\";" PA "\n"		/* 15 */
		"    gop = 0;\n"				/* 16 */
		"  }\n"						/* 17 */
		");\n");					/* 18 */
	expect_error(fx, 1, "log \"screen\"", "\"stderr\", \"syslog\"", NULL);
	expect_error(fx, 2, "status_interval must be between 1 and 3600", NULL);
	expect_error(fx, 6, "relative", NULL);
	expect_error(fx, 7, "fps must be between 1 and 120", NULL);
	expect_error(fx, 9, "camera #2", "name is missing", NULL);
	expect_error(fx, 11, "camera #2", "preset \"superslow\"", "veryslow", NULL);
	expect_error(fx, 14, "lines 5 and 14", NULL);
	expect_error(fx, 16, "camera \"lift\"", "gop must be between 1 and 600", NULL);
	assert_int_equal(count_lines(fx->err), 8);
	/* sorted by line, so the installer can work down the file */
	assert_non_null(strstr(fx->err, ":1: "));
	assert_true(strstr(fx->err, ":1: ") < strstr(fx->err, ":16: "));
}

static void test_small_errbuf_keeps_whole_lines(void **state)
{
	struct fixture *fx = *state;
	struct vg_config *cfg = NULL;
	char small[400];
	char *nl;
	FILE *fp;

	fp = fopen(fx->path, "w");
	assert_non_null(fp);
	fputs(SITE "cameras = (\n"
	      "  { name = \"A\"; device = \"x\";" PA " fps = 0; width = 1; height = 1; crf = 99; }\n"
	      ");\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(vg_config_load(fx->path, &cfg, small, sizeof(small)), -VG_ECONFIG);
	assert_null(cfg);
	nl = strrchr(small, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	assert_non_null(strstr(small, "more problems not shown"));
	assert_int_equal(strncmp(small, fx->path, strlen(fx->path)), 0);

	/* no buffer at all is allowed */
	assert_int_equal(vg_config_load(fx->path, &cfg, NULL, 0), -VG_ECONFIG);
	assert_int_equal(vg_config_load(NULL, &cfg, NULL, 0), -VG_EINVAL);
}

static void test_camera_equal(void **state)
{
	struct fixture *fx = *state;
	static const char base[] =
		SITE "cameras = ( { name = \"a\"; device = \"/dev/video0\"; fps = 15;\n"
		"  purpose = \"%s\"; area = \"Hall\"; crf = %d; } );\n";
	char text[512];
	struct vg_config *first;

	snprintf(text, sizeof(text), base, "Stairwell ASB", 23);
	load_ok(fx, text);
	first = fx->cfg;
	fx->cfg = NULL;

	/* same recording, different paperwork: still equal */
	snprintf(text, sizeof(text), base, "Fly-tipping", 23);
	load_ok(fx, text);
	assert_int_equal(vg_config_camera_equal(&first->cameras[0], &fx->cfg->cameras[0]), 1);

	/* a different quality means the camera must restart */
	snprintf(text, sizeof(text), base, "Stairwell ASB", 24);
	load_ok(fx, text);
	assert_int_equal(vg_config_camera_equal(&first->cameras[0], &fx->cfg->cameras[0]), 0);
	vg_config_free(first);
}

static void test_format_names(void **state)
{
	(void)state;
	assert_string_equal(vg_cam_format_name(VG_FMT_YUYV), "yuyv");
	assert_string_equal(vg_cam_format_name(VG_FMT_NV12), "nv12");
	assert_string_equal(vg_cam_format_name(VG_FMT_YUV420), "yuv420");
	assert_string_equal(vg_cam_format_name(VG_FMT_MJPEG), "mjpeg");
	assert_string_equal(vg_cam_format_name(VG_FMT_H264), "h264");
	assert_string_equal(vg_cam_format_name(VG_FMT_COUNT), "?");
}

/* ------------------------------------------------------------------ */
/* Shipped files */

static void test_shipped_example_loads(void **state)
{
	struct fixture *fx = *state;
	int r = vg_config_load("config/vigil.conf", &fx->cfg, fx->err, sizeof(fx->err));

	if (r != 0)
		print_error("config/vigil.conf:\n%s", fx->err);
	assert_int_equal(r, 0);
	assert_int_equal(fx->cfg->has_site, 1);
	assert_int_equal(fx->cfg->n_cameras, 2);
	assert_int_equal(fx->cfg->cameras[0].kind, VG_SOURCE_V4L2);
	assert_string_equal(fx->cfg->cameras[0].device, "/dev/video0");
	assert_int_equal(fx->cfg->cameras[1].kind, VG_SOURCE_SYNTHETIC);
}

/* vigil.conf(5)'s EXAMPLE is a file that loads as it stands (issue 12:
 * it was refused with two errors, then a third). */
static void test_man_page_example_loads(void **state)
{
	struct fixture *fx = *state;
	FILE *fp = fopen("docs/man/vigil.conf.5", "r");
	char man[65536], text[8192];
	const char *a, *b;
	size_t n, o = 0;

	assert_non_null(fp);
	n = fread(man, 1, sizeof(man) - 1, fp);
	fclose(fp);
	man[n] = '\0';
	a = strstr(man, ".SH EXAMPLE\n.EX\n");
	assert_non_null(a);
	a += strlen(".SH EXAMPLE\n.EX\n");
	b = strstr(a, "\n.EE");
	assert_non_null(b);
	/* troff's \- is a plain '-' */
	for (; a < b && o + 2 < sizeof(text); a++) {
		if (a[0] == '\\' && a[1] == '-')
			a++;
		text[o++] = *a;
	}
	text[o++] = '\n';
	text[o] = '\0';
	load_ok(fx, text);
	assert_int_equal(fx->cfg->n_cameras, 2);
	assert_int_equal(fx->cfg->n_users, 3);
	assert_string_equal(fx->cfg->timezone, "Europe/London");
}

static void test_synthetic_run_config_loads(void **state)
{
	struct fixture *fx = *state;
	const struct vg_camera_config *a, *b;
	int r = vg_config_load("config/vigil-synthetic.conf", &fx->cfg, fx->err,
			       sizeof(fx->err));

	if (r != 0)
		print_error("config/vigil-synthetic.conf:\n%s", fx->err);
	assert_int_equal(r, 0);
	assert_string_equal(fx->cfg->data_dir, "./run/data");
	assert_string_equal(fx->cfg->socket_path, "./run/vigil.sock");
	a = vg_config_camera(fx->cfg, "synthetic-a");
	b = vg_config_camera(fx->cfg, "synthetic-b");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->kind, VG_SOURCE_SYNTHETIC);
	assert_int_equal(b->kind, VG_SOURCE_SYNTHETIC);
	assert_int_equal(a->width, 640);
	assert_int_equal(a->height, 360);
	assert_int_equal(a->fps_num, 15);
	assert_int_equal(a->fps_den, 1);
	assert_string_equal(b->preset, "ultrafast");
	assert_int_equal(b->segment_seconds, 10);
}

static void test_fixture_files(void **state)
{
	struct fixture *fx = *state;
	int r;

	r = vg_config_load("tests/data/config/minimal.conf", &fx->cfg, fx->err,
			   sizeof(fx->err));
	if (r != 0)
		print_error("%s", fx->err);
	assert_int_equal(r, 0);
	assert_int_equal(fx->cfg->n_cameras, 1);
	vg_config_free(fx->cfg);
	fx->cfg = NULL;

	r = vg_config_load("tests/data/config/several-errors.conf", &fx->cfg, fx->err,
			   sizeof(fx->err));
	assert_int_equal(r, -VG_ECONFIG);
	assert_non_null(strstr(fx->err, "tests/data/config/several-errors.conf:16: "));
	assert_non_null(strstr(fx->err, "did you mean 'fps'?"));
	assert_non_null(strstr(fx->err, "cameras are listed but no users"));
	assert_int_equal(count_lines(fx->err), 5);
}

/* ------------------------------------------------------------------ */
/* The CCTV policy by construction */

static void test_policy_refusals(void **state)
{
	struct fixture *fx = *state;

	/* cameras without a site; a camera without purpose and area */
	load_bad(fx,
		"cameras = (\n"						/* 1 */
		"  {\n"							/* 2 */
		"    name = \"lift\"; device = \"/dev/video0\";\n"	/* 3 */
		"  }\n"							/* 4 */
		");\n");						/* 5 */
	expect_error(fx, 1, "no site = { ... } block", "records nothing", NULL);
	expect_error(fx, 1, "cameras are listed but no users", "records nothing",
		     "role = \"area_manager\"", NULL);
	expect_error(fx, 2, "camera \"lift\": purpose is missing", "principle 1", NULL);
	expect_error(fx, 2, "camera \"lift\": area is missing", NULL);
	assert_int_equal(count_lines(fx->err), 4);

	/* an incomplete site */
	load_bad(fx,
		"site = {\n"						/* 1 */
		"  name = \"Elm Court\";\n"				/* 2 */
		"};\n");						/* 3 */
	expect_error(fx, 1, "site: address is missing", NULL);
	expect_error(fx, 1, "site: area_manager is missing", NULL);
	expect_error(fx, 1, "site: contact is missing", NULL);
	assert_int_equal(count_lines(fx->err), 3);
}

static void test_audio_needs_justification_and_review(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		SITE "cameras = (\n"					/* 1 */
		"  { name = \"door\"; device = \"/dev/video0\";" PA "\n"	/* 2 */
		"    audio = true; }\n"					/* 3 */
		");\n");						/* 4 */
	expect_error(fx, 3, "camera \"door\"", "audio_justification is missing", "3.11", NULL);
	expect_error(fx, 3, "camera \"door\"", "audio_review_by is missing", NULL);
	assert_int_equal(count_lines(fx->err), 2);

	load_bad(fx,
		SITE "cameras = ( { name = \"door\"; device = \"/dev/video0\";" PA "\n"	/* 1 */
		"  audio = true; audio_justification = \"Vulnerable resident\";\n"	/* 2 */
		"  audio_review_by = \"2026-13-01\"; } );\n");			/* 3 */
	expect_error(fx, 3, "audio_review_by \"2026-13-01\" is not a real date", NULL);

	load_ok(fx,
		SITE "cameras = ( { name = \"door\"; device = \"/dev/video0\";" PA "\n"
		"  audio = true; audio_justification = \"Vulnerable resident\";\n"
		"  audio_device = \"synthetic\"; audio_review_by = \"2026-06-30\"; } );\n");
	assert_int_equal(fx->cfg->cameras[0].audio, 1);
	assert_int_equal(fx->cfg->cameras[0].audio_line, 2);
	assert_string_equal(fx->cfg->cameras[0].audio_device, "synthetic");
	assert_string_equal(fx->cfg->cameras[0].audio_justification, "Vulnerable resident");
	assert_string_equal(fx->cfg->cameras[0].audio_review_by, "2026-06-30");
}

static void test_temporary_block(void **state)
{
	struct fixture *fx = *state;
	const struct vg_temporary_config *t;

	load_bad(fx,
		SITE "cameras = ( { name = \"tmp\"; device = \"/dev/video0\";" PA "\n"	/* 1 */
		"  temporary = {\n"					/* 2 */
		"    equipment = \"Dome kit 3\";\n"			/* 3 */
		"    installed = \"2026-03-01\";\n"			/* 4 */
		"    remove_by = \"2026-02-01\";\n"			/* 5 */
		"  }; } );\n");						/* 6 */
	expect_error(fx, 2, "camera \"tmp\": temporary: reason is missing", "policy 3.4", NULL);
	expect_error(fx, 2, "temporary: case_reference is missing", NULL);
	expect_error(fx, 5, "remove_by \"2026-02-01\" is not after installed \"2026-03-01\"",
		     NULL);
	assert_int_equal(count_lines(fx->err), 3);

	load_ok(fx,
		SITE "cameras = ( { name = \"tmp\"; device = \"/dev/video0\";" PA "\n"
		"  temporary = { equipment = \"Dome kit 3\"; reason = \"ASB at flat 12\";\n"
		"    case_reference = \"ASB-1\"; installed = \"2026-03-01\";\n"
		"    remove_by = \"2026-06-01\"; }; } );\n");
	t = &fx->cfg->cameras[0].temporary;
	assert_int_equal(fx->cfg->cameras[0].is_temporary, 1);
	assert_int_equal(t->line, 2);
	assert_string_equal(t->equipment, "Dome kit 3");
	assert_string_equal(t->reason, "ASB at flat 12");
	assert_string_equal(t->case_reference, "ASB-1");
	assert_string_equal(t->installed, "2026-03-01");
	assert_string_equal(t->remove_by, "2026-06-01");
}

static void test_masks_parsed_and_validated(void **state)
{
	struct fixture *fx = *state;
	const struct vg_mask *m;

	load_ok(fx,
		SITE "cameras = ( { name = \"yard\"; device = \"/dev/video0\";" PA "\n"
		"  width = 640; height = 480;\n"
		"  masks = ( { rect = [64, 48, 320, 240]; },\n"
		"            { polygon = [0.5, 0.0, 1.0, 0.0, 1.0, 0.5]; } ); } );\n");
	assert_int_equal(fx->cfg->cameras[0].n_masks, 2);
	m = &fx->cfg->cameras[0].masks[0];
	assert_int_equal(m->from_rect, 1);
	assert_int_equal(m->n_points, 4);
	/* pixels become fractions of the configured size */
	assert_true(m->xy[0] == 0.1 && m->xy[1] == 0.1);
	assert_true(m->xy[4] == 0.6 && m->xy[5] == 0.6);
	m = &fx->cfg->cameras[0].masks[1];
	assert_int_equal(m->n_points, 3);
	assert_true(m->xy[2] == 1.0 && m->xy[5] == 0.5);

	load_bad(fx,
		SITE "cameras = ( { name = \"yard\"; device = \"/dev/video0\";" PA "\n"	/* 1 */
		"  width = 640; height = 480; masks = (\n"		/* 2 */
		"    { rect = [600, 0, 100, 10]; },\n"			/* 3 */
		"    { rect = [0, 0, 0, 10]; },\n"			/* 4 */
		"    { polygon = [0.1, 0.1, 0.5, 0.5]; },\n"		/* 5 */
		"    { polygon = [0.1, 0.1, 1.5, 0.5, 0.2, 0.9]; },\n"	/* 6 */
		"    { rect = [1, 2, 3, 4]; polygon = [1, 2, 3, 4, 5, 6]; }\n"	/* 7 */
		"  ); } );\n");						/* 8 */
	expect_error(fx, 3, "camera \"yard\": mask #1", "outside the 640x480 picture", NULL);
	expect_error(fx, 4, "mask #2", "width and height must be more than 0", NULL);
	expect_error(fx, 5, "mask #3", "3 to 32 points", NULL);
	expect_error(fx, 6, "mask #4", "point 2 is outside", NULL);
	expect_error(fx, 7, "mask #5", "exactly one of rect", NULL);
	assert_int_equal(count_lines(fx->err), 5);
}

static void test_overlay_settings(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx,
		SITE "cameras = ( { name = \"a\"; device = \"/dev/video0\";" PA "\n"
		"  overlay = { enabled = false; position = \"bottom-right\"; size = 32; }; } );\n");
	assert_int_equal(fx->cfg->cameras[0].overlay_enabled, 0);
	assert_int_equal(fx->cfg->cameras[0].overlay_position, VG_OVERLAY_BOTTOM_RIGHT);
	assert_int_equal(fx->cfg->cameras[0].overlay_size, 32);

	load_bad(fx,
		SITE "cameras = ( { name = \"a\"; device = \"/dev/video0\";" PA "\n"	/* 1 */
		"  overlay = { position = \"top-centre\";\n"		/* 2 */
		"    size = 2; }; } );\n");				/* 3 */
	expect_error(fx, 2, "position \"top-centre\" is not known", "\"top-left\"", NULL);
	expect_error(fx, 3, "size must be between 8 and 200", NULL);
}

static void test_users_parsed_and_validated(void **state)
{
	struct fixture *fx = *state;
	const struct vg_user *u;

	load_ok(fx,
		"users = (\n"
		"  { login = \"sjones\"; name = \"Sam Jones\"; role = \"area_manager\";\n"
		"    sites = ( \"Elm Court\", \"Oak House\" ); line_manager = \"pboss\"; },\n"
		"  { login = \"pboss\"; role = \"line_manager\"; },\n"
		"  { login = \"audit\"; role = \"auditor\"; }\n"
		");\n");
	assert_int_equal(fx->cfg->n_users, 3);
	assert_int_equal(fx->cfg->users_line, 1);
	u = &fx->cfg->users[0];
	assert_string_equal(u->login, "sjones");
	assert_string_equal(u->name, "Sam Jones");
	assert_string_equal(u->role, "area_manager");
	assert_int_equal(u->n_sites, 2);
	assert_string_equal(u->sites[1], "Oak House");
	assert_string_equal(u->line_manager, "pboss");
	assert_null(fx->cfg->users[1].name);

	/* the policy's reasons, each at the list's line */
	load_bad(fx,
		"log_level = \"info\";\n"				/* 1 */
		"users = (\n"						/* 2 */
		"  { login = \"sjones\"; role = \"area_manager\"; },\n"	/* 3 */
		"  { login = \"x\"; role = \"janitor\"; }\n"		/* 4 */
		");\n");						/* 5 */
	expect_error(fx, 2, "users: area manager 'sjones' has no sites", NULL);
	expect_error(fx, 2, "users: user 'x' has an unknown role 'janitor'", NULL);

	load_bad(fx,
		"users = (\n"						/* 1 */
		"  { name = \"Nobody\"; }\n"				/* 2 */
		");\n");						/* 3 */
	expect_error(fx, 2, "user #1: login is missing", NULL);
	expect_error(fx, 2, "user #1: role is missing", NULL);
}

static void test_storage_hold_settings(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, "storage = { hold_review_days = 14; held_warn_percent = 25; };\n");
	assert_int_equal(fx->cfg->hold_review_days, 14);
	assert_int_equal(fx->cfg->held_warn_percent, 25);
	load_bad(fx,
		"storage = {\n"						/* 1 */
		"  held_warn_percent = 0;\n"				/* 2 */
		"};\n");						/* 3 */
	expect_error(fx, 2, "held_warn_percent must be between 1 and 100", NULL);
}

static void test_camera_equal_sees_masks_overlay_audio(void **state)
{
	struct fixture *fx = *state;
	static const char base[] =
		SITE "cameras = ( { name = \"a\"; device = \"/dev/video0\";" PA " %s } );\n";
	static const char *const changes[] = {
		"masks = ( { rect = [0, 0, 10, 10]; } );",
		"overlay = { enabled = false; };",
		"overlay = { position = \"top-right\"; };",
		"audio = true; audio_justification = \"x\"; audio_review_by = \"2026-01-01\";",
	};
	char text[512];
	struct vg_config *first;
	size_t i;

	snprintf(text, sizeof(text), base, "");
	load_ok(fx, text);
	first = fx->cfg;
	fx->cfg = NULL;
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		snprintf(text, sizeof(text), base, changes[i]);
		load_ok(fx, text);
		assert_int_equal(vg_config_camera_equal(&first->cameras[0],
							&fx->cfg->cameras[0]), 0);
	}
	snprintf(text, sizeof(text), base, "signage_confirmed = \"2025-01-01\";");
	load_ok(fx, text);
	assert_int_equal(vg_config_camera_equal(&first->cameras[0], &fx->cfg->cameras[0]), 1);
	vg_config_free(first);
}

/* ------------------------------------------------------------------ */
/* Issue 12: what vigild refused, or ran against the policy, is refused
 * by the loader, with every problem in one pass */

#define CAM1 "cameras = ( { name = \"a\"; device = \"synthetic\";" PA " } );\n"

/* An area manager's site misspelt: nobody could view the footage. */
static void test_site_on_account_must_be_this_site(void **state)
{
	struct fixture *fx = *state;
	static const char fmt[] =
		"site = { name = \"Elm Court\"; address = \"A\"; area_manager = \"M\"; "
		"contact = \"C\"; };\n"						/* 1 */
		CAM1								/* 2 */
		"users = (\n"							/* 3 */
		"  { login = \"sjones\"; role = \"area_manager\";\n"		/* 4 */
		"    sites = ( \"Oak House\", \"%s\" ); },\n"			/* 5 */
		"  { login = \"audit\"; role = \"auditor\"; }%s\n"		/* 6 */
		");\n";								/* 7 */
	char text[1024];

	snprintf(text, sizeof(text), fmt, "Elm Cout", "");
	load_bad(fx, text);
	expect_error(fx, 5, "site \"Elm Cout\" is not this box's site", "did you mean \"Elm Court\"",
		     "line 1", NULL);
	assert_int_equal(count_lines(fx->err), 1);
	snprintf(text, sizeof(text), fmt, "elm court", "");
	load_bad(fx, text);
	expect_error(fx, 5, "did you mean \"Elm Court\"", NULL);
	/* another box's site (a shared staff list) is no mistake, but someone
	 * must be able to view this one's footage */
	snprintf(text, sizeof(text), fmt, "Birch Row", "");
	load_bad(fx, text);
	expect_error(fx, 3, "nobody in the list may view the footage of \"Elm Court\"", NULL);
	assert_int_equal(count_lines(fx->err), 1);
	snprintf(text, sizeof(text), fmt, "Birch Row",
		 ",\n  { login = \"enf\"; role = \"enforcement\"; }");
	load_ok(fx, text);
	snprintf(text, sizeof(text), fmt, "Elm Court", "");
	load_ok(fx, text);
}

/* Cameras enabled, no users: refused (vigild used to refuse it only after
 * the check said valid), together with the file's other problems. */
static void test_cameras_need_users_in_the_same_pass(void **state)
{
	struct fixture *fx = *state;

	load_bad(fx,
		"site = { name = \"S\"; address = \"A\"; area_manager = \"M\"; contact = \"C\"; };\n"
		"cameras = ( { name = \"a\"; device = \"synthetic\"; fps = 0;" PA " } );\n");
	expect_error(fx, 2, "cameras are listed but no users", NULL);
	expect_error(fx, 2, "fps must be between 1 and 120", NULL);
	assert_int_equal(count_lines(fx->err), 2);
	/* an empty list is reported at its own line */
	load_bad(fx,
		"site = { name = \"S\"; address = \"A\"; area_manager = \"M\"; contact = \"C\"; };\n"
		CAM1
		"users = ( );\n");
	expect_error(fx, 3, "cameras are listed but no users", NULL);
	/* only disabled cameras: a box being set up */
	load_ok(fx,
		"site = { name = \"S\"; address = \"A\"; area_manager = \"M\"; contact = \"C\"; };\n"
		"cameras = ( { name = \"a\"; device = \"synthetic\"; enabled = false;" PA " } );\n");
}

/* Blank text, a case reference that is none, an audio device vigild
 * cannot open by that name, a socket path too long for its address. */
static void test_values_vigild_could_not_use(void **state)
{
	struct fixture *fx = *state;
	char text[1024], sock[200];

	load_bad(fx, SITE "cameras = ( { name = \"a\"; device = \"synthetic\";\n"	/* 1 */
		"  purpose = \"   \"; area = \"\\t\"; } );\n");			/* 2 */
	expect_error(fx, 2, "purpose is only spaces", NULL);
	expect_error(fx, 2, "area is only spaces", NULL);

	load_bad(fx, SITE "cameras = ( { name = \"a\"; device = \"synthetic\";" PA "\n"	/* 1 */
		"  temporary = { equipment = \"E\"; reason = \"R\"; installed = \"2026-01-01\";\n"
		"    remove_by = \"2026-02-01\"; case_reference = \"whatever\"; }; } );\n");	/* 3 */
	expect_error(fx, 3, "case_reference \"whatever\" is not a case reference",
		     "ASB-, CRIME- or CASE-", NULL);
	load_bad(fx, SITE "cameras = ( { name = \"a\"; device = \"synthetic\";" PA "\n"
		"  temporary = { equipment = \"E\"; reason = \"R\"; installed = \"2026-01-01\";\n"
		"    remove_by = \"2026-02-01\"; case_reference = \"DSAR-4\"; }; } );\n");
	expect_error(fx, 3, "is not a case reference", NULL);
	load_ok(fx, SITE "cameras = ( { name = \"a\"; device = \"synthetic\";" PA "\n"
		"  temporary = { equipment = \"E\"; reason = \"R\"; installed = \"2026-01-01\";\n"
		"    remove_by = \"2026-02-01\"; case_reference = \"crime-42/2026\"; }; } );\n");

	load_bad(fx, SITE "cameras = ( { name = \"a\"; device = \"synthetic\";" PA "\n"	/* 1 */
		"  audio = true; audio_device = \"hw:1\"; audio_justification = \"J\";\n"	/* 2 */
		"  audio_review_by = \"2026-06-30\"; } );\n");
	expect_error(fx, 2, "audio_device \"hw:1\" is not known", "alsa:NAME", NULL);

	/* sun_path holds 107 characters and the NUL */
	memset(sock, 'x', sizeof(sock));
	sock[0] = '/';
	sock[107] = '\0';
	snprintf(text, sizeof(text), SITE "socket = \"%s\";\n" CAM1, sock);
	load_ok(fx, text);
	assert_int_equal(fx->cfg->socket_line, 1);
	sock[107] = 'x';
	sock[108] = '\0';
	snprintf(text, sizeof(text), SITE "socket = \"%s\";\n" CAM1, sock);
	load_bad(fx, text);
	expect_error(fx, 1, "socket path is 108 characters long", "at most 107", NULL);
}

/* The box's time zone: a zone name, never a path. */
static void test_timezone_setting(void **state)
{
	struct fixture *fx = *state;

	load_ok(fx, SITE "timezone = \"America/New_York\"; signage_review_days = 90;\n" CAM1);
	assert_string_equal(fx->cfg->timezone, "America/New_York");
	assert_int_equal(fx->cfg->timezone_line, 1);
	assert_int_equal(fx->cfg->signage_review_days, 90);
	load_bad(fx, SITE "timezone = \"../../etc/passwd\";\n" CAM1);
	expect_error(fx, 1, "timezone \"../../etc/passwd\" is not a time zone name",
		     "Europe/London", NULL);
	load_bad(fx, SITE "signage_review_days = 0;\n" CAM1);
	expect_error(fx, 1, "signage_review_days must be between 1 and 3650", NULL);
}

/* An overlay size too big for the configured picture is refused with the
 * largest that fits; one that fits when the name wraps is accepted. */
static void test_overlay_size_must_fit(void **state)
{
	struct fixture *fx = *state;
	static const char fmt[] = SITE
		"cameras = ( { name = \"north-entrance-stairwell-block-a\"; device = \"synthetic\";\n"
		"  width = %d; height = %d;" PA "\n"				/* 2 */
		"  overlay = { position = \"%s\";\n"				/* 3 */
		"    size = %d; }; } );\n";					/* 4 */
	char text[1024];

	snprintf(text, sizeof(text), fmt, 640, 360, "top-right", 200);
	load_bad(fx, text);
	expect_error(fx, 4, "overlay size 200 does not fit a 640x360 picture",
		     "the largest size that fits is 40", "size = 40;", NULL);
	assert_int_equal(count_lines(fx->err), 1);
	snprintf(text, sizeof(text), fmt, 640, 360, "top-right", 40);
	load_ok(fx, text);
	snprintf(text, sizeof(text), fmt, 640, 360, "top-right", 41);
	load_bad(fx, text);
	/* issue 12's cases: accepted now, drawn with the name wrapped */
	snprintf(text, sizeof(text), fmt, 1280, 720, "top-right", 80);
	load_ok(fx, text);
	snprintf(text, sizeof(text), fmt, 320, 240, "bottom-right", 20);
	load_ok(fx, text);
}

/* A missing @include names the file it looked for. */
static void test_missing_include_named(void **state)
{
	struct fixture *fx = *state;
	char want[256];

	load_bad(fx, "log = \"stderr\";\n"					/* 1 */
		"@include \"staff.conf\"\n");					/* 2 */
	snprintf(want, sizeof(want), "cannot open %s/staff.conf", fx->dir);
	expect_error(fx, 2, "@include \"staff.conf\"", want, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_config_loads_as_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derived_paths_follow_data_dir, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_defaults_block_inherited_and_overridden,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fps_fractions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_free_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_witness_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_cameras_is_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_semicolon_is_accepted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_name_chars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_name_names_both_lines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key_with_suggestion, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_setting_in_wrong_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crf_and_bitrate_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_format_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_source_without_pixel_format, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error_with_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_above_31_needs_justification,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_signage_date, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_errors_all_reported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_small_errbuf_keeps_whole_lines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_camera_equal, setup, teardown),
		cmocka_unit_test(test_format_names),
		cmocka_unit_test_setup_teardown(test_shipped_example_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synthetic_run_config_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_man_page_example_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixture_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audio_needs_justification_and_review, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_temporary_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masks_parsed_and_validated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users_parsed_and_validated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_site_on_account_must_be_this_site, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cameras_need_users_in_the_same_pass, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_values_vigild_could_not_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timezone_setting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_size_must_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_include_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_hold_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_camera_equal_sees_masks_overlay_audio, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
