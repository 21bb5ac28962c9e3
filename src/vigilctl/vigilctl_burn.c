/*
 * vigilctl_burn.c - `vigilctl burn IMAGE.iso... --device /dev/srN [--force]`
 * and the burning step of `vigilctl export --burn`.
 *
 * vigild does the work (it checks the image is an intact export of this
 * box, writes it with xorriso, reads the disc back and audits it); this
 * side makes the paths absolute, asks for each next disc on a terminal,
 * shows the read-back progress (ctl_await_reply) and prints one line per
 * disc.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vigil/proto.h"
#include "ctlclient.h"

/* Wait for Enter; -1 on end of input. */
static int wait_enter(void)
{
	int ch;

	for (;;) {
		ch = getchar();
		if (ch == EOF)
			return -1;
		if (ch == '\n')
			return 0;
	}
}

static int burn_one(struct ctl *c, const char *image, const char *device, int force, int k,
		    int n)
{
	struct json_object *req, *o;
	double mb;

	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("export.burn"));
	json_object_object_add(req, "image", json_object_new_string(image));
	json_object_object_add(req, "device", json_object_new_string(device));
	json_object_object_add(req, "force", json_object_new_boolean(force));
	/* vigild asks, and vigilctl opens both with the user's own rights */
	json_object_object_add(req, "pass_fds", json_object_new_boolean(1));
	/* Without a purpose and reference vigild refuses at once (and
	 * audits the refusal): no 15-minute burn to announce. */
	if (c->purpose && c->reference)
		fprintf(stderr, "disc %d of %d: checking %s and writing it to %s (a full DVD "
			"takes about 15 minutes)...\n", k, n, image, device);
	if (ctl_send(c, req) < 0) {
		fprintf(stderr, "vigilctl: lost the connection to vigild\n");
		return EXIT_REFUSED;
	}
	o = ctl_await_reply(c, "read back", "see 'vigilctl audit show --action export.burn' "
			    "for what happened");
	ctl_dest_finish(c, o != NULL);
	if (o == NULL)
		return EXIT_REFUSED;
	mb = (double)ctl_get_int(o, "bytes") / 1e6;
	printf("disc %d of %d: %s written to %s and read back identical (%.1f MB)\n", k, n, image,
	       device, mb);
	printf("  image sha256 %s\n", ctl_get_str(o, "image_sha256"));
	fflush(stdout);
	json_object_put(o);
	return 0;
}

int ctl_burn_images(struct ctl *c, char *const *images, int n, const char *device, int force)
{
	char dev[PATH_MAX], img[PATH_MAX];
	struct stat st;
	int tty = isatty(STDIN_FILENO), blk, ret;

	if (ctl_absolute_path(device, force, dev) < 0)
		return EXIT_USAGE;
	blk = stat(dev, &st) == 0 && S_ISBLK(st.st_mode);
	/* Several discs through one drive need somebody to change them. */
	if (n > 1 && !tty && blk) {
		fprintf(stderr, "vigilctl: %d images need %d discs and nobody is at a terminal to "
				"change them: burn the discs one at a time: vigilctl burn IMAGE "
				"--device %s\n", n, n, device);
		return EXIT_USAGE;
	}
	for (int k = 1; k <= n; k++) {
		if (ctl_absolute_path(images[k - 1], 0, img) < 0)
			return EXIT_USAGE;
		if (k > 1 && n > 1 && tty) {
			fprintf(stderr, "Insert a blank disc for %s (disc %d of %d) and press "
				"Enter", img, k, n);
			fflush(stderr);
			if (wait_enter() < 0) {
				fprintf(stderr, "\nvigilctl: stopped before disc %d of %d; "
						"discs 1 to %d are done\n", k, n, k - 1);
				return EXIT_REFUSED;
			}
		}
		ret = burn_one(c, img, dev, force, k, n);
		if (ret != 0) {
			if (k > 1)
				fprintf(stderr, "vigilctl: discs 1 to %d of %d are done; burn the "
						"rest with vigilctl burn IMAGE... --device %s\n",
					k - 1, n, device);
			return ret;
		}
	}
	return 0;
}

int ctl_cmd_burn(struct ctl *c)
{
	if (c->n_args < 1 || c->device == NULL) {
		fprintf(stderr, "usage: vigilctl --purpose P --reference REF burn IMAGE.iso... "
				"--device /dev/srN [--force]\n");
		return EXIT_USAGE;
	}
	return ctl_burn_images(c, c->args, c->n_args, c->device, c->force);
}
