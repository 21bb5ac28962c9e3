/*
 * test_confcheck.c - the policy warnings of `vigilctl config check`
 * (confcheck.h), on configs loaded through vg_config_load() from a mkdtemp
 * directory, with an injected "now".
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vigil/confcheck.h"
#include "vigil/config.h"
#include "vigil/err.h"
#include "vigil/timeutil.h"

#define SITE "site = { name = \"Elm Court\"; address = \"1 Elm Court\"; " \
	"area_manager = \"Sam Jones\"; contact = \"01234 567890\"; };\n"
/* One area manager who may view, and an auditor who may not. */
#define USERS "users = ( { login = \"sjones\"; role = \"area_manager\"; " \
	"sites = ( \"Elm Court\" ); }, { login = \"audit\"; role = \"auditor\"; } );\n"

struct fixture {
	char dir[64];
	char path[128];
	char err[8192];
	struct vg_config *cfg;
	char got[16384];	/* "LINE: message\n" per warning */
	int n;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/vigil-test-confcheck-XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/vigil.conf", fx->dir);
	/* the box's zone; dates are compared in local time */
	setenv("TZ", "Europe/London", 1);
	tzset();
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

static void collect(enum vg_confcheck_level level, const char *file, int line,
		    const char *message, void *ud)
{
	struct fixture *fx = ud;
	size_t used = strlen(fx->got);

	assert_int_equal(level, VG_CONFCHECK_WARNING);
	assert_string_equal(file, fx->path);
	snprintf(fx->got + used, sizeof(fx->got) - used, "%d: %s\n", line, message);
	fx->n++;
}

/* UTC microseconds of noon on a date. */
static int64_t noon(int y, int m, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12 };

	return (int64_t)timegm(&tm) * 1000000;
}

/* Load text (which must be valid), run the checks; returns the count. */
static int check(struct fixture *fx, const char *text, int64_t now)
{
	FILE *fp = fopen(fx->path, "w");
	int r;

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	vg_config_free(fx->cfg);
	fx->cfg = NULL;
	r = vg_config_load(fx->path, &fx->cfg, fx->err, sizeof(fx->err));
	if (r != 0)
		print_error("%s", fx->err);
	assert_int_equal(r, 0);
	fx->got[0] = '\0';
	fx->n = 0;
	r = vg_confcheck(fx->cfg, now, collect, fx);
	assert_int_equal(r, fx->n);
	return r;
}

/* A warning at line containing every word (NULL-terminated). */
static void expect_warning(const struct fixture *fx, int line, ...)
{
	char prefix[32];
	const char *p = fx->got;

	snprintf(prefix, sizeof(prefix), "%d: ", line);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char one[1024];
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
	print_error("no warning at line %d with the expected words; got:\n%s\n", line,
		    fx->got);
	fail();
}

static void test_clean_config_has_no_warnings(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(check(fx, SITE USERS
		"cameras = ( { name = \"lift\"; device = \"/dev/video0\"; purpose = \"ASB\";\n"
		"  area = \"Lift\"; signage_confirmed = \"2025-09-10\"; } );\n",
		noon(2026, 3, 1)), 0);
	assert_string_equal(fx->got, "");
}

static void test_missing_signage(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(check(fx, SITE USERS			/* 1-2 */
		"cameras = (\n"					/* 3 */
		"  { name = \"lift\"; device = \"/dev/video0\";\n"	/* 4 */
		"    purpose = \"ASB\"; area = \"Lift\"; }\n"	/* 5 */
		");\n", noon(2026, 3, 1)), 1);
	expect_warning(fx, 4, "camera \"lift\"", "no signage_confirmed", "policy 3.5", NULL);
}

static void test_audio_until_and_past_review(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = SITE USERS			/* 1-2 */
		"cameras = ( { name = \"door\"; device = \"/dev/video0\";\n"	/* 3 */
		"  purpose = \"Safety\"; area = \"Door\"; signage_confirmed = \"2025-09-10\";\n"
		"  audio = true;\n"					/* 5 */
		"  audio_justification = \"Vulnerable resident, case 7\";\n"
		"  audio_review_by = \"2026-06-30\"; } );\n";

	assert_int_equal(check(fx, text, noon(2026, 6, 20)), 1);
	expect_warning(fx, 5, "camera \"door\"", "records sound until 2026-06-30", "10 days",
		       "Vulnerable resident, case 7", NULL);
	assert_int_equal(check(fx, text, noon(2026, 7, 1)), 1);
	expect_warning(fx, 5, "camera \"door\"", "due for review on 2026-06-30",
		       "has stopped", "video continues", NULL);
}

static void test_temporary_near_and_past_remove_by(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = SITE USERS			/* 1-2 */
		"cameras = ( { name = \"tmp\"; device = \"/dev/video0\";\n"	/* 3 */
		"  purpose = \"ASB\"; area = \"Landing\"; signage_confirmed = \"2026-01-02\";\n"
		"  temporary = { equipment = \"Dome kit 3\"; reason = \"ASB at flat 12\";\n"
		"    case_reference = \"ASB-2026-0042\"; installed = \"2026-01-02\";\n"
		"    remove_by = \"2026-04-01\"; }; } );\n";

	/* more than 14 days away: nothing to say */
	assert_int_equal(check(fx, text, noon(2026, 3, 17)), 0);
	assert_int_equal(check(fx, text, noon(2026, 3, 18)), 1);
	expect_warning(fx, 5, "camera \"tmp\"", "ASB-2026-0042", "removed by 2026-04-01",
		       "in 14 days", NULL);
	assert_int_equal(check(fx, text, noon(2026, 3, 31)), 1);
	expect_warning(fx, 5, "in 1 day;", NULL);
	assert_int_equal(check(fx, text, noon(2026, 4, 1)), 1);
	expect_warning(fx, 5, "due for removal on 2026-04-01", "no longer records", NULL);
}

static void test_masks_over_half_the_picture(void **state)
{
	struct fixture *fx = *state;
	static const char fmt[] = SITE USERS			/* 1-2 */
		"cameras = ( { name = \"yard\"; device = \"/dev/video0\"; width = 640;\n"
		"  height = 480; purpose = \"Fly-tipping\"; area = \"Yard\";\n"
		"  signage_confirmed = \"2025-09-10\";\n"		/* 5 */
		"  masks = ( { rect = [0, 0, %d, 480]; },\n"		/* 6 */
		"            { polygon = [0.0, 0.0, 0.2, 0.0, 0.0, 0.2]; } ); } );\n";
	char text[1024];

	snprintf(text, sizeof(text), fmt, 320);	/* half, plus a corner already in it */
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 0);
	snprintf(text, sizeof(text), fmt, 400);
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 1);
	expect_warning(fx, 6, "camera \"yard\"", "cover 63% of the picture", "siting", NULL);
}

static void test_retention_beyond_standard(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(check(fx, SITE USERS				/* 1-2 */
		"cameras = ( { name = \"lift\"; device = \"/dev/video0\";\n"	/* 3 */
		"  purpose = \"ASB\"; area = \"Lift\"; signage_confirmed = \"2025-09-10\";\n"
		"  retention_days = 90;\n"					/* 5 */
		"  retention_justification = \"Police request 12/3456\"; } );\n",
		noon(2026, 3, 1)), 1);
	expect_warning(fx, 5, "camera \"lift\"", "kept 90 days", "standard 31",
		       "Police request 12/3456", NULL);
}

/* A box being set up (no camera enabled) may have no staff yet; with a
 * camera enabled the loader refuses the file (test_config.c). */
static void test_no_users(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(check(fx, SITE
		"cameras = ( { name = \"lift\"; device = \"/dev/video0\"; purpose = \"ASB\";\n"
		"  area = \"Lift\"; signage_confirmed = \"2025-09-10\"; enabled = false; } );\n",
		noon(2026, 3, 1)), 1);
	expect_warning(fx, 0, "no users are configured", "records nothing", "policy 3.8",
		       NULL);
	/* an empty list is the same */
	assert_int_equal(check(fx, SITE "users = ( );\n", noon(2026, 3, 1)), 1);
	expect_warning(fx, 2, "no users are configured", NULL);
}

/* Signs confirmed in the future are a mistake; signs confirmed long ago
 * are due for a re-check, every signage_review_days (default 365). */
static void test_signage_future_and_due(void **state)
{
	struct fixture *fx = *state;
	static const char fmt[] = SITE USERS "%s"			/* 1-3 */
		"cameras = ( { name = \"lift\"; device = \"/dev/video0\";\n"	/* 4 */
		"  purpose = \"ASB\"; area = \"Lift\";\n"		/* 5 */
		"  signage_confirmed = \"%s\"; } );\n";		/* 6 */
	char text[1024];

	snprintf(text, sizeof(text), fmt, "\n", "2026-03-02");
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 1);
	expect_warning(fx, 6, "camera \"lift\"", "2026-03-02 is in the future", "policy 3.5",
		       NULL);
	/* the day itself is fine, and so is a year */
	snprintf(text, sizeof(text), fmt, "\n", "2026-03-01");
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 0);
	snprintf(text, sizeof(text), fmt, "\n", "2025-03-01");
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 0);
	snprintf(text, sizeof(text), fmt, "\n", "2025-02-28");
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 1);
	expect_warning(fx, 6, "last confirmed on 2025-02-28", "366 days ago", "every 365 days",
		       "signage_review_days", NULL);
	/* 25 years ago */
	snprintf(text, sizeof(text), fmt, "\n", "2001-03-01");
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 1);
	expect_warning(fx, 6, "9131 days ago", NULL);
	/* a shorter interval, set for the box */
	snprintf(text, sizeof(text), fmt, "signage_review_days = 90;\n", "2025-11-30");
	assert_int_equal(check(fx, text, noon(2026, 3, 1)), 1);
	expect_warning(fx, 6, "91 days ago", "every 90 days", NULL);
}

/* UTC microseconds of y-m-d h:m:s UTC. */
static int64_t utc(int y, int m, int d, int h, int mi, int sec)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = h,
			 .tm_min = mi, .tm_sec = sec };

	return (int64_t)timegm(&tm) * 1000000;
}

/* The config's dates are local dates (the box's zone, Europe/London): a
 * temporary camera stops at the local midnight that starts remove_by,
 * which is 23:00 UTC the evening before in summer time. Dates on both
 * sides of the last Sunday in March (29 March 2026, clocks forward) and
 * October (25 October 2026, clocks back). */
static void test_dates_local_across_clock_change(void **state)
{
	struct fixture *fx = *state;
	static const char *const days[] = { "2026-03-29", "2026-03-30", "2026-10-25",
					    "2026-10-26" };
	int64_t starts[4];	/* the local midnight that starts each, in UTC */
	static const char fmt[] = SITE USERS				/* 1-2 */
		"cameras = ( { name = \"tmp\"; device = \"/dev/video0\";\n"	/* 3 */
		"  purpose = \"ASB\"; area = \"Landing\"; signage_confirmed = \"2026-01-02\";\n"
		"  temporary = { equipment = \"Dome kit 3\"; reason = \"ASB at flat 12\";\n"
		"    case_reference = \"ASB-2026-0042\"; installed = \"2026-01-02\";\n"
		"    remove_by = \"%s\"; }; } );\n";
	char text[1024];
	size_t i;

	starts[0] = utc(2026, 3, 29, 0, 0, 0);	/* GMT: midnight is 00:00 UTC */
	starts[1] = utc(2026, 3, 29, 23, 0, 0);	/* BST: 00:00 BST is 23:00 UTC */
	starts[2] = utc(2026, 10, 24, 23, 0, 0);	/* still BST at midnight */
	starts[3] = utc(2026, 10, 26, 0, 0, 0);	/* GMT again */
	for (i = 0; i < 4; i++) {
		int64_t at;

		/* the instant the pipeline stops the camera (pipeline.c) */
		assert_int_equal(vg_time_local_date(days[i], &at), 0);
		assert_int_equal(at, starts[i]);
		/* and what config check says a second before and at it */
		snprintf(text, sizeof(text), fmt, days[i]);
		assert_int_equal(check(fx, text, starts[i] - 1000000), 1);
		expect_warning(fx, 5, "in 1 day;", NULL);
		assert_int_equal(check(fx, text, starts[i]), 1);
		expect_warning(fx, 5, "due for removal", "no longer records", NULL);
	}
}

/* ---- the one verdict: vg_confcheck_file() ---- */

struct verdict {
	char got[16384];	/* "E|W LINE: message\n" in the order given */
	int errors, warnings;
};

static void collect_verdict(enum vg_confcheck_level level, const char *file, int line,
			    const char *message, void *ud)
{
	struct verdict *v = ud;
	size_t used = strlen(v->got);

	(void)file;
	snprintf(v->got + used, sizeof(v->got) - used, "%c %d: %s\n",
		 level == VG_CONFCHECK_ERROR ? 'E' : 'W', line, message);
	if (level == VG_CONFCHECK_ERROR)
		v->errors++;
	else
		v->warnings++;
}

static int verdict(struct fixture *fx, const char *text, struct verdict *v, int *n_warn)
{
	FILE *fp = fopen(fx->path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	memset(v, 0, sizeof(*v));
	vg_config_free(fx->cfg);
	fx->cfg = NULL;
	return vg_confcheck_file(fx->path, noon(2026, 3, 1), VG_CONFCHECK_SET_ZONE,
				 collect_verdict, v, &fx->cfg, n_warn);
}

/* "C LINE: ..." with every word, as a line of v->got. */
static void expect_finding(const struct verdict *v, char kind, int line, const char *word,
			   const char *word2)
{
	char prefix[32];
	const char *p = v->got;

	snprintf(prefix, sizeof(prefix), "%c %d: ", kind, line);
	for (; *p; p = strchr(p, '\n') + 1) {
		size_t len = (size_t)(strchr(p, '\n') - p);
		char one[1024];

		snprintf(one, sizeof(one), "%.*s", (int)len, p);
		if (strncmp(one, prefix, strlen(prefix)) == 0 && strstr(one, word) != NULL &&
		    (word2 == NULL || strstr(one, word2) != NULL))
			return;
	}
	print_error("no finding '%s' with '%s'; got:\n%s\n", prefix, word, v->got);
	fail();
}

/* Every problem in one run, file and machine alike, in line order, and
 * nothing handed out: what vigild would refuse at start, refused first. */
static void test_verdict_every_problem_at_once(void **state)
{
	struct fixture *fx = *state;
	struct verdict v;
	const char *p;
	int n_warn = -1, last = -1;

	assert_int_equal(verdict(fx, SITE					/* 1 */
		"user = \"nosuch-vigil-account\";\n"				/* 2 */
		"timezone = \"Europe/Lndon\";\n"					/* 3 */
		"data_dir = \"/nonexistent-vigil-test/deeper/data\";\n"		/* 4 */
		"socket = \"/nonexistent-vigil-test/run/vigil.sock\";\n"		/* 5 */
		"cameras = ( { name = \"lift\"; device = \"/dev/video0\"; fps = 0;\n"	/* 6 */
		"  purpose = \"ASB\"; area = \"Lift\"; } );\n", &v, &n_warn),	/* 7 */
		-VG_ECONFIG);
	assert_null(fx->cfg);
	expect_finding(&v, 'E', 2, "user \"nosuch-vigil-account\"", "no such account");
	expect_finding(&v, 'E', 3, "timezone \"Europe/Lndon\" is not installed", "tzdata");
	expect_finding(&v, 'E', 4, "/nonexistent-vigil-test/deeper does not exist", NULL);
	expect_finding(&v, 'E', 5, "/nonexistent-vigil-test/run does not exist", NULL);
	expect_finding(&v, 'E', 6, "cameras are listed but no users", NULL);
	expect_finding(&v, 'E', 6, "fps must be between 1 and 120", NULL);
	expect_finding(&v, 'W', 6, "no signage_confirmed", NULL);
	assert_int_equal(v.errors, 6);
	assert_int_equal(n_warn, v.warnings);
	/* in line order */
	for (p = v.got; *p; p = strchr(p, '\n') + 1) {
		int line = atoi(p + 2);

		assert_true(line >= last);
		last = line;
	}
}

/* A file vigild would run: 0, the config, its warnings counted, and the
 * box's time zone made the process's. Staff logins that are not accounts
 * here are a warning. */
static void test_verdict_runs_with_warnings(void **state)
{
	struct fixture *fx = *state;
	struct verdict v;
	int n_warn = -1;

	unsetenv("TZ");
	assert_int_equal(verdict(fx, SITE					/* 1 */
		"user = \"root\"; timezone = \"America/New_York\";\n"		/* 2 */
		"data_dir = \"/tmp/vigil-test-data\"; socket = \"/tmp/vigil-test.sock\";\n"	/* 3 */
		"cameras = ( { name = \"lift\"; device = \"/dev/video0\";\n"	/* 4 */
		"  purpose = \"ASB\"; area = \"Lift\"; signage_confirmed = \"2026-01-10\"; } );\n"
		"users = (\n"							/* 6 */
		"  { login = \"root\"; role = \"area_manager\"; sites = ( \"Elm Court\" ); },\n"
		"  { login = \"nosuch-auditor-x\"; role = \"auditor\"; }\n"	/* 8 */
		");\n", &v, &n_warn), 0);
	assert_non_null(fx->cfg);
	assert_int_equal(v.errors, 0);
	assert_int_equal(n_warn, 1);
	expect_finding(&v, 'W', 8, "no account 'nosuch-auditor-x' on this box", NULL);
	assert_string_equal(getenv("TZ"), "America/New_York");
	setenv("TZ", "Europe/London", 1);
	tzset();
}

/* The account vigild drops to when started as root: the default, vigil,
 * matters only to a check run as root (the tests run as root in CI). */
static void test_verdict_default_account_when_root(void **state)
{
	struct fixture *fx = *state;
	struct verdict v;
	int r, missing = geteuid() == 0 && getpwnam("vigil") == NULL;

	r = verdict(fx, SITE "socket = \"/tmp/vigil-test.sock\";\n", &v, NULL);
	assert_int_equal(r, missing ? -VG_ECONFIG : 0);
	if (missing)
		expect_finding(&v, 'E', 0, "runs as the account \"vigil\"", "useradd");
	else
		assert_int_equal(v.errors, 0);
}

/* A master key others may read is refused by vigild at start (after it
 * has made the catalog...): the check refuses it first. */
static void test_verdict_key_file_mode(void **state)
{
	struct fixture *fx = *state;
	struct verdict v;
	char key[192], text[1024];
	FILE *fp;

	snprintf(key, sizeof(key), "%s/master.key", fx->dir);
	fp = fopen(key, "w");
	assert_non_null(fp);
	fputs("0123456789abcdef0123456789abcdef", fp);
	fclose(fp);
	assert_int_equal(chmod(key, 0644), 0);
	snprintf(text, sizeof(text), SITE "user = \"root\"; socket = \"/tmp/vigil-test.sock\";\n"
		 "data_dir = \"%s\";\n", fx->dir);				/* 2-3 */
	assert_int_equal(verdict(fx, text, &v, NULL), -VG_ECONFIG);
	expect_finding(&v, 'E', 3, "has mode 0644", "chmod 600");
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(verdict(fx, text, &v, NULL), 0);
	unlink(key);
}

static void test_bad_arguments(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(vg_confcheck(NULL, 0, collect, fx), -VG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_config_has_no_warnings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_signage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audio_until_and_past_review, setup, teardown),
		cmocka_unit_test_setup_teardown(test_temporary_near_and_past_remove_by, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_masks_over_half_the_picture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_beyond_standard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signage_future_and_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dates_local_across_clock_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_verdict_every_problem_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verdict_runs_with_warnings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verdict_default_account_when_root, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_verdict_key_file_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
