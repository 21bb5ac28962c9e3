/*
 * reconcile.h - make the catalog and the clip files agree at start-up.
 *
 * After a crash or power cut: every clip still marked "recording" is cut to
 * its last authenticated chunk, sealed and marked "recovered" with the
 * frames and end time it really holds. Rows whose file is missing and files
 * that have no row are reported (never silently deleted: either may be
 * evidence of tampering or of a failing disk), except leftovers that cannot
 * hold footage (a clip file that was never catalogued was never written
 * to), which are removed.
 */
#ifndef VIGIL_RECONCILE_H
#define VIGIL_RECONCILE_H

#include <stdint.h>

#include "vigil/catalog.h"
#include "vigil/clipfile.h"

struct vg_reconcile_report {
	int recovered;		/* open clips cut to their last good chunk */
	int open_missing;	/* open rows whose file never appeared (removed) */
	int rows_without_file;	/* complete clips whose file is gone */
	int files_without_row;	/* clip files the catalog does not know */
	int unreadable;		/* open clips whose header does not authenticate */
};

int vg_reconcile(struct vg_catalog *cat, const char *data_dir,
		 const uint8_t master[VG_MASTER_KEY_LEN], struct vg_reconcile_report *rep);

#endif
