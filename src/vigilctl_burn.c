/* Placeholder until the burn command lands. */
#include <stdio.h>

#include "ctlclient.h"

int ctl_burn_images(struct ctl *c, char *const *images, int n, const char *device, int force)
{
	(void)c;
	(void)images;
	(void)n;
	(void)device;
	(void)force;
	fprintf(stderr, "vigilctl: burning discs is not available in this build\n");
	return EXIT_USAGE;
}

int ctl_cmd_burn(struct ctl *c)
{
	return ctl_burn_images(c, c->args, c->n_args, c->device, c->force);
}
