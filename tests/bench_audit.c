/*
 * bench_audit.c - audit log throughput: appends with one durable commit per
 * row (what vigild does for each action), appends batched in one
 * transaction per 1000 rows, and a full verify.
 *
 *   build/tests/bench_audit [ROWS [DIR [SINGLE_SECONDS [keep]]]]   (100000, /tmp, 20)
 *
 * With "keep", DIR is used as a vigild data folder and kept: the log is
 * DIR/audit.db signed with DIR/device.key (created), so vigild can start on
 * it (tests/bench/audit_scale.sh); the start-up check (verify before
 * signing) is timed as well.
 *
 * The single-commit phase stops after SINGLE_SECONDS (0 skips it) (its rate is fsync-bound and
 * does not change with the row count); the batched phase then appends the
 * rest so that ROWS rows are verified.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/audit.h"
#include "vigil/sign.h"

#define BATCH 1000

static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(struct vg_audit_entry *e, long i, char *obj, size_t cap)
{
	memset(e, 0, sizeof(*e));
	snprintf(obj, cap, "camera=lobby from=2024-05-01T10:00:00Z to=2024-05-01T10:05:00Z "
		 "clips=%ld,%ld", i, i + 1);
	e->uid = 1001;
	e->login = "jsmith";
	e->role = "area_manager";
	e->action = i % 10 ? "clip.view" : "clip.list";
	e->object = obj;
	e->purpose = "investigating damage to the bin store";
	e->reference = "ASB-2024-0042";
	e->outcome = "allowed";
	e->reason = "jsmith is the area manager for Oak Court (ASB-2024-0042, policy 3.8)";
}

int main(int argc, char **argv)
{
	long rows = argc > 1 ? atol(argv[1]) : 100000, done = 0, single = 0;
	const char *base = argc > 2 ? argv[2] : "/tmp";
	double single_s = argc > 3 ? atof(argv[3]) : 20.0;
	int keep = argc > 4 && strcmp(argv[4], "keep") == 0;
	struct vg_audit_entry *batch = NULL;
	struct vg_sign_key *key = NULL;
	struct vg_audit *a = NULL;
	struct vg_audit_problem p;
	struct vg_audit_stats st;
	char dir[256], path[300], cmd[320], (*objs)[128] = NULL;
	double t0, t1, c0;
	int rc = 1, i;

	if (keep) {
		snprintf(dir, sizeof(dir), "%s", base);
		snprintf(path, sizeof(path), "%s/device.key", dir);
		if (vg_sign_key_load(path, 1, &key, NULL, NULL, 0) != 0) {
			fprintf(stderr, "bench_audit: cannot make %s\n", path);
			return 1;
		}
	} else {
		snprintf(dir, sizeof(dir), "%s/vigil-bench-audit-XXXXXX", base);
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/audit.db", dir);
	batch = calloc(BATCH, sizeof(*batch));
	objs = calloc(BATCH, sizeof(*objs));
	if (batch == NULL || objs == NULL || (key == NULL && vg_sign_key_generate(&key) != 0) ||
	    vg_audit_open(path, key, &a) != 0) {
		fprintf(stderr, "bench_audit: setup failed\n");
		goto out;
	}

	t0 = now();
	while (done < rows && now() - t0 < single_s) {
		fill(&batch[0], done, objs[0], sizeof(objs[0]));
		if (vg_audit_append(a, &batch[0], NULL) != 0)
			goto out;
		done++;
	}
	t1 = now();
	single = done;
	if (single > 0)
			printf("audit append, one commit per row (WAL, synchronous=FULL): %ld rows in "
		       "%.2f s = %.0f rows/s\n", single, t1 - t0, (double)single / (t1 - t0));

	t0 = now();
	while (done < rows) {
		long n = rows - done < BATCH ? rows - done : BATCH;

		for (i = 0; i < n; i++)
			fill(&batch[i], done + i, objs[i], sizeof(objs[i]));
		if (vg_audit_append_many(a, batch, (size_t)n) != 0)
			goto out;
		done += n;
	}
	t1 = now();
	if (done > single)
		printf("audit append, %d rows per transaction: %ld rows in %.2f s = %.0f rows/s\n",
		       BATCH, done - single, t1 - t0, (double)(done - single) / (t1 - t0));

	t0 = now();
	if (vg_audit_checkpoint(a, NULL) != 0)
		goto out;
	t1 = now();
	printf("audit checkpoint (ECDSA P-256 sign + commit + head file): %.1f ms\n",
	       (t1 - t0) * 1e3);

	t0 = now();
	if (vg_audit_verify(a, NULL, &p, &st) != 0) {
		fprintf(stderr, "bench_audit: verify failed at seq %" PRId64 ": %s\n", p.seq, p.msg);
		goto out;
	}
	t1 = now();
	printf("audit verify: %" PRId64 " rows, %" PRId64 " checkpoints in %.2f s = %.0f rows/s\n",
	       st.rows, st.checkpoints, t1 - t0, (double)st.rows / (t1 - t0));
	/* What vigild does at every start before it signs anything. */
	vg_audit_close(a);
	a = NULL;
	t0 = now();
	c0 = cpu();
	if (vg_audit_open(path, key, &a) != 0 || vg_audit_start_check(a, dir, NULL) != 0) {
		fprintf(stderr, "bench_audit: the start-up check found the log broken\n");
		goto out;
	}
	t1 = now();
	printf("audit start-up check (open + verify before signing): %ld rows in %.2f s "
	       "(%.2f CPU-s)\n", done, t1 - t0, cpu() - c0);
	rc = 0;
out:
	vg_audit_close(a);
	vg_sign_key_free(key);
	free(batch);
	free(objs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (!keep && system(cmd) != 0)
		rc = 1;
	return rc;
}
