/*
 * vigilctl - the staff tool.
 *
 *   vigilctl [-c FILE] clips [--camera C] [--from T] [--to T]
 *   vigilctl [-c FILE] gaps [--camera C] [--from T] [--to T]
 *   vigilctl [-c FILE] decrypt CLIP-ID OUT.mp4|-
 *
 * Times are UTC: "2026-11-29T14:00", "2026-11-29", "now", "-2h".
 *
 * decrypt is a test aid until access control lands: it reads the master
 * key file directly, which only vigild's own user can do.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/catalog.h"
#include "vigil/clipmedia.h"
#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/keystore.h"
#include "vigil/log.h"
#include "vigil/timeutil.h"

struct ctl {
	const char *config_path;
	struct vg_config *cfg;
	struct vg_catalog *cat;
};

static const char *state_name(enum vg_clip_state s)
{
	switch (s) {
	case VG_CLIP_RECORDING:
		return "recording";
	case VG_CLIP_COMPLETE:
		return "complete";
	case VG_CLIP_RECOVERED:
		return "recovered";
	}
	return "?";
}

static int open_catalog(struct ctl *c)
{
	char errbuf[8192];

	if (vg_config_load(c->config_path, &c->cfg, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "%s", errbuf);
		return -1;
	}
	if (access(c->cfg->catalog, R_OK) < 0) {
		fprintf(stderr, "vigilctl: cannot read the catalog %s: %m\n", c->cfg->catalog);
		return -1;
	}
	if (vg_catalog_open(&c->cat, c->cfg->catalog) < 0) {
		fprintf(stderr, "vigilctl: cannot open the catalog %s\n", c->cfg->catalog);
		return -1;
	}
	return 0;
}

/* --camera, --from, --to shared by the listing verbs. */
struct range {
	const char *camera;
	int64_t from, to;
};

static int parse_range(int argc, char **argv, struct range *r)
{
	static const struct option opts[] = {
		{ "camera", required_argument, NULL, 'C' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t now = vg_time_now_us();
	int o;

	memset(r, 0, sizeof(*r));
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'C':
			r->camera = optarg;
			break;
		case 'f':
		case 't':
			if (vg_time_parse(optarg, now, o == 'f' ? &r->from : &r->to) < 0) {
				fprintf(stderr,
					"vigilctl: cannot read the time '%s'; write it as "
					"2026-11-29T14:00 (UTC), 2026-11-29, now, or -2h\n",
					optarg);
				return -1;
			}
			break;
		default:
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vigilctl: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (r->from && r->to && r->to <= r->from) {
		fprintf(stderr, "vigilctl: --to must be later than --from\n");
		return -1;
	}
	return 0;
}

static int print_clip(const struct vg_clip *c, void *ud)
{
	char from[40], to[40];

	(void)ud;
	vg_time_format(c->start_us, from, sizeof(from));
	vg_time_format(c->end_us, to, sizeof(to));
	printf("%-6lld %-16s %s %s %7.1f s %6lld frames %10lld bytes %-9s %s%s\n",
	       (long long)c->id, c->camera, from, c->state == VG_CLIP_RECORDING ? "(open)" : to,
	       c->state == VG_CLIP_RECORDING ? 0.0 : (double)(c->end_us - c->start_us) / 1e6,
	       (long long)c->frames, (long long)c->bytes, state_name(c->state), c->path,
	       c->synthetic ? " [SYNTHETIC]" : "");
	return 0;
}

static int cmd_clips(struct ctl *c, int argc, char **argv)
{
	struct range r;

	if (parse_range(argc, argv, &r) < 0 || open_catalog(c) < 0)
		return 2;
	printf("%-6s %-16s %-27s %-27s %9s %13s %16s %-9s %s\n", "ID", "CAMERA", "START (UTC)",
	       "END (UTC)", "LENGTH", "FRAMES", "BYTES", "STATE", "FILE");
	return vg_catalog_clips(c->cat, r.camera, r.from, r.to, print_clip, NULL) < 0 ? 1 : 0;
}

static int print_gap(const struct vg_gap *g, void *ud)
{
	char from[40], to[40];

	(void)ud;
	vg_time_format(g->from_us, from, sizeof(from));
	if (g->to_us)
		vg_time_format(g->to_us, to, sizeof(to));
	else
		snprintf(to, sizeof(to), "(ongoing)");
	printf("%-16s %s %s %s\n", g->camera, from, to, g->reason);
	return 0;
}

static int cmd_gaps(struct ctl *c, int argc, char **argv)
{
	struct range r;

	if (parse_range(argc, argv, &r) < 0 || open_catalog(c) < 0)
		return 2;
	return vg_catalog_gaps(c->cat, r.camera, r.from, r.to, print_gap, NULL) < 0 ? 1 : 0;
}

static int cmd_decrypt(struct ctl *c, int argc, char **argv)
{
	uint8_t master[VG_MASTER_KEY_LEN];
	char why[512], path[1024];
	struct vg_clip clip;
	char *end;
	long long id;
	int fd, ret;

	if (argc != 3) {
		fprintf(stderr, "usage: vigilctl decrypt CLIP-ID OUT.mp4|-\n");
		return 2;
	}
	id = strtoll(argv[1], &end, 10);
	if (*end != '\0' || id <= 0) {
		fprintf(stderr, "vigilctl: '%s' is not a clip id; see 'vigilctl clips'\n", argv[1]);
		return 2;
	}
	if (open_catalog(c) < 0)
		return 2;
	if (vg_catalog_clip_get(c->cat, id, &clip) < 0) {
		fprintf(stderr, "vigilctl: no clip %lld in the catalog\n", id);
		return 1;
	}
	if (vg_keystore_load(c->cfg->key_file, 0, master, NULL, why, sizeof(why)) < 0) {
		fprintf(stderr, "vigilctl: master key %s: %s\n", c->cfg->key_file, why);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", c->cfg->data_dir, clip.path);
	if (strcmp(argv[2], "-") == 0) {
		fd = STDOUT_FILENO;
	} else {
		fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "vigilctl: cannot create %s: %m (it must not exist yet)\n",
				argv[2]);
			vg_wipe(master, sizeof(master));
			return 1;
		}
	}
	ret = vg_clipmedia_decrypt_to_fd(path, master, fd);
	vg_wipe(master, sizeof(master));
	if (fd != STDOUT_FILENO && close(fd) < 0 && ret == 0)
		ret = -VG_EIO;
	if (ret == -VG_ETRUNC) {
		fprintf(stderr, "vigilctl: clip %lld ends early (cut off by a crash); "
				"everything up to the cut was written\n", id);
		return 0;
	}
	if (ret < 0) {
		fprintf(stderr, "vigilctl: clip %lld: %s\n", id, vg_strerror(ret));
		if (fd != STDOUT_FILENO)
			unlink(argv[2]);	/* never leave half a tampered clip */
		return 1;
	}
	return 0;
}

struct verb {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *help;
};

static const struct verb verbs[] = {
	{ "clips", cmd_clips, "clips [--camera C] [--from T] [--to T]   list recorded clips" },
	{ "gaps", cmd_gaps, "gaps [--camera C] [--from T] [--to T]    list times without pictures" },
	{ "decrypt", cmd_decrypt, "decrypt CLIP-ID OUT.mp4|-                 (test aid) decrypt a clip" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vigilctl [-c FILE] COMMAND ...\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  vigilctl %s\n", verbs[i].help);
	fprintf(f, "Times are UTC: 2026-11-29T14:00, 2026-11-29, now, -2h.\n");
}

int main(int argc, char **argv)
{
	struct ctl c = { .config_path = VG_CONFIG_DEFAULT_PATH };
	int i = 1, ret;

	vg_log_init("vigilctl", 0, VG_LOG_WARN);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			c.config_path = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "vigilctl: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
		if (strcmp(argv[i], verbs[v].name) != 0)
			continue;
		ret = verbs[v].fn(&c, argc - i, argv + i);
		vg_catalog_close(c.cat);
		vg_config_free(c.cfg);
		return ret;
	}
	fprintf(stderr, "vigilctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
