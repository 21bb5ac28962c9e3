/*
 * bench_report.c - the review report on a year of a busy box.
 *
 *   build/tests/bench_report DIR [AUDIT_ROWS [OUT.html]]
 *
 * DIR holds a catalog made by bench_catalog (10 cameras x a year of
 * one-minute clips, 5.2 M rows; run-bench.sh makes it). This adds gaps of
 * each kind, evidence holds and disclosure requests to it, writes an audit
 * log of AUDIT_ROWS rows (default 1,000,000: clips created, listings and
 * views by 20 staff, refusals, retention deletions, exports, daemon
 * events) spread over the year, hash-chained and checkpointed through the
 * audit API, then times vg_report_build for the whole year (every
 * section, the audit chain verified) and vg_report_html. Prints
 * "name: value unit" lines. The target is under 10 s for the build.
 * OUT.html, if given, keeps the page (to look at a year's charts).
 */
#include <inttypes.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/config.h"
#include "vigil/log.h"
#include "vigil/report.h"
#include "vigil/sign.h"
#include "vigil/timeutil.h"

#define CAMS 10
#define STAFF 20
#define BASE INT64_C(1767225600000000)	/* 2026-01-01T00:00:00Z, as bench_catalog */
#define DAY_US (86400 * VG_US_PER_S)
#define BATCH 1000

static double secs(int64_t us)
{
	return (double)us / 1e6;
}

/* CPU seconds of this process so far (every thread): the figure that
 * does not depend on what else the machine is running. */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int write_config(const char *dir, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/bench-report.conf", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "site = { name = \"Benchmark\"; address = \"none\"; area_manager = \"am0\";"
		   " contact = \"none\"; };\ndata_dir = \"%s\";\ncameras = (\n", dir);
	for (int c = 0; c < CAMS; c++)
		fprintf(f, "  { name = \"cam%d\"; device = \"synthetic\"; purpose = \"benchmark\";"
			   " area = \"area %d\"; signage_confirmed = \"2026-01-01\"; }%s\n", c, c,
			c + 1 < CAMS ? "," : "");
	fprintf(f, ");\nusers = (\n");
	for (int u = 0; u < STAFF; u++)
		fprintf(f, "  { login = \"am%d\"; name = \"Manager %d\"; role = \"area_manager\";"
			   " sites = ( \"Benchmark\" ); },\n", u, u);
	fprintf(f, "  { login = \"dpo\"; name = \"The DPO\"; role = \"dpo\"; },\n"
		   "  { login = \"aud\"; name = \"The Auditor\"; role = \"auditor\"; }\n);\n");
	return fclose(f) == 0 ? 0 : -1;
}

/* Gaps of every kind, holds and disclosure requests: a few hundred rows,
 * as a year of a box would have. */
static int add_catalog_rows(const char *dbpath)
{
	static const char *const reasons[] = {
		"camera lost: no picture for 5 s", "daemon stopped", "vigild crashed",
		"disk full", "clock clamped", "disabled in the configuration",
	};
	struct vg_catalog *cat;
	int rc = -1;

	if (vg_catalog_open(&cat, dbpath) != 0)
		return -1;
	for (int c = 0; c < CAMS; c++) {
		char cam[16];

		snprintf(cam, sizeof(cam), "cam%d", c);
		for (int k = 0; k < 36; k++) {
			int64_t from = BASE + (int64_t)(k * 10 + c) * DAY_US + 3600 * VG_US_PER_S;
			int64_t id;

			if (vg_catalog_gap_open(cat, cam, from, reasons[k % 6], &id) != 0 ||
			    vg_catalog_gap_close(cat, id, from + (k % 4 + 1) * 1200 * VG_US_PER_S))
				goto out;
		}
		for (int k = 0; k < 5; k++) {
			struct vg_hold h = {
				.from_us = BASE + (int64_t)(50 * k + c) * DAY_US,
				.to_us = BASE + (int64_t)(50 * k + c) * DAY_US + 3600 * VG_US_PER_S,
				.review_by_us = BASE + (int64_t)(50 * k + c + 30) * DAY_US,
				.placed_us = BASE + (int64_t)(50 * k + c + 1) * DAY_US,
			};

			snprintf(h.camera, sizeof(h.camera), "%s", cam);
			snprintf(h.reason, sizeof(h.reason), "assault reported on day %d", 50 * k + c);
			snprintf(h.reference, sizeof(h.reference), "CRIME-%d", 1000 + 10 * k + c);
			snprintf(h.placed_by, sizeof(h.placed_by), "am%d", c);
			if (vg_catalog_hold_insert(cat, &h) != 0)
				goto out;
		}
	}
	for (int k = 0; k < 20; k++) {
		int64_t id;

		if (vg_catalog_export_request_add(cat, "dpo", k % 2 ? "{\"recipient\":\"media\"}" :
						  "{\"recipient\":\"data-subject\"}",
						  BASE + (int64_t)(k * 17) * DAY_US, &id) != 0)
			goto out;
		if (k < 18 && vg_catalog_export_request_withdraw(cat, id, "dpo",
								 BASE + (int64_t)(k * 17 + 2) *
								 DAY_US) != 0)
			goto out;
	}
	rc = 0;
out:
	vg_catalog_close(cat);
	return rc;
}

/* Row i of the audit log: mostly clips being created, as on a real box. */
static void audit_row(long i, long n, struct vg_audit_entry *e, char *obj, size_t cap)
{
	static const char *const refs[] = { "ASB-2026-1", "CRIME-77", "CASE-3", "DSAR-4" };
	int k = (int)(i % 100), u = (int)(i / 7 % STAFF);
	static char login[STAFF][8];

	if (login[u][0] == '\0')
		snprintf(login[u], sizeof(login[u]), "am%d", u);
	memset(e, 0, sizeof(*e));
	e->time_us = BASE + (int64_t)((double)i / (double)n * 365.0 * DAY_US);
	e->uid = -1;
	e->login = e->role = e->purpose = e->reference = e->reason = "";
	e->outcome = "allowed";
	e->object = obj;
	if (k < 70) {
		e->action = "clip.create";
		snprintf(obj, cap, "camera=cam%d clip=%ld from=2026-01-01T00:00:00.000000Z "
			 "to=2026-01-01T00:01:00.000000Z frames=900 file=clips/x.vgc clock=%s "
			 "esterror_us=1000", (int)(i % CAMS), i, i % 5000 ? "synchronised"
									: "UNSYNCHRONISED");
		return;
	}
	if (k < 78) {
		e->action = "retention.delete";
		e->purpose = "retention";
		e->reason = "past retention of 31 days";
		snprintf(obj, cap, "camera=cam%d deleted=1 from=2026-01-01T00:00:00Z "
			 "to=2026-01-01T00:01:00Z", (int)(i % CAMS));
		return;
	}
	e->uid = 1000 + u;
	e->login = login[u];
	e->role = "area_manager";
	e->purpose = "investigating damage to the bin store";
	e->reference = refs[i % 4];
	snprintf(obj, cap, "camera=cam%d from=2026-01-01T00:00:00Z to=*", (int)(i % CAMS));
	e->reason = "am is the area manager for Benchmark (policy 3.8)";
	if (k < 88)
		e->action = "clip.list";
	else if (k < 96)
		e->action = "clip.view";
	else if (k < 98) {
		e->action = "clip.view";
		e->outcome = "refused";
		e->reason = "refused: 'x' is not a reference area managers may use (policy 3.8)";
	} else if (k == 98) {
		e->action = "hold.place";
	} else {
		e->action = i % 200 == 99 ? "export.done" : "export.pending";
		snprintf(obj, cap, "camera=cam1 from=2026-01-01T00:00:00Z to=2026-01-01T00:01:00Z "
			 "recipient=police organisation=\"Constabulary\" manifest_sha256=%064d", 0);
	}
}

static int build_audit(const char *path, struct vg_sign_key *key, long n)
{
	struct vg_audit_entry *e = calloc(BATCH, sizeof(*e));
	char (*obj)[256] = calloc(BATCH, sizeof(*obj));
	struct vg_audit *a = NULL;
	int rc = -1;

	if (e == NULL || obj == NULL || vg_audit_open(path, key, &a) != 0)
		goto out;
	for (long done = 0; done < n;) {
		long b = n - done < BATCH ? n - done : BATCH;

		for (long i = 0; i < b; i++)
			audit_row(done + i, n, &e[i], obj[i], sizeof(obj[i]));
		if (vg_audit_append_many(a, e, (size_t)b) != 0)
			goto out;
		done += b;
		if (done % 100000 == 0 && vg_audit_checkpoint(a, NULL) != 0)
			goto out;
	}
	rc = vg_audit_checkpoint(a, NULL);
out:
	vg_audit_close(a);
	free(e);
	free(obj);
	return rc;
}

int main(int argc, char **argv)
{
	char conf[512], dbpath[512], apath[512], why[512], sha[65];
	long rows = argc > 2 ? atol(argv[2]) : 1000000;
	struct vg_config *cfg = NULL;
	struct vg_sign_key *key = NULL;
	struct vg_report_request rq = {
		.from_us = BASE, .to_us = BASE + 365 * DAY_US, .now_us = BASE + 365 * DAY_US,
		.login = "dpo", .role = "dpo",
	};
	char *json = NULL;
	size_t len = 0;
	int64_t t;
	double cpu;
	FILE *html;
	int rc = 1;

	if (argc < 2 || rows < 1) {
		fprintf(stderr, "usage: %s DIR (a bench_catalog catalog) [AUDIT_ROWS]\n", argv[0]);
		return 2;
	}
	vg_log_set_level(getenv("BENCH_DEBUG") ? VG_LOG_DEBUG : VG_LOG_WARN);
	snprintf(dbpath, sizeof(dbpath), "%s/catalog.db", argv[1]);
	snprintf(apath, sizeof(apath), "%s/audit.db", argv[1]);
	if (write_config(argv[1], conf, sizeof(conf)) != 0 ||
	    vg_config_load(conf, &cfg, why, sizeof(why)) != 0) {
		fprintf(stderr, "bench_report: config: %s\n", why);
		goto out;
	}
	if (vg_sign_key_generate(&key) != 0 || add_catalog_rows(dbpath) != 0) {
		fprintf(stderr, "bench_report: cannot prepare the catalog in %s\n", argv[1]);
		goto out;
	}
	remove(apath);
	t = vg_time_mono_us();
	if (build_audit(apath, key, rows) != 0) {
		fprintf(stderr, "bench_report: cannot write the audit log\n");
		goto out;
	}
	printf("audit_rows: %ld rows (written in %.1f s)\n", rows, secs(vg_time_mono_us() - t));
	{
		struct vg_report_env env = {
			.cfg = cfg, .catalog_path = dbpath, .audit_path = apath, .device_key = key,
			.firmware = "bench",
		};

		t = vg_time_mono_us();
		cpu = cpu_s();
		if (vg_report_build(&env, &rq, &json, &len, why, sizeof(why)) != 0) {
			fprintf(stderr, "bench_report: %s\n", why);
			goto out;
		}
	}
	printf("report_build_year: %.2f s (target < 10 s), %.2f CPU-s\n",
	       secs(vg_time_mono_us() - t), cpu_s() - cpu);
	printf("report_json: %.0f kB\n", (double)len / 1e3);
	html = fopen(argc > 3 ? argv[3] : "/dev/null", "w");
	t = vg_time_mono_us();
	if (html == NULL || vg_report_html(json, len, "0", html, why, sizeof(why)) != 0) {
		fprintf(stderr, "bench_report: html: %s\n", why);
		goto out;
	}
	printf("report_html: %.2f s\n", secs(vg_time_mono_us() - t));
	fclose(html);
	t = vg_time_mono_us();
	{
		uint8_t sig[VG_SIGN_MAX_SIG];
		size_t siglen;

		if (vg_report_sign(key, json, len, sig, sizeof(sig), &siglen, sha) != 0)
			goto out;
	}
	printf("report_sign: %.1f ms\n", (double)(vg_time_mono_us() - t) / 1000.0);
	rc = strstr(json, "\"intact\":true") ? 0 : 1;
	if (rc)
		fprintf(stderr, "bench_report: the audit chain did not verify\n");
out:
	free(json);
	vg_config_free(cfg);
	vg_sign_key_free(key);
	return rc;
}
