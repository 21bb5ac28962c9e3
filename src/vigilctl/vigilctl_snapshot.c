/*
 * vigilctl_snapshot.c - an installer's look through a camera:
 *
 *   vigilctl snapshot --camera C OUT.jpg|- --purpose P --reference JOB-n
 *
 * One current picture as it is recorded (masks filled, overlay burnt in)
 * with the masks' outlines drawn in yellow, for checking the field of view
 * and the masks. It is footage: vigild authorises and audits the request,
 * and the JPEG goes only where the user says, a new 0600 file or stdout
 * (never a terminal).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vigil/proto.h"
#include "ctlclient.h"

int ctl_cmd_snapshot(struct ctl *c)
{
	struct json_object *req, *o;
	const char *out;
	int fd, ret;

	if (c->camera == NULL || c->n_args != 1) {
		fprintf(stderr, "usage: vigilctl snapshot --camera C OUT.jpg|- --purpose P "
				"--reference REF\n");
		return EXIT_USAGE;
	}
	out = c->args[0];
	if (strcmp(out, "-") == 0 && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "vigilctl: refusing to write a picture to a terminal; pipe it to a "
				"viewer or name a file\n");
		return EXIT_USAGE;
	}
	req = json_object_new_object();
	json_object_object_add(req, "camera", json_object_new_string(c->camera));
	o = ctl_request(c, "snapshot", req);
	if (o == NULL)
		return EXIT_REFUSED;
	json_object_put(o);
	/* The file is made only once vigild has said yes and has a picture. */
	fd = ctl_open_output(out);
	if (fd < 0)
		return EXIT_REFUSED;
	ret = ctl_receive(c, fd, out, &o);
	if (ret == 0 && (o == NULL || !json_object_get_boolean(json_object_object_get(o, "ok")))) {
		fprintf(stderr, "vigilctl: snapshot: %s\n",
			o ? ctl_get_str(o, "error") : "unexpected reply from vigild");
		ret = EXIT_REFUSED;
	}
	json_object_put(o);
	return ctl_close_output(fd, out, ret);
}
