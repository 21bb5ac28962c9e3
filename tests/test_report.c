/*
 * test_report.c - the review report (report.h) on a small catalog and
 * audit log made here, in the Europe/London time zone so that a day when
 * the clocks change is 23 hours long: per-day figures add up to each day,
 * a gap over midnight is split between the days, an open clip counts up to
 * the end of the period, names appear only in the DPO's copy, and the HTML
 * page escapes what it is given, refuses what is not a report, and draws
 * its charts. Also the helpers that read free text (clauses, references,
 * gap reasons) and the Prometheus text format's escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

/* The report and stdio allocate with the C library: free with it too, not
 * with cmocka's checked allocator (which -DUNIT_TESTING switches on). */
#undef malloc
#undef calloc
#undef realloc
#undef free

#include "vigil/audit.h"
#include "vigil/catalog.h"
#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/metrics.h"
#include "vigil/report.h"
#include "vigil/sign.h"
#include "vigil/svg.h"
#include "vigil/timeutil.h"
#include "../src/report/report_impl.h"

#define S VG_US_PER_S
#define H (3600 * S)
/* 2026-03-29 00:00 GMT: the clocks go forward at 01:00 that day. */
#define DST_DAY INT64_C(1774742400000000)

struct fx {
	char dir[64], conf[128], cat[128], aud[128];
	struct vg_config *cfg;
	struct vg_sign_key *key;
	char *json;
	size_t len;
};

static void add_clip(struct vg_catalog *cat, const char *camera, int64_t start, int64_t end,
		     int finish)
{
	static int n;
	struct vg_clip c;

	memset(&c, 0, sizeof(c));
	snprintf(c.camera, sizeof(c.camera), "%s", camera);
	snprintf(c.path, sizeof(c.path), "%s/%d.vgc", camera, n++);
	assert_int_equal(getrandom(c.clip_id, sizeof(c.clip_id), 0), sizeof(c.clip_id));
	assert_int_equal(getrandom(c.wrapped_key, sizeof(c.wrapped_key), 0),
			 sizeof(c.wrapped_key));
	c.start_us = c.end_us = start;
	assert_int_equal(vg_catalog_clip_begin(cat, &c), 0);
	if (!finish)
		return;
	c.end_us = end;
	c.state = VG_CLIP_COMPLETE;
	assert_int_equal(vg_catalog_clip_finish(cat, &c), 0);
}

static void row(struct vg_audit *a, int64_t t, const char *login, const char *role,
		const char *action, const char *object, const char *ref, int allowed,
		const char *reason)
{
	struct vg_audit_entry e = {
		.time_us = t, .uid = 1000, .login = login, .role = role, .action = action,
		.object = object, .purpose = "test", .reference = ref,
		.outcome = allowed ? "allowed" : "refused", .reason = reason,
	};

	assert_int_equal(vg_audit_append(a, &e, NULL), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vg_catalog *cat;
	struct vg_audit *a;
	char why[1024];
	FILE *c;
	int64_t gap;

	setenv("TZ", "Europe/London", 1);
	tzset();
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigil-test-report-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->conf, sizeof(f->conf), "%s/vigil.conf", f->dir);
	snprintf(f->cat, sizeof(f->cat), "%s/catalog.db", f->dir);
	snprintf(f->aud, sizeof(f->aud), "%s/audit.db", f->dir);
	c = fopen(f->conf, "w");
	assert_non_null(c);
	fprintf(c, "site = { name = \"Oak <Court>\"; address = \"1 Oak St\"; area_manager = \"A M\";"
		   " contact = \"x@example.org\"; };\ndata_dir = \"%s\";\n"
		   "cameras = ( { name = \"lobby\"; device = \"synthetic\"; purpose = \"ASB\";"
		   " area = \"lobby\"; signage_confirmed = \"2024-01-01\"; } );\n"
		   "users = ( { login = \"jsmith\"; name = \"Jane Smith\"; role = \"area_manager\";"
		   " sites = ( \"Oak <Court>\" ); },\n { login = \"dp\"; name = \"Dee Pee\";"
		   " role = \"dpo\"; },\n { login = \"aud\"; name = \"Al Udit\"; role = \"auditor\"; } );\n",
		f->dir);
	fclose(c);
	assert_int_equal(vg_config_load(f->conf, &f->cfg, why, sizeof(why)), 0);
	assert_int_equal(vg_sign_key_generate(&f->key), 0);

	assert_int_equal(vg_catalog_open(&cat, f->cat), 0);
	/* The day before: 22:00-23:00 recorded, then a gap over midnight to
	 * 02:00 BST (01:00 GMT) the next day. */
	add_clip(cat, "lobby", DST_DAY - 2 * H, DST_DAY - 1 * H, 1);
	assert_int_equal(vg_catalog_gap_open(cat, "lobby", DST_DAY - 1 * H,
					     "camera lost: no picture for 5 s", &gap), 0);
	assert_int_equal(vg_catalog_gap_close(cat, gap, DST_DAY + 1 * H), 0);
	/* The 23-hour day: recorded from 02:00 BST to 06:00 BST (4 h), then
	 * a clip still open from 20:00 BST. */
	add_clip(cat, "lobby", DST_DAY + 1 * H, DST_DAY + 5 * H, 1);
	add_clip(cat, "lobby", DST_DAY + 19 * H, 0, 0);
	vg_catalog_close(cat);

	assert_int_equal(vg_audit_open(f->aud, f->key, &a), 0);
	row(a, DST_DAY + 2 * H, "jsmith", "area_manager", "clip.view", "camera=lobby clip=2",
	    "ASB-1", 1, "jsmith is the area manager for Oak <Court> (ASB-1, policy 3.8)");
	row(a, DST_DAY + 2 * H + S, "jsmith", "area_manager", "clip.view", "camera=lobby clip=2",
	    "because", 0, "refused: 'because' is not a reference (policy 3.8)");
	row(a, DST_DAY + 3 * H, "", "", "clip.view", "clip=2", "", 0,
	    "'x' has no account: residents and third parties may not view footage (policy 3.10)");
	/* vigild's compact row for a flood (control.c): 41 more like the
	 * one above, in one row; the report counts 41 requests, not 1 */
	row(a, DST_DAY + 3 * H + S, "", "", "clip.view", "count=41", "", 0,
	    "41 more requests like the one audited at 03:00 came from this account within a "
	    "minute; counted, not stored one by one");
	row(a, DST_DAY + 4 * H, "", "", "clip.create", "camera=lobby clip=2 clock=UNSYNCHRONISED",
	    "", 1, "");
	assert_int_equal(vg_audit_checkpoint(a, NULL), 0);
	vg_audit_close(a);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	vg_config_free(f->cfg);
	vg_sign_key_free(f->key);
	free(f->json);
	free(f);
	return 0;
}

static struct json_object *build(struct fx *f, const char *login, const char *role,
				 int64_t from, int64_t to)
{
	struct vg_report_env env = {
		.cfg = f->cfg, .catalog_path = f->cat, .audit_path = f->aud, .device_key = f->key,
		.firmware = "test",
	};
	struct vg_report_request rq = {
		.from_us = from, .to_us = to, .now_us = DST_DAY + 23 * H, .login = login,
		.role = role,
	};
	char why[256];

	free(f->json);
	f->json = NULL;
	assert_int_equal(vg_report_build(&env, &rq, &f->json, &f->len, why, sizeof(why)), 0);
	return json_tokener_parse(f->json);
}

static int64_t num(struct json_object *o, const char *path)
{
	char key[64];

	while (*path) {
		size_t n = strcspn(path, "/");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, atoi(key));
		else
			assert_true(json_object_object_get_ex(o, key, &o));
		path += n + (path[n] == '/');
	}
	return json_object_get_int64(o);
}

/* Two local days around the change to BST: 24 h and 23 h long; the
 * seconds of each add up; the gap over midnight is split. */
static void test_days_add_up_across_the_clock_change(void **state)
{
	struct fx *f = *state;
	struct json_object *d = build(f, "dp", "dpo", DST_DAY - 24 * H, DST_DAY + 23 * H);
	struct json_object *cam;

	assert_non_null(d);
	assert_int_equal(num(d, "period/days"), 2);
	cam = json_object_array_get_idx(json_object_object_get(
		json_object_object_get(json_object_object_get(d, "sections"), "availability"),
		"cameras"), 0);
	assert_int_equal(num(cam, "daily/0/seconds"), 24 * 3600);
	assert_int_equal(num(cam, "daily/1/seconds"), 23 * 3600);
	/* day 1: 1 h recorded, 1 h of the gap (23:00-24:00) */
	assert_int_equal(num(cam, "daily/0/recorded"), 3600);
	assert_int_equal(num(cam, "daily/0/gaps/camera lost"), 3600);
	assert_int_equal(num(cam, "daily/0/unaccounted"), 22 * 3600);
	/* day 2: the rest of the gap (1 h), 4 h recorded, and the open clip
	 * from 19:00 GMT to the report's end at 23:00 GMT: 4 h */
	assert_int_equal(num(cam, "daily/1/gaps/camera lost"), 3600);
	assert_int_equal(num(cam, "daily/1/recorded"), 8 * 3600);
	assert_int_equal(num(cam, "daily/1/unaccounted"), 14 * 3600);
	assert_int_equal(num(cam, "clips"), 3);
	assert_int_equal(num(cam, "days_with_hour_unaccounted"), 2);
	json_object_put(d);
}

static int has_text(struct json_object *actions, const char *needle)
{
	for (size_t i = 0; i < json_object_array_length(actions); i++) {
		struct json_object *t;

		json_object_object_get_ex(json_object_array_get_idx(actions, i), "text", &t);
		if (strstr(json_object_get_string(t), needle))
			return 1;
	}
	return 0;
}

static void test_access_refusals_and_actions(void **state)
{
	struct fx *f = *state;
	struct json_object *d = build(f, "dp", "dpo", DST_DAY, DST_DAY + 20 * H);
	struct json_object *acc, *actions;

	assert_non_null(d);
	json_object_object_get_ex(json_object_object_get(d, "sections"), "access", &acc);
	assert_int_equal(num(acc, "refusals/total"), 2 + 41);
	assert_int_equal(num(acc, "no_account_requests"), 1 + 41);
	assert_int_equal(num(acc, "by_role/0/allowed/clip.view"), 1);
	assert_int_equal(num(acc, "by_role/0/refused/clip.view"), 1);
	assert_string_equal(json_object_get_string(json_object_object_get(
		json_object_array_get_idx(json_object_object_get(acc, "by_reference_kind"), 0),
		"kind")), "ASB");
	assert_int_equal(num(d, "sections/integrity/clock/clips_unsynchronised"), 1);
	json_object_object_get_ex(d, "actions", &actions);
	assert_true(has_text(actions, "signs were last confirmed on 2024-01-01"));
	assert_true(has_text(actions, "not staff on this box"));
	assert_true(has_text(actions, "not synchronised"));
	/* the DPO's copy names people, with the refusal sentences */
	assert_non_null(strstr(f->json, "Jane Smith (jsmith)"));
	assert_non_null(strstr(f->json, "is not a reference"));
	json_object_put(d);
}

static void test_auditor_copy_names_nobody(void **state)
{
	struct fx *f = *state;
	struct json_object *d = build(f, "aud", "auditor", DST_DAY, DST_DAY + 20 * H);

	assert_non_null(d);
	assert_null(strstr(f->json, "jsmith"));
	assert_null(strstr(f->json, "Jane Smith"));
	assert_null(strstr(f->json, "Al Udit"));
	assert_non_null(strstr(f->json, "\"person\":\"Person 2\""));
	json_object_put(d);
}

static void test_bad_periods_are_refused(void **state)
{
	struct fx *f = *state;
	struct vg_report_env env = {
		.cfg = f->cfg, .catalog_path = f->cat, .audit_path = f->aud, .device_key = f->key,
	};
	struct vg_report_request rq = { .from_us = DST_DAY, .to_us = DST_DAY, .now_us = DST_DAY,
					.login = "dp", .role = "dpo" };
	char *json = NULL, why[256];
	size_t len;

	assert_int_equal(vg_report_build(&env, &rq, &json, &len, why, sizeof(why)), -VG_EINVAL);
	rq.to_us = DST_DAY + 401LL * 24 * H;
	rq.now_us = rq.to_us;
	assert_int_equal(vg_report_build(&env, &rq, &json, &len, why, sizeof(why)), -VG_EINVAL);
	assert_non_null(strstr(why, "at most 400 days"));
	rq.to_us = DST_DAY + H;
	rq.now_us = DST_DAY - H;	/* starts in the future */
	assert_int_equal(vg_report_build(&env, &rq, &json, &len, why, sizeof(why)), -VG_EINVAL);
	assert_null(json);
}

static void test_signature_checks_with_the_public_key(void **state)
{
	struct fx *f = *state;
	struct json_object *d = build(f, "dp", "dpo", DST_DAY, DST_DAY + 20 * H);
	uint8_t sig[VG_SIGN_MAX_SIG], dg[VG_SIGN_DIGEST_LEN];
	char sha[65], pem[VG_SIGN_PEM_MAX];
	struct vg_sign_key *pub;
	size_t siglen;

	json_object_put(d);
	assert_int_equal(vg_report_sign(f->key, f->json, f->len, sig, sizeof(sig), &siglen, sha), 0);
	assert_int_equal(vg_sign_pubkey_pem(f->key, pem, sizeof(pem)), 0);
	assert_int_equal(vg_sign_pubkey_parse(pem, &pub), 0);
	vg_sign_sha256(f->json, f->len, dg);
	assert_int_equal(vg_sign_verify(pub, dg, sig, siglen), 0);
	f->json[10] ^= 1;
	vg_sign_sha256(f->json, f->len, dg);
	assert_int_equal(vg_sign_verify(pub, dg, sig, siglen), -VG_EAUTH);
	vg_sign_key_free(pub);
}

static char *render(const char *json, size_t len, int *rc)
{
	char *buf = NULL, why[128];
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);

	*rc = vg_report_html(json, len, "abc123", m, why, sizeof(why));
	fclose(m);
	return buf;
}

static void test_html_escapes_and_draws_every_chart(void **state)
{
	struct fx *f = *state;
	struct json_object *d = build(f, "dp", "dpo", DST_DAY - 24 * H, DST_DAY + 20 * H);
	static const char *const charts[] = {
		"data-chart=\"availability-lobby\"", "data-chart=\"retention\"",
		"data-chart=\"access-by-role\"", "data-chart=\"access-by-reference\"",
		"data-chart=\"refusals\"", "data-chart=\"disclosures\"",
	};
	int rc;
	char *html = render(f->json, f->len, &rc);

	json_object_put(d);
	assert_int_equal(rc, 0);
	assert_null(strstr(html, "<Court>"));
	assert_non_null(strstr(html, "Oak &lt;Court&gt;"));
	assert_null(strstr(html, "<script"));
	assert_non_null(strstr(html, "abc123"));
	for (size_t i = 0; i < sizeof(charts) / sizeof(charts[0]); i++)
		assert_non_null(strstr(html, charts[i]));
	free(html);
	html = render("{\"format\":\"something-else\",\"format_version\":1}", 45, &rc);
	assert_int_equal(rc, -VG_EFORMAT);
	free(html);
	html = render("not json", 8, &rc);
	assert_int_equal(rc, -VG_EFORMAT);
	free(html);
}

static void test_free_text_readers(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(rep_clause("refused: x (policy 3.10)", b, sizeof(b)), "policy 3.10");
	assert_string_equal(rep_clause("see principle 10 and policy 3.8", b, sizeof(b)),
			    "principle 10");
	assert_string_equal(rep_clause("(policy 3.7, principle 6)", b, sizeof(b)), "policy 3.7");
	assert_string_equal(rep_clause("no citation, policy X", b, sizeof(b)), "other");
	assert_string_equal(rep_reference_kind("asb-2024-1"), "ASB");
	assert_string_equal(rep_reference_kind("DSAR-9"), "DSAR");
	assert_string_equal(rep_reference_kind("ASBESTOS-1"), "other");
	assert_string_equal(rep_reference_kind("because"), "other");
	assert_string_equal(rep_reference_kind(""), "none");
	assert_string_equal(rep_gap_kind("camera lost: no picture for 5 s"), "camera lost");
	assert_string_equal(rep_gap_kind("daemon stopped"), "daemon stopped");
	assert_string_equal(rep_gap_kind("Disk full"), "disk full");
	assert_string_equal(rep_gap_kind("something new"), "other");
	assert_string_equal(rep_gap_kind(NULL), "other");
}

static void test_svg_escapes_and_clamps(void **state)
{
	struct vg_svg_series s[] = { { "a<b", "#000000" } };
	const char *labels[] = { "x\"y" };
	double v[] = { -5 };
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);

	(void)state;
	vg_svg_bars(m, &(struct vg_svg_bars){ .id = "t&t", .title = "<t>", .width = 400,
		.n_rows = 1, .n_series = 1, .row_labels = labels, .series = s, .values = v,
		.unit = "" });
	fclose(m);
	assert_non_null(strstr(buf, "data-chart=\"t&amp;t\""));
	assert_non_null(strstr(buf, "a&lt;b"));
	assert_non_null(strstr(buf, "x&quot;y"));
	assert_null(strstr(buf, "<rect x=\"150.00\""));	/* a negative value draws nothing */
	free(buf);
}

static void test_metrics_text_escapes_labels(void **state)
{
	struct vg_metrics_camera cam = { .name = "lift", .state = "recording", .fps = 15 };
	struct vg_metrics mt = { .version = "1", .device_id = "d", .site = "A \"B\" \\ C\nD",
				 .cameras = &cam, .n_cameras = 1, .witness_backlog = -1 };
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);

	(void)state;
	assert_int_equal(vg_metrics_format(m, &mt), 0);
	fclose(m);
	assert_non_null(strstr(buf, "site=\"A \\\"B\\\" \\\\ C\\nD\"} 1\n"));
	assert_non_null(strstr(buf, "vigil_camera_recording{camera=\"lift\"} 1\n"));
	assert_non_null(strstr(buf, "vigil_camera_state{camera=\"lift\",state=\"recording\"} 1\n"));
	assert_null(strstr(buf, "vigil_disk_free_bytes"));	/* storage unknown: absent */
	assert_null(strstr(buf, "witness_backlog"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_days_add_up_across_the_clock_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_access_refusals_and_actions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auditor_copy_names_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_periods_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signature_checks_with_the_public_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_html_escapes_and_draws_every_chart, setup,
						teardown),
		cmocka_unit_test(test_free_text_readers),
		cmocka_unit_test(test_svg_escapes_and_clamps),
		cmocka_unit_test(test_metrics_text_escapes_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
