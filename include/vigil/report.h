/*
 * report.h - the review report (Surveillance Camera Code principle 10,
 * policy 4.1): what the box itself can show about a period, organised by
 * the 12 principles and the policy clauses, with what needs action.
 *
 * vigild builds the figures as one JSON document (docs/report-format.md,
 * versioned) and signs its exact bytes with the device key, like an export
 * manifest; vigilctl writes the JSON, its signature and the device's public
 * key, and renders the same JSON as one self-contained HTML page (inline
 * SVG charts, no scripts, no external fetches, A4 print styles) that states
 * the JSON's SHA-256. Anyone holding the JSON can render it again, and
 * `openssl dgst -sha256 -verify` checks it.
 *
 * Where the figures come from (each behind one small function in
 * src/report/, so a new source is pointed at in one place):
 * - the catalog and the audit log, read through read-only SQLite
 *   connections of their own, each one snapshot (a read transaction) for
 *   the whole build: recording and staff requests never wait for a report,
 *   and every figure is as of the same instant (docs/catalog-format.md and
 *   docs/audit-format.md are what these queries are written from);
 * - the config (camera register, staff names, config check's warnings
 *   through vg_confcheck());
 * - the daemon's live figures (storage and alarms from the sweeper, the
 *   clock) passed in struct vg_report_env.
 *
 * Nothing here reads footage. Staff names appear only in a report made for
 * the data protection officer; anyone else's copy names people "Person 1",
 * "Person 2"... consistently within the document.
 */
#ifndef VIGIL_REPORT_H
#define VIGIL_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/audit.h"
#include "vigil/config.h"
#include "vigil/sign.h"
#include "vigil/sweeper.h"

struct vg_witness_status;

#define VG_REPORT_FORMAT "vigil-report"
#define VG_REPORT_FORMAT_VERSION 1

/* The longest period one report covers: a year's review with room for a
 * leap year and a few days either side. Longer: make several. */
#define VG_REPORT_MAX_DAYS 400
/* A stretch without recording this long or longer is an action. */
#define VG_REPORT_LONG_GAP_US (3600 * INT64_C(1000000))
/* Signage confirmed longer ago than this is due to be checked again. */
#define VG_REPORT_SIGNAGE_DAYS 365

/* What the report reads; everything borrowed for the call. */
struct vg_report_env {
	const struct vg_config *cfg;
	const char *catalog_path;	/* catalog.db (opened read-only) */
	const char *audit_path;		/* audit.db (opened read-only) */
	struct vg_sign_key *device_key;	/* verifies the audit chain, signs */
	/* Live figures: NULL when unknown (then "unknown" in the report). */
	const struct vg_sweeper_status *storage;
	int clock_known, clock_synced;	/* the kernel's clock state now */
	int64_t clock_esterror_us;
	const char *firmware;		/* e.g. "vigil 0.1.0" */
	/* The checkpoint signed for this report (NULL: none): the figures
	 * count rows of the chain it covers, and maybe a few after it. */
	const struct vg_audit_checkpoint *checkpoint;
	/* The off-box witness's state (witness.h); NULL: none configured. */
	const struct vg_witness_status *witness;
};

/* Who asked, for what period. */
struct vg_report_request {
	int64_t from_us, to_us;		/* UTC microseconds, [from, to) */
	int64_t now_us;			/* when the report is made */
	const char *login;		/* who asked */
	const char *role;		/* their role; "dpo" sees names */
};

/*
 * Build the report. *json receives the document (NUL-terminated, *len
 * bytes without the NUL; caller frees). On failure a negative VG_E* code,
 * with a sentence in why: -VG_EINVAL for a bad period (why says what is
 * allowed), -VG_EDB / -VG_ENOENT if the catalog or audit log cannot be
 * read, -VG_ENOMEM. The build takes a few seconds on a year of a busy box
 * (docs/performance.md); call it from a worker thread, never the capture
 * path.
 */
int vg_report_build(const struct vg_report_env *env, const struct vg_report_request *rq,
		    char **json, size_t *len, char *why, size_t whylen);

/* Sign the exact bytes: sig (cap at least VG_SIGN_MAX_SIG) gets the DER
 * ECDSA signature of SHA-256(json), sha256_hex that digest in hex. */
int vg_report_sign(struct vg_sign_key *k, const char *json, size_t len, uint8_t *sig,
		   size_t cap, size_t *siglen, char sha256_hex[65]);

/*
 * Render a report's JSON (as built above; any format_version 1 document)
 * as one HTML page on out, stating sha256_hex as the JSON's digest. Reads
 * nothing else and fetches nothing. -VG_EFORMAT (why says what) if json is
 * not a version 1 report; -VG_EIO if writing failed.
 */
int vg_report_html(const char *json, size_t len, const char *sha256_hex, FILE *out,
		   char *why, size_t whylen);

#endif
